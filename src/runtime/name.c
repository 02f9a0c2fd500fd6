/*
 * Registered names: a global table from name to pid behind one mutex.
 * Names are looked up on every call by name, so lookups must be cheap; they
 * are rare enough in comparison with messages that one lock suffices.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../common/bytes_hash.h"
#include "arbor/error.h"
#include "name.h"
#include "table.h"

typedef struct entry {
    struct entry *next;
    arbor_pid_t pid;
    uint64_t hash;
    size_t len;
    char name[];
} entry_t;

#define BUCKETS 1024

static struct {
    pthread_mutex_t lock;
    entry_t *buckets[BUCKETS];
} names = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* The table's generation: bumped, under the lock, by every change to it
 * (changed()), so that an answer read at generation g is still the answer
 * while the generation is g (arbor_whereis_cached()). A lookup that comes
 * after a change (by a message, a lock, a join) sees its bump: the bump is
 * sequenced before the change's unlock and return. Never 0, the empty
 * cache's. */
static _Atomic uint64_t generation = 1;

static void changed(void)
{
    atomic_fetch_add_explicit(&generation, 1, memory_order_release);
}

/* A name as the table looks it up: its length and hash, computed once,
 * before the lock. The desk looks up names such as
 * "SupportSystem.TicketSupervisor" five times a ticket; hashed a byte at a
 * time, and compared with strcmp against each entry, that was 290
 * instructions a lookup (175 this way; the desk now asks
 * arbor_whereis_cached(), which skips all of it while nothing changed). */
typedef struct {
    const char *s;
    size_t len;
    uint64_t hash;
} name_key_t;

/* Checks name and makes its key: 0, ARBOR_EINVAL or ARBOR_ETOOBIG. */
static int make_key(const char *name, name_key_t *k)
{
    if (!name || !*name)
        return ARBOR_EINVAL;
    size_t len = strnlen(name, ARBOR_NAME_MAX + 1);
    if (len > ARBOR_NAME_MAX)
        return ARBOR_ETOOBIG;
    *k = (name_key_t){name, len, arbor__bytes_hash(name, len)};
    return 0;
}

static entry_t **find_locked(const name_key_t *k)
{
    entry_t **e = &names.buckets[k->hash % BUCKETS];
    while (*e &&
           ((*e)->hash != k->hash || (*e)->len != k->len || memcmp((*e)->name, k->s, k->len) != 0))
        e = &(*e)->next;
    return e;
}

int arbor_register(const char *name, arbor_pid_t pid, arbor_pid_t *owner_out)
{
    name_key_t k;
    int err = make_key(name, &k);
    if (err)
        return err;
    arbor__proc_t *p = arbor__table_ref(pid);
    if (!p)
        return ARBOR_ENOPROC;
    size_t len = k.len;
    entry_t *n = malloc(sizeof *n + len + 1);
    char *copy = malloc(len + 1);
    if (!n || !copy) {
        free(n);
        free(copy);
        arbor__table_unref(p);
        return ARBOR_ENOMEM;
    }
    memcpy(n->name, name, len + 1);
    memcpy(copy, name, len + 1);
    n->pid = pid;
    n->hash = k.hash;
    n->len = len;
    pthread_mutex_lock(&names.lock);
    entry_t **slot = find_locked(&k);
    if (*slot) {
        /* Taken; a dead owner's name is released by its exit, which holds
         * this lock, so the owner we report was alive a moment ago. */
        err = ARBOR_EEXIST;
        if (owner_out)
            *owner_out = (*slot)->pid;
    } else if (p->name || atomic_load_explicit(&p->sched, memory_order_seq_cst) == ARBOR__DEAD) {
        err = p->name ? ARBOR_EEXIST : ARBOR_ENOPROC;
        if (owner_out)
            *owner_out = pid;
    } else {
        n->next = NULL;
        *slot = n;
        changed();
        p->name = copy;
        /* seq_cst, paired with the exit path: it stores DEAD, then reads
         * has_name; we read DEAD above, then store has_name. One of the two
         * sees the other, so a name is never left behind by a dead process. */
        atomic_store_explicit(&p->has_name, true, memory_order_seq_cst);
        n = NULL;
        copy = NULL;
    }
    pthread_mutex_unlock(&names.lock);
    free(n);
    free(copy);
    arbor__table_unref(p);
    return err;
}

int arbor_unregister(const char *name)
{
    name_key_t k;
    int err = make_key(name, &k);
    if (err)
        return err;
    pthread_mutex_lock(&names.lock);
    entry_t **slot = find_locked(&k);
    entry_t *e = *slot;
    char *old = NULL;
    if (e) {
        *slot = e->next;
        changed();
        arbor__proc_t *p = arbor__table_ref(e->pid);
        if (p) {
            old = p->name;
            p->name = NULL;
            atomic_store_explicit(&p->has_name, false, memory_order_relaxed);
            arbor__table_unref(p);
        }
    }
    pthread_mutex_unlock(&names.lock);
    free(old);
    free(e);
    return e ? 0 : ARBOR_ENOENT;
}

/* The process registered as name, looked up under the lock; *gen (when
 * not NULL) the generation that answer holds at, or 0 (never one) for a
 * name that is not one. */
static arbor_pid_t lookup(const char *name, uint64_t *gen)
{
    name_key_t k;
    if (gen)
        *gen = 0;
    if (make_key(name, &k))
        return ARBOR_NOPID;
    pthread_mutex_lock(&names.lock);
    entry_t *e = *find_locked(&k);
    arbor_pid_t pid = e ? e->pid : ARBOR_NOPID;
    if (gen)
        *gen = atomic_load_explicit(&generation, memory_order_relaxed);
    pthread_mutex_unlock(&names.lock);
    return pid;
}

arbor_pid_t arbor_whereis(const char *name)
{
    return lookup(name, NULL);
}

arbor_pid_t arbor_whereis_cached(const char *name, arbor_name_cache_t *cache)
{
    if (cache->name == name &&
        cache->gen == atomic_load_explicit(&generation, memory_order_acquire))
        return cache->pid;
    uint64_t gen;
    arbor_pid_t pid = lookup(name, &gen);
    *cache = (arbor_name_cache_t){gen, name, pid};
    return pid;
}

void arbor__name_release(arbor__proc_t *p)
{
    if (!atomic_load_explicit(&p->has_name, memory_order_seq_cst))
        return; /* the common case: no lock */
    pthread_mutex_lock(&names.lock);
    char *name = p->name;
    p->name = NULL;
    entry_t *e = NULL;
    if (name) {
        name_key_t k = {name, strlen(name), 0};
        k.hash = arbor__bytes_hash(name, k.len);
        entry_t **slot = find_locked(&k);
        if (*slot && (*slot)->pid == p->pid) {
            e = *slot;
            *slot = e->next;
            changed();
        }
    }
    pthread_mutex_unlock(&names.lock);
    free(name);
    free(e);
}

void arbor__names_fini(void)
{
    pthread_mutex_lock(&names.lock);
    for (size_t i = 0; i < BUCKETS; i++) {
        entry_t *e = names.buckets[i];
        while (e) {
            entry_t *next = e->next;
            free(e);
            e = next;
        }
        names.buckets[i] = NULL;
    }
    changed();
    pthread_mutex_unlock(&names.lock);
}

/* Copies p's registered name into buf ("" when none). For introspection. */
size_t arbor__name_copy(arbor__proc_t *p, char *buf, size_t size)
{
    size_t n = 0;
    if (!atomic_load_explicit(&p->has_name, memory_order_acquire)) {
        if (size)
            buf[0] = '\0';
        return 0; /* no lock for the common case */
    }
    pthread_mutex_lock(&names.lock);
    if (p->name && size) {
        n = strlen(p->name);
        if (n >= size)
            n = size - 1;
        memcpy(buf, p->name, n);
    }
    if (size)
        buf[n] = '\0';
    pthread_mutex_unlock(&names.lock);
    return n;
}

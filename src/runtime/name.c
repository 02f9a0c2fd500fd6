/*
 * Registered names: a global table from name to pid behind one mutex.
 * Names are looked up on every call by name, so lookups must be cheap; they
 * are rare enough in comparison with messages that one lock suffices.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "arbor/error.h"
#include "name.h"
#include "table.h"

typedef struct entry {
    struct entry *next;
    arbor_pid_t pid;
    char name[];
} entry_t;

#define BUCKETS 1024

static struct {
    pthread_mutex_t lock;
    entry_t *buckets[BUCKETS];
} names = {.lock = PTHREAD_MUTEX_INITIALIZER};

static unsigned hash(const char *s)
{
    unsigned h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h % BUCKETS;
}

static entry_t **find_locked(const char *name)
{
    entry_t **e = &names.buckets[hash(name)];
    while (*e && strcmp((*e)->name, name) != 0)
        e = &(*e)->next;
    return e;
}

static int check_name(const char *name)
{
    if (!name || !*name)
        return ARBOR_EINVAL;
    if (strlen(name) > ARBOR_NAME_MAX)
        return ARBOR_ETOOBIG;
    return 0;
}

int arbor_register(const char *name, arbor_pid_t pid, arbor_pid_t *owner_out)
{
    int err = check_name(name);
    if (err)
        return err;
    arbor__proc_t *p = arbor__table_ref(pid);
    if (!p)
        return ARBOR_ENOPROC;
    size_t len = strlen(name);
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
    pthread_mutex_lock(&names.lock);
    entry_t **slot = find_locked(name);
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
    int err = check_name(name);
    if (err)
        return err;
    pthread_mutex_lock(&names.lock);
    entry_t **slot = find_locked(name);
    entry_t *e = *slot;
    char *old = NULL;
    if (e) {
        *slot = e->next;
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

arbor_pid_t arbor_whereis(const char *name)
{
    if (check_name(name))
        return ARBOR_NOPID;
    pthread_mutex_lock(&names.lock);
    entry_t *e = *find_locked(name);
    arbor_pid_t pid = e ? e->pid : ARBOR_NOPID;
    pthread_mutex_unlock(&names.lock);
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
        entry_t **slot = find_locked(name);
        if (*slot && (*slot)->pid == p->pid) {
            e = *slot;
            *slot = e->next;
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

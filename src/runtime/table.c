#include "table.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "arbor/error.h"

#define CHUNK_BITS 12
#define CHUNK_SIZE (1u << CHUNK_BITS)
#define GEN_ONE    ((uint64_t)1 << 32)
#define REFS_MASK  (GEN_ONE - 1)

typedef struct slot {
    _Atomic uint64_t word; /* generation << 32 | references */
    _Atomic(arbor__proc_t *) proc;
} slot_t;

static struct {
    pthread_mutex_t lock;
    _Atomic(slot_t *) *chunks;
    size_t nchunks;
    uint32_t max;
    _Atomic uint32_t hwm; /* slots ever handed out */
    uint32_t *free;       /* stack of free slot numbers */
    uint32_t nfree, capfree;
} tab = {.lock = PTHREAD_MUTEX_INITIALIZER};

int arbor__table_init(size_t max_processes)
{
    if (max_processes == 0 || max_processes > ((size_t)1 << 31))
        return ARBOR_EINVAL;
    tab.max = (uint32_t)max_processes;
    tab.nchunks = (max_processes + CHUNK_SIZE - 1) / CHUNK_SIZE;
    tab.chunks = calloc(tab.nchunks, sizeof *tab.chunks);
    if (!tab.chunks)
        return ARBOR_ENOMEM;
    atomic_store(&tab.hwm, 0);
    tab.free = NULL;
    tab.nfree = tab.capfree = 0;
    return 0;
}

void arbor__table_fini(void)
{
    for (size_t i = 0; i < tab.nchunks; i++)
        free(atomic_load(&tab.chunks[i]));
    free(tab.chunks);
    free(tab.free);
    tab.chunks = NULL;
    tab.free = NULL;
    tab.nfree = tab.capfree = 0;
}

static slot_t *slot_at(uint32_t idx)
{
    if (idx >= tab.max)
        return NULL;
    /* acquire: pairs with the release store that published the chunk. */
    slot_t *chunk = atomic_load_explicit(&tab.chunks[idx >> CHUNK_BITS], memory_order_acquire);
    return chunk ? &chunk[idx & (CHUNK_SIZE - 1)] : NULL;
}

/* Takes a free slot number; called with the lock held. */
static int take_slot_locked(uint32_t *idx)
{
    if (tab.nfree) {
        *idx = tab.free[--tab.nfree];
        return 0;
    }
    uint32_t n = atomic_load_explicit(&tab.hwm, memory_order_relaxed);
    if (n >= tab.max)
        return ARBOR_EAGAIN;
    if (!atomic_load_explicit(&tab.chunks[n >> CHUNK_BITS], memory_order_relaxed)) {
        slot_t *chunk = malloc(CHUNK_SIZE * sizeof *chunk);
        if (!chunk)
            return ARBOR_ENOMEM;
        for (uint32_t i = 0; i < CHUNK_SIZE; i++) {
            atomic_init(&chunk[i].word, GEN_ONE); /* generation 1, no references */
            atomic_init(&chunk[i].proc, NULL);
        }
        atomic_store_explicit(&tab.chunks[n >> CHUNK_BITS], chunk, memory_order_release);
    }
    atomic_store_explicit(&tab.hwm, n + 1, memory_order_relaxed);
    *idx = n;
    return 0;
}

int arbor__table_insert(arbor__proc_t *p, arbor__slot_cache_t *cache)
{
    uint32_t idx;
    if (cache && cache->n) {
        idx = cache->idx[--cache->n];
    } else {
        pthread_mutex_lock(&tab.lock);
        int err = take_slot_locked(&idx);
        /* Refill half the cache from the free list while we hold the lock. */
        while (!err && cache && tab.nfree && cache->n < ARBOR__SLOT_CACHE / 2)
            cache->idx[cache->n++] = tab.free[--tab.nfree];
        pthread_mutex_unlock(&tab.lock);
        if (err)
            return err;
    }
    slot_t *s = slot_at(idx);
    uint64_t gen = atomic_load_explicit(&s->word, memory_order_relaxed) >> 32;
    p->pid = (gen << 32) | idx;
    /* release: a lookup without a reference that reads p here reads its pid. */
    atomic_store_explicit(&s->proc, p, memory_order_release);
    /* release: a lookup that sees the reference sees p and the pointer. */
    atomic_store_explicit(&s->word, (gen << 32) | 1, memory_order_release);
    return 0;
}

arbor__proc_t *arbor__table_ref(arbor_pid_t pid)
{
    slot_t *s = slot_at((uint32_t)pid);
    if (!s)
        return NULL;
    uint64_t gen = pid >> 32;
    uint64_t w = atomic_load_explicit(&s->word, memory_order_acquire);
    for (;;) {
        if ((w >> 32) != gen || (w & REFS_MASK) == 0)
            return NULL;
        /* acquire on success: we then read the process the inserting
         * thread published. */
        if (atomic_compare_exchange_weak_explicit(&s->word, &w, w + 1, memory_order_acquire,
                                                  memory_order_acquire))
            return atomic_load_explicit(&s->proc, memory_order_relaxed);
    }
}

arbor__proc_t *arbor__table_peek(arbor_pid_t pid)
{
    slot_t *s = slot_at((uint32_t)pid);
    if (!s)
        return NULL;
    /* seq_cst: after this scheduler's announcement of its epoch. */
    uint64_t w = atomic_load_explicit(&s->word, memory_order_seq_cst);
    if ((w >> 32) != (pid >> 32) || (w & REFS_MASK) == 0)
        return NULL;
    /* The slot may have been freed and taken by a newer process since the
     * word was read: its pid tells. */
    arbor__proc_t *p = atomic_load_explicit(&s->proc, memory_order_acquire);
    return p && p->pid == pid ? p : NULL;
}

static void drop(arbor__proc_t *p, uint64_t delta)
{
    slot_t *s = slot_at((uint32_t)p->pid);
    /* acq_rel: the thread that drops the last reference must see every
     * other holder's writes before it frees. */
    uint64_t old = atomic_fetch_add_explicit(&s->word, delta, memory_order_acq_rel);
    if (((old + delta) & REFS_MASK) == 0)
        arbor__proc_free(p);
}

void arbor__table_unref(arbor__proc_t *p)
{
    drop(p, (uint64_t)-1);
}

void arbor__table_kill(arbor__proc_t *p)
{
    drop(p, GEN_ONE - 1); /* generation + 1, references - 1 */
}

/* Pushes idx on the shared free list; called with the lock held. */
static void free_slot_locked(uint32_t idx)
{
    if (tab.nfree == tab.capfree) {
        uint32_t cap = tab.capfree ? tab.capfree * 2 : 1024;
        uint32_t *f = realloc(tab.free, cap * sizeof *f);
        if (!f)
            return; /* leak the slot rather than fail: it only shrinks the table */
        tab.free = f;
        tab.capfree = cap;
    }
    tab.free[tab.nfree++] = idx;
}

void arbor__table_release_slot(arbor_pid_t pid, arbor__slot_cache_t *cache)
{
    uint32_t idx = (uint32_t)pid;
    slot_t *s = slot_at(idx);
    atomic_store_explicit(&s->proc, NULL, memory_order_relaxed);
    if (cache && cache->n < ARBOR__SLOT_CACHE) {
        cache->idx[cache->n++] = idx;
        return;
    }
    pthread_mutex_lock(&tab.lock);
    free_slot_locked(idx);
    /* Full cache: return half of it too. */
    while (cache && cache->n > ARBOR__SLOT_CACHE / 2)
        free_slot_locked(cache->idx[--cache->n]);
    pthread_mutex_unlock(&tab.lock);
}

void arbor__table_cache_flush(arbor__slot_cache_t *cache)
{
    pthread_mutex_lock(&tab.lock);
    while (cache->n)
        free_slot_locked(cache->idx[--cache->n]);
    pthread_mutex_unlock(&tab.lock);
}

void arbor__table_foreach(void (*fn)(arbor__proc_t *p, void *ctx), void *ctx)
{
    uint32_t n = atomic_load_explicit(&tab.hwm, memory_order_acquire);
    for (uint32_t i = 0; i < n; i++) {
        slot_t *s = slot_at(i);
        if (!s)
            continue;
        uint64_t w = atomic_load_explicit(&s->word, memory_order_acquire);
        if ((w & REFS_MASK) == 0)
            continue;
        arbor__proc_t *p = arbor__table_ref(((w >> 32) << 32) | i);
        if (!p)
            continue;
        fn(p, ctx);
        arbor__table_unref(p);
    }
}

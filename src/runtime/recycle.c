#include "recycle.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "sanitizer.h"

#if defined(ARBOR_ASAN) || defined(ARBOR_TSAN)
#define USE_RECYCLING 0
#else
#define USE_RECYCLING 1
#endif

/* How many blocks of each kind a thread keeps (half of that moves to or
 * from the pool at once) and the shared pool keeps. Process blocks are
 * large (about 600 bytes) and a pool of them is memory in use that no
 * figure shows, so few are kept: enough to absorb a burst of spawns. */
static const struct limits {
    unsigned cache_max, pool_max;
} limits[ARBOR__RECYCLE_KINDS] = {
    [ARBOR__RECYCLE_MSG] = {1024, 64 * 1024},
    [ARBOR__RECYCLE_PROC] = {256, 4096},
};

/* A free block: its first word links it into a list. */
typedef struct free_block {
    struct free_block *next;
} free_block_t;

static struct pool {
    pthread_mutex_t lock;
    _Atomic(free_block_t *) head; /* written under lock; peeked without it */
    size_t count;
} pools[ARBOR__RECYCLE_KINDS] = {
    {.lock = PTHREAD_MUTEX_INITIALIZER},
    {.lock = PTHREAD_MUTEX_INITIALIZER},
};

static __thread struct cache {
    free_block_t *head;
    unsigned count;
} caches[ARBOR__RECYCLE_KINDS];
static __thread bool enabled;

void arbor__recycle_enable(void)
{
    enabled = USE_RECYCLING;
}

static void free_list(free_block_t *b)
{
    while (b) {
        free_block_t *next = b->next;
        free(b);
        b = next;
    }
}

void arbor__recycle_flush(void)
{
    enabled = false;
    for (int k = 0; k < ARBOR__RECYCLE_KINDS; k++) {
        free_list(caches[k].head);
        caches[k] = (struct cache){NULL, 0};
    }
}

void arbor__recycle_fini(void)
{
    for (int k = 0; k < ARBOR__RECYCLE_KINDS; k++) {
        struct pool *p = &pools[k];
        pthread_mutex_lock(&p->lock);
        free_block_t *b = atomic_load_explicit(&p->head, memory_order_relaxed);
        atomic_store_explicit(&p->head, NULL, memory_order_relaxed);
        p->count = 0;
        pthread_mutex_unlock(&p->lock);
        free_list(b);
    }
}

/* Moves half of this thread's full list to the shared pool (or frees them
 * when the pool is full). */
static void spill(struct cache *c, struct pool *p, const struct limits *l)
{
    unsigned batch = l->cache_max / 2;
    free_block_t *first = c->head, *last = c->head;
    for (unsigned i = 1; i < batch; i++)
        last = last->next;
    c->head = last->next;
    c->count -= batch;
    pthread_mutex_lock(&p->lock);
    if (p->count < l->pool_max) {
        last->next = atomic_load_explicit(&p->head, memory_order_relaxed);
        atomic_store_explicit(&p->head, first, memory_order_relaxed);
        p->count += batch;
        first = NULL;
    }
    pthread_mutex_unlock(&p->lock);
    if (first) {
        last->next = NULL;
        free_list(first);
    }
}

/* Takes up to half a list's worth of blocks from the shared pool into this
 * thread's list. */
static void refill(struct cache *c, struct pool *p, const struct limits *l)
{
    unsigned batch = l->cache_max / 2;
    pthread_mutex_lock(&p->lock);
    free_block_t *first = atomic_load_explicit(&p->head, memory_order_relaxed), *last = first;
    unsigned n = first ? 1 : 0;
    while (last && n < batch && last->next) {
        last = last->next;
        n++;
    }
    if (first) {
        atomic_store_explicit(&p->head, last->next, memory_order_relaxed);
        p->count -= n;
    }
    pthread_mutex_unlock(&p->lock);
    if (first) {
        last->next = c->head;
        c->head = first;
        c->count += n;
    }
}

void *arbor__recycle_get(arbor__recycle_kind_t k)
{
    if (!enabled)
        return NULL;
    struct cache *c = &caches[k];
    /* An unlocked peek at the pool: a stale answer only costs a malloc. */
    if (!c->head && atomic_load_explicit(&pools[k].head, memory_order_relaxed))
        refill(c, &pools[k], &limits[k]);
    free_block_t *b = c->head;
    if (b) {
        c->head = b->next;
        c->count--;
    }
    return b;
}

bool arbor__recycle_put(arbor__recycle_kind_t k, void *block)
{
    if (!enabled)
        return false;
    struct cache *c = &caches[k];
    if (c->count == limits[k].cache_max)
        spill(c, &pools[k], &limits[k]);
    free_block_t *b = block;
    b->next = c->head;
    c->head = b;
    c->count++;
    return true;
}

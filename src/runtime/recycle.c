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

/* Blocks move between a thread and the shared pool in whole magazines (a
 * list of `mag` blocks), so no operation walks a list: each thread holds two
 * magazines per kind, the one it takes from and puts to and a spare, as in
 * Bonwick's magazine allocator; a full pair sends one to the pool, an empty
 * pair takes one from it. Process blocks are large (328 bytes) and a
 * pool of them is memory in use that no figure shows, so few are kept. */
static const struct limits {
    unsigned mag;      /* blocks in a magazine */
    unsigned pool_max; /* full magazines the shared pool keeps */
} limits[ARBOR__RECYCLE_KINDS] = {
    [ARBOR__RECYCLE_MSG] = {512, 128},
    /* 1,168-byte blocks: a magazine is 75 KB, the pool at most 1.2 MB. */
    [ARBOR__RECYCLE_MSG_MID] = {64, 16},
    [ARBOR__RECYCLE_PROC] = {128, 32},
    [ARBOR__RECYCLE_TIMER] = {256, 16},
    [ARBOR__RECYCLE_SIG] = {512, 32},
};

/* A free block's first word links it into its magazine; a magazine's
 * first block's second word links magazines in the pool. A full
 * magazine has room 0; cur's room is how many more blocks it takes. */
typedef arbor__free_block_t free_block_t;

static struct pool {
    pthread_mutex_t lock;
    _Atomic(free_block_t *) mags; /* full magazines; written under lock, peeked without */
    unsigned count;
} pools[ARBOR__RECYCLE_KINDS] = {
    {.lock = PTHREAD_MUTEX_INITIALIZER}, {.lock = PTHREAD_MUTEX_INITIALIZER},
    {.lock = PTHREAD_MUTEX_INITIALIZER}, {.lock = PTHREAD_MUTEX_INITIALIZER},
    {.lock = PTHREAD_MUTEX_INITIALIZER},
};

__thread arbor__magazine_t arbor__recycle_cur[ARBOR__RECYCLE_KINDS];
static __thread arbor__magazine_t spares[ARBOR__RECYCLE_KINDS];
static __thread bool enabled;

void arbor__recycle_enable(void)
{
    enabled = USE_RECYCLING;
    for (int k = 0; k < ARBOR__RECYCLE_KINDS; k++)
        arbor__recycle_cur[k].room = enabled ? limits[k].mag : 0;
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
        free_list(arbor__recycle_cur[k].head);
        free_list(spares[k].head);
        arbor__recycle_cur[k] = spares[k] = (arbor__magazine_t){NULL, 0};
    }
}

void arbor__recycle_fini(void)
{
    for (int k = 0; k < ARBOR__RECYCLE_KINDS; k++) {
        struct pool *p = &pools[k];
        pthread_mutex_lock(&p->lock);
        free_block_t *m = atomic_load_explicit(&p->mags, memory_order_relaxed);
        atomic_store_explicit(&p->mags, NULL, memory_order_relaxed);
        p->count = 0;
        pthread_mutex_unlock(&p->lock);
        while (m) {
            free_block_t *next = m->next_mag;
            free_list(m);
            m = next;
        }
    }
}

/* Hands a full magazine to the pool, or frees it when the pool is full. */
static void give(struct pool *p, const struct limits *l, free_block_t *mag)
{
    pthread_mutex_lock(&p->lock);
    bool kept = p->count < l->pool_max;
    if (kept) {
        mag->next_mag = atomic_load_explicit(&p->mags, memory_order_relaxed);
        atomic_store_explicit(&p->mags, mag, memory_order_relaxed);
        p->count++;
    }
    pthread_mutex_unlock(&p->lock);
    if (!kept)
        free_list(mag);
}

/* A full magazine from the pool, or NULL. */
static free_block_t *take(struct pool *p)
{
    pthread_mutex_lock(&p->lock);
    free_block_t *mag = atomic_load_explicit(&p->mags, memory_order_relaxed);
    if (mag) {
        atomic_store_explicit(&p->mags, mag->next_mag, memory_order_relaxed);
        p->count--;
    }
    pthread_mutex_unlock(&p->lock);
    return mag;
}

/* cur is empty: swap in the spare if it holds blocks, or take a full
 * magazine from the pool. */
void *arbor__recycle_get_slow(arbor__recycle_kind_t k)
{
    if (!enabled)
        return NULL;
    arbor__magazine_t *cur = &arbor__recycle_cur[k], *spare = &spares[k];
    if (spare->head) {
        arbor__magazine_t t = *cur;
        *cur = *spare;
        *spare = t;
    } else if (atomic_load_explicit(&pools[k].mags, memory_order_relaxed)) {
        /* An unlocked peek: a stale answer only costs a malloc. */
        free_block_t *mag = take(&pools[k]);
        if (mag)
            *cur = (arbor__magazine_t){mag, 0};
    }
    if (!cur->head)
        return NULL;
    return arbor__recycle_get(k);
}

/* cur is full: it becomes the spare (the old spare goes to the pool) and
 * an empty magazine takes block. On a thread that does not recycle, block
 * is freed. */
void arbor__recycle_free_slow(arbor__recycle_kind_t k, void *block)
{
    if (!enabled) {
        free(block);
        return;
    }
    arbor__magazine_t *cur = &arbor__recycle_cur[k], *spare = &spares[k];
    if (spare->head)
        give(&pools[k], &limits[k], spare->head);
    *spare = *cur;
    *cur = (arbor__magazine_t){NULL, limits[k].mag};
    arbor__recycle_free(k, block);
}

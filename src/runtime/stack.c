#include "stack.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "arbor/error.h"
#include "sanitizer.h"
#include "stats.h"

#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define ARBOR_VALGRIND 1
#endif

#define SLAB_STACKS 16
/* Stacks the shared pool keeps with their pages mapped before it starts
 * giving pages back: bounds memory after a burst (a few MiB) without a
 * madvise per exit while processes come and go. */
#define HOT_MAX 512
#define CANARY  0xA7B0C0DEDEADBEEFull

typedef struct slab {
    struct slab *next;
    void *map;
    size_t map_size;
    arbor__stack_t stacks[SLAB_STACKS];
} slab_t;

static struct {
    pthread_mutex_t lock;
    arbor__stack_t *hot; /* shared pool: pages still mapped */
    unsigned nhot;
    arbor__stack_t *free; /* shared pool: pages given back */
    slab_t *slabs;
    size_t size;   /* usable bytes per stack */
    size_t stride; /* bytes per stack in a slab, guard included */
    size_t page;
    long guard_budget; /* guard pages we may still create */
} pool = {.lock = PTHREAD_MUTEX_INITIALIZER};

static long read_max_map_count(void)
{
    long n = 65530;
    FILE *f = fopen("/proc/sys/vm/max_map_count", "r");
    if (f) {
        if (fscanf(f, "%ld", &n) != 1)
            n = 65530;
        fclose(f);
    }
    return n;
}

int arbor__stack_init(size_t size)
{
    pool.page = (size_t)sysconf(_SC_PAGESIZE);
    if (size < 4 * pool.page || size > ((size_t)1 << 30))
        return ARBOR_EINVAL;
    pool.size = (size + pool.page - 1) & ~(pool.page - 1);
    pool.stride = pool.size + pool.page;
    pool.guard_budget = read_max_map_count() / 4;
    pool.free = NULL;
    pool.hot = NULL;
    pool.nhot = 0;
    pool.slabs = NULL;
    return 0;
}

void arbor__stack_fini(void)
{
    slab_t *sl = pool.slabs;
    while (sl) {
        slab_t *next = sl->next;
        for (int i = 0; i < SLAB_STACKS; i++) {
#ifdef ARBOR_VALGRIND
            VALGRIND_STACK_DEREGISTER(sl->stacks[i].valgrind_id);
#endif
        }
        munmap(sl->map, sl->map_size);
        atomic_fetch_sub_explicit(&arbor__stats.live_stacks, SLAB_STACKS, memory_order_relaxed);
        free(sl);
        sl = next;
    }
    pool.slabs = NULL;
    pool.free = NULL;
    pool.hot = NULL;
    pool.nhot = 0;
}

/* Maps a slab and puts its stacks on the shared pool. Called with the lock
 * held. Returns false when out of memory. */
static bool grow_locked(void)
{
    slab_t *sl = malloc(sizeof *sl);
    if (!sl)
        return false;
    sl->map_size = pool.stride * SLAB_STACKS;
    sl->map = mmap(NULL, sl->map_size, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (sl->map == MAP_FAILED) {
        free(sl);
        return false;
    }
    for (int i = 0; i < SLAB_STACKS; i++) {
        arbor__stack_t *s = &sl->stacks[i];
        char *base = (char *)sl->map + (size_t)i * pool.stride;
        s->guard = NULL;
        if (pool.guard_budget > 0 && mprotect(base, pool.page, PROT_NONE) == 0) {
            pool.guard_budget--;
            s->guard = base;
        }
        s->lo = base + pool.page;
        s->size = pool.size;
#ifdef ARBOR_VALGRIND
        s->valgrind_id = VALGRIND_STACK_REGISTER(s->lo, (char *)s->lo + s->size);
#else
        s->valgrind_id = 0;
#endif
        s->next = pool.free;
        pool.free = s;
    }
    sl->next = pool.slabs;
    pool.slabs = sl;
    atomic_fetch_add_explicit(&arbor__stats.live_stacks, SLAB_STACKS, memory_order_relaxed);
    return true;
}

arbor__stack_t *arbor__stack_get(arbor__stack_cache_t *cache)
{
    arbor__stack_t *s;
    if (cache && cache->head) {
        s = cache->head;
        cache->head = s->next;
        cache->count--;
    } else {
        pthread_mutex_lock(&pool.lock);
        if (pool.hot) {
            s = pool.hot;
            pool.hot = s->next;
            pool.nhot--;
        } else {
            if (!pool.free && !grow_locked()) {
                pthread_mutex_unlock(&pool.lock);
                return NULL;
            }
            s = pool.free;
            pool.free = s->next;
        }
        /* Refill half the cache while we hold the lock. */
        while (cache && (pool.hot || pool.free) && cache->count < ARBOR__STACK_CACHE_MAX / 2) {
            arbor__stack_t *t;
            if (pool.hot) {
                t = pool.hot;
                pool.hot = t->next;
                pool.nhot--;
            } else {
                t = pool.free;
                pool.free = t->next;
            }
            t->next = cache->head;
            cache->head = t;
            cache->count++;
        }
        pthread_mutex_unlock(&pool.lock);
    }
    /* The canary goes in as the stack is taken, not when it was trimmed
     * or mapped: writing it then kept a page of every pooled stack in RAM
     * (50,000 exited processes left 134 MiB resident). Only a stack with
     * no guard page has one. */
    if (!s->guard)
        *(uint64_t *)s->lo = CANARY;
    atomic_fetch_add_explicit(&arbor__stats.stacks_in_use, 1, memory_order_relaxed);
    return s;
}

static void check_canary(const arbor__stack_t *s)
{
    if (!s->guard && *(const uint64_t *)s->lo != CANARY) {
        fprintf(stderr,
                "arbor: a process overflowed its %zu-byte stack at %p (canary "
                "overwritten; no guard page was available)\n",
                s->size, s->lo);
        abort();
    }
}

/* Gives the stack's pages back to the kernel. Only stacks that overflow a
 * scheduler's cache come here, so a busy scheduler keeps its hot stacks and
 * an idle runtime returns what a burst of processes used. */
static void trim(arbor__stack_t *s)
{
    madvise(s->lo, s->size, MADV_DONTNEED);
}

void arbor__stack_put(arbor__stack_cache_t *cache, arbor__stack_t *s)
{
    check_canary(s);
    /* Frames of the last user left ASan poison behind. */
    ARBOR_UNPOISON(s->lo, s->size);
    atomic_fetch_sub_explicit(&arbor__stats.stacks_in_use, 1, memory_order_relaxed);
    if (cache && cache->count < ARBOR__STACK_CACHE_MAX) {
        s->next = cache->head;
        cache->head = s;
        cache->count++;
        return;
    }
    pthread_mutex_lock(&pool.lock);
    if (pool.nhot < HOT_MAX) {
        s->next = pool.hot;
        pool.hot = s;
        pool.nhot++;
        pthread_mutex_unlock(&pool.lock);
        return;
    }
    pthread_mutex_unlock(&pool.lock);
    trim(s);
    pthread_mutex_lock(&pool.lock);
    s->next = pool.free;
    pool.free = s;
    pthread_mutex_unlock(&pool.lock);
}

void arbor__stack_cache_flush(arbor__stack_cache_t *cache)
{
    while (cache->head) {
        arbor__stack_t *s = cache->head;
        cache->head = s->next;
        trim(s);
        pthread_mutex_lock(&pool.lock);
        s->next = pool.free;
        pool.free = s;
        pthread_mutex_unlock(&pool.lock);
    }
    cache->count = 0;
}

bool arbor__stack_overflowed_at(const arbor__stack_t *s, const void *addr)
{
    const char *a = addr;
    const char *lo = s->lo;
    return a < lo && a >= lo - pool.page;
}

uint64_t arbor__stack_resident_bytes(void)
{
    uint64_t bytes = 0;
    pthread_mutex_lock(&pool.lock);
    for (slab_t *sl = pool.slabs; sl; sl = sl->next) {
        size_t pages = sl->map_size / pool.page;
        unsigned char *vec = malloc(pages);
        if (!vec)
            break;
        if (mincore(sl->map, sl->map_size, vec) == 0)
            for (size_t i = 0; i < pages; i++)
                bytes += (vec[i] & 1) ? pool.page : 0;
        free(vec);
    }
    pthread_mutex_unlock(&pool.lock);
    return bytes;
}

#include "mailbox.h"

#include <pthread.h>
#include <stdlib.h>

#include "sanitizer.h"
#include "stats.h"

/*
 * Small nodes (signals, replies, small messages: most traffic) are recycled
 * instead of going through malloc. Each scheduler thread keeps a free list;
 * a node freed on another thread joins that thread's list. Messages mostly
 * flow one way (a producer on one core, its consumer on another), so the
 * consumer's list fills while the producer's runs dry: full lists hand half
 * of themselves to a shared pool, and empty ones refill from it, a batch
 * per lock. Without that, every cross-thread free took the producer's
 * malloc arena lock (genserver_cast on 2 schedulers: 330 ns a message,
 * most of it in futex calls). Sanitizer builds skip all of this, so that
 * ASan and TSan still see every use after free.
 */
#define SMALL_PAYLOAD 64
#define CACHE_MAX     1024
#define BATCH         (CACHE_MAX / 2)
#define POOL_MAX      (64 * CACHE_MAX)

static struct {
    pthread_mutex_t lock;
    _Atomic(arbor__msg_t *) head; /* written under lock; peeked without it */
    size_t count;
} pool = {.lock = PTHREAD_MUTEX_INITIALIZER};

#if defined(ARBOR_ASAN) || defined(ARBOR_TSAN)
#define USE_CACHE 0
#else
#define USE_CACHE 1
#endif

static __thread arbor__msg_t *cache;
static __thread unsigned cached;
static __thread bool cache_on; /* scheduler threads only: they flush at exit */

void arbor__msg_cache_enable(void)
{
    cache_on = USE_CACHE;
}

static inline arbor__msg_t *next_of(arbor__msg_t *m)
{
    return (arbor__msg_t *)atomic_load_explicit(&m->node.next, memory_order_relaxed);
}

static inline void set_next(arbor__msg_t *m, arbor__msg_t *next)
{
    atomic_store_explicit(&m->node.next, next ? &next->node : NULL, memory_order_relaxed);
}

/* Moves BATCH nodes from this thread's full list to the shared pool (or
 * frees them when the pool is full). */
static void spill(void)
{
    arbor__msg_t *first = cache, *last = cache;
    for (unsigned i = 1; i < BATCH; i++)
        last = next_of(last);
    cache = next_of(last);
    cached -= BATCH;
    pthread_mutex_lock(&pool.lock);
    if (pool.count < POOL_MAX) {
        set_next(last, atomic_load_explicit(&pool.head, memory_order_relaxed));
        atomic_store_explicit(&pool.head, first, memory_order_relaxed);
        pool.count += BATCH;
        first = NULL;
    }
    pthread_mutex_unlock(&pool.lock);
    while (first) {
        arbor__msg_t *m = first;
        first = m == last ? NULL : next_of(m);
        free(m);
    }
}

/* Takes up to BATCH nodes from the shared pool into this thread's list. */
static void refill(void)
{
    pthread_mutex_lock(&pool.lock);
    arbor__msg_t *first = atomic_load_explicit(&pool.head, memory_order_relaxed), *last = first;
    unsigned n = first ? 1 : 0;
    while (last && n < BATCH && next_of(last)) {
        last = next_of(last);
        n++;
    }
    if (first) {
        atomic_store_explicit(&pool.head, next_of(last), memory_order_relaxed);
        pool.count -= n;
    }
    pthread_mutex_unlock(&pool.lock);
    if (first) {
        set_next(last, cache);
        cache = first;
        cached += n;
    }
}

void arbor__msg_pool_fini(void)
{
    pthread_mutex_lock(&pool.lock);
    arbor__msg_t *m = atomic_load_explicit(&pool.head, memory_order_relaxed);
    atomic_store_explicit(&pool.head, NULL, memory_order_relaxed);
    pool.count = 0;
    pthread_mutex_unlock(&pool.lock);
    while (m) {
        arbor__msg_t *next = next_of(m);
        free(m);
        m = next;
    }
}

void arbor__msg_cache_flush(void)
{
    cache_on = false;
    while (cache) {
        arbor__msg_t *m = cache;
        cache = (arbor__msg_t *)atomic_load_explicit(&m->node.next, memory_order_relaxed);
        free(m);
    }
    cached = 0;
}

arbor__msg_t *arbor__msg_new(uint32_t kind, size_t size)
{
    arbor__msg_t *m;
    if (USE_CACHE && size <= SMALL_PAYLOAD && !cache && cache_on &&
        atomic_load_explicit(&pool.head, memory_order_relaxed))
        refill(); /* an unlocked peek: a stale answer only costs a malloc */
    if (USE_CACHE && size <= SMALL_PAYLOAD && cache) {
        m = cache;
        cache = (arbor__msg_t *)atomic_load_explicit(&m->node.next, memory_order_relaxed);
        cached--;
    } else {
        m = malloc(sizeof *m + (size <= SMALL_PAYLOAD ? SMALL_PAYLOAD : size));
        if (!m)
            return NULL;
    }
    m->kind = kind;
    m->flags = 0;
    m->pub.tag = 0;
    m->pub.from = ARBOR_NOPID;
    m->pub.size = size;
    m->pub.data = m->payload;
    m->pub.alias = 0;
    m->free_fn = NULL;
    ARBOR__STAT_ADD_DEBUG(live_messages, 1);
    return m;
}

void arbor__msg_destroy(arbor__msg_t *m)
{
    if (m->flags & ARBOR__MSG_MOVED && m->pub.data)
        (m->free_fn ? m->free_fn : free)(m->pub.data);
    ARBOR__STAT_SUB_DEBUG(live_messages, 1);
    /* A moved message's node has a small payload area too (size 0). */
    size_t room = m->flags & ARBOR__MSG_MOVED ? 0 : m->pub.size;
    if (cache_on && room <= SMALL_PAYLOAD) {
        if (cached == CACHE_MAX)
            spill();
        set_next(m, cache);
        cache = m;
        cached++;
        return;
    }
    free(m);
}

void arbor__inbox_init(arbor__inbox_t *q)
{
    atomic_init(&q->stub.next, NULL);
    atomic_init(&q->head, &q->stub);
    atomic_init(&q->tail, &q->stub);
}

void arbor__inbox_push(arbor__inbox_t *q, arbor__msg_t *m)
{
    arbor__node_t *n = &m->node;
    atomic_store_explicit(&n->next, NULL, memory_order_relaxed);
    /* seq_cst, not just acq_rel: the push is one half of the Dekker pair
     * (push, then load the receiver's state) that proc.c relies on. */
    arbor__node_t *prev = atomic_exchange_explicit(&q->head, n, memory_order_seq_cst);
    /* release: the consumer that sees the link sees the node's contents. */
    atomic_store_explicit(&prev->next, n, memory_order_release);
}

static void push_stub(arbor__inbox_t *q)
{
    arbor__node_t *n = &q->stub;
    atomic_store_explicit(&n->next, NULL, memory_order_relaxed);
    arbor__node_t *prev = atomic_exchange_explicit(&q->head, n, memory_order_acq_rel);
    atomic_store_explicit(&prev->next, n, memory_order_release);
}

arbor__msg_t *arbor__inbox_pop(arbor__inbox_t *q)
{
    arbor__node_t *tail = atomic_load_explicit(&q->tail, memory_order_relaxed);
    /* acquire pairs with the release store of the link in push. */
    arbor__node_t *next = atomic_load_explicit(&tail->next, memory_order_acquire);
    if (tail == &q->stub) {
        if (!next)
            return NULL;
        atomic_store_explicit(&q->tail, next, memory_order_relaxed);
        tail = next;
        next = atomic_load_explicit(&next->next, memory_order_acquire);
    }
    if (next) {
        atomic_store_explicit(&q->tail, next, memory_order_relaxed);
        return (arbor__msg_t *)tail;
    }
    arbor__node_t *head = atomic_load_explicit(&q->head, memory_order_acquire);
    if (tail != head)
        return NULL; /* a producer has exchanged head but not linked yet */
    push_stub(q);
    next = atomic_load_explicit(&tail->next, memory_order_acquire);
    if (next) {
        atomic_store_explicit(&q->tail, next, memory_order_relaxed);
        return (arbor__msg_t *)tail;
    }
    return NULL;
}

bool arbor__inbox_nonempty(arbor__inbox_t *q)
{
    /* seq_cst: the other half of the Dekker pair (see push). The queue is
     * empty exactly when the producers' head is the node we would pop next
     * and it has no successor. */
    arbor__node_t *head = atomic_load_explicit(&q->head, memory_order_seq_cst);
    if (head != atomic_load_explicit(&q->tail, memory_order_relaxed))
        return true;
    return head != &q->stub;
}

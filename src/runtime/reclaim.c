#include "reclaim.h"

#include <pthread.h>
#include <stdatomic.h>

#include "recycle.h"
#include "sched.h"

/* How often (in scheduler loop turns) a scheduler holding retired blocks
 * tries to move the epoch on. */
#define ADVANCE_INTERVAL 16

static _Atomic uint64_t global_epoch = 1;

/* Blocks retired off the schedulers, or handed over by a scheduler going
 * to sleep; any scheduler awake frees them. */
static pthread_mutex_t orphan_lock = PTHREAD_MUTEX_INITIALIZER;
static arbor__limbo_t orphans; /* under orphan_lock */

/* The plain messages that reached p after it left the table go with it. */
static void free_block(arbor__proc_t *p)
{
    arbor__msg_t *m;
    while ((m = arbor__inbox_pop(&p->inbox)))
        arbor__msg_destroy(m);
    arbor__recycle_free(ARBOR__RECYCLE_PROC, p);
}

/* Only the limbo's owner (or the holder of orphan_lock) writes its count;
 * others read it as a hint, or to report it. */
static void count_add(arbor__limbo_t *l, int64_t delta)
{
    uint64_t n = atomic_load_explicit(&l->count, memory_order_relaxed);
    atomic_store_explicit(&l->count, n + (uint64_t)delta, memory_order_relaxed);
}

static uint64_t count_of(arbor__limbo_t *l)
{
    return atomic_load_explicit(&l->count, memory_order_relaxed);
}

static void free_bin(arbor__limbo_t *l, unsigned b)
{
    arbor__proc_t *p = l->bin[b];
    l->bin[b] = NULL;
    while (p) {
        arbor__proc_t *next = p->run_next;
        free_block(p);
        count_add(l, -1);
        p = next;
    }
}

/* Adds p, retired in epoch e, to l; the global epoch is e or later. A bin
 * holding another epoch holds one at least 3 apart from e, and the older
 * of the two is at least 3 behind the global epoch: safe to free now. */
static void limbo_add(arbor__limbo_t *l, arbor__proc_t *p, uint64_t e)
{
    unsigned b = (unsigned)(e % 3);
    if (l->bin[b] && l->epoch[b] != e) {
        if (l->epoch[b] > e) {
            free_block(p);
            return;
        }
        free_bin(l, b);
    }
    l->epoch[b] = e;
    p->run_next = l->bin[b];
    l->bin[b] = p;
    count_add(l, 1);
}

/* Frees what was retired two or more epochs before g. */
static void limbo_collect(arbor__limbo_t *l, uint64_t g)
{
    for (unsigned b = 0; b < 3; b++)
        if (l->bin[b] && l->epoch[b] + 2 <= g)
            free_bin(l, b);
}

static void limbo_free_all(arbor__limbo_t *l)
{
    for (unsigned b = 0; b < 3; b++)
        free_bin(l, b);
}

/* Moves the epoch on from g if every scheduler awake has announced g;
 * returns the epoch now. */
static uint64_t try_advance(uint64_t g)
{
    for (unsigned i = 0; i < arbor__rt.nsched; i++) {
        uint64_t e = atomic_load_explicit(&arbor__rt.sched[i].epoch, memory_order_seq_cst);
        if (e != g && e != ARBOR__EPOCH_OFFLINE)
            return g;
    }
    if (atomic_compare_exchange_strong_explicit(&global_epoch, &g, g + 1, memory_order_seq_cst,
                                                memory_order_seq_cst))
        return g + 1;
    return g; /* another scheduler moved it: g holds the new value */
}

static void collect_orphans(uint64_t g)
{
    if (!count_of(&orphans) || pthread_mutex_trylock(&orphan_lock) != 0)
        return;
    limbo_collect(&orphans, g);
    pthread_mutex_unlock(&orphan_lock);
}

void arbor__reclaim_retire(arbor__proc_t *p)
{
    /* The epoch is read after p left the table (the fence orders the two):
     * a scheduler announcing a later epoch can no longer find p there. */
    atomic_thread_fence(memory_order_seq_cst);
    uint64_t e = atomic_load_explicit(&global_epoch, memory_order_seq_cst);
    arbor__sched_t *s = arbor__sched_current();
    if (s) {
        limbo_add(&s->limbo, p, e);
        return;
    }
    pthread_mutex_lock(&orphan_lock);
    limbo_add(&orphans, p, e);
    pthread_mutex_unlock(&orphan_lock);
}

void arbor__reclaim_quiesce(arbor__sched_t *s)
{
    uint64_t g = atomic_load_explicit(&global_epoch, memory_order_seq_cst);
    /* seq_cst: ordered before every later table lookup of this thread. */
    if (atomic_load_explicit(&s->epoch, memory_order_relaxed) != g)
        atomic_store_explicit(&s->epoch, g, memory_order_seq_cst);
    if (s->ticks % ADVANCE_INTERVAL != 0 || (!count_of(&s->limbo) && !count_of(&orphans)))
        return;
    g = try_advance(g);
    limbo_collect(&s->limbo, g);
    collect_orphans(g);
}

void arbor__reclaim_offline(arbor__sched_t *s)
{
    atomic_store_explicit(&s->epoch, ARBOR__EPOCH_OFFLINE, memory_order_seq_cst);
    atomic_thread_fence(memory_order_seq_cst);
    if (!count_of(&s->limbo) && !count_of(&orphans))
        return;
    pthread_mutex_lock(&orphan_lock);
    for (unsigned b = 0; b < 3; b++) {
        arbor__proc_t *p = s->limbo.bin[b];
        s->limbo.bin[b] = NULL;
        while (p) {
            arbor__proc_t *next = p->run_next;
            count_add(&s->limbo, -1);
            limbo_add(&orphans, p, s->limbo.epoch[b]);
            p = next;
        }
    }
    /* Of two schedulers falling asleep at once, either the other one sees
     * what was handed over above, or try_advance() below sees the other
     * one asleep (a seq_cst fence between the store and the load on both
     * sides). When every scheduler sleeps, the two steps free everything:
     * the last one to fall asleep leaves nothing behind. */
    atomic_thread_fence(memory_order_seq_cst);
    uint64_t g = atomic_load_explicit(&global_epoch, memory_order_seq_cst);
    limbo_collect(&orphans, try_advance(try_advance(g)));
    pthread_mutex_unlock(&orphan_lock);
}

void arbor__reclaim_fini(void)
{
    for (unsigned i = 0; i < arbor__rt.cfg.schedulers; i++)
        limbo_free_all(&arbor__rt.sched[i].limbo);
    pthread_mutex_lock(&orphan_lock);
    limbo_free_all(&orphans);
    pthread_mutex_unlock(&orphan_lock);
}

uint64_t arbor__reclaim_pending(void)
{
    if (!arbor__rt.sched)
        return 0;
    uint64_t n = count_of(&orphans);
    for (unsigned i = 0; i < arbor__rt.nsched; i++)
        n += count_of(&arbor__rt.sched[i].limbo);
    return n;
}

#include "timer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arbor/error.h"
#include "proc.h"
#include "recycle.h"
#include "sched.h"
#include "stats.h"

void arbor__wheel_init(arbor__wheel_t *w, uint64_t now)
{
    for (size_t i = 0; i < ARBOR__WHEEL_SLOTS; i++)
        w->slots[i] = NULL;
    w->now = now;
    w->count = 0;
    w->floor = now;
}

static void link_timer(arbor__wheel_t *w, struct arbor_timer *t)
{
    struct arbor_timer **slot = &w->slots[t->deadline % ARBOR__WHEEL_SLOTS];
    if (t->deadline < w->floor)
        w->floor = t->deadline;
    t->prev = NULL;
    t->next = *slot;
    if (*slot)
        (*slot)->prev = t;
    *slot = t;
    w->count++;
}

static void unlink_timer(arbor__wheel_t *w, struct arbor_timer *t)
{
    if (t->prev)
        t->prev->next = t->next;
    else
        w->slots[t->deadline % ARBOR__WHEEL_SLOTS] = t->next;
    if (t->next)
        t->next->prev = t->prev;
    t->prev = t->next = NULL;
    w->count--;
}

void arbor__timer_unref(struct arbor_timer *t)
{
    /* acq_rel: the last owner sees the other's writes before freeing. */
    if (atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) == 1) {
        if (t->node)
            arbor__msg_destroy(t->node);
        arbor__recycle_free(ARBOR__RECYCLE_TIMER, t);
        ARBOR__STAT_SUB(live_timers, 1);
    }
}

/* Unlinks t from its wheel (owner thread) and acts on its state. */
static void expire(arbor__wheel_t *w, struct arbor_timer *t)
{
    unlink_timer(w, t);
    int pending = ARBOR__TIMER_PENDING;
    if (atomic_compare_exchange_strong_explicit(&t->state, &pending, ARBOR__TIMER_FIRED,
                                                memory_order_acq_rel, memory_order_acquire)) {
        arbor__msg_t *node = t->node;
        t->node = NULL;
        arbor__send_node(t->target, node);
    }
    arbor__timer_unref(t);
}

unsigned arbor__wheel_advance(arbor__sched_t *s, uint64_t now)
{
    arbor__wheel_t *w = &s->wheel;
    unsigned fired = 0;
    if (now < w->now)
        return 0;
    uint64_t from = w->now;
    uint64_t span = now - from + 1;
    if (span > ARBOR__WHEEL_SLOTS)
        span = ARBOR__WHEEL_SLOTS;
    for (uint64_t i = 0; i < span && w->count; i++) {
        struct arbor_timer *t = w->slots[(from + i) % ARBOR__WHEEL_SLOTS];
        while (t) {
            struct arbor_timer *next = t->next;
            if (t->deadline <= now) {
                expire(w, t);
                fired++;
            }
            t = next;
        }
    }
    w->now = now;
    if (w->floor <= now)
        w->floor = now + 1; /* everything due by now has fired */
    return fired;
}

uint64_t arbor__wheel_next_deadline(arbor__wheel_t *w)
{
    if (w->count == 0)
        return UINT64_MAX;
    /* Scan forward from the floor (no timer is due before it). The first
     * slot holding a timer due within this turn of the wheel holds the
     * earliest one; a full turn is scanned at most once per new minimum,
     * since the answer becomes the new floor. */
    uint64_t start = w->floor > w->now ? w->floor : w->now;
    uint64_t best = UINT64_MAX;
    for (uint64_t i = 0; i < ARBOR__WHEEL_SLOTS; i++) {
        const struct arbor_timer *t = w->slots[(start + i) % ARBOR__WHEEL_SLOTS];
        for (; t; t = t->next)
            if (t->deadline < best)
                best = t->deadline;
        if (best <= start + i)
            break;
    }
    if (best != UINT64_MAX)
        w->floor = best;
    return best;
}

void arbor__wheel_fini(arbor__wheel_t *w)
{
    for (size_t i = 0; i < ARBOR__WHEEL_SLOTS; i++) {
        struct arbor_timer *t = w->slots[i];
        while (t) {
            struct arbor_timer *next = t->next;
            unlink_timer(w, t);
            atomic_store(&t->state, ARBOR__TIMER_CANCELLED);
            arbor__timer_unref(t);
            t = next;
        }
    }
}

struct arbor_timer *arbor__timer_start(arbor_pid_t target, arbor__msg_t *node, uint64_t deadline,
                                       int with_handle)
{
    struct arbor_timer *t = arbor__recycle_alloc(ARBOR__RECYCLE_TIMER, sizeof *t);
    if (!t) {
        arbor__msg_destroy(node);
        return NULL;
    }
    ARBOR__STAT_ADD(live_timers, 1);
    t->prev = t->next = NULL;
    t->deadline = deadline;
    atomic_init(&t->state, ARBOR__TIMER_PENDING);
    atomic_init(&t->refs, with_handle ? 2 : 1);
    t->target = target;
    t->node = node;
    t->holder = NULL;
    t->hprev = t->hnext = NULL;
    arbor__sched_t *s = arbor__sched_current();
    if (s) {
        t->owner = s;
        if (t->deadline < s->wheel.now)
            t->deadline = s->wheel.now;
        link_timer(&s->wheel, t);
        return t;
    }
    /* From outside the schedulers: scheduler 0 adopts it. */
    t->owner = &arbor__rt.sched[0];
    pthread_mutex_lock(&arbor__rt.foreign_lock);
    t->next = atomic_load_explicit(&arbor__rt.foreign_timers, memory_order_relaxed);
    atomic_store_explicit(&arbor__rt.foreign_timers, t, memory_order_relaxed);
    pthread_mutex_unlock(&arbor__rt.foreign_lock);
    arbor__sched_kick(&arbor__rt.sched[0]);
    return t;
}

void arbor__timer_adopt_foreign(arbor__sched_t *s)
{
    pthread_mutex_lock(&arbor__rt.foreign_lock);
    struct arbor_timer *t = atomic_load_explicit(&arbor__rt.foreign_timers, memory_order_relaxed);
    atomic_store_explicit(&arbor__rt.foreign_timers, NULL, memory_order_relaxed);
    pthread_mutex_unlock(&arbor__rt.foreign_lock);
    while (t) {
        struct arbor_timer *next = t->next;
        if (s) {
            if (t->deadline < s->wheel.now)
                t->deadline = s->wheel.now;
            link_timer(&s->wheel, t);
        } else {
            atomic_store(&t->state, ARBOR__TIMER_CANCELLED);
            arbor__timer_unref(t); /* runtime teardown */
        }
        t = next;
    }
}

int arbor__timer_cancel(struct arbor_timer *t)
{
    int pending = ARBOR__TIMER_PENDING;
    int rc = ARBOR_ENOENT;
    if (atomic_compare_exchange_strong_explicit(&t->state, &pending, ARBOR__TIMER_CANCELLED,
                                                memory_order_acq_rel, memory_order_acquire)) {
        rc = 0;
        arbor__sched_t *s = arbor__sched_current();
        if (s && t->owner == s &&
            (t->prev || s->wheel.slots[t->deadline % ARBOR__WHEEL_SLOTS] == t)) {
            /* Our own wheel: unlink and drop its reference now. */
            unlink_timer(&s->wheel, t);
            arbor__timer_unref(t);
        }
        /* Otherwise the owner drops it when the slot comes round. */
    }
    arbor__timer_unref(t);
    return rc;
}

int arbor_send_after(arbor_pid_t to, uint64_t tag, const void *data, size_t size, uint64_t ms,
                     arbor_timer_t **timer_out)
{
    if (to == ARBOR_NOPID || (tag >= ARBOR_TAG_SYSTEM && tag < ARBOR_TAG_OTP) || (size && !data))
        return ARBOR_EINVAL;
    if (size > ARBOR_MSG_MAX)
        return ARBOR_ETOOBIG;
    if (!arbor__rt.sched)
        return ARBOR_ESHUTDOWN;
    /* A held handle is listed in its holder's rare record (proc.h). */
    arbor__proc_t *holder = timer_out ? arbor__proc_current() : NULL;
    if (holder && !arbor__proc_rare(holder))
        return ARBOR_ENOMEM;
    arbor__msg_t *m = arbor__msg_new(ARBOR__MSG, size);
    if (!m)
        return ARBOR_ENOMEM;
    m->pub.tag = tag;
    m->pub.from = arbor_self();
    arbor__payload_copy(m->payload, data, size);
    struct arbor_timer *t = arbor__timer_start(to, m, arbor_now_ms() + ms, timer_out != NULL);
    if (!t)
        return ARBOR_ENOMEM;
    if (holder) {
        arbor__proc_rare_t *r = holder->rare; /* made above */
        t->holder = holder;
        t->hnext = r->timers;
        if (r->timers)
            r->timers->hprev = t;
        r->timers = t;
    }
    if (timer_out)
        *timer_out = t;
    return 0;
}

/* Takes t off its holder's list (the holder is the calling process). */
static void unhold(struct arbor_timer *t)
{
    arbor__proc_t *p = t->holder;
    if (!p)
        return;
    if (t->hprev)
        t->hprev->hnext = t->hnext;
    else
        p->rare->timers = t->hnext;
    if (t->hnext)
        t->hnext->hprev = t->hprev;
    t->holder = NULL;
    t->hprev = t->hnext = NULL;
}

void arbor__timer_release_held(arbor__proc_t *p)
{
    while (p->rare && p->rare->timers) {
        struct arbor_timer *t = p->rare->timers;
        unhold(t);
        arbor__timer_unref(t);
    }
}

/* A handle held by a process may only be used by it: the holder's list is
 * not another thread's to touch. A misuse aborts with a clear message
 * rather than corrupting memory. */
static void check_holder(const struct arbor_timer *t)
{
    if (t->holder && t->holder != arbor__proc_current()) {
        fprintf(stderr, "arbor: a timer handle was used by a process that does not hold it\n");
        abort();
    }
}

int arbor_cancel_timer(arbor_timer_t *timer)
{
    if (!timer)
        return ARBOR_EINVAL;
    check_holder(timer);
    unhold(timer);
    return arbor__timer_cancel(timer);
}

void arbor_timer_release(arbor_timer_t *timer)
{
    if (!timer)
        return;
    check_holder(timer);
    unhold(timer);
    arbor__timer_unref(timer);
}

/*
 * Scheduler threads: run queues, stealing, waking, parking, and the loop
 * that runs processes. The design is described in sched.h; the runtime's
 * life cycle (arbor_run()) is in runtime.c, fault reports in fault.c.
 */
#include "sched.h"

#include <limits.h>
#include <malloc.h>
#include <linux/futex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "arbor/error.h"
#include "fault.h"
#include "netpoll.h"
#include "recycle.h"
#include "sanitizer.h"
#include "stats.h"
#include "systematic.h"
#include "table.h"

#define GLOBAL_CHECK_INTERVAL 61
#define SPIN_ROUNDS           16
#define TRIM_AFTER_EXITS      10000
#define WATCH_BACKOFF         16 /* a watcher waits at most this many times steal_after */

arbor__runtime_t arbor__rt;
_Atomic bool arbor__running;
arbor__stats_t arbor__stats;

static __thread arbor__sched_t *tls_sched;

arbor__sched_t *__attribute__((noinline)) arbor__sched_current(void)
{
    return tls_sched;
}

arbor__proc_t *__attribute__((noinline)) arbor__proc_current(void)
{
    arbor__sched_t *s = tls_sched;
    return s ? s->current : NULL;
}

/* The runtime's clock: timers (arbor_now_ms()) and the run queues'
 * waiting times (stealable()). */
static uint64_t clock_ns(void)
{
#ifdef ARBOR_SYSTEMATIC
    return arbor__sys_now_ns(); /* logical time (systematic.h) */
#else
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
#endif
}

/* The clock that stamps a process displaced from runnext: read once in a
 * turn (one process's run on this scheduler), since a sender may wake
 * dozens of receivers in one slice (fork_join: the clock was 3 % of its
 * time). An entry so stamped looks older than it is by at most the time
 * the turn had run when the clock was read; a turn is short (a slice), and
 * the error only makes an entry cold sooner. */
static uint64_t turn_clock(arbor__sched_t *s)
{
    if (!s->turn_clock)
        s->turn_clock = clock_ns();
    return s->turn_clock;
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* ---- futex ------------------------------------------------------------------ */

/* (The systematic-testing build parks on its token instead: systematic.h.) */
#ifndef ARBOR_SYSTEMATIC

static void futex_wait(_Atomic uint32_t *word, uint32_t val, uint64_t timeout_ns)
{
    struct timespec ts, *tsp = NULL;
    if (timeout_ns != UINT64_MAX) {
        ts.tv_sec = (time_t)(timeout_ns / 1000000000u);
        ts.tv_nsec = (long)(timeout_ns % 1000000000u);
        tsp = &ts;
    }
    syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, val, tsp, NULL, 0);
}

static void futex_wake(_Atomic uint32_t *word)
{
    syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}
#endif

/* ---- run queues ---------------------------------------------------------------- */

static void global_push_list(arbor__proc_t *head, arbor__proc_t *tail, uint32_t n)
{
    tail->run_next = NULL;
    pthread_mutex_lock(&arbor__rt.gq_lock);
    if (arbor__rt.gq_tail)
        arbor__rt.gq_tail->run_next = head;
    else
        arbor__rt.gq_head = head;
    arbor__rt.gq_tail = tail;
    atomic_fetch_add_explicit(&arbor__rt.gq_len, n, memory_order_seq_cst);
    pthread_mutex_unlock(&arbor__rt.gq_lock);
}

/* Moves half of a full ring plus p to the shared queue. Owner only. */
static bool ring_spill(arbor__sched_t *s, arbor__proc_t *p, uint32_t head, uint32_t tail)
{
    uint32_t n = (tail - head) / 2;
    arbor__proc_t *batch[ARBOR__RQ_SIZE / 2 + 1];
    for (uint32_t i = 0; i < n; i++)
        batch[i] = atomic_load_explicit(&s->rq[(head + i) % ARBOR__RQ_SIZE], memory_order_relaxed);
    /* release: thieves that read the new head do not read the entries. */
    if (!atomic_compare_exchange_strong_explicit(&s->rq_head, &head, head + n, memory_order_release,
                                                 memory_order_relaxed))
        return false; /* thieves took some: the ring has room now */
    batch[n] = p;
    for (uint32_t i = 0; i < n; i++)
        batch[i]->run_next = batch[i + 1];
    global_push_list(batch[0], p, n + 1);
    return true;
}

/* Queues p, which has waited since `at` (clock_ns(); 0 for a new process:
 * anybody's at once). Returns true when the ring was full and half of it
 * went to the shared queue. */
static bool ring_push(arbor__sched_t *s, arbor__proc_t *p, uint64_t at)
{
    for (;;) {
        /* acquire: thieves advance head after reading their entries. */
        uint32_t head = atomic_load_explicit(&s->rq_head, memory_order_acquire);
        uint32_t tail = atomic_load_explicit(&s->rq_tail, memory_order_relaxed);
        if (tail - head < ARBOR__RQ_SIZE) {
            atomic_store_explicit(&s->rq_at[tail % ARBOR__RQ_SIZE], at, memory_order_relaxed);
            atomic_store_explicit(&s->rq[tail % ARBOR__RQ_SIZE], p, memory_order_relaxed);
            /* release: a thief that sees the tail sees the entry. */
            atomic_store_explicit(&s->rq_tail, tail + 1, memory_order_release);
            return false;
        }
        if (ring_spill(s, p, head, tail))
            return true;
    }
}

static arbor__proc_t *ring_pop(arbor__sched_t *s)
{
    for (;;) {
        uint32_t head = atomic_load_explicit(&s->rq_head, memory_order_acquire);
        uint32_t tail = atomic_load_explicit(&s->rq_tail, memory_order_relaxed);
        if (head == tail)
            return NULL;
        arbor__proc_t *p =
            atomic_load_explicit(&s->rq[head % ARBOR__RQ_SIZE], memory_order_relaxed);
        if (atomic_compare_exchange_weak_explicit(&s->rq_head, &head, head + 1,
                                                  memory_order_release, memory_order_relaxed))
            return p;
    }
}

/* Whether an entry queued at `at` may be taken by a thief at `now`: a new
 * process at once, anything else once it has waited steal_after (cold). */
static bool cold(uint64_t at, uint64_t now)
{
    return at == 0 || now - at >= arbor__rt.steal_after_ns;
}

/* How many entries from head on a thief may take: the leading ones that
 * are cold (cold()). A process woken or preempted here has its data in
 * this core's cache and usually runs again within a few microseconds;
 * moving it costs more than it gains unless it has waited long (fork_join
 * on two schedulers: 28 M msgs/s when a woken receiver could be stolen at
 * once, 44 M with no stealing at all). The ring is in queueing order, so
 * the first entry still warm ends what may be taken. Reads entries a
 * concurrent pop may take: the caller's CAS on head tells. */
static uint32_t stealable(arbor__sched_t *v, uint32_t head, uint32_t tail, uint64_t now)
{
    uint32_t n = tail - head;
    if (n > ARBOR__RQ_SIZE)
        return 0; /* inconsistent snapshot */
    uint32_t k = 0;
    while (k < n &&
           cold(atomic_load_explicit(&v->rq_at[(head + k) % ARBOR__RQ_SIZE], memory_order_relaxed),
                now))
        k++;
    return k;
}

/* Steals half of victim's ring into s's ring; returns one of them. */
static arbor__proc_t *ring_steal(arbor__sched_t *s, arbor__sched_t *victim, uint64_t now)
{
    arbor__proc_t *got[ARBOR__RQ_SIZE / 2];
    uint64_t at[ARBOR__RQ_SIZE / 2];
    uint32_t n;
    for (;;) {
        uint32_t head = atomic_load_explicit(&victim->rq_head, memory_order_acquire);
        /* acquire: pairs with the victim's release of its tail. */
        uint32_t tail = atomic_load_explicit(&victim->rq_tail, memory_order_acquire);
        n = stealable(victim, head, tail, now);
        n = n - n / 2;
        if (n == 0)
            return NULL;
        for (uint32_t i = 0; i < n; i++) {
            got[i] = atomic_load_explicit(&victim->rq[(head + i) % ARBOR__RQ_SIZE],
                                          memory_order_relaxed);
            at[i] = atomic_load_explicit(&victim->rq_at[(head + i) % ARBOR__RQ_SIZE],
                                         memory_order_relaxed);
        }
        if (atomic_compare_exchange_weak_explicit(&victim->rq_head, &head, head + n,
                                                  memory_order_acq_rel, memory_order_relaxed))
            break;
    }
    for (uint32_t i = 1; i < n; i++)
        ring_push(s, got[i], at[i]);
    return got[0];
}

static arbor__proc_t *global_pop(arbor__sched_t *s)
{
    if (atomic_load_explicit(&arbor__rt.gq_len, memory_order_relaxed) == 0)
        return NULL;
    pthread_mutex_lock(&arbor__rt.gq_lock);
    arbor__proc_t *first = arbor__rt.gq_head;
    if (!first) {
        pthread_mutex_unlock(&arbor__rt.gq_lock);
        return NULL;
    }
    /* Take a fair share, up to half a ring, to amortise the lock. */
    uint32_t len = atomic_load_explicit(&arbor__rt.gq_len, memory_order_relaxed);
    uint32_t n = len / arbor__rt.nsched + 1;
    if (n > ARBOR__RQ_SIZE / 2)
        n = ARBOR__RQ_SIZE / 2;
    arbor__proc_t *p = first;
    arbor__proc_t *batch[ARBOR__RQ_SIZE / 2];
    uint32_t k = 0;
    while (p && k < n) {
        batch[k++] = p;
        p = p->run_next;
    }
    arbor__rt.gq_head = p;
    if (!p)
        arbor__rt.gq_tail = NULL;
    atomic_fetch_sub_explicit(&arbor__rt.gq_len, k, memory_order_relaxed);
    pthread_mutex_unlock(&arbor__rt.gq_lock);
    for (uint32_t i = 1; i < k; i++)
        ring_push(s, batch[i], 0);
    return batch[0];
}

/* Whether a thief that is watching (see sched.h) looks at a ring with
 * tail - head entries: only when two or more wait, as open_ring() wakes a
 * deep sleeper only for two or more. */
static bool watched_ring(bool watching, uint32_t head, uint32_t tail)
{
    return !watching || tail - head >= 2;
}

/* The sleeper's last look before it parks (see sched.h): true if there is
 * work it may take now. Otherwise *cold_at is when the first queued
 * process it may not take yet turns cold (UINT64_MAX: nothing queued):
 * the sleeper comes back then. A watching sleeper looks only at rings
 * with two or more waiting (watched_ring()). */
static bool any_work_visible(uint64_t *cold_at, bool watching)
{
    *cold_at = UINT64_MAX;
    if (atomic_load_explicit(&arbor__rt.gq_len, memory_order_seq_cst))
        return true;
    uint64_t now = clock_ns();
    for (unsigned i = 0; i < arbor__rt.nsched; i++) {
        arbor__sched_t *v = &arbor__rt.sched[i];
        uint32_t head = atomic_load_explicit(&v->rq_head, memory_order_seq_cst);
        uint32_t tail = atomic_load_explicit(&v->rq_tail, memory_order_seq_cst);
        if (head == tail || !watched_ring(watching, head, tail))
            continue;
        if (stealable(v, head, tail, now))
            return true;
        uint64_t at = atomic_load_explicit(&v->rq_at[head % ARBOR__RQ_SIZE], memory_order_relaxed);
        if (at + arbor__rt.steal_after_ns < *cold_at)
            *cold_at = at + arbor__rt.steal_after_ns;
    }
    return false;
}

/* ---- waking ---------------------------------------------------------------------- */

/* The parker sets in_poll before its last look at the queues and reads
 * futex_word before it blocks in epoll_wait; this stores futex_word before
 * it reads in_poll (all seq_cst): either the parker sees the word and does
 * not block, or this sees in_poll and breaks the poll. */
static void wake_sched(arbor__sched_t *v)
{
    ARBOR__STAT_ADD(sched_wakeups, 1);
    atomic_store_explicit(&v->futex_word, 1, memory_order_seq_cst);
#ifdef ARBOR_SYSTEMATIC
    arbor__sys_wake();
#else
    futex_wake(&v->futex_word);
#endif
    if (atomic_load_explicit(&v->in_poll, memory_order_seq_cst))
        arbor__netpoll_break();
}

/* Wakes one sleeping scheduler if work may be waiting and nobody is
 * already looking for it. */
static void wake_one(void)
{
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load_explicit(&arbor__rt.n_idle, memory_order_seq_cst) == 0)
        return;
    if (atomic_load_explicit(&arbor__rt.n_spinning, memory_order_seq_cst) != 0)
        return;
    for (unsigned i = 0; i < arbor__rt.nsched; i++) {
        arbor__sched_t *v = &arbor__rt.sched[i];
        int one = 1;
        if (atomic_load_explicit(&v->sleeping, memory_order_relaxed) &&
            atomic_compare_exchange_strong_explicit(&v->sleeping, &one, 0, memory_order_seq_cst,
                                                    memory_order_relaxed)) {
            /* It wakes up spinning: count it now so that concurrent wakers
             * do not wake a second one for the same work. */
            atomic_fetch_add_explicit(&arbor__rt.n_spinning, 1, memory_order_seq_cst);
            wake_sched(v);
            return;
        }
    }
}

static void wake_all(void)
{
    for (unsigned i = 0; i < arbor__rt.nsched; i++) {
        atomic_store_explicit(&arbor__rt.sched[i].sleeping, 0, memory_order_seq_cst);
        wake_sched(&arbor__rt.sched[i]);
    }
}

void arbor__sched_kick(arbor__sched_t *v)
{
    int one = 1;
    if (atomic_compare_exchange_strong_explicit(&v->sleeping, &one, 0, memory_order_seq_cst,
                                                memory_order_relaxed)) {
        atomic_fetch_add_explicit(&arbor__rt.n_spinning, 1, memory_order_seq_cst);
        wake_sched(v);
    }
}

void arbor__sched_enqueue(arbor__proc_t *p, bool next)
{
    arbor__sched_t *s = tls_sched;
    atomic_store_explicit(&p->status, ARBOR_STATUS_RUNNABLE, memory_order_relaxed);
    if (!s) {
        global_push_list(p, p, 1);
        wake_one();
        return;
    }
    if (!next) {
        /* A new process (or one that a message reached while it parked):
         * more often parallel work, for whichever scheduler is idle. */
        ring_push(s, p, 0);
        wake_one();
        return;
    }
    /* The woken process runs after the current one, on this core. The one
     * it displaces goes to the ring, where no other scheduler may take it
     * before it turns cold (stealable()): waking one for it now would only
     * make it spin. */
    arbor__proc_t *old = s->runnext;
    s->runnext = p;
    if (old && ring_push(s, old, turn_clock(s)))
        wake_one();
}

/* ---- the loop ------------------------------------------------------------------------ */

static void stop_spinning(arbor__sched_t *s)
{
    if (!s->spinning)
        return;
    s->spinning = false;
    /* The last spinner to find work wakes another, in case there is more. */
    if (atomic_fetch_sub_explicit(&arbor__rt.n_spinning, 1, memory_order_seq_cst) == 1)
        wake_one();
}

static arbor__proc_t *try_steal(arbor__sched_t *s)
{
    unsigned n = arbor__rt.nsched;
    if (n < 2)
        return NULL;
    ARBOR__SYS_POINT(s);
    s->rng = s->rng * 1103515245u + 12345u;
    unsigned start = (s->rng >> 16) % n;
    uint64_t now = clock_ns();
    for (unsigned i = 0; i < n; i++) {
        arbor__sched_t *v = &arbor__rt.sched[(start + i) % n];
        if (v == s)
            continue;
        if (s->watching &&
            !watched_ring(true, atomic_load_explicit(&v->rq_head, memory_order_relaxed),
                          atomic_load_explicit(&v->rq_tail, memory_order_relaxed)))
            continue;
        arbor__proc_t *p = ring_steal(s, v, now);
        if (p)
            return p;
    }
    return NULL;
}

/* Before parking, look for work a little longer: a futex sleep and wake
 * cost several microseconds each, more than most gaps between bursts of
 * work. Bounded (about 20 us), so an idle runtime still sleeps; and only
 * when work may come while it spins (worth_spinning()). */
static arbor__proc_t *spin_for_work(arbor__sched_t *s)
{
    ARBOR__STAT_ADD(sched_spins, 1);
    for (int i = 0; i < SPIN_ROUNDS; i++) {
        for (int j = 0; j < 64; j++)
            cpu_relax();
        ARBOR__SYS_POINT(s); /* let the others run meanwhile */
        arbor__proc_t *p;
        if ((p = ring_pop(s)) || (p = global_pop(s)) || (p = try_steal(s)))
            return p;
        if (s->runnext || atomic_load_explicit(&arbor__rt.done, memory_order_relaxed))
            return NULL;
    }
    return NULL;
}

static uint64_t poll_timers(arbor__sched_t *s)
{
    if (s->id == 0 && atomic_load_explicit(&arbor__rt.foreign_timers, memory_order_relaxed))
        arbor__timer_adopt_foreign(s);
    if (s->wheel.count == 0)
        return UINT64_MAX;
    uint64_t now = arbor_now_ms();
    arbor__wheel_advance(s, now);
    return arbor__wheel_next_deadline(&s->wheel);
}

/* Puts p at the back of this scheduler's ring without waking another
 * scheduler, unless the ring overflowed into the shared queue. This keeps
 * a client and the server it feeds on one core (waking a second scheduler
 * at each slice's end split them, and every message then crossed cores:
 * genserver_cast 40 -> 117 ns); an idle scheduler takes p only if it
 * waits long (stealable()). */
static void requeue(arbor__sched_t *s, arbor__proc_t *p)
{
    atomic_store_explicit(&p->status, ARBOR_STATUS_RUNNABLE, memory_order_relaxed);
    if (ring_push(s, p, clock_ns()))
        wake_one();
}

/* Another process is about to run on s (run(), or a direct switch). If
 * two or more processes wait in the ring, the first of them has turned
 * cold (a thief may take it: stealable()) and a scheduler sleeps with
 * nothing to come back for (a deep sleep), that scheduler is woken to
 * take them. Not before they are cold: a scheduler woken for entries it
 * may not take yet only spins and parks again, and waking one per batch
 * of processes that a socket poll queued here (http_hello on two
 * schedulers, keep-alive) cost a futex wake on this, the busy, side and
 * 20 to 50 us of spinning on the other, some 40 % more CPU per request.
 * A process that keeps s busy without a turn (no switch for longer than
 * steal_after) never gets here: the watcher, a sleeper that comes back
 * every steal_after while another scheduler works (sleep_until_work()),
 * takes its ring's cold entries instead. For one waiting process no
 * scheduler is woken: that is usually the partner of the process about
 * to run (a client and its server, requeued together when their slice
 * ended), and waking a scheduler per slice for it cost ping_pong 120 ->
 * 172 ns. The wake is a hint, not part of the parking protocol: without
 * it the entries wait for this scheduler, which is awake, so relaxed
 * loads spare most switches a fence, and the clock is read only when
 * there is someone to wake, on every fourth turn (a clock read per turn
 * was 1 % of http_hello's CPU; entries turn cold after 250 us, and four
 * turns are usually a few microseconds). */
static void open_ring(arbor__sched_t *s)
{
    uint32_t head = atomic_load_explicit(&s->rq_head, memory_order_relaxed);
    if (atomic_load_explicit(&s->rq_tail, memory_order_relaxed) - head < 2 ||
        atomic_load_explicit(&arbor__rt.n_deep, memory_order_relaxed) == 0 || (s->ticks & 3))
        return;
    uint64_t at = atomic_load_explicit(&s->rq_at[head % ARBOR__RQ_SIZE], memory_order_relaxed);
    if (cold(at, clock_ns()))
        wake_one();
}

/* A process taken from a queue starts a slice of its own. */
static arbor__proc_t *fresh_slice(arbor__proc_t *p)
{
    p->reductions = 0;
    return p;
}

/* After many processes have gone, an idle runtime gives the memory they
 * held back to the system: glibc keeps freed blocks in its arenas (50,000
 * exited processes holding 1.5 KiB each left 70 MiB resident), and
 * malloc_trim() returns the free pages. At most once per TRIM_AFTER_EXITS
 * processes freed, by a scheduler that goes idle while every other one
 * sleeps: trimming holds the allocator's locks for a few milliseconds, which
 * a busy scheduler would wait on (a DynamicSupervisor's shutdown of 10,000
 * children, trimmed beside it, took twice as long). Returns true when it
 * trimmed. */
static bool give_memory_back(void)
{
    if (atomic_load_explicit(&arbor__rt.n_idle, memory_order_relaxed) + 1 < arbor__rt.nsched)
        return false;
    uint64_t freed = atomic_load_explicit(&arbor__stats.processes_spawned, memory_order_relaxed) -
                     atomic_load_explicit(&arbor__stats.live_processes, memory_order_relaxed);
    uint64_t last = atomic_load_explicit(&arbor__rt.exits_at_trim, memory_order_relaxed);
    if (freed - last < TRIM_AFTER_EXITS ||
        !atomic_compare_exchange_strong_explicit(&arbor__rt.exits_at_trim, &last, freed,
                                                 memory_order_relaxed, memory_order_relaxed))
        return false;
    malloc_trim(0);
    return true;
}

/* True when s has a process in runnext or its ring (owner only). */
static bool has_local_work(const arbor__sched_t *s)
{
    return s->runnext || atomic_load_explicit(&s->rq_tail, memory_order_relaxed) !=
                             atomic_load_explicit(&s->rq_head, memory_order_relaxed);
}

/* Takes s out of the sleeping state sleep_until_work() published. */
static void wake_up(arbor__sched_t *s)
{
    atomic_store_explicit(&s->in_poll, 0, memory_order_relaxed);
    int one = 1;
    if (!atomic_compare_exchange_strong_explicit(&s->sleeping, &one, 0, memory_order_seq_cst,
                                                 memory_order_relaxed))
        s->spinning = true; /* a waker picked us and counted us */
    atomic_fetch_sub_explicit(&arbor__rt.n_idle, 1, memory_order_seq_cst);
}

/* Parks s, which found nothing to run: publishes that it sleeps, looks
 * once more (see sched.h), then sleeps until the next timer (deadline, in
 * arbor_now_ms() time; UINT64_MAX: none), until the first process queued
 * elsewhere turns cold, or until woken. With nothing queued anywhere it
 * is a deep sleep, unless another scheduler is busy and no other sleeper
 * watches: then s is the watcher, and comes back after steal_after for
 * what that scheduler may have queued meanwhile (see open_ring()); after
 * each return that finds nothing to run it waits twice as long, up to
 * WATCH_BACKOFF times steal_after, and counts as a deep sleeper (one that
 * open_ring() wakes) once it waits longer than steal_after. With sockets
 * to watch it may be the scheduler that sleeps in epoll_wait. */
static void sleep_until_work(arbor__sched_t *s, uint64_t deadline)
{
    s->slice = 0; /* whoever runs after the sleep starts a new slice */
    stop_spinning(s);
    atomic_store_explicit(&s->futex_word, 0, memory_order_seq_cst);
    atomic_store_explicit(&s->sleeping, 1, memory_order_seq_cst);
    uint32_t idle = atomic_fetch_add_explicit(&arbor__rt.n_idle, 1, memory_order_seq_cst) + 1;
    /* Announced before the last look (wake_sched()). */
    bool poll = arbor__netpoll_active();
    if (poll)
        atomic_store_explicit(&s->in_poll, 1, memory_order_seq_cst);
    uint64_t cold_at;
    if (any_work_visible(&cold_at, s->watching) ||
        atomic_load_explicit(&arbor__rt.done, memory_order_seq_cst)) {
        wake_up(s);
        return;
    }
    uint64_t now = clock_ns();
    bool deep = cold_at == UINT64_MAX, watch = false;
    if (deep && idle < arbor__rt.nsched) {
        int none = 0;
        watch = atomic_compare_exchange_strong_explicit(&arbor__rt.watcher, &none, 1,
                                                        memory_order_relaxed, memory_order_relaxed);
        if (watch) {
            uint64_t every = s->watch_ns ? s->watch_ns : arbor__rt.steal_after_ns;
            cold_at = now + every;
            deep = every > arbor__rt.steal_after_ns;
            s->watch_ns = every < WATCH_BACKOFF * arbor__rt.steal_after_ns ? every * 2 : every;
        }
    }
    uint64_t wake_at = cold_at;
    if (deadline != UINT64_MAX && deadline * 1000000u < wake_at)
        wake_at = deadline * 1000000u;
    uint64_t timeout = wake_at == UINT64_MAX ? UINT64_MAX : wake_at > now ? wake_at - now : 0;
    if (timeout != 0) {
        if (deep)
            atomic_fetch_add_explicit(&arbor__rt.n_deep, 1, memory_order_relaxed);
        arbor__reclaim_offline(s);
#ifdef ARBOR_SYSTEMATIC
        arbor__sys_sleep(s, timeout); /* it polls the sockets when all sleep */
#else
        if (!poll || atomic_load_explicit(&s->futex_word, memory_order_seq_cst) != 0 ||
            !arbor__netpoll_poll(timeout))
            futex_wait(&s->futex_word, 0, timeout);
#endif
        if (deep)
            atomic_fetch_sub_explicit(&arbor__rt.n_deep, 1, memory_order_relaxed);
    }
    if (watch)
        atomic_store_explicit(&arbor__rt.watcher, 0, memory_order_relaxed);
    wake_up(s);
    /* A watcher back on its timer, with nobody waking it for new work,
     * is watching until it runs a process: it came for what a busy
     * scheduler holds without a turn, two or more waiting (a lone
     * process is usually the partner of the one running, and taking it
     * split the pair: genserver_cast 45 -> 100-160 ns), cold and
     * stealable at once; it does not spin before it parks again (a spin
     * per return cost 20 to 50 us every steal_after). */
    s->watching = watch && !s->spinning;
    /* Nor does any sleeper back on its timer (or from a poll) that nobody
     * woke: it came for processes that would be cold by now, or for its
     * timers and sockets; if it can take nothing, a spin would only read
     * a busy scheduler's ring while that one writes it. A call chain that
     * always leaves a process waiting in its ring (a bystander woken by a
     * cast, displaced from runnext by the next call, and run at the
     * slice's end, long before it turns cold) had the other scheduler
     * back every steal_after or sooner, each time to spin for nothing
     * (ticket_workflow, 1 client: 1,650 spins in 100,000 tickets, now
     * about 30; 2 to 4 % less CPU, and up to 5 % more tickets/s in runs
     * under load; docs/performance.md). */
    s->unwoken = !s->spinning;
}

/* The start of each turn of the loop: the epoch's quiescent point, and
 * every 16th turn the timers, every 64th the sockets (a busy runtime still
 * hears them, netpoll.h). */
static void begin_turn(arbor__sched_t *s)
{
    ARBOR__SYS_POINT(s);
    ++s->ticks;
    arbor__reclaim_quiesce(s); /* no process reached without a reference is held here */
    if ((s->ticks & 15) == 0)
        poll_timers(s);
    if ((s->ticks & 63) == 0 && arbor__netpoll_active())
        arbor__netpoll_poll(0);
}

/* Picking: the process s runs next from its own queues, NULL when they are
 * empty. Every GLOBAL_CHECK_INTERVAL turns the shared queue comes first;
 * otherwise runnext (continuing the slice, see sched.h), then the ring,
 * then the shared queue. */
static arbor__proc_t *pick_local(arbor__sched_t *s)
{
    arbor__proc_t *p;
    if (s->ticks % GLOBAL_CHECK_INTERVAL == 0 && (p = global_pop(s))) {
        /* The process in runnext would inherit this one's fresh slice
         * and a pair waking each other would never spend theirs: it
         * waits in the ring instead, behind what is queued there. */
        if (s->runnext) {
            requeue(s, s->runnext);
            s->runnext = NULL;
        }
        return fresh_slice(p);
    }
    if (s->runnext) {
        p = s->runnext;
        s->runnext = NULL;
        p->reductions = s->slice; /* it continues the slice (see sched.h) */
        return p;
    }
    if ((p = ring_pop(s)) || (p = global_pop(s)))
        return fresh_slice(p);
    return NULL;
}

/* With nothing queued on s: fires the timers that are due and polls the
 * sockets without blocking (what they wake runs here, where the event was
 * seen). True when that queued work on s. *deadline: the next timer, in
 * arbor_now_ms() time (UINT64_MAX: none). */
static bool local_events(arbor__sched_t *s, uint64_t *deadline)
{
    *deadline = poll_timers(s);
    if (has_local_work(s))
        return true;
    return arbor__netpoll_active() && arbor__netpoll_poll(0) && has_local_work(s);
}

/* Whether s spins before it parks: when work may turn up for it
 * meanwhile, that is when another scheduler is awake (it may spawn, or
 * queue more than its ring holds) or a blocking job is in flight (its end
 * schedules its process through the shared queue); and always when s is
 * the only scheduler. A spin does not watch the sockets or the timers, so
 * with two schedulers, spinning while the other sleeps took the core from
 * whoever else needed it: on http_hello, each scheduler running out of
 * work between batches of requests, the spin was 8 % of the server's CPU,
 * taken from the load generator beside it. A lone scheduler gains from
 * it: the socket events that come during its spin are found by one
 * epoll_wait that does not sleep, where parking at once slept and woke
 * once per connection (http_hello pinned to one core, a connection per
 * request: 41,900 requests/s without the spin, 50,800 with it). */
static bool worth_spinning(void)
{
    return arbor__rt.nsched == 1 ||
           atomic_load_explicit(&arbor__rt.n_idle, memory_order_relaxed) + 1 < arbor__rt.nsched ||
           atomic_load_explicit(&arbor__stats.live_blocking_jobs, memory_order_relaxed) != 0;
}

/* Stealing: a process from another scheduler's ring, or one that turns up
 * while s spins a little before parking (not when it is back from any
 * park that nobody woke, watching included, with nothing run since:
 * sleep_until_work()); NULL when none. */
static arbor__proc_t *steal_work(arbor__sched_t *s)
{
    arbor__proc_t *p = try_steal(s);
    if (!p && !s->unwoken && worth_spinning())
        p = spin_for_work(s);
    return p ? fresh_slice(p) : NULL;
}

/* Parking: s found nothing to run. False when the runtime is done;
 * otherwise gives memory back to the system if it is time to (that takes
 * a while: the caller looks again), or sleeps until there is work or the
 * timer at deadline. */
static bool rest(arbor__sched_t *s, uint64_t deadline)
{
    if (atomic_load_explicit(&arbor__rt.done, memory_order_acquire))
        return false;
    if (!give_memory_back())
        sleep_until_work(s, deadline);
    return true;
}

/* The next process for s to run: picked from its own queues, woken here
 * by a timer or a socket, stolen, or waited for; NULL once the runtime is
 * done. */
static arbor__proc_t *find_runnable(arbor__sched_t *s)
{
    for (;;) {
        begin_turn(s);
        arbor__proc_t *p = pick_local(s);
        if (p)
            return p;
        uint64_t deadline;
        if (local_events(s, &deadline))
            continue;
        if ((p = steal_work(s)))
            return p;
        if (!rest(s, deadline))
            return NULL;
    }
}

/* After p switched out waiting: publish IDLE, then look at the inbox once
 * more. A sender that pushed before our look is seen here; one that pushes
 * after it sees IDLE (both sides seq_cst) and schedules p itself. */
static void park(arbor__proc_t *p)
{
    /* Once IDLE is published, a sender may wake p and another scheduler
     * run it to its exit; its block stays ours to read until this
     * scheduler's next quiescent point (reclaim.h). */
    atomic_store_explicit(&p->status, ARBOR_STATUS_WAITING, memory_order_relaxed);
    atomic_store_explicit(&p->sched, ARBOR__IDLE, memory_order_seq_cst);
    if (arbor__inbox_nonempty(&p->inbox)) {
        uint8_t idle = ARBOR__IDLE;
        if (atomic_compare_exchange_strong_explicit(&p->sched, &idle, ARBOR__SCHEDULED,
                                                    memory_order_seq_cst, memory_order_relaxed))
            arbor__sched_enqueue(p, false);
    }
}

static void release_stack(arbor__sched_t *s, arbor__proc_t *p)
{
    arbor__ctx_destroy(&p->ctx);
    arbor__stack_put(&s->stacks, p->stack);
    p->stack = NULL;
    atomic_store_explicit(&p->holds_stack, false, memory_order_relaxed);
}

/* Gives p a stack and a fresh context if it holds none (a reactive
 * process between messages, or one never run). */
static void prepare(arbor__sched_t *s, arbor__proc_t *p)
{
    if (p->stack)
        return;
    p->stack = arbor__stack_get(&s->stacks);
    if (!p->stack) {
        fprintf(stderr, "arbor: out of memory for a process stack\n");
        abort();
    }
    atomic_store_explicit(&p->holds_stack, true, memory_order_relaxed);
    arbor__ctx_make(&p->ctx, p->stack->lo, p->stack->size, arbor__proc_entry, p);
}

/* p used up its slice (or gave it up): it goes to the back of the ring,
 * and so does the process it woke last, just before it, which would
 * otherwise continue the spent slice from runnext. Everything queued
 * before them runs first, and whatever runs next starts a new slice. */
static void end_slice(arbor__sched_t *s, arbor__proc_t *p)
{
    arbor__proc_t *woken = s->runnext;
    if (woken) {
        s->runnext = NULL;
        requeue(s, woken);
    }
    requeue(s, p);
    s->slice = 0;
}

/* Not inlined: it runs right after a switch that may have moved the
 * calling process to another thread, and the thread-local scheduler it
 * reaches through arbor__sched_enqueue() must be read afresh there. */
__attribute__((noinline)) void arbor__sched_after_switch(arbor__sched_t *s)
{
    arbor__proc_t *p = s->prev;
    if (!p)
        return;
    s->prev = NULL;
    switch (p->yield) {
    case ARBOR__Y_YIELD:
        end_slice(s, p);
        break;
    case ARBOR__Y_WAIT:
        park(p);
        break;
    case ARBOR__Y_REACTOR_IDLE:
        release_stack(s, p);
        park(p);
        break;
    case ARBOR__Y_REACTOR_YIELD:
        release_stack(s, p);
        end_slice(s, p);
        break;
    case ARBOR__Y_EXIT:
        release_stack(s, p);
        arbor__proc_finish(p);
        break;
    }
}

/* p is about to run on s (run(), or a direct switch): the ring's waiting
 * entries may need another scheduler, p needs a stack, and the turn's
 * clock is not read yet. */
static void start_turn(arbor__sched_t *s, arbor__proc_t *p)
{
    open_ring(s);
    prepare(s, p);
    s->turn_clock = 0;
}

/* When the running process blocks, the process it woke last (runnext) is
 * what find_runnable() would choose next: switch to it directly, unless
 * this is a turn on which the loop polls timers or the shared queue. A
 * process that exits or yields goes through the loop: finishing an exit
 * must not run on another process's stack, and a yield is where the loop
 * gets to the rest of the queue. */
static arbor__proc_t *direct_successor(arbor__sched_t *s, const arbor__proc_t *p)
{
    if (p->yield != ARBOR__Y_WAIT && p->yield != ARBOR__Y_REACTOR_IDLE)
        return NULL;
    arbor__proc_t *next = s->runnext;
    uint64_t t = s->ticks + 1;
    if (!next || (t & 15) == 0 || t % GLOBAL_CHECK_INTERVAL == 0)
        return NULL;
    s->ticks = t;
    s->runnext = NULL;
    next->reductions = p->reductions; /* it continues the slice */
    start_turn(s, next);
    return next;
}

void arbor__sched_leave(arbor__proc_t *p)
{
    arbor__sched_t *s = tls_sched;
    ARBOR__SYS_POINT(s);
    arbor__proc_t *next = direct_successor(s, p);
    s->slice = p->reductions;
    s->prev = p;
    s->current = next;
    arbor__ctx_t *to = next ? &next->ctx : &s->ctx;
    if (p->yield == ARBOR__Y_EXIT || p->yield == ARBOR__Y_REACTOR_IDLE ||
        p->yield == ARBOR__Y_REACTOR_YIELD)
        arbor__ctx_switch_final(&p->ctx, to);
    arbor__ctx_switch(&p->ctx, to);
    arbor__sched_after_switch(arbor__sched_current());
}

static void run(arbor__sched_t *s, arbor__proc_t *p)
{
    start_turn(s, p);
    s->current = p;
    arbor__ctx_switch(&s->ctx, &p->ctx);
    arbor__sched_after_switch(s);
}

/* ---- threads and life cycle ----------------------------------------------------------------- */

void arbor__sched_loop(arbor__sched_t *s)
{
    tls_sched = s;
#ifdef ARBOR_SYSTEMATIC
    arbor__sys_enter(s);
#endif
    arbor__recycle_enable();
    arbor__ctx_init_thread(&s->ctx);
    arbor__fault_thread_start(s);
    arbor__proc_t *p;
    while ((p = find_runnable(s))) {
        stop_spinning(s);
        s->watching = false;
        s->unwoken = false;
        s->watch_ns = 0; /* it has work: a watch starts again at steal_after */
        run(s, p);
    }
    stop_spinning(s);
    arbor__fault_thread_stop(s);
    arbor__recycle_flush();
#ifdef ARBOR_SYSTEMATIC
    arbor__sys_exit(s);
#endif
    tls_sched = NULL;
}

void *arbor__sched_thread(void *arg)
{
    arbor__sched_loop(arg);
    return NULL;
}

void arbor__sched_process_finished(void)
{
    uint64_t left = atomic_fetch_sub_explicit(&arbor__rt.live, 1, memory_order_acq_rel) - 1;
    if (left == 0 && atomic_load_explicit(&arbor__rt.root_exited, memory_order_acquire)) {
        atomic_store_explicit(&arbor__rt.done, true, memory_order_release);
        wake_all();
    }
}

uint64_t arbor_now_ms(void)
{
    return clock_ns() / 1000000u;
}

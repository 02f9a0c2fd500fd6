/*
 * Schedulers: one OS thread each, M:N over processes.
 *
 * Run queues (after Go): each scheduler owns a 256-entry ring that only it
 * pushes to and that any scheduler may steal half of with a CAS on its head,
 * plus a `runnext` slot for the process it just woke or the reactive one it
 * just spawned (a message reply, or a GenServer's init its parent waits
 * for, runs next on the same core, while the data is still in cache;
 * thieves never take it). A process woken or preempted here is taken by
 * a thief only once it has waited steal_after_us (250 us by default) in
 * the ring: until then it is likely to run here soon, in cache (rq_at).
 * New processes are anybody's at once. A scheduler that parks while
 * processes wait elsewhere sleeps only until the first of them turns cold,
 * then looks again (and, if it can take nothing, parks again without a
 * spin: nor does any scheduler back from a park that nobody woke it
 * from). One that parks with nothing queued anywhere while
 * another scheduler is busy becomes the watcher, if there is none yet:
 * it comes back every steal_after (doubling while it finds nothing, up to
 * 16 times), for what the busy one queued meanwhile: it takes what has
 * turned cold where two or more wait, and does not spin before it parks
 * again; any other sleeps deep, and is woken by a scheduler about to run
 * a process while two or more wait in its ring and the first of them has
 * turned cold (not before: it could take none of them). A shared,
 * locked queue takes overflow and work submitted from outside the
 * schedulers; it is checked every 61 activations so it cannot starve.
 *
 * Slices: a process taken from runnext continues the slice (the
 * reductions) of the one that woke it, as Go's runnext inherits the time
 * slice; otherwise two processes that wake each other in turn would keep
 * runnext to themselves and starve the ring (each blocks long before its
 * own slice is used). When a slice ends, the process in runnext and the
 * one that used the slice go to the back of the ring, in that order, and
 * the processes queued before them run first. A process taken from a
 * queue starts a fresh slice; when that is the shared queue's turn (every
 * 61st) the process in runnext goes to the ring, or it would inherit the
 * fresh slice and a busy pair would never spend theirs.
 *
 * Direct switches: a process that blocks right after waking another (a
 * request, then a receive) switches straight to it, as the loop would have
 * picked it next. The context that gains control after any switch first
 * acts on the yield of the one that left (arbor__sched_after_switch): the
 * departed process is parked only once it is off its stack, whichever
 * stack that work then runs on.
 *
 * Parking (the no-lost-wake-up protocol):
 *   sleeper: sleeping = 1; n_idle++ (seq_cst); re-check every queue;
 *            futex_wait(word == 0) until the next timer deadline or the
 *            moment the first process queued elsewhere turns cold.
 *   waker:   publish work; seq_cst fence; if n_idle > 0, CAS some
 *            scheduler's sleeping 1 -> 0, set its word, futex_wake.
 * Either the waker sees n_idle > 0 or the sleeper's re-check sees the work
 * (both sides have a seq_cst operation between their write and their read).
 * A woken scheduler counts as spinning until it finds work; while one is
 * spinning, wakers do not wake another, and a spinner that finds work wakes
 * the next one (Go's wakep chain), so parallelism ramps up without storms.
 *
 * Systematic testing (a build option, systematic.h): the same threads and
 * paths, but one thread runs at a time, handed the turn by a seeded draw
 * at the scheduling points marked ARBOR__SYS_POINT, parked on the turn
 * instead of a futex, on a logical clock.
 */
#ifndef ARBOR_RUNTIME_SCHED_H
#define ARBOR_RUNTIME_SCHED_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "arbor/runtime.h"
#include "context.h"
#include "proc.h"
#include "reclaim.h"
#include "stack.h"
#include "table.h"
#include "timer.h"

#define ARBOR__RQ_SIZE 256

typedef struct arbor__sched {
    /* ---- written by thieves and wakers ---- */
    _Alignas(64) _Atomic uint32_t rq_head;
    _Atomic int sleeping;
    _Atomic uint32_t futex_word;
    _Atomic int in_poll; /* parked in epoll_wait, not on futex_word: wake with the eventfd */
    /* ---- owner ---- */
    _Alignas(64) _Atomic uint32_t rq_tail; /* read by thieves */
    _Atomic(arbor__proc_t *) rq[ARBOR__RQ_SIZE];
    _Atomic uint64_t rq_at[ARBOR__RQ_SIZE]; /* when each entry was queued; 0: a new process */
    arbor__proc_t *runnext;
    unsigned id;
    pthread_t thread;
    arbor__ctx_t ctx; /* the scheduler loop's own context */
    arbor__proc_t *current;
    arbor__proc_t *prev; /* switched out; its yield not yet acted on */
    uint32_t slice;      /* reductions of the last slice, for runnext */
    arbor__stack_cache_t stacks;
    arbor__slot_cache_t slots;
    arbor__wheel_t wheel;
    uint64_t ticks;
    uint64_t turn_clock; /* clock_ns() read in the current turn, 0: not yet (turn_clock()) */
    uint64_t ref_counter;
    uint32_t rng;
    bool spinning;
    bool watching;     /* back from watching on its timer, nothing run since (sleep_until_work) */
    bool unwoken;      /* back from a park that nobody woke (watching implies it), nothing run
                        * since (sleep_until_work) */
    uint64_t watch_ns; /* the watcher's next wait; 0: steal_after (sleep_until_work) */
    _Atomic uint64_t epoch; /* announced at the quiescent point; read by the others (reclaim.h) */
    arbor__limbo_t limbo;   /* processes retired here, freed when no scheduler can hold them */
    void *altstack;         /* sigaltstack for overflow reports */
} arbor__sched_t;

typedef struct arbor__runtime {
    arbor_config_t cfg;
    unsigned nsched;
    arbor__sched_t *sched;
    /* shared run queue */
    pthread_mutex_t gq_lock;
    arbor__proc_t *gq_head, *gq_tail;
    _Atomic uint32_t gq_len;
    _Atomic uint32_t n_idle;
    _Atomic uint32_t n_deep; /* of n_idle: asleep with nothing to come back for */
    _Atomic int watcher;     /* a sleeper comes back every steal_after while others work */
    _Atomic uint32_t n_spinning;
    uint64_t steal_after_ns;        /* cfg.steal_after_us: see stealable() */
    _Atomic uint64_t live;          /* processes spawned and not yet finished */
    _Atomic uint64_t exits_at_trim; /* processes freed when memory was last given back */
    _Atomic bool root_exited;
    _Atomic bool done;
    arbor_pid_t root;
    arbor_reason_t root_reason;
    /* timers created outside the schedulers, adopted by scheduler 0 */
    pthread_mutex_t foreign_lock;
    /* written under foreign_lock; read without it as a hint */
    _Atomic(struct arbor_timer *) foreign_timers;
} arbor__runtime_t;

extern arbor__runtime_t arbor__rt;
extern _Atomic bool arbor__running;

/* The scheduler of the calling thread, or NULL. Not inlined (see
 * arbor__proc_current). */
arbor__sched_t *arbor__sched_current(void);

/* Makes p (state SCHEDULED) runnable. next: run it before anything else on
 * this scheduler (a process woken by the running one). Any thread. */
void arbor__sched_enqueue(arbor__proc_t *p, bool next);

/* Switches away from the running process p, whose p->yield says why: to
 * the process it just woke when p blocks (as the scheduler loop would pick
 * it next, without the trip through the loop), otherwise to the loop.
 * Returns when p is resumed; never for a yield that ends its context. */
void arbor__sched_leave(arbor__proc_t *p);

/* Acts on the yield of the process that switched out last on s (park it,
 * requeue it, release its stack, finish its exit), now that it is off its
 * stack. Called first by whatever context gains control after a switch. */
void arbor__sched_after_switch(arbor__sched_t *s);

/* Wakes scheduler 0 if it sleeps (for foreign timers). */
void arbor__sched_kick(arbor__sched_t *s);

/* The scheduler loop of s on the calling thread, until the runtime is
 * done; arbor__sched_thread() runs it on a thread of its own. */
void arbor__sched_loop(arbor__sched_t *s);
void *arbor__sched_thread(void *arg);

/* A process finished: the runtime ends when the last one does. */
void arbor__sched_process_finished(void);

/* The root process has exited with reason: every other process is killed,
 * and the runtime stops when the last one is gone. */
void arbor__root_exited(const arbor_reason_t *reason);

#endif

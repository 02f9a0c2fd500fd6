/*
 * Global resource counters behind arbor_stats(). Relaxed atomics: they are
 * read for reports and leak checks, never to synchronise.
 */
#ifndef ARBOR_RUNTIME_STATS_H
#define ARBOR_RUNTIME_STATS_H

#include <stdatomic.h>
#include <stdint.h>

typedef struct arbor__stats {
    _Atomic uint64_t processes_spawned;
    _Atomic uint64_t live_processes;
    _Atomic uint64_t live_timers;
    _Atomic uint64_t live_stacks;
    _Atomic uint64_t stacks_in_use;
    _Atomic uint64_t live_messages;
    _Atomic uint64_t live_blocking_jobs;
    _Atomic uint64_t live_sockets;
    /* Internal, for tests (not in arbor_stats()): sleeping schedulers woken
     * by another (sched.c, wake_sched()); one futex wake or eventfd write
     * each, so the count costs nothing that shows. */
    _Atomic uint64_t sched_wakeups;
    _Atomic uint64_t sched_spins; /* spin_for_work() entered: once before each park at most */
} arbor__stats_t;

extern arbor__stats_t arbor__stats;

#define ARBOR__STAT_ADD(field, n)                                                                  \
    atomic_fetch_add_explicit(&arbor__stats.field, (n), memory_order_relaxed)
#define ARBOR__STAT_SUB(field, n)                                                                  \
    atomic_fetch_sub_explicit(&arbor__stats.field, (n), memory_order_relaxed)

/* Counters on the message hot path are kept in debug builds only: a shared
 * atomic per message would cost more than the rest of a send. */
#ifdef NDEBUG
#define ARBOR__STAT_ADD_DEBUG(field, n) ((void)0)
#define ARBOR__STAT_SUB_DEBUG(field, n) ((void)0)
#else
#define ARBOR__STAT_ADD_DEBUG(field, n) ARBOR__STAT_ADD(field, n)
#define ARBOR__STAT_SUB_DEBUG(field, n) ARBOR__STAT_SUB(field, n)
#endif

#endif

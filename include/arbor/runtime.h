/*
 * Runtime life cycle.
 *
 * arbor_run() starts the scheduler threads and the blocking pool, runs a root
 * process, and returns once every process has exited. When the root process
 * exits, the processes still alive are sent an untrappable kill (processes
 * linked to the root have already received the root's own exit signal, so a
 * supervision tree under the root shuts down in order first). Then the
 * threads are joined and every stack, timer and table is released.
 *
 * One runtime runs at a time per OS process.
 */
#ifndef ARBOR_RUNTIME_H
#define ARBOR_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#include "reason.h"

#ifdef __cplusplus
extern "C" {
#endif

#pragma GCC visibility push(default)

typedef struct arbor_config {
    /* Scheduler threads. 0 = one per online CPU (4 in the systematic-testing
     * build, where they take turns on a seed: docs/architecture.md). */
    unsigned schedulers;
    /* Bytes of address space per process stack, rounded up to whole pages.
     * Only touched pages cost memory. 0 = 256 KiB. */
    size_t stack_size;
    /* Threads that run arbor_blocking() work. 0 = 4. */
    unsigned blocking_threads;
    /* Upper bound on live processes. 0 = 4,194,304. */
    size_t max_processes;
    /* Microseconds a woken or preempted process waits in its scheduler's
     * queue before an idle scheduler may take it (new processes may be
     * taken at once). Below this, running it where its data is cached
     * soon beats moving it to another core. 0 = 250; at most 1,000,000. */
    unsigned steal_after_us;
} arbor_config_t;

/* Entry point of a spawned process. arg is what the spawner passed. */
typedef void (*arbor_entry_fn)(void *arg);

/*
 * Runs the runtime with cfg (NULL for defaults) and a root process that
 * starts in root(arg); blocks the calling OS thread until every process has
 * exited and the runtime is torn down.
 *
 * On success returns 0 and, when root_exit is not NULL, stores the root
 * process's exit reason there. Returns ARBOR_EINVAL for a bad configuration,
 * ARBOR_EBUSY when a runtime is already running, ARBOR_ENOMEM when threads or
 * memory cannot be had; in those cases nothing was started. In the
 * systematic-testing build (ARBOR_SYSTEMATIC) it reads the seed from the
 * environment's ARBOR_SEED (1 when unset) and returns ARBOR_EINVAL, saying
 * so on stderr, when that is not a decimal number.
 * Must not be called from inside a process.
 */
int arbor_run(const arbor_config_t *cfg, arbor_entry_fn root, void *arg, arbor_reason_t *root_exit);

/* Counters that prove a runtime released what it used. Readable at any time
 * (values are then a racy snapshot); after arbor_run() returned, every
 * "live" count is 0 unless something leaked. */
typedef struct arbor_stats {
    uint64_t processes_spawned; /* since the runtime started */
    uint64_t live_processes;    /* processes not yet freed */
    uint64_t live_timers;       /* timers allocated and not yet freed */
    uint64_t live_stacks;       /* stacks mapped (in use or pooled) */
    uint64_t stacks_in_use;     /* stacks held by processes or activations */
    uint64_t live_messages;     /* messages and signals allocated, not freed */
    uint64_t live_blocking_jobs;
    uint64_t live_sockets;         /* sockets (net.h) whose descriptor is still open */
    uint64_t stack_resident_bytes; /* stack pages in RAM (counted with mincore) */
    unsigned schedulers;           /* scheduler threads of the current run */
} arbor_stats_t;

/* Fills *out. stack_resident_bytes walks every stack, so this costs time
 * in proportion to the number of stacks; call it for reports, not in loops. */
void arbor_stats(arbor_stats_t *out);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif
#endif

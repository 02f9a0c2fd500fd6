/*
 * Systematic testing (after the Pony runtime's `use=systematic_testing`):
 * a build (cmake -DARBOR_SYSTEMATIC=ON, `make systematic`) in which the
 * scheduler threads run one at a time, in an order drawn from a seed, so
 * that an interleaving, and the concurrency bug it exposes, comes back
 * from its seed.
 *
 * Every scheduler keeps its thread, its run queue, its stealing and its
 * parking: the real code paths run. But a thread runs only while it holds
 * the one token, and at every scheduling point the holder draws, from a
 * PRNG seeded with ARBOR_SEED (decimal; 1 when unset), which scheduler
 * runs next among those that may: the ones ready to run, and the parked
 * ones that were woken or whose wake-up time has come. The points:
 * the top of each turn of a scheduler's loop, a process leaving its
 * context (a yield, a block, an exit), a steal attempt and each round of
 * spinning before a park, and the park itself.
 *
 * Time is logical: the clock (arbor_now_ms(), the run queues' waiting
 * times) advances 2 us per scheduling point, and when every scheduler is
 * parked it jumps to the earliest wake-up (a timer, a queued process
 * turning cold), so a test that sleeps for seconds takes none and a
 * timeout fires at the same point of every run. Preemption counts
 * reductions, not time, in every build, so slices end at the same points.
 *
 * What is not deterministic: the outside world. Blocking-pool jobs run on
 * real threads and sockets on the real kernel; while one is in flight and
 * every scheduler is parked, the runtime waits for it in real time (the
 * logical clock advancing by the real time waited, up to the next
 * wake-up), and its completion lands at whichever scheduling point comes
 * after it. A run that uses neither reproduces exactly.
 *
 * In every other build the hooks are empty macros: nothing is compiled
 * into the schedulers' paths.
 */
#ifndef ARBOR_RUNTIME_SYSTEMATIC_H
#define ARBOR_RUNTIME_SYSTEMATIC_H

#include <stdbool.h>
#include <stdint.h>

struct arbor__sched;

#ifdef ARBOR_SYSTEMATIC

/* Logical nanoseconds added at each scheduling point. */
#define ARBOR__SYS_QUANTUM_NS 2000u

/* Reads ARBOR_SEED and resets the token (held by scheduler 0, the thread
 * that calls arbor_run()), the clock and the PRNG. ARBOR_EINVAL, with a
 * message on stderr, when ARBOR_SEED is not a decimal number. */
int arbor__sys_init(void);
/* The seed of the run in progress or last run. */
uint64_t arbor__sys_seed(void);
/* A seeded start for scheduler id's own random numbers (steal victims). */
uint32_t arbor__sys_sched_rng(unsigned id);
/* The logical clock, in nanoseconds. Any thread. */
uint64_t arbor__sys_now_ns(void);

/* A scheduler thread's first act: waits until it is given the token. */
void arbor__sys_enter(struct arbor__sched *s);
/* A scheduling point: the holder s draws who runs next, and waits for the
 * token again if that is another scheduler. */
void arbor__sys_point(struct arbor__sched *s);
/* Parks s (it published that it sleeps, as for a futex wait) until it is
 * woken (its futex_word set, arbor__sys_wake()) or timeout_ns of logical
 * time has passed, and drawn again. */
void arbor__sys_sleep(struct arbor__sched *s, uint64_t timeout_ns);
/* s's futex_word was set: it may be drawn. Any thread. */
void arbor__sys_wake(void);
/* s has left its loop for good: the token goes on without it. */
void arbor__sys_exit(struct arbor__sched *s);
/* A blocking-pool job is in flight from begin until its completion has
 * been delivered: while one is, idle schedulers wait for it in real time
 * instead of jumping the clock. Any thread. */
void arbor__sys_external_begin(void);
void arbor__sys_external_end(void);

#define ARBOR__SYS_POINT(s) arbor__sys_point(s)

#else

#define ARBOR__SYS_POINT(s) ((void)0)

#endif

#endif

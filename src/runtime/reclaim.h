/*
 * Deferred freeing of process control blocks (epoch-based reclamation),
 * so that a scheduler thread may reach a process through the table without
 * taking a reference (arbor__table_peek): a message send then costs no
 * atomic read-modify-write on the receiver's table slot, and parking a
 * process none on its own.
 *
 * The rule: a scheduler thread may use a process it reached without a
 * reference until it next passes its quiescent point, the top of its loop
 * (find_runnable), where it holds no such pointer. It announces there the
 * global epoch it has seen. A process whose last reference is dropped
 * (arbor__proc_free) is retired, tagged with the epoch read after it left
 * the table, and freed only once the global epoch is two past that: every
 * scheduler has then passed its quiescent point after the retirement, so
 * none still holds it. The epoch advances when every scheduler that is not
 * asleep has announced the current one; a sleeping scheduler announces
 * OFFLINE, since it holds nothing (Fraser's epochs, with the schedulers'
 * loops as the quiescent states of QSBR).
 *
 * What a retired block may still receive: plain messages from senders
 * that found it just before it left the table. Signals are sent with a
 * reference held, so they are answered at retirement (late links and
 * monitors, arbor__proc_free); the messages are freed with the block.
 *
 * A process that computes for long without a switch holds the epoch back:
 * the blocks that die meanwhile wait, as memory, not as a correctness
 * problem.
 */
#ifndef ARBOR_RUNTIME_RECLAIM_H
#define ARBOR_RUNTIME_RECLAIM_H

#include <stdint.h>

#include "proc.h"

#define ARBOR__EPOCH_OFFLINE UINT64_MAX

/* Retired blocks in three bins by epoch modulo 3 (only three epochs can
 * be unfreeable at once), linked through run_next, unused once dead. */
typedef struct arbor__limbo {
    arbor__proc_t *bin[3];
    uint64_t epoch[3];
    _Atomic uint64_t count;
} arbor__limbo_t;

struct arbor__sched;

/* Frees p once no scheduler can still hold it: after arbor__proc_free()
 * has answered its late signals. Any thread. */
void arbor__reclaim_retire(arbor__proc_t *p);

/* s's quiescent point: it holds no process reached without a reference.
 * Announces the epoch, frees what has become safe to free. */
void arbor__reclaim_quiesce(struct arbor__sched *s);

/* s is about to sleep: announces OFFLINE and hands its retired blocks to
 * the schedulers still awake. */
void arbor__reclaim_offline(struct arbor__sched *s);

/* Frees every retired block; once all scheduler threads have stopped. */
void arbor__reclaim_fini(void);

/* Retired blocks not yet freed, for tests; any thread. */
uint64_t arbor__reclaim_pending(void);

#endif

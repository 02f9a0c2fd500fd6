/*
 * The SLA timer: records each ticket's breach of its resolution due time
 * (sla.h) when it happens, whether or not anyone is looking.
 *
 *   Sla           Supervisor, one_for_one, never gives up (sla_timer.c)
 *   └── SlaTimer  GenServer registered as SLA_TIMER_NAME
 *
 * One timer for the whole desk, not one per ticket: the SlaTimer asks the
 * Store for the running, unbreached clocks in due order (the index
 * tickets_due), has the worker of each ticket already due record its
 * breach (desk__breach: a history entry "SLA breached: resolution due
 * TIME" by the desk, a notification in the outbox and breached_at, in one
 * transaction; then the ticket and sla events), and sleeps until the next
 * due time. A change that sets a due time tells it (sla_timer_notify), and
 * it sleeps less if that one comes sooner; a due time moved later wakes it
 * once for nothing, and it sleeps again until the new earliest. So it
 * wakes only for due times, never on a polling interval.
 *
 * It starts (and restarts) by recording every breach that is due: those
 * that passed while the desk was down are recorded at start, once each
 * (breached_at is stored in the breach's transaction, and a ticket with
 * one is not due again). A Store that does not answer is not a crash: it
 * tries again a second later.
 */
#ifndef SUPPORT_SLA_TIMER_H
#define SUPPORT_SLA_TIMER_H

#include <arbor.h>

#define SLA_NAME       "SupportSystem.Sla"
#define SLA_TIMER_NAME "SupportSystem.SlaTimer"

/* How long the timer waits before asking again when the Store or a
 * ticket's worker did not answer. */
#define SLA_RETRY_MS 1000

/* The Sla supervisor's start function (a child of the desk's tree). */
int sla_timer_start(void *arg, arbor_pid_t *pid, arbor_reason_t *err);

/* Tells the timer that a ticket is now due at due_at (ms since the epoch;
 * 0: nothing). Any process; never blocks; nothing happens if no timer
 * runs (in memory, or restarting: it finds the due time itself then). */
void sla_timer_notify(int64_t due_at);

/* When the timer wakes next (ms since the epoch; 0: no clock is running),
 * and how many breaches it has recorded since it started. */
typedef struct sla_timer_status {
    int64_t next_due;
    uint64_t recorded;
} sla_timer_status_t;

/* Asked of the timer (waits at most 5 s; _within: timeout_ms).
 * ARBOR_ENOPROC when it is not running. */
int sla_timer_status(sla_timer_status_t *out);
int sla_timer_status_within(sla_timer_status_t *out, int64_t timeout_ms);

/* The status in words, as `tree` and `stats` show it: "next due
 * 2026-12-07T16:49:01Z; 1 breach recorded", or "no clock running; 0
 * breaches recorded". */
void sla_timer_note(const sla_timer_status_t *st, char *buf, size_t size);

#endif

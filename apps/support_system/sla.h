/*
 * The resolution SLA: how long a ticket may take to be resolved, by its
 * priority, and the clock that measures it. Pure functions, no processes:
 * the TicketWorker applies them to each change, the SlaTimer
 * (sla_timer.h) records the breaches, the tests check them.
 *
 * The clock, as Zammad's:
 *   - a new ticket is due its priority's time after it was created;
 *   - pending (waiting on the customer) pauses the clock: the time left is
 *     kept (sla_left_ms) and the due time cleared; leaving pending for an
 *     unresolved status (resume, unassign) starts it again with that time
 *     left, so the time spent waiting on the customer does not count;
 *   - resolved and closed stop it (no due time: such a ticket is never
 *     overdue); reopening starts a new clock with the priority's full time
 *     and no breach (the earlier breach stays in the history);
 *   - a priority edit moves the due time (or the paused time left) by the
 *     difference between the two priorities' times, so pauses keep
 *     counting as they did; a breached ticket whose new due time is in the
 *     future is no longer breached (it may breach again, then);
 *   - a ticket is overdue once its breach is recorded, until it is
 *     resolved or closed (a pending ticket stays overdue).
 */
#ifndef SUPPORT_SLA_H
#define SUPPORT_SLA_H

#include <stdbool.h>
#include <stddef.h>

#include "ticket.h"

/* The time to resolution, by priority (ticket_priority_t), in ms. */
typedef struct sla_policy {
    int64_t resolve_ms[4];
} sla_policy_t;

/* The defaults: urgent 4 h, high 8 h, normal 24 h, low 72 h. */
extern const sla_policy_t sla_default_policy;

/* The longest time an SLA may give: a year. */
#define SLA_MAX_MS (366LL * 24 * 3600 * 1000)

/* Reads "PRIORITY=DURATION[,PRIORITY=DURATION]..." into *p (priorities
 * not named keep what *p held): a duration is a whole number and a unit,
 * s, m, h or d (30s, 15m, 4h, 3d), from 1 s to SLA_MAX_MS. False with a
 * sentence in why when it is not, and *p unchanged. */
bool sla_parse(const char *spec, sla_policy_t *p, char *why, size_t size);

/* The policy as the option writes it: "urgent=4h,high=8h,normal=24h,low=72h"
 * (each in the largest unit that divides it). */
void sla_format(const sla_policy_t *p, char *buf, size_t size);

/* Starts the clock of a new ticket t, created at now. */
void sla_start(const sla_policy_t *p, ticket_t *t, int64_t now);

/* Moves the clock of after, the ticket before with a change applied at
 * now: pauses, resumes, stops, restarts or shifts it as the change's
 * status and priority say (above). */
void sla_follow(const sla_policy_t *p, const ticket_t *before, ticket_t *after, int64_t now);

/* Whether t breaches its due time at now: unresolved, the clock running,
 * due_at passed, no breach recorded yet. */
bool sla_due(const ticket_t *t, int64_t now);

/* Whether t is overdue: a breach recorded, and not resolved or closed. */
bool sla_overdue(const ticket_t *t);

#endif

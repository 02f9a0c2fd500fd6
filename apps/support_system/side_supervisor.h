/*
 * A supervisor over one side effect of the desk's (the Notifier over the
 * Dispatcher, Sla over the SlaTimer) that never gives up.
 *
 * Its worker does not crash for the failures it expects (a sink that
 * fails, a Store that does not answer: it retries those itself), so a
 * restart is for a bug; it then restarts with a back-off of 1 s doubling
 * to 30 s (each wait times a random factor of at least 0.5). The waits are
 * then at least 0.5, 1, 2, 4, 8, 15, 15 s: no 60 s window holds more than
 * 7 restarts, so the intensity of 10 in 60 s is never reached and the
 * supervisor never gives up. That is the point: in OTP a supervisor that
 * gives up passes the failure up, and a side effect is no reason to stop
 * the desk's core above it. A worker that keeps crashing shows as
 * restarting in `tree`, its restarts counted, while tickets are served.
 */
#ifndef SUPPORT_SIDE_SUPERVISOR_H
#define SUPPORT_SIDE_SUPERVISOR_H

#include <arbor.h>

#define SIDE_MAX_RESTARTS   10
#define SIDE_MAX_SECONDS    60
#define SIDE_BACKOFF_MS     1000
#define SIDE_BACKOFF_MAX_MS 30000

/* Starts, linked to the caller and registered as name, a one_for_one
 * supervisor of child (made permanent, with the back-off above). As
 * arbor_sup_start. */
int side_supervisor_start(const char *name, arbor_child_spec_t child, arbor_pid_t *pid,
                          arbor_reason_t *err);

#endif

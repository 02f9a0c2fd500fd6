/*
 * Notifier: delivers the outbox to a sink, at least once.
 *
 *   Notifier      Supervisor, one_for_one (its restart intensity: desk.c)
 *   └── Dispatcher  GenServer registered as STORE_OUTBOX_READER
 *
 * A notification is written by the Store in the transaction of the change
 * it announces (store_update's notice), so it exists exactly when the
 * change does. The Dispatcher reads the pending rows, oldest first, hands
 * them to the sink, and marks the ones the sink took as delivered. It
 * starts (and restarts, after its own crash, the Store's, or the whole
 * program's) from whatever is pending, so nothing committed is skipped. A
 * notification is delivered twice only if the Dispatcher dies, or the
 * Store fails, between the sink taking it and the mark being committed;
 * both copies then carry the same notification id.
 *
 * A sink that fails is not a crash: the Dispatcher keeps the rows pending,
 * retries after a back-off (NOTIFIER_BACKOFF_FIRST_MS, doubling, at most
 * NOTIFIER_BACKOFF_MAX_MS), writes nothing meanwhile, raises one report
 * when delivery starts failing and one when it recovers, and shows the
 * failure in notifier_status() (the console's `tree` and `stats`).
 */
#ifndef SUPPORT_NOTIFIER_H
#define SUPPORT_NOTIFIER_H

#include <arbor.h>

#include "store.h"

#define NOTIFIER_NAME   "SupportSystem.Notifier"
#define DISPATCHER_NAME STORE_OUTBOX_READER

/* The back-off of a failing sink: the first retry after this long, each
 * next one after twice as long as the last, never more than the maximum. */
#define NOTIFIER_BACKOFF_FIRST_MS 200
#define NOTIFIER_BACKOFF_MAX_MS   30000

/* Notifications read and handed to the sink at a time. */
#define NOTIFIER_BATCH 256

/* Where notifications go: the log file today, webhooks later. */
typedef struct notifier_sink {
    const char *name; /* for reports, `tree` and `stats`: "log" */
    /* Delivers rows[0..n) in order. Called in the Dispatcher process (it
     * may block it; blocking system calls belong on the blocking pool,
     * and memory held across them should be arbor_alloc()'s, since the
     * Dispatcher may be killed meanwhile).
     * Returns how many of the first rows were delivered: delivered means
     * the notification survives the desk dying now (the log sink has
     * fsynced them). Below n, why (size bytes) says what failed; the rest
     * are offered again after the back-off. */
    size_t (*deliver)(void *ctx, const store_notification_t *rows, size_t n, char *why,
                      size_t size);
    void *ctx;
} notifier_sink_t;

/* The log sink: one line per notification appended to the file at path
 * (ctx; the string must outlive the desk), made of  the change's UTC time,
 * '#' and the notification id, and the text:
 *   2026-12-06T14:29:16.123Z #42 ticket 7 is now assigned
 * A failed write leaves no partial line behind (the file is cut back). A
 * failed fdatasync leaves the lines written but counts none delivered:
 * offered again, they appear twice, with the same ids. */
size_t notifier_log_deliver(void *path, const store_notification_t *rows, size_t n, char *why,
                            size_t size);

/* Checks, at start, that path can be opened for appending (creating it if
 * need be). Returns 0, or -errno with why "cannot use the notification
 * log PATH: REASON". */
int notifier_log_check(const char *path, char *why, size_t size);

/* The Notifier's child start function; arg points at a notifier_sink_t
 * (copied; NULL or a NULL deliver: no sink, and notifications stay
 * pending). */
int notifier_start(void *sink, arbor_pid_t *pid, arbor_reason_t *err);

typedef struct notifier_status {
    char sink[32];            /* the sink's name, "" when there is none */
    bool failing;             /* the last attempt failed; retrying with back-off */
    int64_t failing_since_ms; /* wall clock (ms since the epoch) of the first failure */
    uint64_t attempts;        /* failed attempts since then */
    int64_t next_attempt_ms;  /* ms until the next attempt, while failing */
    char last_error[200];     /* why the last attempt failed */
    uint64_t delivered;       /* notifications delivered since the Dispatcher started */
} notifier_status_t;

/* The Dispatcher's state, asked from a process (waits at most 1 s).
 * ARBOR_ENOPROC when it is not running. */
int notifier_status(notifier_status_t *out);
/* notifier_status waiting at most timeout_ms. */
int notifier_status_within(notifier_status_t *out, int64_t timeout_ms);

/* One line: "log: delivering, 12 delivered" or "log: failing since
 * 2026-12-06T14:29:16Z, 5 attempts, next in 3.2 s: cannot append ...". */
void notifier_status_format(const notifier_status_t *st, char *buf, size_t size);

#endif

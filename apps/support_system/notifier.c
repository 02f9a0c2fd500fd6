/*
 * The Notifier and its Dispatcher (notifier.h says what they promise).
 *
 * The Dispatcher is a GenServer with three states; every event is one of
 * its messages:
 *
 *   state \ event  STORE_TAG_OUTBOX      TAG_RETRY (timer)    timeout 0
 *   IDLE           -> DUE                (not armed)          -
 *   DUE            -> DUE                (not armed)          round
 *   BACKING_OFF    ignored: the retry    round                -
 *                  reads them too
 *
 * A round reads up to NOTIFIER_BATCH pending rows, hands them to the sink
 * and marks what it took; it ends IDLE (nothing more), DUE (a full batch:
 * there may be more) or BACKING_OFF (the sink or the Store failed: a timer
 * is armed for the next attempt). DUE is a GenServer timeout of 0, which
 * fires once the mailbox is empty, so a burst of wake-ups from the Store
 * costs one round. The back-off is a timer message, not a GenServer
 * timeout, because the Store's wake-ups (and `stats`) would keep resetting
 * a timeout. There is no jitter: one Dispatcher, no herd to spread.
 */
#include "notifier.h"

#include "name_wait.h"
#include "side_supervisor.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum { TAG_RETRY = 0x4e525459 /* "NRTY" */, TAG_STATUS = 1 };

typedef enum { IDLE, DUE, BACKING_OFF } dispatcher_state_t;

typedef struct dispatcher {
    notifier_sink_t sink; /* deliver == NULL: no sink */
    dispatcher_state_t state;
    notifier_status_t st;
    uint64_t retry_at; /* arbor_now_ms() of the next attempt, while BACKING_OFF */
} dispatcher_t;

/* ---- the log sink ------------------------------------------------------------------- */

/* "2026-12-06T14:29:16.123Z" for ms since the epoch. */
static void utc_time(int64_t ms, char *buf, size_t size)
{
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    size_t n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, size - n, ".%03dZ", (int)(ms % 1000));
}

typedef struct {
    const char *path;
    const char *text; /* the lines */
    size_t len;
    const size_t *ends; /* ends[i]: the offset just past line i */
    size_t n;
    size_t done; /* out: lines written whole and synced */
    int err;     /* out: errno of the failure */
    const char *what;
} append_t;

/* Blocking pool: appends the lines, then fdatasyncs them. A write that
 * stops short (a full disk) leaves the file cut back to the last whole
 * line, so a retry never follows a torn one. */
static void *append_lines(void *arg)
{
    append_t *a = arg;
    int fd = open(a->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        a->err = errno;
        a->what = "cannot open";
        return NULL;
    }
    off_t before = lseek(fd, 0, SEEK_END);
    size_t written = 0;
    while (written < a->len) {
        ssize_t w = write(fd, a->text + written, a->len - written);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            a->err = w < 0 ? errno : EIO;
            a->what = "cannot append to";
            break;
        }
        written += (size_t)w;
    }
    size_t whole = 0;
    while (whole < a->n && a->ends[whole] <= written)
        whole++;
    if (written < a->len && before >= 0) {
        off_t keep = before + (off_t)(whole ? a->ends[whole - 1] : 0);
        if (ftruncate(fd, keep) != 0) {
            /* A file that cannot be cut (a device such as /dev/full) has
             * no torn line to fear either. */
        }
    }
    /* EINVAL: a file that cannot be synced (a pipe, a device): what was
     * written is as delivered as it can be. */
    if (whole && fdatasync(fd) != 0 && errno != EINVAL) {
        if (!a->err) {
            a->err = errno;
            a->what = "cannot sync";
        }
        whole = 0;
    }
    close(fd);
    a->done = whole;
    return NULL;
}

size_t notifier_log_deliver(void *path, const store_notification_t *rows, size_t n, char *why,
                            size_t size)
{
    enum { LINE_MAX_BYTES = 40 + 24 + STORE_NOTICE_SIZE };
    /* Process memory: freed if the caller is killed while the lines are
     * written (its exit waits for the write to return). */
    char *text = arbor_alloc(n * LINE_MAX_BYTES);
    size_t *ends = arbor_alloc(n * sizeof *ends);
    if (!text || !ends) {
        arbor_free(text);
        arbor_free(ends);
        snprintf(why, size, "out of memory");
        return 0;
    }
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        char when[40];
        utc_time(rows[i].at, when, sizeof when);
        int k = snprintf(text + len, LINE_MAX_BYTES, "%s #%lld %s\n", when, (long long)rows[i].id,
                         rows[i].text);
        len += (size_t)k < LINE_MAX_BYTES ? (size_t)k : LINE_MAX_BYTES - 1;
        ends[i] = len;
    }
    append_t a = {.path = path, .text = text, .len = len, .ends = ends, .n = n};
    arbor_blocking(append_lines, &a, NULL);
    if (a.err)
        snprintf(why, size, "%s %s: %s", a.what, (const char *)path, strerror(a.err));
    arbor_free(text);
    arbor_free(ends);
    return a.done;
}

int notifier_log_check(const char *path, char *why, size_t size)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        int e = errno;
        snprintf(why, size, "cannot use the notification log %s: %s", path, strerror(e));
        return -e;
    }
    close(fd);
    return 0;
}

/* ---- the Dispatcher ------------------------------------------------------------------ */

static void report(const char *what, const char *detail)
{
    arbor_report(&(arbor_report_t){.kind = ARBOR_REPORT_WARNING,
                                   .pid = arbor_self(),
                                   .behaviour = "notifier",
                                   .what = what,
                                   .reason = ARBOR_NORMAL,
                                   .detail = detail});
}

/* The back-off before attempt number attempts + 1. */
static uint64_t backoff_ms(uint64_t attempts)
{
    uint64_t ms = NOTIFIER_BACKOFF_FIRST_MS;
    for (uint64_t i = 1; i < attempts && ms < NOTIFIER_BACKOFF_MAX_MS; i++)
        ms *= 2;
    return ms < NOTIFIER_BACKOFF_MAX_MS ? ms : NOTIFIER_BACKOFF_MAX_MS;
}

/* An attempt failed: keep the rows, arm the retry, report the change of
 * state (only the first failure of a run of them). */
static void failed(dispatcher_t *d, const char *why)
{
    snprintf(d->st.last_error, sizeof d->st.last_error, "%s", why);
    if (!d->st.failing) {
        d->st.failing = true;
        d->st.failing_since_ms = ticket_now_ms();
        d->st.attempts = 0;
        char detail[300];
        snprintf(detail, sizeof detail,
                 "%s: delivery failing, retrying with back-off (%d ms doubling to %d ms): %s",
                 d->sink.name, NOTIFIER_BACKOFF_FIRST_MS, NOTIFIER_BACKOFF_MAX_MS, why);
        report("sink_failing", detail);
    }
    d->st.attempts++;
    uint64_t delay = backoff_ms(d->st.attempts);
    d->retry_at = arbor_now_ms() + delay;
    d->state = BACKING_OFF;
    arbor_send_after(arbor_self(), TAG_RETRY, NULL, 0, delay, NULL);
}

static void recovered(dispatcher_t *d)
{
    if (!d->st.failing)
        return;
    char detail[128];
    snprintf(detail, sizeof detail, "%s: delivering again after %llu failed attempts", d->sink.name,
             (unsigned long long)d->st.attempts);
    report("sink_recovered", detail);
    d->st.failing = false;
    d->st.failing_since_ms = 0;
    d->st.attempts = 0;
}

/* Reads the pending rows, delivers them, marks what was delivered. */
static void deliver_pending(dispatcher_t *d)
{
    d->state = IDLE;
    store_notification_t *read, *rows;
    size_t n;
    char why[200];
    ticket_error_t err = {.code = ""};
    store_stats_t store;
    if (store_stats(&store) == 0 && store.damaged) {
        /* Rows delivered now could never be marked: each retry would
         * deliver them again. They wait for a recovered file. */
        failed(d, "the database is damaged: notifications wait until it is recovered");
        return;
    }
    int rc = store_outbox_pending(NOTIFIER_BATCH, &read, &n, &err);
    if (rc) {
        snprintf(why, sizeof why, "cannot read the outbox: %.160s",
                 err.message[0] ? err.message : arbor_strerror(rc));
        failed(d, why);
        return;
    }
    /* Into process memory before anything can wait: a Dispatcher killed
     * while the sink or the Store works leaks nothing. */
    rows = arbor_alloc(n ? n * sizeof *rows : 1);
    if (rows)
        memcpy(rows, read, n * sizeof *rows);
    free(read);
    if (!rows) {
        failed(d, "out of memory");
        return;
    }
    why[0] = '\0';
    size_t done = n ? d->sink.deliver(d->sink.ctx, rows, n, why, sizeof why) : 0;
    /* Delivered but not marked (the Store failed): offered again, so
     * delivered twice, with the same ids. */
    rc = done ? store_outbox_mark(rows[0].id, rows[done - 1].id) : 0;
    arbor_free(rows);
    d->st.delivered += done;
    if (rc) {
        snprintf(why, sizeof why, "cannot mark notifications delivered: %s", arbor_strerror(rc));
        failed(d, why);
    } else if (done < n) {
        failed(d, why[0] ? why : "the sink took nothing");
    } else {
        recovered(d);
        if (n == NOTIFIER_BATCH)
            d->state = DUE; /* there may be more */
    }
}

static arbor_gs_ret_t next(const dispatcher_t *d, arbor_gs_ret_t r)
{
    return d->state == DUE ? arbor_gs_timeout(r, 0) : r;
}

static arbor_gs_ret_t dispatcher_init(void **state, void *arg)
{
    dispatcher_t *d = arbor_calloc(1, sizeof *d);
    if (!d)
        return arbor_gs_halt(arbor_error("out of memory"));
    if (arg)
        d->sink = *(const notifier_sink_t *)arg;
    if (d->sink.deliver)
        snprintf(d->st.sink, sizeof d->st.sink, "%s", d->sink.name ? d->sink.name : "sink");
    *state = d;
    /* Resume: whatever is pending (left by a crash, a restart, or a
     * SIGKILL of the whole program) goes first, before any wake-up. */
    return d->sink.deliver ? arbor_gs_continue(arbor_gs_ok(), 0) : arbor_gs_ok();
}

static arbor_gs_ret_t dispatcher_continue(void **state, uint64_t arg)
{
    dispatcher_t *d = *state;
    deliver_pending(d);
    return next(d, arbor_gs_noreply());
}

static arbor_gs_ret_t dispatcher_info(void **state, const arbor_msg_t *msg)
{
    dispatcher_t *d = *state;
    if (!d->sink.deliver)
        return arbor_gs_noreply(); /* no sink: the rows wait for a desk that has one */
    if (msg->tag == STORE_TAG_OUTBOX && d->state == IDLE)
        d->state = DUE;
    else if (msg->tag == TAG_RETRY && d->state == BACKING_OFF)
        deliver_pending(d);
    else if (msg->tag == ARBOR_TAG_GS_TIMEOUT && d->state == DUE)
        deliver_pending(d);
    return next(d, arbor_gs_noreply());
}

static void fill_status(const dispatcher_t *d, notifier_status_t *out)
{
    *out = d->st;
    uint64_t now = arbor_now_ms();
    out->next_attempt_ms =
        d->state == BACKING_OFF && d->retry_at > now ? (int64_t)(d->retry_at - now) : 0;
}

static arbor_gs_ret_t dispatcher_call(void **state, const arbor_msg_t *req, arbor_from_t from)
{
    dispatcher_t *d = *state;
    notifier_status_t st;
    fill_status(d, &st);
    return next(d, arbor_gs_reply(&st, sizeof st));
}

static void dispatcher_format(void *state, char *buf, size_t size)
{
    const dispatcher_t *d = state;
    if (!d)
        return;
    notifier_status_t st;
    fill_status(d, &st);
    notifier_status_format(&st, buf, size);
}

static const arbor_gen_server_t dispatcher_gs = {.label = "SupportSystem.Dispatcher",
                                                 .init = dispatcher_init,
                                                 .handle_continue = dispatcher_continue,
                                                 .handle_info = dispatcher_info,
                                                 .handle_call = dispatcher_call,
                                                 .format_status = dispatcher_format};

static int dispatcher_start(void *sink, arbor_pid_t *pid, arbor_reason_t *err)
{
    /* Trapping exits, a clean stop waits for the round in progress: no
     * notification is left delivered but not marked by a quit. (A sink
     * stuck for longer than the shutdown time, 5 s, is killed.) */
    arbor_gs_opts_t o = {.link = true, .name = DISPATCHER_NAME, .trap_exit = true};
    /* A Dispatcher whose Notifier was killed finishes its round before it
     * stops, and may hold the name when the new Notifier starts this one
     * (name_wait.h): wait for it, as long as a clean stop may take (the
     * shutdown time, 5 s, and a second). */
    name_wait_free(DISPATCHER_NAME, 6000);
    return arbor_gs_start(&dispatcher_gs, sink, &o, pid, err);
}

/* Delivery failures never crash the Dispatcher (they are its BACKING_OFF
 * state): a notification is no reason to stop the desk (side_supervisor.h). */
int notifier_start(void *sink, arbor_pid_t *pid, arbor_reason_t *err)
{
    arbor_child_spec_t child = {.id = "Dispatcher",
                                .start = dispatcher_start,
                                .arg = sink,
                                .arg_size = sink ? sizeof(notifier_sink_t) : 0};
    return side_supervisor_start(NOTIFIER_NAME, child, pid, err);
}

/* ---- asking ------------------------------------------------------------------------ */

int notifier_status(notifier_status_t *out)
{
    return notifier_status_within(out, 1000);
}

int notifier_status_within(notifier_status_t *out, int64_t timeout_ms)
{
    arbor_pid_t d = arbor_whereis(DISPATCHER_NAME);
    if (!d)
        return ARBOR_ENOPROC;
    arbor_msg_t *m;
    int rc = arbor_gs_call(d, TAG_STATUS, NULL, 0, timeout_ms, &m, NULL);
    if (rc)
        return rc;
    *out = *(const notifier_status_t *)m->data;
    arbor_msg_free(m);
    return 0;
}

void notifier_status_format(const notifier_status_t *st, char *buf, size_t size)
{
    if (!st->sink[0]) {
        snprintf(buf, size, "no sink: notifications stay pending");
        return;
    }
    if (!st->failing) {
        snprintf(buf, size, "%s: delivering, %llu delivered", st->sink,
                 (unsigned long long)st->delivered);
        return;
    }
    char since[40];
    utc_time(st->failing_since_ms, since, sizeof since);
    snprintf(buf, size, "%s: failing since %s, %llu attempt%s, next in %.1f s: %s", st->sink, since,
             (unsigned long long)st->attempts, st->attempts == 1 ? "" : "s",
             (double)st->next_attempt_ms / 1000.0, st->last_error);
}

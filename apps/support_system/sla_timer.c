/*
 * The SLA timer (sla_timer.h).
 */
#include "sla_timer.h"

#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "desk_internal.h"
#include "side_supervisor.h"

#define TAG_DUE    0x534c4144ULL /* "SLAD": an int64 due time */
#define TAG_STATUS 0x534c4153ULL /* "SLAS": sla_timer_status() */

/* The clocks read at a time. */
#define DUE_BATCH 64

typedef struct {
    int n;
    int64_t id[DUE_BATCH], due[DUE_BATCH];
} due_rows_t;

/* In the Store (store_run): the running, unbreached clocks, soonest
 * first, through the index tickets_due. */
static int read_due(sqlite3 *db, const void *in, void *out)
{
    due_rows_t *rows = out;
    sqlite3_stmt *st;
    rows->n = 0;
    if (sqlite3_prepare_v2(db,
                           "SELECT id, due_at FROM tickets WHERE due_at IS NOT NULL"
                           " AND breached_at IS NULL ORDER BY due_at LIMIT ?1",
                           -1, &st, NULL) != SQLITE_OK)
        return ARBOR_EEXIT;
    sqlite3_bind_int(st, 1, DUE_BATCH);
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW && rows->n < DUE_BATCH) {
        rows->id[rows->n] = sqlite3_column_int64(st, 0);
        rows->due[rows->n++] = sqlite3_column_int64(st, 1);
    }
    sqlite3_finalize(st);
    return step == SQLITE_DONE || step == SQLITE_ROW ? 0 : ARBOR_EEXIT;
}

typedef struct {
    int64_t next_due; /* when it wakes: 0 none */
    uint64_t recorded;
} timer_state_t;

/* Records every breach due now; sets next_due to the soonest clock still
 * running, or to a retry when something did not answer. */
static void scan(timer_state_t *t)
{
    for (;;) {
        due_rows_t rows;
        int64_t now = ticket_now_ms();
        if (store_run(read_due, NULL, 0, &rows, sizeof rows) != 0) {
            t->next_due = now + SLA_RETRY_MS;
            return;
        }
        bool failed = false;
        int i = 0;
        for (; i < rows.n && rows.due[i] <= now; i++) {
            bool recorded = false;
            /* Not recorded while the Store says it is due: the worker
             * could not (its Store call failed); ask again later. */
            if (desk__breach(rows.id[i], &recorded) != 0 || !recorded)
                failed = true;
            t->recorded += recorded;
        }
        if (failed) {
            t->next_due = now + SLA_RETRY_MS;
            return;
        }
        if (i < rows.n) {
            t->next_due = rows.due[i];
            return;
        }
        if (rows.n < DUE_BATCH) {
            t->next_due = 0; /* no clock runs */
            return;
        }
        /* A whole batch was due: read on. */
    }
}

/* Sleeps until next_due (a message meanwhile comes first, and the
 * remaining time is computed again). */
static arbor_gs_ret_t sleep_until(const timer_state_t *t, arbor_gs_ret_t r)
{
    if (!t->next_due)
        return r;
    int64_t wait = t->next_due - ticket_now_ms();
    return arbor_gs_timeout(r, wait > 0 ? wait : 0);
}

static arbor_gs_ret_t timer_init(void **state, void *arg)
{
    (void)arg;
    timer_state_t *t = arbor_calloc(1, sizeof *t);
    if (!t)
        return arbor_gs_halt(arbor_error("out of memory"));
    *state = t;
    /* The first scan after init: its supervisor is not held meanwhile. */
    return arbor_gs_continue(arbor_gs_ok(), 0);
}

static arbor_gs_ret_t timer_continue(void **state, uint64_t arg)
{
    (void)arg;
    timer_state_t *t = *state;
    scan(t);
    return sleep_until(t, arbor_gs_noreply());
}

static arbor_gs_ret_t timer_info(void **state, const arbor_msg_t *msg)
{
    timer_state_t *t = *state;
    if (msg->tag == ARBOR_TAG_GS_TIMEOUT) {
        scan(t);
    } else if (msg->tag == TAG_DUE && msg->size == sizeof(int64_t)) {
        int64_t due;
        memcpy(&due, msg->data, sizeof due);
        if (due && (!t->next_due || due < t->next_due))
            t->next_due = due;
    }
    return sleep_until(t, arbor_gs_noreply());
}

static arbor_gs_ret_t timer_call(void **state, const arbor_msg_t *req, arbor_from_t from)
{
    (void)from;
    timer_state_t *t = *state;
    sla_timer_status_t st = {.next_due = t->next_due, .recorded = t->recorded};
    if (req->tag != TAG_STATUS)
        return sleep_until(t, arbor_gs_reply(NULL, 0));
    return sleep_until(t, arbor_gs_reply(&st, sizeof st));
}

void sla_timer_note(const sla_timer_status_t *st, char *buf, size_t size)
{
    char when[TICKET_TIME_SIZE];
    if (st->next_due)
        ticket_format_time(st->next_due, when);
    snprintf(buf, size, "%s%s; %llu breach%s recorded",
             st->next_due ? "next due " : "no clock running", st->next_due ? when : "",
             (unsigned long long)st->recorded, st->recorded == 1 ? "" : "es");
}

static void timer_format(void *state, char *buf, size_t size)
{
    const timer_state_t *t = state;
    if (t)
        sla_timer_note(&(sla_timer_status_t){.next_due = t->next_due, .recorded = t->recorded}, buf,
                       size);
}

static const arbor_gen_server_t timer_gs = {.label = "SupportSystem.SlaTimer",
                                            .init = timer_init,
                                            .handle_continue = timer_continue,
                                            .handle_call = timer_call,
                                            .handle_info = timer_info,
                                            .format_status = timer_format};

static int timer_start(void *arg, arbor_pid_t *pid, arbor_reason_t *err)
{
    arbor_gs_opts_t o = {.link = true, .name = SLA_TIMER_NAME};
    return arbor_gs_start(&timer_gs, arg, &o, pid, err);
}

/* A missed breach is no reason to stop the desk (side_supervisor.h). */
int sla_timer_start(void *arg, arbor_pid_t *pid, arbor_reason_t *err)
{
    (void)arg;
    return side_supervisor_start(
        SLA_NAME, (arbor_child_spec_t){.id = "SlaTimer", .start = timer_start}, pid, err);
}

void sla_timer_notify(int64_t due_at)
{
    arbor_pid_t t = due_at ? arbor_whereis(SLA_TIMER_NAME) : ARBOR_NOPID;
    if (t)
        arbor_send(t, TAG_DUE, &due_at, sizeof due_at);
}

int sla_timer_status(sla_timer_status_t *out)
{
    return sla_timer_status_within(out, 5000);
}

int sla_timer_status_within(sla_timer_status_t *out, int64_t timeout_ms)
{
    arbor_pid_t t = arbor_whereis(SLA_TIMER_NAME);
    if (!t)
        return ARBOR_ENOPROC;
    arbor_msg_t *m;
    int rc = arbor_gs_call(t, TAG_STATUS, NULL, 0, timeout_ms, &m, NULL);
    if (rc)
        return rc;
    if (m->size == sizeof *out)
        memcpy(out, m->data, sizeof *out);
    else
        rc = ARBOR_EINVAL;
    arbor_msg_free(m);
    return rc;
}

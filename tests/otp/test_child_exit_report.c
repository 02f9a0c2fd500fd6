/*
 * Which exits of a child a supervisor reports as child_terminated (an error
 * report), under Supervisor and DynamicSupervisor alike (policy.c;
 * docs/semantics.md 3.2). OTP's supervisor.erl do_restart, and Elixir's
 * DynamicSupervisor, report every exit of a permanent child, normal and
 * shutdown included, then restart it; a transient or temporary child is
 * reported only when it ended abnormally (killed or a crash). Checked on
 * the BEAM: a permanent child ending normal logs "Context: child_terminated.
 * Reason: normal." before it is started again.
 *
 * Each case starts a fresh supervisor with one ctl child (sup_fixture.h),
 * makes it end, and asks the supervisor for its counts: the reply comes
 * after the supervisor handled the EXIT, so any report it made is already
 * in the root's mailbox.
 */
#include <stdio.h>
#include <string.h>

#include "sup_fixture.h"

enum { EV_REPORT = 300 };

typedef struct report_note {
    char what[40];
    arbor_reason_t reason;
} report_note_t;

static arbor_pid_t report_sink;

static void forward_report(const arbor_report_t *r, void *ctx)
{
    (void)ctx;
    if (r->kind != ARBOR_REPORT_SUPERVISOR || strcmp(r->what, "child_terminated") != 0)
        return;
    report_note_t n = {.reason = r->reason};
    snprintf(n.what, sizeof n.what, "%s", r->what);
    arbor_send(report_sink, EV_REPORT, &n, sizeof n);
}

static bool is_report(const arbor_msg_t *m, void *arg)
{
    (void)arg;
    return m->tag == EV_REPORT;
}

/* The child_terminated reports queued so far: how many; each must carry
 * reason. */
static int drain_reports(arbor_reason_t reason)
{
    int n = 0;
    arbor_msg_t *m;
    while (arbor_receive_match(is_report, NULL, 0, &m) == 0) {
        n++;
        ASSERT_TRUE(arbor_reason_equal(&((report_note_t *)m->data)->reason, &reason));
        arbor_msg_free(m);
    }
    return n;
}

/* The ways a child ends in these cases: normal, shutdown, {shutdown, _},
 * killed and a crash. */
enum { N_ENDS = 5 };

static arbor_reason_t end_number(size_t i)
{
    switch (i) {
    case 0:
        return ARBOR_NORMAL;
    case 1:
        return ARBOR_SHUTDOWN;
    case 2:
        return arbor_reason(ARBOR_EXIT_SHUTDOWN, "some_info");
    case 3:
        return ARBOR_KILLED;
    default:
        return arbor_reason(ARBOR_EXIT_ERROR, "died");
    }
}

static const arbor_restart_t restarts[] = {ARBOR_PERMANENT, ARBOR_TRANSIENT, ARBOR_TEMPORARY};

/* Makes pid end with reason (killed: by a kill) and returns once its
 * supervisor has the EXIT queued. */
static void end_child(arbor_pid_t pid, arbor_reason_t reason)
{
    if (reason.kind == ARBOR_EXIT_KILLED)
        kill_child(pid);
    else
        stop_and_wait(pid, reason);
}

/* How many child_terminated reports one child of restart ending with
 * reason gives; dynamic: under a DynamicSupervisor. */
static int reports_for(arbor_restart_t restart, arbor_reason_t reason, bool dynamic)
{
    ctl_arg_t a = ctl("child1");
    arbor_child_spec_t spec = ctl_spec(&a, restart);
    arbor_pid_t sup, pid;
    arbor_child_counts_t counts;
    if (dynamic) {
        ASSERT_OK(arbor_dynsup_start(NULL, &sup, NULL));
        ASSERT_OK(arbor_dynsup_start_child(sup, &spec, &pid, NULL));
    } else {
        ASSERT_OK(arbor_sup_start(&flags_1_for_1, &spec, 1, NULL, &sup, NULL));
    }
    event_t started = ev_expect(EV_STARTED, "child1");
    if (dynamic)
        ASSERT_U64_EQ(started.pid, pid);
    pid = started.pid;
    end_child(pid, reason);
    if (dynamic)
        ASSERT_OK(arbor_dynsup_count_children(sup, &counts));
    else
        ASSERT_OK(arbor_sup_count_children(sup, &counts));
    int n = drain_reports(reason);
    if (dynamic)
        ASSERT_OK(arbor_dynsup_stop(sup, ARBOR_NORMAL));
    else
        ASSERT_OK(arbor_sup_stop(sup, ARBOR_NORMAL));
    /* The events of the child's ends and restarts: not what this test is about. */
    arbor_msg_t *m;
    while (arbor_receive_match(is_event, NULL, 0, &m) == 0)
        arbor_msg_free(m);
    return n;
}

static void every_case(void *arg)
{
    bool dynamic = arg != NULL;
    report_sink = arbor_self();
    arbor_report_set_handler(forward_report, NULL);
    for (size_t r = 0; r < sizeof restarts / sizeof restarts[0]; r++) {
        for (size_t e = 0; e < N_ENDS; e++) {
            arbor_reason_t end = end_number(e);
            bool abnormal = !arbor_reason_is_clean(&end);
            int want = restarts[r] == ARBOR_PERMANENT || abnormal ? 1 : 0;
            int got = reports_for(restarts[r], end, dynamic);
            if (got != want)
                arbor_test_fail(__FILE__, __LINE__, "restart %d, end %d: %d reports, want %d",
                                (int)restarts[r], (int)end.kind, got, want);
        }
    }
    arbor_report_set_handler(NULL, NULL);
}

TEST(supervisor_reports_every_exit_of_a_permanent_child_and_abnormal_ones_of_others)
{
    ASSERT_REASON(arbor_test_run(every_case, NULL), ARBOR_EXIT_NORMAL, "");
}

TEST(dynamic_supervisor_reports_every_exit_of_a_permanent_child_and_abnormal_ones_of_others)
{
    ASSERT_REASON(arbor_test_run(every_case, (void *)1), ARBOR_EXIT_NORMAL, "");
}

/*
 * The one rule for the end of a child its supervisor stops (policy.c),
 * the same under Supervisor and DynamicSupervisor, as OTP's supervisor.erl
 * applies one rule (shutdown/1, wait_dynamic_children/5) to static and
 * dynamic children alike: a brutal_kill child should end killed, but one
 * that was already ending shutdown when the kill came is reported as a
 * shutdown_error only when it is permanent. And the one case where
 * Elixir's DynamicSupervisor differs from OTP's supervisor: a permanent
 * child told to shut down that ends {shutdown, _}.
 *
 * To have a child end shutdown before its supervisor stops it, the test
 * suspends the supervisor (arbor_gs_suspend()), stops the child itself and
 * waits for its DOWN, then stops the supervisor: a suspended server takes
 * arbor_gs_stop() and leaves the child's EXIT in its mailbox, so the
 * shutdown finds the child gone and reads its end from that EXIT (OTP's
 * unlink_flush).
 */
#include <stdio.h>
#include <stdlib.h>

#include "sup_fixture.h"
#include "test.h"

enum { EV_REPORT = 300 };

/* Supervisor reports, forwarded to the test's root. */
typedef struct report_note {
    char what[40];
    arbor_reason_t reason;
} report_note_t;

static arbor_pid_t report_sink;

static void forward_report(const arbor_report_t *r, void *ctx)
{
    (void)ctx;
    if (r->kind != ARBOR_REPORT_SUPERVISOR)
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

/* Takes the reports queued so far: how many, the first one in *first. */
static int drain_reports(report_note_t *first)
{
    int n = 0;
    arbor_msg_t *m;
    while (arbor_receive_match(is_report, NULL, 0, &m) == 0) {
        if (n++ == 0)
            *first = *(report_note_t *)m->data;
        arbor_msg_free(m);
    }
    return n;
}

static arbor_child_spec_t brutal_child(arbor_restart_t restart)
{
    return (arbor_child_spec_t){
        .id = "kid", .start = sleeper_start, .restart = restart, .shutdown = ARBOR_BRUTAL_KILL};
}

/* Stops kid with shutdown while sup is suspended, waits until it is gone,
 * then stops sup: the shutdown finds kid ended shutdown. */
static void end_shutdown_then_stop(arbor_pid_t sup, arbor_pid_t kid)
{
    ASSERT_OK(arbor_gs_suspend(sup, arbor_test_scaled_ms(5000)));
    arbor_ref_t ref;
    ASSERT_OK(arbor_monitor(kid, &ref));
    ASSERT_OK(arbor_exit_pid(kid, ARBOR_SHUTDOWN));
    arbor_msg_t *m = arbor_test_recv_tag(ARBOR_TAG_DOWN, 5000);
    ASSERT_REASON(((arbor_down_msg_t *)m->data)->reason, ARBOR_EXIT_SHUTDOWN, "");
    arbor_msg_free(m);
    ASSERT_OK(arbor_gs_stop(sup, ARBOR_SHUTDOWN, arbor_test_scaled_ms(5000), NULL));
}

/* How many reports stopping a supervisor with one brutal_kill child of
 * restart that ended shutdown gave; dynamic: a DynamicSupervisor. */
static int reports_for(arbor_restart_t restart, bool dynamic, report_note_t *first)
{
    report_sink = arbor_self();
    arbor_report_set_handler(forward_report, NULL);
    arbor_child_spec_t spec = brutal_child(restart);
    arbor_pid_t sup, kid;
    arbor_reason_t err;
    if (dynamic) {
        ASSERT_OK(arbor_dynsup_start(NULL, &sup, &err));
        ASSERT_OK(arbor_dynsup_start_child(sup, &spec, &kid, &err));
    } else {
        arbor_sup_flags_t flags = {
            .strategy = ARBOR_ONE_FOR_ONE, .max_restarts = 3, .max_seconds = 5};
        ASSERT_OK(arbor_sup_start(&flags, &spec, 1, NULL, &sup, &err));
        arbor_child_info_t *kids;
        size_t n;
        ASSERT_OK(arbor_sup_which_children(sup, &kids, &n));
        ASSERT_EQ(n, 1);
        kid = kids[0].pid;
        free(kids);
    }
    end_shutdown_then_stop(sup, kid);
    int n = drain_reports(first); /* sent before the supervisor ended */
    arbor_report_set_handler(NULL, NULL);
    return n;
}

static void permanent_root(void *arg)
{
    bool dynamic = arg != NULL;
    report_note_t r;
    ASSERT_EQ(reports_for(ARBOR_PERMANENT, dynamic, &r), 1);
    ASSERT_STREQ(r.what, "shutdown_error");
    ASSERT_REASON(r.reason, ARBOR_EXIT_SHUTDOWN, "");
}

static void transient_root(void *arg)
{
    bool dynamic = arg != NULL;
    report_note_t r;
    ASSERT_EQ(reports_for(ARBOR_TRANSIENT, dynamic, &r), 0);
}

TEST(supervisor_brutal_kill_permanent_child_ending_shutdown_is_a_shutdown_error)
{
    ASSERT_REASON(arbor_test_run(permanent_root, NULL), ARBOR_EXIT_NORMAL, "");
}

TEST(supervisor_brutal_kill_transient_child_ending_shutdown_is_no_error)
{
    ASSERT_REASON(arbor_test_run(transient_root, NULL), ARBOR_EXIT_NORMAL, "");
}

TEST(dynamic_supervisor_brutal_kill_permanent_child_ending_shutdown_is_a_shutdown_error)
{
    ASSERT_REASON(arbor_test_run(permanent_root, (void *)1), ARBOR_EXIT_NORMAL, "");
}

TEST(dynamic_supervisor_brutal_kill_transient_child_ending_shutdown_is_no_error)
{
    ASSERT_REASON(arbor_test_run(transient_root, (void *)1), ARBOR_EXIT_NORMAL, "");
}

/* ---- a permanent child told to shut down that ends {shutdown, _} ---------------------- */

/* Told to shut down by its parent (the pid at arg), ends {shutdown, oops}.
 * It traps exits from its first instant (shutdown_info_start()), so a
 * shutdown that comes before it runs is trapped too. */
static void shutdown_info_main(void *arg)
{
    arbor_pid_t parent = *(arbor_pid_t *)arg;
    for (;;) {
        arbor_msg_t *m;
        if (arbor_receive(ARBOR_INFINITY, &m) != 0)
            continue;
        bool told = m->tag == ARBOR_TAG_EXIT && m->from == parent;
        arbor_msg_free(m);
        if (told)
            arbor_exit(arbor_reason(ARBOR_EXIT_SHUTDOWN, "oops"));
    }
}

static int shutdown_info_start(void *arg, arbor_pid_t *pid, arbor_reason_t *err)
{
    (void)arg;
    (void)err;
    arbor_pid_t sup = arbor_self();
    arbor_spawn_opts_t o = {.link = true, .trap_exit = true, .arg_size = sizeof sup};
    return arbor_spawn_opt(shutdown_info_main, &sup, &o, pid, NULL);
}

/* The reports of stopping a supervisor whose one permanent child, told to
 * shut down (shutdown 5000), ends {shutdown, oops}; dynamic: a
 * DynamicSupervisor. */
static int shutdown_info_reports(bool dynamic, report_note_t *first)
{
    report_sink = arbor_self();
    arbor_report_set_handler(forward_report, NULL);
    arbor_child_spec_t spec = {.id = "kid", .start = shutdown_info_start, .shutdown = 5000};
    arbor_pid_t sup, kid;
    if (dynamic) {
        ASSERT_OK(arbor_dynsup_start(NULL, &sup, NULL));
        ASSERT_OK(arbor_dynsup_start_child(sup, &spec, &kid, NULL));
        ASSERT_OK(arbor_dynsup_stop(sup, ARBOR_SHUTDOWN));
    } else {
        arbor_sup_flags_t flags = {
            .strategy = ARBOR_ONE_FOR_ONE, .max_restarts = 3, .max_seconds = 5};
        ASSERT_OK(arbor_sup_start(&flags, &spec, 1, NULL, &sup, NULL));
        ASSERT_OK(arbor_sup_stop(sup, ARBOR_SHUTDOWN));
    }
    int n = drain_reports(first);
    arbor_report_set_handler(NULL, NULL);
    return n;
}

/* OTP's supervisor (shutdown/1) expects shutdown from a permanent child
 * told to shut down and reports {shutdown, _} as a shutdown_error. */
static void supervisor_shutdown_info_root(void *arg)
{
    (void)arg;
    report_note_t r;
    ASSERT_EQ(shutdown_info_reports(false, &r), 1);
    ASSERT_STREQ(r.what, "shutdown_error");
    ASSERT_REASON(r.reason, ARBOR_EXIT_SHUTDOWN, "oops");
}

/* Elixir's DynamicSupervisor takes it as a clean end (checked on the BEAM). */
static void dynamic_supervisor_shutdown_info_root(void *arg)
{
    (void)arg;
    report_note_t r;
    ASSERT_EQ(shutdown_info_reports(true, &r), 0);
}

TEST(supervisor_permanent_child_told_to_shut_down_ending_shutdown_info_is_a_shutdown_error)
{
    ASSERT_REASON(arbor_test_run(supervisor_shutdown_info_root, NULL), ARBOR_EXIT_NORMAL, "");
}

TEST(dynamic_supervisor_permanent_child_told_to_shut_down_ending_shutdown_info_is_no_error)
{
    ASSERT_REASON(arbor_test_run(dynamic_supervisor_shutdown_info_root, NULL), ARBOR_EXIT_NORMAL,
                  "");
}

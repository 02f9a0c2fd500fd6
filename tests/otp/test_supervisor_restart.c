/*
 * Supervisor scenarios, ported to Arbor from OTP's and Elixir's suites (the
 * SV numbers name them). The restart decision: what each restart type does
 * with each kind of exit (SV-18 .. SV-26; docs/semantics.md 3.2). The ctl,
 * ign and nested children are the fixture's (sup_fixture.h).
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sup_fixture.h"

/* One child of the given restart type, started in a fresh supervisor. */
static arbor_pid_t one_child(ctl_arg_t *a, arbor_restart_t restart, arbor_pid_t *pid)
{
    arbor_child_spec_t spec = ctl_spec(a, restart);
    arbor_pid_t sup;
    ASSERT_OK(arbor_sup_start(&flags_1_for_1, &spec, 1, NULL, &sup, NULL));
    *pid = ev_expect(EV_STARTED, a->id).pid;
    return sup;
}

/* A permanent child exiting normal is restarted. */
static void sv18(void *arg)
{
    (void)arg;
    ctl_arg_t a = ctl("child1");
    arbor_pid_t pid, sup = one_child(&a, ARBOR_PERMANENT, &pid);
    stop_with(pid, ARBOR_NORMAL);
    ASSERT_REASON(ev_expect(EV_TERMINATED, "child1").reason, ARBOR_EXIT_NORMAL, "");
    arbor_pid_t pid2 = ev_expect(EV_STARTED, "child1").pid;
    ASSERT_NE(pid2, pid);
    ASSERT_U64_EQ(child_pid(sup, "child1"), pid2);
    assert_counts(sup, 1, 1, 0, 1);
    arbor_child_info_t info;
    ASSERT_TRUE(child_info(sup, "child1", &info));
    ASSERT_EQ(info.restarts, 1);
    ASSERT_OK(arbor_sup_stop(sup, ARBOR_NORMAL));
}

TEST(SV_18_permanent_child_exiting_normal_is_restarted)
{
    arbor_test_run(sv18, NULL);
}

/* A temporary child exiting normal is removed. */
static void sv20(void *arg)
{
    (void)arg;
    ctl_arg_t a = ctl("child1");
    arbor_pid_t pid, sup = one_child(&a, ARBOR_TEMPORARY, &pid);
    stop_and_wait(pid, ARBOR_NORMAL);
    ev_expect(EV_TERMINATED, "child1");
    ASSERT_EQ(n_children(sup), 0);
    assert_counts(sup, 0, 0, 0, 0);
    no_event(50);
    ASSERT_OK(arbor_sup_stop(sup, ARBOR_NORMAL));
}

TEST(SV_20_temporary_child_exiting_normal_is_removed)
{
    arbor_test_run(sv20, NULL);
}

/* A permanent child exiting shutdown, then {shutdown, some_info}, is
 * restarted both times. */
static void sv21(void *arg)
{
    (void)arg;
    ctl_arg_t a = ctl("child1");
    arbor_pid_t pid, sup = one_child(&a, ARBOR_PERMANENT, &pid);
    stop_with(pid, ARBOR_SHUTDOWN);
    ev_expect(EV_TERMINATED, "child1");
    arbor_pid_t pid2 = ev_expect(EV_STARTED, "child1").pid;
    ASSERT_NE(pid2, pid);
    stop_with(pid2, arbor_reason(ARBOR_EXIT_SHUTDOWN, "some_info"));
    ASSERT_REASON(ev_expect(EV_TERMINATED, "child1").reason, ARBOR_EXIT_SHUTDOWN, "some_info");
    arbor_pid_t pid3 = ev_expect(EV_STARTED, "child1").pid;
    ASSERT_NE(pid3, pid2);
    ASSERT_U64_EQ(child_pid(sup, "child1"), pid3);
    assert_counts(sup, 1, 1, 0, 1);
    ASSERT_OK(arbor_sup_stop(sup, ARBOR_NORMAL));
}

TEST(SV_21_permanent_child_exiting_shutdown_is_restarted)
{
    arbor_test_run(sv21, NULL);
}

/* A temporary child exiting shutdown or {shutdown, _} is removed, and the
 * same spec can be started again. */
static void sv23(void *arg)
{
    (void)arg;
    ctl_arg_t a = ctl("child1");
    arbor_pid_t pid, sup = one_child(&a, ARBOR_TEMPORARY, &pid);
    arbor_child_spec_t spec = ctl_spec(&a, ARBOR_TEMPORARY);
    stop_and_wait(pid, ARBOR_SHUTDOWN);
    ev_expect(EV_TERMINATED, "child1");
    assert_counts(sup, 0, 0, 0, 0);
    ASSERT_OK(arbor_sup_start_child(sup, &spec, &pid, NULL));
    ASSERT_U64_EQ(ev_expect(EV_STARTED, "child1").pid, pid);
    stop_and_wait(pid, arbor_reason(ARBOR_EXIT_SHUTDOWN, "x"));
    ev_expect(EV_TERMINATED, "child1");
    assert_counts(sup, 0, 0, 0, 0);
    ASSERT_OK(arbor_sup_start_child(sup, &spec, &pid, NULL));
    ev_expect(EV_STARTED, "child1");
    assert_counts(sup, 1, 1, 0, 1);
    no_event(50);
    ASSERT_OK(arbor_sup_stop(sup, ARBOR_NORMAL));
}

TEST(SV_23_temporary_child_exiting_shutdown_is_removed)
{
    arbor_test_run(sv23, NULL);
}

/* An abnormal exit ("died"): permanent and transient children are restarted,
 * a temporary one is removed. */
static void sv24(void *arg)
{
    (void)arg;
    arbor_report_set_handler(drop_reports, NULL);
    arbor_restart_t types[3] = {ARBOR_PERMANENT, ARBOR_TRANSIENT, ARBOR_TEMPORARY};
    for (int t = 0; t < 3; t++) {
        ctl_arg_t a = ctl("child1");
        arbor_pid_t pid, sup = one_child(&a, types[t], &pid);
        stop_and_wait(pid, arbor_error("died"));
        ASSERT_REASON(ev_expect(EV_TERMINATED, "child1").reason, ARBOR_EXIT_ERROR, "died");
        if (types[t] == ARBOR_TEMPORARY) {
            assert_counts(sup, 0, 0, 0, 0);
            no_event(50);
        } else {
            arbor_pid_t pid2 = ev_expect(EV_STARTED, "child1").pid;
            ASSERT_NE(pid2, pid);
            ASSERT_U64_EQ(child_pid(sup, "child1"), pid2);
            assert_counts(sup, 1, 1, 0, 1);
        }
        ASSERT_OK(arbor_sup_stop(sup, ARBOR_NORMAL));
    }
    arbor_report_set_handler(NULL, NULL);
}

TEST(SV_24_abnormal_exit_restarts_permanent_and_transient_removes_temporary)
{
    arbor_test_run(sv24, NULL);
}

/* After a child is ended (kill, normal, abnormal or terminate_child),
 * start_child with the same spec: a temporary spec is gone, so it starts
 * (0); a restarted child gives EEXIST with its new pid ({already_started,
 * Pid}); a kept, stopped spec gives EPRESENT (already_present). */
typedef enum { END_KILL, END_NORMAL, END_ABNORMAL, END_TERMINATE } end_t;

static void sv26(void *arg)
{
    (void)arg;
    arbor_report_set_handler(drop_reports, NULL);
    arbor_restart_t types[3] = {ARBOR_PERMANENT, ARBOR_TRANSIENT, ARBOR_TEMPORARY};
    for (int t = 0; t < 3; t++) {
        for (int how = END_KILL; how <= END_TERMINATE; how++) {
            ctl_arg_t a = ctl("child1");
            arbor_pid_t pid, sup = one_child(&a, types[t], &pid);
            arbor_child_spec_t spec = ctl_spec(&a, types[t]);
            bool restarted = false;
            switch (how) {
            case END_KILL:
                kill_child(pid);
                restarted = types[t] != ARBOR_TEMPORARY;
                break;
            case END_NORMAL:
                stop_and_wait(pid, ARBOR_NORMAL);
                ev_expect(EV_TERMINATED, "child1");
                restarted = types[t] == ARBOR_PERMANENT;
                break;
            case END_ABNORMAL:
                stop_and_wait(pid, arbor_error("died"));
                ev_expect(EV_TERMINATED, "child1");
                restarted = types[t] != ARBOR_TEMPORARY;
                break;
            case END_TERMINATE:
                ASSERT_OK(arbor_sup_terminate_child(sup, "child1"));
                break;
            }
            arbor_pid_t now = ARBOR_NOPID, got = ARBOR_NOPID;
            if (restarted)
                now = ev_expect(EV_STARTED, "child1").pid;
            int rc = arbor_sup_start_child(sup, &spec, &got, NULL);
            if (types[t] == ARBOR_TEMPORARY) {
                ASSERT_OK(rc);
                ASSERT_U64_EQ(ev_expect(EV_STARTED, "child1").pid, got);
            } else if (restarted) {
                ASSERT_ERR(rc, ARBOR_EEXIST);
                ASSERT_U64_EQ(got, now);
            } else {
                ASSERT_ERR(rc, ARBOR_EPRESENT);
            }
            assert_counts(sup, 1, types[t] == ARBOR_TEMPORARY || restarted ? 1 : 0, 0, 1);
            ASSERT_OK(arbor_sup_stop(sup, ARBOR_NORMAL));
            no_event(10);
        }
    }
    arbor_report_set_handler(NULL, NULL);
}

TEST(SV_26_start_child_again_after_each_kind_of_end)
{
    arbor_test_run(sv26, NULL);
}

/* A transient child exiting normal, shutdown or {shutdown, x} is not
 * restarted (its spec stays, with no pid); exiting with an error it is. */
static void transient_exits(void *arg)
{
    (void)arg;
    arbor_report_set_handler(drop_reports, NULL);
    ctl_arg_t a = ctl("t");
    arbor_pid_t pid, sup = one_child(&a, ARBOR_TRANSIENT, &pid);
    arbor_reason_t clean[3] = {ARBOR_NORMAL, ARBOR_SHUTDOWN,
                               arbor_reason(ARBOR_EXIT_SHUTDOWN, "x")};
    for (int i = 0; i < 3; i++) {
        stop_and_wait(pid, clean[i]);
        ev_expect(EV_TERMINATED, "t");
        arbor_child_info_t info;
        ASSERT_TRUE(child_info(sup, "t", &info));
        ASSERT_EQ(info.status, ARBOR_CHILD_UNDEFINED);
        ASSERT_EQ(info.restarts, 0);
        assert_counts(sup, 1, 0, 0, 1);
        no_event(20);
        ASSERT_OK(arbor_sup_restart_child(sup, "t", &pid, NULL));
        ASSERT_U64_EQ(ev_expect(EV_STARTED, "t").pid, pid);
    }
    stop_with(pid, arbor_error("boom"));
    ev_expect(EV_TERMINATED, "t");
    arbor_pid_t pid2 = ev_expect(EV_STARTED, "t").pid;
    ASSERT_NE(pid2, pid);
    arbor_child_info_t info;
    ASSERT_TRUE(child_info(sup, "t", &info));
    ASSERT_EQ(info.restarts, 1);
    ASSERT_OK(arbor_sup_stop(sup, ARBOR_NORMAL));
    arbor_report_set_handler(NULL, NULL);
}

TEST(supervisor_transient_child_restarted_only_on_abnormal_exit)
{
    arbor_test_run(transient_exits, NULL);
}

/*
 * Supervisor scenarios, ported to Arbor from OTP's and Elixir's suites (the
 * SV numbers name them). Stopping children: each shutdown value (infinity,
 * brutal_kill, a time that runs out), a child that unlinked itself,
 * terminate_child (SV-12 .. SV-17; docs/semantics.md 3.1). The ctl, ign and
 * nested children are the fixture's (sup_fixture.h).
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sup_fixture.h"

/* Children with shutdown infinity, one worker and one supervisor: stopping
 * the supervisor stops both with reason shutdown. */
static void sv12(void *arg)
{
    (void)arg;
    ctl_arg_t wa = ctl("child1"), ga = ctl("grandchild");
    wa.trap = true;
    ga.trap = true;
    arbor_child_spec_t inner = ctl_spec(&ga, ARBOR_PERMANENT);
    nested_arg_t na = {.flags = flags_1_for_1, .children = &inner, .n = 1};
    arbor_child_spec_t specs[2] = {
        {.id = "child1", .start = ctl_start, .arg = &wa, .shutdown = ARBOR_SHUTDOWN_INFINITY},
        {.id = "child2",
         .start = nested_start,
         .arg = &na,
         .shutdown = ARBOR_SHUTDOWN_INFINITY,
         .type = ARBOR_SUPERVISOR_CHILD},
    };
    arbor_pid_t sup;
    ASSERT_OK(arbor_sup_start(&flags_1_for_1, specs, 2, NULL, &sup, NULL));
    ev_expect(EV_STARTED, "child1");
    ev_expect(EV_STARTED, "grandchild");
    assert_counts(sup, 2, 2, 1, 1);
    arbor_ref_t r1 = mon(child_pid(sup, "child1")), r2 = mon(child_pid(sup, "child2"));
    ASSERT_OK(arbor_sup_stop(sup, ARBOR_NORMAL));
    ASSERT_REASON(ev_expect(EV_TERMINATED, "grandchild").reason, ARBOR_EXIT_SHUTDOWN, "");
    ASSERT_REASON(ev_expect(EV_TERMINATED, "child1").reason, ARBOR_EXIT_SHUTDOWN, "");
    ASSERT_REASON(await_down(r1), ARBOR_EXIT_SHUTDOWN, "");
    ASSERT_REASON(await_down(r2), ARBOR_EXIT_SHUTDOWN, "");
}

TEST(SV_12_infinity_shutdown_children_exit_shutdown)
{
    arbor_test_run(sv12, NULL);
}

/* child2 is brutal_kill: stopping the supervisor kills it (no terminate),
 * then shuts child1 down. */
static void sv14(void *arg)
{
    (void)arg;
    ctl_arg_t a1 = ctl("child1"), a2 = ctl("child2");
    a1.trap = a2.trap = true;
    arbor_child_spec_t specs[2] = {ctl_spec(&a1, ARBOR_PERMANENT), ctl_spec(&a2, ARBOR_PERMANENT)};
    specs[1].shutdown = ARBOR_BRUTAL_KILL;
    arbor_pid_t sup;
    ASSERT_OK(arbor_sup_start(&flags_1_for_1, specs, 2, NULL, &sup, NULL));
    ev_expect(EV_STARTED, "child1");
    ev_expect(EV_STARTED, "child2");
    arbor_ref_t r1 = mon(child_pid(sup, "child1")), r2 = mon(child_pid(sup, "child2"));
    ASSERT_OK(arbor_sup_stop(sup, ARBOR_NORMAL));
    /* Reverse start order: child2's DOWN comes first. */
    arbor_msg_t *m = arbor_test_recv_tag(ARBOR_TAG_DOWN, 5000);
    ASSERT_U64_EQ(((arbor_down_msg_t *)m->data)->ref, r2);
    ASSERT_REASON(((arbor_down_msg_t *)m->data)->reason, ARBOR_EXIT_KILLED, "");
    arbor_msg_free(m);
    ASSERT_REASON(await_down(r1), ARBOR_EXIT_SHUTDOWN, "");
    /* Only child1 ran terminate. */
    ASSERT_REASON(ev_expect(EV_TERMINATED, "child1").reason, ARBOR_EXIT_SHUTDOWN, "");
    no_event(50);
}

TEST(SV_14_brutal_kill_child_dies_killed_on_supervisor_stop)
{
    arbor_test_run(sv14, NULL);
}

/* A child that unlinked itself from the supervisor: terminate_child still
 * returns (the supervisor waits on a monitor, not the link), and the
 * supervisor keeps serving calls. */
static void sv17(void *arg)
{
    (void)arg;
    ctl_arg_t a = ctl("child1");
    arbor_child_spec_t spec = ctl_spec(&a, ARBOR_PERMANENT);
    arbor_pid_t sup;
    ASSERT_OK(arbor_sup_start(&flags_1_for_1, &spec, 1, NULL, &sup, NULL));
    arbor_pid_t pid = ev_expect(EV_STARTED, "child1").pid;
    arbor_msg_t *m;
    ASSERT_OK(arbor_gs_call(pid, CTL_UNLINK, NULL, 0, arbor_test_scaled_ms(5000), &m, NULL));
    ASSERT_EQ(*(int *)m->data, 0);
    arbor_msg_free(m);
    arbor_ref_t ref = mon(pid);
    ASSERT_OK(arbor_sup_terminate_child(sup, "child1"));
    ASSERT_REASON(await_down(ref), ARBOR_EXIT_SHUTDOWN, "");
    arbor_child_info_t info;
    ASSERT_TRUE(child_info(sup, "child1", &info));
    ASSERT_EQ(info.status, ARBOR_CHILD_UNDEFINED);
    ASSERT_U64_EQ(info.pid, ARBOR_NOPID);
    assert_counts(sup, 1, 0, 0, 1);
    ASSERT_OK(arbor_sup_restart_child(sup, "child1", &pid, NULL));
    ASSERT_U64_EQ(ev_expect(EV_STARTED, "child1").pid, pid);
    ASSERT_OK(arbor_sup_stop(sup, ARBOR_NORMAL));
}

TEST(SV_17_terminating_a_child_that_unlinked_itself_does_not_hang)
{
    arbor_test_run(sv17, NULL);
}

/* shutdown 100 on a trapping child whose terminate sleeps 2000 ms: the
 * supervisor kills it after 100 ms (it dies killed, terminate never logs). */
static void shutdown_timeout(void *arg)
{
    (void)arg;
    arbor_report_set_handler(drop_reports, NULL);
    ctl_arg_t a = ctl("slow");
    a.trap = true;
    a.terminate_ms = 2000;
    arbor_child_spec_t spec = ctl_spec(&a, ARBOR_PERMANENT);
    spec.shutdown = 100;
    arbor_pid_t sup;
    ASSERT_OK(arbor_sup_start(&flags_1_for_1, &spec, 1, NULL, &sup, NULL));
    arbor_pid_t pid = ev_expect(EV_STARTED, "slow").pid;
    arbor_ref_t ref = mon(pid);
    uint64_t t0 = arbor_now_ms();
    ASSERT_OK(arbor_sup_stop(sup, ARBOR_NORMAL));
    uint64_t took = arbor_now_ms() - t0;
    ASSERT_REASON(await_down(ref), ARBOR_EXIT_KILLED, "");
    ASSERT_GE(took, 100);
    ASSERT_LT(took, 1500);
    no_event(50);
    arbor_report_set_handler(NULL, NULL);
}

TEST(supervisor_shutdown_timeout_escalates_to_kill)
{
    arbor_test_run(shutdown_timeout, NULL);
}

/* brutal_kill through terminate_child on a trapping child: it dies killed
 * and its terminate does not run. */
static void brutal_kill_terminate(void *arg)
{
    (void)arg;
    ctl_arg_t a = ctl("b");
    a.trap = true;
    arbor_child_spec_t spec = ctl_spec(&a, ARBOR_PERMANENT);
    spec.shutdown = ARBOR_BRUTAL_KILL;
    arbor_pid_t sup;
    ASSERT_OK(arbor_sup_start(&flags_1_for_1, &spec, 1, NULL, &sup, NULL));
    arbor_pid_t pid = ev_expect(EV_STARTED, "b").pid;
    arbor_ref_t ref = mon(pid);
    ASSERT_OK(arbor_sup_terminate_child(sup, "b"));
    ASSERT_REASON(await_down(ref), ARBOR_EXIT_KILLED, "");
    no_event(50);
    assert_counts(sup, 1, 0, 0, 1);
    ASSERT_OK(arbor_sup_stop(sup, ARBOR_NORMAL));
}

TEST(supervisor_brutal_kill_via_terminate_child_skips_terminate)
{
    arbor_test_run(brutal_kill_terminate, NULL);
}

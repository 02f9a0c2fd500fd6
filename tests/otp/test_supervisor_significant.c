/*
 * Supervisor scenarios, ported to Arbor from OTP's and Elixir's suites (the
 * SV numbers name them). Significant children and auto_shutdown (SV-48 ..
 * SV-52). The ctl, ign and nested children are the fixture's
 * (sup_fixture.h).
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sup_fixture.h"

/* ---- auto_shutdown (SV-48 .. SV-52) ------------------------------------------------------ */

/* any_significant, significant transient child1 and a permanent child2:
 * child1 killed or crashing is restarted; child1 exiting normal ends the
 * supervisor (shutdown) and child2 with it. */
static void sv48(void *arg)
{
    (void)arg;
    arbor_report_set_handler(drop_reports, NULL);
    ctl_arg_t a1 = ctl("child1"), a2 = ctl("child2");
    arbor_child_spec_t specs[2] = {ctl_spec(&a1, ARBOR_TRANSIENT), ctl_spec(&a2, ARBOR_PERMANENT)};
    specs[0].significant = true;
    arbor_sup_flags_t f = flags_1_for_1;
    f.max_restarts = 10;
    f.auto_shutdown = ARBOR_ANY_SIGNIFICANT;
    arbor_pid_t sup;
    ASSERT_OK(arbor_sup_start(&f, specs, 2, NULL, &sup, NULL));
    arbor_pid_t c1 = ev_expect(EV_STARTED, "child1").pid;
    arbor_pid_t c2 = ev_expect(EV_STARTED, "child2").pid;
    arbor_ref_t sref = mon(sup), r2 = mon(c2);

    kill_child(c1);
    c1 = ev_expect(EV_STARTED, "child1").pid;
    ASSERT_TRUE(arbor_test_alive(sup));
    stop_with(c1, arbor_error("boom"));
    ev_expect(EV_TERMINATED, "child1");
    c1 = ev_expect(EV_STARTED, "child1").pid;
    assert_counts(sup, 2, 2, 0, 2);
    ASSERT_U64_EQ(child_pid(sup, "child2"), c2);

    stop_with(c1, ARBOR_NORMAL);
    ev_expect(EV_TERMINATED, "child1");
    ASSERT_REASON(await_down(r2), ARBOR_EXIT_SHUTDOWN, "");
    ASSERT_REASON(await_down(sref), ARBOR_EXIT_SHUTDOWN, "");
    no_event(50);
    arbor_report_set_handler(NULL, NULL);
}

TEST(SV_48_any_significant_transient_child_exiting_normal_ends_the_supervisor)
{
    arbor_test_run(sv48, NULL);
}

/* all_significant with two significant children: the supervisor survives the
 * first one's end and shuts down after the second's. Transient children
 * exiting normal, then temporary children killed (as observed on the BEAM). */
static void all_significant(arbor_restart_t restart)
{
    ctl_arg_t a1 = ctl("s1"), a2 = ctl("s2"), aw = ctl("w");
    arbor_child_spec_t specs[3] = {ctl_spec(&a1, restart), ctl_spec(&a2, restart),
                                   ctl_spec(&aw, ARBOR_PERMANENT)};
    specs[0].significant = specs[1].significant = true;
    arbor_sup_flags_t f = flags_1_for_1;
    f.auto_shutdown = ARBOR_ALL_SIGNIFICANT;
    arbor_pid_t sup;
    ASSERT_OK(arbor_sup_start(&f, specs, 3, NULL, &sup, NULL));
    arbor_pid_t s1 = ev_expect(EV_STARTED, "s1").pid;
    arbor_pid_t s2 = ev_expect(EV_STARTED, "s2").pid;
    arbor_pid_t w = ev_expect(EV_STARTED, "w").pid;
    arbor_ref_t sref = mon(sup), rw = mon(w);
    if (restart == ARBOR_TRANSIENT) {
        stop_and_wait(s1, ARBOR_NORMAL);
        ev_expect(EV_TERMINATED, "s1");
        assert_counts(sup, 3, 2, 0, 3); /* still serving: alive */
        stop_with(s2, ARBOR_NORMAL);
        ev_expect(EV_TERMINATED, "s2");
    } else {
        kill_child(s1);
        assert_counts(sup, 2, 2, 0, 2);
        ASSERT_OK(arbor_exit_pid(s2, ARBOR_KILL));
    }
    ASSERT_REASON(await_down(rw), ARBOR_EXIT_SHUTDOWN, "");
    ASSERT_REASON(await_down(sref), ARBOR_EXIT_SHUTDOWN, "");
    no_event(50);
}

static void sv49(void *arg)
{
    (void)arg;
    arbor_report_set_handler(drop_reports, NULL);
    all_significant(ARBOR_TRANSIENT);
    all_significant(ARBOR_TEMPORARY);
    arbor_report_set_handler(NULL, NULL);
}

TEST(SV_49_all_significant_ends_after_the_last_significant_child)
{
    arbor_test_run(sv49, NULL);
}

/* Sup A (any_significant) with child sup B (any_significant) with significant
 * worker C: C exits normal -> B shuts down; if B is significant in A, A
 * shuts down too; if not (B transient, not significant), only B does and A
 * keeps B's spec with no pid. */
static void escalate_significant(bool b_significant)
{
    ctl_arg_t ca = ctl("C");
    arbor_child_spec_t cspec = ctl_spec(&ca, ARBOR_TRANSIENT);
    cspec.significant = true;
    arbor_sup_flags_t f = flags_1_for_1;
    f.auto_shutdown = ARBOR_ANY_SIGNIFICANT;
    nested_arg_t nb = {.flags = f, .children = &cspec, .n = 1};
    arbor_child_spec_t bspec = {.id = "B",
                                .start = nested_start,
                                .arg = &nb,
                                .restart = ARBOR_TRANSIENT,
                                .type = ARBOR_SUPERVISOR_CHILD,
                                .significant = b_significant};
    ctl_arg_t wa = ctl("W");
    arbor_child_spec_t specs[2] = {bspec, ctl_spec(&wa, ARBOR_PERMANENT)};
    arbor_pid_t sup_a;
    ASSERT_OK(arbor_sup_start(&f, specs, 2, NULL, &sup_a, NULL));
    arbor_pid_t c = ev_expect(EV_STARTED, "C").pid;
    arbor_pid_t w = ev_expect(EV_STARTED, "W").pid;
    arbor_pid_t sup_b = child_pid(sup_a, "B");
    arbor_ref_t ra = mon(sup_a), rb = mon(sup_b);
    stop_with(c, ARBOR_NORMAL);
    ev_expect(EV_TERMINATED, "C");
    ASSERT_REASON(await_down(rb), ARBOR_EXIT_SHUTDOWN, "");
    if (b_significant) {
        ASSERT_REASON(await_down(ra), ARBOR_EXIT_SHUTDOWN, "");
    } else {
        arbor_child_info_t info;
        ASSERT_TRUE(child_info(sup_a, "B", &info));
        ASSERT_EQ(info.status, ARBOR_CHILD_UNDEFINED);
        ASSERT_EQ(info.restarts, 0);
        ASSERT_U64_EQ(child_pid(sup_a, "W"), w);
        assert_counts(sup_a, 2, 1, 1, 1);
        ASSERT_OK(arbor_demonitor(ra, 0));
        ASSERT_OK(arbor_sup_stop(sup_a, ARBOR_NORMAL));
    }
    no_event(50);
}

static void sv51(void *arg)
{
    (void)arg;
    escalate_significant(true);
    escalate_significant(false);
}

TEST(SV_51_significant_child_supervisor_escalates_auto_shutdown)
{
    arbor_test_run(sv51, NULL);
}

/* significant + permanent, or significant under auto_shutdown never, is a
 * bad combination, at start and in start_child. */
static void sv52(void *arg)
{
    (void)arg;
    ctl_arg_t a = ctl("x");
    arbor_child_spec_t s = ctl_spec(&a, ARBOR_PERMANENT);
    s.significant = true;
    arbor_reason_t r = ARBOR_NORMAL;
    ASSERT_ERR(arbor_sup_check_spec(&s, &r), ARBOR_EINVAL);
    ASSERT_EQ(r.kind, ARBOR_EXIT_ERROR);
    ASSERT_TRUE(strncmp(r.detail, "bad_combination", 15) == 0);
    arbor_sup_flags_t any = flags_1_for_1;
    any.auto_shutdown = ARBOR_ANY_SIGNIFICANT;
    arbor_pid_t sup, pid;
    r = ARBOR_NORMAL;
    ASSERT_ERR(arbor_sup_start(&any, &s, 1, NULL, &sup, &r), ARBOR_EINVAL);
    ASSERT_TRUE(strncmp(r.detail, "bad_combination", 15) == 0);

    /* A transient significant child under never. */
    s.restart = ARBOR_TRANSIENT;
    ASSERT_OK(arbor_sup_check_spec(&s, NULL));
    r = ARBOR_NORMAL;
    ASSERT_ERR(arbor_sup_start(&flags_1_for_1, &s, 1, NULL, &sup, &r), ARBOR_EINVAL);
    ASSERT_EQ(r.kind, ARBOR_EXIT_ERROR);
    ASSERT_TRUE(strncmp(r.detail, "bad_combination", 15) == 0);
    ASSERT_EQ(atomic_load(&a.starts), 0);

    ASSERT_OK(arbor_sup_start(&flags_1_for_1, NULL, 0, NULL, &sup, NULL));
    r = ARBOR_NORMAL;
    ASSERT_ERR(arbor_sup_start_child(sup, &s, &pid, &r), ARBOR_EINVAL);
    ASSERT_TRUE(strncmp(r.detail, "bad_combination", 15) == 0);
    s.restart = ARBOR_PERMANENT;
    r = ARBOR_NORMAL;
    ASSERT_ERR(arbor_sup_start_child(sup, &s, &pid, &r), ARBOR_EINVAL);
    ASSERT_TRUE(strncmp(r.detail, "bad_combination", 15) == 0);
    ASSERT_EQ(n_children(sup), 0);
    ASSERT_EQ(atomic_load(&a.starts), 0);
    ASSERT_OK(arbor_sup_stop(sup, ARBOR_NORMAL));

    /* Under any_significant a transient significant child is fine. */
    s.restart = ARBOR_TRANSIENT;
    ASSERT_OK(arbor_sup_start(&any, &s, 1, NULL, &sup, NULL));
    ev_expect(EV_STARTED, "x");
    ASSERT_OK(arbor_sup_stop(sup, ARBOR_NORMAL));
}

TEST(SV_52_significant_with_permanent_or_never_is_a_bad_combination)
{
    arbor_test_run(sv52, NULL);
}

/*
 * Supervisor scenarios, ported to Arbor from OTP's and Elixir's suites (the
 * SV numbers name them). Restart intensity and escalation: when a
 * supervisor gives up, what counts as one restart, and how giving up climbs
 * the tree (docs/semantics.md 3.4). The ctl, ign and nested children are
 * the fixture's (sup_fixture.h).
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sup_fixture.h"

/* ---- intensity, escalation and strategies (docs/semantics.md 3.3, 3.4) ----------------- */

/* max_restarts 0: the first restart-worthy exit ends the supervisor. */
static void max_restarts_zero(void *arg)
{
    (void)arg;
    arbor_report_set_handler(drop_reports, NULL);
    ctl_arg_t a = ctl("w"), b = ctl("other");
    b.trap = true;
    arbor_child_spec_t specs[2] = {ctl_spec(&a, ARBOR_PERMANENT), ctl_spec(&b, ARBOR_PERMANENT)};
    arbor_sup_flags_t f = {.strategy = ARBOR_ONE_FOR_ONE, .max_restarts = 0, .max_seconds = 5};
    arbor_pid_t sup;
    ASSERT_OK(arbor_sup_start(&f, specs, 2, NULL, &sup, NULL));
    arbor_pid_t w = ev_expect(EV_STARTED, "w").pid;
    ev_expect(EV_STARTED, "other");
    arbor_ref_t sref = mon(sup);
    ASSERT_OK(arbor_exit_pid(w, ARBOR_KILL));
    ASSERT_REASON(ev_expect(EV_TERMINATED, "other").reason, ARBOR_EXIT_SHUTDOWN, "");
    ASSERT_REASON(await_down(sref), ARBOR_EXIT_SHUTDOWN, "");
    no_event(50); /* w was not restarted */
    ASSERT_EQ(atomic_load(&a.starts), 1);
    arbor_report_set_handler(NULL, NULL);
}

TEST(supervisor_max_restarts_0_first_kill_shuts_it_down)
{
    arbor_test_run(max_restarts_zero, NULL);
}

/* one_for_all, max_restarts 1, three children: one kill restarts all three
 * and is one tick, so the supervisor survives; a second kill is the second
 * tick and ends it. */
static void group_restart_one_tick(void *arg)
{
    (void)arg;
    arbor_report_set_handler(drop_reports, NULL);
    ctl_arg_t a[3] = {ctl("c1"), ctl("c2"), ctl("c3")};
    arbor_child_spec_t specs[3];
    for (int i = 0; i < 3; i++)
        specs[i] = ctl_spec(&a[i], ARBOR_PERMANENT);
    arbor_sup_flags_t f = {.strategy = ARBOR_ONE_FOR_ALL, .max_restarts = 1, .max_seconds = 3600};
    arbor_pid_t sup;
    ASSERT_OK(arbor_sup_start(&f, specs, 3, NULL, &sup, NULL));
    for (int i = 0; i < 3; i++)
        ev_expect(EV_STARTED, a[i].id);
    arbor_ref_t sref = mon(sup);
    kill_child(child_pid(sup, "c2"));
    for (int i = 0; i < 3; i++)
        ev_expect(EV_STARTED, a[i].id);
    assert_counts(sup, 3, 3, 0, 3);
    kill_child(child_pid(sup, "c3"));
    ASSERT_REASON(await_down(sref), ARBOR_EXIT_SHUTDOWN, "");
    no_event(50);
    arbor_report_set_handler(NULL, NULL);
}

TEST(supervisor_one_for_all_group_restart_is_one_intensity_tick)
{
    arbor_test_run(group_restart_one_tick, NULL);
}

/* A child whose every restart fails, max_restarts 3: the kill's restart and
 * two retries fail, the third retry is the 4th tick: 4 start calls in all. */
static void failing_restarts_count(void *arg)
{
    (void)arg;
    arbor_report_set_handler(drop_reports, NULL);
    ctl_arg_t a = ctl("g");
    a.ok_starts = 1;
    arbor_child_spec_t spec = ctl_spec(&a, ARBOR_PERMANENT);
    arbor_sup_flags_t f = ARBOR_SUP_FLAGS_DEFAULT;
    arbor_pid_t sup;
    ASSERT_OK(arbor_sup_start(&f, &spec, 1, NULL, &sup, NULL));
    arbor_pid_t g = ev_expect(EV_STARTED, "g").pid;
    arbor_ref_t sref = mon(sup);
    ASSERT_OK(arbor_exit_pid(g, ARBOR_KILL));
    ASSERT_REASON(await_down(sref), ARBOR_EXIT_SHUTDOWN, "");
    ASSERT_EQ(atomic_load(&a.starts), 4);
    arbor_report_set_handler(NULL, NULL);
}

TEST(supervisor_failed_restarts_count_toward_intensity)
{
    arbor_test_run(failing_restarts_count, NULL);
}

/* Escalation: mid supervisor (max_restarts 1) with a leaf worker under a top
 * supervisor with a sibling worker. Two leaf kills exceed mid's intensity:
 * mid exits shutdown and top restarts it (a fresh leaf); under one_for_one
 * the sibling keeps its pid, under one_for_all it is restarted too. */
static void escalation(arbor_strategy_t top_strategy)
{
    ctl_arg_t leaf = ctl("leaf"), sib = ctl("sibling");
    arbor_child_spec_t leaf_spec = ctl_spec(&leaf, ARBOR_PERMANENT);
    nested_arg_t mid = {
        .flags = {.strategy = ARBOR_ONE_FOR_ONE, .max_restarts = 1, .max_seconds = 3600},
        .children = &leaf_spec,
        .n = 1};
    arbor_child_spec_t specs[2] = {
        {.id = "mid", .start = nested_start, .arg = &mid, .type = ARBOR_SUPERVISOR_CHILD},
        ctl_spec(&sib, ARBOR_PERMANENT),
    };
    arbor_sup_flags_t f = {.strategy = top_strategy, .max_restarts = 3, .max_seconds = 3600};
    arbor_pid_t top;
    ASSERT_OK(arbor_sup_start(&f, specs, 2, NULL, &top, NULL));
    arbor_pid_t l = ev_expect(EV_STARTED, "leaf").pid;
    arbor_pid_t s = ev_expect(EV_STARTED, "sibling").pid;
    arbor_pid_t m = child_pid(top, "mid");
    arbor_ref_t mref = mon(m);
    kill_child(l);
    l = ev_expect(EV_STARTED, "leaf").pid;
    ASSERT_U64_EQ(child_pid(top, "mid"), m);
    kill_child(l);
    ASSERT_REASON(await_down(mref), ARBOR_EXIT_SHUTDOWN, "");
    ev_expect(EV_STARTED, "leaf");
    if (top_strategy == ARBOR_ONE_FOR_ALL) {
        arbor_pid_t s2 = ev_expect(EV_STARTED, "sibling").pid;
        ASSERT_NE(s2, s);
        ASSERT_U64_EQ(child_pid(top, "sibling"), s2);
    } else {
        ASSERT_U64_EQ(child_pid(top, "sibling"), s);
    }
    arbor_child_info_t info;
    ASSERT_TRUE(child_info(top, "mid", &info));
    ASSERT_EQ(info.status, ARBOR_CHILD_RUNNING);
    ASSERT_NE(info.pid, m);
    ASSERT_EQ(info.restarts, 1);
    ASSERT_EQ(info.type, ARBOR_SUPERVISOR_CHILD);
    assert_counts(top, 2, 2, 1, 1);
    ASSERT_OK(arbor_sup_stop(top, ARBOR_NORMAL));
    no_event(20);
}

static void escalation_root(void *arg)
{
    (void)arg;
    arbor_report_set_handler(drop_reports, NULL);
    escalation(ARBOR_ONE_FOR_ONE);
    escalation(ARBOR_ONE_FOR_ALL);
    arbor_report_set_handler(NULL, NULL);
}

TEST(supervisor_escalation_restarts_the_child_supervisor)
{
    arbor_test_run(escalation_root, NULL);
}

/* Two levels, top max_restarts 0: the mid supervisor giving up ends the top
 * too; the trapping test, linked to top, gets {EXIT, top, shutdown}. */
static void escalation_to_top(void *arg)
{
    (void)arg;
    arbor_report_set_handler(drop_reports, NULL);
    arbor_trap_exit(true);
    ctl_arg_t leaf = ctl("leaf");
    arbor_child_spec_t leaf_spec = ctl_spec(&leaf, ARBOR_PERMANENT);
    nested_arg_t mid = {
        .flags = {.strategy = ARBOR_ONE_FOR_ONE, .max_restarts = 0, .max_seconds = 5},
        .children = &leaf_spec,
        .n = 1};
    arbor_child_spec_t spec = {
        .id = "mid", .start = nested_start, .arg = &mid, .type = ARBOR_SUPERVISOR_CHILD};
    arbor_sup_flags_t f = {.strategy = ARBOR_ONE_FOR_ONE, .max_restarts = 0, .max_seconds = 5};
    arbor_sup_opts_t o = {.link = true};
    arbor_pid_t top;
    ASSERT_OK(arbor_sup_start(&f, &spec, 1, &o, &top, NULL));
    arbor_pid_t l = ev_expect(EV_STARTED, "leaf").pid;
    ASSERT_OK(arbor_exit_pid(l, ARBOR_KILL));
    ASSERT_REASON(await_exit(top), ARBOR_EXIT_SHUTDOWN, "");
    no_event(50);
    arbor_report_set_handler(NULL, NULL);
}

TEST(supervisor_escalation_reaches_the_top_supervisor)
{
    arbor_test_run(escalation_to_top, NULL);
}

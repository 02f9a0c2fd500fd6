/*
 * Supervisor scenarios, ported to Arbor from OTP's and Elixir's suites (the
 * SV numbers name them). The strategies' group restarts: one_for_all and
 * rest_for_one, the children they stop and start, a child that cannot
 * come back, and registered names that follow restarts (SV-29 .. SV-39;
 * docs/semantics.md 3.3). The ctl, ign and nested children are the
 * fixture's (sup_fixture.h).
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sup_fixture.h"

/* one_for_all with 2 children, child2 linked to the (trapping) test: a kill of
 * child1 makes the supervisor stop child2 (the test gets its EXIT shutdown)
 * and start both again; with intensity 2, two more failures end it. */
static void sv29(void *arg)
{
    (void)arg;
    arbor_trap_exit(true);
    ctl_arg_t a1 = ctl("child1"), a2 = ctl("child2");
    arbor_child_spec_t specs[2] = {ctl_spec(&a1, ARBOR_PERMANENT), ctl_spec(&a2, ARBOR_PERMANENT)};
    arbor_sup_flags_t f = {.strategy = ARBOR_ONE_FOR_ALL, .max_restarts = 2, .max_seconds = 3600};
    arbor_pid_t sup;
    ASSERT_OK(arbor_sup_start(&f, specs, 2, NULL, &sup, NULL));
    arbor_pid_t c1 = ev_expect(EV_STARTED, "child1").pid;
    arbor_pid_t c2 = ev_expect(EV_STARTED, "child2").pid;
    ASSERT_OK(arbor_link(c2));
    arbor_ref_t sref = mon(sup);

    kill_child(c1);
    ASSERT_REASON(await_exit(c2), ARBOR_EXIT_SHUTDOWN, "");
    arbor_pid_t n1 = ev_expect(EV_STARTED, "child1").pid;
    arbor_pid_t n2 = ev_expect(EV_STARTED, "child2").pid;
    ASSERT_NE(n1, c1);
    ASSERT_NE(n2, c2);
    ASSERT_U64_EQ(child_pid(sup, "child1"), n1);
    ASSERT_U64_EQ(child_pid(sup, "child2"), n2);

    kill_child(n2); /* second restart: within intensity */
    ev_expect(EV_STARTED, "child1");
    n2 = ev_expect(EV_STARTED, "child2").pid;
    ASSERT_TRUE(arbor_test_alive(sup));
    kill_child(n2); /* third: more than 2 in the period */
    ASSERT_REASON(await_down(sref), ARBOR_EXIT_SHUTDOWN, "");
    no_event(50);
}

TEST(SV_29_one_for_all_restarts_both_and_gives_up_past_intensity)
{
    arbor_test_run(sv29, NULL);
}

/* child2 starts once and then never again. Under one_for_all (intensity 4) a
 * kill of child1 sends the supervisor into a retry loop: each retry is a
 * group restart (child1 starts again each time) and an intensity tick, so
 * after the kill's tick and 4 retries ... the fifth tick ends it: child2 got
 * 1 + 4 start calls. Under rest_for_one, retries go on from child2: child1
 * is started again only once. */
static void cannot_restart(arbor_strategy_t strategy)
{
    arbor_report_set_handler(drop_reports, NULL);
    ctl_arg_t a1 = ctl("child1"), a2 = ctl("child2");
    a2.ok_starts = 1;
    arbor_child_spec_t specs[2] = {ctl_spec(&a1, ARBOR_PERMANENT), ctl_spec(&a2, ARBOR_PERMANENT)};
    arbor_sup_flags_t f = {.strategy = strategy, .max_restarts = 4, .max_seconds = 3600};
    arbor_pid_t sup;
    ASSERT_OK(arbor_sup_start(&f, specs, 2, NULL, &sup, NULL));
    arbor_pid_t c1 = ev_expect(EV_STARTED, "child1").pid;
    arbor_pid_t c2 = ev_expect(EV_STARTED, "child2").pid;
    arbor_ref_t sref = mon(sup), r2 = mon(c2);
    ASSERT_OK(arbor_exit_pid(c1, ARBOR_KILL));
    ASSERT_REASON(await_down(r2), ARBOR_EXIT_SHUTDOWN, "");
    ASSERT_REASON(await_down(sref), ARBOR_EXIT_SHUTDOWN, "");
    int c1_restarts = strategy == ARBOR_ONE_FOR_ALL ? 4 : 1;
    for (int i = 0; i < c1_restarts; i++)
        ev_expect(EV_STARTED, "child1");
    no_event(50);
    ASSERT_EQ(atomic_load(&a2.starts), 5);
    ASSERT_EQ(atomic_load(&a1.starts), 1 + c1_restarts);
    arbor_report_set_handler(NULL, NULL);
}

static void sv30(void *arg)
{
    (void)arg;
    cannot_restart(ARBOR_ONE_FOR_ALL);
}

TEST(SV_30_one_for_all_child_that_cannot_restart_ends_the_supervisor)
{
    arbor_test_run(sv30, NULL);
}

static void sv33(void *arg)
{
    (void)arg;
    cannot_restart(ARBOR_REST_FOR_ONE);
}

TEST(SV_33_rest_for_one_child_that_cannot_restart_ends_the_supervisor)
{
    arbor_test_run(sv33, NULL);
}

/* rest_for_one child1, child2, child3; child2's restarts fail until the test
 * opens a gate (each failing start takes 1 ms, so the retry loop is slow
 * against max_restarts 100000). While it loops, which_children shows child3
 * undefined, child2 restarting and child1 running, counts [3,1,0,3]; and the
 * supervisor answers calls between attempts. Once the gate opens, child2 and
 * child3 start. */
static void sv38(void *arg)
{
    (void)arg;
    arbor_report_set_handler(drop_reports, NULL);
    atomic_int gate = 0;
    ctl_arg_t a[3] = {ctl("child1"), ctl("child2"), ctl("child3")};
    a[1].ok_starts = 1;
    a[1].gate = &gate;
    a[1].fail_sleep_ms = 1;
    arbor_child_spec_t specs[3];
    for (int i = 0; i < 3; i++)
        specs[i] = ctl_spec(&a[i], ARBOR_PERMANENT);
    arbor_sup_flags_t f = {
        .strategy = ARBOR_REST_FOR_ONE, .max_restarts = 100000, .max_seconds = 3600};
    arbor_pid_t sup;
    ASSERT_OK(arbor_sup_start(&f, specs, 3, NULL, &sup, NULL));
    arbor_pid_t c1 = ev_expect(EV_STARTED, "child1").pid;
    arbor_pid_t c2 = ev_expect(EV_STARTED, "child2").pid;
    ev_expect(EV_STARTED, "child3");
    kill_child(c2);

    arbor_child_info_t *kids = NULL;
    size_t n = 0;
    for (int tries = 0;; tries++) {
        ASSERT_OK(arbor_sup_which_children(sup, &kids, &n));
        ASSERT_EQ(n, 3);
        if (kids[1].status == ARBOR_CHILD_RESTARTING)
            break;
        free(kids);
        ASSERT_LT(tries, 5000);
        arbor_sleep(1);
    }
    ASSERT_STREQ(kids[0].id, "child3");
    ASSERT_EQ(kids[0].status, ARBOR_CHILD_UNDEFINED);
    ASSERT_U64_EQ(kids[0].pid, ARBOR_NOPID);
    ASSERT_STREQ(kids[1].id, "child2");
    ASSERT_U64_EQ(kids[1].pid, ARBOR_NOPID);
    ASSERT_STREQ(kids[2].id, "child1");
    ASSERT_EQ(kids[2].status, ARBOR_CHILD_RUNNING);
    ASSERT_U64_EQ(kids[2].pid, c1);
    free(kids);
    assert_counts(sup, 3, 1, 0, 3);
    ASSERT_ERR(arbor_sup_restart_child(sup, "child2", NULL, NULL), ARBOR_ERESTARTING);
    ASSERT_ERR(arbor_sup_delete_child(sup, "child2"), ARBOR_ERESTARTING);
    int before = atomic_load(&a[1].starts);
    /* Still retrying: later calls see more attempts. */
    for (int tries = 0; atomic_load(&a[1].starts) == before; tries++) {
        ASSERT_LT(tries, 5000);
        assert_counts(sup, 3, 1, 0, 3);
        arbor_sleep(1);
    }
    ASSERT_EQ(atomic_load(&a[2].starts), 1);

    atomic_store(&gate, 1);
    ev_expect(EV_STARTED, "child2");
    ev_expect(EV_STARTED, "child3");
    assert_counts(sup, 3, 3, 0, 3);
    ASSERT_U64_EQ(child_pid(sup, "child1"), c1);
    ASSERT_OK(arbor_sup_stop(sup, ARBOR_NORMAL));
    arbor_report_set_handler(NULL, NULL);
}

TEST(SV_38_rest_for_one_restart_loop_shows_restarting_and_undefined)
{
    arbor_test_run(sv38, NULL);
}

/* A temporary c3 stopped as a bystander of a group restart (kill c2) is
 * removed, not restarted: children [c2, c1]. */
static void temporary_bystander(arbor_strategy_t strategy)
{
    ctl_arg_t a[3] = {ctl("c1"), ctl("c2"), ctl("c3")};
    a[2].trap = true;
    arbor_child_spec_t specs[3] = {ctl_spec(&a[0], ARBOR_PERMANENT),
                                   ctl_spec(&a[1], ARBOR_PERMANENT),
                                   ctl_spec(&a[2], ARBOR_TEMPORARY)};
    arbor_sup_flags_t f = {.strategy = strategy, .max_restarts = 3, .max_seconds = 3600};
    arbor_pid_t sup;
    ASSERT_OK(arbor_sup_start(&f, specs, 3, NULL, &sup, NULL));
    arbor_pid_t c1 = ev_expect(EV_STARTED, "c1").pid;
    arbor_pid_t c2 = ev_expect(EV_STARTED, "c2").pid;
    ev_expect(EV_STARTED, "c3");
    ASSERT_OK(arbor_exit_pid(c2, ARBOR_KILL));
    ASSERT_REASON(ev_expect(EV_TERMINATED, "c3").reason, ARBOR_EXIT_SHUTDOWN, "");
    if (strategy == ARBOR_ONE_FOR_ALL)
        ASSERT_NE(ev_expect(EV_STARTED, "c1").pid, c1);
    ASSERT_NE(ev_expect(EV_STARTED, "c2").pid, c2);
    arbor_child_info_t *kids;
    size_t n;
    ASSERT_OK(arbor_sup_which_children(sup, &kids, &n));
    ASSERT_EQ(n, 2);
    ASSERT_STREQ(kids[0].id, "c2");
    ASSERT_STREQ(kids[1].id, "c1");
    free(kids);
    assert_counts(sup, 2, 2, 0, 2);
    if (strategy == ARBOR_REST_FOR_ONE)
        ASSERT_U64_EQ(child_pid(sup, "c1"), c1);
    ASSERT_OK(arbor_sup_stop(sup, ARBOR_NORMAL));
    no_event(20);
}

static void temporary_bystander_root(void *arg)
{
    (void)arg;
    temporary_bystander(ARBOR_ONE_FOR_ALL);
    temporary_bystander(ARBOR_REST_FOR_ONE);
}

TEST(supervisor_temporary_bystander_of_a_group_restart_is_removed)
{
    arbor_test_run(temporary_bystander_root, NULL);
}

/* A group restart also starts specs that were not running before: a
 * transient c2 that exited normal, or a c3 stopped with terminate_child
 * (observed on the BEAM). */
static void group_restart_starts_stopped(arbor_strategy_t strategy)
{
    ctl_arg_t a[3] = {ctl("c1"), ctl("c2"), ctl("c3")};
    arbor_child_spec_t specs[3] = {ctl_spec(&a[0], ARBOR_PERMANENT),
                                   ctl_spec(&a[1], ARBOR_TRANSIENT),
                                   ctl_spec(&a[2], ARBOR_PERMANENT)};
    arbor_sup_flags_t f = {.strategy = strategy, .max_restarts = 3, .max_seconds = 3600};
    arbor_pid_t sup;
    ASSERT_OK(arbor_sup_start(&f, specs, 3, NULL, &sup, NULL));
    arbor_pid_t c1 = ev_expect(EV_STARTED, "c1").pid;
    arbor_pid_t c2 = ev_expect(EV_STARTED, "c2").pid;
    arbor_pid_t c3 = ev_expect(EV_STARTED, "c3").pid;
    stop_and_wait(c2, ARBOR_NORMAL);
    ev_expect(EV_TERMINATED, "c2");
    ASSERT_U64_EQ(child_pid(sup, "c2"), ARBOR_NOPID);
    ASSERT_U64_EQ(child_pid(sup, "c1"), c1);
    ASSERT_U64_EQ(child_pid(sup, "c3"), c3);
    ASSERT_OK(arbor_sup_terminate_child(sup, "c3"));
    kill_child(c1);
    arbor_pid_t n1 = ev_expect(EV_STARTED, "c1").pid;
    arbor_pid_t n2 = ev_expect(EV_STARTED, "c2").pid;
    arbor_pid_t n3 = ev_expect(EV_STARTED, "c3").pid;
    ASSERT_U64_EQ(child_pid(sup, "c1"), n1);
    ASSERT_U64_EQ(child_pid(sup, "c2"), n2);
    ASSERT_U64_EQ(child_pid(sup, "c3"), n3);
    assert_counts(sup, 3, 3, 0, 3);
    ASSERT_OK(arbor_sup_stop(sup, ARBOR_NORMAL));
}

static void group_restart_starts_stopped_root(void *arg)
{
    (void)arg;
    group_restart_starts_stopped(ARBOR_ONE_FOR_ALL);
    group_restart_starts_stopped(ARBOR_REST_FOR_ONE);
}

TEST(supervisor_group_restart_starts_stopped_specs_too)
{
    arbor_test_run(group_restart_starts_stopped_root, NULL);
}

/*
 * SV-39 (supervisor_SUITE simple_global_supervisor): a registered
 * supervisor over a two-level one_for_all tree whose worker is registered
 * too; whether the worker is killed, exits normal, or is terminated and
 * restarted through the API, the name then finds the new pid. Arbor has
 * only local names (no global registry, no nodes), so the names here are
 * local: what is tested is that a restarted child's name follows it.
 */
static void sv39(void *arg)
{
    (void)arg;
    ctl_arg_t w = ctl("worker");
    w.name = "sv39_worker";
    arbor_child_spec_t leaf = ctl_spec(&w, ARBOR_PERMANENT);
    arbor_sup_flags_t all = {.strategy = ARBOR_ONE_FOR_ALL, .max_restarts = 3, .max_seconds = 60};
    nested_arg_t mid_arg = {.flags = all, .children = &leaf, .n = 1};
    arbor_child_spec_t mid = {
        .id = "mid", .start = nested_start, .arg = &mid_arg, .type = ARBOR_SUPERVISOR_CHILD};
    arbor_sup_opts_t o = {.name = "sv39_sup"};
    arbor_pid_t top;
    ASSERT_OK(arbor_sup_start(&all, &mid, 1, &o, &top, NULL));
    ASSERT_U64_EQ(arbor_whereis("sv39_sup"), top);
    arbor_pid_t sup = child_pid(top, "mid");
    arbor_pid_t w1 = ev_expect(EV_STARTED, "worker").pid;
    ASSERT_U64_EQ(arbor_whereis("sv39_worker"), w1);

    kill_child(w1);
    arbor_pid_t w2 = ev_expect(EV_STARTED, "worker").pid;
    ASSERT_NE(w2, w1);
    ASSERT_U64_EQ(arbor_whereis("sv39_worker"), w2);

    stop_with(w2, ARBOR_NORMAL);
    ev_expect(EV_TERMINATED, "worker");
    arbor_pid_t w3 = ev_expect(EV_STARTED, "worker").pid;
    ASSERT_NE(w3, w2);
    ASSERT_U64_EQ(arbor_whereis("sv39_worker"), w3);

    ASSERT_OK(arbor_sup_terminate_child(sup, "worker"));
    ASSERT_U64_EQ(arbor_whereis("sv39_worker"), ARBOR_NOPID);
    arbor_pid_t w4;
    ASSERT_OK(arbor_sup_restart_child(sup, "worker", &w4, NULL));
    ASSERT_U64_EQ(ev_expect(EV_STARTED, "worker").pid, w4);
    ASSERT_NE(w4, w3);
    ASSERT_U64_EQ(arbor_whereis("sv39_worker"), w4);
    ASSERT_U64_EQ(child_pid(top, "mid"), sup); /* the tree above stood */
    ASSERT_OK(arbor_sup_stop(top, ARBOR_NORMAL));
    ASSERT_U64_EQ(arbor_whereis("sv39_sup"), ARBOR_NOPID);
}

TEST(SV_39_registered_names_in_a_one_for_all_tree_follow_each_restart)
{
    arbor_test_run(sv39, NULL);
}

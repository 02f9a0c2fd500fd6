/*
 * The supervisor's core, as the course presents it: the three strategies
 * on three children with the middle one killed (docs/semantics.md 3.3), the
 * restart intensity (3.4), a child start that fails, and the child API
 * with which_children / count_children (3.5).
 */
#include "sup_fixture.h"

typedef struct {
    arbor_strategy_t strategy;
} strat_t;

static void three_children(arbor_strategy_t strategy, worker_arg_t args[3], arbor_pid_t *sup)
{
    static const char *ids[3] = {"a", "b", "c"};
    arbor_child_spec_t specs[3];
    for (int i = 0; i < 3; i++) {
        args[i] = (worker_arg_t){.id = ids[i], .log = arbor_self(), .trap = true};
        specs[i] = (arbor_child_spec_t){.id = ids[i], .start = worker_start, .arg = &args[i]};
    }
    arbor_sup_flags_t flags = ARBOR_SUP_FLAGS_DEFAULT;
    flags.strategy = strategy;
    ASSERT_OK(arbor_sup_start(&flags, specs, 3, NULL, sup, NULL));
    for (int i = 0; i < 3; i++)
        expect_event(EV_STARTED, ids[i]);
}

static void kill_middle(void *arg)
{
    strat_t *st = arg;
    worker_arg_t args[3];
    arbor_pid_t sup;
    three_children(st->strategy, args, &sup);
    arbor_pid_t a = child_pid(sup, "a"), b = child_pid(sup, "b"), c = child_pid(sup, "c");
    ASSERT_OK(arbor_exit_pid(b, ARBOR_KILL));
    switch (st->strategy) {
    case ARBOR_ONE_FOR_ONE:
        expect_event(EV_STARTED, "b");
        break;
    case ARBOR_ONE_FOR_ALL:
        /* Observed on the BEAM: terminate c, terminate a (reverse order), then a, b, c. */
        expect_event(EV_TERMINATED, "c");
        expect_event(EV_TERMINATED, "a");
        expect_event(EV_STARTED, "a");
        expect_event(EV_STARTED, "b");
        expect_event(EV_STARTED, "c");
        break;
    case ARBOR_REST_FOR_ONE:
        expect_event(EV_TERMINATED, "c");
        expect_event(EV_STARTED, "b");
        expect_event(EV_STARTED, "c");
        break;
    }
    arbor_pid_t a2 = child_pid(sup, "a"), b2 = child_pid(sup, "b"), c2 = child_pid(sup, "c");
    ASSERT_NE(b2, b);
    ASSERT_NE(b2, ARBOR_NOPID);
    if (st->strategy == ARBOR_ONE_FOR_ONE) {
        ASSERT_U64_EQ(a2, a);
        ASSERT_U64_EQ(c2, c);
    } else if (st->strategy == ARBOR_ONE_FOR_ALL) {
        ASSERT_NE(a2, a);
        ASSERT_NE(c2, c);
    } else {
        ASSERT_U64_EQ(a2, a);
        ASSERT_NE(c2, c);
    }
    ASSERT_OK(arbor_sup_stop(sup, ARBOR_NORMAL));
    /* Shutdown in reverse start order: c, b, a. */
    ASSERT_REASON(expect_event(EV_TERMINATED, "c").reason, ARBOR_EXIT_SHUTDOWN, "");
    expect_event(EV_TERMINATED, "b");
    expect_event(EV_TERMINATED, "a");
}

TEST(one_for_one_restarts_only_the_killed_child)
{
    strat_t st = {ARBOR_ONE_FOR_ONE};
    arbor_test_run(kill_middle, &st);
}

TEST(one_for_all_restarts_every_child_in_start_order)
{
    strat_t st = {ARBOR_ONE_FOR_ALL};
    arbor_test_run(kill_middle, &st);
}

TEST(rest_for_one_restarts_the_child_and_those_after_it)
{
    strat_t st = {ARBOR_REST_FOR_ONE};
    arbor_test_run(kill_middle, &st);
}

static void intensity_root(void *arg)
{
    arbor_trap_exit(true);
    worker_arg_t wa = {.id = "w", .log = arbor_self()};
    arbor_child_spec_t spec = {.id = "w", .start = worker_start, .arg = &wa};
    arbor_sup_flags_t flags = ARBOR_SUP_FLAGS_DEFAULT; /* 3 restarts in 5 s */
    arbor_pid_t sup;
    arbor_sup_opts_t o = {.link = true};
    ASSERT_OK(arbor_sup_start(&flags, &spec, 1, &o, &sup, NULL));
    expect_event(EV_STARTED, "w");
    for (int kill = 1; kill <= 3; kill++) {
        kill_and_wait(child_pid(sup, "w"));
        expect_event(EV_STARTED, "w");
    }
    /* The fourth restart-worthy exit within 5 s: the supervisor gives up. */
    kill_and_wait(child_pid(sup, "w"));
    arbor_msg_t *m = arbor_test_recv_tag(ARBOR_TAG_EXIT, 5000);
    arbor_exit_msg_t *e = m->data;
    ASSERT_U64_EQ(e->from, sup);
    ASSERT_REASON(e->reason, ARBOR_EXIT_SHUTDOWN, "");
    arbor_msg_free(m);
}

TEST(fourth_restart_within_max_seconds_shuts_the_supervisor_down)
{
    arbor_test_run(intensity_root, NULL);
}

static void failed_start_root(void *arg)
{
    worker_arg_t args[3] = {{.id = "c1", .log = arbor_self(), .trap = true},
                            {.id = "c2", .log = arbor_self(), .fail_starts = -1},
                            {.id = "c3", .log = arbor_self()}};
    arbor_child_spec_t specs[3];
    for (int i = 0; i < 3; i++)
        specs[i] = (arbor_child_spec_t){.id = args[i].id, .start = worker_start, .arg = &args[i]};
    arbor_sup_flags_t flags = ARBOR_SUP_FLAGS_DEFAULT;
    arbor_pid_t sup;
    arbor_reason_t err;
    ASSERT_ERR(arbor_sup_start(&flags, specs, 3, NULL, &sup, &err), ARBOR_EEXIT);
    ASSERT_REASON(err, ARBOR_EXIT_SHUTDOWN, "failed_to_start_child c2: init_failed c2");
    expect_event(EV_STARTED, "c1");
    ASSERT_REASON(expect_event(EV_TERMINATED, "c1").reason, ARBOR_EXIT_SHUTDOWN, "");
    arbor_test_no_message(50); /* c3 never started */
}

TEST(failed_child_start_stops_the_started_ones_and_fails_the_start)
{
    arbor_test_run(failed_start_root, NULL);
}

static void api_root(void *arg)
{
    worker_arg_t args[2] = {{.id = "c1", .log = arbor_self()}, {.id = "c2", .log = arbor_self()}};
    arbor_child_spec_t specs[2] = {{.id = "c1", .start = worker_start, .arg = &args[0]},
                                   {.id = "c2", .start = worker_start, .arg = &args[1]}};
    arbor_sup_flags_t flags = ARBOR_SUP_FLAGS_DEFAULT;
    arbor_pid_t sup, pid;
    ASSERT_OK(arbor_sup_start(&flags, specs, 2, NULL, &sup, NULL));
    expect_event(EV_STARTED, "c1");
    expect_event(EV_STARTED, "c2");
    arbor_child_info_t *kids;
    size_t n;
    ASSERT_OK(arbor_sup_which_children(sup, &kids, &n));
    ASSERT_EQ(n, 2);
    ASSERT_STREQ(kids[0].id, "c2"); /* most recently started first */
    ASSERT_STREQ(kids[1].id, "c1");
    free(kids);
    arbor_child_counts_t cnt;
    ASSERT_OK(arbor_sup_count_children(sup, &cnt));
    ASSERT_EQ(cnt.specs, 2);
    ASSERT_EQ(cnt.active, 2);
    ASSERT_EQ(cnt.workers, 2);
    ASSERT_EQ(cnt.supervisors, 0);
    ASSERT_ERR(arbor_sup_start_child(sup, &specs[0], &pid, NULL), ARBOR_EEXIST);
    ASSERT_U64_EQ(pid, child_pid(sup, "c1"));
    ASSERT_ERR(arbor_sup_delete_child(sup, "c1"), ARBOR_ERUNNING);
    ASSERT_OK(arbor_sup_terminate_child(sup, "c1"));
    ASSERT_OK(arbor_sup_terminate_child(sup, "c1"));
    ASSERT_ERR(arbor_sup_terminate_child(sup, "nope"), ARBOR_ENOENT);
    ASSERT_U64_EQ(child_pid(sup, "c1"), ARBOR_NOPID);
    ASSERT_OK(arbor_sup_count_children(sup, &cnt));
    ASSERT_EQ(cnt.active, 1);
    ASSERT_EQ(cnt.specs, 2);
    ASSERT_ERR(arbor_sup_start_child(sup, &specs[0], &pid, NULL), ARBOR_EPRESENT);
    ASSERT_OK(arbor_sup_restart_child(sup, "c1", &pid, NULL));
    expect_event(EV_STARTED, "c1");
    ASSERT_ERR(arbor_sup_restart_child(sup, "c1", &pid, NULL), ARBOR_ERUNNING);
    ASSERT_OK(arbor_sup_terminate_child(sup, "c1"));
    ASSERT_OK(arbor_sup_delete_child(sup, "c1"));
    ASSERT_ERR(arbor_sup_delete_child(sup, "c1"), ARBOR_ENOENT);
    ASSERT_OK(arbor_sup_stop(sup, ARBOR_NORMAL));
}

TEST(child_life_cycle_through_the_api)
{
    arbor_test_run(api_root, NULL);
}

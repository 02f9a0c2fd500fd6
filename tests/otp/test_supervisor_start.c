/*
 * Supervisor scenarios, ported to Arbor from OTP's and Elixir's suites (the
 * SV numbers name them). Starting a supervisor: a module's init (ok,
 * ignore, an error), the flags refused as invalid, children started in list
 * order, children that ignore or fail their start (SV-01 .. SV-06, SV-10,
 * SV-11). The ctl, ign and nested children are the fixture's
 * (sup_fixture.h).
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sup_fixture.h"
/* ---- start and init (SV-01 .. SV-11) ---------------------------------------------------- */

typedef struct {
    int rc; /* what init returns */
    arbor_strategy_t strategy;
} mod_arg_t;

static int mod_init(void *arg, arbor_sup_flags_t *flags, const arbor_child_spec_t **children,
                    size_t *n)
{
    mod_arg_t *a = arg;
    *flags = (arbor_sup_flags_t){.strategy = a->strategy, .max_restarts = 2, .max_seconds = 3600};
    *children = NULL;
    *n = 0;
    return a->rc;
}

static const arbor_sup_module_t test_mod = {.label = "sup_test", .init = mod_init};

/* init returns {ok, {{one_for_one, 2, 3600}, []}}: start_link, then exit(Sup, shutdown). */
static void sv01(void *arg)
{
    (void)arg;
    arbor_trap_exit(true);
    mod_arg_t ma = {.rc = 0, .strategy = ARBOR_ONE_FOR_ONE};
    arbor_pid_t sup;
    arbor_sup_opts_t o = {.link = true};
    ASSERT_OK(arbor_sup_start_module(&test_mod, &ma, &o, &sup, NULL));
    ASSERT_TRUE(arbor_test_alive(sup));
    ASSERT_EQ(n_children(sup), 0);
    assert_counts(sup, 0, 0, 0, 0);
    ASSERT_OK(arbor_exit_pid(sup, ARBOR_SHUTDOWN));
    ASSERT_REASON(await_exit(sup), ARBOR_EXIT_SHUTDOWN, "");
    arbor_test_no_message(20);
}

TEST(SV_01_module_supervisor_starts_and_stops_cleanly)
{
    arbor_test_run(sv01, NULL);
}

/* init returns ignore: the start returns ARBOR_IGNORED and a trapping linked
 * caller is left no EXIT message (newest OTP). */
static void sv02(void *arg)
{
    (void)arg;
    arbor_trap_exit(true);
    mod_arg_t ma = {.rc = ARBOR_IGNORED};
    arbor_pid_t sup = ARBOR_NOPID;
    arbor_sup_opts_t o = {.link = true, .name = "sv02_sup"};
    ASSERT_ERR(arbor_sup_start_module(&test_mod, &ma, &o, &sup, NULL), ARBOR_IGNORED);
    ASSERT_U64_EQ(arbor_whereis("sv02_sup"), ARBOR_NOPID);
    arbor_test_no_message(50);
}

TEST(SV_02_module_init_returning_ignore_makes_the_start_ignored)
{
    arbor_test_run(sv02, NULL);
}

/* A permanent child whose start returns ignore: {ok, undefined}, spec kept;
 * then a normal child. */
static void sv03(void *arg)
{
    (void)arg;
    arbor_pid_t sup, p1 = 123, p2;
    ASSERT_OK(arbor_sup_start(&flags_1_for_1, NULL, 0, NULL, &sup, NULL));
    arbor_child_spec_t s1 = {.id = "child1", .start = ign_start};
    ASSERT_ERR(arbor_sup_start_child(sup, &s1, &p1, NULL), ARBOR_IGNORED);
    ASSERT_U64_EQ(p1, ARBOR_NOPID);
    ctl_arg_t a2 = ctl("child2");
    arbor_child_spec_t s2 = ctl_spec(&a2, ARBOR_PERMANENT);
    ASSERT_OK(arbor_sup_start_child(sup, &s2, &p2, NULL));
    ASSERT_U64_EQ(ev_expect(EV_STARTED, "child2").pid, p2);

    arbor_child_info_t *kids;
    size_t n;
    ASSERT_OK(arbor_sup_which_children(sup, &kids, &n));
    ASSERT_EQ(n, 2);
    ASSERT_STREQ(kids[0].id, "child2");
    ASSERT_U64_EQ(kids[0].pid, p2);
    ASSERT_EQ(kids[0].status, ARBOR_CHILD_RUNNING);
    ASSERT_STREQ(kids[1].id, "child1");
    ASSERT_U64_EQ(kids[1].pid, ARBOR_NOPID);
    ASSERT_EQ(kids[1].status, ARBOR_CHILD_UNDEFINED);
    free(kids);
    assert_counts(sup, 2, 1, 0, 2);
    /* The kept spec can be restarted: it ignores again. */
    ASSERT_ERR(arbor_sup_restart_child(sup, "child1", &p1, NULL), ARBOR_IGNORED);
    assert_counts(sup, 2, 1, 0, 2);
    ASSERT_OK(arbor_sup_stop(sup, ARBOR_NORMAL));
}

TEST(SV_03_ignoring_permanent_child_is_kept_without_a_pid)
{
    arbor_test_run(sv03, NULL);
}

/* A temporary child that returns ignore is not kept: given in the start
 * list or added with start_child. */
static void sv04(void *arg)
{
    (void)arg;
    ctl_arg_t wa = ctl("w");
    arbor_child_spec_t specs[2] = {
        {.id = "t", .start = ign_start, .restart = ARBOR_TEMPORARY},
        ctl_spec(&wa, ARBOR_PERMANENT),
    };
    arbor_pid_t sup, pid = 123;
    ASSERT_OK(arbor_sup_start(&flags_1_for_1, specs, 2, NULL, &sup, NULL));
    ev_expect(EV_STARTED, "w");
    assert_counts(sup, 1, 1, 0, 1);
    arbor_child_spec_t cs;
    char idbuf[ARBOR_CHILD_ID_MAX + 1];
    ASSERT_ERR(arbor_sup_get_childspec(sup, "t", &cs, idbuf), ARBOR_ENOENT);

    arbor_child_spec_t t2 = {.id = "t2", .start = ign_start, .restart = ARBOR_TEMPORARY};
    ASSERT_ERR(arbor_sup_start_child(sup, &t2, &pid, NULL), ARBOR_IGNORED);
    ASSERT_U64_EQ(pid, ARBOR_NOPID);
    assert_counts(sup, 1, 1, 0, 1);
    ASSERT_ERR(arbor_sup_get_childspec(sup, "t2", &cs, idbuf), ARBOR_ENOENT);
    ASSERT_EQ(n_children(sup), 1);
    ASSERT_OK(arbor_sup_stop(sup, ARBOR_NORMAL));
}

TEST(SV_04_ignoring_temporary_child_is_not_kept)
{
    arbor_test_run(sv04, NULL);
}

/* init returns something that is neither 0 nor ignore: {error, {bad_return,
 * {Mod, init, Value}}} becomes ARBOR_EEXIT with "bad_return: ..." (Value is
 * the error code's name). The Erlang "init raises" case is init exiting the
 * process: the start fails with that reason. */
static int exiting_init(void *arg, arbor_sup_flags_t *flags, const arbor_child_spec_t **children,
                        size_t *n)
{
    (void)arg;
    (void)flags;
    (void)children;
    (void)n;
    arbor_exit(arbor_error("fail"));
}

static const arbor_sup_module_t exiting_mod = {.label = "sup_fail", .init = exiting_init};

static void sv05(void *arg)
{
    (void)arg;
    arbor_trap_exit(true);
    mod_arg_t ma = {.rc = ARBOR_EINVAL};
    arbor_pid_t sup;
    arbor_reason_t err = ARBOR_NORMAL;
    arbor_sup_opts_t o = {.link = true};
    ASSERT_ERR(arbor_sup_start_module(&test_mod, &ma, &o, &sup, &err), ARBOR_EEXIT);
    ASSERT_EQ(err.kind, ARBOR_EXIT_ERROR);
    ASSERT_TRUE(strncmp(err.detail, "bad_return", 10) == 0);
    ASSERT_TRUE(strstr(err.detail, "sup_test") != NULL);

    err = ARBOR_NORMAL;
    ASSERT_ERR(arbor_sup_start_module(&exiting_mod, NULL, &o, &sup, &err), ARBOR_EEXIT);
    ASSERT_REASON(err, ARBOR_EXIT_ERROR, "fail");
    arbor_test_no_message(50); /* no EXIT left behind for the trapping caller */
}

TEST(SV_05_module_init_returning_an_error_fails_the_start)
{
    arbor_test_run(sv05, NULL);
}

/* A child whose start returns an error: start_child fails with the reason and
 * the spec is not kept. */
static int error_start(void *arg, arbor_pid_t *pid, arbor_reason_t *err)
{
    (void)arg;
    (void)pid;
    *err = arbor_error("reason");
    return ARBOR_EEXIT;
}

static int bad_code_start(void *arg, arbor_pid_t *pid, arbor_reason_t *err)
{
    (void)arg;
    (void)pid;
    (void)err;
    return ARBOR_ENOMEM; /* not one of the documented returns: error_reason */
}

static void sv06(void *arg)
{
    (void)arg;
    arbor_pid_t sup, pid;
    ASSERT_OK(arbor_sup_start(&flags_1_for_1, NULL, 0, NULL, &sup, NULL));
    arbor_child_spec_t s = {.id = "child1", .start = error_start};
    arbor_reason_t err = ARBOR_NORMAL;
    ASSERT_ERR(arbor_sup_start_child(sup, &s, &pid, &err), ARBOR_EEXIT);
    ASSERT_REASON(err, ARBOR_EXIT_ERROR, "reason");
    ASSERT_EQ(n_children(sup), 0);

    arbor_child_spec_t s2 = {.id = "child2", .start = bad_code_start};
    err = ARBOR_NORMAL;
    ASSERT_ERR(arbor_sup_start_child(sup, &s2, &pid, &err), ARBOR_EEXIT);
    ASSERT_EQ(err.kind, ARBOR_EXIT_ERROR);
    ASSERT_STREQ(err.detail, arbor_err_name(ARBOR_ENOMEM));
    ASSERT_EQ(n_children(sup), 0);
    assert_counts(sup, 0, 0, 0, 0);
    /* A worker whose init stops: its reason comes back. */
    worker_arg_t wa = {.id = "w", .log = arbor_self(), .fail_starts = -1};
    arbor_child_spec_t s3 = {.id = "w", .start = worker_start, .arg = &wa};
    err = ARBOR_NORMAL;
    ASSERT_ERR(arbor_sup_start_child(sup, &s3, &pid, &err), ARBOR_EEXIT);
    ASSERT_REASON(err, ARBOR_EXIT_ERROR, "init_failed w");
    ASSERT_EQ(n_children(sup), 0);
    ASSERT_OK(arbor_sup_stop(sup, ARBOR_NORMAL));
}

TEST(SV_06_child_start_error_is_returned_and_the_spec_dropped)
{
    arbor_test_run(sv06, NULL);
}

/* 5 children with ids out of alphabetical order under rest_for_one start in
 * list order (each start waits for the child's init), are listed newest
 * first, and a restart of the third stops the later ones in reverse order. */
static void sv11(void *arg)
{
    (void)arg;
    static const char *ids[5] = {"e", "c", "a", "d", "b"};
    ctl_arg_t args[5];
    arbor_child_spec_t specs[5];
    for (int i = 0; i < 5; i++) {
        args[i] = ctl(ids[i]);
        args[i].trap = true;
        specs[i] = ctl_spec(&args[i], ARBOR_PERMANENT);
    }
    arbor_sup_flags_t f = {.strategy = ARBOR_REST_FOR_ONE, .max_restarts = 2, .max_seconds = 3600};
    arbor_pid_t sup;
    ASSERT_OK(arbor_sup_start(&f, specs, 5, NULL, &sup, NULL));
    for (int i = 0; i < 5; i++)
        ev_expect(EV_STARTED, ids[i]);
    arbor_child_info_t *kids;
    size_t n;
    ASSERT_OK(arbor_sup_which_children(sup, &kids, &n));
    ASSERT_EQ(n, 5);
    for (int i = 0; i < 5; i++)
        ASSERT_STREQ(kids[i].id, ids[4 - i]);
    free(kids);

    ASSERT_OK(arbor_exit_pid(child_pid(sup, "a"), ARBOR_KILL));
    ASSERT_REASON(ev_expect(EV_TERMINATED, "b").reason, ARBOR_EXIT_SHUTDOWN, "");
    ASSERT_REASON(ev_expect(EV_TERMINATED, "d").reason, ARBOR_EXIT_SHUTDOWN, "");
    ev_expect(EV_STARTED, "a");
    ev_expect(EV_STARTED, "d");
    ev_expect(EV_STARTED, "b");

    ASSERT_OK(arbor_sup_stop(sup, ARBOR_NORMAL));
    for (int i = 4; i >= 0; i--)
        ev_expect(EV_TERMINATED, ids[i]);
}

TEST(SV_11_children_start_in_list_order)
{
    arbor_test_run(sv11, NULL);
}

/* Bad flags are rejected before anything starts. */
static void sv10(void *arg)
{
    (void)arg;
    arbor_pid_t sup;
    arbor_reason_t r;
    arbor_sup_flags_t f = flags_1_for_1;
    f.strategy = (arbor_strategy_t)7;
    ASSERT_ERR(arbor_sup_start(&f, NULL, 0, NULL, &sup, &r), ARBOR_EINVAL);
    ASSERT_REASON(r, ARBOR_EXIT_ERROR, "invalid_strategy: 7");
    f = flags_1_for_1;
    f.max_restarts = -1;
    ASSERT_ERR(arbor_sup_start(&f, NULL, 0, NULL, &sup, &r), ARBOR_EINVAL);
    ASSERT_REASON(r, ARBOR_EXIT_ERROR, "invalid_intensity: -1");
    f = flags_1_for_1;
    f.max_seconds = 0;
    ASSERT_ERR(arbor_sup_start(&f, NULL, 0, NULL, &sup, &r), ARBOR_EINVAL);
    ASSERT_REASON(r, ARBOR_EXIT_ERROR, "invalid_period: 0");
    f = flags_1_for_1;
    f.auto_shutdown = (arbor_auto_shutdown_t)9;
    ASSERT_ERR(arbor_sup_start(&f, NULL, 0, NULL, &sup, &r), ARBOR_EINVAL);
    ASSERT_REASON(r, ARBOR_EXIT_ERROR, "invalid_auto_shutdown: 9");
    /* The same from a module's init: the start fails with start_spec. */
    mod_arg_t ma = {.rc = 0, .strategy = (arbor_strategy_t)7};
    r = ARBOR_NORMAL;
    ASSERT_ERR(arbor_sup_start_module(&test_mod, &ma, NULL, &sup, &r), ARBOR_EEXIT);
    ASSERT_REASON(r, ARBOR_EXIT_ERROR, "start_spec: invalid_strategy: 7");
    /* max_restarts 0 is valid. */
    f = flags_1_for_1;
    f.max_restarts = 0;
    ASSERT_OK(arbor_sup_start(&f, NULL, 0, NULL, &sup, NULL));
    ASSERT_OK(arbor_sup_stop(sup, ARBOR_NORMAL));
}

TEST(SV_10_invalid_supervisor_flags_are_rejected)
{
    arbor_test_run(sv10, NULL);
}

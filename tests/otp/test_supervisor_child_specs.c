/*
 * Supervisor scenarios, ported to Arbor from OTP's and Elixir's suites (the
 * SV numbers name them). Child specs: the defaults get_childspec shows, and
 * the specs refused as invalid (SV-08, SV-09). The ctl, ign and nested
 * children are the fixture's (sup_fixture.h).
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sup_fixture.h"

/* Omitted spec fields take the defaults: permanent, shutdown default (5000
 * for a worker, infinity for a supervisor: ARBOR_SHUTDOWN_DEFAULT stands for
 * both), worker. */
static void sv08(void *arg)
{
    (void)arg;
    ctl_arg_t a = ctl("child1");
    arbor_child_spec_t spec = {.id = "child1", .start = ctl_start, .arg = &a};
    arbor_pid_t sup;
    ASSERT_OK(arbor_sup_start(&flags_1_for_1, &spec, 1, NULL, &sup, NULL));
    ev_expect(EV_STARTED, "child1");
    arbor_child_spec_t got;
    char idbuf[ARBOR_CHILD_ID_MAX + 1];
    ASSERT_OK(arbor_sup_get_childspec(sup, "child1", &got, idbuf));
    ASSERT_STREQ(got.id, "child1");
    ASSERT_EQ(got.restart, ARBOR_PERMANENT);
    ASSERT_EQ(got.shutdown, ARBOR_SHUTDOWN_DEFAULT);
    ASSERT_EQ(got.type, ARBOR_WORKER);
    ASSERT_FALSE(got.significant);
    ASSERT_TRUE(got.start == ctl_start);
    ASSERT_PTR_EQ(got.arg, &a);
    ASSERT_ERR(arbor_sup_get_childspec(sup, "nope", &got, idbuf), ARBOR_ENOENT);
    ASSERT_OK(arbor_sup_stop(sup, ARBOR_NORMAL));
}

TEST(SV_08_get_childspec_shows_the_defaults)
{
    arbor_test_run(sv08, NULL);
}

/* Bad specs: check_spec and start_child name the fault; at start nothing is
 * started (Erlang wraps them in {start_spec, _}; arbor_sup_start returns the
 * fault itself). */
static void expect_bad_spec(arbor_pid_t sup, const arbor_child_spec_t *s, const char *why)
{
    arbor_reason_t r = ARBOR_NORMAL;
    ASSERT_ERR(arbor_sup_check_spec(s, &r), ARBOR_EINVAL);
    ASSERT_REASON(r, ARBOR_EXIT_ERROR, why);
    arbor_pid_t pid;
    r = ARBOR_NORMAL;
    ASSERT_ERR(arbor_sup_start_child(sup, s, &pid, &r), ARBOR_EINVAL);
    ASSERT_REASON(r, ARBOR_EXIT_ERROR, why);
    arbor_pid_t sup2 = ARBOR_NOPID;
    r = ARBOR_NORMAL;
    ASSERT_ERR(arbor_sup_start(&flags_1_for_1, s, 1, NULL, &sup2, &r), ARBOR_EINVAL);
    ASSERT_REASON(r, ARBOR_EXIT_ERROR, why);
}

static void sv09(void *arg)
{
    (void)arg;
    ctl_arg_t a = ctl("x");
    arbor_pid_t sup;
    ASSERT_OK(arbor_sup_start(&flags_1_for_1, NULL, 0, NULL, &sup, NULL));
    arbor_child_spec_t good = ctl_spec(&a, ARBOR_PERMANENT);
    arbor_child_spec_t s;

    s = good;
    s.shutdown = -10;
    expect_bad_spec(sup, &s, "invalid_shutdown: -10");
    s = good;
    s.id = NULL;
    expect_bad_spec(sup, &s, "missing_id");
    s = good;
    s.id = "";
    expect_bad_spec(sup, &s, "missing_id");
    s = good;
    s.start = NULL;
    expect_bad_spec(sup, &s, "missing_start");
    s = good;
    s.restart = (arbor_restart_t)7; /* prmanent */
    expect_bad_spec(sup, &s, "invalid_restart_type: 7");
    s = good;
    s.type = (arbor_child_type_t)5; /* wrker */
    expect_bad_spec(sup, &s, "invalid_child_type: 5");
    ASSERT_EQ(n_children(sup), 0);

    /* Duplicate ids at start: nothing starts. */
    ctl_arg_t b = ctl("x");
    arbor_child_spec_t dup[2] = {good, ctl_spec(&b, ARBOR_PERMANENT)};
    arbor_reason_t r = ARBOR_NORMAL;
    arbor_pid_t sup2;
    ASSERT_ERR(arbor_sup_start(&flags_1_for_1, dup, 2, NULL, &sup2, &r), ARBOR_EINVAL);
    ASSERT_REASON(r, ARBOR_EXIT_ERROR, "duplicate_child_name: x");
    ASSERT_EQ(atomic_load(&a.starts), 0);
    ASSERT_EQ(atomic_load(&b.starts), 0);
    no_event(20);
    ASSERT_OK(arbor_sup_stop(sup, ARBOR_NORMAL));
}

TEST(SV_09_invalid_child_specs_are_rejected)
{
    arbor_test_run(sv09, NULL);
}

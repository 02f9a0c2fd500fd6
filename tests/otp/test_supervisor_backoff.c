/*
 * Restart back-off, an Arbor extension (OTP restarts at once; see
 * docs/semantics.md 3.3 and arbor_child_spec_t): each restart of a child
 * with back-off waits a delay that doubles up to a cap and starts over
 * after a healthy run; without it a restart is immediate, as in OTP.
 */
#include "sup_fixture.h"

static arbor_child_status_t status_of(arbor_pid_t sup, const char *id)
{
    arbor_child_info_t *kids;
    size_t n;
    ASSERT_OK(arbor_sup_which_children(sup, &kids, &n));
    arbor_child_status_t st = 0;
    for (size_t i = 0; i < n; i++)
        if (strcmp(kids[i].id, id) == 0)
            st = kids[i].status;
    free(kids);
    return st;
}

/* Kills child id and returns how many ms passed until it was running again. */
static uint64_t restart_delay(arbor_pid_t sup, const char *id, bool expect_restarting)
{
    uint64_t t0 = arbor_now_ms();
    kill_and_wait(child_pid(sup, id));
    if (expect_restarting)
        ASSERT_EQ(status_of(sup, id), ARBOR_CHILD_RESTARTING);
    expect_event(EV_STARTED, id);
    return arbor_now_ms() - t0;
}

static void backoff_root(void *arg)
{
    worker_arg_t wa = {.id = "w", .log = arbor_self()};
    arbor_child_spec_t spec = {.id = "w",
                               .start = worker_start,
                               .arg = &wa,
                               .backoff_ms = 40,
                               .backoff_max_ms = 400,
                               .backoff_reset_ms = 300};
    arbor_sup_flags_t flags = {
        .strategy = ARBOR_ONE_FOR_ONE, .max_restarts = 100, .max_seconds = 5};
    arbor_pid_t sup;
    ASSERT_OK(arbor_sup_start(&flags, &spec, 1, NULL, &sup, NULL));
    expect_event(EV_STARTED, "w");
    /* Delays: 40, 80, 160, 320, 400 (capped), each times [0.5, 1.5). */
    ASSERT_GE(restart_delay(sup, "w", true), 20);
    ASSERT_GE(restart_delay(sup, "w", true), 40);
    ASSERT_GE(restart_delay(sup, "w", true), 80);
    ASSERT_GE(restart_delay(sup, "w", true), 160);
    uint64_t capped = restart_delay(sup, "w", true);
    ASSERT_GE(capped, 200);
    ASSERT_LT(capped, 2000);
    /* A healthy run longer than backoff_reset_ms (the run is the behaviour:
     * no event marks it) starts the delays over: 40 again, [20, 60), where
     * the capped delay would be at least 200 ms. */
    arbor_sleep(350);
    ASSERT_LT(restart_delay(sup, "w", true), 200);
    ASSERT_OK(arbor_sup_stop(sup, ARBOR_NORMAL));
}

TEST(restart_backoff_doubles_the_delay_and_resets_after_a_healthy_run)
{
    arbor_test_run(backoff_root, NULL);
}

static void no_backoff_root(void *arg)
{
    worker_arg_t wa = {.id = "w", .log = arbor_self()};
    arbor_child_spec_t spec = {.id = "w", .start = worker_start, .arg = &wa};
    arbor_sup_flags_t flags = ARBOR_SUP_FLAGS_DEFAULT;
    arbor_pid_t sup;
    ASSERT_OK(arbor_sup_start(&flags, &spec, 1, NULL, &sup, NULL));
    expect_event(EV_STARTED, "w");
    /* OTP's default: the restart is done before the supervisor answers. */
    kill_and_wait(child_pid(sup, "w"));
    ASSERT_EQ(status_of(sup, "w"), ARBOR_CHILD_RUNNING);
    expect_event(EV_STARTED, "w");
    ASSERT_OK(arbor_sup_stop(sup, ARBOR_NORMAL));
}

TEST(without_backoff_a_restart_is_immediate)
{
    arbor_test_run(no_backoff_root, NULL);
}

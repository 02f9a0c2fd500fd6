/*
 * A child's start function may return extra information with its pid
 * (OTP's {ok, Pid, Info}; docs/semantics.md 3.5): start_child and
 * restart_child pass it to their caller.
 */
#include "sup_fixture.h"

/* A start function returning OTP's {ok, Pid, Info}: the worker's pid, and
 * "info N" in its reason argument, N counting its starts. */
static int info_start(void *arg, arbor_pid_t *pid, arbor_reason_t *info)
{
    worker_arg_t *a = arg;
    int rc = worker_start(a, pid, info);
    if (rc == 0)
        *info = arbor_reason(ARBOR_EXIT_NORMAL, "info %d", ++a->starts);
    return rc;
}

/* start_child and restart_child hand the info to their caller; a restart
 * the supervisor makes on its own ignores it (the child just runs again),
 * and the info of a start without any is ARBOR_NORMAL. */
static void info_root(void *arg)
{
    worker_arg_t wa = {.id = "i", .log = arbor_self()};
    arbor_child_spec_t spec = {.id = "i", .start = info_start, .arg = &wa};
    arbor_sup_flags_t flags = ARBOR_SUP_FLAGS_DEFAULT;
    arbor_pid_t sup, pid = ARBOR_NOPID;
    ASSERT_OK(arbor_sup_start(&flags, NULL, 0, NULL, &sup, NULL));
    arbor_reason_t info = ARBOR_KILLED;
    ASSERT_OK(arbor_sup_start_child(sup, &spec, &pid, &info));
    expect_event(EV_STARTED, "i");
    ASSERT_U64_EQ(pid, child_pid(sup, "i"));
    ASSERT_REASON(info, ARBOR_EXIT_NORMAL, "info 1");
    kill_and_wait(pid);
    expect_event(EV_STARTED, "i"); /* restarted by the supervisor: info 2, ignored */
    ASSERT_OK(arbor_sup_terminate_child(sup, "i"));
    ASSERT_OK(arbor_sup_restart_child(sup, "i", &pid, &info));
    expect_event(EV_STARTED, "i");
    ASSERT_REASON(info, ARBOR_EXIT_NORMAL, "info 3");
    worker_arg_t plain = {.id = "p", .log = arbor_self()};
    arbor_child_spec_t pspec = {.id = "p", .start = worker_start, .arg = &plain};
    ASSERT_OK(arbor_sup_start_child(sup, &pspec, &pid, &info));
    expect_event(EV_STARTED, "p");
    ASSERT_REASON(info, ARBOR_EXIT_NORMAL, "");
    ASSERT_OK(arbor_sup_stop(sup, ARBOR_NORMAL));
}

TEST(start_child_and_restart_child_return_the_start_info)
{
    arbor_test_run(info_root, NULL);
}

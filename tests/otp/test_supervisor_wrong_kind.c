/*
 * A supervisor call sent to a process of another kind (a DynamicSupervisor,
 * a GenServer; and the DynamicSupervisor's calls to a Supervisor) fails
 * with ARBOR_EWRONGKIND instead of reading as, say, zero children
 * (docs/otp.md).
 */
#include "sup_fixture.h"

/* A Supervisor's calls sent to a DynamicSupervisor or a GenServer (the
 * fixture's worker, which answers any call with an empty reply), and a
 * DynamicSupervisor's sent to a Supervisor or a GenServer, fail with
 * ARBOR_EWRONGKIND instead of reading as no children; the processes they
 * reached keep running. */
static void wrong_kind_root(void *arg)
{
    (void)arg;
    worker_arg_t wa = {.id = "w", .log = arbor_self()};
    arbor_child_spec_t spec = {.id = "w", .start = worker_start, .arg = &wa};
    arbor_sup_flags_t flags = ARBOR_SUP_FLAGS_DEFAULT;
    arbor_pid_t sup, dyn, pid;
    ASSERT_OK(arbor_sup_start(&flags, &spec, 1, NULL, &sup, NULL));
    expect_event(EV_STARTED, "w");
    arbor_pid_t worker = child_pid(sup, "w");
    ASSERT_OK(arbor_dynsup_start(NULL, &dyn, NULL));
    arbor_child_info_t *kids = NULL;
    size_t n = 99;
    arbor_child_counts_t cnt;
    arbor_pid_t others[] = {dyn, worker};
    for (int i = 0; i < 2; i++) {
        ASSERT_ERR(arbor_sup_which_children(others[i], &kids, &n), ARBOR_EWRONGKIND);
        ASSERT_ERR(arbor_sup_count_children(others[i], &cnt), ARBOR_EWRONGKIND);
        ASSERT_ERR(arbor_sup_start_child(others[i], &spec, &pid, NULL), ARBOR_EWRONGKIND);
        ASSERT_ERR(arbor_sup_terminate_child(others[i], "w"), ARBOR_EWRONGKIND);
        arbor_child_spec_t got;
        char idbuf[ARBOR_CHILD_ID_MAX + 1];
        ASSERT_ERR(arbor_sup_get_childspec(others[i], "w", &got, idbuf), ARBOR_EWRONGKIND);
    }
    arbor_pid_t not_dyn[] = {sup, worker};
    for (int i = 0; i < 2; i++) {
        ASSERT_ERR(arbor_dynsup_which_children(not_dyn[i], &kids, &n), ARBOR_EWRONGKIND);
        ASSERT_ERR(arbor_dynsup_count_children(not_dyn[i], &cnt), ARBOR_EWRONGKIND);
        ASSERT_ERR(arbor_dynsup_start_child(not_dyn[i], &spec, &pid, NULL), ARBOR_EWRONGKIND);
        ASSERT_ERR(arbor_dynsup_terminate_child(not_dyn[i], worker), ARBOR_EWRONGKIND);
    }
    ASSERT_TRUE(kids == NULL);
    ASSERT_STREQ(arbor_err_name(ARBOR_EWRONGKIND), "ARBOR_EWRONGKIND");
    ASSERT_U64_EQ(child_pid(sup, "w"), worker); /* nobody was hurt */
    ASSERT_OK(arbor_dynsup_count_children(dyn, &cnt));
    ASSERT_EQ(cnt.specs, 0);
    ASSERT_OK(arbor_dynsup_stop(dyn, ARBOR_NORMAL));
    ASSERT_OK(arbor_sup_stop(sup, ARBOR_NORMAL));
}

TEST(supervisor_calls_to_a_process_of_another_kind_fail_with_ewrongkind)
{
    arbor_test_run(wrong_kind_root, NULL);
}

/*
 * A start function that forgets to link its process to the supervisor:
 * the child is refused with an error naming it (docs/otp.md), since its
 * death would never reach the supervisor.
 */
#include "sup_fixture.h"

enum { EV_LINKED = 300 };

/* Waits for messages for ever; with arg set, first links itself to the
 * pid at arg (its supervisor) and tells it so. */
static void idle_main(void *arg)
{
    if (arg) {
        arbor_pid_t sup = *(arbor_pid_t *)arg;
        ASSERT_OK(arbor_link(sup));
        arbor_send(sup, EV_LINKED, NULL, 0);
    }
    for (;;) {
        arbor_msg_t *m;
        if (arbor_receive(ARBOR_INFINITY, &m) == 0)
            arbor_msg_free(m);
    }
}

/* The mistake: a process started without a link to the supervisor. */
static int unlinked_start(void *arg, arbor_pid_t *pid, arbor_reason_t *err)
{
    (void)err;
    *(arbor_pid_t *)arg = ARBOR_NOPID;
    int rc = arbor_spawn(idle_main, NULL, pid);
    if (rc == 0)
        *(arbor_pid_t *)arg = *pid; /* for the test to watch */
    return rc;
}

/* No mistake: the child links itself to the supervisor, from its side,
 * before the start returns. */
static int self_linking_start(void *arg, arbor_pid_t *pid, arbor_reason_t *err)
{
    (void)arg;
    (void)err;
    arbor_pid_t sup = arbor_self();
    arbor_spawn_opts_t o = {.arg_size = sizeof sup};
    int rc = arbor_spawn_opt(idle_main, &sup, &o, pid, NULL);
    if (rc == 0)
        arbor_msg_free(arbor_test_recv_tag(EV_LINKED, 5000));
    return rc;
}

/* A child whose start returns a process not linked to the supervisor is
 * refused with an error naming it, and the process is stopped (its death
 * would never reach the supervisor, which would show it running for
 * ever); start_child keeps nothing, and a supervisor with it among its
 * children fails to start. A child that links itself is accepted. */
static void unlinked_root(void *arg)
{
    (void)arg;
    arbor_pid_t orphan = ARBOR_NOPID, sup, pid = ARBOR_NOPID;
    arbor_child_spec_t spec = {.id = "forgetful", .start = unlinked_start, .arg = &orphan};
    arbor_sup_flags_t flags = ARBOR_SUP_FLAGS_DEFAULT;
    ASSERT_OK(arbor_sup_start(&flags, NULL, 0, NULL, &sup, NULL));
    arbor_reason_t err = ARBOR_NORMAL;
    ASSERT_ERR(arbor_sup_start_child(sup, &spec, &pid, &err), ARBOR_EEXIT);
    ASSERT_EQ(err.kind, ARBOR_EXIT_ERROR);
    ASSERT_TRUE(strncmp(err.detail, "not_linked: child forgetful ", 28) == 0);
    ASSERT_U64_EQ(pid, ARBOR_NOPID);
    ASSERT_NE(orphan, ARBOR_NOPID);
    kill_and_wait(orphan); /* already gone: this only waits */
    arbor_child_counts_t cnt;
    ASSERT_OK(arbor_sup_count_children(sup, &cnt));
    ASSERT_EQ(cnt.specs, 0);

    arbor_child_spec_t good = {.id = "self_linking", .start = self_linking_start};
    ASSERT_OK(arbor_sup_start_child(sup, &good, &pid, NULL));
    kill_and_wait(pid);
    ASSERT_NE(child_pid(sup, "self_linking"), pid); /* it was restarted */
    ASSERT_NE(child_pid(sup, "self_linking"), ARBOR_NOPID);
    ASSERT_OK(arbor_sup_stop(sup, ARBOR_NORMAL));

    ASSERT_ERR(arbor_sup_start(&flags, &spec, 1, NULL, &sup, &err), ARBOR_EEXIT);
    ASSERT_EQ(err.kind, ARBOR_EXIT_SHUTDOWN);
    ASSERT_TRUE(strstr(err.detail, "not_linked") != NULL);
    kill_and_wait(orphan);
}

TEST(a_child_not_linked_to_its_supervisor_is_refused)
{
    arbor_test_run(unlinked_root, NULL);
}

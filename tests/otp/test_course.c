/*
 * The course's own examples, end to end: the SupportSystem TicketWorker
 * under a DynamicSupervisor (docs/otp.md sections 2 and 5: a killed worker
 * comes back with a new pid and its first state, and the fourth kill
 * within 5 s ends the supervisor), and a background job under a
 * Task.Supervisor (docs/otp.md section 3).
 */
#include "sup_fixture.h"

enum { ASSIGN_AGENT = 1, RESOLVE, GET };
typedef enum { OPEN, ASSIGNED, RESOLVED } status_t;

typedef struct ticket {
    int id;
    char description[48];
    status_t status;
} ticket_t;

static arbor_gs_ret_t tw_init(void **state, void *arg)
{
    ticket_t *t = arbor_alloc(sizeof *t);
    *t = *(const ticket_t *)arg; /* %{id, description, status: :open} */
    *state = t;
    return arbor_gs_ok();
}

static arbor_gs_ret_t tw_call(void **state, const arbor_msg_t *req, arbor_from_t from)
{
    ticket_t *t = *state;
    switch (req->tag) {
    case ASSIGN_AGENT:
        t->status = ASSIGNED;
        return arbor_gs_reply("ok", 3);
    case RESOLVE:
        t->status = RESOLVED;
        return arbor_gs_reply("ok", 3);
    default:
        return arbor_gs_reply(t, sizeof *t);
    }
}

static const arbor_gen_server_t ticket_worker = {
    .label = "SupportSystem.TicketWorker", .init = tw_init, .handle_call = tw_call};

static ticket_t get(arbor_pid_t pid)
{
    ticket_t t;
    ASSERT_OK(arbor_gs_call_into(pid, GET, NULL, 0, &t, sizeof t, ARBOR_GS_CALL_TIMEOUT, NULL));
    return t;
}

static arbor_pid_t only_child(arbor_pid_t sup)
{
    arbor_child_info_t *kids;
    size_t n;
    ASSERT_OK(arbor_dynsup_which_children(sup, &kids, &n));
    ASSERT_EQ(n, 1);
    arbor_pid_t pid = kids[0].pid;
    free(kids);
    return pid;
}

static void ticket_root(void *arg)
{
    arbor_trap_exit(true);
    arbor_dynsup_opts_t o = ARBOR_DYNSUP_OPTS_DEFAULT;
    o.name = "SupportSystem.TicketSupervisor";
    o.link = true;
    arbor_pid_t sup, pid;
    ASSERT_OK(arbor_dynsup_start(&o, &sup, NULL));
    ASSERT_U64_EQ(arbor_whereis("SupportSystem.TicketSupervisor"), sup);
    ticket_t details = {.id = 42, .description = "printer on fire", .status = OPEN};
    /* use GenServer's child_spec/1; the supervisor keeps the details. */
    arbor_child_spec_t spec = arbor_gs_child_spec(&ticket_worker, &details);
    spec.arg_size = sizeof details;
    ASSERT_OK(arbor_dynsup_start_child(sup, &spec, &pid, NULL));
    ASSERT_OK(arbor_gs_call(pid, ASSIGN_AGENT, NULL, 0, ARBOR_GS_CALL_TIMEOUT, NULL, NULL));
    ASSERT_EQ(get(pid).status, ASSIGNED);
    ASSERT_OK(arbor_gs_call(pid, RESOLVE, NULL, 0, ARBOR_GS_CALL_TIMEOUT, NULL, NULL));
    ASSERT_EQ(get(pid).status, RESOLVED);
    arbor_child_counts_t c;
    ASSERT_OK(arbor_dynsup_count_children(sup, &c));
    ASSERT_EQ(c.specs, 1);
    ASSERT_EQ(c.active, 1);
    ASSERT_EQ(c.workers, 1);
    /* Kill it: a new pid, and the state is back to the start arguments. */
    kill_and_wait(pid);
    arbor_pid_t again;
    do {
        again = only_child(sup);
    } while (again == ARBOR_NOPID);
    ASSERT_NE(again, pid);
    ticket_t t = get(again);
    ASSERT_EQ(t.status, OPEN);
    ASSERT_EQ(t.id, 42);
    ASSERT_STREQ(t.description, "printer on fire");
    /* Kills 2 and 3 within 5 s are absorbed; the 4th shuts it down. */
    kill_and_wait(again);
    while ((pid = only_child(sup)) == ARBOR_NOPID || pid == again)
        ;
    kill_and_wait(pid);
    while ((again = only_child(sup)) == ARBOR_NOPID || again == pid)
        ;
    kill_and_wait(again);
    arbor_msg_t *m = arbor_test_recv_tag(ARBOR_TAG_EXIT, 5000);
    ASSERT_U64_EQ(((arbor_exit_msg_t *)m->data)->from, sup);
    ASSERT_REASON(((arbor_exit_msg_t *)m->data)->reason, ARBOR_EXIT_SHUTDOWN, "");
    arbor_msg_free(m);
}

TEST(course_ticket_worker_under_dynamic_supervisor)
{
    arbor_test_run(ticket_root, NULL);
}

static size_t send_emails(void *arg, void *result, size_t cap)
{
    arbor_send(*(arbor_pid_t *)arg, 7, "sent", 5);
    return 0;
}

static size_t double_it(void *arg, void *result, size_t cap)
{
    int v = *(int *)arg * 2;
    memcpy(result, &v, sizeof v);
    return sizeof v;
}

static void task_root(void *arg)
{
    arbor_pid_t sup, pid, self = arbor_self();
    ASSERT_OK(arbor_task_sup_start(NULL, &sup, NULL));
    ASSERT_OK(arbor_task_sup_start_child(sup, send_emails, &self, NULL, &pid));
    arbor_msg_t *m = arbor_test_recv_tag(7, 5000);
    arbor_msg_free(m);
    int x = 21;
    arbor_task_t t;
    ASSERT_OK(arbor_task_sup_async_nolink(sup, double_it, &x, &t));
    ASSERT_OK(arbor_task_await(&t, ARBOR_TASK_TIMEOUT, &m, NULL));
    ASSERT_EQ(*(int *)m->data, 42);
    arbor_msg_free(m);
    ASSERT_OK(arbor_task_async(double_it, &x, &t));
    ASSERT_OK(arbor_task_await(&t, ARBOR_TASK_TIMEOUT, &m, NULL));
    ASSERT_EQ(*(int *)m->data, 42);
    arbor_msg_free(m);
    ASSERT_OK(arbor_dynsup_stop(sup, ARBOR_NORMAL));
}

TEST(course_task_supervisor_runs_a_background_job)
{
    arbor_test_run(task_root, NULL);
}

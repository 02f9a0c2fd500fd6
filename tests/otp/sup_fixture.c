#include "sup_fixture.h"

static void log_event(const worker_arg_t *a, int ev, arbor_reason_t reason)
{
    event_t e = {.pid = arbor_self(), .reason = reason};
    snprintf(e.id, sizeof e.id, "%s", a->id);
    arbor_send(a->log, (uint64_t)ev, &e, sizeof e);
}

static arbor_gs_ret_t w_init(void **state, void *arg)
{
    worker_arg_t *a = arg;
    if (a->fail_starts != 0) {
        if (a->fail_starts > 0)
            a->fail_starts--;
        return arbor_gs_halt(arbor_error("init_failed %s", a->id));
    }
    *state = a;
    log_event(a, EV_STARTED, ARBOR_NORMAL);
    return arbor_gs_ok();
}

static void w_terminate(void **state, const arbor_reason_t *reason)
{
    log_event(*state, EV_TERMINATED, *reason);
}

static arbor_gs_ret_t w_call(void **state, const arbor_msg_t *req, arbor_from_t from)
{
    return arbor_gs_reply(NULL, 0);
}

static const arbor_gen_server_t worker_gs = {
    .label = "test_worker", .init = w_init, .handle_call = w_call, .terminate = w_terminate};

int worker_start(void *arg, arbor_pid_t *pid, arbor_reason_t *err)
{
    worker_arg_t *a = arg;
    arbor_gs_opts_t o = {.link = true, .trap_exit = a->trap};
    return arbor_gs_start(&worker_gs, a, &o, pid, err);
}

event_t expect_event(int ev, const char *id)
{
    arbor_msg_t *m = arbor_test_recv(5000);
    if (m->tag != (uint64_t)ev || m->size != sizeof(event_t))
        arbor_test_fail(__FILE__, __LINE__, "expected event %d for %s, got tag %llu", ev, id,
                        (unsigned long long)m->tag);
    event_t e = *(event_t *)m->data;
    arbor_msg_free(m);
    if (strcmp(e.id, id) != 0)
        arbor_test_fail(__FILE__, __LINE__, "expected event %d for %s, got it for %s", ev, id,
                        e.id);
    return e;
}

arbor_pid_t child_pid(arbor_pid_t sup, const char *id)
{
    arbor_child_info_t *kids;
    size_t n;
    ASSERT_OK(arbor_sup_which_children(sup, &kids, &n));
    arbor_pid_t pid = ARBOR_NOPID;
    for (size_t i = 0; i < n; i++)
        if (strcmp(kids[i].id, id) == 0)
            pid = kids[i].pid;
    free(kids);
    return pid;
}

void kill_and_wait(arbor_pid_t pid)
{
    arbor_ref_t ref;
    ASSERT_OK(arbor_monitor(pid, &ref));
    ASSERT_OK(arbor_exit_pid(pid, ARBOR_KILL));
    arbor_msg_t *m = arbor_test_recv_tag(ARBOR_TAG_DOWN, 5000);
    arbor_msg_free(m);
}

/*
 * The course's exercise, :one_for_one: "In a web server, where each worker
 * process handles an independent client request. If one request fails, it
 * should not affect the other requests."
 *
 * The course gives no code for it; in Elixir the tree would read
 *
 *   children = [
 *     Supervisor.child_spec({RequestWorker, []}, id: :request_1),
 *     Supervisor.child_spec({RequestWorker, []}, id: :request_2),
 *     Supervisor.child_spec({RequestWorker, []}, id: :request_3)
 *   ]
 *   Supervisor.start_link(children, strategy: :one_for_one)
 *
 * Three request workers each serve two requests; then a malformed request
 * crashes request_2. Only request_2 is restarted (and begins again with
 * nothing served); the other two keep their pids and what they served.
 */
#include <stdio.h>

#include "course.h"

enum { HANDLE = 1, SERVED };

typedef struct request {
    int body; /* negative: malformed, the worker cannot parse it */
} request_t;

static arbor_gs_ret_t worker_init(void **state, void *arg)
{
    int *served = arbor_calloc(1, sizeof *served);
    if (!served)
        return arbor_gs_halt(arbor_error("out of memory"));
    *state = served;
    return arbor_gs_ok();
}

static arbor_gs_ret_t worker_call(void **state, const arbor_msg_t *msg, arbor_from_t from)
{
    int *served = *state;
    if (msg->tag == SERVED)
        return arbor_gs_reply(served, sizeof *served);
    const request_t *req = ARBOR_GS_REQ(msg, request_t);
    if (!req || req->body < 0)
        return arbor_gs_halt(arbor_error("malformed request"));
    ++*served;
    return arbor_gs_reply(served, sizeof *served);
}

static const arbor_gen_server_t request_worker = {
    .label = "RequestWorker", .init = worker_init, .handle_call = worker_call};

static void print_served(const tree_t *t)
{
    for (size_t i = 0; i < t->n; i++) {
        int served;
        course_check(arbor_gs_call_into(t->kids[i].pid, SERVED, NULL, 0, &served, sizeof served,
                                        ARBOR_GS_CALL_TIMEOUT, NULL),
                     "served", NULL);
        printf("  %s has served %d requests\n", t->kids[i].id, served);
    }
}

static void root(void *arg)
{
    static const char *const ids[] = {"request_1", "request_2", "request_3"};
    arbor_child_spec_t children[3];
    for (size_t i = 0; i < 3; i++) {
        children[i] = arbor_gs_child_spec(&request_worker, NULL);
        children[i].id = ids[i];
    }
    arbor_sup_flags_t flags = ARBOR_SUP_FLAGS_DEFAULT;
    flags.strategy = ARBOR_ONE_FOR_ONE;
    arbor_pid_t sup;
    arbor_reason_t why;
    course_check(
        arbor_sup_start(&flags, children, 3, &(arbor_sup_opts_t){.link = true}, &sup, &why),
        "start the supervisor", &why);

    tree_t before, after;
    course_check(tree_take(sup, &before), "which_children", NULL);
    tree_print("one_for_one, before the crash:", &before);
    for (size_t i = 0; i < before.n; i++)
        for (int r = 0; r < 2; r++) {
            request_t ok = {.body = r};
            int served;
            course_check(ARBOR_GS_CALL(before.kids[i].pid, HANDLE, &ok, &served), "a request",
                         NULL);
        }
    print_served(&before);

    request_t malformed = {.body = -1};
    tree_crash(sup, &before, "request_2", HANDLE, &malformed, sizeof malformed, &after);
    print_served(&after);
    tree_free(&before);
    tree_free(&after);
    course_check(arbor_sup_stop(sup, ARBOR_NORMAL), "stop the supervisor", NULL);
}

int main(void)
{
    return course_main(root);
}

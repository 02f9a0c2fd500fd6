/*
 * The course's exercise, :rest_for_one: "In a multi-stage data processing
 * pipeline, if one stage fails, all subsequent stages that depend on it
 * must be restarted, but previous stages can continue to run."
 *
 * docs/otp.md writes the tree in Elixir as
 *
 *   children = [
 *     {Cache, []},
 *     {Pipeline.Stage1, []},
 *     {Pipeline.Stage2, []}
 *   ]
 *   Supervisor.start_link(children, strategy: :rest_for_one)
 *
 * Each stage is registered under its name and, when it starts, looks up
 * the stage it reads from (stage1 reads from the cache, stage2 from
 * stage1) and keeps that pid. stage1 crashes. rest_for_one restarts it and
 * stage2, which would otherwise keep reading from the dead stage1; the
 * cache, which depends on nothing after it, keeps running.
 */
#include <stdio.h>

#include "course.h"

enum { UPSTREAM = 1, CRASH };

typedef struct stage {
    const char *id;       /* the child's id */
    const char *name;     /* its registered name */
    const char *upstream; /* the registered name of the stage it reads from, or NULL */
} stage_t;

static const stage_t stages[] = {
    {"cache", "Cache", NULL},
    {"stage1", "Pipeline.Stage1", "Cache"},
    {"stage2", "Pipeline.Stage2", "Pipeline.Stage1"},
};

static arbor_gs_ret_t stage_init(void **state, void *arg)
{
    const stage_t *s = arg;
    arbor_pid_t *upstream = arbor_alloc(sizeof *upstream);
    if (!upstream)
        return arbor_gs_halt(arbor_error("out of memory"));
    *upstream = s->upstream ? arbor_whereis(s->upstream) : ARBOR_NOPID;
    if (s->upstream && *upstream == ARBOR_NOPID)
        return arbor_gs_halt(arbor_error("%s is not running", s->upstream));
    *state = upstream;
    return arbor_gs_ok();
}

static arbor_gs_ret_t stage_call(void **state, const arbor_msg_t *msg, arbor_from_t from)
{
    arbor_pid_t *upstream = *state;
    if (msg->tag == UPSTREAM)
        return arbor_gs_reply(upstream, sizeof *upstream);
    return arbor_gs_halt(arbor_error("corrupt record"));
}

static const arbor_gen_server_t stage_server = {
    .label = "Pipeline.Stage", .init = stage_init, .handle_call = stage_call};

static int stage_start(void *arg, arbor_pid_t *pid, arbor_reason_t *err)
{
    const stage_t *s = arg;
    arbor_gs_opts_t opts = {.link = true, .name = s->name};
    return arbor_gs_start(&stage_server, arg, &opts, pid, err);
}

/* Prints where each stage reads from and whether that process is alive. */
static void print_upstreams(const tree_t *t)
{
    int all_alive = 1;
    for (size_t i = 0; i < t->n; i++) {
        arbor_pid_t up;
        course_check(arbor_gs_call_into(t->kids[i].pid, UPSTREAM, NULL, 0, &up, sizeof up,
                                        ARBOR_GS_CALL_TIMEOUT, NULL),
                     "ask a stage", NULL);
        if (up == ARBOR_NOPID)
            continue;
        char pid[32];
        arbor_pid_format(up, pid, sizeof pid);
        int alive = arbor_alive(up);
        printf("  %s reads from %s (%s)\n", t->kids[i].id, pid, alive ? "alive" : "DEAD");
        all_alive &= alive;
    }
    printf("%s\n",
           all_alive ? "every stage reads from a live stage" : "a stage reads from a dead stage");
}

static void root(void *arg)
{
    arbor_child_spec_t children[3];
    for (size_t i = 0; i < 3; i++)
        children[i] = (arbor_child_spec_t){
            .id = stages[i].id, .start = stage_start, .arg = (void *)&stages[i]};
    arbor_sup_flags_t flags = ARBOR_SUP_FLAGS_DEFAULT;
    flags.strategy = ARBOR_REST_FOR_ONE;
    arbor_pid_t sup;
    arbor_reason_t why;
    course_check(
        arbor_sup_start(&flags, children, 3, &(arbor_sup_opts_t){.link = true}, &sup, &why),
        "start the supervisor", &why);

    tree_t before, after;
    course_check(tree_take(sup, &before), "which_children", NULL);
    tree_print("rest_for_one, before the crash:", &before);
    print_upstreams(&before);

    tree_crash(sup, &before, "stage1", CRASH, NULL, 0, &after);
    print_upstreams(&after);
    tree_free(&before);
    tree_free(&after);
    course_check(arbor_sup_stop(sup, ARBOR_NORMAL), "stop the supervisor", NULL);
}

int main(void)
{
    return course_main(root);
}

/*
 * The course's section 2, Dynamic supervision: "A chat application where
 * each user connection spawns a new supervised process".
 *
 *   options = [name: ChatApp.Supervisor, strategy: :one_for_one]
 *   DynamicSupervisor.start_link(options)
 *   {:ok, pid} = DynamicSupervisor.start_child(ChatApp.Supervisor, ChatHandler)
 *
 * Three users connect, and each connection gets a ChatHandler started at
 * run time under ChatApp.Supervisor; the spec keeps a copy of the user's
 * name. bob's handler is killed: the supervisor starts it again for bob
 * (one_for_one, the only strategy a DynamicSupervisor has), and alice's
 * and carol's handlers carry on untouched.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "course.h"

enum { WHO = 1 };

typedef struct user {
    char name[16];
} user_t;

static arbor_gs_ret_t handler_init(void **state, void *arg)
{
    user_t *u = arbor_alloc(sizeof *u);
    if (!u)
        return arbor_gs_halt(arbor_error("out of memory"));
    *u = *(const user_t *)arg;
    *state = u;
    return arbor_gs_ok();
}

static arbor_gs_ret_t handler_call(void **state, const arbor_msg_t *msg, arbor_from_t from)
{
    const user_t *u = *state;
    return arbor_gs_reply(u, sizeof *u); /* WHO: the user it serves */
}

static const arbor_gen_server_t chat_handler = {
    .label = "ChatHandler", .init = handler_init, .handle_call = handler_call};

static const char *const users[] = {"alice", "bob", "carol"};

/* Finds the pid of the handler serving user among sup's children. */
static arbor_pid_t handler_of(arbor_pid_t sup, const char *user)
{
    arbor_child_info_t *kids;
    size_t n;
    arbor_pid_t found = ARBOR_NOPID;
    course_check(arbor_dynsup_which_children(sup, &kids, &n), "which_children", NULL);
    for (size_t i = 0; i < n && !found; i++) {
        user_t u;
        if (kids[i].pid &&
            arbor_gs_call_into(kids[i].pid, WHO, NULL, 0, &u, sizeof u, ARBOR_GS_CALL_TIMEOUT,
                               NULL) == 0 &&
            strcmp(u.name, user) == 0)
            found = kids[i].pid;
    }
    free(kids);
    return found;
}

static void print_handlers(const char *title, arbor_pid_t sup)
{
    printf("%s\n", title);
    for (size_t i = 0; i < sizeof users / sizeof *users; i++) {
        char pid[32];
        arbor_pid_format(handler_of(sup, users[i]), pid, sizeof pid);
        printf("  %-6s %s\n", users[i], pid);
    }
}

static void root(void *arg)
{
    arbor_dynsup_opts_t options = ARBOR_DYNSUP_OPTS_DEFAULT;
    options.name = "ChatApp.Supervisor";
    options.link = true;
    arbor_pid_t sup;
    arbor_reason_t why;
    course_check(arbor_dynsup_start(&options, &sup, &why), "DynamicSupervisor.start_link", &why);

    for (size_t i = 0; i < sizeof users / sizeof *users; i++) {
        user_t u = {{0}};
        snprintf(u.name, sizeof u.name, "%s", users[i]);
        arbor_child_spec_t spec = arbor_gs_child_spec(&chat_handler, &u);
        spec.arg_size = sizeof u; /* the supervisor keeps the user for a restart */
        arbor_pid_t pid;
        course_check(
            arbor_dynsup_start_child(arbor_whereis("ChatApp.Supervisor"), &spec, &pid, &why),
            "DynamicSupervisor.start_child", &why);
    }
    print_handlers("handlers, before the crash:", sup);

    arbor_pid_t bob = handler_of(sup, "bob");
    arbor_exit_pid(bob, ARBOR_KILL);
    printf("bob's handler killed\n");
    arbor_pid_t again = ARBOR_NOPID;
    for (int waited_ms = 0; waited_ms < 5000 && (!again || again == bob); waited_ms++) {
        arbor_sleep(1);
        again = handler_of(sup, "bob");
    }
    course_check(again && again != bob ? 0 : ARBOR_ETIMEDOUT, "wait for the restart", NULL);
    print_handlers("handlers, after the restart:", sup);
    course_check(arbor_dynsup_stop(sup, ARBOR_NORMAL), "stop the supervisor", NULL);
}

int main(void)
{
    return course_main(root);
}

/*
 * The course's SimpleQueue.Application, Example 2: a {module, argument}
 * tuple in the children list.
 *
 *   defmodule SimpleQueue.Application do
 *     use Application
 *
 *     def start(_type, _args) do
 *       children = [{SimpleQueue, [1, 2, 3]}]
 *       opts = [strategy: :one_for_one, name: SimpleQueue.Supervisor]
 *       Supervisor.start_link(children, opts)
 *     end
 *   end
 *
 * "If it crashes, the Supervisor would restart it as if nothing had
 * happened": the spec keeps [1, 2, 3] (the supervisor holds a copy of the
 * argument, arg_size), so the restarted queue holds [1, 2, 3] again,
 * whatever the crashed one held. The SimpleQueue module is the
 * application's (apps/simple_queue/simple_queue.c), whose console,
 * apps/simple_queue/main.c, starts the same tree.
 */
#include <stdio.h>

#include "course.h"
#include "simple_queue_demo.h"

static void application_start(void *arg)
{
    /* children = [{SimpleQueue, [1, 2, 3]}] */
    simple_queue_init_t initial = {3, {1, 2, 3}};
    arbor_child_spec_t children[] = {{.id = "SimpleQueue",
                                      .start = simple_queue_start,
                                      .arg = &initial,
                                      .arg_size = sizeof initial}};
    arbor_sup_flags_t flags = ARBOR_SUP_FLAGS_DEFAULT;
    flags.strategy = ARBOR_ONE_FOR_ONE;
    arbor_sup_opts_t opts = {.name = "SimpleQueue.Supervisor", .link = true};
    arbor_pid_t sup;
    arbor_reason_t why;
    course_check(arbor_sup_start(&flags, children, 1, &opts, &sup, &why), "Supervisor.start_link",
                 &why);

    arbor_pid_t queue = arbor_whereis(SIMPLE_QUEUE_NAME);
    char pid[32];
    arbor_pid_format(queue, pid, sizeof pid);
    printf("SimpleQueue started as %s\n", pid);
    print_queue("queue");
    long front;
    course_check(simple_queue_dequeue(&front), "SimpleQueue.dequeue", NULL);
    printf("dequeue: %ld\n", front);
    course_check(simple_queue_enqueue(4), "SimpleQueue.enqueue", NULL);
    print_queue("after dequeue and enqueue 4");

    kill_queue();
    print_queue("queue after the restart");
    course_check(arbor_sup_stop(sup, ARBOR_NORMAL), "stop the supervisor", NULL);
}

int main(void)
{
    return course_main(application_start);
}

/*
 * The course's SimpleQueue.Application, Example 1: the children list names
 * the module alone.
 *
 *   defmodule SimpleQueue.Application do
 *     use Application
 *
 *     def start(_type, _args) do
 *       children = [SimpleQueue]
 *       opts = [strategy: :one_for_one, name: SimpleQueue.Supervisor]
 *       Supervisor.start_link(children, opts)
 *     end
 *   end
 *
 * `SimpleQueue` alone in the list is SimpleQueue.start_link([]): the queue
 * starts empty. The SimpleQueue module is the application's
 * (apps/simple_queue/simple_queue.c), registered as "SimpleQueue". The
 * example fills the queue, kills it, and shows the supervisor's restart:
 * a new SimpleQueue process, empty again, as it was started.
 */
#include <stdio.h>

#include "course.h"
#include "simple_queue_demo.h"

static void application_start(void *arg)
{
    /* children = [SimpleQueue]: no start argument, an empty queue. */
    arbor_child_spec_t children[] = {{.id = "SimpleQueue", .start = simple_queue_start}};
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
    for (long v = 4; v <= 6; v++)
        course_check(simple_queue_enqueue(v), "SimpleQueue.enqueue", NULL);
    print_queue("after enqueue 4, 5, 6");

    kill_queue();
    print_queue("queue after the restart");
    course_check(arbor_sup_stop(sup, ARBOR_NORMAL), "stop the supervisor", NULL);
}

int main(void)
{
    return course_main(application_start);
}

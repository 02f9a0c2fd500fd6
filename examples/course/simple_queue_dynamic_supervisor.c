/*
 * The course's DynamicSupervisor for SimpleQueue: "For cases where
 * supervised children will not be known at startup".
 *
 *   options = [name: SimpleQueue.Supervisor, strategy: :one_for_one]
 *   DynamicSupervisor.start_link(options)
 *   {:ok, pid} = DynamicSupervisor.start_child(SimpleQueue.Supervisor, SimpleQueue)
 *
 * The supervisor starts with no children; start_child adds SimpleQueue
 * (started with [], so empty) at run time and supervises it one_for_one:
 * killed, it is started again from its spec. SimpleQueue registers its
 * name, so a second start_child is refused, as Elixir's returns
 * {:error, {:already_started, pid}}. The SimpleQueue module is the
 * application's (apps/simple_queue/simple_queue.c).
 */
#include <stdio.h>

#include "course.h"
#include "simple_queue_demo.h"

static void print_counts(arbor_pid_t sup)
{
    arbor_child_counts_t c;
    course_check(arbor_dynsup_count_children(sup, &c), "DynamicSupervisor.count_children", NULL);
    printf("count_children: specs %zu, active %zu, workers %zu\n", c.specs, c.active, c.workers);
}

static void root(void *arg)
{
    arbor_dynsup_opts_t options = ARBOR_DYNSUP_OPTS_DEFAULT; /* strategy: one_for_one */
    options.name = "SimpleQueue.Supervisor";
    options.link = true;
    arbor_pid_t sup;
    arbor_reason_t why;
    course_check(arbor_dynsup_start(&options, &sup, &why), "DynamicSupervisor.start_link", &why);
    print_counts(sup);

    /* DynamicSupervisor.start_child(SimpleQueue.Supervisor, SimpleQueue) */
    arbor_child_spec_t spec = {.id = "SimpleQueue", .start = simple_queue_start};
    arbor_pid_t pid;
    course_check(
        arbor_dynsup_start_child(arbor_whereis("SimpleQueue.Supervisor"), &spec, &pid, &why),
        "DynamicSupervisor.start_child", &why);
    char text[32];
    arbor_pid_format(pid, text, sizeof text);
    printf("start_child: ok, SimpleQueue is %s\n", text);
    print_counts(sup);

    arbor_pid_t other;
    int rc = arbor_dynsup_start_child(sup, &spec, &other, &why);
    printf("a second start_child: %s (%s)\n", arbor_err_name(rc), arbor_reason_text(&why));

    course_check(simple_queue_enqueue(7), "SimpleQueue.enqueue", NULL);
    print_queue("after enqueue 7");
    kill_queue();
    print_queue("queue after the restart");
    print_counts(sup);
    course_check(arbor_dynsup_stop(sup, ARBOR_NORMAL), "stop the supervisor", NULL);
}

int main(void)
{
    return course_main(root);
}

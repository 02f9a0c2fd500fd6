/*
 * The course's Task Supervisor: a Task.Supervisor in a children list, its
 * tasks transient.
 *
 *   children = [{Task.Supervisor, name: ExampleApp.TaskSupervisor, restart: :transient}]
 *   {:ok, pid} = Supervisor.start_link(children, strategy: :one_for_one)
 *   {:ok, pid} = Task.Supervisor.start_child(ExampleApp.TaskSupervisor, fn -> background_work end)
 *
 * The `restart:` given to Task.Supervisor.start_link is the restart type
 * of the tasks it starts (later Elixir versions take it on start_child
 * instead); Arbor takes it on start_child, in arbor_task_child_opts_t.
 * A transient task is restarted when it crashes and not when it ends
 * normally: background_work fails at its first attempt, is started again,
 * succeeds, and is then forgotten.
 */
#include <stdatomic.h>
#include <stdio.h>

#include "course.h"

enum { DONE = 1 };

/* How many times background_work has started: the restarted task runs
 * the same function with the same argument, and this is what tells the
 * second run from the first. */
static atomic_int attempts;

static size_t background_work(void *arg, void *result, size_t capacity)
{
    int attempt = atomic_fetch_add(&attempts, 1) + 1;
    if (attempt == 1) {
        printf("background_work attempt %d: crashed (the mail server is down)\n", attempt);
        arbor_exit(arbor_error("mail server down"));
    }
    printf("background_work attempt %d: done\n", attempt);
    arbor_pid_t self = arbor_self();
    arbor_send(*(const arbor_pid_t *)arg, DONE, &self, sizeof self);
    return 0;
}

/* {Task.Supervisor, name: ExampleApp.TaskSupervisor}: the child's start. */
static int task_supervisor_start(void *arg, arbor_pid_t *pid, arbor_reason_t *err)
{
    arbor_task_sup_opts_t opts = ARBOR_TASK_SUP_OPTS_DEFAULT;
    opts.name = "ExampleApp.TaskSupervisor";
    opts.link = true;
    return arbor_task_sup_start(&opts, pid, err);
}

static void root(void *arg)
{
    arbor_child_spec_t children[] = {{.id = "ExampleApp.TaskSupervisor",
                                      .start = task_supervisor_start,
                                      .type = ARBOR_SUPERVISOR_CHILD}};
    arbor_sup_flags_t flags = ARBOR_SUP_FLAGS_DEFAULT;
    flags.strategy = ARBOR_ONE_FOR_ONE;
    arbor_pid_t sup, task, self = arbor_self();
    arbor_reason_t why;
    course_check(
        arbor_sup_start(&flags, children, 1, &(arbor_sup_opts_t){.link = true}, &sup, &why),
        "Supervisor.start_link", &why);

    arbor_pid_t tasks = arbor_whereis("ExampleApp.TaskSupervisor");
    arbor_task_child_opts_t transient = {.restart = ARBOR_TRANSIENT};
    course_check(arbor_task_sup_start_child(tasks, background_work, &self, &transient, &task),
                 "Task.Supervisor.start_child", NULL);

    arbor_msg_t *m;
    if (arbor_receive(5000, &m) != 0) {
        printf("background_work was not started again after its crash\n");
        arbor_exit(arbor_error("no second attempt"));
    }
    arbor_pid_t finished = *(const arbor_pid_t *)m->data;
    arbor_msg_free(m);
    size_t running;
    course_check(course_wait_task_handled(tasks, finished, &running), "wait for the task's exit",
                 NULL);
    printf("tasks running after background_work ended normally: %zu\n", running);
    printf("attempts: %d\n", atomic_load(&attempts));
    course_check(arbor_sup_stop(sup, ARBOR_NORMAL), "stop the supervisor", NULL);
}

int main(void)
{
    return course_main(root);
}

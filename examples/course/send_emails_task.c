/*
 * The course's section 3, Task supervision: "Running a background job to
 * send email notifications".
 *
 *   {:ok, pid} = Task.Supervisor.start_child(MyApp.TaskSupervisor, fn -> send_emails end)
 *
 * The Task.Supervisor (registered as MyApp.TaskSupervisor) runs
 * send_emails in a process of its own; the caller does not wait for it
 * and gets no result. The task is temporary, Task.Supervisor's default:
 * once it has sent its e-mails and ended, its supervisor forgets it.
 */
#include <stdio.h>

#include "course.h"

enum { SENT = 1 };

static const char *const recipients[] = {"alice@example.com", "bob@example.com",
                                         "carol@example.com"};

/* fn -> send_emails end: "sends" each e-mail, then tells the process that
 * asked for the job how many went out (arg: its pid). */
static size_t send_emails(void *arg, void *result, size_t capacity)
{
    int sent = 0;
    for (size_t i = 0; i < sizeof recipients / sizeof *recipients; i++, sent++)
        printf("send_emails: notification sent to %s\n", recipients[i]);
    arbor_send(*(const arbor_pid_t *)arg, SENT, &sent, sizeof sent);
    return 0; /* a supervised child task returns no result */
}

static void root(void *arg)
{
    arbor_task_sup_opts_t opts = ARBOR_TASK_SUP_OPTS_DEFAULT;
    opts.name = "MyApp.TaskSupervisor";
    opts.link = true;
    arbor_pid_t tasks, pid, self = arbor_self();
    arbor_reason_t why;
    course_check(arbor_task_sup_start(&opts, &tasks, &why), "Task.Supervisor.start_link", &why);

    course_check(arbor_task_sup_start_child(arbor_whereis("MyApp.TaskSupervisor"), send_emails,
                                            &self, NULL, &pid),
                 "Task.Supervisor.start_child", NULL);
    char text[32];
    arbor_pid_format(pid, text, sizeof text);
    printf("start_child: ok, send_emails runs as %s\n", text);

    arbor_msg_t *m;
    course_check(arbor_receive(5000, &m), "wait for send_emails", NULL);
    printf("the job reports %d e-mails sent\n", *(const int *)m->data);
    arbor_msg_free(m);

    size_t running;
    course_check(course_wait_task_handled(tasks, pid, &running), "wait for the task's exit", NULL);
    printf("tasks running after the job ended: %zu\n", running);
    course_check(arbor_dynsup_stop(tasks, ARBOR_NORMAL), "stop the Task.Supervisor", NULL);
}

int main(void)
{
    return course_main(root);
}

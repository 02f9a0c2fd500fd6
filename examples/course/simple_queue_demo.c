/* What the SimpleQueue examples do to the queue and show of it
 * (simple_queue_demo.h). */
#include "simple_queue_demo.h"

#include <stdio.h>
#include <stdlib.h>

#include "course.h"

void print_queue(const char *label)
{
    long *values;
    size_t n;
    course_check(simple_queue_list(&values, &n), "SimpleQueue.queue()", NULL);
    printf("%s: [", label);
    for (size_t i = 0; i < n; i++)
        printf("%s%ld", i ? ", " : "", values[i]);
    printf("]\n");
    free(values);
}

void kill_queue(void)
{
    arbor_pid_t queue = arbor_whereis(SIMPLE_QUEUE_NAME), again = ARBOR_NOPID;
    char pid[32];
    arbor_pid_format(queue, pid, sizeof pid);
    arbor_exit_pid(queue, ARBOR_KILL);
    printf("SimpleQueue %s killed\n", pid);
    for (int waited_ms = 0; waited_ms < 5000 && (!again || again == queue); waited_ms++) {
        arbor_sleep(1);
        again = arbor_whereis(SIMPLE_QUEUE_NAME);
    }
    course_check(again && again != queue ? 0 : ARBOR_ETIMEDOUT, "wait for the restart", NULL);
    arbor_pid_format(again, pid, sizeof pid);
    printf("SimpleQueue restarted as %s\n", pid);
}

/* The SimpleQueue examples' view of the queue (queue_print.h). */
#include "queue_print.h"

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

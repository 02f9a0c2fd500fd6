/* How the SimpleQueue examples show the queue (apps/simple_queue's module). */
#ifndef COURSE_QUEUE_PRINT_H
#define COURSE_QUEUE_PRINT_H

#include "simple_queue.h"

/* Prints "label: [1, 2, 3]", the queue front first, as iex shows a list;
 * ends the calling process if the queue cannot be read. */
void print_queue(const char *label);

#endif

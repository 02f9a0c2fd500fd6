/* What the SimpleQueue examples do to the queue (apps/simple_queue's
 * module, registered as "SimpleQueue") and show of it. */
#ifndef COURSE_SIMPLE_QUEUE_DEMO_H
#define COURSE_SIMPLE_QUEUE_DEMO_H

#include "simple_queue.h"

/* Prints "label: [1, 2, 3]", the queue front first, as iex shows a list;
 * ends the calling process if the queue cannot be read. */
void print_queue(const char *label);

/* Kills SimpleQueue (as the console's crash command does) and waits, up
 * to 5 s, for its supervisor to start it again; prints "SimpleQueue PID
 * killed" and "SimpleQueue restarted as PID". Ends the calling process if
 * it does not come back. */
void kill_queue(void);

#endif

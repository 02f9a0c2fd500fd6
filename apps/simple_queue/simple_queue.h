/*
 * SimpleQueue: the course's queue GenServer, registered as "SimpleQueue".
 *
 *   Elixir                              Arbor
 *   SimpleQueue.start_link([1, 2, 3])   simple_queue_start(&(simple_queue_init_t){3, {1, 2, 3}},
 * ...) SimpleQueue.enqueue(4)              simple_queue_enqueue(4) SimpleQueue.dequeue()
 * simple_queue_dequeue(&value) SimpleQueue.queue()                 simple_queue_list(&values, &n)
 */
#ifndef SIMPLE_QUEUE_H
#define SIMPLE_QUEUE_H

#include <arbor.h>

#define SIMPLE_QUEUE_NAME     "SimpleQueue"
#define SIMPLE_QUEUE_INIT_MAX 16

/* The child spec's start argument: the initial contents. */
typedef struct simple_queue_init {
    int n;
    long values[SIMPLE_QUEUE_INIT_MAX];
} simple_queue_init_t;

/* A supervisor child start function: starts the queue linked to the caller
 * and registered as SIMPLE_QUEUE_NAME, holding init's values. */
int simple_queue_start(void *init, arbor_pid_t *pid, arbor_reason_t *err);

/* Appends value. 0, or the call's error (ARBOR_ENOPROC while it restarts). */
int simple_queue_enqueue(long value);

/* Takes the first value. 0, ARBOR_ENOENT when the queue is empty. */
int simple_queue_dequeue(long *value);

/* Stores a malloc'd copy of the whole queue (front first) in *values and
 * its length in *n; the caller frees *values (NULL when the queue is
 * empty). 0, the call's error, or ARBOR_ENOMEM; nothing is stored on
 * error. There is no limit but memory and the runtime's largest message
 * (ARBOR_MSG_MAX: the reply fails with ARBOR_ETOOBIG beyond it). */
int simple_queue_list(long **values, size_t *n);

#endif

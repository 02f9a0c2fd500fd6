/*
 * The blocking pool: OS threads that run work which may block in the
 * kernel (file I/O, SQLite, DNS), so that scheduler threads never do.
 *
 * A job lives on the waiting process's stack: the process parks until the
 * pool thread pushes the job's prepared JOB_DONE node into its inbox, and
 * it defers any exit decided meanwhile until then (proc.c,
 * arbor_blocking()), so the job's memory outlives its use.
 */
#ifndef ARBOR_RUNTIME_BLOCKING_H
#define ARBOR_RUNTIME_BLOCKING_H

#include "arbor/process.h"
#include "mailbox.h"

typedef struct arbor__job {
    struct arbor__job *next;
    void *(*fn)(void *);
    void *arg;
    void *result;
    arbor_pid_t pid;
    arbor__msg_t *done; /* delivered to pid when fn has returned */
} arbor__job_t;

int arbor__blocking_start(unsigned threads);
/* Runs every queued job, then joins the threads. */
void arbor__blocking_stop(void);
void arbor__blocking_submit(arbor__job_t *job);

#endif

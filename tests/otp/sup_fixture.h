/*
 * A worker for supervisor tests: a GenServer that reports its start and
 * its terminate to a log process (the test's root), so a test can check the
 * order of events without sleeping.
 */
#ifndef ARBOR_TEST_SUP_FIXTURE_H
#define ARBOR_TEST_SUP_FIXTURE_H

#include "test.h"

enum { EV_STARTED = 100, EV_TERMINATED };

typedef struct event {
    char id[16];
    arbor_pid_t pid;
    arbor_reason_t reason;
} event_t;

typedef struct worker_arg {
    const char *id;
    arbor_pid_t log; /* receives EV_STARTED / EV_TERMINATED */
    bool trap;       /* trap exits, so terminate runs on shutdown */
    int fail_starts; /* this many starts fail before one succeeds (-1: always) */
    int starts;      /* counted by start functions that need it */
} worker_arg_t;

int worker_start(void *arg, arbor_pid_t *pid, arbor_reason_t *err);

/* The next event from the log, which must be of kind ev for child id. */
event_t expect_event(int ev, const char *id);

/* The pid of child id, from which_children; ARBOR_NOPID if not running. */
arbor_pid_t child_pid(arbor_pid_t sup, const char *id);

/* Kills pid and waits for it to be gone. */
void kill_and_wait(arbor_pid_t pid);

#endif

/*
 * What the supervisor tests share. A worker: a GenServer that reports its
 * start and its terminate to a log process (the test's root), so a test can
 * check the order of events without sleeping. And, for the supervisor
 * scenarios (test_supervisor_*.c):
 *   ctl     a GenServer child that logs EV_STARTED / EV_TERMINATED like the
 *           worker and exits with any reason on request (stop_with()),
 *           so a test makes a child exit normal, shutdown, {shutdown, x} or
 *           abnormally without sleeping; its starts can be made to fail
 *           (ok_starts and a gate), and its terminate can be made slow.
 *   ign     a GenServer whose init returns ignore (ign_start()).
 *   nested  a child of type supervisor: arbor_sup_start() linked to the
 *           parent (nested_start()).
 * Events are received selectively (ev_expect), so DOWN and EXIT messages in
 * the same mailbox do not get in their way.
 */
#ifndef ARBOR_TEST_SUP_FIXTURE_H
#define ARBOR_TEST_SUP_FIXTURE_H

#include <stdatomic.h>

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

/* A plain process that waits for ever without trapping exits: it dies of
 * any exit signal but normal (arg unused). sleeper_start spawns one
 * linked to the caller. */
void sleeper_main(void *arg);
int sleeper_start(void *arg, arbor_pid_t *pid, arbor_reason_t *err);

/* The next event from the log, which must be of kind ev for child id. */
event_t expect_event(int ev, const char *id);

/* The pid of child id, from which_children; ARBOR_NOPID if not running. */
arbor_pid_t child_pid(arbor_pid_t sup, const char *id);

/* Kills pid and waits for it to be gone. */
void kill_and_wait(arbor_pid_t pid);

/* ---- the supervisor scenarios' helpers -------------------------------------------------- */

/* Matches EV_STARTED and EV_TERMINATED events. */
bool is_event(const arbor_msg_t *m, void *arg);
/* The next EV_STARTED / EV_TERMINATED event, which must be ev for id. */
event_t ev_expect_at(int line, int ev, const char *id);
#define ev_expect(ev, id) ev_expect_at(__LINE__, ev, id)
/* No event arrives within ms. */
void no_event(int64_t ms);

/* A monitor of pid; the reason in the DOWN of monitor ref, and in the EXIT
 * from pid (the caller traps exits), each within 5 s. */
arbor_ref_t mon(arbor_pid_t pid);
arbor_reason_t await_down(arbor_ref_t ref);
arbor_reason_t await_exit(arbor_pid_t pid);

/* count_children of sup must be these. */
void assert_counts_at(int line, arbor_pid_t sup, size_t specs, size_t active, size_t supervisors,
                      size_t workers);
#define assert_counts(sup, s, a, su, w) assert_counts_at(__LINE__, sup, s, a, su, w)

/* Makes a ctl child exit with reason, or kills pid, and returns once its
 * supervisor has the EXIT queued (the runtime sends a dying process's link
 * EXITs before its monitor DOWNs: the DOWN tells). */
void stop_and_wait(arbor_pid_t pid, arbor_reason_t reason);
void kill_child(arbor_pid_t pid);

/* which_children's entry for id (false if there is none); how many. */
bool child_info(arbor_pid_t sup, const char *id, arbor_child_info_t *out);
size_t n_children(arbor_pid_t sup);

/* A report handler that drops reports: for tests that make many on purpose. */
void drop_reports(const arbor_report_t *r, void *ctx);

/* The ctl child. */
enum { CTL_STOP = 1, CTL_UNLINK };

typedef struct ctl_arg {
    const char *id;
    arbor_pid_t log;    /* receives EV_STARTED / EV_TERMINATED */
    bool trap;          /* trap exits */
    const char *name;   /* register under this name */
    int terminate_ms;   /* terminate sleeps this long before logging */
    int ok_starts;      /* > 0: start number ok_starts + 1 and later fail ... */
    atomic_int *gate;   /* ... while the gate is NULL or 0 */
    int fail_sleep_ms;  /* a failing start takes this long */
    atomic_int starts;  /* start attempts so far */
    arbor_pid_t parent; /* the supervisor (set by ctl_start) */
} ctl_arg_t;

int ctl_start(void *arg, arbor_pid_t *pid, arbor_reason_t *err);
/* A ctl child with id, logging to the caller, and its spec. */
ctl_arg_t ctl(const char *id);
arbor_child_spec_t ctl_spec(ctl_arg_t *a, arbor_restart_t restart);
/* Makes a ctl child exit with reason. */
void stop_with(arbor_pid_t pid, arbor_reason_t reason);

/* The ign child. */
int ign_start(void *arg, arbor_pid_t *pid, arbor_reason_t *err);

/* The nested child: a supervisor with these flags and children. */
typedef struct nested_arg {
    arbor_sup_flags_t flags;
    const arbor_child_spec_t *children;
    size_t n;
} nested_arg_t;

int nested_start(void *arg, arbor_pid_t *pid, arbor_reason_t *err);

/* one_for_one, 2 restarts in an hour. */
extern const arbor_sup_flags_t flags_1_for_1;

#endif

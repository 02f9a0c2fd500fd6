/*
 * Supervisor: starts children in order, watches them, and restarts them by
 * the one_for_one, one_for_all or rest_for_one strategy within a restart
 * intensity, with OTP's exact semantics (docs/otp.md, "Supervisor").
 *
 * Elixir:
 *
 *   children = [{Stack, [:hello]}]
 *   Supervisor.start_link(children, strategy: :one_for_one)
 *
 * Arbor:
 *
 *   arbor_child_spec_t children[] = {arbor_gs_child_spec(&stack_server, "hello")};
 *   arbor_sup_flags_t flags = ARBOR_SUP_FLAGS_DEFAULT;
 *   arbor_sup_start(&flags, children, 1, &opts, &pid, &err);
 *
 * A child that is a GenServer module needs no start function of its own
 * (arbor_gs_child_spec()). Otherwise a child's start function must start a
 * process linked to the caller (the supervisor), e.g. with arbor_gs_start()
 * and .link = true, and return 0
 * with its pid, ARBOR_IGNORED, or an error (ARBOR_EEXIT with a reason).
 * A pid not linked to the supervisor when the start returns is refused:
 * the process is killed and the start fails with ARBOR_EEXIT, reason
 * "not_linked: child ID ...". Returning 0, it may also leave information for whoever asked for the
 * start in its reason argument: OTP's {ok, Pid, Info}. start_child and
 * restart_child hand it to their caller; the supervisor itself ignores it.
 *
 * The supervisor is itself a GenServer; every function here is a call into
 * it (timeout: infinity, as in Elixir) and is process only. Sent to a
 * process of another kind (a DynamicSupervisor, a GenServer), a call fails
 * with ARBOR_EWRONGKIND, or ARBOR_EEXIT if that process crashes on it.
 */
#ifndef ARBOR_SUPERVISOR_H
#define ARBOR_SUPERVISOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gen_server.h"
#include "process.h"
#include "reason.h"

#ifdef __cplusplus
extern "C" {
#endif

#pragma GCC visibility push(default)

typedef enum arbor_restart {
    ARBOR_PERMANENT = 0, /* always restarted */
    ARBOR_TRANSIENT,     /* restarted unless it exits normal, shutdown or {shutdown, _} */
    ARBOR_TEMPORARY,     /* never restarted; its spec is forgotten when it exits */
} arbor_restart_t;

typedef enum arbor_child_type {
    ARBOR_WORKER = 0,
    ARBOR_SUPERVISOR_CHILD,
} arbor_child_type_t;

/* shutdown values. Positive values are milliseconds. */
#define ARBOR_SHUTDOWN_DEFAULT  0 /* 5000 for workers, infinity for supervisors */
#define ARBOR_SHUTDOWN_INFINITY (-1)
#define ARBOR_BRUTAL_KILL       (-2)
#define ARBOR_SHUTDOWN_NOW      (-3) /* 0 ms: shutdown, then kill at once */

#define ARBOR_CHILD_ID_MAX 63

/* Starts the child, linked to the calling (supervisor) process. On 0,
 * *error_out (ARBOR_NORMAL when called) may be set to the start's info,
 * OTP's {ok, Pid, Info}; on ARBOR_EEXIT it is the error. */
typedef int (*arbor_child_start_fn)(void *arg, arbor_pid_t *pid_out, arbor_reason_t *error_out);

/* A start function that also takes the supervisor's extra argument
 * (DynamicSupervisor's extra_arguments; NULL under a plain Supervisor). */
typedef int (*arbor_child_start_extra_fn)(void *extra, void *arg, arbor_pid_t *pid_out,
                                          arbor_reason_t *error_out);

typedef struct arbor_child_spec {
    const char *id;                         /* unique in the supervisor; copied */
    arbor_child_start_fn start;             /* required, unless start_extra or gen_server is set */
    arbor_child_start_extra_fn start_extra; /* used instead of start when set */
    /* Used instead of start when set (and start_extra is not): the child is
     * this GenServer module, started with arbor_gs_start(gen_server, arg,
     * {.link = true}), OTP's GenServer.start_link(Module, arg); a
     * DynamicSupervisor's extra_arg is not passed. Must outlive the spec's
     * use (a static const). See arbor_gs_child_spec(). */
    const arbor_gen_server_t *gen_server;
    void *arg;       /* passed to start; must outlive the spec's use, */
    size_t arg_size; /* unless arg_size > 0: the supervisor then keeps a
                      * copy of these bytes and passes the copy */
    arbor_restart_t restart;
    int64_t shutdown; /* ARBOR_SHUTDOWN_DEFAULT, ms, INFINITY, BRUTAL_KILL, NOW */
    arbor_child_type_t type;
    bool significant; /* see arbor_auto_shutdown_t */
    /* Restart back-off, beyond OTP (off while backoff_ms is 0, which is
     * OTP's behaviour: restart at once). When on, a restart waits
     * backoff_ms, doubling at each consecutive restart up to backoff_max_ms
     * (0: 30 s), times a random factor in [0.5, 1.5); a child that ran for
     * backoff_reset_ms (0: 60 s) before exiting starts again from
     * backoff_ms. A child waiting shows as restarting; each attempt is an
     * intensity tick, as without back-off. */
    uint32_t backoff_ms;
    uint32_t backoff_max_ms;
    uint32_t backoff_reset_ms;
} arbor_child_spec_t;

/*
 * use GenServer's child_spec/1: the spec of a permanent worker that is the
 * GenServer module gs, started linked to its supervisor with arg as init's
 * argument, with gs->label as its id (Elixir's default id, the module).
 * Change any field afterwards, as Supervisor.child_spec/2 overrides
 * (another .id for a second child of the same module, .restart, .arg_size
 * for the supervisor to keep a copy of arg's bytes). Nothing is allocated.
 *
 *   arbor_child_spec_t children[] = {arbor_gs_child_spec(&stack_server, "hello")};
 */
arbor_child_spec_t arbor_gs_child_spec(const arbor_gen_server_t *gs, void *arg);

typedef enum arbor_strategy {
    ARBOR_ONE_FOR_ONE = 0,
    ARBOR_ONE_FOR_ALL,
    ARBOR_REST_FOR_ONE,
} arbor_strategy_t;

typedef enum arbor_auto_shutdown {
    ARBOR_AUTO_SHUTDOWN_NEVER = 0,
    ARBOR_ANY_SIGNIFICANT, /* shut down when a significant child ends on its own */
    ARBOR_ALL_SIGNIFICANT, /* ... when the last significant child has */
} arbor_auto_shutdown_t;

typedef struct arbor_sup_flags {
    arbor_strategy_t strategy;
    int max_restarts; /* restarts allowed within max_seconds (>= 0) */
    int max_seconds;  /* > 0 */
    arbor_auto_shutdown_t auto_shutdown;
} arbor_sup_flags_t;

/* Elixir's defaults: one_for_one, 3 restarts in 5 seconds. */
#define ARBOR_SUP_FLAGS_DEFAULT                                                                    \
    ((arbor_sup_flags_t){.strategy = ARBOR_ONE_FOR_ONE, .max_restarts = 3, .max_seconds = 5})

typedef struct arbor_sup_opts {
    const char *name; /* registered name, or NULL */
    bool link;        /* link to the caller (start_link) */
} arbor_sup_opts_t;

/* A supervisor defined by a callback, like an Elixir module with init/1:
 * init fills *flags and points *children at n specs (which must stay valid
 * until init returns; they are copied), or returns ARBOR_IGNORED. Any
 * other non-zero return fails the start with that code. */
typedef struct arbor_sup_module {
    const char *label; /* the module's name, for reports; not a registered name */
    int (*init)(void *arg, arbor_sup_flags_t *flags, const arbor_child_spec_t **children,
                size_t *n);
} arbor_sup_module_t;

/*
 * Starts a supervisor with flags and children (started one at a time, in
 * order). Returns 0 and its pid; ARBOR_EINVAL with *error_out describing a
 * bad flag or spec (nothing started); ARBOR_EEXIT when a child failed to
 * start: the ones already started were stopped in reverse order and
 * *error_out is {shutdown, failed_to_start_child ID: REASON}; ARBOR_EEXIST
 * when the name is taken (*pid_out = owner).
 */
int arbor_sup_start(const arbor_sup_flags_t *flags, const arbor_child_spec_t *children, size_t n,
                    const arbor_sup_opts_t *opts, arbor_pid_t *pid_out, arbor_reason_t *error_out);

/* Like arbor_sup_start() with flags and children from mod->init(arg);
 * ARBOR_IGNORED when init ignores. */
int arbor_sup_start_module(const arbor_sup_module_t *mod, void *arg, const arbor_sup_opts_t *opts,
                           arbor_pid_t *pid_out, arbor_reason_t *error_out);

/* Checks a spec as start_child would; on ARBOR_EINVAL, *why says what is
 * wrong ("invalid_shutdown", ...). */
int arbor_sup_check_spec(const arbor_child_spec_t *spec, arbor_reason_t *why);

/*
 * Adds and starts a child. 0 with *pid_out, and in *error_out the info
 * its start function left (OTP's {ok, Pid, Info}; ARBOR_NORMAL if none);
 * ARBOR_IGNORED (spec kept with
 * no pid, unless temporary); ARBOR_EEXIST (same id running: *pid_out is
 * it); ARBOR_EPRESENT (same id, not running); ARBOR_EINVAL (bad spec,
 * *error_out says why); ARBOR_EEXIT (its start failed: spec not kept,
 * *error_out is the reason).
 */
int arbor_sup_start_child(arbor_pid_t sup, const arbor_child_spec_t *spec, arbor_pid_t *pid_out,
                          arbor_reason_t *error_out);

/* Stops the child by its shutdown spec; its spec stays (temporary: goes).
 * 0 (also when already stopped), ARBOR_ENOENT. */
int arbor_sup_terminate_child(arbor_pid_t sup, const char *id);

/* Starts a stopped child again. 0 with *pid_out and the start's info in
 * *error_out (as arbor_sup_start_child()), ARBOR_IGNORED,
 * ARBOR_ERUNNING, ARBOR_ERESTARTING, ARBOR_ENOENT, or the start's error. */
int arbor_sup_restart_child(arbor_pid_t sup, const char *id, arbor_pid_t *pid_out,
                            arbor_reason_t *error_out);

/* Forgets a stopped child's spec. 0, ARBOR_ERUNNING, ARBOR_ERESTARTING,
 * ARBOR_ENOENT. */
int arbor_sup_delete_child(arbor_pid_t sup, const char *id);

typedef enum arbor_child_status {
    ARBOR_CHILD_RUNNING = 1,
    ARBOR_CHILD_UNDEFINED, /* not running: stopped, ignored or exited */
    ARBOR_CHILD_RESTARTING,
} arbor_child_status_t;

typedef struct arbor_child_info {
    char id[ARBOR_CHILD_ID_MAX + 1];
    arbor_pid_t pid; /* ARBOR_NOPID unless running */
    arbor_child_status_t status;
    arbor_child_type_t type;
    unsigned restarts; /* times this child was restarted */
} arbor_child_info_t;

/* The children, most recently started first (OTP's order). *out is an
 * array of *n entries to release with free(). */
int arbor_sup_which_children(arbor_pid_t sup, arbor_child_info_t **out, size_t *n);

/*
 * The children of sup, a Supervisor or a DynamicSupervisor, as
 * which_children gives them (the same entries, in the same order), but
 * read from the OTP layer's table of supervisors instead of asked for:
 * sup gets no message and is not waited for, so the answer comes at once
 * even while sup is busy (inside a child's start function, waiting for a
 * child to stop) or its mailbox is long. Beyond OTP (whose which_children
 * is a call).
 *
 * What it shows is sup's state after its last change to a child: a
 * supervisor enters each change (a child started, exited, restarted,
 * terminated, added or deleted) as it makes it. A child whose start
 * function is still running shows as it was before the start: a new one
 * not at all, one being restarted with no pid (undefined, or restarting
 * for a DynamicSupervisor's child), its restarts already counted.
 *
 * sup is in the table from before arbor_sup_start() or arbor_dynsup_start()
 * returns its pid until it exits. Any thread, in a process or not; it
 * waits only for a lock that sup holds for the few stores of one change.
 * Returns 0 with *out (an array of *n entries to release with free());
 * ARBOR_ENOPROC when sup is not alive; ARBOR_EWRONGKIND when it is a
 * process of another kind; ARBOR_ENOMEM; ARBOR_EINVAL for a NULL out or n.
 */
int arbor_sup_children_snapshot(arbor_pid_t sup, arbor_child_info_t **out, size_t *n);

typedef struct arbor_child_counts {
    size_t specs, active, supervisors, workers;
} arbor_child_counts_t;

int arbor_sup_count_children(arbor_pid_t sup, arbor_child_counts_t *out);

/* The spec of child id (its id points into the caller's buffer idbuf). */
int arbor_sup_get_childspec(arbor_pid_t sup, const char *id, arbor_child_spec_t *out,
                            char idbuf[ARBOR_CHILD_ID_MAX + 1]);

/* Stops the supervisor with reason (its children first, in reverse order)
 * and waits: GenServer.stop. */
int arbor_sup_stop(arbor_pid_t sup, arbor_reason_t reason);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif
#endif

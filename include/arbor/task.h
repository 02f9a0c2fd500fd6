/*
 * Task and Task.Supervisor: run a function in its own process and, for
 * async tasks, collect its result (docs/otp.md, "Task").
 *
 * Elixir:
 *
 *   t = Task.async(fn -> work end)
 *   Task.await(t)
 *   Task.Supervisor.start_child(S, fn -> job end)
 *   Task.Supervisor.async_nolink(S, fn -> w end)
 *
 * Arbor:
 *
 *   arbor_task_async(work, arg, &t);
 *   arbor_task_await(&t, ARBOR_TASK_TIMEOUT, &res, &why);
 *   arbor_task_sup_start_child(s, job, arg, NULL, &pid);
 *   arbor_task_sup_async_nolink(s, w, arg, &t);
 *
 * A task function writes its result (at most ARBOR_TASK_RESULT_MAX bytes)
 * into result and returns its size. An async task replies once and exits
 * normal; a task that exits otherwise (arbor_exit, killed) has no result.
 */
#ifndef ARBOR_TASK_H
#define ARBOR_TASK_H

#include <stddef.h>
#include <stdint.h>

#include "message.h"
#include "supervisor.h"

#ifdef __cplusplus
extern "C" {
#endif

#pragma GCC visibility push(default)

#define ARBOR_TASK_RESULT_MAX 256
#define ARBOR_TASK_TIMEOUT    5000 /* Task.await's default */
#define ARBOR_TAG_TASK_REPLY  (ARBOR_TAG_OTP + 0x300)

typedef size_t (*arbor_task_fn)(void *arg, void *result, size_t capacity);

/* An async task: only its owner (the process that started it) may await,
 * yield or shut it down. */
typedef struct arbor_task {
    arbor_pid_t pid;
    arbor_pid_t owner;
    arbor_ref_t ref;   /* the owner's monitor of the task */
    arbor_ref_t alias; /* where the reply goes */
} arbor_task_t;

/* Starts fn(arg) linked to and monitored by the caller. arg is passed
 * untouched (keep it valid while the task runs). Process only. */
int arbor_task_async(arbor_task_fn fn, void *arg, arbor_task_t *task);

/*
 * Waits up to timeout_ms for the task's result (freed with arbor_msg_free;
 * the bytes are msg->data, msg->size).
 *   0               the result arrived; the monitor is gone
 *   ARBOR_ETIMEDOUT no result in time; the task keeps running (Elixir's
 *                   await exits the caller, and the link then takes the
 *                   task down: call arbor_task_shutdown() for that), and
 *                   its late reply is never seen
 *   ARBOR_EEXIT     the task died without a result: *exit_out (normal when
 *                   it exited normally without replying)
 *   ARBOR_EACCES    the caller is not the owner
 * A task may be awaited once.
 */
int arbor_task_await(arbor_task_t *task, int64_t timeout_ms, arbor_msg_t **result,
                     arbor_reason_t *exit_out);

/* Like await, but a timeout leaves the task awaitable: ARBOR_ETIMEDOUT is
 * Elixir's nil; a result queued together with the DOWN wins. */
int arbor_task_yield(arbor_task_t *task, int64_t timeout_ms, arbor_msg_t **result,
                     arbor_reason_t *exit_out);

/*
 * Unlinks the task and stops it: shutdown, waiting up to timeout_ms, then
 * kill (or kill at once with ARBOR_BRUTAL_KILL).
 *   0                the result had arrived: *result
 *   ARBOR_ESHUTDOWN  the task was shut down (Elixir's nil)
 *   ARBOR_EEXIT      it died otherwise (*exit_out; killed when it had to be
 *                    killed after the timeout; noproc when already reaped)
 */
int arbor_task_shutdown(arbor_task_t *task, int64_t timeout_ms, arbor_msg_t **result,
                        arbor_reason_t *exit_out);

/* Runs fn(arg) linked to the caller, with no result expected. */
int arbor_task_start_link(arbor_task_fn fn, void *arg, arbor_pid_t *pid_out);

/* ---- async_stream ------------------------------------------------------------ */

typedef enum { ARBOR_STREAM_EXIT = 0, ARBOR_STREAM_KILL_TASK } arbor_on_timeout_t;

typedef struct arbor_stream_opts {
    unsigned max_concurrency; /* 0 = number of schedulers */
    int64_t timeout;          /* per item, ms; 0 = ARBOR_TASK_TIMEOUT */
    arbor_on_timeout_t on_timeout;
} arbor_stream_opts_t;

typedef struct arbor_stream_result {
    int status;         /* 0 ok, ARBOR_EEXIT (exit: reason), ARBOR_ETIMEDOUT (killed task) */
    arbor_msg_t *value; /* status 0: the result, freed by the caller */
    arbor_reason_t reason;
} arbor_stream_result_t;

/*
 * Runs fn over args[0..n) with at most max_concurrency tasks at a time,
 * results in input order in results[0..n). Tasks are linked to the caller,
 * so one that crashes takes the caller down (as Elixir's async_stream).
 * With on_timeout ARBOR_STREAM_EXIT a late item stops the stream: the
 * remaining tasks are shut down and ARBOR_ETIMEDOUT is returned (Elixir
 * exits the caller). Process only.
 */
int arbor_task_async_stream(arbor_task_fn fn, void *const *args, size_t n,
                            const arbor_stream_opts_t *opts, arbor_stream_result_t *results);

/* ---- Task.Supervisor ------------------------------------------------------------ */

typedef struct arbor_task_sup_opts {
    const char *name;
    bool link;
    size_t max_children; /* 0 = no limit */
    int max_restarts;    /* default 3 when the whole struct is zero: see below */
    int max_seconds;
} arbor_task_sup_opts_t;

#define ARBOR_TASK_SUP_OPTS_DEFAULT ((arbor_task_sup_opts_t){.max_restarts = 3, .max_seconds = 5})

/* Starts a Task.Supervisor (a DynamicSupervisor for tasks). */
int arbor_task_sup_start(const arbor_task_sup_opts_t *opts, arbor_pid_t *pid_out,
                         arbor_reason_t *error_out);

typedef struct arbor_task_child_opts {
    arbor_restart_t restart; /* ARBOR_TEMPORARY by default (zeroed struct: see below) */
    int64_t shutdown;        /* ARBOR_SHUTDOWN_DEFAULT = 5000 */
    /* Restart back-off for a transient or permanent task, as in
     * arbor_child_spec_t (beyond OTP; off while backoff_ms is 0): a task
     * that keeps failing is retried after growing delays instead of at
     * once, so it does not exhaust its supervisor's restart intensity. */
    uint32_t backoff_ms, backoff_max_ms, backoff_reset_ms;
} arbor_task_child_opts_t;

/* Starts fn(arg) under sup, linked only to sup. opts NULL: temporary, 5000
 * ms shutdown. A transient or permanent task is restarted with the same
 * fn and arg. 0 with *pid_out, ARBOR_EMAXCHILD. */
int arbor_task_sup_start_child(arbor_pid_t sup, arbor_task_fn fn, void *arg,
                               const arbor_task_child_opts_t *opts, arbor_pid_t *pid_out);

/* Task.Supervisor.async: a child of sup, linked to and monitored by the
 * caller. Returns ARBOR_EMAXCHILD when sup is full (Elixir raises). */
int arbor_task_sup_async(arbor_pid_t sup, arbor_task_fn fn, void *arg, arbor_task_t *task);

/* Task.Supervisor.async_nolink: monitored, not linked: a crash of the task
 * does not touch the caller, which gets ARBOR_EEXIT from await/yield. */
int arbor_task_sup_async_nolink(arbor_pid_t sup, arbor_task_fn fn, void *arg, arbor_task_t *task);

/* The running tasks' pids (release *out with free()). */
int arbor_task_sup_children(arbor_pid_t sup, arbor_pid_t **out, size_t *n);

/* 0, or ARBOR_ENOENT. */
int arbor_task_sup_terminate_child(arbor_pid_t sup, arbor_pid_t pid);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif
#endif

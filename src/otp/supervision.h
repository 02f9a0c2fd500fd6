/*
 * The supervision core: what Supervisor (supervisor.c) and
 * DynamicSupervisor (dynamic_supervisor.c) share, so that the two decide
 * alike. A supervisor keeps its children as it likes (an array in start
 * order, or maps by pid); what happens to a child is decided here:
 *
 *   policy.c       what an exit means (restart, keep the spec, forget the
 *                  child), whether it is reported, and which ends of a
 *                  stopped child are expected:
 *                  tables, as s6 writes its supervisor
 *   shutdown.c     stopping one child by its shutdown spec, and the reason
 *                  a stopped child ended with
 *   intensity.c    restart intensity (OTP's add_restart)
 *   backoff.c      restart back-off (an Arbor extension)
 *   retry.c        the retry path: a restart that must wait (back-off, or a
 *                  start that failed) is a message to the supervisor itself,
 *                  and every attempt is an intensity tick
 *   child_start.c  calling a child's start function and checking its answer
 *   sup_call.c     the supervisors' calls and tagged replies
 *   sup_table.c    the table of supervisors: their children read by any
 *                  thread without a call (arbor_sup_children_snapshot())
 *
 * Internal names start with arbor__ and the file's name.
 */
#ifndef ARBOR_OTP_SUPERVISION_H
#define ARBOR_OTP_SUPERVISION_H

#include "otp.h"

/* ---- policy.c: the tables ---------------------------------------------------------- */

/* What a supervisor does with a child that exited on its own. */
typedef enum arbor__policy_action {
    ARBOR__POLICY_RESTART, /* start it again (at once, or after its back-off) */
    ARBOR__POLICY_KEEP,    /* keep its spec, with no process; a DynamicSupervisor,
                            * whose children are nothing but their processes,
                            * forgets it */
    ARBOR__POLICY_FORGET,  /* delete the child and its spec */
} arbor__policy_action_t;

/* The restart decision for a child of restart type restart that ended
 * with reason (supervisor.erl do_restart; table in policy.c). */
arbor__policy_action_t arbor__policy_on_exit(arbor_restart_t restart, const arbor_reason_t *reason);

/* Whether that exit is reported as child_terminated: every exit of a
 * permanent child (normal too, as OTP does), an abnormal one otherwise. */
bool arbor__policy_exit_reported(arbor_restart_t restart, const arbor_reason_t *reason);

/* Which supervisor asks: they differ in one case (policy.c). */
typedef enum arbor__policy_sup {
    ARBOR__POLICY_SUPERVISOR,         /* OTP's supervisor.erl */
    ARBOR__POLICY_DYNAMIC_SUPERVISOR, /* Elixir's DynamicSupervisor */
} arbor__policy_sup_t;

/* Whether a child stopped by its supervisor sup (shutdown is the resolved
 * value, arbor__shutdown_value()) ending with reason ended as a shutdown
 * should: false means a shutdown_error report. One table for both
 * supervisors, which differ only where OTP and Elixir do (policy.c). */
bool arbor__policy_shutdown_expected(arbor__policy_sup_t sup, int64_t shutdown,
                                     arbor_restart_t restart, const arbor_reason_t *reason);

/* ---- shutdown.c: stopping one child -------------------------------------------------- */

/* Resolves ARBOR_SHUTDOWN_DEFAULT and ARBOR_SHUTDOWN_NOW for a child type:
 * returns milliseconds (>= 0), ARBOR_SHUTDOWN_INFINITY or ARBOR_BRUTAL_KILL. */
int64_t arbor__shutdown_value(int64_t shutdown, arbor_child_type_t type);

/*
 * Stops child pid, linked to the caller, as a supervisor does: monitor it,
 * unlink it (taking the reason of an EXIT already queued, if it had died),
 * send shutdown (or kill for brutal_kill), wait for the DOWN, and kill it
 * when the shutdown time runs out. Returns the reason it died with, whose
 * text is the caller's to arbor_reason_free(). Blocks the caller until the
 * child is gone.
 */
arbor_reason_t arbor__shutdown_child(arbor_pid_t pid, int64_t shutdown);

/* The reason child pid ended with, given the DOWN's: a DOWN of noproc
 * (the child was gone before the monitor) gives way to the EXIT of the
 * link, taken out of the mailbox, as OTP's unlink_flush does. The result's
 * text is the caller's to free. */
arbor_reason_t arbor__shutdown_end_reason(arbor_pid_t pid, const arbor_reason_t *down);

/* ---- intensity.c ------------------------------------------------------------------------ */

/*
 * Restart intensity (supervisor.erl add_restart): timestamps in whole
 * seconds of monotonic time; a restart is allowed when, after dropping the
 * ones older than max_seconds and adding now, at most max_restarts remain.
 * A ring of max_restarts + 1 entries makes each check O(1) amortised.
 */
typedef struct arbor__intensity {
    uint64_t *ring;
    unsigned cap, head, count;
    int max_restarts, max_seconds;
} arbor__intensity_t;

/* Allocates with arbor_alloc(); false when out of memory. */
bool arbor__intensity_init(arbor__intensity_t *in, int max_restarts, int max_seconds);
/* Records a restart now; false if that exceeds the intensity. */
bool arbor__intensity_add(arbor__intensity_t *in);

/* ---- backoff.c ----------------------------------------------------------------------------- */

/* Restart back-off (see arbor_child_spec_t): the delay before the next
 * restart of a child with spec, whose consecutive-restart counter is
 * *step; advances *step. 0 when back-off is off. */
uint64_t arbor__backoff_delay(const arbor_child_spec_t *spec, unsigned *step);
/* A child with back-off exited after starting at started_at: a healthy
 * run (backoff_reset_ms) starts its delays over. */
void arbor__backoff_exited(const arbor_child_spec_t *spec, unsigned *step, uint64_t started_at);

/* ---- retry.c: the retry path ----------------------------------------------------------- */

/* Who a supervisor's reports name: its behaviour and, for a Supervisor,
 * the child's id (a DynamicSupervisor's children have none: NULL). */
typedef struct arbor__retry_who {
    const char *behaviour;
    const char *child_id;
} arbor__retry_who_t;

/* Reports what happened to a child (kind, what, reason) in the form both
 * supervisors use. */
void arbor__retry_report(arbor__retry_who_t who, arbor_report_kind_t kind, const char *what,
                         arbor_reason_t reason);

/* Asks the calling supervisor to restart a child later: a message to
 * itself with tag and the size bytes of key that name the child, sent at
 * once or after the child's back-off delay (spec, *step: see backoff.c).
 * The supervisor marks the child restarting first. */
void arbor__retry_post(uint64_t tag, const void *key, size_t size, const arbor_child_spec_t *spec,
                       unsigned *step);

/* The first step of restarting a child after its exit (started at
 * started_at): a child with back-off waits, its delays started over after
 * a healthy run, and the restart is posted as a retry (true: the caller
 * marks the child restarting). Without back-off, false: the caller takes
 * the tick and restarts it at once. */
bool arbor__retry_after_exit(uint64_t tag, const void *key, size_t size,
                             const arbor_child_spec_t *spec, unsigned *step, uint64_t started_at);

/* The key of msg when it is a retry the calling supervisor posted with
 * tag and a key of size bytes; NULL otherwise. */
const void *arbor__retry_key(const arbor_msg_t *msg, uint64_t tag, size_t size);

/* One restart attempt's intensity tick, taken before every restart,
 * retries included. False when it exceeds the intensity: it has then
 * reported reached_max_restart_intensity, and the supervisor halts with
 * shutdown (its terminate stops the other children). */
bool arbor__retry_tick(arbor__intensity_t *in, arbor__retry_who_t who);

/* ---- child_start.c ----------------------------------------------------------------------- */

/* Calls spec's start function (start_extra with extra, or start), and
 * checks that a successful start returned a pid linked to the caller (one
 * that is not is killed, and the start fails with not_linked, naming the
 * child). Returns 0 with *err set
 * to the start's info (OTP's {ok, Pid, Info}; ARBOR_NORMAL when it gave
 * none), ARBOR_IGNORED, or ARBOR_EEXIT with *err set; when the start found its
 * name taken (ARBOR_EEXIST with the owner's pid), *owner (if not NULL)
 * receives the owner and *err is already_started. */
int arbor__child_start(const arbor_child_spec_t *spec, void *extra, arbor_pid_t *pid,
                       arbor_reason_t *err, arbor_pid_t *owner);

/* Makes spec->arg the supervisor's own copy when spec->arg_size asks for
 * one (process memory). False when out of memory. */
bool arbor__child_own_arg(arbor_child_spec_t *spec);
/* Releases what arbor__child_own_arg() took. */
void arbor__child_release_arg(arbor_child_spec_t *spec);

/* ---- sup_call.c: the supervisors' calls --------------------------------------------------- */

/*
 * Each behaviour's call tags are its own (tags.h), and every reply starts
 * with the tag of its request: a process of another kind (a GenServer,
 * the other supervisor) cannot answer in that form, and its answer is
 * read as ARBOR_EWRONGKIND instead of, say, zero children.
 */
typedef struct arbor__sup_call_reply {
    uint64_t tag; /* the request's */
    int rc;
    arbor_pid_t pid;
    arbor_reason_t reason;
} arbor__sup_call_reply_t;

/* Calls sup with (tag, req, size) and reads an arbor__sup_call_reply_t: 0
 * and *out, what arbor_gs_call() returns (with *exit_out on ARBOR_EEXIT),
 * or ARBOR_EWRONGKIND. out->reason's text is then the caller's. */
int arbor__sup_call(arbor_pid_t sup, uint64_t tag, const void *req, size_t size,
                    arbor__sup_call_reply_t *out, arbor_reason_t *exit_out);

/* The client side of the calls that answer as a start does (start,
 * restart, terminate and delete a child): the call's own failure (what
 * arbor_gs_call() returns, ARBOR_EWRONGKIND), or the supervisor's answer,
 * with *pid_out on 0, ARBOR_EEXIST (the name's owner) and ARBOR_IGNORED,
 * and *error_out on 0 (the start's info), ARBOR_EEXIT and ARBOR_EINVAL.
 * Either may be NULL. */
int arbor__sup_call_start(arbor_pid_t sup, uint64_t tag, const void *req, size_t size,
                          arbor_pid_t *pid_out, arbor_reason_t *error_out);

/* A supervisor's reply r, with its reason's text, whose memory (the
 * supervisor's) it then frees. */
arbor_gs_ret_t arbor__sup_call_answer(arbor__sup_call_reply_t *r);

/* The body of a reply to a call with tag (*n bytes after the tag), or
 * NULL when the reply does not start with tag: another kind answered. */
const void *arbor__sup_call_tagged_body(const arbor_msg_t *m, uint64_t tag, size_t *n);

/* Replies to the call with tag: n bytes at body after the tag. */
arbor_gs_ret_t arbor__sup_call_tagged_reply(uint64_t tag, const void *body, size_t n);

/* Client side of which_children / count_children: calls sup with tag and
 * copies the reply out (an array the caller frees, or the counts). The
 * server answers which_children with arbor__sup_call_reply_children(). */
int arbor__sup_call_children(arbor_pid_t sup, uint64_t tag, arbor_child_info_t **out, size_t *n);
int arbor__sup_call_counts(arbor_pid_t sup, uint64_t tag, arbor_child_counts_t *out);
/* Sends from the n entries at kids, after the tag (in malloc'd memory:
 * the list may be large). */
void arbor__sup_call_reply_children(arbor_from_t from, uint64_t tag, const arbor_child_info_t *kids,
                                    size_t n);

/* The reply to a call a supervisor does not understand: an int
 * ARBOR_EINVAL, which every client of ours reads as a failed call. */
arbor_gs_ret_t arbor__sup_call_refuse(const arbor_msg_t *req);

/* ---- sup_table.c: the children, read without a call ------------------------------------- */

/* Lists the children held in state into out, as which_children gives
 * them, up to cap entries (out may be NULL when cap is 0), and returns how
 * many there are. Called under the supervisor's table lock, by any
 * thread: it reads only what the supervisor changes under that lock, and
 * must not block. */
typedef size_t (*arbor__sup_table_list_fn)(const void *state, arbor_child_info_t *out, size_t cap);

typedef struct arbor__sup_table arbor__sup_table_t;

/* Enters the calling supervisor in the table, from now until it exits
 * (however it exits): readers list its children with list(state, ...)
 * under its lock. From then on, the supervisor changes what list reads only
 * between arbor__sup_table_lock() and arbor__sup_table_unlock(), and never
 * waits in between (no child's start, no shutdown, no receive): readers
 * wait for the lock. NULL when out of memory. */
arbor__sup_table_t *arbor__sup_table_enter(arbor__sup_table_list_fn list, const void *state);
void arbor__sup_table_lock(arbor__sup_table_t *t);
void arbor__sup_table_unlock(arbor__sup_table_t *t);

#endif

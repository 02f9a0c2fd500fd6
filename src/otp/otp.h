/*
 * Pieces the OTP behaviours share: stopping a child by its shutdown spec,
 * restart intensity, and small message matchers. Internal names start with
 * arbor__otp_.
 */
#ifndef ARBOR_OTP_INTERNAL_H
#define ARBOR_OTP_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "arbor.h"

/* Resolves ARBOR_SHUTDOWN_DEFAULT and ARBOR_SHUTDOWN_NOW for a child type:
 * returns milliseconds (>= 0), ARBOR_SHUTDOWN_INFINITY or ARBOR_BRUTAL_KILL. */
int64_t arbor__otp_shutdown_value(int64_t shutdown, arbor_child_type_t type);

/*
 * Stops child pid, linked to the caller, as a supervisor does: monitor it,
 * unlink it (taking the reason of an EXIT already queued, if it had died),
 * send shutdown (or kill for brutal_kill), wait for the DOWN, and kill it
 * when the shutdown time runs out. Returns the reason it died with, whose
 * text is the caller's to arbor_reason_free(). Blocks the caller until the
 * child is gone.
 */
arbor_reason_t arbor__otp_shutdown_child(arbor_pid_t pid, int64_t shutdown);

/*
 * Restart intensity (supervisor.erl add_restart): timestamps in whole
 * seconds of monotonic time; a restart is allowed when, after dropping the
 * ones older than max_seconds and adding now, at most max_restarts remain.
 * A ring of max_restarts + 1 entries makes each check O(1) amortised.
 */
typedef struct arbor__otp_intensity {
    uint64_t *ring;
    unsigned cap, head, count;
    int max_restarts, max_seconds;
} arbor__otp_intensity_t;

/* Allocates with arbor_alloc(); false when out of memory. */
bool arbor__otp_intensity_init(arbor__otp_intensity_t *in, int max_restarts, int max_seconds);
/* Records a restart now; false if that exceeds the intensity. */
bool arbor__otp_intensity_add(arbor__otp_intensity_t *in);

/* Calls spec's start function (start_extra with extra, or start), and
 * checks that a successful start returned a pid linked to the caller (one
 * that is not is killed, and the start fails with not_linked, naming the
 * child). Returns 0 with *err set
 * to the start's info (OTP's {ok, Pid, Info}; ARBOR_NORMAL when it gave
 * none), ARBOR_IGNORED, or ARBOR_EEXIT with *err set; when the start found its
 * name taken (ARBOR_EEXIST with the owner's pid), *owner (if not NULL)
 * receives the owner and *err is already_started. */
int arbor__otp_call_start(const arbor_child_spec_t *spec, void *extra, arbor_pid_t *pid,
                          arbor_reason_t *err, arbor_pid_t *owner);

/* Makes spec->arg the supervisor's own copy when spec->arg_size asks for
 * one (process memory). False when out of memory. */
bool arbor__otp_own_arg(arbor_child_spec_t *spec);
/* Releases what arbor__otp_own_arg() took. */
void arbor__otp_release_arg(arbor_child_spec_t *spec);

/* Restart back-off (see arbor_child_spec_t): the delay before the next
 * restart of a child with spec, whose consecutive-restart counter is
 * *step; advances *step. 0 when back-off is off. */
uint64_t arbor__otp_backoff_delay(const arbor_child_spec_t *spec, unsigned *step);
/* A child with back-off exited after starting at started_at: a healthy
 * run (backoff_reset_ms) starts its delays over. */
void arbor__otp_backoff_exited(const arbor_child_spec_t *spec, unsigned *step, uint64_t started_at);

/*
 * Supervisor calls. Each behaviour's call tags are its own (Supervisor
 * ARBOR_TAG_OTP + 0x101..., DynamicSupervisor + 0x201...), and every
 * reply starts with the tag of its request: a process of another kind (a
 * GenServer, the other supervisor) cannot answer in that form, and its
 * answer is read as ARBOR_EWRONGKIND instead of, say, zero children.
 */
typedef struct arbor__otp_reply {
    uint64_t tag; /* the request's */
    int rc;
    arbor_pid_t pid;
    arbor_reason_t reason;
} arbor__otp_reply_t;

/* Calls sup with (tag, req, size) and reads an arbor__otp_reply_t: 0 and
 * *out, what arbor_gs_call() returns (with *exit_out on ARBOR_EEXIT), or
 * ARBOR_EWRONGKIND. out->reason's text is then the caller's. */
int arbor__otp_call_reply(arbor_pid_t sup, uint64_t tag, const void *req, size_t size,
                          arbor__otp_reply_t *out, arbor_reason_t *exit_out);

/* The body of a reply to a call with tag (*n bytes after the tag), or
 * NULL when the reply does not start with tag: another kind answered. */
const void *arbor__otp_tagged_body(const arbor_msg_t *m, uint64_t tag, size_t *n);

/* Replies to the call with tag: n bytes at body after the tag. */
arbor_gs_ret_t arbor__otp_tagged_reply(uint64_t tag, const void *body, size_t n);

/* Client side of which_children / count_children: calls sup with tag and
 * copies the reply out (an array the caller frees, or the counts). The
 * server answers which_children with arbor__otp_reply_children(). */
int arbor__otp_call_children(arbor_pid_t sup, uint64_t tag, arbor_child_info_t **out, size_t *n);
int arbor__otp_call_counts(arbor_pid_t sup, uint64_t tag, arbor_child_counts_t *out);
/* Sends from the n entries at kids, after the tag (in malloc'd memory:
 * the list may be large). */
void arbor__otp_reply_children(arbor_from_t from, uint64_t tag, const arbor_child_info_t *kids,
                               size_t n);

/* The reply to a call a supervisor does not understand: an int
 * ARBOR_EINVAL, which every client of ours reads as a failed call. */
arbor_gs_ret_t arbor__otp_refuse_call(const arbor_msg_t *req);

/* Reports a message gs has no handle_info for (a warning, as OTP logs). */
void arbor__otp_warn_unhandled(const arbor_gen_server_t *gs, const arbor_msg_t *msg);

/* Matchers for arbor_receive_match(). arg points to the pid or ref. */
bool arbor__otp_is_exit_from(const arbor_msg_t *m, void *pid);
bool arbor__otp_is_down_of(const arbor_msg_t *m, void *ref);

/* Reasons in the OTP layer's messages (reason_wire.c). A message that
 * holds a reason is sent as size bytes of data followed by the reason r's
 * whole text: arbor_send_alias() through alias (arbor_send() when alias is
 * 0), or a gen_server reply. The receiver copies the struct out of m and
 * calls arbor__otp_reason_in() on the copy's reason, which then reads its
 * text from m: valid until m is freed. */
int arbor__otp_send_reason(arbor_pid_t to, arbor_ref_t alias, uint64_t tag, const void *data,
                           size_t size, const arbor_reason_t *r);
arbor_gs_ret_t arbor__otp_reply_reason(const void *data, size_t size, const arbor_reason_t *r);
/* A supervisor's reply r, with its reason's text, whose memory (the
 * supervisor's) it then frees. */
arbor_gs_ret_t arbor__otp_reply_start(arbor__otp_reply_t *r);
void arbor__otp_reason_in(arbor_reason_t *r, const arbor_msg_t *m, size_t size);

/* The live owner of key in reg, a registry with unique keys (registry.c,
 * for registry_via.c): 0 and *pid, ARBOR_ENOENT, ARBOR_EINVAL (duplicate
 * keys or a bad key), ARBOR_ENOPROC. */
int arbor__registry_unique_owner(arbor_pid_t reg, const char *key, arbor_pid_t *pid);
/* Checks key and value as a registration in reg would. */
int arbor__registry_check_entry(arbor_pid_t reg, const char *key, const void *value, size_t size);
/* 0 when reg is a running registry with unique keys; ARBOR_EINVAL for
 * duplicate keys, ARBOR_ENOPROC when it is not running. */
int arbor__registry_check_unique(arbor_pid_t reg);

#endif

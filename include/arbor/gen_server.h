/*
 * GenServer: a process that holds a state and answers calls, casts and
 * other messages through callbacks, with OTP's exact semantics
 * (docs/otp.md, "GenServer").
 *
 * A server is a reactive process: between messages it holds no stack. Its
 * callbacks receive `void **state` and may change the state in place or
 * replace the pointer; memory for it should come from arbor_alloc(), so
 * that it is freed however the server dies.
 *
 * Each callback returns an arbor_gs_ret_t made with the constructors below,
 * the C spelling of OTP's return tuples:
 *
 *   OTP                                   Arbor
 *   {ok, State}                           arbor_gs_ok()
 *   ignore                                arbor_gs_ignore()                  (init)
 *   {stop, Reason} / {error, Reason}      arbor_gs_halt(reason)
 *   {reply, R, State}                     arbor_gs_reply(&r, sizeof r)       (handle_call)
 *   {noreply, State}                      arbor_gs_noreply()
 *   {stop, Reason, R, State}              arbor_gs_halt_reply(reason, &r, sizeof r)
 *   ..., Timeout / hibernate / {continue, A}
 *                                         arbor_gs_timeout(ret, ms), arbor_gs_hibernate(ret),
 *                                         arbor_gs_continue(ret, a)
 *
 * (halt, not stop: arbor_gs_stop() is GenServer.stop/3, which stops a
 * server from outside.) A callback fails by returning a halt: terminate() then runs, as when an
 * Erlang callback raises. Calling arbor_exit() inside a callback ends the
 * server at once without terminate(), as a kill would.
 *
 * terminate() fails the same way: arbor_exit(r) inside it ends the server
 * with r, not the reason terminate was given (OTP exits with terminate's
 * crash reason too). A reply owed by arbor_gs_halt_reply() reaches its
 * caller all the same, as OTP sends it in an `after`: the caller gets the
 * reply, then sees the server exit with r. (It is also sent when the
 * server is killed while terminate() runs, where OTP's would be lost.)
 */
#ifndef ARBOR_GEN_SERVER_H
#define ARBOR_GEN_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "message.h"
#include "process.h"
#include "reason.h"

#ifdef __cplusplus
extern "C" {
#endif

#pragma GCC visibility push(default)

/* The tags of the messages a user's process receives from the GenServer
 * layer (the protocol's own tags are private: src/otp/tags.h). The
 * message handle_info receives when a returned timeout expires: */
#define ARBOR_TAG_GS_TIMEOUT (ARBOR_TAG_OTP + 5)
/* A trace event, sent to the process arbor_gs_trace_to() names. */
#define ARBOR_TAG_GS_TRACE (ARBOR_TAG_OTP + 8)

/* OTP's default call timeout. */
#define ARBOR_GS_CALL_TIMEOUT 5000

/* start returns this (not an error) when init returned ignore. */
#define ARBOR_IGNORED 1

typedef enum arbor_gs_action {
    ARBOR_GS_OK = 0, /* init: started; other callbacks: noreply */
    ARBOR_GS_REPLY,
    ARBOR_GS_STOP,
    ARBOR_GS_IGNORE,
} arbor_gs_action_t;

/* Replies up to this size travel inside arbor_gs_ret_t; larger ones are
 * copied by the constructor into memory of the calling process
 * (arbor_alloc), which the server frees once the reply is sent. */
#define ARBOR_GS_INLINE_REPLY 128

typedef struct arbor_gs_ret {
    arbor_gs_action_t action;
    arbor_reason_t reason; /* ARBOR_GS_STOP */
    bool has_reply;        /* REPLY, or STOP with a reply */
    size_t reply_size;
    void *reply_heap; /* the copy, when larger than the inline buffer */
    _Alignas(16) unsigned char reply_inline[ARBOR_GS_INLINE_REPLY];
    int64_t timeout; /* >= 0: ARBOR_TAG_GS_TIMEOUT after that many ms of silence */
    bool hibernate;
    bool has_continue;
    uint64_t continue_arg;
} arbor_gs_ret_t;

static inline arbor_gs_ret_t arbor_gs_ok(void)
{
    arbor_gs_ret_t r;
    r.action = ARBOR_GS_OK;
    r.has_reply = false;
    r.reply_size = 0;
    r.reply_heap = NULL;
    r.timeout = -1;
    r.hibernate = false;
    r.has_continue = false;
    r.continue_arg = 0;
    return r;
}
static inline arbor_gs_ret_t arbor_gs_noreply(void)
{
    return arbor_gs_ok();
}
static inline arbor_gs_ret_t arbor_gs_ignore(void)
{
    arbor_gs_ret_t r = arbor_gs_ok();
    r.action = ARBOR_GS_IGNORE;
    return r;
}
static inline arbor_gs_ret_t arbor_gs_halt(arbor_reason_t reason)
{
    arbor_gs_ret_t r = arbor_gs_ok();
    r.action = ARBOR_GS_STOP;
    r.reason = reason;
    return r;
}

/* Reply with a copy of size bytes at reply, made now: reply may point into
 * the callback's own frame. (If the copy cannot be allocated, the server
 * stops with an out-of-memory reason.) */
arbor_gs_ret_t arbor_gs_reply(const void *reply, size_t size);
/* {stop, Reason, Reply, State}: halt after replying (a copy, as above). */
arbor_gs_ret_t arbor_gs_halt_reply(arbor_reason_t reason, const void *reply, size_t size);

static inline arbor_gs_ret_t arbor_gs_timeout(arbor_gs_ret_t r, int64_t ms)
{
    r.timeout = ms;
    return r;
}
static inline arbor_gs_ret_t arbor_gs_hibernate(arbor_gs_ret_t r)
{
    r.hibernate = true;
    return r;
}
static inline arbor_gs_ret_t arbor_gs_continue(arbor_gs_ret_t r, uint64_t arg)
{
    r.has_continue = true;
    r.continue_arg = arg;
    return r;
}

/* Who made a call: what arbor_gs_reply_to() needs to answer it later. */
typedef struct arbor_from {
    arbor_pid_t pid;
    arbor_ref_t alias;
} arbor_from_t;

typedef struct arbor_gen_server {
    /* The module's name: the label reports and introspection show (the
     * process's label, arbor_set_label()) and arbor_gs_child_spec()'s
     * default id. Not a registered name: that is arbor_gs_opts_t.name. */
    const char *label;
    /* Required. Runs in the new process before start returns. */
    arbor_gs_ret_t (*init)(void **state, void *arg);
    /* Missing: a call crashes the server with {undef, handle_call}. */
    arbor_gs_ret_t (*handle_call)(void **state, const arbor_msg_t *req, arbor_from_t from);
    /* Missing: a cast crashes the server with {undef, handle_cast}. */
    arbor_gs_ret_t (*handle_cast)(void **state, const arbor_msg_t *msg);
    /* Missing: other messages are logged and dropped. */
    arbor_gs_ret_t (*handle_info)(void **state, const arbor_msg_t *msg);
    /* Missing: returning a continue crashes the server. */
    arbor_gs_ret_t (*handle_continue)(void **state, uint64_t arg);
    /* Optional. Runs when the server stops on its own or is told to. */
    void (*terminate)(void **state, const arbor_reason_t *reason);
    /* Optional. Writes a one-line summary of the state (at most size bytes,
     * NUL included) for crash reports and arbor_gs_get_status(). Runs in the
     * server, so it may read the state freely; it must not block. */
    void (*format_status)(void *state, char *buf, size_t size);
    /* Optional. When not 0, init finds *state pointing to a block of this
     * many bytes (16-byte aligned, not zeroed) of the server's memory,
     * allocated with the server's own record: one allocation a start, not
     * two, for a server that needs a state of a known size. It lives as
     * long as the server; do not arbor_free() it (init may set *state to
     * something else and leave it unused). When 0, *state starts NULL. */
    size_t state_size;
} arbor_gen_server_t;

typedef struct arbor_gs_opts {
    const char *name; /* registered name: arbor_register()ed before init, or NULL */
    int64_t timeout;  /* ms for init; 0 or ARBOR_INFINITY: no limit */
    bool link;        /* start_link: link to the caller */
    bool trap_exit;   /* the server traps exits from the start */
} arbor_gs_opts_t;

/*
 * Starts a server and waits until its init has returned.
 *   0              started; *pid_out is the server
 *   ARBOR_IGNORED  init returned ignore; the process has exited normally
 *   ARBOR_EEXIST   the name is taken; *pid_out is its owner (already_started)
 *   ARBOR_ETIMEDOUT init did not return within opts->timeout; it was killed
 *   ARBOR_EEXIT    init returned stop (or the server died in init); the
 *                  reason is in *error_out when not NULL
 *   ARBOR_ENOTPROC, ARBOR_EINVAL, ARBOR_ENOMEM
 * With opts->link, a failed start leaves no ARBOR_TAG_EXIT message behind
 * for a trapping caller (OTP 26); a non-trapping caller is killed by a
 * non-normal reason, as the link says. Process only.
 */
int arbor_gs_start(const arbor_gen_server_t *gs, void *arg, const arbor_gs_opts_t *opts,
                   arbor_pid_t *pid_out, arbor_reason_t *error_out);

/*
 * Calls server with (tag, req, size) and waits up to timeout_ms
 * (ARBOR_INFINITY: forever) for the reply, which *reply_out receives: a
 * message of any size, which the caller owns and frees with
 * arbor_msg_free() (NULL discards it). For replies of a fixed size,
 * arbor_gs_call_into() is simpler.
 *   0               replied
 *   ARBOR_ENOPROC   no such process (OTP exits noproc)
 *   ARBOR_ETIMEDOUT no reply in time; the server keeps running, and a late
 *                   reply is dropped
 *   ARBOR_ECALLSELF the caller is the server
 *   ARBOR_EEXIT     the server died before replying; *exit_out (when not
 *                   NULL) holds its exit reason, whose text is the
 *                   caller's (reason.h: nothing to free)
 *   ARBOR_EINVAL    a negative timeout other than ARBOR_INFINITY
 * A caller linked to the server and not trapping exits is killed by the
 * server's crash through the link, as in OTP. Process only.
 */
int arbor_gs_call(arbor_pid_t server, uint64_t tag, const void *req, size_t size,
                  int64_t timeout_ms, arbor_msg_t **reply_out, arbor_reason_t *exit_out);

/*
 * The typed call: sends the req_size bytes at req (a request struct, or
 * NULL and 0) and copies the reply into the caller's reply buffer, which
 * must be exactly reply_size bytes: there is nothing to free. Returns what
 * arbor_gs_call() returns, or
 *   ARBOR_EREPLYSIZE the server replied with a size other than reply_size
 *                    (a reply of another type); *reply is left unchanged
 *   ARBOR_EINVAL     reply is NULL while reply_size is not 0
 * On ARBOR_EEXIT, *exit_out as for arbor_gs_call(). Process only.
 *
 *   sum_req_t req = {2, 3};
 *   sum_reply_t reply;
 *   int rc = ARBOR_GS_CALL(server, REQ_SUM, &req, &reply);
 */
int arbor_gs_call_into(arbor_pid_t server, uint64_t tag, const void *req, size_t req_size,
                       void *reply, size_t reply_size, int64_t timeout_ms,
                       arbor_reason_t *exit_out);

/* arbor_gs_call_into() for the common case, GenServer.call/2: req_ptr and
 * reply_ptr point to structs, whose sizes are taken from their types; OTP's
 * default timeout (ARBOR_GS_CALL_TIMEOUT); no exit reason kept. */
#define ARBOR_GS_CALL(server, tag, req_ptr, reply_ptr)                                             \
    arbor_gs_call_into((server), (tag), (req_ptr), sizeof *(req_ptr), (reply_ptr),                 \
                       sizeof *(reply_ptr), ARBOR_GS_CALL_TIMEOUT, NULL)

/* In handle_call (or handle_cast): msg's bytes as a const type *, or NULL
 * when msg is not exactly sizeof(type) bytes: the server's side of the
 * typed call. */
#define ARBOR_GS_REQ(msg, type)                                                                    \
    ((msg)->size == sizeof(type) ? (const type *)(msg)->data : (const type *)NULL)

/* The longest status text arbor_gs_get_status() returns, NUL included. */
#define ARBOR_GS_STATUS_MAX 256

/*
 * sys:get_status/2: asks the server, between two of its messages, for its
 * state as format_status() summarises it ("" without the hook), and copies
 * it into buf (truncated to size). The server answers it itself; no
 * callback but format_status runs. It is a system request, answered while
 * the server is suspended too; it returns what the sys functions below
 * return (ARBOR_ENOPROC, ARBOR_EWRONGKIND, ARBOR_ETIMEDOUT, ARBOR_EEXIT,
 * ARBOR_ECALLSELF). Process only.
 */
int arbor_gs_get_status(arbor_pid_t server, char *buf, size_t size, int64_t timeout_ms);

/*
 * ---- sys: debugging a running server (OTP's sys module) -------------------
 *
 * Each function below is a system request: the server answers it itself,
 * between two of its messages, and no callback sees it (a pending
 * returned timeout keeps running). A Supervisor and a DynamicSupervisor are
 * GenServers and answer them too. Each returns 0, or
 *   ARBOR_ENOPROC    no such process (OTP exits noproc)
 *   ARBOR_EWRONGKIND the process is not a GenServer (not a reactive
 *                    process; a reactive process of the user's own that
 *                    is not a GenServer never answers: ARBOR_ETIMEDOUT,
 *                    as OTP's sys times out on a process that is not a
 *                    system process)
 *   ARBOR_ETIMEDOUT  no answer within timeout_ms (a busy server; the late
 *                    answer is dropped)
 *   ARBOR_EEXIT      the server died before answering
 *   ARBOR_ECALLSELF  the caller is the server
 *   ARBOR_EINVAL     a bad argument
 * OTP's default timeout for all of them is 5000 ms. Process only.
 */

/*
 * sys:get_state/2: the server's state pointer, as its callbacks see it
 * (*state), in *state_out. OTP returns a copy of an immutable term; C can
 * only hand over the pointer, which stays the server's: reading through it
 * races the server's callbacks unless the server is suspended
 * (arbor_gs_suspend()) or the state is not changed, and it dangles once a
 * callback replaces or frees it or the server exits. To copy the state
 * safely, suspend the server, copy, then resume it:
 *
 *   arbor_gs_suspend(pid, 5000);
 *   if (arbor_gs_get_state(pid, &p, 5000) == 0)
 *       copy = *(counter_t *)p;
 *   arbor_gs_resume(pid, 5000);
 *
 * For a text summary there is arbor_gs_get_status(). A Supervisor or
 * DynamicSupervisor gives its private record, as OTP gives its #state{}
 * record: opaque here; its status text (strategy, intensity, children)
 * and arbor_sup_which_children() are what to read.
 */
int arbor_gs_get_state(arbor_pid_t server, void **state_out, int64_t timeout_ms);

/* A function arbor_gs_replace_state() runs inside the server: it may
 * change *state in place or replace the pointer (memory from
 * arbor_alloc(), the server's). arg is the server's copy of the caller's
 * size bytes, valid while fn runs. It returns ARBOR_NORMAL, or another
 * reason to fail: it must then leave the state as it found it. */
typedef arbor_reason_t (*arbor_gs_state_fn_t)(void **state, const void *arg, size_t size);

/*
 * sys:replace_state/3: runs fn(&state, copy of arg, size) in the server,
 * between two messages, and stores in *state_out (when not NULL) the
 * state pointer it left, OTP's NewState: the next message sees that
 * state. The size bytes at arg are copied into the request, as a call's
 * are, so arg need not outlive the call even when it times out.
 *   ARBOR_ECALLBACK fn returned a reason other than ARBOR_NORMAL (OTP's
 *                   {callback_failed, {gen_server, system_replace_state},
 *                   {Class, Reason}}): the server keeps the state pointer
 *                   it had and runs on; *error_out (when not NULL) holds
 *                   fn's reason, whose text is the caller's (reason.h)
 * and the codes above. fn calling arbor_exit() ends the server, as in
 * any callback (OTP's StateFun cannot do that: its exit is caught).
 */
int arbor_gs_replace_state(arbor_pid_t server, arbor_gs_state_fn_t fn, const void *arg, size_t size,
                           void **state_out, int64_t timeout_ms, arbor_reason_t *error_out);

/*
 * sys:suspend/2 and sys:resume/2. A suspended server handles nothing but
 * system requests (these functions, arbor_gs_get_status()) and, as OTP's
 * suspend loop does, its parent's EXIT (when it traps exits) and
 * arbor_gs_stop() (proc_lib:stop is a system request): those run terminate
 * and end it. Every other message waits in its mailbox, in order, until
 * arbor_gs_resume(): a call to it waits meanwhile, and a call with a
 * timeout times out (its late reply is dropped). Suspending a suspended
 * server, or resuming a running one, is not an error (returns 0), as in
 * OTP. A supervisor suspended restarts nothing until it is resumed.
 */
int arbor_gs_suspend(arbor_pid_t server, int64_t timeout_ms);
int arbor_gs_resume(arbor_pid_t server, int64_t timeout_ms);

/* What a trace event (ARBOR_TAG_GS_TRACE) reports, as sys's events. */
typedef enum arbor_gs_trace_kind {
    ARBOR_GS_TRACE_CALL,    /* got a call: tag, size of the request, peer = the caller */
    ARBOR_GS_TRACE_CAST,    /* got a cast: tag, size, peer = the sender */
    ARBOR_GS_TRACE_INFO,    /* got another message (a returned timeout too): tag, size */
    ARBOR_GS_TRACE_REPLY,   /* sent a reply of size bytes to peer; the new state */
    ARBOR_GS_TRACE_NOREPLY, /* a callback returned without a reply; the new state */
} arbor_gs_trace_kind_t;

/* The longest trace line, NUL included. */
#define ARBOR_GS_TRACE_TEXT 256

/* One event, the message arbor_gs_trace_to() sends. text is the line
 * arbor_gs_trace() prints (without the newline): OTP's, with C's words
 * for terms ("*DBG* <0.5.0> got call tag 100 (4 bytes) from <0.3.0>",
 * "*DBG* <0.5.0> sent 4 bytes to <0.3.0>, new state value=1", "*DBG*
 * <0.5.0> got cast tag 200 (0 bytes) from <0.3.0>", "*DBG* <0.5.0> new
 * state value=2", "*DBG* <0.5.0> got info tag 9 (0 bytes) from <0.3.0>");
 * the state is format_status()'s summary, "-" without the hook. */
typedef struct arbor_gs_trace_event {
    arbor_gs_trace_kind_t kind;
    arbor_pid_t server;
    arbor_pid_t peer;
    uint64_t tag; /* CALL, CAST, INFO: the message's tag */
    size_t size;  /* the request's, message's or reply's bytes */
    char text[ARBOR_GS_TRACE_TEXT];
} arbor_gs_trace_event_t;

/*
 * sys:trace/3: with on, the server prints a line to stderr for each
 * message it handles and for each callback's outcome, in OTP's words
 * (arbor_gs_trace_event_t.text); off stops tracing of either kind. System requests are not
 * traced. Replaces a tracer set by arbor_gs_trace_to().
 */
int arbor_gs_trace(arbor_pid_t server, bool on, int64_t timeout_ms);

/*
 * The same events as messages, in the spirit of sys:install/3: the server
 * sends each to tracer as an ARBOR_TAG_GS_TRACE message whose data is an
 * arbor_gs_trace_event_t, in the order it handled them (a tracer that has
 * died simply gets nothing). ARBOR_NOPID as tracer stops the tracing.
 */
int arbor_gs_trace_to(arbor_pid_t server, arbor_pid_t tracer, int64_t timeout_ms);

/* Sends (tag, msg, size) to handle_cast. Returns 0 even if server does not
 * exist; ARBOR_EINVAL for a bad argument. Any thread. */
int arbor_gs_cast(arbor_pid_t server, uint64_t tag, const void *msg, size_t size);

/* Replies to a call whose callback returned noreply (a deferred reply).
 * Any process (or thread) may call it, once per call. */
int arbor_gs_reply_to(arbor_from_t from, const void *reply, size_t size);

/*
 * Stops server with reason, waiting up to timeout_ms for it to exit:
 * terminate() runs first.
 *   0               it exited with reason
 *   ARBOR_EEXIT     it exited with another reason (in *exit_out)
 *   ARBOR_ENOPROC   no such process
 *   ARBOR_ECALLSELF called from the server itself
 *   ARBOR_ETIMEDOUT it did not exit in time
 *   ARBOR_EINVAL    timeout_ms is negative and not ARBOR_INFINITY (the
 *                   server is left alone)
 * Process only.
 */
int arbor_gs_stop(arbor_pid_t server, arbor_reason_t reason, int64_t timeout_ms,
                  arbor_reason_t *exit_out);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif
#endif

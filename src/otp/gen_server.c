/*
 * GenServer on a reactive process, using only the runtime's public API.
 *
 * Protocol (tags in gen_server.h):
 *   start:  the starter makes an alias, spawns a reactor (linked on request,
 *           always monitored) and waits for an ACK through the alias or the
 *           DOWN. The reactor's init registers the name, runs the callback's
 *           init and acks. A start that fails waits for the DOWN and, for a
 *           trapping caller, consumes the link's EXIT (OTP 26).
 *   call:   the caller monitors the server, makes an alias and sends
 *           CALL {alias, tag} + request; the reply comes back through the
 *           alias, which is deactivated when the call ends, so a late reply
 *           is dropped. The DOWN tells a dead or dying server.
 *   cast:   CAST {tag} + message, no answer.
 *   stop:   STOP {reason}; the server runs terminate and exits with reason;
 *           the caller watches the DOWN.
 *   sys:    SYSTEM {alias, op} + body, sent as a call is; the server loop
 *           answers it itself (on_system), never a callback. Suspended,
 *           the server blocks in a selective receive that takes only
 *           SYSTEM requests, STOP and its parent's EXIT (OTP's
 *           sys:suspend_loop), so everything else stays queued, in order,
 *           for the reactor to hand out after the resume.
 * A returned timeout is a send_after to ourselves, cancelled by the next
 * message; a sequence number makes a timeout that already fired stale.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arbor.h"
#include "otp.h"

typedef struct {
    arbor_ref_t alias;
    uint64_t tag;
} call_hdr_t;

typedef struct {
    uint64_t tag;
} cast_hdr_t;

/* Lives on the starter's stack until the ack or the DOWN (start.c). */
typedef struct {
    arbor__start_t start; /* where the ack goes */
    const arbor_gen_server_t *gs;
    void *arg;
    const char *name;
    bool trap_exit;
} start_t;

typedef struct {
    const arbor_gen_server_t *gs;
    void *state;
    arbor_pid_t parent;
    arbor_timer_t *timer; /* pending returned timeout */
    uint64_t timeout_seq;
    const arbor_msg_t *last; /* the message being handled, for crash reports */
    bool suspended;          /* sys:suspend: in suspended() */
    bool tracing;            /* sys:trace: an event for each message and outcome */
    arbor_pid_t tracer;      /* where events go; ARBOR_NOPID: stderr */
    /* The call handle_call is answering (on_call), with its caller's
     * monitor: its reply drops that monitor here and tells the caller so
     * (arbor_answer_monitored()), which then sends no demonitor. */
    const arbor_msg_t *call;
} server_t;

typedef struct {
    int rc;
    void *state;
    arbor_reason_t reason; /* ARBOR__TAG_SYS_REPLACE_STATE's failure; its text follows */
} sys_reply_t;

typedef struct {
    _Alignas(16) arbor_gs_state_fn_t fn; /* the argument's bytes follow, 16-aligned */
} replace_req_t;

typedef struct {
    bool on;
    arbor_pid_t tracer;
} trace_req_t;

arbor_gs_ret_t arbor_gs_reply(const void *reply, size_t size)
{
    arbor_gs_ret_t r = arbor_gs_ok();
    r.action = ARBOR_GS_REPLY;
    r.has_reply = true;
    r.reply_size = size;
    if (size > sizeof r.reply_inline) {
        r.reply_heap = arbor_alloc(size); /* callbacks run in the server */
        if (!r.reply_heap)
            return arbor_gs_halt(arbor_error("out of memory for a reply"));
        memcpy(r.reply_heap, reply, size);
    } else if (size) {
        memcpy(r.reply_inline, reply, size);
    }
    return r;
}

arbor_gs_ret_t arbor_gs_halt_reply(arbor_reason_t reason, const void *reply, size_t size)
{
    arbor_gs_ret_t r = arbor_gs_reply(reply, size);
    if (r.action == ARBOR_GS_REPLY) {
        r.action = ARBOR_GS_STOP;
        r.reason = reason;
    }
    return r;
}

static const void *reply_data(const arbor_gs_ret_t *r)
{
    return r->reply_heap ? r->reply_heap : r->reply_inline;
}

static const char *behaviour_name(const arbor_gen_server_t *gs)
{
    return gs->label ? gs->label : "gen_server";
}

/* ---- the server side ------------------------------------------------------- */

/* Names the message being handled, as OTP's "Last message in". */
static void describe_last(const arbor_msg_t *m, char *buf, size_t size)
{
    if (!m) {
        snprintf(buf, size, "none");
        return;
    }
    char from[32];
    arbor_pid_format(m->from, from, sizeof from);
    const char *kind = "info";
    uint64_t tag = m->tag;
    size_t bytes = m->size;
    if (m->tag == ARBOR__TAG_GS_CALL && m->size >= sizeof(call_hdr_t)) {
        kind = "call";
        tag = ((const call_hdr_t *)m->data)->tag;
        bytes -= sizeof(call_hdr_t);
    } else if (m->tag == ARBOR__TAG_GS_CAST && m->size >= sizeof(cast_hdr_t)) {
        kind = "cast";
        tag = ((const cast_hdr_t *)m->data)->tag;
        bytes -= sizeof(cast_hdr_t);
    } else if (m->tag == ARBOR__TAG_GS_TIMEOUT) {
        snprintf(buf, size, "timeout");
        return;
    } else if (m->tag == ARBOR_TAG_EXIT) {
        snprintf(buf, size, "EXIT from %s", from);
        return;
    } else if (m->tag == ARBOR__TAG_GS_STOP) {
        snprintf(buf, size, "stop from %s", from);
        return;
    }
    snprintf(buf, size, "%s tag %llu (%zu bytes) from %s", kind, (unsigned long long)tag, bytes,
             from);
}

/* The state as format_status() summarises it ("" without the hook). */
static void format_state(const server_t *s, char *buf, size_t size)
{
    buf[0] = '\0';
    if (s->gs->format_status)
        s->gs->format_status(s->state, buf, size);
}

/* A crash report's detail: the last message, then the state. */
static void describe(const server_t *s, char *buf, size_t size)
{
    char last[96], state[160];
    describe_last(s->last, last, sizeof last);
    format_state(s, state, sizeof state);
    snprintf(buf, size, "last message: %s; state: %s", last, state[0] ? state : "-");
}

/* ---- sys:trace ---------------------------------------------------------- */

/* The tracing and system-request paths are kept out of line (cold), so
 * that the frames of the call and cast paths stay as small as they were
 * before sys existed. */
#define COLD __attribute__((noinline, cold))

static COLD void trace_emit(const server_t *s, const arbor_gs_trace_event_t *ev)
{
    if (s->tracer == ARBOR_NOPID)
        fprintf(stderr, "%s\n", ev->text);
    else
        arbor_send(s->tracer, ARBOR__TAG_GS_TRACE, ev, sizeof *ev);
}

/* A message about to be handed to a callback: OTP's "got ...". */
static COLD void trace_got(const server_t *s, const arbor_msg_t *m)
{
    arbor_gs_trace_event_t ev = {.kind = ARBOR_GS_TRACE_INFO,
                                 .server = arbor_self(),
                                 .peer = m->from,
                                 .tag = m->tag,
                                 .size = m->size};
    if (m->tag == ARBOR__TAG_GS_CALL || m->tag == ARBOR__TAG_GS_CAST) {
        size_t hdr = m->tag == ARBOR__TAG_GS_CALL ? sizeof(call_hdr_t) : sizeof(cast_hdr_t);
        ev.kind = m->tag == ARBOR__TAG_GS_CALL ? ARBOR_GS_TRACE_CALL : ARBOR_GS_TRACE_CAST;
        ev.tag = m->tag == ARBOR__TAG_GS_CALL ? ((const call_hdr_t *)m->data)->tag
                                              : ((const cast_hdr_t *)m->data)->tag;
        ev.size = m->size - hdr;
    }
    char self[32], what[96];
    arbor_pid_format(ev.server, self, sizeof self);
    describe_last(m, what, sizeof what);
    snprintf(ev.text, sizeof ev.text, "*DBG* %s got %s", self, what);
    trace_emit(s, &ev);
}

/* A callback's outcome: a reply of size bytes to *to, or none (to NULL),
 * with the state it left: OTP's "sent ..." and "new state ...". */
static COLD void trace_outcome(const server_t *s, const arbor_from_t *to, size_t size)
{
    arbor_gs_trace_event_t ev = {.kind = to ? ARBOR_GS_TRACE_REPLY : ARBOR_GS_TRACE_NOREPLY,
                                 .server = arbor_self(),
                                 .peer = to ? to->pid : ARBOR_NOPID,
                                 .size = size};
    char self[32], peer[32], state[128];
    arbor_pid_format(ev.server, self, sizeof self);
    format_state(s, state, sizeof state);
    if (!state[0])
        snprintf(state, sizeof state, "-");
    if (to) {
        arbor_pid_format(to->pid, peer, sizeof peer);
        snprintf(ev.text, sizeof ev.text, "*DBG* %s sent %zu bytes to %s, new state %s", self, size,
                 peer, state);
    } else {
        snprintf(ev.text, sizeof ev.text, "*DBG* %s new state %s", self, state);
    }
    trace_emit(s, &ev);
}

/* The reply of {stop, Reason, Reply, State}, owed to the caller while
 * terminate runs. OTP sends it in an `after`, so it reaches the caller
 * even when terminate fails; here terminate fails by ending the process
 * (arbor_exit()), which no frame of ours survives, so an exit hook sends
 * it then. Process memory: it goes with the process, after the hooks. */
typedef struct {
    arbor_from_t from;
    bool sent;
    size_t size;
    _Alignas(16) unsigned char data[];
} owed_reply_t;

static void send_owed(void *arg)
{
    owed_reply_t *o = arg;
    if (!o->sent) {
        o->sent = true;
        arbor_gs_reply_to(o->from, o->data, o->size);
    }
}

/* Arms the hook that answers the caller if terminate ends the process.
 * NULL when there is nothing to arm or no memory to arm it: the reply is
 * then sent at once, before terminate, which is the best left to do. */
static owed_reply_t *owe_reply(const arbor_from_t *from, const void *reply, size_t size)
{
    owed_reply_t *o = arbor_alloc(sizeof *o + size);
    if (o) {
        *o = (owed_reply_t){.from = *from, .size = size};
        if (size)
            memcpy(o->data, reply, size);
        if (arbor_on_exit(send_owed, o) == 0)
            return o;
        arbor_free(o);
    }
    arbor_gs_reply_to(*from, reply, size);
    return NULL;
}

static _Noreturn void stop_server(server_t *s, arbor_reason_t reason, const arbor_from_t *from,
                                  const void *reply, size_t reply_size)
{
    if (s->timer) {
        arbor_cancel_timer(s->timer);
        s->timer = NULL;
    }
    /* OTP's order: terminate, then the reply, then the exit. */
    if (s->gs->terminate) {
        owed_reply_t *owed = from ? owe_reply(from, reply, reply_size) : NULL;
        s->gs->terminate(&s->state, &reason);
        if (owed)
            send_owed(owed);
    } else if (from) {
        arbor_gs_reply_to(*from, reply, reply_size);
    }
    if (!arbor_reason_is_clean(&reason)) {
        char detail[320];
        describe(s, detail, sizeof detail);
        arbor_report(&(arbor_report_t){.kind = ARBOR_REPORT_CRASH,
                                       .pid = arbor_self(),
                                       .behaviour = behaviour_name(s->gs),
                                       .what = "terminating",
                                       .reason = reason,
                                       .detail = detail});
    }
    arbor_exit(reason);
}

/* A timeout of 0 is OTP's `after 0`: it fires at once unless a message is
 * already queued. A plain self-send gives exactly that: it queues behind
 * whatever has arrived, and each of those, handled first, makes it stale.
 * No timer means no wait for the wheel's next tick, which is what lets a
 * server batch the requests that queued while it was busy (the desk's Store
 * group-commits that way). */
static void arm_timeout(server_t *s, int64_t ms)
{
    s->timeout_seq++;
    if (ms == 0) {
        arbor_send(arbor_self(), ARBOR__TAG_GS_TIMEOUT, &s->timeout_seq, sizeof s->timeout_seq);
        return;
    }
    arbor_send_after(arbor_self(), ARBOR__TAG_GS_TIMEOUT, &s->timeout_seq, sizeof s->timeout_seq,
                     (uint64_t)ms, &s->timer);
}

static void disarm_timeout(server_t *s)
{
    if (s->timer) {
        arbor_cancel_timer(s->timer);
        s->timer = NULL;
    }
    s->timeout_seq++; /* one already queued is now stale */
}

/* Acts on what a callback returned: stops, chains continues, arms the
 * timeout. from is the caller when the callback was handle_call. */
static void after(server_t *s, arbor_gs_ret_t r, const arbor_from_t *from)
{
    for (;;) {
        switch (r.action) {
        case ARBOR_GS_OK:
            if (s->tracing)
                trace_outcome(s, NULL, 0);
            break;
        case ARBOR_GS_REPLY:
            if (from && s->call && s->call->from == from->pid)
                arbor_answer_monitored(s->call, from->alias, ARBOR__TAG_GS_REPLY, reply_data(&r),
                                       r.reply_size);
            else if (from)
                arbor_gs_reply_to(*from, reply_data(&r), r.reply_size);
            if (from) {
                if (s->tracing)
                    trace_outcome(s, from, r.reply_size);
            }
            arbor_free(r.reply_heap);
            if (!from)
                stop_server(s, arbor_error("bad_return_value: reply outside handle_call"), NULL,
                            NULL, 0);
            break;
        case ARBOR_GS_STOP:
            /* r lives in this frame while terminate runs; a heap copy is
             * the process's own memory and goes with it. */
            stop_server(s, r.reason, from && r.has_reply ? from : NULL, reply_data(&r),
                        r.reply_size);
        default:
            stop_server(s, arbor_error("bad_return_value: %d", (int)r.action), NULL, NULL, 0);
        }
        if (!r.has_continue)
            break;
        if (!s->gs->handle_continue)
            stop_server(s, arbor_error("undef: handle_continue"), NULL, NULL, 0);
        from = NULL;
        r = s->gs->handle_continue(&s->state, r.continue_arg);
    }
    if (r.hibernate)
        arbor_hibernate();
    if (r.timeout >= 0)
        arm_timeout(s, r.timeout);
}

void arbor__gen_server_warn_unhandled(const arbor_gen_server_t *gs, const arbor_msg_t *msg)
{
    char detail[64];
    snprintf(detail, sizeof detail, "unexpected message with tag %llu",
             (unsigned long long)msg->tag);
    arbor_report(&(arbor_report_t){.kind = ARBOR_REPORT_WARNING,
                                   .pid = arbor_self(),
                                   .behaviour = behaviour_name(gs),
                                   .what = "undefined handle_info",
                                   .reason = ARBOR_NORMAL,
                                   .detail = detail});
}

static void on_call(server_t *s, const arbor_msg_t *msg)
{
    if (s->tracing)
        trace_got(s, msg);
    const call_hdr_t *h = msg->data;
    arbor_from_t from = {msg->from, h->alias};
    if (!s->gs->handle_call)
        stop_server(s, arbor_error("undef: handle_call"), NULL, NULL, 0);
    arbor_msg_t req = {.tag = h->tag,
                       .from = msg->from,
                       .size = msg->size - sizeof *h,
                       .data = (char *)msg->data + sizeof *h};
    s->call = msg;
    after(s, s->gs->handle_call(&s->state, &req, from), &from);
    s->call = NULL;
}

static void on_cast(server_t *s, const arbor_msg_t *msg)
{
    if (s->tracing)
        trace_got(s, msg);
    const cast_hdr_t *h = msg->data;
    if (!s->gs->handle_cast)
        stop_server(s, arbor_error("undef: handle_cast"), NULL, NULL, 0);
    arbor_msg_t m = {.tag = h->tag,
                     .from = msg->from,
                     .size = msg->size - sizeof *h,
                     .data = (char *)msg->data + sizeof *h};
    after(s, s->gs->handle_cast(&s->state, &m), NULL);
}

static void on_info(server_t *s, const arbor_msg_t *msg)
{
    if (s->tracing)
        trace_got(s, msg);
    if (!s->gs->handle_info) {
        arbor__gen_server_warn_unhandled(s->gs, msg);
        return;
    }
    after(s, s->gs->handle_info(&s->state, msg), NULL);
}

/* ---- system requests ------------------------------------------------- */

static void sys_reply(const arbor_from_t *from, sys_reply_t r)
{
    arbor__reason_wire_send(from->pid, from->alias, ARBOR__TAG_GS_REPLY, &r, sizeof r, &r.reason);
}

/* OTP's system_replace_state: fn's failure leaves the state pointer as it
 * was (OTP keeps the old state when StateFun raises). */
static sys_reply_t replace_state(server_t *s, const char *body, size_t n)
{
    replace_req_t q;
    if (n < sizeof q)
        return (sys_reply_t){.rc = ARBOR_EINVAL, .reason = ARBOR_NORMAL};
    memcpy(&q, body, sizeof q);
    void *old = s->state;
    arbor_reason_t why = q.fn(&s->state, n > sizeof q ? body + sizeof q : NULL, n - sizeof q);
    if (why.kind == ARBOR_EXIT_NORMAL)
        return (sys_reply_t){.state = s->state, .reason = ARBOR_NORMAL};
    s->state = old;
    return (sys_reply_t){.rc = ARBOR_ECALLBACK, .state = old, .reason = why};
}

static void suspended(server_t *s);

/* Answers a system request (msg: SYSTEM {alias, op} + body), with no
 * callback but format_status and a replace_state's function. */
static COLD void on_system(server_t *s, const arbor_msg_t *msg)
{
    const call_hdr_t *h = msg->data;
    arbor_from_t from = {msg->from, h->alias};
    const char *body = (const char *)msg->data + sizeof *h;
    size_t n = msg->size - sizeof *h;
    sys_reply_t r = {.rc = 0, .reason = ARBOR_NORMAL};
    switch (h->tag) {
    case ARBOR__TAG_SYS_GET_STATUS: {
        char text[ARBOR_GS_STATUS_MAX];
        format_state(s, text, sizeof text);
        arbor_gs_reply_to(from, text, strlen(text) + 1);
        return;
    }
    case ARBOR__TAG_SYS_GET_STATE:
        r.state = s->state;
        break;
    case ARBOR__TAG_SYS_REPLACE_STATE:
        r = replace_state(s, body, n);
        break;
    case ARBOR__TAG_SYS_SUSPEND:
        sys_reply(&from, r);
        if (!s->suspended)
            suspended(s);
        return;
    case ARBOR__TAG_SYS_RESUME:
        s->suspended = false; /* suspended() returns after this reply */
        break;
    case ARBOR__TAG_SYS_TRACE: {
        trace_req_t t;
        if (n < sizeof t) {
            r.rc = ARBOR_EINVAL;
            break;
        }
        memcpy(&t, body, sizeof t);
        s->tracing = t.on;
        s->tracer = t.tracer;
        break;
    }
    default:
        r.rc = ARBOR_EINVAL;
        break;
    }
    sys_reply(&from, r);
}

/* What a suspended server takes from its mailbox (OTP's suspend_loop):
 * system requests, a stop, its parent's EXIT. */
static bool wakes_suspended(const arbor_msg_t *m, void *arg)
{
    const server_t *s = arg;
    if (m->tag == ARBOR__TAG_GS_SYSTEM)
        return m->size >= sizeof(call_hdr_t);
    if (m->tag == ARBOR__TAG_GS_STOP)
        return m->size >= sizeof(arbor_reason_t);
    return m->tag == ARBOR_TAG_EXIT && m->size >= sizeof(arbor_exit_msg_t) &&
           ((const arbor_exit_msg_t *)m->data)->from == s->parent;
}

/* sys:suspend: blocks in the handler, and so holds a stack, until a
 * resume. The messages it leaves queued are the reactor's to hand out,
 * in order, once this returns. */
static void suspended(server_t *s)
{
    s->suspended = true;
    while (s->suspended) {
        arbor_msg_t *m;
        if (arbor_receive_match(wakes_suspended, s, ARBOR_INFINITY, &m) != 0)
            continue;
        if (m->tag == ARBOR__TAG_GS_SYSTEM) {
            on_system(s, m);
            arbor_msg_free(m);
            continue;
        }
        /* A stop or the parent's EXIT: terminate, as OTP's
         * system_terminate. The reason is copied into our memory, which
         * lasts until we are gone; m does not. */
        arbor_reason_t why;
        if (m->tag == ARBOR_TAG_EXIT) {
            why = ((const arbor_exit_msg_t *)m->data)->reason;
        } else {
            memcpy(&why, m->data, sizeof why);
            arbor__reason_wire_in(&why, m, sizeof why);
        }
        why = arbor_reason_copy(&why);
        arbor_msg_free(m);
        s->last = NULL;
        stop_server(s, why, NULL, NULL, 0);
    }
}

static void server_handle(void *state, arbor_msg_t *msg)
{
    server_t *s = state;
    s->last = msg;
    if (msg->tag == ARBOR__TAG_GS_TIMEOUT && msg->from == arbor_self()) {
        if (msg->size != sizeof(uint64_t) || *(uint64_t *)msg->data != s->timeout_seq)
            return; /* stale: a message came after it was armed */
        arbor_timer_release(s->timer);
        s->timer = NULL;
        on_info(s, msg);
        return;
    }
    if (msg->tag == ARBOR__TAG_GS_SYSTEM && msg->size >= sizeof(call_hdr_t)) {
        /* A system message: no callback sees it, and a pending returned
         * timeout keeps running. */
        s->last = NULL;
        on_system(s, msg);
        return;
    }
    disarm_timeout(s);
    switch (msg->tag) {
    case ARBOR__TAG_GS_CALL:
        if (msg->size >= sizeof(call_hdr_t)) {
            on_call(s, msg);
            return;
        }
        break;
    case ARBOR__TAG_GS_CAST:
        if (msg->size >= sizeof(cast_hdr_t)) {
            on_cast(s, msg);
            return;
        }
        break;
    case ARBOR__TAG_GS_STOP:
        if (msg->size >= sizeof(arbor_reason_t)) {
            arbor_reason_t reason = *(arbor_reason_t *)msg->data;
            arbor__reason_wire_in(&reason, msg, sizeof reason); /* msg lives until we are gone */
            stop_server(s, reason, NULL, NULL, 0);
        }
        break;
    case ARBOR_TAG_EXIT: {
        const arbor_exit_msg_t *e = msg->data;
        if (e->from == s->parent)
            stop_server(s, e->reason, NULL, NULL, 0); /* the parent's exit: terminate */
        break;
    }
    default:
        break;
    }
    on_info(s, msg);
}

static void ack(const start_t *sb, arbor__start_ack_t a)
{
    arbor__start_ack(&sb->start, a);
}

static void server_init(void **state)
{
    const start_t *sb = *state; /* valid until we ack */
    /* The callbacks' state of state_size bytes follows the record, in its
     * block, 16-byte aligned (without one, the record alone: rounded up,
     * it would take a larger malloc chunk in every server). */
    size_t size = sb->gs->state_size;
    size_t head = size ? (sizeof(server_t) + 15) & ~(size_t)15 : sizeof(server_t);
    server_t *s = size <= SIZE_MAX - head ? arbor_alloc(head + size) : NULL;
    if (!s) {
        ack(sb,
            (arbor__start_ack_t){.status = ARBOR_EEXIT, .reason = arbor_error("out of memory")});
        arbor_exit(arbor_error("out of memory"));
    }
    *s = (server_t){
        .gs = sb->gs, .parent = sb->start.parent, .state = size ? (char *)s + head : NULL};
    *state = s;
    arbor_set_label(behaviour_name(s->gs));
    if (sb->name) {
        arbor_pid_t owner = ARBOR_NOPID;
        int rc = arbor_register(sb->name, arbor_self(), &owner);
        if (rc != 0) {
            ack(sb,
                (arbor__start_ack_t){.status = rc == ARBOR_EEXIST ? ARBOR_EEXIST : ARBOR_EEXIT,
                                     .owner = owner,
                                     .reason = arbor_error("bad name: %s", arbor_err_name(rc))});
            arbor_exit(ARBOR_NORMAL);
        }
    }
    arbor_gs_ret_t r = s->gs->init(&s->state, sb->arg);
    switch (r.action) {
    case ARBOR_GS_OK:
        ack(sb, (arbor__start_ack_t){.status = 0});
        after(s, r, NULL); /* a continue runs before any message */
        return;
    case ARBOR_GS_IGNORE:
        ack(sb, (arbor__start_ack_t){.status = ARBOR_IGNORED});
        arbor_exit(ARBOR_NORMAL);
    case ARBOR_GS_STOP:
        ack(sb, (arbor__start_ack_t){.status = ARBOR_EEXIT, .reason = r.reason});
        arbor_exit(r.reason);
    default: {
        arbor_reason_t bad = arbor_error("bad_return_value: %d", (int)r.action);
        ack(sb, (arbor__start_ack_t){.status = ARBOR_EEXIT, .reason = bad});
        arbor_exit(bad);
    }
    }
}

static const arbor_reactor_t server_ops = {.init = server_init, .handle = server_handle};

/* ---- the client side ------------------------------------------------------- */

/* What a call waits for: the reply through its alias, or the DOWN of its
 * monitor of the server. */
typedef struct {
    arbor_ref_t alias;
    arbor_ref_t mref;
} wait_t;

static bool reply_or_down(const arbor_msg_t *m, void *arg)
{
    const wait_t *w = arg;
    if (m->tag == ARBOR__TAG_GS_REPLY)
        return m->alias == w->alias;
    return m->tag == ARBOR_TAG_DOWN && ((const arbor_down_msg_t *)m->data)->ref == w->mref;
}

static int spawn_server(void *ctx, bool link, arbor_ref_t *mref, arbor_pid_t *pid)
{
    start_t *sb = ctx;
    arbor_spawn_opts_t so = {.link = link,
                             .monitor = mref != NULL,
                             .trap_exit = sb->trap_exit,
                             .label = behaviour_name(sb->gs)};
    return arbor_spawn_reactor(&server_ops, sb, &so, pid, mref);
}

int arbor_gs_start(const arbor_gen_server_t *gs, void *arg, const arbor_gs_opts_t *opts,
                   arbor_pid_t *pid_out, arbor_reason_t *error_out)
{
    static const arbor_gs_opts_t defaults;
    const arbor_gs_opts_t *o = opts ? opts : &defaults;
    if (!gs || !gs->init)
        return ARBOR_EINVAL;
    start_t sb = {.gs = gs, .arg = arg, .name = o->name, .trap_exit = o->trap_exit};
    arbor__start_spawn_t how = {spawn_server, &sb, o->link, o->timeout};
    return arbor__start_sync(&sb.start, &how, pid_out, error_out);
}

/* A call as a message with outer tag kind (a request, or a system request
 * the server loop answers itself). */
static int call_as(uint64_t kind, arbor_pid_t server, uint64_t tag, const void *req, size_t size,
                   int64_t timeout_ms, arbor_msg_t **reply_out, arbor_reason_t *exit_out)
{
    arbor_pid_t self = arbor_self();
    if (!self)
        return ARBOR_ENOTPROC;
    if (server == ARBOR_NOPID)
        return ARBOR_ENOPROC;
    if (server == self)
        return ARBOR_ECALLSELF;
    if ((size && !req) || (timeout_ms < 0 && timeout_ms != ARBOR_INFINITY))
        return ARBOR_EINVAL;
    if (size > ARBOR_MSG_MAX - sizeof(call_hdr_t))
        return ARBOR_ETOOBIG;
    wait_t w; /* alias and mref: set below */
    /* The reply and the DOWN can only come after this point. */
    arbor_receive_mark();
    int rc = arbor_alias(&w.alias);
    if (rc)
        return rc;
    /* Monitor and request in one signal, as monitor-then-send; the header
     * and the request are copied straight into the message, whatever the
     * request's size (no buffer to join them in first). */
    call_hdr_t h = {w.alias, tag};
    rc = arbor_monitor_send_parts(server, kind, &h, sizeof h, req, size, &w.mref);
    if (rc) {
        arbor_unalias(w.alias);
        return rc;
    }
    arbor_msg_t *m = NULL;
    rc = arbor_receive_match_marked(reply_or_down, &w, timeout_ms, &m);
    arbor_unalias(w.alias);
    if (rc) {
        arbor_demonitor(w.mref, ARBOR_DEMONITOR_FLUSH);
        return rc;
    }
    if (m->tag == ARBOR_TAG_DOWN) {
        const arbor_reason_t *reason = &((arbor_down_msg_t *)m->data)->reason;
        rc = reason->kind == ARBOR_EXIT_NOPROC ? ARBOR_ENOPROC : ARBOR_EEXIT;
        if (rc == ARBOR_EEXIT && exit_out)
            *exit_out = arbor_reason_copy(reason);
        arbor_msg_free(m);
        return rc;
    }
    arbor_demonitor_answered(w.mref, m); /* the server dropped its side when it answered */
    if (reply_out)
        *reply_out = m;
    else
        arbor_msg_free(m);
    return 0;
}

int arbor_gs_call(arbor_pid_t server, uint64_t tag, const void *req, size_t size,
                  int64_t timeout_ms, arbor_msg_t **reply_out, arbor_reason_t *exit_out)
{
    return call_as(ARBOR__TAG_GS_CALL, server, tag, req, size, timeout_ms, reply_out, exit_out);
}

int arbor_gs_call_into(arbor_pid_t server, uint64_t tag, const void *req, size_t req_size,
                       void *reply, size_t reply_size, int64_t timeout_ms, arbor_reason_t *exit_out)
{
    if (reply_size && !reply)
        return ARBOR_EINVAL;
    arbor_msg_t *m;
    int rc = arbor_gs_call(server, tag, req, req_size, timeout_ms, &m, exit_out);
    if (rc)
        return rc;
    if (m->size != reply_size)
        rc = ARBOR_EREPLYSIZE;
    else if (reply_size)
        memcpy(reply, m->data, reply_size);
    arbor_msg_free(m);
    return rc;
}

/* A system request: op and its body, the answer in *out. A process that
 * is not reactive cannot be a GenServer, and would never answer. */
static int sys_request(arbor_pid_t server, uint64_t op, const void *body, size_t size,
                       int64_t timeout_ms, arbor_msg_t **out)
{
    arbor_pid_t self = arbor_self();
    if (self && server != self && server != ARBOR_NOPID) {
        arbor_process_info_t info;
        if (arbor_process_info(server, &info) != 0)
            return ARBOR_ENOPROC;
        if (!info.reactive)
            return ARBOR_EWRONGKIND;
    }
    return call_as(ARBOR__TAG_GS_SYSTEM, server, op, body, size, timeout_ms, out, NULL);
}

/* A system request answered with a sys_reply_t. */
static int sys_call(arbor_pid_t server, uint64_t op, const void *body, size_t size,
                    int64_t timeout_ms, void **state_out, arbor_reason_t *error_out)
{
    arbor_msg_t *m;
    int rc = sys_request(server, op, body, size, timeout_ms, &m);
    if (rc)
        return rc;
    sys_reply_t r;
    if (m->size < sizeof r) {
        arbor_msg_free(m);
        return ARBOR_EWRONGKIND;
    }
    memcpy(&r, m->data, sizeof r);
    if (r.rc == 0 && state_out)
        *state_out = r.state;
    if (r.rc == ARBOR_ECALLBACK && error_out) {
        arbor__reason_wire_in(&r.reason, m, sizeof r);
        *error_out = arbor_reason_copy(&r.reason);
    }
    arbor_msg_free(m);
    return r.rc;
}

int arbor_gs_get_state(arbor_pid_t server, void **state_out, int64_t timeout_ms)
{
    if (!state_out)
        return ARBOR_EINVAL;
    return sys_call(server, ARBOR__TAG_SYS_GET_STATE, NULL, 0, timeout_ms, state_out, NULL);
}

int arbor_gs_replace_state(arbor_pid_t server, arbor_gs_state_fn_t fn, const void *arg, size_t size,
                           void **state_out, int64_t timeout_ms, arbor_reason_t *error_out)
{
    if (!fn || (size && !arg))
        return ARBOR_EINVAL;
    if (size > ARBOR_MSG_MAX - sizeof(call_hdr_t) - sizeof(replace_req_t))
        return ARBOR_ETOOBIG;
    _Alignas(16) char small[256];
    size_t total = sizeof(replace_req_t) + size;
    char *buf = total <= sizeof small ? small : arbor_alloc(total);
    if (!buf)
        return arbor_self() ? ARBOR_ENOMEM : ARBOR_ENOTPROC;
    *(replace_req_t *)buf = (replace_req_t){fn};
    if (size)
        memcpy(buf + sizeof(replace_req_t), arg, size);
    int rc = sys_call(server, ARBOR__TAG_SYS_REPLACE_STATE, buf, total, timeout_ms, state_out,
                      error_out);
    if (buf != small)
        arbor_free(buf);
    return rc;
}

int arbor_gs_suspend(arbor_pid_t server, int64_t timeout_ms)
{
    return sys_call(server, ARBOR__TAG_SYS_SUSPEND, NULL, 0, timeout_ms, NULL, NULL);
}

int arbor_gs_resume(arbor_pid_t server, int64_t timeout_ms)
{
    return sys_call(server, ARBOR__TAG_SYS_RESUME, NULL, 0, timeout_ms, NULL, NULL);
}

int arbor_gs_trace(arbor_pid_t server, bool on, int64_t timeout_ms)
{
    trace_req_t t = {.on = on, .tracer = ARBOR_NOPID};
    return sys_call(server, ARBOR__TAG_SYS_TRACE, &t, sizeof t, timeout_ms, NULL, NULL);
}

int arbor_gs_trace_to(arbor_pid_t server, arbor_pid_t tracer, int64_t timeout_ms)
{
    trace_req_t t = {.on = tracer != ARBOR_NOPID, .tracer = tracer};
    return sys_call(server, ARBOR__TAG_SYS_TRACE, &t, sizeof t, timeout_ms, NULL, NULL);
}

int arbor_gs_get_status(arbor_pid_t server, char *buf, size_t size, int64_t timeout_ms)
{
    if (!buf || !size)
        return ARBOR_EINVAL;
    arbor_msg_t *m;
    int rc = sys_request(server, ARBOR__TAG_SYS_GET_STATUS, NULL, 0, timeout_ms, &m);
    if (rc)
        return rc;
    snprintf(buf, size, "%.*s", (int)m->size, (const char *)m->data);
    arbor_msg_free(m);
    return 0;
}

int arbor_gs_cast(arbor_pid_t server, uint64_t tag, const void *msg, size_t size)
{
    if (size && !msg)
        return ARBOR_EINVAL;
    if (server == ARBOR_NOPID)
        return 0;
    char small[256];
    size_t total = sizeof(cast_hdr_t) + size;
    bool in_process = arbor_self() != ARBOR_NOPID; /* see arbor_gs_call */
    char *buf = total <= sizeof small ? small : in_process ? arbor_alloc(total) : malloc(total);
    if (!buf)
        return ARBOR_ENOMEM;
    ((cast_hdr_t *)buf)->tag = tag;
    if (size)
        memcpy(buf + sizeof(cast_hdr_t), msg, size);
    int rc = arbor_send(server, ARBOR__TAG_GS_CAST, buf, total);
    if (buf != small) {
        if (in_process)
            arbor_free(buf);
        else
            free(buf);
    }
    return rc;
}

int arbor_gs_reply_to(arbor_from_t from, const void *reply, size_t size)
{
    if (size && !reply)
        return ARBOR_EINVAL;
    return arbor_send_alias(from.pid, from.alias, ARBOR__TAG_GS_REPLY, reply, size);
}

int arbor_gs_stop(arbor_pid_t server, arbor_reason_t reason, int64_t timeout_ms,
                  arbor_reason_t *exit_out)
{
    arbor_pid_t self = arbor_self();
    if (!self)
        return ARBOR_ENOTPROC;
    if (server == self)
        return ARBOR_ECALLSELF;
    if (server == ARBOR_NOPID)
        return ARBOR_ENOPROC;
    /* OTP's stop with an invalid timeout fails before the server is told
     * anything (gen_server_SUITE stop3); receive would wait forever. */
    if (timeout_ms < 0 && timeout_ms != ARBOR_INFINITY)
        return ARBOR_EINVAL;
    arbor_ref_t mref;
    int rc = arbor_monitor(server, &mref);
    if (rc)
        return rc;
    arbor__reason_wire_send(server, 0, ARBOR__TAG_GS_STOP, &reason, sizeof reason, &reason);
    arbor_msg_t *m;
    rc = arbor_receive_match(arbor__match_down_of, &mref, timeout_ms, &m);
    if (rc) {
        arbor_demonitor(mref, ARBOR_DEMONITOR_FLUSH);
        return rc;
    }
    const arbor_reason_t *got = &((arbor_down_msg_t *)m->data)->reason;
    rc = got->kind == ARBOR_EXIT_NOPROC     ? ARBOR_ENOPROC
         : arbor_reason_equal(got, &reason) ? 0
                                            : ARBOR_EEXIT;
    if (rc == ARBOR_EEXIT && exit_out)
        *exit_out = arbor_reason_copy(got);
    arbor_msg_free(m);
    return rc;
}

/*
 * GenServer: every GS scenario ported from OTP's and Elixir's suites (one
 * or more cases named with its ID), and the rules of docs/semantics.md
 * section 2 that the scenarios leave out: the name registered before
 * init, a failed start_link that leaves no EXIT behind, call timeouts and
 * late replies, deferred replies, halt with a reply, the parent's EXIT,
 * continues, returned timeouts, arbor_gs_stop and crash reports.
 *
 * One test server serves almost every case. Its init does what the
 * srv_arg_t it is started with says; its callbacks act on the request's tag
 * (REQ_*, CAST_*, INFO_*) and tell the tester what they saw with messages
 * (TAG_*). Everything a server sends the tester before it dies is in the
 * tester's mailbox once the tester has seen the server's DOWN or EXIT (a
 * sender's messages arrive before its exit signals), so "terminate did not
 * run" and "no report was made" are read from the mailbox without waiting.
 * Reports are captured with arbor_report_set_handler(), which turns each
 * one into a TAG_REPORT message to the test's root process.
 *
 * Erlang terms without a C equivalent are mapped as each case's comment
 * says. Names: only local names exist (no global, no via), so the global and
 * via variants of the scenarios are tested with local names.
 */
#include "../../src/otp/tags.h" /* the reply's tag, a wire detail */
#include "test.h"

enum {
    /* What servers and helpers tell the tester. */
    TAG_INIT = 1,   /* init ran; data: init_note_t */
    TAG_TERMINATED, /* terminate ran; data: the arbor_reason_t it got */
    TAG_REPORT,     /* a report was made; data: report_copy_t */
    TAG_INFO_EXIT,  /* handle_info got an ARBOR_TAG_EXIT; data: arbor_exit_msg_t */
    TAG_TIMED_OUT,  /* handle_info got ARBOR_TAG_GS_TIMEOUT */
    TAG_CAST_DONE,  /* handle_cast answered CAST_PING */
    TAG_INFO_DONE,  /* handle_info answered INFO_PING */
    TAG_DEFERRED,   /* handle_call kept a From for later */
    TAG_LATE_SENT,  /* the server sent the reply to a kept From */
    TAG_FROM,       /* data: arbor_from_t, to a process that replies for the server */
    TAG_RESULT,     /* data: what a helper process got */
    TAG_GO,         /* a helper (or a waiting terminate) goes on */
    TAG_HEJ,        /* a message nobody handles */

    /* Calls. */
    REQ_GET = 100,   /* reply: the int value */
    REQ_SET_TIMEOUT, /* data: int64_t ms; value = 1, reply 0 with that timeout */
    REQ_QUEUE_ZERO,  /* queue INFO_TRACE to itself; value = 1, reply 0 with timeout 0 */
    REQ_HALT,        /* data: reason; halt without a reply */
    REQ_HALT_REPLY,  /* data: reason; halt with the reply 42 */
    REQ_EXIT,        /* data: reason; arbor_exit() inside the callback */
    REQ_RETURN,      /* data: int; returned as the action */
    REQ_DEFER,       /* keep From, noreply */
    REQ_DEFER_TO,    /* data: pid; send From there, noreply */
    REQ_REPLY_EARLY, /* arbor_gs_reply_to(from, 7) inside the callback, then noreply */
    REQ_CALL_SELF,   /* reply: what arbor_gs_call(self) returned */
    REQ_STOP_SELF,   /* reply: what arbor_gs_stop(self) returned */
    REQ_TRACE,       /* reply: the trace string */
    REQ_CONTINUE,    /* data: uint64_t; queue INFO_TRACE, reply 0 and continue */
    REQ_BIG,         /* data: size_t n; reply n bytes i % 251 from a local buffer */

    /* Casts. */
    CAST_PING = 200, /* answer the caster with TAG_CAST_DONE */
    CAST_HALT,       /* data: reason; halt, terminate notifies the caster */
    CAST_REPLY_LATE, /* data: int; reply to the kept From, then TAG_LATE_SENT */
    CAST_RETURN,     /* data: int; returned as the action */
    CAST_TRACE,      /* trace 'c' */
    CAST_TELL_FROM,  /* tell the tester msg->from with TAG_CAST_DONE */

    /* Plain messages. */
    INFO_PING = 300, /* answer the sender with TAG_INFO_DONE */
    INFO_HALT,       /* data: reason; halt, terminate notifies the sender */
    INFO_TRACE,      /* trace 'i' */
};

#define WAIT_MS 5000
/* A call's timeout: a bound on slowness, scaled like WAIT_MS (which the
 * receive helpers scale themselves). */
#define CALL_MS arbor_test_scaled_ms(WAIT_MS)

typedef enum {
    INIT_OK,
    INIT_IGNORE,
    INIT_HALT,     /* returns arbor_gs_halt(reason) */
    INIT_EXIT,     /* calls arbor_exit(reason) */
    INIT_RETURN,   /* returns `action` as the action */
    INIT_SLEEP,    /* sleeps `ms`, then ok */
    INIT_CONTINUE, /* sends itself INFO_TRACE, then ok with continue `ms` */
    INIT_TIMEOUT,  /* ok with a timeout of `ms` */
} init_mode_t;

/* How a test server starts; read by init only (it lives on the starter's
 * stack). */
typedef struct {
    arbor_pid_t tester;
    init_mode_t mode;
    const char *name; /* the name it is started under, to look up in init */
    arbor_reason_t reason;
    int action;
    int64_t ms;
    bool terminate_exits; /* terminate ends with arbor_exit(terminate_reason) */
    arbor_reason_t terminate_reason;
    bool terminate_waits;    /* terminate waits for TAG_GO */
    int64_t terminate_sleep; /* terminate sleeps this many ms first */
    const char *notify_name; /* terminate notifies whoever holds this name */
} srv_arg_t;

typedef struct {
    arbor_pid_t self;
    arbor_pid_t whereis; /* arbor_whereis(name) seen from init */
} init_note_t;

typedef struct {
    arbor_pid_t tester;
    arbor_pid_t notify; /* terminate sends TAG_TERMINATED here */
    const char *notify_name;
    int value;
    arbor_from_t pending;
    bool terminate_exits;
    arbor_reason_t terminate_reason;
    bool terminate_waits;
    int64_t terminate_sleep;
    char trace[32];
} srv_state_t;

static void trace(srv_state_t *s, char c)
{
    size_t n = strlen(s->trace);
    ASSERT_LT(n, sizeof s->trace - 1);
    s->trace[n] = c;
}

static arbor_reason_t reason_of(const arbor_msg_t *m)
{
    arbor_reason_t r;
    ASSERT_EQ(m->size, sizeof r);
    memcpy(&r, m->data, sizeof r);
    return r;
}

static int int_of(const arbor_msg_t *m)
{
    int v;
    ASSERT_EQ(m->size, sizeof v);
    memcpy(&v, m->data, sizeof v);
    return v;
}

static arbor_gs_ret_t with_action(int action)
{
    arbor_gs_ret_t r = arbor_gs_ok();
    r.action = (arbor_gs_action_t)action;
    return r;
}

static arbor_gs_ret_t srv_init(void **state, void *arg)
{
    const srv_arg_t *a = arg;
    init_note_t note = {arbor_self(), a->name ? arbor_whereis(a->name) : ARBOR_NOPID};
    ASSERT_OK(arbor_send(a->tester, TAG_INIT, &note, sizeof note));
    srv_state_t *s = arbor_calloc(1, sizeof *s);
    ASSERT_TRUE(s != NULL);
    s->tester = a->tester;
    s->notify = a->tester;
    s->notify_name = a->notify_name;
    s->terminate_exits = a->terminate_exits;
    s->terminate_reason = a->terminate_reason;
    s->terminate_waits = a->terminate_waits;
    s->terminate_sleep = a->terminate_sleep;
    *state = s;
    switch (a->mode) {
    case INIT_OK:
        return arbor_gs_ok();
    case INIT_IGNORE:
        return arbor_gs_ignore();
    case INIT_HALT:
        return arbor_gs_halt(a->reason);
    case INIT_EXIT:
        arbor_exit(a->reason);
    case INIT_RETURN:
        return with_action(a->action);
    case INIT_SLEEP:
        arbor_sleep((uint64_t)a->ms);
        return arbor_gs_ok();
    case INIT_CONTINUE:
        ASSERT_OK(arbor_send(arbor_self(), INFO_TRACE, NULL, 0));
        return arbor_gs_continue(arbor_gs_ok(), (uint64_t)a->ms);
    case INIT_TIMEOUT:
        return arbor_gs_timeout(arbor_gs_ok(), a->ms);
    }
    return arbor_gs_ok();
}

/* Replies point into this frame: the constructors copy them at once. */
static arbor_gs_ret_t srv_call(void **state, const arbor_msg_t *req, arbor_from_t from)
{
    srv_state_t *s = *state;
    int out;
    switch (req->tag) {
    case REQ_GET:
        out = s->value;
        return arbor_gs_reply(&out, sizeof out);
    case REQ_SET_TIMEOUT: {
        int64_t ms;
        ASSERT_EQ(req->size, sizeof ms);
        memcpy(&ms, req->data, sizeof ms);
        s->value = 1;
        out = 0;
        return arbor_gs_timeout(arbor_gs_reply(&out, sizeof out), ms);
    }
    case REQ_QUEUE_ZERO:
        ASSERT_OK(arbor_send(arbor_self(), INFO_TRACE, NULL, 0));
        s->value = 1;
        out = 0;
        return arbor_gs_timeout(arbor_gs_reply(&out, sizeof out), 0);
    case REQ_HALT:
        return arbor_gs_halt(reason_of(req));
    case REQ_HALT_REPLY:
        out = 42;
        return arbor_gs_halt_reply(reason_of(req), &out, sizeof out);
    case REQ_EXIT:
        arbor_exit(reason_of(req));
    case REQ_RETURN:
        return with_action(int_of(req));
    case REQ_DEFER:
        s->pending = from;
        ASSERT_OK(arbor_send(s->tester, TAG_DEFERRED, NULL, 0));
        return arbor_gs_noreply();
    case REQ_DEFER_TO: {
        arbor_pid_t to;
        ASSERT_EQ(req->size, sizeof to);
        memcpy(&to, req->data, sizeof to);
        ASSERT_OK(arbor_send(to, TAG_FROM, &from, sizeof from));
        return arbor_gs_noreply();
    }
    case REQ_REPLY_EARLY: {
        int v = 7; /* copied by arbor_gs_reply_to: a local will do */
        ASSERT_OK(arbor_gs_reply_to(from, &v, sizeof v));
        return arbor_gs_noreply();
    }
    case REQ_CALL_SELF:
        out = arbor_gs_call(arbor_self(), REQ_GET, NULL, 0, ARBOR_INFINITY, NULL, NULL);
        return arbor_gs_reply(&out, sizeof out);
    case REQ_STOP_SELF:
        out = arbor_gs_stop(arbor_self(), ARBOR_NORMAL, ARBOR_INFINITY, NULL);
        return arbor_gs_reply(&out, sizeof out);
    case REQ_TRACE:
        return arbor_gs_reply(s->trace, strlen(s->trace) + 1);
    case REQ_BIG: {
        size_t n;
        ASSERT_EQ(req->size, sizeof n);
        memcpy(&n, req->data, sizeof n);
        unsigned char buf[4096];
        ASSERT_LE(n, sizeof buf);
        for (size_t i = 0; i < n; i++)
            buf[i] = (unsigned char)(i % 251);
        return arbor_gs_reply(buf, n);
    }
    case REQ_CONTINUE: {
        uint64_t arg;
        ASSERT_EQ(req->size, sizeof arg);
        memcpy(&arg, req->data, sizeof arg);
        trace(s, 'r');
        /* Queued before the continue runs: it must be handled after it. */
        ASSERT_OK(arbor_send(arbor_self(), INFO_TRACE, NULL, 0));
        out = 0;
        return arbor_gs_continue(arbor_gs_reply(&out, sizeof out), arg);
    }
    }
    arbor_test_fail(__FILE__, __LINE__, "unexpected call %" PRIu64, req->tag);
}

static arbor_gs_ret_t srv_cast(void **state, const arbor_msg_t *msg)
{
    srv_state_t *s = *state;
    switch (msg->tag) {
    case CAST_PING:
        ASSERT_OK(arbor_send(msg->from, TAG_CAST_DONE, NULL, 0));
        return arbor_gs_noreply();
    case CAST_HALT:
        s->notify = msg->from;
        return arbor_gs_halt(reason_of(msg));
    case CAST_REPLY_LATE: {
        int v = int_of(msg);
        ASSERT_OK(arbor_gs_reply_to(s->pending, &v, sizeof v));
        ASSERT_OK(arbor_send(s->tester, TAG_LATE_SENT, NULL, 0));
        return arbor_gs_noreply();
    }
    case CAST_RETURN:
        return with_action(int_of(msg));
    case CAST_TRACE:
        trace(s, 'c');
        return arbor_gs_noreply();
    case CAST_TELL_FROM:
        ASSERT_OK(arbor_send(s->tester, TAG_CAST_DONE, &msg->from, sizeof msg->from));
        return arbor_gs_noreply();
    }
    arbor_test_fail(__FILE__, __LINE__, "unexpected cast %" PRIu64, msg->tag);
}

static arbor_gs_ret_t srv_info(void **state, const arbor_msg_t *msg)
{
    srv_state_t *s = *state;
    switch (msg->tag) {
    case INFO_PING:
        ASSERT_OK(arbor_send(msg->from, TAG_INFO_DONE, NULL, 0));
        break;
    case INFO_HALT:
        s->notify = msg->from;
        return arbor_gs_halt(reason_of(msg));
    case INFO_TRACE:
        trace(s, 'i');
        break;
    case ARBOR_TAG_EXIT:
        ASSERT_OK(arbor_send(s->tester, TAG_INFO_EXIT, msg->data, msg->size));
        break;
    case ARBOR_TAG_GS_TIMEOUT:
        s->value = 0;
        trace(s, 't');
        ASSERT_OK(arbor_send(s->tester, TAG_TIMED_OUT, NULL, 0));
        break;
    default:
        break;
    }
    return arbor_gs_noreply();
}

/* Traces the argument's digit; an argument above 1 continues with one less. */
static arbor_gs_ret_t srv_continue(void **state, uint64_t arg)
{
    srv_state_t *s = *state;
    trace(s, (char)('0' + arg));
    if (arg > 1)
        return arbor_gs_continue(arbor_gs_noreply(), arg - 1);
    return arbor_gs_noreply();
}

static void srv_terminate(void **state, const arbor_reason_t *reason)
{
    srv_state_t *s = *state;
    if (s->terminate_sleep)
        arbor_sleep((uint64_t)s->terminate_sleep);
    arbor_pid_t to = s->notify_name ? arbor_whereis(s->notify_name) : s->notify;
    ASSERT_OK(arbor_send(to, TAG_TERMINATED, reason, sizeof *reason));
    if (s->terminate_waits)
        arbor_msg_free(arbor_test_recv_tag(TAG_GO, ARBOR_INFINITY));
    if (s->terminate_exits)
        arbor_exit(s->terminate_reason);
}

static void srv_format_status(void *state, char *buf, size_t size)
{
    const srv_state_t *s = state;
    snprintf(buf, size, "value=%d", s->value);
}

/* The test server, and the same with callbacks left out. */
#define SERVER(call, cast, info, cont, term)                                                       \
    {                                                                                              \
        .label = "test_server", .init = srv_init, .handle_call = (call), .handle_cast = (cast),    \
        .handle_info = (info), .handle_continue = (cont), .terminate = (term),                     \
        .format_status = srv_format_status                                                         \
    }

static const arbor_gen_server_t test_server =
    SERVER(srv_call, srv_cast, srv_info, srv_continue, srv_terminate);
static const arbor_gen_server_t no_call_server =
    SERVER(NULL, srv_cast, srv_info, srv_continue, srv_terminate);
static const arbor_gen_server_t no_cast_server =
    SERVER(srv_call, NULL, srv_info, srv_continue, srv_terminate);
static const arbor_gen_server_t no_info_server =
    SERVER(srv_call, srv_cast, NULL, srv_continue, srv_terminate);
static const arbor_gen_server_t no_continue_server =
    SERVER(srv_call, srv_cast, srv_info, NULL, srv_terminate);
static const arbor_gen_server_t no_terminate_server =
    SERVER(srv_call, srv_cast, srv_info, srv_continue, NULL);

/* ---- the tester's side ------------------------------------------------------------- */

static void run_root(arbor_entry_fn root, void *arg)
{
    arbor_reason_t r = arbor_test_run(root, arg);
    ASSERT_REASON(r, ARBOR_EXIT_NORMAL, "");
}

static bool tag_is(const arbor_msg_t *m, void *arg)
{
    return m->tag == *(const uint64_t *)arg;
}

/* The first message with tag, waiting up to WAIT_MS (scaled). */
#define EXPECT(tag) expect_tag((tag), __FILE__, __LINE__)
static arbor_msg_t *expect_tag(uint64_t tag, const char *file, int line)
{
    arbor_msg_t *m = NULL;
    int rc = arbor_receive_match(tag_is, &tag, arbor_test_scaled_ms(WAIT_MS), &m);
    if (rc != 0)
        arbor_test_fail(file, line, "no message with tag %" PRIu64 " within %d ms: %s", tag,
                        WAIT_MS, arbor_err_name(rc));
    return m;
}

/* No message with tag is queued now. */
#define EXPECT_NONE(tag) expect_none((tag), __FILE__, __LINE__)
static void expect_none(uint64_t tag, const char *file, int line)
{
    arbor_msg_t *m = NULL;
    if (arbor_receive_match(tag_is, &tag, 0, &m) == 0)
        arbor_test_fail(file, line, "unexpected message with tag %" PRIu64, tag);
}

/* terminate ran with exactly this reason. */
#define EXPECT_TERMINATED(r) expect_terminated((r), __FILE__, __LINE__)
static void expect_terminated(arbor_reason_t want, const char *file, int line)
{
    arbor_msg_t *m = expect_tag(TAG_TERMINATED, file, line);
    arbor_reason_t got = reason_of(m);
    arbor_msg_free(m);
    if (!arbor_reason_equal(&got, &want)) {
        char g[96], w[96];
        arbor_reason_format(&got, g, sizeof g);
        arbor_reason_format(&want, w, sizeof w);
        arbor_test_fail(file, line, "terminate got %s, expected %s", g, w);
    }
}

static bool down_of(const arbor_msg_t *m, void *arg)
{
    return m->tag == ARBOR_TAG_DOWN &&
           ((const arbor_down_msg_t *)m->data)->ref == *(const arbor_ref_t *)arg;
}

/* The DOWN of monitor ref; returns its reason. */
static arbor_reason_t down_reason(arbor_ref_t ref)
{
    arbor_msg_t *m = NULL;
    ASSERT_OK(arbor_receive_match(down_of, &ref, arbor_test_scaled_ms(WAIT_MS), &m));
    arbor_reason_t r = ((const arbor_down_msg_t *)m->data)->reason;
    arbor_msg_free(m);
    return r;
}

static bool exit_from(const arbor_msg_t *m, void *arg)
{
    return m->tag == ARBOR_TAG_EXIT &&
           ((const arbor_exit_msg_t *)m->data)->from == *(const arbor_pid_t *)arg;
}

/* The trapped EXIT from pid; returns its reason. */
static arbor_reason_t exit_reason(arbor_pid_t pid)
{
    arbor_msg_t *m = NULL;
    ASSERT_OK(arbor_receive_match(exit_from, &pid, arbor_test_scaled_ms(WAIT_MS), &m));
    arbor_reason_t r = ((const arbor_exit_msg_t *)m->data)->reason;
    arbor_msg_free(m);
    return r;
}

/* Waits until pid has exited and sent every exit signal it will send:
 * a monitor made now fires after them (noproc if it is already gone). */
static void await_gone(arbor_pid_t pid)
{
    arbor_ref_t ref;
    ASSERT_OK(arbor_monitor(pid, &ref));
    (void)down_reason(ref);
    ASSERT_FALSE(arbor_test_alive(pid));
}

/* The pid init reported, checking what it saw of its name. */
static arbor_pid_t init_pid(const char *name)
{
    arbor_msg_t *m = EXPECT(TAG_INIT);
    init_note_t note;
    ASSERT_EQ(m->size, sizeof note);
    memcpy(&note, m->data, sizeof note);
    arbor_msg_free(m);
    /* The name is registered before init runs. */
    ASSERT_U64_EQ(note.whereis, name ? note.self : ARBOR_NOPID);
    return note.self;
}

/* Starts a server that must start; the tester is the caller. */
static arbor_pid_t start_ok(const arbor_gen_server_t *gs, srv_arg_t *a, const arbor_gs_opts_t *o)
{
    a->tester = arbor_self();
    a->name = o ? o->name : NULL;
    arbor_pid_t pid = ARBOR_NOPID;
    ASSERT_OK(arbor_gs_start(gs, a, o, &pid, NULL));
    ASSERT_U64_EQ(init_pid(a->name), pid);
    return pid;
}

static arbor_pid_t start_default(void)
{
    srv_arg_t a = {.mode = INIT_OK};
    return start_ok(&test_server, &a, NULL);
}

/* A call that must be answered with an int. */
static int call_int(arbor_pid_t pid, uint64_t tag, const void *req, size_t size)
{
    arbor_msg_t *m = NULL;
    ASSERT_OK(arbor_gs_call(pid, tag, req, size, CALL_MS, &m, NULL));
    ASSERT_U64_EQ(m->tag, ARBOR__TAG_GS_REPLY);
    int v = int_of(m);
    arbor_msg_free(m);
    return v;
}

static int get_value(arbor_pid_t pid)
{
    return call_int(pid, REQ_GET, NULL, 0);
}

static void get_trace(arbor_pid_t pid, char *buf, size_t size)
{
    arbor_msg_t *m = NULL;
    ASSERT_OK(arbor_gs_call(pid, REQ_TRACE, NULL, 0, CALL_MS, &m, NULL));
    ASSERT_LE(m->size, size);
    memcpy(buf, m->data, m->size);
    arbor_msg_free(m);
}

/* A call that must fail because the server died; returns the exit reason. */
static arbor_reason_t call_dies(arbor_pid_t pid, uint64_t tag, const void *req, size_t size)
{
    arbor_reason_t r = ARBOR_NORMAL;
    ASSERT_ERR(arbor_gs_call(pid, tag, req, size, CALL_MS, NULL, &r), ARBOR_EEXIT);
    return r;
}

/* Stops a server normally and checks that terminate saw normal. */
static void stop_normal(arbor_pid_t pid)
{
    ASSERT_OK(arbor_gs_stop(pid, ARBOR_NORMAL, CALL_MS, NULL));
    EXPECT_TERMINATED(ARBOR_NORMAL);
    ASSERT_FALSE(arbor_test_alive(pid));
}

/* No message at all is queued now (receiving takes in what has arrived). */
#define EXPECT_EMPTY() expect_empty(__FILE__, __LINE__)
static void expect_empty(const char *file, int line)
{
    arbor_msg_t *m = NULL;
    if (arbor_receive(0, &m) == 0)
        arbor_test_fail(file, line, "unexpected message with tag %" PRIu64, m->tag);
}

static unsigned my_monitors(void)
{
    arbor_process_info_t info;
    ASSERT_OK(arbor_process_info(arbor_self(), &info));
    return info.monitors;
}

/* ---- reports ------------------------------------------------------------------------ */

typedef struct {
    arbor_report_kind_t kind;
    arbor_pid_t pid;
    arbor_reason_t reason;
    char behaviour[32];
    char what[48];
    char detail[192];
} report_copy_t;

static arbor_pid_t report_sink;

/* Runs in whatever process made the report: copies it into a message. */
static void copy_report(const arbor_report_t *r, void *ctx)
{
    report_copy_t c = {.kind = r->kind, .pid = r->pid, .reason = r->reason};
    snprintf(c.behaviour, sizeof c.behaviour, "%s", r->behaviour ? r->behaviour : "");
    snprintf(c.what, sizeof c.what, "%s", r->what ? r->what : "");
    snprintf(c.detail, sizeof c.detail, "%s", r->detail ? r->detail : "");
    arbor_send(*(const arbor_pid_t *)ctx, TAG_REPORT, &c, sizeof c);
}

/* From now on every report arrives in the caller's mailbox as TAG_REPORT. */
static void capture_reports(void)
{
    report_sink = arbor_self();
    arbor_report_set_handler(copy_report, &report_sink);
}

static void release_reports(void)
{
    arbor_report_set_handler(NULL, NULL);
}

static report_copy_t expect_report(void)
{
    arbor_msg_t *m = EXPECT(TAG_REPORT);
    report_copy_t c;
    ASSERT_EQ(m->size, sizeof c);
    memcpy(&c, m->data, sizeof c);
    arbor_msg_free(m);
    return c;
}

/* ---- GS-01: init returns ignore ------------------------------------------------------- */

/* GS-01 (start, otp_7669): ignore gives ARBOR_IGNORED from start and from a
 * linked start, named or not, repeatedly; the name was registered while init
 * ran and is free when start returns; the process has exited normally,
 * terminate did not run, and a trapping caller has no EXIT left. */
static void gs01_ignore_root(void *arg)
{
    arbor_trap_exit(true);
    const arbor_gs_opts_t variants[] = {
        {0},
        {.link = true},
        {.name = "gs01_server"},
        {.name = "gs01_server", .link = true},
    };
    for (size_t v = 0; v < sizeof variants / sizeof variants[0]; v++) {
        for (int round = 0; round < 5; round++) {
            srv_arg_t a = {.tester = arbor_self(), .mode = INIT_IGNORE, .name = variants[v].name};
            arbor_pid_t out = ARBOR_NOPID;
            arbor_reason_t err = ARBOR_NORMAL;
            ASSERT_EQ(arbor_gs_start(&test_server, &a, &variants[v], &out, &err), ARBOR_IGNORED);
            arbor_pid_t pid = init_pid(variants[v].name);
            ASSERT_FALSE(arbor_test_alive(pid));
            if (variants[v].name)
                ASSERT_U64_EQ(arbor_whereis(variants[v].name), ARBOR_NOPID);
            await_gone(pid);
            EXPECT_EMPTY(); /* no EXIT, no TAG_TERMINATED */
        }
    }
}

TEST(GS_01_init_ignore_returns_ignored_and_leaves_no_name)
{
    run_root(gs01_ignore_root, NULL);
}

/* GS-01 / otp_7669 with init failing: the name is taken before init (init
 * finds itself with arbor_whereis) and released before start returns, so
 * the next start under the same name succeeds at once. Failing init: a halt,
 * an invalid action, and arbor_exit() (Erlang's raise). */
static void gs01_failed_init_root(void *arg)
{
    const char *name = "gs01_failing";
    srv_arg_t fails[] = {
        {.mode = INIT_HALT, .reason = arbor_error("foobar")},
        {.mode = INIT_RETURN, .action = 4711},
        {.mode = INIT_EXIT, .reason = arbor_error("bailout")},
    };
    for (size_t f = 0; f < sizeof fails / sizeof fails[0]; f++) {
        srv_arg_t *a = &fails[f];
        a->tester = arbor_self();
        a->name = name;
        arbor_reason_t err = ARBOR_NORMAL;
        ASSERT_ERR(arbor_gs_start(&test_server, a, &(arbor_gs_opts_t){.name = name}, NULL, &err),
                   ARBOR_EEXIT);
        ASSERT_NE(err.kind, ARBOR_EXIT_NORMAL);
        arbor_pid_t pid = init_pid(name);
        ASSERT_U64_EQ(arbor_whereis(name), ARBOR_NOPID);
        ASSERT_FALSE(arbor_test_alive(pid));

        srv_arg_t ok = {.mode = INIT_OK};
        arbor_pid_t next = start_ok(&test_server, &ok, &(arbor_gs_opts_t){.name = name});
        ASSERT_U64_EQ(arbor_whereis(name), next);
        stop_normal(next);
    }
}

TEST(GS_01_name_taken_before_init_and_free_when_init_fails)
{
    run_root(gs01_failed_init_root, NULL);
}

/* A non-trapping caller of a linked start that returns ignore is not
 * affected: the server exits normal. */
static void ignore_link_child(void *arg)
{
    srv_arg_t *a = arg;
    int rc = arbor_gs_start(&test_server, a, &(arbor_gs_opts_t){.link = true}, NULL, NULL);
    ASSERT_OK(arbor_send(a->tester, TAG_RESULT, &rc, sizeof rc));
}

static void gs01_nontrapping_root(void *arg)
{
    srv_arg_t a = {.tester = arbor_self(), .mode = INIT_IGNORE};
    arbor_pid_t child;
    arbor_ref_t ref;
    ASSERT_OK(arbor_spawn_monitor(ignore_link_child, &a, &child, &ref));
    arbor_msg_t *m = EXPECT(TAG_RESULT);
    ASSERT_EQ(int_of(m), ARBOR_IGNORED);
    arbor_msg_free(m);
    arbor_reason_t r = down_reason(ref);
    ASSERT_REASON(r, ARBOR_EXIT_NORMAL, "");
}

TEST(GS_01_linked_ignore_leaves_non_trapping_caller_alive)
{
    run_root(gs01_nontrapping_root, NULL);
}

/* ---- GS-03: init returns {error, foobar} / {stop, foobar} ---------------------------------- */

/* GS-03: {error, foobar} and {stop, foobar} are both arbor_gs_halt(foobar)
 * in C: start returns ARBOR_EEXIT with foobar; terminate does not run. The
 * OTP 26 choice: a trapping caller of a linked start has no EXIT left. */
static void gs03_root(void *arg)
{
    arbor_trap_exit(true);
    for (int link = 0; link < 2; link++) {
        srv_arg_t a = {.tester = arbor_self(), .mode = INIT_HALT, .reason = arbor_error("foobar")};
        arbor_pid_t out = ARBOR_NOPID;
        arbor_reason_t err = ARBOR_NORMAL;
        ASSERT_ERR(arbor_gs_start(&test_server, &a, &(arbor_gs_opts_t){.link = link}, &out, &err),
                   ARBOR_EEXIT);
        ASSERT_REASON(err, ARBOR_EXIT_ERROR, "foobar");
        ASSERT_U64_EQ(out, ARBOR_NOPID);
        arbor_pid_t pid = init_pid(NULL);
        ASSERT_FALSE(arbor_test_alive(pid));
        await_gone(pid);
        EXPECT_EMPTY(); /* no EXIT, no TAG_TERMINATED */
        ASSERT_EQ(my_monitors(), 0);
    }
    /* The reason may be left out. */
    srv_arg_t a = {.tester = arbor_self(), .mode = INIT_HALT, .reason = ARBOR_SHUTDOWN};
    ASSERT_ERR(arbor_gs_start(&test_server, &a, NULL, NULL, NULL), ARBOR_EEXIT);
    (void)init_pid(NULL);
}

TEST(GS_03_init_error_returns_eexit_with_reason_and_no_exit_message)
{
    run_root(gs03_root, NULL);
}

/* A non-trapping caller of a linked start that fails is killed by the
 * link with the failure's reason, before start returns. */
static void failing_link_child(void *arg)
{
    srv_arg_t *a = arg;
    int rc = arbor_gs_start(&test_server, a, &(arbor_gs_opts_t){.link = true}, NULL, NULL);
    ASSERT_OK(arbor_send(a->tester, TAG_RESULT, &rc, sizeof rc));
}

static void gs03_nontrapping_root(void *arg)
{
    srv_arg_t a = {.tester = arbor_self(), .mode = INIT_HALT, .reason = arbor_error("foobar")};
    arbor_pid_t child;
    arbor_ref_t ref;
    ASSERT_OK(arbor_spawn_monitor(failing_link_child, &a, &child, &ref));
    arbor_reason_t r = down_reason(ref);
    ASSERT_REASON(r, ARBOR_EXIT_ERROR, "foobar");
    (void)init_pid(NULL);
    EXPECT_NONE(TAG_RESULT); /* start never returned */
}

TEST(GS_03_linked_init_error_kills_non_trapping_caller)
{
    run_root(gs03_nontrapping_root, NULL);
}

/* ---- GS-04: init takes longer than the start timeout ----------------------------------------- */

/* GS-04: init sleeps 5 s; start with a 100 ms timeout returns
 * ARBOR_ETIMEDOUT (OTP's {error, timeout}) long before init would have
 * returned; the process was killed (terminate does not run), and a trapping
 * linked caller has no EXIT left. */
static void gs04_root(void *arg)
{
    arbor_trap_exit(true);
    for (int link = 0; link < 2; link++) {
        srv_arg_t a = {.tester = arbor_self(), .mode = INIT_SLEEP, .ms = 5000};
        uint64_t t0 = arbor_now_ms();
        ASSERT_ERR(arbor_gs_start(&test_server, &a,
                                  &(arbor_gs_opts_t){.timeout = 100, .link = link}, NULL, NULL),
                   ARBOR_ETIMEDOUT);
        uint64_t took = arbor_now_ms() - t0;
        ASSERT_GE(took, 100);
        ASSERT_LT(took, 3000);
        arbor_pid_t pid = init_pid(NULL);
        ASSERT_FALSE(arbor_test_alive(pid));
        await_gone(pid);
        EXPECT_EMPTY();
    }
}

TEST(GS_04_init_slower_than_start_timeout_returns_etimedout)
{
    run_root(gs04_root, NULL);
}

/* ---- GS-05: already started ------------------------------------------------------------------ */

/* GS-05: a second start under a taken name returns ARBOR_EEXIST with the
 * owner in *pid_out (OTP's {error, {already_started, Pid}}); its init never
 * runs; a trapping linked caller has no EXIT left. Only local names exist,
 * so the global and via variants are the local one. The name is free again
 * once the owner is stopped (observed on the BEAM). */
static void gs05_root(void *arg)
{
    const char *name = "my_test_name";
    arbor_trap_exit(true);
    srv_arg_t a1 = {.mode = INIT_OK};
    arbor_pid_t first = start_ok(&test_server, &a1, &(arbor_gs_opts_t){.name = name});
    for (int link = 0; link < 2; link++) {
        srv_arg_t a2 = {.tester = arbor_self(), .mode = INIT_OK, .name = name};
        arbor_pid_t owner = ARBOR_NOPID;
        ASSERT_ERR(arbor_gs_start(&test_server, &a2, &(arbor_gs_opts_t){.name = name, .link = link},
                                  &owner, NULL),
                   ARBOR_EEXIST);
        ASSERT_U64_EQ(owner, first);
        EXPECT_EMPTY(); /* no TAG_INIT from a second init, no EXIT */
        ASSERT_U64_EQ(arbor_whereis(name), first);
        ASSERT_EQ(get_value(first), 0);
    }
    stop_normal(first);
    ASSERT_U64_EQ(arbor_whereis(name), ARBOR_NOPID);
    srv_arg_t a3 = {.mode = INIT_OK};
    arbor_pid_t again = start_ok(&test_server, &a3, &(arbor_gs_opts_t){.name = name});
    ASSERT_NE(again, first);
    stop_normal(again);
}

TEST(GS_05_second_start_with_taken_name_returns_eexist_and_owner)
{
    run_root(gs05_root, NULL);
}

/* ---- GS-06: init crashes, repeatedly ------------------------------------------------------------
 */

/* GS-06 (loop_start_fail): error(bailout) in init is arbor_exit(bailout)
 * from init; exit(bailout) is the halt it becomes in C; returning 4711 is an
 * invalid action cast to arbor_gs_action_t. Each gives ARBOR_EEXIT with the
 * reason ("bailout", or a detail starting "bad_return_value"), five times
 * over, with start and a linked start (start_monitor has no C counterpart:
 * start always monitors internally). Nothing leaks: the named init finds
 * its name free each round (the named ets table recreated in OTP), no
 * message is left behind, and the harness checks the runtime is empty. */
static void gs06_root(void *arg)
{
    const char *name = "gs06_server";
    arbor_trap_exit(true);
    srv_arg_t cases[] = {
        {.mode = INIT_EXIT, .reason = arbor_error("bailout")},
        {.mode = INIT_HALT, .reason = arbor_error("bailout")},
        {.mode = INIT_RETURN, .action = 4711},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        for (int link = 0; link < 2; link++) {
            for (int round = 0; round < 5; round++) {
                srv_arg_t a = cases[c];
                a.tester = arbor_self();
                a.name = name;
                arbor_reason_t err = ARBOR_NORMAL;
                ASSERT_ERR(arbor_gs_start(&test_server, &a,
                                          &(arbor_gs_opts_t){.name = name, .link = link}, NULL,
                                          &err),
                           ARBOR_EEXIT);
                ASSERT_EQ(err.kind, ARBOR_EXIT_ERROR);
                if (a.mode == INIT_RETURN)
                    ASSERT_TRUE(strncmp(err.detail, "bad_return_value", 16) == 0);
                else
                    ASSERT_STREQ(err.detail, "bailout");
                arbor_pid_t pid = init_pid(name);
                ASSERT_FALSE(arbor_test_alive(pid));
                ASSERT_U64_EQ(arbor_whereis(name), ARBOR_NOPID);
                await_gone(pid);
                EXPECT_EMPTY();
            }
        }
    }
    ASSERT_EQ(my_monitors(), 0);
}

TEST(GS_06_init_crash_or_bad_return_fails_start_every_time_without_leaks)
{
    run_root(gs06_root, NULL);
}

/* ---- GS-07: halt with a reply ---------------------------------------------------------------- */

/* GS-07: handle_call returns {stop, stopped, ok, S} (arbor_gs_halt_reply):
 * the linked, trapping caller gets the reply, then {'EXIT', Pid, stopped}.
 * OTP's order is terminate, then the reply, then the exit: terminate's
 * notification is already queued when the call returns. (terminate first
 * sleeps 50 ms, so that a reply sent before it would come well before.) */
static void gs07_root(void *arg)
{
    arbor_trap_exit(true);
    srv_arg_t a = {.mode = INIT_OK, .terminate_sleep = 50};
    arbor_pid_t pid = start_ok(&test_server, &a, &(arbor_gs_opts_t){.link = true});
    arbor_reason_t stopped = arbor_error("stopped");
    ASSERT_EQ(call_int(pid, REQ_HALT_REPLY, &stopped, sizeof stopped), 42);
    arbor_msg_t *m = NULL;
    ASSERT_OK(arbor_receive(0, &m)); /* the next message, already here */
    ASSERT_U64_EQ(m->tag, TAG_TERMINATED);
    ASSERT_REASON(reason_of(m), ARBOR_EXIT_ERROR, "stopped");
    arbor_msg_free(m);
    ASSERT_REASON(exit_reason(pid), ARBOR_EXIT_ERROR, "stopped");
    ASSERT_FALSE(arbor_test_alive(pid));
}

TEST(GS_07_halt_reply_answers_caller_then_linked_caller_gets_exit)
{
    run_root(gs07_root, NULL);
}

/* halt_reply with a monitoring caller: reply first, then the DOWN; the
 * reason normal is what the DOWN says. */
static void halt_reply_monitor_root(void *arg)
{
    arbor_pid_t pid = start_default();
    arbor_ref_t ref;
    ASSERT_OK(arbor_monitor(pid, &ref));
    arbor_reason_t normal = ARBOR_NORMAL;
    ASSERT_EQ(call_int(pid, REQ_HALT_REPLY, &normal, sizeof normal), 42);
    EXPECT_TERMINATED(ARBOR_NORMAL);
    ASSERT_REASON(down_reason(ref), ARBOR_EXIT_NORMAL, "");
    EXPECT_EMPTY();
}

TEST(halt_reply_runs_terminate_replies_then_exits)
{
    run_root(halt_reply_monitor_root, NULL);
}

/* halt_reply whose terminate fails (ends the server with arbor_exit(),
 * the C form of a crash in terminate/2): OTP still sends the reply, which
 * is in an `after`, and the server exits with terminate's reason. The
 * caller gets 42, then the DOWN says terminate's reason. */
static void halt_reply_terminate_fails_root(void *arg)
{
    srv_arg_t a = {.mode = INIT_OK,
                   .terminate_exits = true,
                   .terminate_reason = arbor_error("terminate_crashed")};
    arbor_pid_t pid = start_ok(&test_server, &a, NULL);
    arbor_ref_t ref;
    ASSERT_OK(arbor_monitor(pid, &ref));
    arbor_reason_t stopped = arbor_error("stopped");
    ASSERT_EQ(call_int(pid, REQ_HALT_REPLY, &stopped, sizeof stopped), 42);
    EXPECT_TERMINATED(stopped);
    ASSERT_REASON(down_reason(ref), ARBOR_EXIT_ERROR, "terminate_crashed");
    EXPECT_EMPTY();
}

TEST(halt_reply_reaches_caller_when_terminate_fails)
{
    run_root(halt_reply_terminate_fails_root, NULL);
}

/* ---- GS-10: a bad return value ------------------------------------------------------------ */

/* GS-10: handle_call returning badreturn is an invalid action (4711 cast to
 * arbor_gs_action_t): the caller gets ARBOR_EEXIT with a reason whose
 * detail starts "bad_return_value"; terminate runs with that reason and the
 * server dies with it. Also: ignore outside init, and a reply from
 * handle_cast, are bad return values too. */
static void gs10_root(void *arg)
{
    arbor_pid_t pid = start_default();
    arbor_ref_t ref;
    ASSERT_OK(arbor_monitor(pid, &ref));
    int bad = 4711;
    arbor_reason_t r = call_dies(pid, REQ_RETURN, &bad, sizeof bad);
    ASSERT_EQ(r.kind, ARBOR_EXIT_ERROR);
    ASSERT_TRUE(strncmp(r.detail, "bad_return_value", 16) == 0);
    ASSERT_TRUE(strstr(r.detail, "4711") != NULL);
    EXPECT_TERMINATED(r);
    arbor_reason_t down = down_reason(ref);
    ASSERT_TRUE(arbor_reason_equal(&down, &r));

    pid = start_default();
    bad = ARBOR_GS_IGNORE;
    r = call_dies(pid, REQ_RETURN, &bad, sizeof bad);
    ASSERT_TRUE(strncmp(r.detail, "bad_return_value", 16) == 0);
    EXPECT_TERMINATED(r);

    pid = start_default();
    ASSERT_OK(arbor_monitor(pid, &ref));
    bad = ARBOR_GS_REPLY;
    ASSERT_OK(arbor_gs_cast(pid, CAST_RETURN, &bad, sizeof bad));
    down = down_reason(ref);
    ASSERT_EQ(down.kind, ARBOR_EXIT_ERROR);
    ASSERT_TRUE(strncmp(down.detail, "bad_return_value", 16) == 0);
    EXPECT_TERMINATED(down);
}

TEST(GS_10_bad_return_value_kills_server_and_caller_gets_eexit)
{
    run_root(gs10_root, NULL);
}

/* ---- GS-11: returned timeouts -----------------------------------------------------------------
 */

/* GS-11: handle_call returns {reply, ok, call_within, T}: a call made at
 * once still sees call_within (value 1); left alone, the timeout reaches
 * handle_info as ARBOR_TAG_GS_TIMEOUT (OTP's timeout atom) no sooner than T,
 * and the state was reset (value 0). The waits are for the server's own
 * TAG_TIMED_OUT message, not sleeps. A timeout of 0 fires too when nothing
 * is queued. */
static void gs11_fires_root(void *arg)
{
    arbor_pid_t pid = start_default();
    int64_t ms = 1000;
    ASSERT_EQ(call_int(pid, REQ_SET_TIMEOUT, &ms, sizeof ms), 0);
    ASSERT_EQ(get_value(pid), 1); /* within the timeout; this call cancels it */

    ms = 200;
    uint64_t t0 = arbor_now_ms();
    ASSERT_EQ(call_int(pid, REQ_SET_TIMEOUT, &ms, sizeof ms), 0);
    arbor_msg_free(EXPECT(TAG_TIMED_OUT));
    ASSERT_GE(arbor_now_ms() - t0, (uint64_t)ms);
    ASSERT_EQ(get_value(pid), 0);

    ms = 0;
    ASSERT_EQ(call_int(pid, REQ_SET_TIMEOUT, &ms, sizeof ms), 0);
    arbor_msg_free(EXPECT(TAG_TIMED_OUT));
    ASSERT_EQ(get_value(pid), 0);
    stop_normal(pid);
    EXPECT_EMPTY(); /* the timeout fired once each time */
}

TEST(GS_11_returned_timeout_fires_handle_info_and_resets_state)
{
    run_root(gs11_fires_root, NULL);
}

/* GS-11, the other half of the rule: any message (call, cast or plain
 * message) that arrives before the timeout cancels it. After T and more,
 * no TAG_TIMED_OUT came and the state is still call_within. */
static void gs11_cancel_root(void *arg)
{
    arbor_pid_t pid = start_default();
    const int64_t ms = 300;
    for (int how = 0; how < 3; how++) {
        ASSERT_EQ(call_int(pid, REQ_SET_TIMEOUT, &ms, sizeof ms), 0);
        if (how == 0)
            ASSERT_EQ(get_value(pid), 1);
        else if (how == 1)
            ASSERT_OK(arbor_gs_cast(pid, CAST_TRACE, NULL, 0));
        else
            ASSERT_OK(arbor_send(pid, INFO_TRACE, NULL, 0));
        arbor_msg_t *m = NULL;
        ASSERT_ERR(arbor_receive_match(tag_is, &(uint64_t){TAG_TIMED_OUT}, 3 * ms, &m),
                   ARBOR_ETIMEDOUT);
        ASSERT_EQ(get_value(pid), 1);
    }
    char tr[32];
    get_trace(pid, tr, sizeof tr);
    ASSERT_STREQ(tr, "ci");
    stop_normal(pid);
}

TEST_TIMEOUT(GS_11_returned_timeout_is_cancelled_by_any_message, 30)
{
    run_root(gs11_cancel_root, NULL);
}

/* GS-11 with a timeout of 0 (OTP's `after 0`): a message already queued
 * when the callback returns is handled instead, and the timeout never
 * fires. */
static void gs11_zero_root(void *arg)
{
    arbor_pid_t pid = start_default();
    ASSERT_EQ(call_int(pid, REQ_QUEUE_ZERO, NULL, 0), 0);
    arbor_msg_t *m = NULL;
    ASSERT_ERR(arbor_receive_match(tag_is, &(uint64_t){TAG_TIMED_OUT}, 300, &m), ARBOR_ETIMEDOUT);
    ASSERT_EQ(get_value(pid), 1);
    char tr[32];
    get_trace(pid, tr, sizeof tr);
    ASSERT_STREQ(tr, "i");
    stop_normal(pid);
}

TEST(GS_11_timeout_zero_yields_to_a_queued_message)
{
    run_root(gs11_zero_root, NULL);
}

/* {ok, State, Timeout} from init: the timeout fires as from any callback. */
static void init_timeout_root(void *arg)
{
    srv_arg_t a = {.mode = INIT_TIMEOUT, .ms = 50};
    uint64_t t0 = arbor_now_ms();
    arbor_pid_t pid = start_ok(&test_server, &a, NULL);
    arbor_msg_free(EXPECT(TAG_TIMED_OUT));
    ASSERT_GE(arbor_now_ms() - t0, 50);
    char tr[32];
    get_trace(pid, tr, sizeof tr);
    ASSERT_STREQ(tr, "t");
    stop_normal(pid);
}

TEST(init_returned_timeout_fires_handle_info)
{
    run_root(init_timeout_root, NULL);
}

/* A server killed while a returned timeout is pending leaves nothing
 * behind (the harness checks that no timer outlives the runtime). */
static void kill_pending_timeout_root(void *arg)
{
    arbor_pid_t pid = start_default();
    arbor_ref_t ref;
    ASSERT_OK(arbor_monitor(pid, &ref));
    int64_t ms = 60000;
    ASSERT_EQ(call_int(pid, REQ_SET_TIMEOUT, &ms, sizeof ms), 0);
    ASSERT_OK(arbor_exit_pid(pid, ARBOR_KILL));
    ASSERT_REASON(down_reason(ref), ARBOR_EXIT_KILLED, "");
}

TEST(killed_server_with_pending_timeout_leaks_no_timer)
{
    run_root(kill_pending_timeout_root, NULL);
}

/* ---- GS-12: calling oneself ----------------------------------------------------------------- */

/* GS-12: call(self(), x) exits {calling_self, _}: arbor_gs_call returns
 * ARBOR_ECALLSELF at once (even with an infinite timeout), from a plain
 * process and from a server's own handle_call, which then goes on. */
static void gs12_root(void *arg)
{
    ASSERT_ERR(arbor_gs_call(arbor_self(), REQ_GET, NULL, 0, ARBOR_INFINITY, NULL, NULL),
               ARBOR_ECALLSELF);
    arbor_pid_t pid = start_default();
    ASSERT_EQ(call_int(pid, REQ_CALL_SELF, NULL, 0), ARBOR_ECALLSELF);
    ASSERT_EQ(get_value(pid), 0);
    stop_normal(pid);
    EXPECT_EMPTY();
}

TEST(GS_12_call_to_self_returns_ecallself)
{
    run_root(gs12_root, NULL);
}

/* ---- GS-14, GS-15: crashes in handle_call and crash reports --------------------------------- */

/* GS-14: a linked, trapping tester calls a server whose handle_call ends it
 * with {shutdown, reason}, {shutdown, stop_reason} or shutdown (and, added,
 * normal). Erlang's exit(R) in a callback is arbor_gs_halt(R) (terminate
 * runs); arbor_exit(R) in the callback, which skips terminate, is checked
 * too. Either way the call returns ARBOR_EEXIT with R, the tester gets
 * {'EXIT', Pid, R}, and no crash report is made. A last, abnormal case
 * proves the reports are captured. */
static void gs14_root(void *arg)
{
    arbor_trap_exit(true);
    capture_reports();
    const arbor_reason_t reasons[] = {
        arbor_reason(ARBOR_EXIT_SHUTDOWN, "reason"),
        arbor_reason(ARBOR_EXIT_SHUTDOWN, "stop_reason"),
        ARBOR_SHUTDOWN,
        ARBOR_NORMAL,
    };
    for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++) {
        for (int halt = 0; halt < 2; halt++) {
            srv_arg_t a = {.mode = INIT_OK};
            arbor_pid_t pid = start_ok(&test_server, &a, &(arbor_gs_opts_t){.link = true});
            arbor_reason_t r =
                call_dies(pid, halt ? REQ_HALT : REQ_EXIT, &reasons[i], sizeof reasons[i]);
            ASSERT_REASON(r, reasons[i].kind, reasons[i].detail);
            if (halt)
                EXPECT_TERMINATED(reasons[i]);
            r = exit_reason(pid);
            ASSERT_REASON(r, reasons[i].kind, reasons[i].detail);
            EXPECT_NONE(TAG_REPORT);
            EXPECT_EMPTY();
        }
    }
    srv_arg_t a = {.mode = INIT_OK};
    arbor_pid_t pid = start_ok(&test_server, &a, &(arbor_gs_opts_t){.link = true});
    arbor_reason_t crashed = arbor_error("crashed");
    (void)call_dies(pid, REQ_HALT, &crashed, sizeof crashed);
    report_copy_t c = expect_report();
    ASSERT_EQ(c.kind, ARBOR_REPORT_CRASH);
    ASSERT_U64_EQ(c.pid, pid);
    ASSERT_REASON(exit_reason(pid), ARBOR_EXIT_ERROR, "crashed");
    release_reports();
}

TEST(GS_14_shutdown_in_handle_call_reaches_caller_and_link_without_crash_report)
{
    run_root(gs14_root, NULL);
}

/* GS-15: an unlinked server whose handle_call does exit(crashed) (a halt
 * with crashed): the caller gets ARBOR_EEXIT with crashed, and one
 * ARBOR_REPORT_CRASH report names the server, its behaviour, the reason,
 * the last message (OTP's "Last message in") and the state
 * (format_status). OTP logs an error report and a crash report;
 * Arbor makes the one crash report. */
static void gs15_root(void *arg)
{
    capture_reports();
    arbor_pid_t pid = start_default();
    arbor_ref_t ref;
    ASSERT_OK(arbor_monitor(pid, &ref));
    arbor_reason_t crashed = arbor_error("crashed");
    arbor_reason_t r = call_dies(pid, REQ_HALT, &crashed, sizeof crashed);
    ASSERT_REASON(r, ARBOR_EXIT_ERROR, "crashed");
    EXPECT_TERMINATED(crashed);
    report_copy_t c = expect_report();
    ASSERT_EQ(c.kind, ARBOR_REPORT_CRASH);
    ASSERT_U64_EQ(c.pid, pid);
    ASSERT_STREQ(c.behaviour, "test_server");
    ASSERT_REASON(c.reason, ARBOR_EXIT_ERROR, "crashed");
    char me[32], detail[192];
    arbor_pid_format(arbor_self(), me, sizeof me);
    snprintf(detail, sizeof detail, "last message: call tag %d (%zu bytes) from %s; state: value=0",
             REQ_HALT, sizeof crashed, me);
    ASSERT_STREQ(c.detail, detail);
    ASSERT_REASON(down_reason(ref), ARBOR_EXIT_ERROR, "crashed");
    EXPECT_NONE(TAG_REPORT); /* one report */
    release_reports();
}

TEST(GS_15_crash_in_handle_call_gives_eexit_and_one_crash_report)
{
    run_root(gs15_root, NULL);
}

/* sys:get_status: the server answers with format_status()'s summary of
 * its current state, between two messages; without the hook the text is
 * empty; a dead server gives ARBOR_ENOPROC and the server itself
 * ARBOR_ECALLSELF. */
static void get_status_root(void *arg)
{
    arbor_pid_t pid = start_default();
    char text[64];
    ASSERT_OK(arbor_gs_get_status(pid, text, sizeof text, CALL_MS));
    ASSERT_STREQ(text, "value=0");
    int64_t ms = 60000;
    ASSERT_EQ(call_int(pid, REQ_SET_TIMEOUT, &ms, sizeof ms), 0); /* value = 1 */
    ASSERT_OK(arbor_gs_get_status(pid, text, sizeof text, CALL_MS));
    ASSERT_STREQ(text, "value=1");
    ASSERT_OK(arbor_gs_get_status(pid, text, 4, CALL_MS)); /* truncated, terminated */
    ASSERT_STREQ(text, "val");
    ASSERT_EQ(get_value(pid), 1); /* no callback saw the status request */
    stop_normal(pid);
    ASSERT_ERR(arbor_gs_get_status(pid, text, sizeof text, CALL_MS), ARBOR_ENOPROC);
    ASSERT_ERR(arbor_gs_get_status(arbor_self(), text, sizeof text, CALL_MS), ARBOR_ECALLSELF);
    ASSERT_ERR(arbor_gs_get_status(pid, NULL, 0, CALL_MS), ARBOR_EINVAL);
}

TEST(get_status_answers_with_format_status)
{
    run_root(get_status_root, NULL);
}

/* The same rule through arbor_gs_stop: stopping with normal, shutdown or
 * {shutdown, x} makes no report; any other reason makes exactly one. */
static void stop_reports_root(void *arg)
{
    capture_reports();
    const arbor_reason_t clean[] = {ARBOR_NORMAL, ARBOR_SHUTDOWN,
                                    arbor_reason(ARBOR_EXIT_SHUTDOWN, "x")};
    for (size_t i = 0; i < sizeof clean / sizeof clean[0]; i++) {
        arbor_pid_t pid = start_default();
        ASSERT_OK(arbor_gs_stop(pid, clean[i], CALL_MS, NULL));
        EXPECT_TERMINATED(clean[i]);
        EXPECT_NONE(TAG_REPORT);
    }
    arbor_pid_t pid = start_default();
    arbor_reason_t bad = arbor_error("bad");
    ASSERT_OK(arbor_gs_stop(pid, bad, CALL_MS, NULL));
    report_copy_t c = expect_report();
    ASSERT_EQ(c.kind, ARBOR_REPORT_CRASH);
    ASSERT_U64_EQ(c.pid, pid);
    ASSERT_REASON(c.reason, ARBOR_EXIT_ERROR, "bad");
    EXPECT_TERMINATED(bad);
    EXPECT_NONE(TAG_REPORT);
    release_reports();
}

TEST(crash_report_only_for_abnormal_stop_reasons)
{
    run_root(stop_reports_root, NULL);
}

/* The header's promise: a caller linked to the server and not trapping is
 * killed by the server's crash through the link, with the raw reason. */
static void linked_caller_child(void *arg)
{
    arbor_pid_t tester = *(const arbor_pid_t *)arg;
    srv_arg_t a = {.tester = tester, .mode = INIT_OK};
    arbor_pid_t pid;
    ASSERT_OK(arbor_gs_start(&test_server, &a, &(arbor_gs_opts_t){.link = true}, &pid, NULL));
    arbor_reason_t boom = arbor_error("boom");
    int rc = arbor_gs_call(pid, REQ_HALT, &boom, sizeof boom, CALL_MS, NULL, NULL);
    ASSERT_OK(arbor_send(tester, TAG_RESULT, &rc, sizeof rc));
}

static void linked_caller_root(void *arg)
{
    arbor_pid_t self = arbor_self(), child;
    arbor_ref_t ref;
    ASSERT_OK(arbor_spawn_monitor(linked_caller_child, &self, &child, &ref));
    ASSERT_REASON(down_reason(ref), ARBOR_EXIT_ERROR, "boom");
    (void)init_pid(NULL);
    EXPECT_TERMINATED(arbor_error("boom"));
    EXPECT_NONE(TAG_RESULT);
}

TEST(crash_kills_linked_non_trapping_caller_with_raw_reason)
{
    run_root(linked_caller_root, NULL);
}

/* ---- GS-16, GS-17, GS-18: casts and plain messages --------------------------------------- */

/* GS-16: cast {self(), handle_cast} is answered (TAG_CAST_DONE, sent to the
 * caster, which handle_cast sees as msg->from); cast {self(), stop} halts
 * with stopped and terminate tells the caster (OTP's terminate({From,
 * stopped}, _) becomes reason stopped and a message to From). */
static void gs16_root(void *arg)
{
    arbor_pid_t pid = start_default();
    arbor_ref_t ref;
    ASSERT_OK(arbor_monitor(pid, &ref));
    ASSERT_OK(arbor_gs_cast(pid, CAST_PING, NULL, 0));
    arbor_msg_t *m = EXPECT(TAG_CAST_DONE);
    ASSERT_U64_EQ(m->from, pid);
    arbor_msg_free(m);
    arbor_reason_t stopped = arbor_error("stopped");
    ASSERT_OK(arbor_gs_cast(pid, CAST_HALT, &stopped, sizeof stopped));
    EXPECT_TERMINATED(stopped);
    ASSERT_REASON(down_reason(ref), ARBOR_EXIT_ERROR, "stopped");
}

TEST(GS_16_cast_is_handled_and_cast_stop_runs_terminate)
{
    run_root(gs16_root, NULL);
}

/* GS-17: a cast to a name nobody holds returns 0 (OTP's ok); C casts to a
 * pid, so the name is looked up first (ARBOR_NOPID); global and via names
 * do not exist. A cast to a dead pid also returns 0. */
static void gs17_root(void *arg)
{
    ASSERT_U64_EQ(arbor_whereis("foo"), ARBOR_NOPID);
    ASSERT_OK(arbor_gs_cast(arbor_whereis("foo"), CAST_PING, "msg", 4));
    arbor_pid_t pid = start_default();
    stop_normal(pid);
    ASSERT_OK(arbor_gs_cast(pid, CAST_PING, "msg", 4));
    ASSERT_OK(arbor_gs_cast(pid, CAST_PING, NULL, 0));
    ASSERT_ERR(arbor_gs_cast(pid, CAST_PING, NULL, 4), ARBOR_EINVAL);
    EXPECT_EMPTY();
}

TEST(GS_17_cast_to_missing_name_or_dead_pid_returns_ok)
{
    run_root(gs17_root, NULL);
}

/* Casts may come from any thread: one from a blocking-pool thread reaches
 * handle_cast with from = ARBOR_NOPID. */
typedef struct {
    arbor_pid_t server;
    int rc;
} foreign_cast_t;

static void *cast_from_thread(void *arg)
{
    foreign_cast_t *fc = arg;
    fc->rc = arbor_gs_cast(fc->server, CAST_TELL_FROM, NULL, 0);
    return NULL;
}

static void foreign_cast_root(void *arg)
{
    arbor_pid_t pid = start_default();
    foreign_cast_t fc = {pid, -1};
    ASSERT_OK(arbor_blocking(cast_from_thread, &fc, NULL));
    ASSERT_OK(fc.rc);
    arbor_msg_t *m = EXPECT(TAG_CAST_DONE);
    arbor_pid_t from;
    ASSERT_EQ(m->size, sizeof from);
    memcpy(&from, m->data, sizeof from);
    arbor_msg_free(m);
    ASSERT_U64_EQ(from, ARBOR_NOPID);
    stop_normal(pid);
}

TEST(cast_from_outside_a_process_reaches_handle_cast)
{
    run_root(foreign_cast_root, NULL);
}

/* GS-18: a plain message {self(), handle_info} reaches handle_info, which
 * answers the sender; a plain {self(), stop} is handled with {stop, Reason,
 * S} and terminate runs with stopped_info and tells the sender. */
static void gs18_root(void *arg)
{
    arbor_pid_t pid = start_default();
    arbor_ref_t ref;
    ASSERT_OK(arbor_monitor(pid, &ref));
    ASSERT_OK(arbor_send(pid, INFO_PING, NULL, 0));
    arbor_msg_t *m = EXPECT(TAG_INFO_DONE);
    ASSERT_U64_EQ(m->from, pid);
    arbor_msg_free(m);
    arbor_reason_t stopped = arbor_error("stopped_info");
    ASSERT_OK(arbor_send(pid, INFO_HALT, &stopped, sizeof stopped));
    EXPECT_TERMINATED(stopped);
    ASSERT_REASON(down_reason(ref), ARBOR_EXIT_ERROR, "stopped_info");
}

TEST(GS_18_plain_message_reaches_handle_info_and_can_stop_server)
{
    run_root(gs18_root, NULL);
}

/* ---- GS-21, GS-22, GS-23: arbor_gs_stop ----------------------------------------------------- */

/* GS-21: stop(Pid) on an anonymous server returns 0 (ok) after terminate
 * ran with normal and the server died; stopping it again gives
 * ARBOR_ENOPROC (OTP exits noproc). */
static void gs21_root(void *arg)
{
    arbor_pid_t pid = start_default();
    arbor_ref_t ref;
    ASSERT_OK(arbor_monitor(pid, &ref));
    ASSERT_OK(arbor_gs_stop(pid, ARBOR_NORMAL, ARBOR_INFINITY, NULL));
    ASSERT_FALSE(arbor_test_alive(pid));
    EXPECT_TERMINATED(ARBOR_NORMAL);
    ASSERT_REASON(down_reason(ref), ARBOR_EXIT_NORMAL, "");
    ASSERT_ERR(arbor_gs_stop(pid, ARBOR_NORMAL, ARBOR_INFINITY, NULL), ARBOR_ENOPROC);
    ASSERT_ERR(arbor_gs_stop(ARBOR_NOPID, ARBOR_NORMAL, ARBOR_INFINITY, NULL), ARBOR_ENOPROC);
    ASSERT_EQ(my_monitors(), 0);
    EXPECT_EMPTY();
}

TEST(GS_21_stop_twice_returns_ok_then_enoproc)
{
    run_root(gs21_root, NULL);
}

/* GS-22: stop(Pid, other_reason, infinity) returns 0 and the server ran
 * terminate with, and died of, other_reason. stop with an invalid timeout
 * (a negative other than ARBOR_INFINITY; OTP's caller crashes) returns
 * ARBOR_EINVAL and leaves the server running, terminate not called. */
static void gs22_root(void *arg)
{
    arbor_pid_t pid = start_default();
    arbor_ref_t ref;
    ASSERT_OK(arbor_monitor(pid, &ref));
    arbor_reason_t other = arbor_error("other_reason");
    ASSERT_OK(arbor_gs_stop(pid, other, ARBOR_INFINITY, NULL));
    EXPECT_TERMINATED(other);
    ASSERT_REASON(down_reason(ref), ARBOR_EXIT_ERROR, "other_reason");

    pid = start_default();
    ASSERT_ERR(arbor_gs_stop(pid, ARBOR_NORMAL, -2, NULL), ARBOR_EINVAL);
    ASSERT_EQ(get_value(pid), 0);
    EXPECT_NONE(TAG_TERMINATED);
    ASSERT_TRUE(arbor_test_alive(pid));
    stop_normal(pid);
    ASSERT_EQ(my_monitors(), 0);
}

TEST(GS_22_stop_with_other_reason_ok_and_invalid_timeout_leaves_server)
{
    run_root(gs22_root, NULL);
}

/* GS-23: handle_call calls arbor_gs_stop on its own server: ARBOR_ECALLSELF
 * (OTP's {calling_self, ...}) comes back, and the server goes on. */
static void gs23_root(void *arg)
{
    arbor_pid_t pid = start_default();
    ASSERT_EQ(call_int(pid, REQ_STOP_SELF, NULL, 0), ARBOR_ECALLSELF);
    ASSERT_TRUE(arbor_test_alive(pid));
    ASSERT_EQ(get_value(pid), 0);
    EXPECT_NONE(TAG_TERMINATED);
    stop_normal(pid);
}

TEST(GS_23_stop_from_own_handle_call_returns_ecallself_and_server_survives)
{
    run_root(gs23_root, NULL);
}

/* stop returns ARBOR_EEXIT with the real reason when the server exits with
 * another than the one asked: here terminate itself exits (OTP: the process
 * exits with terminate's crash reason). */
static void stop_other_exit_root(void *arg)
{
    srv_arg_t a = {.mode = INIT_OK,
                   .terminate_exits = true,
                   .terminate_reason = arbor_error("terminate_crashed")};
    arbor_pid_t pid = start_ok(&test_server, &a, NULL);
    arbor_reason_t got = ARBOR_NORMAL;
    ASSERT_ERR(arbor_gs_stop(pid, ARBOR_NORMAL, CALL_MS, &got), ARBOR_EEXIT);
    ASSERT_REASON(got, ARBOR_EXIT_ERROR, "terminate_crashed");
    EXPECT_TERMINATED(ARBOR_NORMAL);
    ASSERT_EQ(my_monitors(), 0);
}

TEST(stop_returns_eexit_when_server_exits_with_another_reason)
{
    run_root(stop_other_exit_root, NULL);
}

/* stop gives up with ARBOR_ETIMEDOUT when terminate does not return in
 * time, removing its monitor; the server finishes later on its own. */
static void stop_timeout_root(void *arg)
{
    srv_arg_t a = {.mode = INIT_OK, .terminate_waits = true};
    arbor_pid_t pid = start_ok(&test_server, &a, NULL);
    ASSERT_ERR(arbor_gs_stop(pid, ARBOR_SHUTDOWN, 100, NULL), ARBOR_ETIMEDOUT);
    EXPECT_TERMINATED(ARBOR_SHUTDOWN);
    ASSERT_EQ(my_monitors(), 0);
    arbor_ref_t ref;
    ASSERT_OK(arbor_monitor(pid, &ref));
    ASSERT_OK(arbor_send(pid, TAG_GO, NULL, 0));
    ASSERT_REASON(down_reason(ref), ARBOR_EXIT_SHUTDOWN, "");
    EXPECT_EMPTY();
}

TEST(stop_times_out_when_terminate_does_not_return)
{
    run_root(stop_timeout_root, NULL);
}

/* ---- GS-24: a registered parent -------------------------------------------------------------- */

/* GS-24 (spec_init_local_registered_parent): the parent is registered under
 * a name and the server, linked to it, traps exits; cast stop halts it, and
 * terminate runs and tells the parent, found by its name. The parent (the
 * root, trapping) then gets {'EXIT', Pid, normal}. proc_lib has no C
 * counterpart: arbor_gs_start's caller is the parent. */
static arbor_gs_ret_t gs24_cast(void **state, const arbor_msg_t *msg)
{
    return arbor_gs_halt(ARBOR_NORMAL);
}

static const arbor_gen_server_t gs24_server =
    SERVER(srv_call, gs24_cast, srv_info, srv_continue, srv_terminate);

static void gs24_root(void *arg)
{
    ASSERT_OK(arbor_register("gs24_parent", arbor_self(), NULL));
    arbor_trap_exit(true);
    srv_arg_t a = {.mode = INIT_OK, .notify_name = "gs24_parent"};
    arbor_pid_t pid =
        start_ok(&gs24_server, &a, &(arbor_gs_opts_t){.link = true, .trap_exit = true});
    arbor_process_info_t info;
    ASSERT_OK(arbor_process_info(pid, &info));
    ASSERT_TRUE(info.trap_exit);
    ASSERT_EQ(info.links, 1);
    ASSERT_OK(arbor_gs_cast(pid, 0, NULL, 0));
    EXPECT_TERMINATED(ARBOR_NORMAL);
    ASSERT_REASON(exit_reason(pid), ARBOR_EXIT_NORMAL, "");
    EXPECT_EMPTY();
}

TEST(GS_24_trapping_server_with_registered_parent_runs_terminate_on_cast_stop)
{
    run_root(gs24_root, NULL);
}

/* ---- the parent's EXIT, other EXITs, kill --------------------------------------------------- */

/* A trapping server gets its parent's exit as an EXIT: terminate runs with
 * the parent's reason and the server exits with it, for normal too (OTP
 * 2.6). The parent here is a process that starts the server linked and
 * then exits with the reason. */
typedef struct {
    arbor_pid_t root;
    arbor_reason_t reason;
} parent_arg_t;

static void parent_proc(void *arg)
{
    const parent_arg_t *pa = arg;
    srv_arg_t a = {.tester = pa->root, .mode = INIT_OK};
    arbor_pid_t pid;
    ASSERT_OK(arbor_gs_start(&test_server, &a, &(arbor_gs_opts_t){.link = true, .trap_exit = true},
                             &pid, NULL));
    ASSERT_OK(arbor_send(pa->root, TAG_RESULT, &pid, sizeof pid));
    arbor_msg_free(arbor_test_recv_tag(TAG_GO, ARBOR_INFINITY));
    arbor_exit(pa->reason);
}

static void parent_exit_root(void *arg)
{
    const arbor_reason_t reasons[] = {ARBOR_SHUTDOWN, arbor_reason(ARBOR_EXIT_SHUTDOWN, "x"),
                                      arbor_error("parent_died"), ARBOR_NORMAL};
    for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++) {
        parent_arg_t pa = {arbor_self(), reasons[i]};
        arbor_pid_t parent, pid;
        arbor_ref_t pref, sref;
        ASSERT_OK(arbor_spawn_monitor(parent_proc, &pa, &parent, &pref));
        arbor_pid_t server = init_pid(NULL);
        arbor_msg_t *m = EXPECT(TAG_RESULT);
        ASSERT_EQ(m->size, sizeof pid);
        memcpy(&pid, m->data, sizeof pid);
        arbor_msg_free(m);
        ASSERT_U64_EQ(pid, server);
        ASSERT_OK(arbor_monitor(pid, &sref));
        ASSERT_OK(arbor_send(parent, TAG_GO, NULL, 0));
        arbor_reason_t r = down_reason(pref);
        ASSERT_REASON(r, reasons[i].kind, reasons[i].detail);
        EXPECT_TERMINATED(reasons[i]);
        r = down_reason(sref);
        ASSERT_REASON(r, reasons[i].kind, reasons[i].detail);
        EXPECT_EMPTY();
    }
}

TEST(parent_exit_while_trapping_runs_terminate_with_parents_reason)
{
    run_root(parent_exit_root, NULL);
}

/* What a supervisor does: the parent sends exit(Server, shutdown) to a
 * trapping server (no link needed); terminate runs with shutdown. */
static void parent_exit_signal_root(void *arg)
{
    srv_arg_t a = {.mode = INIT_OK};
    arbor_pid_t pid = start_ok(&test_server, &a, &(arbor_gs_opts_t){.trap_exit = true});
    arbor_ref_t ref;
    ASSERT_OK(arbor_monitor(pid, &ref));
    ASSERT_OK(arbor_exit_pid(pid, ARBOR_SHUTDOWN));
    EXPECT_TERMINATED(ARBOR_SHUTDOWN);
    ASSERT_REASON(down_reason(ref), ARBOR_EXIT_SHUTDOWN, "");
}

TEST(parent_exit_signal_to_trapping_server_runs_terminate)
{
    run_root(parent_exit_signal_root, NULL);
}

/* A trapping server linked to a process that is not its parent gets that
 * process's exit in handle_info as ARBOR_TAG_EXIT, and stays alive. */
static void linker(void *arg)
{
    const arbor_reason_t *reason = arg;
    arbor_msg_t *m = arbor_test_recv_tag(TAG_GO, ARBOR_INFINITY);
    arbor_pid_t server;
    memcpy(&server, m->data, sizeof server);
    arbor_msg_free(m);
    ASSERT_OK(arbor_link(server)); /* the link's signal precedes our exit's */
    arbor_exit(*reason);
}

static void non_parent_exit_root(void *arg)
{
    srv_arg_t a = {.mode = INIT_OK};
    arbor_pid_t pid = start_ok(&test_server, &a, &(arbor_gs_opts_t){.trap_exit = true});
    const arbor_reason_t reasons[] = {arbor_error("other_died"), ARBOR_NORMAL, ARBOR_KILL};
    for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++) {
        arbor_pid_t other;
        ASSERT_OK(arbor_spawn(linker, (void *)&reasons[i], &other));
        ASSERT_OK(arbor_send(other, TAG_GO, &pid, sizeof pid));
        arbor_msg_t *m = EXPECT(TAG_INFO_EXIT);
        arbor_exit_msg_t e;
        ASSERT_EQ(m->size, sizeof e);
        memcpy(&e, m->data, sizeof e);
        arbor_msg_free(m);
        ASSERT_U64_EQ(e.from, other);
        ASSERT_REASON(e.reason, reasons[i].kind, reasons[i].detail);
        ASSERT_EQ(get_value(pid), 0);
        EXPECT_NONE(TAG_TERMINATED);
    }
    stop_normal(pid);
}

TEST(non_parent_link_exit_while_trapping_goes_to_handle_info)
{
    run_root(non_parent_exit_root, NULL);
}

/* A kill ends a trapping server without terminate; so does any non-normal
 * exit signal to a server that does not trap. */
static void kill_root(void *arg)
{
    for (int trap = 1; trap >= 0; trap--) {
        srv_arg_t a = {.mode = INIT_OK};
        arbor_pid_t pid = start_ok(&test_server, &a, &(arbor_gs_opts_t){.trap_exit = trap});
        arbor_ref_t ref;
        ASSERT_OK(arbor_monitor(pid, &ref));
        ASSERT_OK(arbor_exit_pid(pid, trap ? ARBOR_KILL : ARBOR_SHUTDOWN));
        arbor_reason_t r = down_reason(ref);
        ASSERT_REASON(r, trap ? ARBOR_EXIT_KILLED : ARBOR_EXIT_SHUTDOWN, "");
        EXPECT_NONE(TAG_TERMINATED);
    }
    EXPECT_EMPTY();
}

TEST(kill_while_trapping_does_not_run_terminate)
{
    run_root(kill_root, NULL);
}

/* ---- GS-25, GS-26, GS-28: missing callbacks ----------------------------------------------- */

/* GS-25: without handle_info, a plain message (hej) makes one
 * ARBOR_REPORT_WARNING report about the server, and the server goes on. */
static void gs25_root(void *arg)
{
    capture_reports();
    srv_arg_t a = {.mode = INIT_OK};
    arbor_pid_t pid = start_ok(&no_info_server, &a, NULL);
    ASSERT_OK(arbor_send(pid, TAG_HEJ, "hej", 4));
    report_copy_t c = expect_report();
    ASSERT_EQ(c.kind, ARBOR_REPORT_WARNING);
    ASSERT_U64_EQ(c.pid, pid);
    ASSERT_STREQ(c.behaviour, "test_server");
    ASSERT_TRUE(arbor_test_alive(pid));
    ASSERT_EQ(get_value(pid), 0);
    stop_normal(pid);
    EXPECT_NONE(TAG_REPORT);
    release_reports();
}

TEST(GS_25_missing_handle_info_logs_warning_and_server_lives)
{
    run_root(gs25_root, NULL);
}

/* GS-26: without handle_call, a call crashes the server with undef: the
 * caller gets ARBOR_EEXIT with "undef: handle_call" (OTP's
 * {{undef, ...}, {gen_server, call, _}}); without handle_cast, a cast
 * crashes it and the DOWN says "undef: handle_cast". It is a crash like any
 * other: terminate runs with that reason. */
static void gs26_root(void *arg)
{
    srv_arg_t a = {.mode = INIT_OK};
    arbor_pid_t pid = start_ok(&no_call_server, &a, NULL);
    arbor_ref_t ref;
    ASSERT_OK(arbor_monitor(pid, &ref));
    arbor_reason_t r = call_dies(pid, REQ_GET, NULL, 0);
    ASSERT_REASON(r, ARBOR_EXIT_ERROR, "undef: handle_call");
    EXPECT_TERMINATED(r);
    ASSERT_REASON(down_reason(ref), ARBOR_EXIT_ERROR, "undef: handle_call");

    pid = start_ok(&no_cast_server, &a, NULL);
    ASSERT_OK(arbor_monitor(pid, &ref));
    ASSERT_OK(arbor_gs_cast(pid, CAST_PING, NULL, 0));
    r = down_reason(ref);
    ASSERT_REASON(r, ARBOR_EXIT_ERROR, "undef: handle_cast");
    EXPECT_TERMINATED(r);
    EXPECT_NONE(TAG_CAST_DONE);
}

TEST(GS_26_missing_handle_call_or_handle_cast_crashes_with_undef)
{
    run_root(gs26_root, NULL);
}

/* Without handle_continue, returning a continue crashes the server with
 * undef (OTP undef_handle_continue), after the reply went out. */
static void no_continue_root(void *arg)
{
    srv_arg_t a = {.mode = INIT_OK};
    arbor_pid_t pid = start_ok(&no_continue_server, &a, NULL);
    arbor_ref_t ref;
    ASSERT_OK(arbor_monitor(pid, &ref));
    uint64_t one = 1;
    ASSERT_EQ(call_int(pid, REQ_CONTINUE, &one, sizeof one), 0);
    arbor_reason_t r = down_reason(ref);
    ASSERT_REASON(r, ARBOR_EXIT_ERROR, "undef: handle_continue");
    EXPECT_TERMINATED(r);
}

TEST(missing_handle_continue_crashes_with_undef)
{
    run_root(no_continue_root, NULL);
}

/* GS-28: without terminate, stop(S) and stop(S, {error, test}, infinity)
 * return 0 and the DOWN says normal / the reason ({error, test} is
 * arbor_error("error test") here). */
static void gs28_root(void *arg)
{
    const arbor_reason_t reasons[] = {ARBOR_NORMAL, arbor_error("error test")};
    for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++) {
        srv_arg_t a = {.mode = INIT_OK};
        arbor_pid_t pid = start_ok(&no_terminate_server, &a, NULL);
        arbor_ref_t ref;
        ASSERT_OK(arbor_monitor(pid, &ref));
        ASSERT_OK(arbor_gs_stop(pid, reasons[i], ARBOR_INFINITY, NULL));
        arbor_reason_t r = down_reason(ref);
        ASSERT_REASON(r, reasons[i].kind, reasons[i].detail);
    }
    EXPECT_EMPTY();
}

TEST(GS_28_stop_without_terminate_exits_with_the_reason)
{
    run_root(gs28_root, NULL);
}

/* ---- GS-29: whereis -------------------------------------------------------------------------- */

/* GS-29: a server named locally is found by arbor_whereis (and introspection
 * shows the name and the behaviour); an unknown name gives ARBOR_NOPID
 * (OTP's nil / undefined). Only local names exist: no global, via or
 * {name, node} forms to test. */
static void gs29_root(void *arg)
{
    srv_arg_t a = {.mode = INIT_OK};
    arbor_pid_t pid = start_ok(&test_server, &a, &(arbor_gs_opts_t){.name = "gs29_server"});
    ASSERT_U64_EQ(arbor_whereis("gs29_server"), pid);
    ASSERT_U64_EQ(arbor_whereis("gs29_unknown"), ARBOR_NOPID);
    arbor_process_info_t info;
    ASSERT_OK(arbor_process_info(pid, &info));
    ASSERT_STREQ(info.name, "gs29_server");
    ASSERT_STREQ(info.label, "test_server");
    stop_normal(pid);
    ASSERT_U64_EQ(arbor_whereis("gs29_server"), ARBOR_NOPID);
}

TEST(GS_29_whereis_finds_named_server_and_nopid_for_unknown)
{
    run_root(gs29_root, NULL);
}

/* ---- calls: timeouts, dead servers, deferred replies ----------------------------------------- */

/* A call that times out returns ARBOR_ETIMEDOUT; the server keeps running;
 * the reply it sends afterwards never shows up in the caller's mailbox (the
 * server reports having sent it before the caller looks), and the call left
 * no monitor behind. */
static void call_timeout_root(void *arg)
{
    arbor_pid_t pid = start_default();
    arbor_msg_t *m = NULL;
    uint64_t t0 = arbor_now_ms();
    ASSERT_ERR(arbor_gs_call(pid, REQ_DEFER, NULL, 0, 100, &m, NULL), ARBOR_ETIMEDOUT);
    ASSERT_GE(arbor_now_ms() - t0, 100);
    ASSERT_EQ(my_monitors(), 0);
    arbor_msg_free(EXPECT(TAG_DEFERRED));
    ASSERT_TRUE(arbor_test_alive(pid));
    ASSERT_EQ(get_value(pid), 0);
    int late = 99;
    ASSERT_OK(arbor_gs_cast(pid, CAST_REPLY_LATE, &late, sizeof late));
    arbor_msg_free(EXPECT(TAG_LATE_SENT));
    ASSERT_EQ(get_value(pid), 0); /* nothing the server sent before is still on its way */
    EXPECT_EMPTY();
    stop_normal(pid);
}

TEST(call_timeout_returns_etimedout_server_alive_late_reply_dropped)
{
    run_root(call_timeout_root, NULL);
}

/* A call to a dead server or to ARBOR_NOPID returns ARBOR_ENOPROC. */
static void call_dead_root(void *arg)
{
    arbor_pid_t pid = start_default();
    stop_normal(pid);
    ASSERT_ERR(arbor_gs_call(pid, REQ_GET, NULL, 0, CALL_MS, NULL, NULL), ARBOR_ENOPROC);
    ASSERT_ERR(arbor_gs_call(ARBOR_NOPID, REQ_GET, NULL, 0, CALL_MS, NULL, NULL), ARBOR_ENOPROC);
    ASSERT_EQ(my_monitors(), 0);
    EXPECT_EMPTY();
}

TEST(call_to_dead_server_returns_enoproc)
{
    run_root(call_dead_root, NULL);
}

/* A deferred reply: handle_call hands From to another process and returns
 * noreply; that process's arbor_gs_reply_to() answers the blocked caller. */
static void replier(void *arg)
{
    arbor_msg_t *m = arbor_test_recv_tag(TAG_FROM, ARBOR_INFINITY);
    arbor_from_t from;
    ASSERT_EQ(m->size, sizeof from);
    memcpy(&from, m->data, sizeof from);
    arbor_msg_free(m);
    int v = 77;
    ASSERT_OK(arbor_gs_reply_to(from, &v, sizeof v));
}

static void deferred_other_root(void *arg)
{
    arbor_pid_t pid = start_default();
    arbor_pid_t helper;
    ASSERT_OK(arbor_spawn(replier, NULL, &helper));
    arbor_msg_t *m = NULL;
    ASSERT_OK(arbor_gs_call(pid, REQ_DEFER_TO, &helper, sizeof helper, CALL_MS, &m, NULL));
    ASSERT_EQ(int_of(m), 77);
    ASSERT_U64_EQ(m->from, helper);
    arbor_msg_free(m);
    /* A reply given inside handle_call before it returns noreply. */
    ASSERT_EQ(call_int(pid, REQ_REPLY_EARLY, NULL, 0), 7);
    ASSERT_EQ(get_value(pid), 0);
    stop_normal(pid);
    EXPECT_EMPTY();
}

TEST(deferred_reply_from_another_process_answers_caller)
{
    run_root(deferred_other_root, NULL);
}

/* A deferred reply from the server itself, later (observed on BEAM, 8.2:
 * noreply, then GenServer.reply from a later cast): the caller, a helper
 * process, stays blocked until the cast. */
static void deferred_caller(void *arg)
{
    const arbor_pid_t *pids = arg; /* [0]: the tester, [1]: the server */
    arbor_msg_t *m = NULL;
    int rc = arbor_gs_call(pids[1], REQ_DEFER, NULL, 0, CALL_MS, &m, NULL);
    int v = rc == 0 ? int_of(m) : rc;
    arbor_msg_free(m);
    ASSERT_OK(arbor_send(pids[0], TAG_RESULT, &v, sizeof v));
}

static void deferred_later_root(void *arg)
{
    arbor_pid_t pids[2] = {arbor_self(), start_default()};
    arbor_pid_t caller;
    ASSERT_OK(arbor_spawn(deferred_caller, pids, &caller));
    arbor_msg_free(EXPECT(TAG_DEFERRED));
    EXPECT_NONE(TAG_RESULT);
    int v = 55;
    ASSERT_OK(arbor_gs_cast(pids[1], CAST_REPLY_LATE, &v, sizeof v));
    arbor_msg_t *m = EXPECT(TAG_RESULT);
    ASSERT_EQ(int_of(m), 55);
    arbor_msg_free(m);
    arbor_msg_free(EXPECT(TAG_LATE_SENT));
    stop_normal(pids[1]);
}

TEST(deferred_reply_from_server_later_answers_caller)
{
    run_root(deferred_later_root, NULL);
}

/* ---- continue ---------------------------------------------------------------------------------
 */

/* {ok, S, {continue, A}} from init: handle_continue runs before any
 * message, including one sent to the server during init (OTP continue).
 * A continue may return another; the chain runs first too. Trace: digits
 * are continues, 'i' the message. */
static void init_continue_root(void *arg)
{
    for (int64_t chain = 1; chain <= 3; chain++) {
        srv_arg_t a = {.mode = INIT_CONTINUE, .ms = chain};
        arbor_pid_t pid = start_ok(&test_server, &a, NULL);
        char tr[32], want[32];
        get_trace(pid, tr, sizeof tr);
        snprintf(want, sizeof want, "%si", chain == 1 ? "1" : chain == 2 ? "21" : "321");
        ASSERT_STREQ(tr, want);
        stop_normal(pid);
    }
}

TEST(continue_from_init_runs_before_message_sent_during_init)
{
    run_root(init_continue_root, NULL);
}

/* {reply, R, S, {continue, A}}: the caller gets the reply, and the continue
 * runs before the message the callback queued ('r' call, '1' continue,
 * 'i' message). */
static void call_continue_root(void *arg)
{
    arbor_pid_t pid = start_default();
    uint64_t one = 1;
    ASSERT_EQ(call_int(pid, REQ_CONTINUE, &one, sizeof one), 0);
    char tr[32];
    get_trace(pid, tr, sizeof tr);
    ASSERT_STREQ(tr, "r1i");
    stop_normal(pid);
}

TEST(continue_after_reply_runs_before_next_message)
{
    run_root(call_continue_root, NULL);
}

/* ---- replies ----------------------------------------------------------------------------------
 */

/* A reply built from the callback's own frame reaches the caller intact,
 * small (inside arbor_gs_ret_t), at the inline limit, and large (copied to
 * the server's memory by the constructor), empty too. */
static void big_reply_root(void *arg)
{
    arbor_pid_t pid = start_default();
    const size_t sizes[] = {0, 1, ARBOR_GS_INLINE_REPLY, ARBOR_GS_INLINE_REPLY + 1, 4096};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        arbor_msg_t *m = NULL;
        ASSERT_OK(arbor_gs_call(pid, REQ_BIG, &sizes[k], sizeof sizes[k], CALL_MS, &m, NULL));
        ASSERT_EQ(m->size, sizes[k]);
        const unsigned char *d = m->data;
        for (size_t i = 0; i < sizes[k]; i++)
            ASSERT_EQ(d[i], i % 251);
        arbor_msg_free(m);
    }
    stop_normal(pid);
}

TEST(reply_from_callback_frame_reaches_caller_at_every_size)
{
    run_root(big_reply_root, NULL);
}

/* ---- the API's guards -------------------------------------------------------------------------
 */

static void *start_outside(void *arg)
{
    srv_arg_t a = {.mode = INIT_OK};
    *(int *)arg = arbor_gs_start(&test_server, &a, NULL, NULL, NULL);
    return NULL;
}

static void guards_root(void *arg)
{
    srv_arg_t a = {.tester = arbor_self(), .mode = INIT_OK};
    ASSERT_ERR(arbor_gs_start(NULL, &a, NULL, NULL, NULL), ARBOR_EINVAL);
    arbor_gen_server_t no_init = {.label = "no_init"};
    ASSERT_ERR(arbor_gs_start(&no_init, &a, NULL, NULL, NULL), ARBOR_EINVAL);
    int rc = 0;
    ASSERT_OK(arbor_blocking(start_outside, &rc, NULL));
    ASSERT_ERR(rc, ARBOR_ENOTPROC);
    EXPECT_EMPTY(); /* no init ran */
}

TEST(start_rejects_missing_init_and_callers_outside_processes)
{
    run_root(guards_root, NULL);
}

/* ---- hibernate ------------------------------------------------------------------------ */

/* arbor__proc_table_bytes(): the server reads what its own maps hold. */
#include "../../src/runtime/proc.h"

enum { REQ_MONITOR_MANY = 400, REQ_MONITOR_MANY_HIBERNATE, REQ_TABLE_BYTES };

static void wait_for_go(void *arg)
{
    arbor_msg_free(arbor_test_recv(WAIT_MS));
}

/* Monitors 100 short-lived processes of its own and demonitors them: its
 * monitor table grows past the in-place entry and empties again. */
static void monitor_many(void)
{
    enum { N = 100 };
    arbor_pid_t pids[N];
    arbor_ref_t refs[N];
    for (int i = 0; i < N; i++) {
        ASSERT_OK(arbor_spawn(wait_for_go, NULL, &pids[i]));
        ASSERT_OK(arbor_monitor(pids[i], &refs[i]));
    }
    for (int i = 0; i < N; i++) {
        ASSERT_OK(arbor_demonitor(refs[i], ARBOR_DEMONITOR_FLUSH));
        ASSERT_OK(arbor_send(pids[i], TAG_GO, NULL, 0));
    }
}

static arbor_gs_ret_t hib_call(void **state, const arbor_msg_t *req, arbor_from_t from)
{
    size_t bytes = 0;
    switch (req->tag) {
    case REQ_MONITOR_MANY:
        monitor_many();
        return arbor_gs_reply(&bytes, sizeof bytes);
    case REQ_MONITOR_MANY_HIBERNATE:
        monitor_many();
        return arbor_gs_hibernate(arbor_gs_reply(&bytes, sizeof bytes));
    default:
        bytes = arbor__proc_table_bytes();
        return arbor_gs_reply(&bytes, sizeof bytes);
    }
}

static arbor_gs_ret_t hib_init(void **state, void *arg)
{
    return arbor_gs_ok();
}

static const arbor_gen_server_t hibernating = {
    .label = "Hibernating", .init = hib_init, .handle_call = hib_call};

static size_t call_size(arbor_pid_t server, uint64_t tag)
{
    arbor_msg_t *reply;
    ASSERT_OK(arbor_gs_call(server, tag, NULL, 0, CALL_MS, &reply, NULL));
    size_t v = *(const size_t *)reply->data;
    arbor_msg_free(reply);
    return v;
}

/* OTP: hibernate discards what the process does not need until its next
 * message. An Arbor server holds no stack between messages already; what
 * it gives back are the tables it keeps for reuse once emptied (here its
 * monitor table), which a server that did not hibernate still holds. */
static void hibernate_root(void *arg)
{
    arbor_pid_t server;
    ASSERT_OK(arbor_gs_start(&hibernating, NULL, NULL, &server, NULL));
    size_t base = call_size(server, REQ_TABLE_BYTES);
    call_size(server, REQ_MONITOR_MANY);
    ASSERT_GT(call_size(server, REQ_TABLE_BYTES), base);
    call_size(server, REQ_MONITOR_MANY_HIBERNATE);
    ASSERT_EQ(call_size(server, REQ_TABLE_BYTES), base);
    ASSERT_OK(arbor_gs_stop(server, ARBOR_NORMAL, CALL_MS, NULL));
}

TEST(hibernate_returns_the_servers_emptied_tables)
{
    arbor_test_run(hibernate_root, NULL);
}

/* ---- typed calls ------------------------------------------------------------------- */

typedef struct {
    int a, b;
} sum_req_t;

typedef struct {
    long sum;
    int calls;
} sum_reply_t;

enum { TREQ_SUM = 1, TREQ_INT_REPLY, TREQ_EMPTY, TREQ_DIE };

static arbor_gs_ret_t typed_init(void **state, void *arg)
{
    (void)arg;
    *state = arbor_calloc(1, sizeof(int));
    return arbor_gs_ok();
}

/* TREQ_SUM answers a sum_req_t with a sum_reply_t, and anything else with
 * an empty reply; TREQ_INT_REPLY answers with an int. */
static arbor_gs_ret_t typed_call(void **state, const arbor_msg_t *req, arbor_from_t from)
{
    (void)from;
    int *calls = *state;
    switch (req->tag) {
    case TREQ_SUM: {
        const sum_req_t *r = ARBOR_GS_REQ(req, sum_req_t);
        if (!r)
            return arbor_gs_reply(NULL, 0);
        sum_reply_t out = {.sum = r->a + r->b, .calls = ++*calls};
        return arbor_gs_reply(&out, sizeof out);
    }
    case TREQ_INT_REPLY: {
        int x = 7;
        return arbor_gs_reply(&x, sizeof x);
    }
    case TREQ_DIE:
        return arbor_gs_halt(arbor_error("typed_boom"));
    }
    return arbor_gs_reply(NULL, 0);
}

static const arbor_gen_server_t typed_gs = {
    .label = "typed", .init = typed_init, .handle_call = typed_call};

/* The reply lands in the caller's struct; a reply or request of another
 * size is a clear error, not bytes cast to the wrong type. */
static void typed_call_root(void *arg)
{
    (void)arg;
    arbor_pid_t server;
    ASSERT_OK(arbor_gs_start(&typed_gs, NULL, NULL, &server, NULL));

    sum_req_t req = {2, 3};
    sum_reply_t reply = {0};
    ASSERT_OK(ARBOR_GS_CALL(server, TREQ_SUM, &req, &reply));
    ASSERT_EQ(reply.sum, 5);
    ASSERT_EQ(reply.calls, 1);

    /* The server's ARBOR_GS_REQ refuses a request of another size (it
     * answers empty), and the caller sees the empty reply's size. */
    int not_a_sum_req = 4;
    reply = (sum_reply_t){.sum = -1, .calls = -1};
    ASSERT_ERR(ARBOR_GS_CALL(server, TREQ_SUM, &not_a_sum_req, &reply), ARBOR_EREPLYSIZE);
    ASSERT_ERR(ARBOR_GS_CALL(server, TREQ_INT_REPLY, &req, &reply), ARBOR_EREPLYSIZE);
    ASSERT_EQ(reply.sum, -1); /* left unchanged */
    ASSERT_EQ(reply.calls, -1);
    ASSERT_STREQ(arbor_err_name(ARBOR_EREPLYSIZE), "ARBOR_EREPLYSIZE");

    /* No request and no reply; a reply buffer that is missing. */
    ASSERT_OK(arbor_gs_call_into(server, TREQ_EMPTY, NULL, 0, NULL, 0, CALL_MS, NULL));
    ASSERT_ERR(
        arbor_gs_call_into(server, TREQ_SUM, &req, sizeof req, NULL, sizeof reply, CALL_MS, NULL),
        ARBOR_EINVAL);

    /* The server dies: the reason, as with arbor_gs_call(). */
    arbor_reason_t why = ARBOR_NORMAL;
    ASSERT_ERR(arbor_gs_call_into(server, TREQ_DIE, NULL, 0, &reply, sizeof reply, CALL_MS, &why),
               ARBOR_EEXIT);
    ASSERT_REASON(why, ARBOR_EXIT_ERROR, "typed_boom");
    ASSERT_ERR(ARBOR_GS_CALL(server, TREQ_SUM, &req, &reply), ARBOR_ENOPROC);
}

TEST(typed_call_copies_the_reply_and_checks_its_size)
{
    arbor_test_run(typed_call_root, NULL);
}

/* ---- the module's label and the registered name --------------------------------------- */

static const arbor_gen_server_t labelled_gs = {.label = "Labelled.Module", .init = typed_init};

/* Two names for two things: the module's label is what introspection
 * shows; the name in the start options is what the process is registered
 * under, and the label is not. */
static void label_and_name_root(void *arg)
{
    (void)arg;
    arbor_pid_t pid;
    ASSERT_OK(
        arbor_gs_start(&labelled_gs, NULL, &(arbor_gs_opts_t){.name = "registered"}, &pid, NULL));
    arbor_process_info_t info;
    ASSERT_OK(arbor_process_info(pid, &info));
    ASSERT_STREQ(info.label, "Labelled.Module");
    ASSERT_STREQ(info.name, "registered");
    ASSERT_U64_EQ(arbor_whereis("registered"), pid);
    ASSERT_U64_EQ(arbor_whereis("Labelled.Module"), ARBOR_NOPID);
    ASSERT_OK(arbor_gs_stop(pid, ARBOR_NORMAL, CALL_MS, NULL));
}

TEST(a_servers_label_is_shown_and_its_name_is_registered)
{
    arbor_test_run(label_and_name_root, NULL);
}

/* ---- a call's monitor after its answer --------------------------------------------- */

static unsigned monitored_by(arbor_pid_t pid)
{
    arbor_process_info_t info;
    ASSERT_OK(arbor_process_info(pid, &info));
    return info.monitored_by;
}

static unsigned monitors_of(arbor_pid_t pid)
{
    arbor_process_info_t info;
    ASSERT_OK(arbor_process_info(pid, &info));
    return info.monitors;
}

/* A call answered by handle_call's return leaves no monitor on either
 * side once it returns: the server drops the caller's as it answers
 * (arbor_answer_monitored()), where before it kept it, idle, until the
 * caller's demonitor signal reached it at its next activation; and the
 * server's end, after the answer, sends the caller no DOWN. */
static void answered_root(void *arg)
{
    (void)arg;
    arbor_pid_t self = arbor_self(), pid = start_default();
    unsigned mine = monitors_of(self);
    /* Twice: the first activation also takes in what the start left (the
     * starter's demonitor, which does not wake an idle server). */
    for (int i = 0; i < 2; i++) {
        ASSERT_EQ(call_int(pid, REQ_GET, NULL, 0), 0);
        ASSERT_EQ(monitors_of(self), mine);
    }
    ASSERT_EQ(monitored_by(pid), 0);
    /* A DOWN for the call's monitor, if one were sent, would come before
     * the DOWN of this one (one sender's signals keep their order). */
    arbor_ref_t ref;
    ASSERT_OK(arbor_monitor(pid, &ref));
    ASSERT_OK(arbor_exit_pid(pid, ARBOR_KILL));
    arbor_msg_t *m;
    ASSERT_OK(arbor_receive(arbor_test_scaled_ms(WAIT_MS), &m));
    ASSERT_U64_EQ(m->tag, ARBOR_TAG_DOWN);
    ASSERT_U64_EQ(((arbor_down_msg_t *)m->data)->ref, ref);
    arbor_msg_free(m);
}

TEST(a_call_answered_at_once_leaves_no_monitor_on_either_side)
{
    arbor_test_run(answered_root, NULL);
}

/* ---- state_size: the callbacks' state in the server's own block ----------------------------- */

typedef struct {
    int64_t calls;
    char text[1000];
} sized_state_t;

/* init is given the block, 16-byte aligned, and keeps it as its state. */
static arbor_gs_ret_t sized_init(void **state, void *arg)
{
    sized_state_t *st = *state;
    if (!st || (uintptr_t)st % 16 != 0)
        return arbor_gs_halt(arbor_error("no state block"));
    st->calls = 0;
    memset(st->text, 'x', sizeof st->text);
    return arbor_gs_ok();
}

static arbor_gs_ret_t sized_call(void **state, const arbor_msg_t *req, arbor_from_t from)
{
    sized_state_t *st = *state;
    st->calls++;
    int64_t reply[2] = {st->calls, st->text[sizeof st->text - 1] == 'x'};
    return arbor_gs_reply(reply, sizeof reply);
}

static const arbor_gen_server_t sized_server = {.label = "sized",
                                                .init = sized_init,
                                                .handle_call = sized_call,
                                                .state_size = sizeof(sized_state_t)};

/* Without state_size, init finds *state NULL (the start fails with "no
 * state block"); with it, the state lives as long as the server and is one
 * block with the server's record. */
static void sized_root(void *arg)
{
    (void)arg;
    arbor_pid_t pid;
    arbor_reason_t why;
    ASSERT_OK(arbor_gs_start(&sized_server, NULL, NULL, &pid, &why));
    for (int64_t i = 1; i <= 3; i++) {
        int64_t reply[2];
        ASSERT_OK(arbor_gs_call_into(pid, 1, NULL, 0, reply, sizeof reply, 5000, NULL));
        ASSERT_EQ(reply[0], i);
        ASSERT_EQ(reply[1], 1);
    }
    arbor_process_info_t info;
    ASSERT_OK(arbor_process_info(pid, &info));
    ASSERT_GE(info.heap_bytes, sizeof(sized_state_t));
    ASSERT_OK(arbor_gs_stop(pid, ARBOR_NORMAL, 5000, NULL));
}

TEST(a_state_of_state_size_bytes_is_given_to_init_in_the_servers_block)
{
    arbor_test_run(sized_root, NULL);
}

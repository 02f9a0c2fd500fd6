/*
 * sys for debugging (OTP's sys module): get_state, replace_state, suspend
 * and resume, trace, each on a GenServer and on the supervisors, and the
 * errors of a sys request to a process that cannot answer it.
 *
 * One counter server serves every case: its state is an int (memory of
 * the server), a call REQ_GET answers it, a cast CAST_ADD and a plain
 * message INFO_ADD add their int to it, and format_status writes
 * "value=N". Helpers that must block on a suspended server are processes
 * of their own that tell the tester what they got (TAG_RESULT).
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "test.h"

enum {
    TAG_RESULT = 1, /* data: result_t, what a helper got */
    TAG_TERMINATED, /* the counter's terminate ran */
    REQ_GET = 100,  /* reply: the int */
    CAST_ADD = 200, /* data: int */
    INFO_ADD = 300, /* data: int */
};

#define WAIT_MS 5000
/* A call's timeout: a bound on slowness, scaled like WAIT_MS (which the
 * receive helpers scale themselves). */
#define CALL_MS arbor_test_scaled_ms(WAIT_MS)

typedef struct {
    int rc;
    int value;
} result_t;

typedef struct {
    arbor_pid_t tester;
    int value;
} counter_t;

static arbor_gs_ret_t counter_init(void **state, void *arg)
{
    counter_t *c = arbor_alloc(sizeof *c);
    *c = (counter_t){.tester = *(arbor_pid_t *)arg};
    *state = c;
    return arbor_gs_ok();
}

static arbor_gs_ret_t counter_call(void **state, const arbor_msg_t *req, arbor_from_t from)
{
    (void)from;
    counter_t *c = *state;
    (void)req;
    return arbor_gs_reply(&c->value, sizeof c->value);
}

static arbor_gs_ret_t counter_cast(void **state, const arbor_msg_t *msg)
{
    const int *n = ARBOR_GS_REQ(msg, int);
    ((counter_t *)*state)->value += n ? *n : 0;
    return arbor_gs_noreply();
}

static arbor_gs_ret_t counter_info(void **state, const arbor_msg_t *msg)
{
    if (msg->tag == INFO_ADD && msg->size == sizeof(int))
        ((counter_t *)*state)->value += *(const int *)msg->data;
    return arbor_gs_noreply();
}

static void counter_terminate(void **state, const arbor_reason_t *reason)
{
    (void)reason;
    arbor_send(((counter_t *)*state)->tester, TAG_TERMINATED, NULL, 0);
}

static void counter_format(void *state, char *buf, size_t size)
{
    snprintf(buf, size, "value=%d", ((counter_t *)state)->value);
}

static const arbor_gen_server_t counter = {.label = "counter",
                                           .init = counter_init,
                                           .handle_call = counter_call,
                                           .handle_cast = counter_cast,
                                           .handle_info = counter_info,
                                           .terminate = counter_terminate,
                                           .format_status = counter_format};

static void run_root(arbor_entry_fn root, void *arg)
{
    ASSERT_REASON(arbor_test_run(root, arg), ARBOR_EXIT_NORMAL, "");
}

static arbor_pid_t start_counter(void)
{
    arbor_pid_t self = arbor_self(), pid;
    ASSERT_OK(arbor_gs_start(&counter, &self, NULL, &pid, NULL));
    return pid;
}

static int get_value(arbor_pid_t pid)
{
    int v = -1;
    ASSERT_OK(arbor_gs_call_into(pid, REQ_GET, NULL, 0, &v, sizeof v, CALL_MS, NULL));
    return v;
}

static void stop(arbor_pid_t pid)
{
    ASSERT_OK(arbor_gs_stop(pid, ARBOR_NORMAL, CALL_MS, NULL));
    arbor_msg_free(arbor_test_recv_tag(TAG_TERMINATED, WAIT_MS));
}

static result_t recv_result(void)
{
    arbor_msg_t *m = arbor_test_recv_tag(TAG_RESULT, WAIT_MS);
    result_t r;
    memcpy(&r, m->data, sizeof r);
    arbor_msg_free(m);
    return r;
}

/* A helper: calls the server (no timeout) and tells the tester. */
typedef struct {
    arbor_pid_t tester, server;
} helper_arg_t;

static void calling_helper(void *arg)
{
    helper_arg_t h = *(helper_arg_t *)arg;
    result_t r = {.value = -1};
    r.rc = arbor_gs_call_into(h.server, REQ_GET, NULL, 0, &r.value, sizeof r.value, ARBOR_INFINITY,
                              NULL);
    arbor_send(h.tester, TAG_RESULT, &r, sizeof r);
}

/* sys:suspend: a cast and a call sent while suspended wait; sys requests
 * are answered meanwhile (the cast not yet handled); after the resume the
 * cast is handled, then the call, in the order they came. */
static void suspend_root(void *arg)
{
    (void)arg;
    arbor_pid_t pid = start_counter();
    ASSERT_OK(arbor_gs_suspend(pid, CALL_MS));
    ASSERT_OK(arbor_gs_suspend(pid, CALL_MS)); /* again: not an error, as in OTP */
    int one = 1;
    ASSERT_OK(arbor_gs_cast(pid, CAST_ADD, &one, sizeof one));
    helper_arg_t h = {arbor_self(), pid};
    arbor_pid_t helper;
    ASSERT_OK(arbor_spawn(calling_helper, &h, &helper));
    arbor_test_no_message(100); /* the call waits */
    char text[64];
    ASSERT_OK(arbor_gs_get_status(pid, text, sizeof text, CALL_MS));
    ASSERT_STREQ(text, "value=0"); /* the cast waits too */
    void *state;
    ASSERT_OK(arbor_gs_get_state(pid, &state, CALL_MS));
    ASSERT_EQ(((counter_t *)state)->value, 0);
    ASSERT_OK(arbor_gs_resume(pid, CALL_MS));
    result_t r = recv_result();
    ASSERT_OK(r.rc);
    ASSERT_EQ(r.value, 1);
    ASSERT_OK(arbor_gs_resume(pid, CALL_MS)); /* a running server: not an error */
    ASSERT_EQ(get_value(pid), 1);
    stop(pid);
}

TEST(sys_suspend_holds_calls_and_casts_until_resume)
{
    run_root(suspend_root, NULL);
}

/* A call with a timeout to a suspended server times out; the server
 * answers it after the resume, and that late reply is dropped. A
 * suspended server still stops when told to (proc_lib:stop is a system
 * request in OTP), running terminate. */
static void suspend_timeout_root(void *arg)
{
    (void)arg;
    arbor_pid_t pid = start_counter();
    ASSERT_OK(arbor_gs_suspend(pid, CALL_MS));
    int v = -1;
    ASSERT_ERR(arbor_gs_call_into(pid, REQ_GET, NULL, 0, &v, sizeof v, 50, NULL), ARBOR_ETIMEDOUT);
    ASSERT_EQ(v, -1);
    ASSERT_OK(arbor_gs_resume(pid, CALL_MS));
    ASSERT_EQ(get_value(pid), 0); /* the timed-out call was answered first */
    arbor_test_no_message(50);    /* and its late reply dropped */
    ASSERT_EQ(arbor_test_mailbox_len(), 0);
    ASSERT_OK(arbor_gs_suspend(pid, CALL_MS));
    stop(pid);
}

TEST(sys_call_to_suspended_server_times_out_and_late_reply_is_dropped)
{
    run_root(suspend_timeout_root, NULL);
}

/* The parent of a trapping server: starts it linked, hands its pid to
 * the tester, and exits with shutdown when told. */
static void parent_proc(void *arg)
{
    arbor_pid_t tester = *(arbor_pid_t *)arg, pid;
    ASSERT_OK(arbor_gs_start(&counter, &tester, &(arbor_gs_opts_t){.link = true, .trap_exit = true},
                             &pid, NULL));
    ASSERT_OK(arbor_send(tester, TAG_RESULT, &pid, sizeof pid));
    arbor_msg_t *m;
    ASSERT_OK(arbor_receive(ARBOR_INFINITY, &m));
    arbor_msg_free(m);
    arbor_exit(ARBOR_SHUTDOWN);
}

/* A suspended server that traps exits still terminates when its parent
 * exits, as OTP's suspend loop takes the parent's EXIT. */
static void suspend_parent_exit_root(void *arg)
{
    (void)arg;
    arbor_pid_t self = arbor_self(), parent, pid;
    ASSERT_OK(arbor_spawn(parent_proc, &self, &parent));
    arbor_msg_t *m = arbor_test_recv_tag(TAG_RESULT, WAIT_MS);
    memcpy(&pid, m->data, sizeof pid);
    arbor_msg_free(m);
    ASSERT_OK(arbor_gs_suspend(pid, CALL_MS));
    ASSERT_OK(arbor_send(parent, TAG_RESULT, NULL, 0));
    arbor_msg_free(arbor_test_recv_tag(TAG_TERMINATED, WAIT_MS));
    arbor_test_wait_dead(pid, WAIT_MS);
}

TEST(sys_suspended_server_terminates_when_its_parent_exits)
{
    run_root(suspend_parent_exit_root, NULL);
}

static arbor_reason_t set_value(void **state, const void *arg, size_t size)
{
    if (size != sizeof(int))
        return arbor_error("bad argument: %zu bytes", size);
    ((counter_t *)*state)->value = *(const int *)arg;
    return ARBOR_NORMAL;
}

/* Replaces the state with a new block: the pointer itself changes. */
static arbor_reason_t new_block(void **state, const void *arg, size_t size)
{
    (void)arg, (void)size;
    counter_t *c = arbor_alloc(sizeof *c);
    *c = *(counter_t *)*state;
    c->value += 1000;
    arbor_free(*state);
    *state = c;
    return ARBOR_NORMAL;
}

/* Fails after dropping the pointer: the server must keep the one it had. */
static arbor_reason_t drop_and_fail(void **state, const void *arg, size_t size)
{
    (void)arg, (void)size;
    *state = NULL;
    return arbor_error("dropped");
}

/* sys:replace_state: the function runs in the server and the next call
 * sees what it left; it returns the new state; a failing function leaves
 * the state as it was, the server runs on, and the caller gets the error
 * (OTP's callback_failed). sys:get_state: the state pointer. */
static void replace_root(void *arg)
{
    (void)arg;
    arbor_pid_t pid = start_counter();
    void *before, *after;
    ASSERT_OK(arbor_gs_get_state(pid, &before, CALL_MS));
    int seven = 7;
    ASSERT_OK(arbor_gs_replace_state(pid, set_value, &seven, sizeof seven, &after, CALL_MS, NULL));
    ASSERT_PTR_EQ(after, before);
    ASSERT_EQ(get_value(pid), 7);
    ASSERT_OK(arbor_gs_replace_state(pid, new_block, NULL, 0, &after, CALL_MS, NULL));
    void *now;
    ASSERT_OK(arbor_gs_get_state(pid, &now, CALL_MS));
    ASSERT_PTR_EQ(now, after);
    ASSERT_EQ(get_value(pid), 1007);
    arbor_reason_t why;
    ASSERT_ERR(arbor_gs_replace_state(pid, set_value, "x", 1, &now, CALL_MS, &why),
               ARBOR_ECALLBACK);
    ASSERT_REASON(why, ARBOR_EXIT_ERROR, "bad argument: 1 bytes");
    ASSERT_EQ(get_value(pid), 1007);
    ASSERT_ERR(arbor_gs_replace_state(pid, drop_and_fail, NULL, 0, NULL, CALL_MS, NULL),
               ARBOR_ECALLBACK);
    ASSERT_OK(arbor_gs_get_state(pid, &now, CALL_MS));
    ASSERT_PTR_EQ(now, after);
    ASSERT_EQ(get_value(pid), 1007);
    ASSERT_ERR(arbor_gs_replace_state(pid, NULL, NULL, 0, NULL, CALL_MS, NULL), ARBOR_EINVAL);
    ASSERT_ERR(arbor_gs_get_state(pid, NULL, CALL_MS), ARBOR_EINVAL);
    stop(pid);
}

TEST(sys_replace_state_changes_the_state_the_next_call_sees)
{
    run_root(replace_root, NULL);
}

static arbor_gs_trace_event_t recv_event(void)
{
    arbor_msg_t *m = arbor_test_recv_tag(ARBOR_TAG_GS_TRACE, WAIT_MS);
    arbor_gs_trace_event_t ev;
    ASSERT_EQ(m->size, sizeof ev);
    memcpy(&ev, m->data, sizeof ev);
    arbor_msg_free(m);
    return ev;
}

/* sys:trace as events to a process: a call and its reply, a cast and an
 * info each with the state they left, in the order handled; system
 * requests are not traced; off stops it. */
static void trace_to_root(void *arg)
{
    (void)arg;
    arbor_pid_t pid = start_counter(), self = arbor_self();
    ASSERT_OK(arbor_gs_trace_to(pid, self, CALL_MS));
    int two = 2, three = 3;
    ASSERT_OK(arbor_gs_cast(pid, CAST_ADD, &two, sizeof two));
    ASSERT_OK(arbor_send(pid, INFO_ADD, &three, sizeof three));
    ASSERT_EQ(get_value(pid), 5);
    char status[32];
    ASSERT_OK(arbor_gs_get_status(pid, status, sizeof status, CALL_MS));
    char s[32], me[32], line[ARBOR_GS_TRACE_TEXT];
    arbor_pid_format(pid, s, sizeof s);
    arbor_pid_format(self, me, sizeof me);

    arbor_gs_trace_event_t ev = recv_event();
    ASSERT_EQ(ev.kind, ARBOR_GS_TRACE_CAST);
    ASSERT_U64_EQ(ev.tag, CAST_ADD);
    ASSERT_EQ(ev.size, sizeof(int));
    ASSERT_U64_EQ(ev.server, pid);
    ASSERT_U64_EQ(ev.peer, self);
    snprintf(line, sizeof line, "*DBG* %s got cast tag %d (4 bytes) from %s", s, CAST_ADD, me);
    ASSERT_STREQ(ev.text, line);
    ev = recv_event();
    ASSERT_EQ(ev.kind, ARBOR_GS_TRACE_NOREPLY);
    snprintf(line, sizeof line, "*DBG* %s new state value=2", s);
    ASSERT_STREQ(ev.text, line);
    ev = recv_event();
    ASSERT_EQ(ev.kind, ARBOR_GS_TRACE_INFO);
    ASSERT_U64_EQ(ev.tag, INFO_ADD);
    snprintf(line, sizeof line, "*DBG* %s got info tag %d (4 bytes) from %s", s, INFO_ADD, me);
    ASSERT_STREQ(ev.text, line);
    ev = recv_event();
    ASSERT_EQ(ev.kind, ARBOR_GS_TRACE_NOREPLY);
    ev = recv_event();
    ASSERT_EQ(ev.kind, ARBOR_GS_TRACE_CALL);
    ASSERT_U64_EQ(ev.tag, REQ_GET);
    ASSERT_EQ(ev.size, 0);
    ASSERT_U64_EQ(ev.peer, self);
    ev = recv_event();
    ASSERT_EQ(ev.kind, ARBOR_GS_TRACE_REPLY);
    ASSERT_EQ(ev.size, sizeof(int));
    ASSERT_U64_EQ(ev.peer, self);
    snprintf(line, sizeof line, "*DBG* %s sent 4 bytes to %s, new state value=5", s, me);
    ASSERT_STREQ(ev.text, line);
    arbor_test_no_message(50); /* the status request made no event */

    ASSERT_OK(arbor_gs_trace_to(pid, ARBOR_NOPID, CALL_MS));
    ASSERT_EQ(get_value(pid), 5);
    arbor_test_no_message(50);
    stop(pid);
}

TEST(sys_trace_to_sends_call_cast_info_events_in_order)
{
    run_root(trace_to_root, NULL);
}

/* sys:trace/2 prints to stderr, one line per event, in OTP's words. */
static void trace_stderr_root(void *arg)
{
    (void)arg;
    arbor_pid_t pid = start_counter();
    char path[] = "/tmp/arbor-sys-trace-XXXXXX";
    int fd = mkstemp(path);
    ASSERT_TRUE(fd >= 0);
    unlink(path);
    fflush(stderr);
    int saved = dup(2);
    ASSERT_TRUE(dup2(fd, 2) == 2);
    ASSERT_OK(arbor_gs_trace(pid, true, CALL_MS));
    int two = 2;
    ASSERT_OK(arbor_gs_cast(pid, CAST_ADD, &two, sizeof two));
    ASSERT_EQ(get_value(pid), 2);
    ASSERT_OK(arbor_gs_trace(pid, false, CALL_MS)); /* after the last line */
    ASSERT_EQ(get_value(pid), 2);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    char out[1024] = "";
    ssize_t n = pread(fd, out, sizeof out - 1, 0);
    close(fd);
    ASSERT_TRUE(n > 0);
    out[n] = '\0';
    char s[32], me[32], want[1024];
    arbor_pid_format(pid, s, sizeof s);
    arbor_pid_format(arbor_self(), me, sizeof me);
    snprintf(want, sizeof want,
             "*DBG* %s got cast tag %d (4 bytes) from %s\n"
             "*DBG* %s new state value=2\n"
             "*DBG* %s got call tag %d (0 bytes) from %s\n"
             "*DBG* %s sent 4 bytes to %s, new state value=2\n",
             s, CAST_ADD, me, s, s, REQ_GET, me, s, me);
    ASSERT_STREQ(out, want);
    stop(pid);
}

TEST(sys_trace_prints_otp_style_lines_to_stderr)
{
    run_root(trace_stderr_root, NULL);
}

static int counter_child(void *arg, arbor_pid_t *pid, arbor_reason_t *err)
{
    return arbor_gs_start(&counter, arg, &(arbor_gs_opts_t){.link = true}, pid, err);
}

typedef struct {
    arbor_pid_t tester, sup;
} sup_helper_arg_t;

/* Calls which_children and tells the tester how many and the first pid. */
static void which_helper(void *arg)
{
    sup_helper_arg_t h = *(sup_helper_arg_t *)arg;
    arbor_child_info_t *kids = NULL;
    size_t n = 0;
    result_t r = {.rc = arbor_sup_which_children(h.sup, &kids, &n)};
    r.value = (int)n;
    arbor_send(h.tester, TAG_RESULT, &r, sizeof r);
    free(kids);
}

/* sys on a Supervisor: its status is the children summary; suspended, it
 * answers no supervisor call and restarts nothing; resumed, it restarts
 * the child that died meanwhile and answers. get_state gives its private
 * record (non-NULL). A DynamicSupervisor answers too. */
static void sup_root(void *arg)
{
    (void)arg;
    arbor_pid_t self = arbor_self();
    arbor_child_spec_t kids[] = {
        {.id = "a", .start = counter_child, .arg = &self, .arg_size = sizeof self},
        {.id = "b", .start = counter_child, .arg = &self, .arg_size = sizeof self},
    };
    arbor_sup_flags_t flags = ARBOR_SUP_FLAGS_DEFAULT;
    arbor_pid_t sup;
    ASSERT_OK(arbor_sup_start(&flags, kids, 2, NULL, &sup, NULL));
    arbor_child_info_t *list;
    size_t n;
    ASSERT_OK(arbor_sup_which_children(sup, &list, &n));
    ASSERT_EQ(n, 2);
    arbor_pid_t b = list[0].pid, a = list[1].pid; /* newest first */
    free(list);
    char text[ARBOR_GS_STATUS_MAX], want[ARBOR_GS_STATUS_MAX], pa[32], pb[32];
    arbor_pid_format(a, pa, sizeof pa);
    arbor_pid_format(b, pb, sizeof pb);
    snprintf(want, sizeof want,
             "one_for_one, 3 restarts in 5 s, 2 children: a %s running, b %s running", pa, pb);
    ASSERT_OK(arbor_gs_get_status(sup, text, sizeof text, CALL_MS));
    ASSERT_STREQ(text, want);
    void *state = NULL;
    ASSERT_OK(arbor_gs_get_state(sup, &state, CALL_MS));
    ASSERT_TRUE(state != NULL);

    ASSERT_OK(arbor_gs_suspend(sup, CALL_MS));
    ASSERT_OK(arbor_exit_pid(a, ARBOR_KILL));
    arbor_test_wait_dead(a, WAIT_MS);
    sup_helper_arg_t h = {self, sup};
    arbor_pid_t helper;
    ASSERT_OK(arbor_spawn(which_helper, &h, &helper));
    arbor_test_no_message(100); /* no answer while suspended */
    ASSERT_OK(arbor_gs_get_status(sup, text, sizeof text, CALL_MS));
    ASSERT_STREQ(text, want); /* nothing restarted: the EXIT waits */
    ASSERT_OK(arbor_gs_resume(sup, CALL_MS));
    result_t r = recv_result();
    ASSERT_OK(r.rc);
    ASSERT_EQ(r.value, 2);
    ASSERT_OK(arbor_sup_which_children(sup, &list, &n));
    ASSERT_EQ(n, 2);
    ASSERT_TRUE(list[1].pid != a && list[1].status == ARBOR_CHILD_RUNNING);
    free(list);
    ASSERT_OK(arbor_sup_stop(sup, ARBOR_NORMAL));

    arbor_pid_t ds;
    arbor_dynsup_opts_t o = ARBOR_DYNSUP_OPTS_DEFAULT;
    ASSERT_OK(arbor_dynsup_start(&o, &ds, NULL));
    ASSERT_OK(arbor_gs_get_status(ds, text, sizeof text, CALL_MS));
    ASSERT_STREQ(text, "one_for_one, 3 restarts in 5 s, 0 children (0 restarting)");
    ASSERT_OK(arbor_gs_suspend(ds, CALL_MS));
    ASSERT_OK(arbor_gs_resume(ds, CALL_MS));
    ASSERT_OK(arbor_gs_stop(ds, ARBOR_NORMAL, CALL_MS, NULL));
}

TEST(sys_on_a_supervisor_suspends_its_restarts_and_calls)
{
    run_root(sup_root, NULL);
}

static void waiter(void *arg)
{
    (void)arg;
    arbor_msg_t *m;
    arbor_receive(ARBOR_INFINITY, &m);
    arbor_msg_free(m);
}

/* A sys request to a dead process gives ARBOR_ENOPROC, to a process that
 * is not a GenServer ARBOR_EWRONGKIND (OTP's would time out), to oneself
 * ARBOR_ECALLSELF: at once, each of them. */
static void errors_root(void *arg)
{
    (void)arg;
    arbor_pid_t dead = start_counter();
    stop(dead);
    arbor_pid_t plain;
    ASSERT_OK(arbor_spawn(waiter, NULL, &plain));
    const arbor_pid_t pids[] = {dead, plain, arbor_self(), ARBOR_NOPID};
    const int codes[] = {ARBOR_ENOPROC, ARBOR_EWRONGKIND, ARBOR_ECALLSELF, ARBOR_ENOPROC};
    for (size_t i = 0; i < 4; i++) {
        void *state;
        char text[16];
        int one = 1;
        ASSERT_ERR(arbor_gs_get_state(pids[i], &state, ARBOR_INFINITY), codes[i]);
        ASSERT_ERR(arbor_gs_replace_state(pids[i], set_value, &one, sizeof one, NULL,
                                          ARBOR_INFINITY, NULL),
                   codes[i]);
        ASSERT_ERR(arbor_gs_suspend(pids[i], ARBOR_INFINITY), codes[i]);
        ASSERT_ERR(arbor_gs_resume(pids[i], ARBOR_INFINITY), codes[i]);
        ASSERT_ERR(arbor_gs_trace(pids[i], true, ARBOR_INFINITY), codes[i]);
        ASSERT_ERR(arbor_gs_trace_to(pids[i], arbor_self(), ARBOR_INFINITY), codes[i]);
        ASSERT_ERR(arbor_gs_get_status(pids[i], text, sizeof text, ARBOR_INFINITY), codes[i]);
    }
    ASSERT_OK(arbor_send(plain, 1, NULL, 0));
    arbor_test_wait_dead(plain, WAIT_MS);
}

TEST(sys_requests_to_dead_or_non_gen_server_processes_fail_clearly)
{
    run_root(errors_root, NULL);
}

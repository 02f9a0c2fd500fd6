/*
 * Task and Task.Supervisor scenarios ported from Elixir's suites (the TK,
 * TS and PR numbers name them; docs/otp.md section 3) and what the BEAM
 * showed of Task and Task.Supervisor.
 *
 * The task functions tell the test's root process when they run (their
 * pid) and, where a test needs a task to be slow, wait for the root's
 * EV_RELEASE instead of sleeping, so every test knows where each task is.
 * A caller that must die of a task's crash is a helper process the root
 * monitors.
 *
 * Elixir's return shapes map to codes: {:ok, v} -> 0 and the result
 * message; nil -> ARBOR_ETIMEDOUT (yield) or ARBOR_ESHUTDOWN (shutdown);
 * {:exit, reason} and the exits of await -> ARBOR_EEXIT with the reason;
 * ArgumentError for a non-owner -> ARBOR_EACCES.
 */
#include <stdatomic.h>

#include "sup_fixture.h"

enum {
    EV_TASK_READY = 300, /* a task function started: its pid */
    EV_RELEASE,          /* to a task: finish now */
    EV_CALLER_DONE,      /* a helper caller got past the call it made */
    EV_CHECKED,          /* TK-04's results */
    EV_ORDER,            /* async_stream: the order the tasks finished in */
};

/* Runs root as the root process of a fresh runtime; the root must end
 * normally: one killed early (by a link, say) would skip the rest of its
 * checks. */
static void run_root(arbor_entry_fn root, void *arg)
{
    ASSERT_REASON(arbor_test_run(root, arg), ARBOR_EXIT_NORMAL, "");
}

/* ---- task functions -------------------------------------------------------------------------- */

static size_t put_int(void *result, size_t cap, int v)
{
    ASSERT_GE(cap, sizeof v);
    memcpy(result, &v, sizeof v);
    return sizeof v;
}

static int get_int(const arbor_msg_t *m)
{
    ASSERT_EQ(m->size, sizeof(int));
    int v;
    memcpy(&v, m->data, sizeof v);
    return v;
}

/* Doubles *(int *)arg. */
static size_t double_it(void *arg, void *result, size_t cap)
{
    return put_int(result, cap, *(int *)arg * 2);
}

static void announce(arbor_pid_t log)
{
    arbor_pid_t self = arbor_self();
    arbor_send(log, EV_TASK_READY, &self, sizeof self);
}

static bool is_release(const arbor_msg_t *m, void *arg)
{
    (void)arg;
    return m->tag == EV_RELEASE;
}

static void wait_release(void)
{
    arbor_msg_t *m;
    arbor_receive_match(is_release, NULL, ARBOR_INFINITY, &m);
    arbor_msg_free(m);
}

static _Noreturn void wait_forever(void)
{
    for (;;)
        wait_release();
}

/* A slow task: announces itself to *(arbor_pid_t *)arg, returns 7 once
 * released. */
static size_t gated(void *arg, void *result, size_t cap)
{
    announce(*(arbor_pid_t *)arg);
    wait_release();
    return put_int(result, cap, 7);
}

/* A task that never finishes: announces itself, waits forever. */
static size_t forever(void *arg, void *result, size_t cap)
{
    (void)result;
    (void)cap;
    announce(*(arbor_pid_t *)arg);
    wait_forever();
}

/* Like forever, but traps exits first. */
static size_t forever_trapping(void *arg, void *result, size_t cap)
{
    arbor_trap_exit(true);
    return forever(arg, result, cap);
}

/* Crashes with the reason named by arg. */
static size_t crash(void *arg, void *result, size_t cap)
{
    (void)result;
    (void)cap;
    arbor_exit(arbor_error("%s", (const char *)arg));
}

/* Exits normal without a result. */
static size_t exit_normal(void *arg, void *result, size_t cap)
{
    (void)arg;
    (void)result;
    (void)cap;
    arbor_exit(ARBOR_NORMAL);
}

/* ---- helpers --------------------------------------------------------------------------------- */

static arbor_pid_t recv_pid(uint64_t tag)
{
    arbor_msg_t *m = arbor_test_recv_tag(tag, 5000);
    ASSERT_EQ(m->size, sizeof(arbor_pid_t));
    arbor_pid_t pid = *(arbor_pid_t *)m->data;
    arbor_msg_free(m);
    return pid;
}

static arbor_ref_t monitor(arbor_pid_t pid)
{
    arbor_ref_t ref;
    ASSERT_OK(arbor_monitor(pid, &ref));
    return ref;
}

static bool is_down_of(const arbor_msg_t *m, void *ref)
{
    return m->tag == ARBOR_TAG_DOWN &&
           ((const arbor_down_msg_t *)m->data)->ref == *(arbor_ref_t *)ref;
}

static arbor_reason_t expect_down(arbor_ref_t ref)
{
    arbor_msg_t *m;
    if (arbor_receive_match(is_down_of, &ref, arbor_test_scaled_ms(5000), &m) != 0)
        arbor_test_fail(__FILE__, __LINE__, "no DOWN for monitor %llu", (unsigned long long)ref);
    arbor_reason_t r = ((arbor_down_msg_t *)m->data)->reason;
    arbor_msg_free(m);
    return r;
}

static arbor_process_info_t info_of(arbor_pid_t pid)
{
    arbor_process_info_t info;
    ASSERT_OK(arbor_process_info(pid, &info));
    return info;
}

/* Waits (yielding, not sleeping) until the caller's mailbox holds n
 * messages: for messages sent by the runtime on another process's exit. */
static void wait_mailbox_len(size_t n)
{
    uint64_t end = arbor_now_ms() + (uint64_t)arbor_test_scaled_ms(5000);
    while (arbor_test_mailbox_len() < n) {
        ASSERT_LT(arbor_now_ms(), end);
        arbor_yield();
    }
    ASSERT_EQ(arbor_test_mailbox_len(), n);
}

static bool is_tag(const arbor_msg_t *m, void *tag)
{
    return m->tag == *(uint64_t *)tag;
}

/* No message with tag is queued. */
static void assert_none_queued(uint64_t tag)
{
    arbor_msg_t *m;
    if (arbor_receive_match(is_tag, &tag, 0, &m) == 0)
        arbor_test_fail(__FILE__, __LINE__, "unexpected message with tag %llu",
                        (unsigned long long)tag);
}

static arbor_pid_t start_task_sup(size_t max_children)
{
    arbor_task_sup_opts_t o = ARBOR_TASK_SUP_OPTS_DEFAULT;
    o.max_children = max_children;
    arbor_pid_t sup;
    ASSERT_OK(arbor_task_sup_start(&o, &sup, NULL));
    return sup;
}

static size_t task_children(arbor_pid_t sup, arbor_pid_t *first)
{
    arbor_pid_t *pids;
    size_t n;
    ASSERT_OK(arbor_task_sup_children(sup, &pids, &n));
    if (first)
        *first = n ? pids[0] : ARBOR_NOPID;
    free(pids);
    return n;
}

/* Polls the supervisor until it has n running tasks (for exits it handles
 * without telling anyone). */
static void wait_task_children(arbor_pid_t sup, size_t n)
{
    uint64_t end = arbor_now_ms() + (uint64_t)arbor_test_scaled_ms(5000);
    while (task_children(sup, NULL) != n) {
        ASSERT_LT(arbor_now_ms(), end);
        arbor_yield();
    }
}

/* ---- Task.async / await / yield -------------------------------------------------------------- */

/* 8.7: Task.async + await -> the result; the monitor is gone with it, and
 * a task is awaited once. */
static void async_await_root(void *arg)
{
    (void)arg;
    int x = 1;
    arbor_task_t t;
    ASSERT_OK(arbor_task_async(double_it, &x, &t));
    arbor_msg_t *m = NULL;
    ASSERT_OK(arbor_task_await(&t, ARBOR_TASK_TIMEOUT, &m, NULL));
    ASSERT_EQ(get_int(m), 2);
    arbor_msg_free(m);
    ASSERT_EQ(info_of(arbor_self()).monitors, 0);
    ASSERT_ERR(arbor_task_await(&t, 0, &m, NULL), ARBOR_EINVAL);
    arbor_test_no_message(0);
}

TEST(task_async_await_returns_the_result)
{
    run_root(async_await_root, NULL);
}

/*
 * TK-01: the caller is linked to and monitors the task; it receives the
 * reply ({ref, :done}: a TASK_REPLY through the task's alias) and then the
 * DOWN normal (and, trapping, the EXIT normal of the link).
 */
static void tk01_root(void *arg)
{
    (void)arg;
    arbor_trap_exit(true);
    arbor_pid_t self = arbor_self();
    arbor_task_t t;
    ASSERT_OK(arbor_task_async(gated, &self, &t));
    ASSERT_U64_EQ(recv_pid(EV_TASK_READY), t.pid);
    ASSERT_U64_EQ(t.owner, self);
    arbor_process_info_t ti = info_of(t.pid), me = info_of(self);
    ASSERT_EQ(ti.links, 1);
    ASSERT_EQ(ti.monitored_by, 1);
    ASSERT_EQ(me.links, 1);
    ASSERT_EQ(me.monitors, 1);

    ASSERT_OK(arbor_send(t.pid, EV_RELEASE, NULL, 0));
    arbor_msg_t *m = arbor_test_recv(5000);
    ASSERT_U64_EQ(m->tag, ARBOR_TAG_TASK_REPLY);
    ASSERT_U64_EQ(m->alias, t.alias);
    ASSERT_U64_EQ(m->from, t.pid);
    ASSERT_EQ(get_int(m), 7);
    arbor_msg_free(m);
    bool down = false, exited = false;
    for (int i = 0; i < 2; i++) {
        m = arbor_test_recv(5000);
        if (m->tag == ARBOR_TAG_DOWN) {
            const arbor_down_msg_t *d = m->data;
            ASSERT_U64_EQ(d->ref, t.ref);
            ASSERT_U64_EQ(d->pid, t.pid);
            ASSERT_REASON(d->reason, ARBOR_EXIT_NORMAL, "");
            down = true;
        } else {
            ASSERT_U64_EQ(m->tag, ARBOR_TAG_EXIT);
            const arbor_exit_msg_t *e = m->data;
            ASSERT_U64_EQ(e->from, t.pid);
            ASSERT_REASON(e->reason, ARBOR_EXIT_NORMAL, "");
            exited = true;
        }
        arbor_msg_free(m);
    }
    ASSERT_TRUE(down && exited);
    ASSERT_OK(arbor_unalias(t.alias)); /* read by hand, not awaited */
}

TEST(TK_01_async_links_and_monitors_then_replies_and_goes_down_normal)
{
    run_root(tk01_root, NULL);
}

/* TK-04: await, yield and shutdown from a process that is not the owner
 * are refused (Elixir's ArgumentError), and the task is untouched. */
typedef struct tk04_probe {
    arbor_task_t task;
    arbor_pid_t log;
} tk04_probe_t;

static void tk04_stranger(void *arg)
{
    tk04_probe_t *p = arg;
    arbor_msg_t *m = NULL;
    arbor_reason_t why;
    int rcs[3] = {
        arbor_task_await(&p->task, 0, &m, &why),
        arbor_task_yield(&p->task, 0, &m, &why),
        arbor_task_shutdown(&p->task, ARBOR_BRUTAL_KILL, &m, &why),
    };
    arbor_send(p->log, EV_CHECKED, rcs, sizeof rcs);
}

static void tk04_root(void *arg)
{
    (void)arg;
    arbor_pid_t self = arbor_self();
    tk04_probe_t p = {.log = self};
    ASSERT_OK(arbor_task_async(gated, &self, &p.task));
    recv_pid(EV_TASK_READY);
    arbor_spawn_opts_t o = {.arg_size = sizeof p};
    arbor_pid_t stranger;
    ASSERT_OK(arbor_spawn_opt(tk04_stranger, &p, &o, &stranger, NULL));
    arbor_msg_t *m = arbor_test_recv_tag(EV_CHECKED, 5000);
    const int *rcs = m->data;
    ASSERT_ERR(rcs[0], ARBOR_EACCES);
    ASSERT_ERR(rcs[1], ARBOR_EACCES);
    ASSERT_ERR(rcs[2], ARBOR_EACCES);
    arbor_msg_free(m);
    ASSERT_TRUE(arbor_test_alive(p.task.pid));
    ASSERT_OK(arbor_send(p.task.pid, EV_RELEASE, NULL, 0));
    ASSERT_OK(arbor_task_await(&p.task, ARBOR_TASK_TIMEOUT, &m, NULL));
    ASSERT_EQ(get_int(m), 7);
    arbor_msg_free(m);
}

TEST(TK_04_await_yield_shutdown_from_a_non_owner_are_refused)
{
    run_root(tk04_root, NULL);
}

/*
 * TK-06: yield(task, 0) on a running task -> nil (ARBOR_ETIMEDOUT) and the
 * task stays; a task that exits normal without a result -> {:exit,
 * :normal}; when the reply and the DOWN are both queued, the reply wins and
 * the DOWN is flushed.
 */
static void tk06_root(void *arg)
{
    (void)arg;
    arbor_pid_t self = arbor_self();
    arbor_msg_t *m = NULL;
    arbor_reason_t why;

    arbor_task_t t;
    ASSERT_OK(arbor_task_async(gated, &self, &t));
    recv_pid(EV_TASK_READY);
    ASSERT_ERR(arbor_task_yield(&t, 0, &m, &why), ARBOR_ETIMEDOUT);
    ASSERT_TRUE(arbor_test_alive(t.pid));
    ASSERT_OK(arbor_send(t.pid, EV_RELEASE, NULL, 0));
    ASSERT_OK(arbor_task_yield(&t, ARBOR_TASK_TIMEOUT, &m, &why));
    ASSERT_EQ(get_int(m), 7);
    arbor_msg_free(m);

    ASSERT_OK(arbor_task_async(exit_normal, NULL, &t));
    ASSERT_ERR(arbor_task_yield(&t, ARBOR_TASK_TIMEOUT, &m, &why), ARBOR_EEXIT);
    ASSERT_REASON(why, ARBOR_EXIT_NORMAL, "");

    /* Both queued: wait for the task to be gone (a monitor of our own),
     * then for its reply and DOWN to be in the mailbox. */
    int x = 4;
    ASSERT_OK(arbor_task_async(double_it, &x, &t));
    arbor_reason_t r = expect_down(monitor(t.pid)); /* noproc: it was gone already */
    ASSERT_TRUE(r.kind == ARBOR_EXIT_NORMAL || r.kind == ARBOR_EXIT_NOPROC);
    wait_mailbox_len(2);
    ASSERT_OK(arbor_task_yield(&t, 0, &m, &why));
    ASSERT_EQ(get_int(m), 8);
    arbor_msg_free(m);
    ASSERT_EQ(arbor_test_mailbox_len(), 0);
    arbor_test_no_message(0);
}

TEST(TK_06_yield_timeout_normal_exit_and_reply_before_down)
{
    run_root(tk06_root, NULL);
}

/* 8.7: Task.yield(t, 0) -> nil, then yield again -> {:ok, v}. */
static void yield_twice_root(void *arg)
{
    (void)arg;
    arbor_pid_t self = arbor_self();
    arbor_task_t t;
    arbor_msg_t *m = NULL;
    ASSERT_OK(arbor_task_async(gated, &self, &t));
    recv_pid(EV_TASK_READY);
    ASSERT_ERR(arbor_task_yield(&t, 0, &m, NULL), ARBOR_ETIMEDOUT);
    ASSERT_PTR_EQ(m, NULL);
    ASSERT_OK(arbor_send(t.pid, EV_RELEASE, NULL, 0));
    ASSERT_OK(arbor_task_yield(&t, arbor_test_scaled_ms(5000), &m, NULL));
    ASSERT_EQ(get_int(m), 7);
    arbor_msg_free(m);
}

TEST(task_yield_0_times_out_then_yield_gets_the_result)
{
    run_root(yield_twice_root, NULL);
}

/*
 * 8.7: Task.await(t, 50) caught -> :timeout; no late reply in the mailbox.
 * The task is released after the timeout and finishes (its reply goes to
 * an alias that is no longer active): nothing of it reaches the caller,
 * neither the reply nor the DOWN of the dropped monitor.
 */
static void await_timeout_root(void *arg)
{
    (void)arg;
    arbor_pid_t self = arbor_self();
    arbor_task_t t;
    arbor_msg_t *m = NULL;
    arbor_reason_t why;
    ASSERT_OK(arbor_task_async(gated, &self, &t));
    arbor_pid_t pid = recv_pid(EV_TASK_READY);
    ASSERT_ERR(arbor_task_await(&t, 50, &m, &why), ARBOR_ETIMEDOUT);
    ASSERT_TRUE(arbor_test_alive(pid));
    arbor_ref_t ref = monitor(pid);
    ASSERT_OK(arbor_send(pid, EV_RELEASE, NULL, 0));
    /* The reply, had it been let through, would be queued before this. */
    ASSERT_REASON(expect_down(ref), ARBOR_EXIT_NORMAL, "");
    ASSERT_EQ(arbor_test_mailbox_len(), 0);
    arbor_test_no_message(0);
}

TEST(task_await_timeout_and_the_late_reply_is_never_seen)
{
    run_root(await_timeout_root, NULL);
}

/* 8.7: Task.async crash, caller trapping -> await exits with the task's
 * reason (ARBOR_EEXIT), and the link's EXIT is queued too. */
static void crash_trapping_root(void *arg)
{
    (void)arg;
    arbor_trap_exit(true);
    arbor_task_t t;
    arbor_reason_t why;
    arbor_msg_t *m = NULL;
    ASSERT_OK(arbor_task_async(crash, "boom", &t));
    ASSERT_ERR(arbor_task_await(&t, ARBOR_TASK_TIMEOUT, &m, &why), ARBOR_EEXIT);
    ASSERT_REASON(why, ARBOR_EXIT_ERROR, "boom");
    m = arbor_test_recv_tag(ARBOR_TAG_EXIT, 5000);
    const arbor_exit_msg_t *e = m->data;
    ASSERT_U64_EQ(e->from, t.pid);
    ASSERT_REASON(e->reason, ARBOR_EXIT_ERROR, "boom");
    arbor_msg_free(m);
}

TEST(task_async_crash_with_trapping_caller_await_returns_the_reason)
{
    run_root(crash_trapping_root, NULL);
}

/* 8.7: Task.async crash, caller not trapping -> the caller dies with the
 * task's reason; its await never returns. */
static void crashing_caller(void *arg)
{
    arbor_task_t t;
    ASSERT_OK(arbor_task_async(crash, "boom", &t));
    arbor_task_await(&t, ARBOR_TASK_TIMEOUT, NULL, NULL);
    arbor_send(*(arbor_pid_t *)arg, EV_CALLER_DONE, NULL, 0);
}

static void crash_caller_dies_root(void *arg)
{
    (void)arg;
    arbor_pid_t self = arbor_self(), caller;
    arbor_ref_t ref;
    ASSERT_OK(arbor_spawn_monitor(crashing_caller, &self, &caller, &ref));
    ASSERT_REASON(expect_down(ref), ARBOR_EXIT_ERROR, "boom");
    assert_none_queued(EV_CALLER_DONE);
}

TEST(task_async_crash_kills_a_non_trapping_caller)
{
    run_root(crash_caller_dies_root, NULL);
}

/*
 * 8.7: Task.yield(t, 10) || Task.shutdown(t) on a slow task -> nil: yield
 * times out, shutdown returns ARBOR_ESHUTDOWN (the task was shut down), and
 * the task is dead when it returns.
 */
static void yield_or_shutdown_root(void *arg)
{
    (void)arg;
    arbor_pid_t self = arbor_self();
    arbor_task_t t;
    arbor_msg_t *m = NULL;
    arbor_reason_t why = ARBOR_NORMAL;
    ASSERT_OK(arbor_task_async(forever, &self, &t));
    arbor_pid_t pid = recv_pid(EV_TASK_READY);
    arbor_ref_t ref = monitor(pid);
    ASSERT_ERR(arbor_task_yield(&t, 10, &m, &why), ARBOR_ETIMEDOUT);
    ASSERT_ERR(arbor_task_shutdown(&t, ARBOR_TASK_TIMEOUT, &m, &why), ARBOR_ESHUTDOWN);
    ASSERT_FALSE(arbor_test_alive(pid));
    ASSERT_REASON(expect_down(ref), ARBOR_EXIT_SHUTDOWN, "");
    ASSERT_EQ(arbor_test_mailbox_len(), 0);
}

TEST(task_yield_or_shutdown_on_a_slow_task_shuts_it_down)
{
    run_root(yield_or_shutdown_root, NULL);
}

/*
 * 5.1: Task.shutdown of a task that had already crashed -> {:exit, reason}
 * (ARBOR_EEXIT). The owner traps exits, so the crash also queued an EXIT
 * through the link: shutdown takes it along with the DOWN, and nothing of
 * the task is left in the mailbox.
 */
static void shutdown_crashed_root(void *arg)
{
    (void)arg;
    arbor_trap_exit(true);
    arbor_task_t t;
    arbor_msg_t *m = NULL;
    arbor_reason_t why = ARBOR_NORMAL;
    ASSERT_OK(arbor_task_async(crash, "early", &t));
    arbor_reason_t r = expect_down(monitor(t.pid)); /* noproc: it was gone already */
    ASSERT_TRUE(r.kind == ARBOR_EXIT_ERROR || r.kind == ARBOR_EXIT_NOPROC);
    wait_mailbox_len(2); /* the task's DOWN and EXIT */
    ASSERT_ERR(arbor_task_shutdown(&t, ARBOR_TASK_TIMEOUT, &m, &why), ARBOR_EEXIT);
    ASSERT_REASON(why, ARBOR_EXIT_ERROR, "early");
    ASSERT_EQ(arbor_test_mailbox_len(), 0);
}

TEST(task_shutdown_of_a_crashed_task_returns_its_exit_and_leaves_nothing)
{
    run_root(shutdown_crashed_root, NULL);
}

/*
 * PR-05: a Task.async task that traps exits and waits forever;
 * Task.shutdown(task, :brutal_kill) is an untrappable kill: the task dies
 * killed, shutdown returns nil (ARBOR_ESHUTDOWN), and no DOWN (nor EXIT: the
 * caller traps) is left behind.
 */
static void pr05_root(void *arg)
{
    (void)arg;
    arbor_trap_exit(true);
    arbor_pid_t self = arbor_self();
    arbor_task_t t;
    arbor_msg_t *m = NULL;
    arbor_reason_t why = ARBOR_NORMAL;
    ASSERT_OK(arbor_task_async(forever_trapping, &self, &t));
    arbor_pid_t pid = recv_pid(EV_TASK_READY);
    ASSERT_TRUE(info_of(pid).trap_exit);
    arbor_ref_t ref = monitor(pid);
    ASSERT_ERR(arbor_task_shutdown(&t, ARBOR_BRUTAL_KILL, &m, &why), ARBOR_ESHUTDOWN);
    ASSERT_FALSE(arbor_test_alive(pid));
    ASSERT_REASON(expect_down(ref), ARBOR_EXIT_KILLED, "");
    ASSERT_EQ(arbor_test_mailbox_len(), 0);
    arbor_test_no_message(0);
    ASSERT_EQ(info_of(self).monitors, 0);
}

TEST(PR_05_brutal_shutdown_kills_a_trapping_task_and_leaves_no_down)
{
    run_root(pr05_root, NULL);
}

/* ---- Task.start_link ------------------------------------------------------------------------- */

/* 8.7: Task.start_link crash kills the (non-trapping) caller with the
 * task's reason; a normal exit does not. */
static void start_link_crash_caller(void *arg)
{
    (void)arg;
    arbor_pid_t task;
    ASSERT_OK(arbor_task_start_link(crash, "tboom", &task));
    wait_forever();
}

static void start_link_normal_caller(void *arg)
{
    int x = 1;
    arbor_pid_t task;
    ASSERT_OK(arbor_task_start_link(double_it, &x, &task));
    arbor_ref_t ref;
    ASSERT_OK(arbor_monitor(task, &ref));
    /* normal, or noproc when it had already finished: either way gone. */
    arbor_reason_t r = expect_down(ref);
    ASSERT_TRUE(r.kind == ARBOR_EXIT_NORMAL || r.kind == ARBOR_EXIT_NOPROC);
    arbor_send(*(arbor_pid_t *)arg, EV_CALLER_DONE, NULL, 0);
}

static void start_link_root(void *arg)
{
    (void)arg;
    arbor_pid_t self = arbor_self(), caller;
    arbor_ref_t ref;
    ASSERT_OK(arbor_spawn_monitor(start_link_crash_caller, NULL, &caller, &ref));
    ASSERT_REASON(expect_down(ref), ARBOR_EXIT_ERROR, "tboom");

    ASSERT_OK(arbor_spawn_monitor(start_link_normal_caller, &self, &caller, &ref));
    arbor_msg_free(arbor_test_recv_tag(EV_CALLER_DONE, 5000));
    ASSERT_REASON(expect_down(ref), ARBOR_EXIT_NORMAL, "");
}

TEST(task_start_link_crash_kills_the_caller_and_a_normal_exit_does_not)
{
    run_root(start_link_root, NULL);
}

/* ---- async_stream ---------------------------------------------------------------------------- */

/*
 * 8.7: async_stream with max_concurrency 4 over items that finish slowest
 * first -> the results in input order. Eight items run in two waves of
 * four; a coordinator process collects each wave's tasks and releases them
 * from the last item to the first, each only after the one before it has
 * exited, so the finishing order is 40, 30, 20, 10, 80, 70, 60, 50. The
 * tasks also count how many run at once: never more than 4.
 */
#define STREAM_ITEMS 8
#define STREAM_WAVE  4

typedef struct stream_item {
    int value;
    arbor_pid_t coordinator;
    atomic_int *running, *most;
} stream_item_t;

typedef struct hello {
    arbor_pid_t pid;
    int value;
} hello_t;

static size_t stream_item(void *arg, void *result, size_t cap)
{
    const stream_item_t *it = arg;
    int now = atomic_fetch_add(it->running, 1) + 1;
    int most = atomic_load(it->most);
    while (now > most && !atomic_compare_exchange_weak(it->most, &most, now))
        ;
    hello_t h = {arbor_self(), it->value};
    arbor_send(it->coordinator, EV_TASK_READY, &h, sizeof h);
    wait_release();
    atomic_fetch_sub(it->running, 1);
    return put_int(result, cap, it->value);
}

typedef struct coordinator_arg {
    arbor_pid_t log;
    size_t others; /* live processes that are not the stream's tasks */
} coordinator_arg_t;

static size_t live_processes(void)
{
    size_t n;
    ASSERT_OK(arbor_processes(NULL, 0, &n));
    return n;
}

static void coordinator(void *arg)
{
    const coordinator_arg_t *c = arg;
    arbor_pid_t log = c->log;
    int order[STREAM_ITEMS], k = 0;
    for (int wave = 0; wave < STREAM_ITEMS / STREAM_WAVE; wave++) {
        hello_t h[STREAM_WAVE];
        for (int i = 0; i < STREAM_WAVE; i++) {
            arbor_msg_t *m = arbor_test_recv_tag(EV_TASK_READY, 5000);
            h[i] = *(hello_t *)m->data;
            arbor_msg_free(m);
        }
        /* The stream waits for the first item of the wave, which is not
         * released yet: it has spawned this wave's tasks and no others. */
        if (wave == 0)
            ASSERT_EQ(live_processes(), c->others + STREAM_WAVE);
        /* Release the highest value first. */
        for (int left = STREAM_WAVE; left > 0; left--) {
            int hi = 0;
            for (int i = 1; i < left; i++)
                if (h[i].value > h[hi].value)
                    hi = i;
            arbor_ref_t ref = monitor(h[hi].pid);
            arbor_send(h[hi].pid, EV_RELEASE, NULL, 0);
            ASSERT_REASON(expect_down(ref), ARBOR_EXIT_NORMAL, "");
            order[k++] = h[hi].value;
            h[hi] = h[left - 1];
        }
    }
    arbor_send(log, EV_ORDER, order, sizeof order);
}

static void stream_order_root(void *arg)
{
    (void)arg;
    arbor_pid_t coord;
    coordinator_arg_t ca = {.log = arbor_self(), .others = live_processes() + 1};
    arbor_spawn_opts_t so = {.arg_size = sizeof ca};
    ASSERT_OK(arbor_spawn_opt(coordinator, &ca, &so, &coord, NULL));
    atomic_int running = 0, most = 0;
    stream_item_t items[STREAM_ITEMS];
    void *args[STREAM_ITEMS];
    for (int i = 0; i < STREAM_ITEMS; i++) {
        items[i] = (stream_item_t){(i + 1) * 10, coord, &running, &most};
        args[i] = &items[i];
    }
    arbor_stream_opts_t o = {.max_concurrency = STREAM_WAVE, .timeout = arbor_test_scaled_ms(5000)};
    arbor_stream_result_t res[STREAM_ITEMS];
    ASSERT_OK(arbor_task_async_stream(stream_item, args, STREAM_ITEMS, &o, res));
    for (int i = 0; i < STREAM_ITEMS; i++) {
        ASSERT_OK(res[i].status);
        ASSERT_EQ(get_int(res[i].value), (i + 1) * 10);
        arbor_msg_free(res[i].value);
    }
    arbor_msg_t *m = arbor_test_recv_tag(EV_ORDER, 5000);
    const int *order = m->data;
    static const int want[STREAM_ITEMS] = {40, 30, 20, 10, 80, 70, 60, 50};
    for (int i = 0; i < STREAM_ITEMS; i++)
        ASSERT_EQ(order[i], want[i]);
    arbor_msg_free(m);
    ASSERT_EQ(atomic_load(&most), STREAM_WAVE);
    arbor_test_no_message(0);
}

TEST(task_async_stream_returns_results_in_input_order)
{
    run_root(stream_order_root, NULL);
}

/*
 * 8.7: async_stream with timeout 100 and on_timeout: :kill_task -> [ok: 10,
 * exit: :timeout, ok: 30]: the slow item's status is ARBOR_ETIMEDOUT
 * (reason timeout), the others are ok, the slow task is dead, and the
 * stream itself succeeds.
 */
static size_t fast_or_slow(void *arg, void *result, size_t cap)
{
    stream_item_t *it = arg;
    if (it->value == 0)
        return forever(&it->coordinator, result, cap);
    return put_int(result, cap, it->value);
}

static void stream_timeout_root(void *arg)
{
    arbor_on_timeout_t on_timeout = *(arbor_on_timeout_t *)arg;
    arbor_pid_t self = arbor_self();
    stream_item_t items[3] = {{.value = 10}, {.value = 0, .coordinator = self}, {.value = 30}};
    void *args[3] = {&items[0], &items[1], &items[2]};
    arbor_stream_opts_t o = {.max_concurrency = 3, .timeout = 100, .on_timeout = on_timeout};
    arbor_stream_result_t res[3];
    memset(res, 0, sizeof res);
    int rc = arbor_task_async_stream(fast_or_slow, args, 3, &o, res);
    ASSERT_OK(res[0].status);
    ASSERT_EQ(get_int(res[0].value), 10);
    arbor_msg_free(res[0].value);
    ASSERT_ERR(res[1].status, ARBOR_ETIMEDOUT);
    ASSERT_PTR_EQ(res[1].value, NULL);
    if (on_timeout == ARBOR_STREAM_KILL_TASK) {
        ASSERT_OK(rc);
        ASSERT_REASON(res[1].reason, ARBOR_EXIT_TIMEOUT, "");
        ASSERT_OK(res[2].status);
        ASSERT_EQ(get_int(res[2].value), 30);
        arbor_msg_free(res[2].value);
    } else {
        /* Elixir's on_timeout: :exit exits the caller; C returns instead. */
        ASSERT_ERR(rc, ARBOR_ETIMEDOUT);
    }
    arbor_pid_t slow = recv_pid(EV_TASK_READY);
    arbor_reason_t r = expect_down(monitor(slow));
    ASSERT_TRUE(r.kind == ARBOR_EXIT_KILLED || r.kind == ARBOR_EXIT_NOPROC);
    /* Nothing of the stream's tasks is left in the mailbox. */
    ASSERT_EQ(arbor_test_mailbox_len(), 0);
    ASSERT_EQ(info_of(self).monitors, 0);
}

TEST(task_async_stream_timeout_kill_task_gives_the_slow_item_a_timeout)
{
    arbor_on_timeout_t t = ARBOR_STREAM_KILL_TASK;
    run_root(stream_timeout_root, &t);
}

TEST(task_async_stream_timeout_exit_stops_the_stream)
{
    arbor_on_timeout_t t = ARBOR_STREAM_EXIT;
    run_root(stream_timeout_root, &t);
}

/* ---- Task.Supervisor ------------------------------------------------------------------------- */

/*
 * TS-01: async_nolink(sup, fun): the task is a child of sup, linked to sup
 * and not to the caller; the caller gets the reply, then DOWN normal. With
 * a brutal_kill shutdown, the supervisor's shutdown gives DOWN killed. The
 * C async_nolink has no shutdown option (its tasks have the default 5000),
 * so the brutal_kill task is started with start_child and monitored by the
 * test; a default task beside it goes down with shutdown.
 */
static void ts01_root(void *arg)
{
    (void)arg;
    arbor_pid_t self = arbor_self();
    arbor_pid_t sup = start_task_sup(0);
    arbor_task_t t;
    ASSERT_OK(arbor_task_sup_async_nolink(sup, gated, &self, &t));
    ASSERT_U64_EQ(recv_pid(EV_TASK_READY), t.pid);
    arbor_pid_t child;
    ASSERT_EQ(task_children(sup, &child), 1);
    ASSERT_U64_EQ(child, t.pid);
    ASSERT_EQ(info_of(t.pid).links, 1); /* the supervisor */
    ASSERT_EQ(info_of(self).links, 0);

    ASSERT_OK(arbor_send(t.pid, EV_RELEASE, NULL, 0));
    arbor_msg_t *m = arbor_test_recv(5000);
    ASSERT_U64_EQ(m->tag, ARBOR_TAG_TASK_REPLY);
    ASSERT_U64_EQ(m->alias, t.alias);
    ASSERT_EQ(get_int(m), 7);
    arbor_msg_free(m);
    m = arbor_test_recv(5000);
    ASSERT_U64_EQ(m->tag, ARBOR_TAG_DOWN);
    const arbor_down_msg_t *d = m->data;
    ASSERT_U64_EQ(d->ref, t.ref);
    ASSERT_U64_EQ(d->pid, t.pid);
    ASSERT_REASON(d->reason, ARBOR_EXIT_NORMAL, "");
    arbor_msg_free(m);
    ASSERT_OK(arbor_unalias(t.alias)); /* read by hand, not awaited */

    arbor_task_child_opts_t brutal = {.restart = ARBOR_TEMPORARY, .shutdown = ARBOR_BRUTAL_KILL};
    arbor_pid_t a, b;
    ASSERT_OK(arbor_task_sup_start_child(sup, forever_trapping, &self, &brutal, &a));
    ASSERT_U64_EQ(recv_pid(EV_TASK_READY), a);
    ASSERT_OK(arbor_task_sup_start_child(sup, forever, &self, NULL, &b));
    ASSERT_U64_EQ(recv_pid(EV_TASK_READY), b);
    arbor_ref_t ra = monitor(a), rb = monitor(b);
    ASSERT_OK(arbor_dynsup_stop(sup, ARBOR_SHUTDOWN));
    ASSERT_REASON(expect_down(ra), ARBOR_EXIT_KILLED, "");
    ASSERT_REASON(expect_down(rb), ARBOR_EXIT_SHUTDOWN, "");
}

TEST(TS_01_async_nolink_is_a_child_of_the_supervisor_not_linked_to_the_caller)
{
    run_root(ts01_root, NULL);
}

/* 8.7: Task.Supervisor.async_nolink crash -> {:exit, :nl_boom}; the
 * caller (not trapping) lives on. */
static void nolink_crash_root(void *arg)
{
    (void)arg;
    arbor_pid_t sup = start_task_sup(0);
    arbor_task_t t;
    arbor_reason_t why;
    ASSERT_OK(arbor_task_sup_async_nolink(sup, crash, "nl_boom", &t));
    ASSERT_ERR(arbor_task_await(&t, ARBOR_TASK_TIMEOUT, NULL, &why), ARBOR_EEXIT);
    ASSERT_REASON(why, ARBOR_EXIT_ERROR, "nl_boom");
    ASSERT_FALSE(info_of(arbor_self()).trap_exit);
    /* Still alive, and the temporary task is gone from the supervisor. */
    wait_task_children(sup, 0);
    ASSERT_OK(arbor_dynsup_stop(sup, ARBOR_NORMAL));
    arbor_test_no_message(0);
}

TEST(task_sup_async_nolink_crash_leaves_the_caller_alive)
{
    run_root(nolink_crash_root, NULL);
}

/* 8.7: Task.Supervisor.async (linked) crash -> the caller dies with the
 * task's reason; the supervisor lives on. */
typedef struct linked_caller {
    arbor_pid_t sup, log;
} linked_caller_t;

static void linked_caller(void *arg)
{
    linked_caller_t *c = arg;
    arbor_task_t t;
    ASSERT_OK(arbor_task_sup_async(c->sup, crash, "linked_boom", &t));
    arbor_task_await(&t, ARBOR_TASK_TIMEOUT, NULL, NULL);
    arbor_send(c->log, EV_CALLER_DONE, NULL, 0);
}

static void linked_crash_root(void *arg)
{
    (void)arg;
    linked_caller_t c = {.sup = start_task_sup(0), .log = arbor_self()};
    arbor_pid_t caller;
    arbor_ref_t ref;
    ASSERT_OK(arbor_spawn_monitor(linked_caller, &c, &caller, &ref));
    ASSERT_REASON(expect_down(ref), ARBOR_EXIT_ERROR, "linked_boom");
    assert_none_queued(EV_CALLER_DONE);
    ASSERT_TRUE(arbor_test_alive(c.sup));
    wait_task_children(c.sup, 0);
    ASSERT_OK(arbor_dynsup_stop(c.sup, ARBOR_NORMAL));
}

TEST(task_sup_async_crash_kills_the_caller)
{
    run_root(linked_crash_root, NULL);
}

/* Counts its runs, tells the log each one, and ends run n as told. */
typedef enum { END_CRASH, END_NORMAL, END_SHUTDOWN, END_NEVER } ending_t;

typedef struct runs {
    arbor_pid_t log;
    atomic_int count;
    ending_t ending[4]; /* for runs 1..4; later runs end as the last */
} runs_t;

static size_t counted_run(void *arg, void *result, size_t cap)
{
    runs_t *r = arg;
    int n = atomic_fetch_add(&r->count, 1);
    announce(r->log);
    switch (r->ending[n < 4 ? n : 3]) {
    case END_CRASH:
        arbor_exit(arbor_error("x"));
    case END_SHUTDOWN:
        arbor_exit(ARBOR_SHUTDOWN);
    case END_NEVER:
        wait_forever();
    case END_NORMAL:
        break;
    }
    (void)result;
    (void)cap;
    return 0;
}

/* 8.7: Task.Supervisor.start_child default (temporary): a crash is not
 * restarted; the supervisor forgets the task. */
static void start_child_temporary_root(void *arg)
{
    (void)arg;
    arbor_pid_t sup = start_task_sup(0);
    runs_t r = {.log = arbor_self(), .ending = {END_CRASH, END_CRASH, END_CRASH, END_CRASH}};
    arbor_pid_t pid;
    ASSERT_OK(arbor_task_sup_start_child(sup, counted_run, &r, NULL, &pid));
    ASSERT_U64_EQ(recv_pid(EV_TASK_READY), pid);
    /* A restart would happen in the step that handles the exit, so once the
     * task is forgotten it was not restarted. */
    wait_task_children(sup, 0);
    arbor_child_counts_t c;
    ASSERT_OK(arbor_dynsup_count_children(sup, &c));
    ASSERT_EQ(c.specs, 0);
    ASSERT_EQ(atomic_load(&r.count), 1);
    ASSERT_OK(arbor_dynsup_stop(sup, ARBOR_NORMAL));
    assert_none_queued(EV_TASK_READY);
}

TEST(task_sup_start_child_temporary_is_not_restarted_after_a_crash)
{
    run_root(start_child_temporary_root, NULL);
}

/* 8.7: restart: :transient -> restarted after a crash, not after a normal
 * exit. */
static void start_child_transient_root(void *arg)
{
    (void)arg;
    arbor_pid_t sup = start_task_sup(0);
    runs_t r = {.log = arbor_self(), .ending = {END_CRASH, END_NORMAL, END_NEVER, END_NEVER}};
    arbor_task_child_opts_t o = {.restart = ARBOR_TRANSIENT};
    arbor_pid_t pid;
    ASSERT_OK(arbor_task_sup_start_child(sup, counted_run, &r, &o, &pid));
    ASSERT_U64_EQ(recv_pid(EV_TASK_READY), pid);
    arbor_pid_t again = recv_pid(EV_TASK_READY); /* the restart, same fn and arg */
    ASSERT_NE(again, pid);
    wait_task_children(sup, 0);
    arbor_child_counts_t c;
    ASSERT_OK(arbor_dynsup_count_children(sup, &c));
    ASSERT_EQ(c.specs, 0);
    ASSERT_EQ(atomic_load(&r.count), 2);
    ASSERT_OK(arbor_dynsup_stop(sup, ARBOR_NORMAL));
    assert_none_queued(EV_TASK_READY);
}

TEST(task_sup_start_child_transient_restarts_after_a_crash_not_after_normal)
{
    run_root(start_child_transient_root, NULL);
}

/* Back-off (beyond OTP): a transient task that crashes 3 times with
 * backoff_ms 50 is retried after at least 50, 100 and 200 ms (the delay
 * doubles; the random factor is in [0.5, 1.5), so the lower bounds are
 * 25, 50 and 100 ms); the 4th run ends normally and the task is
 * forgotten. */
static void start_child_backoff_root(void *arg)
{
    (void)arg;
    arbor_pid_t sup = start_task_sup(0);
    runs_t r = {.log = arbor_self(), .ending = {END_CRASH, END_CRASH, END_CRASH, END_NORMAL}};
    arbor_task_child_opts_t o = {.restart = ARBOR_TRANSIENT, .backoff_ms = 50};
    arbor_pid_t pid;
    uint64_t t0 = arbor_now_ms();
    ASSERT_OK(arbor_task_sup_start_child(sup, counted_run, &r, &o, &pid));
    uint64_t at[4];
    for (int i = 0; i < 4; i++) {
        recv_pid(EV_TASK_READY);
        at[i] = arbor_now_ms() - t0;
    }
    ASSERT_GE(at[1] - at[0], 25);
    ASSERT_GE(at[2] - at[1], 50);
    ASSERT_GE(at[3] - at[2], 100);
    wait_task_children(sup, 0);
    ASSERT_EQ(atomic_load(&r.count), 4);
    ASSERT_TRUE(arbor_test_alive(sup));
    ASSERT_OK(arbor_dynsup_stop(sup, ARBOR_NORMAL));
    assert_none_queued(EV_TASK_READY);
}

TEST(task_sup_start_child_backoff_spaces_the_retries_of_a_failing_task)
{
    run_root(start_child_backoff_root, NULL);
}

/* 5.2: restart: :permanent -> restarted always, even after normal and
 * shutdown exits. */
static void start_child_permanent_root(void *arg)
{
    (void)arg;
    arbor_pid_t sup = start_task_sup(0);
    runs_t r = {.log = arbor_self(), .ending = {END_NORMAL, END_SHUTDOWN, END_NEVER, END_NEVER}};
    arbor_task_child_opts_t o = {.restart = ARBOR_PERMANENT};
    arbor_pid_t p1, p2, p3;
    ASSERT_OK(arbor_task_sup_start_child(sup, counted_run, &r, &o, &p1));
    ASSERT_U64_EQ(recv_pid(EV_TASK_READY), p1);
    p2 = recv_pid(EV_TASK_READY);
    p3 = recv_pid(EV_TASK_READY);
    ASSERT_TRUE(p1 != p2 && p2 != p3 && p1 != p3);
    arbor_pid_t only;
    ASSERT_EQ(task_children(sup, &only), 1);
    ASSERT_U64_EQ(only, p3);
    ASSERT_EQ(atomic_load(&r.count), 3);
    ASSERT_OK(arbor_dynsup_stop(sup, ARBOR_NORMAL));
    ASSERT_FALSE(arbor_test_alive(p3));
}

TEST(task_sup_start_child_permanent_restarts_even_after_a_normal_exit)
{
    run_root(start_child_permanent_root, NULL);
}

/* 8.7: Task.Supervisor.terminate_child -> :ok, then {:error, :not_found}. */
static void terminate_child_root(void *arg)
{
    (void)arg;
    arbor_pid_t self = arbor_self();
    arbor_pid_t sup = start_task_sup(0), pid;
    ASSERT_OK(arbor_task_sup_start_child(sup, forever, &self, NULL, &pid));
    ASSERT_U64_EQ(recv_pid(EV_TASK_READY), pid);
    arbor_ref_t ref = monitor(pid);
    ASSERT_OK(arbor_task_sup_terminate_child(sup, pid));
    ASSERT_FALSE(arbor_test_alive(pid));
    ASSERT_REASON(expect_down(ref), ARBOR_EXIT_SHUTDOWN, "");
    ASSERT_ERR(arbor_task_sup_terminate_child(sup, pid), ARBOR_ENOENT);
    ASSERT_EQ(task_children(sup, NULL), 0);
    ASSERT_OK(arbor_dynsup_stop(sup, ARBOR_NORMAL));
}

TEST(task_sup_terminate_child_ok_then_not_found)
{
    run_root(terminate_child_root, NULL);
}

/* 5.2: max_children reached -> start_child, async and async_nolink all
 * get ARBOR_EMAXCHILD (Elixir: {:error, :max_children} / RuntimeError);
 * a freed slot can be used again. */
static void max_children_root(void *arg)
{
    (void)arg;
    arbor_pid_t self = arbor_self();
    arbor_pid_t sup = start_task_sup(1), pid, other;
    ASSERT_OK(arbor_task_sup_start_child(sup, forever, &self, NULL, &pid));
    recv_pid(EV_TASK_READY);
    arbor_task_t t;
    ASSERT_ERR(arbor_task_sup_start_child(sup, forever, &self, NULL, &other), ARBOR_EMAXCHILD);
    ASSERT_ERR(arbor_task_sup_async(sup, forever, &self, &t), ARBOR_EMAXCHILD);
    ASSERT_ERR(arbor_task_sup_async_nolink(sup, forever, &self, &t), ARBOR_EMAXCHILD);
    ASSERT_EQ(task_children(sup, NULL), 1);
    ASSERT_OK(arbor_task_sup_terminate_child(sup, pid));
    int x = 5;
    ASSERT_OK(arbor_task_sup_async_nolink(sup, double_it, &x, &t));
    arbor_msg_t *m = NULL;
    ASSERT_OK(arbor_task_await(&t, ARBOR_TASK_TIMEOUT, &m, NULL));
    ASSERT_EQ(get_int(m), 10);
    arbor_msg_free(m);
    ASSERT_OK(arbor_dynsup_stop(sup, ARBOR_NORMAL));
    assert_none_queued(EV_TASK_READY); /* none of the refused tasks ran */
}

TEST(task_sup_max_children_refuses_more_tasks)
{
    run_root(max_children_root, NULL);
}

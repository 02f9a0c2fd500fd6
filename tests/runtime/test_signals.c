/*
 * Exit signals, links and monitors: one case per row of the exit-signal
 * tables of docs/semantics.md (section 1), the link and monitor rules of
 * sections 1.2 and 1.3, and the process-primitive scenarios PR-01, PR-03
 * and PR-04 ported from OTP's and Elixir's suites.
 *
 * Deaths are observed with monitors (ARBOR_TAG_DOWN) and trapped exits
 * (ARBOR_TAG_EXIT). A process under test that must survive relays what it
 * receives to the test's root process, so that the root sees, in order,
 * every message it got; a ping answered afterwards proves it is still alive.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#include "test.h"

enum {
    TAG_READY = 1, /* the process under test is set up */
    TAG_PARTNER,   /* data: the pid of the linked partner */
    TAG_GOT_EXIT,  /* relayed ARBOR_TAG_EXIT; data: arbor_exit_msg_t */
    TAG_GOT_DOWN,  /* relayed ARBOR_TAG_DOWN; data: arbor_down_msg_t */
    TAG_PING,
    TAG_PONG,
    TAG_STOP, /* the relay returns (exits normal) */
    TAG_GO,   /* the waiter exits with reason "boom" */
    TAG_DATA,
};

#define WAIT_MS 5000

static const char *tag_name(uint64_t tag)
{
    static const char *names[] = {"?",    "READY", "PARTNER", "GOT_EXIT", "GOT_DOWN",
                                  "PING", "PONG",  "STOP",    "GO",       "DATA"};
    if (tag == ARBOR_TAG_EXIT)
        return "ARBOR_TAG_EXIT";
    if (tag == ARBOR_TAG_DOWN)
        return "ARBOR_TAG_DOWN";
    return tag < sizeof names / sizeof names[0] ? names[tag] : "unknown";
}

/* The next message, whatever it is, must have this tag. */
#define NEXT(tag) next_msg((tag), __FILE__, __LINE__)
static arbor_msg_t *next_msg(uint64_t tag, const char *file, int line)
{
    arbor_msg_t *m = NULL;
    int64_t ms = arbor_test_scaled_ms(WAIT_MS);
    int rc = arbor_receive(ms, &m);
    if (rc != 0)
        arbor_test_fail(file, line, "expected a %s message within %" PRId64 " ms: %s",
                        tag_name(tag), ms, arbor_err_name(rc));
    if (m->tag != tag)
        arbor_test_fail(file, line, "next message is %s, expected %s", tag_name(m->tag),
                        tag_name(tag));
    return m;
}

#define EXIT_OF(m) ((const arbor_exit_msg_t *)(m)->data)
#define DOWN_OF(m) ((const arbor_down_msg_t *)(m)->data)

/* Waits until pid no longer exists at all (not even as an exiting process). */
#define WAIT_GONE(pid) wait_gone((pid), __FILE__, __LINE__)
static void wait_gone(arbor_pid_t pid, const char *file, int line)
{
    arbor_process_info_t info;
    int64_t ms = arbor_test_scaled_ms(WAIT_MS);
    uint64_t end = arbor_now_ms() + (uint64_t)ms;
    while (arbor_process_info(pid, &info) != ARBOR_ENOPROC) {
        if (arbor_now_ms() > end)
            arbor_test_fail(file, line, "process still exists after %" PRId64 " ms", ms);
        arbor_sleep(1);
    }
}

static unsigned links_of(arbor_pid_t pid)
{
    arbor_process_info_t info;
    ASSERT_OK(arbor_process_info(pid, &info));
    return info.links;
}

/* Runs root as the root process and checks that it ended normally (a root
 * killed by an exit signal it should not have got fails here). */
static void run_root(arbor_entry_fn root, void *arg)
{
    arbor_reason_t r = arbor_test_run(root, arg);
    ASSERT_REASON(r, ARBOR_EXIT_NORMAL, "");
}

/* Relays everything received to parent until TAG_STOP: EXIT and DOWN
 * messages are forwarded, TAG_PING is answered, TAG_GO exits with "boom". */
static void relay_loop(arbor_pid_t parent)
{
    for (;;) {
        arbor_msg_t *m = arbor_test_recv(ARBOR_INFINITY);
        uint64_t tag = m->tag;
        if (tag == ARBOR_TAG_EXIT)
            ASSERT_OK(arbor_send(parent, TAG_GOT_EXIT, m->data, m->size));
        else if (tag == ARBOR_TAG_DOWN)
            ASSERT_OK(arbor_send(parent, TAG_GOT_DOWN, m->data, m->size));
        else if (tag == TAG_PING)
            ASSERT_OK(arbor_send(m->from, TAG_PONG, NULL, 0));
        arbor_msg_free(m);
        if (tag == TAG_STOP)
            return;
        if (tag == TAG_GO)
            arbor_exit(arbor_error("boom"));
    }
}

/* A process that relays to its spawner; arg points at the spawner's pid. */
static void relay_child(void *arg)
{
    relay_loop(*(const arbor_pid_t *)arg);
}

/* Proves pid is alive and has handled everything the caller sent it before:
 * it answers a ping. */
static void expect_alive(arbor_pid_t pid)
{
    ASSERT_OK(arbor_send(pid, TAG_PING, NULL, 0));
    arbor_msg_free(NEXT(TAG_PONG));
    ASSERT_TRUE(arbor_test_alive(pid));
}

/* Stops a relay and waits for its normal exit. */
static void stop_relay(arbor_pid_t pid, arbor_ref_t ref)
{
    ASSERT_OK(arbor_send(pid, TAG_STOP, NULL, 0));
    arbor_msg_t *m = NEXT(ARBOR_TAG_DOWN);
    ASSERT_U64_EQ(DOWN_OF(m)->ref, ref);
    ASSERT_REASON(DOWN_OF(m)->reason, ARBOR_EXIT_NORMAL, "");
    arbor_msg_free(m);
}

/* ---- link signals: partner A ends with a reason, B is linked to it ---------- */

typedef struct link_row {
    bool trap;             /* B traps exits */
    bool partner_killed;   /* A is killed with arbor_exit_pid(A, kill) ... */
    arbor_reason_t sent;   /* ... or ends itself with this reason */
    bool b_dies;           /* expected: B dies with `expect` ... */
    arbor_reason_t expect; /* ... or (trapping) receives EXIT(A, expect) */
    arbor_pid_t parent;
} link_row_t;

static void link_partner(void *arg)
{
    const link_row_t *row = arg;
    if (row->partner_killed)
        for (;;)
            arbor_msg_free(arbor_test_recv(ARBOR_INFINITY)); /* until killed */
    arbor_exit(row->sent);
}

/* B: sets its trap flag, spawns its partner linked (and monitored, to know
 * when the partner's signals have all arrived), then relays. */
static void link_receiver(void *arg)
{
    const link_row_t *row = arg;
    arbor_pid_t parent = row->parent;
    arbor_trap_exit(row->trap);
    arbor_spawn_opts_t o = {.link = true, .monitor = true};
    arbor_pid_t a;
    arbor_ref_t ref;
    ASSERT_OK(arbor_spawn_opt(link_partner, (void *)row, &o, &a, &ref));
    ASSERT_OK(arbor_send(parent, TAG_PARTNER, &a, sizeof a));
    relay_loop(parent);
}

static void link_row_root(void *arg)
{
    link_row_t *row = arg;
    row->parent = arbor_self();
    arbor_pid_t b, a;
    arbor_ref_t ref_b;
    ASSERT_OK(arbor_spawn_monitor(link_receiver, row, &b, &ref_b));
    arbor_msg_t *m = NEXT(TAG_PARTNER);
    memcpy(&a, m->data, sizeof a);
    arbor_msg_free(m);
    if (row->partner_killed)
        ASSERT_OK(arbor_exit_pid(a, ARBOR_KILL));

    if (row->b_dies) {
        /* B dies of the signal before it can relay anything. */
        m = NEXT(ARBOR_TAG_DOWN);
        ASSERT_U64_EQ(DOWN_OF(m)->ref, ref_b);
        ASSERT_U64_EQ(DOWN_OF(m)->pid, b);
        ASSERT_REASON(DOWN_OF(m)->reason, row->expect.kind, row->expect.detail);
        arbor_msg_free(m);
        arbor_test_no_message(0);
        return;
    }
    if (row->trap) {
        m = NEXT(TAG_GOT_EXIT);
        ASSERT_U64_EQ(EXIT_OF(m)->from, a);
        ASSERT_REASON(EXIT_OF(m)->reason, row->expect.kind, row->expect.detail);
        arbor_msg_free(m);
    }
    /* A's DOWN comes after its link signal: by now B has handled that
     * signal, and (when not trapping) got no message from it. */
    m = NEXT(TAG_GOT_DOWN);
    ASSERT_U64_EQ(DOWN_OF(m)->pid, a);
    arbor_reason_t a_reason = row->partner_killed ? ARBOR_KILLED : row->sent;
    ASSERT_REASON(DOWN_OF(m)->reason, a_reason.kind, a_reason.detail);
    arbor_msg_free(m);
    expect_alive(b);
    stop_relay(b, ref_b);
    arbor_test_no_message(0);
}

TEST(link_normal_exit_is_ignored_by_non_trapping_partner)
{
    link_row_t row = {.trap = false, .sent = ARBOR_NORMAL, .b_dies = false};
    run_root(link_row_root, &row);
}

TEST(link_normal_exit_reaches_trapping_partner_as_exit_message)
{
    link_row_t row = {.trap = true, .sent = ARBOR_NORMAL, .expect = ARBOR_NORMAL};
    run_root(link_row_root, &row);
}

TEST(link_shutdown_kills_non_trapping_partner_with_shutdown)
{
    link_row_t row = {.sent = ARBOR_SHUTDOWN, .b_dies = true, .expect = ARBOR_SHUTDOWN};
    run_root(link_row_root, &row);
}

TEST(link_shutdown_reaches_trapping_partner_as_exit_message)
{
    link_row_t row = {.trap = true, .sent = ARBOR_SHUTDOWN, .expect = ARBOR_SHUTDOWN};
    run_root(link_row_root, &row);
}

TEST(link_shutdown_detail_kills_non_trapping_partner_with_same_reason)
{
    link_row_t row = {.sent = arbor_reason(ARBOR_EXIT_SHUTDOWN, "x"),
                      .b_dies = true,
                      .expect = arbor_reason(ARBOR_EXIT_SHUTDOWN, "x")};
    run_root(link_row_root, &row);
}

TEST(link_shutdown_detail_reaches_trapping_partner_as_exit_message)
{
    link_row_t row = {.trap = true,
                      .sent = arbor_reason(ARBOR_EXIT_SHUTDOWN, "x"),
                      .expect = arbor_reason(ARBOR_EXIT_SHUTDOWN, "x")};
    run_root(link_row_root, &row);
}

TEST(link_error_kills_non_trapping_partner_with_same_reason)
{
    link_row_t row = {.sent = arbor_error("boom"), .b_dies = true, .expect = arbor_error("boom")};
    run_root(link_row_root, &row);
}

TEST(link_error_reaches_trapping_partner_as_exit_message)
{
    link_row_t row = {.trap = true, .sent = arbor_error("boom"), .expect = arbor_error("boom")};
    run_root(link_row_root, &row);
}

/* A exit(kill) B no-trap: {dead, kill}: a link signal 'kill' is NOT turned
 * into killed. */
TEST(link_kill_from_partner_exit_kills_non_trapping_partner_with_kill_not_killed)
{
    link_row_t row = {.sent = ARBOR_KILL, .b_dies = true, .expect = ARBOR_KILL};
    run_root(link_row_root, &row);
}

/* A exit(kill) B trap: {alive, {EXIT, A, kill}}: only exit_pid's kill is
 * untrappable. */
TEST(link_kill_from_partner_exit_is_trappable)
{
    link_row_t row = {.trap = true, .sent = ARBOR_KILL, .expect = ARBOR_KILL};
    run_root(link_row_root, &row);
}

TEST(link_killed_propagates_to_non_trapping_partner_as_killed)
{
    link_row_t row = {.partner_killed = true, .b_dies = true, .expect = ARBOR_KILLED};
    run_root(link_row_root, &row);
}

TEST(link_killed_reaches_trapping_partner_as_exit_message)
{
    link_row_t row = {.trap = true, .partner_killed = true, .expect = ARBOR_KILLED};
    run_root(link_row_root, &row);
}

/* ---- exit signals sent with arbor_exit_pid() to a process B ------------------- */

typedef struct exit_pid_row {
    bool trap;             /* B traps exits */
    arbor_reason_t sent;   /* the root calls arbor_exit_pid(B, sent) */
    bool b_dies;           /* expected: B dies with `expect` ... */
    arbor_reason_t expect; /* ... or (trapping) receives EXIT(root, expect) */
    arbor_pid_t parent;
} exit_pid_row_t;

static void exit_pid_target(void *arg)
{
    const exit_pid_row_t *row = arg;
    arbor_pid_t parent = row->parent;
    arbor_trap_exit(row->trap);
    ASSERT_OK(arbor_send(parent, TAG_READY, NULL, 0));
    relay_loop(parent);
}

static void exit_pid_row_root(void *arg)
{
    exit_pid_row_t *row = arg;
    row->parent = arbor_self();
    arbor_pid_t b;
    arbor_ref_t ref_b;
    ASSERT_OK(arbor_spawn_monitor(exit_pid_target, row, &b, &ref_b));
    arbor_msg_free(NEXT(TAG_READY)); /* its trap flag is set */
    ASSERT_OK(arbor_exit_pid(b, row->sent));
    if (row->b_dies) {
        arbor_msg_t *m = NEXT(ARBOR_TAG_DOWN);
        ASSERT_U64_EQ(DOWN_OF(m)->ref, ref_b);
        ASSERT_REASON(DOWN_OF(m)->reason, row->expect.kind, row->expect.detail);
        arbor_msg_free(m);
        arbor_test_no_message(0);
        return;
    }
    /* The ping follows the exit signal from the same sender: the answer
     * comes after B handled the signal. */
    ASSERT_OK(arbor_send(b, TAG_PING, NULL, 0));
    if (row->trap) {
        arbor_msg_t *m = NEXT(TAG_GOT_EXIT);
        ASSERT_U64_EQ(EXIT_OF(m)->from, arbor_self());
        ASSERT_REASON(EXIT_OF(m)->reason, row->expect.kind, row->expect.detail);
        arbor_msg_free(m);
    }
    arbor_msg_free(NEXT(TAG_PONG));
    expect_alive(b);
    stop_relay(b, ref_b);
    arbor_test_no_message(0);
}

/* PR-01 (ExProc "exit(pid, :normal) does not cause the target process to
 * exit"): P answers a ping sent after the signal, and relayed no EXIT. */
TEST(PR_01_exit_pid_normal_does_not_stop_non_trapping_process)
{
    exit_pid_row_t row = {.trap = false, .sent = ARBOR_NORMAL, .b_dies = false};
    run_root(exit_pid_row_root, &row);
}

TEST(exit_pid_normal_reaches_trapping_process_as_exit_message)
{
    exit_pid_row_t row = {.trap = true, .sent = ARBOR_NORMAL, .expect = ARBOR_NORMAL};
    run_root(exit_pid_row_root, &row);
}

TEST(exit_pid_shutdown_kills_non_trapping_process_with_shutdown)
{
    exit_pid_row_t row = {.sent = ARBOR_SHUTDOWN, .b_dies = true, .expect = ARBOR_SHUTDOWN};
    run_root(exit_pid_row_root, &row);
}

TEST(exit_pid_shutdown_reaches_trapping_process_as_exit_message)
{
    exit_pid_row_t row = {.trap = true, .sent = ARBOR_SHUTDOWN, .expect = ARBOR_SHUTDOWN};
    run_root(exit_pid_row_root, &row);
}

TEST(exit_pid_shutdown_detail_kills_non_trapping_process_with_same_reason)
{
    exit_pid_row_t row = {.sent = arbor_reason(ARBOR_EXIT_SHUTDOWN, "x"),
                          .b_dies = true,
                          .expect = arbor_reason(ARBOR_EXIT_SHUTDOWN, "x")};
    run_root(exit_pid_row_root, &row);
}

TEST(exit_pid_shutdown_detail_reaches_trapping_process_as_exit_message)
{
    exit_pid_row_t row = {.trap = true,
                          .sent = arbor_reason(ARBOR_EXIT_SHUTDOWN, "x"),
                          .expect = arbor_reason(ARBOR_EXIT_SHUTDOWN, "x")};
    run_root(exit_pid_row_root, &row);
}

TEST(exit_pid_error_kills_non_trapping_process_with_same_reason)
{
    exit_pid_row_t row = {
        .sent = arbor_error("boom"), .b_dies = true, .expect = arbor_error("boom")};
    run_root(exit_pid_row_root, &row);
}

TEST(exit_pid_error_reaches_trapping_process_as_exit_message)
{
    exit_pid_row_t row = {.trap = true, .sent = arbor_error("boom"), .expect = arbor_error("boom")};
    run_root(exit_pid_row_root, &row);
}

/* PR-03 (SUP terminate/4, kill clause): exit(Child, kill) gives DOWN killed. */
TEST(PR_03_exit_pid_kill_gives_down_killed)
{
    exit_pid_row_t row = {
        .trap = false, .sent = ARBOR_KILL, .b_dies = true, .expect = ARBOR_KILLED};
    run_root(exit_pid_row_root, &row);
}

TEST(exit_pid_kill_is_untrappable_and_trapping_process_dies_killed)
{
    exit_pid_row_t row = {.trap = true, .sent = ARBOR_KILL, .b_dies = true, .expect = ARBOR_KILLED};
    run_root(exit_pid_row_root, &row);
}

/* ---- exit(self(), normal) -------------------------------------------------------- */

static void exit_self_normal_child(void *arg)
{
    arbor_pid_t parent = *(const arbor_pid_t *)arg;
    ASSERT_OK(arbor_exit_pid(arbor_self(), ARBOR_NORMAL));
    /* Not reached when the signal takes effect, as it must. */
    ASSERT_OK(arbor_send(parent, TAG_DATA, "survived", 9));
    arbor_exit(arbor_error("survived exit(self, normal)"));
}

static void exit_self_normal_root(void *arg)
{
    arbor_pid_t self = arbor_self(), pid;
    arbor_ref_t ref;
    ASSERT_OK(arbor_spawn_monitor(exit_self_normal_child, &self, &pid, &ref));
    arbor_msg_t *m = NEXT(ARBOR_TAG_DOWN);
    ASSERT_U64_EQ(DOWN_OF(m)->pid, pid);
    ASSERT_REASON(DOWN_OF(m)->reason, ARBOR_EXIT_NORMAL, "");
    arbor_msg_free(m);
    arbor_test_no_message(0);
}

TEST(exit_pid_self_normal_terminates_non_trapping_caller_with_normal)
{
    run_root(exit_self_normal_root, NULL);
}

static void exit_self_normal_trapping_child(void *arg)
{
    arbor_pid_t parent = *(const arbor_pid_t *)arg;
    arbor_trap_exit(true);
    ASSERT_OK(arbor_exit_pid(arbor_self(), ARBOR_NORMAL));
    arbor_msg_t *m = arbor_test_recv(WAIT_MS);
    ASSERT_U64_EQ(m->tag, ARBOR_TAG_EXIT);
    ASSERT_OK(arbor_send(parent, TAG_GOT_EXIT, m->data, m->size));
    arbor_msg_free(m);
    arbor_exit(arbor_error("went on"));
}

static void exit_self_normal_trapping_root(void *arg)
{
    arbor_pid_t self = arbor_self(), pid;
    arbor_ref_t ref;
    ASSERT_OK(arbor_spawn_monitor(exit_self_normal_trapping_child, &self, &pid, &ref));
    arbor_msg_t *m = NEXT(TAG_GOT_EXIT);
    ASSERT_U64_EQ(EXIT_OF(m)->from, pid);
    ASSERT_REASON(EXIT_OF(m)->reason, ARBOR_EXIT_NORMAL, "");
    arbor_msg_free(m);
    /* It carried on after the signal, to its own exit. */
    m = NEXT(ARBOR_TAG_DOWN);
    ASSERT_REASON(DOWN_OF(m)->reason, ARBOR_EXIT_ERROR, "went on");
    arbor_msg_free(m);
}

TEST(exit_pid_self_normal_is_a_message_when_trapping)
{
    run_root(exit_self_normal_trapping_root, NULL);
}

/* ---- PR-04: a trapping child told to shut down stops with that reason ------------ */

/* Like supervisor_1: traps exits; an EXIT from its parent makes it report
 * (its terminate) and stop with exactly the reason received. */
static void pr04_child(void *arg)
{
    arbor_pid_t parent = *(const arbor_pid_t *)arg;
    arbor_trap_exit(true);
    ASSERT_OK(arbor_send(parent, TAG_READY, NULL, 0));
    for (;;) {
        arbor_msg_t *m = arbor_test_recv(ARBOR_INFINITY);
        if (m->tag == ARBOR_TAG_EXIT && EXIT_OF(m)->from == parent) {
            arbor_reason_t r = EXIT_OF(m)->reason;
            ASSERT_OK(arbor_send(parent, TAG_GOT_EXIT, m->data, m->size));
            arbor_msg_free(m);
            arbor_exit(r);
        }
        arbor_msg_free(m);
    }
}

static void pr04_root(void *arg)
{
    const arbor_reason_t *reason = arg;
    arbor_pid_t self = arbor_self(), pid;
    arbor_ref_t ref;
    ASSERT_OK(arbor_spawn_monitor(pr04_child, &self, &pid, &ref));
    arbor_msg_free(NEXT(TAG_READY));
    ASSERT_OK(arbor_exit_pid(pid, *reason));
    /* It trapped the signal (ran its terminate) ... */
    arbor_msg_t *m = NEXT(TAG_GOT_EXIT);
    ASSERT_REASON(EXIT_OF(m)->reason, reason->kind, reason->detail);
    arbor_msg_free(m);
    /* ... and stopped with exactly that reason. */
    m = NEXT(ARBOR_TAG_DOWN);
    ASSERT_U64_EQ(DOWN_OF(m)->ref, ref);
    ASSERT_U64_EQ(DOWN_OF(m)->pid, pid);
    ASSERT_REASON(DOWN_OF(m)->reason, reason->kind, reason->detail);
    arbor_msg_free(m);
}

TEST(PR_04_trapping_child_exits_with_shutdown_seen_in_down)
{
    arbor_reason_t r = ARBOR_SHUTDOWN;
    run_root(pr04_root, &r);
}

TEST(PR_04_trapping_child_exits_with_shutdown_detail_seen_in_down)
{
    arbor_reason_t r = arbor_reason(ARBOR_EXIT_SHUTDOWN, "x");
    run_root(pr04_root, &r);
}

/* ---- links ------------------------------------------------------------------------ */

static void link_twice_root(void *arg)
{
    arbor_pid_t self = arbor_self(), a;
    arbor_trap_exit(true);
    ASSERT_OK(arbor_spawn(relay_child, &self, &a));
    ASSERT_OK(arbor_link(a));
    ASSERT_OK(arbor_link(a));
    ASSERT_EQ(links_of(self), 1);
    expect_alive(a); /* the ping follows the link requests: A has handled them */
    ASSERT_EQ(links_of(a), 1);
    arbor_ref_t ref;
    ASSERT_OK(arbor_monitor(a, &ref));
    ASSERT_OK(arbor_send(a, TAG_GO, NULL, 0));
    arbor_msg_t *m = arbor_test_recv_tag(ARBOR_TAG_EXIT, WAIT_MS);
    ASSERT_U64_EQ(EXIT_OF(m)->from, a);
    ASSERT_REASON(EXIT_OF(m)->reason, ARBOR_EXIT_ERROR, "boom");
    arbor_msg_free(m);
    m = arbor_test_recv_tag(ARBOR_TAG_DOWN, WAIT_MS);
    ASSERT_REASON(DOWN_OF(m)->reason, ARBOR_EXIT_ERROR, "boom");
    arbor_msg_free(m);
    arbor_test_no_message(50); /* one link, one EXIT */
    ASSERT_EQ(links_of(self), 0);
}

TEST(link_twice_is_a_noop_one_link_one_exit_message)
{
    run_root(link_twice_root, NULL);
}

static void unlink_root(void *arg)
{
    arbor_pid_t self = arbor_self(), a;
    arbor_trap_exit(true);
    ASSERT_OK(arbor_spawn_link(relay_child, &self, &a));
    expect_alive(a);
    ASSERT_EQ(links_of(self), 1);
    ASSERT_EQ(links_of(a), 1);
    ASSERT_OK(arbor_unlink(a));
    ASSERT_EQ(links_of(self), 0);
    expect_alive(a); /* A has handled the unlink */
    ASSERT_EQ(links_of(a), 0);
    ASSERT_OK(arbor_unlink(a)); /* no link: still 0 */
    arbor_ref_t ref;
    ASSERT_OK(arbor_monitor(a, &ref));
    ASSERT_OK(arbor_send(a, TAG_GO, NULL, 0));
    arbor_msg_t *m = NEXT(ARBOR_TAG_DOWN);
    ASSERT_REASON(DOWN_OF(m)->reason, ARBOR_EXIT_ERROR, "boom");
    arbor_msg_free(m);
    arbor_test_no_message(50); /* no EXIT from the removed link */
}

TEST(unlink_removes_link_for_both_sides_and_no_exit_arrives)
{
    run_root(unlink_root, NULL);
}

static void unlinking_partner(void *arg)
{
    arbor_pid_t parent = *(const arbor_pid_t *)arg;
    arbor_msg_free(arbor_test_recv_tag(TAG_GO, ARBOR_INFINITY));
    ASSERT_OK(arbor_unlink(parent));
    arbor_exit(arbor_error("boom"));
}

/* The root does not trap: if the link survived on its side, A's "boom" would
 * kill it and run_root would see that reason. */
static void unlink_by_partner_root(void *arg)
{
    arbor_pid_t self = arbor_self(), a;
    arbor_ref_t ref;
    ASSERT_OK(arbor_spawn_link(unlinking_partner, &self, &a));
    ASSERT_OK(arbor_monitor(a, &ref));
    ASSERT_EQ(links_of(self), 1);
    ASSERT_OK(arbor_send(a, TAG_GO, NULL, 0));
    arbor_msg_t *m = NEXT(ARBOR_TAG_DOWN);
    ASSERT_REASON(DOWN_OF(m)->reason, ARBOR_EXIT_ERROR, "boom");
    arbor_msg_free(m);
    ASSERT_EQ(links_of(self), 0);
    arbor_test_no_message(50);
}

TEST(unlink_by_partner_removes_link_on_this_side_too)
{
    run_root(unlink_by_partner_root, NULL);
}

static void returns_at_once(void *arg) {}

/* A pid whose process has ended and is gone from the process table. */
static arbor_pid_t dead_pid(void)
{
    arbor_pid_t pid;
    arbor_ref_t ref;
    ASSERT_OK(arbor_spawn_monitor(returns_at_once, NULL, &pid, &ref));
    arbor_msg_t *m = NEXT(ARBOR_TAG_DOWN);
    ASSERT_U64_EQ(DOWN_OF(m)->ref, ref);
    arbor_msg_free(m);
    WAIT_GONE(pid);
    return pid;
}

static void link_dead_trapping_root(void *arg)
{
    arbor_trap_exit(true);
    arbor_pid_t pid = dead_pid();
    ASSERT_OK(arbor_link(pid));
    arbor_msg_t *m = NEXT(ARBOR_TAG_EXIT);
    ASSERT_U64_EQ(EXIT_OF(m)->from, pid);
    ASSERT_REASON(EXIT_OF(m)->reason, ARBOR_EXIT_NOPROC, "");
    arbor_msg_free(m);
    ASSERT_EQ(links_of(arbor_self()), 0);
    arbor_test_no_message(0);
}

TEST(link_to_dead_pid_when_trapping_returns_0_and_exit_noproc)
{
    run_root(link_dead_trapping_root, NULL);
}

static void link_dead_root(void *arg)
{
    arbor_pid_t pid = dead_pid();
    ASSERT_ERR(arbor_link(pid), ARBOR_ENOPROC);
    ASSERT_EQ(links_of(arbor_self()), 0);
    arbor_test_no_message(50);
}

TEST(link_to_dead_pid_when_not_trapping_returns_enoproc)
{
    run_root(link_dead_root, NULL);
}

/* ---- spawn_link is atomic -------------------------------------------------------- */

static void boom_at_once(void *arg)
{
    arbor_exit(arbor_error("boom"));
}

static void spawn_link_parent(void *arg)
{
    ASSERT_OK(arbor_spawn_link(boom_at_once, NULL, NULL));
    for (;;)
        arbor_msg_free(arbor_test_recv(ARBOR_INFINITY)); /* until the link kills it */
}

static void spawn_link_non_trapping_root(void *arg)
{
    /* Repeated: a link made after the child ran could miss its exit. */
    for (int i = 0; i < 50; i++) {
        arbor_pid_t pid;
        arbor_ref_t ref;
        ASSERT_OK(arbor_spawn_monitor(spawn_link_parent, NULL, &pid, &ref));
        arbor_msg_t *m = NEXT(ARBOR_TAG_DOWN);
        ASSERT_U64_EQ(DOWN_OF(m)->pid, pid);
        ASSERT_REASON(DOWN_OF(m)->reason, ARBOR_EXIT_ERROR, "boom");
        arbor_msg_free(m);
    }
}

TEST(spawn_link_child_exiting_at_once_kills_non_trapping_parent)
{
    run_root(spawn_link_non_trapping_root, NULL);
}

static void spawn_link_trapping_root(void *arg)
{
    arbor_trap_exit(true);
    for (int i = 0; i < 200; i++) {
        arbor_pid_t pid;
        ASSERT_OK(arbor_spawn_link(boom_at_once, NULL, &pid));
        arbor_msg_t *m = NEXT(ARBOR_TAG_EXIT);
        ASSERT_U64_EQ(EXIT_OF(m)->from, pid);
        /* The real reason, never noproc. */
        ASSERT_REASON(EXIT_OF(m)->reason, ARBOR_EXIT_ERROR, "boom");
        arbor_msg_free(m);
    }
    ASSERT_EQ(links_of(arbor_self()), 0);
}

TEST(spawn_link_child_exiting_at_once_is_seen_by_trapping_parent)
{
    run_root(spawn_link_trapping_root, NULL);
}

/* ---- monitors -------------------------------------------------------------------- */

static void exit_with(void *arg)
{
    arbor_exit(*(const arbor_reason_t *)arg);
}

static void down_reason_root(void *arg)
{
    arbor_reason_t reasons[] = {
        arbor_error("boom %d", 7),
        arbor_reason(ARBOR_EXIT_SHUTDOWN, "x"),
        ARBOR_SHUTDOWN,
        ARBOR_NORMAL,
        ARBOR_KILL,
    };
    for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++) {
        arbor_pid_t pid;
        arbor_ref_t ref;
        ASSERT_OK(arbor_spawn_monitor(exit_with, &reasons[i], &pid, &ref));
        arbor_msg_t *m = NEXT(ARBOR_TAG_DOWN);
        ASSERT_U64_EQ(DOWN_OF(m)->ref, ref);
        ASSERT_U64_EQ(DOWN_OF(m)->pid, pid);
        ASSERT_REASON(DOWN_OF(m)->reason, reasons[i].kind, reasons[i].detail);
        arbor_msg_free(m);
    }
    arbor_process_info_t info;
    ASSERT_OK(arbor_process_info(arbor_self(), &info));
    ASSERT_EQ(info.monitors, 0); /* a fired monitor is gone */
}

TEST(monitor_down_carries_the_exact_exit_reason)
{
    run_root(down_reason_root, NULL);
}

static void several_monitors_root(void *arg)
{
    arbor_pid_t self = arbor_self(), pid;
    arbor_ref_t refs[4];
    ASSERT_OK(arbor_spawn_opt(relay_child, &self, &(arbor_spawn_opts_t){.monitor = true}, &pid,
                              &refs[0]));
    for (int i = 1; i < 4; i++)
        ASSERT_OK(arbor_monitor(pid, &refs[i]));
    for (int i = 0; i < 4; i++)
        for (int j = i + 1; j < 4; j++)
            ASSERT_TRUE(refs[i] != refs[j]);
    arbor_process_info_t info;
    ASSERT_OK(arbor_process_info(self, &info));
    ASSERT_EQ(info.monitors, 4);
    ASSERT_OK(arbor_send(pid, TAG_GO, NULL, 0));
    bool seen[4] = {false};
    for (int n = 0; n < 4; n++) {
        arbor_msg_t *m = NEXT(ARBOR_TAG_DOWN);
        ASSERT_U64_EQ(DOWN_OF(m)->pid, pid);
        ASSERT_REASON(DOWN_OF(m)->reason, ARBOR_EXIT_ERROR, "boom");
        int k = -1;
        for (int i = 0; i < 4; i++)
            if (refs[i] == DOWN_OF(m)->ref)
                k = i;
        ASSERT_GE(k, 0);
        ASSERT_FALSE(seen[k]);
        seen[k] = true;
        arbor_msg_free(m);
    }
    arbor_test_no_message(50);
    ASSERT_OK(arbor_process_info(self, &info));
    ASSERT_EQ(info.monitors, 0);
}

TEST(several_monitors_give_one_down_each)
{
    run_root(several_monitors_root, NULL);
}

static void monitor_dead_root(void *arg)
{
    arbor_pid_t pid = dead_pid();
    arbor_ref_t ref;
    ASSERT_OK(arbor_monitor(pid, &ref));
    arbor_msg_t *m = NEXT(ARBOR_TAG_DOWN);
    ASSERT_U64_EQ(DOWN_OF(m)->ref, ref);
    ASSERT_U64_EQ(DOWN_OF(m)->pid, pid);
    ASSERT_REASON(DOWN_OF(m)->reason, ARBOR_EXIT_NOPROC, "");
    arbor_msg_free(m);
    arbor_test_no_message(0);
}

TEST(monitor_of_dead_pid_gives_immediate_down_noproc)
{
    run_root(monitor_dead_root, NULL);
}

/* arbor_monitor_send(): a monitor and a message in one signal. */
static void monitor_send_root(void *arg)
{
    arbor_pid_t self = arbor_self(), pid;
    ASSERT_OK(arbor_spawn(relay_child, &self, &pid));
    arbor_ref_t ref;
    ASSERT_OK(arbor_monitor_send(pid, TAG_PING, NULL, 0, &ref));
    arbor_msg_t *m = NEXT(TAG_PONG); /* the message arrived... */
    arbor_msg_free(m);
    arbor_process_info_t info;
    ASSERT_OK(arbor_process_info(pid, &info));
    ASSERT_EQ(info.monitored_by, 1); /* ...and the monitor with it */
    ASSERT_OK(arbor_send(pid, TAG_GO, NULL, 0));
    m = NEXT(ARBOR_TAG_DOWN);
    ASSERT_U64_EQ(DOWN_OF(m)->ref, ref);
    ASSERT_U64_EQ(DOWN_OF(m)->pid, pid);
    ASSERT_REASON(DOWN_OF(m)->reason, ARBOR_EXIT_ERROR, "boom");
    arbor_msg_free(m);

    /* A dead pid: the message is dropped, the DOWN says noproc. */
    arbor_pid_t dead = dead_pid();
    ASSERT_OK(arbor_monitor_send(dead, TAG_PING, NULL, 0, &ref));
    m = NEXT(ARBOR_TAG_DOWN);
    ASSERT_U64_EQ(DOWN_OF(m)->ref, ref);
    ASSERT_REASON(DOWN_OF(m)->reason, ARBOR_EXIT_NOPROC, "");
    arbor_msg_free(m);
    arbor_test_no_message(0);

    /* Oneself: the message, and a monitor that never fires. */
    ASSERT_OK(arbor_monitor_send(self, TAG_PING, "x", 2, &ref));
    m = NEXT(TAG_PING);
    ASSERT_U64_EQ(m->from, self);
    ASSERT_STREQ(m->data, "x");
    arbor_msg_free(m);
    ASSERT_OK(arbor_demonitor(ref, 0));

    /* Bad arguments change nothing. */
    ASSERT_ERR(arbor_monitor_send(ARBOR_NOPID, TAG_PING, NULL, 0, &ref), ARBOR_EINVAL);
    ASSERT_ERR(arbor_monitor_send(self, TAG_PING, NULL, 0, NULL), ARBOR_EINVAL);
    ASSERT_ERR(arbor_monitor_send(self, TAG_PING, NULL, 1, &ref), ARBOR_EINVAL);
    ASSERT_ERR(arbor_monitor_send(self, TAG_PING, "x", ARBOR_MSG_MAX + 1, &ref), ARBOR_ETOOBIG);
    ASSERT_OK(arbor_process_info(self, &info));
    ASSERT_EQ(info.monitors, 0);
    arbor_test_no_message(0);
}

TEST(monitor_send_monitors_and_sends_in_one_signal)
{
    run_root(monitor_send_root, NULL);
    ASSERT_ERR(arbor_monitor_send(1, TAG_PING, NULL, 0, &(arbor_ref_t){0}), ARBOR_ENOTPROC);
}

/* arbor_monitor_send_parts(): the message is head's bytes then body's,
 * at every size class of message node (small, mid-sized, malloc'd). */
static void monitor_send_parts_root(void *arg)
{
    arbor_pid_t self = arbor_self();
    static unsigned char body[3000];
    for (size_t i = 0; i < sizeof body; i++)
        body[i] = (unsigned char)(i * 13 + 5);
    const uint64_t head[2] = {0x1122334455667788u, 42};
    const size_t sizes[] = {0, 1, 48, 49, 500, 1008, 1009, 2900};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t n = sizes[i];
        arbor_ref_t ref;
        ASSERT_OK(
            arbor_monitor_send_parts(self, TAG_PING, head, sizeof head, n ? body : NULL, n, &ref));
        arbor_msg_t *m = NEXT(TAG_PING);
        ASSERT_EQ(m->size, sizeof head + n);
        ASSERT_TRUE(memcmp(m->data, head, sizeof head) == 0);
        ASSERT_TRUE(n == 0 || memcmp((const char *)m->data + sizeof head, body, n) == 0);
        arbor_msg_free(m);
        ASSERT_OK(arbor_demonitor(ref, 0));
    }
    /* Bad arguments change nothing: a part with a size and no bytes, and
     * two parts that fit alone but not together. */
    arbor_ref_t ref;
    ASSERT_ERR(arbor_monitor_send_parts(self, TAG_PING, NULL, 1, body, 1, &ref), ARBOR_EINVAL);
    ASSERT_ERR(arbor_monitor_send_parts(self, TAG_PING, head, 1, NULL, 1, &ref), ARBOR_EINVAL);
    ASSERT_ERR(arbor_monitor_send_parts(self, TAG_PING, head, ARBOR_MSG_MAX, body, 1, &ref),
               ARBOR_ETOOBIG);
    ASSERT_ERR(arbor_monitor_send_parts(self, TAG_PING, head, SIZE_MAX, body, 2, &ref),
               ARBOR_ETOOBIG);
    arbor_process_info_t info;
    ASSERT_OK(arbor_process_info(self, &info));
    ASSERT_EQ(info.monitors, 0);
    arbor_test_no_message(0);
}

TEST(monitor_send_parts_joins_head_and_body_in_one_message)
{
    run_root(monitor_send_parts_root, NULL);
}

/* arbor_monitor_exit(): what a supervisor does to stop a child (monitor,
 * unlink, exit) in one signal. The root traps exits, so an EXIT from a
 * link that was not removed would show as a message. */
static void trapping_relay_child(void *arg)
{
    arbor_trap_exit(true);
    ASSERT_OK(arbor_send(*(const arbor_pid_t *)arg, TAG_READY, NULL, 0));
    relay_loop(*(const arbor_pid_t *)arg);
}

/* The next message is the DOWN for ref, with this reason. */
static void expect_down(arbor_ref_t ref, arbor_exit_kind_t kind, const char *detail)
{
    arbor_msg_t *m = NEXT(ARBOR_TAG_DOWN);
    ASSERT_U64_EQ(DOWN_OF(m)->ref, ref);
    ASSERT_REASON(DOWN_OF(m)->reason, kind, detail);
    arbor_msg_free(m);
}

static void monitor_exit_root(void *arg)
{
    arbor_pid_t self = arbor_self(), pid;
    arbor_trap_exit(true);

    /* A linked child that does not trap: it dies with the reason, the DOWN
     * carries it, and no EXIT comes from the link. */
    ASSERT_OK(arbor_spawn_link(relay_child, &self, &pid));
    ASSERT_EQ(links_of(self), 1);
    arbor_ref_t ref;
    ASSERT_OK(arbor_monitor_exit(pid, ARBOR_SHUTDOWN, &ref));
    ASSERT_EQ(links_of(self), 0);
    expect_down(ref, ARBOR_EXIT_SHUTDOWN, "");
    arbor_test_no_message(50);

    /* A linked child that traps: it gets the exit as a message, its side of
     * the link is gone and our monitor is in place; its own end later is
     * the DOWN's reason, and still no EXIT comes. */
    ASSERT_OK(arbor_spawn_link(trapping_relay_child, &self, &pid));
    arbor_msg_free(NEXT(TAG_READY));
    ASSERT_OK(arbor_monitor_exit(pid, arbor_error("stop"), &ref));
    arbor_msg_t *m = NEXT(TAG_GOT_EXIT);
    ASSERT_U64_EQ(EXIT_OF(m)->from, self);
    ASSERT_REASON(EXIT_OF(m)->reason, ARBOR_EXIT_ERROR, "stop");
    arbor_msg_free(m);
    arbor_process_info_t info;
    ASSERT_OK(arbor_process_info(pid, &info));
    ASSERT_EQ(info.links, 0);
    ASSERT_EQ(info.monitored_by, 1);
    ASSERT_OK(arbor_send(pid, TAG_GO, NULL, 0));
    expect_down(ref, ARBOR_EXIT_ERROR, "boom");
    arbor_test_no_message(50);

    /* kill is untrappable: the DOWN says killed. */
    ASSERT_OK(arbor_spawn_link(trapping_relay_child, &self, &pid));
    arbor_msg_free(NEXT(TAG_READY));
    ASSERT_OK(arbor_monitor_exit(pid, ARBOR_KILL, &ref));
    expect_down(ref, ARBOR_EXIT_KILLED, "");
    arbor_test_no_message(50);

    /* Not linked: the same, without a link to remove. */
    ASSERT_OK(arbor_spawn(relay_child, &self, &pid));
    ASSERT_OK(arbor_monitor_exit(pid, ARBOR_SHUTDOWN, &ref));
    expect_down(ref, ARBOR_EXIT_SHUTDOWN, "");

    /* A dead pid: the DOWN says noproc. */
    arbor_pid_t dead = dead_pid();
    ASSERT_OK(arbor_monitor_exit(dead, ARBOR_SHUTDOWN, &ref));
    expect_down(ref, ARBOR_EXIT_NOPROC, "");

    /* Oneself, trapping: the exit arrives as a message; the monitor waits. */
    ASSERT_OK(arbor_monitor_exit(self, ARBOR_SHUTDOWN, &ref));
    m = NEXT(ARBOR_TAG_EXIT);
    ASSERT_U64_EQ(EXIT_OF(m)->from, self);
    ASSERT_REASON(EXIT_OF(m)->reason, ARBOR_EXIT_SHUTDOWN, "");
    arbor_msg_free(m);
    ASSERT_OK(arbor_demonitor(ref, 0));

    /* Bad arguments change nothing. */
    ASSERT_ERR(arbor_monitor_exit(ARBOR_NOPID, ARBOR_SHUTDOWN, &ref), ARBOR_EINVAL);
    ASSERT_ERR(arbor_monitor_exit(self, ARBOR_SHUTDOWN, NULL), ARBOR_EINVAL);
    ASSERT_OK(arbor_process_info(self, &info));
    ASSERT_EQ(info.monitors, 0);
    ASSERT_EQ(info.links, 0);
    arbor_test_no_message(0);
}

TEST(monitor_exit_monitors_unlinks_and_stops_in_one_signal)
{
    run_root(monitor_exit_root, NULL);
    ASSERT_ERR(arbor_monitor_exit(1, ARBOR_SHUTDOWN, &(arbor_ref_t){0}), ARBOR_ENOTPROC);
}

static void demonitor_root(void *arg)
{
    arbor_pid_t self = arbor_self(), pid;
    arbor_ref_t ref1, ref2;
    ASSERT_OK(arbor_spawn_monitor(relay_child, &self, &pid, &ref1));
    ASSERT_OK(arbor_monitor(pid, &ref2));
    ASSERT_OK(arbor_demonitor(ref1, 0));
    ASSERT_ERR(arbor_demonitor(ref1, 0), ARBOR_ENOENT);
    arbor_process_info_t info;
    ASSERT_OK(arbor_process_info(self, &info));
    ASSERT_EQ(info.monitors, 1);
    ASSERT_OK(arbor_send(pid, TAG_GO, NULL, 0));
    /* Only the remaining monitor fires. */
    arbor_msg_t *m = NEXT(ARBOR_TAG_DOWN);
    ASSERT_U64_EQ(DOWN_OF(m)->ref, ref2);
    arbor_msg_free(m);
    arbor_test_no_message(50);
}

TEST(demonitor_stops_the_down_message)
{
    run_root(demonitor_root, NULL);
}

static bool never(const arbor_msg_t *m, void *arg)
{
    return false;
}

static void demonitor_flush_root(void *arg)
{
    arbor_pid_t self = arbor_self(), pid;
    arbor_ref_t ref;
    ASSERT_OK(arbor_send(self, TAG_DATA, "keep", 5));
    ASSERT_OK(arbor_spawn_monitor(returns_at_once, NULL, &pid, &ref));
    /* Wait until the DOWN is in our mailbox, without taking it. */
    uint64_t end = arbor_now_ms() + (uint64_t)arbor_test_scaled_ms(WAIT_MS);
    arbor_msg_t *m;
    for (;;) {
        ASSERT_ERR(arbor_receive_match(never, NULL, 0, &m), ARBOR_ETIMEDOUT);
        if (arbor_test_mailbox_len() == 2)
            break;
        ASSERT_TRUE(arbor_now_ms() < end);
        arbor_sleep(1);
    }
    (void)arbor_demonitor(ref, ARBOR_DEMONITOR_FLUSH);
    ASSERT_EQ(arbor_test_mailbox_len(), 1);
    m = NEXT(TAG_DATA); /* other messages stay */
    ASSERT_STREQ(m->data, "keep");
    arbor_msg_free(m);
    arbor_test_no_message(50);
}

TEST(demonitor_flush_removes_an_already_queued_down)
{
    run_root(demonitor_flush_root, NULL);
}

/* ---- per-pair order -------------------------------------------------------------- */

enum { N_BEFORE = 20 };

static void send_then_die(void *arg)
{
    arbor_pid_t parent = *(const arbor_pid_t *)arg;
    for (int i = 0; i < N_BEFORE; i++)
        ASSERT_OK(arbor_send(parent, TAG_DATA, &i, sizeof i));
    arbor_exit(arbor_error("done"));
}

static void expect_data_in_order(void)
{
    for (int i = 0; i < N_BEFORE; i++) {
        arbor_msg_t *m = NEXT(TAG_DATA);
        ASSERT_EQ(*(int *)m->data, i);
        arbor_msg_free(m);
    }
}

static void order_exit_root(void *arg)
{
    arbor_pid_t self = arbor_self();
    arbor_trap_exit(true);
    for (int round = 0; round < 50; round++) {
        arbor_pid_t pid;
        ASSERT_OK(arbor_spawn_link(send_then_die, &self, &pid));
        expect_data_in_order();
        arbor_msg_t *m = NEXT(ARBOR_TAG_EXIT);
        ASSERT_U64_EQ(EXIT_OF(m)->from, pid);
        ASSERT_REASON(EXIT_OF(m)->reason, ARBOR_EXIT_ERROR, "done");
        arbor_msg_free(m);
    }
}

TEST(messages_sent_before_exit_arrive_before_the_trapped_exit)
{
    run_root(order_exit_root, NULL);
}

static void order_down_root(void *arg)
{
    arbor_pid_t self = arbor_self();
    for (int round = 0; round < 50; round++) {
        arbor_pid_t pid;
        arbor_ref_t ref;
        ASSERT_OK(arbor_spawn_monitor(send_then_die, &self, &pid, &ref));
        expect_data_in_order();
        arbor_msg_t *m = NEXT(ARBOR_TAG_DOWN);
        ASSERT_U64_EQ(DOWN_OF(m)->ref, ref);
        ASSERT_REASON(DOWN_OF(m)->reason, ARBOR_EXIT_ERROR, "done");
        arbor_msg_free(m);
    }
}

TEST(messages_sent_before_exit_arrive_before_the_monitor_down)
{
    run_root(order_down_root, NULL);
}

/* arbor_receive() takes messages from the inbox one at a time, but an exit
 * signal does not wait behind the messages sent before it: Erlang handles a
 * process's incoming signals before its next receive. On one scheduler the
 * receiver runs only once the root waits, and then, without the exit flag,
 * it would take the whole backlog before the exit. */
#define BACKLOG 1000

static _Atomic int backlog_taken;

/* Takes messages with arbor_receive(), counting them, until killed. */
static _Noreturn void count_messages(void)
{
    for (;;) {
        arbor_msg_t *m = arbor_test_recv(ARBOR_INFINITY);
        atomic_fetch_add(&backlog_taken, 1);
        arbor_msg_free(m);
    }
}

/* The receiver's DOWN: stopped with "stop" before it took any message. */
static void expect_stopped_before_any_message(arbor_msg_t *down)
{
    ASSERT_REASON(DOWN_OF(down)->reason, ARBOR_EXIT_ERROR, "stop");
    arbor_msg_free(down);
    ASSERT_EQ(atomic_load(&backlog_taken), 0);
}

/* Runs root on one scheduler, with the count reset. */
static void run_counting(arbor_entry_fn root)
{
    arbor_config_t cfg = {.schedulers = 1};
    atomic_store(&backlog_taken, 0);
    ASSERT_REASON(arbor_test_run_reason(&cfg, root, NULL), ARBOR_EXIT_NORMAL, "");
}

static void backlog_receiver(void *arg)
{
    ASSERT_OK(arbor_send(*(arbor_pid_t *)arg, TAG_READY, NULL, 0));
    count_messages();
}

static void exit_behind_backlog_root(void *arg)
{
    arbor_pid_t self = arbor_self(), pid;
    arbor_ref_t ref;
    ASSERT_OK(arbor_spawn_monitor(backlog_receiver, &self, &pid, &ref));
    arbor_msg_free(NEXT(TAG_READY)); /* it waits in its receive now */
    for (int i = 0; i < BACKLOG; i++)
        ASSERT_OK(arbor_send(pid, TAG_DATA, &i, sizeof i));
    ASSERT_OK(arbor_exit_pid(pid, arbor_reason(ARBOR_EXIT_ERROR, "stop")));
    expect_stopped_before_any_message(NEXT(ARBOR_TAG_DOWN));
}

TEST(an_exit_signal_sent_after_a_backlog_takes_effect_before_it)
{
    run_counting(exit_behind_backlog_root);
}

/* The same for messages a selective receive passed over, already in the
 * private queue: an exit that comes while the receiver works through them
 * takes effect at its next receive. It comes from a thread outside the
 * runtime, since the one scheduler is busy with the receiver. */
static _Atomic int passed_over_ready, exit_sent;

static bool is_go(const arbor_msg_t *m, void *arg)
{
    return m->tag == TAG_GO;
}

static void passed_over_receiver(void *arg)
{
    arbor_msg_t *m;
    ASSERT_OK(arbor_receive_match(is_go, NULL, ARBOR_INFINITY, &m));
    arbor_msg_free(m);
    atomic_store(&passed_over_ready, 1); /* the backlog is in the private queue */
    while (!atomic_load(&exit_sent))
        sched_yield();
    count_messages();
}

static void *exit_when_ready(void *arg)
{
    while (!atomic_load(&passed_over_ready))
        sched_yield();
    ASSERT_OK(arbor_exit_pid(*(arbor_pid_t *)arg, arbor_reason(ARBOR_EXIT_ERROR, "stop")));
    atomic_store(&exit_sent, 1);
    return NULL;
}

static void exit_behind_passed_over_root(void *arg)
{
    arbor_pid_t pid;
    arbor_ref_t ref;
    ASSERT_OK(arbor_spawn_monitor(passed_over_receiver, NULL, &pid, &ref));
    for (int i = 0; i < BACKLOG; i++)
        ASSERT_OK(arbor_send(pid, TAG_DATA, &i, sizeof i));
    ASSERT_OK(arbor_send(pid, TAG_GO, NULL, 0));
    pthread_t killer;
    ASSERT_EQ(pthread_create(&killer, NULL, exit_when_ready, &pid), 0);
    arbor_msg_t *down = NEXT(ARBOR_TAG_DOWN);
    ASSERT_EQ(pthread_join(killer, NULL), 0);
    expect_stopped_before_any_message(down);
}

TEST(an_exit_signal_sent_after_passed_over_messages_takes_effect_before_them)
{
    run_counting(exit_behind_passed_over_root);
}

/* arbor_monitor_by(): the caller makes another process monitor it. */
typedef struct watched_arg {
    arbor_pid_t watcher;
    bool stay; /* after the ref: answer pings with its monitored_by count until TAG_STOP */
} watched_arg_t;

static unsigned monitored_by_of(arbor_pid_t pid)
{
    arbor_process_info_t info;
    ASSERT_OK(arbor_process_info(pid, &info));
    return info.monitored_by;
}

static void watched(void *arg)
{
    const watched_arg_t *a = arg;
    arbor_ref_t ref = 0;
    ASSERT_OK(arbor_monitor_by(a->watcher, &ref));
    ASSERT_NE(ref, 0);
    ASSERT_EQ(monitored_by_of(arbor_self()), 1); /* our side at once */
    ASSERT_OK(arbor_send(a->watcher, TAG_DATA, &ref, sizeof ref));
    for (;;) {
        arbor_msg_t *m = arbor_test_recv(ARBOR_INFINITY);
        uint64_t tag = m->tag;
        arbor_msg_free(m);
        if (tag == TAG_GO)
            arbor_exit(arbor_error("boom"));
        if (tag == TAG_STOP)
            return;
        if (tag == TAG_PING) {
            unsigned n = monitored_by_of(arbor_self());
            ASSERT_OK(arbor_send(a->watcher, TAG_PONG, &n, sizeof n));
        }
    }
}

static arbor_ref_t ref_from(arbor_pid_t pid)
{
    arbor_msg_t *m = NEXT(TAG_DATA);
    ASSERT_U64_EQ(m->from, pid);
    arbor_ref_t ref = *(const arbor_ref_t *)m->data;
    arbor_msg_free(m);
    return ref;
}

static void waits_for_go(void *arg)
{
    arbor_msg_free(arbor_test_recv_tag(TAG_GO, ARBOR_INFINITY));
}

static void monitor_by_root(void *arg)
{
    arbor_pid_t self = arbor_self(), pid;
    watched_arg_t wa = {self, false};
    arbor_spawn_opts_t o = {.arg_size = sizeof wa};
    arbor_process_info_t info;

    /* It monitors itself on our behalf: its DOWN comes to us, with its reason. */
    ASSERT_OK(arbor_spawn_opt(watched, &wa, &o, &pid, NULL));
    arbor_ref_t ref = ref_from(pid);
    ASSERT_OK(arbor_process_info(self, &info));
    ASSERT_EQ(info.monitors, 1); /* taken in before its message */
    ASSERT_OK(arbor_send(pid, TAG_GO, NULL, 0));
    arbor_msg_t *m = NEXT(ARBOR_TAG_DOWN);
    ASSERT_U64_EQ(DOWN_OF(m)->ref, ref);
    ASSERT_U64_EQ(DOWN_OF(m)->pid, pid);
    ASSERT_REASON(DOWN_OF(m)->reason, ARBOR_EXIT_ERROR, "boom");
    arbor_msg_free(m);
    ASSERT_OK(arbor_process_info(self, &info));
    ASSERT_EQ(info.monitors, 0);

    /* We may demonitor it as any monitor: its side goes too. */
    wa.stay = true;
    ASSERT_OK(arbor_spawn_opt(watched, &wa, &o, &pid, NULL));
    ref = ref_from(pid);
    ASSERT_OK(arbor_demonitor(ref, 0));
    ASSERT_OK(arbor_send(pid, TAG_PING, NULL, 0));
    m = NEXT(TAG_PONG);
    ASSERT_EQ(*(const unsigned *)m->data, 0);
    arbor_msg_free(m);
    ASSERT_OK(arbor_send(pid, TAG_STOP, NULL, 0));
    WAIT_GONE(pid);
    arbor_test_no_message(0);

    /* A watcher that ends before or after taking it in: our side goes. */
    arbor_ref_t wref, mref;
    ASSERT_OK(
        arbor_spawn_opt(waits_for_go, NULL, &(arbor_spawn_opts_t){.monitor = true}, &pid, &mref));
    ASSERT_OK(arbor_monitor_by(pid, &wref));
    ASSERT_EQ(monitored_by_of(self), 1);
    ASSERT_OK(arbor_exit_pid(pid, ARBOR_KILL));
    m = NEXT(ARBOR_TAG_DOWN);
    ASSERT_U64_EQ(DOWN_OF(m)->ref, mref);
    arbor_msg_free(m);
    WAIT_UNTIL(monitored_by_of(self) == 0, WAIT_MS); /* its sleeps take the demonitor in */

    /* A dead watcher, and bad arguments: nothing is done. */
    ASSERT_ERR(arbor_monitor_by(dead_pid(), &ref), ARBOR_ENOPROC);
    ASSERT_ERR(arbor_monitor_by(self, &ref), ARBOR_EINVAL);
    ASSERT_ERR(arbor_monitor_by(ARBOR_NOPID, &ref), ARBOR_EINVAL);
    ASSERT_ERR(arbor_monitor_by(pid, NULL), ARBOR_EINVAL);
    ASSERT_EQ(monitored_by_of(self), 0);
    arbor_test_no_message(0);
}

TEST(monitor_by_makes_another_process_monitor_the_caller)
{
    run_root(monitor_by_root, NULL);
    ASSERT_ERR(arbor_monitor_by(1, &(arbor_ref_t){0}), ARBOR_ENOTPROC);
}

/* A process keeps one monitor on it out of its map (proc.h: watch1): the
 * monitors come and go in any order, and each one still gives its DOWN. */
static void monitors_in_any_order_root(void *arg)
{
    arbor_pid_t self = arbor_self(), pid;
    ASSERT_OK(arbor_spawn(relay_child, &self, &pid));
    arbor_ref_t r1, r2, r3, r4;
    ASSERT_OK(arbor_monitor(pid, &r1)); /* the first: out of the map */
    ASSERT_OK(arbor_monitor(pid, &r2));
    ASSERT_OK(arbor_monitor(pid, &r3));
    expect_alive(pid); /* it has taken the three in */
    ASSERT_EQ(monitored_by_of(pid), 3);
    ASSERT_OK(arbor_demonitor(r1, 0));
    expect_alive(pid);
    ASSERT_EQ(monitored_by_of(pid), 2);
    ASSERT_OK(arbor_monitor(pid, &r4)); /* the place r1 left */
    expect_alive(pid);
    ASSERT_EQ(monitored_by_of(pid), 3);
    ASSERT_OK(arbor_demonitor(r2, 0));
    expect_alive(pid);
    ASSERT_EQ(monitored_by_of(pid), 2);
    ASSERT_OK(arbor_send(pid, TAG_GO, NULL, 0));
    bool seen3 = false, seen4 = false;
    for (int n = 0; n < 2; n++) {
        arbor_msg_t *m = NEXT(ARBOR_TAG_DOWN);
        ASSERT_U64_EQ(DOWN_OF(m)->pid, pid);
        ASSERT_REASON(DOWN_OF(m)->reason, ARBOR_EXIT_ERROR, "boom");
        arbor_ref_t ref = DOWN_OF(m)->ref;
        ASSERT_TRUE((ref == r3 && !seen3) || (ref == r4 && !seen4));
        seen3 |= ref == r3;
        seen4 |= ref == r4;
        arbor_msg_free(m);
    }
    arbor_test_no_message(50);
}

TEST(monitors_on_a_process_come_and_go_in_any_order_and_each_gives_its_down)
{
    run_root(monitors_in_any_order_root, NULL);
}

/*
 * Reactive processes (arbor_spawn_reactor): init before the first message,
 * one handle per message in order, no stack while idle, a stack kept while a
 * handler blocks, exits from a handler, arbor_msg_keep(), kills, and the
 * blocking calls a handler may make.
 */
#include <stdatomic.h>
#include <unistd.h>

#include "test.h"

enum {
    TAG_WORK = 1,
    TAG_SEEN,    /* a reactor reports what it saw */
    TAG_BLOCKED, /* the handler is about to block */
    TAG_FIRST,
    TAG_SECOND,
    TAG_DONE,
    TAG_PING,
    TAG_PONG,
    TAG_QUIT,
    TAG_READY,
};

#define WAIT_MS 5000

/* Polls until pid waits (for a message, a timer or a job) and returns its
 * info then. */
#define WAIT_WAITING(pid, info) wait_waiting((pid), (info), __FILE__, __LINE__)
static void wait_waiting(arbor_pid_t pid, arbor_process_info_t *info, const char *file, int line)
{
    int64_t ms = arbor_test_scaled_ms(WAIT_MS);
    uint64_t end = arbor_now_ms() + (uint64_t)ms;
    for (;;) {
        int rc = arbor_process_info(pid, info);
        if (rc != 0)
            arbor_test_fail(file, line, "process_info: %s", arbor_err_name(rc));
        if (info->status == ARBOR_STATUS_WAITING)
            return;
        if (arbor_now_ms() > end)
            arbor_test_fail(file, line, "process not waiting after %" PRId64 " ms", ms);
        arbor_sleep(1);
    }
}

static void run_root(arbor_entry_fn root, void *arg)
{
    arbor_reason_t r = arbor_test_run(root, arg);
    ASSERT_REASON(r, ARBOR_EXIT_NORMAL, "");
}

static void expect_down(arbor_ref_t ref, arbor_exit_kind_t kind, const char *detail)
{
    arbor_msg_t *m = arbor_test_recv_tag(ARBOR_TAG_DOWN, WAIT_MS);
    const arbor_down_msg_t *d = m->data;
    ASSERT_U64_EQ(d->ref, ref);
    ASSERT_REASON(d->reason, kind, detail);
    arbor_msg_free(m);
}

/* ---- init, then one handle per message, in order ---------------------------------- */

typedef struct counting {
    arbor_pid_t parent;
    int init_runs;
    bool init_done;
    int handled;
} counting_t;

typedef struct seen {
    int init_runs;
    int init_done;
    int handled;
    int value; /* the message's payload */
} seen_t;

static void counting_init(void **state)
{
    counting_t *s = *state;
    s->init_runs++;
    /* init may block: messages already queued must still wait for it. */
    ASSERT_OK(arbor_sleep(20));
    s->init_done = true;
}

static void counting_handle(void *state, arbor_msg_t *msg)
{
    counting_t *s = state;
    s->handled++;
    seen_t seen = {s->init_runs, s->init_done, s->handled, -1};
    if (msg->tag == TAG_WORK && msg->size == sizeof(int))
        memcpy(&seen.value, msg->data, sizeof(int));
    ASSERT_OK(arbor_send(s->parent, TAG_SEEN, &seen, sizeof seen));
}

static const arbor_reactor_t counting_ops = {counting_init, counting_handle};

static void init_first_root(void *arg)
{
    counting_t s = {.parent = arbor_self()};
    arbor_pid_t pid;
    ASSERT_OK(arbor_spawn_reactor(&counting_ops, &s, NULL, &pid, NULL));
    for (int i = 0; i < 3; i++)
        ASSERT_OK(arbor_send(pid, TAG_WORK, &i, sizeof i));
    for (int i = 0; i < 3; i++) {
        arbor_msg_t *m = arbor_test_recv_tag(TAG_SEEN, WAIT_MS);
        const seen_t *seen = m->data;
        ASSERT_EQ(seen->init_runs, 1);
        ASSERT_EQ(seen->init_done, 1);
        ASSERT_EQ(seen->handled, i + 1);
        ASSERT_EQ(seen->value, i);
        arbor_msg_free(m);
    }
    arbor_test_no_message(50);
}

TEST(reactor_init_runs_once_before_the_first_message)
{
    run_root(init_first_root, NULL);
}

enum { N_ORDER = 300 }; /* more than one scheduling batch */

static const arbor_reactor_t no_init_ops = {NULL, counting_handle};

static void order_root(void *arg)
{
    counting_t s = {.parent = arbor_self()};
    arbor_pid_t pid;
    ASSERT_OK(arbor_spawn_reactor(&no_init_ops, &s, NULL, &pid, NULL));
    for (int i = 0; i < N_ORDER; i++)
        ASSERT_OK(arbor_send(pid, TAG_WORK, &i, sizeof i));
    for (int i = 0; i < N_ORDER; i++) {
        arbor_msg_t *m = arbor_test_recv(WAIT_MS);
        ASSERT_U64_EQ(m->tag, TAG_SEEN);
        const seen_t *seen = m->data;
        ASSERT_EQ(seen->init_runs, 0);
        ASSERT_EQ(seen->handled, i + 1);
        ASSERT_EQ(seen->value, i);
        arbor_msg_free(m);
    }
    arbor_test_no_message(50); /* each message handled once */
}

TEST(reactor_handle_runs_once_per_message_in_order)
{
    run_root(order_root, NULL);
}

/* ---- fairness ---------------------------------------------------------------------- */

/* A reactor's slice is measured in reductions like any process's (one per
 * message handled), so a sender that outruns it on one scheduler does not
 * build an ever longer backlog: each gets about the same number of
 * messages' worth of work per turn. (With a fixed batch of a few dozen
 * messages per activation the backlog reached tens of thousands here.) */
static void count_handle(void *state, arbor_msg_t *msg)
{
    ++*(int *)state;
}

static const arbor_reactor_t counter_ops = {NULL, count_handle};

static void backlog_root(void *arg)
{
    enum { N = 100000, SLICE = 2000 };
    int handled = 0;
    arbor_pid_t pid;
    ASSERT_OK(arbor_spawn_reactor(&counter_ops, &handled, NULL, &pid, NULL));
    size_t longest = 0;
    for (int i = 0; i < N; i++) {
        ASSERT_OK(arbor_send(pid, TAG_WORK, NULL, 0));
        if (i % 500 == 0) {
            arbor_process_info_t info;
            ASSERT_OK(arbor_process_info(pid, &info));
            if (info.message_queue_len > longest)
                longest = info.message_queue_len;
        }
    }
    ASSERT_TRUE(longest <= 2 * SLICE);
    while (handled < N)
        arbor_sleep(1);
    ASSERT_OK(arbor_exit_pid(pid, ARBOR_KILL));
}

TEST(reactor_fed_by_a_faster_sender_keeps_a_bounded_backlog)
{
    arbor_config_t cfg = {.schedulers = 1};
    arbor_test_run_with(&cfg, backlog_root, NULL);
}

/* A reactive process goes to its parent's runnext when spawned: when the
 * parent then waits for it (a GenServer's init acknowledgement), it runs
 * at once on the same scheduler, ahead of processes queued before it. A
 * plain process goes to the back of the queue. */
static _Atomic int run_order;

static void note_order_init(void **state)
{
    **(int **)state = atomic_fetch_add(&run_order, 1);
}

static const arbor_reactor_t order_ops = {note_order_init, count_handle};

static void note_order(void *arg)
{
    *(int *)arg = atomic_fetch_add(&run_order, 1);
}

static void spawn_order_root(void *arg)
{
    atomic_store(&run_order, 0);
    int plain = -1, first = -1, second = -1;
    arbor_pid_t a, b;
    ASSERT_OK(arbor_spawn(note_order, &plain, NULL));
    ASSERT_OK(arbor_spawn_reactor(&order_ops, &first, NULL, &a, NULL));
    ASSERT_OK(arbor_spawn_reactor(&order_ops, &second, NULL, &b, NULL));
    arbor_msg_t *m;
    ASSERT_ERR(arbor_receive(10, &m), ARBOR_ETIMEDOUT);
    ASSERT_EQ(second, 0); /* the newest reactor first */
    ASSERT_EQ(plain, 1);  /* then the queue, in order */
    ASSERT_EQ(first, 2);
    ASSERT_OK(arbor_exit_pid(a, ARBOR_KILL));
    ASSERT_OK(arbor_exit_pid(b, ARBOR_KILL));
}

TEST(a_spawned_reactor_runs_next_on_its_parents_scheduler)
{
    arbor_config_t cfg = {.schedulers = 1};
    arbor_test_run_with(&cfg, spawn_order_root, NULL);
}

/* ---- stacks ------------------------------------------------------------------------ */

typedef struct blocker {
    arbor_pid_t parent;
    int handled;
} blocker_t;

/* TAG_FIRST: blocks in arbor_receive until a second message arrives.
 * TAG_PING: answers with the number of handle calls so far. */
static void blocker_handle(void *state, arbor_msg_t *msg)
{
    blocker_t *s = state;
    s->handled++;
    if (msg->tag == TAG_FIRST) {
        ASSERT_OK(arbor_send(s->parent, TAG_BLOCKED, NULL, 0));
        arbor_msg_t *second = arbor_test_recv(ARBOR_INFINITY);
        uint64_t tag = second->tag;
        arbor_msg_free(second);
        ASSERT_OK(arbor_send(s->parent, TAG_DONE, &tag, sizeof tag));
    } else if (msg->tag == TAG_PING) {
        ASSERT_OK(arbor_send(msg->from, TAG_PONG, &s->handled, sizeof s->handled));
    }
}

static const arbor_reactor_t blocker_ops = {NULL, blocker_handle};

static void idle_no_stack_root(void *arg)
{
    blocker_t s = {.parent = arbor_self()};
    arbor_pid_t pid;
    ASSERT_OK(arbor_spawn_reactor(&blocker_ops, &s, NULL, &pid, NULL));
    arbor_process_info_t info;
    WAIT_WAITING(pid, &info);
    ASSERT_TRUE(info.reactive);
    ASSERT_FALSE(info.holds_stack);
    /* After handling a message it is idle again, and without a stack. */
    for (int i = 1; i <= 3; i++) {
        ASSERT_OK(arbor_send(pid, TAG_PING, NULL, 0));
        arbor_msg_t *m = arbor_test_recv_tag(TAG_PONG, WAIT_MS);
        ASSERT_EQ(*(int *)m->data, i);
        arbor_msg_free(m);
        WAIT_WAITING(pid, &info);
        ASSERT_TRUE(info.reactive);
        ASSERT_FALSE(info.holds_stack);
    }
}

TEST(reactor_holds_no_stack_while_idle)
{
    run_root(idle_no_stack_root, NULL);
}

static void blocked_keeps_stack_root(void *arg)
{
    blocker_t s = {.parent = arbor_self()};
    arbor_pid_t pid;
    ASSERT_OK(arbor_spawn_reactor(&blocker_ops, &s, NULL, &pid, NULL));
    ASSERT_OK(arbor_send(pid, TAG_FIRST, NULL, 0));
    arbor_msg_free(arbor_test_recv_tag(TAG_BLOCKED, WAIT_MS));
    arbor_process_info_t info;
    WAIT_WAITING(pid, &info); /* waiting inside the handler's receive */
    ASSERT_TRUE(info.reactive);
    ASSERT_TRUE(info.holds_stack);
    arbor_sleep(20);
    ASSERT_OK(arbor_process_info(pid, &info));
    ASSERT_TRUE(info.holds_stack);
    /* The second message goes to the blocked handler, not to a new handle. */
    ASSERT_OK(arbor_send(pid, TAG_SECOND, NULL, 0));
    arbor_msg_t *m = arbor_test_recv_tag(TAG_DONE, WAIT_MS);
    ASSERT_U64_EQ(*(uint64_t *)m->data, TAG_SECOND);
    arbor_msg_free(m);
    WAIT_WAITING(pid, &info); /* idle again: the stack is released */
    ASSERT_FALSE(info.holds_stack);
    ASSERT_OK(arbor_send(pid, TAG_PING, NULL, 0));
    m = arbor_test_recv_tag(TAG_PONG, WAIT_MS);
    ASSERT_EQ(*(int *)m->data, 2); /* FIRST and PING */
    arbor_msg_free(m);
}

TEST(reactor_keeps_stack_while_blocked_in_handler_and_releases_it_after)
{
    run_root(blocked_keeps_stack_root, NULL);
}

static void ready_init(void **state)
{
    ASSERT_OK(arbor_send(*(arbor_pid_t *)*state, TAG_READY, NULL, 0));
}

static void ignore_handle(void *state, arbor_msg_t *msg) {}

static const arbor_reactor_t ready_ops = {ready_init, ignore_handle};

enum { N_IDLE = 10000 };

static void many_idle_root(void *arg)
{
    arbor_pid_t self = arbor_self();
    for (int i = 0; i < N_IDLE; i++)
        ASSERT_OK(arbor_spawn_reactor(&ready_ops, &self, NULL, NULL, NULL));
    for (int i = 0; i < N_IDLE; i++)
        arbor_msg_free(arbor_test_recv_tag(TAG_READY, WAIT_MS));
    /* All have run; once idle they give their stacks back. */
    arbor_stats_t st;
    uint64_t end = arbor_now_ms() + (uint64_t)arbor_test_scaled_ms(WAIT_MS);
    for (;;) {
        arbor_stats(&st);
        if (st.stacks_in_use < 64)
            break;
        if (arbor_now_ms() > end)
            arbor_test_fail(__FILE__, __LINE__, "%" PRIu64 " stacks in use with %d idle reactors",
                            st.stacks_in_use, N_IDLE);
        arbor_sleep(1);
    }
    ASSERT_GE(st.live_processes, N_IDLE + 1); /* they all still exist */
    size_t n = 0;
    ASSERT_OK(arbor_processes(NULL, 0, &n));
    ASSERT_EQ(n, N_IDLE + 1);
}

TEST_TIMEOUT(reactor_ten_thousand_idle_reactors_hold_no_stacks, 60)
{
    run_root(many_idle_root, NULL);
}

/* ---- exits --------------------------------------------------------------------------- */

typedef struct quitter {
    arbor_pid_t parent;
} quitter_t;

static void quitter_handle(void *state, arbor_msg_t *msg)
{
    quitter_t *s = state;
    if (msg->tag == TAG_QUIT)
        arbor_exit(arbor_error("quit %d", 5));
    ASSERT_OK(arbor_send(s->parent, TAG_SEEN, NULL, 0));
}

static const arbor_reactor_t quitter_ops = {NULL, quitter_handle};

static void handler_exit_root(void *arg)
{
    quitter_t s = {.parent = arbor_self()};
    arbor_pid_t pid;
    arbor_ref_t ref;
    arbor_spawn_opts_t o = {.monitor = true};
    ASSERT_OK(arbor_spawn_reactor(&quitter_ops, &s, &o, &pid, &ref));
    ASSERT_OK(arbor_send(pid, TAG_WORK, NULL, 0));
    ASSERT_OK(arbor_send(pid, TAG_QUIT, NULL, 0));
    ASSERT_OK(arbor_send(pid, TAG_WORK, NULL, 0)); /* never handled */
    arbor_msg_t *m = arbor_test_recv(WAIT_MS);
    ASSERT_U64_EQ(m->tag, TAG_SEEN);
    arbor_msg_free(m);
    m = arbor_test_recv(WAIT_MS);
    ASSERT_U64_EQ(m->tag, ARBOR_TAG_DOWN);
    const arbor_down_msg_t *d = m->data;
    ASSERT_U64_EQ(d->ref, ref);
    ASSERT_U64_EQ(d->pid, pid);
    ASSERT_REASON(d->reason, ARBOR_EXIT_ERROR, "quit 5");
    arbor_msg_free(m);
    arbor_test_no_message(50);
}

TEST(reactor_handler_exit_ends_it_with_that_reason)
{
    run_root(handler_exit_root, NULL);
}

static void killed_idle_root(void *arg)
{
    /* Trapping or not, an idle reactor dies killed. */
    for (int trap = 0; trap < 2; trap++) {
        blocker_t s = {.parent = arbor_self()};
        arbor_pid_t pid;
        arbor_ref_t ref;
        arbor_spawn_opts_t o = {.monitor = true, .trap_exit = trap};
        ASSERT_OK(arbor_spawn_reactor(&blocker_ops, &s, &o, &pid, &ref));
        ASSERT_OK(arbor_send(pid, TAG_PING, NULL, 0));
        arbor_msg_free(arbor_test_recv_tag(TAG_PONG, WAIT_MS));
        arbor_process_info_t info;
        WAIT_WAITING(pid, &info);
        ASSERT_FALSE(info.holds_stack);
        ASSERT_EQ(info.trap_exit, trap);
        ASSERT_OK(arbor_exit_pid(pid, ARBOR_KILL));
        expect_down(ref, ARBOR_EXIT_KILLED, "");
        arbor_test_no_message(0);
    }
}

TEST(reactor_killed_while_idle_dies_killed)
{
    run_root(killed_idle_root, NULL);
}

typedef struct relay_state {
    arbor_pid_t parent;
} relay_state_t;

static void relay_exit_handle(void *state, arbor_msg_t *msg)
{
    relay_state_t *s = state;
    if (msg->tag == ARBOR_TAG_EXIT)
        ASSERT_OK(arbor_send(s->parent, TAG_SEEN, msg->data, msg->size));
}

static const arbor_reactor_t relay_exit_ops = {NULL, relay_exit_handle};

static void trapping_reactor_root(void *arg)
{
    relay_state_t s = {.parent = arbor_self()};
    arbor_pid_t pid;
    arbor_ref_t ref;
    arbor_spawn_opts_t o = {.monitor = true, .trap_exit = true};
    ASSERT_OK(arbor_spawn_reactor(&relay_exit_ops, &s, &o, &pid, &ref));
    ASSERT_OK(arbor_exit_pid(pid, ARBOR_SHUTDOWN));
    arbor_msg_t *m = arbor_test_recv_tag(TAG_SEEN, WAIT_MS);
    const arbor_exit_msg_t *e = m->data;
    ASSERT_U64_EQ(e->from, arbor_self());
    ASSERT_REASON(e->reason, ARBOR_EXIT_SHUTDOWN, "");
    arbor_msg_free(m);
    ASSERT_TRUE(arbor_test_alive(pid));
    ASSERT_OK(arbor_exit_pid(pid, ARBOR_KILL));
    expect_down(ref, ARBOR_EXIT_KILLED, "");
}

TEST(reactor_trapping_exits_gets_exit_signal_in_handle)
{
    run_root(trapping_reactor_root, NULL);
}

/* ---- arbor_msg_keep --------------------------------------------------------------------- */

typedef struct keeper {
    arbor_pid_t parent;
    arbor_msg_t *kept;
} keeper_t;

/* Keeps the first message; on the second, reports the kept one's content
 * and frees it. */
static void keeper_handle(void *state, arbor_msg_t *msg)
{
    keeper_t *s = state;
    if (!s->kept) {
        arbor_msg_keep(msg);
        s->kept = msg;
        return;
    }
    ASSERT_U64_EQ(s->kept->tag, TAG_FIRST);
    ASSERT_OK(arbor_send(s->parent, TAG_SEEN, s->kept->data, s->kept->size));
    arbor_msg_free(s->kept);
    s->kept = NULL;
}

static const arbor_reactor_t keeper_ops = {NULL, keeper_handle};

static void keep_root(void *arg)
{
    keeper_t s = {.parent = arbor_self()};
    arbor_pid_t pid;
    ASSERT_OK(arbor_spawn_reactor(&keeper_ops, &s, NULL, &pid, NULL));
    char first[64] = "kept past its handle call";
    ASSERT_OK(arbor_send(pid, TAG_FIRST, first, sizeof first));
    arbor_process_info_t info;
    WAIT_WAITING(pid, &info); /* the first handle call has returned */
    /* Messages allocated meanwhile would reuse a block freed too early. */
    for (int i = 0; i < 8; i++) {
        char junk[64];
        memset(junk, 'j', sizeof junk);
        ASSERT_OK(arbor_send(arbor_self(), TAG_WORK, junk, sizeof junk));
    }
    ASSERT_OK(arbor_send(pid, TAG_SECOND, "x", 2));
    arbor_msg_t *m = arbor_test_recv_tag(TAG_SEEN, WAIT_MS);
    ASSERT_EQ(m->size, sizeof first);
    ASSERT_STREQ(m->data, "kept past its handle call");
    arbor_msg_free(m);
    for (int i = 0; i < 8; i++)
        arbor_msg_free(arbor_test_recv_tag(TAG_WORK, WAIT_MS));
}

TEST(reactor_msg_keep_keeps_the_message_past_handle)
{
    run_root(keep_root, NULL);
}

/* ---- sleeping and blocking work in a handler ---------------------------------------------- */

static void *add_one(void *arg)
{
    usleep(10000);
    return (char *)arg + 1;
}

typedef struct sleeper {
    arbor_pid_t parent;
    char buf[4];
} sleeper_t;

typedef struct sleeper_report {
    uint64_t slept_ms;
    int blocking_rc;
    int result_ok;
} sleeper_report_t;

static void sleeper_handle(void *state, arbor_msg_t *msg)
{
    sleeper_t *s = state;
    sleeper_report_t r = {0};
    uint64_t t0 = arbor_now_ms();
    ASSERT_OK(arbor_sleep(30));
    r.slept_ms = arbor_now_ms() - t0;
    void *res = NULL;
    r.blocking_rc = arbor_blocking(add_one, s->buf, &res);
    r.result_ok = res == s->buf + 1;
    ASSERT_OK(arbor_send(s->parent, TAG_DONE, &r, sizeof r));
}

static const arbor_reactor_t sleeper_ops = {NULL, sleeper_handle};

static void sleep_blocking_root(void *arg)
{
    sleeper_t s = {.parent = arbor_self()};
    arbor_pid_t pid;
    ASSERT_OK(arbor_spawn_reactor(&sleeper_ops, &s, NULL, &pid, NULL));
    for (int i = 0; i < 3; i++)
        ASSERT_OK(arbor_send(pid, TAG_WORK, NULL, 0));
    for (int i = 0; i < 3; i++) {
        arbor_msg_t *m = arbor_test_recv_tag(TAG_DONE, WAIT_MS);
        const sleeper_report_t *r = m->data;
        ASSERT_GE(r->slept_ms, 30);
        ASSERT_OK(r->blocking_rc);
        ASSERT_TRUE(r->result_ok);
        arbor_msg_free(m);
    }
    arbor_process_info_t info;
    WAIT_WAITING(pid, &info);
    ASSERT_FALSE(info.holds_stack);
    arbor_test_no_message(0);
}

TEST(reactor_handler_can_sleep_and_use_blocking)
{
    run_root(sleep_blocking_root, NULL);
}

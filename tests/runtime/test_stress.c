/*
 * Stress: a million processes, 100,000-process rings, fan-in, more
 * scheduler threads than cores, and the races between kills, sends, links,
 * monitors, receive timeouts and timers.
 *
 * Every case checks exact counts (nothing lost, nothing delivered twice)
 * rather than timings, and the harness then checks that the runtime left
 * nothing behind. The sizes are chosen so that each case takes a few
 * seconds under ASan+UBSan on two cores.
 */
#define _GNU_SOURCE
#include <stdatomic.h>

#include "test.h"

/* Under ThreadSanitizer every process that holds a stack is a TSan fiber,
 * TSan allows about 8,000 threads and fibers at once, and everything runs
 * ten to fifty times slower: the largest populations shrink there. */
#if defined(__SANITIZE_THREAD__)
#define STRESS_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define STRESS_TSAN 1
#endif
#endif

enum {
    TAG_TOKEN = 1,
    TAG_DONE,
    TAG_DATA,
    TAG_PING,
    TAG_PONG,
    TAG_TASK,
    TAG_RESULT,
    TAG_GO,
    TAG_TIMER,
};

/* Waits (sleeping) until *counter reaches target, or fails after ms. */
static void wait_count(_Atomic long *counter, long target, int64_t ms)
{
    uint64_t end = arbor_now_ms() + (uint64_t)ms;
    while (atomic_load(counter) < target) {
        if (arbor_now_ms() > end)
            arbor_test_fail(__FILE__, __LINE__, "counter at %ld, expected %ld after %" PRId64 " ms",
                            atomic_load(counter), target, ms);
        arbor_sleep(1);
    }
}

/* Counts the distinct OS threads that ran a process. Not inlined: a process
 * may move to another thread at any blocking call, and the thread-local
 * address must be computed afresh each time. */
static _Atomic unsigned threads_seen;
static _Atomic unsigned thread_epoch;
static __thread unsigned thread_mark;

static __attribute__((noinline)) void note_thread(void)
{
    unsigned e = atomic_load_explicit(&thread_epoch, memory_order_relaxed);
    if (thread_mark != e) {
        thread_mark = e;
        atomic_fetch_add(&threads_seen, 1);
    }
}

static void reset_threads_seen(void)
{
    atomic_fetch_add(&thread_epoch, 1);
    atomic_store(&threads_seen, 0);
}

/* Exit reason kinds a test accepts, as a bit set. */
#define KIND(k) (1u << (k))

static void assert_kind_in(const arbor_reason_t *r, unsigned kinds, const char *what)
{
    if (!(kinds & KIND(r->kind))) {
        char buf[128];
        arbor_reason_format(r, buf, sizeof buf);
        arbor_test_fail(__FILE__, __LINE__, "%s: unexpected reason %s", what, buf);
    }
}

/* ---- one million processes --------------------------------------------------------- */

#ifdef STRESS_TSAN
#define MILLION 100000L /* a million takes minutes under TSan */
#else
#define MILLION 1000000L
#endif

static _Atomic long million_left;
static arbor_pid_t million_root_pid;

static void million_child(void *arg)
{
    if (atomic_fetch_sub(&million_left, 1) == 1)
        ASSERT_OK(arbor_send(million_root_pid, TAG_DONE, NULL, 0));
}

static void million_root(void *arg)
{
    arbor_stats_t before, after;
    arbor_stats(&before);
    million_root_pid = arbor_self();
    atomic_store(&million_left, MILLION);
    for (long i = 1; i <= MILLION; i++) {
        ASSERT_OK(arbor_spawn(million_child, NULL, NULL));
        /* The spawner outruns the schedulers: keep the backlog (control
         * blocks waiting for their first run) bounded. */
        if (i % 1024 == 0) {
            while (i - (MILLION - atomic_load(&million_left)) > 20000)
                arbor_sleep(1);
        }
    }
    arbor_msg_t *m = arbor_test_recv_tag(TAG_DONE, arbor_test_scaled_ms(60000));
    arbor_msg_free(m);
    long left = atomic_load(&million_left);
    ASSERT_EQ(left, 0);
    arbor_test_no_message(20); /* only the last one reports */
    arbor_stats(&after);
    ASSERT_U64_EQ(after.processes_spawned - before.processes_spawned, MILLION);
}

TEST_TIMEOUT(stress_one_million_processes_spawn_and_exit, 120)
{
    arbor_stats_t before, after;
    arbor_stats(&before);
    arbor_reason_t r = arbor_test_run(million_root, NULL);
    ASSERT_REASON(r, ARBOR_EXIT_NORMAL, "");
    arbor_stats(&after);
    ASSERT_U64_EQ(after.processes_spawned - before.processes_spawned, MILLION + 1);
    ASSERT_U64_EQ(after.live_processes, 0);
}

/* ---- a 100,000-process ring ---------------------------------------------------------- */

#ifdef STRESS_TSAN
#define RING_N 4000 /* fibers */
#else
#define RING_N 100000
#endif
#define RING_TOKENS 8
#define RING_ROUNDS 1

/* A token goes round the ring RING_ROUNDS times from where it was put in,
 * then back to the root. Tokens start at evenly spaced members, so that
 * they travel apart and the schedulers have to steal and wake each other. */
typedef struct token {
    uint32_t id;
    uint32_t start;
    uint64_t hops;
} token_t;

static _Atomic long ring_finished;
static arbor_pid_t ring_root_pid;

/* Waits without a timeout: a finite one would arm a timer per receive, and
 * 100,000 long timers make this a benchmark of the timer wheel. A lost
 * token shows as the case's timeout. */
static arbor_msg_t *recv_forever(void)
{
    arbor_msg_t *m = NULL;
    ASSERT_OK(arbor_receive(ARBOR_INFINITY, &m));
    return m;
}

static void ring_member(void *arg)
{
    arbor_pid_t next = (arbor_pid_t)(uintptr_t)arg;
    if (next == ARBOR_NOPID) {
        /* The member spawned first closes the ring: it learns its
         * successor, spawned last, from the root. */
        arbor_msg_t *m = recv_forever();
        ASSERT_U64_EQ(m->tag, TAG_TASK);
        memcpy(&next, m->data, sizeof next);
        arbor_msg_free(m);
    }
    for (int i = 0; i < RING_TOKENS * RING_ROUNDS; i++) {
        arbor_msg_t *m = recv_forever();
        note_thread();
        ASSERT_U64_EQ(m->tag, TAG_TOKEN);
        ASSERT_EQ(m->size, sizeof(token_t));
        token_t t;
        memcpy(&t, m->data, sizeof t);
        arbor_msg_free(m);
        t.hops++;
        arbor_pid_t to = t.hops == (uint64_t)RING_N * RING_ROUNDS ? ring_root_pid : next;
        ASSERT_OK(arbor_send(to, TAG_TOKEN, &t, sizeof t));
    }
    atomic_fetch_add(&ring_finished, 1);
}

static void ring_root(void *arg)
{
    reset_threads_seen();
    atomic_store(&ring_finished, 0);
    ring_root_pid = arbor_self();
    /* Built backwards: member i is spawned knowing member i+1. */
    arbor_pid_t last, next, starts[RING_TOKENS];
    ASSERT_OK(arbor_spawn(ring_member, (void *)(uintptr_t)ARBOR_NOPID, &last));
    next = last;
    for (int i = RING_N - 2; i >= 0; i--) {
        ASSERT_OK(arbor_spawn(ring_member, (void *)(uintptr_t)next, &next));
        if (i % (RING_N / RING_TOKENS) == 0)
            starts[i / (RING_N / RING_TOKENS)] = next;
    }
    ASSERT_OK(arbor_send(last, TAG_TASK, &next, sizeof next));
    for (uint32_t k = 0; k < RING_TOKENS; k++) {
        token_t t = {.id = k, .start = k * (RING_N / RING_TOKENS), .hops = 0};
        ASSERT_OK(arbor_send(starts[k], TAG_TOKEN, &t, sizeof t));
    }
    bool back[RING_TOKENS] = {false};
    for (int n = 0; n < RING_TOKENS; n++) {
        arbor_msg_t *m = arbor_test_recv(arbor_test_scaled_ms(60000));
        ASSERT_U64_EQ(m->tag, TAG_TOKEN);
        token_t t;
        memcpy(&t, m->data, sizeof t);
        ASSERT_LT(t.id, RING_TOKENS);
        ASSERT_FALSE(back[t.id]);
        back[t.id] = true;
        ASSERT_EQ(t.start, t.id * (RING_N / RING_TOKENS));
        ASSERT_U64_EQ(t.hops, (uint64_t)RING_N * RING_ROUNDS);
        arbor_msg_free(m);
    }
    wait_count(&ring_finished, RING_N, 30000);
    arbor_test_no_message(0);
    unsigned threads = atomic_load(&threads_seen);
    ASSERT_GE(threads, 2); /* the ring ran on more than one scheduler */
}

static void run_ring(unsigned schedulers)
{
    /* 64 KiB stacks: 100,000 of them are held at once. */
    arbor_config_t cfg = {.schedulers = schedulers, .stack_size = 64 * 1024};
    arbor_reason_t r = arbor_test_run_with(&cfg, ring_root, NULL);
    ASSERT_REASON(r, ARBOR_EXIT_NORMAL, "");
}

TEST_TIMEOUT(stress_ring_100k_processes_2_schedulers, 120)
{
    run_ring(2);
}

TEST_TIMEOUT(stress_ring_100k_processes_4_schedulers, 120)
{
    run_ring(4);
}

/* ---- many-to-one fan-in, per-sender order ------------------------------------------------ */

#define FANIN_SENDERS 5000
#define FANIN_MSGS    40

typedef struct fan_msg {
    uint32_t sender;
    uint32_t seq;
} fan_msg_t;

static arbor_pid_t fanin_target;

static void fanin_sender(void *arg)
{
    note_thread();
    fan_msg_t fm = {.sender = (uint32_t)(uintptr_t)arg};
    for (fm.seq = 0; fm.seq < FANIN_MSGS; fm.seq++) {
        ASSERT_OK(arbor_send(fanin_target, TAG_DATA, &fm, sizeof fm));
        if (fm.seq % 8 == 7)
            arbor_yield(); /* interleave with the other senders */
    }
}

static void fanin_root(void *arg)
{
    reset_threads_seen();
    fanin_target = arbor_self();
    arbor_pid_t *pids = calloc(FANIN_SENDERS, sizeof *pids);
    uint32_t *next = calloc(FANIN_SENDERS, sizeof *next);
    ASSERT_TRUE(pids && next);
    for (uint32_t i = 0; i < FANIN_SENDERS; i++)
        ASSERT_OK(arbor_spawn(fanin_sender, (void *)(uintptr_t)i, &pids[i]));
    for (long n = 0; n < (long)FANIN_SENDERS * FANIN_MSGS; n++) {
        arbor_msg_t *m = arbor_test_recv(30000);
        ASSERT_U64_EQ(m->tag, TAG_DATA);
        fan_msg_t fm;
        memcpy(&fm, m->data, sizeof fm);
        ASSERT_LT(fm.sender, FANIN_SENDERS);
        ASSERT_U64_EQ(m->from, pids[fm.sender]);
        ASSERT_EQ(fm.seq, next[fm.sender]); /* in the order sent */
        next[fm.sender]++;
        arbor_msg_free(m);
    }
    for (uint32_t i = 0; i < FANIN_SENDERS; i++)
        ASSERT_EQ(next[i], FANIN_MSGS);
    arbor_test_no_message(20);
    unsigned threads = atomic_load(&threads_seen);
    ASSERT_GE(threads, 2);
    free(pids);
    free(next);
}

static void run_fanin(unsigned schedulers)
{
    arbor_config_t cfg = {.schedulers = schedulers};
    arbor_reason_t r = arbor_test_run_with(&cfg, fanin_root, NULL);
    ASSERT_REASON(r, ARBOR_EXIT_NORMAL, "");
}

TEST_TIMEOUT(stress_fan_in_keeps_per_sender_order_2_schedulers, 60)
{
    run_fanin(2);
}

TEST_TIMEOUT(stress_fan_in_keeps_per_sender_order_4_schedulers, 60)
{
    run_fanin(4);
}

/* ---- more scheduler threads than cores: ping-pong and spawn trees ------------------------- */

#define PP_PAIRS  200
#define PP_ROUNDS 200
#ifdef STRESS_TSAN
#define TREE_DEPTH 11 /* fibers */
#else
#define TREE_DEPTH 13 /* 2^14 - 1 processes, 2^13 leaves */
#endif

static void pong_proc(void *arg)
{
    for (;;) {
        arbor_msg_t *m = arbor_test_recv(arbor_test_scaled_ms(60000));
        if (m->tag == TAG_DONE) {
            arbor_msg_free(m);
            return;
        }
        ASSERT_U64_EQ(m->tag, TAG_PING);
        ASSERT_OK(arbor_send(m->from, TAG_PONG, m->data, m->size));
        arbor_msg_free(m);
    }
}

static void ping_proc(void *arg)
{
    arbor_pid_t root = (arbor_pid_t)(uintptr_t)arg, peer;
    ASSERT_OK(arbor_spawn(pong_proc, NULL, &peer));
    for (uint32_t i = 0; i < PP_ROUNDS; i++) {
        ASSERT_OK(arbor_send(peer, TAG_PING, &i, sizeof i));
        arbor_msg_t *m = arbor_test_recv(arbor_test_scaled_ms(60000));
        note_thread();
        ASSERT_U64_EQ(m->tag, TAG_PONG);
        ASSERT_U64_EQ(m->from, peer);
        ASSERT_EQ(*(uint32_t *)m->data, i);
        arbor_msg_free(m);
    }
    ASSERT_OK(arbor_send(peer, TAG_DONE, NULL, 0));
    ASSERT_OK(arbor_send(root, TAG_DONE, NULL, 0));
}

static void tree_node(void *arg)
{
    arbor_msg_t *m = arbor_test_recv_tag(TAG_TASK, arbor_test_scaled_ms(60000));
    arbor_pid_t parent = m->from;
    uint32_t depth = *(uint32_t *)m->data;
    arbor_msg_free(m);
    note_thread();
    uint64_t leaves = 1;
    if (depth > 0) {
        arbor_spawn_opts_t o = {.link = true};
        uint32_t d = depth - 1;
        for (int i = 0; i < 2; i++) {
            arbor_pid_t c;
            ASSERT_OK(arbor_spawn_opt(tree_node, NULL, &o, &c, NULL));
            ASSERT_OK(arbor_send(c, TAG_TASK, &d, sizeof d));
        }
        leaves = 0;
        for (int i = 0; i < 2; i++) {
            m = arbor_test_recv_tag(TAG_RESULT, arbor_test_scaled_ms(60000));
            leaves += *(uint64_t *)m->data;
            arbor_msg_free(m);
        }
    }
    ASSERT_OK(arbor_send(parent, TAG_RESULT, &leaves, sizeof leaves));
}

static void oversubscribed_root(void *arg)
{
    unsigned schedulers = (unsigned)(uintptr_t)arg;
    arbor_stats_t st;
    arbor_stats(&st);
    ASSERT_EQ(st.schedulers, schedulers);
    reset_threads_seen();

    for (int i = 0; i < PP_PAIRS; i++)
        ASSERT_OK(arbor_spawn(ping_proc, (void *)(uintptr_t)arbor_self(), NULL));
    for (int i = 0; i < PP_PAIRS; i++)
        arbor_msg_free(arbor_test_recv_tag(TAG_DONE, arbor_test_scaled_ms(60000)));

    arbor_pid_t top;
    uint32_t depth = TREE_DEPTH;
    ASSERT_OK(arbor_spawn(tree_node, NULL, &top));
    ASSERT_OK(arbor_send(top, TAG_TASK, &depth, sizeof depth));
    arbor_msg_t *m = arbor_test_recv_tag(TAG_RESULT, arbor_test_scaled_ms(60000));
    ASSERT_U64_EQ(*(uint64_t *)m->data, (uint64_t)1 << TREE_DEPTH);
    arbor_msg_free(m);
    arbor_test_no_message(20);
    unsigned threads = atomic_load(&threads_seen);
    ASSERT_GE(threads, 2);
}

static void run_oversubscribed(unsigned schedulers)
{
    arbor_config_t cfg = {.schedulers = schedulers};
    arbor_reason_t r =
        arbor_test_run_with(&cfg, oversubscribed_root, (void *)(uintptr_t)schedulers);
    ASSERT_REASON(r, ARBOR_EXIT_NORMAL, "");
}

TEST_TIMEOUT(stress_8_schedulers_ping_pong_and_spawn, 90)
{
    run_oversubscribed(8);
}

TEST_TIMEOUT(stress_16_schedulers_ping_pong_and_spawn, 90)
{
    run_oversubscribed(16);
}

/* ---- kills racing with a flood of sends ----------------------------------------------------- */

#define FLOOD_ROUNDS  200
#define FLOOD_SENDERS 16
#define FLOOD_MSGS    300

static _Atomic long moved_made, moved_freed;
static arbor_pid_t flood_victim_pid;

static void counted_free(void *p)
{
    atomic_fetch_add(&moved_freed, 1);
    free(p);
}

/* Receives until killed; with a limit, exits normally after that many
 * messages, racing the kill. Takes every other moved block itself. */
static arbor_pid_t flood_root_pid;

static void flood_victim(void *arg)
{
    long limit = (long)(intptr_t)arg;
    arbor_trap_exit(true);
    /* Trapping before anyone may signal it: the root waits for this. */
    ASSERT_OK(arbor_send(flood_root_pid, TAG_GO, NULL, 0));
    for (long n = 0;; n++) {
        if (limit && n == limit)
            return;
        arbor_msg_t *m = arbor_test_recv(arbor_test_scaled_ms(60000));
        if (n & 1) {
            void *b = arbor_msg_take(m);
            if (b)
                counted_free(b);
        }
        arbor_msg_free(m);
    }
}

static void flood_sender(void *arg)
{
    arbor_pid_t v = flood_victim_pid;
    for (int i = 0; i < FLOOD_MSGS; i++) {
        if (i & 1) {
            int *b = malloc(sizeof *b);
            ASSERT_TRUE(b != NULL);
            *b = i;
            atomic_fetch_add(&moved_made, 1);
            ASSERT_OK(arbor_send_move(v, TAG_DATA, b, sizeof *b, counted_free));
        } else {
            ASSERT_OK(arbor_send(v, TAG_DATA, &i, sizeof i));
        }
        if (i % 32 == 31)
            arbor_yield();
    }
}

static void flood_killer(void *arg)
{
    unsigned spins = (unsigned)(uintptr_t)arg;
    arbor_pid_t v = flood_victim_pid;
    for (unsigned i = 0; i < spins; i++)
        arbor_yield();
    /* A trappable exit first (it becomes a message), then the kill. */
    ASSERT_OK(arbor_exit_pid(v, arbor_reason(ARBOR_EXIT_SHUTDOWN, "flood")));
    ASSERT_OK(arbor_exit_pid(v, ARBOR_KILL));
}

static void flood_root(void *arg)
{
    uint32_t rng = 12345;
    long killed = 0, exited = 0;
    for (int round = 0; round < FLOOD_ROUNDS; round++) {
        rng = rng * 1103515245u + 12345u;
        long limit = (round & 1) ? 1 + (long)((rng >> 8) % (FLOOD_SENDERS * FLOOD_MSGS / 2)) : 0;
        arbor_pid_t victim, pids[FLOOD_SENDERS + 1];
        arbor_ref_t ref;
        flood_root_pid = arbor_self();
        ASSERT_OK(arbor_spawn_monitor(flood_victim, (void *)(intptr_t)limit, &victim, &ref));
        flood_victim_pid = victim;
        arbor_msg_free(arbor_test_recv_tag(TAG_GO, 30000));
        for (int i = 0; i < FLOOD_SENDERS; i++)
            ASSERT_OK(arbor_spawn_monitor(flood_sender, NULL, &pids[i], &ref));
        unsigned spins = (rng >> 4) % 64;
        ASSERT_OK(arbor_spawn_monitor(flood_killer, (void *)(uintptr_t)spins, &pids[FLOOD_SENDERS],
                                      &ref));
        for (int n = 0; n < FLOOD_SENDERS + 2; n++) {
            arbor_msg_t *m = arbor_test_recv_tag(ARBOR_TAG_DOWN, 30000);
            arbor_down_msg_t *d = m->data;
            if (d->pid == victim) {
                assert_kind_in(&d->reason,
                               limit ? KIND(ARBOR_EXIT_KILLED) | KIND(ARBOR_EXIT_NORMAL)
                                     : KIND(ARBOR_EXIT_KILLED),
                               "victim");
                if (d->reason.kind == ARBOR_EXIT_KILLED)
                    killed++;
                else
                    exited++;
            } else {
                ASSERT_REASON(d->reason, ARBOR_EXIT_NORMAL, "");
            }
            arbor_msg_free(m);
        }
        arbor_test_no_message(0);
    }
    ASSERT_GE(killed, FLOOD_ROUNDS / 2);
    (void)exited;
}

TEST_TIMEOUT(stress_kill_races_with_flood_of_sends, 90)
{
    atomic_store(&moved_made, 0);
    atomic_store(&moved_freed, 0);
    arbor_reason_t r = arbor_test_run(flood_root, NULL);
    ASSERT_REASON(r, ARBOR_EXIT_NORMAL, "");
    /* Every moved block was released exactly once: by the victim, with its
     * message, or by the runtime when the victim was gone. */
    long made = atomic_load(&moved_made), freed = atomic_load(&moved_freed);
    ASSERT_GT(made, 0);
    ASSERT_EQ(freed, made);
}

/* A victim that works through a full mailbox without ever waiting is
 * preempted in the middle of it (reductions); a kill sent while it is
 * preempted must still release every message, including one it was being
 * handed. With one scheduler the kill is sure to land in that window. */
#define FULL_ROUNDS 20
#define FULL_MSGS   10000

static _Atomic long full_received;

static void full_victim(void *arg)
{
    /* Let the mailbox fill up first. */
    arbor_msg_free(arbor_test_recv_tag(TAG_GO, 30000));
    for (;;) {
        arbor_msg_t *m = arbor_test_recv(30000);
        atomic_fetch_add(&full_received, 1);
        arbor_msg_free(m);
    }
}

static void full_root(void *arg)
{
    for (int round = 0; round < FULL_ROUNDS; round++) {
        atomic_store(&full_received, 0);
        arbor_pid_t v;
        arbor_ref_t ref;
        ASSERT_OK(arbor_spawn_monitor(full_victim, NULL, &v, &ref));
        for (int i = 0; i < FULL_MSGS; i++) {
            int *b = malloc(sizeof *b);
            ASSERT_TRUE(b != NULL);
            *b = i;
            atomic_fetch_add(&moved_made, 1);
            ASSERT_OK(arbor_send_move(v, TAG_DATA, b, sizeof *b, counted_free));
        }
        ASSERT_OK(arbor_send(v, TAG_GO, NULL, 0));
        /* Kill it once it is under way; vary the point a little. */
        long at = 1 + round % 4;
        while (atomic_load(&full_received) < at)
            arbor_yield();
        ASSERT_OK(arbor_exit_pid(v, ARBOR_KILL));
        arbor_msg_t *m = arbor_test_recv_tag(ARBOR_TAG_DOWN, 30000);
        ASSERT_REASON(((arbor_down_msg_t *)m->data)->reason, ARBOR_EXIT_KILLED, "");
        arbor_msg_free(m);
    }
}

static void run_full(unsigned schedulers)
{
    atomic_store(&moved_made, 0);
    atomic_store(&moved_freed, 0);
    arbor_config_t cfg = {.schedulers = schedulers};
    arbor_reason_t r = arbor_test_run_with(&cfg, full_root, NULL);
    ASSERT_REASON(r, ARBOR_EXIT_NORMAL, "");
    long made = atomic_load(&moved_made), freed = atomic_load(&moved_freed);
    ASSERT_EQ(made, (long)FULL_ROUNDS * FULL_MSGS);
    ASSERT_EQ(freed, made); /* none lost with the victim */
}

TEST_TIMEOUT(stress_kill_during_full_mailbox_frees_every_message_1_scheduler, 60)
{
    run_full(1);
}

TEST_TIMEOUT(stress_kill_during_full_mailbox_frees_every_message_2_schedulers, 60)
{
    run_full(2);
}

/* ---- links and monitors made while the target is being killed ------------------------------- */

#define LM_ROUNDS   50
#define LM_EACH     40 /* processes per role per round */
#define LM_QUIET_MS 30

enum lm_role {
    LM_TRAP_LINKER,
    LM_MONITOR,
    LM_DEMONITOR,
    LM_PLAIN_LINKER,
    LM_MONITOR_EXIT,
    LM_ROLES
};

static arbor_pid_t lm_victim;
static _Atomic int lm_plain_rc[LM_EACH * LM_ROLES]; /* 1 linked, 2 ENOPROC */
static _Atomic long lm_killed, lm_noproc;

static void lm_tally(const arbor_reason_t *r, const char *what)
{
    assert_kind_in(r, KIND(ARBOR_EXIT_KILLED) | KIND(ARBOR_EXIT_NOPROC), what);
    atomic_fetch_add(r->kind == ARBOR_EXIT_KILLED ? &lm_killed : &lm_noproc, 1);
}

static void lm_wait_go(void)
{
    arbor_msg_free(arbor_test_recv_tag(TAG_GO, 30000));
}

/* Links while trapping: exactly one EXIT from the victim. */
static void lm_trap_linker(void *arg)
{
    arbor_trap_exit(true);
    lm_wait_go();
    arbor_pid_t v = lm_victim;
    ASSERT_OK(arbor_link(v));
    arbor_msg_t *m = arbor_test_recv(30000);
    ASSERT_U64_EQ(m->tag, ARBOR_TAG_EXIT);
    arbor_exit_msg_t *e = m->data;
    ASSERT_U64_EQ(e->from, v);
    lm_tally(&e->reason, "EXIT");
    arbor_msg_free(m);
    arbor_test_no_message(LM_QUIET_MS);
}

/* Expects exactly one DOWN, for ref, from the victim v, and nothing more. */
static void lm_expect_one_down(arbor_pid_t v, arbor_ref_t ref, const char *what)
{
    arbor_msg_t *m = arbor_test_recv(30000);
    ASSERT_U64_EQ(m->tag, ARBOR_TAG_DOWN);
    arbor_down_msg_t *d = m->data;
    ASSERT_U64_EQ(d->ref, ref);
    ASSERT_U64_EQ(d->pid, v);
    lm_tally(&d->reason, what);
    arbor_msg_free(m);
    arbor_test_no_message(LM_QUIET_MS);
}

/* Monitors: exactly one DOWN for the ref. */
static void lm_monitor(void *arg)
{
    lm_wait_go();
    arbor_pid_t v = lm_victim;
    arbor_ref_t ref;
    ASSERT_OK(arbor_monitor(v, &ref));
    lm_expect_one_down(v, ref, "DOWN");
}

/* Monitors, unlinks and sends an exit in one signal (arbor_monitor_exit(),
 * a supervisor stopping a child) while the victim dies: exactly one DOWN
 * for the ref, also when the signal lands as the victim is finishing. The
 * victim traps exits, so the shutdown is a message to it and the kill
 * decides its end. */
static void lm_monitor_exit(void *arg)
{
    lm_wait_go();
    arbor_pid_t v = lm_victim;
    arbor_ref_t ref;
    ASSERT_OK(arbor_monitor_exit(v, ARBOR_SHUTDOWN, &ref));
    lm_expect_one_down(v, ref, "DOWN after monitor_exit");
}

/* Monitors and demonitors with flush while the victim dies: no DOWN may
 * remain or arrive afterwards. */
static void lm_demonitor(void *arg)
{
    unsigned spins = (unsigned)((uintptr_t)arg / LM_ROLES) % 4;
    lm_wait_go();
    arbor_ref_t ref;
    ASSERT_OK(arbor_monitor(lm_victim, &ref));
    for (unsigned i = 0; i < spins; i++)
        arbor_yield();
    ASSERT_OK(arbor_demonitor(ref, ARBOR_DEMONITOR_FLUSH));
    arbor_test_no_message(LM_QUIET_MS);
}

/* Links without trapping: either the link fails with ENOPROC, or the
 * victim's death kills this process too. */
static void lm_plain_linker(void *arg)
{
    int idx = (int)(intptr_t)arg;
    lm_wait_go();
    int rc = arbor_link(lm_victim);
    ASSERT_TRUE(rc == 0 || rc == ARBOR_ENOPROC);
    atomic_store(&lm_plain_rc[idx], rc == 0 ? 1 : 2);
    if (rc == 0) {
        arbor_msg_t *m = NULL;
        arbor_receive(ARBOR_INFINITY, &m);
        arbor_test_fail(__FILE__, __LINE__, "a linked process survived its partner's kill");
    }
}

/* Traps exits from its start (the spawn option, not a call in here: a
 * shutdown from lm_monitor_exit that came before its first run would
 * otherwise end it, not the kill). */
static void lm_victim_fn(void *arg)
{
    for (;;) {
        arbor_msg_t *m = arbor_test_recv(arbor_test_scaled_ms(60000));
        arbor_msg_free(m);
    }
}

static void lm_killer(void *arg)
{
    unsigned spins = (unsigned)(uintptr_t)arg;
    lm_wait_go();
    for (unsigned i = 0; i < spins; i++)
        arbor_yield();
    ASSERT_OK(arbor_exit_pid(lm_victim, ARBOR_KILL));
}

static void lm_root(void *arg)
{
    enum { N = LM_EACH * LM_ROLES };
    static const arbor_entry_fn fns[LM_ROLES] = {lm_trap_linker, lm_monitor, lm_demonitor,
                                                 lm_plain_linker, lm_monitor_exit};
    uint32_t rng = 777;
    long plain_linked = 0, plain_enoproc = 0;
    for (int round = 0; round < LM_ROUNDS; round++) {
        arbor_pid_t victim, killer, pids[N];
        arbor_ref_t ref;
        arbor_spawn_opts_t trapping = {.monitor = true, .trap_exit = true};
        ASSERT_OK(arbor_spawn_opt(lm_victim_fn, NULL, &trapping, &victim, &ref));
        lm_victim = victim;
        for (int i = 0; i < N; i++) {
            atomic_store(&lm_plain_rc[i], 0);
            ASSERT_OK(arbor_spawn_monitor(fns[i % LM_ROLES], (void *)(intptr_t)i, &pids[i], &ref));
        }
        rng = rng * 1103515245u + 12345u;
        /* In half the rounds the processes told to go after the killer
         * are told only once the victim is dead, so that outcome (links
         * and monitors refused with noproc) happens however the
         * schedulers interleave the rest. */
        bool wait_for_kill = (rng >> 8) & 1;
        uintptr_t spins = wait_for_kill ? 0 : (rng >> 9) % 8;
        ASSERT_OK(arbor_spawn_monitor(lm_killer, (void *)spins, &killer, &ref));
        /* Start the killer in the middle of the others, at a different
         * place each round. */
        int kill_at = (int)((rng >> 16) % N);
        for (int i = 0; i < N; i++) {
            if (i == kill_at) {
                ASSERT_OK(arbor_send(killer, TAG_GO, NULL, 0));
                while (wait_for_kill && arbor_alive(victim))
                    arbor_yield();
            }
            ASSERT_OK(arbor_send(pids[i], TAG_GO, NULL, 0));
        }
        for (int n = 0; n < N + 2; n++) {
            arbor_msg_t *m = arbor_test_recv_tag(ARBOR_TAG_DOWN, 30000);
            arbor_down_msg_t *d = m->data;
            if (d->pid == victim) {
                ASSERT_REASON(d->reason, ARBOR_EXIT_KILLED, "");
            } else if (d->pid == killer) {
                ASSERT_REASON(d->reason, ARBOR_EXIT_NORMAL, "");
            } else {
                int i = 0;
                while (i < N && pids[i] != d->pid)
                    i++;
                ASSERT_LT(i, N);
                if (i % LM_ROLES == LM_PLAIN_LINKER) {
                    int rc = atomic_load(&lm_plain_rc[i]);
                    if (rc == 1) {
                        plain_linked++;
                        lm_tally(&d->reason, "plain linker");
                    } else {
                        ASSERT_EQ(rc, 2);
                        plain_enoproc++;
                        ASSERT_REASON(d->reason, ARBOR_EXIT_NORMAL, "");
                    }
                } else {
                    ASSERT_REASON(d->reason, ARBOR_EXIT_NORMAL, "");
                }
            }
            arbor_msg_free(m);
        }
        arbor_test_no_message(0);
    }
    /* Both outcomes of the race happened (the first and the last GO are
     * sent on opposite sides of the kill in most rounds). */
    long killed = atomic_load(&lm_killed), noproc = atomic_load(&lm_noproc);
    ASSERT_GT(killed, 0);
    ASSERT_GT(noproc + plain_enoproc, 0);
    (void)plain_linked;
}

TEST_TIMEOUT(stress_links_and_monitors_race_with_kill, 90)
{
    arbor_reason_t r = arbor_test_run(lm_root, NULL);
    ASSERT_REASON(r, ARBOR_EXIT_NORMAL, "");
}

/* ---- receive timeouts racing with message arrival ----------------------------------------- */

#define RT_PAIRS  300
#define RT_MSGS   100
#define RT_TIMERS 300 /* processes racing their own send_after against receive */
#define RT_ROUNDS 100

static _Atomic long rt_received, rt_timeouts, rt_finished;

/* Sends RT_MSGS numbered messages about 1-2 ms apart: about when the
 * receiver's 1-2 ms receive timeouts expire. */
static void rt_feeder(void *arg)
{
    arbor_pid_t to = (arbor_pid_t)(uintptr_t)arg;
    for (uint32_t i = 0; i < RT_MSGS; i++) {
        ASSERT_OK(arbor_sleep(1 + i % 2));
        ASSERT_OK(arbor_send(to, TAG_DATA, &i, sizeof i));
    }
}

static void rt_receiver(void *arg)
{
    arbor_pid_t feeder;
    ASSERT_OK(arbor_spawn(rt_feeder, (void *)(uintptr_t)arbor_self(), &feeder));
    uint32_t expect = 0;
    long timeouts = 0;
    uint64_t last = arbor_now_ms();
    while (expect < RT_MSGS) {
        int64_t t = 1 + (expect + timeouts) % 2;
        uint64_t t0 = arbor_now_ms();
        arbor_msg_t *m = NULL;
        int rc = arbor_receive(t, &m);
        if (rc == ARBOR_ETIMEDOUT) {
            ASSERT_TRUE(m == NULL);
            ASSERT_GE(arbor_now_ms() - t0, t); /* never early */
            timeouts++;
            if (arbor_now_ms() - last > 10000)
                arbor_test_fail(__FILE__, __LINE__, "message %u lost", expect);
            continue;
        }
        ASSERT_OK(rc);
        ASSERT_U64_EQ(m->tag, TAG_DATA);
        ASSERT_U64_EQ(m->from, feeder);
        ASSERT_EQ(*(uint32_t *)m->data, expect); /* none lost, none repeated */
        arbor_msg_free(m);
        expect++;
        last = arbor_now_ms();
    }
    arbor_test_no_message(5);
    atomic_fetch_add(&rt_received, expect);
    atomic_fetch_add(&rt_timeouts, timeouts);
    atomic_fetch_add(&rt_finished, 1);
}

/* Each round: a send_after to itself and a receive with the same delay;
 * whichever wins, every timer message is received exactly once. */
static void rt_self_timer(void *arg)
{
    uint8_t seen[RT_ROUNDS] = {0};
    uint32_t got = 0;
    long timeouts = 0;
    for (uint32_t r = 0; r < RT_ROUNDS; r++) {
        int64_t t = 1 + (int64_t)((r + (uintptr_t)arg) % 3);
        ASSERT_OK(arbor_send_after(arbor_self(), TAG_TIMER, &r, sizeof r, (uint64_t)t, NULL));
        arbor_msg_t *m = NULL;
        uint64_t t0 = arbor_now_ms();
        int rc = arbor_receive(t, &m);
        if (rc == ARBOR_ETIMEDOUT) {
            ASSERT_GE(arbor_now_ms() - t0, t);
            timeouts++;
            continue;
        }
        ASSERT_OK(rc);
        uint32_t k = *(uint32_t *)m->data;
        ASSERT_LT(k, RT_ROUNDS);
        ASSERT_EQ(seen[k], 0);
        seen[k] = 1;
        got++;
        arbor_msg_free(m);
    }
    while (got < RT_ROUNDS) {
        arbor_msg_t *m = arbor_test_recv(10000); /* a timer message was lost otherwise */
        uint32_t k = *(uint32_t *)m->data;
        ASSERT_LT(k, RT_ROUNDS);
        ASSERT_EQ(seen[k], 0);
        seen[k] = 1;
        got++;
        arbor_msg_free(m);
    }
    arbor_test_no_message(10);
    atomic_fetch_add(&rt_received, got);
    atomic_fetch_add(&rt_timeouts, timeouts);
    atomic_fetch_add(&rt_finished, 1);
}

static void rt_root(void *arg)
{
    atomic_store(&rt_received, 0);
    atomic_store(&rt_timeouts, 0);
    atomic_store(&rt_finished, 0);
    for (int i = 0; i < RT_PAIRS; i++)
        ASSERT_OK(arbor_spawn(rt_receiver, NULL, NULL));
    for (int i = 0; i < RT_TIMERS; i++)
        ASSERT_OK(arbor_spawn(rt_self_timer, (void *)(uintptr_t)i, NULL));
    wait_count(&rt_finished, RT_PAIRS + RT_TIMERS, arbor_test_scaled_ms(60000));
    long received = atomic_load(&rt_received), timeouts = atomic_load(&rt_timeouts);
    ASSERT_EQ(received, (long)RT_PAIRS * RT_MSGS + (long)RT_TIMERS * RT_ROUNDS);
    ASSERT_GT(timeouts, 0); /* the race did happen */
}

TEST_TIMEOUT(stress_receive_timeouts_race_with_arrivals, 90)
{
    arbor_reason_t r = arbor_test_run(rt_root, NULL);
    ASSERT_REASON(r, ARBOR_EXIT_NORMAL, "");
}

/* ---- 100,000 timers, half cancelled ---------------------------------------------------------- */

/* A handle made in a process is cancelled or released by that process;
 * one made outside any process, by anyone (message.h). So the root cancels
 * its own timers as it goes, and two other processes cancel the timers a
 * blocking-pool thread makes meanwhile, as soon as each is made. Either
 * way the cancels race with timers of 0 to TM_MAX_MS ms firing on the
 * schedulers. Even indices are cancelled, odd ones released. */
#define TM_N       100000
#define TM_FOREIGN 20000 /* the last ones, made on a blocking-pool thread */
#define TM_OWN     (TM_N - TM_FOREIGN)
#define TM_LAG     1000 /* the root cancels this many timers behind */
#define TM_MAX_MS  150

enum { TM_PENDING, TM_CANCELLED, TM_TOO_LATE, TM_RELEASED };

static arbor_timer_t **tm_handles;
static _Atomic uint8_t *tm_state;
static _Atomic uint32_t tm_foreign_made; /* handles [TM_OWN, TM_OWN + this) are set */
static _Atomic uint64_t tm_foreign_done_ms;

static uint64_t tm_delay(uint32_t i)
{
    return (i * 7919u) % TM_MAX_MS;
}

/* Cancels timer i and releases timer i + 1. */
static void tm_settle_pair(uint32_t i)
{
    int rc = arbor_cancel_timer(tm_handles[i]);
    ASSERT_TRUE(rc == 0 || rc == ARBOR_ENOENT);
    atomic_store(&tm_state[i], rc == 0 ? TM_CANCELLED : TM_TOO_LATE);
    arbor_timer_release(tm_handles[i + 1]);
    atomic_store(&tm_state[i + 1], TM_RELEASED);
}

static void *tm_make_foreign(void *arg)
{
    arbor_pid_t to = *(arbor_pid_t *)arg;
    for (uint32_t i = TM_OWN; i < TM_N; i++) {
        ASSERT_OK(arbor_send_after(to, TAG_TIMER, &i, sizeof i, tm_delay(i), &tm_handles[i]));
        atomic_store_explicit(&tm_foreign_made, i + 1 - TM_OWN, memory_order_release);
    }
    atomic_store(&tm_foreign_done_ms, arbor_now_ms());
    return NULL;
}

static void tm_foreign_maker(void *arg)
{
    ASSERT_OK(arbor_blocking(tm_make_foreign, arg, NULL));
}

/* Settles the foreign pairs whose first index is TM_OWN + phase modulo 4. */
static void tm_canceller(void *arg)
{
    uint32_t phase = (uint32_t)(uintptr_t)arg;
    for (uint32_t i = TM_OWN + phase; i < TM_N; i += 4) {
        while (atomic_load_explicit(&tm_foreign_made, memory_order_acquire) < i - TM_OWN + 2)
            arbor_yield();
        tm_settle_pair(i);
        if (i % 256 == phase)
            arbor_yield();
    }
}

static void tm_root(void *arg)
{
    static arbor_pid_t self;
    self = arbor_self();
    tm_handles = calloc(TM_N, sizeof *tm_handles);
    tm_state = calloc(TM_N, sizeof *tm_state);
    uint8_t *seen = calloc(TM_N, 1);
    ASSERT_TRUE(tm_handles && tm_state && seen);
    atomic_store(&tm_foreign_made, 0);
    arbor_pid_t pids[3];
    arbor_ref_t ref;
    ASSERT_OK(arbor_spawn_monitor(tm_canceller, (void *)(uintptr_t)0, &pids[0], &ref));
    ASSERT_OK(arbor_spawn_monitor(tm_canceller, (void *)(uintptr_t)2, &pids[1], &ref));
    ASSERT_OK(arbor_spawn_monitor(tm_foreign_maker, &self, &pids[2], &ref));
    for (uint32_t i = 0; i < TM_OWN; i++) {
        ASSERT_OK(arbor_send_after(self, TAG_TIMER, &i, sizeof i, tm_delay(i), &tm_handles[i]));
        if (i % 2 == 1 && i >= TM_LAG + 1)
            tm_settle_pair(i - 1 - TM_LAG);
        if (i % 256 == 255)
            arbor_yield(); /* lets the wheels turn: some timers fire first */
    }
    uint64_t made = arbor_now_ms();
    for (uint32_t i = TM_OWN - TM_LAG; i < TM_OWN; i += 2)
        tm_settle_pair(i);
    for (int i = 0; i < 3; i++) {
        arbor_msg_t *m = arbor_test_recv_tag(ARBOR_TAG_DOWN, arbor_test_scaled_ms(60000));
        ASSERT_REASON(((arbor_down_msg_t *)m->data)->reason, ARBOR_EXIT_NORMAL, "");
        arbor_msg_free(m);
    }
    long cancelled = 0, too_late = 0, released = 0;
    for (uint32_t i = 0; i < TM_N; i++) {
        uint8_t st = atomic_load(&tm_state[i]);
        cancelled += st == TM_CANCELLED;
        too_late += st == TM_TOO_LATE;
        released += st == TM_RELEASED;
    }
    ASSERT_EQ(cancelled + too_late, TM_N / 2);
    ASSERT_EQ(released, TM_N / 2);
    ASSERT_GT(cancelled, 0);
    /* Exactly the timers not cancelled in time arrive, each once. */
    long expected = released + too_late;
    for (long n = 0; n < expected; n++) {
        arbor_msg_t *m = arbor_test_recv(10000);
        ASSERT_U64_EQ(m->tag, TAG_TIMER);
        uint32_t i = *(uint32_t *)m->data;
        ASSERT_LT(i, TM_N);
        uint8_t state = atomic_load(&tm_state[i]);
        ASSERT_NE(state, TM_CANCELLED); /* a cancelled timer never fires */
        ASSERT_EQ(seen[i], 0);
        seen[i] = 1;
        arbor_msg_free(m);
    }
    /* Past the last deadline, nothing more arrives. */
    uint64_t last = atomic_load(&tm_foreign_done_ms);
    uint64_t quiet = (last > made ? last : made) + TM_MAX_MS + 100;
    uint64_t now = arbor_now_ms();
    if (now < quiet)
        arbor_sleep(quiet - now);
    arbor_test_no_message(20);
    free(seen);
    free(tm_handles);
    free((void *)tm_state);
    tm_handles = NULL;
    tm_state = NULL;
}

TEST_TIMEOUT(stress_100k_timers_half_cancelled, 90)
{
    arbor_reason_t r = arbor_test_run(tm_root, NULL);
    ASSERT_REASON(r, ARBOR_EXIT_NORMAL, "");
}

/* ---- freeing the blocks of exited processes ---------------------------------------------- */

/* A process's control block is freed only once no scheduler can still be
 * delivering a plain message to it (src/runtime/reclaim.h). These check
 * that blocks do not pile up: when the runtime falls idle, and while one
 * scheduler never sleeps. */
#include "../../src/runtime/reclaim.h"

#define RECLAIM_N 10000

static void exit_at_once(void *arg)
{
    (void)arg;
}

static void yield_until(void *arg)
{
    _Atomic bool *stop = arg;
    while (!atomic_load(stop))
        arbor_yield();
}

static void spawn_and_reap(void)
{
    for (long i = 0; i < RECLAIM_N; i++) {
        arbor_pid_t pid;
        arbor_ref_t ref;
        ASSERT_OK(arbor_spawn_monitor(exit_at_once, NULL, &pid, &ref));
    }
    for (long i = 0; i < RECLAIM_N; i++)
        arbor_msg_free(arbor_test_recv_tag(ARBOR_TAG_DOWN, 10000));
}

static void reclaim_root(void *arg)
{
    (void)arg;
    /* Idle: the last scheduler to fall asleep frees every block. */
    spawn_and_reap();
    WAIT_UNTIL(arbor__reclaim_pending() == 0, 10000);

    /* Busy: a scheduler that never sleeps frees them, those handed over by
     * one that sleeps included. */
    static _Atomic bool stop;
    atomic_store(&stop, false);
    arbor_pid_t spinner;
    arbor_ref_t ref;
    ASSERT_OK(arbor_spawn_monitor(yield_until, (void *)&stop, &spinner, &ref));
    spawn_and_reap();
    WAIT_UNTIL(arbor__reclaim_pending() == 0, 10000);
    atomic_store(&stop, true);
    arbor_msg_free(arbor_test_recv_tag(ARBOR_TAG_DOWN, 10000));
}

TEST_TIMEOUT(reclaim_frees_exited_processes_while_the_runtime_runs, 60)
{
    arbor_reason_t r = arbor_test_run(reclaim_root, NULL);
    ASSERT_REASON(r, ARBOR_EXIT_NORMAL, "");
}

/*
 * Processes and messages: spawning, sending, receiving, selective receive,
 * timeouts, names, the process allocator and introspection.
 */
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "test.h"

enum { TAG_PING = 1, TAG_PONG, TAG_DATA, TAG_OTHER, TAG_DONE };

static void echo(void *arg)
{
    arbor_msg_t *m = arbor_test_recv(5000);
    ASSERT_OK(arbor_send(m->from, TAG_PONG, m->data, m->size));
    arbor_msg_free(m);
}

static void send_receive_root(void *arg)
{
    arbor_pid_t pid;
    ASSERT_OK(arbor_spawn(echo, NULL, &pid));
    ASSERT_NE(pid, ARBOR_NOPID);
    ASSERT_NE(pid, arbor_self());
    ASSERT_OK(arbor_send(pid, TAG_PING, "hello", 6));
    arbor_msg_t *m = arbor_test_recv(5000);
    ASSERT_U64_EQ(m->tag, TAG_PONG);
    ASSERT_U64_EQ(m->from, pid);
    ASSERT_EQ(m->size, 6);
    ASSERT_STREQ(m->data, "hello");
    arbor_msg_free(m);
}

TEST(spawn_send_receive_round_trip)
{
    arbor_reason_t r = arbor_test_run(send_receive_root, NULL);
    ASSERT_REASON(r, ARBOR_EXIT_NORMAL, "");
}

static void order_root(void *arg)
{
    arbor_pid_t self = arbor_self();
    for (int i = 0; i < 1000; i++)
        ASSERT_OK(arbor_send(self, TAG_DATA, &i, sizeof i));
    for (int i = 0; i < 1000; i++) {
        arbor_msg_t *m = arbor_test_recv(1000);
        ASSERT_EQ(*(int *)m->data, i);
        arbor_msg_free(m);
    }
}

TEST(messages_from_one_sender_arrive_in_order)
{
    arbor_test_run(order_root, NULL);
}

/* Payloads of every small size (copied without memcpy) and a large one
 * arrive byte for byte. */
static void payload_sizes_root(void *arg)
{
    unsigned char buf[300];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (unsigned char)(i * 7 + 1);
    for (size_t n = 0; n <= 40; n++) {
        ASSERT_OK(arbor_send(arbor_self(), TAG_DATA, n ? buf + n : NULL, n));
        arbor_msg_t *m = arbor_test_recv(1000);
        ASSERT_EQ(m->size, n);
        ASSERT_TRUE(n == 0 || memcmp(m->data, buf + n, n) == 0);
        arbor_msg_free(m);
    }
    ASSERT_OK(arbor_send(arbor_self(), TAG_DATA, buf, sizeof buf));
    arbor_msg_t *m = arbor_test_recv(1000);
    ASSERT_EQ(m->size, sizeof buf);
    ASSERT_TRUE(memcmp(m->data, buf, sizeof buf) == 0);
    arbor_msg_free(m);
}

TEST(message_payloads_of_every_small_size_arrive_intact)
{
    arbor_test_run(payload_sizes_root, NULL);
}

/* Payloads at the edges of the message nodes' size classes (mailbox.h:
 * small up to 64 bytes, mid-sized up to 1,024, larger from malloc), many
 * in flight at once so that recycled nodes of each class are reused, each
 * filled with its own pattern: a node recycled into the wrong class would
 * be overwritten by a larger payload, or overrun its block. */
static void payload_classes_root(void *arg)
{
    static unsigned char buf[1100];
    const size_t sizes[] = {63, 64, 65, 200, 1023, 1024, 1025, 1100};
    enum { ROUNDS = 3, IN_FLIGHT = 300 };
    for (int round = 0; round < ROUNDS; round++) {
        for (int k = 0; k < IN_FLIGHT; k++) {
            size_t n = sizes[k % 8];
            memset(buf, k + round, n);
            ASSERT_OK(arbor_send(arbor_self(), TAG_DATA, buf, n));
        }
        for (int k = 0; k < IN_FLIGHT; k++) {
            size_t n = sizes[k % 8];
            arbor_msg_t *m = arbor_test_recv(1000);
            ASSERT_EQ(m->size, n);
            const unsigned char *d = m->data;
            for (size_t i = 0; i < n; i++)
                ASSERT_EQ(d[i], (unsigned char)(k + round));
            arbor_msg_free(m);
        }
    }
}

TEST(message_payloads_at_node_size_class_edges_arrive_intact)
{
    arbor_test_run(payload_classes_root, NULL);
}

static bool is_other(const arbor_msg_t *m, void *arg)
{
    return m->tag == TAG_OTHER;
}

static void selective_root(void *arg)
{
    arbor_pid_t self = arbor_self();
    ASSERT_OK(arbor_send(self, TAG_DATA, "a", 2));
    ASSERT_OK(arbor_send(self, TAG_OTHER, "b", 2));
    ASSERT_OK(arbor_send(self, TAG_DATA, "c", 2));
    arbor_msg_t *m;
    ASSERT_OK(arbor_receive_match(is_other, NULL, 0, &m));
    ASSERT_STREQ(m->data, "b");
    arbor_msg_free(m);
    ASSERT_ERR(arbor_receive_match(is_other, NULL, 0, &m), ARBOR_ETIMEDOUT);
    /* What comes now queues behind the messages the scan passed over. */
    ASSERT_OK(arbor_send(self, TAG_DATA, "d", 2));
    m = arbor_test_recv(0);
    ASSERT_STREQ(m->data, "a");
    arbor_msg_free(m);
    m = arbor_test_recv(0);
    ASSERT_STREQ(m->data, "c");
    arbor_msg_free(m);
    m = arbor_test_recv(0);
    ASSERT_STREQ(m->data, "d");
    arbor_msg_free(m);
}

TEST(selective_receive_keeps_other_messages_in_order)
{
    arbor_test_run(selective_root, NULL);
}

static void timeout_root(void *arg)
{
    arbor_msg_t *m;
    uint64_t t0 = arbor_now_ms();
    ASSERT_ERR(arbor_receive(50, &m), ARBOR_ETIMEDOUT);
    uint64_t dt = arbor_now_ms() - t0;
    ASSERT_GE(dt, 50);
    ASSERT_ERR(arbor_receive(0, &m), ARBOR_ETIMEDOUT);
    /* A message that arrives during the wait ends it early. */
    ASSERT_OK(arbor_send_after(arbor_self(), TAG_DATA, "x", 2, 20, NULL));
    t0 = arbor_now_ms();
    ASSERT_OK(arbor_receive(5000, &m));
    ASSERT_LT(arbor_now_ms() - t0, 4000);
    arbor_msg_free(m);
}

TEST(receive_times_out_and_wakes_on_message)
{
    arbor_test_run(timeout_root, NULL);
}

/* Long timeouts take their deadline from the coarse clock, which lags the
 * precise one by up to a kernel tick: they must still never end early. */
static void long_timeout_root(void *arg)
{
    enum { MS = 130 };
    for (int i = 0; i < 3; i++) {
        arbor_msg_t *m;
        uint64_t t0 = arbor_now_ms();
        ASSERT_ERR(arbor_receive(MS, &m), ARBOR_ETIMEDOUT);
        ASSERT_GE(arbor_now_ms() - t0, MS);
        t0 = arbor_now_ms();
        ASSERT_OK(arbor_sleep(MS));
        ASSERT_GE(arbor_now_ms() - t0, MS);
        t0 = arbor_now_ms();
        ASSERT_OK(arbor_send_after(arbor_self(), TAG_DATA, "x", 2, MS, NULL));
        m = arbor_test_recv(5000);
        ASSERT_GE(arbor_now_ms() - t0, MS);
        arbor_msg_free(m);
    }
}

TEST(long_timeouts_never_end_early)
{
    arbor_test_run(long_timeout_root, NULL);
}

static void sleep_root(void *arg)
{
    uint64_t t0 = arbor_now_ms();
    ASSERT_OK(arbor_sleep(30));
    ASSERT_GE(arbor_now_ms() - t0, 30);
}

TEST(sleep_waits_at_least_the_time_asked)
{
    arbor_test_run(sleep_root, NULL);
}

static void timer_root(void *arg)
{
    arbor_timer_t *t;
    ASSERT_OK(arbor_send_after(arbor_self(), TAG_DATA, "late", 5, 10000, &t));
    ASSERT_OK(arbor_cancel_timer(t));
    arbor_test_no_message(50);
    ASSERT_OK(arbor_send_after(arbor_self(), TAG_DATA, "soon", 5, 1, &t));
    arbor_msg_t *m = arbor_test_recv(5000);
    ASSERT_STREQ(m->data, "soon");
    arbor_msg_free(m);
    ASSERT_ERR(arbor_cancel_timer(t), ARBOR_ENOENT);
}

TEST(cancel_timer_reports_whether_it_fired)
{
    arbor_test_run(timer_root, NULL);
}

static void dead_root(void *arg)
{
    arbor_pid_t pid;
    arbor_ref_t ref;
    ASSERT_OK(arbor_spawn_monitor(echo, NULL, &pid, &ref));
    ASSERT_OK(arbor_exit_pid(pid, ARBOR_KILL));
    arbor_msg_t *m = arbor_test_recv_tag(ARBOR_TAG_DOWN, 5000);
    arbor_msg_free(m);
    /* Sending to a dead process is a silent no-op, as in Erlang. */
    ASSERT_OK(arbor_send(pid, TAG_DATA, "x", 2));
    static int moved_freed;
    int *block = malloc(sizeof *block);
    ASSERT_OK(arbor_send_move(pid, TAG_DATA, block, sizeof *block, free));
    (void)moved_freed;
}

TEST(send_to_dead_process_is_silent)
{
    arbor_test_run(dead_root, NULL);
}

static void move_root(void *arg)
{
    char *block = strdup("moved");
    ASSERT_OK(arbor_send_move(arbor_self(), TAG_DATA, block, 6, free));
    arbor_msg_t *m = arbor_test_recv(1000);
    ASSERT_PTR_EQ(m->data, block);
    char *taken = arbor_msg_take(m);
    arbor_msg_free(m);
    ASSERT_STREQ(taken, "moved");
    free(taken);
    /* Not taken: freed with the message. */
    ASSERT_OK(arbor_send_move(arbor_self(), TAG_DATA, strdup("x"), 2, free));
    arbor_msg_free(arbor_test_recv(1000));
}

TEST(send_move_passes_ownership)
{
    arbor_test_run(move_root, NULL);
}

static void bad_input_root(void *arg)
{
    ASSERT_ERR(arbor_send(ARBOR_NOPID, TAG_DATA, "x", 2), ARBOR_EINVAL);
    ASSERT_ERR(arbor_send(arbor_self(), ARBOR_TAG_EXIT, "x", 2), ARBOR_EINVAL);
    ASSERT_ERR(arbor_send(arbor_self(), TAG_DATA, NULL, 2), ARBOR_EINVAL);
    ASSERT_ERR(arbor_spawn(NULL, NULL, NULL), ARBOR_EINVAL);
    arbor_test_no_message(0);
}

TEST(bad_arguments_are_refused_and_change_nothing)
{
    arbor_test_run(bad_input_root, NULL);
    ASSERT_ERR(arbor_spawn_link(echo, NULL, NULL), ARBOR_ENOTPROC);
    ASSERT_ERR(arbor_run(NULL, NULL, NULL, NULL), ARBOR_EINVAL);
    const arbor_config_t bad[] = {
        {.schedulers = 1025},
        {.blocking_threads = 1025},
        {.steal_after_us = 1000001},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ASSERT_ERR(arbor_run(&bad[i], bad_input_root, NULL, NULL), ARBOR_EINVAL);
}

static void names_root(void *arg)
{
    arbor_pid_t pid, owner;
    ASSERT_OK(arbor_spawn(echo, NULL, &pid));
    ASSERT_OK(arbor_register("echo", pid, NULL));
    ASSERT_U64_EQ(arbor_whereis("echo"), pid);
    ASSERT_ERR(arbor_register("echo", arbor_self(), &owner), ARBOR_EEXIST);
    ASSERT_U64_EQ(owner, pid);
    ASSERT_ERR(arbor_register("other", pid, &owner), ARBOR_EEXIST);
    ASSERT_U64_EQ(arbor_whereis("nobody"), ARBOR_NOPID);
    ASSERT_ERR(arbor_register("", pid, NULL), ARBOR_EINVAL);
    /* The name goes when the process does. */
    arbor_ref_t ref;
    ASSERT_OK(arbor_monitor(pid, &ref));
    ASSERT_OK(arbor_send(pid, TAG_PING, "", 1));
    arbor_msg_free(arbor_test_recv_tag(TAG_PONG, 5000));
    arbor_msg_free(arbor_test_recv_tag(ARBOR_TAG_DOWN, 5000));
    ASSERT_U64_EQ(arbor_whereis("echo"), ARBOR_NOPID);
    ASSERT_OK(arbor_register("echo", arbor_self(), NULL));
    ASSERT_OK(arbor_unregister("echo"));
    ASSERT_ERR(arbor_unregister("echo"), ARBOR_ENOENT);
}

/* Names that share their first words, differ only in their last byte or
 * in their length, and every length up to ARBOR_NAME_MAX: each is found
 * as itself (name.c hashes a word at a time, the last word overlapping). */
static void wait_to_be_killed(void *arg)
{
    arbor_msg_free(arbor_test_recv(ARBOR_INFINITY));
}

static void many_names_root(void *arg)
{
    enum { N = ARBOR_NAME_MAX };
    char names[2 * N][ARBOR_NAME_MAX + 2];
    for (int i = 0; i < N; i++) {
        memset(names[i], 'n', (size_t)i + 1); /* "n", "nn", ... 63 of them */
        names[i][i + 1] = '\0';
        memcpy(names[N + i], names[i], (size_t)i + 2);
        names[N + i][i] = 'm'; /* the same but for the last byte */
    }
    arbor_pid_t pids[2 * N];
    for (int i = 0; i < 2 * N; i++) {
        ASSERT_OK(arbor_spawn(wait_to_be_killed, NULL, &pids[i]));
        ASSERT_OK(arbor_register(names[i], pids[i], NULL));
    }
    for (int i = 0; i < 2 * N; i++)
        ASSERT_U64_EQ(arbor_whereis(names[i]), pids[i]);
    char too_long[ARBOR_NAME_MAX + 2];
    memset(too_long, 'n', sizeof too_long - 1);
    too_long[sizeof too_long - 1] = '\0';
    ASSERT_U64_EQ(arbor_whereis(too_long), ARBOR_NOPID);
    ASSERT_ERR(arbor_register(too_long, pids[0], NULL), ARBOR_ETOOBIG);
    for (int i = 0; i < 2 * N; i += 2)
        ASSERT_OK(arbor_unregister(names[i]));
    for (int i = 0; i < 2 * N; i++)
        ASSERT_U64_EQ(arbor_whereis(names[i]), i % 2 ? pids[i] : ARBOR_NOPID);
    for (int i = 0; i < 2 * N; i++)
        ASSERT_OK(arbor_exit_pid(pids[i], ARBOR_KILL));
}

/* arbor_whereis_cached answers as arbor_whereis after every kind of
 * change to the name table: a register, an unregister, the owner's death,
 * another name's change; and for another name at once. Without the
 * table's generation it would go on answering its first pid. */
static void cached_names_root(void *arg)
{
    static const char name[] = "cached", other[] = "cached-other";
    arbor_name_cache_t cache = {0};
    ASSERT_U64_EQ(arbor_whereis_cached(name, &cache), ARBOR_NOPID);
    arbor_pid_t a, b;
    ASSERT_OK(arbor_spawn(wait_to_be_killed, NULL, &a));
    ASSERT_OK(arbor_spawn(wait_to_be_killed, NULL, &b));
    ASSERT_OK(arbor_register(name, a, NULL));
    ASSERT_U64_EQ(arbor_whereis_cached(name, &cache), a);
    ASSERT_U64_EQ(arbor_whereis_cached(name, &cache), a);
    ASSERT_OK(arbor_unregister(name));
    ASSERT_U64_EQ(arbor_whereis_cached(name, &cache), ARBOR_NOPID);
    ASSERT_OK(arbor_register(name, b, NULL));
    ASSERT_U64_EQ(arbor_whereis_cached(name, &cache), b);
    /* Another name, through the same cache: its own answer. */
    ASSERT_OK(arbor_register(other, a, NULL));
    ASSERT_U64_EQ(arbor_whereis_cached(other, &cache), a);
    ASSERT_U64_EQ(arbor_whereis_cached(name, &cache), b);
    /* The owner's death releases the name. */
    arbor_ref_t ref;
    ASSERT_OK(arbor_monitor(b, &ref));
    ASSERT_OK(arbor_exit_pid(b, ARBOR_KILL));
    arbor_msg_free(arbor_test_recv_tag(ARBOR_TAG_DOWN, 5000));
    ASSERT_U64_EQ(arbor_whereis_cached(name, &cache), ARBOR_NOPID);
    ASSERT_U64_EQ(arbor_whereis(name), ARBOR_NOPID);
    ASSERT_OK(arbor_register(name, arbor_self(), NULL));
    ASSERT_U64_EQ(arbor_whereis_cached(name, &cache), arbor_self());
    ASSERT_OK(arbor_exit_pid(a, ARBOR_KILL));
}

TEST(whereis_cached_answers_as_whereis_after_every_change)
{
    arbor_test_run(cached_names_root, NULL);
}

TEST(names_alike_in_prefix_tail_or_length_are_told_apart)
{
    arbor_test_run(many_names_root, NULL);
}

TEST(names_register_clash_and_release_on_exit)
{
    arbor_test_run(names_root, NULL);
}

static void heap_child(void *arg)
{
    for (int i = 0; i < 100; i++)
        ASSERT_TRUE(arbor_alloc(1000) != NULL);
    void *p = arbor_realloc(arbor_alloc(10), 5000);
    ASSERT_TRUE(p != NULL);
    arbor_free(arbor_calloc(4, 4));
    arbor_msg_free(arbor_test_recv(ARBOR_INFINITY)); /* killed while waiting */
}

static void heap_root(void *arg)
{
    arbor_pid_t pid;
    ASSERT_OK(arbor_spawn(heap_child, NULL, &pid));
    arbor_process_info_t info;
    WAIT_UNTIL(arbor_process_info(pid, &info) == 0 && info.heap_bytes >= 105000, 5000);
    /* 100 blocks of 1,000 and one of 5,000 bytes (one of 16 freed): each
     * counted with its header and malloc's rounding, a few dozen bytes. */
    ASSERT_TRUE(info.heap_bytes < 105000 + 101 * 64);
    ASSERT_OK(arbor_exit_pid(pid, ARBOR_KILL));
    arbor_test_wait_dead(pid, 5000);
    ASSERT_EQ(arbor_alloc(1) != NULL, 1);
}

TEST(process_memory_is_freed_when_killed)
{
    /* LeakSanitizer fails this case if the killed process's blocks leak. */
    arbor_test_run(heap_root, NULL);
    ASSERT_TRUE(arbor_alloc(10) == NULL); /* outside a process */
}

static arbor_process_info_t pid_info_scratch;

/* A block handed from one process to another without a copy: disowned,
 * it leaves its process's count and outlives it; adopted, it is the other
 * process's (counted, freed with it). */
static void disown_child(void *arg)
{
    void **out = arg;
    char *b = arbor_alloc(50000);
    ASSERT_TRUE(b != NULL);
    memset(b, 'x', 50000);
    arbor_process_info_t info;
    ASSERT_OK(arbor_process_info(arbor_self(), &info));
    size_t with = info.heap_bytes;
    arbor_disown(b);
    ASSERT_OK(arbor_process_info(arbor_self(), &info));
    ASSERT_TRUE(with - info.heap_bytes >= 50000);
    *out = b; /* the process exits: the block stays */
}

static void adopt_child(void *arg)
{
    char *b = arg;
    arbor_process_info_t info;
    ASSERT_OK(arbor_process_info(arbor_self(), &info));
    size_t without = info.heap_bytes;
    arbor_adopt(b);
    ASSERT_OK(arbor_process_info(arbor_self(), &info));
    ASSERT_TRUE(info.heap_bytes - without >= 50000);
    ASSERT_EQ(b[49999], 'x');
    arbor_msg_free(arbor_test_recv(ARBOR_INFINITY)); /* killed: the block goes with it */
}

static void disown_root(void *arg)
{
    (void)arg;
    void *b = NULL;
    arbor_pid_t pid;
    ASSERT_OK(arbor_spawn(disown_child, &b, &pid));
    arbor_test_wait_dead(pid, 5000);
    ASSERT_TRUE(b != NULL);
    ASSERT_EQ(((char *)b)[0], 'x'); /* ASan: not freed with its process */
    ASSERT_OK(arbor_spawn(adopt_child, b, &pid));
    WAIT_UNTIL(arbor_process_info(pid, &pid_info_scratch) == 0 &&
                   pid_info_scratch.heap_bytes >= 50000,
               5000);
    ASSERT_OK(arbor_exit_pid(pid, ARBOR_KILL));
    arbor_test_wait_dead(pid, 5000);
    /* And one disowned and freed by any thread, outside a process too. */
    void *c = arbor_alloc(100);
    arbor_disown(c);
    arbor_free_disowned(c);
    arbor_free_disowned(NULL);
}

TEST(a_disowned_block_outlives_its_process_and_an_adopter_frees_it)
{
    /* LeakSanitizer fails this case if the adopted block leaks. */
    arbor_test_run(disown_root, NULL);
}

static void info_child(void *arg)
{
    arbor_set_label("tester");
    arbor_trap_exit(true);
    arbor_msg_free(arbor_test_recv(ARBOR_INFINITY));
}

static void info_root(void *arg)
{
    arbor_pid_t pid;
    ASSERT_OK(arbor_spawn_link(info_child, NULL, &pid));
    ASSERT_OK(arbor_register("infochild", pid, NULL));
    arbor_process_info_t info;
    WAIT_UNTIL(arbor_process_info(pid, &info) == 0 && info.status == ARBOR_STATUS_WAITING, 5000);
    ASSERT_STREQ(info.label, "tester");
    ASSERT_STREQ(info.name, "infochild");
    ASSERT_TRUE(info.trap_exit);
    ASSERT_EQ(info.links, 1);
    ASSERT_TRUE(info.holds_stack);
    ASSERT_FALSE(info.reactive);
    ASSERT_OK(arbor_send(pid, TAG_DATA, "a", 2));
    size_t n = 0;
    arbor_pid_t pids[8];
    ASSERT_OK(arbor_processes(pids, 8, &n));
    ASSERT_EQ(n, 2);
    arbor_test_wait_dead(pid, 5000);
    ASSERT_ERR(arbor_process_info(pid, &info), ARBOR_ENOPROC);
}

TEST(process_info_reports_state)
{
    arbor_test_run(info_root, NULL);
}

static bool any_message(const arbor_msg_t *m, void *arg)
{
    return true;
}

static void own_queue_root(void *arg)
{
    arbor_pid_t self = arbor_self();
    ASSERT_EQ(arbor_test_mailbox_len(), 0);
    for (int i = 0; i < 3; i++)
        ASSERT_OK(arbor_send(self, TAG_DATA, "x", 2));
    /* Still in the inbox: nothing has looked at them yet. */
    ASSERT_EQ(arbor_test_mailbox_len(), 3);
    /* A scan takes them all in; one taken, two left, then one more sent. */
    arbor_msg_t *m;
    ASSERT_OK(arbor_receive_match(any_message, NULL, 0, &m));
    arbor_msg_free(m);
    ASSERT_OK(arbor_send(self, TAG_DATA, "y", 2));
    ASSERT_EQ(arbor_test_mailbox_len(), 3);
    for (size_t left = 2; left != (size_t)-1; left--) {
        arbor_msg_free(arbor_test_recv(0));
        ASSERT_EQ(arbor_test_mailbox_len(), left);
    }
}

TEST(process_info_of_the_caller_counts_messages_not_yet_looked_at)
{
    arbor_test_run(own_queue_root, NULL);
}

/* On each TAG_PING holding n, sends itself n messages and takes each
 * back, then answers TAG_DONE. */
static void busy_child(void *arg)
{
    (void)arg;
    for (;;) {
        arbor_msg_t *m;
        ASSERT_OK(arbor_receive(ARBOR_INFINITY, &m));
        int n;
        memcpy(&n, m->data, sizeof n);
        arbor_pid_t from = m->from;
        arbor_msg_free(m);
        for (int i = 0; i < n; i++) {
            ASSERT_OK(arbor_send(arbor_self(), TAG_DATA, NULL, 0));
            ASSERT_OK(arbor_receive(ARBOR_INFINITY, &m));
            arbor_msg_free(m);
        }
        ASSERT_OK(arbor_send(from, TAG_DONE, NULL, 0));
    }
}

/* busy's reductions once it waits again (they do not change meanwhile). */
static uint64_t settled_reductions(arbor_pid_t busy)
{
    arbor_process_info_t info;
    WAIT_UNTIL(arbor_process_info(busy, &info) == 0 && info.status == ARBOR_STATUS_WAITING, 5000);
    uint64_t r = info.reductions;
    ASSERT_OK(arbor_process_info(busy, &info));
    ASSERT_U64_EQ(info.reductions, r);
    return r;
}

static void reductions_root(void *arg)
{
    arbor_pid_t busy;
    ASSERT_OK(arbor_spawn(busy_child, NULL, &busy));
    uint64_t before = settled_reductions(busy);
    /* Two rounds, each 2n reductions of work (a send and a receive per
     * message) and a few of the round's own (its PING, its DONE); the
     * second spans several slices of 2,000. */
    int rounds[] = {1000, 5000};
    for (int k = 0; k < 2; k++) {
        int n = rounds[k];
        ASSERT_OK(arbor_send(busy, TAG_PING, &n, sizeof n));
        arbor_msg_free(arbor_test_recv_tag(TAG_DONE, 5000));
        uint64_t after = settled_reductions(busy);
        ASSERT_GE(after - before, 2 * (uint64_t)n);
        ASSERT_LE(after - before, 2 * (uint64_t)n + 8);
        before = after;
    }
    ASSERT_OK(arbor_exit_pid(busy, ARBOR_KILL));
    /* The caller's own count, too: it sent and received above. */
    arbor_process_info_t self;
    ASSERT_OK(arbor_process_info(arbor_self(), &self));
    ASSERT_GE(self.reductions, 4);
}

TEST(process_info_counts_reductions_done)
{
    arbor_test_run(reductions_root, NULL);
}

static void *blocking_fn(void *arg)
{
    usleep(20000);
    return (char *)arg + 1;
}

static void blocking_child(void *arg)
{
    void *res;
    char buf[4] = "abc";
    ASSERT_OK(arbor_blocking(blocking_fn, buf, &res));
    ASSERT_PTR_EQ(res, buf + 1);
    arbor_send(*(arbor_pid_t *)arg, TAG_DATA, "done", 5);
}

static void blocking_root(void *arg)
{
    arbor_pid_t self = arbor_self();
    arbor_pid_t pids[8];
    for (int i = 0; i < 8; i++)
        ASSERT_OK(arbor_spawn(blocking_child, &self, &pids[i]));
    /* Eight 20 ms jobs on a 4-thread pool while this process keeps running. */
    for (int i = 0; i < 8; i++)
        arbor_msg_free(arbor_test_recv_tag(TAG_DATA, 5000));
}

TEST(blocking_pool_runs_work_off_the_schedulers)
{
    arbor_test_run(blocking_root, NULL);
}

/* A job that runs until the test lets it end, so that the kill surely
 * lands while it runs. */
static atomic_bool job_running, job_release;

static void *gated_fn(void *arg)
{
    atomic_store(&job_running, true);
    while (!atomic_load(&job_release))
        usleep(1000);
    return arg;
}

static void kill_during_blocking_child(void *arg)
{
    void *res;
    arbor_blocking(gated_fn, "x", &res);
    arbor_send(*(arbor_pid_t *)arg, TAG_DATA, "survived", 9);
}

static void kill_during_blocking_root(void *arg)
{
    arbor_pid_t self = arbor_self(), pid;
    arbor_ref_t ref;
    atomic_store(&job_running, false);
    atomic_store(&job_release, false);
    ASSERT_OK(arbor_spawn_monitor(kill_during_blocking_child, &self, &pid, &ref));
    WAIT_UNTIL(atomic_load(&job_running), 5000);
    ASSERT_OK(arbor_exit_pid(pid, ARBOR_KILL));
    arbor_test_no_message(20); /* no DOWN while the job runs */
    atomic_store(&job_release, true);
    arbor_msg_t *m = arbor_test_recv_tag(ARBOR_TAG_DOWN, 5000);
    ASSERT_REASON(((arbor_down_msg_t *)m->data)->reason, ARBOR_EXIT_KILLED, "");
    arbor_msg_free(m);
    arbor_test_no_message(30); /* it died when the job ended, before sending */
}

TEST(kill_during_blocking_call_takes_effect_after_it)
{
    arbor_test_run(kill_during_blocking_root, NULL);
}

static void exit_code_root(void *arg)
{
    arbor_exit(arbor_error("boom %d", 42));
}

TEST(root_exit_reason_is_returned)
{
    arbor_reason_t r = arbor_test_run_reason(NULL, exit_code_root, NULL);
    ASSERT_REASON(r, ARBOR_EXIT_ERROR, "boom 42");
}

static void forever(void *arg)
{
    arbor_msg_t *m;
    arbor_trap_exit(true);
    for (;;)
        if (arbor_receive(ARBOR_INFINITY, &m) == 0)
            arbor_msg_free(m);
}

static void leftover_root(void *arg)
{
    for (int i = 0; i < 100; i++)
        ASSERT_OK(arbor_spawn(forever, NULL, NULL));
}

TEST(runtime_kills_leftover_processes_when_root_exits)
{
    arbor_test_run(leftover_root, NULL);
}

static void alias_root(void *arg)
{
    arbor_ref_t alias;
    ASSERT_OK(arbor_alias(&alias));
    ASSERT_OK(arbor_send_alias(arbor_self(), alias, TAG_DATA, "a", 2));
    arbor_msg_t *m = arbor_test_recv(1000);
    ASSERT_U64_EQ(m->alias, alias);
    arbor_msg_free(m);
    /* Queued when the alias goes: dropped. Sent after: dropped too. */
    ASSERT_OK(arbor_send_alias(arbor_self(), alias, TAG_DATA, "b", 2));
    ASSERT_OK(arbor_send(arbor_self(), TAG_OTHER, "plain", 6));
    ASSERT_OK(arbor_unalias(alias));
    ASSERT_OK(arbor_send_alias(arbor_self(), alias, TAG_DATA, "c", 2));
    m = arbor_test_recv(1000);
    ASSERT_STREQ(m->data, "plain");
    ASSERT_U64_EQ(m->alias, 0);
    arbor_msg_free(m);
    arbor_test_no_message(20);
    ASSERT_ERR(arbor_unalias(alias), ARBOR_ENOENT);
}

TEST(messages_to_an_inactive_alias_are_dropped)
{
    arbor_test_run(alias_root, NULL);
}

/* Several aliases at once (the first is kept apart from the others):
 * each drops only its own messages when it goes, in any order. */
static void several_aliases_root(void *arg)
{
    arbor_pid_t self = arbor_self();
    arbor_ref_t a[3];
    for (int i = 0; i < 3; i++)
        ASSERT_OK(arbor_alias(&a[i]));
    for (int i = 0; i < 3; i++)
        ASSERT_OK(arbor_send_alias(self, a[i], TAG_DATA, &i, sizeof i));
    ASSERT_OK(arbor_unalias(a[0]));
    arbor_msg_t *m = arbor_test_recv(1000);
    ASSERT_EQ(*(int *)m->data, 1);
    arbor_msg_free(m);
    ASSERT_OK(arbor_unalias(a[2]));
    arbor_test_no_message(20);
    /* A new alias takes the place the first left. */
    arbor_ref_t b;
    ASSERT_OK(arbor_alias(&b));
    ASSERT_OK(arbor_send_alias(self, a[1], TAG_DATA, "a1", 3));
    ASSERT_OK(arbor_send_alias(self, b, TAG_DATA, "b", 2));
    ASSERT_OK(arbor_send_alias(self, a[0], TAG_DATA, "gone", 5));
    m = arbor_test_recv(1000);
    ASSERT_STREQ(m->data, "a1");
    arbor_msg_free(m);
    m = arbor_test_recv(1000);
    ASSERT_STREQ(m->data, "b");
    arbor_msg_free(m);
    arbor_test_no_message(20);
    ASSERT_OK(arbor_unalias(b));
    ASSERT_OK(arbor_unalias(a[1]));
    ASSERT_ERR(arbor_unalias(a[0]), ARBOR_ENOENT);
    ASSERT_ERR(arbor_unalias(a[2]), ARBOR_ENOENT);
    ASSERT_ERR(arbor_unalias(0), ARBOR_ENOENT);
}

TEST(several_aliases_each_drop_only_their_own_messages)
{
    arbor_test_run(several_aliases_root, NULL);
}

static bool is_99(const arbor_msg_t *m, void *arg)
{
    return m->tag == TAG_DATA && *(int *)m->data == 99;
}

static void mark_root(void *arg)
{
    arbor_pid_t self = arbor_self();
    for (int i = 0; i < 100; i++)
        ASSERT_OK(arbor_send(self, TAG_DATA, &i, sizeof i));
    ASSERT_OK(arbor_receive_mark()); /* marks message 99, the last queued */
    /* Taking the marked message keeps the mark valid: it moves back to
     * message 98, still queued. */
    arbor_msg_t *m;
    ASSERT_OK(arbor_receive_match(is_99, NULL, 0, &m));
    arbor_msg_free(m);
    int after = 1000;
    ASSERT_OK(arbor_send(self, TAG_OTHER, &after, sizeof after));
    ASSERT_OK(arbor_receive_match_marked(NULL, NULL, 1000, &m));
    ASSERT_U64_EQ(m->tag, TAG_OTHER); /* not one of the 99 queued before the mark */
    arbor_msg_free(m);
    /* The mark is spent: an unmarked receive sees the old messages again. */
    m = arbor_test_recv(0);
    ASSERT_EQ(*(int *)m->data, 0);
    arbor_msg_free(m);
    ASSERT_OK(arbor_receive_mark());
    ASSERT_ERR(arbor_receive_match_marked(NULL, NULL, 0, &m), ARBOR_ETIMEDOUT);
    for (int i = 1; i < 99; i++)
        arbor_msg_free(arbor_test_recv(0));
}

TEST(marked_receive_skips_what_was_queued_before_the_mark)
{
    arbor_test_run(mark_root, NULL);
}

static void count_hook(void *arg)
{
    int *order = arg;
    *order = *order * 10 + 1;
}

static void second_hook(void *arg)
{
    int *order = arg;
    *order = *order * 10 + 2;
}

static arbor_pid_t hooks_parent;

static void hooked_child(void *arg)
{
    ASSERT_OK(arbor_on_exit(count_hook, arg));
    ASSERT_OK(arbor_on_exit(second_hook, arg));
    ASSERT_OK(arbor_send(hooks_parent, TAG_DONE, NULL, 0));        /* both hooks are in place */
    arbor_msg_free(arbor_test_recv_tag(TAG_PING, ARBOR_INFINITY)); /* killed while waiting */
}

static void hooks_root(void *arg)
{
    static int order;
    arbor_pid_t pid;
    arbor_ref_t ref;
    hooks_parent = arbor_self();
    ASSERT_OK(arbor_spawn_monitor(hooked_child, &order, &pid, &ref));
    arbor_msg_free(arbor_test_recv_tag(TAG_DONE, 5000));
    ASSERT_OK(arbor_exit_pid(pid, ARBOR_KILL));
    arbor_msg_free(arbor_test_recv_tag(ARBOR_TAG_DOWN, 5000));
    arbor_test_wait_dead(pid, 5000);
    ASSERT_EQ(order, 21); /* newest first, and run although it was killed */
}

TEST(exit_hooks_run_newest_first_even_when_killed)
{
    arbor_test_run(hooks_root, NULL);
}

/* ---- hibernation --------------------------------------------------------- */

/* arbor__proc_table_bytes(): what the runtime's maps of the caller hold. */
#include "../../src/runtime/proc.h"

static void wait_for_done(void *arg)
{
    arbor_msg_free(arbor_test_recv(ARBOR_INFINITY));
}

static void hibernate_root(void *arg)
{
    enum { N = 100 };
    arbor_pid_t pids[N];
    arbor_ref_t refs[N];
    size_t base = arbor__proc_table_bytes();
    for (int i = 0; i < N; i++) {
        ASSERT_OK(arbor_spawn(wait_for_done, NULL, &pids[i]));
        ASSERT_OK(arbor_monitor(pids[i], &refs[i]));
        ASSERT_OK(arbor_link(pids[i]));
    }
    size_t full = arbor__proc_table_bytes();
    ASSERT_GT(full, base);
    for (int i = 0; i < N; i++) {
        ASSERT_OK(arbor_unlink(pids[i]));
        if (i > 0)
            ASSERT_OK(arbor_demonitor(refs[i], 0));
    }
    /* Emptied tables are kept for the next use, as is one still in use. */
    ASSERT_EQ(arbor__proc_table_bytes(), full);
    ASSERT_OK(arbor_hibernate());
    size_t monitors_only = arbor__proc_table_bytes();
    ASSERT_LT(monitors_only, full); /* the links' table went */
    ASSERT_GT(monitors_only, base); /* the monitors' stayed: one is left */
    /* The monitor left works as before. */
    ASSERT_OK(arbor_send(pids[0], TAG_DONE, NULL, 0));
    arbor_msg_t *m = arbor_test_recv(5000);
    ASSERT_U64_EQ(m->tag, ARBOR_TAG_DOWN);
    ASSERT_U64_EQ(((const arbor_down_msg_t *)m->data)->ref, refs[0]);
    arbor_msg_free(m);
    ASSERT_OK(arbor_hibernate());
    ASSERT_EQ(arbor__proc_table_bytes(), base);
    for (int i = 1; i < N; i++)
        ASSERT_OK(arbor_send(pids[i], TAG_DONE, NULL, 0));
}

TEST(hibernate_gives_back_emptied_link_and_monitor_tables)
{
    ASSERT_EQ(arbor_hibernate(), ARBOR_ENOTPROC);
    arbor_test_run(hibernate_root, NULL);
}

/* Two aliases at once put the second in the process's rare record (out of
 * its control block); hibernating once both are gone gives the record
 * back, and a later second alias makes a new one that works. */
static void rare_record_root(void *arg)
{
    size_t base = arbor__proc_table_bytes();
    for (int round = 0; round < 2; round++) {
        arbor_ref_t a1, a2;
        ASSERT_OK(arbor_alias(&a1));
        ASSERT_OK(arbor_alias(&a2));
        ASSERT_GT(arbor__proc_table_bytes(), base);
        ASSERT_OK(arbor_send_alias(arbor_self(), a2, 7, NULL, 0));
        arbor_msg_t *m = arbor_test_recv(5000);
        ASSERT_U64_EQ(m->tag, 7);
        arbor_msg_free(m);
        ASSERT_OK(arbor_unalias(a1));
        ASSERT_OK(arbor_unalias(a2));
        ASSERT_OK(arbor_hibernate());
        ASSERT_EQ(arbor__proc_table_bytes(), base);
    }
}

TEST(hibernate_gives_back_the_rare_record_once_it_holds_nothing)
{
    arbor_test_run(rare_record_root, NULL);
}

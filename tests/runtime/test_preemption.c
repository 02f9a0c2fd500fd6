/*
 * Preemption: a process is taken off its scheduler when its slice of
 * reductions is spent, whatever it does in a loop (spawning, sending exit
 * signals), and a pair of processes that keep waking each other (and
 * switch straight to each other) still lets others run and timers fire.
 * Each runs on one scheduler, where a missing preemption shows.
 */
#include <pthread.h>
#include <stdatomic.h>

#include "test.h"

enum { TAG_DATA = 1, TAG_DONE };

/* Spawning costs reductions: a process that spawns in a loop, never
 * receiving or sending, is still preempted, so on one scheduler its
 * children run (and end) while the loop goes on instead of piling up in
 * the run queue until it stops. */
static _Atomic int children_ran;

static void count_run(void *arg)
{
    atomic_fetch_add(&children_ran, 1);
}

static void spawn_loop_root(void *arg)
{
    atomic_store(&children_ran, 0);
    for (int i = 0; i < 10000; i++)
        ASSERT_OK(arbor_spawn(count_run, NULL, NULL));
    ASSERT_GT(atomic_load(&children_ran), 0); /* no receive or send yet */
    while (atomic_load(&children_ran) < 10000)
        arbor_yield();
}

TEST(a_process_spawning_in_a_loop_is_preempted)
{
    arbor_config_t cfg = {.schedulers = 1};
    arbor_test_run_with(&cfg, spawn_loop_root, NULL);
}

/* Exit signals to other processes cost reductions too: a process killing
 * many others in a loop is preempted, so on one scheduler the first
 * victims are gone before the loop ends. */
static void wait_forever_child(void *arg)
{
    arbor_msg_t *m;
    arbor_receive(ARBOR_INFINITY, &m);
}

static arbor_proc_status_t status_of(arbor_pid_t pid)
{
    arbor_process_info_t info;
    ASSERT_OK(arbor_process_info(pid, &info));
    return info.status;
}

static void kill_loop_root(void *arg)
{
    enum { N = 1000 };
    static arbor_pid_t pids[N];
    for (int i = 0; i < N; i++)
        ASSERT_OK(arbor_spawn(wait_forever_child, NULL, &pids[i]));
    for (int i = 0; i < N; i++) /* all of them waiting in receive */
        WAIT_UNTIL(status_of(pids[i]) == ARBOR_STATUS_WAITING, 10000);
    for (int i = 0; i < N; i++)
        ASSERT_OK(arbor_exit_pid(pids[i], ARBOR_KILL));
    ASSERT_FALSE(arbor_alive(pids[0])); /* no receive or sleep since the loop */
    for (int i = 0; i < N; i++)
        arbor_test_wait_dead(pids[i], 10000);
}

TEST(a_process_sending_exit_signals_in_a_loop_is_preempted)
{
    arbor_config_t cfg = {.schedulers = 1};
    arbor_test_run_with(&cfg, kill_loop_root, NULL);
}

/* A pair of processes that keep waking each other switch directly from
 * one to the other, bypassing the scheduler loop: on one scheduler, a third
 * process must still get its turn and a timer must still fire. */
static _Atomic int bystander_ran;
static _Atomic long pair_hops;

/* Answers each peer pid it receives with its own pid, counting the hops. */
static void bouncer(void *arg)
{
    for (;;) {
        arbor_msg_t *m;
        arbor_receive(ARBOR_INFINITY, &m);
        arbor_pid_t peer = *(arbor_pid_t *)m->data;
        arbor_msg_free(m);
        atomic_fetch_add(&pair_hops, 1);
        arbor_pid_t me = arbor_self();
        arbor_send(peer, TAG_DATA, &me, sizeof me);
    }
}

static void bystander(void *arg)
{
    atomic_store(&bystander_ran, 1);
}

static void bouncing_pair_root(void *arg)
{
    atomic_store(&bystander_ran, 0);
    arbor_pid_t a, b;
    ASSERT_OK(arbor_spawn(bouncer, NULL, &a));
    ASSERT_OK(arbor_spawn(bouncer, NULL, &b));
    ASSERT_OK(arbor_send(a, TAG_DATA, &b, sizeof b));
    arbor_msg_t *m;
    uint64_t t0 = arbor_now_ms();
    ASSERT_ERR(arbor_receive(20, &m), ARBOR_ETIMEDOUT); /* the timer fired */
    ASSERT_LT(arbor_now_ms() - t0, 5000);
    ASSERT_OK(arbor_spawn(bystander, NULL, NULL));
    while (!atomic_load(&bystander_ran))
        arbor_yield();
    ASSERT_OK(arbor_exit_pid(a, ARBOR_KILL));
    ASSERT_OK(arbor_exit_pid(b, ARBOR_KILL));
}

TEST(a_pair_waking_each_other_lets_others_run_and_timers_fire)
{
    arbor_config_t cfg = {.schedulers = 1};
    arbor_test_run_with(&cfg, bouncing_pair_root, NULL);
}

/* The same pair, while a thread outside the runtime keeps waking a third
 * process through the shared queue: taking that one every 61st turn must
 * not hand the pair a fresh slice each time (it did: a bystander then
 * waited for tens of thousands of hops, and more, instead of about a
 * thousand). */
static _Atomic long hops_when_bystander_ran;
static _Atomic int feeder_stop;

static _Atomic long sunk;

static void sink(void *arg)
{
    for (;;) {
        arbor_msg_t *m;
        arbor_receive(ARBOR_INFINITY, &m);
        arbor_msg_free(m);
        atomic_fetch_add(&sunk, 1);
    }
}

/* One message at a time, the next as soon as the last was taken: the sink
 * is woken through the shared queue as often as it can be. */
static void *feeder(void *arg)
{
    arbor_pid_t target = *(arbor_pid_t *)arg;
    for (long sent = 1; !atomic_load(&feeder_stop); sent++) {
        arbor_send(target, TAG_DATA, NULL, 0);
        while (atomic_load(&sunk) < sent && !atomic_load(&feeder_stop)) {
        }
    }
    return NULL;
}

static void late_bystander(void *arg)
{
    atomic_store(&hops_when_bystander_ran, atomic_load(&pair_hops));
    arbor_send(*(arbor_pid_t *)arg, TAG_DONE, NULL, 0);
}

static void fed_pair_root(void *arg)
{
    atomic_store(&pair_hops, 0);
    atomic_store(&sunk, 0);
    atomic_store(&feeder_stop, 0);
    arbor_pid_t self = arbor_self(), g, a, b;
    ASSERT_OK(arbor_spawn(sink, NULL, &g));
    pthread_t t;
    ASSERT_EQ(pthread_create(&t, NULL, feeder, &g), 0);
    ASSERT_OK(arbor_spawn(bouncer, NULL, &a));
    ASSERT_OK(arbor_spawn(bouncer, NULL, &b));
    ASSERT_OK(arbor_send(a, TAG_DATA, &b, sizeof b));
    /* The pair and the fed process run. */
    WAIT_UNTIL(atomic_load(&pair_hops) >= 1000 && atomic_load(&sunk) >= 10, 5000);
    long start = atomic_load(&pair_hops);
    ASSERT_OK(arbor_spawn_opt(late_bystander, &self, &(arbor_spawn_opts_t){.arg_size = sizeof self},
                              NULL, NULL));
    arbor_msg_t *m = arbor_test_recv_tag(TAG_DONE, arbor_test_scaled_ms(60000));
    arbor_msg_free(m);
    atomic_store(&feeder_stop, 1);
    pthread_join(t, NULL);
    /* A slice is 2,000 reductions, two per hop: at most two slices (it took
     * tens of thousands of hops when each fed turn reset the pair's). */
    ASSERT_LT(atomic_load(&hops_when_bystander_ran) - start, 2000);
    ASSERT_OK(arbor_exit_pid(a, ARBOR_KILL));
    ASSERT_OK(arbor_exit_pid(b, ARBOR_KILL));
    ASSERT_OK(arbor_exit_pid(g, ARBOR_KILL));
}

TEST(a_pair_waking_each_other_yields_even_while_the_shared_queue_is_fed)
{
    arbor_config_t cfg = {.schedulers = 1};
    arbor_test_run_with(&cfg, fed_pair_root, NULL);
}

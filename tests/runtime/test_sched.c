/*
 * Where woken work runs (src/runtime/sched.c, stealable() and open_ring()):
 * what a process wakes stays on its scheduler while the waker keeps
 * running, and becomes work for an idle scheduler once the waker stops.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "test.h"

enum { TAG_GO = 1, TAG_DONE };

#define WORKERS 8

static _Atomic int ran;
static _Atomic uint64_t threads[WORKERS];

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Spins without calling the runtime: the process keeps its scheduler. */
static void busy_for_ms(unsigned ms)
{
    uint64_t end = now_ns() + (uint64_t)ms * 1000000u;
    while (now_ns() < end)
        ;
}

typedef struct worker_arg {
    int index;
    unsigned work_ms;
} worker_arg_t;

/* Waits for TAG_GO, notes its thread, works, reports TAG_DONE. */
static void worker(void *arg)
{
    worker_arg_t *w = arg;
    arbor_msg_t *m = arbor_test_recv_tag(TAG_GO, 10000);
    arbor_pid_t from = m->from;
    arbor_msg_free(m);
    atomic_store(&threads[w->index], (uint64_t)pthread_self());
    atomic_fetch_add(&ran, 1);
    busy_for_ms(w->work_ms);
    ASSERT_OK(arbor_send(from, TAG_DONE, NULL, 0));
}

/* Spawns the workers and waits until each is parked in its receive (a
 * new process is anybody's to run, and so is one still running). */
static void start_workers(arbor_pid_t *pids, worker_arg_t *args, unsigned work_ms)
{
    atomic_store(&ran, 0);
    for (int i = 0; i < WORKERS; i++) {
        args[i] = (worker_arg_t){i, work_ms};
        ASSERT_OK(arbor_spawn(worker, &args[i], &pids[i]));
    }
    for (int i = 0; i < WORKERS; i++) {
        for (int tries = 0;; tries++) {
            arbor_process_info_t info;
            ASSERT_OK(arbor_process_info(pids[i], &info));
            if (info.status == ARBOR_STATUS_WAITING)
                break;
            ASSERT_LT(tries, 10000);
            arbor_sleep(1);
        }
    }
    arbor_sleep(20); /* WAITING is published a moment before the park completes */
}

/* Starts the workers, then wakes them all, without blocking in between. */
static void wake_workers(arbor_pid_t *pids, worker_arg_t *args, unsigned work_ms)
{
    start_workers(pids, args, work_ms);
    for (int i = 0; i < WORKERS; i++)
        ASSERT_OK(arbor_send(pids[i], TAG_GO, NULL, 0));
}

static void kept_root(void *arg)
{
    (void)arg;
    arbor_pid_t pids[WORKERS];
    worker_arg_t args[WORKERS];
    wake_workers(pids, args, 0);
    /* The other scheduler is idle, but may not take them from under us. */
    busy_for_ms(50);
    ASSERT_EQ(atomic_load(&ran), 0);
    for (int i = 0; i < WORKERS; i++)
        arbor_msg_free(arbor_test_recv_tag(TAG_DONE, 10000));
    ASSERT_EQ(atomic_load(&ran), WORKERS);
}

TEST(woken_processes_stay_with_their_scheduler_while_the_waker_runs)
{
    arbor_config_t cfg = {.schedulers = 2};
    arbor_test_run_with(&cfg, kept_root, NULL);
}

static void shared_root(void *arg)
{
    (void)arg;
    arbor_pid_t pids[WORKERS];
    worker_arg_t args[WORKERS];
    wake_workers(pids, args, 20);
    /* Blocking here hands the rest of the queue to the idle scheduler. */
    for (int i = 0; i < WORKERS; i++)
        arbor_msg_free(arbor_test_recv_tag(TAG_DONE, 10000));
    uint64_t first = atomic_load(&threads[0]);
    bool two = false;
    for (int i = 1; i < WORKERS; i++)
        two |= atomic_load(&threads[i]) != first;
    ASSERT_TRUE(two);
}

TEST(woken_processes_go_to_an_idle_scheduler_once_the_waker_blocks)
{
    arbor_config_t cfg = {.schedulers = 2};
    arbor_test_run_with(&cfg, shared_root, NULL);
}

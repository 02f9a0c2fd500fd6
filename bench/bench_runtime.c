/*
 * The runtime benchmarks of benchmarks.md: spawn_exit, spawn_monitor_exit,
 * ping_pong, ring, fork_join and idle_process_memory.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench.h"

enum { TAG_DONE = 1, TAG_PING, TAG_PONG, TAG_TOKEN, TAG_GO, TAG_NEXT };

/* ---- spawn_exit ------------------------------------------------------------ */

typedef struct {
    _Atomic uint64_t left;
    arbor_pid_t parent;
} countdown_t;

static void count_down(void *arg)
{
    countdown_t *c = arg;
    if (atomic_fetch_sub_explicit(&c->left, 1, memory_order_acq_rel) == 1)
        arbor_send(c->parent, TAG_DONE, NULL, 0);
}

static void spawn_exit(void)
{
    uint64_t n = bench_size("BENCH_N", 1000000);
    countdown_t c = {n, arbor_self()};
    uint64_t t0 = bench_now_ns();
    for (uint64_t i = 0; i < n; i++)
        if (arbor_spawn(count_down, &c, NULL) != 0)
            abort();
    arbor_msg_free(bench_recv_tag(TAG_DONE));
    bench_figure("spawn_exit", (double)(bench_now_ns() - t0) / (double)n, "ns");
}

/* ---- spawn_monitor_exit ------------------------------------------------------ */

static void nothing(void *arg) {}

static void spawn_monitor_exit(void)
{
    uint64_t n = bench_size("BENCH_N", 1000000);
    uint64_t t0 = bench_now_ns();
    for (uint64_t i = 0; i < n; i++) {
        arbor_pid_t pid;
        arbor_ref_t ref;
        if (arbor_spawn_monitor(nothing, NULL, &pid, &ref) != 0)
            abort();
    }
    for (uint64_t i = 0; i < n; i++)
        arbor_msg_free(bench_recv_tag(ARBOR_TAG_DOWN));
    bench_figure("spawn_monitor_exit", (double)(bench_now_ns() - t0) / (double)n, "ns");
}

/* ---- ping_pong ---------------------------------------------------------------- */

static void ponger(void *arg)
{
    for (;;) {
        arbor_msg_t *m;
        arbor_receive(ARBOR_INFINITY, &m);
        if (m->tag == TAG_DONE) {
            arbor_msg_free(m);
            return;
        }
        arbor_send(m->from, TAG_PONG, NULL, 0);
        arbor_msg_free(m);
    }
}

static void ping_pong(void)
{
    uint64_t m = bench_size("BENCH_M", 1000000);
    arbor_pid_t partner;
    arbor_spawn(ponger, NULL, &partner);
    uint64_t t0 = bench_now_ns();
    for (uint64_t i = 0; i < m; i++) {
        arbor_send(partner, TAG_PING, NULL, 0);
        arbor_msg_t *r;
        arbor_receive(ARBOR_INFINITY, &r);
        arbor_msg_free(r);
    }
    bench_figure("ping_pong", (double)(bench_now_ns() - t0) / (double)m, "ns");
    arbor_send(partner, TAG_DONE, NULL, 0);
}

/* ---- ring ----------------------------------------------------------------------- */

typedef struct {
    arbor_pid_t main;
} ring_t;

/* A ring member: learns its successor, then forwards the token (a counter
 * of hops left) until it reaches 0, when it tells main. */
static void ring_member(void *arg)
{
    ring_t *r = arg;
    arbor_msg_t *m = bench_recv_tag(TAG_NEXT);
    arbor_pid_t next = *(arbor_pid_t *)m->data;
    arbor_msg_free(m);
    for (;;) {
        arbor_receive(ARBOR_INFINITY, &m);
        if (m->tag == TAG_DONE) {
            arbor_msg_free(m);
            return;
        }
        uint64_t hops = *(uint64_t *)m->data;
        arbor_msg_free(m);
        if (hops == 0)
            arbor_send(r->main, TAG_DONE, NULL, 0);
        else {
            hops--;
            arbor_send(next, TAG_TOKEN, &hops, sizeof hops);
        }
    }
}

static void ring(void)
{
    uint64_t p = bench_size("BENCH_P", 1000), h = bench_size("BENCH_H", 10000000);
    ring_t r = {arbor_self()};
    arbor_pid_t *pids = malloc(p * sizeof *pids);
    for (uint64_t i = 0; i < p; i++)
        arbor_spawn(ring_member, &r, &pids[i]);
    for (uint64_t i = 0; i < p; i++)
        arbor_send(pids[i], TAG_NEXT, &pids[(i + 1) % p], sizeof(arbor_pid_t));
    uint64_t t0 = bench_now_ns();
    arbor_send(pids[0], TAG_TOKEN, &h, sizeof h);
    arbor_msg_free(bench_recv_tag(TAG_DONE));
    bench_figure("ring", (double)(bench_now_ns() - t0) / (double)h, "ns");
    for (uint64_t i = 0; i < p; i++)
        arbor_send(pids[i], TAG_DONE, NULL, 0);
    free(pids);
}

/* ---- fork_join ---------------------------------------------------------------------- */

typedef struct {
    arbor_pid_t main;
    uint64_t rounds;
} fork_join_t;

static void fj_receiver(void *arg)
{
    fork_join_t *fj = arg;
    for (uint64_t i = 0; i < fj->rounds; i++) {
        arbor_msg_t *m;
        arbor_receive(ARBOR_INFINITY, &m);
        arbor_msg_free(m);
    }
    arbor_send(fj->main, TAG_DONE, NULL, 0);
}

static void fork_join(void)
{
    uint64_t a = bench_size("BENCH_A", 60), m = bench_size("BENCH_M", 100000);
    fork_join_t fj = {arbor_self(), m};
    arbor_pid_t *pids = malloc(a * sizeof *pids);
    for (uint64_t i = 0; i < a; i++)
        arbor_spawn(fj_receiver, &fj, &pids[i]);
    uint64_t t0 = bench_now_ns();
    for (uint64_t r = 0; r < m; r++)
        for (uint64_t i = 0; i < a; i++)
            arbor_send(pids[i], TAG_PING, NULL, 0);
    for (uint64_t i = 0; i < a; i++)
        arbor_msg_free(bench_recv_tag(TAG_DONE));
    double secs = (double)(bench_now_ns() - t0) / 1e9;
    bench_figure("fork_join", (double)(a * m) / secs, "msgs/s");
    free(pids);
}

/* ---- idle_process_memory ------------------------------------------------------------ */

typedef struct {
    uint64_t value; /* the reactor's own state: a counter */
} counter_state_t;

static void counter_handle(void *state, arbor_msg_t *msg)
{
    counter_state_t *s = state;
    if (msg->tag == TAG_DONE)
        arbor_exit(ARBOR_NORMAL);
    s->value++;
}

static const arbor_reactor_t counter_ops = {.handle = counter_handle};

static void blocked_in_receive(void *arg)
{
    arbor_msg_t *m;
    arbor_receive(ARBOR_INFINITY, &m);
    arbor_msg_free(m);
}

/* Waits until every one of pids is parked waiting. */
static void wait_all_waiting(arbor_pid_t *pids, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++) {
        arbor_process_info_t info;
        while (arbor_process_info(pids[i], &info) == 0 && info.status != ARBOR_STATUS_WAITING)
            arbor_yield();
    }
}

static double measure_idle(uint64_t p, bool reactive)
{
    arbor_pid_t *pids = malloc(p * sizeof *pids);
    /* The reactors' own states are allocated before measuring: the figure is
     * what the runtime adds beside a process's state. */
    counter_state_t *states = reactive ? calloc(p, sizeof *states) : NULL;
    uint64_t before = bench_memory_in_use();
    for (uint64_t i = 0; i < p; i++) {
        if (reactive)
            arbor_spawn_reactor(&counter_ops, &states[i], NULL, &pids[i], NULL);
        else
            arbor_spawn(blocked_in_receive, NULL, &pids[i]);
    }
    wait_all_waiting(pids, p);
    uint64_t after = bench_memory_in_use();
    for (uint64_t i = 0; i < p; i++)
        arbor_send(pids[i], TAG_DONE, NULL, 0);
    for (uint64_t i = 0; i < p; i++) {
        arbor_ref_t ref;
        arbor_monitor(pids[i], &ref);
        arbor_msg_free(bench_recv_tag(ARBOR_TAG_DOWN));
    }
    free(pids);
    free(states);
    return (double)(after - before) / (double)p;
}

static void idle_process_memory(void)
{
    uint64_t p = bench_size("BENCH_P", 100000);
    bench_figure("idle_process_memory_reactive", measure_idle(p, true), "bytes");
    bench_figure("idle_process_memory_spawned", measure_idle(p, false), "bytes");
}

const bench_t bench_runtime[] = {
    {"spawn_exit", spawn_exit, false},
    {"spawn_monitor_exit", spawn_monitor_exit, false},
    {"ping_pong", ping_pong, false},
    {"ring", ring, false},
    {"fork_join", fork_join, false},
    {"idle_process_memory", idle_process_memory, false},
    {NULL, NULL, false},
};

/*
 * The scaling probes of benchmarks.md: K independent units of work, N
 * operations in all, run with --schedulers 1..16.
 */
#include <stdlib.h>
#include <string.h>

#include "bench.h"

enum { TAG_PING = 1, TAG_PONG, TAG_DONE, TAG_HELLO };

typedef struct {
    arbor_pid_t main;
    uint64_t ops;
} unit_t;

static void pair_responder(void *arg)
{
    for (;;) {
        arbor_msg_t *m;
        arbor_receive(ARBOR_INFINITY, &m);
        uint64_t tag = m->tag;
        arbor_pid_t from = m->from;
        arbor_msg_free(m);
        if (tag == TAG_DONE)
            return;
        arbor_send(from, TAG_PONG, NULL, 0);
    }
}

static void pair_initiator(void *arg)
{
    unit_t *u = arg;
    arbor_pid_t peer;
    arbor_spawn(pair_responder, NULL, &peer);
    for (uint64_t i = 0; i < u->ops; i++) {
        arbor_send(peer, TAG_PING, NULL, 0);
        arbor_msg_t *m;
        arbor_receive(ARBOR_INFINITY, &m);
        arbor_msg_free(m);
    }
    arbor_send(peer, TAG_DONE, NULL, 0);
    arbor_send(u->main, TAG_DONE, NULL, 0);
}

static void hello_back(void *arg)
{
    arbor_send(*(arbor_pid_t *)arg, TAG_HELLO, NULL, 0);
}

static void spawner(void *arg)
{
    unit_t *u = arg;
    arbor_pid_t self = arbor_self();
    for (uint64_t i = 0; i < u->ops; i++)
        arbor_spawn(hello_back, &self, NULL);
    for (uint64_t i = 0; i < u->ops; i++)
        arbor_msg_free(bench_recv_tag(TAG_HELLO));
    arbor_send(u->main, TAG_DONE, NULL, 0);
}

static arbor_gs_ret_t echo_init(void **state, void *arg)
{
    return arbor_gs_ok();
}

static arbor_gs_ret_t echo_call(void **state, const arbor_msg_t *req, arbor_from_t from)
{
    return arbor_gs_reply(NULL, 0);
}

static const arbor_gen_server_t echo_server = {
    .label = "echo", .init = echo_init, .handle_call = echo_call};

static void server_client(void *arg)
{
    unit_t *u = arg;
    arbor_pid_t server;
    arbor_gs_start(&echo_server, NULL, NULL, &server, NULL);
    for (uint64_t i = 0; i < u->ops; i++)
        arbor_gs_call(server, 1, NULL, 0, ARBOR_GS_CALL_TIMEOUT, NULL, NULL);
    arbor_gs_stop(server, ARBOR_NORMAL, ARBOR_INFINITY, NULL);
    arbor_send(u->main, TAG_DONE, NULL, 0);
}

static void run_units(const char *metric, arbor_entry_fn fn)
{
    uint64_t k = bench_size("BENCH_K", 256);
    uint64_t n = bench_size("BENCH_N", strcmp(metric, "scaling_pairs") == 0 ? 4000000 : 2000000);
    unit_t u = {arbor_self(), n / k};
    uint64_t t0 = bench_now_ns();
    for (uint64_t i = 0; i < k; i++)
        arbor_spawn(fn, &u, NULL);
    for (uint64_t i = 0; i < k; i++)
        arbor_msg_free(bench_recv_tag(TAG_DONE));
    double secs = (double)(bench_now_ns() - t0) / 1e9;
    bench_figure(metric, (double)(u.ops * k) / secs, "ops/s");
}

static void scaling_pairs(void)
{
    run_units("scaling_pairs", pair_initiator);
}

static void scaling_servers(void)
{
    run_units("scaling_servers", server_client);
}

static void scaling_spawn(void)
{
    run_units("scaling_spawn", spawner);
}

const bench_t bench_scaling[] = {
    {"scaling_pairs", scaling_pairs, false},
    {"scaling_servers", scaling_servers, false},
    {"scaling_spawn", scaling_spawn, false},
    {NULL, NULL, false},
};

/*
 * The OTP benchmarks of benchmarks.md: genserver_call, genserver_cast,
 * dynsup_start, dynsup_shutdown, restart_latency, task_async_await, and the
 * scaling probe scaling_servers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

enum { INC = 1, GET };

/* ---- a counter server ---------------------------------------------------------- */

static arbor_gs_ret_t counter_init(void **state, void *arg)
{
    int64_t *n = arbor_alloc(sizeof *n);
    *n = 0;
    *state = n;
    return arbor_gs_ok();
}

static arbor_gs_ret_t counter_call(void **state, const arbor_msg_t *req, arbor_from_t from)
{
    int64_t *n = *state;
    if (req->tag == INC)
        ++*n;
    return arbor_gs_reply(n, sizeof *n);
}

static arbor_gs_ret_t counter_cast(void **state, const arbor_msg_t *msg)
{
    ++*(int64_t *)*state;
    return arbor_gs_noreply();
}

static const arbor_gen_server_t counter = {.label = "counter",
                                           .init = counter_init,
                                           .handle_call = counter_call,
                                           .handle_cast = counter_cast};

static int64_t call_int(arbor_pid_t server, uint64_t tag)
{
    arbor_msg_t *m;
    if (arbor_gs_call(server, tag, NULL, 0, ARBOR_GS_CALL_TIMEOUT, &m, NULL) != 0)
        abort();
    int64_t v = *(int64_t *)m->data;
    arbor_msg_free(m);
    return v;
}

static arbor_pid_t start_counter(void)
{
    arbor_pid_t pid;
    if (arbor_gs_start(&counter, NULL, NULL, &pid, NULL) != 0)
        abort();
    return pid;
}

static void genserver_call(void)
{
    uint64_t n = bench_size("BENCH_N", 1000000);
    arbor_pid_t server = start_counter();
    uint64_t t0 = bench_now_ns();
    int64_t last = 0;
    for (uint64_t i = 0; i < n; i++)
        last = call_int(server, INC);
    bench_figure("genserver_call", (double)(bench_now_ns() - t0) / (double)n, "ns");
    if (last != (int64_t)n)
        abort();
    arbor_gs_stop(server, ARBOR_NORMAL, ARBOR_INFINITY, NULL);
}

static void genserver_cast(void)
{
    uint64_t n = bench_size("BENCH_N", 1000000);
    arbor_pid_t server = start_counter();
    uint64_t t0 = bench_now_ns();
    for (uint64_t i = 0; i < n; i++)
        arbor_gs_cast(server, INC, NULL, 0);
    if (call_int(server, GET) != (int64_t)n)
        abort();
    bench_figure("genserver_cast", (double)(bench_now_ns() - t0) / (double)n, "ns");
    arbor_gs_stop(server, ARBOR_NORMAL, ARBOR_INFINITY, NULL);
}

/* ---- the course's ticket worker ------------------------------------------------------ */

typedef struct ticket {
    int64_t id;
    char description[24];
    int status;
} ticket_t;

static arbor_gs_ret_t ticket_init(void **state, void *arg)
{
    ticket_t *t = arbor_alloc(sizeof *t);
    *t = *(const ticket_t *)arg;
    *state = t;
    return arbor_gs_ok();
}

static const arbor_gen_server_t ticket_worker = {.label = "TicketWorker", .init = ticket_init};

static int ticket_start(void *arg, arbor_pid_t *pid, arbor_reason_t *err)
{
    arbor_gs_opts_t o = {.link = true};
    return arbor_gs_start(&ticket_worker, arg, &o, pid, err);
}

static arbor_pid_t ticket_supervisor(void)
{
    arbor_pid_t sup;
    if (arbor_dynsup_start(NULL, &sup, NULL) != 0)
        abort();
    return sup;
}

static void create_tickets(arbor_pid_t sup, uint64_t n)
{
    for (uint64_t i = 1; i <= n; i++) {
        ticket_t t = {.id = (int64_t)i, .description = "Login issue"};
        arbor_child_spec_t spec = {
            .id = "ticket", .start = ticket_start, .arg = &t, .arg_size = sizeof t};
        arbor_pid_t pid;
        if (arbor_dynsup_start_child(sup, &spec, &pid, NULL) != 0)
            abort();
    }
}

static void dynsup_start(void)
{
    uint64_t n = bench_size("BENCH_N", 100000);
    arbor_pid_t sup = ticket_supervisor();
    uint64_t before = bench_memory_in_use();
    uint64_t t0 = bench_now_ns();
    create_tickets(sup, n);
    double us = (double)(bench_now_ns() - t0) / (double)n / 1000.0;
    uint64_t after = bench_memory_in_use();
    bench_figure("dynsup_start", us, "us");
    bench_figure("dynsup_start_bytes", (double)(after - before) / (double)n, "bytes");
    arbor_dynsup_stop(sup, ARBOR_SHUTDOWN);
}

static double shutdown_ms(uint64_t children)
{
    arbor_pid_t sup = ticket_supervisor();
    create_tickets(sup, children);
    uint64_t t0 = bench_now_ns();
    arbor_dynsup_stop(sup, ARBOR_SHUTDOWN);
    return (double)(bench_now_ns() - t0) / 1e6;
}

static void dynsup_shutdown(void)
{
    uint64_t n = bench_size("BENCH_N", 100000);
    bench_figure("dynsup_shutdown_10k", shutdown_ms(n / 10), "ms");
    bench_figure("dynsup_shutdown_100k", shutdown_ms(n), "ms");
}

/* ---- restart_latency ------------------------------------------------------------------ */

static arbor_gs_ret_t idle_init(void **state, void *arg)
{
    return arbor_gs_ok();
}

static const arbor_gen_server_t idle_worker = {.label = "RestartWorker", .init = idle_init};

static int named_start(void *arg, arbor_pid_t *pid, arbor_reason_t *err)
{
    arbor_gs_opts_t o = {.link = true, .name = arg};
    return arbor_gs_start(&idle_worker, NULL, &o, pid, err);
}

static void child_pids(arbor_pid_t sup, arbor_pid_t *pids, size_t c)
{
    arbor_child_info_t *kids;
    size_t n;
    if (arbor_sup_which_children(sup, &kids, &n) != 0 || n != c)
        abort();
    for (size_t i = 0; i < n; i++)
        pids[i] = kids[i].pid;
    free(kids);
}

static bool all_new(const arbor_pid_t *now, const arbor_pid_t *old, size_t c)
{
    for (size_t i = 0; i < c; i++) {
        if (!now[i])
            return false;
        for (size_t j = 0; j < c; j++)
            if (now[i] == old[j])
                return false;
    }
    return true;
}

/* Kills child `done % c` each time and waits until every child has a new
 * pid; returns the µs per restart over the first 100 and over all k. */
static void restart_us(arbor_strategy_t strategy, size_t c, uint64_t k, double *first100,
                       double *all)
{
    arbor_child_spec_t *specs = calloc(c, sizeof *specs);
    char(*names)[32] = calloc(c, sizeof *names);
    for (size_t i = 0; i < c; i++) {
        snprintf(names[i], sizeof names[i], "bench_restart_worker_%u", (unsigned)i);
        specs[i] = (arbor_child_spec_t){.id = names[i], .start = named_start, .arg = names[i]};
    }
    arbor_sup_flags_t flags = {.strategy = strategy, .max_restarts = 1000000000, .max_seconds = 1};
    arbor_pid_t sup;
    if (arbor_sup_start(&flags, specs, c, NULL, &sup, NULL) != 0)
        abort();
    arbor_pid_t *old = calloc(c, sizeof *old), *now = calloc(c, sizeof *now);
    child_pids(sup, old, c);
    uint64_t first = k < 100 ? k : 100, t0 = bench_now_ns(), t_first = 0;
    for (uint64_t done = 0; done < k; done++) {
        arbor_pid_t victim = old[done % c];
        arbor_ref_t ref;
        arbor_monitor(victim, &ref);
        arbor_exit_pid(victim, ARBOR_KILL);
        arbor_msg_free(bench_recv_tag(ARBOR_TAG_DOWN));
        do
            child_pids(sup, now, c);
        while (!all_new(now, old, c));
        memcpy(old, now, c * sizeof *old);
        if (done + 1 == first)
            t_first = bench_now_ns() - t0;
    }
    uint64_t t_all = bench_now_ns() - t0;
    *first100 = (double)t_first / (double)first / 1000.0;
    *all = (double)t_all / (double)k / 1000.0;
    arbor_sup_stop(sup, ARBOR_SHUTDOWN);
    free(old);
    free(now);
    free(specs);
    free(names);
}

static void restart_latency(void)
{
    uint64_t k = bench_size("BENCH_K", 10000), c = bench_size("BENCH_C", 10);
    double first, all;
    restart_us(ARBOR_ONE_FOR_ONE, 1, k, &first, &all);
    bench_figure("restart_one_for_one_first100", first, "us");
    bench_figure("restart_one_for_one", all, "us");
    restart_us(ARBOR_ONE_FOR_ALL, c, k, &first, &all);
    bench_figure("restart_one_for_all_first100", first, "us");
    bench_figure("restart_one_for_all", all, "us");
}

/* ---- task_async_await ------------------------------------------------------------------ */

static size_t twice(void *arg, void *result, size_t cap)
{
    int64_t v = (int64_t)(intptr_t)arg * 2;
    memcpy(result, &v, sizeof v);
    return sizeof v;
}

static int64_t await_value(arbor_task_t *t)
{
    arbor_msg_t *m;
    if (arbor_task_await(t, ARBOR_INFINITY, &m, NULL) != 0)
        abort();
    int64_t v = *(int64_t *)m->data;
    arbor_msg_free(m);
    return v;
}

static void task_async_await(void)
{
    uint64_t t = bench_size("BENCH_T", 100000);
    arbor_pid_t sup;
    if (arbor_task_sup_start(NULL, &sup, NULL) != 0)
        abort();
    uint64_t t0 = bench_now_ns();
    for (uint64_t i = 1; i <= t; i++) {
        arbor_task_t task;
        if (arbor_task_sup_async_nolink(sup, twice, (void *)(intptr_t)i, &task) != 0 ||
            await_value(&task) != (int64_t)(2 * i))
            abort();
    }
    double seq = (double)(bench_now_ns() - t0) / (double)t / 1000.0;
    arbor_task_t *tasks = malloc(t * sizeof *tasks);
    t0 = bench_now_ns();
    for (uint64_t i = 1; i <= t; i++)
        if (arbor_task_sup_async_nolink(sup, twice, (void *)(intptr_t)i, &tasks[i - 1]) != 0)
            abort();
    for (uint64_t i = 1; i <= t; i++)
        if (await_value(&tasks[i - 1]) != (int64_t)(2 * i))
            abort();
    double conc = (double)(bench_now_ns() - t0) / (double)t / 1000.0;
    free(tasks);
    arbor_dynsup_stop(sup, ARBOR_SHUTDOWN);
    bench_figure("task_async_await_seq", seq, "us");
    bench_figure("task_async_await_concurrent", conc, "us");
}

const bench_t bench_otp[] = {
    {"genserver_call", genserver_call, false},
    {"genserver_cast", genserver_cast, false},
    {"dynsup_start", dynsup_start, false},
    {"dynsup_shutdown", dynsup_shutdown, false},
    {"restart_latency", restart_latency, false},
    {"task_async_await", task_async_await, false},
    {NULL, NULL, false},
};

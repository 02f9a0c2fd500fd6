/*
 * ticket_workflow (benchmarks.md): the desk under load. For T tickets a
 * client calls ticket_supervisor_create_ticket, then assign_agent (the
 * policy picks the agent), then resolve; one client doing all T, then two
 * clients with T/2 each at once. Tickets per second, from the clients' start
 * to the last one's end.
 *
 * Reported twice: in-memory (the course's desk: no Store, a ticket lives in
 * its worker) with BENCH_T tickets, and durable (the SQLite Store, every
 * change committed before it is acknowledged) with BENCH_TD tickets, fewer
 * because each change waits for an fsync. The durable run is also made with
 * BENCH_CLIENTS clients (default 16), which shows what group commit does when
 * more changes arrive together than two clients can make. BENCH_TD=0 skips
 * the durable runs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "desk.h"

enum { TAG_GO = 1, TAG_DONE };

typedef struct {
    arbor_pid_t parent;
    uint64_t tickets;
} client_arg_t;

static void client(void *arg)
{
    const client_arg_t *a = arg;
    arbor_msg_free(bench_recv_tag(TAG_GO));
    for (uint64_t i = 0; i < a->tickets; i++) {
        ticket_t t = {.priority = PRIORITY_NORMAL};
        snprintf(t.description, sizeof t.description, "Login issue");
        ticket_error_t err;
        if (ticket_supervisor_create_ticket(&t, NULL, &err) != 0 ||
            assign_agent(t.id, "", NULL, &err) != 0 || resolve(t.id, NULL, &err) != 0) {
            fprintf(stderr, "ticket_workflow: %s: %s\n", err.code, err.message);
            abort();
        }
    }
    arbor_send(a->parent, TAG_DONE, NULL, 0);
}

/* Runs the workflow with the desk configured by cfg; returns tickets/s. */
static double tickets_per_second(const desk_config_t *cfg, unsigned clients, uint64_t tickets)
{
    arbor_pid_t sup;
    arbor_reason_t why;
    if (desk_start(cfg, &sup, &why) != 0) {
        char text[128];
        arbor_reason_format(&why, text, sizeof text);
        fprintf(stderr, "ticket_workflow: the desk did not start: %s\n", text);
        abort();
    }
    client_arg_t a = {arbor_self(), tickets / clients};
    arbor_pid_t pids[64];
    for (unsigned i = 0; i < clients; i++)
        if (arbor_spawn(client, &a, &pids[i]) != 0)
            abort();
    double seconds = (double)bench_go_and_wait(pids, clients, TAG_GO, TAG_DONE) / 1e9;
    /* Stopping 100,000 workers in order is dynsup_shutdown's business. */
    arbor_unlink(sup);
    arbor_sup_stop(sup, ARBOR_NORMAL);
    return (double)(a.tickets * clients) / seconds;
}

/* A durable run on a fresh database in a directory of its own. */
static double durable(unsigned clients, uint64_t tickets)
{
    char dir[] = "/tmp/arbor-bench-desk-XXXXXX", db[64], wal[80], shm[80];
    if (!mkdtemp(dir))
        abort();
    snprintf(db, sizeof db, "%s/desk.db", dir);
    desk_config_t cfg = {.db_path = db, .idle_timeout_ms = 60000, .demo = true};
    double rate = tickets_per_second(&cfg, clients, tickets);
    snprintf(wal, sizeof wal, "%s-wal", db);
    snprintf(shm, sizeof shm, "%s-shm", db);
    unlink(db);
    unlink(wal);
    unlink(shm);
    rmdir(dir);
    return rate;
}

static void ticket_workflow(void)
{
    uint64_t t = bench_size("BENCH_T", 100000), td = bench_size("BENCH_TD", 20000);
    unsigned many = (unsigned)bench_size("BENCH_CLIENTS", 16);
    if (many < 1 || many > 64)
        many = 16;
    desk_config_t memory = {.db_path = NULL};
    bench_figure("ticket_workflow_1client", tickets_per_second(&memory, 1, t), "tickets/s");
    bench_figure("ticket_workflow_2clients", tickets_per_second(&memory, 2, t), "tickets/s");
    if (td == 0)
        return; /* BENCH_TD=0: the in-memory figures only */
    bench_figure("ticket_workflow_durable_1client", durable(1, td), "tickets/s");
    bench_figure("ticket_workflow_durable_2clients", durable(2, td), "tickets/s");
    static char name[64];
    snprintf(name, sizeof name, "ticket_workflow_durable_%uclients", many);
    bench_figure(name, durable(many, td), "tickets/s");
}

const bench_t bench_desk[] = {
    {"ticket_workflow", ticket_workflow, false},
    {NULL, NULL, false},
};

/*
 * desk_assign (docs/performance.md): automatic assignment by the
 * least-loaded policy on a durable desk with BENCH_AGENTS (default 1,000)
 * agents and BENCH_TICKETS (default 100,000) tickets. Each figure is the
 * median of BENCH_QUERIES (default 21) calls, in ms:
 *
 *   desk_assign_choose_ms  the policy's choice alone (agents_choose: the
 *                          Agents process asks the Store for the loads)
 *   desk_assign_ms         a whole assignment of an open ticket by the
 *                          policy (desk_act: the choice, the change, its
 *                          commit and fsync)
 *
 * The roster and the tickets are written once, through store_run (the
 * Store's own connection, so whatever the schema keeps beside them, such as
 * the agents' open counts, is kept as the desk keeps it), into a database
 * in a temporary directory removed at exit; the desk is then started
 * afresh on it, so the Agents process loads the roster. About 8% of the
 * tickets are assigned and 3.5% pending, spread evenly over the agents (a
 * hundred open each); 0.5% are open, unassigned: the assignments take
 * those.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "agents.h"
#include "bench.h"
#include "bench_db.h"
#include "desk.h"
#include "store.h"

static char db_path[128];
static bool seeded;

typedef struct {
    uint64_t agents, tickets;
} seed_t;

/* store_run's function: the roster, then the tickets, in one transaction. */
static int insert_all(sqlite3 *db, const void *in, void *out)
{
    (void)out;
    const seed_t *n = in;
    uint64_t state = 7;
    sqlite3_stmt *agent, *ticket;
    if (sqlite3_prepare_v2(db, "INSERT INTO agents(name, added) VALUES(?, ?)", -1, &agent, NULL) !=
        SQLITE_OK)
        return ARBOR_EEXIT;
    if (sqlite3_prepare_v2(db,
                           "INSERT INTO tickets(description, customer, priority, status, agent,"
                           " created_at, updated_at) VALUES('Printer on fire', ?, 1, ?, ?, ?, ?)",
                           -1, &ticket, NULL) != SQLITE_OK) {
        sqlite3_finalize(agent);
        return ARBOR_EEXIT;
    }
    int rc = sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK ? 0 : ARBOR_EEXIT;
    for (uint64_t i = 0; i < n->agents && !rc; i++) {
        char name[32];
        snprintf(name, sizeof name, "agent%04u", (unsigned)i);
        sqlite3_bind_text(agent, 1, name, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(agent, 2, (int64_t)i);
        rc = sqlite3_step(agent) == SQLITE_DONE ? 0 : ARBOR_EEXIT;
        sqlite3_reset(agent);
    }
    int64_t at = 1600000000000;
    for (uint64_t i = 0; i < n->tickets && !rc; i++) {
        char customer[32], name[32] = "";
        snprintf(customer, sizeof customer, "customer%04u",
                 (unsigned)(bench_db_random(&state) % 5000));
        ticket_status_t status = bench_db_status(bench_db_random(&state));
        if (status != TICKET_OPEN)
            snprintf(name, sizeof name, "agent%04u",
                     (unsigned)(bench_db_random(&state) % (n->agents ? n->agents : 1)));
        at += 60000;
        sqlite3_bind_text(ticket, 1, customer, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int(ticket, 2, (int)status);
        sqlite3_bind_text(ticket, 3, name, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(ticket, 4, at);
        sqlite3_bind_int64(ticket, 5, at);
        rc = sqlite3_step(ticket) == SQLITE_DONE ? 0 : ARBOR_EEXIT;
        sqlite3_reset(ticket);
    }
    sqlite3_finalize(agent);
    sqlite3_finalize(ticket);
    if (sqlite3_exec(db, rc ? "ROLLBACK" : "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        rc = ARBOR_EEXIT;
    return rc;
}

static arbor_pid_t start_desk(void)
{
    desk_config_t cfg = {
        .db_path = db_path, .policy = POLICY_LEAST_LOADED, .idle_timeout_ms = 60000};
    return bench_db_start_desk("desk_assign", &cfg);
}

static void seed(void)
{
    seed_t n = {bench_size("BENCH_AGENTS", 1000), bench_size("BENCH_TICKETS", 100000)};
    uint64_t t0 = bench_now_ns();
    int rc = store_run(insert_all, &n, sizeof n, NULL, 0);
    if (rc != 0) {
        fprintf(stderr, "desk_assign: seeding failed: %s\n", arbor_strerror(rc));
        abort();
    }
    fprintf(stderr, "desk_assign: %llu agents, %llu tickets written in %.2f s\n",
            (unsigned long long)n.agents, (unsigned long long)n.tickets,
            (double)(bench_now_ns() - t0) / 1e9);
    seeded = true;
}

static void desk_assign(void)
{
    bench_db_kept("assign", db_path, sizeof db_path);
    arbor_pid_t sup = start_desk();
    if (!seeded) {
        seed();
        bench_db_stop_desk(sup); /* the Agents process loads the roster it now has */
        sup = start_desk();
    }
    uint64_t q = bench_db_queries();
    double ms[BENCH_DB_QUERIES_MAX];
    for (uint64_t i = 0; i < q; i++) {
        agents_choice_t choice;
        uint64_t t0 = bench_now_ns();
        int rc = agents_choose(&choice);
        ms[i] = (double)(bench_now_ns() - t0) / 1e6;
        if (rc != 0) {
            fprintf(stderr, "desk_assign: no choice: %s\n", arbor_strerror(rc));
            abort();
        }
    }
    bench_figure("desk_assign_choose_ms", bench_median(ms, q), "ms");
    /* Whole assignments, of open tickets (each repetition takes new ones). */
    ticket_status_t open = TICKET_OPEN;
    store_filter_t f = {.status = &open, .sort = STORE_SORT_OLDEST, .limit = q};
    ticket_t *rows = NULL;
    size_t n = 0;
    ticket_error_t err;
    if (store_find(&f, &rows, &n, &err) != 0 || n < q) {
        fprintf(stderr, "desk_assign: too few open tickets (%zu)\n", n);
        abort();
    }
    for (uint64_t i = 0; i < q; i++) {
        ticket_t out;
        uint64_t t0 = bench_now_ns();
        int rc = desk_act(rows[i].id, ACTION_ASSIGN, "", &desk_operator, &out, &err);
        ms[i] = (double)(bench_now_ns() - t0) / 1e6;
        if (rc != 0) {
            fprintf(stderr, "desk_assign: assign %lld: %s\n", (long long)rows[i].id, err.message);
            abort();
        }
    }
    free(rows);
    bench_figure("desk_assign_ms", bench_median(ms, q), "ms");
    bench_db_stop_desk(sup);
}

const bench_t bench_desk_assign[] = {
    {"desk_assign", desk_assign, false},
    {NULL, NULL, false},
};

/*
 * desk_history (docs/performance.md): showing a ticket whose history holds
 * BENCH_HISTORY (default 100,000) entries, as the console's `show ID` and
 * GET /api/tickets/:id do: the ticket through its worker (desk_get), then
 * its history's latest page (store_history). Each figure is the median of
 * BENCH_QUERIES (default 21) shows, in ms, from the first call to the
 * second's answer:
 *
 *   desk_history_show_ms    the latest page (50 entries) and the counts
 *   desk_history_older_ms   the page of 50 before the middle entry
 *
 * The ticket and its entries are written once, in one transaction through
 * store_run, into a database in a temporary directory removed at exit;
 * every repetition starts the desk on it afresh. Beside it, the desk holds
 * 1,000 other tickets with three entries each, so that the index holds
 * other tickets' entries too.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "bench.h"
#include "bench_db.h"
#include "desk.h"
#include "store.h"

static char db_path[128];
static bool seeded;

/* store_run's function: ticket 1 with *in history entries, then 1,000
 * tickets with three each, in one transaction. */
static int insert_history(sqlite3 *db, const void *in, void *out)
{
    (void)out;
    uint64_t count = *(const uint64_t *)in;
    sqlite3_stmt *ticket, *entry;
    if (sqlite3_prepare_v2(db,
                           "INSERT INTO tickets(description, customer, priority, status, agent,"
                           " created_at, updated_at) VALUES('a ticket with a long past',"
                           " 'customer', 1, 1, 'agent01', 1600000000000, 1600000000000)",
                           -1, &ticket, NULL) != SQLITE_OK)
        return ARBOR_EEXIT;
    if (sqlite3_prepare_v2(db,
                           "INSERT INTO history(ticket, at, who, role, what)"
                           " VALUES(?, ?, 'agent01', 'agent', 'changed the ticket')",
                           -1, &entry, NULL) != SQLITE_OK) {
        sqlite3_finalize(ticket);
        return ARBOR_EEXIT;
    }
    int rc = sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK ? 0 : ARBOR_EEXIT;
    for (uint64_t t = 0; t < 1001 && !rc; t++) {
        rc = sqlite3_step(ticket) == SQLITE_DONE ? 0 : ARBOR_EEXIT;
        sqlite3_reset(ticket);
        int64_t id = sqlite3_last_insert_rowid(db);
        for (uint64_t i = 0; i < (t == 0 ? count : 3) && !rc; i++) {
            sqlite3_bind_int64(entry, 1, id);
            sqlite3_bind_int64(entry, 2, 1600000000000 + (int64_t)i * 60000);
            rc = sqlite3_step(entry) == SQLITE_DONE ? 0 : ARBOR_EEXIT;
            sqlite3_reset(entry);
        }
    }
    sqlite3_finalize(ticket);
    sqlite3_finalize(entry);
    if (sqlite3_exec(db, rc ? "ROLLBACK" : "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        rc = ARBOR_EEXIT;
    return rc;
}

/* Median ms of BENCH_QUERIES shows of ticket 1 with the page before entry
 * before (0: the latest), each of which must answer a full page. */
static double median_ms(const char *name, int64_t before)
{
    uint64_t q = bench_db_queries();
    double ms[BENCH_DB_QUERIES_MAX];
    for (uint64_t i = 0; i < q; i++) {
        ticket_t t;
        store_history_page_t page = {0};
        ticket_error_t err;
        uint64_t t0 = bench_now_ns();
        int rc = desk_get(1, &t, &err);
        if (rc == 0)
            rc = store_history(1, before, 0, &page, &err);
        ms[i] = (double)(bench_now_ns() - t0) / 1e6;
        free(page.entries);
        if (rc != 0 || page.n != STORE_HISTORY_PAGE) {
            fprintf(stderr, "%s: show answered %d with %zu entries\n", name, rc, page.n);
            abort();
        }
    }
    return bench_median(ms, q);
}

static void desk_history(void)
{
    bench_db_kept("history", db_path, sizeof db_path);
    desk_config_t cfg = {.db_path = db_path, .idle_timeout_ms = 60000};
    arbor_pid_t sup = bench_db_start_desk("desk_history", &cfg);
    uint64_t count = bench_size("BENCH_HISTORY", 100000);
    if (!seeded) {
        uint64_t t0 = bench_now_ns();
        if (store_run(insert_history, &count, sizeof count, NULL, 0) != 0) {
            fprintf(stderr, "desk_history: seeding failed\n");
            abort();
        }
        fprintf(stderr, "desk_history: %llu entries written in %.2f s\n", (unsigned long long)count,
                (double)(bench_now_ns() - t0) / 1e9);
        seeded = true;
    }
    bench_figure("desk_history_show_ms", median_ms("show", 0), "ms");
    bench_figure("desk_history_older_ms", median_ms("older", (int64_t)count / 2), "ms");
    bench_db_stop_desk(sup);
}

const bench_t bench_desk_history[] = {
    {"desk_history", desk_history, false},
    {NULL, NULL, false},
};

/*
 * desk_list (docs/performance.md): listing tickets from a durable desk that
 * holds BENCH_TICKETS (default 100,000) of them. Each figure is the median
 * time of BENCH_QUERIES (default 21) store_find calls for a page of 50, in
 * ms, from the call to its answer:
 *
 *   desk_list_filter_ms    one agent's assigned tickets, newest first
 *   desk_list_search_ms    a word (FTS5) among the closed tickets
 *   desk_list_priority_ms  every ticket, by priority (urgent first)
 *   desk_list_page_ms      the closed tickets, newest first, page 100
 *   desk_list_oldest_ms    the open tickets, oldest first
 *   desk_list_updated_ms   one agent's tickets, last updated first
 *   desk_list_customer_ms  one customer's closed tickets (about a dozen:
 *                          less than a page), by priority
 *   desk_list_queue_ms     the open tickets (500), by priority
 *   desk_list_all_updated_ms  every ticket, last updated first
 *   desk_list_closed_updated_ms   the closed tickets (60 %), last updated
 *                                 first
 *   desk_list_closed_priority_ms  the closed tickets, by priority
 *
 * The tickets are written once, in one transaction through store_run (the
 * Store's own connection and its triggers, so the text index is the one
 * the desk keeps), into a database in a temporary directory that is
 * removed at exit; every repetition starts the desk on it afresh. They
 * look like a desk's after a few years: most closed or resolved, a few
 * hundred open (unassigned), the rest assigned or pending across 20 agents,
 * 5,000 customers, descriptions of three to six words of a support
 * vocabulary.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "bench.h"
#include "bench_db.h"
#include "desk.h"
#include "store.h"

#define PAGE 50

static char db_path[128];
static bool seeded;

static const char *const words[] = {
    "login",   "password", "invoice",  "refund",  "printer", "email",    "account", "error",
    "crash",   "slow",     "billing",  "upgrade", "export",  "import",   "report",  "mobile",
    "sync",    "backup",   "license",  "payment", "order",   "shipping", "address", "reset",
    "timeout", "access",   "denied",   "missing", "update",  "install",  "network", "vpn",
    "screen",  "font",     "calendar", "invite",  "share",   "delete",   "restore", "wrong",
};
#define NWORDS (sizeof words / sizeof words[0])

/* Priority: low 25%, normal 50%, high 20%, urgent 5%. */
static ticket_priority_t pick_priority(uint64_t r)
{
    unsigned p = (unsigned)(r % 100);
    return p < 25   ? PRIORITY_LOW
           : p < 75 ? PRIORITY_NORMAL
           : p < 95 ? PRIORITY_HIGH
                    : PRIORITY_URGENT;
}

static void describe(char *out, size_t size, uint64_t *state)
{
    unsigned n = 3 + (unsigned)(bench_db_random(state) % 4);
    size_t len = 0;
    out[0] = '\0';
    for (unsigned i = 0; i < n && len < size; i++)
        len += (size_t)snprintf(out + len, size - len, "%s%s", i ? " " : "",
                                words[bench_db_random(state) % NWORDS]);
}

/* store_run's function: inserts *in tickets in one transaction. */
static int insert_tickets(sqlite3 *db, const void *in, void *out)
{
    (void)out;
    uint64_t count = *(const uint64_t *)in, state = 42;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db,
                           "INSERT INTO tickets(description, customer, priority, status, agent,"
                           " created_at, updated_at) VALUES(?,?,?,?,?,?,?)",
                           -1, &st, NULL) != SQLITE_OK)
        return ARBOR_EEXIT;
    if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
        sqlite3_finalize(st);
        return ARBOR_EEXIT;
    }
    int64_t at = 1600000000000; /* a ticket every 15 minutes or so, from 2020 */
    int rc = 0;
    for (uint64_t i = 0; i < count && !rc; i++) {
        char description[128], customer[32], agent[32] = "";
        describe(description, sizeof description, &state);
        snprintf(customer, sizeof customer, "customer%04u",
                 (unsigned)(bench_db_random(&state) % 5000));
        ticket_status_t status = bench_db_status(bench_db_random(&state));
        if (status != TICKET_OPEN)
            snprintf(agent, sizeof agent, "agent%02u", (unsigned)(bench_db_random(&state) % 20));
        at += 60000 + (int64_t)(bench_db_random(&state) % 1740000);
        sqlite3_bind_text(st, 1, description, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, customer, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 3, (int)pick_priority(bench_db_random(&state)));
        sqlite3_bind_int(st, 4, (int)status);
        sqlite3_bind_text(st, 5, agent, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 6, at);
        sqlite3_bind_int64(st, 7, at + (int64_t)(bench_db_random(&state) % 864000000));
        rc = sqlite3_step(st) == SQLITE_DONE ? 0 : ARBOR_EEXIT;
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    if (sqlite3_exec(db, rc ? "ROLLBACK" : "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        rc = ARBOR_EEXIT;
    return rc;
}

/* Median ms of BENCH_QUERIES runs of f, each of which must find between
 * least and PAGE tickets. */
static double median_ms(const char *name, const store_filter_t *f, size_t least)
{
    uint64_t q = bench_db_queries();
    double ms[BENCH_DB_QUERIES_MAX];
    for (uint64_t i = 0; i < q; i++) {
        ticket_t *rows = NULL;
        size_t n = 0;
        ticket_error_t err;
        uint64_t t0 = bench_now_ns();
        int rc = store_find(f, &rows, &n, &err);
        ms[i] = (double)(bench_now_ns() - t0) / 1e6;
        free(rows);
        if (rc != 0 || n < least || n > PAGE) {
            fprintf(stderr, "%s: store_find answered %d with %zu tickets\n", name, rc, n);
            abort();
        }
    }
    return bench_median(ms, q);
}

static void seed(void)
{
    uint64_t count = bench_size("BENCH_TICKETS", 100000);
    uint64_t t0 = bench_now_ns();
    int rc = store_run(insert_tickets, &count, sizeof count, NULL, 0);
    if (rc != 0) {
        fprintf(stderr, "desk_list: seeding failed: %s\n", arbor_strerror(rc));
        abort();
    }
    fprintf(stderr, "desk_list: %llu tickets written in %.2f s\n", (unsigned long long)count,
            (double)(bench_now_ns() - t0) / 1e9);
    seeded = true;
}

static void desk_list(void)
{
    bench_db_kept("list", db_path, sizeof db_path);
    desk_config_t cfg = {.db_path = db_path, .idle_timeout_ms = 60000};
    arbor_pid_t sup = bench_db_start_desk("desk_list", &cfg);
    if (!seeded)
        seed();
    ticket_status_t assigned = TICKET_ASSIGNED, closed = TICKET_CLOSED, open = TICKET_OPEN;
    store_filter_t filter = {.status = &assigned, .agent = "agent07", .limit = PAGE};
    store_filter_t search = {.status = &closed, .search = "password", .limit = PAGE};
    store_filter_t priority = {.sort = STORE_SORT_PRIORITY, .limit = PAGE};
    store_filter_t page = {.status = &closed, .offset = 99 * PAGE, .limit = PAGE};
    store_filter_t oldest = {.status = &open, .sort = STORE_SORT_OLDEST, .limit = PAGE};
    store_filter_t queue = {.status = &open, .sort = STORE_SORT_PRIORITY, .limit = PAGE};
    store_filter_t all_updated = {.sort = STORE_SORT_UPDATED, .limit = PAGE};
    store_filter_t customer = {
        .status = &closed, .customer = "customer0042", .sort = STORE_SORT_PRIORITY, .limit = PAGE};
    store_filter_t updated = {.agent = "agent03", .sort = STORE_SORT_UPDATED, .limit = PAGE};
    store_filter_t closed_updated = {.status = &closed, .sort = STORE_SORT_UPDATED, .limit = PAGE};
    store_filter_t closed_priority = {
        .status = &closed, .sort = STORE_SORT_PRIORITY, .limit = PAGE};
    bench_figure("desk_list_filter_ms", median_ms("filter", &filter, PAGE), "ms");
    bench_figure("desk_list_search_ms", median_ms("search", &search, PAGE), "ms");
    bench_figure("desk_list_priority_ms", median_ms("priority", &priority, PAGE), "ms");
    bench_figure("desk_list_page_ms", median_ms("page", &page, PAGE), "ms");
    bench_figure("desk_list_oldest_ms", median_ms("oldest", &oldest, PAGE), "ms");
    bench_figure("desk_list_updated_ms", median_ms("updated", &updated, PAGE), "ms");
    bench_figure("desk_list_customer_ms", median_ms("customer", &customer, 1), "ms");
    bench_figure("desk_list_queue_ms", median_ms("queue", &queue, PAGE), "ms");
    bench_figure("desk_list_all_updated_ms", median_ms("all updated", &all_updated, PAGE), "ms");
    bench_figure("desk_list_closed_updated_ms", median_ms("closed updated", &closed_updated, PAGE),
                 "ms");
    bench_figure("desk_list_closed_priority_ms",
                 median_ms("closed priority", &closed_priority, PAGE), "ms");
    bench_db_stop_desk(sup);
}

const bench_t bench_desk_list[] = {
    {"desk_list", desk_list, false},
    {NULL, NULL, false},
};

/*
 * desk_http (docs/performance.md, "The desk over HTTP"): the ticket_workflow
 * driven over the desk's JSON API (docs/api-http.md). The desk runs in this
 * runtime with its durable Store on a fresh database in a temporary
 * directory and its web interface on a free loopback port; an admin signs
 * in once; then C connections, each an Arbor process with a keep-alive
 * socket of its own (BENCH_CONNS, default 64), each make BENCH_HT / C
 * tickets, one after another:
 *
 *   POST /api/tickets                  201, the ticket and its version
 *   POST /api/tickets/ID/assign        If-Match: that version; 200
 *   POST /api/tickets/ID/resolve       If-Match: the assign's version; 200
 *
 * A ticket counts once its resolve is answered: three acknowledged
 * changes. Figures: desk_http, tickets per second from the start signal to
 * the last connection's end (acknowledged changes per second are three
 * times it); desk_http_changes, that product; desk_http_p99, the 99th
 * percentile of the time from sending a request to reading its whole
 * answer, over every request of the repetition, in milliseconds;
 * desk_http_batch, the changes per commit of the Store (its group
 * commit's batch: at most C, when every connection waits on it).
 *
 * Any answer but the expected 2xx stops the benchmark with the answer
 * printed. After each repetition the desk is stopped and the database
 * read back with SQLite: every acknowledged ticket must be there,
 * resolved, at the version its resolve answered, with at least three
 * history entries; otherwise the benchmark stops, saying which.
 */
#include <cjson/cJSON.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bench.h"
#include "bench_db.h"
#include "credentials.h"
#include "desk.h"
#include "web/web.h"

enum { TAG_READY = 1, TAG_GO, TAG_DONE };

#define BENCH_AGENT    "alice"
#define BENCH_PASSWORD "desk-http-bench"
#define MAX_CONNS      256
#define RESPONSE_MAX   65536

/* A benchmark that cannot go on says why and stops the program. */
static void fail(const char *what, const char *detail)
{
    fprintf(stderr, "desk_http: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    abort();
}

static void check(int rc, const char *what)
{
    if (rc != 0)
        fail(what, arbor_strerror(rc));
}

/* One answer: its status, its ETag and Set-Cookie values (or ""), its
 * body (NUL-terminated, in the connection's buffer). */
typedef struct {
    int status;
    char etag[32];
    char cookie[160];
    const char *body;
} answer_t;

typedef struct {
    arbor_socket_t s;
    char buf[RESPONSE_MAX];
} conn_t;

/* The value of header name in the head (lines ending "\r\n") into out. */
static void header_value(const char *head, const char *name, char *out, size_t size)
{
    out[0] = '\0';
    size_t len = strlen(name);
    for (const char *line = strstr(head, "\r\n"); line; line = strstr(line + 2, "\r\n")) {
        const char *h = line + 2;
        if (strncasecmp(h, name, len) == 0 && h[len] == ':') {
            h += len + 1;
            while (*h == ' ')
                h++;
            size_t n = strcspn(h, "\r");
            if (n >= size)
                n = size - 1;
            memcpy(out, h, n);
            out[n] = '\0';
            return;
        }
    }
}

/* Sends one request and reads its whole answer (Content-Length framed). */
static void exchange(conn_t *c, const char *request, size_t len, answer_t *a)
{
    check(arbor_socket_send(c->s, request, len, 30000, NULL), "send");
    size_t have = 0, got;
    char *end = NULL;
    while (!end) {
        if (have == RESPONSE_MAX - 1)
            fail("an answer's head is too long", NULL);
        check(arbor_socket_recv(c->s, c->buf + have, RESPONSE_MAX - 1 - have, 30000, &got), "recv");
        if (got == 0)
            fail("the desk closed a connection", NULL);
        have += got;
        c->buf[have] = '\0';
        end = strstr(c->buf, "\r\n\r\n");
    }
    *end = '\0';
    char length[24];
    header_value(c->buf, "Content-Length", length, sizeof length);
    size_t head = (size_t)(end + 4 - c->buf), body = (size_t)strtoul(length, NULL, 10);
    if (head + body > RESPONSE_MAX - 1)
        fail("an answer is too long", NULL);
    while (have < head + body) {
        check(arbor_socket_recv(c->s, c->buf + have, head + body - have, 30000, &got), "recv");
        if (got == 0)
            fail("the desk closed a connection", NULL);
        have += got;
    }
    if (have != head + body)
        fail("the desk answered more than was asked", NULL);
    c->buf[have] = '\0';
    a->status = 0;
    sscanf(c->buf, "HTTP/1.1 %d", &a->status);
    header_value(c->buf, "ETag", a->etag, sizeof a->etag);
    header_value(c->buf, "Set-Cookie", a->cookie, sizeof a->cookie);
    a->body = end + 4;
}

/* The session every connection uses: the cookie and the CSRF token. */
typedef struct {
    char cookie[160]; /* "arbor_session=..." */
    char csrf[96];
} session_t;

static void post(conn_t *c, const session_t *s, const char *path, const char *if_match,
                 const char *body, answer_t *a)
{
    char req[1024];
    int n = snprintf(req, sizeof req,
                     "POST %s HTTP/1.1\r\nHost: bench\r\nCookie: %s\r\nX-CSRF-Token: %s\r\n"
                     "%s%s%s"
                     "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                     path, s->cookie, s->csrf, if_match ? "If-Match: " : "",
                     if_match ? if_match : "", if_match ? "\r\n" : "", strlen(body), body);
    if (n < 0 || (size_t)n >= sizeof req)
        fail("a request is too long", path);
    exchange(c, req, (size_t)n, a);
}

/* Signs BENCH_AGENT in over c. */
static void sign_in(conn_t *c, session_t *s)
{
    static const char body[] = "{\"name\":\"" BENCH_AGENT "\",\"password\":\"" BENCH_PASSWORD "\"}";
    char req[512];
    int n = snprintf(req, sizeof req,
                     "POST /api/session HTTP/1.1\r\nHost: bench\r\n"
                     "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                     sizeof body - 1, body);
    answer_t a;
    exchange(c, req, (size_t)n, &a);
    if (a.status != 200)
        fail("sign-in refused", a.body);
    snprintf(s->cookie, sizeof s->cookie, "%.*s", (int)strcspn(a.cookie, ";"), a.cookie);
    cJSON *j = cJSON_Parse(a.body);
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(j, "csrf_token");
    if (!cJSON_IsString(t) || strlen(t->valuestring) >= sizeof s->csrf)
        fail("sign-in answered no csrf_token", a.body);
    snprintf(s->csrf, sizeof s->csrf, "%s", t->valuestring);
    cJSON_Delete(j);
}

/* What one connection was given and what it found. */
typedef struct {
    arbor_pid_t parent;
    uint16_t port;
    const session_t *session;
    uint64_t tickets;
    uint32_t *latency_us; /* 3 * tickets: every request's */
    int64_t *ids;         /* tickets: every acknowledged ticket's id */
    int64_t *versions;    /* and the version its resolve answered */
} client_t;

/* The digits after key (a JSON member name with its quotes and colon) in
 * text, into *out; false when key is not there or no digits follow. */
static bool member_digits(const char *text, const char *key, int64_t *out)
{
    const char *at = strstr(text, key);
    if (!at)
        return false;
    at += strlen(key);
    if (*at < '0' || *at > '9')
        return false;
    char *end;
    *out = strtoll(at, &end, 10);
    return *end == ',' || *end == '}';
}

/* The ticket an answer carries: its id and version. Stops the benchmark
 * unless the answer has the expected status and begins with the ticket
 * and its id, as the desk answers every change (docs/api-http.md), with
 * its version after. Read by a scan for those two members, not a JSON
 * parse: the clients run in the desk's process, and a whole parse of each
 * answer (cJSON's, about 24,000 instructions, a tenth of a request's
 * work) was measured as the desk's cost. The answers' JSON is checked by
 * the web's own tests. */
static void expect_ticket(const answer_t *a, int status, const char *what, int64_t *id,
                          int64_t *version)
{
    if (a->status != status) {
        char detail[256];
        snprintf(detail, sizeof detail, "%d %.200s", a->status, a->body);
        fail(what, detail);
    }
    static const char head[] = "{\"ticket\":{\"id\":";
    if (strncmp(a->body, head, sizeof head - 1) != 0 || !member_digits(a->body, head, id) ||
        !member_digits(a->body, ",\"version\":", version))
        fail("an answer without the ticket", a->body);
}

/* One timed request: the workflow's step on ticket id (0: create). */
static void step(conn_t *c, const client_t *cl, const char *action, int64_t *id, int64_t *version,
                 uint32_t *latency_us)
{
    char path[96], if_match[32];
    answer_t a;
    uint64_t t0 = bench_now_ns();
    if (!action) {
        post(c, cl->session, "/api/tickets", NULL,
             "{\"description\":\"Login issue\",\"customer\":\"Bench\"}", &a);
    } else {
        snprintf(path, sizeof path, "/api/tickets/%lld/%s", (long long)*id, action);
        snprintf(if_match, sizeof if_match, "\"%lld\"", (long long)*version);
        post(c, cl->session, path, if_match, "{}", &a);
    }
    *latency_us = (uint32_t)((bench_now_ns() - t0) / 1000);
    int64_t before = *id;
    expect_ticket(&a, action ? 200 : 201, action ? action : "create", id, version);
    if (action && *id != before)
        fail("an answer about another ticket", a.body);
}

static void client(void *arg)
{
    const client_t *cl = arg;
    conn_t *c = malloc(sizeof *c);
    if (!c)
        fail("out of memory", NULL);
    check(arbor_tcp_connect("127.0.0.1", cl->port, 10000, &c->s), "connect");
    arbor_socket_setopt(c->s, ARBOR_SO_NODELAY, 1);
    arbor_send(cl->parent, TAG_READY, NULL, 0);
    arbor_msg_free(bench_recv_tag(TAG_GO));
    for (uint64_t i = 0; i < cl->tickets; i++) {
        int64_t id = 0, version = 0;
        uint32_t *lat = cl->latency_us + 3 * i;
        step(c, cl, NULL, &id, &version, &lat[0]);
        step(c, cl, "assign", &id, &version, &lat[1]);
        step(c, cl, "resolve", &id, &version, &lat[2]);
        cl->ids[i] = id;
        cl->versions[i] = version;
    }
    arbor_socket_close(c->s);
    free(c);
    arbor_send(cl->parent, TAG_DONE, NULL, 0);
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* Reads the database back: every acknowledged ticket resolved, at the
 * version its resolve answered, with its three changes in the history. */
static void verify_stored(const char *db, const int64_t *ids, const int64_t *versions, uint64_t n)
{
    sqlite3 *h;
    sqlite3_stmt *st;
    if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(h,
                           "SELECT status, version, (SELECT COUNT(*) FROM history"
                           " WHERE ticket = tickets.id) FROM tickets WHERE id = ?",
                           -1, &st, NULL) != SQLITE_OK)
        fail("cannot read the database", sqlite3_errmsg(h));
    for (uint64_t i = 0; i < n; i++) {
        sqlite3_bind_int64(st, 1, ids[i]);
        char detail[128];
        snprintf(detail, sizeof detail, "ticket %lld", (long long)ids[i]);
        if (sqlite3_step(st) != SQLITE_ROW)
            fail("an acknowledged ticket is not stored", detail);
        if (sqlite3_column_int(st, 0) != TICKET_RESOLVED ||
            sqlite3_column_int64(st, 1) != versions[i] || sqlite3_column_int64(st, 2) < 3)
            fail("an acknowledged change is not stored", detail);
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    sqlite3_close(h);
}

/* The desk, durable on db, with its web on a free loopback port and
 * BENCH_AGENT an admin with BENCH_PASSWORD. web_new (and web_free, after
 * the desk has stopped) swap cJSON's allocator, which web.h asks to do
 * with the runtime stopped; here the runtime runs, but no process uses
 * cJSON at either moment: the connections start after, and have ended
 * before. */
static arbor_pid_t start_desk(const char *db, web_t **web)
{
    web_config_t wc = {.host = "127.0.0.1", .port = 0};
    check(web_new(&wc, web), "web_new");
    desk_config_t cfg = {.db_path = db,
                         .idle_timeout_ms = 60000,
                         .demo = true,
                         .on_change = web_ticket_changed,
                         .web_start = web_start,
                         .web_arg = *web};
    arbor_pid_t sup;
    arbor_reason_t why;
    if (desk_start(&cfg, &sup, &why) != 0) {
        char text[128];
        arbor_reason_format(&why, text, sizeof text);
        fail("the desk did not start", text);
    }
    ticket_error_t err;
    if (credentials_set(BENCH_AGENT, BENCH_PASSWORD, ROLE_ADMIN, false, &err) != 0)
        fail("cannot set the admin's password", err.message);
    return sup;
}

static void desk_http(void)
{
    uint64_t conns = bench_size("BENCH_CONNS", 64), total = bench_size("BENCH_HT", 12800);
    if (conns < 1 || conns > MAX_CONNS)
        fail("BENCH_CONNS must be 1 to 256", NULL);
    uint64_t per = total / conns;
    if (per == 0)
        fail("BENCH_HT must be at least BENCH_CONNS", NULL);
    char db[128];
    bench_db_make("desk-http", db, sizeof db);
    web_t *web;
    arbor_pid_t sup = start_desk(db, &web);

    session_t session;
    conn_t *c = malloc(sizeof *c);
    if (!c)
        fail("out of memory", NULL);
    check(arbor_tcp_connect("127.0.0.1", web_port(web), 10000, &c->s), "connect");
    sign_in(c, &session);
    arbor_socket_close(c->s);
    free(c);

    uint32_t *latency = malloc(3 * per * conns * sizeof *latency);
    int64_t *ids = malloc(per * conns * sizeof *ids), *versions = malloc(per * conns * sizeof *ids);
    client_t *cl = malloc(conns * sizeof *cl);
    arbor_pid_t *pids = malloc(conns * sizeof *pids);
    if (!latency || !ids || !versions || !cl || !pids)
        fail("out of memory", NULL);
    for (uint64_t i = 0; i < conns; i++) {
        cl[i] = (client_t){arbor_self(),          web_port(web), &session,          per,
                           latency + 3 * per * i, ids + per * i, versions + per * i};
        check(arbor_spawn(client, &cl[i], &pids[i]), "spawn");
    }
    for (uint64_t i = 0; i < conns; i++)
        arbor_msg_free(bench_recv_tag(TAG_READY));
    store_stats_t before, after;
    check(store_stats(&before), "store_stats");
    double seconds = (double)bench_go_and_wait(pids, conns, TAG_GO, TAG_DONE) / 1e9;
    check(store_stats(&after), "store_stats");

    arbor_unlink(sup);
    check(arbor_sup_stop(sup, ARBOR_NORMAL), "stopping the desk");
    web_free(web);
    verify_stored(db, ids, versions, per * conns);
    bench_db_remove(db);

    qsort(latency, 3 * per * conns, sizeof *latency, cmp_u32);
    uint32_t p99 = latency[(3 * per * conns * 99 + 99) / 100 - 1];
    double tickets = (double)(per * conns) / seconds;
    bench_figure("desk_http", tickets, "tickets/s");
    bench_figure("desk_http_changes", 3 * tickets, "changes/s");
    bench_figure("desk_http_p99", (double)p99 / 1000.0, "ms");
    /* How many changes each commit (one fsync) carried, on average: 64
     * (BENCH_CONNS) when every connection waits on the Store's commit. */
    uint64_t commits = after.transactions - before.transactions;
    bench_figure("desk_http_batch",
                 commits ? (double)(after.changes - before.changes) / (double)commits : 0.0,
                 "changes/commit");
    free(latency);
    free(ids);
    free(versions);
    free(cl);
    free(pids);
}

const bench_t bench_desk_http[] = {
    {"desk_http", desk_http, false},
    {NULL, NULL, false},
};

/*
 * The HTTP/1.1 server (http.h), over real sockets on loopback.
 *
 * Each case starts a server subtree linked to the test's root process,
 * talks to it with raw requests through a client socket in the same
 * runtime, and stops the subtree; the harness then checks that no
 * process, socket, timer or message is left.
 */
#define _GNU_SOURCE
#include <string.h>

#include "http_client.h"
#include "test.h"

/* ---- the server under test -------------------------------------------------------- */

static arbor_http_server_t *srv;
static arbor_pid_t sup;
static _Atomic int crash_reports;
static arbor_pid_t root_pid; /* where /events reports */
static int64_t sse_heartbeat_ms = 60000;

#define TAG_SUBSCRIBED 10 /* /events -> root: its pid and Last-Event-ID */
#define TAG_SSE_DONE   11 /* /events -> root: arbor_http_sse()'s result */
#define TAG_EVENT      12 /* root -> /events: an sse_msg_t */
#define TAG_END        13 /* root -> /events: end the stream */
#define TAG_WAITING    14 /* /unknown/wait -> root: its pid, waiting to be killed */

typedef struct subscribed {
    arbor_pid_t pid;
    char last_id[32];
} subscribed_t;

typedef struct sse_done {
    int rc;             /* arbor_http_sse()'s */
    char last_id[32];   /* the request's Last-Event-ID, read after the stream */
    int late_header_rc; /* arbor_http_set_header() after the stream's head */
} sse_done_t;

typedef struct sse_msg {
    char id[16];
    char data[]; /* the rest of the message */
} sse_msg_t;

static int to_event(arbor_msg_t *m, arbor_http_sse_event_t *ev, void *arg)
{
    (void)arg;
    if (m->tag == TAG_END)
        return -1;
    if (m->tag != TAG_EVENT)
        return 0;
    sse_msg_t *e = m->data;
    ev->id = e->id;
    ev->event = "tick";
    ev->data = e->data;
    ev->data_len = m->size - sizeof *e;
    return 1;
}

static void events(arbor_http_request_t *req, arbor_http_response_t *res)
{
    subscribed_t sub = {.pid = arbor_self()};
    const char *last = arbor_http_header(req, "Last-Event-ID");
    snprintf(sub.last_id, sizeof sub.last_id, "%s", last ? last : "");
    ASSERT_OK(arbor_send(root_pid, TAG_SUBSCRIBED, &sub, sizeof sub));
    arbor_http_sse_opts_t o = {.on_message = to_event,
                               .heartbeat_ms = sse_heartbeat_ms,
                               .send_timeout_ms = 200,
                               .max_backlog = 1000};
    sse_done_t done = {.rc = arbor_http_sse(req, res, &o)};
    /* The request is still the handler's after the stream, though the
     * stream gave its buffers back. */
    last = arbor_http_header(req, "Last-Event-ID");
    snprintf(done.last_id, sizeof done.last_id, "%s", last ? last : "");
    done.late_header_rc = arbor_http_set_header(res, "X-Late", "1");
    ASSERT_OK(arbor_send(root_pid, TAG_SSE_DONE, &done, sizeof done));
}

/* The default handler: /echo answers the body, /fields the header names,
 * /crash crashes, /stream streams three chunks, /pid answers the
 * connection's pid, /sleep/N sleeps N ms first; anything else answers its
 * path. */
static void handler(arbor_http_request_t *req, arbor_http_response_t *res, void *arg)
{
    (void)arg;
    char pid[32];
    snprintf(pid, sizeof pid, "%" PRIu64, (uint64_t)arbor_self());
    arbor_http_set_header(res, "X-Pid", pid);
    if (!strcmp(req->path, "/echo")) {
        ASSERT_OK(arbor_http_reply(res, 200, "text/plain", req->body, req->body_len));
    } else if (!strcmp(req->path, "/fields")) { /* the header names it sees */
        char names[512] = "";
        for (size_t i = 0; i < req->n_headers; i++)
            snprintf(names + strlen(names), sizeof names - strlen(names), "%s;",
                     req->headers[i].name);
        ASSERT_OK(arbor_http_replyf(res, 200, "text/plain", "%s", names));
    } else if (!strcmp(req->path, "/length")) {
        ASSERT_OK(arbor_http_replyf(res, 200, "text/plain", "%zu", req->body_len));
    } else if (!strcmp(req->path, "/events")) {
        events(req, res);
    } else if (!strcmp(req->path, "/crash")) {
        arbor_exit(arbor_error("boom"));
    } else if (!strncmp(req->path, "/unknown/", 9)) {
        /* Says that its outcome is unknown if it dies: /unknown/crash
         * crashes, /unknown/wait tells the root its pid and waits. */
        static const char body[] = "{\"code\":\"outcome_unknown\"}";
        ASSERT_OK(
            arbor_http_set_crash_response(res, 504, "application/json", body, sizeof body - 1));
        if (!strcmp(req->path + 9, "crash"))
            arbor_exit(arbor_error("boom"));
        arbor_pid_t me = arbor_self();
        ASSERT_OK(arbor_send(root_pid, TAG_WAITING, &me, sizeof me));
        arbor_sleep(60000);
    } else if (!strcmp(req->path, "/bad-crash-response")) {
        ASSERT_ERR(arbor_http_set_crash_response(res, 99, NULL, "", 0), ARBOR_EINVAL);
        ASSERT_ERR(arbor_http_set_crash_response(res, 500, "text/plain\r\nX: y", "", 0),
                   ARBOR_EINVAL);
        ASSERT_OK(arbor_http_write(res, "streamed", 8));
        ASSERT_ERR(arbor_http_set_crash_response(res, 500, NULL, "", 0), ARBOR_EINVAL);
    } else if (!strcmp(req->path, "/stream")) {
        res->content_type = "text/plain";
        ASSERT_OK(arbor_http_write(res, "one,", 4));
        ASSERT_OK(arbor_http_write(res, "two,", 4));
        ASSERT_OK(arbor_http_write(res, "three", 5));
    } else if (!strncmp(req->path, "/sleep/", 7)) {
        arbor_sleep((uint64_t)atoi(req->path + 7));
        ASSERT_OK(arbor_http_replyf(res, 200, "text/plain", "%s", req->path));
    } else {
        ASSERT_OK(arbor_http_replyf(res, 200, "text/plain", "%s", req->path));
    }
}

static void count_reports(const arbor_report_t *r, void *ctx)
{
    (void)ctx;
    if (r->kind == ARBOR_REPORT_CRASH && !strcmp(r->behaviour, "http_connection") &&
        !strcmp(r->detail, "GET /crash"))
        crash_reports++;
}

static uint16_t start_with(arbor_http_opts_t o)
{
    if (!o.handler)
        o.handler = handler;
    ASSERT_OK(arbor_http_server_new(&o, &srv));
    arbor_reason_t why;
    ASSERT_OK(arbor_http_server_start(srv, &sup, &why));
    uint16_t port = arbor_http_server_port(srv);
    ASSERT_NE(port, 0);
    return port;
}

static uint16_t start(void)
{
    return start_with((arbor_http_opts_t){0});
}

static void stop(void)
{
    /* Every client has closed: each connection ends on its own. */
    WAIT_UNTIL(arbor_http_server_connections(srv) == 0, 5000);
    arbor_unlink(sup);
    ASSERT_OK(arbor_sup_stop(sup, ARBOR_SHUTDOWN));
    arbor_http_server_free(srv);
    srv = NULL;
}

/* ---- keep-alive and pipelining ---------------------------------------------------------- */

static void keep_alive_root(void *arg)
{
    (void)arg;
    uint16_t port = start();
    client_t *c = connect_to(port);
    response_t *r = new_response();
    char first_pid[32] = "";
    for (int i = 0; i < 3; i++) {
        char req[128];
        snprintf(req, sizeof req, "GET /n%d HTTP/1.1\r\nHost: x\r\n\r\n", i);
        send_text(c, req);
        read_response(c, r);
        ASSERT_EQ(r->status, 200);
        char want[8];
        snprintf(want, sizeof want, "/n%d", i);
        ASSERT_STREQ(r->body, want);
        ASSERT_TRUE(header_of(r, "Connection") == NULL);
        if (i == 0)
            snprintf(first_pid, sizeof first_pid, "%.31s", header_of(r, "X-Pid"));
        ASSERT_STREQ(header_of(r, "X-Pid"), first_pid); /* one connection, one process */
    }
    ASSERT_EQ(arbor_http_server_connections(srv), 1);
    /* A request that arrives a byte at a time (its value split across
     * reads is not mistaken for a folded line). */
    ASSERT_OK(arbor_socket_setopt(c->s, ARBOR_SO_NODELAY, 1));
    const char *slow = "POST /echo HTTP/1.1\r\nHost: x\r\nX-Long: one two three\r\n"
                       "Content-Length: 4\r\n\r\nbody";
    for (const char *p = slow; *p; p++) {
        ASSERT_OK(arbor_socket_send(c->s, p, 1, 5000, NULL));
        arbor_yield();
    }
    read_response(c, r);
    ASSERT_EQ(r->status, 200);
    ASSERT_STREQ(r->body, "body");
    disconnect(c);
    arbor_free(r);
    stop();
}

TEST(keep_alive_serves_requests_on_one_connection)
{
    arbor_test_run(keep_alive_root, NULL);
}

static void pipelined_root(void *arg)
{
    (void)arg;
    uint16_t port = start();
    client_t *c = connect_to(port);
    response_t *r = new_response();
    /* The first takes longest: its answer must still come first. */
    send_text(c, "GET /sleep/100 HTTP/1.1\r\nHost: x\r\n\r\n"
                 "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
                 "GET /third HTTP/1.1\r\nHost: x\r\n\r\n");
    read_response(c, r);
    ASSERT_STREQ(r->body, "/sleep/100");
    read_response(c, r);
    ASSERT_STREQ(r->body, "hello");
    read_response(c, r);
    ASSERT_STREQ(r->body, "/third");
    disconnect(c);
    arbor_free(r);
    stop();
}

TEST(pipelined_requests_are_answered_in_order)
{
    arbor_test_run(pipelined_root, NULL);
}

static void connection_close_root(void *arg)
{
    (void)arg;
    uint16_t port = start();
    response_t *r = new_response();
    exchange(port, "GET /bye HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", r, true);
    ASSERT_EQ(r->status, 200);
    ASSERT_STREQ(header_of(r, "Connection"), "close");
    arbor_free(r);
    stop();
}

TEST(connection_close_is_honoured)
{
    arbor_test_run(connection_close_root, NULL);
}

/* A client that said its request was its last, and sent nothing after
 * it, is closed at once rather than lingered over (no shutdown and wait
 * for its end): bytes it sends after the answer's end of file meet a
 * closed socket, whose kernel resets them. A lingering server would read
 * and drop them for a second, so no reset would come before then. (The
 * reset comes from the server's kernel, not its processes: the 500 ms
 * here wait on no scheduling of the server.) */
static void close_without_linger_root(void *arg)
{
    (void)arg;
    uint16_t port = start();
    response_t *r = new_response();
    client_t *c = connect_to(port);
    send_text(c, "GET /bye HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    read_response(c, r);
    ASSERT_EQ(r->status, 200);
    ASSERT_STREQ(header_of(r, "Connection"), "close");
    expect_closed(c);
    uint64_t deadline = arbor_now_ms() + 500;
    int rc = 0;
    while (rc == 0 && arbor_now_ms() < deadline) {
        rc = arbor_socket_send(c->s, "x", 1, 1000, NULL);
        if (rc == 0)
            arbor_sleep(1);
    }
    ASSERT_TRUE(rc == ARBOR_ECONNRESET || rc == ARBOR_EPIPE);
    disconnect(c);
    /* The same request with more bytes behind it is lingered over: the
     * answer arrives whole, with an end of file and no reset. */
    c = connect_to(port);
    send_text(c, "GET /bye HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\nGET /more");
    read_response(c, r);
    ASSERT_EQ(r->status, 200);
    expect_closed(c);
    disconnect(c);
    arbor_free(r);
    stop();
}

TEST(a_client_s_last_request_is_closed_at_once_when_nothing_follows)
{
    arbor_test_run(close_without_linger_root, NULL);
}

static void upgrade_root(void *arg)
{
    (void)arg;
    uint16_t port = start();
    response_t *r = new_response();
    /* Upgrades are not served: answered as a plain request, then closed
     * (what follows is not HTTP: the second request here goes unread). */
    exchange(port,
             "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"
             "GET /next HTTP/1.1\r\nHost: x\r\n\r\n",
             r, true);
    ASSERT_EQ(r->status, 200);
    ASSERT_STREQ(r->body, "/ws");
    ASSERT_STREQ(header_of(r, "Connection"), "close");
    exchange(port, "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", r, true);
    ASSERT_STREQ(header_of(r, "Connection"), "close");
    arbor_free(r);
    stop();
}

TEST(an_upgrade_or_connect_is_answered_then_closed)
{
    arbor_test_run(upgrade_root, NULL);
}

static void big_body_root(void *arg)
{
    (void)arg;
    uint16_t port = start();
    client_t *c = connect_to(port);
    response_t *r = new_response();
    size_t len = 512 * 1024;
    char *body = arbor_alloc(len);
    memset(body, 'z', len);
    send_text(c, "POST /length HTTP/1.1\r\nHost: x\r\nContent-Length: 524288\r\n\r\n");
    ASSERT_OK(arbor_socket_send(c->s, body, len, 5000, NULL));
    arbor_free(body);
    read_response(c, r);
    ASSERT_STREQ(r->body, "524288");
    /* Kept alive and idle, the connection no longer holds the body's
     * half megabyte. */
    send_text(c, "GET /pid HTTP/1.1\r\nHost: x\r\n\r\n");
    read_response(c, r);
    arbor_pid_t pid = (arbor_pid_t)strtoull(header_of(r, "X-Pid"), NULL, 10);
    arbor_process_info_t info;
    ASSERT_OK(arbor_process_info(pid, &info));
    ASSERT_LT(info.heap_bytes, 128 * 1024);
    disconnect(c);
    arbor_free(r);
    stop();
}

TEST(a_large_body_is_not_kept_by_an_idle_connection)
{
    arbor_test_run(big_body_root, NULL);
}

static void idle_memory_root(void *arg)
{
    (void)arg;
    uint16_t port = start();
    client_t *c = connect_to(port);
    response_t *r = new_response();
    send_text(c, "GET /first HTTP/1.1\r\nHost: x\r\n\r\n");
    read_response(c, r);
    arbor_pid_t pid = (arbor_pid_t)strtoull(header_of(r, "X-Pid"), NULL, 10);
    /* Once its answer is sent it waits for the next request holding no
     * stack, and of its heap only its own record: no buffer. */
    arbor_process_info_t info;
    WAIT_UNTIL(arbor_process_info(pid, &info) == 0 && !info.holds_stack, 5000);
    ASSERT_TRUE(info.reactive);
    ASSERT_LT(info.heap_bytes, 1024);
    ASSERT_LT(info.memory, 2048);
    /* A message that reaches it while it waits is dropped, not kept. */
    ASSERT_OK(arbor_send(pid, 42, "stray", 5));
    WAIT_UNTIL(arbor_process_info(pid, &info) == 0 && info.message_queue_len == 0 &&
                   !info.holds_stack,
               5000);
    /* The next request is served as before, by the same process, and a
     * pipelined pair in order. */
    send_text(c, "GET /second HTTP/1.1\r\nHost: x\r\n\r\nGET /third HTTP/1.1\r\nHost: x\r\n\r\n");
    read_response(c, r);
    ASSERT_STREQ(r->body, "/second");
    ASSERT_EQ((arbor_pid_t)strtoull(header_of(r, "X-Pid"), NULL, 10), pid);
    read_response(c, r);
    ASSERT_STREQ(r->body, "/third");
    WAIT_UNTIL(arbor_process_info(pid, &info) == 0 && !info.holds_stack, 5000);
    ASSERT_LT(info.heap_bytes, 1024);
    disconnect(c);
    arbor_free(r);
    stop();
}

TEST(an_idle_connection_holds_no_stack_and_no_buffer)
{
    arbor_test_run(idle_memory_root, NULL);
}

/* A connection in the middle of a request (a slow client that has sent
 * part of its head) holds its input and head buffers, not an output
 * buffer: that is taken when there is something to answer, and given
 * back, once sent, while the connection waits for the rest of the next
 * request. */
static void mid_request_memory_root(void *arg)
{
    (void)arg;
    uint16_t port = start();
    client_t *c = connect_to(port);
    response_t *r = new_response();
    send_text(c, "GET /first HTTP/1.1\r\nHost: x\r\n\r\n");
    read_response(c, r);
    arbor_pid_t pid = (arbor_pid_t)strtoull(header_of(r, "X-Pid"), NULL, 10);
    arbor_process_info_t info;
    WAIT_UNTIL(arbor_process_info(pid, &info) == 0 && !info.holds_stack, 5000);
    send_text(c, "GET /second HTTP/1.1\r\nHost: x\r\n");
    WAIT_UNTIL(arbor_process_info(pid, &info) == 0 && info.holds_stack && info.heap_bytes > 1024,
               5000);
    printf("# mid-request: %zu bytes of heap\n", info.heap_bytes);
    /* 16 KiB of input, 16.5 KiB of head (8 KiB of limit, twice, and the
     * header arrays): about 37 KiB, where 16 KiB of output made it 53. */
    ASSERT_LT(info.heap_bytes, 40 * 1024);
    send_text(c, "\r\n");
    read_response(c, r);
    ASSERT_STREQ(r->body, "/second");
    /* The same after an answer in the same turn (a request and the start
     * of the next in one read): the buffer of that answer, sent, is given
     * back while the connection waits for the rest. */
    send_text(c, "GET /third HTTP/1.1\r\nHost: x\r\n\r\nGET /fourth HTTP/1.1\r\n");
    read_response(c, r);
    ASSERT_STREQ(r->body, "/third");
    WAIT_UNTIL(arbor_process_info(pid, &info) == 0 && info.holds_stack &&
                   info.heap_bytes < 40 * 1024,
               5000);
    send_text(c, "Host: x\r\n\r\n");
    read_response(c, r);
    ASSERT_STREQ(r->body, "/fourth");
    disconnect(c);
    arbor_free(r);
    stop();
}

TEST(a_connection_mid_request_holds_no_output_buffer)
{
    arbor_test_run(mid_request_memory_root, NULL);
}

/* ---- HTTP/1.0, HEAD, 100-continue, chunked ------------------------------------------------- */

static void http10_root(void *arg)
{
    (void)arg;
    uint16_t port = start();
    response_t *r = new_response();
    /* Without keep-alive: one answer, then the server closes. */
    exchange(port, "GET /old HTTP/1.0\r\n\r\n", r, true);
    ASSERT_EQ(r->status, 200);
    ASSERT_STREQ(r->body, "/old");
    ASSERT_STREQ(header_of(r, "Connection"), "close");
    /* With it: the connection stays for the next request. */
    client_t *c = connect_to(port);
    send_text(c, "GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    read_response(c, r);
    ASSERT_STREQ(header_of(r, "Connection"), "keep-alive");
    ASSERT_STREQ(r->body, "/a");
    send_text(c, "GET /b HTTP/1.0\r\n\r\n");
    read_response(c, r);
    ASSERT_STREQ(r->body, "/b");
    expect_closed(c);
    disconnect(c);
    arbor_free(r);
    stop();
}

TEST(http_1_0_closes_unless_keep_alive_is_asked)
{
    arbor_test_run(http10_root, NULL);
}

static void head_root(void *arg)
{
    (void)arg;
    uint16_t port = start();
    client_t *c = connect_to(port);
    response_t *r = new_response();
    send_text(c, "GET /same HTTP/1.1\r\nHost: x\r\n\r\n");
    read_response(c, r);
    char length[32];
    snprintf(length, sizeof length, "%.31s", header_of(r, "Content-Length"));
    ASSERT_STREQ(length, "5");
    /* HEAD: the same headers, no body; then a GET on the same connection
     * reads its own answer, not a stray body. */
    send_text(c, "HEAD /same HTTP/1.1\r\nHost: x\r\n\r\n"
                 "GET /next HTTP/1.1\r\nHost: x\r\n\r\n");
    read_response_of(c, r, true);
    ASSERT_EQ(r->status, 200);
    ASSERT_STREQ(header_of(r, "Content-Length"), length);
    ASSERT_STREQ(header_of(r, "Content-Type"), "text/plain");
    read_response(c, r);
    ASSERT_STREQ(r->body, "/next");
    /* A streamed answer to HEAD: headers only. */
    send_text(c, "HEAD /stream HTTP/1.1\r\nHost: x\r\n\r\nGET /after HTTP/1.1\r\nHost: x\r\n\r\n");
    read_response_of(c, r, true);
    ASSERT_STREQ(header_of(r, "Transfer-Encoding"), "chunked");
    read_response(c, r);
    ASSERT_STREQ(r->body, "/after");
    disconnect(c);
    arbor_free(r);
    stop();
}

TEST(head_answers_the_headers_without_the_body)
{
    arbor_test_run(head_root, NULL);
}

static void continue_root(void *arg)
{
    (void)arg;
    uint16_t port = start_with((arbor_http_opts_t){.limits = {.max_body = 1000}});
    client_t *c = connect_to(port);
    response_t *r = new_response();
    send_text(c, "POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                 "Content-Length: 5\r\n\r\n");
    char line[128];
    read_line(c, line, sizeof line);
    ASSERT_STREQ(line, "HTTP/1.1 100 Continue");
    read_line(c, line, sizeof line);
    ASSERT_STREQ(line, "");
    send_text(c, "hello");
    read_response(c, r);
    ASSERT_EQ(r->status, 200);
    ASSERT_STREQ(r->body, "hello");
    disconnect(c);
    /* Too large: refused at once, without 100 Continue. */
    exchange(port,
             "POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
             "Content-Length: 5000\r\n\r\n",
             r, true);
    ASSERT_EQ(r->status, 413);
    arbor_free(r);
    stop();
}

TEST(expect_100_continue_is_answered_before_the_body)
{
    arbor_test_run(continue_root, NULL);
}

static void chunked_root(void *arg)
{
    (void)arg;
    uint16_t port = start();
    client_t *c = connect_to(port);
    response_t *r = new_response();
    send_text(c, "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                 "5\r\nhello\r\n");
    /* The rest comes later, in pieces. */
    send_text(c, "6\r\n wor");
    send_text(c, "ld\r\n0\r\n\r\n");
    read_response(c, r);
    ASSERT_EQ(r->status, 200);
    ASSERT_STREQ(r->body, "hello world");
    /* A streamed (chunked) response. */
    send_text(c, "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n");
    read_response(c, r);
    ASSERT_STREQ(header_of(r, "Transfer-Encoding"), "chunked");
    ASSERT_STREQ(r->body, "one,two,three");
    /* Trailer fields are read but not merged into the headers: a
     * Content-Length there must not sit beside the chunked framing. */
    send_text(c, "POST /fields HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                 "3\r\nabc\r\n0\r\nX-Trailer: t\r\nContent-Length: 22\r\n\r\n"
                 "GET /after HTTP/1.1\r\nHost: x\r\n\r\n");
    read_response(c, r);
    ASSERT_EQ(r->status, 200);
    ASSERT_STREQ(r->body, "Host;Transfer-Encoding;");
    read_response(c, r);
    ASSERT_STREQ(r->body, "/after");
    disconnect(c);
    arbor_free(r);
    stop();
}

TEST(chunked_request_bodies_and_streamed_responses)
{
    arbor_test_run(chunked_root, NULL);
}

/* ---- smuggling ------------------------------------------------------------------------------ */

static const struct {
    const char *what, *request;
} smuggling[] = {
    {"Content-Length and Transfer-Encoding",
     "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
     "0\r\n\r\n"},
    {"Transfer-Encoding and Content-Length",
     "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n"
     "0\r\n\r\n"},
    {"two Content-Lengths", "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
                            "Content-Length: 3\r\n\r\nabc"},
    {"two different Content-Lengths", "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
                                      "Content-Length: 4\r\n\r\nabcd"},
    {"Content-Length list", "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3, 3\r\n\r\nabc"},
    {"Content-Length not a number", "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3a\r\n\r\n"
                                    "abc"},
    {"negative Content-Length", "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: -3\r\n\r\nabc"},
    {"Transfer-Encoding not chunked", "POST /echo HTTP/1.1\r\nHost: x\r\n"
                                      "Transfer-Encoding: gzip\r\n\r\nabc"},
    {"Transfer-Encoding chunked twice", "POST /echo HTTP/1.1\r\nHost: x\r\n"
                                        "Transfer-Encoding: chunked\r\n"
                                        "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
    {"Transfer-Encoding chunked, then gzip", "POST /echo HTTP/1.1\r\nHost: x\r\n"
                                             "Transfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n"},
    {"obs-fold with a space", "GET / HTTP/1.1\r\nHost: x\r\nX-A: one\r\n two\r\n\r\n"},
    {"obs-fold with a tab", "GET / HTTP/1.1\r\nHost: x\r\nX-A: one\r\n\ttwo\r\n\r\n"},
    {"bare CR in a value", "GET / HTTP/1.1\r\nHost: x\r\nX-A: one\rtwo\r\n\r\n"},
    {"bare CR ending a line", "GET / HTTP/1.1\r\nHost: x\rX-A: y\r\n\r\n"},
    {"bare CR in the request line", "GET /\r HTTP/1.1\r\nHost: x\r\n\r\n"},
    {"NUL in a value", "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\001b\r\n\r\n"},
    {"space in a name", "GET / HTTP/1.1\r\nHost: x\r\nX A: y\r\n\r\n"},
    {"space before the colon", "GET / HTTP/1.1\r\nHost: x\r\nX-A : y\r\n\r\n"},
    {"@ in a name", "GET / HTTP/1.1\r\nHost: x\r\nX@A: y\r\n\r\n"},
    {"an empty name", "GET / HTTP/1.1\r\nHost: x\r\n: y\r\n\r\n"},
    {"no target", "CONNECT \nHost: example.com:443\r\n\r\n"},
    {"a chunk size not in hex", "POST /echo HTTP/1.1\r\nHost: x\r\n"
                                "Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n"},
    {"control in the target", "GET /a\001b HTTP/1.1\r\nHost: x\r\n\r\n"},
    {"DEL in the target", "GET /a\177b HTTP/1.1\r\nHost: x\r\n\r\n"},
    {"non-ASCII in the target", "GET /a\303\251 HTTP/1.1\r\nHost: x\r\n\r\n"},
};

static void smuggling_root(void *arg)
{
    (void)arg;
    uint16_t port = start();
    response_t *r = new_response();
    /* Every case is tried; the failure names each one let through. */
    char missed[2048] = "";
    size_t n_missed = 0;
    for (size_t i = 0; i < sizeof smuggling / sizeof smuggling[0]; i++) {
        client_t *c = connect_to(port);
        send_text(c, smuggling[i].request);
        read_response(c, r);
        bool closed = header_of(r, "Connection") && !strcmp(header_of(r, "Connection"), "close");
        if (r->status != 400 || !closed) {
            size_t at = strlen(missed);
            snprintf(missed + at, sizeof missed - at, "%s%s (%d)", n_missed++ ? "; " : "",
                     smuggling[i].what, r->status);
            if (r->status == 400)
                expect_closed(c);
        } else {
            expect_closed(c);
        }
        disconnect(c);
    }
    if (n_missed)
        arbor_test_fail(__FILE__, __LINE__, "let through: %s", missed);
    arbor_free(r);
    stop();
}

TEST(smuggling_attempts_are_refused_with_400_and_close)
{
    arbor_test_run(smuggling_root, NULL);
}

/* ---- limits and timeouts ------------------------------------------------------------------ */

static void head_limits_root(void *arg)
{
    (void)arg;
    uint16_t port = start();
    response_t *r = new_response();
    char *req = arbor_alloc(20000);
    /* A header field of 9000 bytes: over 8 KiB of head. */
    int n = snprintf(req, 20000, "GET / HTTP/1.1\r\nHost: x\r\nX-Big: ");
    memset(req + n, 'a', 9000);
    strcpy(req + n + 9000, "\r\n\r\n");
    exchange(port, req, r, true);
    ASSERT_EQ(r->status, 431);
    /* Just under it is served. */
    n = snprintf(req, 20000, "GET / HTTP/1.1\r\nHost: x\r\nX-Big: ");
    memset(req + n, 'a', 7000);
    strcpy(req + n + 7000, "\r\n\r\n");
    client_t *c = connect_to(port);
    send_text(c, req);
    read_response(c, r);
    ASSERT_EQ(r->status, 200);
    disconnect(c);
    /* 101 fields. */
    n = snprintf(req, 20000, "GET / HTTP/1.1\r\n");
    for (int i = 0; i < 101; i++)
        n += snprintf(req + n, (size_t)(20000 - n), "X-%d: y\r\n", i);
    snprintf(req + n, (size_t)(20000 - n), "\r\n");
    exchange(port, req, r, true);
    ASSERT_EQ(r->status, 431);
    /* A long target counts too. */
    n = snprintf(req, 20000, "GET /");
    memset(req + n, 'p', 9000);
    strcpy(req + n + 9000, " HTTP/1.1\r\nHost: x\r\n\r\n");
    exchange(port, req, r, true);
    ASSERT_EQ(r->status, 431);
    arbor_free(req);
    arbor_free(r);
    stop();
}

TEST(over_8_kib_of_head_or_100_fields_is_431)
{
    arbor_test_run(head_limits_root, NULL);
}

static void body_limit_root(void *arg)
{
    (void)arg;
    uint16_t port = start();
    response_t *r = new_response();
    /* Announced: refused before the body is read. */
    exchange(port, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1048577\r\n\r\n", r, true);
    ASSERT_EQ(r->status, 413);
    /* Chunked: refused once it grows past 1 MiB. */
    client_t *c = connect_to(port);
    send_text(c, "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
    char *chunk = arbor_alloc(70000);
    int n = snprintf(chunk, 70000, "10000\r\n");
    memset(chunk + n, 'b', 0x10000);
    memcpy(chunk + n + 0x10000, "\r\n", 3);
    int sent = 0;
    for (; sent < 17; sent++) /* 17 x 64 KiB > 1 MiB */
        if (arbor_socket_send(c->s, chunk, strlen(chunk), 5000, NULL) != 0)
            break;
    read_response(c, r);
    ASSERT_EQ(r->status, 413);
    disconnect(c);
    arbor_free(chunk);
    arbor_free(r);
    stop();
}

TEST(a_body_over_1_mib_is_413)
{
    arbor_test_run(body_limit_root, NULL);
}

static void timeouts_root(void *arg)
{
    (void)arg;
    uint16_t port = start_with((arbor_http_opts_t){
        .limits = {.head_timeout_ms = 200, .body_timeout_ms = 200, .idle_timeout_ms = 200}});
    response_t *r = new_response();
    /* Headers that never end (slowloris): 408. */
    client_t *c = connect_to(port);
    uint64_t t0 = arbor_now_ms(); /* before the server's clock starts */
    send_text(c, "GET / HTTP/1.1\r\nHost: x\r\n");
    read_response(c, r);
    ASSERT_EQ(r->status, 408);
    ASSERT_GE(arbor_now_ms() - t0, 190);
    expect_closed(c);
    disconnect(c);
    /* A header a byte at a time still ends at the head deadline. */
    c = connect_to(port);
    send_text(c, "GET / HTTP/1.1\r\nX-Slow: ");
    for (int i = 0; i < 400; i++) {
        if (arbor_socket_send(c->s, "a", 1, 1000, NULL) != 0)
            break;
        arbor_sleep(2); /* trickling, to provoke the timeout */
        size_t got;
        if (arbor_socket_recv(c->s, c->buf, sizeof c->buf, 0, &got) == 0) {
            c->len = got;
            break;
        }
    }
    read_response(c, r);
    ASSERT_EQ(r->status, 408);
    disconnect(c);
    /* A body that stops short: 408. */
    c = connect_to(port);
    send_text(c, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc");
    read_response(c, r);
    ASSERT_EQ(r->status, 408);
    expect_closed(c);
    disconnect(c);
    /* Idle after a request: closed without a word. */
    c = connect_to(port);
    t0 = arbor_now_ms();
    send_text(c, "GET /x HTTP/1.1\r\nHost: x\r\n\r\n");
    read_response(c, r);
    ASSERT_EQ(r->status, 200);
    expect_closed(c);
    ASSERT_GE(arbor_now_ms() - t0, 190);
    disconnect(c);
    /* Idle before any request: the same. */
    c = connect_to(port);
    expect_closed(c);
    disconnect(c);
    arbor_free(r);
    stop();
}

TEST(head_body_and_idle_timeouts)
{
    arbor_test_run(timeouts_root, NULL);
}

static void idle_timeout_is_per_wait_root(void *arg)
{
    (void)arg;
    uint16_t port = start_with((arbor_http_opts_t){.limits = {.idle_timeout_ms = 300}});
    response_t *r = new_response();
    client_t *c = connect_to(port);
    /* A handler that runs past the idle timeout is not cut: the timeout
     * is for the wait between requests. */
    send_text(c, "GET /sleep/700 HTTP/1.1\r\nHost: x\r\n\r\n");
    read_response(c, r);
    ASSERT_EQ(r->status, 200);
    ASSERT_STREQ(r->body, "/sleep/700");
    /* Each request starts a new wait: requests 50 ms apart for 800 ms,
     * more than twice the timeout, keep the connection. */
    for (int i = 0; i < 16; i++) {
        arbor_sleep(50); /* the client's pace between requests */
        send_text(c, "GET /again HTTP/1.1\r\nHost: x\r\n\r\n");
        read_response(c, r);
        ASSERT_EQ(r->status, 200);
        ASSERT_STREQ(r->body, "/again");
    }
    /* Then silence: closed after the timeout. */
    uint64_t t0 = arbor_now_ms();
    expect_closed(c);
    ASSERT_GE(arbor_now_ms() - t0, 290);
    disconnect(c);
    arbor_free(r);
    stop();
}

TEST(the_idle_timeout_is_for_each_wait_between_requests)
{
    arbor_test_run(idle_timeout_is_per_wait_root, NULL);
}

static void max_connections_root(void *arg)
{
    (void)arg;
    uint16_t port = start_with((arbor_http_opts_t){.max_connections = 2});
    response_t *r = new_response();
    client_t *a = connect_to(port), *b = connect_to(port);
    send_text(a, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
    read_response(a, r);
    send_text(b, "GET /b HTTP/1.1\r\nHost: x\r\n\r\n");
    read_response(b, r);
    ASSERT_EQ(arbor_http_server_connections(srv), 2);
    exchange(port, "GET /c HTTP/1.1\r\nHost: x\r\n\r\n", r, true);
    ASSERT_EQ(r->status, 503);
    ASSERT_STREQ(header_of(r, "Retry-After"), "1");
    /* The two still work; once one goes, a new one is served. */
    send_text(a, "GET /a2 HTTP/1.1\r\nHost: x\r\n\r\n");
    read_response(a, r);
    ASSERT_STREQ(r->body, "/a2");
    disconnect(b);
    WAIT_UNTIL(arbor_http_server_connections(srv) == 1, 5000);
    exchange(port, "GET /d HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", r, true);
    ASSERT_EQ(r->status, 200);
    disconnect(a);
    arbor_free(r);
    stop();
}

TEST(beyond_max_connections_is_503_with_retry_after)
{
    arbor_test_run(max_connections_root, NULL);
}

/* ---- crashes and restarts ---------------------------------------------------------------- */

static void crash_root(void *arg)
{
    (void)arg;
    crash_reports = 0;
    arbor_report_fn old = arbor_report_set_handler(count_reports, NULL);
    uint16_t port = start();
    response_t *r = new_response();
    client_t *other = connect_to(port);
    send_text(other, "GET /before HTTP/1.1\r\nHost: x\r\n\r\n");
    read_response(other, r);
    char pid[32];
    snprintf(pid, sizeof pid, "%.31s", header_of(r, "X-Pid"));
    /* A pipelined request before the crash keeps its answer, in order. */
    client_t *c = connect_to(port);
    send_text(c, "GET /first HTTP/1.1\r\nHost: x\r\n\r\nGET /crash HTTP/1.1\r\nHost: x\r\n\r\n");
    read_response(c, r);
    ASSERT_EQ(r->status, 200);
    ASSERT_STREQ(r->body, "/first");
    read_response(c, r);
    ASSERT_EQ(r->status, 500);
    expect_closed(c);
    disconnect(c);
    WAIT_UNTIL(crash_reports == 1, 5000);
    /* The other connection did not notice: same process, still served. */
    send_text(other, "GET /after HTTP/1.1\r\nHost: x\r\n\r\n");
    read_response(other, r);
    ASSERT_EQ(r->status, 200);
    ASSERT_STREQ(header_of(r, "X-Pid"), pid);
    disconnect(other);
    arbor_free(r);
    stop();
    arbor_report_set_handler(old, NULL);
}

TEST(a_crashing_handler_gets_500_and_others_go_on)
{
    arbor_test_run(crash_root, NULL);
}

static void head_crash_root(void *arg)
{
    (void)arg;
    arbor_report_fn old = arbor_report_set_handler(count_reports, NULL);
    uint16_t port = start();
    response_t *r = new_response();
    /* The 500 of a crash in a HEAD request has GET's headers and no body:
     * nothing follows the head before the close. */
    client_t *c = connect_to(port);
    send_text(c, "HEAD /crash HTTP/1.1\r\nHost: x\r\n\r\n");
    read_response_of(c, r, true);
    ASSERT_EQ(r->status, 500);
    ASSERT_STREQ(header_of(r, "Content-Length"), "22");
    ASSERT_STREQ(header_of(r, "Connection"), "close");
    expect_closed(c);
    disconnect(c);
    arbor_free(r);
    stop();
    arbor_report_set_handler(old, NULL);
}

TEST(a_crashing_handler_answers_head_with_a_500_without_body)
{
    arbor_test_run(head_crash_root, NULL);
}

/* A handler's own answer to its death (arbor_http_set_crash_response):
 * sent when it crashes and when it is killed from outside, its head alone
 * to HEAD; refused with bad arguments and once the handler streams. */
static void crash_response_root(void *arg)
{
    (void)arg;
    root_pid = arbor_self();
    arbor_report_fn old = arbor_report_set_handler(count_reports, NULL);
    uint16_t port = start();
    response_t *r = new_response();
    static const char *const ways[] = {"GET /unknown/crash", "HEAD /unknown/crash",
                                       "GET /unknown/wait"};
    for (size_t i = 0; i < sizeof ways / sizeof ways[0]; i++) {
        client_t *c = connect_to(port);
        char request[96];
        snprintf(request, sizeof request, "%s HTTP/1.1\r\nHost: x\r\n\r\n", ways[i]);
        send_text(c, request);
        if (strstr(ways[i], "wait")) {
            arbor_msg_t *m = arbor_test_recv_tag(TAG_WAITING, 5000);
            ASSERT_OK(arbor_exit_pid(*(arbor_pid_t *)m->data, ARBOR_KILL));
            arbor_msg_free(m);
        }
        bool head = !strncmp(ways[i], "HEAD", 4);
        read_response_of(c, r, head);
        ASSERT_EQ(r->status, 504);
        ASSERT_STREQ(header_of(r, "Content-Type"), "application/json");
        ASSERT_STREQ(header_of(r, "Content-Length"), "26");
        ASSERT_STREQ(header_of(r, "Connection"), "close");
        ASSERT_STREQ(r->body, head ? "" : "{\"code\":\"outcome_unknown\"}");
        expect_closed(c);
        disconnect(c);
    }
    client_t *c = connect_to(port);
    send_text(c, "GET /bad-crash-response HTTP/1.1\r\nHost: x\r\n\r\n");
    read_response(c, r);
    ASSERT_EQ(r->status, 200);
    ASSERT_STREQ(r->body, "streamed");
    disconnect(c);
    arbor_free(r);
    stop();
    arbor_report_set_handler(old, NULL);
}

TEST(a_handler_chooses_what_its_death_answers)
{
    arbor_test_run(crash_response_root, NULL);
}

static arbor_pid_t child_pid(const char *id)
{
    return child_pid_of(sup, id);
}

static void listener_root(void *arg)
{
    (void)arg;
    uint16_t port = start_with((arbor_http_opts_t){.acceptors = 2});
    response_t *r = new_response();
    client_t *c = connect_to(port);
    send_text(c, "GET /open HTTP/1.1\r\nHost: x\r\n\r\n");
    read_response(c, r);
    ASSERT_EQ(r->status, 200);
    arbor_pid_t acceptor = child_pid("acceptor 0"), connections = child_pid("connections");
    ASSERT_NE(acceptor, ARBOR_NOPID);
    ASSERT_OK(arbor_exit_pid(acceptor, ARBOR_KILL));
    /* one_for_all: the open connection goes with it, no orphan. */
    expect_closed(c);
    disconnect(c);
    WAIT_UNTIL(child_pid("acceptor 0") != acceptor && child_pid("acceptor 0") != ARBOR_NOPID &&
                   child_pid("acceptor 1") != ARBOR_NOPID,
               5000);
    ASSERT_NE(child_pid("connections"), connections);
    ASSERT_EQ(arbor_http_server_port(srv), port);
    /* The same port serves again, through both acceptors. */
    for (int i = 0; i < 8; i++) {
        exchange(port, "GET /again HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", r, true);
        ASSERT_EQ(r->status, 200);
    }
    arbor_free(r);
    stop();
}

TEST(the_listener_killed_takes_its_connections_and_comes_back)
{
    arbor_test_run(listener_root, NULL);
}

static void port_taken_root(void *arg)
{
    (void)arg;
    uint16_t port = start();
    arbor_http_server_t *second;
    ASSERT_OK(
        arbor_http_server_new(&(arbor_http_opts_t){.port = port, .handler = handler}, &second));
    arbor_pid_t pid;
    arbor_reason_t why;
    arbor_trap_exit(true);
    ASSERT_ERR(arbor_http_server_start(second, &pid, &why), ARBOR_EEXIT);
    ASSERT_TRUE(strstr(why.detail, "acceptor 0") != NULL);
    arbor_trap_exit(false);
    arbor_http_server_free(second);
    stop();
}

TEST(a_taken_port_fails_the_start)
{
    arbor_test_run(port_taken_root, NULL);
}

/* ---- routing and decoding ------------------------------------------------------------------ */

static void show_ticket(arbor_http_request_t *req, arbor_http_response_t *res, void *arg)
{
    ASSERT_OK(arbor_http_replyf(res, 200, "text/plain", "%s ticket %s", (const char *)arg,
                                arbor_http_param(req, "id")));
}

static void show_file(arbor_http_request_t *req, arbor_http_response_t *res, void *arg)
{
    (void)arg;
    char q[64] = "";
    int rc = arbor_http_query(req->query, "q", q, sizeof q);
    ASSERT_OK(arbor_http_replyf(res, 200, "text/plain", "[%s] [%s] [%s] %d",
                                arbor_http_param(req, "dir"), arbor_http_param(req, "rest"), q,
                                rc));
}

static const arbor_http_route_t routes[] = {
    {"GET", "/api/tickets/:id", show_ticket, "get"},
    {"DELETE", "/api/tickets/:id", show_ticket, "delete"},
    {"GET", "/files/:dir/*rest", show_file, NULL},
};
static arbor_http_router_t router = {routes, 3};

static void router_root(void *arg)
{
    (void)arg;
    uint16_t port =
        start_with((arbor_http_opts_t){.handler = arbor_http_route, .handler_arg = &router});
    client_t *c = connect_to(port);
    response_t *r = new_response();
    send_text(c, "GET /api/tickets/7 HTTP/1.1\r\nHost: x\r\n\r\n");
    read_response(c, r);
    ASSERT_EQ(r->status, 200);
    ASSERT_STREQ(r->body, "get ticket 7");
    send_text(c, "DELETE /api/tickets/a%20b HTTP/1.1\r\nHost: x\r\n\r\n");
    read_response(c, r);
    ASSERT_STREQ(r->body, "delete ticket a b");
    send_text(c, "PUT /api/tickets/7 HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
    read_response(c, r);
    ASSERT_EQ(r->status, 405);
    ASSERT_STREQ(header_of(r, "Allow"), "GET, DELETE");
    send_text(c, "GET /api/tickets/ HTTP/1.1\r\nHost: x\r\n\r\n");
    read_response(c, r);
    ASSERT_EQ(r->status, 404);
    send_text(c, "GET /api/tickets/7/x HTTP/1.1\r\nHost: x\r\n\r\n");
    read_response(c, r);
    ASSERT_EQ(r->status, 404);
    send_text(c, "GET /files/d/a/b.txt?x=1&q=caf%C3%A9+au+lait HTTP/1.1\r\nHost: x\r\n\r\n");
    read_response(c, r);
    ASSERT_STREQ(r->body, "[d] [a/b.txt] [caf\xc3\xa9 au lait] 13");
    send_text(c, "GET /api/tickets/%zz HTTP/1.1\r\nHost: x\r\n\r\n");
    read_response(c, r);
    ASSERT_EQ(r->status, 400);
    disconnect(c);
    arbor_free(r);
    stop();
}

TEST(router_parameters_404_and_405)
{
    arbor_test_run(router_root, NULL);
}

TEST(percent_and_query_decoding)
{
    char out[32];
    ASSERT_EQ(arbor_http_decode("a%20b+c", 7, out, sizeof out, false), 5);
    ASSERT_STREQ(out, "a b+c");
    ASSERT_EQ(arbor_http_decode("a%20b+c", 7, out, sizeof out, true), 5);
    ASSERT_STREQ(out, "a b c");
    ASSERT_ERR(arbor_http_decode("%2", 2, out, sizeof out, false), ARBOR_EINVAL);
    ASSERT_ERR(arbor_http_decode("%zz", 3, out, sizeof out, false), ARBOR_EINVAL);
    ASSERT_ERR(arbor_http_decode("%00", 3, out, sizeof out, false), ARBOR_EINVAL);
    ASSERT_ERR(arbor_http_decode("abcdef", 6, out, 4, false), ARBOR_ETOOBIG);
    char in_place[] = "x%41y";
    ASSERT_EQ(arbor_http_decode(in_place, 5, in_place, sizeof in_place, false), 3);
    ASSERT_STREQ(in_place, "xAy");
    ASSERT_EQ(arbor_http_query("a=1&b=two+words&c", "b", out, sizeof out), 9);
    ASSERT_STREQ(out, "two words");
    ASSERT_EQ(arbor_http_query("a=1&b=2&c", "c", out, sizeof out), 0);
    ASSERT_EQ(arbor_http_query("a%62=3", "ab", out, sizeof out), 1);
    ASSERT_STREQ(out, "3");
    ASSERT_ERR(arbor_http_query("a=1", "b", out, sizeof out), ARBOR_ENOENT);
    ASSERT_ERR(arbor_http_query("", "b", out, sizeof out), ARBOR_ENOENT);
}

/* ---- Server-Sent Events ------------------------------------------------------------------- */

/* Reads one chunk of a chunked response into out (NUL-terminated);
 * returns its size, 0 for the last. */
static size_t read_chunk(client_t *c, char *out, size_t size)
{
    char line[64];
    read_line(c, line, sizeof line);
    size_t n = strtoul(line, NULL, 16);
    ASSERT_LT(n, size);
    while (c->len < n + 2)
        ASSERT_TRUE(fill(c));
    memcpy(out, c->buf, n);
    out[n] = '\0';
    ASSERT_TRUE(memcmp(c->buf + n, "\r\n", 2) == 0);
    consume(c, n + 2);
    return n;
}

static subscribed_t subscribe(client_t *c, const char *last_id)
{
    char req[256];
    snprintf(req, sizeof req, "GET /events HTTP/1.1\r\nHost: x\r\n%s%s%s\r\n",
             last_id ? "Last-Event-ID: " : "", last_id ? last_id : "", last_id ? "\r\n" : "");
    send_text(c, req);
    arbor_msg_t *m = arbor_test_recv_tag(TAG_SUBSCRIBED, 5000);
    subscribed_t sub = *(subscribed_t *)m->data;
    arbor_msg_free(m);
    return sub;
}

static void read_stream_head(client_t *c)
{
    char *end;
    while (!(end = memmem(c->buf, c->len, "\r\n\r\n", 4)))
        ASSERT_TRUE(fill(c));
    *end = '\0';
    ASSERT_TRUE(strstr(c->buf, "HTTP/1.1 200 OK\r\n") == c->buf);
    ASSERT_TRUE(strstr(c->buf, "Content-Type: text/event-stream\r\n") != NULL);
    ASSERT_TRUE(strstr(c->buf, "Cache-Control: no-cache\r\n") != NULL);
    ASSERT_TRUE(strstr(c->buf, "Transfer-Encoding: chunked\r\n") != NULL);
    consume(c, (size_t)(end - c->buf) + 4);
}

static void publish(arbor_pid_t to, const char *id, const char *data, size_t len)
{
    size_t size = sizeof(sse_msg_t) + len;
    sse_msg_t *e = arbor_calloc(1, size);
    snprintf(e->id, sizeof e->id, "%s", id);
    memcpy(e->data, data, len);
    ASSERT_OK(arbor_send(to, TAG_EVENT, e, size));
    arbor_free(e);
}

static int sse_done(void)
{
    arbor_msg_t *m = arbor_test_recv_tag(TAG_SSE_DONE, 5000);
    int rc = ((sse_done_t *)m->data)->rc;
    arbor_msg_free(m);
    return rc;
}

static void sse_order_root(void *arg)
{
    (void)arg;
    root_pid = arbor_self();
    uint16_t port = start();
    client_t *c = connect_to(port);
    subscribed_t sub = subscribe(c, "41");
    ASSERT_STREQ(sub.last_id, "41");
    read_stream_head(c);
    char frame[256], want[256];
    for (int i = 42; i < 47; i++) {
        char id[16], text[32];
        snprintf(id, sizeof id, "%d", i);
        snprintf(text, sizeof text, "event %d", i);
        publish(sub.pid, id, text, strlen(text));
    }
    publish(sub.pid, "47", "two\nlines", 9);
    for (int i = 42; i < 47; i++) {
        read_chunk(c, frame, sizeof frame);
        snprintf(want, sizeof want, "id: %d\nevent: tick\ndata: event %d\n\n", i, i);
        ASSERT_STREQ(frame, want);
    }
    read_chunk(c, frame, sizeof frame);
    ASSERT_STREQ(frame, "id: 47\nevent: tick\ndata: two\ndata: lines\n\n");
    /* The stream ends when the publisher says so; the connection closes. */
    ASSERT_OK(arbor_send(sub.pid, TAG_END, NULL, 0));
    ASSERT_EQ(read_chunk(c, frame, sizeof frame), 0);
    ASSERT_EQ(sse_done(), 0);
    expect_closed(c);
    disconnect(c);
    stop();
}

TEST(sse_delivers_messages_as_events_in_order)
{
    arbor_test_run(sse_order_root, NULL);
}

/* An event stream only writes frames: once its head is sent it gives its
 * input, head and output buffers back (about 52 KiB, where it held them
 * for the stream's whole life), keeping what the handler may still read
 * of its request; each frame takes an output buffer and gives it back. */
static void sse_memory_root(void *arg)
{
    (void)arg;
    root_pid = arbor_self();
    uint16_t port = start();
    client_t *c = connect_to(port);
    subscribed_t sub = subscribe(c, "streamed-since-7");
    read_stream_head(c);
    arbor_process_info_t info;
    WAIT_UNTIL(arbor_process_info(sub.pid, &info) == 0 && info.heap_bytes < 8 * 1024, 5000);
    printf("# a stream: %zu bytes of heap\n", info.heap_bytes);
    /* Another connection's request takes the buffers this one gave back
     * (the server's cache) and writes its own head over them. */
    response_t *r = new_response();
    client_t *other = connect_to(port);
    send_text(other, "GET /another-request HTTP/1.1\r\nLast-Event-ID: not-the-stream-s\r\n\r\n");
    read_response(other, r);
    ASSERT_STREQ(r->body, "/another-request");
    disconnect(other);
    char frame[256];
    for (int i = 0; i < 3; i++) {
        publish(sub.pid, "8", "an event", 8);
        read_chunk(c, frame, sizeof frame);
        ASSERT_STREQ(frame, "id: 8\nevent: tick\ndata: an event\n\n");
        WAIT_UNTIL(arbor_process_info(sub.pid, &info) == 0 && info.heap_bytes < 8 * 1024, 5000);
    }
    ASSERT_OK(arbor_send(sub.pid, TAG_END, NULL, 0));
    ASSERT_EQ(read_chunk(c, frame, sizeof frame), 0);
    arbor_msg_t *m = arbor_test_recv_tag(TAG_SSE_DONE, 5000);
    sse_done_t done = *(sse_done_t *)m->data;
    arbor_msg_free(m);
    ASSERT_EQ(done.rc, 0);
    ASSERT_STREQ(done.last_id, "streamed-since-7");
    ASSERT_EQ(done.late_header_rc, ARBOR_EINVAL); /* its head went long ago */
    expect_closed(c);
    disconnect(c);
    arbor_free(r);
    stop();
}

TEST(sse_streams_hold_no_request_buffers)
{
    arbor_test_run(sse_memory_root, NULL);
}

static void sse_reconnect_root(void *arg)
{
    (void)arg;
    root_pid = arbor_self();
    uint16_t port = start();
    client_t *c = connect_to(port);
    subscribed_t sub = subscribe(c, NULL);
    ASSERT_STREQ(sub.last_id, "");
    read_stream_head(c);
    publish(sub.pid, "1", "a", 1);
    char frame[256];
    read_chunk(c, frame, sizeof frame);
    ASSERT_STREQ(frame, "id: 1\nevent: tick\ndata: a\n\n");
    /* The client goes: the stream ends and its process with it. */
    arbor_ref_t ref;
    ASSERT_OK(arbor_monitor(sub.pid, &ref));
    disconnect(c);
    ASSERT_EQ(sse_done(), 0);
    arbor_msg_free(arbor_test_recv_tag(ARBOR_TAG_DOWN, 5000));
    /* It comes back with the last id it saw; the handler gets it. */
    c = connect_to(port);
    sub = subscribe(c, "1");
    ASSERT_STREQ(sub.last_id, "1");
    read_stream_head(c);
    disconnect(c);
    ASSERT_EQ(sse_done(), 0);
    stop();
}

TEST(sse_ends_with_its_client_and_a_reconnect_carries_last_event_id)
{
    arbor_test_run(sse_reconnect_root, NULL);
}

static void sse_heartbeat_root(void *arg)
{
    (void)arg;
    root_pid = arbor_self();
    sse_heartbeat_ms = 50;
    uint16_t port = start();
    client_t *c = connect_to(port);
    subscribed_t sub = subscribe(c, NULL);
    read_stream_head(c);
    char frame[64];
    for (int i = 0; i < 3; i++) {
        read_chunk(c, frame, sizeof frame);
        ASSERT_STREQ(frame, ": heartbeat\n\n");
    }
    ASSERT_OK(arbor_send(sub.pid, TAG_END, NULL, 0));
    ASSERT_EQ(sse_done(), 0);
    disconnect(c);
    stop();
}

TEST(sse_sends_a_heartbeat_when_silent)
{
    arbor_test_run(sse_heartbeat_root, NULL);
}

static void sse_slow_root(void *arg)
{
    (void)arg;
    root_pid = arbor_self();
    uint16_t port = start();
    client_t *c = connect_to(port);
    subscribed_t sub = subscribe(c, NULL);
    arbor_ref_t ref;
    ASSERT_OK(arbor_monitor(sub.pid, &ref));
    /* 400 events of 60 KiB, 24 MB, to a client that reads none: more
     * than loopback's buffers hold (a few MB each side), so a send waits
     * past its 200 ms. */
    size_t len = 60 * 1024;
    char *big = arbor_alloc(len);
    memset(big, 'x', len);
    for (int i = 0; i < 400; i++)
        publish(sub.pid, "n", big, len);
    arbor_free(big);
    int rc = sse_done();
    if (rc != ARBOR_ETIMEDOUT && rc != ARBOR_EAGAIN)
        arbor_test_fail(__FILE__, __LINE__, "the stream ended with %s", arbor_err_name(rc));
    arbor_msg_free(arbor_test_recv_tag(ARBOR_TAG_DOWN, 5000));
    /* What the client reads now ends well before the last event. */
    size_t total = 0;
    for (;;) {
        size_t got;
        c->len = 0;
        int r = arbor_socket_recv(c->s, c->buf, sizeof c->buf, 5000, &got);
        if (r == ARBOR_ECONNRESET || (r == 0 && got == 0))
            break;
        ASSERT_OK(r);
        total += got;
    }
    ASSERT_LT(total, 400 * len);
    disconnect(c);
    stop();
}

TEST(sse_drops_a_client_that_falls_behind)
{
    arbor_test_run(sse_slow_root, NULL);
}

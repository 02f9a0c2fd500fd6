/*
 * Graceful shutdown (arbor_http_server_drain, and the subtree's stop that
 * calls it), over real sockets on loopback.
 *
 * A request in flight is held in its handler by a gate: the handler tells
 * the test it is there and waits for the test's "go", so the test knows
 * what is in flight without sleeping. The stop (or drain) runs in a
 * process of its own, since it waits for the connections while the test
 * talks to them.
 */
#define _GNU_SOURCE
#include <string.h>

#include "http_client.h"
#include "test.h"

#define TAG_IN_HANDLER 20 /* /gate -> root: its pid */
#define TAG_GO         21 /* root -> /gate: answer now */
#define TAG_STREAMING  22 /* /events -> root */
#define TAG_DONE       23 /* stopper -> root: its call's result */

static arbor_pid_t root_pid;

static bool is_go(const arbor_msg_t *m, void *arg)
{
    (void)arg;
    return m->tag == TAG_GO;
}

static int no_event(arbor_msg_t *m, arbor_http_sse_event_t *ev, void *arg)
{
    (void)m;
    (void)ev;
    (void)arg;
    return 0;
}

/* /gate waits for the test's go; /events streams; anything else answers
 * its path. */
static void handler(arbor_http_request_t *req, arbor_http_response_t *res, void *arg)
{
    (void)arg;
    if (!strcmp(req->path, "/gate")) {
        arbor_pid_t self = arbor_self();
        ASSERT_OK(arbor_send(root_pid, TAG_IN_HANDLER, &self, sizeof self));
        arbor_msg_t *m;
        ASSERT_OK(arbor_receive_match(is_go, NULL, arbor_test_scaled_ms(10000), &m));
        arbor_msg_free(m);
        ASSERT_OK(arbor_http_reply(res, 200, "text/plain", "gated", 5));
    } else if (!strcmp(req->path, "/events")) {
        ASSERT_OK(arbor_send(root_pid, TAG_STREAMING, NULL, 0));
        arbor_http_sse_opts_t o = {.on_message = no_event, .heartbeat_ms = 60000};
        arbor_http_sse(req, res, &o);
    } else {
        ASSERT_OK(arbor_http_replyf(res, 200, "text/plain", "%s", req->path));
    }
}

static bool is_tag(const arbor_msg_t *m, void *arg)
{
    return m->tag == *(uint64_t *)arg;
}

/* Waits for a message tagged tag and copies its data (size bytes). */
static void expect_message(uint64_t tag, void *data, size_t size)
{
    arbor_msg_t *m;
    ASSERT_OK(arbor_receive_match(is_tag, &tag, arbor_test_scaled_ms(5000), &m));
    ASSERT_EQ(m->size, size);
    if (size)
        memcpy(data, m->data, size);
    arbor_msg_free(m);
}

/* Whether a new connection is refused (one that gets through is closed). */
static bool connection_refused(uint16_t port)
{
    arbor_socket_t s;
    int rc = arbor_tcp_connect("127.0.0.1", port, 1000, &s);
    if (rc == 0)
        arbor_socket_close(s);
    return rc == ARBOR_ECONNREFUSED;
}

/* Reads up to the end of a response's head, for a stream that does not end. */
static void read_head(client_t *c)
{
    char *end;
    while (!(end = memmem(c->buf, c->len, "\r\n\r\n", 4)))
        ASSERT_TRUE(fill(c));
    ASSERT_TRUE(!strncmp(c->buf, "HTTP/1.1 200", 12));
    consume(c, (size_t)(end - c->buf) + 4);
}

/* Reads to the end of file, whatever comes. */
static void read_to_end(client_t *c)
{
    while (fill(c))
        c->len = 0;
}

/* ---- the stopper ------------------------------------------------------------------------- */

typedef struct stop_order {
    arbor_pid_t sup;          /* stop this supervisor, */
    arbor_http_server_t *srv; /* or, when set, drain this server */
    int64_t deadline_ms;
} stop_order_t;

static void stopper(void *arg)
{
    stop_order_t *o = arg;
    int rc = o->srv ? arbor_http_server_drain(o->srv, o->deadline_ms)
                    : arbor_sup_stop(o->sup, ARBOR_SHUTDOWN);
    ASSERT_OK(arbor_send(root_pid, TAG_DONE, &rc, sizeof rc));
}

static void spawn_stopper(stop_order_t o)
{
    arbor_spawn_opts_t so = {.arg_size = sizeof o};
    arbor_pid_t pid;
    ASSERT_OK(arbor_spawn_opt(stopper, &o, &so, &pid, NULL));
}

/* ---- stopping the subtree ------------------------------------------------------------------- */

static void graceful_root(void *arg)
{
    (void)arg;
    root_pid = arbor_self();
    arbor_http_server_t *srv;
    arbor_http_opts_t o = {.handler = handler, .shutdown_ms = 5000};
    ASSERT_OK(arbor_http_server_new(&o, &srv));
    arbor_pid_t sup;
    arbor_reason_t why;
    ASSERT_OK(arbor_http_server_start(srv, &sup, &why));
    uint16_t port = arbor_http_server_port(srv);
    response_t *r = new_response();

    /* idle: a kept-alive connection between requests */
    client_t *idle = connect_to(port);
    send_text(idle, "GET /first HTTP/1.1\r\nHost: x\r\n\r\n");
    read_response(idle, r);
    ASSERT_EQ(r->status, 200);
    ASSERT_TRUE(header_of(r, "Connection") == NULL);
    /* stream: an event stream, which never finishes on its own */
    client_t *stream = connect_to(port);
    send_text(stream, "GET /events HTTP/1.1\r\nHost: x\r\n\r\n");
    expect_message(TAG_STREAMING, NULL, 0);
    read_head(stream);
    /* slow: a request in its handler */
    client_t *slow = connect_to(port);
    send_text(slow, "GET /gate HTTP/1.1\r\nHost: x\r\n\r\n");
    arbor_pid_t gate;
    expect_message(TAG_IN_HANDLER, &gate, sizeof gate);

    arbor_unlink(sup);
    spawn_stopper((stop_order_t){.sup = sup});
    /* New connections are refused, the idle one and the stream are closed
     * at once: all while the slow request is still in its handler. */
    WAIT_UNTIL(connection_refused(port), 5000);
    expect_closed(idle);
    read_to_end(stream);
    /* The request in flight finishes, with its answer, then closes. */
    ASSERT_OK(arbor_send(gate, TAG_GO, NULL, 0));
    read_response(slow, r);
    ASSERT_EQ(r->status, 200);
    ASSERT_STREQ(r->body, "gated");
    ASSERT_STREQ(header_of(r, "Connection"), "close");
    expect_closed(slow);
    disconnect(idle);
    disconnect(stream);
    disconnect(slow);
    int rc;
    expect_message(TAG_DONE, &rc, sizeof rc);
    ASSERT_OK(rc);
    ASSERT_EQ(arbor_http_server_connections(srv), 0);
    arbor_free(r);
    arbor_http_server_free(srv);
}

TEST(stopping_the_server_finishes_requests_in_flight_and_closes_idle_connections)
{
    arbor_test_run(graceful_root, NULL);
}

/* ---- the deadline -----------------------------------------------------------------------------
 */

static void deadline_root(void *arg)
{
    (void)arg;
    root_pid = arbor_self();
    arbor_http_server_t *srv;
    arbor_http_opts_t o = {.handler = handler};
    ASSERT_OK(arbor_http_server_new(&o, &srv));
    arbor_pid_t sup;
    arbor_reason_t why;
    ASSERT_OK(arbor_http_server_start(srv, &sup, &why));
    uint16_t port = arbor_http_server_port(srv);
    response_t *r = new_response();

    /* A handler that never finishes... */
    client_t *stuck = connect_to(port);
    send_text(stuck, "GET /gate HTTP/1.1\r\nHost: x\r\n\r\n");
    arbor_pid_t gate;
    expect_message(TAG_IN_HANDLER, &gate, sizeof gate);
    /* ...and a request half sent: its first part in the same segment as a
     * whole request, so once that is answered the server has read it. */
    client_t *half = connect_to(port);
    send_text(half, "GET /whole HTTP/1.1\r\nHost: x\r\n\r\nGET /half HTTP/1.1\r\nHo");
    read_response(half, r);
    ASSERT_STREQ(r->body, "/whole");

    int64_t deadline = 300;
    uint64_t t0 = arbor_now_ms();
    spawn_stopper((stop_order_t){.srv = srv, .deadline_ms = deadline});
    /* Both are closed, without a word, once the deadline has passed. */
    expect_closed(half);
    ASSERT_GE(arbor_now_ms() - t0, (uint64_t)deadline);
    expect_closed(stuck);
    int rc;
    expect_message(TAG_DONE, &rc, sizeof rc);
    ASSERT_ERR(rc, ARBOR_ETIMEDOUT);
    ASSERT_TRUE(connection_refused(port));
    /* The handler still waits at its gate: the stop does not wait for it
     * again (its connection is closed), and kills it. */
    disconnect(stuck);
    disconnect(half);
    arbor_free(r);
    arbor_unlink(sup);
    uint64_t t1 = arbor_now_ms();
    ASSERT_OK(arbor_sup_stop(sup, ARBOR_SHUTDOWN));
    ASSERT_LT(arbor_now_ms() - t1, 2500); /* not the 5 s of shutdown_ms again */
    ASSERT_EQ(arbor_http_server_connections(srv), 0);
    arbor_http_server_free(srv);
}

TEST(a_drain_closes_what_is_still_busy_at_its_deadline)
{
    arbor_test_run(deadline_root, NULL);
}

/* ---- nothing to wait for ------------------------------------------------------------------------
 */

static void idle_drain_root(void *arg)
{
    (void)arg;
    root_pid = arbor_self();
    arbor_http_server_t *srv;
    arbor_http_opts_t o = {.handler = handler};
    ASSERT_OK(arbor_http_server_new(&o, &srv));
    arbor_pid_t sup;
    arbor_reason_t why;
    ASSERT_OK(arbor_http_server_start(srv, &sup, &why));
    uint16_t port = arbor_http_server_port(srv);
    response_t *r = new_response();
    client_t *c = connect_to(port);
    send_text(c, "GET /one HTTP/1.1\r\nHost: x\r\n\r\n");
    read_response(c, r);
    /* Only idle connections: the drain is over as soon as they are closed. */
    ASSERT_ERR(arbor_http_server_drain(srv, -1), ARBOR_EINVAL);
    ASSERT_OK(arbor_http_server_drain(srv, 60000));
    expect_closed(c);
    ASSERT_TRUE(connection_refused(port));
    disconnect(c);
    arbor_free(r);
    arbor_unlink(sup);
    ASSERT_OK(arbor_sup_stop(sup, ARBOR_SHUTDOWN));
    arbor_http_server_free(srv);
}

TEST(a_drain_with_only_idle_connections_ends_at_once)
{
    arbor_test_run(idle_drain_root, NULL);
}

/* ---- a run whose supervisor was killed ---------------------------------------------------------
 */

static arbor_http_server_t *web_srv;

/* The application's "Web" branch: a supervisor with the server in it. */
static int start_web(void *arg, arbor_pid_t *pid, arbor_reason_t *why)
{
    (void)arg;
    arbor_child_spec_t children[] = {arbor_http_server_spec(web_srv, "http")};
    arbor_sup_flags_t flags = ARBOR_SUP_FLAGS_DEFAULT;
    arbor_sup_opts_t o = {.link = true};
    return arbor_sup_start(&flags, children, 1, &o, pid, why);
}

static void killed_parent_root(void *arg)
{
    (void)arg;
    root_pid = arbor_self();
    /* A drain that would wait a minute for the request in flight. */
    arbor_http_opts_t o = {.handler = handler, .shutdown_ms = 60000};
    ASSERT_OK(arbor_http_server_new(&o, &web_srv));
    arbor_child_spec_t web = {.id = "web", .start = start_web, .type = ARBOR_SUPERVISOR_CHILD};
    arbor_sup_flags_t flags = ARBOR_SUP_FLAGS_DEFAULT;
    arbor_pid_t top;
    arbor_reason_t why;
    ASSERT_OK(arbor_sup_start(&flags, &web, 1, NULL, &top, &why));
    uint16_t port = arbor_http_server_port(web_srv);
    response_t *r = new_response();
    client_t *idle = connect_to(port);
    send_text(idle, "GET /first HTTP/1.1\r\nHost: x\r\n\r\n");
    read_response(idle, r);
    client_t *slow = connect_to(port);
    send_text(slow, "GET /gate HTTP/1.1\r\nHost: x\r\n\r\n");
    arbor_pid_t gate;
    expect_message(TAG_IN_HANDLER, &gate, sizeof gate);

    /* The branch is killed: its server's supervisor traps the exit and
     * begins a graceful stop, while the top supervisor starts the branch
     * again on the same port. The new run ends the old one at once: the
     * request in flight loses its connection (not a minute later), and
     * the port serves again. */
    arbor_pid_t old_web = child_pid_of(top, "web");
    ASSERT_OK(arbor_exit_pid(old_web, ARBOR_KILL));
    expect_closed(slow);
    expect_closed(idle);
    WAIT_UNTIL(child_pid_of(top, "web") != ARBOR_NOPID && child_pid_of(top, "web") != old_web,
               5000);
    exchange(port, "GET /again HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", r, true);
    ASSERT_EQ(r->status, 200);
    ASSERT_STREQ(r->body, "/again");
    ASSERT_FALSE(arbor_alive(gate)); /* killed with its connection's supervisor */

    disconnect(slow);
    disconnect(idle);
    arbor_free(r);
    arbor_unlink(top);
    ASSERT_OK(arbor_sup_stop(top, ARBOR_SHUTDOWN));
    arbor_http_server_free(web_srv);
}

TEST(a_server_started_again_after_its_supervisor_was_killed_ends_the_old_run_at_once)
{
    arbor_test_run(killed_parent_root, NULL);
}

/*
 * The server's cache of connection buffers (src/http/http_buffers.c),
 * seen from inside: how many blocks it holds, through the layer's internal
 * header. A connection that goes idle between its requests gives its
 * buffers back; the cache keeps at most HTTP_CACHE_SLOTS of each kind for
 * the next request, frees the rest, and holds nothing once the server has
 * stopped, or after a quiet tick of its drainer. (Leaks: the harness runs
 * under ASan, whose leak check sees a block the cache kept and never
 * freed.)
 */
#define _GNU_SOURCE
#include <string.h>

#include "../../src/http/http_internal.h"
#include "http_client.h"
#include "test.h"

#define TAG_WAITING 20 /* a handler -> root: its pid, waiting for TAG_GO */
#define TAG_GO      21

static arbor_pid_t root_pid;

/* /wait: tells the root and waits for its go, so that the root knows when
 * every connection is in its handler at once (each holding its buffers). */
static void handler(arbor_http_request_t *req, arbor_http_response_t *res, void *arg)
{
    (void)arg;
    if (!strcmp(req->path, "/wait")) {
        arbor_pid_t self = arbor_self();
        ASSERT_OK(arbor_send(root_pid, TAG_WAITING, &self, sizeof self));
        arbor_msg_free(arbor_test_recv_tag(TAG_GO, 10000));
    }
    ASSERT_OK(arbor_http_replyf(res, 200, "text/plain", "%s", req->path));
}

#define CONNS (HTTP_CACHE_SLOTS + 4)

/* CONNS connections in their handlers at once, then answered; returns
 * with every answer read and the clients connected. */
static void burst(uint16_t port, client_t *clients[CONNS])
{
    for (int i = 0; i < CONNS; i++) {
        clients[i] = connect_to(port);
        send_text(clients[i], "GET /wait HTTP/1.1\r\nHost: x\r\n\r\n");
    }
    arbor_pid_t pids[CONNS];
    for (int i = 0; i < CONNS; i++) {
        arbor_msg_t *m = arbor_test_recv_tag(TAG_WAITING, 10000);
        pids[i] = *(arbor_pid_t *)m->data;
        arbor_msg_free(m);
    }
    for (int i = 0; i < CONNS; i++)
        ASSERT_OK(arbor_send(pids[i], TAG_GO, NULL, 0));
    response_t *r = new_response();
    for (int i = 0; i < CONNS; i++) {
        read_response(clients[i], r);
        ASSERT_STREQ(r->body, "/wait");
    }
    arbor_free(r);
}

static void bounded_root(void *arg)
{
    (void)arg;
    root_pid = arbor_self();
    arbor_http_opts_t o = {.handler = handler};
    arbor_http_server_t *srv;
    ASSERT_OK(arbor_http_server_new(&o, &srv));
    arbor_pid_t sup;
    arbor_reason_t why;
    ASSERT_OK(arbor_http_server_start(srv, &sup, &why));
    client_t *clients[CONNS];
    burst(arbor_http_server_port(srv), clients);
    /* Each connection, idle again, gave its block back: the cache kept
     * HTTP_CACHE_SLOTS and freed the others. (The answers were written
     * one after another, each taking the output buffer the one before
     * gave back: the cache holds the few that were in use at once.) A
     * connection gives its block back, then its output buffer: both are
     * waited for, since the last ones may still be going idle. */
    WAIT_UNTIL(arbor_http_server_connections(srv) == CONNS &&
                   arbor__http_cache_held(srv, HTTP_BUF_BLOCK) == HTTP_CACHE_SLOTS &&
                   arbor__http_cache_held(srv, HTTP_BUF_OUT) >= 1,
               5000);
    /* The next request takes one and gives it back. */
    response_t *r = new_response();
    send_text(clients[0], "GET /again HTTP/1.1\r\nHost: x\r\n\r\n");
    read_response(clients[0], r);
    ASSERT_STREQ(r->body, "/again");
    arbor_free(r);
    WAIT_UNTIL(arbor__http_cache_held(srv, HTTP_BUF_BLOCK) == HTTP_CACHE_SLOTS, 5000);
    /* Stopped (the clients still connected: the drain closes them), the
     * server keeps nothing. */
    arbor_unlink(sup);
    ASSERT_OK(arbor_sup_stop(sup, ARBOR_SHUTDOWN));
    ASSERT_EQ(arbor__http_cache_held(srv, HTTP_BUF_BLOCK), 0);
    ASSERT_EQ(arbor__http_cache_held(srv, HTTP_BUF_OUT), 0);
    for (int i = 0; i < CONNS; i++)
        disconnect(clients[i]);
    arbor_http_server_free(srv);
}

TEST(the_buffer_cache_is_bounded_and_empty_once_the_server_stops)
{
    arbor_test_run(bounded_root, NULL);
}

/* A server that serves nothing for a tick of its drainer (idle_timeout_ms
 * / 8: 50 ms here) gives what its cache holds back to malloc. */
static void quiet_root(void *arg)
{
    (void)arg;
    root_pid = arbor_self();
    arbor_http_opts_t o = {.handler = handler, .limits.idle_timeout_ms = 400};
    arbor_http_server_t *srv;
    ASSERT_OK(arbor_http_server_new(&o, &srv));
    arbor_pid_t sup;
    arbor_reason_t why;
    ASSERT_OK(arbor_http_server_start(srv, &sup, &why));
    client_t *c = connect_to(arbor_http_server_port(srv));
    response_t *r = new_response();
    send_text(c, "GET /one HTTP/1.1\r\nHost: x\r\n\r\n");
    read_response(c, r);
    ASSERT_STREQ(r->body, "/one");
    disconnect(c);
    /* The connection gave its block back as it ended; two ticks later,
     * nothing taken meanwhile, the cache is empty. */
    WAIT_UNTIL(arbor_http_server_connections(srv) == 0 &&
                   arbor__http_cache_held(srv, HTTP_BUF_BLOCK) == 0 &&
                   arbor__http_cache_held(srv, HTTP_BUF_OUT) == 0,
               5000);
    arbor_free(r);
    arbor_unlink(sup);
    ASSERT_OK(arbor_sup_stop(sup, ARBOR_SHUTDOWN));
    arbor_http_server_free(srv);
}

TEST(a_quiet_server_s_buffer_cache_empties)
{
    arbor_test_run(quiet_root, NULL);
}

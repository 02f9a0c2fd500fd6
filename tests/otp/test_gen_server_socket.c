/*
 * A GenServer that owns a socket: readiness comes as a message
 * (arbor_socket_notify()), so the server handles its socket and its calls
 * in one loop, holding no stack between them (net.h, "two ways to wait").
 */
#include "test.h"

#define CALL_COUNT 1

typedef struct {
    arbor_socket_t s;
    uint64_t bytes;
} conn_state_t;

static arbor_gs_ret_t conn_init(void **state, void *arg)
{
    uint16_t port = *(uint16_t *)arg;
    conn_state_t *st = arbor_alloc(sizeof *st);
    st->bytes = 0;
    if (arbor_tcp_connect("127.0.0.1", port, arbor_test_scaled_ms(5000), &st->s) != 0)
        return arbor_gs_halt(arbor_error("connect"));
    arbor_socket_notify(st->s, ARBOR_READABLE);
    *state = st;
    return arbor_gs_ok();
}

/* Readable: take what is there without waiting, echo it, arm again. */
static arbor_gs_ret_t conn_info(void **state, const arbor_msg_t *msg)
{
    conn_state_t *st = *state;
    if (msg->tag != ARBOR_TAG_SOCKET)
        return arbor_gs_noreply();
    char buf[256];
    size_t got;
    int rc;
    while ((rc = arbor_socket_recv(st->s, buf, sizeof buf, 0, &got)) == 0) {
        if (got == 0)
            return arbor_gs_halt(ARBOR_NORMAL); /* the peer closed */
        st->bytes += got;
        if (arbor_socket_send(st->s, buf, got, arbor_test_scaled_ms(5000), NULL) != 0)
            return arbor_gs_halt(arbor_error("send"));
    }
    if (rc != ARBOR_ETIMEDOUT)
        return arbor_gs_halt(arbor_error("recv"));
    arbor_socket_notify(st->s, ARBOR_READABLE);
    return arbor_gs_noreply();
}

static arbor_gs_ret_t conn_call(void **state, const arbor_msg_t *req, arbor_from_t from)
{
    (void)req;
    (void)from;
    conn_state_t *st = *state;
    return arbor_gs_reply(&st->bytes, sizeof st->bytes);
}

static const arbor_gen_server_t conn_server = {
    .init = conn_init,
    .handle_call = conn_call,
    .handle_info = conn_info,
};

static uint64_t bytes_seen(arbor_pid_t gs)
{
    arbor_msg_t *r;
    ASSERT_OK(arbor_gs_call(gs, CALL_COUNT, NULL, 0, arbor_test_scaled_ms(5000), &r, NULL));
    uint64_t n = *(uint64_t *)r->data;
    arbor_msg_free(r);
    return n;
}

static bool waiting(arbor_pid_t pid)
{
    arbor_process_info_t info;
    ASSERT_OK(arbor_process_info(pid, &info));
    return info.status == ARBOR_STATUS_WAITING;
}

static void echo_through(arbor_socket_t peer, const char *text)
{
    size_t n = strlen(text), have = 0;
    ASSERT_OK(arbor_socket_send(peer, text, n, arbor_test_scaled_ms(5000), NULL));
    char buf[64];
    while (have < n) {
        size_t got;
        ASSERT_OK(arbor_socket_recv(peer, buf + have, n - have, arbor_test_scaled_ms(5000), &got));
        ASSERT_GT(got, 0);
        have += got;
    }
    ASSERT_TRUE(memcmp(buf, text, n) == 0);
}

static void root(void *arg)
{
    (void)arg;
    arbor_socket_t l;
    ASSERT_OK(arbor_tcp_listen("127.0.0.1", 0, NULL, &l));
    arbor_sockaddr_t a;
    ASSERT_OK(arbor_socket_local(l, &a));
    uint16_t port = arbor_sockaddr_port(&a);
    arbor_pid_t gs;
    arbor_gs_opts_t o = {.link = true};
    ASSERT_OK(arbor_gs_start(&conn_server, &port, &o, &gs, NULL));
    arbor_socket_t peer;
    ASSERT_OK(arbor_tcp_accept(l, arbor_test_scaled_ms(5000), &peer));
    /* Calls are answered while the socket is idle... */
    ASSERT_U64_EQ(bytes_seen(gs), 0);
    /* ...socket data is handled between calls... */
    echo_through(peer, "hello");
    ASSERT_U64_EQ(bytes_seen(gs), 5);
    for (int i = 0; i < 50; i++) {
        echo_through(peer, "abc");
        ASSERT_U64_EQ(bytes_seen(gs), 8 + 3 * (uint64_t)i);
    }
    /* ...and idle between them, the server holds no stack. (Once it has
     * parked: after its answer it may still be taking a late readiness
     * message for its socket, on another scheduler.) */
    WAIT_UNTIL(waiting(gs), 5000);
    /* The peer closes: the server stops normally, its socket with it. */
    arbor_trap_exit(true);
    ASSERT_OK(arbor_socket_close(peer));
    arbor_msg_t *m = arbor_test_recv_tag(ARBOR_TAG_EXIT, 5000);
    ASSERT_EQ(((arbor_exit_msg_t *)m->data)->reason.kind, ARBOR_EXIT_NORMAL);
    arbor_msg_free(m);
    ASSERT_OK(arbor_socket_close(l));
}

TEST(a_gen_server_handles_its_socket_and_its_calls_in_one_loop)
{
    arbor_test_run(root, NULL);
}

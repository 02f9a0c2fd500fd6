/*
 * Network I/O: sockets that park a process, not a thread (net.h).
 *
 * Every test talks over loopback, client and server in one runtime, and
 * ends with nothing open: the harness checks that no socket is left
 * (arbor_stats().live_sockets), besides processes, timers and messages.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "test.h"

#define TAG_SOCKET 1
#define TAG_DONE   2
#define TAG_PORT   3

/* ---- helpers -------------------------------------------------------------------- */

static arbor_socket_t listen_on(const char *host, uint16_t *port)
{
    arbor_socket_t l;
    ASSERT_OK(arbor_tcp_listen(host, 0, NULL, &l));
    arbor_sockaddr_t a;
    ASSERT_OK(arbor_socket_local(l, &a));
    *port = arbor_sockaddr_port(&a);
    ASSERT_NE(*port, 0);
    return l;
}

/* A listener on 127.0.0.1 and one connection to it, both ends ours. */
typedef struct {
    arbor_socket_t listener, client, server;
    uint16_t port;
} connection_t;

static connection_t connect_pair(void)
{
    connection_t k;
    k.listener = listen_on("127.0.0.1", &k.port);
    ASSERT_OK(arbor_tcp_connect("127.0.0.1", k.port, 5000, &k.client));
    ASSERT_OK(arbor_tcp_accept(k.listener, 5000, &k.server));
    return k;
}

static void send_all(arbor_socket_t s, const void *buf, size_t n)
{
    size_t sent;
    ASSERT_OK(arbor_socket_send(s, buf, n, 5000, &sent));
    ASSERT_EQ(sent, n);
}

/* Reads exactly n bytes (fails the test at end of file). */
static void recv_exactly(arbor_socket_t s, void *buf, size_t n)
{
    size_t have = 0;
    while (have < n) {
        size_t got;
        ASSERT_OK(arbor_socket_recv(s, (char *)buf + have, n - have, 5000, &got));
        ASSERT_GT(got, 0);
        have += got;
    }
}

/* The next read finds end of file. */
static void expect_end_of_file(arbor_socket_t s)
{
    char b;
    size_t got;
    ASSERT_OK(arbor_socket_recv(s, &b, 1, 5000, &got));
    ASSERT_EQ(got, 0);
}

/* Reads until end of file; returns the bytes read. */
static size_t recv_until_eof(arbor_socket_t s)
{
    char buf[4096];
    size_t total = 0, got;
    do {
        ASSERT_OK(arbor_socket_recv(s, buf, sizeof buf, 5000, &got));
        total += got;
    } while (got > 0);
    return total;
}

static arbor_socket_t wait_for_socket(void)
{
    arbor_msg_t *m = arbor_test_recv_tag(TAG_SOCKET, 5000);
    arbor_socket_t s = *(arbor_socket_t *)m->data;
    arbor_msg_free(m);
    return s;
}

/* An echo handler: gets its socket from the acceptor, echoes until end of
 * file, closes. */
static void echo_handler(void *arg)
{
    (void)arg;
    arbor_socket_t s = wait_for_socket();
    char buf[16384];
    for (;;) {
        size_t got;
        int rc = arbor_socket_recv(s, buf, sizeof buf, ARBOR_INFINITY, &got);
        if (rc != 0 || got == 0)
            break;
        if (arbor_socket_send(s, buf, got, ARBOR_INFINITY, NULL) != 0)
            break;
    }
    arbor_socket_close(s);
}

typedef struct acceptor_args {
    arbor_socket_t listener; /* given to the acceptor by its spawner */
    arbor_pid_t report_to;
} acceptor_args_t;

/* Hands each connection to a new echo handler until the listener is
 * closed (by the test, as any process may), then tells report_to: the
 * test ends it without having to know how many connections it took. */
static void acceptor(void *arg)
{
    acceptor_args_t a = *(acceptor_args_t *)arg;
    a.listener = wait_for_socket();
    for (;;) {
        arbor_socket_t c;
        int rc = arbor_tcp_accept(a.listener, ARBOR_INFINITY, &c);
        if (rc == ARBOR_ECLOSED)
            break;
        ASSERT_OK(rc);
        arbor_pid_t h;
        ASSERT_OK(arbor_spawn(echo_handler, NULL, &h));
        ASSERT_OK(arbor_socket_give(c, h));
        ASSERT_OK(arbor_send(h, TAG_SOCKET, &c, sizeof c));
    }
    arbor_send(a.report_to, TAG_DONE, NULL, 0);
}

/* An echo server on host: its port, and in *listener the listening socket
 * (owned by the acceptor), which stop_echo_server() closes. */
static uint16_t start_echo_server(const char *host, arbor_socket_t *listener,
                                  arbor_pid_t *acceptor_out)
{
    uint16_t port;
    arbor_socket_t l = listen_on(host, &port);
    acceptor_args_t a = {.report_to = arbor_self()};
    arbor_spawn_opts_t o = {.arg_size = sizeof a};
    arbor_pid_t pid;
    ASSERT_OK(arbor_spawn_opt(acceptor, &a, &o, &pid, NULL));
    ASSERT_OK(arbor_socket_give(l, pid));
    ASSERT_OK(arbor_send(pid, TAG_SOCKET, &l, sizeof l));
    *listener = l;
    if (acceptor_out)
        *acceptor_out = pid;
    return port;
}

/* Closes the echo server's listener; its acceptor then says it is done. */
static void stop_echo_server(arbor_socket_t listener)
{
    ASSERT_OK(arbor_socket_close(listener));
    arbor_msg_free(arbor_test_recv_tag(TAG_DONE, 5000));
}

static void echo_round_trip(const char *host)
{
    arbor_socket_t l;
    uint16_t port = start_echo_server(host, &l, NULL);
    arbor_socket_t c;
    ASSERT_OK(arbor_tcp_connect(host, port, 5000, &c));
    ASSERT_OK(arbor_socket_setopt(c, ARBOR_SO_NODELAY, 1));
    for (int i = 0; i < 100; i++) {
        char out[64], in[64];
        int n = snprintf(out, sizeof out, "message %d", i);
        send_all(c, out, (size_t)n);
        recv_exactly(c, in, (size_t)n);
        ASSERT_TRUE(memcmp(in, out, (size_t)n) == 0);
    }
    stop_echo_server(l);
    ASSERT_OK(arbor_socket_close(c));
}

/* ---- echo, v4 and v6 ------------------------------------------------------------- */

static void echo_v4_root(void *arg)
{
    (void)arg;
    echo_round_trip("127.0.0.1");
}

TEST(echo_over_ipv4_loopback)
{
    arbor_test_run(echo_v4_root, NULL);
}

static void echo_v6_root(void *arg)
{
    (void)arg;
    echo_round_trip("::1");
}

TEST(echo_over_ipv6_loopback)
{
    arbor_test_run(echo_v6_root, NULL);
}

static void name_root(void *arg)
{
    (void)arg;
    echo_round_trip("localhost"); /* resolved on the blocking pool */
}

TEST(connect_resolves_a_name)
{
    arbor_test_run(name_root, NULL);
}

static void address_root(void *arg)
{
    (void)arg;
    arbor_socket_t l;
    uint16_t port = start_echo_server("127.0.0.1", &l, NULL);
    arbor_socket_t c;
    ASSERT_OK(arbor_tcp_connect("127.0.0.1", port, 5000, &c));
    arbor_sockaddr_t peer, local;
    ASSERT_OK(arbor_socket_peer(c, &peer));
    ASSERT_OK(arbor_socket_local(c, &local));
    ASSERT_EQ(arbor_sockaddr_port(&peer), port);
    char text[64], want[64];
    arbor_sockaddr_format(&peer, text, sizeof text);
    snprintf(want, sizeof want, "127.0.0.1:%u", port);
    ASSERT_STREQ(text, want);
    int v = 0;
    ASSERT_OK(arbor_socket_setopt(c, ARBOR_SO_KEEPALIVE, 1));
    ASSERT_OK(arbor_socket_getopt(c, ARBOR_SO_KEEPALIVE, &v));
    ASSERT_EQ(v, 1);
    ASSERT_OK(arbor_socket_getopt(c, ARBOR_SO_LINGER, &v));
    ASSERT_EQ(v, -1);
    ASSERT_OK(arbor_socket_setopt(c, ARBOR_SO_LINGER, 3));
    ASSERT_OK(arbor_socket_getopt(c, ARBOR_SO_LINGER, &v));
    ASSERT_EQ(v, 3);
    ASSERT_ERR(arbor_socket_setopt(c, ARBOR_SO_LINGER, -2), ARBOR_EINVAL);
    ASSERT_ERR(arbor_socket_setopt(c, (arbor_sockopt_t)99, 1), ARBOR_EINVAL);
    ASSERT_OK(arbor_socket_close(c));
    ASSERT_ERR(arbor_socket_close(c), ARBOR_ECLOSED);
    ASSERT_ERR(arbor_socket_send(c, "x", 1, 0, NULL), ARBOR_ECLOSED);
    stop_echo_server(l);
}

TEST(addresses_options_and_a_closed_handle)
{
    arbor_test_run(address_root, NULL);
}

static void outside_root(void *arg)
{
    (void)arg;
}

TEST(calls_outside_a_process_are_refused)
{
    arbor_socket_t s;
    ASSERT_ERR(arbor_tcp_listen(NULL, 0, NULL, &s), ARBOR_ENOTPROC);
    size_t got;
    char b;
    ASSERT_ERR(arbor_socket_recv(1, &b, 1, 0, &got), ARBOR_ENOTPROC);
    arbor_test_run(outside_root, NULL);
}

/* ---- partial reads and writes ------------------------------------------------------- */

#define BIG (1u << 20)

static void writer(void *arg)
{
    (void)arg;
    arbor_socket_t s = wait_for_socket();
    unsigned char *buf = arbor_alloc(BIG);
    for (size_t i = 0; i < BIG; i++)
        buf[i] = (unsigned char)(i * 7 + i / 251);
    /* Small pieces and large ones, through a 4 KiB send buffer. */
    size_t off = 0, piece = 1;
    while (off < BIG) {
        size_t n = piece < BIG - off ? piece : BIG - off;
        send_all(s, buf + off, n);
        off += n;
        piece = piece * 3 % 70001 + 1;
    }
    ASSERT_OK(arbor_socket_shutdown_write(s));
    ASSERT_EQ(recv_until_eof(s), 0); /* the reader closes after it has all */
    arbor_socket_close(s);
}

static void partial_root(void *arg)
{
    (void)arg;
    uint16_t port;
    arbor_socket_t l = listen_on("127.0.0.1", &port);
    arbor_pid_t w;
    ASSERT_OK(arbor_spawn(writer, NULL, &w));
    arbor_socket_t c, srv;
    ASSERT_OK(arbor_tcp_connect("127.0.0.1", port, 5000, &c));
    ASSERT_OK(arbor_tcp_accept(l, 5000, &srv));
    ASSERT_OK(arbor_socket_setopt(srv, ARBOR_SO_SNDBUF, 4096));
    ASSERT_OK(arbor_socket_setopt(c, ARBOR_SO_RCVBUF, 4096));
    ASSERT_OK(arbor_socket_give(srv, w));
    ASSERT_OK(arbor_send(w, TAG_SOCKET, &srv, sizeof srv));
    /* Read in odd sizes, yielding now and then so the writer fills up. */
    unsigned char *buf = arbor_alloc(BIG);
    size_t have = 0, ask = 1;
    while (have < BIG) {
        size_t got;
        ASSERT_OK(
            arbor_socket_recv(c, buf + have, ask < BIG - have ? ask : BIG - have, 5000, &got));
        ASSERT_GT(got, 0);
        have += got;
        ask = ask * 5 % 9973 + 1;
        if (have % 7 == 0)
            arbor_yield();
    }
    size_t got;
    ASSERT_OK(arbor_socket_recv(c, buf, 1, 5000, &got));
    ASSERT_EQ(got, 0); /* the writer's half-close */
    for (size_t i = 0; i < BIG; i++)
        if (buf[i] != (unsigned char)(i * 7 + i / 251))
            arbor_test_fail(__FILE__, __LINE__, "byte %zu differs", i);
    arbor_socket_close(c);
    arbor_socket_close(l);
    arbor_test_wait_dead(w, 5000);
}

TEST(partial_reads_and_writes_through_tiny_buffers_keep_every_byte)
{
    arbor_test_run(partial_root, NULL);
}

/* ---- half-close, reset, refused, timeouts ------------------------------------------------ */

static void half_close_server(void *arg)
{
    (void)arg;
    arbor_socket_t s = wait_for_socket();
    size_t n = recv_until_eof(s); /* the client's half-close */
    char reply[32];
    int len = snprintf(reply, sizeof reply, "got %zu", n);
    send_all(s, reply, (size_t)len);
    arbor_socket_close(s);
}

static void half_close_root(void *arg)
{
    (void)arg;
    connection_t k = connect_pair();
    arbor_socket_t l = k.listener, c = k.client, srv = k.server;
    arbor_pid_t h;
    ASSERT_OK(arbor_spawn(half_close_server, NULL, &h));
    ASSERT_OK(arbor_socket_give(srv, h));
    ASSERT_OK(arbor_send(h, TAG_SOCKET, &srv, sizeof srv));
    send_all(c, "hello", 5);
    ASSERT_OK(arbor_socket_shutdown_write(c));
    char buf[32] = {0};
    size_t got, have = 0;
    do {
        ASSERT_OK(arbor_socket_recv(c, buf + have, sizeof buf - 1 - have, 5000, &got));
        have += got;
    } while (got > 0);
    ASSERT_STREQ(buf, "got 5");
    arbor_socket_close(c);
    arbor_socket_close(l);
}

TEST(half_close_lets_the_peer_answer_after_end_of_file)
{
    arbor_test_run(half_close_root, NULL);
}

static void reset_root(void *arg)
{
    (void)arg;
    uint16_t port;
    arbor_socket_t l = listen_on("127.0.0.1", &port);
    /* The peer is a plain socket that resets: SO_LINGER 0, then close. */
    int raw = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {
        .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ASSERT_EQ(connect(raw, (struct sockaddr *)&sa, sizeof sa), 0);
    arbor_socket_t srv;
    ASSERT_OK(arbor_tcp_accept(l, 5000, &srv));
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    ASSERT_EQ(setsockopt(raw, SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
    close(raw);
    char b;
    size_t got;
    int rc = arbor_socket_recv(srv, &b, 1, 5000, &got);
    ASSERT_EQ(rc, ARBOR_ECONNRESET);
    ASSERT_STREQ(arbor_err_name(rc), "ARBOR_ECONNRESET");
    ASSERT_ERR(arbor_socket_send(srv, "x", 1, 1000, NULL), ARBOR_EPIPE);
    arbor_socket_close(srv);
    arbor_socket_close(l);
}

TEST(peer_reset_is_reported)
{
    arbor_test_run(reset_root, NULL);
}

static void refused_root(void *arg)
{
    (void)arg;
    uint16_t port;
    arbor_socket_t l = listen_on("127.0.0.1", &port);
    ASSERT_OK(arbor_socket_close(l));
    arbor_socket_t c;
    ASSERT_ERR(arbor_tcp_connect("127.0.0.1", port, 5000, &c), ARBOR_ECONNREFUSED);
    ASSERT_ERR(arbor_tcp_connect("no-such-host.invalid", 1, 5000, &c), ARBOR_ENOENT);
}

TEST(connect_refused_and_unknown_names_are_errors)
{
    arbor_test_run(refused_root, NULL);
}

static void connect_timeout_root(void *arg)
{
    (void)arg;
    /* A listener that never accepts, backlog 1: once its queue is full
     * the kernel drops further SYNs and a connect waits. */
    arbor_socket_t l;
    arbor_listen_opts_t o = {.backlog = 1};
    ASSERT_OK(arbor_tcp_listen("127.0.0.1", 0, &o, &l));
    arbor_sockaddr_t a;
    ASSERT_OK(arbor_socket_local(l, &a));
    uint16_t port = arbor_sockaddr_port(&a);
    arbor_socket_t held[16];
    int n = 0, timed_out = 0;
    while (n < 16 && !timed_out) {
        uint64_t t0 = arbor_now_ms();
        int rc = arbor_tcp_connect("127.0.0.1", port, 200, &held[n]);
        if (rc == 0) {
            n++;
            continue;
        }
        ASSERT_ERR(rc, ARBOR_ETIMEDOUT);
        ASSERT_GE(arbor_now_ms() - t0, 190);
        timed_out = 1;
    }
    ASSERT_TRUE(timed_out);
    for (int i = 0; i < n; i++)
        ASSERT_OK(arbor_socket_close(held[i]));
    ASSERT_OK(arbor_socket_close(l));
}

TEST(connect_times_out_against_a_full_backlog)
{
    arbor_test_run(connect_timeout_root, NULL);
}

static void recv_timeout_root(void *arg)
{
    (void)arg;
    connection_t k = connect_pair();
    arbor_socket_t l = k.listener, c = k.client, srv = k.server;
    char b[8];
    size_t got;
    uint64_t t0 = arbor_now_ms();
    ASSERT_ERR(arbor_socket_recv(c, b, sizeof b, 50, &got), ARBOR_ETIMEDOUT);
    ASSERT_GE(arbor_now_ms() - t0, 45);
    ASSERT_ERR(arbor_socket_recv(c, b, sizeof b, 0, &got), ARBOR_ETIMEDOUT);
    ASSERT_ERR(arbor_tcp_accept(l, 0, &srv), ARBOR_ETIMEDOUT);
    /* Still usable. */
    send_all(srv, "late", 4);
    recv_exactly(c, b, 4);
    ASSERT_TRUE(memcmp(b, "late", 4) == 0);
    /* Messages that came while it waited are still there. */
    arbor_send(arbor_self(), 77, "m", 1);
    ASSERT_ERR(arbor_socket_recv(c, b, sizeof b, 20, &got), ARBOR_ETIMEDOUT);
    arbor_msg_free(arbor_test_recv_tag(77, 0));
    arbor_socket_close(c);
    arbor_socket_close(srv);
    arbor_socket_close(l);
}

TEST(recv_timeout_leaves_the_socket_usable_and_the_mailbox_whole)
{
    arbor_test_run(recv_timeout_root, NULL);
}

/* ---- ownership ---------------------------------------------------------------------- */

static void crashing_owner(void *arg)
{
    uint16_t port = *(uint16_t *)arg;
    arbor_socket_t c;
    ASSERT_OK(arbor_tcp_connect("127.0.0.1", port, 5000, &c));
    send_all(c, "bye", 3);
    arbor_exit(arbor_error("crash"));
}

static void owner_crash_root(void *arg)
{
    (void)arg;
    uint16_t port;
    arbor_socket_t l = listen_on("127.0.0.1", &port);
    arbor_spawn_opts_t o = {.arg_size = sizeof port};
    arbor_pid_t pid;
    ASSERT_OK(arbor_spawn_opt(crashing_owner, &port, &o, &pid, NULL));
    arbor_socket_t srv;
    ASSERT_OK(arbor_tcp_accept(l, 5000, &srv));
    /* The crashed owner's socket was closed: we read its bytes, then end
     * of file. */
    ASSERT_EQ(recv_until_eof(srv), 3);
    arbor_socket_close(srv);
    arbor_socket_close(l);
}

TEST(an_owner_that_crashes_closes_its_sockets)
{
    arbor_test_run(owner_crash_root, NULL);
}

/* A process that owns the server side of a connection: sets its last
 * words (or sets and clears them), tells the test, then crashes. */
static void last_words_owner(void *arg)
{
    bool clear = *(bool *)arg;
    arbor_socket_t s = wait_for_socket();
    static const char words[] = "last words";
    ASSERT_OK(arbor_socket_last_words(s, words, sizeof words - 1));
    if (clear)
        ASSERT_OK(arbor_socket_last_words(s, NULL, 0));
    arbor_exit(arbor_error("boom"));
}

static void last_words_case(bool clear)
{
    uint16_t port;
    arbor_socket_t l = listen_on("127.0.0.1", &port), c, srv;
    ASSERT_ERR(arbor_socket_last_words(l, "x", 1), ARBOR_EINVAL);
    ASSERT_OK(arbor_tcp_connect("127.0.0.1", port, 5000, &c));
    ASSERT_OK(arbor_tcp_accept(l, 5000, &srv));
    arbor_spawn_opts_t o = {.arg_size = sizeof clear};
    arbor_pid_t pid;
    ASSERT_OK(arbor_spawn_opt(last_words_owner, &clear, &o, &pid, NULL));
    ASSERT_OK(arbor_socket_give(srv, pid));
    ASSERT_OK(arbor_send(pid, TAG_SOCKET, &srv, sizeof srv));
    char buf[64];
    size_t total = 0, got;
    do {
        ASSERT_OK(arbor_socket_recv(c, buf + total, sizeof buf - total, 5000, &got));
        total += got;
    } while (got > 0);
    if (clear) {
        ASSERT_EQ(total, 0);
    } else {
        ASSERT_EQ(total, 10);
        ASSERT_TRUE(memcmp(buf, "last words", 10) == 0);
    }
    arbor_socket_close(c);
    arbor_socket_close(l);
}

static void last_words_root(void *arg)
{
    (void)arg;
    last_words_case(false);
    last_words_case(true);
}

TEST(last_words_reach_the_peer_when_the_owner_crashes)
{
    arbor_test_run(last_words_root, NULL);
}

static void handed_over_root(void *arg)
{
    (void)arg;
    arbor_pid_t acc;
    arbor_socket_t l;
    uint16_t port = start_echo_server("127.0.0.1", &l, &acc);
    arbor_socket_t c;
    ASSERT_OK(arbor_tcp_connect("127.0.0.1", port, 5000, &c));
    send_all(c, "one", 3);
    char b[3];
    recv_exactly(c, b, 3);
    /* The acceptor dies (killed): its listener closes, the connection it
     * handed over does not. */
    ASSERT_OK(arbor_exit_pid(acc, ARBOR_KILL));
    arbor_test_wait_dead(acc, 5000);
    arbor_socket_t c2;
    ASSERT_ERR(arbor_tcp_connect("127.0.0.1", port, 5000, &c2), ARBOR_ECONNREFUSED);
    send_all(c, "two", 3);
    recv_exactly(c, b, 3);
    ASSERT_TRUE(memcmp(b, "two", 3) == 0);
    arbor_socket_close(c);
}

TEST(a_handed_over_socket_survives_the_acceptor)
{
    arbor_test_run(handed_over_root, NULL);
}

typedef struct {
    arbor_socket_t s;
    arbor_pid_t parent;
} intruder_args_t;

static void intruder(void *arg)
{
    intruder_args_t a = *(intruder_args_t *)arg;
    char b;
    size_t got;
    int rcs[6] = {
        arbor_socket_recv(a.s, &b, 1, 0, &got), arbor_socket_send(a.s, "x", 1, 0, NULL),
        arbor_socket_give(a.s, arbor_self()),   arbor_socket_notify(a.s, ARBOR_READABLE),
        arbor_socket_shutdown_write(a.s),       arbor_socket_setopt(a.s, ARBOR_SO_NODELAY, 1),
    };
    arbor_send(a.parent, TAG_DONE, rcs, sizeof rcs);
}

static void non_owner_root(void *arg)
{
    (void)arg;
    uint16_t port;
    arbor_socket_t l = listen_on("127.0.0.1", &port);
    intruder_args_t a = {.s = l, .parent = arbor_self()};
    arbor_spawn_opts_t o = {.arg_size = sizeof a};
    ASSERT_OK(arbor_spawn_opt(intruder, &a, &o, NULL, NULL));
    arbor_msg_t *m = arbor_test_recv_tag(TAG_DONE, 5000);
    const int *rcs = m->data;
    for (int i = 0; i < 6; i++)
        ASSERT_ERR(rcs[i], ARBOR_EACCES);
    arbor_msg_free(m);
    /* Still ours and working. */
    arbor_socket_t c, srv;
    ASSERT_OK(arbor_tcp_connect("127.0.0.1", port, 5000, &c));
    ASSERT_OK(arbor_tcp_accept(l, 5000, &srv));
    arbor_socket_close(c);
    arbor_socket_close(srv);
    arbor_socket_close(l);
}

TEST(a_non_owner_is_refused)
{
    arbor_test_run(non_owner_root, NULL);
}

static void give_to_dead_root(void *arg)
{
    (void)arg;
    arbor_pid_t dead;
    ASSERT_OK(arbor_spawn(outside_root, NULL, &dead));
    arbor_test_wait_dead(dead, 5000);
    uint16_t port;
    arbor_socket_t l = listen_on("127.0.0.1", &port);
    ASSERT_ERR(arbor_socket_give(l, dead), ARBOR_ENOPROC);
    arbor_socket_t srv;
    ASSERT_ERR(arbor_tcp_accept(l, 0, &srv), ARBOR_ETIMEDOUT); /* still ours */
    arbor_socket_close(l);
}

TEST(giving_to_a_dead_process_keeps_the_socket)
{
    arbor_test_run(give_to_dead_root, NULL);
}

/* A socket given to a process that dies before it takes the gift in is
 * closed all the same. */
static void gift_receiver(void *arg)
{
    (void)arg;
    arbor_msg_t *m;
    arbor_receive(ARBOR_INFINITY, &m); /* never comes */
}

static void gift_lost_root(void *arg)
{
    (void)arg;
    connection_t k = connect_pair();
    arbor_socket_t l = k.listener, c = k.client, srv = k.server;
    for (int i = 0; i < 200; i++) {
        arbor_pid_t r;
        ASSERT_OK(arbor_spawn(gift_receiver, NULL, &r));
        if (i == 199) {
            ASSERT_OK(arbor_socket_give(srv, r));
        }
        arbor_exit_pid(r, ARBOR_KILL);
    }
    expect_end_of_file(c);
    arbor_socket_close(c);
    arbor_socket_close(l);
}

TEST(a_socket_given_to_a_process_that_dies_is_closed)
{
    arbor_test_run(gift_lost_root, NULL);
}

/* ---- closing and killing while a process waits ------------------------------------------ */

static void blocked_reader(void *arg)
{
    arbor_pid_t parent = *(arbor_pid_t *)arg;
    arbor_socket_t s = wait_for_socket();
    char b;
    size_t got;
    arbor_send(parent, TAG_PORT, NULL, 0); /* about to wait */
    int rc = arbor_socket_recv(s, &b, 1, ARBOR_INFINITY, &got);
    arbor_send(parent, TAG_DONE, &rc, sizeof rc);
}

static arbor_pid_t reader_on(arbor_socket_t srv)
{
    arbor_pid_t self = arbor_self(), r;
    arbor_spawn_opts_t o = {.arg_size = sizeof self};
    ASSERT_OK(arbor_spawn_opt(blocked_reader, &self, &o, &r, NULL));
    ASSERT_OK(arbor_socket_give(srv, r));
    ASSERT_OK(arbor_send(r, TAG_SOCKET, &srv, sizeof srv));
    arbor_msg_free(arbor_test_recv_tag(TAG_PORT, 5000));
    return r;
}

static bool parked(arbor_pid_t pid)
{
    arbor_process_info_t info;
    return arbor_process_info(pid, &info) == 0 && info.status == ARBOR_STATUS_WAITING;
}

/* Waits (polling, with the harness's scaled deadline) until pid is parked
 * rather than running. */
static void wait_parked(arbor_pid_t pid)
{
    WAIT_UNTIL(parked(pid), 5000);
}

static void close_while_waiting_root(void *arg)
{
    (void)arg;
    connection_t k = connect_pair();
    arbor_socket_t l = k.listener, c = k.client, srv = k.server;
    arbor_pid_t r = reader_on(srv);
    wait_parked(r);
    /* Any process may close: the waiter wakes with ECLOSED, the peer sees
     * end of file. */
    ASSERT_OK(arbor_socket_close(srv));
    arbor_msg_t *m = arbor_test_recv_tag(TAG_DONE, 5000);
    ASSERT_ERR(*(int *)m->data, ARBOR_ECLOSED);
    arbor_msg_free(m);
    expect_end_of_file(c);
    arbor_test_wait_dead(r, 5000);
    arbor_socket_close(c);
    arbor_socket_close(l);
}

TEST(closing_a_socket_wakes_the_process_waiting_on_it)
{
    arbor_test_run(close_while_waiting_root, NULL);
}

static void kill_while_waiting_root(void *arg)
{
    (void)arg;
    connection_t k = connect_pair();
    arbor_socket_t l = k.listener, c = k.client, srv = k.server;
    arbor_pid_t r = reader_on(srv);
    wait_parked(r);
    ASSERT_OK(arbor_exit_pid(r, ARBOR_KILL));
    arbor_test_wait_dead(r, 5000);
    expect_end_of_file(c);
    arbor_test_no_message(20); /* it died in recv: no answer */
    arbor_socket_close(c);
    arbor_socket_close(l);
}

TEST(an_owner_killed_while_parked_in_recv_closes_its_socket)
{
    arbor_test_run(kill_while_waiting_root, NULL);
}

/* ---- races --------------------------------------------------------------------------- */

static void dribbler(void *arg)
{
    (void)arg;
    arbor_socket_t s = wait_for_socket();
    unsigned seed = 12345;
    for (int i = 0; i < 2000; i++) {
        seed = seed * 1103515245u + 12345u;
        if ((seed >> 16) % 3 == 0)
            arbor_yield();
        unsigned char b = (unsigned char)i;
        send_all(s, &b, 1);
    }
    ASSERT_EQ(recv_until_eof(s), 0);
    arbor_socket_close(s);
}

static void timeout_race_root(void *arg)
{
    (void)arg;
    connection_t k = connect_pair();
    arbor_socket_t l = k.listener, c = k.client, srv = k.server;
    arbor_pid_t d;
    ASSERT_OK(arbor_spawn(dribbler, NULL, &d));
    ASSERT_OK(arbor_socket_give(srv, d));
    ASSERT_OK(arbor_send(d, TAG_SOCKET, &srv, sizeof srv));
    /* Timeouts of 0 and 1 ms race the bytes' arrival: every byte still
     * arrives, once, in order. */
    int next = 0, timeouts = 0;
    while (next < 2000) {
        unsigned char b[16];
        size_t got;
        int rc = arbor_socket_recv(c, b, sizeof b, next % 2, &got);
        if (rc == ARBOR_ETIMEDOUT) {
            timeouts++;
            continue;
        }
        ASSERT_OK(rc);
        ASSERT_GT(got, 0);
        for (size_t i = 0; i < got; i++, next++)
            ASSERT_EQ(b[i], (unsigned char)next);
    }
    ASSERT_GT(timeouts, 0);
    arbor_socket_close(c);
    arbor_socket_close(l);
    arbor_test_wait_dead(d, 5000);
}

TEST(timeouts_racing_readiness_lose_no_byte)
{
    arbor_test_run(timeout_race_root, NULL);
}

/* Connections opened and closed quickly while events are in flight: each
 * client gets its own bytes back, never a stale descriptor's. */
static void churn_client(void *arg)
{
    uint16_t port = *(uint16_t *)arg;
    for (int i = 0; i < 40; i++) {
        arbor_socket_t c;
        ASSERT_OK(arbor_tcp_connect("127.0.0.1", port, 5000, &c));
        uint64_t mine = arbor_self() * 1000 + (uint64_t)i, back;
        send_all(c, &mine, sizeof mine);
        recv_exactly(c, &back, sizeof back);
        ASSERT_U64_EQ(back, mine);
        ASSERT_OK(arbor_socket_close(c));
    }
}

static void fd_reuse_root(void *arg)
{
    (void)arg;
    enum { CLIENTS = 16 };
    arbor_socket_t l;
    uint16_t port = start_echo_server("127.0.0.1", &l, NULL);
    arbor_pid_t pids[CLIENTS];
    for (int i = 0; i < CLIENTS; i++) {
        arbor_spawn_opts_t o = {.arg_size = sizeof port, .monitor = true};
        arbor_ref_t ref;
        ASSERT_OK(arbor_spawn_opt(churn_client, &port, &o, &pids[i], NULL));
        (void)ref;
    }
    for (int i = 0; i < CLIENTS; i++) {
        arbor_msg_t *m = arbor_test_recv_tag(ARBOR_TAG_DOWN, 20000);
        arbor_down_msg_t *d = m->data;
        ASSERT_EQ(d->reason.kind, ARBOR_EXIT_NORMAL);
        arbor_msg_free(m);
    }
    stop_echo_server(l);
}

TEST(descriptors_reused_quickly_never_cross_connections)
{
    arbor_test_run(fd_reuse_root, NULL);
}

/* 256 connections, each a client process doing round trips with its own
 * handler, on 2, 4 and 8 schedulers: a lost wake-up hangs the test. */
#define STRESS_CONNS 256
#define STRESS_TRIPS 1000

static void stress_client(void *arg)
{
    uint16_t port = *(uint16_t *)arg;
    arbor_socket_t c;
    ASSERT_OK(arbor_tcp_connect("127.0.0.1", port, 10000, &c));
    ASSERT_OK(arbor_socket_setopt(c, ARBOR_SO_NODELAY, 1));
    for (uint32_t i = 0; i < STRESS_TRIPS; i++) {
        uint32_t out[4] = {i, i * 3, (uint32_t)arbor_self(), 7}, in[4];
        send_all(c, out, sizeof out);
        recv_exactly(c, in, sizeof in);
        ASSERT_TRUE(memcmp(in, out, sizeof out) == 0);
    }
    arbor_socket_close(c);
}

static void stress_root(void *arg)
{
    (void)arg;
    arbor_socket_t l;
    uint16_t port = start_echo_server("127.0.0.1", &l, NULL);
    for (int i = 0; i < STRESS_CONNS; i++) {
        arbor_spawn_opts_t o = {.arg_size = sizeof port, .monitor = true};
        ASSERT_OK(arbor_spawn_opt(stress_client, &port, &o, NULL, NULL));
    }
    for (int i = 0; i < STRESS_CONNS; i++) {
        arbor_msg_t *m = arbor_test_recv_tag(ARBOR_TAG_DOWN, 60000);
        ASSERT_EQ(((arbor_down_msg_t *)m->data)->reason.kind, ARBOR_EXIT_NORMAL);
        arbor_msg_free(m);
    }
    stop_echo_server(l);
}

static void stress_on(unsigned schedulers)
{
    arbor_config_t cfg = {.schedulers = schedulers, .stack_size = 64 * 1024};
    arbor_test_run_with(&cfg, stress_root, NULL);
}

TEST_TIMEOUT(stress_256_connections_on_2_schedulers, 120)
{
    stress_on(2);
}

TEST_TIMEOUT(stress_256_connections_on_4_schedulers, 120)
{
    stress_on(4);
}

TEST_TIMEOUT(stress_256_connections_on_8_schedulers, 120)
{
    stress_on(8);
}

/* ---- message style --------------------------------------------------------------------- */

static void notified_root(void *arg)
{
    (void)arg;
    connection_t k = connect_pair();
    arbor_socket_t l = k.listener, c = k.client, srv = k.server;
    ASSERT_OK(arbor_socket_notify(srv, ARBOR_READABLE));
    arbor_test_no_message(20); /* nothing to read yet */
    send_all(c, "ping", 4);
    arbor_msg_t *m = arbor_test_recv_tag(ARBOR_TAG_SOCKET, 5000);
    arbor_socket_event_t *ev = m->data;
    ASSERT_U64_EQ(ev->socket, srv);
    ASSERT_EQ(ev->events, ARBOR_READABLE);
    ASSERT_EQ(m->from, ARBOR_NOPID);
    arbor_msg_free(m);
    char b[4];
    size_t got;
    ASSERT_OK(arbor_socket_recv(srv, b, 4, 0, &got));
    ASSERT_EQ(got, 4);
    /* One notification per arming. */
    send_all(c, "more", 4);
    arbor_test_no_message(20);
    ASSERT_OK(arbor_socket_notify(srv, ARBOR_READABLE | ARBOR_WRITABLE));
    int seen = 0;
    for (int i = 0; i < 2; i++) {
        m = arbor_test_recv_tag(ARBOR_TAG_SOCKET, 5000);
        seen |= (int)((arbor_socket_event_t *)m->data)->events;
        arbor_msg_free(m);
    }
    ASSERT_EQ(seen, ARBOR_READABLE | ARBOR_WRITABLE);
    /* Armed, then closed by another: the notification says so. */
    ASSERT_OK(arbor_socket_notify(c, ARBOR_READABLE));
    arbor_socket_close(srv);
    m = arbor_test_recv_tag(ARBOR_TAG_SOCKET, 5000);
    ASSERT_EQ(((arbor_socket_event_t *)m->data)->events, ARBOR_READABLE); /* end of file */
    arbor_msg_free(m);
    arbor_socket_close(c);
    arbor_socket_close(l);
    /* A listener that never had a connection (l's slot may still hold the
     * readiness of the one it accepted, which would answer the arming at
     * once): armed, then closed, the notification says closed. */
    uint16_t port2;
    arbor_socket_t l2 = listen_on("127.0.0.1", &port2);
    ASSERT_OK(arbor_socket_notify(l2, ARBOR_READABLE));
    arbor_socket_close(l2);
    m = arbor_test_recv_tag(ARBOR_TAG_SOCKET, 5000);
    ASSERT_EQ(((arbor_socket_event_t *)m->data)->events, ARBOR_READABLE | ARBOR_CLOSED);
    arbor_msg_free(m);
}

TEST(notifications_arrive_as_messages_once_per_arming)
{
    arbor_test_run(notified_root, NULL);
}

/* ---- many connections, running out of descriptors -------------------------------------- */

static void many_root(void *arg)
{
    int n = *(int *)arg;
    uint16_t port;
    arbor_socket_t l = listen_on("127.0.0.1", &port);
    arbor_socket_t *cs = malloc(sizeof *cs * (size_t)n), *ss = malloc(sizeof *ss * (size_t)n);
    for (int i = 0; i < n; i++) {
        ASSERT_OK(arbor_tcp_connect("127.0.0.1", port, 10000, &cs[i]));
        ASSERT_OK(arbor_tcp_accept(l, 10000, &ss[i]));
    }
    arbor_stats_t st;
    arbor_stats(&st);
    ASSERT_GE(st.live_sockets, (uint64_t)(2 * n + 1));
    for (int i = 0; i < n; i += 97) {
        uint32_t v = (uint32_t)i, back;
        send_all(cs[i], &v, sizeof v);
        recv_exactly(ss[i], &back, sizeof back);
        ASSERT_EQ(back, v);
    }
    for (int i = 0; i < n; i++) {
        arbor_socket_close(cs[i]);
        arbor_socket_close(ss[i]);
    }
    free(cs);
    free(ss);
    arbor_socket_close(l);
}

TEST_TIMEOUT(five_thousand_concurrent_connections, 120)
{
    struct rlimit rl;
    ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &rl), 0);
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max; /* raising the soft limit is allowed */
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    /* Both ends live in this process: two descriptors a connection. */
    int n = 5000;
    if (rl.rlim_cur != RLIM_INFINITY && (rlim_t)(2 * n + 256) > rl.rlim_cur)
        n = (int)((rl.rlim_cur - 256) / 2);
    fprintf(stderr, "connections: %d (open-file limit %llu)\n", n, (unsigned long long)rl.rlim_cur);
    ASSERT_GE(n, 1000);
    arbor_test_run(many_root, &n);
}

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

static void emfile_root(void *arg)
{
    (void)arg;
    uint16_t port;
    arbor_socket_t l = listen_on("127.0.0.1", &port);
    arbor_socket_t extra, got;
    ASSERT_ERR(arbor_tcp_accept(l, 0, &got), ARBOR_ETIMEDOUT); /* its reserve is open now */
    /* Exhaust the descriptor table, then free one descriptor for a
     * client: its connection waits in the backlog and the server cannot
     * take it. accept refuses it, reports, and backs off rather than
     * spin. */
    enum { MAX = 512 };
    int dummies[MAX], nd = 0;
    while (nd < MAX && (dummies[nd] = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0)
        nd++;
    ASSERT_EQ(errno, EMFILE);
    ASSERT_ERR(arbor_tcp_connect("127.0.0.1", port, 1000, &extra), ARBOR_EMFILE);
    close(dummies[--nd]);
    ASSERT_OK(arbor_tcp_connect("127.0.0.1", port, 1000, &extra));
    double cpu0 = cpu_seconds();
    int arc = arbor_tcp_accept(l, 500, &got);
    if (arc == 0) { /* say what came in, for the failure below */
        arbor_sockaddr_t pa, la;
        char t1[64], t2[64];
        arbor_socket_peer(got, &pa);
        arbor_socket_local(extra, &la);
        arbor_sockaddr_format(&pa, t1, sizeof t1);
        arbor_sockaddr_format(&la, t2, sizeof t2);
        int cnt = 0;
        for (int fd = 0; fd < 4096; fd++)
            if (fcntl(fd, F_GETFD) != -1)
                cnt++;
        fprintf(stderr, "accepted a connection from %s (ours is %s) with %d descriptors open\n", t1,
                t2, cnt);
    }
    ASSERT_ERR(arc, ARBOR_ETIMEDOUT);
    double used = cpu_seconds() - cpu0;
    fprintf(stderr, "cpu during 500 ms of accept under EMFILE: %.3f s\n", used);
    ASSERT_TRUE(used < 0.25);
    /* The refused client sees its connection end, not a hang. */
    char b;
    size_t len;
    int rc = arbor_socket_recv(extra, &b, 1, 5000, &len);
    ASSERT_TRUE(rc == ARBOR_ECONNRESET || (rc == 0 && len == 0));
    arbor_socket_close(extra);
    /* Descriptors free again: accepting works. */
    while (nd > 0)
        close(dummies[--nd]);
    arbor_socket_t c2, s2;
    ASSERT_OK(arbor_tcp_connect("127.0.0.1", port, 5000, &c2));
    ASSERT_OK(arbor_tcp_accept(l, 5000, &s2));
    arbor_socket_close(c2);
    arbor_socket_close(s2);
    arbor_socket_close(l);
}

static int reports;
static void count_report(const arbor_report_t *r, void *ctx)
{
    (void)ctx;
    if (r->kind == ARBOR_REPORT_WARNING && strcmp(r->behaviour, "net") == 0)
        __atomic_fetch_add(&reports, 1, __ATOMIC_RELAXED);
}

TEST_TIMEOUT(accept_out_of_descriptors_backs_off_and_reports, 60)
{
    /* A low limit for this test's process only. */
    int used = 0;
    for (int fd = 0; fd < 1024; fd++)
        if (fcntl(fd, F_GETFD) != -1)
            used++;
    struct rlimit rl;
    ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &rl), 0);
    rl.rlim_cur = (rlim_t)(used + 128);
    ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &rl), 0);
    arbor_report_set_handler(count_report, NULL);
    arbor_test_run(emfile_root, NULL);
    arbor_report_set_handler(NULL, NULL);
    ASSERT_GE(reports, 1);
}

/* ---- any descriptor ----------------------------------------------------------------------- */

typedef struct {
    int fd;
    arbor_pid_t parent;
} pipe_args_t;

static void pipe_waiter(void *arg)
{
    pipe_args_t a = *(pipe_args_t *)arg;
    unsigned ready = 0;
    int rc = arbor_fd_wait(a.fd, ARBOR_READABLE, 5000, &ready);
    int out[2] = {rc, (int)ready};
    arbor_send(a.parent, TAG_DONE, out, sizeof out);
}

static void fd_wait_root(void *arg)
{
    (void)arg;
    int p[2];
    ASSERT_EQ(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
    unsigned ready;
    ASSERT_ERR(arbor_fd_wait(p[0], ARBOR_READABLE, 0, &ready), ARBOR_ETIMEDOUT);
    ASSERT_ERR(arbor_fd_wait(p[0], ARBOR_READABLE, 30, &ready), ARBOR_ETIMEDOUT);
    ASSERT_OK(arbor_fd_wait(p[1], ARBOR_WRITABLE, 1000, &ready));
    ASSERT_EQ(ready, ARBOR_WRITABLE);
    pipe_args_t a = {.fd = p[0], .parent = arbor_self()};
    arbor_spawn_opts_t o = {.arg_size = sizeof a};
    arbor_pid_t w;
    ASSERT_OK(arbor_spawn_opt(pipe_waiter, &a, &o, &w, NULL));
    wait_parked(w);
    ASSERT_EQ(write(p[1], "x", 1), 1);
    arbor_msg_t *m = arbor_test_recv_tag(TAG_DONE, 5000);
    ASSERT_OK(((int *)m->data)[0]);
    ASSERT_EQ(((int *)m->data)[1], ARBOR_READABLE);
    arbor_msg_free(m);
    /* Killed while waiting: nothing is left registered. */
    char b;
    ASSERT_EQ(read(p[0], &b, 1), 1);
    ASSERT_OK(arbor_spawn_opt(pipe_waiter, &a, &o, &w, NULL));
    wait_parked(w);
    arbor_exit_pid(w, ARBOR_KILL);
    arbor_test_wait_dead(w, 5000);
    ASSERT_ERR(arbor_fd_wait(-1, ARBOR_READABLE, 0, &ready), ARBOR_EINVAL);
    close(p[0]);
    close(p[1]);
}

TEST(fd_wait_parks_on_any_descriptor)
{
    arbor_test_run(fd_wait_root, NULL);
}

/*
 * The network benchmarks (docs/performance.md, "Network I/O"):
 * tcp_echo_rtt, tcp_echo_conns, tcp_accept_rate and tcp_idle_conn_bytes.
 * Client and server run in one runtime over loopback, but for the idle
 * connections, whose clients live in a forked child so that both ends'
 * descriptors fit under the open-file limit.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <unistd.h>

#include "bench.h"

enum { TAG_SOCKET = 1, TAG_DONE, TAG_READY, TAG_STOP };

#define MSG_BYTES 64

/* A benchmark that cannot go on says why and stops the program. */
static void check(int rc, const char *what)
{
    if (rc != 0) {
        fprintf(stderr, "%s: %s (%s)\n", what, arbor_err_name(rc), arbor_strerror(rc));
        abort();
    }
}

static arbor_socket_t listen_any(uint16_t *port)
{
    arbor_socket_t l;
    if (arbor_tcp_listen("127.0.0.1", 0, NULL, &l) != 0)
        abort();
    arbor_sockaddr_t a;
    arbor_socket_local(l, &a);
    *port = arbor_sockaddr_port(&a);
    return l;
}

static arbor_socket_t wait_for_socket(void)
{
    arbor_msg_t *m = bench_recv_tag(TAG_SOCKET);
    arbor_socket_t s = *(arbor_socket_t *)m->data;
    arbor_msg_free(m);
    return s;
}

static void recv_exactly(arbor_socket_t s, void *buf, size_t n)
{
    size_t have = 0, got;
    while (have < n) {
        check(arbor_socket_recv(s, (char *)buf + have, n - have, ARBOR_INFINITY, &got), "recv");
        if (got == 0)
            check(ARBOR_ECONNRESET, "recv: end of file");
        have += got;
    }
}

/* A connection process: echoes until end of file. */
static void echo_connection(void *arg)
{
    (void)arg;
    arbor_socket_t s = wait_for_socket();
    arbor_socket_setopt(s, ARBOR_SO_NODELAY, 1);
    char buf[4096];
    size_t got;
    while (arbor_socket_recv(s, buf, sizeof buf, ARBOR_INFINITY, &got) == 0 && got > 0)
        if (arbor_socket_send(s, buf, got, ARBOR_INFINITY, NULL) != 0)
            break;
    arbor_socket_close(s);
}

/* Accepts connections until another process closes the listener (which
 * comes from the spawner), spawning handler for each and handing it the
 * socket. It counts nothing: the benchmark ends it by closing the
 * listener. */
static void acceptor(void *arg)
{
    arbor_entry_fn handler = *(arbor_entry_fn *)arg;
    arbor_socket_t l = wait_for_socket();
    for (;;) {
        arbor_socket_t c;
        arbor_pid_t h;
        int rc = arbor_tcp_accept(l, ARBOR_INFINITY, &c);
        if (rc == ARBOR_ECLOSED)
            return;
        check(rc, "accept");
        check(arbor_spawn(handler, NULL, &h), "spawn");
        check(arbor_socket_give(c, h), "give");
        arbor_send(h, TAG_SOCKET, &c, sizeof c);
    }
}

/* Starts an acceptor of connections handled by handler; returns the port
 * and stores the listener, which the benchmark closes when done. The
 * acceptor is monitored: its DOWN says it has ended. */
static uint16_t start_server(arbor_entry_fn handler, arbor_socket_t *listener)
{
    uint16_t port;
    arbor_socket_t l = listen_any(&port);
    *listener = l;
    arbor_spawn_opts_t o = {.arg_size = sizeof handler, .monitor = true};
    arbor_pid_t pid;
    arbor_ref_t ref;
    if (arbor_spawn_opt(acceptor, &handler, &o, &pid, &ref) != 0 || arbor_socket_give(l, pid) != 0)
        abort();
    arbor_send(pid, TAG_SOCKET, &l, sizeof l);
    return port;
}

/* ---- tcp_echo_rtt --------------------------------------------------------------- */

static void tcp_echo_rtt(void)
{
    uint64_t m = bench_size("BENCH_M", 100000);
    arbor_socket_t l;
    uint16_t port = start_server(echo_connection, &l);
    arbor_socket_t c;
    if (arbor_tcp_connect("127.0.0.1", port, 5000, &c) != 0)
        abort();
    arbor_socket_setopt(c, ARBOR_SO_NODELAY, 1);
    char out[MSG_BYTES] = "ping", in[MSG_BYTES];
    uint64_t t0 = bench_now_ns();
    for (uint64_t i = 0; i < m; i++) {
        if (arbor_socket_send(c, out, sizeof out, ARBOR_INFINITY, NULL) != 0)
            abort();
        recv_exactly(c, in, sizeof in);
    }
    uint64_t t = bench_now_ns() - t0;
    arbor_socket_close(c);
    arbor_socket_close(l); /* the acceptor ends with its listener */
    arbor_msg_free(bench_recv_tag(ARBOR_TAG_DOWN));
    bench_figure("tcp_echo_rtt", (double)t / (double)m / 1000.0, "us");
}

/* ---- tcp_echo_conns --------------------------------------------------------------- */

typedef struct {
    uint16_t port;
    uint64_t trips;
    arbor_pid_t parent;
} client_args_t;

static void echo_client(void *arg)
{
    client_args_t a = *(client_args_t *)arg;
    arbor_socket_t c;
    if (arbor_tcp_connect("127.0.0.1", a.port, 10000, &c) != 0)
        abort();
    arbor_socket_setopt(c, ARBOR_SO_NODELAY, 1);
    arbor_send(a.parent, TAG_READY, NULL, 0);
    arbor_msg_free(bench_recv_tag(TAG_SOCKET)); /* go */
    char out[MSG_BYTES] = "ping", in[MSG_BYTES];
    for (uint64_t i = 0; i < a.trips; i++) {
        if (arbor_socket_send(c, out, sizeof out, ARBOR_INFINITY, NULL) != 0)
            abort();
        recv_exactly(c, in, sizeof in);
    }
    arbor_socket_close(c);
    arbor_send(a.parent, TAG_DONE, NULL, 0);
}

static void tcp_echo_conns(void)
{
    uint64_t conns = bench_size("BENCH_C", 100), trips = bench_size("BENCH_R", 2000);
    arbor_socket_t l;
    uint16_t port = start_server(echo_connection, &l);
    client_args_t a = {port, trips, arbor_self()};
    arbor_spawn_opts_t o = {.arg_size = sizeof a};
    arbor_pid_t *pids = malloc(conns * sizeof *pids);
    for (uint64_t i = 0; i < conns; i++)
        if (arbor_spawn_opt(echo_client, &a, &o, &pids[i], NULL) != 0)
            abort();
    /* Every connection open first: the figure is round trips, not set-up. */
    for (uint64_t i = 0; i < conns; i++)
        arbor_msg_free(bench_recv_tag(TAG_READY));
    uint64_t t = bench_go_and_wait(pids, conns, TAG_SOCKET, TAG_DONE); /* TAG_SOCKET: go */
    arbor_socket_close(l); /* the acceptor ends with its listener */
    arbor_msg_free(bench_recv_tag(ARBOR_TAG_DOWN));
    free(pids);
    bench_figure("tcp_echo_conns", (double)(conns * trips) / ((double)t / 1e9), "trips/s");
}

/* ---- tcp_accept_rate ----------------------------------------------------------------- */

/* A connection that reads one byte, answers one byte, and ends. One whose
 * client closed first is let go. */
static void one_byte_connection(void *arg)
{
    (void)arg;
    arbor_socket_t s = wait_for_socket();
    char b;
    size_t got;
    if (arbor_socket_recv(s, &b, 1, ARBOR_INFINITY, &got) == 0 && got == 1)
        arbor_socket_send(s, &b, 1, ARBOR_INFINITY, NULL);
    arbor_socket_close(s);
}

static void connecting_client(void *arg)
{
    client_args_t a = *(client_args_t *)arg;
    for (uint64_t i = 0; i < a.trips; i++) {
        arbor_socket_t c;
        check(arbor_tcp_connect("127.0.0.1", a.port, 10000, &c), "connect");
        char b = 'x';
        check(arbor_socket_send(c, &b, 1, ARBOR_INFINITY, NULL), "send");
        recv_exactly(c, &b, 1);
        /* Closed with a reset, as load generators do, so that no TIME_WAIT
         * is left: 120,000 connections in a few seconds otherwise run the
         * loopback out of ephemeral ports (connect: EAGAIN). */
        check(arbor_socket_setopt(c, ARBOR_SO_LINGER, 0), "linger");
        arbor_socket_close(c);
    }
    arbor_send(a.parent, TAG_DONE, NULL, 0);
}

static void tcp_accept_rate(void)
{
    uint64_t n = bench_size("BENCH_N", 20000), clients = bench_size("BENCH_C", 8);
    n -= n % clients;
    uint64_t t0 = bench_now_ns();
    arbor_socket_t l;
    uint16_t port = start_server(one_byte_connection, &l);
    client_args_t a = {port, n / clients, arbor_self()};
    arbor_spawn_opts_t o = {.arg_size = sizeof a};
    for (uint64_t i = 0; i < clients; i++)
        if (arbor_spawn_opt(connecting_client, &a, &o, NULL, NULL) != 0)
            abort();
    for (uint64_t i = 0; i < clients; i++)
        arbor_msg_free(bench_recv_tag(TAG_DONE));
    uint64_t t = bench_now_ns() - t0;
    arbor_socket_close(l); /* any process may: the acceptor's accept ends */
    arbor_msg_free(bench_recv_tag(ARBOR_TAG_DOWN));
    bench_figure("tcp_accept_rate", (double)n / ((double)t / 1e9), "conns/s");
}

/* ---- tcp_idle_conn_bytes ------------------------------------------------------------------ */

/* An idle connection: a reactive process (no stack between messages)
 * armed for a readiness message. Its state is the socket. */
typedef struct {
    arbor_socket_t s;
    arbor_pid_t parent;
} idle_state_t;

static void idle_handle(void *state, arbor_msg_t *msg)
{
    idle_state_t *st = state;
    if (msg->tag == TAG_SOCKET) {
        st->s = *(arbor_socket_t *)msg->data;
        arbor_socket_notify(st->s, ARBOR_READABLE);
        arbor_send(st->parent, TAG_READY, NULL, 0);
    } else if (msg->tag == ARBOR_TAG_SOCKET || msg->tag == TAG_STOP) {
        /* The peer closed, or the benchmark ends: a reset leaves no
         * TIME_WAIT to hold ports for the benchmarks after this one. */
        arbor_socket_setopt(st->s, ARBOR_SO_LINGER, 0);
        arbor_exit(ARBOR_NORMAL);
    }
}

static const arbor_reactor_t idle_ops = {.handle = idle_handle};

/* The clients: a child process that opens n connections (plain blocking
 * sockets), says so on ready_fd, and holds them until stop_fd closes. Only
 * system calls between fork and _exit. */
static void hold_connections(uint16_t port, uint64_t n, int ready_fd, int stop_fd)
{
    struct sockaddr_in sa = {
        .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    for (uint64_t i = 0; i < n; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0)
            _exit(1);
    }
    char b = 1;
    if (write(ready_fd, &b, 1) != 1)
        _exit(1);
    while (read(stop_fd, &b, 1) > 0) {
    }
    _exit(0);
}

static void tcp_idle_conn_bytes(void)
{
    uint64_t p = bench_size("BENCH_P", 10000);
    uint16_t port;
    arbor_socket_t l = listen_any(&port);
    idle_state_t *states = NULL;
    arbor_pid_t *pids = malloc(p * sizeof *pids);
    int ready[2], stop[2];
    if (pipe(ready) != 0 || pipe(stop) != 0)
        abort();
    uint64_t before = bench_memory_in_use();
    states = calloc(p, sizeof *states);
    pid_t child = fork();
    if (child == 0) {
        close(ready[0]);
        close(stop[1]);
        hold_connections(port, p, ready[1], stop[0]);
    }
    close(ready[1]);
    close(stop[0]);
    for (uint64_t i = 0; i < p; i++) {
        arbor_socket_t c;
        if (arbor_tcp_accept(l, 30000, &c) != 0)
            abort();
        states[i].parent = arbor_self();
        if (arbor_spawn_reactor(&idle_ops, &states[i], NULL, &pids[i], NULL) != 0 ||
            arbor_socket_give(c, pids[i]) != 0)
            abort();
        arbor_send(pids[i], TAG_SOCKET, &c, sizeof c);
    }
    for (uint64_t i = 0; i < p; i++)
        arbor_msg_free(bench_recv_tag(TAG_READY));
    unsigned r;
    if (arbor_fd_wait(ready[0], ARBOR_READABLE, 30000, &r) != 0)
        abort();
    uint64_t after = bench_memory_in_use();
    for (uint64_t i = 0; i < p; i++) {
        arbor_ref_t ref;
        arbor_monitor(pids[i], &ref);
        arbor_send(pids[i], TAG_STOP, NULL, 0);
    }
    for (uint64_t i = 0; i < p; i++)
        arbor_msg_free(bench_recv_tag(ARBOR_TAG_DOWN));
    close(stop[1]);
    close(ready[0]);
    waitpid(child, NULL, 0);
    arbor_socket_close(l);
    free(states);
    free(pids);
    bench_figure("tcp_idle_conn_bytes", (double)(after - before) / (double)p, "bytes");
}

const bench_t bench_net[] = {
    {"tcp_echo_rtt", tcp_echo_rtt, false},
    {"tcp_echo_conns", tcp_echo_conns, false},
    {"tcp_accept_rate", tcp_accept_rate, false},
    {"tcp_idle_conn_bytes", tcp_idle_conn_bytes, true},
    {NULL, NULL, false},
};

/*
 * The HTTP server's memory benchmark (docs/performance.md, "HTTP"):
 * http_idle_conn_bytes. P kept-alive connections to an HTTP server (the
 * library's, src/http/), each of which made one request and now waits for
 * the next; memory after minus before, over P. The clients live in a
 * forked child, as tcp_idle_conn_bytes's do, so that both ends'
 * descriptors fit under the open-file limit.
 *
 * http_busy_conn_bytes: the same, but each client then sends the start
 * of its next request (the request line and a header, not the empty line
 * that ends the head), so that every connection is in the middle of a
 * request (reading its head, as a slow client keeps it), with its stack
 * and buffers; BENCH_P_BUSY of them (1,000 unless set).
 *
 * http_sse_conn_bytes: the same, but each client subscribes to an event
 * stream (arbor_http_sse, which sends its head and then waits for
 * messages to turn into events) and reads the stream's head, so that every
 * connection is a stream between events; BENCH_P_SSE of them (1,000).
 *
 * Two figures each: http_idle_conn_bytes, the runtime's own accounting (heap
 * blocks in use and resident stack pages, bench_memory_in_use(), which
 * earlier repetitions cannot blur), and http_idle_conn_rss_bytes, the
 * process's resident set (what the kernel charges: pages touched, where
 * the accounting counts bytes allocated; it also counts heap pages freed
 * but not given back).
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <unistd.h>

#include "bench.h"

static const char request[] = "GET /plaintext HTTP/1.1\r\nHost: bench\r\n\r\n";
static const char unfinished[] = "GET /plaintext HTTP/1.1\r\nHost: bench\r\n";

static const char subscribe[] = "GET /events HTTP/1.1\r\nHost: bench\r\n\r\n";

static int no_event(arbor_msg_t *m, arbor_http_sse_event_t *ev, void *arg)
{
    (void)m;
    (void)ev;
    (void)arg;
    return 0;
}

static void hello(arbor_http_request_t *req, arbor_http_response_t *res, void *arg)
{
    (void)arg;
    if (!strcmp(req->path, "/events")) { /* an event stream that waits for messages */
        arbor_http_sse_opts_t o = {.on_message = no_event};
        arbor_http_sse(req, res, &o);
        return;
    }
    static const char body[] = "Hello, World!";
    res->content_type = "text/plain";
    res->body = body;
    res->body_len = sizeof body - 1;
}

/* Resident set of this process, bytes. */
static uint64_t rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long size = 0, resident = 0;
    if (f) {
        if (fscanf(f, "%lu %lu", &size, &resident) != 2)
            resident = 0;
        fclose(f);
    }
    return (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

/* Reads from fd into buf (size bytes, NUL-terminated) until what it
 * read holds end; false if the peer closed or buf filled first. */
static bool read_until(int fd, const char *end, char *buf, size_t size)
{
    size_t have = 0;
    while (have < size - 1) {
        ssize_t n = read(fd, buf + have, size - 1 - have);
        if (n <= 0)
            return false;
        have += (size_t)n;
        buf[have] = '\0';
        if (strstr(buf, end))
            return true;
    }
    return false;
}

/* Reads one response whose end is the body "Hello, World!". */
static bool read_hello(int fd)
{
    char buf[512];
    return read_until(fd, "\r\n\r\nHello, World!", buf, sizeof buf);
}

/* Reads an event stream's head (its first bytes, before any event). */
static bool read_stream_head(int fd)
{
    char buf[512];
    return read_until(fd, "\r\n\r\n", buf, sizeof buf) && strstr(buf, "text/event-stream") != NULL;
}

/* What each client leaves its connection doing. */
typedef enum { HELD_IDLE, HELD_BUSY, HELD_SSE } held_t;

/* The clients: a child process that opens n connections, makes one
 * request on each and reads its answer (busy: then sends the start of
 * another; sse: subscribes to an event stream and reads its head), says so
 * on ready_fd, and holds them open until stop_fd closes. Only system
 * calls between fork and _exit. */
static void hold_clients(uint16_t port, uint64_t n, held_t held, int ready_fd, int stop_fd)
{
    struct sockaddr_in sa = {
        .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bool busy = held == HELD_BUSY;
    for (uint64_t i = 0; i < n; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0)
            _exit(1);
        if (held == HELD_SSE) {
            if (write(fd, subscribe, sizeof subscribe - 1) != (ssize_t)(sizeof subscribe - 1) ||
                !read_stream_head(fd))
                _exit(1);
            continue;
        }
        if (write(fd, request, sizeof request - 1) != (ssize_t)(sizeof request - 1) ||
            !read_hello(fd))
            _exit(1);
        if (busy &&
            write(fd, unfinished, sizeof unfinished - 1) != (ssize_t)(sizeof unfinished - 1))
            _exit(1);
    }
    char b = 1;
    if (write(ready_fd, &b, 1) != 1)
        _exit(1);
    while (read(stop_fd, &b, 1) > 0) {
    }
    _exit(0);
}

/* P connections held by clients (busy: each in the middle of a request;
 * sse: each an event stream waiting for an event); their memory per
 * connection, in the figures named name and name_rss. */
static void held_conn_bytes(const char *name, const char *rss_name, uint64_t p, held_t held)
{
    arbor_http_opts_t o = {.handler = hello, .max_connections = (unsigned)p + 16};
    arbor_http_server_t *srv;
    arbor_pid_t sup;
    arbor_reason_t why;
    if (arbor_http_server_new(&o, &srv) != 0 || arbor_http_server_start(srv, &sup, &why) != 0)
        abort();
    uint16_t port = arbor_http_server_port(srv);
    int ready[2], stop[2];
    if (pipe(ready) != 0 || pipe(stop) != 0)
        abort();
    /* Heap pages that earlier repetitions freed go back to the kernel
     * first, or the connections would reuse them unseen by the RSS. */
    malloc_trim(0);
    uint64_t before = bench_memory_in_use(), rss_before = rss_bytes();
    pid_t child = fork();
    if (child == 0) {
        close(ready[0]);
        close(stop[1]);
        hold_clients(port, p, held, ready[1], stop[0]);
    }
    close(ready[1]);
    close(stop[0]);
    unsigned r;
    if (arbor_fd_wait(ready[0], ARBOR_READABLE, 120000, &r) != 0)
        abort();
    char b;
    if (read(ready[0], &b, 1) != 1) {
        fprintf(stderr, "%s: a client failed\n", name);
        abort();
    }
    /* Every answer was read (and each unfinished request sent); the last
     * connections are on their way to their wait: let them get there. */
    arbor_sleep(200);
    if (arbor_http_server_connections(srv) != p)
        abort();
    uint64_t after = bench_memory_in_use(), rss_after = rss_bytes();
    close(stop[1]); /* the clients go: each connection ends on its own */
    close(ready[0]);
    waitpid(child, NULL, 0);
    while (arbor_http_server_connections(srv) != 0)
        arbor_sleep(10);
    arbor_unlink(sup);
    if (arbor_sup_stop(sup, ARBOR_SHUTDOWN) != 0)
        abort();
    arbor_http_server_free(srv);
    bench_figure(name, (double)(after - before) / (double)p, "bytes");
    /* Signed: the kernel may take back more than the connections add. */
    bench_figure(rss_name, ((double)rss_after - (double)rss_before) / (double)p, "bytes");
}

static void http_idle_conn_bytes(void)
{
    held_conn_bytes("http_idle_conn_bytes", "http_idle_conn_rss_bytes",
                    bench_size("BENCH_P", 10000), HELD_IDLE);
}

static void http_busy_conn_bytes(void)
{
    held_conn_bytes("http_busy_conn_bytes", "http_busy_conn_rss_bytes",
                    bench_size("BENCH_P_BUSY", 1000), HELD_BUSY);
}

static void http_sse_conn_bytes(void)
{
    held_conn_bytes("http_sse_conn_bytes", "http_sse_conn_rss_bytes",
                    bench_size("BENCH_P_SSE", 1000), HELD_SSE);
}

const bench_t bench_http[] = {
    {"http_idle_conn_bytes", http_idle_conn_bytes, true},
    {"http_busy_conn_bytes", http_busy_conn_bytes, true},
    {"http_sse_conn_bytes", http_sse_conn_bytes, true},
    {NULL, NULL, false},
};

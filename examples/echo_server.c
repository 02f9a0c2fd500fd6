/*
 * echo_server: a supervised TCP echo server on Arbor.
 *
 *   echo_server (rest_for_one: a child depends on those before it)
 *   ├── connections   DynamicSupervisor, one temporary process per connection
 *   └── acceptor      owns the listening socket; accepts, starts a
 *                     connection process, hands it the socket
 *
 * Each connection echoes what it reads. The line "crash acceptor" kills the
 * acceptor: its supervisor starts a new one on the same port, and the open
 * connections, which belong to `connections` (started before it), keep
 * working. Try it:
 *
 *   build/release/bin/echo_server --port 7000 &
 *   nc 127.0.0.1 7000
 *
 * Usage: echo_server [--host ADDR] [--port N] [--schedulers N]
 * (127.0.0.1 and port 7000 by default; port 0 picks a free one). It
 * prints "listening on ADDR:PORT" each time an acceptor starts.
 */
#include <arbor.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TAG_SOCKET 1

static const char *host = "127.0.0.1";
static uint16_t port = 7000;
static arbor_pid_t connections; /* the DynamicSupervisor, set once started */

/* ---- a connection ---------------------------------------------------------- */

static void connection(void *arg)
{
    (void)arg;
    arbor_msg_t *m;
    /* The acceptor gives us the socket, then tells us which it is. */
    if (arbor_receive(5000, &m) != 0)
        arbor_exit(arbor_error("no socket"));
    arbor_socket_t s = *(arbor_socket_t *)m->data;
    arbor_msg_free(m);
    arbor_socket_setopt(s, ARBOR_SO_NODELAY, 1);
    char buf[4096];
    size_t got;
    while (arbor_socket_recv(s, buf, sizeof buf, ARBOR_INFINITY, &got) == 0 && got > 0) {
        if (got >= 14 && memcmp(buf, "crash acceptor", 14) == 0) {
            arbor_exit_pid(arbor_whereis("acceptor"), ARBOR_KILL);
            static const char said[] = "acceptor killed\n";
            arbor_socket_send(s, said, sizeof said - 1, 5000, NULL);
            continue;
        }
        if (arbor_socket_send(s, buf, got, 30000, NULL) != 0)
            break;
    }
    /* The socket closes with this process. */
}

static int start_connection(void *arg, arbor_pid_t *pid, arbor_reason_t *error)
{
    (void)arg;
    (void)error;
    return arbor_spawn_link(connection, NULL, pid);
}

/* ---- the acceptor ------------------------------------------------------------ */

static void acceptor(void *arg)
{
    (void)arg;
    arbor_register("acceptor", arbor_self(), NULL);
    arbor_socket_t l;
    int rc = arbor_tcp_listen(host, port, NULL, &l);
    if (rc != 0) {
        fprintf(stderr, "echo_server: cannot listen on %s:%u: %s\n", host, port,
                arbor_strerror(rc));
        arbor_exit(arbor_error("listen failed"));
    }
    arbor_sockaddr_t a;
    char where[64];
    arbor_socket_local(l, &a);
    arbor_sockaddr_format(&a, where, sizeof where);
    port = arbor_sockaddr_port(&a); /* a restarted acceptor takes the same port */
    printf("listening on %s\n", where);
    fflush(stdout);
    arbor_child_spec_t spec = {
        .id = "connection", .start = start_connection, .restart = ARBOR_TEMPORARY};
    for (;;) {
        arbor_socket_t c;
        if (arbor_tcp_accept(l, ARBOR_INFINITY, &c) != 0)
            continue; /* out of descriptors: accept backs off and reports */
        arbor_pid_t pid;
        arbor_reason_t why;
        if (arbor_dynsup_start_child(connections, &spec, &pid, &why) != 0 ||
            arbor_socket_give(c, pid) != 0) {
            arbor_socket_close(c);
            continue;
        }
        arbor_send(pid, TAG_SOCKET, &c, sizeof c);
    }
}

static int start_acceptor(void *arg, arbor_pid_t *pid, arbor_reason_t *error)
{
    (void)arg;
    (void)error;
    return arbor_spawn_link(acceptor, NULL, pid);
}

static int start_connections(void *arg, arbor_pid_t *pid, arbor_reason_t *error)
{
    (void)arg;
    arbor_dynsup_opts_t o = ARBOR_DYNSUP_OPTS_DEFAULT;
    o.link = true;
    int rc = arbor_dynsup_start(&o, pid, error);
    if (rc == 0)
        connections = *pid;
    return rc;
}

/* ---- the tree ------------------------------------------------------------------ */

static void root(void *arg)
{
    (void)arg;
    arbor_child_spec_t children[] = {
        {.id = "connections", .start = start_connections, .type = ARBOR_SUPERVISOR_CHILD},
        {.id = "acceptor", .start = start_acceptor},
    };
    arbor_sup_flags_t flags = {.strategy = ARBOR_REST_FOR_ONE, .max_restarts = 3, .max_seconds = 5};
    arbor_sup_opts_t opts = {.name = "echo_server", .link = true};
    arbor_pid_t sup;
    arbor_reason_t why;
    arbor_trap_exit(true);
    if (arbor_sup_start(&flags, children, 2, &opts, &sup, &why) != 0) {
        char text[256];
        arbor_reason_format(&why, text, sizeof text);
        fprintf(stderr, "echo_server: could not start: %s\n", text);
        arbor_exit(why);
    }
    /* Runs until the supervisor gives up (its exit reaches us). */
    arbor_msg_t *m;
    while (arbor_receive(ARBOR_INFINITY, &m) == 0) {
        if (m->tag == ARBOR_TAG_EXIT) {
            fprintf(stderr, "echo_server: the supervisor gave up; exiting\n");
            arbor_msg_free(m);
            arbor_exit(arbor_error("supervisor gave up"));
        }
        arbor_msg_free(m);
    }
}

static void usage(FILE *to)
{
    fprintf(to, "usage: echo_server [--host ADDR] [--port N] [--schedulers N]\n"
                "  --host ADDR      address to listen on (default 127.0.0.1)\n"
                "  --port N         port (default 7000; 0 picks a free one)\n"
                "  --schedulers N   scheduler threads (default: one per core)\n");
}

static long number(const char *opt, const char *s, long max)
{
    char *end;
    long v = s ? strtol(s, &end, 10) : -1;
    if (!s || *end || v < 0 || v > max) {
        fprintf(stderr, "echo_server: %s %s: expected a number from 0 to %ld\n", opt,
                s ? s : "(missing)", max);
        exit(2);
    }
    return v;
}

int main(int argc, char **argv)
{
    arbor_config_t cfg = {0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--host") && v) {
            host = v, i++;
        } else if (!strcmp(a, "--port")) {
            port = (uint16_t)number(a, v, 65535), i++;
        } else if (!strcmp(a, "--schedulers")) {
            cfg.schedulers = (unsigned)number(a, v, 1024), i++;
        } else {
            fprintf(stderr, "echo_server: unknown argument %s\n", a);
            usage(stderr);
            return 2;
        }
    }
    arbor_reason_t why;
    int rc = arbor_run(&cfg, root, NULL, &why);
    if (rc != 0) {
        fprintf(stderr, "echo_server: %s\n", arbor_strerror(rc));
        return 1;
    }
    return why.kind == ARBOR_EXIT_NORMAL ? 0 : 1;
}

/*
 * The server's subtree: a one_for_all supervisor of the connections'
 * DynamicSupervisor and the acceptors.
 *
 * Each acceptor's listener is opened by its start function, in the
 * supervisor's process, and given to the acceptor: so the port is known
 * (and a taken port fails the start, cleanly) before the next child
 * starts, and a port picked by the kernel for acceptor 0 is the one the
 * others, and every restart, listen on. With several acceptors each has
 * its own listener on the port (SO_REUSEPORT), because only a socket's
 * owner may accept on it.
 *
 * The connection limit is counted here, not by the DynamicSupervisor's
 * max_children: a connection beyond it still gets a process, which
 * answers 503 and closes, so the client hears why (the process lives a
 * second at most, reading what the client still sends so that the answer
 * is not lost to a reset).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_internal.h"

#define DEFAULT_MAX_CONNECTIONS 10000
#define DEFAULT_SHUTDOWN_MS     5000

int arbor_http_server_new(const arbor_http_opts_t *opts, arbor_http_server_t **out)
{
    if (!opts || !opts->handler || !out)
        return ARBOR_EINVAL;
    arbor_http_limits_t l = opts->limits;
    if (l.head_timeout_ms < 0 || l.body_timeout_ms < 0 || l.idle_timeout_ms < 0 ||
        l.send_timeout_ms < 0 || opts->shutdown_ms < 0)
        return ARBOR_EINVAL;
    arbor_http_server_t *s = calloc(1, sizeof *s);
    if (!s)
        return ARBOR_ENOMEM;
    s->host_copy = strdup(opts->host ? opts->host : "127.0.0.1");
    if (!s->host_copy) {
        free(s);
        return ARBOR_ENOMEM;
    }
    if (pthread_mutex_init(&s->lock, NULL) != 0) {
        free(s->host_copy);
        free(s);
        return ARBOR_ENOMEM;
    }
    if (arbor__http_cache_init(&s->cache) != 0) {
        pthread_mutex_destroy(&s->lock);
        free(s->host_copy);
        free(s);
        return ARBOR_ENOMEM;
    }
    s->opts = *opts;
    s->opts.host = s->host_copy;
    if (!s->opts.shutdown_ms)
        s->opts.shutdown_ms = DEFAULT_SHUTDOWN_MS;
    if (!s->opts.acceptors)
        s->opts.acceptors = 1;
    if (!s->opts.max_connections)
        s->opts.max_connections = DEFAULT_MAX_CONNECTIONS;
    arbor_http_limits_t *d = &s->opts.limits;
    d->max_head = d->max_head ? d->max_head : 8192;
    d->max_fields = d->max_fields ? d->max_fields : 100;
    d->max_body = d->max_body ? d->max_body : (size_t)1 << 20;
    d->head_timeout_ms = d->head_timeout_ms ? d->head_timeout_ms : 10000;
    d->body_timeout_ms = d->body_timeout_ms ? d->body_timeout_ms : 30000;
    d->idle_timeout_ms = d->idle_timeout_ms ? d->idle_timeout_ms : 60000;
    d->send_timeout_ms = d->send_timeout_ms ? d->send_timeout_ms : 30000;
    atomic_init(&s->port, opts->port);
    atomic_init(&s->connections, ARBOR_NOPID);
    atomic_init(&s->drainer, ARBOR_NOPID);
    atomic_init(&s->live, 0);
    for (unsigned i = 0; i < HTTP_MAX_ACCEPTORS; i++) {
        atomic_init(&s->listeners[i], 0);
        atomic_init(&s->acceptors[i], ARBOR_NOPID);
    }
    atomic_init(&s->draining, false);
    s->conns = NULL;
    s->n_conns = s->n_closed = 0;
    s->drain_waiter = ARBOR_NOPID;
    *out = s;
    return 0;
}

void arbor_http_server_free(arbor_http_server_t *srv)
{
    if (!srv)
        return;
    pthread_mutex_destroy(&srv->lock);
    arbor__http_cache_destroy(&srv->cache);
    free(srv->host_copy);
    free(srv);
}

uint16_t arbor_http_server_port(const arbor_http_server_t *srv)
{
    return atomic_load_explicit(&srv->port, memory_order_relaxed);
}

size_t arbor_http_server_connections(const arbor_http_server_t *srv)
{
    return atomic_load_explicit(&srv->live, memory_order_relaxed);
}

/* ---- connections ------------------------------------------------------------------ */

static int start_connection(void *arg, arbor_pid_t *pid, arbor_reason_t *error)
{
    (void)error;
    arbor_spawn_opts_t o = {.link = true, .label = "http_connection"};
    return arbor_spawn_reactor(&arbor__http_conn_ops, arg, &o, pid, NULL);
}

static int start_connections(void *arg, arbor_pid_t *pid, arbor_reason_t *error)
{
    arbor_http_server_t *srv = arg;
    /* The first child: a subtree that starts (again) is not draining. */
    atomic_store(&srv->draining, false);
    arbor_dynsup_opts_t o = ARBOR_DYNSUP_OPTS_DEFAULT;
    o.link = true;
    int rc = arbor_dynsup_start(&o, pid, error);
    if (rc == 0)
        atomic_store_explicit(&srv->connections, *pid, memory_order_relaxed);
    return rc;
}

/* ---- acceptors ---------------------------------------------------------------------- */

typedef struct acceptor_arg {
    arbor_http_server_t *srv;
    unsigned index;
} acceptor_arg_t;

/* Starts a connection process for c and hands c to it; closes c if that
 * fails. */
static void hand_over(arbor_http_server_t *srv, arbor_socket_t c)
{
    size_t live = atomic_fetch_add_explicit(&srv->live, 1, memory_order_relaxed);
    uint64_t tag =
        live >= srv->opts.max_connections ? ARBOR__HTTP_TAG_REJECT : ARBOR__HTTP_TAG_SOCKET;
    arbor_child_spec_t spec = {.id = "http_connection",
                               .start = start_connection,
                               .arg = srv,
                               .restart = ARBOR_TEMPORARY,
                               .shutdown = ARBOR_BRUTAL_KILL};
    arbor_pid_t pid;
    arbor_reason_t why;
    arbor_pid_t sup = atomic_load_explicit(&srv->connections, memory_order_relaxed);
    if (arbor_dynsup_start_child(sup, &spec, &pid, &why) != 0) {
        atomic_fetch_sub_explicit(&srv->live, 1, memory_order_relaxed);
        arbor_socket_close(c);
        return;
    }
    /* From here the connection's exit hook counts it out. */
    if (arbor_socket_give(c, pid) != 0 || arbor_send(pid, tag, &c, sizeof c) != 0)
        arbor_socket_close(c);
}

/* A drain closed the listener: the acceptor has nothing left to do but
 * must not exit (its supervisor would restart it), so it waits until its
 * supervisor stops it. */
static _Noreturn void wait_to_be_stopped(void)
{
    for (;;) {
        arbor_msg_t *m;
        if (arbor_receive(ARBOR_INFINITY, &m) == 0)
            arbor_msg_free(m);
    }
}

static void acceptor(void *arg)
{
    acceptor_arg_t a = *(acceptor_arg_t *)arg;
    arbor_set_label("http_acceptor");
    arbor_msg_t *m;
    if (arbor_receive(5000, &m) != 0)
        arbor_exit(arbor_error("no listener"));
    arbor_socket_t l = *(arbor_socket_t *)m->data;
    arbor_msg_free(m);
    for (;;) {
        arbor_socket_t c;
        int rc = arbor_tcp_accept(l, ARBOR_INFINITY, &c);
        if (rc == ARBOR_ECLOSED && arbor__http_draining(a.srv))
            wait_to_be_stopped();
        if (rc == ARBOR_ECLOSED)
            arbor_exit(arbor_error("listener closed"));
        if (rc != 0)
            continue; /* out of descriptors: accept backs off and reports */
        hand_over(a.srv, c);
    }
}

static bool down_of(const arbor_msg_t *m, void *ref)
{
    return m->tag == ARBOR_TAG_DOWN &&
           ((const arbor_down_msg_t *)m->data)->ref == *(arbor_ref_t *)ref;
}

static int start_acceptor(void *arg, arbor_pid_t *pid, arbor_reason_t *error)
{
    acceptor_arg_t *a = arg;
    arbor_http_server_t *srv = a->srv;
    arbor_listen_opts_t lo = {.reuseport = srv->opts.acceptors > 1};
    uint16_t port = atomic_load_explicit(&srv->port, memory_order_relaxed);
    arbor_socket_t l;
    int rc = arbor_tcp_listen(srv->opts.host, port, &lo, &l);
    if (rc != 0) {
        *error = arbor_error("listen on %s:%u: %s", srv->opts.host, port, arbor_err_name(rc));
        return ARBOR_EEXIT;
    }
    /* Answers go out at once (no Nagle delay behind a client's delayed
     * ACK); on Linux each accepted socket inherits the option, which
     * saves a system call per connection. */
    arbor_socket_setopt(l, ARBOR_SO_NODELAY, 1);
    if (port == 0) {
        arbor_sockaddr_t addr;
        arbor_socket_local(l, &addr);
        atomic_store_explicit(&srv->port, arbor_sockaddr_port(&addr), memory_order_relaxed);
    }
    arbor_spawn_opts_t so = {.link = true, .arg_size = sizeof *a};
    *pid = ARBOR_NOPID;
    rc = arbor_spawn_opt(acceptor, a, &so, pid, NULL);
    if (rc == 0)
        rc = arbor_socket_give(l, *pid);
    if (rc == 0)
        rc = arbor_send(*pid, ARBOR__HTTP_TAG_SOCKET, &l, sizeof l);
    if (rc == 0) {
        atomic_store(&srv->listeners[a->index], l);
        atomic_store(&srv->acceptors[a->index], *pid);
    }
    if (rc != 0) {
        arbor_socket_close(l);
        if (*pid != ARBOR_NOPID)
            arbor_exit_pid(*pid, ARBOR_KILL);
        *error = arbor_error("acceptor: %s", arbor_err_name(rc));
        return ARBOR_EEXIT;
    }
    return 0;
}

/* ---- the subtree ----------------------------------------------------------------------- */

/* Waits until deadline (arbor_now_ms()) for pid, if it is alive, to end. */
static void await_end(arbor_pid_t pid, uint64_t deadline)
{
    arbor_ref_t ref;
    arbor_msg_t *m;
    if (!pid || arbor_monitor(pid, &ref) != 0)
        return;
    uint64_t now = arbor_now_ms();
    int64_t ms = deadline > now ? (int64_t)(deadline - now) : 0;
    if (arbor_receive_match(down_of, &ref, ms, &m) == 0)
        arbor_msg_free(m);
    else
        arbor_demonitor(ref, ARBOR_DEMONITOR_FLUSH);
}

/* The subtree's previous run, when its supervisor (or one above it) was
 * killed, is still ending on its own when the application's supervisor
 * starts the subtree again: its drainer would wait for the requests in
 * flight, its acceptors hold the port (the new listen would fail, and
 * every retry spend the restart intensity until the tree gave up), and
 * its drain would close the new run's listeners. So the new run ends the
 * old one at once, as Ranch's listener does when its supervisor goes:
 * listeners and connections closed (a request in flight loses its
 * connection), acceptors killed, and waits for its processes to be gone.
 * Nothing to do after a clean stop, when they have all ended. */
static void end_previous_run(arbor_http_server_t *srv)
{
    arbor_pid_t drainer = atomic_load_explicit(&srv->drainer, memory_order_relaxed);
    arbor_pid_t connections = atomic_load_explicit(&srv->connections, memory_order_relaxed);
    arbor_pid_t acceptors[HTTP_MAX_ACCEPTORS];
    bool alive = drainer && arbor_alive(drainer);
    alive = alive || (connections && arbor_alive(connections));
    for (unsigned i = 0; i < HTTP_MAX_ACCEPTORS; i++) {
        acceptors[i] = atomic_load(&srv->acceptors[i]);
        alive = alive || (acceptors[i] && arbor_alive(acceptors[i]));
    }
    if (!alive)
        return;
    arbor__http_cut(srv);
    for (unsigned i = 0; i < HTTP_MAX_ACCEPTORS; i++)
        if (acceptors[i])
            arbor_exit_pid(acceptors[i], ARBOR_KILL);
    /* Each is told to go: a bound only against a handler that ignores
     * its closed connection while its supervisor waits for it. */
    uint64_t deadline = arbor_now_ms() + (uint64_t)arbor__http_drainer_shutdown_ms(srv);
    for (unsigned i = 0; i < HTTP_MAX_ACCEPTORS; i++)
        await_end(acceptors[i], deadline);
    await_end(drainer, deadline);
    await_end(connections, deadline);
}

int arbor_http_server_start(void *arg, arbor_pid_t *pid_out, arbor_reason_t *error_out)
{
    arbor_http_server_t *srv = arg;
    unsigned n = srv->opts.acceptors;
    if (n > HTTP_MAX_ACCEPTORS) {
        *error_out = arbor_error("too many acceptors: %u", n);
        return ARBOR_EEXIT;
    }
    end_previous_run(srv);
    char ids[HTTP_MAX_ACCEPTORS][16]; /* the supervisor copies ids */
    acceptor_arg_t args[HTTP_MAX_ACCEPTORS];
    arbor_child_spec_t children[HTTP_MAX_ACCEPTORS + 2];
    children[0] = (arbor_child_spec_t){.id = "connections",
                                       .start = start_connections,
                                       .arg = srv,
                                       .type = ARBOR_SUPERVISOR_CHILD};
    for (unsigned i = 0; i < n; i++) {
        snprintf(ids[i], sizeof ids[i], "acceptor %u", i);
        args[i] = (acceptor_arg_t){srv, i};
        children[i + 1] = (arbor_child_spec_t){.id = ids[i],
                                               .start = start_acceptor,
                                               .arg = &args[i],
                                               .arg_size = sizeof args[i],
                                               .shutdown = ARBOR_BRUTAL_KILL};
    }
    /* Last, so stopped first: it drains the server (http_drain.c). */
    children[n + 1] = (arbor_child_spec_t){.id = "drainer",
                                           .start = arbor__http_start_drainer,
                                           .arg = srv,
                                           .shutdown = arbor__http_drainer_shutdown_ms(srv)};
    arbor_sup_flags_t flags = {.strategy = ARBOR_ONE_FOR_ALL, .max_restarts = 3, .max_seconds = 5};
    arbor_sup_opts_t so = {.link = true};
    return arbor_sup_start(&flags, children, n + 2, &so, pid_out, error_out);
}

arbor_child_spec_t arbor_http_server_spec(arbor_http_server_t *srv, const char *id)
{
    return (arbor_child_spec_t){
        .id = id, .start = arbor_http_server_start, .arg = srv, .type = ARBOR_SUPERVISOR_CHILD};
}

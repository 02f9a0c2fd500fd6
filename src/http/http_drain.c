/*
 * Graceful shutdown (arbor_http_server_drain() and the drainer child) and
 * the idle timeout, which work on the same list of connections.
 *
 * The server keeps a list of its connections (those that have their
 * socket), each with a state. A drain sets srv->draining, closes the
 * listeners (new connections are refused), then, under the list's lock,
 * closes the socket of every connection that is idle or streaming; any
 * process may close a socket, and the owner's wait ends with ARBOR_ECLOSED
 * (a stream's notification with ARBOR_CLOSED). A busy connection finishes
 * its request: the server writes "Connection: close" on every answer once
 * draining, so it closes after it. The drain waits for a message from the
 * exit hook of the last busy connection to go, or for its deadline, when
 * it closes every socket left. A connection it closed counts as done
 * (whatever its process still does, it no longer talks to a client), so a
 * second drain, the subtree's stop after an explicit drain, does not wait
 * for a handler that outlived the first.
 *
 * The race between a connection going idle and the drain is settled as
 * Dekker's: the connection swaps BUSY for IDLE then reads draining; the drain
 * stores draining then reads the states (both sequentially consistent),
 * so at least one of them sees the other. A connection that had bytes
 * arrive swaps IDLE for BUSY; if the drain had swapped it for CLOSED
 * first, the connection stops there.
 *
 * The drainer is the subtree's last child, so its supervisor stops it
 * first: it traps exits, and on the exit signal from its supervisor it
 * drains with opts.shutdown_ms and exits with the signal's reason. Its
 * own shutdown timeout is that deadline plus a margin, after which the
 * supervisor kills it as it would any child. The acceptors and the
 * connections are stopped after it, as before: whatever is left of a
 * request that outlived the deadline dies then.
 *
 * The idle timeout: a connection waiting for its next request holds no
 * stack and sets no timer (it waits for a readiness message); it writes
 * its deadline into its IDLE state word instead, and the drainer, until it
 * is told to stop, sweeps the list every arbor__http_idle_tick_ms() and
 * swaps for CLOSED, and closes, the idle ones past their deadline, as a
 * drain does (so the count of closed connections stays right). The swap
 * names the whole word, deadline included: a connection that went busy
 * and idle again meanwhile is left alone.
 */
#include "http_internal.h"

#define DRAINER_MARGIN_MS 2000
#define IDLE_TICK_MIN_MS  10
#define IDLE_TICK_MAX_MS  1000

/* ---- connections ------------------------------------------------------------------ */

bool arbor__http_draining(const arbor_http_server_t *srv)
{
    return atomic_load(&srv->draining);
}

bool arbor__http_conn_enter(http_conn_t *c)
{
    arbor_http_server_t *srv = c->srv;
    atomic_store(&c->state, HTTP_CONN_BUSY);
    pthread_mutex_lock(&srv->lock);
    c->prev = NULL;
    c->next = srv->conns;
    if (srv->conns)
        srv->conns->prev = c;
    srv->conns = c;
    srv->n_conns++;
    c->registered = true;
    pthread_mutex_unlock(&srv->lock);
    return !arbor__http_draining(srv);
}

void arbor__http_conn_leave(http_conn_t *c)
{
    arbor_http_server_t *srv = c->srv;
    if (!c->registered)
        return;
    pthread_mutex_lock(&srv->lock);
    if (c->prev)
        c->prev->next = c->next;
    else
        srv->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->registered = false;
    srv->n_conns--;
    if (HTTP_STATE_OF(atomic_load(&c->state)) == HTTP_CONN_CLOSED)
        srv->n_closed--;
    arbor_pid_t waiter = srv->n_conns == srv->n_closed ? srv->drain_waiter : ARBOR_NOPID;
    pthread_mutex_unlock(&srv->lock);
    if (waiter != ARBOR_NOPID)
        arbor_send(waiter, ARBOR__HTTP_TAG_DRAINED, NULL, 0);
}

bool arbor__http_conn_idle(http_conn_t *c, uint64_t deadline)
{
    /* From busy only: a drain that closed it at its deadline must not see
     * it come back (its count of closed connections would be wrong). */
    uint64_t busy = HTTP_CONN_BUSY;
    if (!atomic_compare_exchange_strong(&c->state, &busy, HTTP_IDLE_STATE(deadline)))
        return false;
    return !arbor__http_draining(c->srv);
}

bool arbor__http_conn_busy(http_conn_t *c)
{
    uint64_t state = atomic_load(&c->state);
    return HTTP_STATE_OF(state) == HTTP_CONN_IDLE &&
           atomic_compare_exchange_strong(&c->state, &state, HTTP_CONN_BUSY);
}

void arbor__http_conn_streaming(http_conn_t *c)
{
    uint64_t busy = HTTP_CONN_BUSY;
    atomic_compare_exchange_strong(&c->state, &busy, HTTP_CONN_STREAMING);
    if (arbor__http_draining(c->srv))
        arbor_socket_close(c->socket); /* the drain may have passed it busy */
}

/* ---- the idle timeout ----------------------------------------------------------------- */

/* The sweep's period: an idle connection closes between its deadline and
 * one period after it. */
int64_t arbor__http_idle_tick_ms(const arbor_http_server_t *srv)
{
    int64_t tick = srv->opts.limits.idle_timeout_ms / 8;
    return tick < IDLE_TICK_MIN_MS   ? IDLE_TICK_MIN_MS
           : tick > IDLE_TICK_MAX_MS ? IDLE_TICK_MAX_MS
                                     : tick;
}

void arbor__http_close_idle_expired(arbor_http_server_t *srv, uint64_t now)
{
    pthread_mutex_lock(&srv->lock);
    for (http_conn_t *c = srv->conns; c; c = c->next) {
        uint64_t word = atomic_load(&c->state);
        if (HTTP_STATE_OF(word) != HTTP_CONN_IDLE || HTTP_IDLE_DEADLINE_OF(word) > now)
            continue;
        /* Only the idleness whose deadline was read: one that went busy
         * and idle again since has a later deadline in its word. */
        if (atomic_compare_exchange_strong(&c->state, &word, HTTP_CONN_CLOSED)) {
            srv->n_closed++;
            arbor_socket_close(c->socket);
        }
    }
    pthread_mutex_unlock(&srv->lock);
}

/* ---- the drain ------------------------------------------------------------------------ */

/* Closes the sockets of the listed connections that are idle or streaming
 * (all: in any state). Returns whether all that are left are closed. Under
 * the lock: a connection leaves the list before its memory goes. */
static bool close_connections(arbor_http_server_t *srv, bool all)
{
    for (http_conn_t *c = srv->conns; c; c = c->next) {
        for (;;) {
            uint64_t word = atomic_load(&c->state);
            int state = HTTP_STATE_OF(word);
            bool quiet = state == HTTP_CONN_IDLE || state == HTTP_CONN_STREAMING;
            if (state == HTTP_CONN_CLOSED || !(quiet || all))
                break;
            if (atomic_compare_exchange_strong(&c->state, &word, HTTP_CONN_CLOSED)) {
                srv->n_closed++;
                arbor_socket_close(c->socket);
                break;
            }
        }
    }
    return srv->n_conns == srv->n_closed;
}

static bool is_drained(const arbor_msg_t *m, void *arg)
{
    (void)arg;
    return m->tag == ARBOR__HTTP_TAG_DRAINED;
}

/* Stops accepting: marks the server draining and closes its listeners. */
static void close_listeners(arbor_http_server_t *srv)
{
    atomic_store(&srv->draining, true);
    for (unsigned i = 0; i < HTTP_MAX_ACCEPTORS; i++) {
        arbor_socket_t l = atomic_exchange(&srv->listeners[i], 0);
        if (l)
            arbor_socket_close(l); /* its acceptor waits to be stopped */
    }
}

void arbor__http_cut(arbor_http_server_t *srv)
{
    close_listeners(srv);
    arbor__http_cache_empty(srv); /* draining: nothing is kept from now on */
    pthread_mutex_lock(&srv->lock);
    close_connections(srv, true);
    arbor_pid_t waiter = srv->n_conns == srv->n_closed ? srv->drain_waiter : ARBOR_NOPID;
    pthread_mutex_unlock(&srv->lock);
    /* A drain under way has nothing left to wait for. */
    if (waiter != ARBOR_NOPID)
        arbor_send(waiter, ARBOR__HTTP_TAG_DRAINED, NULL, 0);
}

int arbor_http_server_drain(arbor_http_server_t *srv, int64_t deadline_ms)
{
    arbor_pid_t self = arbor_self();
    if (self == ARBOR_NOPID)
        return ARBOR_ENOTPROC;
    if (deadline_ms < 0)
        return ARBOR_EINVAL;
    pthread_mutex_lock(&srv->lock);
    bool busy = srv->drain_waiter != ARBOR_NOPID;
    if (!busy)
        srv->drain_waiter = self;
    pthread_mutex_unlock(&srv->lock);
    if (busy)
        return ARBOR_EBUSY;

    close_listeners(srv);
    arbor__http_cache_empty(srv); /* draining: nothing is kept from now on */
    pthread_mutex_lock(&srv->lock);
    bool empty = close_connections(srv, false);
    pthread_mutex_unlock(&srv->lock);

    int rc = 0;
    if (!empty) {
        arbor_msg_t *m;
        rc = arbor_receive_match(is_drained, NULL, deadline_ms, &m);
        if (rc == 0)
            arbor_msg_free(m);
    }
    pthread_mutex_lock(&srv->lock);
    if (rc != 0)
        close_connections(srv, true);
    srv->drain_waiter = ARBOR_NOPID;
    pthread_mutex_unlock(&srv->lock);
    /* A last connection may have told us as the deadline passed. */
    arbor_msg_t *late;
    if (rc != 0 && arbor_receive_match(is_drained, NULL, 0, &late) == 0)
        arbor_msg_free(late);
    return rc == 0 ? 0 : ARBOR_ETIMEDOUT;
}

/* ---- the drainer ------------------------------------------------------------------------- */

static bool is_exit(const arbor_msg_t *m, void *arg)
{
    (void)arg;
    return m->tag == ARBOR_TAG_EXIT;
}

static void drainer(void *arg)
{
    arbor_http_server_t *srv = arg;
    arbor_set_label("http_drainer");
    arbor_msg_t *m;
    /* Its only link is its supervisor: an exit signal is the order to stop.
     * Until then it closes the connections idle beyond their timeout. */
    int64_t tick = arbor__http_idle_tick_ms(srv);
    while (arbor_receive_match(is_exit, NULL, tick, &m) != 0) {
        arbor__http_close_idle_expired(srv, arbor_now_ms());
        arbor__http_cache_tick(srv); /* a quiet server keeps no buffers */
    }
    arbor_reason_t why = arbor_reason_copy(&((arbor_exit_msg_t *)m->data)->reason);
    arbor_msg_free(m);
    arbor_http_server_drain(srv, srv->opts.shutdown_ms);
    arbor_exit(why);
}

int arbor__http_start_drainer(void *arg, arbor_pid_t *pid, arbor_reason_t *error)
{
    (void)error;
    arbor_http_server_t *srv = arg;
    arbor_spawn_opts_t o = {.link = true, .trap_exit = true, .label = "http_drainer"};
    int rc = arbor_spawn_opt(drainer, arg, &o, pid, NULL);
    if (rc == 0)
        atomic_store_explicit(&srv->drainer, *pid, memory_order_relaxed);
    return rc;
}

int64_t arbor__http_drainer_shutdown_ms(const arbor_http_server_t *srv)
{
    return srv->opts.shutdown_ms + DRAINER_MARGIN_MS;
}

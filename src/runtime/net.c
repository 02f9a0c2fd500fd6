/*
 * TCP sockets owned by processes, and waiting on any descriptor
 * (include/arbor/net.h), on the poller (netpoll.h).
 *
 * Every call follows one shape: take a reference on the socket's record
 * (which also checks the handle), check the caller owns it, try the system
 * call, and only on EAGAIN park on the record's readiness slot, then try
 * again. The reference is dropped before returning, and before dying when
 * the process was killed while it waited (arbor__pollfd_wait()).
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "arbor/error.h"
#include "arbor/message.h"
#include "arbor/net.h"
#include "arbor/report.h"
#include "mailbox.h"
#include "netpoll.h"
#include "proc.h"

#define ACCEPT_BACKOFF_MIN_MS  10
#define ACCEPT_BACKOFF_MAX_MS  100
#define CONNECT_BACKOFF_MAX_MS 64

/* The record of s with a reference, if the running process p owns it.
 * A socket that another process closed is let go of here by its owner
 * (the reference its exit hook held), so its descriptor closes now. */
static arbor__pollfd_t *owned(arbor__proc_t *p, arbor_socket_t s, int *err)
{
    /* A call counts as a reduction, as a receive does: a loop of calls
     * that never wait (timeout 0) still lets other processes run. */
    arbor__proc_tick(p);
    arbor__pollfd_t *pd = arbor__pollfd_get(s);
    if (!pd) {
        pd = arbor__pollfd_peek(s);
        if (pd && atomic_load_explicit(&pd->hooked, memory_order_relaxed) == p->pid)
            arbor__pollfd_unhook(p, pd);
        *err = ARBOR_ECLOSED;
        return NULL;
    }
    if (atomic_load_explicit(&pd->owner, memory_order_acquire) != p->pid) {
        arbor__pollfd_put(pd);
        *err = ARBOR_EACCES;
        return NULL;
    }
    return pd;
}

/* The start of a call on socket s of kind `kind` (-1: any): *p is the
 * running process and *pd the record of s with a reference taken, if p
 * owns it. Returns ARBOR_ENOTPROC, ARBOR_ECLOSED, ARBOR_EACCES, or
 * ARBOR_EINVAL for a socket of another kind (a listener given to recv). */
static int enter(arbor_socket_t s, int kind, arbor__proc_t **p, arbor__pollfd_t **pd)
{
    int rc;
    if (!(*p = arbor__proc_current()))
        return ARBOR_ENOTPROC;
    if (!(*pd = owned(*p, s, &rc)))
        return rc;
    if (kind >= 0 && (*pd)->kind != kind) {
        arbor__pollfd_put(*pd);
        return ARBOR_EINVAL;
    }
    return 0;
}

/* Drops the caller's reference; ends p if it was killed meanwhile. */
static int done(arbor__proc_t *p, arbor__pollfd_t *pd, int rc)
{
    arbor__pollfd_put(pd);
    if (rc == ARBOR_EEXIT)
        arbor__proc_die(p);
    return rc;
}

/* The calling thread's errno, negated, read afresh. A process may resume
 * on another scheduler thread after any park, and glibc declares
 * __errno_location() const, so within a function that parks the compiler
 * may keep errno's address from before the park and read another
 * thread's errno (where another process may have just set it). This file
 * reads errno only through here. */
static __attribute__((noinline, noipa)) int last_error(void)
{
    return -errno;
}

/* After a system call on pd failed with last_error() rc: 0 to try it
 * again (an interrupted call, or pd turned ready in direction dir after a
 * park), otherwise the error to return (a timeout of 0 does not park).
 * Every call's loop goes through here, so each parks only on EAGAIN. */
static int retry_or_park(arbor__proc_t *p, arbor__pollfd_t *pd, int rc, int dir, int64_t timeout_ms,
                         uint64_t deadline)
{
    if (rc == -EINTR)
        return 0;
    /* Closed by another process between this call's check and its system
     * call: the closer shut the socket down (arbor_socket_close), and the
     * call failed for that (accept on a listener shut down is EINVAL). The
     * truth is that the handle was closed. */
    if (rc != -EAGAIN && arbor__pollfd_closing(pd))
        return ARBOR_ECLOSED;
    if (rc != -EAGAIN)
        return rc;
    if (timeout_ms == 0)
        return ARBOR_ETIMEDOUT;
    return arbor__pollfd_wait(p, pd, dir, deadline);
}

/* ---- names and addresses ------------------------------------------------------ */

typedef struct resolve_job {
    const char *host;
    char port[8];
    struct addrinfo hints;
    struct addrinfo *list;
    int gai;
} resolve_job_t;

static void *resolve_blocking(void *arg)
{
    resolve_job_t *j = arg;
    j->gai = getaddrinfo(j->host, j->port, &j->hints, &j->list);
    return NULL;
}

/* The addresses of host:port: at once for an address, on the blocking pool
 * for a name (a DNS query must not stall a scheduler). */
static int resolve(arbor__proc_t *p, const char *host, uint16_t port, bool passive,
                   struct addrinfo **out)
{
    resolve_job_t j = {.host = host ? host : "127.0.0.1"};
    snprintf(j.port, sizeof j.port, "%u", (unsigned)port);
    j.hints.ai_family = AF_UNSPEC;
    j.hints.ai_socktype = SOCK_STREAM;
    j.hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
    j.gai = getaddrinfo(j.host, j.port, &j.hints, &j.list);
    if (j.gai == EAI_NONAME) {
        j.hints.ai_flags &= ~AI_NUMERICHOST;
        j.hints.ai_flags |= AI_ADDRCONFIG;
        /* A kill during the lookup takes effect once its result is let go. */
        bool deferred = p->defer_exit;
        p->defer_exit = true;
        int rc = arbor_blocking(resolve_blocking, &j, NULL);
        p->defer_exit = deferred;
        if (p->dying && !deferred) {
            if (rc == 0 && j.gai == 0)
                freeaddrinfo(j.list);
            arbor__proc_die(p);
        }
        if (rc)
            return rc;
    }
    if (j.gai == EAI_MEMORY)
        return ARBOR_ENOMEM;
    if (j.gai == EAI_SYSTEM)
        return last_error();
    if (j.gai != 0 || !j.list)
        return ARBOR_ENOENT;
    *out = j.list;
    return 0;
}

uint16_t arbor_sockaddr_port(const arbor_sockaddr_t *a)
{
    if (a->ss.ss_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)&a->ss)->sin_port);
    if (a->ss.ss_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)&a->ss)->sin6_port);
    return 0;
}

int arbor_sockaddr_format(const arbor_sockaddr_t *a, char *buf, size_t size)
{
    char host[NI_MAXHOST];
    if (getnameinfo((const struct sockaddr *)&a->ss, a->len, host, sizeof host, NULL, 0,
                    NI_NUMERICHOST) != 0)
        snprintf(host, sizeof host, "?");
    unsigned port = arbor_sockaddr_port(a);
    return a->ss.ss_family == AF_INET6 ? snprintf(buf, size, "[%s]:%u", host, port)
                                       : snprintf(buf, size, "%s:%u", host, port);
}

static int address_of(arbor_socket_t s, arbor_sockaddr_t *out, bool peer)
{
    arbor__proc_t *p;
    arbor__pollfd_t *pd;
    int err = enter(s, -1, &p, &pd);
    if (err)
        return err;
    out->len = sizeof out->ss;
    int r = peer ? getpeername(pd->fd, (struct sockaddr *)&out->ss, &out->len)
                 : getsockname(pd->fd, (struct sockaddr *)&out->ss, &out->len);
    return done(p, pd, r == 0 ? 0 : last_error());
}

int arbor_socket_local(arbor_socket_t s, arbor_sockaddr_t *out)
{
    return address_of(s, out, false);
}

int arbor_socket_peer(arbor_socket_t s, arbor_sockaddr_t *out)
{
    return address_of(s, out, true);
}

/* ---- opening ---------------------------------------------------------------- */

/* Makes fd a socket of the running process p: *out is its handle. Closes
 * fd on failure. */
static int adopt_fd(arbor__proc_t *p, int fd, int kind, arbor_socket_t *out)
{
    int err;
    arbor__pollfd_t *pd;
    uint64_t h = arbor__pollfd_open(p, fd, kind, 0, &err, &pd);
    if (!h) {
        close(fd);
        return err;
    }
    arbor__pollfd_put(pd);
    *out = h;
    return 0;
}

int arbor_tcp_listen(const char *host, uint16_t port, const arbor_listen_opts_t *opts,
                     arbor_socket_t *out)
{
    arbor__proc_t *p = arbor__proc_current();
    if (!p)
        return ARBOR_ENOTPROC;
    if (!out)
        return ARBOR_EINVAL;
    arbor_listen_opts_t o = opts ? *opts : (arbor_listen_opts_t){0};
    if (o.backlog < 0)
        return ARBOR_EINVAL;
    struct addrinfo *list;
    int rc = resolve(p, host, port, true, &list);
    if (rc)
        return rc;
    int fd = socket(list->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        rc = last_error();
        goto out_list;
    }
    int one = 1;
    if (!o.no_reuseaddr && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0)
        goto out_errno;
    if (o.reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0)
        goto out_errno;
    if (list->ai_family == AF_INET6 &&
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &(int){o.v6only ? 1 : 0}, sizeof(int)) != 0)
        goto out_errno;
    if (bind(fd, list->ai_addr, list->ai_addrlen) != 0 ||
        listen(fd, o.backlog ? o.backlog : 1024) != 0)
        goto out_errno;
    freeaddrinfo(list);
    return adopt_fd(p, fd, ARBOR__FD_LISTENER, out);
out_errno:
    rc = last_error();
    close(fd);
out_list:
    freeaddrinfo(list);
    return rc;
}

/* ---- accepting, and running out of descriptors ------------------------------------ */

/* A descriptor kept open for the moment the process runs out: closed, it
 * lets accept() take the pending connection only to close it, so that its
 * client sees a reset rather than a hang (libuv's trick). */
static pthread_mutex_t reserve_lock = PTHREAD_MUTEX_INITIALIZER;
static int reserve_fd = -1;
static uint64_t last_emfile_report;

static void refuse_one(int listen_fd)
{
    pthread_mutex_lock(&reserve_lock);
    if (reserve_fd >= 0) {
        close(reserve_fd);
        int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd >= 0)
            close(fd);
        reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    }
    pthread_mutex_unlock(&reserve_lock);
}

static void report_emfile(arbor__pollfd_t *pd, int err)
{
    uint64_t now = arbor_now_ms();
    pthread_mutex_lock(&reserve_lock);
    bool due = last_emfile_report == 0 || now - last_emfile_report >= 1000;
    if (due)
        last_emfile_report = now;
    pthread_mutex_unlock(&reserve_lock);
    if (!due)
        return;
    arbor_sockaddr_t a = {.len = sizeof a.ss};
    char where[80] = "?", detail[160];
    if (getsockname(pd->fd, (struct sockaddr *)&a.ss, &a.len) == 0)
        arbor_sockaddr_format(&a, where, sizeof where);
    snprintf(detail, sizeof detail,
             "listener %s: out of file descriptors (%s); refusing connections until some close",
             where, arbor_err_name(err));
    arbor_report(&(arbor_report_t){.kind = ARBOR_REPORT_WARNING,
                                   .pid = arbor_self(),
                                   .behaviour = "net",
                                   .what = "accept",
                                   .reason = ARBOR_NORMAL,
                                   .detail = detail});
}

int arbor_tcp_accept(arbor_socket_t listener, int64_t timeout_ms, arbor_socket_t *out)
{
    if (!out)
        return ARBOR_EINVAL;
    arbor__proc_t *p;
    arbor__pollfd_t *pd;
    int rc = enter(listener, ARBOR__FD_LISTENER, &p, &pd);
    if (rc)
        return rc;
    pthread_mutex_lock(&reserve_lock);
    if (reserve_fd < 0)
        reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    pthread_mutex_unlock(&reserve_lock);
    uint64_t deadline = arbor__proc_deadline(timeout_ms);
    uint64_t backoff = ACCEPT_BACKOFF_MIN_MS;
    for (;;) {
        int fd = accept4(pd->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            rc = adopt_fd(p, fd, ARBOR__FD_SOCKET, out);
            break;
        }
        rc = last_error();
        if (rc == -ECONNABORTED)
            continue;
        if (rc == ARBOR_EMFILE || rc == ARBOR_ENFILE) {
            refuse_one(pd->fd);
            report_emfile(pd, rc);
            if (timeout_ms == 0)
                break;
            /* Back off: descriptors come free when connections close, and
             * trying again at once would spin. */
            uint64_t until = arbor_now_ms() + backoff;
            if (until > deadline)
                until = deadline;
            if (backoff < ACCEPT_BACKOFF_MAX_MS)
                backoff *= 2;
            rc = arbor__pollfd_wait(p, pd, -1, until);
            if (rc != ARBOR_ETIMEDOUT || until == deadline)
                break;
            continue;
        }
        if ((rc = retry_or_park(p, pd, rc, ARBOR__DIR_READ, timeout_ms, deadline)))
            break;
    }
    return done(p, pd, rc);
}

/* ---- connecting --------------------------------------------------------------- */

/* Connects a fresh socket to one address within deadline. */
static int connect_one(arbor__proc_t *p, const struct addrinfo *ai, uint64_t deadline,
                       bool poll_only, arbor_socket_t *out)
{
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return last_error();
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0 && last_error() != -EINPROGRESS) {
        int rc = last_error();
        close(fd);
        return rc;
    }
    arbor_socket_t s = ARBOR_NOSOCKET;
    int rc = adopt_fd(p, fd, ARBOR__FD_SOCKET, &s);
    if (rc)
        return rc;
    arbor__pollfd_t *pd = arbor__pollfd_get(s);
    if (!pd)
        return ARBOR_ECLOSED; /* closed by another process already */
    for (;;) {
        int soerr = 0;
        socklen_t len = sizeof soerr;
        struct pollfd pfd = {.fd = fd, .events = POLLOUT};
        if (poll(&pfd, 1, 0) == 1) {
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
            rc = -soerr;
            break;
        }
        if (poll_only) {
            rc = ARBOR_ETIMEDOUT;
            break;
        }
        if ((rc = arbor__pollfd_wait(p, pd, ARBOR__DIR_WRITE, deadline)))
            break;
    }
    arbor__pollfd_put(pd);
    if (rc == 0) {
        *out = s;
        return 0;
    }
    arbor_socket_close(s);
    if (rc == ARBOR_EEXIT)
        arbor__proc_die(p);
    return rc;
}

/* Sleeps ms with the process's exit deferred, so that the caller lets go
 * of what it holds first; true when the process must then end. */
static bool nap(arbor__proc_t *p, uint64_t ms)
{
    bool deferred = p->defer_exit;
    p->defer_exit = true;
    arbor_sleep(ms);
    p->defer_exit = deferred;
    return p->dying && !deferred;
}

int arbor_tcp_connect(const char *host, uint16_t port, int64_t timeout_ms, arbor_socket_t *out)
{
    arbor__proc_t *p = arbor__proc_current();
    if (!p)
        return ARBOR_ENOTPROC;
    if (!out || !host)
        return ARBOR_EINVAL;
    uint64_t deadline = arbor__proc_deadline(timeout_ms);
    struct addrinfo *list;
    int rc = resolve(p, host, port, false, &list);
    if (rc)
        return rc;
    rc = ARBOR_ENOENT;
    uint64_t backoff = 1;
    for (const struct addrinfo *ai = list; ai; ai = ai->ai_next) {
        rc = connect_one(p, ai, deadline, timeout_ms == 0, out);
        /* EAGAIN: the kernel has no local port free for a moment (many
         * connections just closed: tests and benchmarks on loopback met
         * it). Try the same address again, backing off 1 ms doubling to
         * 64 ms, within the timeout. */
        while (rc == ARBOR_EAGAIN && timeout_ms != 0 && arbor_now_ms() + backoff < deadline) {
            if (nap(p, backoff)) {
                freeaddrinfo(list);
                arbor__proc_die(p);
            }
            if (backoff < CONNECT_BACKOFF_MAX_MS)
                backoff *= 2;
            rc = connect_one(p, ai, deadline, false, out);
        }
        if (rc == 0 || rc == ARBOR_ETIMEDOUT)
            break;
    }
    freeaddrinfo(list);
    return rc;
}

/* ---- data ------------------------------------------------------------------------ */

int arbor_socket_recv(arbor_socket_t s, void *buf, size_t size, int64_t timeout_ms, size_t *got)
{
    if (!got || (!buf && size))
        return ARBOR_EINVAL;
    arbor__proc_t *p;
    arbor__pollfd_t *pd;
    int rc = enter(s, ARBOR__FD_SOCKET, &p, &pd);
    if (rc)
        return rc;
    uint64_t deadline = arbor__proc_deadline(timeout_ms);
    for (;;) {
        ssize_t n = recv(pd->fd, buf, size, 0);
        if (n >= 0) {
            *got = (size_t)n;
            rc = 0;
            break;
        }
        if ((rc = retry_or_park(p, pd, last_error(), ARBOR__DIR_READ, timeout_ms, deadline)))
            break;
    }
    return done(p, pd, rc);
}

int arbor_socket_send(arbor_socket_t s, const void *buf, size_t size, int64_t timeout_ms,
                      size_t *sent)
{
    size_t total = 0;
    if (sent)
        *sent = 0;
    if (!buf && size)
        return ARBOR_EINVAL;
    arbor__proc_t *p;
    arbor__pollfd_t *pd;
    int rc = enter(s, ARBOR__FD_SOCKET, &p, &pd);
    if (rc)
        return rc;
    uint64_t deadline = arbor__proc_deadline(timeout_ms);
    rc = 0;
    while (total < size) {
        ssize_t n = send(pd->fd, (const char *)buf + total, size - total, MSG_NOSIGNAL);
        if (n >= 0) {
            total += (size_t)n;
            continue;
        }
        if ((rc = retry_or_park(p, pd, last_error(), ARBOR__DIR_WRITE, timeout_ms, deadline)))
            break;
    }
    if (sent)
        *sent = total;
    return done(p, pd, rc);
}

int arbor_socket_shutdown_write(arbor_socket_t s)
{
    arbor__proc_t *p;
    arbor__pollfd_t *pd;
    int rc = enter(s, -1, &p, &pd);
    if (rc)
        return rc;
    return done(p, pd, shutdown(pd->fd, SHUT_WR) == 0 ? 0 : last_error());
}

int arbor_socket_close(arbor_socket_t s)
{
    arbor__proc_t *p = arbor__proc_current();
    if (!p)
        return ARBOR_ENOTPROC;
    arbor__pollfd_t *pd = arbor__pollfd_get(s);
    if (!pd) {
        int rc;
        owned(p, s, &rc); /* lets go of it if it was ours */
        return ARBOR_ECLOSED;
    }
    bool mine = atomic_load_explicit(&pd->hooked, memory_order_relaxed) == p->pid;
    int rc = arbor__pollfd_close(pd, !mine);
    if (mine)
        arbor__pollfd_unhook(p, pd);
    arbor__pollfd_put(pd);
    return rc;
}

/* ---- ownership and notifications --------------------------------------------------- */

int arbor_socket_give(arbor_socket_t s, arbor_pid_t to)
{
    arbor__proc_t *p = arbor__proc_current();
    if (!p)
        return ARBOR_ENOTPROC;
    if (to == ARBOR_NOPID)
        return ARBOR_EINVAL;
    /* A socket given to us may still be on its way (its SIG_ADOPT not
     * taken in yet): take in what has come, so that we hold it. */
    arbor__proc_drain(p);
    int rc;
    arbor__pollfd_t *pd = owned(p, s, &rc);
    if (!pd)
        return rc;
    if (to == p->pid)
        return done(p, pd, 0);
    while (atomic_load_explicit(&pd->hooked, memory_order_relaxed) != p->pid) {
        /* Its SIG_ADOPT is being pushed: let the pusher finish. */
        arbor__pollfd_put(pd);
        arbor_yield();
        if (!(pd = owned(p, s, &rc)))
            return rc;
    }
    arbor__msg_t *m = arbor__sig_new(ARBOR__SIG_ADOPT, s);
    if (!m)
        return done(p, pd, ARBOR_ENOMEM);
    /* The owner's reference passes from our exit hook to the signal; its
     * last words were ours to say. */
    pd->last_words = NULL;
    pd->last_words_len = 0;
    arbor__proc_hook_remove(p, &pd->hook);
    atomic_store_explicit(&pd->hooked, ARBOR_NOPID, memory_order_relaxed);
    /* release: the new owner's calls see everything we did with it. */
    atomic_store_explicit(&pd->owner, to, memory_order_release);
    if (!arbor__send_node(to, m)) {
        atomic_store_explicit(&pd->owner, p->pid, memory_order_release);
        arbor__pollfd_hook(p, pd); /* p's rare record holds it already: cannot fail */
        return done(p, pd, ARBOR_ENOPROC);
    }
    return done(p, pd, 0);
}

bool arbor__net_adopt(arbor__proc_t *p, uint64_t handle)
{
    /* The signal holds the owner's reference, so the record is this one. */
    arbor__pollfd_t *pd = arbor__pollfd_peek(handle);
    if (!pd || arbor__pollfd_hook(p, pd))
        return true;
    arbor__net_orphan(handle);
    return false;
}

void arbor__net_orphan(uint64_t handle)
{
    arbor__pollfd_t *pd = arbor__pollfd_peek(handle);
    if (!pd)
        return;
    arbor__pollfd_close(pd, false);
    arbor__pollfd_unhook(NULL, pd);
}

int arbor_socket_last_words(arbor_socket_t s, const void *data, size_t size)
{
    if (!data && size)
        return ARBOR_EINVAL;
    arbor__proc_t *p;
    arbor__pollfd_t *pd;
    int rc = enter(s, ARBOR__FD_SOCKET, &p, &pd);
    if (rc)
        return rc;
    /* Only the owner writes these, and its exit hook reads them on the
     * same process's way out: no other thread looks. */
    pd->last_words = size ? data : NULL;
    pd->last_words_len = size;
    return done(p, pd, 0);
}

int arbor_socket_notify(arbor_socket_t s, unsigned events)
{
    if (!events || (events & ~(ARBOR_READABLE | ARBOR_WRITABLE)))
        return ARBOR_EINVAL;
    arbor__proc_t *p;
    arbor__pollfd_t *pd;
    int rc = enter(s, -1, &p, &pd);
    if (rc)
        return rc;
    if (events & ARBOR_READABLE)
        arbor__pollfd_notify(pd, ARBOR__DIR_READ);
    if (events & ARBOR_WRITABLE)
        arbor__pollfd_notify(pd, ARBOR__DIR_WRITE);
    return done(p, pd, 0);
}

/* ---- options ------------------------------------------------------------------- */

static bool option(arbor_sockopt_t opt, int *level, int *name)
{
    switch (opt) {
    case ARBOR_SO_NODELAY:
        *level = IPPROTO_TCP, *name = TCP_NODELAY;
        return true;
    case ARBOR_SO_KEEPALIVE:
        *level = SOL_SOCKET, *name = SO_KEEPALIVE;
        return true;
    case ARBOR_SO_SNDBUF:
        *level = SOL_SOCKET, *name = SO_SNDBUF;
        return true;
    case ARBOR_SO_RCVBUF:
        *level = SOL_SOCKET, *name = SO_RCVBUF;
        return true;
    case ARBOR_SO_LINGER:
        break; /* a struct, not an int: sockopt() */
    }
    return false;
}

static int sockopt(arbor_socket_t s, arbor_sockopt_t opt, int *value, bool set)
{
    arbor__proc_t *p = arbor__proc_current();
    if (!p)
        return ARBOR_ENOTPROC;
    int level = SOL_SOCKET, name = SO_LINGER;
    if (!value || (opt != ARBOR_SO_LINGER && !option(opt, &level, &name)) ||
        (set && opt == ARBOR_SO_LINGER && *value < -1))
        return ARBOR_EINVAL;
    int rc;
    arbor__pollfd_t *pd = owned(p, s, &rc);
    if (!pd)
        return rc;
    int r;
    if (opt == ARBOR_SO_LINGER) {
        struct linger lg = {.l_onoff = set && *value >= 0,
                            .l_linger = set && *value > 0 ? *value : 0};
        socklen_t len = sizeof lg;
        r = set ? setsockopt(pd->fd, level, name, &lg, len)
                : getsockopt(pd->fd, level, name, &lg, &len);
        if (!set && r == 0)
            *value = lg.l_onoff ? lg.l_linger : -1;
    } else {
        socklen_t len = sizeof *value;
        r = set ? setsockopt(pd->fd, level, name, value, len)
                : getsockopt(pd->fd, level, name, value, &len);
    }
    return done(p, pd, r == 0 ? 0 : last_error());
}

int arbor_socket_setopt(arbor_socket_t s, arbor_sockopt_t opt, int value)
{
    return sockopt(s, opt, &value, true);
}

int arbor_socket_getopt(arbor_socket_t s, arbor_sockopt_t opt, int *value)
{
    return sockopt(s, opt, value, false);
}

/* ---- any descriptor ------------------------------------------------------------------- */

int arbor_fd_wait(int fd, unsigned events, int64_t timeout_ms, unsigned *ready)
{
    arbor__proc_t *p = arbor__proc_current();
    if (!p)
        return ARBOR_ENOTPROC;
    if (fd < 0 || !ready || !events || (events & ~(ARBOR_READABLE | ARBOR_WRITABLE)))
        return ARBOR_EINVAL;
    *ready = 0;
    short want =
        (short)((events & ARBOR_READABLE ? POLLIN : 0) | (events & ARBOR_WRITABLE ? POLLOUT : 0));
    struct pollfd pfd = {.fd = fd, .events = want};
    int n = poll(&pfd, 1, 0);
    if (n < 0)
        return last_error();
    if (pfd.revents & POLLNVAL)
        return ARBOR_EINVAL;
    if (n == 1 || timeout_ms == 0) {
        short r = pfd.revents;
        *ready = (r & (POLLIN | POLLHUP | POLLERR) ? ARBOR_READABLE : 0) |
                 (r & (POLLOUT | POLLHUP | POLLERR) ? ARBOR_WRITABLE : 0);
        *ready &= events | ((r & (POLLHUP | POLLERR)) ? ARBOR_READABLE | ARBOR_WRITABLE : 0);
        return n == 1 ? 0 : ARBOR_ETIMEDOUT;
    }
    int rc;
    arbor__pollfd_t *pd;
    if (!arbor__pollfd_open(p, fd, ARBOR__FD_BORROWED, events, &rc, &pd))
        return rc;
    rc = arbor__pollfd_wait(p, pd, ARBOR__DIR_READ, arbor__proc_deadline(timeout_ms));
    *ready = atomic_load_explicit(&pd->revents, memory_order_relaxed);
    arbor__pollfd_close(pd, false);
    return done(p, pd, rc);
}

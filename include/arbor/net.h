/*
 * Network I/O: TCP sockets that park a process, not a thread.
 *
 * A socket belongs to a process, its owner: the process that opened
 * (listen, connect) or accepted it, as a BEAM port belongs to its
 * controlling process. When the owner exits, however it exits (normal,
 * crash, kill), its sockets are closed before anyone hears of the death, so
 * a supervisor that restarts a listener finds its port free. Ownership
 * passes to another process with arbor_socket_give() (an acceptor hands a
 * connection to its handler). Every call on a socket but arbor_socket_close()
 * is for its owner only and returns ARBOR_EACCES to anyone else; any process
 * may close a socket (as any Erlang process may port_close), which is how a
 * watchdog cuts a connection.
 *
 * Two ways to wait, because a process must sometimes wait for a socket and
 * its mailbox at once:
 *   - blocking: accept, connect, recv and send park the calling process
 *     (not its OS thread) until the socket is ready or the timeout ends;
 *     messages that arrive meanwhile stay in the mailbox;
 *   - messages: arbor_socket_notify() asks for one notification; the next
 *     readiness arrives as an ARBOR_TAG_SOCKET message (an
 *     arbor_socket_event_t) in the owner's mailbox, like Erlang's
 *     {active, once} but with the readiness, not the data: the owner then
 *     reads with timeout 0. Re-arm for the next one. A notification may be
 *     spurious (the read then returns ARBOR_ETIMEDOUT at once): handle it by
 *     arming again.
 *
 * Timeouts are in milliseconds: 0 tries once without waiting, ARBOR_INFINITY
 * waits for ever. A timeout returns ARBOR_ETIMEDOUT and leaves the socket
 * usable. Failures of the system are returned as the negated errno
 * (ARBOR_ECONNREFUSED, ARBOR_ECONNRESET, ARBOR_EPIPE, ...); arbor_strerror()
 * names any of them. Sockets are non-blocking and close-on-exec; writes never
 * raise SIGPIPE.
 *
 * Everything here is "process only" (ARBOR_ENOTPROC from a plain thread),
 * except the address helpers.
 */
#ifndef ARBOR_NET_H
#define ARBOR_NET_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "message.h"
#include "process.h"

#ifdef __cplusplus
extern "C" {
#endif

#pragma GCC visibility push(default)

/* A socket handle: an index and a generation, so a handle kept after its
 * socket was closed is refused (ARBOR_ECLOSED) rather than reaching the
 * next socket to get the same slot. 0 is no socket. */
typedef uint64_t arbor_socket_t;
#define ARBOR_NOSOCKET ((arbor_socket_t)0)

/* An address, IPv4 or IPv6. */
typedef struct arbor_sockaddr {
    struct sockaddr_storage ss;
    socklen_t len;
} arbor_sockaddr_t;

/* Readiness, for arbor_socket_notify(), arbor_fd_wait() and the
 * notifications. ARBOR_CLOSED comes only in a notification: the socket was
 * closed (by another process) while the notification was armed. */
#define ARBOR_READABLE 1u
#define ARBOR_WRITABLE 2u
#define ARBOR_CLOSED   4u

/* The message arbor_socket_notify() arms: tag ARBOR_TAG_SOCKET, from
 * ARBOR_NOPID, data an arbor_socket_event_t. */
#define ARBOR_TAG_SOCKET (ARBOR_TAG_SYSTEM + 3)
typedef struct arbor_socket_event {
    arbor_socket_t socket;
    unsigned events; /* ARBOR_READABLE or ARBOR_WRITABLE, with ARBOR_CLOSED */
} arbor_socket_event_t;

/* ---- opening ------------------------------------------------------------ */

typedef struct arbor_listen_opts {
    int backlog;      /* 0 = 1024 (the kernel caps it at somaxconn) */
    int no_reuseaddr; /* SO_REUSEADDR is on unless this is set */
    int v6only;       /* an IPv6 listener takes no IPv4 connections */
    int reuseport;    /* SO_REUSEPORT: several listeners (one per acceptor process) share
                       * the port, and the kernel spreads connections among them */
} arbor_listen_opts_t;

/*
 * Opens a TCP listener on host:port and makes the caller its owner. host is
 * an address or a name (NULL: "127.0.0.1"; "::" or "0.0.0.0" for every
 * interface); a name is resolved on the blocking pool. port 0 picks a free
 * port: arbor_socket_local() says which. opts may be NULL.
 * Returns 0 and stores the socket in *out; otherwise nothing is left open:
 * ARBOR_EADDRINUSE, ARBOR_EACCES (a privileged port), ARBOR_ENOENT (no
 * address for the name), ARBOR_EMFILE, ARBOR_EINVAL.
 */
int arbor_tcp_listen(const char *host, uint16_t port, const arbor_listen_opts_t *opts,
                     arbor_socket_t *out);

/*
 * Waits up to timeout_ms for a connection on listener (which the caller
 * owns) and stores it in *out, owned by the caller. When the process is out
 * of file descriptors (ARBOR_EMFILE, ARBOR_ENFILE), the pending connection
 * is refused (its client sees a reset instead of a hang), a report says so
 * once a second at most, and the call waits (backing off up to 100 ms) for
 * descriptors to come free, within its timeout.
 */
int arbor_tcp_accept(arbor_socket_t listener, int64_t timeout_ms, arbor_socket_t *out);

/*
 * Connects to host:port within timeout_ms, trying each address of the name
 * in turn (resolved on the blocking pool unless host is an address), and
 * stores the connected socket, owned by the caller, in *out. When the
 * kernel has no local port free for a moment (EAGAIN, after many
 * connections closed), it tries again, backing off up to 64 ms, within the
 * timeout. Returns ARBOR_ECONNREFUSED, ARBOR_ETIMEDOUT, ARBOR_EAGAIN (no
 * local port within the timeout, or at once with timeout 0), ARBOR_ENOENT
 * (no address for the name), or another system error; nothing is left open
 * then.
 */
int arbor_tcp_connect(const char *host, uint16_t port, int64_t timeout_ms, arbor_socket_t *out);

/* ---- data ---------------------------------------------------------------- */

/*
 * Receives up to size bytes into buf, waiting up to timeout_ms for some to
 * arrive. Returns 0 and stores how many in *got; *got == 0 means the peer
 * closed its side (end of file). Errors: ARBOR_ETIMEDOUT (nothing came; the
 * socket is still usable), ARBOR_ECONNRESET, ARBOR_ECLOSED (the socket was
 * closed, possibly by another process while this one waited).
 */
int arbor_socket_recv(arbor_socket_t s, void *buf, size_t size, int64_t timeout_ms, size_t *got);

/*
 * Sends all size bytes, waiting as needed, within timeout_ms in total.
 * Returns 0 when all were handed to the kernel. On any error (ARBOR_EPIPE,
 * ARBOR_ECONNRESET, ARBOR_ETIMEDOUT, ARBOR_ECLOSED) some bytes may have
 * gone: *sent (when not NULL) says how many, on success too.
 */
int arbor_socket_send(arbor_socket_t s, const void *buf, size_t size, int64_t timeout_ms,
                      size_t *sent);

/* Closes the write side (the peer reads end of file); reading goes on. */
int arbor_socket_shutdown_write(arbor_socket_t s);

/*
 * Closes s. Any process may close any socket: processes waiting on it wake
 * with ARBOR_ECLOSED, an armed notification arrives with ARBOR_CLOSED, and
 * the peer sees the connection end at once. The descriptor itself is
 * released when the last call using it returns (and, when another process
 * closed it, once its owner next uses it or exits), so its number is never
 * reused under a call in flight. Returns ARBOR_ECLOSED if s was already
 * closed.
 */
int arbor_socket_close(arbor_socket_t s);

/* ---- ownership and notifications ----------------------------------------- */

/*
 * Makes pid the owner of s (the caller must own it). From now on only pid
 * may use s, and s is closed when pid exits. Returns ARBOR_ENOPROC (s stays
 * the caller's) when pid does not exist.
 */
int arbor_socket_give(arbor_socket_t s, arbor_pid_t pid);

/*
 * Sets the last words of s (the caller must own it): size bytes at data
 * that are sent, without waiting, when s is closed because its owner
 * exits, however it exits, while they are set. A protocol answers its own
 * crash this way: an HTTP connection sets a 500 response before it runs a
 * request's handler and clears it (data NULL, size 0) once the handler
 * has returned. data is not copied: it must stay valid and unchanged while
 * set (static text is usual). Bytes that do not fit in the kernel's send
 * buffer at that moment are lost. A closing by arbor_socket_close() and
 * arbor_socket_give() both clear them. Returns ARBOR_EINVAL for a listener.
 */
int arbor_socket_last_words(arbor_socket_t s, const void *data, size_t size);

/*
 * Arms one notification: when s is next ready for any of events
 * (ARBOR_READABLE, ARBOR_WRITABLE), the owner receives an ARBOR_TAG_SOCKET
 * message for each direction armed. Arming a direction already armed
 * changes nothing. A blocking call in that direction takes its place.
 */
int arbor_socket_notify(arbor_socket_t s, unsigned events);

/* ---- options and addresses ------------------------------------------------ */

/* Sets or reads an option of s (the caller must own it). Returns
 * ARBOR_EINVAL for an unknown option or a bad value. */

typedef enum arbor_sockopt {
    ARBOR_SO_NODELAY,   /* TCP_NODELAY: 1 sends small writes at once */
    ARBOR_SO_KEEPALIVE, /* SO_KEEPALIVE */
    ARBOR_SO_SNDBUF,    /* SO_SNDBUF, bytes (the kernel doubles it) */
    ARBOR_SO_RCVBUF,    /* SO_RCVBUF, bytes */
    ARBOR_SO_LINGER,    /* SO_LINGER: seconds close may wait to send what is left, -1 off
                         * (the default); 0 resets the connection at close, leaving no
                         * TIME_WAIT behind */
} arbor_sockopt_t;

int arbor_socket_setopt(arbor_socket_t s, arbor_sockopt_t opt, int value);
int arbor_socket_getopt(arbor_socket_t s, arbor_sockopt_t opt, int *value);

/* The socket's own address, and its peer's. */
int arbor_socket_local(arbor_socket_t s, arbor_sockaddr_t *out);
int arbor_socket_peer(arbor_socket_t s, arbor_sockaddr_t *out);

/* The port of addr (host order), 0 for anything but IPv4 and IPv6. Any
 * thread. */
uint16_t arbor_sockaddr_port(const arbor_sockaddr_t *addr);

/* Writes "127.0.0.1:4000" or "[::1]:4000" into buf (NUL-terminated when
 * size > 0); returns the length the full text needs. Any thread. */
int arbor_sockaddr_format(const arbor_sockaddr_t *addr, char *buf, size_t size);

/* ---- any file descriptor --------------------------------------------------- */

/*
 * Parks the calling process until fd (which this call neither takes nor
 * closes: a pipe, an eventfd, another library's socket such as libpq's
 * PQsocket()) is ready for one of events, or timeout_ms passes. Stores
 * what is ready in *ready (ARBOR_READABLE, ARBOR_WRITABLE; an error or
 * hang-up on fd reads as both). Returns ARBOR_ETIMEDOUT, or ARBOR_EINVAL
 * for a descriptor the runtime already watches (a socket of this API) or
 * one epoll cannot watch (a regular file).
 */
int arbor_fd_wait(int fd, unsigned events, int64_t timeout_ms, unsigned *ready);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif
#endif

/*
 * The poller: parks processes on file descriptors (after Go's netpoller).
 *
 * One epoll instance per runtime. Every descriptor the runtime watches has
 * a record (arbor__pollfd_t), registered once, edge-triggered, for reading
 * and writing. Records are type-stable: they live in chunks that are freed
 * only when the runtime stops, and a closed record goes to a free list with
 * its generation bumped. The epoll data word and every handle carry the
 * generation, so an event or a handle from before a close names a record
 * that no longer matches and is ignored (golang/go#59545).
 *
 * Readiness slots (one for reading, one for writing), each one of:
 *   IDLE    nothing known;
 *   READY   an event came since the last wait (the operation may succeed);
 *   WAIT    a process is parked on it (pid in `waiter`);
 *   NOTIFY  a process asked for a message on the next event.
 * The waiter stores its pid, then CASes IDLE -> WAIT (seq_cst); a READY slot
 * instead means "retry the operation". The poller swaps WAIT -> READY and
 * wakes the waiter with an SIG_IO node, or NOTIFY -> IDLE and sends the
 * message; a slot that was READY or IDLE becomes READY. An event that lands
 * between the waiter's failed operation and its CAS leaves READY, which the
 * CAS sees: no lost wake-up. The waiter always tries the operation first
 * and parks only on EAGAIN; with edge triggering it must, as data already
 * waiting raises no new edge.
 *
 * Lifetime: a record's `state` word holds its generation, a CLOSING bit
 * and a count of references. Every call that uses the descriptor holds one
 * while it does (also across a park, with its exit deferred so that a kill
 * lets go of it first), and the owner's exit hook holds one (an
 * arbor_socket_give() in flight carries it in its SIG_ADOPT). Closing sets
 * CLOSING (no new references), removes the descriptor from epoll, wakes
 * the waiters, shuts the socket down when the closer is not its owner (the
 * peer sees the end at once) and drops the closer's references; whoever drops the last one closes
 * the descriptor and frees the record. So a descriptor's number is never reused under a call.
 *
 * Schedulers (sched.c): one with nothing to run polls without blocking
 * before it steals; a busy one polls every 64 turns while anything is
 * registered, so a busy runtime does not starve sockets; at most one idle
 * scheduler blocks in epoll_wait instead of its futex, until the next timer
 * or cold process, and a waker that finds it there writes the eventfd.
 * Everything else about the poller stays behind this header, so that
 * another mechanism (io_uring) could replace epoll.
 */
#ifndef ARBOR_RUNTIME_NETPOLL_H
#define ARBOR_RUNTIME_NETPOLL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "arbor/process.h"
#include "proc.h"

enum { ARBOR__SLOT_IDLE, ARBOR__SLOT_READY, ARBOR__SLOT_WAIT, ARBOR__SLOT_NOTIFY };
enum { ARBOR__DIR_READ, ARBOR__DIR_WRITE };

/* What a record watches: a socket of net.h (closed with the record), or a
 * descriptor borrowed for one arbor_fd_wait() (left open). */
enum { ARBOR__FD_SOCKET, ARBOR__FD_LISTENER, ARBOR__FD_BORROWED };

typedef struct arbor__pollfd {
    /* ---- shared ---- */
    _Atomic uint64_t state; /* generation << 32 | CLOSING | references */
    _Atomic int slot[2];
    _Atomic arbor_pid_t waiter[2];
    _Atomic arbor_pid_t owner;
    /* ---- the owner's ---- */
    _Atomic arbor_pid_t hooked; /* whose exit hook list holds `hook` (0: none); read by
                                 * others only to compare with their own pid */
    _Atomic unsigned revents;   /* a borrowed descriptor's events (arbor_fd_wait()) */
    arbor__exit_hook_t hook;    /* closes the socket when its owner exits */
    const void *last_words;     /* sent by `hook` before it closes (arbor_socket_last_words) */
    size_t last_words_len;
    int fd;
    int kind;
    uint32_t index;
    struct arbor__pollfd *free_next;
} arbor__pollfd_t;

int arbor__netpoll_init(void);
/* Frees every record; every process has exited. */
void arbor__netpoll_fini(void);

/* Makes a record for fd (kind ARBOR__FD_*), owned by the running process
 * p, registered with epoll: a socket for reading and writing,
 * edge-triggered, with its exit hook set; a borrowed fd for one event
 * among events (ARBOR_READABLE, ARBOR_WRITABLE), level-triggered. Returns the handle with one
 * reference held for the caller (drop it with arbor__pollfd_put()), or 0 with *err set; fd is then
 * untouched. */
uint64_t arbor__pollfd_open(arbor__proc_t *p, int fd, int kind, uint32_t events, int *err,
                            arbor__pollfd_t **out);

/* The record handle names with a reference taken, or NULL (closed, stale,
 * never made). */
arbor__pollfd_t *arbor__pollfd_get(uint64_t handle);
/* The record handle names, closing or not, without a reference: for a
 * caller that holds one by other means (an exit hook, a SIG_ADOPT), or
 * that only compares `hooked` with its own pid. NULL: stale. */
arbor__pollfd_t *arbor__pollfd_peek(uint64_t handle);
void arbor__pollfd_put(arbor__pollfd_t *pd);
uint64_t arbor__pollfd_handle(const arbor__pollfd_t *pd);
bool arbor__pollfd_closing(const arbor__pollfd_t *pd);

/* Starts closing pd (see above); the caller holds a reference. shut: shut
 * the socket down now, for a closer that is not its owner (the owner's
 * reference keeps the descriptor open until the owner lets go). Without
 * it the descriptor closes at the last put, which for an owner that closes
 * is its own, so unread data still resets the connection as close()
 * does. Returns ARBOR_ECLOSED if it was already closing. */
int arbor__pollfd_close(arbor__pollfd_t *pd, bool shut);

/* Lets go of the owner's reference (its exit hook): p is the running
 * owner, or has exited (p NULL: the reference rode a SIG_ADOPT). */
void arbor__pollfd_unhook(arbor__proc_t *p, arbor__pollfd_t *pd);
/* The running process p becomes the holder of the owner's reference.
 * False, changing nothing, when there is no memory for p's rare record
 * (proc.h): never when p has one, as the opener and a socket's holder do. */
bool arbor__pollfd_hook(arbor__proc_t *p, arbor__pollfd_t *pd);

/*
 * Parks the running process p until direction dir of pd is ready, pd
 * closes, or deadline (arbor_now_ms(), UINT64_MAX for none) passes. The
 * caller holds a reference on pd. Returns 0 (ready: try again),
 * ARBOR_ETIMEDOUT, ARBOR_ECLOSED, or ARBOR_EEXIT when p was told to exit
 * meanwhile. dir -1 waits for nothing but the deadline (a back-off that a
 * close or a kill still cuts short); it returns ARBOR_ETIMEDOUT then: the caller then drops its
 * reference and calls arbor__proc_die(p).
 */
int arbor__pollfd_wait(arbor__proc_t *p, arbor__pollfd_t *pd, int dir, uint64_t deadline);

/* Arms a notification message to the owner for dir. */
void arbor__pollfd_notify(arbor__pollfd_t *pd, int dir);

/* The signals of socket ownership (net.c): p takes in a socket given to
 * it; a process exited before it took in the socket given to it, which
 * closes. */
/* False when there is no memory for p's hook on the socket: it is then
 * closed, as if p had exited, and p is to die for want of memory. */
bool arbor__net_adopt(arbor__proc_t *p, uint64_t handle);
void arbor__net_orphan(uint64_t handle);

/* ---- the schedulers' side ---- */

/* True while any descriptor is registered: only then do schedulers poll. */
bool arbor__netpoll_active(void);

/* Polls once, waiting up to timeout_ns (0: not at all; UINT64_MAX: until an
 * event or arbor__netpoll_break()), and makes the processes that events
 * concern runnable on the calling scheduler. Returns false at once, without polling, when
 * another scheduler is polling. */
bool arbor__netpoll_poll(uint64_t timeout_ns);

/* Wakes the scheduler blocked in arbor__netpoll_poll(), if any. Any
 * thread. */
void arbor__netpoll_break(void);

#endif

/*
 * The poller: records, readiness slots, waiting, and polling for the
 * schedulers. The design and its no-lost-wake-up argument are in
 * netpoll.h.
 */
#include "netpoll.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "arbor/error.h"
#include "arbor/net.h"
#include "mailbox.h"
#include "stats.h"

#define CHUNK_BITS 10
#define CHUNK_SIZE (1u << CHUNK_BITS)
#define MAX_CHUNKS 4096u /* 4 M records */

#define CLOSING  ((uint64_t)1 << 31)
#define REFS     (CLOSING - 1)
#define GEN(s)   ((uint32_t)((s) >> 32))
#define WAKE_TAG UINT64_MAX /* the eventfd's data word: no handle is this */

static struct {
    int epfd, evfd;
    _Atomic(arbor__pollfd_t *) chunks[MAX_CHUNKS];
    pthread_mutex_t lock; /* the free list and the making of records */
    arbor__pollfd_t *free;
    uint32_t made;
    _Atomic uint32_t registered;
    _Atomic int polling;      /* a scheduler is in arbor__netpoll_poll() */
    _Atomic int wake_pending; /* the eventfd was written and not read yet */
} np = {.epfd = -1, .evfd = -1, .lock = PTHREAD_MUTEX_INITIALIZER};

int arbor__netpoll_init(void)
{
    np.epfd = epoll_create1(EPOLL_CLOEXEC);
    if (np.epfd < 0)
        return -errno;
    np.evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (np.evfd < 0) {
        int err = -errno;
        close(np.epfd);
        np.epfd = -1;
        return err;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = WAKE_TAG};
    if (epoll_ctl(np.epfd, EPOLL_CTL_ADD, np.evfd, &ev) != 0) {
        int err = -errno;
        close(np.evfd);
        close(np.epfd);
        np.epfd = np.evfd = -1;
        return err;
    }
    np.free = NULL;
    np.made = 0;
    atomic_store(&np.registered, 0);
    atomic_store(&np.polling, 0);
    atomic_store(&np.wake_pending, 0);
    return 0;
}

void arbor__netpoll_fini(void)
{
    for (uint32_t i = 0; i < MAX_CHUNKS; i++) {
        arbor__pollfd_t *c = atomic_load_explicit(&np.chunks[i], memory_order_relaxed);
        if (!c)
            break;
        free(c);
        atomic_store_explicit(&np.chunks[i], NULL, memory_order_relaxed);
    }
    np.free = NULL;
    np.made = 0;
    if (np.evfd >= 0)
        close(np.evfd);
    if (np.epfd >= 0)
        close(np.epfd);
    np.epfd = np.evfd = -1;
}

/* ---- records ---------------------------------------------------------------- */

static arbor__pollfd_t *record_at(uint32_t index)
{
    if (index >= MAX_CHUNKS * CHUNK_SIZE)
        return NULL;
    /* acquire: pairs with the release that published the chunk. */
    arbor__pollfd_t *c =
        atomic_load_explicit(&np.chunks[index >> CHUNK_BITS], memory_order_acquire);
    return c ? &c[index & (CHUNK_SIZE - 1)] : NULL;
}

/* A free record (state CLOSING, references 0), or NULL. */
static arbor__pollfd_t *record_take(void)
{
    pthread_mutex_lock(&np.lock);
    arbor__pollfd_t *pd = np.free;
    if (pd) {
        np.free = pd->free_next;
    } else if (np.made < MAX_CHUNKS * CHUNK_SIZE) {
        uint32_t ci = np.made >> CHUNK_BITS;
        arbor__pollfd_t *c = atomic_load_explicit(&np.chunks[ci], memory_order_relaxed);
        if (!c) {
            c = calloc(CHUNK_SIZE, sizeof *c);
            if (c) {
                for (uint32_t i = 0; i < CHUNK_SIZE; i++) {
                    c[i].index = (ci << CHUNK_BITS) + i;
                    atomic_init(&c[i].state, ((uint64_t)1 << 32) | CLOSING);
                }
                atomic_store_explicit(&np.chunks[ci], c, memory_order_release);
            }
        }
        if (c)
            pd = &c[np.made++ & (CHUNK_SIZE - 1)];
    }
    pthread_mutex_unlock(&np.lock);
    return pd;
}

/* Gives pd back with its generation bumped: every handle and event that
 * named it is stale from now on. */
static void record_free(arbor__pollfd_t *pd)
{
    uint64_t s = atomic_load_explicit(&pd->state, memory_order_relaxed);
    uint32_t gen = GEN(s) + 1;
    if (gen == 0)
        gen = 1;
    for (int d = 0; d < 2; d++) {
        atomic_store_explicit(&pd->slot[d], ARBOR__SLOT_IDLE, memory_order_relaxed);
        atomic_store_explicit(&pd->waiter[d], ARBOR_NOPID, memory_order_relaxed);
    }
    atomic_store_explicit(&pd->owner, ARBOR_NOPID, memory_order_relaxed);
    atomic_store_explicit(&pd->hooked, ARBOR_NOPID, memory_order_relaxed);
    atomic_store_explicit(&pd->revents, 0, memory_order_relaxed);
    pd->last_words = NULL;
    pd->last_words_len = 0;
    pd->fd = -1;
    atomic_store_explicit(&pd->state, ((uint64_t)gen << 32) | CLOSING, memory_order_release);
    pthread_mutex_lock(&np.lock);
    pd->free_next = np.free;
    np.free = pd;
    pthread_mutex_unlock(&np.lock);
}

uint64_t arbor__pollfd_handle(const arbor__pollfd_t *pd)
{
    uint64_t s = atomic_load_explicit(&pd->state, memory_order_relaxed);
    return ((uint64_t)GEN(s) << 32) | (uint64_t)(pd->index + 1);
}

bool arbor__pollfd_closing(const arbor__pollfd_t *pd)
{
    return atomic_load_explicit(&pd->state, memory_order_acquire) & CLOSING;
}

static void hook_close(void *arg);

uint64_t arbor__pollfd_open(arbor__proc_t *p, int fd, int kind, uint32_t events, int *err,
                            arbor__pollfd_t **out)
{
    bool borrowed_fd = kind == ARBOR__FD_BORROWED;
    /* The owner's exit hook needs its rare record: made first, so that
     * hooking it below cannot fail. */
    arbor__pollfd_t *pd = borrowed_fd || arbor__proc_rare(p) ? record_take() : NULL;
    if (!pd) {
        *err = ARBOR_ENOMEM;
        return 0;
    }
    pd->fd = fd;
    /* Relaxed atomic: the poller may still be reading the kind of this
     * record's previous life (an event of the old generation, which
     * on_event then drops); the value it reads does not matter, but the
     * access must not be a data race. */
    __atomic_store_n(&pd->kind, kind, __ATOMIC_RELAXED);
    pd->free_next = NULL;
    atomic_store_explicit(&pd->owner, p->pid, memory_order_relaxed);
    bool borrowed = kind == ARBOR__FD_BORROWED;
    uint64_t s = atomic_load_explicit(&pd->state, memory_order_relaxed);
    /* One reference for the caller, one for the owner's exit hook. Release:
     * whoever takes a reference sees the fields above. */
    atomic_store_explicit(&pd->state, (s & ~CLOSING) + (borrowed ? 1 : 2), memory_order_release);
    uint64_t handle = arbor__pollfd_handle(pd);
    struct epoll_event ev = {.data.u64 = handle};
    ev.events = borrowed ? (events & ARBOR_READABLE ? EPOLLIN : 0u) |
                               (events & ARBOR_WRITABLE ? EPOLLOUT : 0u) | EPOLLONESHOT
                         : EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    if (epoll_ctl(np.epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
        *err = errno == EEXIST || errno == EPERM ? ARBOR_EINVAL : -errno;
        pd->fd = -1; /* not ours to close */
        record_free(pd);
        return 0;
    }
    atomic_fetch_add_explicit(&np.registered, 1, memory_order_relaxed);
    if (!borrowed) {
        ARBOR__STAT_ADD(live_sockets, 1);
        pd->hook = (arbor__exit_hook_t){NULL, hook_close, pd};
        arbor__pollfd_hook(p, pd);
    }
    *out = pd;
    return handle;
}

arbor__pollfd_t *arbor__pollfd_peek(uint64_t handle)
{
    uint32_t low = (uint32_t)handle;
    arbor__pollfd_t *pd = low ? record_at(low - 1) : NULL;
    if (!pd ||
        GEN(atomic_load_explicit(&pd->state, memory_order_acquire)) != (uint32_t)(handle >> 32))
        return NULL;
    return pd;
}

arbor__pollfd_t *arbor__pollfd_get(uint64_t handle)
{
    uint32_t low = (uint32_t)handle;
    if (low == 0)
        return NULL;
    arbor__pollfd_t *pd = record_at(low - 1);
    if (!pd)
        return NULL;
    uint64_t s = atomic_load_explicit(&pd->state, memory_order_acquire);
    for (;;) {
        if (GEN(s) != (uint32_t)(handle >> 32) || (s & CLOSING))
            return NULL;
        /* acquire: the fields written before the record was opened. */
        if (atomic_compare_exchange_weak_explicit(&pd->state, &s, s + 1, memory_order_acquire,
                                                  memory_order_acquire))
            return pd;
    }
}

/* The last reference is gone from a closing record: the descriptor is
 * released and the record freed. */
static void finish_close(arbor__pollfd_t *pd)
{
    if (pd->kind != ARBOR__FD_BORROWED) {
        close(pd->fd);
        ARBOR__STAT_SUB(live_sockets, 1);
    }
    record_free(pd);
}

void arbor__pollfd_put(arbor__pollfd_t *pd)
{
    /* acq_rel: the last one to let go sees every use of the descriptor. */
    uint64_t s = atomic_fetch_sub_explicit(&pd->state, 1, memory_order_acq_rel) - 1;
    if ((s & CLOSING) && (s & REFS) == 0)
        finish_close(pd);
}

/* ---- readiness ------------------------------------------------------------------ */

/* An event (or a close) for direction dir of pd: see netpoll.h. */
static void wake_slot(arbor__pollfd_t *pd, int dir, bool closed)
{
    _Atomic int *slot = &pd->slot[dir];
    int v = atomic_load_explicit(slot, memory_order_seq_cst);
    for (;;) {
        if (v == ARBOR__SLOT_READY)
            return;
        int next = v == ARBOR__SLOT_NOTIFY ? ARBOR__SLOT_IDLE : ARBOR__SLOT_READY;
        if (atomic_compare_exchange_weak_explicit(slot, &v, next, memory_order_seq_cst,
                                                  memory_order_seq_cst))
            break;
    }
    if (v != ARBOR__SLOT_WAIT && v != ARBOR__SLOT_NOTIFY)
        return;
    arbor_pid_t pid = atomic_load_explicit(&pd->waiter[dir], memory_order_relaxed);
    if (v == ARBOR__SLOT_WAIT) {
        arbor__msg_t *m = arbor__sig_new(ARBOR__SIG_IO, 0);
        if (m)
            arbor__send_node(pid, m);
        return;
    }
    arbor_socket_event_t ev = {
        .socket = arbor__pollfd_handle(pd),
        .events = (dir == ARBOR__DIR_READ ? ARBOR_READABLE : ARBOR_WRITABLE) |
                  (closed ? ARBOR_CLOSED : 0),
    };
    arbor__msg_t *m = arbor__msg_new(ARBOR__MSG, sizeof ev);
    if (!m)
        return;
    m->pub.tag = ARBOR_TAG_SOCKET;
    memcpy(m->payload, &ev, sizeof ev);
    arbor__send_node(pid, m);
}

int arbor__pollfd_close(arbor__pollfd_t *pd, bool shut)
{
    uint64_t s = atomic_load_explicit(&pd->state, memory_order_relaxed);
    do {
        if (s & CLOSING)
            return ARBOR_ECLOSED;
    } while (!atomic_compare_exchange_weak_explicit(&pd->state, &s, s | CLOSING,
                                                    memory_order_acq_rel, memory_order_relaxed));
    /* Out of epoll before the descriptor can close (libuv does the same):
     * no event names it from now on but those already taken, which the
     * generation will turn away once the record is reused. */
    epoll_ctl(np.epfd, EPOLL_CTL_DEL, pd->fd, NULL);
    atomic_fetch_sub_explicit(&np.registered, 1, memory_order_relaxed);
    if (shut && pd->kind != ARBOR__FD_BORROWED)
        shutdown(pd->fd, SHUT_RDWR); /* the peer sees the end now, not at the last put */
    wake_slot(pd, ARBOR__DIR_READ, true);
    wake_slot(pd, ARBOR__DIR_WRITE, true);
    return 0;
}

/* ---- ownership --------------------------------------------------------------------- */

bool arbor__pollfd_hook(arbor__proc_t *p, arbor__pollfd_t *pd)
{
    if (!arbor__proc_hook_add(p, &pd->hook))
        return false;
    atomic_store_explicit(&pd->hooked, p->pid, memory_order_relaxed);
    return true;
}

void arbor__pollfd_unhook(arbor__proc_t *p, arbor__pollfd_t *pd)
{
    if (p)
        arbor__proc_hook_remove(p, &pd->hook);
    atomic_store_explicit(&pd->hooked, ARBOR_NOPID, memory_order_relaxed);
    arbor__pollfd_put(pd);
}

/* The owner exits: its socket closes. The hook's reference keeps the
 * record alive until here. */
static void hook_close(void *arg)
{
    arbor__pollfd_t *pd = arg;
    /* Its last words, without waiting: what does not fit in the kernel's
     * buffer now is lost, as a protocol's answer to its own crash may be. */
    if (pd->last_words && !arbor__pollfd_closing(pd))
        (void)!send(pd->fd, pd->last_words, pd->last_words_len, MSG_DONTWAIT | MSG_NOSIGNAL);
    arbor__pollfd_close(pd, false); /* ARBOR_ECLOSED when someone closed it first */
    atomic_store_explicit(&pd->hooked, ARBOR_NOPID, memory_order_relaxed);
    arbor__pollfd_put(pd);
}

/* ---- waiting ------------------------------------------------------------------------ */

/* Parks p until slot (NULL: nothing) turns READY, pd closes, p is told to
 * exit or deadline passes. A kill while parked must first let go of pd:
 * the exit is deferred until this returns, and the caller ends p. */
static int park_on(arbor__proc_t *p, arbor__pollfd_t *pd, _Atomic int *slot, uint64_t deadline)
{
    bool deferred = p->defer_exit;
    p->defer_exit = true;
    p->timed_out = false;
    int rc;
    for (;;) {
        if (arbor__pollfd_closing(pd)) {
            rc = ARBOR_ECLOSED;
            break;
        }
        if (slot && atomic_load_explicit(slot, memory_order_seq_cst) == ARBOR__SLOT_READY) {
            rc = 0;
            break;
        }
        if (p->dying && !deferred) {
            rc = ARBOR_EEXIT;
            break;
        }
        if (p->timed_out) {
            rc = ARBOR_ETIMEDOUT;
            break;
        }
        arbor__proc_wait(p, deadline);
    }
    if (deadline != UINT64_MAX)
        arbor__proc_wait_end(p);
    p->defer_exit = deferred;
    return rc;
}

int arbor__pollfd_wait(arbor__proc_t *p, arbor__pollfd_t *pd, int dir, uint64_t deadline)
{
    if (dir < 0)
        return park_on(p, pd, NULL, deadline);
    _Atomic int *slot = &pd->slot[dir];
    atomic_store_explicit(&pd->waiter[dir], p->pid, memory_order_relaxed);
    int v = atomic_load_explicit(slot, memory_order_seq_cst);
    for (;;) {
        if (v == ARBOR__SLOT_READY) {
            if (atomic_compare_exchange_weak_explicit(slot, &v, ARBOR__SLOT_IDLE,
                                                      memory_order_seq_cst, memory_order_seq_cst))
                return 0; /* an event came since the operation failed: try again */
            continue;
        }
        /* seq_cst: the announcement the poller's swap must see (netpoll.h). */
        if (atomic_compare_exchange_weak_explicit(slot, &v, ARBOR__SLOT_WAIT, memory_order_seq_cst,
                                                  memory_order_seq_cst))
            break;
    }
    int rc = park_on(p, pd, slot, deadline);
    /* Leave the slot: stop waiting, or take the readiness this wait used.
     * A readiness that came with a timeout stays for the next try. */
    int w = ARBOR__SLOT_WAIT;
    if (!atomic_compare_exchange_strong_explicit(slot, &w, ARBOR__SLOT_IDLE, memory_order_seq_cst,
                                                 memory_order_seq_cst) &&
        rc == 0)
        atomic_store_explicit(slot, ARBOR__SLOT_IDLE, memory_order_seq_cst);
    return rc;
}

void arbor__pollfd_notify(arbor__pollfd_t *pd, int dir)
{
    _Atomic int *slot = &pd->slot[dir];
    atomic_store_explicit(&pd->waiter[dir], atomic_load(&pd->owner), memory_order_relaxed);
    int v = atomic_load_explicit(slot, memory_order_seq_cst);
    for (;;) {
        if (v == ARBOR__SLOT_NOTIFY)
            return;
        if (v == ARBOR__SLOT_READY) {
            /* Ready already: the message goes now, as the poller would
             * send it (wake_slot() on an armed slot). */
            if (atomic_compare_exchange_weak_explicit(slot, &v, ARBOR__SLOT_NOTIFY,
                                                      memory_order_seq_cst, memory_order_seq_cst)) {
                wake_slot(pd, dir, arbor__pollfd_closing(pd));
                return;
            }
            continue;
        }
        if (atomic_compare_exchange_weak_explicit(slot, &v, ARBOR__SLOT_NOTIFY,
                                                  memory_order_seq_cst, memory_order_seq_cst))
            break;
    }
    /* Closed before it was armed: no event will come, so say so now. */
    if (arbor__pollfd_closing(pd))
        wake_slot(pd, dir, true);
}

/* ---- the schedulers' side ------------------------------------------------------------- */

bool arbor__netpoll_active(void)
{
    return atomic_load_explicit(&np.registered, memory_order_relaxed) != 0;
}

void arbor__netpoll_break(void)
{
    int zero = 0;
    if (!atomic_compare_exchange_strong_explicit(&np.wake_pending, &zero, 1, memory_order_seq_cst,
                                                 memory_order_relaxed))
        return; /* written already, not read yet: one is enough */
    uint64_t one = 1;
    while (write(np.evfd, &one, sizeof one) < 0 && errno == EINTR) {
    }
}

static void on_event(const struct epoll_event *ev)
{
    uint64_t handle = ev->data.u64;
    arbor__pollfd_t *pd = record_at((uint32_t)handle - 1);
    if (!pd)
        return;
    /* An event from before the record was closed and reused names an
     * older generation. One that races a close and reuse right now may
     * still land on the new socket: a spurious readiness, which the
     * waiter's retry of the operation absorbs. */
    if (GEN(atomic_load_explicit(&pd->state, memory_order_acquire)) != (uint32_t)(handle >> 32))
        return;
    uint32_t e = ev->events;
    if (__atomic_load_n(&pd->kind, __ATOMIC_RELAXED) == ARBOR__FD_BORROWED) {
        unsigned r = (e & (EPOLLIN | EPOLLHUP | EPOLLERR) ? ARBOR_READABLE : 0) |
                     (e & (EPOLLOUT | EPOLLHUP | EPOLLERR) ? ARBOR_WRITABLE : 0);
        atomic_fetch_or_explicit(&pd->revents, r, memory_order_relaxed);
        wake_slot(pd, ARBOR__DIR_READ, false);
        return;
    }
    if (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        wake_slot(pd, ARBOR__DIR_READ, false);
    if (e & (EPOLLOUT | EPOLLHUP | EPOLLERR))
        wake_slot(pd, ARBOR__DIR_WRITE, false);
}

bool arbor__netpoll_poll(uint64_t timeout_ns)
{
    int zero = 0;
    if (atomic_load_explicit(&np.polling, memory_order_relaxed) ||
        !atomic_compare_exchange_strong_explicit(&np.polling, &zero, 1, memory_order_acquire,
                                                 memory_order_relaxed))
        return false;
    int ms;
    if (timeout_ns == UINT64_MAX)
        ms = -1;
    else if (timeout_ns / 1000000u >= INT_MAX)
        ms = INT_MAX;
    else
        ms = (int)((timeout_ns + 999999u) / 1000000u);
    struct epoll_event evs[128];
    int n = epoll_wait(np.epfd, evs, 128, ms);
    atomic_store_explicit(&np.polling, 0, memory_order_release);
    for (int i = 0; i < n; i++) {
        if (evs[i].data.u64 == WAKE_TAG) {
            /* Read, then reset: a break after the reset writes again. One
             * that came between found the flag up and did not write; its
             * work is seen by the scheduler's look at its queues, which
             * follows the reset (both seq_cst). Resetting first could
             * instead swallow a write and leave the flag up for ever. */
            uint64_t count;
            while (read(np.evfd, &count, sizeof count) < 0 && errno == EINTR) {
            }
            atomic_store_explicit(&np.wake_pending, 0, memory_order_seq_cst);
            continue;
        }
        on_event(&evs[i]);
    }
    return true;
}

/*
 * Mailboxes: message nodes, the inbox every sender pushes into, and the
 * private queue only the owner reads.
 *
 * The inbox is Vyukov's intrusive multi-producer single-consumer queue: a
 * push is one atomic exchange plus one store, a pop uses plain loads, and
 * there is no ABA problem because only the owner pops. Exit, link, monitor
 * and timeout signals travel in the same inbox as messages, so everything one
 * sender sends arrives in the order sent. The owner drains the inbox into its
 * private queue: signals take effect as they are drained (ahead of the
 * messages still waiting in the private queue), messages are appended. A
 * plain receive with an empty private queue instead takes the inbox's next
 * node directly (proc.c, next_message()).
 *
 * The waking rule lives in proc.c: a sender pushes, then schedules the
 * receiver if and only if it finds it IDLE and wins the CAS to SCHEDULED.
 */
#ifndef ARBOR_RUNTIME_MAILBOX_H
#define ARBOR_RUNTIME_MAILBOX_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "arbor/message.h"
#include "arbor/reason.h"
#include "recycle.h"
#include "stats.h"

typedef struct arbor__node {
    _Atomic(struct arbor__node *) next;
} arbor__node_t;

typedef enum arbor__msg_kind {
    ARBOR__MSG = 0,       /* an ordinary message (also converted EXIT/DOWN) */
    ARBOR__SIG_EXIT,      /* exit signal: u.exit */
    ARBOR__SIG_LINK,      /* from wants a link */
    ARBOR__SIG_UNLINK,    /* short node: `word` is the pid that removed its link */
    ARBOR__SIG_MONITOR,   /* from monitors us with u.ref */
    ARBOR__SIG_DEMONITOR, /* short node: `word` is the monitor's reference */
    ARBOR__SIG_DOWN,      /* a process we monitor ended: u.down */
    ARBOR__SIG_TIMEOUT,   /* our receive/sleep timer fired: u.seq */
    ARBOR__SIG_JOB_DONE,  /* our blocking job finished */
    ARBOR__SIG_IO,        /* short node: a socket we wait on is ready (it only wakes us) */
    ARBOR__SIG_ADOPT,     /* short node: `word` is a socket handle given to us (net.c) */
    ARBOR__SIG_WATCH,     /* we monitor from with u.ref, at its asking (arbor_monitor_by) */
} arbor__msg_kind_t;

#define ARBOR__MSG_MOVED 1u /* data is a moved block released by free_fn */
#define ARBOR__MSG_KEEP  2u /* a reactor handler kept the message */
#define ARBOR__MSG_LINK  4u /* SIG_EXIT: caused by a linked process's death */
#define ARBOR__MSG_MONITOR                                                                         \
    8u /* MSG: from monitors us with u.ref (arbor_monitor_send);                                   \
        * SIG_EXIT: with pub.alias (arbor_monitor_exit) */
#define ARBOR__MSG_UNLINK                                                                          \
    16u /* SIG_EXIT: from removed its link with us first (arbor_monitor_exit) */
/* A node's payload area, set when it is made and kept for its life (also
 * once a signal is turned into a message): neither flag, the small area;
 * MID, the mid-sized one (recycled as ARBOR__RECYCLE_MSG_MID); BIG, one
 * larger than ARBOR__MID_PAYLOAD, from malloc and free()d. */
#define ARBOR__MSG_BIG 32u
#define ARBOR__MSG_MID 64u
/* MSG: its MSG_MONITOR was taken in, and u.ref still names that monitor
 * (arbor_answer_monitored() reads it). */
#define ARBOR__MSG_MONITORED 128u
/* MSG: an answer whose sender dropped the monitor u.ref on its side
 * (arbor_answer_monitored(), arbor_demonitor_answered()). */
#define ARBOR__MSG_DEMONITORED 256u

typedef struct arbor__msg {
    arbor__node_t node; /* inbox and private-queue link; must be first */
    uint32_t kind;
    uint32_t flags;
    union {
        arbor_msg_t pub; /* what the receiver sees */
        uint64_t word;   /* a short node's only field: see arbor__sig_new() */
    };
    void (*free_fn)(void *);
    union {
        arbor_exit_msg_t exit; /* SIG_EXIT and a trapped EXIT message */
        arbor_down_msg_t down; /* SIG_DOWN and a DOWN message */
        arbor_ref_t ref;       /* SIG_MONITOR, and a MSG flagged MSG_MONITOR */
        uint64_t seq;          /* SIG_TIMEOUT */
    } u;
    _Alignas(16) unsigned char payload[]; /* copied message bytes */
} arbor__msg_t;

#define ARBOR__MSG_OF(pub_ptr) ((arbor__msg_t *)((char *)(pub_ptr)-offsetof(arbor__msg_t, pub)))

typedef struct arbor__inbox {
    _Atomic(arbor__node_t *) head; /* producers: last pushed */
    /* consumer: next to pop. Atomic (relaxed) only because a scheduler
     * reads it in park() while the process may already run elsewhere. */
    _Atomic(arbor__node_t *) tail;
    arbor__node_t stub;
} arbor__inbox_t;

typedef struct arbor__queue {
    arbor__msg_t *head, *tail;
    size_t len;
} arbor__queue_t;

/* Copies a message's bytes into its node. Most payloads are a few words (a
 * counter, a pid, a call header): those are copied with a pair of moves
 * instead of a call into memcpy. */
static inline void arbor__payload_copy(void *dst, const void *src, size_t n)
{
    unsigned char *d = dst;
    const unsigned char *s = src;
    if (n >= 8 && n <= 16) {
        __builtin_memcpy(d, s, 8);
        __builtin_memcpy(d + n - 8, s + n - 8, 8);
    } else if (n >= 4 && n < 8) {
        __builtin_memcpy(d, s, 4);
        __builtin_memcpy(d + n - 4, s + n - 4, 4);
    } else if (n < 4) {
        for (size_t i = 0; i < n; i++)
            d[i] = s[i];
    } else {
        memcpy(d, s, n);
    }
}

/* Nodes with at most this much payload are recycled (recycle.h): signals,
 * replies, small messages, most traffic. */
#define ARBOR__SMALL_PAYLOAD 64
/* Nodes with more, up to this much, are recycled in a class of their own:
 * GenServer requests and replies of a few hundred bytes (the desk's changes
 * and the Agents' answers, about 7 a ticket in ticket_workflow) went to
 * malloc, which missed its thread cache for most of them. */
#define ARBOR__MID_PAYLOAD 1024

/* The out-of-line halves of the two functions below: a node that is not
 * small or not recycled yet, and a node that is not a small message. */
arbor__msg_t *arbor__msg_new_slow(uint32_t kind, size_t size);
void arbor__msg_destroy_slow(arbor__msg_t *m);

static inline void arbor__msg_init(arbor__msg_t *m, uint32_t kind, size_t size)
{
    m->kind = kind;
    m->flags = 0;
    m->pub.tag = 0;
    m->pub.from = ARBOR_NOPID;
    m->pub.size = size;
    m->pub.data = m->payload;
    m->pub.alias = 0;
    m->free_fn = NULL;
    ARBOR__STAT_ADD_DEBUG(live_messages, 1);
}

/* Allocates a node for kind with room for size payload bytes. NULL when out
 * of memory. Inline, as is arbor__msg_destroy(): every message makes one
 * and frees one (fork_join: 25 instructions of about 325 a message were
 * the two calls and the stores a send then overwrote). */
static inline arbor__msg_t *arbor__msg_new(uint32_t kind, size_t size)
{
    arbor__msg_t *m = size <= ARBOR__SMALL_PAYLOAD ? arbor__recycle_get(ARBOR__RECYCLE_MSG) : NULL;
    if (!m)
        return arbor__msg_new_slow(kind, size);
    arbor__msg_init(m, kind, size);
    return m;
}

/* Frees a node and, for moved messages, the block nobody took. */
static inline void arbor__msg_destroy(arbor__msg_t *m)
{
    /* A plain message's node whose size fits a small payload area has
     * one, unless its flags say it was made with a larger one. */
    if (m->kind == ARBOR__MSG &&
        !(m->flags & (ARBOR__MSG_MOVED | ARBOR__MSG_MID | ARBOR__MSG_BIG)) &&
        m->pub.size <= ARBOR__SMALL_PAYLOAD) {
        ARBOR__STAT_SUB_DEBUG(live_messages, 1);
        arbor__recycle_free(ARBOR__RECYCLE_MSG, m);
        return;
    }
    arbor__msg_destroy_slow(m);
}

/* A short node: a signal that carries one word and only tidies the
 * receiver's bookkeeping (SIG_UNLINK, SIG_DEMONITOR). Such a signal does
 * not wake its receiver (proc.c: send_lazy), so it may wait in an idle
 * process's inbox for as long as that process stays idle: every GenServer
 * that answered a call or was started holds one. The block therefore ends
 * at `word` (24 bytes, not a message node's 208); nothing past it may be
 * touched. Freed by arbor__msg_destroy(). NULL when out of memory. */
arbor__msg_t *arbor__sig_new(uint32_t kind, uint64_t word);

void arbor__inbox_init(arbor__inbox_t *q);
/* Links node n in: a message's, or the owner's stub (arbor__inbox_pop). */
static inline void arbor__inbox_push_node(arbor__inbox_t *q, arbor__node_t *n)
{
    atomic_store_explicit(&n->next, NULL, memory_order_relaxed);
    /* seq_cst, not just acq_rel: the push is one half of the Dekker pair
     * (push, then load the receiver's state) that proc.c relies on. */
    arbor__node_t *prev = atomic_exchange_explicit(&q->head, n, memory_order_seq_cst);
    /* release: the consumer that sees the link sees the node's contents. */
    atomic_store_explicit(&prev->next, n, memory_order_release);
}

/* Any thread. Full barrier (seq_cst exchange): see proc.c's wake protocol. */
static inline void arbor__inbox_push(arbor__inbox_t *q, arbor__msg_t *m)
{
    arbor__inbox_push_node(q, &m->node);
}
/* Owner only. NULL when empty or when a push is half-way (the pusher will
 * wake the owner once it completes). */
arbor__msg_t *arbor__inbox_pop(arbor__inbox_t *q);
/* Owner only: the messages (not signals) pushed and not popped yet. Walks
 * the inbox; for introspection. */
size_t arbor__inbox_messages(arbor__inbox_t *q);
/* Owner only, seq_cst: true if anything was pushed and not popped. */
bool arbor__inbox_nonempty(arbor__inbox_t *q);

/* Owner only, cheap: true when pop would find nothing (the tail is the
 * stub and nothing is linked after it; a push half-way counts as nothing
 * yet, as it does for pop). */
static inline bool arbor__inbox_drained(arbor__inbox_t *q)
{
    return atomic_load_explicit(&q->tail, memory_order_relaxed) == &q->stub &&
           !atomic_load_explicit(&q->stub.next, memory_order_acquire);
}

static inline void arbor__queue_append(arbor__queue_t *q, arbor__msg_t *m)
{
    atomic_store_explicit(&m->node.next, NULL, memory_order_relaxed);
    if (q->tail)
        atomic_store_explicit(&q->tail->node.next, &m->node, memory_order_relaxed);
    else
        q->head = m;
    q->tail = m;
    q->len++;
}

static inline arbor__msg_t *arbor__queue_next(const arbor__msg_t *m)
{
    return (arbor__msg_t *)atomic_load_explicit(&m->node.next, memory_order_relaxed);
}

/* Unlinks m, whose predecessor is prev (NULL when m is the head). */
static inline void arbor__queue_remove(arbor__queue_t *q, arbor__msg_t *prev, arbor__msg_t *m)
{
    arbor__msg_t *next = arbor__queue_next(m);
    if (prev)
        atomic_store_explicit(&prev->node.next, next ? &next->node : NULL, memory_order_relaxed);
    else
        q->head = next;
    if (q->tail == m)
        q->tail = prev;
    q->len--;
}

#endif

#include "mailbox.h"

#include <stddef.h>
#include <stdlib.h>

#include "recycle.h"
#include "stats.h"

arbor__msg_t *arbor__msg_new_slow(uint32_t kind, size_t size)
{
    arbor__msg_t *m;
    uint32_t area = 0;
    if (size <= ARBOR__SMALL_PAYLOAD) {
        m = malloc(sizeof *m + ARBOR__SMALL_PAYLOAD);
    } else if (size <= ARBOR__MID_PAYLOAD) {
        m = arbor__recycle_alloc(ARBOR__RECYCLE_MSG_MID, sizeof *m + ARBOR__MID_PAYLOAD);
        area = ARBOR__MSG_MID;
    } else {
        m = malloc(sizeof *m + size);
        area = ARBOR__MSG_BIG;
    }
    if (m) {
        arbor__msg_init(m, kind, size);
        m->flags = area;
    }
    return m;
}

#define SHORT_SIZE (offsetof(arbor__msg_t, word) + sizeof(uint64_t))

static bool is_short(uint32_t kind)
{
    return kind == ARBOR__SIG_UNLINK || kind == ARBOR__SIG_DEMONITOR || kind == ARBOR__SIG_IO ||
           kind == ARBOR__SIG_ADOPT;
}

arbor__msg_t *arbor__sig_new(uint32_t kind, uint64_t word)
{
    arbor__msg_t *m = arbor__recycle_alloc(ARBOR__RECYCLE_SIG, SHORT_SIZE);
    if (!m)
        return NULL;
    m->kind = kind;
    m->flags = 0;
    m->word = word;
    ARBOR__STAT_ADD_DEBUG(live_messages, 1);
    return m;
}

void arbor__msg_destroy_slow(arbor__msg_t *m)
{
    if (is_short(m->kind)) {
        ARBOR__STAT_SUB_DEBUG(live_messages, 1);
        arbor__recycle_free(ARBOR__RECYCLE_SIG, m);
        return;
    }
    if (m->flags & ARBOR__MSG_MOVED && m->pub.data)
        (m->free_fn ? m->free_fn : free)(m->pub.data);
    ARBOR__STAT_SUB_DEBUG(live_messages, 1);
    /* The payload area the node was made with, as its flags say (a moved
     * message's node, and a signal turned into a message, may have a size
     * that is not their area's). */
    if (m->flags & ARBOR__MSG_BIG)
        free(m);
    else if (m->flags & ARBOR__MSG_MID)
        arbor__recycle_free(ARBOR__RECYCLE_MSG_MID, m);
    else
        arbor__recycle_free(ARBOR__RECYCLE_MSG, m);
}

void arbor__inbox_init(arbor__inbox_t *q)
{
    atomic_init(&q->stub.next, NULL);
    atomic_init(&q->head, &q->stub);
    atomic_init(&q->tail, &q->stub);
}

arbor__msg_t *arbor__inbox_pop(arbor__inbox_t *q)
{
    arbor__node_t *tail = atomic_load_explicit(&q->tail, memory_order_relaxed);
    /* acquire pairs with the release store of the link in push. */
    arbor__node_t *next = atomic_load_explicit(&tail->next, memory_order_acquire);
    if (tail == &q->stub) {
        if (!next)
            return NULL;
        atomic_store_explicit(&q->tail, next, memory_order_relaxed);
        tail = next;
        next = atomic_load_explicit(&next->next, memory_order_acquire);
    }
    if (next) {
        atomic_store_explicit(&q->tail, next, memory_order_relaxed);
        /* The owner takes the next node soon, often after handling this
         * one: start its cache miss now (proc.c, next_message()). */
        __builtin_prefetch(next);
        return (arbor__msg_t *)tail;
    }
    arbor__node_t *head = atomic_load_explicit(&q->head, memory_order_acquire);
    if (tail != head)
        return NULL; /* a producer has exchanged head but not linked yet */
    arbor__inbox_push_node(q, &q->stub);
    next = atomic_load_explicit(&tail->next, memory_order_acquire);
    if (next) {
        atomic_store_explicit(&q->tail, next, memory_order_relaxed);
        return (arbor__msg_t *)tail;
    }
    return NULL;
}

size_t arbor__inbox_messages(arbor__inbox_t *q)
{
    size_t n = 0;
    arbor__node_t *node = atomic_load_explicit(&q->tail, memory_order_relaxed);
    for (; node; node = atomic_load_explicit(&node->next, memory_order_acquire))
        if (node != &q->stub && ((arbor__msg_t *)node)->kind == ARBOR__MSG)
            n++;
    return n;
}

bool arbor__inbox_nonempty(arbor__inbox_t *q)
{
    /* seq_cst: the other half of the Dekker pair (see push). The queue is
     * empty exactly when the producers' head is the node we would pop next
     * and it has no successor. */
    arbor__node_t *head = atomic_load_explicit(&q->head, memory_order_seq_cst);
    if (head != atomic_load_explicit(&q->tail, memory_order_relaxed))
        return true;
    return head != &q->stub;
}

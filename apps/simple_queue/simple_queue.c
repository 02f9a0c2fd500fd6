/*
 * The queue server. Its state is a growable array in process memory, so a
 * crash loses it and the supervisor's restart begins again from the child
 * spec's initial values: "as if nothing had happened".
 */
#include "simple_queue.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { ENQUEUE = 1, DEQUEUE, LIST };

typedef struct queue {
    long *items;
    size_t head, len, cap;
} queue_t;

static bool push(queue_t *q, long v)
{
    if (q->head + q->len == q->cap) {
        if (q->head) {
            memmove(q->items, q->items + q->head, q->len * sizeof *q->items);
            q->head = 0;
        } else {
            size_t cap = q->cap ? q->cap * 2 : 16;
            long *items = arbor_realloc(q->items, cap * sizeof *items);
            if (!items)
                return false;
            q->items = items;
            q->cap = cap;
        }
    }
    q->items[q->head + q->len++] = v;
    return true;
}

static arbor_gs_ret_t sq_init(void **state, void *arg)
{
    const simple_queue_init_t *init = arg;
    queue_t *q = arbor_calloc(1, sizeof *q);
    if (!q)
        return arbor_gs_halt(arbor_error("out of memory"));
    for (int i = 0; init && i < init->n; i++)
        if (!push(q, init->values[i]))
            return arbor_gs_halt(arbor_error("out of memory"));
    *state = q;
    return arbor_gs_ok();
}

typedef struct {
    int rc;
    long value;
} dequeue_reply_t;

static arbor_gs_ret_t sq_call(void **state, const arbor_msg_t *req, arbor_from_t from)
{
    queue_t *q = *state;
    switch (req->tag) {
    case ENQUEUE: {
        int rc = req->size == sizeof(long) && push(q, *(const long *)req->data) ? 0 : ARBOR_ENOMEM;
        return arbor_gs_reply(&rc, sizeof rc);
    }
    case DEQUEUE: {
        dequeue_reply_t r = {ARBOR_ENOENT, 0};
        if (q->len) {
            r = (dequeue_reply_t){0, q->items[q->head++]};
            q->len--;
        }
        return arbor_gs_reply(&r, sizeof r);
    }
    case LIST:
        return arbor_gs_reply(q->items + q->head, q->len * sizeof *q->items);
    default:
        return arbor_gs_halt(arbor_error("unknown request %llu", (unsigned long long)req->tag));
    }
}

static void sq_status(void *state, char *buf, size_t size)
{
    const queue_t *q = state;
    snprintf(buf, size, "length=%zu", q ? q->len : 0);
}

static const arbor_gen_server_t simple_queue = {
    .label = "SimpleQueue", .init = sq_init, .handle_call = sq_call, .format_status = sq_status};

int simple_queue_start(void *init, arbor_pid_t *pid, arbor_reason_t *err)
{
    arbor_gs_opts_t o = {.link = true, .name = SIMPLE_QUEUE_NAME};
    return arbor_gs_start(&simple_queue, init, &o, pid, err);
}

static int call(uint64_t tag, const void *req, size_t size, arbor_msg_t **reply)
{
    arbor_pid_t pid = arbor_whereis(SIMPLE_QUEUE_NAME);
    if (!pid)
        return ARBOR_ENOPROC;
    return arbor_gs_call(pid, tag, req, size, ARBOR_GS_CALL_TIMEOUT, reply, NULL);
}

int simple_queue_enqueue(long value)
{
    arbor_msg_t *m;
    int rc = call(ENQUEUE, &value, sizeof value, &m);
    if (rc)
        return rc;
    rc = *(int *)m->data;
    arbor_msg_free(m);
    return rc;
}

int simple_queue_dequeue(long *value)
{
    arbor_msg_t *m;
    int rc = call(DEQUEUE, NULL, 0, &m);
    if (rc)
        return rc;
    dequeue_reply_t r = *(dequeue_reply_t *)m->data;
    arbor_msg_free(m);
    if (r.rc == 0)
        *value = r.value;
    return r.rc;
}

int simple_queue_list(long **values, size_t *n)
{
    arbor_msg_t *m;
    int rc = call(LIST, NULL, 0, &m);
    if (rc)
        return rc;
    size_t len = m->size / sizeof(long);
    long *copy = len ? malloc(len * sizeof *copy) : NULL;
    if (len && !copy) {
        arbor_msg_free(m);
        return ARBOR_ENOMEM;
    }
    if (len)
        memcpy(copy, m->data, len * sizeof *copy);
    arbor_msg_free(m);
    *values = copy;
    *n = len;
    return 0;
}

/*
 * Introspection: a snapshot of a process read from its atomics, without
 * stopping it.
 */
#include <string.h>

#include "arbor/error.h"
#include "name.h"
#include "proc.h"
#include "sched.h"
#include "table.h"

int arbor_process_info(arbor_pid_t pid, arbor_process_info_t *info)
{
    if (!info)
        return ARBOR_EINVAL;
    arbor__proc_t *p = arbor__table_ref(pid);
    if (!p)
        return ARBOR_ENOPROC;
    memset(info, 0, sizeof *info);
    info->pid = pid;
    info->status = atomic_load_explicit(&p->status, memory_order_relaxed);
    info->message_queue_len = atomic_load_explicit(&p->queue_len, memory_order_relaxed);
    /* Only the owner may walk its inbox (arbor_receive() takes messages
     * from it one at a time, so a backlog may wait there). */
    if (p == arbor__proc_current())
        info->message_queue_len += arbor__inbox_messages(&p->inbox);
    info->heap_bytes = atomic_load_explicit(&p->heap_bytes, memory_order_relaxed);
    info->holds_stack = atomic_load_explicit(&p->holds_stack, memory_order_relaxed);
    info->memory = sizeof *p + info->heap_bytes;
    if (info->holds_stack)
        info->memory += arbor__rt.cfg.stack_size;
    info->reactive = p->reactive;
    info->trap_exit = atomic_load_explicit(&p->trap_exit, memory_order_relaxed);
    info->links = atomic_load_explicit(&p->n_links, memory_order_relaxed);
    info->monitors = atomic_load_explicit(&p->n_monitors, memory_order_relaxed);
    info->monitored_by = atomic_load_explicit(&p->n_monitored_by, memory_order_relaxed);
    info->reductions = atomic_load_explicit(&p->reductions_total, memory_order_relaxed);
    const char *label = atomic_load_explicit(&p->label, memory_order_relaxed);
    info->label = label ? label : "";
    arbor__name_copy(p, info->name, sizeof info->name);
    arbor__table_unref(p);
    return 0;
}

typedef struct {
    arbor_pid_t *buf;
    size_t cap, n;
} collect_t;

static void collect(arbor__proc_t *p, void *ctx)
{
    collect_t *c = ctx;
    if (c->n < c->cap)
        c->buf[c->n] = p->pid;
    c->n++;
}

int arbor_processes(arbor_pid_t *buf, size_t cap, size_t *count)
{
    if (!count || (cap && !buf))
        return ARBOR_EINVAL;
    collect_t c = {buf, cap, 0};
    arbor__table_foreach(collect, &c);
    *count = c.n;
    return 0;
}

bool arbor_alive(arbor_pid_t pid)
{
    arbor__proc_t *p = arbor__table_ref(pid);
    if (!p)
        return false;
    bool alive = atomic_load_explicit(&p->sched, memory_order_acquire) != ARBOR__DEAD;
    arbor__table_unref(p);
    return alive;
}

/*
 * Processes: spawning, the activation trampoline, the wake protocol,
 * signal handling (exits, links, monitors) and exit clean-up.
 *
 * Signals are processed by their receiver when it drains its inbox, in the
 * order each sender sent them. Applying the exit-signal table there (and
 * not at the sender) means a process's links and monitors are only ever
 * touched by the thread running it, so they need no lock.
 *
 * A process dies at a safe point of its own (a drain, or arbor_exit()). The
 * stack is then released by the scheduler, and arbor__proc_finish() tells
 * links and monitors. The control block lives on until the last table
 * reference is dropped (table.h), and any signal pushed into the inbox in
 * the meantime is answered by arbor__proc_free(): a late link gets an exit
 * with noproc, a late monitor a DOWN with noproc. The block itself is freed
 * later still, when no scheduler can be delivering a plain message to it
 * (reclaim.h).
 */
#include "proc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arbor/error.h"
#include "blocking.h"
#include "heap.h"
#include "name.h"
#include "netpoll.h"
#include "reclaim.h"
#include "recycle.h"
#include "sched.h"
#include "stats.h"
#include "table.h"
#include "timer.h"

/* What a spawn, or an exit signal to another process, costs in reductions:
 * a slice's worth of them (2000 / 16 = 125) fits in half a run queue (128).
 * Each may make a process runnable, so a process spawning or killing in a
 * loop yields before those overflow its scheduler's run queue into the
 * shared one, and they run (and end) while still warm in the cache. */
#define WAKE_REDUCTIONS 16

static _Noreturn void die_now(arbor__proc_t *p);
static void charge_wake(arbor__proc_t *self);
static inline void take(arbor__proc_t *p, arbor__msg_t *prev, arbor__msg_t *m);
static void take_exit_riders(arbor__proc_t *p, arbor__msg_t *m);
static void switch_out(arbor__proc_t *p, arbor__yield_t y);
static arbor_ref_t monitor_rider(arbor__msg_t *m);
static arbor__msg_t *down_signal(arbor_ref_t ref, arbor_pid_t pid, arbor_reason_t reason);

/* ---- creation ----------------------------------------------------------------- */

/* Allocates and registers a process (table slot, pid) in state SCHEDULED;
 * the caller enqueues it. NULL with *err set on failure. */
static arbor__proc_t *new_proc(bool reactive, int *err)
{
    if (!atomic_load_explicit(&arbor__running, memory_order_acquire)) {
        *err = ARBOR_ESHUTDOWN;
        return NULL;
    }
    arbor__proc_t *p = arbor__recycle_alloc(ARBOR__RECYCLE_PROC, sizeof *p);
    if (!p) {
        *err = ARBOR_ENOMEM;
        return NULL;
    }
    memset(p, 0, sizeof *p);
    p->links.set = true; /* pid -> nothing */
    arbor__inbox_init(&p->inbox);
    atomic_init(&p->sched, ARBOR__SCHEDULED);
    atomic_init(&p->status, ARBOR_STATUS_RUNNABLE);
    p->reactive = reactive;
    arbor__sched_t *s = arbor__sched_current();
    int e = arbor__table_insert(p, s ? &s->slots : NULL);
    if (e) {
        arbor__recycle_free(ARBOR__RECYCLE_PROC, p);
        *err = e;
        return NULL;
    }
    atomic_fetch_add_explicit(&arbor__rt.live, 1, memory_order_relaxed);
    ARBOR__STAT_ADD(processes_spawned, 1);
    ARBOR__STAT_ADD(live_processes, 1);
    return p;
}

/* A fresh monitor reference. */
static arbor_ref_t new_ref(void)
{
    static _Atomic uint64_t foreign;
    arbor__sched_t *s = arbor__sched_current();
    if (s)
        return (++s->ref_counter << 12) | (s->id + 1);
    return (atomic_fetch_add_explicit(&foreign, 1, memory_order_relaxed) + 1) << 12;
}

static void set_count(_Atomic uint32_t *c, const arbor__u64map_t *m)
{
    atomic_store_explicit(c, m->count, memory_order_relaxed);
}

/* The monitors on p (refs -> the pids monitoring it): one in p->watch1_ref
 * while that is free, the others in p->monitored. */
static void watched_count(arbor__proc_t *p)
{
    atomic_store_explicit(&p->n_monitored_by, p->monitored.count + (p->watch1_ref != 0),
                          memory_order_relaxed);
}

static bool watched_put(arbor__proc_t *p, arbor_ref_t ref, arbor_pid_t from)
{
    if (!p->watch1_ref) {
        p->watch1_ref = ref;
        p->watch1_pid = from;
    } else if (!arbor__u64map_put(&p->monitored, ref, from)) {
        return false;
    }
    watched_count(p);
    return true;
}

static bool watched_get(const arbor__proc_t *p, arbor_ref_t ref, uint64_t *from)
{
    if (ref && ref == p->watch1_ref) {
        *from = p->watch1_pid;
        return true;
    }
    return arbor__u64map_get(&p->monitored, ref, from);
}

static void watched_del(arbor__proc_t *p, arbor_ref_t ref)
{
    if (ref && ref == p->watch1_ref)
        p->watch1_ref = p->watch1_pid = 0;
    else if (!arbor__u64map_del(&p->monitored, ref, NULL))
        return;
    watched_count(p);
}

arbor__proc_rare_t *arbor__proc_rare(arbor__proc_t *p)
{
    if (!p->rare)
        p->rare = calloc(1, sizeof *p->rare); /* an empty alias map, no hooks */
    return p->rare;
}

/* Frees p's rare record once what it held is gone (a process's end). */
static void free_rare(arbor__proc_t *p)
{
    free(p->rare);
    p->rare = NULL;
}

/* The detail of a death for want of memory, which needs none (p->exit_oom). */
static const char oom_detail[] = "out of memory";

static void release_exit_detail(arbor__proc_t *p)
{
    p->exit_oom = false;
    if (p->rare) {
        free(p->rare->exit_detail);
        p->rare->exit_detail = NULL;
    }
}

/* Decides p's death and its reason, replacing any reason decided before.
 * Only the kind is kept in the control block; a detail costs a block of
 * its own (lost, leaving the kind, when there is no memory for it), so
 * that the common reasons cost nothing. */
static void set_exit_reason(arbor__proc_t *p, const arbor_reason_t *reason)
{
    p->dying = true;
    p->exit_kind = (uint8_t)reason->kind;
    const char *text = arbor_reason_text(reason);
    char *copy = text[0] ? strdup(text) : NULL; /* text may be the old detail */
    release_exit_detail(p);
    if (copy && arbor__proc_rare(p))
        p->rare->exit_detail = copy;
    else
        free(copy);
}

/* p's reason; its whole text, if long, is the exit detail's until
 * release_exit_detail(). */
static arbor_reason_t exit_reason(const arbor__proc_t *p)
{
    arbor_reason_t r = ARBOR_REASON(p->exit_kind);
    const char *detail = p->exit_oom ? oom_detail : p->rare ? p->rare->exit_detail : NULL;
    if (detail && snprintf(r.detail, sizeof r.detail, "%s", detail) > ARBOR_REASON_DETAIL_MAX)
        r.whole = detail;
    return r;
}

/* A converted EXIT or DOWN is freed by arbor__msg_destroy()'s slow path,
 * which reads its payload area from its flags. */
_Static_assert(sizeof(arbor_exit_msg_t) > ARBOR__SMALL_PAYLOAD &&
                   sizeof(arbor_down_msg_t) > ARBOR__SMALL_PAYLOAD,
               "EXIT and DOWN messages must take the slow path to be freed");

/* A node for an EXIT or DOWN signal whose payload area holds the reason's
 * whole text when it is long; reason_into_node() then points the node's
 * reason at it, so the text lives exactly as long as the node. */
static arbor__msg_t *reason_node(uint32_t kind, const arbor_reason_t *reason)
{
    size_t n = reason->whole ? strlen(reason->whole) + 1 : 0;
    arbor__msg_t *m = arbor__msg_new(kind, n); /* its flags say its area's size */
    if (m && n)
        memcpy(m->payload, reason->whole, n);
    return m;
}

static void reason_into_node(arbor__msg_t *m, arbor_reason_t *slot, const arbor_reason_t *reason)
{
    *slot = *reason;
    if (reason->whole)
        slot->whole = (const char *)m->payload;
}

static void oom_die(arbor__proc_t *p)
{
    set_exit_reason(p, &ARBOR_REASON(ARBOR_EXIT_ERROR));
    p->exit_oom = true;
}

/* Links and monitors a new, not yet running, child to the calling process.
 * The child cannot run before it is enqueued, so its maps are ours to set. */
static int attach_child(arbor__proc_t *self, arbor__proc_t *child, const arbor_spawn_opts_t *o,
                        arbor_ref_t *ref_out)
{
    if (o->link) {
        if (!arbor__u64map_put(&self->links, child->pid, 1) ||
            !arbor__u64map_put(&child->links, self->pid, 1))
            return ARBOR_ENOMEM;
        set_count(&self->n_links, &self->links);
        set_count(&child->n_links, &child->links);
    }
    if (o->monitor) {
        arbor_ref_t ref = new_ref();
        if (!arbor__u64map_put(&self->monitors, ref, child->pid) ||
            !watched_put(child, ref, self->pid))
            return ARBOR_ENOMEM;
        set_count(&self->n_monitors, &self->monitors);
        if (ref_out)
            *ref_out = ref;
    }
    return 0;
}

/* Undoes a spawn that failed after the child got a pid. */
static void abandon_child(arbor__proc_t *self, arbor__proc_t *child)
{
    if (self) {
        arbor__u64map_del(&self->links, child->pid, NULL);
        set_count(&self->n_links, &self->links);
        uint32_t pos = 0;
        uint64_t ref, pid;
        while (arbor__u64map_next(&self->monitors, &pos, &ref, &pid)) {
            if (pid == child->pid) {
                arbor__u64map_del(&self->monitors, ref, NULL);
                break;
            }
        }
        set_count(&self->n_monitors, &self->monitors);
    }
    arbor__u64map_free(&child->links);
    arbor__u64map_free(&child->monitored);
    arbor__heap_release(child);
    atomic_store(&child->sched, ARBOR__DEAD);
    arbor__table_kill(child);
    arbor__sched_process_finished();
}

static int spawn_common(arbor__proc_t *p, const arbor_spawn_opts_t *opts, arbor_pid_t *pid_out,
                        arbor_ref_t *ref_out)
{
    static const arbor_spawn_opts_t none;
    const arbor_spawn_opts_t *o = opts ? opts : &none;
    arbor__proc_t *self = arbor__proc_current();
    if (o->arg_size) {
        /* The child does not run yet: its heap is ours to fill. */
        void **argp = p->reactive ? &p->u.reactor.state : &p->u.spawned.arg;
        void *copy = arbor__heap_alloc_for(p, o->arg_size);
        if (!copy) {
            abandon_child(self, p);
            return ARBOR_ENOMEM;
        }
        memcpy(copy, *argp, o->arg_size);
        *argp = copy;
    }
    atomic_store_explicit(&p->trap_exit, o->trap_exit, memory_order_relaxed);
    atomic_store_explicit(&p->label, o->label, memory_order_relaxed);
    if (self) {
        int err = attach_child(self, p, o, ref_out);
        if (err) {
            abandon_child(self, p);
            return err;
        }
    }
    if (pid_out)
        *pid_out = p->pid;
    arbor_pid_t pid = p->pid;
    /* A reactive child (a GenServer, a supervisor) is started synchronously:
     * its parent waits for its init at once, so it runs next, here. A plain
     * one is more often parallel work: the ring, where others may take it. */
    arbor__sched_enqueue(p, p->reactive);
    /* A spawn racing with the runtime's shutdown may have been missed by
     * the kill sweep; kill it ourselves (see arbor__root_exited). */
    if (atomic_load_explicit(&arbor__rt.root_exited, memory_order_seq_cst))
        arbor_exit_pid(pid, ARBOR_KILL);
    if (self)
        charge_wake(self);
    return 0;
}

int arbor_spawn_opt(arbor_entry_fn fn, void *arg, const arbor_spawn_opts_t *opts,
                    arbor_pid_t *pid_out, arbor_ref_t *ref_out)
{
    if (!fn || (opts && opts->arg_size && !arg))
        return ARBOR_EINVAL;
    if (opts && (opts->link || opts->monitor) && !arbor__proc_current())
        return ARBOR_ENOTPROC;
    int err;
    arbor__proc_t *p = new_proc(false, &err);
    if (!p)
        return err;
    p->u.spawned.fn = fn;
    p->u.spawned.arg = arg;
    return spawn_common(p, opts, pid_out, ref_out);
}

int arbor_spawn(arbor_entry_fn fn, void *arg, arbor_pid_t *pid_out)
{
    return arbor_spawn_opt(fn, arg, NULL, pid_out, NULL);
}

int arbor_spawn_link(arbor_entry_fn fn, void *arg, arbor_pid_t *pid_out)
{
    arbor_spawn_opts_t o = {.link = true};
    return arbor_spawn_opt(fn, arg, &o, pid_out, NULL);
}

int arbor_spawn_monitor(arbor_entry_fn fn, void *arg, arbor_pid_t *pid_out, arbor_ref_t *ref_out)
{
    arbor_spawn_opts_t o = {.monitor = true};
    return arbor_spawn_opt(fn, arg, &o, pid_out, ref_out);
}

int arbor_spawn_reactor(const arbor_reactor_t *ops, void *state, const arbor_spawn_opts_t *opts,
                        arbor_pid_t *pid_out, arbor_ref_t *ref_out)
{
    if (!ops || !ops->handle || (opts && opts->arg_size && !state))
        return ARBOR_EINVAL;
    if (opts && (opts->link || opts->monitor) && !arbor__proc_current())
        return ARBOR_ENOTPROC;
    int err;
    arbor__proc_t *p = new_proc(true, &err);
    if (!p)
        return err;
    p->u.reactor.ops = ops;
    p->u.reactor.state = state;
    return spawn_common(p, opts, pid_out, ref_out);
}

/* ---- switching ----------------------------------------------------------------- */

/* Counts n reductions of the running process p: in its slice, and in
 * the total that arbor_process_info() shows (only p's thread stores it,
 * so a load and a store, not an atomic add). */
static inline void charge(arbor__proc_t *p, uint32_t n)
{
    p->reductions = (uint16_t)(p->reductions + n);
    uint64_t total = atomic_load_explicit(&p->reductions_total, memory_order_relaxed);
    atomic_store_explicit(&p->reductions_total, total + n, memory_order_relaxed);
}

/* Charges self WAKE_REDUCTIONS for a spawn or an exit signal. */
static void charge_wake(arbor__proc_t *self)
{
    charge(self, WAKE_REDUCTIONS - 1);
    arbor__proc_tick(self);
}

void arbor__proc_tick(arbor__proc_t *p)
{
    charge(p, 1);
    if (p->reductions < ARBOR__REDUCTIONS)
        return;
    switch_out(p, ARBOR__Y_YIELD);
    arbor__proc_drain(p);
}

/* Sets the errno of the thread running now. Not inlined, nor analysed
 * across calls: glibc declares __errno_location() const, so within one
 * function the compiler may keep errno's address from before a switch and
 * write, after it, to the errno of the thread the process left (where
 * another process may be running by then). */
static __attribute__((noinline, noipa)) void set_errno_here(int e)
{
    errno = e;
}

/* Switches from the running process to its scheduler with reason y.
 * Returns when the process is resumed. */
static void switch_out(arbor__proc_t *p, arbor__yield_t y)
{
    p->yield = y; /* its reductions pass on to runnext: see sched.h */
    p->saved_errno = errno;
    arbor__sched_leave(p);
    /* Possibly on another thread now: re-read nothing cached from before. */
    set_errno_here(p->saved_errno);
}

static _Noreturn void die_now(arbor__proc_t *p)
{
    switch_out(p, ARBOR__Y_EXIT);
    abort(); /* unreachable: a dead context is never resumed */
}

_Noreturn void arbor__proc_die(arbor__proc_t *p)
{
    die_now(p);
}

static void reactor_loop(arbor__proc_t *p)
{
    const arbor_reactor_t *ops = p->u.reactor.ops;
    for (;;) {
        arbor__proc_drain(p);
        if (!p->reactor_initialised) {
            p->reactor_initialised = true;
            if (ops->init)
                ops->init(&p->u.reactor.state);
            continue;
        }
        arbor__msg_t *m = p->queue.head;
        if (!m)
            switch_out(p, ARBOR__Y_REACTOR_IDLE);
        /* Each message handled costs a reduction, as a receive does, so a
         * reactive receiver gets as long a slice as the sender feeding it
         * and a backlog does not grow without bound. */
        charge(p, 1);
        if (p->reductions >= ARBOR__REDUCTIONS)
            switch_out(p, ARBOR__Y_REACTOR_YIELD);
        take(p, NULL, m);
        p->u.reactor.current = m;
        ops->handle(p->u.reactor.state, &m->pub);
        p->u.reactor.current = NULL;
        if (!(m->flags & ARBOR__MSG_KEEP))
            arbor__msg_destroy(m);
    }
}

void arbor__proc_entry(void *arg)
{
    arbor__proc_t *p = arg;
    arbor__sched_after_switch(arbor__sched_current());
    arbor__proc_drain(p); /* a kill sent before the first run ends us here */
    if (p->reactive)
        reactor_loop(p);
    p->u.spawned.fn(p->u.spawned.arg);
    arbor_exit(ARBOR_NORMAL);
}

/* ---- delivery ------------------------------------------------------------------- */

/* Pushes m into p's inbox and schedules p if it was idle. Any thread; the
 * caller holds a table reference on p. */
static void deliver(arbor__proc_t *p, arbor__msg_t *m)
{
    arbor__inbox_push(&p->inbox, m);
    /* seq_cst load after the seq_cst push: see park() in sched.c. */
    if (atomic_load_explicit(&p->sched, memory_order_seq_cst) != ARBOR__IDLE)
        return;
    uint8_t idle = ARBOR__IDLE;
    if (atomic_compare_exchange_strong_explicit(&p->sched, &idle, ARBOR__SCHEDULED,
                                                memory_order_seq_cst, memory_order_relaxed))
        arbor__sched_enqueue(p, true);
}

bool arbor__send_node(arbor_pid_t pid, arbor__msg_t *m)
{
    arbor__proc_t *p = arbor__table_ref(pid);
    if (!p) {
        arbor__msg_destroy(m);
        return false;
    }
    bool is_exit = m->kind == ARBOR__SIG_EXIT;
    deliver(p, m);
    /* Every exit signal to another process comes through here. The flag
     * goes up after the push, with release: a receiver that sees it finds
     * the signal in its inbox (next_message()). */
    if (is_exit)
        atomic_store_explicit(&p->exit_pending, true, memory_order_release);
    arbor__table_unref(p);
    return true;
}

/* Queues a signal that only tidies the receiver's bookkeeping (unlink,
 * demonitor): it takes effect whenever the receiver next runs, so it does
 * not wake it. Waking a server after every call just to forget the
 * caller's monitor would cost a whole activation. Safe because the sender
 * has already forgotten its side: a DOWN or EXIT the receiver sends before
 * it gets to the signal is dropped by the sender. */
static void send_lazy(arbor_pid_t pid, arbor__msg_t *m)
{
    arbor__proc_t *p = arbor__table_ref(pid);
    if (!p) {
        arbor__msg_destroy(m);
        return;
    }
    arbor__inbox_push(&p->inbox, m);
    arbor__table_unref(p);
}

static arbor_pid_t self_pid(void)
{
    arbor__proc_t *p = arbor__proc_current();
    return p ? p->pid : ARBOR_NOPID;
}

static bool tag_allowed(uint64_t tag)
{
    return tag < ARBOR_TAG_SYSTEM || tag >= ARBOR_TAG_OTP;
}

/* The receiver of a plain message, or NULL if it is dead. A process (on a
 * scheduler thread) finds it without taking a reference (reclaim.h): a
 * plain message needs no answer from a receiver that dies meanwhile, and
 * the runtime's busiest path then writes nothing to the receiver's table
 * slot. Any other caller gets a reference, to drop after delivering. */
static arbor__proc_t *plain_receiver(const arbor__proc_t *self, arbor_pid_t to)
{
    return self ? arbor__table_peek(to) : arbor__table_ref(to);
}

/* Gives back what plain_receiver() took. */
static void release_receiver(const arbor__proc_t *self, arbor__proc_t *p)
{
    if (!self)
        arbor__table_unref(p);
}

/* Inline in both public sends: the call it saves is a tenth of a send. */
static inline __attribute__((always_inline)) int send_copy(arbor_pid_t to, arbor_ref_t alias,
                                                           uint64_t tag, const void *data,
                                                           size_t size, arbor_ref_t answered)
{
    if (to == ARBOR_NOPID || !tag_allowed(tag) || (size && !data))
        return ARBOR_EINVAL;
    if (size > ARBOR_MSG_MAX)
        return ARBOR_ETOOBIG;
    arbor__proc_t *self = arbor__proc_current(); /* nothing below switches until the tick */
    arbor__proc_t *p = plain_receiver(self, to);
    if (!p)
        return 0; /* Erlang: sending to a dead process is not an error */
    arbor__msg_t *m = arbor__msg_new(ARBOR__MSG, size);
    if (!m) {
        release_receiver(self, p);
        return ARBOR_ENOMEM;
    }
    if (answered) {
        /* Dropped before the answer goes: a DOWN for it can no longer be
         * sent (arbor_answer_monitored()). */
        watched_del(self, answered);
        m->flags |= ARBOR__MSG_DEMONITORED;
        m->u.ref = answered;
    }
    m->pub.tag = tag;
    m->pub.from = self ? self->pid : ARBOR_NOPID;
    m->pub.alias = alias;
    arbor__payload_copy(m->payload, data, size);
    deliver(p, m);
    release_receiver(self, p);
    if (self)
        arbor__proc_tick(self);
    return 0;
}

int arbor_send(arbor_pid_t to, uint64_t tag, const void *data, size_t size)
{
    return send_copy(to, 0, tag, data, size, 0);
}

int arbor_send_alias(arbor_pid_t pid, arbor_ref_t alias, uint64_t tag, const void *data,
                     size_t size)
{
    if (alias == 0)
        return ARBOR_EINVAL;
    return send_copy(pid, alias, tag, data, size, 0);
}

int arbor_answer_monitored(const arbor_msg_t *call, arbor_ref_t alias, uint64_t tag,
                           const void *data, size_t size)
{
    arbor__proc_t *self = arbor__proc_current();
    const arbor__msg_t *c = call ? ARBOR__MSG_OF(call) : NULL;
    uint64_t holder;
    if (!self || !c || c->kind != ARBOR__MSG || !(c->flags & ARBOR__MSG_MONITORED) || alias == 0 ||
        call->from == ARBOR_NOPID || !watched_get(self, c->u.ref, &holder) || holder != call->from)
        return arbor_send_alias(call ? call->from : ARBOR_NOPID, alias, tag, data, size);
    return send_copy(call->from, alias, tag, data, size, c->u.ref);
}

int arbor_demonitor_answered(arbor_ref_t ref, const arbor_msg_t *answer)
{
    arbor__proc_t *p = arbor__proc_current();
    if (!p)
        return ARBOR_ENOTPROC;
    const arbor__msg_t *a = answer ? ARBOR__MSG_OF(answer) : NULL;
    if (!a || a->kind != ARBOR__MSG || !(a->flags & ARBOR__MSG_DEMONITORED) || a->u.ref != ref)
        return arbor_demonitor(ref, ARBOR_DEMONITOR_FLUSH);
    /* The other side dropped it when it answered: ours alone goes. No DOWN
     * for it can be queued (ours was in the map until now, and a DOWN is
     * queued only while it is). */
    if (!arbor__u64map_del(&p->monitors, ref, NULL))
        return ARBOR_ENOENT;
    set_count(&p->n_monitors, &p->monitors);
    return 0;
}

/* Active aliases and how many of their messages are queued. A process
 * rarely has more than one at a time (a call in progress), so the first
 * lives in p->alias1 and only the others in the map: a GenServer call
 * makes no map operation for its alias. */
static bool alias_add(arbor__proc_t *p, arbor_ref_t alias)
{
    if (!p->alias1) {
        p->alias1 = alias;
        p->alias1_queued = 0;
        return true;
    }
    if (!arbor__proc_rare(p))
        return false;
    return arbor__u64map_put(&p->rare->aliases, alias, 0);
}

static void free_aliases(arbor__proc_t *p)
{
    if (p->rare)
        arbor__u64map_free(&p->rare->aliases);
}

/* The aliases beyond the first: an empty map when there are none. */
static const arbor__u64map_t *more_aliases(const arbor__proc_t *p)
{
    static const arbor__u64map_t none;
    return p->rare ? &p->rare->aliases : &none;
}

/* Adds delta to alias's queued count; false if alias is not active. */
static bool alias_count(arbor__proc_t *p, arbor_ref_t alias, int delta)
{
    if (alias == p->alias1) {
        p->alias1_queued += (uint32_t)delta;
        return true;
    }
    uint64_t n;
    if (!arbor__u64map_get(more_aliases(p), alias, &n))
        return false;
    arbor__u64map_put(&p->rare->aliases, alias,
                      n + (uint64_t)(int64_t)delta); /* replaces: cannot fail */
    return true;
}

int arbor_alias(arbor_ref_t *alias_out)
{
    arbor__proc_t *p = arbor__proc_current();
    if (!p)
        return ARBOR_ENOTPROC;
    if (!alias_out)
        return ARBOR_EINVAL;
    arbor_ref_t ref = new_ref();
    if (!alias_add(p, ref))
        return ARBOR_ENOMEM;
    *alias_out = ref;
    return 0;
}

int arbor_unalias(arbor_ref_t alias)
{
    arbor__proc_t *p = arbor__proc_current();
    if (!p)
        return ARBOR_ENOTPROC;
    uint64_t queued;
    if (alias && alias == p->alias1)
        queued = p->alias1_queued;
    else if (!arbor__u64map_get(more_aliases(p), alias, &queued))
        return ARBOR_ENOENT;
    /* Drop what already arrived through it: counted, so the usual case
     * (nothing queued, e.g. a call whose reply was taken) scans nothing. */
    arbor__msg_t *prev = NULL, *m = p->queue.head;
    while (queued && m) {
        arbor__msg_t *next = arbor__queue_next(m);
        if (m->kind == ARBOR__MSG && m->pub.alias == alias) {
            take(p, prev, m);
            arbor__msg_destroy(m);
            queued--;
        } else {
            prev = m;
        }
        m = next;
    }
    /* Deactivate last: what is still in the inbox is dropped as it drains. */
    if (alias == p->alias1)
        p->alias1 = 0;
    else
        arbor__u64map_del(&p->rare->aliases, alias, NULL);
    return 0;
}

int arbor_send_move(arbor_pid_t to, uint64_t tag, void *ptr, size_t size, void (*free_fn)(void *))
{
    if (to == ARBOR_NOPID || !tag_allowed(tag))
        return ARBOR_EINVAL;
    arbor__msg_t *m = arbor__msg_new(ARBOR__MSG, 0);
    if (!m)
        return ARBOR_ENOMEM;
    m->flags = ARBOR__MSG_MOVED;
    m->free_fn = free_fn;
    m->pub.tag = tag;
    m->pub.from = self_pid();
    m->pub.size = size;
    m->pub.data = ptr;
    arbor__proc_t *self = arbor__proc_current();
    arbor__proc_t *p = plain_receiver(self, to);
    if (!p) {
        arbor__msg_destroy(m); /* a dead receiver: free_fn runs */
        return 0;
    }
    deliver(p, m);
    release_receiver(self, p);
    return 0;
}

/* ---- the private queue --------------------------------------------------------------- */

/* Takes m (whose predecessor is prev) out of p's queue, keeping the receive
 * mark and the per-alias counts right. Every removal goes through here. */
static inline __attribute__((always_inline)) void take(arbor__proc_t *p, arbor__msg_t *prev,
                                                       arbor__msg_t *m)
{
    if (p->has_mark && p->mark == m)
        p->mark = prev; /* the mark moves back to a message still queued */
    arbor__queue_remove(&p->queue, prev, m);
    atomic_store_explicit(&p->queue_len, (uint32_t)p->queue.len, memory_order_relaxed);
    if (m->kind == ARBOR__MSG && m->pub.alias)
        alias_count(p, m->pub.alias, -1);
}

/* ---- draining and signals ------------------------------------------------------------ */

static void to_message(arbor__msg_t *m, uint64_t tag, void *data, size_t size, arbor_pid_t from)
{
    m->kind = ARBOR__MSG;
    m->pub.tag = tag;
    m->pub.data = data;
    m->pub.size = size;
    m->pub.from = from;
}

static void decide_death(arbor__proc_t *p, arbor_reason_t reason)
{
    if (p->dying)
        return; /* the first decision stands */
    set_exit_reason(p, &reason);
}

/* The exit-signal table of docs/otp-semantics.md, section "Exit signals". */
static void on_exit_signal(arbor__proc_t *p, arbor__msg_t *m)
{
    take_exit_riders(p, m);
    arbor_pid_t from = m->u.exit.from;
    arbor_reason_t *r = &m->u.exit.reason;
    bool via_link = m->flags & ARBOR__MSG_LINK;
    if (via_link) {
        if (!arbor__u64map_del(&p->links, from, NULL)) {
            arbor__msg_destroy(m); /* unlinked meanwhile: no signal */
            return;
        }
        set_count(&p->n_links, &p->links);
    }
    if (!via_link && r->kind == ARBOR_EXIT_KILL) {
        decide_death(p, ARBOR_KILLED); /* untrappable */
        arbor__msg_destroy(m);
        return;
    }
    if (atomic_load_explicit(&p->trap_exit, memory_order_relaxed)) {
        to_message(m, ARBOR_TAG_EXIT, &m->u.exit, sizeof m->u.exit, from);
        arbor__queue_append(&p->queue, m);
        return;
    }
    if (r->kind != ARBOR_EXIT_NORMAL)
        decide_death(p, *r);
    else if (from == p->pid && !via_link)
        decide_death(p, ARBOR_NORMAL); /* exit(self(), normal) */
    arbor__msg_destroy(m);
}

/* From starts monitoring p with ref (SIG_MONITOR, a message sent with
 * arbor_monitor_send(), an exit signal sent with arbor_monitor_exit()). */
static void take_monitor(arbor__proc_t *p, arbor_ref_t ref, arbor_pid_t from)
{
    if (watched_put(p, ref, from))
        return;
    /* No memory to remember the monitor: we die of it (unless a death is
     * decided already, as while exiting), and the monitoring process hears
     * so now, since our exit could not tell it (a caller waiting without a
     * timeout would wait for ever). */
    if (!p->dying)
        oom_die(p);
    arbor__msg_t *d = down_signal(ref, p->pid, exit_reason(p));
    if (d)
        arbor__send_node(from, d);
}

/* What an exit signal from arbor_monitor_exit() carries before the exit
 * itself: the sender's monitor, and the removal of its link. */
static void take_exit_riders(arbor__proc_t *p, arbor__msg_t *m)
{
    if (m->flags & ARBOR__MSG_UNLINK) {
        arbor__u64map_del(&p->links, m->u.exit.from, NULL);
        set_count(&p->n_links, &p->links);
    }
    if (m->flags & ARBOR__MSG_MONITOR) {
        take_monitor(p, monitor_rider(m), m->pub.from);
        m->pub.alias = 0; /* a trapped exit becomes a plain message */
    }
    m->flags &= ~(ARBOR__MSG_UNLINK | ARBOR__MSG_MONITOR);
}

/* Whether p is exiting (arbor__proc_finish()): its exit hooks have run or
 * are running, so a socket handed to it now would never be closed. */
static bool exiting(const arbor__proc_t *p)
{
    return atomic_load_explicit(&p->status, memory_order_relaxed) == ARBOR_STATUS_EXITING;
}

/* Takes one signal (or a message that needs bookkeeping) into p, live or
 * dying: the one place that says what each does. */
static void on_signal(arbor__proc_t *p, arbor__msg_t *m)
{
    switch ((arbor__msg_kind_t)m->kind) {
    case ARBOR__MSG:
        if (m->flags & ARBOR__MSG_MONITOR) {
            m->flags = (m->flags & ~ARBOR__MSG_MONITOR) | ARBOR__MSG_MONITORED;
            take_monitor(p, m->u.ref, m->pub.from);
        }
        if (m->pub.alias && !alias_count(p, m->pub.alias, 1))
            break; /* sent to an alias no longer active: dropped */
        arbor__queue_append(&p->queue, m);
        return;
    case ARBOR__SIG_EXIT:
        on_exit_signal(p, m);
        return;
    case ARBOR__SIG_LINK:
        if (!arbor__u64map_put(&p->links, m->pub.from, 1))
            oom_die(p);
        set_count(&p->n_links, &p->links);
        break;
    case ARBOR__SIG_UNLINK:
        arbor__u64map_del(&p->links, m->word, NULL);
        set_count(&p->n_links, &p->links);
        break;
    case ARBOR__SIG_MONITOR:
        take_monitor(p, m->u.ref, m->pub.from);
        break;
    case ARBOR__SIG_DEMONITOR:
        watched_del(p, m->word);
        break;
    case ARBOR__SIG_DOWN:
        if (arbor__u64map_del(&p->monitors, m->u.down.ref, NULL)) {
            set_count(&p->n_monitors, &p->monitors);
            to_message(m, ARBOR_TAG_DOWN, &m->u.down, sizeof m->u.down, m->u.down.pid);
            arbor__queue_append(&p->queue, m);
            return;
        }
        break; /* demonitored meanwhile */
    case ARBOR__SIG_TIMEOUT:
        if (m->u.seq == p->wait_seq)
            p->timed_out = true;
        break;
    case ARBOR__SIG_JOB_DONE:
        p->job_done = true;
        break;
    case ARBOR__SIG_IO:
        break; /* it woke us: the waiter looks at its socket */
    case ARBOR__SIG_WATCH:
        /* from made us monitor it; its side is in its map already. */
        if (!arbor__u64map_put(&p->monitors, m->u.ref, m->pub.from))
            oom_die(p);
        set_count(&p->n_monitors, &p->monitors);
        break;
    case ARBOR__SIG_ADOPT:
        if (exiting(p))
            arbor__net_orphan(m->word); /* its exit hooks have run: none would close it */
        else if (!arbor__net_adopt(p, m->word))
            oom_die(p);
        break;
    }
    arbor__msg_destroy(m);
}

/* Most of the traffic: a message that needs no bookkeeping when taken in
 * (no monitor to take, no alias to count). */
static inline bool is_plain(const arbor__msg_t *m)
{
    return m->kind == ARBOR__MSG && !(m->flags & ARBOR__MSG_MONITOR) && !m->pub.alias;
}

/* Takes in what reached p's inbox: plain messages join the queue, the
 * rest go through on_signal(). One path for a live process (drain_inbox())
 * and a dying one (arbor__proc_finish()). */
static inline __attribute__((always_inline)) void take_in(arbor__proc_t *p)
{
    arbor__msg_t *m;
    while ((m = arbor__inbox_pop(&p->inbox))) {
        if (is_plain(m))
            arbor__queue_append(&p->queue, m);
        else
            on_signal(p, m);
    }
}

static void __attribute__((noinline)) drain_inbox(arbor__proc_t *p)
{
    /* Every exit signal flagged before this takes effect below. */
    if (atomic_load_explicit(&p->exit_pending, memory_order_relaxed))
        atomic_exchange_explicit(&p->exit_pending, false, memory_order_acquire);
    take_in(p);
    atomic_store_explicit(&p->queue_len, (uint32_t)p->queue.len, memory_order_relaxed);
    if (p->dying && !p->defer_exit)
        die_now(p);
}

void arbor__proc_drain(arbor__proc_t *p)
{
    /* The common case before a wait, checked inline: nothing came and no
     * exit is pending. */
    if (!p->dying && arbor__inbox_drained(&p->inbox))
        return;
    drain_inbox(p);
}

/* ---- waiting ----------------------------------------------------------------------- */

/* Switches p out until something arrives in its inbox or deadline passes
 * (then p->timed_out is set once the timer's signal is taken in). */
static void suspend(arbor__proc_t *p, uint64_t deadline)
{
    if (deadline != UINT64_MAX && !p->wait_timer) {
        p->timed_out = false;
        p->wait_seq++;
        arbor__msg_t *node = arbor__msg_new(ARBOR__SIG_TIMEOUT, 0);
        if (node) {
            node->u.seq = p->wait_seq;
            p->wait_timer = arbor__timer_start(p->pid, node, deadline, 1);
        }
        if (!p->wait_timer) {
            /* No memory for a timer: time out at once rather than hang. */
            p->timed_out = true;
            return;
        }
    }
    switch_out(p, ARBOR__Y_WAIT);
}

void arbor__proc_wait(arbor__proc_t *p, uint64_t deadline)
{
    suspend(p, deadline);
    arbor__proc_drain(p);
}

void arbor__proc_wait_end(arbor__proc_t *p)
{
    if (p->wait_timer) {
        arbor__timer_cancel(p->wait_timer);
        p->wait_timer = NULL;
    }
    p->wait_seq++; /* a timeout still in flight is now stale */
    p->timed_out = false;
}

uint64_t arbor__proc_deadline(int64_t timeout_ms)
{
    if (timeout_ms < 0)
        return UINT64_MAX;
    return arbor_now_ms() + (uint64_t)timeout_ms;
}

int arbor_receive_mark(void)
{
    arbor__proc_t *p = arbor__proc_current();
    if (!p)
        return ARBOR_ENOTPROC;
    arbor__proc_drain(p);
    p->mark = p->queue.tail;
    p->has_mark = true;
    return 0;
}

/* A receive found nothing: false if its time is up, else suspends p until
 * something comes or the deadline, computed at the first wait, passes. */
static bool suspend_for_receive(arbor__proc_t *p, int64_t timeout_ms, uint64_t *deadline)
{
    if (timeout_ms == 0 || p->timed_out)
        return false;
    if (timeout_ms > 0 && *deadline == UINT64_MAX)
        *deadline = arbor__proc_deadline(timeout_ms);
    suspend(p, *deadline);
    return true;
}

/* The general receive: scans the queue with match from the mark, waits. */
static int __attribute__((noinline))
receive_scan(arbor__proc_t *p, bool marked, arbor_match_fn match, void *arg, int64_t timeout_ms,
             arbor_msg_t **out)
{
    arbor__proc_drain(p);
    uint64_t deadline = UINT64_MAX; /* computed when we first have to wait */
    /* The last message examined and not matched; with a mark, everything
     * up to the mark counts as examined. take() keeps the mark valid. */
    arbor__msg_t *prev = marked && p->has_mark ? p->mark : NULL;
    for (;;) {
        arbor__msg_t *m = prev ? arbor__queue_next(prev) : p->queue.head;
        for (; m; prev = m, m = arbor__queue_next(m)) {
            if (match && !match(&m->pub, arg))
                continue;
            take(p, prev, m);
            arbor__proc_wait_end(p);
            *out = &m->pub;
            return 0;
        }
        if (!suspend_for_receive(p, timeout_ms, &deadline)) {
            arbor__proc_wait_end(p);
            return ARBOR_ETIMEDOUT;
        }
        arbor__proc_drain(p);
    }
}

/* The next message for a receive that takes whatever comes first: the head
 * of the private queue, or else the next one in the inbox, taken from it
 * directly instead of draining the inbox first. A drain walks every node
 * queued, one cache miss after another, before the first is handled; taken
 * one at a time, each node's miss overlaps the handling of the one before
 * (arbor__inbox_pop() prefetches it): fork_join 42 -> 54 M msgs/s.
 *
 * Signals met on the way take effect in their order. An exit signal behind
 * messages is flagged by its sender (exit_pending) and makes the whole
 * inbox drain first, so that a kill does not wait for a backlog, as in
 * Erlang, where a process handles its incoming signals before a receive.
 * NULL when there is nothing yet. */
static inline __attribute__((always_inline)) arbor__msg_t *next_message(arbor__proc_t *p)
{
    for (;;) {
        if (p->dying || atomic_load_explicit(&p->exit_pending, memory_order_relaxed)) {
            drain_inbox(p); /* dies here, unless inside arbor_blocking() */
            break;
        }
        if (p->queue.head)
            break;
        arbor__msg_t *m = arbor__inbox_pop(&p->inbox);
        if (!m || is_plain(m))
            return m;
        on_signal(p, m); /* may decide our death, or queue the message it turns into */
    }
    arbor__msg_t *m = p->queue.head;
    if (m)
        take(p, NULL, m);
    return m;
}

/* next_message(), waiting for it until timeout_ms has passed. */
static int __attribute__((noinline))
receive_wait(arbor__proc_t *p, int64_t timeout_ms, arbor_msg_t **out)
{
    uint64_t deadline = UINT64_MAX;
    while (suspend_for_receive(p, timeout_ms, &deadline)) {
        arbor__msg_t *m = next_message(p);
        if (m) {
            arbor__proc_wait_end(p);
            *out = &m->pub;
            return 0;
        }
    }
    arbor__proc_wait_end(p);
    return ARBOR_ETIMEDOUT;
}

/* Most receives take the first message that comes: that case is inline in
 * the public calls, with none of the scan's bookkeeping. */
static inline __attribute__((always_inline)) int receive(arbor__proc_t *p, bool marked,
                                                         arbor_match_fn match, void *arg,
                                                         int64_t timeout_ms, arbor_msg_t **out)
{
    /* Count the receive before taking anything: a yield here may end in a
     * kill, and no message may be in our hands then. */
    arbor__proc_tick(p);
    if (match || (marked && p->has_mark))
        return receive_scan(p, marked, match, arg, timeout_ms, out);
    arbor__msg_t *m = next_message(p);
    if (!m)
        return receive_wait(p, timeout_ms, out);
    arbor__proc_wait_end(p);
    *out = &m->pub;
    return 0;
}

/* The public receives: the caller's process, checked arguments, and a
 * marked receive forgets its mark once done. */
static inline __attribute__((always_inline)) int
receive_public(bool marked, arbor_match_fn match, void *arg, int64_t timeout_ms, arbor_msg_t **out)
{
    arbor__proc_t *p = arbor__proc_current();
    if (!p)
        return ARBOR_ENOTPROC;
    if (!out)
        return ARBOR_EINVAL;
    int rc = receive(p, marked, match, arg, timeout_ms, out);
    if (marked)
        p->has_mark = false;
    return rc;
}

int arbor_receive_match(arbor_match_fn match, void *arg, int64_t timeout_ms, arbor_msg_t **out)
{
    return receive_public(false, match, arg, timeout_ms, out);
}

int arbor_receive_match_marked(arbor_match_fn match, void *arg, int64_t timeout_ms,
                               arbor_msg_t **out)
{
    return receive_public(true, match, arg, timeout_ms, out);
}

int arbor_receive(int64_t timeout_ms, arbor_msg_t **out)
{
    return receive_public(false, NULL, NULL, timeout_ms, out);
}

void arbor_msg_free(arbor_msg_t *msg)
{
    if (msg)
        arbor__msg_destroy(ARBOR__MSG_OF(msg));
}

void *arbor_msg_take(arbor_msg_t *msg)
{
    arbor__msg_t *m = ARBOR__MSG_OF(msg);
    if (!(m->flags & ARBOR__MSG_MOVED))
        return NULL;
    m->flags &= ~ARBOR__MSG_MOVED;
    return m->pub.data;
}

void arbor_msg_keep(arbor_msg_t *msg)
{
    ARBOR__MSG_OF(msg)->flags |= ARBOR__MSG_KEEP;
}

int arbor_sleep(uint64_t ms)
{
    arbor__proc_t *p = arbor__proc_current();
    if (!p)
        return ARBOR_ENOTPROC;
    uint64_t deadline = arbor_now_ms() + ms;
    p->timed_out = false;
    while (!p->timed_out)
        arbor__proc_wait(p, deadline);
    arbor__proc_wait_end(p);
    return 0;
}

void arbor_yield(void)
{
    arbor__proc_t *p = arbor__proc_current();
    if (!p)
        return;
    switch_out(p, ARBOR__Y_YIELD);
    arbor__proc_drain(p);
}

int arbor_blocking(void *(*fn)(void *), void *arg, void **result)
{
    arbor__proc_t *p = arbor__proc_current();
    if (!p)
        return ARBOR_ENOTPROC;
    if (!fn)
        return ARBOR_EINVAL;
    arbor__job_t job = {.fn = fn, .arg = arg, .pid = p->pid};
    job.done = arbor__msg_new(ARBOR__SIG_JOB_DONE, 0);
    if (!job.done)
        return ARBOR_ENOMEM;
    p->job_done = false;
    bool deferred = p->defer_exit; /* a caller may defer the exit beyond the job */
    p->defer_exit = true;
    arbor__blocking_submit(&job);
    while (!p->job_done) {
        switch_out(p, ARBOR__Y_WAIT);
        arbor__proc_drain(p);
    }
    p->defer_exit = deferred;
    if (result)
        *result = job.result;
    if (p->dying && !deferred)
        die_now(p);
    return 0;
}

/* ---- exits, links, monitors --------------------------------------------------------- */

_Noreturn void arbor_exit(arbor_reason_t reason)
{
    arbor__proc_t *p = arbor__proc_current();
    if (!p) {
        fprintf(stderr, "arbor: arbor_exit() called outside a process\n");
        abort();
    }
    set_exit_reason(p, &reason);
    die_now(p);
}

static arbor__msg_t *exit_signal(arbor_pid_t from, arbor_reason_t reason, bool via_link)
{
    arbor__msg_t *m = reason_node(ARBOR__SIG_EXIT, &reason);
    if (!m)
        return NULL;
    m->pub.from = from;
    m->u.exit.from = from;
    reason_into_node(m, &m->u.exit.reason, &reason);
    if (via_link)
        m->flags |= ARBOR__MSG_LINK;
    return m;
}

int arbor_exit_pid(arbor_pid_t pid, arbor_reason_t reason)
{
    if (pid == ARBOR_NOPID)
        return ARBOR_EINVAL;
    arbor__proc_t *self = arbor__proc_current();
    arbor__msg_t *m = exit_signal(self ? self->pid : ARBOR_NOPID, reason, false);
    if (!m)
        return ARBOR_ENOMEM;
    arbor__send_node(pid, m);
    if (self && pid == self->pid)
        arbor__proc_drain(self); /* takes effect now, as in Erlang */
    else if (self)
        charge_wake(self);
    return 0;
}

/* Queues a message for the running process itself, behind what is already
 * in its inbox. */
static void to_self(arbor__proc_t *p, arbor__msg_t *m)
{
    deliver(p, m);
}

int arbor_link(arbor_pid_t pid)
{
    arbor__proc_t *p = arbor__proc_current();
    if (!p)
        return ARBOR_ENOTPROC;
    if (pid == ARBOR_NOPID)
        return ARBOR_EINVAL;
    if (pid == p->pid || arbor__u64map_get(&p->links, pid, NULL))
        return 0;
    arbor__proc_t *t = arbor__table_ref(pid);
    if (!t) {
        if (!atomic_load_explicit(&p->trap_exit, memory_order_relaxed))
            return ARBOR_ENOPROC;
        /* Erlang: a trapping caller gets {'EXIT', Pid, noproc}. */
        arbor__msg_t *m = exit_signal(pid, ARBOR_NOPROC, false);
        if (!m)
            return ARBOR_ENOMEM;
        to_self(p, m);
        return 0;
    }
    arbor__msg_t *m = arbor__msg_new(ARBOR__SIG_LINK, 0);
    if (!m || !arbor__u64map_put(&p->links, pid, 1)) {
        if (m)
            arbor__msg_destroy(m);
        arbor__table_unref(t);
        return ARBOR_ENOMEM;
    }
    set_count(&p->n_links, &p->links);
    m->pub.from = p->pid;
    deliver(t, m);
    arbor__table_unref(t);
    return 0;
}

int arbor_unlink(arbor_pid_t pid)
{
    arbor__proc_t *p = arbor__proc_current();
    if (!p)
        return ARBOR_ENOTPROC;
    if (!arbor__u64map_del(&p->links, pid, NULL))
        return 0;
    set_count(&p->n_links, &p->links);
    arbor__msg_t *m = arbor__sig_new(ARBOR__SIG_UNLINK, p->pid);
    if (!m)
        return 0; /* the peer keeps a one-sided link; its exit is ignored here */
    send_lazy(pid, m);
    return 0;
}

bool arbor_trap_exit(bool on)
{
    arbor__proc_t *p = arbor__proc_current();
    if (!p)
        return false;
    return atomic_exchange_explicit(&p->trap_exit, on, memory_order_relaxed);
}

bool arbor_trapping_exits(void)
{
    arbor__proc_t *p = arbor__proc_current();
    return p && atomic_load_explicit(&p->trap_exit, memory_order_relaxed);
}

bool arbor_linked(arbor_pid_t pid)
{
    /* The links map is the owner's alone: no lock, no atomic. */
    arbor__proc_t *p = arbor__proc_current();
    return p && pid != ARBOR_NOPID && arbor__u64map_get(&p->links, pid, NULL);
}

static arbor__msg_t *down_signal(arbor_ref_t ref, arbor_pid_t pid, arbor_reason_t reason)
{
    arbor__msg_t *m = reason_node(ARBOR__SIG_DOWN, &reason);
    if (!m)
        return NULL;
    m->pub.from = pid;
    m->u.down.ref = ref;
    m->u.down.pid = pid;
    reason_into_node(m, &m->u.down.reason, &reason);
    return m;
}

/* Where a node that starts a monitor keeps the monitor's reference: u.ref,
 * or, in an exit signal (whose u holds the exit), the alias field that
 * signals do not use otherwise. Its monitoring process is m->pub.from. */
static arbor_ref_t *monitor_ref_slot(arbor__msg_t *m)
{
    return m->kind == ARBOR__SIG_EXIT ? &m->pub.alias : &m->u.ref;
}

/* The reference of the monitor m starts (0 if none): a SIG_MONITOR, a
 * message from arbor_monitor_send(), an exit signal from
 * arbor_monitor_exit(). */
static arbor_ref_t monitor_rider(arbor__msg_t *m)
{
    if (m->kind == ARBOR__SIG_MONITOR ||
        ((m->kind == ARBOR__MSG || m->kind == ARBOR__SIG_EXIT) && (m->flags & ARBOR__MSG_MONITOR)))
        return *monitor_ref_slot(m);
    return 0;
}

/* Starts monitoring pid with a fresh ref and sends pid m, the node that
 * carries the monitor: a SIG_MONITOR, or a message flagged
 * ARBOR__MSG_MONITOR (arbor_monitor_send). A dead pid gets us a DOWN with
 * noproc; a monitor on oneself is kept but never fires while alive (a
 * message to oneself is delivered as a plain one). Takes m. */
static int monitor_with(arbor__proc_t *p, arbor_pid_t pid, arbor__msg_t *m, arbor_ref_t *ref_out)
{
    arbor_ref_t ref = new_ref();
    if (!arbor__u64map_put(&p->monitors, ref, pid)) {
        arbor__msg_destroy(m);
        return ARBOR_ENOMEM;
    }
    set_count(&p->n_monitors, &p->monitors);
    m->pub.from = p->pid;
    *monitor_ref_slot(m) = ref;
    *ref_out = ref;
    if (pid == p->pid) {
        if (m->kind == ARBOR__MSG) {
            m->flags &= ~ARBOR__MSG_MONITOR;
            arbor__send_node(pid, m);
        } else {
            arbor__msg_destroy(m);
        }
        return 0;
    }
    if (!arbor__send_node(pid, m)) {
        arbor__msg_t *down = down_signal(ref, pid, ARBOR_NOPROC);
        if (!down) {
            arbor__u64map_del(&p->monitors, ref, NULL);
            set_count(&p->n_monitors, &p->monitors);
            return ARBOR_ENOMEM;
        }
        to_self(p, down);
    }
    return 0;
}

int arbor_monitor(arbor_pid_t pid, arbor_ref_t *ref_out)
{
    arbor__proc_t *p = arbor__proc_current();
    if (!p)
        return ARBOR_ENOTPROC;
    if (pid == ARBOR_NOPID || !ref_out)
        return ARBOR_EINVAL;
    arbor__msg_t *m = arbor__msg_new(ARBOR__SIG_MONITOR, 0);
    if (!m)
        return ARBOR_ENOMEM;
    return monitor_with(p, pid, m, ref_out);
}

int arbor_monitor_send(arbor_pid_t pid, uint64_t tag, const void *data, size_t size,
                       arbor_ref_t *ref_out)
{
    return arbor_monitor_send_parts(pid, tag, data, size, NULL, 0, ref_out);
}

int arbor_monitor_send_parts(arbor_pid_t pid, uint64_t tag, const void *head, size_t head_size,
                             const void *body, size_t body_size, arbor_ref_t *ref_out)
{
    arbor__proc_t *p = arbor__proc_current();
    if (!p)
        return ARBOR_ENOTPROC;
    if (pid == ARBOR_NOPID || !ref_out || !tag_allowed(tag) || (head_size && !head) ||
        (body_size && !body))
        return ARBOR_EINVAL;
    if (head_size > ARBOR_MSG_MAX || body_size > ARBOR_MSG_MAX - head_size)
        return ARBOR_ETOOBIG;
    arbor__msg_t *m = arbor__msg_new(ARBOR__MSG, head_size + body_size);
    if (!m)
        return ARBOR_ENOMEM;
    m->flags |= ARBOR__MSG_MONITOR;
    m->pub.tag = tag;
    arbor__payload_copy(m->payload, head, head_size);
    if (body_size)
        arbor__payload_copy(m->payload + head_size, body, body_size);
    int rc = monitor_with(p, pid, m, ref_out);
    if (rc == 0)
        arbor__proc_tick(p);
    return rc;
}

int arbor_monitor_by(arbor_pid_t watcher, arbor_ref_t *ref_out)
{
    arbor__proc_t *p = arbor__proc_current();
    if (!p)
        return ARBOR_ENOTPROC;
    if (watcher == ARBOR_NOPID || watcher == p->pid || !ref_out)
        return ARBOR_EINVAL;
    arbor__msg_t *m = arbor__msg_new(ARBOR__SIG_WATCH, 0);
    if (!m)
        return ARBOR_ENOMEM;
    arbor_ref_t ref = new_ref();
    if (!watched_put(p, ref, watcher)) {
        arbor__msg_destroy(m);
        return ARBOR_ENOMEM;
    }
    m->pub.from = p->pid;
    m->u.ref = ref;
    if (!arbor__send_node(watcher, m)) {
        watched_del(p, ref);
        return ARBOR_ENOPROC;
    }
    *ref_out = ref;
    return 0;
}

int arbor_monitor_exit(arbor_pid_t pid, arbor_reason_t reason, arbor_ref_t *ref_out)
{
    arbor__proc_t *p = arbor__proc_current();
    if (!p)
        return ARBOR_ENOTPROC;
    if (pid == ARBOR_NOPID || !ref_out)
        return ARBOR_EINVAL;
    if (pid == p->pid) {
        int rc = arbor_monitor(pid, ref_out);
        return rc ? rc : arbor_exit_pid(pid, reason);
    }
    arbor__msg_t *m = exit_signal(p->pid, reason, false);
    if (!m)
        return ARBOR_ENOMEM;
    m->flags |= ARBOR__MSG_MONITOR;
    bool linked = arbor__u64map_get(&p->links, pid, NULL);
    if (linked)
        m->flags |= ARBOR__MSG_UNLINK;
    int rc = monitor_with(p, pid, m, ref_out);
    if (rc)
        return rc;
    /* Our side of the link goes before anything is drained: an EXIT from
     * it that is already on its way is then dropped, as after arbor_unlink(). */
    if (linked) {
        arbor__u64map_del(&p->links, pid, NULL);
        set_count(&p->n_links, &p->links);
    }
    charge_wake(p);
    return 0;
}

static bool is_down_for(const arbor_msg_t *msg, void *arg)
{
    return msg->tag == ARBOR_TAG_DOWN &&
           ((arbor_down_msg_t *)msg->data)->ref == *(arbor_ref_t *)arg;
}

int arbor_demonitor(arbor_ref_t ref, unsigned flags)
{
    arbor__proc_t *p = arbor__proc_current();
    if (!p)
        return ARBOR_ENOTPROC;
    uint64_t pid;
    if (!arbor__u64map_del(&p->monitors, ref, &pid)) {
        if (flags & ARBOR_DEMONITOR_FLUSH) {
            /* The DOWN may already be queued: remove it. */
            arbor_msg_t *msg;
            arbor__proc_drain(p);
            if (arbor_receive_match(is_down_for, &ref, 0, &msg) == 0) {
                arbor_msg_free(msg);
                return 0;
            }
        }
        return ARBOR_ENOENT;
    }
    set_count(&p->n_monitors, &p->monitors);
    if (pid != p->pid) {
        arbor__msg_t *m = arbor__sig_new(ARBOR__SIG_DEMONITOR, ref);
        if (m)
            send_lazy(pid, m);
    }
    return 0;
}

/* ---- exit hooks ------------------------------------------------------------------- */

typedef arbor__exit_hook_t exit_hook_t;

bool arbor__proc_hook_add(arbor__proc_t *p, arbor__exit_hook_t *h)
{
    if (!arbor__proc_rare(p))
        return false;
    h->next = p->rare->exit_hooks;
    p->rare->exit_hooks = h;
    return true;
}

void arbor__proc_hook_remove(arbor__proc_t *p, arbor__exit_hook_t *h)
{
    if (!p->rare)
        return;
    for (arbor__exit_hook_t **at = &p->rare->exit_hooks; *at; at = &(*at)->next) {
        if (*at == h) {
            *at = h->next;
            return;
        }
    }
}

int arbor_on_exit(void (*fn)(void *arg), void *arg)
{
    arbor__proc_t *p = arbor__proc_current();
    if (!p)
        return ARBOR_ENOTPROC;
    if (!fn)
        return ARBOR_EINVAL;
    exit_hook_t *h = arbor_alloc(sizeof *h); /* freed with the process */
    if (!h)
        return ARBOR_ENOMEM;
    *h = (exit_hook_t){NULL, fn, arg};
    if (!arbor__proc_hook_add(p, h)) {
        arbor_free(h);
        return ARBOR_ENOMEM;
    }
    return 0;
}

/* ---- death ----------------------------------------------------------------------- */

/* Signals that reached a process after it stopped draining. `reason` is
 * what late linkers and monitors are told. */
static void answer_late_signals(arbor__proc_t *p, const arbor_reason_t *reason)
{
    arbor__msg_t *m;
    while ((m = arbor__inbox_pop(&p->inbox))) {
        arbor_ref_t ref = monitor_rider(m);
        bool link = m->kind == ARBOR__SIG_LINK;
        /* A short node (unlink, demonitor) ends before pub.from. */
        arbor_pid_t from = link || ref ? m->pub.from : ARBOR_NOPID;
        if (m->kind == ARBOR__SIG_ADOPT)
            arbor__net_orphan(m->word);
        if (m->kind == ARBOR__SIG_WATCH) {
            /* Too late to monitor it: its side of the monitor goes. */
            arbor__msg_t *dm = arbor__sig_new(ARBOR__SIG_DEMONITOR, m->u.ref);
            if (dm)
                send_lazy(m->pub.from, dm);
        }
        arbor__msg_destroy(m);
        arbor__msg_t *answer = link  ? exit_signal(p->pid, *reason, true)
                               : ref ? down_signal(ref, p->pid, *reason)
                                     : NULL;
        if (answer)
            arbor__send_node(from, answer);
    }
}

void arbor__proc_finish(arbor__proc_t *p)
{
    atomic_store_explicit(&p->status, ARBOR_STATUS_EXITING, memory_order_relaxed);
    atomic_store_explicit(&p->sched, ARBOR__DEAD, memory_order_seq_cst);
    arbor_reason_t reason = exit_reason(p); /* valid until release_exit_detail() */
    arbor_pid_t pid = p->pid;
    /* The name goes first, as in Erlang: whoever learns of the death (a
     * supervisor restarting a named child) can register it again at once. */
    arbor__name_release(p);
    /* Exit hooks next, before anyone hears of the death: a supervisor that
     * restarts us must find the file or connection already closed. */
    for (exit_hook_t *h = p->rare ? p->rare->exit_hooks : NULL, *next; h; h = next) {
        next = h->next; /* a socket's hook may be reused once it has run */
        p->rare->exit_hooks = next;
        h->fn(h->arg);
    }

    /* Take in what is queued, by the live path's rules, so that links and
     * monitors made up to now are in the maps and get the real reason. The
     * death is decided (p->dying), so no exit signal changes it, and what
     * would become a message is freed with the queue below. */
    take_in(p);

    uint32_t pos = 0;
    uint64_t key, val;
    while (arbor__u64map_next(&p->links, &pos, &key, &val)) {
        arbor__msg_t *e = exit_signal(pid, reason, true);
        if (e)
            arbor__send_node(key, e);
    }
    if (p->watch1_ref) {
        arbor__msg_t *d = down_signal(p->watch1_ref, pid, reason);
        if (d)
            arbor__send_node(p->watch1_pid, d);
        p->watch1_ref = p->watch1_pid = 0;
    }
    pos = 0;
    while (arbor__u64map_next(&p->monitored, &pos, &key, &val)) {
        arbor__msg_t *d = down_signal(key, pid, reason);
        if (d)
            arbor__send_node(val, d);
    }
    pos = 0;
    while (arbor__u64map_next(&p->monitors, &pos, &key, &val)) {
        arbor__msg_t *dm = arbor__sig_new(ARBOR__SIG_DEMONITOR, key);
        if (dm)
            send_lazy(val, dm);
    }
    arbor__u64map_free(&p->links);
    arbor__u64map_free(&p->monitored);
    arbor__u64map_free(&p->monitors);
    free_aliases(p);

    arbor__msg_t *m;
    while ((m = p->queue.head)) {
        arbor__queue_remove(&p->queue, NULL, m);
        arbor__msg_destroy(m);
    }
    if (p->reactive && p->u.reactor.current) {
        m = p->u.reactor.current;
        p->u.reactor.current = NULL;
        if (!(m->flags & ARBOR__MSG_KEEP))
            arbor__msg_destroy(m);
    }
    if (p->wait_timer) {
        arbor__timer_cancel(p->wait_timer);
        p->wait_timer = NULL;
    }
    arbor__timer_release_held(p);
    arbor__heap_release(p);

    /* The links and monitors were told; the root's reason leaves the
     * runtime cut to its detail (reason.h). */
    release_exit_detail(p);
    free_rare(p);
    reason.whole = NULL;
    bool root = pid == arbor__rt.root;
    if (root)
        arbor__root_exited(&reason);
    arbor__table_kill(p); /* may free p */
    arbor__sched_process_finished();
}

void arbor__proc_free(arbor__proc_t *p)
{
    answer_late_signals(p, &ARBOR_NOPROC);
    free(p->name);
    p->name = NULL;
    release_exit_detail(p);
    free_rare(p);
    arbor__sched_t *s = arbor__sched_current();
    arbor__table_release_slot(p->pid, s ? &s->slots : NULL);
    ARBOR__STAT_SUB(live_processes, 1);
    /* A scheduler may still be delivering a plain message to p. */
    arbor__reclaim_retire(p);
}

/* ---- small public helpers ------------------------------------------------------------- */

arbor_pid_t arbor_self(void)
{
    return self_pid();
}

int arbor_hibernate(void)
{
    arbor__proc_t *p = arbor__proc_current();
    if (!p)
        return ARBOR_ENOTPROC;
    arbor__u64map_shrink(&p->links);
    arbor__u64map_shrink(&p->monitors);
    arbor__u64map_shrink(&p->monitored);
    if (p->rare) {
        /* Gives back the record too when it holds nothing. */
        arbor__u64map_shrink(&p->rare->aliases);
        if (!p->rare->aliases.count && !p->rare->timers && !p->rare->exit_hooks &&
            !p->rare->exit_detail)
            free_rare(p);
    }
    return 0;
}

size_t arbor__proc_table_bytes(void)
{
    const arbor__proc_t *p = arbor__proc_current();
    if (!p)
        return 0;
    return arbor__u64map_bytes(&p->links) + arbor__u64map_bytes(&p->monitors) +
           arbor__u64map_bytes(&p->monitored) +
           (p->rare ? sizeof *p->rare + arbor__u64map_bytes(&p->rare->aliases) : 0);
}

int arbor_pid_format(arbor_pid_t pid, char *buf, size_t size)
{
    return snprintf(buf, size, "<0.%u.%u>", (unsigned)(uint32_t)pid, (unsigned)(pid >> 32));
}

void arbor_set_label(const char *label)
{
    arbor__proc_t *p = arbor__proc_current();
    if (p)
        atomic_store_explicit(&p->label, label, memory_order_relaxed);
}

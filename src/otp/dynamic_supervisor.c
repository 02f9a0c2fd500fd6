/*
 * DynamicSupervisor, as a GenServer that traps exits.
 *
 * A child is one block of process memory (so a killed supervisor leaks
 * nothing) holding a copy of its argument and a reference to its kind, the
 * spec it shares with every alike child. Two maps index the children: pid
 * -> child for the running ones, and, for a child whose restart failed,
 * the pid it last had -> child: that pid still names it to
 * terminate_child, as in Elixir, and to its retries. Every operation is
 * O(1), and the shutdown is linear in the number of children: all are
 * unlinked, monitored and told to stop at once, then the DOWNs are
 * collected, and a child still alive when its own shutdown time runs out
 * is killed.
 *
 * Restart decisions, the retry path and what counts as an expected end of
 * a stopped child are the Supervisor's too (supervision.h): a child that
 * is not restarted is forgotten (a dynamic child is nothing without its
 * process); a restart that fails leaves the child `restarting` and posts
 * a retry to ourselves, each attempt an intensity tick. A child whose
 * restart returns ignore is forgotten.
 *
 * The two maps are also read by other threads, through the table of
 * supervisors (sup_table.c): every change to them, or to an indexed
 * child's pid, restart count or restarting flag, is made under our table
 * lock, one short hold per change (a start, an exit, a forgotten child),
 * never across a child's start or shutdown.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/u64map.h"
#include "supervision.h"

/* What children started with the same spec share: the spec without its
 * argument. A DynamicSupervisor's children are usually all alike (the
 * desk's tickets), so a child costs its argument and a few words. */
typedef struct kind {
    struct kind *next; /* another kind with the same hash */
    size_t children;   /* references */
    uint64_t hash;
    arbor_child_spec_t spec; /* id and arg are NULL; arg_size is kept */
} kind_t;

typedef struct child {
    kind_t *kind;
    arbor_pid_t pid;     /* running: its pid; restarting: the pid it had before its exit,
                          * which still names it to terminate_child and to its retries */
    uint64_t started_at; /* arbor_now_ms() of the last start */
    uint32_t restarts;
    uint8_t backoff_step;             /* consecutive restarts, for the back-off (at most 20) */
    bool restarting;                  /* indexed in by_last rather than by_pid */
    bool stopped;                     /* during the shutdown: its DOWN has come */
    _Alignas(16) unsigned char arg[]; /* a copy of the argument's bytes, or when the
                                       * spec's arg_size is 0 its pointer */
} child_t;

typedef struct dynsup {
    arbor_dynsup_opts_t opts;
    arbor__u64map_t by_pid;  /* pid -> child_t *, running children */
    arbor__u64map_t by_last; /* last pid -> child_t *, children whose restart failed */
    arbor__u64map_t kinds;   /* hash -> kind_t *, a chain of kinds */
    size_t supervisors;      /* children of type supervisor */
    arbor__intensity_t intensity;
    arbor__sup_table_t *table; /* where readers find by_pid, by_last and the children
                                * they index: changed under its lock */
} dynsup_t;

/* Who our reports name: our children have no ids, so a report about one
 * names its pid (child=<0.12.1>), as OTP's names pid and id undefined. */
static const arbor__retry_who_t who = {.behaviour = "dynamic_supervisor"};

static void report(const char *what, arbor_pid_t child, arbor_reason_t reason)
{
    char pid[32];
    arbor_pid_format(child, pid, sizeof pid);
    arbor__retry_report((arbor__retry_who_t){.behaviour = who.behaviour, .child_id = pid},
                        ARBOR_REPORT_SUPERVISOR, what, reason);
}

static child_t *child_in(const arbor__u64map_t *map, arbor_pid_t pid)
{
    uint64_t ptr;
    return arbor__u64map_get(map, pid, &ptr) ? (child_t *)(uintptr_t)ptr : NULL;
}

static uint64_t key_of(const void *ptr)
{
    return (uint64_t)(uintptr_t)ptr;
}

static size_t children(const dynsup_t *d)
{
    return (size_t)d->by_pid.count + d->by_last.count;
}

/* ---- kinds ------------------------------------------------------------------------ */

static uint64_t mix(uint64_t h, uint64_t v)
{
    h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
    return h;
}

static uint64_t spec_hash(const arbor_child_spec_t *s)
{
    uint64_t h = mix(0, (uint64_t)(uintptr_t)s->start);
    h = mix(h, (uint64_t)(uintptr_t)s->start_extra);
    h = mix(h, (uint64_t)(uintptr_t)s->gen_server);
    h = mix(h, s->arg_size);
    h = mix(h, ((uint64_t)s->restart << 32) | (uint64_t)s->type);
    h = mix(h, (uint64_t)s->shutdown);
    h = mix(h, ((uint64_t)s->backoff_ms << 32) | s->backoff_max_ms);
    h = mix(h, s->backoff_reset_ms);
    return h | 2; /* map keys must be > 1 */
}

static bool same_kind(const arbor_child_spec_t *a, const arbor_child_spec_t *b)
{
    return a->start == b->start && a->start_extra == b->start_extra &&
           a->gen_server == b->gen_server && a->arg_size == b->arg_size &&
           a->restart == b->restart && a->type == b->type && a->shutdown == b->shutdown &&
           a->backoff_ms == b->backoff_ms && a->backoff_max_ms == b->backoff_max_ms &&
           a->backoff_reset_ms == b->backoff_reset_ms;
}

/* The kind of spec, with a reference taken; NULL when out of memory. */
static kind_t *kind_take(dynsup_t *d, const arbor_child_spec_t *spec)
{
    uint64_t h = spec_hash(spec), head = 0;
    arbor__u64map_get(&d->kinds, h, &head);
    for (kind_t *k = (kind_t *)(uintptr_t)head; k; k = k->next) {
        if (same_kind(&k->spec, spec)) {
            k->children++;
            return k;
        }
    }
    kind_t *k = arbor_alloc(sizeof *k);
    if (!k)
        return NULL;
    *k = (kind_t){.next = (kind_t *)(uintptr_t)head, .children = 1, .hash = h, .spec = *spec};
    k->spec.id = NULL;
    k->spec.arg = NULL;
    if (!arbor__u64map_put(&d->kinds, h, key_of(k))) {
        arbor_free(k);
        return NULL;
    }
    return k;
}

static void kind_drop(dynsup_t *d, kind_t *k)
{
    if (--k->children)
        return;
    uint64_t head = 0;
    arbor__u64map_get(&d->kinds, k->hash, &head);
    kind_t *first = (kind_t *)(uintptr_t)head;
    kind_t **link = &first;
    while (*link != k)
        link = &(*link)->next;
    *link = k->next;
    if (first)
        arbor__u64map_put(&d->kinds, k->hash, key_of(first)); /* replacing: cannot fail */
    else
        arbor__u64map_del(&d->kinds, k->hash, NULL);
    arbor_free(k);
}

/* ---- children ---------------------------------------------------------------------- */

/* The spec c starts with: its kind's, with c's argument. */
static arbor_child_spec_t spec_of(const child_t *c)
{
    arbor_child_spec_t s = c->kind->spec;
    if (s.arg_size)
        s.arg = (void *)c->arg;
    else
        memcpy(&s.arg, c->arg, sizeof s.arg);
    return s;
}

static arbor__u64map_t *index_of(dynsup_t *d, const child_t *c)
{
    return c->restarting ? &d->by_last : &d->by_pid;
}

/* The children, running ones first, as many as fit in cap; returns how
 * many there are. Ours to call at any time, others' under our table lock
 * (sup_table.c). */
static size_t list_children(const void *state, arbor_child_info_t *out, size_t cap)
{
    const dynsup_t *d = state;
    const arbor__u64map_t *maps[] = {&d->by_pid, &d->by_last};
    size_t i = 0;
    for (int k = 0; k < 2; k++) {
        uint32_t pos = 0;
        uint64_t pid, ptr;
        while (i < cap && arbor__u64map_next(maps[k], &pos, &pid, &ptr)) {
            const child_t *c = (const child_t *)(uintptr_t)ptr;
            out[i] = (arbor_child_info_t){
                .pid = c->restarting ? ARBOR_NOPID : c->pid,
                .status = c->restarting ? ARBOR_CHILD_RESTARTING : ARBOR_CHILD_RUNNING,
                .type = c->kind->spec.type,
                .restarts = c->restarts,
            };
            i++;
        }
    }
    return children(d);
}

static void forget(dynsup_t *d, child_t *c)
{
    arbor__sup_table_lock(d->table);
    arbor__u64map_del(index_of(d, c), c->pid, NULL);
    arbor__sup_table_unlock(d->table);
    if (c->kind->spec.type == ARBOR_SUPERVISOR_CHILD)
        d->supervisors--;
    kind_drop(d, c->kind);
    arbor_free(c);
}

/* Starts c; on success indexes it by its new pid (a restarting c leaves
 * by_last in the same change). Returns 0 (*err: the start's info),
 * ARBOR_IGNORED, ARBOR_EEXIT; on failure c->pid is unchanged. */
static int start(dynsup_t *d, child_t *c, arbor_reason_t *err)
{
    arbor_child_spec_t spec = spec_of(c);
    arbor_pid_t pid;
    int rc = arbor__child_start(&spec, d->opts.extra_arg, &pid, err, NULL);
    c->started_at = arbor_now_ms();
    if (rc != 0)
        return rc;
    arbor__sup_table_lock(d->table);
    bool put = arbor__u64map_put(&d->by_pid, pid, key_of(c));
    if (put) {
        if (c->restarting)
            arbor__u64map_del(&d->by_last, c->pid, NULL);
        c->pid = pid;
        c->restarting = false;
    }
    arbor__sup_table_unlock(d->table);
    if (!put) {
        arbor_exit_pid(pid, ARBOR_KILL);
        *err = arbor_error("out of memory");
        return ARBOR_EEXIT;
    }
    return 0;
}

/* Asks ourselves to restart c, which is restarting: at once, or after its
 * back-off delay. The retry names c by its last pid, which is unique and
 * finds nothing once c is forgotten or running again. */
static void post_retry(child_t *c)
{
    unsigned step = c->backoff_step;
    arbor__retry_post(ARBOR__TAG_DS_RETRY, &c->pid, sizeof c->pid, &c->kind->spec, &step);
    c->backoff_step = (uint8_t)step;
}

/* Restarts c, which is restarting (an intensity tick was taken); a failure
 * posts a retry and keeps c in by_last, terminable by the pid it last had. */
static void restart(dynsup_t *d, child_t *c)
{
    arbor_reason_t err;
    arbor__sup_table_lock(d->table);
    c->restarts++;
    arbor__sup_table_unlock(d->table);
    int rc = start(d, c, &err);
    if (rc == 0 || rc == ARBOR_EEXIT)
        arbor_reason_free(&err); /* nobody asked for it */
    if (rc == ARBOR_IGNORED)
        forget(d, c);
    else if (rc != 0)
        post_retry(c);
}

/* One restart attempt: an intensity tick (giving up beyond it), then the
 * start. */
static arbor_gs_ret_t tick_and_restart(dynsup_t *d, child_t *c)
{
    if (!arbor__retry_tick(&d->intensity, who))
        return arbor_gs_halt(ARBOR_SHUTDOWN);
    restart(d, c);
    return arbor_gs_noreply();
}

static arbor_gs_ret_t on_child_exit(dynsup_t *d, child_t *c, arbor_reason_t reason)
{
    if (arbor__policy_exit_reported(c->kind->spec.restart, &reason))
        report("child_terminated", c->pid, reason);
    if (arbor__policy_on_exit(c->kind->spec.restart, &reason) != ARBOR__POLICY_RESTART) {
        forget(d, c); /* kept or forgotten: a dynamic child is its process */
        return arbor_gs_noreply();
    }
    /* From now on its last pid names it. A map of one entry holds it in
     * place, so this fails only with many children restarting at once. */
    arbor__sup_table_lock(d->table);
    bool moved = arbor__u64map_put(&d->by_last, c->pid, key_of(c));
    if (moved) {
        arbor__u64map_del(&d->by_pid, c->pid, NULL);
        c->restarting = true;
    }
    arbor__sup_table_unlock(d->table);
    if (!moved) {
        report("child_dropped", c->pid, arbor_error("out of memory"));
        forget(d, c);
        return arbor_gs_noreply();
    }
    unsigned step = c->backoff_step;
    bool later = arbor__retry_after_exit(ARBOR__TAG_DS_RETRY, &c->pid, sizeof c->pid,
                                         &c->kind->spec, &step, c->started_at);
    c->backoff_step = (uint8_t)step;
    if (later)
        return arbor_gs_noreply(); /* back-off: the retry restarts it */
    return tick_and_restart(d, c);
}

static arbor_gs_ret_t on_retry(dynsup_t *d, arbor_pid_t last_pid)
{
    child_t *c = child_in(&d->by_last, last_pid);
    if (!c)
        return arbor_gs_noreply(); /* terminated meanwhile */
    return tick_and_restart(d, c);
}

/* ---- shutdown: everyone at once --------------------------------------------------- */

/* How long c has to stop: ms, or < 0 for infinity or brutal_kill. */
static int64_t shutdown_of(const child_t *c)
{
    return arbor__shutdown_value(c->kind->spec.shutdown, c->kind->spec.type);
}

/* Reports the end of c, stopped by us with a DOWN of down, unless it is
 * one the shutdown rule expects (policy.c). */
static void judge_end(const child_t *c, arbor_pid_t pid, const arbor_reason_t *down)
{
    arbor_reason_t r = arbor__shutdown_end_reason(pid, down);
    if (!arbor__policy_shutdown_expected(ARBOR__POLICY_DYNAMIC_SUPERVISOR, shutdown_of(c),
                                         c->kind->spec.restart, &r))
        report("shutdown_error", pid, r);
    arbor_reason_free(&r);
}

static bool is_down(const arbor_msg_t *m, void *arg)
{
    (void)arg;
    return m->tag == ARBOR_TAG_DOWN;
}

/* The shortest shutdown time of any kind longer than after (ms), or -1:
 * a kind's children share one, so the distinct times are few. */
static int64_t next_shutdown_time(const dynsup_t *d, int64_t after)
{
    int64_t best = -1;
    uint32_t pos = 0;
    uint64_t hash, head;
    while (arbor__u64map_next(&d->kinds, &pos, &hash, &head)) {
        for (const kind_t *k = (const kind_t *)(uintptr_t)head; k; k = k->next) {
            int64_t sd = arbor__shutdown_value(k->spec.shutdown, k->spec.type);
            if (sd > after && (best < 0 || sd < best))
                best = sd;
        }
    }
    return best;
}

/* Takes one DOWN of a stopping child, waiting up to wait ms; false when
 * none came. */
static bool take_down(dynsup_t *d, size_t *left, int64_t wait)
{
    arbor_msg_t *m;
    if (arbor_receive_match(is_down, NULL, wait, &m) != 0)
        return false;
    const arbor_down_msg_t *dm = m->data;
    child_t *c = child_in(&d->by_pid, dm->pid);
    if (c && !c->stopped) {
        c->stopped = true;
        (*left)--;
        judge_end(c, dm->pid, &dm->reason);
    }
    arbor_msg_free(m);
    return true;
}

/* Every running child is monitored, unlinked and told to stop at once, in
 * one signal each (arbor_monitor_exit(); in OTP's words: shutdown, or kill
 * for brutal_kill); then the DOWNs are
 * collected, by pid through by_pid, and at each distinct shutdown time the
 * children it applies to that are still alive are killed. The state of
 * the shutdown is a flag in each child record: nothing is allocated but
 * the monitors, and a child that cannot be monitored is killed. */
static void shutdown_all(dynsup_t *d)
{
    size_t left = d->by_pid.count;
    if (left == 0)
        return;
    uint64_t start = arbor_now_ms();
    uint32_t pos = 0;
    uint64_t pid, ptr;
    while (arbor__u64map_next(&d->by_pid, &pos, &pid, &ptr)) {
        child_t *c = (child_t *)(uintptr_t)ptr;
        arbor_ref_t ref;
        arbor_reason_t how = shutdown_of(c) == ARBOR_BRUTAL_KILL ? ARBOR_KILL : ARBOR_SHUTDOWN;
        c->stopped = arbor_monitor_exit(pid, how, &ref) != 0;
        if (c->stopped) {
            /* No memory to watch it: kill it; its link does the rest. */
            arbor_exit_pid(pid, ARBOR_KILL);
            left--;
            continue;
        }
        /* The DOWNs of those already gone, as they come: a backlog of
         * thousands would outgrow the recycled message nodes. */
        while (take_down(d, &left, 0))
            ;
    }
    int64_t time = next_shutdown_time(d, -1);
    while (left) {
        uint64_t next = time >= 0 ? start + (uint64_t)time : UINT64_MAX;
        uint64_t now = arbor_now_ms();
        int64_t wait =
            next == UINT64_MAX ? ARBOR_INFINITY : (next > now ? (int64_t)(next - now) : 0);
        if (take_down(d, &left, wait))
            continue;
        /* A shutdown time ran out: kill the children it applies to. */
        pos = 0;
        while (arbor__u64map_next(&d->by_pid, &pos, &pid, &ptr)) {
            const child_t *c = (const child_t *)(uintptr_t)ptr;
            if (!c->stopped && shutdown_of(c) == time)
                arbor_exit_pid(pid, ARBOR_KILL);
        }
        time = next_shutdown_time(d, time);
    }
}

/* ---- the GenServer callbacks --------------------------------------------------------- */

static arbor_gs_ret_t ds_init(void **state, void *arg)
{
    const arbor_dynsup_opts_t *o = arg;
    arbor_set_label("dynamic_supervisor");
    dynsup_t *d = arbor_calloc(1, sizeof *d);
    if (!d || !arbor__intensity_init(&d->intensity, o->max_restarts, o->max_seconds))
        return arbor_gs_halt(arbor_error("out of memory"));
    d->opts = *o;
    d->opts.name = NULL; /* the caller's string is not ours to keep */
    d->by_pid.process_heap = d->by_last.process_heap = d->kinds.process_heap = true;
    if (!(d->table = arbor__sup_table_enter(list_children, d)))
        return arbor_gs_halt(arbor_error("out of memory"));
    *state = d;
    return arbor_gs_ok();
}

static void ds_terminate(void **state, const arbor_reason_t *reason)
{
    dynsup_t *d = *state;
    if (d)
        shutdown_all(d);
}

static arbor_gs_ret_t call_start_child(dynsup_t *d, const arbor_child_spec_t *spec)
{
    arbor__sup_call_reply_t r = {.tag = ARBOR__TAG_DS_START_CHILD};
    if (d->opts.max_children && children(d) >= d->opts.max_children) {
        r.rc = ARBOR_EMAXCHILD;
        return arbor__sup_call_answer(&r);
    }
    /* Beyond the header, a child holds its argument's bytes or pointer. */
    size_t held = spec->arg_size ? spec->arg_size : sizeof spec->arg;
    child_t *c = held <= SIZE_MAX - sizeof *c ? arbor_alloc(sizeof *c + held) : NULL;
    kind_t *k = c ? kind_take(d, spec) : NULL;
    if (!k) {
        arbor_free(c);
        r.rc = ARBOR_ENOMEM;
        return arbor__sup_call_answer(&r);
    }
    *c = (child_t){.kind = k};
    memcpy(c->arg, spec->arg_size ? spec->arg : (const void *)&spec->arg, held);
    r.rc = start(d, c, &r.reason);
    if (r.rc != 0) {
        kind_drop(d, k);
        arbor_free(c);
        return arbor__sup_call_answer(&r);
    }
    if (k->spec.type == ARBOR_SUPERVISOR_CHILD)
        d->supervisors++;
    r.pid = c->pid;
    return arbor__sup_call_answer(&r);
}

static arbor_gs_ret_t call_terminate_child(dynsup_t *d, arbor_pid_t pid)
{
    arbor__sup_call_reply_t r = {.tag = ARBOR__TAG_DS_TERMINATE_CHILD, .rc = ARBOR_ENOENT};
    child_t *c = child_in(&d->by_pid, pid);
    if (c) {
        int64_t sd = shutdown_of(c);
        arbor_reason_t why = arbor__shutdown_child(c->pid, sd);
        if (!arbor__policy_shutdown_expected(ARBOR__POLICY_DYNAMIC_SUPERVISOR, sd,
                                             c->kind->spec.restart, &why))
            report("shutdown_error", c->pid, why);
        arbor_reason_free(&why);
        forget(d, c);
        r.rc = 0;
    } else if ((c = child_in(&d->by_last, pid))) {
        /* No process to stop; its queued retry finds it gone. */
        forget(d, c);
        r.rc = 0;
    }
    return arbor__sup_call_answer(&r);
}

static arbor_gs_ret_t ds_call(void **state, const arbor_msg_t *req, arbor_from_t from)
{
    dynsup_t *d = *state;
    switch (req->tag) {
    case ARBOR__TAG_DS_START_CHILD:
        if (req->size == sizeof(arbor_child_spec_t))
            return call_start_child(d, req->data);
        break;
    case ARBOR__TAG_DS_TERMINATE_CHILD:
        if (req->size == sizeof(arbor_pid_t))
            return call_terminate_child(d, *(const arbor_pid_t *)req->data);
        break;
    case ARBOR__TAG_DS_WHICH_CHILDREN: {
        size_t n = children(d);
        arbor_child_info_t *out = calloc(n ? n : 1, sizeof *out);
        if (!out)
            return arbor_gs_reply(NULL, 0); /* read as a failed call */
        list_children(d, out, n);
        arbor__sup_call_reply_children(from, req->tag, out, n);
        free(out);
        return arbor_gs_noreply();
    }
    case ARBOR__TAG_DS_COUNT_CHILDREN: {
        arbor_child_counts_t n = {.specs = children(d),
                                  .active = d->by_pid.count,
                                  .supervisors = d->supervisors,
                                  .workers = children(d) - d->supervisors};
        return arbor__sup_call_tagged_reply(req->tag, &n, sizeof n);
    }
    default:
        break;
    }
    /* A request this supervisor does not know (another behaviour's API,
     * a stray call) is refused, not a reason to take the subtree down. */
    return arbor__sup_call_refuse(req);
}

static arbor_gs_ret_t ds_info(void **state, const arbor_msg_t *msg)
{
    dynsup_t *d = *state;
    if (msg->tag == ARBOR_TAG_EXIT) {
        const arbor_exit_msg_t *e = msg->data;
        child_t *c = child_in(&d->by_pid, e->from);
        return c ? on_child_exit(d, c, e->reason) : arbor_gs_noreply();
    }
    const arbor_pid_t *retry = arbor__retry_key(msg, ARBOR__TAG_DS_RETRY, sizeof *retry);
    if (retry)
        return on_retry(d, *retry);
    return arbor_gs_noreply();
}

static void ds_status(void *state, char *buf, size_t size)
{
    const dynsup_t *d = state;
    if (!d) {
        snprintf(buf, size, "starting");
        return;
    }
    /* Its children have no order or id: their numbers, as count_children. */
    snprintf(buf, size, "one_for_one, %d restarts in %d s, %zu children (%zu restarting)",
             d->opts.max_restarts, d->opts.max_seconds, children(d), (size_t)d->by_last.count);
}

static const arbor_gen_server_t dynsup_gs = {
    .label = "dynamic_supervisor",
    .init = ds_init,
    .handle_call = ds_call,
    .handle_info = ds_info,
    .terminate = ds_terminate,
    .format_status = ds_status,
};

/* ---- the client side ------------------------------------------------------------------- */

int arbor_dynsup_start(const arbor_dynsup_opts_t *opts, arbor_pid_t *pid_out,
                       arbor_reason_t *error_out)
{
    arbor_dynsup_opts_t o = opts ? *opts : ARBOR_DYNSUP_OPTS_DEFAULT;
    arbor_reason_t why;
    if (o.max_restarts < 0)
        why = arbor_error("invalid_intensity: %d", o.max_restarts);
    else if (o.max_seconds <= 0)
        why = arbor_error("invalid_period: %d", o.max_seconds);
    else {
        arbor_gs_opts_t g = {.name = o.name, .link = o.link, .trap_exit = true};
        return arbor_gs_start(&dynsup_gs, &o, &g, pid_out, error_out);
    }
    if (error_out)
        *error_out = why;
    return ARBOR_EINVAL;
}

int arbor_dynsup_start_child(arbor_pid_t sup, const arbor_child_spec_t *spec, arbor_pid_t *pid_out,
                             arbor_reason_t *error_out)
{
    arbor_child_spec_t s;
    if (spec) {
        /* The id means nothing here; give the checker one. */
        s = *spec;
        if (!s.id)
            s.id = "dynamic";
    }
    int rc = arbor_sup_check_spec(spec ? &s : NULL, error_out);
    if (rc)
        return rc;
    if (s.significant) {
        if (error_out)
            *error_out = arbor_error("invalid_significant: true");
        return ARBOR_EINVAL;
    }
    s.id = NULL;
    return arbor__sup_call_start(sup, ARBOR__TAG_DS_START_CHILD, &s, sizeof s, pid_out, error_out);
}

int arbor_dynsup_terminate_child(arbor_pid_t sup, arbor_pid_t pid)
{
    return arbor__sup_call_start(sup, ARBOR__TAG_DS_TERMINATE_CHILD, &pid, sizeof pid, NULL, NULL);
}

int arbor_dynsup_which_children(arbor_pid_t sup, arbor_child_info_t **out, size_t *n)
{
    return arbor__sup_call_children(sup, ARBOR__TAG_DS_WHICH_CHILDREN, out, n);
}

int arbor_dynsup_count_children(arbor_pid_t sup, arbor_child_counts_t *out)
{
    return arbor__sup_call_counts(sup, ARBOR__TAG_DS_COUNT_CHILDREN, out);
}

int arbor_dynsup_stop(arbor_pid_t sup, arbor_reason_t reason)
{
    return arbor_gs_stop(sup, reason, ARBOR_INFINITY, NULL);
}

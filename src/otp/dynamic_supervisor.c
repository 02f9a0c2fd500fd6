/*
 * DynamicSupervisor, as a GenServer that traps exits.
 *
 * A child is one block of process memory (so a killed supervisor leaks
 * nothing) holding its spec and a copy of its argument. Two maps index the
 * children: pid -> child for the running ones, and, for a child whose
 * restart failed, the pid it last had -> child: that pid still names it
 * to terminate_child, as in Elixir, and its retries. Every operation is
 * O(1), and the
 * shutdown is linear in the number of children: all are unlinked,
 * monitored and told to stop at once, then the DOWNs are collected, and a
 * child still alive when its own shutdown time runs out is killed.
 *
 * Restart decisions are the Supervisor's (supervisor.c); a restart that
 * fails leaves the child `restarting` and posts a retry to ourselves, each
 * attempt an intensity tick. A child whose restart returns ignore is
 * forgotten.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/u64map.h"
#include "otp.h"

enum {
    DS_START_CHILD = 1,
    DS_TERMINATE_CHILD,
    DS_WHICH_CHILDREN,
    DS_COUNT_CHILDREN,
};
#define DS_RETRY_TAG (ARBOR_TAG_OTP + 0x200)

typedef struct child {
    arbor_child_spec_t spec; /* spec.id is NULL: ids mean nothing here */
    arbor_pid_t pid;         /* ARBOR_NOPID while restarting */
    arbor_pid_t last_pid;    /* the pid it had before its exit (names it while restarting) */
    unsigned restarts;
    unsigned backoff_step;            /* consecutive restarts, for the back-off */
    uint64_t started_at;              /* arbor_now_ms() of the last start */
    _Alignas(16) unsigned char arg[]; /* spec.arg points here when spec.arg_size > 0 */
} child_t;

typedef struct dynsup {
    arbor_dynsup_opts_t opts;
    arbor__u64map_t by_pid;  /* pid -> child_t *, running children */
    arbor__u64map_t by_last; /* last pid -> child_t *, children whose restart failed */
    size_t supervisors;      /* children of type supervisor */
    arbor__otp_intensity_t intensity;
} dynsup_t;

typedef struct {
    int rc;
    arbor_pid_t pid;
    arbor_reason_t reason;
} start_reply_t;

static void report(const char *what, arbor_reason_t reason)
{
    arbor_report(&(arbor_report_t){.kind = ARBOR_REPORT_SUPERVISOR,
                                   .pid = arbor_self(),
                                   .behaviour = "dynamic_supervisor",
                                   .what = what,
                                   .reason = reason,
                                   .detail = ""});
}

static child_t *child_in(const arbor__u64map_t *map, arbor_pid_t pid)
{
    uint64_t ptr;
    return arbor__u64map_get(map, pid, &ptr) ? (child_t *)(uintptr_t)ptr : NULL;
}

static uint64_t key_of(const child_t *c)
{
    return (uint64_t)(uintptr_t)c;
}

static size_t children(const dynsup_t *d)
{
    return (size_t)d->by_pid.count + d->by_last.count;
}

static void forget(dynsup_t *d, child_t *c)
{
    if (c->pid)
        arbor__u64map_del(&d->by_pid, c->pid, NULL);
    else
        arbor__u64map_del(&d->by_last, c->last_pid, NULL);
    if (c->spec.type == ARBOR_SUPERVISOR_CHILD)
        d->supervisors--;
    arbor_free(c);
}

/* Starts c; on success indexes its pid. Returns 0, ARBOR_IGNORED, ARBOR_EEXIT. */
static int start(dynsup_t *d, child_t *c, arbor_reason_t *err)
{
    int rc = arbor__otp_call_start(&c->spec, d->opts.extra_arg, &c->pid, err, NULL);
    c->started_at = arbor_now_ms();
    if (rc == 0 && !arbor__u64map_put(&d->by_pid, c->pid, key_of(c))) {
        arbor_exit_pid(c->pid, ARBOR_KILL);
        c->pid = ARBOR_NOPID;
        *err = arbor_error("out of memory");
        return ARBOR_EEXIT;
    }
    return rc;
}

/* Asks ourselves to restart c, which is in by_last: at once, or after its
 * back-off delay. The retry names c by its last pid, which is unique and
 * finds nothing once c is forgotten or running again. */
static void post_retry(child_t *c)
{
    uint64_t delay = arbor__otp_backoff_delay(&c->spec, &c->backoff_step);
    arbor_pid_t key = c->last_pid;
    if (delay)
        arbor_send_after(arbor_self(), DS_RETRY_TAG, &key, sizeof key, delay, NULL);
    else
        arbor_send(arbor_self(), DS_RETRY_TAG, &key, sizeof key);
}

/* Restarts c, which is in by_last (an intensity tick was taken); a
 * failure posts a retry and keeps c there, terminable by the pid it last
 * had. */
static void restart(dynsup_t *d, child_t *c)
{
    arbor_reason_t err;
    c->restarts++;
    int rc = start(d, c, &err);
    if (rc == 0)
        arbor__u64map_del(&d->by_last, c->last_pid, NULL);
    else if (rc == ARBOR_IGNORED)
        forget(d, c);
    else
        post_retry(c);
}

/* One restart attempt: an intensity tick (giving up beyond it), then the
 * start. */
static arbor_gs_ret_t tick_and_restart(dynsup_t *d, child_t *c)
{
    if (!arbor__otp_intensity_add(&d->intensity)) {
        report("reached_max_restart_intensity", ARBOR_SHUTDOWN);
        return arbor_gs_halt(ARBOR_SHUTDOWN);
    }
    restart(d, c);
    return arbor_gs_noreply();
}

static arbor_gs_ret_t on_child_exit(dynsup_t *d, child_t *c, arbor_reason_t reason)
{
    if (!arbor_reason_is_clean(&reason))
        report("child_terminated", reason);
    bool again = c->spec.restart == ARBOR_PERMANENT ||
                 (c->spec.restart == ARBOR_TRANSIENT && !arbor_reason_is_clean(&reason));
    if (!again) {
        forget(d, c);
        return arbor_gs_noreply();
    }
    /* From now on its last pid names it. A map of one entry holds it in
     * place, so this fails only with many children restarting at once. */
    arbor__u64map_del(&d->by_pid, c->pid, NULL);
    c->last_pid = c->pid;
    c->pid = ARBOR_NOPID;
    if (!arbor__u64map_put(&d->by_last, c->last_pid, key_of(c))) {
        report("child_dropped", arbor_error("out of memory"));
        forget(d, c);
        return arbor_gs_noreply();
    }
    if (c->spec.backoff_ms) {
        /* Back-off: the retry path restarts it later and takes the tick. */
        arbor__otp_backoff_exited(&c->spec, &c->backoff_step, c->started_at);
        post_retry(c);
        return arbor_gs_noreply();
    }
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

typedef struct {
    arbor_ref_t ref;
    arbor_pid_t pid;
    uint64_t deadline; /* UINT64_MAX: none (infinity, or already killed) */
    bool done;
    bool brutal;    /* brutal_kill: killed is its expected end */
    bool permanent; /* normal is not an expected end of a permanent child */
} stopping_t;

/* The ends a shutdown expects, which are not reported (OTP's shutdown/2,
 * Elixir's wait_child): killed for brutal_kill; otherwise shutdown,
 * {shutdown, _}, and normal unless the child is permanent. A child killed
 * because its shutdown time ran out is reported. */
static bool expected_end(const stopping_t *s, const arbor_reason_t *r)
{
    if (s->brutal)
        return r->kind == ARBOR_EXIT_KILLED;
    return r->kind == ARBOR_EXIT_SHUTDOWN || (r->kind == ARBOR_EXIT_NORMAL && !s->permanent);
}

static bool is_down(const arbor_msg_t *m, void *arg)
{
    return m->tag == ARBOR_TAG_DOWN;
}

static void shutdown_all(dynsup_t *d)
{
    size_t n = d->by_pid.count, k = 0;
    if (n == 0)
        return;
    stopping_t *st = arbor_calloc(n, sizeof *st);
    arbor__u64map_t by_ref = {.process_heap = true}; /* ref -> index */
    if (!st) {
        /* No memory to do it politely: kill them; the links do the rest. */
        uint32_t pos = 0;
        uint64_t pid, ptr;
        while (arbor__u64map_next(&d->by_pid, &pos, &pid, &ptr))
            arbor_exit_pid(pid, ARBOR_KILL);
        return;
    }
    uint64_t now = arbor_now_ms();
    uint32_t pos = 0;
    uint64_t pid, ptr;
    while (arbor__u64map_next(&d->by_pid, &pos, &pid, &ptr)) {
        const child_t *c = (const child_t *)(uintptr_t)ptr;
        int64_t sd = arbor__otp_shutdown_value(c->spec.shutdown, c->spec.type);
        stopping_t *s = &st[k];
        s->pid = pid;
        s->brutal = sd == ARBOR_BRUTAL_KILL;
        s->permanent = c->spec.restart == ARBOR_PERMANENT;
        arbor_monitor(pid, &s->ref);
        arbor_unlink(pid);
        arbor__u64map_put(&by_ref, s->ref, k);
        s->deadline = sd >= 0 ? now + (uint64_t)sd : UINT64_MAX;
        arbor_exit_pid(pid, sd == ARBOR_BRUTAL_KILL ? ARBOR_KILL : ARBOR_SHUTDOWN);
        k++;
    }
    /* Children share a few shutdown values, so there are few distinct
     * deadlines: keep them sorted and walk them, rather than scanning
     * every child for the next one. */
    uint64_t *deadlines = arbor_calloc(k, sizeof *deadlines);
    size_t nd = 0, dl = 0;
    for (size_t i = 0; deadlines && i < k; i++) {
        size_t j = 0;
        while (j < nd && deadlines[j] < st[i].deadline)
            j++;
        if (j < nd && deadlines[j] == st[i].deadline)
            continue;
        memmove(&deadlines[j + 1], &deadlines[j], (nd - j) * sizeof *deadlines);
        deadlines[j] = st[i].deadline;
        nd++;
    }
    size_t left = k;
    while (left) {
        uint64_t next = deadlines && dl < nd ? deadlines[dl] : UINT64_MAX;
        now = arbor_now_ms();
        int64_t wait =
            next == UINT64_MAX ? ARBOR_INFINITY : (next > now ? (int64_t)(next - now) : 0);
        arbor_msg_t *m;
        if (arbor_receive_match(is_down, NULL, wait, &m) == 0) {
            uint64_t i;
            const arbor_down_msg_t *dm = m->data;
            if (arbor__u64map_del(&by_ref, dm->ref, &i) && !st[i].done) {
                st[i].done = true;
                left--;
                if (!expected_end(&st[i], &dm->reason))
                    report("shutdown_error", dm->reason);
            }
            arbor_msg_free(m);
            continue;
        }
        /* A shutdown time ran out: kill the children it applies to. */
        for (size_t i = 0; i < k; i++)
            if (!st[i].done && st[i].deadline <= next)
                arbor_exit_pid(st[i].pid, ARBOR_KILL);
        dl++;
    }
    arbor_free(deadlines);
    arbor__u64map_free(&by_ref);
    arbor_free(st);
}

/* ---- the GenServer callbacks --------------------------------------------------------- */

static arbor_gs_ret_t ds_init(void **state, void *arg)
{
    const arbor_dynsup_opts_t *o = arg;
    arbor_set_label("dynamic_supervisor");
    dynsup_t *d = arbor_calloc(1, sizeof *d);
    if (!d || !arbor__otp_intensity_init(&d->intensity, o->max_restarts, o->max_seconds))
        return arbor_gs_halt(arbor_error("out of memory"));
    d->opts = *o;
    d->opts.name = NULL; /* the caller's string is not ours to keep */
    d->by_pid.process_heap = d->by_last.process_heap = true;
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
    start_reply_t r = {0};
    if (d->opts.max_children && children(d) >= d->opts.max_children) {
        r.rc = ARBOR_EMAXCHILD;
        return arbor_gs_reply(&r, sizeof r);
    }
    child_t *c =
        spec->arg_size <= SIZE_MAX - sizeof *c ? arbor_alloc(sizeof *c + spec->arg_size) : NULL;
    if (!c) {
        r.rc = ARBOR_ENOMEM;
        return arbor_gs_reply(&r, sizeof r);
    }
    *c = (child_t){.spec = *spec};
    c->spec.id = NULL;
    if (spec->arg_size) {
        memcpy(c->arg, spec->arg, spec->arg_size);
        c->spec.arg = c->arg;
    }
    r.rc = start(d, c, &r.reason);
    if (r.rc != 0) {
        arbor_free(c);
        return arbor_gs_reply(&r, sizeof r);
    }
    if (c->spec.type == ARBOR_SUPERVISOR_CHILD)
        d->supervisors++;
    r.pid = c->pid;
    return arbor_gs_reply(&r, sizeof r);
}

static arbor_gs_ret_t call_terminate_child(dynsup_t *d, arbor_pid_t pid)
{
    int rc = ARBOR_ENOENT;
    child_t *c = child_in(&d->by_pid, pid);
    if (c) {
        arbor__otp_shutdown_child(c->pid,
                                  arbor__otp_shutdown_value(c->spec.shutdown, c->spec.type));
        forget(d, c);
        rc = 0;
    } else if ((c = child_in(&d->by_last, pid))) {
        /* No process to stop; its queued retry finds it gone. */
        forget(d, c);
        rc = 0;
    }
    return arbor_gs_reply(&rc, sizeof rc);
}

static arbor_gs_ret_t ds_call(void **state, const arbor_msg_t *req, arbor_from_t from)
{
    dynsup_t *d = *state;
    switch (req->tag) {
    case DS_START_CHILD:
        if (req->size == sizeof(arbor_child_spec_t))
            return call_start_child(d, req->data);
        break;
    case DS_TERMINATE_CHILD:
        if (req->size == sizeof(arbor_pid_t))
            return call_terminate_child(d, *(const arbor_pid_t *)req->data);
        break;
    case DS_WHICH_CHILDREN: {
        size_t n = children(d), i = 0;
        arbor_child_info_t *out = calloc(n ? n : 1, sizeof *out);
        if (!out)
            return arbor_gs_reply(NULL, 0);
        const arbor__u64map_t *maps[] = {&d->by_pid, &d->by_last};
        for (int k = 0; k < 2; k++) {
            uint32_t pos = 0;
            uint64_t pid, ptr;
            while (arbor__u64map_next(maps[k], &pos, &pid, &ptr)) {
                const child_t *c = (const child_t *)(uintptr_t)ptr;
                out[i].pid = c->pid;
                out[i].status = c->pid ? ARBOR_CHILD_RUNNING : ARBOR_CHILD_RESTARTING;
                out[i].type = c->spec.type;
                out[i].restarts = c->restarts;
                i++;
            }
        }
        arbor_gs_reply_to(from, out, n * sizeof *out);
        free(out);
        return arbor_gs_noreply();
    }
    case DS_COUNT_CHILDREN: {
        arbor_child_counts_t n = {.specs = children(d),
                                  .active = d->by_pid.count,
                                  .supervisors = d->supervisors,
                                  .workers = children(d) - d->supervisors};
        return arbor_gs_reply(&n, sizeof n);
    }
    default:
        break;
    }
    /* A request this supervisor does not know (another behaviour's API,
     * a stray call) is refused, not a reason to take the subtree down. */
    return arbor__otp_refuse_call(req);
}

static arbor_gs_ret_t ds_info(void **state, const arbor_msg_t *msg)
{
    dynsup_t *d = *state;
    if (msg->tag == ARBOR_TAG_EXIT) {
        const arbor_exit_msg_t *e = msg->data;
        child_t *c = child_in(&d->by_pid, e->from);
        return c ? on_child_exit(d, c, e->reason) : arbor_gs_noreply();
    }
    if (msg->tag == DS_RETRY_TAG && msg->from == arbor_self() && msg->size == sizeof(arbor_pid_t))
        return on_retry(d, *(const arbor_pid_t *)msg->data);
    return arbor_gs_noreply();
}

static void ds_status(void *state, char *buf, size_t size)
{
    const dynsup_t *d = state;
    snprintf(buf, size, "children=%zu", d ? children(d) : 0);
}

static const arbor_gen_server_t dynsup_gs = {
    .name = "dynamic_supervisor",
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
    arbor_msg_t *m;
    arbor_reason_t exit;
    rc = arbor_gs_call(sup, DS_START_CHILD, &s, sizeof s, ARBOR_INFINITY, &m, &exit);
    if (rc) {
        if (rc == ARBOR_EEXIT && error_out)
            *error_out = exit;
        return rc;
    }
    if (m->size != sizeof(start_reply_t)) { /* not a supervisor of this kind */
        arbor_msg_free(m);
        return ARBOR_EINVAL;
    }
    start_reply_t r = *(start_reply_t *)m->data;
    arbor_msg_free(m);
    if (r.rc == 0 && pid_out)
        *pid_out = r.pid;
    if (r.rc == ARBOR_EEXIT && error_out)
        *error_out = r.reason;
    return r.rc;
}

int arbor_dynsup_terminate_child(arbor_pid_t sup, arbor_pid_t pid)
{
    arbor_msg_t *m;
    int rc = arbor_gs_call(sup, DS_TERMINATE_CHILD, &pid, sizeof pid, ARBOR_INFINITY, &m, NULL);
    if (rc)
        return rc;
    rc = *(int *)m->data;
    arbor_msg_free(m);
    return rc;
}

int arbor_dynsup_which_children(arbor_pid_t sup, arbor_child_info_t **out, size_t *n)
{
    return arbor__otp_call_children(sup, DS_WHICH_CHILDREN, out, n);
}

int arbor_dynsup_count_children(arbor_pid_t sup, arbor_child_counts_t *out)
{
    return arbor__otp_call_counts(sup, DS_COUNT_CHILDREN, out);
}

int arbor_dynsup_stop(arbor_pid_t sup, arbor_reason_t reason)
{
    return arbor_gs_stop(sup, reason, ARBOR_INFINITY, NULL);
}

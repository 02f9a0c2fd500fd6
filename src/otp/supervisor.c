/*
 * Supervisor, as a GenServer that traps exits.
 *
 * The children live in an array in start order; which_children reports it
 * newest first. When a child exits, the restart decision (policy.c, shared
 * with DynamicSupervisor) says restart, keep (the spec, with no pid) or
 * forget (the spec too), and the strategy says which children a restart
 * touches:
 *
 *   strategy       stop (reverse order)          then start (in order)
 *   one_for_one    -                             the child
 *   one_for_all    every other running child     every remaining spec
 *   rest_for_one   the running children after it the child and those after it
 *
 * Temporary children stopped by a group restart are forgotten, never restarted; specs
 * that were stopped before the failure are started by a group restart
 * (OTP does the same). Each restart, including each failed retry, is one
 * intensity tick; a group restart is one tick however many children it
 * touches. A start that fails during a restart leaves the child
 * `restarting` and takes the retry path (retry.c): a message to ourselves,
 * so calls are served between attempts (with no back-off, as in OTP,
 * unless the spec asks for one).
 *
 * The array is also read by other threads, through the table of
 * supervisors (sup_table.c): every change to it, or to a child's pid,
 * status or restart count, is made under our table lock (table_lock()),
 * never across a child's start or shutdown.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "supervision.h"

typedef struct child {
    arbor_child_spec_t spec; /* spec.id points at idbuf */
    char idbuf[ARBOR_CHILD_ID_MAX + 1];
    arbor_pid_t pid;
    arbor_child_status_t status;
    unsigned restarts;
    unsigned backoff_step; /* consecutive restarts, for the back-off */
    uint64_t started_at;   /* arbor_now_ms() of the last start */
} child_t;

typedef struct sup {
    arbor_sup_flags_t flags;
    child_t *children; /* start order */
    size_t n, cap;
    arbor__intensity_t intensity;
    arbor__sup_table_t *table; /* where readers find children, n and each child's
                                * pid, status, type and restarts: changed under its lock */
} sup_t;

/* Who our reports name. */
static arbor__retry_who_t who(const child_t *c)
{
    return (arbor__retry_who_t){.behaviour = "supervisor", .child_id = c->idbuf};
}

typedef struct {
    char id[ARBOR_CHILD_ID_MAX + 1];
} id_req_t;

/* ---- validation ---------------------------------------------------------------- */

int arbor_sup_check_spec(const arbor_child_spec_t *spec, arbor_reason_t *why)
{
    arbor_reason_t r = ARBOR_NORMAL;
    if (!spec)
        r = arbor_error("invalid_child_spec");
    else if (!spec->id || !*spec->id)
        r = arbor_error("missing_id");
    else if (strlen(spec->id) > ARBOR_CHILD_ID_MAX)
        r = arbor_error("invalid_child_id: too long");
    else if (!spec->start && !spec->start_extra && !spec->gen_server)
        r = arbor_error("missing_start");
    else if ((unsigned)spec->restart > ARBOR_TEMPORARY)
        r = arbor_error("invalid_restart_type: %d", (int)spec->restart);
    else if (spec->shutdown < ARBOR_SHUTDOWN_NOW)
        r = arbor_error("invalid_shutdown: %lld", (long long)spec->shutdown);
    else if ((unsigned)spec->type > ARBOR_SUPERVISOR_CHILD)
        r = arbor_error("invalid_child_type: %d", (int)spec->type);
    else if (spec->significant && spec->restart == ARBOR_PERMANENT)
        r = arbor_error("bad_combination: permanent and significant");
    else
        return 0;
    if (why)
        *why = r;
    return ARBOR_EINVAL;
}

static int check_flags(const arbor_sup_flags_t *f, arbor_reason_t *why)
{
    arbor_reason_t r;
    if ((unsigned)f->strategy > ARBOR_REST_FOR_ONE)
        r = arbor_error("invalid_strategy: %d", (int)f->strategy);
    else if (f->max_restarts < 0)
        r = arbor_error("invalid_intensity: %d", f->max_restarts);
    else if (f->max_seconds <= 0)
        r = arbor_error("invalid_period: %d", f->max_seconds);
    else if ((unsigned)f->auto_shutdown > ARBOR_ALL_SIGNIFICANT)
        r = arbor_error("invalid_auto_shutdown: %d", (int)f->auto_shutdown);
    else
        return 0;
    if (why)
        *why = r;
    return ARBOR_EINVAL;
}

/* Flags and specs together, as a supervisor's start checks them. */
static int check_all(const arbor_sup_flags_t *f, const arbor_child_spec_t *c, size_t n,
                     arbor_reason_t *why)
{
    if (!f || (n && !c))
        return ARBOR_EINVAL;
    int rc = check_flags(f, why);
    for (size_t i = 0; !rc && i < n; i++) {
        rc = arbor_sup_check_spec(&c[i], why);
        if (!rc && c[i].significant && f->auto_shutdown == ARBOR_AUTO_SHUTDOWN_NEVER) {
            rc = ARBOR_EINVAL;
            if (why)
                *why = arbor_error("bad_combination: auto_shutdown never and significant");
        }
        for (size_t j = 0; !rc && j < i; j++) {
            if (strcmp(c[i].id, c[j].id) == 0) {
                rc = ARBOR_EINVAL;
                if (why)
                    *why = arbor_error("duplicate_child_name: %s", c[i].id);
            }
        }
    }
    return rc;
}

/* ---- the children array ---------------------------------------------------------- */

/* The children newest first (which_children's order), as many as fit in
 * cap; returns how many there are. Ours to call at any time, others' under
 * our table lock (sup_table.c). */
static size_t list_children(const void *state, arbor_child_info_t *out, size_t cap)
{
    const sup_t *s = state;
    for (size_t i = 0; i < s->n && i < cap; i++) {
        const child_t *k = &s->children[s->n - 1 - i];
        snprintf(out[i].id, sizeof out[i].id, "%s", k->idbuf);
        out[i].pid = k->pid;
        out[i].status = k->status;
        out[i].type = k->spec.type;
        out[i].restarts = k->restarts;
    }
    return s->n;
}

/* Sets c's pid and status together, under the table lock. */
static void set_child(sup_t *s, child_t *c, arbor_pid_t pid, arbor_child_status_t status)
{
    arbor__sup_table_lock(s->table);
    c->pid = pid;
    c->status = status;
    arbor__sup_table_unlock(s->table);
}

static child_t *find_id(sup_t *s, const char *id)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->children[i].idbuf, id) == 0)
            return &s->children[i];
    return NULL;
}

static child_t *find_pid(sup_t *s, arbor_pid_t pid)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->children[i].pid == pid && s->children[i].status == ARBOR_CHILD_RUNNING)
            return &s->children[i];
    return NULL;
}

static child_t *append_locked(sup_t *s, const arbor_child_spec_t *spec)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 8;
        child_t *c = arbor_realloc(s->children, cap * sizeof *c);
        if (!c)
            return NULL;
        s->children = c;
        s->cap = cap;
    }
    child_t *c = &s->children[s->n];
    memset(c, 0, sizeof *c);
    c->spec = *spec;
    if (!arbor__child_own_arg(&c->spec))
        return NULL;
    s->n++;
    snprintf(c->idbuf, sizeof c->idbuf, "%s", spec->id);
    c->status = ARBOR_CHILD_UNDEFINED;
    /* Relocation moves idbuf: keep every spec.id pointing at its own. */
    for (size_t i = 0; i < s->n; i++)
        s->children[i].spec.id = s->children[i].idbuf;
    return c;
}

static child_t *append(sup_t *s, const arbor_child_spec_t *spec)
{
    arbor__sup_table_lock(s->table);
    child_t *c = append_locked(s, spec);
    arbor__sup_table_unlock(s->table);
    return c;
}

static void remove_child(sup_t *s, child_t *c)
{
    arbor__sup_table_lock(s->table);
    size_t i = (size_t)(c - s->children);
    arbor__child_release_arg(&c->spec);
    memmove(&s->children[i], &s->children[i + 1], (s->n - i - 1) * sizeof *c);
    s->n--;
    for (size_t k = 0; k < s->n; k++)
        s->children[k].spec.id = s->children[k].idbuf;
    arbor__sup_table_unlock(s->table);
}

/* ---- starting and stopping children ------------------------------------------------ */

static void report(arbor_report_kind_t kind, const char *what, const child_t *c,
                   arbor_reason_t reason)
{
    arbor__retry_report(who(c), kind, what, reason);
}

/* Starts c. Returns 0 with *err set to the start's info, ARBOR_IGNORED,
 * or an error with *err set. With owner,
 * a start that found its name taken (ARBOR_EEXIST with the owner's pid) is
 * ARBOR_EEXIST with *owner set, as OTP passes {error, {already_started, P}}
 * through (already_started_outside_supervisor); otherwise it is ARBOR_EEXIT. */
static int start_child(sup_t *s, child_t *c, arbor_reason_t *err, arbor_pid_t *owner)
{
    arbor_pid_t pid;
    arbor_reason_t why = ARBOR_NORMAL;
    arbor_pid_t taken_by;
    int rc = arbor__child_start(&c->spec, NULL, &pid, &why, &taken_by);
    if (rc == 0) {
        *err = why;
        set_child(s, c, pid, ARBOR_CHILD_RUNNING);
        c->started_at = arbor_now_ms();
        report(ARBOR_REPORT_PROGRESS, "started", c, ARBOR_NORMAL);
        return 0;
    }
    set_child(s, c, ARBOR_NOPID, ARBOR_CHILD_UNDEFINED);
    if (rc == ARBOR_IGNORED)
        return rc;
    *err = why;
    report(ARBOR_REPORT_SUPERVISOR, "start_error", c, why);
    if (owner && taken_by) {
        *owner = taken_by;
        return ARBOR_EEXIST;
    }
    return ARBOR_EEXIT;
}

static void stop_child(sup_t *s, child_t *c)
{
    if (c->status != ARBOR_CHILD_RUNNING) {
        set_child(s, c, c->pid, ARBOR_CHILD_UNDEFINED);
        return;
    }
    int64_t sd = arbor__shutdown_value(c->spec.shutdown, c->spec.type);
    arbor_reason_t r = arbor__shutdown_child(c->pid, sd);
    if (!arbor__policy_shutdown_expected(ARBOR__POLICY_SUPERVISOR, sd, c->spec.restart, &r))
        report(ARBOR_REPORT_SUPERVISOR, "shutdown_error", c, r);
    arbor_reason_free(&r);
    set_child(s, c, ARBOR_NOPID, ARBOR_CHILD_UNDEFINED);
}

/* Stops children [from, s->n) in reverse order; temporary ones are
 * forgotten (they are never restarted). */
static void stop_range(sup_t *s, size_t from, const child_t *except)
{
    for (size_t i = s->n; i-- > from;) {
        child_t *c = &s->children[i];
        if (c == except)
            continue;
        if (c->status == ARBOR_CHILD_RUNNING) {
            stop_child(s, c);
            if (c->spec.restart == ARBOR_TEMPORARY)
                remove_child(s, c);
        }
    }
}

/* A retry names its child by id. */
static id_req_t retry_key(const child_t *c)
{
    id_req_t req;
    memset(&req, 0, sizeof req);
    snprintf(req.id, sizeof req.id, "%s", c->idbuf);
    return req;
}

/* Marks c restarting and asks ourselves to (re)start it: at once, or after
 * its back-off delay. */
static void post_retry(sup_t *s, child_t *c)
{
    id_req_t req = retry_key(c);
    set_child(s, c, c->pid, ARBOR_CHILD_RESTARTING);
    arbor__retry_post(ARBOR__TAG_SUP_RETRY, &req, sizeof req, &c->spec, &c->backoff_step);
}

/* Starts children [from, s->n) in order. On a failure, marks that child
 * restarting, posts a retry and stops. */
static void start_range(sup_t *s, size_t from)
{
    for (size_t i = from; i < s->n; i++) {
        child_t *c = &s->children[i];
        if (c->status == ARBOR_CHILD_RUNNING)
            continue;
        arbor_reason_t err;
        int rc = start_child(s, c, &err, NULL);
        if (rc == 0 || rc == ARBOR_EEXIT)
            arbor_reason_free(&err);
        if (rc == ARBOR_IGNORED && c->spec.restart == ARBOR_TEMPORARY) {
            remove_child(s, c);
            i--;
            continue;
        }
        if (rc == ARBOR_EEXIT) {
            post_retry(s, c);
            return;
        }
    }
}

/* Performs the strategy's restart for c (an intensity tick was taken). */
static void restart(sup_t *s, child_t *c)
{
    arbor__sup_table_lock(s->table);
    c->restarts++;
    arbor__sup_table_unlock(s->table);
    size_t idx = (size_t)(c - s->children);
    switch (s->flags.strategy) {
    case ARBOR_ONE_FOR_ONE: {
        arbor_reason_t err;
        int rc = start_child(s, c, &err, NULL);
        if (rc == 0 || rc == ARBOR_EEXIT)
            arbor_reason_free(&err);
        if (rc == ARBOR_EEXIT)
            post_retry(s, c);
        break;
    }
    case ARBOR_ONE_FOR_ALL:
        stop_range(s, 0, c); /* may move c: not used after this */
        start_range(s, 0);
        break;
    case ARBOR_REST_FOR_ONE:
        stop_range(s, idx + 1, NULL);
        start_range(s, idx);
        break;
    }
}

static bool significant_running(const sup_t *s)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->children[i].spec.significant && s->children[i].status == ARBOR_CHILD_RUNNING)
            return true;
    return false;
}

/* One restart of c: the intensity tick, then the strategy's restart; past
 * the intensity we halt with shutdown (terminate stops the rest). */
static arbor_gs_ret_t tick_and_restart(sup_t *s, child_t *c)
{
    if (!arbor__retry_tick(&s->intensity, who(c)))
        return arbor_gs_halt(ARBOR_SHUTDOWN);
    restart(s, c);
    return arbor_gs_noreply();
}

/* A child that will not be restarted: kept or forgotten, and, when it was
 * significant, perhaps the end of us (auto_shutdown). */
static arbor_gs_ret_t let_go(sup_t *s, child_t *c, bool forget)
{
    bool sig = c->spec.significant;
    if (forget)
        remove_child(s, c);
    if (sig && (s->flags.auto_shutdown == ARBOR_ANY_SIGNIFICANT ||
                (s->flags.auto_shutdown == ARBOR_ALL_SIGNIFICANT && !significant_running(s))))
        return arbor_gs_halt(ARBOR_SHUTDOWN);
    return arbor_gs_noreply();
}

static arbor_gs_ret_t on_child_exit(sup_t *s, child_t *c, arbor_reason_t reason)
{
    if (arbor__policy_exit_reported(c->spec.restart, &reason))
        report(ARBOR_REPORT_SUPERVISOR, "child_terminated", c, reason);
    set_child(s, c, ARBOR_NOPID, ARBOR_CHILD_UNDEFINED);
    switch (arbor__policy_on_exit(c->spec.restart, &reason)) {
    case ARBOR__POLICY_KEEP:
        return let_go(s, c, false);
    case ARBOR__POLICY_FORGET:
        return let_go(s, c, true);
    case ARBOR__POLICY_RESTART:
        break;
    }
    id_req_t key = retry_key(c);
    if (arbor__retry_after_exit(ARBOR__TAG_SUP_RETRY, &key, sizeof key, &c->spec, &c->backoff_step,
                                c->started_at)) {
        set_child(s, c, ARBOR_NOPID, ARBOR_CHILD_RESTARTING); /* back-off: the retry restarts it */
        return arbor_gs_noreply();
    }
    return tick_and_restart(s, c);
}

static arbor_gs_ret_t on_retry(sup_t *s, const char *id)
{
    child_t *c = find_id(s, id);
    if (!c || c->status != ARBOR_CHILD_RESTARTING)
        return arbor_gs_noreply(); /* terminated or deleted meanwhile */
    /* The same restart as after an exit: for a group, the running
     * siblings in range are stopped first (they run when c backed off;
     * after a failed group start they are already stopped). */
    if (!arbor__retry_tick(&s->intensity, who(c)))
        return arbor_gs_halt(ARBOR_SHUTDOWN);
    set_child(s, c, c->pid, ARBOR_CHILD_UNDEFINED);
    restart(s, c);
    return arbor_gs_noreply();
}

/* ---- the GenServer callbacks ------------------------------------------------------ */

typedef struct {
    const arbor_sup_module_t *mod; /* or: */
    void *mod_arg;
    arbor_sup_flags_t flags;
    const arbor_child_spec_t *children;
    size_t n;
} start_arg_t;

static arbor_gs_ret_t sup_init(void **state, void *arg)
{
    start_arg_t *a = arg;
    arbor_set_label("supervisor");
    arbor_sup_flags_t flags = a->flags;
    const arbor_child_spec_t *children = a->children;
    size_t n = a->n;
    if (a->mod) {
        int rc = a->mod->init(a->mod_arg, &flags, &children, &n);
        if (rc == ARBOR_IGNORED)
            return arbor_gs_ignore();
        if (rc)
            return arbor_gs_halt(arbor_error(
                "bad_return: %s init %s", a->mod->label ? a->mod->label : "?", arbor_err_name(rc)));
        arbor_reason_t why;
        if (check_all(&flags, children, n, &why))
            return arbor_gs_halt(
                arbor_reason(ARBOR_EXIT_ERROR, "start_spec: %s", arbor_reason_text(&why)));
    }
    sup_t *s = arbor_calloc(1, sizeof *s);
    if (!s || !arbor__intensity_init(&s->intensity, flags.max_restarts, flags.max_seconds) ||
        !(s->table = arbor__sup_table_enter(list_children, s)))
        return arbor_gs_halt(arbor_error("out of memory"));
    s->flags = flags;
    *state = s;
    for (size_t i = 0; i < n; i++) {
        child_t *c = append(s, &children[i]);
        if (!c)
            return arbor_gs_halt(arbor_error("out of memory"));
        arbor_reason_t err;
        int rc = start_child(s, c, &err, NULL);
        if (rc == 0)
            arbor_reason_free(&err); /* the start's info: nobody asked for it */
        if (rc == ARBOR_IGNORED && c->spec.restart == ARBOR_TEMPORARY)
            remove_child(s, c);
        if (rc == ARBOR_EEXIT) {
            char id[ARBOR_CHILD_ID_MAX + 1];
            snprintf(id, sizeof id, "%s", c->idbuf);
            remove_child(s, c);
            stop_range(s, 0, NULL);
            /* The child's reason whole: formatted into our memory, which
             * the failed start frees as we exit. */
            size_t len = (size_t)arbor_reason_format(&err, NULL, 0) + 1;
            char *why = arbor_alloc(len);
            if (why)
                arbor_reason_format(&err, why, len);
            return arbor_gs_halt(arbor_reason(ARBOR_EXIT_SHUTDOWN, "failed_to_start_child %s: %s",
                                              id, why ? why : arbor_reason_text(&err)));
        }
    }
    return arbor_gs_ok();
}

static void sup_terminate(void **state, const arbor_reason_t *reason)
{
    sup_t *s = *state;
    if (s)
        stop_range(s, 0, NULL);
}

static arbor_gs_ret_t call_start_child(sup_t *s, const arbor_child_spec_t *spec,
                                       arbor__sup_call_reply_t *r)
{
    child_t *old = find_id(s, spec->id);
    if (old) {
        r->rc = old->status == ARBOR_CHILD_RUNNING ? ARBOR_EEXIST : ARBOR_EPRESENT;
        r->pid = old->pid;
        return arbor__sup_call_answer(r);
    }
    if (spec->significant && s->flags.auto_shutdown == ARBOR_AUTO_SHUTDOWN_NEVER) {
        r->rc = ARBOR_EINVAL;
        r->reason = arbor_error("bad_combination: auto_shutdown never and significant");
        return arbor__sup_call_answer(r);
    }
    child_t *c = append(s, spec);
    if (!c) {
        r->rc = ARBOR_ENOMEM;
        return arbor__sup_call_answer(r);
    }
    arbor_pid_t owner = ARBOR_NOPID;
    r->rc = start_child(s, c, &r->reason, &owner);
    r->pid = r->rc == ARBOR_EEXIST ? owner : c->pid;
    if (r->rc == ARBOR_EEXIT || r->rc == ARBOR_EEXIST ||
        (r->rc == ARBOR_IGNORED && c->spec.restart == ARBOR_TEMPORARY))
        remove_child(s, c);
    return arbor__sup_call_answer(r);
}

static arbor_gs_ret_t sup_call(void **state, const arbor_msg_t *req, arbor_from_t from)
{
    sup_t *s = *state;
    arbor__sup_call_reply_t r = {.tag = req->tag};
    const char *id = req->size == sizeof(id_req_t) ? ((const id_req_t *)req->data)->id : "";
    child_t *c = req->size == sizeof(id_req_t) ? find_id(s, id) : NULL;
    switch (req->tag) {
    case ARBOR__TAG_SUP_START_CHILD:
        if (req->size != sizeof(arbor_child_spec_t) + ARBOR_CHILD_ID_MAX + 1)
            break;
        {
            arbor_child_spec_t spec = *(const arbor_child_spec_t *)req->data;
            spec.id = (const char *)req->data + sizeof spec;
            return call_start_child(s, &spec, &r);
        }
    case ARBOR__TAG_SUP_TERMINATE_CHILD:
        r.rc = c ? 0 : ARBOR_ENOENT;
        if (c) {
            stop_child(s, c);
            if (c->spec.restart == ARBOR_TEMPORARY)
                remove_child(s, c);
        }
        return arbor__sup_call_answer(&r);
    case ARBOR__TAG_SUP_RESTART_CHILD:
        if (!c)
            r.rc = ARBOR_ENOENT;
        else if (c->status == ARBOR_CHILD_RUNNING)
            r.rc = ARBOR_ERUNNING;
        else if (c->status == ARBOR_CHILD_RESTARTING)
            r.rc = ARBOR_ERESTARTING;
        else {
            arbor_pid_t owner = ARBOR_NOPID;
            r.rc = start_child(s, c, &r.reason, &owner);
            r.pid = r.rc == ARBOR_EEXIST ? owner : c->pid;
        }
        return arbor__sup_call_answer(&r);
    case ARBOR__TAG_SUP_DELETE_CHILD:
        if (!c)
            r.rc = ARBOR_ENOENT;
        else if (c->status == ARBOR_CHILD_RUNNING)
            r.rc = ARBOR_ERUNNING;
        else if (c->status == ARBOR_CHILD_RESTARTING)
            r.rc = ARBOR_ERESTARTING;
        else
            remove_child(s, c);
        return arbor__sup_call_answer(&r);
    case ARBOR__TAG_SUP_WHICH_CHILDREN: {
        arbor_child_info_t *out = calloc(s->n ? s->n : 1, sizeof *out);
        if (!out)
            return arbor_gs_reply(NULL, 0); /* read as a failed call */
        list_children(s, out, s->n);
        arbor__sup_call_reply_children(from, req->tag, out, s->n);
        free(out);
        return arbor_gs_noreply();
    }
    case ARBOR__TAG_SUP_COUNT_CHILDREN: {
        arbor_child_counts_t n = {.specs = s->n};
        for (size_t i = 0; i < s->n; i++) {
            n.active += s->children[i].status == ARBOR_CHILD_RUNNING;
            if (s->children[i].spec.type == ARBOR_SUPERVISOR_CHILD)
                n.supervisors++;
            else
                n.workers++;
        }
        return arbor__sup_call_tagged_reply(req->tag, &n, sizeof n);
    }
    case ARBOR__TAG_SUP_GET_CHILDSPEC:
        if (!c)
            return arbor__sup_call_tagged_reply(req->tag, NULL, 0);
        return arbor__sup_call_tagged_reply(req->tag, &c->spec, sizeof c->spec);
    default:
        break;
    }
    /* A request this supervisor does not know (another behaviour's API,
     * a stray call) is refused, not a reason to take the subtree down. */
    return arbor__sup_call_refuse(req);
}

static arbor_gs_ret_t sup_info(void **state, const arbor_msg_t *msg)
{
    sup_t *s = *state;
    if (msg->tag == ARBOR_TAG_EXIT) {
        const arbor_exit_msg_t *e = msg->data;
        child_t *c = find_pid(s, e->from);
        if (c)
            return on_child_exit(s, c, e->reason);
        return arbor_gs_noreply(); /* not a child: ignored, as in OTP */
    }
    const id_req_t *retry = arbor__retry_key(msg, ARBOR__TAG_SUP_RETRY, sizeof *retry);
    if (retry)
        return on_retry(s, retry->id);
    return arbor_gs_noreply();
}

/* The status text (arbor_gs_get_status(), crash reports): what OTP's
 * #state{} record holds that a user reads, the strategy, the intensity and
 * each child in start order ("one_for_one, 3 restarts in 5 s, 2 children:
 * db <0.5.0> running, cache restarting"); cut at size. */
static void sup_status(void *state, char *buf, size_t size)
{
    static const char *const strategies[] = {"one_for_one", "one_for_all", "rest_for_one"};
    static const char *const statuses[] = {"?", "running", "undefined", "restarting"};
    const sup_t *s = state;
    if (!s) {
        snprintf(buf, size, "starting");
        return;
    }
    int at =
        snprintf(buf, size, "%s, %d restarts in %d s, %zu children", strategies[s->flags.strategy],
                 s->flags.max_restarts, s->flags.max_seconds, s->n);
    for (size_t i = 0; i < s->n && at >= 0 && (size_t)at < size; i++) {
        const child_t *c = &s->children[i];
        char pid[32] = "";
        if (c->status == ARBOR_CHILD_RUNNING) {
            pid[0] = ' ';
            arbor_pid_format(c->pid, pid + 1, sizeof pid - 1);
        }
        at += snprintf(buf + at, size - (size_t)at, "%s%s%s %s", i ? ", " : ": ", c->spec.id, pid,
                       statuses[c->status]);
    }
}

static const arbor_gen_server_t supervisor_gs = {
    .label = "supervisor",
    .init = sup_init,
    .handle_call = sup_call,
    .handle_info = sup_info,
    .terminate = sup_terminate,
    .format_status = sup_status,
};

/* ---- the client side --------------------------------------------------------------- */

static int start(start_arg_t *a, const arbor_sup_opts_t *opts, arbor_pid_t *pid_out,
                 arbor_reason_t *error_out)
{
    arbor_gs_opts_t o = {.trap_exit = true};
    if (opts) {
        o.name = opts->name;
        o.link = opts->link;
    }
    return arbor_gs_start(&supervisor_gs, a, &o, pid_out, error_out);
}

int arbor_sup_start(const arbor_sup_flags_t *flags, const arbor_child_spec_t *children, size_t n,
                    const arbor_sup_opts_t *opts, arbor_pid_t *pid_out, arbor_reason_t *error_out)
{
    int rc = check_all(flags, children, n, error_out);
    if (rc)
        return rc;
    start_arg_t a = {.flags = *flags, .children = children, .n = n};
    return start(&a, opts, pid_out, error_out);
}

int arbor_sup_start_module(const arbor_sup_module_t *mod, void *arg, const arbor_sup_opts_t *opts,
                           arbor_pid_t *pid_out, arbor_reason_t *error_out)
{
    if (!mod || !mod->init)
        return ARBOR_EINVAL;
    start_arg_t a = {.mod = mod, .mod_arg = arg};
    return start(&a, opts, pid_out, error_out);
}

static int id_request(const char *id, id_req_t *req)
{
    if (!id || !*id || strlen(id) > ARBOR_CHILD_ID_MAX)
        return ARBOR_EINVAL;
    memset(req, 0, sizeof *req);
    snprintf(req->id, sizeof req->id, "%s", id);
    return 0;
}

int arbor_sup_start_child(arbor_pid_t sup, const arbor_child_spec_t *spec, arbor_pid_t *pid_out,
                          arbor_reason_t *error_out)
{
    int rc = arbor_sup_check_spec(spec, error_out);
    if (rc)
        return rc;
    struct {
        arbor_child_spec_t spec;
        char id[ARBOR_CHILD_ID_MAX + 1];
    } req;
    memset(&req, 0, sizeof req);
    req.spec = *spec;
    req.spec.id = NULL;
    snprintf(req.id, sizeof req.id, "%s", spec->id);
    _Static_assert(sizeof req == sizeof(arbor_child_spec_t) + ARBOR_CHILD_ID_MAX + 1,
                   "no padding between spec and id");
    return arbor__sup_call_start(sup, ARBOR__TAG_SUP_START_CHILD, &req, sizeof req, pid_out,
                                 error_out);
}

int arbor_sup_terminate_child(arbor_pid_t sup, const char *id)
{
    id_req_t req;
    int rc = id_request(id, &req);
    return rc ? rc
              : arbor__sup_call_start(sup, ARBOR__TAG_SUP_TERMINATE_CHILD, &req, sizeof req, NULL,
                                      NULL);
}

int arbor_sup_restart_child(arbor_pid_t sup, const char *id, arbor_pid_t *pid_out,
                            arbor_reason_t *error_out)
{
    id_req_t req;
    int rc = id_request(id, &req);
    return rc ? rc
              : arbor__sup_call_start(sup, ARBOR__TAG_SUP_RESTART_CHILD, &req, sizeof req, pid_out,
                                      error_out);
}

int arbor_sup_delete_child(arbor_pid_t sup, const char *id)
{
    id_req_t req;
    int rc = id_request(id, &req);
    return rc ? rc
              : arbor__sup_call_start(sup, ARBOR__TAG_SUP_DELETE_CHILD, &req, sizeof req, NULL,
                                      NULL);
}

int arbor_sup_which_children(arbor_pid_t sup, arbor_child_info_t **out, size_t *n)
{
    return arbor__sup_call_children(sup, ARBOR__TAG_SUP_WHICH_CHILDREN, out, n);
}

int arbor_sup_count_children(arbor_pid_t sup, arbor_child_counts_t *out)
{
    return arbor__sup_call_counts(sup, ARBOR__TAG_SUP_COUNT_CHILDREN, out);
}

int arbor_sup_get_childspec(arbor_pid_t sup, const char *id, arbor_child_spec_t *out,
                            char idbuf[ARBOR_CHILD_ID_MAX + 1])
{
    id_req_t req;
    int rc = id_request(id, &req);
    if (rc)
        return rc;
    arbor_msg_t *m;
    rc = arbor_gs_call(sup, ARBOR__TAG_SUP_GET_CHILDSPEC, &req, sizeof req, ARBOR_INFINITY, &m,
                       NULL);
    if (rc)
        return rc;
    size_t n = 0;
    const void *body = arbor__sup_call_tagged_body(m, ARBOR__TAG_SUP_GET_CHILDSPEC, &n);
    if (!body || (n && n != sizeof *out)) {
        arbor_msg_free(m);
        return ARBOR_EWRONGKIND;
    }
    if (!n) {
        arbor_msg_free(m);
        return ARBOR_ENOENT;
    }
    memcpy(out, body, sizeof *out);
    snprintf(idbuf, ARBOR_CHILD_ID_MAX + 1, "%s", req.id);
    out->id = idbuf;
    arbor_msg_free(m);
    return 0;
}

int arbor_sup_stop(arbor_pid_t sup, arbor_reason_t reason)
{
    return arbor_gs_stop(sup, reason, ARBOR_INFINITY, NULL);
}

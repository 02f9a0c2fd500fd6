/*
 * Task and Task.Supervisor on the runtime's public API.
 *
 * A task process runs task_main() on a copy of its descriptor (spawn's
 * arg_size, so the copy belongs to the task and dies with it). An async
 * task replies through the owner's alias, so a reply that comes after the
 * owner gave up is dropped. A supervised async task waits for a GO message
 * from its owner before running: the owner monitors it first, so the DOWN
 * always carries the real exit reason, never noproc (Elixir's
 * Task.Supervised does the same).
 */
#include <stdlib.h>
#include <string.h>

#include "otp.h"

typedef struct task_desc {
    arbor_task_fn fn;
    void *arg;
    arbor_pid_t owner;
    arbor_ref_t alias;
    bool reply;      /* send the result to owner through alias */
    bool wait_go;    /* wait for the owner's GO (supervised async) */
    bool link_owner; /* link to the owner on GO */
} task_desc_t;

typedef struct {
    arbor_ref_t alias;
} go_t;

static bool is_go(const arbor_msg_t *m, void *arg)
{
    return m->tag == ARBOR__TAG_TASK_GO;
}

static void task_main(void *arg)
{
    task_desc_t *d = arg;
    arbor_set_label("task");
    if (d->wait_go) {
        arbor_msg_t *m;
        arbor_receive_match(is_go, NULL, ARBOR_INFINITY, &m);
        d->alias = ((const go_t *)m->data)->alias;
        arbor_msg_free(m);
        if (d->link_owner && arbor_link(d->owner) != 0)
            arbor_exit(ARBOR_NOPROC); /* the owner is gone already */
    }
    unsigned char result[ARBOR_TASK_RESULT_MAX];
    size_t n = d->fn(d->arg, result, sizeof result);
    if (n > sizeof result)
        n = sizeof result;
    if (d->reply)
        arbor_send_alias(d->owner, d->alias, ARBOR__TAG_TASK_REPLY, result, n);
}

/* ---- Task ------------------------------------------------------------------- */

int arbor_task_async(arbor_task_fn fn, void *arg, arbor_task_t *task)
{
    arbor_pid_t self = arbor_self();
    if (!self)
        return ARBOR_ENOTPROC;
    if (!fn || !task)
        return ARBOR_EINVAL;
    task_desc_t d = {.fn = fn, .arg = arg, .owner = self, .reply = true};
    int rc = arbor_alias(&d.alias);
    if (rc)
        return rc;
    arbor_spawn_opts_t o = {.link = true, .monitor = true, .label = "task", .arg_size = sizeof d};
    rc = arbor_spawn_opt(task_main, &d, &o, &task->pid, &task->ref);
    if (rc) {
        arbor_unalias(d.alias);
        return rc;
    }
    task->owner = self;
    task->alias = d.alias;
    return 0;
}

int arbor_task_start_link(arbor_task_fn fn, void *arg, arbor_pid_t *pid_out)
{
    if (!fn)
        return ARBOR_EINVAL;
    task_desc_t d = {.fn = fn, .arg = arg};
    arbor_spawn_opts_t o = {.link = true, .label = "task", .arg_size = sizeof d};
    return arbor_spawn_opt(task_main, &d, &o, pid_out, NULL);
}

static bool reply_or_down(const arbor_msg_t *m, void *arg)
{
    const arbor_task_t *t = arg;
    if (m->tag == ARBOR__TAG_TASK_REPLY)
        return m->alias == t->alias;
    return m->tag == ARBOR_TAG_DOWN && ((const arbor_down_msg_t *)m->data)->ref == t->ref;
}

static int check_owner(const arbor_task_t *t)
{
    if (!t || !t->ref)
        return ARBOR_EINVAL; /* never started, or already awaited */
    return t->owner == arbor_self() ? 0 : ARBOR_EACCES;
}

/* The task is finished with: forget its monitor, alias and reply. */
static void settle(arbor_task_t *t)
{
    arbor_demonitor(t->ref, ARBOR_DEMONITOR_FLUSH);
    arbor_unalias(t->alias);
    t->ref = 0;
}

/* One wait for the reply or the DOWN; timeout returns ARBOR_ETIMEDOUT with
 * the task untouched. */
static int wait_task(arbor_task_t *t, int64_t timeout_ms, arbor_msg_t **result,
                     arbor_reason_t *exit_out)
{
    arbor_msg_t *m;
    int rc = arbor_receive_match(reply_or_down, t, timeout_ms, &m);
    if (rc)
        return rc;
    if (m->tag == ARBOR__TAG_TASK_REPLY) {
        settle(t);
        if (result)
            *result = m;
        else
            arbor_msg_free(m);
        return 0;
    }
    if (exit_out)
        *exit_out = arbor_reason_copy(&((const arbor_down_msg_t *)m->data)->reason);
    arbor_msg_free(m);
    arbor_unalias(t->alias);
    t->ref = 0;
    return ARBOR_EEXIT;
}

int arbor_task_await(arbor_task_t *task, int64_t timeout_ms, arbor_msg_t **result,
                     arbor_reason_t *exit_out)
{
    int rc = check_owner(task);
    if (rc)
        return rc;
    rc = wait_task(task, timeout_ms, result, exit_out);
    if (rc == ARBOR_ETIMEDOUT)
        settle(task); /* a late reply is never seen */
    return rc;
}

int arbor_task_yield(arbor_task_t *task, int64_t timeout_ms, arbor_msg_t **result,
                     arbor_reason_t *exit_out)
{
    int rc = check_owner(task);
    return rc ? rc : wait_task(task, timeout_ms, result, exit_out);
}

int arbor_task_shutdown(arbor_task_t *task, int64_t timeout_ms, arbor_msg_t **result,
                        arbor_reason_t *exit_out)
{
    int rc = check_owner(task);
    if (rc)
        return rc;
    arbor_unlink(task->pid);
    bool brutal = timeout_ms == ARBOR_BRUTAL_KILL;
    arbor_exit_pid(task->pid, brutal ? ARBOR_KILL : ARBOR_SHUTDOWN);
    arbor_msg_t *reply = NULL;
    arbor_reason_t reason = ARBOR_NOPROC;
    for (;;) {
        arbor_msg_t *m;
        if (arbor_receive_match(reply_or_down, task, brutal ? ARBOR_INFINITY : timeout_ms, &m)) {
            arbor_exit_pid(task->pid, ARBOR_KILL); /* out of time */
            brutal = true;
            continue;
        }
        if (m->tag == ARBOR__TAG_TASK_REPLY) {
            reply = m;
            continue; /* still wait for the DOWN */
        }
        reason = arbor_reason_copy(&((const arbor_down_msg_t *)m->data)->reason);
        arbor_msg_free(m);
        break;
    }
    /* A trapping owner may hold the EXIT the task sent before the unlink. */
    arbor_msg_t *e;
    if (arbor_receive_match(arbor__match_exit_from, &task->pid, 0, &e) == 0)
        arbor_msg_free(e);
    arbor_unalias(task->alias);
    task->ref = 0;
    if (reply) {
        if (result)
            *result = reply;
        else
            arbor_msg_free(reply);
        return 0;
    }
    if (reason.kind == ARBOR_EXIT_SHUTDOWN && !reason.detail[0] && timeout_ms != ARBOR_BRUTAL_KILL)
        return ARBOR_ESHUTDOWN;
    if (reason.kind == ARBOR_EXIT_KILLED && timeout_ms == ARBOR_BRUTAL_KILL)
        return ARBOR_ESHUTDOWN;
    if (exit_out)
        *exit_out = reason;
    else
        arbor_reason_free(&reason);
    return ARBOR_EEXIT;
}

/* ---- async_stream ------------------------------------------------------------------- */

int arbor_task_async_stream(arbor_task_fn fn, void *const *args, size_t n,
                            const arbor_stream_opts_t *opts, arbor_stream_result_t *results)
{
    if (!arbor_self())
        return ARBOR_ENOTPROC;
    if (!fn || (n && (!args || !results)))
        return ARBOR_EINVAL;
    arbor_stream_opts_t o = opts ? *opts : (arbor_stream_opts_t){0};
    if (o.max_concurrency == 0) {
        arbor_stats_t st;
        arbor_stats(&st);
        o.max_concurrency = st.schedulers ? st.schedulers : 1;
    }
    int64_t timeout = o.timeout > 0 ? o.timeout : ARBOR_TASK_TIMEOUT;
    arbor_task_t *tasks = calloc(n ? n : 1, sizeof *tasks);
    if (!tasks)
        return ARBOR_ENOMEM;
    size_t next = 0, done = 0;
    int rc = 0;
    /* Results are collected in input order: item `done` is awaited while up
     * to max_concurrency - 1 later items run. */
    while (done < n) {
        while (next < n && next - done < o.max_concurrency) {
            rc = arbor_task_async(fn, args[next], &tasks[next]);
            if (rc)
                goto out;
            next++;
        }
        arbor_stream_result_t *r = &results[done];
        memset(r, 0, sizeof *r);
        r->status = arbor_task_await(&tasks[done], timeout, &r->value, &r->reason);
        if (r->status == ARBOR_ETIMEDOUT) {
            arbor_task_t t = tasks[done];
            arbor_unlink(t.pid);
            arbor_exit_pid(t.pid, ARBOR_KILL);
            if (o.on_timeout == ARBOR_STREAM_EXIT) {
                done++;
                rc = ARBOR_ETIMEDOUT;
                goto out;
            }
            r->reason = ARBOR_TIMEOUT;
        }
        done++;
    }
out:
    /* Stop whatever still runs (only after an error). */
    for (size_t i = done; i < next; i++)
        arbor_task_shutdown(&tasks[i], ARBOR_BRUTAL_KILL, NULL, NULL);
    free(tasks);
    return rc;
}

/* ---- Task.Supervisor ------------------------------------------------------------------ */

static int task_child_start(void *arg, arbor_pid_t *pid_out, arbor_reason_t *error_out)
{
    /* arg is the supervisor's copy of the descriptor; the task gets its own. */
    arbor_spawn_opts_t o = {.link = true, .label = "task", .arg_size = sizeof(task_desc_t)};
    return arbor_spawn_opt(task_main, arg, &o, pid_out, NULL);
}

int arbor_task_sup_start(const arbor_task_sup_opts_t *opts, arbor_pid_t *pid_out,
                         arbor_reason_t *error_out)
{
    arbor_task_sup_opts_t t = opts ? *opts : ARBOR_TASK_SUP_OPTS_DEFAULT;
    arbor_dynsup_opts_t o = {.name = t.name,
                             .link = t.link,
                             .max_children = t.max_children,
                             .max_restarts = t.max_restarts,
                             .max_seconds = t.max_seconds};
    return arbor_dynsup_start(&o, pid_out, error_out);
}

static int start_task(arbor_pid_t sup, const task_desc_t *d, const arbor_task_child_opts_t *o,
                      arbor_pid_t *pid_out)
{
    arbor_child_spec_t spec = {.id = "task",
                               .start = task_child_start,
                               .arg = (void *)d,
                               .arg_size = sizeof *d,
                               .restart = o->restart,
                               .shutdown = o->shutdown,
                               .backoff_ms = o->backoff_ms,
                               .backoff_max_ms = o->backoff_max_ms,
                               .backoff_reset_ms = o->backoff_reset_ms};
    arbor_reason_t err;
    int rc = arbor_dynsup_start_child(sup, &spec, pid_out, &err);
    return rc == ARBOR_IGNORED ? ARBOR_EEXIT : rc;
}

int arbor_task_sup_start_child(arbor_pid_t sup, arbor_task_fn fn, void *arg,
                               const arbor_task_child_opts_t *opts, arbor_pid_t *pid_out)
{
    if (!fn)
        return ARBOR_EINVAL;
    arbor_task_child_opts_t o =
        opts ? *opts : (arbor_task_child_opts_t){.restart = ARBOR_TEMPORARY};
    task_desc_t d = {.fn = fn, .arg = arg};
    return start_task(sup, &d, &o, pid_out);
}

static int sup_async(arbor_pid_t sup, arbor_task_fn fn, void *arg, bool link, arbor_task_t *task)
{
    arbor_pid_t self = arbor_self();
    if (!self)
        return ARBOR_ENOTPROC;
    if (!fn || !task)
        return ARBOR_EINVAL;
    task_desc_t d = {
        .fn = fn, .arg = arg, .owner = self, .reply = true, .wait_go = true, .link_owner = link};
    arbor_pid_t pid;
    arbor_task_child_opts_t o = {.restart = ARBOR_TEMPORARY, .shutdown = ARBOR_SHUTDOWN_DEFAULT};
    int rc = start_task(sup, &d, &o, &pid);
    if (rc)
        return rc;
    go_t go;
    if ((rc = arbor_alias(&go.alias))) {
        arbor_dynsup_terminate_child(sup, pid);
        return rc;
    }
    if ((rc = arbor_monitor(pid, &task->ref))) {
        arbor_unalias(go.alias);
        arbor_dynsup_terminate_child(sup, pid);
        return rc;
    }
    arbor_send(pid, ARBOR__TAG_TASK_GO, &go, sizeof go);
    task->pid = pid;
    task->owner = self;
    task->alias = go.alias;
    return 0;
}

int arbor_task_sup_async(arbor_pid_t sup, arbor_task_fn fn, void *arg, arbor_task_t *task)
{
    return sup_async(sup, fn, arg, true, task);
}

int arbor_task_sup_async_nolink(arbor_pid_t sup, arbor_task_fn fn, void *arg, arbor_task_t *task)
{
    return sup_async(sup, fn, arg, false, task);
}

int arbor_task_sup_children(arbor_pid_t sup, arbor_pid_t **out, size_t *n)
{
    arbor_child_info_t *kids;
    size_t k;
    int rc = arbor_dynsup_which_children(sup, &kids, &k);
    if (rc)
        return rc;
    *out = malloc((k ? k : 1) * sizeof **out);
    if (!*out) {
        free(kids);
        return ARBOR_ENOMEM;
    }
    *n = 0;
    for (size_t i = 0; i < k; i++)
        if (kids[i].pid)
            (*out)[(*n)++] = kids[i].pid;
    free(kids);
    return 0;
}

int arbor_task_sup_terminate_child(arbor_pid_t sup, arbor_pid_t pid)
{
    return arbor_dynsup_terminate_child(sup, pid);
}

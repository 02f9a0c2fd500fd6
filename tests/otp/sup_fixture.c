#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sup_fixture.h"

static void log_event(const worker_arg_t *a, int ev, arbor_reason_t reason)
{
    event_t e = {.pid = arbor_self(), .reason = reason};
    snprintf(e.id, sizeof e.id, "%s", a->id);
    arbor_send(a->log, (uint64_t)ev, &e, sizeof e);
}

static arbor_gs_ret_t w_init(void **state, void *arg)
{
    worker_arg_t *a = arg;
    if (a->fail_starts != 0) {
        if (a->fail_starts > 0)
            a->fail_starts--;
        return arbor_gs_halt(arbor_error("init_failed %s", a->id));
    }
    *state = a;
    log_event(a, EV_STARTED, ARBOR_NORMAL);
    return arbor_gs_ok();
}

static void w_terminate(void **state, const arbor_reason_t *reason)
{
    log_event(*state, EV_TERMINATED, *reason);
}

static arbor_gs_ret_t w_call(void **state, const arbor_msg_t *req, arbor_from_t from)
{
    return arbor_gs_reply(NULL, 0);
}

static const arbor_gen_server_t worker_gs = {
    .label = "test_worker", .init = w_init, .handle_call = w_call, .terminate = w_terminate};

void sleeper_main(void *arg)
{
    (void)arg;
    for (;;) {
        arbor_msg_t *m;
        if (arbor_receive(ARBOR_INFINITY, &m) == 0)
            arbor_msg_free(m);
    }
}

int sleeper_start(void *arg, arbor_pid_t *pid, arbor_reason_t *err)
{
    (void)arg;
    (void)err;
    return arbor_spawn_link(sleeper_main, NULL, pid);
}

int worker_start(void *arg, arbor_pid_t *pid, arbor_reason_t *err)
{
    worker_arg_t *a = arg;
    arbor_gs_opts_t o = {.link = true, .trap_exit = a->trap};
    return arbor_gs_start(&worker_gs, a, &o, pid, err);
}

event_t expect_event(int ev, const char *id)
{
    arbor_msg_t *m = arbor_test_recv(5000);
    if (m->tag != (uint64_t)ev || m->size != sizeof(event_t))
        arbor_test_fail(__FILE__, __LINE__, "expected event %d for %s, got tag %llu", ev, id,
                        (unsigned long long)m->tag);
    event_t e = *(event_t *)m->data;
    arbor_msg_free(m);
    if (strcmp(e.id, id) != 0)
        arbor_test_fail(__FILE__, __LINE__, "expected event %d for %s, got it for %s", ev, id,
                        e.id);
    return e;
}

arbor_pid_t child_pid(arbor_pid_t sup, const char *id)
{
    arbor_child_info_t *kids;
    size_t n;
    ASSERT_OK(arbor_sup_which_children(sup, &kids, &n));
    arbor_pid_t pid = ARBOR_NOPID;
    for (size_t i = 0; i < n; i++)
        if (strcmp(kids[i].id, id) == 0)
            pid = kids[i].pid;
    free(kids);
    return pid;
}

void kill_and_wait(arbor_pid_t pid)
{
    arbor_ref_t ref;
    ASSERT_OK(arbor_monitor(pid, &ref));
    ASSERT_OK(arbor_exit_pid(pid, ARBOR_KILL));
    arbor_msg_t *m = arbor_test_recv_tag(ARBOR_TAG_DOWN, 5000);
    arbor_msg_free(m);
}

/* ---- helpers for the supervisor scenarios (test_supervisor_*.c)
 * ---------------------------------------------------------------------- */

bool is_event(const arbor_msg_t *m, void *arg)
{
    (void)arg;
    return m->tag == EV_STARTED || m->tag == EV_TERMINATED;
}

/* The next EV_STARTED / EV_TERMINATED event, which must be ev for id. */
event_t ev_expect_at(int line, int ev, const char *id)
{
    arbor_msg_t *m;
    if (arbor_receive_match(is_event, NULL, arbor_test_scaled_ms(5000), &m) != 0)
        arbor_test_fail(__FILE__, line, "no event (expected %d for %s)", ev, id);
    event_t e = *(event_t *)m->data;
    uint64_t tag = m->tag;
    arbor_msg_free(m);
    if (tag != (uint64_t)ev || strcmp(e.id, id) != 0)
        arbor_test_fail(__FILE__, line, "expected event %d for %s, got %llu for %s", ev, id,
                        (unsigned long long)tag, e.id);
    return e;
}

/* No event arrives within ms. */
void no_event(int64_t ms)
{
    arbor_msg_t *m;
    if (arbor_receive_match(is_event, NULL, ms, &m) == 0) {
        event_t e = *(event_t *)m->data;
        uint64_t tag = m->tag;
        arbor_msg_free(m);
        arbor_test_fail(__FILE__, __LINE__, "unexpected event %llu for %s", (unsigned long long)tag,
                        e.id);
    }
}

arbor_ref_t mon(arbor_pid_t pid)
{
    arbor_ref_t ref;
    ASSERT_OK(arbor_monitor(pid, &ref));
    return ref;
}

static bool is_down_of(const arbor_msg_t *m, void *ref)
{
    return m->tag == ARBOR_TAG_DOWN &&
           ((const arbor_down_msg_t *)m->data)->ref == *(arbor_ref_t *)ref;
}

/* The reason in the DOWN of monitor ref. */
arbor_reason_t await_down(arbor_ref_t ref)
{
    arbor_msg_t *m;
    if (arbor_receive_match(is_down_of, &ref, arbor_test_scaled_ms(5000), &m) != 0)
        arbor_test_fail(__FILE__, __LINE__, "no DOWN");
    arbor_reason_t r = ((arbor_down_msg_t *)m->data)->reason;
    arbor_msg_free(m);
    return r;
}

static bool is_exit_from(const arbor_msg_t *m, void *pid)
{
    return m->tag == ARBOR_TAG_EXIT &&
           ((const arbor_exit_msg_t *)m->data)->from == *(arbor_pid_t *)pid;
}

/* The reason in the EXIT from pid (the caller traps exits). */
arbor_reason_t await_exit(arbor_pid_t pid)
{
    arbor_msg_t *m;
    if (arbor_receive_match(is_exit_from, &pid, arbor_test_scaled_ms(5000), &m) != 0)
        arbor_test_fail(__FILE__, __LINE__, "no EXIT");
    arbor_reason_t r = ((arbor_exit_msg_t *)m->data)->reason;
    arbor_msg_free(m);
    return r;
}

void assert_counts_at(int line, arbor_pid_t sup, size_t specs, size_t active, size_t supervisors,
                      size_t workers)
{
    arbor_child_counts_t c;
    ASSERT_OK(arbor_sup_count_children(sup, &c));
    if (c.specs != specs || c.active != active || c.supervisors != supervisors ||
        c.workers != workers)
        arbor_test_fail(__FILE__, line, "counts [%zu,%zu,%zu,%zu], expected [%zu,%zu,%zu,%zu]",
                        c.specs, c.active, c.supervisors, c.workers, specs, active, supervisors,
                        workers);
}

/* which_children's entry for id; false if there is none. */
bool child_info(arbor_pid_t sup, const char *id, arbor_child_info_t *out)
{
    arbor_child_info_t *kids;
    size_t n;
    ASSERT_OK(arbor_sup_which_children(sup, &kids, &n));
    bool found = false;
    for (size_t i = 0; i < n; i++)
        if (strcmp(kids[i].id, id) == 0) {
            *out = kids[i];
            found = true;
        }
    free(kids);
    return found;
}

size_t n_children(arbor_pid_t sup)
{
    arbor_child_info_t *kids;
    size_t n;
    ASSERT_OK(arbor_sup_which_children(sup, &kids, &n));
    free(kids);
    return n;
}

/* A report handler that drops reports: for tests that make many on purpose. */
void drop_reports(const arbor_report_t *r, void *ctx)
{
    (void)r;
    (void)ctx;
}

/* ---- the ctl worker ---------------------------------------------------------------- */

static arbor_gs_ret_t ctl_init(void **state, void *arg)
{
    ctl_arg_t *a = arg;
    *state = a;
    event_t e = {.pid = arbor_self(), .reason = ARBOR_NORMAL};
    snprintf(e.id, sizeof e.id, "%s", a->id);
    arbor_send(a->log, EV_STARTED, &e, sizeof e);
    return arbor_gs_ok();
}

static void ctl_terminate(void **state, const arbor_reason_t *reason)
{
    ctl_arg_t *a = *state;
    if (a->terminate_ms)
        arbor_sleep((uint64_t)a->terminate_ms);
    event_t e = {.pid = arbor_self(), .reason = *reason};
    snprintf(e.id, sizeof e.id, "%s", a->id);
    arbor_send(a->log, EV_TERMINATED, &e, sizeof e);
}

static arbor_gs_ret_t ctl_call(void **state, const arbor_msg_t *req, arbor_from_t from)
{
    (void)from;
    ctl_arg_t *a = *state;
    int ok = 0;
    if (req->tag == CTL_STOP && req->size == sizeof(arbor_reason_t))
        return arbor_gs_halt_reply(*(const arbor_reason_t *)req->data, &ok, sizeof ok);
    if (req->tag == CTL_UNLINK)
        ok = arbor_unlink(a->parent);
    return arbor_gs_reply(&ok, sizeof ok);
}

static const arbor_gen_server_t ctl_gs = {
    .label = "ctl", .init = ctl_init, .handle_call = ctl_call, .terminate = ctl_terminate};

int ctl_start(void *arg, arbor_pid_t *pid, arbor_reason_t *err)
{
    ctl_arg_t *a = arg;
    int n = atomic_fetch_add(&a->starts, 1) + 1;
    if (a->ok_starts > 0 && n > a->ok_starts && !(a->gate && atomic_load(a->gate))) {
        if (a->fail_sleep_ms)
            arbor_sleep((uint64_t)a->fail_sleep_ms);
        *err = arbor_error("start_failed %s", a->id);
        return ARBOR_EEXIT;
    }
    a->parent = arbor_self();
    arbor_gs_opts_t o = {.link = true, .trap_exit = a->trap, .name = a->name};
    return arbor_gs_start(&ctl_gs, a, &o, pid, err);
}

ctl_arg_t ctl(const char *id)
{
    return (ctl_arg_t){.id = id, .log = arbor_self()};
}

arbor_child_spec_t ctl_spec(ctl_arg_t *a, arbor_restart_t restart)
{
    return (arbor_child_spec_t){.id = a->id, .start = ctl_start, .arg = a, .restart = restart};
}

/* Makes a ctl child exit with reason. */
void stop_with(arbor_pid_t pid, arbor_reason_t reason)
{
    ASSERT_OK(arbor_gs_call(pid, CTL_STOP, &reason, sizeof reason, arbor_test_scaled_ms(5000), NULL,
                            NULL));
}

/* ---- other child kinds --------------------------------------------------------------- */

static arbor_gs_ret_t ign_init(void **state, void *arg)
{
    (void)state;
    (void)arg;
    return arbor_gs_ignore();
}

static const arbor_gen_server_t ign_gs = {.label = "ign", .init = ign_init};

int ign_start(void *arg, arbor_pid_t *pid, arbor_reason_t *err)
{
    (void)arg;
    arbor_gs_opts_t o = {.link = true};
    return arbor_gs_start(&ign_gs, NULL, &o, pid, err);
}

/* A child of type supervisor. */
int nested_start(void *arg, arbor_pid_t *pid, arbor_reason_t *err)
{
    nested_arg_t *a = arg;
    arbor_sup_opts_t o = {.link = true};
    return arbor_sup_start(&a->flags, a->children, a->n, &o, pid, err);
}

const arbor_sup_flags_t flags_1_for_1 = {
    .strategy = ARBOR_ONE_FOR_ONE, .max_restarts = 2, .max_seconds = 3600};

/* Makes a ctl child exit with reason and waits for its DOWN. The runtime
 * sends a dying process's link EXITs before its monitor DOWNs, so once the
 * DOWN is here the supervisor has the EXIT queued ahead of any call we make. */
void stop_and_wait(arbor_pid_t pid, arbor_reason_t reason)
{
    arbor_ref_t ref = mon(pid);
    stop_with(pid, reason);
    arbor_reason_t got = await_down(ref);
    ASSERT_TRUE(arbor_reason_equal(&got, &reason));
}

/* Kills pid and returns once the supervisor has its EXIT queued (see stop_and_wait()). */
void kill_child(arbor_pid_t pid)
{
    arbor_ref_t ref = mon(pid);
    ASSERT_OK(arbor_exit_pid(pid, ARBOR_KILL));
    ASSERT_REASON(await_down(ref), ARBOR_EXIT_KILLED, "");
}

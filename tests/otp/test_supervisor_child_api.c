/*
 * Supervisor scenarios, ported to Arbor from OTP's and Elixir's suites (the
 * SV numbers name them). The child API: start_child with a start that
 * returns a pid, the Stack server's life cycle, which_children and
 * count_children, and a name taken outside the supervisor (SV-41 .. SV-46;
 * docs/semantics.md 3.5). The ctl, ign and nested children are the
 * fixture's (sup_fixture.h).
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sup_fixture.h"

/* {ok, Pid, Info} has no Arbor form (a start returns 0 and a pid only): what
 * is checked is that a start returning 0 with its pid works through
 * start_child and restart_child, and that a crash restarts it. */
static void sv41(void *arg)
{
    (void)arg;
    arbor_pid_t sup, pid;
    ASSERT_OK(arbor_sup_start(&flags_1_for_1, NULL, 0, NULL, &sup, NULL));
    ctl_arg_t a = ctl("child1");
    arbor_child_spec_t spec = ctl_spec(&a, ARBOR_PERMANENT);
    ASSERT_OK(arbor_sup_start_child(sup, &spec, &pid, NULL));
    ASSERT_U64_EQ(ev_expect(EV_STARTED, "child1").pid, pid);
    ASSERT_OK(arbor_sup_terminate_child(sup, "child1"));
    arbor_pid_t pid2;
    ASSERT_OK(arbor_sup_restart_child(sup, "child1", &pid2, NULL));
    ASSERT_U64_EQ(ev_expect(EV_STARTED, "child1").pid, pid2);
    ASSERT_NE(pid2, pid);
    kill_child(pid2);
    arbor_pid_t pid3 = ev_expect(EV_STARTED, "child1").pid;
    ASSERT_NE(pid3, pid2);
    ASSERT_U64_EQ(child_pid(sup, "child1"), pid3);
    ASSERT_OK(arbor_sup_stop(sup, ARBOR_NORMAL));
}

TEST(SV_41_start_returning_a_pid_works_for_start_restart_and_crash)
{
    arbor_test_run(sv41, NULL);
}

/* ---- the Stack server (Elixir's docs) ------------------------------------------------- */

enum { STACK_PUSH = 1, STACK_POP };

typedef struct {
    char items[8][16];
    int n;
} stack_t_;

static arbor_gs_ret_t stack_init(void **state, void *arg)
{
    stack_t_ *s = arbor_calloc(1, sizeof *s);
    snprintf(s->items[0], sizeof s->items[0], "%s", (const char *)arg);
    s->n = 1;
    *state = s;
    return arbor_gs_ok();
}

static arbor_gs_ret_t stack_call(void **state, const arbor_msg_t *req, arbor_from_t from)
{
    (void)from;
    stack_t_ *s = *state;
    if (req->tag == STACK_PUSH && s->n < 8) {
        snprintf(s->items[s->n++], sizeof s->items[0], "%.*s", (int)req->size,
                 (const char *)req->data);
        return arbor_gs_reply("ok", 3);
    }
    if (req->tag == STACK_POP && s->n > 0) {
        s->n--;
        return arbor_gs_reply(s->items[s->n], strlen(s->items[s->n]) + 1);
    }
    return arbor_gs_reply("", 1);
}

static void stack_terminate(void **state, const arbor_reason_t *reason)
{
    (void)reason;
    arbor_free(*state);
}

static const arbor_gen_server_t stack_gs = {
    .label = "Stack", .init = stack_init, .handle_call = stack_call, .terminate = stack_terminate};

static int stack_start(void *arg, arbor_pid_t *pid, arbor_reason_t *err)
{
    arbor_gs_opts_t o = {.link = true};
    return arbor_gs_start(&stack_gs, arg, &o, pid, err);
}

static void expect_pop(arbor_pid_t stack, const char *want)
{
    arbor_msg_t *m;
    ASSERT_OK(arbor_gs_call(stack, STACK_POP, NULL, 0, arbor_test_scaled_ms(5000), &m, NULL));
    ASSERT_STREQ((const char *)m->data, want);
    arbor_msg_free(m);
}

/* Elixir's "child life cycle" with Stack started with [:hello]. */
static void sv42(void *arg)
{
    (void)arg;
    char hello[] = "hello";
    arbor_child_spec_t spec = {
        .id = "Stack", .start = stack_start, .arg = hello, .arg_size = sizeof hello};
    arbor_pid_t sup;
    ASSERT_OK(arbor_sup_start(&ARBOR_SUP_FLAGS_DEFAULT, &spec, 1, NULL, &sup, NULL));
    memset(hello, 0, sizeof hello); /* the supervisor kept its own copy */
    arbor_child_info_t *kids;
    size_t n;
    ASSERT_OK(arbor_sup_which_children(sup, &kids, &n));
    ASSERT_EQ(n, 1);
    ASSERT_STREQ(kids[0].id, "Stack");
    ASSERT_EQ(kids[0].type, ARBOR_WORKER);
    ASSERT_EQ(kids[0].status, ARBOR_CHILD_RUNNING);
    arbor_pid_t stack = kids[0].pid;
    free(kids);
    ASSERT_NE(stack, ARBOR_NOPID);
    assert_counts(sup, 1, 1, 0, 1);
    ASSERT_OK(arbor_gs_call(stack, STACK_PUSH, "world", 5, arbor_test_scaled_ms(5000), NULL, NULL));
    expect_pop(stack, "world");
    expect_pop(stack, "hello");
    expect_pop(stack, "");

    ASSERT_ERR(arbor_sup_delete_child(sup, "Stack"), ARBOR_ERUNNING);
    ASSERT_OK(arbor_sup_terminate_child(sup, "Stack"));
    ASSERT_FALSE(arbor_test_alive(stack));
    arbor_child_info_t info;
    ASSERT_TRUE(child_info(sup, "Stack", &info));
    ASSERT_EQ(info.status, ARBOR_CHILD_UNDEFINED);
    ASSERT_U64_EQ(info.pid, ARBOR_NOPID);
    assert_counts(sup, 1, 0, 0, 1);

    arbor_pid_t stack2;
    ASSERT_OK(arbor_sup_restart_child(sup, "Stack", &stack2, NULL));
    ASSERT_NE(stack2, stack);
    expect_pop(stack2, "hello"); /* a fresh state */
    ASSERT_OK(arbor_sup_terminate_child(sup, "Stack"));
    ASSERT_OK(arbor_sup_delete_child(sup, "Stack"));
    ASSERT_EQ(n_children(sup), 0);
    assert_counts(sup, 0, 0, 0, 0);
    ASSERT_OK(arbor_sup_stop(sup, ARBOR_NORMAL));
}

TEST(SV_42_stack_child_life_cycle)
{
    arbor_test_run(sv42, NULL);
}

/* which_children (most recent first) and get_childspec (Erlang's which_child)
 * after start, terminate and delete; ENOENT for unknown or deleted ids. */
static void sv43(void *arg)
{
    (void)arg;
    ctl_arg_t a1 = ctl("child1"), a2 = ctl("child2");
    arbor_child_spec_t specs[2] = {ctl_spec(&a1, ARBOR_PERMANENT), ctl_spec(&a2, ARBOR_PERMANENT)};
    arbor_pid_t sup;
    ASSERT_OK(arbor_sup_start(&flags_1_for_1, specs, 2, NULL, &sup, NULL));
    arbor_pid_t p1 = ev_expect(EV_STARTED, "child1").pid;
    arbor_pid_t p2 = ev_expect(EV_STARTED, "child2").pid;
    arbor_child_info_t *kids;
    size_t n;
    ASSERT_OK(arbor_sup_which_children(sup, &kids, &n));
    ASSERT_EQ(n, 2);
    ASSERT_STREQ(kids[0].id, "child2");
    ASSERT_U64_EQ(kids[0].pid, p2);
    ASSERT_STREQ(kids[1].id, "child1");
    ASSERT_U64_EQ(kids[1].pid, p1);
    free(kids);
    arbor_child_spec_t cs;
    char idbuf[ARBOR_CHILD_ID_MAX + 1];
    ASSERT_OK(arbor_sup_get_childspec(sup, "child1", &cs, idbuf));
    ASSERT_STREQ(cs.id, "child1");
    ASSERT_ERR(arbor_sup_get_childspec(sup, "child3", &cs, idbuf), ARBOR_ENOENT);

    ASSERT_OK(arbor_sup_terminate_child(sup, "child1"));
    ASSERT_OK(arbor_sup_which_children(sup, &kids, &n));
    ASSERT_EQ(n, 2);
    ASSERT_STREQ(kids[0].id, "child2");
    ASSERT_U64_EQ(kids[0].pid, p2);
    ASSERT_STREQ(kids[1].id, "child1");
    ASSERT_U64_EQ(kids[1].pid, ARBOR_NOPID);
    ASSERT_EQ(kids[1].status, ARBOR_CHILD_UNDEFINED);
    free(kids);
    ASSERT_OK(arbor_sup_get_childspec(sup, "child1", &cs, idbuf));

    ASSERT_OK(arbor_sup_delete_child(sup, "child1"));
    ASSERT_OK(arbor_sup_which_children(sup, &kids, &n));
    ASSERT_EQ(n, 1);
    ASSERT_STREQ(kids[0].id, "child2");
    free(kids);
    ASSERT_ERR(arbor_sup_get_childspec(sup, "child1", &cs, idbuf), ARBOR_ENOENT);
    ASSERT_ERR(arbor_sup_terminate_child(sup, "child1"), ARBOR_ENOENT);
    ASSERT_ERR(arbor_sup_restart_child(sup, "child1", NULL, NULL), ARBOR_ENOENT);
    ASSERT_ERR(arbor_sup_delete_child(sup, "child1"), ARBOR_ENOENT);

    /* A re-added child is the most recent. */
    ASSERT_OK(arbor_sup_start_child(sup, &specs[0], &p1, NULL));
    ev_expect(EV_STARTED, "child1");
    ASSERT_OK(arbor_sup_which_children(sup, &kids, &n));
    ASSERT_EQ(n, 2);
    ASSERT_STREQ(kids[0].id, "child1");
    ASSERT_STREQ(kids[1].id, "child2");
    free(kids);
    ASSERT_OK(arbor_sup_stop(sup, ARBOR_NORMAL));
}

TEST(SV_43_which_children_most_recent_first_through_terminate_and_delete)
{
    arbor_test_run(sv43, NULL);
}

/* ---- counting and dynamic children (SV-44 .. SV-46) ----------------------------------- */

static arbor_gs_ret_t idle_init(void **state, void *arg)
{
    (void)state;
    (void)arg;
    return arbor_gs_ok();
}

static const arbor_gen_server_t idle_gs = {.label = "idle", .init = idle_init};

static int idle_start(void *arg, arbor_pid_t *pid, arbor_reason_t *err)
{
    (void)arg;
    arbor_gs_opts_t o = {.link = true};
    return arbor_gs_start(&idle_gs, NULL, &o, pid, err);
}

/* Kills every running child of sup and waits for each to be gone. */
static void kill_all(arbor_pid_t sup)
{
    arbor_child_info_t *kids;
    size_t n;
    ASSERT_OK(arbor_sup_which_children(sup, &kids, &n));
    for (size_t i = 0; i < n; i++)
        if (kids[i].status == ARBOR_CHILD_RUNNING)
            kill_child(kids[i].pid);
    free(kids);
}

/* 1000 temporary children added with start_child: counted as workers and
 * active; all killed: none left. Children of type supervisor are counted
 * under supervisors. */
static void sv44(void *arg)
{
    (void)arg;
    arbor_pid_t sup, pid;
    ASSERT_OK(arbor_sup_start(&flags_1_for_1, NULL, 0, NULL, &sup, NULL));
    enum { N = 1000 };
    for (int i = 0; i < N; i++) {
        char id[16];
        snprintf(id, sizeof id, "t%d", i);
        arbor_child_spec_t s = {.id = id, .start = idle_start, .restart = ARBOR_TEMPORARY};
        ASSERT_OK(arbor_sup_start_child(sup, &s, &pid, NULL));
    }
    assert_counts(sup, N, N, 0, N);
    kill_all(sup);
    assert_counts(sup, 0, 0, 0, 0);
    ASSERT_EQ(n_children(sup), 0);

    nested_arg_t na = {.flags = flags_1_for_1};
    for (int i = 0; i < 3; i++) {
        char id[16];
        snprintf(id, sizeof id, "s%d", i);
        arbor_child_spec_t s = {.id = id,
                                .start = nested_start,
                                .arg = &na,
                                .restart = ARBOR_TEMPORARY,
                                .type = ARBOR_SUPERVISOR_CHILD};
        ASSERT_OK(arbor_sup_start_child(sup, &s, &pid, NULL));
    }
    arbor_child_spec_t w = {.id = "w", .start = idle_start, .restart = ARBOR_TEMPORARY};
    ASSERT_OK(arbor_sup_start_child(sup, &w, &pid, NULL));
    assert_counts(sup, 4, 4, 3, 1);
    kill_all(sup);
    assert_counts(sup, 0, 0, 0, 0);
    ASSERT_OK(arbor_sup_stop(sup, ARBOR_NORMAL));
}

TEST_TIMEOUT(SV_44_count_children_with_a_thousand_temporary_children, 60)
{
    arbor_test_run(sv44, NULL);
}

/* Children whose restarts fail for a while (until a gate opens) are counted
 * as workers but not active; once they start again, as active. */
static void sv45(void *arg)
{
    (void)arg;
    arbor_report_set_handler(drop_reports, NULL);
    atomic_int gate = 0;
    ctl_arg_t a[3] = {ctl("c1"), ctl("c2"), ctl("c3")};
    arbor_sup_flags_t f = {
        .strategy = ARBOR_ONE_FOR_ONE, .max_restarts = 100000, .max_seconds = 3600};
    arbor_pid_t sup, pids[3];
    ASSERT_OK(arbor_sup_start(&f, NULL, 0, NULL, &sup, NULL));
    for (int i = 0; i < 3; i++) {
        a[i].ok_starts = 1;
        a[i].gate = &gate;
        a[i].fail_sleep_ms = 1;
        arbor_child_spec_t s = ctl_spec(&a[i], ARBOR_PERMANENT);
        ASSERT_OK(arbor_sup_start_child(sup, &s, &pids[i], NULL));
        ev_expect(EV_STARTED, a[i].id);
    }
    assert_counts(sup, 3, 3, 0, 3);
    kill_child(pids[1]);
    kill_child(pids[2]);
    assert_counts(sup, 3, 1, 0, 3);
    arbor_child_info_t info;
    ASSERT_TRUE(child_info(sup, "c2", &info));
    ASSERT_EQ(info.status, ARBOR_CHILD_RESTARTING);
    ASSERT_TRUE(child_info(sup, "c3", &info));
    ASSERT_EQ(info.status, ARBOR_CHILD_RESTARTING);
    atomic_store(&gate, 1);
    bool seen[3] = {false, false, false};
    for (int k = 0; k < 2; k++) {
        arbor_msg_t *m;
        ASSERT_OK(arbor_receive_match(is_event, NULL, arbor_test_scaled_ms(5000), &m));
        ASSERT_EQ(m->tag, EV_STARTED);
        const event_t *e = m->data;
        ASSERT_TRUE(strcmp(e->id, "c2") == 0 || strcmp(e->id, "c3") == 0);
        seen[e->id[1] - '1'] = true;
        arbor_msg_free(m);
    }
    ASSERT_TRUE(seen[1] && seen[2]);
    assert_counts(sup, 3, 3, 0, 3);
    ASSERT_U64_EQ(child_pid(sup, "c1"), pids[0]);
    ASSERT_OK(arbor_sup_stop(sup, ARBOR_NORMAL));
    arbor_report_set_handler(NULL, NULL);
}

TEST(SV_45_restarting_children_count_as_workers_not_active)
{
    arbor_test_run(sv45, NULL);
}

/* A child that registers a name another process holds: start_child fails
 * with ARBOR_EEXIST and that process's pid ({already_started, P}); no spec
 * is kept. */
static void sv46(void *arg)
{
    (void)arg;
    ASSERT_OK(arbor_register("registered_name", arbor_self(), NULL));
    arbor_pid_t sup, pid = ARBOR_NOPID;
    ASSERT_OK(arbor_sup_start(&flags_1_for_1, NULL, 0, NULL, &sup, NULL));
    ctl_arg_t a = ctl("child1");
    a.name = "registered_name";
    arbor_child_spec_t s = ctl_spec(&a, ARBOR_PERMANENT);
    ASSERT_ERR(arbor_sup_start_child(sup, &s, &pid, NULL), ARBOR_EEXIST);
    ASSERT_U64_EQ(pid, arbor_self());
    ASSERT_EQ(n_children(sup), 0);
    no_event(20);
    /* Once the name is free, the same spec starts. */
    ASSERT_OK(arbor_unregister("registered_name"));
    ASSERT_OK(arbor_sup_start_child(sup, &s, &pid, NULL));
    ev_expect(EV_STARTED, "child1");
    ASSERT_U64_EQ(arbor_whereis("registered_name"), pid);
    ASSERT_OK(arbor_sup_stop(sup, ARBOR_NORMAL));
}

TEST(SV_46_child_name_taken_outside_the_supervisor_is_already_started)
{
    arbor_test_run(sv46, NULL);
}

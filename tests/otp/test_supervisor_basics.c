/*
 * The supervisor's core, as the course presents it: the three strategies
 * on three children with the middle one killed (otp-reference.md 8.4), the
 * restart intensity (8.5), and which_children / count_children.
 */
#include "sup_fixture.h"

typedef struct {
    arbor_strategy_t strategy;
} strat_t;

static void three_children(arbor_strategy_t strategy, worker_arg_t args[3], arbor_pid_t *sup)
{
    static const char *ids[3] = {"a", "b", "c"};
    arbor_child_spec_t specs[3];
    for (int i = 0; i < 3; i++) {
        args[i] = (worker_arg_t){.id = ids[i], .log = arbor_self(), .trap = true};
        specs[i] = (arbor_child_spec_t){.id = ids[i], .start = worker_start, .arg = &args[i]};
    }
    arbor_sup_flags_t flags = ARBOR_SUP_FLAGS_DEFAULT;
    flags.strategy = strategy;
    ASSERT_OK(arbor_sup_start(&flags, specs, 3, NULL, sup, NULL));
    for (int i = 0; i < 3; i++)
        expect_event(EV_STARTED, ids[i]);
}

static void kill_middle(void *arg)
{
    strat_t *st = arg;
    worker_arg_t args[3];
    arbor_pid_t sup;
    three_children(st->strategy, args, &sup);
    arbor_pid_t a = child_pid(sup, "a"), b = child_pid(sup, "b"), c = child_pid(sup, "c");
    ASSERT_OK(arbor_exit_pid(b, ARBOR_KILL));
    switch (st->strategy) {
    case ARBOR_ONE_FOR_ONE:
        expect_event(EV_STARTED, "b");
        break;
    case ARBOR_ONE_FOR_ALL:
        /* Observed on the BEAM: terminate c, terminate a (reverse order), then a, b, c. */
        expect_event(EV_TERMINATED, "c");
        expect_event(EV_TERMINATED, "a");
        expect_event(EV_STARTED, "a");
        expect_event(EV_STARTED, "b");
        expect_event(EV_STARTED, "c");
        break;
    case ARBOR_REST_FOR_ONE:
        expect_event(EV_TERMINATED, "c");
        expect_event(EV_STARTED, "b");
        expect_event(EV_STARTED, "c");
        break;
    }
    arbor_pid_t a2 = child_pid(sup, "a"), b2 = child_pid(sup, "b"), c2 = child_pid(sup, "c");
    ASSERT_NE(b2, b);
    ASSERT_NE(b2, ARBOR_NOPID);
    if (st->strategy == ARBOR_ONE_FOR_ONE) {
        ASSERT_U64_EQ(a2, a);
        ASSERT_U64_EQ(c2, c);
    } else if (st->strategy == ARBOR_ONE_FOR_ALL) {
        ASSERT_NE(a2, a);
        ASSERT_NE(c2, c);
    } else {
        ASSERT_U64_EQ(a2, a);
        ASSERT_NE(c2, c);
    }
    ASSERT_OK(arbor_sup_stop(sup, ARBOR_NORMAL));
    /* Shutdown in reverse start order: c, b, a. */
    ASSERT_REASON(expect_event(EV_TERMINATED, "c").reason, ARBOR_EXIT_SHUTDOWN, "");
    expect_event(EV_TERMINATED, "b");
    expect_event(EV_TERMINATED, "a");
}

TEST(one_for_one_restarts_only_the_killed_child)
{
    strat_t st = {ARBOR_ONE_FOR_ONE};
    arbor_test_run(kill_middle, &st);
}

TEST(one_for_all_restarts_every_child_in_start_order)
{
    strat_t st = {ARBOR_ONE_FOR_ALL};
    arbor_test_run(kill_middle, &st);
}

TEST(rest_for_one_restarts_the_child_and_those_after_it)
{
    strat_t st = {ARBOR_REST_FOR_ONE};
    arbor_test_run(kill_middle, &st);
}

static void intensity_root(void *arg)
{
    arbor_trap_exit(true);
    worker_arg_t wa = {.id = "w", .log = arbor_self()};
    arbor_child_spec_t spec = {.id = "w", .start = worker_start, .arg = &wa};
    arbor_sup_flags_t flags = ARBOR_SUP_FLAGS_DEFAULT; /* 3 restarts in 5 s */
    arbor_pid_t sup;
    arbor_sup_opts_t o = {.link = true};
    ASSERT_OK(arbor_sup_start(&flags, &spec, 1, &o, &sup, NULL));
    expect_event(EV_STARTED, "w");
    for (int kill = 1; kill <= 3; kill++) {
        kill_and_wait(child_pid(sup, "w"));
        expect_event(EV_STARTED, "w");
    }
    /* The fourth restart-worthy exit within 5 s: the supervisor gives up. */
    kill_and_wait(child_pid(sup, "w"));
    arbor_msg_t *m = arbor_test_recv_tag(ARBOR_TAG_EXIT, 5000);
    arbor_exit_msg_t *e = m->data;
    ASSERT_U64_EQ(e->from, sup);
    ASSERT_REASON(e->reason, ARBOR_EXIT_SHUTDOWN, "");
    arbor_msg_free(m);
}

TEST(fourth_restart_within_max_seconds_shuts_the_supervisor_down)
{
    arbor_test_run(intensity_root, NULL);
}

static void failed_start_root(void *arg)
{
    worker_arg_t args[3] = {{.id = "c1", .log = arbor_self(), .trap = true},
                            {.id = "c2", .log = arbor_self(), .fail_starts = -1},
                            {.id = "c3", .log = arbor_self()}};
    arbor_child_spec_t specs[3];
    for (int i = 0; i < 3; i++)
        specs[i] = (arbor_child_spec_t){.id = args[i].id, .start = worker_start, .arg = &args[i]};
    arbor_sup_flags_t flags = ARBOR_SUP_FLAGS_DEFAULT;
    arbor_pid_t sup;
    arbor_reason_t err;
    ASSERT_ERR(arbor_sup_start(&flags, specs, 3, NULL, &sup, &err), ARBOR_EEXIT);
    ASSERT_REASON(err, ARBOR_EXIT_SHUTDOWN, "failed_to_start_child c2: init_failed c2");
    expect_event(EV_STARTED, "c1");
    ASSERT_REASON(expect_event(EV_TERMINATED, "c1").reason, ARBOR_EXIT_SHUTDOWN, "");
    arbor_test_no_message(50); /* c3 never started */
}

TEST(failed_child_start_stops_the_started_ones_and_fails_the_start)
{
    arbor_test_run(failed_start_root, NULL);
}

static void api_root(void *arg)
{
    worker_arg_t args[2] = {{.id = "c1", .log = arbor_self()}, {.id = "c2", .log = arbor_self()}};
    arbor_child_spec_t specs[2] = {{.id = "c1", .start = worker_start, .arg = &args[0]},
                                   {.id = "c2", .start = worker_start, .arg = &args[1]}};
    arbor_sup_flags_t flags = ARBOR_SUP_FLAGS_DEFAULT;
    arbor_pid_t sup, pid;
    ASSERT_OK(arbor_sup_start(&flags, specs, 2, NULL, &sup, NULL));
    expect_event(EV_STARTED, "c1");
    expect_event(EV_STARTED, "c2");
    arbor_child_info_t *kids;
    size_t n;
    ASSERT_OK(arbor_sup_which_children(sup, &kids, &n));
    ASSERT_EQ(n, 2);
    ASSERT_STREQ(kids[0].id, "c2"); /* most recently started first */
    ASSERT_STREQ(kids[1].id, "c1");
    free(kids);
    arbor_child_counts_t cnt;
    ASSERT_OK(arbor_sup_count_children(sup, &cnt));
    ASSERT_EQ(cnt.specs, 2);
    ASSERT_EQ(cnt.active, 2);
    ASSERT_EQ(cnt.workers, 2);
    ASSERT_EQ(cnt.supervisors, 0);
    ASSERT_ERR(arbor_sup_start_child(sup, &specs[0], &pid, NULL), ARBOR_EEXIST);
    ASSERT_U64_EQ(pid, child_pid(sup, "c1"));
    ASSERT_ERR(arbor_sup_delete_child(sup, "c1"), ARBOR_ERUNNING);
    ASSERT_OK(arbor_sup_terminate_child(sup, "c1"));
    ASSERT_OK(arbor_sup_terminate_child(sup, "c1"));
    ASSERT_ERR(arbor_sup_terminate_child(sup, "nope"), ARBOR_ENOENT);
    ASSERT_U64_EQ(child_pid(sup, "c1"), ARBOR_NOPID);
    ASSERT_OK(arbor_sup_count_children(sup, &cnt));
    ASSERT_EQ(cnt.active, 1);
    ASSERT_EQ(cnt.specs, 2);
    ASSERT_ERR(arbor_sup_start_child(sup, &specs[0], &pid, NULL), ARBOR_EPRESENT);
    ASSERT_OK(arbor_sup_restart_child(sup, "c1", &pid, NULL));
    expect_event(EV_STARTED, "c1");
    ASSERT_ERR(arbor_sup_restart_child(sup, "c1", &pid, NULL), ARBOR_ERUNNING);
    ASSERT_OK(arbor_sup_terminate_child(sup, "c1"));
    ASSERT_OK(arbor_sup_delete_child(sup, "c1"));
    ASSERT_ERR(arbor_sup_delete_child(sup, "c1"), ARBOR_ENOENT);
    ASSERT_OK(arbor_sup_stop(sup, ARBOR_NORMAL));
}

TEST(child_life_cycle_through_the_api)
{
    arbor_test_run(api_root, NULL);
}

/* ---- restart back-off (beyond OTP) ------------------------------------------------ */

static arbor_child_status_t status_of(arbor_pid_t sup, const char *id)
{
    arbor_child_info_t *kids;
    size_t n;
    ASSERT_OK(arbor_sup_which_children(sup, &kids, &n));
    arbor_child_status_t st = 0;
    for (size_t i = 0; i < n; i++)
        if (strcmp(kids[i].id, id) == 0)
            st = kids[i].status;
    free(kids);
    return st;
}

/* Kills child id and returns how many ms passed until it was running again. */
static uint64_t restart_delay(arbor_pid_t sup, const char *id, bool expect_restarting)
{
    uint64_t t0 = arbor_now_ms();
    kill_and_wait(child_pid(sup, id));
    if (expect_restarting)
        ASSERT_EQ(status_of(sup, id), ARBOR_CHILD_RESTARTING);
    expect_event(EV_STARTED, id);
    return arbor_now_ms() - t0;
}

static void backoff_root(void *arg)
{
    worker_arg_t wa = {.id = "w", .log = arbor_self()};
    arbor_child_spec_t spec = {.id = "w",
                               .start = worker_start,
                               .arg = &wa,
                               .backoff_ms = 40,
                               .backoff_max_ms = 200,
                               .backoff_reset_ms = 300};
    arbor_sup_flags_t flags = {
        .strategy = ARBOR_ONE_FOR_ONE, .max_restarts = 100, .max_seconds = 5};
    arbor_pid_t sup;
    ASSERT_OK(arbor_sup_start(&flags, &spec, 1, NULL, &sup, NULL));
    expect_event(EV_STARTED, "w");
    /* Delays: 40, 80, 160, 200 (capped), each times [0.5, 1.5). */
    ASSERT_GE(restart_delay(sup, "w", true), 20);
    ASSERT_GE(restart_delay(sup, "w", true), 40);
    ASSERT_GE(restart_delay(sup, "w", true), 80);
    uint64_t capped = restart_delay(sup, "w", true);
    ASSERT_GE(capped, 100);
    ASSERT_LT(capped, 2000);
    /* A healthy run longer than backoff_reset_ms starts the delays over. */
    arbor_sleep(350);
    ASSERT_LT(restart_delay(sup, "w", true), 150);
    ASSERT_OK(arbor_sup_stop(sup, ARBOR_NORMAL));
}

TEST(restart_backoff_doubles_the_delay_and_resets_after_a_healthy_run)
{
    arbor_test_run(backoff_root, NULL);
}

static void no_backoff_root(void *arg)
{
    worker_arg_t wa = {.id = "w", .log = arbor_self()};
    arbor_child_spec_t spec = {.id = "w", .start = worker_start, .arg = &wa};
    arbor_sup_flags_t flags = ARBOR_SUP_FLAGS_DEFAULT;
    arbor_pid_t sup;
    ASSERT_OK(arbor_sup_start(&flags, &spec, 1, NULL, &sup, NULL));
    expect_event(EV_STARTED, "w");
    /* OTP's default: the restart is done before the supervisor answers. */
    kill_and_wait(child_pid(sup, "w"));
    ASSERT_EQ(status_of(sup, "w"), ARBOR_CHILD_RUNNING);
    expect_event(EV_STARTED, "w");
    ASSERT_OK(arbor_sup_stop(sup, ARBOR_NORMAL));
}

TEST(without_backoff_a_restart_is_immediate)
{
    arbor_test_run(no_backoff_root, NULL);
}

/* ---- {ok, Pid, Info} ---------------------------------------------------------------- */

/* A start function returning OTP's {ok, Pid, Info}: the worker's pid, and
 * "info N" in its reason argument, N counting its starts. */
static int info_start(void *arg, arbor_pid_t *pid, arbor_reason_t *info)
{
    worker_arg_t *a = arg;
    int rc = worker_start(a, pid, info);
    if (rc == 0)
        *info = arbor_reason(ARBOR_EXIT_NORMAL, "info %d", ++a->starts);
    return rc;
}

/* start_child and restart_child hand the info to their caller; a restart
 * the supervisor makes on its own ignores it (the child just runs again),
 * and the info of a start without any is ARBOR_NORMAL. */
static void info_root(void *arg)
{
    worker_arg_t wa = {.id = "i", .log = arbor_self()};
    arbor_child_spec_t spec = {.id = "i", .start = info_start, .arg = &wa};
    arbor_sup_flags_t flags = ARBOR_SUP_FLAGS_DEFAULT;
    arbor_pid_t sup, pid = ARBOR_NOPID;
    ASSERT_OK(arbor_sup_start(&flags, NULL, 0, NULL, &sup, NULL));
    arbor_reason_t info = ARBOR_KILLED;
    ASSERT_OK(arbor_sup_start_child(sup, &spec, &pid, &info));
    expect_event(EV_STARTED, "i");
    ASSERT_U64_EQ(pid, child_pid(sup, "i"));
    ASSERT_REASON(info, ARBOR_EXIT_NORMAL, "info 1");
    kill_and_wait(pid);
    expect_event(EV_STARTED, "i"); /* restarted by the supervisor: info 2, ignored */
    ASSERT_OK(arbor_sup_terminate_child(sup, "i"));
    ASSERT_OK(arbor_sup_restart_child(sup, "i", &pid, &info));
    expect_event(EV_STARTED, "i");
    ASSERT_REASON(info, ARBOR_EXIT_NORMAL, "info 3");
    worker_arg_t plain = {.id = "p", .log = arbor_self()};
    arbor_child_spec_t pspec = {.id = "p", .start = worker_start, .arg = &plain};
    ASSERT_OK(arbor_sup_start_child(sup, &pspec, &pid, &info));
    expect_event(EV_STARTED, "p");
    ASSERT_REASON(info, ARBOR_EXIT_NORMAL, "");
    ASSERT_OK(arbor_sup_stop(sup, ARBOR_NORMAL));
}

TEST(start_child_and_restart_child_return_the_start_info)
{
    arbor_test_run(info_root, NULL);
}

/* ---- a start function that forgets to link -------------------------------------------- */

enum { EV_LINKED = 300 };

/* Waits for messages for ever; with arg set, first links itself to the
 * pid at arg (its supervisor) and tells it so. */
static void idle_main(void *arg)
{
    if (arg) {
        arbor_pid_t sup = *(arbor_pid_t *)arg;
        ASSERT_OK(arbor_link(sup));
        arbor_send(sup, EV_LINKED, NULL, 0);
    }
    for (;;) {
        arbor_msg_t *m;
        if (arbor_receive(ARBOR_INFINITY, &m) == 0)
            arbor_msg_free(m);
    }
}

/* The mistake: a process started without a link to the supervisor. */
static int unlinked_start(void *arg, arbor_pid_t *pid, arbor_reason_t *err)
{
    (void)err;
    *(arbor_pid_t *)arg = ARBOR_NOPID;
    int rc = arbor_spawn(idle_main, NULL, pid);
    if (rc == 0)
        *(arbor_pid_t *)arg = *pid; /* for the test to watch */
    return rc;
}

/* No mistake: the child links itself to the supervisor, from its side,
 * before the start returns. */
static int self_linking_start(void *arg, arbor_pid_t *pid, arbor_reason_t *err)
{
    (void)arg;
    (void)err;
    arbor_pid_t sup = arbor_self();
    arbor_spawn_opts_t o = {.arg_size = sizeof sup};
    int rc = arbor_spawn_opt(idle_main, &sup, &o, pid, NULL);
    if (rc == 0)
        arbor_msg_free(arbor_test_recv_tag(EV_LINKED, 5000));
    return rc;
}

/* A child whose start returns a process not linked to the supervisor is
 * refused with an error naming it, and the process is stopped (its death
 * would never reach the supervisor, which would show it running for
 * ever); start_child keeps nothing, and a supervisor with it among its
 * children fails to start. A child that links itself is accepted. */
static void unlinked_root(void *arg)
{
    (void)arg;
    arbor_pid_t orphan = ARBOR_NOPID, sup, pid = ARBOR_NOPID;
    arbor_child_spec_t spec = {.id = "forgetful", .start = unlinked_start, .arg = &orphan};
    arbor_sup_flags_t flags = ARBOR_SUP_FLAGS_DEFAULT;
    ASSERT_OK(arbor_sup_start(&flags, NULL, 0, NULL, &sup, NULL));
    arbor_reason_t err = ARBOR_NORMAL;
    ASSERT_ERR(arbor_sup_start_child(sup, &spec, &pid, &err), ARBOR_EEXIT);
    ASSERT_EQ(err.kind, ARBOR_EXIT_ERROR);
    ASSERT_TRUE(strncmp(err.detail, "not_linked: child forgetful ", 28) == 0);
    ASSERT_U64_EQ(pid, ARBOR_NOPID);
    ASSERT_NE(orphan, ARBOR_NOPID);
    kill_and_wait(orphan); /* already gone: this only waits */
    arbor_child_counts_t cnt;
    ASSERT_OK(arbor_sup_count_children(sup, &cnt));
    ASSERT_EQ(cnt.specs, 0);

    arbor_child_spec_t good = {.id = "self_linking", .start = self_linking_start};
    ASSERT_OK(arbor_sup_start_child(sup, &good, &pid, NULL));
    kill_and_wait(pid);
    ASSERT_NE(child_pid(sup, "self_linking"), pid); /* it was restarted */
    ASSERT_NE(child_pid(sup, "self_linking"), ARBOR_NOPID);
    ASSERT_OK(arbor_sup_stop(sup, ARBOR_NORMAL));

    ASSERT_ERR(arbor_sup_start(&flags, &spec, 1, NULL, &sup, &err), ARBOR_EEXIT);
    ASSERT_EQ(err.kind, ARBOR_EXIT_SHUTDOWN);
    ASSERT_TRUE(strstr(err.detail, "not_linked") != NULL);
    kill_and_wait(orphan);
}

TEST(a_child_not_linked_to_its_supervisor_is_refused)
{
    arbor_test_run(unlinked_root, NULL);
}

/* ---- supervisor calls to a process of another kind ------------------------------------- */

/* A Supervisor's calls sent to a DynamicSupervisor or a GenServer (the
 * fixture's worker, which answers any call with an empty reply), and a
 * DynamicSupervisor's sent to a Supervisor or a GenServer, fail with
 * ARBOR_EWRONGKIND instead of reading as no children; the processes they
 * reached keep running. */
static void wrong_kind_root(void *arg)
{
    (void)arg;
    worker_arg_t wa = {.id = "w", .log = arbor_self()};
    arbor_child_spec_t spec = {.id = "w", .start = worker_start, .arg = &wa};
    arbor_sup_flags_t flags = ARBOR_SUP_FLAGS_DEFAULT;
    arbor_pid_t sup, dyn, pid;
    ASSERT_OK(arbor_sup_start(&flags, &spec, 1, NULL, &sup, NULL));
    expect_event(EV_STARTED, "w");
    arbor_pid_t worker = child_pid(sup, "w");
    ASSERT_OK(arbor_dynsup_start(NULL, &dyn, NULL));
    arbor_child_info_t *kids = NULL;
    size_t n = 99;
    arbor_child_counts_t cnt;
    arbor_pid_t others[] = {dyn, worker};
    for (int i = 0; i < 2; i++) {
        ASSERT_ERR(arbor_sup_which_children(others[i], &kids, &n), ARBOR_EWRONGKIND);
        ASSERT_ERR(arbor_sup_count_children(others[i], &cnt), ARBOR_EWRONGKIND);
        ASSERT_ERR(arbor_sup_start_child(others[i], &spec, &pid, NULL), ARBOR_EWRONGKIND);
        ASSERT_ERR(arbor_sup_terminate_child(others[i], "w"), ARBOR_EWRONGKIND);
        arbor_child_spec_t got;
        char idbuf[ARBOR_CHILD_ID_MAX + 1];
        ASSERT_ERR(arbor_sup_get_childspec(others[i], "w", &got, idbuf), ARBOR_EWRONGKIND);
    }
    arbor_pid_t not_dyn[] = {sup, worker};
    for (int i = 0; i < 2; i++) {
        ASSERT_ERR(arbor_dynsup_which_children(not_dyn[i], &kids, &n), ARBOR_EWRONGKIND);
        ASSERT_ERR(arbor_dynsup_count_children(not_dyn[i], &cnt), ARBOR_EWRONGKIND);
        ASSERT_ERR(arbor_dynsup_start_child(not_dyn[i], &spec, &pid, NULL), ARBOR_EWRONGKIND);
        ASSERT_ERR(arbor_dynsup_terminate_child(not_dyn[i], worker), ARBOR_EWRONGKIND);
    }
    ASSERT_TRUE(kids == NULL);
    ASSERT_STREQ(arbor_err_name(ARBOR_EWRONGKIND), "ARBOR_EWRONGKIND");
    ASSERT_U64_EQ(child_pid(sup, "w"), worker); /* nobody was hurt */
    ASSERT_OK(arbor_dynsup_count_children(dyn, &cnt));
    ASSERT_EQ(cnt.specs, 0);
    ASSERT_OK(arbor_dynsup_stop(dyn, ARBOR_NORMAL));
    ASSERT_OK(arbor_sup_stop(sup, ARBOR_NORMAL));
}

TEST(supervisor_calls_to_a_process_of_another_kind_fail_with_ewrongkind)
{
    arbor_test_run(wrong_kind_root, NULL);
}

/* ---- child specs for GenServer modules ----------------------------------------------- */

enum { EV_MODULE_INIT = 310 }; /* data: module_init_t */

typedef struct {
    char module[8];
    char arg[8];
} module_init_t;

static arbor_pid_t module_log;

static void note_init(const char *module, const char *arg)
{
    module_init_t n = {{0}, {0}};
    snprintf(n.module, sizeof n.module, "%s", module);
    snprintf(n.arg, sizeof n.arg, "%s", arg);
    arbor_send(module_log, EV_MODULE_INIT, &n, sizeof n);
}

static arbor_gs_ret_t alpha_init(void **state, void *arg)
{
    (void)state;
    note_init("Alpha", arg);
    return arbor_gs_ok();
}

static arbor_gs_ret_t beta_init(void **state, void *arg)
{
    (void)state;
    note_init("Beta", arg);
    return arbor_gs_ok();
}

static const arbor_gen_server_t alpha_gs = {.label = "Alpha", .init = alpha_init};
static const arbor_gen_server_t beta_gs = {.label = "Beta", .init = beta_init};

static void expect_init(const char *module, const char *arg)
{
    arbor_msg_t *m = arbor_test_recv_tag(EV_MODULE_INIT, 5000);
    const module_init_t *n = m->data;
    ASSERT_STREQ(n->module, module);
    ASSERT_STREQ(n->arg, arg);
    arbor_msg_free(m);
}

/* {Alpha, "one"} and {Beta, "two"} as children: each spec is one call,
 * with the module's name as its id; the children are linked (the
 * supervisor refuses others) and restarted as any child. */
static void gs_child_spec_root(void *arg)
{
    (void)arg;
    module_log = arbor_self();
    arbor_child_spec_t children[] = {arbor_gs_child_spec(&alpha_gs, "one"),
                                     arbor_gs_child_spec(&beta_gs, "two")};
    ASSERT_STREQ(children[0].id, "Alpha");
    ASSERT_EQ(children[0].restart, ARBOR_PERMANENT);
    ASSERT_EQ(children[0].type, ARBOR_WORKER);
    arbor_sup_flags_t flags = ARBOR_SUP_FLAGS_DEFAULT;
    arbor_pid_t sup;
    ASSERT_OK(arbor_sup_start(&flags, children, 2, NULL, &sup, NULL));
    expect_init("Alpha", "one");
    expect_init("Beta", "two");
    arbor_pid_t alpha = child_pid(sup, "Alpha");
    ASSERT_NE(alpha, ARBOR_NOPID);
    kill_and_wait(alpha);
    expect_init("Alpha", "one");
    arbor_pid_t again = child_pid(sup, "Alpha");
    ASSERT_NE(again, alpha);

    /* Under a DynamicSupervisor, specs of two modules stay two kinds. */
    arbor_pid_t dyn, a, b;
    arbor_dynsup_opts_t o = ARBOR_DYNSUP_OPTS_DEFAULT;
    ASSERT_OK(arbor_dynsup_start(&o, &dyn, NULL));
    arbor_child_spec_t sa = arbor_gs_child_spec(&alpha_gs, "x");
    arbor_child_spec_t sb = arbor_gs_child_spec(&beta_gs, "y");
    ASSERT_OK(arbor_dynsup_start_child(dyn, &sa, &a, NULL));
    expect_init("Alpha", "x");
    ASSERT_OK(arbor_dynsup_start_child(dyn, &sb, &b, NULL));
    expect_init("Beta", "y");
    ASSERT_OK(arbor_dynsup_stop(dyn, ARBOR_NORMAL));
    ASSERT_OK(arbor_sup_stop(sup, ARBOR_NORMAL));
}

TEST(a_genserver_child_spec_is_one_call_and_starts_the_module_linked)
{
    arbor_test_run(gs_child_spec_root, NULL);
}

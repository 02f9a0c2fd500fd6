/*
 * DynamicSupervisor scenarios ported from OTP's and Elixir's suites (the DS
 * numbers name them; docs/semantics.md section 4, docs/otp.md section 2),
 * what the BEAM showed of a DynamicSupervisor of ticket workers, plus a
 * shutdown of 10,000 children.
 *
 * Children identify themselves by messages to the test's root process (the
 * log): a start function or a child sends an event when it starts, when it
 * is told to shut down, and so on, so the tests wait for events instead of
 * sleeping. Where a test must see the supervisor's state after an exit it
 * cannot be told about (a child that is not restarted), it polls the
 * supervisor with calls until the state is reached, within a deadline.
 *
 * Erlang terms with no C counterpart are mapped as follows: a start
 * function that throws, raises or exits is a start function that returns
 * an error (ARBOR_EEXIT with a reason, or another code); {error, Reason}
 * is a return code with the reason in *error_out.
 */
#include <stdatomic.h>

#include "sup_fixture.h"

enum {
    EV_READY = 200,  /* a child is running (and trapping, if it traps): its pid */
    EV_GOT_SHUTDOWN, /* a trapping child received the supervisor's shutdown: its pid */
    EV_GO,           /* to a child: go on */
    EV_START_CALLED, /* a start function ran: start_note_t */
    EV_TASK_RAN,     /* a task child's function ran: its pid */
    EV_SUP_REPORT,   /* a supervisor report: report_note_t */
};

/* Runs root as the root process of a fresh runtime; the root must end
 * normally: one killed early (by a link, say) would skip the rest of its
 * checks. */
static void run_root(arbor_entry_fn root, void *arg)
{
    ASSERT_REASON(arbor_test_run(root, arg), ARBOR_EXIT_NORMAL, "");
}

/* ---- children -------------------------------------------------------------------------------- */

/* A child that traps exits. When the supervisor's shutdown signal arrives
 * (as an EXIT message), it exits with on_shutdown, ignores it, or first
 * reports it and waits for the log's EV_GO. */
typedef enum { EXIT_AT_ONCE, IGNORE_SHUTDOWN, WAIT_FOR_GO } trapper_mode_t;

typedef struct trapper {
    arbor_pid_t log;
    arbor_reason_t on_shutdown;
    trapper_mode_t mode;
} trapper_t;

static bool is_go(const arbor_msg_t *m, void *arg)
{
    (void)arg;
    return m->tag == EV_GO;
}

static void trapper_main(void *arg)
{
    const trapper_t *t = arg;
    arbor_pid_t self = arbor_self();
    arbor_trap_exit(true);
    arbor_send(t->log, EV_READY, &self, sizeof self);
    for (;;) {
        arbor_msg_t *m;
        if (arbor_receive(ARBOR_INFINITY, &m) != 0)
            continue;
        bool shutdown = m->tag == ARBOR_TAG_EXIT;
        arbor_msg_free(m);
        if (!shutdown || t->mode == IGNORE_SHUTDOWN)
            continue;
        if (t->mode == WAIT_FOR_GO) {
            arbor_send(t->log, EV_GOT_SHUTDOWN, &self, sizeof self);
            arbor_receive_match(is_go, NULL, ARBOR_INFINITY, &m);
            arbor_msg_free(m);
        }
        arbor_exit(t->on_shutdown);
    }
}

static int trapper_start(void *arg, arbor_pid_t *pid, arbor_reason_t *err)
{
    (void)err;
    arbor_spawn_opts_t o = {.link = true, .arg_size = sizeof(trapper_t)};
    return arbor_spawn_opt(trapper_main, arg, &o, pid, NULL);
}

/* A start function whose starts fail while `fail` is set (slowly, so that
 * the supervisor's retry loop does not eat its intensity in a blink), and
 * that counts its calls. */
typedef struct flaky {
    atomic_bool fail;
    atomic_int calls;
} flaky_t;

static int flaky_start(void *arg, arbor_pid_t *pid, arbor_reason_t *err)
{
    flaky_t *f = arg;
    atomic_fetch_add(&f->calls, 1);
    if (atomic_load(&f->fail)) {
        arbor_sleep(1);
        *err = arbor_error("flaky");
        return ARBOR_EEXIT;
    }
    return sleeper_start(NULL, pid, err);
}

/* A start function that tells the log each call, and returns `ignore`
 * from call number ignore_from on. */
typedef struct start_note {
    int call;
    bool ignored;
    arbor_pid_t pid;
} start_note_t;

typedef struct counted {
    arbor_pid_t log;
    int ignore_from;
    atomic_int calls;
} counted_t;

static int counted_start(void *arg, arbor_pid_t *pid, arbor_reason_t *err)
{
    counted_t *c = arg;
    start_note_t n = {.call = atomic_fetch_add(&c->calls, 1) + 1};
    int rc;
    if (c->ignore_from && n.call >= c->ignore_from) {
        n.ignored = true;
        rc = ARBOR_IGNORED;
    } else {
        rc = sleeper_start(NULL, pid, err);
        n.pid = rc == 0 ? *pid : ARBOR_NOPID;
    }
    arbor_send(c->log, EV_START_CALLED, &n, sizeof n);
    return rc;
}

static start_note_t expect_start_called(void)
{
    arbor_msg_t *m = arbor_test_recv_tag(EV_START_CALLED, 5000);
    start_note_t n = *(start_note_t *)m->data;
    arbor_msg_free(m);
    return n;
}

/* ---- looking at the supervisor --------------------------------------------------------------- */

static arbor_pid_t expect_ready(void)
{
    arbor_msg_t *m = arbor_test_recv_tag(EV_READY, 5000);
    arbor_pid_t pid = *(arbor_pid_t *)m->data;
    arbor_msg_free(m);
    return pid;
}

static arbor_child_counts_t counts(arbor_pid_t sup)
{
    arbor_child_counts_t c;
    ASSERT_OK(arbor_dynsup_count_children(sup, &c));
    return c;
}

/* Polls the supervisor until it reports specs and active children: for
 * an exit the supervisor handles without telling anyone. */
static void wait_counts(arbor_pid_t sup, size_t specs, size_t active)
{
    uint64_t end = arbor_now_ms() + (uint64_t)arbor_test_scaled_ms(5000);
    for (;;) {
        arbor_child_counts_t c = counts(sup);
        if (c.specs == specs && c.active == active)
            return;
        if (arbor_now_ms() > end)
            arbor_test_fail(__FILE__, __LINE__,
                            "supervisor has %zu specs, %zu active; expected %zu, %zu", c.specs,
                            c.active, specs, active);
        arbor_yield();
    }
}

/* Whether pid is among the supervisor's running children. */
static bool has_child(arbor_pid_t sup, arbor_pid_t pid)
{
    arbor_child_info_t *kids;
    size_t n;
    ASSERT_OK(arbor_dynsup_which_children(sup, &kids, &n));
    bool found = false;
    for (size_t i = 0; i < n; i++)
        found |= kids[i].pid == pid && kids[i].status == ARBOR_CHILD_RUNNING;
    free(kids);
    return found;
}

/* The only child's pid (ARBOR_NOPID while it is being restarted). */
static arbor_pid_t only_child(arbor_pid_t sup)
{
    arbor_child_info_t *kids;
    size_t n;
    ASSERT_OK(arbor_dynsup_which_children(sup, &kids, &n));
    ASSERT_EQ(n, 1);
    arbor_pid_t pid = kids[0].pid;
    free(kids);
    return pid;
}

static arbor_ref_t monitor(arbor_pid_t pid)
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

/* The DOWN of monitor ref, within 5 s. */
static arbor_reason_t expect_down(arbor_ref_t ref)
{
    arbor_msg_t *m;
    if (arbor_receive_match(is_down_of, &ref, arbor_test_scaled_ms(5000), &m) != 0)
        arbor_test_fail(__FILE__, __LINE__, "no DOWN for monitor %llu", (unsigned long long)ref);
    arbor_reason_t r = ((arbor_down_msg_t *)m->data)->reason;
    arbor_msg_free(m);
    return r;
}

/* The EXIT from pid (the caller traps exits). */
static arbor_reason_t expect_exit_from(arbor_pid_t pid)
{
    arbor_msg_t *m = arbor_test_recv_tag(ARBOR_TAG_EXIT, 5000);
    arbor_exit_msg_t e = *(arbor_exit_msg_t *)m->data;
    arbor_msg_free(m);
    ASSERT_U64_EQ(e.from, pid);
    return e.reason;
}

static arbor_pid_t start_dynsup(const arbor_dynsup_opts_t *o)
{
    arbor_pid_t sup;
    arbor_reason_t err;
    ASSERT_OK(arbor_dynsup_start(o, &sup, &err));
    return sup;
}

static arbor_pid_t start_child(arbor_pid_t sup, const arbor_child_spec_t *spec)
{
    arbor_pid_t pid = ARBOR_NOPID;
    arbor_reason_t err;
    ASSERT_OK(arbor_dynsup_start_child(sup, spec, &pid, &err));
    ASSERT_NE(pid, ARBOR_NOPID);
    return pid;
}

static size_t live_processes(void)
{
    size_t n;
    ASSERT_OK(arbor_processes(NULL, 0, &n));
    return n;
}

/* Supervisor reports, forwarded to a process as EV_SUP_REPORT messages. */
typedef struct report_note {
    char what[40];
    char detail[64];
    arbor_reason_t reason;
} report_note_t;

static arbor_pid_t report_sink;

static bool is_report(const arbor_msg_t *m, void *arg)
{
    (void)arg;
    return m->tag == EV_SUP_REPORT;
}

/* Takes the supervisor reports queued so far; returns how many there were
 * and stores up to cap of them. */
static int drain_reports(report_note_t *out, int cap)
{
    int n = 0;
    arbor_msg_t *m;
    while (arbor_receive_match(is_report, NULL, 0, &m) == 0) {
        if (n < cap)
            out[n] = *(report_note_t *)m->data;
        n++;
        arbor_msg_free(m);
    }
    return n;
}

static void forward_report(const arbor_report_t *r, void *ctx)
{
    (void)ctx;
    if (r->kind != ARBOR_REPORT_SUPERVISOR)
        return;
    report_note_t n = {.reason = r->reason};
    snprintf(n.what, sizeof n.what, "%s", r->what);
    snprintf(n.detail, sizeof n.detail, "%s", r->detail ? r->detail : "");
    arbor_send(report_sink, EV_SUP_REPORT, &n, sizeof n);
}

/* ---- DS-01: defaults ------------------------------------------------------------------------- */

/*
 * DynamicSupervisor.init([]) gives one_for_one, intensity 3, period 5,
 * max_children infinity, extra_arguments []. In C the defaults are
 * ARBOR_DYNSUP_OPTS_DEFAULT, and a NULL opts means the same: checked here
 * by behaviour too (one_for_one is the only strategy there is): many
 * children are accepted, a killed child alone is restarted, the fourth
 * restart within 5 s shuts the supervisor down, and start_extra gets NULL.
 */
typedef struct probe_note {
    void *extra;
    arbor_pid_t pid;
} probe_note_t;

static int extra_probe_start(void *extra, void *arg, arbor_pid_t *pid, arbor_reason_t *err)
{
    int rc = sleeper_start(NULL, pid, err);
    probe_note_t n = {.extra = extra, .pid = *pid};
    arbor_send(*(arbor_pid_t *)arg, EV_START_CALLED, &n, sizeof n);
    return rc;
}

static probe_note_t expect_probe(void)
{
    arbor_msg_t *m = arbor_test_recv_tag(EV_START_CALLED, 5000);
    probe_note_t n = *(probe_note_t *)m->data;
    arbor_msg_free(m);
    return n;
}

static void ds01_root(void *arg)
{
    (void)arg;
    arbor_dynsup_opts_t d = ARBOR_DYNSUP_OPTS_DEFAULT;
    ASSERT_EQ(d.max_restarts, 3);
    ASSERT_EQ(d.max_seconds, 5);
    ASSERT_EQ(d.max_children, 0); /* no limit */
    ASSERT_PTR_EQ(d.extra_arg, NULL);
    ASSERT_PTR_EQ(d.name, NULL);
    ASSERT_FALSE(d.link);

    arbor_pid_t sup = start_dynsup(NULL);
    arbor_child_counts_t c = counts(sup);
    ASSERT_EQ(c.specs + c.active + c.workers + c.supervisors, 0);
    arbor_child_info_t *kids;
    size_t n;
    ASSERT_OK(arbor_dynsup_which_children(sup, &kids, &n));
    ASSERT_EQ(n, 0);
    free(kids);

    /* No child limit. */
    arbor_child_spec_t sleepy = {.start = sleeper_start};
    arbor_pid_t others[100];
    for (int i = 0; i < 100; i++)
        others[i] = start_child(sup, &sleepy);
    c = counts(sup);
    ASSERT_EQ(c.specs, 100);
    ASSERT_EQ(c.active, 100);
    ASSERT_EQ(c.workers, 100);

    /* No extra argument. */
    arbor_pid_t self = arbor_self();
    arbor_child_spec_t probe = {.start_extra = extra_probe_start, .arg = &self};
    arbor_pid_t child = start_child(sup, &probe);
    probe_note_t n0 = expect_probe();
    ASSERT_PTR_EQ(n0.extra, NULL);
    ASSERT_U64_EQ(n0.pid, child);

    /* 3 restarts in 5 s are absorbed, each replacing only the killed child. */
    arbor_ref_t sup_ref = monitor(sup);
    for (int kill = 1; kill <= 3; kill++) {
        kill_and_wait(child);
        probe_note_t n1 = expect_probe();
        ASSERT_PTR_EQ(n1.extra, NULL);
        ASSERT_NE(n1.pid, child);
        child = n1.pid;
        wait_counts(sup, 101, 101);
        ASSERT_TRUE(has_child(sup, child));
    }
    for (int i = 0; i < 100; i++)
        ASSERT_TRUE(has_child(sup, others[i]));
    /* The fourth restart-worthy exit within 5 s: shutdown. Any child will do. */
    ASSERT_OK(arbor_dynsup_which_children(sup, &kids, &n));
    arbor_pid_t victim = kids[0].pid;
    free(kids);
    kill_and_wait(victim);
    ASSERT_REASON(expect_down(sup_ref), ARBOR_EXIT_SHUTDOWN, "");
}

TEST(DS_01_defaults_are_3_restarts_in_5_s_and_no_child_limit)
{
    run_root(ds01_root, NULL);
}

/* ---- DS-02: bad options ---------------------------------------------------------------------- */

/*
 * Bad intensity and period are refused with {supervisor_data, ...}'s C
 * form: ARBOR_EINVAL and a reason naming the option; nothing is started and
 * the name is not taken. Elixir's other cases have no C counterpart: there
 * is no strategy option (one_for_one is the only one), max_children is a
 * size_t (cannot be -1), extra_arg is any pointer, there is no
 * auto_shutdown option, and no init callback that could return :unknown or
 * :ignore.
 */
static void ds02_root(void *arg)
{
    (void)arg;
    size_t before = live_processes();
    arbor_reason_t err;
    arbor_pid_t pid = ARBOR_NOPID;

    arbor_dynsup_opts_t o = ARBOR_DYNSUP_OPTS_DEFAULT;
    o.name = "ds02";
    o.max_restarts = -1;
    ASSERT_ERR(arbor_dynsup_start(&o, &pid, &err), ARBOR_EINVAL);
    ASSERT_REASON(err, ARBOR_EXIT_ERROR, "invalid_intensity: -1");

    o = ARBOR_DYNSUP_OPTS_DEFAULT;
    o.name = "ds02";
    o.max_seconds = 0;
    ASSERT_ERR(arbor_dynsup_start(&o, &pid, &err), ARBOR_EINVAL);
    ASSERT_REASON(err, ARBOR_EXIT_ERROR, "invalid_period: 0");

    o.max_seconds = -5;
    ASSERT_ERR(arbor_dynsup_start(&o, &pid, &err), ARBOR_EINVAL);
    ASSERT_REASON(err, ARBOR_EXIT_ERROR, "invalid_period: -5");

    ASSERT_U64_EQ(pid, ARBOR_NOPID);
    ASSERT_U64_EQ(arbor_whereis("ds02"), ARBOR_NOPID);
    ASSERT_EQ(live_processes(), before);

    /* max_restarts 0 is valid: the first restart-worthy exit ends it. */
    o = ARBOR_DYNSUP_OPTS_DEFAULT;
    o.name = "ds02";
    o.max_restarts = 0;
    arbor_pid_t sup = start_dynsup(&o);
    ASSERT_U64_EQ(arbor_whereis("ds02"), sup);
    /* A second one under the same name: already_started, with the owner. */
    arbor_pid_t owner = ARBOR_NOPID;
    ASSERT_ERR(arbor_dynsup_start(&o, &owner, &err), ARBOR_EEXIST);
    ASSERT_U64_EQ(owner, sup);
    arbor_ref_t ref = monitor(sup);
    arbor_child_spec_t sleepy = {.start = sleeper_start};
    kill_and_wait(start_child(sup, &sleepy));
    ASSERT_REASON(expect_down(ref), ARBOR_EXIT_SHUTDOWN, "");
}

TEST(DS_02_bad_intensity_or_period_start_nothing)
{
    run_root(ds02_root, NULL);
}

/* ---- DS-04: failing start functions ---------------------------------------------------------- */

static int start_exits(void *arg, arbor_pid_t *pid, arbor_reason_t *err)
{
    (void)arg;
    (void)pid;
    *err = arbor_error("oops");
    return ARBOR_EEXIT;
}

static int start_returns_enomem(void *arg, arbor_pid_t *pid, arbor_reason_t *err)
{
    (void)arg;
    (void)pid;
    (void)err;
    return ARBOR_ENOMEM;
}

static int start_without_pid(void *arg, arbor_pid_t *pid, arbor_reason_t *err)
{
    (void)arg;
    (void)pid;
    (void)err;
    return 0;
}

static int start_ignores(void *arg, arbor_pid_t *pid, arbor_reason_t *err)
{
    (void)arg;
    (void)pid;
    (void)err;
    return ARBOR_IGNORED;
}

/* A GenServer whose init dies outright: the C form of a raise in init. */
static arbor_gs_ret_t crashing_init(void **state, void *arg)
{
    (void)state;
    (void)arg;
    arbor_exit(arbor_error("raised"));
}

static const arbor_gen_server_t crashing_gs = {.label = "crashing", .init = crashing_init};

static int crashing_start(void *arg, arbor_pid_t *pid, arbor_reason_t *err)
{
    (void)arg;
    arbor_gs_opts_t o = {.link = true};
    return arbor_gs_start(&crashing_gs, NULL, &o, pid, err);
}

/*
 * Elixir's start function that throws, raises or exits gives {:error, _}
 * and keeps nothing. In C all three are a start function that fails:
 * returning ARBOR_EEXIT with a reason (exit :oops -> {:error, :oops}), a
 * GenServer whose init stops or dies (raise), or a non-conforming return
 * (another error code, or 0 without a pid: Elixir's {:error, X} for a bad
 * return X). Each leaves no child and the supervisor alive; ignore gives
 * ARBOR_IGNORED and keeps nothing either. A bad spec is refused in the
 * caller, without asking the supervisor: shown with a dead supervisor pid.
 */
static void ds04_root(void *arg)
{
    (void)arg;
    arbor_pid_t sup = start_dynsup(NULL);
    arbor_reason_t err;
    arbor_pid_t pid;

    arbor_child_spec_t spec = {.start = start_exits};
    ASSERT_ERR(arbor_dynsup_start_child(sup, &spec, &pid, &err), ARBOR_EEXIT);
    ASSERT_REASON(err, ARBOR_EXIT_ERROR, "oops");

    worker_arg_t wa = {.id = "bad", .log = arbor_self(), .fail_starts = -1};
    spec = (arbor_child_spec_t){.start = worker_start, .arg = &wa};
    ASSERT_ERR(arbor_dynsup_start_child(sup, &spec, &pid, &err), ARBOR_EEXIT);
    ASSERT_REASON(err, ARBOR_EXIT_ERROR, "init_failed bad");

    spec = (arbor_child_spec_t){.start = crashing_start};
    ASSERT_ERR(arbor_dynsup_start_child(sup, &spec, &pid, &err), ARBOR_EEXIT);
    ASSERT_REASON(err, ARBOR_EXIT_ERROR, "raised");

    spec = (arbor_child_spec_t){.start = start_returns_enomem};
    ASSERT_ERR(arbor_dynsup_start_child(sup, &spec, &pid, &err), ARBOR_EEXIT);
    ASSERT_REASON(err, ARBOR_EXIT_ERROR, "ARBOR_ENOMEM");

    spec = (arbor_child_spec_t){.start = start_without_pid};
    ASSERT_ERR(arbor_dynsup_start_child(sup, &spec, &pid, &err), ARBOR_EEXIT);
    ASSERT_REASON(err, ARBOR_EXIT_ERROR, "bad_start_return: no pid");

    spec = (arbor_child_spec_t){.start = start_ignores};
    ASSERT_EQ(arbor_dynsup_start_child(sup, &spec, &pid, &err), ARBOR_IGNORED);

    arbor_child_counts_t c = counts(sup);
    ASSERT_EQ(c.specs, 0);
    ASSERT_EQ(c.active, 0);
    ASSERT_TRUE(arbor_test_alive(sup));
    /* The failed starts left no message behind for us either. */
    arbor_test_no_message(0);

    /* Bad specs, checked by the caller. */
    ASSERT_OK(arbor_dynsup_stop(sup, ARBOR_NORMAL));
    spec = (arbor_child_spec_t){.restart = ARBOR_PERMANENT};
    ASSERT_ERR(arbor_dynsup_start_child(sup, &spec, &pid, &err), ARBOR_EINVAL);
    ASSERT_REASON(err, ARBOR_EXIT_ERROR, "missing_start");
    spec = (arbor_child_spec_t){.start = sleeper_start, .shutdown = -7};
    ASSERT_ERR(arbor_dynsup_start_child(sup, &spec, &pid, &err), ARBOR_EINVAL);
    ASSERT_REASON(err, ARBOR_EXIT_ERROR, "invalid_shutdown: -7");
    spec = (arbor_child_spec_t){
        .start = sleeper_start, .restart = ARBOR_TRANSIENT, .significant = true};
    ASSERT_ERR(arbor_dynsup_start_child(sup, &spec, &pid, &err), ARBOR_EINVAL);
    ASSERT_REASON(err, ARBOR_EXIT_ERROR, "invalid_significant: true");
    /* A good spec does ask: the supervisor is gone. */
    spec = (arbor_child_spec_t){.start = sleeper_start};
    ASSERT_ERR(arbor_dynsup_start_child(sup, &spec, &pid, &err), ARBOR_ENOPROC);
}

TEST(DS_04_failing_start_functions_return_the_error_and_keep_nothing)
{
    run_root(ds04_root, NULL);
}

/* ---- DS-05, DS-09 and 8.3: max_children ------------------------------------------------------ */

/*
 * Elixir's max_children: 0 refuses every child. In C, max_children 0 means
 * no limit (the C spelling of :infinity), so the smallest limit is 1: with
 * max_children 2, the third start_child gets ARBOR_EMAXCHILD without the
 * start function being called, and a slot freed by terminate_child can be
 * used again.
 */
static void ds05_root(void *arg)
{
    (void)arg;
    arbor_dynsup_opts_t o = ARBOR_DYNSUP_OPTS_DEFAULT;
    o.max_children = 2;
    arbor_pid_t sup = start_dynsup(&o);
    counted_t cs = {.log = arbor_self()};
    arbor_child_spec_t spec = {.start = counted_start, .arg = &cs};
    arbor_pid_t first = start_child(sup, &spec);
    start_child(sup, &spec);
    arbor_pid_t pid = ARBOR_NOPID;
    arbor_reason_t err;
    ASSERT_ERR(arbor_dynsup_start_child(sup, &spec, &pid, &err), ARBOR_EMAXCHILD);
    ASSERT_U64_EQ(pid, ARBOR_NOPID);
    ASSERT_EQ(atomic_load(&cs.calls), 2);
    ASSERT_OK(arbor_dynsup_terminate_child(sup, first));
    start_child(sup, &spec);
    ASSERT_EQ(atomic_load(&cs.calls), 3);
    ASSERT_EQ(counts(sup).specs, 2);
    ASSERT_OK(arbor_dynsup_stop(sup, ARBOR_NORMAL));
}

TEST(DS_05_max_children_refuses_the_child_beyond_the_limit)
{
    run_root(ds05_root, NULL);
}

/*
 * A child that is being restarted still counts against max_children, both
 * while its restarts fail (restarting, no pid) and once it has been
 * restarted. The first restart attempts fail until the test lets them
 * succeed.
 */
static void ds09_root(void *arg)
{
    (void)arg;
    arbor_dynsup_opts_t o = ARBOR_DYNSUP_OPTS_DEFAULT;
    o.max_children = 1;
    o.max_restarts = 100000; /* failed restarts are retried, each one a tick */
    o.max_seconds = 3600;
    arbor_pid_t sup = start_dynsup(&o);
    flaky_t f = {0};
    arbor_child_spec_t spec = {.start = flaky_start, .arg = &f};
    arbor_pid_t child = start_child(sup, &spec);
    arbor_child_spec_t other = {.start = sleeper_start};
    arbor_pid_t pid;
    arbor_reason_t err;
    ASSERT_ERR(arbor_dynsup_start_child(sup, &other, &pid, &err), ARBOR_EMAXCHILD);

    /* Restarting: its restarts fail. */
    atomic_store(&f.fail, true);
    kill_and_wait(child);
    wait_counts(sup, 1, 0);
    ASSERT_U64_EQ(only_child(sup), ARBOR_NOPID);
    arbor_child_info_t *kids;
    size_t n;
    ASSERT_OK(arbor_dynsup_which_children(sup, &kids, &n));
    ASSERT_EQ(n, 1);
    ASSERT_EQ(kids[0].status, ARBOR_CHILD_RESTARTING);
    free(kids);
    arbor_child_counts_t c = counts(sup);
    ASSERT_EQ(c.workers, 1);
    ASSERT_ERR(arbor_dynsup_start_child(sup, &other, &pid, &err), ARBOR_EMAXCHILD);

    /* Restarted: a new pid, still the one child allowed. */
    atomic_store(&f.fail, false);
    wait_counts(sup, 1, 1);
    arbor_pid_t again = only_child(sup);
    ASSERT_NE(again, child);
    ASSERT_ERR(arbor_dynsup_start_child(sup, &other, &pid, &err), ARBOR_EMAXCHILD);
    kill_and_wait(again);
    wait_counts(sup, 1, 1);
    ASSERT_ERR(arbor_dynsup_start_child(sup, &other, &pid, &err), ARBOR_EMAXCHILD);
    ASSERT_OK(arbor_dynsup_stop(sup, ARBOR_NORMAL));
}

TEST(DS_09_restarting_and_restarted_children_count_in_max_children)
{
    run_root(ds09_root, NULL);
}

/* 8.3: max_children: 1, second start_child -> {:error, :max_children}. */
static void max_children_one_root(void *arg)
{
    (void)arg;
    arbor_dynsup_opts_t o = ARBOR_DYNSUP_OPTS_DEFAULT;
    o.max_children = 1;
    arbor_pid_t sup = start_dynsup(&o);
    worker_arg_t wa = {.id = "t", .log = arbor_self()};
    arbor_child_spec_t spec = {.start = worker_start, .arg = &wa};
    start_child(sup, &spec);
    expect_event(EV_STARTED, "t");
    arbor_pid_t pid;
    arbor_reason_t err;
    ASSERT_ERR(arbor_dynsup_start_child(sup, &spec, &pid, &err), ARBOR_EMAXCHILD);
    /* The refused child was never started. */
    arbor_test_no_message(0);
    ASSERT_EQ(counts(sup).specs, 1);
    ASSERT_OK(arbor_dynsup_stop(sup, ARBOR_NORMAL));
}

TEST(dynamic_supervisor_max_children_1_refuses_a_second_child)
{
    run_root(max_children_one_root, NULL);
}

/* ---- DS-06 and 8.3: extra arguments ---------------------------------------------------------- */

/*
 * extra_arguments: [fun] with the child started as {Task, :start_link, []}:
 * the function runs in the first child and again in the restarted one. In
 * C the extra argument is opts.extra_arg, passed as the first argument of
 * start_extra; here it holds the task function, which start_extra runs
 * with arbor_task_start_link().
 */
typedef struct task_extra {
    arbor_task_fn fn;
    arbor_pid_t log;
} task_extra_t;

static size_t report_and_wait(void *arg, void *result, size_t cap)
{
    (void)result;
    (void)cap;
    const task_extra_t *x = arg;
    arbor_pid_t self = arbor_self();
    arbor_send(x->log, EV_TASK_RAN, &self, sizeof self);
    sleeper_main(NULL);
    return 0;
}

static int task_start_link_extra(void *extra, void *arg, arbor_pid_t *pid, arbor_reason_t *err)
{
    (void)err;
    ASSERT_PTR_EQ(arg, NULL); /* the spec's own arguments: [] */
    const task_extra_t *x = extra;
    return arbor_task_start_link(x->fn, extra, pid);
}

static arbor_pid_t expect_task_ran(void)
{
    arbor_msg_t *m = arbor_test_recv_tag(EV_TASK_RAN, 5000);
    arbor_pid_t pid = *(arbor_pid_t *)m->data;
    arbor_msg_free(m);
    return pid;
}

static void ds06_root(void *arg)
{
    (void)arg;
    task_extra_t x = {.fn = report_and_wait, .log = arbor_self()};
    arbor_dynsup_opts_t o = ARBOR_DYNSUP_OPTS_DEFAULT;
    o.extra_arg = &x;
    arbor_pid_t sup = start_dynsup(&o);
    arbor_child_spec_t spec = {.start_extra = task_start_link_extra};
    arbor_pid_t child = start_child(sup, &spec);
    ASSERT_U64_EQ(expect_task_ran(), child);
    kill_and_wait(child);
    arbor_pid_t again = expect_task_ran();
    ASSERT_NE(again, child);
    wait_counts(sup, 1, 1);
    ASSERT_U64_EQ(only_child(sup), again);
    ASSERT_OK(arbor_dynsup_stop(sup, ARBOR_NORMAL));
}

TEST(DS_06_extra_argument_function_runs_again_after_a_restart)
{
    run_root(ds06_root, NULL);
}

/*
 * 8.3: extra_arguments: [[id: 99, description: "from extra"]] with start
 * {TicketWorker, :start_link, []}: the worker's state comes from the extra
 * argument, and after a kill the restarted worker starts from it again.
 * Here the spec also has an argument of its own (a priority, copied by the
 * supervisor: arg_size), which must reach start_extra beside the extra.
 */
typedef struct ticket {
    int id;
    char description[32];
    int priority;
    bool assigned;
} ticket_t;

enum { TICKET_ASSIGN = 1, TICKET_GET };

static arbor_gs_ret_t ticket_init(void **state, void *arg)
{
    ticket_t *t = arbor_alloc(sizeof *t);
    *t = *(const ticket_t *)arg;
    *state = t;
    return arbor_gs_ok();
}

static arbor_gs_ret_t ticket_call(void **state, const arbor_msg_t *req, arbor_from_t from)
{
    (void)from;
    ticket_t *t = *state;
    if (req->tag == TICKET_ASSIGN)
        t->assigned = true;
    return arbor_gs_reply(t, sizeof *t);
}

static const arbor_gen_server_t ticket_gs = {
    .label = "TicketWorker", .init = ticket_init, .handle_call = ticket_call};

static int ticket_start_extra(void *extra, void *arg, arbor_pid_t *pid, arbor_reason_t *err)
{
    ticket_t t = *(const ticket_t *)extra;
    t.priority = *(const int *)arg;
    arbor_gs_opts_t o = {.link = true};
    return arbor_gs_start(&ticket_gs, &t, &o, pid, err);
}

static ticket_t ticket_call_sync(arbor_pid_t pid, uint64_t tag)
{
    arbor_msg_t *m;
    ASSERT_OK(arbor_gs_call(pid, tag, NULL, 0, ARBOR_GS_CALL_TIMEOUT, &m, NULL));
    ticket_t t = *(ticket_t *)m->data;
    arbor_msg_free(m);
    return t;
}

static void extra_ticket_root(void *arg)
{
    (void)arg;
    ticket_t from_extra = {.id = 99, .description = "from extra"};
    arbor_dynsup_opts_t o = ARBOR_DYNSUP_OPTS_DEFAULT;
    o.extra_arg = &from_extra;
    arbor_pid_t sup = start_dynsup(&o);
    int priority = 7;
    arbor_child_spec_t spec = {
        .start_extra = ticket_start_extra, .arg = &priority, .arg_size = sizeof priority};
    arbor_pid_t pid = start_child(sup, &spec);
    priority = 1; /* the supervisor kept its own copy */
    ticket_t t = ticket_call_sync(pid, TICKET_ASSIGN);
    ASSERT_EQ(t.id, 99);
    ASSERT_STREQ(t.description, "from extra");
    ASSERT_EQ(t.priority, 7);
    ASSERT_TRUE(t.assigned);
    kill_and_wait(pid);
    arbor_pid_t again;
    uint64_t end = arbor_now_ms() + (uint64_t)arbor_test_scaled_ms(5000);
    while ((again = only_child(sup)) == ARBOR_NOPID || again == pid)
        ASSERT_LT(arbor_now_ms(), end);
    t = ticket_call_sync(again, TICKET_GET);
    ASSERT_EQ(t.id, 99);
    ASSERT_STREQ(t.description, "from extra");
    ASSERT_EQ(t.priority, 7);
    ASSERT_FALSE(t.assigned); /* the state is not carried over */
    ASSERT_OK(arbor_dynsup_stop(sup, ARBOR_NORMAL));
}

TEST(dynamic_supervisor_extra_argument_reaches_start_extra_again_after_a_restart)
{
    run_root(extra_ticket_root, NULL);
}

/* ---- DS-11: shutdown of the whole supervisor ------------------------------------------------- */

/*
 * Three sleepy (non-trapping) workers with brutal_kill, infinity and 1000
 * ms shutdowns; the parent sends the supervisor an exit signal shutdown:
 * their DOWNs say killed, shutdown, shutdown, and the supervisor exits
 * shutdown.
 */
static void ds11_root(void *arg)
{
    (void)arg;
    arbor_trap_exit(true);
    report_sink = arbor_self();
    arbor_report_set_handler(forward_report, NULL);
    arbor_dynsup_opts_t o = ARBOR_DYNSUP_OPTS_DEFAULT;
    o.link = true;
    arbor_pid_t sup = start_dynsup(&o);
    int64_t shutdowns[3] = {ARBOR_BRUTAL_KILL, ARBOR_SHUTDOWN_INFINITY, 1000};
    arbor_ref_t refs[3];
    for (int i = 0; i < 3; i++) {
        arbor_child_spec_t spec = {.start = sleeper_start, .shutdown = shutdowns[i]};
        refs[i] = monitor(start_child(sup, &spec));
    }
    ASSERT_OK(arbor_exit_pid(sup, ARBOR_SHUTDOWN));
    ASSERT_REASON(expect_down(refs[0]), ARBOR_EXIT_KILLED, "");
    ASSERT_REASON(expect_down(refs[1]), ARBOR_EXIT_SHUTDOWN, "");
    ASSERT_REASON(expect_down(refs[2]), ARBOR_EXIT_SHUTDOWN, "");
    ASSERT_REASON(expect_exit_from(sup), ARBOR_EXIT_SHUTDOWN, "");
    /* All three outcomes were the expected ones: no shutdown error. */
    ASSERT_EQ(drain_reports(NULL, 0), 0);
    arbor_report_set_handler(NULL, NULL);
}

TEST(DS_11_shutdown_stops_children_by_their_shutdown_values)
{
    run_root(ds11_root, NULL);
}

/*
 * The children are told to stop all at once, not one after another: three
 * trapping children with infinite shutdown each report the shutdown and
 * then wait for the test's go. Only a supervisor that told all three before
 * waiting for any lets the test see three reports; one that stopped them in
 * turn would wait forever on the first.
 */
static void all_at_once_root(void *arg)
{
    (void)arg;
    arbor_trap_exit(true);
    arbor_dynsup_opts_t o = ARBOR_DYNSUP_OPTS_DEFAULT;
    o.link = true;
    arbor_pid_t sup = start_dynsup(&o);
    trapper_t t = {.log = arbor_self(), .on_shutdown = ARBOR_SHUTDOWN, .mode = WAIT_FOR_GO};
    arbor_child_spec_t spec = {
        .start = trapper_start, .arg = &t, .shutdown = ARBOR_SHUTDOWN_INFINITY};
    arbor_pid_t kids[3];
    arbor_ref_t refs[3];
    for (int i = 0; i < 3; i++) {
        kids[i] = start_child(sup, &spec);
        ASSERT_U64_EQ(expect_ready(), kids[i]);
        refs[i] = monitor(kids[i]);
    }
    ASSERT_OK(arbor_exit_pid(sup, ARBOR_SHUTDOWN));
    for (int i = 0; i < 3; i++) {
        arbor_msg_t *m = arbor_test_recv_tag(EV_GOT_SHUTDOWN, 5000);
        arbor_msg_free(m);
    }
    ASSERT_TRUE(arbor_test_alive(sup));
    for (int i = 0; i < 3; i++)
        ASSERT_OK(arbor_send(kids[i], EV_GO, NULL, 0));
    for (int i = 0; i < 3; i++)
        ASSERT_REASON(expect_down(refs[i]), ARBOR_EXIT_SHUTDOWN, "");
    ASSERT_REASON(expect_exit_from(sup), ARBOR_EXIT_SHUTDOWN, "");
}

TEST(DS_11_children_are_told_to_shut_down_all_at_once)
{
    run_root(all_at_once_root, NULL);
}

/*
 * "terminates children with expired integer shutdown": with shutdown 100,
 * a trapping child that ignores the shutdown is killed when its time runs
 * out (DOWN killed), a non-trapping sibling dies of the shutdown itself.
 */
static void expired_shutdown_root(void *arg)
{
    (void)arg;
    report_sink = arbor_self();
    arbor_report_set_handler(forward_report, NULL);
    arbor_pid_t sup = start_dynsup(NULL);
    trapper_t t = {.log = arbor_self(), .mode = IGNORE_SHUTDOWN};
    arbor_child_spec_t stubborn = {.start = trapper_start, .arg = &t, .shutdown = 100};
    arbor_child_spec_t plain = {.start = sleeper_start, .shutdown = 100};
    arbor_ref_t r1 = monitor(start_child(sup, &stubborn));
    expect_ready();
    arbor_ref_t r2 = monitor(start_child(sup, &plain));
    uint64_t t0 = arbor_now_ms();
    ASSERT_OK(arbor_dynsup_stop(sup, ARBOR_SHUTDOWN));
    ASSERT_GE(arbor_now_ms() - t0, 100);
    ASSERT_REASON(expect_down(r1), ARBOR_EXIT_KILLED, "");
    ASSERT_REASON(expect_down(r2), ARBOR_EXIT_SHUTDOWN, "");
    /* Reference 3.4: killed is expected only of a brutal_kill child; one
     * killed because its time ran out is a shutdown error. */
    report_note_t r;
    ASSERT_EQ(drain_reports(&r, 1), 1);
    ASSERT_STREQ(r.what, "shutdown_error");
    ASSERT_REASON(r.reason, ARBOR_EXIT_KILLED, "");
    arbor_report_set_handler(NULL, NULL);
}

TEST(DS_11_expired_integer_shutdown_kills_a_trapping_child)
{
    run_root(expired_shutdown_root, NULL);
}

/* ---- DS-13: children that exit with their own reason on shutdown ----------------------------- */

/*
 * Trapping children that exit {shutdown, oops} or normal when told to
 * shut down: their DOWNs carry their own reasons. Which of them are
 * reported as shutdown errors follows reference 3.4 and 4: shutdown and
 * {shutdown, _} never, normal only for a permanent child, anything else
 * always; the shutdown completes either way.
 */
static void ds13_root(void *arg)
{
    (void)arg;
    report_sink = arbor_self();
    arbor_report_set_handler(forward_report, NULL);
    arbor_pid_t sup = start_dynsup(NULL);
    struct {
        trapper_t t;
        arbor_restart_t restart;
    } kids[4] = {
        {{.on_shutdown = arbor_reason(ARBOR_EXIT_SHUTDOWN, "oops")}, ARBOR_PERMANENT},
        {{.on_shutdown = ARBOR_NORMAL}, ARBOR_TRANSIENT},
        {{.on_shutdown = ARBOR_NORMAL}, ARBOR_PERMANENT},
        {{.on_shutdown = arbor_error("crash")}, ARBOR_PERMANENT},
    };
    arbor_ref_t refs[4];
    arbor_pid_t pids[4];
    for (int i = 0; i < 4; i++) {
        kids[i].t.log = arbor_self();
        arbor_child_spec_t spec = {
            .start = trapper_start, .arg = &kids[i].t, .restart = kids[i].restart};
        pids[i] = start_child(sup, &spec);
        refs[i] = monitor(pids[i]);
        expect_ready();
    }
    ASSERT_OK(arbor_dynsup_stop(sup, ARBOR_SHUTDOWN));
    for (int i = 0; i < 4; i++) {
        arbor_reason_t want = kids[i].t.on_shutdown;
        ASSERT_REASON(expect_down(refs[i]), want.kind, want.detail);
    }
    /* The reports were sent before the supervisor exited: all are queued. */
    report_note_t r[4];
    ASSERT_EQ(drain_reports(r, 4), 2);
    bool normal = false, crash = false;
    for (int i = 0; i < 2; i++) {
        ASSERT_STREQ(r[i].what, "shutdown_error");
        normal |= r[i].reason.kind == ARBOR_EXIT_NORMAL;
        crash |= r[i].reason.kind == ARBOR_EXIT_ERROR && !strcmp(r[i].reason.detail, "crash");
        /* A dynamic child has no id: the report names its pid. */
        char pid[32], want[64];
        arbor_pid_format(pids[r[i].reason.kind == ARBOR_EXIT_NORMAL ? 2 : 3], pid, sizeof pid);
        snprintf(want, sizeof want, "child=%s", pid);
        ASSERT_STREQ(r[i].detail, want);
    }
    ASSERT_TRUE(normal);
    ASSERT_TRUE(crash);
    arbor_report_set_handler(NULL, NULL);
}

TEST(DS_13_children_exiting_with_their_own_reason_on_shutdown)
{
    run_root(ds13_root, NULL);
}

/* ---- DS-14, DS-17 and 8.3: terminate_child --------------------------------------------------- */

/*
 * terminate_child(sup, pid) stops the child by its shutdown spec and
 * answers once it is gone: brutal_kill -> DOWN killed, 1000 -> DOWN
 * shutdown; a second call answers not_found; the counts end at 0. A child
 * stuck restarting (its restarts fail) is terminated by the pid it had
 * (which start_child returned): 0, its restarts stop, and it is gone.
 */
static void ds14_root(void *arg)
{
    (void)arg;
    arbor_dynsup_opts_t o = ARBOR_DYNSUP_OPTS_DEFAULT;
    o.max_restarts = 100000;
    o.max_seconds = 3600;
    arbor_pid_t sup = start_dynsup(&o);
    arbor_child_spec_t brutal = {.start = sleeper_start, .shutdown = ARBOR_BRUTAL_KILL};
    arbor_child_spec_t timed = {.start = sleeper_start, .shutdown = 1000};
    arbor_pid_t a = start_child(sup, &brutal), b = start_child(sup, &timed);
    arbor_ref_t ra = monitor(a), rb = monitor(b);

    ASSERT_OK(arbor_dynsup_terminate_child(sup, a));
    ASSERT_FALSE(arbor_test_alive(a));
    ASSERT_REASON(expect_down(ra), ARBOR_EXIT_KILLED, "");
    ASSERT_ERR(arbor_dynsup_terminate_child(sup, a), ARBOR_ENOENT);

    ASSERT_OK(arbor_dynsup_terminate_child(sup, b));
    ASSERT_FALSE(arbor_test_alive(b));
    ASSERT_REASON(expect_down(rb), ARBOR_EXIT_SHUTDOWN, "");
    ASSERT_ERR(arbor_dynsup_terminate_child(sup, b), ARBOR_ENOENT);

    arbor_child_counts_t c = counts(sup);
    ASSERT_EQ(c.specs, 0);
    ASSERT_EQ(c.active, 0);
    ASSERT_EQ(c.workers, 0);

    /* A child stuck restarting. */
    flaky_t f = {0};
    arbor_child_spec_t spec = {.start = flaky_start, .arg = &f};
    arbor_pid_t child = start_child(sup, &spec);
    atomic_store(&f.fail, true);
    kill_and_wait(child);
    wait_counts(sup, 1, 0);
    ASSERT_OK(arbor_dynsup_terminate_child(sup, child));
    c = counts(sup);
    ASSERT_EQ(c.specs, 0);
    ASSERT_EQ(c.workers, 0);
    /* A retry already queued is dropped; after it no start is attempted. */
    int calls = atomic_load(&f.calls);
    counts(sup);
    ASSERT_EQ(atomic_load(&f.calls), calls);
    ASSERT_ERR(arbor_dynsup_terminate_child(sup, child), ARBOR_ENOENT);
    ASSERT_OK(arbor_dynsup_stop(sup, ARBOR_NORMAL));
}

TEST(DS_14_terminate_child_twice_and_a_restarting_child)
{
    run_root(ds14_root, NULL);
}

/*
 * Erlang's simple_one_for_one child_adm_simple: terminate_child by id ->
 * {error, simple_one_for_one}; by the pid of a process that is not a child
 * -> {error, not_found}, the process untouched; by the pid of a child that
 * already died -> ok. In C, the DynamicSupervisor's terminate_child takes
 * only a pid, so the by-id case cannot be written. For a dead child
 * Elixir's DynamicSupervisor answers {:error, :not_found} (reference 4),
 * and so does Arbor: ARBOR_ENOENT, for a temporary child that died and was
 * forgotten, and for the old pid of a permanent child that was restarted.
 */
static void ds17_root(void *arg)
{
    (void)arg;
    arbor_pid_t sup = start_dynsup(NULL);
    arbor_pid_t stranger;
    ASSERT_OK(arbor_spawn(sleeper_main, NULL, &stranger));
    arbor_child_spec_t perm = {.start = sleeper_start};
    arbor_child_spec_t temp = {.start = sleeper_start, .restart = ARBOR_TEMPORARY};
    arbor_pid_t p = start_child(sup, &perm), t = start_child(sup, &temp);

    ASSERT_ERR(arbor_dynsup_terminate_child(sup, stranger), ARBOR_ENOENT);
    ASSERT_TRUE(arbor_test_alive(stranger));

    kill_and_wait(t);
    wait_counts(sup, 1, 1);
    ASSERT_ERR(arbor_dynsup_terminate_child(sup, t), ARBOR_ENOENT);

    kill_and_wait(p);
    arbor_pid_t again;
    uint64_t end = arbor_now_ms() + (uint64_t)arbor_test_scaled_ms(5000);
    while ((again = only_child(sup)) == ARBOR_NOPID || again == p)
        ASSERT_LT(arbor_now_ms(), end);
    ASSERT_ERR(arbor_dynsup_terminate_child(sup, p), ARBOR_ENOENT);
    ASSERT_TRUE(has_child(sup, again)); /* untouched */

    ASSERT_ERR(arbor_dynsup_terminate_child(sup, ARBOR_NOPID), ARBOR_ENOENT);
    ASSERT_OK(arbor_dynsup_stop(sup, ARBOR_NORMAL));
    ASSERT_TRUE(arbor_test_alive(stranger));
    kill_and_wait(stranger);
}

TEST(DS_17_terminate_child_of_a_stranger_or_a_dead_child_is_not_found)
{
    run_root(ds17_root, NULL);
}

/* 8.3: terminate_child(sup, pid) -> :ok; again -> {:error, :not_found}. */
static void terminate_twice_root(void *arg)
{
    (void)arg;
    arbor_pid_t sup = start_dynsup(NULL);
    worker_arg_t wa = {.id = "t", .log = arbor_self(), .trap = true};
    arbor_child_spec_t spec = {.start = worker_start, .arg = &wa};
    arbor_pid_t pid = start_child(sup, &spec);
    expect_event(EV_STARTED, "t");
    ASSERT_OK(arbor_dynsup_terminate_child(sup, pid));
    /* A trapping GenServer ran terminate(shutdown) before the answer. */
    event_t e = expect_event(EV_TERMINATED, "t");
    ASSERT_U64_EQ(e.pid, pid);
    ASSERT_REASON(e.reason, ARBOR_EXIT_SHUTDOWN, "");
    ASSERT_ERR(arbor_dynsup_terminate_child(sup, pid), ARBOR_ENOENT);
    /* Gone for good, even though it was permanent. */
    arbor_child_counts_t c = counts(sup);
    ASSERT_EQ(c.specs, 0);
    arbor_test_no_message(0);
    ASSERT_OK(arbor_dynsup_stop(sup, ARBOR_NORMAL));
}

TEST(dynamic_supervisor_terminate_child_twice_is_ok_then_not_found)
{
    run_root(terminate_twice_root, NULL);
}

/* ---- 8.3: restart types ---------------------------------------------------------------------- */

/* restart: :temporary worker killed -> which_children [] (not restarted). */
static void temporary_root(void *arg)
{
    (void)arg;
    arbor_pid_t sup = start_dynsup(NULL);
    worker_arg_t wa = {.id = "tmp", .log = arbor_self()};
    arbor_child_spec_t spec = {.start = worker_start, .arg = &wa, .restart = ARBOR_TEMPORARY};
    arbor_pid_t pid = start_child(sup, &spec);
    expect_event(EV_STARTED, "tmp");
    kill_and_wait(pid);
    /* The exit is handled, and a restart would happen in the same step:
     * once the child is gone from the supervisor, it was not restarted. */
    wait_counts(sup, 0, 0);
    arbor_child_info_t *kids;
    size_t n;
    ASSERT_OK(arbor_dynsup_which_children(sup, &kids, &n));
    ASSERT_EQ(n, 0);
    free(kids);
    arbor_test_no_message(0); /* no EV_STARTED */
    ASSERT_OK(arbor_dynsup_stop(sup, ARBOR_NORMAL));
}

TEST(dynamic_supervisor_temporary_child_killed_is_not_restarted)
{
    run_root(temporary_root, NULL);
}

/* restart: :transient worker stopped :normal -> which_children []; killed
 * -> restarted with a new pid. */
static void transient_root(void *arg)
{
    (void)arg;
    arbor_pid_t sup = start_dynsup(NULL);
    worker_arg_t wa = {.id = "tr", .log = arbor_self()};
    arbor_child_spec_t spec = {.start = worker_start, .arg = &wa, .restart = ARBOR_TRANSIENT};

    arbor_pid_t pid = start_child(sup, &spec);
    expect_event(EV_STARTED, "tr");
    ASSERT_OK(arbor_gs_stop(pid, ARBOR_NORMAL, arbor_test_scaled_ms(5000), NULL));
    ASSERT_REASON(expect_event(EV_TERMINATED, "tr").reason, ARBOR_EXIT_NORMAL, "");
    wait_counts(sup, 0, 0);
    arbor_test_no_message(0); /* no EV_STARTED */

    pid = start_child(sup, &spec);
    expect_event(EV_STARTED, "tr");
    kill_and_wait(pid);
    event_t e = expect_event(EV_STARTED, "tr");
    ASSERT_NE(e.pid, pid);
    wait_counts(sup, 1, 1);
    ASSERT_U64_EQ(only_child(sup), e.pid);
    ASSERT_OK(arbor_dynsup_stop(sup, ARBOR_NORMAL));
}

TEST(dynamic_supervisor_transient_child_normal_exit_is_not_restarted_but_a_kill_is)
{
    run_root(transient_root, NULL);
}

/* Children alike but for their argument share one record of their spec
 * (dynamic_supervisor.c: kinds). Each keeps its own argument, copied or
 * pointed to, and its own restart type; the shared record outlives any
 * one of them and is made again after the last has gone. */
static void kinds_root(void *arg)
{
    (void)arg;
    arbor_pid_t sup = start_dynsup(NULL);
    arbor_pid_t self = arbor_self();
    worker_arg_t w1 = {.id = "p1", .log = self}, w2 = {.id = "p2", .log = self};
    worker_arg_t wt = {.id = "t", .log = self};
    arbor_child_spec_t p1 = {.start = worker_start, .arg = &w1, .arg_size = sizeof w1};
    arbor_child_spec_t p2 = {.start = worker_start, .arg = &w2, .arg_size = sizeof w2};
    arbor_child_spec_t t = {.start = worker_start, .arg = &wt, .restart = ARBOR_TEMPORARY};

    arbor_pid_t a = start_child(sup, &p1);
    expect_event(EV_STARTED, "p1");
    w1.id = "changed"; /* the supervisor holds its own copy */
    arbor_pid_t b = start_child(sup, &p2);
    expect_event(EV_STARTED, "p2");
    arbor_pid_t c = start_child(sup, &t);
    expect_event(EV_STARTED, "t");

    kill_and_wait(a);
    a = expect_event(EV_STARTED, "p1").pid;          /* restarted with the copy */
    ASSERT_OK(arbor_dynsup_terminate_child(sup, a)); /* p2 still holds the record */
    kill_and_wait(b);
    arbor_pid_t b2 = expect_event(EV_STARTED, "p2").pid;
    ASSERT_NE(b2, b);
    kill_and_wait(c); /* temporary: gone for good */
    wait_counts(sup, 1, 1);
    ASSERT_U64_EQ(only_child(sup), b2);

    ASSERT_OK(arbor_dynsup_terminate_child(sup, b2)); /* the last of its kind */
    wait_counts(sup, 0, 0);
    w1.id = "p1";
    a = start_child(sup, &p1);
    expect_event(EV_STARTED, "p1");
    kill_and_wait(a);
    ASSERT_NE(expect_event(EV_STARTED, "p1").pid, a);
    wait_counts(sup, 1, 1);
    arbor_test_no_message(0);
    ASSERT_OK(arbor_dynsup_stop(sup, ARBOR_NORMAL));
}

TEST(dynamic_supervisor_children_alike_share_a_spec_and_keep_their_own_argument)
{
    run_root(kinds_root, NULL);
}

/* ---- DS-15: intensity with two children ------------------------------------------------------ */

/*
 * simple_one_for_one with intensity 2 and two children: kill one, then the
 * other, each time only the killed child is replaced; the third kill
 * exceeds the intensity and the supervisor exits shutdown (no third
 * restart), taking the other child with it.
 */
static void ds15_root(void *arg)
{
    (void)arg;
    arbor_trap_exit(true);
    arbor_dynsup_opts_t o = ARBOR_DYNSUP_OPTS_DEFAULT;
    o.max_restarts = 2;
    o.link = true;
    arbor_pid_t sup = start_dynsup(&o);
    worker_arg_t wa = {.id = "a", .log = arbor_self()}, wb = {.id = "b", .log = arbor_self()};
    arbor_child_spec_t sa = {.start = worker_start, .arg = &wa};
    arbor_child_spec_t sb = {.start = worker_start, .arg = &wb};
    arbor_pid_t a = start_child(sup, &sa);
    expect_event(EV_STARTED, "a");
    arbor_pid_t b = start_child(sup, &sb);
    expect_event(EV_STARTED, "b");

    kill_and_wait(a);
    arbor_pid_t a2 = expect_event(EV_STARTED, "a").pid;
    ASSERT_NE(a2, a);
    wait_counts(sup, 2, 2);
    ASSERT_TRUE(has_child(sup, a2));
    ASSERT_TRUE(has_child(sup, b));

    kill_and_wait(b);
    arbor_pid_t b2 = expect_event(EV_STARTED, "b").pid;
    ASSERT_NE(b2, b);
    wait_counts(sup, 2, 2);
    ASSERT_TRUE(has_child(sup, a2));
    ASSERT_TRUE(has_child(sup, b2));

    arbor_ref_t rb = monitor(b2);
    kill_and_wait(a2);
    ASSERT_REASON(expect_exit_from(sup), ARBOR_EXIT_SHUTDOWN, "");
    ASSERT_REASON(expect_down(rb), ARBOR_EXIT_SHUTDOWN, "");
    arbor_test_no_message(0); /* in particular no EV_STARTED for a third a */
}

TEST(DS_15_intensity_2_replaces_only_the_killed_child_then_shuts_down)
{
    run_root(ds15_root, NULL);
}

/* ---- DS-18: a restart that returns ignore ---------------------------------------------------- */

/*
 * A transient or permanent child whose start succeeds twice (the start and
 * the first restart) and then returns ignore: after the second kill it
 * disappears from which_children, and the supervisor lives on (and still
 * starts children).
 */
static void ds18_root(void *arg)
{
    arbor_restart_t restart = *(arbor_restart_t *)arg;
    arbor_pid_t sup = start_dynsup(NULL);
    counted_t cs = {.log = arbor_self(), .ignore_from = 3};
    arbor_child_spec_t spec = {.start = counted_start, .arg = &cs, .restart = restart};
    arbor_pid_t pid = start_child(sup, &spec);
    start_note_t n = expect_start_called();
    ASSERT_EQ(n.call, 1);
    ASSERT_U64_EQ(n.pid, pid);

    kill_and_wait(pid);
    n = expect_start_called();
    ASSERT_EQ(n.call, 2);
    ASSERT_FALSE(n.ignored);
    ASSERT_NE(n.pid, pid);
    ASSERT_U64_EQ(only_child(sup), n.pid);

    kill_and_wait(n.pid);
    n = expect_start_called();
    ASSERT_EQ(n.call, 3);
    ASSERT_TRUE(n.ignored);
    /* The supervisor forgot it in the same step that called the start. */
    arbor_child_info_t *kids;
    size_t k;
    ASSERT_OK(arbor_dynsup_which_children(sup, &kids, &k));
    ASSERT_EQ(k, 0);
    free(kids);
    ASSERT_EQ(counts(sup).specs, 0);
    ASSERT_TRUE(arbor_test_alive(sup));
    arbor_child_spec_t sleepy = {.start = sleeper_start};
    start_child(sup, &sleepy);
    ASSERT_EQ(atomic_load(&cs.calls), 3);
    ASSERT_OK(arbor_dynsup_stop(sup, ARBOR_NORMAL));
}

TEST(DS_18_transient_child_whose_restart_ignores_disappears)
{
    arbor_restart_t r = ARBOR_TRANSIENT;
    run_root(ds18_root, &r);
}

TEST(DS_18_permanent_child_whose_restart_ignores_disappears)
{
    arbor_restart_t r = ARBOR_PERMANENT;
    run_root(ds18_root, &r);
}

/* ---- shutdown is linear in the number of children -------------------------------------------- */

/*
 * A supervisor with 10,000 children stops: all are told at once and their
 * DOWNs collected, so the stop finishes (within the test's timeout) and
 * every child is gone when it returns. The children are reactive processes,
 * which hold no stack while they wait.
 */
#define MANY_CHILDREN 10000

static void idle_handle(void *state, arbor_msg_t *msg)
{
    (void)state;
    (void)msg;
}

static const arbor_reactor_t idle_reactor = {.handle = idle_handle};

static int idle_start(void *arg, arbor_pid_t *pid, arbor_reason_t *err)
{
    (void)arg;
    (void)err;
    arbor_spawn_opts_t o = {.link = true};
    return arbor_spawn_reactor(&idle_reactor, NULL, &o, pid, NULL);
}

static void many_root(void *arg)
{
    (void)arg;
    arbor_pid_t sup = start_dynsup(NULL);
    arbor_pid_t *kids = malloc(MANY_CHILDREN * sizeof *kids);
    ASSERT_TRUE(kids != NULL);
    arbor_child_spec_t spec = {.start = idle_start};
    uint64_t t0 = arbor_now_ms();
    for (size_t i = 0; i < MANY_CHILDREN; i++)
        kids[i] = start_child(sup, &spec);
    uint64_t t1 = arbor_now_ms();
    arbor_child_counts_t c = counts(sup);
    ASSERT_EQ(c.active, MANY_CHILDREN);
    ASSERT_GE(live_processes(), MANY_CHILDREN + 2);
    ASSERT_OK(arbor_dynsup_stop(sup, ARBOR_SHUTDOWN));
    uint64_t t2 = arbor_now_ms();
    for (size_t i = 0; i < MANY_CHILDREN; i++)
        if (arbor_test_alive(kids[i]))
            arbor_test_fail(__FILE__, __LINE__, "child %zu still alive after the stop", i);
    free(kids);
    ASSERT_FALSE(arbor_test_alive(sup));
    printf("started %d children in %llu ms, stopped them in %llu ms\n", MANY_CHILDREN,
           (unsigned long long)(t1 - t0), (unsigned long long)(t2 - t1));
}

TEST_TIMEOUT(dynamic_supervisor_stop_with_10000_children_finishes_and_leaves_none, 60)
{
    run_root(many_root, NULL);
}

/* ---- restart back-off (beyond OTP) ---------------------------------------------------------- */

/* The pid of sup's first child, ARBOR_NOPID while it is not running. */
static arbor_pid_t first_child_pid(arbor_pid_t sup)
{
    arbor_child_info_t *kids;
    size_t n;
    ASSERT_OK(arbor_dynsup_which_children(sup, &kids, &n));
    ASSERT_EQ(n, 1);
    arbor_pid_t pid = kids[0].pid;
    free(kids);
    return pid;
}

static void backoff_root(void *arg)
{
    arbor_pid_t sup, pid;
    ASSERT_OK(arbor_dynsup_start(NULL, &sup, NULL));
    arbor_child_spec_t spec = {.id = "s", .start = sleeper_start, .backoff_ms = 60};
    ASSERT_OK(arbor_dynsup_start_child(sup, &spec, &pid, NULL));
    uint64_t t0 = arbor_now_ms();
    arbor_ref_t ref;
    ASSERT_OK(arbor_monitor(pid, &ref));
    ASSERT_OK(arbor_exit_pid(pid, ARBOR_KILL));
    arbor_msg_free(arbor_test_recv_tag(ARBOR_TAG_DOWN, 5000));
    /* Waiting out its delay, it shows as restarting, without a pid. */
    arbor_child_info_t *kids;
    size_t n;
    ASSERT_OK(arbor_dynsup_which_children(sup, &kids, &n));
    ASSERT_EQ(n, 1);
    ASSERT_EQ(kids[0].status, ARBOR_CHILD_RESTARTING);
    ASSERT_U64_EQ(kids[0].pid, ARBOR_NOPID);
    free(kids);
    arbor_pid_t again;
    WAIT_UNTIL((again = first_child_pid(sup)) != ARBOR_NOPID, 5000);
    ASSERT_GE(arbor_now_ms() - t0, 30); /* 60 ms times [0.5, 1.5) */
    ASSERT_NE(again, pid);
    ASSERT_OK(arbor_dynsup_stop(sup, ARBOR_SHUTDOWN));
}

TEST(dynamic_supervisor_restart_backoff_delays_the_restart)
{
    run_root(backoff_root, NULL);
}

/* ---- {ok, Pid, Info} ------------------------------------------------------------------------- */

/* A start function returning OTP's {ok, Pid, Info}: a sleeper, and "info
 * N" in its reason argument, N counting its calls. */
static int info_start(void *arg, arbor_pid_t *pid, arbor_reason_t *info)
{
    atomic_int *calls = arg;
    int rc = sleeper_start(NULL, pid, info);
    if (rc == 0)
        *info = arbor_reason(ARBOR_EXIT_NORMAL, "info %d", atomic_fetch_add(calls, 1) + 1);
    return rc;
}

/* start_child hands the info to its caller; the supervisor's own restart
 * ignores it and the child runs again. */
static void info_root(void *arg)
{
    (void)arg;
    arbor_pid_t sup = start_dynsup(NULL);
    atomic_int calls = 0;
    arbor_child_spec_t spec = {.start = info_start, .arg = &calls};
    arbor_pid_t pid = ARBOR_NOPID;
    arbor_reason_t info = ARBOR_KILLED;
    ASSERT_OK(arbor_dynsup_start_child(sup, &spec, &pid, &info));
    ASSERT_NE(pid, ARBOR_NOPID);
    ASSERT_REASON(info, ARBOR_EXIT_NORMAL, "info 1");
    kill_and_wait(pid);
    ASSERT_OK(arbor_dynsup_start_child(sup, &spec, &pid, &info));
    ASSERT_REASON(info, ARBOR_EXIT_NORMAL, "info 3"); /* 2 was the restart's */
    ASSERT_EQ(counts(sup).active, 2);
    ASSERT_OK(arbor_dynsup_stop(sup, ARBOR_NORMAL));
}

TEST(dynamic_supervisor_start_child_returns_the_start_info)
{
    run_root(info_root, NULL);
}

/* A restart that succeeds is done: the supervisor posts itself no retry
 * (the trace of what it handles shows the child's EXIT and our calls,
 * nothing else). */
static void no_retry_root(void *arg)
{
    (void)arg;
    arbor_pid_t sup = start_dynsup(NULL);
    arbor_child_spec_t spec = {.start = sleeper_start};
    arbor_pid_t pid;
    ASSERT_OK(arbor_dynsup_start_child(sup, &spec, &pid, NULL));
    ASSERT_OK(arbor_gs_trace_to(sup, arbor_self(), 5000));
    kill_and_wait(pid);
    /* The first call is served after the EXIT's handling, where a retry
     * would have been posted; the second after that retry, if any. */
    ASSERT_EQ(counts(sup).active, 1);
    ASSERT_EQ(counts(sup).active, 1);
    int calls = 0, exits = 0;
    while (calls < 2) {
        arbor_msg_t *m = arbor_test_recv_tag(ARBOR_TAG_GS_TRACE, 5000);
        const arbor_gs_trace_event_t *e = m->data;
        if (e->kind == ARBOR_GS_TRACE_CALL)
            calls++;
        else if (e->kind == ARBOR_GS_TRACE_INFO) {
            if (e->tag != ARBOR_TAG_EXIT)
                arbor_test_fail(__FILE__, __LINE__, "the supervisor got %s", e->text);
            exits++;
        }
        arbor_msg_free(m);
    }
    ASSERT_EQ(exits, 1);
    ASSERT_OK(arbor_dynsup_stop(sup, ARBOR_NORMAL));
}

TEST(dynamic_supervisor_restart_that_succeeds_posts_no_retry)
{
    run_root(no_retry_root, NULL);
}

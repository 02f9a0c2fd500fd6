/*
 * Long exit reasons: a 500-character reason reaches every place a reason
 * is read whole, not cut to ARBOR_REASON_DETAIL_MAX: a monitor's DOWN, a
 * trapping linked process's EXIT, a caller's exit_out, a starter's
 * error_out (from the server's ack, from a DynamicSupervisor's reply, and
 * inside a Supervisor's failed_to_start_child), and the reports of the
 * server and of its supervisor, and the line the default printer makes of a
 * report. Each case also frees the message before
 * reading a copy, so a text that lived only in the freed message fails
 * under ASan.
 */
#include "test.h"

#define LONG_LEN 500
#define WAIT_MS  5000
/* A call's timeout: a bound on slowness, scaled like WAIT_MS (which the
 * receive helpers scale themselves). */
#define CALL_MS arbor_test_scaled_ms(WAIT_MS)

enum {
    TAG_REPORT = 1, /* data: "what" NUL reason-text NUL */
    REQ_DIE,        /* the server halts with the long reason */
};

/* The long text: "long-reason-" then letters, LONG_LEN bytes in all. */
static const char *long_text(void)
{
    static char text[LONG_LEN + 1];
    if (!text[0]) {
        memcpy(text, "long-reason-", 12);
        for (size_t i = 12; i < LONG_LEN; i++)
            text[i] = (char)('a' + i % 26);
    }
    return text;
}

/* r is the long reason, whole, with its first bytes in detail. */
static void assert_long(const arbor_reason_t *r)
{
    ASSERT_EQ(r->kind, ARBOR_EXIT_ERROR);
    ASSERT_EQ(strlen(arbor_reason_text(r)), LONG_LEN);
    ASSERT_STREQ(arbor_reason_text(r), long_text());
    ASSERT_EQ(strlen(r->detail), ARBOR_REASON_DETAIL_MAX);
    ASSERT_TRUE(strncmp(r->detail, long_text(), ARBOR_REASON_DETAIL_MAX) == 0);
}

static void die_long(void *arg)
{
    (void)arg;
    arbor_exit(arbor_error("%s", long_text()));
}

/* The DOWN and the EXIT of one death, both whole; a copy outlives them. */
static void monitor_and_link_root(void *arg)
{
    (void)arg;
    arbor_trap_exit(true);
    arbor_pid_t pid;
    arbor_ref_t ref;
    arbor_spawn_opts_t o = {.link = true, .monitor = true};
    ASSERT_OK(arbor_spawn_opt(die_long, NULL, &o, &pid, &ref));
    arbor_msg_t *down = arbor_test_recv_tag(ARBOR_TAG_DOWN, WAIT_MS);
    arbor_msg_t *exit = arbor_test_recv_tag(ARBOR_TAG_EXIT, WAIT_MS);
    const arbor_down_msg_t *d = down->data;
    const arbor_exit_msg_t *e = exit->data;
    ASSERT_U64_EQ(d->pid, pid);
    ASSERT_U64_EQ(e->from, pid);
    assert_long(&d->reason);
    assert_long(&e->reason);
    ASSERT_TRUE(arbor_reason_equal(&d->reason, &e->reason));
    arbor_reason_t kept = arbor_reason_copy(&d->reason);
    arbor_msg_free(down);
    arbor_msg_free(exit);
    assert_long(&kept);
    arbor_reason_free(&kept);
    ASSERT_TRUE(kept.whole == NULL);
}

TEST(long_reason_reaches_a_monitor_and_a_trapping_link_whole)
{
    ASSERT_REASON(arbor_test_run(monitor_and_link_root, NULL), ARBOR_EXIT_NORMAL, "");
}

/* ---- a server that dies with the long reason --------------------------------------- */

static arbor_gs_ret_t long_init(void **state, void *arg)
{
    (void)state;
    if (arg) /* fail the start */
        return arbor_gs_halt(arbor_error("%s", long_text()));
    return arbor_gs_ok();
}

static arbor_gs_ret_t long_call(void **state, const arbor_msg_t *req, arbor_from_t from)
{
    (void)state, (void)from;
    if (req->tag == REQ_DIE)
        return arbor_gs_halt(arbor_error("%s", long_text()));
    return arbor_gs_reply(NULL, 0);
}

static const arbor_gen_server_t long_gs = {
    .label = "long_reason_server", .init = long_init, .handle_call = long_call};

static void call_root(void *arg)
{
    (void)arg;
    arbor_pid_t pid;
    ASSERT_OK(arbor_gs_start(&long_gs, NULL, NULL, &pid, NULL));
    arbor_reason_t why = ARBOR_NORMAL;
    ASSERT_ERR(arbor_gs_call(pid, REQ_DIE, NULL, 0, CALL_MS, NULL, &why), ARBOR_EEXIT);
    assert_long(&why);
    arbor_reason_free(&why);
}

TEST(long_reason_reaches_a_callers_exit_out_whole)
{
    ASSERT_REASON(arbor_test_run(call_root, NULL), ARBOR_EXIT_NORMAL, "");
}

static int long_child_start(void *arg, arbor_pid_t *pid, arbor_reason_t *err)
{
    arbor_gs_opts_t o = {.link = true};
    return arbor_gs_start(&long_gs, arg, &o, pid, err);
}

/* The server's init fails: its ack carries the text to arbor_gs_start(),
 * and a DynamicSupervisor's reply carries it on to start_child's caller. */
static void start_root(void *arg)
{
    (void)arg;
    arbor_reason_t why = ARBOR_NORMAL;
    ASSERT_ERR(arbor_gs_start(&long_gs, "fail", NULL, NULL, &why), ARBOR_EEXIT);
    assert_long(&why);
    arbor_reason_free(&why);

    arbor_pid_t sup;
    arbor_dynsup_opts_t o = ARBOR_DYNSUP_OPTS_DEFAULT;
    ASSERT_OK(arbor_dynsup_start(&o, &sup, NULL));
    arbor_child_spec_t spec = {.start = long_child_start, .arg = "fail"};
    why = ARBOR_NORMAL;
    ASSERT_ERR(arbor_dynsup_start_child(sup, &spec, NULL, &why), ARBOR_EEXIT);
    assert_long(&why);
    ASSERT_OK(arbor_dynsup_stop(sup, ARBOR_NORMAL));

    /* A Supervisor whose child fails to start names the child's reason
     * whole in its own: {shutdown, failed_to_start_child long: ...}. */
    arbor_child_spec_t child = {.id = "long", .start = long_child_start, .arg = "fail"};
    arbor_sup_flags_t flags = ARBOR_SUP_FLAGS_DEFAULT;
    why = ARBOR_NORMAL;
    ASSERT_ERR(arbor_sup_start(&flags, &child, 1, NULL, NULL, &why), ARBOR_EEXIT);
    ASSERT_EQ(why.kind, ARBOR_EXIT_SHUTDOWN);
    ASSERT_TRUE(strncmp(arbor_reason_text(&why), "failed_to_start_child long: ", 28) == 0);
    ASSERT_STREQ(arbor_reason_text(&why) + 28, long_text());
}

TEST(long_reason_of_a_failed_start_reaches_error_out_whole)
{
    ASSERT_REASON(arbor_test_run(start_root, NULL), ARBOR_EXIT_NORMAL, "");
}

/* ---- reports ------------------------------------------------------------------------ */

/* Sends "what" and the reason as the report had it, formatted whole. */
static void send_report(const arbor_report_t *r, void *ctx)
{
    char buf[1024];
    int n = snprintf(buf, sizeof buf, "%s", r->what ? r->what : "");
    int m = arbor_reason_format(&r->reason, buf + n + 1, sizeof buf - (size_t)n - 1);
    arbor_send(*(const arbor_pid_t *)ctx, TAG_REPORT, buf, (size_t)(n + 1 + m + 1));
}

/* The next report with this "what"; its reason text must be the long one. */
static void expect_long_report(const char *what)
{
    for (;;) {
        arbor_msg_t *m = arbor_test_recv_tag(TAG_REPORT, WAIT_MS);
        const char *got = m->data;
        if (strcmp(got, what) == 0) {
            ASSERT_STREQ(got + strlen(got) + 1, long_text());
            arbor_msg_free(m);
            return;
        }
        arbor_msg_free(m);
    }
}

static arbor_pid_t report_sink;

static void report_root(void *arg)
{
    (void)arg;
    report_sink = arbor_self();
    arbor_report_set_handler(send_report, &report_sink);
    arbor_child_spec_t child = {.id = "long", .start = long_child_start};
    arbor_sup_flags_t flags = ARBOR_SUP_FLAGS_DEFAULT;
    arbor_pid_t sup;
    ASSERT_OK(arbor_sup_start(&flags, &child, 1, NULL, &sup, NULL));
    arbor_child_info_t *kids;
    size_t n;
    ASSERT_OK(arbor_sup_which_children(sup, &kids, &n));
    ASSERT_EQ(n, 1);
    arbor_pid_t pid = kids[0].pid;
    free(kids);
    ASSERT_ERR(arbor_gs_call(pid, REQ_DIE, NULL, 0, CALL_MS, NULL, NULL), ARBOR_EEXIT);
    expect_long_report("terminating"); /* the server's crash report */
    expect_long_report("child_terminated");
    ASSERT_OK(arbor_sup_stop(sup, ARBOR_NORMAL));
    arbor_report_set_handler(NULL, NULL);
}

TEST(long_reason_reaches_the_server_and_supervisor_reports_whole)
{
    ASSERT_REASON(arbor_test_run(report_root, NULL), ARBOR_EXIT_NORMAL, "");
}

/* The default printer's line (arbor_report_format): the reason whole, and
 * the detail after one blank only when there is one (a report without one
 * ended in a blank). In a process, where a long reason is kept whole. */
static void format_root(void *arg)
{
    (void)arg;
    arbor_report_t r = {.kind = ARBOR_REPORT_SUPERVISOR,
                        .pid = arbor_self(),
                        .behaviour = "dynamic_supervisor",
                        .what = "child_terminated",
                        .reason = arbor_error("boom"),
                        .detail = ""};
    char pid[32], want[128], line[128];
    arbor_pid_format(arbor_self(), pid, sizeof pid);
    snprintf(want, sizeof want,
             "=SUPERVISOR REPORT==== dynamic_supervisor %s child_terminated: reason=boom", pid);
    ASSERT_EQ(arbor_report_format(&r, line, sizeof line), (int)strlen(want));
    ASSERT_STREQ(line, want);
    r.detail = "child=<0.7.1>";
    strcat(want, " child=<0.7.1>");
    ASSERT_EQ(arbor_report_format(&r, line, sizeof line), (int)strlen(want));
    ASSERT_STREQ(line, want);

    r.reason = arbor_error("%s", long_text());
    char whole[LONG_LEN + 256];
    int n = arbor_report_format(&r, whole, sizeof whole);
    ASSERT_TRUE(n > LONG_LEN && n < (int)sizeof whole);
    ASSERT_TRUE(strstr(whole, long_text()) != NULL);
    ASSERT_STREQ(whole + n - strlen(" child=<0.7.1>"), " child=<0.7.1>");
    /* Cut to a small buffer, the length is still the whole line's. */
    ASSERT_EQ(arbor_report_format(&r, line, sizeof line), n);
    ASSERT_EQ(strlen(line), sizeof line - 1);
    arbor_reason_free(&r.reason);
}

TEST(a_report_formats_as_one_line_with_the_reason_whole)
{
    ASSERT_REASON(arbor_test_run(format_root, NULL), ARBOR_EXIT_NORMAL, "");
}

/*
 * Child specs for GenServer modules (arbor_gs_child_spec(), as
 * `use GenServer`'s child_spec/1): one call per child, the module's name as
 * its id, started linked, under Supervisor and DynamicSupervisor
 * (docs/otp.md).
 */
#include "sup_fixture.h"

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

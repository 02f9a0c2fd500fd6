/*
 * arbor_sup_children_snapshot(): a supervisor's children read from the
 * table of supervisors, without a call. It shows what which_children
 * shows, follows starts, restarts, terminations and deletions, and answers
 * while the supervisor is blocked inside a child's start function (where
 * which_children, a call, would wait until the start returned).
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "sup_fixture.h"

enum {
    EV_IN_START = 300, /* to the log: a gate's start function is waiting */
    EV_GO,             /* to the supervisor, inside that start: go on */
};

/* A child whose start, while block is set, tells the log it has begun and
 * then waits, inside the supervisor, for an EV_GO sent to the supervisor. */
typedef struct gate {
    arbor_pid_t log;
    atomic_int block;
} gate_t;

static bool is_go(const arbor_msg_t *m, void *arg)
{
    (void)arg;
    return m->tag == EV_GO;
}

static int gate_start(void *arg, arbor_pid_t *pid, arbor_reason_t *err)
{
    gate_t *g = arg;
    if (atomic_load(&g->block)) {
        ASSERT_OK(arbor_send(g->log, EV_IN_START, NULL, 0));
        arbor_msg_t *m;
        ASSERT_OK(arbor_receive_match(is_go, NULL, ARBOR_INFINITY, &m));
        arbor_msg_free(m);
    }
    return sleeper_start(NULL, pid, err);
}

static arbor_child_info_t *snapshot(arbor_pid_t sup, size_t *n)
{
    arbor_child_info_t *kids = NULL;
    ASSERT_OK(arbor_sup_children_snapshot(sup, &kids, n));
    ASSERT_TRUE(kids != NULL);
    return kids;
}

/* The snapshot's entry for id (a Supervisor's child), which must exist. */
static arbor_child_info_t entry(arbor_pid_t sup, const char *id)
{
    size_t n;
    arbor_child_info_t *kids = snapshot(sup, &n), found = {.status = 0};
    for (size_t i = 0; i < n; i++)
        if (strcmp(kids[i].id, id) == 0)
            found = kids[i];
    free(kids);
    ASSERT_TRUE(found.status != 0);
    return found;
}

static bool running_again(arbor_pid_t sup, const char *id, arbor_pid_t old, unsigned restarts)
{
    arbor_child_info_t e = entry(sup, id);
    return e.status == ARBOR_CHILD_RUNNING && e.pid && e.pid != old && e.restarts == restarts;
}

/* Snapshot and which_children agree, entry for entry, in the same order. */
static void same_as_which_children(arbor_pid_t sup, bool dynamic)
{
    size_t n, m;
    arbor_child_info_t *snap = snapshot(sup, &n), *asked;
    ASSERT_OK(dynamic ? arbor_dynsup_which_children(sup, &asked, &m)
                      : arbor_sup_which_children(sup, &asked, &m));
    ASSERT_EQ(n, m);
    for (size_t i = 0; i < n; i++) {
        ASSERT_STREQ(snap[i].id, asked[i].id);
        ASSERT_U64_EQ(snap[i].pid, asked[i].pid);
        ASSERT_EQ(snap[i].status, asked[i].status);
        ASSERT_EQ(snap[i].type, asked[i].type);
        ASSERT_EQ(snap[i].restarts, asked[i].restarts);
    }
    free(snap);
    free(asked);
}

static void supervisor_root(void *arg)
{
    (void)arg;
    gate_t g = {.log = arbor_self()};
    arbor_child_spec_t specs[] = {
        {.id = "a", .start = sleeper_start},
        {.id = "gate", .start = gate_start, .arg = &g},
    };
    arbor_sup_flags_t flags = {
        .strategy = ARBOR_ONE_FOR_ONE, .max_restarts = 10, .max_seconds = 3600};
    arbor_pid_t sup;
    ASSERT_OK(arbor_sup_start(&flags, specs, 2, NULL, &sup, NULL));

    /* Started: newest first, as which_children. */
    size_t n;
    arbor_child_info_t *kids = snapshot(sup, &n);
    ASSERT_EQ(n, 2);
    ASSERT_STREQ(kids[0].id, "gate");
    ASSERT_STREQ(kids[1].id, "a");
    ASSERT_EQ(kids[1].status, ARBOR_CHILD_RUNNING);
    ASSERT_EQ(kids[1].type, ARBOR_WORKER);
    ASSERT_EQ(kids[1].restarts, 0);
    ASSERT_TRUE(arbor_alive(kids[1].pid));
    free(kids);
    same_as_which_children(sup, false);

    /* Restarted: a new pid, one restart (the supervisor says nothing, so
     * the test polls the snapshot). */
    arbor_pid_t a = entry(sup, "a").pid;
    ASSERT_OK(arbor_exit_pid(a, ARBOR_KILL));
    WAIT_UNTIL(running_again(sup, "a", a, 1), 5000);
    same_as_which_children(sup, false);

    /* Terminated, restarted and deleted by calls: seen as each returns. */
    ASSERT_OK(arbor_sup_terminate_child(sup, "a"));
    arbor_child_info_t e = entry(sup, "a");
    ASSERT_EQ(e.status, ARBOR_CHILD_UNDEFINED);
    ASSERT_U64_EQ(e.pid, ARBOR_NOPID);
    arbor_pid_t a2;
    ASSERT_OK(arbor_sup_restart_child(sup, "a", &a2, NULL));
    ASSERT_U64_EQ(entry(sup, "a").pid, a2);
    ASSERT_OK(arbor_sup_terminate_child(sup, "a"));
    ASSERT_OK(arbor_sup_delete_child(sup, "a"));
    kids = snapshot(sup, &n);
    ASSERT_EQ(n, 1);
    ASSERT_STREQ(kids[0].id, "gate");
    free(kids);

    /* Blocked: the gate's restart waits inside the supervisor for our
     * EV_GO. The snapshot answers meanwhile, the child not running and its
     * restart counted; which_children could not answer until EV_GO. */
    arbor_pid_t gpid = entry(sup, "gate").pid;
    atomic_store(&g.block, 1);
    ASSERT_OK(arbor_exit_pid(gpid, ARBOR_KILL));
    arbor_msg_free(arbor_test_recv_tag(EV_IN_START, 5000));
    for (int i = 0; i < 3; i++) {
        e = entry(sup, "gate");
        ASSERT_EQ(e.status, ARBOR_CHILD_UNDEFINED);
        ASSERT_U64_EQ(e.pid, ARBOR_NOPID);
        ASSERT_EQ(e.restarts, 1);
    }
    atomic_store(&g.block, 0);
    ASSERT_OK(arbor_send(sup, EV_GO, NULL, 0));
    WAIT_UNTIL(running_again(sup, "gate", gpid, 1), 5000);
    same_as_which_children(sup, false);

    /* Gone: the entry leaves with the process. */
    ASSERT_OK(arbor_sup_stop(sup, ARBOR_SHUTDOWN));
    ASSERT_ERR(arbor_sup_children_snapshot(sup, &kids, &n), ARBOR_ENOPROC);
}

TEST(sup_snapshot_follows_a_supervisor)
{
    ASSERT_REASON(arbor_test_run(supervisor_root, NULL), ARBOR_EXIT_NORMAL, "");
}

static void dynamic_root(void *arg)
{
    (void)arg;
    arbor_dynsup_opts_t o = ARBOR_DYNSUP_OPTS_DEFAULT;
    o.max_restarts = 10;
    arbor_pid_t sup;
    ASSERT_OK(arbor_dynsup_start(&o, &sup, NULL));
    size_t n;
    arbor_child_info_t *kids = snapshot(sup, &n);
    ASSERT_EQ(n, 0);
    free(kids);

    gate_t g = {.log = arbor_self()};
    arbor_child_spec_t sleeper = {.start = sleeper_start};
    arbor_child_spec_t gate = {.start = gate_start, .arg = &g};
    arbor_pid_t p1, p2, pg;
    ASSERT_OK(arbor_dynsup_start_child(sup, &sleeper, &p1, NULL));
    ASSERT_OK(arbor_dynsup_start_child(sup, &sleeper, &p2, NULL));
    ASSERT_OK(arbor_dynsup_start_child(sup, &gate, &pg, NULL));
    kids = snapshot(sup, &n);
    ASSERT_EQ(n, 3);
    for (size_t i = 0; i < n; i++) {
        ASSERT_TRUE(kids[i].pid == p1 || kids[i].pid == p2 || kids[i].pid == pg);
        ASSERT_EQ(kids[i].status, ARBOR_CHILD_RUNNING);
        ASSERT_EQ(kids[i].restarts, 0);
        ASSERT_STREQ(kids[i].id, "");
    }
    free(kids);
    same_as_which_children(sup, true);

    /* Terminated: gone when the call returns. */
    ASSERT_OK(arbor_dynsup_terminate_child(sup, p2));
    kids = snapshot(sup, &n);
    ASSERT_EQ(n, 2);
    for (size_t i = 0; i < n; i++)
        ASSERT_TRUE(kids[i].pid != p2);
    free(kids);

    /* Restarted while blocked in the start: the child shows restarting,
     * with no pid and its restart counted, beside the other one. */
    atomic_store(&g.block, 1);
    ASSERT_OK(arbor_exit_pid(pg, ARBOR_KILL));
    arbor_msg_free(arbor_test_recv_tag(EV_IN_START, 5000));
    kids = snapshot(sup, &n);
    ASSERT_EQ(n, 2);
    int restarting = 0;
    for (size_t i = 0; i < n; i++) {
        if (kids[i].status == ARBOR_CHILD_RESTARTING) {
            restarting++;
            ASSERT_U64_EQ(kids[i].pid, ARBOR_NOPID);
            ASSERT_EQ(kids[i].restarts, 1);
        } else {
            ASSERT_U64_EQ(kids[i].pid, p1);
            ASSERT_EQ(kids[i].restarts, 0);
        }
    }
    ASSERT_EQ(restarting, 1);
    free(kids);
    atomic_store(&g.block, 0);
    ASSERT_OK(arbor_send(sup, EV_GO, NULL, 0));
    arbor_child_counts_t counts;
    ASSERT_OK(arbor_dynsup_count_children(sup, &counts)); /* served after the restart */
    ASSERT_EQ(counts.active, 2);
    same_as_which_children(sup, true);
    kids = snapshot(sup, &n);
    ASSERT_EQ(n, 2);
    for (size_t i = 0; i < n; i++) {
        ASSERT_EQ(kids[i].status, ARBOR_CHILD_RUNNING);
        ASSERT_TRUE(kids[i].pid != pg && arbor_alive(kids[i].pid));
        ASSERT_EQ(kids[i].restarts, kids[i].pid == p1 ? 0 : 1);
    }
    free(kids);

    ASSERT_OK(arbor_dynsup_stop(sup, ARBOR_SHUTDOWN));
    ASSERT_ERR(arbor_sup_children_snapshot(sup, &kids, &n), ARBOR_ENOPROC);
}

TEST(sup_snapshot_follows_a_dynamic_supervisor)
{
    ASSERT_REASON(arbor_test_run(dynamic_root, NULL), ARBOR_EXIT_NORMAL, "");
}

/* Another kind of process, and bad arguments. */
static void refusals_root(void *arg)
{
    (void)arg;
    arbor_child_info_t *kids;
    size_t n;
    ASSERT_ERR(arbor_sup_children_snapshot(arbor_self(), &kids, &n), ARBOR_EWRONGKIND);
    ASSERT_ERR(arbor_sup_children_snapshot(arbor_self(), NULL, &n), ARBOR_EINVAL);
    ASSERT_ERR(arbor_sup_children_snapshot(arbor_self(), &kids, NULL), ARBOR_EINVAL);
}

TEST(sup_snapshot_refuses_other_processes)
{
    ASSERT_REASON(arbor_test_run(refusals_root, NULL), ARBOR_EXIT_NORMAL, "");
}

/*
 * The course's exercise, :one_for_all: "In a distributed database cluster,
 * if one node fails, it might cause inconsistency across other nodes.
 * Restarting all nodes ensures that they are synchronized and consistent."
 *
 * The course gives no code for it; in Elixir the tree would read
 *
 *   children = [
 *     Supervisor.child_spec({DbNode, []}, id: :node_1),
 *     Supervisor.child_spec({DbNode, []}, id: :node_2),
 *     Supervisor.child_spec({DbNode, []}, id: :node_3)
 *   ]
 *   Supervisor.start_link(children, strategy: :one_for_all)
 *
 * Each node holds a replica of the cluster's data; a write goes to every
 * node. node_2 crashes and loses its replica. Had only node_2 come back,
 * its replica would differ from the others'; one_for_all restarts all
 * three together, so every replica starts again from the same (empty)
 * state and the cluster is consistent.
 */
#include <stdio.h>

#include "course.h"

enum { WRITE = 1, READ, CRASH };

typedef struct replica {
    long version; /* writes applied */
    long value;
} replica_t;

static arbor_gs_ret_t node_init(void **state, void *arg)
{
    replica_t *r = arbor_calloc(1, sizeof *r);
    if (!r)
        return arbor_gs_halt(arbor_error("out of memory"));
    *state = r;
    return arbor_gs_ok();
}

static arbor_gs_ret_t node_call(void **state, const arbor_msg_t *msg, arbor_from_t from)
{
    replica_t *r = *state;
    const long *value = ARBOR_GS_REQ(msg, long);
    switch (msg->tag) {
    case WRITE:
        if (!value)
            return arbor_gs_halt(arbor_error("bad write"));
        r->value = *value;
        r->version++;
        return arbor_gs_reply(r, sizeof *r);
    case READ:
        return arbor_gs_reply(r, sizeof *r);
    default:
        return arbor_gs_halt(arbor_error("disk failure"));
    }
}

static const arbor_gen_server_t db_node = {
    .label = "DbNode", .init = node_init, .handle_call = node_call};

/* Prints every node's replica and whether they all agree. */
static void print_replicas(const tree_t *t)
{
    replica_t first = {0};
    int consistent = 1;
    for (size_t i = 0; i < t->n; i++) {
        replica_t r;
        course_check(arbor_gs_call_into(t->kids[i].pid, READ, NULL, 0, &r, sizeof r,
                                        ARBOR_GS_CALL_TIMEOUT, NULL),
                     "read a replica", NULL);
        printf("  %s: version %ld, value %ld\n", t->kids[i].id, r.version, r.value);
        if (i == 0)
            first = r;
        else if (r.version != first.version || r.value != first.value)
            consistent = 0;
    }
    printf("replicas %s\n", consistent ? "consistent" : "INCONSISTENT");
}

static void root(void *arg)
{
    static const char *const ids[] = {"node_1", "node_2", "node_3"};
    arbor_child_spec_t children[3];
    for (size_t i = 0; i < 3; i++) {
        children[i] = arbor_gs_child_spec(&db_node, NULL);
        children[i].id = ids[i];
    }
    arbor_sup_flags_t flags = ARBOR_SUP_FLAGS_DEFAULT;
    flags.strategy = ARBOR_ONE_FOR_ALL;
    arbor_pid_t sup;
    arbor_reason_t why;
    course_check(
        arbor_sup_start(&flags, children, 3, &(arbor_sup_opts_t){.link = true}, &sup, &why),
        "start the supervisor", &why);

    tree_t before, after;
    course_check(tree_take(sup, &before), "which_children", NULL);
    tree_print("one_for_all, before the crash:", &before);
    for (long value = 10; value <= 30; value += 10)
        for (size_t i = 0; i < before.n; i++) {
            replica_t r;
            course_check(ARBOR_GS_CALL(before.kids[i].pid, WRITE, &value, &r), "replicate a write",
                         NULL);
        }
    print_replicas(&before);

    tree_crash(sup, &before, "node_2", CRASH, NULL, 0, &after);
    print_replicas(&after);
    tree_free(&before);
    tree_free(&after);
    course_check(arbor_sup_stop(sup, ARBOR_NORMAL), "stop the supervisor", NULL);
}

int main(void)
{
    return course_main(root);
}

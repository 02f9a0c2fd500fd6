/*
 * The desk's tree as JSON (desk_tree_json: the console's tree and GET
 * /api/tree): its ticket workers in the order of their tickets, and their
 * notes asked of the workers, a worker too busy to answer costing the
 * tree no more than the notes' one shared second, however many such
 * workers there are.
 */

#include <cJSON.h>

#include "../../apps/support_system/desk.h"
#include "../../apps/support_system/desk_json.h"
#include "desk_test_db.h"
#include "desk_test_hold.h"
#include "test.h"

#define BUSY_WORKERS 5

static char db_path[64];
static void holder(void *arg)
{
    (void)arg;
    int rc = store_run(desk_test_hold_store, NULL, 0, NULL, 0);
    ASSERT_OK(rc);
}

/* Assigns ticket *arg, then tells the parent (tag 1). */
typedef struct {
    int64_t id;
    arbor_pid_t parent;
} assign_job_t;

static void assigner(void *arg)
{
    const assign_job_t *job = arg;
    ticket_t out;
    ticket_error_t err = {.code = ""};
    int rc = desk_act(job->id, ACTION_ASSIGN, "alice", &desk_operator, &out, &err);
    arbor_send(job->parent, 1, &rc, sizeof rc);
}

/* The node in tree whose key is value, depth first, or NULL. */
static cJSON *find_node(cJSON *node, const char *key, const char *value)
{
    const char *v = cJSON_GetStringValue(cJSON_GetObjectItem(node, key));
    if (v && strcmp(v, value) == 0)
        return node;
    cJSON *child;
    cJSON_ArrayForEach(child, cJSON_GetObjectItem(node, "children"))
    {
        cJSON *found = find_node(child, key, value);
        if (found)
            return found;
    }
    return NULL;
}

/* The node of the ticket worker pid in tree, or NULL. */
static cJSON *worker_node(cJSON *tree, arbor_pid_t pid)
{
    char text[32];
    arbor_pid_format(pid, text, sizeof text);
    return find_node(find_node(tree, "name", "TicketSupervisor"), "pid", text);
}

static void busy_tree_root(void *arg)
{
    (void)arg;
    desk_config_t cfg = {.db_path = db_path, .demo = true, .idle_timeout_ms = 60000};
    arbor_pid_t sup;
    ASSERT_OK(desk_start(&cfg, &sup, NULL));
    int64_t ids[BUSY_WORKERS];
    arbor_pid_t workers[BUSY_WORKERS];
    for (int i = 0; i < BUSY_WORKERS; i++) {
        ticket_t t = {.priority = PRIORITY_NORMAL};
        snprintf(t.description, sizeof t.description, "busy %d", i);
        ticket_error_t err = {.code = ""};
        ASSERT_OK(desk_create(&t, &desk_operator, &workers[i], &err));
        ids[i] = t.id;
    }

    /* Every worker waits in its call to the held Store. */
    desk_test_hold_reset();
    ASSERT_OK(arbor_spawn(holder, NULL, NULL));
    WAIT_UNTIL(desk_test_store_held(), 20000);
    assign_job_t jobs[BUSY_WORKERS];
    for (int i = 0; i < BUSY_WORKERS; i++) {
        jobs[i] = (assign_job_t){ids[i], arbor_self()};
        ASSERT_OK(arbor_spawn(assigner, &jobs[i], NULL));
    }
    arbor_pid_t store = arbor_whereis(STORE_NAME);
    arbor_process_info_t info = {0};
    WAIT_UNTIL(arbor_process_info(store, &info) == 0 && info.message_queue_len >= BUSY_WORKERS,
               20000);
    for (int i = 0; i < BUSY_WORKERS; i++)
        WAIT_UNTIL(arbor_process_info(workers[i], &info) == 0 && info.monitors == 1 &&
                       info.status == ARBOR_STATUS_WAITING,
                   20000);

    /* One second for all the notes: asked one by one, a second each, this
     * took five. */
    uint64_t start = arbor_now_ms();
    cJSON *tree = desk_tree_json(sup);
    uint64_t took = arbor_now_ms() - start;
    fprintf(stderr, "the tree with %d busy workers: %llu ms\n", BUSY_WORKERS,
            (unsigned long long)took);
    ASSERT_TRUE(tree != NULL);
    ASSERT_LT(took, 3000);
    for (int i = 0; i < BUSY_WORKERS; i++) {
        cJSON *node = worker_node(tree, workers[i]);
        ASSERT_TRUE(node != NULL);
        ASSERT_EQ(cJSON_GetNumberValue(cJSON_GetObjectItem(node, "ticket")), (double)ids[i]);
        ASSERT_TRUE(cJSON_GetObjectItem(node, "note") == NULL); /* too busy to say */
    }
    cJSON_Delete(tree);

    desk_test_release_store();
    for (int i = 0; i < BUSY_WORKERS; i++) {
        arbor_msg_t *m = arbor_test_recv_tag(1, arbor_test_scaled_ms(20000));
        ASSERT_OK(*(int *)m->data);
        arbor_msg_free(m);
    }
    /* Free again, each worker says what it holds. */
    tree = desk_tree_json(sup);
    ASSERT_TRUE(tree != NULL);
    for (int i = 0; i < BUSY_WORKERS; i++) {
        char note[64];
        snprintf(note, sizeof note, "ticket %lld assigned", (long long)ids[i]);
        cJSON *node = worker_node(tree, workers[i]);
        ASSERT_TRUE(node != NULL);
        ASSERT_STREQ(cJSON_GetStringValue(cJSON_GetObjectItem(node, "note")), note);
    }
    cJSON_Delete(tree);
    ASSERT_OK(arbor_sup_stop(sup, ARBOR_NORMAL));
}

TEST_TIMEOUT(busy_ticket_workers_share_one_second_of_the_tree_s_notes, 60)
{
    desk_test_db_path(db_path, sizeof db_path, "desk-tree", "busy");
    desk_test_db_remove(db_path);
    arbor_test_run(busy_tree_root, NULL);
    desk_test_db_remove(db_path);
}

#define ORDERED_TICKETS 40

static void order_root(void *arg)
{
    (void)arg;
    desk_config_t cfg = {.db_path = NULL}; /* in memory */
    arbor_pid_t sup;
    ASSERT_OK(desk_start(&cfg, &sup, NULL));
    for (int i = 0; i < ORDERED_TICKETS; i++) {
        ticket_t t = {.priority = PRIORITY_NORMAL};
        snprintf(t.description, sizeof t.description, "ordered %d", i);
        ticket_error_t err = {.code = ""};
        ASSERT_OK(desk_create(&t, &desk_operator, NULL, &err));
    }
    cJSON *tree = desk_tree_json(sup);
    cJSON *workers = cJSON_GetObjectItem(find_node(tree, "name", "TicketSupervisor"), "children");
    ASSERT_EQ(cJSON_GetArraySize(workers), ORDERED_TICKETS);
    double expected = 1;
    cJSON *node;
    cJSON_ArrayForEach(node, workers)
    {
        ASSERT_EQ(cJSON_GetNumberValue(cJSON_GetObjectItem(node, "ticket")), expected);
        expected++;
    }
    cJSON_Delete(tree);
    ASSERT_OK(arbor_sup_stop(sup, ARBOR_NORMAL));
}

/* A DynamicSupervisor's children come in no order; a person looks for a
 * ticket by its number. */
TEST(the_tree_lists_ticket_workers_in_the_order_of_their_tickets)
{
    arbor_test_run(order_root, NULL);
}

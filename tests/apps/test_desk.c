/*
 * The desk's domain and its serialisation: every workflow transition, and
 * two concurrent assignments of one ticket, of which exactly one wins.
 */
#include <stdlib.h>
#include <unistd.h>

#include "../../apps/support_system/desk.h"
#include "test.h"

static ticket_t fresh(void)
{
    ticket_t t = {.id = 1, .status = TICKET_OPEN};
    snprintf(t.description, sizeof t.description, "Login issue");
    return t;
}

TEST(ticket_workflow_allows_exactly_the_documented_transitions)
{
    /* allowed[from][action]: the diagram in ticket.h */
    static const bool allowed[4][4] = {
        [TICKET_OPEN] = {[ACTION_ASSIGN] = true},
        [TICKET_ASSIGNED] = {[ACTION_RESOLVE] = true},
        [TICKET_RESOLVED] = {[ACTION_CLOSE] = true, [ACTION_REOPEN] = true},
        [TICKET_CLOSED] = {[ACTION_REOPEN] = true},
    };
    static const ticket_status_t to[4] = {[ACTION_ASSIGN] = TICKET_ASSIGNED,
                                          [ACTION_RESOLVE] = TICKET_RESOLVED,
                                          [ACTION_REOPEN] = TICKET_OPEN,
                                          [ACTION_CLOSE] = TICKET_CLOSED};
    for (int from = 0; from < 4; from++) {
        for (int action = 0; action < 4; action++) {
            ticket_t t = fresh();
            t.status = (ticket_status_t)from;
            if (from != TICKET_OPEN)
                snprintf(t.agent, sizeof t.agent, "alice");
            ticket_t before = t;
            ticket_error_t err = {.code = ""};
            bool ok = ticket_apply(&t, (ticket_action_t)action, "bob", 42, &err);
            ASSERT_EQ(ok, allowed[from][action]);
            if (ok) {
                ASSERT_EQ(t.status, to[action]);
                ASSERT_EQ(t.updated_at, 42);
            } else {
                ASSERT_TRUE(memcmp(&t, &before, sizeof t) == 0); /* unchanged */
                ASSERT_TRUE(err.code[0] != '\0');
            }
        }
    }
}

TEST(assign_sets_the_agent_and_reopen_clears_it)
{
    ticket_t t = fresh();
    ticket_error_t err;
    ASSERT_TRUE(ticket_apply(&t, ACTION_ASSIGN, "bob", 1, &err));
    ASSERT_STREQ(t.agent, "bob");
    ASSERT_FALSE(ticket_apply(&t, ACTION_ASSIGN, "carol", 2, &err));
    ASSERT_STREQ(err.code, "already_assigned");
    ASSERT_TRUE(strstr(err.message, "bob") != NULL); /* the loser is told who won */
    ASSERT_TRUE(ticket_apply(&t, ACTION_RESOLVE, NULL, 3, &err));
    ASSERT_TRUE(ticket_apply(&t, ACTION_REOPEN, NULL, 4, &err));
    ASSERT_STREQ(t.agent, "");
}

TEST(text_fields_are_checked)
{
    ticket_error_t err;
    char long_text[TICKET_DESC_MAX + 2];
    memset(long_text, 'x', sizeof long_text - 1);
    long_text[sizeof long_text - 1] = '\0';
    ASSERT_FALSE(ticket_check_text("description", "", TICKET_DESC_MAX, false, &err));
    ASSERT_STREQ(err.code, "empty_field");
    ASSERT_FALSE(ticket_check_text("description", long_text, TICKET_DESC_MAX, false, &err));
    ASSERT_STREQ(err.code, "field_too_long");
    ASSERT_FALSE(ticket_check_text("description", "a\tb", TICKET_DESC_MAX, false, &err));
    ASSERT_STREQ(err.code, "bad_field");
    ASSERT_TRUE(ticket_check_text("customer", "", TICKET_NAME_MAX, true, &err));
}

/* ---- two concurrent assignments ------------------------------------------------------- */

typedef struct {
    int64_t id;
    const char *agent;
    arbor_pid_t parent;
} racer_t;

typedef struct {
    int rc;
    ticket_error_t err;
    char agent[TICKET_NAME_MAX + 1];
} result_t;

static void racer(void *arg)
{
    racer_t *r = arg;
    result_t res = {0};
    ticket_t t;
    res.rc = assign_agent(r->id, r->agent, &t, &res.err);
    snprintf(res.agent, sizeof res.agent, "%s", r->agent);
    arbor_send(r->parent, 1, &res, sizeof res);
}

static char db_path[64];

static void race_root(void *arg)
{
    desk_config_t cfg = {.db_path = db_path, .idle_timeout_ms = 60000};
    arbor_pid_t sup;
    ASSERT_OK(desk_start(&cfg, &sup, NULL));
    for (int round = 0; round < 20; round++) {
        ticket_t t = {.priority = PRIORITY_NORMAL};
        snprintf(t.description, sizeof t.description, "race %d", round);
        ticket_error_t err;
        ASSERT_OK(ticket_supervisor_create_ticket(&t, NULL, &err));
        racer_t a = {t.id, "alice", arbor_self()}, b = {t.id, "bob", arbor_self()};
        ASSERT_OK(arbor_spawn(racer, &a, NULL));
        ASSERT_OK(arbor_spawn(racer, &b, NULL));
        result_t r[2];
        for (int i = 0; i < 2; i++) {
            arbor_msg_t *m = arbor_test_recv_tag(1, 10000);
            r[i] = *(result_t *)m->data;
            arbor_msg_free(m);
        }
        ASSERT_EQ((r[0].rc == 0) + (r[1].rc == 0), 1); /* exactly one wins */
        const result_t *win = r[0].rc == 0 ? &r[0] : &r[1];
        const result_t *lose = r[0].rc == 0 ? &r[1] : &r[0];
        ASSERT_STREQ(lose->err.code, "already_assigned");
        ASSERT_TRUE(strstr(lose->err.message, win->agent) != NULL);
        ticket_t now;
        ASSERT_OK(store_get(t.id, &now));
        ASSERT_STREQ(now.agent, win->agent);
    }
    ASSERT_OK(arbor_sup_stop(sup, ARBOR_NORMAL));
}

TEST(two_concurrent_assignments_exactly_one_wins_and_the_loser_is_told)
{
    snprintf(db_path, sizeof db_path, "/tmp/arbor-desk-test-%d.db", (int)getpid());
    arbor_test_run(race_root, NULL);
    char wal[80];
    unlink(db_path);
    snprintf(wal, sizeof wal, "%s-wal", db_path);
    unlink(wal);
    snprintf(wal, sizeof wal, "%s-shm", db_path);
    unlink(wal);
}

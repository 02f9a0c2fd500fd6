/*
 * The desk as a helpdesk: the whole workflow (pure), attribution of every
 * change, the people (roster, rename, deactivation, availability),
 * assignment (the open counts least-loaded reads, round-robin's rotation
 * across restarts, why the history says each agent was chosen), the
 * conversation (replies and notes), their notifications, and a database of
 * schema version 3 upgraded with its data.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "../../apps/support_system/desk.h"
#include "../../apps/support_system/store_internal.h" /* the lists' SQL, for their plans */
#include "desk_test_db.h"
#include "test.h"

/* The whole history of ticket id (up to STORE_HISTORY_MAX entries), oldest
 * first: *h (free()) with *n entries. */
static int history_all(int64_t id, store_history_t **h, size_t *n)
{
    store_history_page_t page;
    int rc = store_history(id, 0, STORE_HISTORY_MAX, &page, NULL);
    *h = rc ? NULL : page.entries;
    *n = rc ? 0 : page.n;
    return rc;
}

/* ---- the workflow, pure --------------------------------------------------------------- */

/* A change of each kind, with what it needs. */
static ticket_change_t change_for(ticket_action_t a)
{
    ticket_change_t c = {.action = a};
    snprintf(c.agent, sizeof c.agent, "bob");
    snprintf(c.reason, sizeof c.reason, "spam");
    snprintf(c.text, sizeof c.text, "hello");
    c.set_priority = true;
    c.priority = PRIORITY_URGENT;
    return c;
}

static ticket_t ticket_in(ticket_status_t s)
{
    ticket_t t = {.id = 1, .status = s, .priority = PRIORITY_NORMAL};
    snprintf(t.description, sizeof t.description, "Login issue");
    if (s == TICKET_ASSIGNED || s == TICKET_PENDING || s == TICKET_RESOLVED || s == TICKET_CLOSED)
        snprintf(t.agent, sizeof t.agent, "alice");
    return t;
}

TEST(the_workflow_allows_exactly_the_documented_transitions)
{
    /* The diagram in ticket.h: allowed[from][action], and where it goes. */
    enum {
        O = TICKET_OPEN,
        A = TICKET_ASSIGNED,
        P = TICKET_PENDING,
        R = TICKET_RESOLVED,
        C = TICKET_CLOSED,
        NO = -1
    };
    static const int to[TICKET_STATUSES][TICKET_ACTIONS] = {
        /*            assign resolve reopen close pend resume reassign unassign edit reply note */
        [TICKET_OPEN] = {A, NO, NO, C, NO, NO, NO, NO, O, O, O},
        [TICKET_ASSIGNED] = {NO, R, NO, C, P, NO, A, O, A, A, A},
        [TICKET_PENDING] = {NO, R, NO, C, NO, A, P, O, P, P, P},
        [TICKET_RESOLVED] = {NO, NO, O, C, NO, NO, NO, NO, R, R, R},
        [TICKET_CLOSED] = {NO, NO, O, NO, NO, NO, NO, NO, NO, NO, C},
    };
    for (int from = 0; from < TICKET_STATUSES; from++) {
        for (int a = 0; a < TICKET_ACTIONS; a++) {
            ticket_t t = ticket_in((ticket_status_t)from), before = t;
            ticket_change_t c = change_for((ticket_action_t)a);
            ticket_error_t err = {.code = ""};
            char event[TICKET_EVENT_SIZE] = "";
            bool ok = ticket_change(&t, &c, 42, event, sizeof event, &err);
            if (ok != (to[from][a] != NO))
                arbor_test_fail(__FILE__, __LINE__, "%s of a %s ticket: %s (%s)",
                                ticket_action_name((ticket_action_t)a),
                                ticket_status_name((ticket_status_t)from),
                                ok ? "allowed" : "refused", err.message);
            if (ok) {
                ASSERT_EQ((int)t.status, to[from][a]);
                ASSERT_EQ(t.updated_at, 42);
                ASSERT_TRUE(event[0] != '\0');
            } else {
                ASSERT_TRUE(memcmp(&t, &before, sizeof t) == 0); /* unchanged */
                ASSERT_TRUE(err.code[0] != '\0' && err.message[0] != '\0');
            }
        }
    }
}

/* What each change says in the history, and its refusals. */
TEST(each_change_says_what_it_did_and_refusals_are_clear)
{
    ticket_t t = ticket_in(TICKET_ASSIGNED);
    ticket_error_t err;
    char event[TICKET_EVENT_SIZE];
    ticket_change_t c = change_for(ACTION_REASSIGN);
    ASSERT_TRUE(ticket_change(&t, &c, 1, event, sizeof event, &err));
    ASSERT_STREQ(event, "reassigned from alice to bob");
    ASSERT_FALSE(ticket_change(&t, &c, 2, event, sizeof event, &err)); /* to bob again */
    ASSERT_STREQ(err.code, "already_assigned");
    c = change_for(ACTION_UNASSIGN);
    ASSERT_TRUE(ticket_change(&t, &c, 3, event, sizeof event, &err));
    ASSERT_STREQ(event, "unassigned from bob");
    ASSERT_STREQ(t.agent, "");
    /* close: a reason is needed unless the ticket is resolved */
    c = change_for(ACTION_CLOSE);
    c.reason[0] = '\0';
    ASSERT_FALSE(ticket_change(&t, &c, 4, event, sizeof event, &err));
    ASSERT_STREQ(err.code, "reason_required");
    snprintf(c.reason, sizeof c.reason, "duplicate of #7");
    ASSERT_TRUE(ticket_change(&t, &c, 5, event, sizeof event, &err));
    ASSERT_STREQ(event, "closed: duplicate of #7");
    t = ticket_in(TICKET_RESOLVED);
    c.reason[0] = '\0';
    ASSERT_TRUE(ticket_change(&t, &c, 6, event, sizeof event, &err));
    ASSERT_STREQ(event, "closed");
    /* edit: what changed, and an edit that changes nothing is refused */
    t = ticket_in(TICKET_OPEN);
    c = (ticket_change_t){.action = ACTION_EDIT,
                          .set_customer = true,
                          .set_priority = true,
                          .priority = PRIORITY_HIGH};
    snprintf(c.customer, sizeof c.customer, "Acme Corp");
    ASSERT_TRUE(ticket_change(&t, &c, 7, event, sizeof event, &err));
    ASSERT_STREQ(event, "customer changed from none to Acme Corp; priority changed from normal"
                        " to high");
    ASSERT_STREQ(t.customer, "Acme Corp");
    ASSERT_EQ(t.priority, PRIORITY_HIGH);
    ASSERT_FALSE(ticket_change(&t, &c, 8, event, sizeof event, &err));
    ASSERT_STREQ(err.code, "unchanged");
    c = (ticket_change_t){.action = ACTION_EDIT, .set_description = true};
    ASSERT_FALSE(ticket_change(&t, &c, 9, event, sizeof event, &err)); /* empty */
    ASSERT_STREQ(err.code, "empty_field");
    /* a reply's text may hold line breaks, not other control characters */
    c = (ticket_change_t){.action = ACTION_REPLY};
    snprintf(c.text, sizeof c.text, "line one\nline two");
    ASSERT_TRUE(ticket_change(&t, &c, 10, event, sizeof event, &err));
    ASSERT_STREQ(event, "replied");
    snprintf(c.text, sizeof c.text, "bell\a");
    ASSERT_FALSE(ticket_change(&t, &c, 11, event, sizeof event, &err));
    ASSERT_STREQ(err.code, "bad_field");
    /* an invalid transition names the status and the action */
    t = ticket_in(TICKET_OPEN);
    c = change_for(ACTION_PEND);
    ASSERT_FALSE(ticket_change(&t, &c, 12, event, sizeof event, &err));
    ASSERT_STREQ(err.code, "invalid_transition");
    ASSERT_STREQ(err.message, "a ticket that is open cannot be set pending");
}

TEST(times_are_iso_8601_in_utc)
{
    char buf[TICKET_TIME_SIZE];
    ticket_format_time(0, buf);
    ASSERT_STREQ(buf, "1970-01-01T00:00:00Z");
    ticket_format_time(1796575741999, buf); /* milliseconds are dropped */
    ASSERT_STREQ(buf, "2026-12-06T16:49:01Z");
    /* The hand-made format against gmtime_r and strftime: the edges of
     * days, months, leap days (2000 is a leap year, 1900 and 2100 are
     * not), times before 1970, and every 2,991,001st second from year 1000
     * to 9999; beyond those years it is strftime's own. */
    static const int64_t edges[] = {-1,
                                    -999,
                                    -1000,
                                    -1001,
                                    -86400000,
                                    -86401000,
                                    951782399000,    /* 2000-02-28T23:59:59 */
                                    951868799000,    /* 2000-02-29T23:59:59 */
                                    951868800000,    /* 2000-03-01T00:00:00 */
                                    -2203891200000,  /* 1900-03-01T00:00:00 */
                                    4107542399000,   /* 2100-02-28T23:59:59 */
                                    4107542400000,   /* 2100-03-01T00:00:00 */
                                    253402300799000, /* 9999-12-31T23:59:59 */
                                    253402300800000, /* 10000-01-01 */
                                    -30610224000000, /* 1000-01-01 */
                                    -30610224001000, /* 0999-12-31T23:59:59 */
                                    INT64_MAX,
                                    INT64_MIN};
    char want[TICKET_TIME_SIZE];
    for (size_t i = 0; i < sizeof edges / sizeof edges[0] + 100000; i++) {
        int64_t ms = i < sizeof edges / sizeof edges[0]
                         ? edges[i]
                         : -30610224000000 + (int64_t)(i * 2991001) * 1000;
        time_t secs = (time_t)(ms / 1000);
        struct tm tm;
        if (!gmtime_r(&secs, &tm) || !strftime(want, sizeof want, "%Y-%m-%dT%H:%M:%SZ", &tm))
            snprintf(want, sizeof want, "%lld", (long long)ms);
        ticket_format_time(ms, buf);
        ASSERT_STREQ(buf, want);
    }
}

TEST(an_actor_is_checked)
{
    ticket_error_t err;
    ticket_actor_t by = {.kind = ACTOR_AGENT};
    ASSERT_FALSE(ticket_check_actor(&by, &err)); /* no name */
    ASSERT_STREQ(err.code, "empty_field");
    by.kind = (ticket_actor_kind_t)9;
    snprintf(by.name, sizeof by.name, "x");
    ASSERT_FALSE(ticket_check_actor(&by, &err));
    ASSERT_STREQ(err.code, "bad_actor");
    ASSERT_FALSE(ticket_check_actor(NULL, &err));
}

/* ---- a durable desk ------------------------------------------------------------------- */

static char db_path[64];

static void set_db_path(const char *what)
{
    desk_test_db_path(db_path, sizeof db_path, "helpdesk", what);
}

static void remove_db(void)
{
    desk_test_db_remove(db_path);
}

static ticket_actor_t agent(const char *name)
{
    ticket_actor_t by = {.kind = ACTOR_AGENT};
    snprintf(by.name, sizeof by.name, "%s", name);
    return by;
}

static ticket_actor_t customer(const char *name)
{
    ticket_actor_t by = {.kind = ACTOR_CUSTOMER};
    snprintf(by.name, sizeof by.name, "%s", name);
    return by;
}

static arbor_pid_t start(agents_policy_t policy, bool demo)
{
    desk_config_t cfg = {
        .db_path = db_path, .policy = policy, .idle_timeout_ms = 60000, .demo = demo};
    arbor_pid_t sup;
    ASSERT_OK(desk_start(&cfg, &sup, NULL));
    return sup;
}

static ticket_t create_for(const char *customer_name, const ticket_actor_t *by)
{
    ticket_t t = {.priority = PRIORITY_NORMAL};
    snprintf(t.description, sizeof t.description, "Printer on fire");
    snprintf(t.customer, sizeof t.customer, "%s", customer_name);
    ticket_error_t err = {.code = ""};
    ASSERT_OK(desk_create(&t, by, NULL, &err));
    return t;
}

/* An SQL query's one integer answer, from a connection of the test's own. */
static int64_t sql_int(const char *sql)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    ASSERT_EQ(sqlite3_open(db_path, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    ASSERT_EQ(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

/* Every change records who made it, in which role, and when; the
 * conversation is in the history; an actor is checked before anything
 * changes. */
static void attribution_root(void *arg)
{
    arbor_pid_t sup = start(POLICY_ROUND_ROBIN, true);
    int64_t before = ticket_now_ms();
    ticket_actor_t acme = customer("Acme"), alice = agent("alice"), bob = agent("bob");
    ticket_t t = create_for("Acme", &acme), out;
    ticket_error_t err = {.code = ""};
    ASSERT_OK(desk_act(t.id, ACTION_ASSIGN, "bob", &desk_operator, &out, &err));
    /* An agent's name longer than the field is refused, the ticket kept. */
    char long_agent[TICKET_NAME_SIZE + 1];
    memset(long_agent, 'x', sizeof long_agent - 1);
    long_agent[sizeof long_agent - 1] = '\0';
    ASSERT_ERR(desk_act(t.id, ACTION_REASSIGN, long_agent, &desk_operator, &out, &err),
               ARBOR_EINVAL);
    ASSERT_STREQ(err.code, "field_too_long");
    ASSERT_STREQ(out.agent, "bob");
    ASSERT_OK(desk_act(t.id, ACTION_PEND, NULL, &bob, &out, &err));
    ASSERT_OK(desk_post(t.id, STORE_REPLY, "Still broken\nafter a restart", &acme, &out, &err));
    ASSERT_OK(desk_post(t.id, STORE_NOTE, "Call them", &alice, &out, &err));
    ASSERT_EQ(out.status, TICKET_PENDING);

    /* Refusals: a customer only replies, and only to their own ticket; an
     * agent must exist and be active. */
    ASSERT_ERR(desk_act(t.id, ACTION_RESOLVE, NULL, &acme, &out, &err), ARBOR_EINVAL);
    ASSERT_STREQ(err.code, "forbidden");
    ticket_actor_t other = customer("Globex");
    ASSERT_ERR(desk_post(t.id, STORE_REPLY, "hi", &other, &out, &err), ARBOR_EINVAL);
    ASSERT_STREQ(err.code, "forbidden");
    ticket_actor_t nobody = agent("nobody");
    ASSERT_ERR(desk_act(t.id, ACTION_RESUME, NULL, &nobody, &out, &err), ARBOR_ENOENT);
    ASSERT_STREQ(err.code, "unknown_agent");
    ticket_t *open;
    size_t n;
    ASSERT_OK(desk_agent_deactivate("alice", &open, &n, &err));
    free(open);
    ASSERT_ERR(desk_post(t.id, STORE_NOTE, "x", &alice, &out, &err), ARBOR_EINVAL);
    ASSERT_STREQ(err.code, "agent_inactive");
    ASSERT_ERR(desk_create(&(ticket_t){.description = "x"}, &alice, NULL, &err), ARBOR_EINVAL);
    ASSERT_STREQ(err.code, "agent_inactive");

    store_history_t *h;
    ASSERT_OK(history_all(t.id, &h, &n));
    ASSERT_EQ(n, 5); /* nothing from the refusals */
    static const struct {
        ticket_actor_kind_t kind;
        const char *who, *what;
        store_message_kind_t message;
        const char *text;
    } expected[] = {
        {ACTOR_CUSTOMER, "Acme", "created", STORE_NO_MESSAGE, ""},
        {ACTOR_OPERATOR, "console", "assigned to bob", STORE_NO_MESSAGE, ""},
        {ACTOR_AGENT, "bob", "pending: waiting on the customer", STORE_NO_MESSAGE, ""},
        {ACTOR_CUSTOMER, "Acme", "replied", STORE_REPLY, "Still broken\nafter a restart"},
        {ACTOR_AGENT, "alice", "added a note", STORE_NOTE, "Call them"},
    };
    for (size_t i = 0; i < n; i++) {
        ASSERT_EQ(h[i].by.kind, expected[i].kind);
        ASSERT_STREQ(h[i].by.name, expected[i].who);
        ASSERT_STREQ(h[i].what, expected[i].what);
        ASSERT_EQ(h[i].message, expected[i].message);
        ASSERT_STREQ(h[i].text, expected[i].text);
        ASSERT_GE(h[i].at, before);
        ASSERT_LE(h[i].at, ticket_now_ms());
    }
    free(h);
    /* The messages table holds the conversation, each with its author. */
    ASSERT_EQ(sql_int("SELECT count(*) FROM messages WHERE author = 'Acme' AND role = 'customer'"
                      " AND internal = 0 AND body LIKE 'Still broken%'"),
              1);
    ASSERT_EQ(sql_int("SELECT count(*) FROM messages WHERE author = 'alice' AND internal = 1"), 1);
    ASSERT_OK(arbor_sup_stop(sup, ARBOR_NORMAL));
}

TEST(every_change_records_who_made_it_and_when)
{
    set_db_path("attribution");
    arbor_test_run(attribution_root, NULL);
    remove_db();
}

/* Status changes are notified (pend, resume, unassign, close with a
 * reason); changes that keep the status (reassign, edit, reply, note) are
 * not. Replies go through the version check like any change. */
static void notices_root(void *arg)
{
    arbor_pid_t sup = start(POLICY_ROUND_ROBIN, true);
    ticket_t t = create_for("", &desk_operator), out;
    ticket_error_t err = {.code = ""};
    const ticket_actor_t *op = &desk_operator;
    ASSERT_OK(desk_act(t.id, ACTION_ASSIGN, "alice", op, &out, &err));
    ASSERT_OK(desk_act(t.id, ACTION_REASSIGN, "bob", op, &out, &err));
    ASSERT_OK(desk_act(t.id, ACTION_PEND, NULL, op, &out, &err));
    ASSERT_OK(desk_act(t.id, ACTION_RESUME, NULL, op, &out, &err));
    ASSERT_OK(desk_post(t.id, STORE_REPLY, "on it", op, &out, &err));
    ASSERT_OK(desk_act(t.id, ACTION_UNASSIGN, NULL, op, &out, &err));
    ticket_change_t *c = calloc(1, sizeof *c);
    c->action = ACTION_EDIT;
    c->set_priority = true;
    c->priority = PRIORITY_URGENT;
    ASSERT_OK(desk_change(t.id, c, op, &out, &err));
    free(c);
    ASSERT_EQ(out.priority, PRIORITY_URGENT);
    ASSERT_OK(desk_close(t.id, "spam", op, &out, &err));
    ASSERT_EQ(out.status, TICKET_CLOSED);
    char sql[160];
    snprintf(sql, sizeof sql, "SELECT group_concat(substr(text, %d), ',') FROM outbox",
             (int)strlen("ticket 1 is now ") + 1);
    sqlite3 *db;
    sqlite3_stmt *st;
    ASSERT_EQ(sqlite3_open(db_path, &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
    ASSERT_STREQ((const char *)sqlite3_column_text(st, 0), "assigned,pending,assigned,open,closed");
    sqlite3_finalize(st);
    sqlite3_close(db);

    /* A reply computed from a stale copy is refused, and leaves no message. */
    ticket_t a, b;
    ASSERT_OK(store_get(t.id, &a, NULL));
    b = a;
    store_event_t ev = {
        .by = desk_operator, .what = "added a note", .message = STORE_NOTE, .text = "first"};
    ASSERT_OK(store_update(&a, &ev, &err));
    ev.text = "stale";
    ASSERT_ERR(store_update(&b, &ev, &err), ARBOR_EAGAIN);
    ASSERT_STREQ(err.code, "conflict");
    ASSERT_EQ(sql_int("SELECT count(*) FROM messages WHERE body = 'stale'"), 0);
    ASSERT_EQ(sql_int("SELECT count(*) FROM messages WHERE body = 'first'"), 1);
    ASSERT_OK(arbor_sup_stop(sup, ARBOR_NORMAL));
}

TEST(status_changes_are_notified_and_replies_are_version_checked)
{
    set_db_path("notices");
    arbor_test_run(notices_root, NULL);
    remove_db();
}

/* ---- people --------------------------------------------------------------------------- */

/* A new database has no agents; the roster grows, names are checked, and
 * both policies skip unavailable and deactivated agents. */
static void roster_root(void *arg)
{
    agents_policy_t policy = *(agents_policy_t *)arg;
    arbor_pid_t sup = start(policy, false);
    store_agent_t *list;
    size_t n;
    ASSERT_OK(agents_list(&list, &n, NULL));
    free(list);
    ASSERT_EQ(n, 0);
    ticket_t t = create_for("", &desk_operator), out;
    ticket_error_t err = {.code = ""};
    ASSERT_ERR(desk_act(t.id, ACTION_ASSIGN, "", &desk_operator, &out, &err), ARBOR_ENOENT);
    ASSERT_STREQ(err.code, "no_agents");
    ASSERT_ERR(agents_add("bad\tname", &err), ARBOR_EINVAL);
    ASSERT_STREQ(err.code, "bad_field");
    ASSERT_ERR(agents_add("", &err), ARBOR_EINVAL);
    const char *names[] = {"ann", "ben", "cy"};
    for (int i = 0; i < 3; i++)
        ASSERT_OK(agents_add(names[i], &err));
    ASSERT_ERR(agents_add("ben", &err), ARBOR_EEXIST);
    ASSERT_STREQ(err.code, "agent_exists");
    ASSERT_OK(agents_set("ann", -1, 0, &err)); /* unavailable */
    ticket_t *open;
    ASSERT_OK(desk_agent_deactivate("cy", &open, &n, &err));
    free(open);
    for (int i = 0; i < 4; i++) {
        ticket_t u = create_for("", &desk_operator);
        ASSERT_OK(desk_act(u.id, ACTION_ASSIGN, "", &desk_operator, &out, &err));
        ASSERT_STREQ(out.agent, "ben"); /* the only one active and available */
    }
    /* Named: an unavailable agent may be given a ticket, a deactivated one
     * may not. */
    ASSERT_ERR(desk_act(t.id, ACTION_ASSIGN, "cy", &desk_operator, &out, &err), ARBOR_EINVAL);
    ASSERT_STREQ(err.code, "agent_inactive");
    ASSERT_OK(desk_act(t.id, ACTION_ASSIGN, "ann", &desk_operator, &out, &err));
    ASSERT_ERR(desk_act(t.id, ACTION_REASSIGN, "cy", &desk_operator, &out, &err), ARBOR_EINVAL);
    ASSERT_STREQ(err.code, "agent_inactive");
    ASSERT_ERR(agents_set("nobody", 1, -1, &err), ARBOR_ENOENT);
    ASSERT_STREQ(err.code, "unknown_agent");
    ASSERT_OK(agents_list(&list, &n, NULL));
    ASSERT_EQ(n, 3);
    ASSERT_STREQ(list[0].name, "ann");
    ASSERT_TRUE(list[0].active && !list[0].available && list[0].open == 1);
    ASSERT_TRUE(list[1].active && list[1].available && list[1].open == 4);
    ASSERT_TRUE(!list[2].active && list[2].open == 0);
    free(list);
    ASSERT_OK(arbor_sup_stop(sup, ARBOR_NORMAL));
}

TEST(policies_skip_unavailable_and_deactivated_agents_round_robin)
{
    set_db_path("roster-rr");
    agents_policy_t p = POLICY_ROUND_ROBIN;
    arbor_test_run(roster_root, &p);
    remove_db();
}

TEST(policies_skip_unavailable_and_deactivated_agents_least_loaded)
{
    set_db_path("roster-ll");
    agents_policy_t p = POLICY_LEAST_LOADED;
    arbor_test_run(roster_root, &p);
    remove_db();
}

/* A rename reaches the roster and the tickets (a running worker reloads,
 * so the next change is not a conflict); the history keeps what it said
 * and records the rename. Deactivating lists the agent's open tickets. */
static void rename_root(void *arg)
{
    arbor_pid_t sup = start(POLICY_ROUND_ROBIN, true);
    ticket_t t = create_for("", &desk_operator), done = create_for("", &desk_operator), out;
    ticket_error_t err = {.code = ""};
    ASSERT_OK(desk_act(t.id, ACTION_ASSIGN, "alice", &desk_operator, &out, &err));
    ASSERT_OK(desk_act(done.id, ACTION_ASSIGN, "alice", &desk_operator, &out, &err));
    ASSERT_OK(desk_act(done.id, ACTION_RESOLVE, NULL, &desk_operator, &out, &err));
    ASSERT_ERR(desk_agent_rename("alice", "bob", &desk_operator, &err), ARBOR_EEXIST);
    ASSERT_STREQ(err.code, "agent_exists");
    ASSERT_ERR(desk_agent_rename("nobody", "x", &desk_operator, &err), ARBOR_ENOENT);
    ASSERT_STREQ(err.code, "unknown_agent");
    ASSERT_ERR(desk_agent_rename("alice", "a\x01", &desk_operator, &err), ARBOR_EINVAL);
    ASSERT_OK(desk_agent_rename("alice", "alicia", &desk_operator, &err));
    ASSERT_OK(desk_get(t.id, &out, NULL));
    ASSERT_STREQ(out.agent, "alicia");
    ticket_actor_t alicia = agent("alicia"), alice = agent("alice");
    ASSERT_OK(desk_act(t.id, ACTION_PEND, NULL, &alicia, &out, &err)); /* no conflict */
    ASSERT_ERR(desk_act(t.id, ACTION_RESUME, NULL, &alice, &out, &err), ARBOR_ENOENT);
    store_history_t *h;
    size_t n;
    ASSERT_OK(history_all(t.id, &h, &n));
    ASSERT_EQ(n, 4);
    ASSERT_STREQ(h[1].what, "assigned to alice"); /* as it was said */
    ASSERT_STREQ(h[2].what, "agent alice renamed to alicia");
    ASSERT_STREQ(h[3].by.name, "alicia");
    free(h);
    ASSERT_OK(store_get(done.id, &out, NULL));
    ASSERT_STREQ(out.agent, "alicia");
    ticket_t *open;
    ASSERT_OK(desk_agent_deactivate("alicia", &open, &n, &err));
    ASSERT_EQ(n, 1); /* the pending one; the resolved one is done */
    ASSERT_EQ(open[0].id, t.id);
    free(open);
    ASSERT_OK(arbor_sup_stop(sup, ARBOR_NORMAL));
}

TEST(a_rename_reaches_roster_and_tickets_and_the_history_keeps_its_words)
{
    set_db_path("rename");
    arbor_test_run(rename_root, NULL);
    remove_db();
}

/* In memory (the course's desk): alice and bob, the workflow, no
 * conversation. */
static void memory_root(void *arg)
{
    desk_config_t cfg = {.db_path = NULL};
    arbor_pid_t sup;
    ASSERT_OK(desk_start(&cfg, &sup, NULL));
    ticket_t t = create_for("", &desk_operator), out;
    ticket_error_t err = {.code = ""};
    ASSERT_OK(desk_act(t.id, ACTION_ASSIGN, "", &desk_operator, &out, &err));
    ASSERT_STREQ(out.agent, "alice");
    ASSERT_OK(desk_act(t.id, ACTION_PEND, NULL, &desk_operator, &out, &err));
    ASSERT_EQ(out.status, TICKET_PENDING);
    ASSERT_ERR(desk_post(t.id, STORE_NOTE, "x", &desk_operator, &out, &err), ARBOR_EINVAL);
    ASSERT_STREQ(err.code, "no_store");
    ASSERT_ERR(desk_agent_rename("bob", "rob", &desk_operator, &err), ARBOR_EINVAL);
    ASSERT_STREQ(err.code, "no_store");
    ASSERT_OK(agents_set("alice", -1, 0, &err));
    ticket_t u = create_for("", &desk_operator);
    ASSERT_OK(desk_act(u.id, ACTION_ASSIGN, "", &desk_operator, &out, &err));
    ASSERT_STREQ(out.agent, "bob");
    ASSERT_OK(arbor_sup_stop(sup, ARBOR_NORMAL));
}

TEST(the_in_memory_desk_keeps_alice_and_bob_and_no_conversation)
{
    arbor_test_run(memory_root, NULL);
}

/* ---- assignment ------------------------------------------------------------------------ */

/* The history entry a ticket got last. */
static void last_entry(int64_t id, store_history_t *out)
{
    store_history_t *h;
    size_t n;
    ASSERT_OK(history_all(id, &h, &n));
    ASSERT_GT(n, 0);
    *out = h[n - 1];
    free(h);
}

/* Every agent's open count, as kept with the changes (agents.open_count,
 * and the roster's list), is the recount of their assigned and pending
 * tickets; total is the sum. */
static void check_open_counts(int64_t total)
{
    ASSERT_EQ(sql_int("SELECT count(*) FROM agents a WHERE open_count <> (SELECT count(*) FROM"
                      " tickets t WHERE t.agent = a.name AND t.status IN (1, 4))"),
              0);
    ASSERT_EQ(sql_int("SELECT sum(open_count) FROM agents"), total);
    store_agent_t *list;
    store_ticket_count_t *counts;
    size_t n, nc;
    ASSERT_OK(agents_list(&list, &n, NULL));
    ASSERT_OK(store_ticket_counts(&counts, &nc, NULL));
    for (size_t i = 0; i < n; i++) {
        int64_t open = 0;
        for (size_t k = 0; k < nc; k++)
            if (!strcmp(counts[k].agent, list[i].name) &&
                (counts[k].status == TICKET_ASSIGNED || counts[k].status == TICKET_PENDING))
                open += counts[k].count;
        ASSERT_EQ(list[i].open, open);
    }
    free(list);
    free(counts);
}

/* Assigns ticket id by the policy; returns the agent it chose. */
static const char *auto_assign(int64_t id, const ticket_actor_t *by)
{
    static ticket_t out;
    ticket_error_t err = {.code = ""};
    ASSERT_OK(desk_act(id, ACTION_ASSIGN, "", by, &out, &err));
    return out.agent;
}

/* Waits until name is registered by a process other than old. */
static void wait_restarted(const char *name, arbor_pid_t old)
{
    arbor_pid_t now;
    WAIT_UNTIL((now = arbor_whereis(name)) != ARBOR_NOPID && now != old, 20000);
}

/* Kills the registered process name and waits for the desk's children
 * from it on (rest_for_one) to run again. */
static void kill_and_wait(const char *name)
{
    static const char *const after[] = {STORE_NAME, DESK_REGISTRY_NAME, AGENTS_NAME,
                                        DESK_TICKET_SUP_NAME, DESK_NOTIFIER_NAME};
    arbor_pid_t old[5];
    size_t first = 0;
    for (size_t i = 0; i < 5; i++) {
        old[i] = arbor_whereis(after[i]);
        if (!strcmp(after[i], name))
            first = i;
    }
    ASSERT_OK(arbor_exit_pid(old[first], ARBOR_KILL));
    for (size_t i = first; i < 5; i++)
        wait_restarted(after[i], old[i]);
}

/* Each kind of change that moves a ticket into or out of an agent's open
 * set keeps the counts the least-loaded policy reads (stored with the
 * roster) equal to a recount: assign (named and by the policy), reassign,
 * pend, resume, unassign, resolve, close (with a reason and after
 * resolving), reopen, a rename, a deactivation; through a restart of the
 * desk and a killed Store. The policy's choices follow them. */
static void counts_root(void *arg)
{
    arbor_pid_t sup = start(POLICY_LEAST_LOADED, false);
    ticket_error_t err = {.code = ""};
    ticket_t out;
    const char *names[] = {"ann", "ben", "cy"};
    for (int i = 0; i < 3; i++)
        ASSERT_OK(agents_add(names[i], &err));
    int64_t t[8];
    for (int i = 0; i < 8; i++)
        t[i] = create_for("Acme", &desk_operator).id;
    check_open_counts(0);
    ASSERT_STREQ(auto_assign(t[0], &desk_operator), "ann"); /* 0, 0, 0: roster order */
    ASSERT_STREQ(auto_assign(t[1], &desk_operator), "ben");
    ASSERT_STREQ(auto_assign(t[2], &desk_operator), "cy");
    ASSERT_STREQ(auto_assign(t[3], &desk_operator), "ann");
    check_open_counts(4); /* ann 2, ben 1, cy 1 */
    ASSERT_OK(desk_act(t[3], ACTION_REASSIGN, "cy", &desk_operator, &out, &err));
    check_open_counts(4); /* ann 1, ben 1, cy 2 */
    ASSERT_OK(desk_act(t[1], ACTION_PEND, NULL, &desk_operator, &out, &err));
    check_open_counts(4); /* pending is still open */
    ASSERT_OK(desk_act(t[1], ACTION_RESUME, NULL, &desk_operator, &out, &err));
    ASSERT_OK(desk_act(t[2], ACTION_UNASSIGN, NULL, &desk_operator, &out, &err));
    check_open_counts(3); /* ann 1, ben 1, cy 1 */
    ASSERT_OK(desk_act(t[0], ACTION_RESOLVE, NULL, &desk_operator, &out, &err));
    check_open_counts(2); /* ann 0 */
    ASSERT_OK(desk_act(t[0], ACTION_CLOSE, NULL, &desk_operator, &out, &err));
    ASSERT_OK(desk_act(t[0], ACTION_REOPEN, NULL, &desk_operator, &out, &err));
    check_open_counts(2);
    ASSERT_OK(desk_act(t[4], ACTION_ASSIGN, "ben", &desk_operator, &out, &err));
    check_open_counts(3); /* ben 2 */
    ASSERT_OK(desk_close(t[4], "spam", &desk_operator, &out, &err));
    check_open_counts(2);                                   /* ben 1 */
    ASSERT_STREQ(auto_assign(t[5], &desk_operator), "ann"); /* 0 against 1 and 1 */
    ASSERT_OK(desk_act(t[1], ACTION_PEND, NULL, &desk_operator, &out, &err));
    ASSERT_OK(desk_agent_rename("ben", "bert", &desk_operator, &err));
    check_open_counts(3); /* ann 1, bert 1 (pending), cy 1 */
    ASSERT_EQ(sql_int("SELECT open_count FROM agents WHERE name = 'bert'"), 1);

    /* The counts are in the database: a restarted desk reads them. */
    ASSERT_OK(arbor_sup_stop(sup, ARBOR_NORMAL));
    sup = start(POLICY_LEAST_LOADED, false);
    check_open_counts(3);
    ASSERT_OK(desk_act(t[6], ACTION_ASSIGN, "cy", &desk_operator, &out, &err));
    ASSERT_STREQ(auto_assign(t[7], &desk_operator), "ann"); /* 1, 1, 2: roster order */
    check_open_counts(5);
    kill_and_wait(STORE_NAME);
    check_open_counts(5);
    ASSERT_OK(desk_act(t[7], ACTION_RESOLVE, NULL, &desk_operator, &out, &err));
    ASSERT_OK(desk_act(t[5], ACTION_RESOLVE, NULL, &desk_operator, &out, &err));
    check_open_counts(3); /* ann 0, bert 1, cy 2 */
    ticket_t *open;
    size_t n;
    ASSERT_OK(desk_agent_deactivate("ann", &open, &n, &err));
    free(open);
    check_open_counts(3);
    ASSERT_STREQ(auto_assign(t[0], &desk_operator), "bert"); /* ann is out */
    check_open_counts(4);
    ASSERT_OK(arbor_sup_stop(sup, ARBOR_NORMAL));
}

TEST(open_counts_follow_every_change_and_survive_restarts)
{
    set_db_path("counts");
    arbor_test_run(counts_root, NULL);
    remove_db();
}

/* Round-robin goes on after the agent it picked last: after a restart of
 * the desk, after the Agents process is killed, after the Store is; and
 * each assignment's history says why the agent was chosen. */
static void rotation_root(void *arg)
{
    arbor_pid_t sup = start(POLICY_ROUND_ROBIN, false);
    ticket_error_t err = {.code = ""};
    const char *names[] = {"ann", "ben", "cy", "dee"};
    for (int i = 0; i < 4; i++)
        ASSERT_OK(agents_add(names[i], &err));
    int64_t t[6];
    for (int i = 0; i < 6; i++)
        t[i] = create_for("Acme", &desk_operator).id;
    ticket_actor_t dee = agent("dee");
    ASSERT_STREQ(auto_assign(t[0], &desk_operator), "ann");
    ASSERT_STREQ(auto_assign(t[1], &dee), "ben");
    store_history_t h;
    last_entry(t[0], &h);
    ASSERT_STREQ(h.what, "assigned to ann by round-robin: first in turn");
    last_entry(t[1], &h);
    ASSERT_STREQ(h.what, "assigned to ben by round-robin: next after ann");
    ASSERT_EQ(h.by.kind, ACTOR_AGENT); /* attributed to whoever asked */
    ASSERT_STREQ(h.by.name, "dee");

    ASSERT_OK(arbor_sup_stop(sup, ARBOR_NORMAL));
    sup = start(POLICY_ROUND_ROBIN, false);
    ASSERT_STREQ(auto_assign(t[2], &desk_operator), "cy");
    last_entry(t[2], &h);
    ASSERT_STREQ(h.what, "assigned to cy by round-robin: next after ben");
    kill_and_wait(AGENTS_NAME);
    ASSERT_STREQ(auto_assign(t[3], &desk_operator), "dee");
    kill_and_wait(STORE_NAME);
    ASSERT_STREQ(auto_assign(t[4], &desk_operator), "ann");
    last_entry(t[4], &h);
    ASSERT_STREQ(h.what, "assigned to ann by round-robin: next after dee");
    /* A named assignment is the operator's choice: no policy in it. */
    ticket_t out;
    ASSERT_OK(desk_act(t[5], ACTION_ASSIGN, "cy", &desk_operator, &out, &err));
    last_entry(t[5], &h);
    ASSERT_STREQ(h.what, "assigned to cy");
    ASSERT_OK(arbor_sup_stop(sup, ARBOR_NORMAL));
}

TEST(round_robin_goes_on_after_restarts_and_the_history_says_why)
{
    set_db_path("rotation");
    arbor_test_run(rotation_root, NULL);
    remove_db();
}

/* Round-robin picks from the Agents' roster table, not by a call: a
 * suspended (busy) Agents does not hold an assignment up. The table closes
 * when its owner dies: with the desk's supervisor suspended, so that the
 * killed Agents is not restarted yet, an assignment by the policy is
 * refused as unavailable and changes nothing (it must not pick from the
 * dead process's roster); once the Agents is back, the rotation goes on. */
static void table_root(void *arg)
{
    arbor_pid_t sup = start(POLICY_ROUND_ROBIN, false);
    ticket_error_t err = {.code = ""};
    ASSERT_OK(agents_add("ann", &err));
    ASSERT_OK(agents_add("ben", &err));
    int64_t t[3];
    for (int i = 0; i < 3; i++)
        t[i] = create_for("Acme", &desk_operator).id;

    arbor_pid_t agents = arbor_whereis(AGENTS_NAME);
    ASSERT_OK(arbor_gs_suspend(agents, 5000));
    ASSERT_STREQ(auto_assign(t[0], &desk_operator), "ann");
    ASSERT_OK(arbor_gs_resume(agents, 5000));

    arbor_pid_t tickets = arbor_whereis(DESK_TICKET_SUP_NAME); /* restarted after the Agents */
    ASSERT_OK(arbor_gs_suspend(sup, 5000));
    arbor_ref_t ref;
    ASSERT_OK(arbor_monitor(agents, &ref));
    ASSERT_OK(arbor_exit_pid(agents, ARBOR_KILL));
    arbor_msg_free(arbor_test_recv_tag(ARBOR_TAG_DOWN, 5000));
    ticket_t out;
    ASSERT_EQ(desk_act(t[1], ACTION_ASSIGN, "", &desk_operator, &out, &err), ARBOR_ENOPROC);
    ASSERT_STREQ(err.code, "unavailable");
    ASSERT_OK(desk_get(t[1], &out, &err));
    ASSERT_EQ(out.status, TICKET_OPEN);
    ASSERT_OK(arbor_gs_resume(sup, 5000));
    wait_restarted(AGENTS_NAME, agents);
    wait_restarted(DESK_TICKET_SUP_NAME, tickets);
    ASSERT_STREQ(auto_assign(t[1], &desk_operator), "ben");
    store_history_t h;
    last_entry(t[1], &h);
    ASSERT_STREQ(h.what, "assigned to ben by round-robin: next after ann");
    ASSERT_OK(arbor_sup_stop(sup, ARBOR_NORMAL));
}

TEST(round_robin_picks_without_the_agents_and_refuses_while_there_is_none)
{
    set_db_path("table");
    arbor_test_run(table_root, NULL);
    remove_db();
}

/* Agent names that differ only in case are one agent's: Ann beside ann is
 * refused, naming ann, and so is renaming bob to ANN; ann may become Ann.
 * In memory too. */
static void name_case_root(void *arg)
{
    arbor_pid_t sup = start(POLICY_ROUND_ROBIN, false);
    ticket_error_t err = {.code = ""};
    ASSERT_OK(agents_add("ann", &err));
    ASSERT_OK(agents_add("bob", &err));
    ASSERT_EQ(agents_add("Ann", &err), ARBOR_EEXIST);
    ASSERT_STREQ(err.code, "agent_exists");
    ASSERT_STREQ(err.message,
                 "there is already an agent called ann (names that differ only in case are one"
                 " agent's)");
    ASSERT_EQ(agents_add("ann", &err), ARBOR_EEXIST);
    ASSERT_STREQ(err.message, "there is already an agent called ann");
    ASSERT_EQ(agents_rename("bob", "ANN", &desk_operator, &err), ARBOR_EEXIST);
    ASSERT_STREQ(err.code, "agent_exists");
    ASSERT_OK(agents_rename("ann", "Ann", &desk_operator, &err));
    store_agent_t *list;
    size_t n;
    ASSERT_OK(agents_list(&list, &n, &err));
    ASSERT_EQ(n, 2);
    ASSERT_STREQ(list[0].name, "Ann");
    ASSERT_STREQ(list[1].name, "bob");
    free(list);
    ASSERT_OK(arbor_sup_stop(sup, ARBOR_NORMAL));

    desk_config_t in_memory = {.idle_timeout_ms = 60000};
    ASSERT_OK(desk_start(&in_memory, &sup, NULL)); /* alice and bob */
    ASSERT_EQ(agents_add("ALICE", &err), ARBOR_EEXIST);
    ASSERT_STREQ(err.message,
                 "there is already an agent called alice (names that differ only in case are one"
                 " agent's)");
    ASSERT_OK(agents_add("carol", &err));
    ASSERT_OK(arbor_sup_stop(sup, ARBOR_NORMAL));
}

TEST(agent_names_that_differ_only_in_case_are_one_agent)
{
    set_db_path("name_case");
    arbor_test_run(name_case_root, NULL);
    remove_db();
}

/* An agent is found by their name in any ASCII case, and what they do or
 * are given is recorded as the roster spells them: an assignment, an
 * actor, a list or queue filter, a flag, a rename. Two names that differ
 * only in case (a database from before that rule) are each found by
 * their own spelling, and by no other. */
static void any_case_root(void *arg)
{
    arbor_pid_t sup = start(POLICY_ROUND_ROBIN, false);
    ticket_error_t err = {.code = ""};
    ASSERT_OK(agents_add("ann", &err));
    ASSERT_OK(agents_add("Bob", &err));
    ticket_actor_t by_ann = {.kind = ACTOR_AGENT};
    snprintf(by_ann.name, sizeof by_ann.name, "ANN");
    ticket_t t = create_for("Acme", &by_ann), out;
    ASSERT_OK(desk_act(t.id, ACTION_ASSIGN, "bob", &by_ann, &out, &err));
    ASSERT_STREQ(out.agent, "Bob");
    store_history_t *h;
    size_t n;
    ASSERT_OK(history_all(t.id, &h, &n));
    ASSERT_EQ(n, 2);
    ASSERT_STREQ(h[0].by.name, "ann");
    ASSERT_STREQ(h[1].by.name, "ann");
    ASSERT_TRUE(strstr(h[1].what, "Bob") != NULL);
    free(h);
    ticket_t *found;
    ASSERT_OK(store_find(&(store_filter_t){.agent = "BOB", .limit = 9}, &found, &n, &err));
    ASSERT_EQ(n, 1);
    ASSERT_EQ(found[0].id, t.id);
    free(found);
    store_queues_t q;
    ASSERT_OK(store_queues("bOB", &q, &err));
    ASSERT_EQ(q.mine, 1);
    ASSERT_OK(desk_agent_set("BOB", -1, 0, NULL, &err));
    store_agent_t bob;
    ASSERT_OK(agents_lookup("bob", &bob, &err));
    ASSERT_STREQ(bob.name, "Bob");
    ASSERT_EQ(bob.available, 0);
    /* The same name is no rename (each of Bob's tickets would get an
     * entry and a version for nothing); another case is. */
    ASSERT_EQ(desk_agent_rename("bob", "Bob", &desk_operator, &err), ARBOR_EINVAL);
    ASSERT_STREQ(err.code, "unchanged");
    int64_t version = t.version;
    ASSERT_OK(desk_get(t.id, &out, &err));
    ASSERT_EQ(out.version, version + 1); /* the assign's, no more */
    ASSERT_OK(desk_agent_rename("BOB", "Robert", &desk_operator, &err));
    ASSERT_OK(desk_get(t.id, &out, &err));
    ASSERT_STREQ(out.agent, "Robert");
    ASSERT_EQ(agents_lookup("bob", NULL, &err), ARBOR_ENOENT);
    ASSERT_OK(arbor_sup_stop(sup, ARBOR_NORMAL));

    /* Twins: cy and CY, made behind the desk's back. */
    ASSERT_EQ(sql_int("INSERT INTO agents(name, added) VALUES('cy', 0), ('CY', 0) RETURNING 0"), 0);
    sup = start(POLICY_ROUND_ROBIN, false);
    store_agent_t a;
    ASSERT_OK(agents_lookup("cy", &a, &err));
    ASSERT_STREQ(a.name, "cy");
    ASSERT_OK(agents_lookup("CY", &a, &err));
    ASSERT_STREQ(a.name, "CY");
    ASSERT_EQ(agents_lookup("Cy", &a, &err), ARBOR_ENOENT);
    ASSERT_EQ(desk_act(t.id, ACTION_REASSIGN, "Cy", &desk_operator, &out, &err), ARBOR_ENOENT);
    ASSERT_STREQ(err.code, "unknown_agent");
    ASSERT_OK(arbor_sup_stop(sup, ARBOR_NORMAL));
}

TEST(an_agent_is_found_by_their_name_in_any_case)
{
    set_db_path("any_case");
    arbor_test_run(any_case_root, NULL);
    remove_db();
}

/* A name given with a space at an end, or a text of blanks alone, is
 * refused by the desk itself (the console and the web's API both end
 * here), and changes nothing. */
static void blank_root(void *arg)
{
    (void)arg;
    arbor_pid_t sup = start(POLICY_ROUND_ROBIN, false);
    ticket_error_t err = {.code = ""};
    ASSERT_OK(agents_add("bob", &err));
    ASSERT_EQ(agents_add(" bob", &err), ARBOR_EINVAL);
    ASSERT_STREQ(err.code, "bad_field");
    ASSERT_EQ(desk_agent_add("bob ", NULL, NULL, &err), ARBOR_EINVAL);
    ASSERT_STREQ(err.code, "bad_field");
    ASSERT_EQ(desk_agent_rename("bob", "   ", &desk_operator, &err), ARBOR_EINVAL);
    ASSERT_STREQ(err.code, "empty_field");
    ASSERT_EQ(sql_int("SELECT count(*) FROM agents"), 1);
    ASSERT_EQ(sql_int("SELECT count(*) FROM agents WHERE name = 'bob'"), 1);

    ticket_t t = {.priority = PRIORITY_NORMAL};
    snprintf(t.description, sizeof t.description, "   ");
    ASSERT_EQ(desk_create(&t, &desk_operator, NULL, &err), ARBOR_EINVAL);
    ASSERT_STREQ(err.code, "empty_field");
    snprintf(t.description, sizeof t.description, "Printer on fire");
    snprintf(t.customer, sizeof t.customer, "Acme ");
    ASSERT_EQ(desk_create(&t, &desk_operator, NULL, &err), ARBOR_EINVAL);
    ASSERT_STREQ(err.code, "bad_field");
    ASSERT_EQ(sql_int("SELECT count(*) FROM tickets"), 0);

    t = create_for("Acme", &desk_operator);
    ticket_t out;
    ticket_change_t c = {.action = ACTION_EDIT, .set_customer = true};
    snprintf(c.customer, sizeof c.customer, " Acme");
    ASSERT_EQ(desk_change(t.id, &c, &desk_operator, &out, &err), ARBOR_EINVAL);
    ASSERT_STREQ(err.code, "bad_field");
    c = (ticket_change_t){.action = ACTION_NOTE};
    snprintf(c.text, sizeof c.text, " \n ");
    ASSERT_EQ(desk_change(t.id, &c, &desk_operator, &out, &err), ARBOR_EINVAL);
    ASSERT_STREQ(err.code, "empty_field");
    ASSERT_OK(desk_get(t.id, &out, &err));
    ASSERT_STREQ(out.customer, "Acme");
    ASSERT_EQ(out.version, t.version);
    ASSERT_OK(arbor_sup_stop(sup, ARBOR_NORMAL));
}

TEST(a_blank_text_or_a_name_with_a_blank_at_an_end_is_refused_and_changes_nothing)
{
    set_db_path("blank");
    arbor_test_run(blank_root, NULL);
    remove_db();
}

/* Least-loaded says in the history how many open tickets the agent had and
 * among how many available agents. */
static void why_root(void *arg)
{
    arbor_pid_t sup = start(POLICY_LEAST_LOADED, false);
    ticket_error_t err = {.code = ""};
    ticket_t out;
    const char *names[] = {"ann", "ben", "cy", "dee"};
    for (int i = 0; i < 4; i++)
        ASSERT_OK(agents_add(names[i], &err));
    ASSERT_OK(agents_set("dee", -1, 0, &err)); /* unavailable: not counted */
    int64_t t[6];
    for (int i = 0; i < 6; i++)
        t[i] = create_for("Acme", &desk_operator).id;
    ASSERT_OK(desk_act(t[0], ACTION_ASSIGN, "ann", &desk_operator, &out, &err));
    ASSERT_OK(desk_act(t[1], ACTION_ASSIGN, "ann", &desk_operator, &out, &err));
    ASSERT_OK(desk_act(t[2], ACTION_ASSIGN, "ben", &desk_operator, &out, &err));
    ASSERT_OK(desk_act(t[3], ACTION_ASSIGN, "cy", &desk_operator, &out, &err));
    ASSERT_OK(desk_act(t[4], ACTION_ASSIGN, "cy", &desk_operator, &out, &err));
    ASSERT_STREQ(auto_assign(t[5], &desk_operator), "ben");
    store_history_t h;
    last_entry(t[5], &h);
    ASSERT_STREQ(h.what, "assigned to ben by least-loaded: 1 open, fewest of 3 available");
    ASSERT_EQ(h.by.kind, ACTOR_OPERATOR);
    ASSERT_OK(arbor_sup_stop(sup, ARBOR_NORMAL));
}

TEST(least_loaded_says_in_the_history_why_it_chose)
{
    set_db_path("why");
    arbor_test_run(why_root, NULL);
    remove_db();
}

/* ---- a database of schema version 3 ---------------------------------------------------- */

static void upgrade_root(void *arg)
{
    arbor_pid_t sup = start(POLICY_ROUND_ROBIN, true); /* --demo: the roster is not empty */
    /* Every step to the current version (5: the web's credentials; 6: the
     * lists' indexes; 7: the agents' open counts, filled in; 8: the
     * request ids; 9: the SLA's due times, filled in, and the breach of
     * those long past due; 10: a batch's creates indexed at its end; 11:
     * a status's tickets by priority and by update time in two indexes;
     * 12: a customer's tickets whatever the case of the name). */
    ASSERT_EQ(sql_int("PRAGMA user_version"), 12);
    ASSERT_EQ(sql_int("SELECT open_count FROM agents WHERE name = 'carol'"), 1);
    ASSERT_EQ(sql_int("SELECT count(*) FROM credentials"), 0);
    ASSERT_EQ(sql_int("SELECT count(*) FROM requests"), 0);
    ASSERT_EQ(sql_int("SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name IN"
                      " ('tickets_status', 'tickets_priority', 'tickets_customer',"
                      " 'tickets_status_updated')"),
              4);
    /* The stated statistics: the table's row and one per index of
     * version 6 and 11. */
    ASSERT_EQ(sql_int("SELECT count(*) FROM sqlite_stat1 WHERE tbl = 'tickets'"), 6);
    ASSERT_EQ(sql_int("SELECT count(*) FROM sqlite_stat1 WHERE idx = 'tickets_status'"
                      " AND stat = '100000 2000 500'"),
              1);
    ASSERT_EQ(sql_int("SELECT count(*) FROM sqlite_stat1 WHERE idx = 'tickets_customer'"
                      " AND stat = '100000 20'"),
              1);
    ticket_t t, out;
    ASSERT_OK(store_get(1, &t, NULL));
    ASSERT_STREQ(t.description, "old ticket");
    ASSERT_STREQ(t.agent, "carol");
    ASSERT_EQ(t.version, 3);
    store_agent_t *list;
    size_t n;
    ASSERT_OK(agents_list(&list, &n, NULL));
    ASSERT_EQ(n, 1); /* carol alone: --demo seeds only an empty roster */
    ASSERT_TRUE(list[0].active && list[0].available && list[0].open == 1);
    free(list);
    store_history_t *h;
    ASSERT_OK(history_all(1, &h, &n));
    ASSERT_EQ(n, 3);
    ASSERT_STREQ(h[1].what, "assigned to carol");
    ASSERT_EQ(h[1].by.kind, ACTOR_DESK); /* recorded before attribution */
    /* Created at 1 ms, of normal priority: due a day later, long past. */
    ASSERT_STREQ(h[2].what, "SLA breached: resolution due 1970-01-02T00:00:00Z");
    ASSERT_EQ(h[2].by.kind, ACTOR_DESK);
    free(h);
    ASSERT_EQ(t.due_at, 1 + 24 * 3600 * 1000);
    ASSERT_TRUE(t.breached_at >= t.due_at && sla_overdue(&t));
    ticket_t *found; /* the old tickets are in the search index */
    ASSERT_OK(store_find(&(store_filter_t){.search = "old", .limit = 9}, &found, &n, NULL));
    ASSERT_EQ(n, 1);
    free(found);
    ticket_status_t assigned = TICKET_ASSIGNED; /* and found through the new indexes */
    ASSERT_OK(store_find(
        &(store_filter_t){
            .status = &assigned, .customer = "ACME", .sort = STORE_SORT_PRIORITY, .limit = 9},
        &found, &n, NULL));
    ASSERT_EQ(n, 1);
    ASSERT_EQ(found[0].id, 1);
    free(found);
    ticket_error_t err = {.code = ""};
    ticket_actor_t carol = agent("carol");
    ASSERT_OK(desk_post(1, STORE_NOTE, "still here", &carol, &out, &err));
    ASSERT_OK(desk_act(1, ACTION_PEND, NULL, &carol, &out, &err));
    ASSERT_EQ(out.version, 5);
    int64_t pending;
    ASSERT_OK(store_outbox_count(&pending, NULL));
    ASSERT_EQ(pending, 2); /* the old one, still pending, and the pend's: no breach's */
    ASSERT_TRUE(out.sla_paused && out.sla_left_ms < 0); /* pending, and still overdue */
    ASSERT_TRUE(sla_overdue(&out));
    ASSERT_OK(arbor_sup_stop(sup, ARBOR_NORMAL));
}

TEST(a_version_3_database_is_upgraded_with_its_data)
{
    set_db_path("upgrade");
    sqlite3 *db;
    ASSERT_EQ(sqlite3_open(db_path, &db), SQLITE_OK);
    /* Version 3 as store.c created it (versions 1 to 3). */
    ASSERT_EQ(
        sqlite3_exec(
            db,
            "CREATE TABLE tickets(id INTEGER PRIMARY KEY AUTOINCREMENT, description TEXT NOT NULL,"
            " customer TEXT NOT NULL, priority INTEGER NOT NULL, status INTEGER NOT NULL,"
            " agent TEXT NOT NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,"
            " version INTEGER NOT NULL DEFAULT 0);"
            "CREATE TABLE history(id INTEGER PRIMARY KEY AUTOINCREMENT, ticket INTEGER NOT NULL"
            " REFERENCES tickets(id), at INTEGER NOT NULL, who TEXT NOT NULL, what TEXT NOT NULL);"
            "CREATE INDEX history_ticket ON history(ticket);"
            "CREATE TABLE agents(name TEXT PRIMARY KEY, added INTEGER NOT NULL);"
            "CREATE TABLE outbox(id INTEGER PRIMARY KEY AUTOINCREMENT, ticket INTEGER NOT NULL,"
            " at INTEGER NOT NULL, text TEXT NOT NULL, delivered_at INTEGER);"
            "CREATE INDEX outbox_pending ON outbox(id) WHERE delivered_at IS NULL;"
            "INSERT INTO agents VALUES('carol', 1);"
            "INSERT INTO tickets VALUES(1, 'old ticket', 'Acme', 1, 1, 'carol', 1, 2, 3);"
            "INSERT INTO history(ticket, at, who, what) VALUES(1, 1, 'Acme', 'created'),"
            " (1, 2, 'carol', 'assigned to carol');"
            "INSERT INTO outbox VALUES(1, 1, 2, 'ticket 1 is now assigned', NULL);"
            "PRAGMA user_version = 3;",
            NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);
    arbor_test_run(upgrade_root, NULL);
    remove_db();
}

/* ---- finding work ---------------------------------------------------------------------- */

/* The ids of a list, as "3,1,2". */
static void ids_of(const store_filter_t *f, char *buf, size_t size)
{
    ticket_t *rows;
    size_t n;
    ticket_error_t err = {.code = ""};
    ASSERT_OK(store_find(f, &rows, &n, &err));
    size_t len = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && len < size; i++)
        len +=
            (size_t)snprintf(buf + len, size - len, "%s%lld", i ? "," : "", (long long)rows[i].id);
    free(rows);
}

#define ASSERT_IDS(filter, expected)                                                               \
    do {                                                                                           \
        char ids_[256];                                                                            \
        store_filter_t f_ = filter;                                                                \
        if (!f_.limit)                                                                             \
            f_.limit = 100;                                                                        \
        ids_of(&f_, ids_, sizeof ids_);                                                            \
        ASSERT_STREQ(ids_, expected);                                                              \
    } while (0)

static ticket_t create_ticket(const char *description, const char *customer_name,
                              ticket_priority_t priority)
{
    ticket_t t = {.priority = priority};
    snprintf(t.description, sizeof t.description, "%s", description);
    snprintf(t.customer, sizeof t.customer, "%s", customer_name);
    ticket_error_t err = {.code = ""};
    ASSERT_OK(desk_create(&t, &desk_operator, NULL, &err));
    return t;
}

/* Filters by status, agent (and unassigned), customer, priority and
 * words (FTS5, literal); orders; pages; the queues' counts. */
static void find_root(void *arg)
{
    arbor_pid_t sup = start(POLICY_ROUND_ROBIN, true);
    create_ticket("Printer on fire", "Acme", PRIORITY_HIGH);               /* 1 */
    create_ticket("Login broken", "Globex", PRIORITY_NORMAL);              /* 2 */
    create_ticket("Printer jams \"often\"", "Acme Corp", PRIORITY_URGENT); /* 3 */
    create_ticket("Mail down", "", PRIORITY_LOW);                          /* 4 */
    ticket_t out;
    ticket_error_t err = {.code = ""};
    ASSERT_OK(desk_act(1, ACTION_ASSIGN, "alice", &desk_operator, &out, &err));
    ASSERT_OK(desk_act(2, ACTION_ASSIGN, "bob", &desk_operator, &out, &err));
    ASSERT_OK(desk_act(2, ACTION_PEND, NULL, &desk_operator, &out, &err));
    ASSERT_OK(desk_act(4, ACTION_ASSIGN, "bob", &desk_operator, &out, &err));
    ASSERT_OK(desk_act(4, ACTION_RESOLVE, NULL, &desk_operator, &out, &err));

    ticket_status_t pending = TICKET_PENDING;
    ticket_priority_t urgent = PRIORITY_URGENT;
    ASSERT_IDS(((store_filter_t){0}), "4,3,2,1");
    ASSERT_IDS(((store_filter_t){.status = &pending}), "2");
    ASSERT_IDS(((store_filter_t){.agent = "bob"}), "4,2");
    ASSERT_IDS(((store_filter_t){.agent = ""}), "3"); /* unassigned */
    ASSERT_IDS(((store_filter_t){.customer = "Acme"}), "1");
    ASSERT_IDS(((store_filter_t){.customer = "aCME"}), "1"); /* any case; not Acme Corp */
    ASSERT_IDS(((store_filter_t){.priority = &urgent}), "3");
    ASSERT_IDS(((store_filter_t){.search = "printer"}), "3,1");
    ASSERT_IDS(((store_filter_t){.search = "PRINTER fire"}), "1"); /* every word, any case */
    ASSERT_IDS(((store_filter_t){.search = "acme"}), "3,1");       /* the customer too */
    ASSERT_IDS(((store_filter_t){.search = "\"often"}), "3"); /* FTS5 syntax is taken as text */
    ASSERT_IDS(((store_filter_t){.search = "NEAR( OR *"}), "");
    ASSERT_IDS(((store_filter_t){.search = "printer", .agent = "alice"}), "1");
    /* A word of three characters or more also finds the words it begins;
     * a shorter one only itself. */
    ASSERT_IDS(((store_filter_t){.search = "print"}), "3,1");
    ASSERT_IDS(((store_filter_t){.search = "PRI fir"}), "1");
    ASSERT_IDS(((store_filter_t){.search = "pr"}), "");
    ASSERT_IDS(((store_filter_t){.search = "ac"}), "");
    ASSERT_IDS(((store_filter_t){.search = "of"}), "");
    ASSERT_IDS(((store_filter_t){.search = "\"oft"}), "3");
    ASSERT_IDS(((store_filter_t){.sort = STORE_SORT_OLDEST}), "1,2,3,4");
    ASSERT_IDS(((store_filter_t){.sort = STORE_SORT_PRIORITY}), "3,1,2,4");
    ASSERT_IDS(((store_filter_t){.sort = STORE_SORT_UPDATED}), "4,2,1,3");
    ASSERT_IDS(((store_filter_t){.sort = STORE_SORT_OLDEST, .offset = 1, .limit = 2}), "2,3");
    ASSERT_IDS(((store_filter_t){.offset = 4}), "");
    /* An edit reaches the search index. */
    ticket_change_t *c = calloc(1, sizeof *c);
    c->action = ACTION_EDIT;
    c->set_description = true;
    snprintf(c->description, sizeof c->description, "Printer offline");
    ASSERT_OK(desk_change(2, c, &desk_operator, &out, &err));
    free(c);
    ASSERT_IDS(((store_filter_t){.search = "printer"}), "3,2,1");
    ASSERT_IDS(((store_filter_t){.search = "login"}), "");
    /* Bad filters are refused. */
    ticket_t *rows;
    size_t n;
    char long_name[300];
    memset(long_name, 'x', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    ASSERT_ERR(store_find(&(store_filter_t){.agent = long_name, .limit = 9}, &rows, &n, &err),
               ARBOR_EINVAL);
    ASSERT_STREQ(err.code, "field_too_long");
    ASSERT_ERR(store_find(&(store_filter_t){.search = "a\x01", .limit = 9}, &rows, &n, &err),
               ARBOR_EINVAL);
    store_queues_t q;
    ASSERT_OK(store_queues("bob", &q, NULL));
    ASSERT_EQ(q.mine, 1);       /* 2, pending; 4 is resolved */
    ASSERT_EQ(q.unassigned, 1); /* 3 */
    ASSERT_EQ(q.open, 3);       /* 1, 2, 3 */
    ASSERT_EQ(q.pending, 1);
    ASSERT_OK(store_queues(NULL, &q, NULL));
    ASSERT_EQ(q.mine, 0);
    ASSERT_OK(arbor_sup_stop(sup, ARBOR_NORMAL));
}

TEST(lists_filter_search_sort_and_page_and_the_queues_count)
{
    set_db_path("find");
    arbor_test_run(find_root, NULL);
    remove_db();
}

/* ---- every combination of filters ------------------------------------------------------- */

/* store_run's function: 120 tickets whose statuses, agents, customers,
 * priorities and words vary independently, with equal update times
 * among neighbours (so the orders' tie-breaks count) and creation times
 * that run backwards (oldest first is by id, the order of creation, not
 * by a clock that may step back). */
static int insert_mixed_tickets(sqlite3 *db, const void *in, void *out)
{
    (void)in;
    (void)out;
    static const char *const agents[] = {"", "alice", "bob"};
    /* Acme twice, spelled in two cases: a customer's list finds both. */
    static const char *const customers[] = {"Acme", "Globex", "ACME"};
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db,
                           "INSERT INTO tickets(description, customer, priority, status, agent,"
                           " created_at, updated_at, breached_at) VALUES(?,?,?,?,?,?,?,?)",
                           -1, &st, NULL) != SQLITE_OK)
        return ARBOR_EEXIT;
    int rc = 0;
    for (int i = 0; i < 120 && !rc; i++) {
        sqlite3_bind_text(st, 1, (i / 7) % 2 ? "Printer jam" : "Login broken", -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, customers[(i / 5) % 3], -1, SQLITE_STATIC);
        /* Two tickets with a priority outside ticket_priority_t's values
         * (both assigned) and one with a status outside ticket_status_t's:
         * the desk writes none, but a list made of parts, one per status or
         * priority (store__list_sql), must list them as the reference does. */
        sqlite3_bind_int(st, 3, i == 111 ? 9 : i == 116 ? -1 : i % 4);
        sqlite3_bind_int(st, 4, i == 118 ? 7 : i % 5);
        sqlite3_bind_text(st, 5, agents[i % 3], -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 6, 5000 - i / 3);
        sqlite3_bind_int64(st, 7, 9000 - i / 2);
        if (i % 11 < 4)
            sqlite3_bind_int64(st, 8, 7000 + i);
        else
            sqlite3_bind_null(st, 8);
        rc = sqlite3_step(st) == SQLITE_DONE ? 0 : ARBOR_EEXIT;
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    return rc;
}

/* The ids the list of f holds, as "3,1,2", by the one statement for every
 * filter that the Store used before it built one per combination: the
 * reference each combination's statement must agree with. */
static void reference_ids(const store_filter_t *f, char *buf, size_t size)
{
    static const char *const orders[] = {"id DESC", "id", "priority DESC, id",
                                         "updated_at DESC, id DESC"};
    char sql[800];
    snprintf(sql, sizeof sql,
             "SELECT id FROM tickets WHERE (?1 < 0 OR status = ?1) AND (?2 = 0 OR agent = ?3)"
             " AND (?4 = 0 OR customer = ?5 COLLATE NOCASE) AND (?6 < 0 OR priority = ?6) AND (?7 "
             "= '' OR id"
             " IN (SELECT rowid FROM tickets_text WHERE tickets_text MATCH ?7))"
             " AND (?10 = 0 OR status IN (0, 1, 4))"
             " AND (?11 = 0 OR (breached_at IS NOT NULL AND status IN (0, 1, 4))) ORDER BY %s"
             " LIMIT ?8 OFFSET ?9",
             orders[f->sort]);
    sqlite3 *db;
    sqlite3_stmt *st;
    ASSERT_EQ(sqlite3_open(db_path, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    ASSERT_EQ(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    sqlite3_bind_int(st, 1, f->status ? (int)*f->status : -1);
    sqlite3_bind_int(st, 2, f->agent != NULL);
    sqlite3_bind_text(st, 3, f->agent ? f->agent : "", -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 4, f->customer != NULL);
    sqlite3_bind_text(st, 5, f->customer ? f->customer : "", -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 6, f->priority ? (int)*f->priority : -1);
    sqlite3_bind_text(st, 7, f->search ? "\"printer\"*" : "", -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 10, f->unresolved);
    sqlite3_bind_int(st, 11, f->overdue);
    sqlite3_bind_int64(st, 8, (int64_t)f->limit);
    sqlite3_bind_int64(st, 9, (int64_t)f->offset);
    size_t len = 0;
    buf[0] = '\0';
    while (sqlite3_step(st) == SQLITE_ROW && len < size)
        len += (size_t)snprintf(buf + len, size - len, "%s%lld", len ? "," : "",
                                (long long)sqlite3_column_int64(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(db);
}

/* For each of the 128 combinations of the seven filters, in each order,
 * whole and as a page, store_find holds the reference's tickets in the
 * reference's order. */
static void combinations_root(void *arg)
{
    (void)arg;
    arbor_pid_t sup = start(POLICY_ROUND_ROBIN, false);
    ASSERT_OK(store_run(insert_mixed_tickets, NULL, 0, NULL, 0));
    ticket_status_t assigned = TICKET_ASSIGNED;
    ticket_priority_t high = PRIORITY_HIGH;
    size_t nonempty = 0;
    for (unsigned bits = 0; bits < LIST_FILTERS; bits++)
        for (int sort = 0; sort < STORE_SORTS; sort++)
            for (int paged = 0; paged < 2; paged++) {
                store_filter_t f = {
                    .status = bits & 1 ? &assigned : NULL,
                    .agent = bits & 2 ? "bob" : NULL,
                    .customer = bits & 4 ? "Acme" : NULL,
                    .priority = bits & 8 ? &high : NULL,
                    .search = bits & 16 ? "PRINTER" : NULL,
                    .unresolved = bits & 32,
                    .overdue = bits & 64,
                    .sort = (store_sort_t)sort,
                    .offset = paged ? 1 : 0,
                    .limit = paged ? 3 : 200,
                };
                char got[1024], want[1024];
                ids_of(&f, got, sizeof got);
                reference_ids(&f, want, sizeof want);
                if (strcmp(got, want) != 0)
                    fprintf(stderr, "filters %u, order %d, page %d\n", bits, sort, paged);
                ASSERT_STREQ(got, want);
                nonempty += got[0] != '\0';
            }
    ASSERT_TRUE(nonempty >= 200); /* the combinations select something */
    ASSERT_OK(arbor_sup_stop(sup, ARBOR_NORMAL));
}

TEST(each_combination_of_filters_and_order_lists_the_same_tickets_as_the_reference)
{
    set_db_path("combinations");
    arbor_test_run(combinations_root, NULL);
    remove_db();
}

/* The plan SQLite makes for the list with filters bits in order sort, one
 * line per step, on the desk's database. */
static void list_plan(unsigned bits, store_sort_t sort, char *plan, size_t size)
{
    char sql[LIST_SQL_SIZE + 32] = "EXPLAIN QUERY PLAN ";
    store__list_sql(bits, sort, sql + strlen(sql));
    sqlite3 *db;
    sqlite3_stmt *st;
    ASSERT_EQ(sqlite3_open(db_path, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    ASSERT_EQ(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    size_t len = 0;
    plan[0] = '\0';
    while (sqlite3_step(st) == SQLITE_ROW && len < size)
        len += (size_t)snprintf(plan + len, size - len, "%s\n", sqlite3_column_text(st, 3));
    sqlite3_finalize(st);
    sqlite3_close(db);
}

#define ASSERT_PLAN(bits, sort, uses, sorts)                                                       \
    do {                                                                                           \
        char plan_[1024];                                                                          \
        list_plan(bits, sort, plan_, sizeof plan_);                                                \
        if (!strstr(plan_, uses) || (strstr(plan_, "TEMP B-TREE") != NULL) != (sorts))             \
            fprintf(stderr, "filters %u, order %d:\n%s", bits, (int)(sort), plan_);                \
        ASSERT_TRUE(strstr(plan_, uses) != NULL);                                                  \
        ASSERT_EQ(strstr(plan_, "TEMP B-TREE") != NULL, sorts);                                    \
    } while (0)

/* A list made of parts merged in its order (store__list_sql): SQLite
 * merges them (MERGE (UNION ALL)), each read in order through uses, and
 * sorts (TEMP B-TREE) only where sorts says: the two parts for values
 * outside the desk's (a status or a priority no ticket has, found empty
 * through the index), the page's own tickets when read in an order other
 * than the ids', the parts that are several runs of an index (the
 * unresolved statuses'). */
#define ASSERT_MERGED(bits, sort, uses, sorts)                                                     \
    do {                                                                                           \
        char plan_[4096];                                                                          \
        list_plan(bits, sort, plan_, sizeof plan_);                                                \
        size_t sorted_ = 0;                                                                        \
        for (const char *at_ = plan_; (at_ = strstr(at_, "TEMP B-TREE")) != NULL; at_++)           \
            sorted_++;                                                                             \
        if (!strstr(plan_, "MERGE (UNION ALL)") || !strstr(plan_, uses) ||                         \
            sorted_ != (size_t)(sorts))                                                            \
            fprintf(stderr, "filters %u, order %d:\n%s", bits, (int)(sort), plan_);                \
        ASSERT_TRUE(strstr(plan_, "MERGE (UNION ALL)") != NULL);                                   \
        ASSERT_TRUE(strstr(plan_, uses) != NULL);                                                  \
        ASSERT_EQ(sorted_, (size_t)(sorts));                                                       \
    } while (0)

/* No filter is read newest or oldest first from the ids, by priority and
 * by last update from an index, never sorted; a status's tickets likewise
 * in every order; a customer's, an agent's or a status's tickets are found
 * through their index (and sorted in other orders: they are few); a
 * search starts from the words' matches. */
static void plans_root(void *arg)
{
    (void)arg;
    arbor_pid_t sup = start(POLICY_ROUND_ROBIN, false);
    ASSERT_PLAN(0, STORE_SORT_NEWEST, "SCAN tickets", false);
    ASSERT_PLAN(0, STORE_SORT_OLDEST, "SCAN tickets", false);
    ASSERT_PLAN(0, STORE_SORT_PRIORITY, "tickets_priority", false);
    /* Every ticket last updated first: each status's in order, merged. */
    ASSERT_MERGED(0, STORE_SORT_UPDATED, "COVERING INDEX tickets_status_updated (status=?)", 3);
    /* A status's tickets (the closed ones: most of them) in every order,
     * never all sorted: newest and oldest first as each priority's,
     * merged; by priority and by last update from an index in order. */
    ASSERT_MERGED(LIST_STATUS, STORE_SORT_NEWEST,
                  "COVERING INDEX tickets_status (status=? AND priority=?)", 2);
    ASSERT_MERGED(LIST_STATUS, STORE_SORT_OLDEST,
                  "COVERING INDEX tickets_status (status=? AND priority=?)", 2);
    ASSERT_MERGED(LIST_STATUS | LIST_UNRESOLVED, STORE_SORT_NEWEST,
                  "COVERING INDEX tickets_status (status=? AND priority=?)", 2);
    /* The unresolved tickets (three statuses) likewise, each priority's
     * three runs sorted as far as the page needs. */
    ASSERT_MERGED(LIST_UNRESOLVED, STORE_SORT_NEWEST,
                  "COVERING INDEX tickets_status (status=? AND priority=?)", 6);
    ASSERT_PLAN(LIST_STATUS, STORE_SORT_PRIORITY, "tickets_status (status=?)", false);
    ASSERT_PLAN(LIST_STATUS, STORE_SORT_UPDATED, "tickets_status_updated (status=?)", false);
    ASSERT_PLAN(LIST_STATUS | LIST_PRIORITY, STORE_SORT_NEWEST,
                "tickets_status (status=? AND priority=?)", false);
    ASSERT_PLAN(LIST_STATUS | LIST_AGENT, STORE_SORT_NEWEST, "tickets_agent (agent=? AND status=?)",
                false);
    /* An agent's tickets of a status, last updated first: the status's in
     * that order, until a page of the agent's (version 11; before, the
     * agent's of that status, sorted). */
    ASSERT_PLAN(LIST_STATUS | LIST_AGENT, STORE_SORT_UPDATED, "tickets_status_updated (status=?)",
                false);
    ASSERT_PLAN(LIST_AGENT, STORE_SORT_PRIORITY, "tickets_agent (agent=?)", true);
    ASSERT_PLAN(LIST_STATUS | LIST_CUSTOMER, STORE_SORT_PRIORITY, "tickets_customer", true);
    ASSERT_PLAN(LIST_PRIORITY | LIST_CUSTOMER, STORE_SORT_NEWEST, "tickets_customer", false);
    ASSERT_PLAN(LIST_STATUS | LIST_TEXT, STORE_SORT_NEWEST, "INTEGER PRIMARY KEY", false);
    /* The Overdue queue, from its own (partial) index, newest first. */
    ASSERT_PLAN(LIST_OVERDUE, STORE_SORT_NEWEST, "tickets_overdue", false);
    ASSERT_PLAN(LIST_OVERDUE | LIST_UNRESOLVED, STORE_SORT_OLDEST, "tickets_overdue", false);
    ASSERT_OK(arbor_sup_stop(sup, ARBOR_NORMAL));
}

TEST(lists_are_read_through_the_index_their_filters_and_order_call_for)
{
    set_db_path("plans");
    arbor_test_run(plans_root, NULL);
    remove_db();
}

/*
 * The desk's domain and its serialisation: every workflow transition, and
 * two concurrent assignments of one ticket, of which exactly one wins.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "../../apps/support_system/desk.h"
#include "desk_test_db.h"
#include "desk_test_hold.h"
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

/* A change by the operator, as the tests before attribution wrote it. */
static int legacy_update(ticket_t *t, const char *who, const char *what, const char *notice,
                         ticket_error_t *err)
{
    store_event_t ev = {.by = {.kind = ACTOR_OPERATOR}, .what = what, .notice = notice};
    snprintf(ev.by.name, sizeof ev.by.name, "%s", who);
    return store_update(t, &ev, err);
}

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
    /* Limits count characters: 200 two-byte characters fit, 201 do not. */
    char wide[TICKET_DESC_SIZE];
    size_t n = 0;
    for (int i = 0; i < TICKET_DESC_MAX; i++, n += 2)
        memcpy(wide + n, "\xc3\xa9", 2); /* é */
    wide[n] = '\0';
    ASSERT_TRUE(ticket_check_text("description", wide, TICKET_DESC_MAX, false, &err));
    memcpy(wide + n, "\xc3\xa9", 3);
    ASSERT_FALSE(ticket_check_text("description", wide, TICKET_DESC_MAX, false, &err));
    ASSERT_STREQ(err.code, "field_too_long");
    ASSERT_TRUE(strstr(err.message, "200 characters") != NULL);
    /* Invalid UTF-8: a stray byte, an overlong '/', a surrogate. */
    static const char *const invalid[] = {"Jos\xe9", "\xc0\xaf", "\xed\xa0\x80"};
    for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
        ASSERT_FALSE(ticket_check_text("customer", invalid[i], TICKET_NAME_MAX, true, &err));
        ASSERT_STREQ(err.code, "bad_field");
    }
}

TEST(text_checks_find_a_bad_byte_at_any_position)
{
    /* A control character, DEL or a byte that starts no valid UTF-8 is
     * found wherever it stands in a text of printable ASCII, and the edges
     * of printable (' ' and '~') pass in its place. */
    static const unsigned char odd[] = {0x01, 0x1f, 0x7f, 0x80, 0xc3, 0xff};
    char text[40];
    ticket_error_t err;
    for (size_t len = 1; len < sizeof text; len++)
        for (size_t at = 0; at < len; at++)
            for (size_t k = 0; k < sizeof odd; k++) {
                for (size_t i = 0; i < len; i++)
                    text[i] = (char)(0x20 + (i * 7 + at) % 0x5f); /* ' ' to '~' */
                text[at] = (char)odd[k];
                text[len] = '\0';
                ASSERT_FALSE(ticket_check_text("customer", text, TICKET_NAME_MAX, true, &err));
                ASSERT_STREQ(err.code, "bad_field");
                /* the edges of printable (a lone space is blank: refused) */
                text[at] = odd[k] == 0x7f || len == 1 ? '~' : ' ';
                ASSERT_TRUE(ticket_check_text("customer", text, TICKET_NAME_MAX, true, &err));
            }
}

TEST(texts_of_blanks_alone_and_names_with_a_blank_at_an_end_are_refused)
{
    /* A field of spaces alone looks empty in every list: refused, whether
     * it may be empty (bad_field: it is not empty) or not (empty_field). */
    ticket_error_t err;
    static const char *const blanks[] = {" ", "   "};
    for (size_t i = 0; i < 2; i++) {
        ASSERT_FALSE(ticket_check_text("description", blanks[i], TICKET_DESC_MAX, false, &err));
        ASSERT_STREQ(err.code, "empty_field");
        ASSERT_STREQ(err.message, "description must not be blank (spaces alone)");
        ASSERT_FALSE(ticket_check_text("reason", blanks[i], TICKET_NAME_MAX, true, &err));
        ASSERT_STREQ(err.code, "bad_field");
        ASSERT_FALSE(ticket_check_name("customer", blanks[i], true, &err));
        ASSERT_STREQ(err.code, "bad_field");
    }
    /* A reply's blanks include its line breaks and tabs. */
    ASSERT_FALSE(ticket_check_body("text", " \n\t\n", TICKET_TEXT_MAX, &err));
    ASSERT_STREQ(err.code, "empty_field");
    ASSERT_TRUE(ticket_check_body("text", "\n ok \n", TICKET_TEXT_MAX, &err));
    /* Spaces around other text are the text's own, except in a name. */
    ASSERT_TRUE(
        ticket_check_text("description", "  Printer on fire  ", TICKET_DESC_MAX, false, &err));
    ASSERT_TRUE(ticket_check_text("agent", " bob", TICKET_NAME_MAX, false, &err)); /* a lookup */
    static const char *const edged[] = {" bob", "bob ", " bob ", " José", "José "};
    for (size_t i = 0; i < 5; i++) {
        ASSERT_FALSE(ticket_check_name("agent", edged[i], false, &err));
        ASSERT_STREQ(err.code, "bad_field");
        ASSERT_STREQ(err.message, "agent must not begin or end with a space");
    }
    ASSERT_TRUE(ticket_check_name("agent", "Ann Lee", false, &err));
    /* C1 control characters (U+0080 to U+009F) are control characters
     * too; the letters after them are not. */
    ASSERT_FALSE(ticket_check_name("agent", "e\xc2\x85ve", false, &err)); /* NEL */
    ASSERT_STREQ(err.code, "bad_field");
    ASSERT_FALSE(ticket_check_body("text", "x\xc2\x9b[2J", TICKET_TEXT_MAX, &err)); /* CSI */
    ASSERT_STREQ(err.code, "bad_field");
    ASSERT_TRUE(ticket_check_name("agent", "\xc2\xa0Jos\xc3\xa9", false, &err)); /* NBSP, é */
    ASSERT_TRUE(ticket_check_name("customer", "", true, &err));
    ASSERT_FALSE(ticket_check_name("agent", "", false, &err));
    ASSERT_STREQ(err.code, "empty_field");
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
    char agent[TICKET_NAME_SIZE];
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

static void set_db_path(const char *what)
{
    desk_test_db_path(db_path, sizeof db_path, "desk", what);
}

static void remove_db(void)
{
    desk_test_db_remove(db_path);
}

static void race_root(void *arg)
{
    desk_config_t cfg = {.db_path = db_path, .demo = true, .idle_timeout_ms = 60000};
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
        ASSERT_OK(store_get(t.id, &now, NULL));
        ASSERT_STREQ(now.agent, win->agent);
    }
    ASSERT_OK(arbor_sup_stop(sup, ARBOR_NORMAL));
}

TEST(two_concurrent_assignments_exactly_one_wins_and_the_loser_is_told)
{
    set_db_path("race");
    arbor_test_run(race_root, NULL);
    remove_db();
}

/* ---- durable desk under load ------------------------------------------------------ */

enum { TAG_ACK = 10, TAG_STOP, TAG_DONE };

/* An acknowledged change: ticket id reached status. */
typedef struct {
    int64_t id;
    ticket_status_t status;
} ack_t;

/* Creates, assigns and resolves tickets until told to stop, reporting each
 * acknowledged step; refusals (the Store is down for a moment) are
 * expected, and the client goes on. */
static void load_client(void *arg)
{
    arbor_pid_t parent = *(arbor_pid_t *)arg;
    arbor_msg_t *m = NULL;
    while (arbor_receive(0, &m) == ARBOR_ETIMEDOUT) {
        ticket_t t = {.priority = PRIORITY_NORMAL};
        snprintf(t.description, sizeof t.description, "load");
        ticket_error_t err;
        if (ticket_supervisor_create_ticket(&t, NULL, &err) != 0)
            continue;
        arbor_send(parent, TAG_ACK, &(ack_t){t.id, TICKET_OPEN}, sizeof(ack_t));
        if (assign_agent(t.id, "", NULL, &err) != 0)
            continue;
        arbor_send(parent, TAG_ACK, &(ack_t){t.id, TICKET_ASSIGNED}, sizeof(ack_t));
        if (resolve(t.id, NULL, &err) == 0)
            arbor_send(parent, TAG_ACK, &(ack_t){t.id, TICKET_RESOLVED}, sizeof(ack_t));
    }
    arbor_msg_free(m);
    arbor_send(parent, TAG_DONE, NULL, 0);
}

#define LOAD_CLIENTS 4
#define MAX_TICKETS  100000

static const char *const desk_children[] = {STORE_NAME, DESK_REGISTRY_NAME, AGENTS_NAME,
                                            DESK_TICKET_SUP_NAME, DESK_NOTIFIER_NAME};
#define NCHILDREN (sizeof desk_children / sizeof desk_children[0])

static bool tag_is_ack(const arbor_msg_t *m, void *arg)
{
    return m->tag == TAG_ACK;
}

/* Collects acknowledgements for ms milliseconds into acked[id]. */
static void collect_acks(ticket_status_t *acked, int64_t *max_id, uint64_t ms)
{
    uint64_t end = arbor_now_ms() + ms;
    for (uint64_t now; (now = arbor_now_ms()) < end;) {
        arbor_msg_t *m;
        if (arbor_receive_match(tag_is_ack, NULL, (int64_t)(end - now), &m) != 0)
            break;
        const ack_t *a = m->data;
        ASSERT_TRUE(a->id > 0 && a->id < MAX_TICKETS);
        if (a->status > acked[a->id] || acked[a->id] == (ticket_status_t)-1)
            acked[a->id] = a->status;
        if (a->id > *max_id)
            *max_id = a->id;
        arbor_msg_free(m);
    }
}

/* Kill the Store under load: its dependents restart (rest_for_one: all of
 * them, since the Store is first), the desk goes on, and every change
 * acknowledged before, during and after the kill is in the database. A
 * change may be there without its acknowledgement (committed, then the
 * Store died before replying), so the stored status must be at least the
 * acknowledged one, never behind it. */
static void store_kill_root(void *arg)
{
    desk_config_t cfg = {.db_path = db_path, .demo = true, .idle_timeout_ms = 60000};
    arbor_pid_t sup, clients[LOAD_CLIENTS], me = arbor_self();
    ASSERT_OK(desk_start(&cfg, &sup, NULL));
    ticket_status_t *acked = malloc(MAX_TICKETS * sizeof *acked);
    ASSERT_TRUE(acked != NULL);
    memset(acked, 0xff, MAX_TICKETS * sizeof *acked); /* -1: nothing acknowledged */
    int64_t max_id = 0;
    for (int i = 0; i < LOAD_CLIENTS; i++)
        ASSERT_OK(arbor_spawn(load_client, &me, &clients[i]));
    collect_acks(acked, &max_id, 300);
    int64_t before_kill = max_id;
    ASSERT_GT(before_kill, 0);

    arbor_pid_t old[NCHILDREN];
    for (size_t i = 0; i < NCHILDREN; i++)
        ASSERT_TRUE((old[i] = arbor_whereis(desk_children[i])) != ARBOR_NOPID);
    ASSERT_OK(arbor_exit_pid(old[0], ARBOR_KILL));
    /* The desk goes on after the kill: a ticket newer than any before it is
     * acknowledged, however long the restart takes on this machine. */
    uint64_t end = arbor_now_ms() + (uint64_t)arbor_test_scaled_ms(20000);
    while (max_id <= before_kill && arbor_now_ms() < end)
        collect_acks(acked, &max_id, 50);
    ASSERT_GT(max_id, before_kill);
    collect_acks(acked, &max_id, 100); /* and more, with the restarted tree */

    for (int i = 0; i < LOAD_CLIENTS; i++)
        ASSERT_OK(arbor_send(clients[i], TAG_STOP, NULL, 0));
    for (int done = 0; done < LOAD_CLIENTS;) {
        arbor_msg_t *m = arbor_test_recv(10000);
        ASSERT_TRUE(m != NULL);
        if (m->tag == TAG_DONE)
            done++;
        else if (m->tag == TAG_ACK) {
            const ack_t *a = m->data;
            if (a->status > acked[a->id] || acked[a->id] == (ticket_status_t)-1)
                acked[a->id] = a->status;
        }
        arbor_msg_free(m);
    }
    for (size_t i = 0; i < NCHILDREN; i++) { /* each restarted (perhaps still starting) */
        arbor_pid_t now;
        WAIT_UNTIL((now = arbor_whereis(desk_children[i])) != ARBOR_NOPID && now != old[i], 20000);
    }
    int checked = 0;
    for (int64_t id = 1; id < MAX_TICKETS; id++) {
        if (acked[id] == (ticket_status_t)-1)
            continue;
        ticket_t t;
        ASSERT_OK(store_get(id, &t, NULL));
        ASSERT_GE(t.status, acked[id]);
        checked++;
    }
    ASSERT_GT(checked, 0);
    free(acked);
    ASSERT_OK(arbor_sup_stop(sup, ARBOR_NORMAL));
}

TEST_TIMEOUT(store_killed_under_load_its_dependents_restart_and_nothing_acknowledged_is_lost, 60)
{
    set_db_path("kill");
    arbor_test_run(store_kill_root, NULL);
    remove_db();
}

/* Many changes arriving together are group-committed: fewer transactions
 * (fsyncs) than changes, and each one acknowledged. */
static void group_commit_root(void *arg)
{
    desk_config_t cfg = {.db_path = db_path, .demo = true, .idle_timeout_ms = 60000};
    arbor_pid_t sup, clients[LOAD_CLIENTS], me = arbor_self();
    ASSERT_OK(desk_start(&cfg, &sup, NULL));
    for (int i = 0; i < LOAD_CLIENTS; i++)
        ASSERT_OK(arbor_spawn(load_client, &me, &clients[i]));
    int acks = 0;
    for (uint64_t end = arbor_now_ms() + 300; arbor_now_ms() < end;) {
        arbor_msg_t *m = arbor_test_recv_tag(TAG_ACK, 10000);
        acks++;
        arbor_msg_free(m);
    }
    for (int i = 0; i < LOAD_CLIENTS; i++)
        ASSERT_OK(arbor_send(clients[i], TAG_STOP, NULL, 0));
    for (int done = 0; done < LOAD_CLIENTS;) {
        arbor_msg_t *m = arbor_test_recv(10000);
        ASSERT_TRUE(m != NULL);
        done += m->tag == TAG_DONE;
        acks += m->tag == TAG_ACK;
        arbor_msg_free(m);
    }
    store_stats_t st;
    ASSERT_OK(store_stats(&st));
    ASSERT_GE(st.changes, (uint64_t)acks);
    ASSERT_LT(st.transactions, st.changes); /* several changes per fsync */
    ASSERT_OK(arbor_sup_stop(sup, ARBOR_NORMAL));
}

TEST_TIMEOUT(concurrent_changes_are_group_committed, 60)
{
    set_db_path("group");
    arbor_test_run(group_commit_root, NULL);
    remove_db();
}

/* One batch holding creates and refused changes: the creates are indexed
 * for search together at the batch's end (schema version 10), and only
 * the ones made; a refused change (a stale version, a reused request id)
 * fails alone and undoes none of the others. The Store is held in a
 * store_run (on the blocking pool) while every change is sent, so that all
 * of them are in its mailbox when it comes back, and form one batch: one
 * transaction, which the stats show. */
#define BATCH_CREATES 6

/* store_run's function: *out, the rows of index_deferred. */
static int count_deferred(sqlite3 *db, const void *in, void *out)
{
    (void)in;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT count(*) FROM index_deferred", -1, &st, NULL) != SQLITE_OK)
        return ARBOR_EEXIT;
    int rc = sqlite3_step(st) == SQLITE_ROW ? 0 : ARBOR_EEXIT;
    *(int64_t *)out = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return rc;
}

/* store_run's function: *out, the connection's temp_store (2: memory,
 * where the savepoints' sub-journal must stay: store.c). */
static int temp_store(sqlite3 *db, const void *in, void *out)
{
    (void)in;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "PRAGMA temp_store", -1, &st, NULL) != SQLITE_OK)
        return ARBOR_EEXIT;
    int rc = sqlite3_step(st) == SQLITE_ROW ? 0 : ARBOR_EEXIT;
    *(int64_t *)out = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return rc;
}

/* store_run's function: a ticket inserted straight into the table, as a
 * tool or another connection would (the trigger indexes it). */
static int insert_directly(sqlite3 *db, const void *in, void *out)
{
    (void)in;
    (void)out;
    return sqlite3_exec(db,
                        "INSERT INTO tickets(description, customer, priority, status, agent,"
                        " created_at, updated_at) VALUES('direct zebra', 'Acme', 1, 0, '', 1, 1)",
                        NULL, NULL, NULL) == SQLITE_OK
               ? 0
               : ARBOR_EEXIT;
}

enum { BATCH_HOLDER = 1, BATCH_CREATE, BATCH_STALE, BATCH_REUSED };

typedef struct {
    int kind;
    int n; /* BATCH_CREATE: which */
    ticket_t stale;
    arbor_pid_t parent;
} batch_job_t;

typedef struct {
    int kind, n, rc;
    int64_t id;
    ticket_error_t err;
} batch_result_t;

static void batch_word(int n, char *word, size_t size)
{
    snprintf(word, size, "batchword%c", 'a' + n);
}

static void batch_client(void *arg)
{
    batch_job_t *job = arg;
    batch_result_t r = {.kind = job->kind, .n = job->n, .err = {.code = ""}};
    ticket_t t = fresh();
    bool replayed;
    switch (job->kind) {
    case BATCH_HOLDER:
        r.rc = store_run(desk_test_hold_store, NULL, 0, NULL, 0);
        break;
    case BATCH_CREATE:
        batch_word(job->n, t.description, sizeof t.description);
        r.rc = store_create(&t, &desk_operator, &r.err);
        r.id = t.id;
        break;
    case BATCH_STALE:
        t = job->stale;
        r.rc = legacy_update(&t, "bob", "assigned to bob", NULL, &r.err);
        break;
    case BATCH_REUSED:
        snprintf(t.description, sizeof t.description, "batchwordreused");
        r.rc = store_create_once(&t, &desk_operator, "batch-rid", 7, &replayed, &r.err);
        break;
    }
    arbor_send(job->parent, 1, &r, sizeof r);
}

/* Waits until pid is in its call to the Store: it monitors the Store
 * and waits for the answer (so its request is sent). */
static void wait_in_call(arbor_pid_t pid)
{
    arbor_process_info_t info = {0};
    WAIT_UNTIL(arbor_process_info(pid, &info) != 0 ||
                   (info.monitors == 1 && info.status == ARBOR_STATUS_WAITING),
               20000);
    ASSERT_EQ(info.monitors, 1);
    ASSERT_EQ(info.status, ARBOR_STATUS_WAITING);
}

static size_t found_by(const char *word, int64_t *first)
{
    ticket_t *found;
    size_t n;
    ASSERT_OK(store_find(&(store_filter_t){.search = word, .limit = 9}, &found, &n, NULL));
    *first = n ? found[0].id : 0;
    free(found);
    return n;
}

static void batch_index_root(void *arg)
{
    desk_config_t cfg = {.db_path = db_path, .demo = true, .idle_timeout_ms = 60000};
    arbor_pid_t sup;
    ASSERT_OK(desk_start(&cfg, &sup, NULL));
    ticket_t t = fresh(), stale;
    ticket_error_t err = {.code = ""};
    bool replayed;
    ASSERT_OK(store_create_once(&t, &desk_operator, "batch-rid", 1, &replayed, &err));
    ASSERT_OK(store_get(t.id, &stale, NULL));
    ticket_t moved = stale;
    ASSERT_TRUE(ticket_apply(&moved, ACTION_ASSIGN, "alice", ticket_now_ms(), &err));
    ASSERT_OK(legacy_update(&moved, "alice", "assigned to alice", NULL, &err));
    ASSERT_TRUE(ticket_apply(&stale, ACTION_ASSIGN, "bob", ticket_now_ms(), &err));

    store_stats_t before, after;
    ASSERT_OK(store_stats(&before));
    desk_test_hold_reset();
    batch_job_t holder = {.kind = BATCH_HOLDER, .parent = arbor_self()};
    ASSERT_OK(arbor_spawn(batch_client, &holder, NULL));
    WAIT_UNTIL(desk_test_store_held(), 20000);

    /* Creates, with a stale change and a reused request id among them. */
    batch_job_t jobs[BATCH_CREATES + 2];
    arbor_pid_t pids[BATCH_CREATES + 2];
    for (int i = 0; i < BATCH_CREATES + 2; i++) {
        int kind = i == 2 ? BATCH_STALE : i == 4 ? BATCH_REUSED : BATCH_CREATE;
        jobs[i] = (batch_job_t){.kind = kind, .n = i, .stale = stale, .parent = arbor_self()};
        ASSERT_OK(arbor_spawn(batch_client, &jobs[i], &pids[i]));
        wait_in_call(pids[i]); /* its request waits in the held Store's mailbox */
    }
    desk_test_release_store();
    int answered = 0;
    batch_result_t r[BATCH_CREATES + 3];
    while (answered < BATCH_CREATES + 3) {
        arbor_msg_t *m = arbor_test_recv_tag(1, arbor_test_scaled_ms(20000));
        r[answered++] = *(batch_result_t *)m->data;
        arbor_msg_free(m);
    }
    ASSERT_OK(store_stats(&after));
    int creates = 0;
    for (int i = 0; i < answered; i++) {
        char word[32];
        int64_t id;
        switch (r[i].kind) {
        case BATCH_HOLDER:
            ASSERT_OK(r[i].rc);
            break;
        case BATCH_CREATE:
            ASSERT_OK(r[i].rc);
            batch_word(r[i].n, word, sizeof word);
            ASSERT_EQ(found_by(word, &id), 1); /* indexed, once */
            ASSERT_EQ(id, r[i].id);
            creates++;
            break;
        case BATCH_STALE:
            ASSERT_ERR(r[i].rc, ARBOR_EAGAIN);
            ASSERT_STREQ(r[i].err.code, "conflict");
            break;
        case BATCH_REUSED:
            ASSERT_ERR(r[i].rc, ARBOR_EEXIST);
            ASSERT_STREQ(r[i].err.code, "request_id_reused");
            ASSERT_EQ(found_by("batchwordreused", &id), 0); /* not made, not indexed */
            break;
        }
    }
    ASSERT_EQ(creates, BATCH_CREATES);
    ASSERT_OK(store_get(t.id, &moved, NULL));
    ASSERT_STREQ(moved.agent, "alice"); /* the stale change changed nothing */
    /* The marker of a deferred index is never committed, and an insert
     * outside the Store's batches is indexed by the trigger. */
    int64_t deferred = -1, id;
    ASSERT_OK(store_run(count_deferred, NULL, 0, &deferred, sizeof deferred));
    ASSERT_EQ(deferred, 0);
    ASSERT_OK(store_run(insert_directly, NULL, 0, NULL, 0));
    ASSERT_EQ(found_by("zebra", &id), 1);
    /* The sub-journal (statements with triggers, a batch written again)
     * stays in memory (not in a file in /var/tmp, written page by page). */
    int64_t where = -1;
    ASSERT_OK(store_run(temp_store, NULL, 0, &where, sizeof where));
    ASSERT_EQ(where, 2);
    /* The eight changes were one transaction. */
    ASSERT_EQ(after.transactions - before.transactions, 1);
    ASSERT_EQ(after.changes - before.changes, BATCH_CREATES + 2);
    /* Its refusals wrote nothing before failing: written once, without a
     * savepoint per change. */
    ASSERT_EQ(after.rewritten - before.rewritten, 0);
    ASSERT_OK(arbor_sup_stop(sup, ARBOR_NORMAL));
}

TEST_TIMEOUT(a_batch_indexes_its_creates_at_its_end_and_a_refused_change_undoes_nothing, 60)
{
    set_db_path("batch-index");
    remove_db();
    arbor_test_run(batch_index_root, NULL);
    remove_db();
}

/* A batch is written without a savepoint per change; a change that fails
 * having written part of itself (here an update whose request id another
 * request recorded: its ticket row and history entry are written before
 * the id's record is refused) makes the Store roll the batch back and
 * write it again with one per change, so that the refused change leaves
 * nothing (no new version, history entry or outbox row) and the changes
 * before and after it are made, in one transaction. */
enum { PARTIAL_UPDATE = BATCH_REUSED + 1 };

typedef struct {
    int kind;
    ticket_t t;
    const char *request_id;
    arbor_pid_t parent;
} partial_job_t;

static void partial_client(void *arg)
{
    partial_job_t *job = arg;
    batch_result_t r = {.kind = job->kind, .err = {.code = ""}};
    ticket_t t = job->t;
    switch (job->kind) {
    case BATCH_HOLDER:
        r.rc = store_run(desk_test_hold_store, NULL, 0, NULL, 0);
        break;
    case BATCH_CREATE:
        snprintf(t.description, sizeof t.description, "partialword");
        r.rc = store_create(&t, &desk_operator, &r.err);
        break;
    case PARTIAL_UPDATE: {
        store_event_t ev = {.by = desk_operator,
                            .what = "assigned to bob",
                            .notice = "partial notice",
                            .request_id = job->request_id,
                            .request = {.ticket = t.id, .digest = 99}};
        snprintf(ev.request.what, sizeof ev.request.what, "assign");
        r.rc = store_update(&t, &ev, &r.err);
        break;
    }
    }
    r.id = t.id;
    r.n = (int)t.version;
    arbor_send(job->parent, 1, &r, sizeof r);
}

/* store_run's function: *out, the outbox rows of the ticket *in. */
static int count_outbox(sqlite3 *db, const void *in, void *out)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT count(*) FROM outbox WHERE ticket = ?", -1, &st, NULL) !=
        SQLITE_OK)
        return ARBOR_EEXIT;
    sqlite3_bind_int64(st, 1, *(const int64_t *)in);
    int rc = sqlite3_step(st) == SQLITE_ROW ? 0 : ARBOR_EEXIT;
    *(int64_t *)out = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return rc;
}

static void partial_root(void *arg)
{
    desk_config_t cfg = {.db_path = db_path, .demo = true, .idle_timeout_ms = 60000};
    arbor_pid_t sup;
    ASSERT_OK(desk_start(&cfg, &sup, NULL));
    ticket_t taken = fresh(), refused = fresh(), after_it = fresh();
    ticket_error_t err = {.code = ""};
    bool replayed;
    ASSERT_OK(store_create_once(&taken, &desk_operator, "partial-rid", 1, &replayed, &err));
    ASSERT_OK(store_create(&refused, &desk_operator, &err));
    ASSERT_OK(store_create(&after_it, &desk_operator, &err));
    ASSERT_TRUE(ticket_apply(&refused, ACTION_ASSIGN, "bob", ticket_now_ms(), &err));
    ASSERT_TRUE(ticket_apply(&after_it, ACTION_ASSIGN, "bob", ticket_now_ms(), &err));
    store_history_t *h;
    size_t history_before, n;
    ASSERT_OK(history_all(refused.id, &h, &history_before));
    free(h);

    store_stats_t before, after;
    ASSERT_OK(store_stats(&before));
    desk_test_hold_reset();
    partial_job_t holder = {.kind = BATCH_HOLDER, .parent = arbor_self()};
    ASSERT_OK(arbor_spawn(partial_client, &holder, NULL));
    WAIT_UNTIL(desk_test_store_held(), 20000);
    /* A create, the update that fails part-way, an update after it, a
     * create: in this order in the Store's mailbox. */
    partial_job_t jobs[] = {
        {.kind = BATCH_CREATE, .t = fresh(), .parent = arbor_self()},
        {.kind = PARTIAL_UPDATE, .t = refused, .request_id = "partial-rid", .parent = arbor_self()},
        {.kind = PARTIAL_UPDATE, .t = after_it, .request_id = "", .parent = arbor_self()},
        {.kind = BATCH_CREATE, .t = fresh(), .parent = arbor_self()},
    };
    enum { JOBS = sizeof jobs / sizeof jobs[0] };
    arbor_pid_t pids[JOBS];
    for (int i = 0; i < JOBS; i++) {
        ASSERT_OK(arbor_spawn(partial_client, &jobs[i], &pids[i]));
        wait_in_call(pids[i]);
    }
    desk_test_release_store();
    int creates = 0, refusals = 0, updates = 0;
    for (int answered = 0; answered < JOBS + 1; answered++) {
        arbor_msg_t *m = arbor_test_recv_tag(1, arbor_test_scaled_ms(20000));
        batch_result_t r = *(batch_result_t *)m->data;
        arbor_msg_free(m);
        if (r.kind == BATCH_CREATE) {
            ASSERT_OK(r.rc);
            ASSERT_TRUE(r.id > after_it.id);
            creates++;
        } else if (r.kind == PARTIAL_UPDATE && r.id == refused.id) {
            ASSERT_ERR(r.rc, ARBOR_EEXIST);
            ASSERT_STREQ(r.err.code, "request_id_reused");
            refusals++;
        } else if (r.kind == PARTIAL_UPDATE) {
            ASSERT_OK(r.rc);
            ASSERT_EQ(r.n, after_it.version + 1); /* raised once, though written twice */
            updates++;
        }
    }
    ASSERT_EQ(creates, 2);
    ASSERT_EQ(refusals, 1);
    ASSERT_EQ(updates, 1);

    /* The refused change left nothing. */
    ticket_t stored;
    ASSERT_OK(store_get(refused.id, &stored, NULL));
    ASSERT_EQ(stored.version, refused.version);
    ASSERT_EQ(stored.status, TICKET_OPEN);
    ASSERT_STREQ(stored.agent, "");
    ASSERT_OK(history_all(refused.id, &h, &n));
    free(h);
    ASSERT_EQ(n, history_before);
    int64_t rows = -1;
    ASSERT_OK(store_run(count_outbox, &refused.id, sizeof refused.id, &rows, sizeof rows));
    ASSERT_EQ(rows, 0);
    /* The one after it was made, once. */
    ASSERT_OK(store_get(after_it.id, &stored, NULL));
    ASSERT_EQ(stored.version, after_it.version + 1);
    ASSERT_STREQ(stored.agent, "bob");
    ASSERT_OK(history_all(after_it.id, &h, &n));
    free(h);
    ASSERT_EQ(n, history_before + 1);
    ASSERT_OK(store_run(count_outbox, &after_it.id, sizeof after_it.id, &rows, sizeof rows));
    ASSERT_EQ(rows, 1);
    int64_t id;
    ASSERT_EQ(found_by("partialword", &id), 2); /* both creates, indexed */
    /* One transaction, written twice. */
    ASSERT_OK(store_stats(&after));
    ASSERT_EQ(after.transactions - before.transactions, 1);
    ASSERT_EQ(after.changes - before.changes, JOBS);
    ASSERT_EQ(after.rewritten - before.rewritten, 1);
    ASSERT_OK(arbor_sup_stop(sup, ARBOR_NORMAL));
}

TEST_TIMEOUT(a_change_that_fails_part_way_rewrites_its_batch_and_undoes_only_itself, 60)
{
    set_db_path("batch-partial");
    remove_db();
    arbor_test_run(partial_root, NULL);
    remove_db();
}

/* A read whose Store dies before it answers is told the Store is down
 * (store_down: nothing changed, retry), as a read that finds no Store is,
 * not an untyped store_error; and the restarted Store answers it. */
typedef struct {
    int64_t id;
    arbor_pid_t parent;
} dying_read_t;

static void dying_holder(void *arg)
{
    (void)arg;
    store_run(desk_test_hold_store, NULL, 0, NULL, 0); /* the Store dies meanwhile */
}

static void dying_reader(void *arg)
{
    const dying_read_t *job = arg;
    ticket_t t;
    ticket_error_t err = {.code = ""};
    int rc = store_get(job->id, &t, &err);
    ASSERT_ERR(rc, ARBOR_EEXIT);
    arbor_send(job->parent, 1, &err, sizeof err);
}

static void dying_read_root(void *arg)
{
    (void)arg;
    desk_config_t cfg = {.db_path = db_path, .demo = true, .idle_timeout_ms = 60000};
    arbor_pid_t sup;
    ASSERT_OK(desk_start(&cfg, &sup, NULL));
    ticket_t t = fresh();
    ticket_error_t err = {.code = ""};
    ASSERT_OK(store_create(&t, &desk_operator, &err));
    desk_test_hold_reset();
    ASSERT_OK(arbor_spawn(dying_holder, NULL, NULL));
    WAIT_UNTIL(desk_test_store_held(), 20000);
    dying_read_t job = {.id = t.id, .parent = arbor_self()};
    arbor_pid_t reader;
    ASSERT_OK(arbor_spawn(dying_reader, &job, &reader));
    wait_in_call(reader);
    /* Killed while it holds: the kill takes effect once the hold returns. */
    ASSERT_OK(arbor_exit_pid(arbor_whereis(STORE_NAME), ARBOR_KILL));
    desk_test_release_store();
    arbor_msg_t *m = arbor_test_recv_tag(1, arbor_test_scaled_ms(20000));
    err = *(ticket_error_t *)m->data;
    arbor_msg_free(m);
    ASSERT_STREQ(err.code, "store_down");
    ASSERT_TRUE(strstr(err.message, "nothing was changed") != NULL);
    ticket_t again;
    WAIT_UNTIL(store_get(t.id, &again, NULL) == 0, 20000);
    ASSERT_EQ(again.version, t.version);
    ASSERT_OK(arbor_sup_stop(sup, ARBOR_NORMAL));
}

TEST_TIMEOUT(a_read_whose_store_dies_is_told_the_store_is_down, 60)
{
    set_db_path("dying-read");
    remove_db();
    arbor_test_run(dying_read_root, NULL);
    remove_db();
}

/* ---- notifications: the outbox ---------------------------------------------------- */

static char log_path[128];

/* How many lines of the log contain text. */
static int log_count(const char *text)
{
    FILE *f = fopen(log_path, "r");
    char line[256];
    int found = 0;
    while (f && fgets(line, sizeof line, f))
        found += strstr(line, text) != NULL;
    if (f)
        fclose(f);
    return found;
}

/* Creates a ticket on the running desk and assigns it to bob. */
static ticket_t create_and_assign(void)
{
    ticket_t t = fresh();
    ticket_error_t err;
    ASSERT_OK(ticket_supervisor_create_ticket(&t, NULL, &err));
    ASSERT_OK(assign_agent(t.id, "bob", NULL, &err));
    return t;
}

/* Each status change is delivered to the log, one line each, carrying its
 * notification id. */
static void notify_root(void *arg)
{
    arbor_pid_t sup;
    desk_config_t cfg = {
        .db_path = db_path, .demo = true, .log_path = log_path, .idle_timeout_ms = 60000};
    ASSERT_OK(desk_start(&cfg, &sup, NULL));
    ticket_t t = create_and_assign();
    ticket_error_t err;
    ASSERT_OK(resolve(t.id, NULL, &err));
    char assigned[64], resolved[64];
    snprintf(assigned, sizeof assigned, "Z #1 ticket %lld is now assigned", (long long)t.id);
    snprintf(resolved, sizeof resolved, "Z #2 ticket %lld is now resolved", (long long)t.id);
    WAIT_UNTIL(log_count(assigned) && log_count(resolved), 10000);
    ASSERT_EQ(log_count(assigned), 1);
    ASSERT_EQ(log_count(resolved), 1);
    int64_t pending = -1;
    WAIT_UNTIL(store_outbox_count(&pending, NULL) == 0 && pending == 0, 10000);
    ASSERT_EQ(pending, 0); /* and marked delivered */
    ASSERT_OK(arbor_sup_stop(sup, ARBOR_NORMAL));
}

TEST(status_changes_are_notified_to_the_log_with_their_ids)
{
    set_db_path("notify");
    snprintf(log_path, sizeof log_path, "/tmp/arbor-desk-notify-%d.log", (int)getpid());
    arbor_test_run(notify_root, NULL);
    remove_db();
    unlink(log_path);
}

/* store_run's function: *out, how many of the statements prepared on the
 * Store's connection are updates of tickets that set the status but
 * neither the text nor the priority (the index entries an assign or a
 * resolve does not move). */
static int count_narrow_updates(sqlite3 *db, const void *in, void *out)
{
    (void)in;
    int64_t n = 0;
    for (sqlite3_stmt *st = sqlite3_next_stmt(db, NULL); st; st = sqlite3_next_stmt(db, st)) {
        const char *sql = sqlite3_sql(st);
        n += strncmp(sql, "UPDATE OR FAIL tickets SET status = ", 36) == 0 &&
             !strstr(sql, "priority") && !strstr(sql, "description") && !strstr(sql, "customer");
    }
    *(int64_t *)out = n;
    return 0;
}

/* An update sets only the columns that changed (store.c): an assign and
 * a resolve, of a ticket the Store has in its cache, use statements that
 * leave the text and priority alone; an edit of the text after them is
 * still found by search (the text's trigger runs when the text is set). */
static void narrow_update_root(void *arg)
{
    arbor_pid_t sup;
    desk_config_t cfg = {.db_path = db_path, .demo = true, .idle_timeout_ms = 60000};
    ASSERT_OK(desk_start(&cfg, &sup, NULL));
    ticket_t t = create_and_assign();
    ticket_error_t err;
    ASSERT_OK(resolve(t.id, NULL, &err));
    int64_t narrow = -1;
    ASSERT_OK(store_run(count_narrow_updates, NULL, 0, &narrow, sizeof narrow));
    ASSERT_TRUE(narrow >= 1);
    ticket_t stored, edited;
    ASSERT_OK(store_get(t.id, &stored, NULL));
    ASSERT_EQ(stored.status, TICKET_RESOLVED);
    ASSERT_STREQ(stored.agent, "bob");
    edited = stored;
    snprintf(edited.description, sizeof edited.description, "narrowword printer");
    ASSERT_OK(legacy_update(&edited, "bob", "edited", NULL, &err));
    int64_t id;
    ASSERT_EQ(found_by("narrowword", &id), 1);
    ASSERT_EQ(id, t.id);
    ASSERT_EQ(found_by("Login", &id), 0); /* the old text left the index */
    ASSERT_OK(store_get(t.id, &stored, NULL));
    ASSERT_EQ(stored.version, edited.version);
    ASSERT_STREQ(stored.description, "narrowword printer");
    ASSERT_OK(arbor_sup_stop(sup, ARBOR_NORMAL));
}

TEST(an_update_sets_only_the_columns_it_changes)
{
    set_db_path("narrow-update");
    remove_db();
    arbor_test_run(narrow_update_root, NULL);
    remove_db();
}

/* store_run's function: a trigger that fails after an update has written
 * a ticket's row, when the update gives it the agent "boom": it makes a
 * text three times the description, longer than the Store's connection
 * now allows (SQLITE_TOOBIG, an error that is no constraint's, so SQLite's
 * FAIL does not count the row). The trigger calls no function and halts
 * nowhere, which would make SQLite keep a statement journal even for OR
 * FAIL. */
static int add_failing_trigger(sqlite3 *db, const void *in, void *out)
{
    (void)in;
    (void)out;
    sqlite3_limit(db, SQLITE_LIMIT_LENGTH, 1500);
    return sqlite3_exec(db,
                        "CREATE TABLE test_sink(x);"
                        "CREATE TRIGGER test_boom AFTER UPDATE OF agent ON tickets"
                        " WHEN new.agent = 'boom' BEGIN INSERT INTO test_sink"
                        " VALUES(new.description || new.description || new.description); END;",
                        NULL, NULL, NULL) == SQLITE_OK
               ? 0
               : ARBOR_EEXIT;
}

/* store_run's function: the stored agent and version of ticket *in, as
 * "agent version" into out (64 bytes), from the file (not the cache). */
static int stored_row(sqlite3 *db, const void *in, void *out)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT agent, version FROM tickets WHERE id = ?", -1, &st, NULL) !=
        SQLITE_OK)
        return ARBOR_EEXIT;
    sqlite3_bind_int64(st, 1, *(const int64_t *)in);
    int rc = sqlite3_step(st) == SQLITE_ROW ? 0 : ARBOR_EEXIT;
    if (!rc)
        snprintf(out, 64, "%s %lld", (const char *)sqlite3_column_text(st, 0),
                 (long long)sqlite3_column_int64(st, 1));
    sqlite3_finalize(st);
    return rc;
}

/* A ticket's update is UPDATE OR FAIL (no statement journal), so an
 * update that fails after writing its row leaves the row, which SQLite's
 * ABORT would have undone, and sqlite3_total_changes64 does not count it;
 * the Store takes any failed step of it as a
 * partial write and writes the batch again with a savepoint per change,
 * which undoes it: the refused change leaves the row, its history and
 * its version as they were, and the ticket takes a change at its old
 * version afterwards. */
static void failed_update_root(void *arg)
{
    (void)arg;
    arbor_pid_t sup;
    desk_config_t cfg = {.db_path = db_path, .demo = true, .idle_timeout_ms = 60000};
    ASSERT_OK(desk_start(&cfg, &sup, NULL));
    ticket_t t = fresh();
    memset(t.description, 'z', 700); /* three times over the limit below, once under it */
    t.description[700] = '\0';
    ticket_error_t err = {.code = ""};
    ASSERT_OK(store_create(&t, &desk_operator, &err));
    store_history_t *h;
    size_t history_before, n;
    ASSERT_OK(history_all(t.id, &h, &history_before));
    free(h);
    ASSERT_OK(store_run(add_failing_trigger, NULL, 0, NULL, 0));
    store_stats_t before, after;
    ASSERT_OK(store_stats(&before));
    ticket_t boom = t;
    snprintf(boom.agent, sizeof boom.agent, "boom");
    boom.status = TICKET_ASSIGNED;
    store_event_t ev = {.by = desk_operator, .what = "assigned to boom", .notice = "boom notice"};
    ASSERT_ERR(store_update(&boom, &ev, &err), ARBOR_EEXIT);
    ASSERT_STREQ(err.code, "store_error");
    char row[64];
    ASSERT_OK(store_run(stored_row, &t.id, sizeof t.id, row, sizeof row));
    char expected[64];
    snprintf(expected, sizeof expected, " %lld", (long long)t.version);
    ASSERT_STREQ(row, expected); /* no agent, the version it had */
    ASSERT_OK(store_stats(&after));
    ASSERT_EQ(after.rewritten - before.rewritten, 1);
    ASSERT_OK(history_all(t.id, &h, &n));
    free(h);
    ASSERT_EQ(n, history_before);
    int64_t rows = -1;
    ASSERT_OK(store_run(count_outbox, &t.id, sizeof t.id, &rows, sizeof rows));
    ASSERT_EQ(rows, 0);
    ticket_t bob = t;
    snprintf(bob.agent, sizeof bob.agent, "bob");
    bob.status = TICKET_ASSIGNED;
    ev.what = "assigned to bob";
    ASSERT_OK(store_update(&bob, &ev, &err));
    ASSERT_OK(store_run(stored_row, &t.id, sizeof t.id, row, sizeof row));
    snprintf(expected, sizeof expected, "bob %lld", (long long)t.version + 1);
    ASSERT_STREQ(row, expected);
    ASSERT_OK(arbor_sup_stop(sup, ARBOR_NORMAL));
}

TEST(an_update_that_fails_after_writing_its_row_is_undone)
{
    set_db_path("failed-update");
    remove_db();
    arbor_test_run(failed_update_root, NULL);
    remove_db();
}

/* The outbox rows of ticket id whose text contains what, read from the
 * file by a connection of the test's own. */
static int outbox_rows(int64_t id, const char *what, bool pending_only)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    ASSERT_EQ(sqlite3_open(db_path, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    ASSERT_EQ(sqlite3_prepare_v2(db,
                                 "SELECT count(*) FROM outbox WHERE ticket = ? AND instr(text, ?)"
                                 " AND (? = 0 OR delivered_at IS NULL)",
                                 -1, &st, NULL),
              SQLITE_OK);
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_text(st, 2, what, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, pending_only);
    ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
    int n = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

/* The notification is committed with its change or not at all: an
 * acknowledged change's row is in the file when the change is
 * acknowledged (no sink here, so nothing has touched it since); a change
 * refused as stale, or one the database could not write, leaves none. */
static void outbox_root(void *arg)
{
    arbor_pid_t sup;
    desk_config_t cfg = {.db_path = db_path, .demo = true, .idle_timeout_ms = 60000}; /* no sink */
    ASSERT_OK(desk_start(&cfg, &sup, NULL));
    ticket_t t = create_and_assign();
    ASSERT_EQ(outbox_rows(t.id, "is now assigned", true), 1);

    ticket_t a, b;
    ticket_error_t err = {.code = ""};
    ASSERT_OK(store_get(t.id, &a, NULL));
    b = a;
    ASSERT_TRUE(ticket_apply(&a, ACTION_RESOLVE, NULL, ticket_now_ms(), &err));
    ASSERT_TRUE(ticket_apply(&b, ACTION_RESOLVE, NULL, ticket_now_ms(), &err));
    ASSERT_OK(legacy_update(&a, "desk", "resolved", "first: ticket is now resolved", &err));
    ASSERT_ERR(legacy_update(&b, "desk", "resolved", "stale: ticket is now resolved", &err),
               ARBOR_EAGAIN);
    ASSERT_EQ(outbox_rows(t.id, "first:", true), 1);
    ASSERT_EQ(outbox_rows(t.id, "stale:", false), 0);

    /* The history cannot be written: the change fails, and its
     * notification with it. */
    sqlite3 *db;
    ASSERT_EQ(sqlite3_open(db_path, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    ASSERT_EQ(sqlite3_exec(db, "ALTER TABLE history RENAME TO history_gone", NULL, NULL, NULL),
              SQLITE_OK);
    ASSERT_OK(store_get(t.id, &a, NULL));
    ASSERT_TRUE(ticket_apply(&a, ACTION_CLOSE, NULL, ticket_now_ms(), &err));
    ASSERT_ERR(legacy_update(&a, "desk", "closed", "failed: ticket is now closed", &err),
               ARBOR_EEXIT);
    ASSERT_EQ(sqlite3_exec(db, "ALTER TABLE history_gone RENAME TO history", NULL, NULL, NULL),
              SQLITE_OK);
    sqlite3_close(db);
    ASSERT_EQ(outbox_rows(t.id, "failed:", false), 0);
    int64_t pending;
    ASSERT_OK(store_outbox_count(&pending, NULL));
    ASSERT_EQ(pending, 2); /* assigned, first: nothing is delivered without a sink */
    ASSERT_OK(arbor_sup_stop(sup, ARBOR_NORMAL));
}

TEST(a_notification_is_committed_with_its_change_or_not_at_all)
{
    set_db_path("outbox");
    arbor_test_run(outbox_root, NULL);
    remove_db();
}

/* A sink for the tests: it fails while open is false, counting its
 * attempts and their times, and records the ids it delivers. */
#define SINK_MAX 64
static struct {
    _Atomic bool open;
    _Atomic int attempts;
    _Atomic uint64_t attempt_ms[SINK_MAX];
    _Atomic int delivered;
    _Atomic int64_t ids[SINK_MAX];
} sink;

static size_t test_deliver(void *ctx, const store_notification_t *rows, size_t n, char *why,
                           size_t size)
{
    int a = atomic_fetch_add(&sink.attempts, 1);
    if (a < SINK_MAX)
        atomic_store(&sink.attempt_ms[a], arbor_now_ms());
    if (!atomic_load(&sink.open)) {
        snprintf(why, size, "the test's sink is closed");
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        int d = atomic_fetch_add(&sink.delivered, 1);
        ASSERT_LT(d, SINK_MAX);
        atomic_store(&sink.ids[d], rows[i].id);
    }
    return n;
}

static const notifier_sink_t test_sink = {.name = "test", .deliver = test_deliver};

/* Every id from 1 to n was delivered exactly once. */
static void delivered_once(int n)
{
    ASSERT_EQ(atomic_load(&sink.delivered), n);
    for (int id = 1; id <= n; id++) {
        int seen = 0;
        for (int i = 0; i < n; i++)
            seen += atomic_load(&sink.ids[i]) == id;
        ASSERT_EQ(seen, 1);
    }
}

static int reports_failing, reports_recovered;

static void count_reports(const arbor_report_t *r, void *ctx)
{
    if (r->kind == ARBOR_REPORT_WARNING && strcmp(r->what, "sink_failing") == 0)
        __atomic_fetch_add(&reports_failing, 1, __ATOMIC_SEQ_CST);
    if (r->kind == ARBOR_REPORT_WARNING && strcmp(r->what, "sink_recovered") == 0)
        __atomic_fetch_add(&reports_recovered, 1, __ATOMIC_SEQ_CST);
}

static bool dispatcher_failing(uint64_t min_attempts)
{
    notifier_status_t st;
    return notifier_status(&st) == 0 && st.failing && st.attempts >= min_attempts;
}

/* The Dispatcher is killed while notifications are pending (its sink is
 * failing): the restarted one resumes from the outbox and delivers each
 * of them, once. */
static void dispatcher_crash_root(void *arg)
{
    arbor_pid_t sup;
    desk_config_t cfg = {
        .db_path = db_path, .demo = true, .sink = &test_sink, .idle_timeout_ms = 60000};
    ASSERT_OK(desk_start(&cfg, &sup, NULL));
    ticket_t t = create_and_assign();
    ticket_error_t err;
    ASSERT_OK(resolve(t.id, NULL, &err));
    WAIT_UNTIL(dispatcher_failing(1), 10000);
    ASSERT_TRUE(dispatcher_failing(1));
    arbor_pid_t old = arbor_whereis(DISPATCHER_NAME);
    ASSERT_OK(arbor_exit_pid(old, ARBOR_KILL));
    arbor_test_wait_dead(old, 5000);
    WAIT_UNTIL(arbor_whereis(DISPATCHER_NAME) != ARBOR_NOPID, 10000); /* after its back-off */
    ASSERT_NE(arbor_whereis(DISPATCHER_NAME), ARBOR_NOPID);
    atomic_store(&sink.open, true);
    WAIT_UNTIL(atomic_load(&sink.delivered) >= 2, 10000);
    int64_t pending = -1;
    WAIT_UNTIL(store_outbox_count(&pending, NULL) == 0 && pending == 0, 10000);
    ASSERT_EQ(pending, 0);
    delivered_once(2);
    ASSERT_OK(arbor_sup_stop(sup, ARBOR_NORMAL));
}

TEST_TIMEOUT(pending_notifications_are_delivered_after_the_dispatcher_crashes, 60)
{
    set_db_path("dispatcher");
    arbor_test_run(dispatcher_crash_root, NULL);
    remove_db();
}

/* The same when the Store is killed: rest_for_one restarts everything
 * after it, the Notifier included, and the new Dispatcher resumes. */
static void store_crash_root(void *arg)
{
    arbor_pid_t sup;
    desk_config_t cfg = {
        .db_path = db_path, .demo = true, .sink = &test_sink, .idle_timeout_ms = 60000};
    ASSERT_OK(desk_start(&cfg, &sup, NULL));
    create_and_assign();
    WAIT_UNTIL(dispatcher_failing(1), 10000);
    ASSERT_TRUE(dispatcher_failing(1));
    arbor_pid_t store = arbor_whereis(STORE_NAME), old = arbor_whereis(DISPATCHER_NAME);
    ASSERT_OK(arbor_exit_pid(store, ARBOR_KILL));
    arbor_test_wait_dead(old, 5000);
    WAIT_UNTIL(arbor_whereis(DISPATCHER_NAME) != ARBOR_NOPID, 10000);
    ASSERT_NE(arbor_whereis(STORE_NAME), store);
    atomic_store(&sink.open, true);
    int64_t pending = -1;
    WAIT_UNTIL(store_outbox_count(&pending, NULL) == 0 && pending == 0, 10000);
    ASSERT_EQ(pending, 0);
    delivered_once(1);
    ASSERT_OK(arbor_sup_stop(sup, ARBOR_NORMAL));
}

TEST_TIMEOUT(pending_notifications_are_delivered_after_the_store_crashes, 60)
{
    set_db_path("storecrash");
    arbor_test_run(store_crash_root, NULL);
    remove_db();
}

/* A sink that keeps failing: the Dispatcher retries after 200, 400,
 * 800 ms (doubling), reports once that delivery fails and once that it
 * recovered, never restarts anything, and the desk answers meanwhile;
 * once the sink works, each notification is delivered once. */
static void failing_sink_root(void *arg)
{
    arbor_report_set_handler(count_reports, NULL);
    arbor_pid_t sup;
    desk_config_t cfg = {
        .db_path = db_path, .demo = true, .sink = &test_sink, .idle_timeout_ms = 60000};
    ASSERT_OK(desk_start(&cfg, &sup, NULL));
    arbor_pid_t dispatcher = arbor_whereis(DISPATCHER_NAME);
    arbor_pid_t notifier = arbor_whereis(NOTIFIER_NAME);
    create_and_assign();
    WAIT_UNTIL(dispatcher_failing(4), 10000);
    ASSERT_TRUE(dispatcher_failing(4));
    /* Attempt k + 1 comes at least 200 * 2^(k-1) ms after attempt k (a
     * timer never fires early). */
    for (int k = 1; k < 4; k++) {
        uint64_t gap = atomic_load(&sink.attempt_ms[k]) - atomic_load(&sink.attempt_ms[k - 1]);
        ASSERT_GE(gap, (uint64_t)NOTIFIER_BACKOFF_FIRST_MS << (k - 1));
    }
    notifier_status_t st;
    ASSERT_OK(notifier_status(&st));
    ASSERT_STREQ(st.sink, "test");
    ASSERT_STREQ(st.last_error, "the test's sink is closed");
    ASSERT_GT(st.failing_since_ms, 0);
    /* The desk goes on: changes are acknowledged while the sink fails. */
    for (int i = 0; i < 3; i++) {
        ticket_t t = create_and_assign();
        ticket_error_t err;
        ASSERT_OK(resolve(t.id, NULL, &err));
    }
    ASSERT_EQ(__atomic_load_n(&reports_failing, __ATOMIC_SEQ_CST), 1);
    atomic_store(&sink.open, true);
    int64_t pending = -1;
    WAIT_UNTIL(store_outbox_count(&pending, NULL) == 0 && pending == 0, 40000);
    ASSERT_EQ(pending, 0);
    delivered_once(7); /* 1 + 3 assignments, 3 resolutions */
    WAIT_UNTIL(__atomic_load_n(&reports_recovered, __ATOMIC_SEQ_CST) == 1, 5000);
    ASSERT_EQ(__atomic_load_n(&reports_recovered, __ATOMIC_SEQ_CST), 1);
    ASSERT_EQ(__atomic_load_n(&reports_failing, __ATOMIC_SEQ_CST), 1);
    /* Nothing was restarted. */
    ASSERT_EQ(arbor_whereis(DISPATCHER_NAME), dispatcher);
    ASSERT_EQ(arbor_whereis(NOTIFIER_NAME), notifier);
    ASSERT_OK(notifier_status(&st));
    ASSERT_FALSE(st.failing);
    ASSERT_OK(arbor_sup_stop(sup, ARBOR_NORMAL));
}

TEST_TIMEOUT(a_failing_sink_backs_off_reports_once_and_the_desk_still_answers, 90)
{
    set_db_path("failing");
    arbor_test_run(failing_sink_root, NULL);
    remove_db();
}

/* The log is on a full disk (/dev/full: every write fails with ENOSPC):
 * delivery fails and says why, the notifications stay pending, and the
 * desk answers meanwhile. */
static void full_log_root(void *arg)
{
    arbor_pid_t sup;
    desk_config_t cfg = {
        .db_path = db_path, .demo = true, .log_path = "/dev/full", .idle_timeout_ms = 60000};
    ASSERT_OK(desk_start(&cfg, &sup, NULL));
    create_and_assign();
    WAIT_UNTIL(dispatcher_failing(2), 10000);
    notifier_status_t st;
    ASSERT_OK(notifier_status(&st));
    ASSERT_TRUE(st.failing);
    ASSERT_TRUE(strstr(st.last_error, "cannot append to /dev/full: No space left on device") !=
                NULL);
    ticket_t t = create_and_assign();
    ticket_error_t err;
    ASSERT_OK(resolve(t.id, NULL, &err));
    int64_t pending;
    ASSERT_OK(store_outbox_count(&pending, NULL));
    ASSERT_EQ(pending, 3);
    ASSERT_EQ(st.delivered, 0);
    ASSERT_OK(arbor_sup_stop(sup, ARBOR_NORMAL));
}

TEST_TIMEOUT(a_full_log_keeps_notifications_pending_and_the_desk_answers, 60)
{
    set_db_path("full");
    arbor_test_run(full_log_root, NULL);
    remove_db();
}

/* The log's directory does not exist: delivery fails (and backs off),
 * the assignment is not held back, and once the directory appears the
 * notification is written, once. */
static char log_dir[64];

static void notify_retry_root(void *arg)
{
    arbor_pid_t sup;
    desk_config_t cfg = {
        .db_path = db_path, .demo = true, .log_path = log_path, .idle_timeout_ms = 60000};
    ASSERT_OK(desk_start(&cfg, &sup, NULL));
    ticket_t t = create_and_assign(); /* the assignment was not held back */
    WAIT_UNTIL(dispatcher_failing(2), 10000);
    notifier_status_t st;
    ASSERT_OK(notifier_status(&st));
    ASSERT_TRUE(st.failing);
    ASSERT_TRUE(strstr(st.last_error, log_path) != NULL);
    ASSERT_TRUE(strstr(st.last_error, "No such file or directory") != NULL);
    ASSERT_EQ(mkdir(log_dir, 0700), 0);
    char assigned[64];
    snprintf(assigned, sizeof assigned, "#1 ticket %lld is now assigned", (long long)t.id);
    WAIT_UNTIL(log_count(assigned), 40000);
    ASSERT_EQ(log_count(assigned), 1);
    ASSERT_OK(arbor_sup_stop(sup, ARBOR_NORMAL));
}

TEST_TIMEOUT(a_failing_notification_is_retried_and_never_blocks_the_ticket, 60)
{
    set_db_path("retry");
    snprintf(log_dir, sizeof log_dir, "/tmp/arbor-desk-retry-%d", (int)getpid());
    snprintf(log_path, sizeof log_path, "%s/notifications.log", log_dir);
    arbor_test_run(notify_retry_root, NULL);
    remove_db();
    unlink(log_path);
    rmdir(log_dir);
}

/* A change the Store did not confirm leaves the worker's copy in doubt:
 * the caller gets the error and the worker stops, to be started again from
 * the Store on the next request. Here the Store cannot write the history
 * (the table was renamed behind its back). */
static void unconfirmed_root(void *arg)
{
    desk_config_t cfg = {.db_path = db_path, .demo = true, .idle_timeout_ms = 60000};
    arbor_pid_t sup, worker;
    ASSERT_OK(desk_start(&cfg, &sup, NULL));
    ticket_t t = fresh(), out;
    ticket_error_t err;
    ASSERT_OK(ticket_supervisor_create_ticket(&t, NULL, &err));
    ASSERT_OK(assign_agent(t.id, "bob", NULL, &err));
    ASSERT_OK(desk_worker(t.id, &worker));
    sqlite3 *db;
    ASSERT_EQ(sqlite3_open(db_path, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    ASSERT_EQ(sqlite3_exec(db, "ALTER TABLE history RENAME TO history_gone", NULL, NULL, NULL),
              SQLITE_OK);
    ASSERT_ERR(resolve(t.id, &out, &err), ARBOR_EEXIT);
    ASSERT_STREQ(err.code, "store_error");
    ASSERT_EQ(out.status, TICKET_ASSIGNED); /* what the worker last knew */
    arbor_test_wait_dead(worker, 5000);     /* and it did not stay */
    ASSERT_EQ(sqlite3_exec(db, "ALTER TABLE history_gone RENAME TO history", NULL, NULL, NULL),
              SQLITE_OK);
    sqlite3_close(db);
    ASSERT_OK(desk_get(t.id, &out, NULL)); /* a new worker, from the Store */
    ASSERT_EQ(out.status, TICKET_ASSIGNED);
    ASSERT_OK(resolve(t.id, &out, &err));
    ASSERT_EQ(out.status, TICKET_RESOLVED);
    ASSERT_OK(arbor_sup_stop(sup, ARBOR_NORMAL));
}

TEST(an_unconfirmed_change_stops_the_worker_which_reloads_on_the_next_request)
{
    set_db_path("unconfirmed");
    arbor_test_run(unconfirmed_root, NULL);
    remove_db();
}

/* A worker killed while the Store has its change: the caller cannot know
 * whether the change was made, and is told so (outcome_unknown), without
 * trying it again (a retry would make it twice: the Store commits it all
 * the same). The Store's test hook delays its commits, so that the worker
 * is held in its call to the Store (it monitors the Store then) long
 * enough to be killed there. */
static void poster(void *arg)
{
    const racer_t *r = arg;
    result_t res = {0};
    res.rc = desk_post(r->id, STORE_NOTE, "noted once", &desk_operator, NULL, &res.err);
    arbor_send(r->parent, 1, &res, sizeof res);
}

static int count_notes(int64_t id, const char *text)
{
    store_history_t *rows;
    size_t n;
    int notes = 0;
    ASSERT_OK(history_all(id, &rows, &n));
    for (size_t i = 0; i < n; i++)
        notes += rows[i].message == STORE_NOTE && strcmp(rows[i].text, text) == 0;
    free(rows);
    return notes;
}

static void killed_worker_root(void *arg)
{
    desk_config_t cfg = {.db_path = db_path, .idle_timeout_ms = 60000};
    arbor_pid_t sup, worker;
    ASSERT_OK(desk_start(&cfg, &sup, NULL));
    ticket_t t = fresh();
    ticket_error_t err;
    ASSERT_OK(ticket_supervisor_create_ticket(&t, NULL, &err));
    ASSERT_OK(desk_worker(t.id, &worker));
    /* Answered once the worker has loaded its ticket (a call to the Store,
     * which may wait behind others: the SlaTimer reads the due times at
     * start), so that its next call to the Store is the commit. */
    ticket_t loaded;
    ASSERT_OK(desk_get(t.id, &loaded, NULL));
    racer_t r = {t.id, NULL, arbor_self()};
    ASSERT_OK(arbor_spawn(poster, &r, NULL));
    /* The worker calls the Store (and monitors it) only to commit. */
    int64_t deadline = (int64_t)arbor_now_ms() + arbor_test_scaled_ms(10000);
    arbor_process_info_t info = {0};
    while (arbor_process_info(worker, &info) == 0 && info.monitors == 0 &&
           (int64_t)arbor_now_ms() < deadline)
        arbor_yield();
    ASSERT_EQ(info.monitors, 1);
    ASSERT_OK(arbor_exit_pid(worker, arbor_error("killed by the test")));
    arbor_msg_t *m = arbor_test_recv_tag(1, arbor_test_scaled_ms(10000));
    result_t res = *(result_t *)m->data;
    arbor_msg_free(m);
    ASSERT_EQ(res.rc, ARBOR_EEXIT);
    ASSERT_STREQ(res.err.code, "outcome_unknown");
    ASSERT_TRUE(strstr(res.err.message, "may or may not") != NULL);
    ASSERT_EQ(count_notes(t.id, "noted once"), 1); /* made, once, though unconfirmed */
    ASSERT_OK(arbor_sup_stop(sup, ARBOR_NORMAL));
}

TEST(a_worker_killed_with_the_change_in_hand_answers_outcome_unknown_and_no_retry)
{
    set_db_path("killed-worker");
    remove_db();
    setenv("ARBOR_DESK_TEST_COMMIT_DELAY_MS", "300", 1);
    arbor_test_run(killed_worker_root, NULL);
    unsetenv("ARBOR_DESK_TEST_COMMIT_DELAY_MS");
    remove_db();
}

/* ---- versions: no change computed from a stale copy --------------------------------- */

/* Two copies of one ticket: the first change is stored and raises the
 * version; the second, computed from the same (now stale) copy, is refused
 * as a conflict and changes nothing. */
static void stale_root(void *arg)
{
    desk_config_t cfg = {.db_path = db_path, .demo = true, .idle_timeout_ms = 60000};
    arbor_pid_t sup;
    ASSERT_OK(desk_start(&cfg, &sup, NULL));
    ticket_t t = fresh(), a, b, now;
    ticket_error_t err = {.code = ""};
    ASSERT_OK(ticket_supervisor_create_ticket(&t, NULL, &err));
    ASSERT_OK(store_get(t.id, &a, NULL));
    b = a;
    ASSERT_TRUE(ticket_apply(&a, ACTION_ASSIGN, "bob", ticket_now_ms(), &err));
    ASSERT_TRUE(ticket_apply(&b, ACTION_ASSIGN, "alice", ticket_now_ms(), &err));
    int64_t v = a.version;
    ASSERT_OK(legacy_update(&a, "bob", "assigned to bob", NULL, &err));
    ASSERT_EQ(a.version, v + 1);
    ASSERT_ERR(legacy_update(&b, "alice", "assigned to alice", NULL, &err), ARBOR_EAGAIN);
    ASSERT_STREQ(err.code, "conflict");
    ASSERT_OK(store_get(t.id, &now, NULL));
    ASSERT_STREQ(now.agent, "bob");
    ASSERT_EQ(now.version, v + 1);
    store_history_t *rows;
    size_t n;
    ASSERT_OK(history_all(t.id, &rows, &n));
    ASSERT_EQ(n, 2); /* created, assigned to bob: nothing from the stale copy */
    free(rows);
    /* The ticket's worker still holds the copy from before bob's change:
     * its assignment is refused too, and it reloads for the next one. */
    ASSERT_ERR(assign_agent(t.id, "alice", &now, &err), ARBOR_EAGAIN);
    ASSERT_STREQ(err.code, "conflict");
    ASSERT_OK(resolve(t.id, &now, &err));
    ASSERT_STREQ(now.agent, "bob");
    ASSERT_EQ(now.version, v + 2);
    ASSERT_OK(arbor_sup_stop(sup, ARBOR_NORMAL));
}

TEST(a_change_computed_from_a_stale_copy_is_refused_as_a_conflict)
{
    set_db_path("stale");
    arbor_test_run(stale_root, NULL);
    remove_db();
}

/* A database of schema version 1 (no version column, an outbox never
 * read back) is migrated: the column is added and its tickets can be
 * changed; its old notifications are taken as delivered, and new ones
 * are pending until delivered. */
static void migrate_root(void *arg)
{
    desk_config_t cfg = {.db_path = db_path, .demo = true, .idle_timeout_ms = 60000};
    arbor_pid_t sup;
    ASSERT_OK(desk_start(&cfg, &sup, NULL));
    ticket_t t;
    ticket_error_t err = {.code = ""};
    ASSERT_OK(store_get(1, &t, NULL));
    ASSERT_STREQ(t.description, "old ticket");
    ASSERT_EQ(t.version, 0);
    int64_t pending;
    ASSERT_OK(store_outbox_count(&pending, NULL));
    ASSERT_EQ(pending, 0); /* an old file's notifications count as delivered */
    ASSERT_OK(assign_agent(1, "bob", &t, &err));
    ASSERT_EQ(t.version, 1);
    ASSERT_OK(store_outbox_count(&pending, NULL));
    ASSERT_EQ(pending, 1); /* the assignment's, pending: this desk has no sink */
    ASSERT_OK(arbor_sup_stop(sup, ARBOR_NORMAL));
}

TEST(a_version_1_database_gains_the_version_column)
{
    set_db_path("migrate");
    sqlite3 *db;
    ASSERT_EQ(sqlite3_open(db_path, &db), SQLITE_OK);
    ASSERT_EQ(
        sqlite3_exec(db,
                     "CREATE TABLE tickets(id INTEGER PRIMARY KEY AUTOINCREMENT, description TEXT"
                     " NOT NULL, customer TEXT NOT NULL, priority INTEGER NOT NULL, status INTEGER"
                     " NOT NULL, agent TEXT NOT NULL, created_at INTEGER NOT NULL, updated_at"
                     " INTEGER NOT NULL);"
                     "CREATE TABLE history(id INTEGER PRIMARY KEY AUTOINCREMENT, ticket INTEGER"
                     " NOT NULL REFERENCES tickets(id), at INTEGER NOT NULL, who TEXT NOT NULL,"
                     " what TEXT NOT NULL);"
                     "CREATE TABLE agents(name TEXT PRIMARY KEY, added INTEGER NOT NULL);"
                     "CREATE TABLE outbox(id INTEGER PRIMARY KEY AUTOINCREMENT, ticket INTEGER NOT"
                     " NULL, at INTEGER NOT NULL, text TEXT NOT NULL);"
                     "INSERT INTO agents VALUES('bob', 1);"
                     "INSERT INTO tickets VALUES(1, 'old ticket', '', 1, 0, '', 1, 1);"
                     "INSERT INTO outbox VALUES(1, 1, 1, 'ticket 1 is now open');"
                     "PRAGMA user_version = 1;",
                     NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);
    arbor_test_run(migrate_root, NULL);
    remove_db();
}

/* A change of action to agent, in process memory (a change is 10 KB: too
 * much for a process's stack frame); arbor_free() it. */
static ticket_change_t *change_to(ticket_action_t action, const char *agent)
{
    ticket_change_t *c = arbor_calloc(1, sizeof *c);
    ASSERT_TRUE(c != NULL);
    c->action = action;
    snprintf(c->agent, sizeof c->agent, "%s", agent);
    return c;
}

/* Request ids: a retried create or change is made once and answered as
 * the first time; the id of another request is refused; an id older than
 * STORE_REQUEST_KEEP_MS is forgotten (deleted by the next change that
 * records an id), so that its reuse is a new request. The first run
 * records "aged" and "kept"; between the runs "aged" is made 25 hours
 * old in the file. */
static void request_ids_first_root(void *arg)
{
    desk_config_t cfg = {.db_path = db_path, .demo = true, .idle_timeout_ms = 60000};
    arbor_pid_t sup;
    ASSERT_OK(desk_start(&cfg, &sup, NULL));
    ticket_t t = fresh(), again = fresh(), out;
    ticket_error_t err = {.code = ""};
    desk_once_t once = {.request_id = "aged"};
    ASSERT_OK(desk_create_once(&t, &desk_operator, &once, NULL, &err));
    ASSERT_FALSE(once.replayed);
    ASSERT_OK(desk_create_once(&again, &desk_operator, &once, NULL, &err));
    ASSERT_TRUE(once.replayed);
    ASSERT_EQ(again.id, t.id);
    /* A change retried after it moved the ticket on: answered as made. */
    once.request_id = "kept";
    ticket_change_t *assign = change_to(ACTION_ASSIGN, "bob"),
                    *reassign = change_to(ACTION_REASSIGN, "alice");
    for (int i = 0; i < 2; i++) {
        ASSERT_OK(desk_change_once(t.id, -1, assign, &desk_operator, &once, &out, &err));
        ASSERT_EQ(once.replayed, i == 1);
        ASSERT_EQ(out.version, 1);
    }
    /* The same id, another change (another agent): refused, unchanged. */
    ASSERT_ERR(desk_change_once(t.id, -1, reassign, &desk_operator, &once, &out, &err),
               ARBOR_EEXIST);
    arbor_free(assign);
    arbor_free(reassign);
    ASSERT_STREQ(err.code, "request_id_reused");
    ASSERT_OK(desk_get(t.id, &out, NULL));
    ASSERT_STREQ(out.agent, "bob");
    once.request_id = "has a blank";
    ASSERT_ERR(desk_create_once(&again, &desk_operator, &once, NULL, &err), ARBOR_EINVAL);
    ASSERT_STREQ(err.code, "bad_request_id");
    ASSERT_OK(arbor_sup_stop(sup, ARBOR_NORMAL));
}

static void request_ids_second_root(void *arg)
{
    desk_config_t cfg = {.db_path = db_path, .idle_timeout_ms = 60000};
    arbor_pid_t sup;
    ASSERT_OK(desk_start(&cfg, &sup, NULL));
    ticket_t t = fresh(), out;
    ticket_error_t err = {.code = ""};
    desk_once_t once = {.request_id = "new"};
    ASSERT_OK(desk_create_once(&t, &desk_operator, &once, NULL, &err)); /* deletes "aged" */
    ASSERT_EQ(t.id, 2);
    once.request_id = "aged";
    t = fresh();
    ASSERT_OK(desk_create_once(&t, &desk_operator, &once, NULL, &err));
    ASSERT_FALSE(once.replayed); /* forgotten: a new ticket */
    ASSERT_EQ(t.id, 3);
    once.request_id = "kept"; /* still known */
    ticket_change_t *assign = change_to(ACTION_ASSIGN, "bob");
    ASSERT_OK(desk_change_once(1, -1, assign, &desk_operator, &once, &out, &err));
    arbor_free(assign);
    ASSERT_TRUE(once.replayed);
    ASSERT_OK(arbor_sup_stop(sup, ARBOR_NORMAL));
}

TEST(request_ids_make_a_retry_once_and_are_forgotten_after_a_day)
{
    set_db_path("request-ids");
    remove_db();
    arbor_test_run(request_ids_first_root, NULL);
    sqlite3 *db;
    ASSERT_EQ(sqlite3_open(db_path, &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, "UPDATE requests SET at = at - 25 * 3600 * 1000 WHERE id = 'aged';",
                           NULL, NULL, NULL),
              SQLITE_OK);
    ASSERT_EQ(sqlite3_changes(db), 1);
    sqlite3_close(db);
    arbor_test_run(request_ids_second_root, NULL);
    ASSERT_EQ(sqlite3_open(db_path, &db), SQLITE_OK);
    sqlite3_stmt *st;
    ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT count(*) FROM requests", -1, &st, NULL), SQLITE_OK);
    ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
    ASSERT_EQ(sqlite3_column_int(st, 0), 3); /* kept, new, and aged again */
    sqlite3_finalize(st);
    sqlite3_close(db);
    remove_db();
}

/* The roster's changes under request ids, as a ticket's: a retried add,
 * rename or deactivate is answered as made and changes nothing more (one
 * agent, one rename); the id of another request (another name, or a
 * ticket's change) is refused and changes nothing. */
static void roster_request_ids_root(void *arg)
{
    desk_config_t cfg = {.db_path = db_path, .demo = true, .idle_timeout_ms = 60000};
    arbor_pid_t sup;
    ASSERT_OK(desk_start(&cfg, &sup, NULL));
    ticket_error_t err = {.code = ""};
    desk_once_t once = {.request_id = "add-cy"};
    for (int i = 0; i < 2; i++) {
        ASSERT_OK(desk_agent_add("cy", NULL, &once, &err));
        ASSERT_EQ(once.replayed, i == 1);
    }
    /* The same id, another agent: refused, no agent added. */
    ASSERT_ERR(desk_agent_add("dee", NULL, &once, &err), ARBOR_EEXIST);
    ASSERT_STREQ(err.code, "request_id_reused");
    ASSERT_ERR(agents_lookup("dee", NULL, NULL), ARBOR_ENOENT);
    store_agent_t *list;
    size_t n;
    ASSERT_OK(agents_list(&list, &n, &err));
    ASSERT_EQ(n, 3); /* alice, bob, cy once */
    free(list);
    /* A rename retried after it was made: answered as made, not "there is
     * no agent cy". */
    once.request_id = "rename-cy";
    for (int i = 0; i < 2; i++) {
        ASSERT_OK(desk_agent_rename_once("cy", "cyd", &desk_operator, &once, &err));
        ASSERT_EQ(once.replayed, i == 1);
    }
    ASSERT_OK(agents_lookup("cyd", NULL, NULL));
    /* A deactivate retried after the agent was activated again: the
     * first outcome is answered, and the activation since stands. */
    once.request_id = "off-cyd";
    ticket_t *open;
    ASSERT_OK(desk_agent_deactivate_once("cyd", &once, &open, &n, &err));
    free(open);
    ASSERT_OK(desk_agent_set("cyd", 1, -1, NULL, &err));
    ASSERT_OK(desk_agent_deactivate_once("cyd", &once, &open, &n, &err));
    free(open);
    ASSERT_TRUE(once.replayed);
    store_agent_t a;
    ASSERT_OK(agents_lookup("cyd", &a, NULL));
    ASSERT_TRUE(a.active);
    /* A roster change's id is refused for a ticket's change, and the
     * other way round. */
    ticket_t t = fresh(), out;
    ASSERT_OK(desk_create(&t, &desk_operator, NULL, &err));
    ticket_change_t *assign = change_to(ACTION_ASSIGN, "bob");
    ASSERT_ERR(desk_change_once(t.id, -1, assign, &desk_operator, &once, &out, &err), ARBOR_EEXIST);
    ASSERT_STREQ(err.code, "request_id_reused");
    once.request_id = "assign-bob";
    ASSERT_OK(desk_change_once(t.id, -1, assign, &desk_operator, &once, &out, &err));
    arbor_free(assign);
    ASSERT_ERR(desk_agent_set("bob", -1, 0, &once, &err), ARBOR_EEXIST);
    ASSERT_STREQ(err.code, "request_id_reused");
    ASSERT_OK(agents_lookup("bob", &a, NULL));
    ASSERT_TRUE(a.available);
    once.request_id = "has a blank";
    ASSERT_ERR(desk_agent_add("eve", NULL, &once, &err), ARBOR_EINVAL);
    ASSERT_STREQ(err.code, "bad_request_id");
    ASSERT_OK(arbor_sup_stop(sup, ARBOR_NORMAL));
}

TEST(roster_changes_under_a_request_id_are_made_once)
{
    set_db_path("roster-request-ids");
    remove_db();
    arbor_test_run(roster_request_ids_root, NULL);
    remove_db();
}

/* The Store itself, whoever starts it (here the C API, without the
 * console's check), opens no file that is not the desk's: the start
 * fails with a reason naming the file and what it is, and the file is
 * left as it was (not switched to WAL, nothing added). */
static void foreign_root(void *arg)
{
    desk_config_t cfg = {.db_path = db_path, .idle_timeout_ms = 60000};
    arbor_pid_t sup;
    arbor_reason_t why;
    arbor_trap_exit(true); /* the failed start's exit signal is a message */
    ASSERT_TRUE(desk_start(&cfg, &sup, &why) != 0);
    const char *text = arbor_reason_text(&why);
    ASSERT_TRUE(strstr(text, db_path) != NULL);
    ASSERT_TRUE(strstr(text, "is not a desk database: it belongs to another application") != NULL);
}

TEST(the_store_refuses_another_applications_database_and_changes_nothing)
{
    set_db_path("foreign");
    remove_db();
    sqlite3 *db;
    ASSERT_EQ(sqlite3_open(db_path, &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db,
                           "PRAGMA application_id = 1234; CREATE TABLE songs(title TEXT);"
                           " INSERT INTO songs VALUES('a');",
                           NULL, NULL, NULL),
              SQLITE_OK);
    sqlite3_close(db);
    struct stat before, after;
    ASSERT_EQ(stat(db_path, &before), 0);
    arbor_test_run(foreign_root, NULL);
    ASSERT_EQ(stat(db_path, &after), 0);
    ASSERT_EQ(after.st_size, before.st_size);
    ASSERT_EQ(after.st_mtim.tv_nsec, before.st_mtim.tv_nsec);
    ASSERT_EQ(after.st_mtim.tv_sec, before.st_mtim.tv_sec);
    ASSERT_EQ(sqlite3_open(db_path, &db), SQLITE_OK);
    sqlite3_stmt *st;
    ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
    ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
    ASSERT_STREQ((const char *)sqlite3_column_text(st, 0), "delete"); /* not switched to WAL */
    sqlite3_finalize(st);
    sqlite3_close(db);
    remove_db();
}

/* ---- in-memory mode: the course's desk -------------------------------------------- */

/* No Store: the course's workflow runs in the workers alone; a killed
 * worker comes back with the ticket as it was created (the course's
 * "restart as if nothing had happened"); an unknown ticket is refused;
 * least-loaded, which needs the Store, is refused at start. */
static void memory_root(void *arg)
{
    arbor_pid_t sup;
    arbor_reason_t why;
    desk_config_t least = {.policy = POLICY_LEAST_LOADED};
    ASSERT_ERR(desk_start(&least, &sup, &why), ARBOR_EINVAL);
    desk_config_t cfg = {.db_path = NULL};
    ASSERT_OK(desk_start(&cfg, &sup, NULL));
    ASSERT_EQ(arbor_whereis(STORE_NAME), ARBOR_NOPID);
    ticket_t t = fresh(), out;
    ticket_error_t err;
    arbor_pid_t worker;
    ASSERT_OK(ticket_supervisor_create_ticket(&t, &worker, &err));
    ASSERT_EQ(t.id, 1);
    ASSERT_OK(assign_agent(t.id, "", &out, &err));
    ASSERT_EQ(out.status, TICKET_ASSIGNED);
    ASSERT_STREQ(out.agent, "alice");
    ASSERT_OK(resolve(t.id, &out, &err));
    ASSERT_EQ(out.status, TICKET_RESOLVED);
    ASSERT_ERR(resolve(99, &out, &err), ARBOR_ENOENT);
    ASSERT_STREQ(err.code, "unknown_ticket");

    ASSERT_OK(arbor_exit_pid(worker, ARBOR_KILL));
    arbor_test_wait_dead(worker, 5000);
    /* The restarted worker takes the ticket back: until then it is unknown. */
    WAIT_UNTIL(desk_get(t.id, &out, NULL) == 0, 5000);
    ASSERT_EQ(out.status, TICKET_OPEN);

    /* Whole, field for field, as it was created: the worker's argument
     * carries the ticket packed (desk_internal.h), the text fields each up
     * to its NUL, at their longest and with characters past ASCII. */
    ticket_t big = {.priority = PRIORITY_URGENT};
    for (size_t i = 0; i < TICKET_DESC_MAX; i++)
        memcpy(big.description + 2 * i, "\xc3\xa9", 2); /* é */
    memset(big.customer, 'c', TICKET_NAME_MAX);
    ASSERT_OK(ticket_supervisor_create_ticket(&big, &worker, &err));
    ASSERT_OK(assign_agent(big.id, "", NULL, &err));
    ASSERT_OK(arbor_exit_pid(worker, ARBOR_KILL));
    arbor_test_wait_dead(worker, 5000);
    WAIT_UNTIL(desk_get(big.id, &out, NULL) == 0, 5000);
    ASSERT_EQ(out.id, big.id);
    ASSERT_STREQ(out.description, big.description);
    ASSERT_STREQ(out.customer, big.customer);
    ASSERT_STREQ(out.agent, "");
    ASSERT_EQ(out.priority, PRIORITY_URGENT);
    ASSERT_EQ(out.status, TICKET_OPEN);
    ASSERT_EQ(out.created_at, big.created_at);
    ASSERT_EQ(out.updated_at, big.updated_at);
    ASSERT_EQ(out.version, big.version);
    ASSERT_OK(arbor_sup_stop(sup, ARBOR_NORMAL));
}

TEST(in_memory_desk_runs_the_course_workflow_without_a_store)
{
    arbor_test_run(memory_root, NULL);
}

/* A caller that does not want the ticket back (out NULL) is answered only
 * how its change went, and a request carries only the fields its action
 * reads (desk_internal.h): the refusals still come whole, and the fields
 * carried (the agent named, a close's reason) still arrive. */
static void answer_without_ticket_root(void *arg)
{
    arbor_pid_t sup;
    desk_config_t cfg = {.db_path = NULL};
    ASSERT_OK(desk_start(&cfg, &sup, NULL));
    ticket_t t = fresh(), out;
    ticket_error_t err;
    ASSERT_OK(ticket_supervisor_create_ticket(&t, NULL, &err));
    ASSERT_ERR(resolve(t.id, NULL, &err), ARBOR_EINVAL);
    ASSERT_STREQ(err.code, "invalid_transition");
    ASSERT_STREQ(err.message, "a ticket that is open cannot be resolved");
    ASSERT_ERR(assign_agent(t.id, "nobody", NULL, &err), ARBOR_ENOENT);
    ASSERT_STREQ(err.code, "unknown_agent");
    ASSERT_STREQ(err.message, "there is no agent called nobody");
    ticket_change_t stale = {.action = ACTION_PEND};
    ASSERT_ERR(desk_change_if(t.id, 7, &stale, &desk_operator, NULL, &err), ARBOR_EAGAIN);
    ASSERT_STREQ(err.code, "conflict");
    ASSERT_OK(assign_agent(t.id, "bob", NULL, &err));
    ASSERT_OK(desk_get(t.id, &out, NULL));
    ASSERT_EQ(out.status, TICKET_ASSIGNED);
    ASSERT_STREQ(out.agent, "bob");
    ASSERT_ERR(desk_close(t.id, "", &desk_operator, NULL, &err), ARBOR_EINVAL);
    ASSERT_STREQ(err.code, "reason_required");
    ASSERT_OK(desk_close(t.id, "duplicate", &desk_operator, NULL, &err));
    ASSERT_OK(desk_get(t.id, &out, NULL));
    ASSERT_EQ(out.status, TICKET_CLOSED);
    ASSERT_STREQ(out.agent, "bob");
    ASSERT_OK(arbor_sup_stop(sup, ARBOR_NORMAL));
}

TEST(a_change_asked_without_the_ticket_back_answers_its_refusal_whole)
{
    arbor_test_run(answer_without_ticket_root, NULL);
}

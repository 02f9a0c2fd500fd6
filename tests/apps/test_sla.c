/*
 * The resolution SLA (sla.h, sla_timer.h): the clock as a pure function
 * (start, pause while pending, resume, stop, reopen, priority edits), the
 * --sla option's words, and the durable desk's SlaTimer: a breach recorded
 * once (history, notification, event) at its due time, breaches that
 * passed while the desk was down recorded at start, the Overdue queue, and
 * the timer re-armed when a change moves the earliest due time.
 */
#include <stdlib.h>
#include <unistd.h>

#include <sqlite3.h>

#include "../../apps/support_system/desk.h"
#include "../../apps/support_system/sla_timer.h"
#include "desk_test_db.h"
#include "test.h"

#define HOUR (3600 * 1000LL)

/* ---- the clock, pure ----------------------------------------------------------------- */

static ticket_t new_ticket(ticket_priority_t p, int64_t now)
{
    ticket_t t = {.id = 1, .priority = p, .status = TICKET_OPEN, .created_at = now};
    sla_start(&sla_default_policy, &t, now);
    return t;
}

/* Applies the change c at now, as the worker does: the workflow, then the
 * clock. */
static void change_at(ticket_t *t, ticket_change_t c, int64_t now)
{
    ticket_t before = *t;
    char event[TICKET_EVENT_SIZE];
    ticket_error_t err;
    ASSERT_TRUE(ticket_change(t, &c, now, event, sizeof event, &err));
    sla_follow(&sla_default_policy, &before, t, now);
}

static ticket_change_t act(ticket_action_t a)
{
    ticket_change_t c = {.action = a};
    snprintf(c.agent, sizeof c.agent, "bob");
    return c;
}

static ticket_change_t priority(ticket_priority_t p)
{
    return (ticket_change_t){.action = ACTION_EDIT, .set_priority = true, .priority = p};
}

TEST(the_clock_runs_from_creation_by_priority)
{
    ASSERT_EQ(new_ticket(PRIORITY_URGENT, 1000).due_at, 1000 + 4 * HOUR);
    ASSERT_EQ(new_ticket(PRIORITY_HIGH, 1000).due_at, 1000 + 8 * HOUR);
    ASSERT_EQ(new_ticket(PRIORITY_NORMAL, 1000).due_at, 1000 + 24 * HOUR);
    ASSERT_EQ(new_ticket(PRIORITY_LOW, 1000).due_at, 1000 + 72 * HOUR);
    ticket_t t = new_ticket(PRIORITY_NORMAL, 0);
    ASSERT_FALSE(sla_due(&t, 24 * HOUR - 1));
    ASSERT_TRUE(sla_due(&t, 24 * HOUR));
    t.breached_at = 24 * HOUR;
    ASSERT_FALSE(sla_due(&t, 25 * HOUR)); /* recorded once */
    ASSERT_TRUE(sla_overdue(&t));
}

/* Pending pauses the clock and keeps what was left; resume starts it again
 * with that; the time waiting on the customer does not count. */
TEST(pending_pauses_the_clock_and_resume_goes_on_with_what_was_left)
{
    ticket_t t = new_ticket(PRIORITY_URGENT, 0); /* due at 4 h */
    change_at(&t, act(ACTION_ASSIGN), 1 * HOUR);
    ASSERT_EQ(t.due_at, 4 * HOUR);
    change_at(&t, act(ACTION_PEND), 3 * HOUR); /* 1 h left */
    ASSERT_EQ(t.due_at, 0);
    ASSERT_TRUE(t.sla_paused);
    ASSERT_EQ(t.sla_left_ms, 1 * HOUR);
    ASSERT_FALSE(sla_due(&t, 100 * HOUR)); /* paused: never due */
    change_at(&t, act(ACTION_RESUME), 50 * HOUR);
    ASSERT_FALSE(t.sla_paused);
    ASSERT_EQ(t.due_at, 51 * HOUR);
    /* Unassigning a pending ticket starts the clock too. */
    change_at(&t, act(ACTION_PEND), 50 * HOUR + 1000);
    change_at(&t, act(ACTION_UNASSIGN), 60 * HOUR);
    ASSERT_EQ(t.status, TICKET_OPEN);
    ASSERT_EQ(t.due_at, 61 * HOUR - 1000);
    /* A reply, a note or a reassign leave the clock as it is. */
    change_at(&t, act(ACTION_ASSIGN), 60 * HOUR);
    change_at(&t, act(ACTION_PEND), 60 * HOUR);
    ticket_change_t reassign = act(ACTION_REASSIGN);
    snprintf(reassign.agent, sizeof reassign.agent, "carol");
    change_at(&t, reassign, 70 * HOUR);
    ASSERT_TRUE(t.sla_paused);
    ASSERT_EQ(t.sla_left_ms, 1 * HOUR - 1000);
}

/* Resolved and closed stop the clock (never overdue, the breach kept);
 * reopening starts a new one, without the breach. */
TEST(resolve_stops_the_clock_and_reopen_starts_a_new_one)
{
    ticket_t t = new_ticket(PRIORITY_HIGH, 0);
    change_at(&t, act(ACTION_ASSIGN), 1000);
    t.breached_at = 8 * HOUR; /* as the timer records it */
    ASSERT_TRUE(sla_overdue(&t));
    change_at(&t, act(ACTION_RESOLVE), 9 * HOUR);
    ASSERT_EQ(t.due_at, 0);
    ASSERT_FALSE(t.sla_paused);
    ASSERT_FALSE(sla_overdue(&t));
    ASSERT_FALSE(sla_due(&t, 100 * HOUR));
    ASSERT_EQ(t.breached_at, 8 * HOUR);
    change_at(&t, act(ACTION_REOPEN), 10 * HOUR);
    ASSERT_EQ(t.due_at, 18 * HOUR);
    ASSERT_EQ(t.breached_at, 0);
    ticket_change_t close = act(ACTION_CLOSE);
    snprintf(close.reason, sizeof close.reason, "spam");
    change_at(&t, close, 11 * HOUR);
    ASSERT_EQ(t.due_at, 0);
}

/* A priority edit moves the due time (or the paused time left) by the
 * difference of the two priorities' times; a breached ticket due again
 * later is no longer breached. */
TEST(a_priority_edit_moves_the_due_time)
{
    ticket_t t = new_ticket(PRIORITY_NORMAL, 0); /* due at 24 h */
    change_at(&t, priority(PRIORITY_URGENT), 1 * HOUR);
    ASSERT_EQ(t.due_at, 4 * HOUR);
    change_at(&t, priority(PRIORITY_LOW), 2 * HOUR);
    ASSERT_EQ(t.due_at, 72 * HOUR);
    change_at(&t, act(ACTION_ASSIGN), 2 * HOUR);
    change_at(&t, act(ACTION_PEND), 70 * HOUR); /* 2 h left */
    change_at(&t, priority(PRIORITY_HIGH), 71 * HOUR);
    ASSERT_TRUE(t.sla_paused);
    ASSERT_EQ(t.sla_left_ms, 2 * HOUR - 64 * HOUR); /* past due, paused */
    change_at(&t, act(ACTION_RESUME), 80 * HOUR);
    ASSERT_EQ(t.due_at, 18 * HOUR);
    t.breached_at = 80 * HOUR;
    change_at(&t, priority(PRIORITY_URGENT), 81 * HOUR); /* still past due */
    ASSERT_EQ(t.breached_at, 80 * HOUR);
    change_at(&t, priority(PRIORITY_LOW), 82 * HOUR); /* due at 82 h: 14 h + 68 h */
    ASSERT_EQ(t.due_at, 82 * HOUR);
    ASSERT_EQ(t.breached_at, 80 * HOUR); /* not later than now: still breached */
    change_at(&t, priority(PRIORITY_HIGH), 82 * HOUR);
    change_at(&t, priority(PRIORITY_LOW), 82 * HOUR - 1000);
    ASSERT_EQ(t.due_at, 82 * HOUR);
    ASSERT_EQ(t.breached_at, 0); /* due again later: it may breach again */
}

TEST(the_sla_option_is_read_and_refused_clearly)
{
    sla_policy_t p = sla_default_policy;
    char why[160], text[128];
    sla_format(&p, text, sizeof text);
    ASSERT_STREQ(text, "urgent=4h,high=8h,normal=1d,low=3d"); /* the largest unit */
    ASSERT_TRUE(sla_parse("normal=2s,urgent=90m,low=3d", &p, why, sizeof why));
    ASSERT_EQ(p.resolve_ms[PRIORITY_NORMAL], 2000);
    ASSERT_EQ(p.resolve_ms[PRIORITY_URGENT], 90 * 60 * 1000);
    ASSERT_EQ(p.resolve_ms[PRIORITY_LOW], 3 * 24 * HOUR);
    ASSERT_EQ(p.resolve_ms[PRIORITY_HIGH], 8 * HOUR); /* not named: kept */
    sla_format(&p, text, sizeof text);
    ASSERT_STREQ(text, "urgent=90m,high=8h,normal=2s,low=3d");
    static const char *const bad[] = {"",
                                      "normal",
                                      "normal=",
                                      "normal=5",
                                      "normal=0s",
                                      "normal=5w",
                                      "severe=1h",
                                      "normal=1h,",
                                      "normal=400d",
                                      "=1h",
                                      "normal=1.5h",
                                      "normal=-1h",
                                      "normal=1h,urgent=2h,normal=3h"}; /* a priority named twice */
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        sla_policy_t q = p;
        why[0] = '\0';
        if (sla_parse(bad[i], &q, why, sizeof why))
            arbor_test_fail(__FILE__, __LINE__, "--sla %s was taken", bad[i]);
        ASSERT_TRUE(why[0] != '\0');
        ASSERT_TRUE(memcmp(&q, &p, sizeof p) == 0); /* unchanged */
    }
    ASSERT_FALSE(sla_parse("normal=1h,normal=3h", &p, why, sizeof why));
    ASSERT_STREQ(why, "'normal' is given twice");
}

TEST(the_timer_s_note_counts_breaches_in_words)
{
    char note[128];
    sla_timer_note(&(sla_timer_status_t){.next_due = 0, .recorded = 0}, note, sizeof note);
    ASSERT_STREQ(note, "no clock running; 0 breaches recorded");
    sla_timer_note(&(sla_timer_status_t){.next_due = 1796665741000, .recorded = 1}, note,
                   sizeof note);
    ASSERT_STREQ(note, "next due 2026-12-07T17:49:01Z; 1 breach recorded");
    sla_timer_note(&(sla_timer_status_t){.next_due = 1796665741000, .recorded = 2}, note,
                   sizeof note);
    ASSERT_STREQ(note, "next due 2026-12-07T17:49:01Z; 2 breaches recorded");
}

/* ---- the desk's timer -------------------------------------------------------------------- */

static char db_path[64];

static void set_db_path(const char *what)
{
    desk_test_db_path(db_path, sizeof db_path, "sla", what);
}

static void remove_db(void)
{
    desk_test_db_remove(db_path);
}

#define TAG_BREACHED 0x42524541ULL /* "BREA": a ticket's id */

/* The test's root process, told of each breach (on_breach). */
static arbor_pid_t listener;

static void on_breach(const ticket_t *t)
{
    arbor_send(listener, TAG_BREACHED, &t->id, sizeof t->id);
}

static arbor_pid_t start_desk(const sla_policy_t *sla)
{
    listener = arbor_self();
    desk_config_t cfg = {.db_path = db_path,
                         .policy = POLICY_ROUND_ROBIN,
                         .idle_timeout_ms = 60000,
                         .demo = true,
                         .on_breach = on_breach,
                         .sla = sla};
    arbor_pid_t sup;
    ASSERT_OK(desk_start(&cfg, &sup, NULL));
    return sup;
}

static ticket_t create(ticket_priority_t p)
{
    ticket_t t = {.priority = p};
    snprintf(t.description, sizeof t.description, "Printer on fire");
    ticket_error_t err = {.code = ""};
    ASSERT_OK(desk_create(&t, &desk_operator, NULL, &err));
    return t;
}

/* Waits (up to ms, scaled) for the breach of a ticket: its id. */
static int64_t next_breach(int64_t ms)
{
    arbor_msg_t *m;
    ASSERT_OK(arbor_receive(arbor_test_scaled_ms(ms), &m));
    ASSERT_EQ(m->tag, TAG_BREACHED);
    int64_t id;
    memcpy(&id, m->data, sizeof id);
    arbor_msg_free(m);
    return id;
}

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

static void sql_exec(const char *sql)
{
    sqlite3 *db;
    ASSERT_EQ(sqlite3_open(db_path, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    ASSERT_EQ(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

/* The breach's entries of ticket id: its history entries by the desk that
 * say so, and its notifications. */
static int64_t breach_entries(int64_t id, const char *table)
{
    char sql[256];
    if (strcmp(table, "history") == 0)
        snprintf(sql, sizeof sql,
                 "SELECT count(*) FROM history WHERE ticket = %lld AND who = 'desk'"
                 " AND role = 'desk' AND what LIKE 'SLA breached: resolution due %%'",
                 (long long)id);
    else
        snprintf(sql, sizeof sql,
                 "SELECT count(*) FROM outbox WHERE ticket = %lld AND text LIKE"
                 " 'ticket %lld breached its SLA: resolution was due %%'",
                 (long long)id, (long long)id);
    return sql_int(sql);
}

/* A ticket past its due time is recorded once, by the desk, with a
 * notification and the event, while nobody asks; it joins the Overdue
 * queue; a restart does not record it again; resolving it leaves the
 * queue. */
static void breach_root(void *arg)
{
    (void)arg;
    sla_policy_t sla = sla_default_policy;
    sla.resolve_ms[PRIORITY_NORMAL] = 300;
    arbor_pid_t sup = start_desk(&sla);
    ticket_t late = create(PRIORITY_NORMAL), calm = create(PRIORITY_LOW);
    ASSERT_EQ(late.due_at, late.created_at + 300);
    ASSERT_EQ(calm.due_at, calm.created_at + 72 * HOUR);
    ASSERT_EQ(next_breach(5000), late.id);
    ASSERT_GE(ticket_now_ms(), late.due_at);

    ticket_t t;
    ASSERT_OK(desk_get(late.id, &t, NULL));
    ASSERT_GE(t.breached_at, late.due_at);
    ASSERT_TRUE(sla_overdue(&t));
    store_history_page_t page;
    ASSERT_OK(store_history(late.id, 0, 0, &page, NULL));
    ASSERT_EQ(page.n, 2);
    const store_history_t *h = page.entries;
    char due[TICKET_TIME_SIZE], want[TICKET_EVENT_SIZE];
    ticket_format_time(late.due_at, due);
    snprintf(want, sizeof want, "SLA breached: resolution due %s", due);
    ASSERT_STREQ(h[1].what, want);
    ASSERT_EQ(h[1].by.kind, ACTOR_DESK);
    free(page.entries);
    ASSERT_EQ(breach_entries(late.id, "outbox"), 1);
    ASSERT_EQ(sql_int("SELECT count(*) FROM tickets WHERE breached_at IS NOT NULL"), 1);

    /* The Overdue queue and its count. */
    store_queues_t q;
    ASSERT_OK(store_queues(NULL, &q, NULL));
    ASSERT_EQ(q.overdue, 1);
    ticket_t *rows;
    size_t n;
    ASSERT_OK(store_find(&(store_filter_t){.overdue = true, .limit = 9}, &rows, &n, NULL));
    ASSERT_EQ(n, 1);
    ASSERT_EQ(rows[0].id, late.id);
    free(rows);

    /* A restart finds nothing to record: the breach is stored. */
    ASSERT_OK(arbor_sup_stop(sup, ARBOR_NORMAL));
    sup = start_desk(&sla);
    sla_timer_status_t st;
    ASSERT_OK(sla_timer_status(&st)); /* answered after its first scan */
    ASSERT_EQ(st.recorded, 0);
    ASSERT_EQ(st.next_due, calm.due_at); /* asleep until the next clock */
    ASSERT_EQ(breach_entries(late.id, "history"), 1);
    ASSERT_EQ(breach_entries(late.id, "outbox"), 1);

    /* Resolved, it is not overdue any more; its breach stays told. */
    ticket_error_t err = {.code = ""};
    ASSERT_OK(desk_act(late.id, ACTION_ASSIGN, "alice", &desk_operator, &t, &err));
    ASSERT_OK(desk_act(late.id, ACTION_RESOLVE, NULL, &desk_operator, &t, &err));
    ASSERT_FALSE(sla_overdue(&t));
    ASSERT_OK(store_queues(NULL, &q, NULL));
    ASSERT_EQ(q.overdue, 0);
    ASSERT_EQ(breach_entries(late.id, "history"), 1);
    ASSERT_OK(arbor_sup_stop(sup, ARBOR_NORMAL));
}

TEST(a_breach_is_recorded_once_notified_and_announced)
{
    set_db_path("breach");
    remove_db();
    arbor_test_run(breach_root, NULL);
    remove_db();
}

static void create_root(void *arg)
{
    int64_t *id = arg;
    arbor_pid_t sup = start_desk(NULL);
    *id = create(PRIORITY_NORMAL).id;
    ASSERT_OK(arbor_sup_stop(sup, ARBOR_NORMAL));
}

static void restart_root(void *arg)
{
    int64_t id = *(int64_t *)arg;
    arbor_pid_t sup = start_desk(NULL);
    ASSERT_EQ(next_breach(5000), id);
    ASSERT_EQ(breach_entries(id, "history"), 1);
    ASSERT_EQ(breach_entries(id, "outbox"), 1);
    ticket_t t;
    ASSERT_OK(store_get(id, &t, NULL));
    ASSERT_TRUE(sla_overdue(&t));
    ASSERT_OK(arbor_sup_stop(sup, ARBOR_NORMAL));
}

/* Started again: nothing more to record. */
static void restart_root_again(void *arg)
{
    int64_t id = *(int64_t *)arg;
    arbor_pid_t sup = start_desk(NULL);
    sla_timer_status_t st;
    ASSERT_OK(sla_timer_status(&st));
    ASSERT_EQ(st.recorded, 0);
    ASSERT_EQ(st.next_due, 0); /* no clock runs */
    ASSERT_EQ(breach_entries(id, "history"), 1);
    ASSERT_EQ(breach_entries(id, "outbox"), 1);
    ASSERT_OK(arbor_sup_stop(sup, ARBOR_NORMAL));
}

/* The due time passed while the desk was down: the desk records the
 * breach when it starts, once. */
TEST(a_breach_that_passed_while_the_desk_was_down_is_recorded_at_start)
{
    set_db_path("restart");
    remove_db();
    int64_t id = 0;
    arbor_test_run(create_root, &id);
    ASSERT_EQ(breach_entries(id, "history"), 0);
    /* The desk is down; its ticket's due time passes. */
    sql_exec("UPDATE tickets SET due_at = due_at - 25 * 3600 * 1000");
    arbor_test_run(restart_root, &id);
    arbor_test_run(restart_root_again, &id);
    remove_db();
}

/* The desk keeps the clock through its changes, in the Store: a priority
 * edit moves the due time and re-arms the timer when it is the earliest;
 * pending pauses it (stored) and resume starts it with what was left. */
static void follow_root(void *arg)
{
    (void)arg;
    arbor_pid_t sup = start_desk(NULL);
    ticket_t low = create(PRIORITY_LOW), normal = create(PRIORITY_NORMAL), t;
    sla_timer_status_t st;
    ASSERT_OK(sla_timer_status(&st));
    ASSERT_EQ(st.next_due, normal.due_at); /* the earliest of the two */
    ticket_error_t err = {.code = ""};
    ticket_change_t edit = {
        .action = ACTION_EDIT, .set_priority = true, .priority = PRIORITY_URGENT};
    ASSERT_OK(desk_change(low.id, &edit, &desk_operator, &t, &err));
    ASSERT_EQ(t.due_at, low.due_at - 68 * HOUR);
    ticket_t stored;
    ASSERT_OK(store_get(low.id, &stored, NULL));
    ASSERT_EQ(stored.due_at, t.due_at);
    ASSERT_OK(sla_timer_status(&st));
    ASSERT_EQ(st.next_due, t.due_at); /* re-armed: now the earliest */

    /* Pending pauses the clock; the Store keeps what was left. */
    ASSERT_OK(desk_act(normal.id, ACTION_ASSIGN, "alice", &desk_operator, &t, &err));
    ASSERT_OK(desk_act(normal.id, ACTION_PEND, NULL, &desk_operator, &t, &err));
    ASSERT_EQ(t.due_at, 0);
    ASSERT_TRUE(t.sla_paused);
    ASSERT_LE(t.sla_left_ms, normal.due_at - t.updated_at);
    ASSERT_GT(t.sla_left_ms, 23 * HOUR);
    ASSERT_OK(store_get(normal.id, &stored, NULL));
    ASSERT_TRUE(stored.sla_paused);
    ASSERT_EQ(stored.sla_left_ms, t.sla_left_ms);
    ASSERT_EQ(sql_int("SELECT count(*) FROM tickets WHERE due_at IS NULL AND sla_left > 0"), 1);
    int64_t left = t.sla_left_ms;
    ASSERT_OK(desk_act(normal.id, ACTION_RESUME, NULL, &desk_operator, &t, &err));
    ASSERT_FALSE(t.sla_paused);
    ASSERT_EQ(t.due_at, t.updated_at + left);
    ASSERT_OK(arbor_sup_stop(sup, ARBOR_NORMAL));
}

TEST(the_desk_keeps_the_clock_through_edits_and_pauses)
{
    set_db_path("follow");
    remove_db();
    arbor_test_run(follow_root, NULL);
    remove_db();
}

/* In memory there is no Store: no due times, no timer. */
static void memory_root(void *arg)
{
    (void)arg;
    desk_config_t cfg = {.policy = POLICY_ROUND_ROBIN};
    arbor_pid_t sup;
    ASSERT_OK(desk_start(&cfg, &sup, NULL));
    ticket_t t = create(PRIORITY_URGENT);
    ASSERT_EQ(t.due_at, 0);
    ASSERT_EQ(arbor_whereis(SLA_TIMER_NAME), ARBOR_NOPID);
    ASSERT_OK(arbor_sup_stop(sup, ARBOR_NORMAL));
}

TEST(the_in_memory_desk_keeps_no_sla)
{
    arbor_test_run(memory_root, NULL);
}

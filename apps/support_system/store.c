/*
 * The Store. Its GenServer state is the SQLite connection with its prepared
 * statements; an exit hook closes them however the Store dies, so a
 * restarted Store opens the file again cleanly. Statements run on the
 * blocking pool while the Store waits, so SQLite's connection is used by one
 * thread at a time.
 *
 * Group commit: a change (create, update, agent-add, notification) is not
 * written at once; it joins the pending batch, and the Store returns with a
 * timeout of 0, which fires only once its mailbox is empty. Then the whole
 * batch is written in one transaction (one fsync), and every caller is
 * answered after COMMIT. A refused change undoes none of the others and
 * leaves nothing of itself: the batch is written without a savepoint per
 * change, and a change that fails having written part of itself (rare: a
 * database error, an update's request id recorded by another request)
 * makes the Store roll the batch back and write it again with each change
 * in a savepoint of its own (write_batch). Changes that arrive while a batch is being written
 * queue up in the mailbox and form the next batch, so the batch grows with
 * the load. Before a batch is written the Store yields a few times, so that
 * the callers it has just answered can join it (LINGER_YIELDS). A batch of
 * delivery marks alone waits up to MARK_LINGER_MS for a change to share
 * the commit with, so marking notifications delivered does not cost fsyncs
 * of its own.
 *
 * The outbox: a change that announces something (a status change) carries
 * its notification's text, and the Store inserts the outbox row with the
 * change (undone with it, as above), so the row commits with the change or
 * not at all, whatever else shares the batch. After a commit that added rows, the Store
 * wakes the dispatcher (a message to STORE_OUTBOX_READER), which reads the
 * pending rows (committed state only: no flush) and marks the ones it
 * delivered.
 *
 * Reads answer as if each request had been applied when it arrived: a read
 * that a pending change could affect writes the batch first. The tickets
 * committed last are kept in a small cache (direct-mapped by id), so a
 * worker loading a ticket just created or changed needs no trip to the
 * disk; the cache only ever holds committed state.
 *
 * This file holds the GenServer, the batch and its writes, opening and
 * backups; the schema is in store_schema.c, the reads in store_read.c, the
 * client calls in store_client.c (store_internal.h joins them).
 */
#include "store.h"
#include "store_internal.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "data_path.h"

void store__damaged(store_t *s, const char *what)
{
    if (s->damaged)
        return;
    s->damaged = true;
    snprintf(s->stats.damage, sizeof s->stats.damage, "%s", what);
    s->stats.damaged = true;
    /* A belt for work that is not a change (store_run): SQLite itself
     * refuses to write any more on this connection. */
    sqlite3_exec(s->db, "PRAGMA query_only = 1", NULL, NULL, NULL);
}

void store__refuse_damaged(const store_t *s, ticket_error_t *err)
{
    snprintf(err->code, sizeof err->code, "store_damaged");
    snprintf(err->message, sizeof err->message,
             "the database is damaged (%.120s): changes are refused and nothing was written; to"
             " recover, " STORE_RECOVER_HINT,
             s->stats.damage);
}

int store__db_fail(store_t *s, job_t *j, const char *what)
{
    int code = sqlite3_errcode(s->db) & 0xff;
    bool damage = code == SQLITE_CORRUPT || code == SQLITE_NOTADB;
    if (damage)
        store__damaged(s, sqlite3_errmsg(s->db));
    snprintf(j->err.code, sizeof j->err.code, damage ? "store_damaged" : "store_error");
    snprintf(j->err.message, sizeof j->err.message, "%s: %s%s", what, sqlite3_errmsg(s->db),
             damage ? " (the database is damaged: changes are refused; 'stats' says how to"
                      " recover)"
                    : "");
    return ARBOR_EEXIT;
}

/* Steps a statement that returns no rows, and readies it for the next use. */
static int step_done(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc;
}

/* ---- changes ------------------------------------------------------------------------ */

/* A time that may be absent: 0 is NULL. */
static void bind_time(sqlite3_stmt *st, int i, int64_t ms)
{
    if (ms)
        sqlite3_bind_int64(st, i, ms);
    else
        sqlite3_bind_null(st, i);
}

/* A history entry of ticket by j->by, pointing at message (0: none). */
static int add_history(store_t *s, job_t *j, int64_t ticket, int64_t at, const char *what,
                       int64_t message)
{
    sqlite3_stmt *st = s->st[ST_INSERT_HISTORY];
    sqlite3_bind_int64(st, 1, ticket);
    sqlite3_bind_int64(st, 2, at);
    sqlite3_bind_text(st, 3, j->by.name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, ticket_actor_kind_name(j->by.kind), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, what, -1, SQLITE_STATIC);
    if (message)
        sqlite3_bind_int64(st, 6, message);
    else
        sqlite3_bind_null(st, 6);
    return step_done(st) == SQLITE_DONE ? 0 : store__db_fail(s, j, "history");
}

/* ---- request ids -------------------------------------------------------------------- */

/* The record of request id into *out: 1 when there is one, 0 when there
 * is none, or an error (the step's, negative). */
static int find_request(store_t *s, const char *id, store_request_t *out)
{
    sqlite3_stmt *st = s->st[ST_REQUEST_FIND];
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    int step = sqlite3_step(st), found = step == SQLITE_ROW ? 1 : step == SQLITE_DONE ? 0 : -step;
    if (found == 1) {
        out->ticket = sqlite3_column_int64(st, 0);
        const unsigned char *what = sqlite3_column_text(st, 1);
        snprintf(out->what, sizeof out->what, "%s", what ? (const char *)what : "");
        out->digest = sqlite3_column_int64(st, 2);
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return found;
}

/* Refuses j: its request id names another request (first, if known). */
static int request_reused(job_t *j, const store_request_t *first)
{
    store_request_reused(j->request_id, first, &j->err);
    return ARBOR_EEXIST;
}

/* Whether j's request id (if it has one) was recorded before: 0 when it
 * was not (make the change); 1 when it was, by the same request (same
 * what and digest; j->replayed set, *first its record: write nothing);
 * or an error (another request's id: request_id_reused). */
static int made_before(store_t *s, job_t *j, store_request_t *first)
{
    if (!j->request_id[0])
        return 0;
    int found = find_request(s, j->request_id, first);
    if (found < 0)
        return store__db_fail(s, j, "request id");
    if (!found)
        return 0;
    if (strcmp(first->what, j->request.what) != 0 || first->digest != j->request.digest)
        return request_reused(j, first);
    j->replayed = true;
    return 1;
}

/* Records j's request id, if it has one, for ticket: with j's change (a
 * failure here undoes the change: write_change), so it exists if and only
 * if the change does. */
static int add_request(store_t *s, job_t *j, int64_t ticket)
{
    if (!j->request_id[0])
        return 0;
    sqlite3_stmt *st = s->st[ST_REQUEST_ADD];
    sqlite3_bind_text(st, 1, j->request_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, ticket);
    sqlite3_bind_text(st, 3, j->request.what, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, j->request.digest);
    sqlite3_bind_int64(st, 5, ticket_now_ms());
    int step = step_done(st);
    if (step == SQLITE_CONSTRAINT)
        return request_reused(j, NULL); /* recorded since it was looked up */
    return step == SQLITE_DONE ? 0 : store__db_fail(s, j, "request id");
}

/* Deletes the request ids older than STORE_REQUEST_KEEP_MS, at most once
 * per REQUEST_PRUNE_EVERY_MS; in the batch's transaction. A failure only
 * leaves them for the next time. */
static void prune_requests(store_t *s)
{
    int64_t now = ticket_now_ms();
    if (s->pruned_ms && (uint64_t)now - s->pruned_ms < REQUEST_PRUNE_EVERY_MS)
        return;
    s->pruned_ms = (uint64_t)now;
    sqlite3_stmt *st = s->st[ST_REQUEST_PRUNE];
    sqlite3_bind_int64(st, 1, now - STORE_REQUEST_KEEP_MS);
    step_done(st);
}

/* ---- changes, continued ---------------------------------------------------------------- */

static int write_create(store_t *s, job_t *j)
{
    ticket_t *t = &j->ticket;
    store_request_t first;
    int before = made_before(s, j, &first);
    if (before == 1)
        t->id = first.ticket; /* a retry of a create that was made: its ticket, nothing new */
    if (before)
        return before < 0 ? before : 0;
    sqlite3_stmt *st = s->st[ST_INSERT_TICKET];
    sqlite3_bind_text(st, 1, t->description, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, t->customer, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, (int)t->priority);
    sqlite3_bind_int(st, 4, (int)t->status);
    sqlite3_bind_text(st, 5, t->agent, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, t->created_at);
    sqlite3_bind_int64(st, 7, t->updated_at);
    bind_time(st, 8, t->due_at);
    if (step_done(st) != SQLITE_DONE)
        return store__db_fail(s, j, "insert");
    t->id = sqlite3_last_insert_rowid(s->db);
    int rc = add_history(s, j, t->id, t->created_at, "created", 0);
    return rc ? rc : add_request(s, j, t->id);
}

/* The reply or note j records; *id is its row. */
static int add_message(store_t *s, job_t *j, int64_t *id)
{
    sqlite3_stmt *st = s->st[ST_INSERT_MESSAGE];
    sqlite3_bind_int64(st, 1, j->ticket.id);
    sqlite3_bind_int64(st, 2, j->ticket.updated_at);
    sqlite3_bind_text(st, 3, j->by.name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, ticket_actor_kind_name(j->by.kind), -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 5, j->message == STORE_NOTE);
    sqlite3_bind_text(st, 6, j->text, -1, SQLITE_STATIC);
    if (step_done(st) != SQLITE_DONE)
        return store__db_fail(s, j, "message");
    *id = sqlite3_last_insert_rowid(s->db);
    return 0;
}

/* Why an UPDATE matched no row: no such ticket, or a stale version. */
static int update_missed(store_t *s, job_t *j)
{
    const ticket_t *t = &j->ticket;
    sqlite3_stmt *ex = s->st[ST_EXISTS];
    sqlite3_bind_int64(ex, 1, t->id);
    int found = sqlite3_step(ex);
    int rc = found == SQLITE_ROW    ? 0
             : found == SQLITE_DONE ? ARBOR_ENOENT
                                    : store__db_fail(s, j, "update"); /* before the reset */
    sqlite3_reset(ex);
    sqlite3_clear_bindings(ex);
    if (rc)
        return rc;
    snprintf(j->err.code, sizeof j->err.code, "conflict");
    snprintf(j->err.message, sizeof j->err.message,
             "ticket %lld was changed since this change was computed (version %lld is"
             " stale); nothing was changed",
             (long long)t->id, (long long)t->version);
    return ARBOR_EAGAIN;
}

/* The columns (COL_*) in which t differs from the stored row, known when
 * the cache holds the row at t's version (the version the update is
 * checked against, so the row it applies to); otherwise all. */
static unsigned changed_columns(store_t *s, const ticket_t *t)
{
    const ticket_t *old = store__cache_slot(s, t->id);
    if (old->id != t->id || old->version != t->version)
        return COLS_ALL;
    return (strcmp(old->description, t->description) ? COL_DESCRIPTION : 0u) |
           (strcmp(old->customer, t->customer) ? COL_CUSTOMER : 0u) |
           (old->priority != t->priority ? COL_PRIORITY : 0u) |
           (old->status != t->status ? COL_STATUS : 0u) |
           (strcmp(old->agent, t->agent) ? COL_AGENT : 0u) |
           (old->due_at != t->due_at ? COL_DUE_AT : 0u) |
           (old->sla_paused != t->sla_paused ||
                    (t->sla_paused && old->sla_left_ms != t->sla_left_ms)
                ? COL_SLA_LEFT
                : 0u) |
           (old->breached_at != t->breached_at ? COL_BREACHED_AT : 0u);
}

/* The update statement that sets the columns in bits, prepared on first
 * use (all of them: the one prepared at open); NULL (with SQLite's message
 * in j) when it cannot be. */
static sqlite3_stmt *update_statement(store_t *s, job_t *j, unsigned bits)
{
    if (bits == COLS_ALL)
        return s->st[ST_UPDATE_TICKET];
    sqlite3_stmt **st = &s->updates[bits];
    if (!*st) {
        char sql[UPDATE_SQL_SIZE];
        store__update_sql(bits, sql);
        if (sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL) != SQLITE_OK) {
            store__db_fail(s, j, "update");
            sqlite3_finalize(*st);
            *st = NULL;
        }
    }
    return *st;
}

static int write_update(store_t *s, job_t *j)
{
    const ticket_t *t = &j->ticket;
    sqlite3_stmt *st = update_statement(s, j, changed_columns(s, t));
    if (!st)
        return ARBOR_EEXIT;
    sqlite3_bind_text(st, 1, t->description, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, t->customer, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, (int)t->priority);
    sqlite3_bind_int(st, 4, (int)t->status);
    sqlite3_bind_text(st, 5, t->agent, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, t->updated_at);
    sqlite3_bind_int64(st, 7, t->id);
    sqlite3_bind_int64(st, 8, t->version);
    bind_time(st, 9, t->due_at);
    if (t->sla_paused)
        sqlite3_bind_int64(st, 10, t->sla_left_ms);
    else
        sqlite3_bind_null(st, 10);
    bind_time(st, 11, t->breached_at); /* those a statement lacks are refused (SQLITE_RANGE) */
    if (step_done(st) != SQLITE_DONE) {
        /* OR FAIL: no statement journal undid what it may have written,
         * nor did SQLite count it (store__update_sql). */
        s->unsure = true;
        return store__db_fail(s, j, "update");
    }
    if (sqlite3_changes(s->db) != 1)
        return update_missed(s, j);
    /* j->ticket.version is raised once the batch commits (write_batch):
     * a batch may be written twice. */
    int64_t message = 0;
    int rc = j->message != STORE_NO_MESSAGE ? add_message(s, j, &message) : 0;
    if (!rc)
        rc = add_history(s, j, t->id, t->updated_at, j->what, message);
    if (!rc && j->round_robin_turn) {
        sqlite3_stmt *st_t = s->st[ST_AGENT_TURN];
        sqlite3_bind_text(st_t, 1, t->agent, -1, SQLITE_STATIC);
        rc = step_done(st_t) == SQLITE_DONE ? 0 : store__db_fail(s, j, "turn");
    }
    if (!rc && j->notice[0]) {
        /* With the change: if the notification cannot be recorded, the
         * change is undone with it (write_change). */
        sqlite3_stmt *st_n = s->st[ST_NOTIFY];
        sqlite3_bind_int64(st_n, 1, t->id);
        sqlite3_bind_int64(st_n, 2, t->updated_at);
        sqlite3_bind_text(st_n, 3, j->notice, -1, SQLITE_STATIC);
        if (step_done(st_n) != SQLITE_DONE)
            rc = store__db_fail(s, j, "outbox");
    }
    return rc ? rc : add_request(s, j, t->id);
}

/* SQLite's answer to a roster change: a taken name is ARBOR_EEXIST. */
static int roster_result(store_t *s, job_t *j, int step)
{
    return step == SQLITE_DONE         ? 0
           : step == SQLITE_CONSTRAINT ? ARBOR_EEXIST
                                       : store__db_fail(s, j, "agent");
}

/* ARBOR_EEXIST, with j->err saying so, when name is an agent's other
 * than except's (""), but for ASCII case (ticket_same_agent_name()). */
static int name_taken(store_t *s, job_t *j, const char *name, const char *except)
{
    sqlite3_stmt *st = s->st[ST_AGENT_SAME];
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, except, -1, SQLITE_STATIC);
    int step = sqlite3_step(st), rc = 0;
    if (step == SQLITE_ROW) {
        ticket_agent_exists((const char *)sqlite3_column_text(st, 0), name, &j->err);
        rc = ARBOR_EEXIST;
    } else if (step != SQLITE_DONE) {
        rc = store__db_fail(s, j, "agent");
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc;
}

static int write_agent(store_t *s, job_t *j)
{
    int rc = name_taken(s, j, j->agent, "");
    if (rc)
        return rc;
    sqlite3_stmt *st = s->st[ST_AGENT_ADD];
    sqlite3_bind_text(st, 1, j->agent, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, ticket_now_ms());
    return roster_result(s, j, step_done(st));
}

/* Binds the rename's names (?1 from, ?2 to) to st. */
static void bind_names(sqlite3_stmt *st, const job_t *j)
{
    sqlite3_bind_text(st, 1, j->agent, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, j->new_name, -1, SQLITE_STATIC);
}

/* The roster, then a history entry on each of the agent's tickets, the
 * agent's password (credentials.h), then the tickets themselves (their
 * versions raised). */
static int write_rename(store_t *s, job_t *j)
{
    int rc = name_taken(s, j, j->new_name, j->agent); /* ann may become Ann */
    if (rc)
        return rc;
    sqlite3_stmt *st = s->st[ST_AGENT_RENAME];
    bind_names(st, j);
    rc = roster_result(s, j, step_done(st));
    if (rc)
        return rc;
    if (sqlite3_changes(s->db) != 1)
        return ARBOR_ENOENT;
    st = s->st[ST_AGENT_RENAME_HISTORY];
    bind_names(st, j);
    sqlite3_bind_int64(st, 3, ticket_now_ms());
    sqlite3_bind_text(st, 4, j->by.name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, ticket_actor_kind_name(j->by.kind), -1, SQLITE_STATIC);
    if (step_done(st) != SQLITE_DONE)
        return store__db_fail(s, j, "history");
    st = s->st[ST_AGENT_RENAME_CREDENTIALS];
    bind_names(st, j);
    if (step_done(st) != SQLITE_DONE)
        return store__db_fail(s, j, "credentials");
    st = s->st[ST_AGENT_RENAME_TICKETS];
    bind_names(st, j);
    return step_done(st) == SQLITE_DONE ? 0 : store__db_fail(s, j, "tickets");
}

static int write_agent_flags(store_t *s, job_t *j)
{
    sqlite3_stmt *st = s->st[ST_AGENT_SET];
    sqlite3_bind_text(st, 1, j->agent, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, j->active);
    sqlite3_bind_int(st, 3, j->available);
    int rc = roster_result(s, j, step_done(st));
    return rc ? rc : sqlite3_changes(s->db) == 1 ? 0 : ARBOR_ENOENT;
}

/* A roster change under its request id, if it has one: a retry of one
 * made is answered as made and writes nothing; a new one is made and its
 * id recorded with it (ticket 0). */
static int write_roster(store_t *s, job_t *j)
{
    store_request_t first;
    int rc = made_before(s, j, &first);
    if (rc)
        return rc < 0 ? rc : 0;
    rc = j->op == AGENT_ADD      ? write_agent(s, j)
         : j->op == AGENT_RENAME ? write_rename(s, j)
                                 : write_agent_flags(s, j);
    return rc ? rc : add_request(s, j, 0);
}

static int write_mark(store_t *s, job_t *j)
{
    sqlite3_stmt *st = s->st[ST_OUTBOX_MARK];
    sqlite3_bind_int64(st, 1, j->first);
    sqlite3_bind_int64(st, 2, j->last);
    sqlite3_bind_int64(st, 3, ticket_now_ms());
    return step_done(st) == SQLITE_DONE ? 0 : store__db_fail(s, j, "outbox");
}

static bool is_change(int op)
{
    return op == CREATE || op == UPDATE || op == AGENT_ADD || op == AGENT_RENAME ||
           op == AGENT_SET || op == MARK_DELIVERED;
}

/* One change. Written carefully, inside its own savepoint: if it fails,
 * only it is undone. Otherwise without one (a savepoint and its release
 * per change were the largest part of a batch's work: SQLite copies every
 * page a change first touches into the savepoint's sub-journal, and FTS5
 * flushes at each): then a change that fails having written nothing
 * leaves nothing, and one that fails having written part of itself
 * returns true: the batch must be written again, carefully
 * (write_batch). Nothing written is what sqlite3_total_changes64 says,
 * which counts the rows of each statement that completed: a statement
 * that fails is undone by SQLite, itself or with the whole transaction,
 * but for a ticket's update, which is OR FAIL (store__update_sql): any
 * failure of its step counts as a partial write (s->unsure). */
static bool write_change(store_t *s, job_t *j, bool careful)
{
    if (careful && step_done(s->st[ST_SAVEPOINT]) != SQLITE_DONE) {
        j->rc = store__db_fail(s, j, "savepoint");
        return false;
    }
    sqlite3_int64 before = sqlite3_total_changes64(s->db);
    s->unsure = false;
    switch (j->op) {
    case CREATE:
        j->rc = write_create(s, j);
        break;
    case UPDATE:
        j->rc = write_update(s, j);
        break;
    case AGENT_ADD:
    case AGENT_RENAME:
    case AGENT_SET:
        j->rc = write_roster(s, j);
        break;
    case MARK_DELIVERED:
        j->rc = write_mark(s, j);
        break;
    }
    if (!careful)
        return j->rc && (s->unsure || sqlite3_total_changes64(s->db) != before);
    if (j->rc)
        step_done(s->st[ST_UNDO]);
    step_done(s->st[ST_RELEASE]);
    return false;
}

/* Tests only: a batch that wrote a ticket's change waits
 * s->commit_delay_ms before its COMMIT, as behind a stalled disk. */
static void delay_commit(const store_t *s, bool tickets)
{
    if (s->commit_delay_ms <= 0 || !tickets)
        return;
    struct timespec ts = {s->commit_delay_ms / 1000, (s->commit_delay_ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* A COMMIT that did not succeed: if the transaction is still open, it is
 * rolled back and nothing was written; if SQLite ended it itself (an I/O
 * error while writing or syncing the log), the commit may or may not have
 * reached the disk, and every change in it is answered so. */
static int commit_failed(store_t *s, job_t *failed)
{
    int rc = store__db_fail(s, failed, "commit");
    if (!sqlite3_get_autocommit(s->db)) {
        step_done(s->st[ST_ROLLBACK]);
        return rc;
    }
    char why[sizeof failed->err.message];
    snprintf(why, sizeof why, "%s", sqlite3_errmsg(s->db));
    snprintf(failed->err.code, sizeof failed->err.code, "outcome_unknown");
    snprintf(failed->err.message, sizeof failed->err.message,
             "the database did not confirm the commit (%.200s): the change may or may not have"
             " been saved",
             why);
    return rc;
}

/* Whether the batch holds a create: then its creates are indexed for
 * search at its end (index_new), not each by the trigger (schema
 * version 10). */
static bool batch_creates(const store_t *s)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->batch[i].job.op == CREATE)
            return true;
    return false;
}

/* An error of the deferred search index (a write that failed: disk full,
 * I/O): the transaction is rolled back, if SQLite has not ended it, so
 * nothing of the batch is committed and every change in it fails. */
static int index_failed(store_t *s, job_t *failed)
{
    int rc = store__db_fail(s, failed, "search index");
    if (!sqlite3_get_autocommit(s->db))
        step_done(s->st[ST_ROLLBACK]);
    return rc;
}

/* The end of a batch that deferred the index: the marker row goes (so it
 * is never committed), then the tickets the batch created, ids first to
 * last (0: none), enter the search index in one statement. 0 or
 * index_failed's error. */
static int index_new(store_t *s, int64_t first, int64_t last, job_t *failed)
{
    if (step_done(s->st[ST_UNDEFER_INDEX]) != SQLITE_DONE)
        return index_failed(s, failed);
    if (!first)
        return 0;
    sqlite3_stmt *st = s->st[ST_INDEX_NEW];
    sqlite3_bind_int64(st, 1, first);
    sqlite3_bind_int64(st, 2, last);
    return step_done(st) == SQLITE_DONE ? 0 : index_failed(s, failed);
}

/* The batch's changes, in a transaction left open for its COMMIT: 0; or
 * the error that failed every change (the transaction is then ended).
 * With careful, each change is in a savepoint of its own; without,
 * *partial says that a change failed having written part of itself
 * (write_change): the transaction is rolled back, and the batch must be
 * written again, carefully. *requests: a change recorded a request id;
 * *tickets: a change wrote a ticket. */
static int write_changes(store_t *s, bool careful, job_t *failed, bool *partial, bool *requests,
                         bool *tickets)
{
    bool deferred = batch_creates(s);
    int64_t first = 0, last = 0; /* the ids the batch created */
    *partial = *requests = *tickets = false;
    int rc = step_done(s->st[ST_BEGIN]) == SQLITE_DONE ? 0 : store__db_fail(s, failed, "begin");
    if (!rc && deferred && step_done(s->st[ST_DEFER_INDEX]) != SQLITE_DONE)
        rc = index_failed(s, failed);
    for (size_t i = 0; !rc && !*partial && i < s->n; i++) {
        job_t *j = &s->batch[i].job;
        *partial = write_change(s, j, careful);
        *requests |= !j->rc && j->request_id[0] && !j->replayed;
        *tickets |= !j->rc && !j->replayed && (j->op == CREATE || j->op == UPDATE);
        if (!j->rc && !j->replayed && j->op == CREATE) {
            first = first && first < j->ticket.id ? first : j->ticket.id;
            last = last > j->ticket.id ? last : j->ticket.id;
        }
        if (j->rc && sqlite3_get_autocommit(s->db)) {
            /* SQLite rolled the whole transaction back (disk full, I/O
             * error): the changes before this one are gone too. */
            rc = j->rc;
            failed->err = j->err;
        } else if (s->damaged) {
            /* This change met the damage: none of the batch is committed
             * into a damaged file. */
            rc = ARBOR_EEXIT;
            store__refuse_damaged(s, &failed->err);
            step_done(s->st[ST_ROLLBACK]);
        }
    }
    if (!rc && *partial) {
        if (step_done(s->st[ST_ROLLBACK]) != SQLITE_DONE && !sqlite3_get_autocommit(s->db))
            rc = store__db_fail(s, failed, "rollback");
        return rc;
    }
    if (!rc && deferred)
        rc = index_new(s, first, last, failed);
    if (!rc && *requests) {
        prune_requests(s);
        if (sqlite3_get_autocommit(s->db)) /* SQLite undid the whole transaction */
            rc = store__db_fail(s, failed, "request ids");
    }
    return rc;
}

/* The blocking-pool half of a flush: the whole batch in one transaction,
 * written without savepoints, and again with one per change if a change
 * failed having written part of itself (rare: a database error, or an
 * update's request id recorded by another request). When the transaction
 * cannot begin or commit, or its creates cannot be indexed, every change
 * in it fails. */
static void *write_batch(void *arg)
{
    store_t *s = arg;
    job_t failed; /* for its err: the text is never read */
    memset(&failed, 0, JOB_HEAD);
    bool partial, requests, tickets;
    int rc = write_changes(s, false, &failed, &partial, &requests, &tickets);
    if (!rc && partial) {
        s->stats.rewritten++;
        for (size_t i = 0; i < s->n; i++) {
            job_t *j = &s->batch[i].job;
            j->rc = 0;
            j->replayed = false;
            memset(&j->err, 0, sizeof j->err);
        }
        rc = write_changes(s, true, &failed, &partial, &requests, &tickets);
    }
    if (!rc)
        delay_commit(s, tickets);
    if (!rc && step_done(s->st[ST_COMMIT]) != SQLITE_DONE)
        rc = commit_failed(s, &failed);
    for (size_t i = 0; i < s->n; i++) {
        job_t *j = &s->batch[i].job;
        if (rc) {
            j->rc = rc;
            j->err = failed.err;
        } else if (!j->rc && j->op == UPDATE) {
            j->ticket.version++; /* what was written, for the cache and the caller */
        }
    }
    return NULL;
}

/* Writes the pending batch and answers each of its callers; the tickets it
 * committed enter the cache. */
static void flush(store_t *s)
{
    if (!s->n)
        return;
    arbor_blocking(write_batch, s, NULL);
    s->stats.transactions++;
    s->stats.changes += s->n;
    bool notices = false;
    for (size_t i = 0; i < s->n; i++) {
        const job_t *j = &s->batch[i].job;
        if (!j->rc && !j->replayed && (j->op == CREATE || j->op == UPDATE))
            *store__cache_slot(s, j->ticket.id) = j->ticket;
        if (!j->rc && !j->replayed && j->op == AGENT_RENAME)
            memset(s->cache, 0, sizeof s->cache); /* any ticket may hold the old name */
        notices |= !j->rc && j->op == UPDATE && j->notice[0];
        arbor_gs_reply_to(s->batch[i].from, j, JOB_HEAD);
    }
    /* One wake-up per commit, however many rows it added: the dispatcher
     * reads them all at once. */
    arbor_pid_t reader = notices ? arbor_whereis(STORE_OUTBOX_READER) : ARBOR_NOPID;
    if (reader)
        arbor_send(reader, STORE_TAG_OUTBOX, NULL, 0);
    s->n = s->urgent = 0;
    s->lingered = false;
}

/* How long the Store may wait before writing the batch: not at all once
 * its mailbox is empty (a timeout of 0), unless the batch holds only
 * notifications, which linger for a change to ride with. */
static arbor_gs_ret_t waiting(const store_t *s, arbor_gs_ret_t r)
{
    if (!s->n)
        return r;
    if (s->urgent)
        return arbor_gs_timeout(r, 0);
    uint64_t age = arbor_now_ms() - s->oldest_ms;
    return arbor_gs_timeout(r, age >= MARK_LINGER_MS ? 0 : (int64_t)(MARK_LINGER_MS - age));
}

/* True when a pending change touches ticket id (a rename may touch any). */
static bool pending_for(const store_t *s, int64_t id)
{
    for (size_t i = 0; i < s->n; i++)
        if ((s->batch[i].job.op == UPDATE && s->batch[i].job.ticket.id == id) ||
            s->batch[i].job.op == AGENT_RENAME)
            return true;
    return false;
}

/* True when a change waiting in the batch carries request id. */
static bool pending_request(const store_t *s, const char *id)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->batch[i].job.request_id, id) == 0)
            return true;
    return false;
}

typedef struct {
    store_t *s;
    job_t *job;
} find_t;

static void *run_find(void *arg)
{
    find_t *f = arg;
    job_t *j = f->job;
    int found = find_request(f->s, j->request_id, &j->request);
    j->rc = found == 1 ? 0 : found == 0 ? ARBOR_ENOENT : store__db_fail(f->s, j, "request id");
    return NULL;
}

/* REQUEST_FIND: the record of a request id, as if every change asked for
 * before had been applied (one with the same id in the batch is written
 * first; the others may wait). */
static arbor_gs_ret_t answer_request_find(store_t *s, job_t *j, arbor_from_t from)
{
    if (!j->request_id[0] || j->request_id[sizeof j->request_id - 1])
        return arbor_gs_halt(arbor_error("bad request id"));
    if (pending_request(s, j->request_id))
        flush(s);
    find_t f = {s, j};
    arbor_blocking(run_find, &f, NULL);
    arbor_gs_reply_to(from, j, JOB_HEAD);
    return arbor_gs_noreply();
}

/* ---- opening ------------------------------------------------------------------------- */

typedef struct {
    const char *path;
    store_t *s;
    char error[8192]; /* whole: a long path must not hide the cause */
} open_t;

static void close_store(void *arg)
{
    store_t *s = arg;
    for (int i = 0; i < ST_COUNT; i++)
        sqlite3_finalize(s->st[i]);
    for (int i = 0; i < STORE_SORTS; i++)
        for (int k = 0; k < LIST_FILTERS; k++)
            sqlite3_finalize(s->lists[i][k]);
    for (size_t i = 0; i < sizeof s->updates / sizeof s->updates[0]; i++)
        sqlite3_finalize(s->updates[i]);
    sqlite3_close(s->db);
    free(s->batch);
    free(s->rows);
    free(s);
}

/* PRAGMA quick_check: the b-trees' structure, every page of the file
 * (measured: 67 ms for 100,000 tickets with 300,000 history entries, a
 * 35 MB file, in the page cache; docs/performance.md). A fault found
 * makes the Store damaged before it acknowledges any change: a change
 * that lands on sound pages of a damaged file would otherwise be
 * acknowledged. */
static void check_file(store_t *s)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "PRAGMA quick_check(1)", -1, &st, NULL) != SQLITE_OK) {
        int code = sqlite3_errcode(s->db) & 0xff;
        if (code == SQLITE_CORRUPT || code == SQLITE_NOTADB)
            store__damaged(s, sqlite3_errmsg(s->db));
        return;
    }
    int rc = sqlite3_step(st);
    char found[200];
    if (rc == SQLITE_ROW) {
        const char *text = (const char *)sqlite3_column_text(st, 0);
        text = text ? text : "?";
        /* "*** in database main ***\nPage 29: ...": the fault alone. */
        const char *fault =
            strncmp(text, "***", 3) == 0 && strchr(text, '\n') ? strchr(text, '\n') + 1 : text;
        snprintf(found, sizeof found, "PRAGMA quick_check: %s", fault);
        for (char *p = found; *p; p++)
            *p = *p == '\n' ? ' ' : *p;
        if (strcmp(text, "ok") != 0)
            store__damaged(s, found);
    } else if (rc != SQLITE_DONE) {
        snprintf(found, sizeof found, "quick_check: %s", sqlite3_errmsg(s->db));
        store__damaged(s, found);
    }
    sqlite3_finalize(st);
}

static void *open_db(void *arg)
{
    open_t *o = arg;
    store_t *s = o->s;
    /* NOMUTEX: the connection takes no lock of its own on each call (two
     * per bind, step, reset, column...). It is used by one thread at a
     * time: the Store's statements run on the blocking pool while the
     * Store waits (the top of this file), its exit hook closes it after. */
    if (sqlite3_open_v2(o->path, &s->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        snprintf(o->error, sizeof o->error, "cannot open %s: %s", o->path,
                 s->db ? sqlite3_errmsg(s->db) : "out of memory");
        return NULL;
    }
    sqlite3_busy_timeout(s->db, 5000);
    /* Closing happens in an exit hook on a scheduler thread: no checkpoint
     * there. A clean stop has checkpointed already (store_terminate, on
     * the blocking pool); after a crash the next open recovers the WAL. */
    sqlite3_db_config(s->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
    /* Before anything is written (WAL mode, tables): a file that is not
     * the desk's is left as it is. */
    if (store__identify(s->db, o->path, o->error, sizeof o->error) != 0)
        return NULL;
    /* temp_store=MEMORY: the sub-journal (the pages a statement with
     * triggers first touches, to undo it alone; in a batch written again,
     * those each change first touches) stays in memory.
     * With the default it spilled to a file in /var/tmp past 64 KB, every
     * batch: about 10 pwrite calls a change, 84 % of the desk's writes
     * (docs/performance.md, issue 18). It only serves a rollback inside a
     * transaction; durability is the WAL's. Temporary tables and sorts
     * that spill (a list sorted by an order no index gives) stay in
     * memory too. */
    if (sqlite3_exec(s->db,
                     "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;"
                     " PRAGMA temp_store=MEMORY;",
                     NULL, NULL, NULL) != SQLITE_OK) {
        snprintf(o->error, sizeof o->error, "cannot set up %s: %s", o->path, sqlite3_errmsg(s->db));
        return NULL;
    }
    int version = store__migrate(s->db, o->error, sizeof o->error);
    if (version != SCHEMA_VERSION) {
        if (!o->error[0])
            snprintf(o->error, sizeof o->error, "%s has schema version %d, expected %d", o->path,
                     version, SCHEMA_VERSION);
        return NULL;
    }
    /* A new database, or one a desk made before it set its id. */
    if (store__mark(s->db) != SQLITE_OK) {
        snprintf(o->error, sizeof o->error, "cannot mark %s as a desk database: %s", o->path,
                 sqlite3_errmsg(s->db));
        return NULL;
    }
    for (int i = 0; i < ST_COUNT; i++) {
        if (sqlite3_prepare_v3(s->db, store__statement_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
                               &s->st[i], NULL) != SQLITE_OK) {
            snprintf(o->error, sizeof o->error, "cannot prepare: %s", sqlite3_errmsg(s->db));
            return NULL;
        }
    }
    check_file(s);
    return NULL;
}

static arbor_gs_ret_t store_init(void **state, void *arg)
{
    store_t *s = calloc(1, sizeof *s);
    if (!s)
        return arbor_gs_halt(arbor_error("out of memory"));
    open_t o = {.path = arg, .s = s};
    const char *delay = getenv("ARBOR_DESK_TEST_COMMIT_DELAY_MS");
    s->commit_delay_ms = delay ? strtoll(delay, NULL, 10) : 0;
    arbor_blocking(open_db, &o, NULL);
    if (o.error[0] || arbor_on_exit(close_store, s) != 0) {
        close_store(s);
        return arbor_gs_halt(arbor_error("%s", o.error[0] ? o.error : "out of memory"));
    }
    *state = s;
    return arbor_gs_ok();
}

/* ---- backup and checkpoint ----------------------------------------------------------- */

typedef struct {
    store_t *s;
    const char *path;
    job_t *job;
} backup_t;

/* Blocking pool: copies the database into a new file at path with SQLite's
 * online backup API, in one step (the Store serves nothing meanwhile, so
 * the copy is of one committed state). An existing file there is
 * replaced, unless it is the database itself or one of its own files. */
static void *run_backup(void *arg)
{
    backup_t *b = arg;
    job_t *j = b->job;
    const char *db = sqlite3_db_filename(b->s->db, "main");
    if (db && desk_db_own_file(db, b->path)) {
        snprintf(j->err.code, sizeof j->err.code, "bad_argument");
        snprintf(j->err.message, sizeof j->err.message,
                 "%s is the desk's own database or a file SQLite keeps beside it: back up to"
                 " another file",
                 b->path);
        j->rc = ARBOR_EINVAL;
        return NULL;
    }
    sqlite3 *dst = NULL;
    int rc = sqlite3_open(b->path, &dst);
    if (rc == SQLITE_OK) {
        sqlite3_backup *bk = sqlite3_backup_init(dst, "main", b->s->db, "main");
        if (bk) {
            sqlite3_backup_step(bk, -1);
            sqlite3_backup_finish(bk);
        }
        rc = sqlite3_errcode(dst);
    }
    if (rc != SQLITE_OK) {
        snprintf(j->err.code, sizeof j->err.code, "backup_failed");
        snprintf(j->err.message, sizeof j->err.message, "cannot back up to %s: %s", b->path,
                 dst ? sqlite3_errmsg(dst) : "out of memory");
        j->rc = ARBOR_EEXIT;
    }
    sqlite3_close(dst);
    return NULL;
}

/* ---- work on the Store's connection (store_run) ------------------------------------- */

typedef struct run_job {
    store_t *s;
    const run_req_t *req;
    const void *in; /* arbor_alloc'd: aligned for any type */
    char *reply;    /* arbor_alloc'd: rc, then the output at STORE_RUN_HEAD */
} run_job_t;

static void *run_fn(void *arg)
{
    run_job_t *r = arg;
    int rc = r->req->fn(r->s->db, r->in, r->reply + STORE_RUN_HEAD);
    memcpy(r->reply, &rc, sizeof rc);
    return NULL;
}

/* Writes the pending batch (so fn sees every change acknowledged before
 * it), then runs fn on the blocking pool and answers its result. */
static arbor_gs_ret_t answer_run(store_t *s, const arbor_msg_t *req, arbor_from_t from)
{
    run_req_t r;
    if (req->size < sizeof r)
        return arbor_gs_halt(arbor_error("bad store_run request"));
    memcpy(&r, req->data, sizeof r);
    if (req->size != sizeof r + r.in_size)
        return arbor_gs_halt(arbor_error("bad store_run request"));
    flush(s);
    /* The Store's own memory: a Store killed while fn runs (the kill takes
     * effect when fn returns) frees it with the process. */
    char *reply = arbor_calloc(1, STORE_RUN_HEAD + r.out_size);
    void *in = arbor_alloc(r.in_size ? r.in_size : 1);
    if (!reply || !in) {
        arbor_free(reply);
        arbor_free(in);
        return arbor_gs_halt(arbor_error("out of memory"));
    }
    memcpy(in, (const char *)req->data + sizeof r, r.in_size);
    run_job_t job = {s, &r, in, reply};
    arbor_blocking(run_fn, &job, NULL);
    arbor_gs_reply_to(from, reply, STORE_RUN_HEAD + r.out_size);
    arbor_free(reply);
    arbor_free(in);
    return waiting(s, arbor_gs_noreply());
}

/* A backup: the path is the request's data (NUL-terminated). The pending
 * batch is written first, so the copy holds every change acknowledged
 * before it. */
static arbor_gs_ret_t answer_backup(store_t *s, const arbor_msg_t *req, arbor_from_t from)
{
    job_t j = {.op = BACKUP};
    const char *path = req->data;
    if (!req->size || path[req->size - 1] != '\0')
        return arbor_gs_halt(arbor_error("bad backup request"));
    flush(s);
    backup_t b = {s, path, &j};
    arbor_blocking(run_backup, &b, NULL);
    arbor_gs_reply_to(from, &j, JOB_HEAD);
    return waiting(s, arbor_gs_noreply());
}

static void *checkpoint(void *arg)
{
    store_t *s = arg;
    sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
    return NULL;
}

/* A clean stop (the desk quits, its supervisor shuts the Store down) writes
 * what is pending and copies the WAL into the database file, so the file
 * alone holds every change: a copy of it taken after a quit is complete.
 * A crash skips this; the next open recovers from the WAL. */
static void store_terminate(void **state, const arbor_reason_t *reason)
{
    store_t *s = *state;
    if (!s)
        return;
    flush(s);
    if (reason->kind == ARBOR_EXIT_NORMAL || reason->kind == ARBOR_EXIT_SHUTDOWN)
        arbor_blocking(checkpoint, s, NULL);
}

/* A change (req, a valid job up to its text's NUL) joins the batch: it is
 * copied once, straight into its slot, only the bytes it carries (the
 * text's unused rest stays as it was: nothing reads past a text's NUL). */
static arbor_gs_ret_t enqueue(store_t *s, const arbor_msg_t *req, arbor_from_t from)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 16;
        pending_t *more = realloc(s->batch, cap * sizeof *more);
        if (!more)
            return arbor_gs_halt(arbor_error("out of memory"));
        s->batch = more;
        s->cap = cap;
    }
    if (!s->n)
        s->oldest_ms = arbor_now_ms();
    pending_t *p = &s->batch[s->n++];
    memcpy(&p->job, req->data, req->size);
    p->job.op = (int)req->tag;
    p->job.rc = 0;
    p->job.nrows = p->job.rows_size = 0;
    p->job.replayed = false;
    p->from = from;
    s->urgent += p->job.op != MARK_DELIVERED;
    if (s->n >= BATCH_MAX)
        flush(s);
    return arbor_gs_noreply();
}

/* A change joins the batch; a read first writes the batch, then reads. */
static arbor_gs_ret_t store_call(void **state, const arbor_msg_t *req, arbor_from_t from)
{
    store_t *s = *state;
    if (req->tag == BACKUP)
        return answer_backup(s, req, from);
    if (req->tag == RUN)
        return answer_run(s, req, from);
    /* A request is a job up to its text's NUL (store__job_size). */
    if (req->size <= JOB_HEAD || req->size > sizeof(job_t) ||
        ((const char *)req->data)[req->size - 1] != '\0')
        return arbor_gs_halt(arbor_error("bad store request"));
    int op = (int)req->tag;
    if (is_change(op) && !s->damaged)
        return waiting(s, enqueue(s, req, from));
    job_t j;
    memcpy(&j, req->data, req->size);
    j.op = op;
    j.rc = 0;
    j.nrows = j.rows_size = 0;
    j.replayed = false;
    if (j.op == REQUEST_FIND)
        return waiting(s, answer_request_find(s, &j, from));
    if (s->damaged && is_change(j.op)) {
        /* Nothing is acknowledged into a damaged file. */
        j.rc = ARBOR_EEXIT;
        store__refuse_damaged(s, &j.err);
        arbor_gs_reply_to(from, &j, JOB_HEAD);
        return waiting(s, arbor_gs_noreply());
    }
    if (j.op == STATS) {
        j.stats = s->stats;
        arbor_gs_reply_to(from, &j, JOB_HEAD);
        return waiting(s, arbor_gs_noreply());
    }
    if (j.op == GET) {
        if (pending_for(s, j.id))
            flush(s);
        const ticket_t *hit = store__cache_slot(s, j.id);
        if (hit->id == j.id && j.id != 0) {
            j.ticket = *hit;
            arbor_gs_reply_to(from, &j, JOB_HEAD);
            return waiting(s, arbor_gs_noreply());
        }
    }
    /* Lists and histories see every change before them. The outbox is
     * read as committed: its reader wants delivered what is durable, and
     * must not force the batch out early. */
    if (j.op != GET && j.op != OUTBOX_PENDING && j.op != OUTBOX_COUNT)
        flush(s);
    return waiting(s, store__answer_read(s, &j, from));
}

/* The timeout: the mailbox is empty, so the batch is complete (or its
 * notifications have waited long enough). */
static arbor_gs_ret_t store_info(void **state, const arbor_msg_t *msg)
{
    store_t *s = *state;
    if (msg->tag != ARBOR_TAG_GS_TIMEOUT)
        return waiting(s, arbor_gs_noreply());
    if (s->urgent && !s->lingered) {
        s->lingered = true;
        for (int i = 0; i < LINGER_YIELDS; i++)
            arbor_yield();
        return waiting(s, arbor_gs_noreply()); /* what came meanwhile joins first */
    }
    if (s->urgent || arbor_now_ms() - s->oldest_ms >= MARK_LINGER_MS)
        flush(s);
    return waiting(s, arbor_gs_noreply());
}

static void store_status(void *state, char *buf, size_t size)
{
    const store_t *s = state;
    if (s && s->damaged)
        snprintf(buf, size, "DAMAGED (%s): changes refused", s->stats.damage);
    else if (s)
        snprintf(buf, size, "%zu changes waiting to be written", s->n);
}

static const arbor_gen_server_t store_gs = {.label = "SupportSystem.Store",
                                            .init = store_init,
                                            .handle_call = store_call,
                                            .handle_info = store_info,
                                            .terminate = store_terminate,
                                            .format_status = store_status};

int store_start(void *path, arbor_pid_t *pid, arbor_reason_t *err)
{
    /* Trapping exits, the Store's terminate runs when its supervisor shuts
     * it down: that is where a clean stop checkpoints. */
    arbor_gs_opts_t o = {.link = true, .name = STORE_NAME, .trap_exit = true};
    return arbor_gs_start(&store_gs, path, &o, pid, err);
}

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
 * batch is written in one transaction (one fsync), each change inside a
 * savepoint so a refused one does not undo the others, and every caller is
 * answered after COMMIT. Changes that arrive while a batch is being written
 * queue up in the mailbox and form the next batch, so the batch grows with
 * the load. Before a batch is written the Store yields a few times, so that
 * the callers it has just answered can join it (LINGER_YIELDS). A batch of
 * delivery marks alone waits up to MARK_LINGER_MS for a change to share
 * the commit with, so marking notifications delivered does not cost fsyncs
 * of its own.
 *
 * The outbox: a change that announces something (a status change) carries
 * its notification's text, and the Store inserts the outbox row inside the
 * change's own savepoint, so the row commits with the change or not at all,
 * whatever else shares the batch. After a commit that added rows, the Store
 * wakes the dispatcher (a message to STORE_OUTBOX_READER), which reads the
 * pending rows (committed state only: no flush) and marks the ones it
 * delivered.
 *
 * Reads answer as if each request had been applied when it arrived: a read
 * that a pending change could affect writes the batch first. The tickets
 * committed last are kept in a small cache (direct-mapped by id), so a
 * worker loading a ticket just created or changed needs no trip to the
 * disk; the cache only ever holds committed state.
 */
#include "store.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

enum {
    CREATE = 1,
    UPDATE,
    GET,
    HISTORY,
    LIST,
    AGENTS,
    AGENT_ADD,
    MARK_DELIVERED,
    STATS,
    BACKUP,
    OUTBOX_PENDING,
    OUTBOX_COUNT,
    TICKET_COUNTS
};

/* A batch never holds more changes than this; a full one is written at
 * once. */
#define BATCH_MAX 512

/* A batch of delivery marks alone waits this long for a change to share
 * its commit with: marking never costs a commit of its own while changes
 * keep coming. */
#define MARK_LINGER_MS 5

/* Before writing a batch, the Store yields this many times, once per
 * batch, so that callers it has just answered (and anyone else runnable)
 * can add their next change: without it two clients alternate, each
 * commit carrying one change while the other waits (commit_delay in
 * PostgreSQL). A yield costs a few hundred nanoseconds when nothing else
 * is runnable; measured: 32 doubled two clients' durable tickets per second
 * (ticket_workflow_durable_2clients) and did not slow one client. */
#define LINGER_YIELDS 32

/* Tickets in the cache of committed tickets (a power of two). */
#define CACHE_SLOTS 1024

#define SCHEMA_VERSION 3

static const char schema_v1[] =
    "CREATE TABLE tickets(id INTEGER PRIMARY KEY AUTOINCREMENT, description TEXT NOT NULL,"
    " customer TEXT NOT NULL, priority INTEGER NOT NULL, status INTEGER NOT NULL,"
    " agent TEXT NOT NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);"
    "CREATE TABLE history(id INTEGER PRIMARY KEY AUTOINCREMENT, ticket INTEGER NOT NULL"
    " REFERENCES tickets(id), at INTEGER NOT NULL, who TEXT NOT NULL, what TEXT NOT NULL);"
    "CREATE INDEX history_ticket ON history(ticket);"
    "CREATE TABLE agents(name TEXT PRIMARY KEY, added INTEGER NOT NULL);"
    "CREATE TABLE outbox(id INTEGER PRIMARY KEY AUTOINCREMENT, ticket INTEGER NOT NULL,"
    " at INTEGER NOT NULL, text TEXT NOT NULL);"
    "INSERT INTO agents VALUES('alice', 1), ('bob', 2);"
    "PRAGMA user_version = 1;";

/* Version 2: each ticket has a version, raised by every update, which the
 * UPDATE checks: a change computed from a stale copy is refused. The
 * column is added to an existing version 1 file. */
static const char schema_v2[] = "ALTER TABLE tickets ADD COLUMN version INTEGER NOT NULL DEFAULT 0;"
                                "PRAGMA user_version = 2;";

/* Version 3: the outbox is read back. delivered_at is NULL while a row is
 * pending, and the partial index keeps finding and counting pending rows
 * proportional to their number, not to the table's. Rows of an older file
 * were written by Notifier tasks that appended their log line right after
 * (and retried, adding a row per attempt), and no one recorded which were
 * delivered: they are taken as delivered rather than replayed into the
 * log, possibly years late. */
static const char schema_v3[] =
    "ALTER TABLE outbox ADD COLUMN delivered_at INTEGER;"
    "UPDATE outbox SET delivered_at = at;"
    "CREATE INDEX outbox_pending ON outbox(id) WHERE delivered_at IS NULL;"
    "PRAGMA user_version = 3;";

/* The desk's databases say so in their header (PRAGMA application_id,
 * "ARBD"): the Store opens no other SQLite file. */
#define APPLICATION_ID 1095909956 /* 0x41524244 */

/* The steps from version i to i + 1. */
static const char *const migrations[SCHEMA_VERSION] = {schema_v1, schema_v2, schema_v3};

#define TICKET_COLUMNS                                                                             \
    "id, description, customer, priority, status, agent, created_at, updated_at, version"

/* The statements, prepared once when the Store opens the database. */
enum {
    ST_BEGIN,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_SAVEPOINT,
    ST_RELEASE,
    ST_UNDO,
    ST_INSERT_TICKET,
    ST_INSERT_HISTORY,
    ST_UPDATE_TICKET,
    ST_EXISTS,
    ST_GET,
    ST_HISTORY,
    ST_LIST,
    ST_AGENTS,
    ST_AGENT_ADD,
    ST_NOTIFY,
    ST_OUTBOX_PENDING,
    ST_OUTBOX_MARK,
    ST_OUTBOX_COUNT,
    ST_TICKET_COUNTS,
    ST_COUNT
};

static const char *const statement_sql[ST_COUNT] = {
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_SAVEPOINT] = "SAVEPOINT change",
    [ST_RELEASE] = "RELEASE change",
    [ST_UNDO] = "ROLLBACK TO change",
    [ST_INSERT_TICKET] = "INSERT INTO tickets(description, customer, priority, status, agent,"
                         " created_at, updated_at) VALUES(?,?,?,?,?,?,?)",
    [ST_INSERT_HISTORY] = "INSERT INTO history(ticket, at, who, what) VALUES(?,?,?,?)",
    [ST_UPDATE_TICKET] = "UPDATE tickets SET status = ?, agent = ?, updated_at = ?,"
                         " version = version + 1 WHERE id = ? AND version = ?",
    [ST_EXISTS] = "SELECT 1 FROM tickets WHERE id = ?",
    [ST_GET] = "SELECT " TICKET_COLUMNS " FROM tickets WHERE id = ?",
    [ST_HISTORY] = "SELECT at, who, what FROM history WHERE ticket = ? ORDER BY id",
    [ST_LIST] = "SELECT " TICKET_COLUMNS " FROM tickets WHERE (?1 < 0 OR status = ?1)"
                " AND (?2 = '' OR agent = ?2) ORDER BY id DESC LIMIT ?3",
    [ST_AGENTS] = "SELECT name FROM agents ORDER BY added, name",
    [ST_AGENT_ADD] = "INSERT INTO agents VALUES(?, ?)",
    [ST_NOTIFY] = "INSERT INTO outbox(ticket, at, text) VALUES(?, ?, ?)",
    [ST_OUTBOX_PENDING] = "SELECT id, ticket, at, text FROM outbox WHERE delivered_at IS NULL"
                          " ORDER BY id LIMIT ?",
    [ST_OUTBOX_MARK] = "UPDATE outbox SET delivered_at = ?3 WHERE id BETWEEN ?1 AND ?2"
                       " AND delivered_at IS NULL",
    [ST_OUTBOX_COUNT] = "SELECT count(*) FROM outbox WHERE delivered_at IS NULL",
    [ST_TICKET_COUNTS] = "SELECT agent, status, count(*) FROM tickets GROUP BY agent, status"
                         " ORDER BY agent, status",
};

/* One request and its answer. The client sends it; the Store fills the
 * answer in and sends it back (with any rows after it). */
typedef struct job {
    int op;
    ticket_t ticket; /* CREATE, UPDATE in; GET out */
    int64_t id;
    char who[TICKET_NAME_SIZE];
    char what[TICKET_NAME_SIZE + 64];
    bool has_status;
    ticket_status_t status;
    char agent[TICKET_NAME_SIZE];
    char notice[STORE_NOTICE_SIZE]; /* UPDATE: the notification it announces ("": none) */
    int64_t first, last;            /* MARK_DELIVERED: the ids delivered */
    size_t limit;
    /* out */
    int64_t count;       /* OUTBOX_COUNT */
    store_stats_t stats; /* STATS */
    int rc;
    ticket_error_t err;
    size_t nrows, rows_size;
} job_t;

/* A change waiting in the batch, with who to answer. */
typedef struct pending {
    job_t job;
    arbor_from_t from;
} pending_t;

typedef struct store {
    sqlite3 *db;
    sqlite3_stmt *st[ST_COUNT];
    pending_t *batch; /* malloc'd, like the store itself: the exit hook frees both */
    size_t n, cap;
    size_t urgent;      /* changes in the batch other than delivery marks */
    bool lingered;      /* the batch has waited once for company */
    uint64_t oldest_ms; /* when the batch's first change arrived */
    store_stats_t stats;
    void *rows;                  /* a read's rows, malloc'd: in the state, so that a Store killed
                                  * during a read frees them in its exit hook */
    ticket_t cache[CACHE_SLOTS]; /* id 0: empty */
} store_t;

/* A read's work for the blocking pool: the job; its rows go to s->rows. */
typedef struct read {
    store_t *s;
    job_t *job;
} read_t;

static int db_fail(store_t *s, job_t *j, const char *what)
{
    snprintf(j->err.code, sizeof j->err.code, "store_error");
    snprintf(j->err.message, sizeof j->err.message, "%s: %s", what, sqlite3_errmsg(s->db));
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

static void read_ticket(sqlite3_stmt *st, ticket_t *t)
{
    memset(t, 0, sizeof *t);
    t->id = sqlite3_column_int64(st, 0);
    snprintf(t->description, sizeof t->description, "%s", sqlite3_column_text(st, 1));
    snprintf(t->customer, sizeof t->customer, "%s", sqlite3_column_text(st, 2));
    t->priority = (ticket_priority_t)sqlite3_column_int(st, 3);
    t->status = (ticket_status_t)sqlite3_column_int(st, 4);
    snprintf(t->agent, sizeof t->agent, "%s", sqlite3_column_text(st, 5));
    t->created_at = sqlite3_column_int64(st, 6);
    t->updated_at = sqlite3_column_int64(st, 7);
    t->version = sqlite3_column_int64(st, 8);
}

/* ---- changes ------------------------------------------------------------------------ */

static int add_history(store_t *s, job_t *j, int64_t ticket, int64_t at, const char *who,
                       const char *what)
{
    sqlite3_stmt *st = s->st[ST_INSERT_HISTORY];
    sqlite3_bind_int64(st, 1, ticket);
    sqlite3_bind_int64(st, 2, at);
    sqlite3_bind_text(st, 3, who, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, what, -1, SQLITE_STATIC);
    return step_done(st) == SQLITE_DONE ? 0 : db_fail(s, j, "history");
}

static int write_create(store_t *s, job_t *j)
{
    ticket_t *t = &j->ticket;
    sqlite3_stmt *st = s->st[ST_INSERT_TICKET];
    sqlite3_bind_text(st, 1, t->description, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, t->customer, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, (int)t->priority);
    sqlite3_bind_int(st, 4, (int)t->status);
    sqlite3_bind_text(st, 5, t->agent, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, t->created_at);
    sqlite3_bind_int64(st, 7, t->updated_at);
    if (step_done(st) != SQLITE_DONE)
        return db_fail(s, j, "insert");
    t->id = sqlite3_last_insert_rowid(s->db);
    return add_history(s, j, t->id, t->created_at, t->customer[0] ? t->customer : "desk",
                       "created");
}

static int write_update(store_t *s, job_t *j)
{
    const ticket_t *t = &j->ticket;
    sqlite3_stmt *st = s->st[ST_UPDATE_TICKET];
    sqlite3_bind_int(st, 1, (int)t->status);
    sqlite3_bind_text(st, 2, t->agent, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, t->updated_at);
    sqlite3_bind_int64(st, 4, t->id);
    sqlite3_bind_int64(st, 5, t->version);
    if (step_done(st) != SQLITE_DONE)
        return db_fail(s, j, "update");
    if (sqlite3_changes(s->db) != 1) {
        sqlite3_stmt *ex = s->st[ST_EXISTS];
        sqlite3_bind_int64(ex, 1, t->id);
        int found = sqlite3_step(ex);
        sqlite3_reset(ex);
        sqlite3_clear_bindings(ex);
        if (found != SQLITE_ROW)
            return ARBOR_ENOENT;
        snprintf(j->err.code, sizeof j->err.code, "conflict");
        snprintf(j->err.message, sizeof j->err.message,
                 "ticket %lld was changed since this change was computed (version %lld is"
                 " stale); nothing was changed",
                 (long long)t->id, (long long)t->version);
        return ARBOR_EAGAIN;
    }
    j->ticket.version++; /* what was written, for the cache and the caller */
    int rc = add_history(s, j, t->id, t->updated_at, j->who, j->what);
    if (rc || !j->notice[0])
        return rc;
    /* In the change's savepoint: if the notification cannot be recorded,
     * the change is undone with it. */
    sqlite3_stmt *st_n = s->st[ST_NOTIFY];
    sqlite3_bind_int64(st_n, 1, t->id);
    sqlite3_bind_int64(st_n, 2, t->updated_at);
    sqlite3_bind_text(st_n, 3, j->notice, -1, SQLITE_STATIC);
    return step_done(st_n) == SQLITE_DONE ? 0 : db_fail(s, j, "outbox");
}

static int write_agent(store_t *s, job_t *j)
{
    sqlite3_stmt *st = s->st[ST_AGENT_ADD];
    sqlite3_bind_text(st, 1, j->agent, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, ticket_now_ms());
    int step = step_done(st);
    return step == SQLITE_DONE         ? 0
           : step == SQLITE_CONSTRAINT ? ARBOR_EEXIST
                                       : db_fail(s, j, "agent");
}

static int write_mark(store_t *s, job_t *j)
{
    sqlite3_stmt *st = s->st[ST_OUTBOX_MARK];
    sqlite3_bind_int64(st, 1, j->first);
    sqlite3_bind_int64(st, 2, j->last);
    sqlite3_bind_int64(st, 3, ticket_now_ms());
    return step_done(st) == SQLITE_DONE ? 0 : db_fail(s, j, "outbox");
}

static bool is_change(int op)
{
    return op == CREATE || op == UPDATE || op == AGENT_ADD || op == MARK_DELIVERED;
}

/* One change, inside its own savepoint: if it fails, only it is undone. */
static void write_change(store_t *s, job_t *j)
{
    if (step_done(s->st[ST_SAVEPOINT]) != SQLITE_DONE) {
        j->rc = db_fail(s, j, "savepoint");
        return;
    }
    switch (j->op) {
    case CREATE:
        j->rc = write_create(s, j);
        break;
    case UPDATE:
        j->rc = write_update(s, j);
        break;
    case AGENT_ADD:
        j->rc = write_agent(s, j);
        break;
    case MARK_DELIVERED:
        j->rc = write_mark(s, j);
        break;
    }
    if (j->rc)
        step_done(s->st[ST_UNDO]);
    step_done(s->st[ST_RELEASE]);
}

/* The blocking-pool half of a flush: the whole batch in one transaction.
 * When the transaction cannot begin or commit, every change in it fails. */
static void *write_batch(void *arg)
{
    store_t *s = arg;
    job_t failed = {0};
    int rc = step_done(s->st[ST_BEGIN]) == SQLITE_DONE ? 0 : db_fail(s, &failed, "begin");
    for (size_t i = 0; !rc && i < s->n; i++) {
        job_t *j = &s->batch[i].job;
        write_change(s, j);
        if (j->rc && sqlite3_get_autocommit(s->db)) {
            /* SQLite rolled the whole transaction back (disk full, I/O
             * error): the changes before this one are gone too. */
            rc = j->rc;
            failed.err = j->err;
        }
    }
    if (!rc && step_done(s->st[ST_COMMIT]) != SQLITE_DONE) {
        rc = db_fail(s, &failed, "commit");
        step_done(s->st[ST_ROLLBACK]);
    }
    for (size_t i = 0; rc && i < s->n; i++) {
        s->batch[i].job.rc = rc;
        s->batch[i].job.err = failed.err;
    }
    return NULL;
}

static ticket_t *cache_slot(store_t *s, int64_t id)
{
    return &s->cache[(uint64_t)id & (CACHE_SLOTS - 1)];
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
        if (!j->rc && (j->op == CREATE || j->op == UPDATE))
            *cache_slot(s, j->ticket.id) = j->ticket;
        notices |= !j->rc && j->op == UPDATE && j->notice[0];
        arbor_gs_reply_to(s->batch[i].from, j, sizeof *j);
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

/* True when a pending change touches ticket id. */
static bool pending_for(const store_t *s, int64_t id)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->batch[i].job.op == UPDATE && s->batch[i].job.ticket.id == id)
            return true;
    return false;
}

/* ---- reads -------------------------------------------------------------------------- */

static int collect(read_t *r, sqlite3_stmt *st, size_t row_size,
                   void (*read_row)(sqlite3_stmt *, void *))
{
    size_t cap = 16;
    job_t *j = r->job;
    store_t *s = r->s;
    j->rows_size = row_size;
    s->rows = malloc(cap * row_size);
    int rc = s->rows ? 0 : ARBOR_ENOMEM;
    while (!rc && sqlite3_step(st) == SQLITE_ROW) {
        if (j->nrows == cap) {
            void *more = realloc(s->rows, 2 * cap * row_size);
            if (!more) {
                rc = ARBOR_ENOMEM;
                break;
            }
            s->rows = more;
            cap *= 2;
        }
        read_row(st, (char *)s->rows + j->nrows++ * row_size);
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc;
}

static void read_ticket_row(sqlite3_stmt *st, void *row)
{
    read_ticket(st, row);
}

static void read_history_row(sqlite3_stmt *st, void *row)
{
    store_history_t *h = row;
    h->at = sqlite3_column_int64(st, 0);
    snprintf(h->who, sizeof h->who, "%s", sqlite3_column_text(st, 1));
    snprintf(h->what, sizeof h->what, "%s", sqlite3_column_text(st, 2));
}

static void read_name_row(sqlite3_stmt *st, void *row)
{
    snprintf(row, TICKET_NAME_SIZE, "%s", sqlite3_column_text(st, 0));
}

static void read_notification_row(sqlite3_stmt *st, void *row)
{
    store_notification_t *n = row;
    n->id = sqlite3_column_int64(st, 0);
    n->ticket = sqlite3_column_int64(st, 1);
    n->at = sqlite3_column_int64(st, 2);
    snprintf(n->text, sizeof n->text, "%s", sqlite3_column_text(st, 3));
}

static void read_count_row(sqlite3_stmt *st, void *row)
{
    store_ticket_count_t *c = row;
    snprintf(c->agent, sizeof c->agent, "%s", sqlite3_column_text(st, 0));
    c->status = (ticket_status_t)sqlite3_column_int(st, 1);
    c->count = sqlite3_column_int64(st, 2);
}

static void *run_read(void *arg)
{
    read_t *r = arg;
    job_t *j = r->job;
    sqlite3_stmt *st;
    switch (j->op) {
    case GET:
        st = r->s->st[ST_GET];
        sqlite3_bind_int64(st, 1, j->id);
        j->rc = sqlite3_step(st) == SQLITE_ROW ? 0 : ARBOR_ENOENT;
        if (!j->rc) {
            read_ticket(st, &j->ticket);
            *cache_slot(r->s, j->id) = j->ticket;
        }
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        break;
    case HISTORY:
        st = r->s->st[ST_HISTORY];
        sqlite3_bind_int64(st, 1, j->id);
        j->rc = collect(r, st, sizeof(store_history_t), read_history_row);
        break;
    case LIST:
        st = r->s->st[ST_LIST];
        sqlite3_bind_int(st, 1, j->has_status ? (int)j->status : -1);
        sqlite3_bind_text(st, 2, j->agent, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, (int64_t)j->limit);
        j->rc = collect(r, st, sizeof(ticket_t), read_ticket_row);
        break;
    case AGENTS:
        j->rc = collect(r, r->s->st[ST_AGENTS], TICKET_NAME_SIZE, read_name_row);
        break;
    case OUTBOX_PENDING:
        st = r->s->st[ST_OUTBOX_PENDING];
        sqlite3_bind_int64(st, 1, (int64_t)j->limit);
        j->rc = collect(r, st, sizeof(store_notification_t), read_notification_row);
        break;
    case OUTBOX_COUNT:
        st = r->s->st[ST_OUTBOX_COUNT];
        j->rc = sqlite3_step(st) == SQLITE_ROW ? 0 : db_fail(r->s, j, "outbox");
        j->count = j->rc ? 0 : sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
        break;
    case TICKET_COUNTS:
        j->rc =
            collect(r, r->s->st[ST_TICKET_COUNTS], sizeof(store_ticket_count_t), read_count_row);
        break;
    default:
        j->rc = ARBOR_EINVAL;
    }
    return NULL;
}

/* Answers a read: the job, then its rows, in one reply. */
static arbor_gs_ret_t answer_read(store_t *s, job_t *j, arbor_from_t from)
{
    read_t r = {.s = s, .job = j};
    arbor_blocking(run_read, &r, NULL);
    size_t rows = j->nrows * j->rows_size;
    char *reply = malloc(sizeof *j + rows);
    if (!reply) {
        free(s->rows);
        s->rows = NULL;
        return arbor_gs_halt(arbor_error("out of memory"));
    }
    memcpy(reply, j, sizeof *j);
    if (rows)
        memcpy(reply + sizeof *j, s->rows, rows);
    free(s->rows);
    s->rows = NULL;
    arbor_gs_reply_to(from, reply, sizeof *j + rows);
    free(reply);
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
    sqlite3_close(s->db);
    free(s->batch);
    free(s->rows);
    free(s);
}

/* The integer a PRAGMA answers: SQLITE_OK, or SQLite's error (a file that
 * is not a database answers SQLITE_NOTADB). */
static int pragma_int(sqlite3 *db, const char *sql, int *out)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
        *out = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
        rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
        sqlite3_finalize(st);
    }
    return rc;
}

/* Says whether the file open in db (at path) is one the Store may use,
 * reading only: a new, empty file; a desk database (APPLICATION_ID), or
 * one a desk made before it set APPLICATION_ID (no id, but a schema
 * version and the desk's tables); in both cases of a schema version it
 * knows. Otherwise -1, with a sentence in error naming the file and what
 * it is. */
static int identify(sqlite3 *db, const char *path, char *error, size_t size)
{
    int app = 0, version = 0, tables = 0, desk_tables = 0;
    if (pragma_int(db, "PRAGMA application_id", &app) != SQLITE_OK ||
        pragma_int(db, "PRAGMA user_version", &version) != SQLITE_OK ||
        pragma_int(db,
                   "SELECT count(*) FROM sqlite_master WHERE type = 'table'"
                   " AND name NOT LIKE 'sqlite_%'",
                   &tables) != SQLITE_OK ||
        pragma_int(db,
                   "SELECT count(*) FROM sqlite_master WHERE type = 'table'"
                   " AND name IN ('tickets', 'history', 'agents', 'outbox')",
                   &desk_tables) != SQLITE_OK) {
        snprintf(error, size, "%s is not a desk database: SQLite cannot read it (%s)", path,
                 sqlite3_errmsg(db));
        return -1;
    }
    if (app != APPLICATION_ID && app != 0) {
        snprintf(error, size,
                 "%s is not a desk database: it belongs to another application (its SQLite"
                 " application_id is %d, a desk's is %d)",
                 path, app, APPLICATION_ID);
        return -1;
    }
    if (version > SCHEMA_VERSION) {
        snprintf(error, size,
                 "%s has schema version %d, newer than this desk knows (%d): a newer desk made"
                 " it; run that one",
                 path, version, SCHEMA_VERSION);
        return -1;
    }
    if (app == 0 && tables > 0 && (version == 0 || desk_tables < 4)) {
        snprintf(error, size,
                 "%s is not a desk database: it holds another application's tables (%d tables,"
                 " schema version %d, no desk application_id)",
                 path, tables, version);
        return -1;
    }
    return 0;
}

int store_check_file(const char *path, char *why, size_t size)
{
    struct stat st;
    if (stat(path, &st) != 0 && errno == ENOENT)
        return 0; /* not there yet: it becomes a new desk database */
    sqlite3 *db = NULL;
    int rc = 0;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
        snprintf(why, size, "cannot open %s: %s", path, db ? sqlite3_errmsg(db) : "out of memory");
        rc = -1;
    } else if (identify(db, path, why, size) != 0) {
        rc = -1;
    }
    sqlite3_close(db);
    return rc;
}

/* Brings the schema to SCHEMA_VERSION, one step per version, each in its
 * own transaction. Returns the version the file ends at (-1: unreadable). */
static int migrate(sqlite3 *db, char *error, size_t size)
{
    int version = -1;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW)
            version = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
    }
    while (version >= 0 && version < SCHEMA_VERSION) {
        char *msg = NULL;
        if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK ||
            sqlite3_exec(db, migrations[version], NULL, NULL, &msg) != SQLITE_OK ||
            sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
            snprintf(error, size, "migration to version %d failed: %s", version + 1,
                     msg ? msg : sqlite3_errmsg(db));
            sqlite3_free(msg);
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
            return -1;
        }
        version++;
    }
    return version;
}

static void *open_db(void *arg)
{
    open_t *o = arg;
    store_t *s = o->s;
    if (sqlite3_open(o->path, &s->db) != SQLITE_OK) {
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
    if (identify(s->db, o->path, o->error, sizeof o->error) != 0)
        return NULL;
    if (sqlite3_exec(s->db,
                     "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;",
                     NULL, NULL, NULL) != SQLITE_OK) {
        snprintf(o->error, sizeof o->error, "cannot set up %s: %s", o->path, sqlite3_errmsg(s->db));
        return NULL;
    }
    int version = migrate(s->db, o->error, sizeof o->error);
    if (version != SCHEMA_VERSION) {
        if (!o->error[0])
            snprintf(o->error, sizeof o->error, "%s has schema version %d, expected %d", o->path,
                     version, SCHEMA_VERSION);
        return NULL;
    }
    /* A new database, or one a desk made before it set its id. */
    int app = 0;
    char mark[64];
    snprintf(mark, sizeof mark, "PRAGMA application_id = %d", APPLICATION_ID);
    if (pragma_int(s->db, "PRAGMA application_id", &app) != SQLITE_OK ||
        (app != APPLICATION_ID && sqlite3_exec(s->db, mark, NULL, NULL, NULL) != SQLITE_OK)) {
        snprintf(o->error, sizeof o->error, "cannot mark %s as a desk database: %s", o->path,
                 sqlite3_errmsg(s->db));
        return NULL;
    }
    for (int i = 0; i < ST_COUNT; i++) {
        if (sqlite3_prepare_v3(s->db, statement_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->st[i],
                               NULL) != SQLITE_OK) {
            snprintf(o->error, sizeof o->error, "cannot prepare: %s", sqlite3_errmsg(s->db));
            return NULL;
        }
    }
    return NULL;
}

static arbor_gs_ret_t store_init(void **state, void *arg)
{
    store_t *s = calloc(1, sizeof *s);
    if (!s)
        return arbor_gs_halt(arbor_error("out of memory"));
    open_t o = {.path = arg, .s = s};
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
 * replaced. */
static void *run_backup(void *arg)
{
    backup_t *b = arg;
    job_t *j = b->job;
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
    arbor_gs_reply_to(from, &j, sizeof j);
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

/* A change joins the batch; a read first writes the batch, then reads. */
static arbor_gs_ret_t store_call(void **state, const arbor_msg_t *req, arbor_from_t from)
{
    store_t *s = *state;
    if (req->tag == BACKUP)
        return answer_backup(s, req, from);
    if (req->size != sizeof(job_t))
        return arbor_gs_halt(arbor_error("bad store request"));
    job_t j;
    memcpy(&j, req->data, sizeof j);
    j.op = (int)req->tag;
    j.rc = 0;
    j.nrows = j.rows_size = 0;
    if (j.op == STATS) {
        j.stats = s->stats;
        arbor_gs_reply_to(from, &j, sizeof j);
        return waiting(s, arbor_gs_noreply());
    }
    if (j.op == GET) {
        if (pending_for(s, j.id))
            flush(s);
        const ticket_t *hit = cache_slot(s, j.id);
        if (hit->id == j.id && j.id != 0) {
            j.ticket = *hit;
            arbor_gs_reply_to(from, &j, sizeof j);
            return waiting(s, arbor_gs_noreply());
        }
    }
    if (!is_change(j.op)) {
        /* Lists and histories see every change before them. The outbox is
         * read as committed: its reader wants delivered what is durable,
         * and must not force the batch out early. */
        if (j.op != GET && j.op != OUTBOX_PENDING && j.op != OUTBOX_COUNT)
            flush(s);
        return waiting(s, answer_read(s, &j, from));
    }
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
    s->urgent += j.op != MARK_DELIVERED;
    s->batch[s->n++] = (pending_t){j, from};
    if (s->n >= BATCH_MAX)
        flush(s);
    return waiting(s, arbor_gs_noreply());
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
    if (s)
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

/* ---- the client side ----------------------------------------------------------------- */

/* Runs j at the Store; on success *reply holds the answer (the job, then
 * its rows). */
static int request(job_t *j, arbor_msg_t **reply)
{
    arbor_pid_t store = arbor_whereis(STORE_NAME);
    if (!store)
        return ARBOR_ENOPROC;
    int rc = arbor_gs_call(store, (uint64_t)j->op, j, sizeof *j, 30000, reply, NULL);
    if (rc)
        return rc;
    const job_t *out = (*reply)->data;
    if (out->rc) {
        *j = *out;
        rc = out->rc;
        arbor_msg_free(*reply);
        *reply = NULL;
    }
    return rc;
}

/* Runs j at the Store and copies the answer (not its rows) back into j. */
static int ask(job_t *j)
{
    arbor_msg_t *m;
    int rc = request(j, &m);
    if (rc == 0) {
        *j = *(const job_t *)m->data;
        arbor_msg_free(m);
    }
    return rc;
}

static void copy_error(const job_t *j, int rc, ticket_error_t *err)
{
    if (!err)
        return;
    if (j->err.code[0])
        *err = j->err;
    else
        snprintf(err->code, sizeof err->code, "%s", rc == ARBOR_ENOPROC ? "store_down" : "store");
    if (!j->err.code[0])
        snprintf(err->message, sizeof err->message, "the store could not do it: %s",
                 arbor_strerror(rc));
}

int store_create(ticket_t *t, ticket_error_t *err)
{
    job_t j = {.op = CREATE, .ticket = *t};
    int rc = ask(&j);
    if (rc)
        copy_error(&j, rc, err);
    else
        t->id = j.ticket.id;
    return rc;
}

int store_update(ticket_t *t, const char *who, const char *what, const char *notice,
                 ticket_error_t *err)
{
    job_t j = {.op = UPDATE, .ticket = *t};
    snprintf(j.who, sizeof j.who, "%s", who);
    snprintf(j.what, sizeof j.what, "%s", what);
    snprintf(j.notice, sizeof j.notice, "%s", notice ? notice : "");
    int rc = ask(&j);
    if (rc)
        copy_error(&j, rc, err);
    else
        t->version = j.ticket.version;
    return rc;
}

int store_get(int64_t id, ticket_t *out)
{
    job_t j = {.op = GET, .id = id};
    int rc = ask(&j);
    if (rc == 0)
        *out = j.ticket;
    return rc;
}

/* Copies the rows of a reply into a malloc'd array. */
static int take_rows(arbor_msg_t *m, void **out, size_t *n)
{
    const job_t *j = m->data;
    size_t bytes = j->nrows * j->rows_size;
    *out = malloc(bytes ? bytes : 1);
    if (!*out) {
        arbor_msg_free(m);
        return ARBOR_ENOMEM;
    }
    memcpy(*out, (const char *)m->data + sizeof *j, bytes);
    *n = j->nrows;
    arbor_msg_free(m);
    return 0;
}

int store_history(int64_t id, store_history_t **out, size_t *n)
{
    job_t j = {.op = HISTORY, .id = id};
    arbor_msg_t *m;
    int rc = request(&j, &m);
    return rc ? rc : take_rows(m, (void **)out, n);
}

int store_list(const ticket_status_t *status, const char *agent, size_t limit, ticket_t **out,
               size_t *n)
{
    job_t j = {.op = LIST, .has_status = status != NULL, .limit = limit};
    if (status)
        j.status = *status;
    if (agent)
        snprintf(j.agent, sizeof j.agent, "%s", agent);
    arbor_msg_t *m;
    int rc = request(&j, &m);
    return rc ? rc : take_rows(m, (void **)out, n);
}

int store_agents(char **out)
{
    job_t j = {.op = AGENTS};
    arbor_msg_t *m;
    size_t n;
    char *names;
    int rc = request(&j, &m);
    if (rc || (rc = take_rows(m, (void **)&names, &n)))
        return rc;
    *out = malloc(n * (TICKET_NAME_SIZE + 1) + 1);
    if (!*out) {
        free(names);
        return ARBOR_ENOMEM;
    }
    size_t len = 0;
    for (size_t i = 0; i < n; i++)
        len += (size_t)sprintf(*out + len, "%s\n", names + i * (TICKET_NAME_SIZE));
    (*out)[len] = '\0';
    free(names);
    return 0;
}

int store_agent_add(const char *name, ticket_error_t *err)
{
    job_t j = {.op = AGENT_ADD};
    if (!ticket_check_text("agent", name, TICKET_NAME_MAX, false, err))
        return ARBOR_EINVAL;
    snprintf(j.agent, sizeof j.agent, "%s", name);
    int rc = ask(&j);
    if (rc == ARBOR_EEXIST && err) {
        snprintf(err->code, sizeof err->code, "agent_exists");
        snprintf(err->message, sizeof err->message, "there is already an agent called %s", name);
    } else if (rc) {
        copy_error(&j, rc, err);
    }
    return rc;
}

int store_outbox_pending(size_t limit, store_notification_t **out, size_t *n)
{
    job_t j = {.op = OUTBOX_PENDING, .limit = limit};
    arbor_msg_t *m;
    int rc = request(&j, &m);
    return rc ? rc : take_rows(m, (void **)out, n);
}

int store_outbox_mark(int64_t first, int64_t last)
{
    job_t j = {.op = MARK_DELIVERED, .first = first, .last = last};
    return ask(&j);
}

int store_outbox_count(int64_t *pending)
{
    job_t j = {.op = OUTBOX_COUNT};
    int rc = ask(&j);
    if (rc == 0)
        *pending = j.count;
    return rc;
}

int store_ticket_counts(store_ticket_count_t **out, size_t *n)
{
    job_t j = {.op = TICKET_COUNTS};
    arbor_msg_t *m;
    int rc = request(&j, &m);
    return rc ? rc : take_rows(m, (void **)out, n);
}

int store_stats(store_stats_t *out)
{
    job_t j = {.op = STATS};
    int rc = ask(&j);
    if (rc == 0)
        *out = j.stats;
    return rc;
}

int store_backup(const char *path, ticket_error_t *err)
{
    arbor_pid_t store = arbor_whereis(STORE_NAME);
    job_t j = {.op = BACKUP};
    int rc = store ? 0 : ARBOR_ENOPROC;
    arbor_msg_t *reply = NULL;
    if (!rc)
        rc = arbor_gs_call(store, BACKUP, path, strlen(path) + 1, 600000, &reply, NULL);
    if (!rc) {
        j = *(const job_t *)reply->data;
        arbor_msg_free(reply);
        rc = j.rc;
    }
    if (rc)
        copy_error(&j, rc, err);
    return rc;
}

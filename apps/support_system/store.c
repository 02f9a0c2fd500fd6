/*
 * The Store. Its GenServer state is the SQLite connection; an exit hook
 * closes it however the Store dies, so a restarted Store opens the file
 * again cleanly. Each request becomes a job that runs on the blocking pool;
 * the Store waits for it, so its requests are serialised and SQLite's
 * connection is used by one thread at a time.
 *
 * Group commit is not done yet: every change is its own transaction (one
 * fsync each, synchronous=FULL in WAL mode).
 */
#include "store.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { CREATE = 1, UPDATE, GET, HISTORY, LIST, AGENTS, AGENT_ADD, NOTIFY };

#define SCHEMA_VERSION 1

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

/* One request and its answer, shared with the blocking-pool thread. */
typedef struct job {
    sqlite3 *db;
    int op;
    ticket_t ticket; /* CREATE, UPDATE in; GET out */
    int64_t id;
    char who[TICKET_NAME_MAX + 1];
    char what[96];
    bool has_status;
    ticket_status_t status;
    char agent[TICKET_NAME_MAX + 1];
    size_t limit;
    /* out */
    int rc;
    ticket_error_t err;
    void *rows; /* malloc'd: tickets, history or names */
    size_t nrows, rows_size;
} job_t;

static int db_fail(job_t *j, const char *what)
{
    snprintf(j->err.code, sizeof j->err.code, "store_error");
    snprintf(j->err.message, sizeof j->err.message, "%s: %s", what, sqlite3_errmsg(j->db));
    return ARBOR_EEXIT;
}

static int exec(job_t *j, const char *sql)
{
    return sqlite3_exec(j->db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : db_fail(j, "exec");
}

static sqlite3_stmt *prepare(job_t *j, const char *sql)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(j->db, sql, -1, &st, NULL) != SQLITE_OK)
        return NULL;
    return st;
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
}

static int add_history(job_t *j, int64_t ticket, int64_t at, const char *who, const char *what)
{
    sqlite3_stmt *st = prepare(j, "INSERT INTO history(ticket, at, who, what) VALUES(?,?,?,?)");
    if (!st)
        return db_fail(j, "history");
    sqlite3_bind_int64(st, 1, ticket);
    sqlite3_bind_int64(st, 2, at);
    sqlite3_bind_text(st, 3, who, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, what, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : db_fail(j, "history");
    sqlite3_finalize(st);
    return rc;
}

static int do_create(job_t *j)
{
    ticket_t *t = &j->ticket;
    if (exec(j, "BEGIN IMMEDIATE"))
        return j->rc;
    sqlite3_stmt *st = prepare(j, "INSERT INTO tickets(description, customer, priority, status,"
                                  " agent, created_at, updated_at) VALUES(?,?,?,?,?,?,?)");
    int rc = st ? 0 : db_fail(j, "insert");
    if (st) {
        sqlite3_bind_text(st, 1, t->description, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, t->customer, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 3, (int)t->priority);
        sqlite3_bind_int(st, 4, (int)t->status);
        sqlite3_bind_text(st, 5, t->agent, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 6, t->created_at);
        sqlite3_bind_int64(st, 7, t->updated_at);
        rc = sqlite3_step(st) == SQLITE_DONE ? 0 : db_fail(j, "insert");
        sqlite3_finalize(st);
    }
    if (!rc) {
        t->id = sqlite3_last_insert_rowid(j->db);
        rc = add_history(j, t->id, t->created_at, t->customer[0] ? t->customer : "desk", "created");
    }
    if (!rc)
        rc = exec(j, "COMMIT");
    if (rc)
        sqlite3_exec(j->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

static int do_update(job_t *j)
{
    const ticket_t *t = &j->ticket;
    if (exec(j, "BEGIN IMMEDIATE"))
        return ARBOR_EEXIT;
    sqlite3_stmt *st =
        prepare(j, "UPDATE tickets SET status = ?, agent = ?, updated_at = ? WHERE id = ?");
    int rc = st ? 0 : db_fail(j, "update");
    if (st) {
        sqlite3_bind_int(st, 1, (int)t->status);
        sqlite3_bind_text(st, 2, t->agent, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, t->updated_at);
        sqlite3_bind_int64(st, 4, t->id);
        rc = sqlite3_step(st) == SQLITE_DONE ? 0 : db_fail(j, "update");
        if (!rc && sqlite3_changes(j->db) != 1)
            rc = ARBOR_ENOENT;
        sqlite3_finalize(st);
    }
    if (!rc)
        rc = add_history(j, t->id, t->updated_at, j->who, j->what);
    if (!rc)
        rc = exec(j, "COMMIT");
    if (rc)
        sqlite3_exec(j->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

static int collect(job_t *j, sqlite3_stmt *st, size_t row_size,
                   void (*read)(sqlite3_stmt *, void *))
{
    size_t cap = 16;
    j->rows = malloc(cap * row_size);
    j->rows_size = row_size;
    int step;
    while (j->rows && (step = sqlite3_step(st)) == SQLITE_ROW) {
        if (j->nrows == cap) {
            void *more = realloc(j->rows, 2 * cap * row_size);
            if (!more)
                break;
            j->rows = more;
            cap *= 2;
        }
        read(st, (char *)j->rows + j->nrows++ * row_size);
    }
    sqlite3_finalize(st);
    return j->rows ? 0 : ARBOR_ENOMEM;
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
    snprintf(row, TICKET_NAME_MAX + 1, "%s", sqlite3_column_text(st, 0));
}

#define TICKET_COLUMNS "id, description, customer, priority, status, agent, created_at, updated_at"

static void *run_job(void *arg)
{
    job_t *j = arg;
    sqlite3_stmt *st;
    switch (j->op) {
    case CREATE:
        j->rc = do_create(j);
        break;
    case UPDATE:
        j->rc = do_update(j);
        break;
    case GET:
        st = prepare(j, "SELECT " TICKET_COLUMNS " FROM tickets WHERE id = ?");
        if (!st) {
            j->rc = db_fail(j, "get");
            break;
        }
        sqlite3_bind_int64(st, 1, j->id);
        j->rc = sqlite3_step(st) == SQLITE_ROW ? 0 : ARBOR_ENOENT;
        if (!j->rc)
            read_ticket(st, &j->ticket);
        sqlite3_finalize(st);
        break;
    case HISTORY:
        st = prepare(j, "SELECT at, who, what FROM history WHERE ticket = ? ORDER BY id");
        if (!st) {
            j->rc = db_fail(j, "history");
            break;
        }
        sqlite3_bind_int64(st, 1, j->id);
        j->rc = collect(j, st, sizeof(store_history_t), read_history_row);
        break;
    case LIST:
        st = prepare(j, "SELECT " TICKET_COLUMNS " FROM tickets WHERE (?1 < 0 OR status = ?1)"
                        " AND (?2 = '' OR agent = ?2) ORDER BY id DESC LIMIT ?3");
        if (!st) {
            j->rc = db_fail(j, "list");
            break;
        }
        sqlite3_bind_int(st, 1, j->has_status ? (int)j->status : -1);
        sqlite3_bind_text(st, 2, j->agent, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, (int64_t)j->limit);
        j->rc = collect(j, st, sizeof(ticket_t), read_ticket_row);
        break;
    case AGENTS:
        st = prepare(j, "SELECT name FROM agents ORDER BY added, name");
        j->rc = st ? collect(j, st, TICKET_NAME_MAX + 1, read_name_row) : db_fail(j, "agents");
        break;
    case AGENT_ADD:
        st = prepare(j, "INSERT INTO agents VALUES(?, ?)");
        if (!st) {
            j->rc = db_fail(j, "agent");
            break;
        }
        sqlite3_bind_text(st, 1, j->agent, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, ticket_now_ms());
        int step = sqlite3_step(st);
        j->rc = step == SQLITE_DONE         ? 0
                : step == SQLITE_CONSTRAINT ? ARBOR_EEXIST
                                            : db_fail(j, "agent");
        sqlite3_finalize(st);
        break;
    case NOTIFY:
        st = prepare(j, "INSERT INTO outbox(ticket, at, text) VALUES(?, ?, ?)");
        if (!st) {
            j->rc = db_fail(j, "outbox");
            break;
        }
        sqlite3_bind_int64(st, 1, j->id);
        sqlite3_bind_int64(st, 2, ticket_now_ms());
        sqlite3_bind_text(st, 3, j->what, -1, SQLITE_STATIC);
        j->rc = sqlite3_step(st) == SQLITE_DONE ? 0 : db_fail(j, "outbox");
        sqlite3_finalize(st);
        break;
    }
    return NULL;
}

/* ---- opening --------------------------------------------------------------------- */

typedef struct {
    const char *path;
    sqlite3 *db;
    char error[160];
} open_t;

static void *open_db(void *arg)
{
    open_t *o = arg;
    if (sqlite3_open(o->path, &o->db) != SQLITE_OK) {
        snprintf(o->error, sizeof o->error, "cannot open %s: %s", o->path,
                 o->db ? sqlite3_errmsg(o->db) : "out of memory");
        sqlite3_close(o->db);
        o->db = NULL;
        return NULL;
    }
    sqlite3_busy_timeout(o->db, 5000);
    int version = -1;
    sqlite3_stmt *st;
    if (sqlite3_exec(o->db,
                     "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                     " PRAGMA foreign_keys=ON;",
                     NULL, NULL, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(o->db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW)
            version = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
    }
    /* Migrations: one step per version, each in its own transaction. */
    if (version == 0) {
        char *msg = NULL;
        if (sqlite3_exec(o->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK ||
            sqlite3_exec(o->db, schema_v1, NULL, NULL, &msg) != SQLITE_OK ||
            sqlite3_exec(o->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
            snprintf(o->error, sizeof o->error, "migration to version 1 failed: %s",
                     msg ? msg : sqlite3_errmsg(o->db));
            sqlite3_free(msg);
            version = -1;
        } else {
            version = 1;
        }
    }
    if (version != SCHEMA_VERSION) {
        if (!o->error[0])
            snprintf(o->error, sizeof o->error, "%s has schema version %d, expected %d", o->path,
                     version, SCHEMA_VERSION);
        sqlite3_close(o->db);
        o->db = NULL;
    }
    return NULL;
}

static void close_db(void *db)
{
    sqlite3_close(db);
}

static arbor_gs_ret_t store_init(void **state, void *arg)
{
    open_t o = {.path = arg};
    arbor_blocking(open_db, &o, NULL);
    if (!o.db)
        return arbor_gs_halt(arbor_error("%.59s", o.error));
    if (arbor_on_exit(close_db, o.db) != 0) {
        sqlite3_close(o.db);
        return arbor_gs_halt(arbor_error("out of memory"));
    }
    *state = o.db;
    return arbor_gs_ok();
}

static arbor_gs_ret_t store_call(void **state, const arbor_msg_t *req, arbor_from_t from)
{
    if (req->size != sizeof(job_t))
        return arbor_gs_halt(arbor_error("bad store request"));
    job_t j = *(const job_t *)req->data;
    j.db = *state;
    j.op = (int)req->tag;
    j.rows = NULL;
    j.nrows = 0;
    arbor_blocking(run_job, &j, NULL);
    /* Rows travel in the reply after the job; then the job's copy goes. */
    size_t rows = j.nrows * j.rows_size;
    char *reply = arbor_alloc(sizeof j + rows);
    if (!reply) {
        free(j.rows);
        return arbor_gs_halt(arbor_error("out of memory"));
    }
    void *data = j.rows;
    j.rows = NULL;
    memcpy(reply, &j, sizeof j);
    if (rows)
        memcpy(reply + sizeof j, data, rows);
    free(data);
    arbor_gs_reply_to(from, reply, sizeof j + rows);
    arbor_free(reply);
    return arbor_gs_noreply();
}

static const arbor_gen_server_t store_gs = {
    .name = "SupportSystem.Store", .init = store_init, .handle_call = store_call};

int store_start(void *path, arbor_pid_t *pid, arbor_reason_t *err)
{
    arbor_gs_opts_t o = {.link = true, .name = STORE_NAME};
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
    arbor_msg_t *m;
    int rc = request(&j, &m);
    if (rc) {
        copy_error(&j, rc, err);
        return rc;
    }
    t->id = ((const job_t *)m->data)->ticket.id;
    arbor_msg_free(m);
    return 0;
}

int store_update(const ticket_t *t, const char *who, const char *what, ticket_error_t *err)
{
    job_t j = {.op = UPDATE, .ticket = *t};
    snprintf(j.who, sizeof j.who, "%s", who);
    snprintf(j.what, sizeof j.what, "%s", what);
    arbor_msg_t *m;
    int rc = request(&j, &m);
    if (rc) {
        copy_error(&j, rc, err);
        return rc;
    }
    arbor_msg_free(m);
    return 0;
}

int store_get(int64_t id, ticket_t *out)
{
    job_t j = {.op = GET, .id = id};
    arbor_msg_t *m;
    int rc = request(&j, &m);
    if (rc)
        return rc;
    *out = ((const job_t *)m->data)->ticket;
    arbor_msg_free(m);
    return 0;
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
    *out = malloc(n * (TICKET_NAME_MAX + 2) + 1);
    if (!*out) {
        free(names);
        return ARBOR_ENOMEM;
    }
    size_t len = 0;
    for (size_t i = 0; i < n; i++)
        len += (size_t)sprintf(*out + len, "%s\n", names + i * (TICKET_NAME_MAX + 1));
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
    arbor_msg_t *m;
    int rc = request(&j, &m);
    if (rc == ARBOR_EEXIST && err) {
        snprintf(err->code, sizeof err->code, "agent_exists");
        snprintf(err->message, sizeof err->message, "there is already an agent called %s", name);
    } else if (rc) {
        copy_error(&j, rc, err);
    } else {
        arbor_msg_free(m);
    }
    return rc;
}

int store_notify(int64_t ticket, const char *text)
{
    job_t j = {.op = NOTIFY, .id = ticket};
    snprintf(j.what, sizeof j.what, "%s", text);
    arbor_msg_t *m;
    int rc = request(&j, &m);
    if (!rc)
        arbor_msg_free(m);
    return rc;
}

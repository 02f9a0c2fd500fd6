/*
 * The Store's schema: its versions (PRAGMA user_version), the migration
 * from each to the next, and the statements the Store prepares.
 */
#include "store_internal.h"

#include <stdio.h>

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

/* The steps from version i to i + 1. */
static const char *const migrations[SCHEMA_VERSION] = {schema_v1, schema_v2, schema_v3};

#define TICKET_COLUMNS                                                                             \
    "id, description, customer, priority, status, agent, created_at, updated_at, version"

const char *const store__statement_sql[ST_COUNT] = {
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
};

/* Brings the schema to SCHEMA_VERSION, one step per version, each in its
 * own transaction. Returns the version the file ends at (-1: unreadable). */
int store__migrate(sqlite3 *db, char *error, size_t size)
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

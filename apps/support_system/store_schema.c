/*
 * The Store's schema: its versions (PRAGMA user_version), the migration
 * from each to the next, and the statements the Store prepares.
 */
#include "store_internal.h"

#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>

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

/* Version 4: the helpdesk. Every history entry says who made the change
 * and in which role (operator, agent, customer; entries of an older file
 * were recorded before attribution, and say 'desk'); the conversation
 * (public replies, internal notes) is kept in messages, each announced by
 * a history entry that points at it; an agent can be deactivated and be
 * unavailable; tickets are found by agent and status through an index
 * (an agent's load, a rename) and by status (the queues); the text of
 * tickets (description, customer) is indexed for search (FTS5, kept by
 * triggers; an update that leaves both as they were does not touch it).
 * Version 1 once seeded the agents alice and
 * bob: a new file has none now (the console's --demo adds them); a file
 * that has them keeps them. */
static const char schema_v4[] =
    "CREATE TABLE messages(id INTEGER PRIMARY KEY AUTOINCREMENT, ticket INTEGER NOT NULL"
    " REFERENCES tickets(id), at INTEGER NOT NULL, author TEXT NOT NULL, role TEXT NOT NULL,"
    " internal INTEGER NOT NULL, body TEXT NOT NULL);"
    "CREATE INDEX messages_ticket ON messages(ticket);"
    "ALTER TABLE history ADD COLUMN role TEXT NOT NULL DEFAULT 'desk';"
    "ALTER TABLE history ADD COLUMN message INTEGER REFERENCES messages(id);"
    "ALTER TABLE agents ADD COLUMN active INTEGER NOT NULL DEFAULT 1;"
    "ALTER TABLE agents ADD COLUMN available INTEGER NOT NULL DEFAULT 1;"
    "CREATE INDEX tickets_agent ON tickets(agent, status);"
    "CREATE INDEX tickets_status ON tickets(status);"
    "CREATE VIRTUAL TABLE tickets_text USING fts5(description, customer, content='tickets',"
    " content_rowid='id');"
    "CREATE TRIGGER tickets_text_insert AFTER INSERT ON tickets BEGIN"
    " INSERT INTO tickets_text(rowid, description, customer)"
    " VALUES(new.id, new.description, new.customer); END;"
    "CREATE TRIGGER tickets_text_delete AFTER DELETE ON tickets BEGIN"
    " INSERT INTO tickets_text(tickets_text, rowid, description, customer)"
    " VALUES('delete', old.id, old.description, old.customer); END;"
    "CREATE TRIGGER tickets_text_update AFTER UPDATE OF description, customer ON tickets"
    " WHEN old.description IS NOT new.description OR old.customer IS NOT new.customer BEGIN"
    " INSERT INTO tickets_text(tickets_text, rowid, description, customer)"
    " VALUES('delete', old.id, old.description, old.customer);"
    " INSERT INTO tickets_text(rowid, description, customer)"
    " VALUES(new.id, new.description, new.customer); END;"
    "INSERT INTO tickets_text(tickets_text) VALUES('rebuild');"
    "PRAGMA user_version = 4;";

/* Version 5: who may sign in to the web desk (credentials.c): an agent's
 * name, its password's yescrypt hash ("$y$...", libxcrypt's crypt format:
 * the salt and cost are in it) and its role. One row per agent who has a
 * password; an agent without one cannot sign in. */
static const char schema_v5[] =
    "CREATE TABLE credentials(agent TEXT PRIMARY KEY, hash TEXT NOT NULL,"
    " role TEXT NOT NULL CHECK(role IN ('admin', 'agent')), updated_at INTEGER NOT NULL);"
    "PRAGMA user_version = 5;";

/* Version 6: lists over many tickets. Newest and oldest first need no
 * index of their own: they are the order of the ids (which are the order
 * of creation), the rowid, and an index's entries with the same key are in
 * rowid order (tickets_status: a status's tickets in either order). By
 * priority, the whole list is read in order from an index; tickets are
 * found by customer through one. Both keys change only when a ticket is
 * created or edited: an index on the status with the priority, or on the
 * update time, would move on most changes, and measured, it cost the
 * durable desk about a third of its changes per second without fsync
 * (docs/performance.md), so a queue by priority, and last updated first,
 * sort what their filters keep. (Version 11 revisits both: a status's
 * tickets are no longer in id order in tickets_status.)
 *
 * Which index serves a list with several filters depends on how many
 * tickets each filter keeps, which SQLite cannot know without statistics
 * (without them it walks an index in the list's order even for one
 * customer's twenty tickets). The statistics (sqlite_stat1) are not
 * measured (ANALYZE) but stated, as a desk's shape: a customer has a few
 * tickets, a status a few thousand (the queues: open, assigned, pending;
 * the closed ones are many, but seldom sorted by anything but age), an
 * agent thousands, a priority tens of thousands. So a customer's, an
 * agent's or a status's tickets are found through their index and sorted,
 * and a search starts from the words' matches. Stating them keeps
 * the plans the same on every desk, whatever it holds; "ANALYZE
 * sqlite_schema" loads them. An operator who runs ANALYZE replaces them
 * with measured ones. */
static const char schema_v6[] =
    "CREATE INDEX tickets_priority ON tickets(priority DESC);"
    "CREATE INDEX tickets_customer ON tickets(customer);"
    "ANALYZE sqlite_schema;" /* makes sqlite_stat1 */
    "DELETE FROM sqlite_stat1 WHERE tbl = 'tickets';"
    "INSERT INTO sqlite_stat1(tbl, idx, stat) VALUES ('tickets', NULL, '100000'),"
    " ('tickets', 'tickets_status', '100000 2000'),"
    " ('tickets', 'tickets_agent', '100000 5000 1000'),"
    " ('tickets', 'tickets_customer', '100000 20'),"
    " ('tickets', 'tickets_priority', '100000 25000');"
    "ANALYZE sqlite_schema;" /* loads them */
    "PRAGMA user_version = 6;";

/* Version 7: assignment. Each agent's open count (the tickets assigned to
 * them, statuses 1 assigned and 4 pending) is kept on the roster, so the
 * least-loaded policy reads one row per agent instead of counting tickets:
 * triggers on tickets keep it, inside the statement (so the transaction)
 * that moves a ticket into or out of an agent's open set, whichever change
 * does it (assign, reassign, unassign, pend and resume between the two
 * open statuses, resolve, close, reopen, a rename's tickets); a rename
 * starts the new name at 0 and its tickets' update counts them
 * (ST_AGENT_RENAME). A ticket of a name that is not on the roster counts
 * nowhere; an agent added later starts with their count (ST_AGENT_ADD).
 * turn records the round-robin's position: the agent it picked last has the
 * highest (0: never picked), written with the assignment it made. An
 * existing file's counts are filled in here. */
static const char schema_v7[] =
    "ALTER TABLE agents ADD COLUMN open_count INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE agents ADD COLUMN turn INTEGER NOT NULL DEFAULT 0;"
    "UPDATE agents SET open_count = (SELECT count(*) FROM tickets t"
    " WHERE t.agent = agents.name AND t.status IN (1, 4));"
    "CREATE TRIGGER agents_open_insert AFTER INSERT ON tickets WHEN new.status IN (1, 4) BEGIN"
    " UPDATE agents SET open_count = open_count + 1 WHERE name = new.agent; END;"
    "CREATE TRIGGER agents_open_delete AFTER DELETE ON tickets WHEN old.status IN (1, 4) BEGIN"
    " UPDATE agents SET open_count = open_count - 1 WHERE name = old.agent; END;"
    "CREATE TRIGGER agents_open_update AFTER UPDATE OF agent, status ON tickets"
    " WHEN old.agent IS NOT new.agent OR (old.status IN (1, 4)) <> (new.status IN (1, 4)) BEGIN"
    " UPDATE agents SET open_count = open_count - 1"
    " WHERE name = old.agent AND old.status IN (1, 4);"
    " UPDATE agents SET open_count = open_count + 1"
    " WHERE name = new.agent AND new.status IN (1, 4); END;"
    "PRAGMA user_version = 7;";

/* Version 8: the request ids (store.h), each recorded with its change in
 * the change's transaction, so that a retried change is applied once;
 * kept STORE_REQUEST_KEEP_MS (the index on at finds the old ones). */
static const char schema_v8[] =
    "CREATE TABLE requests(id TEXT PRIMARY KEY, ticket INTEGER NOT NULL, what TEXT NOT NULL,"
    " digest INTEGER NOT NULL, at INTEGER NOT NULL);"
    "CREATE INDEX requests_at ON requests(at);"
    "PRAGMA user_version = 8;";

/* The default resolution time of a priority (sla.h's defaults), in ms, for
 * the migration to version 9, and the time now in ms since the epoch. */
#define SLA_DEFAULT_MS                                                                             \
    "(CASE priority WHEN 3 THEN 4 WHEN 2 THEN 8 WHEN 1 THEN 24 ELSE 72 END) * 3600000"
#define SQL_NOW_MS "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)"

/* Version 9: the resolution SLA (sla.h). due_at is the time a ticket is
 * due to be resolved while its clock runs (NULL otherwise: pending,
 * resolved, closed); sla_left the time that was left when pending paused
 * it (NULL unless paused; <= 0: it was past due); breached_at when the
 * desk recorded the breach (NULL: none). The SlaTimer finds the next due
 * time through tickets_due, which holds only the running, unbreached
 * clocks; the Overdue queue (breached, not resolved or closed) is read
 * through tickets_overdue. An existing file's unresolved tickets get the
 * default policy's due time from their creation (an option's times apply
 * to tickets created or changed after); those already past it are
 * recorded as breached now, with their history entry, but no notification:
 * nobody is told years late of a ticket that nobody was watching (as
 * version 3 did not replay the outbox). */
static const char schema_v9[] =
    "ALTER TABLE tickets ADD COLUMN due_at INTEGER;"
    "ALTER TABLE tickets ADD COLUMN sla_left INTEGER;"
    "ALTER TABLE tickets ADD COLUMN breached_at INTEGER;"
    "UPDATE tickets SET due_at = created_at + " SLA_DEFAULT_MS " WHERE status IN (0, 1, 4);"
    "UPDATE tickets SET breached_at = " SQL_NOW_MS " WHERE due_at <= " SQL_NOW_MS ";"
    "INSERT INTO history(ticket, at, who, role, what) SELECT id, breached_at, 'desk', 'desk',"
    " 'SLA breached: resolution due ' || strftime('%Y-%m-%dT%H:%M:%SZ', due_at / 1000,"
    " 'unixepoch') FROM tickets WHERE breached_at IS NOT NULL ORDER BY id;"
    "UPDATE tickets SET sla_left = due_at - " SQL_NOW_MS ", due_at = NULL WHERE status = 4;"
    "CREATE INDEX tickets_due ON tickets(due_at) WHERE due_at IS NOT NULL AND breached_at IS NULL;"
    "CREATE INDEX tickets_overdue ON tickets(id)"
    " WHERE breached_at IS NOT NULL AND status IN (0, 1, 4);"
    "PRAGMA user_version = 9;";

/* Version 10: the tickets a batch creates are indexed for search together,
 * by one statement at the end of the batch (store.c, ST_INDEX_NEW), not
 * each by the insert trigger inside its change's savepoint: SQLite's FTS5
 * (3.40, Debian 12's) writes what it holds in memory to the disk as a new
 * segment at every savepoint and release, so the trigger cost a segment
 * (and its merges) per created ticket, the largest part of a create's
 * write. While the Store writes a batch that creates, index_deferred
 * holds a row, inserted after the batch's BEGIN and deleted before its
 * COMMIT, so never committed: the insert trigger skips then, and indexes
 * every other insert (another connection's, store_run's) as before. */
static const char schema_v10[] =
    "CREATE TABLE index_deferred(one INTEGER PRIMARY KEY CHECK (one = 1));"
    "DROP TRIGGER tickets_text_insert;"
    "CREATE TRIGGER tickets_text_insert AFTER INSERT ON tickets"
    " WHEN NOT EXISTS (SELECT 1 FROM index_deferred) BEGIN"
    " INSERT INTO tickets_text(rowid, description, customer)"
    " VALUES(new.id, new.description, new.customer); END;"
    "PRAGMA user_version = 10;";

/* Version 11: a status's tickets in every order, and every ticket last
 * updated first, read in order from an index instead of sorted (the
 * closed ones, 60,000 of 100,000: 22 ms by last update, 11 ms by
 * priority; every ticket by last update 23 ms). tickets_status becomes
 * (status, priority): a status's tickets by priority are read from it in
 * order, and newest or oldest first as each priority's tickets (its equal
 * keys, in rowid order) merged (store__list_sql); it moves on the same
 * changes as before (a status's or a priority's), so it costs the writes
 * nothing more. tickets_status_updated holds each status's tickets by
 * update time: a status's list by last update, and, merged across the
 * statuses, every ticket's. It moves on every change (every change sets
 * updated_at): its cost, measured, is about 7 % of SQLite's work in a
 * transaction of one change (docs/performance.md). One index on
 * updated_at alone (every ticket by last update without the merge) and
 * one on (status, priority) beside tickets_status were measured and not
 * kept: each moved on most changes. */
static const char schema_v11[] =
    "DROP INDEX tickets_status;"
    "CREATE INDEX tickets_status ON tickets(status, priority DESC);"
    "CREATE INDEX tickets_status_updated ON tickets(status, updated_at);"
    "DELETE FROM sqlite_stat1 WHERE idx IN ('tickets_status', 'tickets_status_updated');"
    "INSERT INTO sqlite_stat1(tbl, idx, stat) VALUES"
    " ('tickets', 'tickets_status', '100000 2000 500'),"
    " ('tickets', 'tickets_status_updated', '100000 2000 1');"
    "ANALYZE sqlite_schema;" /* loads them */
    "PRAGMA user_version = 11;";

/* Version 12: a customer's tickets are found whatever the case of the
 * name's ASCII letters (list --customer "acme corp" finds "Acme Corp"):
 * tickets_customer compares without regard to it, as the list's
 * condition does (store__list_sql). Customers are not a roster: each
 * ticket keeps the name as it was typed. DROP INDEX took the index's
 * stated statistics with it. */
static const char schema_v12[] =
    "DROP INDEX tickets_customer;"
    "CREATE INDEX tickets_customer ON tickets(customer COLLATE NOCASE);"
    "DELETE FROM sqlite_stat1 WHERE idx = 'tickets_customer';"
    "INSERT INTO sqlite_stat1(tbl, idx, stat) VALUES ('tickets', 'tickets_customer', '100000 20');"
    "ANALYZE sqlite_schema;" /* loads them */
    "PRAGMA user_version = 12;";

/* The steps from version i to i + 1. */
static const char *const migrations[SCHEMA_VERSION] = {
    schema_v1, schema_v2, schema_v3, schema_v4,  schema_v5,  schema_v6,
    schema_v7, schema_v8, schema_v9, schema_v10, schema_v11, schema_v12};

#define TICKET_COLUMNS                                                                             \
    "id, description, customer, priority, status, agent, created_at, updated_at, version,"         \
    " due_at, sla_left, breached_at"

const char *const store__statement_sql[ST_COUNT] = {
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_SAVEPOINT] = "SAVEPOINT change",
    [ST_RELEASE] = "RELEASE change",
    [ST_UNDO] = "ROLLBACK TO change",
    [ST_INSERT_TICKET] = "INSERT INTO tickets(description, customer, priority, status, agent,"
                         " created_at, updated_at, due_at) VALUES(?,?,?,?,?,?,?,?)",
    [ST_INSERT_HISTORY] = "INSERT INTO history(ticket, at, who, role, what, message)"
                          " VALUES(?,?,?,?,?,?)",
    [ST_INSERT_MESSAGE] = "INSERT INTO messages(ticket, at, author, role, internal, body)"
                          " VALUES(?,?,?,?,?,?)",
    /* Every column: an update that does not know which changed (see
     * store__update_sql; OR FAIL there). */
    [ST_UPDATE_TICKET] = "UPDATE OR FAIL tickets SET description = ?1, customer = ?2,"
                         " priority = ?3, status = ?4, agent = ?5, updated_at = ?6, due_at = ?9,"
                         " sla_left = ?10, breached_at = ?11, version = version + 1"
                         " WHERE id = ?7 AND version = ?8",
    [ST_EXISTS] = "SELECT 1 FROM tickets WHERE id = ?",
    [ST_GET] = "SELECT " TICKET_COLUMNS " FROM tickets WHERE id = ?",
    /* A page, newest first: history_ticket(ticket) holds each ticket's
     * entries in id order (an index's equal keys are in rowid order), so
     * the page is read from the index without sorting. The count walks the
     * ticket's entries in the index only (a plain count(*): measured, an
     * expression per entry cost twice as much); the older ones are the
     * rest once those from the page's first on are counted, which for the
     * latest page are the page alone. */
    [ST_HISTORY] = "SELECT h.id, h.at, h.who, h.role, h.what, m.internal, m.body FROM history h"
                   " LEFT JOIN messages m ON m.id = h.message WHERE h.ticket = ?1 AND h.id < ?2"
                   " ORDER BY h.id DESC LIMIT ?3",
    [ST_HISTORY_COUNT] = "SELECT count(*), (SELECT count(*) FROM history WHERE ticket = ?1"
                         " AND id >= ?2) FROM history WHERE ticket = ?1",
    /* The queues: mine (?1's assigned or pending), unassigned, open (not
     * yet resolved), pending and overdue (breached, not yet resolved:
     * tickets_overdue). */
    [ST_QUEUES] = "SELECT (SELECT count(*) FROM tickets WHERE agent = ?1 AND status IN (1, 4)),"
                  " (SELECT count(*) FROM tickets WHERE status = 0),"
                  " (SELECT count(*) FROM tickets WHERE status IN (0, 1, 4)),"
                  " (SELECT count(*) FROM tickets WHERE status = 4),"
                  " (SELECT count(*) FROM tickets"
                  " WHERE breached_at IS NOT NULL AND status IN (0, 1, 4))",
    /* An agent's open load: the tickets assigned to them (statuses 1,
     * assigned, and 4, pending), as the triggers keep it (version 7). */
    [ST_AGENTS] = "SELECT name, active, available, open_count, turn FROM agents"
                  " ORDER BY added, name",
    /* Least-loaded: the active and available agent with the fewest open
     * tickets (ties: roster order), its count, and how many were
     * available. Two passes over the roster (the count, then the least
     * loaded, kept as the one best row, not sorted); a window's
     * count(*) OVER () sorted every row, four times slower at 1,000
     * agents. */
    [ST_AGENT_LEAST_LOADED] = "SELECT name, open_count, (SELECT count(*) FROM agents"
                              " WHERE active = 1 AND available = 1) FROM agents"
                              " WHERE active = 1 AND available = 1"
                              " ORDER BY open_count, added, name LIMIT 1",
    /* Round-robin: ?1 is the agent picked last now. */
    [ST_AGENT_TURN] = "UPDATE agents SET turn = (SELECT max(turn) FROM agents) + 1 WHERE name = ?1",
    /* An agent whose name is ?1 but for ASCII case, other than ?2: names
     * that differ only in case are one agent's (the roster is small: no
     * index). */
    [ST_AGENT_SAME] =
        "SELECT name FROM agents WHERE name = ?1 COLLATE NOCASE AND name <> ?2 LIMIT 1",
    /* The agents called ?1 in any ASCII case, that exact spelling first. */
    [ST_AGENT_SPELLING] = "SELECT name FROM agents WHERE name = ?1 COLLATE NOCASE"
                          " ORDER BY name = ?1 DESC LIMIT 2",
    /* A name may already have open tickets (a file from before the roster
     * had them): they count from the start. */
    [ST_AGENT_ADD] = "INSERT INTO agents(name, added, open_count) VALUES(?1, ?2,"
                     " (SELECT count(*) FROM tickets WHERE agent = ?1 AND status IN (1, 4)))",
    /* The new name starts at 0: the tickets renamed next count themselves
     * in (agents_open_update), the old name's row being gone. */
    [ST_AGENT_RENAME] = "UPDATE agents SET name = ?2, open_count = 0 WHERE name = ?1",
    /* Before the tickets change: the entry goes to each ticket of the
     * agent's. */
    [ST_AGENT_RENAME_HISTORY] = "INSERT INTO history(ticket, at, who, role, what)"
                                " SELECT id, ?3, ?4, ?5, 'agent ' || ?1 || ' renamed to ' || ?2"
                                " FROM tickets WHERE agent = ?1",
    /* A password goes with its agent's name (one left by an older desk
     * under the new name, whose agent had been renamed, gives way). */
    [ST_AGENT_RENAME_CREDENTIALS] = "UPDATE OR REPLACE credentials SET agent = ?2 WHERE agent = ?1",
    [ST_AGENT_RENAME_TICKETS] = "UPDATE tickets SET agent = ?2, version = version + 1"
                                " WHERE agent = ?1",
    [ST_AGENT_SET] = "UPDATE agents SET active = CASE WHEN ?2 < 0 THEN active ELSE ?2 END,"
                     " available = CASE WHEN ?3 < 0 THEN available ELSE ?3 END WHERE name = ?1",
    [ST_NOTIFY] = "INSERT INTO outbox(ticket, at, text) VALUES(?, ?, ?)",
    [ST_OUTBOX_PENDING] = "SELECT id, ticket, at, text FROM outbox WHERE delivered_at IS NULL"
                          " ORDER BY id LIMIT ?",
    [ST_OUTBOX_MARK] = "UPDATE outbox SET delivered_at = ?3 WHERE id BETWEEN ?1 AND ?2"
                       " AND delivered_at IS NULL",
    [ST_OUTBOX_COUNT] = "SELECT count(*) FROM outbox WHERE delivered_at IS NULL",
    [ST_TICKET_COUNTS] = "SELECT agent, status, count(*) FROM tickets GROUP BY agent, status"
                         " ORDER BY agent, status",
    [ST_REQUEST_FIND] = "SELECT ticket, what, digest FROM requests WHERE id = ?",
    [ST_REQUEST_ADD] = "INSERT INTO requests(id, ticket, what, digest, at) VALUES(?, ?, ?, ?, ?)",
    [ST_REQUEST_PRUNE] = "DELETE FROM requests WHERE at < ?",
    /* A batch's creates, indexed at its end (version 10): ?1 and ?2 are
     * the least and the greatest id it created; every ticket between them
     * is one of its own (ids grow: AUTOINCREMENT). One statement, so one
     * index segment for the whole batch. */
    [ST_DEFER_INDEX] = "INSERT INTO index_deferred VALUES(1)",
    [ST_UNDEFER_INDEX] = "DELETE FROM index_deferred",
    [ST_INDEX_NEW] = "INSERT INTO tickets_text(rowid, description, customer)"
                     " SELECT id, description, customer FROM tickets WHERE id BETWEEN ?1 AND ?2",
};

void store__list_sql(unsigned bits, store_sort_t sort, char *sql)
{
    static const char *const conditions[] = {
        " AND status = ?1",
        " AND agent = ?3",
        " AND customer = ?5 COLLATE NOCASE", /* tickets_customer's collation */
        " AND priority = ?6",
        " AND id IN (SELECT rowid FROM tickets_text WHERE tickets_text MATCH ?7)",
        " AND status IN (0, 1, 4)", /* open, assigned, pending */
        /* overdue: tickets_overdue's condition */
        " AND breached_at IS NOT NULL AND status IN (0, 1, 4)",
    };
    static const char *const orders[STORE_SORTS] = {
        [STORE_SORT_NEWEST] = "id DESC",
        [STORE_SORT_OLDEST] = "id",
        [STORE_SORT_PRIORITY] = "priority DESC, id",
        [STORE_SORT_UPDATED] = "updated_at DESC, id DESC",
    };
    const char *order = orders[(unsigned)sort < STORE_SORTS ? sort : STORE_SORT_NEWEST];
    /* A list whose matches one index holds in the list's order only part
     * by part: the parts' ids (and update times), read in order from the
     * index alone, are merged (SQLite's MERGE of a UNION ALL under an
     * ORDER BY, which reads each part only as far as the page needs), and
     * the page's tickets read by id, instead of sorting every match. */
    static const char *const by_status[] = {"status = 0", "status = 1", "status = 2", "status = 3",
                                            "status = 4", "status < 0", "status > 4"};
    static const char *const by_priority[] = {"priority = 3", "priority = 2", "priority = 1",
                                              "priority = 0", "priority < 0", "priority > 3"};
    const char *const *parts = NULL;
    size_t nparts = 0;
    if (sort == STORE_SORT_UPDATED && bits == 0) {
        /* Every ticket last updated first: each status's tickets, from
         * tickets_status_updated. */
        parts = by_status;
        nparts = sizeof by_status / sizeof by_status[0];
    } else if ((sort == STORE_SORT_NEWEST || sort == STORE_SORT_OLDEST) && bits != 0 &&
               (bits & ~(unsigned)(LIST_STATUS | LIST_UNRESOLVED)) == 0) {
        /* A status's tickets, or the unresolved ones, newest or oldest
         * first: each priority's, from tickets_status (status, priority),
         * whose equal keys are in id order (the unresolved: three such
         * runs a priority, which SQLite reads only as far as the page
         * needs and sorts). */
        parts = by_priority;
        nparts = sizeof by_priority / sizeof by_priority[0];
    }
    /* (The parts for a status or a priority outside ticket_status_t's and
     * ticket_priority_t's values find none through the index, the desk
     * writing none; they keep any such ticket listed, as one statement
     * would.) */
    size_t len =
        (size_t)snprintf(sql, LIST_SQL_SIZE, "SELECT " TICKET_COLUMNS " FROM tickets WHERE %s",
                         nparts ? "id IN (SELECT id FROM (" : "1");
    for (size_t p = 0; p < (nparts ? nparts : 1); p++) {
        if (nparts)
            len += (size_t)snprintf(sql + len, LIST_SQL_SIZE - len,
                                    "%sSELECT id%s FROM tickets WHERE %s", p ? " UNION ALL " : "",
                                    sort == STORE_SORT_UPDATED ? ", updated_at" : "", parts[p]);
        for (unsigned i = 0; i < sizeof conditions / sizeof conditions[0]; i++)
            if (bits & (1u << i))
                len += (size_t)snprintf(sql + len, LIST_SQL_SIZE - len, "%s", conditions[i]);
    }
    if (nparts) /* the page's ids, then their tickets in the same order */
        snprintf(sql + len, LIST_SQL_SIZE - len, " ORDER BY %s LIMIT ?8 OFFSET ?9)) ORDER BY %s",
                 order, order);
    else
        snprintf(sql + len, LIST_SQL_SIZE - len, " ORDER BY %s LIMIT ?8 OFFSET ?9", order);
}

void store__update_sql(unsigned bits, char *sql)
{
    static const char *const sets[] = {
        "description = ?1, ", "customer = ?2, ", "priority = ?3, ",  "status = ?4, ",
        "agent = ?5, ",       "due_at = ?9, ",   "sla_left = ?10, ", "breached_at = ?11, ",
    };
    size_t len = (size_t)snprintf(sql, UPDATE_SQL_SIZE, "UPDATE OR FAIL tickets SET ");
    for (unsigned i = 0; i < sizeof sets / sizeof sets[0]; i++)
        if (bits & (1u << i))
            len += (size_t)snprintf(sql + len, UPDATE_SQL_SIZE - len, "%s", sets[i]);
    snprintf(sql + len, UPDATE_SQL_SIZE - len,
             "updated_at = ?6, version = version + 1 WHERE id = ?7 AND version = ?8");
}

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

/* ---- identity ---------------------------------------------------------------------- */

/* The integer a PRAGMA (or a count) answers: SQLITE_OK, or SQLite's error
 * (a file that is not a database answers SQLITE_NOTADB). */
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

int store__identify(sqlite3 *db, const char *path, char *error, size_t size)
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
    if (app != STORE_APPLICATION_ID && app != 0) {
        snprintf(error, size,
                 "%s is not a desk database: it belongs to another application (its SQLite"
                 " application_id is %d, a desk's is %d)",
                 path, app, STORE_APPLICATION_ID);
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

int store__mark(sqlite3 *db)
{
    int app = 0;
    char mark[64];
    snprintf(mark, sizeof mark, "PRAGMA application_id = %d", STORE_APPLICATION_ID);
    int rc = pragma_int(db, "PRAGMA application_id", &app);
    if (rc == SQLITE_OK && app != STORE_APPLICATION_ID)
        rc = sqlite3_exec(db, mark, NULL, NULL, NULL);
    return rc;
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
    } else if (store__identify(db, path, why, size) != 0) {
        rc = -1;
    }
    sqlite3_close(db);
    return rc;
}

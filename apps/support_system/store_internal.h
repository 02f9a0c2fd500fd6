/*
 * The Store's insides, shared by its files: store.c (the GenServer, the
 * batch and its writes, opening and backups), store_schema.c (the schema,
 * its migrations and the statements), store_read.c (the reads) and
 * store_client.c (the calls of store.h). Not for the rest of the desk.
 */
#ifndef SUPPORT_STORE_INTERNAL_H
#define SUPPORT_STORE_INTERNAL_H

#include <sqlite3.h>
#include <stddef.h>
#include <string.h>

#include "store.h"

enum {
    CREATE = 1,
    UPDATE,
    GET,
    HISTORY,
    LIST,
    QUEUES,
    AGENTS,
    AGENT_ADD,
    AGENT_RENAME,
    AGENT_SET,
    MARK_DELIVERED,
    STATS,
    BACKUP,
    OUTBOX_PENDING,
    OUTBOX_COUNT,
    TICKET_COUNTS,
    AGENT_LEAST_LOADED,
    RUN, /* store_run */
    REQUEST_FIND
};

/* A store_run request: this header, then in_size bytes of input. The
 * reply: rc in the first STORE_RUN_HEAD bytes, then out_size bytes of
 * output (at an offset that keeps any type aligned). */
typedef struct run_req {
    store_fn_t fn;
    size_t in_size, out_size;
} run_req_t;

#define STORE_RUN_HEAD 16

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

#define SCHEMA_VERSION 12

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
    ST_INSERT_MESSAGE,
    ST_UPDATE_TICKET,
    ST_EXISTS,
    ST_GET,
    ST_HISTORY,
    ST_HISTORY_COUNT,
    ST_QUEUES,
    ST_AGENTS,
    ST_AGENT_LEAST_LOADED,
    ST_AGENT_TURN,
    ST_AGENT_SAME,
    ST_AGENT_SPELLING,
    ST_AGENT_ADD,
    ST_AGENT_RENAME,
    ST_AGENT_RENAME_HISTORY,
    ST_AGENT_RENAME_TICKETS,
    ST_AGENT_RENAME_CREDENTIALS,
    ST_AGENT_SET,
    ST_NOTIFY,
    ST_OUTBOX_PENDING,
    ST_OUTBOX_MARK,
    ST_OUTBOX_COUNT,
    ST_TICKET_COUNTS,
    ST_REQUEST_FIND,
    ST_REQUEST_ADD,
    ST_REQUEST_PRUNE,
    ST_DEFER_INDEX,
    ST_UNDEFER_INDEX,
    ST_INDEX_NEW,
    ST_COUNT
};

/* Their SQL, by ST_ index (store_schema.c). */
extern const char *const store__statement_sql[ST_COUNT];

/* The filters a list may have, as bits: a list's statement holds the
 * conditions of its filters only, so that SQLite plans each combination
 * with the indexes that serve it. */
enum {
    LIST_STATUS = 1,
    LIST_AGENT = 2,
    LIST_CUSTOMER = 4,
    LIST_PRIORITY = 8,
    LIST_TEXT = 16,
    LIST_UNRESOLVED = 32,
    LIST_OVERDUE = 64,
    LIST_FILTERS = 128 /* the combinations */
};

/* The SQL of the list with the filters in bits (LIST_*), in order sort,
 * into sql (LIST_SQL_SIZE bytes). Its parameters: ?1 status, ?3 agent, ?5
 * customer, ?6 priority, ?7 an FTS5 query (each only with its filter),
 * ?8 limit, ?9 offset. Only constant text: values are bound. */
#define LIST_SQL_SIZE 2048
void store__list_sql(unsigned bits, store_sort_t sort, char *sql);

/* The columns of a ticket an update may change, as bits: an update's
 * statement sets only those that differ from the stored row (known from
 * the cache of committed tickets; all of them when the row is not there
 * at the update's version), because SQLite rewrites an index's entry
 * whenever the SET names one of its columns, changed or not, and runs
 * the triggers named for them (updated_at and version are always set). */
enum {
    COL_DESCRIPTION = 1,
    COL_CUSTOMER = 2,
    COL_PRIORITY = 4,
    COL_STATUS = 8,
    COL_AGENT = 16,
    COL_DUE_AT = 32,
    COL_SLA_LEFT = 64,
    COL_BREACHED_AT = 128,
    COLS_ALL = 255
};

/* The SQL of an update that sets the columns in bits (COL_*) into sql
 * (UPDATE_SQL_SIZE bytes). Its parameters are ST_UPDATE_TICKET's, each
 * present only with its column: ?1 description, ?2 customer, ?3
 * priority, ?4 status, ?5 agent, ?6 updated_at, ?7 id, ?8 the version it
 * was computed from, ?9 due_at, ?10 sla_left, ?11 breached_at.
 *
 * It is UPDATE OR FAIL: SQLite then needs no statement journal for it
 * (with the default, ABORT, a statement with triggers copies every page
 * it first touches into one, to undo itself alone if a trigger fails; an
 * assign or a resolve runs agents_open_update). The price: an update that
 * fails after writing its row (a trigger's error) leaves the row written
 * and may not say so in sqlite3_total_changes64, so the Store treats any
 * failed step of it as a partial write (store_t.unsure): the batch is
 * written again with a savepoint per change, which undoes it. */
#define UPDATE_SQL_SIZE 512
void store__update_sql(unsigned bits, char *sql);

/* One request and its answer. The client sends it; the Store fills the
 * answer in and sends it back (with any rows after it). A request carries
 * only the bytes up to its text's NUL, and an answer none of its text
 * (JOB_HEAD bytes): the text is long and mostly unused. */
typedef struct job {
    int op;
    ticket_t ticket; /* CREATE, UPDATE in; GET out */
    int64_t id;
    ticket_actor_t by; /* CREATE, UPDATE, AGENT_RENAME: who makes the change */
    char what[TICKET_EVENT_SIZE];
    bool has_status; /* LIST: the filters (see store_filter_t) */
    ticket_status_t status;
    bool has_agent, has_customer, unresolved, overdue;
    char agent[TICKET_NAME_SIZE]; /* LIST: the filter; QUEUES: whose; AGENT_*: the agent */
    char customer[TICKET_NAME_SIZE];
    int priority; /* -1: any */
    store_sort_t sort;
    size_t offset;
    char new_name[TICKET_NAME_SIZE]; /* AGENT_RENAME */
    int active, available;           /* AGENT_SET: 0 or 1, or -1 to keep */
    char notice[STORE_NOTICE_SIZE];  /* UPDATE: the notification it announces ("": none) */
    bool round_robin_turn;           /* UPDATE: record the agent's turn (store_event_t) */
    int64_t first, last;             /* MARK_DELIVERED: the ids delivered */
    /* CREATE, UPDATE, AGENT_*: the request id recorded with the change
     * ("": none) and its record's what and digest; REQUEST_FIND: the id
     * in, the record out. */
    char request_id[STORE_REQUEST_SIZE];
    store_request_t request;
    /* CREATE, AGENT_* out: the request id was this change's, already made */
    bool replayed;
    size_t limit;
    /* out */
    int64_t count;         /* OUTBOX_COUNT; AGENT_LEAST_LOADED: the agent's open count */
    int64_t eligible;      /* AGENT_LEAST_LOADED: agents active and available */
    store_queues_t queues; /* QUEUES */
    store_stats_t stats;   /* STATS */
    int rc;
    ticket_error_t err;
    size_t nrows, rows_size;
    /* UPDATE: a reply or a note recorded with the change; LIST: the FTS5
     * query; last (above). */
    store_message_kind_t message;
    char text[TICKET_TEXT_SIZE];
} job_t;

#define JOB_HEAD offsetof(job_t, text)

/* The bytes of j a request carries. */
static inline size_t store__job_size(const job_t *j)
{
    return JOB_HEAD + strnlen(j->text, sizeof j->text - 1) + 1;
}

/* A change waiting in the batch, with who to answer. */
typedef struct pending {
    job_t job;
    arbor_from_t from;
} pending_t;

typedef struct store {
    sqlite3 *db;
    sqlite3_stmt *st[ST_COUNT];
    /* The lists' statements, by order and filters (LIST_*), each prepared
     * when first used (NULL until then). */
    sqlite3_stmt *lists[STORE_SORTS][LIST_FILTERS];
    /* The updates, by the columns they set (COL_*), each prepared when
     * first used (NULL until then). */
    sqlite3_stmt *updates[COLS_ALL + 1];
    pending_t *batch; /* malloc'd, like the store itself: the exit hook frees both */
    size_t n, cap;
    size_t urgent;      /* changes in the batch other than delivery marks */
    bool lingered;      /* the batch has waited once for company */
    uint64_t oldest_ms; /* when the batch's first change arrived */
    store_stats_t stats;
    /* The file is damaged (SQLite answered SQLITE_CORRUPT or SQLITE_NOTADB,
     * or PRAGMA quick_check found a fault at open): every change is
     * refused, the connection is query_only, reads still run. What found
     * it is in stats.damage. Set on the blocking pool while the Store
     * waits; cleared only by a new open of a sound file. */
    bool damaged;
    /* The change being written failed in a statement that may have written
     * part of itself without SQLite undoing it or counting it (an UPDATE
     * OR FAIL's step: store__update_sql): write_change takes it as a
     * partial write. */
    bool unsure;
    void *rows;                  /* a read's rows, malloc'd: in the state, so that a Store killed
                                  * during a read frees them in its exit hook */
    ticket_t cache[CACHE_SLOTS]; /* id 0: empty */
    uint64_t pruned_ms;          /* when request ids older than STORE_REQUEST_KEEP_MS were last
                                  * deleted */
    /* Tests only (ARBOR_DESK_TEST_COMMIT_DELAY_MS): each batch that wrote
     * a ticket's change (a create or an update) waits this long before
     * its COMMIT, as a stalled disk would. 0: none. */
    int64_t commit_delay_ms;
} store_t;

/* A read's work for the blocking pool: the job; its rows go to s->rows. */
typedef struct read {
    store_t *s;
    job_t *job;
} read_t;

/* How often, at most, the Store deletes the request ids older than
 * STORE_REQUEST_KEEP_MS (in a batch that records one). */
#define REQUEST_PRUNE_EVERY_MS 60000

/* Fills j's error with SQLite's message about what failed; returns
 * ARBOR_EEXIT. When SQLite's error says the file is damaged (SQLITE_CORRUPT,
 * SQLITE_NOTADB), the Store enters its damaged state (store__damaged) and
 * the error's code is "store_damaged". */
int store__db_fail(store_t *s, job_t *j, const char *what);

/* Enters the damaged state, found by what (SQLite's message, or the first
 * fault PRAGMA quick_check reported): changes are refused from now on and
 * the connection answers only queries. Blocking pool or init only. */
void store__damaged(store_t *s, const char *what);

/* The refusal of a change by a damaged Store, into err. */
void store__refuse_damaged(const store_t *s, ticket_error_t *err);

/* The cache slot of ticket id (it holds another ticket, or none, when id
 * is not cached). */
static inline ticket_t *store__cache_slot(store_t *s, int64_t id)
{
    return &s->cache[(uint64_t)id & (CACHE_SLOTS - 1)];
}

/* Brings the schema of db to SCHEMA_VERSION, one step per version, each
 * in its own transaction. Returns the version the file ends at (-1:
 * unreadable); error says why a step failed. */
int store__migrate(sqlite3 *db, char *error, size_t size);

/* The desk's databases say so in their header (PRAGMA application_id,
 * "ARBD"): the Store opens no other SQLite file. */
#define STORE_APPLICATION_ID 1095909956 /* 0x41524244 */

/* Whether the file open in db (at path) is one the Store may use, reading
 * only: a new, empty file; a desk database (STORE_APPLICATION_ID), or one
 * a desk made before it set that id (no id, but a schema version and the
 * desk's tables); in both cases of a schema version it knows. Otherwise
 * -1, with a sentence in error naming the file and what it is. */
int store__identify(sqlite3 *db, const char *path, char *error, size_t size);

/* Marks db as the desk's (PRAGMA application_id), if it is not yet.
 * Returns SQLITE_OK or SQLite's error. */
int store__mark(sqlite3 *db);

/* Answers a read (on the blocking pool): the job, then its rows, in one
 * reply. */
arbor_gs_ret_t store__answer_read(store_t *s, job_t *j, arbor_from_t from);

#endif

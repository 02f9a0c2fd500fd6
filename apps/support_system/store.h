/*
 * Store: the GenServer that owns the desk's SQLite database (WAL, schema
 * versioned with PRAGMA user_version). Every statement runs on the
 * runtime's blocking pool, so a slow disk never holds a scheduler. A change
 * is answered only after its transaction has committed: what the desk
 * acknowledges is on disk. Changes that arrive together are group-committed:
 * one transaction, one fsync, for all of them.
 *
 * All functions are calls to the process registered as STORE_NAME, made
 * from a process; they return 0 or a negative Arbor code (ARBOR_ENOENT for
 * an unknown ticket, ARBOR_EEXIST for a known agent, ARBOR_EEXIT when the
 * database refused: the message is in err).
 */
#ifndef SUPPORT_STORE_H
#define SUPPORT_STORE_H

#include <arbor.h>

#include "ticket.h"

#define STORE_NAME "SupportSystem.Store"

/* After each commit that added outbox rows, the Store sends a message
 * tagged STORE_TAG_OUTBOX (no data) to the process registered under this
 * name, if there is one: the notification dispatcher. */
#define STORE_OUTBOX_READER "SupportSystem.Dispatcher"
#define STORE_TAG_OUTBOX    0x4f555442 /* "OUTB" */

/* A notification's text, NUL included. */
#define STORE_NOTICE_SIZE 96

typedef struct store_history {
    int64_t at;
    char who[TICKET_NAME_SIZE];
    char what[TICKET_NAME_SIZE + 64];
} store_history_t;

/* The Store's child start function; arg is the database path (a copied
 * string, so pass arg_size = strlen + 1). */
int store_start(void *path, arbor_pid_t *pid, arbor_reason_t *err);

/* Inserts t (its id is assigned and written back) with a "created" entry,
 * made by its customer (or "desk" when it has none). */
int store_create(ticket_t *t, ticket_error_t *err);

/* The same, made by who (NULL or "": as store_create). */
int store_create_by(ticket_t *t, const char *who, ticket_error_t *err);

/* Writes t's new state, one history entry and, when notice is not NULL or
 * "", one outbox row announcing it, all in one transaction (and one
 * savepoint: all three or none), if the stored ticket still has t->version
 * (the version t was computed from); then raises t->version to the stored
 * one. Otherwise nothing is written and it returns ARBOR_EAGAIN with err
 * "conflict": t is stale. */
int store_update(ticket_t *t, const char *who, const char *what, const char *notice,
                 ticket_error_t *err);

int store_get(int64_t id, ticket_t *out);

/* The history of ticket id, oldest first: *out (free()) with *n entries. */
int store_history(int64_t id, store_history_t **out, size_t *n);

/* Tickets, newest first, optionally with a status and/or an agent (NULL:
 * any); at most limit. *out is free()d by the caller. */
int store_list(const ticket_status_t *status, const char *agent, size_t limit, ticket_t **out,
               size_t *n);

/* The agent roster, in the order added: names separated by '\n' in *out
 * (free()). */
int store_agents(char **out);
int store_agent_add(const char *name, ticket_error_t *err);

/* What this Store process has written since it started. */
typedef struct store_stats {
    uint64_t transactions; /* committed or failed batches, one fsync each */
    uint64_t changes;      /* the changes in them */
} store_stats_t;

int store_stats(store_stats_t *out);

/* Copies the database into a new file at path (replacing any file there)
 * with SQLite's online backup API, while the desk runs: the copy holds
 * every change acknowledged before the call. On failure err says the path
 * and SQLite's reason. */
int store_backup(const char *path, ticket_error_t *err);

/* A row of the outbox. */
typedef struct store_notification {
    int64_t id; /* increasing in commit order; the log shows it, so duplicates can be told */
    int64_t ticket;
    int64_t at; /* when the change was made, ms since the epoch */
    char text[STORE_NOTICE_SIZE];
} store_notification_t;

/* The oldest pending (committed, not yet marked delivered) notifications,
 * at most limit, oldest first: *out (free()) with *n rows. Reads committed
 * state only, so it never makes the Store write its batch early. */
int store_outbox_pending(size_t limit, store_notification_t **out, size_t *n);

/* Marks the pending notifications with ids first..last delivered. Joins
 * the batch like a change; answered after its commit. */
int store_outbox_mark(int64_t first, int64_t last);

/* How many notifications are pending. */
int store_outbox_count(int64_t *pending);

/* Work done on the Store's own connection for a module that keeps its own
 * table in the desk's database (credentials.c): fn gets the connection,
 * the input and the output buffer, runs on the blocking pool inside the
 * Store (one statement at a time, as all of the Store's), and returns 0 or
 * a negative Arbor code. fn must use prepared statements with bound
 * parameters, finalize them, and leave no transaction open; each statement
 * it runs outside a transaction commits (and syncs) on its own. */
typedef struct sqlite3 sqlite3;
typedef int (*store_fn_t)(sqlite3 *db, const void *in, void *out);

/* Runs fn in the Store after writing the pending batch (so it sees every
 * change acknowledged before the call), with a copy of the in_size bytes
 * at in; copies out_size bytes of its output to out. Returns fn's result,
 * or the call's error (ARBOR_ENOPROC: no Store; then out is untouched). */
int store_run(store_fn_t fn, const void *in, size_t in_size, void *out, size_t out_size);

#endif

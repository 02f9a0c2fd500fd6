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

typedef struct store_history {
    int64_t at;
    char who[TICKET_NAME_SIZE];
    char what[TICKET_NAME_SIZE + 64];
} store_history_t;

/* The Store's child start function; arg is the database path (a copied
 * string, so pass arg_size = strlen + 1). */
int store_start(void *path, arbor_pid_t *pid, arbor_reason_t *err);

/* Inserts t (its id is assigned and written back) with a "created" entry. */
int store_create(ticket_t *t, ticket_error_t *err);

/* Writes t's new state and one history entry, in one transaction, if the
 * stored ticket still has t->version (the version t was computed from);
 * then raises t->version to the stored one. Otherwise nothing is written
 * and it returns ARBOR_EAGAIN with err "conflict": t is stale. */
int store_update(ticket_t *t, const char *who, const char *what, ticket_error_t *err);

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

/* Records a notification in the outbox table. */
int store_notify(int64_t ticket, const char *text);

#endif

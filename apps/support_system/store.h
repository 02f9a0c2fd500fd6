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
 * an unknown ticket or agent, ARBOR_EEXIST for a known agent, ARBOR_EEXIT
 * when the database refused: the message is in err).
 *
 * A read answers all its rows or an error, never the rows found before an
 * error: only "no row" is absence (ARBOR_ENOENT). Any other SQLite error
 * is ARBOR_EEXIT with SQLite's message in err (code "store_error").
 *
 * A damaged file: when SQLite reports corruption (SQLITE_CORRUPT,
 * SQLITE_NOTADB), or PRAGMA quick_check finds a fault when the Store opens
 * the file, the Store is damaged (store_stats says so and why): every
 * change is refused (code "store_damaged", nothing written; the message
 * says how to recover: restore the last `backup PATH` copy, or rebuild the
 * file with `sqlite3 FILE .recover`), while the reads that still work are
 * served; a read that meets the damage fails with code "store_damaged".
 * Restarting the Store on the same file finds it damaged again.
 *
 * A change's error says whether the change may have been made. err.code
 * "outcome_unknown" (the call timed out, the Store died after it was
 * asked, or the database could not confirm its COMMIT): it may or may not
 * be on disk. Every other error: nothing was written ("store_down": no
 * Store was running; "store_error": the database refused it and rolled it
 * back; "conflict", "request_id_reused", ...).
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

/* A history entry may announce a message of the conversation. */
typedef enum { STORE_NO_MESSAGE, STORE_REPLY, STORE_NOTE } store_message_kind_t;

typedef struct store_history {
    int64_t id;        /* the entry's position: increasing in the order entries were written */
    int64_t at;        /* ms since the epoch, UTC */
    ticket_actor_t by; /* who made the change (ACTOR_DESK: recorded before attribution) */
    char what[TICKET_EVENT_SIZE];
    store_message_kind_t message; /* a public reply or an internal note, with its text */
    char text[TICKET_TEXT_SIZE];
} store_history_t;

/* A request id: what a client names a change with, so that a retry of it
 * is applied once (docs/desk.md, "When the answer is outcome unknown"): 1
 * to STORE_REQUEST_MAX characters, each visible ASCII (33 to 126). The
 * Store records it, with the ticket and a digest of the request, in the
 * change's own transaction, undone with it: the record exists if and only
 * if the change does. It is kept at least STORE_REQUEST_KEEP_MS; a retry
 * after that is a new request. */
#define STORE_REQUEST_MAX     64
#define STORE_REQUEST_SIZE    (STORE_REQUEST_MAX + 1)
#define STORE_REQUEST_KEEP_MS (24 * 3600 * 1000LL)

/* A request id recorded with its change. */
typedef struct store_request {
    int64_t ticket; /* the ticket created or changed; 0 for a roster change */
    /* "create", the action's name ("assign", ...), or a roster change's:
     * "agent-add", "agent-rename", "agent-set" */
    char what[16];
    int64_t digest; /* the request's fingerprint (desk.c): the same request, the same digest */
} store_request_t;

/* The refusal of a change whose request id names another request (first,
 * NULL when not known) into err: code "request_id_reused", a sentence
 * naming the id and what it was used for, and that nothing was changed. */
void store_request_reused(const char *request_id, const store_request_t *first,
                          ticket_error_t *err);

/* A roster change made at most once (store_agent_add, _rename, _set): its
 * request id (NULL or "": none, the change is made as asked) and the
 * request's digest. The id is recorded with the change, undone with it
 * (ticket 0, what the change's name). If the id is recorded already: for
 * the same change (same what and digest) nothing is written, the call
 * succeeds and replayed is set; for anything else, ARBOR_EEXIST with err
 * "request_id_reused" and nothing written. */
typedef struct store_once {
    const char *request_id;
    int64_t digest;
    bool replayed; /* out */
} store_once_t;

/* What a change records beside the ticket's new state. */
typedef struct store_event {
    ticket_actor_t by;  /* who makes it */
    const char *what;   /* the history entry's text */
    const char *notice; /* NULL or "": no notification; else the outbox row's text */
    store_message_kind_t message;
    const char *text; /* the message's text, unless STORE_NO_MESSAGE */
    /* The round-robin policy picked the ticket's (new) agent: the change
     * records that it was their turn (store_agent_t.turn), in its own
     * transaction, so the rotation goes on from the last assignment
     * committed. */
    bool round_robin_turn;
    /* NULL or "": none; else recorded with the change (request.what is
     * the action's name, request.ticket the ticket's id). An id already
     * recorded refuses the change: ARBOR_EEXIST, err "request_id_reused". */
    const char *request_id;
    store_request_t request;
} store_event_t;

/* How to recover a damaged file, for the operator. */
#define STORE_RECOVER_HINT                                                                         \
    "stop the desk, then restore the last copy made with 'backup PATH', or rebuild the file"       \
    " with 'sqlite3 FILE .recover | sqlite3 NEW' and start the desk on NEW"

/* The Store's child start function; arg is the database path (a copied
 * string, so pass arg_size = strlen + 1). */
int store_start(void *path, arbor_pid_t *pid, arbor_reason_t *err);

/* Whether path may be opened as the desk's database, as the Store checks
 * it before writing anything: 0 when there is no file yet (a new database
 * is made), or when it is a desk database (its SQLite application_id is the
 * desk's, or it was made by a desk from before the id: a schema version
 * and the desk's tables) of a schema version this desk knows. Otherwise -1
 * with a sentence in why naming the file and what it is: not SQLite,
 * another application's (another application_id, or tables without the
 * desk's), or of a newer schema. Changes nothing in the file. Blocks: any
 * thread, before the runtime starts or on the blocking pool. */
int store_check_file(const char *path, char *why, size_t size);

/* Inserts t (its id is assigned and written back) with a "created" entry
 * by by. */
int store_create(ticket_t *t, const ticket_actor_t *by, ticket_error_t *err);

/* store_create with a request id (not NULL, not ""), recorded with the
 * ticket with digest. If the id is recorded already: for a create with the
 * same digest, nothing is written, *t is that ticket as stored now, and
 * *replayed is true; for anything else, ARBOR_EEXIST with err
 * "request_id_reused" and nothing written. */
int store_create_once(ticket_t *t, const ticket_actor_t *by, const char *request_id, int64_t digest,
                      bool *replayed, ticket_error_t *err);

/* The record of request id: 0 and *out, or ARBOR_ENOENT when it has none.
 * Sees every change the Store has been asked for before the call (a change
 * still waiting in the batch with this id is written first). */
int store_request_find(const char *request_id, store_request_t *out);

/* How long a call to the Store or to a ticket's worker waits for its
 * answer before the caller gives up (and, for a change, says that its
 * outcome is unknown): 30 s, or ARBOR_DESK_CALL_TIMEOUT_MS from the
 * environment (1 to 600000; for tests). */
int64_t store_call_timeout_ms(void);

/* Writes t's new state (description, customer, priority, status, agent,
 * updated_at), one history entry (ev->what, by ev->by, at t->updated_at),
 * the message ev announces if any, and, when ev->notice is not NULL or
 * "", one outbox row, and with ev->round_robin_turn the agent's turn, all
 * in one transaction (all or none, whatever else shares it), if the stored
 * ticket still has t->version (the version t was computed from); then
 * raises t->version to the stored one. Otherwise nothing is written and it
 * returns ARBOR_EAGAIN with err "conflict": t is stale. */
int store_update(ticket_t *t, const store_event_t *ev, ticket_error_t *err);

/* Ticket id. ARBOR_ENOENT: there is none; another error (err, if not
 * NULL, says SQLite's reason) is not absence. */
int store_get(int64_t id, ticket_t *out, ticket_error_t *err);

/* A history is read a page at a time: STORE_HISTORY_PAGE entries unless
 * asked otherwise, at most STORE_HISTORY_MAX. */
#define STORE_HISTORY_PAGE 50
#define STORE_HISTORY_MAX  1000

/* A page of a ticket's history. */
typedef struct store_history_page {
    store_history_t *entries; /* oldest first, free(); NULL when n is 0 */
    size_t n;
    int64_t total; /* the ticket's entries, all pages */
    int64_t older; /* entries before this page's first (0: it starts the history) */
} store_history_page_t;

/* The latest limit entries of ticket id's history (0: STORE_HISTORY_PAGE;
 * more than STORE_HISTORY_MAX: that many) among those with an id below
 * before (0: all), oldest first, each with its message if it announces
 * one, into *out. A ticket without entries (or an unknown one) has an
 * empty page. Costs the page, plus counting the ticket's entries in an
 * index. */
int store_history(int64_t id, int64_t before, size_t limit, store_history_page_t *out,
                  ticket_error_t *err);

/* Tickets, newest first, optionally with a status and/or an agent (NULL:
 * any); at most limit. *out is free()d by the caller. */
int store_list(const ticket_status_t *status, const char *agent, size_t limit, ticket_t **out,
               size_t *n);

/* The orders of a list: newest first, oldest first (both by id: the
 * order the tickets were created in), by priority (urgent first, then
 * oldest), last updated first. */
typedef enum {
    STORE_SORT_NEWEST,
    STORE_SORT_OLDEST,
    STORE_SORT_PRIORITY,
    STORE_SORT_UPDATED
} store_sort_t;
#define STORE_SORTS 4

/* Which tickets a list holds; NULL (or "" for search) leaves a filter out. */
typedef struct store_filter {
    const ticket_status_t *status;
    bool unresolved;   /* only those not resolved yet: open, assigned or pending */
    bool overdue;      /* only the overdue: breached, not resolved yet (sla.h) */
    const char *agent; /* "": the unassigned tickets */
    const char *customer;
    const ticket_priority_t *priority;
    /* Words (at most TICKET_DESC_MAX characters), each of which must appear
     * in the description or the customer (SQLite FTS5, whole words, any
     * case); taken literally, never as FTS5 syntax. */
    const char *search;
    store_sort_t sort;
    size_t offset, limit; /* a page: skip offset, at most limit */
} store_filter_t;

/* The tickets f selects, in f's order: *out (free()) with *n of them.
 * ARBOR_EINVAL with err when a filter's text is not valid. */
int store_find(const store_filter_t *f, ticket_t **out, size_t *n, ticket_error_t *err);

/* The queues' sizes. */
typedef struct store_queues {
    int64_t mine;       /* assigned or pending, to the agent asked about */
    int64_t unassigned; /* open */
    int64_t open;       /* not resolved yet: open, assigned or pending */
    int64_t pending;    /* waiting on the customer */
    int64_t overdue;    /* breached their SLA, not resolved yet (sla.h) */
} store_queues_t;

/* The queues, mine being agent's (NULL or "": none, 0). */
int store_queues(const char *agent, store_queues_t *out, ticket_error_t *err);

/* An agent on the roster. */
typedef struct store_agent {
    char name[TICKET_NAME_SIZE];
    bool active;    /* deactivated agents get no tickets */
    bool available; /* unavailable ones are skipped by the assignment policies */
    int64_t open;   /* tickets assigned to them now (assigned or pending) */
    int64_t turn;   /* round-robin: the agent picked last has the highest (0: never) */
} store_agent_t;

/* The roster, in the order added: *out (free()) with *n agents. */
int store_agents(store_agent_t **out, size_t *n, ticket_error_t *err);

/* The least-loaded policy's choice: the active and available agent with
 * the fewest open tickets (ties: the first added), in name, with their
 * open count and how many agents were active and available. A read (the
 * pending batch is written first), one pass over the roster: the counts are
 * kept with each change. ARBOR_ENOENT: no agent is active and available. */
int store_least_loaded(char name[TICKET_NAME_SIZE], int64_t *open, int64_t *available);

/* Adds an agent, active and available. ARBOR_EEXIST: the name is taken.
 * Under once's request id (NULL: none; store_once_t). */
int store_agent_add(const char *name, store_once_t *once, ticket_error_t *err);

/* Renames agent from to to, in one transaction: the roster, their
 * password and role if they have one (credentials.h), every ticket
 * assigned to them (each version raised, so that a copy computed before
 * is stale), and a history entry on each of those tickets, by by. History
 * entries written before keep the name they said. ARBOR_ENOENT: no agent
 * from; ARBOR_EEXIST: to is taken. Under once's request id (NULL: none). */
int store_agent_rename(const char *from, const char *to, const ticket_actor_t *by,
                       store_once_t *once, ticket_error_t *err);

/* Sets an agent's flags: active, available, each 0 or 1 (-1: unchanged).
 * ARBOR_ENOENT: no such agent. Under once's request id (NULL: none). */
int store_agent_set(const char *name, int active, int available, store_once_t *once,
                    ticket_error_t *err);

/* How many tickets an agent ("": none) holds in a status. */
typedef struct store_ticket_count {
    char agent[TICKET_NAME_SIZE];
    ticket_status_t status;
    int64_t count;
} store_ticket_count_t;

/* The tickets counted by agent and status, as acknowledged (a read: the
 * pending batch is written first), by agent then status: *out (free())
 * with *n rows, one per pair that has tickets. Reads only. */
int store_ticket_counts(store_ticket_count_t **out, size_t *n, ticket_error_t *err);

/* What this Store process has written since it started, and whether the
 * file is damaged. */
typedef struct store_stats {
    uint64_t transactions; /* committed or failed batches, one fsync each */
    uint64_t changes;      /* the changes in them */
    /* Batches written twice: written without a savepoint per change, a
     * change failed having written part of itself, so the batch was
     * rolled back and written again with one per change (store.c). */
    uint64_t rewritten;
    bool damaged;     /* changes are refused (see the top of this file) */
    char damage[200]; /* what found the damage: SQLite's message; "" if none */
} store_stats_t;

int store_stats(store_stats_t *out);
/* store_stats waiting at most timeout_ms (ARBOR_ETIMEDOUT), not the
 * Store's call timeout: for a view that must not wait on a busy Store. */
int store_stats_within(store_stats_t *out, int64_t timeout_ms);

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
int store_outbox_pending(size_t limit, store_notification_t **out, size_t *n, ticket_error_t *err);

/* Marks the pending notifications with ids first..last delivered. Joins
 * the batch like a change; answered after its commit. */
int store_outbox_mark(int64_t first, int64_t last);

/* How many notifications are pending. */
int store_outbox_count(int64_t *pending, ticket_error_t *err);
/* store_outbox_count waiting at most timeout_ms. */
int store_outbox_count_within(int64_t *pending, int64_t timeout_ms, ticket_error_t *err);

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

/*
 * SupportSystem: the supervised ticket desk.
 *
 *   SupportSystem.Supervisor        rest_for_one: each child depends on those before it
 *   ├── Store                       GenServer owning the SQLite database
 *   ├── TicketRegistry              Registry: ticket id -> worker pid
 *   ├── Agents                      GenServer: roster and assignment policy
 *   ├── TicketSupervisor            DynamicSupervisor: one TicketWorker per active ticket
 *   ├── Notifier                    Supervisor: delivers the outbox (notifier.h)
 *   │   └── Dispatcher              GenServer: pending notifications -> the sink
 *   ├── Sla                         Supervisor: records SLA breaches (sla_timer.h)
 *   │   └── SlaTimer                GenServer: sleeps until the next due time
 *   └── Web                         the web interface, when configured (web/web.h)
 *
 * The course's API is kept: ticket_supervisor_create_ticket() (the
 * course's TicketSupervisor.create_ticket/1) and the assign_agent and
 * resolve calls on a ticket's worker. Workers start on demand when a ticket
 * is touched, reload it from the Store, and stop after an idle time; every
 * change is acknowledged only after the Store committed it. Each status change
 * writes a notification into the Store's outbox in the change's own
 * transaction; the Notifier's Dispatcher delivers it to the sink (the log)
 * at least once (notifier.h).
 */
#ifndef SUPPORT_DESK_H
#define SUPPORT_DESK_H

#include <arbor.h>

#include "agents.h"
#include "notifier.h"
#include "sla.h"
#include "store.h"
#include "ticket.h"

#define DESK_SUPERVISOR_NAME "SupportSystem.Supervisor"
#define DESK_REGISTRY_NAME   "SupportSystem.TicketRegistry"
#define DESK_TICKET_SUP_NAME "SupportSystem.TicketSupervisor"
#define DESK_NOTIFIER_NAME   NOTIFIER_NAME

/* The program's own processes outside the desk's tree, which nothing would
 * restart, register under these names: the console (the program's first
 * process) and the process that watches the tree for it. Neither the
 * console's kill nor the web's sends them an exit signal
 * (desk_outside_tree): the console would stop answering, or stop noticing
 * that the desk's supervisor gave up. */
#define DESK_CONSOLE_NAME         "SupportSystem.Console"
#define DESK_CONSOLE_WATCHER_NAME "SupportSystem.ConsoleWatcher"

/* The core's restart intensity (desk.c says why): when the Store and the
 * processes after it are restarted more than DESK_MAX_RESTARTS times in
 * DESK_MAX_SECONDS, SupportSystem.Supervisor gives up and exits with a
 * shutdown reason, and the desk stops. */
#define DESK_MAX_RESTARTS 3
#define DESK_MAX_SECONDS  5

/* The TicketSupervisor's restart intensity (desk.c says why): more than
 * DESK_TICKET_MAX_RESTARTS worker restarts in DESK_TICKET_MAX_SECONDS and
 * it gives up; SupportSystem.Supervisor then restarts it and the processes
 * after it (rest_for_one), which spends one of the core's restarts above. */
#define DESK_TICKET_MAX_RESTARTS 1000
#define DESK_TICKET_MAX_SECONDS  5

/* Called in a ticket's worker after each change it committed (and after a
 * create), with the ticket as stored: the web's event stream listens so.
 * It must not block or call the ticket's worker. */
typedef void (*desk_change_fn)(const ticket_t *t);

typedef struct desk_config {
    /* The SQLite file. NULL: in-memory mode, the course's desk as it is
     * written there: no Store, each ticket lives only in its worker (so a
     * crashed worker loses it, and workers never stop when idle), ids count
     * from 1, the roster starts as alice and bob, no history is kept, and
     * POLICY_LEAST_LOADED is refused (it asks the Store). The benchmark
     * measures this mode beside the durable one. */
    const char *db_path;
    /* The notification log: each notification is appended as one line
     * (notifier_log_deliver). NULL: no log; durable mode still records
     * them in the outbox, where they stay pending. In-memory mode has no
     * outbox and sends none. */
    const char *log_path;
    /* A sink to use instead of the log (tests; webhooks later); copied. */
    const notifier_sink_t *sink;
    agents_policy_t policy;
    int64_t idle_timeout_ms; /* a worker stops after this long without a request */
    /* Seeds the agents alice and bob into a durable desk whose roster is
     * empty (the console's --demo). A new database has no agents. */
    bool demo;
    desk_change_fn on_change; /* NULL: no one listens */
    /* Called in a ticket's worker after the desk recorded that the ticket
     * breached its resolution due time (sla.h), with the ticket as stored
     * (on_change is called for it too). Same rules as on_change. */
    desk_change_fn on_breach;
    /* The resolution times (sla.h); NULL: sla_default_policy. The durable
     * desk alone keeps SLAs: in memory there is no due time, no timer and
     * no Overdue queue (no Store to keep them, no outbox to notify). */
    const sla_policy_t *sla;
    /* The Web branch, the tree's last child (a supervisor): its start
     * function and argument (passed as is). NULL: no web. */
    arbor_child_start_fn web_start;
    void *web_arg;
} desk_config_t;

/* The console's operator, who makes the changes of the course's calls
 * (ticket_supervisor_create_ticket, assign_agent, resolve). */
extern const ticket_actor_t desk_operator;

/* Makes this process the only desk on db_path: takes an OS lock (fcntl)
 * on db_path + ".lock", writes this process's pid there, and holds the lock
 * until the process ends. ARBOR_EEXIST when another process holds it: why
 * names the database and that process's pid; other failures say the path
 * and the reason. Call once, before desk_start. */
int desk_lock(const char *db_path, char *why, size_t size);

/* Starts the tree, linked to the caller. One desk at a time per runtime:
 * the names above are registered. ARBOR_EINVAL: least-loaded without a
 * Store. */
int desk_start(const desk_config_t *cfg, arbor_pid_t *sup, arbor_reason_t *err);

/* True when pid is the console or its watcher (above); *what (when not
 * NULL) then says which, for an error: "the console". Any thread. */
bool desk_outside_tree(arbor_pid_t pid, const char **what);

/* Every change below names who makes it (by), and the history records
 * it. The desk checks the actor: an agent must be on the roster and
 * active; a customer must be the ticket's customer, and may only create
 * tickets and post public replies; an operator (the console) or the desk
 * may do anything. A refusal fills err (code and sentence) and changes
 * nothing.
 *
 * Every error but one is a refusal. err.code "outcome_unknown" says the
 * change may or may not have been made: the call to the Store or to the
 * ticket's worker timed out (store_call_timeout_ms), the process died
 * while it had the change, or the database could not confirm the commit.
 * Retry it with the same request id (desk_once_t) to have it made once,
 * or read the ticket to see. */

/* Creates t (description, customer, priority), by by: stores it and
 * starts its worker (*worker, if not NULL). */
int desk_create(ticket_t *t, const ticket_actor_t *by, arbor_pid_t *worker, ticket_error_t *err);

/* A change made at most once: a client names it with a request id, and
 * a retry with the same id (after an answer that said the outcome was
 * unknown, or none at all) is answered with the first outcome instead of
 * being applied again (store.h: STORE_REQUEST_*; docs/desk.md). */
typedef struct desk_once {
    const char *request_id; /* NULL or "": none, the change is made as asked */
    bool replayed;          /* out: the id was this request's, made before; nothing new */
} desk_once_t;

/* Whether id may be a request id: 1 to STORE_REQUEST_MAX characters, each
 * visible ASCII (33 to 126). False with err (bad_request_id) otherwise. */
bool desk_check_request_id(const char *id, ticket_error_t *err);

/* Whether name (any case) is an agent on the roster, active or not: a
 * list or a queue asked for by an agent nobody is called (a typo, the
 * name before a rename) is refused, unknown_agent, not answered empty.
 * False with *err when not, or when the roster cannot be read. */
bool desk_agent_known(const char *name, ticket_error_t *err);

/* desk_create under once's request id (once NULL: none). A retry of the
 * same create (same description, customer, priority and actor) answers
 * the ticket the first one made, as it is now (once->replayed); the id of
 * another request refuses it: request_id_reused, nothing changed. In
 * memory (no Store) request ids are not recorded. */
int desk_create_once(ticket_t *t, const ticket_actor_t *by, desk_once_t *once, arbor_pid_t *worker,
                     ticket_error_t *err);

/* The course's create_ticket: desk_create by desk_operator. */
int ticket_supervisor_create_ticket(ticket_t *t, arbor_pid_t *worker, ticket_error_t *err);

/* The worker of ticket id, started if need be. ARBOR_ENOENT: no such
 * ticket (in memory; in durable mode the worker's load tells).
 * ARBOR_ENOPROC or ARBOR_EAGAIN: the TicketRegistry or the TicketSupervisor
 * is not running (being restarted), which says nothing of whether the
 * ticket exists. */
int desk_worker(int64_t id, arbor_pid_t *pid);

/* The ticket that worker pid serves, read from the key it holds in the
 * TicketRegistry (the registry's tables: no message, any thread): 0 and
 * *id, or ARBOR_ENOENT when pid holds no ticket's key (not a worker, or
 * gone), ARBOR_ENOPROC when the registry is not running, ARBOR_ENOMEM. */
int desk_worker_ticket(arbor_pid_t pid, int64_t *id);

/* Applies change c (ticket.h) to ticket id, by by, through its worker; on
 * success *out (if not NULL) is the ticket as stored, and the history
 * holds the change (with its message, for a reply or a note); a status
 * change also writes its notification. On a refusal *out is the ticket as
 * the worker knows it. For assign, an empty agent lets the policy pick. A
 * named agent must be on the roster and active (unknown_agent,
 * agent_inactive). Replies and notes need the Store (no_store in memory). */
int desk_change(int64_t id, const ticket_change_t *c, const ticket_actor_t *by, ticket_t *out,
                ticket_error_t *err);

/* desk_change only if the ticket is still at version expected (< 0:
 * whatever its version): otherwise ARBOR_EAGAIN with err "conflict", *out
 * the ticket as it is, and nothing changed. */
int desk_change_if(int64_t id, int64_t expected, const ticket_change_t *c, const ticket_actor_t *by,
                   ticket_t *out, ticket_error_t *err);

/* desk_change_if under once's request id (once NULL: none). A retry of
 * the same change (same ticket, action, fields and actor) answers
 * success and the ticket as it is now (once->replayed), whatever its
 * version; the id of another request refuses it: request_id_reused,
 * nothing changed. */
int desk_change_once(int64_t id, int64_t expected, const ticket_change_t *c,
                     const ticket_actor_t *by, desk_once_t *once, ticket_t *out,
                     ticket_error_t *err);

/* desk_change for an action that needs at most an agent: assign ("" or
 * NULL: the policy picks), reassign (agent), unassign, pend, resume,
 * resolve, reopen, and close of a resolved ticket. */
int desk_act(int64_t id, ticket_action_t action, const char *agent, const ticket_actor_t *by,
             ticket_t *out, ticket_error_t *err);

/* Closes ticket id; reason is needed unless it is resolved. */
int desk_close(int64_t id, const char *reason, const ticket_actor_t *by, ticket_t *out,
               ticket_error_t *err);

/* Posts a public reply (STORE_REPLY) or an internal note (STORE_NOTE). */
int desk_post(int64_t id, store_message_kind_t kind, const char *text, const ticket_actor_t *by,
              ticket_t *out, ticket_error_t *err);

/* The course's calls, by desk_operator. */
int assign_agent(int64_t id, const char *agent, ticket_t *out, ticket_error_t *err);
int resolve(int64_t id, ticket_t *out, ticket_error_t *err);

/* The roster's changes, each under once's request id (once NULL: none;
 * desk_once_t), as a ticket's are: recorded in the Store with the change
 * (store_once_t). A retry of the same change (the same command with the
 * same names, flags and actor) is answered as made, with the roster as it
 * is now (once->replayed), and changes nothing; the id of another request
 * (a ticket's change included) refuses it: request_id_reused, nothing
 * changed. In memory (no Store) request ids are not recorded. */

/* Adds an agent, active and available (agents_add). extra: what else the
 * request asks that the roster does not keep (the web's role and whether
 * it gave a password), part of the request's digest; NULL: nothing. */
int desk_agent_add(const char *name, const char *extra, desk_once_t *once, ticket_error_t *err);

/* Sets an agent's flags, each 0 or 1 (-1: unchanged; agents_set). */
int desk_agent_set(const char *name, int active, int available, desk_once_t *once,
                   ticket_error_t *err);

/* Renames an agent (agents_rename): the roster, the tickets assigned to
 * them, and an entry in each one's history, by by; running workers reload
 * their ticket. Earlier history entries keep the old name. */
int desk_agent_rename(const char *from, const char *to, const ticket_actor_t *by,
                      ticket_error_t *err);
int desk_agent_rename_once(const char *from, const char *to, const ticket_actor_t *by,
                           desk_once_t *once, ticket_error_t *err);

/* Deactivates an agent: no ticket is assigned to them any more (by the
 * policies or by name); their open tickets (assigned or pending) stay
 * theirs and are listed in *open (free()), *n of them, for reassigning
 * (in memory: none listed). A replay lists them as they are now. */
int desk_agent_deactivate(const char *name, ticket_t **open, size_t *n, ticket_error_t *err);
int desk_agent_deactivate_once(const char *name, desk_once_t *once, ticket_t **open, size_t *n,
                               ticket_error_t *err);

/* The ticket, through its worker. ARBOR_ENOENT: there is no such ticket
 * (err: unknown_ticket); any other error is not absence: err (if not
 * NULL) says why, with the Store's message when it could not read the
 * ticket (code store_error, or store_damaged for a damaged file). */
int desk_get(int64_t id, ticket_t *out, ticket_error_t *err);

#endif

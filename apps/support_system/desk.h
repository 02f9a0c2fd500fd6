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
#include "store.h"
#include "ticket.h"

#define DESK_SUPERVISOR_NAME "SupportSystem.Supervisor"
#define DESK_REGISTRY_NAME   "SupportSystem.TicketRegistry"
#define DESK_TICKET_SUP_NAME "SupportSystem.TicketSupervisor"
#define DESK_NOTIFIER_NAME   NOTIFIER_NAME

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
    int64_t idle_timeout_ms;  /* a worker stops after this long without a request */
    desk_change_fn on_change; /* NULL: no one listens */
    /* The Web branch, the tree's last child (a supervisor): its start
     * function and argument (passed as is). NULL: no web. */
    arbor_child_start_fn web_start;
    void *web_arg;
} desk_config_t;

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

/* The course's create_ticket: stores the ticket and starts its worker. */
int ticket_supervisor_create_ticket(ticket_t *t, arbor_pid_t *worker, ticket_error_t *err);

/* ticket_supervisor_create_ticket made by actor: the history's "created"
 * entry names actor (NULL or "": the customer, or "desk"). */
int desk_create_by(ticket_t *t, const char *actor, arbor_pid_t *worker, ticket_error_t *err);

/* The worker of ticket id, started if need be. ARBOR_ENOENT: no such ticket. */
int desk_worker(int64_t id, arbor_pid_t *pid);

/* Applies action to ticket id through its worker (agent: for assign; ""
 * picks one by the policy). On success *out is the ticket as stored. */
int desk_act(int64_t id, ticket_action_t action, const char *agent, ticket_t *out,
             ticket_error_t *err);

/* desk_act made by actor (the history's "who"; NULL or "": the agent
 * assigned, or "desk", as desk_act does) and only if the ticket is still
 * at version expected (< 0: whatever its version); otherwise it returns
 * ARBOR_EAGAIN with err "conflict", *out the ticket as it is, and changes
 * nothing. */
int desk_act_by(int64_t id, int64_t expected, const char *actor, ticket_action_t action,
                const char *agent, ticket_t *out, ticket_error_t *err);

/* The course's calls. */
int assign_agent(int64_t id, const char *agent, ticket_t *out, ticket_error_t *err);
int resolve(int64_t id, ticket_t *out, ticket_error_t *err);

/* The ticket, through its worker. */
int desk_get(int64_t id, ticket_t *out);

#endif

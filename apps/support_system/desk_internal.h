/*
 * What the desk's two halves share: desk.c (the tree and the calls the
 * console and the web make) and ticket_worker.c (the TicketWorker, one
 * process per active ticket). Private to the desk.
 */
#ifndef SUPPORT_DESK_INTERNAL_H
#define SUPPORT_DESK_INTERNAL_H

#include <stdatomic.h>
#include <stddef.h>

#include "desk.h"

/* The TicketWorker's calls. */
enum { W_GET = 1, W_ACT, W_RELOAD };

/* A change and who makes it. The change comes last, and a request carries
 * it only up to its text's NUL (act_req_size). */
typedef struct {
    ticket_actor_t by;
    int64_t expected; /* the version the change was computed from; < 0: any */
    ticket_change_t change;
} act_req_t;

static inline size_t act_req_size(const act_req_t *q)
{
    return offsetof(act_req_t, change) + ticket_change_size(&q->change);
}

typedef struct {
    int rc;
    ticket_error_t err;
    ticket_t ticket;
} act_reply_t;

/* What a worker starts from: in durable mode the id, and it loads the
 * ticket from the Store (so a restart begins from the last acknowledged
 * state); in in-memory mode the ticket itself, as the course's
 * TicketWorker.start_link(ticket) (so a restart begins from the ticket as
 * created, as the course's does). */
typedef struct {
    int64_t id;
    ticket_t ticket; /* in-memory mode */
} worker_arg_t;

/* The running desk's settings (one desk per runtime; desk_start sets them). */
typedef struct {
    bool durable;
    int64_t idle_ms;
    char log_path[4096];     /* "" = no log */
    _Atomic int64_t last_id; /* in-memory mode's ids */
    desk_change_fn on_change;
} desk_settings_t;

extern desk_settings_t desk;

/* Tells the desk's listener (the web's event stream) of a committed change. */
void desk__announce(const ticket_t *t);

/* The TicketRegistry's key of ticket id: "ticket:ID". */
void desk__ticket_key(int64_t id, char key[32]);

/* Fills err with code and the formatted sentence; returns false. */
bool desk__refuse(ticket_error_t *err, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* An agent that may be given a ticket, or act: on the roster and active.
 * False with err filled otherwise: unknown_agent, agent_inactive, or
 * unavailable when the roster could not be asked (which says nothing of
 * the agent). */
bool desk__check_agent(const char *name, ticket_error_t *err);

/* Starts the worker of a under the TicketSupervisor. */
int desk__start_worker(const worker_arg_t *a, arbor_pid_t *pid, arbor_reason_t *why);

#endif

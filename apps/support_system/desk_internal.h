/*
 * What the desk's two halves share: desk.c (the tree and the calls the
 * console and the web make) and ticket_worker.c (the TicketWorker, one
 * process per active ticket). Private to the desk.
 */
#ifndef SUPPORT_DESK_INTERNAL_H
#define SUPPORT_DESK_INTERNAL_H

#include <stdatomic.h>
#include <stddef.h>
#include <string.h>

#include "desk.h"

/* The TicketWorker's calls. W_ACT answers an act_reply_t whole; W_ACT_RC,
 * for a caller that does not want the ticket, only its rc, and its err
 * when rc is not 0 (act_reply_size). W_BREACH: the SLA's breach (sla_timer.c). */
enum { W_GET = 1, W_ACT, W_RELOAD, W_BREACH, W_ACT_RC };

/* A change and who makes it. The change comes last, and a request carries
 * it only up to the NUL of the last field its action reads (act_req_size);
 * the worker takes the bytes not carried as zeros. */
typedef struct {
    ticket_actor_t by;
    int64_t expected; /* the version the change was computed from; < 0: any */
    /* "": none; else the change is made at most once under this id, and
     * digest is the request's fingerprint (desk.c). */
    char request_id[STORE_REQUEST_SIZE];
    int64_t digest;
    ticket_change_t change;
} act_req_t;

/* An act_req_t up to its change's agent, field for field: the request
 * of an action that reads no further (act_reads_past_agent()), which
 * desk_act() makes on its stack instead of a whole act_req_t. */
typedef struct {
    ticket_actor_t by;
    int64_t expected;
    char request_id[STORE_REQUEST_SIZE];
    int64_t digest;
    ticket_action_t action;
    char agent[TICKET_NAME_SIZE];
} act_req_head_t;

_Static_assert(offsetof(act_req_head_t, expected) == offsetof(act_req_t, expected) &&
                   offsetof(act_req_head_t, request_id) == offsetof(act_req_t, request_id) &&
                   offsetof(act_req_head_t, digest) == offsetof(act_req_t, digest) &&
                   offsetof(act_req_head_t, action) == offsetof(act_req_t, change.action) &&
                   offsetof(act_req_head_t, agent) == offsetof(act_req_t, change.agent),
               "act_req_head_t must be act_req_t's first bytes");

/* Does action a read fields of its change past the agent? Close, edit,
 * reply and note do; the others read only the action and the agent. */
static inline bool act_reads_past_agent(ticket_action_t a)
{
    return a == ACTION_CLOSE || a == ACTION_EDIT || a == ACTION_REPLY || a == ACTION_NOTE;
}

/* The bytes of q a request carries: the change up to its text's NUL for
 * an action that reads past the agent, else up to the agent's NUL (a few
 * hundred bytes, not two thousand, for assign and resolve). */
static inline size_t act_req_size(const act_req_t *q)
{
    const ticket_change_t *c = &q->change;
    if (act_reads_past_agent(c->action))
        return offsetof(act_req_t, change) + ticket_change_size(c);
    return offsetof(act_req_t, change.agent) + strnlen(c->agent, sizeof c->agent - 1) + 1;
}

typedef struct {
    int rc;
    bool replayed; /* the request id was this change's, made before: nothing new was made */
    ticket_error_t err;
    ticket_t ticket;
} act_reply_t;

/* The bytes of r a reply to tag carries (W_ACT: all of it). */
static inline size_t act_reply_size(uint64_t tag, const act_reply_t *r)
{
    return tag == W_ACT ? sizeof *r
           : r->rc      ? offsetof(act_reply_t, ticket)
                        : offsetof(act_reply_t, err);
}

/* What a worker starts from: in durable mode the id, and it loads the
 * ticket from the Store (so a restart begins from the last acknowledged
 * state); in in-memory mode the ticket itself, as the course's
 * TicketWorker.start_link(ticket) (so a restart begins from the ticket as
 * created, as the course's does). The ticket travels packed
 * (worker_arg_pack): its other fields, then its description, customer and
 * agent one after the other, each up to its NUL; about a hundred bytes
 * where a whole ticket_t, 1.4 KB, was copied into the start request and
 * the DynamicSupervisor's child record (past malloc's thread cache). */
typedef struct {
    int64_t id;
    bool has_ticket; /* in-memory mode; else the worker loads ticket id */
    ticket_priority_t priority;
    ticket_status_t status;
    bool sla_paused;
    int64_t created_at, updated_at, version, due_at, sla_left_ms, breached_at;
    char text[TICKET_DESC_SIZE + 2 * TICKET_NAME_SIZE];
} worker_arg_t;

/* Packs t (NULL: none, the durable worker's id alone) for ticket id's
 * worker into *a; returns the bytes of *a that carry it. */
static inline size_t worker_arg_pack(worker_arg_t *a, int64_t id, const ticket_t *t)
{
    a->id = id;
    a->has_ticket = t != NULL;
    if (!t)
        return offsetof(worker_arg_t, priority);
    a->priority = t->priority;
    a->status = t->status;
    a->sla_paused = t->sla_paused;
    a->created_at = t->created_at;
    a->updated_at = t->updated_at;
    a->version = t->version;
    a->due_at = t->due_at;
    a->sla_left_ms = t->sla_left_ms;
    a->breached_at = t->breached_at;
    size_t len = 0;
    const char *const texts[] = {t->description, t->customer, t->agent};
    const size_t sizes[] = {sizeof t->description, sizeof t->customer, sizeof t->agent};
    for (int i = 0; i < 3; i++) {
        size_t n = strnlen(texts[i], sizes[i] - 1);
        memcpy(a->text + len, texts[i], n);
        a->text[len + n] = '\0';
        len += n + 1;
    }
    return offsetof(worker_arg_t, text) + len;
}

/* The ticket a packs (has_ticket), whole: the fields it does not carry
 * are zeros, its texts "". Each text is written up to its NUL and no
 * further: t is a worker's state, which is not zeroed (state_size), and
 * writing all 1.4 KB of it took 22 cache lines of fresh memory a ticket
 * (a memset here made half the in-memory desk's write misses). What
 * follows a NUL is never read. */
static inline void worker_arg_ticket(const worker_arg_t *a, ticket_t *t)
{
    t->id = a->id;
    t->description[0] = t->customer[0] = t->agent[0] = '\0';
    t->priority = 0;
    t->status = 0;
    t->created_at = t->updated_at = t->version = t->due_at = t->sla_left_ms = t->breached_at = 0;
    t->sla_paused = false;
    if (!a->has_ticket)
        return;
    t->priority = a->priority;
    t->status = a->status;
    t->sla_paused = a->sla_paused;
    t->created_at = a->created_at;
    t->updated_at = a->updated_at;
    t->version = a->version;
    t->due_at = a->due_at;
    t->sla_left_ms = a->sla_left_ms;
    t->breached_at = a->breached_at;
    const char *p = a->text;
    char *const texts[] = {t->description, t->customer, t->agent};
    for (int i = 0; i < 3; i++) {
        size_t n = strlen(p); /* fits: packed from a field this size */
        memcpy(texts[i], p, n + 1);
        p += n + 1;
    }
}

/* The running desk's settings (one desk per runtime; desk_start sets them). */
typedef struct {
    bool durable;
    int64_t idle_ms;
    char log_path[4096];     /* "" = no log */
    _Atomic int64_t last_id; /* in-memory mode's ids */
    desk_change_fn on_change;
    desk_change_fn on_breach;
    sla_policy_t sla;
} desk_settings_t;

extern desk_settings_t desk;

/* Tells the desk's listener (the web's event stream) of a committed change. */
void desk__announce(const ticket_t *t);

/* Tells the desk's listener that t breached its due time. */
void desk__announce_breach(const ticket_t *t);

/* Has the worker of ticket id record its SLA breach, if it is due
 * (sla_due): the history entry, the notification and breached_at in one
 * transaction, then the events. 0 with *recorded true when it recorded
 * it, false when there was nothing to record (not due, or recorded
 * already); else the call's error (ARBOR_ENOENT: no such ticket). */
int desk__breach(int64_t id, bool *recorded);

/* The TicketRegistry's key of ticket id: "ticket:ID". */
void desk__ticket_key(int64_t id, char key[32]);

/* Fills err with code and the formatted sentence; returns false. */
bool desk__refuse(ticket_error_t *err, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* An agent that may be given a ticket, or act: on the roster, in any
 * ASCII case, and active; name becomes the roster's spelling (ALICE:
 * alice), which the change and its history then carry. False with err
 * filled otherwise: unknown_agent, agent_inactive, or unavailable when
 * the roster could not be asked (which says nothing of the agent). */
bool desk__check_agent(char name[TICKET_NAME_SIZE], ticket_error_t *err);

/* Starts the worker of a, size bytes of it (worker_arg_pack), under the
 * TicketSupervisor. */
int desk__start_worker(const worker_arg_t *a, size_t size, arbor_pid_t *pid, arbor_reason_t *why);

#endif

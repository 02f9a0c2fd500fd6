/*
 * The TicketWorker.
 *
 * A TicketWorker is the course's GenServer made durable: it loads its
 * ticket from the Store in init (so a restart, or a start on demand, begins
 * from the last acknowledged state), registers under "ticket:ID" in the
 * TicketRegistry, and applies each change to a copy first: the Store
 * commits the copy, and only then does the worker adopt it and reply. The
 * worker serialises its ticket's changes, so two concurrent assignments
 * cannot both win; the loser is told who won. After an idle time it stops
 * (normal: transient, so not restarted) and the next request starts it
 * again. In in-memory mode (no Store) the worker is the course's: its state
 * is the only copy, so it never stops for idleness.
 */
#include "desk_internal.h"

#include <stdio.h>
#include <string.h>

typedef struct {
    ticket_t t;
} worker_t;

/* Durable workers stop after an idle time; in-memory ones hold the only
 * copy of their ticket and stay. */
static arbor_gs_ret_t idle(arbor_gs_ret_t r)
{
    return desk.durable ? arbor_gs_timeout(r, desk.idle_ms) : r;
}

/* init registers the worker and returns at once, so the TicketSupervisor
 * (which waits for init) is not held while the Store answers; the ticket is
 * loaded in handle_continue, before any request is handled. */
static arbor_gs_ret_t worker_init(void **state, void *arg)
{
    const worker_arg_t *a = arg;
    worker_t *w = arbor_alloc(sizeof *w);
    if (!w)
        return arbor_gs_halt(arbor_error("out of memory"));
    w->t = a->ticket; /* in durable mode, only its id until loaded */
    w->t.id = a->id;
    char key[32];
    desk__ticket_key(a->id, key);
    arbor_pid_t reg = arbor_whereis(DESK_REGISTRY_NAME), owner;
    if (!reg || arbor_registry_register(reg, key, NULL, 0, &owner) != 0)
        return arbor_gs_halt(arbor_error("already_started"));
    *state = w;
    return desk.durable ? arbor_gs_continue(arbor_gs_ok(), 0) : idle(arbor_gs_ok());
}

/* Loads the ticket. An unknown one stops the worker with {shutdown,
 * not_found}: a transient child is not restarted for it, and its caller
 * learns why. */
static arbor_gs_ret_t worker_load(void **state, uint64_t arg)
{
    worker_t *w = *state;
    int rc = store_get(w->t.id, &w->t);
    if (rc == ARBOR_ENOENT)
        return arbor_gs_halt(arbor_reason(ARBOR_EXIT_SHUTDOWN, "not_found"));
    if (rc)
        return arbor_gs_halt(arbor_error("cannot load the ticket: %s", arbor_err_name(rc)));
    return idle(arbor_gs_noreply());
}

/* May by make change c to t? */
static bool check_actor(const ticket_t *t, const ticket_actor_t *by, const ticket_change_t *c,
                        ticket_error_t *err)
{
    if (!ticket_check_actor(by, err))
        return false;
    if (by->kind == ACTOR_AGENT)
        return desk__check_agent(by->name, err);
    if (by->kind != ACTOR_CUSTOMER)
        return true;
    if (!t->customer[0] || strcmp(by->name, t->customer) != 0)
        return desk__refuse(err, "forbidden", "%s is not this ticket's customer", by->name);
    if (c->action != ACTION_REPLY)
        return desk__refuse(err, "forbidden", "a customer may only reply to a ticket (%s)",
                            ticket_action_name(c->action));
    return true;
}

/* The agent an assign or reassign gives the ticket to: the one named (on
 * the roster, active), or for an assign of an open ticket with none named,
 * the policy's pick. Other refusals are the workflow's (ticket_change). */
static bool choose_agent(const ticket_t *t, ticket_change_t *c, ticket_error_t *err)
{
    bool assigning = c->action == ACTION_ASSIGN && t->status == TICKET_OPEN;
    if (!assigning && c->action != ACTION_REASSIGN)
        return true;
    if (c->agent[0])
        return desk__check_agent(c->agent, err);
    /* The policy picks only active and available agents: no lookup. */
    int rc = assigning ? agents_pick(c->agent) : 0;
    if (rc == ARBOR_ENOENT)
        return desk__refuse(err, "no_agents", "there is no agent to assign");
    if (rc) /* not an answer about the agents: the roster is being restarted */
        return desk__refuse(err, "unavailable",
                            "the roster cannot be read now (%s): the Agents process is being"
                            " restarted; nothing was changed, try again",
                            arbor_strerror(rc));
    return true;
}

/* Checks and applies q to a copy of the worker's ticket, has the Store
 * commit it (durable), and only then adopts it. */
static arbor_gs_ret_t worker_act(worker_t *w, act_req_t *q)
{
    act_reply_t r = {.ticket = w->t};
    ticket_change_t *c = &q->change;
    ticket_t next = w->t;
    if (q->expected >= 0 && q->expected != w->t.version) {
        r.rc = ARBOR_EAGAIN;
        desk__refuse(&r.err, "conflict",
                     "ticket %lld is at version %lld, not %lld: it was changed since; nothing was"
                     " changed",
                     (long long)w->t.id, (long long)w->t.version, (long long)q->expected);
        return idle(arbor_gs_reply(&r, sizeof r));
    }
    char event[TICKET_EVENT_SIZE];
    bool message = c->action == ACTION_REPLY || c->action == ACTION_NOTE, ok;
    if (message && !desk.durable)
        ok = desk__refuse(&r.err, "no_store", "the in-memory desk keeps no conversation");
    else
        ok = check_actor(&w->t, &q->by, c, &r.err) && choose_agent(&w->t, c, &r.err) &&
             ticket_change(&next, c, ticket_now_ms(), event, sizeof event, &r.err);
    if (!ok) {
        r.rc = !strcmp(r.err.code, "unknown_agent") || !strcmp(r.err.code, "no_agents")
                   ? ARBOR_ENOENT
               : !strcmp(r.err.code, "unavailable") ? ARBOR_ENOPROC
                                                    : ARBOR_EINVAL;
        return idle(arbor_gs_reply(&r, sizeof r));
    }
    if (desk.durable) {
        /* The notification is written with the change, in its
         * transaction: it exists if and only if the change does (the
         * outbox). In memory there is no outbox, and no notification. */
        char notice[STORE_NOTICE_SIZE] = "";
        if (ticket_changes_status(&w->t, &next))
            snprintf(notice, sizeof notice, "ticket %lld is now %s", (long long)next.id,
                     ticket_status_name(next.status));
        store_event_t ev = {.by = q->by,
                            .what = event,
                            .notice = notice,
                            .message = !message                    ? STORE_NO_MESSAGE
                                       : c->action == ACTION_REPLY ? STORE_REPLY
                                                                   : STORE_NOTE,
                            .text = c->text};
        r.rc = store_update(&next, &ev, &r.err);
    }
    if (r.rc != 0) {
        /* The Store did not confirm: the change may or may not have been
         * committed (the Store may have died after COMMIT, before its
         * reply). The worker's copy can no longer be trusted, so it stops
         * ({shutdown, _}: not restarted) and the next request starts it
         * again from what the Store holds. */
        return arbor_gs_halt_reply(arbor_reason(ARBOR_EXIT_SHUTDOWN, "unconfirmed"), &r, sizeof r);
    }
    w->t = r.ticket = next; /* committed: now it is true */
    desk__announce(&w->t);
    return idle(arbor_gs_reply(&r, sizeof r));
}

/* A request carries an act_req_t up to its text's NUL. */
static bool act_request(const arbor_msg_t *req, act_req_t *q)
{
    if (req->tag != W_ACT || req->size <= offsetof(act_req_t, change.text) ||
        req->size > sizeof *q || ((const char *)req->data)[req->size - 1] != '\0')
        return false;
    memcpy(q, req->data, req->size);
    return true;
}

static arbor_gs_ret_t worker_call(void **state, const arbor_msg_t *req, arbor_from_t from)
{
    worker_t *w = *state;
    act_req_t q;
    if (act_request(req, &q))
        return worker_act(w, &q);
    if (req->tag == W_RELOAD && desk.durable) {
        /* The Store changed the ticket behind the worker (an agent's
         * rename): take what it holds. */
        int rc = store_get(w->t.id, &w->t);
        if (rc)
            return arbor_gs_halt_reply(arbor_reason(ARBOR_EXIT_SHUTDOWN, "unconfirmed"), &rc,
                                       sizeof rc);
    }
    return idle(arbor_gs_reply(&w->t, sizeof w->t));
}

static arbor_gs_ret_t worker_info(void **state, const arbor_msg_t *msg)
{
    if (msg->tag == ARBOR_TAG_GS_TIMEOUT)
        return arbor_gs_halt(ARBOR_NORMAL); /* idle: the next request starts it again */
    return idle(arbor_gs_noreply());
}

static void worker_status(void *state, char *buf, size_t size)
{
    const worker_t *w = state;
    if (w)
        snprintf(buf, size, "ticket %lld %s", (long long)w->t.id, ticket_status_name(w->t.status));
}

static const arbor_gen_server_t ticket_worker = {.label = "SupportSystem.TicketWorker",
                                                 .init = worker_init,
                                                 .handle_continue = worker_load,
                                                 .handle_call = worker_call,
                                                 .handle_info = worker_info,
                                                 .format_status = worker_status};

static int worker_start(void *arg, arbor_pid_t *pid, arbor_reason_t *err)
{
    arbor_gs_opts_t o = {.link = true};
    return arbor_gs_start(&ticket_worker, arg, &o, pid, err);
}

int desk__start_worker(const worker_arg_t *a, arbor_pid_t *pid, arbor_reason_t *why)
{
    arbor_pid_t sup = arbor_whereis(DESK_TICKET_SUP_NAME);
    if (!sup)
        return ARBOR_ENOPROC;
    arbor_child_spec_t spec = {.id = "SupportSystem.TicketWorker",
                               .start = worker_start,
                               .arg = (void *)a,
                               .arg_size = sizeof *a,
                               .restart = ARBOR_TRANSIENT};
    return arbor_dynsup_start_child(sup, &spec, pid, why);
}

/* It does not wait for a restart of the TicketRegistry or the
 * TicketSupervisor (ARBOR_ENOPROC at once): a web request that waited for
 * SupportSystem.Supervisor while it stops the Web first (rest_for_one)
 * would hold up the Web's drain, and every answer, for its 5 s. The
 * callers answer "unavailable", which is true. */
int desk_worker(int64_t id, arbor_pid_t *pid)
{
    char key[32];
    desk__ticket_key(id, key);
    arbor_pid_t reg = arbor_whereis(DESK_REGISTRY_NAME);
    if (!reg)
        return ARBOR_ENOPROC;
    for (int attempt = 0; attempt < 3; attempt++) {
        if ((*pid = arbor_registry_whereis(reg, key)))
            return 0;
        if (!desk.durable)
            return ARBOR_ENOENT; /* in memory, a ticket without a worker is gone */
        worker_arg_t a = {.id = id};
        int rc = desk__start_worker(&a, pid, NULL);
        if (rc == 0)
            return 0;
        if (rc == ARBOR_ENOPROC)
            return rc;
        /* Lost a race with another starter: look it up again. */
    }
    return ARBOR_EAGAIN;
}

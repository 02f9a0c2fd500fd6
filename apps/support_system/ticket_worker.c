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
#include "sla_timer.h"

#include <stdio.h>
#include <stdlib.h>
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
    worker_t *w = *state;        /* the server's block holds it (state_size) */
    worker_arg_ticket(a, &w->t); /* in durable mode, only its id until loaded */
    char key[32];
    desk__ticket_key(a->id, key);
    static _Thread_local arbor_name_cache_t registry; /* see desk_worker() */
    arbor_pid_t reg = arbor_whereis_cached(DESK_REGISTRY_NAME, &registry), owner;
    if (!reg || arbor_registry_register(reg, key, NULL, 0, &owner) != 0)
        return arbor_gs_halt(arbor_error("already_started"));
    return desk.durable ? arbor_gs_continue(arbor_gs_ok(), 0) : idle(arbor_gs_ok());
}

/* Loads the ticket. An unknown one stops the worker with {shutdown,
 * not_found}, one the Store could not read (a damaged file, a failing
 * disk) with {shutdown, not_loaded}: a transient child is not restarted
 * for either (restarting cannot mend the file), and its caller learns
 * why (desk.c asks the Store for its message). */
static arbor_gs_ret_t worker_load(void **state, uint64_t arg)
{
    worker_t *w = *state;
    int rc = store_get(w->t.id, &w->t, NULL);
    if (rc == ARBOR_ENOENT)
        return arbor_gs_halt(arbor_reason(ARBOR_EXIT_SHUTDOWN, "not_found"));
    if (rc) {
        /* {shutdown, not_loaded}: no request was begun, so a caller waiting
         * knows its change was not made (desk.c); the next request starts
         * a worker again. */
        return arbor_gs_halt(arbor_reason(ARBOR_EXIT_SHUTDOWN, "not_loaded"));
    }
    return idle(arbor_gs_noreply());
}

/* May by make change c to t? An agent's name becomes the roster's spelling. */
static bool check_actor(const ticket_t *t, ticket_actor_t *by, const ticket_change_t *c,
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
 * the policy's choice (in *chosen, with why; chosen->name stays "" for a
 * named agent). Other refusals are the workflow's (ticket_change). */
static bool choose_agent(const ticket_t *t, ticket_change_t *c, agents_choice_t *chosen,
                         ticket_error_t *err)
{
    bool assigning = c->action == ACTION_ASSIGN && t->status == TICKET_OPEN;
    if (!assigning && c->action != ACTION_REASSIGN)
        return true;
    if (c->agent[0])
        return desk__check_agent(c->agent, err);
    if (!assigning)
        return true;
    /* The policy picks only active and available agents: no lookup. */
    int rc = agents_choose(chosen);
    if (rc == ARBOR_ENOENT)
        return desk__refuse(err, "no_agents", "there is no agent to assign");
    if (rc) /* not an answer about the agents: the roster is being restarted */
        return desk__refuse(err, "unavailable",
                            "the roster cannot be read now (%s): the Agents process is being"
                            " restarted; nothing was changed, try again",
                            arbor_strerror(rc));
    memcpy(c->agent, chosen->name, strlen(chosen->name) + 1); /* the same size */
    return true;
}

/* A change with a request id the Store has recorded already: the same
 * request (a retry) is answered as it was, success with the ticket as it is
 * now, and made no more; another request under that id is refused. True
 * when it answered into *r; false to make the change (the id is new). */
static bool answered_before(const worker_t *w, const act_req_t *q, act_reply_t *r)
{
    if (!q->request_id[0] || !desk.durable)
        return false;
    store_request_t first;
    int rc = store_request_find(q->request_id, &first);
    if (rc == ARBOR_ENOENT)
        return false;
    if (rc) {
        r->rc = rc;
        desk__refuse(&r->err, "unavailable",
                     "the store could not look up request id %s (%s); nothing was changed",
                     q->request_id, arbor_strerror(rc));
    } else if (first.ticket == w->t.id && first.digest == q->digest &&
               strcmp(first.what, ticket_action_name(q->change.action)) == 0) {
        r->replayed = true; /* r->rc 0, r->ticket the ticket as it is */
    } else {
        r->rc = ARBOR_EEXIST;
        store_request_reused(q->request_id, &first, &r->err);
    }
    return true;
}

/* The reply to a W_ACT or W_ACT_RC call (tag): r as act_reply_size says,
 * the worker's ticket in it for W_ACT. */
static arbor_gs_ret_t act_reply(const worker_t *w, uint64_t tag, act_reply_t *r)
{
    if (tag == W_ACT)
        r->ticket = w->t;
    return arbor_gs_reply(r, act_reply_size(tag, r));
}

/* Checks and applies q to a copy of the worker's ticket, has the Store
 * commit it (durable), and only then adopts it; answers as tag asks. */
static arbor_gs_ret_t worker_act(worker_t *w, act_req_t *q, uint64_t tag)
{
    act_reply_t r; /* only what the reply carries is written (act_reply) */
    r.rc = 0;
    r.replayed = false;
    ticket_change_t *c = &q->change;
    if (answered_before(w, q, &r))
        return idle(act_reply(w, tag, &r));
    if (q->expected >= 0 && q->expected != w->t.version) {
        r.rc = ARBOR_EAGAIN;
        desk__refuse(&r.err, "conflict",
                     "ticket %lld is at version %lld, not %lld: it was changed since; nothing was"
                     " changed",
                     (long long)w->t.id, (long long)w->t.version, (long long)q->expected);
        return idle(act_reply(w, tag, &r));
    }
    /* The change is made on a copy the Store commits before the worker
     * adopts it; in memory nothing can fail after ticket_change, which
     * leaves the ticket as it was when it refuses, so the change is made
     * on the worker's ticket itself (no 1.4 KB copies). */
    ticket_t copy, *next = &w->t;
    if (desk.durable) {
        copy = w->t;
        next = &copy;
    }
    char event[TICKET_EVENT_SIZE];
    agents_choice_t chosen = {.name = ""};
    bool message = c->action == ACTION_REPLY || c->action == ACTION_NOTE, ok;
    if (message && !desk.durable)
        ok = desk__refuse(&r.err, "no_store", "the in-memory desk keeps no conversation");
    else
        ok = check_actor(&w->t, &q->by, c, &r.err) && choose_agent(&w->t, c, &chosen, &r.err) &&
             ticket_change(next, c, ticket_now_ms(), event, sizeof event, &r.err);
    if (ok && desk.durable) /* the SLA's clock follows the change (sla.h) */
        sla_follow(&desk.sla, &w->t, next, next->updated_at);
    if (ok && chosen.name[0] && desk.durable) {
        /* The history says which policy chose the agent, and why (in
         * memory there is no history). */
        size_t len = strlen(event);
        snprintf(event + len, sizeof event - len, " %s", chosen.why);
    }
    if (!ok) {
        r.rc = !strcmp(r.err.code, "unknown_agent") || !strcmp(r.err.code, "no_agents")
                   ? ARBOR_ENOENT
               : !strcmp(r.err.code, "unavailable") ? ARBOR_ENOPROC /* nothing was changed */
                                                    : ARBOR_EINVAL;
        return idle(act_reply(w, tag, &r));
    }
    if (desk.durable) {
        /* The notification is written with the change, in its
         * transaction: it exists if and only if the change does (the
         * outbox). In memory there is no outbox, and no notification. */
        char notice[STORE_NOTICE_SIZE] = "";
        if (ticket_changes_status(&w->t, next))
            snprintf(notice, sizeof notice, "ticket %lld is now %s", (long long)next->id,
                     ticket_status_name(next->status));
        store_event_t ev = {.by = q->by,
                            .what = event,
                            .notice = notice,
                            .message = !message                    ? STORE_NO_MESSAGE
                                       : c->action == ACTION_REPLY ? STORE_REPLY
                                                                   : STORE_NOTE,
                            .text = c->text,
                            .round_robin_turn = chosen.round_robin,
                            .request_id = q->request_id,
                            .request = {.ticket = next->id, .digest = q->digest}};
        snprintf(ev.request.what, sizeof ev.request.what, "%s", ticket_action_name(c->action));
        r.rc = store_update(next, &ev, &r.err);
    }
    if (r.rc != 0) {
        /* The Store did not confirm: the change may or may not have been
         * committed (the Store may have died after COMMIT, before its
         * reply). The worker's copy can no longer be trusted, so it stops
         * ({shutdown, _}: not restarted) and the next request starts it
         * again from what the Store holds. */
        if (tag == W_ACT)
            r.ticket = w->t;
        return arbor_gs_halt_reply(arbor_reason(ARBOR_EXIT_SHUTDOWN, "unconfirmed"), &r,
                                   act_reply_size(tag, &r));
    }
    bool due_moved = next->due_at && next->due_at != w->t.due_at;
    if (next != &w->t)
        w->t = *next; /* committed: now it is true */
    if (due_moved)
        sla_timer_notify(w->t.due_at);
    desk__announce(&w->t);
    return idle(act_reply(w, tag, &r));
}

/* Records the breach of the ticket's due time, if it is due (sla_due):
 * breached_at, a history entry and a notification, in one transaction;
 * then the ticket and sla events. Replies {rc, recorded}. */
static arbor_gs_ret_t worker_breach(worker_t *w)
{
    int reply[2] = {0, 0};
    int64_t now = ticket_now_ms();
    if (!desk.durable || !sla_due(&w->t, now))
        return idle(arbor_gs_reply(reply, sizeof reply));
    ticket_t next = w->t;
    next.breached_at = next.updated_at = now;
    char due[TICKET_TIME_SIZE], what[TICKET_EVENT_SIZE], notice[STORE_NOTICE_SIZE];
    ticket_format_time(w->t.due_at, due);
    snprintf(what, sizeof what, "SLA breached: resolution due %s", due);
    snprintf(notice, sizeof notice, "ticket %lld breached its SLA: resolution was due %s",
             (long long)next.id, due);
    store_event_t ev = {.by = {.kind = ACTOR_DESK, .name = "desk"}, .what = what, .notice = notice};
    ticket_error_t err;
    reply[0] = store_update(&next, &ev, &err);
    if (reply[0] != 0) /* unconfirmed, as a change (worker_act) */
        return arbor_gs_halt_reply(arbor_reason(ARBOR_EXIT_SHUTDOWN, "unconfirmed"), reply,
                                   sizeof reply);
    w->t = next;
    reply[1] = 1;
    desk__announce(&w->t);
    desk__announce_breach(&w->t);
    return idle(arbor_gs_reply(reply, sizeof reply));
}

/* A request carries an act_req_t up to a NUL, at least its agent's
 * (act_req_size). For an action that reads past the agent, what it does
 * not carry, up to the text's first byte, is zeros; the others read
 * nothing that was not carried. */
static bool act_request(const arbor_msg_t *req, act_req_t *q)
{
    size_t fixed = offsetof(act_req_t, change.text) + 1;
    if ((req->tag != W_ACT && req->tag != W_ACT_RC) ||
        req->size <= offsetof(act_req_t, change.agent) || req->size > sizeof *q ||
        ((const char *)req->data)[req->size - 1] != '\0')
        return false;
    memcpy(q, req->data, req->size);
    if (req->size < fixed && act_reads_past_agent(q->change.action))
        memset((char *)q + req->size, 0, fixed - req->size);
    return true;
}

static arbor_gs_ret_t worker_call(void **state, const arbor_msg_t *req, arbor_from_t from)
{
    worker_t *w = *state;
    act_req_t q;
    if (act_request(req, &q))
        return worker_act(w, &q, req->tag);
    if (req->tag == W_BREACH)
        return worker_breach(w);
    if (req->tag == W_RELOAD && desk.durable) {
        /* The Store changed the ticket behind the worker (an agent's
         * rename): take what it holds. */
        int rc = store_get(w->t.id, &w->t, NULL);
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
                                                 .format_status = worker_status,
                                                 .state_size = sizeof(worker_t)};

static int worker_start(void *arg, arbor_pid_t *pid, arbor_reason_t *err)
{
    arbor_gs_opts_t o = {.link = true};
    return arbor_gs_start(&ticket_worker, arg, &o, pid, err);
}

int desk__start_worker(const worker_arg_t *a, size_t size, arbor_pid_t *pid, arbor_reason_t *why)
{
    static _Thread_local arbor_name_cache_t ticket_sup; /* see desk_worker() */
    arbor_pid_t sup = arbor_whereis_cached(DESK_TICKET_SUP_NAME, &ticket_sup);
    if (!sup)
        return ARBOR_ENOPROC;
    arbor_child_spec_t spec = {.id = "SupportSystem.TicketWorker",
                               .start = worker_start,
                               .arg = (void *)a,
                               .arg_size = size,
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
    /* The names of the TicketRegistry and the TicketSupervisor (and of
     * the Agents, for least-loaded) are looked up for every ticket, four
     * times: each lookup is remembered (per thread) until the name table
     * changes, which a restart of any of them does (arbor_whereis_cached:
     * the same answers as arbor_whereis). */
    static _Thread_local arbor_name_cache_t registry;
    arbor_pid_t reg = arbor_whereis_cached(DESK_REGISTRY_NAME, &registry);
    if (!reg)
        return ARBOR_ENOPROC;
    for (int attempt = 0; attempt < 3; attempt++) {
        if ((*pid = arbor_registry_whereis(reg, key)))
            return 0;
        if (!desk.durable)
            return ARBOR_ENOENT; /* in memory, a ticket without a worker is gone */
        worker_arg_t a;
        int rc = desk__start_worker(&a, worker_arg_pack(&a, id, NULL), pid, NULL);
        if (rc == 0)
            return 0;
        if (rc == ARBOR_ENOPROC)
            return rc;
        /* Lost a race with another starter: look it up again. */
    }
    return ARBOR_EAGAIN;
}

int desk_worker_ticket(arbor_pid_t pid, int64_t *id)
{
    arbor_registry_key_t *keys;
    size_t n;
    int rc = arbor_registry_keys(arbor_whereis(DESK_REGISTRY_NAME), pid, &keys, &n);
    if (rc)
        return rc == ARBOR_ENOMEM ? rc : ARBOR_ENOPROC;
    rc = ARBOR_ENOENT;
    for (size_t i = 0; i < n && rc; i++) {
        /* desk__ticket_key's form: "ticket:" and the id */
        const char *k = keys[i].key;
        if (strncmp(k, "ticket:", strlen("ticket:")) != 0)
            continue;
        const char *digits = k + strlen("ticket:");
        char *end;
        long long got = strtoll(digits, &end, 10);
        if (end != digits && *end == '\0') {
            *id = got;
            rc = 0;
        }
    }
    free(keys);
    return rc;
}

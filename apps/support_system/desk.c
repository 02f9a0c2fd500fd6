/*
 * The desk's tree, and the calls the console and the web make: each goes
 * to the ticket's worker (ticket_worker.c), which the Store backs.
 */
#include "desk_internal.h"
#include "sla_timer.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

const ticket_actor_t desk_operator = {.kind = ACTOR_OPERATOR, .name = "console"};

desk_settings_t desk;

/* The roster's record of name (any case) into *a: false with err when
 * there is none (unknown_agent) or the roster cannot be read. */
static bool look_up_agent(const char *name, store_agent_t *a, ticket_error_t *err)
{
    int rc = agents_lookup(name, a, err);
    if (rc == ARBOR_EEXIT)
        return false; /* the Store could not read the roster: err says why */
    if (rc == ARBOR_ENOENT)
        return desk__refuse(err, "unknown_agent", "there is no agent called %s", name);
    if (rc) /* not an answer about the agent: the roster is being restarted */
        return desk__refuse(err, "unavailable",
                            "the roster cannot be read now (%s): the Agents process is being"
                            " restarted; nothing was changed, try again",
                            arbor_strerror(rc));
    return true;
}

bool desk_agent_known(const char *name, ticket_error_t *err)
{
    store_agent_t a;
    return look_up_agent(name, &a, err);
}

bool desk__check_agent(char name[TICKET_NAME_SIZE], ticket_error_t *err)
{
    store_agent_t a;
    if (!look_up_agent(name, &a, err))
        return false;
    if (!a.active)
        return desk__refuse(err, "agent_inactive", "agent %s is deactivated", a.name);
    memcpy(name, a.name, strlen(a.name) + 1); /* the roster's spelling */
    return true;
}

void desk__announce(const ticket_t *t)
{
    if (desk.on_change)
        desk.on_change(t);
}

void desk__announce_breach(const ticket_t *t)
{
    if (desk.on_breach)
        desk.on_breach(t);
}

void desk__ticket_key(int64_t id, char key[32])
{
    /* Every call to a ticket's worker looks it up by this key: written
     * digit by digit, not by snprintf (a sixth of the instructions of an
     * in-memory ticket went to formatting, this the largest part). */
    char digits[24];
    size_t n = 0;
    uint64_t v = id < 0 ? 0 - (uint64_t)id : (uint64_t)id;
    do
        digits[n++] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    memcpy(key, "ticket:", 7);
    size_t len = 7;
    if (id < 0)
        key[len++] = '-';
    while (n)
        key[len++] = digits[--n];
    key[len] = '\0';
}

bool desk__refuse(ticket_error_t *err, const char *code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    snprintf(err->code, sizeof err->code, "%s", code);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return false;
}

/* The error for a worker that could not serve: "the ticket's worker
 * WHAT: <rc>". */
static void unavailable(ticket_error_t *err, const char *what, int rc)
{
    snprintf(err->code, sizeof err->code, "unavailable");
    snprintf(err->message, sizeof err->message, "the ticket's worker %s: %s", what,
             arbor_strerror(rc));
}

bool desk_check_request_id(const char *id, ticket_error_t *err)
{
    size_t n = id ? strlen(id) : 0;
    bool ok = n >= 1 && n <= STORE_REQUEST_MAX;
    for (size_t i = 0; ok && i < n; i++)
        ok = id[i] >= 33 && id[i] <= 126;
    return ok || desk__refuse(err, "bad_request_id",
                              "a request id is 1 to %d visible ASCII characters (letters, digits,"
                              " punctuation; no blanks)",
                              STORE_REQUEST_MAX);
}

/* ---- request digests: the same request, the same digest (FNV-1a, 64 bits) ---------- */

static uint64_t digest_bytes(uint64_t h, const void *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        h ^= ((const unsigned char *)p)[i];
        h *= 1099511628211ULL;
    }
    return h;
}

/* A string with its NUL, so that "ab","c" and "a","bc" differ. */
static uint64_t digest_text(uint64_t h, const char *s)
{
    return digest_bytes(h, s, strlen(s) + 1);
}

static uint64_t digest_int(uint64_t h, int64_t v)
{
    return digest_bytes(h, &v, sizeof v);
}

static uint64_t digest_actor(uint64_t h, const ticket_actor_t *by)
{
    return digest_text(digest_int(h, by->kind), by->name);
}

/* A create's digest: what it makes, and who. */
static int64_t create_digest(const ticket_t *t, const ticket_actor_t *by)
{
    uint64_t h = digest_text(14695981039346656037ULL, "create");
    h = digest_text(digest_text(h, t->description), t->customer);
    return (int64_t)digest_actor(digest_int(h, t->priority), by);
}

/* A change's digest: its ticket, action, every field, and who. The version
 * it expects is a condition, not part of the change: left out. */
static int64_t change_digest(int64_t id, const act_req_t *q)
{
    const ticket_change_t *c = &q->change;
    uint64_t h = digest_int(digest_text(14695981039346656037ULL, "change"), id);
    h = digest_int(h, c->action);
    h = digest_text(digest_text(h, c->agent), c->reason);
    h = digest_int(h, c->set_description * 4 + c->set_customer * 2 + c->set_priority);
    h = digest_text(digest_text(h, c->description), c->customer);
    h = digest_text(digest_int(h, c->priority), c->text);
    return (int64_t)digest_actor(h, &q->by);
}

/* A roster change's digest: what it is, the agent, the new name or the
 * flags, and who. */
static int64_t roster_digest(const char *what, const char *name, const char *new_name, int active,
                             int available, const ticket_actor_t *by)
{
    uint64_t h = digest_text(digest_text(14695981039346656037ULL, what), name);
    h = digest_int(digest_text(h, new_name), active);
    return (int64_t)digest_actor(digest_int(h, available), by);
}

/* once's request id for a roster change (digest): the Store's form of it,
 * in *store; false with err when it is not a request id. *to is NULL
 * without one. */
static bool roster_once(desk_once_t *once, int64_t digest, store_once_t *store, store_once_t **to,
                        ticket_error_t *err)
{
    *to = NULL;
    if (once)
        once->replayed = false;
    if (!once || !once->request_id || !once->request_id[0])
        return true;
    if (!desk_check_request_id(once->request_id, err))
        return false;
    *store = (store_once_t){.request_id = once->request_id, .digest = digest};
    *to = store;
    return true;
}

/* May by create t? A customer must be the ticket's (an agent is checked
 * on the roster: desk__check_agent). */
static bool may_create(const ticket_t *t, const ticket_actor_t *by, ticket_error_t *err)
{
    if (!ticket_check_actor(by, err))
        return false;
    if (by->kind == ACTOR_CUSTOMER && strcmp(by->name, t->customer) != 0)
        return desk__refuse(err, "forbidden", "%s is not this ticket's customer", by->name);
    return true;
}

int desk_create(ticket_t *t, const ticket_actor_t *by, arbor_pid_t *worker, ticket_error_t *err)
{
    return desk_create_once(t, by, NULL, worker, err);
}

int desk_create_once(ticket_t *t, const ticket_actor_t *by, desk_once_t *once, arbor_pid_t *worker,
                     ticket_error_t *err)
{
    const char *request_id =
        once && once->request_id && once->request_id[0] ? once->request_id : NULL;
    if (once)
        once->replayed = false;
    if (request_id && !desk_check_request_id(request_id, err))
        return ARBOR_EINVAL;
    ticket_actor_t actor; /* an agent's, spelled as on the roster; copied only then */
    if (by->kind == ACTOR_AGENT) {
        actor = *by;
        by = &actor;
    }
    if (!ticket_check_text("description", t->description, TICKET_DESC_MAX, false, err) ||
        !ticket_check_name("customer", t->customer, true, err) ||
        (unsigned)t->priority > PRIORITY_URGENT || !may_create(t, by, err) ||
        (by == &actor && !desk__check_agent(actor.name, err)))
        return ARBOR_EINVAL;
    t->status = TICKET_OPEN;
    t->agent[0] = '\0';
    t->created_at = t->updated_at = ticket_now_ms();
    t->due_at = t->sla_left_ms = t->breached_at = 0;
    t->sla_paused = false;
    arbor_pid_t pid;
    if (!desk.durable) {
        t->id = atomic_fetch_add(&desk.last_id, 1) + 1;
        worker_arg_t a;
        int rc = desk__start_worker(&a, worker_arg_pack(&a, t->id, t), &pid, NULL);
        if (rc) {
            unavailable(err, "did not start", rc);
            return rc;
        }
        if (worker)
            *worker = pid;
        desk__announce(t);
        return 0;
    }
    sla_start(&desk.sla, t, t->created_at);
    bool replayed = false;
    int rc = request_id ? store_create_once(t, by, request_id, create_digest(t, by), &replayed, err)
                        : store_create(t, by, err);
    if (rc)
        return rc;
    if (once)
        once->replayed = replayed;
    if (!replayed) {
        sla_timer_notify(t->due_at);
        desk__announce(t);
    }
    rc = desk_worker(t->id, &pid);
    if (worker)
        *worker = rc ? ARBOR_NOPID : pid;
    return 0; /* stored: the worker starts on demand if it could not now */
}

int ticket_supervisor_create_ticket(ticket_t *t, arbor_pid_t *worker, ticket_error_t *err)
{
    return desk_create(t, &desk_operator, worker, err);
}

static void no_such_ticket(int64_t id, ticket_error_t *err)
{
    snprintf(err->code, sizeof err->code, "unknown_ticket");
    snprintf(err->message, sizeof err->message, "there is no ticket %lld", (long long)id);
}

static bool stopped_for(const arbor_reason_t *why, const char *detail)
{
    return why->kind == ARBOR_EXIT_SHUTDOWN && strcmp(why->detail, detail) == 0;
}

/* Whether a worker that ended with why had not begun the request that
 * was waiting in its mailbox: it stopped idle (normal: only ever with an
 * empty mailbox, the request arriving just after), having answered the
 * request it was serving (unconfirmed), or before it loaded its ticket
 * (not_loaded). Any other end (a crash, a kill, its supervisor's
 * shutdown) may have come in the middle of the request. */
static bool ended_before_request(const arbor_reason_t *why)
{
    return why->kind == ARBOR_EXIT_NORMAL ||
           (why->kind == ARBOR_EXIT_SHUTDOWN &&
            (strcmp(why->detail, "unconfirmed") == 0 || strcmp(why->detail, "not_loaded") == 0));
}

/* The worker of a ticket the Store could not read stopped {shutdown,
 * not_loaded} (ticket_worker.c), and so did the one started again. */
#define STORE_FAILED 1

/* A call to ticket id's worker, retried once if the worker stopped
 * between the lookup and the call without serving it (or, for a read,
 * whenever it died). ARBOR_ENOENT: no such ticket (the worker started for
 * it found none); STORE_FAILED: the last worker could not load it (the
 * request was not begun). *unserved: the last call's worker ended without
 * beginning the request (or there was none to send it to). */
static int worker_call_by_id(int64_t id, uint64_t tag, const void *req, size_t size,
                             arbor_msg_t **reply, bool *unserved)
{
    int rc = ARBOR_ENOPROC;
    bool again = true, load_failed = false;
    *unserved = true;
    for (int attempt = 0; attempt < 2 && again; attempt++) {
        arbor_pid_t pid;
        arbor_reason_t why;
        if ((rc = desk_worker(id, &pid)))
            return rc;
        rc = arbor_gs_call(pid, tag, req, size, store_call_timeout_ms(), reply, &why);
        if (rc == ARBOR_EEXIT && stopped_for(&why, "not_found"))
            return ARBOR_ENOENT;
        *unserved = rc == ARBOR_ENOPROC || (rc == ARBOR_EEXIT && ended_before_request(&why));
        again = *unserved || (rc == ARBOR_EEXIT && tag != W_ACT && tag != W_ACT_RC);
        load_failed = rc == ARBOR_EEXIT && stopped_for(&why, "not_loaded");
    }
    /* A worker that cannot load its ticket stops as soon as the Store
     * says so: {shutdown, not_found} for a ticket that does not exist,
     * not_loaded when the Store refuses the read (a damaged file). When
     * that is before the call reaches it (a busy machine), the call finds
     * no process and the reason is lost. Ask the Store, which knows. */
    ticket_t probe;
    if (rc == ARBOR_ENOPROC && *unserved && desk.durable) {
        int read = store_get(id, &probe, NULL);
        if (read == ARBOR_ENOENT)
            return ARBOR_ENOENT;
        if (read == ARBOR_EEXIT)
            return STORE_FAILED;
    }
    return load_failed ? STORE_FAILED : rc;
}

/* After a worker could not load ticket id: the Store's own answer, read
 * again (the worker's exit reason has no room for its message). 0 with
 * *out when it can read it this time; ARBOR_EEXIT with SQLite's reason in
 * err (store_error, store_damaged); ARBOR_ENOENT; or another error (a
 * timeout: the Store is slow, not failing), err left to the caller. */
static int store_reason(int64_t id, ticket_t *out, ticket_error_t *err)
{
    ticket_error_t why = {.code = ""};
    int rc = store_get(id, out, &why);
    if (rc == ARBOR_EEXIT)
        *err = why;
    else if (rc == ARBOR_ENOENT)
        no_such_ticket(id, err);
    return rc;
}

/* Sends q to ticket id's worker and answers as desk_change. */
/* Sends the request q, size bytes of an act_req_t (act_req_size()). */
static int send_change(int64_t id, const void *q, size_t size, ticket_t *out, bool *replayed,
                       ticket_error_t *err)
{
    arbor_msg_t *m;
    /* Without out, the worker answers only how it went (W_ACT_RC), not the
     * ticket: 8 bytes instead of 1.7 KB on success. */
    uint64_t tag = out ? W_ACT : W_ACT_RC;
    bool unserved;
    int rc = worker_call_by_id(id, tag, q, size, &m, &unserved);
    if (rc == ARBOR_ENOENT) {
        no_such_ticket(id, err);
        return rc;
    }
    if (rc == STORE_FAILED) {
        /* Not begun: nothing was changed. Why, from the Store when it can
         * say; else (read this time, or slow) a refusal to retry, below. */
        ticket_t t;
        rc = store_reason(id, &t, err);
        if (rc == ARBOR_EEXIT || rc == ARBOR_ENOENT)
            return rc;
        rc = ARBOR_EEXIT;
    }
    if (rc && !unserved && (rc == ARBOR_ETIMEDOUT || rc == ARBOR_EEXIT)) {
        /* The worker had the change and did not answer: it may have been
         * committed or not. */
        snprintf(err->code, sizeof err->code, "outcome_unknown");
        snprintf(err->message, sizeof err->message,
                 "ticket %lld's worker %s: the change may or may not have been made", (long long)id,
                 rc == ARBOR_ETIMEDOUT ? "did not answer in time" : "stopped before answering");
        return rc;
    }
    if (rc) {
        snprintf(err->code, sizeof err->code, "unavailable");
        snprintf(err->message, sizeof err->message,
                 "ticket %lld's worker stopped before it took this request (%s); retry it",
                 (long long)id, arbor_strerror(rc));
        return rc;
    }
    const act_reply_t *r = m->data;
    rc = r->rc;
    if (rc)
        *err = r->err;
    if (out)
        *out = r->ticket;
    if (replayed)
        *replayed = r->replayed;
    arbor_msg_free(m);
    return rc;
}

/* A request for action by by, the rest of its change empty, in process
 * memory; arbor_free() it. Its block ends text_room bytes into the
 * change's text (1 to TICKET_TEXT_SIZE): what the text will hold, with
 * its NUL. A change without text (assign, resolve, the most) thus takes
 * about 1.8 KB, not the 10 KB of the whole act_req_t, which nothing
 * reads past the text's NUL (act_req_size, change_digest). NULL when out
 * of memory (err says so). */
static act_req_t *new_request(ticket_action_t action, const ticket_actor_t *by, size_t text_room,
                              ticket_error_t *err)
{
    act_req_t *q = arbor_alloc(offsetof(act_req_t, change.text) + text_room);
    if (!q) {
        unavailable(err, "was not asked", ARBOR_ENOMEM);
        return NULL;
    }
    memset(q, 0, offsetof(act_req_t, change.text) + 1); /* request_id "" */
    q->by = by ? *by : (ticket_actor_t){.kind = ACTOR_DESK, .name = "desk"};
    q->expected = -1;
    q->change.action = action;
    return q;
}

int desk_change(int64_t id, const ticket_change_t *c, const ticket_actor_t *by, ticket_t *out,
                ticket_error_t *err)
{
    return desk_change_if(id, -1, c, by, out, err);
}

int desk_change_if(int64_t id, int64_t expected, const ticket_change_t *c, const ticket_actor_t *by,
                   ticket_t *out, ticket_error_t *err)
{
    return desk_change_once(id, expected, c, by, NULL, out, err);
}

int desk_change_once(int64_t id, int64_t expected, const ticket_change_t *c,
                     const ticket_actor_t *by, desk_once_t *once, ticket_t *out,
                     ticket_error_t *err)
{
    const char *request_id =
        once && once->request_id && once->request_id[0] ? once->request_id : NULL;
    if (once)
        once->replayed = false;
    if (request_id && !desk_check_request_id(request_id, err))
        return ARBOR_EINVAL;
    size_t size = ticket_change_size(c);
    act_req_t *q = new_request(c->action, by, size - offsetof(ticket_change_t, text), err);
    if (!q)
        return ARBOR_ENOMEM;
    q->expected = expected;
    memcpy(&q->change, c, size);
    if (request_id) {
        snprintf(q->request_id, sizeof q->request_id, "%s", request_id);
        q->digest = change_digest(id, q);
    }
    int rc = send_change(id, q, act_req_size(q), out, once ? &once->replayed : NULL, err);
    arbor_free(q);
    return rc;
}

int desk_act(int64_t id, ticket_action_t action, const char *agent, const ticket_actor_t *by,
             ticket_t *out, ticket_error_t *err)
{
    if (agent && strlen(agent) >= TICKET_NAME_SIZE) {
        desk__refuse(err, "field_too_long", "agent is longer than %d characters", TICKET_NAME_MAX);
        return ARBOR_EINVAL;
    }
    size_t agent_size = agent ? strlen(agent) + 1 : 1;
    if (!act_reads_past_agent(action)) {
        /* All but close: the request is carried only up to the agent, so
         * it is made on this stack (act_req_head_t), not as a 10 KB
         * act_req_t in process memory (assign and resolve: 900
         * instructions of a ticket_workflow ticket's 32,700 were that
         * block's malloc and free). */
        act_req_head_t h;
        memset(&h, 0, sizeof h); /* request_id "" */
        h.by = by ? *by : (ticket_actor_t){.kind = ACTOR_DESK, .name = "desk"};
        h.expected = -1;
        h.action = action;
        if (agent)
            memcpy(h.agent, agent, agent_size); /* fits: checked above */
        return send_change(id, &h, offsetof(act_req_head_t, agent) + agent_size, out, NULL, err);
    }
    act_req_t *q = new_request(action, by, 1, err); /* no text: its NUL alone */
    if (!q)
        return ARBOR_ENOMEM;
    if (agent)
        memcpy(q->change.agent, agent, agent_size); /* fits: checked above */
    int rc = send_change(id, q, act_req_size(q), out, NULL, err);
    arbor_free(q);
    return rc;
}

int desk_close(int64_t id, const char *reason, const ticket_actor_t *by, ticket_t *out,
               ticket_error_t *err)
{
    act_req_t *q = new_request(ACTION_CLOSE, by, 1, err);
    if (!q)
        return ARBOR_ENOMEM;
    int rc = ARBOR_EINVAL;
    if (reason && strlen(reason) >= sizeof q->change.reason)
        desk__refuse(err, "field_too_long", "reason is longer than %d characters", TICKET_NAME_MAX);
    else {
        snprintf(q->change.reason, sizeof q->change.reason, "%s", reason ? reason : "");
        rc = send_change(id, q, act_req_size(q), out, NULL, err);
    }
    arbor_free(q);
    return rc;
}

int desk_post(int64_t id, store_message_kind_t kind, const char *text, const ticket_actor_t *by,
              ticket_t *out, ticket_error_t *err)
{
    act_req_t *q =
        new_request(kind == STORE_NOTE ? ACTION_NOTE : ACTION_REPLY, by, TICKET_TEXT_SIZE, err);
    if (!q)
        return ARBOR_ENOMEM;
    int rc = ARBOR_EINVAL;
    if (kind == STORE_NO_MESSAGE)
        desk__refuse(err, "bad_argument", "a post is a reply or a note");
    else if (text && strlen(text) >= sizeof q->change.text)
        desk__refuse(err, "field_too_long", "text is longer than %d characters", TICKET_TEXT_MAX);
    else {
        snprintf(q->change.text, sizeof q->change.text, "%s", text ? text : "");
        rc = send_change(id, q, act_req_size(q), out, NULL, err);
    }
    arbor_free(q);
    return rc;
}

int assign_agent(int64_t id, const char *agent, ticket_t *out, ticket_error_t *err)
{
    return desk_act(id, ACTION_ASSIGN, agent, &desk_operator, out, err);
}

int resolve(int64_t id, ticket_t *out, ticket_error_t *err)
{
    return desk_act(id, ACTION_RESOLVE, NULL, &desk_operator, out, err);
}

/* Has the worker of ticket id, if one runs, take the ticket from the
 * Store again. */
static void reload_worker(int64_t id)
{
    char key[32];
    desk__ticket_key(id, key);
    arbor_pid_t reg = arbor_whereis(DESK_REGISTRY_NAME), pid;
    arbor_msg_t *m;
    if (reg && (pid = arbor_registry_whereis(reg, key)) &&
        arbor_gs_call(pid, W_RELOAD, NULL, 0, 30000, &m, NULL) == 0)
        arbor_msg_free(m);
}

/* The tickets of agent with status s, appended to *all (*n of them). */
static int append_tickets(const char *agent, ticket_status_t s, ticket_t **all, size_t *n)
{
    ticket_t *rows;
    size_t k;
    int rc = store_list(&s, agent, SIZE_MAX / 2, &rows, &k);
    if (rc)
        return rc;
    ticket_t *more = realloc(*all, (*n + k + 1) * sizeof *more);
    if (!more) {
        free(rows);
        return ARBOR_ENOMEM;
    }
    memcpy(more + *n, rows, k * sizeof *rows);
    free(rows);
    *all = more;
    *n += k;
    return 0;
}

int desk_agent_add(const char *name, const char *extra, desk_once_t *once, ticket_error_t *err)
{
    store_once_t store, *to;
    int64_t digest = roster_digest("agent-add", name, extra ? extra : "", -1, -1, &desk_operator);
    if (!roster_once(once, digest, &store, &to, err))
        return ARBOR_EINVAL;
    int rc = agents_add_once(name, to, err);
    if (!rc && to)
        once->replayed = to->replayed;
    return rc;
}

int desk_agent_set(const char *name, int active, int available, desk_once_t *once,
                   ticket_error_t *err)
{
    store_once_t store, *to;
    if (!roster_once(once, roster_digest("agent-set", name, "", active, available, &desk_operator),
                     &store, &to, err))
        return ARBOR_EINVAL;
    int rc = agents_set_once(name, active, available, to, err);
    if (!rc && to)
        once->replayed = to->replayed;
    return rc;
}

int desk_agent_rename(const char *from, const char *to, const ticket_actor_t *by,
                      ticket_error_t *err)
{
    return desk_agent_rename_once(from, to, by, NULL, err);
}

int desk_agent_rename_once(const char *from, const char *to, const ticket_actor_t *by,
                           desk_once_t *once, ticket_error_t *err)
{
    store_once_t store, *req;
    if (!roster_once(once, roster_digest("agent-rename", from, to, -1, -1, by), &store, &req, err))
        return ARBOR_EINVAL;
    int rc = agents_rename_once(from, to, by, req, err);
    if (rc)
        return rc;
    if (req)
        once->replayed = req->replayed;
    /* Every ticket that names the agent was changed in the Store: a
     * running worker's copy is stale (a change computed from it would be
     * refused as a conflict), so each reloads. */
    for (int s = 0; s < TICKET_STATUSES; s++) {
        ticket_t *rows = NULL;
        size_t n = 0;
        if (append_tickets(to, (ticket_status_t)s, &rows, &n) == 0)
            for (size_t i = 0; i < n; i++)
                reload_worker(rows[i].id);
        free(rows);
    }
    return 0;
}

int desk_agent_deactivate(const char *name, ticket_t **open, size_t *n, ticket_error_t *err)
{
    return desk_agent_deactivate_once(name, NULL, open, n, err);
}

int desk_agent_deactivate_once(const char *name, desk_once_t *once, ticket_t **open, size_t *n,
                               ticket_error_t *err)
{
    *open = NULL;
    *n = 0;
    int rc = desk_agent_set(name, 0, -1, once, err);
    if (rc || !desk.durable)
        return rc;
    if (append_tickets(name, TICKET_ASSIGNED, open, n) != 0 ||
        append_tickets(name, TICKET_PENDING, open, n) != 0) {
        /* Deactivated all the same: only the list is missing. */
        free(*open);
        *open = NULL;
        *n = 0;
    }
    return 0;
}

int desk__breach(int64_t id, bool *recorded)
{
    arbor_msg_t *m;
    bool unserved; /* a retried breach is recorded once all the same (sla_due) */
    int rc = worker_call_by_id(id, W_BREACH, NULL, 0, &m, &unserved);
    if (rc)
        return rc;
    int reply[2];
    memcpy(reply, m->data, sizeof reply);
    arbor_msg_free(m);
    *recorded = reply[1] != 0;
    return reply[0];
}

int desk_get(int64_t id, ticket_t *out, ticket_error_t *err)
{
    ticket_error_t ignored;
    if (!err)
        err = &ignored;
    arbor_msg_t *m;
    bool unserved;
    int rc = worker_call_by_id(id, W_GET, NULL, 0, &m, &unserved);
    if (rc == STORE_FAILED) {
        /* Read again: the ticket this time, or the Store's reason (err). */
        rc = store_reason(id, out, err);
        if (rc == 0 || rc == ARBOR_EEXIT || rc == ARBOR_ENOENT)
            return rc;
    }
    if (rc == ARBOR_ENOENT)
        no_such_ticket(id, err);
    else if (rc)
        unavailable(err, "did not answer", rc);
    if (rc)
        return rc;
    *out = *(const ticket_t *)m->data;
    arbor_msg_free(m);
    return 0;
}

/* ---- one desk per database ------------------------------------------------------------ */

int desk_lock(const char *db_path, char *why, size_t size)
{
    char path[4200];
    if (snprintf(path, sizeof path, "%s.lock", db_path) >= (int)sizeof path) {
        snprintf(why, size, "%s: the path is too long", db_path);
        return ARBOR_EINVAL;
    }
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(why, size, "cannot open the lock file %s: %s", path, strerror(errno));
        return ARBOR_EINVAL;
    }
    /* An fcntl lock belongs to this process and goes with it, however it
     * ends: a killed desk leaves no stale lock behind. */
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    if (fcntl(fd, F_SETLK, &fl) != 0) {
        int e = errno;
        struct flock owner = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
        if ((e == EAGAIN || e == EACCES) && fcntl(fd, F_GETLK, &owner) == 0 &&
            owner.l_type != F_UNLCK)
            snprintf(why, size,
                     "%s is in use by another desk (pid %ld, lock file %s); one desk at a time"
                     " may own a database",
                     db_path, (long)owner.l_pid, path);
        else
            snprintf(why, size, "cannot lock %s: %s", path, strerror(e));
        close(fd);
        return ARBOR_EEXIST;
    }
    char pid[32];
    int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)n, 0) != n) {
        snprintf(why, size, "cannot write %s: %s", path, strerror(errno));
        close(fd);
        return ARBOR_EINVAL;
    }
    return 0; /* fd stays open, and the lock held, for the process's life */
}

/* ---- the tree ------------------------------------------------------------------------ */

static int registry_start(void *arg, arbor_pid_t *pid, arbor_reason_t *err)
{
    arbor_registry_opts_t o = {
        .name = DESK_REGISTRY_NAME, .keys = ARBOR_REGISTRY_UNIQUE, .link = true};
    return arbor_registry_start(&o, pid);
}

static int ticket_sup_start(void *arg, arbor_pid_t *pid, arbor_reason_t *err)
{
    arbor_dynsup_opts_t o = ARBOR_DYNSUP_OPTS_DEFAULT;
    o.name = DESK_TICKET_SUP_NAME;
    o.link = true;
    /* One ticket whose worker keeps crashing (a bad row, a bug in one
     * transition) must not take the others down: 1000 restarts in 5 s is
     * far beyond what a few bad tickets cause, and still ends a desk in
     * which every worker crashes at once, which is then the core's
     * failure to report (below). A storm of deliberate kills (`crash ID`
     * a thousand times a second) spends it too: the TicketSupervisor
     * gives up and is restarted with what follows it, and a fourth time
     * within 5 s ends the desk (exit status 3). That is kept: such a storm
     * is indistinguishable from a bug that crashes every worker, and
     * while it lasts every answer stays true (a ticket whose worker is
     * being restarted is "unavailable", never "no such ticket"). */
    o.max_restarts = DESK_TICKET_MAX_RESTARTS;
    o.max_seconds = DESK_TICKET_MAX_SECONDS;
    return arbor_dynsup_start(&o, pid, err);
}

/* --demo: alice and bob, into a roster that is empty (so that an agent
 * renamed or deactivated is not brought back by the next start). */
static void seed_demo_agents(void)
{
    store_agent_t *list;
    size_t n;
    if (agents_list(&list, &n, NULL) != 0)
        return;
    free(list);
    ticket_error_t err;
    if (n == 0 && agents_add("alice", &err) == 0)
        agents_add("bob", &err);
}

bool desk_outside_tree(arbor_pid_t pid, const char **what)
{
    const char *which = !pid                                              ? NULL
                        : pid == arbor_whereis(DESK_CONSOLE_NAME)         ? "the console"
                        : pid == arbor_whereis(DESK_CONSOLE_WATCHER_NAME) ? "the console's watcher"
                                                                          : NULL;
    if (which && what)
        *what = which;
    return which != NULL;
}

int desk_start(const desk_config_t *cfg, arbor_pid_t *sup, arbor_reason_t *err)
{
    if (!cfg->db_path && cfg->policy == POLICY_LEAST_LOADED) {
        if (err)
            *err = arbor_error("least-loaded assignment needs the Store");
        return ARBOR_EINVAL;
    }
    if (cfg->log_path && strlen(cfg->log_path) >= sizeof desk.log_path) {
        if (err)
            *err = arbor_error("log path too long");
        return ARBOR_EINVAL;
    }
    desk.durable = cfg->db_path != NULL;
    desk.idle_ms = cfg->idle_timeout_ms > 0 ? cfg->idle_timeout_ms : 60000;
    snprintf(desk.log_path, sizeof desk.log_path, "%s", cfg->log_path ? cfg->log_path : "");
    atomic_store(&desk.last_id, 0);
    desk.on_change = cfg->on_change;
    desk.on_breach = cfg->on_breach;
    desk.sla = cfg->sla ? *cfg->sla : sla_default_policy;
    agents_config_t agents = {.policy = cfg->policy, .durable = desk.durable};
    /* The Notifier copies the sink; the log sink's path lives in desk. */
    notifier_sink_t sink = {0};
    if (cfg->sink)
        sink = *cfg->sink;
    else if (desk.log_path[0])
        sink =
            (notifier_sink_t){.name = "log", .deliver = notifier_log_deliver, .ctx = desk.log_path};
    arbor_child_spec_t all[] = {
        {.id = "Store",
         .start = store_start,
         .arg = (void *)cfg->db_path,
         .arg_size = cfg->db_path ? strlen(cfg->db_path) + 1 : 0},
        {.id = "TicketRegistry", .start = registry_start},
        {.id = "Agents", .start = agents_start, .arg = &agents, .arg_size = sizeof agents},
        {.id = "TicketSupervisor", .start = ticket_sup_start, .type = ARBOR_SUPERVISOR_CHILD},
        /* It reads the Store's outbox, and nothing depends on it. */
        {.id = "Notifier",
         .start = notifier_start,
         .arg = &sink,
         .arg_size = sizeof sink,
         .type = ARBOR_SUPERVISOR_CHILD},
        /* It records breaches through the Store and the tickets' workers,
         * so it comes after them (a restart of the Store restarts it, and
         * it finds the next due time again); nothing depends on it, and
         * its supervisor never gives up (sla_timer.c), so it never
         * restarts the Web after it, nor spends the core's intensity. */
        {.id = "Sla", .start = sla_timer_start, .type = ARBOR_SUPERVISOR_CHILD},
        /* Last of all: the web serves what all the others do. */
        {.id = "Web", .start = cfg->web_start, .arg = cfg->web_arg, .type = ARBOR_SUPERVISOR_CHILD},
    };
    /* In memory there is no Store, no outbox to deliver and no SLA; without a web
     * configured, the console alone. */
    arbor_child_spec_t children[sizeof all / sizeof all[0]];
    size_t n = 0;
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        const char *id = all[i].id;
        bool wanted =
            strcmp(id, "Web") == 0 ? cfg->web_start != NULL
            : strcmp(id, "Store") == 0 || strcmp(id, "Notifier") == 0 || strcmp(id, "Sla") == 0
                ? desk.durable
                : true;
        if (wanted)
            children[n++] = all[i];
    }
    /* The core's restart intensity: Elixir's default, 3 restarts in 5 s.
     * The core is the Store and what depends on it; if it cannot stay up
     * (the disk is gone, the file is damaged, a bug on every request), the
     * desk gives up, as OTP intends, and the program exits non-zero for
     * its own supervisor (systemd) to restart or for an operator to see.
     * Nothing below can spend this budget by failing on its own: the
     * TicketSupervisor allows 1000 worker restarts in 5 s, and the
     * Notifier never gives up (notifier.c), so neither a bad ticket nor a
     * failing notification sink stops the desk. */
    arbor_sup_flags_t flags = {.strategy = ARBOR_REST_FOR_ONE,
                               .max_restarts = DESK_MAX_RESTARTS,
                               .max_seconds = DESK_MAX_SECONDS};
    arbor_sup_opts_t o = {.name = DESK_SUPERVISOR_NAME, .link = true};
    int rc = arbor_sup_start(&flags, children, n, &o, sup, err);
    if (rc == 0 && cfg->demo && desk.durable)
        seed_demo_agents();
    return rc;
}

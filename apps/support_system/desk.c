/*
 * The desk's tree and its TicketWorker.
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
#include "desk.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { W_GET = 1, W_ACT, W_RELOAD };

const ticket_actor_t desk_operator = {.kind = ACTOR_OPERATOR, .name = "console"};

/* A change and who makes it. The change comes last, and a request carries
 * it only up to its text's NUL (act_req_size). */
typedef struct {
    ticket_actor_t by;
    ticket_change_t change;
} act_req_t;

static size_t act_req_size(const act_req_t *q)
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

typedef struct {
    ticket_t t;
} worker_t;

/* The running desk's settings (one desk per runtime; desk_start sets them). */
static struct {
    bool durable;
    int64_t idle_ms;
    char log_path[4096];     /* "" = no log */
    _Atomic int64_t last_id; /* in-memory mode's ids */
} desk;

static void ticket_key(int64_t id, char key[32])
{
    snprintf(key, 32, "ticket:%lld", (long long)id);
}

/* ---- the TicketWorker ---------------------------------------------------------------- */

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
    ticket_key(a->id, key);
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

/* Fills err with code and the formatted sentence; returns false. */
__attribute__((format(printf, 3, 4))) static bool refuse(ticket_error_t *err, const char *code,
                                                         const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    snprintf(err->code, sizeof err->code, "%s", code);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return false;
}

/* An agent that may be given a ticket, or act: on the roster and active. */
static bool check_agent(const char *name, ticket_error_t *err)
{
    store_agent_t a;
    if (agents_lookup(name, &a) != 0)
        return refuse(err, "unknown_agent", "there is no agent called %s", name);
    if (!a.active)
        return refuse(err, "agent_inactive", "agent %s is deactivated", name);
    return true;
}

/* May by make change c to t? */
static bool check_actor(const ticket_t *t, const ticket_actor_t *by, const ticket_change_t *c,
                        ticket_error_t *err)
{
    if (!ticket_check_actor(by, err))
        return false;
    if (by->kind == ACTOR_AGENT)
        return check_agent(by->name, err);
    if (by->kind != ACTOR_CUSTOMER)
        return true;
    if (!t->customer[0] || strcmp(by->name, t->customer) != 0)
        return refuse(err, "forbidden", "%s is not this ticket's customer", by->name);
    if (c->action != ACTION_REPLY)
        return refuse(err, "forbidden", "a customer may only reply to a ticket (%s)",
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
    if (!c->agent[0] && assigning && agents_pick(c->agent) != 0)
        return refuse(err, "no_agents", "there is no agent to assign");
    return !c->agent[0] || check_agent(c->agent, err);
}

/* Checks and applies q to a copy of the worker's ticket, has the Store
 * commit it (durable), and only then adopts it. */
static arbor_gs_ret_t worker_act(worker_t *w, act_req_t *q)
{
    act_reply_t r = {.ticket = w->t};
    ticket_change_t *c = &q->change;
    ticket_t next = w->t;
    char event[TICKET_EVENT_SIZE];
    bool message = c->action == ACTION_REPLY || c->action == ACTION_NOTE, ok;
    if (message && !desk.durable)
        ok = refuse(&r.err, "no_store", "the in-memory desk keeps no conversation");
    else
        ok = check_actor(&w->t, &q->by, c, &r.err) && choose_agent(&w->t, c, &r.err) &&
             ticket_change(&next, c, ticket_now_ms(), event, sizeof event, &r.err);
    if (!ok) {
        r.rc = !strcmp(r.err.code, "unknown_agent") || !strcmp(r.err.code, "no_agents")
                   ? ARBOR_ENOENT
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

/* Starts the worker of a under the TicketSupervisor. */
static int start_worker(const worker_arg_t *a, arbor_pid_t *pid, arbor_reason_t *why)
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

int desk_worker(int64_t id, arbor_pid_t *pid)
{
    char key[32];
    ticket_key(id, key);
    arbor_pid_t reg = arbor_whereis(DESK_REGISTRY_NAME);
    if (!reg)
        return ARBOR_ENOPROC;
    for (int attempt = 0; attempt < 3; attempt++) {
        if ((*pid = arbor_registry_whereis(reg, key)))
            return 0;
        if (!desk.durable)
            return ARBOR_ENOENT; /* in memory, a ticket without a worker is gone */
        worker_arg_t a = {.id = id};
        int rc = start_worker(&a, pid, NULL);
        if (rc == 0)
            return 0;
        if (rc == ARBOR_ENOPROC)
            return rc;
        /* Lost a race with another starter: look it up again. */
    }
    return ARBOR_EAGAIN;
}

/* The error for a worker that could not serve: "the ticket's worker
 * WHAT: <rc>". */
static void unavailable(ticket_error_t *err, const char *what, int rc)
{
    snprintf(err->code, sizeof err->code, "unavailable");
    snprintf(err->message, sizeof err->message, "the ticket's worker %s: %s", what,
             arbor_strerror(rc));
}

/* May by create t? An agent must be on the roster and active, a
 * customer must be the ticket's. */
static bool may_create(const ticket_t *t, const ticket_actor_t *by, ticket_error_t *err)
{
    if (!ticket_check_actor(by, err))
        return false;
    if (by->kind == ACTOR_AGENT)
        return check_agent(by->name, err);
    if (by->kind == ACTOR_CUSTOMER && strcmp(by->name, t->customer) != 0)
        return refuse(err, "forbidden", "%s is not this ticket's customer", by->name);
    return true;
}

int desk_create(ticket_t *t, const ticket_actor_t *by, arbor_pid_t *worker, ticket_error_t *err)
{
    if (!ticket_check_text("description", t->description, TICKET_DESC_MAX, false, err) ||
        !ticket_check_text("customer", t->customer, TICKET_NAME_MAX, true, err) ||
        (unsigned)t->priority > PRIORITY_URGENT || !may_create(t, by, err))
        return ARBOR_EINVAL;
    t->status = TICKET_OPEN;
    t->agent[0] = '\0';
    t->created_at = t->updated_at = ticket_now_ms();
    arbor_pid_t pid;
    if (!desk.durable) {
        t->id = atomic_fetch_add(&desk.last_id, 1) + 1;
        worker_arg_t a = {.id = t->id, .ticket = *t};
        int rc = start_worker(&a, &pid, NULL);
        if (rc) {
            unavailable(err, "did not start", rc);
            return rc;
        }
        if (worker)
            *worker = pid;
        return 0;
    }
    int rc = store_create(t, by, err);
    if (rc)
        return rc;
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

static bool not_found(const arbor_reason_t *why)
{
    return why->kind == ARBOR_EXIT_SHUTDOWN && strcmp(why->detail, "not_found") == 0;
}

/* A call to ticket id's worker, retried once if the worker stopped (idle)
 * between the lookup and the call. ARBOR_ENOENT: no such ticket (the
 * worker started for it found none). */
static int worker_call_by_id(int64_t id, uint64_t tag, const void *req, size_t size,
                             arbor_msg_t **reply)
{
    int rc = ARBOR_ENOPROC;
    for (int attempt = 0; attempt < 2 && (rc == ARBOR_ENOPROC || rc == ARBOR_EEXIT); attempt++) {
        arbor_pid_t pid;
        arbor_reason_t why;
        if ((rc = desk_worker(id, &pid)))
            return rc;
        rc = arbor_gs_call(pid, tag, req, size, 30000, reply, &why);
        if (rc == ARBOR_EEXIT && not_found(&why))
            return ARBOR_ENOENT;
    }
    return rc;
}

/* Sends q to ticket id's worker and answers as desk_change. */
static int send_change(int64_t id, const act_req_t *q, ticket_t *out, ticket_error_t *err)
{
    arbor_msg_t *m;
    int rc = worker_call_by_id(id, W_ACT, q, act_req_size(q), &m);
    if (rc == ARBOR_ENOENT) {
        no_such_ticket(id, err);
        return rc;
    }
    if (rc) {
        unavailable(err, "did not answer", rc);
        return rc;
    }
    act_reply_t r = *(const act_reply_t *)m->data;
    arbor_msg_free(m);
    if (r.rc)
        *err = r.err;
    if (out)
        *out = r.ticket;
    return r.rc;
}

/* A request for action by by, the rest of its change empty, in process
 * memory (the text alone is 8 KB: too much for a caller's stack frame);
 * arbor_free() it. NULL when out of memory (err says so). */
static act_req_t *new_request(ticket_action_t action, const ticket_actor_t *by, ticket_error_t *err)
{
    act_req_t *q = arbor_alloc(sizeof *q);
    if (!q) {
        unavailable(err, "was not asked", ARBOR_ENOMEM);
        return NULL;
    }
    memset(q, 0, offsetof(act_req_t, change.text) + 1);
    q->by = by ? *by : (ticket_actor_t){.kind = ACTOR_DESK, .name = "desk"};
    q->change.action = action;
    return q;
}

int desk_change(int64_t id, const ticket_change_t *c, const ticket_actor_t *by, ticket_t *out,
                ticket_error_t *err)
{
    act_req_t *q = new_request(c->action, by, err);
    if (!q)
        return ARBOR_ENOMEM;
    memcpy(&q->change, c, ticket_change_size(c));
    int rc = send_change(id, q, out, err);
    arbor_free(q);
    return rc;
}

int desk_act(int64_t id, ticket_action_t action, const char *agent, const ticket_actor_t *by,
             ticket_t *out, ticket_error_t *err)
{
    act_req_t *q = new_request(action, by, err);
    if (!q)
        return ARBOR_ENOMEM;
    int rc = ARBOR_EINVAL;
    if (agent && strlen(agent) >= sizeof q->change.agent)
        refuse(err, "field_too_long", "agent is longer than %d characters", TICKET_NAME_MAX);
    else {
        snprintf(q->change.agent, sizeof q->change.agent, "%s", agent ? agent : "");
        rc = send_change(id, q, out, err);
    }
    arbor_free(q);
    return rc;
}

int desk_close(int64_t id, const char *reason, const ticket_actor_t *by, ticket_t *out,
               ticket_error_t *err)
{
    act_req_t *q = new_request(ACTION_CLOSE, by, err);
    if (!q)
        return ARBOR_ENOMEM;
    int rc = ARBOR_EINVAL;
    if (reason && strlen(reason) >= sizeof q->change.reason)
        refuse(err, "field_too_long", "reason is longer than %d characters", TICKET_NAME_MAX);
    else {
        snprintf(q->change.reason, sizeof q->change.reason, "%s", reason ? reason : "");
        rc = send_change(id, q, out, err);
    }
    arbor_free(q);
    return rc;
}

int desk_post(int64_t id, store_message_kind_t kind, const char *text, const ticket_actor_t *by,
              ticket_t *out, ticket_error_t *err)
{
    act_req_t *q = new_request(kind == STORE_NOTE ? ACTION_NOTE : ACTION_REPLY, by, err);
    if (!q)
        return ARBOR_ENOMEM;
    int rc = ARBOR_EINVAL;
    if (kind == STORE_NO_MESSAGE)
        refuse(err, "bad_argument", "a post is a reply or a note");
    else if (text && strlen(text) >= sizeof q->change.text)
        refuse(err, "field_too_long", "text is longer than %d characters", TICKET_TEXT_MAX);
    else {
        snprintf(q->change.text, sizeof q->change.text, "%s", text ? text : "");
        rc = send_change(id, q, out, err);
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
    ticket_key(id, key);
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

int desk_agent_rename(const char *from, const char *to, const ticket_actor_t *by,
                      ticket_error_t *err)
{
    int rc = agents_rename(from, to, by, err);
    if (rc)
        return rc;
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
    *open = NULL;
    *n = 0;
    int rc = agents_set(name, 0, -1, err);
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

int desk_get(int64_t id, ticket_t *out)
{
    arbor_msg_t *m;
    int rc = worker_call_by_id(id, W_GET, NULL, 0, &m);
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
     * failure to report (below). */
    o.max_restarts = 1000;
    return arbor_dynsup_start(&o, pid, err);
}

/* --demo: alice and bob, into a roster that is empty (so that an agent
 * renamed or deactivated is not brought back by the next start). */
static void seed_demo_agents(void)
{
    store_agent_t *list;
    size_t n;
    if (agents_list(&list, &n) != 0)
        return;
    free(list);
    ticket_error_t err;
    if (n == 0 && agents_add("alice", &err) == 0)
        agents_add("bob", &err);
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
    agents_config_t agents = {.policy = cfg->policy, .durable = desk.durable};
    /* The Notifier copies the sink; the log sink's path lives in desk. */
    notifier_sink_t sink = {0};
    if (cfg->sink)
        sink = *cfg->sink;
    else if (desk.log_path[0])
        sink =
            (notifier_sink_t){.name = "log", .deliver = notifier_log_deliver, .ctx = desk.log_path};
    arbor_child_spec_t children[] = {
        {.id = "Store",
         .start = store_start,
         .arg = (void *)cfg->db_path,
         .arg_size = cfg->db_path ? strlen(cfg->db_path) + 1 : 0},
        {.id = "TicketRegistry", .start = registry_start},
        {.id = "Agents", .start = agents_start, .arg = &agents, .arg_size = sizeof agents},
        {.id = "TicketSupervisor", .start = ticket_sup_start, .type = ARBOR_SUPERVISOR_CHILD},
        /* Last: it reads the Store's outbox, and nothing depends on it. */
        {.id = "Notifier",
         .start = notifier_start,
         .arg = &sink,
         .arg_size = sizeof sink,
         .type = ARBOR_SUPERVISOR_CHILD},
    };
    size_t n = sizeof children / sizeof children[0];
    size_t first = desk.durable ? 0 : 1; /* in memory: no Store, */
    if (!desk.durable)
        n--; /* and no outbox to deliver */
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
    int rc = arbor_sup_start(&flags, children + first, n - first, &o, sup, err);
    if (rc == 0 && cfg->demo && desk.durable)
        seed_demo_agents();
    return rc;
}

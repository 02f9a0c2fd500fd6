#include "agents.h"

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { PICK = 1, LOOKUP, ROSTER, ADD, RENAME, SET };

typedef struct {
    char name[TICKET_NAME_SIZE];
    char new_name[TICKET_NAME_SIZE]; /* RENAME */
    ticket_actor_t by;               /* RENAME */
    int active, available;           /* SET */
    /* ADD, RENAME, SET: the change's request id ("": none) and digest
     * (store_once_t) */
    char request_id[STORE_REQUEST_SIZE];
    int64_t digest;
} agents_req_t;

typedef struct {
    int rc;
    ticket_error_t err;
    store_agent_t agent; /* LOOKUP */
    bool replayed;       /* ADD, RENAME, SET: made before under the request id; nothing new */
} agents_reply_t;

#define NONE SIZE_MAX

/* PICK's answer (least-loaded): rc, and when it is 0 the choice, its name
 * and why one after the other, each up to its NUL (a few dozen bytes: the
 * whole agents_choice_t, 584 bytes, went past the GenServer's inline reply
 * into process memory and to malloc on every pick). PICK asks with no
 * request. */
typedef struct {
    int rc;
    char text[sizeof(((agents_choice_t *)0)->name) + sizeof(((agents_choice_t *)0)->why)];
} pick_reply_t;

/* The Agents process's state. Its agents and last are also the roster
 * table's (below): the ticket workers read them and advance last there. */
typedef struct roster {
    agents_policy_t policy;
    bool durable;
    /* The Store could not read the roster (a damaged file): every request
     * tries again, and until it can, answers why instead of a roster
     * that is not there. */
    bool unloaded;
    ticket_error_t why;
    size_t n;
    size_t last;           /* round-robin: the agent picked last (NONE: no one yet) */
    store_agent_t *agents; /* process memory; open and turn are not kept */
} roster_t;

/*
 * The roster table: the live Agents process's roster, which a ticket's
 * worker reads to pick an agent by round-robin itself, under the lock,
 * instead of calling the Agents for it (a call and two activations, an
 * eighth of an in-memory ticket's instructions, and one process that
 * every assignment of the desk waited on). It is what a public ETS table owned
 * by the Agents would be in Erlang: the Agents fills it in its init and
 * makes every change to it, each under the lock; a worker takes the lock
 * to read it and to advance last; and it closes when its owner exits,
 * however that happens (an exit hook runs before the owner's memory is
 * freed and before its supervisor hears of the exit), so that until the
 * restarted Agents opens it again a pick is refused as it was while there
 * was no Agents to call. The owner reads its own roster without the lock:
 * no one else writes names or flags. Least-loaded asks the Agents, which
 * asks the Store.
 */
static struct {
    pthread_mutex_t lock;
    roster_t *open; /* NULL: no Agents process has it open */
} table = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void table_lock(void)
{
    pthread_mutex_lock(&table.lock);
}

static void table_unlock(void)
{
    pthread_mutex_unlock(&table.lock);
}

static void table_close(void *roster)
{
    table_lock();
    if (table.open == roster)
        table.open = NULL;
    table_unlock();
}

static bool push(roster_t *r, const char *name, bool active, bool available)
{
    table_lock(); /* the array may move */
    store_agent_t *more = arbor_realloc(r->agents, (r->n + 1) * sizeof *more);
    if (more) {
        r->agents = more;
        store_agent_t *a = &r->agents[r->n++];
        snprintf(a->name, sizeof a->name, "%s", name);
        a->active = active;
        a->available = available;
        a->open = -1;
    }
    table_unlock();
    return more != NULL;
}

/* Reads the roster from the Store. ARBOR_EEXIT: the Store could not
 * (r->why says why): the roster stays unloaded. */
static int load(roster_t *r)
{
    store_agent_t *list;
    size_t n;
    int rc = store_agents(&list, &n, &r->why);
    r->unloaded = rc == ARBOR_EEXIT;
    if (rc)
        return rc;
    bool ok = true;
    int64_t turn = 0;
    size_t last = NONE;
    for (size_t i = 0; ok && i < n; i++) {
        ok = push(r, list[i].name, list[i].active, list[i].available);
        if (list[i].turn > turn) { /* the rotation goes on after the last turn recorded */
            turn = list[i].turn;
            last = i;
        }
    }
    free(list);
    table_lock(); /* a reload, after the Store could not read the roster, finds it open */
    r->last = last;
    table_unlock();
    return ok ? 0 : ARBOR_ENOMEM;
}

static arbor_gs_ret_t agents_init(void **state, void *arg)
{
    const agents_config_t *cfg = arg;
    roster_t *r = arbor_calloc(1, sizeof *r);
    if (!r)
        return arbor_gs_halt(arbor_error("out of memory"));
    r->policy = cfg->policy;
    r->durable = cfg->durable;
    r->last = NONE;
    *state = r;
    int rc = r->durable                                                   ? load(r)
             : push(r, "alice", true, true) && push(r, "bob", true, true) ? 0
                                                                          : ARBOR_ENOMEM;
    if (rc == ARBOR_ENOMEM)
        return arbor_gs_halt(arbor_error("out of memory"));
    if (rc && rc != ARBOR_EEXIT)
        return arbor_gs_halt(arbor_error("cannot load agents: %s", arbor_err_name(rc)));
    /* Unloaded if the Store could not read it: the desk serves the rest. */
    if (arbor_on_exit(table_close, r) != 0)
        return arbor_gs_halt(arbor_error("out of memory"));
    table_lock();
    table.open = r;
    table_unlock();
    return arbor_gs_ok();
}

/* The agent called name, in any ASCII case (names are one agent's
 * whatever their case: ALICE finds alice); that exact spelling first. A
 * roster from before that rule may hold two names that differ only in
 * case: another spelling finds neither. */
static store_agent_t *find(roster_t *r, const char *name)
{
    store_agent_t *alike = NULL;
    size_t alikes = 0;
    for (size_t i = 0; i < r->n; i++) {
        if (strcmp(r->agents[i].name, name) == 0)
            return &r->agents[i];
        if (ticket_same_agent_name(r->agents[i].name, name)) {
            alike = &r->agents[i];
            alikes++;
        }
    }
    return alikes == 1 ? alike : NULL;
}

static bool eligible(const store_agent_t *a)
{
    return a->active && a->available;
}

/* Round-robin: the next eligible agent after the last one picked, in
 * roster order. ARBOR_ENOENT: none is eligible. */
static int next_in_turn(roster_t *r, agents_choice_t *c)
{
    size_t start = r->last == NONE || r->last >= r->n ? r->n - 1 : r->last;
    for (size_t k = 1; k <= r->n; k++) {
        size_t i = (start + k) % r->n;
        if (!eligible(&r->agents[i]))
            continue;
        /* Copied, not formatted: a pick per assignment (the in-memory
         * ticket_workflow spent 3 % of its instructions in these). Names
         * fit: c->why has room for a name and 64 bytes more. */
        memcpy(c->name, r->agents[i].name, strlen(r->agents[i].name) + 1);
        static const char first[] = "by round-robin: first in turn",
                          after[] = "by round-robin: next after ";
        if (r->last == NONE) {
            memcpy(c->why, first, sizeof first);
        } else {
            const char *last = r->agents[r->last].name;
            memcpy(c->why, after, sizeof after - 1);
            memcpy(c->why + sizeof after - 1, last, strlen(last) + 1);
        }
        c->round_robin = true;
        r->last = i;
        return 0;
    }
    return ARBOR_ENOENT;
}

/* Least-loaded: the eligible agent with the fewest open tickets, as the
 * Store keeps them (ties: roster order). ARBOR_ENOENT: none is eligible. */
static int least_loaded(agents_choice_t *c)
{
    int64_t open, available;
    int rc = store_least_loaded(c->name, &open, &available);
    if (rc == 0)
        snprintf(c->why, sizeof c->why, "by least-loaded: %lld open, fewest of %lld available",
                 (long long)open, (long long)available);
    return rc;
}

/* The Store's request id for q's change (none without one). */
static store_once_t once_of(const agents_req_t *q)
{
    return (store_once_t){.request_id = q->request_id, .digest = q->digest};
}

/* A roster change in the Store, under q's request id: *replayed when it
 * was made before (the roster in memory has it already). */
static int add(roster_t *r, const agents_req_t *q, bool *replayed, ticket_error_t *err)
{
    const char *name = q->name;
    int rc = 0;
    store_once_t once = once_of(q);
    if (r->durable) {
        rc = store_agent_add(name, &once, err);
        *replayed = once.replayed;
        if (*replayed)
            return rc;
    } else {
        for (size_t i = 0; !rc && i < r->n; i++)
            if (ticket_same_agent_name(r->agents[i].name, name)) {
                rc = ARBOR_EEXIST;
                ticket_agent_exists(r->agents[i].name, name, err);
            }
    }
    if (!rc && !push(r, name, true, true))
        rc = ARBOR_ENOMEM;
    return rc;
}

static int rename_agent(roster_t *r, const agents_req_t *q, bool *replayed, ticket_error_t *err)
{
    if (!r->durable) {
        snprintf(err->code, sizeof err->code, "no_store");
        snprintf(err->message, sizeof err->message,
                 "renaming an agent needs the Store (this desk is in memory)");
        return ARBOR_EINVAL;
    }
    if (find(r, q->name) && strcmp(q->name, q->new_name) == 0) {
        /* (q->name as the roster spells it.) A rename to the same name
         * would give each of their tickets a history entry and a new
         * version for nothing; a change of case is a rename. */
        snprintf(err->code, sizeof err->code, "unchanged");
        snprintf(err->message, sizeof err->message,
                 "the agent has that name already: a rename changes it (its case included)");
        return ARBOR_EINVAL;
    }
    store_once_t once = once_of(q);
    int rc = store_agent_rename(q->name, q->new_name, &q->by, &once, err);
    *replayed = once.replayed;
    store_agent_t *a = rc || *replayed ? NULL : find(r, q->name);
    if (a) {
        table_lock();
        snprintf(a->name, sizeof a->name, "%s", q->new_name);
        table_unlock();
    }
    return rc;
}

static int set_flags(roster_t *r, const agents_req_t *q, bool *replayed, ticket_error_t *err)
{
    store_agent_t *a = find(r, q->name);
    int rc = 0;
    store_once_t once = once_of(q);
    if (r->durable) {
        rc = store_agent_set(q->name, q->active, q->available, &once, err);
        *replayed = once.replayed;
        if (*replayed)
            return rc; /* the roster in memory has the first change, and any since */
    } else if (!a) {
        rc = ARBOR_ENOENT;
        snprintf(err->code, sizeof err->code, "unknown_agent");
        snprintf(err->message, sizeof err->message, "there is no agent called %s", q->name);
    }
    if (!rc && a) {
        table_lock();
        if (q->active >= 0)
            a->active = q->active;
        if (q->available >= 0)
            a->available = q->available;
        table_unlock();
    }
    return rc;
}

static arbor_gs_ret_t agents_call(void **state, const arbor_msg_t *req, arbor_from_t from)
{
    roster_t *r = *state;
    if (req->tag == ROSTER)
        return arbor_gs_reply(r->agents, r->n * sizeof *r->agents);
    if (req->tag == PICK) { /* least-loaded: round-robin picks from the table */
        agents_choice_t c;
        c.name[0] = c.why[0] = '\0';
        pick_reply_t p;
        p.rc = r->n == 0 ? ARBOR_ENOENT : least_loaded(&c);
        if (p.rc)
            return arbor_gs_reply(&p, offsetof(pick_reply_t, text));
        size_t name = strlen(c.name) + 1, why = strlen(c.why) + 1;
        memcpy(p.text, c.name, name);
        memcpy(p.text + name, c.why, why);
        return arbor_gs_reply(&p, offsetof(pick_reply_t, text) + name + why);
    }
    if (req->size != sizeof(agents_req_t))
        return arbor_gs_halt(arbor_error("bad agents request"));
    const agents_req_t *q = req->data;
    agents_reply_t out = {.rc = ARBOR_ENOENT};
    if (r->unloaded && load(r) == ARBOR_EEXIT) {
        out.rc = ARBOR_EEXIT;
        out.err = r->why;
        return arbor_gs_reply(&out, sizeof out);
    }
    const store_agent_t *a = NULL, *known;
    agents_req_t spelled;
    switch (req->tag) {
    case LOOKUP:
        a = find(r, q->name);
        break;
    case ADD:
        out.rc = add(r, q, &out.replayed, &out.err);
        break;
    case RENAME:
    case SET:
        /* The agent changed is named as the roster spells them. */
        spelled = *q;
        if ((known = find(r, q->name)) != NULL)
            memcpy(spelled.name, known->name, sizeof spelled.name);
        out.rc = req->tag == RENAME ? rename_agent(r, &spelled, &out.replayed, &out.err)
                                    : set_flags(r, &spelled, &out.replayed, &out.err);
        break;
    default:
        return arbor_gs_halt(arbor_error("bad agents request"));
    }
    if (a) {
        out.rc = 0;
        out.agent = *a;
    }
    return arbor_gs_reply(&out, sizeof out);
}

static const arbor_gen_server_t agents_gs = {
    .label = "SupportSystem.Agents", .init = agents_init, .handle_call = agents_call};

int agents_start(void *config, arbor_pid_t *pid, arbor_reason_t *err)
{
    arbor_gs_opts_t o = {.link = true, .name = AGENTS_NAME};
    return arbor_gs_start(&agents_gs, config, &o, pid, err);
}

/* Asks the Agents server; fills *out with its answer (err copied). */
static int call(uint64_t tag, const agents_req_t *q, agents_reply_t *out, ticket_error_t *err)
{
    arbor_pid_t pid = arbor_whereis(AGENTS_NAME);
    arbor_msg_t *m;
    int rc = pid ? arbor_gs_call(pid, tag, q, sizeof *q, store_call_timeout_ms(), &m, NULL)
                 : ARBOR_ENOPROC;
    bool change = tag == ADD || tag == RENAME || tag == SET;
    if (rc && err && change && (rc == ARBOR_ETIMEDOUT || rc == ARBOR_EEXIT)) {
        /* The roster had the change and did not answer: it may be made. */
        snprintf(err->code, sizeof err->code, "outcome_unknown");
        snprintf(err->message, sizeof err->message,
                 "the roster did not confirm the change (%s): it may or may not have been made",
                 rc == ARBOR_ETIMEDOUT ? "no answer in time" : "it stopped meanwhile");
    } else if (rc && err) {
        snprintf(err->code, sizeof err->code, "unavailable");
        snprintf(err->message, sizeof err->message, "the roster did not answer: %s%s",
                 arbor_strerror(rc), change ? "; nothing was changed" : "");
    }
    if (rc)
        return rc;
    *out = *(const agents_reply_t *)m->data;
    arbor_msg_free(m);
    if (out->rc && err)
        *err = out->err;
    return out->rc;
}

/* Round-robin's pick, from the table: ARBOR_ENOPROC while no Agents has
 * it open (as when there was no Agents to call), ARBOR_EAGAIN when the
 * policy is least-loaded. */
static int pick_in_turn(agents_choice_t *choice)
{
    table_lock();
    roster_t *r = table.open;
    int rc = !r                                 ? ARBOR_ENOPROC
             : r->policy == POLICY_LEAST_LOADED ? ARBOR_EAGAIN
             : r->n == 0                        ? ARBOR_ENOENT
                                                : next_in_turn(r, choice);
    table_unlock();
    return rc;
}

/* Least-loaded's pick, by the Agents (which asks the Store). */
static int ask_least_loaded(agents_choice_t *choice)
{
    /* Once an assign, from the ticket's worker: the name's lookup is
     * remembered until the name table changes (arbor_whereis_cached). */
    static _Thread_local arbor_name_cache_t agents;
    arbor_pid_t pid = arbor_whereis_cached(AGENTS_NAME, &agents);
    arbor_msg_t *m;
    int rc = pid ? arbor_gs_call(pid, PICK, NULL, 0, 30000, &m, NULL) : ARBOR_ENOPROC;
    if (rc)
        return rc;
    const pick_reply_t *p = m->data;
    rc = m->size < sizeof p->rc ? ARBOR_EINVAL : p->rc;
    /* The name, then why, each with its NUL, filling the answer. */
    size_t room = m->size > offsetof(pick_reply_t, text) && m->size <= sizeof *p
                      ? m->size - offsetof(pick_reply_t, text)
                      : 0;
    const char *end = room ? memchr(p->text, '\0', room) : NULL;
    size_t name = end ? (size_t)(end - p->text) + 1 : 0;
    if (!rc && (!end || name > sizeof choice->name || room - name > sizeof choice->why ||
                room == name || p->text[room - 1] != '\0' ||
                memchr(p->text + name, '\0', room - name) != p->text + room - 1))
        rc = ARBOR_EINVAL; /* not a pick's answer */
    if (!rc) {
        memcpy(choice->name, p->text, name);
        memcpy(choice->why, p->text + name, room - name);
    }
    arbor_msg_free(m);
    return rc;
}

int agents_choose(agents_choice_t *choice)
{
    choice->round_robin = false;
    int rc = pick_in_turn(choice);
    return rc == ARBOR_EAGAIN ? ask_least_loaded(choice) : rc;
}

const char *agents_spelling(const char *name, store_agent_t *known)
{
    return agents_lookup(name, known, NULL) == 0 ? known->name : name;
}

int agents_lookup(const char *name, store_agent_t *found, ticket_error_t *err)
{
    agents_req_t q;
    snprintf(q.name, sizeof q.name, "%s", name);
    agents_reply_t out;
    int rc = call(LOOKUP, &q, &out, err);
    if (!rc && found)
        *found = out.agent;
    return rc;
}

int agents_list(store_agent_t **out, size_t *n, ticket_error_t *err)
{
    arbor_pid_t pid = arbor_whereis(AGENTS_NAME);
    if (arbor_whereis(STORE_NAME))
        return store_agents(out, n, err);
    arbor_msg_t *m;
    int rc = pid ? arbor_gs_call(pid, ROSTER, NULL, 0, 30000, &m, NULL) : ARBOR_ENOPROC;
    if (rc)
        return rc;
    *out = malloc(m->size ? m->size : 1);
    if (*out) {
        memcpy(*out, m->data, m->size);
        *n = m->size / sizeof **out;
    }
    arbor_msg_free(m);
    return *out ? 0 : ARBOR_ENOMEM;
}

/* Sends a roster change q under once's request id (NULL: none); tells
 * once whether it was made before. */
static int change(uint64_t tag, agents_req_t *q, store_once_t *once, ticket_error_t *err)
{
    if (once) {
        once->replayed = false;
        if (once->request_id && strlen(once->request_id) > STORE_REQUEST_MAX) {
            if (err) {
                snprintf(err->code, sizeof err->code, "bad_request_id");
                snprintf(err->message, sizeof err->message, "a request id is at most %d characters",
                         STORE_REQUEST_MAX);
            }
            return ARBOR_EINVAL;
        }
        snprintf(q->request_id, sizeof q->request_id, "%s",
                 once->request_id ? once->request_id : "");
        q->digest = once->digest;
    }
    agents_reply_t out;
    int rc = call(tag, q, &out, err);
    if (!rc && once)
        once->replayed = out.replayed;
    return rc;
}

int agents_add(const char *name, ticket_error_t *err)
{
    return agents_add_once(name, NULL, err);
}

int agents_add_once(const char *name, store_once_t *once, ticket_error_t *err)
{
    if (!ticket_check_name("agent", name, false, err))
        return ARBOR_EINVAL;
    agents_req_t q = {.active = -1};
    snprintf(q.name, sizeof q.name, "%s", name);
    return change(ADD, &q, once, err);
}

int agents_rename(const char *from, const char *to, const ticket_actor_t *by, ticket_error_t *err)
{
    return agents_rename_once(from, to, by, NULL, err);
}

int agents_rename_once(const char *from, const char *to, const ticket_actor_t *by,
                       store_once_t *once, ticket_error_t *err)
{
    if (!ticket_check_text("agent", from, TICKET_NAME_MAX, false, err) ||
        !ticket_check_name("new name", to, false, err) || !ticket_check_actor(by, err))
        return ARBOR_EINVAL;
    agents_req_t q = {.by = *by};
    snprintf(q.name, sizeof q.name, "%s", from);
    snprintf(q.new_name, sizeof q.new_name, "%s", to);
    return change(RENAME, &q, once, err);
}

int agents_set(const char *name, int active, int available, ticket_error_t *err)
{
    return agents_set_once(name, active, available, NULL, err);
}

int agents_set_once(const char *name, int active, int available, store_once_t *once,
                    ticket_error_t *err)
{
    if (!ticket_check_text("agent", name, TICKET_NAME_MAX, false, err))
        return ARBOR_EINVAL;
    agents_req_t q = {.active = active, .available = available};
    snprintf(q.name, sizeof q.name, "%s", name);
    return change(SET, &q, once, err);
}

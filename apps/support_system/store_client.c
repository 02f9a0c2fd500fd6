/*
 * The Store's client side: the calls of store.h, each a request to the
 * Store process.
 */
#include "store_internal.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int64_t store_call_timeout_ms(void)
{
    static _Atomic int64_t timeout; /* 0: not read yet */
    int64_t ms = atomic_load(&timeout);
    if (ms == 0) {
        const char *env = getenv("ARBOR_DESK_CALL_TIMEOUT_MS");
        long long v = env ? strtoll(env, NULL, 10) : 0;
        ms = v >= 1 && v <= 600000 ? v : 30000;
        atomic_store(&timeout, ms);
    }
    return ms;
}

/* A job for op, all zeros but its text, which is left out: the text is
 * 8 KB at the end of the job, mostly unused, and a request carries it only
 * up to its NUL (store__job_size), so only its first byte needs a value.
 * The calls on the per-change path (create, update, get) start from this
 * rather than zeroing the whole job (12 KB) per call. */
static void job_init(job_t *j, int op)
{
    memset(j, 0, JOB_HEAD);
    j->text[0] = '\0';
    j->op = op;
}

/* Runs j at the Store, waiting at most timeout_ms; on success *reply
 * holds the answer (the job, then its rows). */
static int request_within(job_t *j, int64_t timeout_ms, arbor_msg_t **reply)
{
    arbor_pid_t store = arbor_whereis(STORE_NAME);
    if (!store)
        return ARBOR_ENOPROC;
    int rc = arbor_gs_call(store, (uint64_t)j->op, j, store__job_size(j), timeout_ms, reply, NULL);
    if (rc)
        return rc;
    const job_t *out = (*reply)->data; /* JOB_HEAD bytes, then rows */
    if (out->rc) {
        memcpy(j, out, JOB_HEAD);
        rc = out->rc;
        arbor_msg_free(*reply);
        *reply = NULL;
    }
    return rc;
}

static int request(job_t *j, arbor_msg_t **reply)
{
    return request_within(j, store_call_timeout_ms(), reply);
}

/* Runs j at the Store, waiting at most timeout_ms, and copies the answer
 * (not its rows) back into j. */
static int ask_within(job_t *j, int64_t timeout_ms)
{
    arbor_msg_t *m;
    int rc = request_within(j, timeout_ms, &m);
    if (rc == 0) {
        memcpy(j, m->data, JOB_HEAD);
        arbor_msg_free(m);
    }
    return rc;
}

static int ask(job_t *j)
{
    return ask_within(j, store_call_timeout_ms());
}

static bool is_change(int op)
{
    return op == CREATE || op == UPDATE || op == AGENT_ADD || op == AGENT_RENAME ||
           op == AGENT_SET || op == MARK_DELIVERED;
}

/* The error of a call that did not succeed. The Store's own answer says
 * what it is; without one, a change that reached the Store (the call
 * timed out, or the Store died with it) may or may not have been made,
 * while one that found no Store changed nothing. */
static void copy_error(const job_t *j, int rc, ticket_error_t *err)
{
    if (!err)
        return;
    if (j->err.code[0]) {
        *err = j->err;
    } else if (rc == ARBOR_ENOPROC) {
        snprintf(err->code, sizeof err->code, "store_down");
        snprintf(err->message, sizeof err->message,
                 "the store is not running (it is restarting or stopped); nothing was %s",
                 is_change(j->op) ? "changed" : "read");
    } else if (is_change(j->op) && (rc == ARBOR_ETIMEDOUT || rc == ARBOR_EEXIT)) {
        snprintf(err->code, sizeof err->code, "outcome_unknown");
        snprintf(err->message, sizeof err->message,
                 "the store did not confirm the change (%s): it may or may not have been made",
                 rc == ARBOR_ETIMEDOUT ? "no answer in time" : "the store stopped meanwhile");
    } else if (rc == ARBOR_ETIMEDOUT) { /* a read: nothing was changed */
        snprintf(err->code, sizeof err->code, "store_busy");
        snprintf(err->message, sizeof err->message,
                 "the store did not answer in time; nothing was changed: retry");
    } else if (rc == ARBOR_EEXIT) { /* a read whose Store died: it restarts */
        snprintf(err->code, sizeof err->code, "store_down");
        snprintf(err->message, sizeof err->message,
                 "the store stopped before it answered (it restarts); nothing was changed: retry");
    } else {
        snprintf(err->code, sizeof err->code, "store_error");
        snprintf(err->message, sizeof err->message, "the store could not do it: %s",
                 arbor_strerror(rc));
    }
}

int store_create(ticket_t *t, const ticket_actor_t *by, ticket_error_t *err)
{
    job_t j;
    job_init(&j, CREATE);
    j.ticket = *t;
    j.by = *by;
    int rc = ask(&j);
    if (rc)
        copy_error(&j, rc, err);
    else
        t->id = j.ticket.id;
    return rc;
}

int store_create_once(ticket_t *t, const ticket_actor_t *by, const char *request_id, int64_t digest,
                      bool *replayed, ticket_error_t *err)
{
    *replayed = false;
    if (!request_id || !request_id[0] || strlen(request_id) > STORE_REQUEST_MAX)
        return store_create(t, by, err);
    job_t j;
    job_init(&j, CREATE);
    j.ticket = *t;
    j.by = *by;
    j.request.digest = digest;
    snprintf(j.request_id, sizeof j.request_id, "%s", request_id);
    snprintf(j.request.what, sizeof j.request.what, "create");
    int rc = ask(&j);
    if (rc) {
        copy_error(&j, rc, err);
        return rc;
    }
    t->id = j.ticket.id;
    if (!j.replayed)
        return 0;
    /* The ticket the first create made, as it is now. */
    *replayed = true;
    rc = store_get(t->id, t, NULL);
    if (rc && err) {
        snprintf(err->code, sizeof err->code, "unavailable");
        snprintf(err->message, sizeof err->message,
                 "request id %s made ticket %lld, which cannot be read now: %s", request_id,
                 (long long)j.ticket.id, arbor_strerror(rc));
    }
    return rc;
}

void store_request_reused(const char *request_id, const store_request_t *first, ticket_error_t *err)
{
    snprintf(err->code, sizeof err->code, "request_id_reused");
    if (!first)
        snprintf(err->message, sizeof err->message,
                 "request id %s was used for another request; nothing was changed", request_id);
    else if (first->ticket)
        snprintf(err->message, sizeof err->message,
                 "request id %s was used for another request (%s of ticket %lld); nothing was"
                 " changed",
                 request_id, first->what, (long long)first->ticket);
    else
        snprintf(err->message, sizeof err->message,
                 "request id %s was used for another request (%s); nothing was changed", request_id,
                 first->what);
}

int store_request_find(const char *request_id, store_request_t *out)
{
    if (!request_id || !request_id[0] || strlen(request_id) > STORE_REQUEST_MAX)
        return ARBOR_EINVAL;
    job_t j;
    job_init(&j, REQUEST_FIND);
    snprintf(j.request_id, sizeof j.request_id, "%s", request_id);
    int rc = ask(&j);
    if (rc == 0)
        *out = j.request;
    return rc;
}

int store_update(ticket_t *t, const store_event_t *ev, ticket_error_t *err)
{
    job_t j;
    job_init(&j, UPDATE);
    j.ticket = *t;
    j.by = ev->by;
    j.message = ev->message;
    j.round_robin_turn = ev->round_robin_turn;
    snprintf(j.what, sizeof j.what, "%s", ev->what);
    snprintf(j.notice, sizeof j.notice, "%s", ev->notice ? ev->notice : "");
    if (ev->message != STORE_NO_MESSAGE)
        snprintf(j.text, sizeof j.text, "%s", ev->text);
    if (ev->request_id && ev->request_id[0]) {
        snprintf(j.request_id, sizeof j.request_id, "%s", ev->request_id);
        j.request = ev->request;
    }
    int rc = ask(&j);
    if (rc)
        copy_error(&j, rc, err);
    else
        t->version = j.ticket.version;
    return rc;
}

int store_get(int64_t id, ticket_t *out, ticket_error_t *err)
{
    job_t j;
    job_init(&j, GET);
    j.id = id;
    int rc = ask(&j);
    if (rc == 0)
        *out = j.ticket;
    else if (rc != ARBOR_ENOENT)
        copy_error(&j, rc, err);
    return rc;
}

/* Copies the rows of a reply into a malloc'd array. */
static int take_rows(arbor_msg_t *m, void **out, size_t *n)
{
    const job_t *j = m->data;
    size_t bytes = j->nrows * j->rows_size;
    *out = malloc(bytes ? bytes : 1);
    if (!*out) {
        arbor_msg_free(m);
        return ARBOR_ENOMEM;
    }
    memcpy(*out, (const char *)m->data + JOB_HEAD, bytes);
    *n = j->nrows;
    arbor_msg_free(m);
    return 0;
}

/* Runs j, a read with rows, at the Store: its rows into *out (*n). */
static int read_rows(job_t *j, void **out, size_t *n, ticket_error_t *err)
{
    arbor_msg_t *m;
    int rc = request(j, &m);
    if (rc) {
        copy_error(j, rc, err);
        return rc;
    }
    memcpy(j, m->data, JOB_HEAD);
    return take_rows(m, out, n);
}

int store_history(int64_t id, int64_t before, size_t limit, store_history_page_t *out,
                  ticket_error_t *err)
{
    job_t j = {.op = HISTORY, .id = id, .first = before};
    j.limit = limit == 0                  ? STORE_HISTORY_PAGE
              : limit > STORE_HISTORY_MAX ? STORE_HISTORY_MAX
                                          : limit;
    *out = (store_history_page_t){0};
    int rc = read_rows(&j, (void **)&out->entries, &out->n, err);
    if (rc)
        return rc;
    out->total = j.count;
    out->older = j.last;
    if (!out->n) {
        free(out->entries);
        out->entries = NULL;
    }
    return 0;
}

int store_list(const ticket_status_t *status, const char *agent, size_t limit, ticket_t **out,
               size_t *n)
{
    store_filter_t f = {.status = status, .agent = agent, .limit = limit};
    return store_find(&f, out, n, NULL);
}

/* A word of search at least this many characters long also finds the
 * words it begins ("print" finds "printer"); a shorter one only itself,
 * which keeps a query from merging the matches of most of the index's
 * words. */
#define SEARCH_PREFIX_MIN 3

/* The words of search as an FTS5 query that takes them literally: each
 * one a quoted string (a quote inside doubled), a prefix when long enough,
 * all of them required. False when it does not fit. */
static bool search_query(const char *search, char *q, size_t size)
{
    size_t len = 0;
    q[0] = '\0';
    for (const char *p = search; *p;) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p)
            break;
        if (len + 5 >= size)
            return false;
        if (len)
            q[len++] = ' ';
        q[len++] = '"';
        size_t chars = 0;
        for (; *p && *p != ' ' && *p != '\t'; p++) {
            if (len + 5 >= size)
                return false;
            if (*p == '"')
                q[len++] = '"';
            chars += ((unsigned char)*p & 0xC0) != 0x80; /* a UTF-8 character's first byte */
            q[len++] = *p;
        }
        q[len++] = '"';
        if (chars >= SEARCH_PREFIX_MIN)
            q[len++] = '*';
        q[len] = '\0';
    }
    return true;
}

/* Copies filter text value into buf (a job's field), checked as a name. */
static bool filter_text(const char *field, const char *value, char *buf, size_t size,
                        ticket_error_t *err)
{
    if (!ticket_check_text(field, value, TICKET_NAME_MAX, true, err))
        return false;
    snprintf(buf, size, "%s", value);
    return true;
}

int store_find(const store_filter_t *f, ticket_t **out, size_t *n, ticket_error_t *err)
{
    ticket_error_t ignored;
    if (!err)
        err = &ignored;
    job_t *j = calloc(1, sizeof *j);
    if (!j)
        return ARBOR_ENOMEM;
    j->op = LIST;
    j->has_status = f->status != NULL;
    j->status = f->status ? *f->status : TICKET_OPEN;
    j->has_agent = f->agent != NULL;
    j->has_customer = f->customer != NULL;
    j->unresolved = f->unresolved;
    j->overdue = f->overdue;
    j->priority = f->priority ? (int)*f->priority : -1;
    j->sort = f->sort;
    j->offset = f->offset;
    j->limit = f->limit;
    int rc = ARBOR_EINVAL;
    if ((!f->agent || filter_text("agent", f->agent, j->agent, sizeof j->agent, err)) &&
        (!f->customer ||
         filter_text("customer", f->customer, j->customer, sizeof j->customer, err)) &&
        (!f->search || ticket_check_text("search", f->search, TICKET_DESC_MAX, true, err))) {
        search_query(f->search ? f->search : "", j->text, sizeof j->text); /* 200 fit */
        arbor_msg_t *m;
        rc = request(j, &m);
        if (rc)
            copy_error(j, rc, err);
        else
            rc = take_rows(m, (void **)out, n);
    }
    free(j);
    return rc;
}

int store_queues(const char *agent, store_queues_t *out, ticket_error_t *err)
{
    job_t j = {.op = QUEUES};
    snprintf(j.agent, sizeof j.agent, "%s", agent ? agent : "");
    int rc = ask(&j);
    if (rc == 0)
        *out = j.queues;
    else
        copy_error(&j, rc, err);
    return rc;
}

int store_agents(store_agent_t **out, size_t *n, ticket_error_t *err)
{
    job_t j = {.op = AGENTS};
    return read_rows(&j, (void **)out, n, err);
}

int store_least_loaded(char name[TICKET_NAME_SIZE], int64_t *open, int64_t *available)
{
    job_t j = {.op = AGENT_LEAST_LOADED};
    int rc = ask(&j);
    if (rc == 0) {
        snprintf(name, TICKET_NAME_SIZE, "%s", j.agent);
        *open = j.count;
        *available = j.eligible;
    }
    return rc;
}

/* Runs a roster change j about agent name, under once's request id (what
 * the change's name); says what a refusal means. */
static int roster_change(job_t *j, const char *what, const char *name, store_once_t *once,
                         ticket_error_t *err)
{
    const char *request_id =
        once && once->request_id && once->request_id[0] ? once->request_id : NULL;
    if (once)
        once->replayed = false;
    if (request_id && strlen(request_id) > STORE_REQUEST_MAX) {
        if (err) {
            snprintf(err->code, sizeof err->code, "bad_request_id");
            snprintf(err->message, sizeof err->message, "a request id is at most %d characters",
                     STORE_REQUEST_MAX);
        }
        return ARBOR_EINVAL;
    }
    if (request_id) {
        snprintf(j->request_id, sizeof j->request_id, "%s", request_id);
        snprintf(j->request.what, sizeof j->request.what, "%s", what);
        j->request.digest = once->digest;
    }
    int rc = ask(j);
    if (rc == ARBOR_EEXIST && err && j->err.code[0]) { /* request_id_reused, agent_exists */
        *err = j->err;
    } else if (rc == ARBOR_EEXIST && err) {
        const char *taken = j->op == AGENT_RENAME ? j->new_name : name;
        snprintf(err->code, sizeof err->code, "agent_exists");
        snprintf(err->message, sizeof err->message, "there is already an agent called %s", taken);
    } else if (rc == ARBOR_ENOENT && err) {
        snprintf(err->code, sizeof err->code, "unknown_agent");
        snprintf(err->message, sizeof err->message, "there is no agent called %s", name);
    } else if (rc) {
        copy_error(j, rc, err);
    }
    if (!rc && once)
        once->replayed = j->replayed;
    return rc;
}

int store_agent_add(const char *name, store_once_t *once, ticket_error_t *err)
{
    job_t j = {.op = AGENT_ADD};
    if (!ticket_check_name("agent", name, false, err))
        return ARBOR_EINVAL;
    snprintf(j.agent, sizeof j.agent, "%s", name);
    return roster_change(&j, "agent-add", name, once, err);
}

int store_agent_rename(const char *from, const char *to, const ticket_actor_t *by,
                       store_once_t *once, ticket_error_t *err)
{
    job_t j = {.op = AGENT_RENAME, .by = *by};
    if (!ticket_check_text("agent", from, TICKET_NAME_MAX, false, err) ||
        !ticket_check_name("new name", to, false, err) || !ticket_check_actor(by, err))
        return ARBOR_EINVAL;
    snprintf(j.agent, sizeof j.agent, "%s", from);
    snprintf(j.new_name, sizeof j.new_name, "%s", to);
    return roster_change(&j, "agent-rename", from, once, err);
}

int store_agent_set(const char *name, int active, int available, store_once_t *once,
                    ticket_error_t *err)
{
    job_t j = {.op = AGENT_SET, .active = active, .available = available};
    if (!ticket_check_text("agent", name, TICKET_NAME_MAX, false, err))
        return ARBOR_EINVAL;
    snprintf(j.agent, sizeof j.agent, "%s", name);
    return roster_change(&j, "agent-set", name, once, err);
}

int store_outbox_pending(size_t limit, store_notification_t **out, size_t *n, ticket_error_t *err)
{
    job_t j = {.op = OUTBOX_PENDING, .limit = limit};
    return read_rows(&j, (void **)out, n, err);
}

int store_outbox_mark(int64_t first, int64_t last)
{
    job_t j = {.op = MARK_DELIVERED, .first = first, .last = last};
    return ask(&j);
}

int store_outbox_count(int64_t *pending, ticket_error_t *err)
{
    return store_outbox_count_within(pending, store_call_timeout_ms(), err);
}

int store_outbox_count_within(int64_t *pending, int64_t timeout_ms, ticket_error_t *err)
{
    job_t j = {.op = OUTBOX_COUNT};
    int rc = ask_within(&j, timeout_ms);
    if (rc == 0)
        *pending = j.count;
    else
        copy_error(&j, rc, err);
    return rc;
}

int store_ticket_counts(store_ticket_count_t **out, size_t *n, ticket_error_t *err)
{
    job_t j = {.op = TICKET_COUNTS};
    return read_rows(&j, (void **)out, n, err);
}

int store_stats(store_stats_t *out)
{
    return store_stats_within(out, store_call_timeout_ms());
}

int store_stats_within(store_stats_t *out, int64_t timeout_ms)
{
    job_t j = {.op = STATS};
    int rc = ask_within(&j, timeout_ms);
    if (rc == 0)
        *out = j.stats;
    return rc;
}

int store_backup(const char *path, ticket_error_t *err)
{
    arbor_pid_t store = arbor_whereis(STORE_NAME);
    job_t j = {.op = BACKUP};
    int rc = store ? 0 : ARBOR_ENOPROC;
    arbor_msg_t *reply = NULL;
    if (!rc)
        rc = arbor_gs_call(store, BACKUP, path, strlen(path) + 1, 600000, &reply, NULL);
    if (!rc) {
        memcpy(&j, reply->data, JOB_HEAD);
        arbor_msg_free(reply);
        rc = j.rc;
    }
    if (rc)
        copy_error(&j, rc, err);
    return rc;
}

int store_run(store_fn_t fn, const void *in, size_t in_size, void *out, size_t out_size)
{
    arbor_pid_t store = arbor_whereis(STORE_NAME);
    if (!store)
        return ARBOR_ENOPROC;
    /* In process memory: a caller killed while it waits (a web connection,
     * the SlaTimer stopped while it asks) leaves nothing behind. */
    run_req_t *req = arbor_alloc(sizeof *req + in_size);
    if (!req)
        return ARBOR_ENOMEM;
    *req = (run_req_t){fn, in_size, out_size};
    if (in_size)
        memcpy(req + 1, in, in_size);
    arbor_msg_t *reply;
    int rc = arbor_gs_call(store, RUN, req, sizeof *req + in_size, store_call_timeout_ms(), &reply,
                           NULL);
    arbor_free(req);
    if (rc)
        return rc;
    memcpy(&rc, reply->data, sizeof rc);
    if (out_size)
        memcpy(out, (const char *)reply->data + STORE_RUN_HEAD, out_size);
    arbor_msg_free(reply);
    return rc;
}

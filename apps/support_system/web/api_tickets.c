/*
 * Tickets and agents over HTTP (api.h). This is the one file of the web
 * that calls the desk (desk.h, store.h, agents.h), so that a change in
 * the desk's API is adapted here alone.
 *
 *   GET  /api/tickets?status=&queue=&agent=&unassigned=&customer=&priority=&search=
 *                    &sort=&page=&limit=     a page of the list, and whether more follow
 *   GET  /api/queues                     the queues' sizes (mine: the signed-in agent's)
 *   POST /api/tickets                    {"description","customer","priority"}
 *   GET  /api/tickets/:id                the ticket and its history (ETag: its version)
 *   POST /api/tickets/:id/:action        the workflow (ticket.h's actions):
 *        assign {"agent"?} (none: the policy picks), reassign {"agent"}, unassign,
 *        pend, resume, resolve, reopen, close {"reason"?} (needed unless resolved),
 *        edit {"description"?,"customer"?,"priority"?}, reply {"text"}, note {"text"};
 *        each also takes {"version"?}
 *   GET  /api/agents                     the roster: load, and who may sign in
 *   POST /api/agents                     {"name","password"?,"role"?} (admin)
 *   POST /api/agents/:name/:action       rename {"name"}, activate, deactivate, available,
 *                                        unavailable (admin)
 *
 * A change names the version it was computed from, in If-Match or the
 * "version" field; if the ticket has moved on it is refused with 409 and
 * told who changed it. Changes are made in the signed-in agent's name.
 * A create or a change, of a ticket or of the roster, may carry an
 * Idempotency-Key (a request id): a retry under the same key is answered
 * with the first outcome and made no more (Idempotent-Replayed: true); the
 * key of another request is refused (422 request_id_reused). A change whose outcome is unknown is
 * answered 504 outcome_unknown (reply.c).
 */
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../desk.h"
#include "../desk_json.h"
#include "api.h"
#include "reply.h"

#define LIST_DEFAULT 100
#define LIST_MAX     1000

/* ---- reading ------------------------------------------------------------------------- */

/* The query parameters each reading takes, each at most once. */
static const char *const list_params[] = {"status",   "queue",    "agent",  "unassigned",
                                          "customer", "priority", "search", "sort",
                                          "page",     "limit",    NULL};
static const char *const show_params[] = {"history", "before", NULL};
static const char *const no_params[] = {NULL};

/* Every parameter of the query is one of params (NULL-terminated, at
 * most 16), named once: else 400 unknown_parameter, saying what the
 * reading takes (takes). */
static bool known_query(const arbor_http_request_t *req, arbor_http_response_t *res,
                        const char *const *params, const char *takes)
{
    bool seen[16] = {false};
    const char *p = req->query;
    while (*p) {
        size_t n = strcspn(p, "&"), k = strcspn(p, "=&");
        size_t i = 0;
        while (params[i] && !(k == strlen(params[i]) && strncmp(p, params[i], k) == 0))
            i++;
        if (n > 0 && (!params[i] || seen[i])) {
            char message[200];
            snprintf(message, sizeof message, "unknown or repeated parameter: %s", takes);
            web_error(res, 400, "unknown_parameter", message);
            return false;
        }
        if (n > 0)
            seen[i] = true;
        p += n + (p[n] == '&');
    }
    return true;
}

/* Query parameter name, decoded, into out: false when it answered 400
 * (a bad escape, or longer than size allows); *present says whether the
 * query has it. */
static bool query_param(const arbor_http_request_t *req, arbor_http_response_t *res,
                        const char *name, char *out, size_t size, bool *present)
{
    int rc = arbor_http_query(req->query, name, out, size);
    *present = rc >= 0;
    if (rc >= 0 || rc == ARBOR_ENOENT) {
        if (rc < 0)
            out[0] = '\0';
        return true;
    }
    char message[96];
    snprintf(message, sizeof message, "the parameter '%s' %s", name,
             rc == ARBOR_ETOOBIG ? "is too long" : "does not decode");
    web_error(res, 400, rc == ARBOR_ETOOBIG ? "field_too_long" : "bad_argument", message);
    return false;
}

/* A whole number from min to max, or 400 saying so. */
static bool query_number(arbor_http_response_t *res, const char *name, const char *text, long min,
                         long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || end == text || *end || text[0] < '0' || text[0] > '9' || v < min || v > max) {
        char message[96];
        snprintf(message, sizeof message, "%s must be a number from %ld to %ld", name, min, max);
        web_error(res, 400, "bad_argument", message);
        return false;
    }
    *out = v;
    return true;
}

/* One of names (n of them), as its index; else 400 listing them. */
static bool query_choice(arbor_http_response_t *res, const char *name, const char *text,
                         const char *const *names, int n, const char *list, int *out)
{
    for (int i = 0; i < n; i++)
        if (strcmp(text, names[i]) == 0) {
            *out = i;
            return true;
        }
    char message[128];
    snprintf(message, sizeof message, "%s must be one of %s", name, list);
    web_error(res, 400, "bad_argument", message);
    return false;
}

/* The queues a list may show (docs/api-http.md): as store_queues counts. */
typedef enum { QUEUE_MINE, QUEUE_UNASSIGNED, QUEUE_OPEN, QUEUE_PENDING, QUEUE_OVERDUE } queue_t;
static const char *const queue_names[] = {"mine", "unassigned", "open", "pending", "overdue"};
static const char *const sort_names[STORE_SORTS] = {"newest", "oldest", "priority", "updated"};

/* A list's filters, order and page, as the query asks, with the text
 * they point to. */
typedef struct list_query {
    store_filter_t f;
    ticket_status_t status;
    ticket_priority_t priority;
    char agent[TICKET_NAME_MAX * 4 + 1], customer[TICKET_NAME_MAX * 4 + 1];
    char search[TICKET_DESC_MAX * 4 + 1];
    long page, limit;
} list_query_t;

/* Reads the query into *q: false when it answered 400. */
static bool list_query(const arbor_http_request_t *req, arbor_http_response_t *res,
                       const web_session_t *who, list_query_t *q)
{
    char status[16], queue[16], unassigned[8], priority[16], sort[16], page[24], limit[24];
    bool has_status, has_queue, has_agent, has_unassigned, has_customer, has_priority, has_search,
        has_sort, has_page, has_limit;
    if (!known_query(req, res, list_params,
                     "the list takes status, queue, agent, unassigned, customer, priority,"
                     " search, sort, page and limit, each once") ||
        !query_param(req, res, "status", status, sizeof status, &has_status) ||
        !query_param(req, res, "queue", queue, sizeof queue, &has_queue) ||
        !query_param(req, res, "agent", q->agent, sizeof q->agent, &has_agent) ||
        !query_param(req, res, "unassigned", unassigned, sizeof unassigned, &has_unassigned) ||
        !query_param(req, res, "customer", q->customer, sizeof q->customer, &has_customer) ||
        !query_param(req, res, "priority", priority, sizeof priority, &has_priority) ||
        !query_param(req, res, "search", q->search, sizeof q->search, &has_search) ||
        !query_param(req, res, "sort", sort, sizeof sort, &has_sort) ||
        !query_param(req, res, "page", page, sizeof page, &has_page) ||
        !query_param(req, res, "limit", limit, sizeof limit, &has_limit))
        return false;
    q->f = (store_filter_t){.sort = STORE_SORT_NEWEST};
    q->page = 1;
    q->limit = LIST_DEFAULT;
    ticket_error_t err = {.code = ""};
    if (has_status && !ticket_status_parse(status, &q->status)) {
        web_error(res, 400, "bad_argument",
                  "status must be one of open, assigned, pending, resolved, closed");
        return false;
    }
    if (has_status)
        q->f.status = &q->status;
    if (has_agent && !ticket_check_text("agent", q->agent, TICKET_NAME_MAX, false, &err)) {
        web_error(res, 400, err.code, err.message);
        return false;
    }
    if (has_agent && !desk_agent_known(q->agent, &err)) {
        web_desk_error(res, &err);
        return false;
    }
    if (has_agent)
        q->f.agent = q->agent;
    if (has_unassigned && strcmp(unassigned, "true") != 0) {
        web_error(res, 400, "bad_argument", "unassigned takes the value true");
        return false;
    }
    if (has_unassigned && has_agent) {
        web_error(res, 400, "bad_argument", "agent and unassigned exclude each other");
        return false;
    }
    if (has_unassigned)
        q->f.agent = "";
    int queue_i = 0;
    if (has_queue && !query_choice(res, "queue", queue, queue_names, 5,
                                   "mine, unassigned, open, pending, overdue", &queue_i))
        return false;
    if (has_queue && (has_status || has_agent || has_unassigned)) {
        web_error(res, 400, "bad_argument",
                  "a queue sets the status and the agent: it excludes status, agent and"
                  " unassigned");
        return false;
    }
    if (has_queue) {
        static const ticket_status_t open_status = TICKET_OPEN, pending_status = TICKET_PENDING;
        switch ((queue_t)queue_i) {
        case QUEUE_MINE: /* assigned or pending to the signed-in agent */
            snprintf(q->agent, sizeof q->agent, "%s", who->agent);
            q->f.agent = q->agent;
            q->f.unresolved = true;
            break;
        case QUEUE_UNASSIGNED:
            q->f.status = &open_status;
            break;
        case QUEUE_OPEN:
            q->f.unresolved = true;
            break;
        case QUEUE_PENDING:
            q->f.status = &pending_status;
            break;
        case QUEUE_OVERDUE: /* breached their SLA, not resolved yet (sla.h) */
            q->f.overdue = true;
            break;
        }
    }
    if (has_customer && !ticket_check_text("customer", q->customer, TICKET_NAME_MAX, false, &err)) {
        web_error(res, 400, err.code, err.message);
        return false;
    }
    if (has_customer)
        q->f.customer = q->customer;
    if (has_priority && !ticket_priority_parse(priority, &q->priority)) {
        web_error(res, 400, "bad_argument", "priority must be one of low, normal, high, urgent");
        return false;
    }
    if (has_priority)
        q->f.priority = &q->priority;
    if (has_search && !ticket_check_text("search", q->search, TICKET_DESC_MAX, false, &err)) {
        web_error(res, 400, err.code, err.message);
        return false;
    }
    if (has_search)
        q->f.search = q->search;
    int sort_i = STORE_SORT_NEWEST;
    if (has_sort && !query_choice(res, "sort", sort, sort_names, STORE_SORTS,
                                  "newest, oldest, priority, updated", &sort_i))
        return false;
    q->f.sort = (store_sort_t)sort_i;
    if ((has_page && !query_number(res, "page", page, 1, INT32_MAX, &q->page)) ||
        (has_limit && !query_number(res, "limit", limit, 1, LIST_MAX, &q->limit)))
        return false;
    /* One more than the page holds: whether there is a next page. */
    q->f.offset = (size_t)(q->page - 1) * (size_t)q->limit;
    q->f.limit = (size_t)q->limit + 1;
    return true;
}

/* {"tickets":[...]} of the first limit of rows (n of them). */
static cJSON *tickets_json(const ticket_t *rows, size_t n, size_t limit)
{
    cJSON *j = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(j, "tickets");
    for (size_t i = 0; i < n && i < limit; i++)
        cJSON_AddItemToArray(arr, desk_ticket_json(&rows[i], NULL));
    return j;
}

void api_tickets_list(arbor_http_request_t *req, arbor_http_response_t *res,
                      const web_session_t *who)
{
    /* In this process's memory: the search alone is 800 bytes. */
    list_query_t *q = arbor_calloc(1, sizeof *q);
    if (!q) {
        web_error(res, 503, "out_of_memory", "out of memory");
        return;
    }
    if (!list_query(req, res, who, q)) {
        arbor_free(q);
        return;
    }
    ticket_t *rows;
    size_t n;
    ticket_error_t err = {.code = ""};
    int rc = store_find(&q->f, &rows, &n, &err);
    long page = q->page, limit = q->limit;
    arbor_free(q);
    if (rc == ARBOR_EINVAL) {
        web_error(res, 400, err.code, err.message);
        return;
    }
    if (rc) {
        web_desk_error(res, &err); /* never a shorter list */
        return;
    }
    cJSON *j = tickets_json(rows, n, (size_t)limit);
    free(rows);
    cJSON_AddNumberToObject(j, "page", (double)page);
    cJSON_AddNumberToObject(j, "limit", (double)limit);
    cJSON_AddBoolToObject(j, "more", n > (size_t)limit);
    web_json(res, 200, j);
}

void api_queues(arbor_http_request_t *req, arbor_http_response_t *res, const web_session_t *who)
{
    store_queues_t q;
    ticket_error_t err = {.code = ""};
    if (!known_query(req, res, no_params, "the queues take none"))
        return;
    if (store_queues(who->agent, &q, &err) != 0) {
        web_desk_error(res, &err);
        return;
    }
    cJSON *j = cJSON_CreateObject();
    cJSON *o = cJSON_AddObjectToObject(j, "queues");
    cJSON_AddNumberToObject(o, "mine", (double)q.mine);
    cJSON_AddNumberToObject(o, "unassigned", (double)q.unassigned);
    cJSON_AddNumberToObject(o, "open", (double)q.open);
    cJSON_AddNumberToObject(o, "pending", (double)q.pending);
    cJSON_AddNumberToObject(o, "overdue", (double)q.overdue);
    web_json(res, 200, j);
}

cJSON *api_tickets_newest(size_t limit)
{
    ticket_t *rows;
    size_t n;
    store_filter_t f = {.sort = STORE_SORT_NEWEST, .limit = limit};
    if (store_find(&f, &rows, &n, NULL) != 0)
        return NULL;
    cJSON *j = tickets_json(rows, n, limit);
    free(rows);
    return j;
}

/* Answers {"ticket":...}, with a page of its history when asked (not
 * NULL), and its version as ETag. */
static void answer_ticket(arbor_http_response_t *res, int status, const ticket_t *t,
                          const store_history_page_t *history)
{
    char etag[32];
    snprintf(etag, sizeof etag, "\"%lld\"", (long long)t->version);
    arbor_http_set_header(res, "ETag", etag);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddItemToObject(j, "ticket", desk_ticket_json(t, history));
    web_json(res, status, j);
}

/* The query parameter name, a number from 1 to max, into *out (left as
 * it is when absent); answers 400 and returns false when it is not. */
static bool history_param(const arbor_http_request_t *req, arbor_http_response_t *res,
                          const char *name, long max, int64_t *out)
{
    char s[24];
    bool present;
    long v;
    if (!query_param(req, res, name, s, sizeof s, &present))
        return false;
    if (!present)
        return true;
    if (!query_number(res, name, s, 1, max, &v))
        return false;
    *out = v;
    return true;
}

void api_ticket_show(arbor_http_request_t *req, arbor_http_response_t *res,
                     const web_session_t *who)
{
    int64_t id, history = 0, before = 0;
    if (!web_id_param(req, res, "id", &id) ||
        !known_query(req, res, show_params, "a ticket takes history and before, each once") ||
        !history_param(req, res, "history", STORE_HISTORY_MAX, &history) ||
        !history_param(req, res, "before", LONG_MAX, &before))
        return;
    ticket_t t;
    ticket_error_t err = {.code = ""};
    store_history_page_t page;
    if (desk_get(id, &t, &err) != 0 ||
        store_history(id, before, (size_t)history, &page, &err) != 0) {
        web_desk_error(res, &err);
        return;
    }
    answer_ticket(res, 200, &t, &page);
    free(page.entries);
}

/* ---- changing ------------------------------------------------------------------------- */

/* The signed-in agent, as the desk names who makes a change. */
static ticket_actor_t signed_in_agent(const web_session_t *who)
{
    ticket_actor_t by = {.kind = ACTOR_AGENT};
    snprintf(by.name, sizeof by.name, "%s", who->agent);
    return by;
}

static const char *const create_fields[] = {"description", "customer", "priority", NULL};

/* The request's Idempotency-Key header into once (absent: none). False
 * when it answered 400: not a request id (desk_check_request_id). */
static bool idempotency_key(const arbor_http_request_t *req, arbor_http_response_t *res,
                            desk_once_t *once)
{
    const char *key = arbor_http_header(req, "Idempotency-Key");
    ticket_error_t err = {.code = ""};
    once->request_id = key;
    once->replayed = false;
    if (!key || desk_check_request_id(key, &err))
        return true;
    web_error(res, 400, "bad_idempotency_key",
              "Idempotency-Key must be 1 to 64 visible ASCII characters (no blanks)");
    return false;
}

/* A retry answered with the first outcome says so. */
static void mark_replayed(arbor_http_response_t *res, const desk_once_t *once)
{
    if (once->replayed)
        arbor_http_set_header(res, "Idempotent-Replayed", "true");
}

void api_ticket_create(arbor_http_request_t *req, arbor_http_response_t *res,
                       const web_session_t *who)
{
    cJSON *body;
    desk_once_t once;
    if (!idempotency_key(req, res, &once) || !web_body(req, res, create_fields, false, &body))
        return;
    ticket_t t = {.priority = PRIORITY_NORMAL};
    char priority[16];
    bool has_priority;
    bool ok =
        web_text(res, body, "description", true, TICKET_DESC_MAX, false, t.description,
                 sizeof t.description, NULL) &&
        web_text(res, body, "customer", false, TICKET_NAME_MAX, true, t.customer, sizeof t.customer,
                 NULL) &&
        web_text(res, body, "priority", false, 10, false, priority, sizeof priority, &has_priority);
    cJSON_Delete(body);
    if (!ok)
        return;
    if (has_priority && !ticket_priority_parse(priority, &t.priority)) {
        web_error(res, 400, "bad_argument", "priority must be one of low, normal, high, urgent");
        return;
    }
    ticket_error_t err = {.code = ""};
    ticket_actor_t by = signed_in_agent(who);
    if (desk_create_once(&t, &by, &once, NULL, &err) != 0) {
        web_desk_error(res, &err);
        return;
    }
    mark_replayed(res, &once);
    char location[48];
    snprintf(location, sizeof location, "/api/tickets/%lld", (long long)t.id);
    arbor_http_set_header(res, "Location", location);
    answer_ticket(res, 201, &t, NULL);
}

/* The version a change was computed from: If-Match ("3", W/"3" or 3)
 * and/or the body's "version"; -1 when neither says. Both must agree. */
static bool expected_version(const arbor_http_request_t *req, arbor_http_response_t *res,
                             const cJSON *body, int64_t *out)
{
    bool in_body;
    int64_t v = -1;
    if (!web_whole(res, body, "version", &v, &in_body))
        return false;
    const char *h = arbor_http_header(req, "If-Match");
    *out = in_body ? v : -1;
    if (!h)
        return true;
    if (strncmp(h, "W/", 2) == 0)
        h += 2;
    char digits[24];
    size_t n = strlen(h);
    bool quoted = n >= 2 && h[0] == '"' && h[n - 1] == '"';
    if (quoted) {
        h++;
        n -= 2;
    }
    char *end;
    long long hv = -1;
    if (n > 0 && n < sizeof digits && h[0] >= '0' && h[0] <= '9') {
        snprintf(digits, sizeof digits, "%.*s", (int)n, h);
        errno = 0;
        hv = strtoll(digits, &end, 10);
        if (errno || *end)
            hv = -1;
    }
    if (hv < 0) {
        web_error(res, 400, "bad_argument", "If-Match must be a ticket's version, as its ETag");
        return false;
    }
    if (in_body && hv != v) {
        web_error(res, 400, "bad_argument", "If-Match and the field 'version' disagree");
        return false;
    }
    *out = hv;
    return true;
}

/* A conflict names who changed the ticket last, and what they did. */
static void answer_conflict(arbor_http_response_t *res, int64_t id, int64_t expected)
{
    ticket_t now;
    if (desk_get(id, &now, NULL) != 0) {
        web_error(res, 409, "conflict", "the ticket was changed since; nothing was changed");
        return;
    }
    store_history_page_t page = {0};
    char message[TICKET_NAME_SIZE + TICKET_EVENT_SIZE + 200];
    if (expected > now.version)
        snprintf(message, sizeof message,
                 "ticket %lld is at version %lld; it has no version %lld yet; nothing was changed",
                 (long long)id, (long long)now.version, (long long)expected);
    else if (store_history(id, 0, 1, &page, NULL) == 0 && page.n > 0)
        snprintf(message, sizeof message,
                 "ticket %lld was changed by %s (%s) after version %lld; it is now at version"
                 " %lld; nothing was changed",
                 (long long)id, page.entries[0].by.name, page.entries[0].what, (long long)expected,
                 (long long)now.version);
    else
        snprintf(message, sizeof message,
                 "ticket %lld is at version %lld, not %lld; nothing was changed", (long long)id,
                 (long long)now.version, (long long)expected);
    free(page.entries);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "code", "conflict");
    cJSON_AddStringToObject(j, "message", message);
    cJSON_AddItemToObject(j, "ticket", desk_ticket_json(&now, NULL));
    web_json(res, 409, j);
}

/* The actions a POST /api/tickets/:id/ACTION takes, and the fields of
 * each (besides "version"). */
typedef struct action_spec {
    ticket_action_t action;
    const char *const fields[5];
} action_spec_t;

static const action_spec_t action_specs[] = {
    {ACTION_ASSIGN, {"agent", "version"}},
    {ACTION_REASSIGN, {"agent", "version"}},
    {ACTION_UNASSIGN, {"version"}},
    {ACTION_PEND, {"version"}},
    {ACTION_RESUME, {"version"}},
    {ACTION_RESOLVE, {"version"}},
    {ACTION_REOPEN, {"version"}},
    {ACTION_CLOSE, {"reason", "version"}},
    {ACTION_EDIT, {"description", "customer", "priority", "version"}},
    {ACTION_REPLY, {"text", "version"}},
    {ACTION_NOTE, {"text", "version"}},
};

static const action_spec_t *action_named(const char *name)
{
    for (size_t i = 0; name && i < sizeof action_specs / sizeof action_specs[0]; i++)
        if (strcmp(ticket_action_name(action_specs[i].action), name) == 0)
            return &action_specs[i];
    return NULL;
}

/* The change's fields from the body into c: false when it answered 400. */
static bool change_fields(arbor_http_response_t *res, const cJSON *body, ticket_change_t *c)
{
    char priority[16];
    switch (c->action) {
    case ACTION_ASSIGN:
    case ACTION_REASSIGN:
        return web_text(res, body, "agent", c->action == ACTION_REASSIGN, TICKET_NAME_MAX, false,
                        c->agent, sizeof c->agent, NULL);
    case ACTION_CLOSE:
        return web_text(res, body, "reason", false, TICKET_NAME_MAX, false, c->reason,
                        sizeof c->reason, NULL);
    case ACTION_REPLY:
    case ACTION_NOTE:
        return web_body_text(res, body, "text", TICKET_TEXT_MAX, c->text, sizeof c->text);
    case ACTION_EDIT:
        if (!web_text(res, body, "description", false, TICKET_DESC_MAX, false, c->description,
                      sizeof c->description, &c->set_description) ||
            !web_text(res, body, "customer", false, TICKET_NAME_MAX, true, c->customer,
                      sizeof c->customer, &c->set_customer) ||
            !web_text(res, body, "priority", false, 10, false, priority, sizeof priority,
                      &c->set_priority))
            return false;
        if (c->set_priority && !ticket_priority_parse(priority, &c->priority)) {
            web_error(res, 400, "bad_argument",
                      "priority must be one of low, normal, high, urgent");
            return false;
        }
        return true;
    default:
        return true;
    }
}

void api_ticket_act(arbor_http_request_t *req, arbor_http_response_t *res, const web_session_t *who)
{
    int64_t id, expected;
    const action_spec_t *spec = action_named(arbor_http_param(req, "action"));
    if (!spec) {
        web_error(res, 404, "not_found",
                  "no such action: assign, reassign, unassign, pend, resume, resolve, reopen,"
                  " close, edit, reply, note");
        return;
    }
    cJSON *body;
    desk_once_t once;
    if (!web_id_param(req, res, "id", &id) || !idempotency_key(req, res, &once) ||
        !web_body(req, res, spec->fields, true, &body))
        return;
    /* In process memory, and only as much of it as the action uses: a
     * change's text alone is 8 KB, and only a reply or a note has one;
     * for the others the block ends just after the text's first byte (its
     * NUL), which is all that is read of it (ticket_change_size). Zeroed
     * up to there. */
    bool has_text = spec->action == ACTION_REPLY || spec->action == ACTION_NOTE;
    size_t head = offsetof(ticket_change_t, text) + 1;
    ticket_change_t *c = arbor_alloc(has_text ? sizeof *c : head);
    bool ok = c != NULL;
    if (!ok)
        web_error(res, 503, "out_of_memory", "out of memory");
    if (ok) {
        memset(c, 0, head);
        c->action = spec->action;
        ok = expected_version(req, res, body, &expected) && change_fields(res, body, c);
    }
    cJSON_Delete(body);
    ticket_t t;
    ticket_error_t err = {.code = ""};
    ticket_actor_t by = signed_in_agent(who);
    int rc = ok ? desk_change_once(id, expected, c, &by, &once, &t, &err) : 0;
    arbor_free(c);
    if (!ok)
        return;
    mark_replayed(res, &once);
    if (rc == 0)
        answer_ticket(res, 200, &t, NULL);
    else if (strcmp(err.code, "conflict") == 0)
        answer_conflict(res, id, expected);
    else
        web_desk_error(res, &err);
}

/* ---- agents ----------------------------------------------------------------------------- */

void api_agents_list(arbor_http_request_t *req, arbor_http_response_t *res,
                     const web_session_t *who)
{
    store_agent_t *got, *list;
    size_t n;
    ticket_error_t err = {.code = ""};
    if (agents_list(&got, &n, &err) != 0) {
        web_desk_error(res, &err);
        return;
    }
    /* Held across calls to the Store below: in this process's memory, so
     * that a connection killed meanwhile leaks nothing. */
    list = arbor_alloc(n ? n * sizeof *list : 1);
    if (list)
        memcpy(list, got, n * sizeof *list);
    free(got);
    if (!list) {
        web_error(res, 503, "out_of_memory", "out of memory");
        return;
    }
    cJSON *j = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(j, "agents");
    for (size_t i = 0; i < n; i++) {
        cJSON *a = cJSON_CreateObject();
        cJSON_AddStringToObject(a, "name", list[i].name);
        /* Load: the tickets assigned to the agent now (assigned or pending). */
        if (list[i].open >= 0)
            cJSON_AddNumberToObject(a, "load", (double)list[i].open);
        else
            cJSON_AddNullToObject(a, "load");
        cJSON_AddBoolToObject(a, "active", list[i].active);
        cJSON_AddBoolToObject(a, "available", list[i].available);
        credential_role_t role;
        int rc = credentials_role(list[i].name, &role);
        if (rc == 0)
            cJSON_AddStringToObject(a, "role", credential_role_name(role));
        else if (rc == ARBOR_ENOENT)
            cJSON_AddNullToObject(a, "role"); /* no password: cannot sign in */
        cJSON_AddItemToArray(arr, a);
        if (rc && rc != ARBOR_ENOENT) {
            /* Not "no password": the roster is not answered without it. */
            cJSON_Delete(j);
            arbor_free(list);
            web_error(res, 503, "store_error", "the agents' credentials could not be read");
            return;
        }
    }
    arbor_free(list);
    web_json(res, 200, j);
}

static const char *const agent_fields[] = {"name", "password", "role", NULL};

void api_agent_add(arbor_http_request_t *req, arbor_http_response_t *res, const web_session_t *who)
{
    cJSON *body;
    desk_once_t once;
    if (!idempotency_key(req, res, &once) || !web_body(req, res, agent_fields, false, &body))
        return;
    char name[TICKET_NAME_SIZE], password[PASSWORD_MAX * 4 + 1], role_s[16];
    bool has_password = false, has_role = false;
    bool ok = web_text(res, body, "name", true, TICKET_NAME_MAX, false, name, sizeof name, NULL) &&
              web_text(res, body, "password", false, PASSWORD_MAX, false, password, sizeof password,
                       &has_password) &&
              web_text(res, body, "role", false, 8, false, role_s, sizeof role_s, &has_role);
    cJSON_Delete(body);
    credential_role_t role = ROLE_AGENT;
    ticket_error_t err = {.code = ""};
    if (ok && has_role && !credential_role_parse(role_s, &role)) {
        web_error(res, 400, "bad_argument", "role must be agent or admin");
        ok = false;
    } else if (ok && has_role && !has_password) {
        web_error(res, 400, "missing_field", "a role needs a password to sign in with");
        ok = false;
    } else if (ok && has_password && !password_acceptable(password, &err)) {
        web_error(res, 400, err.code, err.message);
        ok = false;
    }
    /* The request's digest holds the role and whether a password was
     * given, never the password: the requests table keeps no secret. */
    char extra[32];
    snprintf(extra, sizeof extra, "%s%s", has_password ? "password " : "",
             has_role ? credential_role_name(role) : "");
    if (ok && desk_agent_add(name, extra, &once, &err) != 0) {
        web_desk_error(res, &err);
        ok = false;
    }
    /* The agent is on the roster now; a password that cannot be stored
     * leaves it there, without one, and says so. A retry (replayed) sets
     * the password only if the first request left the agent without one:
     * one set since stands. */
    credential_role_t now;
    bool set = ok && has_password && (!once.replayed || credentials_role(name, &now) != 0);
    if (set && credentials_set(name, password, role, false, &err) != 0) {
        web_desk_error(res, &err);
        ok = false;
    }
    explicit_bzero(password, sizeof password);
    if (!ok)
        return;
    mark_replayed(res, &once);
    cJSON *j = cJSON_CreateObject();
    cJSON *a = cJSON_AddObjectToObject(j, "agent");
    cJSON_AddStringToObject(a, "name", name);
    if (set || (has_password && credentials_role(name, &role) == 0))
        cJSON_AddStringToObject(a, "role", credential_role_name(role));
    else
        cJSON_AddNullToObject(a, "role");
    web_json(res, 201, j);
}

/* An agent's entry as the roster has it now. */
static cJSON *agent_json(const char *name)
{
    cJSON *a = cJSON_CreateObject();
    cJSON_AddStringToObject(a, "name", name);
    store_agent_t now;
    if (agents_lookup(name, &now, NULL) == 0) {
        cJSON_AddBoolToObject(a, "active", now.active);
        cJSON_AddBoolToObject(a, "available", now.available);
    }
    return a;
}

/* A refusal about an agent: one that is not on the roster is 404. */
static void agent_error(arbor_http_response_t *res, const ticket_error_t *err)
{
    if (strcmp(err->code, "unknown_agent") == 0)
        web_error(res, 404, err->code, err->message);
    else
        web_desk_error(res, err);
}

static const char *const rename_fields[] = {"name", NULL};
static const char *const no_fields[] = {NULL};

void api_agent_act(arbor_http_request_t *req, arbor_http_response_t *res, const web_session_t *who)
{
    static const char *const actions[] = {"rename", "activate", "deactivate", "available",
                                          "unavailable"};
    const char *action = arbor_http_param(req, "action");
    const char *name = arbor_http_param(req, "name");
    size_t k = 0;
    while (k < sizeof actions / sizeof actions[0] && strcmp(actions[k], action) != 0)
        k++;
    if (k == sizeof actions / sizeof actions[0]) {
        web_error(res, 404, "not_found",
                  "no such action: rename, activate, deactivate, available, unavailable");
        return;
    }
    ticket_error_t err = {.code = ""};
    if (!ticket_check_text("agent", name, TICKET_NAME_MAX, false, &err)) {
        web_error(res, 404, "unknown_agent", "there is no agent by that name");
        return;
    }
    /* The agent as the roster spells them (ADA is ada): the self check,
     * the sessions that end and the answer go by that name. */
    store_agent_t known;
    name = agents_spelling(name, &known);
    cJSON *body;
    desk_once_t once;
    if (!idempotency_key(req, res, &once) ||
        !web_body(req, res, k == 0 ? rename_fields : no_fields, k != 0, &body))
        return;
    char to[TICKET_NAME_SIZE];
    bool ok =
        k != 0 || web_text(res, body, "name", true, TICKET_NAME_MAX, false, to, sizeof to, NULL);
    cJSON_Delete(body);
    if (!ok)
        return;
    ticket_t *held = NULL;
    size_t n = 0;
    int rc;
    if (k == 0) {
        ticket_actor_t by = signed_in_agent(who);
        rc = desk_agent_rename_once(name, to, &by, &once, &err);
    } else if (k == 2 && strcmp(name, who->agent) == 0) {
        web_error(res, 409, "cannot_deactivate_self",
                  "you cannot deactivate yourself (you could no longer sign in); another admin "
                  "can, or the console's agent-deactivate");
        return;
    } else if (k == 2) {
        rc = desk_agent_deactivate_once(name, &once, &held, &n, &err);
    } else {
        rc = desk_agent_set(name, k == 1 ? 1 : -1, k == 3 ? 1 : k == 4 ? 0 : -1, &once, &err);
    }
    if (rc) {
        agent_error(res, &err);
        return;
    }
    mark_replayed(res, &once);
    cJSON *j = cJSON_CreateObject();
    cJSON *a = agent_json(k == 0 ? to : name);
    cJSON_AddItemToObject(j, "agent", a);
    if (k == 0) {
        cJSON_AddStringToObject(a, "was", name);
        /* Their sessions were in the old name: they sign in with the new one. */
        sessions_close_agent(name);
    }
    if (k == 2) {
        sessions_close_agent(name); /* a deactivated agent no longer signs in */
        cJSON *arr = cJSON_AddArrayToObject(j, "open_tickets");
        for (size_t i = 0; i < n; i++)
            cJSON_AddItemToArray(arr, desk_ticket_json(&held[i], NULL));
    }
    free(held);
    web_json(res, 200, j);
}

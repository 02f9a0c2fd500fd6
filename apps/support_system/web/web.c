/*
 * The Web branch (web.h): its tree, its routes, and the check before each
 * route of who may call it.
 *
 * Access: a public route runs for anyone; the others need a live session
 * (the "arbor_session" cookie: 401 without one), admin ones the admin role
 * (403), and every request that changes something (any method but GET and
 * HEAD) on a session must also carry the session's CSRF token in the
 * X-CSRF-Token header (403): a page on another site can make a browser
 * send the cookie, but cannot read the token. Signing in is public, and
 * is protected by requiring a JSON body (a form on another site cannot
 * send one without the browser asking first).
 */
#include "web.h"

#include "../name_wait.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../credentials.h"
#include "api.h"
#include "reply.h"
#include "sign_in_limit.h"

typedef enum { PUBLIC, SIGNED_IN, ADMIN } web_access_t;

typedef struct guard {
    web_api_fn fn;
    web_access_t access;
} guard_t;

/* The API's routes, then, when there is a dashboard, its files. */
#define ROUTES_MAX 32

struct web {
    arbor_http_server_t *http;
    char host[64];
    char root[4096];
    arbor_http_static_t files;
    arbor_http_route_t routes[ROUTES_MAX];
    arbor_http_router_t router; /* the API's routes and the files' */
    arbor_http_router_t api;    /* the API's alone: what a path under /api/ is routed by */
};

/* The session token in the request's Cookie header (out "" when none). */
static void session_cookie(const arbor_http_request_t *req, char out[SESSION_TOKEN_SIZE])
{
    out[0] = '\0';
    for (size_t i = 0; i < req->n_headers; i++) {
        if (strcasecmp(req->headers[i].name, "Cookie") != 0)
            continue;
        const char *p = req->headers[i].value;
        while (*p) {
            p += strspn(p, " \t;");
            size_t n = strcspn(p, ";");
            if (n > 15 && strncmp(p, "arbor_session=", 14) == 0 && n - 14 < SESSION_TOKEN_SIZE) {
                snprintf(out, SESSION_TOKEN_SIZE, "%.*s", (int)(n - 14), p + 14);
                return;
            }
            p += n;
        }
    }
}

int api_session_of(const arbor_http_request_t *req, web_session_t *out)
{
    char token[SESSION_TOKEN_SIZE];
    session_cookie(req, token);
    return token[0] ? sessions_find(token, out) : ARBOR_ENOENT;
}

static bool changes_something(const char *method)
{
    return strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0;
}

static void guarded(arbor_http_request_t *req, arbor_http_response_t *res, void *arg)
{
    const guard_t *g = arg;
    web_session_t who = {.token = ""};
    if (g->access == PUBLIC) {
        g->fn(req, res, &who);
        return;
    }
    if (api_session_of(req, &who) != 0) {
        web_error(res, 401, "not_signed_in", "sign in first (POST /api/session)");
        return;
    }
    const char *csrf = arbor_http_header(req, "X-CSRF-Token");
    if (changes_something(req->method) && !(csrf && sessions_token_equal(csrf, who.csrf))) {
        web_error(res, 403, "bad_csrf_token",
                  "a change needs the session's CSRF token in the X-CSRF-Token header");
        return;
    }
    if (g->access == ADMIN && who.role != ROLE_ADMIN) {
        web_error(res, 403, "forbidden", "only an admin may do this");
        return;
    }
    g->fn(req, res, &who);
}

#define GUARD(name, fn, access) static const guard_t name = {fn, access}
GUARD(g_session_open, api_session_open, PUBLIC);
GUARD(g_setup, api_setup, PUBLIC);
GUARD(g_session_show, api_session_show, PUBLIC); /* says when no one is signed in */
GUARD(g_session_close, api_session_close, SIGNED_IN);
GUARD(g_tickets, api_tickets_list, SIGNED_IN);
GUARD(g_queues, api_queues, SIGNED_IN);
GUARD(g_ticket, api_ticket_show, SIGNED_IN);
GUARD(g_create, api_ticket_create, SIGNED_IN);
GUARD(g_act, api_ticket_act, SIGNED_IN);
GUARD(g_agents, api_agents_list, SIGNED_IN);
GUARD(g_agent_add, api_agent_add, ADMIN);
GUARD(g_agent_act, api_agent_act, ADMIN);
GUARD(g_tree, api_tree, SIGNED_IN);
GUARD(g_processes, api_processes, SIGNED_IN);
GUARD(g_kill, api_process_kill, ADMIN);
GUARD(g_events, api_events, SIGNED_IN);

#define ROUTE(method, pattern, guard)                                                              \
    {                                                                                              \
        method, pattern, guarded, (void *)&guard                                                   \
    }
static const arbor_http_route_t api_routes[] = {
    ROUTE("POST", "/api/session", g_session_open),
    ROUTE("GET", "/api/session", g_session_show),
    ROUTE("DELETE", "/api/session", g_session_close),
    ROUTE("POST", "/api/setup", g_setup),
    ROUTE("GET", "/api/tickets", g_tickets),
    ROUTE("POST", "/api/tickets", g_create),
    ROUTE("GET", "/api/queues", g_queues),
    ROUTE("GET", "/api/tickets/:id", g_ticket),
    ROUTE("POST", "/api/tickets/:id/:action", g_act),
    ROUTE("GET", "/api/agents", g_agents),
    ROUTE("POST", "/api/agents", g_agent_add),
    ROUTE("POST", "/api/agents/:name/:action", g_agent_act),
    ROUTE("GET", "/api/tree", g_tree),
    ROUTE("GET", "/api/processes", g_processes),
    ROUTE("POST", "/api/processes/:pid/kill", g_kill),
    ROUTE("GET", "/api/events", g_events),
};
_Static_assert(sizeof api_routes / sizeof api_routes[0] < ROUTES_MAX, "room for the files' route");

/* The router's own answers (no such path 404, a method the path does not
 * take 405 with Allow, a parameter that does not decode 400) are plain
 * text; under /api/ they become JSON errors like every other. A path
 * under /api/ is routed among the API's routes alone: the files' GET
 * route matches every path, and answered GET /api/tickets/1/assign with
 * 404 (no such file) where the API's answer is 405, Allow: POST. */
/* What an API request answers if its connection's process dies before
 * the answer (killed with its supervisor, say): a change may have been
 * made by then, so its outcome is unknown, as the API says of a change
 * whose answer did not come; a read is a server error; a sign-in is to be
 * made again (a session it may have opened never reached the client: no
 * one holds it). In the API's JSON, never the HTTP library's plain 500. */
static void say_what_a_death_means(arbor_http_request_t *req, arbor_http_response_t *res)
{
    static const char sign_in[] =
        "{\"code\":\"unavailable\",\"message\":\"the desk's connection ended before the"
        " answer: you are not signed in; sign in again\"}";
    if (!strcmp(req->method, "POST") && !strcmp(req->path, "/api/session")) {
        arbor_http_set_crash_response(res, 503, "application/json", sign_in, sizeof sign_in - 1);
        return;
    }
    static const char change[] =
        "{\"code\":\"outcome_unknown\",\"message\":\"the desk's connection ended before the"
        " answer: the change may or may not have been made; retry it with the same"
        " Idempotency-Key, or read the ticket\"}";
    static const char read[] = "{\"code\":\"internal_error\",\"message\":\"the desk's connection"
                               " ended before the answer; nothing was changed\"}";
    bool reads = !strcmp(req->method, "GET") || !strcmp(req->method, "HEAD");
    arbor_http_set_crash_response(res, reads ? 500 : 504, "application/json", reads ? read : change,
                                  (reads ? sizeof read : sizeof change) - 1);
}

static void handle(arbor_http_request_t *req, arbor_http_response_t *res, void *arg)
{
    web_t *w = arg;
    if (strncmp(req->path, "/api/", 5) == 0)
        say_what_a_death_means(req, res);
    arbor_http_route(req, res, strncmp(req->path, "/api/", 5) == 0 ? &w->api : &w->router);
    bool json = res->content_type && strncmp(res->content_type, "application/json", 16) == 0;
    if (json || strncmp(req->path, "/api/", 5) != 0)
        return;
    if (res->status == 404)
        web_error(res, 404, "not_found", "there is no such API path (docs/api-http.md)");
    else if (res->status == 405)
        web_error(res, 405, "method_not_allowed", "the path does not take this method (see Allow)");
    else if (res->status == 400)
        web_error(res, 400, "bad_path", "a part of the path does not decode");
}

int web_new(const web_config_t *cfg, web_t **out)
{
    web_t *w = calloc(1, sizeof *w);
    if (!w)
        return ARBOR_ENOMEM;
    snprintf(w->host, sizeof w->host, "%s", cfg->host ? cfg->host : "127.0.0.1");
    size_t n = sizeof api_routes / sizeof api_routes[0];
    memcpy(w->routes, api_routes, sizeof api_routes);
    if (cfg->root) {
        /* The page is small and changes with the desk: revalidated by
         * its ETag on every load (no-cache), never stale. */
        snprintf(w->root, sizeof w->root, "%s", cfg->root);
        w->files = (arbor_http_static_t){.root = w->root, .max_age_s = 0};
        w->routes[n++] = (arbor_http_route_t){"GET", "/*path", arbor_http_static, &w->files};
    }
    w->api = (arbor_http_router_t){w->routes, sizeof api_routes / sizeof api_routes[0]};
    w->router = (arbor_http_router_t){w->routes, n};
    arbor_http_opts_t o = {.host = w->host,
                           .port = cfg->port,
                           .handler = handle,
                           .handler_arg = w,
                           /* an event stream is a long request: its
                            * heartbeat keeps it, not this timeout */
                           .limits = {.max_body = 64 * 1024}};
    int rc = arbor_http_server_new(&o, &w->http);
    if (rc) {
        free(w);
        return rc;
    }
    web_events_watch(true);
    web_json_memory(true);
    *out = w;
    return 0;
}

void web_free(web_t *web)
{
    if (!web)
        return;
    web_events_watch(false);
    web_json_memory(false);
    arbor_http_server_free(web->http);
    free(web);
    sessions_reset();
    sign_in_limit_reset();
}

uint16_t web_port(const web_t *web)
{
    return arbor_http_server_port(web->http);
}

static int events_start(void *arg, arbor_pid_t *pid, arbor_reason_t *err)
{
    arbor_registry_opts_t o = {
        .name = WEB_EVENTS_NAME, .keys = ARBOR_REGISTRY_DUPLICATE, .link = true};
    /* The Events of a Web that was killed may not have ended yet
     * (name_wait.h). */
    name_wait_free(WEB_EVENTS_NAME, 5000);
    return arbor_registry_start(&o, pid);
}

int web_start(void *arg, arbor_pid_t *pid, arbor_reason_t *err)
{
    web_t *w = arg;
    arbor_child_spec_t children[] = {
        {.id = "Events", .start = events_start},
        arbor_http_server_spec(w->http, "HTTP"),
    };
    /* The streams subscribed in Events: if it goes, they go with it and
     * their browsers reconnect and subscribe again. */
    arbor_sup_flags_t flags = ARBOR_SUP_FLAGS_DEFAULT;
    flags.strategy = ARBOR_ONE_FOR_ALL;
    arbor_sup_opts_t o = {.link = true};
    return arbor_sup_start(&flags, children, 2, &o, pid, err);
}

int web_first_admin_link(const web_t *web, char *url, size_t size)
{
    int64_t admins = 0;
    int rc = credentials_admins(&admins);
    if (rc)
        return rc;
    if (admins > 0)
        return 0;
    char token[SESSION_TOKEN_SIZE];
    if ((rc = sessions_setup_issue(SETUP_TTL_MS, token)))
        return rc;
    bool v6 = strchr(web->host, ':') != NULL;
    snprintf(url, size, "http://%s%s%s:%u/#setup=%s", v6 ? "[" : "", web->host, v6 ? "]" : "",
             (unsigned)web_port(web), token);
    return 1;
}

/*
 * Routing, decoding, and the helpers a handler calls on its request and
 * response.
 *
 * The router is a list tried in order, as Plug.Router's and Go's
 * ServeMux's are; matching walks the pattern and the path segment by
 * segment, with no allocation until a route matches (its parameters are
 * then decoded into the request's memory).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "http_internal.h"

/* ---- responses ------------------------------------------------------------------ */

void *arbor_http_alloc(arbor_http_response_t *res, size_t size)
{
    return arbor__http_alloc(HTTP_CONN_OF_RES(res), size);
}

int arbor_http_reply(arbor_http_response_t *res, int status, const char *content_type,
                     const void *body, size_t len)
{
    http_conn_t *c = HTTP_CONN_OF_RES(res);
    char *b = arbor__http_alloc(c, len);
    char *ct = content_type ? arbor__http_strdup(c, content_type, strlen(content_type)) : NULL;
    if (!b || (content_type && !ct))
        return ARBOR_ENOMEM;
    if (len)
        memcpy(b, body, len);
    res->status = status;
    res->content_type = ct;
    res->body = b;
    res->body_len = len;
    return 0;
}

int arbor_http_replyf(arbor_http_response_t *res, int status, const char *content_type,
                      const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return ARBOR_EINVAL;
    http_conn_t *c = HTTP_CONN_OF_RES(res);
    char *b = arbor__http_alloc(c, (size_t)n + 1);
    char *ct = content_type ? arbor__http_strdup(c, content_type, strlen(content_type)) : NULL;
    if (!b || (content_type && !ct))
        return ARBOR_ENOMEM;
    va_start(ap, fmt);
    vsnprintf(b, (size_t)n + 1, fmt, ap);
    va_end(ap);
    res->status = status;
    res->content_type = ct;
    res->body = b;
    res->body_len = (size_t)n;
    return 0;
}

static bool clean_text(const char *s)
{
    for (; *s; s++)
        if (*s == '\r' || *s == '\n')
            return false;
    return true;
}

int arbor_http_set_header(arbor_http_response_t *res, const char *name, const char *value)
{
    static const char *const reserved[] = {"content-length", "transfer-encoding", "connection",
                                           "date", "server"};
    if (!name || !value || !*name || !clean_text(value))
        return ARBOR_EINVAL;
    for (const char *p = name; *p; p++)
        if (!arbor__http_tchar((unsigned char)*p))
            return ARBOR_EINVAL;
    for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++)
        if (!strcasecmp(name, reserved[i]))
            return ARBOR_EINVAL;
    http_conn_t *c = HTTP_CONN_OF_RES(res);
    if (!c->res_headers)
        return ARBOR_EINVAL; /* an event stream, whose head is sent */
    if (c->n_res_headers >= HTTP_MAX_RESPONSE_HEADERS)
        return ARBOR_ETOOBIG;
    char *n = arbor__http_strdup(c, name, strlen(name));
    char *v = arbor__http_strdup(c, value, strlen(value));
    if (!n || !v)
        return ARBOR_ENOMEM;
    c->res_headers[c->n_res_headers++] = (arbor_http_header_t){n, v};
    return 0;
}

/* ---- requests ------------------------------------------------------------------------ */

const char *arbor_http_header(const arbor_http_request_t *req, const char *name)
{
    for (size_t i = 0; i < req->n_headers; i++)
        if (!strcasecmp(req->headers[i].name, name))
            return req->headers[i].value;
    return NULL;
}

const char *arbor_http_param(const arbor_http_request_t *req, const char *name)
{
    for (size_t i = 0; i < req->n_params; i++)
        if (!strcmp(req->params[i].name, name))
            return req->params[i].value;
    return NULL;
}

static int hex(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int arbor_http_decode(const char *in, size_t len, char *out, size_t size, bool plus_is_space)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char ch = in[i];
        if (ch == '%') {
            int hi = i + 2 < len ? hex(in[i + 1]) : -1;
            int lo = i + 2 < len ? hex(in[i + 2]) : -1;
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
                return ARBOR_EINVAL;
            ch = (char)(hi * 16 + lo);
            i += 2;
        } else if (ch == '+' && plus_is_space) {
            ch = ' ';
        }
        if (o + 1 >= size)
            return ARBOR_ETOOBIG;
        out[o++] = ch;
    }
    if (size == 0)
        return ARBOR_ETOOBIG;
    out[o] = '\0';
    return (int)o;
}

int arbor_http_query(const char *query, const char *name, char *out, size_t size)
{
    size_t want = strlen(name);
    const char *p = query;
    while (*p) {
        const char *end = strchr(p, '&');
        if (!end)
            end = p + strlen(p);
        const char *eq = memchr(p, '=', (size_t)(end - p));
        const char *kend = eq ? eq : end;
        char key[256];
        int k = arbor_http_decode(p, (size_t)(kend - p), key, sizeof key, true);
        if (k >= 0 && (size_t)k == want && !memcmp(key, name, want)) {
            const char *v = eq ? eq + 1 : end;
            return arbor_http_decode(v, (size_t)(end - v), out, size, true);
        }
        p = *end ? end + 1 : end;
    }
    return ARBOR_ENOENT;
}

/* ---- routing ---------------------------------------------------------------------------- */

/* Matches path against pattern; on a match stores the parameters' raw
 * spans in names/values (up to ARBOR_HTTP_MAX_PARAMS) and returns their
 * number, else -1. */
typedef struct span {
    const char *at;
    size_t len;
} span_t;

static int match(const char *pattern, const char *path, span_t *names, span_t *values)
{
    int n = 0;
    const char *p = pattern, *s = path;
    for (;;) {
        if (*p == '\0')
            return *s == '\0' ? n : -1;
        if (*p == '*' && (p == pattern || p[-1] == '/')) {
            if (n == ARBOR_HTTP_MAX_PARAMS)
                return -1;
            names[n] = (span_t){p + 1, strlen(p + 1)};
            values[n++] = (span_t){s, strlen(s)};
            return n;
        }
        if (*p == ':' && p > pattern && p[-1] == '/') {
            const char *pend = strchr(p, '/');
            if (!pend)
                pend = p + strlen(p);
            const char *send = strchr(s, '/');
            if (!send)
                send = s + strlen(s);
            if (send == s || n == ARBOR_HTTP_MAX_PARAMS)
                return -1;
            names[n] = (span_t){p + 1, (size_t)(pend - p - 1)};
            values[n++] = (span_t){s, (size_t)(send - s)};
            p = pend;
            s = send;
            continue;
        }
        if (*p != *s)
            return -1;
        p++;
        s++;
    }
}

static bool method_matches(const char *route, const char *method)
{
    return !route || !strcmp(route, method) || (!strcmp(method, "HEAD") && !strcmp(route, "GET"));
}

void arbor_http_route(arbor_http_request_t *req, arbor_http_response_t *res, void *arg)
{
    const arbor_http_router_t *r = arg;
    http_conn_t *c = HTTP_CONN_OF_REQ(req);
    span_t names[ARBOR_HTTP_MAX_PARAMS], values[ARBOR_HTTP_MAX_PARAMS];
    char allow[256]; /* not zeroed whole: a route that matches at once never reads it */
    size_t allow_len = 0;
    allow[0] = '\0';
    bool path_matched = false;
    for (size_t i = 0; i < r->n; i++) {
        const arbor_http_route_t *rt = &r->routes[i];
        int n = match(rt->pattern, req->path, names, values);
        if (n < 0)
            continue;
        path_matched = true;
        if (!method_matches(rt->method, req->method)) {
            if (rt->method && !strstr(allow, rt->method) &&
                allow_len + strlen(rt->method) + 3 < sizeof allow)
                allow_len += (size_t)snprintf(allow + allow_len, sizeof allow - allow_len, "%s%s",
                                              allow_len ? ", " : "", rt->method);
            continue;
        }
        for (int k = 0; k < n; k++) {
            char *name = arbor__http_strdup(c, names[k].at, names[k].len);
            char *value = arbor__http_alloc(c, values[k].len + 1);
            if (!name || !value) {
                arbor_http_reply(res, 500, "text/plain", "out of memory\n", 14);
                return;
            }
            if (arbor_http_decode(values[k].at, values[k].len, value, values[k].len + 1, false) <
                0) {
                arbor_http_reply(res, 400, "text/plain", "Bad Request\n", 12);
                return;
            }
            c->params[k] = (arbor_http_header_t){name, value};
        }
        req->params = c->params;
        req->n_params = (size_t)n;
        rt->handler(req, res, rt->arg);
        return;
    }
    if (!path_matched) {
        arbor_http_reply(res, 404, "text/plain", "Not Found\n", 10);
        return;
    }
    arbor_http_reply(res, 405, "text/plain", "Method Not Allowed\n", 19);
    arbor_http_set_header(res, "Allow", allow);
}

const char *arbor_http_status_text(int status)
{
    switch (status) {
    case 100:
        return "Continue";
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 206:
        return "Partial Content";
    case 301:
        return "Moved Permanently";
    case 302:
        return "Found";
    case 303:
        return "See Other";
    case 304:
        return "Not Modified";
    case 307:
        return "Temporary Redirect";
    case 308:
        return "Permanent Redirect";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 410:
        return "Gone";
    case 411:
        return "Length Required";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 415:
        return "Unsupported Media Type";
    case 416:
        return "Range Not Satisfiable";
    case 417:
        return "Expectation Failed";
    case 422:
        return "Unprocessable Content";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    default:
        return "";
    }
}

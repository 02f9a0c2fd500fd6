/*
 * The web API's requests and answers (reply.h).
 */
#include "reply.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../../common/utf8.h"

/* A first guess at an answer's size: a ticket with its longest texts
 * fits. */
#define JSON_GUESS 4096

void web_json(arbor_http_response_t *res, int status, cJSON *j)
{
    /* Printed straight into the response's memory, which the connection
     * frees after sending: no buffer of cJSON's, grown and copied, then
     * copied again. A larger document is printed as below. */
    char *direct = j ? arbor_http_alloc(res, JSON_GUESS) : NULL;
    if (direct && cJSON_PrintPreallocated(j, direct, JSON_GUESS, false)) {
        cJSON_Delete(j);
        arbor_http_set_header(res, "Cache-Control", "no-store");
        res->status = status;
        res->content_type = "application/json";
        res->body = direct;
        res->body_len = strlen(direct);
        return;
    }
    char *text = j ? cJSON_PrintUnformatted(j) : NULL;
    cJSON_Delete(j);
    if (!text) {
        static const char oom[] = "{\"code\":\"out_of_memory\",\"message\":\"out of memory\"}";
        arbor_http_reply(res, 503, "application/json", oom, sizeof oom - 1);
        return;
    }
    arbor_http_set_header(res, "Cache-Control", "no-store");
    arbor_http_reply(res, status, "application/json", text, strlen(text));
    cJSON_free(text);
}

void web_error(arbor_http_response_t *res, int status, const char *code, const char *message)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "code", code);
    cJSON_AddStringToObject(j, "message", message);
    web_json(res, status, j);
}

static bool code_is(const ticket_error_t *e, const char *code)
{
    return strcmp(e->code, code) == 0;
}

void web_desk_error(arbor_http_response_t *res, const ticket_error_t *e)
{
    int status = 400;
    if (code_is(e, "unknown_ticket"))
        status = 404;
    else if (code_is(e, "forbidden"))
        status = 403;
    else if (code_is(e, "conflict") || code_is(e, "invalid_transition") ||
             code_is(e, "already_assigned") || code_is(e, "no_agents") ||
             code_is(e, "agent_exists") || code_is(e, "agent_inactive") || code_is(e, "unchanged"))
        status = 409;
    else if (code_is(e, "request_id_reused"))
        status = 422;
    else if (code_is(e, "outcome_unknown"))
        status = 504; /* the change may have been made: retry with the same Idempotency-Key */
    else if (code_is(e, "unavailable") || strncmp(e->code, "store", 5) == 0 || !e->code[0])
        status = 503;
    web_error(res, status, e->code[0] ? e->code : "unavailable",
              e->message[0] ? e->message : "the desk did not answer");
}

static bool bad(arbor_http_response_t *res, const char *code, const char *fmt, const char *what)
{
    char message[320];
    snprintf(message, sizeof message, fmt, what);
    web_error(res, 400, code, message);
    return false;
}

/* True when the media type of content_type is application/json. */
static bool is_json(const char *content_type)
{
    if (!content_type)
        return false;
    size_t n = strcspn(content_type, "; \t");
    return n == 16 && strncasecmp(content_type, "application/json", 16) == 0;
}

/* A \u0000 escape would cut a string short once decoded. */
static bool has_escaped_nul(const char *s, size_t len)
{
    for (size_t i = 0; i + 6 <= len; i++)
        if (s[i] == '\\' && (s[i + 1] == 'u' || s[i + 1] == 'U') &&
            strncmp(s + i + 2, "0000", 4) == 0)
            return true;
    return false;
}

bool web_body(const arbor_http_request_t *req, arbor_http_response_t *res,
              const char *const *allowed, bool empty_ok, cJSON **out)
{
    *out = NULL;
    if (req->body_len == 0 && empty_ok) {
        *out = cJSON_CreateObject();
        return *out != NULL || bad(res, "out_of_memory", "%s", "out of memory");
    }
    if (!is_json(arbor_http_header(req, "Content-Type")))
        return bad(res, "bad_content_type", "the body must be JSON (Content-Type: %s)",
                   "application/json");
    size_t at;
    if (!utf8_check(req->body, req->body_len, NULL, &at) ||
        has_escaped_nul(req->body, req->body_len))
        return bad(res, "bad_encoding", "the body is not valid UTF-8 text without NUL%s", "");
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(req->body, req->body_len, &end, false);
    if (!j)
        return bad(res, "malformed_json", "the body is not valid JSON%s", "");
    while (end && end < req->body + req->body_len && strchr(" \t\r\n", *end))
        end++;
    if (end != req->body + req->body_len) {
        cJSON_Delete(j);
        return bad(res, "malformed_json", "the body holds more than one JSON value%s", "");
    }
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return bad(res, "malformed_json", "the body must be a JSON object%s", "");
    }
    const cJSON *m;
    cJSON_ArrayForEach(m, j)
    {
        bool known = false;
        for (size_t i = 0; allowed && allowed[i] && !known; i++)
            known = strcmp(m->string, allowed[i]) == 0;
        for (const cJSON *o = j->child; known && o != m; o = o->next)
            if (strcmp(o->string, m->string) == 0)
                known = false; /* the same member twice */
        if (!known) {
            char name[80];
            snprintf(name, sizeof name, "%.64s", m->string);
            cJSON_Delete(j);
            return bad(res, "unknown_field", "unknown or repeated field '%s'", name);
        }
    }
    *out = j;
    return true;
}

bool web_body_none(const arbor_http_request_t *req, arbor_http_response_t *res)
{
    cJSON *body;
    if (!web_body(req, res, NULL, true, &body))
        return false;
    cJSON_Delete(body);
    return true;
}

/* The member name of obj as a string into *text (NULL when absent or
 * null: an error if required). False after answering why not. */
static bool member_string(arbor_http_response_t *res, const cJSON *obj, const char *name,
                          bool required, bool *present, const char **text)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    *text = NULL;
    if (present)
        *present = v && !cJSON_IsNull(v);
    if (!v || cJSON_IsNull(v))
        return !required || bad(res, "missing_field", "the field '%s' is required", name);
    if (!cJSON_IsString(v))
        return bad(res, "wrong_type", "the field '%s' must be a string", name);
    *text = v->valuestring;
    return true;
}

/* text, checked (ok) or refused (err), into out (size bytes). */
static bool take_text(arbor_http_response_t *res, const char *name, const char *text, bool ok,
                      const ticket_error_t *err, char *out, size_t size)
{
    if (!ok) {
        web_error(res, 400, err->code, err->message);
        return false;
    }
    if (strlen(text) >= size)
        return bad(res, "field_too_long", "the field '%s' is too long", name);
    snprintf(out, size, "%s", text);
    return true;
}

bool web_text(arbor_http_response_t *res, const cJSON *obj, const char *name, bool required,
              size_t max, bool may_be_empty, char *out, size_t size, bool *present)
{
    const char *text;
    out[0] = '\0';
    if (!member_string(res, obj, name, required, present, &text))
        return false;
    if (!text)
        return true;
    ticket_error_t err = {.code = ""};
    return take_text(res, name, text, ticket_check_text(name, text, max, may_be_empty, &err), &err,
                     out, size);
}

bool web_body_text(arbor_http_response_t *res, const cJSON *obj, const char *name, size_t max,
                   char *out, size_t size)
{
    const char *text;
    out[0] = '\0';
    if (!member_string(res, obj, name, true, NULL, &text))
        return false;
    /* A line break sent as CR LF (a form's, Windows') is kept as LF, as
     * the console reads lines; a CR alone is a control character. */
    char *lf = malloc(strlen(text) + 1);
    if (!lf) {
        web_error(res, 503, "unavailable", "out of memory");
        return false;
    }
    size_t n = 0;
    for (const char *p = text; *p; p++)
        if (!(p[0] == '\r' && p[1] == '\n'))
            lf[n++] = *p;
    lf[n] = '\0';
    ticket_error_t err = {.code = ""};
    bool ok = take_text(res, name, lf, ticket_check_body(name, lf, max, &err), &err, out, size);
    free(lf);
    return ok;
}

bool web_whole(arbor_http_response_t *res, const cJSON *obj, const char *name, int64_t *out,
               bool *present)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    *present = v && !cJSON_IsNull(v);
    if (!*present)
        return true;
    double d = cJSON_IsNumber(v) ? v->valuedouble : -1;
    if (!cJSON_IsNumber(v) || d < 0 || d > 9007199254740992.0 || d != (double)(int64_t)d)
        return bad(res, "wrong_type",
                   "the field '%s' must be a whole number from 0 to 9007199254740992", name);
    *out = (int64_t)d;
    return true;
}

bool web_id_param(const arbor_http_request_t *req, arbor_http_response_t *res, const char *name,
                  int64_t *out)
{
    const char *s = arbor_http_param(req, name);
    char *end;
    errno = 0;
    long long v = s && s[0] >= '1' && s[0] <= '9' ? strtoll(s, &end, 10) : 0;
    if (!s || v <= 0 || errno || *end) {
        char message[128];
        snprintf(message, sizeof message, "there is no ticket %.64s", s ? s : "");
        web_error(res, 404, "unknown_ticket", message);
        return false;
    }
    *out = v;
    return true;
}

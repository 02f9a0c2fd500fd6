/*
 * Signing in and out, and the first admin (api.h).
 *
 *   POST   /api/session  {"name","password"}  -> 200 {"agent","role","csrf_token"} + cookie;
 *                                                429 + Retry-After after too many failures
 *                                                (sign_in_limit.h)
 *   GET    /api/session                       -> 200 the same (a page that reloads), or
 *                                                {"agent":null} when not signed in
 *   DELETE /api/session                       -> 200 {"signed_out":true}, cookie cleared
 *   POST   /api/setup    {"token","name","password"}: the one-time link
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../agents.h"
#include "api.h"
#include "reply.h"
#include "sign_in_limit.h"

void api_session_cookie(arbor_http_response_t *res, const web_session_t *s)
{
    char cookie[160];
    if (s)
        snprintf(cookie, sizeof cookie,
                 "arbor_session=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%lld", s->token,
                 (long long)(SESSION_TTL_MS / 1000));
    else
        snprintf(cookie, sizeof cookie,
                 "arbor_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    arbor_http_set_header(res, "Set-Cookie", cookie);
}

static cJSON *session_json(const web_session_t *s)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "agent", s->agent);
    cJSON_AddStringToObject(j, "role", credential_role_name(s->role));
    cJSON_AddStringToObject(j, "csrf_token", s->csrf);
    cJSON_AddNumberToObject(j, "expires_at", (double)s->expires_ms);
    return j;
}

/* How long a session lasts: SESSION_TTL_MS, or for the tests the
 * ARBOR_DESK_TEST_SESSION_TTL_MS environment variable (1 ms to 12 hours). */
static int64_t session_ttl_ms(void)
{
    const char *env = getenv("ARBOR_DESK_TEST_SESSION_TTL_MS");
    long long ms = env ? strtoll(env, NULL, 10) : 0;
    return ms >= 1 && ms <= SESSION_TTL_MS ? ms : SESSION_TTL_MS;
}

/* Opens a session for agent and answers it with its cookie. */
static void signed_in(arbor_http_response_t *res, const char *agent, credential_role_t role)
{
    web_session_t s;
    if (sessions_open(agent, role, session_ttl_ms(), &s) != 0) {
        web_error(res, 503, "unavailable", "no session could be made (no randomness)");
        return;
    }
    api_session_cookie(res, &s);
    web_json(res, 200, session_json(&s));
}

static const char *const credential_fields[] = {"name", "password", NULL};

/* The request's peer's address, without its port ("127.0.0.1", "[::1]"). */
static void peer_address(const arbor_http_request_t *req, char *out, size_t size)
{
    arbor_sockaddr_format(&req->peer, out, size);
    char *colon = strrchr(out, ':');
    if (colon && (strchr(out, '.') || out[0] == '['))
        *colon = '\0';
}

/* 429 with Retry-After: the sign-in waits wait_ms more. */
static void too_many(arbor_http_response_t *res, int64_t wait_ms)
{
    char seconds[24], message[120];
    snprintf(seconds, sizeof seconds, "%lld", (long long)((wait_ms + 999) / 1000));
    arbor_http_set_header(res, "Retry-After", seconds);
    snprintf(message, sizeof message,
             "too many failed sign-ins for this name or from this address; try again in %s s",
             seconds);
    web_error(res, 429, "too_many_attempts", message);
}

void api_session_open(arbor_http_request_t *req, arbor_http_response_t *res,
                      const web_session_t *who)
{
    cJSON *body;
    if (!web_body(req, res, credential_fields, false, &body))
        return;
    char name[TICKET_NAME_SIZE], password[PASSWORD_MAX * 4 + 1];
    bool ok =
        web_text(res, body, "name", true, TICKET_NAME_MAX, false, name, sizeof name, NULL) &&
        web_text(res, body, "password", true, PASSWORD_MAX, false, password, sizeof password, NULL);
    cJSON_Delete(body);
    if (!ok) {
        explicit_bzero(password, sizeof password);
        return;
    }
    char address[64];
    peer_address(req, address, sizeof address);
    int64_t wait = sign_in_wait_ms(name, address);
    if (wait > 0) {
        explicit_bzero(password, sizeof password);
        too_many(res, wait);
        return;
    }
    credential_role_t role;
    bool active;
    char agent[TICKET_NAME_SIZE]; /* name as the roster spells it */
    int rc = credentials_check(name, password, &role, &active, agent);
    explicit_bzero(password, sizeof password);
    if (rc == ARBOR_EACCES) {
        sign_in_failed(name, address);
        web_error(res, 401, "bad_credentials", "wrong name or password");
    } else if (rc == ARBOR_EEXIT) {
        web_error(res, 503, "store_error",
                  "the desk could not read the passwords from its database (the operator's"
                  " 'stats' says why)");
    } else if (rc) {
        web_error(res, 503, "unavailable", "the desk could not check the password");
    } else if (!active) {
        /* The password was right: the agent's sign-in ended with them. */
        char message[TICKET_NAME_SIZE + 80];
        snprintf(message, sizeof message, "agent %s is deactivated: an admin can activate them",
                 agent);
        web_error(res, 403, "agent_inactive", message);
    } else {
        sign_in_succeeded(agent);
        signed_in(res, agent, role);
    }
}

/* Public: a page asks on load whether it is signed in, and an answer of
 * 401 would be logged as a failure by the browser. */
void api_session_show(arbor_http_request_t *req, arbor_http_response_t *res,
                      const web_session_t *who)
{
    web_session_t s;
    if (api_session_of(req, &s) != 0) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddNullToObject(j, "agent");
        web_json(res, 200, j);
        return;
    }
    web_json(res, 200, session_json(&s));
}

void api_session_close(arbor_http_request_t *req, arbor_http_response_t *res,
                       const web_session_t *who)
{
    if (!web_body_none(req, res))
        return;
    sessions_close(who->token);
    api_session_cookie(res, NULL);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddTrueToObject(j, "signed_out");
    web_json(res, 200, j);
}

static const char *const setup_fields[] = {"token", "name", "password", NULL};

/* The first admin: the setup token is checked (and spent) only once the
 * rest of the request is known to be acceptable, so a typo does not burn
 * the link. */
void api_setup(arbor_http_request_t *req, arbor_http_response_t *res, const web_session_t *who)
{
    cJSON *body;
    if (!web_body(req, res, setup_fields, false, &body))
        return;
    char token[SESSION_TOKEN_SIZE + 1], name[TICKET_NAME_SIZE], password[PASSWORD_MAX * 4 + 1];
    bool ok =
        web_text(res, body, "token", true, SESSION_TOKEN_SIZE, false, token, sizeof token, NULL) &&
        web_text(res, body, "name", true, TICKET_NAME_MAX, false, name, sizeof name, NULL) &&
        web_text(res, body, "password", true, PASSWORD_MAX, false, password, sizeof password, NULL);
    cJSON_Delete(body);
    ticket_error_t err = {.code = ""};
    if (ok && !password_acceptable(password, &err)) {
        web_error(res, 400, err.code, err.message);
        ok = false;
    }
    int64_t admins = 1;
    if (ok && (credentials_admins(&admins) != 0 || admins > 0)) {
        web_error(res, 403, "bad_setup_token",
                  "the desk has an admin already: sign in, or ask an admin for an account");
        ok = false;
    }
    if (ok && !sessions_setup_redeem(token)) {
        web_error(res, 403, "bad_setup_token",
                  "this sign-in link is not valid: it was used, it expired (15 minutes), or the"
                  " desk restarted; restart the desk for a new one");
        ok = false;
    }
    store_agent_t known;
    bool redeemed = ok;
    if (ok && agents_lookup(name, &known, NULL) == 0) {
        memcpy(name, known.name, sizeof name); /* an agent already: as the roster spells them */
    } else if (ok && agents_add(name, &err) != 0) {
        web_desk_error(res, &err);
        ok = false;
    }
    if (ok && credentials_set(name, password, ROLE_ADMIN, false, &err) != 0) {
        web_desk_error(res, &err);
        ok = false;
    }
    if (redeemed && !ok) /* no admin yet: the link may be used again */
        sessions_setup_give_back(token);
    explicit_bzero(password, sizeof password);
    if (ok)
        signed_in(res, name, ROLE_ADMIN);
}

/*
 * Web sessions, kept in memory: a signed-in agent holds a random session
 * token (in an HttpOnly, SameSite=Strict cookie) and a CSRF token (which
 * the page sends back as X-CSRF-Token on every change). A session ends
 * when it expires, when its agent signs out or its password is reset, or
 * when the desk stops: a restart signs everyone out (docs/desk.md says
 * why). Also the one-time setup token for the first admin.
 *
 * Any thread: the tables are guarded by a mutex, held only to copy.
 */
#ifndef WEB_SESSIONS_H
#define WEB_SESSIONS_H

#include <stdbool.h>
#include <stdint.h>

#include "../credentials.h"

#define SESSION_TOKEN_SIZE 65                      /* 32 random bytes in hex, and a NUL */
#define SESSION_TTL_MS     (12 * 60 * 60 * 1000LL) /* 12 hours from sign-in */
#define SETUP_TTL_MS       (15 * 60 * 1000LL)      /* the first admin's link: 15 minutes */
#define SESSIONS_MAX       1024

typedef struct web_session {
    char token[SESSION_TOKEN_SIZE];
    char csrf[SESSION_TOKEN_SIZE];
    char agent[TICKET_NAME_SIZE];
    credential_role_t role;
    int64_t expires_ms; /* wall clock, ms since the epoch */
} web_session_t;

/* Fills out with fresh random tokens (session and CSRF) for a session of
 * agent with role from now for ttl_ms (SESSION_TTL_MS), and records it (the
 * session that expires first gives way when SESSIONS_MAX are open).
 * Returns 0, or ARBOR_EAGAIN when there was no randomness. */
int sessions_open(const char *agent, credential_role_t role, int64_t ttl_ms, web_session_t *out);

/* The live session whose token is token: 0 and *out, or ARBOR_ENOENT
 * (unknown or expired; an expired one is forgotten). */
int sessions_find(const char *token, web_session_t *out);

/* Ends the session token (none: nothing). */
void sessions_close(const char *token);

/* Ends every session of agent (after a password reset, a rename or a
 * deactivation). Any process; no-op when the web never started. */
void sessions_close_agent(const char *agent);

/* Calls fn (NULL: none) after sessions end by sessions_close(),
 * sessions_close_agent() or a full table, from the process that ended
 * them; not when one expires (its end is its expires_ms). */
void sessions_watch_ends(void (*fn)(void));

/* True when the two tokens are equal, compared in constant time. */
bool sessions_token_equal(const char *a, const char *b);

/* Makes a new one-time setup token (replacing any earlier), valid for
 * ttl_ms (SETUP_TTL_MS). Returns 0, or ARBOR_EAGAIN. */
int sessions_setup_issue(int64_t ttl_ms, char out[SESSION_TOKEN_SIZE]);

/* True once for the setup token issued last, before it expires: a true
 * answer spends it. */
bool sessions_setup_redeem(const char *token);

/* Gives back token, redeemed last by a setup that made no admin (a name
 * refused, the Store unavailable): it is valid again until its time, unless
 * another has been issued since. */
void sessions_setup_give_back(const char *token);

/* Forgets every session and the setup token (a desk that stops). */
void sessions_reset(void);

#endif

/*
 * The web API's handlers, one file per subject: api_auth.c (sign-in,
 * sessions, the first admin), api_tickets.c (tickets and agents: the only
 * file that calls the desk), api_runtime.c (the supervision tree,
 * processes), events.c (the event stream). web.c routes to them and checks, before
 * each, who may call it (web_access_t).
 */
#ifndef WEB_API_H
#define WEB_API_H

#include <arbor.h>
#include <cjson/cJSON.h>

#include "sessions.h"

/* who: the caller's session; all zero for a public route. */
typedef void (*web_api_fn)(arbor_http_request_t *req, arbor_http_response_t *res,
                           const web_session_t *who);

/* api_auth.c */
void api_session_open(arbor_http_request_t *req, arbor_http_response_t *res,
                      const web_session_t *who);
void api_session_show(arbor_http_request_t *req, arbor_http_response_t *res,
                      const web_session_t *who);
void api_session_close(arbor_http_request_t *req, arbor_http_response_t *res,
                       const web_session_t *who);
void api_setup(arbor_http_request_t *req, arbor_http_response_t *res, const web_session_t *who);

/* The live session whose token is in the request's cookie: 0 and *out,
 * or ARBOR_ENOENT (web.c). */
int api_session_of(const arbor_http_request_t *req, web_session_t *out);

/* The Set-Cookie value for a session (expires with it), or for none
 * (token NULL: the cookie is cleared). */
void api_session_cookie(arbor_http_response_t *res, const web_session_t *s);

/* api_tickets.c */
void api_tickets_list(arbor_http_request_t *req, arbor_http_response_t *res,
                      const web_session_t *who);
void api_ticket_show(arbor_http_request_t *req, arbor_http_response_t *res,
                     const web_session_t *who);
void api_ticket_create(arbor_http_request_t *req, arbor_http_response_t *res,
                       const web_session_t *who);
void api_ticket_act(arbor_http_request_t *req, arbor_http_response_t *res,
                    const web_session_t *who);
void api_queues(arbor_http_request_t *req, arbor_http_response_t *res, const web_session_t *who);
/* {"tickets":[...]}: the newest limit tickets, as GET /api/tickets lists
 * them; NULL when the desk cannot say. */
cJSON *api_tickets_newest(size_t limit);
void api_agents_list(arbor_http_request_t *req, arbor_http_response_t *res,
                     const web_session_t *who);
void api_agent_add(arbor_http_request_t *req, arbor_http_response_t *res, const web_session_t *who);
/* POST /api/agents/:name/ACTION (admin): rename {"name"}, activate,
 * deactivate (answers the agent's open tickets), available, unavailable. */
void api_agent_act(arbor_http_request_t *req, arbor_http_response_t *res, const web_session_t *who);

/* api_runtime.c */
void api_tree(arbor_http_request_t *req, arbor_http_response_t *res, const web_session_t *who);
void api_processes(arbor_http_request_t *req, arbor_http_response_t *res, const web_session_t *who);
void api_process_kill(arbor_http_request_t *req, arbor_http_response_t *res,
                      const web_session_t *who);

/* events.c */
void api_events(arbor_http_request_t *req, arbor_http_response_t *res, const web_session_t *who);

/* Starts (on) the events of a new run: a report handler that also sends
 * each report to the event streams as a "process" event, then calls the
 * handler that was there (with no context), and a watch on sessions, so
 * that a stream ends as soon as its session does; off puts the handler
 * back and ends the watch. */
void web_events_watch(bool on);

#endif

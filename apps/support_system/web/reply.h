/*
 * The web API's requests and answers: JSON bodies checked field by field,
 * and errors as {"code","message"} with the HTTP status that fits. Each
 * check that fails has answered (400 with what is wrong) and returns
 * false: the handler just returns, having changed nothing.
 */
#ifndef WEB_REPLY_H
#define WEB_REPLY_H

#include <arbor.h>
#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>

#include "../ticket.h"

/* Answers status with the JSON j (consumed). */
void web_json(arbor_http_response_t *res, int status, cJSON *j);

/* Answers status with {"code":code,"message":message}. */
void web_error(arbor_http_response_t *res, int status, const char *code, const char *message);

/* Answers a desk error with the status its code means: unknown_ticket
 * 404; forbidden 403; conflict, invalid_transition, already_assigned,
 * no_agents, agent_exists, agent_inactive, unchanged 409;
 * request_id_reused 422; outcome_unknown 504 (the change may or may not
 * have been made); unavailable and store errors 503 (nothing changed);
 * the rest (bad input, reason_required, ...) 400. */
void web_desk_error(arbor_http_response_t *res, const ticket_error_t *e);

/* The request's body as a JSON object (*out, cJSON_Delete it): the body
 * must be declared application/json, be valid UTF-8 without NUL (escaped
 * or not), and hold one JSON object whose members are all named in
 * allowed (NULL-terminated). An empty body is {} when empty_ok. */
bool web_body(const arbor_http_request_t *req, arbor_http_response_t *res,
              const char *const *allowed, bool empty_ok, cJSON **out);

/* A request that takes no body: none, or {} declared application/json,
 * under the same rules as web_body (a body with anything in it is
 * refused, not ignored). */
bool web_body_none(const arbor_http_request_t *req, arbor_http_response_t *res);

/* Member name of obj as text (at most max characters, checked as the desk
 * checks text: ticket_check_text) into out (size bytes). Absent (or null)
 * and not required: *present false, out "". */
bool web_text(arbor_http_response_t *res, const cJSON *obj, const char *name, bool required,
              size_t max, bool may_be_empty, char *out, size_t size, bool *present);

/* A reply's or a note's text, required: as web_text, checked as the desk
 * checks a body (ticket_check_body: line breaks and tabs allowed), with
 * each CR LF taken as a line break. */
bool web_body_text(arbor_http_response_t *res, const cJSON *obj, const char *name, size_t max,
                   char *out, size_t size);

/* Member name of obj as a whole number from 0 to 2^53. Absent (or null):
 * *present false. */
bool web_whole(arbor_http_response_t *res, const cJSON *obj, const char *name, int64_t *out,
               bool *present);

/* Route parameter name as an id (1 to 2^63-1): else 404, as for a ticket
 * that does not exist. */
bool web_id_param(const arbor_http_request_t *req, arbor_http_response_t *res, const char *name,
                  int64_t *out);

#endif

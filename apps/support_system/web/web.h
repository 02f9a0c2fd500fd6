/*
 * The desk's web interface: the Web branch of its tree, an HTTP server
 * (include/arbor/http.h) that answers the JSON API (docs/api-http.md) and,
 * with it, an event stream of ticket changes.
 *
 *   Web             Supervisor, one_for_all
 *   ├── Events      Registry (duplicate keys): the event streams' subscriptions
 *   └── HTTP        the server's subtree: connections, acceptor
 *
 * Give web_start and the web as desk_config_t's web_start and web_arg,
 * and web_ticket_changed as its on_change.
 */
#ifndef SUPPORT_WEB_H
#define SUPPORT_WEB_H

#include <arbor.h>
#include <stdbool.h>
#include <stdint.h>

#include "../ticket.h"

#define WEB_EVENTS_NAME "SupportSystem.Web.Events"

typedef struct web_config {
    const char *host; /* the address to listen on (copied); NULL: 127.0.0.1 */
    uint16_t port;    /* 0: any free port (web_port says which) */
    const char *root; /* the dashboard's folder, served below / (copied); NULL: none */
} web_config_t;

typedef struct web web_t;

/* Makes the web interface from cfg; nothing listens until web_start. It
 * installs a report handler (arbor_report_set_handler) that sends every
 * crash, supervisor and progress report to the event streams as well, then
 * to the handler that was there, and turns web_json_memory on; web_free
 * undoes both. Returns 0
 * and *out (web_free it once the desk has stopped), ARBOR_ENOMEM. Any
 * thread. */
int web_new(const web_config_t *cfg, web_t **out);

/* Makes cJSON allocate in the calling process's own memory while on
 * (json_memory.c), so that a process killed mid-document leaks nothing;
 * off: malloc again. Call it with the runtime stopped (web_new and
 * web_free do). */
void web_json_memory(bool on);

/* Frees a web whose branch is not running. NULL: no-op. */
void web_free(web_t *web);

/* The Web branch's start function (a supervisor child; arg the web_t):
 * starts the branch linked to the caller and listens. Process only. As
 * arbor_http_server_start: a taken port fails the start. */
int web_start(void *web, arbor_pid_t *pid, arbor_reason_t *err);

/* The port the web listens on (0 before it first listened). Any thread. */
uint16_t web_port(const web_t *web);

/* The desk's on_change: tells every event stream that t changed. Called
 * in the ticket's worker; never blocks. (events.c) */
void web_ticket_changed(const ticket_t *t);

/* The desk's on_breach: tells every event stream (event "sla") that t
 * breached its resolution due time. Called in the ticket's worker; never
 * blocks. (events.c) */
void web_sla_breached(const ticket_t *t);

/* Makes a one-time sign-in link for a first admin when the desk has no
 * admin yet: 1 and the link (http://HOST:PORT/#setup=TOKEN) in url, valid
 * once and for 15 minutes; 0 when there is an admin already; a negative
 * Arbor code when it could not tell. Process only. */
int web_first_admin_link(const web_t *web, char *url, size_t size);

#endif

/*
 * The event stream (api.h, web.h): GET /api/events, Server-Sent Events.
 *
 *   event: snapshot  data: {"tickets":[...]}, the newest 1000 tickets, first
 *   event: ticket    data: the ticket as stored, after each committed change
 *   event: process   data: {"pid","behaviour","what","detail","reason"}, for
 *                    each crash, supervisor report (a child terminated, a
 *                    restart given up) and progress report (a child started)
 *
 * A stream subscribes its connection's process in the Events registry
 * (duplicate keys) under one key; the desk's workers (web_ticket_changed)
 * and the runtime's report handler (web_watch_reports) dispatch to every
 * subscriber without a round trip. A subscriber that dies leaves the
 * registry with it.
 *
 * The snapshot is read after the stream has subscribed, so no change falls
 * between it and the events: a change the snapshot already holds may also
 * come as an event (before or after it), and a client keeps, for each
 * ticket, the highest version it has seen. A client that reconnects gets
 * a new snapshot: that is its resume (Last-Event-ID is not needed).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/console.h"
#include "../desk_json.h"
#include "api.h"
#include "reply.h"
#include "web.h"

#define TAG_TICKET_CHANGED 0x5449434bULL /* "TICK": data is a ticket_t */
#define TAG_PROCESS_EVENT  0x50524f43ULL /* "PROC": data is JSON text, NUL-terminated */
#define TAG_SNAPSHOT       0x534e4150ULL /* "SNAP": the stream's own: send the snapshot */
#define SNAPSHOT_TICKETS   1000
#define EVENTS_KEY         "events"
#define PROCESS_EVENT_MAX  1024

void web_ticket_changed(const ticket_t *t)
{
    arbor_pid_t events = arbor_whereis(WEB_EVENTS_NAME);
    if (events)
        arbor_registry_dispatch(events, EVENTS_KEY, TAG_TICKET_CHANGED, t, sizeof *t, NULL);
}

/* ---- reports ------------------------------------------------------------------------- */

static arbor_report_fn earlier_handler;

static const char *report_kind(arbor_report_kind_t k)
{
    switch (k) {
    case ARBOR_REPORT_CRASH:
        return "crash";
    case ARBOR_REPORT_PROGRESS:
        return "progress";
    case ARBOR_REPORT_SUPERVISOR:
        return "supervisor";
    default:
        return "warning";
    }
}

/* Any thread: the report as a process event to every stream, then to the
 * handler that was there before (the default: stderr), with no context. */
static void on_report(const arbor_report_t *r, void *ctx)
{
    arbor_pid_t events = r->kind != ARBOR_REPORT_WARNING ? arbor_whereis(WEB_EVENTS_NAME) : 0;
    if (events) {
        char reason[256], text[PROCESS_EVENT_MAX];
        arbor_reason_format(&r->reason, reason, sizeof reason);
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "kind", report_kind(r->kind));
        cJSON_AddStringToObject(j, "pid", console_pid(r->pid));
        cJSON_AddItemToObject(j, "behaviour", console_json_text(r->behaviour ? r->behaviour : ""));
        cJSON_AddItemToObject(j, "what", console_json_text(r->what ? r->what : ""));
        cJSON_AddItemToObject(j, "detail", console_json_text(r->detail ? r->detail : ""));
        cJSON_AddItemToObject(j, "reason", console_json_text(reason));
        if (cJSON_PrintPreallocated(j, text, sizeof text, false))
            arbor_registry_dispatch(events, EVENTS_KEY, TAG_PROCESS_EVENT, text, strlen(text) + 1,
                                    NULL);
        cJSON_Delete(j);
    }
    earlier_handler(r, NULL);
}

void web_events_watch_reports(bool on)
{
    if (on)
        earlier_handler = arbor_report_set_handler(on_report, NULL);
    else
        arbor_report_set_handler(earlier_handler, NULL);
}

/* ---- the stream ------------------------------------------------------------------------ */

typedef struct stream {
    char data[8192]; /* one ticket event's JSON */
    char id[48];
    char *snapshot; /* arbor_alloc'd: freed with the process however it ends */
} stream_t;

/* The snapshot's JSON into s->snapshot: false when the desk cannot say. */
static bool read_snapshot(stream_t *s)
{
    cJSON *j = api_tickets_newest(SNAPSHOT_TICKETS);
    if (!j)
        return false;
    char *text = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    if (!text)
        return false;
    size_t len = strlen(text);
    s->snapshot = arbor_alloc(len + 1);
    if (s->snapshot)
        memcpy(s->snapshot, text, len + 1);
    cJSON_free(text);
    return s->snapshot != NULL;
}

static int to_event(arbor_msg_t *m, arbor_http_sse_event_t *ev, void *arg)
{
    stream_t *s = arg;
    arbor_free(s->snapshot); /* sent, if there was one */
    s->snapshot = NULL;
    if (m->tag == TAG_SNAPSHOT) {
        if (!read_snapshot(s))
            return -1; /* end the stream: the client reconnects and tries again */
        ev->event = "snapshot";
        ev->data = s->snapshot;
        ev->data_len = strlen(s->snapshot);
        return 1;
    }
    if (m->tag == TAG_PROCESS_EVENT && m->size > 0 && ((const char *)m->data)[m->size - 1] == 0) {
        ev->event = "process";
        ev->data = m->data;
        ev->data_len = m->size - 1;
        return 1;
    }
    if (m->tag != TAG_TICKET_CHANGED || m->size != sizeof(ticket_t))
        return 0;
    const ticket_t *t = m->data;
    cJSON *j = desk_ticket_json(t, NULL);
    bool ok = j && cJSON_PrintPreallocated(j, s->data, sizeof s->data, false);
    cJSON_Delete(j);
    if (!ok)
        return 0;
    snprintf(s->id, sizeof s->id, "%lld.%lld", (long long)t->id, (long long)t->version);
    ev->id = s->id;
    ev->event = "ticket";
    ev->data = s->data;
    ev->data_len = strlen(s->data);
    return 1;
}

void api_events(arbor_http_request_t *req, arbor_http_response_t *res, const web_session_t *who)
{
    arbor_pid_t events = arbor_whereis(WEB_EVENTS_NAME), owner;
    stream_t *s = arbor_calloc(1, sizeof *s); /* freed with the process, however it ends */
    if (!events || !s || arbor_registry_register(events, EVENTS_KEY, NULL, 0, &owner) != 0) {
        arbor_free(s);
        web_error(res, 503, "unavailable", "the event stream is not available");
        return;
    }
    /* Subscribed: now the snapshot, as the stream's first message. */
    arbor_send(arbor_self(), TAG_SNAPSHOT, NULL, 0);
    arbor_http_sse_opts_t o = {.on_message = to_event, .arg = s};
    arbor_http_sse(req, res, &o);
    arbor_registry_unregister(events, EVENTS_KEY);
    arbor_free(s->snapshot);
    arbor_free(s);
}

/*
 * The event stream (api.h, web.h): GET /api/events, Server-Sent Events.
 *
 *   event: snapshot  data: {"tickets":[...],"reason":R}, the newest 1000
 *                    tickets: first on a new stream (R "connect"), and when
 *                    a reconnect's Last-Event-ID cannot be resumed from (R
 *                    "too_old": the ring no longer holds what was missed;
 *                    "unknown": not an id of this desk's run), or when a
 *                    stream fell more than the ring behind ("too_old")
 *   event: resume    data: {"after":ID,"replayed":N}, first on a reconnect
 *                    that could be resumed: the N events after ID came
 *                    before it
 *   event: ticket    data: the ticket as stored, after each committed change
 *   event: sla       data: {"id","due_at","breached_at","ticket"}, when the
 *                    desk records that a ticket breached its resolution due
 *                    time (sla.h), once per breach (its ticket event too)
 *   event: process   data: {"pid","behaviour","what","detail","reason"}, for
 *                    each crash, supervisor report (a child terminated, a
 *                    restart given up) and progress report (a child started)
 *
 * Every event has an id, "RUN-SEQ": RUN names this run of the desk's web
 * (when it was made), SEQ counts its events. The last RING_EVENTS ticket, sla and
 * process events are kept, in order, in a ring (any thread appends); each
 * append then notifies every stream, subscribed in the Events registry
 * (duplicate keys) under one key, and a notified stream sends what the
 * ring holds after the last event it sent. So each stream sends the events
 * in the ring's order, once each, and a client that reconnects with
 * Last-Event-ID gets the events it missed from the ring.
 *
 * A snapshot's id is the last event appended before its tickets were read:
 * every change an earlier event announced is in it; a later one follows it
 * as an event (it may hold that change already: a client keeps, for each
 * ticket, the highest version it has seen).
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/console.h"
#include "../desk_json.h"
#include "api.h"
#include "reply.h"
#include "web.h"

#define TAG_NOTIFY        0x4e4f5449ULL /* "NOTI": the ring has a new event (no data) */
#define TAG_START         0x53544152ULL /* "STAR": the stream's own: send its first events */
#define TAG_SESSIONS      0x53455353ULL /* "SESS": a session ended, or the stream's expires */
#define SNAPSHOT_TICKETS  1000
#define EVENTS_KEY        "events"
#define PROCESS_EVENT_MAX 1024
#define EVENT_DATA_MAX    8192 /* a ticket's JSON fits */
#define RING_EVENTS       256  /* the events a reconnect can resume from */

/* ---- the ring of recent events --------------------------------------------------------- */

/* A ticket event keeps the ticket, and its JSON is made when a stream
 * first reads it (then kept): a change costs a copy, not the JSON's
 * making (some 30 allocations and 13,000 instructions), which a desk
 * without a stream open never needs. desk_ticket_json is a function of
 * the ticket alone, so the text is the same whenever it is made. */
typedef struct ring_event {
    uint64_t seq;      /* 0: empty */
    const char *event; /* its name: "ticket", "sla" or "process" (static) */
    char *data;        /* malloc'd JSON; NULL: a ticket event not yet read */
    ticket_t *ticket;  /* malloc'd: a ticket event's ticket, until data is made */
} ring_event_t;

static struct {
    pthread_mutex_t lock;
    int64_t run;  /* the ids' RUN: set when the web is made */
    uint64_t seq; /* the last event's */
    ring_event_t events[RING_EVENTS];
} ring = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* Appends an event, its JSON (copied) or a ticket event's ticket (taken,
 * malloc'd), to the ring and notifies every stream. Any thread. */
static void append(const char *event, char *data, ticket_t *ticket)
{
    pthread_mutex_lock(&ring.lock);
    uint64_t seq = ++ring.seq;
    ring_event_t *e = &ring.events[seq % RING_EVENTS];
    free(e->data);
    free(e->ticket);
    *e = (ring_event_t){.seq = seq, .event = event, .data = data, .ticket = ticket};
    pthread_mutex_unlock(&ring.lock);
    arbor_pid_t events = arbor_whereis(WEB_EVENTS_NAME);
    if (events)
        arbor_registry_dispatch(events, EVENTS_KEY, TAG_NOTIFY, NULL, 0, NULL);
}

/* Appends an event with its JSON. An event that cannot be copied is
 * dropped. */
static void publish(const char *event, const char *json)
{
    size_t len = strlen(json);
    char *copy = len < EVENT_DATA_MAX ? malloc(len + 1) : NULL;
    if (!copy)
        return;
    memcpy(copy, json, len + 1);
    append(event, copy, NULL);
}

/* Event seq from the ring into data (size bytes) and *event (its name):
 * 1; 0 when seq is not appended yet; -1 when the ring no longer holds it
 * (or its JSON could not be made: out of memory). A ticket event read
 * for the first time has its JSON made here, outside the lock, and kept
 * for the next reader. */
static int ring_read(uint64_t seq, char *data, size_t size, const char **event)
{
    ticket_t t;
    pthread_mutex_lock(&ring.lock);
    int rc = seq > ring.seq ? 0 : -1;
    const ring_event_t *e = &ring.events[seq % RING_EVENTS];
    bool make = rc < 0 && e->seq == seq && !e->data;
    if (make) {
        t = *e->ticket;
        *event = e->event;
    } else if (rc < 0 && e->seq == seq && strlen(e->data) < size) {
        memcpy(data, e->data, strlen(e->data) + 1);
        *event = e->event;
        rc = 1;
    }
    pthread_mutex_unlock(&ring.lock);
    if (!make)
        return rc;
    cJSON *j = desk_ticket_json(&t, NULL);
    bool made = j && cJSON_PrintPreallocated(j, data, (int)size, false);
    cJSON_Delete(j);
    if (!made)
        return -1;
    size_t len = strlen(data);
    char *copy = malloc(len + 1);
    pthread_mutex_lock(&ring.lock);
    ring_event_t *kept = &ring.events[seq % RING_EVENTS];
    if (copy && kept->seq == seq && !kept->data) {
        memcpy(copy, data, len + 1);
        kept->data = copy;
        free(kept->ticket);
        kept->ticket = NULL;
        copy = NULL;
    }
    pthread_mutex_unlock(&ring.lock);
    free(copy);
    return 1;
}

static uint64_t ring_last(void)
{
    pthread_mutex_lock(&ring.lock);
    uint64_t seq = ring.seq;
    pthread_mutex_unlock(&ring.lock);
    return seq;
}

/* Starts the ring of a new run (on), or empties it (off). */
static void ring_reset(bool on)
{
    pthread_mutex_lock(&ring.lock);
    for (size_t i = 0; i < RING_EVENTS; i++) {
        free(ring.events[i].data);
        free(ring.events[i].ticket);
        ring.events[i] = (ring_event_t){0};
    }
    ring.seq = 0;
    ring.run = on ? ticket_now_ms() : 0;
    pthread_mutex_unlock(&ring.lock);
}

void web_ticket_changed(const ticket_t *t)
{
    ticket_t *copy = malloc(sizeof *copy); /* its JSON is made when read (ring_read) */
    if (!copy)
        return; /* dropped, as an event that cannot be copied */
    *copy = *t;
    append("ticket", NULL, copy);
}

void web_sla_breached(const ticket_t *t)
{
    cJSON *j = cJSON_CreateObject();
    char due[TICKET_TIME_SIZE], breached[TICKET_TIME_SIZE];
    ticket_format_time(t->due_at, due);
    ticket_format_time(t->breached_at, breached);
    cJSON_AddNumberToObject(j, "id", (double)t->id);
    cJSON_AddStringToObject(j, "due_at", due);
    cJSON_AddStringToObject(j, "breached_at", breached);
    cJSON_AddItemToObject(j, "ticket", desk_ticket_json(t, NULL));
    char *text = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    if (text)
        publish("sla", text);
    cJSON_free(text);
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
            publish("process", text);
        cJSON_Delete(j);
    }
    earlier_handler(r, NULL);
}

/* Sessions ended: every stream checks that its own still lives. */
static void sessions_ended(void)
{
    arbor_pid_t events = arbor_whereis(WEB_EVENTS_NAME);
    if (events)
        arbor_registry_dispatch(events, EVENTS_KEY, TAG_SESSIONS, NULL, 0, NULL);
}

void web_events_watch(bool on)
{
    ring_reset(on);
    if (on)
        earlier_handler = arbor_report_set_handler(on_report, NULL);
    else
        arbor_report_set_handler(earlier_handler, NULL);
    sessions_watch_ends(on ? sessions_ended : NULL);
}

/* ---- the stream ------------------------------------------------------------------------ */

typedef struct stream {
    arbor_http_response_t *res;
    char session[SESSION_TOKEN_SIZE]; /* whose stream it is: it ends with the session */
    bool started;
    uint64_t sent;  /* the last event sent (or the snapshot's) */
    bool has_after; /* the client's Last-Event-ID, when it is one of this run's */
    uint64_t after;
    bool bad_after; /* a Last-Event-ID that is not */
    char data[EVENT_DATA_MAX];
    char id[48], resume[96];
    char *snapshot; /* arbor_alloc'd: freed with the process however it ends */
} stream_t;

static const char *event_id(stream_t *s, uint64_t seq)
{
    snprintf(s->id, sizeof s->id, "%" PRId64 "-%" PRIu64, ring.run, seq);
    return s->id;
}

/* Last-Event-ID "RUN-SEQ" of this run into s (a header that is not one
 * sets bad_after). */
static void read_last_event_id(stream_t *s, const char *h)
{
    if (!h)
        return;
    long long run;
    unsigned long long seq;
    char back[48];
    int end = 0;
    if (sscanf(h, "%lld-%llu%n", &run, &seq, &end) == 2 && h[end] == '\0' && run == ring.run) {
        snprintf(back, sizeof back, "%lld-%llu", run, seq);
        s->has_after = strcmp(back, h) == 0;
        s->after = seq;
    }
    s->bad_after = !s->has_after;
}

/* Sends a snapshot whose reason is reason: false when it could not be. */
static bool send_snapshot(stream_t *s, const char *reason)
{
    uint64_t seq = ring_last(); /* before the tickets are read */
    cJSON *j = api_tickets_newest(SNAPSHOT_TICKETS);
    if (!j)
        return false;
    cJSON_AddStringToObject(j, "reason", reason);
    char *text = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    if (!text)
        return false;
    size_t len = strlen(text);
    arbor_free(s->snapshot);
    s->snapshot = arbor_alloc(len + 1);
    if (s->snapshot)
        memcpy(s->snapshot, text, len + 1);
    cJSON_free(text);
    if (!s->snapshot)
        return false;
    arbor_http_sse_event_t ev = {
        .id = event_id(s, seq), .event = "snapshot", .data = s->snapshot, .data_len = len};
    int rc = arbor_http_sse_send(s->res, &ev);
    arbor_free(s->snapshot);
    s->snapshot = NULL;
    s->sent = seq;
    return rc == 0;
}

/* Sends every event the ring holds after the last one sent; when it no
 * longer holds the next one, a snapshot instead. Returns how many were
 * sent, or -1 to end the stream (the client reconnects). */
static int send_new(stream_t *s)
{
    int n = 0;
    for (;;) {
        const char *event = "";
        int rc = ring_read(s->sent + 1, s->data, sizeof s->data, &event);
        if (rc == 0)
            return n;
        if (rc < 0)
            return send_snapshot(s, "too_old") ? n + 1 : -1;
        s->sent++;
        arbor_http_sse_event_t ev = {.id = event_id(s, s->sent),
                                     .event = event,
                                     .data = s->data,
                                     .data_len = strlen(s->data)};
        if (arbor_http_sse_send(s->res, &ev) != 0)
            return -1;
        n++;
    }
}

/* The stream's first events: a resume (the events missed, then "resume"),
 * or a snapshot. */
static int start(stream_t *s)
{
    s->started = true;
    uint64_t last = ring_last();
    /* Resumable: every event after the client's is still in the ring. */
    if (s->has_after && s->after <= last && last - s->after < RING_EVENTS) {
        s->sent = s->after;
        uint64_t from = s->after;
        int n = send_new(s);
        if (n < 0)
            return -1;
        if (s->sent - from == (uint64_t)n) { /* all of them: no snapshot came between */
            snprintf(s->resume, sizeof s->resume,
                     "{\"after\":\"%" PRId64 "-%" PRIu64 "\",\"replayed\":%d}", ring.run, from, n);
            arbor_http_sse_event_t ev = {.id = event_id(s, s->sent),
                                         .event = "resume",
                                         .data = s->resume,
                                         .data_len = strlen(s->resume)};
            return arbor_http_sse_send(s->res, &ev) == 0 ? 0 : -1;
        }
        return 0;
    }
    const char *reason = s->has_after ? "too_old" : s->bad_after ? "unknown" : "connect";
    if (s->has_after && s->after > last)
        reason = "unknown";
    return send_snapshot(s, reason) ? 0 : -1;
}

static int to_event(arbor_msg_t *m, arbor_http_sse_event_t *ev, void *arg)
{
    stream_t *s = arg;
    /* A session that ended (signed out, expired, its agent deactivated,
     * renamed or given a new password) reads nothing more: its stream ends
     * then (TAG_SESSIONS), or at the latest before it sends another
     * event. */
    web_session_t still;
    if (sessions_find(s->session, &still) != 0)
        return -1;
    if (!s->started && start(s) < 0)
        return -1; /* end the stream: the client reconnects and tries again */
    if (m->tag == TAG_NOTIFY && send_new(s) < 0)
        return -1;
    return 0;
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
    s->res = res;
    snprintf(s->session, sizeof s->session, "%s", who->token);
    read_last_event_id(s, arbor_http_header(req, "Last-Event-ID"));
    /* Subscribed: now the first events, as the stream's first message;
     * and a word to itself when its session expires, to end then. */
    arbor_send(arbor_self(), TAG_START, NULL, 0);
    int64_t left = who->expires_ms - ticket_now_ms();
    arbor_timer_t *expiry = NULL;
    arbor_send_after(arbor_self(), TAG_SESSIONS, NULL, 0, left > 0 ? (uint64_t)left + 1 : 0,
                     &expiry);
    arbor_http_sse_opts_t o = {.on_message = to_event, .arg = s};
    arbor_http_sse(req, res, &o);
    if (expiry) /* not kept for hours after the stream */
        arbor_cancel_timer(expiry);
    arbor_registry_unregister(events, EVENTS_KEY);
    arbor_free(s->snapshot);
    arbor_free(s);
}

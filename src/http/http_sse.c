/*
 * Server-Sent Events: a handler's request turned into a stream of events
 * fed by the connection process's mailbox.
 *
 * The process waits for two things at once, its mailbox and its client
 * going away, so it asks for the socket's readiness as a message
 * (arbor_socket_notify) and waits in arbor_receive() with the heartbeat's
 * deadline. Each event is a chunk of the response, sent with the stream's
 * own send timeout: a client that stops reading fills the kernel's buffers,
 * the send times out and the client is dropped. The mailbox is the only
 * other buffer, and a backlog beyond max_backlog drops the client too, so
 * nothing grows without bound for a slow reader.
 */
#include <string.h>

#include "http_internal.h"

static const char heartbeat[] = ": heartbeat\n\n";

static bool one_line(const char *s)
{
    return !s || !strpbrk(s, "\r\n");
}

int arbor_http_sse_send(arbor_http_response_t *res, const arbor_http_sse_event_t *ev)
{
    if (!one_line(ev->id) || !one_line(ev->event))
        return ARBOR_EINVAL;
    size_t lines = 1;
    for (size_t i = 0; i < ev->data_len; i++)
        lines += ev->data[i] == '\n';
    size_t cap = (ev->id ? strlen(ev->id) + 5 : 0) + (ev->event ? strlen(ev->event) + 8 : 0) +
                 ev->data_len + 7 * lines + 2;
    char *frame = arbor_alloc(cap);
    if (!frame)
        return ARBOR_ENOMEM;
    size_t n = 0;
#define PUT(s, len)                                                                                \
    do {                                                                                           \
        memcpy(frame + n, (s), (len));                                                             \
        n += (len);                                                                                \
    } while (0)
    if (ev->id) {
        PUT("id: ", 4);
        PUT(ev->id, strlen(ev->id));
        PUT("\n", 1);
    }
    if (ev->event) {
        PUT("event: ", 7);
        PUT(ev->event, strlen(ev->event));
        PUT("\n", 1);
    }
    const char *line = ev->data, *end = ev->data + ev->data_len;
    for (;;) {
        const char *eol = line < end ? memchr(line, '\n', (size_t)(end - line)) : NULL;
        size_t len = (size_t)((eol ? eol : end) - line);
        PUT("data: ", 6);
        PUT(line, len);
        PUT("\n", 1);
        if (!eol)
            break;
        line = eol + 1;
    }
    PUT("\n", 1);
#undef PUT
    int rc = arbor_http_write(res, frame, n);
    arbor_free(frame);
    return rc;
}

/* The client's side after a readiness message: 0 while it is open (what
 * it sent is dropped), 1 at its end, or an error. */
static int client_side(arbor_socket_t s)
{
    char drop[512];
    for (;;) {
        size_t got;
        int rc = arbor_socket_recv(s, drop, sizeof drop, 0, &got);
        if (rc == ARBOR_ETIMEDOUT)
            return 0;
        if (rc != 0)
            return rc;
        if (got == 0)
            return 1;
    }
}

int arbor_http_sse(arbor_http_request_t *req, arbor_http_response_t *res,
                   const arbor_http_sse_opts_t *opts)
{
    (void)req;
    http_conn_t *c = HTTP_CONN_OF_RES(res);
    arbor_http_sse_opts_t o = *opts;
    if (!o.on_message)
        return ARBOR_EINVAL;
    o.heartbeat_ms = o.heartbeat_ms > 0 ? o.heartbeat_ms : 15000;
    o.send_timeout_ms = o.send_timeout_ms > 0 ? o.send_timeout_ms : 5000;
    o.max_backlog = o.max_backlog ? o.max_backlog : 1000;

    c->keep_alive = false; /* the stream ends with the connection */
    c->send_timeout_ms = o.send_timeout_ms;
    res->status = 200;
    res->content_type = "text/event-stream";
    arbor_http_set_header(res, "Cache-Control", "no-cache");
    int rc = arbor_http_write(res, NULL, 0); /* the head, at once */
    if (rc)
        return rc;
    /* From here the stream only writes frames: its buffers go back. */
    if ((rc = arbor__http_conn_lean(c)) != 0)
        return rc;
    arbor__http_conn_streaming(c); /* a drain ends the stream at once */
    if ((rc = arbor_socket_notify(c->socket, ARBOR_READABLE)) != 0)
        return rc;
    uint64_t last_sent = arbor_now_ms();
    for (;;) {
        arbor_process_info_t info;
        if (arbor_process_info(arbor_self(), &info) == 0 && info.message_queue_len > o.max_backlog)
            return ARBOR_EAGAIN;
        uint64_t now = arbor_now_ms(), due = last_sent + (uint64_t)o.heartbeat_ms;
        if (now >= due) {
            if ((rc = arbor_http_write(res, heartbeat, sizeof heartbeat - 1)) != 0)
                return rc;
            last_sent = arbor_now_ms();
            continue;
        }
        arbor_msg_t *m;
        rc = arbor_receive((int64_t)(due - now), &m);
        if (rc == ARBOR_ETIMEDOUT)
            continue;
        if (rc)
            return rc;
        if (m->tag == ARBOR_TAG_SOCKET && m->from == ARBOR_NOPID &&
            ((arbor_socket_event_t *)m->data)->socket == c->socket) {
            unsigned events = ((arbor_socket_event_t *)m->data)->events;
            arbor_msg_free(m);
            if (events & ARBOR_CLOSED)
                return 0;
            if ((rc = client_side(c->socket)) != 0)
                return rc > 0 ? 0 : rc;
            if ((rc = arbor_socket_notify(c->socket, ARBOR_READABLE)) != 0)
                return rc;
            continue;
        }
        arbor_http_sse_event_t ev = {0};
        int r = o.on_message(m, &ev, o.arg);
        if (r > 0)
            rc = arbor_http_sse_send(res, &ev);
        arbor_msg_free(m);
        if (r < 0)
            return 0;
        if (rc)
            return rc;
        if (r > 0)
            last_sent = arbor_now_ms();
    }
}

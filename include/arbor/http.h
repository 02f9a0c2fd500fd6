/*
 * HTTP/1.1 server: a process per connection, under supervision (docs/http.md).
 *
 * A server is a supervision subtree that the application places in its own
 * tree with the child spec arbor_http_server_spec() returns:
 *
 *   http server      one_for_all
 *   ├── connections  DynamicSupervisor, one temporary process per connection
 *   ├── acceptor N   each owns a listener on the port (SO_REUSEPORT when
 *   │                there are several) and starts a connection per accept
 *   └── drainer      stopped first: drains the server gracefully
 *                    (arbor_http_server_drain) within opts.shutdown_ms;
 *                    until then it closes idle connections past their
 *                    idle_timeout_ms
 *
 * one_for_all: when an acceptor dies, every connection goes with it (after
 * the drainer let the requests in flight finish) and the whole subtree
 * starts again on the same port, so nothing is left orphaned.
 * A request's handler runs in its connection's process: it may block, call
 * GenServers, or crash. A crash before anything was sent answers 500 and
 * closes that connection (a crash report names the request); no other
 * connection notices. Between requests a connection's process holds no
 * stack and no buffer (a reactive process waiting for its socket's
 * readiness; docs/http.md, "Memory"); a message sent to it then, or
 * left unread by a handler, is dropped.
 *
 * Parsing is llhttp's (Node's parser) in strict mode, with the server's own
 * checks against request smuggling on top: a request with both
 * Content-Length and Transfer-Encoding, two Content-Lengths, a
 * Transfer-Encoding other than "chunked", a folded (obs-fold) header line,
 * a bare CR, or a character that does not belong in a header name, header
 * value or request target is answered 400 and the connection closed.
 *
 * Elixir (Plug):  get "/hello", do: send_resp(conn, 200, "Hello")
 * Go:             http.HandleFunc("/hello", func(w, r) { w.Write(...) })
 * Arbor:
 *
 *   static void hello(arbor_http_request_t *req, arbor_http_response_t *res, void *arg)
 *   {
 *       arbor_http_reply(res, 200, "text/plain", "Hello", 5);
 *   }
 *   arbor_http_opts_t o = {.port = 8080, .handler = hello};
 *   arbor_http_server_new(&o, &srv);
 *   arbor_child_spec_t children[] = {arbor_http_server_spec(srv, "web")};
 */
#ifndef ARBOR_HTTP_H
#define ARBOR_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net.h"
#include "supervisor.h"

#ifdef __cplusplus
extern "C" {
#endif

#pragma GCC visibility push(default)

/* A header or a route parameter: NUL-terminated name and value. */
typedef struct arbor_http_header {
    const char *name;
    const char *value;
} arbor_http_header_t;

/*
 * A request, as its handler sees it. Every pointer is owned by the
 * connection and valid until the handler returns (copy what must live
 * longer). Strings are NUL-terminated; the body is too (one byte past
 * body_len), so a text body can be read as a string.
 */
typedef struct arbor_http_request {
    const char *method;                 /* "GET", "POST", ... (static text) */
    const char *target;                 /* as sent: "/api/tickets/7?x=1" */
    const char *path;                   /* the target up to '?', not decoded: "/api/tickets/7" */
    const char *query;                  /* after '?', not decoded: "x=1"; "" when none */
    int version;                        /* 10 (HTTP/1.0) or 11 (HTTP/1.1) */
    const arbor_http_header_t *headers; /* as sent, names in their case */
    size_t n_headers;
    const char *body; /* the whole body (chunked ones put together); "" when none */
    size_t body_len;
    const arbor_http_header_t *params; /* the route's parameters, decoded (router) */
    size_t n_params;
    arbor_sockaddr_t peer;
} arbor_http_request_t;

/*
 * A response, filled by the handler. The connection starts it as status
 * 200 with no body. body (body_len bytes) is sent after the handler
 * returns, so it must stay valid until then and after: static data, or
 * memory from arbor_http_alloc() or arbor_http_reply(), which the
 * connection frees once the response is sent. Content-Length, Date, Server
 * and Connection are written by the server; add others with
 * arbor_http_set_header().
 */
typedef struct arbor_http_response {
    int status;               /* 200..999 (else the client gets 500); 200 unless set */
    const char *content_type; /* NULL: no Content-Type; copied or static */
    const void *body;
    size_t body_len;
} arbor_http_response_t;

/* A request's handler. It runs in the connection's process, may block
 * and may crash (see above); arg is the one given with it. */
typedef void (*arbor_http_handler_fn)(arbor_http_request_t *req, arbor_http_response_t *res,
                                      void *arg);

/* ---- the server ------------------------------------------------------------ */

/* Limits; a field left 0 takes its default. */
typedef struct arbor_http_limits {
    size_t max_head;         /* request line and header fields, bytes: 8192 (else 431) */
    unsigned max_fields;     /* header fields: 100 (else 431) */
    size_t max_body;         /* bytes, after chunked decoding: 1 MiB (else 413) */
    int64_t head_timeout_ms; /* from a request's first byte to its last header: 10 s (408) */
    int64_t body_timeout_ms; /* from the last header to the body's end: 30 s (408) */
    int64_t idle_timeout_ms; /* a kept-alive connection's wait for its next request: 60 s,
                              * then it closes without a word (within 1/8 of it, at
                              * most 1 s, after: a sweep, not a timer each) */
    int64_t send_timeout_ms; /* for each response to be taken by the peer: 30 s (a
                              * streamed body, a static file's included: for each
                              * piece of it, so a reader that stalls this long is
                              * dropped) */
} arbor_http_limits_t;

typedef struct arbor_http_opts {
    const char *host;              /* address to listen on; NULL: "127.0.0.1" (copied) */
    uint16_t port;                 /* 0: any free port; arbor_http_server_port() says which */
    unsigned acceptors;            /* acceptor processes: 0 means 1 */
    unsigned max_connections;      /* 0: 10,000. Beyond it a connection gets 503 with
                                    * "Retry-After: 1" and is closed */
    arbor_http_handler_fn handler; /* required; arbor_http_route for a router */
    void *handler_arg;             /* passed to every call; must outlive the server */
    arbor_http_limits_t limits;
    int64_t shutdown_ms; /* when the subtree stops, requests in flight get this long to
                          * finish (arbor_http_server_drain): 0 means 5 s */
} arbor_http_opts_t;

typedef struct arbor_http_server arbor_http_server_t;

/*
 * Makes a server from opts (copied): nothing runs until its subtree is
 * started (arbor_http_server_spec(), arbor_http_server_start()). Any
 * thread. Returns 0 and *out, which the caller frees with
 * arbor_http_server_free() once the subtree has stopped; ARBOR_EINVAL
 * (no handler, a negative timeout), ARBOR_ENOMEM.
 */
int arbor_http_server_new(const arbor_http_opts_t *opts, arbor_http_server_t **out);

/* Frees a server whose subtree is not running (or never ran). NULL: no-op. */
void arbor_http_server_free(arbor_http_server_t *srv);

/*
 * The child spec of the server's subtree, with the given id (not copied:
 * a literal is usual), type supervisor, permanent, to put in the
 * application's own supervisor. srv must outlive the subtree.
 */
arbor_child_spec_t arbor_http_server_spec(arbor_http_server_t *srv, const char *id);

/*
 * The subtree's start function (what the spec calls, with srv as arg):
 * starts the one_for_all supervisor linked to the caller, listens and
 * returns its pid. Process only. Returns 0; ARBOR_EEXIT with *error_out
 * when it could not start (the port is taken: "failed_to_start_child
 * acceptor ...", nothing left running). A previous run of the subtree
 * still ending on its own (a supervisor above it was killed) is ended
 * first, at once: its connections closed, its processes awaited
 * (docs/http.md, "Shutdown").
 */
int arbor_http_server_start(void *srv, arbor_pid_t *pid_out, arbor_reason_t *error_out);

/* The port the server listens on (the one it picked when asked for 0),
 * or 0 before it first listened. Any thread. */
uint16_t arbor_http_server_port(const arbor_http_server_t *srv);

/* Connections open now (beyond max_connections, the ones being turned
 * away with 503 count too). Any thread. */
size_t arbor_http_server_connections(const arbor_http_server_t *srv);

/*
 * Drains the server (graceful shutdown): stops accepting (the listeners
 * close, so new connections are refused), closes at once the connections
 * that wait for their next request and the event streams, lets the
 * requests in flight finish (each answered with "Connection: close"), and
 * waits up to deadline_ms for their connections to end. At the deadline it
 * closes the connections left (a handler still running carries on, its
 * writes failing, until it returns or the subtree stops and kills it).
 * The server then accepts nothing until its subtree starts again.
 *
 * Stopping the subtree (its supervisor's shutdown, a one_for_all restart)
 * drains it first, with opts.shutdown_ms as the deadline: a child of the
 * subtree, stopped before the others, calls this.
 *
 * Process only; one drain at a time. Returns 0 when no connection was
 * still busy at the deadline; ARBOR_ETIMEDOUT when some had to be closed
 * at it (a second drain does not wait for those again);
 * ARBOR_EBUSY (another drain is under way), ARBOR_EINVAL (a negative
 * deadline) or ARBOR_ENOTPROC, with nothing done.
 */
int arbor_http_server_drain(arbor_http_server_t *srv, int64_t deadline_ms);

/* ---- responses ----------------------------------------------------------------- */

/*
 * Memory for the response (a body the handler builds), freed by the
 * connection once the response is sent. Only the connection's process, and
 * only for its current response. NULL when out of memory.
 */
void *arbor_http_alloc(arbor_http_response_t *res, size_t size);

/*
 * Sets status, content type (copied; NULL for none) and a copy of the
 * len bytes at body. Returns 0 or ARBOR_ENOMEM (the response unchanged).
 */
int arbor_http_reply(arbor_http_response_t *res, int status, const char *content_type,
                     const void *body, size_t len);

/* The same with a printf-formatted body. */
int arbor_http_replyf(arbor_http_response_t *res, int status, const char *content_type,
                      const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/*
 * What the connection answers if its process dies while the handler runs,
 * before anything of the response is sent (a crash, or a kill from
 * outside): by default "500 Internal Server Error" in text/plain. A
 * handler whose request changes something may say instead that its
 * outcome is unknown, since the change may have been made before the
 * death. status, content_type (NULL: none) and the len bytes at body are
 * copied; the answer has Content-Length and Connection: close, and a HEAD
 * request gets its head alone. Only from the handler, in the connection's
 * process, before it streams. Returns 0; ARBOR_EINVAL (status outside
 * 200-999, a content type with CR, LF or NUL, or called outside the
 * handler or once streaming); ARBOR_ENOMEM (the earlier answer kept).
 */
int arbor_http_set_crash_response(arbor_http_response_t *res, int status, const char *content_type,
                                  const void *body, size_t len);

/*
 * Adds a response header; name and value are copied. Returns 0;
 * ARBOR_EINVAL when name is not a token or either holds CR, LF or NUL (a
 * header could be injected), or name is one the server writes
 * (Content-Length, Transfer-Encoding, Connection, Date, Server), or the
 * response is an event stream already started (its head is sent);
 * ARBOR_ETOOBIG beyond 64 headers; ARBOR_ENOMEM.
 */
int arbor_http_set_header(arbor_http_response_t *res, const char *name, const char *value);

/*
 * Streams the body: the first call sends the status line and headers with
 * "Transfer-Encoding: chunked" (HTTP/1.0: no length, and the connection
 * closes after), each call sends len bytes as a chunk, and the end is sent
 * when the handler returns (res->body is then ignored). A HEAD request
 * gets the headers only. Once something is sent a crash can no longer
 * answer 500: the connection just closes. Returns 0 or the socket's error
 * (ARBOR_EPIPE, ARBOR_ETIMEDOUT, ...), after which the handler should
 * return.
 */
int arbor_http_write(arbor_http_response_t *res, const void *data, size_t len);

/* ---- Server-Sent Events ----------------------------------------------------------- */

/* One event. Each line of data (split at LF) becomes a "data:" line. */
typedef struct arbor_http_sse_event {
    const char *id;    /* "id:" line, or NULL; no CR or LF */
    const char *event; /* "event:" line, or NULL (the client's "message"); no CR or LF */
    const char *data;
    size_t data_len;
} arbor_http_sse_event_t;

/*
 * What to make of the connection's mailbox. on_message is called in the
 * connection's process for each message but the stream's own, in order.
 * It fills *ev (which may point into the message: it is sent before the
 * message is freed) and returns 1 to send it, 0 to send nothing, or a
 * negative value to end the stream. arg is passed to it.
 */
typedef struct arbor_http_sse_opts {
    int (*on_message)(arbor_msg_t *msg, arbor_http_sse_event_t *ev, void *arg);
    void *arg;
    int64_t heartbeat_ms;    /* a ": heartbeat" comment after this much silence: 15 s */
    int64_t send_timeout_ms; /* a client that does not take an event in this long is
                              * disconnected: 5 s */
    size_t max_backlog;      /* more messages than this waiting in the mailbox: the
                              * client is too slow, disconnected: 1,000 */
} arbor_http_sse_opts_t;

/*
 * Turns the request into an event stream (a handler's last call): sends
 * status 200, "Content-Type: text/event-stream" and "Cache-Control:
 * no-cache" with res's other headers, then turns the messages that reach
 * the connection's process (arbor_self(): give it to whoever publishes)
 * into events, in order, until the client closes, on_message ends the
 * stream, or the client falls behind (send_timeout_ms, max_backlog): it
 * is then disconnected rather than buffered for. The client's
 * Last-Event-ID, when it reconnects, is arbor_http_header(req,
 * "Last-Event-ID"): replay from there before calling this. The connection
 * closes after the stream. Once the head is sent the connection gives
 * its request buffers back (docs/http.md, "Memory"); req stays readable,
 * from a copy, until the handler returns. Returns 0 (the client closed,
 * or on_message ended it), ARBOR_ETIMEDOUT or ARBOR_EAGAIN (too slow:
 * send timeout, backlog), or the socket's error.
 */
int arbor_http_sse(arbor_http_request_t *req, arbor_http_response_t *res,
                   const arbor_http_sse_opts_t *opts);

/* Sends one event on a stream that arbor_http_sse() started, from within
 * its on_message (to send several for one message) and returns 0 or the
 * socket's error; ARBOR_EINVAL for CR or LF in id or event. */
int arbor_http_sse_send(arbor_http_response_t *res, const arbor_http_sse_event_t *ev);

/* ---- requests ------------------------------------------------------------------ */

/* The value of the first header named name (any case), or NULL. */
const char *arbor_http_header(const arbor_http_request_t *req, const char *name);

/* The value of route parameter name (decoded), or NULL. */
const char *arbor_http_param(const arbor_http_request_t *req, const char *name);

/*
 * Percent-decodes the len bytes at in into out (size bytes, always
 * NUL-terminated when size > 0); '+' becomes a space when plus_is_space
 * (forms and query strings). out may be in (decoding in place). Returns
 * the decoded length; ARBOR_EINVAL for a bad escape ("%zz", a truncated
 * "%4") or an encoded NUL; ARBOR_ETOOBIG when out is too small. Any thread.
 */
int arbor_http_decode(const char *in, size_t len, char *out, size_t size, bool plus_is_space);

/*
 * Finds the first field called name in a query string or form body
 * ("a=1&b=x%20y", names compared after decoding) and decodes its value
 * into out as arbor_http_decode() does. Returns the value's length,
 * ARBOR_ENOENT when there is no such field, or arbor_http_decode()'s
 * errors. Any thread.
 */
int arbor_http_query(const char *query, const char *name, char *out, size_t size);

/* ---- routing ---------------------------------------------------------------------- */

/*
 * A route: method ("GET", ...; NULL for any; a GET route also answers
 * HEAD) and a path pattern of segments, where ":name" matches one
 * non-empty segment and stores it (decoded) as parameter name, and a last
 * segment "*name" matches the rest of the path (possibly empty).
 * "/api/tickets/:id" matches "/api/tickets/7" with id = "7".
 */
typedef struct arbor_http_route {
    const char *method;
    const char *pattern;
    arbor_http_handler_fn handler;
    void *arg; /* passed to handler */
} arbor_http_route_t;

typedef struct arbor_http_router {
    const arbor_http_route_t *routes; /* tried in order; the first match runs */
    size_t n;
} arbor_http_router_t;

#define ARBOR_HTTP_MAX_PARAMS 16

/*
 * A handler that routes (router: an arbor_http_router_t, which must
 * outlive the server): runs the first route whose method and pattern
 * match, with req->params set; answers 404 when no pattern matches the
 * path, 405 with an Allow header when some do but not for this method,
 * 400 when a parameter does not decode.
 */
void arbor_http_route(arbor_http_request_t *req, arbor_http_response_t *res, void *router);

/* ---- static files ------------------------------------------------------------------ */

typedef struct arbor_http_static {
    const char *root;  /* folder served; must outlive the server */
    const char *index; /* file served for a path ending in '/': NULL = "index.html" */
    int64_t max_age_s; /* Cache-Control: max-age (0 = "no-cache", i.e. revalidate with the ETag) */
} arbor_http_static_t;

/*
 * A handler (use it as a route's handler with a const arbor_http_static_t *
 * as arg): serves the file named by the route's "*path" parameter when the
 * route has one, else by the request path (percent-decoded), below root.
 *
 * GET and HEAD only (else 405 with "Allow: GET, HEAD"). The content type
 * comes from the extension (html, css, js/mjs, json, svg, png, jpg, ico,
 * txt, woff2, map; else application/octet-stream). A 200, 206 or 304
 * carries a strong ETag (inode, size and modification time),
 * Last-Modified (the modification time, never later than now) and
 * Cache-Control ("max-age=N", or "no-cache" when max_age_s <= 0).
 *
 * Conditions, in RFC 9110 13.2.2's order: a request whose If-None-Match
 * holds the tag (compared weakly; "*" too) gets 304 with no body; without
 * If-None-Match, one whose If-Modified-Since is a valid HTTP-date (any of
 * the three forms), not in the future, and not before Last-Modified gets
 * 304 (a date that does not parse is ignored).
 *
 * Ranges (RFC 9110 14): 200 and 206 say "Accept-Ranges: bytes". A single
 * byte range ("bytes=a-b", "bytes=a-", "bytes=-n") is answered 206 with
 * Content-Range and those bytes; one that starts past the end (or
 * "bytes=-0") is unsatisfiable. Several ranges are answered 206 with a
 * multipart/byteranges body (RFC 9110 14.6): one part per satisfiable
 * range, in the order asked, each with its Content-Type and
 * Content-Range, under a random boundary (just one satisfiable: a plain
 * 206). When none is satisfiable: 416 with a Content-Range that gives
 * only the length (an unsatisfied-range, RFC 9110 14.4: "bytes *", a
 * slash, the length). A Range that is not a valid byte-range set, names
 * more than 16 ranges or ranges that overlap (RFC 9110 14.2 lets a server
 * ignore them: a denial of service asks for the same bytes many times),
 * or asks for part of an empty file is ignored: 200 with the whole file.
 * So is one whose If-Range does not hold: If-Range must be the ETag
 * exactly (a weak tag never holds) or the Last-Modified date, the latter
 * only for a file last changed more than a second before (a strong date).
 * HEAD gets GET's status and headers (206, 416, Content-Type,
 * Content-Length) without the body.
 *
 * 404, whatever the reason, so that nothing is revealed: a file that is
 * not there; a path with a "." or ".." segment (encoded ones included),
 * an empty segment (an absolute path), a backslash, NUL or other control
 * byte; a symbolic link anywhere on the way (none is followed, so none
 * leads out of root); anything but a regular file; a directory (its
 * index is served only for a path ending in '/'). 500 when root cannot
 * be opened, or when the file cannot be read (before any of it was sent).
 *
 * Files of any size (up to off_t's range) are streamed: after the handler
 * returns, the connection sends the head with the Content-Length, then the
 * body in chunks of 128 KiB, each read on the runtime's blocking pool
 * (arbor_blocking, so a slow disk holds no scheduler) and sent within
 * limits.send_timeout_ms, so a connection holds one chunk in memory
 * whatever the file's size (a multipart body too: its parts' heads are
 * made in advance, the bytes read as they are sent) and a reader that
 * stalls is dropped. A file
 * that shrinks while it is sent, a read that fails midway, or a client
 * that goes closes the connection after what was sent (the file and the
 * chunk are freed with it); a file that grows is sent at the length its
 * head announced.
 */
void arbor_http_static(arbor_http_request_t *req, arbor_http_response_t *res, void *arg);

/* The reason phrase of status ("Not Found"), "" for one it does not know. */
const char *arbor_http_status_text(int status);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif
#endif

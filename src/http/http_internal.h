/*
 * What the HTTP server's files share: the server, the connection and its
 * per-request memory. The layer sees the runtime and OTP only through
 * include/arbor (it is built like an application of the library would be).
 */
#ifndef ARBOR_HTTP_INTERNAL_H
#define ARBOR_HTTP_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

#include "arbor.h"
#include "arbor/http.h"
#include "llhttp.h"

#define HTTP_MAX_RESPONSE_HEADERS 64
#define HTTP_MAX_ACCEPTORS        64

struct http_conn;

/* A server's cache of connection buffers (http_buffers.c): the blocks of
 * input, head and header arrays (HTTP_BUF_BLOCK, all of the server's one
 * size) and the output buffers (HTTP_BUF_OUT, HTTP_OUT_SIZE), at most
 * HTTP_CACHE_SLOTS of each, disowned (no process's) while here. */
#define HTTP_CACHE_SLOTS 16
enum { HTTP_BUF_BLOCK, HTTP_BUF_OUT };
typedef struct http_buffer_cache {
    pthread_mutex_t lock;
    void *slots[2][HTTP_CACHE_SLOTS];
    size_t n[2];
    bool used; /* something was taken since the last tick */
} http_buffer_cache_t;

struct arbor_http_server {
    arbor_http_opts_t opts; /* host points at host_copy */
    char *host_copy;
    /* Written by the subtree's start functions (in the supervisor's
     * process), read by acceptors and by any thread: relaxed is enough,
     * each value is complete in itself and ordered by the spawns and
     * messages that follow its store. */
    _Atomic uint16_t port;
    _Atomic arbor_pid_t connections;
    /* Connections alive: the acceptor adds one before it starts a
     * connection and the connection's exit hook takes it away. Relaxed: a
     * count, read only to compare with the limit. */
    _Atomic size_t live;
    /* Graceful shutdown (http_drain.c). The listeners, so that a drain
     * can close them (any process may close a socket); 0 for none. */
    _Atomic arbor_socket_t listeners[HTTP_MAX_ACCEPTORS];
    /* Each acceptor's last pid and the drainer's: a run of the subtree
     * that starts while the previous one is still ending (its supervisor
     * was killed) ends it first (http_server.c, end_previous_run). */
    _Atomic arbor_pid_t acceptors[HTTP_MAX_ACCEPTORS];
    _Atomic arbor_pid_t drainer;
    /* Set by a drain (sequentially consistent against a connection's
     * state: see arbor__http_conn_idle), cleared when the subtree starts. */
    _Atomic bool draining;
    /* The connections that have their socket, and the process a drain
     * tells when the last of them that it has not closed is gone; under
     * lock. */
    pthread_mutex_t lock;
    struct http_conn *conns;
    size_t n_conns, n_closed; /* listed, and of those closed by a drain */
    arbor_pid_t drain_waiter;
    http_buffer_cache_t cache;
};

/* The cache (http_buffers.c). init and destroy with the server (destroy
 * frees what it holds). take: one of kind, now the calling process's
 * (arbor_adopt), or NULL when the cache has none (allocate one then).
 * give: b (the calling process's, of kind and its full size) is disowned
 * and kept, or freed when the cache is full or the server drains. empty:
 * frees what it holds (a drain). tick: the same, when nothing was taken
 * since the last tick (the drainer's sweep). held: how many of kind it
 * holds (tests). Any thread; take and give process only. */
int arbor__http_cache_init(http_buffer_cache_t *cache);
void arbor__http_cache_destroy(http_buffer_cache_t *cache);
void *arbor__http_cache_take(arbor_http_server_t *srv, int kind);
void arbor__http_cache_give(arbor_http_server_t *srv, int kind, void *b);
void arbor__http_cache_empty(arbor_http_server_t *srv);
void arbor__http_cache_tick(arbor_http_server_t *srv);
size_t arbor__http_cache_held(arbor_http_server_t *srv, int kind);

/* A block of per-request memory, freed once the response is sent. */
typedef struct http_block {
    struct http_block *next;
    max_align_t data[];
} http_block_t;

/* A connection's state, for a drain: idle (waiting for a request's first
 * byte) and streaming (an event stream) ones are closed at once, busy ones
 * get until the deadline; closed: a drain, or the idle timeout, closed its
 * socket. An idle connection's state word also holds its idle deadline
 * (HTTP_IDLE_STATE), so that the idle timeout closes only the idleness
 * whose deadline it read. */
enum { HTTP_CONN_BUSY, HTTP_CONN_IDLE, HTTP_CONN_STREAMING, HTTP_CONN_CLOSED };
#define HTTP_STATE_BITS             2
#define HTTP_STATE_OF(word)         ((int)((word) & ((1u << HTTP_STATE_BITS) - 1)))
#define HTTP_IDLE_DEADLINE_OF(word) ((word) >> HTTP_STATE_BITS)
#define HTTP_IDLE_STATE(deadline)   (((uint64_t)(deadline) << HTTP_STATE_BITS) | HTTP_CONN_IDLE)

/* A connection: one per process, in memory from arbor_alloc(). Between
 * requests it holds only this: its buffers (in, head, fields, res_headers,
 * params, body) are allocated when bytes come, out when the first byte of
 * an answer is queued, and all freed when it goes idle (NULL then). */
typedef struct http_conn {
    arbor_http_server_t *srv;
    struct http_conn *prev, *next; /* in srv->conns, once registered */
    _Atomic uint64_t state;        /* HTTP_CONN_*, with the idle deadline when idle */
    uint64_t idle_deadline;        /* of the current wait for a request; 0: not set yet */
    arbor_socket_t socket;
    arbor_pid_t pid;
    llhttp_t parser;
    /* input: bytes read and not yet parsed are in[pos, len) */
    char *in;
    size_t in_len, in_pos;
    /* the request being read: its strings in head[0, head_used) */
    char *head;
    size_t head_used, head_cap, head_bytes;
    arbor_http_header_t *fields;
    size_t n_fields;
    size_t n_head_fields; /* of those, the header section's (the rest: trailers) */
    /* where the last value piece ended, and the bytes given to the parser
     * now and the last time: a value continues across reads only there */
    const char *value_end, *feed_start, *feed_end_before;
    char *url;
    char *body;
    size_t body_len, body_cap;
    int error_status; /* set by a callback that stops the parser */
    int last_cb;      /* which of url, field, value the parser gave last */
    bool started, headers_done, message_done, expect_continue, continue_sent;
    bool keep_alive;
    bool registered; /* with the other flags: an idle connection's record is its memory */
    int n_content_length, n_transfer_encoding;
    arbor_http_header_t *params; /* ARBOR_HTTP_MAX_PARAMS of them */
    /* the response */
    arbor_http_request_t req;
    arbor_http_response_t res;
    arbor_http_header_t *res_headers; /* HTTP_MAX_RESPONSE_HEADERS of them */
    size_t n_res_headers;
    bool in_handler, streaming, head_only;
    bool lean; /* an event stream: no input, head or output buffers held */
    int write_error;
    int64_t send_timeout_ms; /* for each flush: the limit, or a stream's own */
    http_block_t *blocks;
    /* a file the current request holds open (arbor_http_static), closed
     * once the response is sent, at the request's reset, or by the exit
     * hook if the process dies with it; -1 when none */
    int file_fd;
    /* the response's body is file_pieces (arbor__http_file_body), not
     * res.body; beside file_fd, in what would be padding */
    bool file_body;
    const struct http_body_piece *file_pieces;
    size_t n_file_pieces;
    /* output not yet sent: out[0, out_len) */
    char *out;
    size_t out_len, out_cap;
} http_conn_t;

#define HTTP_CONN_OF_RES(r) ((http_conn_t *)((char *)(r)-offsetof(http_conn_t, res)))
#define HTTP_CONN_OF_REQ(r) ((http_conn_t *)((char *)(r)-offsetof(http_conn_t, req)))

/* Per-request memory (http_conn.c), freed once the response is sent. */
void *arbor__http_alloc(http_conn_t *c, size_t size);
char *arbor__http_strdup(http_conn_t *c, const char *s, size_t len);

/* The request path without the socket (http_conn.c), which the
 * connection's loop and the fuzz target (tests/fuzz/fuzz_http_request.c)
 * drive. setup: c->srv set, the buffers and the parser made (process only;
 * ARBOR_ENOMEM); buffers: the buffers made again after
 * arbor__http_conn_release() gave them back (between requests: nothing
 * buffered, nothing started, nothing queued). feed: parses in[in_pos, in_len) up to the end of a
 * request. serve: runs the handler on the request parsed and queues the
 * answer in out. write_error: queues the server's own answer (closes
 * after). request_reset: makes ready for the next request. */
#define HTTP_IN_SIZE  16384
#define HTTP_OUT_SIZE 16384
enum { FEED_MORE, FEED_MESSAGE, FEED_ERROR };
int arbor__http_conn_setup(http_conn_t *c);
int arbor__http_conn_buffers(http_conn_t *c);
void arbor__http_conn_release(http_conn_t *c);
int arbor__http_feed(http_conn_t *c);
void arbor__http_serve(http_conn_t *c);
void arbor__http_write_error(http_conn_t *c, int status);
void arbor__http_request_reset(http_conn_t *c);
/* For an event stream, once its head is sent (http_sse.c): what the
 * handler may still read of the request (target, path, query, headers,
 * params) is copied out of the head into per-request memory of its size,
 * and the block of input, head and header arrays and the output buffer go
 * back to the server's cache; from then on each write takes an output
 * buffer and gives it back once sent (see flush), and the connection,
 * which closes after the stream, reads nothing more but what it drops.
 * Response headers can no longer be set (ARBOR_EINVAL). 0 or
 * ARBOR_ENOMEM, or the error of sending what was queued. */
int arbor__http_conn_lean(http_conn_t *c);

/* A connection's process (http_conn.c), a reactive one: spawn it with
 * these ops and the server as its state; the acceptor gives it its socket
 * and then sends the handle with tag ARBOR__HTTP_TAG_SOCKET, or with
 * ARBOR__HTTP_TAG_REJECT when the server is full. */
#define ARBOR__HTTP_TAG_SOCKET 0x4854545001ull
#define ARBOR__HTTP_TAG_REJECT 0x4854545002ull
extern const arbor_reactor_t arbor__http_conn_ops;

/* Graceful shutdown (http_drain.c). A connection registers once it has
 * its socket (false: the server drains, close at once) and leaves in its
 * exit hook. It says idle before it waits for a request's first byte
 * (false: the server drains, close at once) and busy once bytes came
 * (false: a drain closed it meanwhile); a stream says streaming. */
bool arbor__http_conn_enter(http_conn_t *c);
void arbor__http_conn_leave(http_conn_t *c);
/* idle: until deadline (arbor_now_ms()), when the idle timeout closes it
 * (arbor__http_close_idle_expired, which the drainer calls every
 * arbor__http_idle_tick_ms()). */
bool arbor__http_conn_idle(http_conn_t *c, uint64_t deadline);
bool arbor__http_conn_busy(http_conn_t *c);
void arbor__http_conn_streaming(http_conn_t *c);
bool arbor__http_draining(const arbor_http_server_t *srv);
/* A drain without a deadline, from any process: the listeners and every
 * connection closed at once (a drain under way stops waiting). */
void arbor__http_cut(arbor_http_server_t *srv);
void arbor__http_close_idle_expired(arbor_http_server_t *srv, uint64_t now);
int64_t arbor__http_idle_tick_ms(const arbor_http_server_t *srv);

/* The drainer: the subtree's last child, which traps exits and drains the
 * server when its supervisor stops it (arg: the server). */
int arbor__http_start_drainer(void *srv, arbor_pid_t *pid, arbor_reason_t *error);
/* The drainer's shutdown timeout: the drain's deadline and a margin. */
int64_t arbor__http_drainer_shutdown_ms(const arbor_http_server_t *srv);
#define ARBOR__HTTP_TAG_DRAINED 0x4854545003ull

/* Whether c is a token character (RFC 9110 tchar). */
bool arbor__http_tchar(unsigned char c);

/* Makes the response's body the n pieces, in order, each either text in
 * memory (text_len bytes) or, when text is NULL, length bytes at offset
 * of the file that c->file_fd holds open (the connection then owns it and
 * closes it): a file, a range of it, or the parts of a
 * multipart/byteranges body with their heads between them. The pieces
 * and their text must live until the response is sent (per-request
 * memory). After the handler returns the connection writes the head with
 * the pieces' total as Content-Length and sends the file's bytes in
 * chunks of at most HTTP_FILE_CHUNK, each read on the blocking pool
 * (pread) and sent within the send timeout, so a connection holds one
 * chunk whatever the file's size; a file that turns out shorter than
 * promised, or a failed read or send, closes the connection after what
 * was sent (a failure before anything is sent answers 500). A body that
 * fits the output buffer stays queued there, as any other answer's.
 * HEAD: the head only, nothing read. Process only, in the handler. */
#define HTTP_FILE_CHUNK ((size_t)128 << 10)
typedef struct http_body_piece {
    const char *text;
    uint64_t offset, length; /* offset: in the file; length: text's or the file's bytes */
} http_body_piece_t;
void arbor__http_file_body(http_conn_t *c, const http_body_piece_t *pieces, size_t n);

/* HTTP-dates (http_date.c): format writes t (seconds since the epoch) as
 * an IMF-fixdate, "Sun, 06 Nov 1994 08:49:37 GMT"; parse reads any of the
 * three forms RFC 9110 5.6.7 names (IMF-fixdate, RFC 850, asctime) and
 * nothing else (no other zone, no trailing bytes), false for anything
 * else. Any thread. */
#define HTTP_DATE_SIZE 64
void arbor__http_date_format(int64_t t, char out[HTTP_DATE_SIZE]);
bool arbor__http_date_parse(const char *text, int64_t *out);

/* A Range header's value against a representation of length bytes
 * (http_range.c): HTTP_RANGE_SATISFIABLE with the *n (1 to
 * HTTP_MAX_RANGES) ranges to serve in ranges, in the order asked, each
 * clamped to the length, none overlapping another;
 * HTTP_RANGE_UNSATISFIABLE (416: none of them is); or HTTP_RANGE_IGNORE
 * (serve the whole: not a valid byte-range set, another unit, more than
 * HTTP_MAX_RANGES ranges, ranges that overlap, or an empty
 * representation). Any thread. */
#define HTTP_MAX_RANGES 16
typedef struct http_range {
    uint64_t first, last;
} http_range_t;
enum { HTTP_RANGE_IGNORE, HTTP_RANGE_SATISFIABLE, HTTP_RANGE_UNSATISFIABLE };
int arbor__http_range(const char *value, uint64_t length, http_range_t ranges[HTTP_MAX_RANGES],
                      size_t *n);

#endif

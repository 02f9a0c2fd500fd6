/*
 * A connection's process: reads requests, runs the handler, writes answers.
 *
 * The process is a reactive one (arbor_spawn_reactor): between requests it
 * holds no stack and no buffer. It waits for its next request as a
 * readiness message (arbor_socket_notify), with only its http_conn_t left
 * (its buffers freed, its state IDLE with the idle deadline in it, which
 * the drainer's sweep enforces: http_drain.c). When the message comes it
 * borrows a stack, takes its buffers again and reads; from there a request
 * is served in the blocking style (docs/net.md), on that stack, so the
 * handler may block, call and crash as in any process. One loop:
 *
 *   parse what is buffered (llhttp, which pauses at the end of each
 *   message, so that pipelined requests are answered one at a time and in
 *   order, from the same buffer);
 *     a whole request  -> run the handler, queue the answer, go on parsing;
 *     an error         -> answer 400/413/431 with Connection: close, close;
 *     need more bytes  -> send what is queued; then, in a request, read
 *                         with the deadline of where it is (the head
 *                         timeout until its last header, the body timeout
 *                         until its end, then 408); between requests, go
 *                         idle as above (after the idle timeout the
 *                         connection is closed without a word).
 *
 * An answer is queued and sent before the connection next reads or runs
 * a handler (the last words of a crash must come after the answers to the
 * requests before it).
 *
 * A crash in the handler: before it runs, the connection gives its socket
 * last words (arbor_socket_last_words): a 500 response, or the one the
 * handler chose (arbor_http_set_crash_response). If the process
 * dies in the handler, the runtime sends them as it closes the socket, and
 * the exit hook here reports the crash with the request's line. Once the
 * handler returns, or streams its first bytes, the last words are cleared.
 *
 * Smuggling: llhttp in strict mode refuses most malformed framing; on top
 * of it the callbacks refuse bytes that do not belong (CR, LF, NUL and
 * other controls in values; non-token names; controls, spaces and bytes
 * above 0x7E in the target), and on_headers_complete refuses two
 * Content-Lengths, Content-Length with Transfer-Encoding, and any
 * Transfer-Encoding but "chunked". llhttp 8.1 (Debian's) lacks upstream's
 * later fixes for bare CR and folded lines outside strict mode; the value
 * check here catches both whatever the mode.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "http_internal.h"

#define IN_SIZE   HTTP_IN_SIZE
#define OUT_SIZE  HTTP_OUT_SIZE
#define BODY_KEEP 16384 /* a body buffer larger than this is freed after its request */

enum { CB_NONE, CB_URL, CB_FIELD, CB_VALUE };

/* A crash's last words: the 500 response, whose head alone answers HEAD
 * (the headers GET would get, no body). */
#define BODY_500 "Internal Server Error\n"
static const char response_500[] = "HTTP/1.1 500 Internal Server Error\r\n"
                                   "Content-Type: text/plain\r\n"
                                   "Content-Length: 22\r\n"
                                   "Connection: close\r\n\r\n" BODY_500;
_Static_assert(sizeof BODY_500 - 1 == 22, "the 500's Content-Length is its body's");
#define RESPONSE_500_HEAD_LEN (sizeof response_500 - sizeof BODY_500)

/* ---- per-request memory --------------------------------------------------------- */

void *arbor__http_alloc(http_conn_t *c, size_t size)
{
    http_block_t *b = arbor_alloc(sizeof *b + size + 1);
    if (!b)
        return NULL;
    b->next = c->blocks;
    c->blocks = b;
    return b->data;
}

char *arbor__http_strdup(http_conn_t *c, const char *s, size_t len)
{
    char *d = arbor__http_alloc(c, len + 1);
    if (d) {
        memcpy(d, s, len);
        d[len] = '\0';
    }
    return d;
}

static void close_file(http_conn_t *c)
{
    if (c->file_fd >= 0) {
        close(c->file_fd);
        c->file_fd = -1;
    }
    c->file_body = false;
}

static void free_blocks(http_conn_t *c)
{
    for (http_block_t *b = c->blocks, *next; b; b = next) {
        next = b->next;
        arbor_free(b);
    }
    c->blocks = NULL;
}

/* ---- characters ------------------------------------------------------------------- */

bool arbor__http_tchar(unsigned char c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return true;
    return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* A byte of a field value: visible ASCII, space, tab or obs-text; never
 * CR, LF, NUL or another control (a bare CR, or a folded line's CRLF). */
static bool value_char(unsigned char c)
{
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

/* A byte of the request target: visible ASCII only. */
static bool target_char(unsigned char c)
{
    return c > 0x20 && c < 0x7f;
}

/* ---- parser callbacks --------------------------------------------------------------- */

static int stop(http_conn_t *c, int status)
{
    if (!c->error_status)
        c->error_status = status;
    return -1;
}

/* Appends len bytes to the request's strings; 431 beyond the head limit. */
static int head_append(http_conn_t *c, const char *at, size_t len)
{
    c->head_bytes += len;
    if (c->head_bytes > c->srv->opts.limits.max_head || c->head_used + len + 1 > c->head_cap)
        return stop(c, 431);
    memcpy(c->head + c->head_used, at, len);
    c->head_used += len;
    return 0;
}

static int head_end_string(http_conn_t *c)
{
    if (c->head_used + 1 > c->head_cap)
        return stop(c, 431);
    c->head[c->head_used++] = '\0';
    return 0;
}

static int on_message_begin(llhttp_t *p)
{
    http_conn_t *c = p->data;
    c->started = true;
    return 0;
}

static int on_url(llhttp_t *p, const char *at, size_t len)
{
    http_conn_t *c = p->data;
    for (size_t i = 0; i < len; i++)
        if (!target_char((unsigned char)at[i]))
            return stop(c, 400);
    if (c->last_cb != CB_URL) {
        c->last_cb = CB_URL;
        c->url = c->head + c->head_used;
        c->head_bytes += 16; /* the method, the version, spaces and CRLF */
    }
    return head_append(c, at, len);
}

static int on_url_complete(llhttp_t *p)
{
    return head_end_string(p->data);
}

static int on_header_field(llhttp_t *p, const char *at, size_t len)
{
    http_conn_t *c = p->data;
    for (size_t i = 0; i < len; i++)
        if (!arbor__http_tchar((unsigned char)at[i]))
            return stop(c, 400);
    if (c->last_cb != CB_FIELD) {
        c->last_cb = CB_FIELD;
        if (c->n_fields >= c->srv->opts.limits.max_fields)
            return stop(c, 431);
        c->fields[c->n_fields++] = (arbor_http_header_t){c->head + c->head_used, ""};
        c->head_bytes += 4; /* ": " and CRLF */
    }
    return head_append(c, at, len);
}

static int on_header_field_complete(llhttp_t *p)
{
    http_conn_t *c = p->data;
    /* An empty name (": value"), which llhttp 8.1 lets through even in
     * strict mode (on_header_field with no bytes): a name is a token, one
     * character at least. */
    if (c->last_cb != CB_FIELD || c->fields[c->n_fields - 1].name == c->head + c->head_used)
        return stop(c, 400);
    return head_end_string(c);
}

static int on_header_value(llhttp_t *p, const char *at, size_t len)
{
    http_conn_t *c = p->data;
    for (size_t i = 0; i < len; i++)
        if (!value_char((unsigned char)at[i]))
            return stop(c, 400);
    if (c->last_cb != CB_VALUE) {
        c->last_cb = CB_VALUE;
        c->fields[c->n_fields - 1].value = c->head + c->head_used;
    } else if (c->value_end != c->feed_end_before || at != c->feed_start) {
        /* A value in two pieces that are not the two sides of a read's
         * end: llhttp 8.1 joined a folded line (obs-fold), even in strict
         * mode. */
        return stop(c, 400);
    }
    c->value_end = at + len;
    return head_append(c, at, len);
}

/* Whether a field's name is lower, in any case; lower is in lower case
 * and starts with a letter (the first byte rejects most names). */
static bool name_is(const char *name, const char *lower)
{
    return ((unsigned char)name[0] | 0x20) == (unsigned char)lower[0] && !strcasecmp(name, lower);
}

static int on_header_value_complete(llhttp_t *p)
{
    http_conn_t *c = p->data;
    if (c->last_cb != CB_VALUE) { /* an empty value */
        c->last_cb = CB_VALUE;
        c->fields[c->n_fields - 1].value = c->head + c->head_used;
    }
    /* Trailing white space is not part of the value (RFC 9110 5.5). */
    char *v = (char *)c->fields[c->n_fields - 1].value;
    while (c->head + c->head_used > v &&
           (c->head[c->head_used - 1] == ' ' || c->head[c->head_used - 1] == '\t'))
        c->head_used--;
    if (head_end_string(c))
        return -1;
    if (c->headers_done)
        return 0; /* a trailer field: checked, never used (see serve) */
    const arbor_http_header_t *f = &c->fields[c->n_fields - 1];
    if (name_is(f->name, "content-length"))
        c->n_content_length++;
    else if (name_is(f->name, "transfer-encoding"))
        c->n_transfer_encoding++;
    else if (name_is(f->name, "expect")) {
        if (strcasecmp(f->value, "100-continue"))
            return stop(c, 417);
        c->expect_continue = true;
    }
    return 0;
}

static int on_headers_complete(llhttp_t *p)
{
    http_conn_t *c = p->data;
    /* A request line without a target ("CONNECT \n"), which llhttp 8.1
     * lets through (with on_url given no bytes, or not called). */
    if (!c->url || !*c->url)
        return stop(c, 400);
    /* Framing that two parsers could read two ways is refused, whatever
     * llhttp made of it (RFC 9112 6.1, 6.3). */
    if (c->n_content_length > 1 || (c->n_content_length && c->n_transfer_encoding) ||
        c->n_transfer_encoding > 1)
        return stop(c, 400);
    for (size_t i = 0; c->n_transfer_encoding && i < c->n_fields; i++)
        if (name_is(c->fields[i].name, "transfer-encoding") &&
            strcasecmp(c->fields[i].value, "chunked"))
            return stop(c, 400);
    if ((p->flags & F_CONTENT_LENGTH) && p->content_length > c->srv->opts.limits.max_body)
        return stop(c, 413);
    c->headers_done = true;
    c->n_head_fields = c->n_fields;
    return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t len)
{
    http_conn_t *c = p->data;
    size_t max = c->srv->opts.limits.max_body;
    if (len > max - c->body_len)
        return stop(c, 413);
    if (c->body_len + len + 1 > c->body_cap) {
        size_t cap = c->body_cap ? c->body_cap : 4096;
        while (cap < c->body_len + len + 1)
            cap *= 2;
        if (cap > max + 1)
            cap = max + 1;
        char *b = arbor_realloc(c->body, cap);
        if (!b)
            return stop(c, 500);
        c->body = b;
        c->body_cap = cap;
    }
    memcpy(c->body + c->body_len, at, len);
    c->body_len += len;
    return 0;
}

static int on_message_complete(llhttp_t *p)
{
    http_conn_t *c = p->data;
    c->message_done = true;
    /* An upgrade (Upgrade with Connection: upgrade, or CONNECT) is not
     * served: the request is answered as any other, then the connection
     * closes, since what follows it is not HTTP. */
    c->keep_alive = llhttp_should_keep_alive(p) && !p->upgrade;
    return HPE_PAUSED; /* one request at a time: the rest stays buffered */
}

static const llhttp_settings_t settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_url_complete = on_url_complete,
    .on_header_field = on_header_field,
    .on_header_field_complete = on_header_field_complete,
    .on_header_value = on_header_value,
    .on_header_value_complete = on_header_value_complete,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

/* ---- reading ------------------------------------------------------------------------ */

void arbor__http_request_reset(http_conn_t *c)
{
    free_blocks(c);
    c->head_used = c->head_bytes = 0;
    c->n_fields = c->n_head_fields = 0;
    c->last_cb = CB_NONE;
    c->url = NULL;
    c->body_len = 0;
    if (c->body_cap > BODY_KEEP) { /* a large body's buffer is not kept while idle */
        arbor_free(c->body);
        c->body = NULL;
        c->body_cap = 0;
    }
    c->error_status = 0;
    c->started = c->headers_done = c->message_done = false;
    c->expect_continue = c->continue_sent = false;
    c->keep_alive = false;
    c->n_content_length = c->n_transfer_encoding = 0;
    c->n_res_headers = 0;
    c->streaming = c->head_only = c->lean = false;
    c->write_error = 0;
    c->send_timeout_ms = c->srv->opts.limits.send_timeout_ms;
    close_file(c); /* a file body not sent (an error answer went instead) */
    /* The handler sees the fields as they are read. */
    c->req.headers = c->fields;
    c->req.n_headers = 0;
}

int arbor__http_feed(http_conn_t *c)
{
    const char *from = c->in + c->in_pos;
    c->feed_start = from;
    llhttp_errno_t e = llhttp_execute(&c->parser, from, c->in_len - c->in_pos);
    c->feed_end_before = c->in + c->in_len;
    c->req.n_headers = c->headers_done ? c->n_head_fields : c->n_fields;
    if (e == HPE_OK) {
        c->in_pos = c->in_len;
        return FEED_MORE;
    }
    if (e == HPE_PAUSED) {
        c->in_pos = (size_t)(llhttp_get_error_pos(&c->parser) - c->in);
        llhttp_resume(&c->parser);
        return FEED_MESSAGE;
    }
    if (e == HPE_PAUSED_UPGRADE) { /* see on_message_complete */
        c->in_pos = c->in_len;
        c->keep_alive = false;
        if (c->message_done)
            return FEED_MESSAGE;
    }
    if (!c->error_status)
        c->error_status = 400;
    return FEED_ERROR;
}

/* ---- writing -------------------------------------------------------------------------- */

/* Makes room for more bytes of output. The buffer is taken when the first
 * byte is queued (OUT_SIZE at first), not when the request's first bytes
 * come, so that a connection in the middle of a request, whose client may
 * take its time, holds no output buffer. */
static __attribute__((noinline)) int out_grow(http_conn_t *c, size_t more)
{
    size_t cap = c->out_cap ? c->out_cap * 2 : OUT_SIZE;
    while (cap < c->out_len + more)
        cap *= 2;
    char *o = NULL;
    if (!c->out && cap == OUT_SIZE)
        o = arbor__http_cache_take(c->srv, HTTP_BUF_OUT);
    if (!o)
        o = arbor_realloc(c->out, cap);
    if (!o)
        return ARBOR_ENOMEM;
    c->out = o;
    c->out_cap = cap;
    return 0;
}

static int out_reserve(http_conn_t *c, size_t more)
{
    /* The rest apart, so that this test is all that out_add() inlines. */
    return c->out_len + more <= c->out_cap ? 0 : out_grow(c, more);
}

/* Gives the output buffer back (to the cache when it has its first
 * size); it must hold nothing still to send. */
static void out_release(http_conn_t *c)
{
    if (c->out_cap == OUT_SIZE)
        arbor__http_cache_give(c->srv, HTTP_BUF_OUT, c->out);
    else
        arbor_free(c->out);
    c->out = NULL;
    c->out_cap = c->out_len = 0;
}

static int out_add(http_conn_t *c, const void *data, size_t len)
{
    int rc = out_reserve(c, len);
    if (rc)
        return rc;
    memcpy(c->out + c->out_len, data, len);
    c->out_len += len;
    return 0;
}

/* A string, a decimal and a hexadecimal number, without printf's
 * machinery (which was most of a small answer's instructions). */
#define OUT_LIT(c, literal) out_add(c, literal, sizeof literal - 1)

static int out_str(http_conn_t *c, const char *s)
{
    return out_add(c, s, strlen(s));
}

static int out_decimal(http_conn_t *c, long long n)
{
    char digits[24], *p = digits + sizeof digits;
    unsigned long long u = n < 0 ? 0ull - (unsigned long long)n : (unsigned long long)n;
    do
        *--p = (char)('0' + u % 10);
    while (u /= 10);
    if (n < 0)
        *--p = '-';
    return out_add(c, p, (size_t)(digits + sizeof digits - p));
}

static int out_hex(http_conn_t *c, size_t n)
{
    char digits[2 * sizeof n], *p = digits + sizeof digits;
    do
        *--p = "0123456789abcdef"[n & 15];
    while (n >>= 4);
    return out_add(c, p, (size_t)(digits + sizeof digits - p));
}

static int flush(http_conn_t *c)
{
    if (!c->out_len)
        return 0;
    int rc = arbor_socket_send(c->socket, c->out, c->out_len, c->send_timeout_ms, NULL);
    c->out_len = 0;
    if (c->lean)
        out_release(c); /* an event stream holds no output between its writes */
    return rc;
}

/* "Sun, 06 Dec 2026 14:45:37 GMT", formatted once a second per thread. */
static const char *http_date(void)
{
    static __thread time_t cached_at;
    static __thread char text[HTTP_DATE_SIZE];
    time_t now = time(NULL);
    if (now != cached_at) {
        arbor__http_date_format((int64_t)now, text);
        cached_at = now;
    }
    return text;
}

static bool status_has_body(int status)
{
    return !(status < 200 || status == 204 || status == 304);
}

/* Queues the status line and headers; length < 0: streamed. */
static int write_head(http_conn_t *c, int64_t length)
{
    const arbor_http_response_t *r = &c->res;
    int rc = OUT_LIT(c, "HTTP/1.1 ");
    if (!rc)
        rc = out_decimal(c, r->status);
    if (!rc)
        rc = OUT_LIT(c, " ");
    if (!rc)
        rc = out_str(c, arbor_http_status_text(r->status));
    if (!rc)
        rc = OUT_LIT(c, "\r\nServer: arbor\r\nDate: ");
    if (!rc)
        rc = out_str(c, http_date());
    if (!rc && r->content_type) {
        rc = OUT_LIT(c, "\r\nContent-Type: ");
        if (!rc)
            rc = out_str(c, r->content_type);
    }
    for (size_t i = 0; !rc && i < c->n_res_headers; i++) {
        rc = OUT_LIT(c, "\r\n");
        if (!rc)
            rc = out_str(c, c->res_headers[i].name);
        if (!rc)
            rc = OUT_LIT(c, ": ");
        if (!rc)
            rc = out_str(c, c->res_headers[i].value);
    }
    if (!rc && status_has_body(r->status)) {
        if (length >= 0) {
            rc = OUT_LIT(c, "\r\nContent-Length: ");
            if (!rc)
                rc = out_decimal(c, length);
        } else if (c->req.version >= 11) {
            rc = OUT_LIT(c, "\r\nTransfer-Encoding: chunked");
        }
    }
    if (arbor__http_draining(c->srv))
        c->keep_alive = false; /* the server is shutting down: this is the last answer */
    if (!rc && !c->keep_alive)
        rc = OUT_LIT(c, "\r\nConnection: close");
    else if (!rc && c->req.version < 11)
        rc = OUT_LIT(c, "\r\nConnection: keep-alive");
    return rc ? rc : OUT_LIT(c, "\r\n\r\n");
}

/* A response the server makes itself (an error), then the connection
 * closes. */
void arbor__http_write_error(http_conn_t *c, int status)
{
    const char *text = arbor_http_status_text(status);
    c->keep_alive = false;
    c->n_res_headers = 0;
    c->res = (arbor_http_response_t){.status = status, .content_type = "text/plain"};
    size_t len = strlen(text) + 1;
    if (status == 503)
        c->res_headers[c->n_res_headers++] = (arbor_http_header_t){"Retry-After", "1"};
    if (write_head(c, (int64_t)len) == 0) {
        out_add(c, text, len - 1);
        out_add(c, "\n", 1);
    }
}

int arbor_http_write(arbor_http_response_t *res, const void *data, size_t len)
{
    http_conn_t *c = HTTP_CONN_OF_RES(res);
    if (c->write_error)
        return c->write_error;
    int rc = 0;
    if (!c->streaming) {
        c->streaming = true;
        /* Something is about to be sent: a crash can no longer say 500. */
        arbor_socket_last_words(c->socket, NULL, 0);
        if (c->req.version < 11)
            c->keep_alive = false; /* the body ends when the connection does */
        rc = write_head(c, -1);
    }
    if (!rc && len && !c->head_only && status_has_body(res->status)) {
        if (c->req.version >= 11)
            rc = out_hex(c, len);
        if (!rc && c->req.version >= 11)
            rc = OUT_LIT(c, "\r\n");
        if (!rc)
            rc = out_add(c, data, len);
        if (!rc && c->req.version >= 11)
            rc = out_add(c, "\r\n", 2);
    }
    if (!rc)
        rc = flush(c);
    if (rc)
        c->write_error = rc;
    return rc;
}

/* ---- a body from a file ------------------------------------------------------------------- */

void arbor__http_file_body(http_conn_t *c, const http_body_piece_t *pieces, size_t n)
{
    c->file_body = true;
    c->file_pieces = pieces;
    c->n_file_pieces = n;
}

typedef struct chunk_read {
    int fd;
    char *buf;
    size_t size, got;
    uint64_t offset;
    int err;
} chunk_read_t;

/* On the blocking pool: reads up to size bytes at offset, fewer only at
 * the end of the file. */
static void *read_chunk(void *arg)
{
    chunk_read_t *j = arg;
    while (j->got < j->size) {
        ssize_t n = pread(j->fd, j->buf + j->got, j->size - j->got, (off_t)(j->offset + j->got));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            j->err = -errno;
            break;
        }
        if (n == 0)
            break;
        j->got += (size_t)n;
    }
    return NULL;
}

/* Queues len bytes behind what is queued while they fit the output
 * buffer; else sends what is queued, then them. *sent: something went. */
static int queue_or_send(http_conn_t *c, const char *data, size_t len, bool *sent)
{
    if (c->out_len + len <= OUT_SIZE)
        return out_add(c, data, len);
    *sent = true;
    int rc = flush(c);
    return rc ? rc : arbor_socket_send(c->socket, data, len, c->send_timeout_ms, NULL);
}

/* Writes the head and sends the body's pieces (see arbor__http_file_body):
 * one chunk of the file in memory at a time, each read on the blocking
 * pool, then handed to the socket within the send timeout, so that a
 * reader slower than the disk holds the connection's process in its send,
 * not more memory. What fits the output buffer is queued there (a small
 * file goes out with its head in one write). */
static void send_file(http_conn_t *c)
{
    uint64_t total = 0, largest = 0;
    for (size_t i = 0; i < c->n_file_pieces; i++) {
        const http_body_piece_t *p = &c->file_pieces[i];
        total += p->length;
        if (!p->text && p->length > largest)
            largest = p->length;
    }
    size_t cap = largest < HTTP_FILE_CHUNK ? (size_t)largest : HTTP_FILE_CHUNK;
    char *buf = NULL;
    if (!c->head_only && cap && !(buf = arbor_alloc(cap))) {
        arbor__http_write_error(c, 500);
        close_file(c);
        return;
    }
    size_t before_head = c->out_len;
    int rc = write_head(c, (int64_t)total);
    bool sent = false;
    for (size_t i = 0; !rc && !c->head_only && i < c->n_file_pieces; i++) {
        const http_body_piece_t *p = &c->file_pieces[i];
        if (p->text) {
            rc = queue_or_send(c, p->text, (size_t)p->length, &sent);
            continue;
        }
        for (uint64_t at = p->offset, left = p->length; !rc && left;) {
            chunk_read_t j = {.fd = c->file_fd,
                              .buf = buf,
                              .size = left < cap ? (size_t)left : cap,
                              .offset = at};
            rc = arbor_blocking(read_chunk, &j, NULL);
            if (!rc)
                rc = j.err ? j.err : j.got < j.size ? ARBOR_EINVAL : 0; /* it shrank */
            if (rc && !sent) {
                /* Nothing sent yet: the client can still be told. */
                c->out_len = before_head;
                arbor__http_write_error(c, 500);
                arbor_free(buf);
                close_file(c);
                return;
            }
            if (!rc)
                rc = queue_or_send(c, buf, j.got, &sent);
            at += j.got;
            left -= j.got;
        }
    }
    if (rc) { /* the body is cut short: only closing can say so */
        c->write_error = rc;
        c->keep_alive = false;
    }
    arbor_free(buf);
    close_file(c);
}

/* ---- requests ---------------------------------------------------------------------------- */

static void exit_hook(void *arg)
{
    http_conn_t *c = arg;
    arbor__http_conn_leave(c);
    atomic_fetch_sub_explicit(&c->srv->live, 1, memory_order_relaxed);
    close_file(c);
    if (!c->in_handler)
        return;
    char line[160];
    snprintf(line, sizeof line, "%s %.140s", c->req.method, c->req.target);
    arbor_report(&(arbor_report_t){.kind = ARBOR_REPORT_CRASH,
                                   .pid = c->pid,
                                   .behaviour = "http_connection",
                                   .what = "handler_crashed",
                                   .reason = arbor_error("the handler did not return"),
                                   .detail = line});
}

int arbor_http_set_crash_response(arbor_http_response_t *res, int status, const char *content_type,
                                  const void *body, size_t len)
{
    http_conn_t *c = HTTP_CONN_OF_RES(res);
    if (status < 200 || status > 999 || !c->in_handler || c->streaming ||
        (content_type && content_type[strcspn(content_type, "\r\n")]))
        return ARBOR_EINVAL;
    char head[512];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d %s\r\n%s%s%sContent-Length: %zu\r\nConnection: close\r\n\r\n",
                     status, arbor_http_status_text(status), content_type ? "Content-Type: " : "",
                     content_type ? content_type : "", content_type ? "\r\n" : "", len);
    if (n < 0 || (size_t)n >= sizeof head)
        return ARBOR_EINVAL; /* a content type too long for a head of its own */
    char *words = arbor__http_alloc(c, (size_t)n + len); /* freed after the answer */
    if (!words)
        return ARBOR_ENOMEM;
    memcpy(words, head, (size_t)n);
    if (len)
        memcpy(words + n, body, len);
    arbor_socket_last_words(c->socket, words, c->head_only ? (size_t)n : (size_t)n + len);
    return 0;
}

/* Runs the handler for the request just parsed and queues its answer. */
void arbor__http_serve(http_conn_t *c)
{
    arbor_http_request_t *q = &c->req;
    q->method = llhttp_method_name(llhttp_get_method(&c->parser));
    q->version = c->parser.http_major * 10 + c->parser.http_minor;
    q->target = c->url ? c->url : "";
    char *mark = strchr(q->target, '?');
    if (mark) {
        q->path = arbor__http_strdup(c, q->target, (size_t)(mark - q->target));
        q->query = mark + 1;
    } else {
        q->path = q->target;
        q->query = "";
    }
    if (!q->path) {
        arbor__http_write_error(c, 500);
        return;
    }
    q->headers = c->fields;
    /* Trailer fields (after a chunked body) are read and checked like
     * header fields, within the same limits, but not merged into the
     * headers (RFC 9110 6.5.1): a trailer "Content-Length" must not sit
     * beside the chunked framing it came with. */
    q->n_headers = c->n_head_fields;
    if (c->body) {
        c->body[c->body_len] = '\0';
        q->body = c->body;
    } else {
        q->body = "";
    }
    q->body_len = c->body_len;
    q->params = c->params;
    q->n_params = 0;
    c->head_only = !strcmp(q->method, "HEAD");
    c->res = (arbor_http_response_t){.status = 200};

    arbor_socket_last_words(c->socket, response_500,
                            c->head_only ? RESPONSE_500_HEAD_LEN : sizeof response_500 - 1);
    c->in_handler = true;
    c->srv->opts.handler(q, &c->res, c->srv->opts.handler_arg);
    c->in_handler = false;
    if (c->streaming) {
        if (!c->write_error && c->req.version >= 11 && !c->head_only &&
            status_has_body(c->res.status))
            out_add(c, "0\r\n\r\n", 5);
        return;
    }
    arbor_socket_last_words(c->socket, NULL, 0);
    if (c->res.status < 200 || c->res.status > 999) {
        arbor__http_write_error(c, 500);
        return;
    }
    bool body = status_has_body(c->res.status);
    if (c->file_body && body) {
        send_file(c);
        return;
    }
    close_file(c);
    size_t len = body ? c->res.body_len : 0;
    if (write_head(c, body ? (int64_t)len : -1) == 0 && len && !c->head_only)
        out_add(c, c->res.body, len);
}

/* Waits for more bytes of the request under way within the deadline of
 * where it is. Returns 0 with bytes, 1 when the connection is to close
 * quietly (end of file, an error), 408 when the request timed out. */
static int read_more(http_conn_t *c, uint64_t deadline)
{
    if (c->in_pos == c->in_len)
        c->in_pos = c->in_len = 0;
    uint64_t now = arbor_now_ms();
    if (now >= deadline)
        return 408;
    size_t got;
    int rc = arbor_socket_recv(c->socket, c->in + c->in_len, IN_SIZE - c->in_len,
                               (int64_t)(deadline - now), &got);
    if (rc == ARBOR_ETIMEDOUT)
        return 408;
    if (rc != 0 || got == 0)
        return 1;
    c->in_len += got;
    return 0;
}

/* Reads what the client sends, to drop it: into the input buffer, or,
 * after an event stream gave that back, into a small one of its own. */
static int recv_to_drop(http_conn_t *c, int64_t timeout_ms, size_t *got)
{
    char spare[512];
    return c->in ? arbor_socket_recv(c->socket, c->in, IN_SIZE, timeout_ms, got)
                 : arbor_socket_recv(c->socket, spare, sizeof spare, timeout_ms, got);
}

/* Closes after an error answer: stop writing, then read and drop what the
 * client still sends for a moment, so that our answer is not lost to the
 * reset that closing with unread bytes would send. */
static void linger_close(http_conn_t *c)
{
    flush(c);
    arbor_socket_shutdown_write(c->socket);
    uint64_t end = arbor_now_ms() + 1000;
    size_t got, total = 0;
    while (total < (1u << 20)) {
        uint64_t now = arbor_now_ms();
        if (now >= end || recv_to_drop(c, (int64_t)(end - now), &got) != 0 || got == 0)
            break;
        total += got;
    }
    arbor_socket_close(c->socket);
}

/* The deadline of the request under way: the head timeout from its first
 * byte to its last header, then the body timeout to its end. (The wait
 * for a request's first byte is the idle timeout's: see go_idle().) */
static uint64_t deadline_for(http_conn_t *c, uint64_t *phase_start, int *phase)
{
    const arbor_http_limits_t *l = &c->srv->opts.limits;
    int now_phase = c->headers_done ? 2 : 1;
    if (now_phase != *phase) {
        *phase = now_phase;
        *phase_start = arbor_now_ms();
    }
    int64_t ms = now_phase == 1 ? l->head_timeout_ms : l->body_timeout_ms;
    return *phase_start + (uint64_t)ms;
}

/* ---- buffers -------------------------------------------------------------------------- */

int arbor__http_conn_buffers(http_conn_t *c)
{
    if (c->in)
        return 0;
    /* One block for what has a fixed size (the header arrays first, for
     * their alignment); the output apart, since it grows, and only once
     * there is something to answer (out_reserve). */
    size_t fields = c->srv->opts.limits.max_fields * sizeof *c->fields;
    size_t res_headers = HTTP_MAX_RESPONSE_HEADERS * sizeof *c->res_headers;
    size_t params = ARBOR_HTTP_MAX_PARAMS * sizeof *c->params;
    /* Of the same size for every connection of the server (head_cap
     * comes from its limits): the cache's, or a new one. */
    char *block = arbor__http_cache_take(c->srv, HTTP_BUF_BLOCK);
    if (!block)
        block = arbor_alloc(fields + res_headers + params + IN_SIZE + c->head_cap);
    if (!block)
        return ARBOR_ENOMEM;
    c->fields = (arbor_http_header_t *)block;
    c->res_headers = (arbor_http_header_t *)(block + fields);
    c->params = (arbor_http_header_t *)(block + fields + res_headers);
    c->in = block + fields + res_headers + params;
    c->head = c->in + IN_SIZE;
    c->in_len = c->in_pos = 0;
    c->out = NULL;
    c->out_cap = c->out_len = 0;
    c->req.headers = c->fields;
    return 0;
}

void arbor__http_conn_release(http_conn_t *c)
{
    arbor__http_cache_give(c->srv, HTTP_BUF_BLOCK, c->fields); /* the block's start */
    out_release(c);
    arbor_free(c->body);
    c->fields = c->res_headers = c->params = NULL;
    c->in = c->head = c->out = c->body = NULL;
    c->in_len = c->in_pos = c->out_len = c->out_cap = c->body_cap = 0;
    c->req.headers = NULL;
}

/* Where p, a pointer into the head, lands in its copy at to. */
static const char *rebase(const http_conn_t *c, char *to, const char *p)
{
    uintptr_t at = (uintptr_t)p, from = (uintptr_t)c->head;
    return p && at >= from && at <= from + c->head_used ? to + (at - from) : p;
}

int arbor__http_conn_lean(http_conn_t *c)
{
    if (!c->in)
        return 0; /* already */
    int rc = flush(c);
    if (rc)
        return rc;
    arbor_http_request_t *q = &c->req;
    char *head = arbor__http_alloc(c, c->head_used); /* and a NUL */
    arbor_http_header_t *fields = arbor__http_alloc(c, q->n_headers * sizeof *fields);
    arbor_http_header_t *params = arbor__http_alloc(c, q->n_params * sizeof *params);
    if (!head || !fields || !params)
        return ARBOR_ENOMEM;
    memcpy(head, c->head, c->head_used);
    head[c->head_used] = '\0';
    for (size_t i = 0; i < q->n_headers; i++)
        fields[i] = (arbor_http_header_t){rebase(c, head, q->headers[i].name),
                                          rebase(c, head, q->headers[i].value)};
    for (size_t i = 0; i < q->n_params; i++)
        params[i] = (arbor_http_header_t){rebase(c, head, q->params[i].name),
                                          rebase(c, head, q->params[i].value)};
    q->headers = fields;
    q->params = params;
    q->target = rebase(c, head, q->target);
    q->path = rebase(c, head, q->path);
    q->query = rebase(c, head, q->query);
    c->url = (char *)rebase(c, head, c->url);
    /* The block and the output go back; the body (its own block) stays. */
    arbor__http_cache_give(c->srv, HTTP_BUF_BLOCK, c->fields);
    out_release(c);
    c->fields = c->res_headers = c->params = NULL;
    c->in = c->head = NULL;
    c->in_len = c->in_pos = c->n_res_headers = c->n_fields = c->n_head_fields = 0;
    c->value_end = c->feed_start = c->feed_end_before = NULL;
    c->lean = true;
    return 0;
}

int arbor__http_conn_setup(http_conn_t *c)
{
    const arbor_http_limits_t *l = &c->srv->opts.limits;
    c->head_cap = 2 * l->max_head + 4 * (size_t)l->max_fields + 64;
    c->send_timeout_ms = l->send_timeout_ms;
    c->file_fd = -1;
    int rc = arbor__http_conn_buffers(c);
    if (rc)
        return rc;
    llhttp_init(&c->parser, HTTP_REQUEST, &settings);
    c->parser.data = c;
    arbor__http_request_reset(c);
    return 0;
}

/* ---- the process ------------------------------------------------------------------------ */

/* The connection ends: its buffers go back to the server's cache for
 * the next connection (a process that is killed frees them with its
 * memory instead). */
static _Noreturn void end(http_conn_t *c)
{
    arbor__http_conn_release(c);
    arbor_exit(ARBOR_NORMAL); /* the socket closes with the process */
}

/* After the answer to a request that said it was the client's last:
 * closes at once, as Go's net/http and nginx do, when nothing more was
 * received (nothing buffered, nothing in the socket), since then no reset
 * can overtake the answer; returns otherwise (the caller lingers). This
 * saves the lingering close's shutdown, wait and reads on every
 * connection-per-request client. */
static void close_if_all_read(http_conn_t *c)
{
    if (c->in_pos < c->in_len)
        return;
    size_t got;
    int rc = recv_to_drop(c, 0, &got);
    if (rc == 0 && got > 0)
        return; /* more bytes: linger over them */
    arbor_socket_close(c->socket);
    end(c);
}

/* Reads what has come, without waiting, into the empty input buffer.
 * Returns 0 with bytes, ARBOR_ETIMEDOUT when nothing has come, 1 at the
 * end of the stream or an error. */
static int read_now(http_conn_t *c)
{
    size_t got;
    c->in_pos = c->in_len = 0;
    int rc = arbor_socket_recv(c->socket, c->in, IN_SIZE, 0, &got);
    if (rc == ARBOR_ETIMEDOUT)
        return rc;
    if (rc != 0 || got == 0)
        return 1;
    c->in_len = got;
    return 0;
}

/* Serves requests, with what is buffered and what comes, until the
 * connection waits for a request's first byte with nothing buffered: then
 * it returns, and the caller makes it idle. Ends the process when the
 * connection is to close. */
static void serve_until_idle(http_conn_t *c)
{
    uint64_t phase_start = 0;
    int phase = -1;
    for (;;) {
        int r = c->in_pos < c->in_len ? arbor__http_feed(c) : FEED_MORE;
        if (r == FEED_MESSAGE) {
            /* What earlier requests said goes first: a crash in this
             * handler says its 500 after them. */
            if (flush(c) != 0)
                end(c);
            /* The client said this is its last request (Connection:
             * close, or HTTP/1.0 without keep-alive), and asked for no
             * upgrade: nothing is to come after it. */
            bool client_closes = !c->keep_alive && !c->parser.upgrade;
            arbor__http_serve(c);
            bool keep = c->keep_alive && !c->write_error;
            arbor__http_request_reset(c);
            c->idle_deadline = 0; /* the next wait is a new one */
            phase = -1;
            if (!keep) {
                if (flush(c) == 0 && client_closes)
                    close_if_all_read(c);
                linger_close(c);
                end(c);
            }
            continue;
        }
        if (r == FEED_ERROR) {
            arbor__http_write_error(c, c->error_status);
            linger_close(c);
            end(c);
        }
        /* All that is buffered is parsed: answer what is queued, then read. */
        if (c->headers_done && c->expect_continue && !c->continue_sent) {
            c->continue_sent = true;
            static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
            out_add(c, cont, sizeof cont - 1);
        }
        if (flush(c) != 0)
            end(c);
        if (!c->started && c->in_pos == c->in_len) {
            /* Between requests: what already came is served at once (a
             * busy client's next request need not wait for the poller);
             * with nothing there, the caller makes the connection idle. */
            int now = read_now(c);
            if (now == ARBOR_ETIMEDOUT)
                return;
            if (now != 0)
                end(c);
            continue;
        }
        /* Waiting for the rest of a request, which a slow client may
         * make long: the output buffer (an earlier answer's, all sent)
         * is given back until there is an answer again. */
        if (c->out && !c->out_len)
            out_release(c);
        int rc = read_more(c, deadline_for(c, &phase_start, &phase));
        if (rc == 408) {
            arbor__http_write_error(c, 408);
            linger_close(c);
            end(c);
        }
        if (rc)
            end(c);
    }
}

/* Waits for the next request without a stack or buffers: gives the
 * buffers back, says idle (with the deadline of this wait, which a
 * spurious wake-up does not move) and arms a readiness message. The
 * process's stack goes back to the runtime when the handler returns. */
static void go_idle(http_conn_t *c)
{
    arbor__http_conn_release(c);
    if (!c->idle_deadline)
        c->idle_deadline = arbor_now_ms() + (uint64_t)c->srv->opts.limits.idle_timeout_ms;
    /* A drain under way closes it at once, as one that finds it idle. */
    if (!arbor__http_conn_idle(c, c->idle_deadline))
        end(c);
    if (arbor_socket_notify(c->socket, ARBOR_READABLE) != 0)
        end(c);
}

/* Reads what has come and serves it, then goes idle (at once when
 * nothing had come: a spurious notification, or a client that has not
 * sent its first request yet). */
static void serve(http_conn_t *c)
{
    int rc = read_now(c);
    if (rc != 0 && rc != ARBOR_ETIMEDOUT)
        end(c);
    if (rc == 0)
        serve_until_idle(c);
    go_idle(c);
}

/* The socket is readable: bytes, the end of the stream, or nothing. */
static void on_readable(http_conn_t *c)
{
    if (!arbor__http_conn_busy(c))
        end(c); /* a drain or the idle timeout closed it */
    if (arbor__http_conn_buffers(c) != 0)
        arbor_exit(arbor_error("out of memory"));
    serve(c);
}

/* The reactor's init: takes the socket from the acceptor, then serves the
 * first requests as on_readable() does the later ones. */
static void conn_init(void **state)
{
    arbor_http_server_t *srv = *state;
    http_conn_t *c = arbor_calloc(1, sizeof *c);
    if (!c) {
        atomic_fetch_sub_explicit(&srv->live, 1, memory_order_relaxed);
        arbor_exit(arbor_error("out of memory"));
    }
    c->srv = srv;
    c->pid = arbor_self();
    c->file_fd = -1;
    if (arbor_on_exit(exit_hook, c) != 0) {
        atomic_fetch_sub_explicit(&srv->live, 1, memory_order_relaxed);
        arbor_exit(arbor_error("out of memory"));
    }
    *state = c;
    arbor_msg_t *m;
    if (arbor_receive(5000, &m) != 0)
        arbor_exit(arbor_error("no socket"));
    bool reject = m->tag == ARBOR__HTTP_TAG_REJECT;
    c->socket = *(arbor_socket_t *)m->data;
    arbor_msg_free(m);
    arbor_socket_peer(c->socket, &c->req.peer);

    if (arbor__http_conn_setup(c) != 0)
        arbor_exit(arbor_error("out of memory"));
    if (!arbor__http_conn_enter(c))
        end(c); /* the server drains: closed at once, as if idle */
    if (reject) {
        arbor__http_write_error(c, 503);
        linger_close(c);
        end(c);
    }
    /* The client usually sent its request with its connect: it is read
     * now rather than after a trip through the poller. */
    serve(c);
}

/* Every message after the socket: its readiness, or one the application
 * sent, which an idle connection drops (a handler that waits for messages
 * takes them itself, while it runs). */
static void conn_handle(void *state, arbor_msg_t *m)
{
    http_conn_t *c = state;
    if (m->tag != ARBOR_TAG_SOCKET || m->from != ARBOR_NOPID)
        return;
    const arbor_socket_event_t *ev = m->data;
    if (ev->socket != c->socket)
        return;
    if (ev->events & ARBOR_CLOSED)
        end(c);
    on_readable(c);
}

const arbor_reactor_t arbor__http_conn_ops = {.init = conn_init, .handle = conn_handle};

/*
 * Fuzz target: the HTTP server's request path (src/http/http_conn.c) as a
 * connection runs it, without the socket: bytes go into the connection's
 * input buffer as reads would bring them, llhttp (strict) and the server's
 * own checks parse them, each whole request is routed and answered into
 * the output buffer, pipelined ones in turn, until an error answer or a
 * request that closes the connection. Small limits (1 KiB of head, 16
 * fields, 4 KiB of body) so that the fuzzer reaches them. The connection's
 * memory is a process's, so the runtime runs, started once on a thread of
 * its own, and each input is parsed in a fresh process, whose memory goes
 * with it.
 *
 * Invariants:
 *   - no request that a second parser could frame differently gets
 *     through: at most one Content-Length, all digits, and then the body
 *     is exactly that long; at most one Transfer-Encoding, "chunked", and
 *     never with Content-Length; neither: no body (an upgrade or CONNECT
 *     reads no body and closes the connection after its answer);
 *   - a handler sees the header section only, never trailer fields;
 *   - what a handler sees is clean: header names are tokens, values hold
 *     no CR, LF, NUL or other control but tab and have no white space at
 *     their end, the target is visible ASCII; the limits hold (fields,
 *     head bytes, body bytes);
 *   - an error is one of the documented answers (400, 413, 417, 431);
 *   - each answer is one well-framed response: a status line, headers, an
 *     empty line and exactly Content-Length bytes of body (none for HEAD,
 *     1xx, 204, 304);
 *   - how the bytes are cut into reads changes nothing: all at once, a
 *     byte at a time and in pieces of varying size give the same requests
 *     and answers, and an error at the same place (a folded header line
 *     is told apart from a value cut by a read only by where the read
 *     ended). Only which error may differ, for a request that breaks two
 *     rules at once (a limit and a bad byte): llhttp hands over a span of
 *     bytes at its end or at the read's end, whichever comes first, and
 *     reports the errors it finds itself before that.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../../src/http/http_internal.h"
#include "fuzz_util.h"

/* ---- the handlers -------------------------------------------------------------------- */

static void show_param(arbor_http_request_t *req, arbor_http_response_t *res, void *arg)
{
    (void)arg;
    arbor_http_replyf(res, 200, "text/plain", "id=%s", arbor_http_param(req, "id"));
}

static void echo(arbor_http_request_t *req, arbor_http_response_t *res, void *arg)
{
    (void)arg;
    arbor_http_reply(res, 200, "application/octet-stream", req->body, req->body_len);
}

static void query(arbor_http_request_t *req, arbor_http_response_t *res, void *arg)
{
    (void)arg;
    char value[64];
    int n = arbor_http_query(req->query, "a", value, sizeof value);
    if (n >= 0) /* an encoded NUL is refused, so the length is the string's */
        FUZZ_ASSERT((size_t)n == strlen(value), "query length %d for '%s'", n, value);
    arbor_http_replyf(res, n >= 0 ? 200 : 400, "text/plain", "%d %s %s", n, n >= 0 ? value : "",
                      arbor_http_param(req, "rest"));
    arbor_http_set_header(res, "X-Rest", arbor_http_param(req, "rest"));
}

static const arbor_http_route_t routes[] = {
    {"GET", "/t/:id", show_param, NULL},
    {"POST", "/echo", echo, NULL},
    {NULL, "/q/*rest", query, NULL},
};
static arbor_http_router_t router = {routes, sizeof routes / sizeof routes[0]};

/* ---- a transcript ------------------------------------------------------------------------ */

typedef struct transcript {
    char *text;
    size_t len, cap;
} transcript_t;

static void note(transcript_t *t, const void *data, size_t len)
{
    if (t->len + len + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 4096;
        while (cap < t->len + len + 1)
            cap *= 2;
        t->text = realloc(t->text, cap);
        FUZZ_ASSERT(t->text != NULL, "out of memory");
        t->cap = cap;
    }
    memcpy(t->text + t->len, data, len);
    t->len += len;
    t->text[t->len] = '\0';
}

static void notef(transcript_t *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void notef(transcript_t *t, const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    note(t, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

/* ---- the invariants ------------------------------------------------------------------------ */

static bool visible(unsigned char ch)
{
    return ch > 0x20 && ch < 0x7f;
}

/* The request just parsed, before its handler runs. */
static void check_request(http_conn_t *c)
{
    const arbor_http_limits_t *l = &c->srv->opts.limits;
    FUZZ_ASSERT(c->url && *c->url, "a request without a target");
    for (const char *p = c->url; *p; p++)
        FUZZ_ASSERT(visible((unsigned char)*p), "target byte 0x%02x", (unsigned char)*p);
    FUZZ_ASSERT(c->n_fields <= l->max_fields, "%zu fields", c->n_fields);
    FUZZ_ASSERT(c->head_bytes <= l->max_head, "%zu bytes of head", c->head_bytes);
    FUZZ_ASSERT(c->body_len <= l->max_body, "%zu bytes of body", c->body_len);
    const char *cl = NULL, *te = NULL;
    int n_cl = 0, n_te = 0;
    FUZZ_ASSERT(c->n_head_fields <= c->n_fields, "%zu header fields of %zu", c->n_head_fields,
                c->n_fields);
    for (size_t i = 0; i < c->n_fields; i++) {
        const char *name = c->fields[i].name, *value = c->fields[i].value;
        FUZZ_ASSERT(*name, "an empty header name");
        for (const char *p = name; *p; p++)
            FUZZ_ASSERT(arbor__http_tchar((unsigned char)*p), "name byte 0x%02x",
                        (unsigned char)*p);
        size_t vlen = strlen(value);
        for (size_t k = 0; k < vlen; k++) {
            unsigned char ch = (unsigned char)value[k];
            FUZZ_ASSERT(ch == '\t' || (ch >= 0x20 && ch != 0x7f), "value byte 0x%02x", ch);
        }
        FUZZ_ASSERT(!vlen || (value[vlen - 1] != ' ' && value[vlen - 1] != '\t'),
                    "white space ends the value of %s", name);
        if (i >= c->n_head_fields)
            continue; /* a trailer field: never shown to the handler */
        if (!strcasecmp(name, "content-length"))
            cl = value, n_cl++;
        if (!strcasecmp(name, "transfer-encoding"))
            te = value, n_te++;
    }
    FUZZ_ASSERT(n_cl <= 1 && n_te <= 1, "%d Content-Lengths, %d Transfer-Encodings", n_cl, n_te);
    FUZZ_ASSERT(!(cl && te), "Content-Length with Transfer-Encoding");
    if (te)
        FUZZ_ASSERT(!strcasecmp(te, "chunked"), "Transfer-Encoding '%s'", te);
    if (cl)
        FUZZ_ASSERT(*cl && strspn(cl, "0123456789") == strlen(cl), "Content-Length '%s'", cl);
    /* After an upgrade or CONNECT what follows the head is not HTTP: no
     * body is read, and the connection closes after the answer. */
    if (c->parser.upgrade) {
        FUZZ_ASSERT(!c->keep_alive, "kept alive after an upgrade");
        return;
    }
    if (cl)
        FUZZ_ASSERT(strtoull(cl, NULL, 10) == c->body_len, "Content-Length %s, a body of %zu", cl,
                    c->body_len);
    if (!cl && !te)
        FUZZ_ASSERT(c->body_len == 0, "a body of %zu without framing", c->body_len);
}

/* The one response queued in out: a status line, headers, and exactly its
 * body. Returns its status. */
static int check_response(http_conn_t *c, bool head_request)
{
    char *out = c->out;
    size_t len = c->out_len;
    int status = 0;
    FUZZ_ASSERT(len > 12 && !memcmp(out, "HTTP/1.1 ", 9), "no status line");
    FUZZ_ASSERT(sscanf(out + 9, "%3d", &status) == 1 && status >= 100 && status <= 999,
                "status '%.3s'", out + 9);
    char *end = memmem(out, len, "\r\n\r\n", 4);
    FUZZ_ASSERT(end != NULL, "an unfinished head");
    size_t head = (size_t)(end - out) + 4, body = len - head;
    for (char *p = out; p < end; p++)
        FUZZ_ASSERT(*p != '\0' && (*p != '\n' || p[-1] == '\r') && (*p != '\r' || p[1] == '\n'),
                    "a bare CR, LF or NUL in the head");
    char *cl = memmem(out, head, "\r\nContent-Length: ", 18);
    bool no_body = head_request || status < 200 || status == 204 || status == 304;
    if (no_body) {
        FUZZ_ASSERT(body == 0, "%zu bytes of body for status %d%s", body, status,
                    head_request ? " to HEAD" : "");
    } else {
        FUZZ_ASSERT(cl != NULL, "status %d without Content-Length", status);
        FUZZ_ASSERT(strtoull(cl + 18, NULL, 10) == body, "Content-Length %llu, %zu bytes",
                    strtoull(cl + 18, NULL, 10), body);
    }
    return status;
}

/* ---- one run --------------------------------------------------------------------------------- */

enum { ALL_AT_ONCE, BYTE_BY_BYTE, PIECES, MODES };

typedef struct job {
    const uint8_t *data;
    size_t len;
    arbor_http_server_t *srv;
    transcript_t t[MODES];
} job_t;

/* The size of the next read in mode, at pos. */
static size_t piece(const job_t *j, int mode, size_t pos)
{
    if (mode == ALL_AT_ONCE)
        return j->len;
    if (mode == BYTE_BY_BYTE)
        return 1;
    return 1 + (size_t)((pos * 2654435761u + j->data[pos]) % 37);
}

/* Records the request and its answer; returns whether the connection stays. */
static bool serve_one(http_conn_t *c, transcript_t *t)
{
    check_request(c);
    arbor__http_serve(c);
    const arbor_http_request_t *q = &c->req;
    FUZZ_ASSERT(q->n_headers == c->n_head_fields,
                "the handler saw %zu fields, not the %zu of the "
                "header section",
                q->n_headers, c->n_head_fields);
    notef(t, "R %s %s v%d %zu fields:", q->method, q->target, q->version, q->n_headers);
    for (size_t i = 0; i < q->n_headers; i++) {
        note(t, q->headers[i].name, strlen(q->headers[i].name));
        note(t, "=", 1);
        note(t, q->headers[i].value, strlen(q->headers[i].value));
        note(t, ";", 1);
    }
    notef(t, " body %zu:", q->body_len);
    note(t, q->body, q->body_len);
    int status = check_response(c, c->head_only);
    notef(t, " -> %d keep %d\n", status, c->keep_alive);
    bool keep = c->keep_alive && !c->write_error;
    c->out_len = 0;
    arbor__http_request_reset(c);
    return keep;
}

static void run_mode(job_t *j, int mode)
{
    transcript_t *t = &j->t[mode];
    http_conn_t *c = arbor_calloc(1, sizeof *c);
    FUZZ_ASSERT(c != NULL, "out of memory");
    c->srv = j->srv;
    c->file_fd = -1;
    FUZZ_ASSERT(arbor__http_conn_setup(c) == 0, "out of memory");
    size_t pos = 0;
    for (;;) {
        int r = c->in_pos < c->in_len ? arbor__http_feed(c) : FEED_MORE;
        if (r == FEED_MESSAGE) {
            if (!serve_one(c, t))
                break;
            continue;
        }
        if (r == FEED_ERROR) {
            int status = c->error_status;
            FUZZ_ASSERT(status == 400 || status == 413 || status == 417 || status == 431,
                        "refused with %d", status);
            arbor__http_write_error(c, status);
            FUZZ_ASSERT(check_response(c, false) == status, "the answer is not %d", status);
            notef(t, "error\n"); /* which: see the top */
            break;
        }
        if (pos == j->len) {
            notef(t, "end, %s\n", c->started ? "in a request" : "between requests");
            break;
        }
        if (c->in_pos == c->in_len)
            c->in_pos = c->in_len = 0;
        size_t n = piece(j, mode, pos);
        if (n > j->len - pos)
            n = j->len - pos;
        if (n > HTTP_IN_SIZE - c->in_len)
            n = HTTP_IN_SIZE - c->in_len;
        memcpy(c->in + c->in_len, j->data + pos, n);
        c->in_len += n;
        pos += n;
    }
    /* Its memory goes with the process. */
}

/* One input, in a process of its own (its memory goes with it). */
static void run_job(void *arg)
{
    job_t *j = arg;
    for (int mode = 0; mode < MODES; mode++)
        run_mode(j, mode);
}

/* ---- the runtime, started once ---------------------------------------------------------- */

#define TAG_JOB 1

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t changed = PTHREAD_COND_INITIALIZER;
static arbor_pid_t runner; /* the root, which takes jobs; under lock */
static job_t *finished;    /* the job the root has just run; under lock */

/* The root: runs each job it is sent in a fresh process, then says so. */
static void root(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&lock);
    runner = arbor_self();
    pthread_cond_broadcast(&changed);
    pthread_mutex_unlock(&lock);
    for (;;) {
        arbor_msg_t *m;
        FUZZ_ASSERT(arbor_receive(ARBOR_INFINITY, &m) == 0, "no job");
        job_t *j = *(job_t **)m->data;
        arbor_msg_free(m);
        arbor_pid_t pid;
        arbor_ref_t ref;
        FUZZ_ASSERT(arbor_spawn_monitor(run_job, j, &pid, &ref) == 0, "no process for the job");
        FUZZ_ASSERT(arbor_receive(ARBOR_INFINITY, &m) == 0 && m->tag == ARBOR_TAG_DOWN, "no DOWN");
        arbor_reason_t why = ((arbor_down_msg_t *)m->data)->reason;
        FUZZ_ASSERT(why.kind == ARBOR_EXIT_NORMAL, "the job exited %s: %s",
                    arbor_exit_kind_name(why.kind), why.detail);
        arbor_msg_free(m);
        pthread_mutex_lock(&lock);
        finished = j;
        pthread_cond_broadcast(&changed);
        pthread_mutex_unlock(&lock);
    }
}

/* The runtime's thread: runs until the program exits. */
static void *run_runtime(void *arg)
{
    (void)arg;
    arbor_config_t cfg = {.schedulers = 1};
    FUZZ_ASSERT(arbor_run(&cfg, root, NULL, NULL) == 0, "the runtime did not run");
    return NULL;
}

static arbor_http_server_t *srv;

static void start_once(void)
{
    arbor_http_opts_t o = {
        .handler = arbor_http_route,
        .handler_arg = &router,
        .limits = {.max_head = 1024, .max_fields = 16, .max_body = 4096},
    };
    FUZZ_ASSERT(arbor_http_server_new(&o, &srv) == 0, "no server");
    pthread_t t;
    FUZZ_ASSERT(pthread_create(&t, NULL, run_runtime, NULL) == 0, "no thread");
    pthread_detach(t);
    pthread_mutex_lock(&lock);
    while (runner == ARBOR_NOPID)
        pthread_cond_wait(&changed, &lock);
    pthread_mutex_unlock(&lock);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, start_once);
    job_t j = {.data = data, .len = size, .srv = srv};
    job_t *jp = &j;
    FUZZ_ASSERT(arbor_send(runner, TAG_JOB, &jp, sizeof jp) == 0, "the job was not sent");
    pthread_mutex_lock(&lock);
    while (finished != &j)
        pthread_cond_wait(&changed, &lock);
    finished = NULL;
    pthread_mutex_unlock(&lock);
    for (int mode = 1; mode < MODES; mode++)
        FUZZ_ASSERT(j.t[mode].len == j.t[0].len && !memcmp(j.t[mode].text, j.t[0].text, j.t[0].len),
                    "cut into reads (mode %d) the bytes read otherwise:\n%s\n---- at once:\n%s",
                    mode, j.t[mode].text ? j.t[mode].text : "", j.t[0].text ? j.t[0].text : "");
    for (int mode = 0; mode < MODES; mode++)
        free(j.t[mode].text);
    return 0;
}

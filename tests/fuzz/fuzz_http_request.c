/*
 * Fuzz target: the HTTP server's request path (src/http/http_conn.c) as a
 * connection runs it, without the socket: bytes go into the connection's
 * input buffer as reads would bring them, llhttp (strict) and the server's
 * own checks parse them, each whole request is routed and answered into
 * the output buffer, pipelined ones in turn, until an error answer or a
 * request that closes the connection. Small limits (1 KiB of head, 16
 * fields, 4 KiB of body) so that the fuzzer reaches them. One route,
 * /s/<*path>, serves a small folder made at the start (arbor_http_static),
 * so that the Range, If-Range, If-Modified-Since and If-None-Match
 * parsers (http_range.c, http_date.c) see the fuzzer's bytes, and its
 * files are small enough that every answer fits the output buffer. The
 * connection's
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
 *   - a static file's answer holds the file's bytes: 200 all of them; a
 *     206 those its Content-Range names, or, multipart/byteranges, 2 to
 *     HTTP_MAX_RANGES parts that do not overlap, each its Content-Range's
 *     bytes, framed by the boundary; a 416 gives the length alone;
 *   - the Range parser's answer, whatever the field and the length, is
 *     1 to HTTP_MAX_RANGES ranges within the length that do not overlap,
 *     or unsatisfiable (never for an empty representation), or ignore;
 *     an HTTP-date that parses is written back (IMF-fixdate) as a date
 *     that parses to the same second, and an IMF-fixdate is written back
 *     as itself but for the day's name (not checked) and a leap second;
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
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

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

/* The folder /s/ serves (made by start_once), and its files' bytes. Its
 * files' modification time is fixed, so that seeds can name it:
 * Sun, 09 Sep 2001 01:46:40 GMT. */
#define FILES_MTIME 1000000000
static char files_root[64];
static arbor_http_static_t files = {.root = files_root};
static struct {
    const char *path; /* below the root; what a request's "*path" names */
    char bytes[3000];
    size_t len;
} fixtures[] = {
    {"a.txt", "abcdefghijklmnopqrstuvwxyz", 26},
    {"empty", "", 0},
    {"d/index.html", "<p>index</p>\n", 13},
    {"b.bin", "", 3000}, /* made by start_once: bytes of every value */
};
#define N_FIXTURES (sizeof fixtures / sizeof fixtures[0])

static const arbor_http_route_t routes[] = {
    {"GET", "/t/:id", show_param, NULL},
    {"POST", "/echo", echo, NULL},
    {NULL, "/q/*rest", query, NULL},
    {"GET", "/s/*path", arbor_http_static, &files},
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

/* What the Range parser answers for value, against a few lengths. */
static void check_range_field(const char *value)
{
    static const uint64_t lengths[] = {0, 1, 26, 3000, UINT64_MAX};
    for (size_t k = 0; k < sizeof lengths / sizeof lengths[0]; k++) {
        uint64_t length = lengths[k];
        http_range_t r[HTTP_MAX_RANGES];
        size_t n = 0;
        int kind = arbor__http_range(value, length, r, &n);
        FUZZ_ASSERT(kind == HTTP_RANGE_IGNORE || kind == HTTP_RANGE_SATISFIABLE ||
                        kind == HTTP_RANGE_UNSATISFIABLE,
                    "Range answer %d", kind);
        FUZZ_ASSERT(length > 0 || kind == HTTP_RANGE_IGNORE, "'%s' of nothing: %d", value, kind);
        if (kind != HTTP_RANGE_SATISFIABLE)
            continue;
        FUZZ_ASSERT(n >= 1 && n <= HTTP_MAX_RANGES, "%zu ranges from '%s'", n, value);
        for (size_t i = 0; i < n; i++) {
            FUZZ_ASSERT(r[i].first <= r[i].last && r[i].last < length,
                        "the range %" PRIu64 "-%" PRIu64 " of %" PRIu64 " bytes from '%s'",
                        r[i].first, r[i].last, length, value);
            for (size_t j = 0; j < i; j++)
                FUZZ_ASSERT(r[i].last < r[j].first || r[j].last < r[i].first,
                            "overlapping ranges from '%s'", value);
        }
    }
}

/* An HTTP-date that parses is written back as one that parses the same. */
static void check_date_field(const char *value)
{
    int64_t t, again;
    if (!arbor__http_date_parse(value, &t))
        return;
    char text[HTTP_DATE_SIZE];
    arbor__http_date_format(t, text);
    FUZZ_ASSERT(arbor__http_date_parse(text, &again) && again == t,
                "'%s' is %" PRId64 ", written '%s', read %" PRId64, value, t, text, again);
    /* An IMF-fixdate (29 bytes, "Sun, 06 Nov 1994 08:49:37 GMT") comes
     * back as itself, but for the day's name and a leap second (:60). */
    if (value[3] == ',' && memcmp(value + 23, "60", 2) != 0)
        FUZZ_ASSERT(!strcmp(text + 3, value + 3), "'%s' written back as '%s'", value, text);
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
        if (!strcasecmp(name, "range"))
            check_range_field(value);
        if (!strcasecmp(name, "if-modified-since") || !strcasecmp(name, "if-range") ||
            !strcasecmp(name, "if-unmodified-since") || !strcasecmp(name, "date"))
            check_date_field(value);
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

/* ---- static files --------------------------------------------------------------------- */

/* The value of the header field name in the head [out, out + len), into
 * buf; false without one. */
static bool header_value(const char *out, size_t len, const char *name, char *buf, size_t size)
{
    char want[64];
    int n = snprintf(want, sizeof want, "\r\n%s: ", name);
    const char *at = memmem(out, len, want, (size_t)n);
    if (!at)
        return false;
    at += n;
    const char *end = memmem(at, len - (size_t)(at - out), "\r\n", 2);
    FUZZ_ASSERT(end && (size_t)(end - at) < size, "the %s field", name);
    memcpy(buf, at, (size_t)(end - at));
    buf[end - at] = '\0';
    return true;
}

/* "bytes a-b/length" in text, checked against the file f. */
static void content_range(const char *text, size_t flen, uint64_t *a, uint64_t *b)
{
    unsigned long long first, last, length;
    int used = 0;
    FUZZ_ASSERT(sscanf(text, "bytes %llu-%llu/%llu%n", &first, &last, &length, &used) == 3 &&
                    text[used] == '\0',
                "Content-Range '%s'", text);
    FUZZ_ASSERT(first <= last && last < flen && length == flen, "Content-Range '%s' of %zu bytes",
                text, flen);
    *a = first;
    *b = last;
}

/* A multipart/byteranges body (RFC 9110 14.6) over the file: 2 to
 * HTTP_MAX_RANGES parts that do not overlap, each its Content-Range's
 * bytes, between the boundary's delimiters, the last one closing. */
static void check_parts(const char *bytes, size_t flen, const char *boundary, const char *body,
                        size_t len)
{
    char delimiter[128];
    int dlen = snprintf(delimiter, sizeof delimiter, "--%s", boundary);
    const char *p = body, *end = body + len;
    uint64_t first[HTTP_MAX_RANGES], last[HTTP_MAX_RANGES];
    size_t n = 0;
    for (;;) {
        if (n > 0) {
            FUZZ_ASSERT(end - p >= 2 && !memcmp(p, "\r\n", 2), "part %zu ends without CRLF", n);
            p += 2;
        }
        FUZZ_ASSERT(end - p >= dlen && !memcmp(p, delimiter, (size_t)dlen), "no delimiter %zu", n);
        p += dlen;
        if (n > 0 && end - p >= 2 && !memcmp(p, "--", 2)) {
            FUZZ_ASSERT(end - p == 4 && !memcmp(p, "--\r\n", 4), "bytes after the close");
            break;
        }
        FUZZ_ASSERT(end - p >= 2 && !memcmp(p, "\r\n", 2), "a delimiter without CRLF");
        const char *fields = p; /* from the CRLF before the first field */
        const char *fields_end = memmem(p, (size_t)(end - p), "\r\n\r\n", 4);
        FUZZ_ASSERT(fields_end != NULL, "part %zu has no end of fields", n);
        size_t flen_ = (size_t)(fields_end + 2 - fields);
        char type[128], range[128];
        FUZZ_ASSERT(header_value(fields, flen_, "Content-Type", type, sizeof type),
                    "part %zu without Content-Type", n);
        FUZZ_ASSERT(header_value(fields, flen_, "Content-Range", range, sizeof range),
                    "part %zu without Content-Range", n);
        FUZZ_ASSERT(n < HTTP_MAX_RANGES, "more than %d parts", HTTP_MAX_RANGES);
        content_range(range, flen, &first[n], &last[n]);
        for (size_t j = 0; j < n; j++)
            FUZZ_ASSERT(last[n] < first[j] || last[j] < first[n], "parts %zu and %zu overlap", j,
                        n);
        p = fields_end + 4;
        size_t count = (size_t)(last[n] - first[n] + 1);
        FUZZ_ASSERT((size_t)(end - p) >= count && !memcmp(p, bytes + first[n], count),
                    "part %zu is not the file's bytes %s", n, range);
        p += count;
        n++;
    }
    FUZZ_ASSERT(n >= 2, "a multipart body of %zu part", n);
}

/* An answer of the /s/ route (arbor_http_static) over its folder. */
static void check_static(http_conn_t *c, int status)
{
    const char *rel = arbor_http_param(&c->req, "path");
    if (!rel || (status != 200 && status != 206 && status != 416))
        return;
    char path[2048];
    size_t rlen = strlen(rel);
    snprintf(path, sizeof path, "%s%s", rel, !rlen || rel[rlen - 1] == '/' ? "index.html" : "");
    size_t i = 0;
    while (i < N_FIXTURES && strcmp(fixtures[i].path, path))
        i++;
    FUZZ_ASSERT(i < N_FIXTURES, "%d for /s/%s, which is not a file", status, rel);
    const char *bytes = fixtures[i].bytes;
    size_t flen = fixtures[i].len;
    const char *out = c->out;
    const char *head_end = memmem(out, c->out_len, "\r\n\r\n", 4);
    size_t head = (size_t)(head_end - out) + 2; /* with the last field's CRLF */
    const char *body = head_end + 4;
    size_t body_len = c->out_len - (head + 2);
    char length[32], range[128], type[128];
    bool has_length = header_value(out, head, "Content-Length", length, sizeof length);
    bool has_range = header_value(out, head, "Content-Range", range, sizeof range);
    FUZZ_ASSERT(header_value(out, head, "Content-Type", type, sizeof type), "no Content-Type");
    FUZZ_ASSERT(has_length, "a static answer without Content-Length");
    uint64_t declared = strtoull(length, NULL, 10);
    if (status == 416) {
        char want[64];
        snprintf(want, sizeof want, "bytes */%zu", flen);
        FUZZ_ASSERT(has_range && !strcmp(range, want), "416 with Content-Range '%s'",
                    has_range ? range : "");
        return;
    }
    if (status == 200) {
        FUZZ_ASSERT(!has_range, "200 with Content-Range '%s'", range);
        FUZZ_ASSERT(declared == flen, "200: Content-Length %s for %zu bytes", length, flen);
        FUZZ_ASSERT(c->head_only || !memcmp(body, bytes, flen), "200: not the file's bytes");
        return;
    }
    static const char multipart[] = "multipart/byteranges; boundary=";
    if (!strncmp(type, multipart, sizeof multipart - 1)) {
        FUZZ_ASSERT(!has_range, "multipart with Content-Range '%s'", range);
        FUZZ_ASSERT(type[sizeof multipart - 1] != '\0', "an empty boundary");
        if (!c->head_only)
            check_parts(bytes, flen, type + sizeof multipart - 1, body, body_len);
        return;
    }
    FUZZ_ASSERT(has_range, "206 without Content-Range");
    uint64_t a, b;
    content_range(range, flen, &a, &b);
    FUZZ_ASSERT(declared == b - a + 1, "206: Content-Length %s for %s", length, range);
    FUZZ_ASSERT(c->head_only || !memcmp(body, bytes + a, (size_t)(b - a + 1)),
                "206: not the file's bytes %s", range);
}

/* Removes the folder at the end of the run. */
static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void remove_files(void)
{
    nftw(files_root, remove_one, 8, FTW_DEPTH | FTW_PHYS);
}

/* The folder /s/ serves, in a fresh temporary folder. */
static void make_files(void)
{
    snprintf(files_root, sizeof files_root, "/tmp/arbor_fuzz_http_XXXXXX");
    FUZZ_ASSERT(mkdtemp(files_root) != NULL, "no temporary folder");
    atexit(remove_files);
    for (size_t i = 0; i < N_FIXTURES; i++)
        if (!strcmp(fixtures[i].path, "b.bin"))
            for (size_t k = 0; k < fixtures[i].len; k++)
                fixtures[i].bytes[k] = (char)(k * 7 + k / 256); /* CR, LF, '-' among them */
    char path[256];
    snprintf(path, sizeof path, "%s/d", files_root);
    FUZZ_ASSERT(mkdir(path, 0755) == 0, "no folder %s", path);
    for (size_t i = 0; i < N_FIXTURES; i++) {
        snprintf(path, sizeof path, "%s/%s", files_root, fixtures[i].path);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        FUZZ_ASSERT(fd >= 0, "cannot make %s", path);
        FUZZ_ASSERT(write(fd, fixtures[i].bytes, fixtures[i].len) == (ssize_t)fixtures[i].len,
                    "cannot write %s", path);
        struct timespec times[2] = {{.tv_sec = FILES_MTIME}, {.tv_sec = FILES_MTIME}};
        FUZZ_ASSERT(futimens(fd, times) == 0 && close(fd) == 0, "cannot finish %s", path);
    }
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
    check_static(c, status);
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
    make_files();
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
    if (getenv("FUZZ_HTTP_TRANSCRIPT")) /* what each request got, for whoever writes seeds */
        fputs(j.t[0].text ? j.t[0].text : "", stderr);
    for (int mode = 0; mode < MODES; mode++)
        free(j.t[mode].text);
    return 0;
}

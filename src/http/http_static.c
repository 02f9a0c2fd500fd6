/*
 * Serving a folder of static files: arbor_http_static().
 *
 * The path to serve is the route's "*path" parameter (already decoded by
 * the router) or the request's path, percent-decoded here. It must be
 * relative and plain: no "." or ".." segment, no empty segment (so no
 * absolute path), no backslash, NUL or other control byte. Anything else
 * is answered 404, the same as a file that is not there, so that a probe
 * learns nothing.
 *
 * The file is opened one segment at a time below a descriptor of the root,
 * with O_NOFOLLOW at each step: a symbolic link is never followed, so no
 * link (into the folder or out of it) can lead outside. Only a regular
 * file is served (opened with O_NONBLOCK, so a FIFO cannot hang the open);
 * a directory is served only through its index file, for a path that ends
 * in '/'.
 *
 * The disk is touched only on the runtime's blocking pool
 * (arbor_blocking): one job opens and fstat()s here, then the connection
 * sends the body (arbor__http_file_body, http_conn.c) a chunk at a time,
 * each read by another job, so a slow disk holds a blocking thread, never
 * a scheduler, and a file of any size costs a connection one chunk of
 * memory. From the open to the body's end the connection holds the
 * descriptor (http_conn_t.file_fd), which its exit hook closes if the
 * process is killed.
 *
 * Validators: a strong ETag made of the inode, size and modification time
 * in nanoseconds (a file replaced or rewritten gets a new one), and
 * Last-Modified, the modification time in seconds (never later than now).
 * The conditions are evaluated in RFC 9110 13.2.2's order:
 * If-None-Match, compared weakly (13.1.2: "W/" tags from caches match),
 * else If-Modified-Since (13.1.3: a date that does not parse, or lies in
 * the future, is ignored), either giving 304; then Range, which If-Range
 * may turn off (13.1.5: compared strongly, or a date equal to a
 * Last-Modified that is strong, 8.8.2.2), and which http_range.c reads:
 * one range is a 206 with its bytes, several a 206 whose body is
 * multipart/byteranges (14.6), streamed from the file like any other.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "http_internal.h"

/* ---- the path ------------------------------------------------------------------------ */

/* Whether path is a plain relative path: segments that are not empty
 * (so no leading '/', no "//", no last '/'), "." or "..", with no byte
 * below 0x20, DEL or backslash. */
static bool plain_path(const char *path)
{
    const char *seg = path;
    for (const char *p = path;; p++) {
        unsigned char ch = (unsigned char)*p;
        if (ch == '/' || ch == '\0') {
            size_t len = (size_t)(p - seg);
            if (len == 0 || (len == 1 && seg[0] == '.') ||
                (len == 2 && seg[0] == '.' && seg[1] == '.'))
                return false;
            if (ch == '\0')
                return true;
            seg = p + 1;
        } else if (ch < 0x20 || ch == 0x7f || ch == '\\') {
            return false;
        }
    }
}

/* The path below the root that the request names, in the request's
 * memory, index appended for a directory; NULL when it is refused. */
static char *requested_path(arbor_http_request_t *req, arbor_http_response_t *res,
                            const char *index)
{
    const char *rel = arbor_http_param(req, "path");
    size_t len;
    char *decoded = NULL;
    if (!rel) {
        const char *p = req->path;
        if (*p != '/')
            return NULL;
        p++;
        len = strlen(p);
        decoded = arbor_http_alloc(res, len + 1);
        if (!decoded)
            return NULL;
        int n = arbor_http_decode(p, len, decoded, len + 1, false);
        if (n < 0)
            return NULL;
        rel = decoded;
    }
    len = strlen(rel);
    bool dir = len == 0 || rel[len - 1] == '/';
    size_t ilen = dir ? strlen(index) : 0;
    char *path = arbor_http_alloc(res, len + ilen + 1);
    if (!path)
        return NULL;
    memcpy(path, rel, len);
    memcpy(path + len, index, ilen);
    path[len + ilen] = '\0';
    return plain_path(path) ? path : NULL;
}

/* ---- the disk (blocking pool) ----------------------------------------------------------- */

typedef struct open_job {
    const char *root;
    char *path; /* split in place at each '/' */
    int *fd_out;
    struct stat st;
    int err;
    bool no_root; /* root itself could not be opened: the server's fault */
} open_job_t;

/* Opens path below root one segment at a time, following no link, and
 * stores the descriptor of a regular file in *fd_out (the connection's,
 * so that a kill after this job still closes it). */
static void *open_beneath(void *arg)
{
    open_job_t *j = arg;
    int dir = open(j->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0) {
        j->err = errno;
        j->no_root = true;
        return NULL;
    }
    char *seg = j->path;
    for (char *slash; (slash = strchr(seg, '/')); seg = slash + 1) {
        *slash = '\0';
        int next = openat(dir, seg, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        *slash = '/';
        close(dir);
        if (next < 0) {
            j->err = errno;
            return NULL;
        }
        dir = next;
    }
    int fd = openat(dir, seg, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    j->err = fd < 0 ? errno : 0;
    close(dir);
    if (fd < 0)
        return NULL;
    if (fstat(fd, &j->st) != 0 || !S_ISREG(j->st.st_mode)) {
        j->err = S_ISDIR(j->st.st_mode) ? EISDIR : ENOENT;
        close(fd);
        return NULL;
    }
    *j->fd_out = fd;
    return NULL;
}

static void close_file(http_conn_t *c)
{
    if (c->file_fd >= 0) {
        close(c->file_fd);
        c->file_fd = -1;
    }
}

/* ---- the answer ------------------------------------------------------------------------ */

static const char *content_type_of(const char *path)
{
    static const struct {
        const char *ext, *type;
    } types[] = {
        {"html", "text/html; charset=utf-8"},
        {"css", "text/css; charset=utf-8"},
        {"js", "text/javascript; charset=utf-8"},
        {"mjs", "text/javascript; charset=utf-8"},
        {"json", "application/json"},
        {"svg", "image/svg+xml"},
        {"png", "image/png"},
        {"jpg", "image/jpeg"},
        {"jpeg", "image/jpeg"},
        {"ico", "image/vnd.microsoft.icon"},
        {"txt", "text/plain; charset=utf-8"},
        {"woff2", "font/woff2"},
        {"map", "application/json"},
    };
    const char *base = strrchr(path, '/');
    const char *dot = strrchr(base ? base : path, '.');
    if (dot)
        for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
            if (!strcasecmp(dot + 1, types[i].ext))
                return types[i].type;
    return "application/octet-stream";
}

/* Whether the If-None-Match list holds etag ("*" included), compared
 * weakly: a "W/" prefix on either side is ignored. */
static bool none_match(const char *list, const char *etag)
{
    size_t want = strlen(etag);
    const char *p = list;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (*p == '*')
            return true;
        if (!strncmp(p, "W/", 2))
            p += 2;
        if (*p != '"')
            return false; /* not a list of tags: no match */
        const char *end = strchr(p + 1, '"');
        if (!end)
            return false;
        if ((size_t)(end + 1 - p) == want && !memcmp(p, etag, want))
            return true;
        p = end + 1;
    }
    return false;
}

static void not_found(arbor_http_response_t *res)
{
    arbor_http_reply(res, 404, "text/plain", "Not Found\n", 10);
}

static void server_error(arbor_http_response_t *res)
{
    arbor_http_reply(res, 500, "text/plain", "Internal Server Error\n", 22);
}

/* Out of memory once the answer was begun: 500, without the file and
 * without the headers set for it. */
static void out_of_memory(http_conn_t *c, arbor_http_response_t *res)
{
    close_file(c);
    c->n_res_headers = 0;
    server_error(res);
}

/* Whether an open() error means "no such file" to the client: missing,
 * not a directory, a link refused, not a regular file, not permitted. */
static bool absent(int err)
{
    return err == ENOENT || err == ENOTDIR || err == ELOOP || err == EISDIR || err == EACCES ||
           err == EPERM || err == ENAMETOOLONG || err == ENXIO;
}

/* The validators and caching of every answer about the file. */
static void set_validators(arbor_http_response_t *res, const arbor_http_static_t *cfg,
                           const char *etag, const char *last_modified)
{
    char cache[48] = "no-cache";
    if (cfg->max_age_s > 0)
        snprintf(cache, sizeof cache, "max-age=%" PRId64, cfg->max_age_s);
    arbor_http_set_header(res, "ETag", etag);
    arbor_http_set_header(res, "Last-Modified", last_modified);
    arbor_http_set_header(res, "Cache-Control", cache);
}

/* Whether the request's own conditions say the client's copy is current
 * (RFC 9110 13.2.2, steps 3 and 4, for GET and HEAD): If-None-Match when
 * there is one, else If-Modified-Since with a valid date not in the
 * future. */
static bool not_modified(const arbor_http_request_t *req, const char *etag, int64_t modified,
                         int64_t now)
{
    const char *inm = arbor_http_header(req, "If-None-Match");
    if (inm)
        return none_match(inm, etag);
    const char *ims = arbor_http_header(req, "If-Modified-Since");
    int64_t since;
    return ims && arbor__http_date_parse(ims, &since) && since <= now && modified <= since;
}

/* Whether If-Range (absent: yes) lets the Range be served: an entity tag
 * must be this strong one exactly (a weak tag never matches, 13.1.5); a
 * date must be the Last-Modified, and that only counts as strong when the
 * file was last changed more than a second before now (8.8.2.2: it could
 * not have changed again within the second the date names). */
static bool if_range_holds(const arbor_http_request_t *req, const char *etag, int64_t modified,
                           int64_t now)
{
    const char *v = arbor_http_header(req, "If-Range");
    if (!v)
        return true;
    if (v[0] == '"' || !strncmp(v, "W/", 2))
        return !strcmp(v, etag);
    int64_t date;
    return arbor__http_date_parse(v, &date) && date == modified && modified + 1 < now;
}

/* A boundary for a multipart body: random, so that no file's bytes hold
 * it but by a chance of one in 2^128 (RFC 2046 5.1.1: a boundary must not
 * occur in what it encloses; nothing is scanned for it). */
static void new_boundary(char out[33])
{
    unsigned char bytes[16];
    if (getrandom(bytes, sizeof bytes, GRND_NONBLOCK) != (ssize_t)sizeof bytes) {
        /* No entropy yet (early boot): the time and an address, which
         * still differ from one response to the next. */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t a = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
        uint64_t b = (uint64_t)(uintptr_t)out ^ (a * 0x9e3779b97f4a7c15u);
        memcpy(bytes, &a, 8);
        memcpy(bytes + 8, &b, 8);
    }
    for (size_t i = 0; i < sizeof bytes; i++) {
        out[2 * i] = "0123456789abcdef"[bytes[i] >> 4];
        out[2 * i + 1] = "0123456789abcdef"[bytes[i] & 15];
    }
    out[32] = '\0';
}

/* A 206 whose body is multipart/byteranges (RFC 9110 14.6): each range a
 * part with its Content-Type and Content-Range, in the order asked,
 *
 *   --B CRLF Content-Type: T CRLF Content-Range: bytes a-b/size CRLF CRLF
 *   <the bytes> CRLF --B CRLF ... <the bytes> CRLF --B-- CRLF
 *
 * as pieces that the connection streams from the file (the parts' heads
 * in per-request memory, the bytes read a chunk at a time), so that the
 * Content-Length is known before a byte is read. */
static int multipart_body(http_conn_t *c, arbor_http_response_t *res, const char *type,
                          uint64_t size, const http_range_t *ranges, size_t n)
{
    char boundary[33];
    new_boundary(boundary);
    char *content_type = arbor_http_alloc(res, 80);
    http_body_piece_t *pieces = arbor_http_alloc(res, (2 * n + 1) * sizeof *pieces);
    if (!content_type || !pieces)
        return ARBOR_ENOMEM;
    snprintf(content_type, 80, "multipart/byteranges; boundary=%s", boundary);
    for (size_t i = 0; i <= n; i++) {
        char text[256];
        int len;
        if (i < n)
            len = snprintf(text, sizeof text,
                           "%s--%s\r\nContent-Type: %s\r\nContent-Range: bytes %" PRIu64 "-%" PRIu64
                           "/%" PRIu64 "\r\n\r\n",
                           i ? "\r\n" : "", boundary, type, ranges[i].first, ranges[i].last, size);
        else
            len = snprintf(text, sizeof text, "\r\n--%s--\r\n", boundary);
        char *copy = arbor_http_alloc(res, (size_t)len);
        if (!copy)
            return ARBOR_ENOMEM;
        memcpy(copy, text, (size_t)len);
        pieces[2 * i] = (http_body_piece_t){copy, 0, (uint64_t)len};
        if (i < n)
            pieces[2 * i + 1] =
                (http_body_piece_t){NULL, ranges[i].first, ranges[i].last - ranges[i].first + 1};
    }
    res->status = 206;
    res->content_type = content_type;
    arbor__http_file_body(c, pieces, 2 * n + 1);
    return 0;
}

void arbor_http_static(arbor_http_request_t *req, arbor_http_response_t *res, void *arg)
{
    const arbor_http_static_t *cfg = arg;
    http_conn_t *c = HTTP_CONN_OF_RES(res);
    bool head = !strcmp(req->method, "HEAD");
    if (!head && strcmp(req->method, "GET")) {
        arbor_http_reply(res, 405, "text/plain", "Method Not Allowed\n", 19);
        arbor_http_set_header(res, "Allow", "GET, HEAD");
        return;
    }
    char *path = requested_path(req, res, cfg->index ? cfg->index : "index.html");
    if (!path) {
        not_found(res);
        return;
    }
    open_job_t oj = {.root = cfg->root, .path = path, .fd_out = &c->file_fd};
    if (arbor_blocking(open_beneath, &oj, NULL) != 0) {
        server_error(res);
        return;
    }
    if (c->file_fd < 0) {
        if (!oj.no_root && absent(oj.err))
            not_found(res);
        else
            server_error(res);
        return;
    }
    char etag[80], last_modified[HTTP_DATE_SIZE];
    snprintf(etag, sizeof etag, "\"%" PRIx64 "-%" PRIx64 "-%" PRIx64 "\"", (uint64_t)oj.st.st_ino,
             (uint64_t)oj.st.st_size,
             (uint64_t)oj.st.st_mtim.tv_sec * 1000000000u + (uint64_t)oj.st.st_mtim.tv_nsec);
    int64_t now = (int64_t)time(NULL);
    int64_t modified = (int64_t)oj.st.st_mtim.tv_sec < now ? (int64_t)oj.st.st_mtim.tv_sec : now;
    arbor__http_date_format(modified, last_modified);
    if (not_modified(req, etag, modified, now)) {
        close_file(c);
        res->status = 304;
        set_validators(res, cfg, etag, last_modified);
        return;
    }
    uint64_t size = (uint64_t)oj.st.st_size;
    http_range_t ranges[HTTP_MAX_RANGES];
    size_t n_ranges = 0;
    const char *range = arbor_http_header(req, "Range");
    int ranged = range && if_range_holds(req, etag, modified, now)
                     ? arbor__http_range(range, size, ranges, &n_ranges)
                     : HTTP_RANGE_IGNORE;
    char content_range[96];
    if (ranged == HTTP_RANGE_UNSATISFIABLE) {
        close_file(c);
        arbor_http_reply(res, 416, "text/plain", "Range Not Satisfiable\n", 22);
        snprintf(content_range, sizeof content_range, "bytes */%" PRIu64, size);
        arbor_http_set_header(res, "Content-Range", content_range);
        return;
    }
    const char *type = content_type_of(path);
    set_validators(res, cfg, etag, last_modified);
    arbor_http_set_header(res, "Accept-Ranges", "bytes");
    if (ranged == HTTP_RANGE_SATISFIABLE && n_ranges > 1) {
        if (multipart_body(c, res, type, size, ranges, n_ranges) != 0)
            out_of_memory(c, res);
        return;
    }
    http_body_piece_t *piece = arbor_http_alloc(res, sizeof *piece);
    if (!piece) {
        out_of_memory(c, res);
        return;
    }
    res->content_type = type;
    if (ranged == HTTP_RANGE_SATISFIABLE) {
        res->status = 206;
        snprintf(content_range, sizeof content_range, "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64,
                 ranges[0].first, ranges[0].last, size);
        arbor_http_set_header(res, "Content-Range", content_range);
        *piece = (http_body_piece_t){NULL, ranges[0].first, ranges[0].last - ranges[0].first + 1};
    } else {
        res->status = 200;
        *piece = (http_body_piece_t){NULL, 0, size};
    }
    arbor__http_file_body(c, piece, 1);
}

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
 * (arbor_blocking): one job opens and fstat()s, a second reads, so a slow
 * disk holds a blocking thread, never a scheduler. Between the two the
 * connection holds the descriptor (http_conn_t.file_fd), which its exit
 * hook closes if the process is killed. A file is read whole into the
 * response's memory, up to STATIC_MAX_FILE bytes; a larger one is 500.
 *
 * The ETag is strong and made of the inode, size and modification time in
 * nanoseconds: a file replaced or rewritten gets a new one. If-None-Match
 * is compared weakly (RFC 9110 13.1.2), so "W/" tags from caches match.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "http_internal.h"

#define STATIC_MAX_FILE ((off_t)16 << 20)

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

typedef struct read_job {
    int fd;
    char *buf;
    size_t size, got;
    int err;
} read_job_t;

static void *read_file(void *arg)
{
    read_job_t *j = arg;
    while (j->got < j->size) {
        ssize_t n = pread(j->fd, j->buf + j->got, j->size - j->got, (off_t)j->got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            j->err = errno;
            return NULL;
        }
        if (n == 0)
            break; /* the file shrank: what there was */
        j->got += (size_t)n;
    }
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

/* Whether an open() error means "no such file" to the client: missing,
 * not a directory, a link refused, not a regular file, not permitted. */
static bool absent(int err)
{
    return err == ENOENT || err == ENOTDIR || err == ELOOP || err == EISDIR || err == EACCES ||
           err == EPERM || err == ENAMETOOLONG || err == ENXIO;
}

static void set_caching(arbor_http_response_t *res, const arbor_http_static_t *cfg,
                        const char *etag)
{
    char cache[48] = "no-cache";
    if (cfg->max_age_s > 0)
        snprintf(cache, sizeof cache, "max-age=%" PRId64, cfg->max_age_s);
    arbor_http_set_header(res, "ETag", etag);
    arbor_http_set_header(res, "Cache-Control", cache);
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
    char etag[80];
    snprintf(etag, sizeof etag, "\"%" PRIx64 "-%" PRIx64 "-%" PRIx64 "\"", (uint64_t)oj.st.st_ino,
             (uint64_t)oj.st.st_size,
             (uint64_t)oj.st.st_mtim.tv_sec * 1000000000u + (uint64_t)oj.st.st_mtim.tv_nsec);
    const char *inm = arbor_http_header(req, "If-None-Match");
    if (inm && none_match(inm, etag)) {
        close_file(c);
        res->status = 304;
        set_caching(res, cfg, etag);
        return;
    }
    if (oj.st.st_size > STATIC_MAX_FILE) {
        close_file(c);
        server_error(res); /* not streamed: see the top */
        return;
    }
    size_t size = (size_t)oj.st.st_size;
    res->status = 200;
    res->content_type = content_type_of(path);
    if (head) { /* the length only: the server sends no body for HEAD */
        close_file(c);
        set_caching(res, cfg, etag);
        res->body = NULL;
        res->body_len = size;
        return;
    }
    read_job_t rj = {.fd = c->file_fd, .buf = arbor_http_alloc(res, size), .size = size};
    if (!rj.buf || arbor_blocking(read_file, &rj, NULL) != 0) {
        close_file(c);
        server_error(res);
        return;
    }
    close_file(c);
    if (rj.err) {
        server_error(res);
        return;
    }
    set_caching(res, cfg, etag);
    res->body = rj.buf;
    res->body_len = rj.got;
}

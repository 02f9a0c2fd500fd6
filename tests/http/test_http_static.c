/*
 * Static files (arbor_http_static), over real sockets on loopback.
 *
 * Each case builds a folder under /tmp: root/ (what is served) and,
 * beside it, secret.txt, which no request may reach. The server routes
 * "/static/<*path>" to root with a max-age, and, in the cases that need
 * the request path itself, serves root as its only handler.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "http_client.h"
#include "test.h"

/* ---- the folder ------------------------------------------------------------------------- */

static char base[64];    /* the temporary folder */
static char rootdir[96]; /* base/root: what is served */

static void write_file(const char *rel, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", base, rel);
    FILE *f = fopen(path, "w");
    ASSERT_TRUE(f != NULL);
    ASSERT_EQ(fwrite(text, 1, strlen(text), f), strlen(text));
    ASSERT_EQ(fclose(f), 0);
}

static void make_dir(const char *rel)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", base, rel);
    ASSERT_EQ(mkdir(path, 0755), 0);
}

static void make_link(const char *target, const char *rel)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", base, rel);
    ASSERT_EQ(symlink(target, path), 0);
}

/* One file per content type, an index, a folder without one, links in and
 * out of root, a FIFO, and the secret outside. */
static void make_folder(void)
{
    snprintf(base, sizeof base, "/tmp/arbor_static_XXXXXX");
    ASSERT_TRUE(mkdtemp(base) != NULL);
    snprintf(rootdir, sizeof rootdir, "%s/root", base);
    make_dir("root");
    write_file("secret.txt", "SECRET");
    static const char *const files[] = {"index.html",  "app.js",      "mod.mjs",    "style.css",
                                        "data.json",   "logo.svg",    "img.png",    "photo.jpg",
                                        "favicon.ico", "notes.txt",   "font.woff2", "app.js.map",
                                        "blob.bin",    "noextension", "home.html"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char rel[64];
        snprintf(rel, sizeof rel, "root/%s", files[i]);
        write_file(rel, files[i]); /* each holds its own name */
    }
    make_dir("root/sub");
    write_file("root/sub/index.html", "sub index");
    make_dir("root/empty");
    make_link("../secret.txt", "root/escape.txt");
    make_link("..", "root/up");
    make_link("notes.txt", "root/inside.txt");
    char fifo[256];
    snprintf(fifo, sizeof fifo, "%s/root/fifo", base);
    ASSERT_EQ(mkfifo(fifo, 0600), 0);
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void remove_folder(void)
{
    ASSERT_EQ(nftw(base, remove_one, 16, FTW_DEPTH | FTW_PHYS), 0);
}

/* ---- the server --------------------------------------------------------------------------- */

typedef struct server {
    arbor_http_server_t *srv;
    arbor_pid_t sup;
    uint16_t port;
} server_t;

static arbor_http_static_t assets; /* /static/: max-age an hour */
static arbor_http_route_t routes[1];
static arbor_http_router_t router = {routes, 1};

static server_t start_server(arbor_http_handler_fn handler, void *arg)
{
    server_t s;
    arbor_http_opts_t o = {.handler = handler, .handler_arg = arg};
    ASSERT_OK(arbor_http_server_new(&o, &s.srv));
    arbor_reason_t why;
    ASSERT_OK(arbor_http_server_start(s.srv, &s.sup, &why));
    s.port = arbor_http_server_port(s.srv);
    return s;
}

/* The router with /static/<*path> → root; any method reaches the handler. */
static server_t start_routed(void)
{
    assets = (arbor_http_static_t){.root = rootdir, .max_age_s = 3600};
    routes[0] = (arbor_http_route_t){NULL, "/static/*path", arbor_http_static, &assets};
    return start_server(arbor_http_route, &router);
}

static void stop_server(server_t *s)
{
    WAIT_UNTIL(arbor_http_server_connections(s->srv) == 0, 5000);
    arbor_unlink(s->sup);
    ASSERT_OK(arbor_sup_stop(s->sup, ARBOR_SHUTDOWN));
    arbor_http_server_free(s->srv);
}

/* GET target on a fresh connection, the answer in r. */
static void get(uint16_t port, const char *target, response_t *r)
{
    char req[512];
    snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", target);
    exchange(port, req, r, true);
}

/* ---- content types ------------------------------------------------------------------------- */

static void content_types_root(void *arg)
{
    (void)arg;
    make_folder();
    server_t s = start_routed();
    static const struct {
        const char *file, *type;
    } want[] = {
        {"index.html", "text/html; charset=utf-8"},
        {"app.js", "text/javascript; charset=utf-8"},
        {"mod.mjs", "text/javascript; charset=utf-8"},
        {"style.css", "text/css; charset=utf-8"},
        {"data.json", "application/json"},
        {"logo.svg", "image/svg+xml"},
        {"img.png", "image/png"},
        {"photo.jpg", "image/jpeg"},
        {"favicon.ico", "image/vnd.microsoft.icon"},
        {"notes.txt", "text/plain; charset=utf-8"},
        {"font.woff2", "font/woff2"},
        {"app.js.map", "application/json"},
        {"blob.bin", "application/octet-stream"},
        {"noextension", "application/octet-stream"},
    };
    response_t *r = new_response();
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        char target[128];
        snprintf(target, sizeof target, "/static/%s", want[i].file);
        get(s.port, target, r);
        ASSERT_EQ(r->status, 200);
        ASSERT_STREQ(header_of(r, "Content-Type"), want[i].type);
        ASSERT_STREQ(r->body, want[i].file);
        ASSERT_STREQ(header_of(r, "Cache-Control"), "max-age=3600");
    }
    arbor_free(r);
    stop_server(&s);
    remove_folder();
}

TEST(static_files_have_content_types_by_extension)
{
    arbor_test_run(content_types_root, NULL);
}

/* ---- ETag, 304, HEAD, 405 -----------------------------------------------------------------------
 */

static void etag_root(void *arg)
{
    (void)arg;
    make_folder();
    server_t s = start_routed();
    response_t *r = new_response();
    get(s.port, "/static/notes.txt", r);
    ASSERT_EQ(r->status, 200);
    char etag[128];
    ASSERT_TRUE(header_of(r, "ETag") != NULL);
    snprintf(etag, sizeof etag, "%s", header_of(r, "ETag"));
    ASSERT_TRUE(etag[0] == '"' && etag[strlen(etag) - 1] == '"'); /* strong */

    /* The tag, its weak form, one of a list, and "*": 304 with no body
     * (the GET after it on the connection reads its own answer). */
    const char *matching[] = {"%s", "W/%s", "\"other\", %s", "*"};
    client_t *c = connect_to(s.port);
    for (size_t i = 0; i < 4; i++) {
        char inm[160], req[512];
        snprintf(inm, sizeof inm, matching[i], etag);
        snprintf(req, sizeof req,
                 "GET /static/notes.txt HTTP/1.1\r\nHost: x\r\nIf-None-Match: %s\r\n\r\n"
                 "GET /static/data.json HTTP/1.1\r\nHost: x\r\n\r\n",
                 inm);
        send_text(c, req);
        read_response(c, r);
        ASSERT_EQ(r->status, 304);
        ASSERT_STREQ(header_of(r, "ETag"), etag);
        ASSERT_TRUE(header_of(r, "Content-Length") == NULL);
        read_response(c, r);
        ASSERT_EQ(r->status, 200);
        ASSERT_STREQ(r->body, "data.json");
    }
    /* Another tag: the file. */
    send_text(c, "GET /static/notes.txt HTTP/1.1\r\nHost: x\r\nIf-None-Match: \"nope\"\r\n\r\n");
    read_response(c, r);
    ASSERT_EQ(r->status, 200);
    ASSERT_STREQ(r->body, "notes.txt");

    /* HEAD: the same headers, Content-Length included, no body. */
    send_text(c, "HEAD /static/notes.txt HTTP/1.1\r\nHost: x\r\n\r\n"
                 "GET /static/data.json HTTP/1.1\r\nHost: x\r\n\r\n");
    read_response_of(c, r, true);
    ASSERT_EQ(r->status, 200);
    ASSERT_STREQ(header_of(r, "Content-Length"), "9");
    ASSERT_STREQ(header_of(r, "ETag"), etag);
    ASSERT_STREQ(header_of(r, "Content-Type"), "text/plain; charset=utf-8");
    read_response(c, r);
    ASSERT_STREQ(r->body, "data.json");

    /* Other methods: 405 with Allow. */
    send_text(c, "POST /static/notes.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
    read_response(c, r);
    ASSERT_EQ(r->status, 405);
    ASSERT_STREQ(header_of(r, "Allow"), "GET, HEAD");
    disconnect(c);

    /* The file rewritten: a new tag, so the old one no longer matches. */
    write_file("root/notes.txt", "notes.txt, longer now");
    char req[512];
    snprintf(req, sizeof req,
             "GET /static/notes.txt HTTP/1.1\r\nHost: x\r\nIf-None-Match: %s\r\n"
             "Connection: close\r\n\r\n",
             etag);
    exchange(s.port, req, r, true);
    ASSERT_EQ(r->status, 200);
    ASSERT_STREQ(r->body, "notes.txt, longer now");
    ASSERT_TRUE(strcmp(header_of(r, "ETag"), etag) != 0);
    arbor_free(r);
    stop_server(&s);
    remove_folder();
}

TEST(static_files_etag_304_head_and_405)
{
    arbor_test_run(etag_root, NULL);
}

/* ---- traversal
 * ----------------------------------------------------------------------------------- */

/* Each of these, through the route's *path and as the request path
 * itself, is 404 and never shows the secret. */
static const char *const refused[] = {
    "../secret.txt",
    "%2e%2e/secret.txt",
    "%2E%2E/secret.txt",
    ".%2e/secret.txt",
    "sub/../../secret.txt",
    "sub/%2e%2e/%2e%2e/secret.txt",
    "..%2fsecret.txt",
    "..\\secret.txt",
    "..%5csecret.txt",
    "./notes.txt",
    "sub//index.html",
    "/etc/passwd",
    "%2fetc%2fpasswd",
    "escape.txt",    /* a link out of root */
    "up/secret.txt", /* a link to root's parent */
    "inside.txt",    /* a link, even one inside root, is not followed */
    "notes.txt%01",
    "fifo",   /* not a regular file (and the open must not hang) */
    "sub",    /* a directory, without its '/' */
    "empty/", /* a directory without an index */
    "missing.txt",
};

static void traversal_root(void *arg)
{
    (void)arg;
    make_folder();
    server_t routed = start_routed();
    arbor_http_static_t plain = {.root = rootdir};
    server_t direct = start_server(arbor_http_static, &plain);
    response_t *r = new_response();
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        char target[256];
        snprintf(target, sizeof target, "/static/%s", refused[i]);
        get(routed.port, target, r);
        if (r->status != 404)
            arbor_test_fail(__FILE__, __LINE__, "routed %s: %d", target, r->status);
        ASSERT_TRUE(strstr(r->body, "SECRET") == NULL);
        snprintf(target, sizeof target, "/%s", refused[i]);
        get(direct.port, target, r);
        if (r->status != 404)
            arbor_test_fail(__FILE__, __LINE__, "direct %s: %d", target, r->status);
        ASSERT_TRUE(strstr(r->body, "SECRET") == NULL);
    }
    /* An encoded NUL: the router refuses to decode it (400), the handler
     * alone answers 404. */
    get(routed.port, "/static/notes.txt%00.png", r);
    ASSERT_EQ(r->status, 400);
    get(direct.port, "/notes.txt%00.png", r);
    ASSERT_EQ(r->status, 404);
    /* What is there is served, by either. */
    get(routed.port, "/static/sub/index.html", r);
    ASSERT_STREQ(r->body, "sub index");
    get(direct.port, "/notes.txt", r);
    ASSERT_STREQ(r->body, "notes.txt");
    ASSERT_STREQ(header_of(r, "Cache-Control"), "no-cache");
    arbor_free(r);
    stop_server(&direct);
    stop_server(&routed);
    remove_folder();
}

TEST(static_files_refuse_traversal_links_and_non_files_with_404)
{
    arbor_test_run(traversal_root, NULL);
}

/* ---- index files
 * ------------------------------------------------------------------------------------ */

static void index_root(void *arg)
{
    (void)arg;
    make_folder();
    server_t routed = start_routed();
    arbor_http_static_t home = {.root = rootdir, .index = "home.html"};
    server_t direct = start_server(arbor_http_static, &home);
    response_t *r = new_response();
    get(routed.port, "/static/", r);
    ASSERT_EQ(r->status, 200);
    ASSERT_STREQ(r->body, "index.html");
    ASSERT_STREQ(header_of(r, "Content-Type"), "text/html; charset=utf-8");
    get(routed.port, "/static/sub/", r);
    ASSERT_STREQ(r->body, "sub index");
    get(direct.port, "/", r);
    ASSERT_EQ(r->status, 200);
    ASSERT_STREQ(r->body, "home.html");
    get(direct.port, "/sub/", r); /* no home.html there */
    ASSERT_EQ(r->status, 404);
    arbor_free(r);
    stop_server(&direct);
    stop_server(&routed);
    remove_folder();
}

TEST(static_files_serve_the_index_for_a_path_ending_in_slash)
{
    arbor_test_run(index_root, NULL);
}

static void no_root_root(void *arg)
{
    (void)arg;
    arbor_http_static_t gone = {.root = "/nonexistent/arbor/static/root"};
    server_t s = start_server(arbor_http_static, &gone);
    response_t *r = new_response();
    get(s.port, "/index.html", r);
    ASSERT_EQ(r->status, 500); /* the server's fault, not a missing file */
    arbor_free(r);
    stop_server(&s);
}

TEST(static_files_with_a_missing_root_are_500)
{
    arbor_test_run(no_root_root, NULL);
}

/* ---- Last-Modified, If-Modified-Since ------------------------------------------------------- */

/* notes.txt's modification time, set by the cases that need a known one:
 * Fri, 01 Mar 2024 12:34:56 GMT. */
#define NOTES_MTIME   1709296496
#define NOTES_LM      "Fri, 01 Mar 2024 12:34:56 GMT"
#define NOTES_LM_850  "Friday, 01-Mar-24 12:34:56 GMT"
#define NOTES_LM_ASC  "Fri Mar  1 12:34:56 2024"
#define BEFORE_NOTES  "Fri, 01 Mar 2024 12:34:55 GMT"
#define AFTER_NOTES   "Sat, 02 Mar 2024 00:00:00 GMT"
#define IN_THE_FUTURE "Fri, 01 Jan 2100 00:00:00 GMT"

static void set_mtime(const char *rel, time_t when)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", base, rel);
    struct timespec times[2] = {{.tv_sec = when}, {.tv_sec = when}};
    ASSERT_EQ(utimensat(AT_FDCWD, path, times, 0), 0);
}

/* One request for /static/notes.txt with the extra header lines on c
 * (kept alive), the answer in r. */
static void get_notes(client_t *c, const char *extra, response_t *r, bool head)
{
    char req[512];
    snprintf(req, sizeof req, "%s /static/notes.txt HTTP/1.1\r\nHost: x\r\n%s\r\n",
             head ? "HEAD" : "GET", extra);
    send_text(c, req);
    read_response_of(c, r, head);
}

static void if_modified_since_root(void *arg)
{
    (void)arg;
    make_folder();
    set_mtime("root/notes.txt", NOTES_MTIME);
    server_t s = start_routed();
    response_t *r = new_response();
    client_t *c = connect_to(s.port);

    get_notes(c, "", r, false);
    ASSERT_EQ(r->status, 200);
    ASSERT_STREQ(header_of(r, "Last-Modified"), NOTES_LM);
    char etag[128];
    snprintf(etag, sizeof etag, "%s", header_of(r, "ETag"));

    /* The date itself or a later one, in each of the three HTTP-date
     * forms: 304 with the validators and no body. */
    const char *not_modified[] = {NOTES_LM, NOTES_LM_850, NOTES_LM_ASC, AFTER_NOTES};
    for (size_t i = 0; i < sizeof not_modified / sizeof not_modified[0]; i++) {
        char extra[128];
        snprintf(extra, sizeof extra, "If-Modified-Since: %s\r\n", not_modified[i]);
        get_notes(c, extra, r, false);
        if (r->status != 304)
            arbor_test_fail(__FILE__, __LINE__, "%s: %d", not_modified[i], r->status);
        ASSERT_STREQ(header_of(r, "Last-Modified"), NOTES_LM);
        ASSERT_STREQ(header_of(r, "ETag"), etag);
        ASSERT_TRUE(header_of(r, "Content-Length") == NULL);
    }
    get_notes(c, "If-Modified-Since: " NOTES_LM "\r\n", r, true); /* HEAD too */
    ASSERT_EQ(r->status, 304);

    /* Modified since: an earlier date. Ignored: a date that does not
     * parse (another zone, a day out of range, two dates, junk) or lies in
     * the future. Each gets the file. */
    const char *ignored[] = {BEFORE_NOTES,
                             IN_THE_FUTURE,
                             "Fri, 01 Mar 2024 12:34:56 UTC",
                             "Fri, 32 Mar 2024 12:34:56 GMT",
                             "Fri, 01 Mar 2024 24:00:00 GMT",
                             "Fri, 01 Mar 2024 12:34:56 GMT, Sat, 02 Mar 2024 00:00:00 GMT",
                             "Fri, 1 Mar 2024 12:34:56 GMT",
                             "yesterday",
                             ""};
    for (size_t i = 0; i < sizeof ignored / sizeof ignored[0]; i++) {
        char extra[128];
        snprintf(extra, sizeof extra, "If-Modified-Since: %s\r\n", ignored[i]);
        get_notes(c, extra, r, false);
        if (r->status != 200)
            arbor_test_fail(__FILE__, __LINE__, "'%s': %d", ignored[i], r->status);
        ASSERT_STREQ(r->body, "notes.txt");
    }

    /* If-None-Match takes precedence: another tag with a date that would
     * say "not modified" is the file; the tag with an old date is 304. */
    get_notes(c, "If-None-Match: \"other\"\r\nIf-Modified-Since: " AFTER_NOTES "\r\n", r, false);
    ASSERT_EQ(r->status, 200);
    ASSERT_STREQ(r->body, "notes.txt");
    char extra[256];
    snprintf(extra, sizeof extra, "If-None-Match: %s\r\nIf-Modified-Since: %s\r\n", etag,
             BEFORE_NOTES);
    get_notes(c, extra, r, false);
    ASSERT_EQ(r->status, 304);
    disconnect(c);

    /* The file changed after the date: modified. */
    write_file("root/notes.txt", "notes.txt, rewritten");
    exchange(s.port,
             "GET /static/notes.txt HTTP/1.1\r\nHost: x\r\nIf-Modified-Since: " NOTES_LM
             "\r\nConnection: close\r\n\r\n",
             r, true);
    ASSERT_EQ(r->status, 200);
    ASSERT_STREQ(r->body, "notes.txt, rewritten");
    arbor_free(r);
    stop_server(&s);
    remove_folder();
}

TEST(static_files_last_modified_and_if_modified_since)
{
    arbor_test_run(if_modified_since_root, NULL);
}

/* ---- Range ------------------------------------------------------------------------------- */

#define ALPHABET "abcdefghijklmnopqrstuvwxyz"

static void ranges_root(void *arg)
{
    (void)arg;
    make_folder();
    write_file("root/notes.txt", ALPHABET);
    set_mtime("root/notes.txt", NOTES_MTIME);
    server_t s = start_routed();
    response_t *r = new_response();
    client_t *c = connect_to(s.port);

    get_notes(c, "", r, false);
    ASSERT_EQ(r->status, 200);
    ASSERT_STREQ(header_of(r, "Accept-Ranges"), "bytes");
    char etag[128];
    snprintf(etag, sizeof etag, "%s", header_of(r, "ETag"));

    /* Each form of a single range: 206 with its bytes and Content-Range. */
    static const struct {
        const char *range, *body, *content_range;
    } partial[] = {
        {"bytes=0-4", "abcde", "bytes 0-4/26"},
        {"bytes=25-25", "z", "bytes 25-25/26"},
        {"bytes=10-1000", "klmnopqrstuvwxyz", "bytes 10-25/26"},
        {"bytes=20-", "uvwxyz", "bytes 20-25/26"},
        {"bytes=-3", "xyz", "bytes 23-25/26"},
        {"bytes=-100", ALPHABET, "bytes 0-25/26"},
        {"Bytes=2-3", "cd", "bytes 2-3/26"},     /* the unit in any case */
        {"bytes= 4-6 ,", "efg", "bytes 4-6/26"}, /* spaces, an empty element */
        {"bytes=007-008", "hi", "bytes 7-8/26"}, /* leading zeros */
    };
    for (size_t i = 0; i < sizeof partial / sizeof partial[0]; i++) {
        char extra[128];
        snprintf(extra, sizeof extra, "Range: %s\r\n", partial[i].range);
        get_notes(c, extra, r, false);
        if (r->status != 206)
            arbor_test_fail(__FILE__, __LINE__, "%s: %d", partial[i].range, r->status);
        ASSERT_STREQ(r->body, partial[i].body);
        ASSERT_STREQ(header_of(r, "Content-Range"), partial[i].content_range);
        ASSERT_STREQ(header_of(r, "ETag"), etag);
        ASSERT_STREQ(header_of(r, "Last-Modified"), NOTES_LM);
        ASSERT_STREQ(header_of(r, "Content-Type"), "text/plain; charset=utf-8");
    }

    /* Unsatisfiable: 416 with the length. */
    const char *unsatisfiable[] = {"bytes=26-", "bytes=30-40", "bytes=-0",
                                   "bytes=99999999999999999999999-"};
    for (size_t i = 0; i < sizeof unsatisfiable / sizeof unsatisfiable[0]; i++) {
        char extra[128];
        snprintf(extra, sizeof extra, "Range: %s\r\n", unsatisfiable[i]);
        get_notes(c, extra, r, false);
        if (r->status != 416)
            arbor_test_fail(__FILE__, __LINE__, "%s: %d", unsatisfiable[i], r->status);
        ASSERT_STREQ(header_of(r, "Content-Range"), "bytes */26");
    }

    /* Not a valid byte range set: ignored, the whole file. */
    const char *whole[] = {"bytes=5-2", "bytes=abc", "items=0-1",     "bytes=",    "bytes=1-2-3",
                           "bytes=-",   "bytes 0-1", "bytes=0-1,5-2", "bytes=+1-2"};
    for (size_t i = 0; i < sizeof whole / sizeof whole[0]; i++) {
        char extra[128];
        snprintf(extra, sizeof extra, "Range: %s\r\n", whole[i]);
        get_notes(c, extra, r, false);
        if (r->status != 200)
            arbor_test_fail(__FILE__, __LINE__, "%s: %d", whole[i], r->status);
        ASSERT_STREQ(r->body, ALPHABET);
        ASSERT_TRUE(header_of(r, "Content-Range") == NULL);
    }

    /* HEAD mirrors GET: the 206's headers, no body (the GET after it
     * reads its own answer); a 416 too. */
    get_notes(c, "Range: bytes=1-3\r\n", r, true);
    ASSERT_EQ(r->status, 206);
    ASSERT_STREQ(header_of(r, "Content-Length"), "3");
    ASSERT_STREQ(header_of(r, "Content-Range"), "bytes 1-3/26");
    get_notes(c, "Range: bytes=40-\r\n", r, true);
    ASSERT_EQ(r->status, 416);
    ASSERT_STREQ(header_of(r, "Content-Range"), "bytes */26");
    get_notes(c, "Range: bytes=0-0\r\n", r, false);
    ASSERT_EQ(r->status, 206);
    ASSERT_STREQ(r->body, "a");

    /* If-Range: the current strong tag, or the Last-Modified date, gives
     * the range; another tag, the weak form of this one (If-Range compares
     * strongly), another date or junk give the whole file. */
    char extra[256];
    snprintf(extra, sizeof extra, "Range: bytes=0-1\r\nIf-Range: %s\r\n", etag);
    get_notes(c, extra, r, false);
    ASSERT_EQ(r->status, 206);
    ASSERT_STREQ(r->body, "ab");
    get_notes(c, "Range: bytes=0-1\r\nIf-Range: " NOTES_LM "\r\n", r, false);
    ASSERT_EQ(r->status, 206);
    ASSERT_STREQ(r->body, "ab");
    snprintf(extra, sizeof extra, "Range: bytes=0-1\r\nIf-Range: W/%s\r\n", etag);
    const char *mismatch[] = {"Range: bytes=0-1\r\nIf-Range: \"other\"\r\n", extra,
                              "Range: bytes=0-1\r\nIf-Range: " AFTER_NOTES "\r\n",
                              "Range: bytes=0-1\r\nIf-Range: " BEFORE_NOTES "\r\n",
                              "Range: bytes=0-1\r\nIf-Range: soon\r\n"};
    for (size_t i = 0; i < sizeof mismatch / sizeof mismatch[0]; i++) {
        get_notes(c, mismatch[i], r, false);
        if (r->status != 200)
            arbor_test_fail(__FILE__, __LINE__, "%s: %d", mismatch[i], r->status);
        ASSERT_STREQ(r->body, ALPHABET);
    }
    /* A condition that says "not modified" comes before the range. */
    snprintf(extra, sizeof extra, "Range: bytes=0-1\r\nIf-None-Match: %s\r\n", etag);
    get_notes(c, extra, r, false);
    ASSERT_EQ(r->status, 304);
    /* Range on a method that is not GET or HEAD: still 405. */
    send_text(c, "DELETE /static/notes.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=0-1\r\n\r\n");
    read_response(c, r);
    ASSERT_EQ(r->status, 405);
    disconnect(c);
    arbor_free(r);
    stop_server(&s);
    remove_folder();
}

TEST(static_files_serve_single_byte_ranges)
{
    arbor_test_run(ranges_root, NULL);
}

/* ---- several ranges: multipart/byteranges --------------------------------------------------- */

#define MULTIPART_PREFIX "multipart/byteranges; boundary="

/* The boundary of a multipart/byteranges answer, from its Content-Type. */
static void boundary_of(const response_t *r, char *out, size_t size)
{
    const char *type = header_of(r, "Content-Type");
    ASSERT_TRUE(type != NULL);
    if (strncmp(type, MULTIPART_PREFIX, strlen(MULTIPART_PREFIX)) != 0)
        arbor_test_fail(__FILE__, __LINE__, "Content-Type %s", type);
    snprintf(out, size, "%s", type + strlen(MULTIPART_PREFIX));
    ASSERT_GT(strlen(out), 0);
}

/* The body (RFC 9110 14.6, RFC 2046 5.1.1) of a multipart/byteranges
 * answer over notes.txt (the alphabet) whose parts are the n ranges
 * [first, last], in this order. Returns its length. */
static size_t expected_multipart(const char *boundary, const unsigned (*parts)[2], size_t n,
                                 char *out, size_t size)
{
    size_t len = 0;
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(out + len, size - len,
                                "%s--%s\r\nContent-Type: text/plain; charset=utf-8\r\n"
                                "Content-Range: bytes %u-%u/26\r\n\r\n%.*s",
                                i ? "\r\n" : "", boundary, parts[i][0], parts[i][1],
                                (int)(parts[i][1] - parts[i][0] + 1), ALPHABET + parts[i][0]);
    len += (size_t)snprintf(out + len, size - len, "\r\n--%s--\r\n", boundary);
    ASSERT_LT(len, size);
    return len;
}

/* "bytes=0-0,1-1,...": n one-byte ranges. */
static void many_ranges(char *out, size_t size, unsigned n)
{
    size_t len = (size_t)snprintf(out, size, "bytes=");
    for (unsigned i = 0; i < n; i++)
        len += (size_t)snprintf(out + len, size - len, "%s%u-%u", i ? "," : "", i, i);
}

/* A multipart answer to range on c, checked against the parts. */
static void expect_multipart(client_t *c, const char *range, const unsigned (*parts)[2], size_t n,
                             response_t *r)
{
    char extra[256], boundary[128], want[4096];
    snprintf(extra, sizeof extra, "Range: %s\r\n", range);
    get_notes(c, extra, r, false);
    if (r->status != 206)
        arbor_test_fail(__FILE__, __LINE__, "%s: %d", range, r->status);
    boundary_of(r, boundary, sizeof boundary);
    size_t len = expected_multipart(boundary, parts, n, want, sizeof want);
    if (r->body_len != len || memcmp(r->body, want, len) != 0)
        arbor_test_fail(__FILE__, __LINE__, "%s: the body\n%s\nnot\n%s", range, r->body, want);
    ASSERT_TRUE(header_of(r, "Content-Range") == NULL); /* it is in each part */
    ASSERT_STREQ(header_of(r, "Accept-Ranges"), "bytes");
    ASSERT_STREQ(header_of(r, "Last-Modified"), NOTES_LM);
}

/* Runs curl on the blocking pool (it is a program that waits). */
static void *run_command(void *arg)
{
    char *command = arg;
    int rc = system(command);
    snprintf(command, 16, "%d", rc);
    return NULL;
}

/* curl asks twice for two ranges on one kept-alive connection (a body
 * longer or shorter than its Content-Length would break the second
 * answer or hang the first); each answer it wrote is the multipart body. */
static void curl_check(uint16_t port)
{
    char command[1024];
    snprintf(command, sizeof command, "command -v curl >/dev/null 2>&1");
    ASSERT_OK(arbor_blocking(run_command, command, NULL));
    if (strcmp(command, "0") != 0) {
        printf("# curl is not installed: the curl check is skipped\n");
        return;
    }
    char url[128], out[2][160];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/static/notes.txt", port);
    for (int i = 0; i < 2; i++)
        snprintf(out[i], sizeof out[i], "%s/curl%d.out", base, i);
    snprintf(command, sizeof command,
             "curl -sS --max-time 10 -r 0-1,5-6 -o %s -o %s %s %s 2>%s/curl.err", out[0], out[1],
             url, url, base);
    ASSERT_OK(arbor_blocking(run_command, command, NULL));
    ASSERT_STREQ(command, "0");
    static const unsigned parts[][2] = {{0, 1}, {5, 6}};
    for (int i = 0; i < 2; i++) {
        char got[1024], boundary[128], want[1024];
        FILE *f = fopen(out[i], "r");
        ASSERT_TRUE(f != NULL);
        size_t n = fread(got, 1, sizeof got - 1, f);
        fclose(f);
        got[n] = '\0';
        ASSERT_TRUE(sscanf(got, "--%127[^\r]", boundary) == 1);
        size_t len = expected_multipart(boundary, parts, 2, want, sizeof want);
        if (n != len || memcmp(got, want, len) != 0)
            arbor_test_fail(__FILE__, __LINE__, "curl's answer %d:\n%s", i, got);
    }
}

static void multipart_root(void *arg)
{
    (void)arg;
    make_folder();
    write_file("root/notes.txt", ALPHABET);
    set_mtime("root/notes.txt", NOTES_MTIME);
    server_t s = start_routed();
    response_t *r = new_response();
    client_t *c = connect_to(s.port);
    get_notes(c, "", r, false);
    char etag[128];
    snprintf(etag, sizeof etag, "%s", header_of(r, "ETag"));

    /* Several satisfiable ranges: 206, one part each, in the order asked
     * (adjacent ones too), clamped to the file; an unsatisfiable one is
     * left out. */
    static const unsigned two[][2] = {{0, 1}, {5, 6}};
    static const unsigned backwards[][2] = {{24, 25}, {0, 0}};
    static const unsigned adjacent[][2] = {{0, 0}, {1, 1}, {25, 25}};
    static const unsigned clamped[][2] = {{20, 25}, {2, 3}};
    expect_multipart(c, "bytes=0-1,5-6", two, 2, r);
    expect_multipart(c, "bytes=-2, 0-0", backwards, 2, r);
    expect_multipart(c, "bytes=0-0,1-1,25-", adjacent, 3, r);
    expect_multipart(c, "bytes=20-30,40-50,2-3", clamped, 2, r);
    /* As many as HTTP_MAX_RANGES (16). */
    char range[256];
    unsigned sixteen[16][2];
    for (unsigned i = 0; i < 16; i++)
        sixteen[i][0] = sixteen[i][1] = i;
    many_ranges(range, sizeof range, 16);
    expect_multipart(c, range, (const unsigned(*)[2])sixteen, 16, r);

    /* Each answer has a boundary of its own. */
    char first[128], second[128];
    get_notes(c, "Range: bytes=0-1,5-6\r\n", r, false);
    boundary_of(r, first, sizeof first);
    get_notes(c, "Range: bytes=0-1,5-6\r\n", r, false);
    boundary_of(r, second, sizeof second);
    ASSERT_TRUE(strcmp(first, second) != 0);

    /* HEAD: GET's head (206, the multipart type, its Content-Length), no
     * body; the GET after it on the connection reads its own answer. */
    get_notes(c, "Range: bytes=0-1,5-6\r\n", r, false);
    size_t get_length = r->body_len;
    get_notes(c, "Range: bytes=0-1,5-6\r\n", r, true);
    ASSERT_EQ(r->status, 206);
    boundary_of(r, first, sizeof first);
    ASSERT_EQ((size_t)atol(header_of(r, "Content-Length")), get_length);
    expect_multipart(c, "bytes=0-1,5-6", two, 2, r);

    /* One satisfiable range among several: a plain 206. None: 416. */
    static const struct {
        const char *range, *body, *content_range;
    } single[] = {
        {"bytes=0-1,30-40", "ab", "bytes 0-1/26"},
        {"bytes=-0,3-4", "de", "bytes 3-4/26"},
    };
    for (size_t i = 0; i < sizeof single / sizeof single[0]; i++) {
        char extra[128];
        snprintf(extra, sizeof extra, "Range: %s\r\n", single[i].range);
        get_notes(c, extra, r, false);
        if (r->status != 206)
            arbor_test_fail(__FILE__, __LINE__, "%s: %d", single[i].range, r->status);
        ASSERT_STREQ(r->body, single[i].body);
        ASSERT_STREQ(header_of(r, "Content-Range"), single[i].content_range);
        ASSERT_STREQ(header_of(r, "Content-Type"), "text/plain; charset=utf-8");
    }
    const char *unsatisfiable[] = {"bytes=30-,40-", "bytes=26-,-0"};
    for (size_t i = 0; i < sizeof unsatisfiable / sizeof unsatisfiable[0]; i++) {
        char extra[128];
        snprintf(extra, sizeof extra, "Range: %s\r\n", unsatisfiable[i]);
        get_notes(c, extra, r, false);
        if (r->status != 416)
            arbor_test_fail(__FILE__, __LINE__, "%s: %d", unsatisfiable[i], r->status);
        ASSERT_STREQ(header_of(r, "Content-Range"), "bytes */26");
    }

    /* Overlapping ranges, or more than 16: the whole file (RFC 9110 14.2,
     * against a denial of service); so is any set whose If-Range does not
     * hold. */
    char seventeen[256];
    many_ranges(seventeen, sizeof seventeen, 17);
    const char *whole[] = {"bytes=0-5,3-8", "bytes=0-1,0-1",    "bytes=-1,-2",
                           "bytes=0-,25-",  "bytes=10-20,5-10", seventeen};
    for (size_t i = 0; i < sizeof whole / sizeof whole[0]; i++) {
        char extra[300];
        snprintf(extra, sizeof extra, "Range: %s\r\n", whole[i]);
        get_notes(c, extra, r, false);
        if (r->status != 200)
            arbor_test_fail(__FILE__, __LINE__, "%s: %d", whole[i], r->status);
        ASSERT_STREQ(r->body, ALPHABET);
        ASSERT_STREQ(header_of(r, "Content-Type"), "text/plain; charset=utf-8");
    }
    get_notes(c, "Range: bytes=0-1,5-6\r\nIf-Range: \"other\"\r\n", r, false);
    ASSERT_EQ(r->status, 200);
    ASSERT_STREQ(r->body, ALPHABET);
    snprintf(range, sizeof range, "bytes=0-1,5-6\r\nIf-Range: %s", etag);
    expect_multipart(c, range, two, 2, r); /* (the If-Range line after Range's) */
    disconnect(c);

    curl_check(s.port);
    arbor_free(r);
    stop_server(&s);
    remove_folder();
}

TEST(static_files_serve_several_ranges_as_multipart_byteranges)
{
    arbor_test_run(multipart_root, NULL);
}

/* ---- files over 16 MiB ------------------------------------------------------------------- */

/* A sparse file of BIG_SIZE bytes (no disk: ftruncate), zeros but for
 * marks at a few offsets: the start, across 16 MiB (the old limit), across
 * a 128 KiB boundary, and the very end. */
#define BIG_SIZE ((uint64_t)(64u << 20) + 4321)
static const struct {
    uint64_t at;
    const char *text;
} marks[] = {
    {0, "BEGINNING"},
    {(16u << 20) - 5, "ACROSS-16-MIB"},
    {(uint64_t)300 * 131072 - 4, "CHUNK-EDGE"},
    {BIG_SIZE - 8, "THE-END!"},
};

static void make_big_file(void)
{
    char path[256];
    snprintf(path, sizeof path, "%s/root/big.bin", base);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ASSERT_TRUE(fd >= 0);
    ASSERT_EQ(ftruncate(fd, (off_t)BIG_SIZE), 0);
    for (size_t i = 0; i < sizeof marks / sizeof marks[0]; i++) {
        size_t len = strlen(marks[i].text);
        ASSERT_EQ(pwrite(fd, marks[i].text, len, (off_t)marks[i].at), (ssize_t)len);
    }
    ASSERT_EQ(close(fd), 0);
}

/* The big file's n bytes from pos, into out. */
static void big_expected(uint64_t pos, char *out, size_t n)
{
    memset(out, 0, n);
    for (size_t i = 0; i < sizeof marks / sizeof marks[0]; i++) {
        uint64_t from = marks[i].at, to = from + strlen(marks[i].text);
        uint64_t lo = from > pos ? from : pos, hi = to < pos + n ? to : pos + n;
        if (lo < hi)
            memcpy(out + (lo - pos), marks[i].text + (lo - from), hi - lo);
    }
}

/* The connection serving the big file, noted by its handler, and the most
 * per-process memory (the runtime's accounting) it was seen to hold. */
static _Atomic arbor_pid_t serving;
static size_t peak_heap;

static void noting_static(arbor_http_request_t *req, arbor_http_response_t *res, void *arg)
{
    atomic_store(&serving, arbor_self());
    arbor_http_static(req, res, arg);
}

static void sample_heap(void)
{
    arbor_process_info_t info;
    if (arbor_process_info(atomic_load(&serving), &info) == 0 && info.heap_bytes > peak_heap)
        peak_heap = info.heap_bytes;
}

static server_t start_noting(void)
{
    assets = (arbor_http_static_t){.root = rootdir};
    routes[0] = (arbor_http_route_t){"GET", "/static/*path", noting_static, &assets};
    return start_server(arbor_http_route, &router);
}

/* Reads the n body bytes of the big file from pos that follow a head
 * already read on c, checking each, and samples the connection's memory
 * after every read. */
static void read_big_body(client_t *c, uint64_t pos, uint64_t n)
{
    char *want = arbor_alloc(sizeof c->buf);
    ASSERT_TRUE(want != NULL);
    for (uint64_t end = pos + n; pos < end;) {
        if (c->len == 0) {
            ASSERT_TRUE(fill(c));
            sample_heap();
        }
        size_t take = c->len < end - pos ? c->len : (size_t)(end - pos);
        big_expected(pos, want, take);
        if (memcmp(c->buf, want, take) != 0)
            arbor_test_fail(__FILE__, __LINE__, "wrong bytes within %zu of %" PRIu64, take, pos);
        consume(c, take);
        pos += take;
    }
    arbor_free(want);
}

/* Whether this process has the big file open (the server runs in it). */
static int big_file_opened(void)
{
    char want[256];
    snprintf(want, sizeof want, "%s/root/big.bin", base);
    int n = 0;
    for (int fd = 0; fd < 4096; fd++) {
        char link[64], target[256];
        snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
        ssize_t len = readlink(link, target, sizeof target - 1);
        if (len <= 0)
            continue;
        target[len] = '\0';
        n += !strcmp(target, want);
    }
    return n;
}

static void big_file_root(void *arg)
{
    (void)arg;
    make_folder();
    make_big_file();
    server_t s = start_noting();
    response_t *r = new_response();
    client_t *c = connect_to(s.port);
    char req[256], want[64];

    /* HEAD: the length, without reading. */
    send_text(c, "HEAD /static/big.bin HTTP/1.1\r\nHost: x\r\n\r\n");
    read_response_of(c, r, true);
    ASSERT_EQ(r->status, 200);
    snprintf(want, sizeof want, "%" PRIu64, BIG_SIZE);
    ASSERT_STREQ(header_of(r, "Content-Length"), want);

    /* A range near the end, and one across the old 16 MiB limit. */
    send_text(c, "GET /static/big.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=-100\r\n\r\n");
    read_response_of(c, r, true); /* the head; the body is read below */
    ASSERT_EQ(r->status, 206);
    snprintf(want, sizeof want, "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, BIG_SIZE - 100,
             BIG_SIZE - 1, BIG_SIZE);
    ASSERT_STREQ(header_of(r, "Content-Range"), want);
    ASSERT_STREQ(header_of(r, "Content-Length"), "100");
    read_big_body(c, BIG_SIZE - 100, 100);
    uint64_t from = (16u << 20) - 1000, to = (16u << 20) + 200000;
    snprintf(req, sizeof req,
             "GET /static/big.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=%" PRIu64 "-%" PRIu64
             "\r\n\r\n",
             from, to);
    send_text(c, req);
    read_response_of(c, r, true);
    ASSERT_EQ(r->status, 206);
    read_big_body(c, from, to - from + 1);

    /* The whole file, checked byte by byte, with the connection's memory
     * bounded all along; then the connection serves on. */
    peak_heap = 0;
    send_text(c, "GET /static/big.bin HTTP/1.1\r\nHost: x\r\n\r\n");
    read_response_of(c, r, true);
    ASSERT_EQ(r->status, 200);
    snprintf(want, sizeof want, "%" PRIu64, BIG_SIZE);
    ASSERT_STREQ(header_of(r, "Content-Length"), want);
    read_big_body(c, 0, BIG_SIZE);
    printf("# a %" PRIu64 "-byte file served; the connection's heap peaked at %zu bytes\n",
           BIG_SIZE, peak_heap);
    ASSERT_GT(peak_heap, 0);
    ASSERT_LT(peak_heap, 1u << 20);
    send_text(c, "GET /static/notes.txt HTTP/1.1\r\nHost: x\r\n\r\n");
    read_response(c, r);
    ASSERT_EQ(r->status, 200);
    ASSERT_STREQ(r->body, "notes.txt");
    disconnect(c);
    ASSERT_EQ(big_file_opened(), 0);
    arbor_free(r);
    stop_server(&s);
    remove_folder();
}

TEST_TIMEOUT(static_files_over_16_mib_are_streamed, 60)
{
    arbor_test_run(big_file_root, NULL);
}

/* Reads text, exactly, from c. */
static void expect_text(client_t *c, const char *text)
{
    size_t n = strlen(text);
    while (c->len < n)
        ASSERT_TRUE(fill(c));
    if (memcmp(c->buf, text, n) != 0)
        arbor_test_fail(__FILE__, __LINE__, "read\n%.*s\nnot\n%s", (int)n, c->buf, text);
    consume(c, n);
}

/* Several ranges of the big file, one of them over many chunks: the
 * multipart body streamed with the same bounded memory, every byte
 * checked, the Content-Length exact (the connection serves on). */
static void big_multipart_root(void *arg)
{
    (void)arg;
    make_folder();
    make_big_file();
    server_t s = start_noting();
    response_t *r = new_response();
    client_t *c = connect_to(s.port);
    static const struct {
        uint64_t first, last;
    } parts[] = {
        {BIG_SIZE - 8, BIG_SIZE - 1},
        {0, 8},
        {(16u << 20) - 1000, (16u << 20) + 600000},
    };
    char req[512], want[256], boundary[128];
    snprintf(req, sizeof req,
             "GET /static/big.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=-8,0-8,%" PRIu64 "-%" PRIu64
             "\r\n\r\n",
             parts[2].first, parts[2].last);
    peak_heap = 0;
    send_text(c, req);
    read_response_of(c, r, true); /* the head; the body is read below */
    ASSERT_EQ(r->status, 206);
    boundary_of(r, boundary, sizeof boundary);
    uint64_t length = 0;
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        snprintf(want, sizeof want,
                 "%s--%s\r\nContent-Type: application/octet-stream\r\nContent-Range: bytes %" PRIu64
                 "-%" PRIu64 "/%" PRIu64 "\r\n\r\n",
                 i ? "\r\n" : "", boundary, parts[i].first, parts[i].last, BIG_SIZE);
        expect_text(c, want);
        read_big_body(c, parts[i].first, parts[i].last - parts[i].first + 1);
        length += strlen(want) + (parts[i].last - parts[i].first + 1);
    }
    snprintf(want, sizeof want, "\r\n--%s--\r\n", boundary);
    expect_text(c, want);
    length += strlen(want);
    snprintf(want, sizeof want, "%" PRIu64, length);
    ASSERT_STREQ(header_of(r, "Content-Length"), want);
    printf("# %" PRIu64 " bytes of multipart body; the connection's heap peaked at %zu bytes\n",
           length, peak_heap);
    ASSERT_LT(peak_heap, 1u << 20);
    send_text(c, "GET /static/notes.txt HTTP/1.1\r\nHost: x\r\n\r\n");
    read_response(c, r);
    ASSERT_EQ(r->status, 200);
    ASSERT_STREQ(r->body, "notes.txt");
    disconnect(c);
    ASSERT_EQ(big_file_opened(), 0);
    arbor_free(r);
    stop_server(&s);
    remove_folder();
}

TEST_TIMEOUT(static_files_stream_several_ranges_of_a_large_file, 60)
{
    arbor_test_run(big_multipart_root, NULL);
}

/* A client that goes away in the middle of the big file: the connection
 * ends and gives back the file and its memory (the sanitizers' and
 * valgrind's leak checks see the rest). */
static void client_gone_root(void *arg)
{
    (void)arg;
    make_folder();
    make_big_file();
    server_t s = start_noting();
    response_t *r = new_response();
    client_t *c = connect_to(s.port);
    send_text(c, "GET /static/big.bin HTTP/1.1\r\nHost: x\r\n\r\n");
    read_response_of(c, r, true);
    ASSERT_EQ(r->status, 200);
    read_big_body(c, 0, 1u << 20);
    arbor_pid_t conn = atomic_load(&serving);
    ASSERT_TRUE(arbor_test_alive(conn));
    ASSERT_EQ(big_file_opened(), 1); /* mid-file: open */
    disconnect(c);
    arbor_test_wait_dead(conn, 10000);
    WAIT_UNTIL(arbor_http_server_connections(s.srv) == 0, 10000);
    ASSERT_EQ(big_file_opened(), 0);
    arbor_free(r);
    stop_server(&s);
    remove_folder();
}

TEST_TIMEOUT(static_files_client_closing_mid_file_frees_everything, 60)
{
    arbor_test_run(client_gone_root, NULL);
}

/* A reader that takes nothing: the file is not buffered for it; the send
 * timeout drops it and the file and memory go with the connection. */
static void stalled_root(void *arg)
{
    (void)arg;
    make_folder();
    make_big_file();
    assets = (arbor_http_static_t){.root = rootdir};
    routes[0] = (arbor_http_route_t){"GET", "/static/*path", noting_static, &assets};
    arbor_http_opts_t o = {.handler = arbor_http_route, .handler_arg = &router};
    o.limits.send_timeout_ms = 300;
    server_t s;
    ASSERT_OK(arbor_http_server_new(&o, &s.srv));
    arbor_reason_t why;
    ASSERT_OK(arbor_http_server_start(s.srv, &s.sup, &why));
    s.port = arbor_http_server_port(s.srv);

    atomic_store(&serving, ARBOR_NOPID);
    peak_heap = 0;
    client_t *c = connect_to(s.port);
    send_text(c, "GET /static/big.bin HTTP/1.1\r\nHost: x\r\n\r\n");
    WAIT_UNTIL(atomic_load(&serving) != ARBOR_NOPID, 5000);
    arbor_pid_t conn = atomic_load(&serving);
    /* The connection fills the sockets' buffers, then waits in its send
     * until the timeout ends it; its memory stays one chunk's all along. */
    uint64_t deadline = arbor_now_ms() + (uint64_t)arbor_test_scaled_ms(10000);
    while (arbor_test_alive(conn)) {
        ASSERT_LT(arbor_now_ms(), deadline);
        sample_heap();
        arbor_sleep(1); /* polls for the death, sampling on the way */
    }
    ASSERT_LT(peak_heap, 1u << 20);
    ASSERT_EQ(big_file_opened(), 0);
    /* What the client gets: the head, then less than the whole file. */
    response_t *r = new_response();
    read_response_of(c, r, true);
    ASSERT_EQ(r->status, 200);
    uint64_t got = c->len;
    c->len = 0;
    while (fill(c)) {
        got += c->len;
        c->len = 0;
    }
    ASSERT_LT(got, BIG_SIZE);
    disconnect(c);
    arbor_free(r);
    stop_server(&s);
    remove_folder();
}

TEST_TIMEOUT(static_files_a_reader_that_stalls_is_dropped_by_the_send_timeout, 60)
{
    arbor_test_run(stalled_root, NULL);
}

/* A file that shrinks once its length is in the head: the connection
 * cannot send what it promised. Nothing sent yet: 500; part of the body
 * sent: the connection closes early, so the client sees the body cut. */
static off_t shrink_to;

static void shrinking_static(arbor_http_request_t *req, arbor_http_response_t *res, void *arg)
{
    arbor_http_static(req, res, arg); /* opened, measured: the body comes after this */
    char path[256];
    snprintf(path, sizeof path, "%s/root/big.bin", base);
    ASSERT_EQ(truncate(path, shrink_to), 0);
}

static void shrinking_root(void *arg)
{
    (void)arg;
    make_folder();
    assets = (arbor_http_static_t){.root = rootdir};
    routes[0] = (arbor_http_route_t){"GET", "/static/*path", shrinking_static, &assets};
    server_t s = start_server(arbor_http_route, &router);
    response_t *r = new_response();

    make_big_file();
    shrink_to = 0;
    client_t *c = connect_to(s.port);
    send_text(c, "GET /static/big.bin HTTP/1.1\r\nHost: x\r\n\r\n");
    read_response(c, r);
    ASSERT_EQ(r->status, 500);
    ASSERT_STREQ(header_of(r, "Connection"), "close");
    expect_closed(c);
    disconnect(c);

    make_big_file();
    shrink_to = 200000;
    c = connect_to(s.port);
    send_text(c, "GET /static/big.bin HTTP/1.1\r\nHost: x\r\n\r\n");
    read_response_of(c, r, true);
    ASSERT_EQ(r->status, 200);
    char want[64];
    snprintf(want, sizeof want, "%" PRIu64, BIG_SIZE);
    ASSERT_STREQ(header_of(r, "Content-Length"), want);
    uint64_t got = c->len;
    c->len = 0;
    while (fill(c)) {
        got += c->len;
        c->len = 0;
    }
    ASSERT_GT(got, 0);
    ASSERT_LE(got, 200000);
    disconnect(c);
    WAIT_UNTIL(arbor_http_server_connections(s.srv) == 0, 5000);
    ASSERT_EQ(big_file_opened(), 0);
    arbor_free(r);
    stop_server(&s);
    remove_folder();
}

TEST(static_files_that_shrink_while_served_end_the_connection)
{
    arbor_test_run(shrinking_root, NULL);
}

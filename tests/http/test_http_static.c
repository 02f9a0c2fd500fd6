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
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
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

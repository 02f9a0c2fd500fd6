/*
 * http_hello: the smallest Arbor HTTP server, for TechEmpower's plaintext
 * test and for `make bench-http`.
 *
 *   root (one_for_one)
 *   └── http          the server's subtree (include/arbor/http.h)
 *
 * GET /plaintext answers "Hello, World!" as text/plain; every other path is
 * 404, another method on /plaintext 405. Try it:
 *
 *   build/release/bin/http_hello --port 8080 &
 *   curl -i http://127.0.0.1:8080/plaintext
 *
 * Usage: http_hello [--host ADDR] [--port N] [--acceptors N] [--schedulers N]
 * (127.0.0.1 and port 8080 by default; port 0 picks a free one). It prints
 * "listening on HOST:PORT" once the server listens.
 */
#include <arbor.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void plaintext(arbor_http_request_t *req, arbor_http_response_t *res, void *arg)
{
    (void)req;
    (void)arg;
    static const char hello[] = "Hello, World!";
    res->content_type = "text/plain";
    res->body = hello; /* static: no copy */
    res->body_len = sizeof hello - 1;
}

static const arbor_http_route_t routes[] = {{"GET", "/plaintext", plaintext, NULL}};
static arbor_http_router_t router = {routes, 1};
static arbor_http_server_t *server;

static void root(void *arg)
{
    (void)arg;
    arbor_child_spec_t children[] = {arbor_http_server_spec(server, "http")};
    arbor_sup_flags_t flags = ARBOR_SUP_FLAGS_DEFAULT;
    arbor_sup_opts_t opts = {.name = "http_hello", .link = true};
    arbor_pid_t sup;
    arbor_reason_t why;
    arbor_trap_exit(true);
    if (arbor_sup_start(&flags, children, 1, &opts, &sup, &why) != 0) {
        char text[256];
        arbor_reason_format(&why, text, sizeof text);
        fprintf(stderr, "http_hello: could not start: %s\n", text);
        arbor_exit(why);
    }
    printf("listening on %s:%u\n", "127.0.0.1", arbor_http_server_port(server));
    fflush(stdout);
    arbor_msg_t *m;
    while (arbor_receive(ARBOR_INFINITY, &m) == 0) {
        bool stop = m->tag == ARBOR_TAG_EXIT;
        arbor_msg_free(m);
        if (stop) {
            fprintf(stderr, "http_hello: the supervisor gave up; exiting\n");
            arbor_exit(arbor_error("supervisor gave up"));
        }
    }
}

static void usage(FILE *to)
{
    fprintf(to, "usage: http_hello [--host ADDR] [--port N] [--acceptors N] [--schedulers N]\n"
                "  --host ADDR      address to listen on (default 127.0.0.1)\n"
                "  --port N         port (default 8080; 0 picks a free one)\n"
                "  --acceptors N    acceptor processes (default 1)\n"
                "  --schedulers N   scheduler threads (default: one per core)\n");
}

static long number(const char *opt, const char *s, long max)
{
    char *end;
    long v = s ? strtol(s, &end, 10) : -1;
    if (!s || *end || v < 0 || v > max) {
        fprintf(stderr, "http_hello: %s %s: expected a number from 0 to %ld\n", opt,
                s ? s : "(missing)", max);
        exit(2);
    }
    return v;
}

int main(int argc, char **argv)
{
    arbor_config_t cfg = {0};
    arbor_http_opts_t o = {.port = 8080, .handler = arbor_http_route, .handler_arg = &router};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--host") && v) {
            o.host = v, i++;
        } else if (!strcmp(a, "--port")) {
            o.port = (uint16_t)number(a, v, 65535), i++;
        } else if (!strcmp(a, "--acceptors")) {
            o.acceptors = (unsigned)number(a, v, 64), i++;
        } else if (!strcmp(a, "--schedulers")) {
            cfg.schedulers = (unsigned)number(a, v, 1024), i++;
        } else {
            fprintf(stderr, "http_hello: unknown argument %s\n", a);
            usage(stderr);
            return 2;
        }
    }
    int rc = arbor_http_server_new(&o, &server);
    if (rc != 0) {
        fprintf(stderr, "http_hello: %s\n", arbor_strerror(rc));
        return 1;
    }
    arbor_reason_t why;
    rc = arbor_run(&cfg, root, NULL, &why);
    arbor_http_server_free(server);
    if (rc != 0) {
        fprintf(stderr, "http_hello: %s\n", arbor_strerror(rc));
        return 1;
    }
    return why.kind == ARBOR_EXIT_NORMAL ? 0 : 1;
}

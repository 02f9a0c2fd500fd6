/*
 * The HTTP tests' raw client (http_client.h).
 */
#define _GNU_SOURCE
#include "http_client.h"

#include <string.h>

#include "test.h"

client_t *connect_to(uint16_t port)
{
    client_t *c = arbor_calloc(1, sizeof *c);
    ASSERT_TRUE(c != NULL);
    ASSERT_OK(arbor_tcp_connect("127.0.0.1", port, 5000, &c->s));
    return c;
}

void disconnect(client_t *c)
{
    arbor_socket_close(c->s);
    arbor_free(c);
}

void send_text(client_t *c, const char *text)
{
    ASSERT_OK(arbor_socket_send(c->s, text, strlen(text), 5000, NULL));
}

/* Reads more bytes; false at end of file (or a reset). */
bool fill(client_t *c)
{
    ASSERT_TRUE(c->len < sizeof c->buf);
    size_t got;
    int rc = arbor_socket_recv(c->s, c->buf + c->len, sizeof c->buf - c->len, 5000, &got);
    if (rc == ARBOR_ECONNRESET)
        return false;
    ASSERT_OK(rc);
    c->len += got;
    return got > 0;
}

void consume(client_t *c, size_t n)
{
    memmove(c->buf, c->buf + n, c->len - n);
    c->len -= n;
}

/* Reads one line (without its CRLF) into out. */
void read_line(client_t *c, char *out, size_t size)
{
    char *eol;
    while (!(eol = memmem(c->buf, c->len, "\r\n", 2)))
        ASSERT_TRUE(fill(c));
    size_t n = (size_t)(eol - c->buf);
    ASSERT_LT(n, size);
    memcpy(out, c->buf, n);
    out[n] = '\0';
    consume(c, n + 2);
}

const char *header_of(const response_t *r, const char *name)
{
    static char value[256];
    char want[64];
    snprintf(want, sizeof want, "\r\n%s: ", name);
    const char *at = strcasestr(r->head, want);
    if (!at)
        return NULL;
    at += strlen(want);
    size_t n = strcspn(at, "\r");
    snprintf(value, sizeof value, "%.*s", (int)n, at);
    return value;
}

/* Reads one response; head_request: its body is not sent (HEAD). */
void read_response_of(client_t *c, response_t *r, bool head_request)
{
    char *end;
    while (!(end = memmem(c->buf, c->len, "\r\n\r\n", 4)))
        ASSERT_TRUE(fill(c));
    size_t n = (size_t)(end - c->buf) + 2;
    ASSERT_LT(n, sizeof r->head);
    memcpy(r->head, c->buf, n);
    r->head[n] = '\0';
    consume(c, n + 2);
    ASSERT_TRUE(sscanf(r->head, "HTTP/1.1 %d", &r->status) == 1);
    r->body_len = 0;
    const char *cl = header_of(r, "Content-Length");
    const char *te = header_of(r, "Transfer-Encoding");
    if (head_request || r->status == 100 || r->status == 204 || r->status == 304) {
    } else if (cl) {
        size_t want = (size_t)atol(cl);
        ASSERT_LT(want, sizeof r->body);
        while (c->len < want)
            ASSERT_TRUE(fill(c));
        memcpy(r->body, c->buf, want);
        r->body_len = want;
        consume(c, want);
    } else if (te && !strcmp(te, "chunked")) {
        for (;;) {
            char line[64];
            read_line(c, line, sizeof line);
            size_t size = strtoul(line, NULL, 16);
            if (size == 0) {
                read_line(c, line, sizeof line);
                ASSERT_STREQ(line, "");
                break;
            }
            while (c->len < size + 2)
                ASSERT_TRUE(fill(c));
            ASSERT_LT(r->body_len + size, sizeof r->body);
            memcpy(r->body + r->body_len, c->buf, size);
            r->body_len += size;
            ASSERT_TRUE(memcmp(c->buf + size, "\r\n", 2) == 0);
            consume(c, size + 2);
        }
    } else { /* until the end */
        while (fill(c))
            ;
        ASSERT_LT(c->len, sizeof r->body);
        memcpy(r->body, c->buf, c->len);
        r->body_len = c->len;
        c->len = 0;
    }
    r->body[r->body_len] = '\0';
}

void read_response(client_t *c, response_t *r)
{
    read_response_of(c, r, false);
}

/* The server closes: end of file (or a reset) with nothing more. */
void expect_closed(client_t *c)
{
    while (fill(c))
        ;
    ASSERT_EQ(c->len, 0);
}

/* Sends request alone on a fresh connection and reads the answer; the
 * connection is closed by the server when close_expected. */
void exchange(uint16_t port, const char *request, response_t *r, bool close_expected)
{
    client_t *c = connect_to(port);
    send_text(c, request);
    read_response(c, r);
    if (close_expected)
        expect_closed(c);
    disconnect(c);
}

response_t *new_response(void)
{
    response_t *r = arbor_calloc(1, sizeof *r);
    ASSERT_TRUE(r != NULL);
    return r;
}

arbor_pid_t child_pid_of(arbor_pid_t sup, const char *id)
{
    arbor_child_info_t *kids;
    size_t n;
    ASSERT_OK(arbor_sup_which_children(sup, &kids, &n));
    arbor_pid_t pid = ARBOR_NOPID;
    for (size_t i = 0; i < n; i++)
        if (!strcmp(kids[i].id, id))
            pid = kids[i].pid;
    free(kids);
    return pid;
}

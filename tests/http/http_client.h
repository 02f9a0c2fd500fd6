/*
 * A raw HTTP/1.1 client for the HTTP tests: a socket in the test's runtime,
 * requests sent as text, responses read and framed (Content-Length,
 * chunked, or until the end) with assertions on the way. Process only.
 */
#ifndef ARBOR_TEST_HTTP_CLIENT_H
#define ARBOR_TEST_HTTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arbor.h"

typedef struct client {
    arbor_socket_t s;
    char buf[1 << 16];
    size_t len;
} client_t;

typedef struct response {
    int status;
    char head[4096]; /* status line and headers */
    char body[1 << 15];
    size_t body_len;
} response_t;

/* Connects to 127.0.0.1:port (5 s). */
client_t *connect_to(uint16_t port);
void disconnect(client_t *c);
void send_text(client_t *c, const char *text);
/* Reads more bytes; false at end of file (or a reset). */
bool fill(client_t *c);
void consume(client_t *c, size_t n);
/* Reads one line (without its CRLF) into out. */
void read_line(client_t *c, char *out, size_t size);
/* The value of header name in r (a static buffer), or NULL. */
const char *header_of(const response_t *r, const char *name);
/* Reads one response; head_request: its body is not sent (HEAD). */
void read_response_of(client_t *c, response_t *r, bool head_request);
void read_response(client_t *c, response_t *r);
/* The server closes: end of file (or a reset) with nothing more. */
void expect_closed(client_t *c);
/* Sends request alone on a fresh connection and reads the answer; the
 * connection is closed by the server when close_expected. */
void exchange(uint16_t port, const char *request, response_t *r, bool close_expected);
response_t *new_response(void);

/* The pid of sup's child id (which_children), or ARBOR_NOPID. */
arbor_pid_t child_pid_of(arbor_pid_t sup, const char *id);

#endif

/*
 * The desk console's requests: a command line's words decoded into what the
 * console asks of the desk, checked against every limit that needs no
 * process. Pure functions, no runtime: the console (main.c) runs the
 * request, the fuzzer (tests/fuzz/fuzz_desk_request.c) checks the decoding.
 */
#ifndef SUPPORT_REQUEST_H
#define SUPPORT_REQUEST_H

#include <stdbool.h>
#include <stdint.h>

#include "ticket.h"

typedef enum {
    DESK_REQ_BLANK, /* no words: a blank line */
    DESK_REQ_QUIT,
    DESK_REQ_CREATE,
    DESK_REQ_ACT, /* assign, resolve, reopen, close */
    DESK_REQ_SHOW,
    DESK_REQ_LIST,
    DESK_REQ_AGENTS,
    DESK_REQ_AGENT_ADD,
    DESK_REQ_TREE,
    DESK_REQ_CRASH,
    DESK_REQ_BACKUP,
    DESK_REQ_STATS,
    DESK_REQ_HELP,
} desk_request_kind_t;

/* A decoded request. Its text fields point into the words it was decoded
 * from (they live as long as those words), but the create's ticket, which
 * holds copies. */
typedef struct desk_request {
    desk_request_kind_t kind;
    ticket_t ticket;        /* create: description, customer, priority */
    int64_t id;             /* act, show, crash (0: crash store) */
    ticket_action_t action; /* act */
    const char *agent;      /* act: "" lets the policy pick; list: NULL for any */
    bool has_status;        /* list */
    ticket_status_t status; /* list, when has_status */
    const char *name;       /* agent-add: the new agent */
    const char *path;       /* backup */
} desk_request_t;

/* Decodes a command line split into words (argv[0] the command, argc 0 for
 * a blank line) into *r. Every check that needs no process is made here:
 * the command and its arguments, ids, priorities and statuses, and for
 * create and agent-add the desk's text limits (valid UTF-8, characters
 * counted as code points, no control characters), with the error the desk
 * would give. Words beyond what a command takes are refused, never
 * ignored (`tree x`, `resolve 1 2`).
 * Returns true, or false with err filled (the code and message the
 * console answers) and *r unchanged. Any thread; touches nothing else. */
bool desk_request_decode(int argc, const char *const *argv, desk_request_t *r, ticket_error_t *err);

#endif

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

/* A list's page: DESK_LIST_PAGE tickets unless told, at most DESK_LIST_MAX. */
#define DESK_LIST_PAGE 50
#define DESK_LIST_MAX  1000

typedef enum {
    DESK_REQ_BLANK, /* no words: a blank line */
    DESK_REQ_QUIT,
    DESK_REQ_CREATE,
    DESK_REQ_ACT, /* every change to a ticket (ticket_action_t) */
    DESK_REQ_SHOW,
    DESK_REQ_LIST,
    DESK_REQ_QUEUES,
    DESK_REQ_AGENTS,
    DESK_REQ_AGENT_ADD,
    DESK_REQ_AGENT_RENAME,
    DESK_REQ_AGENT_SET,   /* agent-activate, agent-deactivate, agent-available */
    DESK_REQ_CREDENTIALS, /* admin-add, password-reset: a name (the password comes next) */
    DESK_REQ_TREE,
    DESK_REQ_CRASH,
    DESK_REQ_KILL, /* kill PID or kill NAME: the process, in name */
    DESK_REQ_BACKUP,
    DESK_REQ_STATS,
    DESK_REQ_HELP,
} desk_request_kind_t;

/* A decoded request. Its text fields point into the words it was decoded
 * from (they live as long as those words), but the ticket (create, edit),
 * the reason and the text, which hold copies. */
typedef struct desk_request {
    desk_request_kind_t kind;
    ticket_t ticket;        /* create: description, customer, priority; edit: the new values */
    int64_t id;             /* act, show, crash (0: crash store) */
    ticket_action_t action; /* act */
    /* act: assign ("" lets the policy pick), reassign; list: NULL for any,
     * "" for the unassigned; queues: whose are mine (NULL: none) */
    const char *agent;
    bool has_status;        /* list */
    bool overdue;           /* list: only the overdue tickets (sla.h) */
    ticket_status_t status; /* list, when has_status */
    /* list: the other filters (NULL: any; the priority in ticket, when
     * set_priority), the order, the page (from 1) and its size */
    const char *customer_filter, *search;
    int sort; /* store_sort_t */
    int64_t page, per_page;
    /* show: the history's page: its size (0: STORE_HISTORY_PAGE) and the
     * entry it ends before (0: the latest entries) */
    int64_t history, before;
    const char *name;      /* agent-*: the agent; kill: the pid or registered name */
    const char *new_name;  /* agent-rename */
    int active, available; /* agent-set: 0 or 1, -1 unchanged */
    const char *path;      /* backup */
    /* Who makes a change (create, act): --by NAME, an agent; NULL: the
     * console's operator. reply --customer: the ticket's customer. */
    const char *by;
    bool by_customer;
    /* create, act, and the roster's changes (agent-add, agent-rename,
     * agent-activate, agent-deactivate, agent-available): --request-id
     * ID, the change's request id (desk.h: desk_once_t; 1 to 64 visible
     * ASCII characters); NULL: none given. */
    const char *request_id;
    bool set_description, set_customer, set_priority; /* edit */
    char reason[TICKET_NAME_SIZE];                    /* close: the words after the id */
    char text[TICKET_TEXT_SIZE];                      /* reply, note: the words after the id */
} desk_request_t;

/* Decodes a command line split into words (argv[0] the command, argc 0 for
 * a blank line) into *r. Every check that needs no process is made here:
 * the command and its arguments, ids, priorities and statuses, and for
 * create, edit, close, reply, note and the agent-* commands the desk's
 * text limits (valid UTF-8, characters counted as code points, no control
 * characters), with the error the desk would give. Words beyond what a
 * command takes are refused, never ignored (`tree x`, `resolve 1 2`).
 * Returns true, or false with err filled (the code and message the
 * console answers) and *r unchanged. Any thread; touches nothing else. */
bool desk_request_decode(int argc, const char *const *argv, desk_request_t *r, ticket_error_t *err);

/* The refusal of word, which is no command: unknown_command, naming it
 * (as whole UTF-8 characters; not at all when it starts with none). */
void desk_request_unknown_command(const char *word, ticket_error_t *err);

#endif

/*
 * The desk's domain: a ticket, its workflow and its limits. Pure functions,
 * no processes: the TicketWorker applies them, the tests check them.
 *
 *   open --assign--> assigned --resolve--> resolved --close--> closed
 *     ^                                       |                  |
 *     +---------------- reopen ---------------+------------------+
 */
#ifndef SUPPORT_TICKET_H
#define SUPPORT_TICKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Limits in characters (code points); the buffers hold that many of the
 * widest UTF-8 characters, 4 bytes each, and a NUL. */
#define TICKET_DESC_MAX  200
#define TICKET_NAME_MAX  64
#define TICKET_DESC_SIZE (TICKET_DESC_MAX * 4 + 1)
#define TICKET_NAME_SIZE (TICKET_NAME_MAX * 4 + 1)

typedef enum { TICKET_OPEN, TICKET_ASSIGNED, TICKET_RESOLVED, TICKET_CLOSED } ticket_status_t;
typedef enum { PRIORITY_LOW, PRIORITY_NORMAL, PRIORITY_HIGH, PRIORITY_URGENT } ticket_priority_t;
typedef enum { ACTION_ASSIGN, ACTION_RESOLVE, ACTION_REOPEN, ACTION_CLOSE } ticket_action_t;

typedef struct ticket {
    int64_t id;
    char description[TICKET_DESC_SIZE];
    char customer[TICKET_NAME_SIZE];
    ticket_priority_t priority;
    ticket_status_t status;
    char agent[TICKET_NAME_SIZE];   /* "" while unassigned */
    int64_t created_at, updated_at; /* ms since the epoch */
    int64_t version;                /* raised by each stored change */
} ticket_t;

/* A refusal: a code for scripts and a sentence for people. */
typedef struct ticket_error {
    char code[32];
    char message[TICKET_NAME_SIZE + 128]; /* room for a name and a sentence */
} ticket_error_t;

const char *ticket_status_name(ticket_status_t s);
const char *ticket_priority_name(ticket_priority_t p);
bool ticket_status_parse(const char *s, ticket_status_t *out);
bool ticket_priority_parse(const char *s, ticket_priority_t *out);

/* Checks a text field: non-empty (unless may_be_empty), valid UTF-8, at
 * most max characters (code points), no control characters. Fills err and
 * returns false when it is not. */
bool ticket_check_text(const char *field, const char *value, size_t max, bool may_be_empty,
                       ticket_error_t *err);

/* Applies action to t (agent: for assign). Returns false with err filled
 * and t unchanged when the workflow forbids it. Sets updated_at to now. */
bool ticket_apply(ticket_t *t, ticket_action_t action, const char *agent, int64_t now,
                  ticket_error_t *err);

int64_t ticket_now_ms(void);

#endif

/*
 * The desk's domain: a ticket, its workflow, who changes it, and its
 * limits. Pure functions, no processes: the TicketWorker applies them, the
 * tests check them.
 *
 *   open --assign--> assigned --pend--> pending
 *     ^ <--unassign--- |  ^ <--resume---  |   unassign: also from pending;
 *     |                |  |               |   reassign: assigned, pending
 *     |             resolve             resolve
 *     |                v                  |
 *     +---reopen--- resolved <------------+
 *     |                | close
 *     |                v
 *     +---reopen---  closed <--close REASON-- open, assigned, pending
 *
 * In words: a new ticket is open; assigning it to an agent makes it
 * assigned; an assigned ticket waits on its customer while pending and
 * goes back to work with resume; reassign gives an assigned or pending
 * ticket to another agent, unassign puts it back to open; an assigned or
 * pending ticket is resolved, a resolved one closed; a ticket that is not
 * resolved yet may be closed directly, with a reason (duplicate, spam);
 * a resolved or closed ticket is reopened (open, unassigned). Editing a
 * ticket (description, customer, priority) and the conversation (public
 * replies, internal notes) change no status: a closed ticket takes only
 * notes.
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
#define TICKET_TEXT_MAX  2000 /* a reply's or a note's text */
#define TICKET_DESC_SIZE (TICKET_DESC_MAX * 4 + 1)
#define TICKET_NAME_SIZE (TICKET_NAME_MAX * 4 + 1)
#define TICKET_TEXT_SIZE (TICKET_TEXT_MAX * 4 + 1)

/* A history entry's text ("customer changed from A to B; priority ..."). */
#define TICKET_EVENT_SIZE (2 * TICKET_NAME_SIZE + 128)

/* The stored numbers of the statuses: pending came last, so a database of
 * an older version keeps its meaning. */
typedef enum {
    TICKET_OPEN,
    TICKET_ASSIGNED,
    TICKET_RESOLVED,
    TICKET_CLOSED,
    TICKET_PENDING
} ticket_status_t;
#define TICKET_STATUSES 5

typedef enum { PRIORITY_LOW, PRIORITY_NORMAL, PRIORITY_HIGH, PRIORITY_URGENT } ticket_priority_t;

typedef enum {
    ACTION_ASSIGN,   /* open -> assigned (agent) */
    ACTION_RESOLVE,  /* assigned, pending -> resolved */
    ACTION_REOPEN,   /* resolved, closed -> open, unassigned */
    ACTION_CLOSE,    /* resolved -> closed; open, assigned, pending -> closed with a reason */
    ACTION_PEND,     /* assigned -> pending: waiting on the customer */
    ACTION_RESUME,   /* pending -> assigned: the customer answered */
    ACTION_REASSIGN, /* assigned, pending: to another agent (agent) */
    ACTION_UNASSIGN, /* assigned, pending -> open */
    ACTION_EDIT,     /* description, customer, priority; any status but closed */
    ACTION_REPLY,    /* a public reply; any status but closed */
    ACTION_NOTE,     /* an internal note; any status */
} ticket_action_t;
#define TICKET_ACTIONS 11

typedef struct ticket {
    int64_t id;
    char description[TICKET_DESC_SIZE];
    char customer[TICKET_NAME_SIZE];
    ticket_priority_t priority;
    ticket_status_t status;
    char agent[TICKET_NAME_SIZE];   /* "" while unassigned */
    int64_t created_at, updated_at; /* ms since the epoch (UTC) */
    int64_t version;                /* raised by each stored change */
    /* The resolution SLA (sla.h), kept by the durable desk (0 and false
     * in memory): the time the ticket is due to be resolved while its
     * clock runs (ms since the epoch; 0: the clock does not run: resolved,
     * closed, pending); while pending, the clock is paused and sla_left_ms
     * holds what was left of it (<= 0: it was past due); and when the
     * desk recorded the breach of the due time (0: not breached). */
    int64_t due_at;
    bool sla_paused;
    int64_t sla_left_ms;
    int64_t breached_at;
} ticket_t;

/* Who makes a change, as the history records it. */
typedef enum {
    ACTOR_OPERATOR, /* whoever runs the console (name: "console" unless told) */
    ACTOR_AGENT,    /* an agent on the roster, by name */
    ACTOR_CUSTOMER, /* the ticket's customer, by name */
    ACTOR_DESK,     /* the desk itself; also entries recorded before attribution */
} ticket_actor_kind_t;

typedef struct ticket_actor {
    ticket_actor_kind_t kind;
    char name[TICKET_NAME_SIZE];
} ticket_actor_t;

/* A change to a ticket: the action and what it needs. Plain data (no
 * pointers), so it travels in a message; text comes last, so that a
 * sender may send only the bytes up to its NUL (ticket_change_size). */
typedef struct ticket_change {
    ticket_action_t action;
    char agent[TICKET_NAME_SIZE];  /* assign ("" lets the desk's policy pick), reassign */
    char reason[TICKET_NAME_SIZE]; /* close: needed unless the ticket is resolved */
    /* edit: the fields to change (at least one) */
    bool set_description, set_customer, set_priority;
    char description[TICKET_DESC_SIZE];
    char customer[TICKET_NAME_SIZE];
    ticket_priority_t priority;
    char text[TICKET_TEXT_SIZE]; /* reply, note */
} ticket_change_t;

/* The bytes of c up to and including its text's NUL. */
size_t ticket_change_size(const ticket_change_t *c);

/* A refusal: a code for scripts and a sentence for people. */
typedef struct ticket_error {
    char code[32];
    char message[TICKET_NAME_SIZE + 128]; /* room for a name and a sentence */
} ticket_error_t;

const char *ticket_status_name(ticket_status_t s);
const char *ticket_priority_name(ticket_priority_t p);
const char *ticket_action_name(ticket_action_t a);         /* the console's command: "assign" */
const char *ticket_actor_kind_name(ticket_actor_kind_t k); /* "operator", "agent", ... */
bool ticket_status_parse(const char *s, ticket_status_t *out);
bool ticket_priority_parse(const char *s, ticket_priority_t *out);
bool ticket_actor_kind_parse(const char *s, ticket_actor_kind_t *out);

/* Checks a text field: non-empty (unless may_be_empty), not blank (spaces
 * alone), valid UTF-8, at most max characters (code points), no control
 * characters. Fills err and returns false when it is not. */
bool ticket_check_text(const char *field, const char *value, size_t max, bool may_be_empty,
                       ticket_error_t *err);

/* As ticket_check_text, for a reply's or a note's text: non-empty, and
 * line breaks and tabs are allowed. */
bool ticket_check_body(const char *field, const char *value, size_t max, ticket_error_t *err);

/* As ticket_check_text, at most TICKET_NAME_MAX characters, for a name
 * given to an agent or a customer: it must not begin or end with a space
 * either, or " bob" and "bob" would be two agents who look the same in
 * every list. Lookups by name use ticket_check_text: a database from
 * before this rule keeps such names, and they can still be named. */
bool ticket_check_name(const char *field, const char *value, bool may_be_empty,
                       ticket_error_t *err);

/* Checks an actor: a kind of the four and a name (ticket_check_text, at
 * most TICKET_NAME_MAX characters, not empty). */
bool ticket_check_actor(const ticket_actor_t *by, ticket_error_t *err);

/* Agent names that differ only in ASCII case are one agent's ("Ann" is
 * ann), as SQLite's NOCASE compares them. */
bool ticket_same_agent_name(const char *a, const char *b);

/* The refusal of name, taken by the agent called taken (agent_exists). */
void ticket_agent_exists(const char *taken, const char *name, ticket_error_t *err);

/* Applies c to t at time now. Returns true with t changed, updated_at set
 * to now, and event (event_size bytes) the history entry's text
 * ("assigned to bob", "reassigned from alice to bob", "closed: spam",
 * "priority changed from normal to high"); or false with err filled and
 * t unchanged when the workflow forbids it or a field is not valid. */
bool ticket_change(ticket_t *t, const ticket_change_t *c, int64_t now, char *event,
                   size_t event_size, ticket_error_t *err);

/* ticket_change for the actions that need at most an agent (assign,
 * reassign): the course's shape. */
bool ticket_apply(ticket_t *t, ticket_action_t action, const char *agent, int64_t now,
                  ticket_error_t *err);

/* True when the change moves the ticket to another status (and so
 * announces itself with a notification). */
bool ticket_changes_status(const ticket_t *before, const ticket_t *after);

int64_t ticket_now_ms(void);

/* ms since the epoch as ISO-8601 in UTC, to the second:
 * "2026-12-06T16:49:01Z". buf holds at least TICKET_TIME_SIZE bytes. */
#define TICKET_TIME_SIZE 32
void ticket_format_time(int64_t ms, char buf[TICKET_TIME_SIZE]);

#endif

#include "request.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool refuse(ticket_error_t *err, const char *code, const char *message)
{
    snprintf(err->code, sizeof err->code, "%s", code);
    snprintf(err->message, sizeof err->message, "%s", message);
    return false;
}

/* A ticket id: all of s, decimal, positive (s NULL: missing). */
static bool parse_id(const char *s, int64_t *id, ticket_error_t *err)
{
    char *end;
    errno = 0;
    long long v = s ? strtoll(s, &end, 10) : 0;
    if (!s || *end || errno || v <= 0)
        return refuse(err, "bad_argument", "a ticket id is a positive number");
    *id = v;
    return true;
}

/* create [--customer NAME] [--priority P] [--] DESCRIPTION: the options
 * anywhere before "--", the other words joined by blanks. Checked as
 * ticket_supervisor_create_ticket() checks a ticket, so that a refusal
 * here is the refusal the desk would give. */
static bool decode_create(int argc, const char *const *argv, desk_request_t *r, ticket_error_t *err)
{
    ticket_t *t = &r->ticket;
    size_t len = 0;
    bool options = true; /* until "--": after it, every word is description */
    for (int i = 1; i < argc; i++) {
        if (options && strcmp(argv[i], "--") == 0) {
            options = false;
        } else if (options && strcmp(argv[i], "--customer") == 0 && i + 1 < argc) {
            /* More bytes than the buffer holds is more characters than the
             * limit; shorter text is checked below. */
            if (strlen(argv[++i]) >= sizeof t->customer)
                return refuse(err, "field_too_long", "customer is longer than 64 characters");
            snprintf(t->customer, sizeof t->customer, "%s", argv[i]);
        } else if (options && strcmp(argv[i], "--priority") == 0 && i + 1 < argc) {
            if (!ticket_priority_parse(argv[++i], &t->priority))
                return refuse(err, "bad_argument", "priority is low, normal, high or urgent");
        } else if (options && strncmp(argv[i], "--", 2) == 0) {
            return refuse(err, "bad_argument", "unknown or incomplete option (try: help)");
        } else {
            size_t n = strlen(argv[i]);
            if (len + n + 1 >= sizeof t->description)
                return refuse(err, "field_too_long", "description is longer than 200 characters");
            if (len)
                t->description[len++] = ' ';
            memcpy(t->description + len, argv[i], n + 1);
            len += n;
        }
    }
    return ticket_check_text("description", t->description, TICKET_DESC_MAX, false, err) &&
           ticket_check_text("customer", t->customer, TICKET_NAME_MAX, true, err);
}

/* assign ID [AGENT], resolve ID, reopen ID, close ID. The agent's text is
 * checked by the workflow (ticket_apply), after the ticket's state: only
 * its size is checked here. */
static bool decode_act(int argc, const char *const *argv, desk_request_t *r, ticket_error_t *err)
{
    int max_args = r->action == ACTION_ASSIGN ? 3 : 2;
    if (argc > max_args) {
        snprintf(err->code, sizeof err->code, "bad_argument");
        snprintf(err->message, sizeof err->message, "too many arguments: %s ID%s", argv[0],
                 r->action == ACTION_ASSIGN ? " [AGENT]" : "");
        return false;
    }
    if (!parse_id(argc > 1 ? argv[1] : NULL, &r->id, err))
        return false;
    if (argc > 2 && strlen(argv[2]) >= TICKET_NAME_SIZE)
        return refuse(err, "field_too_long", "agent is longer than 64 characters");
    r->agent = argc > 2 ? argv[2] : "";
    return true;
}

/* list [STATUS] [--agent NAME], in any order. */
static bool decode_list(int argc, const char *const *argv, desk_request_t *r, ticket_error_t *err)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--agent") == 0 && i + 1 < argc)
            r->agent = argv[++i];
        else if (!r->has_status && ticket_status_parse(argv[i], &r->status))
            r->has_status = true;
        else
            return refuse(err, "bad_argument",
                          "list [open|assigned|resolved|closed] [--agent NAME]");
    }
    return true;
}

/* The commands and their kinds; NULL decode: no arguments are read. */
static const struct {
    const char *name;
    desk_request_kind_t kind;
    ticket_action_t action;
} commands[] = {
    {"quit", DESK_REQ_QUIT, 0},
    {"exit", DESK_REQ_QUIT, 0},
    {"create", DESK_REQ_CREATE, 0},
    {"assign", DESK_REQ_ACT, ACTION_ASSIGN},
    {"resolve", DESK_REQ_ACT, ACTION_RESOLVE},
    {"reopen", DESK_REQ_ACT, ACTION_REOPEN},
    {"close", DESK_REQ_ACT, ACTION_CLOSE},
    {"show", DESK_REQ_SHOW, 0},
    {"list", DESK_REQ_LIST, 0},
    {"agents", DESK_REQ_AGENTS, 0},
    {"agent-add", DESK_REQ_AGENT_ADD, 0},
    {"tree", DESK_REQ_TREE, 0},
    {"crash", DESK_REQ_CRASH, 0},
    {"backup", DESK_REQ_BACKUP, 0},
    {"stats", DESK_REQ_STATS, 0},
    {"help", DESK_REQ_HELP, 0},
};

bool desk_request_decode(int argc, const char *const *argv, desk_request_t *r, ticket_error_t *err)
{
    /* Decoded aside, so that a refusal leaves *r as it was. */
    desk_request_t d = {.kind = DESK_REQ_BLANK, .ticket = {.priority = PRIORITY_NORMAL}};
    if (argc > 0) {
        size_t i = 0, n = sizeof commands / sizeof commands[0];
        while (i < n && strcmp(argv[0], commands[i].name) != 0)
            i++;
        if (i == n)
            return refuse(err, "unknown_command", "unknown command (try: help)");
        d.kind = commands[i].kind;
        d.action = commands[i].action;
    }
    bool ok = true;
    switch (d.kind) {
    case DESK_REQ_CREATE:
        ok = decode_create(argc, argv, &d, err);
        break;
    case DESK_REQ_ACT:
        ok = decode_act(argc, argv, &d, err);
        break;
    case DESK_REQ_SHOW:
        ok = argc <= 2 ? parse_id(argc == 2 ? argv[1] : NULL, &d.id, err)
                       : refuse(err, "bad_argument", "show takes one ticket id: show ID");
        break;
    case DESK_REQ_LIST:
        ok = decode_list(argc, argv, &d, err);
        break;
    case DESK_REQ_AGENT_ADD:
        /* As agents_add() checks a name, before it asks anyone. */
        ok = argc == 2 ? ticket_check_text("agent", argv[1], TICKET_NAME_MAX, false, err)
                       : refuse(err, "bad_argument", "agent-add takes one name");
        d.name = ok ? argv[1] : NULL;
        break;
    case DESK_REQ_CRASH:
        if (argc != 2)
            ok = refuse(err, "bad_argument", "crash ID or crash store");
        else if (strcmp(argv[1], "store") != 0)
            ok = parse_id(argv[1], &d.id, err);
        break;
    case DESK_REQ_BACKUP:
        if (argc != 2 || !argv[1][0])
            ok = refuse(err, "bad_argument", "backup takes one path: backup PATH");
        else
            d.path = argv[1];
        break;
    default: /* quit, agents, tree, stats, help: no arguments */
        if (argc > 1) {
            snprintf(err->code, sizeof err->code, "bad_argument");
            snprintf(err->message, sizeof err->message, "%s takes no arguments (try: help)",
                     argv[0]);
            ok = false;
        }
        break;
    }
    if (ok)
        *r = d;
    return ok;
}

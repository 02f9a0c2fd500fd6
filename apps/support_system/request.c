#include "request.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/utf8.h"
#include "store.h"

static bool refuse(ticket_error_t *err, const char *code, const char *message)
{
    snprintf(err->code, sizeof err->code, "%s", code);
    snprintf(err->message, sizeof err->message, "%s", message);
    return false;
}

/* An option that command does not take, or one without its value, named
 * (hint: how to say it instead, or ""). */
static bool refuse_option(ticket_error_t *err, const char *command, const char *opt,
                          const char *hint)
{
    char quoted[TICKET_NAME_SIZE];
    snprintf(err->code, sizeof err->code, "bad_argument");
    snprintf(err->message, sizeof err->message,
             "%s: not an option of %s, or its value is missing%s; try: help",
             utf8_quote(quoted, sizeof quoted, opt, TICKET_NAME_MAX), command, hint);
    return false;
}

/* The options one command has been given so far, by their words. */
typedef struct {
    const char *words[16]; /* more than any command takes */
    int n;
} given_t;

/* Takes word when it is no option (not --NAME) or an option not given
 * before; refuses a second one ("--priority is given twice"), as the web
 * refuses a field or a query parameter given twice: the last one would
 * win silently. An option the command does not take is refused after
 * this, by its decoder. */
static bool once(given_t *g, const char *word, ticket_error_t *err)
{
    if (strncmp(word, "--", 2) != 0 || !word[2])
        return true;
    for (int k = 0; k < g->n; k++)
        if (strcmp(g->words[k], word) == 0) {
            char quoted[TICKET_NAME_SIZE];
            snprintf(err->code, sizeof err->code, "bad_argument");
            snprintf(err->message, sizeof err->message, "%s is given twice",
                     utf8_quote(quoted, sizeof quoted, word, TICKET_NAME_MAX));
            return false;
        }
    if (g->n < (int)(sizeof g->words / sizeof g->words[0]))
        g->words[g->n++] = word;
    return true;
}

/* Whether option opt is among those given. */
static bool given(const given_t *g, const char *opt)
{
    for (int k = 0; k < g->n; k++)
        if (strcmp(g->words[k], opt) == 0)
            return true;
    return false;
}

/* A ticket id: all of s, decimal, positive (s NULL: missing). */
static bool parse_id(const char *s, int64_t *id, ticket_error_t *err)
{
    char *end;
    errno = 0;
    long long v = s ? strtoll(s, &end, 10) : 0;
    if (s && errno == ERANGE && v > 0 && strspn(s, "0123456789") == strlen(s)) {
        /* A number, past any id there can be: the web's answer too. */
        snprintf(err->code, sizeof err->code, "unknown_ticket");
        snprintf(err->message, sizeof err->message, "there is no ticket %.40s%s", s,
                 strlen(s) > 40 ? "..." : "");
        return false;
    }
    if (!s || *end || errno || v <= 0)
        return refuse(err, "bad_argument", "a ticket id is a positive number");
    *id = v;
    return true;
}

/* --by NAME: the agent who makes the change. */
static bool decode_by(const char *name, desk_request_t *r, ticket_error_t *err)
{
    r->by = name;
    return ticket_check_text("the --by agent", name, TICKET_NAME_MAX, false, err);
}

/* --request-id ID: 1 to 64 visible ASCII characters, as
 * desk_check_request_id() checks it. */
static bool decode_request_id(const char *id, desk_request_t *r, ticket_error_t *err)
{
    size_t n = strlen(id);
    bool ok = n >= 1 && n <= 64;
    for (size_t i = 0; ok && i < n; i++)
        ok = id[i] >= 33 && id[i] <= 126;
    r->request_id = id;
    return ok || refuse(err, "bad_request_id",
                        "a request id is 1 to 64 visible ASCII characters (letters, digits,"
                        " punctuation; no blanks)");
}

/* Joins word to the text in buf (len bytes so far) with a blank; false
 * when it does not fit. The buffer holds the most characters a field
 * takes at 4 bytes each, and its NUL: a text of more bytes has more
 * characters than that (the limit in characters is checked after). */
static bool join(char *buf, size_t size, size_t *len, const char *word)
{
    size_t n = strlen(word);
    if (*len + (*len > 0) + n + 1 > size) /* the blank, the word, the NUL */
        return false;
    if (*len)
        buf[(*len)++] = ' ';
    memcpy(buf + *len, word, n + 1);
    *len += n;
    return true;
}

/* create [--customer NAME] [--priority P] [--by NAME] [--request-id ID] [--] DESCRIPTION: the
 * options anywhere before "--", the other words joined by blanks; a "--"
 * after the description's first word is a word of it. Checked as
 * ticket_supervisor_create_ticket() checks a ticket, so that a refusal
 * here is the refusal the desk would give. */
static bool decode_create(int argc, const char *const *argv, desk_request_t *r, ticket_error_t *err)
{
    ticket_t *t = &r->ticket;
    size_t len = 0;
    bool options = true;    /* until "--": after it, every word is description */
    bool described = false; /* a word of the description taken: "--" is one too */
    given_t g = {.n = 0};
    for (int i = 1; i < argc; i++) {
        if (options && !once(&g, argv[i], err))
            return false;
        if (options && !described && strcmp(argv[i], "--") == 0) {
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
        } else if (options && strcmp(argv[i], "--by") == 0 && i + 1 < argc) {
            if (!decode_by(argv[++i], r, err))
                return false;
        } else if (options && strcmp(argv[i], "--request-id") == 0 && i + 1 < argc) {
            if (!decode_request_id(argv[++i], r, err))
                return false;
        } else if (options && strncmp(argv[i], "--", 2) == 0 && argv[i][2]) {
            return refuse_option(err, argv[0], argv[i],
                                 " (a description that begins with -- comes after --)");
        } else if (!join(t->description, sizeof t->description, &len, argv[i])) {
            return refuse(err, "field_too_long", "description is longer than 200 characters");
        } else {
            described = true;
        }
    }
    return ticket_check_text("description", t->description, TICKET_DESC_MAX, false, err) &&
           ticket_check_name("customer", t->customer, true, err);
}

/* An edit's option at argv[*i] (--description, --customer, --priority),
 * its value after it. False with err when it is not one (or bad). */
static bool decode_edit_option(int argc, const char *const *argv, int *i, desk_request_t *r,
                               ticket_error_t *err)
{
    const char *opt = argv[*i], *value = *i + 1 < argc ? argv[*i + 1] : NULL;
    ticket_t *t = &r->ticket;
    if (!value)
        return refuse_option(err, argv[0], opt, "");
    ++*i;
    if (strcmp(opt, "--priority") == 0) {
        r->set_priority = true;
        return ticket_priority_parse(value, &t->priority) ||
               refuse(err, "bad_argument", "priority is low, normal, high or urgent");
    }
    bool description = strcmp(opt, "--description") == 0;
    if (!description && strcmp(opt, "--customer") != 0)
        return refuse_option(err, argv[0], opt, "");
    char *field = description ? t->description : t->customer;
    size_t size = description ? sizeof t->description : sizeof t->customer;
    size_t max = description ? TICKET_DESC_MAX : TICKET_NAME_MAX;
    if (strlen(value) >= size)
        return refuse(err, "field_too_long",
                      description ? "description is longer than 200 characters"
                                  : "customer is longer than 64 characters");
    snprintf(field, size, "%s", value);
    *(description ? &r->set_description : &r->set_customer) = true;
    return description ? ticket_check_text("description", field, max, false, err)
                       : ticket_check_name("customer", field, true, err);
}

/* What an action takes after the id: the most words, and what they are. */
static int max_words(ticket_action_t a)
{
    switch (a) {
    case ACTION_ASSIGN:
    case ACTION_REASSIGN:
        return 1; /* the agent */
    case ACTION_CLOSE:
    case ACTION_REPLY:
    case ACTION_NOTE:
        return INT32_MAX; /* the reason, the text */
    default:
        return 0;
    }
}

/* The words after the id: the agent, the reason, or the text. */
static bool take_word(desk_request_t *r, const char *word, int count, ticket_error_t *err)
{
    size_t reason_len = strlen(r->reason), text_len = strlen(r->text);
    if (count > max_words(r->action)) {
        snprintf(err->code, sizeof err->code, "bad_argument");
        snprintf(err->message, sizeof err->message, "too many arguments: %s ID%s",
                 ticket_action_name(r->action),
                 r->action == ACTION_ASSIGN     ? " [AGENT]"
                 : r->action == ACTION_REASSIGN ? " AGENT"
                                                : "");
        return false;
    }
    switch (r->action) {
    case ACTION_ASSIGN:
    case ACTION_REASSIGN:
        if (strlen(word) >= TICKET_NAME_SIZE)
            return refuse(err, "field_too_long", "agent is longer than 64 characters");
        r->agent = word;
        return true;
    case ACTION_CLOSE:
        return join(r->reason, sizeof r->reason, &reason_len, word) ||
               refuse(err, "field_too_long", "reason is longer than 64 characters");
    default:
        return join(r->text, sizeof r->text, &text_len, word) ||
               refuse(err, "field_too_long", "text is longer than 2000 characters");
    }
}

/* A change to a ticket: COMMAND ID [WORDS] [--by NAME] [--request-id ID], and for edit its
 * options, for reply --customer; after "--" every word is a word, and so
 * is a "--" after the first of the words (the agent, reason or text). The
 * agent's text is checked by the workflow (ticket_change), after the
 * ticket's state: only its size is checked here. */
static bool decode_act(int argc, const char *const *argv, desk_request_t *r, ticket_error_t *err)
{
    r->agent = "";
    bool options = true, have_id = false;
    int words = 0;
    given_t g = {.n = 0};
    for (int i = 1; i < argc; i++) {
        const char *w = argv[i];
        bool ok;
        if (options && !once(&g, w, err))
            return false;
        if (options && !words && strcmp(w, "--") == 0) {
            options = false;
            continue;
        } else if (options && strcmp(w, "--by") == 0 && i + 1 < argc) {
            ok = decode_by(argv[++i], r, err);
        } else if (options && strcmp(w, "--request-id") == 0 && i + 1 < argc) {
            ok = decode_request_id(argv[++i], r, err);
        } else if (options && r->action == ACTION_REPLY && strcmp(w, "--customer") == 0) {
            ok = r->by_customer = true;
        } else if (options && r->action == ACTION_EDIT && strncmp(w, "--", 2) == 0) {
            ok = decode_edit_option(argc, argv, &i, r, err);
        } else if (options && strncmp(w, "--", 2) == 0 && w[2]) {
            ok = refuse_option(err, argv[0], w, "");
        } else if (!have_id) {
            ok = have_id = parse_id(w, &r->id, err);
        } else {
            ok = take_word(r, w, ++words, err);
        }
        if (!ok)
            return false;
    }
    if (!have_id)
        return parse_id(NULL, &r->id, err);
    if (r->by && r->by_customer)
        return refuse(err, "bad_argument", "a reply is by --customer or --by an agent, not both");
    if (r->action == ACTION_REASSIGN && !r->agent[0])
        return refuse(err, "bad_argument", "reassign ID AGENT: to whom?");
    if (r->action == ACTION_EDIT && !r->set_description && !r->set_customer && !r->set_priority)
        return refuse(err, "bad_argument",
                      "edit ID [--description TEXT] [--customer NAME] [--priority P]");
    if (r->action == ACTION_CLOSE)
        return ticket_check_text("reason", r->reason, TICKET_NAME_MAX, true, err);
    if (r->action == ACTION_REPLY || r->action == ACTION_NOTE)
        return ticket_check_body("text", r->text, TICKET_TEXT_MAX, err);
    return true;
}

/* agent-rename OLD NEW; agent-activate NAME, agent-deactivate NAME,
 * agent-available NAME on|off. */
/* The words of a roster command but its --request-id ID (anywhere; taken
 * into r), into words (at most max, the command first): their count, or
 * -1 with err when an option is not --request-id ID, or a word more than
 * max is given (the count is then max + 1). */
static int roster_words(int argc, const char *const *argv, desk_request_t *r, const char **words,
                        int max, ticket_error_t *err)
{
    int n = 0;
    given_t g = {.n = 0};
    for (int i = 0; i < argc; i++) {
        if (i > 0 && !once(&g, argv[i], err))
            return -1;
        if (i > 0 && strcmp(argv[i], "--request-id") == 0 && i + 1 < argc) {
            if (!decode_request_id(argv[++i], r, err))
                return -1;
        } else if (i > 0 && strncmp(argv[i], "--", 2) == 0) {
            refuse_option(err, argv[0], argv[i], "");
            return -1;
        } else if (n < max) {
            words[n++] = argv[i];
        } else {
            return max + 1;
        }
    }
    return n;
}

/* agent-add NAME [--request-id ID]. */
static bool decode_agent_add(int argc, const char *const *argv, desk_request_t *r,
                             ticket_error_t *err)
{
    const char *w[2];
    int n = roster_words(argc, argv, r, w, 2, err);
    if (n < 0)
        return false;
    if (n != 2)
        return refuse(err, "bad_argument", "agent-add takes one name");
    r->name = w[1];
    /* As agents_add() checks a name, before it asks anyone. */
    return ticket_check_name("agent", w[1], false, err);
}

/* agent-rename OLD NEW, agent-activate NAME, agent-deactivate NAME,
 * agent-available NAME on|off; each with [--request-id ID]. */
static bool decode_agent(int args, const char *const *all, desk_request_t *r, ticket_error_t *err)
{
    const char *argv[3];
    int argc = roster_words(args, all, r, argv, 3, err);
    if (argc < 0)
        return false;
    const char *cmd = argv[0];
    int want = strcmp(cmd, "agent-rename") == 0 || strcmp(cmd, "agent-available") == 0 ? 3 : 2;
    if (argc != want)
        return refuse(err, "bad_argument",
                      want == 2                          ? "give one agent's name"
                      : strcmp(cmd, "agent-rename") == 0 ? "agent-rename OLD NEW"
                                                         : "agent-available NAME on|off");
    r->name = argv[1];
    r->active = r->available = -1;
    if (strcmp(cmd, "agent-rename") == 0) {
        r->new_name = argv[2];
        return ticket_check_text("agent", argv[1], TICKET_NAME_MAX, false, err) &&
               ticket_check_name("new name", argv[2], false, err);
    }
    if (strcmp(cmd, "agent-available") == 0) {
        if (strcmp(argv[2], "on") != 0 && strcmp(argv[2], "off") != 0)
            return refuse(err, "bad_argument", "agent-available NAME on|off");
        r->available = strcmp(argv[2], "on") == 0;
    } else {
        r->active = strcmp(cmd, "agent-activate") == 0;
    }
    return ticket_check_text("agent", argv[1], TICKET_NAME_MAX, false, err);
}

static const char *const sorts[] = {"newest", "oldest", "priority", "updated"};

/* A number from 1 to max (the value of option opt). */
static bool parse_count(const char *opt, const char *s, int64_t max, int64_t *out,
                        ticket_error_t *err)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (*end || errno || v < 1 || v > max || !*s) {
        snprintf(err->code, sizeof err->code, "bad_argument");
        snprintf(err->message, sizeof err->message, "%s is a number from 1 to %lld", opt,
                 (long long)max);
        return false;
    }
    *out = v;
    return true;
}

/* One option of list at argv[*i], its value after it. */
static bool decode_list_option(const char *opt, const char *value, desk_request_t *r,
                               ticket_error_t *err)
{
    if (strcmp(opt, "--agent") == 0) {
        r->agent = value;
        return ticket_check_text("agent", value, TICKET_NAME_MAX, false, err);
    }
    if (strcmp(opt, "--customer") == 0) { /* a name, as the web's customer= */
        r->customer_filter = value;
        return ticket_check_text("customer", value, TICKET_NAME_MAX, false, err);
    }
    if (strcmp(opt, "--search") == 0) {
        r->search = value;
        return ticket_check_text("search", value, TICKET_DESC_MAX, false, err);
    }
    if (strcmp(opt, "--priority") == 0) {
        r->set_priority = true;
        return ticket_priority_parse(value, &r->ticket.priority) ||
               refuse(err, "bad_argument", "priority is low, normal, high or urgent");
    }
    if (strcmp(opt, "--sort") == 0) {
        for (int k = 0; k < 4; k++)
            if (strcmp(value, sorts[k]) == 0) {
                r->sort = k;
                return true;
            }
        return refuse(err, "bad_argument", "--sort newest, oldest, priority or updated");
    }
    if (strcmp(opt, "--page") == 0)
        return parse_count(opt, value, INT32_MAX, &r->page, err);
    if (strcmp(opt, "--per-page") == 0)
        return parse_count(opt, value, DESK_LIST_MAX, &r->per_page, err);
    return refuse_option(err, "list", opt, " (a status comes alone: list open)");
}

/* list [STATUS] [--agent NAME | --unassigned] [--overdue] [--customer NAME]
 * [--priority P] [--search WORDS] [--sort ORDER] [--page N]
 * [--per-page N], in any order. */
static bool decode_list(int argc, const char *const *argv, desk_request_t *r, ticket_error_t *err)
{
    r->page = 1;
    r->per_page = DESK_LIST_PAGE;
    given_t g = {.n = 0};
    for (int i = 1; i < argc; i++) {
        bool ok;
        if (!once(&g, argv[i], err))
            return false;
        if (strcmp(argv[i], "--unassigned") == 0) {
            r->agent = "";
            ok = true;
        } else if (strcmp(argv[i], "--overdue") == 0) {
            ok = r->overdue = true;
        } else if (strncmp(argv[i], "--", 2) == 0 && i + 1 < argc) {
            ok = decode_list_option(argv[i], argv[i + 1], r, err);
            i++;
        } else if (!r->has_status && ticket_status_parse(argv[i], &r->status)) {
            ok = r->has_status = true;
        } else {
            ok = refuse(err, "bad_argument",
                        "list [open|assigned|pending|resolved|closed] [--agent NAME|--unassigned]"
                        " [--overdue] [--customer NAME] [--priority P] [--search WORDS]"
                        " [--sort newest|oldest|priority|updated] [--page N] [--per-page N]");
        }
        if (!ok)
            return false;
    }
    /* One or the other, as the web's agent= and unassigned= (the last won). */
    if (given(&g, "--agent") && given(&g, "--unassigned"))
        return refuse(err, "bad_argument", "agent and unassigned exclude each other");
    return true;
}

/* show ID [--history N] [--before K], the options in any order: the
 * history's page (N entries, the latest before entry K). */
static bool decode_show(int argc, const char *const *argv, desk_request_t *r, ticket_error_t *err)
{
    bool has_id = false;
    given_t g = {.n = 0};
    for (int i = 1; i < argc; i++) {
        bool ok;
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;
        if (!once(&g, argv[i], err))
            return false;
        if (strcmp(argv[i], "--history") == 0 && value && ++i)
            ok = parse_count("--history", value, STORE_HISTORY_MAX, &r->history, err);
        else if (strcmp(argv[i], "--before") == 0 && value && ++i)
            ok = parse_count("--before", value, INT64_MAX, &r->before, err);
        else if (!has_id && strncmp(argv[i], "--", 2) != 0)
            ok = has_id = parse_id(argv[i], &r->id, err);
        else
            ok = refuse(err, "bad_argument", "show ID [--history N] [--before ENTRY]");
        if (!ok)
            return false;
    }
    return has_id || parse_id(NULL, &r->id, err);
}

/* queues [--agent NAME]: NAME's are mine. */
static bool decode_queues(int argc, const char *const *argv, desk_request_t *r, ticket_error_t *err)
{
    given_t g = {.n = 0};
    for (int i = 1; i < argc; i += 2) {
        if (!once(&g, argv[i], err))
            return false;
        if (strcmp(argv[i], "--agent") != 0 || i + 1 == argc)
            return refuse(err, "bad_argument", "queues [--agent NAME]");
        r->agent = argv[i + 1];
        if (!ticket_check_text("agent", r->agent, TICKET_NAME_MAX, false, err))
            return false;
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
    {"pend", DESK_REQ_ACT, ACTION_PEND},
    {"resume", DESK_REQ_ACT, ACTION_RESUME},
    {"reassign", DESK_REQ_ACT, ACTION_REASSIGN},
    {"unassign", DESK_REQ_ACT, ACTION_UNASSIGN},
    {"edit", DESK_REQ_ACT, ACTION_EDIT},
    {"reply", DESK_REQ_ACT, ACTION_REPLY},
    {"note", DESK_REQ_ACT, ACTION_NOTE},
    {"show", DESK_REQ_SHOW, 0},
    {"list", DESK_REQ_LIST, 0},
    {"queues", DESK_REQ_QUEUES, 0},
    {"agents", DESK_REQ_AGENTS, 0},
    {"agent-add", DESK_REQ_AGENT_ADD, 0},
    {"admin-add", DESK_REQ_CREDENTIALS, 0},
    {"password-reset", DESK_REQ_CREDENTIALS, 0},
    {"agent-rename", DESK_REQ_AGENT_RENAME, 0},
    {"agent-activate", DESK_REQ_AGENT_SET, 0},
    {"agent-deactivate", DESK_REQ_AGENT_SET, 0},
    {"agent-available", DESK_REQ_AGENT_SET, 0},
    {"tree", DESK_REQ_TREE, 0},
    {"crash", DESK_REQ_CRASH, 0},
    {"kill", DESK_REQ_KILL, 0},
    {"backup", DESK_REQ_BACKUP, 0},
    {"stats", DESK_REQ_STATS, 0},
    {"help", DESK_REQ_HELP, 0},
};

void desk_request_unknown_command(const char *word, ticket_error_t *err)
{
    char quoted[TICKET_NAME_SIZE];
    utf8_quote(quoted, sizeof quoted, word, TICKET_NAME_MAX);
    snprintf(err->code, sizeof err->code, "unknown_command");
    snprintf(err->message, sizeof err->message, "%s%sunknown command (try: help)", quoted,
             quoted[0] ? ": " : "");
}

bool desk_request_decode(int argc, const char *const *argv, desk_request_t *r, ticket_error_t *err)
{
    /* Decoded aside, so that a refusal leaves *r as it was. */
    desk_request_t d = {.kind = DESK_REQ_BLANK, .ticket = {.priority = PRIORITY_NORMAL}};
    if (argc > 0) {
        size_t i = 0, n = sizeof commands / sizeof commands[0];
        while (i < n && strcmp(argv[0], commands[i].name) != 0)
            i++;
        if (i == n) {
            desk_request_unknown_command(argv[0], err);
            return false;
        }
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
        ok = decode_show(argc, argv, &d, err);
        break;
    case DESK_REQ_LIST:
        ok = decode_list(argc, argv, &d, err);
        break;
    case DESK_REQ_QUEUES:
        ok = decode_queues(argc, argv, &d, err);
        break;
    case DESK_REQ_AGENT_RENAME:
    case DESK_REQ_AGENT_SET:
        ok = decode_agent(argc, argv, &d, err);
        break;
    case DESK_REQ_CREDENTIALS:
        /* The name; the password is the next line (console_web.c). */
        ok = argc == 2 ? ticket_check_text("name", argv[1], TICKET_NAME_MAX, false, err)
                       : refuse(err, "bad_argument", "admin-add and password-reset take one name");
        d.name = ok ? argv[1] : NULL;
        break;
    case DESK_REQ_AGENT_ADD:
        ok = decode_agent_add(argc, argv, &d, err);
        break;
    case DESK_REQ_CRASH:
        if (argc != 2)
            ok = refuse(err, "bad_argument", "crash ID or crash store");
        else if (strcmp(argv[1], "store") != 0)
            ok = parse_id(argv[1], &d.id, err);
        break;
    case DESK_REQ_KILL:
        if (argc != 2 || !argv[1][0])
            ok = refuse(err, "bad_argument", "kill takes one process: kill PID or kill NAME");
        else
            d.name = argv[1];
        break;
    case DESK_REQ_BACKUP:
        if (argc != 2 || !argv[1][0])
            ok = refuse(err, "bad_argument", "backup takes one path: backup PATH");
        else
            d.path = argv[1];
        break;
    default: /* blank, quit, agents, tree, stats, help: no arguments */
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

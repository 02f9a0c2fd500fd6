/*
 * Fuzz target: the desk console's decoding of a line into a request, as
 * apps/support_system/main.c runs it before any process is asked: the line
 * check, the split into words, desk_request_decode (request.c), and the
 * --json answer of a refusal. The runtime is not started. The input is one
 * or more lines, as they come from the console's reader.
 *
 * Invariants:
 *   - one line in, one answer out: each line is decoded once, to one
 *     request or one refusal; a refusal's --json answer is one line of
 *     valid UTF-8 JSON that parses back ({"ok":false,"error":{...}}, with
 *     a code of the documented few), its text answer one line too, and
 *     the text fields of a request, as JSON strings, are the same;
 *   - a refused line changes nothing: the request is left as it was;
 *   - the request is the command named by the first word, and within the
 *     desk's limits: ids positive; a created ticket's description 1 to 200
 *     characters and its customer at most 64, valid UTF-8 without control
 *     characters, a priority of the four; a new agent's name likewise, at
 *     most 64 characters; an agent to assign shorter than its buffer (its
 *     text is the workflow's to check, after the ticket's state);
 *   - a request is its line: its fields, written back as a quoted line,
 *     decode to the same request;
 *   - a command that takes no arguments is refused with any (never
 *     ignored: `tree x`);
 *   - decoding is pure: the same words decode the same way again.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../apps/common/console.h"
#include "../../apps/support_system/request.h"
#include "fuzz_util.h"

/* unknown_ticket: an id past any a desk can hold (show 99999999999999999999). */
static const char *const refusal_codes[] = {"bad_input",       "bad_argument",  "field_too_long",
                                            "unknown_command", "empty_field",   "bad_field",
                                            "bad_request_id",  "unknown_ticket"};

static const struct {
    const char *name;
    desk_request_kind_t kind;
} names[] = {{"quit", DESK_REQ_QUIT},
             {"exit", DESK_REQ_QUIT},
             {"create", DESK_REQ_CREATE},
             {"assign", DESK_REQ_ACT},
             {"resolve", DESK_REQ_ACT},
             {"reopen", DESK_REQ_ACT},
             {"close", DESK_REQ_ACT},
             {"pend", DESK_REQ_ACT},
             {"resume", DESK_REQ_ACT},
             {"reassign", DESK_REQ_ACT},
             {"unassign", DESK_REQ_ACT},
             {"edit", DESK_REQ_ACT},
             {"reply", DESK_REQ_ACT},
             {"note", DESK_REQ_ACT},
             {"show", DESK_REQ_SHOW},
             {"list", DESK_REQ_LIST},
             {"queues", DESK_REQ_QUEUES},
             {"agents", DESK_REQ_AGENTS},
             {"agent-add", DESK_REQ_AGENT_ADD},
             {"admin-add", DESK_REQ_CREDENTIALS},
             {"password-reset", DESK_REQ_CREDENTIALS},
             {"agent-rename", DESK_REQ_AGENT_RENAME},
             {"agent-activate", DESK_REQ_AGENT_SET},
             {"agent-deactivate", DESK_REQ_AGENT_SET},
             {"agent-available", DESK_REQ_AGENT_SET},
             {"tree", DESK_REQ_TREE},
             {"crash", DESK_REQ_CRASH},
             {"kill", DESK_REQ_KILL},
             {"backup", DESK_REQ_BACKUP},
             {"stats", DESK_REQ_STATS},
             {"help", DESK_REQ_HELP}};

static void check_refusal(const char *code, const char *message)
{
    bool known = false;
    for (size_t i = 0; i < sizeof refusal_codes / sizeof refusal_codes[0]; i++)
        known |= strcmp(code, refusal_codes[i]) == 0;
    FUZZ_ASSERT(known, "refused with an undocumented code '%s'", code);
    FUZZ_ASSERT(message[0], "refused (%s) without a message", code);
    FUZZ_ASSERT(!strchr(message, '\n'), "the text answer is more than one line: %s", message);
    cJSON *answer = console_error_json(code, message);
    fuzz_check_json_answer(answer);
}

/* A text field as the desk keeps it: valid UTF-8, no control characters,
 * at most max characters. */
static void check_text(const char *field, const char *s, size_t max, bool may_be_empty)
{
    size_t len = strlen(s), chars = 0;
    FUZZ_ASSERT(may_be_empty || len, "%s is empty", field);
    FUZZ_ASSERT(fuzz_utf8_valid(s, len), "%s is not UTF-8", field);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        FUZZ_ASSERT(c >= 0x20 && c != 0x7f, "%s holds control character 0x%02x", field, c);
        chars += (c & 0xc0) != 0x80;
    }
    FUZZ_ASSERT(chars <= max, "%s has %zu characters, more than %zu", field, chars, max);
}

static bool same_text(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* Two requests ask the same of the desk. */
static bool same_request(const desk_request_t *a, const desk_request_t *b)
{
    if (a->kind != b->kind)
        return false;
    switch (a->kind) {
    case DESK_REQ_CREATE:
        return strcmp(a->ticket.description, b->ticket.description) == 0 &&
               strcmp(a->ticket.customer, b->ticket.customer) == 0 &&
               a->ticket.priority == b->ticket.priority;
    case DESK_REQ_ACT:
        return a->id == b->id && a->action == b->action && same_text(a->agent, b->agent) &&
               same_text(a->by, b->by) && a->by_customer == b->by_customer &&
               strcmp(a->reason, b->reason) == 0 && strcmp(a->text, b->text) == 0 &&
               a->set_description == b->set_description && a->set_customer == b->set_customer &&
               a->set_priority == b->set_priority &&
               (!a->set_description || strcmp(a->ticket.description, b->ticket.description) == 0) &&
               (!a->set_customer || strcmp(a->ticket.customer, b->ticket.customer) == 0) &&
               (!a->set_priority || a->ticket.priority == b->ticket.priority);
    case DESK_REQ_AGENT_RENAME:
        return strcmp(a->name, b->name) == 0 && strcmp(a->new_name, b->new_name) == 0;
    case DESK_REQ_AGENT_SET:
        return strcmp(a->name, b->name) == 0 && a->active == b->active &&
               a->available == b->available;
    case DESK_REQ_SHOW:
    case DESK_REQ_CRASH:
        return a->id == b->id;
    case DESK_REQ_LIST:
        return a->has_status == b->has_status && (!a->has_status || a->status == b->status) &&
               a->overdue == b->overdue && same_text(a->agent, b->agent) &&
               same_text(a->customer_filter, b->customer_filter) &&
               same_text(a->search, b->search) && a->set_priority == b->set_priority &&
               (!a->set_priority || a->ticket.priority == b->ticket.priority) &&
               a->sort == b->sort && a->page == b->page && a->per_page == b->per_page;
    case DESK_REQ_QUEUES:
        return same_text(a->agent, b->agent);
    case DESK_REQ_AGENT_ADD:
        return strcmp(a->name, b->name) == 0;
    case DESK_REQ_BACKUP:
        return strcmp(a->path, b->path) == 0;
    case DESK_REQ_KILL:
        return strcmp(a->name, b->name) == 0;
    default:
        return true;
    }
}

/* The request written back as words (at most 19; their text points into r
 * or buf). */
static int request_words(const desk_request_t *r, const char **w, char *buf, size_t size)
{
    int n = 0;
    switch (r->kind) {
    case DESK_REQ_CREATE:
        w[n++] = "create";
        w[n++] = "--priority";
        w[n++] = ticket_priority_name(r->ticket.priority);
        w[n++] = "--customer";
        w[n++] = r->ticket.customer;
        w[n++] = "--";
        w[n++] = r->ticket.description;
        break;
    case DESK_REQ_ACT:
        w[n++] = ticket_action_name(r->action);
        snprintf(buf, size, "%lld", (long long)r->id);
        w[n++] = buf;
        if (r->by) {
            w[n++] = "--by";
            w[n++] = r->by;
        }
        if (r->by_customer)
            w[n++] = "--customer";
        if (r->set_description) {
            w[n++] = "--description";
            w[n++] = r->ticket.description;
        }
        if (r->set_customer) {
            w[n++] = "--customer";
            w[n++] = r->ticket.customer;
        }
        if (r->set_priority) {
            w[n++] = "--priority";
            w[n++] = ticket_priority_name(r->ticket.priority);
        }
        w[n++] = "--";
        if (r->agent[0])
            w[n++] = r->agent;
        if (r->reason[0])
            w[n++] = r->reason;
        if (r->text[0])
            w[n++] = r->text;
        break;
    case DESK_REQ_AGENT_RENAME:
        w[n++] = "agent-rename";
        w[n++] = r->name;
        w[n++] = r->new_name;
        break;
    case DESK_REQ_AGENT_SET:
        w[n++] = r->active == 1   ? "agent-activate"
                 : r->active == 0 ? "agent-deactivate"
                                  : "agent-available";
        w[n++] = r->name;
        if (r->active < 0)
            w[n++] = r->available ? "on" : "off";
        break;
    case DESK_REQ_SHOW:
    case DESK_REQ_CRASH:
        w[n++] = r->kind == DESK_REQ_SHOW ? "show" : "crash";
        snprintf(buf, size, "%lld", (long long)r->id);
        w[n++] = r->kind == DESK_REQ_CRASH && !r->id ? "store" : buf;
        break;
    case DESK_REQ_LIST: {
        static const char *const sorts[] = {"newest", "oldest", "priority", "updated"};
        static char page[32], per_page[32];
        w[n++] = "list";
        if (r->has_status)
            w[n++] = ticket_status_name(r->status);
        if (r->agent && !r->agent[0])
            w[n++] = "--unassigned";
        else if (r->agent) {
            w[n++] = "--agent";
            w[n++] = r->agent;
        }
        if (r->overdue)
            w[n++] = "--overdue";
        if (r->customer_filter) {
            w[n++] = "--customer";
            w[n++] = r->customer_filter;
        }
        if (r->search) {
            w[n++] = "--search";
            w[n++] = r->search;
        }
        if (r->set_priority) {
            w[n++] = "--priority";
            w[n++] = ticket_priority_name(r->ticket.priority);
        }
        w[n++] = "--sort";
        w[n++] = sorts[r->sort];
        snprintf(page, sizeof page, "%lld", (long long)r->page);
        snprintf(per_page, sizeof per_page, "%lld", (long long)r->per_page);
        w[n++] = "--page";
        w[n++] = page;
        w[n++] = "--per-page";
        w[n++] = per_page;
        break;
    }
    case DESK_REQ_QUEUES:
        w[n++] = "queues";
        if (r->agent) {
            w[n++] = "--agent";
            w[n++] = r->agent;
        }
        break;
    case DESK_REQ_AGENT_ADD:
        w[n++] = "agent-add";
        w[n++] = r->name;
        break;
    case DESK_REQ_CREDENTIALS: /* admin-add and password-reset decode alike */
        w[n++] = "admin-add";
        w[n++] = r->name;
        break;
    case DESK_REQ_BACKUP:
        w[n++] = "backup";
        w[n++] = r->path;
        break;
    case DESK_REQ_KILL:
        w[n++] = "kill";
        w[n++] = r->name;
        break;
    case DESK_REQ_BLANK:
        break;
    default:
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
            if (names[i].kind == r->kind) {
                w[n++] = names[i].name;
                break;
            }
    }
    w[n] = NULL;
    return n;
}

static void check_request(const desk_request_t *r, const console_words_t *ws)
{
    desk_request_kind_t kind = DESK_REQ_BLANK;
    if (ws->argc > 0) {
        size_t i = 0;
        while (strcmp(names[i].name, ws->argv[0]) != 0)
            i++; /* accepted, so it is there */
        kind = names[i].kind;
        if (kind == DESK_REQ_ACT)
            FUZZ_ASSERT(strcmp(ticket_action_name(r->action), ws->argv[0]) == 0,
                        "'%s' decoded to action %d", ws->argv[0], r->action);
    }
    FUZZ_ASSERT(r->kind == kind, "'%s' decoded to kind %d", ws->argc ? ws->argv[0] : "", r->kind);
    bool no_arguments = kind == DESK_REQ_QUIT || kind == DESK_REQ_AGENTS || kind == DESK_REQ_TREE ||
                        kind == DESK_REQ_STATS || kind == DESK_REQ_HELP;
    FUZZ_ASSERT(!no_arguments || ws->argc == 1, "'%s' accepted with %d words", ws->argv[0],
                ws->argc);
    switch (r->kind) {
    case DESK_REQ_CREATE:
        check_text("description", r->ticket.description, TICKET_DESC_MAX, false);
        check_text("customer", r->ticket.customer, TICKET_NAME_MAX, true);
        FUZZ_ASSERT((unsigned)r->ticket.priority <= PRIORITY_URGENT, "priority %d",
                    r->ticket.priority);
        break;
    case DESK_REQ_ACT:
        FUZZ_ASSERT(r->id > 0, "id %lld", (long long)r->id);
        FUZZ_ASSERT(r->agent && strlen(r->agent) < TICKET_NAME_SIZE, "an agent too long");
        if (r->by)
            check_text("--by", r->by, TICKET_NAME_MAX, false);
        check_text("reason", r->reason, TICKET_NAME_MAX, true);
        if (r->action == ACTION_REPLY || r->action == ACTION_NOTE)
            FUZZ_ASSERT(r->text[0] && fuzz_utf8_valid(r->text, strlen(r->text)), "text");
        if (r->set_description)
            check_text("description", r->ticket.description, TICKET_DESC_MAX, false);
        if (r->set_customer)
            check_text("customer", r->ticket.customer, TICKET_NAME_MAX, true);
        break;
    case DESK_REQ_AGENT_RENAME:
        check_text("agent", r->name, TICKET_NAME_MAX, false);
        check_text("new name", r->new_name, TICKET_NAME_MAX, false);
        break;
    case DESK_REQ_AGENT_SET:
        check_text("agent", r->name, TICKET_NAME_MAX, false);
        break;
    case DESK_REQ_SHOW:
        FUZZ_ASSERT(r->id > 0, "id %lld", (long long)r->id);
        break;
    case DESK_REQ_CRASH:
        FUZZ_ASSERT(r->id > 0 || strcmp(ws->argv[1], "store") == 0, "crash %lld", (long long)r->id);
        break;
    case DESK_REQ_LIST:
        FUZZ_ASSERT(!r->has_status || (unsigned)r->status < TICKET_STATUSES, "status %d",
                    r->status);
        if (r->agent && r->agent[0])
            check_text("agent", r->agent, TICKET_NAME_MAX, false);
        if (r->customer_filter) /* a name: list --customer "" is refused */
            check_text("customer", r->customer_filter, TICKET_NAME_MAX, false);
        if (r->search)
            check_text("search", r->search, TICKET_DESC_MAX, false);
        FUZZ_ASSERT(r->sort >= 0 && r->sort < 4, "sort %d", r->sort);
        FUZZ_ASSERT(r->page >= 1 && r->per_page >= 1 && r->per_page <= DESK_LIST_MAX,
                    "page %lld of %lld", (long long)r->page, (long long)r->per_page);
        break;
    case DESK_REQ_QUEUES:
        if (r->agent)
            check_text("agent", r->agent, TICKET_NAME_MAX, false);
        break;
    case DESK_REQ_CREDENTIALS:
        check_text("name", r->name, TICKET_NAME_MAX, false);
        break;
    case DESK_REQ_AGENT_ADD:
        check_text("agent", r->name, TICKET_NAME_MAX, false);
        break;
    case DESK_REQ_BACKUP:
        FUZZ_ASSERT(r->path && r->path[0], "backup to an empty path");
        break;
    case DESK_REQ_KILL:
        FUZZ_ASSERT(r->name && r->name[0], "kill of nothing");
        break;
    default:
        break;
    }
    /* The request as a line decodes to the same request. */
    const char *w[20];
    char id[32];
    int n = request_words(r, w, id, sizeof id);
    char *line = fuzz_quote_words(n, w);
    console_words_t again;
    FUZZ_ASSERT(!console_split(line, &again), "the request's line does not split: %s", line);
    desk_request_t back;
    ticket_error_t err = {.code = ""};
    FUZZ_ASSERT(desk_request_decode(again.argc, again.argv, &back, &err),
                "the request's line is refused (%s: %s): %s", err.code, err.message, line);
    FUZZ_ASSERT(same_request(r, &back), "the request's line decodes differently: %s", line);
    console_words_free(&again);
    free(line);
    /* The answer's text fields as the console writes them: JSON strings. */
    cJSON *j = cJSON_CreateObject();
    cJSON_AddItemToObject(j, "description", console_json_text(r->ticket.description));
    cJSON_AddItemToObject(j, "customer", console_json_text(r->ticket.customer));
    if (r->agent)
        cJSON_AddItemToObject(j, "agent", console_json_text(r->agent));
    if (r->path)
        cJSON_AddItemToObject(j, "backup", console_json_text(r->path));
    fuzz_check_json_answer(console_ok_json(j));
}

static void decode_line(const char *line, size_t len, void *arg)
{
    (void)arg;
    console_words_t ws;
    const char *refusal, *why;
    if (!fuzz_line_words(line, len, &ws, &refusal, &why)) {
        check_refusal(refusal, why);
        return;
    }
    desk_request_t r, before;
    memset(&r, 0xa5, sizeof r);
    before = r;
    ticket_error_t err = {.code = ""};
    bool ok = desk_request_decode(ws.argc, ws.argv, &r, &err);
    if (!ok) {
        FUZZ_ASSERT(memcmp(&r, &before, sizeof r) == 0, "a refused line (%s) changed the request",
                    err.code);
        check_refusal(err.code, err.message);
    } else {
        check_request(&r, &ws);
    }
    /* Pure: the same words, the same outcome. */
    desk_request_t again;
    ticket_error_t err_again = {.code = ""};
    bool ok_again = desk_request_decode(ws.argc, ws.argv, &again, &err_again);
    FUZZ_ASSERT(ok_again == ok, "decoded %d, then %d", ok, ok_again);
    if (ok)
        FUZZ_ASSERT(same_request(&r, &again), "the same words, another request");
    else
        FUZZ_ASSERT(strcmp(err.code, err_again.code) == 0 &&
                        strcmp(err.message, err_again.message) == 0,
                    "refused as %s, then as %s", err.code, err_again.code);
    console_words_free(&ws);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_each_line(data, size, decode_line, NULL);
    return 0;
}

/*
 * support_system: the ticket desk and its console (the course's
 * `iex -S mix` session, grown into a tool). Commands are read from standard
 * input; with --json each command answers with exactly one JSON line.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "../common/console.h"
#include "console_web.h"
#include "data_path.h"
#include "desk.h"
#include "desk_json.h"
#include "request.h"
#include "sla_timer.h"
#include "start_reports.h"
#include "web/sessions.h"

static const char usage[] =
    "usage: support_system [OPTION]...\n"
    "The SupportSystem ticket desk. Reads commands from standard input (type help).\n"
    "Options:\n"
    "  --db PATH            the SQLite file (default: $XDG_DATA_HOME/arbor-desk/desk.db,\n"
    "                       or ~/.local/share/arbor-desk/desk.db; created if need be)\n"
    "  --log PATH           the notification log (default: the database's path ending\n"
    "                       in .log); it must be writable at start\n"
    "  --json               answer each command with one line of JSON (for scripts)\n"
    "  --policy round-robin|least-loaded\n"
    "                       how assign picks an agent (default round-robin)\n"
    "  --idle-timeout MS    a ticket's process stops after MS ms without a request\n"
    "                       (1 to 86400000; default 60000)\n"
    "  --schedulers N       scheduler threads (1 to 1024; default: one per CPU)\n"
    "  --demo               add the agents alice and bob to a desk that has none\n"
    "  --sla P=TIME[,P=TIME]...\n"
    "                       the time to resolve a ticket of priority P (low, normal, high,\n"
    "                       urgent), TIME a number and s, m, h or d (default:\n"
    "                       urgent=4h,high=8h,normal=24h,low=72h)\n"
    "  --no-console         read no commands: run until SIGTERM or Ctrl-C (a service)\n"
    "  --http ADDRESS:PORT  where the web desk listens (default 127.0.0.1:4000; port 0:\n"
    "                       any free one, printed at start)\n"
    "  --no-http            no web desk\n"
    "  --web-root DIR       the dashboard's files (default: where make install put them,\n"
    "                       else the source tree's apps/support_system/web/static)\n"
    "  -h, --help           this text\n"
    "Exit status: 0 after quit, end of input or SIGTERM; 1 if it cannot start; 2 for\n"
    "a bad option; 3 when the desk's supervisor gave up (its processes were restarted\n"
    "more than 3 times in 5 s).\n"
    "Commands (a change may end with --by AGENT: who makes it; else the console; and\n"
    "with --request-id ID: retried under the same ID it is made at most once):\n"
    "  create [--customer NAME] [--priority low|normal|high|urgent] [--] DESCRIPTION\n"
    "  assign ID [AGENT]     reassign ID AGENT     unassign ID\n"
    "  pend ID               resume ID             (waiting on the customer, and back)\n"
    "  resolve ID            close ID [REASON]     reopen ID\n"
    "  edit ID [--description TEXT] [--customer NAME] [--priority P]\n"
    "  reply ID [--customer] TEXT                  note ID TEXT  (internal)\n"
    "  show ID [--history N] [--before ENTRY]\n"
    "                        the ticket and its latest N history entries (default 50, at\n"
    "                        most 1000), or the N before entry ENTRY\n"
    "  queues [--agent NAME]  (mine, unassigned, open, pending, overdue)\n"
    "  list [STATUS] [--agent NAME | --unassigned] [--overdue] [--customer NAME] [--priority P]\n"
    "       [--search WORDS] [--sort newest|oldest|priority|updated] [--page N] [--per-page N]\n"
    "  agents                agent-add NAME        agent-rename OLD NEW\n"
    "  agent-deactivate NAME agent-activate NAME   agent-available NAME on|off\n"
    "                        (each agent-* change takes --request-id ID too)\n"
    "  admin-add NAME        password-reset NAME   (the password is read next)\n"
    "  tree                  crash ID | crash store     stats\n"
    "  kill PID|NAME         send the exit signal kill to any process (tree shows pids)\n"
    "  backup PATH           copy the database to PATH while the desk runs\n"
    "  help                  quit\n"
    "Words are split as in a shell: quote text with blanks (--customer \"Acme Corp\"),\n"
    "a backslash escapes one character, and -- ends the options.\n";

typedef struct options {
    bool json;
    bool no_console;
    unsigned schedulers;
    const char *db_arg; /* --db as given; NULL: the default */
    char db[PATH_MAX];  /* the database's absolute path */
    char log[4096];
    int64_t idle_ms;
    agents_policy_t policy;
    bool demo;
    sla_policy_t sla;   /* --sla over the defaults */
    bool http;          /* the web desk runs */
    char http_host[64]; /* where it listens */
    uint16_t http_port;
    const char *web_root_option; /* --web-root, or NULL */
    char web_root[4096];         /* the dashboard's folder */
    web_t *web;
} options_t;

typedef struct console {
    const options_t *o;
    arbor_pid_t sup;
} console_t;

/* ---- answers --------------------------------------------------------------------- */

static void fail(const console_t *c, const char *code, const char *message)
{
    console_fail(c->o->json, code, message);
}

static void fail_err(const console_t *c, const ticket_error_t *e)
{
    fail(c, e->code[0] ? e->code : "error", e->message[0] ? e->message : "failed");
}

static void ok(const console_t *c, cJSON *extra, const char *text)
{
    console_ok(c->o->json, extra, text);
}

static void print_ticket(const ticket_t *t)
{
    printf("#%lld [%s, %s] %s", (long long)t->id, ticket_status_name(t->status),
           ticket_priority_name(t->priority), t->description);
    if (t->customer[0])
        printf(" (customer %s)", t->customer);
    if (t->agent[0])
        printf(" -> %s", t->agent);
    if (sla_overdue(t))
        printf(" OVERDUE");
    putchar('\n');
}

/* The SLA's line of show: the due time and whether it was breached, or
 * that the clock is paused (pending) or stopped. */
static void print_sla(const ticket_t *t)
{
    char due[TICKET_TIME_SIZE], breached[TICKET_TIME_SIZE];
    ticket_format_time(t->due_at, due);
    ticket_format_time(t->breached_at, breached);
    if (t->sla_paused)
        printf("    SLA paused while pending: %lld s left%s%s\n",
               (long long)(t->sla_left_ms / 1000), t->breached_at ? "; breached at " : "",
               t->breached_at ? breached : "");
    else if (t->due_at)
        printf("    resolution due %s%s%s\n", due, t->breached_at ? "; breached at " : "",
               t->breached_at ? breached : "");
    else if (t->breached_at)
        printf("    SLA stopped; it was breached at %s\n", breached);
}

/* One history entry: time, who (role), what; a message's text below it,
 * each of its lines indented. */
static void print_history(const store_history_t *h)
{
    char when[TICKET_TIME_SIZE];
    ticket_format_time(h->at, when);
    printf("    %s  %s (%s): %s\n", when, h->by.name, ticket_actor_kind_name(h->by.kind), h->what);
    if (h->message == STORE_NO_MESSAGE)
        return;
    for (const char *line = h->text; line;) {
        const char *end = strchr(line, '\n');
        printf("        | %.*s\n", (int)(end ? end - line : (ptrdiff_t)strlen(line)), line);
        line = end ? end + 1 : NULL;
    }
}

/* ---- parsing ----------------------------------------------------------------------- */

typedef console_words_t words_t;

/* Decodes the command's words (request.c); answers a refusal and returns
 * false. */
static bool decode(const console_t *c, const words_t *ws, desk_request_t *r)
{
    ticket_error_t err = {.code = ""};
    if (desk_request_decode(ws->argc, ws->argv, r, &err))
        return true;
    fail_err(c, &err);
    return false;
}

/* ---- the desk's end -------------------------------------------------------------------- */

/* The exit status when the desk's supervisor gave up (1: it could not
 * start, 2: a bad option). */
enum { EXIT_SUPERVISOR_GAVE_UP = 3 };

static arbor_pid_t watched_sup;

/* Waits for the desk's supervisor to end. If it did not stop normally (it
 * gave up), the console may be waiting for a line that never comes: make
 * that read return, so that the console says what happened and stops. */
static void watch_desk(void *arg)
{
    (void)arg;
    arbor_register(DESK_CONSOLE_WATCHER_NAME, arbor_self(), NULL);
    arbor_ref_t ref;
    if (arbor_monitor(watched_sup, &ref) != 0)
        return;
    for (;;) {
        arbor_msg_t *m;
        if (arbor_receive(ARBOR_INFINITY, &m) != 0)
            return;
        const arbor_down_msg_t *d = m->tag == ARBOR_TAG_DOWN ? m->data : NULL;
        bool gone = d && d->ref == ref;
        bool normal = gone && d->reason.kind == ARBOR_EXIT_NORMAL;
        arbor_msg_free(m);
        if (gone && !normal)
            console_read_abandon();
        if (gone)
            return;
    }
}

static bool exit_from(const arbor_msg_t *m, void *arg)
{
    return m->tag == ARBOR_TAG_EXIT &&
           ((const arbor_exit_msg_t *)m->data)->from == *(arbor_pid_t *)arg;
}

/* Waits up to ms for the supervisor's exit signal (the console traps
 * exits); when it came, says in why what happened and returns true. */
static bool desk_ended(arbor_pid_t sup, int64_t ms, char *why, size_t size)
{
    arbor_msg_t *m;
    if (arbor_receive_match(exit_from, &sup, ms, &m) != 0)
        return false;
    arbor_reason_t r = ((const arbor_exit_msg_t *)m->data)->reason;
    if (r.kind == ARBOR_EXIT_SHUTDOWN) {
        snprintf(why, size,
                 DESK_SUPERVISOR_NAME " gave up: its processes (the Store, the TicketSupervisor"
                                      " and those after them) were restarted more than %d times"
                                      " in %d s",
                 DESK_MAX_RESTARTS, DESK_MAX_SECONDS);
    } else {
        char reason[256];
        arbor_reason_format(&r, reason, sizeof reason);
        snprintf(why, size, DESK_SUPERVISOR_NAME " stopped: %s", reason);
    }
    arbor_msg_free(m);
    return true;
}

/* Why the desk's supervisor ended, once the console knows. */
static char desk_gone[512];

/* ---- commands ------------------------------------------------------------------------- */

static void no_such_ticket_answer(const console_t *c, int64_t id)
{
    char text[64];
    snprintf(text, sizeof text, "there is no ticket %lld", (long long)id);
    fail(c, "unknown_ticket", text);
}

/* Ticket id could not be reached (rc, not ARBOR_ENOENT): its worker, the
 * TicketSupervisor or the Store is being restarted. Whether the ticket
 * exists is not known, and so not said. */
static void unreachable_ticket_answer(const console_t *c, int64_t id, int rc)
{
    char text[256];
    snprintf(text, sizeof text,
             "ticket %lld cannot be reached now (%s): its worker, the TicketSupervisor or the"
             " Store is being restarted; nothing was changed, try again",
             (long long)id, arbor_strerror(rc));
    fail(c, "unavailable", text);
}

/* desk_get's failure as an answer: no such ticket, or unreachable. */
static void get_failed_answer(const console_t *c, int64_t id, int rc)
{
    if (rc == ARBOR_ENOENT)
        no_such_ticket_answer(c, id);
    else
        unreachable_ticket_answer(c, id, rc);
}

/* Who makes the request's change: --by AGENT, or the console's operator
 * (reply --customer: the ticket's customer, which the caller fills in). */
static ticket_actor_t actor_of(const desk_request_t *r)
{
    ticket_actor_t by = desk_operator;
    if (r->by) {
        by.kind = ACTOR_AGENT;
        snprintf(by.name, sizeof by.name, "%s", r->by);
    }
    return by;
}

/* A console change's request id: the one given (--request-id), or one
 * the console makes up ("console-" and 16 random hex digits), so that a
 * change whose outcome is unknown can always be retried safely. */
typedef struct request_id {
    char id[STORE_REQUEST_SIZE];
    bool made_up;
} request_id_t;

static void request_id_of(const desk_request_t *r, request_id_t *out)
{
    out->made_up = !r->request_id;
    if (r->request_id) {
        snprintf(out->id, sizeof out->id, "%s", r->request_id);
        return;
    }
    unsigned char bytes[8] = {0};
    if (getrandom(bytes, sizeof bytes, 0) != (ssize_t)sizeof bytes) {
        /* Unique enough within this desk's life: the clock and a count. */
        static _Atomic uint64_t count;
        uint64_t v = (uint64_t)ticket_now_ms() << 16 ^ atomic_fetch_add(&count, 1);
        memcpy(bytes, &v, sizeof bytes);
    }
    int n = snprintf(out->id, sizeof out->id, "console-");
    for (size_t i = 0; i < sizeof bytes; i++)
        n += snprintf(out->id + n, sizeof out->id - (size_t)n, "%02x", bytes[i]);
}

/* A change refused, or one whose outcome is unknown: then the answer says
 * so and how to retry it safely, with its request id (also in the JSON,
 * "request_id"). */
static void fail_change(const console_t *c, const ticket_error_t *e, const request_id_t *rid)
{
    if (strcmp(e->code, "outcome_unknown") != 0) {
        fail_err(c, e);
        return;
    }
    char text[sizeof e->message + 256];
    snprintf(text, sizeof text,
             "%s. To retry safely, repeat the command with --request-id %s: under one request id"
             " a change is made at most once (or look with show)",
             e->message, rid->id);
    if (c->o->json) {
        cJSON *j = console_error_json(e->code, text);
        cJSON_AddStringToObject(j, "request_id", rid->id);
        console_print_json(j);
    } else {
        printf("** (%s) %s\n", e->code, text);
    }
}

/* A change's ticket; with "replayed": true in JSON when the request id was
 * this change's, made before (nothing new was made). */
static void answer_change(const console_t *c, const ticket_t *t, bool replayed)
{
    if (!c->o->json) {
        if (replayed)
            printf("(made before under this request id; nothing new was made)\n");
        print_ticket(t);
        return;
    }
    /* With the latest page of the history. The change is done: a history
     * that cannot be read is said beside it ("history_error"), not as a
     * failure. */
    store_history_page_t page;
    ticket_error_t err = {.code = ""};
    bool read = store_history(t->id, 0, 0, &page, &err) == 0;
    cJSON *j = cJSON_CreateObject();
    cJSON_AddItemToObject(j, "ticket", desk_ticket_json(t, read ? &page : NULL));
    if (!read)
        cJSON_AddItemToObject(j, "history_error", console_json_text(err.message));
    else
        free(page.entries);
    if (replayed)
        cJSON_AddTrueToObject(j, "replayed");
    ok(c, j, NULL);
}

static void cmd_create(const console_t *c, words_t *ws)
{
    desk_request_t r;
    if (!decode(c, ws, &r))
        return;
    ticket_error_t err = {.code = ""};
    arbor_pid_t pid;
    ticket_actor_t by = actor_of(&r);
    request_id_t rid;
    request_id_of(&r, &rid);
    desk_once_t once = {.request_id = rid.id};
    if (desk_create_once(&r.ticket, &by, &once, &pid, &err) != 0) {
        fail_change(c, &err, &rid);
        return;
    }
    answer_change(c, &r.ticket, once.replayed);
}

/* The request's change, in process memory (it is 10 KB); NULL when out of
 * memory. */
static ticket_change_t *change_of(const desk_request_t *r)
{
    ticket_change_t *ch = arbor_alloc(sizeof *ch);
    if (!ch)
        return NULL;
    memset(ch, 0, sizeof *ch);
    ch->action = r->action;
    snprintf(ch->agent, sizeof ch->agent, "%s", r->agent ? r->agent : "");
    snprintf(ch->reason, sizeof ch->reason, "%s", r->reason);
    ch->set_description = r->set_description;
    ch->set_customer = r->set_customer;
    ch->set_priority = r->set_priority;
    snprintf(ch->description, sizeof ch->description, "%s", r->ticket.description);
    snprintf(ch->customer, sizeof ch->customer, "%s", r->ticket.customer);
    ch->priority = r->ticket.priority;
    snprintf(ch->text, sizeof ch->text, "%s", r->text);
    return ch;
}

static void cmd_act(const console_t *c, words_t *ws)
{
    desk_request_t *r = arbor_alloc(sizeof *r);
    if (!r) {
        fail(c, "unavailable", "out of memory");
        return;
    }
    ticket_t t;
    ticket_error_t err = {.code = ""};
    ticket_change_t *ch = NULL;
    if (!decode(c, ws, r))
        goto done;
    ticket_actor_t by = actor_of(r);
    if (r->by_customer) {
        /* reply --customer: written by the ticket's customer. */
        if (desk_get(r->id, &t, &err) != 0) {
            fail_err(c, &err);
            goto done;
        }
        by.kind = ACTOR_CUSTOMER;
        snprintf(by.name, sizeof by.name, "%s", t.customer);
        if (!t.customer[0]) {
            fail(c, "forbidden", "the ticket has no customer to reply as");
            goto done;
        }
    }
    request_id_t rid;
    request_id_of(r, &rid);
    desk_once_t once = {.request_id = rid.id};
    if (!(ch = change_of(r)))
        fail(c, "unavailable", "out of memory");
    else if (desk_change_once(r->id, -1, ch, &by, &once, &t, &err) != 0)
        fail_change(c, &err, &rid);
    else
        answer_change(c, &t, once.replayed);
done:
    arbor_free(ch);
    arbor_free(r);
}

static void cmd_show(const console_t *c, words_t *ws)
{
    desk_request_t r;
    if (!decode(c, ws, &r))
        return;
    ticket_t t;
    ticket_error_t err = {.code = ""};
    store_history_page_t page;
    if (desk_get(r.id, &t, &err) != 0 ||
        store_history(r.id, r.before, (size_t)r.history, &page, &err) != 0) {
        fail_err(c, &err);
        return;
    }
    if (c->o->json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddItemToObject(j, "ticket", desk_ticket_json(&t, &page));
        ok(c, j, NULL);
    } else {
        print_ticket(&t);
        print_sla(&t);
        if (page.older > 0)
            printf("    ... %lld older entr%s of %lld (show %lld --before %lld [--history N]"
                   " shows them)\n",
                   (long long)page.older, page.older == 1 ? "y" : "ies", (long long)page.total,
                   (long long)t.id, (long long)page.entries[0].id);
        for (size_t i = 0; i < page.n; i++)
            print_history(&page.entries[i]);
    }
    free(page.entries);
}

/* A page of tickets: the request's filters, order and page. One more is
 * asked for than shown, to tell whether a next page exists. */
static void cmd_list(const console_t *c, words_t *ws)
{
    desk_request_t *r = arbor_alloc(sizeof *r);
    if (!r) {
        fail(c, "unavailable", "out of memory");
        return;
    }
    if (!decode(c, ws, r)) {
        arbor_free(r);
        return;
    }
    ticket_error_t known = {.code = ""};
    if (r->agent && r->agent[0] && !desk_agent_known(r->agent, &known)) {
        fail_err(c, &known);
        arbor_free(r);
        return;
    }
    store_filter_t f = {.status = r->has_status ? &r->status : NULL,
                        .agent = r->agent,
                        .customer = r->customer_filter,
                        .priority = r->set_priority ? &r->ticket.priority : NULL,
                        .search = r->search,
                        .overdue = r->overdue,
                        .sort = (store_sort_t)r->sort,
                        .offset = (size_t)((r->page - 1) * r->per_page),
                        .limit = (size_t)r->per_page + 1};
    ticket_t *rows;
    size_t n;
    ticket_error_t err = {.code = ""};
    int64_t page = r->page;
    size_t per_page = (size_t)r->per_page;
    int rc = store_find(&f, &rows, &n, &err);
    arbor_free(r); /* f points into it */
    if (rc != 0) {
        fail_err(c, &err);
        return;
    }
    bool more = n > per_page;
    n = more ? per_page : n;
    if (c->o->json) {
        cJSON *j = cJSON_CreateObject();
        cJSON *arr = cJSON_AddArrayToObject(j, "tickets");
        for (size_t i = 0; i < n; i++)
            cJSON_AddItemToArray(arr, desk_ticket_json(&rows[i], NULL));
        cJSON_AddNumberToObject(j, "page", (double)page);
        cJSON_AddBoolToObject(j, "more", more);
        ok(c, j, NULL);
    } else {
        for (size_t i = 0; i < n; i++)
            print_ticket(&rows[i]);
        printf("%zu ticket%s%s\n", n, n == 1 ? "" : "s",
               more ? "; more on the next page (--page N)" : "");
    }
    free(rows);
}

/* The queues' sizes: mine (--agent NAME), unassigned, open, pending,
 * overdue. */
static void cmd_queues(const console_t *c, words_t *ws)
{
    desk_request_t r;
    if (!decode(c, ws, &r))
        return;
    store_queues_t q;
    ticket_error_t err = {.code = ""};
    if ((r.agent && !desk_agent_known(r.agent, &err)) || store_queues(r.agent, &q, &err) != 0) {
        fail_err(c, &err);
        return;
    }
    cJSON *j = cJSON_CreateObject();
    if (r.agent)
        cJSON_AddNumberToObject(j, "mine", (double)q.mine);
    cJSON_AddNumberToObject(j, "unassigned", (double)q.unassigned);
    cJSON_AddNumberToObject(j, "open", (double)q.open);
    cJSON_AddNumberToObject(j, "pending", (double)q.pending);
    cJSON_AddNumberToObject(j, "overdue", (double)q.overdue);
    char text[200], mine[64] = "";
    if (r.agent)
        snprintf(mine, sizeof mine, "mine %lld, ", (long long)q.mine);
    snprintf(text, sizeof text, "%sunassigned %lld, open %lld, pending %lld, overdue %lld", mine,
             (long long)q.unassigned, (long long)q.open, (long long)q.pending,
             (long long)q.overdue);
    ok(c, j, text);
}

static cJSON *agent_json(const store_agent_t *a)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddItemToObject(j, "name", console_json_text(a->name));
    cJSON_AddBoolToObject(j, "active", a->active);
    cJSON_AddBoolToObject(j, "available", a->available);
    if (a->open >= 0)
        cJSON_AddNumberToObject(j, "open", (double)a->open);
    else
        cJSON_AddNullToObject(j, "open");
    return j;
}

/* The roster: each agent's status and open load. */
static void cmd_agents(const console_t *c)
{
    store_agent_t *list;
    size_t n;
    ticket_error_t err = {.code = ""};
    if (agents_list(&list, &n, &err) != 0) {
        fail_err(c, &err);
        return;
    }
    cJSON *j = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(j, "agents");
    for (size_t i = 0; i < n; i++) {
        const store_agent_t *a = &list[i];
        cJSON_AddItemToArray(arr, agent_json(a));
        if (c->o->json)
            continue;
        printf("%-20s %-11s %-11s", a->name, a->active ? "active" : "deactivated",
               a->available ? "available" : "unavailable");
        if (a->open >= 0)
            printf(" %lld open", (long long)a->open);
        putchar('\n');
    }
    if (!c->o->json)
        printf("%zu agent%s\n", n, n == 1 ? "" : "s");
    free(list);
    ok(c, j, NULL);
}

/* A roster change's answer j says, when the request id was this change's,
 * made before (nothing new was made): "replayed": true in JSON, a line
 * first in text. */
static void say_replayed(const console_t *c, cJSON *j, bool replayed)
{
    if (!replayed)
        return;
    cJSON_AddTrueToObject(j, "replayed");
    if (!c->o->json)
        printf("(made before under this request id; nothing new was made)\n");
}

static void cmd_agent_add(const console_t *c, words_t *ws)
{
    desk_request_t r;
    if (!decode(c, ws, &r))
        return;
    ticket_error_t err = {.code = ""};
    request_id_t rid;
    request_id_of(&r, &rid);
    desk_once_t once = {.request_id = rid.id};
    if (desk_agent_add(r.name, NULL, &once, &err) != 0) {
        fail_change(c, &err, &rid);
        return;
    }
    cJSON *j = cJSON_CreateObject();
    cJSON_AddItemToObject(j, "agent", console_json_text(r.name));
    say_replayed(c, j, once.replayed);
    ok(c, j, "added");
}

static void cmd_agent_rename(const console_t *c, words_t *ws)
{
    desk_request_t r;
    if (!decode(c, ws, &r))
        return;
    ticket_error_t err = {.code = ""};
    request_id_t rid;
    request_id_of(&r, &rid);
    desk_once_t once = {.request_id = rid.id};
    store_agent_t known;
    r.name = agents_spelling(r.name, &known); /* their sessions are in that name */
    if (desk_agent_rename_once(r.name, r.new_name, &desk_operator, &once, &err) != 0) {
        fail_change(c, &err, &rid);
        return;
    }
    /* The password goes with the name; a session in the old one would act
     * as whoever is given that name next, with its role. */
    sessions_close_agent(r.name);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddItemToObject(j, "agent", console_json_text(r.new_name));
    cJSON_AddItemToObject(j, "was", console_json_text(r.name));
    say_replayed(c, j, once.replayed);
    ok(c, j, "renamed");
}

/* agent-activate, agent-deactivate (listing the agent's open tickets, to
 * be reassigned), agent-available. */
static void cmd_agent_set(const console_t *c, words_t *ws)
{
    desk_request_t r;
    if (!decode(c, ws, &r))
        return;
    ticket_error_t err = {.code = ""};
    ticket_t *open = NULL;
    size_t n = 0;
    request_id_t rid;
    request_id_of(&r, &rid);
    desk_once_t once = {.request_id = rid.id};
    store_agent_t known;
    r.name = agents_spelling(r.name, &known); /* their sessions are in that name */
    int rc = r.active == 0 ? desk_agent_deactivate_once(r.name, &once, &open, &n, &err)
                           : desk_agent_set(r.name, r.active, r.available, &once, &err);
    if (rc) {
        fail_change(c, &err, &rid);
        return;
    }
    cJSON *j = cJSON_CreateObject();
    cJSON_AddItemToObject(j, "agent", console_json_text(r.name));
    say_replayed(c, j, once.replayed);
    const char *text = r.active == 1 ? "activated" : r.available == 1 ? "available" : "unavailable";
    if (r.active == 0) {
        sessions_close_agent(r.name); /* a deactivated agent no longer signs in */
        text = "deactivated";
        cJSON *arr = cJSON_AddArrayToObject(j, "open_tickets");
        for (size_t i = 0; i < n; i++)
            cJSON_AddItemToArray(arr, desk_ticket_json(&open[i], NULL));
        if (!c->o->json) {
            printf("deactivated; %zu open ticket%s to reassign%s\n", n, n == 1 ? "" : "s",
                   n ? ":" : "");
            for (size_t i = 0; i < n; i++)
                print_ticket(&open[i]);
            text = NULL;
        }
    }
    free(open);
    ok(c, j, text);
}

static void cmd_backup(const console_t *c, words_t *ws)
{
    desk_request_t r;
    if (!decode(c, ws, &r))
        return;
    ticket_error_t err = {.code = ""};
    if (desk_same_file(r.path, c->o->log)) { /* the Store knows the database's own files */
        char why[PATH_MAX + 96];
        snprintf(why, sizeof why, "%s is the desk's notification log: back up to another file",
                 r.path);
        fail(c, "bad_argument", why);
        return;
    }
    if (store_backup(r.path, &err) != 0) {
        fail_err(c, &err);
        return;
    }
    cJSON *j = cJSON_CreateObject();
    cJSON_AddItemToObject(j, "backup", console_json_text(r.path));
    char text[64];
    snprintf(text, sizeof text, "backed up the database");
    ok(c, j, text);
}

/* After a crash of the Store: each of the top supervisor's other children
 * whose pid changed since before (rest_for_one restarted it with the
 * Store), into j's "also_restarted" ([{"name", "was", "now"}]) and text
 * (", and with it (rest_for_one) TicketRegistry as <..>, ..."). */
static void report_siblings_restarted(arbor_pid_t sup, const arbor_child_info_t *before,
                                      size_t n_before, cJSON *j, char *text, size_t size)
{
    arbor_child_info_t *after;
    size_t n_after;
    cJSON *list = cJSON_AddArrayToObject(j, "also_restarted");
    if (arbor_sup_which_children(sup, &after, &n_after) != 0)
        return;
    size_t len = 0;
    /* which_children is newest first: walk it in start order. */
    for (size_t a = n_after; a-- > 0;) {
        if (strcmp(after[a].id, "Store") == 0)
            continue;
        for (size_t b = 0; b < n_before; b++) {
            if (strcmp(before[b].id, after[a].id) != 0 || before[b].pid == after[a].pid)
                continue;
            cJSON *e = cJSON_CreateObject();
            cJSON_AddStringToObject(e, "name", after[a].id);
            cJSON_AddStringToObject(e, "was", console_pid(before[b].pid));
            cJSON_AddStringToObject(e, "now", console_pid(after[a].pid));
            cJSON_AddItemToArray(list, e);
            if (len < size)
                len += (size_t)snprintf(text + len, size - len, "%s%s as %s",
                                        len ? ", " : ", and with it (rest_for_one) ", after[a].id,
                                        console_pid(after[a].pid));
        }
    }
    free(after);
}

static bool down_of(const arbor_msg_t *m, void *ref)
{
    return m->tag == ARBOR_TAG_DOWN &&
           ((const arbor_down_msg_t *)m->data)->ref == *(arbor_ref_t *)ref;
}

/* Kills a ticket's worker or the Store and answers once its supervisor
 * has restarted it (and, for the Store, everything after it: rest_for_one).
 * The dead process told its supervisor (link) before telling us (monitor),
 * so a call to the supervisor after our DOWN is served after the restart.
 * A kill that is one restart more than the TicketSupervisor allows makes it
 * give up: SupportSystem.Supervisor restarts it with what follows it, and
 * the answer says so; one more than SupportSystem.Supervisor allows ends
 * the desk, and the answer says that. Every answer is true of the ticket:
 * one that cannot be reached now is "unavailable", never unknown. */
static void cmd_crash(const console_t *c, words_t *ws)
{
    desk_request_t r;
    if (!decode(c, ws, &r))
        return;
    arbor_pid_t old, now = ARBOR_NOPID, sup;
    int64_t id = r.id; /* 0: the Store */
    if (!id) {
        old = arbor_whereis(STORE_NAME);
        sup = c->sup;
    } else {
        /* A worker started for an unknown ticket lives until it has looked
         * in the Store: ask for the ticket first, so that there is one. */
        ticket_t t;
        ticket_error_t err = {.code = ""};
        int rc = desk_get(id, &t, &err);
        if (rc == 0)
            rc = desk_worker(id, &old);
        if (rc) {
            if (err.code[0]) /* desk_get's own answer: unknown, unavailable, the Store's */
                fail_err(c, &err);
            else
                get_failed_answer(c, id, rc);
            return;
        }
        sup = arbor_whereis(DESK_TICKET_SUP_NAME);
    }
    arbor_ref_t ref, sup_ref = 0;
    if (!old || !sup || arbor_monitor(old, &ref) != 0) {
        fail(c, "noproc", "it is not running (it is being restarted); nothing was killed");
        return;
    }
    /* A ticket's: how its supervisor ends, if it does (gave up, or was
     * killed by someone else meanwhile). */
    bool watching_sup = id && arbor_monitor(sup, &sup_ref) == 0;
    /* The top supervisor's children before the kill: rest_for_one
     * restarts those after the Store (or after a TicketSupervisor that
     * gave up) too, and the answer names each. */
    arbor_child_info_t *before = NULL;
    size_t n_before = 0;
    if (arbor_sup_which_children(c->sup, &before, &n_before) != 0)
        n_before = 0;
    arbor_exit_pid(old, ARBOR_KILL);
    arbor_msg_t *m;
    if (arbor_receive_match(down_of, &ref, ARBOR_INFINITY, &m) == 0)
        arbor_msg_free(m);
    arbor_child_counts_t counts;
    /* The TicketSupervisor answers after the worker's restart; if it
     * cannot, it ended: its DOWN says whether that restart was more than
     * it allows (it gave up: shutdown) or something else killed it. */
    bool ticket_sup_gave_up = id && arbor_dynsup_count_children(sup, &counts) != 0;
    char gave_up[300] = "";
    if (ticket_sup_gave_up) {
        arbor_reason_t why = arbor_error("unknown");
        if (watching_sup && arbor_receive_match(down_of, &sup_ref, 5000, &m) == 0) {
            why = arbor_reason_copy(&((const arbor_down_msg_t *)m->data)->reason);
            arbor_msg_free(m);
            watching_sup = false;
        }
        if (why.kind == ARBOR_EXIT_SHUTDOWN) {
            snprintf(gave_up, sizeof gave_up,
                     "that was more than the TicketSupervisor allows (%d restarts in %d s): it"
                     " gave up",
                     DESK_TICKET_MAX_RESTARTS, DESK_TICKET_MAX_SECONDS);
        } else {
            char reason[200];
            arbor_reason_format(&why, reason, sizeof reason);
            snprintf(gave_up, sizeof gave_up, "the TicketSupervisor ended meanwhile (%s)", reason);
        }
        arbor_reason_free(&why);
    }
    if (watching_sup)
        arbor_demonitor(sup_ref, ARBOR_DEMONITOR_FLUSH);
    if ((!id || ticket_sup_gave_up) && arbor_sup_count_children(c->sup, &counts) != 0 &&
        desk_ended(c->sup, 5000, desk_gone, sizeof desk_gone)) {
        /* That restart was one too many: the desk stops after this answer. */
        char text[900];
        snprintf(text, sizeof text, "killed %s; %s%s%s; the desk stops", console_pid(old), gave_up,
                 gave_up[0] ? ", and " : "", desk_gone);
        fail(c, "supervisor_gave_up", text);
        free(before);
        return;
    }
    int rc = id ? desk_worker(id, &now) : 0;
    if (!id)
        now = arbor_whereis(STORE_NAME);
    if (!now || now == old) {
        char text[256];
        snprintf(text, sizeof text, "killed %s; %s is not running again yet (%s)", console_pid(old),
                 id ? "the ticket's worker" : "the Store",
                 rc ? arbor_strerror(rc) : "not restarted");
        fail(c, "not_restarted", text);
        free(before);
        return;
    }
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "killed", console_pid(old));
    cJSON_AddStringToObject(j, "restarted", console_pid(now));
    if (id)
        cJSON_AddBoolToObject(j, "ticket_supervisor_gave_up", ticket_sup_gave_up);
    char text[1024];
    int len = ticket_sup_gave_up
                  ? snprintf(text, sizeof text,
                             "killed %s; %s, " DESK_SUPERVISOR_NAME
                             " restarted it, and it restarted the ticket's worker as %s",
                             console_pid(old), gave_up, console_pid(now))
                  : snprintf(text, sizeof text, "killed %s; its supervisor restarted it as %s",
                             console_pid(old), console_pid(now));
    if (!id || ticket_sup_gave_up)
        report_siblings_restarted(c->sup, before, n_before, j, text + len,
                                  sizeof text - (size_t)len);
    free(before);
    ok(c, j, text);
}

/* Sends the exit signal kill to one process, named by its pid as tree
 * shows it (with or without the angle brackets) or by its registered
 * name: what the web's POST /api/processes/:pid/kill does, from the
 * console. It answers at once, as the web does; tree shows the restart. */
static void cmd_kill(const console_t *c, words_t *ws)
{
    desk_request_t r;
    if (!decode(c, ws, &r))
        return;
    arbor_pid_t pid;
    if (!console_pid_parse(r.name, &pid))
        pid = arbor_whereis(r.name);
    if (!pid || !arbor_alive(pid)) {
        fail(c, "no_such_process", "there is no such process (it may have exited)");
        return;
    }
    const char *what;
    if (desk_outside_tree(pid, &what)) {
        char text[160];
        snprintf(text, sizeof text,
                 "that is %s, outside the supervision tree: nothing would restart it (quit "
                 "stops the desk)",
                 what);
        fail(c, "outside_tree", text);
        return;
    }
    arbor_process_info_t info;
    cJSON *j = console_kill(pid, &info);
    char text[256];
    snprintf(text, sizeof text, "sent kill to %s%s%s%s%s (tree shows its restart)",
             console_pid(pid), info.name[0] ? " " : "", info.name, info.label ? ", a " : "",
             info.label ? info.label : "");
    ok(c, j, text);
}

/* The notifications' figures: pending in the outbox, and how delivery
 * goes. Adds them to j as "notifications" and writes one line to text. */
static void notifications_stats(cJSON *j, char *text, size_t size)
{
    int64_t pending = -1;
    store_outbox_count(&pending, NULL);
    notifier_status_t st;
    int rc = notifier_status(&st);
    cJSON *n = cJSON_AddObjectToObject(j, "notifications");
    if (pending >= 0)
        cJSON_AddNumberToObject(n, "pending", (double)pending);
    else
        cJSON_AddNullToObject(n, "pending");
    if (rc) {
        cJSON_AddStringToObject(n, "state", "unknown");
        cJSON_AddStringToObject(n, "last_error", arbor_strerror(rc));
        snprintf(text, size, "%lld pending, the dispatcher did not answer: %s", (long long)pending,
                 arbor_strerror(rc));
        return;
    }
    cJSON_AddStringToObject(n, "sink", st.sink);
    cJSON_AddStringToObject(n, "state", !st.sink[0] ? "no_sink" : st.failing ? "failing" : "ok");
    cJSON_AddNumberToObject(n, "delivered", (double)st.delivered);
    if (st.failing) {
        time_t secs = (time_t)(st.failing_since_ms / 1000);
        struct tm tm;
        char since[32];
        strftime(since, sizeof since, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&secs, &tm));
        cJSON_AddStringToObject(n, "failing_since", since);
        cJSON_AddNumberToObject(n, "attempts", (double)st.attempts);
        cJSON_AddNumberToObject(n, "next_attempt_ms", (double)st.next_attempt_ms);
        cJSON_AddItemToObject(n, "last_error", console_json_text(st.last_error));
    } else {
        cJSON_AddNullToObject(n, "failing_since");
        cJSON_AddNullToObject(n, "last_error");
    }
    char state[320];
    notifier_status_format(&st, state, sizeof state);
    snprintf(text, size, "%lld pending; %s", (long long)pending, state);
}

/* Adds n to the number under key in obj (made if need be). */
static void add_count(cJSON *obj, const char *key, int64_t n)
{
    cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (item)
        cJSON_SetNumberValue(item, item->valuedouble + (double)n);
    else
        cJSON_AddNumberToObject(obj, key, (double)n);
}

/* Appends to text (len bytes used of size) the counts in obj, as
 * " (open 2, assigned 1)". */
static size_t append_counts(char *text, size_t len, size_t size, const cJSON *obj)
{
    const cJSON *item;
    bool first = true;
    cJSON_ArrayForEach(item, obj)
    {
        if (len < size)
            len += (size_t)snprintf(text + len, size - len, "%s%s %.0f", first ? " (" : ", ",
                                    item->string, item->valuedouble);
        first = false;
    }
    if (!first && len < size)
        len += (size_t)snprintf(text + len, size - len, ")");
    return len;
}

/* The helpdesk's figures, from the Store (a read): tickets by status and
 * by agent. Adds them to j as "tickets" ({"total", "by_status": {status:
 * n}, "by_agent": {agent: {status: n}}}) and writes one line to text. */
static void ticket_stats(cJSON *j, char *text, size_t size)
{
    store_ticket_count_t *rows;
    size_t n;
    ticket_error_t err = {.code = ""};
    if (store_ticket_counts(&rows, &n, &err) != 0) {
        cJSON_AddNullToObject(j, "tickets");
        cJSON_AddItemToObject(j, "tickets_error", console_json_text(err.message));
        snprintf(text, size, "could not be counted: %s", err.message);
        return;
    }
    cJSON *t = cJSON_AddObjectToObject(j, "tickets");
    cJSON *total = cJSON_AddNumberToObject(t, "total", 0);
    cJSON *by_status = cJSON_AddObjectToObject(t, "by_status");
    cJSON *by_agent = cJSON_AddObjectToObject(t, "by_agent");
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        const char *status = ticket_status_name(rows[i].status);
        add_count(by_status, status, rows[i].count);
        sum += (double)rows[i].count;
        if (!rows[i].agent[0])
            continue;
        cJSON *agent = cJSON_GetObjectItemCaseSensitive(by_agent, rows[i].agent);
        if (!agent)
            agent = cJSON_AddObjectToObject(by_agent, rows[i].agent);
        add_count(agent, status, rows[i].count);
    }
    free(rows);
    cJSON_SetNumberValue(total, sum);
    size_t len = (size_t)snprintf(text, size, "%.0f", sum);
    len = append_counts(text, len, size, by_status);
    cJSON *agent;
    cJSON_ArrayForEach(agent, by_agent)
    {
        if (len < size)
            len +=
                (size_t)snprintf(text + len, size - len, "%s%s",
                                 agent == by_agent->child ? "; by agent: " : ", ", agent->string);
        len = append_counts(text, len, size, agent);
    }
}

/* The SLA's times, and the timer: when it wakes next, and the breaches
 * it recorded since it started. */
static void sla_stats(const console_t *c, cJSON *j, char *text, size_t size)
{
    char policy[128], next[TICKET_TIME_SIZE] = "";
    sla_format(&c->o->sla, policy, sizeof policy);
    cJSON *o = cJSON_AddObjectToObject(j, "sla");
    cJSON_AddStringToObject(o, "policy", policy);
    sla_timer_status_t st;
    int rc = sla_timer_status(&st);
    if (rc) {
        cJSON_AddNullToObject(o, "next_due");
        snprintf(text, size, "%s; the timer did not answer: %s", policy, arbor_strerror(rc));
        return;
    }
    if (st.next_due) {
        ticket_format_time(st.next_due, next);
        cJSON_AddStringToObject(o, "next_due", next);
    } else {
        cJSON_AddNullToObject(o, "next_due");
    }
    cJSON_AddNumberToObject(o, "recorded", (double)st.recorded);
    char note[128];
    sla_timer_note(&st, note, sizeof note);
    snprintf(text, size, "%s; %s since the timer started", policy, note);
}

static void cmd_stats(const console_t *c)
{
    arbor_stats_t st;
    arbor_stats(&st);
    size_t procs = 0;
    arbor_processes(NULL, 0, &procs);
    arbor_child_info_t *kids;
    size_t n, restarts = 0;
    if (arbor_sup_which_children(c->sup, &kids, &n) == 0) {
        for (size_t i = 0; i < n; i++)
            restarts += kids[i].restarts;
        free(kids);
    }
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "processes", (double)procs);
    cJSON_AddNumberToObject(j, "stacks_in_use", (double)st.stacks_in_use);
    cJSON_AddNumberToObject(j, "stack_resident_bytes", (double)st.stack_resident_bytes);
    cJSON_AddNumberToObject(j, "top_level_restarts", (double)restarts);
    /* Since the Store last started: how well group commit is batching. */
    store_stats_t ss = {.transactions = 0};
    store_stats(&ss);
    cJSON_AddNumberToObject(j, "store_transactions", (double)ss.transactions);
    cJSON_AddNumberToObject(j, "store_changes", (double)ss.changes);
    cJSON_AddBoolToObject(j, "store_damaged", ss.damaged);
    char damage[512] = "";
    if (ss.damaged) {
        cJSON_AddItemToObject(j, "store_damage", console_json_text(ss.damage));
        cJSON_AddStringToObject(j, "store_recover", STORE_RECOVER_HINT);
        snprintf(damage, sizeof damage,
                 "store: DAMAGED (%s): changes are refused; to recover, " STORE_RECOVER_HINT "\n",
                 ss.damage);
    }
    char notes[400], tickets[2048], sla[320], text[3840];
    ticket_stats(j, tickets, sizeof tickets);
    notifications_stats(j, notes, sizeof notes);
    sla_stats(c, j, sla, sizeof sla);
    snprintf(text, sizeof text,
             "%stickets: %s\nnotifications: %s\nsla: %s\n"
             "runtime: %zu processes, %llu stacks in use (%llu KiB resident), %zu restart%s;"
             " the Store wrote %llu change%s in %llu commit%s",
             damage, tickets, notes, sla, procs, (unsigned long long)st.stacks_in_use,
             (unsigned long long)st.stack_resident_bytes / 1024, restarts, restarts == 1 ? "" : "s",
             (unsigned long long)ss.changes, ss.changes == 1 ? "" : "s",
             (unsigned long long)ss.transactions, ss.transactions == 1 ? "" : "s");
    ok(c, j, text);
}

/* The tree (desk_tree_json: the Dispatcher's delivery state, the restarts
 * rest_for_one made, each worker's ticket). */
static void cmd_tree(const console_t *c)
{
    cJSON *tree = desk_tree_json(c->sup);
    if (c->o->json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddItemToObject(j, "tree", tree);
        ok(c, j, NULL);
    } else {
        console_tree_print_json(tree);
        cJSON_Delete(tree);
    }
}

/* Runs one split command line; returns false for quit. */
static bool dispatch(const console_t *c, words_t *ws);

/* Runs one command line; returns false for quit. */
static bool run_command(const console_t *c, const char *line, size_t len)
{
    words_t ws;
    const char *why = console_check_line(line, len);
    if (why) {
        fail(c, "bad_input", why);
        return true;
    }
    /* Every command's words are checked before it runs, those of commands
     * that read none included: extra words are refused, never ignored. */
    desk_request_t r;
    why = console_split(line, &ws);
    bool refused = why || !decode(c, &ws, &r);
    if (why)
        fail(c, "bad_argument", why);
    else if (refused)
        console_words_free(&ws);
    if (refused) {
        /* admin-add and password-reset read their password next: refused,
         * they still take that line (console_skip_password). */
        if (console_reads_password(line))
            console_skip_password();
        return true;
    }
    bool more = dispatch(c, &ws);
    console_words_free(&ws);
    return more;
}

/* True when cmd names a change to a ticket (but create). */
static bool is_change(const char *cmd)
{
    for (int a = 0; a < TICKET_ACTIONS; a++)
        if (strcmp(cmd, ticket_action_name((ticket_action_t)a)) == 0)
            return true;
    return false;
}

static bool dispatch(const console_t *c, words_t *ws)
{
    if (ws->argc == 0) {
        if (c->o->json)
            ok(c, NULL, NULL); /* one line in, one answer out */
        return true;
    }
    const char *cmd = ws->argv[0];
    if (strcmp(cmd, "quit") == 0 || strcmp(cmd, "exit") == 0) {
        ok(c, NULL, "bye");
        return false;
    } else if (strcmp(cmd, "create") == 0)
        cmd_create(c, ws);
    else if (is_change(cmd))
        cmd_act(c, ws);
    else if (strcmp(cmd, "show") == 0)
        cmd_show(c, ws);
    else if (strcmp(cmd, "list") == 0)
        cmd_list(c, ws);
    else if (strcmp(cmd, "queues") == 0)
        cmd_queues(c, ws);
    else if (strcmp(cmd, "agents") == 0)
        cmd_agents(c);
    else if (strcmp(cmd, "agent-add") == 0)
        cmd_agent_add(c, ws);
    else if (strcmp(cmd, "agent-rename") == 0)
        cmd_agent_rename(c, ws);
    else if (strcmp(cmd, "admin-add") == 0)
        console_admin_add(c->o->json, ws->argc, ws->argv);
    else if (strcmp(cmd, "password-reset") == 0)
        console_password_reset(c->o->json, ws->argc, ws->argv);
    else if (strcmp(cmd, "agent-activate") == 0 || strcmp(cmd, "agent-deactivate") == 0 ||
             strcmp(cmd, "agent-available") == 0)
        cmd_agent_set(c, ws);
    else if (strcmp(cmd, "tree") == 0)
        cmd_tree(c);
    else if (strcmp(cmd, "crash") == 0)
        cmd_crash(c, ws);
    else if (strcmp(cmd, "kill") == 0)
        cmd_kill(c, ws);
    else if (strcmp(cmd, "backup") == 0)
        cmd_backup(c, ws);
    else if (strcmp(cmd, "stats") == 0)
        cmd_stats(c);
    else if (strcmp(cmd, "help") == 0) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "help", usage);
        ok(c, j, usage);
    } else {
        ticket_error_t err;
        desk_request_unknown_command(cmd, &err);
        fail_err(c, &err);
    }
    return true;
}

/* Says plainly on stderr that the desk stops and why, and stops the
 * console: the program exits with EXIT_SUPERVISOR_GAVE_UP. */
_Noreturn static void stop_without_desk(const char *db)
{
    fflush(stdout);
    fprintf(stderr,
            "support_system: %s; the desk stops. Every acknowledged change is in %s;"
            " start the desk again (under systemd, Restart=on-failure does).\n",
            desk_gone, db);
    arbor_exit(arbor_error("supervisor_gave_up"));
}

/* Why the web desk could not listen, in words, from a start's failure
 * (the HTTP server's "listen on HOST:PORT: ERROR" inside it); NULL when
 * the failure is another one. */
static const char *listen_failure(const char *text)
{
    const char *at = strstr(text, "listen on ");
    if (!at)
        return NULL;
    static const struct {
        const char *error, *words;
    } known[] = {
        {"EADDRINUSE", "the port is taken by another program"},
        {"EACCES", "a port below 1024 needs privileges"},
        {"EADDRNOTAVAIL", "the address is not one of this machine's"},
        {"ENOENT", "the name has no address"},
    };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strstr(at, known[i].error))
            return known[i].words;
    return NULL;
}

static void root(void *arg)
{
    const options_t *o = arg;
    console_t c = {.o = o};
    desk_config_t cfg = {.db_path = o->db,
                         .log_path = o->log,
                         .policy = o->policy,
                         .idle_timeout_ms = o->idle_ms,
                         .demo = o->demo,
                         .on_change = o->web ? web_ticket_changed : NULL,
                         .on_breach = o->web ? web_sla_breached : NULL,
                         .sla = &o->sla,
                         .web_start = o->web ? web_start : NULL,
                         .web_arg = o->web};
    arbor_trap_exit(true); /* the supervisor's end is a message to answer */
    arbor_register(DESK_CONSOLE_NAME, arbor_self(), NULL);
    arbor_reason_t why;
    start_reports_hold();
    int rc = desk_start(&cfg, &c.sup, &why);
    if (rc) {
        char text[512];
        arbor_reason_format(&why, text, sizeof text);
        const char *listen = o->web ? listen_failure(text) : NULL;
        start_reports_release(!listen);
        if (listen)
            fprintf(stderr,
                    "support_system: the web desk cannot listen on %s:%u: %s; choose another"
                    " address with --http, or run without the web desk (--no-http)\n",
                    o->http_host, (unsigned)o->http_port, listen);
        else
            fprintf(stderr, "support_system: cannot start: %s (%s)\n", arbor_strerror(rc), text);
        arbor_exit(arbor_error("start failed"));
    }
    start_reports_release(true);
    watched_sup = c.sup;
    arbor_pid_t watcher;
    arbor_spawn_link(watch_desk, NULL, &watcher);
    const char *prompt = console_interactive() && !o->json ? "support> " : NULL;
    if (prompt)
        printf("SupportSystem desk on %s; type help for the commands.\n", o->db);
    else
        fprintf(stderr, "support_system: the database is %s\n", o->db);
    store_stats_t ss = {.transactions = 0};
    if (store_stats(&ss) == 0 && ss.damaged)
        fprintf(prompt ? stdout : stderr,
                "support_system: %s is DAMAGED (%s): changes are refused, reads that still work"
                " are served; to recover, " STORE_RECOVER_HINT "\n",
                o->db, ss.damage);
    /* At a terminal beside the prompt; otherwise on stderr, so that the
     * answers on stdout stay one per command. */
    if (o->web)
        console_web_announce(prompt ? stdout : stderr, o->web, o->http_host, o->web_root);
    if (o->no_console)
        console_wait_stop();
    for (bool more = !o->no_console; more;) {
        size_t len;
        char *line = console_read_line(prompt, &len);
        more = line && run_command(&c, line, len);
        free(line);
        fflush(stdout);
        if (desk_gone[0] || desk_ended(c.sup, 0, desk_gone, sizeof desk_gone))
            stop_without_desk(o->db);
    }
    /* The read may have been abandoned because the supervisor ended: its
     * exit signal is on its way. */
    if (console_read_abandoned() && desk_ended(c.sup, 5000, desk_gone, sizeof desk_gone))
        stop_without_desk(o->db);
    if (console_stop_signal())
        fprintf(stderr, "support_system: %s: stopping\n", strsignal(console_stop_signal()));
    arbor_sup_stop(c.sup, ARBOR_NORMAL);
}

/* The database's path with its ".db" ending (if any) replaced by ".log". */
static void default_log_path(const char *db, char *out, size_t size)
{
    size_t len = strlen(db);
    if (len > 3 && strcmp(db + len - 3, ".db") == 0)
        len -= 3;
    snprintf(out, size, "%.*s.log", (int)len, db);
}

/* Says on stderr what is wrong with the command line; returns 2, the exit
 * status for it. */
static int bad_usage(const char *format, ...) __attribute__((format(printf, 1, 2)));
static int bad_usage(const char *format, ...)
{
    va_list ap;
    va_start(ap, format);
    fputs("support_system: ", stderr);
    vfprintf(stderr, format, ap);
    fputs(" (support_system --help lists the options)\n", stderr);
    va_end(ap);
    return 2;
}

/* The value after the option argv[*i], moving *i past it, or NULL when
 * there is none (having said so: expected names what should follow). */
static const char *option_value(int argc, char **argv, int *i, const char *expected)
{
    if (*i + 1 >= argc) {
        bad_usage("%s: expected %s after it", argv[*i], expected);
        return NULL;
    }
    return argv[++*i];
}

/* Reads the command line into *o. Returns -1 to go on, or the exit status
 * to stop with: 0 after --help, 2 for a bad option (said on stderr). */
static int parse_options(int argc, char **argv, options_t *o)
{
    long long n;
    const char *v;
    const char *seen[32]; /* the options given so far: each is given once */
    size_t n_seen = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] == '-' && strcmp(a, "-h") != 0 && strcmp(a, "--help") != 0) {
            for (size_t k = 0; k < n_seen; k++)
                if (strcmp(seen[k], a) == 0)
                    return bad_usage("%s: given twice (an option is given once)", a);
            if (n_seen < sizeof seen / sizeof seen[0])
                seen[n_seen++] = a;
        }
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(usage, stdout);
            return 0;
        } else if (strcmp(a, "--json") == 0) {
            o->json = true;
        } else if (strcmp(a, "--demo") == 0) {
            o->demo = true;
        } else if (strcmp(a, "--no-console") == 0) {
            o->no_console = true;
        } else if (strcmp(a, "--no-http") == 0) {
            o->http = false;
        } else if (strcmp(a, "--http") == 0) {
            if (!(v = option_value(argc, argv, &i, "ADDRESS:PORT")))
                return 2;
            if (!console_web_option(v, o->http_host, sizeof o->http_host, &o->http_port))
                return 2;
            o->http = true;
        } else if (strcmp(a, "--web-root") == 0) {
            if (!(v = option_value(argc, argv, &i, "a directory")))
                return 2;
            o->web_root_option = v;
        } else if (strcmp(a, "--db") == 0) {
            if (!(v = option_value(argc, argv, &i, "a path")))
                return 2;
            if (!v[0])
                return bad_usage("--db '': expected a path");
            o->db_arg = v;
        } else if (strcmp(a, "--log") == 0) {
            if (!(v = option_value(argc, argv, &i, "a path")))
                return 2;
            if (!v[0] || strlen(v) >= sizeof o->log)
                return bad_usage("--log '%.64s': expected a path of 1 to %zu bytes", v,
                                 sizeof o->log - 1);
            snprintf(o->log, sizeof o->log, "%s", v);
        } else if (strcmp(a, "--schedulers") == 0) {
            if (!(v = option_value(argc, argv, &i, "a number from 1 to 1024")))
                return 2;
            if (!console_option_number("support_system", a, v, 1, 1024, &n))
                return 2;
            o->schedulers = (unsigned)n;
        } else if (strcmp(a, "--idle-timeout") == 0) {
            if (!(v = option_value(argc, argv, &i, "milliseconds, from 1 to 86400000")))
                return 2;
            if (!console_option_number("support_system", a, v, 1, 86400000, &n))
                return 2;
            o->idle_ms = n;
        } else if (strcmp(a, "--sla") == 0) {
            char why[160];
            if (!(v = option_value(argc, argv, &i, "PRIORITY=TIME[,...] (urgent=4h,normal=1d)")))
                return 2;
            if (!sla_parse(v, &o->sla, why, sizeof why))
                return bad_usage("--sla %.64s: %s", v, why);
        } else if (strcmp(a, "--policy") == 0) {
            if (!(v = option_value(argc, argv, &i, "round-robin or least-loaded")))
                return 2;
            if (strcmp(v, "round-robin") == 0)
                o->policy = POLICY_ROUND_ROBIN;
            else if (strcmp(v, "least-loaded") == 0)
                o->policy = POLICY_LEAST_LOADED;
            else
                return bad_usage("--policy %s: expected round-robin or least-loaded", v);
        } else if (a[0] == '-') {
            return bad_usage("%s: unknown option", a);
        } else {
            return bad_usage("%s: unexpected argument (the desk takes only options)", a);
        }
    }
    return -1;
}

int main(int argc, char **argv)
{
    options_t o = {.idle_ms = 60000,
                   .sla = sla_default_policy,
                   .http = true,
                   .http_host = WEB_DEFAULT_HOST,
                   .http_port = WEB_DEFAULT_PORT};
    int status = parse_options(argc, argv, &o);
    if (status >= 0)
        return status;
    /* The database by its absolute path, which the desk shows: run from
     * any directory, the default is the same file. */
    char why_db[8192];
    if (!o.db_arg && desk_default_db_path(o.db, sizeof o.db, why_db, sizeof why_db) != 0) {
        fprintf(stderr, "support_system: %s\n", why_db);
        return 1;
    }
    if (o.db_arg && desk_absolute_path(o.db_arg, o.db, sizeof o.db) != 0) {
        fprintf(stderr, "support_system: cannot use the database %s: %s\n", o.db_arg,
                errno == ENOENT ? "its directory does not exist" : strerror(errno));
        return 1;
    }
    /* First, before the log beside it is made or the database locked: a
     * file that is not the desk's database is left as it is. */
    if (store_check_file(o.db, why_db, sizeof why_db) != 0) {
        fprintf(stderr, "support_system: %s; nothing was changed in it\n", why_db);
        return 1;
    }
    if (!o.log[0])
        default_log_path(o.db, o.log, sizeof o.log);
    if (desk_db_own_file(o.db, o.log)) {
        fprintf(stderr,
                "support_system: --log %s is the database or a file SQLite keeps beside it:"
                " choose another file for the notification log\n",
                o.log);
        return 1;
    }
    /* A log that cannot be written would only fail later, in the
     * Dispatcher's back-off: refuse it now, before anything starts. */
    char why_log[8192];
    if (notifier_log_check(o.log, why_log, sizeof why_log) != 0) {
        fprintf(stderr, "support_system: %s\n", why_log);
        return 1;
    }
    char why_locked[8192];
    if (desk_lock(o.db, why_locked, sizeof why_locked) != 0) {
        fprintf(stderr, "support_system: %s\n", why_locked);
        return 1;
    }
    console_init();
    console_web_root(o.web_root_option, o.web_root, sizeof o.web_root);
    web_config_t web = {.host = o.http_host, .port = o.http_port, .root = o.web_root};
    if (o.http && web_new(&web, &o.web) != 0) {
        fprintf(stderr, "support_system: cannot make the web desk: out of memory\n");
        return 1;
    }
    arbor_config_t cfg = {.schedulers = o.schedulers};
    arbor_reason_t why;
    int rc = arbor_run(&cfg, root, &o, &why);
    web_free(o.web);
    if (rc) {
        fprintf(stderr, "support_system: %s\n", arbor_strerror(rc));
        return 1;
    }
    if (why.kind == ARBOR_EXIT_NORMAL)
        return 0;
    return strcmp(why.detail, "supervisor_gave_up") == 0 ? EXIT_SUPERVISOR_GAVE_UP : 1;
}

/*
 * support_system: the ticket desk and its console (the course's
 * `iex -S mix` session, grown into a tool). Commands are read from standard
 * input; with --json each command answers with exactly one JSON line.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "../common/console.h"
#include "console_web.h"
#include "desk.h"
#include "desk_json.h"
#include "request.h"

static const char usage[] =
    "usage: support_system [--json] [--db PATH] [--log PATH] [--schedulers N] [--demo]\n"
    "                      [--idle-timeout MS] [--policy round-robin|least-loaded]\n"
    "                      [--http ADDRESS:PORT | --no-http] [--web-root DIR]\n"
    "  --db PATH   the SQLite file (default var/support_system.db)\n"
    "  --log PATH  the notification log (default: the database's path ending in .log);\n"
    "              it must be writable at start\n"
    "  --demo      add the agents alice and bob to a desk that has none\n"
    "  --http ADDRESS:PORT  where the web desk listens (default 127.0.0.1:4000; port 0:\n"
    "              any free one, printed at start); --no-http: no web desk\n"
    "  --web-root DIR  the dashboard's files (default: where make install put them,\n"
    "              else the source tree's apps/support_system/web/static)\n"
    "Commands (a change may end with --by AGENT: who makes it; else the console):\n"
    "  create [--customer NAME] [--priority low|normal|high|urgent] [--] DESCRIPTION\n"
    "  assign ID [AGENT]     reassign ID AGENT     unassign ID\n"
    "  pend ID               resume ID             (waiting on the customer, and back)\n"
    "  resolve ID            close ID [REASON]     reopen ID\n"
    "  edit ID [--description TEXT] [--customer NAME] [--priority P]\n"
    "  reply ID [--customer] TEXT                  note ID TEXT  (internal)\n"
    "  show ID               queues [--agent NAME]  (mine, unassigned, open, pending)\n"
    "  list [STATUS] [--agent NAME | --unassigned] [--customer NAME] [--priority P]\n"
    "       [--search WORDS] [--sort newest|oldest|priority|updated] [--page N] [--per-page N]\n"
    "  agents                agent-add NAME        agent-rename OLD NEW\n"
    "  agent-deactivate NAME agent-activate NAME   agent-available NAME on|off\n"
    "  admin-add NAME        password-reset NAME   (the password is read next)\n"
    "  tree                  crash ID | crash store     stats\n"
    "  backup PATH           copy the database to PATH while the desk runs\n"
    "  help                  quit\n"
    "Words are split as in a shell: quote text with blanks (--customer \"Acme Corp\"),\n"
    "a backslash escapes one character, and -- ends the options.\n";

typedef struct options {
    bool json;
    unsigned schedulers;
    const char *db;
    char log[4096];
    int64_t idle_ms;
    agents_policy_t policy;
    bool demo;
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
    putchar('\n');
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

static void answer_ticket(const console_t *c, const ticket_t *t, bool history)
{
    if (c->o->json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddItemToObject(j, "ticket", desk_ticket_json(t, true));
        ok(c, j, NULL);
        return;
    }
    print_ticket(t);
    store_history_t *rows;
    size_t n;
    if (history && store_history(t->id, &rows, &n) == 0) {
        for (size_t i = 0; i < n; i++)
            print_history(&rows[i]);
        free(rows);
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

/* ---- commands ------------------------------------------------------------------------- */

static void no_such_ticket_answer(const console_t *c, int64_t id)
{
    char text[64];
    snprintf(text, sizeof text, "there is no ticket %lld", (long long)id);
    fail(c, "unknown_ticket", text);
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

static void cmd_create(const console_t *c, words_t *ws)
{
    desk_request_t r;
    if (!decode(c, ws, &r))
        return;
    ticket_error_t err = {.code = ""};
    arbor_pid_t pid;
    ticket_actor_t by = actor_of(&r);
    if (desk_create(&r.ticket, &by, &pid, &err) != 0) {
        fail_err(c, &err);
        return;
    }
    answer_ticket(c, &r.ticket, false);
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
        if (desk_get(r->id, &t) != 0) {
            no_such_ticket_answer(c, r->id);
            goto done;
        }
        by.kind = ACTOR_CUSTOMER;
        snprintf(by.name, sizeof by.name, "%s", t.customer);
        if (!t.customer[0]) {
            fail(c, "forbidden", "the ticket has no customer to reply as");
            goto done;
        }
    }
    if (!(ch = change_of(r)))
        fail(c, "unavailable", "out of memory");
    else if (desk_change(r->id, ch, &by, &t, &err) != 0)
        fail_err(c, &err);
    else
        answer_ticket(c, &t, false);
done:
    arbor_free(ch);
    arbor_free(r);
}

static void cmd_show(const console_t *c, words_t *ws)
{
    desk_request_t r;
    if (!decode(c, ws, &r))
        return;
    int64_t id = r.id;
    ticket_t t;
    int rc = desk_get(id, &t);
    if (rc) {
        ticket_error_t err = {.code = ""};
        snprintf(err.code, sizeof err.code, rc == ARBOR_ENOENT ? "unknown_ticket" : "unavailable");
        snprintf(err.message, sizeof err.message, "there is no ticket %lld", (long long)id);
        fail_err(c, &err);
        return;
    }
    answer_ticket(c, &t, true);
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
    store_filter_t f = {.status = r->has_status ? &r->status : NULL,
                        .agent = r->agent,
                        .customer = r->customer_filter,
                        .priority = r->set_priority ? &r->ticket.priority : NULL,
                        .search = r->search,
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
            cJSON_AddItemToArray(arr, desk_ticket_json(&rows[i], false));
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

/* The queues' sizes: mine (--agent NAME), unassigned, open, pending. */
static void cmd_queues(const console_t *c, words_t *ws)
{
    desk_request_t r;
    if (!decode(c, ws, &r))
        return;
    store_queues_t q;
    int rc = store_queues(r.agent, &q);
    if (rc) {
        fail(c, "unavailable", arbor_strerror(rc));
        return;
    }
    cJSON *j = cJSON_CreateObject();
    if (r.agent)
        cJSON_AddNumberToObject(j, "mine", (double)q.mine);
    cJSON_AddNumberToObject(j, "unassigned", (double)q.unassigned);
    cJSON_AddNumberToObject(j, "open", (double)q.open);
    cJSON_AddNumberToObject(j, "pending", (double)q.pending);
    char text[160], mine[64] = "";
    if (r.agent)
        snprintf(mine, sizeof mine, "mine %lld, ", (long long)q.mine);
    snprintf(text, sizeof text, "%sunassigned %lld, open %lld, pending %lld", mine,
             (long long)q.unassigned, (long long)q.open, (long long)q.pending);
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
    int rc = agents_list(&list, &n);
    if (rc) {
        fail(c, "unavailable", arbor_strerror(rc));
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

static void cmd_agent_add(const console_t *c, words_t *ws)
{
    desk_request_t r;
    if (!decode(c, ws, &r))
        return;
    ticket_error_t err = {.code = ""};
    if (agents_add(r.name, &err) != 0) {
        fail_err(c, &err);
        return;
    }
    cJSON *j = cJSON_CreateObject();
    cJSON_AddItemToObject(j, "agent", console_json_text(r.name));
    ok(c, j, "added");
}

static void cmd_agent_rename(const console_t *c, words_t *ws)
{
    desk_request_t r;
    if (!decode(c, ws, &r))
        return;
    ticket_error_t err = {.code = ""};
    if (desk_agent_rename(r.name, r.new_name, &desk_operator, &err) != 0) {
        fail_err(c, &err);
        return;
    }
    cJSON *j = cJSON_CreateObject();
    cJSON_AddItemToObject(j, "agent", console_json_text(r.new_name));
    cJSON_AddItemToObject(j, "was", console_json_text(r.name));
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
    int rc = r.active == 0 ? desk_agent_deactivate(r.name, &open, &n, &err)
                           : agents_set(r.name, r.active, r.available, &err);
    if (rc) {
        fail_err(c, &err);
        return;
    }
    cJSON *j = cJSON_CreateObject();
    cJSON_AddItemToObject(j, "agent", console_json_text(r.name));
    const char *text = r.active == 1 ? "activated" : r.available == 1 ? "available" : "unavailable";
    if (r.active == 0) {
        text = "deactivated";
        cJSON *arr = cJSON_AddArrayToObject(j, "open_tickets");
        for (size_t i = 0; i < n; i++)
            cJSON_AddItemToArray(arr, desk_ticket_json(&open[i], false));
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

/* Kills a ticket's worker or the Store and answers once its supervisor
 * has restarted it (and, for the Store, everything after it: rest_for_one).
 * The dead process told its supervisor (link) before telling us (monitor),
 * so a call to the supervisor after our DOWN is served after the restart. */
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
        if (desk_get(id, &t) == ARBOR_ENOENT || desk_worker(id, &old) != 0) {
            no_such_ticket_answer(c, id);
            return;
        }
        sup = arbor_whereis(DESK_TICKET_SUP_NAME);
    }
    arbor_ref_t ref;
    if (!old || arbor_monitor(old, &ref) != 0) {
        fail(c, "noproc", "it is not running");
        return;
    }
    arbor_exit_pid(old, ARBOR_KILL);
    arbor_msg_t *m;
    while (arbor_receive(ARBOR_INFINITY, &m) == 0) {
        bool down = m->tag == ARBOR_TAG_DOWN && ((arbor_down_msg_t *)m->data)->ref == ref;
        arbor_msg_free(m);
        if (down)
            break;
    }
    arbor_child_counts_t counts;
    if (id)
        arbor_dynsup_count_children(sup, &counts); /* returns after the restart */
    else
        arbor_sup_count_children(sup, &counts);
    if (id)
        desk_worker(id, &now);
    else
        now = arbor_whereis(STORE_NAME);
    if (!now || now == old) {
        fail(c, "not_restarted", "it did not come back");
        return;
    }
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "killed", console_pid(old));
    cJSON_AddStringToObject(j, "restarted", console_pid(now));
    char text[96];
    snprintf(text, sizeof text, "killed %s; its supervisor restarted it as %s", console_pid(old),
             console_pid(now));
    ok(c, j, text);
}

/* The notifications' figures: pending in the outbox, and how delivery
 * goes. Adds them to j as "notifications" and writes one line to text. */
static void notifications_stats(cJSON *j, char *text, size_t size)
{
    int64_t pending = -1;
    store_outbox_count(&pending);
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
    store_stats_t ss = {0, 0};
    store_stats(&ss);
    cJSON_AddNumberToObject(j, "store_transactions", (double)ss.transactions);
    cJSON_AddNumberToObject(j, "store_changes", (double)ss.changes);
    char notes[400], text[640];
    notifications_stats(j, notes, sizeof notes);
    snprintf(text, sizeof text,
             "%zu processes, %llu stacks in use (%llu KiB resident), %zu restarts;"
             " the Store wrote %llu changes in %llu commits\nnotifications: %s",
             procs, (unsigned long long)st.stacks_in_use,
             (unsigned long long)st.stack_resident_bytes / 1024, restarts,
             (unsigned long long)ss.changes, (unsigned long long)ss.transactions, notes);
    ok(c, j, text);
}

/* The tree, with the Dispatcher's delivery state beside it. */
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
    why = console_split(line, &ws);
    if (why) {
        fail(c, "bad_argument", why);
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
    else if (strcmp(cmd, "backup") == 0)
        cmd_backup(c, ws);
    else if (strcmp(cmd, "stats") == 0)
        cmd_stats(c);
    else if (strcmp(cmd, "help") == 0) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "help", usage);
        ok(c, j, usage);
    } else
        fail(c, "unknown_command", "unknown command (try: help)");
    return true;
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
                         .web_start = o->web ? web_start : NULL,
                         .web_arg = o->web};
    arbor_reason_t why;
    /* Trapping exits while the tree starts: a failed start then answers
     * its reason here (and leaves no exit message behind) instead of
     * killing this process through the link before it can say why. */
    bool trapped = arbor_trap_exit(true);
    int rc = desk_start(&cfg, &c.sup, &why);
    arbor_trap_exit(trapped);
    if (rc) {
        char text[512];
        arbor_reason_format(&why, text, sizeof text);
        fprintf(stderr, "support_system: cannot start: %s (%s)\n", arbor_strerror(rc), text);
        if (o->web && strstr(text, "ADDRINUSE"))
            fprintf(stderr,
                    "support_system: %s:%u is taken by another program: choose another"
                    " port with --http, or run without the web desk (--no-http)\n",
                    o->http_host, (unsigned)o->http_port);
        arbor_exit(arbor_error("start failed"));
    }
    const char *prompt = console_interactive() && !o->json ? "support> " : NULL;
    if (prompt)
        printf("SupportSystem desk on %s; type help for the commands.\n", o->db);
    /* At a terminal beside the prompt; otherwise on stderr, so that the
     * answers on stdout stay one per command. */
    if (o->web)
        console_web_announce(prompt ? stdout : stderr, o->web, o->http_host, o->web_root);
    for (;;) {
        size_t len;
        char *line = console_read_line(prompt, &len);
        bool more = line && run_command(&c, line, len);
        free(line);
        if (!more)
            break;
        fflush(stdout);
    }
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

int main(int argc, char **argv)
{
    options_t o = {.db = "var/support_system.db",
                   .idle_ms = 60000,
                   .http = true,
                   .http_host = WEB_DEFAULT_HOST,
                   .http_port = WEB_DEFAULT_PORT};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--json") == 0)
            o.json = true;
        else if (strcmp(a, "--demo") == 0)
            o.demo = true;
        else if (strcmp(a, "--no-http") == 0)
            o.http = false;
        else if (strcmp(a, "--web-root") == 0 && v)
            o.web_root_option = argv[++i];
        else if (strcmp(a, "--http") == 0 && v) {
            if (!console_web_option(argv[++i], o.http_host, sizeof o.http_host, &o.http_port))
                return 2;
            o.http = true;
        } else if (strcmp(a, "--db") == 0 && v)
            o.db = argv[++i];
        else if (strcmp(a, "--log") == 0 && v && strlen(v) < sizeof o.log)
            snprintf(o.log, sizeof o.log, "%s", argv[++i]);
        else if (strcmp(a, "--schedulers") == 0 && v) {
            long long n;
            if (!console_option_number("support_system", a, argv[++i], 1, 1024, &n))
                return 2;
            o.schedulers = (unsigned)n;
        } else if (strcmp(a, "--idle-timeout") == 0 && v) {
            long long ms;
            if (!console_option_number("support_system", a, argv[++i], 1, 86400000, &ms))
                return 2;
            o.idle_ms = ms;
        } else if (strcmp(a, "--policy") == 0 && v && strcmp(v, "least-loaded") == 0) {
            o.policy = POLICY_LEAST_LOADED;
            i++;
        } else if (strcmp(a, "--policy") == 0 && v && strcmp(v, "round-robin") == 0) {
            o.policy = POLICY_ROUND_ROBIN;
            i++;
        } else {
            bool help = strcmp(a, "--help") == 0;
            fputs(usage, help ? stdout : stderr);
            return help ? 0 : 2;
        }
    }
    if (strcmp(o.db, "var/support_system.db") == 0)
        mkdir("var", 0755); /* the default lives under var/ */
    if (!o.log[0])
        default_log_path(o.db, o.log, sizeof o.log);
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
    return why.kind == ARBOR_EXIT_NORMAL ? 0 : 1;
}

/*
 * The desk's things as JSON (desk_json.h).
 */
#include "desk_json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/console.h"
#include "sla_timer.h"

static cJSON *time_json(int64_t ms)
{
    char when[TICKET_TIME_SIZE];
    ticket_format_time(ms, when);
    return cJSON_CreateString(when);
}

static const char *const message_kinds[] = {"event", "reply", "note"};

static cJSON *history_json(const store_history_t *h)
{
    cJSON *e = cJSON_CreateObject();
    cJSON_AddNumberToObject(e, "id", (double)h->id);
    cJSON_AddItemToObject(e, "at", time_json(h->at));
    cJSON_AddItemToObject(e, "who", console_json_text(h->by.name));
    cJSON_AddStringToObject(e, "role", ticket_actor_kind_name(h->by.kind));
    cJSON_AddItemToObject(e, "what", console_json_text(h->what));
    cJSON_AddStringToObject(e, "kind", message_kinds[h->message]);
    if (h->message != STORE_NO_MESSAGE)
        cJSON_AddItemToObject(e, "text", console_json_text(h->text));
    return e;
}

/* An integer as JSON: its digits, as a raw node. cJSON 1.7.15 prints a
 * number with "%1.15g" and reads it back with sscanf to check it, some
 * thousands of instructions; the digits are the same text for any integer
 * below 10^15 (and exact beyond). */
static cJSON *integer_json(int64_t n)
{
    char digits[24], *p = digits + sizeof digits;
    uint64_t u = n < 0 ? 0 - (uint64_t)n : (uint64_t)n;
    *--p = '\0';
    do
        *--p = (char)('0' + u % 10);
    while (u /= 10);
    if (n < 0)
        *--p = '-';
    return cJSON_CreateRaw(p);
}

/* A ticket is made often (each answer about it and each event), so its
 * keys and its priority and status names are constants that cJSON
 * references rather than copies. */
cJSON *desk_ticket_json(const ticket_t *t, const store_history_page_t *history)
{
    cJSON *j = cJSON_CreateObject();
    if (!j)
        return NULL;
    cJSON_AddItemToObjectCS(j, "id", integer_json(t->id));
    cJSON_AddItemToObjectCS(j, "description", console_json_text(t->description));
    cJSON_AddItemToObjectCS(j, "customer", console_json_text(t->customer));
    cJSON_AddItemToObjectCS(j, "priority",
                            cJSON_CreateStringReference(ticket_priority_name(t->priority)));
    cJSON_AddItemToObjectCS(j, "status",
                            cJSON_CreateStringReference(ticket_status_name(t->status)));
    cJSON_AddItemToObjectCS(j, "agent",
                            t->agent[0] ? console_json_text(t->agent) : cJSON_CreateNull());
    cJSON_AddItemToObjectCS(j, "created_at", time_json(t->created_at));
    cJSON_AddItemToObjectCS(j, "updated_at", time_json(t->updated_at));
    cJSON_AddItemToObjectCS(j, "version", integer_json(t->version));
    /* The SLA (sla.h): the due time while the clock runs, what is left
     * while pending paused it, the breach, and whether it is overdue. */
    cJSON_AddItemToObjectCS(j, "due_at", t->due_at ? time_json(t->due_at) : cJSON_CreateNull());
    cJSON_AddItemToObjectCS(
        j, "sla_left_s", t->sla_paused ? integer_json(t->sla_left_ms / 1000) : cJSON_CreateNull());
    cJSON_AddItemToObjectCS(j, "breached", cJSON_CreateBool(t->breached_at != 0));
    cJSON_AddItemToObjectCS(j, "breached_at",
                            t->breached_at ? time_json(t->breached_at) : cJSON_CreateNull());
    cJSON_AddItemToObjectCS(j, "overdue", cJSON_CreateBool(sla_overdue(t)));
    if (history) {
        cJSON *h = cJSON_AddArrayToObject(j, "history");
        for (size_t i = 0; i < history->n; i++)
            cJSON_AddItemToArray(h, history_json(&history->entries[i]));
        cJSON_AddNumberToObject(j, "history_total", (double)history->total);
        cJSON_AddNumberToObject(j, "history_older", (double)history->older);
    }
    return j;
}

/* The node named name in a tree drawn by console_tree_json, or NULL. */
static cJSON *tree_node(cJSON *node, const char *name)
{
    const char *n = cJSON_GetStringValue(cJSON_GetObjectItem(node, "name"));
    if (n && strcmp(n, name) == 0)
        return node;
    cJSON *child;
    cJSON_ArrayForEach(child, cJSON_GetObjectItem(node, "children"))
    {
        cJSON *found = tree_node(child, name);
        if (found)
            return found;
    }
    return NULL;
}

/* The top supervisor is rest_for_one: each restart of a child restarts
 * the children after it too. A child's own count (arbor_child_info_t)
 * counts only its own failures; here "restarts" becomes every time it was
 * started again, its own and its elder siblings' ("own_restarts" keeps
 * its own), and a note says how many came with an elder. */
static void count_rest_for_one(cJSON *tree)
{
    double elders = 0;
    cJSON *child;
    cJSON_ArrayForEach(child, cJSON_GetObjectItem(tree, "children"))
    {
        cJSON *restarts = cJSON_GetObjectItem(child, "restarts");
        if (!restarts)
            continue;
        double own = restarts->valuedouble;
        cJSON_AddNumberToObject(child, "own_restarts", own);
        cJSON_SetNumberValue(restarts, own + elders);
        if (elders > 0) {
            char note[96];
            snprintf(note, sizeof note, "%.0f with an elder sibling: rest_for_one", elders);
            cJSON_AddItemToObject(child, "note", cJSON_CreateString(note));
        }
        elders += own;
    }
}

/* A worker by the pid text the tree shows. */
typedef struct named_pid {
    char text[32];
    arbor_pid_t pid;
} named_pid_t;

static int by_text(const void *a, const void *b)
{
    return strcmp(((const named_pid_t *)a)->text, ((const named_pid_t *)b)->text);
}

/* The tree itself is read from the runtime's tables; its notes are asked
 * of the processes they describe, all within one second: a process that
 * is busy (a worker in a long call, the Store writing a batch) costs the
 * tree at most what is left of it, and its node goes without a note. */
#define TREE_NOTES_MS 1000

/* What is left until deadline (arbor_now_ms()'s clock), at least 0: a
 * call with 0 left times out at once. */
static int64_t left_until(uint64_t deadline)
{
    uint64_t now = arbor_now_ms();
    return now < deadline ? (int64_t)(deadline - now) : 0;
}

static double ticket_of(const cJSON *node)
{
    const cJSON *ticket = cJSON_GetObjectItem(node, "ticket");
    return cJSON_IsNumber(ticket) ? ticket->valuedouble : -1;
}

/* By ticket, a worker that holds none (starting, or gone) last. */
static int by_ticket(const void *a, const void *b)
{
    double x = ticket_of(*(cJSON *const *)a), y = ticket_of(*(cJSON *const *)b);
    if (x < 0 || y < 0)
        return (x < 0) - (y < 0);
    return (x > y) - (x < y);
}

/* Orders the workers' nodes by their tickets: a DynamicSupervisor's
 * children have no order (OTP's neither), and a person looks for a
 * ticket by its number. */
static void sort_by_ticket(cJSON *children)
{
    int n = cJSON_GetArraySize(children);
    cJSON **nodes = n > 1 ? arbor_alloc((size_t)n * sizeof *nodes) : NULL;
    if (!nodes)
        return;
    for (int i = 0; i < n; i++)
        nodes[i] = cJSON_DetachItemFromArray(children, 0);
    qsort(nodes, (size_t)n, sizeof *nodes, by_ticket);
    for (int i = 0; i < n; i++)
        cJSON_AddItemToArray(children, nodes[i]);
    arbor_free(nodes);
}

/* Each ticket worker's node under the TicketSupervisor gets the ticket it
 * holds, "ticket": its id, from the key the worker holds in the
 * TicketRegistry (the registry's tables, no message); and a "note", the
 * worker's own status text. A worker too busy to say before deadline, or
 * gone since the tree was drawn, gets no note. The nodes end in the
 * order of their tickets. */
static void name_tickets(cJSON *tree, uint64_t deadline)
{
    cJSON *ticket_sup = tree_node(tree, "TicketSupervisor");
    arbor_pid_t sup = arbor_whereis(DESK_TICKET_SUP_NAME);
    arbor_child_info_t *kids;
    size_t n;
    if (!ticket_sup || !sup || arbor_sup_children_snapshot(sup, &kids, &n) != 0)
        return;
    /* The tree names its workers by pid text: find each by it. Held
     * across calls to the workers: in this process's memory, so that a
     * web connection killed meanwhile leaks nothing. */
    named_pid_t *workers = arbor_alloc((n ? n : 1) * sizeof *workers);
    for (size_t i = 0; workers && i < n; i++) {
        workers[i].pid = kids[i].pid;
        arbor_pid_format(kids[i].pid, workers[i].text, sizeof workers[i].text);
    }
    free(kids);
    if (!workers)
        return;
    qsort(workers, n, sizeof *workers, by_text);
    cJSON *node;
    cJSON_ArrayForEach(node, cJSON_GetObjectItem(ticket_sup, "children"))
    {
        named_pid_t key = {.pid = ARBOR_NOPID};
        const char *text = cJSON_GetStringValue(cJSON_GetObjectItem(node, "pid"));
        snprintf(key.text, sizeof key.text, "%s", text ? text : "");
        const named_pid_t *w = bsearch(&key, workers, n, sizeof *workers, by_text);
        int64_t id;
        if (!w || !w->pid)
            continue;
        if (desk_worker_ticket(w->pid, &id) == 0)
            cJSON_AddNumberToObject(node, "ticket", (double)id);
        char status[ARBOR_GS_STATUS_MAX];
        int64_t left = left_until(deadline);
        if (left > 0 && arbor_gs_get_status(w->pid, status, sizeof status, left) == 0)
            cJSON_AddItemToObject(node, "note", console_json_text(status));
    }
    arbor_free(workers);
    sort_by_ticket(cJSON_GetObjectItem(ticket_sup, "children"));
}

/* The Dispatcher's delivery state goes beside it: a failing sink is not a
 * crash, so no restart count shows it; the SlaTimer says when it wakes
 * next; the restarts that rest_for_one made are counted, and each worker
 * shows its ticket. */
cJSON *desk_tree_json(arbor_pid_t sup)
{
    uint64_t deadline = arbor_now_ms() + TREE_NOTES_MS;
    cJSON *tree = console_tree_json(sup, DESK_SUPERVISOR_NAME, false);
    count_rest_for_one(tree);
    name_tickets(tree, deadline);
    cJSON *store = tree_node(tree, "Store");
    store_stats_t ss;
    if (store && store_stats_within(&ss, left_until(deadline)) == 0 && ss.damaged) {
        char note[320];
        snprintf(note, sizeof note, "DAMAGED (%s): changes are refused; see stats", ss.damage);
        cJSON_AddTrueToObject(store, "damaged");
        cJSON_AddItemToObject(store, "note", console_json_text(note));
    }
    cJSON *d = tree_node(tree, "Dispatcher");
    notifier_status_t st;
    int64_t pending = -1;
    if (d && notifier_status_within(&st, left_until(deadline)) == 0 &&
        store_outbox_count_within(&pending, left_until(deadline), NULL) == 0) {
        char state[320], note[360];
        notifier_status_format(&st, state, sizeof state);
        snprintf(note, sizeof note, "%s; %lld pending", state, (long long)pending);
        cJSON_AddItemToObject(d, "note", console_json_text(note));
    }
    cJSON *timer = tree_node(tree, "SlaTimer");
    sla_timer_status_t sla;
    if (timer && sla_timer_status_within(&sla, left_until(deadline)) == 0) {
        char note[128];
        sla_timer_note(&sla, note, sizeof note);
        cJSON_AddItemToObject(timer, "note", cJSON_CreateString(note));
    }
    return tree;
}

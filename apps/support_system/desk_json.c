/*
 * The desk's things as JSON (desk_json.h).
 */
#include "desk_json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/console.h"

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
    cJSON_AddItemToObject(e, "at", time_json(h->at));
    cJSON_AddItemToObject(e, "who", console_json_text(h->by.name));
    cJSON_AddStringToObject(e, "role", ticket_actor_kind_name(h->by.kind));
    cJSON_AddItemToObject(e, "what", console_json_text(h->what));
    cJSON_AddStringToObject(e, "kind", message_kinds[h->message]);
    if (h->message != STORE_NO_MESSAGE)
        cJSON_AddItemToObject(e, "text", console_json_text(h->text));
    return e;
}

cJSON *desk_ticket_json(const ticket_t *t, bool with_history)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "id", (double)t->id);
    cJSON_AddItemToObject(j, "description", console_json_text(t->description));
    cJSON_AddItemToObject(j, "customer", console_json_text(t->customer));
    cJSON_AddStringToObject(j, "priority", ticket_priority_name(t->priority));
    cJSON_AddStringToObject(j, "status", ticket_status_name(t->status));
    if (t->agent[0])
        cJSON_AddItemToObject(j, "agent", console_json_text(t->agent));
    else
        cJSON_AddNullToObject(j, "agent");
    cJSON_AddItemToObject(j, "created_at", time_json(t->created_at));
    cJSON_AddItemToObject(j, "updated_at", time_json(t->updated_at));
    cJSON_AddNumberToObject(j, "version", (double)t->version);
    if (with_history) {
        cJSON *h = cJSON_AddArrayToObject(j, "history");
        store_history_t *rows;
        size_t n;
        if (store_history(t->id, &rows, &n) == 0) {
            for (size_t i = 0; i < n; i++)
                cJSON_AddItemToArray(h, history_json(&rows[i]));
            free(rows);
        }
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

/* The Dispatcher's delivery state goes beside it: a failing sink is not a
 * crash, so no restart count shows it. */
cJSON *desk_tree_json(arbor_pid_t sup)
{
    cJSON *tree = console_tree_json(sup, DESK_SUPERVISOR_NAME, false);
    cJSON *d = tree_node(tree, "Dispatcher");
    notifier_status_t st;
    int64_t pending = -1;
    if (d && notifier_status(&st) == 0 && store_outbox_count(&pending) == 0) {
        char state[320], note[360];
        notifier_status_format(&st, state, sizeof state);
        snprintf(note, sizeof note, "%s; %lld pending", state, (long long)pending);
        cJSON_AddItemToObject(d, "note", console_json_text(note));
    }
    return tree;
}

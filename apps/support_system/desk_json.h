/*
 * The desk's things as JSON, as the console (--json) and the web API both
 * show them: one shape for a ticket, one for the supervision tree.
 */
#ifndef SUPPORT_DESK_JSON_H
#define SUPPORT_DESK_JSON_H

#include <cjson/cJSON.h>
#include <stdbool.h>

#include "desk.h"

/* {"id","description","customer","priority","status","agent" (null when
 * unassigned),"created_at","updated_at" (UTC, ticket_format_time),
 * "version"}, and when history is not NULL, its page: "history":
 * [{"id","at","who","role","what","kind"(,"text")}] oldest first,
 * "history_total" (the ticket's entries) and "history_older" (those
 * before the page: ask for them with the page's first "id" as before).
 * Text that is not valid UTF-8 shows as U+FFFD. */
cJSON *desk_ticket_json(const ticket_t *t, const store_history_page_t *history);

/* The desk's supervision tree under sup (console_tree_json's shape), with
 * the Dispatcher's delivery state as its "note", each top child's
 * "restarts" counting those rest_for_one made ("own_restarts" its own),
 * and each ticket worker's "ticket" and "note" (its status), the workers
 * in the order of their tickets. The notes
 * are asked of their processes within one second in all: one too busy
 * to answer in what is left of it has none. Process only. */
cJSON *desk_tree_json(arbor_pid_t sup);

#endif

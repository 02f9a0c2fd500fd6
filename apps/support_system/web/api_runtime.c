/*
 * The runtime as the dashboard shows it (api.h):
 *
 *   GET  /api/tree                  the desk's supervision tree, live
 *   GET  /api/processes?sort=memory|queue|reductions|restarts&limit=N   the top processes
 *   POST /api/processes/:pid/kill   an exit signal `kill` (admin)
 *
 * The tree is the console's (desk_tree_json: each supervisor's children
 * read from the table of supervisors, arbor_sup_children_snapshot(), with
 * no message to any supervisor); the process table is the runtime's process info, with each
 * supervised child's restarts as its supervisor counts them (the tree's).
 * No process's state is shown.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/console.h"
#include "../desk.h"
#include "../desk_json.h"
#include "api.h"
#include "reply.h"

#define PROCESSES_DEFAULT 50
#define PROCESSES_MAX     1000

void api_tree(arbor_http_request_t *req, arbor_http_response_t *res, const web_session_t *who)
{
    arbor_pid_t sup = arbor_whereis(DESK_SUPERVISOR_NAME);
    if (!sup) {
        web_error(res, 503, "unavailable", "the desk's supervisor is not running");
        return;
    }
    cJSON *j = cJSON_CreateObject();
    cJSON_AddItemToObject(j, "tree", desk_tree_json(sup));
    web_json(res, 200, j);
}

/* ---- processes ------------------------------------------------------------------------ */

typedef enum { BY_MEMORY, BY_QUEUE, BY_REDUCTIONS, BY_RESTARTS } order_t;

/* A process's info and its restarts (-1: not a supervised child). */
typedef struct row {
    arbor_process_info_t info;
    int64_t restarts;
} row_t;

/* Largest first; ties by pid, so the order is stable between refreshes. */
static int descending(size_t x, size_t y, arbor_pid_t px, arbor_pid_t py)
{
    return x < y ? 1 : x > y ? -1 : (px > py) - (px < py);
}

static int by_memory(const void *a, const void *b)
{
    const row_t *x = a, *y = b;
    return descending(x->info.memory, y->info.memory, x->info.pid, y->info.pid);
}

static int by_queue(const void *a, const void *b)
{
    const row_t *x = a, *y = b;
    return descending(x->info.message_queue_len, y->info.message_queue_len, x->info.pid,
                      y->info.pid);
}

/* Most work done since the spawn first. */
static int by_reductions(const void *a, const void *b)
{
    const row_t *x = a, *y = b;
    uint64_t rx = x->info.reductions, ry = y->info.reductions;
    return rx < ry ? 1 : rx > ry ? -1 : (x->info.pid > y->info.pid) - (x->info.pid < y->info.pid);
}

static int by_pid(const void *a, const void *b)
{
    const row_t *x = a, *y = b;
    return (x->info.pid > y->info.pid) - (x->info.pid < y->info.pid);
}

/* Most restarts first; those that no supervisor restarts last. */
static int by_restarts(const void *a, const void *b)
{
    const row_t *x = a, *y = b;
    return descending((size_t)(x->restarts + 1), (size_t)(y->restarts + 1), x->info.pid,
                      y->info.pid);
}

static const char *status_name(arbor_proc_status_t s)
{
    return s == ARBOR_STATUS_RUNNABLE  ? "runnable"
           : s == ARBOR_STATUS_WAITING ? "waiting"
                                       : "exiting";
}

static cJSON *process_json(const row_t *r)
{
    const arbor_process_info_t *p = &r->info;
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "pid", console_pid(p->pid));
    cJSON_AddItemToObject(j, "name", console_json_text(p->name));
    cJSON_AddItemToObject(j, "label", console_json_text(p->label ? p->label : ""));
    cJSON_AddStringToObject(j, "status", status_name(p->status));
    cJSON_AddNumberToObject(j, "memory", (double)p->memory);
    cJSON_AddNumberToObject(j, "heap_bytes", (double)p->heap_bytes);
    cJSON_AddNumberToObject(j, "message_queue_len", (double)p->message_queue_len);
    cJSON_AddNumberToObject(j, "reductions", (double)p->reductions);
    cJSON_AddNumberToObject(j, "links", p->links);
    cJSON_AddNumberToObject(j, "monitors", p->monitors);
    if (r->restarts >= 0)
        cJSON_AddNumberToObject(j, "restarts", (double)r->restarts);
    else
        cJSON_AddNullToObject(j, "restarts");
    cJSON_AddBoolToObject(j, "killable", !desk_outside_tree(p->pid, NULL));
    return j;
}

/* Reads sort and limit from the query: false when it answered 400. */
static bool processes_query(const arbor_http_request_t *req, arbor_http_response_t *res,
                            order_t *by, size_t *limit)
{
    char sort[16], lim[16];
    *by = BY_MEMORY;
    *limit = PROCESSES_DEFAULT;
    if (arbor_http_query(req->query, "sort", sort, sizeof sort) >= 0) {
        if (strcmp(sort, "memory") == 0)
            *by = BY_MEMORY;
        else if (strcmp(sort, "queue") == 0)
            *by = BY_QUEUE;
        else if (strcmp(sort, "reductions") == 0)
            *by = BY_REDUCTIONS;
        else if (strcmp(sort, "restarts") == 0)
            *by = BY_RESTARTS;
        else {
            web_error(res, 400, "bad_argument",
                      "sort must be memory, queue, reductions or restarts");
            return false;
        }
    }
    if (arbor_http_query(req->query, "limit", lim, sizeof lim) >= 0) {
        char *end;
        long n = strtol(lim, &end, 10);
        if (*end || end == lim || n < 1 || n > PROCESSES_MAX) {
            web_error(res, 400, "bad_argument", "limit must be a number from 1 to 1000");
            return false;
        }
        *limit = (size_t)n;
    }
    return true;
}

/* Each supervised child in the tree under node: its restarts into the
 * row of its pid (rows sorted by pid, n of them). */
static void tree_restarts(const cJSON *node, row_t *rows, size_t n)
{
    const cJSON *pid = cJSON_GetObjectItem(node, "pid");
    const cJSON *restarts = cJSON_GetObjectItem(node, "restarts");
    arbor_pid_t p;
    if (cJSON_IsString(pid) && cJSON_IsNumber(restarts) &&
        console_pid_parse(pid->valuestring, &p)) {
        row_t key = {.info = {.pid = p}};
        row_t *r = bsearch(&key, rows, n, sizeof *rows, by_pid);
        if (r)
            r->restarts = (int64_t)restarts->valuedouble;
    }
    const cJSON *child;
    cJSON_ArrayForEach(child, cJSON_GetObjectItem(node, "children")) tree_restarts(child, rows, n);
}

void api_processes(arbor_http_request_t *req, arbor_http_response_t *res, const web_session_t *who)
{
    order_t by;
    size_t limit, count = 0;
    if (!processes_query(req, res, &by, &limit))
        return;
    arbor_processes(NULL, 0, &count);
    size_t cap = count + 64; /* room for those started meanwhile */
    /* In this process's memory: freed even if it is killed meanwhile. */
    arbor_pid_t *pids = arbor_alloc(cap * sizeof *pids);
    row_t *rows = arbor_alloc(cap * sizeof *rows);
    if (!pids || !rows) {
        arbor_free(pids);
        arbor_free(rows);
        web_error(res, 503, "out_of_memory", "out of memory");
        return;
    }
    arbor_processes(pids, cap, &count);
    size_t n = 0;
    for (size_t i = 0; i < count && i < cap; i++)
        if (arbor_process_info(pids[i], &rows[n].info) == 0)
            rows[n++].restarts = -1;
    arbor_free(pids);
    /* The restarts, as the supervisors count them (the tree's walk). */
    arbor_pid_t sup = arbor_whereis(DESK_SUPERVISOR_NAME);
    cJSON *tree = sup ? desk_tree_json(sup) : NULL;
    if (tree) {
        qsort(rows, n, sizeof *rows, by_pid);
        tree_restarts(tree, rows, n);
        cJSON_Delete(tree);
    }
    qsort(rows, n, sizeof *rows,
          by == BY_MEMORY       ? by_memory
          : by == BY_QUEUE      ? by_queue
          : by == BY_REDUCTIONS ? by_reductions
                                : by_restarts);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "total", (double)n);
    cJSON *arr = cJSON_AddArrayToObject(j, "processes");
    for (size_t i = 0; i < n && i < limit; i++)
        cJSON_AddItemToArray(arr, process_json(&rows[i]));
    arbor_free(rows);
    web_json(res, 200, j);
}

void api_process_kill(arbor_http_request_t *req, arbor_http_response_t *res,
                      const web_session_t *who)
{
    const char *text = arbor_http_param(req, "pid");
    arbor_pid_t pid;
    if (!web_body_none(req, res))
        return;
    if (!text || !console_pid_parse(text, &pid) || !arbor_alive(pid)) {
        web_error(res, 404, "no_such_process", "there is no such process (it may have exited)");
        return;
    }
    if (pid == arbor_self()) {
        web_error(res, 400, "bad_argument", "that is the connection serving this request");
        return;
    }
    const char *what;
    if (desk_outside_tree(pid, &what)) {
        char why[160];
        snprintf(why, sizeof why,
                 "that is %s, outside the supervision tree: nothing would restart it", what);
        web_error(res, 403, "outside_tree", why);
        return;
    }
    arbor_process_info_t info;
    cJSON *j = console_kill(pid, &info);
    web_json(res, 200, j);
}

/*
 * The Store's reads, run on the blocking pool: a ticket, a history, a
 * list, the roster, the outbox.
 */
#include "store_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void read_ticket(sqlite3_stmt *st, ticket_t *t)
{
    memset(t, 0, sizeof *t);
    t->id = sqlite3_column_int64(st, 0);
    snprintf(t->description, sizeof t->description, "%s", sqlite3_column_text(st, 1));
    snprintf(t->customer, sizeof t->customer, "%s", sqlite3_column_text(st, 2));
    t->priority = (ticket_priority_t)sqlite3_column_int(st, 3);
    t->status = (ticket_status_t)sqlite3_column_int(st, 4);
    snprintf(t->agent, sizeof t->agent, "%s", sqlite3_column_text(st, 5));
    t->created_at = sqlite3_column_int64(st, 6);
    t->updated_at = sqlite3_column_int64(st, 7);
    t->version = sqlite3_column_int64(st, 8);
    t->due_at = sqlite3_column_int64(st, 9); /* NULL: 0 */
    t->sla_paused = sqlite3_column_type(st, 10) != SQLITE_NULL;
    t->sla_left_ms = sqlite3_column_int64(st, 10);
    t->breached_at = sqlite3_column_int64(st, 11);
}

static int collect(read_t *r, sqlite3_stmt *st, size_t row_size,
                   void (*read_row)(sqlite3_stmt *, void *))
{
    size_t cap = 16;
    job_t *j = r->job;
    store_t *s = r->s;
    j->rows_size = row_size;
    s->rows = malloc(cap * row_size);
    int rc = s->rows ? 0 : ARBOR_ENOMEM, step = SQLITE_DONE;
    while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
        if (j->nrows == cap) {
            void *more = realloc(s->rows, 2 * cap * row_size);
            if (!more) {
                rc = ARBOR_ENOMEM;
                break;
            }
            s->rows = more;
            cap *= 2;
        }
        read_row(st, (char *)s->rows + j->nrows++ * row_size);
    }
    if (!rc && step != SQLITE_DONE)
        rc = store__db_fail(r->s, j, "read"); /* before the reset, which clears the message */
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc;
}

static void read_ticket_row(sqlite3_stmt *st, void *row)
{
    read_ticket(st, row);
}

/* Text of column i ("" for NULL). */
static const char *text_at(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? (const char *)t : "";
}

static void read_history_row(sqlite3_stmt *st, void *row)
{
    store_history_t *h = row;
    h->id = sqlite3_column_int64(st, 0);
    h->at = sqlite3_column_int64(st, 1);
    snprintf(h->by.name, sizeof h->by.name, "%s", text_at(st, 2));
    if (!ticket_actor_kind_parse(text_at(st, 3), &h->by.kind))
        h->by.kind = ACTOR_DESK;
    snprintf(h->what, sizeof h->what, "%s", text_at(st, 4));
    h->message = sqlite3_column_type(st, 5) == SQLITE_NULL ? STORE_NO_MESSAGE
                 : sqlite3_column_int(st, 5)               ? STORE_NOTE
                                                           : STORE_REPLY;
    snprintf(h->text, sizeof h->text, "%s", text_at(st, 6));
}

/* A page of a history: the latest j->limit entries below j->first (0:
 * all), read newest first and turned oldest first; then the ticket's
 * entries counted (j->count), and those before the page (j->last: all
 * but those from the page's first entry on). */
static int history_page(read_t *r)
{
    job_t *j = r->job;
    sqlite3_stmt *st = r->s->st[ST_HISTORY];
    int64_t before = j->first > 0 ? j->first : INT64_MAX;
    sqlite3_bind_int64(st, 1, j->id);
    sqlite3_bind_int64(st, 2, before);
    sqlite3_bind_int64(st, 3, (int64_t)j->limit);
    int rc = collect(r, st, sizeof(store_history_t), read_history_row);
    if (rc)
        return rc;
    store_history_t *h = r->s->rows;
    for (size_t a = 0, b = j->nrows; b-- > a + 1; a++) {
        store_history_t t = h[a];
        h[a] = h[b];
        h[b] = t;
    }
    st = r->s->st[ST_HISTORY_COUNT];
    sqlite3_bind_int64(st, 1, j->id);
    sqlite3_bind_int64(st, 2, j->nrows ? h[0].id : before);
    int step = sqlite3_step(st);
    rc = step == SQLITE_ROW ? 0 : store__db_fail(r->s, j, "history");
    if (!rc) {
        j->count = sqlite3_column_int64(st, 0);
        j->last = j->count - sqlite3_column_int64(st, 1);
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc;
}

static void read_agent_row(sqlite3_stmt *st, void *row)
{
    store_agent_t *a = row;
    snprintf(a->name, sizeof a->name, "%s", text_at(st, 0));
    a->active = sqlite3_column_int(st, 1) != 0;
    a->available = sqlite3_column_int(st, 2) != 0;
    a->open = sqlite3_column_int64(st, 3);
    a->turn = sqlite3_column_int64(st, 4);
}

static void read_notification_row(sqlite3_stmt *st, void *row)
{
    store_notification_t *n = row;
    n->id = sqlite3_column_int64(st, 0);
    n->ticket = sqlite3_column_int64(st, 1);
    n->at = sqlite3_column_int64(st, 2);
    snprintf(n->text, sizeof n->text, "%s", sqlite3_column_text(st, 3));
}

static void read_count_row(sqlite3_stmt *st, void *row)
{
    store_ticket_count_t *c = row;
    snprintf(c->agent, sizeof c->agent, "%s", sqlite3_column_text(st, 0));
    c->status = (ticket_status_t)sqlite3_column_int(st, 1);
    c->count = sqlite3_column_int64(st, 2);
}

/* The filters j has, as LIST_* bits. */
static unsigned list_filters(const job_t *j)
{
    return (j->has_status ? LIST_STATUS : 0) | (j->has_agent ? LIST_AGENT : 0) |
           (j->has_customer ? LIST_CUSTOMER : 0) | (j->priority >= 0 ? LIST_PRIORITY : 0) |
           (j->text[0] ? LIST_TEXT : 0) | (j->unresolved ? LIST_UNRESOLVED : 0) |
           (j->overdue ? LIST_OVERDUE : 0);
}

/* The statement of a list with filters bits in order sort, prepared on
 * first use; NULL (with SQLite's message in j) when it cannot be. */
static sqlite3_stmt *list_statement(store_t *s, job_t *j, unsigned bits, store_sort_t sort)
{
    sqlite3_stmt **st = &s->lists[sort][bits];
    if (!*st) {
        char sql[LIST_SQL_SIZE];
        store__list_sql(bits, sort, sql);
        if (sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL) != SQLITE_OK) {
            store__db_fail(s, j, "list");
            sqlite3_finalize(*st);
            *st = NULL;
        }
    }
    return *st;
}

/* Writes over name, an agent's name as someone typed it, the roster's
 * spelling of it: names are one agent's whatever their ASCII case, so
 * "--agent ALICE" lists alice's tickets. A name on the roster as typed,
 * or none, or two that differ only in case (a database from before that
 * rule: ambiguous), stays as it is. */
static void spell_agent(store_t *s, char name[TICKET_NAME_SIZE])
{
    sqlite3_stmt *st = s->st[ST_AGENT_SPELLING];
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    char first[TICKET_NAME_SIZE] = "";
    if (sqlite3_step(st) == SQLITE_ROW) {
        snprintf(first, sizeof first, "%s", (const char *)sqlite3_column_text(st, 0));
        if (strcmp(first, name) == 0 || sqlite3_step(st) != SQLITE_DONE)
            first[0] = '\0'; /* as typed, ambiguous, or unreadable: the name stays */
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (first[0])
        memcpy(name, first, strlen(first) + 1);
}

/* A list: the statement of j's filters and order, with their values. */
static int list(read_t *r)
{
    job_t *j = r->job;
    unsigned bits = list_filters(j);
    store_sort_t sort = (unsigned)j->sort < STORE_SORTS ? j->sort : STORE_SORT_NEWEST;
    sqlite3_stmt *st = list_statement(r->s, j, bits, sort);
    if (!st)
        return ARBOR_EEXIT;
    if (bits & LIST_STATUS)
        sqlite3_bind_int(st, 1, (int)j->status);
    if (bits & LIST_AGENT) {
        if (j->agent[0])
            spell_agent(r->s, j->agent);
        sqlite3_bind_text(st, 3, j->agent, -1, SQLITE_STATIC);
    }
    if (bits & LIST_CUSTOMER)
        sqlite3_bind_text(st, 5, j->customer, -1, SQLITE_STATIC);
    if (bits & LIST_PRIORITY)
        sqlite3_bind_int(st, 6, j->priority);
    if (bits & LIST_TEXT)
        sqlite3_bind_text(st, 7, j->text, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 8, j->limit > INT64_MAX ? INT64_MAX : (int64_t)j->limit);
    sqlite3_bind_int64(st, 9, j->offset > INT64_MAX ? INT64_MAX : (int64_t)j->offset);
    return collect(r, st, sizeof(ticket_t), read_ticket_row);
}

static void *run_read(void *arg)
{
    read_t *r = arg;
    job_t *j = r->job;
    sqlite3_stmt *st;
    int step;
    switch (j->op) {
    case GET:
        st = r->s->st[ST_GET];
        sqlite3_bind_int64(st, 1, j->id);
        switch (sqlite3_step(st)) {
        case SQLITE_ROW:
            j->rc = 0;
            break;
        case SQLITE_DONE: /* no row: the only absence */
            j->rc = ARBOR_ENOENT;
            break;
        default:
            j->rc = store__db_fail(r->s, j, "ticket");
        }
        if (!j->rc) {
            read_ticket(st, &j->ticket);
            *store__cache_slot(r->s, j->id) = j->ticket;
        }
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        break;
    case HISTORY:
        j->rc = history_page(r);
        break;
    case LIST:
        j->rc = list(r);
        break;
    case QUEUES:
        if (j->agent[0])
            spell_agent(r->s, j->agent);
        st = r->s->st[ST_QUEUES];
        sqlite3_bind_text(st, 1, j->agent, -1, SQLITE_STATIC);
        j->rc = sqlite3_step(st) == SQLITE_ROW ? 0 : store__db_fail(r->s, j, "queues");
        if (!j->rc)
            j->queues = (store_queues_t){sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1),
                                         sqlite3_column_int64(st, 2), sqlite3_column_int64(st, 3),
                                         sqlite3_column_int64(st, 4)};
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        break;
    case AGENTS:
        j->rc = collect(r, r->s->st[ST_AGENTS], sizeof(store_agent_t), read_agent_row);
        break;
    case AGENT_LEAST_LOADED:
        st = r->s->st[ST_AGENT_LEAST_LOADED];
        step = sqlite3_step(st);
        j->rc = step == SQLITE_ROW    ? 0
                : step == SQLITE_DONE ? ARBOR_ENOENT /* no agent active and available */
                                      : store__db_fail(r->s, j, "least-loaded");
        if (!j->rc) {
            snprintf(j->agent, sizeof j->agent, "%s", text_at(st, 0));
            j->count = sqlite3_column_int64(st, 1);
            j->eligible = sqlite3_column_int64(st, 2);
        }
        sqlite3_reset(st);
        break;
    case OUTBOX_PENDING:
        st = r->s->st[ST_OUTBOX_PENDING];
        sqlite3_bind_int64(st, 1, (int64_t)j->limit);
        j->rc = collect(r, st, sizeof(store_notification_t), read_notification_row);
        break;
    case OUTBOX_COUNT:
        st = r->s->st[ST_OUTBOX_COUNT];
        j->rc = sqlite3_step(st) == SQLITE_ROW ? 0 : store__db_fail(r->s, j, "outbox");
        j->count = j->rc ? 0 : sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
        break;
    case TICKET_COUNTS:
        j->rc =
            collect(r, r->s->st[ST_TICKET_COUNTS], sizeof(store_ticket_count_t), read_count_row);
        break;
    default:
        j->rc = ARBOR_EINVAL;
    }
    return NULL;
}

arbor_gs_ret_t store__answer_read(store_t *s, job_t *j, arbor_from_t from)
{
    read_t r = {.s = s, .job = j};
    arbor_blocking(run_read, &r, NULL);
    size_t rows = j->nrows * j->rows_size;
    char *reply = malloc(JOB_HEAD + rows);
    if (!reply) {
        free(s->rows);
        s->rows = NULL;
        return arbor_gs_halt(arbor_error("out of memory"));
    }
    memcpy(reply, j, JOB_HEAD);
    if (rows)
        memcpy(reply + JOB_HEAD, s->rows, rows);
    free(s->rows);
    s->rows = NULL;
    arbor_gs_reply_to(from, reply, JOB_HEAD + rows);
    free(reply);
    return arbor_gs_noreply();
}

/*
 * The Store's client side: the calls of store.h, each a request to the
 * Store process.
 */
#include "store_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Runs j at the Store; on success *reply holds the answer (the job, then
 * its rows). */
static int request(job_t *j, arbor_msg_t **reply)
{
    arbor_pid_t store = arbor_whereis(STORE_NAME);
    if (!store)
        return ARBOR_ENOPROC;
    int rc = arbor_gs_call(store, (uint64_t)j->op, j, sizeof *j, 30000, reply, NULL);
    if (rc)
        return rc;
    const job_t *out = (*reply)->data;
    if (out->rc) {
        *j = *out;
        rc = out->rc;
        arbor_msg_free(*reply);
        *reply = NULL;
    }
    return rc;
}

/* Runs j at the Store and copies the answer (not its rows) back into j. */
static int ask(job_t *j)
{
    arbor_msg_t *m;
    int rc = request(j, &m);
    if (rc == 0) {
        *j = *(const job_t *)m->data;
        arbor_msg_free(m);
    }
    return rc;
}

static void copy_error(const job_t *j, int rc, ticket_error_t *err)
{
    if (!err)
        return;
    if (j->err.code[0])
        *err = j->err;
    else
        snprintf(err->code, sizeof err->code, "%s", rc == ARBOR_ENOPROC ? "store_down" : "store");
    if (!j->err.code[0])
        snprintf(err->message, sizeof err->message, "the store could not do it: %s",
                 arbor_strerror(rc));
}

int store_create(ticket_t *t, ticket_error_t *err)
{
    job_t j = {.op = CREATE, .ticket = *t};
    int rc = ask(&j);
    if (rc)
        copy_error(&j, rc, err);
    else
        t->id = j.ticket.id;
    return rc;
}

int store_update(ticket_t *t, const char *who, const char *what, const char *notice,
                 ticket_error_t *err)
{
    job_t j = {.op = UPDATE, .ticket = *t};
    snprintf(j.who, sizeof j.who, "%s", who);
    snprintf(j.what, sizeof j.what, "%s", what);
    snprintf(j.notice, sizeof j.notice, "%s", notice ? notice : "");
    int rc = ask(&j);
    if (rc)
        copy_error(&j, rc, err);
    else
        t->version = j.ticket.version;
    return rc;
}

int store_get(int64_t id, ticket_t *out)
{
    job_t j = {.op = GET, .id = id};
    int rc = ask(&j);
    if (rc == 0)
        *out = j.ticket;
    return rc;
}

/* Copies the rows of a reply into a malloc'd array. */
static int take_rows(arbor_msg_t *m, void **out, size_t *n)
{
    const job_t *j = m->data;
    size_t bytes = j->nrows * j->rows_size;
    *out = malloc(bytes ? bytes : 1);
    if (!*out) {
        arbor_msg_free(m);
        return ARBOR_ENOMEM;
    }
    memcpy(*out, (const char *)m->data + sizeof *j, bytes);
    *n = j->nrows;
    arbor_msg_free(m);
    return 0;
}

int store_history(int64_t id, store_history_t **out, size_t *n)
{
    job_t j = {.op = HISTORY, .id = id};
    arbor_msg_t *m;
    int rc = request(&j, &m);
    return rc ? rc : take_rows(m, (void **)out, n);
}

int store_list(const ticket_status_t *status, const char *agent, size_t limit, ticket_t **out,
               size_t *n)
{
    job_t j = {.op = LIST, .has_status = status != NULL, .limit = limit};
    if (status)
        j.status = *status;
    if (agent)
        snprintf(j.agent, sizeof j.agent, "%s", agent);
    arbor_msg_t *m;
    int rc = request(&j, &m);
    return rc ? rc : take_rows(m, (void **)out, n);
}

int store_agents(char **out)
{
    job_t j = {.op = AGENTS};
    arbor_msg_t *m;
    size_t n;
    char *names;
    int rc = request(&j, &m);
    if (rc || (rc = take_rows(m, (void **)&names, &n)))
        return rc;
    *out = malloc(n * (TICKET_NAME_SIZE + 1) + 1);
    if (!*out) {
        free(names);
        return ARBOR_ENOMEM;
    }
    size_t len = 0;
    for (size_t i = 0; i < n; i++)
        len += (size_t)sprintf(*out + len, "%s\n", names + i * (TICKET_NAME_SIZE));
    (*out)[len] = '\0';
    free(names);
    return 0;
}

int store_agent_add(const char *name, ticket_error_t *err)
{
    job_t j = {.op = AGENT_ADD};
    if (!ticket_check_text("agent", name, TICKET_NAME_MAX, false, err))
        return ARBOR_EINVAL;
    snprintf(j.agent, sizeof j.agent, "%s", name);
    int rc = ask(&j);
    if (rc == ARBOR_EEXIST && err) {
        snprintf(err->code, sizeof err->code, "agent_exists");
        snprintf(err->message, sizeof err->message, "there is already an agent called %s", name);
    } else if (rc) {
        copy_error(&j, rc, err);
    }
    return rc;
}

int store_outbox_pending(size_t limit, store_notification_t **out, size_t *n)
{
    job_t j = {.op = OUTBOX_PENDING, .limit = limit};
    arbor_msg_t *m;
    int rc = request(&j, &m);
    return rc ? rc : take_rows(m, (void **)out, n);
}

int store_outbox_mark(int64_t first, int64_t last)
{
    job_t j = {.op = MARK_DELIVERED, .first = first, .last = last};
    return ask(&j);
}

int store_outbox_count(int64_t *pending)
{
    job_t j = {.op = OUTBOX_COUNT};
    int rc = ask(&j);
    if (rc == 0)
        *pending = j.count;
    return rc;
}

int store_stats(store_stats_t *out)
{
    job_t j = {.op = STATS};
    int rc = ask(&j);
    if (rc == 0)
        *out = j.stats;
    return rc;
}

int store_backup(const char *path, ticket_error_t *err)
{
    arbor_pid_t store = arbor_whereis(STORE_NAME);
    job_t j = {.op = BACKUP};
    int rc = store ? 0 : ARBOR_ENOPROC;
    arbor_msg_t *reply = NULL;
    if (!rc)
        rc = arbor_gs_call(store, BACKUP, path, strlen(path) + 1, 600000, &reply, NULL);
    if (!rc) {
        j = *(const job_t *)reply->data;
        arbor_msg_free(reply);
        rc = j.rc;
    }
    if (rc)
        copy_error(&j, rc, err);
    return rc;
}

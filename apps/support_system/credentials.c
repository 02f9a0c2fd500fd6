/*
 * Credentials (credentials.h): the credentials table, through store_run.
 * Each function below named db_* runs inside the Store, on its connection.
 */
#include "credentials.h"

#include <arbor.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "agents.h"
#include "store.h"

const char *credential_role_name(credential_role_t r)
{
    return r == ROLE_ADMIN ? "admin" : "agent";
}

bool credential_role_parse(const char *s, credential_role_t *out)
{
    if (strcmp(s, "admin") == 0)
        *out = ROLE_ADMIN;
    else if (strcmp(s, "agent") == 0)
        *out = ROLE_AGENT;
    else
        return false;
    return true;
}

typedef struct row {
    char agent[TICKET_NAME_SIZE];
    char hash[PASSWORD_HASH_SIZE];
    int role;       /* credential_role_t */
    bool active;    /* get: the agent is active on the roster */
    bool keep_role; /* set */
    int64_t now;    /* set */
} row_t;

static int db_set(sqlite3 *db, const void *in, void *out)
{
    const row_t *r = in;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db,
                           "INSERT INTO credentials(agent, hash, role, updated_at)"
                           " VALUES(?1, ?2, ?3, ?4) ON CONFLICT(agent) DO UPDATE SET"
                           " hash = excluded.hash, updated_at = excluded.updated_at,"
                           " role = CASE WHEN ?5 THEN role ELSE excluded.role END",
                           -1, &st, NULL) != SQLITE_OK)
        return ARBOR_EEXIT;
    sqlite3_bind_text(st, 1, r->agent, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, r->hash, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, credential_role_name((credential_role_t)r->role), -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, r->now);
    sqlite3_bind_int(st, 5, r->keep_role);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : ARBOR_EEXIT;
    sqlite3_finalize(st);
    return rc;
}

/* Whether agent is active on the roster. A roster SQLite cannot read (a
 * damaged file, which refuses every change anyway) does not keep anyone
 * out: the password alone decides then, so that an admin can still sign
 * in and see the damage. */
static bool roster_active(sqlite3 *db, const char *agent)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT active FROM agents WHERE name = ?", -1, &st, NULL) !=
        SQLITE_OK)
        return true;
    sqlite3_bind_text(st, 1, agent, -1, SQLITE_STATIC);
    bool active = sqlite3_step(st) != SQLITE_ROW || sqlite3_column_int(st, 0) != 0;
    sqlite3_finalize(st);
    return active;
}

/* Reads the row of the name agent signs in as into out, r->agent the name
 * as the roster spells it: names are one agent's whatever their ASCII case
 * (agents.h), so "Ada" finds ada's row. A row of that exact spelling comes
 * first; a database from before that rule may hold two names that differ
 * only in case, and then only the exact spelling finds either (ambiguity
 * is no row). Returns 0, ARBOR_ENOENT (no row), or ARBOR_EEXIT (SQLite
 * could not read it: not absence). */
static int db_get(sqlite3 *db, const void *in, void *out)
{
    const char *agent = in;
    row_t *r = out;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db,
                           "SELECT agent, hash, role FROM credentials WHERE agent = ?1"
                           " COLLATE NOCASE ORDER BY agent = ?1 DESC LIMIT 2",
                           -1, &st, NULL) != SQLITE_OK)
        return ARBOR_EEXIT;
    sqlite3_bind_text(st, 1, agent, -1, SQLITE_STATIC);
    int step = sqlite3_step(st);
    int rc = step == SQLITE_DONE ? ARBOR_ENOENT : ARBOR_EEXIT;
    if (step == SQLITE_ROW) {
        snprintf(r->agent, sizeof r->agent, "%s", (const char *)sqlite3_column_text(st, 0));
        snprintf(r->hash, sizeof r->hash, "%s", (const char *)sqlite3_column_text(st, 1));
        credential_role_t role = ROLE_AGENT;
        credential_role_parse((const char *)sqlite3_column_text(st, 2), &role);
        r->role = (int)role;
        rc = 0;
        if (strcmp(r->agent, agent) != 0) { /* found by its case: it must be alone */
            step = sqlite3_step(st);
            rc = step == SQLITE_DONE ? 0 : step == SQLITE_ROW ? ARBOR_ENOENT : ARBOR_EEXIT;
        }
    }
    sqlite3_finalize(st);
    if (rc == 0)
        r->active = roster_active(db, r->agent);
    else
        explicit_bzero(r, sizeof *r);
    return rc;
}

static int db_admins(sqlite3 *db, const void *in, void *out)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT count(*) FROM credentials WHERE role = 'admin'", -1, &st,
                           NULL) != SQLITE_OK)
        return ARBOR_EEXIT;
    int rc = ARBOR_EEXIT;
    if (sqlite3_step(st) == SQLITE_ROW) {
        *(int64_t *)out = sqlite3_column_int64(st, 0);
        rc = 0;
    }
    sqlite3_finalize(st);
    return rc;
}

static void error(ticket_error_t *err, const char *code, const char *message, const char *name)
{
    snprintf(err->code, sizeof err->code, "%s", code);
    snprintf(err->message, sizeof err->message, message, name);
}

int credentials_set(const char *agent, const char *password, credential_role_t role, bool keep_role,
                    ticket_error_t *err)
{
    if (!password_acceptable(password, err))
        return ARBOR_EINVAL;
    store_agent_t known;
    int found = agents_lookup(agent, &known, err);
    if (found == ARBOR_EEXIT)
        return found; /* the roster could not be read: err says why */
    if (found != 0) {
        error(err, "unknown_agent", "there is no agent called %s", agent);
        return ARBOR_ENOENT;
    }
    row_t r = {.role = (int)role, .keep_role = keep_role, .now = ticket_now_ms()};
    snprintf(r.agent, sizeof r.agent, "%s", known.name); /* as the roster spells it */
    int rc = password_hash(password, r.hash);
    if (rc == 0)
        rc = store_run(db_set, &r, sizeof r, NULL, 0);
    if (rc == ARBOR_ETIMEDOUT || rc == ARBOR_EEXIT)
        error(err, "outcome_unknown",
              "the store did not confirm the password of %s: it may or may not have been stored",
              agent);
    else if (rc)
        error(err, "store_error", "the password of %s could not be stored", agent);
    explicit_bzero(r.hash, sizeof r.hash);
    return rc;
}

static int get(const char *agent, row_t *r)
{
    size_t len = strlen(agent);
    if (len >= TICKET_NAME_SIZE)
        return ARBOR_ENOENT;
    return store_run(db_get, agent, len + 1, r, sizeof *r);
}

int credentials_check(const char *agent, const char *password, credential_role_t *role,
                      bool *active, char name[TICKET_NAME_SIZE])
{
    row_t r;
    int rc = get(agent, &r);
    if (rc && rc != ARBOR_ENOENT)
        return rc;
    bool ok = password_verify(password, rc ? NULL : r.hash);
    explicit_bzero(r.hash, sizeof r.hash);
    if (!ok)
        return ARBOR_EACCES;
    *role = (credential_role_t)r.role;
    *active = r.active;
    memcpy(name, r.agent, sizeof r.agent);
    return 0;
}

int credentials_role(const char *agent, credential_role_t *role)
{
    row_t r;
    int rc = get(agent, &r);
    if (rc == 0)
        *role = (credential_role_t)r.role;
    return rc;
}

int credentials_admins(int64_t *count)
{
    return store_run(db_admins, NULL, 0, count, sizeof *count);
}

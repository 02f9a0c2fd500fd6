/*
 * Credentials: who may sign in to the web desk, with which role. An agent
 * on the roster may have a password (its yescrypt hash, passwords.h) and a
 * role: admin (manages agents, may kill processes) or agent. They live in
 * the Store's database (table credentials, schema version 4), read and
 * written through store_run with prepared statements.
 *
 * Process only: every function calls the Store; they return 0 or a
 * negative Arbor code (ARBOR_ENOPROC: no Store).
 */
#ifndef SUPPORT_CREDENTIALS_H
#define SUPPORT_CREDENTIALS_H

#include <stdbool.h>
#include <stdint.h>

#include "passwords.h"
#include "ticket.h"

typedef enum { ROLE_AGENT, ROLE_ADMIN } credential_role_t;

const char *credential_role_name(credential_role_t r); /* "agent", "admin" */
bool credential_role_parse(const char *s, credential_role_t *out);

/* Sets agent's password (checked by password_acceptable, then hashed) and
 * role, replacing any earlier ones. keep_role: an agent that has a role
 * keeps it (role is for one that has none): a password reset. The agent
 * must be on the roster (ARBOR_ENOENT, err "unknown_agent"). ARBOR_EINVAL
 * with err for a password that is refused. */
int credentials_set(const char *agent, const char *password, credential_role_t role, bool keep_role,
                    ticket_error_t *err);

/* Checks the password of the agent named agent in any ASCII case (ada,
 * Ada or ADA). Returns 0 with name, the agent's name as the roster spells
 * it, *role, and *active: whether the agent is active on the roster (a
 * deactivated one may not sign in; true when a damaged file's roster
 * cannot be read, see credentials.c); ARBOR_EACCES when the name has no
 * password or the password is wrong (the two take as long, and are not
 * told apart); ARBOR_EEXIT when the Store could not read the credentials
 * (a damaged file: not a wrong password). */
int credentials_check(const char *agent, const char *password, credential_role_t *role,
                      bool *active, char name[TICKET_NAME_SIZE]);

/* The role of agent: 0, ARBOR_ENOENT when it has no password, or
 * ARBOR_EEXIT when the Store could not read it. */
int credentials_role(const char *agent, credential_role_t *role);

/* How many admins there are. */
int credentials_admins(int64_t *count);

#endif

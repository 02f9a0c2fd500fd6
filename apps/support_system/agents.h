/*
 * Agents: the roster (loaded from the Store, or in memory) and the
 * assignment policy, round-robin or least-loaded. A GenServer registered
 * as AGENTS_NAME. Each agent is active or deactivated (a deactivated agent
 * gets no tickets) and available or not (the policies skip an unavailable
 * agent; naming one still assigns to them).
 */
#ifndef SUPPORT_AGENTS_H
#define SUPPORT_AGENTS_H

#include <arbor.h>

#include "store.h"
#include "ticket.h"

#define AGENTS_NAME "SupportSystem.Agents"

typedef enum { POLICY_ROUND_ROBIN, POLICY_LEAST_LOADED } agents_policy_t;

typedef struct agents_config {
    agents_policy_t policy;
    bool durable; /* the roster lives in the Store; otherwise in memory, from alice and bob */
} agents_config_t;

/* Child start function; arg points at an agents_config_t (copied). */
int agents_start(void *config, arbor_pid_t *pid, arbor_reason_t *err);

/* The agent the policy picks for the next ticket, among the active and
 * available ones (least-loaded: the fewest open tickets, ties in roster
 * order). ARBOR_ENOENT when there is none. */
int agents_pick(char name[TICKET_NAME_SIZE]);

/* The roster's entry for name (its open count is not filled in: -1).
 * ARBOR_ENOENT: not on the roster; ARBOR_EEXIT: the Store could not read
 * the roster (a damaged file), which is not absence: err (if not NULL)
 * says why. */
int agents_lookup(const char *name, store_agent_t *out, ticket_error_t *err);

/* The roster in the order added, with each agent's open tickets (durable;
 * in memory the count is -1, unknown): *out (free()) with *n agents. A
 * read the Store cannot do is an error (err, if not NULL, says why), never
 * an empty roster. */
int agents_list(store_agent_t **out, size_t *n, ticket_error_t *err);

/* Adds name, active and available (Store first when durable, then the
 * roster). ARBOR_EEXIST: already on it. */
int agents_add(const char *name, ticket_error_t *err);

/* Renames agent from to to, by by (store_agent_rename). Needs the Store:
 * ARBOR_EINVAL in memory. */
int agents_rename(const char *from, const char *to, const ticket_actor_t *by, ticket_error_t *err);

/* Sets name's flags, each 0 or 1 (-1: unchanged). ARBOR_ENOENT: not on
 * the roster. */
int agents_set(const char *name, int active, int available, ticket_error_t *err);

#endif

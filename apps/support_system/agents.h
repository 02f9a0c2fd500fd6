/*
 * Agents: the roster (loaded from the Store, or in memory) and the assignment policy,
 * round-robin or least-loaded. A GenServer registered as AGENTS_NAME.
 */
#ifndef SUPPORT_AGENTS_H
#define SUPPORT_AGENTS_H

#include <arbor.h>

#include "ticket.h"

#define AGENTS_NAME "SupportSystem.Agents"

typedef enum { POLICY_ROUND_ROBIN, POLICY_LEAST_LOADED } agents_policy_t;

typedef struct agents_config {
    agents_policy_t policy;
    bool durable; /* the roster lives in the Store; otherwise in memory, from alice and bob */
} agents_config_t;

/* Child start function; arg points at an agents_config_t (copied). */
int agents_start(void *config, arbor_pid_t *pid, arbor_reason_t *err);

/* The agent the policy picks for the next ticket. ARBOR_ENOENT when the
 * roster is empty. */
int agents_pick(char name[TICKET_NAME_SIZE]);

/* True when name is on the roster. */
bool agents_known(const char *name);

/* Adds name (Store first when durable, then the roster). ARBOR_EEXIST:
 * already on it. */
int agents_add(const char *name, ticket_error_t *err);

#endif

/*
 * Agents: the roster (loaded from the Store, or in memory) and the
 * assignment policy, round-robin or least-loaded. A GenServer registered
 * as AGENTS_NAME. Each agent is active or deactivated (a deactivated agent
 * gets no tickets) and available or not (the policies skip an unavailable
 * agent; naming one still assigns to them).
 *
 * Least-loaded asks the Store, which keeps each agent's open count with
 * every change (schema version 7): one pass over the roster, however many
 * tickets there are. Round-robin is picked by the ticket's worker itself,
 * from the Agents' roster table (agents.c), without a call; it goes on
 * after the agent it picked last;
 * on a durable desk each assignment it makes records that agent's turn in
 * the Store with the change, and a restarted Agents process (after its own
 * crash, the Store's, or the desk's) starts after the turn recorded last.
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

/* A policy's choice, and why it made it. */
typedef struct agents_choice {
    char name[TICKET_NAME_SIZE];
    /* For the history, after "assigned to NAME ": "by least-loaded: 2 open,
     * fewest of 4 available", "by round-robin: next after alice" (or "first
     * in turn" when it has picked no one yet). */
    char why[TICKET_NAME_SIZE + 64];
    bool round_robin; /* the assignment records name's turn (store_event_t) */
} agents_choice_t;

/* The agent the policy picks for the next ticket, among the active and
 * available ones (least-loaded: the fewest open tickets, ties in roster
 * order; round-robin: the next in roster order after the one it picked
 * last). ARBOR_ENOENT when there is none; ARBOR_ENOPROC while there is
 * no Agents process (it is being restarted); least-loaded may also fail
 * as its call to the Agents does. */
int agents_choose(agents_choice_t *out);

/* The roster's entry for name (its open count is not filled in: -1).
 * ARBOR_ENOENT: not on the roster; ARBOR_EEXIT: the Store could not read
 * the roster (a damaged file), which is not absence: err (if not NULL)
 * says why. */
int agents_lookup(const char *name, store_agent_t *out, ticket_error_t *err);

/* name as the roster spells it (ADA is ada), in *known; name itself when
 * it is on no roster entry (the change that follows says so). */
const char *agents_spelling(const char *name, store_agent_t *known);

/* The roster in the order added, with each agent's open tickets (durable;
 * in memory the count is -1, unknown): *out (free()) with *n agents. A
 * read the Store cannot do is an error (err, if not NULL, says why), never
 * an empty roster. */
int agents_list(store_agent_t **out, size_t *n, ticket_error_t *err);

/* Each roster change below has an _once form that makes it under once's
 * request id (NULL: none; store_once_t): on a durable desk a retry of
 * the same change is answered as made (once->replayed) and changes
 * nothing, another request's id is refused (request_id_reused). In memory
 * request ids are not recorded: the change is made as asked. */

/* Adds name, active and available (Store first when durable, then the
 * roster). ARBOR_EEXIST: already on it. */
int agents_add(const char *name, ticket_error_t *err);
int agents_add_once(const char *name, store_once_t *once, ticket_error_t *err);

/* Renames agent from to to, by by (store_agent_rename). Needs the Store:
 * ARBOR_EINVAL in memory. */
int agents_rename(const char *from, const char *to, const ticket_actor_t *by, ticket_error_t *err);
int agents_rename_once(const char *from, const char *to, const ticket_actor_t *by,
                       store_once_t *once, ticket_error_t *err);

/* Sets name's flags, each 0 or 1 (-1: unchanged). ARBOR_ENOENT: not on
 * the roster. */
int agents_set(const char *name, int active, int available, ticket_error_t *err);
int agents_set_once(const char *name, int active, int available, store_once_t *once,
                    ticket_error_t *err);

#endif

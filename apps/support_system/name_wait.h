/*
 * Restarting a process whose name an orphan still holds.
 *
 * When a supervisor is killed, its children end after it, on their own (a
 * link's exit signal, or, for one that traps exits, its clean stop). Its
 * own supervisor may restart it before they have: the new incarnation's
 * child then finds its registered name taken (already_started), the
 * restart fails, and each retry spends the restart intensity until the
 * tree gives up. A child's start function that registers a name calls
 * name_wait_free first.
 */
#ifndef SUPPORT_NAME_WAIT_H
#define SUPPORT_NAME_WAIT_H

#include <arbor.h>
#include <stdbool.h>

/* Waits up to ms for the process registered as name, if any, to end
 * (monitored: no polling). True when no process holds the name now (or the
 * holder is the caller); false when one still does after ms, and the
 * caller's start will fail with already_started as it would have. Process
 * only. */
bool name_wait_free(const char *name, int64_t ms);

#endif

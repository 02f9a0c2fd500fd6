/*
 * Holding the Store: a test makes the Store wait inside a store_run (on its
 * blocking pool), so that the requests sent meanwhile gather in its
 * mailbox: they form one batch when it comes back, and the processes that
 * sent them stay busy in their calls until then.
 *
 *   desk_test_hold_reset();
 *   spawn a process that calls store_run(desk_test_hold_store, NULL, 0, NULL, 0);
 *   WAIT_UNTIL(desk_test_store_held(), ...);
 *   ... send the requests ...
 *   desk_test_release_store();
 */
#ifndef ARBOR_DESK_TEST_HOLD_H
#define ARBOR_DESK_TEST_HOLD_H

#include <stdbool.h>

#include <sqlite3.h>

/* Neither held nor released: before each hold. */
void desk_test_hold_reset(void);

/* store_run's function: says it holds, then waits until
 * desk_test_release_store() (at most 20 s, scaled for slow builds). */
int desk_test_hold_store(sqlite3 *db, const void *in, void *out);

/* True once the Store runs desk_test_hold_store. */
bool desk_test_store_held(void);

/* Lets desk_test_hold_store return. */
void desk_test_release_store(void);

#endif

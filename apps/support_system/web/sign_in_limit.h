/*
 * Sign-in rate limiting: failed sign-ins are counted by the name tried (in
 * any ASCII case: bo, Bo and BO are one name, as they sign in as one agent)
 * and by the address they came from. The failure that brings a name's count to
 * SIGN_IN_FREE_PER_NAME (an address's to SIGN_IN_FREE_PER_ADDRESS), and
 * each one after it, blocks further sign-ins of that name, or from that
 * address, for SIGN_IN_FIRST_BLOCK_MS the first time, then twice as long
 * as the time before, up to SIGN_IN_MAX_BLOCK_MS. A refused attempt is not checked and not
 * counted (it neither extends the block nor reveals anything). A name's
 * count ends with a sign-in that succeeds; any count ends after
 * SIGN_IN_WINDOW_MS without a failure.
 *
 * Bounded memory: SIGN_IN_ENTRIES names and as many addresses; when full,
 * the entry whose last failure is oldest gives way. In memory only (a
 * restart forgets). Any thread.
 */
#ifndef WEB_SIGN_IN_LIMIT_H
#define WEB_SIGN_IN_LIMIT_H

#include <stdint.h>

#define SIGN_IN_FREE_PER_NAME    5
#define SIGN_IN_FREE_PER_ADDRESS 20
#define SIGN_IN_FIRST_BLOCK_MS   2000
#define SIGN_IN_MAX_BLOCK_MS     60000
#define SIGN_IN_WINDOW_MS        (15 * 60 * 1000)
#define SIGN_IN_ENTRIES          512

/* How long (ms) a sign-in of name from address must wait still: 0 when it
 * may be tried now. */
int64_t sign_in_wait_ms(const char *name, const char *address);

/* Counts a failed sign-in of name from address. */
void sign_in_failed(const char *name, const char *address);

/* Forgets name's failures (it signed in). */
void sign_in_succeeded(const char *name);

/* Forgets everything (a desk that stops). */
void sign_in_limit_reset(void);

#endif

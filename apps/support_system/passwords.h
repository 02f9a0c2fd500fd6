/*
 * Passwords: the rules a new one must meet, and hashing with yescrypt
 * (libxcrypt's crypt_r, "$y$" hashes: salted, slow, the salt from
 * getrandom). Hashing runs on the runtime's blocking pool, so a sign-in
 * never holds a scheduler.
 */
#ifndef SUPPORT_PASSWORDS_H
#define SUPPORT_PASSWORDS_H

#include <stdbool.h>

#include "ticket.h"

#define PASSWORD_MIN       8   /* characters */
#define PASSWORD_MAX       128 /* characters */
#define PASSWORD_HASH_SIZE 192 /* a yescrypt hash and its NUL, with room to spare */

/* Checks a new password: valid UTF-8, PASSWORD_MIN to PASSWORD_MAX
 * characters, no control characters. Fills err and returns false when it
 * is not. Any thread. */
bool password_acceptable(const char *password, ticket_error_t *err);

/* Hashes password with yescrypt and a fresh random salt into hash.
 * Process only (the work runs on the blocking pool). Returns 0, or
 * ARBOR_EAGAIN when no random salt or hash could be made. */
int password_hash(const char *password, char hash[PASSWORD_HASH_SIZE]);

/* True when password matches hash (made by password_hash). The hashes are
 * compared in constant time. hash NULL: hashes against a fixed hash and
 * returns false, taking as long as a real check, so that a caller can
 * hide whether a name exists. Process only. */
bool password_verify(const char *password, const char *hash);

#endif

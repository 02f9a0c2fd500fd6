/*
 * UTF-8, as the applications accept it: text is valid UTF-8 (no overlong
 * forms, no surrogates, nothing above U+10FFFF), and a length limit counts
 * characters (code points), not bytes.
 */
#ifndef APPS_UTF8_H
#define APPS_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* The most bytes one character takes. */
#define UTF8_MAX_BYTES 4

/* Checks the len bytes at s. Returns true when they are valid UTF-8 with
 * no NUL byte, and then *chars (if not NULL) is the number of characters.
 * Otherwise returns false and *bad_at (if not NULL) is the offset of the
 * first byte that is not part of a valid character (or the NUL). */
bool utf8_check(const char *s, size_t len, size_t *chars, size_t *bad_at);

/* The length in bytes of the valid character at s (at most left bytes),
 * or 0 when s does not start one. */
size_t utf8_char_length(const unsigned char *s, size_t left);

/* A word of the user's to quote in a message: s's characters up to the
 * first byte that does not start one or is a control character, at most
 * max of them (then "..." ends it), into dst (size bytes, NUL-terminated;
 * whole characters only). What it writes is always valid UTF-8 text,
 * and "" when s starts with no such character. Returns dst. */
char *utf8_quote(char *dst, size_t size, const char *s, size_t max);

#endif

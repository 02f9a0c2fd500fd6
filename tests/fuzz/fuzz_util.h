/*
 * What the fuzz targets share: an assertion that prints what failed, a
 * UTF-8 check written apart from apps/common/utf8.c (Unicode's table of
 * well-formed byte sequences) so that the two check each other, the
 * console's lines cut out of an input, a quoting of words that the
 * console's splitter must undo, and the check of one JSON answer.
 */
#ifndef FUZZ_UTIL_H
#define FUZZ_UTIL_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../apps/common/console.h"

/* The target's one entry point: libFuzzer calls it with each input it
 * makes, regression_main.c with each file of the corpus. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Stops the run with the failed condition, where, and why; libFuzzer
 * keeps the input that did it. */
#define FUZZ_ASSERT(cond, ...)                                                                     \
    do {                                                                                           \
        if (!(cond))                                                                               \
            fuzz_fail(__FILE__, __LINE__, #cond, __VA_ARGS__);                                     \
    } while (0)

_Noreturn void fuzz_fail(const char *file, int line, const char *cond, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* True when the len bytes at s are well-formed UTF-8 (Unicode 15, table
 * 3-7) with no NUL byte. */
bool fuzz_utf8_valid(const char *s, size_t len);

/* Calls line(text, len, arg) for each line of data as console_read_line
 * returns them: cut at each '\n' (a last line without one counts), line
 * endings ('\n' and '\r' at the end) removed, each a malloc'd copy with a
 * NUL after it (the line may hold NULs of its own). Returns the number of
 * lines. */
size_t fuzz_each_line(const uint8_t *data, size_t size,
                      void (*line)(const char *text, size_t len, void *arg), void *arg);

/* Checks and splits a line as both consoles do before they decode it:
 * true with its words in *ws (free them with console_words_free), or false
 * with the console's refusal in *code and *message. */
bool fuzz_line_words(const char *line, size_t len, console_words_t *ws, const char **code,
                     const char **message);

/* Writes argc words as one line that the console's splitter turns back
 * into the same words: each word single-quoted, a quote in it as '\''.
 * Returns a malloc'd string. */
char *fuzz_quote_words(int argc, const char *const *argv);

/* Checks obj as the console prints it in --json mode: one line (no
 * newline in it), valid UTF-8, and JSON that parses back to obj. Deletes
 * obj. */
void fuzz_check_json_answer(cJSON *obj);

#endif

/*
 * Fuzz target: the console's line handling, shared by both programs
 * (apps/common): the line check, UTF-8 validation and counting, the JSON
 * text of a string, the shell-like splitting into words, and the
 * programs' number options. The input is what the reader might return.
 *
 * Invariants:
 *   - console_check_line refuses exactly the lines that are not UTF-8 or
 *     hold a NUL, as a second, independent checker decides; its reason is
 *     UTF-8 and names the first bad byte, before which all is valid;
 *   - utf8_check agrees, and counts one character per byte that is not a
 *     continuation byte;
 *   - console_json_text of any bytes is one line of valid UTF-8 JSON that
 *     parses back, and holds the text unchanged when it was valid;
 *   - a checked line splits the same way twice; its words are UTF-8, no
 *     longer together than the line, and quoting them gives a line that
 *     is accepted and splits into the same words (a line is its words);
 *     a refused split leaves no words;
 *   - console_option_number accepts exactly a whole decimal number within
 *     its range, and gives that number.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../apps/common/console.h"
#include "../../apps/common/utf8.h"
#include "fuzz_util.h"

/* Two splits of lines give the same words. */
static void same_words(const console_words_t *a, const console_words_t *b, const char *what)
{
    FUZZ_ASSERT(a->argc == b->argc, "%s: %d words, then %d", what, a->argc, b->argc);
    for (int i = 0; i < a->argc; i++)
        FUZZ_ASSERT(strcmp(a->argv[i], b->argv[i]) == 0, "%s: word %d '%s', then '%s'", what, i,
                    a->argv[i], b->argv[i]);
}

static void check_split(const char *line, size_t len)
{
    console_words_t w, again;
    const char *why = console_split(line, &w);
    const char *why_again = console_split(line, &again);
    FUZZ_ASSERT(!why == !why_again, "split once %s, then %s", why ? why : "ok",
                why_again ? why_again : "ok");
    if (why) {
        FUZZ_ASSERT(w.argc == 0 && !w.argv && !w.tok, "a refused split left %d words", w.argc);
        FUZZ_ASSERT(fuzz_utf8_valid(why, strlen(why)), "the reason is not UTF-8");
        return;
    }
    FUZZ_ASSERT(w.argc >= 0 && w.argv && !w.argv[w.argc], "argv[%d] is not NULL", w.argc);
    same_words(&w, &again, "the same line");
    console_words_free(&again);
    size_t total = 0;
    for (int i = 0; i < w.argc; i++) {
        size_t n = strlen(w.argv[i]);
        FUZZ_ASSERT(fuzz_utf8_valid(w.argv[i], n), "word %d is not UTF-8", i);
        total += n;
    }
    FUZZ_ASSERT(total <= len, "%zu bytes of words from a line of %zu", total, len);
    char *quoted = fuzz_quote_words(w.argc, w.argv);
    FUZZ_ASSERT(!console_check_line(quoted, strlen(quoted)), "the quoted words are refused: %s",
                quoted);
    const char *why_quoted = console_split(quoted, &again);
    FUZZ_ASSERT(!why_quoted, "the quoted words do not split (%s): %s", why_quoted, quoted);
    same_words(&w, &again, "the words quoted");
    console_words_free(&again);
    free(quoted);
    console_words_free(&w);
}

static void check_json_text(const char *line)
{
    size_t len = strlen(line);
    cJSON *j = console_json_text(line);
    FUZZ_ASSERT(cJSON_IsString(j), "not a JSON string");
    if (fuzz_utf8_valid(line, len))
        FUZZ_ASSERT(strcmp(j->valuestring, line) == 0, "valid text changed: '%s'", line);
    else
        FUZZ_ASSERT(fuzz_utf8_valid(j->valuestring, strlen(j->valuestring)),
                    "the JSON string is not UTF-8");
    fuzz_check_json_answer(j);
}

/* The programs' options: --schedulers 1..1024, --idle-timeout 1..86400000. */
static void check_option_number(const char *s, long long min, long long max)
{
    long long got = -1;
    bool ok = console_option_number("fuzz", "--option", s, min, max, &got);
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    bool whole = s[0] >= '0' && s[0] <= '9' && end != s && !*end && !errno; /* digits alone */
    FUZZ_ASSERT(ok == (whole && v >= min && v <= max), "'%s' %s", s, ok ? "accepted" : "refused");
    if (ok)
        FUZZ_ASSERT(got == v, "'%s' gave %lld", s, got);
    else
        FUZZ_ASSERT(got == -1, "a refused '%s' set the number", s);
}

static void check_line(const char *line, size_t len, void *arg)
{
    (void)arg;
    bool valid = fuzz_utf8_valid(line, len);
    const char *why = console_check_line(line, len);
    FUZZ_ASSERT(!why == valid, "the line is %svalid UTF-8, but console_check_line says %s",
                valid ? "" : "not ", why ? why : "ok");
    size_t chars = (size_t)-1, bad = (size_t)-1;
    bool ok = utf8_check(line, len, &chars, &bad);
    FUZZ_ASSERT(ok == valid, "utf8_check says %d", ok);
    if (ok) {
        size_t starts = 0;
        for (size_t i = 0; i < len; i++)
            starts += ((unsigned char)line[i] & 0xc0) != 0x80;
        FUZZ_ASSERT(chars == starts, "%zu characters counted, %zu there", chars, starts);
        check_split(line, len);
        /* Only what looks like a number: a refusal is printed. */
        if (len <= 24 && strchr("+-0123456789 \t", line[0]))
            check_option_number(line, 1, 1024), check_option_number(line, 1, 86400000);
    } else {
        FUZZ_ASSERT(bad < len, "the bad byte %zu is past the line's %zu", bad, len);
        FUZZ_ASSERT(fuzz_utf8_valid(line, bad), "the bytes before the bad one at %zu are not valid",
                    bad);
        FUZZ_ASSERT(utf8_char_length((const unsigned char *)line + bad, len - bad) == 0,
                    "byte %zu starts a character", bad);
        FUZZ_ASSERT(fuzz_utf8_valid(why, strlen(why)), "the reason is not UTF-8");
        FUZZ_ASSERT(strstr(why, "nothing was done"), "the reason does not say nothing was done");
        char at[32];
        snprintf(at, sizeof at, "byte %zu", bad + 1);
        FUZZ_ASSERT(strstr(why, at), "the reason does not name %s: %s", at, why);
    }
    check_json_text(line);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_each_line(data, size, check_line, NULL);
    return 0;
}

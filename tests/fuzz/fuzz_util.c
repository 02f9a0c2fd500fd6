#include "fuzz_util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void fuzz_fail(const char *file, int line, const char *cond, const char *fmt, ...)
{
    fprintf(stderr, "%s:%d: invariant broken: %s: ", file, line, cond);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}

bool fuzz_utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        unsigned char b = p[i];
        /* The second byte's range for each first byte; the rest are
         * 0x80..0xbf. */
        unsigned char lo = 0x80, hi = 0xbf;
        size_t n;
        if (b == 0)
            return false;
        if (b <= 0x7f) {
            i++;
            continue;
        }
        if (b >= 0xc2 && b <= 0xdf)
            n = 2;
        else if (b == 0xe0)
            n = 3, lo = 0xa0;
        else if (b == 0xed)
            n = 3, hi = 0x9f;
        else if (b >= 0xe1 && b <= 0xef)
            n = 3;
        else if (b == 0xf0)
            n = 4, lo = 0x90;
        else if (b >= 0xf1 && b <= 0xf3)
            n = 4;
        else if (b == 0xf4)
            n = 4, hi = 0x8f;
        else
            return false;
        if (len - i < n || p[i + 1] < lo || p[i + 1] > hi)
            return false;
        for (size_t k = 2; k < n; k++)
            if (p[i + k] < 0x80 || p[i + k] > 0xbf)
                return false;
        i += n;
    }
    return true;
}

size_t fuzz_each_line(const uint8_t *data, size_t size,
                      void (*line)(const char *text, size_t len, void *arg), void *arg)
{
    size_t lines = 0, start = 0;
    while (start < size) {
        const uint8_t *nl = memchr(data + start, '\n', size - start);
        size_t end = nl ? (size_t)(nl - data) : size, len = end - start;
        while (len && (data[start + len - 1] == '\r' || data[start + len - 1] == '\n'))
            len--;
        char *text = malloc(len + 1);
        FUZZ_ASSERT(text, "out of memory for a line of %zu bytes", len);
        memcpy(text, data + start, len);
        text[len] = '\0';
        line(text, len, arg);
        free(text);
        lines++;
        start = end + 1;
    }
    return lines;
}

bool fuzz_line_words(const char *line, size_t len, console_words_t *ws, const char **code,
                     const char **message)
{
    *message = console_check_line(line, len);
    if (*message) {
        *code = "bad_input";
        return false;
    }
    *message = console_split(line, ws);
    *code = "bad_argument";
    return !*message;
}

char *fuzz_quote_words(int argc, const char *const *argv)
{
    size_t cap = 1;
    for (int i = 0; i < argc; i++)
        cap += 4 * strlen(argv[i]) + 3;
    char *out = malloc(cap), *o = out;
    FUZZ_ASSERT(out, "out of memory for %zu bytes", cap);
    for (int i = 0; i < argc; i++) {
        if (i)
            *o++ = ' ';
        *o++ = '\'';
        for (const char *c = argv[i]; *c; c++) {
            if (*c == '\'') {
                memcpy(o, "'\\''", 4);
                o += 4;
            } else {
                *o++ = *c;
            }
        }
        *o++ = '\'';
    }
    *o = '\0';
    return out;
}

void fuzz_check_json_answer(cJSON *obj)
{
    char *text = cJSON_PrintUnformatted(obj);
    FUZZ_ASSERT(text, "cJSON could not print the answer");
    size_t len = strlen(text);
    FUZZ_ASSERT(!memchr(text, '\n', len), "the answer is more than one line: %s", text);
    FUZZ_ASSERT(fuzz_utf8_valid(text, len), "the answer is not UTF-8: %s", text);
    cJSON *back = cJSON_Parse(text);
    FUZZ_ASSERT(back, "the answer is not JSON: %s", text);
    FUZZ_ASSERT(cJSON_Compare(back, obj, true), "the answer does not parse back to itself: %s",
                text);
    cJSON_Delete(back);
    free(text);
    cJSON_Delete(obj);
}

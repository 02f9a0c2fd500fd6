#include "utf8.h"

#include <stdint.h>
#include <string.h>

size_t utf8_char_length(const unsigned char *s, size_t left)
{
    if (!left)
        return 0;
    unsigned char b = s[0];
    if (b < 0x80)
        return b ? 1 : 0;
    size_t n;
    uint32_t cp, min;
    if ((b & 0xe0) == 0xc0) {
        n = 2, cp = b & 0x1f, min = 0x80;
    } else if ((b & 0xf0) == 0xe0) {
        n = 3, cp = b & 0x0f, min = 0x800;
    } else if ((b & 0xf8) == 0xf0) {
        n = 4, cp = b & 0x07, min = 0x10000;
    } else {
        return 0; /* a continuation byte, or 0xf8..0xff */
    }
    if (n > left)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    /* Overlong forms, UTF-16 surrogates and code points past Unicode's end
     * are not characters. */
    if (cp < min || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
        return 0;
    return n;
}

bool utf8_check(const char *s, size_t len, size_t *chars, size_t *bad_at)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, count = 0;
    while (i < len) {
        size_t n = utf8_char_length(p + i, len - i);
        if (!n) {
            if (bad_at)
                *bad_at = i;
            return false;
        }
        i += n;
        count++;
    }
    if (chars)
        *chars = count;
    return true;
}

char *utf8_quote(char *dst, size_t size, const char *s, size_t max)
{
    static const char more[] = "...";
    const unsigned char *p = (const unsigned char *)s;
    size_t len = 0, chars = 0, n;
    bool cut = false;
    if (!size)
        return dst;
    /* Each character taken leaves room for "..." and the NUL after it. */
    while ((n = utf8_char_length(p + len, UTF8_MAX_BYTES)) != 0 &&
           !(n == 1 && (p[len] < 0x20 || p[len] == 0x7f))) {
        if (chars == max || len + n + sizeof more > size) {
            cut = true;
            break;
        }
        len += n;
        chars++;
    }
    memcpy(dst, s, len);
    if (cut && len + sizeof more <= size)
        memcpy(dst + len, more, sizeof more);
    else
        dst[len] = '\0';
    return dst;
}

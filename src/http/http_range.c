/*
 * The Range header (RFC 9110 14.1.1, 14.2): what a request asks of a
 * representation of a known length.
 *
 *   Range: bytes=0-499      the first 500 bytes (an int-range)
 *   Range: bytes=500-       from byte 500 to the end
 *   Range: bytes=-500       the last 500 bytes (a suffix-range)
 *
 * A single range is served (206). A set of several ranges is ignored, so
 * the whole representation is served (200): the RFC lets a server ignore
 * Range, and this saves writing multipart/byteranges, which browsers and
 * download tools do not need (they ask for one range at a time). A field
 * that is not a valid byte-range set, or names another unit, is ignored
 * too, as the RFC asks. Elements are trimmed of spaces and tabs and empty
 * list elements are skipped (the #rule's leniency; Go and nginx do the
 * same).
 */
#include <string.h>
#include <strings.h>

#include "http_internal.h"

/* 1*DIGIT from *p, saturating at UINT64_MAX (a position too large for
 * any file is still a position: beyond the end). false when none. */
static bool position(const char **p, const char *end, uint64_t *out)
{
    const char *s = *p;
    uint64_t v = 0;
    while (s < end && *s >= '0' && *s <= '9') {
        unsigned d = (unsigned)(*s - '0');
        v = v > (UINT64_MAX - d) / 10 ? UINT64_MAX : v * 10 + d;
        s++;
    }
    if (s == *p)
        return false;
    *p = s;
    *out = v;
    return true;
}

/* One range-spec in [s, end), trimmed: an int-range ("a-b", "a-") or a
 * suffix-range ("-n", with *suffix set). false when it is not one, or
 * when last < first. */
static bool range_spec(const char *s, const char *end, uint64_t *first, uint64_t *last,
                       bool *suffix)
{
    *suffix = s < end && *s == '-';
    if (*suffix) {
        s++;
        return position(&s, end, last) && s == end;
    }
    if (!position(&s, end, first) || s == end || *s != '-')
        return false;
    s++;
    *last = UINT64_MAX;
    if (s < end && !position(&s, end, last))
        return false;
    return s == end && *last >= *first;
}

static bool ows(char c)
{
    return c == ' ' || c == '\t';
}

int arbor__http_range(const char *value, uint64_t length, uint64_t *first_out, uint64_t *last_out)
{
    const char *eq = strchr(value, '=');
    if (!eq || (size_t)(eq - value) != 5 || strncasecmp(value, "bytes", 5))
        return HTTP_RANGE_IGNORE; /* another unit, or not a range at all */
    uint64_t first = 0, last = 0;
    bool suffix = false;
    unsigned n = 0;
    for (const char *p = eq + 1;;) {
        const char *comma = strchr(p, ',');
        const char *end = comma ? comma : p + strlen(p);
        const char *s = p, *e = end;
        while (s < e && ows(*s))
            s++;
        while (e > s && ows(e[-1]))
            e--;
        if (s < e) {
            if (!range_spec(s, e, &first, &last, &suffix))
                return HTTP_RANGE_IGNORE; /* not a valid byte-range set */
            n++;
        }
        if (!comma)
            break;
        p = comma + 1;
    }
    /* None, or several (served whole: see the top); an empty file has no
     * byte to point at, so it is served whole too. */
    if (n != 1 || length == 0)
        return HTTP_RANGE_IGNORE;
    if (suffix) {
        if (last == 0)
            return HTTP_RANGE_UNSATISFIABLE;
        first = last >= length ? 0 : length - last;
        last = length - 1;
    } else {
        if (first >= length)
            return HTTP_RANGE_UNSATISFIABLE;
        if (last >= length)
            last = length - 1;
    }
    *first_out = first;
    *last_out = last;
    return HTTP_RANGE_ONE;
}

/*
 * The Range header (RFC 9110 14.1.1, 14.2): what a request asks of a
 * representation of a known length.
 *
 *   Range: bytes=0-499      the first 500 bytes (an int-range)
 *   Range: bytes=500-       from byte 500 to the end
 *   Range: bytes=-500       the last 500 bytes (a suffix-range)
 *   Range: bytes=0-9,-10    several: the first ten and the last ten
 *
 * Each range is resolved against the length (clamped to its end); one
 * that starts beyond it is unsatisfiable and left out, and when none is
 * left the answer is 416. The satisfiable ones are served in the order
 * asked (one: a plain 206; several: multipart/byteranges, 14.6).
 *
 * Some sets are served whole (200) instead, as 14.2 allows against a
 * broken client or a denial of service (the "Apache Killer", CVE-2011-3192,
 * asked for the same bytes over and over): more than HTTP_MAX_RANGES
 * ranges, or ranges that overlap once resolved (so the parts never add up
 * to more than the representation). A field that is not a valid
 * byte-range set, or names another unit, is ignored too, as the RFC asks.
 * Elements are trimmed of spaces and tabs and empty list elements are
 * skipped (the #rule's leniency; Go and nginx do the same).
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

/* Resolves one range against the length: false when it is unsatisfiable
 * (it starts at or beyond the end, or is a suffix of nothing). */
static bool resolve(uint64_t length, bool suffix, uint64_t *first, uint64_t *last)
{
    if (suffix) {
        if (*last == 0 || length == 0)
            return false;
        *first = *last >= length ? 0 : length - *last;
        *last = length - 1;
        return true;
    }
    if (*first >= length)
        return false;
    if (*last >= length)
        *last = length - 1;
    return true;
}

int arbor__http_range(const char *value, uint64_t length, http_range_t ranges[HTTP_MAX_RANGES],
                      size_t *n_out)
{
    const char *eq = strchr(value, '=');
    if (!eq || (size_t)(eq - value) != 5 || strncasecmp(value, "bytes", 5))
        return HTTP_RANGE_IGNORE; /* another unit, or not a range at all */
    size_t specs = 0, n = 0;
    for (const char *p = eq + 1;;) {
        const char *comma = strchr(p, ',');
        const char *end = comma ? comma : p + strlen(p);
        const char *s = p, *e = end;
        while (s < e && ows(*s))
            s++;
        while (e > s && ows(e[-1]))
            e--;
        uint64_t first = 0, last = 0;
        bool suffix = false;
        if (s < e) {
            if (!range_spec(s, e, &first, &last, &suffix) || ++specs > HTTP_MAX_RANGES)
                return HTTP_RANGE_IGNORE; /* not a valid byte-range set, or too many */
            if (resolve(length, suffix, &first, &last)) {
                for (size_t i = 0; i < n; i++)
                    if (first <= ranges[i].last && ranges[i].first <= last)
                        return HTTP_RANGE_IGNORE; /* overlapping ranges */
                ranges[n++] = (http_range_t){first, last};
            }
        }
        if (!comma)
            break;
        p = comma + 1;
    }
    /* None: not a range request. An empty representation has no byte to
     * point at, so it is served whole (empty) whatever was asked. */
    if (specs == 0 || length == 0)
        return HTTP_RANGE_IGNORE;
    if (n == 0)
        return HTTP_RANGE_UNSATISFIABLE;
    *n_out = n;
    return HTTP_RANGE_SATISFIABLE;
}

/*
 * HTTP-dates (RFC 9110 5.6.7): the IMF-fixdate the server writes
 * ("Sun, 06 Nov 1994 08:49:37 GMT"), and the three forms a recipient must
 * read: IMF-fixdate, the obsolete RFC 850 form ("Sunday, 06-Nov-94
 * 08:49:37 GMT") and asctime's ("Sun Nov  6 08:49:37 1994").
 *
 * Written and read by hand rather than with strftime()/strptime(), whose
 * day and month names follow the process's locale: an HTTP-date is always
 * in English and in GMT.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "http_internal.h"

static const char day_names[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char *const long_day_names[7] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                              "Thursday", "Friday", "Saturday"};
static const char month_names[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

/* Days from 1970-01-01 to year-month-day (proleptic Gregorian; month
 * 1..12), after Howard Hinnant's days_from_civil. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

/* The inverse: the civil date of a day count. */
static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static bool leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned days_in_month(int64_t y, unsigned m)
{
    static const unsigned days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && leap(y) ? 29 : days[m - 1];
}

void arbor__http_date_format(int64_t t, char out[HTTP_DATE_SIZE])
{
    int64_t days = t / 86400, secs = t % 86400;
    if (secs < 0) {
        secs += 86400;
        days--;
    }
    int64_t y;
    unsigned m, d;
    civil_from_days(days, &y, &m, &d);
    int wday = (int)((days % 7 + 11) % 7); /* 1970-01-01 was a Thursday */
    snprintf(out, HTTP_DATE_SIZE, "%s, %02u %s %04lld %02d:%02d:%02d GMT", day_names[wday], d,
             month_names[m - 1], (long long)y, (int)(secs / 3600), (int)(secs / 60 % 60),
             (int)(secs % 60));
}

/* ---- reading -------------------------------------------------------------------------- */

/* A cursor over the text: each step consumes what it matched, or fails. */
typedef struct cursor {
    const char *p;
    bool ok;
} cursor_t;

static void literal(cursor_t *c, const char *s)
{
    size_t n = strlen(s);
    if (c->ok && !strncmp(c->p, s, n))
        c->p += n;
    else
        c->ok = false;
}

/* Exactly n digits. */
static unsigned digits(cursor_t *c, int n)
{
    unsigned v = 0;
    for (int i = 0; i < n && c->ok; i++, c->p++) {
        if (*c->p < '0' || *c->p > '9')
            c->ok = false;
        else
            v = v * 10 + (unsigned)(*c->p - '0');
    }
    return c->ok ? v : 0;
}

/* One of the names (case-sensitive, as the grammar's literals are). */
static void long_name(cursor_t *c, const char *const *names, size_t n)
{
    for (size_t i = 0; c->ok && i < n; i++) {
        size_t len = strlen(names[i]);
        if (!strncmp(c->p, names[i], len)) {
            c->p += len;
            return;
        }
    }
    c->ok = false;
}

static int short_name(cursor_t *c, const char (*names)[4], size_t n)
{
    for (size_t i = 0; c->ok && i < n; i++)
        if (!strncmp(c->p, names[i], 3)) {
            c->p += 3;
            return (int)i;
        }
    c->ok = false;
    return -1;
}

/* "hh:mm:ss" */
static void time_of_day(cursor_t *c, unsigned *h, unsigned *mi, unsigned *s)
{
    *h = digits(c, 2);
    literal(c, ":");
    *mi = digits(c, 2);
    literal(c, ":");
    *s = digits(c, 2);
}

bool arbor__http_date_parse(const char *text, int64_t *out)
{
    cursor_t c = {text, true};
    unsigned d = 0, m = 0, h = 0, mi = 0, s = 0;
    int64_t y = 0;
    if (strlen(text) >= 4 && text[3] == ',') { /* IMF-fixdate */
        short_name(&c, day_names, 7);
        literal(&c, ", ");
        d = digits(&c, 2);
        literal(&c, " ");
        m = (unsigned)short_name(&c, month_names, 12) + 1;
        literal(&c, " ");
        y = digits(&c, 4);
        literal(&c, " ");
        time_of_day(&c, &h, &mi, &s);
        literal(&c, " GMT");
    } else if (strchr(text, ',')) { /* rfc850-date */
        long_name(&c, long_day_names, 7);
        literal(&c, ", ");
        d = digits(&c, 2);
        literal(&c, "-");
        m = (unsigned)short_name(&c, month_names, 12) + 1;
        literal(&c, "-");
        y = digits(&c, 2);
        literal(&c, " ");
        time_of_day(&c, &h, &mi, &s);
        literal(&c, " GMT");
        /* A two-digit year that would be more than 50 years ahead is the
         * last such year in the past (RFC 9110 5.6.7). */
        int64_t this_year, century;
        unsigned mm, dd;
        civil_from_days((int64_t)time(NULL) / 86400, &this_year, &mm, &dd);
        century = this_year - this_year % 100;
        y += century;
        if (y > this_year + 50)
            y -= 100;
    } else { /* asctime-date: "Sun Nov  6 08:49:37 1994" */
        short_name(&c, day_names, 7);
        literal(&c, " ");
        m = (unsigned)short_name(&c, month_names, 12) + 1;
        literal(&c, " ");
        if (c.ok && *c.p == ' ') {
            c.p++;
            d = digits(&c, 1);
        } else {
            d = digits(&c, 2);
        }
        literal(&c, " ");
        time_of_day(&c, &h, &mi, &s);
        literal(&c, " ");
        y = digits(&c, 4);
    }
    if (!c.ok || *c.p != '\0' || m < 1 || m > 12 || d < 1 || d > days_in_month(y, m) || h > 23 ||
        mi > 59 || s > 60)
        return false;
    if (s == 60)
        s = 59; /* a leap second: the second before it, so no date moves a minute on */
    *out = days_from_civil(y, m, d) * 86400 + h * 3600 + mi * 60 + s;
    return true;
}

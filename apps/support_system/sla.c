#include "sla.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SECOND 1000LL
#define MINUTE (60 * SECOND)
#define HOUR   (60 * MINUTE)
#define DAY    (24 * HOUR)

const sla_policy_t sla_default_policy = {.resolve_ms = {[PRIORITY_LOW] = 72 * HOUR,
                                                        [PRIORITY_NORMAL] = 24 * HOUR,
                                                        [PRIORITY_HIGH] = 8 * HOUR,
                                                        [PRIORITY_URGENT] = 4 * HOUR}};

static const struct {
    char unit;
    int64_t ms;
} units[] = {{'d', DAY}, {'h', HOUR}, {'m', MINUTE}, {'s', SECOND}};

/* One "PRIORITY=DURATION" of len bytes at item into p; *seen: the
 * priorities the option named before (a bit each), as one may be named
 * once. */
static bool parse_item(const char *item, size_t len, sla_policy_t *p, unsigned *seen, char *why,
                       size_t size)
{
    const char *eq = memchr(item, '=', len);
    char name[16];
    ticket_priority_t prio;
    size_t name_len = eq ? (size_t)(eq - item) : 0;
    if (!eq || name_len == 0 || name_len >= sizeof name) {
        snprintf(why, size, "'%.*s': expected PRIORITY=DURATION (urgent=4h)", (int)len, item);
        return false;
    }
    memcpy(name, item, name_len);
    name[name_len] = '\0';
    if (!ticket_priority_parse(name, &prio)) {
        snprintf(why, size, "'%s': the priorities are low, normal, high and urgent", name);
        return false;
    }
    if (*seen & 1u << prio) {
        snprintf(why, size, "'%s' is given twice", name);
        return false;
    }
    *seen |= 1u << prio;
    const char *num = eq + 1, *end = item + len;
    int64_t n = 0;
    const char *d = num;
    for (; d < end && *d >= '0' && *d <= '9'; d++) {
        n = n * 10 + (*d - '0');
        if (n > SLA_MAX_MS / SECOND)
            break;
    }
    int64_t unit = 0;
    if (d > num && d + 1 == end)
        for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
            if (*d == units[i].unit)
                unit = units[i].ms;
    if (!unit || n == 0 || n > SLA_MAX_MS / unit) {
        snprintf(why, size,
                 "'%.*s': expected a whole number of s, m, h or d (4h, 30m), from 1s to 366d",
                 (int)(end - num), num);
        return false;
    }
    p->resolve_ms[prio] = n * unit;
    return true;
}

bool sla_parse(const char *spec, sla_policy_t *p, char *why, size_t size)
{
    sla_policy_t next = *p;
    unsigned seen = 0;
    if (!spec[0]) {
        snprintf(why, size, "expected PRIORITY=DURATION[,...] (urgent=4h,normal=24h)");
        return false;
    }
    for (const char *item = spec;;) {
        const char *comma = strchr(item, ',');
        size_t len = comma ? (size_t)(comma - item) : strlen(item);
        if (!parse_item(item, len, &next, &seen, why, size))
            return false;
        if (!comma)
            break;
        item = comma + 1;
    }
    *p = next;
    return true;
}

void sla_format(const sla_policy_t *p, char *buf, size_t size)
{
    size_t len = 0;
    buf[0] = '\0';
    for (int prio = PRIORITY_URGENT; prio >= PRIORITY_LOW; prio--) {
        int64_t ms = p->resolve_ms[prio];
        size_t u = 0;
        while (u + 1 < sizeof units / sizeof units[0] && ms % units[u].ms != 0)
            u++;
        int n = snprintf(buf + len, len < size ? size - len : 0, "%s%s=%lld%c", len ? "," : "",
                         ticket_priority_name((ticket_priority_t)prio),
                         (long long)(ms / units[u].ms), units[u].unit);
        if (n > 0)
            len += (size_t)n;
    }
}

static int64_t resolve_ms(const sla_policy_t *p, ticket_priority_t prio)
{
    return p->resolve_ms[(unsigned)prio <= PRIORITY_URGENT ? prio : PRIORITY_NORMAL];
}

static bool unresolved(ticket_status_t s)
{
    return s == TICKET_OPEN || s == TICKET_ASSIGNED || s == TICKET_PENDING;
}

void sla_start(const sla_policy_t *p, ticket_t *t, int64_t now)
{
    t->due_at = now + resolve_ms(p, t->priority);
    t->sla_paused = false;
    t->sla_left_ms = 0;
    t->breached_at = 0;
}

void sla_follow(const sla_policy_t *p, const ticket_t *before, ticket_t *after, int64_t now)
{
    bool was = unresolved(before->status), is = unresolved(after->status);
    if (!is) { /* resolved or closed: the clock stops; a breach stays recorded */
        after->due_at = 0;
        after->sla_paused = false;
        after->sla_left_ms = 0;
        return;
    }
    if (!was) { /* reopened: a new clock */
        sla_start(p, after, now);
        return;
    }
    /* The time left now, whether paused or running (a ticket without a
     * clock, as none should be, counts from its creation). */
    int64_t left = before->sla_paused ? before->sla_left_ms
                   : before->due_at   ? before->due_at - now
                                      : before->created_at + resolve_ms(p, before->priority) - now;
    if (after->priority != before->priority)
        left += resolve_ms(p, after->priority) - resolve_ms(p, before->priority);
    if (after->status == TICKET_PENDING) {
        after->due_at = 0;
        after->sla_paused = true;
        after->sla_left_ms = left;
    } else {
        after->due_at = now + left;
        after->sla_paused = false;
        after->sla_left_ms = 0;
    }
    if (after->breached_at && left > 0 && after->priority != before->priority)
        after->breached_at = 0; /* due again later: it may breach again then */
}

bool sla_due(const ticket_t *t, int64_t now)
{
    return unresolved(t->status) && !t->sla_paused && t->due_at && !t->breached_at &&
           t->due_at <= now;
}

bool sla_overdue(const ticket_t *t)
{
    return t->breached_at != 0 && unresolved(t->status);
}

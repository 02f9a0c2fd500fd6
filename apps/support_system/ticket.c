#include "ticket.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "../common/utf8.h"

static const char *const statuses[] = {"open", "assigned", "resolved", "closed"};
static const char *const priorities[] = {"low", "normal", "high", "urgent"};

const char *ticket_status_name(ticket_status_t s)
{
    return (unsigned)s < 4 ? statuses[s] : "?";
}

const char *ticket_priority_name(ticket_priority_t p)
{
    return (unsigned)p < 4 ? priorities[p] : "?";
}

bool ticket_status_parse(const char *s, ticket_status_t *out)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(s, statuses[i]) == 0) {
            *out = (ticket_status_t)i;
            return true;
        }
    return false;
}

bool ticket_priority_parse(const char *s, ticket_priority_t *out)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(s, priorities[i]) == 0) {
            *out = (ticket_priority_t)i;
            return true;
        }
    return false;
}

static void fail(ticket_error_t *err, const char *code, const char *fmt, const char *a,
                 const char *b)
{
    snprintf(err->code, sizeof err->code, "%s", code);
    snprintf(err->message, sizeof err->message, fmt, a, b);
}

bool ticket_check_text(const char *field, const char *value, size_t max, bool may_be_empty,
                       ticket_error_t *err)
{
    size_t n = value ? strlen(value) : 0, chars = 0;
    if (n == 0 && !may_be_empty) {
        fail(err, "empty_field", "%s must not be empty%s", field, "");
        return false;
    }
    if (!utf8_check(value ? value : "", n, &chars, NULL)) {
        fail(err, "bad_field", "%s is not valid UTF-8 text%s", field, "");
        return false;
    }
    if (chars > max) {
        char limit[32];
        snprintf(limit, sizeof limit, "%zu", max);
        fail(err, "field_too_long", "%s is longer than %s characters", field, limit);
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)value[i];
        if (c < 0x20 || c == 0x7f) {
            fail(err, "bad_field", "%s contains a control character%s", field, "");
            return false;
        }
    }
    return true;
}

bool ticket_apply(ticket_t *t, ticket_action_t action, const char *agent, int64_t now,
                  ticket_error_t *err)
{
    ticket_status_t from = t->status, to;
    switch (action) {
    case ACTION_ASSIGN:
        if (from == TICKET_ASSIGNED) {
            fail(err, "already_assigned", "the ticket is already assigned to %s%s", t->agent, "");
            return false;
        }
        if (from != TICKET_OPEN)
            goto refused;
        if (!ticket_check_text("agent", agent, TICKET_NAME_MAX, false, err))
            return false;
        to = TICKET_ASSIGNED;
        break;
    case ACTION_RESOLVE:
        if (from != TICKET_ASSIGNED)
            goto refused;
        to = TICKET_RESOLVED;
        break;
    case ACTION_CLOSE:
        if (from != TICKET_RESOLVED)
            goto refused;
        to = TICKET_CLOSED;
        break;
    case ACTION_REOPEN:
        if (from != TICKET_RESOLVED && from != TICKET_CLOSED)
            goto refused;
        to = TICKET_OPEN;
        break;
    default:
        fail(err, "bad_action", "unknown action%s%s", "", "");
        return false;
    }
    t->status = to;
    if (action == ACTION_ASSIGN)
        snprintf(t->agent, sizeof t->agent, "%s", agent);
    if (action == ACTION_REOPEN)
        t->agent[0] = '\0';
    t->updated_at = now;
    return true;
refused:
    fail(err, "invalid_transition", "a ticket that is %s cannot be %s", ticket_status_name(from),
         action == ACTION_ASSIGN    ? "assigned"
         : action == ACTION_RESOLVE ? "resolved"
         : action == ACTION_CLOSE   ? "closed"
                                    : "reopened");
    return false;
}

int64_t ticket_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

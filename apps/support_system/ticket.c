#include "ticket.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "../common/utf8.h"

static const char *const statuses[TICKET_STATUSES] = {"open", "assigned", "resolved", "closed",
                                                      "pending"};
static const char *const priorities[] = {"low", "normal", "high", "urgent"};
static const char *const actions[TICKET_ACTIONS] = {"assign", "resolve", "reopen",   "close",
                                                    "pend",   "resume",  "reassign", "unassign",
                                                    "edit",   "reply",   "note"};
static const char *const actor_kinds[] = {"operator", "agent", "customer", "desk"};

const char *ticket_status_name(ticket_status_t s)
{
    return (unsigned)s < TICKET_STATUSES ? statuses[s] : "?";
}

const char *ticket_priority_name(ticket_priority_t p)
{
    return (unsigned)p < 4 ? priorities[p] : "?";
}

const char *ticket_action_name(ticket_action_t a)
{
    return (unsigned)a < TICKET_ACTIONS ? actions[a] : "?";
}

const char *ticket_actor_kind_name(ticket_actor_kind_t k)
{
    return (unsigned)k < 4 ? actor_kinds[k] : "?";
}

/* The index of s in names[0..n), or -1. */
static int find(const char *const *names, int n, const char *s)
{
    for (int i = 0; i < n; i++)
        if (strcmp(s, names[i]) == 0)
            return i;
    return -1;
}

bool ticket_status_parse(const char *s, ticket_status_t *out)
{
    int i = find(statuses, TICKET_STATUSES, s);
    if (i >= 0)
        *out = (ticket_status_t)i;
    return i >= 0;
}

bool ticket_priority_parse(const char *s, ticket_priority_t *out)
{
    int i = find(priorities, 4, s);
    if (i >= 0)
        *out = (ticket_priority_t)i;
    return i >= 0;
}

bool ticket_actor_kind_parse(const char *s, ticket_actor_kind_t *out)
{
    int i = find(actor_kinds, 4, s);
    if (i >= 0)
        *out = (ticket_actor_kind_t)i;
    return i >= 0;
}

size_t ticket_change_size(const ticket_change_t *c)
{
    return offsetof(ticket_change_t, text) + strnlen(c->text, sizeof c->text - 1) + 1;
}

/* Copies the strings of parts (NULL-ended) one after another into dst
 * (size bytes, NUL-terminated, cut short when they do not fit): the
 * event texts and names, without a formatting pass (the ticket_workflow
 * benchmark spent a twentieth of each ticket in snprintf here). */
static void concat(char *dst, size_t size, const char *const *parts)
{
    size_t len = 0;
    for (; *parts && len + 1 < size; parts++) {
        size_t n = strlen(*parts);
        if (n > size - 1 - len)
            n = size - 1 - len;
        memcpy(dst + len, *parts, n);
        len += n;
    }
    dst[len] = '\0';
}

#define CONCAT(dst, size, ...) concat(dst, size, (const char *const[]){__VA_ARGS__, NULL})

static bool fail(ticket_error_t *err, const char *code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    snprintf(err->code, sizeof err->code, "%s", code);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return false;
}

/* Whether value, which is not empty, is made of blanks alone: spaces,
 * and those of the control characters allowed that are (tabs, line
 * breaks). */
static bool blank(const char *value, const char *allowed)
{
    for (; *value; value++)
        if (*value != ' ' && !((*value == '\t' || *value == '\n') && strchr(allowed, *value)))
            return false;
    return true;
}

/* The common checks of a text field; allowed: the control characters
 * that may appear. A value of blanks alone is refused, as nobody can tell
 * it from no value in a list (empty_field, unless it may be empty: then
 * bad_field, since the field would look empty and not be). */
static bool check_text(const char *field, const char *value, size_t max, bool may_be_empty,
                       const char *allowed, ticket_error_t *err)
{
    /* Printable ASCII alone (0x20 to 0x7e), the usual text: valid UTF-8,
     * a character a byte, no control character, in one pass (the general
     * checks below were 1,000 instructions of an in-memory ticket's six
     * checks of short names). */
    size_t ascii = 0;
    while (value && (unsigned char)(value[ascii] - 0x20) < 0x5f)
        ascii++;
    if (value && value[ascii] == '\0' && (ascii > 0 || may_be_empty) && value[0] != ' ') {
        if (ascii > max)
            return fail(err, "field_too_long", "%s is longer than %zu characters", field, max);
        return true;
    }
    size_t n = value ? ascii + strlen(value + ascii) : 0, chars = 0;
    if (n == 0 && !may_be_empty)
        return fail(err, "empty_field", "%s must not be empty", field);
    if (n > 0 && blank(value, allowed))
        return fail(err, may_be_empty ? "bad_field" : "empty_field",
                    "%s must not be blank (spaces alone)", field);
    if (!utf8_check(value ? value : "", n, &chars, NULL))
        return fail(err, "bad_field", "%s is not valid UTF-8 text", field);
    if (chars > max)
        return fail(err, "field_too_long", "%s is longer than %zu characters", field, max);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)value[i];
        /* C0 and DEL; and C1, U+0080 to U+009F (0xc2 0x80 to 0xc2 0x9f in
         * valid UTF-8: NEL, CSI, ...), which terminals act on too. */
        bool c1 = c == 0xc2 && i + 1 < n && (unsigned char)value[i + 1] < 0xa0;
        if (((c < 0x20 || c == 0x7f) && !strchr(allowed, c)) || c1)
            return fail(err, "bad_field", "%s contains a control character", field);
    }
    return true;
}

bool ticket_check_text(const char *field, const char *value, size_t max, bool may_be_empty,
                       ticket_error_t *err)
{
    return check_text(field, value, max, may_be_empty, "", err);
}

bool ticket_check_body(const char *field, const char *value, size_t max, ticket_error_t *err)
{
    return check_text(field, value, max, false, "\n\t", err);
}

bool ticket_check_name(const char *field, const char *value, bool may_be_empty, ticket_error_t *err)
{
    if (!check_text(field, value, TICKET_NAME_MAX, may_be_empty, "", err))
        return false;
    size_t n = value ? strlen(value) : 0;
    if (n && (value[0] == ' ' || value[n - 1] == ' '))
        return fail(err, "bad_field", "%s must not begin or end with a space", field);
    return true;
}

bool ticket_same_agent_name(const char *a, const char *b)
{
    for (;; a++, b++) {
        unsigned x = (unsigned char)*a, y = (unsigned char)*b;
        x += x - 'A' < 26u ? 'a' - 'A' : 0;
        y += y - 'A' < 26u ? 'a' - 'A' : 0;
        if (x != y)
            return false;
        if (!x)
            return true;
    }
}

void ticket_agent_exists(const char *taken, const char *name, ticket_error_t *err)
{
    snprintf(err->code, sizeof err->code, "agent_exists");
    snprintf(err->message, sizeof err->message, "there is already an agent called %s%s", taken,
             strcmp(taken, name) ? " (names that differ only in case are one agent's)" : "");
}

bool ticket_check_actor(const ticket_actor_t *by, ticket_error_t *err)
{
    if (!by || (unsigned)by->kind > ACTOR_DESK)
        return fail(err, "bad_actor", "a change must say who makes it");
    return ticket_check_text("the actor's name", by->name, TICKET_NAME_MAX, false, err);
}

/* The refusal of an action the ticket's status does not allow. */
static bool refused(const ticket_t *t, ticket_action_t a, ticket_error_t *err)
{
    static const char *const done[TICKET_ACTIONS] = {
        "assigned",   "resolved",   "reopened", "closed",     "set pending", "resumed",
        "reassigned", "unassigned", "edited",   "replied to", "given a note"};
    return fail(err, "invalid_transition", "a ticket that is %s cannot be %s",
                ticket_status_name(t->status), done[a]);
}

static bool assign(ticket_t *t, const char *agent, char *event, size_t size, ticket_error_t *err)
{
    if (t->status == TICKET_ASSIGNED || t->status == TICKET_PENDING)
        return fail(err, "already_assigned", "the ticket is already assigned to %s", t->agent);
    if (t->status != TICKET_OPEN)
        return refused(t, ACTION_ASSIGN, err);
    if (!ticket_check_text("agent", agent, TICKET_NAME_MAX, false, err))
        return false;
    t->status = TICKET_ASSIGNED;
    CONCAT(t->agent, sizeof t->agent, agent);
    CONCAT(event, size, "assigned to ", agent);
    return true;
}

static bool reassign(ticket_t *t, const char *agent, char *event, size_t size, ticket_error_t *err)
{
    if (t->status != TICKET_ASSIGNED && t->status != TICKET_PENDING)
        return refused(t, ACTION_REASSIGN, err);
    if (!ticket_check_text("agent", agent, TICKET_NAME_MAX, false, err))
        return false;
    if (strcmp(agent, t->agent) == 0)
        return fail(err, "already_assigned", "the ticket is already assigned to %s", t->agent);
    CONCAT(event, size, "reassigned from ", t->agent, " to ", agent);
    CONCAT(t->agent, sizeof t->agent, agent);
    return true;
}

static bool close_ticket(ticket_t *t, const char *reason, char *event, size_t size,
                         ticket_error_t *err)
{
    if (t->status == TICKET_CLOSED)
        return refused(t, ACTION_CLOSE, err);
    bool needs_reason = t->status != TICKET_RESOLVED;
    if (!ticket_check_text("reason", reason, TICKET_NAME_MAX, !needs_reason, err)) {
        if (needs_reason && !reason[0])
            fail(err, "reason_required",
                 "a ticket that is %s is closed only with a reason (close ID REASON:"
                 " duplicate, spam, ...)",
                 ticket_status_name(t->status));
        return false;
    }
    t->status = TICKET_CLOSED;
    if (reason[0])
        CONCAT(event, size, "closed: ", reason);
    else
        CONCAT(event, size, "closed");
    return true;
}

/* Appends "; " (when event is not empty) and the formatted text. */
static void append(char *event, size_t size, const char *fmt, ...)
{
    size_t len = strlen(event);
    if (len && len + 2 < size) {
        memcpy(event + len, "; ", 3);
        len += 2;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(event + len, size - len, fmt, ap);
    va_end(ap);
}

static bool edit(ticket_t *t, const ticket_change_t *c, char *event, size_t size,
                 ticket_error_t *err)
{
    if (t->status == TICKET_CLOSED)
        return refused(t, ACTION_EDIT, err);
    if (!c->set_description && !c->set_customer && !c->set_priority)
        return fail(err, "bad_argument", "an edit changes a description, customer or priority");
    if ((c->set_description &&
         !ticket_check_text("description", c->description, TICKET_DESC_MAX, false, err)) ||
        (c->set_customer && !ticket_check_name("customer", c->customer, true, err)))
        return false;
    if (c->set_priority && (unsigned)c->priority > PRIORITY_URGENT)
        return fail(err, "bad_argument", "priority is low, normal, high or urgent");
    event[0] = '\0';
    if (c->set_description && strcmp(c->description, t->description) != 0) {
        snprintf(t->description, sizeof t->description, "%s", c->description);
        append(event, size, "description edited");
    }
    if (c->set_customer && strcmp(c->customer, t->customer) != 0) {
        append(event, size, "customer changed from %s to %s", t->customer[0] ? t->customer : "none",
               c->customer[0] ? c->customer : "none");
        snprintf(t->customer, sizeof t->customer, "%s", c->customer);
    }
    if (c->set_priority && c->priority != t->priority) {
        append(event, size, "priority changed from %s to %s", ticket_priority_name(t->priority),
               ticket_priority_name(c->priority));
        t->priority = c->priority;
    }
    if (!event[0])
        return fail(err, "unchanged", "the edit changes nothing: the ticket already says so");
    return true;
}

/* Applies c to next. Each action checks everything before it changes a
 * field, so a refusal leaves *next as it was (ticket_change relies on it
 * and copies no ticket: two 1.4 KB copies a change were a tenth of an
 * in-memory change's instructions). */
static bool apply(ticket_t *next, const ticket_change_t *c, char *event, size_t size,
                  ticket_error_t *err)
{
    ticket_status_t from = next->status;
    switch (c->action) {
    case ACTION_ASSIGN:
        return assign(next, c->agent, event, size, err);
    case ACTION_REASSIGN:
        return reassign(next, c->agent, event, size, err);
    case ACTION_UNASSIGN:
        if (from != TICKET_ASSIGNED && from != TICKET_PENDING)
            return refused(next, c->action, err);
        CONCAT(event, size, "unassigned from ", next->agent);
        next->status = TICKET_OPEN;
        next->agent[0] = '\0';
        return true;
    case ACTION_PEND:
        if (from != TICKET_ASSIGNED)
            return refused(next, c->action, err);
        next->status = TICKET_PENDING;
        CONCAT(event, size, "pending: waiting on the customer");
        return true;
    case ACTION_RESUME:
        if (from != TICKET_PENDING)
            return refused(next, c->action, err);
        next->status = TICKET_ASSIGNED;
        CONCAT(event, size, "resumed");
        return true;
    case ACTION_RESOLVE:
        if (from != TICKET_ASSIGNED && from != TICKET_PENDING)
            return refused(next, c->action, err);
        next->status = TICKET_RESOLVED;
        CONCAT(event, size, "resolved");
        return true;
    case ACTION_CLOSE:
        return close_ticket(next, c->reason, event, size, err);
    case ACTION_REOPEN:
        if (from != TICKET_RESOLVED && from != TICKET_CLOSED)
            return refused(next, c->action, err);
        next->status = TICKET_OPEN;
        next->agent[0] = '\0';
        CONCAT(event, size, "reopened");
        return true;
    case ACTION_EDIT:
        return edit(next, c, event, size, err);
    case ACTION_REPLY:
    case ACTION_NOTE:
        if (c->action == ACTION_REPLY && from == TICKET_CLOSED)
            return refused(next, c->action, err);
        if (!ticket_check_body("text", c->text, TICKET_TEXT_MAX, err))
            return false;
        CONCAT(event, size, c->action == ACTION_REPLY ? "replied" : "added a note");
        return true;
    }
    return fail(err, "bad_action", "unknown action");
}

bool ticket_change(ticket_t *t, const ticket_change_t *c, int64_t now, char *event,
                   size_t event_size, ticket_error_t *err)
{
    char text[TICKET_EVENT_SIZE];
    text[0] = '\0';
    if (!apply(t, c, text, sizeof text, err))
        return false; /* t as it was (apply) */
    t->updated_at = now;
    CONCAT(event, event_size, text);
    return true;
}

bool ticket_apply(ticket_t *t, ticket_action_t action, const char *agent, int64_t now,
                  ticket_error_t *err)
{
    ticket_change_t c = {.action = action};
    snprintf(c.agent, sizeof c.agent, "%s", agent ? agent : "");
    char event[TICKET_EVENT_SIZE];
    return ticket_change(t, &c, now, event, sizeof event, err);
}

bool ticket_changes_status(const ticket_t *before, const ticket_t *after)
{
    return before->status != after->status;
}

int64_t ticket_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Writes n as width digits at p. */
static char *put_digits(char *p, int n, int width)
{
    for (int i = width - 1; i >= 0; i--, n /= 10)
        p[i] = (char)('0' + n % 10);
    return p + width;
}

/* The civil date of a day counted from 1970-01-01 (proleptic Gregorian:
 * eras of 400 years, 146,097 days, starting on March 1st so that the leap
 * day ends a year). */
static void civil_from_days(int64_t days, int64_t *y, int *m, int *d)
{
    int64_t z = days + 719468; /* from 0000-03-01 */
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;                                      /* [0, 146096] */
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* [0, 399] */
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);               /* [0, 365] */
    int64_t mp = (5 * doy + 2) / 153;                                    /* March is 0 */
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

/* Formatted by hand for years 1000 to 9999 (strftime and gmtime_r were a
 * tenth of a desk_http request's instructions: each ticket's JSON has two
 * times); strftime's for the rest, which gives the same text there. */
void ticket_format_time(int64_t ms, char buf[TICKET_TIME_SIZE])
{
    int64_t secs = ms / 1000; /* toward zero, as before */
    int64_t days = secs / 86400, sod = secs % 86400;
    if (sod < 0) {
        sod += 86400;
        days--;
    }
    int64_t year;
    int month, day;
    civil_from_days(days, &year, &month, &day);
    if (year >= 1000 && year <= 9999) {
        char *p = put_digits(buf, (int)year, 4);
        *p++ = '-';
        p = put_digits(p, month, 2);
        *p++ = '-';
        p = put_digits(p, day, 2);
        *p++ = 'T';
        p = put_digits(p, (int)(sod / 3600), 2);
        *p++ = ':';
        p = put_digits(p, (int)(sod / 60 % 60), 2);
        *p++ = ':';
        p = put_digits(p, (int)(sod % 60), 2);
        *p++ = 'Z';
        *p = '\0';
        return;
    }
    time_t t = (time_t)secs;
    struct tm tm;
    if (!gmtime_r(&t, &tm) || !strftime(buf, TICKET_TIME_SIZE, "%Y-%m-%dT%H:%M:%SZ", &tm))
        snprintf(buf, TICKET_TIME_SIZE, "%lld", (long long)ms);
}

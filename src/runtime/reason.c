#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "arbor/reason.h"

static const char *const kind_names[] = {
    [ARBOR_EXIT_NORMAL] = "normal", [ARBOR_EXIT_SHUTDOWN] = "shutdown",
    [ARBOR_EXIT_KILL] = "kill",     [ARBOR_EXIT_KILLED] = "killed",
    [ARBOR_EXIT_NOPROC] = "noproc", [ARBOR_EXIT_TIMEOUT] = "timeout",
    [ARBOR_EXIT_ERROR] = "error",
};

const char *arbor_exit_kind_name(arbor_exit_kind_t kind)
{
    if ((unsigned)kind < sizeof kind_names / sizeof kind_names[0])
        return kind_names[kind];
    return "unknown";
}

static arbor_reason_t vmake(arbor_exit_kind_t kind, const char *fmt, va_list ap)
{
    arbor_reason_t r = {.kind = kind};
    if (fmt)
        vsnprintf(r.detail, sizeof r.detail, fmt, ap);
    return r;
}

arbor_reason_t arbor_reason(arbor_exit_kind_t kind, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    arbor_reason_t r = vmake(kind, fmt, ap);
    va_end(ap);
    return r;
}

arbor_reason_t arbor_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    arbor_reason_t r = vmake(ARBOR_EXIT_ERROR, fmt, ap);
    va_end(ap);
    return r;
}

bool arbor_reason_is_clean(const arbor_reason_t *r)
{
    return r->kind == ARBOR_EXIT_NORMAL || r->kind == ARBOR_EXIT_SHUTDOWN;
}

bool arbor_reason_equal(const arbor_reason_t *a, const arbor_reason_t *b)
{
    return a->kind == b->kind && strcmp(a->detail, b->detail) == 0;
}

int arbor_reason_format(const arbor_reason_t *r, char *buf, size_t size)
{
    const char *name = arbor_exit_kind_name(r->kind);
    if (r->kind == ARBOR_EXIT_ERROR)
        return snprintf(buf, size, "%s", r->detail[0] ? r->detail : "error");
    if (r->detail[0])
        return snprintf(buf, size, "{%s,%s}", name, r->detail);
    return snprintf(buf, size, "%s", name);
}

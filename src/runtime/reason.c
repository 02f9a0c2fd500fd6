#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "arbor/process.h"
#include "arbor/reason.h"

_Static_assert(sizeof(arbor_reason_t) == 64, "a reason sits in every signal node: keep it small");

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

/* The first bytes go into detail; a longer text is formatted again into
 * the calling process's memory, which frees it when the process ends. */
static arbor_reason_t vmake(arbor_exit_kind_t kind, const char *fmt, va_list ap)
{
    arbor_reason_t r = {.kind = kind};
    if (!fmt)
        return r;
    va_list again;
    va_copy(again, ap);
    int n = vsnprintf(r.detail, sizeof r.detail, fmt, ap);
    if (n > ARBOR_REASON_DETAIL_MAX && arbor_self() != ARBOR_NOPID) {
        char *text = arbor_alloc((size_t)n + 1);
        if (text) {
            vsnprintf(text, (size_t)n + 1, fmt, again);
            r.whole = text;
        }
    }
    va_end(again);
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

const char *arbor_reason_text(const arbor_reason_t *r)
{
    return r->whole ? r->whole : r->detail;
}

arbor_reason_t arbor_reason_copy(const arbor_reason_t *r)
{
    arbor_reason_t c = *r;
    c.whole = NULL;
    if (r->whole && arbor_self() != ARBOR_NOPID) {
        size_t n = strlen(r->whole) + 1;
        char *text = arbor_alloc(n);
        if (text)
            c.whole = memcpy(text, r->whole, n);
    }
    return c;
}

void arbor_reason_free(arbor_reason_t *r)
{
    if (!r || !r->whole)
        return;
    arbor_free((void *)r->whole);
    r->whole = NULL;
}

bool arbor_reason_equal(const arbor_reason_t *a, const arbor_reason_t *b)
{
    return a->kind == b->kind && strcmp(arbor_reason_text(a), arbor_reason_text(b)) == 0;
}

int arbor_reason_format(const arbor_reason_t *r, char *buf, size_t size)
{
    const char *name = arbor_exit_kind_name(r->kind);
    const char *text = arbor_reason_text(r);
    if (r->kind == ARBOR_EXIT_ERROR)
        return snprintf(buf, size, "%s", text[0] ? text : "error");
    if (text[0])
        return snprintf(buf, size, "{%s,%s}", name, text);
    return snprintf(buf, size, "%s", name);
}

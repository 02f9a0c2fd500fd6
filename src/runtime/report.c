/*
 * Reports: the line the default printer makes of one, and the handler:
 * one function pointer and its context, swapped atomically, so that
 * reports from any thread see a consistent pair.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "arbor.h"

int arbor_report_format(const arbor_report_t *r, char *buf, size_t size)
{
    static const char *const kinds[] = {"", "CRASH REPORT", "PROGRESS REPORT", "SUPERVISOR REPORT",
                                        "WARNING"};
    const char *kind = r->kind >= ARBOR_REPORT_CRASH && r->kind <= ARBOR_REPORT_WARNING
                           ? kinds[r->kind]
                           : "REPORT";
    char pid[32], small[128];
    arbor_pid_format(r->pid, pid, sizeof pid);
    /* The reason whole: a long one is formatted again into a block of its own. */
    int n = arbor_reason_format(&r->reason, small, sizeof small);
    char *reason = n >= (int)sizeof small ? malloc((size_t)n + 1) : NULL;
    if (reason)
        arbor_reason_format(&r->reason, reason, (size_t)n + 1);
    bool detail = r->detail && r->detail[0];
    n = snprintf(buf, size, "=%s==== %s %s %s: reason=%s%s%s", kind,
                 r->behaviour ? r->behaviour : "", pid, r->what ? r->what : "",
                 reason ? reason : small, detail ? " " : "", detail ? r->detail : "");
    free(reason);
    return n;
}

/* Progress reports are not printed by default, as OTP's default logger
 * level (notice) filters them; a handler of one's own sees them all. */
static void print_report(const arbor_report_t *r, void *ctx)
{
    (void)ctx;
    if (r->kind == ARBOR_REPORT_PROGRESS)
        return;
    char small[256];
    int n = arbor_report_format(r, small, sizeof small);
    char *line = n >= (int)sizeof small ? malloc((size_t)n + 1) : NULL;
    if (line)
        arbor_report_format(r, line, (size_t)n + 1);
    fprintf(stderr, "%s\n", line ? line : small);
    free(line);
}

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static arbor_report_fn handler = print_report;
static void *handler_ctx;

arbor_report_fn arbor_report_set_handler(arbor_report_fn fn, void *ctx)
{
    pthread_mutex_lock(&lock);
    arbor_report_fn old = handler;
    handler = fn ? fn : print_report;
    handler_ctx = fn ? ctx : NULL;
    pthread_mutex_unlock(&lock);
    return old;
}

void arbor_report(const arbor_report_t *r)
{
    pthread_mutex_lock(&lock);
    arbor_report_fn fn = handler;
    void *ctx = handler_ctx;
    pthread_mutex_unlock(&lock);
    fn(r, ctx);
}

/*
 * Reports: crash reports for behaviour processes that exit abnormally and
 * progress reports for children started by supervisors, like SASL's.
 *
 * Reports go to one handler, process-wide. The default prints one line to
 * stderr per report, except progress reports (which OTP's default logger
 * level filters too). A handler may be called from any scheduler thread,
 * concurrently; it must not block for long.
 */
#ifndef ARBOR_REPORT_H
#define ARBOR_REPORT_H

#include "process.h"
#include "reason.h"

#ifdef __cplusplus
extern "C" {
#endif

#pragma GCC visibility push(default)

typedef enum arbor_report_kind {
    ARBOR_REPORT_CRASH = 1,  /* a behaviour process exited abnormally */
    ARBOR_REPORT_PROGRESS,   /* a supervisor started a child */
    ARBOR_REPORT_SUPERVISOR, /* a supervisor error: child terminated, shutdown, intensity */
    ARBOR_REPORT_WARNING,    /* e.g. an unexpected message a server did not handle */
} arbor_report_kind_t;

typedef struct arbor_report {
    arbor_report_kind_t kind;
    arbor_pid_t pid;       /* the process the report is about */
    const char *behaviour; /* "gen_server", "supervisor", ... */
    const char *what;      /* short description: "crashed", "started", "child_terminated" */
    arbor_reason_t reason; /* exit reason, where one applies */
    const char *detail;    /* state summary, last message, child id; may be "" */
} arbor_report_t;

typedef void (*arbor_report_fn)(const arbor_report_t *report, void *ctx);

/* Installs fn (NULL restores the default printer). Returns the old one. */
arbor_report_fn arbor_report_set_handler(arbor_report_fn fn, void *ctx);

/* Formats report as the default printer prints it, on one line without
 * its newline: "=SUPERVISOR REPORT==== supervisor <0.5.1> start_error:
 * reason=... child=web". Writes at most size bytes, NUL included, and
 * returns the length of the whole line, as snprintf does. */
int arbor_report_format(const arbor_report_t *report, char *buf, size_t size);

/* Delivers a report to the current handler. */
void arbor_report(const arbor_report_t *report);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif
#endif

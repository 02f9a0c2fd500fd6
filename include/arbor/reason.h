/*
 * Exit reasons.
 *
 * An exit reason says why a process ended, or what an exit signal carries. It
 * is a small value type (64 bytes) that is copied freely between processes:
 * a kind, which carries the distinctions OTP's rules depend on, and a short
 * detail text for the rest ("{shutdown, Detail}" or a crash description).
 *
 *   kind                 OTP term            kills a linked, non-trapping partner?
 *   ARBOR_EXIT_NORMAL    normal              no
 *   ARBOR_EXIT_SHUTDOWN  shutdown            yes
 *                        {shutdown, Detail}  yes (detail non-empty)
 *   ARBOR_EXIT_KILL      kill                yes; untrappable when sent by
 *                                            arbor_exit_pid(), trappable when
 *                                            it arrives through a link
 *   ARBOR_EXIT_KILLED    killed              yes
 *   ARBOR_EXIT_NOPROC    noproc              (reported for missing processes)
 *   ARBOR_EXIT_TIMEOUT   timeout             yes
 *   ARBOR_EXIT_ERROR     any other term      yes; detail describes it
 */
#ifndef ARBOR_REASON_H
#define ARBOR_REASON_H

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#pragma GCC visibility push(default)

typedef enum arbor_exit_kind {
    ARBOR_EXIT_NORMAL = 0,
    ARBOR_EXIT_SHUTDOWN,
    ARBOR_EXIT_KILL,
    ARBOR_EXIT_KILLED,
    ARBOR_EXIT_NOPROC,
    ARBOR_EXIT_TIMEOUT,
    ARBOR_EXIT_ERROR,
} arbor_exit_kind_t;

#define ARBOR_REASON_DETAIL_MAX 59

typedef struct arbor_reason {
    arbor_exit_kind_t kind;
    char detail[ARBOR_REASON_DETAIL_MAX + 1]; /* NUL-terminated, may be empty */
} arbor_reason_t;

/* A reason with an empty detail. */
#define ARBOR_REASON(k) ((arbor_reason_t){.kind = (k), .detail = {0}})
#define ARBOR_NORMAL    ARBOR_REASON(ARBOR_EXIT_NORMAL)
#define ARBOR_SHUTDOWN  ARBOR_REASON(ARBOR_EXIT_SHUTDOWN)
#define ARBOR_KILL      ARBOR_REASON(ARBOR_EXIT_KILL)
#define ARBOR_KILLED    ARBOR_REASON(ARBOR_EXIT_KILLED)
#define ARBOR_NOPROC    ARBOR_REASON(ARBOR_EXIT_NOPROC)
#define ARBOR_TIMEOUT   ARBOR_REASON(ARBOR_EXIT_TIMEOUT)

/* Builds a reason of the given kind whose detail is printf-formatted and
 * truncated to ARBOR_REASON_DETAIL_MAX bytes. arbor_error("boom") is OTP's
 * exit(boom); arbor_reason(ARBOR_EXIT_SHUTDOWN, "x") is {shutdown, x}. */
arbor_reason_t arbor_reason(arbor_exit_kind_t kind, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
arbor_reason_t arbor_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* True for normal, shutdown and {shutdown, _}: the reasons a supervisor
 * treats as a successful stop of a transient child and that behaviours do
 * not log as crashes. */
bool arbor_reason_is_clean(const arbor_reason_t *r);

/* Kind and detail are equal. */
bool arbor_reason_equal(const arbor_reason_t *a, const arbor_reason_t *b);

/* Writes the reason as OTP would print it ("normal", "{shutdown,x}",
 * "killed", "boom") into buf (always NUL-terminated when size > 0). Returns
 * the length the full text needs, like snprintf. */
int arbor_reason_format(const arbor_reason_t *r, char *buf, size_t size);

/* The kind's name: "normal", "shutdown", "kill", ... Never NULL. */
const char *arbor_exit_kind_name(arbor_exit_kind_t kind);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif
#endif

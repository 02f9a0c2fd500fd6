/*
 * Exit reasons.
 *
 * An exit reason says why a process ended, or what an exit signal carries. It
 * is a small value type (64 bytes) that is copied freely: a kind, which
 * carries the distinctions OTP's rules depend on, and a detail text for the
 * rest ("{shutdown, Detail}" or a crash description).
 *
 * The text is kept whole. Up to ARBOR_REASON_DETAIL_MAX bytes sit in the
 * value itself (`detail`); a longer text also lies whole behind `whole`,
 * and arbor_reason_text() returns whichever holds it. You never free a
 * reason's text yourself unless you choose to; it lives as long as what
 * the reason came in:
 *
 *   where the reason came from                    its whole text lives until
 *   arbor_reason(), arbor_error(), arbor_reason_copy()
 *     called in a process                         that process ends (or
 *                                                 arbor_reason_free())
 *     called outside a process                    - (cut to `detail`)
 *   an EXIT or DOWN message (msg->data)           arbor_msg_free(msg)
 *   an out-parameter the library fills            the calling process ends
 *     (exit_out, error_out, why)                  (or arbor_reason_free())
 *   a callback's argument (terminate, a report)   the callback returns
 *   arbor_run()'s root_exit                       - (cut to `detail`)
 *
 * So copy a reason with arbor_reason_copy() when it must outlive the message
 * it came in. Do not send an arbor_reason_t inside message bytes: `whole`
 * is a pointer into the sender's memory; send arbor_reason_format()'s text.
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

#define ARBOR_REASON_DETAIL_MAX 51

typedef struct arbor_reason {
    arbor_exit_kind_t kind;
    /* NUL-terminated, may be empty: the text, or its first
     * ARBOR_REASON_DETAIL_MAX bytes when it is longer. */
    char detail[ARBOR_REASON_DETAIL_MAX + 1];
    /* The whole text when it is longer than detail holds, else NULL. Read
     * it through arbor_reason_text(); see above for how long it lives. */
    const char *whole;
} arbor_reason_t;

/* A reason with an empty detail. */
#define ARBOR_REASON(k) ((arbor_reason_t){.kind = (k), .detail = {0}})
#define ARBOR_NORMAL    ARBOR_REASON(ARBOR_EXIT_NORMAL)
#define ARBOR_SHUTDOWN  ARBOR_REASON(ARBOR_EXIT_SHUTDOWN)
#define ARBOR_KILL      ARBOR_REASON(ARBOR_EXIT_KILL)
#define ARBOR_KILLED    ARBOR_REASON(ARBOR_EXIT_KILLED)
#define ARBOR_NOPROC    ARBOR_REASON(ARBOR_EXIT_NOPROC)
#define ARBOR_TIMEOUT   ARBOR_REASON(ARBOR_EXIT_TIMEOUT)

/* Builds a reason of the given kind whose detail is printf-formatted.
 * arbor_error("boom") is OTP's exit(boom); arbor_reason(ARBOR_EXIT_SHUTDOWN,
 * "x") is {shutdown, x}. A text longer than ARBOR_REASON_DETAIL_MAX is kept
 * whole in the calling process's memory (arbor_alloc()) until the process
 * ends or arbor_reason_free(); outside a process, or when there is no memory
 * for it, it is cut to ARBOR_REASON_DETAIL_MAX bytes. */
arbor_reason_t arbor_reason(arbor_exit_kind_t kind, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
arbor_reason_t arbor_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* True for normal, shutdown and {shutdown, _}: the reasons a supervisor
 * treats as a successful stop of a transient child and that behaviours do
 * not log as crashes. */
bool arbor_reason_is_clean(const arbor_reason_t *r);

/* The reason's whole detail text: r->whole, or r->detail. Never NULL. */
const char *arbor_reason_text(const arbor_reason_t *r);

/* A copy of r whose whole text lives in the calling process's memory until
 * the process ends or arbor_reason_free(): what keeps a reason taken out of
 * a message after the message is freed. Outside a process, or when there is
 * no memory, the copy's text is cut to ARBOR_REASON_DETAIL_MAX bytes. */
arbor_reason_t arbor_reason_copy(const arbor_reason_t *r);

/* Frees r's whole text early and leaves r with its cut text; for a process
 * that lives long and makes or receives many long reasons. Only for a
 * reason whose text is this process's: made by arbor_reason(),
 * arbor_error() or arbor_reason_copy() in it, or written to an
 * out-parameter of this process's call; never for one read from a message
 * or a callback's argument. A short reason, or NULL, is a no-op. */
void arbor_reason_free(arbor_reason_t *r);

/* Kind and whole detail text are equal. */
bool arbor_reason_equal(const arbor_reason_t *a, const arbor_reason_t *b);

/* Writes the reason as OTP would print it ("normal", "{shutdown,x}",
 * "killed", "boom"), with its whole text, into buf (always NUL-terminated
 * when size > 0). Returns the length the full text needs, like snprintf. */
int arbor_reason_format(const arbor_reason_t *r, char *buf, size_t size);

/* The kind's name: "normal", "shutdown", "kill", ... Never NULL. */
const char *arbor_exit_kind_name(arbor_exit_kind_t kind);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif
#endif

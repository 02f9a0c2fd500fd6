/*
 * Messages, timers and blocking work.
 *
 * A message is a tag (a 64-bit integer the application chooses) plus bytes.
 * arbor_send() copies the bytes; arbor_send_move() passes ownership of a heap
 * block. Sending to a process that does not exist is a silent no-op, as in
 * Erlang. Messages from one sender to one receiver arrive in the order sent;
 * there is no order between different senders.
 *
 * Tags at or above ARBOR_TAG_SYSTEM are the runtime's: exit and down
 * notifications arrive with those tags and fixed payloads.
 */
#ifndef ARBOR_MESSAGE_H
#define ARBOR_MESSAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "process.h"
#include "reason.h"

#ifdef __cplusplus
extern "C" {
#endif

#pragma GCC visibility push(default)

#define ARBOR_TAG_SYSTEM ((uint64_t)0xFFFFFFFF00000000ull)
/* A trapped exit signal: data is an arbor_exit_msg_t. */
#define ARBOR_TAG_EXIT (ARBOR_TAG_SYSTEM + 1)
/* A monitor fired: data is an arbor_down_msg_t. */
#define ARBOR_TAG_DOWN (ARBOR_TAG_SYSTEM + 2)
/* First tag reserved for the OTP layer (call replies, system requests). */
#define ARBOR_TAG_OTP (ARBOR_TAG_SYSTEM + 0x10000)

typedef struct arbor_exit_msg {
    arbor_pid_t from;
    arbor_reason_t reason;
} arbor_exit_msg_t;

typedef struct arbor_down_msg {
    arbor_ref_t ref;
    arbor_pid_t pid;
    arbor_reason_t reason;
} arbor_down_msg_t;

/* A received message. The fields are read-only; the receiver owns the
 * message and releases it with arbor_msg_free(). data is aligned to 16
 * bytes and valid until then. */
typedef struct arbor_msg {
    uint64_t tag;
    arbor_pid_t from; /* the sender, or ARBOR_NOPID when sent from outside a process */
    size_t size;
    void *data;
    arbor_ref_t alias; /* the alias it was sent to (arbor_send_alias), or 0 */
} arbor_msg_t;

/* Infinite timeout for receive functions. */
#define ARBOR_INFINITY (-1)

/* Largest payload arbor_send() copies. */
#define ARBOR_MSG_MAX ((size_t)1 << 30)

/*
 * Copies size bytes at data into a message with tag and queues it for to.
 * Returns 0 (also when to does not exist), ARBOR_EINVAL for a system tag or
 * ARBOR_NOPID, ARBOR_ETOOBIG, ARBOR_ENOMEM (nothing sent). Any thread.
 */
int arbor_send(arbor_pid_t to, uint64_t tag, const void *data, size_t size);

/*
 * Sends ptr (a block of size bytes) without copying: ownership passes to the
 * receiver, which gets it as msg->data and may keep it with arbor_msg_take().
 * free_fn (NULL for free()) releases ptr when nobody takes it: when the
 * message is freed, or at once if to does not exist. On ARBOR_EINVAL and
 * ARBOR_ENOMEM the caller still owns ptr. Any thread.
 */
int arbor_send_move(arbor_pid_t to, uint64_t tag, void *ptr, size_t size, void (*free_fn)(void *));

/*
 * Takes the next message of the calling process's mailbox, waiting up to
 * timeout_ms (0 polls, ARBOR_INFINITY waits forever). Returns 0 and stores
 * the message, or ARBOR_ETIMEDOUT. An exit signal that kills the caller takes
 * effect at its next receive (or while it waits), even when it was sent after
 * messages still queued. Process only.
 */
int arbor_receive(int64_t timeout_ms, arbor_msg_t **out);

/* Selective receive: takes the first message for which match(msg, arg)
 * returns true, leaving the others queued in order. match must not block or
 * receive. Otherwise as arbor_receive(). */
typedef bool (*arbor_match_fn)(const arbor_msg_t *msg, void *arg);
int arbor_receive_match(arbor_match_fn match, void *arg, int64_t timeout_ms, arbor_msg_t **out);

/*
 * Receive marks (the BEAM's receive optimisation for calls): a process
 * about to send a request whose answer can only arrive after the request
 * calls arbor_receive_mark() first, then arbor_receive_match_marked(),
 * which skips every message queued before the mark. A call then costs the
 * same however long the caller's mailbox is. One mark per process; the
 * marked receive clears it. Process only.
 */
int arbor_receive_mark(void);
int arbor_receive_match_marked(arbor_match_fn match, void *arg, int64_t timeout_ms,
                               arbor_msg_t **out);

/* Releases a received message (and a moved block nobody took). NULL is a
 * no-op. */
void arbor_msg_free(arbor_msg_t *msg);

/* Takes ownership of a moved block out of msg: returns msg->data, which the
 * caller must now release with the free_fn the sender chose; the message
 * itself must still be freed. Returns NULL for a copied message. */
void *arbor_msg_take(arbor_msg_t *msg);

/* In a reactor's handle callback: keep msg after handle returns; the
 * handler then owns it and frees it with arbor_msg_free(). */
void arbor_msg_keep(arbor_msg_t *msg);

/* ---- aliases ---------------------------------------------------------------- */

/*
 * An alias is a reference through which others may message the calling
 * process for as long as it stays active (OTP 24's process aliases). A
 * message sent to an inactive alias is dropped, also when it was already
 * queued: that is how a call that gave up never sees its late reply.
 * Process only. Returns 0 and the alias, or ARBOR_ENOTPROC / ARBOR_ENOMEM.
 */
int arbor_alias(arbor_ref_t *alias_out);

/* Deactivates alias and drops the messages sent to it that are queued.
 * Returns 0, or ARBOR_ENOENT if it was not an active alias of the caller. */
int arbor_unalias(arbor_ref_t alias);

/* Like arbor_send() to pid, through alias: delivered only while alias is
 * active in pid. Returns 0 also when it is not. */
int arbor_send_alias(arbor_pid_t pid, arbor_ref_t alias, uint64_t tag, const void *data,
                     size_t size);

/* The answer to a request that came with its sender's monitor
 * (arbor_monitor_send()), from the process that received it: sends data
 * to the sender's alias with tag, as arbor_send_alias(call->from, alias,
 * ...), and, when the sender still monitors us with the request's
 * monitor, drops that monitor on our side and says so in the answer
 * (arbor_demonitor_answered()), so that the sender need not send the
 * demonitor signal a GenServer call otherwise ends with. Our DOWN can
 * then no longer reach the sender for that monitor: it has the answer.
 * call must be a message this process received and still holds. Returns
 * as arbor_send_alias(). */
int arbor_answer_monitored(const arbor_msg_t *call, arbor_ref_t alias, uint64_t tag,
                           const void *data, size_t size);

/* Removes the monitor ref after its answer arrived: when answer is
 * arbor_answer_monitored()'s for ref, the other side has dropped the
 * monitor already, and nothing is sent; otherwise as
 * arbor_demonitor(ref, ARBOR_DEMONITOR_FLUSH). Process only. */
int arbor_demonitor_answered(arbor_ref_t ref, const arbor_msg_t *answer);

/* ---- timers ---------------------------------------------------------------- */

typedef struct arbor_timer arbor_timer_t;

/*
 * Sends a copy of (tag, data, size) to `to` after ms milliseconds, from the
 * calling process (from = ARBOR_NOPID outside one). When timer_out is not
 * NULL it receives a handle to pass to arbor_cancel_timer() or
 * arbor_timer_release(): from the same process, which may also just exit
 * (its handles are then released for it; the timer still fires), or,
 * outside a process, eventually from any thread. Returns 0, ARBOR_EINVAL,
 * ARBOR_ENOMEM.
 */
int arbor_send_after(arbor_pid_t to, uint64_t tag, const void *data, size_t size, uint64_t ms,
                     arbor_timer_t **timer_out);

/* Cancels the timer and releases the handle. Returns 0 if the message had
 * not been sent and now never will be, ARBOR_ENOENT if it was already sent. */
int arbor_cancel_timer(arbor_timer_t *timer);

/* Releases the handle without cancelling. */
void arbor_timer_release(arbor_timer_t *timer);

/* Monotonic milliseconds since an arbitrary point. */
uint64_t arbor_now_ms(void);

/* ---- blocking work ----------------------------------------------------------- */

/*
 * Runs fn(arg) on the blocking thread pool and waits for it, without
 * holding a scheduler thread: other processes keep running. Returns fn's
 * result through *result (may be NULL). Exit signals that arrive meanwhile
 * take effect once fn has returned, so fn may use memory on the caller's
 * stack. Process only. Returns 0, ARBOR_ENOTPROC, ARBOR_ENOMEM.
 */
int arbor_blocking(void *(*fn)(void *), void *arg, void **result);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif
#endif

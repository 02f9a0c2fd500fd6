/*
 * Timers: a hashed timing wheel per scheduler, 1 ms slots.
 *
 * Setting a timer links it into the current scheduler's wheel in O(1).
 * Cancelling is O(1) too: a CAS from PENDING to CANCELLED decides the race
 * with firing, and when the canceller runs on the wheel's own scheduler (the
 * usual case: a process cancels the receive timeout it set a moment ago) the
 * timer is unlinked and freed at once; otherwise the owner frees it when its
 * slot comes round. A timer is reference-counted: one reference for the
 * wheel, one for whoever holds a handle.
 *
 * What a timer does when it fires is to push a prepared node into a
 * process's inbox: a message (send_after) or a timeout signal (receive and
 * sleep timeouts). Preparing the node at set time means firing cannot fail.
 */
#ifndef ARBOR_RUNTIME_TIMER_H
#define ARBOR_RUNTIME_TIMER_H

#include <stdatomic.h>
#include <stdint.h>

#include "mailbox.h"

struct arbor__sched;

typedef enum {
    ARBOR__TIMER_PENDING,
    ARBOR__TIMER_FIRED,
    ARBOR__TIMER_CANCELLED
} arbor__timer_state_t;

struct arbor_timer {
    struct arbor_timer *prev, *next; /* wheel slot list; owner only */
    uint64_t deadline;               /* arbor_now_ms() value */
    _Atomic int state;
    _Atomic int refs;
    struct arbor__sched *owner;
    arbor_pid_t target;
    arbor__msg_t *node; /* delivered on firing; freed on cancel */
    /* A handle given to a process is that process's: it is released when
     * the process exits, if the process has not released it itself. */
    struct arbor__proc *holder;
    struct arbor_timer *hprev, *hnext; /* the holder's list */
};

#define ARBOR__WHEEL_SLOTS 4096

typedef struct arbor__wheel {
    struct arbor_timer *slots[ARBOR__WHEEL_SLOTS];
    uint64_t now;   /* last time processed */
    uint64_t count; /* timers linked */
    uint64_t floor; /* no linked timer is due before this: where searches start */
} arbor__wheel_t;

void arbor__wheel_init(arbor__wheel_t *w, uint64_t now);
/* Frees every timer still linked (runtime teardown). */
void arbor__wheel_fini(arbor__wheel_t *w);
/* Fires every timer due at or before now. Returns how many fired. */
unsigned arbor__wheel_advance(struct arbor__sched *s, uint64_t now);
/* Earliest deadline among linked timers, or UINT64_MAX. */
uint64_t arbor__wheel_next_deadline(arbor__wheel_t *w);

/* Creates a timer on the calling scheduler (or hands it to scheduler 0 when
 * called from outside the runtime's threads) that delivers node to target
 * at deadline (arbor_now_ms() time). Takes ownership of node. with_handle
 * adds the caller's reference. NULL when out of memory (node freed). */
struct arbor_timer *arbor__timer_start(arbor_pid_t target, arbor__msg_t *node, uint64_t deadline,
                                       int with_handle);
/* Cancels (see above) and drops the caller's reference. Returns 0 if the
 * timer had not fired, ARBOR_ENOENT otherwise. */
int arbor__timer_cancel(struct arbor_timer *t);
void arbor__timer_unref(struct arbor_timer *t);

/* Releases every timer handle p still holds (p is exiting). */
void arbor__timer_release_held(struct arbor__proc *p);

/* Adopts timers created outside the scheduler threads (scheduler 0 only). */
void arbor__timer_adopt_foreign(struct arbor__sched *s);

#endif

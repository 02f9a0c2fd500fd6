/*
 * The process control block and the internal process API.
 *
 * Life cycle (state of `sched`, the word that decides who may enqueue):
 *
 *   spawn -> SCHEDULED --run--> (running) --park--> IDLE --push+CAS--> SCHEDULED
 *                                   |
 *                                   +--exit--> DEAD
 *
 * Only the CAS IDLE -> SCHEDULED puts a process on a run queue, so a process
 * is queued at most once. The transition to IDLE is made by the scheduler
 * after the process has switched off its stack, never by the process itself,
 * so a waker can never resume a context that is still executing (the
 * "wake before park" hazard; Go's gopark does the same).
 *
 * Ownership: fields below "owner" are touched only by the thread currently
 * running the process (or by the scheduler that just switched away from it).
 * Other threads reach a process only through the table (table.h), holding a
 * reference (or, a scheduler delivering a plain message, until its next
 * quiescent point: reclaim.h), and only to push into its inbox or read the
 * atomics in the blocks marked "shared".
 */
#ifndef ARBOR_RUNTIME_PROC_H
#define ARBOR_RUNTIME_PROC_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "arbor/message.h"
#include "arbor/process.h"
#include "context.h"
#include "mailbox.h"
#include "stack.h"
#include "../common/u64map.h"

enum { ARBOR__IDLE = 0, ARBOR__SCHEDULED = 1, ARBOR__DEAD = 2 };

/* Why a process switched back to its scheduler (one byte: see the
 * control block's layout). */
typedef enum __attribute__((packed)) arbor__yield {
    ARBOR__Y_YIELD,         /* still runnable: requeue */
    ARBOR__Y_WAIT,          /* wants a message, timer or job: park */
    ARBOR__Y_REACTOR_IDLE,  /* reactor drained its mailbox: release stack, park */
    ARBOR__Y_REACTOR_YIELD, /* reactor used its slice: release stack, requeue */
    ARBOR__Y_EXIT,          /* dead: clean up */
} arbor__yield_t;

/* Fields are ordered so that there is little padding: a process costs
 * this block (312 bytes, a 320-byte malloc chunk) whenever it lives, so
 * every word counts (docs/performance.md, "Bytes per child"). The one-byte
 * sched, status, yield and exit_kind, three flags as bits and the
 * 16-bit slice counter make room for the 64-bit reductions_total; watch1
 * (16 bytes) saves the 64-byte table a process monitored by two at once
 * would allocate otherwise; what few processes use (more than one alias,
 * held timers, exit hooks, an exit's detail) is in `rare`, allocated by
 * the first that needs it. */
typedef struct arbor__proc {
    /* ---- shared with other threads ---- */
    arbor__inbox_t inbox;
    _Atomic uint8_t sched;  /* IDLE / SCHEDULED / DEAD */
    _Atomic uint8_t status; /* arbor_proc_status_t, for introspection */
    _Atomic bool trap_exit;
    _Atomic bool holds_stack;
    _Atomic bool has_name;     /* set under the names lock; read without it */
    _Atomic bool exit_pending; /* an exit signal was pushed since the last full drain */
    bool reactive;             /* immutable */

    /* ---- owner (up to heap_bytes, then from run_next) ---- */
    bool has_mark;
    bool timed_out;
    bool dying;      /* an exit is decided: exit_kind and the exit's detail hold its reason */
    bool defer_exit; /* inside arbor_blocking(): die later */
    /* Bits, for the flags off the message paths. */
    bool job_done : 1;
    bool reactor_initialised : 1;
    bool exit_oom : 1; /* the exit's detail is "out of memory" (needs no memory) */
    arbor__yield_t yield;
    uint8_t exit_kind;   /* arbor_exit_kind_t */
    uint16_t reductions; /* the slice's work so far (< ARBOR__REDUCTIONS + WAKE_REDUCTIONS):
                          * see arbor__proc_tick */
    int saved_errno;
    uint32_t alias1_queued; /* alias1's messages in the queue */

    /* ---- shared ---- */
    _Atomic uint32_t n_links, n_monitors, n_monitored_by, queue_len;
    _Atomic size_t heap_bytes;
    _Atomic(const char *) label;
    arbor_pid_t pid; /* immutable */
    /* Every reduction since the spawn (arbor_process_info()): stored by the
     * thread running the process, loaded by anyone. */
    _Atomic uint64_t reductions_total;

    /* ---- owner ---- */
    struct arbor__proc *run_next; /* global run queue link */
    arbor__ctx_t ctx;
    arbor__stack_t *stack; /* NULL when no stack is held */
    union {
        struct {
            arbor_entry_fn fn;
            void *arg;
        } spawned;
        struct {
            const arbor_reactor_t *ops;
            void *state;
            arbor__msg_t *current; /* message being handled */
        } reactor;
    } u;
    arbor__queue_t queue;      /* drained messages, not yet received */
    arbor__msg_t *mark;        /* arbor_receive_mark(): scan after this one */
    arbor__u64map_t links;     /* linked pids (a set) */
    arbor__u64map_t monitors;  /* ref -> pid we monitor */
    arbor__u64map_t monitored; /* ref -> pid monitoring us, but watch1's */
    /* One monitor on us, kept out of `monitored` while this is free (0:
     * none): with the map's one entry in place, a process holds two
     * without a table, as a server that is monitored for good (a
     * registered ticket worker, by its Registry partition) and called
     * (each call's monitor) does. */
    arbor_ref_t watch1_ref;
    arbor_pid_t watch1_pid;
    arbor_ref_t alias1;             /* an active alias (0: none), kept out of the map */
    struct arbor__proc_rare *rare;  /* malloc'd by the first use; NULL until then */
    struct arbor__heap_block *heap; /* arbor_alloc() blocks */
    struct arbor_timer *wait_timer;
    uint64_t wait_seq; /* identifies the current timed wait */
    char *name;        /* registered name (heap), or NULL: written under the names lock */
} arbor__proc_t;

/* What few processes use, out of the control block (which holds a pointer
 * to it): the owner's alone, freed with the process. */
typedef struct arbor__proc_rare {
    arbor__u64map_t aliases;             /* active aliases but alias1 -> their messages queued */
    struct arbor_timer *timers;          /* send_after handles this process holds */
    struct arbor__exit_hook *exit_hooks; /* arbor_on_exit(), newest first */
    char *exit_detail; /* malloc'd; NULL when the detail is empty (or there was no memory for it) */
} arbor__proc_rare_t;

/* p's rare record, allocated if it has none (p is the running process, or
 * one not yet running); NULL when there is no memory for it. */
arbor__proc_rare_t *arbor__proc_rare(arbor__proc_t *p);

/* 312 bytes (a 320-byte malloc chunk) where the context is the stack
 * pointer alone: an optimised build of the assembly back end. */
_Static_assert(sizeof(arbor__proc_t) - sizeof(arbor__ctx_t) == 304,
               "a process costs its control block whenever it lives: keep it at a "
               "320-byte malloc chunk (docs/performance.md, \"Bytes per child\")");

/* The process running on this thread, or NULL. Not inlined on purpose: a
 * process may resume on another thread after any blocking call, and the
 * compiler must not reuse a thread-local address computed before it. */
arbor__proc_t *arbor__proc_current(void);

/* Delivers m to pid if alive; otherwise hands m to dead_letter (NULL:
 * destroy it). Any thread. Returns true when delivered. */
bool arbor__send_node(arbor_pid_t pid, arbor__msg_t *m);

/* Drains the inbox of the running process p: messages go to p->queue,
 * signals take effect. May not return if a signal kills p (unless
 * p->defer_exit is set, in which case p->dying records it). */
void arbor__proc_drain(arbor__proc_t *p);

/* Blocks the running process until something arrives in its inbox, or
 * until deadline (absolute arbor_now_ms(), UINT64_MAX for none) has passed,
 * in which case p->timed_out is set on return. Drains before returning. */
void arbor__proc_wait(arbor__proc_t *p, uint64_t deadline);

/* A process that never blocks must still let others run, and a sender
 * must let its receivers catch up (they then take many messages per
 * activation). Like the BEAM's reductions: sends and receives count one
 * each, and every ARBOR__REDUCTIONS of them the process yields. Each also
 * counts in the process's reductions_total. */
#define ARBOR__REDUCTIONS 2000
void arbor__proc_tick(arbor__proc_t *p);

/* Called by the scheduler after p switched out with ARBOR__Y_EXIT. */
void arbor__proc_finish(arbor__proc_t *p);

/* Final release of a process whose last table reference went away. */
void arbor__proc_free(arbor__proc_t *p);

/* Entry of every fresh context (both kinds). */
void arbor__proc_entry(void *arg);

/* Bytes of the tables of the calling process's link, monitor and alias
 * maps, and of its rare record (0 outside a process): what
 * arbor_hibernate() may give back. For tests; process_info cannot read
 * another process's maps safely. */
size_t arbor__proc_table_bytes(void);

/* Exit hooks (arbor_on_exit(), and the sockets a process owns): run by the
 * exiting process's scheduler, newest first, before links and monitors
 * hear of the death. A hook may be unlinked (and its memory reused) by the
 * hook's own fn. */
typedef struct arbor__exit_hook {
    struct arbor__exit_hook *next;
    void (*fn)(void *);
    void *arg;
} arbor__exit_hook_t;
/* Links h in first; p is the running process. False, changing nothing,
 * when there is no memory for p's rare record. */
bool arbor__proc_hook_add(arbor__proc_t *p, arbor__exit_hook_t *h);
/* Unlinks h (linked in p's list); p is the running process. */
void arbor__proc_hook_remove(arbor__proc_t *p, arbor__exit_hook_t *h);

/* Ends the running process p with the exit already decided (p->dying);
 * for a caller that deferred it (p->defer_exit) and has let go of what it
 * held. */
_Noreturn void arbor__proc_die(arbor__proc_t *p);

/* The arbor_now_ms() time at which a wait of timeout_ms ends; UINT64_MAX
 * for a negative timeout (ARBOR_INFINITY). */
uint64_t arbor__proc_deadline(int64_t timeout_ms);

/* Ends a timed wait made of arbor__proc_wait() calls: cancels its timer,
 * so that a timeout still in flight is ignored. */
void arbor__proc_wait_end(arbor__proc_t *p);

#endif

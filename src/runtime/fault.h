/*
 * Faults: a memory fault (a stack overflow into a guard page, a bad
 * pointer) cannot be contained inside one address space, so the runtime
 * reports which process faulted, and where, and lets the signal end the
 * program. The handler runs on an alternate signal stack of each
 * scheduler thread, since the stack that overflowed cannot hold its frame.
 */
#ifndef ARBOR_RUNTIME_FAULT_H
#define ARBOR_RUNTIME_FAULT_H

#include <signal.h>

struct arbor__sched;

/* The handlers that were installed before arbor_run(), restored after. */
typedef struct arbor__fault_saved {
    struct sigaction segv, bus;
} arbor__fault_saved_t;

/* Installs the report for SIGSEGV and SIGBUS, saving the old handlers. */
void arbor__fault_install(arbor__fault_saved_t *saved);
void arbor__fault_restore(const arbor__fault_saved_t *saved);

/* Gives the calling scheduler thread its alternate signal stack, and takes
 * it back before the thread ends. */
void arbor__fault_thread_start(struct arbor__sched *s);
void arbor__fault_thread_stop(struct arbor__sched *s);

#endif

/* Fault reports; see fault.h. */
#include "fault.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sched.h"

static void on_segv(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    arbor__sched_t *s = arbor__sched_current();
    arbor__proc_t *p = s ? s->current : NULL;
    /* During a switch, current already names the process switched to while
     * the registers are still being saved on the one leaving (prev). */
    if (s && s->prev && s->prev->stack && arbor__stack_overflowed_at(s->prev->stack, si->si_addr))
        p = s->prev;
    char buf[160];
    int n;
    if (p && p->stack && arbor__stack_overflowed_at(p->stack, si->si_addr)) {
        char pid[32];
        arbor_pid_format(p->pid, pid, sizeof pid);
        const char *label = atomic_load_explicit(&p->label, memory_order_relaxed);
        n = snprintf(buf, sizeof buf, "arbor: stack overflow in process %s (%s)\n", pid,
                     label ? label : "spawned");
    } else if (p) {
        char pid[32];
        arbor_pid_format(p->pid, pid, sizeof pid);
        n = snprintf(buf, sizeof buf, "arbor: %s at %p in process %s\n", strsignal(sig),
                     si->si_addr, pid);
    } else {
        n = snprintf(buf, sizeof buf, "arbor: %s at %p outside any process\n", strsignal(sig),
                     si->si_addr);
    }
    if (n > 0 && write(2, buf, (size_t)n) < 0) {
        /* nothing more we can do */
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

void arbor__fault_thread_start(arbor__sched_t *s)
{
    size_t sz = 64 * 1024;
    s->altstack = malloc(sz);
    if (!s->altstack)
        return;
    stack_t ss = {.ss_sp = s->altstack, .ss_size = sz, .ss_flags = 0};
    sigaltstack(&ss, NULL);
}

void arbor__fault_thread_stop(arbor__sched_t *s)
{
    if (!s->altstack)
        return;
    stack_t ss = {.ss_flags = SS_DISABLE};
    sigaltstack(&ss, NULL);
    free(s->altstack);
    s->altstack = NULL;
}

void arbor__fault_install(arbor__fault_saved_t *saved)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, &saved->segv);
    sigaction(SIGBUS, &sa, &saved->bus);
}

void arbor__fault_restore(const arbor__fault_saved_t *saved)
{
    sigaction(SIGSEGV, &saved->segv, NULL);
    sigaction(SIGBUS, &saved->bus, NULL);
}

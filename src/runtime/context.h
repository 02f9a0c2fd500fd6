/*
 * Execution contexts: the register state of a process suspended on its own
 * stack, and the switch between two of them.
 *
 * Two back ends, chosen at build time (ARBOR_CONTEXT=asm|ucontext):
 *   - context_x86_64.S saves only the callee-saved registers, MXCSR and the
 *     x87 control word on the suspended stack (System V ABI), about 5 ns;
 *   - context_ucontext.c uses swapcontext(), portable but it saves the
 *     signal mask with a system call on every switch.
 *
 * Every switch is announced to the sanitizers: ASan (fiber switch API, so
 * its fake stacks and stack bounds follow us), TSan (one fiber per context)
 * and Valgrind (stacks registered in stack.c).
 */
#ifndef ARBOR_RUNTIME_CONTEXT_H
#define ARBOR_RUNTIME_CONTEXT_H

#include <stddef.h>

#include "sanitizer.h"

#if defined(ARBOR_CONTEXT_UCONTEXT)
#include <ucontext.h>
#elif !defined(__x86_64__)
#error                                                                                             \
    "Arbor's assembly context switch supports x86-64 only; configure with -DARBOR_CONTEXT=ucontext"
#endif

/* Every process holds one, so it holds only what its build needs: in an
 * optimised build of the assembly back end, the stack pointer alone. */
typedef struct arbor__ctx {
#if defined(ARBOR_CONTEXT_UCONTEXT)
    ucontext_t uc;
    void (*fn)(void *); /* makecontext() passes int arguments: the entry reads these */
    void *arg;
#else
    void *sp; /* saved stack pointer; the registers (and a fresh context's entry) above it */
#endif
#ifdef ARBOR_ASAN
    void *stack_lo; /* bounds of the stack this context runs on */
    size_t stack_size;
#endif
#ifdef ARBOR_TSAN
    void *tsan_fiber;
#endif
} arbor__ctx_t;

/* Makes ctx describe the calling thread's own stack: the context a scheduler
 * loop runs in and switches back to. */
void arbor__ctx_init_thread(arbor__ctx_t *ctx);

/* Prepares ctx to run fn(arg) on [lo, lo + size). fn must never return; it
 * ends by switching away with arbor__ctx_switch_final(). */
void arbor__ctx_make(arbor__ctx_t *ctx, void *lo, size_t size, void (*fn)(void *), void *arg);

/* Suspends the current context into from and resumes to. Returns when
 * someone switches back to from. */
void arbor__ctx_switch(arbor__ctx_t *from, arbor__ctx_t *to);

/* Like arbor__ctx_switch() for a context that will never be resumed: its
 * stack may be reused as soon as the switch is complete. */
_Noreturn void arbor__ctx_switch_final(arbor__ctx_t *from, arbor__ctx_t *to);

/* Releases what arbor__ctx_make() set up (the TSan fiber). Call it from
 * another context, after the last switch away from ctx. */
void arbor__ctx_destroy(arbor__ctx_t *ctx);

#endif

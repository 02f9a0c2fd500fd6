/*
 * The C half of the context switch: making contexts and announcing every
 * switch to the sanitizers. The register-saving jump itself is in
 * context_x86_64.S, or swapcontext() in the ucontext build.
 */
#include "context.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sanitizer.h"

#if !defined(ARBOR_CONTEXT_UCONTEXT)
void arbor__ctx_jump(void **save_sp, void *new_sp);
void arbor__ctx_start(void);
#endif

/* Runs first in every fresh context: completes the sanitizer switch that
 * brought us here, then calls the context's function. */
static void ctx_entry(void *arg, void (*fn)(void *))
{
#ifdef ARBOR_ASAN
    __sanitizer_finish_switch_fiber(NULL, NULL, NULL);
#endif
    fn(arg);
    abort(); /* fn must switch away for good */
}

#if defined(ARBOR_CONTEXT_UCONTEXT)
/* makecontext() passes int arguments only; split the pointer in two. */
static void ctx_entry_ucontext(unsigned hi, unsigned lo)
{
    arbor__ctx_t *ctx = (arbor__ctx_t *)(((uintptr_t)hi << 32) | (uintptr_t)lo);
    ctx_entry(ctx->arg, ctx->fn);
}
#endif

void arbor__ctx_init_thread(arbor__ctx_t *ctx)
{
    memset(ctx, 0, sizeof *ctx);
#ifdef ARBOR_ASAN
    /* ASan needs the bounds of the stack we switch back to. */
    pthread_attr_t attr;
    if (pthread_getattr_np(pthread_self(), &attr) == 0) {
        pthread_attr_getstack(&attr, &ctx->stack_lo, &ctx->stack_size);
        pthread_attr_destroy(&attr);
    }
#endif
#ifdef ARBOR_TSAN
    ctx->tsan_fiber = __tsan_get_current_fiber();
#endif
}

void arbor__ctx_make(arbor__ctx_t *ctx, void *lo, size_t size, void (*fn)(void *), void *arg)
{
#ifdef ARBOR_ASAN
    ctx->stack_lo = lo;
    ctx->stack_size = size;
#endif
#ifdef ARBOR_TSAN
    ctx->tsan_fiber = __tsan_create_fiber(0);
#endif
#if defined(ARBOR_CONTEXT_UCONTEXT)
    ctx->fn = fn;
    ctx->arg = arg;
    getcontext(&ctx->uc);
    ctx->uc.uc_stack.ss_sp = lo;
    ctx->uc.uc_stack.ss_size = size;
    ctx->uc.uc_link = NULL;
    uintptr_t p = (uintptr_t)ctx;
    makecontext(&ctx->uc, (void (*)(void))ctx_entry_ucontext, 2, (unsigned)(p >> 32),
                (unsigned)(p & 0xffffffffu));
#else
    /* Layout from the new sp upwards, matching the pops in arbor__ctx_jump:
     * [mxcsr|fpucw] r15 r14=fn r13=ctx_entry r12=arg rbx rbp
     * ret=arbor__ctx_start, then two zero words. sp is 16-byte aligned, so
     * rsp is 16-byte aligned when arbor__ctx_start makes its call, as the
     * ABI requires. */
    uintptr_t top = ((uintptr_t)lo + size) & ~(uintptr_t)15;
    uint64_t *sp = (uint64_t *)(top - 80);
    sp[0] = 0x1F80u | ((uint64_t)0x037Fu << 32); /* default MXCSR and x87 CW */
    sp[1] = 0;
    sp[2] = (uint64_t)(uintptr_t)fn;
    sp[3] = (uint64_t)(uintptr_t)ctx_entry;
    sp[4] = (uint64_t)(uintptr_t)arg;
    sp[5] = 0;
    sp[6] = 0;
    sp[7] = (uint64_t)(uintptr_t)arbor__ctx_start;
    sp[8] = 0;
    sp[9] = 0;
    ctx->sp = sp;
#endif
}

static inline void raw_switch(arbor__ctx_t *from, arbor__ctx_t *to)
{
#ifdef ARBOR_TSAN
    __tsan_switch_to_fiber(to->tsan_fiber, 0);
#endif
#if defined(ARBOR_CONTEXT_UCONTEXT)
    swapcontext(&from->uc, &to->uc);
#else
    arbor__ctx_jump(&from->sp, to->sp);
#endif
}

void arbor__ctx_switch(arbor__ctx_t *from, arbor__ctx_t *to)
{
#ifdef ARBOR_ASAN
    void *fake = NULL;
    __sanitizer_start_switch_fiber(&fake, to->stack_lo, to->stack_size);
    raw_switch(from, to);
    __sanitizer_finish_switch_fiber(fake, NULL, NULL);
#else
    raw_switch(from, to);
#endif
}

void arbor__ctx_switch_final(arbor__ctx_t *from, arbor__ctx_t *to)
{
#ifdef ARBOR_ASAN
    /* NULL: this fiber is dying, ASan may drop its fake stack. */
    __sanitizer_start_switch_fiber(NULL, to->stack_lo, to->stack_size);
#endif
    raw_switch(from, to);
    abort();
}

void arbor__ctx_destroy(arbor__ctx_t *ctx)
{
#ifdef ARBOR_TSAN
    if (ctx->tsan_fiber)
        __tsan_destroy_fiber(ctx->tsan_fiber);
    ctx->tsan_fiber = NULL;
#else
    (void)ctx;
#endif
}

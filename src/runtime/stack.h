/*
 * Process stacks: mmap'd in slabs, pooled, each with a PROT_NONE guard page
 * below it while the kernel's mapping budget allows.
 *
 * A guard page splits a mapping in two, and Linux limits a process to
 * vm.max_map_count mappings (65,530 by default), so at most a quarter of that
 * budget goes to guard pages. Stacks beyond it carry a canary word at their
 * lowest address instead, written as the stack is taken and checked as it
 * returns to the pool; that catches an overflow late rather than at once.
 * (Written earlier, when the stack was mapped or trimmed, the canary kept a
 * page of every pooled stack resident.) Stacks are never
 * unmapped before the runtime stops; the shared pool keeps a few hundred
 * stacks with their pages mapped and gives the pages of the rest back to
 * the kernel (MADV_DONTNEED).
 *
 * Each scheduler keeps a small private cache, so taking and returning a
 * stack normally costs no lock and no system call.
 */
#ifndef ARBOR_RUNTIME_STACK_H
#define ARBOR_RUNTIME_STACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct arbor__stack {
    struct arbor__stack *next; /* pool link */
    void *lo;                  /* lowest usable byte */
    size_t size;               /* usable bytes */
    void *guard;               /* the guard page, or NULL */
    unsigned valgrind_id;
} arbor__stack_t;

#define ARBOR__STACK_CACHE_MAX 32

typedef struct arbor__stack_cache {
    arbor__stack_t *head;
    unsigned count;
} arbor__stack_cache_t;

/* Sets the usable size of every stack; called once before any stack is
 * taken. Returns 0 or ARBOR_EINVAL. */
int arbor__stack_init(size_t size);

/* Unmaps everything. Every stack must have been returned. */
void arbor__stack_fini(void);

/* Takes a stack, from cache first. NULL when out of memory. */
arbor__stack_t *arbor__stack_get(arbor__stack_cache_t *cache);

/* Returns a stack to cache (or the shared pool when the cache is full).
 * Aborts with a report if the stack's canary shows an overflow. */
void arbor__stack_put(arbor__stack_cache_t *cache, arbor__stack_t *s);

/* Moves every cached stack to the shared pool. */
void arbor__stack_cache_flush(arbor__stack_cache_t *cache);

/* Bytes of stack memory resident in RAM, over every mapped stack. */
uint64_t arbor__stack_resident_bytes(void);

/* True when addr lies in the guard page, or just below the stack. */
bool arbor__stack_overflowed_at(const arbor__stack_t *s, const void *addr);

#endif

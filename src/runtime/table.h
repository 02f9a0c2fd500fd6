/*
 * The process table: pid -> process, safe against concurrent exit.
 *
 * A pid is (generation << 32) | slot. Each slot holds one 64-bit word,
 * (generation << 32) | references, and the process pointer. A live process
 * holds one reference on its own slot. A lookup succeeds only if the
 * generation matches and the count is non-zero, and it takes a reference
 * with a CAS, so the process cannot be freed while the caller uses it. On
 * exit the process bumps the generation and drops its own reference in one
 * atomic add: new lookups fail at once, and whoever drops the last
 * reference retires the process (arbor__proc_free; the block is freed once
 * no scheduler can hold it without a reference, reclaim.h). Slots are
 * recycled with the new generation, so a stale pid never reaches a newer
 * process.
 *
 * Slots live in chunks of 4096 allocated on demand, so the table costs
 * memory in proportion to the peak number of live processes.
 */
#ifndef ARBOR_RUNTIME_TABLE_H
#define ARBOR_RUNTIME_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "proc.h"

/* Free slot numbers a scheduler keeps for itself, so that most spawns and
 * exits take no lock. */
#define ARBOR__SLOT_CACHE 64
typedef struct arbor__slot_cache {
    uint32_t n;
    uint32_t idx[ARBOR__SLOT_CACHE];
} arbor__slot_cache_t;

int arbor__table_init(size_t max_processes);
void arbor__table_fini(void);

/* Gives p a slot and a pid (one reference held by p), from cache first
 * (may be NULL). Returns 0 or ARBOR_EAGAIN (table full) / ARBOR_ENOMEM. */
int arbor__table_insert(arbor__proc_t *p, arbor__slot_cache_t *cache);

/* Returns p with a reference taken, or NULL if pid is not alive. */
arbor__proc_t *arbor__table_ref(arbor_pid_t pid);

/* Returns the process pid names, or NULL if it is not alive, without
 * taking a reference: for a scheduler thread, which may use it until its
 * next quiescent point (reclaim.h), only to deliver a plain message (one
 * that a dead receiver need not answer). */
arbor__proc_t *arbor__table_peek(arbor_pid_t pid);

/* Drops a reference taken by arbor__table_ref(). */
void arbor__table_unref(arbor__proc_t *p);

/* Marks p's pid dead and drops p's own reference. */
void arbor__table_kill(arbor__proc_t *p);

/* Returns the slot of a freed process to the free list (through cache,
 * which may be NULL). */
void arbor__table_release_slot(arbor_pid_t pid, arbor__slot_cache_t *cache);

/* Gives every slot in cache back to the shared free list. */
void arbor__table_cache_flush(arbor__slot_cache_t *cache);

/* Calls fn(p, ctx) for every live process, with a reference held during
 * the call. */
void arbor__table_foreach(void (*fn)(arbor__proc_t *p, void *ctx), void *ctx);

#endif

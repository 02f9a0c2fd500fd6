/*
 * Recycling of the runtime's fixed-size blocks (message nodes of two
 * sizes, short signal nodes, process control blocks, timers) instead of
 * going through malloc.
 *
 * Each scheduler thread keeps free blocks per kind; a block freed on a
 * thread stays with that thread. Blocks mostly flow one way (made by a
 * producer on one core, freed by its consumer on another), so one thread
 * fills up while another runs dry: the full one hands a magazine (a list of
 * a few hundred blocks) to a shared pool, and the empty one takes one, a
 * magazine per lock and no list walked (recycle.c).
 * Without that, every cross-thread free took the other thread's malloc
 * arena lock (genserver_cast on 2 schedulers: 330 ns a message, most of it
 * in futex calls; spawn_exit: a third of its time). Sanitizer builds
 * recycle nothing, so that ASan and TSan still see every use after free.
 *
 * Threads that never called arbor__recycle_enable() (the blocking pool,
 * foreign threads) recycle nothing either: get returns NULL and free frees.
 */
#ifndef ARBOR_RUNTIME_RECYCLE_H
#define ARBOR_RUNTIME_RECYCLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>

typedef enum arbor__recycle_kind {
    ARBOR__RECYCLE_MSG,     /* message nodes with a small payload area */
    ARBOR__RECYCLE_MSG_MID, /* message nodes with a mid-sized payload area (mailbox.h) */
    ARBOR__RECYCLE_PROC,    /* process control blocks */
    ARBOR__RECYCLE_TIMER,   /* timers: a GenServer call sets and cancels one */
    ARBOR__RECYCLE_SIG,     /* short signal nodes: a GenServer call sends one */
    ARBOR__RECYCLE_KINDS
} arbor__recycle_kind_t;

/* Starts recycling on this (scheduler) thread. */
void arbor__recycle_enable(void);

/* Stops recycling on this thread and frees its lists; before it exits. */
void arbor__recycle_flush(void);

/* Frees the shared pools; once every scheduler thread has flushed. */
void arbor__recycle_fini(void);

/* The calling thread's current magazine of each kind: the fast paths
 * below are inline, the rest is in recycle.c. `room` is how many more
 * blocks it takes: 0 on a thread that does not recycle. */
typedef struct arbor__free_block {
    struct arbor__free_block *next;
    struct arbor__free_block *next_mag;
} arbor__free_block_t;

typedef struct arbor__magazine {
    arbor__free_block_t *head; /* NULL when empty */
    unsigned room;
} arbor__magazine_t;

extern __thread arbor__magazine_t arbor__recycle_cur[ARBOR__RECYCLE_KINDS];

void *arbor__recycle_get_slow(arbor__recycle_kind_t k);
void arbor__recycle_free_slow(arbor__recycle_kind_t k, void *block);

/* A recycled block of kind k (its contents are garbage), or NULL.
 * Callers use arbor__recycle_alloc() below, unless they fall back to
 * something other than malloc. */
static inline void *arbor__recycle_get(arbor__recycle_kind_t k)
{
    arbor__magazine_t *m = &arbor__recycle_cur[k];
    arbor__free_block_t *b = m->head;
    if (!b)
        return arbor__recycle_get_slow(k);
    m->head = b->next;
    m->room++;
    /* The block after is the next one handed out, and written at once: a
     * sender's message node, whose store the inbox push then waits for.
     * Fetch it for writing now (fork_join: about 5 % faster). */
    __builtin_prefetch(m->head, 1);
    return b;
}

/* A block of kind k, size bytes: a recycled one (contents garbage), or a
 * new one from malloc; NULL when out of memory. */
static inline void *arbor__recycle_alloc(arbor__recycle_kind_t k, size_t size)
{
    void *b = arbor__recycle_get(k);
    return b ? b : malloc(size);
}

/* Gives back a block from arbor__recycle_alloc(): kept for reuse, or freed.
 * The slow half is a tail call, so a caller's fast path saves no
 * registers for it. */
static inline void arbor__recycle_free(arbor__recycle_kind_t k, void *block)
{
    arbor__magazine_t *m = &arbor__recycle_cur[k];
    if (!m->room) {
        arbor__recycle_free_slow(k, block);
        return;
    }
    arbor__free_block_t *b = block;
    b->next = m->head;
    m->head = b;
    m->room--;
}

#endif

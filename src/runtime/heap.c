/*
 * The process allocator: malloc blocks threaded on a per-process list, so
 * that a process's memory is freed when it dies, however it dies. The
 * header is the two links and nothing else (a block's size is what malloc
 * says it is), so it keeps blocks 16-byte aligned and costs 16 bytes: a
 * GenServer holds a few small blocks, and a DynamicSupervisor one per child.
 */
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include "heap.h"

typedef struct arbor__heap_block {
    struct arbor__heap_block *prev, *next;
} block_t;

_Static_assert(sizeof(block_t) % 16 == 0, "blocks must stay 16-byte aligned");

static void account(arbor__proc_t *p, size_t add, size_t sub)
{
    size_t v = atomic_load_explicit(&p->heap_bytes, memory_order_relaxed);
    atomic_store_explicit(&p->heap_bytes, v + add - sub, memory_order_relaxed);
}

/* Threads b onto p's list and counts it. */
static void link_block(arbor__proc_t *p, block_t *b)
{
    b->prev = NULL;
    b->next = p->heap;
    if (p->heap)
        p->heap->prev = b;
    p->heap = b;
    account(p, malloc_usable_size(b), 0);
}

/* Takes b off p's list and out of its count. */
static void unlink_block(arbor__proc_t *p, block_t *b)
{
    if (b->prev)
        b->prev->next = b->next;
    else
        p->heap = b->next;
    if (b->next)
        b->next->prev = b->prev;
    b->prev = b->next = NULL;
    account(p, 0, malloc_usable_size(b));
}

void *arbor_alloc(size_t size)
{
    return arbor__heap_alloc_for(arbor__proc_current(), size);
}

void *arbor__heap_alloc_for(arbor__proc_t *p, size_t size)
{
    if (!p || size > SIZE_MAX - sizeof(block_t))
        return NULL;
    block_t *b = malloc(sizeof *b + size);
    if (!b)
        return NULL;
    link_block(p, b);
    return b + 1;
}

void *arbor_calloc(size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size)
        return NULL;
    void *ptr = arbor_alloc(n * size);
    if (ptr)
        memset(ptr, 0, n * size);
    return ptr;
}

void arbor_free(void *ptr)
{
    if (!ptr)
        return;
    block_t *b = (block_t *)ptr - 1;
    unlink_block(arbor__proc_current(), b);
    free(b);
}

void arbor_disown(void *ptr)
{
    arbor__proc_t *p = arbor__proc_current();
    if (!ptr || !p)
        return;
    unlink_block(p, (block_t *)ptr - 1);
}

void arbor_adopt(void *ptr)
{
    arbor__proc_t *p = arbor__proc_current();
    if (!ptr || !p)
        return;
    link_block(p, (block_t *)ptr - 1);
}

void arbor_free_disowned(void *ptr)
{
    if (ptr)
        free((block_t *)ptr - 1);
}

void *arbor_realloc(void *ptr, size_t size)
{
    if (!ptr)
        return arbor_alloc(size);
    arbor__proc_t *p = arbor__proc_current();
    if (!p || size > SIZE_MAX - sizeof(block_t))
        return NULL;
    block_t *old = (block_t *)ptr - 1;
    size_t old_size = malloc_usable_size(old);
    block_t *b = realloc(old, sizeof *b + size);
    if (!b)
        return NULL;
    if (b->prev)
        b->prev->next = b;
    else
        p->heap = b;
    if (b->next)
        b->next->prev = b;
    account(p, malloc_usable_size(b), old_size);
    return b + 1;
}

void arbor__heap_release(arbor__proc_t *p)
{
    block_t *b = p->heap;
    while (b) {
        block_t *next = b->next;
        free(b);
        b = next;
    }
    p->heap = NULL;
    atomic_store_explicit(&p->heap_bytes, 0, memory_order_relaxed);
}

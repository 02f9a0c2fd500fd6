/*
 * The process allocator's hooks for the process life cycle (heap.c): what
 * a process allocates with arbor_alloc() is its own, and goes with it.
 */
#ifndef ARBOR_HEAP_H
#define ARBOR_HEAP_H

#include <stddef.h>

#include "proc.h"

/* Allocates a block owned by p (not necessarily the running process: a
 * spawner gives its child a copy of the spawn argument). */
void *arbor__heap_alloc_for(arbor__proc_t *p, size_t size);
/* Frees every block of p (process exit). */
void arbor__heap_release(arbor__proc_t *p);

#endif

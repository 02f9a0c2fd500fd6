/*
 * Registered names (name.c): what the process life cycle, introspection
 * and the runtime's teardown need of them.
 */
#ifndef ARBOR_NAME_H
#define ARBOR_NAME_H

#include <stddef.h>

#include "proc.h"

/* Drops p's registered name, if any. */
void arbor__name_release(arbor__proc_t *p);
/* Frees the name table (the runtime's teardown). */
void arbor__names_fini(void);
/* Copies p's registered name into buf ("" when none); returns its length. */
size_t arbor__name_copy(arbor__proc_t *p, char *buf, size_t size);

#endif

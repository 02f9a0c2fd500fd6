/*
 * cJSON's memory for the desk's processes (web.h: web_json_memory): a
 * JSON document built in a process is allocated with the process
 * allocator, so that a process killed while it holds one (a web
 * connection, when the web restarts under it) leaks nothing. Outside a
 * process, malloc. Each block records which, so that cJSON_free and
 * cJSON_Delete give it back where it came from. A document is freed by
 * the process that made it (the desk never hands one to another).
 */
#include <arbor.h>
#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdlib.h>

#include "web.h"

typedef union block {
    max_align_t align; /* what follows is aligned for any type */
    bool from_process;
} block_t;

static void *json_alloc(size_t size)
{
    bool in_process = arbor_self() != ARBOR_NOPID;
    block_t *b = in_process ? arbor_alloc(sizeof *b + size) : malloc(sizeof *b + size);
    if (!b)
        return NULL;
    b->from_process = in_process;
    return b + 1;
}

static void json_free(void *p)
{
    if (!p)
        return;
    block_t *b = (block_t *)p - 1;
    if (b->from_process)
        arbor_free(b);
    else
        free(b);
}

void web_json_memory(bool on)
{
    cJSON_Hooks hooks = {.malloc_fn = json_alloc, .free_fn = json_free};
    cJSON_InitHooks(on ? &hooks : NULL);
}

/*
 * The Registry's cells: open-addressing tables of entries (by key hash)
 * and of owners (by mixed pid). See registry_cell.h.
 */
#include "registry_cell.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "../common/bytes_hash.h"

/* malloc'd blocks held by cells and anchors; relaxed: a statistic for tests. */
static atomic_size_t live_blocks;

size_t arbor__reg_live_blocks(void)
{
    return atomic_load_explicit(&live_blocks, memory_order_relaxed);
}

/* A block of size bytes, not zeroed; counted. */
static void *block_alloc_raw(size_t size)
{
    void *p = malloc(size);
    if (p)
        atomic_fetch_add_explicit(&live_blocks, 1, memory_order_relaxed);
    return p;
}

void *arbor__reg_block_alloc(size_t size)
{
    /* malloc and memset: the compiler makes them one calloc. */
    void *p = block_alloc_raw(size);
    if (p)
        memset(p, 0, size);
    return p;
}

void arbor__reg_block_free(void *p)
{
    if (!p)
        return;
    atomic_fetch_sub_explicit(&live_blocks, 1, memory_order_relaxed);
    free(p);
}

uint64_t arbor__reg_mix(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

uint64_t arbor__reg_key_hash(const char *key, size_t len)
{
    /* The full mixer after the fast hash: its high bits pick the
     * partition and its low bits the slot. */
    return arbor__reg_mix(arbor__bytes_hash(key, len));
}

unsigned arbor__reg_part_of(uint64_t hash, unsigned nparts)
{
    return (unsigned)((hash >> 32) % nparts); /* slots use the low bits */
}

/* ---- tables: open addressing, linear probing (registry_cell.h) ---------------------- */

/* Makes room for one more node: a table is at most half full, so that a
 * probe for an absent key (a new owner) ends in a slot or two. The slot
 * array only grows; a cleared cell frees it. */
static bool table_reserve(reg_table_t *t)
{
    if (2 * (t->count + 1) <= t->cap)
        return true;
    size_t ncap = t->cap ? t->cap * 2 : 16, m = ncap - 1;
    reg_slot_t *ns = arbor__reg_block_alloc(ncap * sizeof *ns);
    if (!ns)
        return false;
    for (size_t i = 0; i < t->cap; i++) {
        if (!t->slots[i].node)
            continue;
        size_t j = t->slots[i].key & m;
        while (ns[j].node)
            j = (j + 1) & m;
        ns[j] = t->slots[i];
    }
    arbor__reg_block_free(t->slots);
    t->slots = ns;
    t->cap = ncap;
    return true;
}

/* Adds node under key; room was reserved. */
static void table_put(reg_table_t *t, uint64_t key, void *node)
{
    size_t m = t->cap - 1, i = key & m;
    while (t->slots[i].node)
        i = (i + 1) & m;
    t->slots[i] = (reg_slot_t){.key = key, .node = node};
    t->count++;
}

/* Removes node, which is under key, and closes the gap behind it: each
 * later slot of the run whose home is not between the gap and itself
 * moves back into the gap (no tombstones, so a probe still ends at the
 * first empty slot, and keys alike keep their order). */
static void table_remove(reg_table_t *t, uint64_t key, const void *node)
{
    size_t m = t->cap - 1, gap = key & m;
    while (t->slots[gap].node != node)
        gap = (gap + 1) & m;
    for (size_t j = (gap + 1) & m; t->slots[j].node; j = (j + 1) & m) {
        size_t home = t->slots[j].key & m;
        if (((j - home) & m) >= ((j - gap) & m)) {
            t->slots[gap] = t->slots[j];
            gap = j;
        }
    }
    t->slots[gap] = (reg_slot_t){.key = 0, .node = NULL};
    t->count--;
}

bool arbor__reg_entry_is(const entry_t *e, uint64_t hash, const char *key, size_t len)
{
    return e->hash == hash && e->key_len == len && memcmp(e->key, key, len) == 0;
}

/* The slot of the first entry under key at or after slot i (in key's
 * probe run), or cap when there is none. */
static size_t match_from(const reg_table_t *t, size_t i, uint64_t hash, const char *key, size_t len)
{
    size_t m = t->cap - 1;
    for (; t->slots[i].node; i = (i + 1) & m)
        if (t->slots[i].key == hash && arbor__reg_entry_is(t->slots[i].node, hash, key, len))
            return i;
    return t->cap;
}

entry_t *arbor__reg_first_match(const cell_t *c, uint64_t hash, const char *key, size_t len)
{
    const reg_table_t *t = &c->keys;
    if (!t->cap)
        return NULL;
    size_t i = match_from(t, hash & (t->cap - 1), hash, key, len);
    return i < t->cap ? t->slots[i].node : NULL;
}

/* Counts the entries under key in a locked cell and, when pids or out is
 * not NULL, copies them there (room for all of them is the caller's job),
 * oldest first. */
size_t arbor__reg_collect(const cell_t *c, uint64_t hash, const char *key, size_t len,
                          arbor_pid_t *pids, arbor_registry_entry_t *out)
{
    const reg_table_t *t = &c->keys;
    if (!t->cap)
        return 0;
    size_t n = 0, m = t->cap - 1;
    for (size_t i = match_from(t, hash & m, hash, key, len); i < t->cap;
         i = match_from(t, (i + 1) & m, hash, key, len), n++) {
        const entry_t *e = t->slots[i].node;
        if (pids)
            pids[n] = e->pid;
        if (out) {
            out[n].pid = e->pid;
            out[n].size = e->size;
            memcpy(out[n].value, e->value, e->size);
            memset(out[n].value + e->size, 0, sizeof out[n].value - e->size);
        }
    }
    return n;
}

owner_t *arbor__reg_find_owner(const cell_t *c, arbor_pid_t pid)
{
    const reg_table_t *t = &c->owners;
    if (!t->cap)
        return NULL;
    uint64_t key = arbor__reg_mix(pid);
    size_t m = t->cap - 1;
    for (size_t i = key & m; t->slots[i].node; i = (i + 1) & m)
        if (t->slots[i].key == key) /* the mix is a bijection: the same pid */
            return t->slots[i].node;
    return NULL;
}

/* Removes e; when it was its owner's last entry here, removes the owner too
 * and returns its monitor ref (for the caller to demonitor after unlocking),
 * else 0. Under the write lock. */
arbor_ref_t arbor__reg_remove_entry(cell_t *c, entry_t *e)
{
    owner_t *o = e->owner;
    table_remove(&c->keys, e->hash, e);
    if (e->owner_prev)
        e->owner_prev->owner_next = e->owner_next;
    else
        o->entries = e->owner_next;
    if (e->owner_next)
        e->owner_next->owner_prev = e->owner_prev;
    if (e->in_owner)
        o->first_taken = false;
    else
        arbor__reg_block_free(e);
    if (--o->count)
        return 0;
    arbor_ref_t ref = o->mref;
    table_remove(&c->owners, arbor__reg_mix(o->pid), o);
    arbor__reg_block_free(o);
    return ref;
}

/* Frees everything the cell holds. Under the write lock. */
void arbor__reg_cell_clear(cell_t *c)
{
    for (size_t i = 0; i < c->keys.cap; i++) {
        const entry_t *e = c->keys.slots[i].node;
        if (e && !e->in_owner) /* else freed with its owner, below */
            arbor__reg_block_free(c->keys.slots[i].node);
    }
    for (size_t i = 0; i < c->owners.cap; i++)
        arbor__reg_block_free(c->owners.slots[i].node);
    arbor__reg_block_free(c->keys.slots);
    arbor__reg_block_free(c->owners.slots);
    c->keys = c->owners = (reg_table_t){.slots = NULL};
}

/* Adds an entry for self (the caller), which makes watcher monitor it if
 * it is new in this cell. Both blocks are taken before the monitor, so
 * nothing needs undoing once it is made. Under the write lock. */
int arbor__reg_add_entry(cell_t *c, arbor_pid_t self, arbor_pid_t watcher, uint64_t hash,
                         const char *key, size_t key_len, const void *value, size_t size)
{
    if (!table_reserve(&c->keys) || !table_reserve(&c->owners))
        return ARBOR_ENOMEM;
    /* The owner and entry blocks are not zeroed: most of an owner is its
     * first entry's room for a key and a value, which would be four cache
     * lines of fresh memory written a register; every field is written
     * below, and the key and value up to their lengths. */
    owner_t *o = arbor__reg_find_owner(c, self);
    bool fresh = !o;
    if (fresh) {
        if (!(o = block_alloc_raw(sizeof *o)))
            return ARBOR_ENOMEM;
        o->entries = NULL;
        o->count = 0;
        o->first_taken = false;
    }
    bool in_owner = !o->first_taken;
    entry_t *e = in_owner ? &o->first : block_alloc_raw(sizeof *e);
    int rc = e ? 0 : ARBOR_ENOMEM;
    if (fresh && !rc)
        rc = arbor_monitor_by(watcher, &o->mref); /* does not yield */
    if (rc) {
        if (fresh)
            arbor__reg_block_free(o);
        if (!in_owner)
            arbor__reg_block_free(e);
        return rc;
    }
    o->first_taken = true; /* (or was) */
    e->in_owner = in_owner;
    e->owner_prev = NULL; /* the first slot may be taken again */
    if (fresh) {
        o->pid = self;
        table_put(&c->owners, arbor__reg_mix(self), o);
    }
    e->owner = o;
    e->pid = self;
    e->hash = hash;
    e->key_len = (uint8_t)key_len;
    memcpy(e->key, key, key_len);
    e->size = (uint8_t)size;
    memcpy(e->value, value, size);
    table_put(&c->keys, hash, e);
    e->owner_next = o->entries;
    if (o->entries)
        o->entries->owner_prev = e;
    o->entries = e;
    o->count++;
    return 0;
}

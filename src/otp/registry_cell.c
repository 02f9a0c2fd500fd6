/*
 * The Registry's cells: bucket chains of entries (by key hash) and of
 * owners (by pid). See registry_cell.h.
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

void *arbor__reg_block_alloc(size_t size)
{
    /* malloc and memset, not calloc: glibc's calloc never takes a block
     * from the thread's cache, and an entry (two a registered ticket
     * worker in the desk) cost 300 instructions that way. */
    void *p = malloc(size);
    if (p) {
        memset(p, 0, size);
        atomic_fetch_add_explicit(&live_blocks, 1, memory_order_relaxed);
    }
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
     * partition and its low bits the bucket. */
    return arbor__reg_mix(arbor__bytes_hash(key, len));
}

unsigned arbor__reg_part_of(uint64_t hash, unsigned nparts)
{
    return (unsigned)((hash >> 32) % nparts); /* buckets use the low bits */
}

/* The hashes a table is rebuilt with: an entry's key hash, an owner's pid. */
static uint64_t entry_hash(const chain_t *n)
{
    return ((const entry_t *)n)->hash;
}

static uint64_t owner_hash(const chain_t *n)
{
    return arbor__reg_mix(((const owner_t *)n)->pid);
}

/* Makes room for one more node in a chained table (load factor 1). */
static bool table_reserve(chain_t ***buckets, size_t *cap, size_t count,
                          uint64_t (*hash)(const chain_t *))
{
    if (count < *cap)
        return true;
    size_t ncap = *cap ? *cap * 2 : 8;
    chain_t **nb = arbor__reg_block_alloc(ncap * sizeof *nb);
    if (!nb)
        return false;
    for (size_t i = 0; i < *cap; i++) {
        chain_t *n = (*buckets)[i];
        while (n) {
            chain_t *next = n->next;
            chain_t **b = &nb[hash(n) & (ncap - 1)];
            n->next = *b;
            *b = n;
            n = next;
        }
    }
    arbor__reg_block_free(*buckets);
    *buckets = nb;
    *cap = ncap;
    return true;
}

/* Unlinks node from the bucket of hash. */
static void table_unlink(chain_t **buckets, size_t cap, uint64_t hash, chain_t *node)
{
    chain_t **p = &buckets[hash & (cap - 1)];
    while (*p != node)
        p = &(*p)->next;
    *p = node->next;
}

bool arbor__reg_entry_is(const entry_t *e, uint64_t hash, const char *key, size_t len)
{
    return e->hash == hash && e->key_len == len && memcmp(e->key, key, len) == 0;
}

/* The first entry under key from n on (n: a bucket chain position). */
static entry_t *match_from(chain_t *n, uint64_t hash, const char *key, size_t len)
{
    for (; n; n = n->next)
        if (arbor__reg_entry_is((entry_t *)n, hash, key, len))
            return (entry_t *)n;
    return NULL;
}

entry_t *arbor__reg_first_match(const cell_t *c, uint64_t hash, const char *key, size_t len)
{
    if (!c->key_cap)
        return NULL;
    return match_from(c->keys[hash & (c->key_cap - 1)], hash, key, len);
}

/* Counts the entries under key in a locked cell and, when pids or out is
 * not NULL, copies them there (room for all of them is the caller's job). */
size_t arbor__reg_collect(const cell_t *c, uint64_t hash, const char *key, size_t len,
                          arbor_pid_t *pids, arbor_registry_entry_t *out)
{
    size_t n = 0;
    for (entry_t *e = arbor__reg_first_match(c, hash, key, len); e;
         e = match_from(e->link.next, hash, key, len), n++) {
        if (pids)
            pids[n] = e->pid;
        if (out) {
            out[n].pid = e->pid;
            out[n].size = e->size;
            memcpy(out[n].value, e->value, sizeof out[n].value);
        }
    }
    return n;
}

owner_t *arbor__reg_find_owner(const cell_t *c, arbor_pid_t pid)
{
    if (!c->owner_cap)
        return NULL;
    for (chain_t *n = c->owners[arbor__reg_mix(pid) & (c->owner_cap - 1)]; n; n = n->next)
        if (((owner_t *)n)->pid == pid)
            return (owner_t *)n;
    return NULL;
}

/* Removes e; when it was its owner's last entry here, removes the owner too
 * and returns its monitor ref (for the caller to demonitor after unlocking),
 * else 0. Under the write lock. */
arbor_ref_t arbor__reg_remove_entry(cell_t *c, entry_t *e)
{
    owner_t *o = e->owner;
    table_unlink(c->keys, c->key_cap, e->hash, &e->link);
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
    c->entries--;
    if (--o->count)
        return 0;
    arbor_ref_t ref = o->mref;
    table_unlink(c->owners, c->owner_cap, arbor__reg_mix(o->pid), &o->link);
    arbor__reg_block_free(o);
    c->owner_count--;
    return ref;
}

/* Frees everything the cell holds. Under the write lock. */
void arbor__reg_cell_clear(cell_t *c)
{
    for (size_t i = 0; i < c->key_cap; i++)
        for (chain_t *n = c->keys[i], *next; n; n = next) {
            next = n->next;
            if (!((entry_t *)n)->in_owner) /* else freed with its owner, below */
                arbor__reg_block_free(n);
        }
    for (size_t i = 0; i < c->owner_cap; i++)
        for (chain_t *n = c->owners[i], *next; n; n = next) {
            next = n->next;
            arbor__reg_block_free(n);
        }
    arbor__reg_block_free(c->keys);
    arbor__reg_block_free(c->owners);
    c->keys = c->owners = NULL;
    c->key_cap = c->owner_cap = c->entries = c->owner_count = 0;
}

/* Adds an entry for self (the caller), which makes watcher monitor it if
 * it is new in this cell. Both blocks are taken before the monitor, so
 * nothing needs undoing once it is made. Under the write lock. */
int arbor__reg_add_entry(cell_t *c, arbor_pid_t self, arbor_pid_t watcher, uint64_t hash,
                         const char *key, size_t key_len, const void *value, size_t size)
{
    if (!table_reserve(&c->keys, &c->key_cap, c->entries, entry_hash) ||
        !table_reserve(&c->owners, &c->owner_cap, c->owner_count, owner_hash))
        return ARBOR_ENOMEM;
    owner_t *o = arbor__reg_find_owner(c, self);
    bool fresh = !o;
    if (fresh && !(o = arbor__reg_block_alloc(sizeof *o)))
        return ARBOR_ENOMEM;
    bool in_owner = !o->first_taken;
    entry_t *e = in_owner ? &o->first : arbor__reg_block_alloc(sizeof *e);
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
        chain_t **b = &c->owners[arbor__reg_mix(self) & (c->owner_cap - 1)];
        o->link.next = *b;
        *b = &o->link;
        c->owner_count++;
    }
    e->owner = o;
    e->pid = self;
    e->hash = hash;
    e->key_len = (uint8_t)key_len;
    memcpy(e->key, key, key_len);
    e->size = (uint8_t)size;
    memcpy(e->value, value, size);
    chain_t **b = &c->keys[hash & (c->key_cap - 1)];
    e->link.next = *b;
    *b = &e->link;
    e->owner_next = o->entries;
    if (o->entries)
        o->entries->owner_prev = e;
    o->entries = e;
    o->count++;
    c->entries++;
    return 0;
}

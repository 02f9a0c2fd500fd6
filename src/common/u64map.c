#include "u64map.h"

#include <stdlib.h>
#include <string.h>

#include "arbor/process.h"

#define EMPTY 0

/* MurmurHash3's 64-bit finaliser: every key bit moves every slot bit. Keys
 * here are counters above fixed low bits (references) or beside a
 * generation (pids), and recycled pids come in whatever order the free
 * slots do; one multiply left runs of four slots and more in tables of
 * references, and Fibonacci hashing piled recycled pids into an eighth of
 * the table. */
static inline uint32_t slot_of(uint64_t key, uint32_t cap)
{
    key ^= key >> 33;
    key *= 0xff51afd7ed558ccdull;
    key ^= key >> 33;
    key *= 0xc4ceb9fe1a85ec53ull;
    key ^= key >> 33;
    return (uint32_t)key & (cap - 1);
}

static void *map_alloc(const arbor__u64map_t *m, size_t size)
{
    return m->process_heap ? arbor_alloc(size) : malloc(size);
}

static void map_free(const arbor__u64map_t *m, void *p)
{
    if (m->process_heap)
        arbor_free(p);
    else
        free(p);
}

static inline uint64_t *keys_of(const arbor__u64map_t *m)
{
    return m->slots;
}

/* A set's table has no values: callers use value_at() and set_value(). */
static inline uint64_t *vals_of(const arbor__u64map_t *m)
{
    return m->slots + m->cap;
}

static inline uint64_t value_at(const arbor__u64map_t *m, uint32_t i)
{
    return m->set ? 0 : vals_of(m)[i];
}

static inline void set_value(arbor__u64map_t *m, uint32_t i, uint64_t val)
{
    if (!m->set)
        vals_of(m)[i] = val;
}

static bool resize(arbor__u64map_t *m, uint32_t cap)
{
    uint64_t *slots = map_alloc(m, (m->set ? 1 : 2) * (size_t)cap * sizeof *slots);
    if (!slots)
        return false;
    uint64_t *keys = slots, *vals = slots + cap;
    memset(keys, 0, cap * sizeof *keys);
    for (uint32_t i = 0; i < m->cap; i++) {
        uint64_t k = keys_of(m)[i];
        if (k == EMPTY)
            continue;
        uint32_t j = slot_of(k, cap);
        while (keys[j] != EMPTY)
            j = (j + 1) & (cap - 1);
        keys[j] = k;
        if (!m->set)
            vals[j] = vals_of(m)[i];
    }
    if (m->cap)
        map_free(m, m->slots);
    m->slots = slots;
    m->cap = cap;
    return true;
}

static int64_t find(const arbor__u64map_t *m, uint64_t key);

/* A map of one entry in place gets a table for it and the next one. */
static bool leave_place(arbor__u64map_t *m)
{
    uint64_t k = m->one_key, v = m->one_val;
    m->count = 0;
    if (!resize(m, 4)) {
        m->one_key = k;
        m->one_val = v;
        m->count = 1;
        return false;
    }
    return arbor__u64map_put(m, k, v); /* room for it: cannot fail */
}

bool arbor__u64map_put(arbor__u64map_t *m, uint64_t key, uint64_t val)
{
    if (m->cap == 0) {
        if (m->count == 0 || m->one_key == key) {
            m->one_key = key;
            m->one_val = m->set ? 0 : val;
            m->count = 1;
            return true;
        }
        if (!leave_place(m))
            return false;
    }
    if ((m->count + 1) * 4 > m->cap * 3) {
        /* Replacing needs no room: it must not fail for want of it. */
        int64_t at = find(m, key);
        if (at >= 0) {
            set_value(m, (uint32_t)at, val);
            return true;
        }
        if (!resize(m, m->cap * 2))
            return false;
    }
    uint64_t *keys = keys_of(m);
    uint32_t i = slot_of(key, m->cap);
    while (keys[i] != EMPTY) {
        if (keys[i] == key) {
            set_value(m, i, val);
            return true;
        }
        i = (i + 1) & (m->cap - 1);
    }
    keys[i] = key;
    set_value(m, i, val);
    m->count++;
    return true;
}

/* The slot of key in a table (cap > 0), or -1. */
static int64_t find(const arbor__u64map_t *m, uint64_t key)
{
    if (!m->count)
        return -1;
    const uint64_t *keys = keys_of(m);
    uint32_t i = slot_of(key, m->cap);
    while (keys[i] != EMPTY) {
        if (keys[i] == key)
            return i;
        i = (i + 1) & (m->cap - 1);
    }
    return -1;
}

/* A map in place holding key. */
static bool in_place(const arbor__u64map_t *m, uint64_t key)
{
    return m->cap == 0 && m->count == 1 && m->one_key == key;
}

bool arbor__u64map_get(const arbor__u64map_t *m, uint64_t key, uint64_t *val)
{
    if (m->cap == 0) {
        if (!in_place(m, key))
            return false;
        if (val)
            *val = m->one_val;
        return true;
    }
    int64_t i = find(m, key);
    if (i < 0)
        return false;
    if (val)
        *val = value_at(m, (uint32_t)i);
    return true;
}

/* Empties slot i without a tombstone (linear probing's backward shift):
 * each later entry of the run that may live at the hole moves into it,
 * and its old slot becomes the hole, until the run ends. So a table that
 * fills and empties in turn never needs rehashing, and the count of
 * entries is all that decides when it grows. */
static void remove_at(arbor__u64map_t *m, uint32_t hole)
{
    uint64_t *keys = keys_of(m);
    uint32_t mask = m->cap - 1;
    for (uint32_t j = (hole + 1) & mask; keys[j] != EMPTY; j = (j + 1) & mask) {
        /* The entry at j may move to the hole unless its home slot lies
         * after the hole, up to j, going round the table. */
        uint32_t home = slot_of(keys[j], m->cap);
        if (((j - home) & mask) < ((j - hole) & mask))
            continue;
        keys[hole] = keys[j];
        set_value(m, hole, value_at(m, j));
        hole = j;
    }
    keys[hole] = EMPTY;
}

bool arbor__u64map_del(arbor__u64map_t *m, uint64_t key, uint64_t *val)
{
    if (m->cap == 0) {
        if (!in_place(m, key))
            return false;
        if (val)
            *val = m->one_val;
        m->one_key = m->one_val = 0;
        m->count = 0;
        return true;
    }
    int64_t at = find(m, key);
    if (at < 0)
        return false;
    if (val)
        *val = value_at(m, (uint32_t)at);
    remove_at(m, (uint32_t)at);
    m->count--;
    if (m->count == 0 && m->cap > ARBOR__U64MAP_KEEP)
        arbor__u64map_free(m);
    return true;
}

bool arbor__u64map_next(const arbor__u64map_t *m, uint32_t *pos, uint64_t *key, uint64_t *val)
{
    if (m->cap == 0) {
        if (m->count == 0 || *pos > 0)
            return false;
        *key = m->one_key;
        if (val)
            *val = m->one_val;
        *pos = 1;
        return true;
    }
    const uint64_t *keys = keys_of(m);
    for (uint32_t i = *pos; i < m->cap; i++) {
        if (keys[i] != EMPTY) {
            *key = keys[i];
            if (val)
                *val = value_at(m, i);
            *pos = i + 1;
            return true;
        }
    }
    return false;
}

void arbor__u64map_free(arbor__u64map_t *m)
{
    if (m->cap)
        map_free(m, m->slots);
    m->one_key = m->one_val = 0;
    m->cap = 0;
    m->count = 0;
}

void arbor__u64map_shrink(arbor__u64map_t *m)
{
    if (m->cap && m->count == 0)
        arbor__u64map_free(m);
}

size_t arbor__u64map_bytes(const arbor__u64map_t *m)
{
    return (m->set ? 1 : 2) * (size_t)m->cap * sizeof(uint64_t);
}

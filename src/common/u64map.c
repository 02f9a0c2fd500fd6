#include "u64map.h"

#include <stdlib.h>
#include <string.h>

#include "arbor/process.h"

#define EMPTY 0
#define TOMB  1

static inline uint32_t slot_of(uint64_t key, uint32_t cap)
{
    key ^= key >> 33;
    key *= 0xff51afd7ed558ccdull;
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
        if (k <= TOMB)
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
    m->used = m->count;
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
    if ((m->used + 1) * 4 > m->cap * 3) {
        /* Replacing needs no room: it must not fail for want of it. */
        int64_t at = find(m, key);
        if (at >= 0) {
            set_value(m, (uint32_t)at, val);
            return true;
        }
        uint32_t cap = m->cap;
        while ((m->count + 1) * 2 > cap)
            cap *= 2;
        if (!resize(m, cap))
            return false;
    }
    uint64_t *keys = keys_of(m);
    uint32_t i = slot_of(key, m->cap);
    int64_t tomb = -1;
    while (keys[i] != EMPTY) {
        if (keys[i] == key) {
            set_value(m, i, val);
            return true;
        }
        if (keys[i] == TOMB && tomb < 0)
            tomb = i;
        i = (i + 1) & (m->cap - 1);
    }
    if (tomb >= 0)
        i = (uint32_t)tomb;
    else
        m->used++;
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
    int64_t i = find(m, key);
    if (i < 0)
        return false;
    if (val)
        *val = value_at(m, (uint32_t)i);
    keys_of(m)[i] = TOMB;
    m->count--;
    if (m->count == 0) {
        /* Nothing left. A small map is cleared in place (a process that
         * calls in a loop fills and empties its monitor map every call);
         * a big one is given back. */
        if (m->cap <= 16) {
            memset(keys_of(m), 0, m->cap * sizeof(uint64_t));
            m->used = 0;
        } else {
            arbor__u64map_free(m);
        }
    }
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
        if (keys[i] > TOMB) {
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

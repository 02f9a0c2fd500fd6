/*
 * A small open-addressing hash map from non-zero 64-bit keys to 64-bit
 * values: a process's links and monitors (runtime), a supervisor's
 * children by pid (OTP). Owned by one thread at a time; no locking. Empty
 * maps allocate nothing. A map marked process_heap allocates with
 * arbor_alloc(), so it is freed with the process that owns it however that
 * process dies; the runtime's own maps use malloc. A map of one entry
 * allocates nothing either. A map marked set keeps no values, at half the
 * memory: a process's links (a supervisor holds one per child).
 */
#ifndef ARBOR_RUNTIME_U64MAP_H
#define ARBOR_RUNTIME_U64MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct arbor__u64map {
    /* cap 0: at most one entry, held in place (most maps of a process hold
     * one: the link to its supervisor, a monitor during a call), so it costs
     * no allocation. Otherwise a table of cap keys followed by cap values,
     * one block: key 0 = empty slot. Linear probing; a deletion shifts
     * the rest of its run back, so there are no tombstones. A process has
     * four maps, so every word here counts. */
    union {
        uint64_t *slots;  /* cap > 0 */
        uint64_t one_key; /* cap == 0 */
    };
    uint64_t one_val;  /* cap == 0 */
    uint32_t cap : 30; /* power of two, or 0 */
    uint32_t process_heap : 1;
    uint32_t set : 1; /* values are not kept (a table is keys only): get, del and next give 0 */
    uint32_t count;   /* live entries */
} arbor__u64map_t;

/* Inserts or replaces. Returns false when out of memory (map unchanged);
 * replacing an existing key never fails. */
bool arbor__u64map_put(arbor__u64map_t *m, uint64_t key, uint64_t val);
/* Looks key up; stores its value in *val when found and val is not NULL. */
bool arbor__u64map_get(const arbor__u64map_t *m, uint64_t key, uint64_t *val);
/* A table of at most this many slots is kept when its last entry goes
 * (4 KiB for a map): a process that fills and empties a map in turn (a
 * caller's monitor per call, a supervisor's monitors while it stops its
 * children in batches) would otherwise allocate and free it every time.
 * A bigger one is given back; arbor__u64map_shrink() gives back any. */
#define ARBOR__U64MAP_KEEP 256

/* Removes key; returns whether it was there (and its value in *val). */
bool arbor__u64map_del(arbor__u64map_t *m, uint64_t key, uint64_t *val);
/* Iterates: start with *pos = 0; returns false at the end. A deletion
 * moves other entries, so after one the iteration must start again (or
 * stop, as its callers do). */
bool arbor__u64map_next(const arbor__u64map_t *m, uint32_t *pos, uint64_t *key, uint64_t *val);
void arbor__u64map_free(arbor__u64map_t *m);
/* Bytes of the map's table (0 in place). */
size_t arbor__u64map_bytes(const arbor__u64map_t *m);
/* Gives back the table of an empty map (a hibernating process's). */
void arbor__u64map_shrink(arbor__u64map_t *m);

#endif

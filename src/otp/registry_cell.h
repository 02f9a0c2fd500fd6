/*
 * The Registry's cells (internal to registry.c): the hash tables a
 * partition writes and readers search, under the cell's rwlock, and the
 * malloc'd blocks they are made of. registry.c explains the locking and
 * memory rules; everything here assumes the caller holds the lock the rule
 * asks for.
 */
#ifndef ARBOR_OTP_REGISTRY_CELL_H
#define ARBOR_OTP_REGISTRY_CELL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arbor.h"

#define KEY_MAX   ARBOR_REGISTRY_KEY_MAX
#define VALUE_MAX ARBOR_REGISTRY_VALUE_MAX

/* A slot of a cell's table: a node and its 64-bit key, the key hash of
 * an entry or the mixed pid of an owner (arbor__reg_mix() is a bijection:
 * equal mixed pids are equal pids). The table probes linearly from the
 * slot of the key's low bits; a NULL node is an empty slot. The keys are
 * in the array so that a probe past other keys, and a rehash, read no
 * node: with a table of 100,000 keys each node read is a cache miss. */
typedef struct reg_slot {
    uint64_t key;
    void *node;
} reg_slot_t;

typedef struct reg_table {
    reg_slot_t *slots; /* cap of them, a power of two, or NULL */
    size_t cap, count;
} reg_table_t;

typedef struct owner owner_t;

typedef struct entry {
    struct entry *owner_prev, *owner_next;
    owner_t *owner;
    arbor_pid_t pid;
    uint64_t hash;
    uint8_t key_len, size;
    bool in_owner; /* the owner's first, in its block: freed with it */
    char key[KEY_MAX + 1];
    unsigned char value[VALUE_MAX];
} entry_t;

/* A process holding keys in a cell: its monitor and its entries there.
 * Its first entry lives in its block (most owners hold one key, as a
 * desk's ticket worker does: one malloc a register, not two); while that
 * is taken, the others have blocks of their own. */
struct owner {
    arbor_pid_t pid;
    arbor_ref_t mref;
    entry_t *entries;
    size_t count;
    bool first_taken; /* first holds an entry */
    entry_t first;
};

typedef struct cell {
    pthread_rwlock_t lock;
    /* Everything below is read and written under lock only. */
    arbor_pid_t reg; /* the registry this cell belongs to; ARBOR_NOPID: free or retired */
    unsigned part;
    reg_table_t keys;   /* entries by key hash */
    reg_table_t owners; /* owners by mixed pid */
} __attribute__((aligned(64))) cell_t;

/* A zeroed block that a cell or an anchor will own; counted for the tests. */
void *arbor__reg_block_alloc(size_t size);
void arbor__reg_block_free(void *p);

/* A 64-bit finaliser (splitmix64's): pids and hashes spread over slots. */
uint64_t arbor__reg_mix(uint64_t x);

/* A key's hash: the low bits pick its slot, the high bits its partition. */
uint64_t arbor__reg_key_hash(const char *key, size_t len);
unsigned arbor__reg_part_of(uint64_t hash, unsigned nparts);

/* True when e is an entry under key. */
bool arbor__reg_entry_is(const entry_t *e, uint64_t hash, const char *key, size_t len);

/* The first entry under key in a locked cell, or NULL. */
entry_t *arbor__reg_first_match(const cell_t *c, uint64_t hash, const char *key, size_t len);

/* Counts the entries under key in a locked cell and, when pids or out is
 * not NULL, copies them there (room for all of them is the caller's job). */
size_t arbor__reg_collect(const cell_t *c, uint64_t hash, const char *key, size_t len,
                          arbor_pid_t *pids, arbor_registry_entry_t *out);

/* The owner record of pid in a locked cell, or NULL. */
owner_t *arbor__reg_find_owner(const cell_t *c, arbor_pid_t pid);

/* Removes e; when it was its owner's last entry here, removes the owner too
 * and returns its monitor ref (for the caller to demonitor after unlocking),
 * else 0. Under the write lock. */
arbor_ref_t arbor__reg_remove_entry(cell_t *c, entry_t *e);

/* Adds an entry under key for the CALLING process, self, and when self is
 * new in this cell makes the cell's partition, watcher, monitor it
 * (arbor_monitor_by(), which does not yield): the owner's mref is that
 * monitor. Under the write lock. Returns 0, ARBOR_ENOMEM or what
 * arbor_monitor_by() returned (ARBOR_ENOPROC: the partition is gone);
 * nothing changed unless 0. */
int arbor__reg_add_entry(cell_t *c, arbor_pid_t self, arbor_pid_t watcher, uint64_t hash,
                         const char *key, size_t key_len, const void *value, size_t size);

/* Frees everything the cell holds. Under the write lock. */
void arbor__reg_cell_clear(cell_t *c);

/* Blocks allocated and not yet freed, for the tests' leak check. */
size_t arbor__reg_live_blocks(void);

#endif

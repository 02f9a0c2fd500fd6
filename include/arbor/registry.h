/*
 * Registry: a local, partitioned key-value process registry (Elixir's
 * Registry). The design, and the memory lifetime rule that lets a killed
 * registry leak nothing, are at the top of src/otp/registry.c.
 *
 *   Elixir                                    Arbor
 *   Registry.start_link(keys: :unique,        arbor_registry_opts_t o = {.name = "reg",
 *                       name: Reg)                .keys = ARBOR_REGISTRY_UNIQUE, .link = true};
 *                                             arbor_registry_start(&o, &reg);
 *   Registry.register(Reg, "k", v)            arbor_registry_register(reg, "k", &v, sizeof v, &o);
 *   Registry.lookup(Reg, "k")                 arbor_registry_lookup(reg, "k", &entries, &n);
 *   Registry.keys(Reg, pid)                   arbor_registry_keys(reg, pid, &keys, &n);
 *   Registry.dispatch(Reg, "t", fun)          arbor_registry_dispatch(reg, "t", tag, &m, sizeof m,
 *                                                                     &sent);
 *   GenServer.start_link(M, a, name:          arbor_registry_start_server(reg, "k", &m, a,
 *       {:via, Registry, {Reg, "k"}})             &(arbor_gs_opts_t){.link = true}, &pid, &err);
 *   GenServer.call({:via, Registry,           arbor_registry_call(reg, "k", tag, &r, sizeof r,
 *       {Reg, "k"}}, r)                           ARBOR_GS_CALL_TIMEOUT, &reply, &err);
 *
 * Keys are strings of at most ARBOR_REGISTRY_KEY_MAX bytes; a value is a
 * copy of at most ARBOR_REGISTRY_VALUE_MAX bytes (or none). In a unique
 * registry a key has at most one owner; in a duplicate registry a key may
 * have any number of entries, from any processes, one per register call.
 *
 * Each key belongs to one of the registry's partition processes, chosen by
 * a hash of the key, which publishes the key's table. A register is written
 * into that table by the registering process itself, under the table's
 * write lock (Elixir writes ETS from the caller), with no message round
 * trip; unregister and the cleanup after a process dies go through the
 * partition. Reads (lookup, whereis, dispatch, count) take no message round
 * trip either: they read the table under a read lock, from any thread, so
 * they scale across schedulers.
 *
 * One deviation from Elixir: a partition MONITORS each process while it
 * holds keys there (Elixir links), and removes all of the process's keys
 * when its DOWN arrives. A registry therefore never kills, and is never
 * killed by, a process that registered in it. The monitor is made by the
 * registering process's first register there (arbor_monitor_by(), as
 * Elixir's caller links itself to the partition): the registering side
 * holds it when register returns, the partition takes it in before any
 * later request from that process.
 *
 * The registry itself is a process: stop it with arbor_registry_stop() or,
 * as a supervisor does, with an exit signal from its parent. A partition
 * that dies takes the registry down with reason shutdown (Elixir's
 * registry supervisor allows no restarts); a supervisor above restarts the
 * whole registry, empty.
 */
#ifndef ARBOR_REGISTRY_H
#define ARBOR_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gen_server.h"
#include "message.h"
#include "process.h"
#include "reason.h"

#ifdef __cplusplus
extern "C" {
#endif

#pragma GCC visibility push(default)

#define ARBOR_REGISTRY_KEY_MAX   63 /* bytes in a key, without the NUL */
#define ARBOR_REGISTRY_VALUE_MAX 64 /* bytes in a value */
/* Most partitions one registry may have. */
#define ARBOR_REGISTRY_PARTITIONS_MAX 64

typedef enum arbor_registry_keys {
    ARBOR_REGISTRY_UNIQUE = 0, /* a key has at most one owner */
    ARBOR_REGISTRY_DUPLICATE,  /* a key may have many entries (pub/sub, dispatch) */
} arbor_registry_keys_t;

typedef struct arbor_registry_opts {
    const char *name; /* registered name of the registry process, or NULL; copied */
    arbor_registry_keys_t keys;
    unsigned partitions; /* 0: one per scheduler; at most ARBOR_REGISTRY_PARTITIONS_MAX */
    bool link;           /* link the registry to the caller (start_link) */
} arbor_registry_opts_t;

/* One registration, as lookup returns it. */
typedef struct arbor_registry_entry {
    arbor_pid_t pid;
    size_t size; /* bytes of value in use; 0 when registered without one */
    _Alignas(16) unsigned char value[ARBOR_REGISTRY_VALUE_MAX];
} arbor_registry_entry_t;

/* A key, as arbor_registry_keys() returns it. */
typedef struct arbor_registry_key {
    char key[ARBOR_REGISTRY_KEY_MAX + 1];
} arbor_registry_key_t;

/*
 * Starts a registry and waits until it is ready: its partitions run and its
 * name (opts->name, copied) is registered. opts must not be NULL. With
 * opts->link the registry is linked to the caller, as a supervisor's child
 * start function needs; the registry traps exits and stops, with its
 * partitions, when its parent sends it an exit signal.
 *   0              started; *pid_out is the registry
 *   ARBOR_EEXIST   opts->name is taken; *pid_out is its owner
 *   ARBOR_EINVAL   bad keys or name, or more than ARBOR_REGISTRY_PARTITIONS_MAX partitions
 *   ARBOR_EAGAIN   the process-wide table of registries is full (see registry.c)
 *   ARBOR_ENOTPROC, ARBOR_ENOMEM, ARBOR_EEXIT (a partition failed to start)
 * Nothing is left running after a failure. Process only.
 */
int arbor_registry_start(const arbor_registry_opts_t *opts, arbor_pid_t *pid_out);

/*
 * Stops registry reg with reason and waits for it to be gone: its
 * partitions stop first, then every entry is released. Registered processes
 * are not affected (they are monitored, not linked).
 *   0              stopped
 *   ARBOR_ENOPROC  reg is not a running registry
 *   ARBOR_EEXIT    it exited with another reason (it was dying already)
 * Process only; not from a process of the registry itself.
 */
int arbor_registry_stop(arbor_pid_t reg, arbor_reason_t reason);

/*
 * Registers the CALLING process under key with a copy of size bytes at
 * value (size 0: no value; value may then be NULL). A process may hold many
 * keys; it is monitored by the key's partition while it holds any there,
 * and all its keys are removed when it dies. Written by the caller, with
 * no message to the partition: lookup, from any process, finds the key
 * once this returns, even while the partition is busy or suspended.
 *   0              registered
 *   ARBOR_EEXIST   unique registry, key taken; *owner_out (when not NULL)
 *                  is the owner, which is the caller itself when it
 *                  registered key before. A key whose owner has died is
 *                  free at once, even before the registry processed the
 *                  owner's DOWN.
 *   ARBOR_ENOPROC  reg is not a running registry
 *   ARBOR_EINVAL   key is NULL, or value is NULL with size > 0
 *   ARBOR_ETOOBIG  key or value is too long
 *   ARBOR_ENOTPROC, ARBOR_ENOMEM
 * In a duplicate registry every call adds one entry, also for the same
 * process and key. Nothing changed on failure. Process only.
 */
int arbor_registry_register(arbor_pid_t reg, const char *key, const void *value, size_t size,
                            arbor_pid_t *owner_out);

/*
 * Removes the calling process's entries under key (all of them, in a
 * duplicate registry). Returns 0, also when it had none; ARBOR_ENOPROC,
 * ARBOR_EINVAL, ARBOR_ETOOBIG, ARBOR_ENOTPROC. The partition stops
 * monitoring the caller when this was its last key there. Process only.
 */
int arbor_registry_unregister(arbor_pid_t reg, const char *key);

/*
 * The entries under key: *out gets a malloc'd array of *n entries, which
 * the caller releases with free() (NULL when *n is 0). Returns 0,
 * ARBOR_ENOPROC (not a running registry), ARBOR_EINVAL, ARBOR_ETOOBIG,
 * ARBOR_ENOMEM. An entry of a process that has just died may still be
 * returned until its partition processes the DOWN (as in Elixir); never
 * after. Any thread; no message is sent.
 */
int arbor_registry_lookup(arbor_pid_t reg, const char *key, arbor_registry_entry_t **out,
                          size_t *n);

/*
 * The live owner of key in unique registry reg, or ARBOR_NOPID: when the
 * key is free, its owner has died (liveness is checked), reg is not a
 * running registry, reg's keys are duplicate, or key is invalid. Any
 * thread; no message is sent.
 */
arbor_pid_t arbor_registry_whereis(arbor_pid_t reg, const char *key);

/*
 * Sends a copy of (tag, data, size) with arbor_send() to the process of
 * every entry under key (once per entry: a process registered twice under
 * key in a duplicate registry gets two), and stores the number of entries
 * in *sent (may be NULL). The entries are read at once; the sends happen
 * after the read lock is released. Returns 0 (also when there is no
 * entry), ARBOR_ENOPROC, ARBOR_EINVAL (a system tag, a bad key),
 * ARBOR_ETOOBIG, ARBOR_ENOMEM. Any thread.
 */
int arbor_registry_dispatch(arbor_pid_t reg, const char *key, uint64_t tag, const void *data,
                            size_t size, size_t *sent);

/*
 * The keys pid is registered under in reg (Elixir's Registry.keys/2): *out
 * gets a malloc'd array of *n keys, which the caller releases with free()
 * (NULL when *n is 0), in no particular order. In a duplicate registry a
 * key comes once per entry. A process with no keys, or not alive, has none
 * (0, *n = 0); as with lookup, the keys of a process that has just died may
 * still be returned until the registry processes its DOWN, never after.
 * The partitions are read one after another, so a key registered or
 * removed meanwhile may or may not be seen. Returns 0, ARBOR_ENOPROC (not a
 * running registry), ARBOR_EINVAL, ARBOR_ENOMEM. Any thread; no message is
 * sent.
 */
int arbor_registry_keys(arbor_pid_t reg, arbor_pid_t pid, arbor_registry_key_t **out, size_t *n);

/* Stores the number of entries in reg in *n (a snapshot, partition by
 * partition). Returns 0, ARBOR_ENOPROC, ARBOR_EINVAL. Any thread. */
int arbor_registry_count(arbor_pid_t reg, size_t *n);

/*
 * Starts a GenServer named {:via, Registry, {reg, key}}: the new process
 * registers itself under key in its init, before gs->init runs, exactly as
 * arbor_gs_start() registers opts->name (which must be NULL here). gs, arg,
 * opts (may be NULL), pid_out and err are as for arbor_gs_start(); gs must
 * stay valid for the life of the server. Returns what arbor_gs_start()
 * returns, and:
 *   ARBOR_EEXIST   key is taken by a live process: *pid_out is the owner
 *                  ({:error, {:already_started, pid}}); the new process
 *                  exited normally, so a linked caller is not hurt
 *   ARBOR_ENOPROC  reg is not a running registry
 *   ARBOR_EINVAL   reg has duplicate keys (only unique registries name
 *                  processes), opts->name is set, or a bad key
 * If gs->init fails or ignores, the key is released before this returns.
 * The key is released by the registry when the server dies. Process only.
 */
int arbor_registry_start_server(arbor_pid_t reg, const char *key, const arbor_gen_server_t *gs,
                                void *arg, const arbor_gs_opts_t *opts, arbor_pid_t *pid_out,
                                arbor_reason_t *err);

/* Like arbor_registry_start_server() with a value stored with the entry
 * ({:via, Registry, {reg, key, value}}): size bytes at value, copied. */
int arbor_registry_start_server_value(arbor_pid_t reg, const char *key, const void *value,
                                      size_t size, const arbor_gen_server_t *gs, void *arg,
                                      const arbor_gs_opts_t *opts, arbor_pid_t *pid_out,
                                      arbor_reason_t *err);

/*
 * arbor_gs_call() to the live owner of key in unique registry reg; the
 * arguments after key and every return code are arbor_gs_call()'s. Returns
 * ARBOR_ENOPROC when no live process holds key (OTP exits noproc) or reg is
 * not a running registry; ARBOR_EINVAL for a duplicate registry or a bad
 * key. Process only.
 */
int arbor_registry_call(arbor_pid_t reg, const char *key, uint64_t tag, const void *req,
                        size_t size, int64_t timeout_ms, arbor_msg_t **reply_out,
                        arbor_reason_t *exit_out);

/*
 * arbor_gs_cast() to the live owner of key in unique registry reg. Returns
 * 0 also when nobody holds key or reg is not running (a cast to a missing
 * via name is :ok); ARBOR_EINVAL for a duplicate registry, a bad key or a
 * bad argument. Any thread.
 */
int arbor_registry_cast(arbor_pid_t reg, const char *key, uint64_t tag, const void *msg,
                        size_t size);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif
#endif

/*
 * The OTP layer's private header: what its behaviours share. The
 * supervision core (what Supervisor and DynamicSupervisor share) has its
 * own, supervision.h. Internal names start with arbor__ and the name of
 * the file that defines them (arbor__match_* in match.c,
 * arbor__reason_wire_* in reason_wire.c).
 */
#ifndef ARBOR_OTP_INTERNAL_H
#define ARBOR_OTP_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "arbor.h"
#include "tags.h"

/* Reports a message gs has no handle_info for (a warning, as OTP logs). */
void arbor__gen_server_warn_unhandled(const arbor_gen_server_t *gs, const arbor_msg_t *msg);

/* Matchers for arbor_receive_match() (match.c): the EXIT of the pid at
 * arg, the DOWN of the monitor whose ref is at arg. */
bool arbor__match_exit_from(const arbor_msg_t *m, void *pid);
bool arbor__match_down_of(const arbor_msg_t *m, void *ref);

/* ---- start.c: the synchronous start (proc_lib) --------------------------------------- */

/* The starter's address for the ack, which the new process receives
 * inside its start argument (spawned with it, or copied with arg_size). */
typedef struct arbor__start {
    arbor_pid_t parent;
    arbor_ref_t alias;
} arbor__start_t;

/* What the new process says of its init (proc_lib:init_ack): status 0,
 * ARBOR_IGNORED, ARBOR_EEXIST with the name's owner, ARBOR_EEXIT with a
 * reason, or another error code. */
typedef struct arbor__start_ack {
    int status;
    arbor_pid_t owner;
    arbor_reason_t reason;
} arbor__start_ack_t;

/* How a behaviour spawns its process: spawn(ctx, link, mref, pid) spawns
 * it linked to the caller when link is true, monitored (the ref in *mref)
 * when mref is not NULL, and stores its pid; returns 0 or what the spawn
 * returned. timeout: ms to wait for the ack (<= 0: for ever). */
typedef struct arbor__start_spawn {
    int (*spawn)(void *ctx, bool link, arbor_ref_t *mref, arbor_pid_t *pid);
    void *ctx;
    bool link;
    int64_t timeout;
} arbor__start_spawn_t;

/*
 * Starts a process synchronously: fills in *st (the caller passes st to
 * the new process through ctx), spawns it with how, and waits for its ack
 * (arbor__start_ack()), its death or the timeout. Returns 0 and *pid_out;
 * ARBOR_IGNORED; ARBOR_EEXIST with the name's owner in *pid_out;
 * ARBOR_EEXIT with *error_out (the caller's to free) when init failed or
 * the process died first; ARBOR_ETIMEDOUT (it is killed); ARBOR_ENOTPROC
 * outside a process; or the spawn's error. Whenever it is not 0, the
 * process is gone and, for a linked start, its EXIT taken. Process only.
 */
int arbor__start_sync(arbor__start_t *st, const arbor__start_spawn_t *how, arbor_pid_t *pid_out,
                      arbor_reason_t *error_out);

/* Called by the new process, once: tells its starter how init went; a
 * reason's text travels with it. */
void arbor__start_ack(const arbor__start_t *st, arbor__start_ack_t a);

/* Reasons in the OTP layer's messages (reason_wire.c). A message that
 * holds a reason is sent as size bytes of data followed by the reason r's
 * whole text: arbor_send_alias() through alias (arbor_send() when alias is
 * 0), or a gen_server reply. The receiver copies the struct out of m and
 * calls arbor__reason_wire_in() on the copy's reason, which then reads its
 * text from m: valid until m is freed. */
int arbor__reason_wire_send(arbor_pid_t to, arbor_ref_t alias, uint64_t tag, const void *data,
                            size_t size, const arbor_reason_t *r);
arbor_gs_ret_t arbor__reason_wire_reply(const void *data, size_t size, const arbor_reason_t *r);
void arbor__reason_wire_in(arbor_reason_t *r, const arbor_msg_t *m, size_t size);

/* The live owner of key in reg, a registry with unique keys (registry.c,
 * for registry_via.c): 0 and *pid, ARBOR_ENOENT, ARBOR_EINVAL (duplicate
 * keys or a bad key), ARBOR_ENOPROC. */
int arbor__registry_unique_owner(arbor_pid_t reg, const char *key, arbor_pid_t *pid);
/* Checks key and value as a registration in reg would. */
int arbor__registry_check_entry(arbor_pid_t reg, const char *key, const void *value, size_t size);
/* 0 when reg is a running registry with unique keys; ARBOR_EINVAL for
 * duplicate keys, ARBOR_ENOPROC when it is not running. */
int arbor__registry_check_unique(arbor_pid_t reg);

#endif

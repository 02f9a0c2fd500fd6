/*
 * DynamicSupervisor: starts with no children and supervises the ones added
 * at run time, one_for_one, identified by pid (docs/otp.md,
 * "DynamicSupervisor").
 *
 * Elixir:
 *
 *   DynamicSupervisor.start_link(name: S, strategy: :one_for_one)
 *   DynamicSupervisor.start_child(S, {Worker, args})
 *
 * Arbor:
 *
 *   arbor_dynsup_opts_t o = ARBOR_DYNSUP_OPTS_DEFAULT;
 *   o.name = "S";
 *   arbor_dynsup_start(&o, &sup, NULL);
 *   arbor_dynsup_start_child(sup, &spec, &pid, &err);
 *
 * Child specs are supervisor.h's; their id is ignored and may repeat. A
 * restarted child is started again from its spec, so it begins from the
 * original arguments (its state is not carried over), as in OTP.
 *
 * Every call here to a process that is not a DynamicSupervisor (a
 * Supervisor, a GenServer) fails with ARBOR_EWRONGKIND, or ARBOR_EEXIT if
 * that process crashes on it.
 */
#ifndef ARBOR_DYNAMIC_SUPERVISOR_H
#define ARBOR_DYNAMIC_SUPERVISOR_H

#include <stddef.h>

#include "supervisor.h"

#ifdef __cplusplus
extern "C" {
#endif

#pragma GCC visibility push(default)

typedef struct arbor_dynsup_opts {
    const char *name;    /* registered name, or NULL */
    bool link;           /* link to the caller */
    int max_restarts;    /* >= 0 */
    int max_seconds;     /* > 0 */
    size_t max_children; /* 0 = no limit */
    /* Elixir's extra_arguments: passed as the first argument of every
     * child spec's start_extra (see arbor_child_spec_t). */
    void *extra_arg;
} arbor_dynsup_opts_t;

/* DynamicSupervisor.init/1's defaults: 3 restarts in 5 s, no child limit. */
#define ARBOR_DYNSUP_OPTS_DEFAULT ((arbor_dynsup_opts_t){.max_restarts = 3, .max_seconds = 5})

/* Starts a DynamicSupervisor. 0 and its pid; ARBOR_EINVAL (*error_out says
 * which option) with nothing started; ARBOR_EEXIST when the name is taken. */
int arbor_dynsup_start(const arbor_dynsup_opts_t *opts, arbor_pid_t *pid_out,
                       arbor_reason_t *error_out);

/*
 * Starts a child from spec. 0 with *pid_out, and in *error_out the info
 * its start function left (OTP's {ok, Pid, Info}; ARBOR_NORMAL if none);
 * ARBOR_IGNORED (nothing kept);
 * ARBOR_EMAXCHILD; ARBOR_EINVAL (bad spec, *error_out says why, checked in
 * the caller without asking the supervisor); ARBOR_EEXIT (the start failed:
 * *error_out).
 */
int arbor_dynsup_start_child(arbor_pid_t sup, const arbor_child_spec_t *spec, arbor_pid_t *pid_out,
                             arbor_reason_t *error_out);

/* Stops child pid by its shutdown spec and forgets it, whatever its restart
 * type. A child whose restart keeps failing is still found by the pid it
 * last had (and is forgotten, so the retries stop). 0, or ARBOR_ENOENT when
 * pid is not a child. */
int arbor_dynsup_terminate_child(arbor_pid_t sup, arbor_pid_t pid);

/* The children (id ""; pid ARBOR_NOPID for a child being restarted), in no
 * particular order. Release *out with free(). The same list without a
 * call, at once even while sup is busy: arbor_sup_children_snapshot()
 * (supervisor.h). */
int arbor_dynsup_which_children(arbor_pid_t sup, arbor_child_info_t **out, size_t *n);

/* specs: every child; active: running ones; restarting children count in
 * specs and workers/supervisors but not active. */
int arbor_dynsup_count_children(arbor_pid_t sup, arbor_child_counts_t *out);

/* Stops the supervisor: every child is told to shut down at once (each
 * killed when its own shutdown time runs out), then it exits with reason. */
int arbor_dynsup_stop(arbor_pid_t sup, arbor_reason_t reason);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif
#endif

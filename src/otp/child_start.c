/*
 * Starting a child: calling its spec's start function and checking what it
 * answered (a pid, linked to the supervisor; ignore; an error; a name
 * already taken), and the supervisor's own copy of a child's argument.
 */
#include <string.h>

#include "supervision.h"

/* A matcher that takes nothing: it notes whether the EXIT of the pid at
 * arg is queued. */
typedef struct {
    arbor_pid_t pid;
    bool seen;
} exit_peek_t;

static bool peek_exit(const arbor_msg_t *m, void *arg)
{
    exit_peek_t *p = arg;
    p->seen |= arbor__match_exit_from(m, &p->pid);
    return false;
}

/* Whether the child pid, just started by the caller (its supervisor), is
 * linked to it: it is, or it was and its EXIT is already here. A zero
 * receive first takes in the link signals of a child that linked from its
 * own side. Called only when the plain test fails, so that a start costs
 * one map lookup. */
static bool linked_to_us(arbor_pid_t pid)
{
    if (arbor_linked(pid))
        return true;
    exit_peek_t p = {pid, false};
    arbor_msg_t *m;
    arbor_receive_match(peek_exit, &p, 0, &m);
    return p.seen || arbor_linked(pid);
}

arbor_child_spec_t arbor_gs_child_spec(const arbor_gen_server_t *gs, void *arg)
{
    return (arbor_child_spec_t){.id = gs ? gs->label : NULL, .gen_server = gs, .arg = arg};
}

int arbor__child_start(const arbor_child_spec_t *spec, void *extra, arbor_pid_t *pid,
                       arbor_reason_t *err, arbor_pid_t *owner)
{
    arbor_reason_t why = ARBOR_NORMAL;
    *pid = ARBOR_NOPID;
    if (owner)
        *owner = ARBOR_NOPID;
    int rc = spec->start_extra ? spec->start_extra(extra, spec->arg, pid, &why)
             : spec->start     ? spec->start(spec->arg, pid, &why)
                               : arbor_gs_start(spec->gen_server, spec->arg,
                                                &(arbor_gs_opts_t){.link = true}, pid, &why);
    if (rc == 0 && *pid == ARBOR_NOPID) {
        rc = ARBOR_EEXIT;
        why = arbor_error("bad_start_return: no pid");
    } else if (rc == 0 && !linked_to_us(*pid)) {
        /* Unlinked, its death would never reach us: the supervisor would
         * show it running for ever. It is nobody's child: stop it. */
        arbor_exit_pid(*pid, ARBOR_KILL);
        rc = ARBOR_EEXIT;
        why = arbor_error("not_linked: child %s did not link to its supervisor (.link = true?)",
                          spec->id ? spec->id : "(dynamic)");
    } else if (rc == ARBOR_EEXIST && *pid != ARBOR_NOPID) {
        /* Its name is taken: OTP's {error, {already_started, Owner}}. */
        if (owner)
            *owner = *pid;
        rc = ARBOR_EEXIT;
        why = arbor_error("already_started");
    } else if (rc != 0 && rc != ARBOR_IGNORED && rc != ARBOR_EEXIT) {
        why = arbor_error("%s", arbor_err_name(rc));
        rc = ARBOR_EEXIT;
    }
    if (rc == ARBOR_EEXIT || rc == 0)
        *err = why; /* the error, or the info of {ok, Pid, Info} */
    if (rc != 0)
        *pid = ARBOR_NOPID;
    return rc;
}

bool arbor__child_own_arg(arbor_child_spec_t *spec)
{
    if (!spec->arg_size)
        return true;
    void *copy = arbor_alloc(spec->arg_size);
    if (!copy)
        return false;
    memcpy(copy, spec->arg, spec->arg_size);
    spec->arg = copy;
    return true;
}

void arbor__child_release_arg(arbor_child_spec_t *spec)
{
    if (spec->arg_size)
        arbor_free(spec->arg);
    spec->arg = NULL;
}

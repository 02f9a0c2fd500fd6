/*
 * Stopping one child as a supervisor does (supervisor.erl shutdown/1):
 * monitor, unlink and exit in one signal, wait for the DOWN, and kill the
 * child when its shutdown time runs out. DynamicSupervisor stops all its
 * children at once instead (dynamic_supervisor.c) but reads their ends
 * with arbor__shutdown_end_reason() and judges them with the same rule
 * (policy.c).
 */
#include "supervision.h"

int64_t arbor__shutdown_value(int64_t shutdown, arbor_child_type_t type)
{
    if (shutdown == ARBOR_SHUTDOWN_DEFAULT)
        return type == ARBOR_SUPERVISOR_CHILD ? ARBOR_SHUTDOWN_INFINITY : 5000;
    if (shutdown == ARBOR_SHUTDOWN_NOW)
        return 0;
    return shutdown;
}

/* Takes the queued EXIT of pid: true and *reason (copied) if there is one. */
static bool take_exit(arbor_pid_t pid, arbor_reason_t *reason)
{
    arbor_msg_t *m;
    if (arbor_receive_match(arbor__match_exit_from, &pid, 0, &m) != 0)
        return false;
    *reason = arbor_reason_copy(&((arbor_exit_msg_t *)m->data)->reason);
    arbor_msg_free(m);
    return true;
}

arbor_reason_t arbor__shutdown_end_reason(arbor_pid_t pid, const arbor_reason_t *down)
{
    arbor_reason_t r;
    if (down->kind == ARBOR_EXIT_NOPROC && take_exit(pid, &r))
        return r;
    return arbor_reason_copy(down);
}

static arbor_reason_t wait_down(arbor_ref_t ref, int64_t timeout, bool *timed_out)
{
    arbor_msg_t *m;
    if (arbor_receive_match(arbor__match_down_of, &ref, timeout, &m) != 0) {
        *timed_out = true;
        return ARBOR_TIMEOUT;
    }
    *timed_out = false;
    arbor_reason_t r = arbor_reason_copy(&((arbor_down_msg_t *)m->data)->reason);
    arbor_msg_free(m);
    return r;
}

arbor_reason_t arbor__shutdown_child(arbor_pid_t pid, int64_t shutdown)
{
    /* It may have died already: its EXIT then carries the real reason. */
    arbor_reason_t r;
    if (take_exit(pid, &r))
        return r;
    /* Monitor, unlink and exit in one signal (OTP's monitor_child and
     * exit/2): a death from here on reaches us as the DOWN. */
    bool brutal = shutdown == ARBOR_BRUTAL_KILL;
    arbor_ref_t ref;
    bool timed_out;
    if (arbor_monitor_exit(pid, brutal ? ARBOR_KILL : ARBOR_SHUTDOWN, &ref) != 0)
        return ARBOR_NOPROC;
    r = wait_down(ref, brutal ? ARBOR_INFINITY : shutdown, &timed_out);
    if (timed_out) {
        arbor_exit_pid(pid, ARBOR_KILL);
        arbor_reason_free(&r);
        r = wait_down(ref, ARBOR_INFINITY, &timed_out);
    }
    return r;
}

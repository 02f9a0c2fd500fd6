/*
 * What every supervisor does to a child: stop it by its shutdown spec, and
 * count restarts against the intensity.
 */
#include "otp.h"

bool arbor__otp_is_exit_from(const arbor_msg_t *m, void *pid)
{
    return m->tag == ARBOR_TAG_EXIT &&
           ((const arbor_exit_msg_t *)m->data)->from == *(arbor_pid_t *)pid;
}

bool arbor__otp_is_down_of(const arbor_msg_t *m, void *ref)
{
    return m->tag == ARBOR_TAG_DOWN &&
           ((const arbor_down_msg_t *)m->data)->ref == *(arbor_ref_t *)ref;
}

int64_t arbor__otp_shutdown_value(int64_t shutdown, arbor_child_type_t type)
{
    if (shutdown == ARBOR_SHUTDOWN_DEFAULT)
        return type == ARBOR_SUPERVISOR_CHILD ? ARBOR_SHUTDOWN_INFINITY : 5000;
    if (shutdown == ARBOR_SHUTDOWN_NOW)
        return 0;
    return shutdown;
}

static arbor_reason_t wait_down(arbor_ref_t ref, int64_t timeout, bool *timed_out)
{
    arbor_msg_t *m;
    if (arbor_receive_match(arbor__otp_is_down_of, &ref, timeout, &m) != 0) {
        *timed_out = true;
        return ARBOR_TIMEOUT;
    }
    *timed_out = false;
    arbor_reason_t r = ((arbor_down_msg_t *)m->data)->reason;
    arbor_msg_free(m);
    return r;
}

arbor_reason_t arbor__otp_shutdown_child(arbor_pid_t pid, int64_t shutdown)
{
    arbor_ref_t ref;
    bool timed_out;
    if (arbor_monitor(pid, &ref) != 0)
        return ARBOR_NOPROC;
    arbor_unlink(pid);
    /* It may have died already: its EXIT then carries the real reason. */
    arbor_msg_t *m;
    if (arbor_receive_match(arbor__otp_is_exit_from, &pid, 0, &m) == 0) {
        arbor_reason_t r = ((arbor_exit_msg_t *)m->data)->reason;
        arbor_msg_free(m);
        wait_down(ref, ARBOR_INFINITY, &timed_out);
        return r;
    }
    if (shutdown == ARBOR_BRUTAL_KILL) {
        arbor_exit_pid(pid, ARBOR_KILL);
        return wait_down(ref, ARBOR_INFINITY, &timed_out);
    }
    arbor_exit_pid(pid, ARBOR_SHUTDOWN);
    arbor_reason_t r = wait_down(ref, shutdown, &timed_out);
    if (timed_out) {
        arbor_exit_pid(pid, ARBOR_KILL);
        r = wait_down(ref, ARBOR_INFINITY, &timed_out);
    }
    return r;
}

bool arbor__otp_intensity_init(arbor__otp_intensity_t *in, int max_restarts, int max_seconds)
{
    in->cap = (unsigned)max_restarts + 1;
    in->head = in->count = 0;
    in->max_restarts = max_restarts;
    in->max_seconds = max_seconds;
    in->ring = arbor_alloc(in->cap * sizeof *in->ring);
    return in->ring != NULL;
}

bool arbor__otp_intensity_add(arbor__otp_intensity_t *in)
{
    uint64_t now = arbor_now_ms() / 1000;
    /* OTP keeps a restart while now - t <= period. */
    while (in->count && now - in->ring[in->head] > (uint64_t)in->max_seconds) {
        in->head = (in->head + 1) % in->cap;
        in->count--;
    }
    if (in->count == in->cap) {
        /* Full ring: the newest max_restarts + 1 are in the window. */
        return false;
    }
    in->ring[(in->head + in->count) % in->cap] = now;
    in->count++;
    return in->count <= (unsigned)in->max_restarts;
}

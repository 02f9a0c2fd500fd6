/*
 * The synchronous start every behaviour uses, as OTP's proc_lib:start_link
 * and init_ack: the starter spawns the new process and waits until it
 * says how its init went (the ack), or dies, or the start times out. So a
 * start returns only once the process is running (or gone), its name
 * registered, and a failed start leaves nothing behind: no process, and
 * for a starter that traps exits, no EXIT of the link in its mailbox (OTP
 * 26).
 *
 * The starter watches the new process through the link when it is linked
 * and traps exits (a supervisor: the EXIT comes anyway, and the link saves
 * a demonitor that would wait in the idle process's inbox), and through a
 * monitor otherwise. The ack comes through an alias of the starter's, so a
 * late ack after a timeout is dropped.
 */
#include "otp.h"

/* The ack, the DOWN of our monitor, or the EXIT of our link. */
typedef struct {
    arbor_ref_t alias;
    arbor_ref_t mref; /* 0: watch for the EXIT of `pid` instead */
    arbor_pid_t pid;
} wait_t;

static bool ack_or_end(const arbor_msg_t *m, void *arg)
{
    const wait_t *w = arg;
    if (m->tag == ARBOR__TAG_START_ACK)
        return m->alias == w->alias;
    if (!w->mref)
        return arbor__match_exit_from(m, (void *)&w->pid);
    return arbor__match_down_of(m, (void *)&w->mref);
}

/* After a failed start: wait for the process to be gone and, if we trap
 * exits, take the link's EXIT out of our mailbox. mref 0: the start
 * watched the link, not a monitor. */
static void reap(arbor_pid_t pid, arbor_ref_t mref, bool linked)
{
    arbor_msg_t *m;
    if (!mref) {
        if (arbor_receive_match(arbor__match_exit_from, &pid, ARBOR_INFINITY, &m) == 0)
            arbor_msg_free(m);
        return;
    }
    if (arbor_receive_match(arbor__match_down_of, &mref, ARBOR_INFINITY, &m) == 0)
        arbor_msg_free(m);
    if (linked && arbor_receive_match(arbor__match_exit_from, &pid, 0, &m) == 0)
        arbor_msg_free(m);
}

/* The process died before it acked (it exited in init, or was killed):
 * ARBOR_EEXIT with its reason. m is the DOWN or the EXIT. */
static int died(arbor_msg_t *m, arbor_pid_t pid, bool linked, arbor_reason_t *error_out)
{
    bool down = m->tag == ARBOR_TAG_DOWN;
    arbor_reason_t reason = arbor_reason_copy(down ? &((arbor_down_msg_t *)m->data)->reason
                                                   : &((arbor_exit_msg_t *)m->data)->reason);
    arbor_msg_free(m);
    if (down && linked && arbor_receive_match(arbor__match_exit_from, &pid, 0, &m) == 0)
        arbor_msg_free(m);
    if (error_out)
        *error_out = reason;
    else
        arbor_reason_free(&reason);
    return ARBOR_EEXIT;
}

int arbor__start_sync(arbor__start_t *st, const arbor__start_spawn_t *how, arbor_pid_t *pid_out,
                      arbor_reason_t *error_out)
{
    st->parent = arbor_self();
    if (!st->parent)
        return ARBOR_ENOTPROC;
    int rc = arbor_alias(&st->alias);
    if (rc)
        return rc;
    bool by_link = how->link && arbor_trapping_exits();
    arbor_pid_t pid;
    arbor_ref_t mref = 0;
    rc = how->spawn(how->ctx, how->link, by_link ? NULL : &mref, &pid);
    if (rc) {
        arbor_unalias(st->alias);
        return rc;
    }
    wait_t w = {st->alias, mref, pid};
    arbor_msg_t *m;
    int64_t timeout = how->timeout > 0 ? how->timeout : ARBOR_INFINITY;
    rc = arbor_receive_match(ack_or_end, &w, timeout, &m);
    arbor_unalias(st->alias);
    if (rc == ARBOR_ETIMEDOUT) {
        arbor_exit_pid(pid, ARBOR_KILL);
        reap(pid, mref, how->link);
        return ARBOR_ETIMEDOUT;
    }
    if (m->tag != ARBOR__TAG_START_ACK)
        return died(m, pid, how->link, error_out);
    arbor__start_ack_t a = *(arbor__start_ack_t *)m->data;
    arbor__reason_wire_in(&a.reason, m, sizeof a);
    a.reason = arbor_reason_copy(&a.reason);
    arbor_msg_free(m);
    if (a.status == 0) {
        if (mref)
            arbor_demonitor(mref, ARBOR_DEMONITOR_FLUSH);
        if (pid_out)
            *pid_out = pid;
        return 0;
    }
    reap(pid, mref, how->link);
    if (a.status == ARBOR_EEXIST && pid_out)
        *pid_out = a.owner;
    if (a.status == ARBOR_EEXIT && error_out)
        *error_out = a.reason;
    else
        arbor_reason_free(&a.reason);
    return a.status;
}

void arbor__start_ack(const arbor__start_t *st, arbor__start_ack_t a)
{
    arbor__reason_wire_send(st->parent, st->alias, ARBOR__TAG_START_ACK, &a, sizeof a, &a.reason);
}

/*
 * Matchers for arbor_receive_match() that every behaviour needs: the EXIT
 * of a linked process, the DOWN of a monitor.
 */
#include "otp.h"

bool arbor__match_exit_from(const arbor_msg_t *m, void *pid)
{
    return m->tag == ARBOR_TAG_EXIT &&
           ((const arbor_exit_msg_t *)m->data)->from == *(const arbor_pid_t *)pid;
}

bool arbor__match_down_of(const arbor_msg_t *m, void *ref)
{
    return m->tag == ARBOR_TAG_DOWN &&
           ((const arbor_down_msg_t *)m->data)->ref == *(const arbor_ref_t *)ref;
}

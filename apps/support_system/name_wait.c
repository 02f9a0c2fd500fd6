/*
 * name_wait_free (name_wait.h): the end of a name's holder, by a monitor.
 */
#include "name_wait.h"

static bool down_of(const arbor_msg_t *m, void *ref)
{
    return m->tag == ARBOR_TAG_DOWN &&
           ((const arbor_down_msg_t *)m->data)->ref == *(arbor_ref_t *)ref;
}

bool name_wait_free(const char *name, int64_t ms)
{
    arbor_pid_t holder = arbor_whereis(name);
    if (!holder || holder == arbor_self())
        return true;
    arbor_ref_t ref;
    if (arbor_monitor(holder, &ref) != 0)
        return !arbor_whereis(name); /* it ended already */
    arbor_msg_t *m;
    if (arbor_receive_match(down_of, &ref, ms, &m) == 0) {
        arbor_msg_free(m);
    } else {
        arbor_demonitor(ref, ARBOR_DEMONITOR_FLUSH);
    }
    /* A process's name is released before its monitors are told. */
    return !arbor_whereis(name);
}

/*
 * The retry path both supervisors take. A restart that cannot happen at
 * once (the child has back-off, or its start failed) is a message the
 * supervisor posts to itself, so that it serves calls between attempts;
 * each attempt, like each restart, first takes an intensity tick, and the
 * tick that exceeds the intensity ends the supervisor.
 */
#include <stdio.h>

#include "supervision.h"

void arbor__retry_report(arbor__retry_who_t who, arbor_report_kind_t kind, const char *what,
                         arbor_reason_t reason)
{
    char detail[96] = "";
    if (who.child_id)
        snprintf(detail, sizeof detail, "child=%s", who.child_id);
    arbor_report(&(arbor_report_t){.kind = kind,
                                   .pid = arbor_self(),
                                   .behaviour = who.behaviour,
                                   .what = what,
                                   .reason = reason,
                                   .detail = detail});
}

void arbor__retry_post(uint64_t tag, const void *key, size_t size, const arbor_child_spec_t *spec,
                       unsigned *step)
{
    uint64_t delay = arbor__backoff_delay(spec, step);
    if (delay)
        arbor_send_after(arbor_self(), tag, key, size, delay, NULL);
    else
        arbor_send(arbor_self(), tag, key, size);
}

const void *arbor__retry_key(const arbor_msg_t *msg, uint64_t tag, size_t size)
{
    if (msg->tag != tag || msg->from != arbor_self() || msg->size != size)
        return NULL;
    return msg->data;
}

bool arbor__retry_tick(arbor__intensity_t *in, arbor__retry_who_t who)
{
    if (arbor__intensity_add(in))
        return true;
    arbor__retry_report(who, ARBOR_REPORT_SUPERVISOR, "reached_max_restart_intensity",
                        ARBOR_SHUTDOWN);
    return false;
}

bool arbor__retry_after_exit(uint64_t tag, const void *key, size_t size,
                             const arbor_child_spec_t *spec, unsigned *step, uint64_t started_at)
{
    if (!spec->backoff_ms)
        return false;
    arbor__backoff_exited(spec, step, started_at);
    arbor__retry_post(tag, key, size, spec, step);
    return true;
}

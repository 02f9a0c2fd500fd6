/* A supervisor over one side effect, that never gives up (side_supervisor.h). */
#include "side_supervisor.h"

int side_supervisor_start(const char *name, arbor_child_spec_t child, arbor_pid_t *pid,
                          arbor_reason_t *err)
{
    child.restart = ARBOR_PERMANENT;
    child.backoff_ms = SIDE_BACKOFF_MS;
    child.backoff_max_ms = SIDE_BACKOFF_MAX_MS;
    arbor_sup_flags_t flags = ARBOR_SUP_FLAGS_DEFAULT;
    flags.max_restarts = SIDE_MAX_RESTARTS;
    flags.max_seconds = SIDE_MAX_SECONDS;
    arbor_sup_opts_t o = {.name = name, .link = true};
    return arbor_sup_start(&flags, &child, 1, &o, pid, err);
}

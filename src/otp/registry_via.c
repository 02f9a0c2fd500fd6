/*
 * Via names (Elixir's {:via, Registry, {reg, key}}): GenServers registered
 * under a key of a unique-keys Registry, and calls and casts by key. Built on
 * the Registry's public API (registry.c), plus its owner lookup.
 */
#include <pthread.h>
#include <string.h>

#include "arbor.h"
#include "otp.h"

/* ---- via names -------------------------------------------------------------------- */

/*
 * A via-named server runs a wrapper behaviour: its init registers the key,
 * then runs the user's init; its other callbacks forward to the user's,
 * which see their own state. The wrapper's table must outlive the server
 * and carry the user's name (reports, labels), so one is interned per user
 * table in static memory; past VIA_TABLES distinct behaviours a shared
 * table named "gen_server" serves.
 */
#define VIA_TABLES 64

typedef struct via_start {
    arbor_pid_t reg;
    const char *key;
    const void *value;
    size_t size;
    const arbor_gen_server_t *user;
    void *arg;
    int reg_rc; /* the registration's error, written by the new server */
    arbor_pid_t owner;
} via_start_t;

typedef struct via_state {
    const arbor_gen_server_t *user;
    void *state; /* the user's */
} via_state_t;

static arbor_gs_ret_t via_init(void **state, void *arg)
{
    via_start_t *vs = arg; /* on the starter's stack until it has our ack or DOWN */
    via_state_t *w = arbor_alloc(sizeof *w);
    if (!w)
        return arbor_gs_halt(arbor_error("out of memory"));
    *w = (via_state_t){.user = vs->user};
    *state = w;
    int rc = arbor_registry_register(vs->reg, vs->key, vs->value, vs->size, &vs->owner);
    if (rc) {
        /* ignore, not stop: the process exits normal, a linked starter lives. */
        vs->reg_rc = rc;
        return arbor_gs_ignore();
    }
    arbor_gs_ret_t r = w->user->init(&w->state, vs->arg);
    if (r.action != ARBOR_GS_OK)
        arbor_registry_unregister(vs->reg, vs->key);
    return r;
}

static arbor_gs_ret_t via_call(void **state, const arbor_msg_t *req, arbor_from_t from)
{
    via_state_t *w = *state;
    if (!w->user->handle_call)
        return arbor_gs_halt(arbor_error("undef: handle_call"));
    return w->user->handle_call(&w->state, req, from);
}

static arbor_gs_ret_t via_cast(void **state, const arbor_msg_t *msg)
{
    via_state_t *w = *state;
    if (!w->user->handle_cast)
        return arbor_gs_halt(arbor_error("undef: handle_cast"));
    return w->user->handle_cast(&w->state, msg);
}

static arbor_gs_ret_t via_info(void **state, const arbor_msg_t *msg)
{
    via_state_t *w = *state;
    if (w->user->handle_info)
        return w->user->handle_info(&w->state, msg);
    arbor__gen_server_warn_unhandled(w->user, msg);
    return arbor_gs_noreply();
}

static arbor_gs_ret_t via_continue(void **state, uint64_t arg)
{
    via_state_t *w = *state;
    if (!w->user->handle_continue)
        return arbor_gs_halt(arbor_error("undef: handle_continue"));
    return w->user->handle_continue(&w->state, arg);
}

static void via_terminate(void **state, const arbor_reason_t *reason)
{
    via_state_t *w = *state;
    if (w->user->terminate)
        w->user->terminate(&w->state, reason);
}

static void via_format(void *state, char *buf, size_t size)
{
    via_state_t *w = state;
    if (w->user->format_status)
        w->user->format_status(w->state, buf, size);
}

#define VIA_CALLBACKS                                                                              \
    .init = via_init, .handle_call = via_call, .handle_cast = via_cast, .handle_info = via_info,   \
    .handle_continue = via_continue, .terminate = via_terminate, .format_status = via_format

static pthread_mutex_t via_mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
    const arbor_gen_server_t *user;
    arbor_gen_server_t wrap;
} via_tables[VIA_TABLES]; /* via_mu; an entry never changes once filled */
static size_t via_count;
static const arbor_gen_server_t via_shared = {.label = "gen_server", VIA_CALLBACKS};

static const arbor_gen_server_t *via_table(const arbor_gen_server_t *user)
{
    const arbor_gen_server_t *t = &via_shared;
    pthread_mutex_lock(&via_mu);
    size_t i = 0;
    while (i < via_count && via_tables[i].user != user)
        i++;
    if (i == via_count && i < VIA_TABLES) {
        via_tables[i].user = user;
        via_tables[i].wrap = (arbor_gen_server_t){.label = user->label, VIA_CALLBACKS};
        via_count++;
    }
    if (i < via_count)
        t = &via_tables[i].wrap;
    pthread_mutex_unlock(&via_mu);
    return t;
}

int arbor_registry_start_server_value(arbor_pid_t reg, const char *key, const void *value,
                                      size_t size, const arbor_gen_server_t *gs, void *arg,
                                      const arbor_gs_opts_t *opts, arbor_pid_t *pid_out,
                                      arbor_reason_t *err)
{
    if (!arbor_self())
        return ARBOR_ENOTPROC;
    int rc = arbor__registry_check_entry(reg, key, value, size);
    if (rc)
        return rc;
    if (!gs || !gs->init || (opts && opts->name))
        return ARBOR_EINVAL;
    if ((rc = arbor__registry_check_unique(reg)))
        return rc;
    via_start_t vs = {.reg = reg, .key = key, .value = value, .size = size, .user = gs, .arg = arg};
    arbor_pid_t pid = ARBOR_NOPID;
    rc = arbor_gs_start(via_table(gs), &vs, opts, &pid, err);
    if (rc == ARBOR_IGNORED && vs.reg_rc) {
        rc = vs.reg_rc;
        pid = vs.owner;
    }
    if ((rc == 0 || rc == ARBOR_EEXIST) && pid_out)
        *pid_out = pid;
    return rc;
}

int arbor_registry_start_server(arbor_pid_t reg, const char *key, const arbor_gen_server_t *gs,
                                void *arg, const arbor_gs_opts_t *opts, arbor_pid_t *pid_out,
                                arbor_reason_t *err)
{
    return arbor_registry_start_server_value(reg, key, NULL, 0, gs, arg, opts, pid_out, err);
}

int arbor_registry_call(arbor_pid_t reg, const char *key, uint64_t tag, const void *req,
                        size_t size, int64_t timeout_ms, arbor_msg_t **reply_out,
                        arbor_reason_t *exit_out)
{
    if (!arbor_self())
        return ARBOR_ENOTPROC;
    arbor_pid_t pid;
    int rc = arbor__registry_unique_owner(reg, key, &pid);
    if (rc)
        return rc == ARBOR_ENOENT ? ARBOR_ENOPROC : rc;
    return arbor_gs_call(pid, tag, req, size, timeout_ms, reply_out, exit_out);
}

int arbor_registry_cast(arbor_pid_t reg, const char *key, uint64_t tag, const void *msg,
                        size_t size)
{
    if (size && !msg)
        return ARBOR_EINVAL;
    arbor_pid_t pid;
    int rc = arbor__registry_unique_owner(reg, key, &pid);
    if (rc)
        return rc == ARBOR_ENOENT || rc == ARBOR_ENOPROC ? 0 : rc;
    return arbor_gs_cast(pid, tag, msg, size);
}

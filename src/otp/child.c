/*
 * What every supervisor does to a child: stop it by its shutdown spec, and
 * count restarts against the intensity.
 */
#include <stdlib.h>
#include <string.h>

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
    arbor_reason_t r = arbor_reason_copy(&((arbor_down_msg_t *)m->data)->reason);
    arbor_msg_free(m);
    return r;
}

arbor_reason_t arbor__otp_shutdown_child(arbor_pid_t pid, int64_t shutdown)
{
    /* It may have died already: its EXIT then carries the real reason. */
    arbor_msg_t *m;
    if (arbor_receive_match(arbor__otp_is_exit_from, &pid, 0, &m) == 0) {
        arbor_reason_t r = arbor_reason_copy(&((arbor_exit_msg_t *)m->data)->reason);
        arbor_msg_free(m);
        return r;
    }
    /* Monitor, unlink and exit in one signal (OTP's monitor_child and
     * exit/2): a death from here on reaches us as the DOWN. */
    bool brutal = shutdown == ARBOR_BRUTAL_KILL;
    arbor_ref_t ref;
    bool timed_out;
    if (arbor_monitor_exit(pid, brutal ? ARBOR_KILL : ARBOR_SHUTDOWN, &ref) != 0)
        return ARBOR_NOPROC;
    arbor_reason_t r = wait_down(ref, brutal ? ARBOR_INFINITY : shutdown, &timed_out);
    if (timed_out) {
        arbor_exit_pid(pid, ARBOR_KILL);
        arbor_reason_free(&r);
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

/* A matcher that takes nothing: it notes whether the EXIT of the pid at
 * arg is queued. */
typedef struct {
    arbor_pid_t pid;
    bool seen;
} exit_peek_t;

static bool peek_exit(const arbor_msg_t *m, void *arg)
{
    exit_peek_t *p = arg;
    p->seen |= arbor__otp_is_exit_from(m, &p->pid);
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

int arbor__otp_call_start(const arbor_child_spec_t *spec, void *extra, arbor_pid_t *pid,
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

int arbor__otp_call_reply(arbor_pid_t sup, uint64_t tag, const void *req, size_t size,
                          arbor__otp_reply_t *out, arbor_reason_t *exit_out)
{
    arbor_msg_t *m;
    int rc = arbor_gs_call(sup, tag, req, size, ARBOR_INFINITY, &m, exit_out);
    if (rc)
        return rc;
    if (m->size >= sizeof *out && ((const arbor__otp_reply_t *)m->data)->tag == tag) {
        *out = *(const arbor__otp_reply_t *)m->data;
        arbor__otp_reason_in(&out->reason, m, sizeof *out);
        out->reason = arbor_reason_copy(&out->reason);
    } else {
        rc = ARBOR_EWRONGKIND;
    }
    arbor_msg_free(m);
    return rc;
}

arbor_gs_ret_t arbor__otp_tagged_reply(uint64_t tag, const void *body, size_t n)
{
    _Alignas(16) unsigned char buf[sizeof tag + 256];
    if (n > sizeof buf - sizeof tag)
        return arbor_gs_halt(arbor_error("tagged reply too large: %zu", n));
    memcpy(buf, &tag, sizeof tag);
    if (n)
        memcpy(buf + sizeof tag, body, n);
    return arbor_gs_reply(buf, sizeof tag + n);
}

const void *arbor__otp_tagged_body(const arbor_msg_t *m, uint64_t tag, size_t *n)
{
    uint64_t got;
    if (m->size < sizeof got)
        return NULL;
    memcpy(&got, m->data, sizeof got);
    if (got != tag)
        return NULL;
    *n = m->size - sizeof got;
    return (const char *)m->data + sizeof got;
}

int arbor__otp_call_children(arbor_pid_t sup, uint64_t tag, arbor_child_info_t **out, size_t *n)
{
    if (!out || !n)
        return ARBOR_EINVAL;
    arbor_msg_t *m;
    int rc = arbor_gs_call(sup, tag, NULL, 0, ARBOR_INFINITY, &m, NULL);
    if (rc)
        return rc;
    size_t bytes = 0;
    const void *body = arbor__otp_tagged_body(m, tag, &bytes);
    if (!body || bytes % sizeof(arbor_child_info_t)) {
        arbor_msg_free(m);
        return ARBOR_EWRONGKIND;
    }
    *n = bytes / sizeof(arbor_child_info_t);
    *out = malloc(bytes ? bytes : 1);
    if (!*out) {
        arbor_msg_free(m);
        return ARBOR_ENOMEM;
    }
    memcpy(*out, body, bytes);
    arbor_msg_free(m);
    return 0;
}

void arbor__otp_reply_children(arbor_from_t from, uint64_t tag, const arbor_child_info_t *kids,
                               size_t n)
{
    size_t bytes = sizeof tag + n * sizeof *kids;
    unsigned char *buf = malloc(bytes);
    if (!buf) {
        arbor_gs_reply_to(from, NULL, 0); /* read as a failed call */
        return;
    }
    memcpy(buf, &tag, sizeof tag);
    if (n)
        memcpy(buf + sizeof tag, kids, n * sizeof *kids);
    arbor_gs_reply_to(from, buf, bytes);
    free(buf);
}

int arbor__otp_call_counts(arbor_pid_t sup, uint64_t tag, arbor_child_counts_t *out)
{
    if (!out)
        return ARBOR_EINVAL;
    arbor_msg_t *m;
    int rc = arbor_gs_call(sup, tag, NULL, 0, ARBOR_INFINITY, &m, NULL);
    if (rc)
        return rc;
    size_t bytes = 0;
    const void *body = arbor__otp_tagged_body(m, tag, &bytes);
    if (body && bytes == sizeof *out)
        memcpy(out, body, sizeof *out);
    else
        rc = ARBOR_EWRONGKIND;
    arbor_msg_free(m);
    return rc;
}

bool arbor__otp_own_arg(arbor_child_spec_t *spec)
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

void arbor__otp_release_arg(arbor_child_spec_t *spec)
{
    if (spec->arg_size)
        arbor_free(spec->arg);
    spec->arg = NULL;
}

uint64_t arbor__otp_backoff_delay(const arbor_child_spec_t *spec, unsigned *step)
{
    if (!spec->backoff_ms)
        return 0;
    uint64_t max = spec->backoff_max_ms ? spec->backoff_max_ms : 30000;
    uint64_t base = (uint64_t)spec->backoff_ms << (*step < 20 ? *step : 20);
    if (base > max)
        base = max;
    if (*step < 20)
        (*step)++;
    /* Jitter in [0.5, 1.5), so that children that failed together do not
     * come back together. A per-thread xorshift is enough for that. */
    static __thread uint64_t seed;
    if (!seed)
        seed = arbor_now_ms() ^ arbor_self() ^ 0x9E3779B97F4A7C15ull;
    seed ^= seed << 13;
    seed ^= seed >> 7;
    seed ^= seed << 17;
    uint64_t delay = base / 2 + (base ? seed % base : 0);
    return delay ? delay : 1;
}

void arbor__otp_backoff_exited(const arbor_child_spec_t *spec, unsigned *step, uint64_t started_at)
{
    uint64_t reset = spec->backoff_reset_ms ? spec->backoff_reset_ms : 60000;
    if (arbor_now_ms() - started_at >= reset)
        *step = 0;
}

arbor_gs_ret_t arbor__otp_refuse_call(const arbor_msg_t *req)
{
    int rc = ARBOR_EINVAL;
    (void)req;
    return arbor_gs_reply(&rc, sizeof rc);
}

/*
 * The supervisors' calls: requests with a behaviour's own tags, and
 * replies that start with the request's tag, so that a process of another
 * kind answering is told apart from an answer (supervision.h).
 */
#include <stdlib.h>
#include <string.h>

#include "supervision.h"

int arbor__sup_call(arbor_pid_t sup, uint64_t tag, const void *req, size_t size,
                    arbor__sup_call_reply_t *out, arbor_reason_t *exit_out)
{
    arbor_msg_t *m;
    int rc = arbor_gs_call(sup, tag, req, size, ARBOR_INFINITY, &m, exit_out);
    if (rc)
        return rc;
    if (m->size >= sizeof *out && ((const arbor__sup_call_reply_t *)m->data)->tag == tag) {
        *out = *(const arbor__sup_call_reply_t *)m->data;
        arbor__reason_wire_in(&out->reason, m, sizeof *out);
        out->reason = arbor_reason_copy(&out->reason);
    } else {
        rc = ARBOR_EWRONGKIND;
    }
    arbor_msg_free(m);
    return rc;
}

arbor_gs_ret_t arbor__sup_call_tagged_reply(uint64_t tag, const void *body, size_t n)
{
    _Alignas(16) unsigned char buf[sizeof tag + 256];
    if (n > sizeof buf - sizeof tag)
        return arbor_gs_halt(arbor_error("tagged reply too large: %zu", n));
    memcpy(buf, &tag, sizeof tag);
    if (n)
        memcpy(buf + sizeof tag, body, n);
    return arbor_gs_reply(buf, sizeof tag + n);
}

const void *arbor__sup_call_tagged_body(const arbor_msg_t *m, uint64_t tag, size_t *n)
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

int arbor__sup_call_children(arbor_pid_t sup, uint64_t tag, arbor_child_info_t **out, size_t *n)
{
    if (!out || !n)
        return ARBOR_EINVAL;
    arbor_msg_t *m;
    int rc = arbor_gs_call(sup, tag, NULL, 0, ARBOR_INFINITY, &m, NULL);
    if (rc)
        return rc;
    size_t bytes = 0;
    const void *body = arbor__sup_call_tagged_body(m, tag, &bytes);
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

void arbor__sup_call_reply_children(arbor_from_t from, uint64_t tag, const arbor_child_info_t *kids,
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

int arbor__sup_call_counts(arbor_pid_t sup, uint64_t tag, arbor_child_counts_t *out)
{
    if (!out)
        return ARBOR_EINVAL;
    arbor_msg_t *m;
    int rc = arbor_gs_call(sup, tag, NULL, 0, ARBOR_INFINITY, &m, NULL);
    if (rc)
        return rc;
    size_t bytes = 0;
    const void *body = arbor__sup_call_tagged_body(m, tag, &bytes);
    if (body && bytes == sizeof *out)
        memcpy(out, body, sizeof *out);
    else
        rc = ARBOR_EWRONGKIND;
    arbor_msg_free(m);
    return rc;
}

arbor_gs_ret_t arbor__sup_call_refuse(const arbor_msg_t *req)
{
    int rc = ARBOR_EINVAL;
    (void)req;
    return arbor_gs_reply(&rc, sizeof rc);
}

arbor_gs_ret_t arbor__sup_call_answer(arbor__sup_call_reply_t *r)
{
    arbor_gs_ret_t ret = arbor__reason_wire_reply(r, sizeof *r, &r->reason);
    arbor_reason_free(&r->reason);
    return ret;
}

int arbor__sup_call_start(arbor_pid_t sup, uint64_t tag, const void *req, size_t size,
                          arbor_pid_t *pid_out, arbor_reason_t *error_out)
{
    arbor__sup_call_reply_t r;
    int rc = arbor__sup_call(sup, tag, req, size, &r, error_out);
    if (rc)
        return rc;
    if (pid_out && (r.rc == 0 || r.rc == ARBOR_EEXIST || r.rc == ARBOR_IGNORED))
        *pid_out = r.pid;
    if (error_out && (r.rc == 0 || r.rc == ARBOR_EEXIT || r.rc == ARBOR_EINVAL))
        *error_out = r.reason; /* on 0: the child's info */
    return r.rc;
}

/*
 * Reasons inside the OTP layer's own messages (a start's ack, a stop
 * request, a supervisor's reply). An arbor_reason_t's long text is a
 * pointer into the sender's memory, which may be gone by the time the
 * message is read, so such a message carries the struct followed by the
 * whole text, and the receiver points the reason at the text in the
 * message it holds.
 */
#include <stdlib.h>
#include <string.h>

#include "otp.h"

/* Builds struct + text in small, or in memory of the caller's (a process's
 * memory when in one, see arbor_gs_call), and stores its length. */
static void *with_text(void *small, size_t small_size, const void *data, size_t size,
                       const arbor_reason_t *r, size_t *total)
{
    size_t n = r->whole ? strlen(r->whole) + 1 : 0;
    *total = size + n;
    unsigned char *buf = *total <= small_size          ? small
                         : arbor_self() != ARBOR_NOPID ? arbor_alloc(*total)
                                                       : malloc(*total);
    if (!buf)
        return NULL;
    memcpy(buf, data, size);
    if (n)
        memcpy(buf + size, r->whole, n);
    return buf;
}

static void release(void *buf, void *small)
{
    if (buf == small)
        return;
    if (arbor_self() != ARBOR_NOPID)
        arbor_free(buf);
    else
        free(buf);
}

int arbor__reason_wire_send(arbor_pid_t to, arbor_ref_t alias, uint64_t tag, const void *data,
                            size_t size, const arbor_reason_t *r)
{
    _Alignas(16) unsigned char small[256];
    size_t total;
    void *buf = with_text(small, sizeof small, data, size, r, &total);
    if (!buf) /* no memory for the text: the cut one still goes */
        return alias ? arbor_send_alias(to, alias, tag, data, size)
                     : arbor_send(to, tag, data, size);
    int rc = alias ? arbor_send_alias(to, alias, tag, buf, total) : arbor_send(to, tag, buf, total);
    release(buf, small);
    return rc;
}

arbor_gs_ret_t arbor__reason_wire_reply(const void *data, size_t size, const arbor_reason_t *r)
{
    _Alignas(16) unsigned char small[256];
    size_t total;
    void *buf = with_text(small, sizeof small, data, size, r, &total);
    if (!buf)
        return arbor_gs_reply(data, size);
    arbor_gs_ret_t ret = arbor_gs_reply(buf, total);
    release(buf, small);
    return ret;
}

void arbor__reason_wire_in(arbor_reason_t *r, const arbor_msg_t *m, size_t size)
{
    const char *text = (const char *)m->data + size;
    bool has_text = m->size > size && text[m->size - size - 1] == '\0';
    r->whole = has_text ? text : NULL;
}

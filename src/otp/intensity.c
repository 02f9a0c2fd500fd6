/*
 * Restart intensity (supervisor.erl add_restart): at most max_restarts
 * restarts in any max_seconds; one more and the supervisor gives up.
 */
#include "supervision.h"

bool arbor__intensity_init(arbor__intensity_t *in, int max_restarts, int max_seconds)
{
    in->cap = (unsigned)max_restarts + 1;
    in->head = in->count = 0;
    in->max_restarts = max_restarts;
    in->max_seconds = max_seconds;
    in->ring = arbor_alloc(in->cap * sizeof *in->ring);
    return in->ring != NULL;
}

bool arbor__intensity_add(arbor__intensity_t *in)
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

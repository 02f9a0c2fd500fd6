/*
 * Restart back-off, an Arbor extension (see arbor_child_spec_t): a child
 * that keeps failing is restarted after growing, jittered delays instead
 * of at once, and a healthy run starts the delays over.
 */
#include "supervision.h"

uint64_t arbor__backoff_delay(const arbor_child_spec_t *spec, unsigned *step)
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

void arbor__backoff_exited(const arbor_child_spec_t *spec, unsigned *step, uint64_t started_at)
{
    uint64_t reset = spec->backoff_reset_ms ? spec->backoff_reset_ms : 60000;
    if (arbor_now_ms() - started_at >= reset)
        *step = 0;
}

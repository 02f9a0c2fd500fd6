#include "desk_test_hold.h"

#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include "test.h"

static atomic_bool held, released;

void desk_test_hold_reset(void)
{
    atomic_store(&held, false);
    atomic_store(&released, false);
}

int desk_test_hold_store(sqlite3 *db, const void *in, void *out)
{
    (void)db;
    (void)in;
    (void)out;
    atomic_store(&held, true);
    int64_t deadline = (int64_t)arbor_now_ms() + arbor_test_scaled_ms(20000);
    while (!atomic_load(&released) && (int64_t)arbor_now_ms() < deadline) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    return 0;
}

bool desk_test_store_held(void)
{
    return atomic_load(&held);
}

void desk_test_release_store(void)
{
    atomic_store(&released, true);
}

/*
 * The test harness.
 *
 * A test program holds many cases declared with TEST(name). ctest runs each
 * case as its own test (`prog --run name`); the runner forks, runs the case
 * in the child with a timeout (scaled by ARBOR_TEST_TIMEOUT_SCALE), and
 * reports a crash, a timeout or a failed assertion by name. After the case
 * returns, the child checks that the runtime left nothing behind: no live
 * process, timer, stack in use, message or blocking job.
 *
 * Case names that start with a scenario ID written with an underscore
 * (SV_18_...) are registered with ctest under the ID's own spelling
 * (SV-18_...), so `ctest -R SV-18` selects the scenario.
 */
#ifndef ARBOR_TEST_H
#define ARBOR_TEST_H

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arbor.h"

typedef struct arbor_test {
    const char *name;
    void (*fn)(void);
    unsigned timeout_s;
    bool hidden; /* not listed: run only by name, by the harness's own tests */
    struct arbor_test *next;
} arbor_test_t;

void arbor_test_register(arbor_test_t *t);
_Noreturn void arbor_test_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define TEST_FULL(tname, secs, hide)                                                               \
    static void test_##tname(void);                                                                \
    static arbor_test_t test_desc_##tname = {#tname, test_##tname, secs, hide, NULL};              \
    __attribute__((constructor)) static void test_reg_##tname(void)                                \
    {                                                                                              \
        arbor_test_register(&test_desc_##tname);                                                   \
    }                                                                                              \
    static void test_##tname(void)

/* A test case with the default 20 s timeout, or an explicit one. */
#define TEST(tname)               TEST_FULL(tname, 20, false)
#define TEST_TIMEOUT(tname, secs) TEST_FULL(tname, secs, false)
#define TEST_HIDDEN(tname, secs)  TEST_FULL(tname, secs, true)

#define ASSERT_TRUE(e)                                                                             \
    do {                                                                                           \
        if (!(e))                                                                                  \
            arbor_test_fail(__FILE__, __LINE__, "ASSERT_TRUE(%s) failed", #e);                     \
    } while (0)

#define ASSERT_FALSE(e)                                                                            \
    do {                                                                                           \
        if (e)                                                                                     \
            arbor_test_fail(__FILE__, __LINE__, "ASSERT_FALSE(%s) failed", #e);                    \
    } while (0)

#define ASSERT_CMP_(a, op, b, T, fmt)                                                              \
    do {                                                                                           \
        T a_ = (T)(a);                                                                             \
        T b_ = (T)(b);                                                                             \
        if (!(a_ op b_))                                                                           \
            arbor_test_fail(__FILE__, __LINE__, "%s %s %s failed: " fmt " vs " fmt, #a, #op, #b,   \
                            a_, b_);                                                               \
    } while (0)

/* Integer comparisons print both operands. */
#define ASSERT_EQ(a, b)     ASSERT_CMP_(a, ==, b, int64_t, "%" PRId64)
#define ASSERT_NE(a, b)     ASSERT_CMP_(a, !=, b, int64_t, "%" PRId64)
#define ASSERT_LT(a, b)     ASSERT_CMP_(a, <, b, int64_t, "%" PRId64)
#define ASSERT_LE(a, b)     ASSERT_CMP_(a, <=, b, int64_t, "%" PRId64)
#define ASSERT_GT(a, b)     ASSERT_CMP_(a, >, b, int64_t, "%" PRId64)
#define ASSERT_GE(a, b)     ASSERT_CMP_(a, >=, b, int64_t, "%" PRId64)
#define ASSERT_U64_EQ(a, b) ASSERT_CMP_(a, ==, b, uint64_t, "%" PRIu64)
typedef const void *arbor_test_ptr_t;
#define ASSERT_PTR_EQ(a, b) ASSERT_CMP_(a, ==, b, arbor_test_ptr_t, "%p")

#define ASSERT_STREQ(a, b)                                                                         \
    do {                                                                                           \
        const char *a_ = (a), *b_ = (b);                                                           \
        if (strcmp(a_, b_) != 0)                                                                   \
            arbor_test_fail(__FILE__, __LINE__, "%s == %s failed: \"%s\" vs \"%s\"", #a, #b, a_,   \
                            b_);                                                                   \
    } while (0)

/* An Arbor call that must return 0; prints the error's name otherwise. */
#define ASSERT_OK(e)                                                                               \
    do {                                                                                           \
        int rc_ = (e);                                                                             \
        if (rc_ != 0)                                                                              \
            arbor_test_fail(__FILE__, __LINE__, "%s returned %s (%s)", #e, arbor_err_name(rc_),    \
                            arbor_strerror(rc_));                                                  \
    } while (0)

/* An Arbor call that must return the given code. */
#define ASSERT_ERR(e, code)                                                                        \
    do {                                                                                           \
        int rc_ = (e);                                                                             \
        if (rc_ != (code))                                                                         \
            arbor_test_fail(__FILE__, __LINE__, "%s returned %s, expected %s", #e,                 \
                            arbor_err_name(rc_), arbor_err_name(code));                            \
    } while (0)

/* Reason kind and whole detail text must match. */
#define ASSERT_REASON(r, k, d)                                                                     \
    do {                                                                                           \
        arbor_reason_t r_ = (r);                                                                   \
        if (r_.kind != (k) || strcmp(arbor_reason_text(&r_), (d)) != 0) {                          \
            char buf_[128];                                                                        \
            arbor_reason_format(&r_, buf_, sizeof buf_);                                           \
            arbor_test_fail(__FILE__, __LINE__, "reason %s is %s, expected kind %s detail \"%s\"", \
                            #r, buf_, arbor_exit_kind_name(k), d);                                 \
        }                                                                                          \
    } while (0)

/* Runs fn(arg) as the root process of a fresh runtime and waits for the
 * runtime to finish. Scheduler count: ARBOR_TEST_SCHEDULERS, default 2.
 * The root must exit normal (a root killed early would skip the rest of
 * its assertions): otherwise the test fails. Returns the root's reason. */
arbor_reason_t arbor_test_run(arbor_entry_fn fn, void *arg);
arbor_reason_t arbor_test_run_with(const arbor_config_t *cfg, arbor_entry_fn fn, void *arg);
/* The same without the check, for tests about the root's own exit; cfg
 * NULL means the default configuration. */
arbor_reason_t arbor_test_run_reason(const arbor_config_t *cfg, arbor_entry_fn fn, void *arg);

/* Runs this program's own (usually hidden) case name in a child, with its
 * stderr captured in out (NUL-terminated) and without core files; returns
 * the exit status, 128 + the signal when a signal ended it. For tests of
 * deliberate failures: hangs, crashes, death reports. */
int arbor_test_run_hidden(const char *name, char *out, size_t size);

/* The path of the running test program (also under a tool wrapper). */
const char *arbor_test_self(void);

/* ms scaled like the case's own timeout (ARBOR_TEST_TIMEOUT_SCALE), for a
 * deadline on work whose speed is the machine's: a long run on a slow
 * (sanitizer) build or a busy machine must not fail before its timeout. */
int64_t arbor_test_scaled_ms(int64_t ms);

/* Polls cond every millisecond until it holds, failing the test after ms
 * (scaled by arbor_test_scaled_ms()). For a state another process or
 * thread reaches with no message to say so; never a bare sleep. */
#define WAIT_UNTIL(cond, ms)                                                                       \
    do {                                                                                           \
        int64_t ms_ = arbor_test_scaled_ms(ms);                                                    \
        uint64_t end_ = arbor_now_ms() + (uint64_t)ms_;                                            \
        while (!(cond)) {                                                                          \
            if (arbor_now_ms() > end_)                                                             \
                arbor_test_fail(__FILE__, __LINE__, "%s still false after %" PRId64 " ms", #cond,  \
                                ms_);                                                              \
            arbor_sleep(1);                                                                        \
        }                                                                                          \
    } while (0)

/* Receives the next message within ms or fails the test. ms is a bound on
 * slowness, not a wait: it is scaled like the case's own timeout
 * (arbor_test_scaled_ms), so a loaded or instrumented run (valgrind,
 * TSan) does not fail where a quiet one passes. */
arbor_msg_t *arbor_test_recv(int64_t ms);
/* Receives the next message with the given tag within ms (scaled the same
 * way), or fails. */
arbor_msg_t *arbor_test_recv_tag(uint64_t tag, int64_t ms);
/* Asserts that no message arrives within ms. */
void arbor_test_no_message(int64_t ms);
/* True while pid is alive. */
bool arbor_test_alive(arbor_pid_t pid);
/* Waits (polling) up to ms for pid to die; fails the test otherwise. */
void arbor_test_wait_dead(arbor_pid_t pid, int64_t ms);
/* The calling process's message_queue_len (arbor_process_info()). */
size_t arbor_test_mailbox_len(void);

#endif

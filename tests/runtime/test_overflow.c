/*
 * Death tests: a process that overflows its stack, or writes through a NULL
 * pointer, takes the OS process down with a report that names the process.
 *
 * The crashing cases are hidden; the visible cases run them through this
 * same binary (`self --run NAME`, which forks the case as usual), capture
 * stderr and check the verdict.
 *
 * Under AddressSanitizer the runtime's handler is the one that reports: ASan
 * lets a program install its own SIGSEGV handler (allow_user_segv_handler),
 * and arbor_run() installs one. Should ASan's handler run instead, it prints
 * its own "stack-overflow" or "SEGV" report; the checks accept that too, but
 * still require that the report says what happened.
 */
#define _GNU_SOURCE
#include <stdbool.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"

static volatile bool keep_going = true; /* never false: defeats -Winfinite-recursion */

/* Each frame holds a small volatile array, so the compiler can neither turn
 * the recursion into a loop nor drop the frame, and no frame is larger than
 * the guard page (a bigger one could step over it). */
static __attribute__((noinline)) unsigned recurse(unsigned depth)
{
    volatile char pad[128];
    pad[0] = (char)depth;
    pad[sizeof pad - 1] = (char)(depth >> 8);
    unsigned r = keep_going ? recurse(depth + 1) : depth;
    return r + (unsigned)pad[0] + (unsigned)pad[sizeof pad - 1];
}

static void deep(void *arg)
{
    unsigned *out = arg;
    *out = recurse(0);
}

static void overflow_root(void *arg)
{
    static unsigned result;
    arbor_spawn_opts_t o = {.label = "deep"};
    arbor_pid_t pid;
    ASSERT_OK(arbor_spawn_opt(deep, &result, &o, &pid, NULL));
    arbor_msg_t *m;
    arbor_receive(10000, &m); /* the whole OS process dies meanwhile */
    fprintf(stderr, "the deep process did not crash (result %u)\n", result);
}

TEST_HIDDEN(overflow_deep_recursion, 20)
{
    arbor_test_run(overflow_root, NULL);
}

/* UBSan's null check would report (and abort) before the store faults. */
__attribute__((no_sanitize("undefined"))) static void write_null(void *arg)
{
    volatile int *volatile p = NULL;
    *p = 42;
}

static void null_root(void *arg)
{
    arbor_pid_t pid;
    ASSERT_OK(arbor_spawn(write_null, NULL, &pid));
    arbor_msg_t *m;
    arbor_receive(10000, &m);
    fprintf(stderr, "the NULL write did not crash\n");
}

TEST_HIDDEN(overflow_null_write, 20)
{
    arbor_test_run(null_root, NULL);
}

static bool has(const char *out, const char *s)
{
    return strstr(out, s) != NULL;
}

static void show(const char *out)
{
    fprintf(stderr, "--- stderr of the crashing case ---\n%s--- end ---\n", out);
}

TEST(stack_overflow_in_a_process_is_reported_with_its_label)
{
    static char out[65536];
    int rc = arbor_test_run_hidden("overflow_deep_recursion", out, sizeof out);
    if (rc == 0)
        show(out);
    ASSERT_NE(rc, 0); /* the case died */
    ASSERT_FALSE(has(out, "did not crash"));
    bool ours = has(out, "arbor: stack overflow in process <0.") && has(out, "(deep)");
    /* ASan's own report, should its handler be the one that runs. */
    bool asan = has(out, "AddressSanitizer: stack-overflow");
    if (!ours && !asan)
        show(out);
    ASSERT_TRUE(ours || asan);
    if (ours)
        ASSERT_TRUE(has(out, "CRASHED with signal")); /* re-raised SIGSEGV */
}

TEST(null_write_in_a_process_is_reported_as_a_segfault)
{
    static char out[65536];
    int rc = arbor_test_run_hidden("overflow_null_write", out, sizeof out);
    if (rc == 0)
        show(out);
    ASSERT_NE(rc, 0);
    ASSERT_FALSE(has(out, "did not crash"));
    bool ours = has(out, "arbor: Segmentation fault") && has(out, "in process <0.");
    bool asan = has(out, "AddressSanitizer: SEGV");
    if ((!ours && !asan) || has(out, "stack overflow"))
        show(out);
    ASSERT_TRUE(ours || asan);
    ASSERT_FALSE(has(out, "stack overflow")); /* not mistaken for one */
}

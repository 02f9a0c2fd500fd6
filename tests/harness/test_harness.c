/*
 * The harness's own tests: a hanging case is killed at its timeout and a
 * crashing case is reported, both by name, without stopping the runner. The
 * failing cases are hidden (never registered with ctest); the visible cases
 * run them through this same binary and check the verdict.
 */
#define _GNU_SOURCE
#include <limits.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"

TEST_HIDDEN(deliberately_hangs, 1)
{
    for (;;)
        pause();
}

TEST_HIDDEN(deliberately_aborts, 5)
{
    abort();
}

TEST_HIDDEN(deliberately_fails_assertion, 5)
{
    ASSERT_EQ(1 + 1, 3);
}

TEST(harness_reports_timeout_by_name)
{
    char out[4096];
    ASSERT_EQ(arbor_test_run_hidden("deliberately_hangs", out, sizeof out), 1);
    ASSERT_TRUE(strstr(out, "test deliberately_hangs: TIMEOUT") != NULL);
}

TEST(harness_reports_crash_by_name)
{
    char out[4096];
    ASSERT_EQ(arbor_test_run_hidden("deliberately_aborts", out, sizeof out), 1);
    ASSERT_TRUE(strstr(out, "test deliberately_aborts: CRASHED") != NULL);
}

TEST(harness_assertions_print_both_operands)
{
    char out[4096];
    ASSERT_EQ(arbor_test_run_hidden("deliberately_fails_assertion", out, sizeof out), 1);
    ASSERT_TRUE(strstr(out, "1 + 1 == 3 failed: 2 vs 3") != NULL);
}

TEST(harness_lists_only_visible_cases)
{
    /* The hidden cases must not reach ctest, or the suite would fail. */
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof cmd, "'%s' --list", arbor_test_self());
    FILE *f = popen(cmd, "r");
    ASSERT_TRUE(f != NULL);
    char line[256];
    int visible = 0;
    while (fgets(line, sizeof line, f)) {
        ASSERT_TRUE(strstr(line, "deliberately") == NULL);
        visible++;
    }
    pclose(f);
    ASSERT_EQ(visible, 4);
}

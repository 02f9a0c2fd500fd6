/*
 * errno belongs to the OS thread, and a process may move between threads
 * when it switches out: the runtime saves a process's errno when it
 * switches out and restores it where it resumes. The restore must go to
 * the thread it resumes on (the compiler may keep errno's address from
 * before the switch: __errno_location is declared const), never to the
 * thread it left, where another process may be running by then.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "test.h"

/* errno of the thread running now, and that thread: asked afresh at each
 * call (as this test's own code must, or the compiler may reuse the
 * address from before a switch, as the bug did). */
static __attribute__((noinline, noipa)) int errno_now(void)
{
    return errno;
}

static __attribute__((noinline, noipa)) void set_errno_now(int e)
{
    errno = e;
}

static long thread_now(void)
{
    return syscall(SYS_gettid);
}

#define PROCS  8
#define ROUNDS 200

static atomic_int wrong, moved;

static void keeper(void *arg)
{
    int mine = 1000 + (int)(intptr_t)arg;
    for (int i = 0; i < ROUNDS; i++) {
        set_errno_now(mine);
        long before = thread_now();
        if (i % 2)
            arbor_yield();
        else
            arbor_sleep(1);
        if (before != thread_now())
            atomic_fetch_add(&moved, 1);
        if (errno_now() != mine)
            atomic_fetch_add(&wrong, 1);
    }
}

static void root(void *arg)
{
    for (int i = 0; i < PROCS; i++) {
        arbor_pid_t pid;
        arbor_ref_t ref;
        ASSERT_OK(arbor_spawn_monitor(keeper, (void *)(intptr_t)i, &pid, &ref));
    }
    for (int i = 0; i < PROCS; i++)
        arbor_msg_free(arbor_test_recv_tag(ARBOR_TAG_DOWN, 20000));
}

TEST(a_process_keeps_its_errno_across_switches_and_threads)
{
    /* Two schedulers that steal at once: processes move between them. */
    arbor_config_t cfg = {.schedulers = 2, .steal_after_us = 1};
    arbor_test_run_with(&cfg, root, NULL);
    ASSERT_GT(atomic_load(&moved), 0); /* else this test proves nothing */
    ASSERT_EQ(atomic_load(&wrong), 0);
}

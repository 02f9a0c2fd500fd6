/*
 * Memory goes back to the system after many processes have exited: their
 * stacks' pages (with no canary left behind in each pooled stack) and the
 * heap blocks glibc keeps in its arenas (malloc_trim() when the runtime goes
 * idle). Measured as resident memory, so only without a sanitizer or
 * valgrind, whose own allocators keep freed memory on purpose: the release
 * test build (`make release-test`) runs it for real.
 */
#include <stdio.h>
#include <string.h>

#include "test.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define UNDER_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define UNDER_SANITIZER 1
#endif
#endif

#ifndef UNDER_SANITIZER
#define PROCESSES 20000
#define HELD      1500 /* bytes of process memory each holds */

static long resident_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kib = -1;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0)
            kib = atol(line + 6);
    if (f)
        fclose(f);
    return kib;
}

static void holder(void *arg)
{
    (void)arg;
    char *p = arbor_alloc(HELD);
    memset(p, 1, HELD);
    arbor_msg_t *m;
    arbor_receive(ARBOR_INFINITY, &m); /* holds a stack and its memory until told */
    arbor_msg_free(m);
}

static bool parked(arbor_pid_t pid)
{
    arbor_process_info_t info;
    return arbor_process_info(pid, &info) == 0 && info.status == ARBOR_STATUS_WAITING;
}

static void root(void *arg)
{
    long *figures = arg;
    arbor_pid_t *pids = malloc(PROCESSES * sizeof *pids);
    figures[0] = resident_kib();
    for (int i = 0; i < PROCESSES; i++) {
        arbor_spawn_opts_t o = {.monitor = true};
        arbor_ref_t ref;
        ASSERT_OK(arbor_spawn_opt(holder, NULL, &o, &pids[i], &ref));
    }
    /* Every holder parked: each has touched its stack and its block. */
    WAIT_UNTIL(parked(pids[PROCESSES - 1]), 10000);
    figures[1] = resident_kib();
    for (int i = 0; i < PROCESSES; i++)
        arbor_send(pids[i], 1, NULL, 0);
    for (int i = 0; i < PROCESSES; i++)
        arbor_msg_free(arbor_test_recv_tag(ARBOR_TAG_DOWN, 10000));
    free(pids);
    /* Idle now: the schedulers give memory back as they go to sleep. */
    WAIT_UNTIL((figures[2] = resident_kib()) - figures[0] < (figures[1] - figures[0]) / 4, 10000);
}

#endif

TEST_TIMEOUT(memory_of_exited_processes_goes_back_to_the_system, 60)
{
#ifdef UNDER_SANITIZER
    fprintf(stderr, "skipped: a sanitizer's allocator keeps freed memory\n");
#else
    if (getenv("ARBOR_TEST_WRAPPER")) {
        fprintf(stderr, "skipped: valgrind keeps freed memory\n");
        return;
    }
    long figures[3] = {0};
    arbor_test_run(root, figures);
    fprintf(stderr, "resident: %ld KiB before, %ld with %d processes, %ld after they exited\n",
            figures[0], figures[1], PROCESSES, figures[2]);
#endif
}

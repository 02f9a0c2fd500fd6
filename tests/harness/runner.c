/*
 * The harness's runner: lists cases, runs one in a forked child with a
 * timeout, and reports. See test.h.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test.h"

static arbor_test_t *tests;
static const char *current_name = "?";

void arbor_test_register(arbor_test_t *t)
{
    t->next = tests;
    tests = t;
}

void arbor_test_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s:%d: test %s: ", file, line, current_name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(stderr);
    _exit(1); /* from any thread or process: the case has failed */
}

static arbor_test_t *find(const char *name)
{
    for (arbor_test_t *t = tests; t; t = t->next)
        if (strcmp(t->name, name) == 0)
            return t;
    return NULL;
}

static double timeout_scale(void)
{
    const char *s = getenv("ARBOR_TEST_TIMEOUT_SCALE");
    double v = s ? atof(s) : 1.0;
    return v > 0 ? v : 1.0;
}

int64_t arbor_test_scaled_ms(int64_t ms)
{
    return (int64_t)((double)ms * timeout_scale() + 0.5);
}

/* Proves the case left nothing alive in the runtime. */
static void check_nothing_left(void)
{
    arbor_stats_t st;
    arbor_stats(&st);
    if (st.live_processes || st.live_timers || st.stacks_in_use || st.live_messages ||
        st.live_blocking_jobs || st.live_stacks || st.live_sockets) {
        fprintf(stderr,
                "test %s left resources behind: %" PRIu64 " processes, %" PRIu64 " timers, %" PRIu64
                " stacks in use, %" PRIu64 " stacks mapped, %" PRIu64 " messages, %" PRIu64
                " blocking jobs, %" PRIu64 " sockets\n",
                current_name, st.live_processes, st.live_timers, st.stacks_in_use, st.live_stacks,
                st.live_messages, st.live_blocking_jobs, st.live_sockets);
        _exit(1);
    }
}

static int run_child(arbor_test_t *t)
{
    current_name = t->name;
    t->fn();
    check_nothing_left();
    fflush(stdout);
    fflush(stderr);
    return 0;
}

static char self_path[PATH_MAX];

/* In the systematic-testing build (src/runtime/systematic.h) a failure
 * names its seed and the command that runs the case again under it. */
static void print_seed(const arbor_test_t *t)
{
#ifdef ARBOR_SYSTEMATIC
    const char *seed = getenv("ARBOR_SEED");
    if (!seed || !*seed)
        seed = "1";
    /* The tests' scheduler count changes the run as much as the seed. */
    const char *nsched = getenv("ARBOR_TEST_SCHEDULERS");
    fprintf(stderr, "test %s: seed %s; rerun it with: ARBOR_SEED=%s%s%s %s --run %s\n", t->name,
            seed, seed, nsched ? " ARBOR_TEST_SCHEDULERS=" : "", nsched ? nsched : "", self_path,
            t->name);
#else
    (void)t;
#endif
}

static int run_one(arbor_test_t *t)
{
    unsigned secs = (unsigned)(t->timeout_s * timeout_scale() + 0.5);
    pid_t child = fork();
    if (child < 0) {
        perror("fork");
        return 1;
    }
    if (child == 0) {
        /* ARBOR_TEST_WRAPPER (e.g. "valgrind -q --error-exitcode=99") runs
         * the case under a tool: re-exec ourselves through it. */
        const char *wrapper = getenv("ARBOR_TEST_WRAPPER");
        if (wrapper && *wrapper) {
            char cmd[4096];
            snprintf(cmd, sizeof cmd, "exec %s /proc/%d/exe --child '%s'", wrapper, (int)getppid(),
                     t->name);
            execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
            _exit(127);
        }
        exit(run_child(t));
    }
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    int status;
    for (;;) {
        pid_t r = waitpid(child, &status, WNOHANG);
        if (r == child)
            break;
        if (r < 0 && errno != EINTR) {
            perror("waitpid");
            return 1;
        }
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - start.tv_sec >= (time_t)secs) {
            kill(child, SIGKILL);
            waitpid(child, &status, 0);
            fprintf(stderr, "test %s: TIMEOUT after %u s\n", t->name, secs);
            print_seed(t);
            return 1;
        }
        poll(NULL, 0, 5);
    }
    if (WIFSIGNALED(status)) {
        fprintf(stderr, "test %s: CRASHED with signal %d (%s)\n", t->name, WTERMSIG(status),
                strsignal(WTERMSIG(status)));
        print_seed(t);
        return 1;
    }
    if (WEXITSTATUS(status) != 0) {
        fprintf(stderr, "test %s: FAILED (exit status %d)\n", t->name, WEXITSTATUS(status));
        print_seed(t);
        return 1;
    }
    return 0;
}

const char *arbor_test_self(void)
{
    return self_path;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    /* From argv[0], not /proc/self/exe: under a tool wrapper (valgrind)
     * that is the tool's own binary. */
    if (!realpath(argv[0], self_path))
        snprintf(self_path, sizeof self_path, "/proc/self/exe");
    if (argc == 2 && strcmp(argv[1], "--list") == 0) {
        for (arbor_test_t *t = tests; t; t = t->next)
            if (!t->hidden)
                printf("%s\n", t->name);
        return 0;
    }
    if (argc == 3 && strcmp(argv[1], "--child") == 0) {
        arbor_test_t *t = find(argv[2]);
        return t ? run_child(t) : 2;
    }
    if (argc == 3 && strcmp(argv[1], "--run") == 0) {
        arbor_test_t *t = find(argv[2]);
        if (!t) {
            fprintf(stderr, "no test named %s\n", argv[2]);
            return 2;
        }
        return run_one(t);
    }
    if (argc == 1) {
        /* Everything, in one go (handy outside ctest). */
        int failed = 0, passed = 0;
        for (arbor_test_t *t = tests; t; t = t->next) {
            if (t->hidden)
                continue;
            if (run_one(t) == 0)
                passed++;
            else
                failed++;
        }
        printf("%d passed, %d failed\n", passed, failed);
        return failed != 0;
    }
    fprintf(stderr, "usage: %s [--list | --run NAME]\n", argv[0]);
    return 2;
}

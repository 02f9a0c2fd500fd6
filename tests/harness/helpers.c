/* Helpers for tests that run inside the runtime. */
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"

static arbor_config_t default_config(void)
{
    const char *s = getenv("ARBOR_TEST_SCHEDULERS");
    return (arbor_config_t){.schedulers = s ? (unsigned)atoi(s) : 2};
}

arbor_reason_t arbor_test_run_reason(const arbor_config_t *cfg, arbor_entry_fn fn, void *arg)
{
    arbor_config_t def = default_config();
    arbor_reason_t r = ARBOR_NORMAL;
    int rc = arbor_run(cfg ? cfg : &def, fn, arg, &r);
    if (rc != 0)
        arbor_test_fail(__FILE__, __LINE__, "arbor_run failed: %s", arbor_err_name(rc));
    return r;
}

arbor_reason_t arbor_test_run_with(const arbor_config_t *cfg, arbor_entry_fn fn, void *arg)
{
    arbor_reason_t r = arbor_test_run_reason(cfg, fn, arg);
    if (r.kind != ARBOR_EXIT_NORMAL) {
        /* A root that died early skipped the rest of its assertions. */
        char buf[128];
        arbor_reason_format(&r, buf, sizeof buf);
        arbor_test_fail(__FILE__, __LINE__, "the test's root process exited with %s", buf);
    }
    return r;
}

arbor_reason_t arbor_test_run(arbor_entry_fn fn, void *arg)
{
    arbor_config_t cfg = default_config();
    return arbor_test_run_with(&cfg, fn, arg);
}

arbor_msg_t *arbor_test_recv(int64_t ms)
{
    arbor_msg_t *m = NULL;
    int64_t scaled = ms > 0 ? arbor_test_scaled_ms(ms) : ms;
    int rc = arbor_receive(scaled, &m);
    if (rc != 0)
        arbor_test_fail(__FILE__, __LINE__, "expected a message within %" PRId64 " ms: %s", scaled,
                        arbor_err_name(rc));
    return m;
}

static bool tag_is(const arbor_msg_t *m, void *arg)
{
    return m->tag == *(uint64_t *)arg;
}

arbor_msg_t *arbor_test_recv_tag(uint64_t tag, int64_t ms)
{
    arbor_msg_t *m = NULL;
    int64_t scaled = ms > 0 ? arbor_test_scaled_ms(ms) : ms;
    int rc = arbor_receive_match(tag_is, &tag, scaled, &m);
    if (rc != 0)
        arbor_test_fail(__FILE__, __LINE__,
                        "expected a message with tag %" PRIu64 " within %" PRId64 " ms: %s", tag,
                        scaled, arbor_err_name(rc));
    return m;
}

void arbor_test_no_message(int64_t ms)
{
    arbor_msg_t *m = NULL;
    int rc = arbor_receive(ms, &m);
    if (rc == 0)
        arbor_test_fail(__FILE__, __LINE__, "unexpected message with tag %" PRIu64, m->tag);
}

bool arbor_test_alive(arbor_pid_t pid)
{
    return arbor_alive(pid);
}

void arbor_test_wait_dead(arbor_pid_t pid, int64_t ms)
{
    uint64_t end = arbor_now_ms() + (uint64_t)ms;
    while (arbor_test_alive(pid)) {
        if (arbor_now_ms() > end)
            arbor_test_fail(__FILE__, __LINE__, "process still alive after %" PRId64 " ms", ms);
        arbor_sleep(1);
    }
}

size_t arbor_test_mailbox_len(void)
{
    arbor_process_info_t info;
    int rc = arbor_process_info(arbor_self(), &info);
    if (rc != 0)
        arbor_test_fail(__FILE__, __LINE__, "arbor_process_info: %s", arbor_err_name(rc));
    return info.message_queue_len;
}

/* Runs `self --run name` with stderr captured in out; returns the exit
 * status (128 + signal when killed by one). */
int arbor_test_run_hidden(const char *name, char *out, size_t size)
{
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        dup2(fds[1], 2);
        close(fds[0]);
        close(fds[1]);
        /* No core files for the deliberate crashes; no tool wrapper either. */
        struct rlimit no_core = {0, 0};
        setrlimit(RLIMIT_CORE, &no_core);
        unsetenv("ARBOR_TEST_TIMEOUT_SCALE");
        unsetenv("ARBOR_TEST_WRAPPER");
        execl(arbor_test_self(), "test", "--run", name, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    size_t n = 0;
    ssize_t r;
    while (n + 1 < size && (r = read(fds[0], out + n, size - 1 - n)) > 0)
        n += (size_t)r;
    out[n] = '\0';
    /* Drain the rest so that a long sanitizer report cannot block the child. */
    char sink[4096];
    while (read(fds[0], sink, sizeof sink) > 0)
        ;
    close(fds[0]);
    int status;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

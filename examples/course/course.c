/* What the course's examples share (course.h). */
#include "course.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int course_main(arbor_entry_fn root)
{
    arbor_reason_t exit;
    int rc = arbor_run(NULL, root, NULL, &exit);
    if (rc) {
        fprintf(stderr, "arbor_run: %s\n", arbor_strerror(rc));
        return 1;
    }
    if (exit.kind != ARBOR_EXIT_NORMAL) {
        char text[256];
        arbor_reason_format(&exit, text, sizeof text);
        fprintf(stderr, "the example failed: %s\n", text);
        return 1;
    }
    return 0;
}

void course_check(int rc, const char *what, const arbor_reason_t *why)
{
    if (rc == 0)
        return;
    arbor_exit(arbor_error("%s: %s%s%s", what, arbor_err_name(rc), why ? " " : "",
                           why ? arbor_reason_text(why) : ""));
}

int course_wait_task_handled(arbor_pid_t sup, arbor_pid_t task, size_t *running)
{
    for (int waited_ms = 0; waited_ms < 5000; waited_ms++) {
        arbor_pid_t *pids;
        size_t n, i;
        int rc = arbor_task_sup_children(sup, &pids, &n);
        if (rc)
            return rc;
        for (i = 0; i < n && pids[i] != task; i++)
            ;
        free(pids);
        if (i == n) {
            *running = n;
            return 0;
        }
        arbor_sleep(1);
    }
    return ARBOR_ETIMEDOUT;
}

int tree_take(arbor_pid_t sup, tree_t *t)
{
    int rc = arbor_sup_which_children(sup, &t->kids, &t->n);
    if (rc)
        return rc;
    /* which_children lists the newest first, as OTP's does. */
    for (size_t i = 0; i < t->n / 2; i++) {
        arbor_child_info_t swap = t->kids[i];
        t->kids[i] = t->kids[t->n - 1 - i];
        t->kids[t->n - 1 - i] = swap;
    }
    return 0;
}

arbor_pid_t tree_pid(const tree_t *t, const char *id)
{
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->kids[i].id, id) == 0)
            return t->kids[i].pid;
    return ARBOR_NOPID;
}

void tree_print(const char *title, const tree_t *t)
{
    printf("%s\n", title);
    for (size_t i = 0; i < t->n; i++) {
        char pid[32];
        arbor_pid_format(t->kids[i].pid, pid, sizeof pid);
        printf("  %-10s %s\n", t->kids[i].id, pid);
    }
}

/* Waits until sup runs child id under a pid other than old; *after is
 * the snapshot that shows it. 0, or ARBOR_ETIMEDOUT after 5 s. */
static int wait_restart(arbor_pid_t sup, const char *id, arbor_pid_t old, tree_t *after)
{
    for (int waited_ms = 0; waited_ms < 5000; waited_ms++) {
        if (tree_take(sup, after) == 0) {
            arbor_pid_t now = tree_pid(after, id);
            if (now != ARBOR_NOPID && now != old)
                return 0;
            tree_free(after);
        }
        arbor_sleep(1);
    }
    return ARBOR_ETIMEDOUT;
}

/* Prints "label:" and the ids of after whose pid in before is (or is not,
 * as same says) the one they have now. */
static void print_ids(const char *label, const tree_t *before, const tree_t *after, int same)
{
    printf("%s:", label);
    int none = 1;
    for (size_t i = 0; i < after->n; i++)
        if ((tree_pid(before, after->kids[i].id) == after->kids[i].pid) == same) {
            printf(" %s", after->kids[i].id);
            none = 0;
        }
    printf("%s\n", none ? " -" : "");
}

void tree_crash(arbor_pid_t sup, const tree_t *before, const char *id, uint64_t tag,
                const void *req, size_t size, tree_t *after)
{
    arbor_pid_t crashed = tree_pid(before, id);
    arbor_reason_t why;
    int rc = arbor_gs_call(crashed, tag, req, size, ARBOR_GS_CALL_TIMEOUT, NULL, &why);
    if (rc != ARBOR_EEXIT)
        arbor_exit(arbor_error("%s did not crash: %s", id, rc ? arbor_err_name(rc) : "it replied"));
    printf("%s crashed: %s\n", id, arbor_reason_text(&why));
    course_check(wait_restart(sup, id, crashed, after), "wait for the restart", NULL);

    printf("after the restart:\n");
    for (size_t i = 0; i < after->n; i++) {
        char pid[32];
        arbor_pid_format(after->kids[i].pid, pid, sizeof pid);
        int kept = tree_pid(before, after->kids[i].id) == after->kids[i].pid;
        printf("  %-10s %-12s %s\n", after->kids[i].id, pid, kept ? "kept" : "restarted");
    }
    print_ids("restarted", before, after, 0);
    print_ids("kept", before, after, 1);
}

void tree_free(tree_t *t)
{
    free(t->kids);
    t->kids = NULL;
    t->n = 0;
}

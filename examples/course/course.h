/*
 * What the course's examples share: running a root process, giving up
 * with a message, and, for the strategy examples, what they print about a
 * supervisor: its children in start order and, after a crash, which of
 * them it restarted (a new pid) and which it kept (the same pid).
 * Public API only (include/arbor.h).
 */
#ifndef COURSE_H
#define COURSE_H

#include <arbor.h>

/* Runs the runtime with root as its root process: 0 when root ended
 * normal, else 1 after printing root's exit reason to stderr. */
int course_main(arbor_entry_fn root);

/* Ends the calling process with an error naming what failed when rc is
 * not 0 (and why, when why is not NULL). */
void course_check(int rc, const char *what, const arbor_reason_t *why);

/* Waits, up to 5 s, until the Task.Supervisor sup has handled the exit of
 * its task `task` (the task is no longer among its children: forgotten,
 * or restarted under a new pid), and stores how many tasks it runs then.
 * 0, or ARBOR_ETIMEDOUT, or the call's error. */
int course_wait_task_handled(arbor_pid_t sup, arbor_pid_t task, size_t *running);

typedef struct tree {
    arbor_child_info_t *kids; /* in start order; free() with tree_free() */
    size_t n;
} tree_t;

/* Takes a snapshot of sup's children. 0, or the call's error. */
int tree_take(arbor_pid_t sup, tree_t *t);

/* The pid of child id in t, or ARBOR_NOPID. */
arbor_pid_t tree_pid(const tree_t *t, const char *id);

/* Prints "title", then one line per child: its id and pid. */
void tree_print(const char *title, const tree_t *t);

/*
 * Crashes child id of sup (as before lists it) with a call of tag and the
 * size bytes at req, a request its server fails on, and prints
 * "ID crashed: REASON". Then waits, up to 5 s, until sup runs the child
 * again under another pid: a supervisor restarts every child its strategy
 * names while it handles that one exit, so *after, the snapshot taken
 * then, shows the whole restart. Prints it beside before, each child
 * marked restarted or kept, then the two lines the example's test reads:
 * "restarted: ID..." and "kept: ID..." (start order; "-" for none). Ends
 * the calling process when the child does not crash or come back.
 */
void tree_crash(arbor_pid_t sup, const tree_t *before, const char *id, uint64_t tag,
                const void *req, size_t size, tree_t *after);

void tree_free(tree_t *t);

#endif

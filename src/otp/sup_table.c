/*
 * The table of supervisors (supervision.h, "sup_table.c"): what lets any
 * thread read a supervisor's children without a call to it
 * (arbor_sup_children_snapshot()).
 *
 * Each Supervisor and DynamicSupervisor enters itself here as its init
 * begins: its pid, a lock of its own and a function that lists its
 * children from its state. The supervisor changes what that function reads
 * (its children, their pids, statuses and restart counts) only while it
 * holds its lock, and reads it freely otherwise: it is the only writer. A
 * reader finds the entry under the table's read lock, then lists under the
 * supervisor's lock. Neither waits for the supervisor to handle a
 * message: the lock is held only for the few stores of one change, never
 * across a child's start function or a shutdown, so a reader waits at most
 * that long, and a supervisor at most one listing. Nothing is copied on
 * the supervisor's side: the entry points at its own state.
 *
 * The entry goes when the supervisor exits, however it exits (an exit
 * hook, which the runtime runs before it frees the process's memory), and
 * under the table's write lock, so no reader holds it then.
 *
 * Lock order: the table's lock, then a supervisor's. A supervisor takes
 * only its own; the exit hook, only the table's.
 */
#include <pthread.h>
#include <stdlib.h>

#include "../common/u64map.h"
#include "supervision.h"

struct arbor__sup_table {
    pthread_mutex_t lock;
    arbor_pid_t pid;
    arbor__sup_table_list_fn list;
    const void *state;
};

static pthread_rwlock_t table_lock = PTHREAD_RWLOCK_INITIALIZER;
static arbor__u64map_t table; /* pid -> arbor__sup_table_t *; malloc'd */

static void leave(void *arg)
{
    arbor__sup_table_t *t = arg;
    pthread_rwlock_wrlock(&table_lock);
    arbor__u64map_del(&table, t->pid, NULL);
    pthread_rwlock_unlock(&table_lock);
    pthread_mutex_destroy(&t->lock); /* t itself goes with the process */
}

arbor__sup_table_t *arbor__sup_table_enter(arbor__sup_table_list_fn list, const void *state)
{
    arbor__sup_table_t *t = arbor_alloc(sizeof *t);
    if (!t)
        return NULL;
    *t = (arbor__sup_table_t){.pid = arbor_self(), .list = list, .state = state};
    pthread_mutex_init(&t->lock, NULL);
    pthread_rwlock_wrlock(&table_lock);
    bool in = arbor__u64map_put(&table, t->pid, (uint64_t)(uintptr_t)t);
    pthread_rwlock_unlock(&table_lock);
    if (in && arbor_on_exit(leave, t) == 0)
        return t;
    if (in)
        leave(t);
    else
        pthread_mutex_destroy(&t->lock);
    arbor_free(t);
    return NULL;
}

void arbor__sup_table_lock(arbor__sup_table_t *t)
{
    pthread_mutex_lock(&t->lock);
}

void arbor__sup_table_unlock(arbor__sup_table_t *t)
{
    pthread_mutex_unlock(&t->lock);
}

/* Lists sup's children into out (room for cap): how many it has, or -1
 * when sup is not in the table. */
static ptrdiff_t list_of(arbor_pid_t sup, arbor_child_info_t *out, size_t cap)
{
    ptrdiff_t n = -1;
    uint64_t ptr;
    pthread_rwlock_rdlock(&table_lock);
    if (arbor__u64map_get(&table, sup, &ptr)) {
        arbor__sup_table_t *t = (arbor__sup_table_t *)(uintptr_t)ptr;
        pthread_mutex_lock(&t->lock);
        n = (ptrdiff_t)t->list(t->state, out, cap);
        pthread_mutex_unlock(&t->lock);
    }
    pthread_rwlock_unlock(&table_lock);
    return n;
}

int arbor_sup_children_snapshot(arbor_pid_t sup, arbor_child_info_t **out, size_t *n)
{
    if (!out || !n)
        return ARBOR_EINVAL;
    /* Counted first, then listed into an array allocated outside the
     * locks; grown and listed again if children came meanwhile. */
    size_t cap = 0;
    arbor_child_info_t *buf = NULL;
    for (;;) {
        ptrdiff_t count = list_of(sup, buf, cap);
        if (count < 0) {
            free(buf);
            return arbor_alive(sup) ? ARBOR_EWRONGKIND : ARBOR_ENOPROC;
        }
        if ((size_t)count <= cap && buf) {
            *out = buf;
            *n = (size_t)count;
            return 0;
        }
        free(buf);
        cap = (size_t)count + (size_t)count / 4 + 1;
        buf = calloc(cap, sizeof *buf);
        if (!buf)
            return ARBOR_ENOMEM;
    }
}

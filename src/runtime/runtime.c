/*
 * The runtime's life cycle: arbor_run() checks the configuration, sets up
 * the tables, stacks, schedulers, poller and blocking pool, runs the root
 * process's scheduler loop on the calling thread and the others on threads
 * of their own, and tears everything down once the last process is gone;
 * arbor_stats() reads the counters that prove it released what it used.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arbor/error.h"
#include "blocking.h"
#include "fault.h"
#include "name.h"
#include "netpoll.h"
#include "recycle.h"
#include "sched.h"
#include "stats.h"
#include "systematic.h"
#include "table.h"

#define DEFAULT_STACK       (256 * 1024)
#define DEFAULT_MAX_PROCS   ((size_t)1 << 22)
#define DEFAULT_STEAL_AFTER 250u /* us */
#define MAX_STEAL_AFTER     1000000u
#define DEFAULT_BLOCKING    4

static void kill_one(arbor__proc_t *p, void *ctx)
{
    (void)ctx;
    arbor_exit_pid(p->pid, ARBOR_KILL);
}

/* Called when the root process has exited: everything else is killed. */
void arbor__root_exited(const arbor_reason_t *reason)
{
    arbor__rt.root_reason = *reason;
    atomic_store_explicit(&arbor__rt.root_exited, true, memory_order_release);
    arbor__table_foreach(kill_one, NULL);
}

/* One scheduler per CPU; four in the systematic-testing build, where a
 * seed must mean the same run on any machine. */
static unsigned default_schedulers(void)
{
#ifdef ARBOR_SYSTEMATIC
    return 4;
#else
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (unsigned)n : 1;
#endif
}

static int check_config(const arbor_config_t *in, arbor_config_t *out)
{
    arbor_config_t c = in ? *in : (arbor_config_t){0};
    if (c.schedulers == 0)
        c.schedulers = default_schedulers();
    if (c.schedulers > 1024)
        return ARBOR_EINVAL;
    if (c.stack_size == 0)
        c.stack_size = DEFAULT_STACK;
    if (c.blocking_threads == 0)
        c.blocking_threads = DEFAULT_BLOCKING;
    if (c.blocking_threads > 1024)
        return ARBOR_EINVAL;
    if (c.max_processes == 0)
        c.max_processes = DEFAULT_MAX_PROCS;
    if (c.steal_after_us == 0)
        c.steal_after_us = DEFAULT_STEAL_AFTER;
    if (c.steal_after_us > MAX_STEAL_AFTER)
        return ARBOR_EINVAL;
    *out = c;
    return 0;
}

int arbor_run(const arbor_config_t *cfg, arbor_entry_fn root, void *arg, arbor_reason_t *root_exit)
{
    if (!root)
        return ARBOR_EINVAL;
    arbor_config_t c;
    int err = check_config(cfg, &c);
    if (err)
        return err;
    bool expected = false;
    if (!atomic_compare_exchange_strong(&arbor__running, &expected, true))
        return ARBOR_EBUSY;
#ifdef ARBOR_SYSTEMATIC
    if ((err = arbor__sys_init())) {
        atomic_store(&arbor__running, false);
        return err;
    }
#endif

    memset(&arbor__rt, 0, sizeof arbor__rt);
    arbor__rt.cfg = c;
    arbor__rt.nsched = c.schedulers;
    arbor__rt.steal_after_ns = (uint64_t)c.steal_after_us * 1000u;
    pthread_mutex_init(&arbor__rt.gq_lock, NULL);
    pthread_mutex_init(&arbor__rt.foreign_lock, NULL);

    if ((err = arbor__stack_init(c.stack_size)))
        goto err_running;
    if ((err = arbor__table_init(c.max_processes)))
        goto err_stacks;
    arbor__rt.sched = aligned_alloc(64, sizeof(arbor__sched_t) * c.schedulers);
    if (!arbor__rt.sched) {
        err = ARBOR_ENOMEM;
        goto err_table;
    }
    memset(arbor__rt.sched, 0, sizeof(arbor__sched_t) * c.schedulers);
    uint64_t now = arbor_now_ms();
    for (unsigned i = 0; i < c.schedulers; i++) {
        arbor__sched_t *s = &arbor__rt.sched[i];
        s->id = i;
        s->rng = 0x9E3779B9u * (i + 1);
#ifdef ARBOR_SYSTEMATIC
        s->rng = arbor__sys_sched_rng(i);
#endif
        s->ref_counter = 1;
        atomic_init(&s->epoch, ARBOR__EPOCH_OFFLINE);
        arbor__wheel_init(&s->wheel, now);
    }
    if ((err = arbor__netpoll_init()))
        goto err_sched;
    if ((err = arbor__blocking_start(c.blocking_threads)))
        goto err_netpoll;

    arbor__fault_saved_t faults;
    arbor__fault_install(&faults);

    arbor_pid_t root_pid;
    err = arbor_spawn(root, arg, &root_pid);
    if (err)
        goto err_signals;
    arbor__rt.root = root_pid;

    unsigned started = 1;
    for (; started < c.schedulers; started++) {
        if (pthread_create(&arbor__rt.sched[started].thread, NULL, arbor__sched_thread,
                           &arbor__rt.sched[started]) != 0)
            break;
    }
    if (started < c.schedulers) {
        /* Run with fewer threads: the others never existed. */
        arbor__rt.nsched = started;
    }
    arbor__sched_loop(&arbor__rt.sched[0]);
    for (unsigned i = 1; i < started; i++)
        pthread_join(arbor__rt.sched[i].thread, NULL);
    arbor__reclaim_fini();

    if (root_exit)
        *root_exit = arbor__rt.root_reason;
    err = 0;

err_signals:
    arbor__fault_restore(&faults);
    arbor__blocking_stop();
err_netpoll:
    arbor__netpoll_fini();
err_sched:
    for (unsigned i = 0; i < c.schedulers; i++) {
        arbor__wheel_fini(&arbor__rt.sched[i].wheel);
        arbor__stack_cache_flush(&arbor__rt.sched[i].stacks);
        arbor__table_cache_flush(&arbor__rt.sched[i].slots);
    }
    arbor__timer_adopt_foreign(NULL);
    arbor__recycle_fini();
    free(arbor__rt.sched);
    arbor__rt.sched = NULL;
err_table:
    arbor__names_fini();
    arbor__table_fini();
err_stacks:
    arbor__stack_fini();
err_running:
    pthread_mutex_destroy(&arbor__rt.gq_lock);
    pthread_mutex_destroy(&arbor__rt.foreign_lock);
    atomic_store(&arbor__running, false);
    return err;
}

void arbor_stats(arbor_stats_t *out)
{
    out->processes_spawned =
        atomic_load_explicit(&arbor__stats.processes_spawned, memory_order_relaxed);
    out->live_processes = atomic_load_explicit(&arbor__stats.live_processes, memory_order_relaxed);
    out->live_timers = atomic_load_explicit(&arbor__stats.live_timers, memory_order_relaxed);
    out->live_stacks = atomic_load_explicit(&arbor__stats.live_stacks, memory_order_relaxed);
    out->stacks_in_use = atomic_load_explicit(&arbor__stats.stacks_in_use, memory_order_relaxed);
    out->live_messages = atomic_load_explicit(&arbor__stats.live_messages, memory_order_relaxed);
    out->live_blocking_jobs =
        atomic_load_explicit(&arbor__stats.live_blocking_jobs, memory_order_relaxed);
    out->live_sockets = atomic_load_explicit(&arbor__stats.live_sockets, memory_order_relaxed);
    out->stack_resident_bytes = arbor__stack_resident_bytes();
    out->schedulers = atomic_load(&arbor__running) ? arbor__rt.nsched : 0;
}

/*
 * The systematic-testing build's token, logical clock and seeded choice
 * of the next scheduler. See systematic.h; compiled empty elsewhere.
 */
#ifdef ARBOR_SYSTEMATIC

#include "systematic.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "arbor/error.h"
#include "netpoll.h"
#include "sched.h"

#define DEFAULT_SEED 1u
/* Where the logical clock starts (in ns): far from 0, as a real
 * monotonic clock is, so that no deadline arithmetic meets 0. */
#define CLOCK_START ((uint64_t)1 << 40)

enum { READY, RUNNING, ASLEEP, DONE };

typedef struct {
    int state;
    uint64_t wake_at;  /* ASLEEP: logical ns; UINT64_MAX: none */
    pthread_cond_t go; /* signalled when it is given the token */
} sys_sched_t;

#define MAX_SCHEDULERS 1024 /* check_config()'s limit */

static struct {
    pthread_mutex_t lock;
    pthread_cond_t external; /* a wake or a completion from outside */
    int holder;              /* scheduler id; -1: none */
    uint64_t seed, rng;
    _Atomic uint64_t now;
    _Atomic uint64_t external_jobs;
    sys_sched_t *sched; /* by scheduler id; kept from run to run */
} sys = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .external = PTHREAD_COND_INITIALIZER,
    .holder = -1,
};

/* splitmix64: a full-period sequence from any seed, 0 included. */
static uint64_t next_random(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15u);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
}

static uint64_t real_ns(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static bool parse_seed(const char *text, uint64_t *out)
{
    if (!text)
        return false;
    char *end;
    errno = 0;
    if (*text < '0' || *text > '9')
        return false;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno || *end)
        return false;
    *out = v;
    return true;
}

int arbor__sys_init(void)
{
    const char *text = getenv("ARBOR_SEED");
    uint64_t seed = DEFAULT_SEED;
    if (text && !parse_seed(text, &seed)) {
        fprintf(stderr, "arbor: ARBOR_SEED must be a decimal number, not '%s'\n", text);
        return ARBOR_EINVAL;
    }
    if (!sys.sched) {
        sys.sched = calloc(MAX_SCHEDULERS, sizeof *sys.sched);
        if (!sys.sched)
            return ARBOR_ENOMEM;
        for (unsigned i = 0; i < MAX_SCHEDULERS; i++)
            pthread_cond_init(&sys.sched[i].go, NULL);
    }
    sys.seed = seed;
    sys.rng = seed;
    sys.holder = 0;
    sys.sched[0].state = RUNNING;
    for (unsigned i = 1; i < MAX_SCHEDULERS; i++)
        sys.sched[i].state = READY;
    atomic_store(&sys.now, CLOCK_START);
    atomic_store(&sys.external_jobs, 0);
    return 0;
}

uint64_t arbor__sys_seed(void)
{
    return sys.seed;
}

uint32_t arbor__sys_sched_rng(unsigned id)
{
    uint64_t state = sys.seed ^ ((uint64_t)(id + 1) << 32);
    return (uint32_t)next_random(&state) | 1u;
}

uint64_t arbor__sys_now_ns(void)
{
    return atomic_load_explicit(&sys.now, memory_order_relaxed);
}

/* ---- under sys.lock ---------------------------------------------------------------- */

static bool may_run(unsigned i, uint64_t now)
{
    sys_sched_t *t = &sys.sched[i];
    if (t->state == READY)
        return true;
    if (t->state != ASLEEP)
        return false;
    return atomic_load_explicit(&arbor__rt.sched[i].futex_word, memory_order_seq_cst) != 0 ||
           t->wake_at <= now;
}

/* The seeded draw among the schedulers that may run; -1 when none may. */
static int draw(void)
{
    unsigned n = arbor__rt.nsched, k = 0;
    uint64_t now = arbor__sys_now_ns();
    for (unsigned i = 0; i < n; i++)
        k += may_run(i, now);
    if (k == 0)
        return -1;
    unsigned pick = (unsigned)(next_random(&sys.rng) % k);
    for (unsigned i = 0; i < n; i++)
        if (may_run(i, now) && pick-- == 0)
            return (int)i;
    return -1;
}

static void give(int to)
{
    sys.holder = to;
    sys.sched[to].state = RUNNING;
    pthread_cond_signal(&sys.sched[to].go);
}

static void wait_for_token(int self)
{
    while (sys.holder != self)
        pthread_cond_wait(&sys.sched[self].go, &sys.lock);
}

/* Gives the token to `to` and, if that is not `self`, waits until it
 * comes back to self. */
static void hand_over(int self, int to)
{
    give(to);
    wait_for_token(self);
}

/* The earliest wake-up time of a parked scheduler; UINT64_MAX: none. */
static uint64_t next_wake_at(void)
{
    uint64_t at = UINT64_MAX;
    for (unsigned i = 0; i < arbor__rt.nsched; i++)
        if (sys.sched[i].state == ASLEEP && sys.sched[i].wake_at < at)
            at = sys.sched[i].wake_at;
    return at;
}

static void advance_to(uint64_t t)
{
    if (t > arbor__sys_now_ns())
        atomic_store_explicit(&sys.now, t, memory_order_relaxed);
}

/* No scheduler may run. With nothing in flight outside, jump the clock to
 * the next wake-up. Otherwise wait in real time, until a wake or a
 * completion or the next wake-up, and advance the clock by the time
 * waited; self, parked with sockets registered, waits in epoll itself. */
static void idle(struct arbor__sched *self)
{
    uint64_t wake_at = next_wake_at();
    uint64_t now = arbor__sys_now_ns();
    bool poll = self && arbor__netpoll_active();
    if (!poll && atomic_load(&sys.external_jobs) == 0) {
        if (wake_at != UINT64_MAX) {
            advance_to(wake_at);
            return;
        }
        /* Nothing can ever wake anyone but the outside: wait for it, as
         * the real runtime would. */
        pthread_cond_wait(&sys.external, &sys.lock);
        return;
    }
    uint64_t wait = wake_at == UINT64_MAX ? UINT64_MAX : wake_at - now;
    uint64_t start = real_ns(CLOCK_MONOTONIC);
    if (poll) {
        pthread_mutex_unlock(&sys.lock);
        bool polled = arbor__netpoll_poll(wait);
        pthread_mutex_lock(&sys.lock);
        if (polled)
            atomic_store_explicit(&self->futex_word, 1, memory_order_seq_cst);
    } else if (wait == UINT64_MAX) {
        pthread_cond_wait(&sys.external, &sys.lock);
    } else {
        /* pthread_cond_timedwait() reads CLOCK_REALTIME. */
        uint64_t until = real_ns(CLOCK_REALTIME) + wait;
        struct timespec ts = {(time_t)(until / 1000000000u), (long)(until % 1000000000u)};
        pthread_cond_timedwait(&sys.external, &sys.lock, &ts);
    }
    uint64_t waited = real_ns(CLOCK_MONOTONIC) - start;
    advance_to(waited >= wait ? wake_at : now + waited);
}

/* ---- the hooks ---------------------------------------------------------------------- */

void arbor__sys_enter(struct arbor__sched *s)
{
    pthread_mutex_lock(&sys.lock);
    wait_for_token((int)s->id);
    pthread_mutex_unlock(&sys.lock);
}

void arbor__sys_point(struct arbor__sched *s)
{
    pthread_mutex_lock(&sys.lock);
    atomic_fetch_add_explicit(&sys.now, ARBOR__SYS_QUANTUM_NS, memory_order_relaxed);
    sys.sched[s->id].state = READY;
    hand_over((int)s->id, draw()); /* s itself may run: the draw finds one */
    pthread_mutex_unlock(&sys.lock);
}

void arbor__sys_sleep(struct arbor__sched *s, uint64_t timeout_ns)
{
    pthread_mutex_lock(&sys.lock);
    uint64_t now =
        atomic_fetch_add_explicit(&sys.now, ARBOR__SYS_QUANTUM_NS, memory_order_relaxed) +
        ARBOR__SYS_QUANTUM_NS;
    sys_sched_t *me = &sys.sched[s->id];
    me->state = ASLEEP;
    me->wake_at =
        timeout_ns == UINT64_MAX || timeout_ns > UINT64_MAX - now ? UINT64_MAX : now + timeout_ns;
    int next;
    while ((next = draw()) < 0)
        idle(s);
    hand_over((int)s->id, next);
    pthread_mutex_unlock(&sys.lock);
}

void arbor__sys_wake(void)
{
    pthread_mutex_lock(&sys.lock);
    pthread_cond_broadcast(&sys.external);
    pthread_mutex_unlock(&sys.lock);
}

void arbor__sys_exit(struct arbor__sched *s)
{
    pthread_mutex_lock(&sys.lock);
    sys.sched[s->id].state = DONE;
    int next;
    for (;;) {
        if ((next = draw()) >= 0) {
            give(next);
            break;
        }
        if (next_wake_at() == UINT64_MAX && atomic_load(&sys.external_jobs) == 0) {
            bool parked = false;
            for (unsigned i = 0; i < arbor__rt.nsched; i++)
                parked |= sys.sched[i].state == ASLEEP;
            if (!parked) {
                sys.holder = -1; /* everyone has left */
                break;
            }
        }
        idle(NULL);
    }
    pthread_mutex_unlock(&sys.lock);
}

void arbor__sys_external_begin(void)
{
    atomic_fetch_add(&sys.external_jobs, 1);
}

void arbor__sys_external_end(void)
{
    pthread_mutex_lock(&sys.lock);
    atomic_fetch_sub(&sys.external_jobs, 1);
    pthread_cond_broadcast(&sys.external);
    pthread_mutex_unlock(&sys.lock);
}

#else

/* ISO C wants a translation unit to declare something. */
typedef int arbor__systematic_unused;

#endif

#include "blocking.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "arbor/error.h"
#include "proc.h"
#include "stats.h"
#include "systematic.h"

static struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    arbor__job_t *head, *tail;
    pthread_t *threads;
    unsigned nthreads;
    bool stopping;
} pool = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};

static void *worker(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&pool.lock);
    for (;;) {
        while (!pool.head && !pool.stopping)
            pthread_cond_wait(&pool.cond, &pool.lock);
        arbor__job_t *job = pool.head;
        if (!job)
            break; /* stopping and drained */
        pool.head = job->next;
        if (!pool.head)
            pool.tail = NULL;
        pthread_mutex_unlock(&pool.lock);
        job->result = job->fn(job->arg);
        arbor__msg_t *done = job->done; /* job may vanish once delivered */
        ARBOR__STAT_SUB(live_blocking_jobs, 1);
        arbor__send_node(job->pid, done);
#ifdef ARBOR_SYSTEMATIC
        arbor__sys_external_end();
#endif
        pthread_mutex_lock(&pool.lock);
    }
    pthread_mutex_unlock(&pool.lock);
    return NULL;
}

int arbor__blocking_start(unsigned threads)
{
    pool.head = pool.tail = NULL;
    pool.stopping = false;
    pool.threads = calloc(threads, sizeof *pool.threads);
    if (!pool.threads)
        return ARBOR_ENOMEM;
    for (pool.nthreads = 0; pool.nthreads < threads; pool.nthreads++) {
        if (pthread_create(&pool.threads[pool.nthreads], NULL, worker, NULL) != 0)
            break;
    }
    if (pool.nthreads == 0) {
        free(pool.threads);
        return ARBOR_ENOMEM;
    }
    return 0;
}

void arbor__blocking_stop(void)
{
    pthread_mutex_lock(&pool.lock);
    pool.stopping = true;
    pthread_cond_broadcast(&pool.cond);
    pthread_mutex_unlock(&pool.lock);
    for (unsigned i = 0; i < pool.nthreads; i++)
        pthread_join(pool.threads[i], NULL);
    free(pool.threads);
    pool.threads = NULL;
    pool.nthreads = 0;
}

void arbor__blocking_submit(arbor__job_t *job)
{
    ARBOR__STAT_ADD(live_blocking_jobs, 1);
#ifdef ARBOR_SYSTEMATIC
    arbor__sys_external_begin();
#endif
    job->next = NULL;
    pthread_mutex_lock(&pool.lock);
    if (pool.tail)
        pool.tail->next = job;
    else
        pool.head = job;
    pool.tail = job;
    pthread_cond_signal(&pool.cond);
    pthread_mutex_unlock(&pool.lock);
}

/* Reports held while the desk starts (start_reports.h). */
#include "start_reports.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "arbor.h"

/* A start makes a few reports; past this many, the rest are counted. */
#define HELD_MAX 32

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static bool holding;
static char *held[HELD_MAX];
static size_t held_count, held_lost;
static arbor_report_fn earlier;

/* Reports come from any scheduler thread. */
static void on_report(const arbor_report_t *r, void *ctx)
{
    (void)ctx;
    pthread_mutex_lock(&lock);
    if (!holding) {
        pthread_mutex_unlock(&lock);
        earlier(r, NULL);
        return;
    }
    if (r->kind != ARBOR_REPORT_PROGRESS) { /* which the default printer skips */
        int n = arbor_report_format(r, NULL, 0);
        char *line = held_count < HELD_MAX && n >= 0 ? malloc((size_t)n + 1) : NULL;
        if (line) {
            arbor_report_format(r, line, (size_t)n + 1);
            held[held_count++] = line;
        } else {
            held_lost++;
        }
    }
    pthread_mutex_unlock(&lock);
}

void start_reports_hold(void)
{
    pthread_mutex_lock(&lock);
    holding = true;
    pthread_mutex_unlock(&lock);
    earlier = arbor_report_set_handler(on_report, NULL);
}

void start_reports_release(bool print)
{
    pthread_mutex_lock(&lock);
    holding = false;
    for (size_t i = 0; i < held_count; i++) {
        if (print)
            fprintf(stderr, "%s\n", held[i]);
        free(held[i]);
    }
    if (print && held_lost)
        fprintf(stderr, "(%zu more reports made while the desk started are not shown)\n",
                held_lost);
    held_count = held_lost = 0;
    pthread_mutex_unlock(&lock);
}

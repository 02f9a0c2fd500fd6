/*
 * arbor-bench [--schedulers N] NAME: runs one benchmark (see bench.h and
 * docs/performance.md). --list names them.
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

#define MAX_FIGURES 16
#define MAX_REPS    101

typedef struct {
    const char *metric, *unit;
    double values[MAX_REPS];
    int n;
} figure_t;

static figure_t figures[MAX_FIGURES];
static int nfigures;
static int current_rep; /* -1 = warm-up */

uint64_t bench_size(const char *var, uint64_t def)
{
    const char *s = getenv(var);
    return s && *s ? strtoull(s, NULL, 10) : def;
}

uint64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t bench_memory_in_use(void)
{
    struct mallinfo2 mi = mallinfo2();
    arbor_stats_t st;
    arbor_stats(&st);
    return (uint64_t)mi.uordblks + (uint64_t)mi.hblkhd + st.stack_resident_bytes;
}

static bool tag_is(const arbor_msg_t *m, void *arg)
{
    return m->tag == *(uint64_t *)arg;
}

arbor_msg_t *bench_recv_tag(uint64_t tag)
{
    arbor_msg_t *m;
    if (arbor_receive_match(tag_is, &tag, ARBOR_INFINITY, &m) != 0)
        abort();
    return m;
}

uint64_t bench_go_and_wait(const arbor_pid_t *pids, size_t n, uint64_t go, uint64_t done)
{
    uint64_t t0 = bench_now_ns();
    for (size_t i = 0; i < n; i++)
        arbor_send(pids[i], go, NULL, 0);
    for (size_t i = 0; i < n; i++)
        arbor_msg_free(bench_recv_tag(done));
    return bench_now_ns() - t0;
}

void bench_figure(const char *metric, double value, const char *unit)
{
    fprintf(stderr, "  %s %s %.6g %s\n", current_rep < 0 ? "warm-up" : "rep", metric, value, unit);
    if (current_rep < 0)
        return;
    for (int i = 0; i < nfigures; i++) {
        if (strcmp(figures[i].metric, metric) == 0) {
            if (figures[i].n < MAX_REPS)
                figures[i].values[figures[i].n++] = value;
            return;
        }
    }
    if (nfigures == MAX_FIGURES)
        return;
    figures[nfigures] = (figure_t){.metric = metric, .unit = unit, .n = 1};
    figures[nfigures].values[0] = value;
    nfigures++;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double bench_median(double *v, size_t n)
{
    qsort(v, n, sizeof v[0], cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

typedef struct {
    bench_fn fn;
    int first, last; /* repetitions to run, -1 being the warm-up */
} plan_t;

static void root(void *arg)
{
    plan_t *plan = arg;
    for (current_rep = plan->first; current_rep <= plan->last; current_rep++)
        plan->fn();
}

static const bench_t *const tables[] = {
    bench_runtime,      bench_otp, bench_desk, bench_desk_list, bench_desk_assign,
    bench_desk_history, bench_net, bench_http, bench_desk_http, bench_scaling};
#define NTABLES (sizeof tables / sizeof tables[0])

static const bench_t *find(const char *name)
{
    for (size_t t = 0; t < NTABLES; t++)
        for (const bench_t *b = tables[t]; b->name; b++)
            if (strcmp(b->name, name) == 0)
                return b;
    return NULL;
}

static void list(void)
{
    for (size_t t = 0; t < NTABLES; t++)
        for (const bench_t *b = tables[t]; b->name; b++)
            printf("%s\n", b->name);
}

int main(int argc, char **argv)
{
    arbor_config_t cfg = {0};
    int i = 1;
    if (i + 1 < argc && strcmp(argv[i], "--schedulers") == 0) {
        cfg.schedulers = (unsigned)atoi(argv[i + 1]);
        i += 2;
    }
    if (i < argc && strcmp(argv[i], "--list") == 0) {
        list();
        return 0;
    }
    if (i + 1 != argc) {
        fprintf(stderr, "usage: arbor-bench [--schedulers N] NAME | --list\n");
        return 2;
    }
    const bench_t *b = find(argv[i]);
    if (!b) {
        fprintf(stderr, "unknown benchmark: %s (--list names them)\n", argv[i]);
        return 2;
    }
    int reps = (int)bench_size("BENCH_REPS", 5);
    if (reps < 1 || reps > MAX_REPS)
        reps = 5;
    fprintf(stderr, "%s: BENCH_REPS=%d schedulers=%u%s\n", b->name, reps, cfg.schedulers,
            b->fresh_runtime ? " (a runtime per repetition)" : "");
    /* One runtime for all repetitions, or one each. */
    int step = b->fresh_runtime ? 1 : reps + 1;
    for (int first = -1; first < reps; first += step) {
        plan_t plan = {b->fn, first, first + step - 1};
        arbor_reason_t why;
        int rc = arbor_run(&cfg, root, &plan, &why);
        if (rc != 0 || why.kind != ARBOR_EXIT_NORMAL) {
            char buf[128];
            arbor_reason_format(&why, buf, sizeof buf);
            fprintf(stderr, "benchmark failed: %s / %s\n", arbor_strerror(rc), buf);
            return 1;
        }
    }
    for (int f = 0; f < nfigures; f++) {
        figure_t *fg = &figures[f];
        double med = bench_median(fg->values, (size_t)fg->n);
        printf("%s %.6g %s\n", fg->metric, med, fg->unit);
    }
    return 0;
}

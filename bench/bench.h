/*
 * The benchmark harness shared by every benchmark file.
 *
 * A benchmark is a function that runs inside a process of a fresh runtime,
 * performs one repetition with the sizes it reads through bench_size(), and
 * reports its figures with bench_figure(). The harness runs one discarded
 * warm-up repetition and BENCH_REPS (default 5) measured ones, then prints
 * each figure's median on stdout as `metric value unit`, the repetitions on
 * stderr (benchmarks.md).
 */
#ifndef ARBOR_BENCH_H
#define ARBOR_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arbor.h"

typedef void (*bench_fn)(void);

typedef struct bench {
    const char *name;
    bench_fn fn;
    /* Each repetition in a runtime of its own: for memory figures, which
     * blocks an earlier repetition left in the runtime's recycling pools
     * (counted in use before and after) would understate. */
    bool fresh_runtime;
} bench_t;

/* The size named var (e.g. "BENCH_N") from the environment, or def. */
uint64_t bench_size(const char *var, uint64_t def);

/* Records one figure of the current repetition. */
void bench_figure(const char *metric, double value, const char *unit);

/* Monotonic nanoseconds. */
uint64_t bench_now_ns(void);

/* Memory in use, in bytes: heap blocks (glibc's count, which unlike RSS
 * does not depend on what earlier repetitions left cached) plus resident
 * stack pages. */
uint64_t bench_memory_in_use(void);

/* The median of the n values at v (n >= 1; the mean of the two middle
 * ones when n is even); sorts v. */
double bench_median(double *v, size_t n);

/* Receives a message with tag, waiting forever; aborts on error. */
arbor_msg_t *bench_recv_tag(uint64_t tag);

/* Starts a timed run of n waiting processes: sends each of pids a message
 * tagged go (no data), then receives n messages tagged done. Returns the
 * nanoseconds from the first send to the last done. */
uint64_t bench_go_and_wait(const arbor_pid_t *pids, size_t n, uint64_t go, uint64_t done);

extern const bench_t bench_runtime[];
extern const bench_t bench_scaling[];
extern const bench_t bench_otp[];
extern const bench_t bench_desk[];
extern const bench_t bench_desk_list[];
extern const bench_t bench_desk_assign[];
extern const bench_t bench_desk_history[];
extern const bench_t bench_net[];
extern const bench_t bench_http[];
extern const bench_t bench_desk_http[];

#endif

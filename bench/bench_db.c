/*
 * The desk benchmarks' databases (bench_db.h).
 */
#include "bench_db.h"

#include "bench.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define KEPT_MAX 8

static char kept[KEPT_MAX][128];
static size_t n_kept;

void bench_db_make(const char *name, char *path, size_t size)
{
    char dir[96];
    int n = snprintf(dir, sizeof dir, "/tmp/arbor-bench-%s-XXXXXX", name);
    if (n < 0 || (size_t)n >= sizeof dir || !mkdtemp(dir)) {
        fprintf(stderr, "bench: cannot make a directory for the %s database\n", name);
        abort();
    }
    n = snprintf(path, size, "%s/desk.db", dir);
    if (n < 0 || (size_t)n >= size) {
        fprintf(stderr, "bench: the path of the %s database does not fit\n", name);
        abort();
    }
}

void bench_db_remove(const char *path)
{
    static const char *const suffixes[] = {"", "-wal", "-shm", "-journal", ".lock"};
    char file[PATH_MAX];
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
        if (snprintf(file, sizeof file, "%s%s", path, suffixes[i]) < (int)sizeof file)
            unlink(file);
    }
    const char *slash = strrchr(path, '/');
    if (slash) {
        snprintf(file, sizeof file, "%.*s", (int)(slash - path), path);
        rmdir(file);
    }
}

static void remove_kept(void)
{
    for (size_t i = 0; i < n_kept; i++)
        bench_db_remove(kept[i]);
}

void bench_db_kept(const char *name, char *path, size_t size)
{
    if (path[0])
        return;
    if (n_kept == KEPT_MAX) {
        fprintf(stderr, "bench: more than %d kept databases\n", KEPT_MAX);
        abort();
    }
    bench_db_make(name, path, size);
    snprintf(kept[n_kept], sizeof kept[n_kept], "%s", path);
    if (n_kept++ == 0)
        atexit(remove_kept);
}

arbor_pid_t bench_db_start_desk(const char *bench, const desk_config_t *cfg)
{
    arbor_pid_t sup;
    arbor_reason_t why;
    if (desk_start(cfg, &sup, &why) != 0) {
        char text[128];
        arbor_reason_format(&why, text, sizeof text);
        fprintf(stderr, "%s: the desk did not start: %s\n", bench, text);
        abort();
    }
    return sup;
}

void bench_db_stop_desk(arbor_pid_t sup)
{
    arbor_unlink(sup);
    arbor_sup_stop(sup, ARBOR_NORMAL);
}

uint64_t bench_db_random(uint64_t *state)
{
    *state = *state * 6364136223846793005ULL + 1442695040888963407ULL;
    return *state >> 33;
}

ticket_status_t bench_db_status(uint64_t r)
{
    unsigned p = (unsigned)(r % 1000);
    return p < 600   ? TICKET_CLOSED
           : p < 880 ? TICKET_RESOLVED
           : p < 960 ? TICKET_ASSIGNED
           : p < 995 ? TICKET_PENDING
                     : TICKET_OPEN;
}

uint64_t bench_db_queries(void)
{
    uint64_t q = bench_size("BENCH_QUERIES", 21);
    return q >= 1 && q <= BENCH_DB_QUERIES_MAX ? q : 21;
}

/*
 * The desk benchmarks' databases: each in a new directory of its own under
 * /tmp, removed with the files SQLite and the desk keep beside it; the
 * desk started on one and stopped; the generator their tickets are seeded
 * with.
 */
#ifndef ARBOR_BENCH_DB_H
#define ARBOR_BENCH_DB_H

#include <stddef.h>
#include <stdint.h>

#include "desk.h"

/* Makes a new directory /tmp/arbor-bench-NAME-XXXXXX and writes the path
 * of a database in it (DIR/desk.db, not created) into path (size bytes).
 * Aborts, saying why, if the directory cannot be made or the path does
 * not fit. */
void bench_db_make(const char *name, char *path, size_t size);

/* Removes the database at path (made by bench_db_make) with its -wal,
 * -shm, -journal and .lock files, and its directory. */
void bench_db_remove(const char *path);

/* The database a benchmark keeps across its repetitions: on the first call
 * (path is ""), bench_db_make, and bench_db_remove when the program exits;
 * later calls leave path as it is. At most 8 such databases. */
void bench_db_kept(const char *name, char *path, size_t size);

/* How many timed calls make a desk benchmark's median: BENCH_QUERIES,
 * 21 unless given, and 21 when it is not 1 to BENCH_DB_QUERIES_MAX. */
#define BENCH_DB_QUERIES_MAX 201
uint64_t bench_db_queries(void);

/* Starts the desk of cfg, linked to the caller; aborts, saying so for
 * bench (the benchmark's name), if it does not start. */
arbor_pid_t bench_db_start_desk(const char *bench, const desk_config_t *cfg);

/* Stops the desk sup, started by bench_db_start_desk, and waits for it. */
void bench_db_stop_desk(arbor_pid_t sup);

/* The next number of a deterministic generator (a 64-bit LCG's top 31
 * bits), so that every run seeds the same tickets. */
uint64_t bench_db_random(uint64_t *state);

/* A ticket's status from a random r, by the shares of an old desk:
 * closed 60%, resolved 28%, assigned 8%, pending 3.5%, open 0.5%. */
ticket_status_t bench_db_status(uint64_t r);

#endif

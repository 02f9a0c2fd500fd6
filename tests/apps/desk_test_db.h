/*
 * The desk tests' databases: a path under /tmp that names the test and
 * its process, and its removal with every file SQLite and the desk keep
 * beside it (-wal, -shm, -journal, and the desk's .lock).
 */
#ifndef ARBOR_DESK_TEST_DB_H
#define ARBOR_DESK_TEST_DB_H

#include <stddef.h>

/* Writes /tmp/arbor-PROGRAM-WHAT-PID.db into path (size bytes); fails the
 * test if it does not fit. */
void desk_test_db_path(char *path, size_t size, const char *program, const char *what);

/* Removes the database at path and the files beside it; a file that is
 * not there is no error. */
void desk_test_db_remove(const char *path);

#endif

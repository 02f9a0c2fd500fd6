#include "desk_test_db.h"

#include <stdio.h>
#include <unistd.h>

#include "test.h"

void desk_test_db_path(char *path, size_t size, const char *program, const char *what)
{
    int n = snprintf(path, size, "/tmp/arbor-%s-%s-%d.db", program, what, (int)getpid());
    if (n < 0 || (size_t)n >= size)
        arbor_test_fail(__FILE__, __LINE__, "the database path for %s %s does not fit in %zu bytes",
                        program, what, size);
}

void desk_test_db_remove(const char *path)
{
    static const char *const beside[] = {"", "-wal", "-shm", "-journal", ".lock"};
    for (size_t i = 0; i < sizeof beside / sizeof beside[0]; i++) {
        char file[512];
        if (snprintf(file, sizeof file, "%s%s", path, beside[i]) < (int)sizeof file)
            unlink(file);
    }
}

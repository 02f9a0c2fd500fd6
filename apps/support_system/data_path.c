#include "data_path.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Creates directory path and the missing ones above it (mode 0700): 0, or
 * -1 with errno set. An existing directory is fine. */
static int make_dirs(const char *path)
{
    char buf[PATH_MAX];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (char *p = buf + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char end = *p;
        *p = '\0';
        if (mkdir(buf, 0700) != 0 && errno != EEXIST)
            return -1;
        *p = end;
        if (!end)
            break;
    }
    struct stat st;
    if (stat(buf, &st) != 0)
        return -1;
    if (!S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        return -1;
    }
    return 0;
}

int desk_default_db_path(char *out, size_t size, char *why, size_t why_size)
{
    char dir[PATH_MAX];
    const char *xdg = getenv("XDG_DATA_HOME"), *home = getenv("HOME");
    int n;
    if (xdg && xdg[0] == '/')
        n = snprintf(dir, sizeof dir, "%s/arbor-desk", xdg);
    else if (home && home[0] == '/')
        n = snprintf(dir, sizeof dir, "%s/.local/share/arbor-desk", home);
    else {
        snprintf(why, why_size,
                 "no --db given, and neither XDG_DATA_HOME nor HOME is an absolute path to keep"
                 " the default database under");
        return -1;
    }
    if (n >= (int)sizeof dir) {
        snprintf(why, why_size, "the default data directory's path is too long");
        return -1;
    }
    if (make_dirs(dir) != 0) {
        snprintf(why, why_size, "cannot create the data directory %s: %s", dir, strerror(errno));
        return -1;
    }
    if (snprintf(out, size, "%s/%s", dir, DESK_DEFAULT_DB_NAME) >= (int)size) {
        snprintf(why, why_size, "the default database's path is too long");
        return -1;
    }
    return 0;
}

int desk_absolute_path(const char *path, char *out, size_t size)
{
    const char *slash = strrchr(path, '/');
    const char *name = slash ? slash + 1 : path;
    char dir[PATH_MAX], resolved[PATH_MAX];
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == path)
        snprintf(dir, sizeof dir, "/");
    else if (snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path) >= (int)sizeof dir) {
        errno = ENAMETOOLONG;
        return -1;
    }
    if (!realpath(dir, resolved))
        return -1;
    bool root = strcmp(resolved, "/") == 0;
    if (snprintf(out, size, "%s%s%s", resolved, root ? "" : "/", name) >= (int)size) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return 0;
}

bool desk_same_file(const char *a, const char *b)
{
    char pa[PATH_MAX], pb[PATH_MAX];
    if (desk_absolute_path(a, pa, sizeof pa) == 0 && desk_absolute_path(b, pb, sizeof pb) == 0 &&
        strcmp(pa, pb) == 0)
        return true;
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

bool desk_db_own_file(const char *db, const char *path)
{
    static const char *const suffixes[] = {"", "-wal", "-shm", "-journal", ".lock"};
    char name[PATH_MAX];
    for (size_t i = 0; i < sizeof suffixes / sizeof *suffixes; i++)
        if (snprintf(name, sizeof name, "%s%s", db, suffixes[i]) < (int)sizeof name &&
            desk_same_file(path, name))
            return true;
    return false;
}

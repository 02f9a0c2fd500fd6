/*
 * Where the desk's data is: the default database under the user's data
 * directory (XDG Base Directory), and paths made absolute so that the desk
 * can say which file it opened.
 */
#ifndef SUPPORT_DATA_PATH_H
#define SUPPORT_DATA_PATH_H

#include <stdbool.h>
#include <stddef.h>

/* The file name of the default database, in DATA_HOME/arbor-desk/. */
#define DESK_DEFAULT_DB_NAME "desk.db"

/* The default database's path: $XDG_DATA_HOME/arbor-desk/desk.db, or, when
 * XDG_DATA_HOME is unset, empty or relative (the XDG specification says to
 * ignore it then), $HOME/.local/share/arbor-desk/desk.db. Creates the
 * directories that are missing (mode 0700). Returns 0 with the path in
 * out, or -1 with a sentence in why that names the directory and the
 * reason. */
int desk_default_db_path(char *out, size_t size, char *why, size_t why_size);

/* path as an absolute path, in out: its directory resolved by realpath
 * (symbolic links, "." and ".."), its last name as it is (the file need
 * not exist). Returns 0, or -1 with errno set (the directory does not
 * exist, or the result is longer than size). */
int desk_absolute_path(const char *path, char *out, size_t size);

/* Whether paths a and b name one file: the same absolute path
 * (desk_absolute_path: neither need exist) or, when both exist, one file
 * under two names (a link). */
bool desk_same_file(const char *a, const char *b);

/* Whether path names the database at db or a file beside it: SQLite's
 * -wal, -shm and -journal, and the desk's .lock (desk.c). Writing there
 * (a backup, the notification log) would write over the live database or
 * its log; a -wal file that a checkpoint left empty even opens as an
 * empty database. */
bool desk_db_own_file(const char *db, const char *path);

#endif

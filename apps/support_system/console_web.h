/*
 * What the desk's console (main.c) adds for the web interface: the
 * --http option, the lines printed at start (where the web listens, a
 * warning off loopback, the first admin's sign-in link), and the commands
 * that manage who may sign in: admin-add NAME and password-reset NAME.
 */
#ifndef SUPPORT_CONSOLE_WEB_H
#define SUPPORT_CONSOLE_WEB_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "web/web.h"

#define WEB_DEFAULT_HOST "127.0.0.1"
#define WEB_DEFAULT_PORT 4000

/* Parses --http's ADDR:PORT ("127.0.0.1:4000", "[::1]:0", "0.0.0.0:8080";
 * port 0: any free one) into host (size bytes) and *port. Prints why to
 * stderr and returns false when it is not one. */
bool console_web_option(const char *value, char *host, size_t size, uint16_t *port);

/* The dashboard's folder: given (--web-root) when not NULL; else the one
 * `make install` puts beside the installed program
 * (BINDIR/../share/arbor/support_system/web), when this program runs from
 * there; else the source tree's apps/support_system/web/static (a build
 * tree's program). Written to out (size bytes). */
void console_web_root(const char *given, char *out, size_t size);

/* True for a loopback address (127.0.0.0/8, ::1, localhost). */
bool console_web_loopback(const char *host);

/* Prints, to out, where the web listens (and a warning when host is not
 * loopback, or when root holds no index.html: the API still answers) and,
 * on a database without an admin, the one-time sign-in link for the first
 * admin. Process only (it asks the Store). */
void console_web_announce(FILE *out, const web_t *web, const char *host, const char *root);

/* admin-add NAME, password-reset NAME: argv[1] is the name; the password
 * is read next, without echo at a terminal (asked twice), or as the next
 * line of standard input when it is not a terminal. admin-add puts NAME
 * on the roster if need be and makes it an admin; password-reset sets the
 * password of an agent, keeps its role (agent when it had none), and
 * signs its web sessions out. Answered as the console answers (json). */
void console_admin_add(bool json, int argc, const char *const *argv);
void console_password_reset(bool json, int argc, const char *const *argv);

/* For admin-add or password-reset refused before its password was read:
 * when the password comes as the next line of standard input (not a
 * terminal, where it would have been asked for), that line is read and
 * forgotten, so that it never runs as a command nor shows in an answer. */
void console_skip_password(void);

/* Whether the command line starts with admin-add or password-reset (their
 * password is read next), whether or not it splits into words. */
bool console_reads_password(const char *line);

#endif

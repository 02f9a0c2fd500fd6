/*
 * What the applications' consoles share: reading lines without blocking a
 * scheduler, JSON and text output, and a walk of a supervision tree.
 */
#ifndef APPS_CONSOLE_H
#define APPS_CONSOLE_H

#include <arbor.h>
#include <cjson/cJSON.h>
#include <stdbool.h>

/* Sets the character locale from the environment (LC_ALL, LC_CTYPE,
 * LANG), so that the line editor takes non-ASCII characters; where that
 * locale is not UTF-8 (C, POSIX, unset), C.UTF-8: the consoles read and
 * write UTF-8. Installs the signal handlers: SIGTERM asks the program to
 * stop (console_read_line then returns NULL, and console_stop_signal()
 * says which signal); SIGINT,
 * when standard input is a terminal, cancels the line being typed (the
 * prompt is shown again), and otherwise asks to stop, as SIGTERM does.
 * Both are blocked in this thread, and so in every thread the runtime
 * starts: they are taken only while the console waits for input (one
 * that comes while a command runs is taken when it is done; a program
 * stuck in a command is ended by SIGKILL only). Call it once, in the main
 * thread, before the runtime starts. */
void console_init(void);

/* Reads one line from standard input on the blocking pool: the calling
 * process waits, schedulers keep running. Whatever stdout holds is flushed
 * first. prompt NULL: a plain read that writes nothing to stdout (scripts,
 * --json). Otherwise prompt is shown, and when standard input is a terminal
 * and a line editor (libedit or readline) is built in, the line can be
 * edited and earlier ones recalled (Up arrow). A line is read whole,
 * whatever its length: one line is one command. Ctrl-C at the terminal
 * drops the line being typed and reads another. Returns the line without
 * its line ending, malloc'd (the caller free()s it), with its length in
 * bytes in *len (more than strlen when it holds a NUL byte); NULL at end
 * of input, when a signal asked the program to stop (console_stop_signal)
 * or when console_read_abandon was called. Process only. */
char *console_read_line(const char *prompt, size_t *len);

/* Makes the console_read_line in progress, and every later one, return
 * NULL at once, as at end of input: for a program that must stop while its
 * console waits for a line. Any thread, any process. */
void console_read_abandon(void);

/* Whether console_read_abandon was called. */
bool console_read_abandoned(void);

/* The signal (SIGTERM, SIGINT) that asked the program to stop, or 0. */
int console_stop_signal(void);

/* For a program without a console: waits on the blocking pool until a
 * signal asks it to stop (SIGTERM, or SIGINT: Ctrl-C) or
 * console_read_abandon is called. Process only. */
void console_wait_stop(void);

/* Checks a line read by console_read_line (len bytes): NULL when it is
 * valid UTF-8 without NUL bytes, otherwise a sentence saying which byte is
 * wrong (in a per-thread buffer). */
const char *console_check_line(const char *line, size_t len);

/* A JSON string of s; bytes of s that are not valid UTF-8 (text stored
 * before it was checked) become U+FFFD, so the output is always JSON. */
cJSON *console_json_text(const char *s);

/* A command line split into words. */
typedef struct console_words {
    int argc;
    const char **argv; /* argv[argc] is NULL; owned by tok */
    struct tokenizer *tok;
} console_words_t;

/* Splits line into words as a shell does (libedit's tokenizer): blanks
 * separate words; "..." and '...' quote (so "Acme Corp" is one word and ""
 * an empty one); a backslash escapes the next character. Returns NULL, or a
 * sentence saying what is wrong (a quote left open), and then w holds no
 * words. Free with console_words_free(). */
const char *console_split(const char *line, console_words_t *w);
void console_words_free(console_words_t *w);

/* True when standard input is a terminal (prompts are shown then). */
bool console_interactive(void);

/* Prints obj as one line of JSON and deletes it. */
void console_print_json(cJSON *obj);

/* {"ok":true, ...extra's members} (extra is consumed; may be NULL). */
cJSON *console_ok_json(cJSON *extra);

/* Answers a command: with json, one JSON line ({"ok":true,...extra} or the
 * error object); otherwise text (or "** (code) message"). extra is
 * consumed; text may be NULL. */
void console_ok(bool json, cJSON *extra, const char *text);
void console_fail(bool json, const char *code, const char *message);

/* {"ok":false,"error":{"code":code,"message":message}} */
cJSON *console_error_json(const char *code, const char *message);

/* The tree under supervisor sup (named name, dynamic or not) as JSON:
 * {"name","pid","kind","children":[{"id","pid","status","restarts",...}]}.
 * Each supervisor's children are read from the table of supervisors
 * (arbor_sup_children_snapshot()), not asked for: a busy supervisor does
 * not delay the drawing. */
cJSON *console_tree_json(arbor_pid_t sup, const char *name, bool dynamic);

/* The same tree, drawn as text on stdout. */
void console_tree_print(arbor_pid_t sup, const char *name, bool dynamic);
/* Prints a tree made by console_tree_json (and perhaps annotated: a node's
 * "note" string is printed after its status). */
void console_tree_print_json(const cJSON *tree);

/* Parses a command-line number: all of s, decimal digits alone (no blank
 * or sign), within [min, max].
 * Otherwise prints "PROGRAM: OPTION 'S': expected a number from MIN to
 * MAX" to stderr and returns false. */
bool console_option_number(const char *program, const char *option, const char *s, long long min,
                           long long max, long long *out);

/* Formats pid as "<0.N.G>" into a static per-thread buffer. */
const char *console_pid(arbor_pid_t pid);

/* Parses a pid as console_pid formats it, with or without the angle
 * brackets ("<0.19.1>" or "0.19.1"), into *pid. False when s is not one
 * (it must format back to the text given). Says nothing of whether the
 * process is alive. */
bool console_pid_parse(const char *s, arbor_pid_t *pid);

/* Sends pid the exit signal kill and answers what it was, read just
 * before: {"killed": PID, "name": ..., "label": ...}, and the same in
 * *info (name "" and label NULL when it had none). The console's `kill`
 * and the web's POST /api/processes/:pid/kill. */
cJSON *console_kill(arbor_pid_t pid, arbor_process_info_t *info);

#endif

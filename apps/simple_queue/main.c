/*
 * simple_queue: the course's SimpleQueue application and its console (the
 * course's `iex -S mix`).
 *
 *   defmodule SimpleQueue.Application do
 *     def start(_type, _args) do
 *       children = [{SimpleQueue, [1, 2, 3]}]
 *       opts = [strategy: :one_for_one, name: SimpleQueue.Supervisor]
 *       Supervisor.start_link(children, opts)
 *     end
 *   end
 *
 * is application_start() below. The console reads commands from standard
 * input; with --json every command answers with exactly one JSON line.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/console.h"
#include "command.h"
#include "simple_queue.h"

#define SUPERVISOR_NAME "SimpleQueue.Supervisor"

static const char usage[] =
    "usage: simple_queue [OPTION]...\n"
    "Starts SimpleQueue under its supervisor with [1, 2, 3] and reads commands.\n"
    "Options:\n"
    "  --json           answer each command with one line of JSON (for scripts)\n"
    "  --schedulers N   scheduler threads (1 to 1024; default: one per CPU)\n"
    "  -h, --help       this text\n"
    "Commands:\n"
    "  enqueue N   add N at the back          dequeue   take the front value\n"
    "  queue       show the queue             crash     kill the queue process\n"
    "  tree        the supervision tree       help      this list\n"
    "  quit        stop (also at end of input, and on SIGTERM)\n"
    "Words are split as in a shell (quotes, backslash); a line is one command;\n"
    "Ctrl-C at the terminal cancels the line being typed.\n"
    "Exit status: 0 after quit, 1 if it cannot start, 2 for a bad option, 3 when\n"
    "the supervisor gave up (SimpleQueue crashed more than 3 times in 5 s).\n";

typedef struct options {
    bool json;
    unsigned schedulers;
} options_t;

/* The supervisor's restart intensity (OTP's default): a fourth crash of
 * SimpleQueue within 5 s makes it give up, and then the application
 * stops, as an OTP application whose top supervisor exits does. */
static const arbor_sup_flags_t sup_flags = ARBOR_SUP_FLAGS_DEFAULT;

/* The exit status when the supervisor gave up (1: could not start, 2: a
 * bad option). */
enum { EXIT_SUPERVISOR_GAVE_UP = 3 };

static int application_start(arbor_pid_t *sup)
{
    static const simple_queue_init_t initial = {3, {1, 2, 3}};
    arbor_child_spec_t children[] = {{.id = SIMPLE_QUEUE_NAME,
                                      .start = simple_queue_start,
                                      .arg = (void *)&initial,
                                      .arg_size = sizeof initial}};
    arbor_sup_opts_t opts = {.name = SUPERVISOR_NAME, .link = true};
    return arbor_sup_start(&sup_flags, children, 1, &opts, sup, NULL);
}

/* ---- answers ------------------------------------------------------------------ */

static void fail(const options_t *o, const char *code, const char *message)
{
    console_fail(o->json, code, message);
}

static void fail_rc(const options_t *o, int rc)
{
    fail(o, rc == ARBOR_ENOPROC ? "noproc" : arbor_err_name(rc), arbor_strerror(rc));
}

static void ok(const options_t *o, cJSON *extra, const char *text)
{
    console_ok(o->json, extra, text);
}

/* v as a JSON number written digit for digit: cJSON holds numbers as
 * doubles, which are exact only up to 2^53. */
static cJSON *json_integer(long v)
{
    char digits[24];
    snprintf(digits, sizeof digits, "%ld", v);
    return cJSON_CreateRaw(digits);
}

/* The whole queue, however long: a queue the server holds is never cut
 * short in the answer (the server itself has no limit but memory). */
static void cmd_queue(const options_t *o)
{
    long *values;
    size_t n;
    int rc = simple_queue_list(&values, &n);
    if (rc) {
        fail_rc(o, rc);
        return;
    }
    /* "[", then at most 20 digits and a sign, and ", ", per value, then "]". */
    char *text = malloc(n * 23 + 3);
    if (!text) {
        free(values);
        fail_rc(o, ARBOR_ENOMEM);
        return;
    }
    cJSON *j = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(j, "queue");
    size_t len = (size_t)sprintf(text, "[");
    for (size_t i = 0; i < n; i++) {
        cJSON_AddItemToArray(arr, json_integer(values[i]));
        len += (size_t)sprintf(text + len, "%s%ld", i ? ", " : "", values[i]);
    }
    sprintf(text + len, "]");
    ok(o, j, text);
    free(text);
    free(values);
}

static void cmd_enqueue(const options_t *o, long v)
{
    int rc = simple_queue_enqueue(v);
    if (rc)
        fail_rc(o, rc);
    else
        ok(o, NULL, ":ok");
}

static void cmd_dequeue(const options_t *o)
{
    long v;
    int rc = simple_queue_dequeue(&v);
    if (rc == ARBOR_ENOENT) {
        fail(o, "empty", "the queue is empty");
        return;
    }
    if (rc) {
        fail_rc(o, rc);
        return;
    }
    cJSON *j = cJSON_CreateObject();
    cJSON_AddItemToObject(j, "value", json_integer(v));
    char text[32];
    snprintf(text, sizeof text, "%ld", v);
    ok(o, j, text);
}

/* ---- the supervisor's end ------------------------------------------------------- */

static bool exit_from(const arbor_msg_t *m, void *arg)
{
    return m->tag == ARBOR_TAG_EXIT &&
           ((const arbor_exit_msg_t *)m->data)->from == *(arbor_pid_t *)arg;
}

/* Waits up to ms for the supervisor's exit signal (the console traps
 * exits); when it came, describes it in why and returns true. */
static bool supervisor_ended(arbor_pid_t sup, int64_t ms, char *why, size_t size)
{
    arbor_msg_t *m;
    if (arbor_receive_match(exit_from, &sup, ms, &m) != 0)
        return false;
    arbor_reason_t r = ((const arbor_exit_msg_t *)m->data)->reason;
    arbor_msg_free(m);
    if (r.kind == ARBOR_EXIT_SHUTDOWN) {
        snprintf(why, size,
                 SUPERVISOR_NAME " gave up: " SIMPLE_QUEUE_NAME
                                 " crashed more than %d times in %d s",
                 sup_flags.max_restarts, sup_flags.max_seconds);
    } else {
        char reason[128];
        arbor_reason_format(&r, reason, sizeof reason);
        snprintf(why, size, SUPERVISOR_NAME " stopped: %s", reason);
    }
    return true;
}

/* Says plainly on stderr why SimpleQueue stops, and stops it. */
_Noreturn static void stop_without_supervisor(const char *why)
{
    fflush(stdout);
    fprintf(stderr, "simple_queue: %s; stopping\n", why);
    arbor_exit(arbor_error("supervisor_gave_up"));
}

/* Why the supervisor ended, when a command found out: the console stops
 * once the command's line is freed (stopping inside it would leak it). */
static char supervisor_gone[160];

/* Kills the queue and waits (up to a second) until its supervisor has
 * started the new one, so the next command finds it. When that crash was
 * one too many, the answer says the supervisor gave up, and SimpleQueue
 * stops after this command. */
static void cmd_crash(const options_t *o)
{
    arbor_pid_t old = arbor_whereis(SIMPLE_QUEUE_NAME), now = ARBOR_NOPID;
    arbor_pid_t sup = arbor_whereis(SUPERVISOR_NAME);
    if (!old) {
        fail(o, "noproc", "SimpleQueue is not running");
        return;
    }
    arbor_exit_pid(old, ARBOR_KILL);
    char why[160];
    for (int i = 0; i < 1000; i++) {
        now = arbor_whereis(SIMPLE_QUEUE_NAME);
        if (now && now != old)
            break;
        if (supervisor_ended(sup, 1, why, sizeof why)) {
            fail(o, "supervisor_gave_up", why);
            snprintf(supervisor_gone, sizeof supervisor_gone, "%s", why);
            return;
        }
    }
    if (!now || now == old) {
        fail(o, "not_restarted", "the supervisor did not restart SimpleQueue");
        return;
    }
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "killed", console_pid(old));
    cJSON_AddStringToObject(j, "restarted", console_pid(now));
    char text[96];
    snprintf(text, sizeof text, "killed %s; the supervisor restarted it as %s", console_pid(old),
             console_pid(now));
    ok(o, j, text);
}

static void cmd_tree(const options_t *o, arbor_pid_t sup)
{
    if (o->json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddItemToObject(j, "tree", console_tree_json(sup, SUPERVISOR_NAME, false));
        ok(o, j, NULL);
    } else {
        console_tree_print(sup, SUPERVISOR_NAME, false);
    }
}

/* Runs one split command line (decoded by command.c); returns false for
 * quit. */
static bool dispatch(const options_t *o, arbor_pid_t sup, int argc, const char **argv)
{
    sq_command_t cmd;
    const char *code, *message;
    if (!sq_command_decode(argc, argv, &cmd, &code, &message)) {
        fail(o, code, message);
        return true;
    }
    switch (cmd.kind) {
    case SQ_CMD_BLANK:
        if (o->json)
            ok(o, NULL, NULL); /* a blank line: one line in, one answer out */
        break;
    case SQ_CMD_QUIT:
        ok(o, NULL, "bye");
        return false;
    case SQ_CMD_QUEUE:
        cmd_queue(o);
        break;
    case SQ_CMD_ENQUEUE:
        cmd_enqueue(o, cmd.value);
        break;
    case SQ_CMD_DEQUEUE:
        cmd_dequeue(o);
        break;
    case SQ_CMD_CRASH:
        cmd_crash(o);
        break;
    case SQ_CMD_TREE:
        cmd_tree(o, sup);
        break;
    case SQ_CMD_HELP: {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "help", usage);
        ok(o, j, usage);
        break;
    }
    }
    return true;
}

/* Runs one command line; returns false for quit. */
static bool run_command(const options_t *o, arbor_pid_t sup, const char *line, size_t len)
{
    console_words_t ws;
    const char *why = console_check_line(line, len);
    if (why) {
        fail(o, "bad_input", why);
        return true;
    }
    why = console_split(line, &ws);
    if (why) {
        fail(o, "bad_argument", why);
        return true;
    }
    bool more = dispatch(o, sup, ws.argc, ws.argv);
    console_words_free(&ws);
    return more;
}

static void root(void *arg)
{
    const options_t *o = arg;
    arbor_pid_t sup;
    arbor_trap_exit(true); /* the supervisor's end is a message to answer */
    int rc = application_start(&sup);
    if (rc) {
        fprintf(stderr, "simple_queue: cannot start: %s\n", arbor_strerror(rc));
        arbor_exit(arbor_error("start failed"));
    }
    const char *prompt = console_interactive() && !o->json ? "simple_queue> " : NULL;
    if (prompt)
        printf("SimpleQueue started with [1, 2, 3]; type help for the commands.\n");
    for (;;) {
        size_t len;
        char *line = console_read_line(prompt, &len);
        bool more = line && run_command(o, sup, line, len);
        free(line);
        fflush(stdout);
        if (supervisor_gone[0] || supervisor_ended(sup, 0, supervisor_gone, sizeof supervisor_gone))
            stop_without_supervisor(supervisor_gone);
        if (!more)
            break;
    }
    if (console_stop_signal())
        fprintf(stderr, "simple_queue: %s: stopping\n", strsignal(console_stop_signal()));
    arbor_sup_stop(sup, ARBOR_NORMAL);
}

/* Says on stderr what is wrong with the command line; returns 2, the exit
 * status for it. */
static int bad_usage(const char *what, const char *why)
{
    fprintf(stderr, "simple_queue: %s: %s (simple_queue --help lists the options)\n", what, why);
    return 2;
}

/* Reads the command line into *o. Returns -1 to go on, or the exit status
 * to stop with: 0 after --help, 2 for a bad option (said on stderr). */
static int parse_options(int argc, char **argv, options_t *o)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        long long n;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(usage, stdout);
            return 0;
        } else if (strcmp(a, "--json") == 0) {
            o->json = true;
        } else if (strcmp(a, "--schedulers") == 0) {
            if (i + 1 >= argc)
                return bad_usage(a, "expected a number from 1 to 1024 after it");
            if (!console_option_number("simple_queue", a, argv[++i], 1, 1024, &n))
                return 2;
            o->schedulers = (unsigned)n;
        } else {
            return bad_usage(a, a[0] == '-' ? "unknown option"
                                            : "unexpected argument (it takes only options)");
        }
    }
    return -1;
}

int main(int argc, char **argv)
{
    options_t o = {0};
    int status = parse_options(argc, argv, &o);
    if (status >= 0)
        return status;
    console_init();
    arbor_config_t cfg = {.schedulers = o.schedulers};
    arbor_reason_t why;
    int rc = arbor_run(&cfg, root, &o, &why);
    if (rc) {
        fprintf(stderr, "simple_queue: %s\n", arbor_strerror(rc));
        return 1;
    }
    if (why.kind == ARBOR_EXIT_NORMAL)
        return 0;
    return strcmp(why.detail, "supervisor_gave_up") == 0 ? EXIT_SUPERVISOR_GAVE_UP : 1;
}

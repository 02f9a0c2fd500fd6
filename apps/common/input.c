/*
 * The consoles' input: lines read on the blocking pool, whole whatever
 * their length, with a line editor at a terminal or plainly from a pipe;
 * Ctrl-C at the terminal cancels the line being typed; SIGTERM (and SIGINT
 * when standard input is not a terminal) asks the program to stop; and
 * another process can make a read return as at end of input
 * (console_read_abandon).
 *
 * Every wait for input is a ppoll() on standard input and on a wake-up
 * pipe, to which the signal handlers and console_read_abandon write a
 * byte, and the flags say why the wait ended. SIGINT and SIGTERM are
 * blocked in every thread (console_init blocks them before the runtime
 * starts its threads) but in that ppoll, which unblocks them while it
 * waits: a signal is handled by the reader, in its wait (or at the next
 * one, when it came while a command ran), never in a scheduler's sleep,
 * which it would not end. The line editor reads its characters through
 * edit_getc, which waits the same way.
 */
#define _GNU_SOURCE /* pipe2 */
#include "console.h"

#include <errno.h>
#include <fcntl.h>
#include <langinfo.h>
#include <locale.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <wchar.h>

#if defined(CONSOLE_LIBEDIT)
#include <editline/readline.h>
#define LINE_EDITOR
#elif defined(CONSOLE_READLINE)
#include <readline/history.h>
#include <readline/readline.h>
#define LINE_EDITOR
#endif

_Static_assert(ATOMIC_INT_LOCK_FREE == 2 && ATOMIC_BOOL_LOCK_FREE == 2,
               "the signal handlers need lock-free atomics");

/* The wake-up pipe: [0] is polled, [1] written by handlers (non-blocking:
 * a full pipe already wakes the reader). -1 before console_init. */
static int wake[2] = {-1, -1};

/* Set by the handlers, on whichever thread the signal arrives, and read by
 * the reader: lock-free atomics, safe in a handler. */
static atomic_int cancel_pending; /* Ctrl-C at the terminal */
static atomic_int stop_signal;    /* the signal that asked to stop, or 0 */
static atomic_bool abandoned;     /* console_read_abandon was called */

static void wake_up(void)
{
    int saved = errno;
    ssize_t n = write(wake[1], "!", 1);
    (void)n; /* full: the reader is woken already */
    errno = saved;
}

static void on_cancel(int sig)
{
    (void)sig;
    atomic_store(&cancel_pending, 1);
    wake_up();
}

static void on_stop(int sig)
{
    atomic_store(&stop_signal, sig);
    wake_up();
}

/* Installs handler for sig. */
static void handle(int sig, void (*handler)(int))
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(sig, &sa, NULL);
}

typedef enum { INPUT_READY, INPUT_CANCEL, INPUT_STOP } input_wait_t;

static void drain_wake(void)
{
    char buf[64];
    while (read(wake[0], buf, sizeof buf) > 0) {
    }
}

/* Waits until standard input is readable (with_stdin) or something asks
 * the reader to cancel the line or to stop. */
static input_wait_t wait_input(bool with_stdin)
{
    sigset_t open; /* this thread's mask, SIGINT and SIGTERM let through */
    pthread_sigmask(SIG_SETMASK, NULL, &open);
    sigdelset(&open, SIGINT);
    sigdelset(&open, SIGTERM);
    for (;;) {
        if (atomic_load(&stop_signal) || atomic_load(&abandoned))
            return INPUT_STOP;
        if (atomic_exchange(&cancel_pending, 0))
            return INPUT_CANCEL;
        struct pollfd p[2] = {{.fd = wake[0], .events = POLLIN},
                              {.fd = STDIN_FILENO, .events = POLLIN}};
        int n = ppoll(p, with_stdin ? 2 : 1, NULL, &open);
        if (n < 0 && errno != EINTR)
            return INPUT_READY; /* the read says what is wrong */
        if (n > 0 && p[0].revents)
            drain_wake();
        else if (n > 0 && p[1].revents)
            return INPUT_READY;
    }
}

typedef struct {
    const char *prompt; /* NULL: none */
    char *line;         /* malloc'd, NULL at end of input (or when cancelled) */
    size_t len;
    bool cancelled; /* Ctrl-C: the line was dropped */
} line_req_t;

/* What has been read from standard input and not yet returned as a line. */
static struct {
    char *buf;
    size_t len, cap;
    bool eof;
} in;

/* The first line in `in` (or its rest at end of input), taken out of it;
 * NULL when `in` holds no whole line. */
static char *take_line(size_t *len)
{
    char *nl = in.len ? memchr(in.buf, '\n', in.len) : NULL;
    if (!nl && !(in.eof && in.len))
        return NULL;
    size_t n = nl ? (size_t)(nl - in.buf) : in.len;
    char *line = malloc(n + 1);
    if (!line)
        return NULL;
    memcpy(line, in.buf, n);
    line[n] = '\0';
    size_t used = n + (nl ? 1 : 0);
    memmove(in.buf, in.buf + used, in.len - used);
    in.len -= used;
    *len = n;
    return line;
}

/* Blocking pool: shows the prompt, if any, and reads one whole line,
 * however long. */
static void *read_plain(void *arg)
{
    line_req_t *r = arg;
    if (r->prompt) {
        fputs(r->prompt, stdout);
        fflush(stdout);
    }
    for (;;) {
        r->line = take_line(&r->len);
        if (r->line || in.eof)
            return r;
        input_wait_t w = wait_input(true);
        if (w == INPUT_STOP)
            return r;
        if (w == INPUT_CANCEL) {
            in.len = 0; /* the terminal has dropped the line typed so far */
            r->cancelled = true;
            return r;
        }
        if (in.cap - in.len < 4096) {
            size_t cap = in.cap ? 2 * in.cap : 8192;
            char *more = realloc(in.buf, cap);
            if (!more)
                return r;
            in.buf = more;
            in.cap = cap;
        }
        ssize_t n = read(STDIN_FILENO, in.buf + in.len, in.cap - in.len);
        if (n > 0)
            in.len += (size_t)n;
        else if (n == 0 || (errno != EINTR && errno != EAGAIN))
            in.eof = true;
    }
}

#ifdef LINE_EDITOR
/* Why edit_getc last returned EOF. */
static input_wait_t edit_interrupted;

/* The line editor's input: one character (libedit: a code point, decoded
 * from UTF-8 in the locale; readline: a byte), or EOF at end of input or
 * when the line is cancelled or the reader must stop. */
static int edit_getc(FILE *f)
{
    (void)f;
    mbstate_t state;
    memset(&state, 0, sizeof state);
    for (;;) {
        input_wait_t w = wait_input(true);
        if (w != INPUT_READY) {
            edit_interrupted = w;
#ifdef CONSOLE_READLINE
            if (w == INPUT_CANCEL) {
                /* readline takes an empty line; read_edited drops it. */
                rl_replace_line("", 0);
                rl_point = 0;
                return '\n';
            }
#endif
            return EOF;
        }
        unsigned char c;
        ssize_t n = read(STDIN_FILENO, &c, 1);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n <= 0)
            return EOF;
#ifdef CONSOLE_LIBEDIT
        /* libedit takes characters: decode one, byte by byte; a byte that
         * cannot start or continue one is dropped, as libedit does. */
        wchar_t wc;
        size_t got = mbrtowc(&wc, (const char *)&c, 1, &state);
        if (got == (size_t)-2)
            continue;
        if (got == (size_t)-1) {
            memset(&state, 0, sizeof state);
            continue;
        }
        return (int)wc;
#else
        return c;
#endif
    }
}

/* Blocking pool: reads one line with the line editor (prompt shown, editing,
 * history), however long; a line with more than blanks joins the history. */
static void *read_edited(void *arg)
{
    line_req_t *r = arg;
    edit_interrupted = INPUT_READY;
    r->line = readline(r->prompt);
    if (edit_interrupted == INPUT_CANCEL) {
        free(r->line);
        r->line = NULL;
        r->cancelled = true;
        return r;
    }
    if (!r->line)
        return r;
    r->len = strlen(r->line);
    if (r->line[strspn(r->line, " \t")])
        add_history(r->line);
    return r;
}
#endif

typedef void *(*reader_t)(void *);

/* The reader for this prompt: the line editor for a prompt on a terminal
 * when one is built in, the plain reader otherwise. */
static reader_t reader_for(const char *prompt)
{
#ifdef LINE_EDITOR
    if (prompt && console_interactive())
        return read_edited;
#endif
    return read_plain;
}

char *console_read_line(const char *prompt, size_t *len)
{
    fflush(stdout);
    reader_t reader = reader_for(prompt);
    for (;;) {
        line_req_t r = {prompt, NULL, 0, false};
        if (arbor_blocking(reader, &r, NULL) != 0)
            return NULL;
        if (r.cancelled) {
            /* A terminal's own line discipline has echoed ^C already. */
            if (prompt)
                fputs(reader == read_plain ? "\n" : "^C\n", stdout);
            fflush(stdout);
            continue;
        }
        if (!r.line)
            return NULL;
        while (r.len && (r.line[r.len - 1] == '\n' || r.line[r.len - 1] == '\r'))
            r.line[--r.len] = '\0';
        *len = r.len;
        return r.line;
    }
}

static void *wait_stop(void *arg)
{
    (void)arg;
    while (wait_input(false) != INPUT_STOP)
        atomic_store(&stop_signal, SIGINT); /* without a console, Ctrl-C stops too */
    return NULL;
}

void console_wait_stop(void)
{
    arbor_blocking(wait_stop, NULL, NULL);
}

void console_read_abandon(void)
{
    atomic_store(&abandoned, true);
    if (wake[1] >= 0)
        wake_up();
}

bool console_read_abandoned(void)
{
    return atomic_load(&abandoned);
}

int console_stop_signal(void)
{
    return atomic_load(&stop_signal);
}

void console_init(void)
{
    /* Character classes only: numbers keep printing with '.' whatever the
     * locale, which JSON needs. */
    const char *set = setlocale(LC_CTYPE, "");
    if (!set || strcmp(nl_langinfo(CODESET), "UTF-8") != 0)
        setlocale(LC_CTYPE, "C.UTF-8");
    if (wake[0] < 0 && pipe2(wake, O_CLOEXEC | O_NONBLOCK) != 0)
        wake[0] = wake[1] = -1; /* then signals keep their default actions */
    if (wake[0] < 0)
        return;
    handle(SIGTERM, on_stop);
    handle(SIGINT, console_interactive() ? on_cancel : on_stop);
    sigset_t reader_only;
    sigemptyset(&reader_only);
    sigaddset(&reader_only, SIGINT);
    sigaddset(&reader_only, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &reader_only, NULL);
#ifdef LINE_EDITOR
    /* The editor reads through edit_getc, and leaves the signals to the
     * handlers above (libedit's own would send SIGINT again to the whole
     * process group). Read when the editor starts, at the first line. */
    rl_getc_function = edit_getc;
    rl_catch_signals = 0;
#endif
}

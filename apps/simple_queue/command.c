#include "command.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static bool refuse(const char **code, const char **message, const char *c, const char *m)
{
    *code = c;
    *message = m;
    return false;
}

bool sq_command_decode(int argc, const char *const *argv, sq_command_t *cmd, const char **code,
                       const char **message)
{
    static const struct {
        const char *name;
        sq_command_kind_t kind;
    } commands[] = {{"queue", SQ_CMD_QUEUE},     {"enqueue", SQ_CMD_ENQUEUE},
                    {"dequeue", SQ_CMD_DEQUEUE}, {"crash", SQ_CMD_CRASH},
                    {"tree", SQ_CMD_TREE},       {"help", SQ_CMD_HELP}};
    if (argc == 0) {
        *cmd = (sq_command_t){SQ_CMD_BLANK, 0};
        return true;
    }
    const char *name = argv[0], *arg = argc > 1 ? argv[1] : NULL;
    bool quit = strcmp(name, "quit") == 0 || strcmp(name, "exit") == 0;
    size_t i = 0, n = sizeof commands / sizeof commands[0];
    while (i < n && strcmp(name, commands[i].name) != 0)
        i++;
    /* The name first, as the desk's console does: "foo bar" is an unknown
     * command, "queue x" a known one given too many arguments. */
    if (i == n && !quit)
        return refuse(code, message, "unknown_command", "unknown command (try: help)");
    if (argc > 2 || (arg && strcmp(name, "enqueue") != 0))
        return refuse(code, message, "bad_argument",
                      strcmp(name, "enqueue") == 0 ? "enqueue takes one integer: enqueue N"
                                                   : "too many arguments (try: help)");
    if (quit) {
        *cmd = (sq_command_t){SQ_CMD_QUIT, 0};
        return true;
    }
    long value = 0;
    if (commands[i].kind == SQ_CMD_ENQUEUE) {
        char *end;
        errno = 0;
        value = arg ? strtol(arg, &end, 10) : 0;
        /* end == arg: no digits at all, as in an empty word ("" or a
         * trailing backslash), which strtol reads as 0. */
        if (!arg || end == arg || *end || errno)
            return refuse(code, message, "bad_argument", "enqueue takes one integer: enqueue N");
    }
    *cmd = (sq_command_t){commands[i].kind, value};
    return true;
}

/*
 * Fuzz target: SimpleQueue's decoding of a console line into a command, as
 * apps/simple_queue/main.c runs it: the line check, the split into words,
 * sq_command_decode (command.c), and the --json answer of a refusal. The
 * runtime is not started. The input is one or more lines.
 *
 * Invariants:
 *   - one line in, one answer out: each line decodes to one command or
 *     one refusal, whose --json answer is one line of valid UTF-8 JSON
 *     that parses back, with a code of the documented few;
 *   - a refused line changes nothing: the command is left as it was;
 *   - the command is the one the first word names, with no argument but
 *     enqueue's one (extra words are refused, quit's too);
 *   - enqueue's value is exactly the word's integer (strtol, all of the
 *     word, no overflow), and written back as digits it decodes to the
 *     same value (an integer stays exact);
 *   - decoding is pure: the same words decode the same way again.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../apps/common/console.h"
#include "../../apps/simple_queue/command.h"
#include "fuzz_util.h"

static const struct {
    const char *name;
    sq_command_kind_t kind;
} names[] = {{"quit", SQ_CMD_QUIT},       {"exit", SQ_CMD_QUIT},       {"queue", SQ_CMD_QUEUE},
             {"enqueue", SQ_CMD_ENQUEUE}, {"dequeue", SQ_CMD_DEQUEUE}, {"crash", SQ_CMD_CRASH},
             {"tree", SQ_CMD_TREE},       {"help", SQ_CMD_HELP}};

static void check_refusal(const char *code, const char *message)
{
    FUZZ_ASSERT(strcmp(code, "bad_argument") == 0 || strcmp(code, "unknown_command") == 0 ||
                    strcmp(code, "bad_input") == 0,
                "refused with an undocumented code '%s'", code);
    FUZZ_ASSERT(message && message[0], "refused (%s) without a message", code);
    FUZZ_ASSERT(!strchr(message, '\n'), "the text answer is more than one line: %s", message);
    fuzz_check_json_answer(console_error_json(code, message));
}

static void check_command(const sq_command_t *cmd, int argc, const char **argv)
{
    sq_command_kind_t kind = SQ_CMD_BLANK;
    if (argc > 0) {
        size_t i = 0;
        while (strcmp(names[i].name, argv[0]) != 0)
            i++; /* accepted, so it is there */
        kind = names[i].kind;
    }
    FUZZ_ASSERT(cmd->kind == kind, "'%s' decoded to kind %d", argc ? argv[0] : "", cmd->kind);
    FUZZ_ASSERT(argc == (kind == SQ_CMD_ENQUEUE ? 2
                         : kind == SQ_CMD_BLANK ? 0
                                                : 1),
                "'%s' accepted with %d words", argv[0], argc);
    if (kind != SQ_CMD_ENQUEUE)
        return;
    char *end;
    errno = 0;
    long v = strtol(argv[1], &end, 10);
    FUZZ_ASSERT(end != argv[1] && !*end && !errno, "enqueue accepted '%s'", argv[1]);
    FUZZ_ASSERT(cmd->value == v, "enqueue '%s' gave %ld", argv[1], cmd->value);
    /* Written back as the answer writes it, the value decodes to itself. */
    char digits[24];
    snprintf(digits, sizeof digits, "%ld", cmd->value);
    const char *words[] = {"enqueue", digits, NULL};
    sq_command_t back;
    const char *code = NULL, *message = NULL;
    FUZZ_ASSERT(sq_command_decode(2, words, &back, &code, &message), "enqueue %s refused (%s)",
                digits, message);
    FUZZ_ASSERT(back.kind == SQ_CMD_ENQUEUE && back.value == cmd->value, "enqueue %s gave %ld",
                digits, back.value);
}

static void decode_line(const char *line, size_t len, void *arg)
{
    (void)arg;
    console_words_t ws;
    const char *refusal, *why;
    if (!fuzz_line_words(line, len, &ws, &refusal, &why)) {
        check_refusal(refusal, why);
        return;
    }
    sq_command_t cmd = {(sq_command_kind_t)-1, -1}, before = cmd, again = cmd;
    const char *code = NULL, *message = NULL, *code_again = NULL, *message_again = NULL;
    bool ok = sq_command_decode(ws.argc, ws.argv, &cmd, &code, &message);
    if (ok) {
        check_command(&cmd, ws.argc, ws.argv);
    } else {
        FUZZ_ASSERT(cmd.kind == before.kind && cmd.value == before.value,
                    "a refused line (%s) changed the command", code);
        check_refusal(code, message);
    }
    bool ok_again = sq_command_decode(ws.argc, ws.argv, &again, &code_again, &message_again);
    FUZZ_ASSERT(ok_again == ok, "decoded %d, then %d", ok, ok_again);
    if (ok)
        FUZZ_ASSERT(again.kind == cmd.kind && again.value == cmd.value,
                    "the same words, another command");
    else
        FUZZ_ASSERT(code == code_again && message == message_again, "refused as %s, then as %s",
                    code, code_again);
    console_words_free(&ws);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_each_line(data, size, decode_line, NULL);
    return 0;
}

/*
 * SimpleQueue's console commands: a command line's words decoded into one
 * command. Pure functions, no runtime: the console (main.c) runs the
 * command, the fuzzer (tests/fuzz/fuzz_simple_queue_command.c) checks the
 * decoding.
 */
#ifndef SIMPLE_QUEUE_COMMAND_H
#define SIMPLE_QUEUE_COMMAND_H

#include <stdbool.h>

typedef enum {
    SQ_CMD_BLANK, /* no words: a blank line */
    SQ_CMD_QUIT,
    SQ_CMD_QUEUE,
    SQ_CMD_ENQUEUE,
    SQ_CMD_DEQUEUE,
    SQ_CMD_CRASH,
    SQ_CMD_TREE,
    SQ_CMD_HELP,
} sq_command_kind_t;

typedef struct sq_command {
    sq_command_kind_t kind;
    long value; /* enqueue */
} sq_command_t;

/* Decodes a command line split into words (argv[0] the command, argc 0 for
 * a blank line) into *cmd. enqueue takes exactly one integer (all of the
 * word, decimal, within a long; an empty word is no integer); the others
 * (quit and exit too) take none: extra words are refused, never ignored. Returns true, or false
 * with *code and *message (static strings: the console's answer) set and *cmd unchanged. Any
 * thread; touches nothing else. */
bool sq_command_decode(int argc, const char *const *argv, sq_command_t *cmd, const char **code,
                       const char **message);

#endif

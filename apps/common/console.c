#include "console.h"

#include <errno.h>
#include <histedit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "utf8.h"

const char *console_check_line(const char *line, size_t len)
{
    static __thread char why[96];
    size_t bad;
    if (utf8_check(line, len, NULL, &bad))
        return NULL;
    if (line[bad] == '\0')
        snprintf(why, sizeof why, "the line holds a NUL byte (at byte %zu); nothing was done",
                 bad + 1);
    else
        snprintf(why, sizeof why,
                 "the line is not valid UTF-8 (byte %zu is 0x%02x); nothing was done", bad + 1,
                 (unsigned char)line[bad]);
    return why;
}

cJSON *console_json_text(const char *s)
{
    size_t len = strlen(s), bad;
    if (utf8_check(s, len, NULL, &bad))
        return cJSON_CreateString(s);
    /* Text stored before it was checked: each byte that is not part of a
     * character becomes U+FFFD, so the output stays JSON. */
    char *copy = malloc(3 * len + 1), *o = copy;
    if (!copy)
        return cJSON_CreateString("");
    for (size_t i = 0; i < len;) {
        size_t n = utf8_char_length((const unsigned char *)s + i, len - i);
        if (n) {
            memcpy(o, s + i, n);
            o += n;
            i += n;
        } else {
            memcpy(o, "\xef\xbf\xbd", 3);
            o += 3;
            i++;
        }
    }
    *o = '\0';
    cJSON *j = cJSON_CreateString(copy);
    free(copy);
    return j;
}

const char *console_split(const char *line, console_words_t *w)
{
    w->argc = 0;
    w->argv = NULL;
    w->tok = tok_init(NULL);
    if (!w->tok)
        return "out of memory";
    int argc;
    const char **argv;
    int rc = tok_str(w->tok, line, &argc, &argv);
    if (rc != 0) {
        console_words_free(w);
        return rc > 0 ? "a quote is not closed (quote with \"...\" or '...')"
                      : "the line cannot be split into words";
    }
    w->argc = argc;
    w->argv = argv;
    return NULL;
}

void console_words_free(console_words_t *w)
{
    if (w->tok)
        tok_end(w->tok);
    w->tok = NULL;
    w->argc = 0;
    w->argv = NULL;
}

bool console_interactive(void)
{
    return isatty(STDIN_FILENO);
}

void console_print_json(cJSON *obj)
{
    char *text = cJSON_PrintUnformatted(obj);
    if (text) {
        puts(text);
        cJSON_free(text);
    }
    fflush(stdout);
    cJSON_Delete(obj);
}

cJSON *console_ok_json(cJSON *extra)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddTrueToObject(o, "ok");
    while (extra && extra->child) {
        cJSON *item = cJSON_DetachItemViaPointer(extra, extra->child);
        cJSON_AddItemToObject(o, item->string, item);
    }
    cJSON_Delete(extra);
    return o;
}

cJSON *console_error_json(const char *code, const char *message)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddFalseToObject(o, "ok");
    cJSON *e = cJSON_AddObjectToObject(o, "error");
    cJSON_AddStringToObject(e, "code", code);
    cJSON_AddStringToObject(e, "message", message);
    return o;
}

void console_ok(bool json, cJSON *extra, const char *text)
{
    if (json) {
        console_print_json(console_ok_json(extra));
        return;
    }
    if (text)
        puts(text);
    cJSON_Delete(extra);
}

void console_fail(bool json, const char *code, const char *message)
{
    if (json)
        console_print_json(console_error_json(code, message));
    else
        printf("** (%s) %s\n", code, message);
}

bool console_option_number(const char *program, const char *option, const char *s, long long min,
                           long long max, long long *out)
{
    /* Digits alone: strtoll would also take blanks and a sign before them. */
    bool digits = s[0] >= '0' && s[0] <= '9';
    char *end = (char *)s;
    errno = 0;
    long long v = digits ? strtoll(s, &end, 10) : 0;
    if (!digits || *end || errno || v < min || v > max) {
        fprintf(stderr, "%s: %s '%s': expected a number from %lld to %lld\n", program, option, s,
                min, max);
        return false;
    }
    *out = v;
    return true;
}

const char *console_pid(arbor_pid_t pid)
{
    static __thread char buf[4][32];
    static __thread int next;
    char *b = buf[next++ % 4];
    arbor_pid_format(pid, b, sizeof buf[0]);
    return b;
}

bool console_pid_parse(const char *s, arbor_pid_t *pid)
{
    unsigned slot, gen;
    bool angled = s[0] == '<';
    if (sscanf(s + angled, "0.%u.%u", &slot, &gen) != 2)
        return false;
    *pid = ((arbor_pid_t)gen << 32) | slot;
    char back[32], given[32];
    arbor_pid_format(*pid, back, sizeof back);
    snprintf(given, sizeof given, "%s%s%s", angled ? "" : "<", s, angled ? "" : ">");
    return strcmp(back, given) == 0;
}

static const char *status_name(arbor_child_status_t s)
{
    return s == ARBOR_CHILD_RUNNING      ? "running"
           : s == ARBOR_CHILD_RESTARTING ? "restarting"
                                         : "undefined";
}

/* The children of sup, read from the table of supervisors
 * (arbor_sup_children_snapshot(): no call, so a supervisor busy restarting
 * a child does not hold the drawing up, and a refresh sends no supervisor
 * a message), in the calling process's own memory (arbor_free it): the
 * walk below reads other processes while it holds them, and a process
 * killed meanwhile (a web connection, when the web restarts) leaks
 * nothing. */
static int children_of(arbor_pid_t sup, arbor_child_info_t **kids, size_t *n)
{
    arbor_child_info_t *got;
    int rc = arbor_sup_children_snapshot(sup, &got, n);
    if (rc)
        return rc;
    *kids = arbor_alloc(*n ? *n * sizeof *got : 1);
    if (*kids)
        memcpy(*kids, got, *n * sizeof *got);
    free(got);
    return *kids ? 0 : ARBOR_ENOMEM;
}

cJSON *console_tree_json(arbor_pid_t sup, const char *name, bool dynamic)
{
    cJSON *node = cJSON_CreateObject();
    cJSON_AddStringToObject(node, "name", name);
    cJSON_AddStringToObject(node, "pid", console_pid(sup));
    cJSON_AddStringToObject(node, "kind", dynamic ? "dynamic_supervisor" : "supervisor");
    cJSON *list = cJSON_AddArrayToObject(node, "children");
    arbor_child_info_t *kids;
    size_t n;
    if (children_of(sup, &kids, &n) != 0)
        return node;
    /* A Supervisor's list is newest first; draw in start order. */
    for (size_t i = n; i-- > 0;) {
        const arbor_child_info_t *k = &kids[i];
        cJSON *c;
        if (k->type == ARBOR_SUPERVISOR_CHILD && k->pid) {
            arbor_process_info_t info;
            bool dyn = arbor_process_info(k->pid, &info) == 0 &&
                       strcmp(info.label, "dynamic_supervisor") == 0;
            c = console_tree_json(k->pid, k->id[0] ? k->id : "dynamic_supervisor", dyn);
        } else {
            c = cJSON_CreateObject();
            /* A dynamic child has no id: name it by its behaviour. */
            arbor_process_info_t info;
            const char *child_name = k->id;
            if (!child_name[0])
                child_name = k->pid && arbor_process_info(k->pid, &info) == 0 && info.label[0]
                                 ? info.label
                                 : "child";
            cJSON_AddStringToObject(c, "name", child_name);
            cJSON_AddStringToObject(c, "pid", k->pid ? console_pid(k->pid) : "undefined");
            cJSON_AddStringToObject(c, "kind", "worker");
        }
        cJSON_AddStringToObject(c, "status", status_name(k->status));
        cJSON_AddNumberToObject(c, "restarts", k->restarts);
        cJSON_AddItemToArray(list, c);
    }
    arbor_free(kids);
    return node;
}

static void print_node(const cJSON *node, const char *prefix, bool last, bool root)
{
    const char *name = cJSON_GetStringValue(cJSON_GetObjectItem(node, "name"));
    const char *pid = cJSON_GetStringValue(cJSON_GetObjectItem(node, "pid"));
    const char *kind = cJSON_GetStringValue(cJSON_GetObjectItem(node, "kind"));
    const cJSON *status = cJSON_GetObjectItem(node, "status");
    const cJSON *restarts = cJSON_GetObjectItem(node, "restarts");
    printf("%s%s%s %s", prefix, root ? "" : (last ? "└── " : "├── "), name, pid);
    if (strcmp(kind, "worker") != 0)
        printf(" (%s)", kind);
    if (status)
        printf(", %s, %d restart%s", cJSON_GetStringValue(status), (int)restarts->valuedouble,
               restarts->valuedouble == 1 ? "" : "s");
    const char *note = cJSON_GetStringValue(cJSON_GetObjectItem(node, "note"));
    if (note)
        printf(" (%s)", note);
    putchar('\n');
    const cJSON *children = cJSON_GetObjectItem(node, "children");
    char sub[256];
    snprintf(sub, sizeof sub, "%s%s", prefix, root ? "" : (last ? "    " : "│   "));
    int n = cJSON_GetArraySize(children);
    for (int i = 0; i < n; i++)
        print_node(cJSON_GetArrayItem(children, i), sub, i == n - 1, false);
}

void console_tree_print_json(const cJSON *tree)
{
    print_node(tree, "", true, true);
    fflush(stdout);
}

void console_tree_print(arbor_pid_t sup, const char *name, bool dynamic)
{
    cJSON *tree = console_tree_json(sup, name, dynamic);
    console_tree_print_json(tree);
    cJSON_Delete(tree);
}

cJSON *console_kill(arbor_pid_t pid, arbor_process_info_t *info)
{
    *info = (arbor_process_info_t){.name = ""};
    arbor_process_info(pid, info);
    arbor_exit_pid(pid, ARBOR_KILL);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "killed", console_pid(pid));
    cJSON_AddItemToObject(j, "name", console_json_text(info->name));
    cJSON_AddItemToObject(j, "label", console_json_text(info->label ? info->label : ""));
    return j;
}

/*
 * The console's part of the web interface (console_web.h).
 */
#include "console_web.h"

#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "../common/console.h"
#include "credentials.h"
#include "desk.h"
#include "web/sessions.h"

bool console_web_option(const char *value, char *host, size_t size, uint16_t *port)
{
    const char *colon = strrchr(value, ':');
    const char *h = value;
    size_t hlen = colon ? (size_t)(colon - value) : 0;
    if (hlen >= 2 && h[0] == '[' && h[hlen - 1] == ']') {
        h++;
        hlen -= 2;
    }
    char *end = NULL;
    long p = colon && colon[1] ? strtol(colon + 1, &end, 10) : -1;
    if (!colon || hlen == 0 || hlen >= size || !end || *end || p < 0 || p > 65535) {
        fprintf(stderr,
                "support_system: --http wants ADDRESS:PORT (127.0.0.1:4000; port 0 for any"
                " free one), not '%s'\n",
                value);
        return false;
    }
    snprintf(host, size, "%.*s", (int)hlen, h);
    *port = (uint16_t)p;
    return true;
}

void console_web_root(const char *given, char *out, size_t size)
{
    if (given) {
        snprintf(out, size, "%s", given);
        return;
    }
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            char installed[8192];
            snprintf(installed, sizeof installed, "%s/%s", exe, ARBOR_WEB_ROOT_FROM_BINDIR);
            char index[8300];
            snprintf(index, sizeof index, "%s/index.html", installed);
            if (access(index, R_OK) == 0) {
                snprintf(out, size, "%s", installed);
                return;
            }
        }
    }
    snprintf(out, size, "%s", ARBOR_WEB_ROOT_SOURCE);
}

bool console_web_loopback(const char *host)
{
    return strncmp(host, "127.", 4) == 0 || strcmp(host, "::1") == 0 ||
           strcmp(host, "localhost") == 0;
}

void console_web_announce(FILE *out, const web_t *web, const char *host, const char *root)
{
    bool v6 = strchr(host, ':') != NULL;
    fprintf(out, "Web desk on http://%s%s%s:%u/\n", v6 ? "[" : "", host, v6 ? "]" : "",
            (unsigned)web_port(web));
    if (!console_web_loopback(host))
        fprintf(out,
                "warning: the web desk listens on %s, where other machines can reach it;"
                " it has no TLS, so passwords and session cookies cross the network in the"
                " clear\n",
                host);
    char index[4200];
    snprintf(index, sizeof index, "%s/index.html", root);
    if (access(index, R_OK) != 0)
        fprintf(out,
                "warning: no dashboard in %s (no index.html there): the API answers, the"
                " page does not; give its folder with --web-root\n",
                root);
    char link[256];
    int rc = web_first_admin_link(web, link, sizeof link);
    if (rc == 1)
        fprintf(out,
                "No admin yet: open %s to choose the first admin's name and password (valid"
                " once, for 15 minutes), or use the command admin-add NAME\n",
                link);
    else if (rc < 0)
        fprintf(out, "warning: cannot tell whether the desk has an admin: %s\n",
                arbor_strerror(rc));
    fflush(out);
}

/* Reads one line without echo when standard input is a terminal. */
static char *read_secret(const char *prompt, size_t *len)
{
    struct termios was, quiet;
    bool tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &was) == 0;
    if (tty) {
        fputs(prompt, stdout);
        fflush(stdout);
        quiet = was;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        quiet.c_lflag |= ICANON;
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    }
    char *line = console_read_line(NULL, len);
    if (tty) {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &was);
        putchar('\n');
    }
    return line;
}

static void forget(char *secret, size_t len)
{
    if (secret) {
        explicit_bzero(secret, len);
        free(secret);
    }
}

/* The new password: read (twice at a terminal), checked. NULL after
 * answering why not. The caller forgets it. */
static char *new_password(bool json, const char *name, size_t *len)
{
    char prompt[TICKET_NAME_SIZE + 32];
    snprintf(prompt, sizeof prompt, "New password for %s: ", name);
    char *pw = read_secret(prompt, len);
    if (!pw) {
        console_fail(json, "no_password", "no password given (end of input)");
        return NULL;
    }
    ticket_error_t err = {.code = ""};
    if (strlen(pw) != *len || !password_acceptable(pw, &err)) {
        console_fail(json, err.code[0] ? err.code : "bad_password",
                     err.code[0] ? err.message : "the password contains a NUL byte");
        forget(pw, *len);
        return NULL;
    }
    if (isatty(STDIN_FILENO)) {
        size_t again_len;
        char *again = read_secret("Again: ", &again_len);
        bool same = again && strcmp(again, pw) == 0;
        forget(again, again_len);
        if (!same) {
            console_fail(json, "bad_password", "the two passwords differ; nothing was changed");
            forget(pw, *len);
            return NULL;
        }
    }
    return pw;
}

/* The NAME argument, checked as an agent's name. */
static const char *name_argument(bool json, int argc, const char *const *argv)
{
    ticket_error_t err = {.code = ""};
    if (argc != 2) {
        char usage[64];
        snprintf(usage, sizeof usage, "usage: %s NAME", argv[0]);
        console_fail(json, "bad_argument", usage);
        return NULL;
    }
    if (!ticket_check_text("name", argv[1], TICKET_NAME_MAX, false, &err)) {
        console_fail(json, err.code, err.message);
        return NULL;
    }
    return argv[1];
}

bool console_reads_password(const char *line)
{
    line += strspn(line, " \t");
    static const char *const cmds[] = {"admin-add", "password-reset"};
    for (size_t i = 0; i < 2; i++) {
        size_t n = strlen(cmds[i]);
        if (strncmp(line, cmds[i], n) == 0 &&
            (line[n] == '\0' || line[n] == ' ' || line[n] == '\t'))
            return true;
    }
    return false;
}

void console_skip_password(void)
{
    if (isatty(STDIN_FILENO))
        return;
    size_t len = 0;
    char *line = console_read_line(NULL, &len);
    forget(line, len);
}

static void set_password(bool json, int argc, const char *const *argv, bool admin)
{
    const char *name = name_argument(json, argc, argv);
    if (!name) {
        console_skip_password();
        return;
    }
    ticket_error_t err = {.code = ""};
    store_agent_t known;
    bool on_roster = agents_lookup(name, &known, NULL) == 0;
    if (on_roster)
        name = known.name; /* as the roster spells it: ALICE is alice */
    if (admin && !on_roster && !ticket_check_name("name", name, false, &err)) {
        console_fail(json, err.code, err.message); /* before the password is asked for */
        console_skip_password();
        return;
    }
    if (!admin && !on_roster) {
        char message[TICKET_NAME_SIZE + 32];
        snprintf(message, sizeof message, "there is no agent called %s", name);
        console_fail(json, "unknown_agent", message);
        console_skip_password();
        return;
    }
    size_t len;
    char *pw = new_password(json, name, &len);
    if (!pw)
        return;
    int rc = 0;
    if (admin && !on_roster)
        rc = agents_add(name, &err);
    if (rc == 0)
        rc = credentials_set(name, pw, admin ? ROLE_ADMIN : ROLE_AGENT, !admin, &err);
    forget(pw, len);
    if (rc) {
        console_fail(json, err.code, err.message);
        return;
    }
    if (!admin)
        sessions_close_agent(name);
    credential_role_t role = ROLE_ADMIN;
    credentials_role(name, &role);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddItemToObject(j, "agent", console_json_text(name));
    cJSON_AddStringToObject(j, "role", credential_role_name(role));
    bool inactive = on_roster && !known.active;
    cJSON_AddBoolToObject(j, "active", !inactive);
    char text[2 * TICKET_NAME_SIZE + 128];
    if (inactive) /* the password is kept, for when they are activated */
        snprintf(text, sizeof text,
                 "%s is %s, but deactivated: they can sign in once agent-activate %s", name,
                 admin ? "an admin" : "given the password", name);
    else
        snprintf(text, sizeof text,
                 admin ? "%s is an admin and can sign in to the web desk"
                       : "the password of %s is set; their sessions are signed out",
                 name);
    console_ok(json, j, text);
}

void console_admin_add(bool json, int argc, const char *const *argv)
{
    set_password(json, argc, argv, true);
}

void console_password_reset(bool json, int argc, const char *const *argv)
{
    set_password(json, argc, argv, false);
}

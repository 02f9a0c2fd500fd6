#include "agents.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"

enum { PICK = 1, KNOWN, ADD };

typedef struct {
    int rc;
    ticket_error_t err;
} add_reply_t;

typedef struct roster {
    agents_policy_t policy;
    bool durable;
    size_t n, next;
    char (*names)[TICKET_NAME_SIZE]; /* process memory */
} roster_t;

static bool push(roster_t *r, const char *name)
{
    char(*names)[TICKET_NAME_SIZE] = arbor_realloc(r->names, (r->n + 1) * sizeof *names);
    if (!names)
        return false;
    r->names = names;
    snprintf(r->names[r->n++], TICKET_NAME_SIZE, "%s", name);
    return true;
}

static arbor_gs_ret_t agents_init(void **state, void *arg)
{
    const agents_config_t *cfg = arg;
    roster_t *r = arbor_calloc(1, sizeof *r);
    if (!r)
        return arbor_gs_halt(arbor_error("out of memory"));
    r->policy = cfg->policy;
    r->durable = cfg->durable;
    *state = r;
    if (!r->durable)
        return push(r, "alice") && push(r, "bob") ? arbor_gs_ok()
                                                  : arbor_gs_halt(arbor_error("out of memory"));
    char *list, *save = NULL;
    int rc = store_agents(&list);
    if (rc)
        return arbor_gs_halt(arbor_error("cannot load agents: %s", arbor_err_name(rc)));
    for (char *line = strtok_r(list, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
        push(r, line);
    free(list);
    return arbor_gs_ok();
}

static bool on_roster(const roster_t *r, const char *name)
{
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->names[i], name) == 0)
            return true;
    return false;
}

/* The agent with the fewest assigned tickets (ties: roster order). */
static size_t least_loaded(const roster_t *r)
{
    size_t best = 0, best_load = SIZE_MAX;
    ticket_status_t assigned = TICKET_ASSIGNED;
    for (size_t i = 0; i < r->n; i++) {
        ticket_t *t;
        size_t n = 0;
        if (store_list(&assigned, r->names[i], 100000, &t, &n) == 0)
            free(t);
        if (n < best_load) {
            best = i;
            best_load = n;
        }
    }
    return best;
}

static arbor_gs_ret_t agents_call(void **state, const arbor_msg_t *req, arbor_from_t from)
{
    roster_t *r = *state;
    const char *name = req->data;
    int rc = ARBOR_ENOENT;
    switch (req->tag) {
    case PICK: {
        if (!r->n)
            return arbor_gs_reply(&rc, sizeof rc);
        size_t i = r->policy == POLICY_LEAST_LOADED ? least_loaded(r) : r->next++ % r->n;
        return arbor_gs_reply(r->names[i], TICKET_NAME_SIZE);
    }
    case KNOWN:
        rc = on_roster(r, name) ? 0 : ARBOR_ENOENT;
        return arbor_gs_reply(&rc, sizeof rc);
    case ADD: {
        ticket_error_t err = {.code = ""};
        if (r->durable) {
            rc = store_agent_add(name, &err);
        } else if (on_roster(r, name)) {
            rc = ARBOR_EEXIST;
            snprintf(err.code, sizeof err.code, "agent_exists");
            snprintf(err.message, sizeof err.message, "there is already an agent called %s", name);
        } else {
            rc = 0;
        }
        if (!rc && !push(r, name))
            rc = ARBOR_ENOMEM;
        add_reply_t out = {rc, err};
        return arbor_gs_reply(&out, sizeof out);
    }
    }
    return arbor_gs_halt(arbor_error("bad agents request"));
}

static const arbor_gen_server_t agents_gs = {
    .label = "SupportSystem.Agents", .init = agents_init, .handle_call = agents_call};

int agents_start(void *config, arbor_pid_t *pid, arbor_reason_t *err)
{
    arbor_gs_opts_t o = {.link = true, .name = AGENTS_NAME};
    return arbor_gs_start(&agents_gs, config, &o, pid, err);
}

static int call(uint64_t tag, const char *name, arbor_msg_t **m)
{
    char buf[TICKET_NAME_SIZE] = "";
    if (name)
        snprintf(buf, sizeof buf, "%s", name);
    arbor_pid_t pid = arbor_whereis(AGENTS_NAME);
    return pid ? arbor_gs_call(pid, tag, buf, sizeof buf, 30000, m, NULL) : ARBOR_ENOPROC;
}

int agents_pick(char name[TICKET_NAME_SIZE])
{
    arbor_msg_t *m;
    int rc = call(PICK, NULL, &m);
    if (rc)
        return rc;
    if (m->size == sizeof(int))
        rc = *(int *)m->data;
    else
        snprintf(name, TICKET_NAME_SIZE, "%s", (const char *)m->data);
    arbor_msg_free(m);
    return rc;
}

bool agents_known(const char *name)
{
    arbor_msg_t *m;
    if (call(KNOWN, name, &m))
        return false;
    bool known = *(int *)m->data == 0;
    arbor_msg_free(m);
    return known;
}

int agents_add(const char *name, ticket_error_t *err)
{
    if (!ticket_check_text("agent", name, TICKET_NAME_MAX, false, err))
        return ARBOR_EINVAL;
    arbor_msg_t *m;
    int rc = call(ADD, name, &m);
    if (rc)
        return rc;
    add_reply_t out = *(const add_reply_t *)m->data;
    arbor_msg_free(m);
    if (out.rc && err)
        *err = out.err;
    return out.rc;
}

/*
 * The course's closing exercise, "Building a Supervised Customer Support
 * Ticket System", steps 2 to 5 in one program: the TicketWorker, the
 * TicketSupervisor, the application supervisor and the iex session.
 * (apps/support_system is the full desk built from the same steps,
 * docs/walkthrough.md.)
 *
 *   defmodule SupportSystem.TicketWorker do
 *     use GenServer
 *     def start_link(ticket), do: GenServer.start_link(__MODULE__, ticket)
 *     def init(ticket), do: {:ok, ticket}
 *     def handle_call(:assign_agent, _from, ticket) ... Map.put(ticket, :status, :assigned)
 *     def handle_call(:resolve, _from, ticket) ... Map.put(ticket, :status, :resolved)
 *   end
 *
 *   defmodule SupportSystem.TicketSupervisor do
 *     use DynamicSupervisor
 *     def start_link(options \\ []),
 *       do: DynamicSupervisor.start_link(__MODULE__, options, name: __MODULE__)
 *     def init(_options), do: DynamicSupervisor.init(strategy: :one_for_one)
 *     def create_ticket(ticket_details) do
 *       spec = {SupportSystem.TicketWorker, ticket_details}
 *       DynamicSupervisor.start_child(__MODULE__, spec)
 *     end
 *   end
 *
 *   children = [SupportSystem.TicketSupervisor]
 *   opts = [strategy: :one_for_one, name: SupportSystem.Supervisor]
 *   Supervisor.start_link(children, opts)
 *
 *   iex> ticket_details = %{id: 1, description: "Login issue", status: :open}
 *   iex> {:ok, pid} = SupportSystem.TicketSupervisor.create_ticket(ticket_details)
 *   iex> GenServer.call(pid, :assign_agent)
 *   iex> GenServer.call(pid, :resolve)
 */
#include <stdio.h>
#include <string.h>

#include "course.h"

/* ---- SupportSystem.TicketWorker ------------------------------------------------- */

enum { ASSIGN_AGENT = 1, RESOLVE, GET };
typedef enum { OPEN, ASSIGNED, RESOLVED } status_t;
static const char *const status_names[] = {":open", ":assigned", ":resolved"};

typedef struct ticket {
    int id;
    char description[48];
    status_t status;
} ticket_t;

static arbor_gs_ret_t ticket_init(void **state, void *arg)
{
    ticket_t *t = arbor_alloc(sizeof *t); /* freed with the process */
    if (!t)
        return arbor_gs_halt(arbor_error("out of memory"));
    *t = *(const ticket_t *)arg;
    *state = t;
    return arbor_gs_ok();
}

static arbor_gs_ret_t ticket_call(void **state, const arbor_msg_t *req, arbor_from_t from)
{
    ticket_t *t = *state;
    switch (req->tag) {
    case ASSIGN_AGENT:
        t->status = ASSIGNED;
        return arbor_gs_reply(":ok", 4);
    case RESOLVE:
        t->status = RESOLVED;
        return arbor_gs_reply(":ok", 4);
    default:
        return arbor_gs_reply(t, sizeof *t); /* GET: a copy of the ticket */
    }
}

static const arbor_gen_server_t ticket_worker = {
    .label = "SupportSystem.TicketWorker", .init = ticket_init, .handle_call = ticket_call};

/* ---- SupportSystem.TicketSupervisor --------------------------------------------- */

#define TICKET_SUPERVISOR "SupportSystem.TicketSupervisor"

static int ticket_supervisor_start(void *options, arbor_pid_t *pid, arbor_reason_t *err)
{
    arbor_dynsup_opts_t o = ARBOR_DYNSUP_OPTS_DEFAULT; /* strategy: :one_for_one */
    o.name = TICKET_SUPERVISOR;
    o.link = true;
    return arbor_dynsup_start(&o, pid, err);
}

static int create_ticket(const ticket_t *details, arbor_pid_t *pid)
{
    arbor_child_spec_t spec = arbor_gs_child_spec(&ticket_worker, (void *)details);
    spec.arg_size = sizeof *details; /* the supervisor keeps the details */
    return arbor_dynsup_start_child(arbor_whereis(TICKET_SUPERVISOR), &spec, pid, NULL);
}

/* ---- SupportSystem.Application and the iex session ------------------------------ */

static void call(arbor_pid_t pid, const char *what, uint64_t tag)
{
    char reply[4];
    course_check(
        arbor_gs_call_into(pid, tag, NULL, 0, reply, sizeof reply, ARBOR_GS_CALL_TIMEOUT, NULL),
        what, NULL);
    ticket_t t;
    course_check(arbor_gs_call_into(pid, GET, NULL, 0, &t, sizeof t, ARBOR_GS_CALL_TIMEOUT, NULL),
                 "get the ticket", NULL);
    printf("GenServer.call(pid, %s) -> %s; the ticket is %%{id: %d, description: \"%s\", "
           "status: %s}\n",
           what, reply, t.id, t.description, status_names[t.status]);
}

static void root(void *arg)
{
    arbor_child_spec_t children[] = {{.id = TICKET_SUPERVISOR,
                                      .start = ticket_supervisor_start,
                                      .type = ARBOR_SUPERVISOR_CHILD}};
    arbor_sup_flags_t flags = ARBOR_SUP_FLAGS_DEFAULT;
    flags.strategy = ARBOR_ONE_FOR_ONE;
    arbor_sup_opts_t opts = {.name = "SupportSystem.Supervisor", .link = true};
    arbor_pid_t sup, pid;
    arbor_reason_t why;
    course_check(arbor_sup_start(&flags, children, 1, &opts, &sup, &why), "Supervisor.start_link",
                 &why);

    ticket_t details = {.id = 1, .status = OPEN};
    snprintf(details.description, sizeof details.description, "Login issue");
    course_check(create_ticket(&details, &pid), "create_ticket", NULL);
    char text[32];
    arbor_pid_format(pid, text, sizeof text);
    printf("create_ticket -> {:ok, %s}\n", text);
    call(pid, ":assign_agent", ASSIGN_AGENT);
    call(pid, ":resolve", RESOLVE);
    course_check(arbor_sup_stop(sup, ARBOR_NORMAL), "stop the application", NULL);
}

int main(void)
{
    return course_main(root);
}

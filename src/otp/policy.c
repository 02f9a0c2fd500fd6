/*
 * The supervisors' decisions, written as tables (as s6 writes its
 * supervisor): what a child's own exit means and whether it is reported,
 * and which ends of a child the supervisor stopped are what a shutdown
 * should give. Supervisor and
 * DynamicSupervisor both decide here.
 */
#include "supervision.h"

/* How a child ended, as the tables tell ends apart. */
typedef enum {
    END_NORMAL,
    END_SHUTDOWN,      /* shutdown */
    END_SHUTDOWN_INFO, /* {shutdown, _}: a shutdown reason with a detail */
    END_KILLED,
    END_OTHER,
    END_CLASSES
} end_t;

static end_t end_of(const arbor_reason_t *r)
{
    switch (r->kind) {
    case ARBOR_EXIT_NORMAL:
        return END_NORMAL;
    case ARBOR_EXIT_SHUTDOWN:
        return arbor_reason_text(r)[0] ? END_SHUTDOWN_INFO : END_SHUTDOWN;
    case ARBOR_EXIT_KILLED:
        return END_KILLED;
    default:
        return END_OTHER;
    }
}

#define R ARBOR__POLICY_RESTART
#define K ARBOR__POLICY_KEEP
#define F ARBOR__POLICY_FORGET

/*
 * A child's own exit (supervisor.erl do_restart). A transient child ends
 * cleanly with normal, shutdown or {shutdown, _}; killed is abnormal.
 *
 *   restart \ end   normal   shutdown  {shutdown,_}  killed   other
 */
static const arbor__policy_action_t on_exit[3][END_CLASSES] = {
    [ARBOR_PERMANENT] = {R, R, R, R, R},
    [ARBOR_TRANSIENT] = {K, K, K, R, R},
    [ARBOR_TEMPORARY] = {F, F, F, F, F},
};

#undef R
#undef K
#undef F

arbor__policy_action_t arbor__policy_on_exit(arbor_restart_t restart, const arbor_reason_t *reason)
{
    return on_exit[restart][end_of(reason)];
}

/*
 * Which of those exits the supervisor reports as child_terminated (an
 * error report; supervisor.erl do_restart and Elixir's DynamicSupervisor
 * maybe_restart_child): every exit of a permanent child, normal included,
 * since a permanent child is never meant to end; a transient or temporary
 * child only when it ended abnormally.
 *
 *   restart \ end   normal  shutdown  {shutdown,_}  killed  other
 */
static const bool reported[3][END_CLASSES] = {
    [ARBOR_PERMANENT] = {true, true, true, true, true},
    [ARBOR_TRANSIENT] = {false, false, false, true, true},
    [ARBOR_TEMPORARY] = {false, false, false, true, true},
};

bool arbor__policy_exit_reported(arbor_restart_t restart, const arbor_reason_t *reason)
{
    return reported[restart][end_of(reason)];
}

/*
 * The ends of a child its supervisor stopped that are not reported
 * (supervisor.erl shutdown/1 and wait_dynamic_children/5, which OTP
 * applies to static and dynamic children alike). A brutal_kill child
 * should die killed, but a child that was already ending when the kill
 * came may have ended otherwise: for a child that is not permanent,
 * shutdown, {shutdown, _} and normal are fine too. A child told to shut
 * down should end shutdown; {shutdown, _} and normal are fine for one
 * that is not permanent, and killed (its shutdown time ran out) is an
 * error. One cell differs under a DynamicSupervisor, which is Elixir's:
 * a permanent child told to shut down may end {shutdown, _} (checked on
 * the BEAM: Elixir's DynamicSupervisor is silent, OTP's supervisor
 * reports a shutdown_error).
 *
 *   supervisor, how, restart \ end   normal shutdown {shutdown,_} killed other
 */
static const bool expected[2][2][2][END_CLASSES] = {
    /* Supervisor (OTP's supervisor.erl) */ {
        /* brutal_kill */ {
            /* permanent */ {false, false, false, true, false},
            /* other     */ {true, true, true, true, false},
        },
        /* shutdown, then kill when its time runs out */
        {
            /* permanent */ {false, true, false, false, false},
            /* other     */ {true, true, true, false, false},
        },
    },
    /* DynamicSupervisor (Elixir's) */
    {
        /* brutal_kill */ {
            /* permanent */ {false, false, false, true, false},
            /* other     */ {true, true, true, true, false},
        },
        /* shutdown, then kill when its time runs out */
        {
            /* permanent */ {false, true, true, false, false},
            /* other     */ {true, true, true, false, false},
        },
    },
};

bool arbor__policy_shutdown_expected(arbor__policy_sup_t sup, int64_t shutdown,
                                     arbor_restart_t restart, const arbor_reason_t *reason)
{
    bool told = shutdown != ARBOR_BRUTAL_KILL;
    bool other = restart != ARBOR_PERMANENT;
    return expected[sup][told][other][end_of(reason)];
}

/*
 * Error codes.
 *
 * Every Arbor function that can fail returns an int: 0 on success or one of
 * the negative codes below. Nothing is reported through the global errno.
 * arbor_strerror() and arbor_err_name() turn a code into text.
 *
 * One positive value is not an error: ARBOR_IGNORED (1, gen_server.h),
 * which a start returns when the process's init chose OTP's `ignore`
 * (arbor_gs_start(), arbor_sup_start_module(), a supervisor's
 * start_child). Test for it before treating a non-zero return as a failure.
 */
#ifndef ARBOR_ERROR_H
#define ARBOR_ERROR_H

#include <errno.h>

#ifdef __cplusplus
extern "C" {
#endif

#pragma GCC visibility push(default)

/* The codes reuse errno values, negated, so that they read naturally in a
 * debugger and can be compared with -errno from system calls. */
#define ARBOR_EINVAL      (-EINVAL)      /* an argument is out of its domain */
#define ARBOR_ENOMEM      (-ENOMEM)      /* an allocation failed */
#define ARBOR_ENOPROC     (-ESRCH)       /* the process does not exist (OTP's noproc) */
#define ARBOR_ETIMEDOUT   (-ETIMEDOUT)   /* a timeout expired */
#define ARBOR_EEXIST      (-EEXIST)      /* a name or key is already taken */
#define ARBOR_ENOENT      (-ENOENT)      /* no such name, key, child or timer */
#define ARBOR_ENOTPROC    (-EPERM)       /* the function must be called from a process */
#define ARBOR_ECALLSELF   (-EDEADLK)     /* a process called itself (OTP's calling_self) */
#define ARBOR_ESHUTDOWN   (-ESHUTDOWN)   /* the runtime is stopping */
#define ARBOR_EAGAIN      (-EAGAIN)      /* a limit was reached; retrying later may work */
#define ARBOR_EBUSY       (-EBUSY)       /* the runtime is already running */
#define ARBOR_ETOOBIG     (-E2BIG)       /* a message or name is larger than allowed */
#define ARBOR_EEXIT       (-EOWNERDEAD)  /* the peer exited; its reason is reported separately */
#define ARBOR_EPRESENT    (-EALREADY)    /* a child spec with this id exists, not running */
#define ARBOR_ERUNNING    (-EISCONN)     /* the child is running */
#define ARBOR_ERESTARTING (-EINPROGRESS) /* the child is being restarted */
#define ARBOR_EMAXCHILD   (-EMLINK)      /* the supervisor has max_children children */
#define ARBOR_EACCES      (-EACCES)      /* only the owner may do this (or a privileged port) */
#define ARBOR_EWRONGKIND                                                                           \
    (-EPROTOTYPE) /* the process is not of the kind the call is for                                \
                   * (a Supervisor call to a GenServer) */
#define ARBOR_EREPLYSIZE                                                                           \
    (-EMSGSIZE) /* a reply is not of the size the caller expects                                   \
                 * (arbor_gs_call_into()) */
#define ARBOR_ECALLBACK                                                                            \
    (-ECANCELED) /* a function run inside a server failed and changed nothing                      \
                  * (arbor_gs_replace_state(); OTP's callback_failed) */

/* Network I/O (net.h). Any other failure of the system is its errno,
 * negated; arbor_strerror() and arbor_err_name() describe those too. */
#define ARBOR_ECLOSED      (-EBADF)        /* the socket is closed */
#define ARBOR_ECONNREFUSED (-ECONNREFUSED) /* nobody listens there */
#define ARBOR_ECONNRESET   (-ECONNRESET)   /* the peer reset the connection */
#define ARBOR_EPIPE        (-EPIPE)        /* the peer no longer reads */
#define ARBOR_EADDRINUSE   (-EADDRINUSE)   /* the address is taken */
#define ARBOR_EMFILE       (-EMFILE)       /* the process is out of file descriptors */
#define ARBOR_ENFILE       (-ENFILE)       /* the system is out of file descriptors */

/* Returns a static, human-readable description of err ("process does not
 * exist"); a negated errno that is not one of the codes above gets the
 * system's description. Unknown codes give "unknown error". Never returns
 * NULL. */
const char *arbor_strerror(int err);

/* Returns the code's symbolic name ("ARBOR_ENOPROC"), the errno name of
 * another negated errno ("ENETUNREACH"), or "ARBOR_UNKNOWN". Never returns
 * NULL. */
const char *arbor_err_name(int err);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif
#endif

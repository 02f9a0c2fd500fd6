#include "arbor/error.h"

#include <string.h>

#define ARBOR_ERRORS(X)                                                                            \
    X(ARBOR_EINVAL, "invalid argument")                                                            \
    X(ARBOR_ENOMEM, "out of memory")                                                               \
    X(ARBOR_ENOPROC, "process does not exist")                                                     \
    X(ARBOR_ETIMEDOUT, "timed out")                                                                \
    X(ARBOR_EEXIST, "already exists")                                                              \
    X(ARBOR_ENOENT, "not found")                                                                   \
    X(ARBOR_ENOTPROC, "must be called from a process")                                             \
    X(ARBOR_ECALLSELF, "a process called itself")                                                  \
    X(ARBOR_ESHUTDOWN, "the runtime is stopping")                                                  \
    X(ARBOR_EAGAIN, "resource limit reached")                                                      \
    X(ARBOR_EBUSY, "the runtime is already running")                                               \
    X(ARBOR_ETOOBIG, "too large")                                                                  \
    X(ARBOR_EEXIT, "the peer exited")                                                              \
    X(ARBOR_EPRESENT, "already present")                                                           \
    X(ARBOR_ERUNNING, "the child is running")                                                      \
    X(ARBOR_ERESTARTING, "the child is restarting")                                                \
    X(ARBOR_EMAXCHILD, "reached the maximum number of children")                                   \
    X(ARBOR_EACCES, "permission denied: only the owner may do this")                               \
    X(ARBOR_ECLOSED, "the socket is closed")                                                       \
    X(ARBOR_ECONNREFUSED, "connection refused")                                                    \
    X(ARBOR_ECONNRESET, "connection reset by the peer")                                            \
    X(ARBOR_EPIPE, "the peer no longer reads (broken pipe)")                                       \
    X(ARBOR_EADDRINUSE, "address already in use")                                                  \
    X(ARBOR_EMFILE, "out of file descriptors (this process)")                                      \
    X(ARBOR_ENFILE, "out of file descriptors (the system)")                                        \
    X(ARBOR_EWRONGKIND, "the process is not of the kind the call is for")                          \
    X(ARBOR_EREPLYSIZE, "the reply is not of the size the caller expects")                         \
    X(ARBOR_ECALLBACK, "a function run inside the server failed")

const char *arbor_strerror(int err)
{
#define X(code, text)                                                                              \
    if (err == (code))                                                                             \
        return text;
    ARBOR_ERRORS(X)
#undef X
    const char *sys = err < 0 ? strerrordesc_np(-err) : NULL;
    return err == 0 ? "success" : sys ? sys : "unknown error";
}

const char *arbor_err_name(int err)
{
#define X(code, text)                                                                              \
    if (err == (code))                                                                             \
        return #code;
    ARBOR_ERRORS(X)
#undef X
    const char *sys = err < 0 ? strerrorname_np(-err) : NULL;
    return err == 0 ? "0" : sys ? sys : "ARBOR_UNKNOWN";
}

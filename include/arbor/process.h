/*
 * Lightweight processes: spawning, exit signals, links, monitors, names, the
 * process allocator and introspection.
 *
 * A process is a unit of execution with its own mailbox, scheduled by the
 * runtime's scheduler threads (M:N). Two kinds exist:
 *   - a spawned process runs an entry function on a stack of its own (taken
 *     from a pool at its first run, returned when it exits);
 *   - a reactive process (arbor_spawn_reactor) runs a handler once per
 *     message and holds no stack between messages: it borrows one for each
 *     activation and keeps it only while a handler blocks (receive, sleep,
 *     arbor_blocking, a call to another process).
 * The semantics of exit signals, links and monitors are Erlang's
 * (docs/semantics.md).
 *
 * Functions marked "process only" return ARBOR_ENOTPROC (or do nothing, for
 * void functions) when called from a thread that is not running a process.
 * Everything else may be called from any thread while the runtime runs.
 */
#ifndef ARBOR_PROCESS_H
#define ARBOR_PROCESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "reason.h"
#include "runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

#pragma GCC visibility push(default)

/* A process identifier. Never reused within one run of the runtime for
 * practical purposes (a 32-bit generation per table slot). 0 is no process. */
typedef uint64_t arbor_pid_t;
#define ARBOR_NOPID ((arbor_pid_t)0)

/* A monitor reference, unique within a run. 0 is no reference. */
typedef uint64_t arbor_ref_t;

/* Writes "<0.SLOT.GEN>" into buf (NUL-terminated when size > 0); returns the
 * length the full text needs. */
int arbor_pid_format(arbor_pid_t pid, char *buf, size_t size);

/* ---- spawning ---------------------------------------------------------- */

typedef struct arbor_spawn_opts {
    bool link;         /* link the new process to the caller, atomically */
    bool monitor;      /* monitor the new process; *ref_out gets the ref */
    bool trap_exit;    /* the new process starts trapping exits */
    const char *label; /* behaviour or role shown by introspection; static */
    /* When non-zero, arg points to arg_size bytes that are copied into
     * memory owned by the new process (freed when it dies, however it
     * dies); the process receives the copy. Erlang copies spawn arguments
     * the same way. 0: arg is passed through untouched. */
    size_t arg_size;
} arbor_spawn_opts_t;

/*
 * Starts a process that runs fn(arg). The new process exits with reason
 * normal when fn returns. arg is passed through untouched (the caller keeps
 * ownership and must keep it valid for as long as the new process uses it)
 * unless opts->arg_size asks for a copy. opts may be NULL. link and monitor
 * require a calling process.
 *
 * Returns 0 and stores the pid (and the monitor ref) on success;
 * ARBOR_ENOMEM or ARBOR_EAGAIN (process limit) with nothing started;
 * ARBOR_ENOTPROC if link/monitor was asked outside a process;
 * ARBOR_ESHUTDOWN while the runtime stops.
 */
int arbor_spawn_opt(arbor_entry_fn fn, void *arg, const arbor_spawn_opts_t *opts,
                    arbor_pid_t *pid_out, arbor_ref_t *ref_out);
int arbor_spawn(arbor_entry_fn fn, void *arg, arbor_pid_t *pid_out);
int arbor_spawn_link(arbor_entry_fn fn, void *arg, arbor_pid_t *pid_out);
int arbor_spawn_monitor(arbor_entry_fn fn, void *arg, arbor_pid_t *pid_out, arbor_ref_t *ref_out);

struct arbor_msg;

/*
 * A reactive process. init (optional) runs first, on a borrowed stack, and
 * may block; it may replace the state pointer (typically with a block from
 * arbor_alloc(), owned by the process). Then handle runs once for each
 * message, in mailbox order, with the state pointer init left. The
 * runtime frees the message after handle returns unless handle took it with
 * arbor_msg_keep(). A handler ends the process with arbor_exit(). state is
 * passed to every callback untouched; the process owns nothing it did not
 * allocate with arbor_alloc().
 */
typedef struct arbor_reactor {
    void (*init)(void **state);
    void (*handle)(void *state, struct arbor_msg *msg);
} arbor_reactor_t;

/* Like arbor_spawn_opt() for a reactive process. ops must stay valid for the
 * life of the process (a static table is usual). */
int arbor_spawn_reactor(const arbor_reactor_t *ops, void *state, const arbor_spawn_opts_t *opts,
                        arbor_pid_t *pid_out, arbor_ref_t *ref_out);

/* The calling process's pid, or ARBOR_NOPID outside a process. */
arbor_pid_t arbor_self(void);

/* Lets other processes run; the caller stays runnable. Process only. */
void arbor_yield(void);

/* Suspends the calling process for ms milliseconds; messages stay queued.
 * Process only; returns 0 or ARBOR_ENOTPROC. */
int arbor_sleep(uint64_t ms);

/* Gives back what the calling process holds for later use and does not
 * need now (Erlang's hibernate, without the stack, which a reactive
 * process already drops between messages): the tables of its link,
 * monitor and alias maps that are empty. A process keeps an emptied table
 * of up to 256 entries, so that one that monitors and demonitors in turn
 * (every GenServer call does) does not allocate each time. A GenServer
 * callback that returns arbor_gs_hibernate() calls it. Returns 0, or
 * ARBOR_ENOTPROC outside a process. */
int arbor_hibernate(void);

/* ---- exits, links and monitors ------------------------------------------ */

/* Ends the calling process with reason (Erlang's exit/1). Never returns.
 * Links and monitors are notified, the name is released and memory from
 * arbor_alloc() is freed. Process only: outside a process it aborts. */
_Noreturn void arbor_exit(arbor_reason_t reason);

/*
 * Sends an exit signal with reason to pid (Erlang's exit/2), as the table of
 * docs/semantics.md says: normal is ignored by a non-trapping target
 * unless it is the caller itself; kill is untrappable and the target dies
 * killed; a trapping target receives an ARBOR_TAG_EXIT message otherwise.
 * Returns 0 also when pid does not exist (as Erlang does); ARBOR_EINVAL for
 * ARBOR_NOPID. Sending to oneself takes effect before this returns, unless
 * trapped. Any thread: from outside a process the signal comes from
 * ARBOR_NOPID.
 */
int arbor_exit_pid(arbor_pid_t pid, arbor_reason_t reason);

/*
 * Links the caller and pid (at most one link per pair; linking twice is a
 * no-op). If pid does not exist: a trapping caller gets 0 and an
 * ARBOR_TAG_EXIT message with reason noproc; a non-trapping caller gets
 * ARBOR_ENOPROC. Process only.
 */
int arbor_link(arbor_pid_t pid);

/* Removes the link between the caller and pid, for both sides; no exit
 * signal from that link arrives afterwards. 0 also when none existed. */
int arbor_unlink(arbor_pid_t pid);

/* Sets whether exit signals become ARBOR_TAG_EXIT messages; returns the old
 * setting. Process only (returns false outside one). */
bool arbor_trap_exit(bool on);

/* Whether the calling process traps exits (false outside a process). */
bool arbor_trapping_exits(void);

/* Whether the calling process is linked to pid, as far as the signals it
 * has taken in tell: a link pid made from its side, or pid's death, is
 * known after the caller's next receive (one with timeout 0 will do).
 * False outside a process. */
bool arbor_linked(arbor_pid_t pid);

/* Starts monitoring pid; stores a fresh ref. When pid ends (or if it does
 * not exist) the caller receives one ARBOR_TAG_DOWN message for this ref.
 * Process only. */
int arbor_monitor(arbor_pid_t pid, arbor_ref_t *ref_out);

/* Monitors pid and sends it a message, as arbor_monitor() followed by
 * arbor_send() would, in one signal: pid takes the monitor in with the
 * message (a request whose caller must learn of the server's death: a
 * GenServer call). If pid does not exist the message is dropped and the
 * DOWN (noproc) arrives as arbor_monitor() gives it. Stores the monitor's
 * ref. Process only. Returns 0, ARBOR_ENOTPROC, ARBOR_EINVAL, ARBOR_ETOOBIG
 * or ARBOR_ENOMEM (then neither happened). */
int arbor_monitor_send(arbor_pid_t pid, uint64_t tag, const void *data, size_t size,
                       arbor_ref_t *ref_out);

/* As arbor_monitor_send(), with the message's bytes given in two parts:
 * head's head_size bytes, then body's body_size bytes, copied one after
 * the other into the message (a request's header and its argument,
 * without first joining them in a buffer). ARBOR_ETOOBIG when the two
 * together exceed ARBOR_MSG_MAX. */
int arbor_monitor_send_parts(arbor_pid_t pid, uint64_t tag, const void *head, size_t head_size,
                             const void *body, size_t body_size, arbor_ref_t *ref_out);

/* Makes watcher monitor the calling process, as if watcher had called
 * arbor_monitor() on it: watcher receives one ARBOR_TAG_DOWN for the ref
 * when the caller ends (with its exit reason) and may arbor_demonitor() it.
 * The caller's side is in place at once (arbor_process_info()'s
 * monitored_by counts it); watcher takes its side in as a signal, before
 * any message the caller sends it afterwards, and gets no other notice:
 * the caller stores the ref (in *ref_out) where watcher will look for it.
 * For a server that publishes what processes write into shared memory and
 * must learn of their deaths (the Registry's partitions: Elixir's caller
 * links itself to the partition). A watcher that ends before it takes the
 * signal in drops the caller's side, as a demonitor would. Process only.
 * Returns 0, ARBOR_ENOTPROC, ARBOR_EINVAL (watcher is ARBOR_NOPID or the
 * caller, or ref_out is NULL), ARBOR_ENOPROC (watcher is not alive) or
 * ARBOR_ENOMEM; nothing is done unless 0. */
int arbor_monitor_by(arbor_pid_t watcher, arbor_ref_t *ref_out);

/* Stops pid the way a supervisor stops a child (OTP's shutdown: monitor,
 * unlink, exit): monitors it, removes the link between the two if there
 * is one, and sends it an exit signal with reason, as arbor_monitor(),
 * arbor_unlink() and arbor_exit_pid() would one after another, in one
 * signal. Stores the monitor's ref; its DOWN carries pid's exit reason
 * (noproc if pid did not exist). Process only. Returns 0, ARBOR_ENOTPROC,
 * ARBOR_EINVAL or ARBOR_ENOMEM (then none of the three happened). */
int arbor_monitor_exit(arbor_pid_t pid, arbor_reason_t reason, arbor_ref_t *ref_out);

#define ARBOR_DEMONITOR_FLUSH 1u
/* Removes the monitor ref; with ARBOR_DEMONITOR_FLUSH also removes its DOWN
 * message if one is already queued. Returns 0, or ARBOR_ENOENT if ref is not
 * an active monitor of the caller. Process only. */
int arbor_demonitor(arbor_ref_t ref, unsigned flags);

/* Registers fn(arg) to run when the calling process exits, however it
 * exits (killed included), before its links and monitors are told: the
 * place to close what arbor_alloc() cannot own (a file, a database
 * connection). Hooks run in reverse order of registration, on a scheduler
 * thread, outside any process: they must not block or call process-only
 * functions. Process only. Returns 0, ARBOR_ENOTPROC or ARBOR_ENOMEM. */
int arbor_on_exit(void (*fn)(void *arg), void *arg);

/* ---- names --------------------------------------------------------------- */

#define ARBOR_NAME_MAX 63

/* Registers name (at most ARBOR_NAME_MAX bytes, copied) for pid; one name
 * per process. Returns ARBOR_EEXIST and, when owner_out is not NULL, the
 * current owner if the name is taken; ARBOR_EEXIST with owner_out set to pid
 * if pid already has another name; ARBOR_ENOPROC if pid is dead;
 * ARBOR_ETOOBIG, ARBOR_EINVAL for a bad name. The name is released when the
 * process exits. */
int arbor_register(const char *name, arbor_pid_t pid, arbor_pid_t *owner_out);

/* Removes name; ARBOR_ENOENT if it was not registered. */
int arbor_unregister(const char *name);

/* The live process registered as name, or ARBOR_NOPID. */
arbor_pid_t arbor_whereis(const char *name);

/* A remembered answer of arbor_whereis_cached() for one name: zero it
 * before first use ({0}). */
typedef struct {
    uint64_t gen;     /* the name table's generation it was read at; 0: none */
    const char *name; /* the name it answers for (compared by address) */
    arbor_pid_t pid;
} arbor_name_cache_t;

/* arbor_whereis(name), exactly, answered from *cache while no name has
 * been registered, unregistered or released anywhere since cache was
 * filled (the name table keeps a generation, bumped by every change; one
 * atomic load, against a hash, a lock and a walk). For lookups of a few
 * fixed names on a hot path: a server's well-known name looked up per
 * request. cache belongs to one thread at a time (a static _Thread_local
 * per call site; a process may hold none across a blocking call, since it
 * may resume on another thread), and name must stay the same string while
 * cache answers for it: another address refills it. */
arbor_pid_t arbor_whereis_cached(const char *name, arbor_name_cache_t *cache);

/* ---- process allocator --------------------------------------------------- */

/* Memory owned by the calling process: freed when it exits, however it
 * exits. Process only (NULL outside one, or when out of memory). Blocks may
 * be passed to other processes only by copying. arbor_free(NULL) is a
 * no-op; freeing another process's block is undefined. */
void *arbor_alloc(size_t size);
void *arbor_calloc(size_t n, size_t size);
void *arbor_realloc(void *ptr, size_t size);
void arbor_free(void *ptr);

/* Moving a block between processes without copying it, for a cache of
 * buffers that outlives the processes using them (the HTTP server's).
 * arbor_disown() takes ptr, a block of the calling process's, out of its
 * memory: it is no longer freed when the process exits nor counted in
 * its heap_bytes, and any thread may keep it. arbor_adopt() makes such a
 * block the calling process's again (freed with it, counted, arbor_free()
 * works on it). arbor_free_disowned() frees a disowned block, from any
 * thread, in a process or not. NULL is a no-op for the three; disown and
 * adopt are process only. */
void arbor_disown(void *ptr);
void arbor_adopt(void *ptr);
void arbor_free_disowned(void *ptr);

/* ---- introspection ------------------------------------------------------- */

typedef enum arbor_proc_status {
    ARBOR_STATUS_RUNNABLE = 1, /* queued or running */
    ARBOR_STATUS_WAITING,      /* waiting for a message, a timer or a job */
    ARBOR_STATUS_EXITING,
} arbor_proc_status_t;

typedef struct arbor_process_info {
    arbor_pid_t pid;
    arbor_proc_status_t status;
    size_t message_queue_len; /* messages waiting to be taken: see arbor_process_info() */
    size_t memory;            /* bytes: control block, stack held, heap */
    size_t heap_bytes;        /* bytes of the arbor_alloc() blocks, as malloc sizes them */
    bool holds_stack;         /* a stack is attached right now */
    bool reactive;
    bool trap_exit;
    unsigned links;
    unsigned monitors; /* processes this one monitors */
    unsigned monitored_by;
    /* Work done since the spawn, in reductions: each send, receive (a
     * message taken) and message a reactive process handles counts one, a
     * spawn or an exit signal to another process 16; the runtime's slice
     * is 2,000 of them. Like the BEAM's process_info(P, reductions), a
     * figure to compare processes by, not a time. */
    uint64_t reductions;
    char name[ARBOR_NAME_MAX + 1]; /* registered name, or "" */
    const char *label;             /* behaviour or role, or "" ; static */
} arbor_process_info_t;

/* Fills info for pid. Returns ARBOR_ENOPROC if it is not alive. The figures
 * are a snapshot taken without stopping the process.
 *
 * message_queue_len is exact for the calling process itself. For another
 * process it counts the messages that process has taken in from its inbox
 * and not yet handled: a reactive process (GenServer, supervisors) and a
 * selective receive take in the whole inbox each time, while arbor_receive()
 * takes messages one at a time, so a backlog behind a plain receive loop is
 * not counted until the process looks at it. */
int arbor_process_info(arbor_pid_t pid, arbor_process_info_t *info);

/* True while pid is alive (Erlang's is_process_alive/1). Cheap: no lock,
 * no message. Any thread. */
bool arbor_alive(arbor_pid_t pid);

/* Sets the calling process's label (a static string), shown by
 * introspection; behaviours set "gen_server", "supervisor", ... */
void arbor_set_label(const char *label);

/* Stores up to cap live pids in buf and the number of live processes in
 * *count (which may exceed cap). */
int arbor_processes(arbor_pid_t *buf, size_t cap, size_t *count);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif
#endif

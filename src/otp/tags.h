/*
 * Every message tag the OTP behaviours use, in one table: a range of 256
 * above ARBOR_TAG_OTP per behaviour, so that no two behaviours' messages
 * or calls share a tag, and a request sent to a process of another kind is
 * refused (a supervisor answers an unknown call with ARBOR_EINVAL, read as
 * ARBOR_EWRONGKIND) instead of being taken for one of its own.
 *
 * Public tags, those a user's process receives, keep their values here and
 * their names in include/ (ARBOR_TAG_GS_TIMEOUT, ARBOR_TAG_GS_TRACE,
 * ARBOR_TAG_TASK_REPLY); the rest are wire details of the library's own.
 *
 *   range            behaviour            file
 *   0x001 - 0x0ff    GenServer, sys       gen_server.c
 *   0x100 - 0x1ff    Supervisor           supervisor.c
 *   0x200 - 0x2ff    DynamicSupervisor    dynamic_supervisor.c
 *   0x300 - 0x3ff    Task                 task.c
 *   0x400 - 0x4ff    Registry             registry.c
 */
#ifndef ARBOR_OTP_TAGS_H
#define ARBOR_OTP_TAGS_H

#include "arbor.h"

/* GenServer: the outer tags of its messages. */
#define ARBOR__TAG_GS_CALL (ARBOR_TAG_OTP + 0x001) /* a call: call_hdr_t, then the request */
#define ARBOR__TAG_GS_CAST (ARBOR_TAG_OTP + 0x002)
#define ARBOR__TAG_GS_STOP (ARBOR_TAG_OTP + 0x003) /* arbor_gs_stop(): a reason */
#define ARBOR__TAG_GS_REPLY                                                                        \
    (ARBOR_TAG_OTP + 0x004) /* a call's reply, through the caller's alias                          \
                             */
#define ARBOR__TAG_GS_TIMEOUT (ARBOR_TAG_OTP + 0x005) /* public: ARBOR_TAG_GS_TIMEOUT */
#define ARBOR__TAG_START_ACK  (ARBOR_TAG_OTP + 0x006) /* any behaviour's init ack (start.c) */
#define ARBOR__TAG_GS_SYSTEM  (ARBOR_TAG_OTP + 0x007) /* a sys request: call_hdr_t.tag below */
#define ARBOR__TAG_GS_TRACE   (ARBOR_TAG_OTP + 0x008) /* public: ARBOR_TAG_GS_TRACE */
/* The sys requests (call_hdr_t.tag of an ARBOR__TAG_GS_SYSTEM message). */
#define ARBOR__TAG_SYS_GET_STATUS    (ARBOR_TAG_OTP + 0x010) /* reply: format_status()'s text */
#define ARBOR__TAG_SYS_GET_STATE     (ARBOR_TAG_OTP + 0x011) /* these reply with a sys_reply_t */
#define ARBOR__TAG_SYS_REPLACE_STATE (ARBOR_TAG_OTP + 0x012) /* replace_req_t, the argument */
#define ARBOR__TAG_SYS_SUSPEND       (ARBOR_TAG_OTP + 0x013)
#define ARBOR__TAG_SYS_RESUME        (ARBOR_TAG_OTP + 0x014)
#define ARBOR__TAG_SYS_TRACE         (ARBOR_TAG_OTP + 0x015) /* body: trace_req_t */

/* Supervisor: its calls, and the retry it posts to itself. */
#define ARBOR__TAG_SUP_START_CHILD     (ARBOR_TAG_OTP + 0x101)
#define ARBOR__TAG_SUP_TERMINATE_CHILD (ARBOR_TAG_OTP + 0x102)
#define ARBOR__TAG_SUP_RESTART_CHILD   (ARBOR_TAG_OTP + 0x103)
#define ARBOR__TAG_SUP_DELETE_CHILD    (ARBOR_TAG_OTP + 0x104)
#define ARBOR__TAG_SUP_WHICH_CHILDREN  (ARBOR_TAG_OTP + 0x105)
#define ARBOR__TAG_SUP_COUNT_CHILDREN  (ARBOR_TAG_OTP + 0x106)
#define ARBOR__TAG_SUP_GET_CHILDSPEC   (ARBOR_TAG_OTP + 0x107)
#define ARBOR__TAG_SUP_RETRY           (ARBOR_TAG_OTP + 0x108) /* info: a restart to try */

/* DynamicSupervisor: the retry it posts to itself, and its calls. */
#define ARBOR__TAG_DS_RETRY           (ARBOR_TAG_OTP + 0x200) /* info: a restart to try */
#define ARBOR__TAG_DS_START_CHILD     (ARBOR_TAG_OTP + 0x201)
#define ARBOR__TAG_DS_TERMINATE_CHILD (ARBOR_TAG_OTP + 0x202)
#define ARBOR__TAG_DS_WHICH_CHILDREN  (ARBOR_TAG_OTP + 0x203)
#define ARBOR__TAG_DS_COUNT_CHILDREN  (ARBOR_TAG_OTP + 0x204)

/* Task: a task's result to its owner, and the go an async task waits for. */
#define ARBOR__TAG_TASK_REPLY (ARBOR_TAG_OTP + 0x300) /* public: ARBOR_TAG_TASK_REPLY */
#define ARBOR__TAG_TASK_GO    (ARBOR_TAG_OTP + 0x301)

/* Registry: the calls to a partition. (It acks its start as every
 * behaviour does, with ARBOR__TAG_START_ACK.) */
#define ARBOR__TAG_REG_UNREGISTER (ARBOR_TAG_OTP + 0x403)

_Static_assert(ARBOR__TAG_GS_TIMEOUT == ARBOR_TAG_GS_TIMEOUT, "public tag moved");
_Static_assert(ARBOR__TAG_GS_TRACE == ARBOR_TAG_GS_TRACE, "public tag moved");
_Static_assert(ARBOR__TAG_TASK_REPLY == ARBOR_TAG_TASK_REPLY, "public tag moved");

#endif

/*
 * Arbor: Erlang/OTP-style supervision trees for C.
 *
 * The one header an application includes. The runtime layer (processes,
 * messages, signals, timers, blocking pool) is declared in the headers under arbor/; see
 * docs/architecture.md for the layers and docs/api.md for the contracts.
 */
#ifndef ARBOR_H
#define ARBOR_H

#define ARBOR_VERSION_MAJOR 0
#define ARBOR_VERSION_MINOR 1
#define ARBOR_VERSION_PATCH 0

#include "arbor/error.h"
#include "arbor/reason.h"
#include "arbor/runtime.h"
#include "arbor/process.h"
#include "arbor/message.h"
#include "arbor/net.h"
#include "arbor/report.h"
#include "arbor/gen_server.h"
#include "arbor/supervisor.h"
#include "arbor/dynamic_supervisor.h"
#include "arbor/task.h"
#include "arbor/registry.h"
#include "arbor/http.h"

#endif

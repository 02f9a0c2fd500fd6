/*
 * Which sanitizers this translation unit is built with, as plain macros,
 * and the few annotations the runtime needs from them.
 */
#ifndef ARBOR_RUNTIME_SANITIZER_H
#define ARBOR_RUNTIME_SANITIZER_H

#if defined(__SANITIZE_ADDRESS__)
#define ARBOR_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ARBOR_ASAN 1
#endif
#endif

#if defined(__SANITIZE_THREAD__)
#define ARBOR_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define ARBOR_TSAN 1
#endif
#endif

#ifdef ARBOR_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#define ARBOR_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define ARBOR_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#ifdef ARBOR_TSAN
#include <sanitizer/tsan_interface.h>
#endif

#endif

/*
 * kassert.h - assertions that stay on in release builds.
 *
 * ASSERT() guards invariants that protect data (log order, LSN monotonicity, checksums before a
 * write) and is never compiled out. DEBUG_ASSERT() is for costly checks and vanishes unless
 * KEEL_DEBUG is defined. Bad input from a client or a file is never asserted on: it is an error
 * return with a clear message.
 */
#ifndef KEEL_KASSERT_H
#define KEEL_KASSERT_H

#include <assert.h>

_Noreturn void kassert_fail(const char *expr, const char *file, int line, const char *func);

#define ASSERT(e) ((e) ? (void)0 : kassert_fail(#e, __FILE__, __LINE__, __func__))

#ifdef KEEL_DEBUG
#define DEBUG_ASSERT(e) ASSERT(e)
#else
#define DEBUG_ASSERT(e) ((void)0)
#endif

#define KEEL_LIKELY(x)   __builtin_expect(!!(x), 1)
#define KEEL_UNLIKELY(x) __builtin_expect(!!(x), 0)

#endif

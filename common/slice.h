/*
 * slice.h - karg_t, a borrowed byte slice (pointer + length, not NUL-terminated unless said).
 *
 * Every layer passes command arguments, keys and members as slices: the RESP parser makes them
 * point into a client's query buffer, the keyspace takes them as lookup keys, the log copies
 * their bytes. The slice never owns its bytes.
 */
#ifndef KEEL_SLICE_H
#define KEEL_SLICE_H

#include <stddef.h>

typedef struct karg {
    const char *p;
    size_t n;
} karg_t;

#endif

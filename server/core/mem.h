/*
 * mem.h - allocation for the server: the accounted allocator (common/kmem.h) plus process
 * memory facts for INFO.
 */
#ifndef KEEL_MEM_H
#define KEEL_MEM_H

#include "common/kmem.h"

size_t kmem_rss(void);            /* resident set size, from /proc/self/statm */
const char *kmem_allocator(void); /* "jemalloc-5.3.0" or "libc" */

#endif

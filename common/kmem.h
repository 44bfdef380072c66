/*
 * kmem.h - allocation with accounting, for every module (server, data structures).
 *
 * used_memory (INFO, maxmemory) is the sum of the allocator's usable sizes of everything
 * allocated through these calls, jemalloc's size classes included, as Valkey reports it. The
 * counter is atomic because the lazy-free, snapshot and log threads allocate and free too.
 */
#ifndef KEEL_KMEM_H
#define KEEL_KMEM_H

#include <stdbool.h>
#include <stddef.h>

void *kmalloc(size_t n); /* aborts on out-of-memory: the server cannot go on */
void *kcalloc(size_t n, size_t size);
void *krealloc(void *p, size_t n);
void kfree(void *p);
char *kstrndup(const char *s, size_t n); /* NUL-terminated copy */
size_t kmem_usable(const void *p);
size_t kmem_used(void);           /* bytes currently allocated through these calls */
size_t kmem_rss(void);            /* resident set size, from /proc/self/statm (INFO) */
const char *kmem_allocator(void); /* "jemalloc-5.3.0" or "libc" */
/* Give the allocator's free pages back to the system (MEMORY PURGE): jemalloc's arena purge,
 * glibc's malloc_trim. */
void kmem_purge(void);
/* The allocator's statistics as text (MEMORY MALLOC-STATS): write_cb gets it in pieces. Returns
 * false when the allocator has none to give (libc). */
bool kmem_stats_print(void (*write_cb)(void *ctx, const char *text), void *ctx);

#endif

/*
 * mem.h - allocation with accounting: used_memory for INFO and maxmemory.
 *
 * Every allocation of the server goes through kmalloc/kfree so that used_memory is the sum of the
 * allocator's usable sizes (jemalloc's size classes included), as Valkey reports it. The counter
 * is atomic because the lazy-free thread and snapshot loader threads free and allocate too.
 */
#ifndef KEEL_MEM_H
#define KEEL_MEM_H

#include <stddef.h>
#include <stdint.h>

void *kmalloc(size_t n);                 /* aborts on out-of-memory: the server cannot go on */
void *kcalloc(size_t n, size_t size);
void *krealloc(void *p, size_t n);
void kfree(void *p);
char *kstrndup(const char *s, size_t n); /* NUL-terminated copy */
size_t kmem_usable(const void *p);
size_t kmem_used(void);                  /* bytes currently allocated through these calls */
size_t kmem_rss(void);                   /* resident set size, from /proc/self/statm */
const char *kmem_allocator(void);        /* "jemalloc-5.3.0" or "libc" */

#endif

/* kmem.c - accounted allocation (see kmem.h). */
#include "common/kmem.h"

#include <malloc.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static _Atomic size_t used_bytes;

static void
oom(size_t n)
{
    fprintf(stderr, "keel: out of memory allocating %zu bytes\n", n);
    abort();
}

void *
kmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        oom(n);
    atomic_fetch_add_explicit(&used_bytes, malloc_usable_size(p), memory_order_relaxed);
    return p;
}

void *
kcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        oom(n * size);
    atomic_fetch_add_explicit(&used_bytes, malloc_usable_size(p), memory_order_relaxed);
    return p;
}

void *
krealloc(void *p, size_t n)
{
    size_t old = p ? malloc_usable_size(p) : 0;
    void *q = realloc(p, n ? n : 1);
    if (!q)
        oom(n);
    atomic_fetch_add_explicit(&used_bytes, malloc_usable_size(q), memory_order_relaxed);
    atomic_fetch_sub_explicit(&used_bytes, old, memory_order_relaxed);
    return q;
}

void
kfree(void *p)
{
    if (!p)
        return;
    atomic_fetch_sub_explicit(&used_bytes, malloc_usable_size(p), memory_order_relaxed);
    free(p);
}

char *
kstrndup(const char *s, size_t n)
{
    char *d = kmalloc(n + 1);
    memcpy(d, s, n);
    d[n] = 0;
    return d;
}

size_t
kmem_usable(const void *p)
{
    return p ? malloc_usable_size((void *)p) : 0;
}

size_t
kmem_used(void)
{
    return atomic_load_explicit(&used_bytes, memory_order_relaxed);
}


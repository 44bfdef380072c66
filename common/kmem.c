/* kmem.c - accounted allocation (see kmem.h). */
#include "kmem.h"

#include <malloc.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef KEEL_JEMALLOC
#include <jemalloc/jemalloc.h>
#endif

static _Atomic size_t used_bytes;

static void
oom(size_t n) {
    fprintf(stderr, "keel: out of memory allocating %zu bytes\n", n);
    abort();
}

void *
kmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p)
        oom(n);
    atomic_fetch_add_explicit(&used_bytes, malloc_usable_size(p), memory_order_relaxed);
    return p;
}

void *
kcalloc(size_t n, size_t size) {
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        oom(n * size);
    atomic_fetch_add_explicit(&used_bytes, malloc_usable_size(p), memory_order_relaxed);
    return p;
}

void *
krealloc(void *p, size_t n) {
    size_t old = p ? malloc_usable_size(p) : 0;
    void *q = realloc(p, n ? n : 1);
    if (!q)
        oom(n);
    atomic_fetch_add_explicit(&used_bytes, malloc_usable_size(q), memory_order_relaxed);
    atomic_fetch_sub_explicit(&used_bytes, old, memory_order_relaxed);
    return q;
}

void
kfree(void *p) {
    if (!p)
        return;
    atomic_fetch_sub_explicit(&used_bytes, malloc_usable_size(p), memory_order_relaxed);
    free(p);
}

char *
kstrndup(const char *s, size_t n) {
    char *d = kmalloc(n + 1);
    memcpy(d, s, n);
    d[n] = 0;
    return d;
}

size_t
kmem_usable(const void *p) {
    return p ? malloc_usable_size((void *)p) : 0;
}

size_t
kmem_used(void) {
    return atomic_load_explicit(&used_bytes, memory_order_relaxed);
}

size_t
kmem_rss(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long pages = 0, rss = 0;
    if (!f)
        return 0;
    if (fscanf(f, "%lu %lu", &pages, &rss) != 2)
        rss = 0;
    fclose(f);
    return rss * (size_t)sysconf(_SC_PAGESIZE);
}

const char *
kmem_allocator(void) {
#ifdef KEEL_JEMALLOC
    static char name[64];
    const char *v = NULL;
    size_t sz = sizeof v;
    if (!name[0]) {
        if (mallctl("version", &v, &sz, NULL, 0) == 0 && v) {
            char tmp[32];
            snprintf(tmp, sizeof tmp, "%s", v);
            tmp[strcspn(tmp, "-")] = 0; /* "5.3.0-0-g54eaed1d..." -> "5.3.0" */
            snprintf(name, sizeof name, "jemalloc-%s", tmp);
        } else {
            snprintf(name, sizeof name, "jemalloc");
        }
    }
    return name;
#else
    return "libc";
#endif
}

void
kmem_purge(void) {
#ifdef KEEL_JEMALLOC
    char cmd[64];
    snprintf(cmd, sizeof cmd, "arena.%u.purge", (unsigned)MALLCTL_ARENAS_ALL);
    mallctl(cmd, NULL, NULL, NULL, 0);
#else
    malloc_trim(0);
#endif
}

bool
kmem_stats_print(void (*write_cb)(void *ctx, const char *text), void *ctx) {
#ifdef KEEL_JEMALLOC
    malloc_stats_print(write_cb, ctx, NULL);
    return true;
#else
    (void)write_cb;
    (void)ctx;
    return false;
#endif
}

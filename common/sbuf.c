/* sbuf.c - growable text buffer (see sbuf.h). */
#include "sbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "kmem.h"

static void
grow(sbuf_t *b, size_t need) {
    if (b->len + need + 1 <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + need + 1)
        cap *= 2;
    b->p = krealloc(b->p, cap);
    b->cap = cap;
}

void
sbuf_append(sbuf_t *b, const char *p, size_t n) {
    grow(b, n);
    memcpy(b->p + b->len, p, n);
    b->len += n;
    b->p[b->len] = 0;
}

void
sbuf_printf(sbuf_t *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n <= 0)
        return;
    grow(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void
sbuf_free(sbuf_t *b) {
    kfree(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

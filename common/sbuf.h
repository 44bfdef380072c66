/* sbuf.h - a growable text buffer for INFO, CLIENT LIST and other text replies. */
#ifndef KEEL_SBUF_H
#define KEEL_SBUF_H

#include <stddef.h>

typedef struct sbuf {
    char *p;
    size_t len, cap;
} sbuf_t;

void sbuf_printf(sbuf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sbuf_append(sbuf_t *b, const char *p, size_t n);
void sbuf_free(sbuf_t *b);

#endif

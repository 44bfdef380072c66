/*
 * errstats.c - error replies counted by code (see errstats.h): a sorted array, searched by
 * bisection; main thread only.
 */
#include "errstats.h"

#include <string.h>

#include "engine.h"
#include "kmem.h"
#include "sbuf.h"

typedef struct errcode {
    char code[ERRSTATS_CODE_MAX];
    uint64_t count;
} errcode_t;

struct errstats {
    errcode_t codes[ERRSTATS_CODES_MAX];
    int n;
    uint64_t overflow; /* errors of codes that did not fit */
};

void
errstats_init(engine_t *s) {
    s->errstats = kcalloc(1, sizeof *s->errstats);
}

void
errstats_add(engine_t *s, const char *msg, size_t len) {
    struct errstats *e = s->errstats;
    const char *sp = memchr(msg, ' ', len < ERRSTATS_CODE_MAX ? len : ERRSTATS_CODE_MAX);
    size_t n = sp ? (size_t)(sp - msg) : 3;
    const char *code = sp && n ? msg : "ERR";
    n = sp && n ? n : 3;
    int lo = 0, hi = e->n;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        size_t mlen = strlen(e->codes[mid].code);
        int c = memcmp(e->codes[mid].code, code, mlen < n ? mlen : n);
        if (c == 0)
            c = mlen < n ? -1 : mlen > n ? 1 : 0;
        if (c == 0) {
            e->codes[mid].count++;
            return;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (e->n == ERRSTATS_CODES_MAX) {
        e->overflow++;
        return;
    }
    memmove(&e->codes[lo + 1], &e->codes[lo], sizeof(errcode_t) * (size_t)(e->n - lo));
    memcpy(e->codes[lo].code, code, n);
    e->codes[lo].code[n] = 0;
    e->codes[lo].count = 1;
    e->n++;
}

void
errstats_info(engine_t *s, sbuf_t *b) {
    struct errstats *e = s->errstats;
    for (int i = 0; i < e->n; i++)
        sbuf_printf(b, "errorstat_%s:count=%llu\r\n", e->codes[i].code,
                    (unsigned long long)e->codes[i].count);
    if (e->overflow)
        sbuf_printf(b, "errorstat_ERRORSTATS_OVERFLOW:count=%llu\r\n",
                    (unsigned long long)e->overflow);
}

void
errstats_reset(engine_t *s) {
    memset(s->errstats, 0, sizeof *s->errstats);
}

/*
 * khist.c - the log-bucket histogram (see khist.h).
 *
 * Bucket of v: v < SUB is bucket v. Otherwise let e = floor(log2 v) >= SUB_BITS; the SUB_BITS
 * bits below the leading one pick one of SUB buckets in [2^e, 2^(e+1)):
 * index = (e - SUB_BITS + 1) * SUB + ((v >> (e - SUB_BITS)) & (SUB - 1)).
 */
#include "khist.h"

static unsigned
bucket_of(uint64_t v) {
    if (v < KHIST_SUB)
        return (unsigned)v;
    unsigned e = 63u - (unsigned)__builtin_clzll(v);
    if (e > KHIST_EXP_MAX)
        return KHIST_BUCKETS - 1;
    unsigned sub = (unsigned)(v >> (e - KHIST_SUB_BITS)) & (KHIST_SUB - 1);
    return (e - KHIST_SUB_BITS + 1) * KHIST_SUB + sub;
}

/* The largest value that falls in bucket b. */
static uint64_t
bucket_top(unsigned b) {
    if (b < KHIST_SUB)
        return b;
    unsigned e = b / KHIST_SUB + KHIST_SUB_BITS - 1;
    uint64_t sub = b % KHIST_SUB;
    uint64_t width = 1ull << (e - KHIST_SUB_BITS);
    return (1ull << e) + (sub + 1) * width - 1;
}

void
khist_add(khist_t *h, uint64_t v) {
    h->bucket[bucket_of(v)]++;
    h->count++;
    if (v > h->max)
        h->max = v;
}

uint64_t
khist_quantile(const khist_t *h, double q) {
    if (h->count == 0)
        return 0;
    uint64_t rank = (uint64_t)(q * (double)h->count + 0.5);
    if (rank < 1)
        rank = 1;
    uint64_t seen = 0;
    for (unsigned b = 0; b < KHIST_BUCKETS; b++) {
        seen += h->bucket[b];
        if (seen >= rank) {
            if (b == KHIST_BUCKETS - 1) /* holds everything past the range */
                return h->max;
            uint64_t top = bucket_top(b);
            return top < h->max ? top : h->max;
        }
    }
    return h->max;
}

uint64_t
khist_count_le(const khist_t *h, uint64_t v) {
    uint64_t n = 0;
    for (unsigned b = 0; b < KHIST_BUCKETS - 1 && bucket_top(b) <= v; b++)
        n += h->bucket[b];
    return n;
}

/*
 * hist.c - the tier's latency histogram (see tier_int.h): a log-bucket histogram small enough to
 * keep one per figure and cheap enough to update for every op on the owner thread.
 *
 * Bucket of v: v < SUB is bucket v. Otherwise let e = floor(log2 v) >= SUB_BITS; the top
 * SUB_BITS bits below the leading one pick one of SUB buckets in [2^e, 2^(e+1)):
 * index = (e - SUB_BITS + 1) * SUB + ((v >> (e - SUB_BITS)) & (SUB - 1)). Each bucket spans
 * 2^(e - SUB_BITS), 1/SUB of its lower bound.
 */
#include "tier_int.h"

#include "kassert.h"

static unsigned
bucket_of(uint64_t v) {
    if (v < TIER_HIST_SUB)
        return (unsigned)v;
    unsigned e = 63u - (unsigned)__builtin_clzll(v);
    unsigned sub = (unsigned)(v >> (e - TIER_HIST_SUB_BITS)) & (TIER_HIST_SUB - 1);
    return (e - TIER_HIST_SUB_BITS + 1) * TIER_HIST_SUB + sub;
}

/* The largest value that falls in bucket b. */
static uint64_t
bucket_top(unsigned b) {
    if (b < TIER_HIST_SUB)
        return b;
    unsigned e = b / TIER_HIST_SUB + TIER_HIST_SUB_BITS - 1;
    uint64_t sub = b % TIER_HIST_SUB;
    uint64_t width = 1ull << (e - TIER_HIST_SUB_BITS);
    return (1ull << e) + (sub + 1) * width - 1;
}

void
tier_hist_add(tier_hist_t *h, uint64_t v) {
    unsigned b = bucket_of(v);
    DEBUG_ASSERT(b < TIER_HIST_BUCKETS);
    h->bucket[b]++;
    h->count++;
    if (v > h->max)
        h->max = v;
}

uint64_t
tier_hist_quantile(const tier_hist_t *h, double q) {
    if (h->count == 0)
        return 0;
    uint64_t rank = (uint64_t)(q * (double)h->count + 0.5);
    if (rank < 1)
        rank = 1;
    uint64_t seen = 0;
    for (unsigned b = 0; b < TIER_HIST_BUCKETS; b++) {
        seen += h->bucket[b];
        if (seen >= rank) {
            uint64_t top = bucket_top(b);
            return top < h->max ? top : h->max;
        }
    }
    return h->max;
}

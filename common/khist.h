/*
 * khist.h - a log-bucket latency histogram: fixed size, no allocation per value, a quantile in
 * one pass over the buckets. Used for the per-command latency percentiles (INFO latencystats).
 *
 * Values are unsigned integers (nanoseconds for the callers today). A value below KHIST_SUB
 * has its own bucket; above, each power of two [2^e, 2^(e+1)) is cut into KHIST_SUB buckets, so
 * a reported quantile is at most 1/KHIST_SUB (6.25%) above the true one. Values beyond
 * 2^KHIST_EXP_MAX land in the last bucket (the maximum is kept exactly).
 */
#ifndef KEEL_KHIST_H
#define KEEL_KHIST_H

#include <stdint.h>

#define KHIST_SUB_BITS 4
#define KHIST_SUB      (1u << KHIST_SUB_BITS)
#define KHIST_EXP_MAX  40 /* 2^40 ns is about 18 minutes */
#define KHIST_BUCKETS  ((KHIST_EXP_MAX - KHIST_SUB_BITS + 1) * KHIST_SUB + KHIST_SUB)

typedef struct khist {
    uint64_t count, max;
    uint64_t bucket[KHIST_BUCKETS];
} khist_t;

void khist_add(khist_t *h, uint64_t v);
/* The value at quantile q (0 < q <= 1): the top of the bucket holding it, never above the
 * maximum seen; 0 when empty. */
uint64_t khist_quantile(const khist_t *h, double q);
/* How many values are at most v, when v + 1 is a power of two or v < KHIST_SUB (bucket edges);
 * for other v, the count up to the bucket edge below it. */
uint64_t khist_count_le(const khist_t *h, uint64_t v);

#endif

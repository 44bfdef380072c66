/* test_tiering_util.h - helpers shared by the tiering unit tests: a scratch directory, values
 * that can be checked without storing them, and a loop that waits for results on the tier's
 * eventfd as the server's event loop will. */
#ifndef KEEL_TEST_TIERING_UTIL_H
#define KEEL_TEST_TIERING_UTIL_H

#include <criterion/criterion.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kerr.h"
#include "kmem.h"
#include "tier.h"
#include "util.h"

typedef struct tt_dir {
    char root[64];  /* mkdtemp */
    char tier[128]; /* root/tier: the tier's directory */
    char ckpt[128]; /* root/ckpt: a checkpoint path */
} tt_dir_t;

static inline void
tt_dir_make(tt_dir_t *d) {
    snprintf(d->root, sizeof d->root, "/tmp/keel-tier-test-XXXXXX");
    cr_assert_not_null(mkdtemp(d->root));
    snprintf(d->tier, sizeof d->tier, "%s/tier", d->root);
    snprintf(d->ckpt, sizeof d->ckpt, "%s/ckpt", d->root);
}

static inline void
tt_dir_remove(tt_dir_t *d) {
    cr_assert_eq(tier_checkpoint_remove(d->root), 0);
}

/* The bytes of the value of id, len long: a PRNG stream seeded by (id, len), so a test keeps
 * only the length and can still check every byte. */
static inline void
tt_fill(uint64_t id, size_t len, unsigned char *p) {
    uint64_t x = id * 0x9e3779b97f4a7c15ull ^ (len + 1) * 0xbf58476d1ce4e5b9ull;
    for (size_t i = 0; i < len; i++) {
        if ((i & 7) == 0) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
        }
        p[i] = (unsigned char)(x >> ((i & 7) * 8));
    }
}

static inline int
tt_check(uint64_t id, size_t len, const void *got, size_t got_len) {
    if (got_len != len)
        return 0;
    unsigned char *want = kmalloc(len ? len : 1);
    tt_fill(id, len, want);
    int ok = memcmp(want, got, len) == 0;
    kfree(want);
    return ok;
}

/* Put id with its tt_fill value; the caller's buffer is reused at once (tier_put copies). */
static inline int
tt_put(tier_t *t, uint64_t id, size_t len, void *cookie) {
    unsigned char stackbuf[4096];
    unsigned char *p = len <= sizeof stackbuf ? stackbuf : kmalloc(len);
    tt_fill(id, len, p);
    int rc = tier_put(t, id, p, len, cookie);
    memset(p, 0xee, len); /* proves the tier kept its own copy */
    if (p != stackbuf)
        kfree(p);
    return rc;
}

/* Wait on the eventfd and deliver results until *count reaches target; 1 when it did within
 * timeout_ms, 0 when it timed out. */
static inline int
tt_wait(tier_t *t, const uint64_t *count, uint64_t target, int timeout_ms) {
    uint64_t deadline = util_mono_us() + (uint64_t)timeout_ms * 1000;
    while (*count < target) {
        uint64_t now = util_mono_us();
        if (now >= deadline)
            return 0;
        struct pollfd pfd = {.fd = tier_fd(t), .events = POLLIN};
        int left_ms = (int)((deadline - now) / 1000) + 1;
        if (poll(&pfd, 1, left_ms) > 0)
            tier_poll(t, 0);
    }
    return 1;
}

/* A config with the test's callback and a small memtable, so flushes happen during a test. */
static inline tier_config_t
tt_config(const tt_dir_t *d, tier_done_cb done, void *ctx) {
    tier_config_t c = {0};
    c.dir = d->tier;
    c.threads = 4;
    c.write_buffer_bytes = 2u << 20;
    c.block_cache_bytes = 8u << 20;
    c.done = done;
    c.done_ctx = ctx;
    return c;
}

static inline tier_t *
tt_open(const tier_config_t *c) {
    tier_t *t = NULL;
    char err[512] = "";
    int rc = tier_open(c, &t, err, sizeof err);
    cr_assert_eq(rc, 0, "tier_open: %d %s", rc, err);
    return t;
}

#endif

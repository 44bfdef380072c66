/* test_wal_util.h - helpers shared by the wal/ unit tests: temp directories, configs, a record
 * collector. Header-only so each test binary links just keel_wal. */
#ifndef KEEL_TEST_WAL_UTIL_H
#define KEEL_TEST_WAL_UTIL_H

#include <criterion/criterion.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/kerr.h"
#include "common/kmem.h"
#include "wal/wal.h"
#include "wal/wal_int.h"
#include "wal/wal_io.h"

typedef struct tdirs {
    char root[64];
    char dir[WAL_COPIES_MAX][96];
    const char *dirs[WAL_COPIES_MAX];
    int n;
} tdirs_t;

static inline void
tdirs_make(tdirs_t *t, int n) {
    snprintf(t->root, sizeof t->root, "/tmp/keel-wal-test-XXXXXX");
    cr_assert_not_null(mkdtemp(t->root));
    t->n = n;
    for (int i = 0; i < n; i++) {
        snprintf(t->dir[i], sizeof t->dir[i], "%s/copy%d", t->root, i);
        t->dirs[i] = t->dir[i];
    }
}

static inline int
rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

static inline void
tdirs_remove(tdirs_t *t) {
    nftw(t->root, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static inline wal_config_t
tcfg(tdirs_t *t, int quorum) {
    wal_config_t c = {.dirs = t->dirs,
                      .ndirs = t->n,
                      .quorum = quorum,
                      .sync_each_batch = 1,
                      .segment_size_bytes = 1 << 20,
                      .buffer_bytes_max = 1 << 20};
    return c;
}

/* Collects the records handed to an apply callback. */
typedef struct collect {
    uint64_t n, first, last;
    int in_order;
    uint64_t payload_sum; /* sum of the first payload byte, to see the bytes came back */
} collect_t;

static inline int
collect_cb(void *ctx, const wal_record_t *r) {
    collect_t *c = ctx;
    if (c->n == 0) {
        c->first = r->lsn;
        c->in_order = 1;
    } else if (r->lsn != c->last + 1) {
        c->in_order = 0;
    }
    c->last = r->lsn;
    c->n++;
    if (r->len)
        c->payload_sum += ((const unsigned char *)r->payload)[0];
    return 0;
}

/* Append n records "rec-<lsn>" and return the last LSN. */
static inline int64_t
append_n(wal_t *w, int n) {
    int64_t lsn = 0;
    for (int i = 0; i < n; i++) {
        char buf[64];
        int len = snprintf(buf, sizeof buf, "rec-%d", i);
        lsn = wal_append(w, (uint32_t)(i % 16), buf, (size_t)len);
        if (lsn < 0)
            return lsn;
    }
    return lsn;
}

/* Like the server before it sleeps, hand the staged records over, then wait. */
static inline int
wait_durable(wal_t *w, uint64_t lsn, int ms_max) {
    wal_submit(w);
    for (int i = 0; i < ms_max; i++) {
        if (wal_durable_lsn(w) >= lsn)
            return 1;
        usleep(1000);
    }
    return wal_durable_lsn(w) >= lsn;
}

static inline uint64_t
file_size(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

#endif

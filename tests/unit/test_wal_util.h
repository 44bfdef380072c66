/* test_wal_util.h - helpers shared by the wal/ unit tests: temp directories, configs, a record
 * collector. Header-only so each test binary links just keel_wal. */
#ifndef KEEL_TEST_WAL_UTIL_H
#define KEEL_TEST_WAL_UTIL_H

#include <criterion/criterion.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "crc32c.h"
#include "kerr.h"
#include "kmem.h"
#include "wal.h"
#include "wal_int.h"
#include "wal_io.h"

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

/* Collects cfg->log messages; counts those that start with "WARNING: ". */
typedef struct logbuf {
    char text[16384];
    size_t len;
    int lines, warnings;
} logbuf_t;

static inline void
logbuf_cb(void *ctx, const char *msg) {
    logbuf_t *l = ctx;
    int n = snprintf(l->text + l->len, sizeof l->text - l->len, "%s\n", msg);
    if (n > 0 && l->len + (size_t)n < sizeof l->text)
        l->len += (size_t)n;
    l->lines++;
    l->warnings += strncmp(msg, "WARNING: ", 9) == 0;
}

/* Open the log after last, append n records, close it (a clean shutdown). */
static inline void
session(const wal_config_t *cfg, uint64_t last, int n) {
    wal_t *w;
    cr_assert_eq(wal_open(cfg, last, &w), 0);
    if (n)
        cr_assert_eq(append_n(w, n), (int64_t)(last + (uint64_t)n));
    wal_close(w);
}

/* A session that ends in a crash: a child process opens the log after last, appends rounds of
 * records (each made durable before the next) and exits without wal_close(), as after SIGKILL:
 * what it wrote is in the files (page cache), and there is no seal. */
static inline void
session_crash(const wal_config_t *cfg, uint64_t last, const int *rounds, int nrounds) {
    fflush(NULL);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) { /* no cr_assert here: the child only reports through its exit status */
        wal_t *w;
        if (wal_open(cfg, last, &w) != 0)
            _exit(1);
        for (int r = 0; r < nrounds; r++) {
            last += (uint64_t)rounds[r];
            if (append_n(w, rounds[r]) != (int64_t)last || !wait_durable(w, last, 5000))
                _exit(2);
        }
        _exit(0);
    }
    int st = 0;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "crash session failed: status %d", st);
}

static inline int
count_segments(const char *dir) {
    wal_seg_t *v;
    int n;
    if (wal_list_segments(dir, &v, &n) != 0)
        return -1;
    kfree(v);
    return n;
}

/* Path of segment index of dir (negative: from the end). */
static inline void
seg_path(char *buf, size_t n, const char *dir, int index) {
    wal_seg_t *v;
    int cnt;
    cr_assert_eq(wal_list_segments(dir, &v, &cnt), 0);
    cr_assert_lt(index, cnt);
    snprintf(buf, n, "%s/%s", dir, v[index < 0 ? cnt + index : index].name);
    kfree(v);
}

static inline void
poke(const char *path, uint64_t off, const void *bytes, size_t len) {
    int fd = open(path, O_WRONLY);
    cr_assert_geq(fd, 0);
    cr_assert_eq(pwrite(fd, bytes, len, (off_t)off), (ssize_t)len);
    close(fd);
}

static inline void
flip(const char *path, uint64_t off) {
    int fd = open(path, O_RDWR);
    unsigned char b;
    cr_assert_eq(pread(fd, &b, 1, (off_t)off), 1);
    b ^= 0x40;
    cr_assert_eq(pwrite(fd, &b, 1, (off_t)off), 1);
    close(fd);
}

/* A checksum of every file under dir (names, sizes and bytes), to see nothing changed. */
static inline uint32_t
dir_digest(const char *dir) {
    wal_seg_t *v;
    int n;
    cr_assert_eq(wal_list_segments(dir, &v, &n), 0);
    uint32_t crc = (uint32_t)n;
    for (int i = 0; i < n; i++) {
        char p[256];
        snprintf(p, sizeof p, "%s/%s", dir, v[i].name);
        FILE *f = fopen(p, "rb");
        char buf[65536];
        size_t k;
        crc = crc32c_extend(crc, v[i].name, strlen(v[i].name));
        while ((k = fread(buf, 1, sizeof buf, f)) > 0)
            crc = crc32c_extend(crc, buf, k);
        fclose(f);
    }
    kfree(v);
    return crc;
}

#endif

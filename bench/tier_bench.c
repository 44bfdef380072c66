/*
 * tier_bench.c - tier-bench: what the value tier (tiering/) costs on this machine's disk.
 *
 *   build/tier-bench [-d DIR] [-n VALUES] [-s SECONDS] [-v BYTES] [PART ...]
 *     DIR      the file system under test (default /tmp); a fresh directory is made in it
 *     VALUES   values loaded per configuration (default 500000)
 *     SECONDS  length of each get phase (default 3)
 *     BYTES    value size (default 1024)
 *     PART     floor | ops | compress | bloom | checkpoint  (default: all, in that order)
 *
 * floor       the disk itself: 4 KiB random reads with O_DIRECT over a 1 GiB file, 1 thread
 *             (queue depth 1: the latency floor) and 4 threads (4 in flight), fio-style.
 * ops         for 1..4 worker threads, direct reads off and on: load VALUES values of BYTES
 *             random (incompressible) bytes as fast as the tier takes them (puts/s, stalls),
 *             then random gets of loaded ids for SECONDS with 2 per thread in flight (gets/s,
 *             latency p50/p99 from submit, and of the RocksDB call alone), and the bytes the
 *             process read from storage per get (/proc/self/io: page-cache hits read none).
 * compress    LZ4 vs none (vs ZSTD) on random and on compressible values: load rate, SST
 *             bytes, get rate and latency with direct reads.
 * bloom       the Bloom filter (10 bits/key, optimize_filters_for_hits) on and off, without
 *             and with deletes of older ids during the load (1 per 4 puts): storage bytes read
 *             per get and latency with direct reads, on a many-level tree with a 2 MiB block
 *             cache (standing for a tier far larger than its cache).
 * checkpoint  tier_checkpoint() with a full memtable, and tier_reader_get() over the result.
 *
 * Nothing is asserted: a measurement, not a test, so a CMake target of its own and not part of
 * ctest. docs/tiering.md quotes its figures.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kerr.h"
#include "kmem.h"
#include "sbuf.h"
#include "tier.h"
#include "util.h"

#define KIB (UINT64_C(1) << 10)
#define MIB (UINT64_C(1) << 20)

static const char *g_dir = "/tmp";
static char g_root[512];
static uint64_t g_n = 500000;
static double g_secs = 3;
static size_t g_vlen = 1024;

static void
die(const char *what, int rc) {
    fprintf(stderr, "tier-bench: %s: %s\n", what, kerr_str(rc));
    exit(1);
}

/* ---- latency percentiles of a sample ---- */

static int
cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static uint64_t
pct(uint64_t *v, size_t n, double q) {
    if (n == 0)
        return 0;
    qsort(v, n, sizeof *v, cmp_u64);
    size_t i = (size_t)(q * (double)(n - 1) + 0.5);
    return v[i];
}

/* Bytes this process read from / wrote to storage (not page-cache hits). */
static void
proc_io(uint64_t *rd, uint64_t *wr) {
    *rd = *wr = 0;
    FILE *f = fopen("/proc/self/io", "r");
    if (!f)
        return;
    char line[128];
    while (fgets(line, sizeof line, f)) {
        unsigned long long v;
        if (sscanf(line, "read_bytes: %llu", &v) == 1)
            *rd = v;
        else if (sscanf(line, "write_bytes: %llu", &v) == 1)
            *wr = v;
    }
    fclose(f);
}

/* ---- floor: O_DIRECT random 4 KiB reads ---- */

#define FLOOR_FILE_BYTES (1ull << 30)
#define FLOOR_BLOCK      4096

typedef struct floor_thr {
    int fd;
    double secs;
    uint64_t *lat;
    size_t n, cap;
    uint64_t seed;
} floor_thr_t;

static void *
floor_main(void *arg) {
    floor_thr_t *f = arg;
    void *buf;
    if (posix_memalign(&buf, FLOOR_BLOCK, FLOOR_BLOCK) != 0)
        return NULL;
    uint64_t end = util_mono_us() + (uint64_t)(f->secs * 1e6), x = f->seed;
    while (f->n < f->cap) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        off_t off = (off_t)(x % (FLOOR_FILE_BYTES / FLOOR_BLOCK)) * FLOOR_BLOCK;
        uint64_t t0 = util_mono_us();
        if (pread(f->fd, buf, FLOOR_BLOCK, off) != FLOOR_BLOCK)
            break;
        uint64_t t1 = util_mono_us();
        f->lat[f->n++] = t1 - t0;
        if (t1 >= end)
            break;
    }
    free(buf);
    return NULL;
}

static void
run_floor(void) {
    char path[600];
    snprintf(path, sizeof path, "%s/floor.dat", g_root);
    int fd = open(path, O_CREAT | O_RDWR | O_DIRECT | O_TRUNC, 0644);
    if (fd < 0)
        die("open floor file (O_DIRECT)", KERR_SYS(errno));
    void *buf;
    if (posix_memalign(&buf, 1 << 20, 1 << 20) != 0)
        die("memalign", KERR_NOMEM);
    memset(buf, 0x5a, 1 << 20);
    for (uint64_t off = 0; off < FLOOR_FILE_BYTES; off += 1 << 20)
        if (pwrite(fd, buf, 1 << 20, (off_t)off) != 1 << 20)
            die("write floor file", KERR_SYS(errno));
    fdatasync(fd);
    free(buf);
    printf("\n== floor: O_DIRECT 4 KiB random reads, 1 GiB file in %s\n", g_dir);
    for (int nt = 1; nt <= 4; nt *= 4) {
        floor_thr_t th[4];
        pthread_t tid[4];
        uint64_t t0 = util_mono_us();
        for (int i = 0; i < nt; i++) {
            th[i] = (floor_thr_t){.fd = fd,
                                  .secs = g_secs,
                                  .cap = 2000000,
                                  .seed = 0x9e3779b97f4a7c15ull * (uint64_t)(i + 1)};
            th[i].lat = malloc(th[i].cap * sizeof(uint64_t));
            pthread_create(&tid[i], NULL, floor_main, &th[i]);
        }
        size_t total = 0;
        for (int i = 0; i < nt; i++) {
            pthread_join(tid[i], NULL);
            total += th[i].n;
        }
        double el = (double)(util_mono_us() - t0) / 1e6;
        uint64_t *all = malloc(total * sizeof(uint64_t));
        size_t k = 0;
        for (int i = 0; i < nt; i++) {
            memcpy(all + k, th[i].lat, th[i].n * sizeof(uint64_t));
            k += th[i].n;
            free(th[i].lat);
        }
        printf("  %d thread%s (queue depth %d): %8.0f reads/s  p50 %4" PRIu64 " us  p99 %5" PRIu64
               " us\n",
               nt, nt > 1 ? "s" : " ", nt, (double)total / el, pct(all, total, 0.50),
               pct(all, total, 0.99));
        free(all);
    }
    close(fd);
    unlink(path);
}

/* ---- the tier under load ---- */

typedef struct bench {
    tier_t *t;
    uint64_t results, put_ok, put_stall, put_fail, get_ok, get_miss, get_fail;
    uint64_t *retry; /* stalled puts to submit again */
    uint64_t nretry, retry_cap;
    uint8_t *deleted; /* by id, when load() deletes as it goes */
} bench_t;

static void
bench_cb(void *ctx, tier_result_t *r) {
    bench_t *b = ctx;
    b->results++;
    if (r->op == TIER_OP_PUT) {
        if (r->status == 0) {
            b->put_ok++;
        } else if (r->status == KERR_SYS(EAGAIN)) {
            b->put_stall++;
            if (b->nretry < b->retry_cap)
                b->retry[b->nretry++] = r->id;
        } else {
            b->put_fail++;
        }
    } else if (r->op == TIER_OP_GET) {
        if (r->status == 0)
            b->get_ok++;
        else if (r->status == KERR_NOTFOUND)
            b->get_miss++;
        else
            b->get_fail++;
    }
}

static void
wait_some(bench_t *b) {
    struct pollfd p = {.fd = tier_fd(b->t), .events = POLLIN};
    if (poll(&p, 1, 1000) > 0)
        tier_poll(b->t, 0);
}

/* Value bytes: random (incompressible), or text-like (compressible ~3x by LZ4). */
static void
fill_value(unsigned char *p, size_t len, uint64_t id, int compressible) {
    uint64_t x = id * 0x9e3779b97f4a7c15ull + 1;
    static const char *const words[] = {"user",   "session",   "token",   "2024-06-01",
                                        "active", "\"name\":", "\"id\":", "{",
                                        "}",      ",",         "true",    "en-US"};
    size_t i = 0;
    while (i < len) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        if (compressible) {
            const char *w = words[x % (sizeof words / sizeof words[0])];
            for (size_t k = 0; w[k] && i < len; k++)
                p[i++] = (unsigned char)w[k];
        } else {
            for (int k = 0; k < 8 && i < len; k++)
                p[i++] = (unsigned char)(x >> (8 * k));
        }
    }
}

static tier_t *
bench_open(bench_t *b, tier_config_t *c) {
    char path[600], err[512];
    snprintf(path, sizeof path, "%s/tier", g_root);
    c->dir = path;
    c->done = bench_cb;
    c->done_ctx = b;
    int rc = tier_open(c, &b->t, err, sizeof err);
    if (rc < 0) {
        fprintf(stderr, "tier-bench: %s\n", err);
        exit(1);
    }
    return b->t;
}

/* Put ids 1..n, and with del_every > 0 delete a random earlier id after every del_every puts
 * (the churn of values coming back from the tier); returns the seconds it took until every op
 * was done. A put refused by a write stall is submitted again after 1 ms, as the server would
 * keep the value and retry later. */
static double
load(bench_t *b, uint64_t n, int compressible, unsigned del_every) {
    unsigned char *v = kmalloc(g_vlen);
    kfree(b->deleted);
    b->deleted = kcalloc(n + 1, 1);
    uint64_t t0 = util_mono_us(), sent = 0, id = 1;
    while (id <= n || b->nretry > 0 || b->results < sent) {
        uint64_t next = b->nretry > 0 ? b->retry[b->nretry - 1] : id <= n ? id : 0;
        if (next == 0) {
            wait_some(b);
            continue;
        }
        if (b->nretry > 0)
            usleep(1000);
        fill_value(v, g_vlen, next, compressible);
        int rc = tier_put(b->t, next, v, g_vlen, NULL);
        if (rc == KERR_LIMIT) {
            wait_some(b);
            continue;
        }
        if (rc < 0)
            die("tier_put", rc);
        sent++;
        if (b->nretry > 0 && next == b->retry[b->nretry - 1]) {
            b->nretry--;
        } else {
            if (del_every && id % del_every == 0 && id > 1000) {
                uint64_t victim = 1 + util_random64() % (id - 1000); /* long stored */
                if (!b->deleted[victim] && tier_del(b->t, victim, g_vlen, NULL) == 0) {
                    b->deleted[victim] = 1;
                    sent++;
                }
            }
            id++;
        }
        if ((sent & 63) == 0)
            tier_poll(b->t, 0);
    }
    kfree(v);
    return (double)(util_mono_us() - t0) / 1e6;
}

/* Random gets of stored ids 1..n for g_secs with `depth` in flight; gets/s. */
static double
gets(bench_t *b, uint64_t n, uint32_t depth, uint64_t *storage_read_per_get) {
    uint64_t rd0, wr0, rd1, wr1;
    proc_io(&rd0, &wr0);
    uint64_t ok0 = b->get_ok + b->get_miss, sent = 0, base = b->results;
    uint64_t t0 = util_mono_us(), end = t0 + (uint64_t)(g_secs * 1e6);
    while (util_mono_us() < end) {
        while (sent - (b->results - base) < depth) {
            uint64_t id;
            do
                id = 1 + util_random64() % n;
            while (b->deleted && b->deleted[id]);
            if (tier_get(b->t, id, NULL) < 0)
                break;
            sent++;
        }
        wait_some(b);
    }
    while (b->results - base < sent)
        wait_some(b);
    double el = (double)(util_mono_us() - t0) / 1e6;
    proc_io(&rd1, &wr1);
    uint64_t done = b->get_ok + b->get_miss - ok0;
    *storage_read_per_get = done ? (rd1 - rd0) / done : 0;
    return (double)done / el;
}

static uint64_t
prop(tier_t *t, const char *name) {
    sbuf_t s = {0};
    tier_info_rocksdb(t, &s);
    sbuf_append(&s, "", 1);
    char key[128];
    snprintf(key, sizeof key, "tiering_rocksdb_%s:", name);
    const char *p = strstr(s.p, key);
    uint64_t v = p ? strtoull(p + strlen(key), NULL, 10) : 0;
    sbuf_free(&s);
    return v;
}

/* Let flushes and compactions finish so that the get phase measures gets. */
static void
settle(tier_t *t) {
    for (int i = 0; i < 600; i++) {
        if (prop(t, "num_running_compactions") == 0 && prop(t, "num_running_flushes") == 0 &&
            prop(t, "estimate_pending_compaction_bytes") == 0)
            return;
        usleep(100 * 1000);
    }
}

static uint64_t g_retry[1 << 16]; /* more than puts can be in flight */

static void
bench_reset(bench_t *b) {
    memset(b, 0, sizeof *b);
    b->retry = g_retry;
    b->retry_cap = sizeof g_retry / sizeof g_retry[0];
}

typedef struct cfg_result {
    double put_s, puts_per_s, gets_per_s;
    uint64_t stalls, read_per_get, wr_bytes, sst_bytes, p50, p99, svc50, svc99;
    uint64_t table_readers_mem;
} cfg_result_t;

static cfg_result_t
run_config(tier_config_t c, int compressible, unsigned del_every) {
    bench_t b;
    bench_reset(&b);
    cfg_result_t r = {0};
    uint64_t rd0, wr0, rd1, wr1;
    bench_open(&b, &c);
    proc_io(&rd0, &wr0);
    r.put_s = load(&b, g_n, compressible, del_every);
    r.puts_per_s = (double)g_n / r.put_s;
    r.stalls = b.put_stall;
    settle(b.t);
    proc_io(&rd1, &wr1);
    r.wr_bytes = wr1 - wr0;
    r.sst_bytes = prop(b.t, "total_sst_files_size");
    r.table_readers_mem = prop(b.t, "estimate_table_readers_mem");
    tier_reset_stats(b.t);
    r.gets_per_s = gets(&b, g_n, 2 * (uint32_t)c.threads, &r.read_per_get);
    tier_stats_t st;
    tier_get_stats(b.t, &st);
    r.p50 = st.get_latency_p50_us;
    r.p99 = st.get_latency_p99_us;
    r.svc50 = st.get_service_p50_us;
    r.svc99 = st.get_service_p99_us;
    if (b.put_fail || b.get_fail || b.get_miss)
        printf("  !! failures: put %" PRIu64 " get %" PRIu64 " miss %" PRIu64 "\n", b.put_fail,
               b.get_fail, b.get_miss);
    tier_close(b.t);
    kfree(b.deleted);
    return r;
}

static void
run_ops(void) {
    printf("\n== ops: %" PRIu64 " values of %zu random bytes (LZ4), gets for %.0f s with 2 per"
           " thread in flight\n",
           g_n, g_vlen, g_secs);
    printf("  threads direct |   puts/s  stalls  load s | gets/s   p50   p99 | rocksdb p50   p99 |"
           " storage read/get\n");
    for (int direct = 0; direct <= 1; direct++) {
        for (int th = 1; th <= 4; th++) {
            tier_config_t c = {0};
            c.threads = th;
            c.use_direct_reads = direct;
            cfg_result_t r = run_config(c, 0, 0);
            printf("  %7d %6s | %8.0f %7" PRIu64 " %7.1f | %6.0f %5" PRIu64 " %5" PRIu64
                   " | %11" PRIu64 " %5" PRIu64 " | %8" PRIu64 " B\n",
                   th, direct ? "on" : "off", r.puts_per_s, r.stalls, r.put_s, r.gets_per_s, r.p50,
                   r.p99, r.svc50, r.svc99, r.read_per_get);
            if (th == 4 && direct == 0)
                printf("          (after load: %" PRIu64 " MB SST, %" PRIu64
                       " MB written by the process = %.1fx the values, table readers %" PRIu64
                       " KB)\n",
                       r.sst_bytes / MIB, r.wr_bytes / MIB,
                       (double)r.wr_bytes / (double)(g_n * g_vlen), r.table_readers_mem / KIB);
        }
    }
}

static void
run_compress(void) {
    static const struct {
        tier_compression_t c;
        const char *name;
    } kinds[] = {{TIER_COMPRESS_NONE, "none"},
                 {TIER_COMPRESS_LZ4, "lz4"},
                 {TIER_COMPRESS_ZSTD, "zstd"}};
    printf("\n== compress: 4 threads, direct reads, %" PRIu64 " values of %zu bytes\n", g_n,
           g_vlen);
    printf("  values        codec |   puts/s  SST MB | gets/s   p50   p99 | rocksdb p50 p99\n");
    for (int comp = 0; comp <= 1; comp++) {
        for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
            tier_config_t c = {0};
            c.threads = 4;
            c.use_direct_reads = 1;
            c.compression = kinds[k].c;
            cfg_result_t r = run_config(c, comp, 0);
            printf("  %-12s %5s | %8.0f %7" PRIu64 " | %6.0f %5" PRIu64 " %5" PRIu64 " | %7" PRIu64
                   " %5" PRIu64 "\n",
                   comp ? "compressible" : "random", kinds[k].name, r.puts_per_s, r.sst_bytes / MIB,
                   r.gets_per_s, r.p50, r.p99, r.svc50, r.svc99);
        }
    }
}

static void
run_bloom(void) {
    printf("\n== bloom: 4 threads, direct reads, 4 MiB memtables (more levels), 2 MiB block "
           "cache, %" PRIu64 " values; gets of stored ids only\n",
           g_n);
    printf("  filter  churn | gets/s   p50   p99 | storage read/get | filter+index memory\n");
    for (int k = 0; k < 4; k++) {
        int bloom = k % 2 == 0;
        unsigned del_every = k < 2 ? 0 : 4;
        tier_config_t c = {0};
        c.threads = 4;
        c.use_direct_reads = 1;
        c.write_buffer_bytes = 4 * MIB;
        c.block_cache_bytes = 2 * MIB; /* a tier far larger than its cache */
        c.bloom_bits_per_key = bloom ? 10 : 0;
        cfg_result_t r = run_config(c, 0, del_every);
        printf("  %6s %6s | %6.0f %5" PRIu64 " %5" PRIu64 " | %8" PRIu64 " B       | %" PRIu64
               " KB\n",
               bloom ? "on" : "off", del_every ? "1 in 4" : "none", r.gets_per_s, r.p50, r.p99,
               r.read_per_get, r.table_readers_mem / KIB);
    }
}

static void
run_checkpoint(void) {
    printf("\n== checkpoint: tier_checkpoint with a full memtable, then a reader over it\n");
    bench_t b;
    bench_reset(&b);
    tier_config_t c = {0};
    c.threads = 4;
    bench_open(&b, &c);
    load(&b, g_n, 0, 0);
    settle(b.t);
    /* Fill most of one memtable (16 MiB by default) with fresh values. */
    uint64_t extra = (TIER_WRITE_BUFFER_DEFAULT * 9 / 10) / g_vlen;
    unsigned char *v = kmalloc(g_vlen);
    uint64_t sent = 0, base = b.results;
    for (uint64_t id = g_n + 1; id <= g_n + extra; id++) {
        fill_value(v, g_vlen, id, 0);
        while (tier_put(b.t, id, v, g_vlen, NULL) == KERR_LIMIT)
            wait_some(&b);
        sent++;
    }
    while (b.results - base < sent)
        wait_some(&b);
    kfree(v);
    uint64_t mem = prop(b.t, "cur_size_all_mem_tables");
    char path[600], err[512];
    snprintf(path, sizeof path, "%s/ckpt", g_root);
    uint64_t t0 = util_mono_us();
    int rc = tier_checkpoint(b.t, path, err, sizeof err);
    uint64_t ck_us = util_mono_us() - t0;
    if (rc < 0) {
        fprintf(stderr, "tier-bench: %s\n", err);
        exit(1);
    }
    printf("  checkpoint with %" PRIu64 " MB in memtables: %.1f ms\n", mem / MIB,
           (double)ck_us / 1000);
    t0 = util_mono_us();
    rc = tier_checkpoint_remove(path);
    rc = rc ? rc : tier_checkpoint(b.t, path, err, sizeof err);
    printf("  checkpoint right after (memtable empty): %.1f ms\n",
           (double)(util_mono_us() - t0) / 1000);
    tier_reader_t *r;
    t0 = util_mono_us();
    if ((rc = tier_reader_open(path, &r, err, sizeof err)) < 0) {
        fprintf(stderr, "tier-bench: %s\n", err);
        exit(1);
    }
    uint64_t open_us = util_mono_us() - t0;
    uint64_t n = g_n + extra, got = 0;
    t0 = util_mono_us();
    for (uint64_t id = 1; id <= n; id++) {
        void *val;
        size_t len;
        if (tier_reader_get(r, id, &val, &len, err, sizeof err) == 0) {
            got++;
            kfree(val);
        }
    }
    double el = (double)(util_mono_us() - t0) / 1e6;
    printf("  reader: open %.1f ms; %" PRIu64 " of %" PRIu64
           " ids read in id order, one thread: %.0f gets/s\n",
           (double)open_us / 1000, got, n, (double)got / el);
    tier_reader_close(r);
    tier_checkpoint_remove(path);
    tier_close(b.t);
    kfree(b.deleted);
}

int
main(int argc, char **argv) {
    int opt;
    while ((opt = getopt(argc, argv, "d:n:s:v:")) != -1) {
        switch (opt) {
        case 'd': g_dir = optarg; break;
        case 'n': g_n = strtoull(optarg, NULL, 10); break;
        case 's': g_secs = atof(optarg); break;
        case 'v': g_vlen = strtoull(optarg, NULL, 10); break;
        default:
            fprintf(stderr, "usage: tier-bench [-d DIR] [-n VALUES] [-s SECONDS] [-v BYTES] "
                            "[floor|ops|compress|bloom|checkpoint ...]\n");
            return 2;
        }
    }
    snprintf(g_root, sizeof g_root, "%s/tier-bench-XXXXXX", g_dir);
    if (!mkdtemp(g_root))
        die("mkdtemp", KERR_SYS(errno));
    util_random_seed(7);
    static const struct {
        const char *name;
        void (*run)(void);
    } parts[] = {{"floor", run_floor},
                 {"ops", run_ops},
                 {"compress", run_compress},
                 {"bloom", run_bloom},
                 {"checkpoint", run_checkpoint}};
    for (size_t k = 0; k < sizeof parts / sizeof parts[0]; k++) {
        int want = optind >= argc;
        for (int i = optind; i < argc; i++)
            want |= strcmp(argv[i], parts[k].name) == 0;
        if (want)
            parts[k].run();
    }
    tier_checkpoint_remove(g_root);
    return 0;
}

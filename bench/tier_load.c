/*
 * tier_load.c - a skewed read/write load for a server with tiering on (bench/tiering.sh runs it;
 * a measurement, not a test). redis-benchmark picks keys uniformly; a value tier is only worth
 * measuring under a skew, where a hot set stays in memory and a cold tail lives on SSD.
 *
 *   tier-load load  PORT KEYS VALUE_BYTES            SET key:0..KEYS-1 (pipelined, 1 connection)
 *   tier-load run   PORT KEYS SECONDS THREADS HOT_PCT HOT_KEYS_PCT WRITE_PCT VALUE_BYTES
 *   tier-load disk  SECONDS THREADS FILE...         random 4 KiB O_DIRECT reads: the disk's floor
 *   tier-load warm  PORT FIRST COUNT [DEPTH]          GET key:FIRST.. (pipelined DEPTH deep,
 *                                                     default 256; 1 connection)
 *
 * run: THREADS connections (one thread each, one request in flight: the latency is a client's);
 * a request goes to the hot HOT_KEYS_PCT % of the keys with probability HOT_PCT %, else to any
 * key (HOT_PCT -1: only keys outside the hot part, the cold tail; -2: a Zipf distribution with
 * exponent 0.99 over all keys, key:0 first); WRITE_PCT % of requests are SETs of a new value of the same size (whole-value overwrites,
 * which need no fetch), the rest GETs. Prints requests/s and latency percentiles of each kind.
 */
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <sys/stat.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LAT_MAX (1u << 20) /* latency samples per thread and kind */

typedef struct worker {
    int port, id;
    long keys, seconds;
    int hot_pct, hot_keys_pct, write_pct;
    size_t vlen;
    uint64_t n[2], errors;
    uint32_t *lat[2]; /* us: [0] GET, [1] SET */
} worker_t;

static uint64_t
now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static uint64_t
rnd(uint64_t *s) { /* xorshift64* */
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ull;
}

/* HOT_PCT -2: keys by a Zipf distribution (exponent ZIPF_S) over all keys, key:0 the most
 * requested: one table of the cumulative probabilities, shared by the threads, read-only. */
#define HOT_ZIPF -2
#define ZIPF_S   0.99
static double *zipf_cdf;
static long zipf_n;

static void
zipf_init(long n) {
    zipf_n = n;
    zipf_cdf = malloc((size_t)n * sizeof *zipf_cdf);
    double sum = 0;
    for (long i = 0; i < n; i++)
        zipf_cdf[i] = (sum += 1.0 / pow((double)(i + 1), ZIPF_S));
    for (long i = 0; i < n; i++)
        zipf_cdf[i] /= sum;
}

static long
zipf_pick(uint64_t r) {
    double u = (double)(r >> 11) / (double)(1ull << 53);
    long lo = 0, hi = zipf_n - 1;
    while (lo < hi) { /* the first rank whose cumulative probability reaches u */
        long mid = lo + (hi - lo) / 2;
        if (zipf_cdf[mid] < u)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void *
run_cb(void *arg) {
    worker_t *w = arg;
    redisContext *c = redisConnect("127.0.0.1", w->port);
    if (!c || c->err) {
        fprintf(stderr, "connect: %s\n", c ? c->errstr : "no memory");
        exit(1);
    }
    /* A new sequence of keys at every run: runs that repeated one would find the keys an earlier
     * run had brought back into memory (a comparison's rounds run one after the other). */
    uint64_t seed =
        (0x9E3779B97F4A7C15ull * (uint64_t)(w->id + 1)) ^ now_us() ^ ((uint64_t)getpid() << 32);
    if (seed == 0)
        seed = 1; /* xorshift's one fixed point */
    char *val = malloc(w->vlen);
    memset(val, 'w', w->vlen);
    long hot = w->keys * w->hot_keys_pct / 100;
    if (hot < 1)
        hot = 1;
    uint64_t end = now_us() + (uint64_t)w->seconds * 1000000u;
    for (uint64_t t0 = now_us(); t0 < end; t0 = now_us()) {
        long k;
        if (w->hot_pct == HOT_ZIPF)
            k = zipf_pick(rnd(&seed));
        else if (w->hot_pct < 0) /* the cold tail only */
            k = hot + (long)(rnd(&seed) % (uint64_t)(w->keys > hot ? w->keys - hot : 1));
        else if ((long)(rnd(&seed) % 100) < w->hot_pct)
            k = (long)(rnd(&seed) % (uint64_t)hot);
        else
            k = (long)(rnd(&seed) % (uint64_t)w->keys);
        int kind = (int)(rnd(&seed) % 100) < w->write_pct;
        char key[32];
        snprintf(key, sizeof key, "key:%ld", k);
        redisReply *r =
            kind ? redisCommand(c, "SET %s %b", key, val, w->vlen) : redisCommand(c, "GET %s", key);
        if (!r) {
            fprintf(stderr, "request: %s\n", c->errstr);
            exit(1);
        }
        if (r->type == REDIS_REPLY_ERROR || (!kind && r->type != REDIS_REPLY_STRING))
            w->errors++;
        freeReplyObject(r);
        uint64_t us = now_us() - t0;
        if (w->n[kind] < LAT_MAX)
            w->lat[kind][w->n[kind]] = (uint32_t)(us > UINT32_MAX ? UINT32_MAX : us);
        w->n[kind]++;
    }
    free(val);
    redisFree(c);
    return NULL;
}

static int
cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static void
report(const char *name, worker_t *ws, int nw, int kind, long seconds) {
    size_t total = 0, kept = 0;
    for (int i = 0; i < nw; i++) {
        total += ws[i].n[kind];
        kept += ws[i].n[kind] < LAT_MAX ? ws[i].n[kind] : LAT_MAX;
    }
    if (total == 0)
        return;
    uint32_t *all = malloc(kept * sizeof *all);
    size_t off = 0;
    for (int i = 0; i < nw; i++) {
        size_t n = ws[i].n[kind] < LAT_MAX ? ws[i].n[kind] : LAT_MAX;
        memcpy(all + off, ws[i].lat[kind], n * sizeof *all);
        off += n;
    }
    qsort(all, kept, sizeof *all, cmp_u32);
    printf("%s: %zu requests, %.0f/s, latency us p50 %u p99 %u p99.9 %u max %u\n", name, total,
           (double)total / (double)seconds, all[kept / 2], all[kept * 99 / 100],
           all[kept * 999 / 1000], all[kept - 1]);
    free(all);
}

static int
load(int port, long keys, size_t vlen) {
    redisContext *c = redisConnect("127.0.0.1", port);
    if (!c || c->err) {
        fprintf(stderr, "connect: %s\n", c ? c->errstr : "no memory");
        return 1;
    }
    char *val = malloc(vlen);
    uint64_t seed = 42, t0 = now_us();
    for (long i = 0; i < keys; i += 256) {
        long n = keys - i < 256 ? keys - i : 256;
        for (long j = 0; j < n; j++) {
            for (size_t b = 0; b < vlen; b += 8) { /* incompressible, like most values */
                uint64_t x = rnd(&seed);
                memcpy(val + b, &x, vlen - b < 8 ? vlen - b : 8);
            }
            char key[32];
            snprintf(key, sizeof key, "key:%ld", i + j);
            redisAppendCommand(c, "SET %s %b", key, val, vlen);
        }
        for (long j = 0; j < n; j++) {
            redisReply *r;
            if (redisGetReply(c, (void **)&r) != REDIS_OK) {
                fprintf(stderr, "load: %s\n", c->errstr);
                return 1;
            }
            freeReplyObject(r);
        }
    }
    double s = (double)(now_us() - t0) / 1e6;
    printf("load: %ld keys of %zu bytes in %.1f s (%.0f/s)\n", keys, vlen, s, (double)keys / s);
    free(val);
    redisFree(c);
    return 0;
}

/* GET key:first .. key:first+count-1, pipelined: brings a hot set back into memory. */
static int
warm(int port, long first, long count, long depth) {
    redisContext *c = redisConnect("127.0.0.1", port);
    if (!c || c->err) {
        fprintf(stderr, "connect: %s\n", c ? c->errstr : "no memory");
        return 1;
    }
    long missing = 0;
    for (long i = 0; i < count; i += depth) {
        long n = count - i < depth ? count - i : depth;
        for (long j = 0; j < n; j++)
            redisAppendCommand(c, "GET key:%ld", first + i + j);
        for (long j = 0; j < n; j++) {
            redisReply *r;
            if (redisGetReply(c, (void **)&r) != REDIS_OK) {
                fprintf(stderr, "warm: %s\n", c->errstr);
                return 1;
            }
            missing += r->type != REDIS_REPLY_STRING;
            freeReplyObject(r);
        }
    }
    redisFree(c);
    if (missing)
        fprintf(stderr, "warm: %ld of %ld keys had no value\n", missing, count);
    return missing != 0;
}

/* The device's floor: random 4 KiB reads with O_DIRECT (no page cache) at aligned offsets of the
 * given files (the tier's own SST files), THREADS threads for SECONDS. */
typedef struct disk_worker {
    int nfiles, id;
    const int *fds;
    const off_t *sizes;
    long seconds;
    uint64_t n;
    uint32_t *lat;
} disk_worker_t;

static void *
disk_cb(void *arg) {
    disk_worker_t *w = arg;
    void *buf;
    if (posix_memalign(&buf, 4096, 4096) != 0)
        exit(1);
    uint64_t seed = now_us() ^ (uint64_t)(w->id + 1) * 0x9E3779B97F4A7C15ull;
    uint64_t end = now_us() + (uint64_t)w->seconds * 1000000u;
    for (uint64_t t0 = now_us(); t0 < end; t0 = now_us()) {
        int f = (int)(rnd(&seed) % (uint64_t)w->nfiles);
        off_t blocks = w->sizes[f] / 4096;
        off_t off = (off_t)(rnd(&seed) % (uint64_t)(blocks > 0 ? blocks : 1)) * 4096;
        if (pread(w->fds[f], buf, 4096, off) < 0) {
            perror("pread");
            exit(1);
        }
        uint64_t us = now_us() - t0;
        if (w->n < LAT_MAX)
            w->lat[w->n] = (uint32_t)(us > UINT32_MAX ? UINT32_MAX : us);
        w->n++;
    }
    free(buf);
    return NULL;
}

static int
disk(long seconds, int threads, int nfiles, char **files) {
    int *fds = calloc((size_t)nfiles, sizeof *fds);
    off_t *sizes = calloc((size_t)nfiles, sizeof *sizes);
    int n = 0;
    for (int i = 0; i < nfiles; i++) {
        int fd = open(files[i], O_RDONLY | O_DIRECT);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) < 0 || st.st_size < 4096) {
            if (fd >= 0)
                close(fd);
            continue;
        }
        fds[n] = fd;
        sizes[n++] = st.st_size;
    }
    if (n == 0) {
        fprintf(stderr, "disk: no readable file of 4 KiB or more\n");
        return 1;
    }
    disk_worker_t *ws = calloc((size_t)threads, sizeof *ws);
    pthread_t *th = calloc((size_t)threads, sizeof *th);
    for (int i = 0; i < threads; i++) {
        ws[i] = (disk_worker_t){n, i, fds, sizes, seconds, 0, malloc(LAT_MAX * sizeof(uint32_t))};
        pthread_create(&th[i], NULL, disk_cb, &ws[i]);
    }
    size_t total = 0, kept = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(th[i], NULL);
        total += ws[i].n;
        kept += ws[i].n < LAT_MAX ? ws[i].n : LAT_MAX;
    }
    uint32_t *all = malloc(kept * sizeof *all);
    size_t off = 0;
    for (int i = 0; i < threads; i++) {
        size_t k = ws[i].n < LAT_MAX ? ws[i].n : LAT_MAX;
        memcpy(all + off, ws[i].lat, k * sizeof *all);
        off += k;
    }
    qsort(all, kept, sizeof *all, cmp_u32);
    printf("disk: %d threads, %zu reads of 4 KiB (O_DIRECT), %.0f/s, latency us p50 %u p99 %u "
           "p99.9 %u\n",
           threads, total, (double)total / (double)seconds, all[kept / 2], all[kept * 99 / 100],
           all[kept * 999 / 1000]);
    return 0;
}

int
main(int argc, char **argv) {
    if (argc >= 5 && !strcmp(argv[1], "disk"))
        return disk(atol(argv[2]), atoi(argv[3]), argc - 4, argv + 4);
    if (argc == 5 && !strcmp(argv[1], "load"))
        return load(atoi(argv[2]), atol(argv[3]), (size_t)atol(argv[4]));
    if ((argc == 5 || argc == 6) && !strcmp(argv[1], "warm"))
        return warm(atoi(argv[2]), atol(argv[3]), atol(argv[4]),
                    argc == 6 && atol(argv[5]) > 0 ? atol(argv[5]) : 256);
    if (argc != 10 || strcmp(argv[1], "run") != 0) {
        fprintf(stderr, "usage: tier-load load PORT KEYS VALUE_BYTES\n"
                        "       tier-load warm PORT FIRST COUNT [DEPTH]\n"
                        "       tier-load disk SECONDS THREADS FILE...\n"
                        "       tier-load run PORT KEYS SECONDS THREADS HOT_PCT HOT_KEYS_PCT "
                        "WRITE_PCT VALUE_BYTES\n");
        return 2;
    }
    int nw = atoi(argv[5]);
    if (atoi(argv[6]) == HOT_ZIPF)
        zipf_init(atol(argv[3]));
    worker_t *ws = calloc((size_t)nw, sizeof *ws);
    pthread_t *th = calloc((size_t)nw, sizeof *th);
    for (int i = 0; i < nw; i++) {
        ws[i] = (worker_t){.port = atoi(argv[2]),
                           .id = i,
                           .keys = atol(argv[3]),
                           .seconds = atol(argv[4]),
                           .hot_pct = atoi(argv[6]),
                           .hot_keys_pct = atoi(argv[7]),
                           .write_pct = atoi(argv[8]),
                           .vlen = (size_t)atol(argv[9])};
        ws[i].lat[0] = malloc(LAT_MAX * sizeof(uint32_t));
        ws[i].lat[1] = malloc(LAT_MAX * sizeof(uint32_t));
        pthread_create(&th[i], NULL, run_cb, &ws[i]);
    }
    uint64_t errors = 0;
    for (int i = 0; i < nw; i++) {
        pthread_join(th[i], NULL);
        errors += ws[i].errors;
    }
    report("GET", ws, nw, 0, ws[0].seconds);
    report("SET", ws, nw, 1, ws[0].seconds);
    printf("errors (error replies, or a GET that found no value): %llu\n",
           (unsigned long long)errors);
    return errors ? 1 : 0;
}

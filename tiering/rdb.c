/*
 * rdb.c - the tier's RocksDB settings and the directory it lives in.
 *
 * Settings, each with its reason (figures in docs/tiering.md):
 *   - WAL off (WriteOptions.disableWAL, in tier.c), no sync: the tier is rebuilt after a crash.
 *     avoid_flush_during_shutdown: closing drops the memtable instead of writing it out.
 *   - no_slowdown for puts (tier.c): a put that RocksDB would delay or stop (memtables full,
 *     too many L0 files) fails at once with -EAGAIN, so a worker does not sleep in a write
 *     stall, and the owner keeps the value in memory: back-pressure without blocking. Dels
 *     wait a stall out instead (a refused del would leave the value behind until restart);
 *     gets never wait behind them (tier.c: at most threads - 1 workers run writes).
 *   - Memtable write_buffer_bytes (16 MiB), at most 3: a value in a memtable is still in RAM
 *     until the flush, and a checkpoint waits for that flush, so it stays small.
 *   - Block-based table, 4 KiB blocks: with direct reads a get of a small value is one 4 KiB
 *     read, the SSD's page. Index blocks (and filters, when on) stay in the table readers (not
 *     the block cache), so a get never reads them from disk; their memory is the
 *     tiering_rocksdb_estimate_table_readers_mem figure.
 *   - No Bloom filter by default (bloom_bits_per_key adds one, with optimize_filters_for_hits:
 *     none on the bottom level, where every get for a stored id ends anyway). Ids grow, so the
 *     key ranges of the files of different levels hardly overlap and RocksDB skips a level by
 *     range before any filter would be asked; the few blocks that overlap (deletes' tombstones
 *     of old ids in new files) are read by every get and stay in the block cache. Measured: the
 *     same storage bytes per get with and without a filter, with and without deletes, with a
 *     64 MiB and a 2 MiB block cache; the filter costs 0.5-1 byte of RAM per key.
 *   - Compression per tier_config_t (LZ4 by default: measured ~free on incompressible values).
 *   - level_compaction_dynamic_level_bytes: bounded space amplification as the tier grows.
 *   - No periodic stats dump (INFO has the figures) and no info LOG (no_info_log says why).
 *
 * Directory (tier_dir_prepare): <dir>/keel.lock (the owner's flock), <dir>/KEEL-TIER (the
 * marker that allows wiping), <dir>/db (RocksDB). Anything else found there at open is removed
 * when the marker is present; without it only an empty directory (or one holding just
 * keel.lock) is taken, so a tier pointed at a data directory by mistake refuses to start.
 */
#include "tier_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kerr.h"
#include "klock.h"

#define BLOCK_SIZE_BYTES  4096
#define WRITE_BUFFERS_MAX 3
#define BG_JOBS_MAX       2
#define BYTES_PER_SYNC    (1u << 20)
#define MARKER_TEXT                                                                                \
    "Keel value tier: everything in this directory is wiped at every start and rebuilt from "      \
    "the server's log and snapshots. Keep no data here.\n"

int
tier_rdb_status(const char *msg) {
    if (!msg)
        return KERR_SYS(EIO);
    if (strncmp(msg, "Result incomplete", 17) == 0)
        return KERR_SYS(EAGAIN);
    if (strstr(msg, "No space left"))
        return KERR_SYS(ENOSPC);
    if (strncmp(msg, "Corruption", 10) == 0)
        return KERR_CORRUPT;
    if (strncmp(msg, "Invalid argument", 16) == 0)
        return KERR_INVAL;
    return KERR_SYS(EIO);
}

static int
compression_of(tier_compression_t c) {
    switch (c) {
    case TIER_COMPRESS_NONE: return rocksdb_no_compression;
    case TIER_COMPRESS_ZSTD: return rocksdb_zstd_compression;
    case TIER_COMPRESS_SNAPPY: return rocksdb_snappy_compression;
    case TIER_COMPRESS_LZ4:
    default: return rocksdb_lz4_compression;
    }
}

/* Options the C API has no setter for, applied from RocksDB's option string syntax. */
static rocksdb_options_t *
options_base(const char *extra) {
    rocksdb_options_t *blank = rocksdb_options_create();
    rocksdb_options_t *o = rocksdb_options_create();
    char *err = NULL;
    rocksdb_get_options_from_string(blank, extra, o, &err);
    rocksdb_options_destroy(blank);
    if (err) { /* a wrong option name is a bug of this file, found by every test */
        fprintf(stderr, "tier: bad RocksDB option string \"%s\": %s\n", extra, err);
        rocksdb_free(err);
        rocksdb_options_destroy(o);
        return rocksdb_options_create();
    }
    return o;
}

/* No info LOG lines. RocksDB 7.8 writes its LOG through a WritableFileWriter, which (Debian
 * builds RocksDB with assertions on) aborts the process at the next write after a failed one: a
 * full tier disk took the whole process down in 1 of 7 runs filling a small tmpfs, always in
 * the LOG write of a failed flush. At HEADER_LEVEL nothing is logged at run time (the LOG file
 * stays empty; 0 aborts in 30 runs); errors come back through statuses and INFO instead. */
#define INFO_LOG_LEVEL_HEADER 5 /* rocksdb::InfoLogLevel::HEADER_LEVEL */
static void
no_info_log(rocksdb_options_t *o) {
    rocksdb_options_set_info_log_level(o, INFO_LOG_LEVEL_HEADER);
    rocksdb_options_set_keep_log_file_num(o, 1);
}

rocksdb_options_t *
tier_rdb_options(const tier_config_t *cfg, rocksdb_cache_t **cache) {
    rocksdb_options_t *o = options_base("avoid_flush_during_shutdown=true");
    rocksdb_options_set_create_if_missing(o, 1);
    rocksdb_options_set_error_if_exists(o, 1);
    rocksdb_options_set_write_buffer_size(o, cfg->write_buffer_bytes);
    rocksdb_options_set_max_write_buffer_number(o, WRITE_BUFFERS_MAX);
    rocksdb_options_set_compression(o, compression_of(cfg->compression));
    rocksdb_options_set_level_compaction_dynamic_level_bytes(o, 1);
    rocksdb_options_set_max_background_jobs(o, BG_JOBS_MAX);
    rocksdb_options_set_use_direct_reads(o, cfg->use_direct_reads ? 1 : 0);
    rocksdb_options_set_optimize_filters_for_hits(o, 1);
    rocksdb_options_set_bytes_per_sync(o, BYTES_PER_SYNC);
    rocksdb_options_set_stats_dump_period_sec(o, 0);
    rocksdb_options_set_stats_persist_period_sec(o, 0);
    no_info_log(o);

    rocksdb_block_based_table_options_t *t = rocksdb_block_based_options_create();
    rocksdb_block_based_options_set_block_size(t, BLOCK_SIZE_BYTES);
    *cache = rocksdb_cache_create_lru(cfg->block_cache_bytes);
    rocksdb_block_based_options_set_block_cache(t, *cache);
    if (cfg->bloom_bits_per_key > 0) /* the table options own the policy from here */
        rocksdb_block_based_options_set_filter_policy(t, rocksdb_filterpolicy_create_bloom_full(
                                                             (double)cfg->bloom_bits_per_key));
    rocksdb_options_set_block_based_table_factory(o, t); /* copies t */
    rocksdb_block_based_options_destroy(t);
    return o;
}

rocksdb_options_t *
tier_rdb_reader_options(void) {
    rocksdb_options_t *o = options_base("skip_checking_sst_file_sizes_on_db_open=true");
    rocksdb_options_set_stats_dump_period_sec(o, 0);
    rocksdb_options_set_stats_persist_period_sec(o, 0);
    no_info_log(o);
    rocksdb_options_set_skip_stats_update_on_db_open(o, 1);
    /* Open the table files on the calling thread: the open may run in a forked child, which
     * should start no thread (RocksDB starts up to 16 for many files, and joins them). */
    rocksdb_options_set_max_file_opening_threads(o, 1);
    rocksdb_block_based_table_options_t *t = rocksdb_block_based_options_create();
    /* Each value is read once: a cache would only hold what is never read again. */
    rocksdb_block_based_options_set_no_block_cache(t, 1);
    rocksdb_options_set_block_based_table_factory(o, t);
    rocksdb_block_based_options_destroy(t);
    return o;
}

static int
rm_entry_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb;
    (void)ftw;
    int rc = flag == FTW_DP ? rmdir(path) : unlink(path);
    return rc == 0 || errno == ENOENT ? 0 : -errno;
}

int
tier_rm_tree(const char *path) {
    struct stat st;
    if (lstat(path, &st) != 0)
        return errno == ENOENT ? 0 : KERR_SYS(errno);
    if (!S_ISDIR(st.st_mode))
        return unlink(path) == 0 ? 0 : KERR_SYS(errno);
    int rc = nftw(path, rm_entry_cb, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
    if (rc > 0) /* nftw's own failure */
        return KERR_SYS(errno ? errno : EIO);
    return rc;
}

/* Whether dir may be wiped: 1 yes, 0 no (name of an unknown entry in *what), < 0 error. */
static int
dir_is_wipeable(const char *dir, char *what, size_t whatlen) {
    DIR *d = opendir(dir);
    if (!d)
        return KERR_SYS(errno);
    int marker = 0, other = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
            strcmp(e->d_name, KLOCK_FILE) == 0)
            continue;
        if (strcmp(e->d_name, TIER_MARKER_FILE) == 0) {
            marker = 1;
        } else if (!other) {
            other = 1;
            snprintf(what, whatlen, "%s", e->d_name);
        }
    }
    closedir(d);
    return marker || !other;
}

static int
wipe(const char *dir) {
    DIR *d = opendir(dir);
    if (!d)
        return KERR_SYS(errno);
    int rc = 0;
    struct dirent *e;
    char path[4096];
    while (rc == 0 && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
            strcmp(e->d_name, KLOCK_FILE) == 0)
            continue;
        if (snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= (int)sizeof path)
            rc = KERR_SYS(ENAMETOOLONG);
        else
            rc = tier_rm_tree(path);
    }
    closedir(d);
    return rc;
}

static int
write_marker(const char *dir) {
    char path[4096];
    if (snprintf(path, sizeof path, "%s/%s", dir, TIER_MARKER_FILE) >= (int)sizeof path)
        return KERR_SYS(ENAMETOOLONG);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return KERR_SYS(errno);
    size_t n = sizeof MARKER_TEXT - 1;
    ssize_t w = write(fd, MARKER_TEXT, n);
    int rc = w == (ssize_t)n ? 0 : w < 0 ? KERR_SYS(errno) : KERR_SYS(ENOSPC); /* short: full */
    close(fd);
    return rc;
}

int
tier_dir_prepare(const char *dir, klock_t *lock, char *errbuf, size_t errlen) {
    lock->fd = -1;
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        int e = errno;
        snprintf(errbuf, errlen, "cannot create tier directory %s: %s", dir, strerror(e));
        return KERR_SYS(e);
    }
    char what[256] = "";
    int rc = dir_is_wipeable(dir, what, sizeof what);
    if (rc < 0) {
        snprintf(errbuf, errlen, "cannot read tier directory %s: %s", dir, kerr_str(rc));
        return rc;
    }
    if (rc == 0) {
        snprintf(errbuf, errlen,
                 "tier directory %s holds %s but no %s file: not a tier directory, refusing to "
                 "wipe it (point the tier at an empty or new directory)",
                 dir, what, TIER_MARKER_FILE);
        return KERR_EXISTS;
    }
    pid_t holder = 0;
    rc = klock_acquire(lock, dir, true, &holder);
    if (rc == KERR_BUSY) {
        snprintf(errbuf, errlen, "tier directory %s is in use by another process (pid %d)", dir,
                 (int)holder);
        return rc;
    }
    if (rc < 0) {
        snprintf(errbuf, errlen, "cannot lock tier directory %s: %s", dir, kerr_str(rc));
        return rc;
    }
    if ((rc = wipe(dir)) < 0) {
        snprintf(errbuf, errlen, "cannot wipe tier directory %s: %s", dir, kerr_str(rc));
        klock_release(lock);
        return rc;
    }
    if ((rc = write_marker(dir)) < 0) {
        snprintf(errbuf, errlen, "cannot write %s/%s: %s", dir, TIER_MARKER_FILE, kerr_str(rc));
        klock_release(lock);
        return rc;
    }
    return 0;
}

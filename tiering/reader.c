/*
 * reader.c - reading a tier checkpoint from a forked snapshot child (tier.h, docs/tiering.md).
 *
 * A checkpoint (tier_checkpoint, in tier.c) is a RocksDB database of its own: hard links to the
 * tier's SST files plus a copy of its MANIFEST, taken after a memtable flush. The reader opens
 * it read-only: no memtable, no flush or compaction, so no background work is ever scheduled,
 * and every SST file is opened at open time (max_open_files -1). A get then needs no thread and
 * takes no lock that any thread of the parent could hold: only the reader's own (fresh)
 * structures and pread() on its own file descriptors. Two ways to use it after a fork:
 *   (a) the child opens it (tier_reader_open in the child): the open runs RocksDB's
 *       DB::OpenForReadOnly in a process that is a fork of a multi-threaded one. The open takes
 *       a mutex of RocksDB's process-wide default Env (SanitizeOptions ->
 *       IncBackgroundThreadsIfNeeded, its thread pools); if one of the parent's RocksDB
 *       background threads held it at the instant of the fork, the child's open would wait
 *       forever. The window is a few instructions per background job, so it is rare, but it is
 *       not zero.
 *   (b) the parent opens it between tier_checkpoint() and fork(), the child uses it, the parent
 *       closes its copy right after the fork. No RocksDB code runs in the child but the get
 *       path. This is the way docs/tiering.md recommends; both are tested
 *       (tests/unit/test_tiering_checkpoint.c).
 * Either way the child leaves with _exit() without closing the reader (closing a database
 * unschedules its background work under that same mutex) and never touches the parent's
 * tier_t.
 */
#include "tier_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "kerr.h"
#include "kmem.h"

struct tier_reader {
    rocksdb_t *db;
    rocksdb_options_t *opts;
    rocksdb_readoptions_t *ropts;
};

int
tier_reader_open(const char *path, tier_reader_t **out, char *errbuf, size_t errlen) {
    *out = NULL;
    tier_reader_t *r = kcalloc(1, sizeof *r);
    r->opts = tier_rdb_reader_options();
    char *err = NULL;
    r->db = rocksdb_open_for_read_only(r->opts, path, 0, &err);
    if (err) {
        int rc = tier_rdb_status(err);
        snprintf(errbuf, errlen, "cannot open tier checkpoint %s: %s", path, err);
        rocksdb_free(err);
        rocksdb_options_destroy(r->opts);
        kfree(r);
        return rc;
    }
    r->ropts = rocksdb_readoptions_create();
    rocksdb_readoptions_set_fill_cache(r->ropts, 0);
    *out = r;
    return 0;
}

int
tier_reader_get(tier_reader_t *r, uint64_t id, void **value, size_t *len, char *errbuf,
                size_t errlen) {
    *value = NULL;
    *len = 0;
    char key[TIER_KEY_LEN];
    tier_key_encode(id, key);
    char *err = NULL;
    rocksdb_pinnableslice_t *p = rocksdb_get_pinned(r->db, r->ropts, key, sizeof key, &err);
    if (err) {
        int rc = tier_rdb_status(err);
        snprintf(errbuf, errlen, "tier checkpoint get %" PRIu64 ": %s", id, err);
        rocksdb_free(err);
        return rc;
    }
    if (!p)
        return KERR_NOTFOUND;
    size_t n;
    const char *v = rocksdb_pinnableslice_value(p, &n);
    *value = kmalloc(n);
    memcpy(*value, v, n);
    *len = n;
    rocksdb_pinnableslice_destroy(p);
    return 0;
}

void
tier_reader_close(tier_reader_t *r) {
    if (!r)
        return;
    rocksdb_close(r->db);
    rocksdb_readoptions_destroy(r->ropts);
    rocksdb_options_destroy(r->opts);
    kfree(r);
}

int
tier_checkpoint_remove(const char *path) {
    return tier_rm_tree(path);
}

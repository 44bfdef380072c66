/*
 * snapshot_save.c - writing the keyspace as a snapshot: SAVE in the foreground, BGSAVE in a
 * forked child (docs/formats/snapshot.md).
 *
 * The walk: snap_write() runs one part per writer thread; part p of n takes the index range
 * [span*p/n, span*(p+1)/n) of every database's table (ht_walk_span/ht_walk_range), so the parts
 * are disjoint and together cover every key once. The table must not change meanwhile: in the
 * child it is a frozen copy; in SAVE the main thread waits inside snap_write().
 *
 * BGSAVE:
 *   parent: wait until the log is durable through s->last_lsn_assigned (the LSN the snapshot
 *           will claim: every effect up to it is in memory now, and a snapshot must never claim
 *           effects a crash could take out of the log, or the log would restart with a gap);
 *           fork; ht_set_resize_policy(0) while the child lives (fewer copy-on-write pages).
 *   child:  dies with its parent (PR_SET_PDEATHSIG), closes the listening socket (a restarted
 *           server must be able to bind), writes the file (snap_write: .tmp, fsync, rename,
 *           directory fsync), sends a report through a pipe and _exit()s.
 *   parent: snapshot_cron() reaps it (waitpid WNOHANG), reads the report, then retention.
 *
 * Exports (snapshot_export_start): the same fork, in another format and to another name, for a
 * replica that reads an older format; the result waits for snapshot_export_poll, and neither
 * retention nor LASTSAVE sees it (the file is not this node's snapshot).
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "latency.h"
#include "conn.h"
#include "kerr.h"
#include "kmem.h"
#include "persist_int.h"
#include "script.h"
#include "snapshot_glue_int.h"
#include "util.h"
#include "ht.h"
#include "wal.h"
#include "tiering.h"
#include "t_hash.h"
#include "lp.h"

#define WAIT_LOG_MS_MAX 10000 /* longest SAVE/BGSAVE waits for the log to catch up */

typedef struct save_ctx {
    engine_t *s;
    uint32_t
        delay_ms; /* test hook: each part sleeps this long first (KEEL_DEBUG_SNAPSHOT_DELAY_MS) */
} save_ctx_t;

typedef struct walk_ctx {
    engine_t *s;
    snap_sink_t *sink;
    uint32_t db;
    bool zset;
    int rc; /* first error; the walk skips the rest once set */
} walk_ctx_t;

static int
snap_type_of(int type) {
    switch (type) {
    case OBJ_LIST: return SNAP_LIST;
    case OBJ_HASH: return SNAP_HASH;
    case OBJ_SET: return SNAP_SET;
    case OBJ_ZSET: return SNAP_ZSET;
    case OBJ_BLOOM: return SNAP_BLOOM;
    case OBJ_STREAM: return SNAP_STREAM;
    default: return 0;
    }
}

static void
put_elem_cb(void *ctx, const char *p, size_t n, double score) {
    walk_ctx_t *w = ctx;
    if (w->rc)
        return;
    w->rc = w->zset ? snap_put_zelem(w->sink, p, n, score) : snap_put_elem(w->sink, p, n);
}

/* A tiered collection: its value encoding (object.h) read back into the snapshot's records. */
static int
put_encoded(walk_ctx_t *w, int type, const char *key, size_t klen, int64_t expire, const void *v,
            size_t vlen) {
    uint64_t count;
    int st = snap_type_of(type);
    if (!st || obj_value_each(type, v, vlen, &count, NULL, NULL) < 0)
        return KERR_CORRUPT;
    int rc =
        snap_put_begin(w->sink, st, w->db, key, klen, expire, type == OBJ_HASH ? count / 2 : count);
    if (rc)
        return rc;
    w->zset = type == OBJ_ZSET;
    obj_value_each(type, v, vlen, &count, put_elem_cb, w);
    return w->rc ? w->rc : snap_put_end(w->sink);
}

/* A hash with field expiries: a HASH_TTL record, each field as field, value, expiry. */
static int
put_hash_ttl(walk_ctx_t *w, const thash_t *h, const char *key, size_t klen, int64_t expire) {
    int rc = snap_put_begin(w->sink, SNAP_HASH_TTL, w->db, key, klen, expire, hash_len(h));
    hash_iter_t it;
    hpair_t pr;
    int64_t ms;
    char fb[LP_INTBUF_MAX], vb[LP_INTBUF_MAX];
    hash_iter_init(&it, h);
    while (rc == 0 && hash_iter_next_ttl(&it, &pr, &ms)) {
        size_t fn, vn;
        const char *f = hval_bytes(&pr.f, fb, &fn);
        const char *v = hval_bytes(&pr.v, vb, &vn);
        if ((rc = snap_put_elem(w->sink, f, fn)) == 0 && (rc = snap_put_elem(w->sink, v, vn)) == 0)
            rc = snap_put_elem(w->sink, &ms, ms == HASH_NO_TTL ? 0 : SNAP_FIELD_TTL_BYTES);
    }
    hash_iter_done(&it);
    return rc ? rc : snap_put_end(w->sink);
}

static void
put_key_cb(void *priv, void *entry) {
    walk_ctx_t *w = priv;
    const kobj_t *o = entry;
    if (w->rc)
        return;
    size_t klen;
    const char *key = obj_key(o, &klen);
    int64_t expire = obj_expire(o) < 0 ? SNAP_NO_EXPIRE : obj_expire(o);
    snap_sink_set_meta(w->sink, obj_lru(o));
    int type = obj_type(o);
    if (obj_is_tiered(o)) {
        /* The value from the tier's checkpoint, written as if resident: the format does not
         * change (docs/tiering.md 8.5). */
        void *v;
        size_t vlen;
        char err[256] = "";
        w->rc = tiering_snapshot_value(w->s, o, &v, &vlen, err, sizeof err);
        if (w->rc < 0) {
            klog(KLOG_WARNING, "Snapshot: %s", err);
            return;
        }
        if (type == OBJ_STRING)
            w->rc = snap_put_string(w->sink, w->db, key, klen, expire, v, vlen);
        else
            w->rc = put_encoded(w, type, key, klen, expire, v, vlen);
        kfree(v);
        return;
    }
    if (type == OBJ_STRING) {
        size_t vlen;
        const char *v = obj_str(o, &vlen);
        w->rc = snap_put_string(w->sink, w->db, key, klen, expire, v, vlen);
        return;
    }
    if (type == OBJ_HASH && obj_encoding(o) == OBJ_ENC_HASH_TTL) {
        thash_t h = hash_of(o);
        if (hash_volatile_count(&h) > 0) { /* else an ordinary HASH record, for older readers */
            w->rc = put_hash_ttl(w, &h, key, klen, expire);
            return;
        }
    }
    const obj_type_ops_t *ops = obj_ops(type);
    int st = snap_type_of(type);
    if (!ops || !st || !ops->count || !ops->each) {
        w->rc = KERR_INVAL; /* a type the snapshot format cannot hold: refuse, never drop it */
        return;
    }
    uint64_t count = ops->count(obj_ptr(o), obj_encoding(o));
    if (type == OBJ_HASH)
        count /= 2; /* each gives field and value: the record counts pairs */
    w->rc = snap_put_begin(w->sink, st, w->db, key, klen, expire, count);
    if (w->rc)
        return;
    w->zset = type == OBJ_ZSET;
    ops->each(obj_ptr(o), obj_encoding(o), put_elem_cb, w);
    if (!w->rc)
        w->rc = snap_put_end(w->sink);
}

/* function_foreach's callback: one FUNCTION record per library. */
static void
put_function_cb(void *ctx, const char *code, size_t len) {
    walk_ctx_t *w = ctx;
    if (!w->rc)
        w->rc = snap_put_function(w->sink, code, len);
}

/* snap_produce_cb: part `part` of every database's table. */
static int
produce_cb(void *ctx, int part, int nparts, snap_sink_t *sink) {
    save_ctx_t *sc = ctx;
    engine_t *s = sc->s;
    if (sc->delay_ms)
        usleep(sc->delay_ms * 1000u);
    walk_ctx_t w = {.s = s, .sink = sink};
    for (int d = 0; d < s->cfg.databases && !w.rc; d++) {
        ht_t *t = s->dbs[d]->keys;
        size_t span = ht_walk_span(t);
        size_t from = span * (size_t)part / (size_t)nparts;
        size_t to = span * (size_t)(part + 1) / (size_t)nparts;
        w.db = (uint32_t)d;
        if (from < to)
            ht_walk_range(t, from, to, put_key_cb, &w);
    }
    if (part == 0 && !w.rc) /* the function libraries (server/script/), after part 0's keys */
        function_foreach(s, put_function_cb, &w);
    return w.rc;
}

static_assert(SNAP_FORMAT_VERSION_MAX == 4, "core/config.c bounds snapshot-format-version by it");

int
snapshot_write_keyspace(engine_t *s, const char *path, uint64_t lsn, int nthreads,
                        uint32_t format_version, snap_write_stats_t *st, char *err, size_t errlen) {
    const char *delay = getenv("KEEL_DEBUG_SNAPSHOT_DELAY_MS");
    save_ctx_t sc = {.s = s, .delay_ms = delay ? (uint32_t)atoi(delay) : 0};
    snap_write_opts_t o = {
        .path = path,
        .nthreads = nthreads < 1                  ? 1
                    : nthreads > SNAP_THREADS_MAX ? SNAP_THREADS_MAX
                                                  : nthreads,
        .format_version = format_version,
        .lsn = lsn,
        .time_ms = util_time_ms(),
        .identity =
            s->persist && !snap_id_is_zero(s->persist->identity.id) ? &s->persist->identity : NULL,
    };
    return snap_write(&o, produce_cb, &sc, st, err, errlen);
}

static int
snapshot_wait_log(engine_t *s, char *err, size_t errlen) {
    if (!s->wal)
        return 0;
    uint64_t target = s->last_lsn_assigned;
    uint64_t t0 = util_mono_us();
    if (wal_durable_lsn(s->wal) < target)
        wal_sync_now(s->wal); /* async mode: do not wait for the next interval */
    while (wal_durable_lsn(s->wal) < target) {
        if (!wal_healthy(s->wal) || s->wal_refuse_reason) {
            snprintf(err, errlen,
                     "the transaction log failed, a snapshot would claim effects "
                     "it does not hold");
            return KERR_FAILED;
        }
        if (util_mono_us() - t0 > WAIT_LOG_MS_MAX * 1000ull) {
            snprintf(err, errlen, "the log did not become durable through LSN %llu in %d ms",
                     (unsigned long long)target, WAIT_LOG_MS_MAX);
            return KERR_LIMIT;
        }
        usleep(100);
    }
    return 0;
}

static void
report_from_stats(snap_child_report_t *rep, const snap_write_stats_t *st) {
    rep->keys = st->keys;
    rep->bytes_raw = st->bytes_raw;
    rep->bytes_file = st->bytes_file;
    rep->chunks = st->chunks;
    rep->seconds = st->seconds;
}

int
snapshot_save(engine_t *s, char *err, size_t errlen) {
    if (s->persist->snap.child) {
        snprintf(err, errlen, "Background save already in progress");
        return KERR_EXISTS;
    }
    char dir[SNAPSHOT_PATH_MAX], path[SNAPSHOT_PATH_MAX];
    int rc = snapshot_wait_log(s, err, errlen);
    if (rc == 0)
        rc = snapshot_dir(s->cfg.dir, dir, sizeof dir, true);
    if (rc < 0) {
        if (!err[0])
            snprintf(err, errlen, "can't create the snapshot directory: %s", kerr_str(rc));
        return rc;
    }
    uint64_t lsn = s->last_lsn_assigned;
    snapshot_path(s->cfg.dir, lsn, path, sizeof path);
    int64_t start = util_time_ms();
    s->persist->snap.last_try_ms = start;
    s->persist->snap.wal_bytes_at_last = snapshot_wal_bytes(s);
    uint64_t dirty = s->dirty;
    snap_write_stats_t st = {0};
    snap_child_report_t rep = {0};
    klog(KLOG_NOTICE, "Saving a snapshot in the foreground (LSN %llu)", (unsigned long long)lsn);
    rc = tiering_snapshot_prepare(s, lsn, rep.err, sizeof rep.err);
    if (rc == 0)
        rc = snapshot_write_keyspace(s, path, lsn, s->cfg.snapshot_threads,
                                     (uint32_t)s->cfg.snapshot_format_version, &st, rep.err,
                                     sizeof rep.err);
    tiering_snapshot_done(s);
    rep.rc = rc;
    report_from_stats(&rep, &st);
    snapshot_done(s, &rep, lsn, start, dirty);
    if (rc < 0)
        snprintf(err, errlen, "%s", rep.err);
    return rc;
}

/* Private dirty memory of this process: the pages copy-on-write duplicated since the fork. */
static uint64_t
private_dirty_bytes(void) {
    FILE *f = fopen("/proc/self/smaps_rollup", "r");
    if (!f)
        return 0;
    char line[256];
    unsigned long long kb = 0, v;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "Private_Dirty: %llu kB", &v) == 1)
            kb += v;
    fclose(f);
    return kb * 1024;
}

static void __attribute__((noreturn))
child_main(engine_t *s, int fd, pid_t parent, const char *path, uint64_t lsn, uint32_t format) {
    prctl(PR_SET_PDEATHSIG, SIGKILL); /* a SIGKILLed server must not leave a writer behind */
    if (getppid() != parent)
        _exit(1);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    net_close_in_child(s->net);
    snap_child_report_t rep = {0};
    snap_write_stats_t st = {0};
    rep.rc = snapshot_write_keyspace(s, path, lsn, s->cfg.snapshot_threads, format, &st, rep.err,
                                     sizeof rep.err);
    report_from_stats(&rep, &st);
    rep.cow_bytes = private_dirty_bytes();
    ssize_t n = write(fd, &rep, sizeof rep);
    _exit(rep.rc == 0 && n == (ssize_t)sizeof rep ? 0 : 1);
}

/* The file a BGSAVE or an export at lsn writes. */
typedef void (*name_fn)(engine_t *s, uint64_t lsn, uint32_t format, char *buf, size_t len);

/* BGSAVE and exports: the log durable through the LSN, then a forked child writes the keyspace
 * in `format` to the file `name` gives for that LSN. */
static int
fork_writer(engine_t *s, name_fn name, uint32_t format, bool export, uint64_t *lsn_out, char *err,
            size_t errlen) {
    snap_state_t *st = &s->persist->snap;
    if (st->child) {
        snprintf(err, errlen, "Background save already in progress");
        return KERR_EXISTS;
    }
    char dir[SNAPSHOT_PATH_MAX], path[SNAPSHOT_PATH_MAX];
    int rc = snapshot_wait_log(s, err, errlen);
    if (rc == 0 && (rc = snapshot_dir(s->cfg.dir, dir, sizeof dir, true)) < 0)
        snprintf(err, errlen, "can't create the snapshot directory: %s", kerr_str(rc));
    if (rc < 0)
        return rc;
    uint64_t lsn = s->last_lsn_assigned;
    name(s, lsn, format, path, sizeof path);
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) < 0) {
        snprintf(err, errlen, "pipe: %s", strerror(errno));
        return KERR_SYS(errno);
    }
    /* Tiered values: a checkpoint of the tier and a reader on it, opened here in the parent
     * (docs/tiering.md 8.5); the child reads stubs' values from it. */
    rc = tiering_snapshot_prepare(s, lsn, err, errlen);
    if (rc < 0) {
        close(fds[0]);
        close(fds[1]);
        return rc;
    }
    if (!export)
        st->wal_bytes_at_last = snapshot_wal_bytes(s);
    pid_t parent = getpid();
    uint64_t t0 = util_mono_us();
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(fds[0]);
        close(fds[1]);
        tiering_snapshot_done(s);
        snprintf(err, errlen, "fork: %s", strerror(e));
        return KERR_SYS(e);
    }
    if (pid == 0) {
        close(fds[0]);
        child_main(s, fds[1], parent, path, lsn, format);
    }
    close(fds[1]);
    uint64_t fork_us = util_mono_us() - t0;
    latency_add_sample_if_needed(s, "fork", fork_us / 1000);
    tiering_snapshot_forked(s); /* the child has its copy; the checkpoint stays until reaped */
    ht_set_resize_policy(0);
    st->child = pid;
    st->child_fd = fds[0];
    st->child_lsn = lsn;
    st->child_start_ms = util_time_ms();
    st->child_dirty = s->dirty;
    st->child_export = export;
    snprintf(st->child_path, sizeof st->child_path, "%s", path);
    if (!export)
        st->last_try_ms = st->child_start_ms;
    *lsn_out = lsn;
    klog(KLOG_NOTICE, "Background %s started by pid %d (LSN %llu, fork %llu us)",
         export ? "export" : "saving", (int)pid, (unsigned long long)lsn,
         (unsigned long long)fork_us);
    return 0;
}

static void
snapshot_name(engine_t *s, uint64_t lsn, uint32_t format, char *buf, size_t len) {
    snapshot_path(s->cfg.dir, lsn, buf, len);
}

int
snapshot_bgsave(engine_t *s, char *err, size_t errlen) {
    uint64_t lsn;
    return fork_writer(s, snapshot_name, (uint32_t)s->cfg.snapshot_format_version, false, &lsn, err,
                       errlen);
}

static void
export_name(engine_t *s, uint64_t lsn, uint32_t format, char *buf, size_t len) {
    snprintf(buf, len, "%s/" SNAPSHOT_SUBDIR "/" SNAPSHOT_EXPORT_PREFIX "v%u-%020llu.ksnap",
             s->cfg.dir, format, (unsigned long long)lsn);
}

int
snapshot_export_start(engine_t *s, uint32_t format_version, uint64_t *lsn, char *err,
                      size_t errlen) {
    snap_state_t *st = &s->persist->snap;
    if (st->export_state == SNAP_EXPORT_DONE) /* an untaken file: nobody will send it */
        unlink(st->export_path);
    st->export_state = SNAP_EXPORT_NONE;
    int rc = fork_writer(s, export_name, format_version, true, lsn, err, errlen);
    if (rc == 0) {
        st->export_state = SNAP_EXPORT_RUNNING;
        snprintf(st->export_path, sizeof st->export_path, "%s", st->child_path);
    }
    return rc;
}

int
snapshot_export_poll(engine_t *s, int *fd, char *err, size_t errlen) {
    snap_state_t *st = &s->persist->snap;
    if (st->export_state == SNAP_EXPORT_RUNNING)
        snapshot_reap(s); /* sooner than the cron's next turn */
    switch (st->export_state) {
    case SNAP_EXPORT_RUNNING: return 1;
    case SNAP_EXPORT_FAILED:
        st->export_state = SNAP_EXPORT_NONE;
        snprintf(err, errlen, "%s", st->export_err);
        return st->export_rc < 0 ? st->export_rc : KERR_FAILED;
    case SNAP_EXPORT_DONE:
        st->export_state = SNAP_EXPORT_NONE;
        *fd = open(st->export_path, O_RDONLY | O_CLOEXEC);
        if (*fd < 0) {
            int e = errno;
            snprintf(err, errlen, "opening the export %s: %s", st->export_path, strerror(e));
            unlink(st->export_path);
            return KERR_SYS(e);
        }
        unlink(st->export_path); /* read through the descriptor; nothing is left behind */
        return 0;
    default: return KERR_NOTFOUND;
    }
}

void
snapshot_export_cancel(engine_t *s) {
    snap_state_t *st = &s->persist->snap;
    if (st->export_state == SNAP_EXPORT_RUNNING && st->child && st->child_export)
        snapshot_stop(s); /* kills it; child_reaped removes its .tmp */
    if (st->export_state == SNAP_EXPORT_DONE)
        unlink(st->export_path);
    st->export_state = SNAP_EXPORT_NONE;
}

/* The child ended (status from waitpid): read its report, record the result. */
static void
child_reaped(engine_t *s, int status) {
    snap_child_report_t rep = {0};
    ssize_t n = read(s->persist->snap.child_fd, &rep, sizeof rep);
    close(s->persist->snap.child_fd);
    s->persist->snap.child_fd = -1;
    s->persist->snap.child = 0;
    ht_set_resize_policy(1);
    tiering_snapshot_done(s);
    if (n != (ssize_t)sizeof rep || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        if (n != (ssize_t)sizeof rep) {
            rep.rc = KERR_FAILED;
            if (WIFSIGNALED(status))
                snprintf(rep.err, sizeof rep.err, "the snapshot child was killed by signal %d",
                         WTERMSIG(status));
            else
                snprintf(rep.err, sizeof rep.err, "the snapshot child exited with status %d",
                         WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        } else if (rep.rc == 0) {
            rep.rc = KERR_FAILED;
        }
        char path[SNAPSHOT_PATH_MAX + 8];
        snprintf(path, sizeof path, "%s.tmp", s->persist->snap.child_path);
        unlink(path); /* a killed child leaves its .tmp behind */
    }
    snap_state_t *st = &s->persist->snap;
    if (st->child_export) { /* not this node's snapshot: no retention, no LASTSAVE */
        st->child_export = false;
        if (st->export_state != SNAP_EXPORT_RUNNING) { /* cancelled meanwhile */
            unlink(st->child_path);
            return;
        }
        st->export_state = rep.rc < 0 ? SNAP_EXPORT_FAILED : SNAP_EXPORT_DONE;
        st->export_rc = rep.rc;
        snprintf(st->export_err, sizeof st->export_err, "%s", rep.err);
        klog(rep.rc < 0 ? KLOG_WARNING : KLOG_NOTICE,
             "Export at LSN %llu %s: %llu keys, %llu bytes%s%s", (unsigned long long)st->child_lsn,
             rep.rc < 0 ? "failed" : "done", (unsigned long long)rep.keys,
             (unsigned long long)rep.bytes_file, rep.rc < 0 ? ": " : "", rep.rc < 0 ? rep.err : "");
        return;
    }
    snapshot_done(s, &rep, st->child_lsn, st->child_start_ms, st->child_dirty);
}

int
snapshot_reap(engine_t *s) {
    if (!s->persist->snap.child)
        return 0;
    int status;
    pid_t r = waitpid(s->persist->snap.child, &status, WNOHANG);
    if (r == 0 || (r < 0 && errno == EINTR))
        return 0;
    if (r < 0)
        status = 0xff00; /* lost (ECHILD): reported as a failure */
    child_reaped(s, status);
    return 1;
}

void
snapshot_stop(engine_t *s) {
    if (!s->persist->snap.child)
        return;
    kill(s->persist->snap.child, SIGKILL);
    int status;
    while (waitpid(s->persist->snap.child, &status, 0) < 0 && errno == EINTR)
        ;
    klog(KLOG_NOTICE, "Killed the snapshot child %d writing %s", (int)s->persist->snap.child,
         s->persist->snap.child_path);
    child_reaped(s, status);
}

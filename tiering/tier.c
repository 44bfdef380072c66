/*
 * tier.c - the value tier: worker threads running RocksDB puts, gets and deletes for one owner
 * thread, and the completion queue that brings the results back (API in tier.h; the RocksDB
 * settings in rdb.c; checkpoints and the reader in reader.c; docs/tiering.md).
 *
 * Storage. One RocksDB database in <dir>/db, default column family. Key: the id, 8 bytes
 * big-endian (tier_key_encode). Value: the caller's bytes, unchanged (RocksDB compresses blocks
 * and checksums them; a checksum failure on read is a get with KERR_CORRUPT). No WAL, no sync:
 * the tier is wiped at every open, so nothing on disk is ever read back after a restart.
 *
 * Requests. tier_put/get/del allocate a tier_req_t (a put carries a copy of the value in the
 * same allocation), stamp the submit time, count it in flight, and append it under `qmu` to
 * one of two FIFO queues: `gets`, or `writes` (puts and dels). A worker takes one request at a
 * time: a get whenever one waits, else a write while fewer than `writers_max` workers run
 * writes (threads - 1, at least 1). So with 2+ threads a get never waits behind writes, even
 * when RocksDB is slow to take them. The worker runs the RocksDB call (after the fault hook),
 * stamps the end time and appends the request to the completion list under `cmu`; the append
 * that finds `signalled` clear sets it and writes the eventfd once. tier_poll() reads the
 * eventfd, takes the whole list under `cmu` and clears `signalled`, then delivers each result
 * to the done callback and frees the request. Results beyond tier_poll's max wait in the
 * owner's `backlog`, and the owner writes the eventfd itself so its loop comes back.
 *
 * State of a request (the functions that move it):
 *
 *   tier_put/get/del --> QUEUED --worker_take()--> RUNNING --run_req()+complete()--> DONE
 *                          |                                                          |
 *                          +--tier_close(): -ECANCELED ------------------------> deliver()
 *                                                                     (tier_poll, tier_close)
 *                                                                                     |
 *                                                                                  freed
 *
 * Invariants:
 *   T1  Every request accepted by tier_put/get/del reaches deliver() exactly once, through
 *       tier_poll() or tier_close(), which cancels QUEUED requests and joins the workers before
 *       delivering what is left: no result is lost, none delivered twice, nothing leaks.
 *   T2  The in-flight counts (owner-only fields) rise at submit and fall in deliver(), before
 *       the callback runs, so the bounds cover queued, running and undelivered requests, and a
 *       callback may submit again.
 *   T3  No lost wake-up: a worker appends and then writes the eventfd if `signalled` was clear;
 *       the owner reads the eventfd before it takes the list and clears `signalled` under the
 *       same lock. A result appended after the owner took the list finds `signalled` clear and
 *       writes the eventfd again (at worst one spurious wake-up).
 *   T4  Workers touch only the request they run, the queues (qmu) and the completion list
 *       (cmu). Every statistic is kept by the owner in deliver(): no atomics on the hot path.
 *   T5  Puts and gets are bounded (put_queue_max, put_bytes_max, op_queue_max); a refused
 *       submit allocates nothing and produces no result.
 *
 * Locks: qmu (queues, idle/writers counts, stop), cmu (completion list, signalled). Never both.
 */
#include "tier_int.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "kassert.h"
#include "kerr.h"
#include "khist.h"
#include "klock.h"
#include "kmem.h"
#include "util.h"

typedef struct tier_req {
    struct tier_req *next; /* in a queue (qmu), the completion list (cmu) or the backlog */
    tier_op_t op;
    int status; /* written by the worker before complete() */
    uint64_t id;
    void *cookie;
    size_t len;            /* put: value bytes in data[]; get: fetched bytes; del: as passed */
    void *value;           /* get: the fetched value (kmalloc), until deliver() */
    char *errmsg;          /* RocksDB's message (rocksdb_free), or NULL */
    const char *errstatic; /* a message of ours, when errmsg is NULL */
    uint64_t submit_us, start_us, done_us;
    unsigned char data[]; /* put: the value copy */
} tier_req_t;

typedef struct req_queue {
    tier_req_t *head, *tail;
    uint32_t n;
} req_queue_t;

struct tier {
    tier_config_t cfg; /* with defaults filled in; cfg.dir points at dir */
    char *dir;
    char *dbdir;
    klock_t lock;
    rocksdb_t *db;
    rocksdb_options_t *opts;
    rocksdb_cache_t *cache;
    rocksdb_writeoptions_t *wopts;     /* puts: no WAL, no_slowdown (a stall is -EAGAIN) */
    rocksdb_writeoptions_t *wopts_del; /* dels: no WAL, wait out a stall (a refused del would
                                          leave the value behind) */
    rocksdb_readoptions_t *ropts;
    int efd;

    pthread_mutex_t qmu;
    pthread_cond_t qcv;
    req_queue_t gets, writes; /* qmu */
    int idle;                 /* qmu: workers waiting on qcv */
    int writers;              /* qmu: workers running a put or del */
    int writers_max;
    int stop; /* tier_close() began; written by the owner under qmu, so the owner may read it
                 without the lock */

    pthread_mutex_t cmu;
    tier_req_t *done_head, *done_tail; /* cmu */
    int signalled;                     /* cmu: the eventfd was written since the last poll */

    pthread_t *threads;
    int nthreads;

    /* Owner thread only. */
    tier_req_t *backlog; /* taken from the completion list, not yet delivered */
    uint32_t inflight_ops, inflight_puts, inflight_ops_peak;
    uint64_t inflight_put_bytes;
    tier_stats_t st;                   /* counters; the gauges are filled in by tier_get_stats */
    khist_t get_lat, get_svc, put_lat; /* microseconds */
};

static void
queue_push(req_queue_t *q, tier_req_t *r) {
    r->next = NULL;
    if (q->tail)
        q->tail->next = r;
    else
        q->head = r;
    q->tail = r;
    q->n++;
}

static tier_req_t *
queue_pop(req_queue_t *q) {
    tier_req_t *r = q->head;
    if (r) {
        q->head = r->next;
        if (!q->head)
            q->tail = NULL;
        q->n--;
        r->next = NULL;
    }
    return r;
}

/* ---- worker side ---- */

static void
run_req(tier_t *t, tier_req_t *r) {
    r->start_us = util_mono_us();
    if (t->cfg.fault) {
        int rc = t->cfg.fault(t->cfg.fault_ctx, r->op, r->id);
        if (rc != 0) {
            r->status = rc < 0 ? rc : KERR_SYS(EIO);
            r->errstatic = "injected fault";
            r->done_us = util_mono_us();
            return;
        }
    }
    char key[TIER_KEY_LEN];
    tier_key_encode(r->id, key);
    char *err = NULL;
    switch (r->op) {
    case TIER_OP_PUT:
        rocksdb_put(t->db, t->wopts, key, sizeof key, (const char *)r->data, r->len, &err);
        break;
    case TIER_OP_DEL: rocksdb_delete(t->db, t->wopts_del, key, sizeof key, &err); break;
    case TIER_OP_GET: {
        rocksdb_pinnableslice_t *p = rocksdb_get_pinned(t->db, t->ropts, key, sizeof key, &err);
        if (p) {
            size_t n;
            const char *v = rocksdb_pinnableslice_value(p, &n);
            r->value = kmalloc(n);
            memcpy(r->value, v, n);
            r->len = n;
            rocksdb_pinnableslice_destroy(p);
        } else if (!err) {
            r->status = KERR_NOTFOUND;
        }
        break;
    }
    }
    if (err) {
        r->status = tier_rdb_status(err);
        r->errmsg = err;
    }
    r->done_us = util_mono_us();
}

static void
complete(tier_t *t, tier_req_t *r) {
    r->next = NULL;
    pthread_mutex_lock(&t->cmu);
    if (t->done_tail)
        t->done_tail->next = r;
    else
        t->done_head = r;
    t->done_tail = r;
    int wake = !t->signalled;
    t->signalled = 1;
    pthread_mutex_unlock(&t->cmu);
    if (wake) {
        uint64_t one = 1;
        /* Cannot fail short of a bug: the counter would need 2^64 - 2 unread writes. */
        ssize_t n = write(t->efd, &one, sizeof one);
        ASSERT(n == (ssize_t)sizeof one);
    }
}

/* Next request for a worker, NULL when the tier stops; qmu held. */
static tier_req_t *
worker_take(tier_t *t) {
    for (;;) {
        if (t->stop)
            return NULL;
        if (t->gets.head)
            return queue_pop(&t->gets);
        if (t->writes.head && t->writers < t->writers_max) {
            t->writers++;
            return queue_pop(&t->writes);
        }
        t->idle++;
        pthread_cond_wait(&t->qcv, &t->qmu);
        t->idle--;
    }
}

static void *
worker_main(void *arg) {
    tier_t *t = arg;
    pthread_mutex_lock(&t->qmu);
    tier_req_t *r;
    while ((r = worker_take(t)) != NULL) {
        int write = r->op != TIER_OP_GET;
        pthread_mutex_unlock(&t->qmu);
        run_req(t, r);
        complete(t, r);
        pthread_mutex_lock(&t->qmu);
        if (write) {
            t->writers--;
            /* A worker may be waiting only because of the writers cap. */
            if (t->writes.head && t->idle > 0)
                pthread_cond_signal(&t->qcv);
        }
    }
    pthread_mutex_unlock(&t->qmu);
    return NULL;
}

/* ---- owner side ---- */

static void
count_result(tier_t *t, const tier_req_t *r) {
    tier_stats_t *s = &t->st;
    uint64_t lat = r->done_us - r->submit_us;
    if (r->status == KERR_SYS(ECANCELED)) {
        s->cancelled++;
        return;
    }
    switch (r->op) {
    case TIER_OP_PUT:
        if (r->status == 0) {
            s->puts++;
            s->put_bytes += r->len;
            s->live_keys++;
            s->live_bytes += r->len;
            khist_add(&t->put_lat, lat);
        } else if (r->status == KERR_SYS(EAGAIN)) {
            s->put_stalls++;
        } else {
            s->put_failures++;
        }
        break;
    case TIER_OP_GET:
        if (r->status == 0 || r->status == KERR_NOTFOUND) {
            khist_add(&t->get_lat, lat);
            khist_add(&t->get_svc, r->done_us - r->start_us);
        }
        if (r->status == 0) {
            s->gets++;
            s->get_bytes += r->len;
        } else if (r->status == KERR_NOTFOUND) {
            s->get_misses++;
        } else {
            s->get_failures++;
        }
        break;
    case TIER_OP_DEL:
        if (r->status == 0) {
            s->dels++;
            s->live_keys -= s->live_keys > 0;
            s->live_bytes -= r->len < s->live_bytes ? r->len : s->live_bytes;
        } else {
            s->del_failures++;
        }
        break;
    }
}

/* Hand one result to the callback and free the request (T1, T2). */
static void
deliver(tier_t *t, tier_req_t *r) {
    ASSERT(t->inflight_ops > 0);
    t->inflight_ops--;
    if (r->op == TIER_OP_PUT) {
        ASSERT(t->inflight_puts > 0 && t->inflight_put_bytes >= r->len);
        t->inflight_puts--;
        t->inflight_put_bytes -= r->len;
    }
    count_result(t, r);
    tier_result_t res = {
        .op = r->op,
        .id = r->id,
        .cookie = r->cookie,
        .status = r->status,
        .errmsg = r->errmsg ? r->errmsg : r->errstatic,
        .value = r->value,
        .len = r->len,
        .latency_us = r->done_us - r->submit_us,
    };
    t->cfg.done(t->cfg.done_ctx, &res);
    if (res.value)
        kfree(res.value);
    if (r->errmsg)
        rocksdb_free(r->errmsg);
    kfree(r);
}

int
tier_poll(tier_t *t, unsigned max) {
    uint64_t v;
    while (read(t->efd, &v, sizeof v) < 0 && errno == EINTR)
        ; /* EAGAIN: nothing signalled, the list may still hold results (T3) */
    pthread_mutex_lock(&t->cmu);
    tier_req_t *list = t->done_head;
    t->done_head = t->done_tail = NULL;
    t->signalled = 0;
    pthread_mutex_unlock(&t->cmu);
    if (list) { /* after the backlog, in completion order */
        tier_req_t **end = &t->backlog;
        while (*end)
            end = &(*end)->next;
        *end = list;
    }
    int n = 0;
    while (t->backlog && (max == 0 || (unsigned)n < max)) {
        tier_req_t *r = t->backlog;
        t->backlog = r->next;
        deliver(t, r);
        n++;
    }
    if (t->backlog) { /* keep the fd readable so the loop calls again */
        uint64_t one = 1;
        ssize_t w = write(t->efd, &one, sizeof one);
        ASSERT(w == (ssize_t)sizeof one);
    }
    return n;
}

static tier_req_t *
req_new(tier_op_t op, uint64_t id, size_t len, void *cookie) {
    tier_req_t *r = kmalloc(sizeof *r + (op == TIER_OP_PUT ? len : 0));
    memset(r, 0, sizeof *r);
    r->op = op;
    r->id = id;
    r->len = len;
    r->cookie = cookie;
    r->submit_us = util_mono_us();
    return r;
}

static void
submit(tier_t *t, tier_req_t *r) {
    t->inflight_ops++;
    if (t->inflight_ops > t->inflight_ops_peak)
        t->inflight_ops_peak = t->inflight_ops;
    if (r->op == TIER_OP_PUT) {
        t->inflight_puts++;
        t->inflight_put_bytes += r->len;
    }
    pthread_mutex_lock(&t->qmu);
    queue_push(r->op == TIER_OP_GET ? &t->gets : &t->writes, r);
    if (t->idle > 0)
        pthread_cond_signal(&t->qcv);
    pthread_mutex_unlock(&t->qmu);
}

int
tier_put(tier_t *t, uint64_t id, const void *value, size_t len, void *cookie) {
    if (t->stop) /* a callback run by tier_close(): nothing would run it (T1) */
        return KERR_FAILED;
    if (len > TIER_VALUE_MAX)
        return KERR_INVAL;
    if (t->inflight_ops >= t->cfg.op_queue_max || t->inflight_puts >= t->cfg.put_queue_max ||
        t->inflight_put_bytes + len > t->cfg.put_bytes_max) {
        t->st.put_refused++;
        return KERR_LIMIT;
    }
    tier_req_t *r = req_new(TIER_OP_PUT, id, len, cookie);
    if (len)
        memcpy(r->data, value, len);
    submit(t, r);
    return 0;
}

int
tier_get(tier_t *t, uint64_t id, void *cookie) {
    if (t->stop)
        return KERR_FAILED;
    if (t->inflight_ops >= t->cfg.op_queue_max) {
        t->st.get_refused++;
        return KERR_LIMIT;
    }
    tier_req_t *r = req_new(TIER_OP_GET, id, 0, cookie);
    submit(t, r);
    return 0;
}

int
tier_del(tier_t *t, uint64_t id, size_t len, void *cookie) {
    if (t->stop)
        return KERR_FAILED;
    if (t->inflight_ops >= t->cfg.op_queue_max) {
        t->st.del_refused++;
        return KERR_LIMIT;
    }
    tier_req_t *r = req_new(TIER_OP_DEL, id, len, cookie);
    submit(t, r);
    return 0;
}

int
tier_fd(const tier_t *t) {
    return t->efd;
}

/* ---- open and close ---- */

static void
fill_defaults(tier_config_t *c) {
    if (c->threads <= 0)
        c->threads = TIER_THREADS_DEFAULT;
    if (c->put_queue_max == 0)
        c->put_queue_max = TIER_PUT_QUEUE_MAX_DEFAULT;
    if (c->put_bytes_max == 0)
        c->put_bytes_max = TIER_PUT_BYTES_MAX_DEFAULT;
    if (c->op_queue_max == 0)
        c->op_queue_max = TIER_OP_QUEUE_MAX_DEFAULT;
    if (c->block_cache_bytes == 0)
        c->block_cache_bytes = TIER_BLOCK_CACHE_DEFAULT;
    if (c->write_buffer_bytes == 0)
        c->write_buffer_bytes = TIER_WRITE_BUFFER_DEFAULT;
}

/* Free what tier_open made; workers already joined (or never started). */
static void
tier_free(tier_t *t) {
    if (t->db)
        rocksdb_close(t->db);
    if (t->opts)
        rocksdb_options_destroy(t->opts);
    if (t->cache)
        rocksdb_cache_destroy(t->cache);
    if (t->wopts)
        rocksdb_writeoptions_destroy(t->wopts);
    if (t->wopts_del)
        rocksdb_writeoptions_destroy(t->wopts_del);
    if (t->ropts)
        rocksdb_readoptions_destroy(t->ropts);
    if (t->efd >= 0)
        close(t->efd);
    klock_release(&t->lock);
    pthread_mutex_destroy(&t->qmu);
    pthread_cond_destroy(&t->qcv);
    pthread_mutex_destroy(&t->cmu);
    kfree(t->threads);
    kfree(t->dir);
    kfree(t->dbdir);
    kfree(t);
}

static int
start_workers(tier_t *t, char *errbuf, size_t errlen) {
    t->threads = kcalloc((size_t)t->cfg.threads, sizeof *t->threads);
    for (int i = 0; i < t->cfg.threads; i++) {
        int e = pthread_create(&t->threads[i], NULL, worker_main, t);
        if (e != 0) {
            snprintf(errbuf, errlen, "cannot start tier worker thread: %s", strerror(e));
            return KERR_SYS(e);
        }
        t->nthreads++;
    }
    return 0;
}

static void
stop_workers(tier_t *t, req_queue_t *cancelled) {
    pthread_mutex_lock(&t->qmu);
    t->stop = 1;
    tier_req_t *r;
    while ((r = queue_pop(&t->gets)) != NULL)
        queue_push(cancelled, r);
    while ((r = queue_pop(&t->writes)) != NULL)
        queue_push(cancelled, r);
    pthread_cond_broadcast(&t->qcv);
    pthread_mutex_unlock(&t->qmu);
    for (int i = 0; i < t->nthreads; i++)
        pthread_join(t->threads[i], NULL);
    t->nthreads = 0;
}

int
tier_open(const tier_config_t *cfg, tier_t **out, char *errbuf, size_t errlen) {
    *out = NULL;
    if (!cfg->dir || !*cfg->dir || !cfg->done || cfg->threads > TIER_THREADS_MAX) {
        snprintf(errbuf, errlen, "tier: %s",
                 !cfg->dir || !*cfg->dir ? "no directory"
                 : !cfg->done            ? "no done callback"
                                         : "too many threads");
        return KERR_INVAL;
    }
    tier_t *t = kcalloc(1, sizeof *t);
    t->cfg = *cfg;
    fill_defaults(&t->cfg);
    t->dir = kstrndup(cfg->dir, strlen(cfg->dir));
    t->cfg.dir = t->dir;
    size_t n = strlen(t->dir) + sizeof "/db";
    t->dbdir = kmalloc(n);
    snprintf(t->dbdir, n, "%s/db", t->dir);
    t->efd = -1;
    t->lock.fd = -1;
    t->writers_max = t->cfg.threads > 1 ? t->cfg.threads - 1 : 1;
    pthread_mutex_init(&t->qmu, NULL);
    pthread_cond_init(&t->qcv, NULL);
    pthread_mutex_init(&t->cmu, NULL);

    int rc = tier_dir_prepare(t->dir, &t->lock, errbuf, errlen);
    if (rc < 0)
        goto fail;
    t->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (t->efd < 0) {
        rc = KERR_SYS(errno);
        snprintf(errbuf, errlen, "tier: eventfd: %s", strerror(errno));
        goto fail;
    }
    t->opts = tier_rdb_options(&t->cfg, &t->cache);
    char *err = NULL;
    t->db = rocksdb_open(t->opts, t->dbdir, &err);
    if (err) {
        rc = tier_rdb_status(err);
        snprintf(errbuf, errlen, "cannot open tier database %s: %s", t->dbdir, err);
        rocksdb_free(err);
        t->db = NULL;
        goto fail;
    }
    t->wopts = rocksdb_writeoptions_create();
    rocksdb_writeoptions_disable_WAL(t->wopts, 1);
    rocksdb_writeoptions_set_sync(t->wopts, 0);
    rocksdb_writeoptions_set_no_slowdown(t->wopts, 1);
    t->wopts_del = rocksdb_writeoptions_create();
    rocksdb_writeoptions_disable_WAL(t->wopts_del, 1);
    rocksdb_writeoptions_set_sync(t->wopts_del, 0);
    t->ropts = rocksdb_readoptions_create();
    if ((rc = start_workers(t, errbuf, errlen)) < 0) {
        req_queue_t none = {0};
        stop_workers(t, &none);
        goto fail;
    }
    *out = t;
    return 0;
fail:
    tier_free(t);
    return rc;
}

void
tier_close(tier_t *t) {
    req_queue_t cancelled = {0};
    stop_workers(t, &cancelled);
    /* Workers are gone: what they finished is in the completion list (T1). */
    while (tier_poll(t, 0) > 0)
        ;
    tier_req_t *r;
    while ((r = queue_pop(&cancelled)) != NULL) {
        r->status = KERR_SYS(ECANCELED);
        r->errstatic = "tier closed";
        r->start_us = r->done_us = util_mono_us();
        deliver(t, r);
    }
    ASSERT(t->inflight_ops == 0);
    tier_free(t);
}

/* ---- checkpoint (the owner's half; the reader is in reader.c) ---- */

int
tier_checkpoint(tier_t *t, const char *path, char *errbuf, size_t errlen) {
    uint64_t t0 = util_mono_us();
    char *err = NULL;
    rocksdb_checkpoint_t *cp = rocksdb_checkpoint_object_create(t->db, &err);
    if (!err) {
        /* log_size_for_flush 0: always flush the memtable first, so the checkpoint holds every
         * put that has completed (with the WAL off there is no log to copy instead). */
        rocksdb_checkpoint_create(cp, path, 0, &err);
        rocksdb_checkpoint_object_destroy(cp);
    }
    if (err) {
        int rc = tier_rdb_status(err);
        snprintf(errbuf, errlen, "tier checkpoint %s: %s", path, err);
        rocksdb_free(err);
        return rc;
    }
    t->st.checkpoints++;
    t->st.checkpoint_last_us = util_mono_us() - t0;
    return 0;
}

/* ---- statistics ---- */

void
tier_get_stats(const tier_t *t, tier_stats_t *st) {
    *st = t->st;
    st->inflight_ops = t->inflight_ops;
    st->inflight_puts = t->inflight_puts;
    st->inflight_ops_peak = t->inflight_ops_peak;
    st->inflight_put_bytes = t->inflight_put_bytes;
    pthread_mutex_t *qmu = (pthread_mutex_t *)&t->qmu;
    pthread_mutex_lock(qmu);
    st->queued_gets = t->gets.n;
    st->queued_writes = t->writes.n;
    pthread_mutex_unlock(qmu);
    st->get_latency_p50_us = khist_quantile(&t->get_lat, 0.50);
    st->get_latency_p99_us = khist_quantile(&t->get_lat, 0.99);
    st->get_latency_max_us = t->get_lat.max;
    st->get_service_p50_us = khist_quantile(&t->get_svc, 0.50);
    st->get_service_p99_us = khist_quantile(&t->get_svc, 0.99);
    st->put_latency_p50_us = khist_quantile(&t->put_lat, 0.50);
    st->put_latency_p99_us = khist_quantile(&t->put_lat, 0.99);
    st->threads = t->cfg.threads;
    st->use_direct_reads = t->cfg.use_direct_reads;
}

void
tier_reset_stats(tier_t *t) {
    uint64_t live_keys = t->st.live_keys, live_bytes = t->st.live_bytes;
    memset(&t->st, 0, sizeof t->st);
    t->st.live_keys = live_keys;
    t->st.live_bytes = live_bytes;
    t->inflight_ops_peak = t->inflight_ops;
    memset(&t->get_lat, 0, sizeof t->get_lat);
    memset(&t->get_svc, 0, sizeof t->get_svc);
    memset(&t->put_lat, 0, sizeof t->put_lat);
}

/* RocksDB properties worth an INFO line: (property, INFO name). */
static const char *const rdb_props[][2] = {
    {"rocksdb.estimate-live-data-size", "estimate_live_data_size"},
    {"rocksdb.total-sst-files-size", "total_sst_files_size"},
    {"rocksdb.live-sst-files-size", "live_sst_files_size"},
    {"rocksdb.estimate-num-keys", "estimate_num_keys"},
    {"rocksdb.cur-size-all-mem-tables", "cur_size_all_mem_tables"},
    {"rocksdb.size-all-mem-tables", "size_all_mem_tables"},
    {"rocksdb.block-cache-usage", "block_cache_usage"},
    {"rocksdb.block-cache-capacity", "block_cache_capacity"},
    {"rocksdb.estimate-table-readers-mem", "estimate_table_readers_mem"},
    {"rocksdb.num-files-at-level0", "num_files_at_level0"},
    {"rocksdb.estimate-pending-compaction-bytes", "estimate_pending_compaction_bytes"},
    {"rocksdb.num-running-flushes", "num_running_flushes"},
    {"rocksdb.num-running-compactions", "num_running_compactions"},
    {"rocksdb.actual-delayed-write-rate", "actual_delayed_write_rate"},
    {"rocksdb.is-write-stopped", "is_write_stopped"},
    {"rocksdb.background-errors", "background_errors"},
};

void
tier_info_rocksdb(tier_t *t, sbuf_t *out) {
    for (size_t i = 0; i < sizeof rdb_props / sizeof rdb_props[0]; i++) {
        char *v = rocksdb_property_value(t->db, rdb_props[i][0]);
        sbuf_printf(out, "tiering_rocksdb_%s:%s\r\n", rdb_props[i][1], v ? v : "");
        if (v)
            rocksdb_free(v);
    }
}

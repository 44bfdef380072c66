/* test_tiering_ops.c - the tier's operations against an in-memory model: 100k values of mixed
 * sizes put, fetched and deleted in a random interleaving by four workers; a get of a missing
 * id; a delete then a get; the eventfd waking an epoll loop; the histogram's quantiles; the
 * statistics and RocksDB's figures for INFO. */
#include "test_tiering_util.h"
#include "tier_int.h"

#include <errno.h>
#include <sys/epoll.h>
#include <unistd.h>

/* ---- the model ---- */

enum { ABSENT, PUTTING, PRESENT, DELETING, DELETED, STALLED };

typedef struct model {
    uint64_t n;        /* ids 1..n */
    uint8_t *state;    /* by id */
    uint32_t *len;     /* by id */
    uint16_t *gets;    /* gets in flight, by id */
    uint64_t *present; /* ids in PRESENT, for random picks (swap-remove) */
    uint32_t *slot;    /* id -> index in present */
    uint64_t npresent;
    uint64_t results, bad, stalls, hits, misses, live_bytes;
    char why[256];
} model_t;

static void
present_add(model_t *m, uint64_t id) {
    m->slot[id] = (uint32_t)m->npresent;
    m->present[m->npresent++] = id;
}

static void
present_del(model_t *m, uint64_t id) {
    uint32_t i = m->slot[id];
    uint64_t last = m->present[--m->npresent];
    m->present[i] = last;
    m->slot[last] = i;
}

static void
fail(model_t *m, const char *what, const tier_result_t *r) {
    if (m->bad++ == 0)
        snprintf(m->why, sizeof m->why, "%s: op %d id %llu status %d (%s)", what, r->op,
                 (unsigned long long)r->id, r->status, r->errmsg ? r->errmsg : "");
}

static void
model_cb(void *ctx, tier_result_t *r) {
    model_t *m = ctx;
    m->results++;
    uint64_t id = r->id;
    switch (r->op) {
    case TIER_OP_PUT:
        if (m->state[id] != PUTTING)
            fail(m, "put result for an id not being put", r);
        if (r->status == 0) {
            m->state[id] = PRESENT;
            present_add(m, id);
            m->live_bytes += m->len[id];
        } else if (r->status == -EAGAIN) {
            m->state[id] = STALLED; /* RocksDB refused it: never stored */
            m->stalls++;
        } else {
            fail(m, "put failed", r);
        }
        break;
    case TIER_OP_GET:
        if (m->state[id] == PRESENT || m->state[id] == DELETING) {
            /* A get submitted while PRESENT; dels wait for gets, so it must hit. */
            if (r->status != 0 || !tt_check(id, m->len[id], r->value, r->len))
                fail(m, "get of a present id", r);
            m->hits++;
        } else if (r->status != KERR_NOTFOUND) {
            fail(m, "get of an absent id", r);
        } else {
            m->misses++;
        }
        if (m->gets[id] == 0)
            fail(m, "get result without a get", r);
        else
            m->gets[id]--;
        break;
    case TIER_OP_DEL:
        if (m->state[id] != DELETING || r->status != 0)
            fail(m, "del", r);
        m->state[id] = DELETED;
        m->live_bytes -= m->len[id];
        break;
    }
}

static uint32_t
mixed_size(void) {
    uint64_t r = util_random64() % 100;
    if (r < 70)
        return 16 + (uint32_t)(util_random64() % 240); /* small strings */
    if (r < 98)
        return 256 + (uint32_t)(util_random64() % 3840); /* up to 4 KiB: one block */
    return 4096 + (uint32_t)(util_random64() % 28672);   /* larger than a block */
}

static void
model_init(model_t *m, uint64_t n) {
    memset(m, 0, sizeof *m);
    m->n = n;
    m->state = kcalloc(n + 1, 1);
    m->len = kcalloc(n + 1, sizeof *m->len);
    m->gets = kcalloc(n + 1, sizeof *m->gets);
    m->present = kcalloc(n + 1, sizeof *m->present);
    m->slot = kcalloc(n + 1, sizeof *m->slot);
}

static void
model_free(model_t *m) {
    kfree(m->state);
    kfree(m->len);
    kfree(m->gets);
    kfree(m->present);
    kfree(m->slot);
}

Test(tiering_ops, roundtrip_100k_mixed_values_against_a_model, .timeout = 120) {
    tt_dir_t d;
    tt_dir_make(&d);
    model_t m;
    const uint64_t n = 100000;
    model_init(&m, n);
    util_random_seed(42);
    tier_config_t c = tt_config(&d, model_cb, &m);
    tier_t *t = tt_open(&c);

    uint64_t next = 1, submitted = 0, refused = 0;
    while (next <= n || m.results < submitted) {
        uint64_t roll = util_random64() % 100;
        int rc = 1; /* 1: nothing submitted this round */
        if (next <= n && roll < 45) {
            m.len[next] = mixed_size();
            m.state[next] = PUTTING;
            if ((rc = tt_put(t, next, m.len[next], NULL)) == 0)
                next++;
            else
                m.state[next] = ABSENT;
        } else if (roll < 82 && m.npresent > 0) {
            uint64_t id = m.present[util_random64() % m.npresent];
            if ((rc = tier_get(t, id, NULL)) == 0)
                m.gets[id]++;
        } else if (roll < 90 && m.npresent > next / 2) { /* keep about half */
            uint64_t id = m.present[util_random64() % m.npresent];
            /* The protocol: no del while a get of the same id is out. */
            if (m.gets[id] == 0 && (rc = tier_del(t, id, m.len[id], NULL)) == 0) {
                m.state[id] = DELETING;
                present_del(&m, id);
            }
        } else if (next > 1) { /* any earlier id: deleted, stalled, or never put */
            uint64_t id = 1 + util_random64() % (next - 1);
            if (m.state[id] != PRESENT && m.state[id] != PUTTING && m.state[id] != DELETING &&
                (rc = tier_get(t, id, NULL)) == 0)
                m.gets[id]++;
        }
        if (rc == 0)
            submitted++;
        else if (rc == KERR_LIMIT)
            refused++;
        else
            cr_assert_eq(rc, 1, "submit: %d", rc);
        /* Random interleaving of submits and deliveries, at most ~512 out. */
        if (util_random64() % 8 == 0 || submitted - m.results > 512)
            tier_poll(t, (unsigned)(util_random64() % 64));
        if (next > n || rc == KERR_LIMIT) /* wait for a result rather than spin */
            tt_wait(t, &m.results, m.results + 1, 50);
        cr_assert_eq(m.bad, 0, "%s", m.why);
    }
    cr_assert_eq(m.bad, 0, "%s", m.why);
    cr_assert_lt(m.stalls, n / 10, "RocksDB stalled %llu of %llu puts",
                 (unsigned long long)m.stalls, (unsigned long long)n);
    cr_assert_gt(m.hits, n / 4);
    cr_assert_gt(m.misses, 100);

    /* Everything present reads back exactly; everything deleted is gone. */
    uint64_t want = m.results;
    for (uint64_t i = 0; i < m.npresent; i++) {
        while (tier_get(t, m.present[i], NULL) == KERR_LIMIT)
            tier_poll(t, 0);
        m.gets[m.present[i]]++;
        want++;
    }
    for (uint64_t id = 1; id <= n; id += 7) {
        if (m.state[id] == DELETED) {
            while (tier_get(t, id, NULL) == KERR_LIMIT)
                tier_poll(t, 0);
            m.gets[id]++;
            want++;
        }
    }
    cr_assert(tt_wait(t, &m.results, want, 60000));
    cr_assert_eq(m.bad, 0, "%s", m.why);

    tier_stats_t st;
    tier_get_stats(t, &st);
    cr_assert_eq(st.live_keys, m.npresent);
    cr_assert_eq(st.live_bytes, m.live_bytes);
    cr_assert_eq(st.inflight_ops, 0);
    cr_assert_eq(st.put_stalls, m.stalls);
    cr_assert_eq(st.gets, m.hits);
    cr_assert_eq(st.get_misses, m.misses);
    cr_assert_eq(st.put_failures + st.get_failures + st.del_failures, 0);
    cr_assert_gt(st.get_latency_p99_us, 0);
    cr_assert_geq(st.get_latency_p99_us, st.get_latency_p50_us);
    cr_assert_geq(st.get_latency_max_us, st.get_latency_p99_us);
    cr_log_info("100k: %llu puts, %llu gets (%llu misses), %llu dels, %llu stalls, %llu refused;"
                " get p50 %llu us p99 %llu us",
                (unsigned long long)st.puts, (unsigned long long)st.gets,
                (unsigned long long)st.get_misses, (unsigned long long)st.dels,
                (unsigned long long)st.put_stalls, (unsigned long long)refused,
                (unsigned long long)st.get_latency_p50_us,
                (unsigned long long)st.get_latency_p99_us);
    tier_close(t);
    model_free(&m);
    tt_dir_remove(&d);
}

/* ---- single results ---- */

typedef struct last {
    uint64_t n;
    tier_result_t r;
    unsigned char value[256];
} last_t;

static void
last_cb(void *ctx, tier_result_t *r) {
    last_t *l = ctx;
    l->n++;
    l->r = *r;
    if (r->value && r->len <= sizeof l->value)
        memcpy(l->value, r->value, r->len);
    l->r.value = NULL;
}

Test(tiering_ops, get_of_a_missing_id_is_notfound) {
    tt_dir_t d;
    tt_dir_make(&d);
    last_t l = {0};
    tier_config_t c = tt_config(&d, last_cb, &l);
    tier_t *t = tt_open(&c);
    int cookie;
    cr_assert_eq(tier_get(t, 12345, &cookie), 0);
    cr_assert(tt_wait(t, &l.n, 1, 5000));
    cr_assert_eq(l.r.op, TIER_OP_GET);
    cr_assert_eq(l.r.id, 12345);
    cr_assert_eq(l.r.status, KERR_NOTFOUND);
    cr_assert_null(l.r.errmsg);
    cr_assert_eq(l.r.cookie, &cookie);
    cr_assert_eq(l.r.len, 0);
    tier_stats_t st;
    tier_get_stats(t, &st);
    cr_assert_eq(st.get_misses, 1);
    cr_assert_eq(st.gets, 0);
    tier_close(t);
    tt_dir_remove(&d);
}

Test(tiering_ops, delete_then_get_is_notfound_and_other_ids_stay) {
    tt_dir_t d;
    tt_dir_make(&d);
    last_t l = {0};
    tier_config_t c = tt_config(&d, last_cb, &l);
    tier_t *t = tt_open(&c);
    cr_assert_eq(tt_put(t, 7, 100, NULL), 0);
    cr_assert_eq(tt_put(t, 8, 200, NULL), 0);
    cr_assert(tt_wait(t, &l.n, 2, 5000));
    cr_assert_eq(tier_get(t, 7, NULL), 0);
    cr_assert(tt_wait(t, &l.n, 3, 5000));
    cr_assert_eq(l.r.status, 0);
    cr_assert(tt_check(7, 100, l.value, l.r.len));
    cr_assert_eq(tier_del(t, 7, 100, NULL), 0);
    cr_assert(tt_wait(t, &l.n, 4, 5000));
    cr_assert_eq(l.r.op, TIER_OP_DEL);
    cr_assert_eq(l.r.status, 0);
    cr_assert_eq(tier_get(t, 7, NULL), 0);
    cr_assert(tt_wait(t, &l.n, 5, 5000));
    cr_assert_eq(l.r.status, KERR_NOTFOUND, "a deleted id is gone");
    cr_assert_eq(tier_get(t, 8, NULL), 0);
    cr_assert(tt_wait(t, &l.n, 6, 5000));
    cr_assert_eq(l.r.status, 0, "its neighbour is not");
    cr_assert(tt_check(8, 200, l.value, l.r.len));
    tier_stats_t st;
    tier_get_stats(t, &st);
    cr_assert_eq(st.live_keys, 1);
    cr_assert_eq(st.live_bytes, 200);
    tier_close(t);
    tt_dir_remove(&d);
}

static void
count_cb(void *ctx, tier_result_t *r) {
    (void)r;
    (*(uint64_t *)ctx)++;
}

Test(tiering_ops, the_eventfd_wakes_an_epoll_loop) {
    tt_dir_t d;
    tt_dir_make(&d);
    uint64_t n = 0;
    tier_config_t c = tt_config(&d, count_cb, &n);
    tier_t *t = tt_open(&c);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN}, out;
    cr_assert_eq(epoll_ctl(ep, EPOLL_CTL_ADD, tier_fd(t), &ev), 0);
    cr_assert_eq(epoll_wait(ep, &out, 1, 0), 0, "nothing to deliver yet");

    cr_assert_eq(tier_get(t, 1, NULL), 0);
    cr_assert_eq(epoll_wait(ep, &out, 1, 5000), 1, "the result wakes the loop");
    cr_assert_eq(tier_poll(t, 0), 1);
    cr_assert_eq(n, 1);
    cr_assert_eq(epoll_wait(ep, &out, 1, 0), 0, "drained: not readable");

    /* Three results, delivered one per call: the fd stays readable until the last. */
    for (uint64_t id = 10; id < 13; id++)
        cr_assert_eq(tier_get(t, id, NULL), 0);
    uint64_t deadline = util_mono_us() + 5000000;
    int delivered = 0;
    while (delivered < 3 && util_mono_us() < deadline) {
        if (epoll_wait(ep, &out, 1, 1000) == 1)
            delivered += tier_poll(t, 1);
    }
    cr_assert_eq(delivered, 3);
    cr_assert_eq(n, 4);
    cr_assert_eq(tier_poll(t, 0), 0);
    cr_assert_eq(epoll_wait(ep, &out, 1, 0), 0);
    close(ep);
    tier_close(t);
    tt_dir_remove(&d);
}

Test(tiering_ops, info_has_rocksdb_figures_and_stats_reset) {
    tt_dir_t d;
    tt_dir_make(&d);
    uint64_t n = 0;
    tier_config_t c = tt_config(&d, count_cb, &n);
    tier_t *t = tt_open(&c);
    for (uint64_t id = 1; id <= 1000; id++) {
        int rc;
        while ((rc = tt_put(t, id, 1000, NULL)) == KERR_LIMIT)
            tt_wait(t, &n, n + 1, 1000);
        cr_assert_eq(rc, 0);
    }
    cr_assert(tt_wait(t, &n, 1000, 10000));
    sbuf_t b = {0};
    tier_info_rocksdb(t, &b);
    sbuf_append(&b, "", 1);
    cr_assert(strstr(b.p, "tiering_rocksdb_estimate_live_data_size:"), "%s", b.p);
    cr_assert(strstr(b.p, "tiering_rocksdb_block_cache_usage:"));
    cr_assert(strstr(b.p, "tiering_rocksdb_total_sst_files_size:"));
    const char *mem = strstr(b.p, "tiering_rocksdb_cur_size_all_mem_tables:");
    cr_assert_not_null(mem);
    cr_assert_gt(strtoull(mem + strlen("tiering_rocksdb_cur_size_all_mem_tables:"), NULL, 10),
                 1000 * 1000 / 2, "the puts are in the memtable (lz4 on random bytes)");
    cr_assert_not(strstr(b.p, ":\r\n"), "every property has a value: %s", b.p);
    sbuf_free(&b);

    tier_stats_t st;
    tier_get_stats(t, &st);
    cr_assert_eq(st.puts, 1000);
    cr_assert_eq(st.put_bytes, 1000000);
    cr_assert(st.inflight_ops_peak > 0 && st.inflight_ops_peak <= TIER_PUT_QUEUE_MAX_DEFAULT);
    cr_assert_gt(st.put_latency_p50_us, 0);
    tier_reset_stats(t);
    tier_get_stats(t, &st);
    cr_assert_eq(st.puts, 0);
    cr_assert_eq(st.put_latency_p50_us, 0);
    cr_assert_eq(st.live_keys, 1000, "live figures survive a reset");
    cr_assert_eq(st.live_bytes, 1000000);
    cr_assert_eq(st.threads, 4);
    tier_close(t);
    tt_dir_remove(&d);
}

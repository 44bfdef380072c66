/* test_tiering_queue.c - the bounds and the hand-over: puts refused past put_queue_max and
 * put_bytes_max, every op refused past op_queue_max, room again once results are delivered; a
 * get is served while every writer is stuck; tier_close with work queued cancels it and still
 * delivers exactly one result per op; a callback may keep a fetched value. Workers are stalled
 * through the fault hook, which may block. */
#include "test_tiering_util.h"

#include <errno.h>
#include <pthread.h>
#include <unistd.h>

/* A gate the fault hook waits on for puts while it is closed. */
typedef struct gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int closed;
    int waiting; /* puts parked in the hook */
} gate_t;

static void
gate_init(gate_t *g) {
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
    g->closed = 1;
    g->waiting = 0;
}

static void
gate_open(gate_t *g) {
    pthread_mutex_lock(&g->mu);
    g->closed = 0;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

static int
gate_waiting(gate_t *g) {
    pthread_mutex_lock(&g->mu);
    int n = g->waiting;
    pthread_mutex_unlock(&g->mu);
    return n;
}

static int
gate_fault_cb(void *ctx, tier_op_t op, uint64_t id) {
    (void)id;
    gate_t *g = ctx;
    if (op != TIER_OP_PUT)
        return 0;
    pthread_mutex_lock(&g->mu);
    g->waiting++;
    while (g->closed)
        pthread_cond_wait(&g->cv, &g->mu);
    g->waiting--;
    pthread_mutex_unlock(&g->mu);
    return 0;
}

typedef struct tally {
    uint64_t n, ok, cancelled, other;
    uint64_t gets_ok, puts_ok;
    uint8_t seen[1024]; /* by cookie index */
    int dup;
    tier_t *t;            /* set: submit again from cancelled results */
    int resubmit_refused; /* ...and how those submits were answered */
} tally_t;

static void
tally_cb(void *ctx, tier_result_t *r) {
    tally_t *y = ctx;
    y->n++;
    if (y->t && r->status == -ECANCELED &&
        tier_get(y->t, r->id, (void *)(uintptr_t)1023) == KERR_FAILED)
        y->resubmit_refused++;
    uintptr_t k = (uintptr_t)r->cookie;
    if (k < sizeof y->seen) {
        if (y->seen[k]++)
            y->dup = 1;
    }
    if (r->status == 0) {
        y->ok++;
        y->gets_ok += r->op == TIER_OP_GET;
        y->puts_ok += r->op == TIER_OP_PUT;
    } else if (r->status == -ECANCELED) {
        y->cancelled++;
    } else {
        y->other++;
    }
}

static int
wait_gate(gate_t *g, int n) {
    for (int i = 0; i < 5000 && gate_waiting(g) < n; i++)
        usleep(1000);
    return gate_waiting(g) >= n;
}

Test(tiering_queue, puts_and_ops_are_bounded_and_gets_pass_stuck_writers) {
    tt_dir_t d;
    tt_dir_make(&d);
    tally_t y = {0};
    gate_t g;
    gate_init(&g);
    tier_config_t c = tt_config(&d, tally_cb, &y);
    c.threads = 2; /* one may run writes, the other is kept for gets */
    c.put_queue_max = 8;
    c.put_bytes_max = 1 << 20;
    c.op_queue_max = 16;
    c.fault = gate_fault_cb;
    c.fault_ctx = &g;
    tier_t *t = tt_open(&c);

    uintptr_t k = 1;
    for (int i = 0; i < 8; i++)
        cr_assert_eq(tt_put(t, 100 + i, 1000, (void *)k++), 0);
    cr_assert(wait_gate(&g, 1), "a worker is stuck in a put");
    cr_assert_eq(tt_put(t, 200, 10, (void *)k), KERR_LIMIT, "put_queue_max");
    cr_assert_eq(gate_waiting(&g), 1, "only threads - 1 workers run writes");

    /* Gets still run, on the worker that writes may not take. */
    cr_assert_eq(tier_get(t, 100, (void *)k++), 0);
    cr_assert(tt_wait(t, &y.n, 1, 5000), "a get completes while the writer is stuck");
    cr_assert_eq(y.other, 1, "NOTFOUND: the put of 100 has not run");

    /* op_queue_max counts everything not yet delivered, results waiting included. */
    for (int i = 0; i < 8; i++)
        cr_assert_eq(tier_get(t, 1, (void *)k++), 0);
    cr_assert_eq(tier_get(t, 1, (void *)k), KERR_LIMIT);
    cr_assert_eq(tier_del(t, 1, 0, (void *)k), KERR_LIMIT);
    tier_stats_t st;
    tier_get_stats(t, &st);
    cr_assert_eq(st.inflight_ops, 16);
    cr_assert_eq(st.inflight_puts, 8);
    cr_assert_eq(st.inflight_put_bytes, 8000);
    cr_assert_eq(st.put_refused, 1);
    cr_assert_eq(st.get_refused, 1);
    cr_assert_eq(st.del_refused, 1);
    cr_assert_eq(st.queued_writes, 7, "one put is running, seven wait");
    cr_assert(tt_wait(t, &y.n, 9, 5000));
    cr_assert_eq(tier_get(t, 1, (void *)k++), 0, "delivered results free their room");

    gate_open(&g);
    cr_assert(tt_wait(t, &y.n, 18, 10000));
    cr_assert_eq(y.puts_ok, 8);
    cr_assert_eq(y.dup, 0);
    tier_get_stats(t, &st);
    cr_assert_eq(st.inflight_ops, 0);
    cr_assert_eq(st.inflight_put_bytes, 0);
    cr_assert_eq(st.inflight_ops_peak, 16);

    /* put_bytes_max: 3 x 300 KiB fit in 1 MiB, a fourth does not; more than the bound never. */
    pthread_mutex_lock(&g.mu);
    g.closed = 1;
    pthread_mutex_unlock(&g.mu);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(tt_put(t, 300 + i, 300 << 10, NULL), 0);
    cr_assert_eq(tt_put(t, 303, 300 << 10, NULL), KERR_LIMIT);
    cr_assert_eq(tt_put(t, 304, 100 << 10, NULL), 0, "a smaller one still fits");
    cr_assert_eq(tier_put(t, 305, NULL, TIER_VALUE_MAX + 1, NULL), KERR_INVAL);
    gate_open(&g);
    cr_assert(tt_wait(t, &y.n, 22, 10000));
    cr_assert_eq(y.puts_ok, 12);
    tier_close(t);
    tt_dir_remove(&d);
}

static void *
open_later_main(void *arg) {
    usleep(200 * 1000);
    gate_open(arg);
    return NULL;
}

Test(tiering_queue, close_with_work_queued_cancels_it_and_delivers_every_result) {
    tt_dir_t d;
    tt_dir_make(&d);
    tally_t y = {0};
    gate_t g;
    gate_init(&g);
    tier_config_t c = tt_config(&d, tally_cb, &y);
    c.threads = 1;
    c.fault = gate_fault_cb;
    c.fault_ctx = &g;
    tier_t *t = tt_open(&c);
    uintptr_t k = 0;
    for (int i = 0; i < 50; i++)
        cr_assert_eq(tt_put(t, 1 + i, 5000, (void *)k++), 0);
    cr_assert(wait_gate(&g, 1));
    for (int i = 0; i < 50; i++)
        cr_assert_eq(tier_get(t, 1 + i, (void *)k++), 0);
    /* The one worker is stuck in the first put; close takes the queues, then the gate opens and
     * the worker finishes that put and stops. */
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, open_later_main, &g), 0);
    y.t = t; /* the callback tries to submit while the tier closes */
    tier_close(t);
    pthread_join(th, NULL);
    cr_assert_eq(y.resubmit_refused, 99, "a closing tier takes no new op");
    cr_assert_eq(y.seen[1023], 0, "and never delivers one");
    cr_assert_eq(y.n, 100, "one result per op");
    cr_assert_eq(y.dup, 0);
    for (uintptr_t i = 0; i < 100; i++)
        cr_assert_eq(y.seen[i], 1, "cookie %zu", (size_t)i);
    cr_assert_eq(y.puts_ok, 1, "the running put finished");
    cr_assert_eq(y.cancelled, 99, "the queued ops were cancelled, not run");
    cr_assert_eq(y.other, 0);
    /* ASan (the sanitizer build) reports the put copies if a cancelled op leaked. */
    tt_dir_remove(&d);
}

/* A callback that keeps the fetched value: the tier must not free it. */
typedef struct keep {
    uint64_t n;
    void *kept;
    size_t len;
} keep_t;

static void
keep_cb(void *ctx, tier_result_t *r) {
    keep_t *k = ctx;
    k->n++;
    if (r->op == TIER_OP_GET && r->status == 0) {
        k->kept = r->value;
        k->len = r->len;
        r->value = NULL;
    }
}

Test(tiering_queue, a_callback_may_take_the_fetched_value) {
    tt_dir_t d;
    tt_dir_make(&d);
    keep_t kp = {0};
    tier_config_t c = tt_config(&d, keep_cb, &kp);
    tier_t *t = tt_open(&c);
    cr_assert_eq(tt_put(t, 9, 3000, NULL), 0);
    cr_assert(tt_wait(t, &kp.n, 1, 5000));
    cr_assert_eq(tier_get(t, 9, NULL), 0);
    cr_assert(tt_wait(t, &kp.n, 2, 5000));
    tier_close(t);
    cr_assert_not_null(kp.kept);
    cr_assert(tt_check(9, 3000, kp.kept, kp.len), "the value outlives the tier");
    cr_assert_geq(kmem_usable(kp.kept), 3000, "a kmalloc'd buffer");
    kfree(kp.kept);
    tt_dir_remove(&d);
}

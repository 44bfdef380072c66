/*
 * test_net_iot.c - the I/O thread pool: every item of a batch runs exactly once, on one thread,
 * and what a worker wrote is visible to the main thread when iot_run returns (under TSan this
 * is checked as a data race); small batches stay on the main thread; sleeping workers wake.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include "iot.h"

typedef struct item {
    int runs;         /* plain int: written by one thread, read by main after iot_run */
    uint64_t value;   /* a result the main thread reads afterwards */
    pthread_t ran_on; /* which thread ran it */
    char pad[40];
} item_t;

static void
job(void *p, void *ctx) {
    item_t *it = p;
    it->runs++;
    it->value = it->value * 6364136223846793005ULL + (uint64_t)(uintptr_t)ctx;
    it->ran_on = pthread_self();
}

#define N 3000

static item_t items[N];
static void *ptrs[N];

Test(iot, every_item_runs_once_per_batch_and_its_result_is_visible) {
    iot_t *t = iot_create(3);
    cr_assert_not_null(t);
    cr_assert_eq(iot_workers(t), 3);
    for (int i = 0; i < N; i++) {
        items[i] = (item_t){0};
        ptrs[i] = &items[i];
    }
    uint64_t expect[N] = {0};
    int batches = 0;
    for (int n = 0; n <= N; n += (n < 20 ? 1 : 97), batches++) {
        iot_run(t, job, (void *)(uintptr_t)(n + 1), ptrs, n);
        for (int i = 0; i < n; i++)
            expect[i] = expect[i] * 6364136223846793005ULL + (uint64_t)(n + 1);
        for (int i = 0; i < N; i++) {
            cr_assert_eq(items[i].value, expect[i], "item %d after a batch of %d", i, n);
        }
    }
    int total = 0;
    for (int i = 0; i < N; i++)
        total += items[i].runs;
    int want = 0;
    for (int n = 0; n <= N; n += (n < 20 ? 1 : 97))
        want += n;
    cr_assert_eq(total, want);
    cr_assert_gt(iot_items_by_workers(t), 0, "big batches must use the workers");
    iot_free(t);
}

Test(iot, a_batch_of_one_item_stays_on_the_main_thread) {
    iot_t *t = iot_create(2);
    item_t one = {0};
    void *p = &one;
    iot_run(t, job, NULL, &p, 1);
    cr_assert_eq(one.runs, 1);
    cr_assert(pthread_equal(one.ran_on, pthread_self()));
    cr_assert_eq(iot_active(t), 0);
    cr_assert_eq(iot_items_by_workers(t), 0);
    iot_free(t);
}

Test(iot, workers_used_follow_the_batch_size) {
    iot_t *t = iot_create(4);
    for (int i = 0; i < 8; i++)
        ptrs[i] = &items[i];
    iot_run(t, job, NULL, ptrs, 4);
    cr_assert_eq(iot_active(t), 4 / IOT_ITEMS_PER_THREAD);
    iot_run(t, job, NULL, ptrs, 8);
    cr_assert_eq(iot_active(t), 4);
    /* items spread: with 8 items over 4 workers and main, some ran off the main thread */
    int off_main = 0;
    for (int i = 0; i < 8; i++)
        off_main += !pthread_equal(items[i].ran_on, pthread_self());
    cr_assert_gt(off_main, 0);
    iot_free(t);
}

Test(iot, sleeping_workers_wake_for_the_next_batch) {
    iot_t *t = iot_create(2);
    for (int i = 0; i < 64; i++) {
        items[i] = (item_t){0};
        ptrs[i] = &items[i];
    }
    for (int round = 0; round < 5; round++) {
        struct timespec ts = {0, 20 * 1000 * 1000}; /* the workers go to sleep meanwhile */
        nanosleep(&ts, NULL);
        iot_run(t, job, NULL, ptrs, 64);
    }
    for (int i = 0; i < 64; i++)
        cr_assert_eq(items[i].runs, 5);
    cr_assert_gt(iot_items_by_workers(t), 0);
    iot_free(t); /* joins sleeping workers */
}

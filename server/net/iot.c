/*
 * iot.c - the I/O thread pool (see iot.h): per-worker SPSC rings, done counters, futex sleep.
 *
 * Memory order, the three hand-offs:
 *   main -> worker: the main thread writes the item into the ring slot and the batch's fn/ctx,
 *     then stores `head` (seq_cst, which includes release); the worker loads `head` (acquire
 *     or stronger) before it reads the slot.
 *   worker -> main: the worker runs the item (it owns what the item points to), then stores
 *     `tail` (seq_cst); the main thread loads `tail` (acquire) and only then reads the item.
 *   sleeping: a side going to sleep stores its futex word (seq_cst) and then checks for work
 *     once more (seq_cst load); the other side publishes work (seq_cst store) and then loads the
 *     word. Sequential consistency makes at least one of them see the other's store, so a sleep
 *     never misses work: either the sleeper sees it, or the publisher sees the word and wakes.
 */
#include "iot.h"

#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "kassert.h"

#define RING_SIZE   1024u /* items per worker per batch; beyond it the main thread runs them */
#define WORKER_SPIN 200   /* empty polls before a worker sleeps (a few microseconds) */
#define MAIN_SPIN   200   /* polls before the main thread sleeps waiting for a worker */

typedef struct worker {
    _Alignas(64) _Atomic uint64_t head;     /* items handed over (main writes) */
    _Alignas(64) _Atomic uint64_t tail;     /* items done (the worker writes) */
    _Alignas(64) _Atomic uint32_t sleeping; /* futex word: 1 = the worker sleeps or is about to */
    void *ring[RING_SIZE];
    pthread_t th;
    struct iot *pool;
    int idx;
} worker_t;

struct iot {
    _Alignas(64) _Atomic uint32_t main_sleeping; /* futex word of the main thread */
    _Atomic int stop;
    iot_fn fn; /* the running batch's function and context (written before the items) */
    void *ctx;
    int nworkers, active;
    uint64_t by_workers;
    worker_t *w;
};

static inline void
cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static void
futex_wait(_Atomic uint32_t *word, uint32_t val, long timeout_ns) {
    struct timespec ts = {timeout_ns / 1000000000L, timeout_ns % 1000000000L};
    syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT_PRIVATE, val, timeout_ns ? &ts : NULL, NULL, 0);
}

static void
futex_wake(_Atomic uint32_t *word) {
    syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

static void *
worker_main(void *arg) {
    worker_t *w = arg;
    iot_t *t = w->pool;
    char name[16];
    snprintf(name, sizeof name, "keel-io-%d", (w->idx + 1) % 100);
    pthread_setname_np(pthread_self(), name);
    int spins = 0;
    for (;;) {
        uint64_t tail = atomic_load_explicit(&w->tail, memory_order_relaxed);
        if (tail != atomic_load_explicit(&w->head, memory_order_acquire)) {
            t->fn(w->ring[tail % RING_SIZE], t->ctx);
            atomic_store(&w->tail, tail + 1);
            if (atomic_load(&t->main_sleeping) && atomic_exchange(&t->main_sleeping, 0))
                futex_wake(&t->main_sleeping);
            spins = 0;
            continue;
        }
        if (atomic_load_explicit(&t->stop, memory_order_acquire))
            break;
        if (++spins < WORKER_SPIN) {
            cpu_relax();
            continue;
        }
        atomic_store(&w->sleeping, 1);
        if (atomic_load(&w->head) != tail || atomic_load(&t->stop)) {
            atomic_store(&w->sleeping, 0);
            continue;
        }
        futex_wait(&w->sleeping, 1, 0);
        spins = 0;
    }
    return NULL;
}

static void
wake_worker(worker_t *w) {
    if (atomic_load(&w->sleeping) && atomic_exchange(&w->sleeping, 0))
        futex_wake(&w->sleeping);
}

iot_t *
iot_create(int workers) {
    ASSERT(workers >= 1 && workers < IOT_MAX_THREADS);
    /* Cache-line aligned (the counters of two threads never share a line): outside kmem's
     * accounting, like the other aligned buffers (docs/architecture.md, memory accounting). */
    iot_t *t = aligned_alloc(64, (sizeof *t + 63) & ~(size_t)63);
    ASSERT(t);
    memset(t, 0, sizeof *t);
    size_t bytes = (sizeof *t->w * (size_t)workers + 63) & ~(size_t)63;
    t->w = aligned_alloc(64, bytes);
    ASSERT(t->w);
    memset(t->w, 0, bytes);
    /* The workers take no signals: the main thread's handlers run on the main thread. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int started = 0;
    for (int i = 0; i < workers; i++) {
        worker_t *w = &t->w[i];
        atomic_init(&w->head, 0);
        atomic_init(&w->tail, 0);
        atomic_init(&w->sleeping, 0);
        w->pool = t;
        w->idx = i;
        if (pthread_create(&w->th, NULL, worker_main, w) != 0)
            break;
        started++;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    t->nworkers = started;
    if (started < workers) {
        iot_free(t);
        return NULL;
    }
    return t;
}

void
iot_free(iot_t *t) {
    if (!t)
        return;
    atomic_store(&t->stop, 1);
    for (int i = 0; i < t->nworkers; i++) {
        atomic_store(&t->w[i].sleeping, 0);
        futex_wake(&t->w[i].sleeping);
    }
    for (int i = 0; i < t->nworkers; i++)
        pthread_join(t->w[i].th, NULL);
    free(t->w);
    free(t);
}

int
iot_workers(const iot_t *t) {
    return t->nworkers;
}

int
iot_active(const iot_t *t) {
    return t->active;
}

uint64_t
iot_items_by_workers(const iot_t *t) {
    return t->by_workers;
}

/* Wait until worker w has done everything handed to it. */
static void
wait_worker(iot_t *t, worker_t *w) {
    uint64_t want = atomic_load_explicit(&w->head, memory_order_relaxed);
    int spins = 0;
    while (atomic_load_explicit(&w->tail, memory_order_acquire) != want) {
        if (++spins < MAIN_SPIN) {
            cpu_relax();
            continue;
        }
        atomic_store(&t->main_sleeping, 1);
        if (atomic_load(&w->tail) != want)
            futex_wait(&t->main_sleeping, 1, 1000000); /* 1 ms: a lost wake costs no more */
        atomic_store(&t->main_sleeping, 0);
        spins = 0;
    }
}

void
iot_run(iot_t *t, iot_fn fn, void *ctx, void **items, int n) {
    int active = n / IOT_ITEMS_PER_THREAD;
    if (active > t->nworkers)
        active = t->nworkers;
    t->active = active;
    if (active == 0) {
        for (int i = 0; i < n; i++)
            fn(items[i], ctx);
        return;
    }
    t->fn = fn;
    t->ctx = ctx;
    /* Item i goes to part i % parts. With one worker the main thread takes a share (two
     * threads at work); with more it takes none and only waits: its own time is for the
     * commands, which only it can run. */
    int parts = active >= 2 ? active : active + 1;
    uint64_t handed = 0;
    for (int k = 0; k < active; k++) {
        worker_t *w = &t->w[k];
        uint64_t head = atomic_load_explicit(&w->head, memory_order_relaxed);
        /* Empty between batches (iot_run waits for every item): each ring takes RING_SIZE. */
        ASSERT(atomic_load_explicit(&w->tail, memory_order_acquire) == head);
        uint64_t put = 0;
        for (int i = k; i < n && put < RING_SIZE; i += parts, put++)
            w->ring[(head + put) % RING_SIZE] = items[i];
        atomic_store(&w->head, head + put); /* seq_cst: then the sleeping word is read */
        wake_worker(w);
        handed += put;
    }
    /* The main thread's share, then what did not fit in a worker's ring (a batch of more than
     * RING_SIZE * parts items). */
    for (int i = active; parts > active && i < n; i += parts)
        fn(items[i], ctx);
    for (int k = 0; k < active; k++)
        for (int i = k + parts * (int)RING_SIZE; i < n; i += parts)
            fn(items[i], ctx);
    for (int k = 0; k < active; k++)
        wait_worker(t, &t->w[k]);
    t->by_workers += handed;
}

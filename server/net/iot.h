/*
 * iot.h - the I/O threads: a pool that runs one function over a batch of items in parallel, the
 * main thread taking its share, and returns when every item is done.
 *
 * The net layer uses it twice per loop turn when the load is high enough: to read and parse the
 * requests of the connections epoll reported readable, and to write the replies of the
 * connections with pending output (conn.c). Between two batches the main thread owns every
 * connection alone; during a batch each item belongs to exactly one thread and the main thread
 * touches nothing but its own share. That is the whole ownership rule, and why the command
 * execution that follows needs no lock.
 *
 * Hand-off: each worker has a single-producer/single-consumer ring of items (the main thread
 * produces, the worker consumes) and a done counter it advances with release order after each
 * item; the main thread, after its own share, waits until every worker's counter reached what
 * it handed over (acquire). No lock on that path: a worker that found its ring empty spins a
 * little, then sleeps on a futex word that the main thread wakes only when the worker said it
 * sleeps; the main thread, when the workers are slower than its own share, sleeps the same way.
 *
 * Load: iot_run uses one worker per IOT_ITEMS_PER_THREAD items, at most all of them, so a
 * lightly loaded server runs its few reads and writes on the main thread alone and idle workers
 * sleep (io_threads_active in INFO is the number the last batch used).
 */
#ifndef KEEL_IOT_H
#define KEEL_IOT_H

#include <stdint.h>

typedef struct iot iot_t;
typedef void (*iot_fn)(void *item, void *ctx);

#define IOT_MAX_THREADS      16 /* io-threads (Valkey's limit is 256; 16 is plenty here) */
#define IOT_ITEMS_PER_THREAD 2  /* a batch of n items wakes at most n / 2 workers */

/* A pool of `workers` threads (io-threads - 1). NULL if a thread could not be started. */
iot_t *iot_create(int workers);
/* Stops and joins the threads. */
void iot_free(iot_t *t);
int iot_workers(const iot_t *t);
/* Run fn(items[i], ctx) for every i, spread over the main thread and up to
 * min(workers, n / IOT_ITEMS_PER_THREAD) workers; returns once all ran. Main thread only. */
void iot_run(iot_t *t, iot_fn fn, void *ctx, void **items, int n);
/* Workers the last iot_run used (0: the main thread alone). */
int iot_active(const iot_t *t);
/* Items workers (not the main thread) have run since the start. */
uint64_t iot_items_by_workers(const iot_t *t);

#endif

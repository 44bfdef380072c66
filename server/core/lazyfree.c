/*
 * lazyfree.c - background freeing (see lazyfree.h).
 *
 * A bounded ring guarded by a mutex and a condition variable: the main thread pushes (rarely: only
 * values above LAZYFREE_THRESHOLD elements and flushed databases), the thread pops and frees. When
 * the ring is full the main thread frees the item itself rather than wait: memory is returned
 * either way, and the main thread never blocks on this thread.
 */
#include "lazyfree.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "object.h"

typedef struct item {
    kobj_t *obj; /* one of the two */
    db_t *db;
} item_t;

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    bool running, stopping;
    item_t ring[LAZYFREE_QUEUE_MAX]; /* guarded by mu */
    size_t head, len;                /* guarded by mu */
    _Atomic size_t pending, freed;
} L = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static void
free_item(item_t it)
{
    if (it.obj)
        obj_free(it.obj);
    if (it.db)
        db_free(it.db);
}

static void *
lazyfree_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&L.mu);
    for (;;) {
        while (L.len == 0 && !L.stopping)
            pthread_cond_wait(&L.cv, &L.mu);
        if (L.len == 0 && L.stopping)
            break;
        item_t it = L.ring[L.head];
        L.head = (L.head + 1) % LAZYFREE_QUEUE_MAX;
        L.len--;
        pthread_mutex_unlock(&L.mu);
        free_item(it);
        atomic_fetch_sub(&L.pending, 1);
        atomic_fetch_add(&L.freed, 1);
        pthread_mutex_lock(&L.mu);
    }
    pthread_mutex_unlock(&L.mu);
    return NULL;
}

int
lazyfree_start(void)
{
    if (L.running)
        return 0;
    L.stopping = false;
    int rc = pthread_create(&L.thread, NULL, lazyfree_main, NULL);
    if (rc != 0)
        return -rc;
    L.running = true;
    return 0;
}

void
lazyfree_stop(void)
{
    if (!L.running)
        return;
    pthread_mutex_lock(&L.mu);
    L.stopping = true;
    pthread_cond_signal(&L.cv);
    pthread_mutex_unlock(&L.mu);
    pthread_join(L.thread, NULL);
    L.running = false;
}

static void
push(item_t it)
{
    if (!L.running) {
        free_item(it);
        return;
    }
    pthread_mutex_lock(&L.mu);
    if (L.len == LAZYFREE_QUEUE_MAX) {
        pthread_mutex_unlock(&L.mu);
        free_item(it);
        return;
    }
    L.ring[(L.head + L.len) % LAZYFREE_QUEUE_MAX] = it;
    L.len++;
    atomic_fetch_add(&L.pending, 1);
    pthread_cond_signal(&L.cv);
    pthread_mutex_unlock(&L.mu);
}

void
lazyfree_obj(kobj_t *o)
{
    if (!o)
        return;
    const obj_type_ops_t *ops = obj_type(o) == OBJ_STRING ? NULL : obj_ops(obj_type(o));
    if (!ops || !ops->count || ops->count(obj_ptr(o), obj_encoding(o)) <= LAZYFREE_THRESHOLD) {
        obj_free(o);
        return;
    }
    push((item_t){.obj = o});
}

void
lazyfree_db(db_t *db)
{
    if (db)
        push((item_t){.db = db});
}

size_t
lazyfree_pending(void)
{
    return atomic_load(&L.pending);
}

size_t
lazyfree_freed(void)
{
    return atomic_load(&L.freed);
}

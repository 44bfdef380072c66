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

#include "kmem.h"
#include "object.h"

typedef struct item {
    kobj_t *obj; /* one of the two */
    db_t *db;
} item_t;

/* Shared by the main thread (push) and the lazy-free thread (lazyfree_main). */
struct lazyfree {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    bool running, stopping;
    item_t ring[LAZYFREE_QUEUE_MAX]; /* guarded by mu */
    size_t head, len;                /* guarded by mu */
    _Atomic size_t pending, freed;
};

static void
free_item(item_t it) {
    if (it.obj)
        obj_free(it.obj);
    if (it.db)
        db_free(it.db);
}

static void *
lazyfree_main(void *arg) {
    lazyfree_t *L = arg;
    pthread_mutex_lock(&L->mu);
    for (;;) {
        while (L->len == 0 && !L->stopping)
            pthread_cond_wait(&L->cv, &L->mu);
        if (L->len == 0 && L->stopping)
            break;
        item_t it = L->ring[L->head];
        L->head = (L->head + 1) % LAZYFREE_QUEUE_MAX;
        L->len--;
        pthread_mutex_unlock(&L->mu);
        free_item(it);
        atomic_fetch_sub(&L->pending, 1);
        atomic_fetch_add(&L->freed, 1);
        pthread_mutex_lock(&L->mu);
    }
    pthread_mutex_unlock(&L->mu);
    return NULL;
}

int
lazyfree_start(lazyfree_t **out) {
    lazyfree_t *L = kcalloc(1, sizeof *L);
    pthread_mutex_init(&L->mu, NULL);
    pthread_cond_init(&L->cv, NULL);
    int rc = pthread_create(&L->thread, NULL, lazyfree_main, L);
    if (rc != 0) {
        kfree(L);
        return -rc;
    }
    L->running = true;
    *out = L;
    return 0;
}

void
lazyfree_stop(lazyfree_t *L) {
    if (!L)
        return;
    pthread_mutex_lock(&L->mu);
    L->stopping = true;
    pthread_cond_signal(&L->cv);
    pthread_mutex_unlock(&L->mu);
    pthread_join(L->thread, NULL);
    pthread_mutex_destroy(&L->mu);
    pthread_cond_destroy(&L->cv);
    kfree(L);
}

static void
push(lazyfree_t *L, item_t it) {
    if (!L) {
        free_item(it);
        return;
    }
    pthread_mutex_lock(&L->mu);
    if (L->len == LAZYFREE_QUEUE_MAX) {
        pthread_mutex_unlock(&L->mu);
        free_item(it);
        return;
    }
    L->ring[(L->head + L->len) % LAZYFREE_QUEUE_MAX] = it;
    L->len++;
    atomic_fetch_add(&L->pending, 1);
    pthread_cond_signal(&L->cv);
    pthread_mutex_unlock(&L->mu);
}

void
lazyfree_obj(lazyfree_t *L, kobj_t *o) {
    if (!o)
        return;
    const obj_type_ops_t *ops =
        obj_type(o) == OBJ_STRING || obj_is_tiered(o) ? NULL : obj_ops(obj_type(o));
    if (!ops || !ops->count || ops->count(obj_ptr(o), obj_encoding(o)) <= LAZYFREE_THRESHOLD) {
        obj_free(o);
        return;
    }
    push(L, (item_t){.obj = o});
}

void
lazyfree_db(lazyfree_t *L, db_t *db) {
    if (db)
        push(L, (item_t){.db = db});
}

size_t
lazyfree_pending(const lazyfree_t *L) {
    return L ? atomic_load(&L->pending) : 0;
}

size_t
lazyfree_freed(const lazyfree_t *L) {
    return L ? atomic_load(&L->freed) : 0;
}

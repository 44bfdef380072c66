/*
 * lazyfree.h - the lazy-free thread: big values (UNLINK) and whole databases (FLUSHALL ASYNC)
 * are freed off the main thread, so a command's latency does not depend on the size of what it
 * deletes. The thread touches nothing but what it is handed.
 */
#ifndef KEEL_LAZYFREE_H
#define KEEL_LAZYFREE_H

#include <stddef.h>

#include "db.h"

#define LAZYFREE_QUEUE_MAX 1024 /* handed-over items waiting; beyond it the caller frees */
#define LAZYFREE_THRESHOLD 64   /* elements above which a value is worth handing over */

typedef struct lazyfree lazyfree_t;

/* Starts the thread; *out is the handle the engine keeps (engine_t.lazyfree). A NULL handle is
 * valid everywhere below: everything is then freed at once (keel-restore, unit tests). */
int lazyfree_start(lazyfree_t **out);
void lazyfree_stop(lazyfree_t *lf);            /* frees what is queued, joins the thread */
void lazyfree_obj(lazyfree_t *lf, kobj_t *o);  /* free o now if small, else in the background */
void lazyfree_db(lazyfree_t *lf, db_t *db);    /* a db_detach()ed db: freed in the background */
size_t lazyfree_pending(const lazyfree_t *lf); /* items queued (INFO lazyfree_pending_objects) */
size_t lazyfree_freed(const lazyfree_t *lf);   /* items freed by the thread so far */

#endif

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

int lazyfree_start(void);
void lazyfree_stop(void);           /* frees what is queued, then joins the thread */
void lazyfree_obj(kobj_t *o);       /* free o now if small, else in the background */
void lazyfree_db(db_t *db);         /* a db detached with db_detach(): freed in the background */
size_t lazyfree_pending(void);      /* items queued (INFO lazyfree_pending_objects) */
size_t lazyfree_freed(void);        /* items freed by the thread so far */

#endif

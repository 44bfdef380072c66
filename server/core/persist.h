/*
 * persist.h - the server side of durability: opening the log, recovery at start, connecting
 * effect records to the log, releasing parked replies, snapshots. Everything the server does with
 * wal/ and snapshot/ goes through here, so server.c only calls these five functions.
 */
#ifndef KEEL_PERSIST_H
#define KEEL_PERSIST_H

#include "server/core/server.h"

int persist_start(server_t *s);        /* recover (snapshot + log), open the log */
void persist_stop(server_t *s);        /* flush and close the log */
void persist_cron(server_t *s);        /* periodic: async sync, automatic snapshots */
void persist_before_sleep(server_t *s);/* pick up durable-LSN progress, release parked replies */


#include "server/core/sbuf.h"
/* INFO sections owned by persistence: "persistence", "wal", "snapshot". Appends the section body
 * (without the "# Title" line) or nothing when the section is not persistence's. */
void persist_info(server_t *s, const char *section, sbuf_t *b);

#endif

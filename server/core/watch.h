/*
 * watch.h - WATCH: optimistic locking for MULTI/EXEC.
 *
 * A server-wide table maps (db, key) to the clients watching it; each client keeps the list of
 * its watched keys (client_t.watched, NULL when it watches nothing, which INFO counts). Any change
 * to a watched key (srv_key_modified: writes, expiry, eviction) or to a whole db (FLUSHDB,
 * FLUSHALL, SWAPDB) flags the watchers CLIENT_DIRTY_CAS, and their EXEC returns a null array.
 * As in Valkey 7, a watched key that is logically expired at EXEC time also aborts EXEC, unless it
 * was already expired when WATCH ran (an absent key that stays absent did not change).
 *
 * Threading: main thread only.
 */
#ifndef KEEL_WATCH_H
#define KEEL_WATCH_H

#include <stdbool.h>
#include <stddef.h>

#include "client.h"
#include "engine.h"

/* Install the exec hooks (server_init). */
void watch_init(engine_t *eng);
/* Watch key in the client's current db (no-op when already watched). */
void watch_key(client_t *c, const char *key, size_t klen);
/* Forget every watched key of c (UNWATCH, EXEC, DISCARD, disconnect). */
void watch_unwatch_all(client_t *c);
/* How many keys c watches (CLIENT LIST watch=). */
size_t watch_count(const client_t *c);

#endif

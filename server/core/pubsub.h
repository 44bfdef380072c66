/*
 * pubsub.h - channels, patterns and shard channels: who is subscribed, and delivery.
 *
 * Three kinds of subscription, each a server-wide table name -> subscribed clients plus a
 * per-client set of names (client_t.pubsub, NULL while the client has no subscription at all, so
 * that net.c can treat `c->pubsub != NULL` as "a pub/sub client" for output limits and timeouts).
 * PUBLISH reaches channel subscribers and every pattern that matches (glob, as Valkey);
 * SPUBLISH reaches only shard-channel subscribers (without cluster mode a shard channel is just a
 * separate namespace). Keyspace notifications are published through the same path by the
 * exec `notify` hook installed by pubsub_init().
 *
 * Threading: main thread only. Messages are appended to the receivers' output buffers at once:
 * a subscriber over its pub/sub output limit is closed asynchronously (net.c).
 */
#ifndef KEEL_PUBSUB_H
#define KEEL_PUBSUB_H

#include <stdbool.h>
#include <stddef.h>

#include "client.h"
#include "engine.h"

enum { PUBSUB_CHANNEL = 0, PUBSUB_PATTERN = 1, PUBSUB_SHARD = 2, PUBSUB_KINDS = 3 };

/* Install the client-cleanup and keyspace-notification hooks (server_init). */
void pubsub_init(engine_t *eng);

/* Subscribe / unsubscribe c; true when the call changed something. Sets CLIENT_PUBSUB. */
bool pubsub_add(client_t *c, int kind, const char *name, size_t n);
bool pubsub_remove(client_t *c, int kind, const char *name, size_t n);
/* Unsubscribe c from every name of one kind; cb runs after each removal (so counts are already
 * updated) with the name, which stays valid during the call. Returns how many. */
typedef void (*pubsub_removed_cb)(client_t *c, int kind, const char *name, size_t n, void *ctx);
size_t pubsub_remove_all(client_t *c, int kind, pubsub_removed_cb cb, void *ctx);
/* Free the client's state once it has no subscription left and leave subscriber mode. Commands
 * call it at their end (not in the middle: replies still count subscriptions). */
void pubsub_client_gc(client_t *c);

/* Subscriptions of c of one kind (0 when none). */
size_t pubsub_client_count(const client_t *c, int kind);
/* Whether fn holds for one of c's names of a kind (stops at the first); fn must not change
 * subscriptions. */
bool pubsub_client_any(client_t *c, int kind, bool (*fn)(void *ctx, const char *name, size_t n),
                       void *ctx);

/* Deliver a message; returns the number of receivers (pattern matches count once each). */
long long pubsub_publish(engine_t *eng, const char *ch, size_t chn, const char *msg, size_t msgn,
                         bool shard);

/* Introspection for PUBSUB and INFO. */
size_t pubsub_names_count(engine_t *eng, int kind); /* distinct channels / patterns */
size_t pubsub_subscribers(engine_t *eng, int kind, const char *name, size_t n);
/* Calls fn for every name of a kind (patterns included) matching the glob pat (NULL: all). */
void pubsub_foreach_name(engine_t *eng, int kind, const char *pat, size_t patn,
                         void (*fn)(void *ctx, const char *name, size_t n), void *ctx);

#endif

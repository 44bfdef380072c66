/*
 * cmd_pubsub.c - pub/sub commands: (P|S)SUBSCRIBE, (P|S)UNSUBSCRIBE, PUBLISH, SPUBLISH, PUBSUB.
 *
 * Replies follow Valkey: one (un)subscribe confirmation per name, as a push in RESP3 and an
 * array in RESP2, carrying the client's subscription count after the change (channels + patterns
 * for SUBSCRIBE/PSUBSCRIBE, shard channels alone for SSUBSCRIBE). In RESP2 a subscribed client
 * is in subscriber mode (exec.c refuses other commands); in RESP3 it may run anything.
 */
#include <string.h>

#include "cmd.h"
#include "pubsub.h"
#include "engine.h"
#include "util.h"
#include "reply.h"

static const char *const kind_sub[PUBSUB_KINDS] = {"subscribe", "psubscribe", "ssubscribe"};
static const char *const kind_unsub[PUBSUB_KINDS] = {"unsubscribe", "punsubscribe", "sunsubscribe"};

static long long
sub_count(const client_t *c, int kind) {
    if (kind == PUBSUB_SHARD)
        return (long long)pubsub_client_count(c, PUBSUB_SHARD);
    return (long long)(pubsub_client_count(c, PUBSUB_CHANNEL) +
                       pubsub_client_count(c, PUBSUB_PATTERN));
}

static void
confirm(client_t *c, const char *what, const char *name, size_t n, long long count) {
    reply_push(c, 3);
    reply_bulk_cstr(c, what);
    if (name)
        reply_bulk(c, name, n);
    else
        reply_null(c);
    reply_int(c, count);
}

static void
subscribe_kind(client_t *c, int kind) {
    for (int i = 1; i < c->argc; i++) {
        pubsub_add(c, kind, c->argv[i].p, c->argv[i].n);
        confirm(c, kind_sub[kind], c->argv[i].p, c->argv[i].n, sub_count(c, kind));
    }
}

static void
removed_cb(client_t *c, int kind, const char *name, size_t n, void *ctx) {
    (void)ctx;
    confirm(c, kind_unsub[kind], name, n, sub_count(c, kind));
}

static void
unsubscribe_kind(client_t *c, int kind) {
    if (!(c->flags & CLIENT_PUBSUB)) { /* no subscription of any kind: Valkey 8's answer */
        reply_errf(c, "NOSUB '%s' command executed not in subscribed mode", kind_unsub[kind]);
        return;
    }
    if (c->argc == 1) {
        if (pubsub_remove_all(c, kind, removed_cb, NULL) == 0)
            confirm(c, kind_unsub[kind], NULL, 0, sub_count(c, kind));
    } else {
        for (int i = 1; i < c->argc; i++) {
            pubsub_remove(c, kind, c->argv[i].p, c->argv[i].n);
            confirm(c, kind_unsub[kind], c->argv[i].p, c->argv[i].n, sub_count(c, kind));
        }
    }
    pubsub_client_gc(c);
}

static void
cmd_subscribe(client_t *c) {
    subscribe_kind(c, PUBSUB_CHANNEL);
}

static void
cmd_psubscribe(client_t *c) {
    subscribe_kind(c, PUBSUB_PATTERN);
}

static void
cmd_ssubscribe(client_t *c) {
    subscribe_kind(c, PUBSUB_SHARD);
}

static void
cmd_unsubscribe(client_t *c) {
    unsubscribe_kind(c, PUBSUB_CHANNEL);
}

static void
cmd_punsubscribe(client_t *c) {
    unsubscribe_kind(c, PUBSUB_PATTERN);
}

static void
cmd_sunsubscribe(client_t *c) {
    unsubscribe_kind(c, PUBSUB_SHARD);
}

static void
cmd_publish(client_t *c) {
    reply_int(c, pubsub_publish(c->eng, c->argv[1].p, c->argv[1].n, c->argv[2].p, c->argv[2].n,
                                false));
}

static void
cmd_spublish(client_t *c) {
    reply_int(c,
              pubsub_publish(c->eng, c->argv[1].p, c->argv[1].n, c->argv[2].p, c->argv[2].n, true));
}

/* ---- PUBSUB ---- */

typedef struct names_ctx {
    client_t *c;
    long long n;
} names_ctx_t;

static void
name_cb(void *ctx, const char *name, size_t n) {
    names_ctx_t *nc = ctx;
    reply_bulk(nc->c, name, n);
    nc->n++;
}

static void
list_names(client_t *c, int kind) {
    names_ctx_t nc = {c, 0};
    size_t spot = reply_defer(c);
    if (c->argc > 2)
        pubsub_foreach_name(c->eng, kind, c->argv[2].p, c->argv[2].n, name_cb, &nc);
    else
        pubsub_foreach_name(c->eng, kind, NULL, 0, name_cb, &nc);
    reply_set_deferred_array(c, spot, nc.n);
}

static void
numsub(client_t *c, int kind) {
    reply_array(c, (long long)(c->argc - 2) * 2);
    for (int i = 2; i < c->argc; i++) {
        reply_bulk(c, c->argv[i].p, c->argv[i].n);
        reply_int(c, (long long)pubsub_subscribers(c->eng, kind, c->argv[i].p, c->argv[i].n));
    }
}

static void
pubsub_channels(client_t *c) {
    if (c->argc > 3) {
        reply_err_arity(c, "pubsub|channels");
        return;
    }
    list_names(c, PUBSUB_CHANNEL);
}

static void
pubsub_shardchannels(client_t *c) {
    if (c->argc > 3) {
        reply_err_arity(c, "pubsub|shardchannels");
        return;
    }
    list_names(c, PUBSUB_SHARD);
}

static void
pubsub_numsub(client_t *c) {
    numsub(c, PUBSUB_CHANNEL);
}

static void
pubsub_shardnumsub(client_t *c) {
    numsub(c, PUBSUB_SHARD);
}

static void
pubsub_numpat(client_t *c) {
    reply_int(c, (long long)pubsub_names_count(c->eng, PUBSUB_PATTERN));
}

static void
pubsub_help(client_t *c) {
    static const char *const lines[] = {
        "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CHANNELS [<pattern>]",
        "    Return the currently active channels matching a <pattern> (default: '*').",
        "NUMPAT",
        "    Return number of subscriptions to patterns.",
        "NUMSUB [<channel> ...]",
        "    Return the number of subscribers for the specified channels, excluding",
        "    pattern subscriptions(default: no channels).",
        "SHARDCHANNELS [<pattern>]",
        "    Return the currently active shard level channels matching a <pattern> (default: '*').",
        "SHARDNUMSUB [<shardchannel> ...]",
        "    Return the number of subscribers for the specified shard level channel(s)",
        "HELP",
        "    Print this help.",
    };
    reply_help(c, lines, sizeof lines / sizeof *lines);
}

#define PS_FLAGS (CMD_PUBSUB | CMD_LOADING | CMD_STALE)

static cmd_def_t pubsub_subcmds[] = {
    {"channels", pubsub_channels, -2, PS_FLAGS, 0, 0, 0, "pubsub", "Returns the active channels.",
     "2.8.0",
     "O(N) where N is the number of active channels, and assuming constant time pattern matching (relatively short channels and patterns)",
     "pubsub slow"},
    {"numsub", pubsub_numsub, -2, PS_FLAGS, 0, 0, 0, "pubsub",
     "Returns a count of subscribers to channels.", "2.8.0",
     "O(N) for the NUMSUB subcommand, where N is the number of requested channels", "pubsub slow"},
    {"numpat", pubsub_numpat, 2, PS_FLAGS, 0, 0, 0, "pubsub",
     "Returns a count of unique pattern subscriptions.", "2.8.0", "O(1)", "pubsub slow"},
    {"shardchannels", pubsub_shardchannels, -2, PS_FLAGS, 0, 0, 0, "pubsub",
     "Returns the active shard channels.", "7.0.0",
     "O(N) where N is the number of active shard channels, and assuming constant time pattern matching (relatively short shard channels).",
     "pubsub slow"},
    {"shardnumsub", pubsub_shardnumsub, -2, PS_FLAGS, 0, 0, 0, "pubsub",
     "Returns the count of subscribers of shard channels.", "7.0.0",
     "O(N) for the SHARDNUMSUB subcommand, where N is the number of requested shard channels",
     "pubsub slow"},
    {"help", pubsub_help, 2, CMD_LOADING | CMD_STALE, 0, 0, 0, "pubsub",
     "Returns helpful text about the different subcommands.", "6.2.0", "O(1)", "slow"},
    {0},
};

#define SUB_FLAGS (CMD_PUBSUB | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_SUBSCRIBER_OK)

cmd_def_t cmd_table_pubsub[] = {
    {"subscribe", cmd_subscribe, -2, SUB_FLAGS, 0, 0, 0, "pubsub",
     "Listens for messages published to channels.", "2.0.0",
     "O(N) where N is the number of channels to subscribe to.", "pubsub slow"},
    {"unsubscribe", cmd_unsubscribe, -1, SUB_FLAGS, 0, 0, 0, "pubsub",
     "Stops listening to messages posted to channels.", "2.0.0",
     "O(N) where N is the number of channels to unsubscribe.", "pubsub slow"},
    {"psubscribe", cmd_psubscribe, -2, SUB_FLAGS, 0, 0, 0, "pubsub",
     "Listens for messages published to channels that match one or more patterns.", "2.0.0",
     "O(N) where N is the number of patterns to subscribe to.", "pubsub slow"},
    {"punsubscribe", cmd_punsubscribe, -1, SUB_FLAGS, 0, 0, 0, "pubsub",
     "Stops listening to messages published to channels that match one or more patterns.", "2.0.0",
     "O(N) where N is the number of patterns to unsubscribe.", "pubsub slow"},
    {"ssubscribe", cmd_ssubscribe, -2, SUB_FLAGS, 1, -1, 1, "pubsub",
     "Listens for messages published to shard channels.", "7.0.0",
     "O(N) where N is the number of shard channels to subscribe to.", "pubsub slow"},
    {"sunsubscribe", cmd_sunsubscribe, -1, SUB_FLAGS, 1, -1, 1, "pubsub",
     "Stops listening to messages posted to shard channels.", "7.0.0",
     "O(N) where N is the number of shard channels to unsubscribe.", "pubsub slow"},
    {"publish", cmd_publish, 3, CMD_PUBSUB | CMD_LOADING | CMD_STALE | CMD_FAST | CMD_MAY_REPLICATE,
     0, 0, 0, "pubsub", "Posts a message to a channel.", "2.0.0",
     "O(N+M) where N is the number of clients subscribed to the receiving channel and M is the total number of subscribed patterns (by any client).",
     "pubsub fast"},
    {"spublish", cmd_spublish, 3,
     CMD_PUBSUB | CMD_LOADING | CMD_STALE | CMD_FAST | CMD_MAY_REPLICATE, 1, 1, 1, "pubsub",
     "Post a message to a shard channel", "7.0.0",
     "O(N) where N is the number of clients subscribed to the receiving shard channel.",
     "pubsub fast"},
    {"pubsub", NULL, -2, 0, 0, 0, 0, "pubsub", "A container for Pub/Sub commands.", "2.8.0",
     "Depends on subcommand.", "slow", NULL, pubsub_subcmds},
    {0},
};

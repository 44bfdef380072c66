/* config.c - the settings table and its parsers (see config.h). */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <limits.h>
#include <stdint.h>
#include <unistd.h>

#include "acl.h"
#include "evict.h"
#include "exec.h"
#include "kmem.h"
#include "resp.h"
#include "sbuf.h"
#include "util.h"

enum { C_BOOL, C_INT, C_MEM, C_STR, C_ENUM, C_SPECIAL };
#define C_IMMUTABLE 1
#define C_COMPAT    2 /* accepted and reported for client compatibility; no effect in Keel */
#define C_ALIAS     4 /* Valkey's old name of the setting just above it in defs[] */
#define C_HIDDEN    8 /* a file directive, not a setting: CONFIG GET does not list it */
#define C_TLS       16 /* part of the TLS context: CONFIG SET builds a new one (config_tls_prepare) */

typedef struct cfg_def cfg_def_t;
typedef int (*cfg_set_fn)(engine_t *s, const cfg_def_t *d, int argc, const char *const *argv,
                          char *err, size_t errlen);
typedef void (*cfg_get_fn)(engine_t *s, const cfg_def_t *d, sbuf_t *out);

struct cfg_def {
    const char *name;
    int type;
    size_t off; /* offset into engine_config_t */
    long long min, max;
    const char *dflt;
    const char *const *enums;
    int flags;
    cfg_set_fn set;
    cfg_get_fn get;
};

#define OFF(f)          offsetof(engine_config_t, f)
#define CONFIG_ARGS_MAX 64 /* arguments of one config file line */

/* The largest duration in seconds a setting takes (100 years): every conversion to ms or us
 * (now - s * 1000, s * 1000000) stays far inside 64 bits. */
#define SECONDS_MAX 3153600000LL

static const char *const yesno[] = {"no", "yes", NULL};
static const char *const durability_names[] = {"off", "async", "sync", NULL};
static const char *const policy_names[] = {"noeviction",      "allkeys-lru",  "allkeys-lfu",
                                           "allkeys-random",  "volatile-lru", "volatile-lfu",
                                           "volatile-random", "volatile-ttl", NULL};
static const char *const protected_names[] = {"no", "yes", "local", NULL};
static const char *const tier_compressions[] = {"lz4", "none", "zstd", "snappy", NULL};
static const char *const loglevels[] = {"debug", "verbose", "notice", "warning", "nothing", NULL};
static const char *const tls_auth_names[] = {"no", "yes", "optional", NULL}; /* TLS_AUTH_* */

static int set_obuf_limit(engine_t *, const cfg_def_t *, int, const char *const *, char *, size_t);
static void get_obuf_limit(engine_t *, const cfg_def_t *, sbuf_t *);
static int set_wal_dir(engine_t *, const cfg_def_t *, int, const char *const *, char *, size_t);
static void get_wal_dir(engine_t *, const cfg_def_t *, sbuf_t *);
static int set_notify(engine_t *, const cfg_def_t *, int, const char *const *, char *, size_t);
static int set_compat(engine_t *, const cfg_def_t *, int, const char *const *, char *, size_t);
static void get_compat(engine_t *, const cfg_def_t *, sbuf_t *);
static int set_replicaof(engine_t *, const cfg_def_t *, int, const char *const *, char *, size_t);
static int set_requirepass(engine_t *, const cfg_def_t *, int, const char *const *, char *, size_t);
static void get_requirepass(engine_t *, const cfg_def_t *, sbuf_t *);
static int set_user(engine_t *, const cfg_def_t *, int, const char *const *, char *, size_t);
static void get_replicaof(engine_t *, const cfg_def_t *, sbuf_t *);
static int set_tls_protocols(engine_t *, const cfg_def_t *, int, const char *const *, char *,
                             size_t);
static void get_string(engine_t *, const cfg_def_t *, sbuf_t *);

static const cfg_def_t defs[] = {
    {"bind", C_STR, OFF(bind), 0, 0, "127.0.0.1", NULL, C_IMMUTABLE, NULL, NULL},
    {"port", C_INT, OFF(port), 0, 65535, "6379", NULL, C_IMMUTABLE, NULL, NULL},
    {"dir", C_STR, OFF(dir), 0, 0, "./data", NULL, C_IMMUTABLE, NULL, NULL},
    /* The default user's password (acl.c); CONFIG GET shows the value last set, as Valkey. */
    {"requirepass", C_SPECIAL, OFF(requirepass), 0, 0, "", NULL, 0, set_requirepass,
     get_requirepass},
    {"aclfile", C_STR, OFF(aclfile), 0, 0, "", NULL, C_IMMUTABLE, NULL, NULL},
    {"acllog-max-len", C_INT, OFF(acllog_max_len), 0, ACL_LOG_MAX_LEN_MAX, "128", NULL, 0, NULL,
     NULL},
    /* `user <name> <rules...>` lines of keel.conf, applied at start by acl_load_configured. */
    {"user", C_SPECIAL, 0, 0, 0, NULL, NULL, C_IMMUTABLE | C_HIDDEN, set_user, NULL},
    {"protected-mode", C_BOOL, OFF(protected_mode), 0, 1, "yes", yesno, 0, NULL, NULL},
    {"enable-debug-command", C_ENUM, OFF(enable_debug_command), 0, 0, "no", protected_names,
     C_IMMUTABLE, NULL, NULL},
    {"databases", C_INT, OFF(databases), 1, SERVER_DBS_MAX, "16", NULL, C_IMMUTABLE, NULL, NULL},
    {"maxclients", C_INT, OFF(maxclients), 1, 1000000, "10000", NULL, 0, NULL, NULL},
    {"timeout", C_INT, OFF(timeout_s), 0, 100000000, "0", NULL, 0, NULL, NULL},
    {"tcp-keepalive", C_INT, OFF(tcp_keepalive_s), 0, 100000000, "300", NULL, 0, NULL, NULL},
    {"proto-max-bulk-len", C_MEM, OFF(proto_max_bulk_len), 1024 * 1024, LLONG_MAX, "512mb", NULL, 0,
     NULL, NULL},
    {"client-query-buffer-limit", C_MEM, OFF(client_query_buffer_limit), 1024 * 1024, LLONG_MAX,
     "1gb", NULL, 0, NULL, NULL},
    {"max-multibulk-len", C_INT, OFF(multibulk_max), 1, INT32_MAX, "1048576", NULL, 0, NULL, NULL},
    {"client-output-buffer-limit", C_SPECIAL, 0, 0, 0, NULL, NULL, 0, set_obuf_limit,
     get_obuf_limit},
    {"maxmemory", C_MEM, OFF(maxmemory), 0, LLONG_MAX, "0", NULL, 0, NULL, NULL},
    {"maxmemory-policy", C_ENUM, OFF(maxmemory_policy), 0, 0, "noeviction", policy_names, 0, NULL,
     NULL},
    {"maxmemory-samples", C_INT, OFF(maxmemory_samples), 1, 64, "5", NULL, 0, NULL, NULL},
    {"lfu-log-factor", C_INT, OFF(lfu_log_factor), 0, INT32_MAX, "10", NULL, 0, NULL, NULL},
    {"lfu-decay-time", C_INT, OFF(lfu_decay_time), 0, INT32_MAX, "1", NULL, 0, NULL, NULL},
    {"hz", C_INT, OFF(hz), 1, 500, "10", NULL, 0, NULL, NULL},
    {"active-expire-enabled", C_BOOL, OFF(active_expire), 0, 1, "yes", yesno, 0, NULL, NULL},
    {"durability", C_ENUM, OFF(durability), 0, 0, "sync", durability_names, C_IMMUTABLE, NULL,
     NULL},
    {"loglevel", C_ENUM, OFF(loglevel), 0, 0, "notice", loglevels, 0, NULL, NULL},
    {"logfile", C_STR, OFF(logfile), 0, 0, "", NULL, C_IMMUTABLE, NULL, NULL},
    {"pidfile", C_STR, OFF(pidfile), 0, 0, "", NULL, C_IMMUTABLE, NULL, NULL},
    {"daemonize", C_BOOL, OFF(daemonize), 0, 1, "no", yesno, C_IMMUTABLE, NULL, NULL},
    /* Accepted for configuration files written for Valkey; I/O threads are not built yet
     * (docs/architecture.md, threads), so only 1 is allowed rather than silently ignoring a larger value. */
    {"io-threads", C_INT, OFF(io_threads), 1, 1, "1", NULL, C_IMMUTABLE, NULL, NULL},
    {"hash-max-listpack-entries", C_INT, OFF(hash_max_listpack_entries), 0, LLONG_MAX, "512", NULL,
     0, NULL, NULL},
    {"hash-max-listpack-value", C_INT, OFF(hash_max_listpack_value), 0, LLONG_MAX, "64", NULL, 0,
     NULL, NULL},
    {"set-max-intset-entries", C_INT, OFF(set_max_intset_entries), 0, LLONG_MAX, "512", NULL, 0,
     NULL, NULL},
    {"set-max-listpack-entries", C_INT, OFF(set_max_listpack_entries), 0, LLONG_MAX, "128", NULL, 0,
     NULL, NULL},
    {"set-max-listpack-value", C_INT, OFF(set_max_listpack_value), 0, LLONG_MAX, "64", NULL, 0,
     NULL, NULL},
    {"zset-max-listpack-entries", C_INT, OFF(zset_max_listpack_entries), 0, LLONG_MAX, "128", NULL,
     0, NULL, NULL},
    {"zset-max-listpack-value", C_INT, OFF(zset_max_listpack_value), 0, LLONG_MAX, "64", NULL, 0,
     NULL, NULL},
    {"list-max-listpack-size", C_INT, OFF(list_max_listpack_size), -5, INT_MAX, "-2", NULL, 0, NULL,
     NULL},
    {"notify-keyspace-events", C_SPECIAL, OFF(notify_keyspace_events), 0, 0, "", NULL, 0,
     set_notify, NULL},
    {"wal-dir", C_SPECIAL, 0, 0, 0, NULL, NULL, C_IMMUTABLE, set_wal_dir, get_wal_dir},
    {"wal-quorum", C_INT, OFF(wal_quorum), 0, 64, "0", NULL, C_IMMUTABLE, NULL, NULL},
    {"wal-segment-size", C_MEM, OFF(wal_segment_size), 1024 * 1024, LLONG_MAX, "64mb", NULL,
     C_IMMUTABLE, NULL, NULL},
    {"wal-sync-interval-ms", C_INT, OFF(wal_sync_interval_ms), 1, 60000, "1000", NULL, 0, NULL,
     NULL},
    /* The value tier (docs/tiering.md). The order of tier_compressions is tier_compression_t. */
    {"tiering", C_BOOL, OFF(tiering), 0, 1, "no", yesno, C_IMMUTABLE, NULL, NULL},
    {"tiering-dir", C_STR, OFF(tiering_dir), 0, 0, "", NULL, C_IMMUTABLE, NULL, NULL},
    {"tiering-memory-target", C_MEM, OFF(tiering_memory_target), 0, LLONG_MAX, "0", NULL, 0, NULL,
     NULL},
    {"tiering-min-value-size", C_MEM, OFF(tiering_min_value_size), 1, 512LL << 20, "64", NULL, 0,
     NULL, NULL},
    {"tiering-threads", C_INT, OFF(tiering_threads), 1, 64, "4", NULL, C_IMMUTABLE, NULL, NULL},
    {"tiering-direct-reads", C_BOOL, OFF(tiering_direct_reads), 0, 1, "no", yesno, C_IMMUTABLE,
     NULL, NULL},
    {"tiering-block-cache", C_MEM, OFF(tiering_block_cache), 1 << 20, LLONG_MAX, "64mb", NULL,
     C_IMMUTABLE, NULL, NULL},
    {"tiering-compression", C_ENUM, OFF(tiering_compression), 0, 0, "lz4", tier_compressions,
     C_IMMUTABLE, NULL, NULL},
    {"tiering-write-buffer", C_MEM, OFF(tiering_write_buffer), 1 << 20, 1LL << 30, "16mb", NULL,
     C_IMMUTABLE, NULL, NULL},
    {"snapshot-threads", C_INT, OFF(snapshot_threads), 1, 64, "2", NULL, 0, NULL, NULL},
    {"snapshot-interval-s", C_INT, OFF(snapshot_interval_s), 0, SECONDS_MAX, "3600", NULL, 0, NULL,
     NULL},
    {"snapshot-wal-bytes", C_MEM, OFF(snapshot_wal_bytes), 0, LLONG_MAX, "256mb", NULL, 0, NULL,
     NULL},
    /* The bound is snapshot/'s SNAP_FORMAT_VERSION_MAX (static_assert in persist/snapshot_save.c). */
    {"snapshot-format-version", C_INT, OFF(snapshot_format_version), 0, 4, "0", NULL, 0, NULL,
     NULL},
    {"wal-accept-loss", C_BOOL, OFF(wal_accept_loss), 0, 1, "no", yesno, C_IMMUTABLE, NULL, NULL},
    {"wal-retention", C_INT, OFF(wal_retention_s), 0, SECONDS_MAX, "86400", NULL, 0, NULL, NULL},
    {"snapshot-keep", C_INT, OFF(snapshot_keep), 1, 1000, "2", NULL, 0, NULL, NULL},
    {"slowlog-log-slower-than", C_INT, OFF(slowlog_log_slower_than), -1, LLONG_MAX, "10000", NULL,
     0, NULL, NULL},
    {"slowlog-max-len", C_INT, OFF(slowlog_max_len), 0, LLONG_MAX, "128", NULL, 0, NULL, NULL},
    /* A script running longer is "busy": other clients get -BUSY, SCRIPT KILL works (0: never). */
    {"busy-reply-threshold", C_INT, OFF(busy_reply_threshold_ms), 0, LLONG_MAX, "5000", NULL, 0,
     NULL, NULL},
    {"lua-time-limit", C_INT, OFF(busy_reply_threshold_ms), 0, LLONG_MAX, "5000", NULL, C_ALIAS,
     NULL, NULL},
    /* "host port" (one argument, or two as Valkey writes it); REPLICAOF changes it, so CONFIG
     * REWRITE keeps a node a replica (or a primary) across a restart, as Sentinel relies on. */
    {"replicaof", C_SPECIAL, OFF(replicaof), 0, 0, "", NULL, C_IMMUTABLE, set_replicaof,
     get_replicaof},
    {"slaveof", C_SPECIAL, OFF(replicaof), 0, 0, "", NULL, C_IMMUTABLE | C_ALIAS, set_replicaof,
     get_replicaof},
    {"replica-read-only", C_BOOL, OFF(replica_read_only), 1, 1, "yes", yesno, 0, NULL, NULL},
    {"slave-read-only", C_BOOL, OFF(replica_read_only), 1, 1, "yes", yesno, C_ALIAS, NULL, NULL},
    {"replica-priority", C_INT, OFF(replica_priority), 0, INT_MAX, "100", NULL, 0, NULL, NULL},
    {"slave-priority", C_INT, OFF(replica_priority), 0, INT_MAX, "100", NULL, C_ALIAS, NULL, NULL},
    {"replica-announce-ip", C_STR, OFF(replica_announce_ip), 0, 0, "", NULL, 0, NULL, NULL},
    {"slave-announce-ip", C_STR, OFF(replica_announce_ip), 0, 0, "", NULL, C_ALIAS, NULL, NULL},
    {"replica-announce-port", C_INT, OFF(replica_announce_port), 0, 65535, "0", NULL, 0, NULL,
     NULL},
    {"slave-announce-port", C_INT, OFF(replica_announce_port), 0, 65535, "0", NULL, C_ALIAS, NULL,
     NULL},
    {"replica-announced", C_BOOL, OFF(replica_announced), 0, 1, "yes", yesno, 0, NULL, NULL},
    {"masterauth", C_STR, OFF(masterauth), 0, 0, "", NULL, 0, NULL, NULL},
    {"masteruser", C_STR, OFF(masteruser), 0, 0, "", NULL, 0, NULL, NULL},
    {"repl-timeout", C_INT, OFF(repl_timeout_s), 1, 100000000, "60", NULL, 0, NULL, NULL},
    {"repl-ping-replica-period", C_INT, OFF(repl_ping_replica_period_s), 1, 100000000, "10", NULL,
     0, NULL, NULL},
    {"wal-quorum-timeout", C_INT, OFF(wal_quorum_timeout_ms), 10, 3600000, "1000", NULL, 0, NULL,
     NULL},
    {"min-replicas-to-write", C_INT, OFF(min_replicas_to_write), 0, 1000, "0", NULL, 0, NULL, NULL},
    {"min-replicas-max-lag", C_INT, OFF(min_replicas_max_lag), 0, 100000000, "10", NULL, 0, NULL,
     NULL},
    /* Read by redis-benchmark and other tools at start; Keel's persistence is `durability`. */
    {"save", C_SPECIAL, 0, 0, 0, "", NULL, C_COMPAT, set_compat, get_compat},
    {"appendonly", C_SPECIAL, 0, 0, 0, "no", NULL, C_COMPAT, set_compat, get_compat},
    /* TLS, with Valkey's names and defaults (docs/security.md). The port is fixed at start, as
     * `port` is; every other setting may change at run time. */
    {"tls-port", C_INT, OFF(tls_port), 0, 65535, "0", NULL, C_IMMUTABLE, NULL, NULL},
    {"tls-cert-file", C_STR, OFF(tls.cert_file), 0, 0, "", NULL, C_TLS, NULL, NULL},
    {"tls-key-file", C_STR, OFF(tls.key_file), 0, 0, "", NULL, C_TLS, NULL, NULL},
    {"tls-key-file-pass", C_STR, OFF(tls.key_file_pass), 0, 0, "", NULL, C_TLS, NULL, NULL},
    {"tls-client-cert-file", C_STR, OFF(tls.client_cert_file), 0, 0, "", NULL, C_TLS, NULL, NULL},
    {"tls-client-key-file", C_STR, OFF(tls.client_key_file), 0, 0, "", NULL, C_TLS, NULL, NULL},
    {"tls-client-key-file-pass", C_STR, OFF(tls.client_key_file_pass), 0, 0, "", NULL, C_TLS, NULL,
     NULL},
    {"tls-ca-cert-file", C_STR, OFF(tls.ca_cert_file), 0, 0, "", NULL, C_TLS, NULL, NULL},
    {"tls-ca-cert-dir", C_STR, OFF(tls.ca_cert_dir), 0, 0, "", NULL, C_TLS, NULL, NULL},
    {"tls-auth-clients", C_ENUM, OFF(tls.auth_clients), 0, 0, "yes", tls_auth_names, C_TLS, NULL,
     NULL},
    {"tls-protocols", C_SPECIAL, OFF(tls.protocols), 0, 0, "", NULL, C_TLS, set_tls_protocols,
     get_string},
    {"tls-ciphers", C_STR, OFF(tls.ciphers), 0, 0, "", NULL, C_TLS, NULL, NULL},
    {"tls-ciphersuites", C_STR, OFF(tls.ciphersuites), 0, 0, "", NULL, C_TLS, NULL, NULL},
    {"tls-prefer-server-ciphers", C_BOOL, OFF(tls.prefer_server_ciphers), 0, 1, "no", yesno, C_TLS,
     NULL, NULL},
    {"tls-session-caching", C_BOOL, OFF(tls.session_caching), 0, 1, "yes", yesno, C_TLS, NULL,
     NULL},
    {"tls-session-cache-size", C_INT, OFF(tls.session_cache_size), 1, INT_MAX, "20480", NULL, C_TLS,
     NULL, NULL},
    {"tls-session-cache-timeout", C_INT, OFF(tls.session_cache_timeout_s), 1, INT_MAX, "300", NULL,
     C_TLS, NULL, NULL},
    {"tls-replication", C_BOOL, OFF(tls.replication), 0, 1, "no", yesno, C_TLS, NULL, NULL},
    {NULL, 0, 0, 0, 0, NULL, NULL, 0, NULL, NULL},
};

static const cfg_def_t *
find_def(const char *name, size_t n) {
    for (const cfg_def_t *d = defs; d->name; d++)
        if (strlen(d->name) == n && strncasecmp(d->name, name, n) == 0)
            return d;
    return NULL;
}

/* The setting an alias names (aliases follow their setting in defs[]). */
static const cfg_def_t *
canonical(const cfg_def_t *d) {
    while (d->flags & C_ALIAS)
        d--;
    return d;
}

int
config_index(const char *name, size_t n) {
    const cfg_def_t *d = find_def(name, n);
    return d ? (int)(canonical(d) - defs) : -1;
}

int
config_count(void) {
    return (int)(sizeof defs / sizeof *defs);
}

static void *
field(engine_t *s, const cfg_def_t *d) {
    return (char *)&s->cfg + d->off;
}

/* Integers of every C_INT field are stored as int or long long; tell them apart by name. */
static bool
is_int_field(const cfg_def_t *d) {
    return d->off == OFF(port) || d->off == OFF(databases) || d->off == OFF(maxmemory_samples) ||
           d->off == OFF(lfu_log_factor) || d->off == OFF(lfu_decay_time) || d->off == OFF(hz) ||
           d->off == OFF(io_threads) || d->off == OFF(wal_quorum) ||
           d->off == OFF(snapshot_threads) || d->off == OFF(snapshot_format_version) ||
           d->off == OFF(snapshot_keep);
}

static int
set_value(engine_t *s, const cfg_def_t *d, const char *v, char *err, size_t errlen) {
    long long n;
    switch (d->type) {
    case C_BOOL:
        if (d->min == 1 && !strcasecmp(v, "no")) { /* replica-read-only */
            snprintf(err, errlen,
                     "Keel replicas are always read-only: a local write would take "
                     "an LSN of the primary's log");
            return -1;
        }
        if (!strcasecmp(v, "yes") || !strcasecmp(v, "no")) {
            *(bool *)field(s, d) = !strcasecmp(v, "yes");
            return 0;
        }
        snprintf(err, errlen, "argument must be 'yes' or 'no'");
        return -1;
    case C_INT:
    case C_MEM:
        /* The two messages are Valkey's (numericParseString): clients and scripts match them. */
        if (d->type == C_MEM && (!util_parse_memory(v, &n) || n < 0)) {
            snprintf(err, errlen, "argument must be a memory value");
            return -1;
        }
        if (d->type == C_INT && !util_parse_ll(v, strlen(v), &n)) {
            snprintf(err, errlen, "argument couldn't be parsed into an integer");
            return -1;
        }
        if (n < d->min || n > d->max) {
            snprintf(err, errlen, "argument must be between %lld and %lld inclusive", d->min,
                     d->max);
            return -1;
        }
        if (d->off == OFF(maxclients) && s->loop) { /* running: the descriptors must exist */
            unsigned long long got = util_raise_nofile((unsigned long long)n + ENGINE_FDS_RESERVED);
            if (got < (unsigned long long)n + ENGINE_FDS_RESERVED) {
                snprintf(err, errlen,
                         "The operating system is not able to handle the specified number of "
                         "clients, try with %lld",
                         got > ENGINE_FDS_RESERVED ? (long long)(got - ENGINE_FDS_RESERVED) : 0);
                return -1;
            }
        }
        if (is_int_field(d))
            *(int *)field(s, d) = (int)n;
        else
            *(long long *)field(s, d) = n;
        return 0;
    case C_STR: {
        char **p = field(s, d);
        kfree(*p);
        *p = kstrndup(v, strlen(v));
        return 0;
    }
    case C_ENUM:
        for (int i = 0; d->enums[i]; i++) {
            if (!strcasecmp(v, d->enums[i])) {
                if (d->off == OFF(loglevel)) {
                    char **p = field(s, d);
                    kfree(*p);
                    *p = kstrndup(d->enums[i], strlen(d->enums[i]));
                } else {
                    *(int *)field(s, d) = i;
                }
                return 0;
            }
        }
        snprintf(err, errlen, "argument(s) must be one of the following: ");
        for (int i = 0; d->enums[i]; i++) {
            size_t l = strlen(err);
            snprintf(err + l, errlen - l, "%s%s", i ? ", " : "", d->enums[i]);
        }
        return -1;
    }
    return -1;
}

/* The value as CONFIG GET shows it, appended to out whole (a value has no length limit). */
static void
get_value(engine_t *s, const cfg_def_t *d, sbuf_t *out) {
    switch (d->type) {
    case C_BOOL: sbuf_printf(out, "%s", *(bool *)field(s, d) ? "yes" : "no"); break;
    case C_INT:
    case C_MEM:
        if (is_int_field(d))
            sbuf_printf(out, "%d", *(int *)field(s, d));
        else
            sbuf_printf(out, "%lld", *(long long *)field(s, d));
        break;
    case C_STR: {
        char *v = *(char **)field(s, d);
        sbuf_printf(out, "%s", v ? v : "");
        break;
    }
    case C_ENUM:
        if (d->off == OFF(loglevel))
            sbuf_printf(out, "%s", s->cfg.loglevel);
        else
            sbuf_printf(out, "%s", d->enums[*(int *)field(s, d)]);
        break;
    case C_SPECIAL:
        if (d->get)
            d->get(s, d, out);
        else if (d->off == OFF(notify_keyspace_events))
            sbuf_printf(out, "%s",
                        s->cfg.notify_keyspace_events ? s->cfg.notify_keyspace_events : "");
        break;
    }
}

static int
set_obuf_limit(engine_t *s, const cfg_def_t *d, int argc, const char *const *argv, char *err,
               size_t errlen) {
    (void)d;
    /* "normal 0 0 0 pubsub 32mb 8mb 60": groups of four; one value holding them all too. */
    char buf[512], *words[64];
    int n = 0;
    if (argc == 1) {
        snprintf(buf, sizeof buf, "%s", argv[0]);
        for (char *t = strtok(buf, " "); t && n < 64; t = strtok(NULL, " "))
            words[n++] = t;
    } else {
        for (int i = 0; i < argc && n < 64; i++)
            words[n++] = (char *)argv[i];
    }
    if (n == 0 || n % 4) {
        snprintf(err, errlen, "Wrong number of arguments in buffer limit configuration.");
        return -1;
    }
    for (int i = 0; i < n; i += 4) {
        long long h, so, sec;
        int cls = !strcasecmp(words[i], "normal")                                        ? 0
                  : !strcasecmp(words[i], "pubsub")                                      ? 1
                  : (!strcasecmp(words[i], "replica") || !strcasecmp(words[i], "slave")) ? 2
                                                                                         : -1;
        if (cls < 0 || !util_parse_memory(words[i + 1], &h) ||
            !util_parse_memory(words[i + 2], &so) ||
            !util_parse_ll(words[i + 3], strlen(words[i + 3]), &sec) || h < 0 || so < 0 ||
            sec < 0) {
            snprintf(err, errlen, "Invalid client class specified in buffer limit configuration.");
            return -1;
        }
        if (sec > SECONDS_MAX) {
            snprintf(err, errlen, "soft limit seconds must be between 0 and %lld inclusive",
                     SECONDS_MAX);
            return -1;
        }
        if (cls == 0) {
            s->cfg.obuf_normal_hard = h;
            s->cfg.obuf_normal_soft = so;
            s->cfg.obuf_normal_soft_s = sec;
        } else if (cls == 1) {
            s->cfg.obuf_pubsub_hard = h;
            s->cfg.obuf_pubsub_soft = so;
            s->cfg.obuf_pubsub_soft_s = sec;
        }
    }
    return 0;
}

static void
get_obuf_limit(engine_t *s, const cfg_def_t *d, sbuf_t *out) {
    (void)d;
    sbuf_printf(out, "normal %lld %lld %lld slave 268435456 67108864 60 pubsub %lld %lld %lld",
                s->cfg.obuf_normal_hard, s->cfg.obuf_normal_soft, s->cfg.obuf_normal_soft_s,
                s->cfg.obuf_pubsub_hard, s->cfg.obuf_pubsub_soft, s->cfg.obuf_pubsub_soft_s);
}

static int
set_wal_dir(engine_t *s, const cfg_def_t *d, int argc, const char *const *argv, char *err,
            size_t errlen) {
    (void)d;
    for (int i = 0; i < argc; i++) {
        if (!argv[i][0]) {
            snprintf(err, errlen, "wal-dir must not be empty");
            return -1;
        }
        if (s->cfg.wal_ndirs >= 16) {
            snprintf(err, errlen, "at most 16 wal-dir copies");
            return -1;
        }
        s->cfg.wal_dirs =
            krealloc(s->cfg.wal_dirs, sizeof(char *) * (size_t)(s->cfg.wal_ndirs + 1));
        s->cfg.wal_dirs[s->cfg.wal_ndirs++] = kstrndup(argv[i], strlen(argv[i]));
    }
    return 0;
}

static void
get_wal_dir(engine_t *s, const cfg_def_t *d, sbuf_t *out) {
    (void)d;
    for (int i = 0; i < s->cfg.wal_ndirs; i++)
        sbuf_printf(out, "%s%s", i ? " " : "", s->cfg.wal_dirs[i]);
}

/* Letters as Valkey's notify-keyspace-events. */
static int
parse_notify(const char *v) {
    int f = 0;
    for (; *v; v++) {
        switch (*v) {
        case 'A':
            f |= NOTIFY_GENERIC | NOTIFY_STRING | NOTIFY_LIST | NOTIFY_SET | NOTIFY_HASH |
                 NOTIFY_ZSET | NOTIFY_EXPIRED | NOTIFY_EVICTED | NOTIFY_STREAM;
            break;
        case 'g': f |= NOTIFY_GENERIC; break;
        case '$': f |= NOTIFY_STRING; break;
        case 'l': f |= NOTIFY_LIST; break;
        case 's': f |= NOTIFY_SET; break;
        case 'h': f |= NOTIFY_HASH; break;
        case 'z': f |= NOTIFY_ZSET; break;
        case 'x': f |= NOTIFY_EXPIRED; break;
        case 'e': f |= NOTIFY_EVICTED; break;
        case 'K': f |= NOTIFY_KEYSPACE; break;
        case 'E': f |= NOTIFY_KEYEVENT; break;
        case 't': f |= NOTIFY_STREAM; break;
        case 'm': f |= NOTIFY_KEY_MISS; break;
        case 'n': f |= NOTIFY_NEW; break;
        default: return -1;
        }
    }
    return f;
}

static int
set_notify(engine_t *s, const cfg_def_t *d, int argc, const char *const *argv, char *err,
           size_t errlen) {
    (void)d;
    int f = parse_notify(argc ? argv[0] : "");
    if (f < 0) {
        snprintf(err, errlen, "Invalid event class character. Use 'Ag$lshzxeKEtmn'.");
        return -1;
    }
    /* Without K or E nothing is sent; Valkey then reports the setting as empty. */
    if (!(f & (NOTIFY_KEYSPACE | NOTIFY_KEYEVENT)))
        f = 0;
    s->cfg.notify_flags = f;
    kfree(s->cfg.notify_keyspace_events);
    s->cfg.notify_keyspace_events = kstrndup(argc ? argv[0] : "", argc ? strlen(argv[0]) : 0);
    return 0;
}

static int
set_compat(engine_t *s, const cfg_def_t *d, int argc, const char *const *argv, char *err,
           size_t errlen) {
    (void)s;
    (void)argc;
    (void)argv;
    if (!strcmp(d->name, "appendonly") && argc && !strcasecmp(argv[0], "yes")) {
        snprintf(err, errlen, "Keel always logs writes; use 'durability sync|async|off'");
        return -1;
    }
    return 0;
}

static void
get_compat(engine_t *s, const cfg_def_t *d, sbuf_t *out) {
    if (!strcmp(d->name, "appendonly"))
        sbuf_printf(out, "%s", s->cfg.durability == DURABILITY_OFF ? "no" : "yes");
    else
        sbuf_printf(out, "%s", d->dflt);
}

static int
set_replicaof(engine_t *s, const cfg_def_t *d, int argc, const char *const *argv, char *err,
              size_t errlen) {
    char host[256] = "", rest[8] = "";
    long long port = 0;
    if (argc == 2) {
        snprintf(host, sizeof host, "%s", argv[0]);
        if (!util_parse_ll(argv[1], strlen(argv[1]), &port))
            port = -1;
    } else if (argc == 1 && argv[0][0]) {
        if (sscanf(argv[0], "%255s %lld %7s", host, &port, rest) != 2)
            port = -1;
    } else if (argc != 1) {
        port = -1;
    }
    /* Kept as one "host port" string: a host with a space or a control byte would read back
     * as something else (CONFIG REWRITE, INFO). No host name or address has one. */
    for (const char *h = host; *h; h++)
        if ((unsigned char)*h <= ' ' || *h == 0x7f)
            port = -1;
    if (port < 0 || port > 65535 || (host[0] && port == 0) || strlen(host) >= 255) {
        snprintf(err, errlen, "expected 'host port'");
        return -1;
    }
    char **p = field(s, d);
    kfree(*p);
    char v[280];
    int n = host[0] ? snprintf(v, sizeof v, "%s %lld", host, port) : 0;
    *p = kstrndup(v, (size_t)n);
    return 0;
}

static void
get_replicaof(engine_t *s, const cfg_def_t *d, sbuf_t *out) {
    (void)d;
    sbuf_printf(out, "%s", s->cfg.replicaof ? s->cfg.replicaof : "");
}

static int
set_requirepass(engine_t *s, const cfg_def_t *d, int argc, const char *const *argv, char *err,
                size_t errlen) {
    (void)d;
    if (argc != 1) {
        snprintf(err, errlen, "wrong number of arguments for 'requirepass'");
        return -1;
    }
    if (strlen(argv[0]) > ACL_PASSWORD_MAX) {
        snprintf(err, errlen, "password too long (at most %d bytes)", ACL_PASSWORD_MAX);
        return -1;
    }
    kfree(s->cfg.requirepass);
    s->cfg.requirepass = kstrndup(argv[0], strlen(argv[0]));
    if (s->acl) /* at start the ACL module reads it once it exists */
        acl_set_default_password(s, s->cfg.requirepass);
    return 0;
}

/* tls-protocols: checked here, so that a bad value fails at start and in CONFIG SET alike. */
static int
set_tls_protocols(engine_t *s, const cfg_def_t *d, int argc, const char *const *argv, char *err,
                  size_t errlen) {
    unsigned mask;
    const char *v = argc == 1 ? argv[0] : NULL;
    if (!v) {
        snprintf(err, errlen, "wrong number of arguments for '%s'", d->name);
        return -1;
    }
    if (tls_parse_protocols(v, &mask, err, errlen) < 0)
        return -1;
    char **p = field(s, d);
    kfree(*p);
    *p = kstrndup(v, strlen(v));
    return 0;
}

static void
get_requirepass(engine_t *s, const cfg_def_t *d, sbuf_t *out) {
    (void)d;
    sbuf_printf(out, "%s", s->cfg.requirepass ? s->cfg.requirepass : "");
}

static int
set_user(engine_t *s, const cfg_def_t *d, int argc, const char *const *argv, char *err,
         size_t errlen) {
    (void)d;
    if (argc < 1 || !argv[0][0]) {
        snprintf(err, errlen, "expected 'user <name> [rule ...]'");
        return -1;
    }
    s->cfg.acl_users =
        krealloc(s->cfg.acl_users, sizeof *s->cfg.acl_users * (size_t)(s->cfg.acl_nusers + 1));
    acl_conf_user_t *u = &s->cfg.acl_users[s->cfg.acl_nusers++];
    u->argc = argc;
    u->argv = kmalloc(sizeof *u->argv * (size_t)argc);
    for (int i = 0; i < argc; i++)
        u->argv[i] = kstrndup(argv[i], strlen(argv[i]));
    return 0;
}

static void
get_string(engine_t *s, const cfg_def_t *d, sbuf_t *out) {
    char *v = *(char **)field(s, d);
    sbuf_printf(out, "%s", v ? v : "");
}

static void
config_apply(engine_t *s) {
    bool lfu = s->cfg.maxmemory_policy == EVICT_ALLKEYS_LFU ||
               s->cfg.maxmemory_policy == EVICT_VOLATILE_LFU;
    db_set_lfu_mode(&s->dbenv, lfu, s->cfg.lfu_log_factor, s->cfg.lfu_decay_time);
}

/* Every default, without applying derived state (a scratch copy must not touch globals). */
static void
set_defaults(engine_t *s) {
    char err[256];
    for (const cfg_def_t *d = defs; d->name; d++) {
        if (!d->dflt || d->set == set_compat || (d->flags & C_ALIAS))
            continue;
        const char *argv[1] = {d->dflt};
        if (d->type == C_SPECIAL)
            d->set(s, d, 1, argv, err, sizeof err);
        else
            set_value(s, d, d->dflt, err, sizeof err);
    }
    const char *obl[] = {"normal 0 0 0 pubsub 33554432 8388608 60"};
    set_obuf_limit(s, NULL, 1, obl, err, sizeof err);
}

void
config_defaults(engine_t *s) {
    set_defaults(s);
    config_apply(s);
}

static int
set_one(engine_t *s, int argc, const char *const *argv, bool startup, char *err, size_t errlen) {
    const cfg_def_t *d = find_def(argv[0], strlen(argv[0]));
    if (!d) {
        snprintf(err, errlen, "Unknown option or number of arguments for CONFIG SET - '%s'",
                 argv[0]);
        return -1;
    }
    if (!startup && (d->flags & C_IMMUTABLE)) {
        snprintf(
            err, errlen,
            "CONFIG SET failed (possibly related to argument '%s') - can't set immutable config",
            d->name);
        return -1;
    }
    if (d->type == C_SPECIAL)
        return d->set(s, d, argc - 1, argv + 1, err, errlen);
    if (argc != 2) {
        snprintf(err, errlen, "wrong number of arguments for '%s'", d->name);
        return -1;
    }
    return set_value(s, d, argv[1], err, errlen);
}

int
config_set(engine_t *s, int argc, const char *const *argv, const size_t *lens, bool startup,
           char *err, size_t errlen) {
    (void)lens;
    int rc = set_one(s, argc, argv, startup, err, errlen);
    if (rc == 0)
        config_apply(s);
    return rc;
}

void
config_free(engine_t *s) {
    for (const cfg_def_t *d = defs; d->name; d++) {
        if (d->flags & C_ALIAS)
            continue;
        if (d->type == C_STR || d->off == OFF(replicaof) || d->off == OFF(requirepass) ||
            d->set == set_tls_protocols || (d->type == C_ENUM && d->off == OFF(loglevel))) {
            char **p = field(s, d);
            kfree(*p);
            *p = NULL;
        }
    }
    kfree(s->cfg.notify_keyspace_events);
    s->cfg.notify_keyspace_events = NULL;
    for (int i = 0; i < s->cfg.wal_ndirs; i++)
        kfree(s->cfg.wal_dirs[i]);
    kfree(s->cfg.wal_dirs);
    s->cfg.wal_dirs = NULL;
    s->cfg.wal_ndirs = 0;
    for (int i = 0; i < s->cfg.acl_nusers; i++) {
        for (int j = 0; j < s->cfg.acl_users[i].argc; j++)
            kfree(s->cfg.acl_users[i].argv[j]);
        kfree(s->cfg.acl_users[i].argv);
    }
    kfree(s->cfg.acl_users);
    s->cfg.acl_users = NULL;
    s->cfg.acl_nusers = 0;
}

int
config_validate(int argc, const char *const *argv, char *err, size_t errlen) {
    engine_t *scratch = kcalloc(1, sizeof *scratch);
    set_defaults(scratch);
    int rc = set_one(scratch, argc, argv, false, err, errlen);
    config_free(scratch);
    kfree(scratch);
    return rc;
}

bool
config_tls_enabled(const engine_t *s) {
    return s->cfg.tls_port > 0 || s->cfg.tls.replication;
}

int
config_tls_prepare(engine_t *s, int argc, const karg_t *argv, tls_ctx_t **out, int *bad, char *err,
                   size_t errlen) {
    *out = NULL;
    *bad = -1;
    for (int i = 0; i + 1 < argc && *bad < 0; i += 2) {
        const cfg_def_t *d = find_def(argv[i].p, argv[i].n);
        if (d && (d->flags & C_TLS))
            *bad = i;
    }
    if (*bad < 0)
        return 0;
    /* The TLS settings as they are, then the pairs, on a scratch copy. */
    engine_t *scratch = kcalloc(1, sizeof *scratch);
    set_defaults(scratch);
    scratch->cfg.tls_port = s->cfg.tls_port;
    sbuf_t val = {0};
    int rc = 0;
    for (const cfg_def_t *d = defs; d->name && rc == 0; d++) {
        if (!(d->flags & C_TLS) || (d->flags & C_ALIAS))
            continue;
        val.len = 0;
        sbuf_append(&val, "", 0);
        get_value(s, d, &val);
        const char *a[2] = {d->name, val.p};
        rc = set_one(scratch, 2, a, true, err, errlen);
    }
    for (int i = 0; i + 1 < argc && rc == 0; i += 2) {
        char *name = kstrndup(argv[i].p, argv[i].n);
        char *v = kstrndup(argv[i + 1].p, argv[i + 1].n);
        const char *a[2] = {name, v};
        rc = set_one(scratch, 2, a, false, err, errlen);
        kfree(name);
        kfree(v);
    }
    sbuf_free(&val);
    if (rc == 0 && config_tls_enabled(scratch)) {
        *out = tls_ctx_build(&scratch->cfg.tls, err, errlen);
        rc = *out ? 0 : -1;
    }
    config_free(scratch);
    kfree(scratch);
    return rc;
}

/* One line of a config file split as the loader splits it (the inline-command rules: quotes,
 * escapes): the argument pointers and the NUL-terminated arguments in one allocation, to
 * kfree; *argc = 0 for a blank or comment line, -1 for unbalanced quotes. */
static char **
split_line(const char *line, size_t n, int *argc) {
    char *out = kmalloc(n + 1);
    size_t offs[CONFIG_ARGS_MAX], lens[CONFIG_ARGS_MAX];
    char **args = NULL;
    int k = resp_split_args(line, n, out, offs, lens, CONFIG_ARGS_MAX);
    if (k > 0 && out[offs[0]] == '#')
        k = 0;
    if (k > 0) {
        /* One block: the pointers, then the arguments with their terminators. */
        size_t bytes = sizeof(char *) * (size_t)k;
        for (int i = 0; i < k; i++)
            bytes += lens[i] + 1;
        args = kmalloc(bytes);
        char *store = (char *)(args + k);
        for (int i = 0; i < k; i++) {
            memcpy(store, out + offs[i], lens[i]);
            store[lens[i]] = 0;
            args[i] = store;
            store += lens[i] + 1;
        }
    }
    kfree(out);
    *argc = k;
    return args;
}

int
config_load_file(engine_t *s, const char *path, char *err, size_t errlen) {
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "can't open config file '%s': %s", path, strerror(errno));
        return -1;
    }
    char *line = NULL;
    size_t cap = 0;
    int lineno = 0, rc = 0;
    for (ssize_t n; (n = getline(&line, &cap, f)) >= 0;) { /* lines of any length */
        int argc;
        char ebuf[256];
        lineno++;
        char **args = split_line(line, (size_t)n, &argc);
        if (argc < 0) {
            snprintf(err, errlen, "%s:%d: unbalanced quotes", path, lineno);
            rc = -1;
            break;
        }
        if (argc > 0 &&
            config_set(s, argc, (const char *const *)args, NULL, true, ebuf, sizeof ebuf) < 0) {
            snprintf(err, errlen, "%s:%d: '%s': %s", path, lineno, args[0], ebuf);
            rc = -1;
        }
        kfree(args);
        if (rc)
            break;
    }
    free(line); /* getline's, from libc malloc */
    fclose(f);
    return rc;
}

int
config_load_args(engine_t *s, int argc, char **argv, char *err, size_t errlen) {
    for (int i = 0; i < argc;) {
        if (strncmp(argv[i], "--", 2) != 0 || !argv[i][2]) {
            snprintf(err, errlen, "unexpected argument '%s' (options are --name value)", argv[i]);
            return -1;
        }
        const char *args[64];
        int n = 0;
        args[n++] = argv[i] + 2;
        i++;
        while (i < argc && strncmp(argv[i], "--", 2) != 0 && n < 64)
            args[n++] = argv[i++];
        char ebuf[256];
        if (config_set(s, n, args, NULL, true, ebuf, sizeof ebuf) < 0) {
            snprintf(err, errlen, "--%s: %s", args[0], ebuf);
            return -1;
        }
    }
    return 0;
}

void
config_get(engine_t *s, const char *pat, size_t plen,
           void (*fn)(void *ctx, const char *name, const char *value), void *ctx) {
    sbuf_t buf = {0};
    for (const cfg_def_t *d = defs; d->name; d++) {
        if ((d->flags & C_HIDDEN) || !util_glob_match(pat, plen, d->name, strlen(d->name), true))
            continue;
        buf.len = 0;
        sbuf_append(&buf, "", 0); /* a value may be empty: still a string */
        get_value(s, d, &buf);
        fn(ctx, d->name, buf.p);
    }
    sbuf_free(&buf);
}

/* A value as the loader reads it back: bare when it is a plain word, else double-quoted with
 * the escapes resp_split_args() undoes (as Valkey's rewrite does with sdscatrepr): a newline
 * written bare would end the line, an empty value would vanish. */
static void
write_value(FILE *f, const char *v) {
    bool plain = *v != 0;
    for (const unsigned char *p = (const unsigned char *)v; plain && *p; p++)
        plain = *p > ' ' && *p < 0x7f && *p != '"' && *p != '\'' && *p != '\\';
    if (plain) {
        fputs(v, f);
        return;
    }
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
        switch (*p) {
        case '\\': fputs("\\\\", f); break;
        case '"': fputs("\\\"", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        case '\t': fputs("\\t", f); break;
        default:
            if (*p < ' ' || *p >= 0x7f)
                fprintf(f, "\\x%02x", *p);
            else
                fputc(*p, f);
        }
    }
    fputc('"', f);
}

static void
write_line(FILE *f, engine_t *s, const cfg_def_t *d, const char *v) {
    if (d->type == C_SPECIAL && !strcmp(d->name, "wal-dir")) { /* one line per log copy */
        for (int i = 0; i < s->cfg.wal_ndirs; i++) {
            fputs("wal-dir ", f);
            write_value(f, s->cfg.wal_dirs[i]);
            fputc('\n', f);
        }
        return;
    }
    if (!strcmp(d->name, "client-output-buffer-limit")) { /* class names and numbers */
        fprintf(f, "%s %s\n", d->name, v);
        return;
    }
    if (!strcmp(d->name, "replicaof")) { /* Valkey's form: two words; none for a primary */
        const char *sp = strrchr(v, ' ');
        if (v[0] && sp) {
            char *host = kstrndup(v, (size_t)(sp - v));
            fputs("replicaof ", f);
            write_value(f, host);
            fprintf(f, " %s\n", sp + 1);
            kfree(host);
        }
        return;
    }
    fprintf(f, "%s ", d->name);
    write_value(f, v);
    fputc('\n', f);
}

/* Copies the lines of the config file in, rewriting the first line of each known setting with
 * its value and dropping its repeats (written[] marks them); comments, blank and unknown lines
 * are kept as they are. A line is read as the loader reads it (split_line). */
static int
rewrite_lines(engine_t *s, FILE *in, FILE *out, bool *written, sbuf_t *val, char *err,
              size_t errlen) {
    char *line = NULL;
    size_t cap = 0;
    for (ssize_t n; (n = getline(&line, &cap, in)) >= 0;) {
        int argc;
        char **args = split_line(line, (size_t)n, &argc);
        const cfg_def_t *d = argc > 0 ? find_def(args[0], strlen(args[0])) : NULL;
        kfree(args);
        if (!d || (d->flags & C_COMPAT)) {
            fwrite(line, 1, (size_t)n, out); /* as it is, NUL bytes and all */
            if (line[n - 1] != '\n') /* a last line without one: what follows is a line too */
                fputc('\n', out);
            continue;
        }
        d = canonical(d); /* a line under an old name is rewritten under the current one */
        size_t i = (size_t)(d - defs);
        if (written[i])
            continue;
        written[i] = true;
        if (d->set == set_user) { /* the users as they are now, not as the file had them */
            if (acl_rewrite_config(s, out, err, errlen) < 0) {
                free(line);
                return -1;
            }
            continue;
        }
        val->len = 0;
        sbuf_append(val, "", 0);
        get_value(s, d, val);
        write_line(out, s, d, val->p);
    }
    free(line); /* getline's, from libc malloc */
    return 0;
}

int
config_rewrite(engine_t *s, char *err, size_t errlen) {
    if (!s->config_file) {
        snprintf(err, errlen, "The server is running without a config file");
        return -1;
    }
    /* Keep comments and unknown lines; replace the first line of each known setting, drop its
     * repeats, append settings that differ from the default. Written to a temporary file and
     * renamed, so a crash leaves the old file or the new one. */
    FILE *in = fopen(s->config_file, "r");
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", s->config_file);
    FILE *out = fopen(tmp, "w");
    if (!out) {
        snprintf(err, errlen, "Rewriting config file: %s", strerror(errno));
        if (in)
            fclose(in);
        return -1;
    }
    bool written[sizeof defs / sizeof *defs] = {false};
    sbuf_t val = {0}, dflt = {0};
    engine_t *fresh = NULL;
    if (in) {
        int r = rewrite_lines(s, in, out, written, &val, err, errlen);
        fclose(in);
        in = NULL;
        if (r < 0)
            goto fail;
    }
    /* A setting is the default when it reads back as a fresh engine's does. */
    fresh = kcalloc(1, sizeof *fresh);
    set_defaults(fresh);
    for (const cfg_def_t *d = defs; d->name; d++) {
        size_t i = (size_t)(d - defs);
        if (written[i] || (d->flags & (C_COMPAT | C_ALIAS)))
            continue;
        if (d->set == set_user) {
            if (acl_rewrite_config(s, out, err, errlen) < 0)
                goto fail;
            continue;
        }
        val.len = dflt.len = 0;
        sbuf_append(&val, "", 0);
        sbuf_append(&dflt, "", 0);
        get_value(s, d, &val);
        get_value(fresh, d, &dflt);
        if (strcmp(val.p, dflt.p) != 0)
            write_line(out, s, d, val.p);
    }
    config_free(fresh);
    kfree(fresh);
    sbuf_free(&val);
    sbuf_free(&dflt);
    int rc = fflush(out) != 0 || fsync(fileno(out)) != 0 ? -1 : 0;
    if (fclose(out) != 0 || rc != 0 || rename(tmp, s->config_file) != 0) {
        snprintf(err, errlen, "Rewriting config file: %s", strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
fail:
    if (fresh) {
        config_free(fresh);
        kfree(fresh);
    }
    sbuf_free(&val);
    sbuf_free(&dflt);
    fclose(out);
    unlink(tmp);
    return -1;
}

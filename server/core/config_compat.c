/*
 * config_compat.c - the Valkey settings Keel has no row for in its settings table, and what Keel
 * does about each (docs/configuration.md has the same table for people).
 *
 * No setting is silently ignored. Each entry says which value describes what Keel does, if one
 * does (`keel`): a config file or CONFIG SET giving exactly that value is accepted, since Keel
 * does just that, and CONFIG GET shows it. Any other value is not honoured: in a config file or
 * on the command line it loads with one warning line (config_file.c), and CONFIG SET refuses it;
 * both say what to use in Keel instead.
 *
 * A row of the settings table (config.c) wins over an entry here, so a setting Keel comes to
 * honour only needs its row; its entry here should then go.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config_int.h"
#include "util.h"

#define RDB                                                                                        \
    "Keel persists every write in its log and takes its own snapshots of it; see durability, "     \
    "snapshot-interval-s, snapshot-wal-bytes (docs/durability.md)"
#define AOF                                                                                        \
    "Keel always logs writes to its own log; see durability (sync|async|off), wal-dir, "           \
    "wal-sync-interval-ms (docs/durability.md)"
#define CLUSTER "Keel has no cluster mode; scale reads with replicas (docs/replication.md)"
#define DEFRAG  "Keel does not defragment memory"
#define DISKLESS                                                                                   \
    "a Keel replica syncs from the primary's snapshot and log files, never from an RDB stream "    \
    "(docs/replication.md)"
#define OS     "Keel does not manage this part of the operating system; set it outside the server"
#define NOSUCH "Keel has no such mechanism"

static const cfg_foreign_t foreign[] = {
    /* Persistence: the log and snapshots replace RDB and AOF. */
    {"appendfsync", NULL, "use durability: sync is always, async is everysec (docs/durability.md)"},
    {"appendfilename", NULL, AOF},
    {"appenddirname", NULL, AOF},
    {"no-appendfsync-on-rewrite", NULL, AOF},
    {"auto-aof-rewrite-percentage", NULL, "use snapshot-wal-bytes (docs/durability.md)"},
    {"auto-aof-rewrite-min-size", NULL, "use snapshot-wal-bytes (docs/durability.md)"},
    {"aof-load-truncated", NULL,
     "a torn log tail is always cut at the last whole record; see wal-accept-loss "
     "(docs/durability.md)"},
    {"aof-use-rdb-preamble", NULL, AOF},
    {"aof-timestamp-enabled", NULL, AOF},
    {"aof-rewrite-incremental-fsync", NULL, AOF},
    {"aof-disable-auto-gc", NULL, "use wal-retention (docs/durability.md)"},
    {"dbfilename", NULL, RDB},
    {"rdbcompression", NULL, RDB},
    {"rdbchecksum", NULL, "Keel checks a checksum on every snapshot block and log record"},
    {"rdb-del-sync-files", NULL, RDB},
    {"rdb-save-incremental-fsync", NULL, RDB},
    {"stop-writes-on-bgsave-error", NULL,
     "Keel stops writes when its log cannot be written, whatever this says (docs/durability.md)"},
    /* Replication. */
    {"repl-diskless-sync", NULL, DISKLESS},
    {"repl-diskless-sync-delay", NULL, DISKLESS},
    {"repl-diskless-sync-max-replicas", NULL, DISKLESS},
    {"repl-diskless-load", NULL, DISKLESS},
    {"repl-backlog-size", NULL,
     "a replica catches up from the primary's log files; see wal-retention (docs/replication.md)"},
    {"repl-backlog-ttl", NULL, "see wal-retention (docs/replication.md)"},
    {"repl-disable-tcp-nodelay", "no", "Keel always sends with TCP_NODELAY"},
    {"replica-serve-stale-data", NULL, NOSUCH},
    {"slave-serve-stale-data", NULL, NOSUCH},
    {"replica-lazy-flush", NULL, NOSUCH},
    {"slave-lazy-flush", NULL, NOSUCH},
    {"replica-ignore-maxmemory", NULL, NOSUCH},
    {"slave-ignore-maxmemory", NULL, NOSUCH},
    {"replica-ignore-disk-write-errors", NULL,
     "a Keel replica stops when its log cannot be written (docs/durability.md)"},
    {"propagation-error-behavior", NULL, NOSUCH},
    /* Cluster. */
    {"cluster-enabled", "no", CLUSTER},
    {"cluster-config-file", NULL, CLUSTER},
    {"cluster-node-timeout", NULL, CLUSTER},
    {"cluster-port", NULL, CLUSTER},
    {"cluster-announce-ip", NULL, CLUSTER},
    {"cluster-announce-port", NULL, CLUSTER},
    {"cluster-announce-tls-port", NULL, CLUSTER},
    {"cluster-announce-bus-port", NULL, CLUSTER},
    {"cluster-announce-hostname", NULL, CLUSTER},
    {"cluster-preferred-endpoint-type", NULL, CLUSTER},
    {"cluster-require-full-coverage", NULL, CLUSTER},
    {"cluster-replica-no-failover", NULL, CLUSTER},
    {"cluster-slave-no-failover", NULL, CLUSTER},
    {"cluster-replica-validity-factor", NULL, CLUSTER},
    {"cluster-slave-validity-factor", NULL, CLUSTER},
    {"cluster-migration-barrier", NULL, CLUSTER},
    {"cluster-allow-replica-migration", NULL, CLUSTER},
    {"cluster-allow-reads-when-down", NULL, CLUSTER},
    {"cluster-allow-pubsubshard-when-down", NULL, CLUSTER},
    {"cluster-link-sendbuf-limit", NULL, CLUSTER},
    {"tls-cluster", NULL, CLUSTER},
    /* Memory and the keyspace. */
    {"activedefrag", "no", DEFRAG},
    {"active-defrag-ignore-bytes", NULL, DEFRAG},
    {"active-defrag-threshold-lower", NULL, DEFRAG},
    {"active-defrag-threshold-upper", NULL, DEFRAG},
    {"active-defrag-cycle-min", NULL, DEFRAG},
    {"active-defrag-cycle-max", NULL, DEFRAG},
    {"active-defrag-max-scan-fields", NULL, DEFRAG},
    {"jemalloc-bg-thread", "no",
     "Keel does not start jemalloc's background thread (MALLOC_CONF=background_thread:true "
     "does)"},
    {"activerehashing", "yes", "Keel always rehashes its tables incrementally in its cron"},
    {"active-expire-effort", NULL,
     "Keel's active expiry takes a quarter of each cron period; see hz and active-expire-enabled"},
    {"dynamic-hz", "no", "Keel's cron runs hz times a second; set hz"},
    {"maxmemory-eviction-tenacity", NULL, "see maxmemory-samples"},
    {"maxmemory-clients", "0",
     "Keel does not evict clients for memory; limit them with client-output-buffer-limit and "
     "client-query-buffer-limit"},
    {"lazyfree-lazy-eviction", "no", "Keel frees evicted values at once"},
    {"lazyfree-lazy-expire", "no", "Keel frees expired values at once"},
    {"lazyfree-lazy-server-del", "no", "Keel frees values the server deletes at once"},
    {"lazyfree-lazy-user-del", "no", "DEL frees at once; use UNLINK"},
    {"lazyfree-lazy-user-flush", "no", "FLUSHALL and FLUSHDB free at once; give them ASYNC"},
    {"list-compress-depth", "0", "Keel does not compress list nodes (docs/encodings.md)"},
    /* Commands and scripting. */
    {"enable-module-command", "no", "Keel loads no modules"},
    {"enable-protected-configs", NULL, "Keel has no protected settings"},
    {"sanitize-dump-payload", "yes", "Keel checks every RESTORE payload in full (docs/dump.md)"},
    {"acl-pubsub-default", "resetchannels", "a new ACL user gets no channels; give &pattern rules"},
    {"rename-command", NULL, "deny commands with ACL rules (user ... -command)"},
    {"loadmodule", NULL, "Keel loads no modules"},
    /* The server process and the network. */
    {"tcp-backlog", "511", "Keel's listen backlog is 511 (the kernel caps it at somaxconn)"},
    {"unixsocket", "", "Keel listens on TCP only"},
    {"unixsocketperm", NULL, "Keel listens on TCP only"},
    {"bind-source-addr", NULL, NOSUCH},
    {"socket-mark-id", NULL, NOSUCH},
    {"io-threads-do-reads", "yes", "with io-threads above 1 the I/O threads always read"},
    {"supervised", "no", "Keel does not talk to upstart or systemd; run it in the foreground"},
    {"always-show-logo", "no", "Keel prints no logo"},
    {"set-proc-title", "no", "Keel does not change its process title"},
    {"proc-title-template", NULL, "Keel does not change its process title"},
    {"syslog-enabled", "no", "Keel logs to logfile or standard output"},
    {"syslog-ident", NULL, "Keel logs to logfile or standard output"},
    {"syslog-facility", NULL, "Keel logs to logfile or standard output"},
    {"crash-log-enabled", NULL, NOSUCH},
    {"crash-memcheck-enabled", NULL, NOSUCH},
    {"shutdown-on-sigint", NULL,
     "on SIGINT and SIGTERM Keel seals its log and exits; use SHUTDOWN for anything else"},
    {"shutdown-on-sigterm", NULL,
     "on SIGINT and SIGTERM Keel seals its log and exits; use SHUTDOWN for anything else"},
    {"shutdown-timeout", NULL, NOSUCH},
    {"oom-score-adj", "no", OS},
    {"oom-score-adj-values", NULL, OS},
    {"disable-thp", NULL, OS},
    {"server_cpulist", NULL, OS},
    {"bio_cpulist", NULL, OS},
    {"aof_rewrite_cpulist", NULL, OS},
    {"bgsave_cpulist", NULL, OS},
    {"ignore-warnings", NULL, NOSUCH},
    {"locale-collate", NULL, "Keel compares strings byte by byte"},
    /* Valkey 7.2 and 8. */
    {"dual-channel-replication-enabled", "no", DISKLESS},
    {"availability-zone", NULL, NOSUCH},
    {"extended-redis-compatibility", NULL, NOSUCH},
    {"hide-user-data-from-log", NULL, NOSUCH},
    {"max-new-connections-per-cycle", NULL, NOSUCH},
    {"max-new-tls-connections-per-cycle", NULL, NOSUCH},
    {"cluster-announce-human-nodename", NULL, CLUSTER},
    {"cluster-announce-client-ipv4", NULL, CLUSTER},
    {"cluster-announce-client-ipv6", NULL, CLUSTER},
    {"cluster-slot-stats-enabled", NULL, CLUSTER},
};

const cfg_foreign_t *
config_foreign_table(int *count) {
    *count = (int)(sizeof foreign / sizeof *foreign);
    return foreign;
}

const cfg_foreign_t *
config_foreign_find(const char *name, size_t n) {
    for (size_t i = 0; i < sizeof foreign / sizeof *foreign; i++)
        if (strlen(foreign[i].name) == n && !strncasecmp(foreign[i].name, name, n))
            return &foreign[i];
    return NULL;
}

bool
config_foreign_matches(const cfg_foreign_t *f, const char *value) {
    if (!f->keel)
        return false;
    if (!strcasecmp(value, f->keel))
        return true;
    long long a, b; /* "511" and "0x1ff" no, but "1mb" and "1048576" alike */
    return value[0] && f->keel[0] && util_parse_memory(value, &a) &&
           util_parse_memory(f->keel, &b) && a == b;
}

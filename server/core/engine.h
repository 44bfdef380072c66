/*
 * server.h - the one server struct: configuration, databases, clients, statistics.
 *
 * There is one `struct engine`, created by main(). Commands reach it through their client
 * (c->eng); the data structures (ds/), the log (wal/) and snapshots (snapshot/) never see it.
 * All fields are owned by the main thread unless a comment says otherwise.
 */
#ifndef KEEL_ENGINE_H
#define KEEL_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "klog.h"
#include "client.h"
#include "db.h"
#include "events.h"
#include "prop.h"
#include "tls.h"

#define KEEL_VERSION              "0.2.0"
#define KEEL_REDIS_COMPAT_VERSION "7.2.4" /* what INFO reports as redis_version, for clients */
#define SERVER_DBS_MAX            16

enum { ENGINE_BUSY_NONE = 0, ENGINE_BUSY_EVAL = 1, ENGINE_BUSY_FUNCTION = 2 };

enum { DURABILITY_OFF = 0, DURABILITY_ASYNC = 1, DURABILITY_SYNC = 2 };

/* A `user <name> <rules...>` line of keel.conf, kept until acl_load_configured applies it. */
typedef struct acl_conf_user {
    int argc;
    char **argv; /* argv[0] is the name, owned */
} acl_conf_user_t;

enum {
    EVICT_NOEVICTION = 0,
    EVICT_ALLKEYS_LRU,
    EVICT_ALLKEYS_LFU,
    EVICT_ALLKEYS_RANDOM,
    EVICT_VOLATILE_LRU,
    EVICT_VOLATILE_LFU,
    EVICT_VOLATILE_RANDOM,
    EVICT_VOLATILE_TTL,
};

/* File descriptors kept for everything but clients: listeners, log segments in every wal-dir,
 * snapshot writers, replication files. maxclients + this must fit RLIMIT_NOFILE. */
#define ENGINE_FDS_RESERVED 128

/* latency-tracking-info-percentiles: how many values it may list. */
#define ENGINE_PERCENTILES_MAX 16

/* enable-debug-command: who may run DEBUG (Valkey's values). */
enum { PROTECTED_CMD_NO = 0, PROTECTED_CMD_YES = 1, PROTECTED_CMD_LOCAL = 2 };

typedef struct engine_config {
    char *bind;
    bool protected_mode;      /* no password: only local peers may connect */
    int enable_debug_command; /* PROTECTED_CMD_* */
    int port;
    char *dir;
    char *requirepass;
    /* ACL users (acl.c): the aclfile, or the `user` lines, and the ACL LOG's length. */
    char *aclfile;
    acl_conf_user_t *acl_users;
    int acl_nusers;
    long long acllog_max_len;
    int databases;
    long long maxclients;
    long long timeout_s;
    long long tcp_keepalive_s;
    long long proto_max_bulk_len;
    long long client_query_buffer_limit;
    long long multibulk_max;
    long long obuf_normal_hard, obuf_normal_soft, obuf_normal_soft_s;
    long long obuf_pubsub_hard, obuf_pubsub_soft, obuf_pubsub_soft_s;
    long long maxmemory;
    int maxmemory_policy;
    int maxmemory_samples;
    int lfu_log_factor, lfu_decay_time;
    int hz;
    bool active_expire;
    int durability;
    char *loglevel;
    char *logfile;
    char *pidfile;
    bool daemonize;
    int io_threads;
    /* Collection encodings (used by the type modules). */
    long long hash_max_listpack_entries, hash_max_listpack_value;
    long long set_max_intset_entries, set_max_listpack_entries, set_max_listpack_value;
    long long zset_max_listpack_entries, zset_max_listpack_value;
    /* valkey-bloom's bf.* settings: what BF.ADD/MADD/INSERT create a missing filter with, and
     * the per-object memory limit (docs/bloom.md). */
    long long bf_capacity, bf_expansion, bf_memory_limit;
    double bf_fp_rate, bf_tightening;
    long long list_max_listpack_size;
    long long hll_sparse_max_bytes; /* a sparse HyperLogLog above it turns dense */
    long long stream_node_max_bytes, stream_node_max_entries; /* 0: no limit */
    char *notify_keyspace_events;
    int notify_flags;
    /* Log (wal/) and snapshots: set by config, used by the persistence modules. */
    char **wal_dirs;
    int wal_ndirs;
    int wal_quorum;
    long long wal_segment_size;
    long long wal_sync_interval_ms;
    int snapshot_threads;          /* writer threads in the BGSAVE child, loader threads */
    long long snapshot_interval_s; /* automatic snapshot every N s (0 = off) */
    long long snapshot_wal_bytes;  /* automatic snapshot when the log grew this much (0 = off) */
    int snapshot_format_version;   /* 0 = newest */
    long long wal_retention_s;     /* archived log kept for point-in-time restore (0 = delete) */
    int snapshot_keep;             /* snapshots kept (at least 1) */
    bool wal_accept_loss;          /* start although the log lacks records it should hold */
    long long slowlog_log_slower_than, slowlog_max_len;
    long long tracking_table_max_keys; /* client-side caching's table (tracking.c), 0 = no limit */
    /* The latency monitor (latency.c): events at least this long are kept (0 = off). */
    long long latency_monitor_threshold_ms;
    /* Per-command latency histograms (INFO latencystats) and the percentiles reported. */
    bool latency_tracking;
    double latency_percentiles[ENGINE_PERCENTILES_MAX];
    int latency_npercentiles;
    long long busy_reply_threshold_ms; /* busy-reply-threshold (lua-time-limit), script/ */
    /* Replication (repl/). */
    char *replicaof; /* "host port" at start, "" for a primary */
    bool replica_read_only;
    char *masterauth, *masteruser;
    long long repl_timeout_s, repl_ping_replica_period_s;
    long long wal_quorum_timeout_ms; /* an in-set replica this late leaves the write quorum */
    long long min_replicas_to_write, min_replicas_max_lag;
    /* What a replica tells Sentinel and its primary (Valkey's settings of the same names). */
    long long replica_priority;      /* INFO slave_priority: lower is promoted first, 0 never */
    char *replica_announce_ip;       /* sent as REPLCONF ip-address ("": the primary sees it) */
    long long replica_announce_port; /* sent as REPLCONF listening-port (0: the real port) */
    bool replica_announced;          /* INFO replica_announced: Sentinel lists this replica */
    /* TLS (net/tls.h, docs/security.md): the TLS listener's port (0: none) and what every TLS
     * context is built from; a CONFIG SET of any tls-* setting builds a new context. */
    long long tls_port;
    tls_config_t tls;
    /* The value tier (core/tiering.c, docs/tiering.md). */
    bool tiering;                     /* open it at start (off: librocksdb is never opened) */
    char *tiering_dir;                /* "" = <dir>/tier */
    long long tiering_memory_target;  /* used memory above which values go out (0 = never) */
    long long tiering_min_value_size; /* smaller values stay in memory */
    long long tiering_threads;        /* the tier's worker threads */
    bool tiering_direct_reads;        /* O_DIRECT reads of the tier's files */
    long long tiering_block_cache;    /* RocksDB's block cache */
    int tiering_compression;          /* tier_compression_t */
    long long tiering_write_buffer;   /* one RocksDB memtable */
} engine_config_t;

typedef struct engine_stats {
    /* Connections and bytes are counted by the net layer (net_stats). */
    uint64_t commands, expired_keys, evicted_keys, keyspace_hits, keyspace_misses, total_errors,
        expired_stale_perc, io_reads, io_writes;
    uint64_t unexpected_error_replies;
    uint64_t expired_fields; /* hash fields removed by their expiry (INFO expired_fields) */
    int64_t start_ms;
    /* instantaneous_ops_per_sec: ops/s sampled every 100 ms by the cron, averaged over 16. */
    uint64_t ops_sample[16];
    int ops_sample_idx;
    uint64_t ops_last_commands, ops_last_us;
} engine_stats_t;

struct ev_loop;
struct wal;

typedef struct engine {
    engine_config_t cfg;
    char run_id[41];   /* 40 random hex digits, new at every start (INFO run_id, as Valkey) */
    char *config_file; /* absolute path, for CONFIG REWRITE; NULL if none */
    db_t *dbs[SERVER_DBS_MAX];
    db_env_t dbenv;                    /* the clock and switches the dbs share, the expiry hook */
    struct ev_loop *loop;              /* the event loop (the top level owns it) */
    struct net *net;                   /* the listener and connections (the top level owns it) */
    struct ht *cmds;                   /* command name -> cmd_def_t (cmd.c) */
    struct cmd_def *const *cmd_groups; /* the command tables indexed in cmds, in order */
    struct cmd_stats *cmd_stats;       /* per command and subcommand, by cmd_def_t.id */
    uint32_t ncmd_stats;
    exec_hooks_t hooks[ENGINE_HOOKS_MAX]; /* added at init by WATCH, pub/sub, blocking, tags */
    int nhooks;
    struct pubsub_state *pubsub;   /* channels and patterns (pubsub.c) */
    struct ht *watched_keys;       /* WATCHed keys -> clients (watch.c) */
    struct block_state *block;     /* clients blocked on keys (block.c) */
    struct tags_state *tags;       /* uncommitted keys' LSNs, sync mode only (tags.c) */
    struct lazyfree *lazyfree;     /* the lazy-free thread (lazyfree.c); NULL: free at once */
    prop_t prop;                   /* the running command's effects -> one log record (prop.c) */
    struct persist_state *persist; /* the log and snapshots (persist/), opaque to the engine */
    int port_bound;                /* the plain TCP port listened on (0: none), for INFO */
    int tls_port_bound;            /* the TLS port listened on (0: none) */
    uint64_t next_client_id;
    client_t *clients; /* doubly linked list of every connection */
    size_t nclients;
    client_t *parked;  /* clients with durability marks */
    client_t *current; /* client whose command is executing */
    uint64_t dirty;    /* changes since start (and since the last snapshot) */
    uint64_t dirty_at_last_save;
    bool shutdown_asap;
    int shutdown_flags;
    int64_t cron_loops;
    uint64_t last_lsn_assigned; /* newest LSN given to a write (0: no log) */
    uint64_t durable_lsn;       /* newest LSN durable on a quorum; UINT64_MAX with no log */
    struct wal *wal;
    const char *wal_refuse_reason; /* set when the log failed for good: writes are refused */
    const char *repl_refuse;       /* a whole error reply: too few replicas to write (repl/) */
    bool read_only; /* a replica: clients' writes get -READONLY (replica-read-only is always yes) */
    struct repl_state *repl;       /* replication (repl/), opaque to the engine */
    struct acl_state *acl;         /* users and the ACL LOG (acl.c) */
    struct tiering_state *tiering; /* the value tier (tiering.c); NULL when tiering is off */
    /* Scripts and functions (server/script/), made at first use; opaque to the engine. */
    struct script_state *script;
    /* A script has run past busy-reply-threshold and the loop is polled from inside it: exec
     * answers -BUSY to anything but CMD_ALLOW_BUSY commands (ENGINE_BUSY_*, set by script/). */
    int busy_script;
    engine_stats_t stats;
    bool loading;
    int64_t paused_until_ms; /* CLIENT PAUSE (pause.c): its end, its kind (PAUSE_*) and the */
    int pause_kind;          /* clients whose command waits for it, in order */
    client_t *pause_head, *pause_tail;
    size_t pause_nwaiting;
    uint64_t lru_clock;
    /* Operator diagnostics, made by engine_init: SLOWLOG (slowlog.c), the latency monitor and
     * the per-command histograms (latency.c), INFO errorstats (errstats.c). */
    struct slowlog *slowlog;
    struct latency *latency;
    struct errstats *errstats;
    struct monitors *monitors; /* MONITOR clients (monitor.c); NULL until the first */
    struct tracking *track;    /* client-side caching (tracking.c) */
} engine_t;


/* The keyspace, the command table (the groups of tables in `commands`) and the execution
 * modules, from s->cfg (set before). */
void engine_init(engine_t *s, struct cmd_def *const *commands);
static inline db_t *
engine_db(engine_t *s, int id) {
    return id >= 0 && id < s->cfg.databases ? s->dbs[id] : NULL;
}
uint64_t engine_ops_per_sec(const engine_t *s); /* INFO instantaneous_ops_per_sec */
void engine_sample_ops(engine_t *s);            /* from the cron: one ops/s sample every 100 ms */

#endif

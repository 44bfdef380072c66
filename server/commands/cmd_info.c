/* cmd_info.c - INFO: the usual sections in name:value form, plus Keel's wal and snapshot. */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "tiering.h"
#include "acl.h"
#include "cmd.h"
#include "repl.h"
#include "conn.h"
#include "evict.h"
#include "lazyfree.h"
#include "kmem.h"
#include "errstats.h"
#include "latency.h"
#include "persist.h"
#include "pause.h"
#include "pubsub.h"
#include "tracking.h"
#include "sbuf.h"
#include "engine.h"
#include "util.h"
#include "reply.h"
#include "script.h"

static void
human(char *buf, size_t len, double n) {
    const char *u = "BKMGTP";
    int i = 0;
    while (n >= 1024 && i < 5) {
        n /= 1024;
        i++;
    }
    if (i == 0)
        snprintf(buf, len, "%.0fB", n);
    else
        snprintf(buf, len, "%.2f%c", n, u[i]);
}

static void
sec_server(engine_t *s, sbuf_t *b) {
    struct utsname un;
    uname(&un);
    int64_t up = (util_time_ms() - s->stats.start_ms) / 1000;
    sbuf_printf(
        b,
        "redis_version:%s\r\nkeel_version:%s\r\nredis_mode:standalone\r\nos:%s %s %s\r\n"
        "arch_bits:%d\r\nmultiplexing_api:epoll\r\ngcc_version:%d.%d.%d\r\n"
        "process_id:%d\r\nrun_id:%s\r\ntcp_port:%d\r\nserver_time_usec:%lld\r\nuptime_in_seconds:%lld\r\n"
        "uptime_in_days:%lld\r\nhz:%d\r\nlru_clock:%u\r\nexecutable:keel-server\r\n"
        "config_file:%s\r\nio_threads_active:%d\r\n",
        KEEL_REDIS_COMPAT_VERSION, KEEL_VERSION, un.sysname, un.release, un.machine,
        (int)(sizeof(void *) * 8), __GNUC__, __GNUC_MINOR__, __GNUC_PATCHLEVEL__, (int)getpid(),
        s->run_id, s->port_bound, (long long)util_time_us(), (long long)up, (long long)(up / 86400),
        s->cfg.hz, db_lru_clock(&s->dbenv), s->config_file ? s->config_file : "",
        s->net ? net_io_threads_active(s->net) : 0);
    /* Valkey's listener lines: one per listening socket (the first bind address is the one). */
    char bind[64];
    snprintf(bind, sizeof bind, "%s", s->cfg.bind && s->cfg.bind[0] ? s->cfg.bind : "127.0.0.1");
    bind[strcspn(bind, " ")] = 0;
    int i = 0;
    if (s->port_bound)
        sbuf_printf(b, "listener%d:name=tcp,bind=%s,port=%d\r\n", i++, bind, s->port_bound);
    if (s->tls_port_bound)
        sbuf_printf(b, "listener%d:name=tls,bind=%s,port=%d\r\n", i++, bind, s->tls_port_bound);
}

static void
sec_clients(engine_t *s, sbuf_t *b) {
    size_t blocked = 0, pubsub = 0, watching = 0;
    for (client_t *c = s->clients; c; c = c->next) {
        blocked += (c->flags & CLIENT_BLOCKED) != 0;
        pubsub += c->pubsub != NULL;
        watching += c->watched != NULL;
    }
    blocked += pause_waiting(s); /* Valkey counts clients waiting for a pause as blocked */
    size_t tracking, tkeys, titems, tprefixes;
    tracking_info(s, &tracking, &tkeys, &titems, &tprefixes);
    sbuf_printf(b,
                "connected_clients:%zu\r\ncluster_connections:0\r\nmaxclients:%lld\r\n"
                "client_recent_max_input_buffer:0\r\nclient_recent_max_output_buffer:0\r\n"
                "blocked_clients:%zu\r\ntracking_clients:%zu\r\npubsub_clients:%zu\r\n"
                "watching_clients:%zu\r\nclients_in_timeout_table:%zu\r\n"
                "paused_reason:%s\r\npaused_actions:%s\r\npaused_timeout_milliseconds:%lld\r\n",
                s->nclients, s->cfg.maxclients, blocked, tracking, pubsub, watching, blocked,
                pause_active(s) ? "client_pause" : "none", pause_actions_name(s),
                (long long)pause_remaining_ms(s));
}

static void
sec_memory(engine_t *s, sbuf_t *b) {
    size_t used = kmem_used(), rss = kmem_rss();
    static size_t peak;
    if (used > peak)
        peak = used;
    char h1[32], h2[32], h3[32], h4[32];
    human(h1, sizeof h1, (double)used);
    human(h2, sizeof h2, (double)rss);
    human(h3, sizeof h3, (double)peak);
    human(h4, sizeof h4, (double)s->cfg.maxmemory);
    size_t tables = 0;
    for (int i = 0; i < s->cfg.databases; i++)
        tables += ht_mem_bytes(s->dbs[i]->keys) + ht_mem_bytes(s->dbs[i]->expires) +
                  ht_mem_bytes(s->dbs[i]->hexpires);
    sbuf_printf(b,
                "used_memory:%zu\r\nused_memory_human:%s\r\nused_memory_rss:%zu\r\n"
                "used_memory_rss_human:%s\r\nused_memory_peak:%zu\r\nused_memory_peak_human:%s\r\n"
                "used_memory_overhead:%zu\r\nused_memory_dataset:%zu\r\nmaxmemory:%lld\r\n"
                "maxmemory_human:%s\r\nmaxmemory_policy:%s\r\nmem_fragmentation_ratio:%.2f\r\n"
                "mem_allocator:%s\r\nlazyfree_pending_objects:%zu\r\nlazyfreed_objects:%zu\r\n",
                used, h1, rss, h2, peak, h3, tables, used > tables ? used - tables : 0,
                s->cfg.maxmemory, h4, evict_policy_name(s->cfg.maxmemory_policy),
                used ? (double)rss / (double)used : 0.0, kmem_allocator(),
                lazyfree_pending(s->lazyfree), lazyfree_freed(s->lazyfree));
    script_info_memory(s, b);
}

static void
sec_stats(engine_t *s, sbuf_t *b) {
    engine_stats_t *st = &s->stats;
    static const net_stats_t none;
    const net_stats_t *ns = s->net ? net_stats(s->net) : &none;
    sbuf_printf(b,
                "total_connections_received:%llu\r\ntotal_commands_processed:%llu\r\n"
                "instantaneous_ops_per_sec:%llu\r\ntotal_net_input_bytes:%llu\r\n"
                "total_net_output_bytes:%llu\r\nrejected_connections:%llu\r\nexpired_keys:%llu\r\n"
                "evicted_keys:%llu\r\nkeyspace_hits:%llu\r\nkeyspace_misses:%llu\r\n"
                "pubsub_channels:%zu\r\npubsub_patterns:%zu\r\npubsubshard_channels:%zu\r\n"
                "total_error_replies:%llu\r\n"
                "total_reads_processed:%llu\r\ntotal_writes_processed:%llu\r\n"
                "io_threaded_reads_processed:%llu\r\nio_threaded_writes_processed:%llu\r\n"
                "keel_tls_handshake_errors:%llu\r\nunexpected_error_replies:%llu\r\n",
                (unsigned long long)ns->accepted, (unsigned long long)st->commands,
                (unsigned long long)engine_ops_per_sec(s), (unsigned long long)ns->bytes_in,
                (unsigned long long)ns->bytes_out, (unsigned long long)ns->rejected,
                (unsigned long long)st->expired_keys, (unsigned long long)st->evicted_keys,
                (unsigned long long)st->keyspace_hits, (unsigned long long)st->keyspace_misses,
                pubsub_names_count(s, PUBSUB_CHANNEL), pubsub_names_count(s, PUBSUB_PATTERN),
                pubsub_names_count(s, PUBSUB_SHARD),
                (unsigned long long)(st->total_errors + ns->protocol_errors),
                (unsigned long long)ns->reads, (unsigned long long)ns->writes,
                (unsigned long long)ns->io_reads, (unsigned long long)ns->io_writes,
                (unsigned long long)ns->tls_handshake_errors,
                (unsigned long long)st->unexpected_error_replies);
    sbuf_printf(b, "expired_fields:%llu\r\n", (unsigned long long)st->expired_fields);

    size_t tclients, tkeys, titems, tprefixes;
    tracking_info(s, &tclients, &tkeys, &titems, &tprefixes);
    sbuf_printf(b,
                "tracking_total_keys:%zu\r\ntracking_total_items:%zu\r\n"
                "tracking_total_prefixes:%zu\r\n",
                tkeys, titems, tprefixes);
    sbuf_printf(b,
                "acl_access_denied_auth:%llu\r\nacl_access_denied_cmd:%llu\r\n"
                "acl_access_denied_key:%llu\r\nacl_access_denied_channel:%llu\r\n",
                (unsigned long long)acl_denied_count(s, ACL_DENIED_AUTH),
                (unsigned long long)acl_denied_count(s, ACL_DENIED_CMD),
                (unsigned long long)acl_denied_count(s, ACL_DENIED_KEY),
                (unsigned long long)acl_denied_count(s, ACL_DENIED_CHANNEL));
    repl_info_stats(s, b);
}

static void
sec_replication(engine_t *s, sbuf_t *b) {
    repl_info(s, b);
}

static void
sec_cpu(engine_t *s, sbuf_t *b) {
    (void)s;
    struct rusage self, ch;
    getrusage(RUSAGE_SELF, &self);
    getrusage(RUSAGE_CHILDREN, &ch);
    sbuf_printf(b,
                "used_cpu_sys:%ld.%06ld\r\nused_cpu_user:%ld.%06ld\r\n"
                "used_cpu_sys_children:%ld.%06ld\r\nused_cpu_user_children:%ld.%06ld\r\n",
                (long)self.ru_stime.tv_sec, (long)self.ru_stime.tv_usec, (long)self.ru_utime.tv_sec,
                (long)self.ru_utime.tv_usec, (long)ch.ru_stime.tv_sec, (long)ch.ru_stime.tv_usec,
                (long)ch.ru_utime.tv_sec, (long)ch.ru_utime.tv_usec);
}

typedef struct stat_ctx {
    engine_t *s;
    sbuf_t *b;
} stat_ctx_t;

static void
stat_line(const stat_ctx_t *k, cmd_def_t *cmd) {
    const cmd_stats_t *st = cmd_stats(k->s, cmd);
    sbuf_t *b = k->b;
    if (!st->calls && !st->failed && !st->rejected)
        return;
    char name[128];
    snprintf(name, sizeof name, "%s", cmd->fullname ? cmd->fullname : cmd->name);
    sbuf_printf(
        b,
        "cmdstat_%s:calls=%llu,usec=%llu,usec_per_call=%.2f,rejected_calls=%llu,failed_calls=%llu\r\n",
        name, (unsigned long long)st->calls, (unsigned long long)st->usec,
        st->calls ? (double)st->usec / (double)st->calls : 0.0, (unsigned long long)st->rejected,
        (unsigned long long)st->failed);
}

static void
cmdstat_cb(cmd_def_t *cmd, void *ctx) {
    stat_line(ctx, cmd);
    for (cmd_def_t *s = cmd->subcmds; s && s->name; s++)
        stat_line(ctx, s);
}

static void
sec_keyspace(engine_t *s, sbuf_t *b) {
    for (int i = 0; i < s->cfg.databases; i++) {
        size_t n = db_size(s->dbs[i]);
        if (n)
            sbuf_printf(b, "db%d:keys=%zu,expires=%zu,avg_ttl=%lld\r\n", i, n,
                        db_expires_size(s->dbs[i]),
                        db_expires_size(s->dbs[i]) ? (long long)s->dbs[i]->avg_ttl_ms : 0LL);
    }
}

typedef struct section {
    const char *name, *title;
    void (*fn)(engine_t *s, sbuf_t *b);
    bool dflt; /* in plain INFO */
} section_t;

static void
sec_commandstats(engine_t *s, sbuf_t *b) {
    stat_ctx_t k = {s, b};
    cmd_foreach(s, cmdstat_cb, &k);
}

/* Keel loads no modules: the section is there, empty, as on a Valkey without modules. */
static void
sec_modules(engine_t *s, sbuf_t *b) {
    (void)s;
    (void)b;
}

/* Clients (redis-py's own test setup among them) read cluster_enabled to pick their mode. */
static void
sec_cluster(engine_t *s, sbuf_t *b) {
    (void)s;
    sbuf_printf(b, "cluster_enabled:0\r\n");
}

static void
latency_line(const stat_ctx_t *k, cmd_def_t *cmd) {
    const khist_t *h = latency_cmd_hist(k->s, cmd);
    if (!h || !h->count)
        return;
    engine_t *s = k->s;
    sbuf_printf(k->b, "latency_percentiles_usec_%s:", cmd->fullname ? cmd->fullname : cmd->name);
    for (int i = 0; i < s->cfg.latency_npercentiles; i++) {
        double p = s->cfg.latency_percentiles[i];
        uint64_t ns = khist_quantile(h, p > 0 ? p / 100.0 : 1e-9);
        sbuf_printf(k->b, "%sp%g=%.3f", i ? "," : "", p, (double)ns / 1000.0);
    }
    sbuf_printf(k->b, "\r\n");
}

static void
latency_cb(cmd_def_t *cmd, void *ctx) {
    latency_line(ctx, cmd);
    for (cmd_def_t *sub = cmd->subcmds; sub && sub->name; sub++)
        latency_line(ctx, sub);
}

/* Valkey's latency_percentiles_usec_<command>:p50=..,p99=..,p99.9=.. (latency-tracking). */
static void
sec_latencystats(engine_t *s, sbuf_t *b) {
    stat_ctx_t k = {s, b};
    cmd_foreach(s, latency_cb, &k);
}

static const section_t sections[] = {
    {"server", "Server", sec_server, true},
    {"clients", "Clients", sec_clients, true},
    {"memory", "Memory", sec_memory, true},
    {"persistence", "Persistence", NULL, true},
    {"stats", "Stats", sec_stats, true},
    {"replication", "Replication", sec_replication, true},
    {"cpu", "CPU", sec_cpu, true},
    {"wal", "WAL", NULL, true},
    {"snapshot", "Snapshot", NULL, true},
    {"tiering", "Tiering", tiering_info, true},
    {"modules", "Modules", sec_modules, true},
    {"commandstats", "Commandstats", sec_commandstats, false},
    {"errorstats", "Errorstats", errstats_info, true},
    {"latencystats", "Latencystats", sec_latencystats, false},
    {"cluster", "Cluster", sec_cluster, true},
    {"keyspace", "Keyspace", sec_keyspace, true},
};

static bool
wanted(client_t *c, const section_t *sec) {
    if (c->argc == 1)
        return sec->dflt;
    for (int i = 1; i < c->argc; i++) {
        const karg_t *a = &c->argv[i];
        if (util_eq_nocase(a->p, a->n, "all") || util_eq_nocase(a->p, a->n, "everything"))
            return true;
        if (util_eq_nocase(a->p, a->n, "default") && sec->dflt)
            return true;
        if (util_eq_nocase(a->p, a->n, sec->name))
            return true;
    }
    return false;
}

static void
cmd_info(client_t *c) {
    engine_t *s = c->eng;
    sbuf_t b = {0};
    size_t n = sizeof sections / sizeof *sections;
    for (size_t i = 0; i < n; i++) {
        if (!wanted(c, &sections[i]))
            continue;
        if (b.len)
            sbuf_append(&b, "\r\n", 2);
        sbuf_printf(&b, "# %s\r\n", sections[i].title);
        if (sections[i].fn)
            sections[i].fn(s, &b);
        else
            persist_info(s, sections[i].name, &b);
    }
    reply_verbatim(c, b.p ? b.p : "", b.len, "txt");
    sbuf_free(&b);
}

cmd_def_t cmd_table_info[] = {
    {"info", cmd_info, -1, CMD_LOADING | CMD_STALE, 0, 0, 0, "server",
     "Returns information and statistics about the server.", "1.0.0", "O(1)", "slow dangerous"},
    {0},
};

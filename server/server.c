/*
 * server.c - the top level: start-up, the event loop's per-turn work, the cron, shutdown.
 *
 * This file wires the layers together and is the only one that knows them all: it creates the
 * engine, the event loop and the net layer (registering the engine's client callbacks), starts
 * persistence, and runs the loop. Each turn: events (reads run commands) -> after each event,
 * replies the log made durable go out -> before sleeping: blocked clients' deadlines, the turn's
 * log records are submitted (group commit), parked replies released, output written.
 *
 * The cron runs `hz` times a second on the main thread: active expiry with a bounded time per
 * run (25% of a cron period at most, like Valkey's slow cycle), incremental rehashing, client
 * timeouts and output limits.
 */
#include "engine.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"
#include "block.h"
#include "acl.h"
#include "kerr.h"
#include "config.h"
#include "evict.h"
#include "exec.h"
#include "lazyfree.h"
#include "latency.h"
#include "pause.h"
#include "tracking.h"
#include "kmem.h"
#include "persist.h"
#include "repl.h"
#include "prop.h"
#include "pubsub.h"
#include "util.h"
#include "watch.h"
#include "ht.h"
#include "conn.h"
#include "ev.h"
#include "t_hash.h"
#include "t_set.h"
#include "t_list.h"
#include "t_zset.h"
#include "tiering.h"

static volatile sig_atomic_t got_signal;

static void
on_signal(int sig) {
    got_signal = sig;
}

static void
cron(ev_loop_t *l, void *data) {
    (void)l;
    engine_t *s = data;
    s->cron_loops++;
    if (got_signal) {
        klog(KLOG_WARNING, "Received %s, scheduling shutdown...",
             got_signal == SIGINT ? "SIGINT" : "SIGTERM");
        s->shutdown_asap = true;
        got_signal = 0;
    }
    if (s->shutdown_asap) {
        ev_stop(s->loop);
        return;
    }
    db_set_now_ms(&s->dbenv, util_time_ms());
    uint64_t period_us = 1000000 / (uint64_t)s->cfg.hz;
    if (s->cfg.active_expire && !s->loading && !pause_active(s)) { /* (a pause stops it) */
        /* Expiries found here are logged as one record of DELs (and HDELs for fields). */
        prop_begin(&s->prop);
        /* A quarter of the period, shared by the databases that have volatile keys only. */
        uint64_t volatile_dbs = 0;
        for (int i = 0; i < s->cfg.databases; i++)
            volatile_dbs += db_expires_size(s->dbs[i]) + db_hexpires_size(s->dbs[i]) > 0;
        uint64_t budget = period_us / 4 / (volatile_dbs ? volatile_dbs : 1) + 1;
        uint64_t t0 = util_mono_us();
        for (int i = 0; i < s->cfg.databases; i++)
            if (db_expires_size(s->dbs[i]) + db_hexpires_size(s->dbs[i]) > 0)
                db_active_expire(s->dbs[i], budget, NULL);
        latency_add_sample_if_needed(s, "expire-cycle", (util_mono_us() - t0) / 1000);
        int64_t lsn = prop_end(&s->prop);
        if (lsn > 0)
            s->last_lsn_assigned = (uint64_t)lsn;
    }
    for (int i = 0; i < s->cfg.databases; i++)
        db_rehash_us(s->dbs[i], 1000);
    /* Used memory above maxmemory without a write coming (CONFIG SET maxmemory lowered it, a
     * value grew): evict now as the policy says, not at the next write. A replica does not
     * evict; its primary's deletions arrive through the log. With a value tier, its own step
     * (tiering_cron) brings memory down from the loop without waiting here. */
    if (s->cfg.maxmemory > 0 && !s->loading && !s->read_only && !s->tiering)
        evict_perform(s);
    engine_sample_ops(s);
    clients_cron(s);
    persist_cron(s);
    repl_cron(s);
    net_cron(s->net);
    tiering_cron(s);
}

static void
before_sleep(ev_loop_t *l, void *data) {
    engine_t *s = data;
    net_run_reads(s->net);   /* the commands of this turn's reads (io-threads: read by threads) */
    block_before_sleep(s);   /* deadlines of blocked clients: checked every loop turn */
    tiering_before_sleep(s); /* clients whose tiered values are back run again */
    int64_t pause_until = pause_before_sleep(s); /* commands that waited for CLIENT PAUSE */
    tracking_before_sleep(s);                    /* BCAST invalidations, the table's limit */
    persist_before_sleep(s);
    repl_before_sleep(s);
    net_flush(s->net);
    int64_t deadline = block_next_deadline_ms(s);
    if (pause_until > 0 && (deadline <= 0 || pause_until < deadline))
        deadline = pause_until;
    if (deadline > 0) {
        int64_t wait = deadline - util_time_ms() + 1;
        ev_set_max_wait_ms(l, (int)(wait < 1000000 ? wait : 1000000));
    }
}

static void
after_event(ev_loop_t *l, void *data) {
    (void)l;
    engine_t *s = data;
    if (persist_after_event(s))
        net_flush(s->net);
}

/* A directory Keel writes in: a file created and removed in it, so a directory that cannot be
 * used stops the start with one line that names it, the operation and the reason, before any
 * recovery work talks about snapshots or logs. create: the data directory, made with its
 * parents when missing. A log copy or the tier directory that does not exist is left to its
 * module, which creates it or refuses (a mistyped wal-dir of an existing data set must not be
 * created empty: persist/integrity.c). */
static int
usable_dir(const char *dir, bool create) {
    char path[4096];
    size_t n = strlen(dir);
    struct stat st;
    if (!create && stat(dir, &st) < 0 && errno == ENOENT)
        return 0;
    if (n >= sizeof path - 32) {
        klog(KLOG_WARNING, "Refusing to start: directory path too long: '%s'", dir);
        return -ENAMETOOLONG;
    }
    memcpy(path, dir, n + 1);
    for (size_t i = 1; create && i <= n; i++) { /* mkdir -p */
        if (path[i] != '/' && path[i] != 0)
            continue;
        char c = path[i];
        path[i] = 0;
        int r = mkdir(path, 0755);
        int e = errno;
        path[i] = c;
        if (r < 0 && e != EEXIST) {
            klog(KLOG_WARNING, "Refusing to start: cannot create directory '%.*s': %s", (int)i,
                 path, strerror(e));
            return -e;
        }
    }
    int e = stat(dir, &st) < 0 ? errno : S_ISDIR(st.st_mode) ? 0 : ENOTDIR;
    if (e) {
        klog(KLOG_WARNING, "Refusing to start: cannot use '%s' as a directory: %s", dir,
             strerror(e));
        return -e;
    }
    snprintf(path, sizeof path, "%s/.keel-probe-%d", dir, (int)getpid());
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        e = errno;
        klog(KLOG_WARNING, "Refusing to start: cannot create a file in directory '%s': %s", dir,
             strerror(e));
        return -e;
    }
    close(fd);
    unlink(path);
    return 0;
}

/* maxclients needs that many descriptors beside ENGINE_FDS_RESERVED: raise the open files limit
 * if allowed, else lower maxclients to what fits and say so (as Valkey), so that accept() does
 * not run into EMFILE with clients waiting. */
static int
fit_maxclients(engine_t *s) {
    unsigned long long want = (unsigned long long)s->cfg.maxclients + ENGINE_FDS_RESERVED;
    unsigned long long got = util_raise_nofile(want);
    if (got >= want)
        return 0;
    if (got <= ENGINE_FDS_RESERVED) {
        klog(KLOG_WARNING,
             "The open files limit (ulimit -n) is %llu: too low to start; raise it to at least "
             "%llu",
             got, want);
        return -EMFILE;
    }
    long long fit = (long long)(got - ENGINE_FDS_RESERVED);
    klog(KLOG_WARNING,
         "maxclients lowered from %lld to %lld: the open files limit (ulimit -n) is %llu and "
         "could not be raised; %lld clients need at least %llu",
         s->cfg.maxclients, fit, got, s->cfg.maxclients, want);
    s->cfg.maxclients = fit;
    return 0;
}

int
server_init(engine_t *s) {
    util_random_seed((uint64_t)util_time_us() ^ ((uint64_t)getpid() << 32));
    uint64_t seed;
    FILE *r = fopen("/dev/urandom", "r");
    if (r && fread(&seed, sizeof seed, 1, r) == 1)
        ht_set_hash_seed(seed);
    if (r)
        fclose(r);
    engine_init(s, commands_registry);
    char aclerr[2048];
    if (acl_load_configured(s, aclerr, sizeof aclerr) < 0) {
        klog(KLOG_WARNING, "ACL: %s", aclerr);
        return KERR_INVAL;
    }
    if (s->cfg.port == 0 && s->cfg.tls_port == 0) {
        klog(KLOG_WARNING, "Configured to not listen anywhere (port 0 and no tls-port), exiting.");
        return -EINVAL;
    }
    int rc = fit_maxclients(s);
    if (rc < 0)
        return rc;
    /* A bad certificate or key stops the start before any recovery work. */
    tls_ctx_t *tls = NULL;
    if (config_tls_enabled(s)) {
        char err[512];
        tls = tls_ctx_build(&s->cfg.tls, err, sizeof err);
        if (!tls) {
            klog(KLOG_WARNING, "Failed to configure TLS: %s", err);
            return -EINVAL;
        }
    }
    s->loop = ev_create((int)s->cfg.maxclients + ENGINE_FDS_RESERVED);
    if (!s->loop) {
        tls_ctx_free(tls);
        return -errno;
    }
    signal(SIGPIPE, SIG_IGN);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    for (int i = -2; rc == 0 && i < s->cfg.wal_ndirs; i++) {
        const char *d = i == -2   ? s->cfg.dir
                        : i == -1 ? (s->cfg.tiering ? s->cfg.tiering_dir : NULL)
                                  : s->cfg.wal_dirs[i];
        if (d && d[0])
            rc = usable_dir(d, i == -2);
    }
    if (rc == 0 && (rc = lazyfree_start(&s->lazyfree)) < 0)
        klog(KLOG_WARNING, "Can't start the lazy-free thread: %s", strerror(-rc));
    /* The tier opens before recovery (it is wiped at open), so values go out while the data
     * set loads and one larger than memory can start. */
    char terr[512] = "";
    if (rc == 0 && (rc = tiering_start(s, terr, sizeof terr)) < 0)
        klog(KLOG_WARNING, "Can't open the value tier: %s", terr[0] ? terr : kerr_str(rc));
    if (rc == 0)
        rc = persist_start(s);
    if (rc == 0)
        rc = repl_start(s);
    if (rc < 0) {
        tiering_stop(s);
        tls_ctx_free(tls);
        return rc;
    }
    net_limits_t lim = {&s->cfg.proto_max_bulk_len, &s->cfg.multibulk_max,
                        &s->cfg.client_query_buffer_limit, &s->cfg.maxclients,
                        &s->cfg.tcp_keepalive_s};
    net_callbacks_t cb = {exec_accept_cb,  exec_command_cb,  exec_close_cb,
                          exec_prepare_cb, exec_prefetch_cb, s};
    s->net = net_create(s->loop, &cb, &lim);
    if ((rc = net_set_io_threads(s->net, s->cfg.io_threads)) < 0) {
        klog(KLOG_WARNING, "Refusing to start: cannot start %d I/O threads: %s",
             s->cfg.io_threads - 1, strerror(-rc));
        return rc;
    }
    net_tls_set(s->net, tls);
    if (s->cfg.port > 0 &&
        (rc = net_listen(s->net, s->cfg.bind, s->cfg.port, false, &s->port_bound)) < 0)
        return rc; /* net_listen said which address and why */
    if (s->cfg.tls_port > 0 &&
        (rc = net_listen(s->net, s->cfg.bind, (int)s->cfg.tls_port, true, &s->tls_port_bound)) < 0)
        return rc;
    ev_set_timer(s->loop, 1000 / (uint64_t)s->cfg.hz, cron, s);
    ev_set_before_sleep(s->loop, before_sleep, s);
    ev_set_after_event(s->loop, after_event, s);
    return 0;
}

void
server_run(engine_t *s) {
    const char *bind = s->cfg.bind && s->cfg.bind[0] ? s->cfg.bind : "127.0.0.1";
    if (s->port_bound)
        klog(KLOG_NOTICE, "Ready to accept connections tcp on port %d (bind %s)", s->port_bound,
             bind);
    if (s->tls_port_bound)
        klog(KLOG_NOTICE, "Ready to accept connections tls on port %d (bind %s)", s->tls_port_bound,
             bind);
    ev_run(s->loop);
}

void
server_shutdown(engine_t *s) {
    klog(KLOG_NOTICE, "User requested shutdown...");
    net_flush(s->net); /* last replies out */
    repl_stop(s);
    persist_stop(s);
    tiering_stop(s);
    while (s->clients)
        client_free(s->clients);
    lazyfree_stop(s->lazyfree);
    s->lazyfree = NULL;
    net_free(s->net);
    s->net = NULL;
    ev_free(s->loop);
    s->loop = NULL;
    if (s->cfg.pidfile && s->cfg.pidfile[0])
        unlink(s->cfg.pidfile);
    klog(KLOG_NOTICE, "Keel is now ready to exit, bye bye...");
}

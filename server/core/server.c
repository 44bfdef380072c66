/*
 * server.c - start-up, the cron, logging, shutdown.
 *
 * The cron runs `hz` times a second on the main thread: active expiry with a bounded time per
 * run (25% of a cron period at most, like Valkey's slow cycle), incremental rehashing, client
 * timeouts and output limits.
 */
#include "server.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"
#include "block.h"
#include "config.h"
#include "exec.h"
#include "lazyfree.h"
#include "kmem.h"
#include "persist.h"
#include "prop.h"
#include "pubsub.h"
#include "util.h"
#include "watch.h"
#include "ht.h"
#include "ev.h"
#include "net.h"
#include "t_hash.h"
#include "t_set.h"
#include "t_list.h"
#include "t_zset.h"

server_t *g_server;
static volatile sig_atomic_t got_signal;

db_t *
server_db(server_t *s, int id)
{
    return id >= 0 && id < s->cfg.databases ? s->dbs[id] : NULL;
}

static void
on_signal(int sig)
{
    got_signal = sig;
}

static void
sample_ops(server_stats_t *st)
{
    uint64_t now = util_mono_us();
    if (st->ops_last_us && now - st->ops_last_us < 100000)
        return;
    if (st->ops_last_us) {
        uint64_t ops = (st->commands - st->ops_last_commands) * 1000000 / (now - st->ops_last_us);
        st->ops_sample[st->ops_sample_idx] = ops;
        st->ops_sample_idx = (st->ops_sample_idx + 1) % 16;
    }
    st->ops_last_us = now;
    st->ops_last_commands = st->commands;
}

uint64_t
server_ops_per_sec(const server_t *s)
{
    uint64_t sum = 0;
    for (int i = 0; i < 16; i++)
        sum += s->stats.ops_sample[i];
    return sum / 16;
}

static void
cron(ev_loop_t *l, void *data)
{
    (void)l;
    server_t *s = data;
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
    db_set_now_ms(util_time_ms());
    uint64_t period_us = 1000000 / (uint64_t)s->cfg.hz;
    if (s->cfg.active_expire && !s->loading) {
        /* Expiries found here are logged as one record of DELs. */
        prop_begin();
        /* A quarter of the period, shared by the databases that have volatile keys only. */
        uint64_t volatile_dbs = 0;
        for (int i = 0; i < s->cfg.databases; i++)
            volatile_dbs += db_expires_size(s->dbs[i]) > 0;
        uint64_t budget = period_us / 4 / (volatile_dbs ? volatile_dbs : 1) + 1;
        for (int i = 0; i < s->cfg.databases; i++)
            if (db_expires_size(s->dbs[i]) > 0)
                db_active_expire(s->dbs[i], budget, NULL);
        int64_t lsn = prop_end();
        if (lsn > 0)
            s->last_lsn_assigned = (uint64_t)lsn;
    }
    for (int i = 0; i < s->cfg.databases; i++)
        db_rehash_us(s->dbs[i], 1000);
    sample_ops(&s->stats);
    net_clients_cron(s);
    persist_cron(s);
}

static void
before_sleep(ev_loop_t *l, void *data)
{
    server_t *s = data;
    block_before_sleep(s); /* deadlines of blocked clients: checked every loop turn */
    persist_before_sleep(s);
    net_before_sleep(s);
    int64_t deadline = block_next_deadline_ms();
    if (deadline > 0)
        ev_set_max_wait_ms(l, (int)(deadline - util_time_ms() + 1));
}

static void
after_event(ev_loop_t *l, void *data)
{
    (void)l;
    persist_after_event(data);
}

int
server_init(server_t *s)
{
    g_server = s;
    s->stats.start_ms = util_time_ms();
    s->durable_lsn = UINT64_MAX; /* no log: everything is "durable" as soon as it is done */
    util_random_seed((uint64_t)util_time_us() ^ ((uint64_t)getpid() << 32));
    uint64_t seed;
    FILE *r = fopen("/dev/urandom", "r");
    if (r && fread(&seed, sizeof seed, 1, r) == 1)
        ht_set_hash_seed(seed);
    if (r)
        fclose(r);
    s->db_hooks.expired = srv_key_expired_cb;
    s->db_hooks.ctx = s;
    for (int i = 0; i < s->cfg.databases; i++)
        s->dbs[i] = db_create(i, &s->db_hooks);
    cmd_table_init();
    hash_type_init(&s->cfg.hash_max_listpack_entries, &s->cfg.hash_max_listpack_value);
    set_type_init(&s->cfg.set_max_intset_entries, &s->cfg.set_max_listpack_entries,
                  &s->cfg.set_max_listpack_value);
    pubsub_init();
    watch_init();
    list_type_init();
    zset_type_init();
    block_init(s);
    s->loop = ev_create((int)s->cfg.maxclients + 128);
    if (!s->loop)
        return -errno;
    signal(SIGPIPE, SIG_IGN);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    if (mkdir(s->cfg.dir, 0755) < 0 && errno != EEXIST) {
        klog(KLOG_WARNING, "Can't create the data directory '%s': %s", s->cfg.dir, strerror(errno));
        return -errno;
    }
    int rc = lazyfree_start();
    if (rc < 0) {
        klog(KLOG_WARNING, "Can't start the lazy-free thread: %s", strerror(-rc));
        return rc;
    }
    rc = persist_start(s);
    if (rc < 0)
        return rc;
    rc = net_listen(s);
    if (rc < 0) {
        klog(KLOG_WARNING, "Could not listen on %s:%d: %s", s->cfg.bind, s->cfg.port, strerror(-rc));
        return rc;
    }
    ev_set_timer(s->loop, 1000 / (uint64_t)s->cfg.hz, cron, s);
    ev_set_before_sleep(s->loop, before_sleep, s);
    ev_set_after_event(s->loop, after_event, s);
    return 0;
}

void
server_run(server_t *s)
{
    klog(KLOG_NOTICE, "Ready to accept connections tcp on %s:%d",
               s->cfg.bind ? s->cfg.bind : "127.0.0.1", s->port_bound);
    ev_run(s->loop);
}

void
server_shutdown(server_t *s)
{
    klog(KLOG_NOTICE, "User requested shutdown...");
    net_before_sleep(s); /* last replies out */
    persist_stop(s);
    while (s->clients)
        client_free(s->clients);
    lazyfree_stop();
    if (s->listen_fd > 0)
        close(s->listen_fd);
    if (s->cfg.pidfile && s->cfg.pidfile[0])
        unlink(s->cfg.pidfile);
    klog(KLOG_NOTICE, "Keel is now ready to exit, bye bye...");
}

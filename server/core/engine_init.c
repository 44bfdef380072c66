/*
 * engine_init.c - making the engine: the keyspace, the command table, the value types' limits,
 * and the modules that hang on the execution hooks (pub/sub, WATCH, blocking). The server's top
 * level and keel-restore build the same engine through engine_init. The ACL users start as the
 * default user alone (with requirepass); the top level then loads the configured ones.
 */
#include <stdio.h>

#include "acl.h"
#include "block.h"
#include "cmd.h"
#include "engine.h"
#include "errstats.h"
#include "events.h"
#include "latency.h"
#include "slowlog.h"
#include "pubsub.h"
#include "t_bloom.h"
#include "t_hash.h"
#include "t_list.h"
#include "t_set.h"
#include "t_zset.h"
#include "tracking.h"
#include "t_stream.h"
#include "util.h"
#include "watch.h"

/* A new run id at every start: Sentinel and replicas tell a restarted process by it. */
static void
make_run_id(engine_t *s) {
    unsigned char raw[20];
    if (util_random_bytes(raw, sizeof raw) < 0)
        for (size_t i = 0; i < sizeof raw; i++)
            raw[i] = (unsigned char)util_random64();
    for (size_t i = 0; i < sizeof raw; i++)
        snprintf(s->run_id + 2 * i, 3, "%02x", raw[i]);
}

void
engine_init(engine_t *s, struct cmd_def *const *commands) {
    make_run_id(s);
    prop_init(&s->prop);
    s->stats.start_ms = util_time_ms();
    s->durable_lsn = UINT64_MAX; /* no log: everything is "durable" as soon as it is done */
    db_env_init(&s->dbenv, srv_key_expired_cb, s);
    if (s->cfg.notify_flags & NOTIFY_NEW) /* set by the configuration read before */
        s->dbenv.added = srv_key_added_cb;
    s->dbenv.fields_expired = srv_fields_expired_cb;
    for (int i = 0; i < s->cfg.databases; i++)
        s->dbs[i] = db_create(i, &s->dbenv);
    cmd_table_init(s, commands);
    acl_init(s);
    hash_type_init(&s->cfg.hash_max_listpack_entries, &s->cfg.hash_max_listpack_value);
    set_type_init(&s->cfg.set_max_intset_entries, &s->cfg.set_max_listpack_entries,
                  &s->cfg.set_max_listpack_value);
    list_type_init(&s->cfg.list_max_listpack_size);
    zset_type_init(&s->cfg.zset_max_listpack_entries, &s->cfg.zset_max_listpack_value);
    bloom_type_init();
    stream_type_init(&s->cfg.stream_node_max_bytes, &s->cfg.stream_node_max_entries);
    pubsub_init(s);
    watch_init(s);
    block_init(s);
    slowlog_init(s);
    latency_init(s);
    errstats_init(s);
    tracking_init(s);
}

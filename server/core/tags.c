/*
 * tags.c - reply tags for durability sync (docs/durability.md): which LSN each reply waits for.
 *
 * Reply tags. A reply may leave only when the log records its content depends on are durable.
 * For a write that is its own record (exec.c tags it). For a read it is the newest uncommitted
 * write to any key it touched, found in a filter of keys with uncommitted writes: a fixed table
 * of TAG_BUCKETS buckets of TAG_WAYS (64-bit key hash, LSN) pairs, indexed by the key hash.
 *
 *   srv_key_modified (hook key_modified)   -> the key's hash joins the pending list
 *   effect record appended (tags_logged)   -> every pending hash is stored with the LSN
 *   durable LSN advances                   -> nothing to do: a pair whose LSN is durable is
 *                                             clean, and its way is free for the next key
 *
 * No key copies, no allocation and no release pass per write: the cost is one hash and one
 * bucket (two cache lines) per key written and per key read. Exact up to 64-bit hash
 * collisions; when all ways of a bucket hold uncommitted keys, the newcomer's LSN goes into the
 * bucket's spill LSN, which every key of that bucket then waits for (conservative, never
 * early). key_modified sees every key a command really changed (also inside EXEC, and
 * expiries), and write_logged adds the command's declared keys in case a command forgot one.
 * Invariant: a key with an uncommitted write has a pair in its bucket with an LSN >= that
 * write's, or its bucket's spill LSN is >= it (or the global barrier is); pending hashes exist
 * only between a change and the end of the command's effect scope (overflow -> barrier).
 *
 * Keyless writes (FLUSHALL, FLUSHDB, SWAPDB; hook db_modified) set a global barrier: every read
 * waits for that record. Keyless reads of the whole keyspace (CMD_TOUCHES_ALL: KEYS, SCAN,
 * DBSIZE, RANDOMKEY), and reads of keys named by pattern (CMD_PATTERN_READS: SORT BY/GET), wait
 * for the newest LSN assigned. A read of nothing uncommitted gets tag 0
 * and leaves at once (unless an earlier reply of the same connection is still parked).
 */
#include <string.h>

#include "kassert.h"
#include "cmd.h"
#include "exec.h"
#include "kmem.h"
#include "tags.h"
#include "util.h"
#include "ht.h"

#define TAG_READ_KEYS_MAX 64 /* a read with more keys waits for the newest LSN instead */
#define TAG_BUCKETS                                                                                \
    (1u << 12) /* 288 KiB, cache-sized: ~1,600 keys are uncommitted at most
                                        with 50 clients x pipeline 16 (spill odds ~1e-4) */
#define TAG_WAYS        4
#define TAG_PENDING_MAX 1024 /* keys changed by one effect scope before it is a barrier */

typedef struct tag_bucket {
    uint64_t hash[TAG_WAYS];
    uint64_t lsn[TAG_WAYS]; /* newest record that changed the key; clean when <= durable */
    uint64_t spill_lsn;     /* newest write of a key that found no clean way here */
} tag_bucket_t;

/* The engine's tag state (engine_t.tags), made by tags_init in sync mode only. */
struct tags_state {
    tag_bucket_t *b;                   /* TAG_BUCKETS, NULL after tags_free */
    uint64_t pending[TAG_PENDING_MAX]; /* hashes changed by the running effect scope */
    uint32_t npending;
    bool barrier_pending; /* a keyless write, or too many keys, in the current effect scope */
    uint64_t barrier_lsn; /* newest such record: every read waits for it */
};

static uint64_t
tag_hash(int db, const char *key, size_t klen) {
    return ht_hash_bytes(key, klen) ^ ((uint64_t)(db + 1) * 0x9E3779B97F4A7C15ull);
}

static tag_bucket_t *
tag_bucket(engine_t *eng, uint64_t h) {
    return &eng->tags->b[(h >> 32) & (TAG_BUCKETS - 1)];
}

/* The newest uncommitted LSN the key with hash h may depend on (0 or <= durable: none). */
static uint64_t
tag_lookup(engine_t *eng, uint64_t h) {
    const tag_bucket_t *b = tag_bucket(eng, h);
    uint64_t lsn = b->spill_lsn;
    for (int i = 0; i < TAG_WAYS; i++)
        if (b->hash[i] == h && b->lsn[i] > lsn)
            lsn = b->lsn[i];
    return lsn;
}

static void
tag_store(engine_t *eng, uint64_t h, uint64_t lsn) {
    tag_bucket_t *b = tag_bucket(eng, h);
    uint64_t durable = eng->durable_lsn;
    int free_way = -1;
    for (int i = 0; i < TAG_WAYS; i++) {
        if (b->hash[i] == h) {
            if (b->lsn[i] < lsn)
                b->lsn[i] = lsn;
            return;
        }
        if (free_way < 0 && b->lsn[i] <= durable)
            free_way = i;
    }
    if (free_way >= 0) {
        b->hash[free_way] = h;
        b->lsn[free_way] = lsn;
    } else if (b->spill_lsn < lsn) {
        b->spill_lsn = lsn;
    }
}

static void
tags_key_modified_cb(engine_t *s, db_t *db, const char *key, size_t klen) {
    if (s->loading)
        return;
    if (s->tags->npending < TAG_PENDING_MAX) {
        uint64_t h = tag_hash(db->id, key, klen);
        const char *b = (const char *)tag_bucket(s, h);
        __builtin_prefetch(b, 1); /* tags_logged stores there once the record has its LSN */
        __builtin_prefetch(b + sizeof(tag_bucket_t) - 1, 1);
        s->tags->pending[s->tags->npending++] = h;
    } else
        s->tags->barrier_pending = true; /* a huge scope: every read waits for its record */
}

static void
tags_db_modified_cb(engine_t *s, int db_id) {
    (void)db_id;
    if (!s->loading)
        s->tags->barrier_pending = true;
}

void
tags_logged(engine_t *eng, uint64_t lsn) {
    ASSERT(lsn > 0);
    for (uint32_t i = 0; i < eng->tags->npending; i++)
        tag_store(eng, eng->tags->pending[i], lsn);
    eng->tags->npending = 0;
    if (eng->tags->barrier_pending) {
        eng->tags->barrier_lsn = lsn;
        eng->tags->barrier_pending = false;
    }
}

size_t
tags_count(engine_t *eng) {
    size_t n = 0;
    if (!eng->tags || !eng->tags->b)
        return 0;
    for (uint32_t k = 0; k < TAG_BUCKETS; k++)
        for (int i = 0; i < TAG_WAYS; i++)
            n += eng->tags->b[k].lsn[i] > eng->durable_lsn;
    return n;
}

/* Changes that produced no record (a command reported a change without bumping dirty): they
 * are tagged with the newest LSN, which covers whatever they depend on. */
static void
tags_settle_pending(engine_t *s) {
    if (s->tags->npending || s->tags->barrier_pending)
        tags_logged(s, s->last_lsn_assigned > 0 ? s->last_lsn_assigned : 1);
}

static uint64_t
tags_read_tag_cb(client_t *c, cmd_def_t *cmd) {
    engine_t *s = c->eng;
    if (!(c->flags & CLIENT_IN_EXEC)) /* inside EXEC the pending keys get EXEC's LSN */
        tags_settle_pending(s);
    uint64_t tag = c->eng->tags->barrier_lsn > s->durable_lsn ? c->eng->tags->barrier_lsn : 0;
    if (cmd->flags & (CMD_TOUCHES_ALL | CMD_PATTERN_READS))
        return s->last_lsn_assigned;
    if (s->last_lsn_assigned <= s->durable_lsn)
        return tag; /* nothing is uncommitted */
    int idx[TAG_READ_KEYS_MAX];
    int n = cmd_get_keys(cmd, c->argc, c->argv, idx, TAG_READ_KEYS_MAX);
    if (n >= TAG_READ_KEYS_MAX)
        return s->last_lsn_assigned;
    for (int i = 0; i < n; i++) {
        uint64_t lsn = tag_lookup(c->eng, tag_hash(c->db_id, c->argv[idx[i]].p, c->argv[idx[i]].n));
        if (lsn > s->durable_lsn && lsn > tag)
            tag = lsn;
    }
    return tag;
}

static void
tags_write_logged_cb(client_t *c, cmd_def_t *cmd, uint64_t lsn) {
    tags_settle_pending(c->eng);
    int idx[TAG_READ_KEYS_MAX];
    int n = cmd_get_keys(cmd, c->argc, c->argv, idx, TAG_READ_KEYS_MAX);
    for (int i = 0; i < n; i++) /* a no-op when key_modified reported it (the common case) */
        tag_store(c->eng, tag_hash(c->db_id, c->argv[idx[i]].p, c->argv[idx[i]].n), lsn);
}

void
tags_init(engine_t *s) {
    ASSERT(s->tags == NULL);
    s->tags = kcalloc(1, sizeof *s->tags);
    s->tags->b = kcalloc(TAG_BUCKETS, sizeof *s->tags->b);
    exec_hooks_t h = {
        .key_modified = tags_key_modified_cb,
        .db_modified = tags_db_modified_cb,
        .read_tag = tags_read_tag_cb,
        .write_logged = tags_write_logged_cb,
    };
    engine_add_hooks(s, &h);
}

void
tags_free(engine_t *eng) {
    if (!eng->tags)
        return;
    kfree(eng->tags->b);
    kfree(eng->tags);
    eng->tags = NULL;
}

void
tags_reset(engine_t *eng) {
    if (!eng->tags)
        return;
    memset(eng->tags->b, 0, sizeof *eng->tags->b * TAG_BUCKETS);
    eng->tags->npending = 0;
    eng->tags->barrier_pending = false;
    eng->tags->barrier_lsn = 0;
}

/*
 * evict.c - maxmemory eviction by sampling (see evict.h).
 *
 * Each round samples maxmemory-samples keys from every database (the whole key table for
 * allkeys-*, the expiry index for volatile-*), keeps the best candidate by the policy's score
 * (idle time, low LFU counter, nearest expiry, or just random) and evicts it: logged as a DEL effect
 * in the running command's record, notified as "evicted". Rounds repeat until memory is under
 * the limit or nothing can be evicted.
 *
 * With the value tier open, values go out to it first (tiering_make_room: the command waits for
 * the puts); keys are deleted only when the tier cannot bring memory under the limit (it fails,
 * refuses, is too slow, or nothing tierable is left).
 */
#include "evict.h"

#include <string.h>
#include <strings.h>

#include "exec.h"
#include "kmem.h"
#include "prop.h"
#include "tiering.h"
#include "util.h"

#define EVICT_SAMPLES_MAX     64
#define EVICT_ROUNDS_MAX      10000 /* per call: bounds the time one command can spend evicting */
#define EVICT_STUB_PASSES_MAX 8     /* samples per eviction while they hold only tiered values */

static const char *const policy_names[] = {
    "noeviction",   "allkeys-lru",  "allkeys-lfu",     "allkeys-random",
    "volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl",
};

const char *
evict_policy_name(int policy) {
    return policy >= 0 && policy < 8 ? policy_names[policy] : "noeviction";
}

long long
evict_idle_s(db_env_t *env, const kobj_t *o) {
    uint32_t now = db_lru_clock(env), lru = obj_lru(o);
    return now >= lru ? now - lru : (long long)(OBJ_LRU_MAX - lru + now);
}

int
evict_lfu_freq(db_env_t *env, const kobj_t *o, int decay_time) {
    uint32_t v = obj_lru(o);
    uint32_t counter = v & 0xff, last = v >> 8;
    uint32_t now_min = (uint32_t)((db_now_ms(env) / 60000) & 0xffff);
    uint32_t elapsed = now_min >= last ? now_min - last : 0x10000 - last + now_min;
    if (decay_time > 0) {
        uint32_t periods = elapsed / (uint32_t)decay_time;
        counter = periods > counter ? 0 : counter - periods;
    }
    return (int)counter;
}

/* Higher is a better victim. */
static double
score(engine_t *s, const kobj_t *o) {
    switch (s->cfg.maxmemory_policy) {
    case EVICT_ALLKEYS_LRU:
    case EVICT_VOLATILE_LRU: return (double)evict_idle_s(&s->dbenv, o);
    case EVICT_ALLKEYS_LFU:
    case EVICT_VOLATILE_LFU: return 255.0 - evict_lfu_freq(&s->dbenv, o, s->cfg.lfu_decay_time);
    case EVICT_VOLATILE_TTL: return -(double)obj_expire(o);
    default: return (double)(util_random64() >> 11);
    }
}

static bool
volatile_policy(int p) {
    return p >= EVICT_VOLATILE_LRU;
}

/* Evict one key; false when no candidate exists. */
static bool
evict_one(engine_t *s) {
    void *sample[EVICT_SAMPLES_MAX];
    int n = s->cfg.maxmemory_samples;
    if (n > EVICT_SAMPLES_MAX)
        n = EVICT_SAMPLES_MAX;
    kobj_t *best = NULL;
    db_t *best_db = NULL;
    double best_score = 0;
    /* With the tier open, a key whose value is resident wins over a stub whatever their
     * scores: the coldest keys are the stubs, and deleting one frees a few dozen bytes while
     * the delete it queues in the tier takes about as much until it runs. */
    bool best_stub = false;
    /* When the tier holds most values, most samples are stubs: sample again (at most
     * EVICT_STUB_PASSES_MAX times) before a stub is chosen. */
    for (int pass = 0; pass < (s->tiering ? EVICT_STUB_PASSES_MAX : 1) && (!best || best_stub);
         pass++) {
        for (int d = 0; d < s->cfg.databases; d++) {
            db_t *db = s->dbs[d];
            ht_t *t = volatile_policy(s->cfg.maxmemory_policy) ? db->expires : db->keys;
            if (ht_size(t) == 0)
                continue;
            size_t got = ht_sample(t, sample, (size_t)n);
            for (size_t i = 0; i < got; i++) {
                double sc = score(s, sample[i]);
                bool stub = s->tiering && obj_is_tiered(sample[i]);
                if (!best || (best_stub && !stub) || (stub == best_stub && sc > best_score)) {
                    best = sample[i];
                    best_db = db;
                    best_score = sc;
                    best_stub = stub;
                }
            }
        }
    }
    if (!best)
        return false;
    size_t klen;
    const char *k = obj_key(best, &klen);
    char *key = kstrndup(k, klen);
    karg_t del[2] = {{"DEL", 3}, {key, klen}};
    prop_add_call(&s->prop, best_db->id, 2, del);
    srv_key_modified(s, best_db, key, klen);
    srv_notify(s, NOTIFY_EVICTED, "evicted", key, klen, best_db->id);
    db_delete(best_db, key, klen);
    kfree(key);
    s->stats.evicted_keys++;
    s->dirty++;
    return true;
}

int
evict_perform(engine_t *s) {
    if (s->cfg.maxmemory <= 0 || kmem_used() <= (size_t)s->cfg.maxmemory)
        return 0;
    if (s->tiering && tiering_make_room(s, (size_t)s->cfg.maxmemory) == 0)
        return 0;
    if (s->cfg.maxmemory_policy == EVICT_NOEVICTION)
        return -1;
    /* Own effect scope: inside a command it nests into the command's record; from anywhere else
     * the DELs become a record of their own. Either way no eviction goes unlogged. */
    prop_begin(&s->prop);
    int rc = -1;
    for (int round = 0; round < EVICT_ROUNDS_MAX; round++) {
        if (kmem_used() <= (size_t)s->cfg.maxmemory) {
            rc = 0;
            break;
        }
        if (!evict_one(s))
            break;
    }
    int64_t lsn = prop_end(&s->prop);
    if (lsn > 0)
        s->last_lsn_assigned = (uint64_t)lsn;
    return rc;
}

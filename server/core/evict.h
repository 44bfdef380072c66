/*
 * evict.h - maxmemory: sampled approximations of the LRU/LFU/random/TTL eviction policies.
 */
#ifndef KEEL_EVICT_H
#define KEEL_EVICT_H

#include "engine.h"

/* Bring used memory under maxmemory by evicting keys as the policy says. 0 when under the
 * limit (or no limit), -1 when still over (noeviction, or nothing left to evict). */
int evict_perform(engine_t *s);
const char *evict_policy_name(int policy);
/* Idle seconds of an object as OBJECT IDLETIME reports it (LRU mode). */
long long evict_idle_s(db_env_t *env, const kobj_t *o);
/* LFU counter with decay applied, as OBJECT FREQ reports it. */
int evict_lfu_freq(db_env_t *env, const kobj_t *o, int decay_time);

#endif

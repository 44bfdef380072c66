/*
 * engine.c - the engine's own counters (instantaneous ops/s). Making the engine is engine_init.c.
 */
#include "engine.h"

#include "util.h"


void
engine_sample_ops(engine_t *s) {
    engine_stats_t *st = &s->stats;
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
engine_ops_per_sec(const engine_t *s) {
    uint64_t sum = 0;
    for (int i = 0; i < 16; i++)
        sum += s->stats.ops_sample[i];
    return sum / 16;
}

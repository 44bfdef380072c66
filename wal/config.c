/*
 * config.c - validation of a wal_config_t and its defaults, shared by wal_recover() and
 * wal_open().
 */
#include "wal_int.h"

#include <string.h>

#include "kerr.h"

int
wal_config_norm(const wal_config_t *cfg, wal_config_t *out) {
    *out = *cfg;
    if (!cfg->dirs || cfg->ndirs < 1 || cfg->ndirs > WAL_COPIES_MAX)
        return KERR_INVAL;
    for (int i = 0; i < cfg->ndirs; i++)
        if (!cfg->dirs[i] || !cfg->dirs[i][0] || strlen(cfg->dirs[i]) >= WAL_PATH_MAX)
            return KERR_INVAL;
    if (out->quorum == 0)
        out->quorum = cfg->ndirs / 2 + 1;
    if (out->quorum < 1 || out->quorum > cfg->ndirs)
        return KERR_INVAL;
    if (!out->segment_size_bytes)
        out->segment_size_bytes = WAL_SEGMENT_SIZE_DEFAULT;
    if (out->segment_size_bytes < 4096)
        return KERR_INVAL;
    if (!out->sync_interval_ms)
        out->sync_interval_ms = WAL_SYNC_INTERVAL_MS_DEFAULT;
    if (!out->buffer_bytes_max)
        out->buffer_bytes_max = WAL_BUFFER_BYTES_DEFAULT;
    if (out->buffer_bytes_max < 4096)
        return KERR_INVAL;
    return 0;
}

/*
 * persist.c - durability glue between the server and wal/, snapshot/ (see persist.h).
 *
 * Until the log is wired in, `durability off` is the only mode that works: start refuses
 * sync/async rather than pretend, so no write is ever acknowledged as durable by mistake.
 */
#include "server/core/persist.h"

#include <string.h>

int
persist_start(server_t *s)
{
    if (s->cfg.durability != DURABILITY_OFF) {
        server_log(LOG_WARNING, "durability %s is not available in this build; start with "
                                "--durability off",
                   s->cfg.durability == DURABILITY_SYNC ? "sync" : "async");
        return -1;
    }
    return 0;
}

void
persist_stop(server_t *s)
{
    (void)s;
}

void
persist_cron(server_t *s)
{
    (void)s;
}

void
persist_before_sleep(server_t *s)
{
    (void)s;
}

void
persist_info(server_t *s, const char *section, sbuf_t *b)
{
    if (!strcmp(section, "persistence")) {
        sbuf_printf(b,
                    "loading:%d\r\nasync_loading:0\r\nrdb_changes_since_last_save:%llu\r\n"
                    "rdb_bgsave_in_progress:0\r\nrdb_last_save_time:%lld\r\n"
                    "rdb_last_bgsave_status:ok\r\naof_enabled:%d\r\naof_rewrite_in_progress:0\r\n"
                    "aof_rewrite_scheduled:0\r\naof_last_write_status:ok\r\ndurability:%s\r\n",
                    s->loading ? 1 : 0, (unsigned long long)(s->dirty - s->dirty_at_last_save),
                    (long long)(s->stats.start_ms / 1000), s->cfg.durability != DURABILITY_OFF,
                    s->cfg.durability == DURABILITY_SYNC    ? "sync"
                    : s->cfg.durability == DURABILITY_ASYNC ? "async"
                                                            : "off");
    }
}

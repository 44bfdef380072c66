/* cmd_save.c - snapshot commands: SAVE, BGSAVE [SCHEDULE], LASTSAVE (replies as Valkey 8). The
 * work is in core/snapshot_save.c and core/snapshot_glue.c. */
#include "kerr.h"
#include "cmd.h"
#include "snapshot_glue.h"
#include "util.h"
#include "reply.h"

#define BGSAVE_BUSY "ERR Background save already in progress"

static void
cmd_save(client_t *c) {
    char err[512] = "";
    if (snapshot_in_progress(c->eng)) {
        reply_err(c, BGSAVE_BUSY);
        return;
    }
    if (snapshot_save(c->eng, err, sizeof err) < 0) {
        reply_errf(c, "ERR snapshot failed: %s", err);
        return;
    }
    reply_ok(c);
}

static void
cmd_bgsave(client_t *c) {
    char err[512] = "";
    bool schedule = false;
    if (c->argc > 2) {
        reply_err(c, ERR_SYNTAX);
        return;
    }
    if (c->argc == 2) {
        if (!util_eq_nocase(c->argv[1].p, c->argv[1].n, "schedule")) {
            reply_err(c, ERR_SYNTAX);
            return;
        }
        schedule = true;
    }
    if (snapshot_in_progress(c->eng)) {
        if (!schedule) {
            reply_err(c, BGSAVE_BUSY);
            return;
        }
        snapshot_schedule(c->eng);
        reply_simple(c, "Background saving scheduled");
        return;
    }
    if (snapshot_bgsave(c->eng, err, sizeof err) < 0) {
        reply_errf(c, "ERR can't start a background save: %s", err);
        return;
    }
    reply_simple(c, "Background saving started");
}

static void
cmd_lastsave(client_t *c) {
    reply_int(c, snapshot_lastsave_s(c->eng));
}

cmd_def_t cmd_table_save[] = {
    {"save", cmd_save, 1, CMD_ADMIN | CMD_NOSCRIPT | CMD_NO_MULTI, 0, 0, 0, "server",
     "Synchronously saves the database(s) to disk.", "1.0.0",
     "O(N) where N is the total number of keys in all databases", "admin slow dangerous"},
    {"bgsave", cmd_bgsave, -1, CMD_ADMIN | CMD_NOSCRIPT, 0, 0, 0, "server",
     "Asynchronously saves the database(s) to disk.", "1.0.0",
     "O(1) to start; the snapshot itself is O(N) in a forked child", "admin slow dangerous"},
    {"lastsave", cmd_lastsave, 1, CMD_LOADING | CMD_STALE | CMD_FAST, 0, 0, 0, "server",
     "Returns the Unix timestamp of the last successful save to disk.", "1.0.0", "O(1)",
     "admin fast dangerous"},
    {0},
};

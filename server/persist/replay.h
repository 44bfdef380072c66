/*
 * replay.h - applying log records to an engine through a fake client (replay.c): recovery at
 * start (persist.c) and keel-restore use the same code, so a record means the same to both.
 *
 * Replay runs with expiry off (every expiry that happened is a DEL in the log) and each record
 * on the clock it was written with, so the result does not depend on when it runs.
 */
#ifndef KEEL_REPLAY_H
#define KEEL_REPLAY_H

#include <stddef.h>
#include <stdint.h>

#include "client.h"
#include "engine.h"
#include "wal.h"

/* replay.c: state of one recovery replay, handed to wal_recover() as the apply context. */
typedef struct replay_ctx {
    engine_t *s;
    client_t *fake;    /* executes the effect commands; its replies are checked, then dropped */
    uint64_t records;  /* records applied */
    uint64_t commands; /* effect commands executed */
    uint64_t bytes;    /* payload bytes of the records applied */
    char *err;         /* message naming the LSN on failure */
    size_t errlen;
    karg_t *args; /* argv of the command being replayed; points into the record */
    size_t args_cap;
} replay_ctx_t;

/* wal_apply_cb: parse the record's RESP effect commands and run each one. Returns 0, or
 * KERR_CORRUPT with ctx->err filled when the record does not parse or a command replies an
 * error (the log and the code disagree: going on would build a different dataset). */
int replay_apply_cb(void *ctx, const wal_record_t *rec);
void replay_begin(replay_ctx_t *rc, engine_t *s, char *err, size_t errlen);
void replay_end(replay_ctx_t *rc);

#endif

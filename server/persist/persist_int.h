/*
 * persist_int.h - what persist.c (start, stop, the sink, INFO), replay.c (recovery through a fake
 * client) and durable.c (reply tags, WAITAOF waiters) share. Not for use outside server/core/persist*
 * and the WAITAOF command.
 */
#ifndef KEEL_PERSIST_INT_H
#define KEEL_PERSIST_INT_H

#include <stddef.h>
#include <stdint.h>

#include "engine.h"
#include "tags.h"
#include "wal.h"

/* replay.c: state of one recovery replay, handed to wal_recover() as the apply context. */
typedef struct replay_ctx {
    engine_t *s;
    client_t *fake;    /* executes the effect commands; its replies are checked, then dropped */
    uint64_t records;  /* records applied */
    uint64_t commands; /* effect commands executed */
    char *err;         /* message naming the LSN on failure */
    size_t errlen;
    karg_t *args;      /* argv of the command being replayed; points into the record */
    size_t args_cap;
} replay_ctx_t;

/* wal_apply_cb: parse the record's RESP effect commands and run each one. Returns 0, or
 * KERR_CORRUPT with ctx->err filled when the record does not parse or a command replies an
 * error (the log and the code disagree: going on would build a different dataset). */
int replay_apply_cb(void *ctx, const wal_record_t *rec);
void replay_begin(replay_ctx_t *rc, engine_t *s, char *err, size_t errlen);
void replay_end(replay_ctx_t *rc);

/* waitaof.c: WAITAOF waiters (blocked clients). */
void waiters_init(void); /* registers the client-cleanup hook */
void waiters_check(engine_t *s, int64_t now_ms); /* durable advanced / cron: reply the ready */
void waiters_fail(engine_t *s, const char *why);  /* the log failed: reply errors to all */

/* persist.c: the real durable LSN of the log (INFO, WAITAOF), also in async mode where
 * s->durable_lsn stays UINT64_MAX so that nothing parks. 0 when there is no log. */
uint64_t persist_real_durable_lsn(const engine_t *s);

#endif

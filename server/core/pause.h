/*
 * pause.h - CLIENT PAUSE / UNPAUSE: for a while, the commands of normal clients wait (all of
 * them, or only those that may write), as Valkey's client pause.
 *
 * A client whose command must wait keeps it (a copy of its arguments), stops reading, and runs
 * it when the pause ends (CLIENT UNPAUSE, or its deadline seen by the cron), in the order the
 * clients were paused, before the loop sleeps. Replicas and the engine's own clients never wait. While a pause is on,
 * active expiry does not run (a deleted key is a write).
 *
 * Which commands wait: with ALL, every command; with WRITE, the commands that may write or add
 * to the log: write commands, PUBLISH/SPUBLISH and PFCOUNT (CMD_MAY_REPLICATE), and EXEC of a
 * transaction holding one of those.
 */
#ifndef KEEL_PAUSE_H
#define KEEL_PAUSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct engine;
struct client;
struct cmd_def;

enum { PAUSE_NONE = 0, PAUSE_WRITE = 1, PAUSE_ALL = 2 };

/* Pause until until_ms (unix ms); a pause already on keeps the later end and the wider kind. */
void pause_start(struct engine *s, int64_t until_ms, int kind);
/* End the pause now; the waiting commands run in pause_before_sleep (never inside another
 * client's command, whose log record is open). */
void pause_end(struct engine *s);
/* Whether cmd from c must wait now; if so its arguments are kept and the client is queued. */
bool pause_park_if_needed(struct client *c, struct cmd_def *cmd);
/* Before the loop sleeps: end a pause whose deadline passed and run the waiting commands of an
 * ended one; returns the deadline of the pause still on (unix ms), 0 when none. */
int64_t pause_before_sleep(struct engine *s);
bool pause_active(const struct engine *s);
/* A client going away leaves the queue. */
void pause_client_gone(struct client *c);
/* INFO clients: paused_reason, paused_actions, paused_timeout_milliseconds, and the number of
 * clients waiting (counted in blocked_clients, as Valkey does). */
const char *pause_actions_name(const struct engine *s);
int64_t pause_remaining_ms(const struct engine *s);
size_t pause_waiting(const struct engine *s);

#endif

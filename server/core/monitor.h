/*
 * monitor.h - MONITOR: clients that see every command the server runs, one line each, in
 * Valkey's format:
 *
 *     +<unix seconds>.<microseconds> [<db> <client addr>] "<arg>" "<arg>" ...
 *
 * Arguments are quoted and escaped as Valkey's sdscatrepr does (\" \\ \n \r \t \a \b, other
 * bytes outside the printable ASCII range as \xHH). Commands flagged admin or skip_monitor are
 * not shown, and AUTH's arguments (and HELLO's AUTH pair) are shown as "(redacted)".
 */
#ifndef KEEL_MONITOR_H
#define KEEL_MONITOR_H

#include <stdbool.h>
#include <stddef.h>

#include "slice.h"

struct engine;
struct client;
struct cmd_def;

/* c becomes a monitor (MONITOR); its own line is not sent. */
void monitor_add(struct client *c);
/* c stops being a monitor (RESET, or it goes away). */
void monitor_remove(struct client *c);
bool monitor_is(const struct client *c);
/* c ran cmd with these arguments, in db: every monitor gets the line. */
void monitor_feed(struct engine *s, struct client *c, const struct cmd_def *cmd, int argc,
                  const karg_t *argv);

#endif

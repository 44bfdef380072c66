/*
 * errstats.h - INFO errorstats: error replies counted by their code (the first word of the
 * error, "ERR", "WRONGTYPE", "NOAUTH", ...), as Valkey's errorstat_<CODE>:count=<n> lines.
 *
 * At most ERRSTATS_CODES_MAX codes are kept; errors of codes beyond that count under
 * ERRSTATS_OVERFLOW, so a client sending made-up error codes cannot grow the table.
 */
#ifndef KEEL_ERRSTATS_H
#define KEEL_ERRSTATS_H

#include <stddef.h>
#include <stdint.h>

struct engine;
struct sbuf;

#define ERRSTATS_CODES_MAX 128
#define ERRSTATS_CODE_MAX  32 /* longer first words count as ERR */

void errstats_init(struct engine *s);
/* An error reply "CODE message" (without the leading '-') was sent. */
void errstats_add(struct engine *s, const char *msg, size_t len);
/* The errorstat_ lines, in code order. */
void errstats_info(struct engine *s, struct sbuf *b);
void errstats_reset(struct engine *s);

#endif

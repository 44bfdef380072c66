/*
 * tags.h - reply tags in durability sync: the table of keys with uncommitted writes (tags.c).
 *
 * A write's reply waits for its own record; a read's for the newest uncommitted write of a key
 * it touched. The persistence glue turns the tags on (sync mode) and tells them each LSN it
 * assigns; exec asks them through the execution hooks.
 */
#ifndef KEEL_TAGS_H
#define KEEL_TAGS_H

#include <stddef.h>
#include <stdint.h>

#include "engine.h"

void tags_init(engine_t *s); /* registers the exec hooks; call once in sync mode */
void tags_logged(engine_t *eng,
                 uint64_t lsn);   /* a record got this LSN: keys changed since get it */
size_t tags_count(engine_t *eng); /* keys with uncommitted writes (INFO) */
void tags_free(engine_t *eng);
/* The log started over (a replica's full sync): no key is uncommitted any more. */
void tags_reset(engine_t *eng);

#endif

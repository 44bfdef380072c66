/*
 * t_stream.h - the stream value type behind OBJ_STREAM: entries with 128-bit IDs, consumer
 * groups, their pending entries lists (PEL) and consumers.
 *
 * Entries live in packed nodes (t_stream.c has the byte layout), at most stream-node-max-entries
 * entries or stream-node-max-bytes bytes each (defaults STREAM_NODE_ENTRIES_max, _BYTES_max),
 * in a vector ordered by ID, so an ID is found by a binary search over nodes then a scan of one
 * node. Deleting marks the entry in place (as Valkey does) and frees a node once all of its
 * entries are gone. IDs only grow (XADD refuses an ID at or below last_id).
 *
 * A group's PEL is an array ordered by ID with a moving start, so that acknowledging the oldest
 * entry (the usual case) and delivering a new one (always the highest) are O(1); an entry in the
 * middle costs a memmove of the shorter side.
 *
 * Nothing here replies or logs: cmd_stream.c does that.
 */
#ifndef KEEL_T_STREAM_H
#define KEEL_T_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sbuf.h"
#include "slice.h"

#define STREAM_NODE_ENTRIES_max 100
#define STREAM_NODE_BYTES_max   4096
/* entries_read when unknown (Valkey's SCG_INVALID_ENTRIES_READ). */
#define STREAM_ENTRIES_READ_INVALID (-1)
/* A stream ID string: 20 digits, '-', 20 digits, NUL. */
#define STREAM_ID_STR_max 42

typedef struct sid {
    uint64_t ms, seq;
} sid_t;

static inline int
sid_cmp(const sid_t *a, const sid_t *b) {
    if (a->ms != b->ms)
        return a->ms < b->ms ? -1 : 1;
    if (a->seq != b->seq)
        return a->seq < b->seq ? -1 : 1;
    return 0;
}
static inline bool
sid_is_zero(const sid_t *a) {
    return a->ms == 0 && a->seq == 0;
}
/* The next / previous ID; false at the end of the range (max+1, 0-0 minus 1). */
bool sid_incr(sid_t *id);
bool sid_decr(sid_t *id);
/* "ms-seq" into buf (STREAM_ID_STR_max bytes); returns the length. */
int sid_fmt(const sid_t *id, char *buf);
/* Parses "ms-seq" or "ms" (seq = missing_seq). false when malformed. */
bool sid_parse(const char *p, size_t n, uint64_t missing_seq, sid_t *out);

typedef struct stream stream_t;
typedef struct scg scg_t;             /* a consumer group */
typedef struct sconsumer sconsumer_t; /* a consumer of a group */

/* One pending entry: delivered to owner, not yet acknowledged. */
typedef struct spel {
    sid_t id;
    int64_t delivery_ms; /* last delivery, unix ms */
    uint64_t delivery_count;
    sconsumer_t *owner;
} spel_t;

struct sconsumer {
    char *name; /* kmalloc'ed, NUL-terminated, name_len bytes */
    size_t name_len;
    int64_t seen_ms;   /* last interaction of any kind */
    int64_t active_ms; /* last successful read or claim; -1 never */
    uint64_t pending;  /* entries of the group's PEL it owns */
};

struct scg {
    char *name;
    size_t name_len;
    sid_t last_id;
    int64_t entries_read; /* or STREAM_ENTRIES_READ_INVALID */
    spel_t *pel;          /* pel[pel_start .. pel_start + pel_len), ordered by id */
    size_t pel_start, pel_len, pel_cap;
    sconsumer_t **consumers; /* ordered by name (byte order, prefix first) */
    size_t nconsumers;
};

/* An entry read out of a node; pointers valid until the stream changes. */
typedef struct sentry {
    sid_t id;
    uint32_t nfields;
    const uint8_t *master; /* the node's master field names, when same_fields */
    const uint8_t *data;   /* the entry's own (field,) value list */
    bool same_fields;
} sentry_t;

/* Walks the fields of e in order. */
typedef struct sfield_iter {
    const sentry_t *e;
    const uint8_t *m, *d;
    uint32_t left;
} sfield_iter_t;
void stream_fields_init(sfield_iter_t *it, const sentry_t *e);
bool stream_fields_next(sfield_iter_t *it, const char **f, size_t *fn, const char **v, size_t *vn);

stream_t *stream_new(void);
void stream_free(stream_t *s);
stream_t *stream_dup(const stream_t *s);
uint64_t stream_len(const stream_t *s);
sid_t stream_last_id(const stream_t *s);
sid_t stream_first_id(const stream_t *s); /* 0-0 when empty */
sid_t stream_max_deleted_id(const stream_t *s);
uint64_t stream_entries_added(const stream_t *s);
void stream_set_meta(stream_t *s, const sid_t *last_id, uint64_t entries_added,
                     const sid_t *max_deleted);
size_t stream_node_count(const stream_t *s);
size_t stream_mem(const stream_t *s);

/* Appends an entry with an ID above last_id (the caller checked): npairs field, value pairs in
 * fv[0 .. 2 * npairs). */
void stream_append(stream_t *s, const sid_t *id, size_t npairs, const karg_t *fv);
/* Marks the entry deleted: true when it existed. */
bool stream_delete(stream_t *s, const sid_t *id);
/* Finds an entry: true and *e filled when present. */
bool stream_get(const stream_t *s, const sid_t *id, sentry_t *e);

/* Range iteration over [start, end] (inclusive), forward or backward. The stream must not change
 * during the walk, except for stream_iter_delete() of the entry just returned. */
typedef struct stream_iter {
    const stream_t *s;
    sid_t start, end;
    bool rev;
    size_t node;    /* current node index */
    uint32_t *offs; /* backward: entry offsets of the current node */
    size_t noffs, offs_cap;
    size_t pos; /* forward: byte offset in the node; backward: index into offs */
    bool done;
    size_t last_off; /* offset of the entry just returned */
} stream_iter_t;
void stream_iter_init(stream_iter_t *it, const stream_t *s, const sid_t *start, const sid_t *end,
                      bool rev);
bool stream_iter_next(stream_iter_t *it, sentry_t *e);
void stream_iter_done(stream_iter_t *it);

/* Trimming: removes entries from the head while length > maxlen (or below minid). approx keeps
 * whole nodes only; limit (> 0) bounds how many entries go (0 = no bound). Returns how many were
 * removed. */
uint64_t stream_trim_maxlen(stream_t *s, uint64_t maxlen, bool approx, uint64_t limit);
uint64_t stream_trim_minid(stream_t *s, const sid_t *minid, bool approx, uint64_t limit);

/* Consumer groups. */
size_t stream_group_count(const stream_t *s);
scg_t *stream_group_at(const stream_t *s, size_t i);
scg_t *stream_group_find(const stream_t *s, const char *name, size_t n);
/* NULL when a group of that name exists. */
scg_t *stream_group_create(stream_t *s, const char *name, size_t n, const sid_t *last_id,
                           int64_t entries_read);
bool stream_group_destroy(stream_t *s, const char *name, size_t n);

sconsumer_t *scg_consumer_find(const scg_t *g, const char *name, size_t n);
/* Finds or creates; *created tells which. */
sconsumer_t *scg_consumer_get(scg_t *g, const char *name, size_t n, int64_t now_ms, bool *created);
/* Deletes a consumer and its pending entries; returns how many pending entries it had. */
uint64_t scg_consumer_delete(scg_t *g, sconsumer_t *c);

/* The PEL: index of the first entry >= id (pel_len when none). */
size_t scg_pel_lower(const scg_t *g, const sid_t *id);
static inline spel_t *
scg_pel_at(const scg_t *g, size_t i) {
    return &g->pel[g->pel_start + i];
}
spel_t *scg_pel_find(const scg_t *g, const sid_t *id);
/* Adds (or returns the existing) entry for id; new entries have owner NULL and count 0. */
spel_t *scg_pel_add(scg_t *g, const sid_t *id, bool *created);
/* Removes the entry for id; true when it existed. Fixes its owner's pending count. */
bool scg_pel_remove(scg_t *g, const sid_t *id);
/* Moves a pending entry to consumer c. */
void scg_pel_set_owner(spel_t *pe, sconsumer_t *c);

/* Valkey's lag arithmetic (its streamEstimateDistanceFromFirstEverEntry and tombstone test). */
/* After delivering entry id to group g with '>': last_id and entries_read as Valkey moves them. */
void stream_group_delivered(const stream_t *s, scg_t *g, const sid_t *id);
/* Valkey's estimate of a group's entries_read for last delivered ID id (a group loaded from a
 * payload without it: RDB type 15); STREAM_ENTRIES_READ_INVALID when unknowable. */
int64_t stream_estimate_distance(const stream_t *s, const sid_t *id);
/* XINFO GROUPS lag: false when it cannot be known (null reply). */
bool stream_group_lag(const stream_t *s, const scg_t *g, int64_t *lag);

/* The whole value as bytes (snapshot record and tier encoding) and back; decode returns NULL on
 * malformed input. */
void stream_encode(const stream_t *s, sbuf_t *out);
stream_t *stream_decode(const char *p, size_t n);

/* Registers the OBJ_STREAM obj_type_ops_t; called once from engine_init() with the live
 * stream-node-max-bytes / -entries settings (0: no limit) that stream_append() reads (NULL:
 * Valkey's defaults STREAM_NODE_BYTES_max and STREAM_NODE_ENTRIES_max). */
void stream_type_init(const long long *node_max_bytes, const long long *node_max_entries);
/* The node limits in force (for XADD/XTRIM's default approximate LIMIT). */
long long stream_node_max_entries(void);

#endif

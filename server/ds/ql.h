/*
 * ql.h - the quicklist: a long list as a doubly linked list of packed-list nodes.
 *
 * Backs a list once it outgrows a single packed list. Each node is a packed list (lp.h) bounded
 * by `fill`, Valkey's list-max-listpack-size: a positive fill caps the entries per node, a
 * negative one caps the bytes per node (-1 4 KiB, -2 8 KiB, -3 16 KiB, -4 32 KiB, -5 64 KiB).
 * An element bigger than the cap gets a node of its own. Pushes and pops at either end are O(1);
 * index-based operations walk nodes, not entries, from the nearer end. Nodes are not compressed.
 *
 * Indexes are 0-based from the head, negative from the tail (-1 is the last), as in LINDEX.
 */
#ifndef KEEL_DS_QL_H
#define KEEL_DS_QL_H

#include <stddef.h>
#include <stdint.h>

#include "lp.h"

enum { QL_HEAD = 0, QL_TAIL = 1 };
enum { QL_FORWARD = 0, QL_BACKWARD = 1 };

#define QL_FILL_MIN         (-5)  /* 64 KiB per node */
#define QL_FILL_ENTRIES_MAX 65535 /* a positive fill is clamped to this */
/* With a count-based fill a node still stops growing at this many bytes, as in Valkey. */
#define QL_NODE_SAFETY_BYTES 8192

typedef struct ql ql_t;
typedef struct ql_node ql_node_t;

/* One element, found by ql_index or an iterator. str/len or ival (str == NULL) is its value;
 * node/p/offset say where it is. Valid until the list next changes (except through the iterator
 * that produced it). */
typedef struct ql_entry {
    ql_node_t *node;
    uint8_t *p;      /* the entry inside node's packed list */
    uint32_t offset; /* its index inside the node */
    const uint8_t *str;
    size_t len;
    int64_t ival;
} ql_entry_t;

/* Iteration state; fields are private. Only ql_iter_del may change the list during iteration. */
typedef struct ql_iter {
    ql_t *ql;
    ql_node_t *node; /* node of the next entry to return; NULL when done */
    size_t pos;      /* byte offset of that entry inside node's packed list */
    uint32_t offset; /* its index inside the node */
    int dir;
} ql_iter_t;

/* A popped value: a string the caller frees (str != NULL), or an integer. */
typedef struct ql_popped {
    char *str;
    size_t len;
    int64_t ival;
} ql_popped_t;

/* A new empty list; fill as above (0 is taken as 1, below -5 as -5). NULL when out of memory. */
ql_t *ql_new(int fill);
void ql_free(ql_t *ql);
uint64_t ql_len(const ql_t *ql);
uint64_t ql_node_count(const ql_t *ql);
/* Bytes held by the packed lists (an estimate of the payload for memory accounting). */
size_t ql_lp_bytes(const ql_t *ql);

/* All changes return 0, KERR_LIMIT (an element too large for a packed list) or KERR_NOMEM, and
 * leave the list unchanged on error. */
int ql_push(ql_t *ql, int where, const void *s, size_t len);
/* Appends every entry of a packed list at the tail (converting a small list into a quicklist). */
int ql_append_lp(ql_t *ql, uint8_t *lp);
/* Removes the head or tail element into *out: 0 or KERR_NOTFOUND when empty. */
int ql_pop(ql_t *ql, int where, ql_popped_t *out);

/* The element at index: 0 or KERR_NOTFOUND. */
int ql_index(ql_t *ql, long index, ql_entry_t *e);
/* LSET: replaces the element at index. KERR_NOTFOUND when out of range. */
int ql_replace_at(ql_t *ql, long index, const void *s, size_t len);
/* LINSERT: inserts before or after the element e (from ql_index or an iterator). */
int ql_insert(ql_t *ql, const ql_entry_t *e, int after, const void *s, size_t len);
/* Removes count elements from index start on (negative start counts from the tail); returns
 * how many went. */
uint64_t ql_delete_range(ql_t *ql, long start, uint64_t count);
/* LTRIM: keeps only indexes start..stop inclusive (negatives from the tail, Redis clamping). */
void ql_trim(ql_t *ql, long start, long stop);

/* Iteration from index start (negative from the tail) in direction dir. An out-of-range start
 * yields nothing. */
void ql_iter_init(ql_iter_t *it, ql_t *ql, int dir, long start);
/* 1 and *e filled with the next element, or 0 at the end. */
int ql_iter_next(ql_iter_t *it, ql_entry_t *e);
/* Deletes e, the element the last ql_iter_next returned; iteration goes on after it (LREM). */
void ql_iter_del(ql_iter_t *it, ql_entry_t *e);

/* 1 when the element equals the byte string s. */
int ql_entry_eq(const ql_entry_t *e, const void *s, size_t len);

#endif

/*
 * t_list.h - the list value: a packed list while small, a quicklist when large.
 *
 * A list object (OBJ_LIST) holds either a packed list (OBJ_ENC_LISTPACK, ds/lp.h) or a quicklist
 * (OBJ_ENC_QUICKLIST, ds/ql.h). The switch follows Valkey 7.2 (t_list.c), driven by `fill`, the
 * list-max-listpack-size setting:
 *
 *   - grow: before elements are added, a packed list becomes a quicklist when its bytes plus the
 *     added bytes, or its count plus the added count, would pass the node limit of `fill`
 *     (fill > 0: fill entries and 8 KiB; fill < 0: 4 KiB << (-fill - 1) bytes).
 *   - shrink: after elements are removed or replaced, a quicklist of a single node goes back to a
 *     packed list when that node is within HALF the limit (the gap stops a list that hovers at
 *     the limit from converting back and forth on every push and pop).
 *
 * A list object is never empty in the keyspace: the commands delete the key when the last
 * element goes. Indexes are 0-based from the head, negative from the tail, as in LINDEX.
 */
#ifndef KEEL_T_LIST_H
#define KEEL_T_LIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "object.h"
#include "lp.h"
#include "ql.h"

enum { LIST_HEAD = 0, LIST_TAIL = 1 };

/* One element read back: n bytes at p, which points into the list or into buf (integers are
 * formatted there). Valid until the list next changes. */
typedef struct list_elem {
    const char *p;
    size_t n;
    char buf[LP_INTBUF_MAX];
} list_elem_t;

/* A popped element: p is the caller's (kfree), n bytes. */
typedef struct list_popped {
    char *p;
    size_t n;
} list_popped_t;

/* Walks a list in one direction; fields are private. The list must not change meanwhile. */
typedef struct list_iter {
    int enc;
    int dir;     /* LIST_TAIL: head to tail; LIST_HEAD: tail to head */
    uint8_t *lp; /* packed list and its next entry (NULL when done) */
    uint8_t *p;
    ql_iter_t qi;
} list_iter_t;

/* Registers the list type's obj_type_ops_t (called from server_init). */
/* Registers the type; fill is list-max-listpack-size in the configuration (read at each use). */
void list_type_init(const long long *fill);

/* A new empty list object (packed list); the caller pushes before storing it. */
kobj_t *list_obj_new(const char *key, size_t klen);
uint64_t list_len(const kobj_t *o);

/* Converts a packed list to a quicklist if adding add_count elements of add_bytes in total
 * could pass the limit of fill. Call before pushing or inserting. */
void list_try_grow(kobj_t *o, size_t add_bytes, size_t add_count, long long fill);
/* Converts a single-node quicklist back to a packed list when it is within half the limit.
 * Call after removing or replacing elements. */
void list_try_shrink(kobj_t *o, long long fill);

/* Adds one element at LIST_HEAD or LIST_TAIL (no conversion: list_try_grow first).
 * 0, KERR_LIMIT or KERR_NOMEM. */
int list_push(kobj_t *o, int where, const char *s, size_t n);
/* Removes the head or tail element into *out: 0, or KERR_NOTFOUND when empty. */
int list_pop(kobj_t *o, int where, list_popped_t *out);
/* The element at index: true and *e filled, or false when out of range. */
bool list_index(kobj_t *o, long index, list_elem_t *e);
/* Replaces the element at index: 0, KERR_NOTFOUND (out of range), KERR_LIMIT, KERR_NOMEM. */
int list_set(kobj_t *o, long index, const char *s, size_t n);
/* Inserts s before or after the first element equal to pivot: 1 inserted, 0 no pivot, <0 error. */
int list_insert(kobj_t *o, bool after, const char *pivot, size_t pn, const char *s, size_t n);
/* LREM: removes up to |count| elements equal to s (count > 0 from the head, < 0 from the tail,
 * 0 all); returns how many went. */
uint64_t list_remove(kobj_t *o, long count, const char *s, size_t n);
/* Removes ltrim elements at the head and rtrim at the tail (LTRIM, already normalized). */
void list_trim(kobj_t *o, uint64_t ltrim, uint64_t rtrim);

/* Iteration from index start (negative from the tail) towards dir; out of range yields nothing. */
void list_iter_init(list_iter_t *it, kobj_t *o, long start, int dir);
bool list_iter_next(list_iter_t *it, list_elem_t *e);

#endif

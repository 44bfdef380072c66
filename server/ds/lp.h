/*
 * lp.h - the packed list: a sequence of small strings and integers in one allocation.
 *
 * A packed list backs every small collection: a list's elements, a hash's field,value pairs, a
 * sorted set's member,score pairs and a quicklist node. It is a plain byte blob (the snapshot
 * writes it as is), so the handle is a `uint8_t *` and every function that may grow or shrink it
 * takes `uint8_t **lpp` and stores the new address there. The byte layout is specified at the top
 * of lp.c and in docs/encodings.md.
 *
 * Positions are pointers to an entry inside the blob. Any call that changes the blob invalidates
 * every position the caller holds, except the one it hands back.
 *
 * A string that is a canonical decimal integer (what lp_string_to_int accepts) is stored as an
 * integer and read back as the same integer; its canonical text is exactly the original string,
 * so the conversion never changes a value.
 */
#ifndef KEEL_DS_LP_H
#define KEEL_DS_LP_H

#include <stddef.h>
#include <stdint.h>

/* A packed list holds at most this many bytes in total, header and terminator included. */
#define LP_BYTES_MAX UINT32_MAX

/* Size of the buffer lp_get_str() needs to format an integer entry ("-9223372036854775808"). */
#define LP_INTBUF_MAX 21

/* Size of the buffer lp_dtoa() needs (shortest round-trip form of any double, NUL included). */
#define LP_DBLBUF_MAX 32

enum { LP_BEFORE = 0, LP_AFTER = 1 };

/* One entry read back: a string (str != NULL, len bytes) or an integer (str == NULL, ival). */
typedef struct lp_val {
    const uint8_t *str; /* points into the packed list; valid until it is next changed */
    uint32_t len;
    int64_t ival;
} lp_val_t;

/* A new empty packed list, or NULL when out of memory. */
uint8_t *lp_new(void);
void lp_free(uint8_t *lp);

size_t lp_bytes(const uint8_t *lp);
uint32_t lp_count(const uint8_t *lp);

/* Bytes an entry holding s would take (encoding, payload and back-length). */
size_t lp_entry_size(const void *s, size_t len);

/* Whether a packed list of `bytes` may grow by `add` bytes without passing LP_BYTES_MAX. */
int lp_fits(size_t bytes, size_t add);

/* Navigation. Each returns NULL when there is no such entry. */
uint8_t *lp_first(uint8_t *lp);
uint8_t *lp_last(uint8_t *lp);
uint8_t *lp_next(uint8_t *lp, uint8_t *p);
uint8_t *lp_prev(uint8_t *lp, uint8_t *p);
/* The entry at index (0 is the first, -1 the last), or NULL when out of range. */
uint8_t *lp_seek(uint8_t *lp, long index);

/* Reading. lp_get fills v; lp_get_str formats integers into buf and returns the bytes. */
void lp_get(const uint8_t *p, lp_val_t *v);
const uint8_t *lp_get_str(const uint8_t *p, size_t *len, char buf[LP_INTBUF_MAX]);
/* 1 if the entry equals the byte string s, else 0. */
int lp_eq(const uint8_t *p, const void *s, size_t len);
/* From p on, the first entry equal to s, looking at every (skip+1)-th entry (skip=1 visits only
 * the fields of a field,value list). NULL when none matches. */
uint8_t *lp_find(uint8_t *lp, uint8_t *p, const void *s, size_t len, unsigned skip);

/* Changes. All return 0, KERR_LIMIT (the list would pass LP_BYTES_MAX or the count a uint32) or
 * KERR_NOMEM; on error the list is unchanged. `newp`, when not NULL, receives the position of the
 * entry written. */
int lp_append(uint8_t **lpp, const void *s, size_t len);
int lp_prepend(uint8_t **lpp, const void *s, size_t len);
int lp_append_int(uint8_t **lpp, int64_t v);
int lp_insert(uint8_t **lpp, uint8_t *p, int where, const void *s, size_t len, uint8_t **newp);
int lp_replace(uint8_t **lpp, uint8_t *p, const void *s, size_t len, uint8_t **newp);
/* Deletes the entry at p; *nextp gets the entry that follows it (NULL at the end). */
int lp_delete(uint8_t **lpp, uint8_t *p, uint8_t **nextp);
/* Deletes up to num entries starting at index (negative counts from the tail). */
int lp_delete_range(uint8_t **lpp, long index, unsigned long num);

/* Moves the entries from index on (negative counts from the tail) into a new list *tailp; the
 * first ones stay in *lpp. An index past the end gives an empty tail. 0 or KERR_NOMEM. */
int lp_split(uint8_t **lpp, long index, uint8_t **tailp);
/* Appends every entry of other to *lpp (other is left as it was). 0, KERR_LIMIT, KERR_NOMEM. */
int lp_merge(uint8_t **lpp, const uint8_t *other);

/* Checks an untrusted blob (from a snapshot or a replica) completely: header, every entry's
 * encoding, bounds and back-length, the terminator and the count. 0 or KERR_CORRUPT. After it
 * passes, every function above is safe on the blob. */
int lp_validate(const uint8_t *p, size_t len);

/* Helpers shared by the collection types. */
/* 1 and *v set when s is a canonical int64 in decimal ("0", "-5", not "01", "-0", " 1", "+1"). */
int lp_string_to_int(const void *s, size_t len, int64_t *v);
/* Canonical decimal text of v into buf (LP_INTBUF_MAX bytes, NUL-terminated); returns length. */
size_t lp_int_to_string(int64_t v, char *buf);
/* Shortest text that strtod reads back as exactly d ("inf", "-inf", "nan" for the specials). */
size_t lp_dtoa(double d, char buf[LP_DBLBUF_MAX]);

#endif

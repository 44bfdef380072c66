/*
 * intset.c - a sorted array of integers at the narrowest width that holds every member.
 *
 * Layout (little-endian, members read through memcpy so no alignment is assumed):
 *
 *   +-----------+---------+-----------------------------------------+
 *   | width u32 | len u32 | len members of `width` bytes, ascending |
 *   +-----------+---------+-----------------------------------------+
 *
 *   width  2 (int16), 4 (int32) or 8 (int64)
 *   len    number of members; the blob is exactly 8 + width * len bytes
 *
 * Invariants (intset_validate checks them on untrusted input):
 *   1. width is 2, 4 or 8 and the size is 8 + width * len.
 *   2. Members are strictly ascending, so binary search works and there are no duplicates.
 *   3. Every member fits width. The width only grows (intset_add upgrades when a value does not
 *      fit; a value that forced an upgrade is smaller or larger than all others, so it goes at
 *      one end without a search).
 */
#include "intset.h"

#include <endian.h>
#include <stdlib.h>
#include <string.h>

#include "kmem.h"
#include "kassert.h"
#include "kerr.h"

#define HDR_SIZE 8

struct intset {
    uint32_t width_le; /* bytes per member, little-endian on every host */
    uint32_t len_le;
    uint8_t data[];
};

static uint32_t
width_of(int64_t v) {
    if (v >= INT16_MIN && v <= INT16_MAX)
        return 2;
    if (v >= INT32_MIN && v <= INT32_MAX)
        return 4;
    return 8;
}

uint32_t
intset_width(const intset_t *is) {
    return le32toh(is->width_le);
}

uint32_t
intset_len(const intset_t *is) {
    return le32toh(is->len_le);
}

size_t
intset_bytes(const intset_t *is) {
    return HDR_SIZE + (size_t)intset_width(is) * intset_len(is);
}

static int64_t
read_at(const uint8_t *data, uint32_t width, uint32_t i) {
    const uint8_t *p = data + (size_t)i * width;
    if (width == 2) {
        uint16_t u;
        memcpy(&u, p, 2);
        return (int16_t)le16toh(u);
    }
    if (width == 4) {
        uint32_t u;
        memcpy(&u, p, 4);
        return (int32_t)le32toh(u);
    }
    uint64_t u;
    memcpy(&u, p, 8);
    return (int64_t)le64toh(u);
}

static void
write_at(uint8_t *data, uint32_t width, uint32_t i, int64_t v) {
    uint8_t *p = data + (size_t)i * width;
    if (width == 2) {
        uint16_t u = htole16((uint16_t)(int16_t)v);
        memcpy(p, &u, 2);
    } else if (width == 4) {
        uint32_t u = htole32((uint32_t)(int32_t)v);
        memcpy(p, &u, 4);
    } else {
        uint64_t u = htole64((uint64_t)v);
        memcpy(p, &u, 8);
    }
}

/* Binary search: 1 and *pos = index when found, else 0 and *pos = where v would go. */
static int
search(const intset_t *is, int64_t v, uint32_t *pos) {
    uint32_t w = intset_width(is), lo = 0, hi = intset_len(is);
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int64_t m = read_at(is->data, w, mid);
        if (m == v) {
            *pos = mid;
            return 1;
        }
        if (m < v)
            lo = mid + 1;
        else
            hi = mid;
    }
    *pos = lo;
    return 0;
}

intset_t *
intset_new(void) {
    intset_t *is = kmalloc(HDR_SIZE);
    if (!is)
        return NULL;
    is->width_le = htole32(2);
    is->len_le = 0;
    return is;
}

void
intset_free(intset_t *is) {
    kfree(is);
}

/* Widens every member in place, back to front so no member is overwritten before it is read,
 * then puts v at the end its sign says (it is outside the old range). */
static int
upgrade_and_add(intset_t **isp, int64_t v) {
    intset_t *is = *isp;
    uint32_t ow = intset_width(is), nw = width_of(v), len = intset_len(is);
    intset_t *n = krealloc(is, HDR_SIZE + (size_t)nw * (len + 1));
    if (!n)
        return KERR_NOMEM;
    int prepend = v < 0;
    for (uint32_t i = len; i-- > 0;)
        write_at(n->data, nw, i + (uint32_t)prepend, read_at(n->data, ow, i));
    write_at(n->data, nw, prepend ? 0 : len, v);
    n->width_le = htole32(nw);
    n->len_le = htole32(len + 1);
    *isp = n;
    return 0;
}

int
intset_add(intset_t **isp, int64_t v, int *added) {
    intset_t *is = *isp;
    uint32_t len = intset_len(is), w = intset_width(is), pos;
    if (added)
        *added = 0;
    if (width_of(v) <= w && search(is, v, &pos))
        return 0;
    if (len >= INTSET_LEN_MAX)
        return KERR_LIMIT;
    if (width_of(v) > w) {
        int rc = upgrade_and_add(isp, v);
        if (rc == 0 && added)
            *added = 1;
        return rc;
    }
    intset_t *n = krealloc(is, HDR_SIZE + (size_t)w * (len + 1));
    if (!n)
        return KERR_NOMEM;
    memmove(n->data + (size_t)(pos + 1) * w, n->data + (size_t)pos * w, (size_t)(len - pos) * w);
    write_at(n->data, w, pos, v);
    n->len_le = htole32(len + 1);
    *isp = n;
    if (added)
        *added = 1;
    return 0;
}

int
intset_remove(intset_t **isp, int64_t v, int *removed) {
    intset_t *is = *isp;
    uint32_t len = intset_len(is), w = intset_width(is), pos;
    if (removed)
        *removed = 0;
    if (width_of(v) > w || !search(is, v, &pos))
        return 0;
    memmove(is->data + (size_t)pos * w, is->data + (size_t)(pos + 1) * w,
            (size_t)(len - pos - 1) * w);
    is->len_le = htole32(len - 1);
    intset_t *n = krealloc(is, HDR_SIZE + (size_t)w * (len - 1));
    if (n) /* a failed shrink leaves the larger block, which is still correct */
        *isp = n;
    if (removed)
        *removed = 1;
    return 0;
}

int
intset_find(const intset_t *is, int64_t v) {
    uint32_t pos;
    return width_of(v) <= intset_width(is) && search(is, v, &pos);
}

int
intset_get(const intset_t *is, uint32_t i, int64_t *v) {
    if (i >= intset_len(is))
        return KERR_NOTFOUND;
    *v = read_at(is->data, intset_width(is), i);
    return 0;
}

int64_t
intset_random(const intset_t *is, uint64_t rnd) {
    uint32_t len = intset_len(is);
    ASSERT(len > 0);
    return read_at(is->data, intset_width(is), (uint32_t)(rnd % len));
}

int64_t
intset_min(const intset_t *is) {
    ASSERT(intset_len(is) > 0);
    return read_at(is->data, intset_width(is), 0);
}

int64_t
intset_max(const intset_t *is) {
    ASSERT(intset_len(is) > 0);
    return read_at(is->data, intset_width(is), intset_len(is) - 1);
}

int
intset_validate(const void *p, size_t len) {
    if (!p || len < HDR_SIZE)
        return KERR_CORRUPT;
    uint32_t w, n;
    memcpy(&w, p, 4);
    memcpy(&n, (const uint8_t *)p + 4, 4);
    w = le32toh(w);
    n = le32toh(n);
    if (w != 2 && w != 4 && w != 8)
        return KERR_CORRUPT;
    if (n > INTSET_LEN_MAX || (len - HDR_SIZE) / w != n || (len - HDR_SIZE) % w != 0)
        return KERR_CORRUPT;
    const uint8_t *data = (const uint8_t *)p + HDR_SIZE;
    for (uint32_t i = 1; i < n; i++)
        if (read_at(data, w, i - 1) >= read_at(data, w, i))
            return KERR_CORRUPT;
    return 0;
}

/*
 * cmd_hll.c - HyperLogLog: PFADD PFCOUNT PFMERGE PFDEBUG. The value format and the estimator are
 * specified in cmd_hll.h.
 *
 * Updates: a dense value is changed in place (one register per element). A sparse value is
 * decoded into a 16 KB register array, updated and re-encoded, which costs O(registers) per PFADD
 * but keeps the code to one encoder and one decoder; a sparse value is at most 3000 bytes, after
 * which it turns dense for good. PFCOUNT on one key stores the estimate in the header cache
 * (invalidated by every change) without counting as a change: the logical value is the same, and
 * a replayed value without the cache recomputes it.
 */
#include "cmd_hll.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <xxhash.h>

#include "kerr.h"
#include "cmd.h"
#include "exec.h"
#include "kmem.h"
#include "engine.h"
#include "util.h"
#include "reply.h"

#define HLL_HASH_SEED 0xadc83b19ULL /* fixed forever: stored values depend on it */

static const char *const ERR_NOT_HLL = "WRONGTYPE Key is not a valid HyperLogLog string value.";
static const char *const ERR_CORRUPT_HLL = "INVALIDOBJ Corrupted HLL object detected";

/* ---- format ---- */

static unsigned
dense_get(const uint8_t *r, uint32_t i) {
    uint32_t bit = i * 6, b = bit >> 3, fb = bit & 7;
    unsigned v = r[b] >> fb;
    if (fb > 2)
        v |= (unsigned)r[b + 1] << (8 - fb);
    return v & 63;
}

static void
dense_set(uint8_t *r, uint32_t i, unsigned v) {
    uint32_t bit = i * 6, b = bit >> 3, fb = bit & 7;
    r[b] = (uint8_t)((r[b] & ~(63u << fb)) | (v << fb));
    if (fb > 2)
        r[b + 1] = (uint8_t)((r[b + 1] & ~(63u >> (8 - fb))) | (v >> (8 - fb)));
}

uint32_t
hll_index(const void *p, size_t n, uint8_t *rank) {
    uint64_t h = XXH64(p, n, HLL_HASH_SEED);
    uint32_t idx = (uint32_t)(h & (HLL_REGISTERS - 1));
    h >>= HLL_P;
    h |= 1ULL << HLL_Q; /* bounds the rank at HLL_Q + 1 */
    *rank = (uint8_t)(__builtin_ctzll(h) + 1);
    return idx;
}

int
hll_check_header(const uint8_t *v, size_t n) {
    if (n < HLL_HDR_BYTES || memcmp(v, "HYLL", 4) != 0 || v[4] > HLL_SPARSE)
        return 0;
    return v[4] == HLL_SPARSE || n == HLL_DENSE_BYTES;
}

int
hll_decode(const uint8_t *v, size_t n, uint8_t *regs) {
    const uint8_t *p = v + HLL_HDR_BYTES, *end = v + n;
    if (v[4] == HLL_DENSE) {
        for (uint32_t i = 0; i < HLL_REGISTERS; i++)
            regs[i] = (uint8_t)dense_get(p, i);
        return 0;
    }
    uint32_t idx = 0;
    while (p < end) {
        uint32_t run;
        uint8_t val = 0;
        if ((*p & 0xC0) == 0) { /* ZERO */
            run = (*p & 63u) + 1;
            p++;
        } else if ((*p & 0xC0) == 0x40) { /* XZERO */
            if (p + 1 >= end)
                return KERR_CORRUPT;
            run = (((uint32_t)(*p & 63u) << 8) | p[1]) + 1;
            p += 2;
        } else { /* VAL */
            val = (uint8_t)(((*p >> 2) & 31u) + 1);
            run = (*p & 3u) + 1;
            p++;
        }
        if (run > HLL_REGISTERS - idx)
            return KERR_CORRUPT;
        memset(regs + idx, val, run);
        idx += run;
    }
    return idx == HLL_REGISTERS ? 0 : KERR_CORRUPT;
}

static void
put_header(uint8_t *out, int enc) {
    memcpy(out, "HYLL", 4);
    memset(out + 4, 0, HLL_HDR_BYTES - 4);
    out[4] = (uint8_t)enc;
    out[15] = 0x80; /* cache invalid */
}

size_t
hll_encode_sparse(const uint8_t *regs, uint8_t *out, size_t cap) {
    if (cap < HLL_HDR_BYTES)
        return 0;
    put_header(out, HLL_SPARSE);
    size_t o = HLL_HDR_BYTES;
    for (uint32_t i = 0; i < HLL_REGISTERS;) {
        uint8_t v = regs[i];
        uint32_t run = 1;
        while (i + run < HLL_REGISTERS && regs[i + run] == v)
            run++;
        i += run;
        if (v > HLL_SPARSE_VAL_MAX)
            return 0;
        while (run > 0) {
            uint32_t take;
            if (v == 0 && run > 64) {
                take = run > HLL_REGISTERS ? HLL_REGISTERS : run;
                if (o + 2 > cap)
                    return 0;
                out[o++] = (uint8_t)(0x40 | ((take - 1) >> 8));
                out[o++] = (uint8_t)((take - 1) & 0xFF);
            } else {
                take = v == 0 ? run : (run > 4 ? 4 : run);
                if (o + 1 > cap)
                    return 0;
                out[o++] =
                    v == 0 ? (uint8_t)(take - 1) : (uint8_t)(0x80 | ((v - 1u) << 2) | (take - 1));
            }
            run -= take;
        }
    }
    return o;
}

void
hll_encode_dense(const uint8_t *regs, uint8_t *out) {
    put_header(out, HLL_DENSE);
    memset(out + HLL_HDR_BYTES, 0, HLL_DENSE_BYTES - HLL_HDR_BYTES);
    for (uint32_t i = 0; i < HLL_REGISTERS; i++)
        if (regs[i])
            dense_set(out + HLL_HDR_BYTES, i, regs[i]);
}

/* Ertl's sigma and tau series (see the paper named in cmd_hll.h). */
static double
hll_sigma(double x) {
    if (x == 1.0)
        return INFINITY;
    double y = 1.0, z = x, prev;
    do {
        x *= x;
        prev = z;
        z += x * y;
        y += y;
    } while (z != prev);
    return z;
}

static double
hll_tau(double x) {
    if (x == 0.0 || x == 1.0)
        return 0.0;
    double y = 1.0, z = 1.0 - x, prev;
    do {
        x = sqrt(x);
        prev = z;
        y *= 0.5;
        z -= (1.0 - x) * (1.0 - x) * y;
    } while (z != prev);
    return z / 3.0;
}

uint64_t
hll_estimate(const uint8_t *regs) {
    uint32_t hist[HLL_Q + 2] = {0};
    for (uint32_t i = 0; i < HLL_REGISTERS; i++)
        hist[regs[i] <= HLL_Q + 1 ? regs[i] : HLL_Q + 1]++;
    const double m = HLL_REGISTERS;
    double z = m * hll_tau((m - hist[HLL_Q + 1]) / m);
    for (int k = HLL_Q; k >= 1; k--) {
        z += hist[k];
        z *= 0.5;
    }
    z += m * hll_sigma(hist[0] / m);
    return (uint64_t)llround(0.5 / log(2.0) * m * m / z);
}

/* ---- commands ---- */

/* The HLL at key: 1 found (valid header), 0 absent, -1 after an error reply. */
static int
hll_lookup(client_t *c, const karg_t *key, kobj_t **out) {
    kobj_t *o = db_lookup(c->db, key->p, key->n, 0);
    *out = o;
    if (!o)
        return 0;
    if (obj_type(o) != OBJ_STRING) {
        reply_err(c, ERR_WRONGTYPE);
        return -1;
    }
    size_t n;
    const uint8_t *v = (const uint8_t *)obj_str(o, &n);
    if (!hll_check_header(v, n)) {
        reply_err(c, ERR_NOT_HLL);
        return -1;
    }
    return 1;
}

/* OR the registers of key into regs; -1 after an error reply. *dense tells the encoding. */
static int
hll_union_key(client_t *c, const karg_t *key, uint8_t *regs, uint8_t *tmp, bool *dense) {
    kobj_t *o;
    int rc = hll_lookup(c, key, &o);
    if (rc <= 0)
        return rc;
    size_t n;
    const uint8_t *v = (const uint8_t *)obj_str(o, &n);
    if (hll_decode(v, n, tmp) < 0) {
        reply_err(c, ERR_CORRUPT_HLL);
        return -1;
    }
    for (uint32_t i = 0; i < HLL_REGISTERS; i++)
        regs[i] = tmp[i] > regs[i] ? tmp[i] : regs[i];
    if (v[4] == HLL_DENSE)
        *dense = true;
    return 1;
}

/* Store registers as the value of o's key (sparse when allowed and small enough); returns the
 * object now stored. The key's expiry is kept. */
static kobj_t *
hll_store(client_t *c, kobj_t *o, const uint8_t *regs, bool allow_sparse) {
    /* hll-sparse-max-bytes: a sparse value larger than the dense one would never pay. */
    uint8_t sparse[HLL_DENSE_BYTES];
    long long cap = c->eng->cfg.hll_sparse_max_bytes;
    size_t n = allow_sparse
                   ? hll_encode_sparse(regs, sparse,
                                       cap < (long long)sizeof sparse ? (size_t)cap : sizeof sparse)
                   : 0;
    size_t len = n ? n : HLL_DENSE_BYTES;
    o = db_str_resize(c->db, o, len, 0);
    uint8_t *v = (uint8_t *)obj_str_mut(o, &len);
    if (n)
        memcpy(v, sparse, n);
    else
        hll_encode_dense(regs, v);
    return o;
}

static void
hll_changed(client_t *c, const karg_t *key) {
    srv_key_modified(c->eng, c->db, key->p, key->n);
    srv_notify(c->eng, NOTIFY_STRING, "pfadd", key->p, key->n, c->db_id);
    srv_dirty(c->eng, 1);
}

static kobj_t *
hll_create(client_t *c, const karg_t *key) {
    uint8_t v[HLL_HDR_BYTES + 2];
    static const uint8_t zero[HLL_REGISTERS];
    size_t n = hll_encode_sparse(zero, v, sizeof v); /* one XZERO: 18 bytes */
    kobj_t *o = obj_new_str(key->p, key->n, (const char *)v, n, -1);
    db_add(c->db, o);
    return o;
}

static void
cmd_pfadd(client_t *c) {
    kobj_t *o;
    int found = hll_lookup(c, &c->argv[1], &o);
    if (found < 0)
        return;
    if (!found)
        o = hll_create(c, &c->argv[1]);
    size_t n;
    uint8_t *v = (uint8_t *)obj_str_mut(o, &n);
    int updated = 0;
    if (v[4] == HLL_DENSE) {
        for (int i = 2; i < c->argc; i++) {
            uint8_t rank;
            uint32_t idx = hll_index(c->argv[i].p, c->argv[i].n, &rank);
            if (rank > dense_get(v + HLL_HDR_BYTES, idx)) {
                dense_set(v + HLL_HDR_BYTES, idx, rank);
                updated = 1;
            }
        }
    } else if (c->argc > 2) {
        uint8_t *regs = kmalloc(HLL_REGISTERS);
        if (hll_decode(v, n, regs) < 0) {
            kfree(regs);
            reply_err(c, ERR_CORRUPT_HLL);
            return;
        }
        for (int i = 2; i < c->argc; i++) {
            uint8_t rank;
            uint32_t idx = hll_index(c->argv[i].p, c->argv[i].n, &rank);
            if (rank > regs[idx]) {
                regs[idx] = rank;
                updated = 1;
            }
        }
        if (updated)
            o = hll_store(c, o, regs, true);
        kfree(regs);
        v = (uint8_t *)obj_str_mut(o, &n);
    }
    if (updated)
        v[15] |= 0x80;
    if (updated || !found)
        hll_changed(c, &c->argv[1]);
    reply_int(c, updated || !found);
}

static void
cmd_pfcount(client_t *c) {
    if (c->argc == 2) {
        kobj_t *o;
        int found = hll_lookup(c, &c->argv[1], &o);
        if (found <= 0) {
            if (found == 0)
                reply_int(c, 0);
            return;
        }
        size_t n;
        uint8_t *v = (uint8_t *)obj_str_mut(o, &n);
        uint64_t card;
        if (!(v[15] & 0x80)) {
            memcpy(&card, v + 8, 8); /* little endian on every platform we build for */
            reply_int(c, (long long)card);
            return;
        }
        uint8_t *regs = kmalloc(HLL_REGISTERS);
        if (hll_decode(v, n, regs) < 0) {
            kfree(regs);
            reply_err(c, ERR_CORRUPT_HLL);
            return;
        }
        card = hll_estimate(regs);
        kfree(regs);
        memcpy(v + 8, &card, 8); /* bit 63 is clear for any real estimate: cache now valid */
        reply_int(c, (long long)card);
        return;
    }
    uint8_t *regs = kcalloc(2, HLL_REGISTERS);
    bool dense = false;
    for (int i = 1; i < c->argc; i++)
        if (hll_union_key(c, &c->argv[i], regs, regs + HLL_REGISTERS, &dense) < 0)
            goto done;
    reply_int(c, (long long)hll_estimate(regs));
done:
    kfree(regs);
}

static void
cmd_pfmerge(client_t *c) {
    uint8_t *regs = kcalloc(2, HLL_REGISTERS);
    bool dense = false;
    for (int i = 1; i < c->argc; i++)
        if (hll_union_key(c, &c->argv[i], regs, regs + HLL_REGISTERS, &dense) < 0)
            goto done;
    kobj_t *o = db_lookup(c->db, c->argv[1].p, c->argv[1].n, 0);
    if (!o)
        o = hll_create(c, &c->argv[1]);
    hll_store(c, o, regs, !dense);
    hll_changed(c, &c->argv[1]);
    reply_ok(c);
done:
    kfree(regs);
}

/* PFDEBUG <GETREG|ENCODING|TODENSE|DECODE> key: inspection for tests and operators. */
static void
pfdebug_decode(client_t *c, const uint8_t *v, size_t n) {
    char *out = kmalloc(n * 12 + 1);
    size_t o = 0;
    for (const uint8_t *p = v + HLL_HDR_BYTES; p < v + n;) {
        if ((*p & 0xC0) == 0) {
            o += (size_t)sprintf(out + o, "z:%u ", (*p & 63u) + 1);
            p++;
        } else if ((*p & 0xC0) == 0x40) {
            unsigned run = p + 1 < v + n ? (((*p & 63u) << 8) | p[1]) + 1 : 0;
            o += (size_t)sprintf(out + o, "Z:%u ", run);
            p += 2;
        } else {
            o += (size_t)sprintf(out + o, "v:%u,%u ", ((*p >> 2) & 31u) + 1, (*p & 3u) + 1);
            p++;
        }
    }
    reply_simple(c, o ? (out[o - 1] = 0, out) : "");
    kfree(out);
}

static void
cmd_pfdebug(client_t *c) {
    const karg_t *sub = &c->argv[1];
    kobj_t *o = db_lookup(c->db, c->argv[2].p, c->argv[2].n, 0);
    if (!o) {
        reply_err(c, "ERR The specified key does not exist");
        return;
    }
    if (hll_lookup(c, &c->argv[2], &o) < 0)
        return;
    size_t n;
    const uint8_t *v = (const uint8_t *)obj_str(o, &n);
    if (util_eq_nocase(sub->p, sub->n, "encoding")) {
        reply_simple(c, v[4] == HLL_DENSE ? "dense" : "sparse");
    } else if (util_eq_nocase(sub->p, sub->n, "decode")) {
        if (v[4] != HLL_SPARSE)
            reply_err(c, "ERR HLL encoding is not sparse");
        else
            pfdebug_decode(c, v, n);
    } else if (util_eq_nocase(sub->p, sub->n, "getreg") ||
               util_eq_nocase(sub->p, sub->n, "todense")) {
        bool getreg = util_eq_nocase(sub->p, sub->n, "getreg");
        uint8_t *regs = kmalloc(HLL_REGISTERS);
        if (hll_decode(v, n, regs) < 0) {
            reply_err(c, ERR_CORRUPT_HLL);
        } else if (getreg) {
            reply_array(c, HLL_REGISTERS);
            for (uint32_t i = 0; i < HLL_REGISTERS; i++)
                reply_int(c, regs[i]);
        } else {
            bool conv = v[4] == HLL_SPARSE;
            if (conv) {
                hll_store(c, o, regs, false);
                hll_changed(c, &c->argv[2]);
            }
            reply_int(c, conv);
        }
        kfree(regs);
    } else {
        reply_errf(c, "ERR Unknown PFDEBUG subcommand '%.*s'", (int)(sub->n > 64 ? 64 : sub->n),
                   sub->p);
    }
}

cmd_def_t cmd_table_hll[] = {
    {"pfadd", cmd_pfadd, -2, CMD_WRITE | CMD_DENYOOM | CMD_FAST, 1, 1, 1, "hyperloglog",
     "Adds elements to a HyperLogLog key. Creates the key if it doesn't exist.", "2.8.9",
     "O(1) to add every element.", "write hyperloglog fast"},
    {"pfcount", cmd_pfcount, -2, CMD_READONLY | CMD_MAY_REPLICATE, 1, -1, 1, "hyperloglog",
     "Returns the approximated cardinality of the set(s) observed by the HyperLogLog key(s).",
     "2.8.9",
     "O(1) with a very small average constant time when called with a single key. O(N) with N being the number of keys, and much bigger constant times, when called with multiple keys.",
     "read hyperloglog slow"},
    {"pfmerge", cmd_pfmerge, -2, CMD_WRITE | CMD_DENYOOM, 1, -1, 1, "hyperloglog",
     "Merges one or more HyperLogLog values into a single key.", "2.8.9",
     "O(N) to merge N HyperLogLogs, but with high constant times.", "write hyperloglog slow"},
    {"pfdebug", cmd_pfdebug, 3, CMD_WRITE | CMD_DENYOOM | CMD_ADMIN, 2, 2, 1, "hyperloglog",
     "Internal commands for debugging HyperLogLog values.", "2.8.9", "N/A",
     "write hyperloglog admin slow dangerous"},
    {0},
};

/*
 * cmd_bitmap.c - bit operations on string values: SETBIT GETBIT BITCOUNT BITPOS BITOP BITFIELD
 * BITFIELD_RO.
 *
 * Bit numbering is Valkey's: bit 0 is the most significant bit of byte 0, so a bitmap reads left
 * to right. Strings are stored inline in the key object, so a write that needs more bytes grows
 * the object with db_str_resize (zero-filled) and then writes in place with obj_str_mut; the
 * object may move, so a pointer is never kept across a resize. Offsets are bounded by
 * proto-max-bulk-len (512 MB by default) as in Valkey. Every write here is deterministic and is
 * logged as called.
 */
#include <string.h>

#include "cmd.h"
#include "exec.h"
#include "kmem.h"
#include "engine.h"
#include "util.h"
#include "reply.h"

static const char *const ERR_BIT_OFFSET = "ERR bit offset is not an integer or out of range";

/* A bit offset argument ("#N" multiplies by `bits` when hash_ok, for BITFIELD); replies the error
 * and returns false when it is bad or beyond proto-max-bulk-len bytes. */
static bool
parse_bit_offset(client_t *c, const karg_t *a, bool hash_ok, int bits, uint64_t *out) {
    const char *p = a->p;
    size_t n = a->n;
    bool hash = hash_ok && n > 0 && p[0] == '#';
    long long v;
    if (hash) {
        p++;
        n--;
    }
    bool ok = util_parse_ll(p, n, &v) && v >= 0;
    if (ok && hash) {
        if (v > INT64_MAX / bits)
            ok = false;
        else
            v *= bits;
    }
    if (!ok || (v >> 3) >= c->eng->cfg.proto_max_bulk_len) {
        reply_err(c, ERR_BIT_OFFSET);
        return false;
    }
    *out = (uint64_t)v;
    return true;
}

/* The string at argv[1] for a write touching bytes [0, need): created (zero-filled) when absent,
 * grown with zeros when shorter. NULL after replying WRONGTYPE. *grew tells whether the value
 * changed size (so the command changed the key even if no bit flips). */
static kobj_t *
string_for_write(client_t *c, size_t need, bool *grew) {
    const char *key = c->argv[1].p;
    size_t klen = c->argv[1].n, len;
    kobj_t *o = db_lookup(c->db, key, klen, 0);
    *grew = false;
    if (!o) {
        o = obj_str_resize(obj_new_str(key, klen, NULL, 0, -1), need, 0);
        memset(obj_str_mut(o, &len), 0, need);
        db_add(c->db, o);
        *grew = true;
        return o;
    }
    if (obj_type(o) != OBJ_STRING) {
        reply_err(c, ERR_WRONGTYPE);
        return NULL;
    }
    obj_str(o, &len);
    if (len < need) {
        size_t old = len;
        o = db_str_resize(c->db, o, need, old);
        memset(obj_str_mut(o, &len) + old, 0, need - old);
        *grew = true;
    }
    return o;
}

/* The string at key for reading: 1 found, 0 absent (p = NULL, len 0), -1 after WRONGTYPE. */
static int
string_for_read(client_t *c, const karg_t *key, const uint8_t **p, size_t *len) {
    kobj_t *o = db_lookup(c->db, key->p, key->n, 0);
    *p = NULL;
    *len = 0;
    if (!o)
        return 0;
    if (obj_type(o) != OBJ_STRING) {
        reply_err(c, ERR_WRONGTYPE);
        return -1;
    }
    *p = (const uint8_t *)obj_str(o, len);
    return 1;
}

static void
key_changed(client_t *c, const char *event, uint64_t dirty) {
    srv_key_modified(c->eng, c->db, c->argv[1].p, c->argv[1].n);
    srv_notify(c->eng, NOTIFY_STRING, event, c->argv[1].p, c->argv[1].n, c->db_id);
    srv_dirty(c->eng, dirty);
}

/* ---- SETBIT / GETBIT ---- */

static void
cmd_setbit(client_t *c) {
    uint64_t off;
    if (!parse_bit_offset(c, &c->argv[2], false, 1, &off))
        return;
    long long on;
    if (!util_parse_ll(c->argv[3].p, c->argv[3].n, &on) || (on & ~1LL)) {
        reply_err(c, "ERR bit is not an integer or out of range");
        return;
    }
    bool grew;
    kobj_t *o = string_for_write(c, (size_t)(off >> 3) + 1, &grew);
    if (!o)
        return;
    size_t len;
    uint8_t *v = (uint8_t *)obj_str_mut(o, &len);
    uint8_t mask = (uint8_t)(1u << (7 - (off & 7)));
    int old = (v[off >> 3] & mask) != 0;
    if (on)
        v[off >> 3] |= mask;
    else
        v[off >> 3] &= (uint8_t)~mask;
    if (grew || old != on)
        key_changed(c, "setbit", 1);
    reply_int(c, old);
}

static void
cmd_getbit(client_t *c) {
    uint64_t off;
    if (!parse_bit_offset(c, &c->argv[2], false, 1, &off))
        return;
    const uint8_t *p;
    size_t len;
    if (string_for_read(c, &c->argv[1], &p, &len) < 0)
        return;
    int bit = (off >> 3) < len ? (p[off >> 3] >> (7 - (off & 7))) & 1 : 0;
    reply_int(c, bit);
}

/* ---- BITCOUNT / BITPOS ---- */

/* Turn a user range [start, end] (negative = from the end) over `total` units into a clamped
 * range; false when it is empty. */
static bool
clamp_range(long long *start, long long *end, long long total) {
    if (*start < 0)
        *start += total;
    if (*end < 0)
        *end += total;
    if (*start < 0)
        *start = 0;
    if (*end < 0)
        *end = 0;
    if (*end >= total)
        *end = total - 1;
    return *start <= *end;
}

static int
unit_arg(client_t *c, const karg_t *a, bool *isbit) {
    if (cmd_arg_is(a, "bit"))
        *isbit = true;
    else if (cmd_arg_is(a, "byte"))
        *isbit = false;
    else {
        reply_err(c, ERR_SYNTAX);
        return -1;
    }
    return 0;
}

static uint64_t
popcount_bytes(const uint8_t *p, size_t n) {
    uint64_t count = 0;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        count += (uint64_t)__builtin_popcountll(w);
    }
    for (; i < n; i++)
        count += (uint64_t)__builtin_popcount(p[i]);
    return count;
}

/* Set bits in the bit range [sb, eb] (inclusive, within the string). */
static uint64_t
count_bits(const uint8_t *p, uint64_t sb, uint64_t eb) {
    uint64_t sbyte = sb >> 3, ebyte = eb >> 3;
    uint64_t count = popcount_bytes(p + sbyte, ebyte - sbyte + 1);
    uint8_t head = (uint8_t)(0xFF00u >> (sb & 7));     /* bits before sb in its byte */
    uint8_t tail = (uint8_t)(0xFFu >> ((eb & 7) + 1)); /* bits after eb in its byte */
    count -= (uint64_t)__builtin_popcount(p[sbyte] & head);
    count -= (uint64_t)__builtin_popcount(p[ebyte] & tail);
    return count;
}

static void
cmd_bitcount(client_t *c) {
    long long start = 0, end = -1;
    bool isbit = false, ranged = c->argc >= 4;
    if (c->argc == 3 || c->argc > 5) {
        reply_err(c, ERR_SYNTAX);
        return;
    }
    if (ranged && (!util_parse_ll(c->argv[2].p, c->argv[2].n, &start) ||
                   !util_parse_ll(c->argv[3].p, c->argv[3].n, &end))) {
        reply_err(c, ERR_NOT_INT);
        return;
    }
    if (c->argc == 5 && unit_arg(c, &c->argv[4], &isbit) < 0)
        return;
    const uint8_t *p;
    size_t len;
    int found = string_for_read(c, &c->argv[1], &p, &len);
    if (found <= 0) {
        if (found == 0)
            reply_int(c, 0);
        return;
    }
    if (ranged && start < 0 && end < 0 && start > end) {
        reply_int(c, 0);
        return;
    }
    long long total = isbit ? (long long)len * 8 : (long long)len;
    if (!clamp_range(&start, &end, total)) {
        reply_int(c, 0);
        return;
    }
    uint64_t sb = isbit ? (uint64_t)start : (uint64_t)start * 8;
    uint64_t eb = isbit ? (uint64_t)end : (uint64_t)end * 8 + 7;
    reply_int(c, (long long)count_bits(p, sb, eb));
}

/* First bit equal to `bit` in [sb, eb], or -1. Whole bytes are skipped 8 at a time. */
static long long
find_bit(const uint8_t *p, uint64_t sb, uint64_t eb, int bit) {
    uint64_t i = sb;
    uint8_t skip = bit ? 0x00 : 0xFF;
    while (i <= eb) {
        if ((i & 7) == 0 && i + 7 <= eb) {
            if (p[i >> 3] == skip) {
                if ((i & 63) == 0 && i + 63 <= eb) {
                    uint64_t w;
                    memcpy(&w, p + (i >> 3), 8);
                    if (w == (bit ? 0 : UINT64_MAX)) {
                        i += 64;
                        continue;
                    }
                }
                i += 8;
                continue;
            }
        }
        if (((p[i >> 3] >> (7 - (i & 7))) & 1) == bit)
            return (long long)i;
        i++;
    }
    return -1;
}

static void
cmd_bitpos(client_t *c) {
    long long bit, start = 0, end = -1;
    bool isbit = false, end_given = c->argc >= 5;
    if (!util_parse_ll(c->argv[2].p, c->argv[2].n, &bit)) {
        reply_err(c, ERR_NOT_INT);
        return;
    }
    if (bit != 0 && bit != 1) {
        reply_err(c, "ERR The bit argument must be 1 or 0.");
        return;
    }
    const uint8_t *p;
    size_t len;
    int found = string_for_read(c, &c->argv[1], &p, &len);
    if (found <= 0) {
        if (found == 0)
            reply_int(c, bit ? -1 : 0);
        return;
    }
    if (c->argc > 6) {
        reply_err(c, ERR_SYNTAX);
        return;
    }
    if (c->argc >= 4 && !util_parse_ll(c->argv[3].p, c->argv[3].n, &start)) {
        reply_err(c, ERR_NOT_INT);
        return;
    }
    if (c->argc == 6 && unit_arg(c, &c->argv[5], &isbit) < 0)
        return;
    if (end_given && !util_parse_ll(c->argv[4].p, c->argv[4].n, &end)) {
        reply_err(c, ERR_NOT_INT);
        return;
    }
    long long total = isbit ? (long long)len * 8 : (long long)len;
    if (!clamp_range(&start, &end, total)) {
        reply_int(c, -1); /* an empty range holds neither a 0 nor a 1 */
        return;
    }
    uint64_t sb = isbit ? (uint64_t)start : (uint64_t)start * 8;
    uint64_t eb = isbit ? (uint64_t)end : (uint64_t)end * 8 + 7;
    long long pos = find_bit(p, sb, eb, (int)bit);
    /* Looking for a 0 without an explicit end: the string continues with zeros to the right. */
    if (pos < 0 && bit == 0 && !end_given)
        pos = (long long)eb + 1;
    reply_int(c, pos);
}

/* ---- BITOP ---- */

enum { BITOP_AND, BITOP_OR, BITOP_XOR, BITOP_NOT };

/* res (maxlen bytes, zero-filled) op= src; bytes past the end of src count as zero. */
static void
bitop_combine(uint8_t *res, size_t maxlen, const uint8_t *src, size_t len, int op) {
    size_t i = 0;
    switch (op) {
    case BITOP_AND:
        for (; i < len; i++)
            res[i] &= src[i];
        memset(res + len, 0, maxlen - len);
        break;
    case BITOP_OR:
        for (; i < len; i++)
            res[i] |= src[i];
        break;
    case BITOP_XOR:
        for (; i < len; i++)
            res[i] ^= src[i];
        break;
    }
}

static void
bitop_store(client_t *c, const karg_t *dest, kobj_t *o, size_t maxlen) {
    if (maxlen) {
        db_set(c->db, o, false);
        srv_key_modified(c->eng, c->db, dest->p, dest->n);
        srv_notify(c->eng, NOTIFY_STRING, "set", dest->p, dest->n, c->db_id);
        srv_dirty(c->eng, 1);
    } else if (db_delete(c->db, dest->p, dest->n)) {
        srv_key_modified(c->eng, c->db, dest->p, dest->n);
        srv_notify(c->eng, NOTIFY_GENERIC, "del", dest->p, dest->n, c->db_id);
        srv_dirty(c->eng, 1);
    }
}

static void
cmd_bitop(client_t *c) {
    int op;
    if (cmd_arg_is(&c->argv[1], "and"))
        op = BITOP_AND;
    else if (cmd_arg_is(&c->argv[1], "or"))
        op = BITOP_OR;
    else if (cmd_arg_is(&c->argv[1], "xor"))
        op = BITOP_XOR;
    else if (cmd_arg_is(&c->argv[1], "not"))
        op = BITOP_NOT;
    else {
        reply_err(c, ERR_SYNTAX);
        return;
    }
    if (op == BITOP_NOT && c->argc != 4) {
        reply_err(c, "ERR BITOP NOT must be called with a single source key.");
        return;
    }
    size_t maxlen = 0;
    for (int i = 3; i < c->argc; i++) { /* types first: nothing is built if one is wrong */
        const uint8_t *p;
        size_t len;
        if (string_for_read(c, &c->argv[i], &p, &len) < 0)
            return;
        maxlen = len > maxlen ? len : maxlen;
    }
    const karg_t *dest = &c->argv[2];
    size_t len;
    kobj_t *o = obj_str_resize(obj_new_str(dest->p, dest->n, NULL, 0, -1), maxlen, 0);
    uint8_t *res = (uint8_t *)obj_str_mut(o, &len);
    memset(res, 0, maxlen);
    for (int i = 3; i < c->argc; i++) {
        const uint8_t *p;
        size_t slen;
        string_for_read(c, &c->argv[i], &p, &slen);
        if (op == BITOP_NOT) {
            for (size_t j = 0; j < slen; j++)
                res[j] = (uint8_t)~p[j];
        } else if (i == 3) {
            if (slen)
                memcpy(res, p, slen);
        } else {
            bitop_combine(res, maxlen, p, slen, op);
        }
    }
    if (maxlen == 0)
        obj_free(o);
    bitop_store(c, dest, maxlen ? o : NULL, maxlen);
    reply_int(c, (long long)maxlen);
}

/* ---- BITFIELD ---- */

enum { BF_GET, BF_SET, BF_INCRBY };
enum { BF_WRAP, BF_SAT, BF_FAIL };

typedef struct bf_op {
    uint64_t offset; /* in bits */
    int64_t value;   /* SET value or INCRBY increment */
    uint8_t opcode, overflow, bits;
    bool sign;
} bf_op_t;

#define BF_OPS_STACK 16

static uint64_t
bf_get(const uint8_t *p, size_t len, uint64_t off, int bits) {
    uint64_t v = 0;
    for (int i = 0; i < bits; i++, off++) {
        uint64_t byte = off >> 3;
        int b = byte < len ? (p[byte] >> (7 - (off & 7))) & 1 : 0;
        v = (v << 1) | (uint64_t)b;
    }
    return v;
}

static void
bf_set(uint8_t *p, uint64_t off, int bits, uint64_t v) {
    for (int i = bits - 1; i >= 0; i--, off++) {
        uint8_t mask = (uint8_t)(1u << (7 - (off & 7)));
        if ((v >> i) & 1)
            p[off >> 3] |= mask;
        else
            p[off >> 3] &= (uint8_t)~mask;
    }
}

static int64_t
sign_extend(uint64_t v, int bits) {
    if (bits < 64 && (v & (1ULL << (bits - 1))))
        v |= ~0ULL << bits;
    return (int64_t)v;
}

/* value + incr for a signed field of `bits`: returns true on overflow, with *out the wrapped or
 * saturated result; *out is the plain sum otherwise. */
static bool
bf_signed_add(int64_t value, int64_t incr, int bits, int overflow, int64_t *out) {
    int64_t max = bits == 64 ? INT64_MAX : (int64_t)((1ULL << (bits - 1)) - 1);
    int64_t min = -max - 1;
    bool up = incr > 0 && value > max - incr;
    bool down = incr < 0 && value < min - incr;
    if (!up && !down && value >= min && value <= max) {
        *out = value + incr;
        return false;
    }
    if (overflow == BF_SAT) {
        *out = (up || value > max) ? max : min;
    } else {
        uint64_t sum = (uint64_t)value + (uint64_t)incr; /* unsigned: defined wrap-around */
        *out = sign_extend(bits == 64 ? sum : sum & ((1ULL << bits) - 1), bits);
    }
    return true;
}

static bool
bf_unsigned_add(uint64_t value, int64_t incr, int bits, int overflow, uint64_t *out) {
    uint64_t max = (1ULL << bits) - 1; /* bits <= 63 */
    bool up = value > max || (incr > 0 && (uint64_t)incr > max - value);
    bool down = !up && incr < 0 && (uint64_t)(-(incr + 1)) + 1 > value;
    if (!up && !down) {
        *out = value + (uint64_t)incr;
        return false;
    }
    if (overflow == BF_SAT)
        *out = up ? max : 0;
    else
        *out = (value + (uint64_t)incr) & max;
    return true;
}

/* "i8", "u16": signedness and width; replies the error and returns false when invalid. */
static bool
bf_parse_type(client_t *c, const karg_t *a, bf_op_t *op) {
    long long bits = 0;
    bool ok = a->n >= 2 && (a->p[0] == 'i' || a->p[0] == 'I' || a->p[0] == 'u' || a->p[0] == 'U') &&
              util_parse_ll(a->p + 1, a->n - 1, &bits);
    op->sign = a->p[0] == 'i' || a->p[0] == 'I';
    if (!ok || bits < 1 || (op->sign && bits > 64) || (!op->sign && bits > 63)) {
        reply_err(c, "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not "
                     "supported but i64 is.");
        return false;
    }
    op->bits = (uint8_t)bits;
    return true;
}

/* Parses every operation before running any; returns the count or -1 after an error reply. */
static int
bf_parse(client_t *c, bool readonly, bf_op_t **ops_io, int cap) {
    bf_op_t *ops = *ops_io;
    int n = 0, overflow = BF_WRAP;
    for (int j = 2; j < c->argc; j++) {
        int rem = c->argc - j - 1;
        const karg_t *a = &c->argv[j];
        if (cmd_arg_is(a, "overflow") && rem >= 1) {
            const karg_t *t = &c->argv[++j];
            if (cmd_arg_is(t, "wrap"))
                overflow = BF_WRAP;
            else if (cmd_arg_is(t, "sat"))
                overflow = BF_SAT;
            else if (cmd_arg_is(t, "fail"))
                overflow = BF_FAIL;
            else {
                reply_err(c, "ERR Invalid OVERFLOW type specified");
                return -1;
            }
            continue;
        }
        bf_op_t op = {0};
        if (cmd_arg_is(a, "get") && rem >= 2)
            op.opcode = BF_GET;
        else if (cmd_arg_is(a, "set") && rem >= 3)
            op.opcode = BF_SET;
        else if (cmd_arg_is(a, "incrby") && rem >= 3)
            op.opcode = BF_INCRBY;
        else {
            reply_err(c, ERR_SYNTAX);
            return -1;
        }
        if (!bf_parse_type(c, &c->argv[j + 1], &op) ||
            !parse_bit_offset(c, &c->argv[j + 2], true, op.bits, &op.offset))
            return -1;
        if (op.opcode != BF_GET) {
            long long v;
            if (readonly) {
                reply_err(c, "ERR BITFIELD_RO only supports the GET subcommand");
                return -1;
            }
            if (!util_parse_ll(c->argv[j + 3].p, c->argv[j + 3].n, &v)) {
                reply_err(c, ERR_NOT_INT);
                return -1;
            }
            op.value = v;
            j++;
        }
        j += 2;
        op.overflow = (uint8_t)overflow;
        if (n == cap) { /* the first array is the caller's stack array */
            cap *= 2;
            bf_op_t *bigger = n == BF_OPS_STACK ? kmalloc(sizeof *ops * (size_t)cap)
                                                : krealloc(ops, sizeof *ops * (size_t)cap);
            if (n == BF_OPS_STACK)
                memcpy(bigger, ops, sizeof *ops * (size_t)n);
            *ops_io = ops = bigger; /* the caller frees it, also after an error */
        }
        ops[n++] = op;
    }
    return n;
}

/* Runs one SET/INCRBY on the value; replies its result; returns 1 if it wrote. */
static int
bf_write(client_t *c, uint8_t *p, size_t len, const bf_op_t *op) {
    uint64_t raw = bf_get(p, len, op->offset, op->bits);
    bool over;
    uint64_t newval;
    long long reply;
    if (op->sign) {
        int64_t old = sign_extend(raw, op->bits), nv;
        if (op->opcode == BF_INCRBY)
            over = bf_signed_add(old, op->value, op->bits, op->overflow, &nv);
        else
            over = bf_signed_add(op->value, 0, op->bits, op->overflow, &nv);
        newval = (uint64_t)nv;
        reply = op->opcode == BF_INCRBY ? nv : old;
    } else {
        uint64_t nv;
        if (op->opcode == BF_INCRBY)
            over = bf_unsigned_add(raw, op->value, op->bits, op->overflow, &nv);
        else
            over = bf_unsigned_add((uint64_t)op->value, 0, op->bits, op->overflow, &nv);
        newval = nv;
        reply = op->opcode == BF_INCRBY ? (long long)nv : (long long)raw;
    }
    if (over && op->overflow == BF_FAIL) {
        reply_null(c);
        return 0;
    }
    bf_set(p, op->offset, op->bits, newval);
    reply_int(c, reply);
    return 1;
}

static void
bitfield_run(client_t *c, bool readonly) {
    bf_op_t stack[BF_OPS_STACK], *ops = stack;
    int n = bf_parse(c, readonly, &ops, BF_OPS_STACK);
    if (n < 0)
        goto done;
    uint64_t need_bits = 0;
    for (int i = 0; i < n; i++)
        if (ops[i].opcode != BF_GET && ops[i].offset + ops[i].bits > need_bits)
            need_bits = ops[i].offset + ops[i].bits;
    const uint8_t *rp = NULL;
    uint8_t *wp = NULL;
    size_t len = 0;
    bool grew = false;
    if (need_bits) {
        kobj_t *o = string_for_write(c, (size_t)((need_bits + 7) >> 3), &grew);
        if (!o)
            goto done;
        rp = wp = (uint8_t *)obj_str_mut(o, &len);
    } else if (string_for_read(c, &c->argv[1], &rp, &len) < 0) {
        goto done;
    }
    uint64_t changes = 0;
    reply_array(c, n);
    for (int i = 0; i < n; i++) {
        const bf_op_t *op = &ops[i];
        if (op->opcode == BF_GET) {
            uint64_t raw = bf_get(rp, len, op->offset, op->bits);
            reply_int(c, op->sign ? sign_extend(raw, op->bits) : (long long)raw);
        } else {
            changes += (uint64_t)bf_write(c, wp, len, op);
        }
    }
    if (changes || grew)
        key_changed(c, "setbit", changes ? changes : 1);
done:
    if (ops != stack)
        kfree(ops);
}

static void
cmd_bitfield(client_t *c) {
    bitfield_run(c, false);
}

static void
cmd_bitfield_ro(client_t *c) {
    bitfield_run(c, true);
}

cmd_def_t cmd_table_bitmap[] = {
    {"setbit", cmd_setbit, 4, CMD_WRITE | CMD_DENYOOM, 1, 1, 1, "bitmap",
     "Sets or clears the bit at offset of the string value. Creates the key if it doesn't exist.",
     "2.2.0", "O(1)", "write bitmap slow"},
    {"getbit", cmd_getbit, 3, CMD_READONLY | CMD_FAST, 1, 1, 1, "bitmap",
     "Returns a bit value by offset.", "2.2.0", "O(1)", "read bitmap fast"},
    {"bitcount", cmd_bitcount, -2, CMD_READONLY, 1, 1, 1, "bitmap",
     "Counts the number of set bits (population counting) in a string.", "2.6.0", "O(N)",
     "read bitmap slow"},
    {"bitpos", cmd_bitpos, -3, CMD_READONLY, 1, 1, 1, "bitmap",
     "Finds the first set (1) or clear (0) bit in a string.", "2.8.7", "O(N)", "read bitmap slow"},
    {"bitop", cmd_bitop, -4, CMD_WRITE | CMD_DENYOOM, 2, -1, 1, "bitmap",
     "Performs bitwise operations on multiple strings, and stores the result.", "2.6.0", "O(N)",
     "write bitmap slow"},
    {"bitfield", cmd_bitfield, -2, CMD_WRITE | CMD_DENYOOM, 1, 1, 1, "bitmap",
     "Performs arbitrary bitfield integer operations on strings.", "3.2.0",
     "O(1) for each subcommand specified", "write bitmap slow"},
    {"bitfield_ro", cmd_bitfield_ro, -2, CMD_READONLY | CMD_FAST, 1, 1, 1, "bitmap",
     "Performs arbitrary read-only bitfield integer operations on strings.", "6.0.0",
     "O(1) for each subcommand specified", "read bitmap fast"},
    {0},
};

/*
 * lua_cmsgpack.c - the `cmsgpack` library scripts expect (Valkey embeds lua_cmsgpack; Debian has
 * no C package of it): MessagePack encoding of Lua values, written for Keel.
 *
 *   cmsgpack.pack(v1, v2, ...)            -> the encodings of each value, concatenated
 *   cmsgpack.unpack(s)                    -> every value encoded in s
 *   cmsgpack.unpack_one(s [, offset])     -> next offset (-1 at the end), value
 *   cmsgpack.unpack_limit(s, n [, offset])-> next offset (-1 at the end), up to n values
 *
 * Encoding (as lua_cmsgpack's): nil, booleans; a number that is an integer (and fits int64) takes
 * the smallest integer form, any other a float 32 when that is exact, else a float 64; a string is
 * a str (fixstr, str 8/16/32); a table whose keys are exactly 1..n is an array (an empty table
 * too), any other a map; tables nested deeper than CMSGPACK_NESTING_MAX and other types (functions)
 * encode as nil. Decoding accepts every MessagePack type but ext: bin types become strings, a
 * map a table. Malformed or truncated input raises "Missing bytes in input." / "Bad data format
 * in input.".
 */
#include <lauxlib.h>
#include <lua.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "sbuf.h"

#define CMSGPACK_NESTING_MAX 16

/* ---- encoding ---- */

static void
addc(sbuf_t *b, char c) {
    sbuf_append(b, &c, 1);
}

static void
put_be(sbuf_t *b, uint64_t v, int bytes) {
    for (int i = bytes - 1; i >= 0; i--)
        addc(b, (char)(v >> (8 * i)));
}

static void
enc_int(sbuf_t *b, int64_t v) {
    if (v >= 0) {
        uint64_t u = (uint64_t)v;
        if (u < 128) {
            addc(b, (char)u);
        } else if (u <= 0xff) {
            addc(b, (char)0xcc);
            put_be(b, u, 1);
        } else if (u <= 0xffff) {
            addc(b, (char)0xcd);
            put_be(b, u, 2);
        } else if (u <= 0xffffffffu) {
            addc(b, (char)0xce);
            put_be(b, u, 4);
        } else {
            addc(b, (char)0xcf);
            put_be(b, u, 8);
        }
    } else if (v >= -32) {
        addc(b, (char)(int8_t)v);
    } else if (v >= INT8_MIN) {
        addc(b, (char)0xd0);
        put_be(b, (uint64_t)v, 1);
    } else if (v >= INT16_MIN) {
        addc(b, (char)0xd1);
        put_be(b, (uint64_t)v, 2);
    } else if (v >= INT32_MIN) {
        addc(b, (char)0xd2);
        put_be(b, (uint64_t)v, 4);
    } else {
        addc(b, (char)0xd3);
        put_be(b, (uint64_t)v, 8);
    }
}

static void
enc_number(sbuf_t *b, double d) {
    if (d == floor(d) && d >= -9223372036854775808.0 && d < 9223372036854775808.0) {
        enc_int(b, (int64_t)d);
        return;
    }
    float f = (float)d;
    if ((double)f == d) {
        uint32_t u;
        memcpy(&u, &f, 4);
        addc(b, (char)0xca);
        put_be(b, u, 4);
    } else {
        uint64_t u;
        memcpy(&u, &d, 8);
        addc(b, (char)0xcb);
        put_be(b, u, 8);
    }
}

static void
enc_len(sbuf_t *b, size_t n, unsigned fix, unsigned fixmax, unsigned c8, unsigned c16,
        unsigned c32) {
    if (n <= fixmax) {
        addc(b, (char)(fix | n));
    } else if (c8 && n <= 0xff) {
        addc(b, (char)c8);
        put_be(b, n, 1);
    } else if (n <= 0xffff) {
        addc(b, (char)c16);
        put_be(b, n, 2);
    } else {
        addc(b, (char)c32);
        put_be(b, n, 4);
    }
}

/* The table at idx is an array when its keys are exactly 1..n; returns n or -1. */
static long
array_len(lua_State *L, int idx) {
    long count = 0;
    double max = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        if (lua_type(L, -1) != LUA_TNUMBER) {
            lua_pop(L, 1);
            return -1;
        }
        double k = lua_tonumber(L, -1);
        if (k < 1 || k != floor(k)) {
            lua_pop(L, 1);
            return -1;
        }
        max = k > max ? k : max;
        count++;
    }
    return max == (double)count ? count : -1;
}

static void enc_value(lua_State *L, sbuf_t *b, int idx, int level);

static void
enc_table(lua_State *L, sbuf_t *b, int idx, int level) {
    long n = array_len(L, idx);
    if (n >= 0) {
        enc_len(b, (size_t)n, 0x90, 15, 0, 0xdc, 0xdd);
        for (long i = 1; i <= n; i++) {
            lua_rawgeti(L, idx, (int)i);
            enc_value(L, b, lua_gettop(L), level + 1);
            lua_pop(L, 1);
        }
        return;
    }
    size_t pairs = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        pairs++;
    }
    enc_len(b, pairs, 0x80, 15, 0, 0xde, 0xdf);
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        int top = lua_gettop(L);
        enc_value(L, b, top - 1, level + 1);
        enc_value(L, b, top, level + 1);
        lua_pop(L, 1);
    }
}

/* One value (at idx) appended to b; tables recurse up to CMSGPACK_NESTING_MAX. */
static void
enc_value(lua_State *L, sbuf_t *b, int idx, int level) {
    /* No Lua error may be raised here (the C buffer would leak): no room is nil. */
    int type = lua_checkstack(L, 8) ? lua_type(L, idx) : LUA_TNIL;
    switch (type) {
    case LUA_TBOOLEAN: addc(b, lua_toboolean(L, idx) ? (char)0xc3 : (char)0xc2); break;
    case LUA_TNUMBER: enc_number(b, lua_tonumber(L, idx)); break;
    case LUA_TSTRING: {
        size_t n;
        const char *s = lua_tolstring(L, idx, &n);
        enc_len(b, n, 0xa0, 31, 0xd9, 0xda, 0xdb);
        sbuf_append(b, s, n);
        break;
    }
    case LUA_TTABLE:
        if (level < CMSGPACK_NESTING_MAX) {
            lua_pushvalue(L, idx); /* a fresh slot for the iteration */
            enc_table(L, b, lua_gettop(L), level);
            lua_pop(L, 1);
        } else {
            addc(b, (char)0xc0); /* too deep is nil */
        }
        break;
    default: addc(b, (char)0xc0);
    }
}

static int
l_pack(lua_State *L) {
    int n = lua_gettop(L);
    if (n == 0)
        return luaL_argerror(L, 0, "MessagePack pack needs input.");
    sbuf_t b = {0};
    for (int i = 1; i <= n; i++)
        enc_value(L, &b, i, 0);
    lua_pushlstring(L, b.p ? b.p : "", b.len);
    sbuf_free(&b);
    return 1;
}

/* ---- decoding ---- */

typedef struct rd {
    const unsigned char *p, *end;
    const char *err;
} rd_t;

static uint64_t
get_be(rd_t *r, int bytes) {
    if (r->end - r->p < bytes) {
        r->err = "Missing bytes in input.";
        r->p = r->end;
        return 0;
    }
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++)
        v = v << 8 | r->p[i];
    r->p += bytes;
    return v;
}

static void dec_value(lua_State *L, rd_t *r, int level);

static void
dec_str(lua_State *L, rd_t *r, uint64_t n) {
    if ((uint64_t)(r->end - r->p) < n) {
        r->err = "Missing bytes in input.";
        r->p = r->end;
        lua_pushnil(L);
        return;
    }
    lua_pushlstring(L, (const char *)r->p, (size_t)n);
    r->p += n;
}

static void
dec_array(lua_State *L, rd_t *r, uint64_t n, int level) {
    lua_newtable(L);
    for (uint64_t i = 1; i <= n && !r->err; i++) {
        dec_value(L, r, level + 1);
        lua_rawseti(L, -2, (int)i);
    }
}

static void
dec_map(lua_State *L, rd_t *r, uint64_t n, int level) {
    lua_newtable(L);
    for (uint64_t i = 0; i < n && !r->err; i++) {
        dec_value(L, r, level + 1);
        dec_value(L, r, level + 1);
        if (lua_isnil(L, -2)) {
            lua_pop(L, 2); /* a nil key cannot be stored */
            continue;
        }
        lua_rawset(L, -3);
    }
}

static void
dec_value(lua_State *L, rd_t *r, int level) {
    luaL_checkstack(L, 4, "cmsgpack: nesting too deep");
    if (r->err || r->p >= r->end) {
        r->err = r->err ? r->err : "Missing bytes in input.";
        lua_pushnil(L);
        return;
    }
    unsigned c = *r->p++;
    if (c <= 0x7f) {
        lua_pushnumber(L, c);
    } else if (c >= 0xe0) {
        lua_pushnumber(L, (int8_t)c);
    } else if ((c & 0xe0) == 0xa0) {
        dec_str(L, r, c & 0x1f);
    } else if ((c & 0xf0) == 0x90) {
        dec_array(L, r, c & 0x0f, level);
    } else if ((c & 0xf0) == 0x80) {
        dec_map(L, r, c & 0x0f, level);
    } else {
        switch (c) {
        case 0xc0: lua_pushnil(L); break;
        case 0xc2: lua_pushboolean(L, 0); break;
        case 0xc3: lua_pushboolean(L, 1); break;
        case 0xcc: lua_pushnumber(L, (double)get_be(r, 1)); break;
        case 0xcd: lua_pushnumber(L, (double)get_be(r, 2)); break;
        case 0xce: lua_pushnumber(L, (double)get_be(r, 4)); break;
        case 0xcf: lua_pushnumber(L, (double)get_be(r, 8)); break;
        case 0xd0: lua_pushnumber(L, (int8_t)get_be(r, 1)); break;
        case 0xd1: lua_pushnumber(L, (int16_t)get_be(r, 2)); break;
        case 0xd2: lua_pushnumber(L, (int32_t)get_be(r, 4)); break;
        case 0xd3: lua_pushnumber(L, (double)(int64_t)get_be(r, 8)); break;
        case 0xca: {
            uint32_t u = (uint32_t)get_be(r, 4);
            float f;
            memcpy(&f, &u, 4);
            lua_pushnumber(L, f);
            break;
        }
        case 0xcb: {
            uint64_t u = get_be(r, 8);
            double d;
            memcpy(&d, &u, 8);
            lua_pushnumber(L, d);
            break;
        }
        case 0xc4:
        case 0xd9: dec_str(L, r, get_be(r, 1)); break;
        case 0xc5:
        case 0xda: dec_str(L, r, get_be(r, 2)); break;
        case 0xc6:
        case 0xdb: dec_str(L, r, get_be(r, 4)); break;
        case 0xdc: dec_array(L, r, get_be(r, 2), level); break;
        case 0xdd: dec_array(L, r, get_be(r, 4), level); break;
        case 0xde: dec_map(L, r, get_be(r, 2), level); break;
        case 0xdf: dec_map(L, r, get_be(r, 4), level); break;
        default: r->err = "Bad data format in input."; lua_pushnil(L);
        }
    }
}

/* Decodes up to limit values (0: all) from offset; returns the values pushed (after the next
 * offset when with_offset). */
static int
unpack_generic(lua_State *L, int limit, long offset, bool with_offset) {
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    if (offset < 0 || (size_t)offset > len)
        return luaL_error(L, "Start offset %ld greater than input length %d.", offset, (int)len);
    rd_t r = {(const unsigned char *)s + offset, (const unsigned char *)s + len, NULL};
    int base = lua_gettop(L);
    if (with_offset)
        lua_pushnil(L); /* the offset, set below */
    int n = 0;
    while (r.p < r.end && (limit == 0 || n < limit)) {
        dec_value(L, &r, 0);
        if (r.err)
            return luaL_error(L, "%s", r.err);
        n++;
    }
    if (with_offset) {
        lua_pushnumber(L, r.p < r.end ? (double)(r.p - (const unsigned char *)s) : -1);
        lua_replace(L, base + 1);
        return n + 1;
    }
    return n;
}

static int
l_unpack(lua_State *L) {
    return unpack_generic(L, 0, 0, false);
}

static int
l_unpack_one(lua_State *L) {
    return unpack_generic(L, 1, (long)luaL_optnumber(L, 2, 0), true);
}

static int
l_unpack_limit(lua_State *L) {
    int limit = (int)luaL_checknumber(L, 2);
    return unpack_generic(L, limit > 0 ? limit : 0, (long)luaL_optnumber(L, 3, 0), true);
}

int luaopen_cmsgpack(lua_State *L);

int
luaopen_cmsgpack(lua_State *L) {
    static const luaL_Reg fns[] = {{"pack", l_pack},
                                   {"unpack", l_unpack},
                                   {"unpack_one", l_unpack_one},
                                   {"unpack_limit", l_unpack_limit},
                                   {NULL, NULL}};
    lua_newtable(L);
    luaL_register(L, NULL, fns);
    lua_pushliteral(L, "lua-cmsgpack");
    lua_setfield(L, -2, "_NAME");
    return 1;
}

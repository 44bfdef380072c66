/*
 * lua_struct.c - the `struct` library scripts expect (Valkey embeds Roberto Ierusalimschy's
 * struct; Debian has no C package of it): packing Lua values into binary strings, written for
 * Keel with the same format language.
 *
 *   struct.pack(fmt, v1, ...)   -> string
 *   struct.unpack(fmt, s [, i]) -> v1, ..., and the position after the last byte read (1-based)
 *   struct.size(fmt)            -> bytes a pack of fmt takes (not for 's' or 'c0')
 *
 * Format: '<' little endian, '>' big endian, '=' native; '![n]' aligns items to min(size, n)
 * bytes (n a power of 2, default 8; alignment 1 until given); ' ' ignored;
 *   x  a zero byte (skipped by unpack)     b/B  signed/unsigned char
 *   h/H  short (2 bytes)                   l/L  long (8 bytes)       T  size_t (8 bytes)
 *   i/I[n]  signed/unsigned integer of n bytes (1..8, default 4)
 *   f  float      d  double                s  zero-terminated string
 *   c[n]  n bytes of a string (pack pads with zeros); 'c0' in pack is the whole string, in
 *         unpack the length is the previous value read (which must be a number).
 */
#include <lauxlib.h>
#include <lua.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define STRUCT_ALIGN_DEFAULT 8

typedef struct fmt_state {
    bool little;
    size_t align; /* max alignment, 1 = none */
} fmt_state_t;

static size_t
read_num(const char **f, size_t dflt) {
    if (**f < '0' || **f > '9')
        return dflt;
    size_t n = 0;
    while (**f >= '0' && **f <= '9' && n < 100000)
        n = n * 10 + (size_t)(*(*f)++ - '0');
    return n;
}

/* The size of option c (its count read from *f), or 0 for 'c0'/'s'/controls. */
static size_t
opt_size(lua_State *L, char c, const char **f) {
    switch (c) {
    case 'x':
    case 'b':
    case 'B': return 1;
    case 'h':
    case 'H': return 2;
    case 'l':
    case 'L':
    case 'T': return 8;
    case 'f': return sizeof(float);
    case 'd': return sizeof(double);
    case 'c': return read_num(f, 1);
    case 'i':
    case 'I': {
        size_t n = read_num(f, 4);
        if (n < 1 || n > 8)
            luaL_error(L, "integral size %d is larger than limit of %d", (int)n, 8);
        return n;
    }
    default: return 0;
    }
}

/* Controls: endianness, alignment, spaces; false when c is not one. */
static bool
control(lua_State *L, char c, const char **f, fmt_state_t *st) {
    switch (c) {
    case ' ': return true;
    case '<': st->little = true; return true;
    case '>': st->little = false; return true;
    case '=': st->little = true; return true; /* x86-64 and arm64 hosts */
    case '!': {
        size_t a = read_num(f, STRUCT_ALIGN_DEFAULT);
        if (a == 0 || (a & (a - 1)))
            luaL_error(L, "alignment %d is not a power of 2", (int)a);
        st->align = a;
        return true;
    }
    default: return false;
    }
}

static size_t
padding(char c, size_t size, size_t at, const fmt_state_t *st) {
    if (c == 'c' || c == 's' || c == 'x' || st->align <= 1 || size == 0)
        return 0;
    size_t a = size < st->align ? size : st->align;
    if (a & (a - 1))
        return 0;
    return (a - (at & (a - 1))) & (a - 1);
}

/* The output and its length (luaL_Buffer does not tell it); nothing is pushed between the
 * buffer's calls, so an argument error raised mid-way leaks nothing. */
typedef struct out {
    luaL_Buffer b;
    size_t len;
} out_t;

static void
out_add(out_t *o, const char *p, size_t n) {
    luaL_addlstring(&o->b, p, n);
    o->len += n;
}

static void
put_int(out_t *o, uint64_t v, size_t size, bool little) {
    char buf[8];
    for (size_t i = 0; i < size; i++)
        buf[little ? i : size - 1 - i] = (char)(v >> (8 * i));
    out_add(o, buf, size);
}

static int
l_pack(lua_State *L) {
    const char *f = luaL_checkstring(L, 1);
    fmt_state_t st = {true, 1};
    static const char zeros[8];
    out_t o = {.len = 0};
    int arg = 2;
    luaL_buffinit(L, &o.b);
    while (*f) {
        char c = *f++;
        if (control(L, c, &f, &st))
            continue;
        size_t size = opt_size(L, c, &f);
        out_add(&o, zeros, padding(c, size, o.len, &st));
        switch (c) {
        case 'x': out_add(&o, zeros, 1); break;
        case 'b':
        case 'B':
        case 'h':
        case 'H':
        case 'l':
        case 'L':
        case 'T':
        case 'i':
        case 'I': {
            double d = luaL_checknumber(L, arg++);
            uint64_t v = (c >= 'a' && c != 'T') || d < 0 ? (uint64_t)(int64_t)d : (uint64_t)d;
            put_int(&o, v, size, st.little);
            break;
        }
        case 'f': {
            float x = (float)luaL_checknumber(L, arg++);
            uint32_t u;
            memcpy(&u, &x, 4);
            put_int(&o, u, 4, st.little);
            break;
        }
        case 'd': {
            double x = luaL_checknumber(L, arg++);
            uint64_t u;
            memcpy(&u, &x, 8);
            put_int(&o, u, 8, st.little);
            break;
        }
        case 'c':
        case 's': {
            size_t n;
            const char *str = luaL_checklstring(L, arg++, &n);
            if (c == 's') {
                out_add(&o, str, n);
                out_add(&o, zeros, 1);
            } else if (size == 0) {
                out_add(&o, str, n);
            } else {
                out_add(&o, str, n > size ? size : n);
                for (size_t i = n; i < size; i++)
                    out_add(&o, zeros, 1);
            }
            break;
        }
        default: return luaL_error(L, "invalid format option '%c'", c);
        }
    }
    luaL_pushresult(&o.b);
    return 1;
}

static uint64_t
get_int(const unsigned char *p, size_t size, bool little, bool sign) {
    uint64_t v = 0;
    for (size_t i = 0; i < size; i++)
        v |= (uint64_t)p[little ? i : size - 1 - i] << (8 * i);
    if (sign && size < 8 && (v >> (8 * size - 1)) & 1)
        v |= ~(uint64_t)0 << (8 * size);
    return v;
}

static int
l_unpack(lua_State *L) {
    const char *f = luaL_checkstring(L, 1);
    size_t len;
    const unsigned char *s = (const unsigned char *)luaL_checklstring(L, 2, &len);
    long init = (long)luaL_optnumber(L, 3, 1);
    luaL_argcheck(L, init >= 1, 3, "offset must be 1 or greater");
    size_t pos = (size_t)init - 1;
    fmt_state_t st = {true, 1};
    int n = 0;
    while (*f) {
        char c = *f++;
        if (control(L, c, &f, &st))
            continue;
        size_t size = opt_size(L, c, &f);
        pos += padding(c, size, pos, &st);
        if (c == 'c' && size == 0) { /* c0: the length is the previous value */
            if (n == 0 || !lua_isnumber(L, -1))
                return luaL_error(L, "format 'c0' needs a previous size");
            size = (size_t)lua_tonumber(L, -1);
            lua_pop(L, 1);
            n--;
        }
        luaL_argcheck(L, pos <= len && size <= len - pos, 2, "data string too short");
        luaL_checkstack(L, 2, "too many results");
        switch (c) {
        case 'x': break;
        case 'b':
        case 'h':
        case 'l':
        case 'i':
            lua_pushnumber(L, (double)(int64_t)get_int(s + pos, size, st.little, true));
            n++;
            break;
        case 'B':
        case 'H':
        case 'L':
        case 'T':
        case 'I':
            lua_pushnumber(L, (double)get_int(s + pos, size, st.little, false));
            n++;
            break;
        case 'f': {
            uint32_t u = (uint32_t)get_int(s + pos, 4, st.little, false);
            float x;
            memcpy(&x, &u, 4);
            lua_pushnumber(L, x);
            n++;
            break;
        }
        case 'd': {
            uint64_t u = get_int(s + pos, 8, st.little, false);
            double x;
            memcpy(&x, &u, 8);
            lua_pushnumber(L, x);
            n++;
            break;
        }
        case 'c':
            lua_pushlstring(L, (const char *)s + pos, size);
            n++;
            break;
        case 's': {
            const unsigned char *z = memchr(s + pos, 0, len - pos);
            luaL_argcheck(L, z != NULL, 2, "unfinished string in data");
            size = (size_t)(z - (s + pos)) + 1;
            lua_pushlstring(L, (const char *)s + pos, size - 1);
            n++;
            break;
        }
        default: return luaL_error(L, "invalid format option '%c'", c);
        }
        pos += size;
    }
    lua_pushnumber(L, (double)pos + 1);
    return n + 1;
}

static int
l_size(lua_State *L) {
    const char *f = luaL_checkstring(L, 1);
    fmt_state_t st = {true, 1};
    size_t pos = 0;
    while (*f) {
        char c = *f++;
        if (control(L, c, &f, &st))
            continue;
        size_t size = opt_size(L, c, &f);
        if (c == 's' || (c == 'c' && size == 0))
            return luaL_argerror(L, 1, "options 'c0' - 's' have undefined sizes");
        if (!strchr("xbBhHlLTiIfdc", c))
            return luaL_error(L, "invalid format option '%c'", c);
        pos += padding(c, size, pos, &st) + size;
    }
    lua_pushnumber(L, (double)pos);
    return 1;
}

int luaopen_struct(lua_State *L);

int
luaopen_struct(lua_State *L) {
    static const luaL_Reg fns[] = {{"pack", l_pack},
                                   {"unpack", l_unpack},
                                   {"size", l_size},
                                   {NULL, NULL}};
    lua_newtable(L);
    luaL_register(L, NULL, fns);
    return 1;
}

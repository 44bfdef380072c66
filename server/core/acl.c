/*
 * acl.c - ACL users: rules, passwords, the permission check, and the clients that run as a user
 * (see acl.h). The ACL LOG is acl_log.c; the file and the `user` lines of keel.conf acl_file.c.
 *
 * A user's command permissions are a bitmap over command ids plus the ordered list of command
 * rules that built it ("+@read -get +config|get"), which is what ACL LIST prints after "+@all" or
 * "-@all": replaying that text on a fresh user gives the same bitmap (the unit tests check it). A
 * new rule for a command or category drops the earlier rules it overrides (and the rules of that
 * command's subcommands), as Valkey does, so the list stays short.
 *
 * Key permissions: a read command (CMD_READONLY) needs a pattern with read permission (`~p` or
 * `%R~p`) matching each key it names, a write command (CMD_WRITE) one with write permission, a
 * command that is neither any matching pattern. Valkey decides per key from its key specs; Keel's
 * table has none, so a write command that also reads a key (SET ... GET, ZUNIONSTORE's sources)
 * asks write permission for every key it names, unless its table row says which keys it only
 * reads (cmd_def_t.key_read_only: SORT, GEORADIUS*, GEOSEARCHSTORE). Channels: PUBLISH/SPUBLISH and (S)SUBSCRIBE
 * channels must match a channel pattern; PSUBSCRIBE patterns must equal one literally.
 *
 * Invariants:
 *   1. acl_state_t.dflt is in the users table for the engine's life: clients fall back to it.
 *   2. A client's CLIENT_ACL_LIMITED is set exactly when its user lacks one of ALLCOMMANDS,
 *      ALLKEYS, ALLCHANNELS; every change of a user's rules ends in refresh_clients().
 *   3. No client points at a freed user: deleting or replacing a user first moves its clients to
 *      the default user, unauthenticated, and closes them (kill_clients).
 */
#include "acl.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "acl_int.h"
#include "kassert.h"
#include "klog.h"
#include "kmem.h"
#include "pubsub.h"
#include "reply.h"
#include "util.h"

/* Valkey's categories, in its order (ACL CAT), then valkey-bloom's @bloom. */
static const char *const cat_names[] = {
    "keyspace", "read",        "write",      "set",         "sortedset", "list",  "hash", "string",
    "bitmap",   "hyperloglog", "geo",        "stream",      "pubsub",    "admin", "fast", "slow",
    "blocking", "dangerous",   "connection", "transaction", "scripting", "bloom", NULL,
};

/* Valkey's words for a rule it cannot apply (ACLSetUserStringError). */
static const char *const WHY_SYNTAX = "Syntax error";
static const char *const WHY_UNKNOWN = "Unknown command or category name in ACL";
static const char *const WHY_KEYS_AFTER_ALL =
    "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have "
    "any effect. Try 'resetkeys' to start with an empty list of patterns";
static const char *const WHY_CHANS_AFTER_ALL =
    "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not "
    "have any effect. Try 'resetchannels' to start with an empty list of channels";
static const char *const WHY_NO_SUCH_PASS =
    "The password you are trying to remove from the user does not exist";
static const char *const WHY_BAD_HASH = "The password hash must be exactly 64 characters and "
                                        "contain only lowercase hexadecimal characters";
static const char *const WHY_CHILD = "Allowing first-arg of a subcommand is not supported";

const char *
acl_category_name(int i) {
    return i >= 0 && i < (int)(sizeof cat_names / sizeof *cat_names) ? cat_names[i] : NULL;
}

int
acl_category_find(const char *name, size_t n) {
    for (int i = 0; cat_names[i]; i++)
        if (util_eq_nocase(name, n, cat_names[i]))
            return i;
    return -1;
}

/* Category bits of a table entry's acl string ("write string fast"). */
static uint32_t
parse_cats(const char *s) {
    uint32_t bits = 0;
    while (s && *s) {
        while (*s == ' ')
            s++;
        const char *w = s;
        while (*s && *s != ' ')
            s++;
        int i = acl_category_find(w, (size_t)(s - w));
        if (i >= 0)
            bits |= 1u << i;
    }
    return bits;
}

bool
acl_cmd_in_category(engine_t *e, const cmd_def_t *cmd, int cat) {
    return cat >= 0 && cat < 32 && (e->acl->cats[cmd->id] & (1u << cat));
}

/* ---- passwords ---- */

static void
hash_password(const char *p, size_t n, uint8_t out[ACL_HASH_LEN]) {
    unsigned int len = 0;
    int ok = EVP_Digest(p, n, out, &len, EVP_sha256(), NULL);
    ASSERT(ok == 1 && len == ACL_HASH_LEN);
}

static int
hexval(char c) {
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* A `#hash` / `!hash` argument: 64 lowercase hex digits, as Valkey requires. */
static bool
parse_hash(const char *p, size_t n, uint8_t out[ACL_HASH_LEN]) {
    if (n != 2 * ACL_HASH_LEN)
        return false;
    for (size_t i = 0; i < ACL_HASH_LEN; i++) {
        int hi = hexval(p[2 * i]), lo = hexval(p[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return true;
}

void
acl_user_password_hex(const acl_user_t *u, uint32_t i, char hex[2 * ACL_HASH_LEN + 1]) {
    static const char digits[] = "0123456789abcdef";
    for (size_t j = 0; j < ACL_HASH_LEN; j++) {
        hex[2 * j] = digits[u->pass[i][j] >> 4];
        hex[2 * j + 1] = digits[u->pass[i][j] & 15];
    }
    hex[2 * ACL_HASH_LEN] = 0;
}

static int
find_pass(const acl_user_t *u, const uint8_t h[ACL_HASH_LEN]) {
    for (uint32_t i = 0; i < u->npass; i++)
        if (!memcmp(u->pass[i], h, ACL_HASH_LEN))
            return (int)i;
    return -1;
}

/* Whether pass opens u: every stored hash is compared in constant time, and all of them, so
 * neither the time of one comparison nor the number made tells which one matched. */
bool
acl_password_matches(const acl_user_t *u, const char *pass, size_t n) {
    if (!(u->flags & ACL_U_ON))
        return false;
    if (u->flags & ACL_U_NOPASS)
        return true;
    uint8_t h[ACL_HASH_LEN];
    hash_password(pass, n, h);
    int ok = 0;
    for (uint32_t i = 0; i < u->npass; i++)
        ok |= CRYPTO_memcmp(h, u->pass[i], ACL_HASH_LEN) == 0;
    return ok != 0;
}

/* ---- users ---- */

bool
acl_name_ok(const char *name, size_t n, const char **why) {
    if (n == 0 || n > ACL_NAME_MAX) {
        *why = "Usernames must be 1 to 256 bytes long";
        return false;
    }
    for (size_t i = 0; i < n; i++)
        if (name[i] == 0 || name[i] == ' ' || (name[i] >= '\t' && name[i] <= '\r')) {
            *why = "Usernames can't contain spaces or null characters";
            return false;
        }
    return true;
}

acl_user_t *
acl_user_new(acl_state_t *a, const char *name, size_t n) {
    acl_user_t *u = kcalloc(1, sizeof *u);
    u->name = kstrndup(name, n);
    u->name_len = n;
    u->cmds = kcalloc(a->nwords, sizeof *u->cmds);
    return u;
}

static void
free_rules(acl_user_t *u) {
    for (uint32_t i = 0; i < u->nrules; i++)
        kfree(u->rules[i]);
    kfree(u->rules);
    u->rules = NULL;
    u->nrules = 0;
}

static void
free_pats(acl_pat_t **pats, uint32_t *n) {
    for (uint32_t i = 0; i < *n; i++)
        kfree((*pats)[i].p);
    kfree(*pats);
    *pats = NULL;
    *n = 0;
}

static void
free_fargs(acl_user_t *u) {
    for (uint32_t i = 0; i < u->nfargs; i++)
        kfree(u->fargs[i].arg);
    kfree(u->fargs);
    u->fargs = NULL;
    u->nfargs = 0;
}

/* Everything but the name and the bitmap's allocation. */
static void
clear_rules(acl_user_t *u) {
    kfree(u->pass);
    u->pass = NULL;
    u->npass = 0;
    free_rules(u);
    free_pats(&u->keys, &u->nkeys);
    free_pats(&u->chans, &u->nchans);
    free_fargs(u);
}

void
acl_user_free(acl_user_t *u) {
    if (!u)
        return;
    clear_rules(u);
    kfree(u->cmds);
    kfree(u->name);
    kfree(u);
}

static acl_pat_t *
copy_pats(const acl_pat_t *src, uint32_t n) {
    if (!n)
        return NULL;
    acl_pat_t *d = kmalloc(sizeof *d * n);
    for (uint32_t i = 0; i < n; i++)
        d[i] = (acl_pat_t){kstrndup(src[i].p, src[i].n), src[i].n, src[i].perm};
    return d;
}

/* A copy of src's rules into dst (names stay), for all-or-nothing changes. */
static void
acl_user_copy_rules(acl_state_t *a, acl_user_t *dst, const acl_user_t *src) {
    clear_rules(dst);
    dst->flags = src->flags;
    if (src->npass) {
        dst->pass = kmalloc(sizeof *dst->pass * src->npass);
        memcpy(dst->pass, src->pass, sizeof *dst->pass * src->npass);
        dst->npass = src->npass;
    }
    memcpy(dst->cmds, src->cmds, sizeof *dst->cmds * a->nwords);
    if (src->nrules) {
        dst->rules = kmalloc(sizeof *dst->rules * src->nrules);
        for (uint32_t i = 0; i < src->nrules; i++)
            dst->rules[i] = kstrndup(src->rules[i], strlen(src->rules[i]));
        dst->nrules = src->nrules;
    }
    dst->keys = copy_pats(src->keys, src->nkeys);
    dst->nkeys = src->nkeys;
    dst->chans = copy_pats(src->chans, src->nchans);
    dst->nchans = src->nchans;
    if (src->nfargs) {
        dst->fargs = kmalloc(sizeof *dst->fargs * src->nfargs);
        for (uint32_t i = 0; i < src->nfargs; i++)
            dst->fargs[i] =
                (acl_firstarg_t){src->fargs[i].id, kstrndup(src->fargs[i].arg, src->fargs[i].n),
                                 src->fargs[i].n};
        dst->nfargs = src->nfargs;
    }
}

/* Order of the users table: bytes, then length (a prefix first), as Valkey's radix tree. */
static int
name_cmp(const char *a, size_t an, const char *b, size_t bn) {
    int r = memcmp(a, b, an < bn ? an : bn);
    return r ? r : (an > bn) - (an < bn);
}

static uint32_t
table_pos(acl_user_t **users, uint32_t n, const char *name, size_t len, bool *found) {
    uint32_t lo = 0, hi = n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int r = name_cmp(users[mid]->name, users[mid]->name_len, name, len);
        if (r == 0) {
            *found = true;
            return mid;
        }
        if (r < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

acl_user_t *
acl_table_find(acl_user_t **users, uint32_t n, const char *name, size_t len) {
    bool found;
    uint32_t i = table_pos(users, n, name, len, &found);
    return found ? users[i] : NULL;
}

void
acl_table_insert(acl_user_t ***users, uint32_t *n, acl_user_t *u) {
    bool found;
    uint32_t i = table_pos(*users, *n, u->name, u->name_len, &found);
    ASSERT(!found);
    *users = krealloc(*users, sizeof **users * (*n + 1));
    memmove(*users + i + 1, *users + i, sizeof **users * (*n - i));
    (*users)[i] = u;
    (*n)++;
}

acl_user_t *
acl_user_find(engine_t *e, const char *name, size_t n) {
    return acl_table_find(e->acl->users, e->acl->nusers, name, n);
}

acl_user_t *
acl_default_user(engine_t *e) {
    return e->acl->dflt;
}

uint32_t
acl_user_count(engine_t *e) {
    return e->acl->nusers;
}

acl_user_t *
acl_user_at(engine_t *e, uint32_t i) {
    return i < e->acl->nusers ? e->acl->users[i] : NULL;
}

const char *
acl_user_name(const acl_user_t *u) {
    return u ? u->name : "default";
}

bool
acl_user_nopass(const acl_user_t *u) {
    return (u->flags & ACL_U_NOPASS) != 0;
}

int
acl_user_flags(const acl_user_t *u, const char *names[4]) {
    int n = 0;
    names[n++] = (u->flags & ACL_U_ON) ? "on" : "off";
    if (u->flags & ACL_U_NOPASS)
        names[n++] = "nopass";
    names[n++] = (u->flags & ACL_U_SKIP_SANITIZE) ? "skip-sanitize-payload" : "sanitize-payload";
    return n;
}

uint32_t
acl_user_npasswords(const acl_user_t *u) {
    return u->npass;
}

/* ---- command permissions ---- */

static bool
cmd_bit(const acl_user_t *u, uint32_t id) {
    return (u->cmds[id / 64] >> (id % 64)) & 1;
}

static void
set_cmd_bit(acl_user_t *u, uint32_t id, bool on) {
    if (on)
        u->cmds[id / 64] |= 1ull << (id % 64);
    else
        u->cmds[id / 64] &= ~(1ull << (id % 64));
}

static void
drop_fargs_of(acl_user_t *u, uint32_t id) {
    for (uint32_t i = 0; i < u->nfargs;) {
        if (u->fargs[i].id == id) {
            kfree(u->fargs[i].arg);
            u->fargs[i] = u->fargs[--u->nfargs];
        } else {
            i++;
        }
    }
}

/* Allow or deny a command; a container's subcommands follow it. */
static void
change_perm(acl_user_t *u, const cmd_def_t *cmd, bool allow) {
    set_cmd_bit(u, cmd->id, allow);
    drop_fargs_of(u, cmd->id);
    for (const cmd_def_t *s = cmd->subcmds; s && s->name; s++)
        set_cmd_bit(u, s->id, allow);
}

static void
change_category(acl_state_t *a, acl_user_t *u, int cat, bool allow) {
    for (uint32_t id = 0; id < a->ncmds; id++)
        if (a->by_id[id] && (a->cats[id] & (1u << cat)))
            change_perm(u, a->by_id[id], allow);
}

static void
set_all_commands(acl_state_t *a, acl_user_t *u, bool allow) {
    memset(u->cmds, allow ? 0xff : 0, sizeof *u->cmds * a->nwords);
    free_rules(u);
    free_fargs(u);
    if (allow)
        u->flags |= ACL_U_FUTURE;
    else
        u->flags &= ~ACL_U_FUTURE;
}

/* ALLCOMMANDS is derived: set when every command's bit is, so the check can skip the bitmap. */
static void
update_all_commands(acl_state_t *a, acl_user_t *u) {
    u->flags |= ACL_U_ALLCOMMANDS;
    for (uint32_t id = 0; id < a->ncmds; id++)
        if (!cmd_bit(u, id)) {
            u->flags &= ~ACL_U_ALLCOMMANDS;
            return;
        }
}

/* Record "+body" / "-body" (body lower-cased) after dropping the rules it overrides: the same
 * body, or a subcommand or first argument of it ("config|get" under "config"). */
static void
record_rule(acl_user_t *u, const char *body, size_t n, bool allow) {
    for (uint32_t i = 0; i < u->nrules;) {
        const char *eb = u->rules[i] + 1;
        size_t en = strlen(eb);
        if (en >= n && !strncasecmp(eb, body, n) && (en == n || eb[n] == '|')) {
            kfree(u->rules[i]);
            memmove(u->rules + i, u->rules + i + 1, sizeof *u->rules * (u->nrules - i - 1));
            u->nrules--;
        } else {
            i++;
        }
    }
    char *r = kmalloc(n + 2);
    r[0] = allow ? '+' : '-';
    for (size_t i = 0; i < n; i++)
        r[i + 1] = (char)(body[i] >= 'A' && body[i] <= 'Z' ? body[i] + 32 : body[i]);
    r[n + 1] = 0;
    u->rules = krealloc(u->rules, sizeof *u->rules * (u->nrules + 1));
    u->rules[u->nrules++] = r;
}

/* "get" or "config|get" (one level), case-insensitive; NULL if there is no such command. */
static const cmd_def_t *
lookup_name(acl_state_t *a, const char *name, size_t n) {
    const char *bar = memchr(name, '|', n);
    if (!bar)
        return cmd_lookup(a->e, name, n);
    cmd_def_t *parent = cmd_lookup(a->e, name, (size_t)(bar - name));
    if (!parent || !parent->subcmds)
        return NULL;
    const char *sub = bar + 1;
    size_t sn = n - (size_t)(sub - name);
    if (memchr(sub, '|', sn))
        return NULL;
    return cmd_lookup_sub(parent, sub, sn);
}

/* `+cmd|arg`: a real subcommand, or (for a command without subcommands) a first argument. */
static int
allow_with_bar(acl_state_t *a, acl_user_t *u, const char *body, size_t n, const char **why) {
    const char *bar = body + n - 1;
    while (*bar != '|')
        bar--;
    const char *sub = bar + 1;
    size_t sn = n - (size_t)(sub - body);
    const cmd_def_t *cmd = lookup_name(a, body, (size_t)(bar - body));
    if (!cmd) {
        *why = WHY_UNKNOWN;
        return -1;
    }
    if (cmd->parent) {
        *why = WHY_CHILD;
        return -1;
    }
    if (sn == 0) {
        *why = WHY_SYNTAX;
        return -1;
    }
    if (cmd->subcmds) {
        const cmd_def_t *s = cmd_lookup_sub((cmd_def_t *)cmd, sub, sn);
        if (!s) {
            *why = WHY_UNKNOWN;
            return -1;
        }
        change_perm(u, s, true);
    } else {
        bool dup = false;
        for (uint32_t i = 0; i < u->nfargs && !dup; i++)
            dup = u->fargs[i].id == cmd->id && u->fargs[i].n == sn &&
                  !strncasecmp(u->fargs[i].arg, sub, sn);
        if (!dup) {
            if (u->nfargs >= ACL_FIRSTARGS_MAX) {
                *why = "Too many first-argument rules (at most 256)";
                return -1;
            }
            u->fargs = krealloc(u->fargs, sizeof *u->fargs * (u->nfargs + 1));
            u->fargs[u->nfargs++] = (acl_firstarg_t){cmd->id, kstrndup(sub, sn), sn};
        }
    }
    record_rule(u, body, n, true);
    return 0;
}

static bool has_space(const char *p, size_t n);

static int
command_rule(acl_state_t *a, acl_user_t *u, const char *op, size_t n, const char **why) {
    bool allow = op[0] == '+';
    const char *body = op + 1;
    size_t bn = n - 1;
    if (has_space(body, bn)) { /* it could not be written back as one word of ACL LIST */
        *why = WHY_SYNTAX;
        return -1;
    }
    if (bn >= 1 && body[0] == '@') {
        int cat = acl_category_find(body + 1, bn - 1);
        if (cat < 0) {
            *why = WHY_UNKNOWN;
            return -1;
        }
        change_category(a, u, cat, allow);
        record_rule(u, body, bn, allow);
        return 0;
    }
    if (allow && memchr(body, '|', bn))
        return allow_with_bar(a, u, body, bn, why);
    const cmd_def_t *cmd = lookup_name(a, body, bn);
    if (!cmd) {
        *why = WHY_UNKNOWN;
        return -1;
    }
    change_perm(u, cmd, allow);
    record_rule(u, cmd->fullname, strlen(cmd->fullname), allow);
    return 0;
}

/* ---- key and channel patterns ---- */

static bool
has_space(const char *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (p[i] == 0 || p[i] == ' ' || (p[i] >= '\t' && p[i] <= '\r'))
            return true;
    return false;
}

static int
add_pattern(acl_pat_t **pats, uint32_t *n, const char *p, size_t len, int perm, const char **why) {
    if (len > ACL_PATTERN_MAX) {
        *why = "Pattern too long (at most 1024 bytes)";
        return -1;
    }
    if (has_space(p, len)) {
        *why = WHY_SYNTAX;
        return -1;
    }
    for (uint32_t i = 0; i < *n; i++)
        if ((*pats)[i].n == len && !memcmp((*pats)[i].p, p, len)) {
            (*pats)[i].perm |= perm; /* the same pattern again: widen it */
            return 0;
        }
    if (*n >= ACL_PATTERNS_MAX) {
        *why = "Too many patterns (at most 1024)";
        return -1;
    }
    *pats = krealloc(*pats, sizeof **pats * (*n + 1));
    (*pats)[(*n)++] = (acl_pat_t){kstrndup(p, len), len, perm};
    return 0;
}

/* `~pat`, `%R~pat`, `%W~pat`, `%RW~pat`. */
static int
key_rule(acl_user_t *u, const char *op, size_t n, const char **why) {
    if (u->flags & ACL_U_ALLKEYS) {
        *why = WHY_KEYS_AFTER_ALL;
        return -1;
    }
    int perm = ACL_PERM_RW;
    size_t off = 1;
    if (op[0] == '%') {
        perm = 0;
        for (; off < n && op[off] != '~'; off++) {
            int f = (op[off] == 'R' || op[off] == 'r')   ? ACL_PERM_R
                    : (op[off] == 'W' || op[off] == 'w') ? ACL_PERM_W
                                                         : 0;
            if (!f || (perm & f)) {
                *why = WHY_SYNTAX;
                return -1;
            }
            perm |= f;
        }
        if (off >= n || !perm) {
            *why = WHY_SYNTAX;
            return -1;
        }
        off++;
    }
    return add_pattern(&u->keys, &u->nkeys, op + off, n - off, perm, why);
}

static int
password_rule(acl_user_t *u, const char *op, size_t n, const char **why) {
    uint8_t h[ACL_HASH_LEN];
    if (op[0] == '>' || op[0] == '<') {
        if (n - 1 > ACL_PASSWORD_MAX) {
            *why = "Password too long (at most 4096 bytes)";
            return -1;
        }
        hash_password(op + 1, n - 1, h);
    } else if (!parse_hash(op + 1, n - 1, h)) {
        *why = WHY_BAD_HASH;
        return -1;
    }
    int at = find_pass(u, h);
    if (op[0] == '>' || op[0] == '#') {
        if (at < 0) {
            if (u->npass >= ACL_PASSWORDS_MAX) {
                *why = "Too many passwords (at most 64)";
                return -1;
            }
            u->pass = krealloc(u->pass, sizeof *u->pass * (u->npass + 1));
            memcpy(u->pass[u->npass++], h, ACL_HASH_LEN);
        }
        u->flags &= ~ACL_U_NOPASS;
        return 0;
    }
    if (at < 0) {
        *why = WHY_NO_SUCH_PASS;
        return -1;
    }
    memmove(u->pass + at, u->pass + at + 1, sizeof *u->pass * (u->npass - (uint32_t)at - 1));
    u->npass--;
    return 0;
}

/* Rules that are one word (case-insensitive). 1 applied, 0 not such a word. */
static int
word_rule(acl_state_t *a, acl_user_t *u, const char *op, size_t n) {
    if (util_eq_nocase(op, n, "on")) {
        u->flags |= ACL_U_ON;
    } else if (util_eq_nocase(op, n, "off")) {
        u->flags &= ~ACL_U_ON;
    } else if (util_eq_nocase(op, n, "skip-sanitize-payload")) {
        u->flags |= ACL_U_SKIP_SANITIZE;
    } else if (util_eq_nocase(op, n, "sanitize-payload")) {
        u->flags &= ~ACL_U_SKIP_SANITIZE;
    } else if (util_eq_nocase(op, n, "nopass") || util_eq_nocase(op, n, "resetpass")) {
        kfree(u->pass);
        u->pass = NULL;
        u->npass = 0;
        if (op[0] == 'n' || op[0] == 'N')
            u->flags |= ACL_U_NOPASS;
        else
            u->flags &= ~ACL_U_NOPASS;
    } else if (util_eq_nocase(op, n, "allkeys") || (n == 2 && !memcmp(op, "~*", 2))) {
        free_pats(&u->keys, &u->nkeys);
        u->flags |= ACL_U_ALLKEYS;
    } else if (util_eq_nocase(op, n, "resetkeys")) {
        free_pats(&u->keys, &u->nkeys);
        u->flags &= ~ACL_U_ALLKEYS;
    } else if (util_eq_nocase(op, n, "allchannels") || (n == 2 && !memcmp(op, "&*", 2))) {
        free_pats(&u->chans, &u->nchans);
        u->flags |= ACL_U_ALLCHANNELS;
    } else if (util_eq_nocase(op, n, "resetchannels")) {
        free_pats(&u->chans, &u->nchans);
        u->flags &= ~ACL_U_ALLCHANNELS;
    } else if (util_eq_nocase(op, n, "allcommands") || util_eq_nocase(op, n, "+@all")) {
        set_all_commands(a, u, true);
    } else if (util_eq_nocase(op, n, "nocommands") || util_eq_nocase(op, n, "-@all")) {
        set_all_commands(a, u, false);
    } else if (util_eq_nocase(op, n, "clearselectors")) {
        /* No selectors exist: nothing to clear. */
    } else if (util_eq_nocase(op, n, "reset")) {
        /* Back to a new user: resetpass resetkeys resetchannels off sanitize-payload -@all. */
        kfree(u->pass);
        u->pass = NULL;
        u->npass = 0;
        free_pats(&u->keys, &u->nkeys);
        free_pats(&u->chans, &u->nchans);
        u->flags &=
            ~(ACL_U_NOPASS | ACL_U_ALLKEYS | ACL_U_ALLCHANNELS | ACL_U_ON | ACL_U_SKIP_SANITIZE);
        set_all_commands(a, u, false);
    } else {
        return 0;
    }
    return 1;
}

int
acl_user_apply(acl_state_t *a, acl_user_t *u, const char *op, size_t n, const char **why) {
    int rc = 0;
    if (n == 0)
        return 0; /* an empty rule does nothing, as in Valkey */
    if (word_rule(a, u, op, n)) {
        rc = 0;
    } else if (op[0] == '>' || op[0] == '<' || op[0] == '#' || op[0] == '!') {
        rc = password_rule(u, op, n, why);
    } else if (op[0] == '~' || op[0] == '%') {
        rc = key_rule(u, op, n, why);
    } else if (op[0] == '&') {
        if (u->flags & ACL_U_ALLCHANNELS) {
            *why = WHY_CHANS_AFTER_ALL;
            rc = -1;
        } else {
            rc = add_pattern(&u->chans, &u->nchans, op + 1, n - 1, 0, why);
        }
    } else if ((op[0] == '+' || op[0] == '-') && n > 1) {
        rc = command_rule(a, u, op, n, why);
    } else if (op[0] == '(') {
        *why = "Selectors are not supported by Keel";
        rc = -1;
    } else {
        *why = WHY_SYNTAX;
        rc = -1;
    }
    update_all_commands(a, u);
    return rc;
}

acl_user_t *
acl_default_new(acl_state_t *a) {
    acl_user_t *u = acl_user_new(a, "default", 7);
    const char *rules[] = {"+@all", "~*", "&*", "on", "nopass"};
    const char *why;
    for (size_t i = 0; i < sizeof rules / sizeof *rules; i++)
        ASSERT(acl_user_apply(a, u, rules[i], strlen(rules[i]), &why) == 0);
    return u;
}

/* ---- describing a user ---- */

static void
word(sbuf_t *out, const char *w, size_t n) {
    if (out->len)
        sbuf_append(out, " ", 1);
    sbuf_append(out, w, n);
}

static void
describe_keys(const acl_user_t *u, sbuf_t *out) {
    if (u->flags & ACL_U_ALLKEYS) {
        word(out, "~*", 2);
        return;
    }
    for (uint32_t i = 0; i < u->nkeys; i++) {
        const acl_pat_t *k = &u->keys[i];
        word(out,
             k->perm == ACL_PERM_RW  ? "~"
             : k->perm == ACL_PERM_R ? "%R~"
                                     : "%W~",
             k->perm == ACL_PERM_RW ? 1 : 3);
        sbuf_append(out, k->p, k->n);
    }
}

static void
describe_channels(const acl_user_t *u, sbuf_t *out, bool reset_word) {
    if (u->flags & ACL_U_ALLCHANNELS) {
        word(out, "&*", 2);
        return;
    }
    if (reset_word)
        word(out, "resetchannels", 13);
    for (uint32_t i = 0; i < u->nchans; i++) {
        word(out, "&", 1);
        sbuf_append(out, u->chans[i].p, u->chans[i].n);
    }
}

static void
describe_commands(const acl_user_t *u, sbuf_t *out) {
    word(out, (u->flags & ACL_U_FUTURE) ? "+@all" : "-@all", 5);
    for (uint32_t i = 0; i < u->nrules; i++)
        word(out, u->rules[i], strlen(u->rules[i]));
}

void
acl_describe(engine_t *e, const acl_user_t *u, int part, sbuf_t *out) {
    (void)e;
    switch (part) {
    case ACL_DESCR_COMMANDS: describe_commands(u, out); return;
    case ACL_DESCR_KEYS: describe_keys(u, out); return;
    case ACL_DESCR_CHANNELS: describe_channels(u, out, false); return;
    default: break;
    }
    const char *flags[4];
    int nf = acl_user_flags(u, flags);
    for (int i = 0; i < nf; i++)
        word(out, flags[i], strlen(flags[i]));
    for (uint32_t i = 0; i < u->npass; i++) {
        char hex[2 * ACL_HASH_LEN + 1];
        acl_user_password_hex(u, i, hex);
        word(out, "#", 1);
        sbuf_append(out, hex, 2 * ACL_HASH_LEN);
    }
    describe_keys(u, out);
    describe_channels(u, out, true);
    describe_commands(u, out);
}

/* ---- clients ---- */

static bool
restricted(const acl_user_t *u) {
    return u && (u->flags & ACL_U_UNRESTRICTED) != ACL_U_UNRESTRICTED;
}

/* The user a connection runs as; authenticated sets or clears CLIENT_AUTHENTICATED. */
static void
acl_client_set_user(client_t *c, acl_user_t *u, bool authenticated) {
    c->user = u;
    c->flags &= ~(CLIENT_AUTHENTICATED | CLIENT_ACL_LIMITED);
    if (authenticated)
        client_set_authenticated(c); /* and the net layer's unauthenticated limits end */
    if (restricted(u))
        c->flags |= CLIENT_ACL_LIMITED;
}

void
acl_client_reset(client_t *c) {
    acl_user_t *d = c->eng->acl->dflt;
    acl_client_set_user(c, d, (d->flags & (ACL_U_ON | ACL_U_NOPASS)) == (ACL_U_ON | ACL_U_NOPASS));
}

/* Invariant 2: the clients of u follow its new rules. */
static void
refresh_clients(acl_state_t *a, const acl_user_t *u) {
    for (client_t *c = a->e->clients; c; c = c->next)
        if (c->user == u) {
            if (restricted(u))
                c->flags |= CLIENT_ACL_LIMITED;
            else
                c->flags &= ~CLIENT_ACL_LIMITED;
        }
}

/* Close a client that may no longer run as its user: it runs as the default user,
 * unauthenticated, until it goes (the one running this command gets its reply first). */
static void
close_client(acl_state_t *a, client_t *c) {
    acl_client_set_user(c, a->dflt, false);
    if (c == a->e->current)
        c->flags |= CLIENT_CLOSE_AFTER_COMMAND;
    else
        client_close_async(c);
}

/* Invariant 3. */
static void
kill_clients(acl_state_t *a, const acl_user_t *u) {
    for (client_t *c = a->e->clients; c; c = c->next)
        if (c->user == u)
            close_client(a, c);
}

void
acl_replace_users(acl_state_t *a, acl_user_t **users, uint32_t n) {
    acl_user_t *nd = acl_table_find(users, n, "default", 7);
    ASSERT(nd != NULL);
    for (uint32_t i = 0; i < a->nusers; i++) {
        if (a->users[i] == a->dflt)
            continue;
        kill_clients(a, a->users[i]);
        acl_user_free(a->users[i]);
    }
    kfree(a->users);
    /* The default user keeps its address (clients point at it); its rules are the new ones. */
    acl_user_copy_rules(a, a->dflt, nd);
    for (uint32_t i = 0; i < n; i++)
        if (users[i] == nd)
            users[i] = a->dflt;
    acl_user_free(nd);
    a->users = users;
    a->nusers = n;
    refresh_clients(a, a->dflt);
}

typedef struct chan_check {
    const acl_user_t *u;
    bool pattern;
} chan_check_t;

static bool channel_allowed(const acl_user_t *u, const char *ch, size_t n, bool pattern);

static bool
chan_denied_cb(void *ctx, const char *name, size_t n) {
    chan_check_t *k = ctx;
    return !channel_allowed(k->u, name, n, k->pattern);
}

/* SETUSER of an existing user: its subscribers whose subscriptions the new rules no longer
 * allow are closed, as Valkey does (ACLKillPubsubClientsIfNeeded). */
static void
kill_revoked_subscribers(acl_state_t *a, const acl_user_t *old, const acl_user_t *new_rules) {
    if (new_rules->flags & ACL_U_ALLCHANNELS)
        return;
    if (!(old->flags & ACL_U_ALLCHANNELS)) {
        bool superset = true;
        for (uint32_t i = 0; i < old->nchans && superset; i++) {
            bool hit = false;
            for (uint32_t j = 0; j < new_rules->nchans && !hit; j++)
                hit = old->chans[i].n == new_rules->chans[j].n &&
                      !memcmp(old->chans[i].p, new_rules->chans[j].p, old->chans[i].n);
            superset = hit;
        }
        if (superset)
            return;
    }
    for (client_t *c = a->e->clients; c; c = c->next) {
        if (c->user != old || !c->pubsub)
            continue;
        chan_check_t plain = {new_rules, false}, pat = {new_rules, true};
        if (pubsub_client_any(c, PUBSUB_PATTERN, chan_denied_cb, &pat) ||
            pubsub_client_any(c, PUBSUB_CHANNEL, chan_denied_cb, &plain) ||
            pubsub_client_any(c, PUBSUB_SHARD, chan_denied_cb, &plain))
            close_client(a, c);
    }
}

int
acl_setuser(engine_t *e, const karg_t *name, int nrules, const karg_t *rules, char *err,
            size_t errlen) {
    acl_state_t *a = e->acl;
    const char *why = NULL;
    if (!acl_name_ok(name->p, name->n, &why)) {
        snprintf(err, errlen, "%s", why);
        return -1;
    }
    if (nrules > ACL_RULES_MAX) {
        snprintf(err, errlen, "Too many ACL rules in one call (at most %d)", ACL_RULES_MAX);
        return -1;
    }
    acl_user_t *u = acl_table_find(a->users, a->nusers, name->p, name->n);
    if (!u && a->nusers >= ACL_USERS_MAX) {
        snprintf(err, errlen, "Too many users (at most %d)", ACL_USERS_MAX);
        return -1;
    }
    /* All or nothing: the rules go to a scratch copy first. */
    acl_user_t *t = acl_user_new(a, name->p, name->n);
    if (u)
        acl_user_copy_rules(a, t, u);
    for (int i = 0; i < nrules; i++) {
        if (acl_user_apply(a, t, rules[i].p, rules[i].n, &why) < 0) {
            snprintf(err, errlen, "Error in ACL SETUSER modifier '%.*s': %s",
                     (int)(rules[i].n > 128 ? 128 : rules[i].n), rules[i].p, why);
            acl_user_free(t);
            return -1;
        }
    }
    if (!u) {
        acl_table_insert(&a->users, &a->nusers, t);
        return 0;
    }
    kill_revoked_subscribers(a, u, t);
    acl_user_copy_rules(a, u, t);
    acl_user_free(t);
    refresh_clients(a, u);
    return 0;
}

int
acl_deluser(engine_t *e, const char *name, size_t n) {
    acl_state_t *a = e->acl;
    bool found;
    uint32_t i = table_pos(a->users, a->nusers, name, n, &found);
    if (!found || a->users[i] == a->dflt)
        return 0;
    acl_user_t *u = a->users[i];
    memmove(a->users + i, a->users + i + 1, sizeof *a->users * (a->nusers - i - 1));
    a->nusers--;
    kill_clients(a, u);
    acl_user_free(u);
    return 1;
}

bool
acl_auth(client_t *c, const karg_t *user, const karg_t *pass) {
    engine_t *e = c->eng;
    static const karg_t dflt = {"default", 7};
    const karg_t *name = user ? user : &dflt;
    acl_user_t *u = acl_user_find(e, name->p, name->n);
    if (u && acl_password_matches(u, pass->p, pass->n)) {
        acl_client_set_user(c, u, true);
        return true;
    }
    acl_log_add(e, c, ACL_DENIED_AUTH, (c->flags & CLIENT_MULTI) ? ACL_CTX_MULTI : ACL_CTX_TOPLEVEL,
                name, &c->argv[0]);
    return false;
}

void
acl_set_default_password(engine_t *e, const char *pass) {
    acl_state_t *a = e->acl;
    const char *why;
    acl_user_apply(a, a->dflt, "resetpass", 9, &why);
    if (!pass || !pass[0]) {
        acl_user_apply(a, a->dflt, "nopass", 6, &why);
        return;
    }
    size_t n = strlen(pass);
    char *op = kmalloc(n + 2);
    op[0] = '>';
    memcpy(op + 1, pass, n + 1);
    if (acl_user_apply(a, a->dflt, op, n + 1, &why) < 0)
        klog(KLOG_WARNING, "requirepass not applied to the default user: %s", why);
    kfree(op);
}

/* ---- permission checks ---- */

static bool
firstarg_ok(const acl_user_t *u, const cmd_def_t *cmd, int argc, const karg_t *argv) {
    if (argc < 2)
        return false;
    for (uint32_t i = 0; i < u->nfargs; i++)
        if (u->fargs[i].id == cmd->id && u->fargs[i].n == argv[1].n &&
            !strncasecmp(u->fargs[i].arg, argv[1].p, argv[1].n))
            return true;
    return false;
}

static bool
key_allowed(const acl_user_t *u, const karg_t *key, int perm) {
    for (uint32_t i = 0; i < u->nkeys; i++) {
        const acl_pat_t *p = &u->keys[i];
        if ((p->perm & perm) == perm && util_glob_match(p->p, p->n, key->p, key->n, false))
            return true;
    }
    return false;
}

/* A channel name matches a pattern; a PSUBSCRIBE pattern must equal one. */
static bool
channel_allowed(const acl_user_t *u, const char *ch, size_t n, bool pattern) {
    if (u->flags & ACL_U_ALLCHANNELS)
        return true;
    for (uint32_t i = 0; i < u->nchans; i++) {
        const acl_pat_t *p = &u->chans[i];
        if (pattern ? (p->n == n && !memcmp(p->p, ch, n))
                    : util_glob_match(p->p, p->n, ch, n, false))
            return true;
    }
    return false;
}

static int
check_keys(const acl_user_t *u, const cmd_def_t *cmd, int argc, const karg_t *argv, int *errpos) {
    int stack[32];
    int *idx = argc <= 32 ? stack : kmalloc(sizeof *idx * (size_t)argc);
    int nk = cmd_get_keys((cmd_def_t *)cmd, argc, (karg_t *)argv, idx, argc);
    int perm = (cmd->flags & CMD_WRITE) ? ACL_PERM_W : (cmd->flags & CMD_READONLY) ? ACL_PERM_R : 0;
    int rc = ACL_OK;
    for (int i = 0; i < nk; i++)
        if (!key_allowed(u, &argv[idx[i]],
                         perm == ACL_PERM_W && cmd->key_read_only &&
                                 cmd->key_read_only(argc, argv, idx[i])
                             ? ACL_PERM_R
                             : perm)) {
            *errpos = idx[i];
            rc = ACL_DENIED_KEY;
            break;
        }
    if (idx != stack)
        kfree(idx);
    return rc;
}

bool
acl_user_reads_all_keys(const acl_user_t *u) {
    if (!u || (u->flags & ACL_U_ALLKEYS))
        return true;
    for (uint32_t i = 0; i < u->nkeys; i++)
        if (u->keys[i].n == 1 && u->keys[i].p[0] == '*' && (u->keys[i].perm & ACL_PERM_R))
            return true;
    return false;
}

int
acl_check(const engine_t *e, const acl_user_t *u, const cmd_def_t *cmd, int argc,
          const karg_t *argv, int *errpos) {
    if (!u)
        return ACL_OK;
    const acl_state_t *a = e->acl;
    *errpos = 0;
    if (!(u->flags & ACL_U_ALLCOMMANDS) && !(cmd->flags & CMD_NO_AUTH) && !cmd_bit(u, cmd->id) &&
        !firstarg_ok(u, cmd, argc, argv))
        return ACL_DENIED_CMD;
    if (!(u->flags & ACL_U_ALLKEYS) && !a->no_keys[cmd->id]) {
        int rc = check_keys(u, cmd, argc, argv, errpos);
        if (rc != ACL_OK)
            return rc;
    }
    int kind = a->chan_kind[cmd->id];
    if (kind != ACL_CH_NONE && !(u->flags & ACL_U_ALLCHANNELS)) {
        int last = kind == ACL_CH_FIRST ? (argc > 1 ? 1 : 0) : argc - 1;
        for (int i = 1; i <= last; i++)
            if (!channel_allowed(u, argv[i].p, argv[i].n, kind == ACL_CH_ALL_PATTERNS)) {
                *errpos = i;
                return ACL_DENIED_CHANNEL;
            }
    }
    return ACL_OK;
}

void
acl_denied_message(int reason, const acl_user_t *u, const cmd_def_t *cmd, const karg_t *arg,
                   char *buf, size_t len) {
    if (reason == ACL_DENIED_CMD)
        snprintf(buf, len, "User %s has no permissions to run the '%s' command", acl_user_name(u),
                 cmd->fullname);
    else
        snprintf(buf, len, "User %s has no permissions to access the '%.*s' %s", acl_user_name(u),
                 (int)(arg->n > 128 ? 128 : arg->n), arg->p,
                 reason == ACL_DENIED_KEY ? "key" : "channel");
}

/* Log the refusal; the object is the command's full name or the argument to blame. */
static void
log_refusal(client_t *c, const cmd_def_t *cmd, int reason, int context, int pos) {
    karg_t obj = {cmd->fullname, strlen(cmd->fullname)};
    if (reason != ACL_DENIED_CMD)
        obj = c->argv[pos];
    acl_log_add(c->eng, c, reason, context, NULL, &obj);
}

bool
acl_refuse(client_t *c, cmd_def_t *cmd) {
    int pos = 0;
    int r = acl_check(c->eng, c->user, cmd, c->argc, c->argv, &pos);
    if (r == ACL_OK)
        return false;
    log_refusal(c, cmd, r, (c->flags & CLIENT_MULTI) ? ACL_CTX_MULTI : ACL_CTX_TOPLEVEL, pos);
    if (r == ACL_DENIED_CMD)
        reply_errf(c, "NOPERM User %s has no permissions to run the '%s' command",
                   acl_user_name(c->user), cmd->fullname);
    else if (r == ACL_DENIED_KEY)
        reply_err(c, "NOPERM No permissions to access a key");
    else
        reply_err(c, "NOPERM No permissions to access a channel");
    return true;
}

bool
acl_refuse_queued(client_t *c, cmd_def_t *cmd) {
    int pos = 0;
    int r = acl_check(c->eng, c->user, cmd, c->argc, c->argv, &pos);
    if (r == ACL_OK)
        return false;
    log_refusal(c, cmd, r, ACL_CTX_MULTI, pos);
    reply_errf(c,
               "NOPERM ACLs rules changed between the moment the transaction was accumulated and "
               "the EXEC call. This command is no longer allowed for the following reason: %s",
               r == ACL_DENIED_CMD   ? "no permission to execute the command or subcommand"
               : r == ACL_DENIED_KEY ? "no permission to touch the specified keys"
                                     : "no permission to access one of the channels used as "
                                       "arguments");
    return true;
}

/* ---- the state ---- */

static void
index_one(acl_state_t *a, const cmd_def_t *c) {
    ASSERT(c->id < a->ncmds);
    a->by_id[c->id] = c;
    a->cats[c->id] = parse_cats(c->acl);
    const char *n = c->fullname;
    if (!strcmp(n, "publish") || !strcmp(n, "spublish"))
        a->chan_kind[c->id] = ACL_CH_FIRST;
    else if (!strcmp(n, "subscribe") || !strcmp(n, "ssubscribe"))
        a->chan_kind[c->id] = ACL_CH_ALL;
    else if (!strcmp(n, "psubscribe"))
        a->chan_kind[c->id] = ACL_CH_ALL_PATTERNS;
    /* The shard commands declare their channels as key positions (cluster slots): channels. */
    if (!strcmp(n, "spublish") || !strcmp(n, "ssubscribe") || !strcmp(n, "sunsubscribe"))
        a->no_keys[c->id] = 1;
}

static void
index_cb(cmd_def_t *c, void *ctx) {
    index_one(ctx, c);
    for (cmd_def_t *s = c->subcmds; s && s->name; s++)
        index_one(ctx, s);
}

void
acl_init(engine_t *e) {
    ASSERT(e->acl == NULL);
    acl_state_t *a = kcalloc(1, sizeof *a);
    a->e = e;
    a->ncmds = e->ncmd_stats;
    a->nwords = a->ncmds / 64 + 1;
    a->by_id = kcalloc(a->ncmds + 1, sizeof *a->by_id);
    a->cats = kcalloc(a->ncmds + 1, sizeof *a->cats);
    a->chan_kind = kcalloc(a->ncmds + 1, 1);
    a->no_keys = kcalloc(a->ncmds + 1, 1);
    e->acl = a;
    cmd_foreach(e, index_cb, a);
    a->dflt = acl_default_new(a);
    acl_table_insert(&a->users, &a->nusers, a->dflt);
    if (e->cfg.requirepass && e->cfg.requirepass[0])
        acl_set_default_password(e, e->cfg.requirepass);
}

void
acl_free(engine_t *e) {
    acl_state_t *a = e->acl;
    if (!a)
        return;
    for (uint32_t i = 0; i < a->nusers; i++)
        acl_user_free(a->users[i]);
    kfree(a->users);
    acl_log_reset(e);
    kfree(a->log);
    kfree(a->by_id);
    kfree(a->cats);
    kfree(a->chan_kind);
    kfree(a->no_keys);
    kfree(a);
    e->acl = NULL;
}

/*
 * acl_int.h - the ACL module's own structures, shared by acl.c (users, rules, checks),
 * acl_log.c and acl_file.c. Included only inside server/core and by the engine's unit tests.
 */
#ifndef KEEL_ACL_INT_H
#define KEEL_ACL_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "acl.h"

enum {
    ACL_U_ON = 1 << 0,            /* may authenticate (else `off`) */
    ACL_U_NOPASS = 1 << 1,        /* any password works */
    ACL_U_SKIP_SANITIZE = 1 << 2, /* `skip-sanitize-payload` (accepted and shown, as Valkey) */
    ACL_U_ALLKEYS = 1 << 3,       /* `~*` / allkeys: no key pattern is consulted */
    ACL_U_ALLCHANNELS = 1 << 4,   /* `&*` / allchannels */
    ACL_U_ALLCOMMANDS = 1 << 5,   /* every command bit is set (derived after each change) */
    ACL_U_FUTURE = 1 << 6,        /* built from +@all: ACL LIST starts with +@all, not -@all */
};
#define ACL_U_UNRESTRICTED (ACL_U_ALLKEYS | ACL_U_ALLCHANNELS | ACL_U_ALLCOMMANDS)

enum { ACL_PERM_R = 1 << 0, ACL_PERM_W = 1 << 1, ACL_PERM_RW = ACL_PERM_R | ACL_PERM_W };

typedef struct acl_pat {
    char *p; /* owned, NUL-terminated (patterns hold no NUL: they are refused) */
    size_t n;
    int perm; /* ACL_PERM_* for key patterns; 0 for channels */
} acl_pat_t;

typedef struct acl_firstarg {
    uint32_t id; /* command allowed only with this first argument */
    char *arg;
    size_t n;
} acl_firstarg_t;

struct acl_user {
    char *name; /* owned, NUL-terminated; never holds spaces or NUL */
    size_t name_len;
    uint32_t flags;                /* ACL_U_* */
    uint8_t (*pass)[ACL_HASH_LEN]; /* SHA-256 of each password */
    uint32_t npass;
    uint64_t *cmds; /* allowed commands, bit per cmd_def_t.id */
    char **rules;   /* command rules in order, lower case ("+get", "-@write") */
    uint32_t nrules;
    acl_pat_t *keys;
    uint32_t nkeys;
    acl_pat_t *chans;
    uint32_t nchans;
    acl_firstarg_t *fargs;
    uint32_t nfargs;
};

/* How a command names channels (the pub/sub commands whose channels ACLs check). */
enum { ACL_CH_NONE = 0, ACL_CH_FIRST, ACL_CH_ALL, ACL_CH_ALL_PATTERNS };

typedef struct acl_state {
    engine_t *e;
    acl_user_t **users; /* sorted by name (bytes, then length): ACL LIST's order */
    uint32_t nusers;
    acl_user_t *dflt; /* never freed while the engine lives: clients fall back to it */
    uint32_t ncmds;   /* command ids, subcommands included */
    uint32_t nwords;  /* uint64_t words of a command bitmap */
    const cmd_def_t **by_id;
    uint32_t *cats;     /* category bits of each command id */
    uint8_t *chan_kind; /* ACL_CH_* of each command id */
    uint8_t *no_keys;   /* 1: the key positions are channels (SPUBLISH, SSUBSCRIBE...) */
    /* The ACL LOG, newest first (acl_log.c). */
    acl_log_entry_t *log;
    uint32_t nlog, log_cap;
    int64_t log_next_id;
    uint64_t denied[5]; /* by ACL_DENIED_* */
} acl_state_t;

acl_user_t *acl_user_new(acl_state_t *a, const char *name, size_t n);
void acl_user_free(acl_user_t *u);
/* Apply one rule; 0, or -1 with *why set to Valkey's description of the problem. */
int acl_user_apply(acl_state_t *a, acl_user_t *u, const char *op, size_t n, const char **why);
/* Whether pass opens u (on, and nopass or one of its hashes), compared in constant time. */
bool acl_password_matches(const acl_user_t *u, const char *pass, size_t n);
/* Whether a name may name a user: no spaces, no NUL, not empty, at most ACL_NAME_MAX. */
bool acl_name_ok(const char *name, size_t n, const char **why);
/* The factory default user (`on nopass ~* &* +@all`), not in the users table. */
acl_user_t *acl_default_new(acl_state_t *a);
/* Swap the users table for `users` (sorted, with a default user); the old users are freed and
 * their clients closed, except the default user, whose rules are replaced in place. */
void acl_replace_users(acl_state_t *a, acl_user_t **users, uint32_t n);
/* Insert a new user into a sorted table of users (no duplicate). */
void acl_table_insert(acl_user_t ***users, uint32_t *n, acl_user_t *u);
acl_user_t *acl_table_find(acl_user_t **users, uint32_t n, const char *name, size_t len);

#endif

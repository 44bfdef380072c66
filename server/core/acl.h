/*
 * acl.h - ACL users: who may authenticate, and which commands, keys and channels each may use.
 *
 * Valkey's model without selectors. A user has a name, on/off, passwords kept as SHA-256 hashes
 * (or `nopass`), a bitmap of allowed commands indexed by cmd_def_t.id (subcommands have their own
 * ids), key patterns with read/write permissions, and pub/sub channel patterns. Rules are the
 * words of ACL SETUSER (`on >pw ~app:* +@read -config|set`); the user `default` always exists and
 * is what a new connection runs as.
 *
 * Every client points at its user (client_t.user; NULL for the engine's own fake clients, which
 * may do anything). The dispatch check costs one flag test for a user that may run everything on
 * every key and channel (the default user as shipped): CLIENT_ACL_LIMITED is set on a client only
 * while its user is restricted, and kept in step whenever a user changes (acl.c).
 *
 * Threading: main thread only. The state lives in engine_t.acl, made by acl_init (engine_init).
 */
#ifndef KEEL_ACL_H
#define KEEL_ACL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cmd.h"
#include "engine.h"
#include "sbuf.h"

/* Limits: an ACL rule from a client or a file never makes the server allocate without bound. */
#define ACL_USERS_MAX        10000 /* users, default included */
#define ACL_NAME_MAX         256   /* bytes of a user name */
#define ACL_PATTERN_MAX      1024  /* bytes of one key or channel pattern */
#define ACL_PATTERNS_MAX     1024  /* key patterns of a user; channel patterns likewise */
#define ACL_PASSWORDS_MAX    64    /* passwords of a user */
#define ACL_PASSWORD_MAX     4096  /* bytes of one clear-text password */
#define ACL_FIRSTARGS_MAX    256   /* `+select|0` first-argument rules of a user */
#define ACL_RULES_MAX        1024  /* rules in one ACL SETUSER or one `user` line */
#define ACL_LOG_MAX_LEN_MAX  10000 /* upper bound of acllog-max-len */
#define ACL_GENPASS_BITS_MAX 4096
#define ACL_HASH_LEN         32 /* SHA-256 */

typedef struct acl_user acl_user_t;

/* Why a command was refused, in Valkey's order (ACL LOG "reason"). */
enum { ACL_OK = 0, ACL_DENIED_CMD, ACL_DENIED_KEY, ACL_DENIED_CHANNEL, ACL_DENIED_AUTH };
enum { ACL_CTX_TOPLEVEL = 0, ACL_CTX_MULTI };

/* ---- the state ---- */

/* The default user (`on nopass ~* &* +@all`, with requirepass as its password when set), from
 * the command table already registered in e. */
void acl_init(engine_t *e);
/* At start: the `user` lines of keel.conf, or the aclfile (both at once is an error). 0, or -1
 * with a message for the operator. */
int acl_load_configured(engine_t *e, char *err, size_t errlen);
void acl_free(engine_t *e);
/* requirepass was set: the default user's only password becomes pass ("" = nopass). */
void acl_set_default_password(engine_t *e, const char *pass);

/* ---- users ---- */

acl_user_t *acl_user_find(engine_t *e, const char *name, size_t n);
acl_user_t *acl_default_user(engine_t *e);
uint32_t acl_user_count(engine_t *e);
acl_user_t *acl_user_at(engine_t *e, uint32_t i); /* in name order */
const char *acl_user_name(const acl_user_t *u);
bool acl_user_nopass(const acl_user_t *u);
/* Create or change a user: all rules apply or none (err says which one failed, as Valkey's
 * "Error in ACL SETUSER modifier '...': ..."). Clients of a changed user keep their connection,
 * except subscribers whose channels are no longer allowed, which are closed (as Valkey). */
int acl_setuser(engine_t *e, const karg_t *name, int nrules, const karg_t *rules, char *err,
                size_t errlen);
/* Delete a user and close its clients; 1 if it existed. Never the default user. */
int acl_deluser(engine_t *e, const char *name, size_t n);

/* ACL LIST / GETUSER / SAVE text of a user. part: everything (the rules after the name), or only
 * the commands, keys or channels (GETUSER's fields). */
enum { ACL_DESCR_ALL = 0, ACL_DESCR_COMMANDS, ACL_DESCR_KEYS, ACL_DESCR_CHANNELS };
void acl_describe(engine_t *e, const acl_user_t *u, int part, sbuf_t *out);
/* The user's flags as ACL GETUSER lists them ("on", "nopass", ...); returns how many (<= 4). */
int acl_user_flags(const acl_user_t *u, const char *names[4]);
uint32_t acl_user_npasswords(const acl_user_t *u);
void acl_user_password_hex(const acl_user_t *u, uint32_t i, char hex[2 * ACL_HASH_LEN + 1]);

/* ---- clients ---- */

/* A new connection, or RESET: the default user, authenticated when it is `on` and `nopass`. */
void acl_client_reset(client_t *c);
/* AUTH / HELLO AUTH: user NULL means "default". On success c runs as that user; on failure the
 * attempt goes to the ACL LOG and false is returned (the caller replies WRONGPASS). */
bool acl_auth(client_t *c, const karg_t *user, const karg_t *pass);

/* ---- permission checks ---- */

/* Whether u may run cmd with these arguments; on refusal *errpos is the argument to blame (0 for
 * the command itself, else the key's or channel's index). u NULL may do anything. */
int acl_check(const engine_t *e, const acl_user_t *u, const cmd_def_t *cmd, int argc,
              const karg_t *argv, int *errpos);
/* The dispatch check (exec.c), for a client with CLIENT_ACL_LIMITED: true when cmd with c's
 * arguments was refused (-NOPERM replied, the ACL LOG has the entry). */
bool acl_refuse(client_t *c, cmd_def_t *cmd);
/* The same at EXEC, for a command queued earlier (the rules may have changed since). */
bool acl_refuse_queued(client_t *c, cmd_def_t *cmd);
/* Whether u may read every key (allkeys, or a `*` pattern with read permission): SORT's BY and
 * GET patterns need it, as Valkey's ACLUserCheckCmdWithUnrestrictedKeyAccess. NULL: yes. */
bool acl_user_reads_all_keys(const acl_user_t *u);
/* ACL DRYRUN's words for a refusal ("User x has no permissions to access the 'k' key"). */
void acl_denied_message(int reason, const acl_user_t *u, const cmd_def_t *cmd, const karg_t *arg,
                        char *buf, size_t len);

/* ---- categories ---- */

const char *acl_category_name(int i);              /* NULL past the last */
int acl_category_find(const char *name, size_t n); /* index, or -1 */
bool acl_cmd_in_category(engine_t *e, const cmd_def_t *cmd, int cat);

/* ---- the ACL LOG (acl_log.c) ---- */

typedef struct acl_log_entry {
    uint64_t count; /* how many times it happened (similar events are grouped) */
    int reason;     /* ACL_DENIED_* */
    int context;    /* ACL_CTX_* */
    char *object;   /* the command, key or channel refused, or AUTH's command name */
    size_t object_len;
    char *username; /* the user the client ran as, or the name it tried to AUTH as */
    size_t username_len;
    char *client_info;  /* CLIENT LIST line of the client at the last event */
    int64_t entry_id;   /* unique with timestamp_created across restarts */
    int64_t created_ms; /* wall clock of the first event */
    int64_t updated_ms; /* wall clock of the last event */
} acl_log_entry_t;

/* Record a refusal of c: object is the command's full name, the key or channel refused, or the
 * name of the command that failed to authenticate; username NULL means c's user. */
void acl_log_add(engine_t *e, client_t *c, int reason, int context, const karg_t *username,
                 const karg_t *object);
uint32_t acl_log_len(engine_t *e);
const acl_log_entry_t *acl_log_at(engine_t *e, uint32_t i); /* newest first */
void acl_log_reset(engine_t *e);
/* INFO stats: refusals by reason since start (ACL_DENIED_*). */
uint64_t acl_denied_count(engine_t *e, int reason);

/* ---- the ACL file (acl_file.c) ---- */

/* ACL LOAD: replace every user by the aclfile's, or change nothing and describe every error in
 * errors. Clients of the users replaced are closed (the default user's stay). */
int acl_load_file(engine_t *e, sbuf_t *errors);
/* ACL SAVE: every user, written to a temporary file, synced and renamed over the aclfile. */
int acl_save_file(engine_t *e, char *err, size_t errlen);
/* CONFIG REWRITE: the `user` lines of keel.conf (none with an aclfile, or when the users are
 * only the default user as requirepass makes it). -1 with err when a user's rules would not fit
 * a line keel.conf's reader takes. */
int acl_rewrite_config(engine_t *e, FILE *f, char *err, size_t errlen);

#endif

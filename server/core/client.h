/*
 * client.h - a connection's state: input buffer and parser, output buffer with durability
 * marks, selected db, transaction/pubsub/blocking state.
 *
 * A client embeds its connection (net/conn.h: socket, query and output buffers, parser) as its
 * first member; everything else here is the engine's. Threading: main thread only.
 *
 * Output and durability: every reply is appended to the conn's output. A reply that depends on
 * log records not yet durable gets a mark (absolute offsets, LSN), and the conn's hold is set to
 * the first mark's start, so the net layer sends bytes only up to it (client.c). Marks are in
 * increasing offset and LSN order: a connection's replies leave in order, so its tag never goes
 * below that of its previous reply.
 */
#ifndef KEEL_CLIENT_H
#define KEEL_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conn.h"
#include "db.h"

struct engine;
struct cmd_def;
struct acl_user;

enum {
    CLIENT_MULTI = 1 << 2,
    CLIENT_DIRTY_CAS = 1 << 3,  /* a WATCHed key changed: EXEC will fail */
    CLIENT_DIRTY_EXEC = 1 << 4, /* a command failed to queue: EXEC aborts */
    CLIENT_BLOCKED = 1 << 5,
    CLIENT_PUBSUB = 1 << 6, /* RESP2 subscriber mode: only (P|S)SUBSCRIBE and friends */
    CLIENT_NO_EVICT = 1 << 7,
    CLIENT_NO_TOUCH = 1 << 8,
    CLIENT_AUTHENTICATED = 1 << 9,
    CLIENT_IN_EXEC = 1 << 11,
    CLIENT_FAKE = 1 << 12,        /* no socket: recovery replay, scripts */
    CLIENT_PARKED = 1 << 13,      /* on the server's parked list (has marks) */
    CLIENT_REPLICA = 1 << 14,     /* a replica that sent PSYNC: fed by repl/, no idle timeout */
    CLIENT_ACL_LIMITED = 1 << 15, /* its user may not run everything: exec asks acl.c */
    /* Its user went away during its own ACL command: closed once that command (or the EXEC
     * around it) has replied. Set by acl.c, acted on by the ACL commands and EXEC. */
    CLIENT_CLOSE_AFTER_COMMAND = 1 << 16,
    /* Parked until tiered values its command needs are back (tiering.c): input paused, the
     * command not executed, run again from the start when they are in. */
    CLIENT_TIER_WAIT = 1 << 17,
    /* CLIENT REPLY OFF / SKIP: the replies of its commands are dropped (exec.c); SKIP_NEXT
     * becomes SKIP for the command after CLIENT REPLY SKIP. */
    CLIENT_REPLY_OFF = 1 << 18,
    CLIENT_REPLY_SKIP = 1 << 19,
    CLIENT_REPLY_SKIP_NEXT = 1 << 20,
    /* Its command waits for CLIENT PAUSE to end (pause.c): input paused, the command not run. */
    CLIENT_PAUSE_WAIT = 1 << 21,
    CLIENT_MONITOR = 1 << 22, /* MONITOR: gets a line for every command (monitor.c) */
};

typedef struct reply_mark {
    uint64_t start, end; /* absolute output offsets of the parked replies */
    uint64_t lsn;        /* durable LSN needed before these bytes may leave */
    uint32_t count;      /* replies in [start, end): each becomes an error if the log fails */
} reply_mark_t;

#define CLIENT_MARKS_MAX 4096 /* beyond this the client stops reading until marks drain */

typedef struct multi_cmd {
    struct cmd_def *cmd;
    int argc;
    karg_t *argv; /* deep copy, one allocation with the bytes */
} multi_cmd_t;

typedef struct client {
    conn_t conn; /* first member: a conn_t * from the net layer is the client */
    uint64_t id;
    struct engine *eng;
    uint32_t flags;
    int resp; /* 2 or 3 */
    db_t *db;
    int db_id;
    char *name;               /* CLIENT SETNAME, NULL if none */
    struct acl_user *user;    /* who it runs as (acl.h); NULL for fake clients: anything goes */
    int64_t ctime_ms;         /* connected at */
    const char *last_cmd;     /* full name of the running or last command, for CLIENT LIST */
    char *lib_name, *lib_ver; /* CLIENT SETINFO, NULL if not set */
    uint64_t tot_cmds;        /* commands run (CLIENT LIST tot-cmds) */

    int argc;
    karg_t *argv; /* the command being executed; valid during the call only */

    /* Durability marks of the parked replies (client.c). */
    reply_mark_t *marks; /* ring of pending durability marks */
    uint32_t marks_head, marks_len, marks_cap;
    uint64_t reply_lsn;         /* tag of the reply being built (set by exec) */
    int64_t obuf_soft_since_ms; /* when the soft output limit was first exceeded, 0 if not */

    /* Transactions (MULTI/EXEC) and WATCH. */
    multi_cmd_t *mstate;
    int mcount, mcap;
    size_t mbytes; /* bytes queued; bounded by client-query-buffer-limit */
    void *watched; /* list of watched keys, owned by the tx module */

    /* Pub/Sub. */
    void *pubsub; /* channels and patterns, owned by the pubsub module */
    /* Pushes for this client made while its own command ran (a PUBLISH to its own channel, in
     * MULTI or not): they follow the command's reply, as Valkey sends them (exec_call). */
    /* Calls of this client in progress (exec_call nests: EXEC's commands; a script's commands
     * run on another client meanwhile): while > 0, pushes to it wait in deferred_push. */
    int call_depth;
    char *deferred_push;
    size_t deferred_push_len, deferred_push_cap;

    /* Blocking commands. */
    void *bstate; /* owned by the blocking module */
    int64_t block_deadline_ms;

    /* Waiting for tiered values (CLIENT_TIER_WAIT): owned by tiering.c. */
    void *tstate;

    /* Client-side caching (CLIENT TRACKING): owned by tracking.c, NULL when off. */
    void *track;

    /* Waiting for CLIENT PAUSE to end (CLIENT_PAUSE_WAIT): the command's copy, owned by
     * pause.c, and the next client in the queue of paused ones. */
    int pause_argc;
    karg_t *pause_argv;
    struct client *pause_next;

    struct client *prev, *next;           /* server's list of clients */
    struct client *park_prev, *park_next; /* parked list */
} client_t;

client_t *client_create(struct engine *e, int fd); /* fd -1: a fake client (replay, tests) */
void client_free(client_t *c);
void client_close_async(client_t *c); /* CLIENT KILL, limits: closed at the next flush */
/* Park the reply that starts at absolute offset `start` until `lsn` is durable (no-op when it is
 * durable already and nothing is parked before it). */
void client_mark_reply(client_t *c, uint64_t start, uint64_t lsn);
/* The durable LSN advanced: release parked replies up to it. */
void client_release_parked(struct engine *e);
/* The log failed for good: every parked reply is replaced by the error `why`. */
void client_fail_parked(struct engine *e, const char *why);
/* The client proved who it is (AUTH, HELLO AUTH, or no password is required): commands run, and
 * the net layer's limits for unauthenticated connections no longer apply, not even after a
 * RESET de-authenticates it again (Valkey's "ever authenticated"). */
static inline void
client_set_authenticated(client_t *c) {
    c->flags |= CLIENT_AUTHENTICATED;
    c->conn.flags &= ~(uint32_t)CONN_UNAUTH;
}
/* Close the client soon if its output is over client-output-buffer-limit, or over the 1 KiB
 * allowed to a client that never authenticated. */
void client_check_output_limit(client_t *c);
/* Output limits and idle timeouts of every client; from the cron. */
void clients_cron(struct engine *e);
/* Unblocked, or parked replies drained: run the commands waiting in its input. */
void client_resume(client_t *c);
/* The RESP bytes the running command arrived as, when its arguments are still exactly those
 * bytes (see conn_raw_command): the log copies them instead of encoding the call again. */
bool client_raw_command(const client_t *c, const char **resp, size_t *len);
/* Drop the MULTI queue, WATCHed keys, subscriptions, blocking and WAITAOF state (RESET, free). */
void client_reset(client_t *c);
/* Forget the WATCHed keys (EXEC, DISCARD, UNWATCH). */
void client_unwatch(client_t *c);
/* Drop the MULTI queue and the transaction flags. */
void client_discard_multi(client_t *c);
/* Pause input while the client is blocked or has CLIENT_MARKS_MAX parked replies, else not. */
void client_update_pause(client_t *c);
/* Its CLIENT LIST / CLIENT INFO line, without newline, into buf (len > 0); returns the bytes
 * written, cut at len - 1 when the line is longer. */
int client_info_line(client_t *c, char *buf, size_t len);

#endif

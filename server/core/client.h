/*
 * client.h - a connection's state: input buffer and parser, output buffer with durability
 * marks, selected db, transaction/pubsub/blocking state.
 *
 * Threading: owned by the main thread. The I/O steps that may later move to I/O threads are
 * client_read_parse() and client_write() in net.c; they touch only the buffers and the parser,
 * never the keyspace, which keeps that move a local change (DESIGN.md section 8).
 *
 * Output and durability: every reply is appended to `obuf`. A reply that depends on log records
 * not yet durable gets a mark (absolute end offset, LSN); client_write() sends bytes only up to the
 * first mark whose LSN is above the durable LSN. Marks are in increasing offset and LSN order:
 * a connection's replies leave in order, so its tag never goes below that of its previous reply.
 */
#ifndef KEEL_CLIENT_H
#define KEEL_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "resp.h"

struct server;
struct cmd_def;

enum {
    CLIENT_CLOSE_AFTER_REPLY = 1 << 0, /* QUIT, protocol error: close once obuf is sent */
    CLIENT_CLOSE_ASAP = 1 << 1,        /* CLIENT KILL, output limit: close at the next chance */
    CLIENT_MULTI = 1 << 2,
    CLIENT_DIRTY_CAS = 1 << 3,  /* a WATCHed key changed: EXEC will fail */
    CLIENT_DIRTY_EXEC = 1 << 4, /* a command failed to queue: EXEC aborts */
    CLIENT_BLOCKED = 1 << 5,
    CLIENT_PUBSUB = 1 << 6,     /* RESP2 subscriber mode: only (P|S)SUBSCRIBE and friends */
    CLIENT_NO_EVICT = 1 << 7,
    CLIENT_NO_TOUCH = 1 << 8,
    CLIENT_AUTHENTICATED = 1 << 9,
    CLIENT_PENDING_WRITE = 1 << 10, /* on the server's pending-write list */
    CLIENT_IN_EXEC = 1 << 11,
    CLIENT_FAKE = 1 << 12,      /* no socket: recovery replay, scripts */
    CLIENT_PARKED = 1 << 13,    /* on the server's parked list (has marks) */
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
    uint64_t id;
    int fd;                     /* -1 for a fake client */
    struct server *srv;
    uint32_t flags;
    int resp;                   /* 2 or 3 */
    db_t *db;
    int db_id;
    char *name;                 /* CLIENT SETNAME, NULL if none */
    char addr[64], laddr[64];
    int64_t ctime_ms;           /* connected at */
    int64_t last_ms;            /* last interaction, for `timeout` and CLIENT LIST idle */
    const char *last_cmd;       /* name of the last command, for CLIENT LIST */

    /* Input: the query buffer holds unparsed bytes from qpos; the parser keeps its place. */
    char *qbuf;
    size_t qlen, qcap;
    size_t qbuf_peak;
    resp_parser_t parser;
    int argc;
    karg_t *argv;               /* the command being executed; valid during the call only */

    /* Output. obuf[osent..olen) waits to be written; obase is the absolute offset of obuf[0]. */
    char *obuf;
    size_t olen, ocap, osent;
    uint64_t obase;
    reply_mark_t *marks;        /* ring of pending durability marks */
    uint32_t marks_head, marks_len, marks_cap;
    uint64_t reply_lsn;         /* tag of the reply being built (set by exec) */
    int64_t obuf_soft_since_ms; /* when the soft output limit was first exceeded, 0 if not */
    uint64_t net_in, net_out;

    /* Transactions (MULTI/EXEC) and WATCH. */
    multi_cmd_t *mstate;
    int mcount, mcap;
    size_t mbytes;              /* bytes queued; bounded by client-query-buffer-limit */
    void *watched;              /* list of watched keys, owned by the tx module */

    /* Pub/Sub. */
    void *pubsub;               /* channels and patterns, owned by the pubsub module */

    /* Blocking commands. */
    void *bstate;               /* owned by the blocking module */
    int64_t block_deadline_ms;

    struct client *prev, *next; /* server's list of clients */
    struct client *pw_next;     /* pending-write list */
    struct client *park_prev, *park_next; /* parked list */
} client_t;

/* Park the reply that starts at absolute offset `start` until `lsn` is durable (no-op when it is
 * durable already and nothing is parked before it). */
void client_mark_reply(client_t *c, uint64_t start, uint64_t lsn);

#endif

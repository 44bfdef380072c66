/*
 * repl_int.h - what primary.c, replica.c and repl.c share (see repl.h, docs/replication.md).
 */
#ifndef KEEL_REPL_INT_H
#define KEEL_REPL_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "client.h"
#include "conn.h"
#include "engine.h"
#include "replay.h"
#include "wal.h"

#define REPL_OBUF_BUDGET   (1u << 20)   /* a replica's unsent output before feeding pauses */
#define REPL_READ_BUDGET   (256u << 10) /* log or snapshot bytes read per feeding step */
#define REPL_RECONNECT_MS  1000
#define REPL_ACK_PERIOD_MS 1000

enum { RR_WAIT_SNAPSHOT = 1, RR_SEND_SNAPSHOT, RR_STREAM };

/* Per client on the primary: what the replica announced before PSYNC (REPLCONF). */
typedef struct repl_announce {
    int listening_port;
    char ip[64]; /* REPLCONF ip-address (replica-announce-ip); "": the connection's address */
    char version[32];
    uint32_t records_max, snapshot_max; /* formats it reads; 0: not announced (assume 1) */
} repl_announce_t;

/* A replica of this primary: its client connection, what it was sent, what it acknowledged.
 * Made by its first REPLCONF (state 0: announced, not fed yet); PSYNC starts feeding. */
typedef struct repl_replica {
    client_t *c;
    int state; /* 0 or RR_* */
    repl_announce_t ann;
    wal_cursor_t *cur; /* RR_STREAM: reads the log from next_lsn */
    uint64_t next_lsn; /* the next record to send */
    uint64_t ack_lsn;  /* durable on the replica (REPLCONF ACK) */
    int64_t ack_ms;    /* when it last acknowledged */
    int snap_fd;       /* RR_SEND_SNAPSHOT: the snapshot file, -1 otherwise */
    uint64_t snap_lsn, snap_size, snap_sent;
    uint64_t snap_min_lsn; /* RR_WAIT_SNAPSHOT: a snapshot at or after this LSN will do */
    int64_t ping_ms;       /* when the primary last sent it a PING */
    int64_t bgsave_ms;     /* RR_WAIT_SNAPSHOT: when a snapshot was last asked for it */
    struct repl_replica *next;
} repl_replica_t;

enum { RL_CONNECTING = 1, RL_HANDSHAKE, RL_WAIT_SNAPSHOT, RL_SNAPSHOT, RL_STREAM };

/* This replica's link to its primary: a conn of its own (not a client of the engine). */
typedef struct repl_link {
    conn_t conn; /* first member: the net layer's callbacks get this */
    engine_t *s;
    int state;           /* RL_* */
    int replies_pending; /* handshake replies still expected */
    int snap_fd;         /* RL_SNAPSHOT: the file being received, -1 otherwise */
    char snap_tmp[4200];
    uint64_t snap_lsn, snap_size, snap_got;
    int64_t last_io_ms;
    replay_ctx_t rc; /* RL_STREAM: applies records through a fake client */
    bool rc_active;
    char rerr[512];     /* replay's error text */
    uint64_t acked_lsn; /* the last LSN acknowledged to the primary */
    int64_t acked_ms;
} repl_link_t;

typedef struct repl_waiter {
    client_t *c;
    uint64_t target_lsn;
    long numreplicas;
    int64_t deadline_ms; /* 0: none */
} repl_waiter_t;

typedef struct repl_state repl_state_t;
struct repl_state {
    /* As a primary. */
    repl_replica_t *replicas;
    int nreplicas;
    repl_waiter_t *waiters; /* WAIT */
    size_t nwaiters, waiters_cap;
    /* As a replica: host is "" for a primary. */
    char host[256];
    int port;
    repl_link_t *link; /* NULL while not connected */
    int64_t next_connect_ms;
    int64_t link_down_since_ms;
    char last_error[1024]; /* why the last link ended or was refused */
    /* INFO stats, as Valkey counts them (on the primary). */
    uint64_t sync_full, sync_partial_ok, sync_partial_err;
};

/* primary.c */
void primary_feed_all(engine_t *s);
void primary_forget(engine_t *s, client_t *c);
repl_replica_t *primary_find(engine_t *s, client_t *c, bool create);
void primary_psync(client_t *c);
int primary_replica_count(engine_t *s, uint64_t acked_lsn_min);
void replica_drop_link(engine_t *s, const char *why);
void replica_tick(engine_t *s, int64_t now_ms);
uint64_t replica_applied_lsn(const engine_t *s);

#endif

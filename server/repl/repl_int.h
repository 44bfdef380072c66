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

enum { RR_WAIT_SNAPSHOT = 1, RR_SEND_SNAPSHOT, RR_STREAM, RR_CHANNEL_DONE };

/* Per client on the primary: what the replica announced before PSYNC (REPLCONF). */
typedef struct repl_announce {
    int listening_port;
    char ip[64]; /* REPLCONF ip-address (replica-announce-ip); "": the connection's address */
    char version[32];
    uint32_t records_max, snapshot_max; /* formats it reads; 0: not announced (assume 1) */
    uint32_t channels;                  /* 2: it fetches a full sync's snapshot on a second
                                           connection (SNAPCHANNEL) */
    bool records_set, snapshot_set;     /* announced (negotiate.h: else taken as 1) */
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
    bool epochs;           /* it named its last epoch in PSYNC: it takes EPOCH and COMMIT frames
                              and is fed written records ahead of the commit */
    bool in_set;           /* in the write quorum's set: every commit waits for it */
    bool channel;          /* a replica's second connection, sending it a snapshot only */
    char token[33];        /* the snapshot offered on a second channel (SNAPCHANNEL) */
    bool no_quorum;        /* announced durability off: its ACKs prove nothing */
    uint64_t commit_sent;  /* the last COMMIT frame sent: LSN and in_set */
    int in_set_sent;
    uint64_t epoch_sent; /* the epoch of the records last sent (0: none yet) */
    int64_t bgsave_ms;   /* RR_WAIT_SNAPSHOT: when a snapshot was last asked for it */
    /* versions.c: the negotiated record format and full sync snapshot format (once sending, the
     * format of the file it gets); whether it waits for an export in that format. */
    uint32_t rec_format, snap_format;
    bool snap_export;
    struct repl_replica *next;
} repl_replica_t;

enum { RL_CONNECTING = 1, RL_HANDSHAKE, RL_WAIT_SNAPSHOT, RL_SNAPSHOT, RL_SPILL, RL_STREAM };

/* This replica's link to its primary: a conn of its own (not a client of the engine). */
typedef struct repl_link {
    conn_t conn; /* first member: the net layer's callbacks get this */
    engine_t *s;
    int state;           /* RL_* */
    int replies_pending; /* handshake replies still expected */
    int snap_fd;         /* RL_SNAPSHOT: the file being received, -1 otherwise */
    char snap_tmp[4200];
    uint64_t snap_lsn, snap_size, snap_got;
    char snap_id[40]; /* the data set id the SNAPSHOT frame named */
    int64_t last_io_ms;
    replay_ctx_t rc; /* RL_STREAM: applies records through a fake client */
    bool rc_active;
    char rerr[512];     /* replay's error text */
    uint64_t acked_lsn; /* the last LSN acknowledged to the primary */
    int64_t acked_ms;
    /* Full sync on two channels: the main link spills the stream to a file while its channel
     * (a second link) receives the snapshot. */
    struct repl_link *chan; /* main link: its snapshot channel */
    struct repl_link *main; /* channel: its main link (NULL once that closed) */
    bool is_channel;
    char token[33];
    FILE *spill;
    char spill_path[4200];
} repl_link_t;

/* When the primary's log reached which LSN: how long a replica has left a record unacked. */
#define REPL_LSN_RING 16384
typedef struct repl_lsn_time {
    uint64_t lsn;
    int64_t ms;
} repl_lsn_time_t;

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
    /* The write quorum (quorum.c), as a primary. */
    uint64_t commit_lsn;   /* committed: on the local quorum and every replica of the set */
    int set_size;          /* replicas in the set */
    char refuse[256];      /* engine_t.repl_refuse when too few replicas: the error reply */
    char parked_err[300];  /* what parked replies get when the set falls short */
    repl_lsn_time_t *ring; /* REPL_LSN_RING samples, oldest overwritten */
    uint64_t ring_n;       /* samples ever pushed */
    bool ack_moved;        /* an ACK arrived: recompute the commit before sleeping */
    bool demoted;          /* it was a primary: its parked replies get an error (before_sleep) */
    /* As a replica: records logged, not yet applied (the primary has not committed them). */
    uint64_t r_commit;   /* the primary's last COMMIT */
    bool r_in_set;       /* it said this replica is in its set (promotable) */
    bool r_told;         /* a COMMIT frame arrived since this became a replica */
    bool r_streamed;     /* it streamed from this primary since then (and no full sync since) */
    bool r_commit_aware; /* this link sends COMMIT frames (apply only up to r_commit) */
    uint8_t *pend;       /* [u32 length][record bytes]... */
    size_t pend_len, pend_head, pend_cap;
    uint64_t applied_lsn; /* the last record applied to the keyspace */
    /* INFO stats, as Valkey counts them (on the primary). */
    uint64_t sync_full, sync_partial_ok, sync_partial_err;
    struct repl_versions *ver; /* versions.c: exports, refusals */
};

/* quorum.c */
void quorum_start(engine_t *s);
void quorum_before_sleep(engine_t *s); /* samples, membership, refusals, parked errors */
uint64_t quorum_feed_limit(engine_t *s, const repl_replica_t *r);
void quorum_send_commit(engine_t *s, repl_replica_t *r);
void quorum_replica_gone(engine_t *s, repl_replica_t *r);
void quorum_became_primary(engine_t *s);
/* replica.c */
int replica_apply_pending(engine_t *s, uint64_t upto); /* UINT64_MAX: all (promotion) */

/* primary.c */
void primary_feed_all(engine_t *s);
void primary_forget(engine_t *s, client_t *c);
repl_replica_t *primary_find(engine_t *s, client_t *c, bool create);
void primary_psync(client_t *c);
/* REPLCONF keel-snapshot-channel <token>: c is the second connection of a replica in a full
 * sync; KERR_NOTFOUND for a token no replica waits with. */
int primary_snapshot_channel(client_t *c, const karg_t *token);
int primary_replica_count(engine_t *s, uint64_t acked_lsn_min);
void replica_drop_link(engine_t *s, const char *why);
void replica_tick(engine_t *s, int64_t now_ms);
uint64_t replica_applied_lsn(const engine_t *s);

#endif

/*
 * conn.h - connections: the listener, reading and parsing requests, buffering and writing bytes.
 *
 * This layer knows sockets, RESP framing and bytes; it knows nothing of commands, the keyspace
 * or the log. Its owner (the engine) embeds a conn_t in its own client object and learns about
 * events through the callbacks it registered with net_create():
 *
 *   accept    -> accept_cb(ctx, fd): the owner allocates its client, calls conn_init()
 *   readable  -> read into qbuf, parse; for each complete command: command_cb(conn, argc,
 *                argv), the arguments pointing into qbuf while it runs
 *   EOF, error, conn_close_async() -> close_cb(conn): the owner forgets the client and calls
 *                conn_release()
 *   net_flush() (before the loop sleeps) -> write each connection with pending output
 *
 * TLS: a connection accepted on the TLS listener, or an outgoing one made with tls, carries a
 * session (tls.h) in conn->tls; its reads and writes go through OpenSSL, everything above them
 * (buffers, parsing, holds, callbacks) is the same. Plain connections test that one pointer and
 * nothing more. An accepted TLS connection is handed to accept_cb at once (it counts against
 * maxclients while it shakes hands) but reads no command before its handshake ended; a handshake
 * not done within TLS_HANDSHAKE_TIMEOUT_MS is dropped by net_cron().
 *
 * Output: the owner appends bytes (conn_out_reserve + conn_out_commit); net_flush() writes
 * obuf up to `hold`, an absolute output offset the owner sets to keep bytes back (the engine
 * parks replies there until the log made them durable). Offsets are absolute (obase + index)
 * so that they survive the buffer being compacted.
 *
 * Threading: main thread, but for the I/O threads (io-threads > 1, iot.h): between two batches
 * the main thread owns every conn; in a read batch a thread reads one conn's socket into its
 * qbuf and parses its complete commands ahead (conn->batch), in a write batch it writes its
 * obuf; net counters are added by the main thread afterwards. The commands always run on the
 * main thread. TLS conns, replica links and conns not yet authenticated stay on the main
 * thread.
 */
#ifndef KEEL_CONN_H
#define KEEL_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ev.h"
#include "resp.h"
#include "slice.h"
#include "tls.h"

typedef struct net net_t;
typedef struct conn conn_t;
typedef struct net_callbacks net_callbacks_t;

enum {
    CONN_CLOSE_AFTER_REPLY = 1 << 0, /* QUIT, protocol error: close once obuf is sent */
    CONN_CLOSE_ASAP = 1 << 1,        /* CLIENT KILL, output limit: close at the next flush */
    CONN_PENDING_WRITE = 1 << 2,     /* on the net's pending-write list */
    CONN_INPUT_PAUSED = 1 << 3,      /* the owner runs no more commands until conn_resume_input */
    CONN_LINES = 1 << 4, /* input is reply lines ("+OK", "-ERR ..."), each one argv[0], not RESP */
    /* Never authenticated where authentication is required (the owner sets and clears it): the
     * request limits below apply instead of the configured ones, so that a peer that knows no
     * password cannot make the server hold much memory for it. */
    CONN_UNAUTH = 1 << 5,
    /* Its command is still running while the loop is polled from inside it (a busy script):
     * nothing is read from it and it is not closed (its owner still uses it) until cleared. */
    CONN_PROTECTED = 1 << 6,
    /* On the net's read queue (io-threads): epoll said readable, an I/O thread reads and parses
     * it before the loop sleeps (net_run_reads). */
    CONN_IO_READ_QUEUED = 1 << 7,
    CONN_IO_WRITE_QUEUED = 1 << 8, /* on the write batch of a running net_flush */
};

/* Commands an I/O thread parsed ahead for the main thread (conn.c): each one's bytes in qbuf,
 * its arguments, and what the owner's prepare_cb said about it. */
typedef struct conn_parsed {
    size_t start, end; /* the command's bytes in qbuf */
    int argc, argi;    /* its arguments: args[argi .. argi + argc) */
    void *hint;        /* prepare_cb's result */
    int key_idx;       /* > 0: argv[key_idx]'s hash is key_hash (prepare_cb) */
    uint64_t key_hash;
} conn_parsed_t;

typedef struct conn_batch {
    int n, cap;
    bool more; /* the main thread must parse on (inline, error, limit); else all was parsed */
    conn_parsed_t *cmd;
    int nargs, args_cap;
    karg_t *args;
} conn_batch_t;

/* Limits of a CONN_UNAUTH connection, as Valkey's for unauthenticated clients: requests of at
 * most 10 arguments of 16 KiB (AUTH and HELLO fit), replies held for it at most 1 KiB. */
#define CONN_UNAUTH_BULK_MAX      (16 * 1024)
#define CONN_UNAUTH_MULTIBULK_MAX 10
#define CONN_UNAUTH_OUTPUT_MAX    1024

#define CONN_HOLD_NONE UINT64_MAX

struct conn {
    int fd;         /* -1: no socket (the engine's fake clients) */
    uint32_t flags; /* CONN_* */
    net_t *net;     /* NULL for a conn without a socket */

    /* Input: the query buffer holds unparsed bytes; the parser keeps its place between reads. */
    char *qbuf;
    size_t qlen, qcap;
    size_t qbuf_peak;
    resp_parser_t parser;

    /* Output. obuf[osent..olen) waits to be written; obase is the absolute offset of obuf[0]. */
    char *obuf;
    size_t olen, ocap, osent;
    uint64_t obase;
    uint64_t hold; /* absolute offset from which output is held back (owner sets) */

    uint64_t net_in, net_out;
    int64_t last_ms; /* last read, for idle timeouts */
    char addr[64], laddr[64];
    conn_t *pw_next;                          /* pending-write list */
    const net_callbacks_t *cb;                /* this conn's callbacks; NULL: the net's */
    void (*connected_cb)(conn_t *c, int err); /* an outgoing conn, until connected or failed */
    tls_conn_t *tls;                          /* the TLS session; NULL: plain TCP */
    /* io-threads: what the I/O thread did with this conn, for the main thread to finish. */
    conn_batch_t *batch; /* commands parsed ahead (made at the first threaded read) */
    void *cmd_hint;      /* while command_cb runs: prepare_cb's result for it, or NULL */
    int key_idx;         /* and, when > 0, the hash of its argument key_idx */
    uint64_t key_hash;
    size_t io_bytes; /* read or written by the thread */
    int io_err;      /* 0, or what the main thread must do: close (IO_*, conn.c) */
};

/* Limits read at every use, so that CONFIG SET changes them at once. The owner keeps the
 * values (its configuration); the net keeps the pointers. */
typedef struct net_limits {
    const long long *bulk_max;         /* proto-max-bulk-len */
    const long long *multibulk_max;    /* max-multibulk-len */
    const long long *query_buffer_max; /* client-query-buffer-limit */
    const long long *maxclients;
    const long long *tcp_keepalive_s;
} net_limits_t;

struct net_callbacks {
    /* A connection was accepted: allocate the owner's client embedding a conn_t, conn_init() it
     * and return it; NULL refuses the connection (the fd is closed). */
    conn_t *(*accept_cb)(void *ctx, int fd);
    void (*command_cb)(conn_t *c, int argc, karg_t *argv); /* one complete command */
    void (*close_cb)(conn_t *c); /* the owner must call conn_release(c) before returning */
    /* Optional, with io-threads: runs on an I/O thread for each command it parsed ahead, while
     * the main thread runs no command; the result reaches command_cb as conn->cmd_hint. It may
     * only read what commands do not change (the command table, the hash seed). It may also name
 * one argument (*key_idx > 0) and give its hash (the keyspace's), for prefetch_cb and the
 * lookup. */
    void *(*prepare_cb)(void *ctx, int argc, const karg_t *argv, int *key_idx, uint64_t *key_hash);
    /* Optional: the main thread, before running a conn's commands parsed ahead, for each one
     * prepare_cb gave a key hash: bring what the lookup will touch into the cache. */
    void (*prefetch_cb)(conn_t *c, uint64_t key_hash);
    void *ctx;
};

/* Counters of the listener and all conns (INFO stats); reset by net_reset_stats. */
typedef struct net_stats {
    uint64_t accepted, rejected; /* connections; rejected: over maxclients */
    uint64_t protocol_errors;
    uint64_t tls_handshake_errors; /* accepted TLS conns whose handshake failed or timed out */
    uint64_t bytes_in, bytes_out;
    uint64_t reads, writes;       /* read and write calls on client sockets (total_*_processed) */
    uint64_t io_reads, io_writes; /* of those, by I/O threads (io_threaded_*_processed) */
} net_stats_t;

net_t *net_create(ev_loop_t *loop, const net_callbacks_t *cb, const net_limits_t *lim);
void net_free(net_t *n);
/* In a forked child: close the listening socket so the child holds no port (no loop changes). */
void net_close_in_child(net_t *n);
/* Listen on each address of `bind` ("a b ...", at most NET_LISTEN_MAX; "-a": skipped when not
 * available on this host, as Valkey; "*" any IPv4, "::*" any IPv6); *port_bound gets the real
 * port (port 0: the one the first address got, for all).
 * tls: connections accepted there speak TLS (net_tls_set must have given a context). */
#define NET_LISTEN_MAX 16 /* addresses of `bind` (Valkey's CONFIG_BINDADDR_MAX) */
int net_listen(net_t *n, const char *bind_addrs, int port, bool tls, int *port_bound);
/* The TLS context of the connections made from now on; the net owns it and frees the previous
 * one (the sessions made from that keep what they need). */
void net_tls_set(net_t *n, tls_ctx_t *ctx);
/* Drop TLS connections whose handshake is past its deadline (from the cron). */
void net_cron(net_t *n);
/* Write every connection with pending output (up to its hold), close those marked to close.
 * With I/O threads and enough connections to write, threads write them (iot.h). */
void net_flush(net_t *n);
/* io-threads: threads (the main thread counted, as Valkey's io-threads) to read, parse and
 * write; 1 = the main thread alone. Before the first connection; 0 or -errno. */
int net_set_io_threads(net_t *n, int threads);
/* Workers the last threaded batch used (INFO io_threads_active). */
int net_io_threads_active(const net_t *n);
/* Read, parse and hand over the commands of the connections queued readable this loop turn
 * (I/O threads read and parse them in parallel; the commands run here, on the calling main
 * thread, connection by connection in the order epoll reported them). Call it before the other
 * before-sleep work, and wherever the loop is polled by hand (a busy script). */
void net_run_reads(net_t *n);
const net_stats_t *net_stats(const net_t *n);
void net_reset_stats(net_t *n);

/* fd >= 0: register for reads with n's loop; fd < 0: a conn without a socket (n may be NULL). */
void conn_init(conn_t *c, net_t *n, int fd);
/* An outgoing connection (a replica's link to its primary) to host:port (numeric IPv4/IPv6 or
 * "localhost"), without blocking: connected_cb(c, 0) runs once connected (with tls: once the
 * handshake verified the peer), connected_cb(c, -errno) if it failed (the conn is then released
 * by the caller). Commands arriving on it go to cb's command_cb and its closing to cb's
 * close_cb, not to the net's. */
int conn_connect(conn_t *c, net_t *n, const char *host, int port, bool tls,
                 const net_callbacks_t *cb, void (*connected_cb)(conn_t *c, int err));
/* Unregister, close the socket, free the buffers. The conn_t itself belongs to the owner. */
void conn_release(conn_t *c);
void conn_close_async(conn_t *c);
/* Parse and run the commands left in qbuf (after CONN_INPUT_PAUSED was cleared). */
void conn_resume_input(conn_t *c);
/* The running command's own RESP bytes, when argv (its arguments) still points exactly into
 * them: a multibulk, not inline, not copied (MULTI-queued commands are copies). */
bool conn_raw_command(const conn_t *c, int argc, const karg_t *argv, const char **resp,
                      size_t *len);
/* Whether the peer is on this host: a loopback address (127.0.0.0/8, ::1) or a Unix socket. */
bool conn_is_local(const conn_t *c);
/* Put c on the pending-write list (called when output appears or the hold moves). */
void conn_schedule_write(conn_t *c);
/* Drop the output from absolute offset `at` on (not yet sent: at >= obase + osent). */
void conn_out_truncate(conn_t *c, uint64_t at);

/* Room for n more bytes at the end of obuf; conn_out_commit(c, n) then makes them output. */
char *conn_out_grow(conn_t *c, size_t n);

static inline char *
conn_out_reserve(conn_t *c, size_t n) {
    if (c->olen + n <= c->ocap)
        return c->obuf + c->olen;
    return conn_out_grow(c, n);
}

static inline void
conn_out_commit(conn_t *c, size_t n) {
    c->olen += n;
    if (c->fd >= 0 && !(c->flags & CONN_PENDING_WRITE))
        conn_schedule_write(c);
}

/* Absolute offset of the end of the output: where the next reply starts. */
static inline uint64_t
conn_out_end(const conn_t *c) {
    return c->obase + c->olen;
}

/* Bytes appended and not yet written (output-buffer limits). */
static inline size_t
conn_out_pending(const conn_t *c) {
    return c->olen - c->osent;
}

#endif

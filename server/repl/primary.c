/*
 * primary.c - the primary's side of replication: each replica is a client that sent PSYNC; the
 * primary feeds its connection from the log files (wal_cursor) or, for a full sync, from the
 * newest snapshot file, never from memory and never beyond the durable LSN.
 *
 * A replica's states (repl_replica_t.state), and what moves them:
 *   0                 REPLCONF seen, not fed             PSYNC -> RR_STREAM or RR_WAIT_SNAPSHOT
 *   RR_WAIT_SNAPSHOT  no snapshot recent enough yet      a snapshot file appears (BGSAVE)
 *   RR_SEND_SNAPSHOT  SNAPSHOT, CHUNK... frames          end of file: SNAPEND -> RR_STREAM
 *   RR_STREAM         RECORD frames from the cursor      the client closes (it reconnects)
 * Frames are RESP arrays (docs/replication.md): RECORD <record bytes>; EPOCH epoch first-LSN
 * (before the first record of each epoch sent); SNAPSHOT lsn size id; CHUNK bytes; SNAPEND;
 * PING. Feeding stops while a replica has REPL_OBUF_BUDGET unsent bytes.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "idfile.h"
#include "kerr.h"
#include "klog.h"
#include "kmem.h"
#include "persist.h"
#include "repl.h"
#include "repl_int.h"
#include "reply.h"
#include "snapshot_glue.h"
#include "util.h"
#include "versions_int.h"

repl_replica_t *
primary_find(engine_t *s, client_t *c, bool create) {
    for (repl_replica_t *r = s->repl->replicas; r; r = r->next)
        if (r->c == c)
            return r;
    if (!create)
        return NULL;
    repl_replica_t *r = kcalloc(1, sizeof *r);
    r->c = c;
    r->snap_fd = -1;
    r->in_set_sent = -1; /* the first COMMIT frame goes out whatever it says */
    r->next = s->repl->replicas;
    s->repl->replicas = r;
    return r;
}

void
primary_forget(engine_t *s, client_t *c) {
    for (repl_replica_t **pp = &s->repl->replicas; *pp; pp = &(*pp)->next) {
        repl_replica_t *r = *pp;
        if (r->c != c)
            continue;
        *pp = r->next;
        versions_forget(s, r);
        if (r->state && !r->channel)
            s->repl->nreplicas--;
        quorum_replica_gone(s, r);
        if (r->cur)
            wal_cursor_close(r->cur);
        if (r->snap_fd >= 0)
            close(r->snap_fd);
        kfree(r);
        return;
    }
}

int
primary_replica_count(engine_t *s, uint64_t acked_lsn_min) {
    int n = 0;
    for (repl_replica_t *r = s->repl->replicas; r; r = r->next)
        n += r->state == RR_STREAM && r->ack_lsn >= acked_lsn_min;
    return n;
}

static void
send_bulk_u64(client_t *c, uint64_t v) {
    char b[24];
    int n = snprintf(b, sizeof b, "%" PRIu64, v);
    reply_bulk(c, b, (size_t)n);
}

/* RECORD <the record's bytes as on disk>: its header carries LSN, time, db and the CRC32C the WAL
 * thread computed, so the replica checks the record end to end (wal_record_decode) and nothing
 * is encoded again here. One reservation per record. */
static int
send_record_cb(void *ctx, const wal_record_t *rec, const void *enc, size_t enc_len) {
    repl_replica_t *r = ctx;
    conn_t *c = &r->c->conn;
    if (r->epochs) {
        uint64_t first = 0, e = persist_epoch_of(r->c->eng, rec->lsn, &first);
        if (e != r->epoch_sent && e) {
            reply_array(r->c, 3);
            reply_bulk(r->c, "EPOCH", 5);
            send_bulk_u64(r->c, e);
            send_bulk_u64(r->c, first);
            r->epoch_sent = e;
        }
    }
    char hdr[48];
    int h = snprintf(hdr, sizeof hdr, "*2\r\n$6\r\nRECORD\r\n$%zu\r\n", enc_len);
    char *d = conn_out_reserve(c, (size_t)h + enc_len + 2);
    memcpy(d, hdr, (size_t)h);
    memcpy(d + h, enc, enc_len);
    memcpy(d + h + enc_len, "\r\n", 2);
    conn_out_commit(c, (size_t)h + enc_len + 2);
    r->next_lsn = rec->lsn + 1;
    return 0;
}

static int
open_cursor(engine_t *s, repl_replica_t *r, uint64_t from, char *err, size_t errlen) {
    char archive[4096];
    persist_archive_dir(s, archive, sizeof archive);
    return wal_cursor_open(persist_log_dir(s), archive, from, &r->cur, err, errlen);
}

static void
send_snapshot_header(engine_t *s, repl_replica_t *r) {
    char id[37];
    wal_dataset_id_str(persist_dataset_id(s), id, sizeof id);
    reply_array(r->c, 4);
    reply_bulk(r->c, "SNAPSHOT", 8);
    send_bulk_u64(r->c, r->snap_lsn);
    send_bulk_u64(r->c, r->snap_size);
    reply_bulk(r->c, id, strlen(id));
    r->state = RR_SEND_SNAPSHOT;
}

/* Full sync on two channels: this connection streams the records after the snapshot at once,
 * while the replica fetches the snapshot file on a second connection (REPLCONF
 * keel-snapshot-channel <token>), so that what was written during the transfer is already
 * there when the snapshot is loaded. The file stays open here until the channel takes it. */
static bool
offer_channel(engine_t *s, repl_replica_t *r) {
    char err[256];
    uint8_t raw[16];
    util_random_bytes(raw, sizeof raw);
    for (int i = 0; i < 16; i++)
        snprintf(r->token + 2 * i, 3, "%02x", raw[i]);
    if (open_cursor(s, r, r->snap_lsn + 1, err, sizeof err) < 0) {
        klog(KLOG_WARNING, "Replica %s: the log after the snapshot is gone (%s)", r->c->conn.addr,
             err);
        client_close_async(r->c);
        return false;
    }
    reply_array(r->c, 3);
    reply_bulk(r->c, "SNAPCHANNEL", 11);
    reply_bulk(r->c, r->token, 32);
    send_bulk_u64(r->c, r->snap_lsn);
    r->next_lsn = r->snap_lsn + 1;
    r->state = RR_STREAM;
    klog(KLOG_NOTICE,
         "Full sync of replica %s: the snapshot at LSN %" PRIu64 " (%" PRIu64
         " bytes) on a second channel, the records after it on this one",
         r->c->conn.addr, r->snap_lsn, r->snap_size);
    return true;
}

int
primary_snapshot_channel(client_t *c, const karg_t *token) {
    engine_t *s = c->eng;
    repl_replica_t *m = NULL;
    for (repl_replica_t *r = s->repl->replicas; r && !m; r = r->next)
        if (!r->channel && r->snap_fd >= 0 && token->n == 32 && !memcmp(r->token, token->p, 32))
            m = r;
    if (!m)
        return KERR_NOTFOUND;
    repl_replica_t *ch = primary_find(s, c, true);
    if (ch->state)
        return KERR_INVAL;
    ch->channel = true;
    ch->snap_fd = m->snap_fd;
    m->snap_fd = -1;
    ch->snap_lsn = m->snap_lsn;
    ch->snap_size = m->snap_size;
    ch->snap_sent = 0;
    c->flags |= CLIENT_REPLICA;
    reply_ok(c);
    send_snapshot_header(s, ch);
    klog(KLOG_NOTICE, "Full sync of replica %s: sending the snapshot on channel %s",
         m->c->conn.addr, c->conn.addr);
    return 0;
}

/* RR_WAIT_SNAPSHOT -> RR_SEND_SNAPSHOT once a snapshot in a format the replica reads is there
 * (versions.c: the newest one, or an export in its format). Returns false while waiting (or when
 * the replica was refused or dropped). */
static bool
start_snapshot(engine_t *s, repl_replica_t *r) {
    uint64_t lsn = 0;
    if (versions_snapshot_fd(s, r, &r->snap_fd, &lsn) <= 0)
        return false;
    r->snap_lsn = lsn;
    r->snap_size = (uint64_t)lseek(r->snap_fd, 0, SEEK_END);
    r->snap_sent = 0;
    if (r->ann.channels >= 2)
        return offer_channel(s, r);
    send_snapshot_header(s, r);
    klog(KLOG_NOTICE,
         "Full sync of replica %s: sending the snapshot at LSN %" PRIu64 " (%" PRIu64 " bytes)",
         r->c->conn.addr, lsn, r->snap_size);
    return true;
}

/* One chunk of the snapshot file; at its end SNAPEND and the stream from its LSN. */
static bool
send_snapshot_chunk(engine_t *s, repl_replica_t *r) {
    static char buf[REPL_READ_BUDGET];
    ssize_t n = pread(r->snap_fd, buf, sizeof buf, (off_t)r->snap_sent);
    if (n < 0) {
        client_close_async(r->c);
        return false;
    }
    if (n > 0) {
        reply_array(r->c, 2);
        reply_bulk(r->c, "CHUNK", 5);
        reply_bulk(r->c, buf, (size_t)n);
        r->snap_sent += (uint64_t)n;
        return true;
    }
    close(r->snap_fd);
    r->snap_fd = -1;
    reply_array(r->c, 1);
    reply_bulk(r->c, "SNAPEND", 7);
    if (r->channel) { /* the replica closes it */
        r->state = RR_CHANNEL_DONE;
        return false;
    }
    char err[256];
    if (open_cursor(s, r, r->snap_lsn + 1, err, sizeof err) < 0) {
        klog(KLOG_WARNING, "Replica %s: the log after the snapshot is gone (%s)", r->c->conn.addr,
             err);
        client_close_async(r->c);
        return false;
    }
    r->next_lsn = r->snap_lsn + 1;
    r->state = RR_STREAM;
    return true;
}

static void
feed(engine_t *s, repl_replica_t *r) {
    char err[256];
    while (!(r->c->conn.flags & CONN_CLOSE_ASAP) &&
           conn_out_pending(&r->c->conn) < REPL_OBUF_BUDGET) {
        bool more = false;
        if (r->state == RR_WAIT_SNAPSHOT)
            more = start_snapshot(s, r);
        else if (r->state == RR_SEND_SNAPSHOT)
            more = send_snapshot_chunk(s, r);
        else if (r->state == RR_STREAM) {
            quorum_send_commit(s, r);
            uint64_t limit = quorum_feed_limit(s, r);
            int n = wal_cursor_read(r->cur, limit, REPL_READ_BUDGET, send_record_cb, r, err,
                                    sizeof err);
            if (n < 0) {
                klog(KLOG_WARNING, "Replica %s: reading the log at LSN %" PRIu64 ": %s",
                     r->c->conn.addr, r->next_lsn, err);
                client_close_async(r->c);
            }
            /* 0 records with next <= limit: the budget went into records before the start */
            more = n > 0 || (n == 0 && wal_cursor_next_lsn(r->cur) <= limit);
        }
        if (!more)
            break;
    }
    quorum_send_commit(s, r);
}

void
primary_feed_all(engine_t *s) {
    for (repl_replica_t *r = s->repl->replicas; r; r = r->next)
        if (r->state)
            feed(s, r);
}

/* Whether a replica whose last record is last_lsn, of epoch (when named: builds before 0.2.0
 * name none), holds nothing this primary's history lacks; why not, into why. */
static bool
same_history(engine_t *s, uint64_t last_lsn, uint64_t epoch, bool named, char *why, size_t n) {
    uint64_t end = 0;
    if (last_lsn == 0)
        return true;
    if (!named) {
        /* Its records are this primary's only when they all precede the primary's second
         * epoch: the history was one line until then. */
        uint64_t e0 = persist_epoch_of(s, 1, NULL);
        if (persist_epoch_end(s, e0, &end) == 0 && last_lsn <= end)
            return true;
        snprintf(why, n,
                 "it names no epoch (a build before 0.2.0) and its log reaches past "
                 "this primary's first epoch");
        return false;
    }
    if (persist_epoch_end(s, epoch, &end) < 0) {
        snprintf(why, n, "its epoch %llu is not in this primary's history",
                 (unsigned long long)epoch);
        return false;
    }
    if (last_lsn > end) {
        snprintf(why, n,
                 "it diverged: its epoch %llu ends here at LSN %llu, its log goes on to LSN %llu",
                 (unsigned long long)epoch, (unsigned long long)end, (unsigned long long)last_lsn);
        return false;
    }
    return true;
}

/* PSYNC <dataset id | ?> <next LSN> [<epoch of the last record>]: a partial resync when the
 * data set is the same, the replica's history is a prefix of this one (epochs), and the log
 * still holds next LSN; else a full sync (snapshot, then the records after it). */
void
primary_psync(client_t *c) {
    engine_t *s = c->eng;
    if (!s->wal) {
        reply_err(c, "ERR replication needs a log: this primary runs with durability off");
        return;
    }
    if (s->repl->host[0]) {
        reply_err(c, "ERR this server is a replica: chained replication is not supported yet");
        return;
    }
    repl_replica_t *r = primary_find(s, c, true);
    if (r->state) {
        reply_err(c, "ERR PSYNC was already sent on this connection");
        return;
    }
    if (!versions_records(s, r))
        return; /* refused: closes after the error */
    char id[37], err[256] = "", why[256] = "its LSN is not in the log";
    wal_dataset_id_str(persist_dataset_id(s), id, sizeof id);
    unsigned long long next = 0, epoch = 0;
    bool same = c->argv[1].n == 36 && !memcmp(c->argv[1].p, id, 36);
    bool parsed = util_parse_ull(c->argv[2].p, c->argv[2].n, &next) && next >= 1;
    r->epochs = c->argc >= 4 && util_parse_ull(c->argv[3].p, c->argv[3].n, &epoch);
    /* Replicas are fed records once written, before they are durable here. */
    bool ahead = parsed && next > wal_written_lsn(s->wal) + 1;
    s->repl->nreplicas++;
    c->flags |= CLIENT_REPLICA;
    if (same && parsed && !ahead && same_history(s, next - 1, epoch, r->epochs, why, sizeof why) &&
        open_cursor(s, r, next, err, sizeof err) == 0) {
        r->state = RR_STREAM;
        r->next_lsn = next;
        s->repl->sync_partial_ok++;
        reply_simplef(c, "CONTINUE %s %llu", id, next);
        klog(KLOG_NOTICE, "Replica %s: partial resync from LSN %llu", c->conn.addr, next);
        return;
    }
    if (same && parsed)
        s->repl->sync_partial_err++;
    r->state = RR_WAIT_SNAPSHOT;
    if (!versions_full_sync(s, r))
        return; /* refused: closes after the error */
    s->repl->sync_full++;
    uint64_t oldest = 0;
    char archive[4096];
    persist_archive_dir(s, archive, sizeof archive);
    wal_oldest_lsn(persist_log_dir(s), archive, &oldest);
    r->snap_min_lsn = oldest ? oldest - 1 : 0; /* the log must still hold what follows it */
    reply_simplef(c, "FULLRESYNC %s 0", id);
    klog(KLOG_NOTICE, "Replica %s: full sync (%s)", c->conn.addr,
         !same     ? "another data set or none"
         : !parsed ? "no position"
         : ahead   ? "it is ahead of this primary's log"
                   : why);
}

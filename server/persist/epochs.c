/*
 * epochs.c - the data set's epoch history (docs/replication.md, "Divergence").
 *
 * An epoch is a stretch of the history written by one primary between two changes of primary:
 * a node that logs its first record as a primary (after a start or a promotion) begins a new
 * epoch when the current one already holds records. The history is the list of (epoch, LSN of
 * its first record), oldest first. Two nodes of one data set hold the same history up to an
 * LSN exactly when the epoch of their record at that LSN is the same and began at the same LSN,
 * which is what PSYNC compares: a replica names the epoch of its last record, and the primary
 * answers from where that epoch ends in its own history.
 *
 * Epoch numbers must not collide between nodes that begin one independently (an old primary
 * that restarts and writes while a replica is promoted elsewhere): a new epoch is the larger of
 * the previous + 1 and the clock in ms shifted left 16 bits, plus 16 random bits. They always
 * increase on one node (I8 of the log).
 *
 * Where the history lives: keel.id (written durably before the first record of a new epoch is
 * logged), every snapshot (as of its LSN), and every log segment's header (the epoch of all of
 * its records: wal_begin_epoch starts a segment).
 */
#include <inttypes.h>
#include <string.h>

#include "idfile.h"
#include "kerr.h"
#include "klog.h"
#include "persist.h"
#include "persist_int.h"
#include "util.h"

static void
history_push(snap_identity_t *id, uint64_t epoch, uint64_t first_lsn) {
    if (id->nepochs == SNAP_EPOCHS_MAX) { /* the oldest goes: PSYNC from it becomes a full sync */
        memmove(&id->epochs[0], &id->epochs[1], (SNAP_EPOCHS_MAX - 1) * sizeof id->epochs[0]);
        id->nepochs--;
    }
    id->epochs[id->nepochs++] = (snap_epoch_t){.epoch = epoch, .first_lsn = first_lsn};
}

void
epochs_settle(engine_t *s) {
    persist_t *p = s->persist;
    snap_identity_t *h = &p->identity;
    if (p->idf.present && p->idf.nepochs) { /* keel.id is the newest record of the history */
        h->nepochs = p->idf.nepochs;
        memcpy(h->epochs, p->idf.epochs, p->idf.nepochs * sizeof h->epochs[0]);
    }
    /* else: the loaded snapshot's history (load_snapshot put it here), or none */
    uint64_t newest = h->nepochs ? h->epochs[h->nepochs - 1].epoch : 0;
    uint64_t seen = p->recovered.epoch > p->idf.epoch ? p->recovered.epoch : p->idf.epoch;
    if (!h->nepochs) {
        history_push(h, seen ? seen : 1, 1);
    } else if (seen > newest) {
        /* The log or keel.id names a newer epoch the history lacks (keel.id lost or written
         * by an older build): where it began is unknown, so it is taken to begin where the
         * newest known one did. That attributes records to the newer epoch, never the other
         * way: a replica asking from it is resynced in full rather than trusted. */
        klog(KLOG_WARNING,
             "Epoch %" PRIu64 " of the log is not in the recorded history: taken "
             "to begin at LSN %" PRIu64,
             seen, h->epochs[h->nepochs - 1].first_lsn);
        history_push(h, seen, h->epochs[h->nepochs - 1].first_lsn);
    }
}

void
epochs_to_idfile(engine_t *s) {
    persist_t *p = s->persist;
    const snap_identity_t *h = &p->identity;
    p->idf.epoch = h->nepochs ? h->epochs[h->nepochs - 1].epoch : 1;
    p->idf.nepochs = h->nepochs;
    memcpy(p->idf.epochs, h->epochs, h->nepochs * sizeof h->epochs[0]);
}

/* Record a new epoch beginning at first_lsn: keel.id durably first, then the log's segments. */
static int
begin_epoch(engine_t *s, uint64_t epoch, uint64_t first_lsn) {
    persist_t *p = s->persist;
    history_push(&p->identity, epoch, first_lsn);
    epochs_to_idfile(s); /* log_reached_lsn stays: records up to first_lsn may not be durable */
    int rc = idfile_write(s->cfg.dir, &p->idf);
    if (rc < 0) {
        klog(KLOG_WARNING, "Can't record epoch %" PRIu64 " in %s/" IDFILE_NAME ": %s", epoch,
             s->cfg.dir, kerr_str(rc));
        p->identity.nepochs--;
        epochs_to_idfile(s);
        return rc;
    }
    if (s->wal && (rc = wal_begin_epoch(s->wal, epoch)) < 0)
        return rc;
    klog(KLOG_NOTICE, "Epoch %" PRIu64 " begins at LSN %" PRIu64, epoch, first_lsn);
    return 0;
}

int
epochs_before_write(engine_t *s) {
    persist_t *p = s->persist;
    p->epoch_pending = false;
    const snap_identity_t *h = &p->identity;
    uint64_t next = s->last_lsn_assigned + 1;
    if (h->nepochs && h->epochs[h->nepochs - 1].first_lsn >= next)
        return 0; /* the current epoch holds no record yet: it is this primary's */
    uint64_t last = h->nepochs ? h->epochs[h->nepochs - 1].epoch : 0;
    uint64_t rnd = 0;
    util_random_bytes(&rnd, 2);
    uint64_t epoch = ((uint64_t)util_time_ms() << 16) | (rnd & 0xffff);
    if (epoch <= last)
        epoch = last + 1 + (rnd & 0xffff);
    return begin_epoch(s, epoch, next);
}

void
persist_set_primary(engine_t *s, bool primary) {
    s->persist->epoch_pending = primary;
}

uint64_t
persist_epoch_of(const engine_t *s, uint64_t lsn, uint64_t *first_lsn) {
    const snap_identity_t *h = &s->persist->identity;
    if (lsn == 0)
        return 0;
    for (uint32_t i = h->nepochs; i-- > 0;) /* newest first: most records are in it */
        if (h->epochs[i].first_lsn <= lsn) {
            if (first_lsn)
                *first_lsn = h->epochs[i].first_lsn;
            return h->epochs[i].epoch;
        }
    return 0; /* older than the history kept */
}

int
persist_epoch_end(const engine_t *s, uint64_t epoch, uint64_t *end_lsn) {
    const snap_identity_t *h = &s->persist->identity;
    for (uint32_t i = 0; i < h->nepochs; i++)
        if (h->epochs[i].epoch == epoch) {
            *end_lsn = i + 1 < h->nepochs ? h->epochs[i + 1].first_lsn - 1 : UINT64_MAX;
            return 0;
        }
    return KERR_NOTFOUND;
}

int
persist_follow_epoch(engine_t *s, uint64_t epoch, uint64_t first_lsn) {
    persist_t *p = s->persist;
    snap_identity_t *h = &p->identity;
    /* Epochs of this node with no record (none is begun before a record, but a history settled
     * at start may end in one) give way to the primary's. */
    while (h->nepochs > 1 && h->epochs[h->nepochs - 1].first_lsn > s->last_lsn_assigned)
        h->nepochs--;
    uint64_t cur = h->nepochs ? h->epochs[h->nepochs - 1].epoch : 0;
    if (epoch == cur)
        return 0;
    if (epoch < cur || first_lsn == 0 || first_lsn > s->last_lsn_assigned + 1 ||
        (h->nepochs && first_lsn < h->epochs[h->nepochs - 1].first_lsn))
        return KERR_INVAL; /* not a continuation of this node's history */
    p->epoch_pending = false;
    return begin_epoch(s, epoch, first_lsn);
}

uint32_t
persist_epoch_count(const engine_t *s) {
    return s->persist->identity.nepochs;
}

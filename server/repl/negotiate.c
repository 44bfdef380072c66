/*
 * negotiate.c - the decisions of negotiate.h: which log record format and which snapshot format a
 * primary sends a replica, or the error that refuses it.
 */
#include "negotiate.h"

#include <stdio.h>

#include "kerr.h"

/* The replica as an error names it: its version, and whether the format was taken as 1. */
static void
describe(const negot_replica_t *r, bool known, const char *what, char *buf, size_t len) {
    bool v = r->version && r->version[0];
    if (known)
        snprintf(buf, len, v ? "keel %.64s" : "no keel-version announced", v ? r->version : "");
    else if (v)
        snprintf(buf, len, "keel %.64s, announced no %s format: taken as 1", r->version, what);
    else
        snprintf(buf, len, "announced nothing: taken as 1");
}

int
negot_records(const negot_primary_t *p, const negot_replica_t *r, uint32_t *fmt, char *err,
              size_t errlen) {
    uint32_t reads = r->records_known ? r->records : 1;
    if (reads >= p->record_min) {
        *fmt = reads < p->record_max ? reads : p->record_max;
        return 0;
    }
    char who[128];
    describe(r, r->records_known, "record", who, sizeof who);
    snprintf(err, errlen,
             "ERR replication refused: the replica reads log record format %u at most (%s), this "
             "primary sends format %u at the oldest: upgrade the replica to a keel that reads "
             "record format %u",
             reads, who, p->record_min, p->record_min);
    return KERR_VERSION;
}

int
negot_snapshot(const negot_primary_t *p, const negot_replica_t *r, uint32_t *fmt, char *err,
               size_t errlen) {
    uint32_t reads = r->snapshot_known ? r->snapshot : 1;
    uint32_t target = reads < p->snap_max ? reads : p->snap_max;
    uint32_t data_min = p->data_snap_min > p->snap_min ? p->data_snap_min : p->snap_min;
    if (target >= data_min) {
        *fmt = target;
        return 0;
    }
    char who[128];
    describe(r, r->snapshot_known, "snapshot", who, sizeof who);
    if (data_min == p->snap_min) /* only this primary's oldest format stands in the way */
        snprintf(err, errlen,
                 "ERR full sync refused: the replica reads snapshot format %u at most (%s), this "
                 "primary writes format %u at the oldest: upgrade the replica to a keel that "
                 "reads snapshot format %u",
                 reads, who, p->snap_min, p->snap_min);
    else
        snprintf(err, errlen,
                 "ERR full sync refused: the data set needs snapshot format %u or newer, the "
                 "replica reads format %u at most (%s): upgrade the replica to a keel that reads "
                 "snapshot format %u",
                 data_min, reads, who, data_min);
    return KERR_VERSION;
}

bool
negot_file_fits(uint32_t fmt, uint32_t version, uint32_t min_reader) {
    return version >= 1 && version <= fmt && min_reader <= version;
}

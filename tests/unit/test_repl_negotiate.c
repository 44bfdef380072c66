/* test_repl_negotiate.c - which formats a primary sends a replica (server/repl/negotiate.c):
 * every pair of the primary's format and the replica's announcement that exists - log records
 * (today format 1 only) and snapshots (1..SNAP_FORMAT_VERSION_MAX) - plus a replica that announced
 * nothing, one that announced a format that does not exist (0), one newer than the primary, and a
 * data set that needs a newer snapshot format; the decision and the error's exact text. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "kerr.h"
#include "negotiate.h"
#include "repl.h"
#include "snapshot.h"

#define NONE UINT32_MAX /* the replica did not announce the field */

static negot_replica_t
replica(const char *version, uint32_t records, uint32_t snapshot) {
    return (negot_replica_t){.version = version,
                             .records_known = records != NONE,
                             .snapshot_known = snapshot != NONE,
                             .records = records == NONE ? 0 : records,
                             .snapshot = snapshot == NONE ? 0 : snapshot};
}

/* A primary whose log holds record format rec and whose writer makes snapshot formats 1..snap. */
static negot_primary_t
primary(uint32_t rec, uint32_t snap, uint32_t data_min) {
    return (negot_primary_t){.record_min = rec,
                             .record_max = rec,
                             .snap_min = SNAP_FORMAT_VERSION_MIN,
                             .snap_max = snap,
                             .data_snap_min = data_min};
}

/* Both versions an error must name, as they appear in the text. */
static void
assert_names(const char *err, const char *reads, const char *needs) {
    cr_assert(!strncmp(err, "ERR ", 4), "error without ERR: %s", err);
    cr_assert(strstr(err, reads), "'%s' not in: %s", reads, err);
    cr_assert(strstr(err, needs), "'%s' not in: %s", needs, err);
    cr_assert(!strchr(err, '"') && !strchr(err, '\'') && !strchr(err, '\n'),
              "an error goes inline on the replica's link: no quotes, one line: %s", err);
}

Test(negotiate, records_every_pair) {
    cr_assert_eq(REPL_RECORD_FORMAT, 1, "new record format: extend the table below");
    uint32_t announced[] = {NONE, 0, 1, 2, 3, 1000};
    for (uint32_t p = 1; p <= REPL_RECORD_FORMAT; p++)
        for (size_t i = 0; i < sizeof announced / sizeof *announced; i++) {
            uint32_t a = announced[i];
            uint32_t reads = a == NONE ? 1 : a;
            negot_primary_t pr = primary(p, SNAP_FORMAT_VERSION_MAX, 0);
            negot_replica_t r = replica("1.0", a, 3);
            uint32_t fmt = 99;
            char err[NEGOT_ERR_MAX] = "";
            int rc = negot_records(&pr, &r, &fmt, err, sizeof err);
            if (reads >= p) {
                cr_assert_eq(rc, 0, "primary %u, announced %u: %s", p, a, err);
                cr_assert_eq(fmt, p, "primary %u, announced %u: sends %u", p, a, fmt);
            } else {
                cr_assert_eq(rc, KERR_VERSION, "primary %u, announced %u", p, a);
                cr_assert_eq(fmt, 99, "no format decided on a refusal");
                char r_s[64], n_s[64];
                snprintf(r_s, sizeof r_s, "log record format %u at most", reads);
                snprintf(n_s, sizeof n_s, "reads record format %u", p);
                assert_names(err, r_s, n_s);
            }
        }
}

Test(negotiate, records_refusal_text) {
    negot_primary_t p = primary(1, 3, 0);
    negot_replica_t r = replica("0.9.1", 0, 3);
    uint32_t fmt;
    char err[NEGOT_ERR_MAX];
    cr_assert_eq(negot_records(&p, &r, &fmt, err, sizeof err), KERR_VERSION);
    cr_assert_str_eq(err, "ERR replication refused: the replica reads log record format 0 at most "
                          "(keel 0.9.1), this primary sends format 1 at the oldest: upgrade the "
                          "replica to a keel that reads record format 1");
    /* A future primary that sends format 2 at the oldest, to a replica that announced nothing. */
    p = primary(2, 3, 0);
    r = replica(NULL, NONE, NONE);
    cr_assert_eq(negot_records(&p, &r, &fmt, err, sizeof err), KERR_VERSION);
    cr_assert_str_eq(err, "ERR replication refused: the replica reads log record format 1 at most "
                          "(announced nothing: taken as 1), this primary sends format 2 at the "
                          "oldest: upgrade the replica to a keel that reads record format 2");
    /* It sends the newest both know: a primary that can send 1..3 to a replica reading 2. */
    p.record_min = 1;
    p.record_max = 3;
    r = replica("2.0", 2, 3);
    cr_assert_eq(negot_records(&p, &r, &fmt, err, sizeof err), 0);
    cr_assert_eq(fmt, 2);
}

Test(negotiate, snapshot_every_pair) {
    uint32_t announced[SNAP_FORMAT_VERSION_MAX + 4];
    size_t na = 0;
    announced[na++] = NONE;
    for (uint32_t a = 0; a <= SNAP_FORMAT_VERSION_MAX + 1; a++) /* 0, each, and a newer one */
        announced[na++] = a;
    for (uint32_t p = SNAP_FORMAT_VERSION_MIN; p <= SNAP_FORMAT_VERSION_MAX; p++)
        for (uint32_t data = 0; data <= p; data++) /* 0: no constraint; else the oldest that fits */
            for (size_t i = 0; i < na; i++) {
                uint32_t a = announced[i];
                uint32_t reads = a == NONE ? 1 : a;
                uint32_t want = reads < p ? reads : p;
                uint32_t need = data > 1 ? data : 1;
                negot_primary_t pr = primary(1, p, data);
                negot_replica_t r = replica(i % 2 ? "1.2.3" : NULL, 1, a);
                uint32_t fmt = 99;
                char err[NEGOT_ERR_MAX] = "";
                int rc = negot_snapshot(&pr, &r, &fmt, err, sizeof err);
                if (want >= need) {
                    cr_assert_eq(rc, 0, "primary %u, data %u, announced %u: %s", p, data, a, err);
                    cr_assert_eq(fmt, want, "primary %u, announced %u: format %u", p, a, fmt);
                    cr_assert_leq(fmt, reads, "never newer than the replica reads");
                    cr_assert_leq(fmt, p, "never newer than the primary writes");
                } else {
                    cr_assert_eq(rc, KERR_VERSION, "primary %u, data %u, announced %u", p, data, a);
                    cr_assert_eq(fmt, 99);
                    char r_s[64], n_s[64];
                    snprintf(r_s, sizeof r_s, "format %u at most", reads);
                    snprintf(n_s, sizeof n_s, "reads snapshot format %u", need);
                    assert_names(err, r_s, n_s);
                    if (need == SNAP_FORMAT_VERSION_MIN) /* announced 0: nothing it reads */
                        cr_assert(strstr(err, "this primary writes format 1 at the oldest"), "%s",
                                  err);
                    else
                        cr_assert(strstr(err, "the data set needs snapshot format"), "%s", err);
                }
            }
}

Test(negotiate, snapshot_texts) {
    negot_primary_t p = primary(1, SNAP_FORMAT_VERSION_MAX, 0);
    uint32_t fmt = 0;
    char err[NEGOT_ERR_MAX];
    /* Nothing announced (a pre-Keel client): format 1. */
    negot_replica_t r = replica(NULL, NONE, NONE);
    cr_assert_eq(negot_snapshot(&p, &r, &fmt, err, sizeof err), 0);
    cr_assert_eq(fmt, 1);
    /* A newer replica than this primary: the newest this primary writes. */
    r = replica("9.0", 1, SNAP_FORMAT_VERSION_MAX + 5);
    cr_assert_eq(negot_snapshot(&p, &r, &fmt, err, sizeof err), 0);
    cr_assert_eq(fmt, SNAP_FORMAT_VERSION_MAX);
    /* A data set that needs format 3 (as a failed export shows), a replica reading 2. */
    p.data_snap_min = 3;
    r = replica("0.8", 1, 2);
    cr_assert_eq(negot_snapshot(&p, &r, &fmt, err, sizeof err), KERR_VERSION);
    cr_assert_str_eq(err, "ERR full sync refused: the data set needs snapshot format 3 or newer, "
                          "the replica reads format 2 at most (keel 0.8): upgrade the replica to "
                          "a keel that reads snapshot format 3");
    r = replica("0.8", 1, NONE);
    cr_assert_eq(negot_snapshot(&p, &r, &fmt, err, sizeof err), KERR_VERSION);
    cr_assert_str_eq(err, "ERR full sync refused: the data set needs snapshot format 3 or newer, "
                          "the replica reads format 1 at most (keel 0.8, announced no snapshot "
                          "format: taken as 1): upgrade the replica to a keel that reads snapshot "
                          "format 3");
    /* Format 0 does not exist: nothing this primary writes is read. */
    p.data_snap_min = 0;
    r = replica(NULL, 1, 0);
    cr_assert_eq(negot_snapshot(&p, &r, &fmt, err, sizeof err), KERR_VERSION);
    cr_assert_str_eq(err, "ERR full sync refused: the replica reads snapshot format 0 at most (no "
                          "keel-version announced), this primary writes format 1 at the oldest: "
                          "upgrade the replica to a keel that reads snapshot format 1");
}

/* A file may go when it is not newer than the negotiated format (whatever it needs to load). */
Test(negotiate, file_fits) {
    for (uint32_t fmt = 1; fmt <= SNAP_FORMAT_VERSION_MAX; fmt++)
        for (uint32_t v = 1; v <= SNAP_FORMAT_VERSION_MAX + 1; v++)
            for (uint32_t min = 1; min <= v; min++)
                cr_assert_eq(negot_file_fits(fmt, v, min), v <= fmt, "format %u, file v%u min %u",
                             fmt, v, min);
    cr_assert_not(negot_file_fits(3, 2, 3),
                  "a file that claims to need a newer reader than itself");
    cr_assert_not(negot_file_fits(3, 0, 0), "version 0 is no file");
}

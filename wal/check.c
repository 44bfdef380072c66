/*
 * check.c - wal_check_dir(), the verification behind `keel-check wal DIR`: what the directory
 * is (a log copy, an empty directory, something else), one line per segment, the copy's
 * identity and whether it was closed cleanly, and a verdict the tool turns into its exit code.
 * The verification itself is the reader's (wal_scan_dir), so recovery and the tool agree on
 * what damage is.
 */
#include "wal_int.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "kerr.h"
#include "kmem.h"

static void
print_segment(FILE *out, const wal_dir_scan_t *sc, int i) {
    fprintf(out, "%s  lsn %" PRIu64 "..%" PRIu64 "  records %" PRIu64 "  bytes %" PRIu64,
            sc->segs[i].name, sc->segs[i].first_lsn, sc->seg_last[i], sc->seg_recs[i],
            sc->seg_end[i]);
    if (sc->seg_recs[i]) {
        time_t a = (time_t)(sc->seg_ts_min[i] / 1000), b = (time_t)(sc->seg_ts_max[i] / 1000);
        struct tm ta, tb;
        char sa[32], sb[32];
        gmtime_r(&a, &ta);
        gmtime_r(&b, &tb);
        strftime(sa, sizeof sa, "%Y-%m-%dT%H:%M:%SZ", &ta);
        strftime(sb, sizeof sb, "%Y-%m-%dT%H:%M:%SZ", &tb);
        fprintf(out, "  time %s..%s", sa, sb);
    }
    if (sc->torn && sc->torn_seg == i)
        fprintf(out, "  TORN TAIL at offset %" PRIu64 " (cut by recovery)", sc->torn_off);
    if (sc->sealed && i == sc->nsegs - 1)
        fprintf(out, "  sealed");
    fputc('\n', out);
}

/* Entries of dir other than ".", ".." and the owner's lock file (a server locks every log copy,
 * common/klock.h), up to 2 (enough to tell empty from not). */
static int
dir_entries(const char *dir) {
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int n = 0;
    for (struct dirent *e; n < 2 && (e = readdir(d)) != NULL;)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0 &&
             strcmp(e->d_name, "keel.lock") != 0;
    closedir(d);
    return n;
}

/* A directory without segments: empty (WAL_CHECK_EMPTY), or not a log copy (KERR_FORMAT). A
 * data directory is the usual mistake: say so when DIR/wal holds segments. */
static int
no_segments(const char *dir, FILE *out) {
    if (dir_entries(dir) == 0) {
        fprintf(out, "EMPTY: no segment at all: fine for a copy that was never written, a lost "
                     "copy otherwise - ATTENTION\n");
        return WAL_CHECK_EMPTY;
    }
    char sub[WAL_PATH_MAX + 8];
    wal_seg_t *v = NULL;
    int n = 0;
    snprintf(sub, sizeof sub, "%s/wal", dir);
    fprintf(out, "NOT A LOG COPY: %s holds no wal-*.log segment", dir);
    if (wal_list_segments(sub, &v, &n) == 0 && n > 0)
        fprintf(out, " (%s holds %d: the log copy of a data directory)", sub, n);
    fputc('\n', out);
    kfree(v);
    return KERR_FORMAT;
}

/* The copy's identity and state, one line. */
static void
print_identity(FILE *out, const wal_dir_scan_t *sc) {
    char id[WAL_DATASET_ID_STR_MAX];
    wal_dataset_id_str(sc->dataset_id, id, sizeof id);
    fprintf(out, "data set %s  epoch ", id);
    if (sc->epoch)
        fprintf(out, "%" PRIu64, sc->epoch);
    else
        fprintf(out, "unknown");
    fprintf(out, "  format version %u  ", sc->version);
    if (sc->sealed)
        fprintf(out, "sealed at LSN %" PRIu64 " (closed cleanly)\n", sc->seal_lsn);
    else if (sc->version < 2)
        fprintf(out, "no seal (format version 1 had none)\n");
    else
        fprintf(out, "not sealed (open, or not closed cleanly)\n");
}

static int
verdict(FILE *out, const wal_dir_scan_t *sc) {
    if (sc->torn) {
        fprintf(out,
                "TORN TAIL: %s at offset %" PRIu64 ", after LSN %" PRIu64 ": %" PRIu64
                " record(s), %" PRIu64 " bytes that recovery will cut - ATTENTION\n",
                sc->segs[sc->torn_seg].name, sc->torn_off, sc->last_lsn, sc->torn_records,
                sc->torn_bytes);
        return WAL_CHECK_TORN;
    }
    fprintf(out, "ok: %d segments, %" PRIu64 " records, lsn %" PRIu64 "..%" PRIu64 "\n", sc->nsegs,
            sc->nrecords, sc->first_lsn, sc->last_lsn);
    return WAL_CHECK_OK;
}

int
wal_check_dir(const char *dir, FILE *out, int verbose) {
    struct stat st;
    fprintf(out, "wal directory %s\n", dir);
    if (stat(dir, &st) != 0) {
        int rc = errno == ENOENT ? KERR_NOTFOUND : KERR_SYS(errno);
        fprintf(out, "NOT A LOG COPY: %s\n", errno == ENOENT ? "no such directory" : kerr_str(rc));
        return rc;
    }
    if (!S_ISDIR(st.st_mode)) {
        fprintf(out, "NOT A LOG COPY: not a directory\n");
        return KERR_FORMAT;
    }
    wal_scan_opts_t o = {.print = verbose ? out : NULL};
    wal_dir_scan_t sc;
    char err[WAL_PATH_MAX + 256] = "";
    int rc = wal_scan_dir(dir, &o, &sc, err, sizeof err);
    for (int i = 0; i < sc.nscanned; i++)
        print_segment(out, &sc, i);
    if (rc == KERR_VERSION) {
        fprintf(out, "NOT READABLE BY THIS BUILD: %s\n", err);
    } else if (rc) {
        fprintf(out, "DAMAGED: %s\n", err);
    } else if (sc.nsegs == 0) {
        rc = no_segments(dir, out);
    } else {
        print_identity(out, &sc);
        rc = verdict(out, &sc);
    }
    wal_dir_scan_free(&sc);
    return rc;
}

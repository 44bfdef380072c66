/*
 * keel_check.c - keel-check: verify the files of a data directory without a running server.
 *
 *   keel-check wal DIR [DIR...]     every segment of each log copy: headers, data-set id and
 *                                   epoch, record checksums, LSN order, the clean-shutdown seal
 *   keel-check snapshot FILE...     every chunk checksum and record of a snapshot file
 *   -v / --verbose                  one line per record (wal) or per chunk (snapshot)
 *
 * Exit status (also in usage() and docs/formats/wal.md): 0 everything checked is sound; 1 damage
 * (or a log segment of a newer format this build cannot verify); 2 bad usage, or a wal path that
 * does not exist or is not a log copy; 3 attention: sound, but a log copy ends in a torn tail
 * (recovery will cut records) or is an empty directory. With several paths the status is the
 * most severe one seen, in the order 1, 2, 3, 0. The checks themselves live in wal/
 * (wal_check_dir) and snapshot/ (snap_check_file) so that the server's recovery and this tool
 * agree on what damage is.
 */
#include <stdio.h>
#include <string.h>

#include "kerr.h"
#include "snapshot.h"
#include "wal.h"

enum { EXIT_SOUND = 0, EXIT_DAMAGED = 1, EXIT_USAGE = 2, EXIT_ATTENTION = 3 };

static void
usage(FILE *f) {
    fprintf(f, "Usage: keel-check [-v] wal DIR [DIR...]\n"
               "       keel-check [-v] snapshot FILE [FILE...]\n"
               "\n"
               "Verifies transaction log copies (wal-dirs, e.g. <dir>/wal) or snapshot files and\n"
               "prints a summary; for a log copy also its data-set id, epoch and whether it was\n"
               "closed cleanly (sealed).\n"
               "  -v, --verbose   print every record (wal) or chunk (snapshot)\n"
               "Exit status:\n"
               "  0  sound\n"
               "  1  damaged (or a log segment of a newer format than this build reads)\n"
               "  2  usage error, or a wal path that does not exist or is not a log copy\n"
               "     (no wal-*.log segment in a directory that is not empty)\n"
               "  3  attention: sound, but a log copy ends in a torn tail that recovery will cut,\n"
               "     or is an empty directory\n"
               "With several paths: the most severe status seen, in the order 1, 2, 3, 0.\n");
}

static int
severity(int status) { /* higher is more severe */
    static const int rank[] = {
        [EXIT_SOUND] = 0, [EXIT_ATTENTION] = 1, [EXIT_USAGE] = 2, [EXIT_DAMAGED] = 3};
    return rank[status];
}

/* Check one log copy; prints its report and returns its exit status. */
static int
check_wal(const char *dir, int verbose) {
    int rc = wal_check_dir(dir, stdout, verbose);
    switch (rc) {
    case WAL_CHECK_OK: printf("wal %s: OK\n", dir); return EXIT_SOUND;
    case WAL_CHECK_TORN: printf("wal %s: TORN TAIL - ATTENTION\n", dir); return EXIT_ATTENTION;
    case WAL_CHECK_EMPTY: printf("wal %s: EMPTY - ATTENTION\n", dir); return EXIT_ATTENTION;
    case KERR_NOTFOUND:
    case KERR_FORMAT:
        fprintf(stderr, "keel-check: wal %s: not a log copy (%s)\n", dir,
                rc == KERR_NOTFOUND ? "no such directory" : "see above");
        return EXIT_USAGE;
    }
    fprintf(stderr, "keel-check: wal %s: DAMAGED (%s)\n", dir, kerr_str(rc));
    return EXIT_DAMAGED;
}

static int
check_snapshot(const char *file, int verbose) {
    int rc = snap_check_file(file, stdout, verbose);
    if (rc < 0) {
        fprintf(stderr, "keel-check: snapshot %s: DAMAGED (%s)\n", file, kerr_str(rc));
        return EXIT_DAMAGED;
    }
    printf("snapshot %s: OK\n", file);
    return EXIT_SOUND;
}

int
main(int argc, char **argv) {
    int verbose = 0, i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return EXIT_SOUND;
        }
        if (!strcmp(argv[i], "-v") || !strcmp(argv[i], "--verbose")) {
            verbose = 1;
            continue;
        }
        fprintf(stderr, "keel-check: unknown option '%s'\n", argv[i]);
        usage(stderr);
        return EXIT_USAGE;
    }
    if (argc - i < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    const char *what = argv[i++];
    int is_wal = !strcmp(what, "wal"), is_snap = !strcmp(what, "snapshot");
    if (!is_wal && !is_snap) {
        fprintf(stderr, "keel-check: unknown kind '%s' (wal or snapshot)\n", what);
        usage(stderr);
        return EXIT_USAGE;
    }
    int status = EXIT_SOUND;
    for (; i < argc; i++) {
        int s = is_wal ? check_wal(argv[i], verbose) : check_snapshot(argv[i], verbose);
        if (severity(s) > severity(status))
            status = s;
    }
    fflush(stdout);
    return status;
}

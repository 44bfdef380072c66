/*
 * keel_check.c - keel-check: verify the files of a data directory without a running server.
 *
 *   keel-check wal DIR [DIR...]     every segment of each log copy: headers, record checksums,
 *                                   LSN order; a torn tail at the end is reported, not damage
 *   keel-check snapshot FILE...     every chunk checksum and record of a snapshot file
 *   -v / --verbose                  one line per record (wal) or per chunk (snapshot)
 *
 * Exit status: 0 when everything checked is sound, 1 on damage, 2 on bad usage. The checks
 * themselves live in wal/ (wal_check_dir) and snapshot/ (snap_check_file) so that the server's
 * recovery and this tool agree on what damage is.
 */
#include <stdio.h>
#include <string.h>

#include "kerr.h"
#include "snapshot.h"
#include "wal.h"

static void
usage(FILE *f)
{
    fprintf(f, "Usage: keel-check [-v] wal DIR [DIR...]\n"
               "       keel-check [-v] snapshot FILE [FILE...]\n"
               "\n"
               "Verifies a transaction log copy (a wal-dir) or a snapshot file and prints a summary.\n"
               "  -v, --verbose   print every record (wal) or chunk (snapshot)\n"
               "Exit status: 0 sound, 1 damaged, 2 usage error.\n");
}

int
main(int argc, char **argv)
{
    int verbose = 0, i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(argv[i], "-v") || !strcmp(argv[i], "--verbose")) {
            verbose = 1;
            continue;
        }
        fprintf(stderr, "keel-check: unknown option '%s'\n", argv[i]);
        usage(stderr);
        return 2;
    }
    if (argc - i < 2) {
        usage(stderr);
        return 2;
    }
    const char *what = argv[i++];
    int is_wal = !strcmp(what, "wal"), is_snap = !strcmp(what, "snapshot");
    if (!is_wal && !is_snap) {
        fprintf(stderr, "keel-check: unknown kind '%s' (wal or snapshot)\n", what);
        usage(stderr);
        return 2;
    }
    int bad = 0;
    for (; i < argc; i++) {
        int rc = is_wal ? wal_check_dir(argv[i], stdout, verbose)
                        : snap_check_file(argv[i], stdout, verbose);
        if (rc < 0) {
            fprintf(stderr, "keel-check: %s %s: DAMAGED (%s)\n", what, argv[i], kerr_str(rc));
            bad = 1;
        } else {
            printf("%s %s: OK\n", what, argv[i]);
        }
    }
    fflush(stdout);
    return bad;
}

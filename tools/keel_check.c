/*
 * keel_check.c - keel-check: verify the files of a data directory without a running server.
 *
 *   keel-check wal DIR [DIR...]     every segment of each log copy: headers, data-set id and
 *                                   epoch, record checksums, LSN order, the clean-shutdown seal;
 *                                   then every record's payload the way the server's replay
 *                                   reads it (RESP arrays naming known commands)
 *   keel-check snapshot FILE...     every chunk checksum and record of a snapshot file, and what
 *                                   a server with --databases N would refuse
 *   -v / --verbose                  one line per record (wal) or per chunk (snapshot)
 *
 * Exit status (also in usage() and docs/check.md): 0 everything checked is sound; 1 damage, a
 * sound file a server would refuse, or a log segment of a newer format this build cannot verify;
 * 2 bad usage, a path that does not exist or is not a log copy / snapshot file, or a log copy a
 * running server holds (without --live); 3 attention: sound, but a log copy ends in a torn tail
 * (recovery will cut records) or is an empty directory. With several paths the status is the
 * most severe one seen, in the order 1, 2, 3, 0.
 *
 * The framing checks live in wal/ (wal_check_dir) and snapshot/ (snap_check_file_opts) so that
 * recovery and this tool agree on what damage is. A payload is opaque to wal/: whether it means
 * something to the server is decided here with the server's own RESP parser and command table,
 * because a record the checksums accept but replay rejects stops a server's start just the same.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd.h"
#include "commands.h"
#include "config.h"
#include "engine.h"
#include "kerr.h"
#include "klock.h"
#include "kmem.h"
#include "resp.h"
#include "snapshot.h"
#include "util.h"
#include "wal.h"

enum { EXIT_SOUND = 0, EXIT_DAMAGED = 1, EXIT_USAGE = 2, EXIT_ATTENTION = 3 };

/* The on-disk layout the payload pass needs to name a record's place (docs/formats/wal.md,
 * section 2): the reader hands out records without their file and offset. */
#define SEG_HDR_SIZE  64
#define REC_HDR_SIZE  32
#define REC_ALIGN     8
#define SEG_NAME_LEN  28          /* "wal-" + 20 digits + ".log" */
#define RESP_LINE_MAX (64 * 1024) /* the server's header-line limit (server/net/conn.c) */

typedef struct check_opts {
    int verbose;
    bool live;          /* check a directory a running server holds, and say so */
    uint64_t databases; /* the server's `databases`: SELECT and db fields must be below it */
} check_opts_t;

static void
usage(FILE *f) {
    fprintf(f,
            "Usage: keel-check [-v] [--live] [--databases N] wal DIR [DIR...]\n"
            "       keel-check [-v] [--databases N] snapshot FILE [FILE...]\n"
            "\n"
            "Verifies transaction log copies (wal-dirs, e.g. <dir>/wal) or snapshot files and\n"
            "prints a summary; for a log copy also its data-set id, epoch and whether it was\n"
            "closed cleanly (sealed). Every log record's payload must decode as the server's\n"
            "replay decodes it: RESP arrays of bulk strings, each a command this build knows,\n"
            "with a valid number of arguments, and SELECT / the record's database below N.\n"
            "  -v, --verbose     print every record (wal) or chunk (snapshot)\n"
            "  --databases N     the server's `databases` setting (default 16)\n"
            "  --live            check a log copy even while a running server holds it (its\n"
            "                    tail may be in the middle of a write)\n"
            "Exit status:\n"
            "  0  sound\n"
            "  1  damaged, or refused: sound, but a server would not load it (a record replay\n"
            "     cannot run, a snapshot key in a database >= N, a duplicate key or member); or\n"
            "     a log segment of a newer format than this build reads\n"
            "  2  usage error; a path that does not exist, is not a log copy (no wal-*.log in a\n"
            "     directory that is not empty) or is not a snapshot file; or a log copy a running\n"
            "     server holds (its keel.lock), unless --live\n"
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

/* ---- the lock ----------------------------------------------------------------------------- */

/* A shared lock on dir's keel.lock, taken only when the file exists: a directory no server of a
 * locking build ever owned has nothing to share, and creating the file would change what is
 * checked (an empty log copy would no longer read as empty). KERR_BUSY: *pid holds it. */
static int
lock_if_owned(const char *dir, klock_t *l, pid_t *pid) {
    char path[PATH_MAX];
    l->fd = -1;
    *pid = 0;
    if (snprintf(path, sizeof path, "%s/" KLOCK_FILE, dir) >= (int)sizeof path ||
        access(path, F_OK) != 0)
        return 0;
    return klock_acquire(l, dir, false, pid);
}

/* Shared locks on a log copy and on its parent (the data directory, when it has a lock).
 * EXIT_SOUND to go on, EXIT_USAGE when a running server holds either and --live is not given. */
static int
lock_wal_dir(const char *dir, const check_opts_t *o, klock_t locks[2]) {
    char real[PATH_MAX], parent[PATH_MAX];
    const char *dirs[2] = {dir, NULL};
    locks[0].fd = locks[1].fd = -1;
    if (realpath(dir, real)) {
        snprintf(parent, sizeof parent, "%s", real);
        dirs[1] = dirname(parent);
    }
    for (int i = 0; i < 2 && dirs[i]; i++) {
        pid_t pid;
        int rc = lock_if_owned(dirs[i], &locks[i], &pid);
        if (rc == KERR_BUSY && !o->live) {
            fprintf(stderr,
                    "keel-check: wal %s: %s is in use by a running server (pid %d): a live "
                    "log's tail changes while it is read; stop the server or copy the "
                    "directory (--live checks it anyway)\n",
                    dir, dirs[i], (int)pid);
            klock_release(&locks[0]);
            return EXIT_USAGE;
        }
        if (rc == KERR_BUSY)
            fprintf(stderr,
                    "keel-check: wal %s: %s is in use by a running server (pid %d); checking "
                    "anyway (--live): records being written may show as a torn tail\n",
                    dir, dirs[i], (int)pid);
        else if (rc < 0)
            fprintf(stderr, "keel-check: wal %s: no shared lock on %s (%s); checking without\n",
                    dir, dirs[i], kerr_str(rc));
    }
    return EXIT_SOUND;
}

/* ---- log payloads ------------------------------------------------------------------------- */

typedef struct seg_name {
    uint64_t first_lsn;
    char name[SEG_NAME_LEN + 1];
} seg_name_t;

typedef struct payload_ctx {
    engine_t *eng;
    uint64_t databases;
    resp_parser_t parser;
    resp_limits_t lim;
    seg_name_t *segs; /* the copy's segments by first LSN, to name where a record lies */
    size_t nsegs, cur;
    uint64_t off; /* offset of the next record in segs[cur] */
    uint64_t records, commands;
    /* the first failure: */
    uint64_t bad_lsn, bad_off;
    size_t bad_at; /* offset of the command in the payload */
    char what[256];
} payload_ctx_t;

static int
seg_cmp(const void *a, const void *b) {
    const seg_name_t *x = a, *y = b;
    return x->first_lsn < y->first_lsn ? -1 : x->first_lsn > y->first_lsn;
}

/* The copy's wal-<20 digits>.log names, sorted by first LSN (the names wal/ writes). */
static int
list_segments(const char *dir, payload_ctx_t *c) {
    DIR *d = opendir(dir);
    if (!d)
        return KERR_SYS(errno);
    size_t cap = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        unsigned long long lsn;
        int n = 0;
        if (strlen(e->d_name) != SEG_NAME_LEN ||
            sscanf(e->d_name, "wal-%20llu.log%n", &lsn, &n) != 1 || n != SEG_NAME_LEN)
            continue;
        if (c->nsegs == cap) {
            cap = cap ? cap * 2 : 16;
            c->segs = krealloc(c->segs, cap * sizeof *c->segs);
        }
        c->segs[c->nsegs].first_lsn = lsn;
        memcpy(c->segs[c->nsegs++].name, e->d_name, SEG_NAME_LEN + 1);
    }
    closedir(d);
    if (c->nsegs)
        qsort(c->segs, c->nsegs, sizeof *c->segs, seg_cmp);
    return 0;
}

static int bad(payload_ctx_t *c, size_t at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int
bad(payload_ctx_t *c, size_t at, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->what, sizeof c->what, fmt, ap);
    va_end(ap);
    c->bad_at = at;
    return KERR_CORRUPT;
}

/* One effect command, as replay.c takes it: SELECT of a database that exists, or a command of
 * the table with a valid arity. */
static int
check_command(payload_ctx_t *c, size_t at, int argc, karg_t *argv) {
    int name_len = (int)(argv[0].n > 64 ? 64 : argv[0].n);
    if (util_eq_nocase(argv[0].p, argv[0].n, "select")) {
        long long id;
        if (argc != 2 || !util_parse_ll(argv[1].p, argv[1].n, &id))
            return bad(c, at, "bad SELECT (%d arguments, or not a number)", argc);
        if (id < 0 || (uint64_t)id >= c->databases)
            return bad(c, at, "SELECT %lld: the server has databases 0..%" PRIu64, id,
                       c->databases - 1);
        return 0;
    }
    cmd_def_t *cmd = cmd_resolve(c->eng, argc, argv);
    if (!cmd)
        return bad(c, at, "unknown command '%.*s'", name_len, argv[0].p);
    if (!cmd_arity_ok(cmd, argc))
        return bad(c, at, "wrong number of arguments (%d) for '%s'", argc, cmd->fullname);
    return 0;
}

/* Every command of one payload. The server's replay takes RESP arrays only: an inline command or
 * an empty array, which resp_parse would accept or skip, stops its start, so they are damage. */
static int
check_payload(payload_ctx_t *c, const wal_record_t *rec) {
    resp_parser_t *p = &c->parser;
    const char *buf = rec->payload;
    char err[128] = "";
    if (rec->db >= c->databases)
        return bad(c, 0, "database index %u in the record header, the server has 0..%" PRIu64,
                   rec->db, c->databases - 1);
    if (rec->len == 0)
        return bad(c, 0, "empty payload: no effect command");
    p->pos = 0;
    resp_parser_next(p);
    while (p->pos < rec->len) {
        size_t at = p->pos, need;
        int argc;
        karg_t *argv;
        if (buf[at] != '*')
            return bad(c, at, "not a RESP array (byte 0x%02x): replay reads arrays of bulk strings",
                       (unsigned char)buf[at]);
        int rc = resp_parse(p, buf, rec->len, &c->lim, &argc, &argv, &need, err, sizeof err);
        if (rc < 0)
            return bad(c, at, "RESP protocol error: %s", err);
        if (p->start != at)
            return bad(c, at, "an empty array: no command");
        if (rc == RESP_NEED_MORE)
            return bad(c, at, "the payload ends inside a command (%zu bytes left)",
                       (size_t)rec->len - at);
        if ((rc = check_command(c, at, argc, argv)) < 0)
            return rc;
        c->commands++;
        resp_parser_next(p);
    }
    return 0;
}

/* wal_apply_cb: checks one record and keeps track of where it lies. */
static int
payload_cb(void *ctx, const wal_record_t *rec) {
    payload_ctx_t *c = ctx;
    while (c->cur + 1 < c->nsegs && rec->lsn >= c->segs[c->cur + 1].first_lsn) {
        c->cur++;
        c->off = SEG_HDR_SIZE;
    }
    uint64_t off = c->off;
    c->off += (REC_HDR_SIZE + rec->len + REC_ALIGN - 1) / REC_ALIGN * REC_ALIGN;
    if (check_payload(c, rec) < 0) {
        c->bad_lsn = rec->lsn;
        c->bad_off = off;
        return KERR_CORRUPT;
    }
    c->records++;
    return 0;
}

/* An engine with the server's command table, built once (as keel-restore builds its own). */
static engine_t *
command_engine(void) {
    static engine_t eng;
    static bool made;
    if (!made) {
        config_defaults(&eng);
        engine_init(&eng, commands_registry);
        made = true;
    }
    return &eng;
}

/* The payload pass over a copy whose framing verified. Returns an exit status. */
static int
check_payloads(const char *dir, const check_opts_t *o) {
    engine_t *eng = command_engine();
    payload_ctx_t c = {.eng = eng, .databases = o->databases, .off = SEG_HDR_SIZE};
    c.lim = (resp_limits_t){eng->cfg.proto_max_bulk_len, eng->cfg.multibulk_max, RESP_LINE_MAX};
    char err[1024] = "";
    resp_parser_init(&c.parser);
    int rc = list_segments(dir, &c);
    if (rc == 0)
        rc = wal_read_dir(dir, 0, payload_cb, &c, err, sizeof err);
    int status = EXIT_SOUND;
    if (rc == KERR_CORRUPT && c.what[0]) {
        const char *file = c.nsegs ? c.segs[c.cur].name : "?";
        printf("payload DAMAGED: %s/%s offset %" PRIu64 ": record LSN %" PRIu64
               ": command at payload offset %zu: %s\n",
               dir, file, c.bad_off, c.bad_lsn, c.bad_at, c.what);
        fprintf(stderr,
                "keel-check: wal %s: DAMAGED (%s offset %" PRIu64 ", LSN %" PRIu64
                ": %s): a server would refuse to replay it\n",
                dir, file, c.bad_off, c.bad_lsn, c.what);
        status = EXIT_DAMAGED;
    } else if (rc < 0) { /* the copy changed since the framing pass, or cannot be read */
        fprintf(stderr, "keel-check: wal %s: DAMAGED (%s)\n", dir, err[0] ? err : kerr_str(rc));
        status = EXIT_DAMAGED;
    } else {
        printf("payloads: %" PRIu64 " records, %" PRIu64
               " commands: each one a command this build replays\n",
               c.records, c.commands);
    }
    resp_parser_free(&c.parser);
    kfree(c.segs);
    return status;
}

/* ---- the two kinds ------------------------------------------------------------------------ */

/* Check one log copy; prints its report and returns its exit status. */
static int
check_wal(const char *dir, const check_opts_t *o) {
    klock_t locks[2];
    if (lock_wal_dir(dir, o, locks) != EXIT_SOUND)
        return EXIT_USAGE;
    int rc = wal_check_dir(dir, stdout, o->verbose), status;
    switch (rc) {
    case WAL_CHECK_OK:
    case WAL_CHECK_TORN:
        status = check_payloads(dir, o); /* a torn tail is read up to where it starts */
        if (status == EXIT_SOUND && rc == WAL_CHECK_TORN) {
            printf("wal %s: TORN TAIL - ATTENTION\n", dir);
            status = EXIT_ATTENTION;
        } else if (status == EXIT_SOUND) {
            printf("wal %s: OK\n", dir);
        }
        break;
    case WAL_CHECK_EMPTY:
        printf("wal %s: EMPTY - ATTENTION\n", dir);
        status = EXIT_ATTENTION;
        break;
    case KERR_NOTFOUND:
    case KERR_FORMAT:
        fprintf(stderr, "keel-check: wal %s: not a log copy (%s)\n", dir,
                rc == KERR_NOTFOUND ? "no such directory" : "see above");
        status = EXIT_USAGE;
        break;
    default:
        fprintf(stderr, "keel-check: wal %s: DAMAGED (%s)\n", dir, kerr_str(rc));
        status = EXIT_DAMAGED;
    }
    klock_release(&locks[0]);
    klock_release(&locks[1]);
    return status;
}

/* The last line of a report (the check's verdict, with its reason), without its newline. */
static const char *
last_line(char *buf, size_t len) {
    while (len > 0 && buf[len - 1] == '\n')
        buf[--len] = '\0';
    char *nl = strrchr(buf, '\n');
    return nl ? nl + 1 : buf;
}

/* Check one snapshot file. Its report goes to stdout; the verdict line is repeated on stderr
 * with the reason, which is why the report is first gathered in memory. */
static int
check_snapshot(const char *file, const check_opts_t *o) {
    struct stat st;
    const char *why = stat(file, &st) != 0  ? strerror(errno)
                      : S_ISREG(st.st_mode) ? NULL
                                            : "not a regular file";
    if (why) {
        fprintf(stderr, "keel-check: snapshot %s: not a snapshot file (%s)\n", file, why);
        return EXIT_USAGE;
    }
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    if (!mem) {
        fprintf(stderr, "keel-check: %s\n", strerror(errno));
        return EXIT_USAGE;
    }
    snap_check_opts_t so = {.databases = o->databases, .verbose = o->verbose};
    int rc = snap_check_file_opts(file, mem, &so);
    fclose(mem);
    fwrite(buf, 1, len, stdout);
    int status = EXIT_DAMAGED;
    if (rc == 0) {
        printf("snapshot %s: OK\n", file);
        status = EXIT_SOUND;
    } else if (rc == KERR_FORMAT || rc == KERR_INVAL) {
        fprintf(stderr, "keel-check: snapshot %s: not a snapshot file (%s)\n", file,
                rc == KERR_INVAL ? "a .tmp file is a snapshot still being written" : "bad magic");
        status = EXIT_USAGE;
    } else {
        fprintf(stderr, "keel-check: snapshot %s\n", last_line(buf, len));
    }
    free(buf); /* open_memstream's buffer comes from libc */
    return status;
}

/* ---- main --------------------------------------------------------------------------------- */

/* Options anywhere before "--"; the rest are the kind and its paths. Returns the number of
 * positional arguments moved to the front of pos, or -1 (message printed). */
static int
parse_args(int argc, char **argv, check_opts_t *o, char **pos) {
    int n = 0;
    bool opts_done = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (opts_done || a[0] != '-' || !a[1]) {
            pos[n++] = argv[i];
        } else if (!strcmp(a, "--")) {
            opts_done = true;
        } else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
            o->verbose = 1;
        } else if (!strcmp(a, "--live")) {
            o->live = true;
        } else if (!strcmp(a, "--databases") && i + 1 < argc) {
            char *end;
            errno = 0;
            unsigned long long v = strtoull(argv[++i], &end, 10);
            if (errno || *end || v < 1 || v > UINT32_MAX || argv[i][0] == '-') {
                fprintf(stderr, "keel-check: --databases %s: expected 1..%u\n", argv[i],
                        UINT32_MAX);
                return -1;
            }
            o->databases = v;
        } else {
            fprintf(stderr, "keel-check: unknown or incomplete option '%s'\n", a);
            return -1;
        }
    }
    return n;
}

int
main(int argc, char **argv) {
    for (int i = 1; i < argc && strcmp(argv[i], "--"); i++)
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return EXIT_SOUND;
        }
    check_opts_t o = {.databases = SNAP_CHECK_DATABASES_DEFAULT};
    char **pos = kcalloc((size_t)argc, sizeof *pos);
    int n = parse_args(argc, argv, &o, pos);
    if (n < 2) {
        usage(stderr);
        kfree(pos);
        return EXIT_USAGE;
    }
    int is_wal = !strcmp(pos[0], "wal"), is_snap = !strcmp(pos[0], "snapshot");
    if (!is_wal && !is_snap) {
        fprintf(stderr, "keel-check: unknown kind '%s' (wal or snapshot)\n", pos[0]);
        usage(stderr);
        kfree(pos);
        return EXIT_USAGE;
    }
    int status = EXIT_SOUND;
    for (int i = 1; i < n; i++) {
        int s = is_wal ? check_wal(pos[i], &o) : check_snapshot(pos[i], &o);
        if (severity(s) > severity(status))
            status = s;
        fflush(stdout);
    }
    kfree(pos);
    return status;
}

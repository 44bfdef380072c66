/*
 * test_snapshot_function.c - the FUNCTION record (format version 4, type 11): the golden file
 * tests/data/snapshot-v4-function.ksnap loads in a v4 reader with its keys and both libraries,
 * and a v3 reader (snap_load_ex playing reader 3) refuses it naming version 4; a writer told to
 * produce version 3 refuses a function; a v4 file without functions keeps the min_reader of its
 * keys. The golden file is written only when asked (a released file is never rewritten):
 *   KEEL_SNAPSHOT_REGEN=function build/test_snapshot_function --filter '*regenerate*'
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kerr.h"
#include "snapshot_int.h"
#include "test_data_path.h"

static const char LIB_A[] = "#!lua name=liba\nredis.register_function('fa', function() "
                            "return 1 end)";
static const char LIB_B[] = "#!lua name=libb\nredis.register_function('fb', function(k) "
                            "return redis.call('get', k[1]) end)";

typedef struct prod {
    int with_functions;
} prod_t;

static int
produce_cb(void *ctx, int part, int nparts, snap_sink_t *sink) {
    prod_t *p = ctx;
    (void)nparts;
    if (part != 0)
        return 0;
    int rc = snap_put_string(sink, 0, "k", 1, SNAP_NO_EXPIRE, "v", 1);
    if (rc == 0 && p->with_functions)
        rc = snap_put_function(sink, LIB_A, sizeof LIB_A - 1);
    if (rc == 0)
        rc = snap_put_string(sink, 2, "n", 1, SNAP_NO_EXPIRE, "x", 1);
    if (rc == 0 && p->with_functions)
        rc = snap_put_function(sink, LIB_B, sizeof LIB_B - 1);
    return rc;
}

static int
write_file(const char *path, uint32_t version, int with_functions, char *err, size_t errlen) {
    prod_t p = {with_functions};
    snap_write_opts_t o = {.path = path,
                           .nthreads = 1,
                           .format_version = version,
                           .lsn = 42,
                           .time_ms = 1700000000000};
    return snap_write(&o, produce_cb, &p, NULL, err, errlen);
}

typedef struct seen {
    int keys, funcs;
    int saw_a, saw_b;
} seen_t;

static int
apply_cb(void *ctx, int thread, const snap_rec_t *rec) {
    seen_t *s = ctx;
    (void)thread;
    if (rec->type == SNAP_FUNCTION) {
        s->funcs++;
        s->saw_a |= rec->klen == sizeof LIB_A - 1 && !memcmp(rec->key, LIB_A, rec->klen);
        s->saw_b |= rec->klen == sizeof LIB_B - 1 && !memcmp(rec->key, LIB_B, rec->klen);
    } else {
        s->keys++;
    }
    return 0;
}

Test(snapshot_function, regenerate_golden_file_when_asked) {
    const char *regen = getenv("KEEL_SNAPSHOT_REGEN");
    if (!regen || strcmp(regen, "function") != 0)
        cr_skip_test("set KEEL_SNAPSHOT_REGEN=function to rewrite snapshot-v4-function.ksnap");
    char p[512], err[256] = "";
    data_path(p, sizeof p, "snapshot-v4-function.ksnap");
    cr_assert_eq(write_file(p, 4, 1, err, sizeof err), 0, "%s", err);
}

Test(snapshot_function, v4_reader_loads_the_golden_file_with_its_libraries) {
    char p[512], err[256] = "";
    data_path(p, sizeof p, "snapshot-v4-function.ksnap");
    seen_t s = {0};
    snap_info_t info;
    int rc = snap_load_ex(p, 1, 4, apply_cb, &s, &info, err, sizeof err);
    cr_assert_eq(rc, 0, "%s", err);
    cr_assert_eq(s.keys, 2);
    cr_assert_eq(s.funcs, 2);
    cr_assert(s.saw_a && s.saw_b);
    cr_assert_eq(info.version, 4);
    cr_assert_eq(info.min_reader, 4);
    cr_assert_eq(info.keys, 2, "functions are not keys");
    cr_assert_eq(snap_check_file(p, fopen("/dev/null", "w"), 0), 0);
}

Test(snapshot_function, v3_reader_refuses_the_golden_file_naming_version_4) {
    char p[512], err[512] = "";
    data_path(p, sizeof p, "snapshot-v4-function.ksnap");
    seen_t s = {0};
    snap_info_t info;
    int rc = snap_load_ex(p, 1, 3, apply_cb, &s, &info, err, sizeof err);
    cr_assert_eq(rc, KERR_VERSION, "%d %s", rc, err);
    cr_assert(strstr(err, "needs snapshot reader version 4"), "%s", err);
}

Test(snapshot_function, older_format_refuses_functions_and_no_function_keeps_min_reader) {
    char p[] = "/tmp/keel-snapfn-XXXXXX", path[600], err[256] = "";
    cr_assert_not_null(mkdtemp(p));
    snprintf(path, sizeof path, "%s/a.ksnap", p);
    cr_assert_eq(write_file(path, 3, 1, err, sizeof err), KERR_INVAL);
    cr_assert(strstr(err, "format version 4"), "%s", err);
    cr_assert_eq(write_file(path, 4, 0, err, sizeof err), 0, "%s", err);
    snap_info_t info;
    seen_t s = {0};
    cr_assert_eq(snap_load_ex(path, 1, 1, apply_cb, &s, &info, err, sizeof err), 0, "%s", err);
    cr_assert_eq(info.version, 4);
    cr_assert_eq(info.min_reader, 1, "a file without v4 records loads in older readers");
    cr_assert_eq(s.keys, 2);
    unlink(path);
    rmdir(p);
}

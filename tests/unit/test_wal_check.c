/* test_wal_check.c - wal_check_dir() and the keel-check tool: what a directory is (a log copy,
 * empty, missing, something else), the copy's identity and seal in the summary, a torn tail
 * reported as needing attention rather than OK, and the tool's exit codes 0/1/2/3. */
#include "test_wal_util.h"

#include <sys/wait.h>

static char *
check(const char *dir, int *rc) {
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    *rc = wal_check_dir(dir, out, 0);
    fclose(out);
    return text;
}

static const uint8_t id[WAL_DATASET_ID_SIZE] = {0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0x4d, 0xef,
                                                0x80, 1,    2,    3,    4,    5,    6,    7};

Test(wal_check, a_sealed_copy_prints_its_id_epoch_and_seal) {
    tdirs_t t;
    tdirs_make(&t, 1);
    wal_config_t cfg = tcfg(&t, 1);
    memcpy(cfg.dataset_id, id, sizeof id);
    cfg.epoch = 3;
    session(&cfg, 0, 25);
    int rc;
    char *text = check(t.dir[0], &rc);
    cr_assert_eq(rc, WAL_CHECK_OK, "%s", text);
    cr_assert(strstr(text, "data set 12345678-9abc-4def-8001-020304050607  epoch 3  format "
                           "version 2  sealed at LSN 25 (closed cleanly)"),
              "%s", text);
    cr_assert(strstr(text, "ok: 1 segments, 25 records, lsn 1..25"), "%s", text);
    free(text);
    int rounds[] = {5};
    session_crash(&cfg, 25, rounds, 1);
    text = check(t.dir[0], &rc);
    cr_assert_eq(rc, WAL_CHECK_OK, "%s", text);
    cr_assert(strstr(text, "not sealed (open, or not closed cleanly)"), "%s", text);
    free(text);
    tdirs_remove(&t);
}

Test(wal_check, a_torn_tail_needs_attention_and_is_not_ok) {
    tdirs_t t;
    tdirs_make(&t, 1);
    wal_config_t cfg = tcfg(&t, 1);
    cfg.preallocate_off = 1;
    int rounds[] = {10};
    session_crash(&cfg, 0, rounds, 1);
    char seg[256];
    seg_path(seg, sizeof seg, t.dir[0], -1);
    poke(seg, file_size(seg), "\x30\x00\x00\x00torn", 8);
    int rc;
    char *text = check(t.dir[0], &rc);
    cr_assert_eq(rc, WAL_CHECK_TORN, "%s", text);
    cr_assert(strstr(text, "TORN TAIL: wal-00000000000000000001.log at offset 464, after LSN 10: "
                           "1 record(s), 8 bytes that recovery will cut - ATTENTION"),
              "%s", text);
    cr_assert_null(strstr(text, "ok:"), "%s", text);
    free(text);
    tdirs_remove(&t);
}

Test(wal_check, what_is_not_a_log_copy_is_said_so) {
    tdirs_t t;
    tdirs_make(&t, 1);
    int rc;
    char p[200];
    snprintf(p, sizeof p, "%s/nothing-here", t.root);
    char *text = check(p, &rc);
    cr_assert_eq(rc, KERR_NOTFOUND, "%s", text);
    cr_assert(strstr(text, "NOT A LOG COPY: no such directory"), "%s", text);
    free(text);
    /* A data directory: other files, and its log copy in <dir>/wal. */
    wal_config_t cfg = tcfg(&t, 1);
    snprintf(t.dir[0], sizeof t.dir[0], "%s/wal", t.root);
    session(&cfg, 0, 3);
    snprintf(p, sizeof p, "%s/keel.conf", t.root);
    FILE *f = fopen(p, "w");
    fclose(f);
    text = check(t.root, &rc);
    cr_assert_eq(rc, KERR_FORMAT, "%s", text);
    cr_assert(strstr(text, "holds no wal-*.log segment"), "%s", text);
    cr_assert(strstr(text, "/wal holds 1: the log copy of a data directory"), "%s", text);
    free(text);
    text = check(p, &rc); /* a file */
    cr_assert_eq(rc, KERR_FORMAT, "%s", text);
    cr_assert(strstr(text, "not a directory"), "%s", text);
    free(text);
    snprintf(p, sizeof p, "%s/empty", t.root);
    cr_assert_eq(mkdir(p, 0755), 0);
    text = check(p, &rc);
    cr_assert_eq(rc, WAL_CHECK_EMPTY, "%s", text);
    cr_assert(strstr(text, "EMPTY: no segment at all"), "%s", text);
    free(text);
    tdirs_remove(&t);
}

Test(wal_check, a_segment_of_a_newer_format_is_not_called_damage) {
    tdirs_t t;
    tdirs_make(&t, 1);
    wal_config_t cfg = tcfg(&t, 1);
    session(&cfg, 0, 3);
    char seg[256];
    seg_path(seg, sizeof seg, t.dir[0], 0);
    uint32_t v = 3;
    poke(seg, 8, &v, 4);
    int rc;
    char *text = check(t.dir[0], &rc);
    cr_assert_eq(rc, KERR_VERSION, "%s", text);
    cr_assert(strstr(text, "NOT READABLE BY THIS BUILD"), "%s", text);
    cr_assert(strstr(text, "format version 3"), "%s", text);
    free(text);
    tdirs_remove(&t);
}

/* ---- the tool ---------------------------------------------------------------------------- */

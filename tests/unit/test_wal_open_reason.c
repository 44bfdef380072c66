/* test_wal_open_reason.c - wal_open() that fails for lack of a quorum hands the reason (which
 * copy, which operation, which error) to cfg->log before it frees the log, so that the server
 * can say why it cannot start. */
#include "test_wal_util.h"

typedef struct seen {
    char msg[1024];
    int calls;
} seen_t;

static void
log_cb(void *ctx, const char *msg) {
    seen_t *s = ctx;
    snprintf(s->msg, sizeof s->msg, "%s", msg);
    s->calls++;
}

Test(wal_open_reason, failed_open_logs_the_copy_and_the_error) {
    tdirs_t t;
    tdirs_make(&t, 1);
    wal_faults_t f;
    wal_faults_init(&f);
    f.copy[0].open_fail_nth = 1; /* the first segment of the only copy cannot be created */
    seen_t s = {0};
    wal_config_t c = tcfg(&t, 1);
    c.io = &f.io;
    c.log = log_cb;
    c.log_ctx = &s;
    wal_t *w = NULL;
    cr_assert_eq(wal_open(&c, 0, &w), KERR_QUORUM);
    cr_assert_null(w);
    cr_assert_eq(s.calls, 1);
    cr_assert_not_null(strstr(s.msg, t.dir[0]), "reason names the copy: %s", s.msg);
    cr_assert_not_null(strstr(s.msg, "Input/output error"), "reason names the error: %s", s.msg);
    tdirs_remove(&t);
}

Test(wal_open_reason, successful_open_logs_nothing) {
    tdirs_t t;
    tdirs_make(&t, 1);
    seen_t s = {0};
    wal_config_t c = tcfg(&t, 1);
    c.log = log_cb;
    c.log_ctx = &s;
    wal_t *w = NULL;
    cr_assert_eq(wal_open(&c, 0, &w), 0);
    wal_close(w);
    cr_assert_eq(s.calls, 0);
    tdirs_remove(&t);
}

Test(wal_open_reason, one_unusable_directory_of_three_keeps_the_quorum) {
    tdirs_t t;
    tdirs_make(&t, 3);
    FILE *f = fopen(t.dir[0], "w"); /* a file where copy 0's directory should be */
    cr_assert_not_null(f);
    fclose(f);
    wal_config_t c = tcfg(&t, 2);
    wal_t *w = NULL;
    cr_assert_eq(wal_open(&c, 0, &w), 0, "copies 1 and 2 make the quorum");
    wal_stats_t st;
    wal_get_stats(w, &st);
    cr_assert(!st.copy[0].ok && st.copy[1].ok && st.copy[2].ok);
    cr_assert(st.healthy);
    cr_assert_eq(append_n(w, 10), 10);
    cr_assert(wait_durable(w, 10, 5000));
    wal_close(w);
    tdirs_remove(&t);
}

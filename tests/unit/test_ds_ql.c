/* test_ds_ql.c - the quicklist against an array model at several fills; iteration with delete. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kerr.h"
#include "ql.h"

typedef struct {
    char *s;
    size_t len;
} item_t;

typedef struct {
    item_t *v;
    size_t n, cap;
} model_t;

static void
model_insert(model_t *m, size_t at, const char *s, size_t len) {
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 16;
        m->v = realloc(m->v, m->cap * sizeof *m->v);
    }
    memmove(m->v + at + 1, m->v + at, (m->n - at) * sizeof *m->v);
    m->v[at].s = malloc(len + 1);
    memcpy(m->v[at].s, s, len);
    m->v[at].len = len;
    m->n++;
}

static void
model_delete(model_t *m, size_t at, size_t num) {
    for (size_t i = at; i < at + num; i++)
        free(m->v[i].s);
    memmove(m->v + at, m->v + at + num, (m->n - at - num) * sizeof *m->v);
    m->n -= num;
}

static uint64_t rng_state = 0xA5A5A5A55A5A5A5Aull;
static uint64_t
rng(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* Few distinct small values (so LREM-style deletes find matches), some integers, some strings
 * bigger than a 4 KiB node. */
static size_t
random_value(char *buf) {
    switch (rng() % 10) {
    case 0: return (size_t)snprintf(buf, 32, "%lld", (long long)(int64_t)rng());
    case 1: {
        size_t len = 3000 + rng() % 3000;
        memset(buf, 'A' + (int)(rng() % 3), len);
        return len;
    }
    case 2: return (size_t)snprintf(buf, 32, "%s", rng() & 1 ? "01" : "-0");
    case 3:
    case 4: return (size_t)snprintf(buf, 32, "%d", (int)(rng() % 5));
    default: {
        size_t len = 1 + rng() % 40;
        memset(buf, 'a' + (int)(rng() % 3), len);
        return len;
    }
    }
}

static int
entry_is(const ql_entry_t *e, const item_t *it) {
    char b[LP_INTBUF_MAX];
    const void *s = e->str;
    size_t len = e->len;
    if (!s)
        len = lp_int_to_string(e->ival, b), s = b;
    return len == it->len && memcmp(s, it->s, len) == 0;
}

static void
assert_same(ql_t *ql, const model_t *m, int fill) {
    cr_assert_eq(ql_len(ql), m->n);
    ql_iter_t it;
    ql_entry_t e;
    size_t i = 0;
    ql_iter_init(&it, ql, QL_FORWARD, 0);
    while (ql_iter_next(&it, &e)) {
        cr_assert(i < m->n && entry_is(&e, &m->v[i]), "forward entry %zu", i);
        i++;
    }
    cr_assert_eq(i, m->n);
    ql_iter_init(&it, ql, QL_BACKWARD, -1);
    while (ql_iter_next(&it, &e)) {
        i--;
        cr_assert(entry_is(&e, &m->v[i]), "backward entry %zu", i);
    }
    cr_assert_eq(i, 0);
    if (fill > 0) /* every node holds at most fill entries */
        cr_assert_geq(ql_node_count(ql) * (uint64_t)fill, m->n);
    cr_assert_leq(ql_node_count(ql), m->n); /* no empty nodes */
}

/* LREM: deletes up to count elements equal to s from the head (count >= 0) or tail (< 0). */
static size_t
lrem(ql_t *ql, const char *s, size_t len, long count) {
    ql_iter_t it;
    ql_entry_t e;
    size_t removed = 0;
    ql_iter_init(&it, ql, count < 0 ? QL_BACKWARD : QL_FORWARD, count < 0 ? -1 : 0);
    while (ql_iter_next(&it, &e)) {
        if (ql_entry_eq(&e, s, len)) {
            ql_iter_del(&it, &e);
            removed++;
            if (count && removed == (size_t)labs(count))
                break;
        }
    }
    return removed;
}

static size_t
model_lrem(model_t *m, const char *s, size_t len, long count) {
    size_t removed = 0, want = count ? (size_t)labs(count) : SIZE_MAX;
    for (size_t k = 0; k < m->n && removed < want; k++) {
        size_t i = count < 0 ? m->n - 1 - k : k;
        if (m->v[i].len == len && memcmp(m->v[i].s, s, len) == 0) {
            model_delete(m, i, 1);
            removed++;
            if (count >= 0)
                k--;
        }
    }
    return removed;
}

static void
random_op(ql_t *ql, model_t *m, char *buf) {
    size_t len = random_value(buf);
    size_t at = m->n ? rng() % m->n : 0;
    long idx = (rng() & 1) ? (long)at : (long)at - (long)m->n;
    ql_entry_t e;
    int op = (int)(rng() % 10);
    if (m->n == 0 && op >= 3)
        op = rng() & 1;
    switch (op) {
    case 0:
        cr_assert_eq(ql_push(ql, QL_HEAD, buf, len), 0);
        model_insert(m, 0, buf, len);
        break;
    case 1:
        cr_assert_eq(ql_push(ql, QL_TAIL, buf, len), 0);
        model_insert(m, m->n, buf, len);
        break;
    case 2: {
        ql_popped_t p;
        int where = (int)(rng() & 1);
        if (m->n == 0) {
            cr_assert_eq(ql_pop(ql, where, &p), KERR_NOTFOUND);
            break;
        }
        cr_assert_eq(ql_pop(ql, where, &p), 0);
        size_t i = where == QL_HEAD ? 0 : m->n - 1;
        char b[LP_INTBUF_MAX];
        const char *s = p.str ? p.str : b;
        size_t plen = p.str ? p.len : lp_int_to_string(p.ival, b);
        cr_assert(plen == m->v[i].len && memcmp(s, m->v[i].s, plen) == 0);
        free(p.str);
        model_delete(m, i, 1);
        break;
    }
    case 3:
        cr_assert_eq(ql_index(ql, idx, &e), 0);
        cr_assert(entry_is(&e, &m->v[at]));
        cr_assert_eq(ql_index(ql, (long)m->n, &e), KERR_NOTFOUND);
        cr_assert_eq(ql_index(ql, -(long)m->n - 1, &e), KERR_NOTFOUND);
        break;
    case 4:
        cr_assert_eq(ql_replace_at(ql, idx, buf, len), 0);
        model_delete(m, at, 1);
        model_insert(m, at, buf, len);
        break;
    case 5:
    case 6: {
        int after = op == 6;
        cr_assert_eq(ql_index(ql, idx, &e), 0);
        cr_assert_eq(ql_insert(ql, &e, after, buf, len), 0);
        model_insert(m, at + (size_t)after, buf, len);
        break;
    }
    case 7: {
        uint64_t num = rng() % 40;
        size_t want = num < m->n - at ? num : m->n - at;
        cr_assert_eq(ql_delete_range(ql, idx, num), want);
        model_delete(m, at, want);
        break;
    }
    case 8: {
        long count = (long)(rng() % 5) - 2;
        cr_assert_eq(lrem(ql, buf, len, count), model_lrem(m, buf, len, count));
        break;
    }
    default:
        if (m->n > 200) { /* LTRIM keeps the list from growing without bound */
            long start = (long)(rng() % 20), stop = -(long)(rng() % 20) - 1;
            ql_trim(ql, start, stop);
            size_t s = (size_t)start, t = m->n + (size_t)(stop + 1); /* keep [s, t) */
            if (s >= t) {
                model_delete(m, 0, m->n);
            } else {
                model_delete(m, t, m->n - t);
                model_delete(m, 0, s);
            }
        }
    }
}

static void
run_model(int fill, int ops) {
    char *buf = malloc(8192);
    ql_t *ql = ql_new(fill);
    model_t m = {0};
    for (int op = 0; op < ops; op++) {
        random_op(ql, &m, buf);
        if (op % 25 == 0)
            assert_same(ql, &m, fill);
    }
    assert_same(ql, &m, fill);
    model_delete(&m, 0, m.n);
    free(m.v);
    ql_free(ql);
    free(buf);
}

Test(ql, random_operations_match_a_model_with_8k_nodes) {
    run_model(-2, 6000);
}

Test(ql, random_operations_match_a_model_with_4k_nodes) {
    run_model(-1, 6000);
}

Test(ql, random_operations_match_a_model_with_two_entry_nodes) {
    run_model(2, 6000);
}

Test(ql, random_operations_match_a_model_with_one_entry_nodes) {
    run_model(1, 3000);
}

Test(ql, empty_list_edges) {
    ql_t *ql = ql_new(-2);
    ql_entry_t e;
    ql_popped_t p;
    ql_iter_t it;
    cr_assert_eq(ql_len(ql), 0);
    cr_assert_eq(ql_index(ql, 0, &e), KERR_NOTFOUND);
    cr_assert_eq(ql_index(ql, -1, &e), KERR_NOTFOUND);
    cr_assert_eq(ql_pop(ql, QL_HEAD, &p), KERR_NOTFOUND);
    cr_assert_eq(ql_replace_at(ql, 0, "x", 1), KERR_NOTFOUND);
    cr_assert_eq(ql_delete_range(ql, 0, 5), 0);
    ql_trim(ql, 0, -1);
    ql_iter_init(&it, ql, QL_FORWARD, 0);
    cr_assert_eq(ql_iter_next(&it, &e), 0);
    cr_assert_eq(ql_node_count(ql), 0);
    ql_free(ql);
}

Test(ql, negative_indexes_and_integer_boundaries) {
    ql_t *ql = ql_new(3);
    const char *v[] = {"-9223372036854775808", "9223372036854775807", "01", "-0", " 1", "0"};
    for (int i = 0; i < 6; i++)
        cr_assert_eq(ql_push(ql, QL_TAIL, v[i], strlen(v[i])), 0);
    ql_entry_t e;
    cr_assert_eq(ql_index(ql, -6, &e), 0);
    cr_assert_null(e.str);
    cr_assert_eq(e.ival, INT64_MIN);
    cr_assert_eq(ql_index(ql, -5, &e), 0);
    cr_assert_eq(e.ival, INT64_MAX);
    cr_assert_eq(ql_index(ql, -4, &e), 0);
    cr_assert(e.str && e.len == 2 && memcmp(e.str, "01", 2) == 0);
    cr_assert_eq(ql_index(ql, -1, &e), 0);
    cr_assert(!e.str && e.ival == 0);
    cr_assert(ql_entry_eq(&e, "0", 1));
    cr_assert_not(ql_entry_eq(&e, "-0", 2));
    cr_assert_eq(ql_index(ql, -7, &e), KERR_NOTFOUND);
    cr_assert_eq(ql_index(ql, 6, &e), KERR_NOTFOUND);
    cr_assert_eq(ql_node_count(ql), 2);
    ql_free(ql);
}

Test(ql, big_elements_get_their_own_node_and_push_never_fails_for_room) {
    ql_t *ql = ql_new(-1); /* 4 KiB nodes */
    char *big = malloc(100000);
    memset(big, 'z', 100000);
    cr_assert_eq(ql_push(ql, QL_TAIL, "a", 1), 0);
    cr_assert_eq(ql_push(ql, QL_TAIL, big, 100000), 0);
    cr_assert_eq(ql_push(ql, QL_TAIL, "b", 1), 0);
    cr_assert_eq(ql_node_count(ql), 3);
    ql_entry_t e;
    cr_assert_eq(ql_index(ql, 1, &e), 0);
    cr_assert_eq(ql_insert(ql, &e, 1, big, 5000), 0); /* next to a full node: a node of its own */
    cr_assert_eq(ql_replace_at(ql, 0, big, 99999), 0);
    cr_assert_eq(ql_index(ql, 0, &e), 0);
    cr_assert_eq(e.len, 99999);
    cr_assert_eq(ql_index(ql, 2, &e), 0);
    cr_assert_eq(e.len, 5000);
    cr_assert_eq(ql_len(ql), 4);
    free(big);
    ql_free(ql);
}

Test(ql, insert_in_the_middle_of_a_full_node_splits_it) {
    ql_t *ql = ql_new(4);
    for (int i = 0; i < 4; i++) {
        char b[4];
        int n = snprintf(b, sizeof b, "e%d", i);
        cr_assert_eq(ql_push(ql, QL_TAIL, b, (size_t)n), 0);
    }
    cr_assert_eq(ql_node_count(ql), 1);
    ql_entry_t e;
    cr_assert_eq(ql_index(ql, 1, &e), 0);
    cr_assert_eq(ql_insert(ql, &e, 1, "mid", 3), 0);
    cr_assert_eq(ql_node_count(ql), 2);
    const char *want[] = {"e0", "e1", "mid", "e2", "e3"};
    for (int i = 0; i < 5; i++) {
        cr_assert_eq(ql_index(ql, i, &e), 0);
        cr_assert(ql_entry_eq(&e, want[i], strlen(want[i])), "index %d", i);
    }
    ql_free(ql);
}

Test(ql, range_delete_merges_the_nodes_around_the_cut) {
    ql_t *ql = ql_new(8);
    for (int i = 0; i < 64; i++)
        cr_assert_eq(ql_push(ql, QL_TAIL, "x", 1), 0);
    cr_assert_eq(ql_node_count(ql), 8);
    /* Leave 2 at the end of node 0 and 2 at the start of node 2... they fit one node together. */
    cr_assert_eq(ql_delete_range(ql, 2, 18), 18);
    cr_assert_eq(ql_len(ql), 46);
    cr_assert_eq(ql_node_count(ql), 6);
    ql_trim(ql, 1, -2);
    cr_assert_eq(ql_len(ql), 44);
    ql_trim(ql, 5, 2); /* empty range: everything goes */
    cr_assert_eq(ql_len(ql), 0);
    cr_assert_eq(ql_node_count(ql), 0);
    ql_free(ql);
}

Test(ql, iteration_from_an_index_in_both_directions) {
    ql_t *ql = ql_new(3);
    for (int i = 0; i < 20; i++) {
        char b[4];
        int n = snprintf(b, sizeof b, "%d", i);
        ql_push(ql, QL_TAIL, b, (size_t)n);
    }
    ql_iter_t it;
    ql_entry_t e;
    int64_t want = 7;
    ql_iter_init(&it, ql, QL_FORWARD, 7);
    while (ql_iter_next(&it, &e))
        cr_assert_eq(e.ival, want++);
    cr_assert_eq(want, 20);
    ql_iter_init(&it, ql, QL_BACKWARD, -3);
    want = 17;
    while (ql_iter_next(&it, &e))
        cr_assert_eq(e.ival, want--);
    cr_assert_eq(want, -1);
    ql_iter_init(&it, ql, QL_FORWARD, 20);
    cr_assert_eq(ql_iter_next(&it, &e), 0);
    ql_free(ql);
}

Test(ql, append_lp_converts_a_packed_list) {
    uint8_t *lp = lp_new();
    for (int i = 0; i < 100; i++)
        lp_append_int(&lp, i - 50);
    lp_append(&lp, "tail", 4);
    ql_t *ql = ql_new(16);
    cr_assert_eq(ql_append_lp(ql, lp), 0);
    cr_assert_eq(ql_len(ql), 101);
    ql_entry_t e;
    cr_assert_eq(ql_index(ql, 0, &e), 0);
    cr_assert_eq(e.ival, -50);
    cr_assert_eq(ql_index(ql, -1, &e), 0);
    cr_assert(ql_entry_eq(&e, "tail", 4));
    cr_assert_geq(ql_node_count(ql), 7);
    lp_free(lp);
    ql_free(ql);
}

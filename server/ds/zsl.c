/*
 * zsl.c - a skiplist with per-link spans, ordered by (score, member), as Redis's t_zset.c.
 *
 * Shape: a header node with ZSL_LEVEL_MAX levels and no element; each element node has 1..32
 * levels, each level a forward link and the span of that link (how many level-0 steps it jumps).
 * Level 0 is a doubly linked list (backward pointers) for reverse iteration.
 *
 * Invariants (checked by the tests through rank/by-rank agreement with a model):
 *   1. Level 0 is sorted strictly by (score, memcmp of member, shorter first) and has length
 *      nodes; tail is its last node.
 *   2. For every link, span = rank(forward) - rank(node), with the header at rank 0 and a NULL
 *      forward counting as rank length + 1 (a link to NULL carries the distance to the end).
 *   3. z->level is the highest level any node uses (at least 1).
 *
 * Node heights come from a per-list xorshift generator: P(level > k) = 0.25^k, capped at 32.
 */
#include "zsl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kmem.h"
#include "kassert.h"
#include "kerr.h"

struct zsl_level {
    zsl_node_t *forward;
    uint64_t span;
};

struct zsl_node {
    double score;
    zsl_node_t *backward; /* NULL for the first node */
    uint8_t *member;      /* points into this node's own allocation, after level[] */
    uint32_t mlen;
    uint8_t nlevel;
    struct zsl_level level[];
};

struct zsl {
    zsl_node_t *header; /* sentinel with ZSL_LEVEL_MAX levels, no element */
    zsl_node_t *tail;
    uint64_t length;
    int level;
    uint64_t rng; /* xorshift state for node heights */
};

static zsl_node_t *
node_new(int nlevel, double score, const void *m, size_t len) {
    size_t head = sizeof(zsl_node_t) + (size_t)nlevel * sizeof(struct zsl_level);
    zsl_node_t *n = kmalloc(head + len);
    if (!n)
        return NULL;
    n->score = score;
    n->backward = NULL;
    n->member = (uint8_t *)n + head;
    n->mlen = (uint32_t)len;
    n->nlevel = (uint8_t)nlevel;
    if (len)
        memcpy(n->member, m, len);
    for (int i = 0; i < nlevel; i++) {
        n->level[i].forward = NULL;
        n->level[i].span = 0;
    }
    return n;
}

static int
random_level(zsl_t *z) {
    int level = 1;
    for (;;) {
        z->rng ^= z->rng << 13;
        z->rng ^= z->rng >> 7;
        z->rng ^= z->rng << 17;
        if ((z->rng & 0xFFFF) >= 0x4000 || level == ZSL_LEVEL_MAX)
            return level;
        level++;
    }
}

static int
member_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen) {
    size_t n = alen < blen ? alen : blen;
    int c = n ? memcmp(a, b, n) : 0;
    if (c)
        return c;
    return alen < blen ? -1 : alen > blen;
}

/* Whether node n sorts before (score, m). */
static int
node_before(const zsl_node_t *n, double score, const void *m, size_t len) {
    return n->score < score || (n->score == score && member_cmp(n->member, n->mlen, m, len) < 0);
}

static int
node_is(const zsl_node_t *n, double score, const void *m, size_t len) {
    return n && n->score == score && member_cmp(n->member, n->mlen, m, len) == 0;
}

zsl_t *
zsl_new(uint64_t seed) {
    zsl_t *z = kmalloc(sizeof *z);
    if (!z)
        return NULL;
    z->header = node_new(ZSL_LEVEL_MAX, 0, NULL, 0);
    if (!z->header) {
        kfree(z);
        return NULL;
    }
    z->tail = NULL;
    z->length = 0;
    z->level = 1;
    z->rng = seed ? seed : 0x2545F4914F6CDD1Dull; /* xorshift must not start at 0 */
    return z;
}

void
zsl_free(zsl_t *z) {
    if (!z)
        return;
    zsl_node_t *n = z->header->level[0].forward;
    while (n) {
        zsl_node_t *next = n->level[0].forward;
        kfree(n);
        n = next;
    }
    kfree(z->header);
    kfree(z);
}

uint64_t
zsl_len(const zsl_t *z) {
    return z->length;
}

/* For each level, the last node before (score, m) and its rank (header = 0). */
static void
find_path(const zsl_t *z, double score, const void *m, size_t len, zsl_node_t **update,
          uint64_t *rank) {
    zsl_node_t *x = z->header;
    for (int i = z->level - 1; i >= 0; i--) {
        rank[i] = i == z->level - 1 ? 0 : rank[i + 1];
        while (x->level[i].forward && node_before(x->level[i].forward, score, m, len)) {
            rank[i] += x->level[i].span;
            x = x->level[i].forward;
        }
        update[i] = x;
    }
}

/* Links x (its nlevel already chosen) after the path update/rank found for its key. */
static void
link_node(zsl_t *z, zsl_node_t *x, zsl_node_t **update, uint64_t *rank) {
    int lv = x->nlevel;
    for (int i = z->level; i < lv; i++) {
        rank[i] = 0;
        update[i] = z->header;
        update[i]->level[i].span = z->length;
    }
    if (lv > z->level)
        z->level = lv;
    for (int i = 0; i < lv; i++) {
        x->level[i].forward = update[i]->level[i].forward;
        update[i]->level[i].forward = x;
        x->level[i].span = update[i]->level[i].span - (rank[0] - rank[i]);
        update[i]->level[i].span = (rank[0] - rank[i]) + 1;
    }
    for (int i = lv; i < z->level; i++)
        update[i]->level[i].span++;
    x->backward = update[0] == z->header ? NULL : update[0];
    if (x->level[0].forward)
        x->level[0].forward->backward = x;
    else
        z->tail = x;
    z->length++;
}

static void
unlink_node(zsl_t *z, zsl_node_t *x, zsl_node_t **update) {
    for (int i = 0; i < z->level; i++) {
        if (update[i]->level[i].forward == x) {
            update[i]->level[i].span += x->level[i].span - 1;
            update[i]->level[i].forward = x->level[i].forward;
        } else {
            update[i]->level[i].span -= 1;
        }
    }
    if (x->level[0].forward)
        x->level[0].forward->backward = x->backward;
    else
        z->tail = x->backward;
    while (z->level > 1 && z->header->level[z->level - 1].forward == NULL)
        z->level--;
    z->length--;
}

int
zsl_insert(zsl_t *z, double score, const void *m, size_t len, zsl_node_t **out) {
    if (isnan(score))
        return KERR_INVAL;
    if (len > ZSL_MEMBER_LEN_MAX)
        return KERR_LIMIT;
    zsl_node_t *update[ZSL_LEVEL_MAX];
    uint64_t rank[ZSL_LEVEL_MAX];
    find_path(z, score, m, len, update, rank);
    if (node_is(update[0]->level[0].forward, score, m, len))
        return KERR_EXISTS;
    zsl_node_t *x = node_new(random_level(z), score, m, len);
    if (!x)
        return KERR_NOMEM;
    link_node(z, x, update, rank);
    if (out)
        *out = x;
    return 0;
}

int
zsl_delete(zsl_t *z, double score, const void *m, size_t len) {
    zsl_node_t *update[ZSL_LEVEL_MAX];
    uint64_t rank[ZSL_LEVEL_MAX];
    find_path(z, score, m, len, update, rank);
    zsl_node_t *x = update[0]->level[0].forward;
    if (!node_is(x, score, m, len))
        return KERR_NOTFOUND;
    unlink_node(z, x, update);
    kfree(x);
    return 0;
}

int
zsl_update_score(zsl_t *z, double cur, const void *m, size_t len, double new_score,
                 zsl_node_t **out) {
    if (isnan(new_score))
        return KERR_INVAL;
    zsl_node_t *update[ZSL_LEVEL_MAX];
    uint64_t rank[ZSL_LEVEL_MAX];
    find_path(z, cur, m, len, update, rank);
    zsl_node_t *x = update[0]->level[0].forward;
    if (!node_is(x, cur, m, len))
        return KERR_NOTFOUND;
    zsl_node_t *next = x->level[0].forward;
    /* Still between its neighbours: only the score changes (ZINCRBY's common case). */
    if ((!x->backward || node_before(x->backward, new_score, x->member, x->mlen)) &&
        (!next || !node_before(next, new_score, x->member, x->mlen))) {
        x->score = new_score;
    } else {
        unlink_node(z, x, update);
        x->score = new_score;
        find_path(z, new_score, x->member, x->mlen, update, rank);
        link_node(z, x, update, rank); /* the node keeps its height and its allocation */
    }
    if (out)
        *out = x;
    return 0;
}

int
zsl_rank(const zsl_t *z, double score, const void *m, size_t len, uint64_t *rank) {
    zsl_node_t *x = z->header;
    uint64_t r = 0;
    for (int i = z->level - 1; i >= 0; i--) {
        while (x->level[i].forward && (node_before(x->level[i].forward, score, m, len) ||
                                       node_is(x->level[i].forward, score, m, len))) {
            r += x->level[i].span;
            x = x->level[i].forward;
        }
        if (x != z->header && node_is(x, score, m, len)) {
            *rank = r - 1;
            return 0;
        }
    }
    return KERR_NOTFOUND;
}

/* The node at 1-based rank r (the header's numbering), or NULL. */
static zsl_node_t *
at_rank(const zsl_t *z, uint64_t r) {
    zsl_node_t *x = z->header;
    uint64_t traversed = 0;
    for (int i = z->level - 1; i >= 0; i--) {
        while (x->level[i].forward && traversed + x->level[i].span <= r) {
            traversed += x->level[i].span;
            x = x->level[i].forward;
        }
        if (traversed == r)
            return x;
    }
    return NULL;
}

zsl_node_t *
zsl_by_rank(const zsl_t *z, uint64_t rank) {
    if (rank >= z->length)
        return NULL;
    return at_rank(z, rank + 1);
}

zsl_node_t *
zsl_first(const zsl_t *z) {
    return z->header->level[0].forward;
}

zsl_node_t *
zsl_last(const zsl_t *z) {
    return z->tail;
}

zsl_node_t *
zsl_next(const zsl_node_t *n) {
    return n->level[0].forward;
}

zsl_node_t *
zsl_prev(const zsl_node_t *n) {
    return n->backward;
}

double
zsl_node_score(const zsl_node_t *n) {
    return n->score;
}

const uint8_t *
zsl_node_member(const zsl_node_t *n, size_t *len) {
    *len = n->mlen;
    return n->member;
}

/* ---- ranges ---- */

static int
gte_min(double v, const zsl_range_t *r) {
    return r->minex ? v > r->min : v >= r->min;
}

static int
lte_max(double v, const zsl_range_t *r) {
    return r->maxex ? v < r->max : v <= r->max;
}

int
zsl_score_in_range(double score, const zsl_range_t *r) {
    return gte_min(score, r) && lte_max(score, r);
}

static int
range_empty(const zsl_range_t *r) {
    if (isnan(r->min) || isnan(r->max))
        return 1;
    return r->min > r->max || (r->min == r->max && (r->minex || r->maxex));
}

static int
lex_gte_min(const uint8_t *m, size_t len, const zsl_lex_bound_t *b) {
    switch (b->kind) {
    case ZSL_LEX_NEG_INF: return 1;
    case ZSL_LEX_POS_INF: return 0;
    case ZSL_LEX_INCL: return member_cmp(m, len, b->s, b->len) >= 0;
    default: return member_cmp(m, len, b->s, b->len) > 0;
    }
}

static int
lex_lte_max(const uint8_t *m, size_t len, const zsl_lex_bound_t *b) {
    switch (b->kind) {
    case ZSL_LEX_NEG_INF: return 0;
    case ZSL_LEX_POS_INF: return 1;
    case ZSL_LEX_INCL: return member_cmp(m, len, b->s, b->len) <= 0;
    default: return member_cmp(m, len, b->s, b->len) < 0;
    }
}

int
zsl_member_in_lex_range(const uint8_t *m, size_t len, const zsl_lex_range_t *r) {
    return lex_gte_min(m, len, &r->min) && lex_lte_max(m, len, &r->max);
}

static int
lex_range_empty(const zsl_lex_range_t *r) {
    if (r->min.kind == ZSL_LEX_POS_INF || r->max.kind == ZSL_LEX_NEG_INF)
        return 1;
    if (r->min.kind == ZSL_LEX_NEG_INF || r->max.kind == ZSL_LEX_POS_INF)
        return 0;
    int c = member_cmp(r->min.s, r->min.len, r->max.s, r->max.len);
    return c > 0 || (c == 0 && (r->min.kind == ZSL_LEX_EXCL || r->max.kind == ZSL_LEX_EXCL));
}

zsl_node_t *
zsl_first_in_range(const zsl_t *z, const zsl_range_t *r) {
    if (range_empty(r))
        return NULL;
    zsl_node_t *x = z->header;
    for (int i = z->level - 1; i >= 0; i--)
        while (x->level[i].forward && !gte_min(x->level[i].forward->score, r))
            x = x->level[i].forward;
    x = x->level[0].forward;
    return (x && lte_max(x->score, r)) ? x : NULL;
}

zsl_node_t *
zsl_last_in_range(const zsl_t *z, const zsl_range_t *r) {
    if (range_empty(r))
        return NULL;
    zsl_node_t *x = z->header;
    for (int i = z->level - 1; i >= 0; i--)
        while (x->level[i].forward && lte_max(x->level[i].forward->score, r))
            x = x->level[i].forward;
    return (x != z->header && gte_min(x->score, r)) ? x : NULL;
}

zsl_node_t *
zsl_first_in_lex_range(const zsl_t *z, const zsl_lex_range_t *r) {
    if (lex_range_empty(r))
        return NULL;
    zsl_node_t *x = z->header;
    for (int i = z->level - 1; i >= 0; i--)
        while (x->level[i].forward &&
               !lex_gte_min(x->level[i].forward->member, x->level[i].forward->mlen, &r->min))
            x = x->level[i].forward;
    x = x->level[0].forward;
    return (x && lex_lte_max(x->member, x->mlen, &r->max)) ? x : NULL;
}

zsl_node_t *
zsl_last_in_lex_range(const zsl_t *z, const zsl_lex_range_t *r) {
    if (lex_range_empty(r))
        return NULL;
    zsl_node_t *x = z->header;
    for (int i = z->level - 1; i >= 0; i--)
        while (x->level[i].forward &&
               lex_lte_max(x->level[i].forward->member, x->level[i].forward->mlen, &r->max))
            x = x->level[i].forward;
    return (x != z->header && lex_gte_min(x->member, x->mlen, &r->min)) ? x : NULL;
}

/* ---- range deletes ---- */

/* Which end of the range a delete walks to and how it tells it has left the range. */
typedef struct del_walk {
    int kind; /* 0 score, 1 lex, 2 rank */
    const zsl_range_t *r;
    const zsl_lex_range_t *lr;
    uint64_t start, stop; /* 1-based ranks, inclusive */
} del_walk_t;

static int
before_range(const del_walk_t *w, const zsl_node_t *n, uint64_t rank) {
    if (w->kind == 0)
        return !gte_min(n->score, w->r);
    if (w->kind == 1)
        return !lex_gte_min(n->member, n->mlen, &w->lr->min);
    return rank < w->start;
}

static int
inside_range(const del_walk_t *w, const zsl_node_t *n, uint64_t rank) {
    if (w->kind == 0)
        return lte_max(n->score, w->r);
    if (w->kind == 1)
        return lex_lte_max(n->member, n->mlen, &w->lr->max);
    return rank <= w->stop;
}

static uint64_t
delete_walk(zsl_t *z, const del_walk_t *w, zsl_deleted_cb *cb, void *ctx) {
    zsl_node_t *update[ZSL_LEVEL_MAX];
    zsl_node_t *x = z->header;
    uint64_t traversed = 0, removed = 0;
    for (int i = z->level - 1; i >= 0; i--) {
        while (x->level[i].forward &&
               before_range(w, x->level[i].forward, traversed + x->level[i].span)) {
            traversed += x->level[i].span;
            x = x->level[i].forward;
        }
        update[i] = x;
    }
    x = x->level[0].forward;
    traversed++;
    while (x && inside_range(w, x, traversed)) {
        zsl_node_t *next = x->level[0].forward;
        unlink_node(z, x, update);
        if (cb)
            cb(ctx, x->member, x->mlen, x->score);
        kfree(x);
        removed++;
        traversed++;
        x = next;
    }
    return removed;
}

uint64_t
zsl_delete_range_by_score(zsl_t *z, const zsl_range_t *r, zsl_deleted_cb *cb, void *ctx) {
    if (range_empty(r))
        return 0;
    del_walk_t w = {.kind = 0, .r = r};
    return delete_walk(z, &w, cb, ctx);
}

uint64_t
zsl_delete_range_by_lex(zsl_t *z, const zsl_lex_range_t *r, zsl_deleted_cb *cb, void *ctx) {
    if (lex_range_empty(r))
        return 0;
    del_walk_t w = {.kind = 1, .lr = r};
    return delete_walk(z, &w, cb, ctx);
}

uint64_t
zsl_delete_range_by_rank(zsl_t *z, uint64_t start, uint64_t stop, zsl_deleted_cb *cb, void *ctx) {
    if (start > stop || start >= z->length)
        return 0;
    del_walk_t w = {.kind = 2, .start = start + 1, .stop = stop + 1};
    return delete_walk(z, &w, cb, ctx);
}

/* ---- argument parsing ---- */

/* Longest score text accepted; strtod needs a NUL-terminated copy. */
#define SCORE_TEXT_MAX 128

int
zsl_parse_score_bound(const void *s, size_t len, double *v, int *exclusive) {
    const char *c = s;
    *exclusive = 0;
    if (len > 0 && c[0] == '(') {
        *exclusive = 1;
        c++, len--;
    }
    if (len == 0 || len >= SCORE_TEXT_MAX)
        return KERR_INVAL;
    char buf[SCORE_TEXT_MAX];
    memcpy(buf, c, len);
    buf[len] = '\0';
    char *end;
    double d = strtod(buf, &end);
    if (end != buf + len || isnan(d) || buf[0] == ' ' || buf[0] == '\t')
        return KERR_INVAL;
    *v = d;
    return 0;
}

int
zsl_parse_lex_bound(const void *s, size_t len, zsl_lex_bound_t *b) {
    const uint8_t *c = s;
    if (len == 0)
        return KERR_INVAL;
    b->s = c + 1;
    b->len = len - 1;
    switch (c[0]) {
    case '-': b->kind = ZSL_LEX_NEG_INF; return len == 1 ? 0 : KERR_INVAL;
    case '+': b->kind = ZSL_LEX_POS_INF; return len == 1 ? 0 : KERR_INVAL;
    case '[': b->kind = ZSL_LEX_INCL; return 0;
    case '(': b->kind = ZSL_LEX_EXCL; return 0;
    default: return KERR_INVAL;
    }
}

/*
 * snap_check.c - snap_check_file(): everything the loader checks (snap_read.c), then what would
 * make a server refuse a sound file, as far as that can be told without the server's types:
 *
 *   - a key in a database at or beyond the server's `databases` (the loader refuses it);
 *   - the same key twice in one database (the loader's insert refuses it), over the whole file:
 *     every key's 128-bit hash (seeded with its database), its chunk and its ordinal are kept,
 *     sorted after the load, and a pair of equal hashes is confirmed by decoding both records
 *     again, so a hash collision never reports a key that is not there twice;
 *   - the same member twice in a set or sorted set, the same field twice in a hash (the type's
 *     add refuses it), within each record. Members compare as bytes: the server's integer
 *     encodings only take canonical decimal, so two different byte strings never meet as one.
 *
 * An empty collection is no key to a server (it skips it), so it takes part in neither check.
 * Nothing else a loading server refuses is decidable from a record: its other refusals are
 * structural and the loader's own.
 */
#include "snapshot_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <xxhash.h>

#include "kassert.h"
#include "kerr.h"
#include "kmem.h"

typedef struct check_key {
    uint64_t h[2];      /* XXH3-128 of the key, seeded with its database */
    uint32_t table_idx; /* its chunk */
    uint32_t key_no;    /* its ordinal in that chunk */
} check_key_t;

typedef struct member {
    const char *p;
    size_t n;
} member_t;

/* One per loader thread: only that thread touches it during the load. */
typedef struct check_thread {
    check_key_t *keys;
    size_t nkeys, keys_cap;
    member_t *mem; /* scratch for one record's members */
    size_t mem_cap;
} check_thread_t;

typedef struct check_ctx {
    snap_rctx_t *r;
    uint64_t databases;
    int keys_too; /* the whole-file duplicate key check */
    int refused;  /* the first error is one of these checks' (set by one thread, read after) */
    _Atomic uint64_t by_type[SNAP_HASH_TTL + 1]; /* a SNAP_HASH_TTL counts as a hash */
    _Atomic uint64_t functions;                  /* FUNCTION records (v4) */
    _Atomic uint64_t elems, bytes, with_meta, with_expiry, empty;
    check_thread_t th[SNAP_THREADS_MAX];
} check_ctx_t;

#define CHECK_THREADS 2
#define QUOTE_BYTES   64 /* of a key or member shown in a message */

/* p as printable text for a message: at most QUOTE_BYTES bytes, others as \xHH. */
static const char *
quote(const char *p, size_t n, char *out, size_t cap) {
    size_t o = 0;

    for (size_t i = 0; i < n && i < QUOTE_BYTES && o + 5 < cap; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c >= 0x20 && c < 0x7f && c != '\'' && c != '\\')
            out[o++] = (char)c;
        else
            o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c);
    }
    if (n > QUOTE_BYTES && o + 4 < cap)
        o += (size_t)snprintf(out + o, cap - o, "...");
    out[o] = '\0';
    return out;
}

static void
count_record(check_ctx_t *c, const snap_rec_t *rec) {
    snap_rec_t it = *rec;
    const char *p;
    size_t n;
    uint64_t elems = 0, bytes = rec->klen;

    while (snap_rec_next(&it, &p, &n, NULL) == 1) {
        elems++;
        bytes += n;
    }
    int t = rec->type == SNAP_HASH_TTL ? SNAP_HASH : rec->type;
    atomic_fetch_add_explicit(&c->by_type[t], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&c->elems, elems, memory_order_relaxed);
    atomic_fetch_add_explicit(&c->bytes, bytes, memory_order_relaxed);
    if (rec->has_meta)
        atomic_fetch_add_explicit(&c->with_meta, 1, memory_order_relaxed);
    if (rec->expire_ms != SNAP_NO_EXPIRE)
        atomic_fetch_add_explicit(&c->with_expiry, 1, memory_order_relaxed);
}

static int
member_cmp(const void *a, const void *b) {
    const member_t *x = a, *y = b;
    if (x->n != y->n)
        return x->n < y->n ? -1 : 1;
    return memcmp(x->p, y->p, x->n);
}

/* The first member (set, sorted set) or field (hash) of rec that appears twice, or NULL. */
static const member_t *
duplicate_member(check_thread_t *t, const snap_rec_t *rec) {
    snap_rec_t it = *rec;
    const char *p;
    size_t n, k = 0;

    if (rec->count < 2)
        return NULL;
    if (rec->count > t->mem_cap) {
        t->mem_cap = (size_t)rec->count; /* bounded by the decoded chunk's size */
        kfree(t->mem);
        t->mem = kmalloc(t->mem_cap * sizeof *t->mem);
    }
    for (uint64_t i = 0; snap_rec_next(&it, &p, &n, NULL) == 1; i++)
        if (rec->type == SNAP_HASH_TTL ? i % 3 == 0 : rec->type != SNAP_HASH || i % 2 == 0)
            t->mem[k++] = (member_t){p, n};
    ASSERT(k == rec->count); /* the loader checked the elements before the call */
    qsort(t->mem, k, sizeof *t->mem, member_cmp);
    for (size_t i = 1; i < k; i++)
        if (member_cmp(&t->mem[i - 1], &t->mem[i]) == 0)
            return &t->mem[i];
    return NULL;
}

static void
remember_key(check_thread_t *t, const snap_rec_t *rec, const snap_rec_pos_t *pos) {
    XXH128_hash_t h = XXH3_128bits_withSeed(rec->key, rec->klen, rec->db);

    if (t->nkeys == t->keys_cap) {
        t->keys_cap = t->keys_cap ? 2 * t->keys_cap : 4096;
        t->keys = krealloc(t->keys, t->keys_cap * sizeof *t->keys);
    }
    /* A decoded chunk is at most SNAP_RAW_BYTES_MAX (8 GiB) and a key record takes at least 7
     * bytes, so neither a table index nor a key ordinal reaches 2^32. */
    ASSERT(pos->table_idx <= UINT32_MAX && pos->key_no <= UINT32_MAX);
    t->keys[t->nkeys++] =
        (check_key_t){{h.low64, h.high64}, (uint32_t)pos->table_idx, (uint32_t)pos->key_no};
}

/* snap_apply_at_cb of the check: totals, database limit, members, and the key remembered. */
static int
check_rec_cb(void *ctx, int thread, const snap_rec_t *rec, const snap_rec_pos_t *pos) {
    check_ctx_t *c = ctx;
    check_thread_t *t = &c->th[thread];
    const member_t *dup;
    char key[4 * QUOTE_BYTES + 8], mem[4 * QUOTE_BYTES + 8];

    if (rec->type == SNAP_FUNCTION) { /* a library's code: no key to check */
        atomic_fetch_add_explicit(&c->functions, 1, memory_order_relaxed);
        return 0;
    }
    count_record(c, rec);
    if (rec->db >= c->databases) {
        if (snap_rctx_fail(c->r, KERR_LIMIT,
                           "snapshot %s: chunk at offset %" PRIu64 ": %s record at byte %zu of "
                           "the decoded chunk (key '%s'): database %u, which a server with "
                           "databases %" PRIu64 " does not have",
                           c->r->path, pos->chunk_off, snap_rec_type_name((unsigned)rec->type),
                           pos->at, quote(rec->key, rec->klen, key, sizeof key), rec->db,
                           c->databases))
            c->refused = 1;
        return KERR_LIMIT;
    }
    if (rec->type != SNAP_STRING && rec->count == 0) {
        atomic_fetch_add_explicit(&c->empty, 1, memory_order_relaxed);
        return 0; /* a server skips it: no key, no duplicate */
    }
    if (rec->type != SNAP_LIST && rec->type != SNAP_STRING && rec->type != SNAP_BLOOM &&
        (dup = duplicate_member(t, rec))) {
        if (snap_rctx_fail(c->r, KERR_CORRUPT,
                           "snapshot %s: chunk at offset %" PRIu64 ": %s record at byte %zu of "
                           "the decoded chunk (key '%s', db %u): %s '%s' appears twice",
                           c->r->path, pos->chunk_off, snap_rec_type_name((unsigned)rec->type),
                           pos->at, quote(rec->key, rec->klen, key, sizeof key), rec->db,
                           rec->type == SNAP_HASH || rec->type == SNAP_HASH_TTL ? "field"
                                                                                : "member",
                           quote(dup->p, dup->n, mem, sizeof mem)))
            c->refused = 1;
        return KERR_CORRUPT;
    }
    if (c->keys_too)
        remember_key(t, rec, pos);
    return 0;
}

/* ---- duplicate keys, after the load -------------------------------------------------------- */

static int
key_cmp(const void *a, const void *b) {
    const check_key_t *x = a, *y = b;
    if (x->h[0] != y->h[0])
        return x->h[0] < y->h[0] ? -1 : 1;
    if (x->h[1] != y->h[1])
        return x->h[1] < y->h[1] ? -1 : 1;
    return 0;
}

/* A key found again by its chunk and ordinal. */
typedef struct found_key {
    uint64_t key_no;
    int found;
    uint32_t db;
    char *key; /* kmalloc'd copy */
    size_t klen, at;
} found_key_t;

static int
find_key_cb(void *ctx, int thread, const snap_rec_t *rec, const snap_rec_pos_t *pos) {
    found_key_t *f = ctx;
    if (pos->key_no != f->key_no)
        return 0;
    f->found = 1;
    f->db = rec->db;
    f->key = kmalloc(rec->klen);
    memcpy(f->key, rec->key, rec->klen);
    f->klen = rec->klen;
    f->at = pos->at;
    return 0;
}

static int
find_key(snap_rctx_t *r, const check_key_t *k, found_key_t *f) {
    *f = (found_key_t){.key_no = k->key_no};
    r->apply_at = find_key_cb;
    r->ctx = f;
    int rc = snap_rctx_chunk(r, k->table_idx);
    if (rc == 0 && !f->found) {
        rc = KERR_CORRUPT;
        snap_rctx_fail(r, rc, "snapshot %s: chunk at offset %" PRIu64 ": changed while checked",
                       r->path, r->table[k->table_idx].off);
    }
    return rc;
}

/* Confirms that two keys of equal hash are one key in one database, and says so. */
static int
confirm_duplicate(check_ctx_t *c, const check_key_t *a, const check_key_t *b) {
    snap_rctx_t *r = c->r;
    found_key_t x, y;
    char key[4 * QUOTE_BYTES + 8];
    int rc;

    if ((rc = find_key(r, a, &x)) < 0)
        return rc;
    if ((rc = find_key(r, b, &y)) == 0 && x.db == y.db && x.klen == y.klen &&
        memcmp(x.key, y.key, x.klen) == 0) {
        rc = KERR_CORRUPT;
        c->refused = snap_rctx_fail(r, rc,
                                    "snapshot %s: key '%s' (db %u) appears twice: the record at "
                                    "byte %zu of the decoded chunk at offset %" PRIu64
                                    " and the record at byte %zu of the decoded chunk at "
                                    "offset %" PRIu64,
                                    r->path, quote(x.key, x.klen, key, sizeof key), x.db, x.at,
                                    r->table[a->table_idx].off, y.at, r->table[b->table_idx].off);
    }
    kfree(x.key);
    kfree(y.key);
    return rc;
}

/* Gathers every thread's keys, sorts them by hash and confirms each pair of equal hashes. */
static int
duplicate_keys(check_ctx_t *c) {
    check_thread_t *all = &c->th[0];
    int rc = 0;

    for (int i = 1; i < SNAP_THREADS_MAX; i++) {
        check_thread_t *t = &c->th[i];
        if (!t->nkeys)
            continue;
        all->keys = krealloc(all->keys, (all->nkeys + t->nkeys) * sizeof *all->keys);
        memcpy(all->keys + all->nkeys, t->keys, t->nkeys * sizeof *t->keys);
        all->nkeys += t->nkeys;
        kfree(t->keys);
        t->keys = NULL;
        t->nkeys = 0;
    }
    if (all->nkeys > 1)
        qsort(all->keys, all->nkeys, sizeof *all->keys, key_cmp);
    for (size_t i = 1; i < all->nkeys && rc == 0; i++)
        if (key_cmp(&all->keys[i - 1], &all->keys[i]) == 0)
            rc = confirm_duplicate(c, &all->keys[i - 1], &all->keys[i]);
    return rc;
}

/* ---- the report ---------------------------------------------------------------------------- */

static const char *
sec_name(unsigned type) {
    return type == SNAP_SEC_CHUNK      ? "chunk"
           : type == SNAP_SEC_IDENTITY ? "identity"
                                       : "unknown, optional";
}

/* The identity in one line, and every epoch when verbose. */
static void
print_identity(FILE *out, const char *path, const snap_identity_t *id, int verbose) {
    char hex[SNAP_ID_HEX_LEN];
    const snap_epoch_t *last = id->nepochs ? &id->epochs[id->nepochs - 1] : NULL;

    fprintf(out, "%s: data set %s, %u epochs", path,
            snap_id_is_zero(id->id) ? "unknown" : snap_id_hex(id->id, hex), id->nepochs);
    if (last)
        fprintf(out, ", current epoch %" PRIu64 " since LSN %" PRIu64, last->epoch,
                last->first_lsn);
    fputc('\n', out);
    for (uint32_t i = 0; verbose && i < id->nepochs; i++)
        fprintf(out, "  epoch %" PRIu64 " from LSN %" PRIu64 "\n", id->epochs[i].epoch,
                id->epochs[i].first_lsn);
}

static void
print_head(FILE *out, const snap_rctx_t *r, const snap_info_t *info, int verbose) {
    fprintf(out,
            "%s: format version %u (min reader %u), lsn %" PRIu64 ", time_ms %" PRId64
            ", flags 0x%" PRIx64 ", %" PRIu64 " keys in %u chunks, %" PRIu64 " bytes\n",
            r->path, info->version, info->min_reader, info->lsn, info->time_ms, info->flags,
            info->keys, info->chunks, r->file_len);
    print_identity(out, r->path, &info->identity, verbose);
    for (size_t i = 0; verbose && i < r->ntable; i++)
        fprintf(out,
                "  section %zu: type %u (%s) at offset %" PRIu64 ", %" PRIu64
                " bytes stored, count %" PRIu64 "\n",
                i, r->table[i].type, sec_name(r->table[i].type), r->table[i].off, r->table[i].len,
                r->table[i].count);
}

static void
print_ok(FILE *out, const char *path, const check_ctx_t *c) {
    char dbs[48], blooms[48] = "";

    if (c->by_type[SNAP_BLOOM]) /* v4; said only when there are some, so older outputs stay */
        snprintf(blooms, sizeof blooms, ", %" PRIu64 " bloom filters", c->by_type[SNAP_BLOOM]);
    if (c->databases == SNAP_CHECK_DATABASES_ANY)
        snprintf(dbs, sizeof dbs, "no database limit");
    else
        snprintf(dbs, sizeof dbs, "every key in databases 0..%" PRIu64, c->databases - 1);
    fprintf(out,
            "%s: OK: %" PRIu64 " strings, %" PRIu64 " lists, %" PRIu64 " hashes, %" PRIu64
            " sets, %" PRIu64 " sorted sets, %" PRIu64 " streams%s; %" PRIu64 " elements, %" PRIu64
            " key+element "
            "bytes; %" PRIu64 " with expiry, %" PRIu64 " with access metadata; %" PRIu64
            " empty collections (a server skips them); %s; no duplicate %s\n",
            path, c->by_type[SNAP_STRING], c->by_type[SNAP_LIST], c->by_type[SNAP_HASH],
            c->by_type[SNAP_SET], c->by_type[SNAP_ZSET], c->by_type[SNAP_STREAM], blooms, c->elems,
            c->bytes, c->with_expiry, c->with_meta, c->empty, dbs,
            c->keys_too ? "keys, members or fields" : "members or fields (keys not checked)");
    if (c->functions)
        fprintf(out, "%s: %" PRIu64 " function libraries\n", path, (uint64_t)c->functions);
}

int
snap_check_file_opts(const char *path, FILE *out, const snap_check_opts_t *opts) {
    static const snap_check_opts_t defaults;
    const snap_check_opts_t *o = opts ? opts : &defaults;
    check_ctx_t cc = {0}, *c = &cc;
    snap_rctx_t r;
    snap_info_t info;
    char err[1024] = "";
    int rc;

    c->r = &r;
    c->databases = o->databases ? o->databases : SNAP_CHECK_DATABASES_DEFAULT;
    c->keys_too = !o->skip_duplicate_keys;
    if ((rc = snap_rctx_open(&r, path, SNAP_FORMAT_VERSION_MAX, &info, err, sizeof err)) == 0) {
        print_head(out, &r, &info, o->verbose);
        r.apply_at = check_rec_cb;
        r.ctx = c;
        rc = snap_rctx_run(&r, CHECK_THREADS);
        if (rc == 0 && c->keys_too)
            rc = duplicate_keys(c);
    }
    snap_rctx_close(&r);
    if (rc < 0)
        fprintf(out, "%s: %s: %s\n", path,
                c->refused ? "REFUSED (sound, but a server would not load it)" : "DAMAGED",
                err[0] ? err : kerr_str(rc));
    else
        print_ok(out, path, c);
    for (int i = 0; i < SNAP_THREADS_MAX; i++) {
        kfree(c->th[i].keys);
        kfree(c->th[i].mem);
    }
    return rc;
}

int
snap_check_file(const char *path, FILE *out, int verbose) {
    snap_check_opts_t o = {.verbose = verbose};
    return snap_check_file_opts(path, out, &o);
}

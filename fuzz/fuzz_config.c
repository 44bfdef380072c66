/*
 * fuzz_config.c - libFuzzer harness for the settings parser (server/core/config.c): a keel.conf
 * file (config_load_file), CONFIG SET name/value pairs as cmd_server.c applies them
 * (config_validate on a scratch copy, then config_set), command-line overrides
 * (config_load_args), CONFIG GET with any pattern, and CONFIG REWRITE.
 *
 * The engine is a zeroed engine_t with the defaults applied: the parser needs nothing else of
 * it (config_validate builds its scratch copy the same way), and config_free() gives back what
 * the settings own, so nothing leaks from one input to the next.
 *
 * Input: byte 0 picks how the rest is applied: 0 as a config file; 1 as CONFIG SET calls, one
 * per line, split as an inline command (quotes and escapes, so a value may hold any byte but
 * NUL); 2 as command-line arguments (the words of the text, split at spaces); 3 the first line
 * as a config file, the other lines as CONFIG SET calls. The last line is also used as a
 * CONFIG GET pattern.
 *
 * Oracle, besides the sanitizers: CONFIG REWRITE then a restart changes nothing. The settings
 * are rewritten into the config file, a fresh engine loads that file, and every setting must
 * read back (CONFIG GET *) as it was.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "engine.h"
#include "fuzz_util.h"
#include "kmem.h"
#include "resp.h"

#define WORDS_MAX 64

typedef struct dump {
    char *p;
    size_t n, cap;
} dump_t;

static void
dump_cb(void *ctx, const char *name, const char *value) {
    dump_t *d = ctx;
    size_t need = strlen(name) + strlen(value) + 3;
    if (d->n + need > d->cap) {
        d->cap = (d->n + need) * 2;
        d->p = krealloc(d->p, d->cap);
    }
    d->n += (size_t)snprintf(d->p + d->n, d->cap - d->n, "%s=%s\n", name, value);
}

static int count_cb_calls;

static void
count_cb(void *ctx, const char *name, const char *value) {
    (void)ctx;
    FUZZ_CHECK(name[0] != 0 && value != NULL);
    count_cb_calls++;
}

static engine_t *
engine_new(void) {
    engine_t *s = kcalloc(1, sizeof *s);
    config_defaults(s);
    return s;
}

static void
engine_drop(engine_t *s) {
    config_free(s);
    kfree(s);
}

/* Splits [p, p+n) at spaces into NUL-terminated words in store; returns the count. */
static int
words(const char *p, size_t n, char *store, char **w) {
    int k = 0;
    size_t o = 0;
    for (size_t i = 0; i < n && k < WORDS_MAX;) {
        while (i < n && (p[i] == ' ' || p[i] == '\n'))
            i++;
        if (i >= n)
            break;
        w[k++] = store + o;
        while (i < n && p[i] != ' ' && p[i] != '\n')
            store[o++] = p[i++];
        store[o++] = 0;
    }
    return k;
}

/* One CONFIG SET call as cmd_server.c makes it: all pairs validated, then all applied. */
static void
config_set_call(engine_t *s, char **w, int k) {
    char err[256];
    if (k < 2 || k % 2)
        return;
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < k; i += 2) {
            const char *args[2] = {w[i], w[i + 1]};
            int rc = pass == 0 ? config_validate(s, 2, args, err, sizeof err)
                               : config_set(s, 2, args, NULL, false, err, sizeof err);
            if (rc < 0) {
                FUZZ_CHECK(pass == 0); /* what validates applies */
                return;
            }
        }
}

/* CONFIG SET calls, one per line, split as the server splits an inline command (quotes and
 * escapes: how redis-cli users send a value with spaces). */
static void
apply_sets(engine_t *s, const char *p, size_t n) {
    char *out = kmalloc(n + 1), *store = kmalloc(n + WORDS_MAX + 1);
    size_t offs[WORDS_MAX], lens[WORDS_MAX];
    char *w[WORDS_MAX];
    for (size_t i = 0; i < n;) {
        const char *nl = memchr(p + i, '\n', n - i);
        size_t len = nl ? (size_t)(nl - (p + i)) : n - i;
        int k = resp_split_args(p + i, len, out, offs, lens, WORDS_MAX);
        size_t o = 0;
        for (int j = 0; j < k; j++) { /* NUL-terminated, as cmd_server.c makes them */
            w[j] = store + o;
            memcpy(store + o, out + offs[j], lens[j]);
            store[o + lens[j]] = 0;
            o += lens[j] + 1;
        }
        config_set_call(s, w, k);
        i += len + 1;
    }
    kfree(out);
    kfree(store);
}

static int
apply_args(engine_t *s, const char *p, size_t n) {
    char *store = kmalloc(n + WORDS_MAX + 1);
    char *w[WORDS_MAX], err[512];
    int k = words(p, n, store, w);
    int rc = config_load_args(s, k, w, NULL, err, sizeof err);
    kfree(store);
    return rc;
}

/* Rewrites s's settings into its config file, loads that into a fresh engine, compares. */
static void
check_rewrite(engine_t *s) {
    char err[512];
    if (config_rewrite(s, err, sizeof err) < 0)
        return;
    engine_t *t = engine_new();
    int rc = config_load_file(t, s->config_file, NULL, err, sizeof err);
    if (rc < 0)
        fprintf(stderr, "the rewritten config file does not load: %s\n", err);
    FUZZ_CHECK(rc == 0);
    dump_t a = {0}, b = {0};
    config_get(s, "*", 1, dump_cb, &a);
    config_get(t, "*", 1, dump_cb, &b);
    if (a.n != b.n || memcmp(a.p, b.p, a.n) != 0)
        fprintf(stderr, "settings before the rewrite:\n%.*s\nafter:\n%.*s\n", (int)a.n, a.p,
                (int)b.n, b.p);
    FUZZ_CHECK(a.n == b.n && memcmp(a.p, b.p, a.n) == 0);
    /* The strings themselves, whatever CONFIG GET shows of them. */
    const char *const *sa = (const char *const[]){s->cfg.bind,        s->cfg.dir,
                                                  s->cfg.requirepass, s->cfg.logfile,
                                                  s->cfg.pidfile,     s->cfg.masterauth,
                                                  s->cfg.masteruser,  s->cfg.replica_announce_ip,
                                                  s->cfg.replicaof};
    const char *const *ta = (const char *const[]){t->cfg.bind,        t->cfg.dir,
                                                  t->cfg.requirepass, t->cfg.logfile,
                                                  t->cfg.pidfile,     t->cfg.masterauth,
                                                  t->cfg.masteruser,  t->cfg.replica_announce_ip,
                                                  t->cfg.replicaof};
    for (int i = 0; i < 9; i++)
        FUZZ_CHECK(!sa[i] == !ta[i] && (!sa[i] || !strcmp(sa[i], ta[i])));
    /* CONFIG GET joins the log copies with spaces: compare the list itself. */
    FUZZ_CHECK(s->cfg.wal_ndirs == t->cfg.wal_ndirs);
    for (int i = 0; i < s->cfg.wal_ndirs; i++)
        FUZZ_CHECK(!strcmp(s->cfg.wal_dirs[i], t->cfg.wal_dirs[i]));
    kfree(a.p);
    kfree(b.p);
    engine_drop(t);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    int mode = data[0] & 3;
    const char *text = (const char *)data + 1;
    size_t n = size - 1;
    char path[300], err[512];
    snprintf(path, sizeof path, "%s/keel.conf", fuzz_dir());

    engine_t *s = engine_new();
    s->config_file = path;
    bool loaded = true;
    const char *nl = memchr(text, '\n', n);
    size_t first = mode == 3 && nl ? (size_t)(nl - text) + 1 : n;
    if (mode == 0 || mode == 3) {
        fuzz_write_file(path, text, first);
        loaded = config_load_file(s, path, NULL, err, sizeof err) == 0;
        if (!loaded && getenv("KEEL_FUZZ_VERBOSE"))
            fprintf(stderr, "config file refused: %s\n", err);
    } else {
        fuzz_write_file(path, "", 0);
    }
    if (mode == 1 || mode == 3)
        apply_sets(s, text + (mode == 3 ? first : 0), n - (mode == 3 ? first : 0));
    if (mode == 2)
        loaded = apply_args(s, text, n) == 0;

    /* CONFIG GET with the last line as the pattern. */
    const char *last = text;
    for (const char *q; (q = memchr(last, '\n', n - (size_t)(last - text))) != NULL;)
        last = q + 1;
    count_cb_calls = 0;
    config_get(s, last, n - (size_t)(last - text), count_cb, NULL);

    /* A server only runs (and can be told CONFIG REWRITE) when its config file loaded. */
    if (loaded)
        check_rewrite(s);
    s->config_file = NULL;
    engine_drop(s);
    return 0;
}

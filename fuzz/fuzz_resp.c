/*
 * fuzz_resp.c - libFuzzer harness for the request parser (server/net/resp.c), driven the way
 * net/conn.c drives it: bytes arrive in reads of any size into a query buffer, complete
 * commands are taken one at a time, consumed bytes are dropped from the front (the parser's
 * saved offsets shifted), and a protocol error ends the connection.
 *
 * Input: byte 0 picks the limits (proto-max-bulk-len, max-multibulk-len, the inline limit: the
 * defaults, or tiny ones so the fuzzer reaches every limit) and seeds the read sizes; the rest
 * is what the client sends.
 *
 * Oracles, besides the sanitizers:
 *   - every argument lies inside the query buffer or the parser's inline buffer, no argument
 *     count exceeds max-multibulk-len (or, inline, what the line can hold);
 *   - a size hint asks for more bytes than the buffer holds;
 *   - the commands do not depend on how the bytes were cut into reads: the input read in
 *     pieces gives the same commands, and a protocol error or none, as the input read whole.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "fuzz_util.h"
#include "kmem.h"
#include "resp.h"
#include "util.h"

#define CONN_READ_MAX 4096

/* What one pass delivered: a digest of each command, and whether it ended in an error. */
typedef struct pass {
    uint64_t digest[64];
    int ncmds;
    uint64_t more; /* digest of the commands after the first 64 */
    bool error;
} pass_t;

static uint64_t
digest_cmd(int argc, const karg_t *argv) {
    uint64_t h = 1469598103934665603ull ^ (uint64_t)argc;
    for (int i = 0; i < argc; i++) {
        h = (h ^ argv[i].n) * 1099511628211ull;
        for (size_t k = 0; k < argv[i].n; k++)
            h = (h ^ (uint8_t)argv[i].p[k]) * 1099511628211ull;
    }
    return h;
}

static bool
inside(const char *p, size_t n, const char *base, size_t len) {
    return p >= base && n <= len && (size_t)(p - base) <= len - n;
}

static void
record(pass_t *ps, int argc, const karg_t *argv) {
    uint64_t d = digest_cmd(argc, argv);
    if (ps->ncmds < 64)
        ps->digest[ps->ncmds] = d;
    else
        ps->more = ps->more * 31 + d;
    ps->ncmds++;
}

/* The checks every command gets, then its digest. */
static void
take_command(pass_t *ps, const resp_parser_t *p, const char *qbuf, size_t qlen,
             const resp_limits_t *lim, int argc, const karg_t *argv) {
    FUZZ_CHECK(argc > 0);
    FUZZ_CHECK(argc <= lim->multibulk_max || p->argc == 0);
    for (int i = 0; i < argc; i++) {
        bool in_q = qbuf && inside(argv[i].p, argv[i].n, qbuf, qlen);
        bool in_inline =
            p->inline_buf && inside(argv[i].p, argv[i].n, p->inline_buf, p->inline_cap);
        FUZZ_CHECK(in_q || in_inline);
        FUZZ_CHECK((long long)argv[i].n <= lim->bulk_max || in_inline);
    }
    record(ps, argc, argv);
}

/* One connection: the input arrives in reads of sizes drawn from seed (0: all at once). */
static void
run_conn(const uint8_t *data, size_t size, const resp_limits_t *lim, uint64_t seed, pass_t *ps) {
    resp_parser_t p;
    char *qbuf = NULL;
    size_t qlen = 0, qcap = 0, fed = 0;
    char err[128];

    memset(ps, 0, sizeof *ps);
    resp_parser_init(&p);
    while (fed < size && !ps->error) {
        size_t want = seed ? 1 + fuzz_rand(&seed) % 64 : size;
        if (want > size - fed)
            want = size - fed;
        if (want > CONN_READ_MAX && seed)
            want = CONN_READ_MAX;
        if (qcap - qlen < want) {
            qcap = qlen + want + 16;
            qbuf = krealloc(qbuf, qcap);
        }
        memcpy(qbuf + qlen, data + fed, want);
        qlen += want;
        fed += want;
        for (;;) {
            int argc;
            karg_t *argv;
            size_t hint;
            int r = resp_parse(&p, qbuf, qlen, lim, &argc, &argv, &hint, err, sizeof err);
            if (r < 0) {
                FUZZ_CHECK(err[0] != 0);
                ps->error = true;
                break;
            }
            FUZZ_CHECK(p.start <= p.pos && p.pos <= qlen);
            if (r == RESP_NEED_MORE) {
                FUZZ_CHECK(hint == 0 || hint > qlen);
                /* conn.c drops consumed bytes before it grows the buffer for a big bulk, and
                 * whenever more than half of it is consumed; here at random too, so that
                 * resp_parser_shift runs with arguments already saved. */
                if (p.start > 0 && (hint || (seed && fuzz_rand(&seed) % 2) || p.start > qcap / 2)) {
                    size_t used = p.start;
                    memmove(qbuf, qbuf + used, qlen - used);
                    qlen -= used;
                    resp_parser_shift(&p, used);
                }
                break;
            }
            FUZZ_CHECK(r == RESP_COMMAND);
            take_command(ps, &p, qbuf, qlen, lim, argc, argv);
            resp_parser_next(&p);
        }
        if (p.start == qlen && !ps->error) { /* everything consumed: reuse from the start */
            qlen = 0;
            p.pos = p.start = 0;
        }
    }
    resp_parser_free(&p);
    kfree(qbuf);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const long long bulk[4] = {512ll << 20, 16, 1024 * 1024, 1};
    static const long long mbulk[4] = {1048576, 3, 1024, 1};
    /* The inline limit is a constant in conn.c (64 KiB); smaller ones reach it with small
     * inputs. Not below a header's longest valid line ("*" or "$", 20 digits, CR), or a header
     * cut after its CR would fail where the whole one passes. */
    static const size_t inl[4] = {64 * 1024, 32, 1024, 24};
    if (size < 1)
        return 0;
    uint8_t c = data[0];
    resp_limits_t lim = {bulk[c & 3], mbulk[(c >> 2) & 3], inl[(c >> 4) & 3]};
    pass_t whole, split;
    run_conn(data + 1, size - 1, &lim, 0, &whole);
    run_conn(data + 1, size - 1, &lim, 0x9e3779b97f4a7c15ull ^ c, &split);

    /* The same commands and the same verdict, whatever the reads. */
    FUZZ_CHECK(whole.ncmds == split.ncmds);
    for (int i = 0; i < whole.ncmds && i < 64; i++)
        FUZZ_CHECK(whole.digest[i] == split.digest[i]);
    FUZZ_CHECK(whole.more == split.more);
    FUZZ_CHECK(whole.error == split.error);

    /* The inline splitter alone, as the config file reader calls it. */
    size_t n_in = size - 1 < 512 ? size - 1 : 512, offs[257], lens[257];
    char out[513];
    int argc = resp_split_args((const char *)data + 1, n_in, out, offs, lens, 257);
    FUZZ_CHECK(argc >= -1 && argc <= 257);
    for (int i = 0; i < argc; i++)
        FUZZ_CHECK(offs[i] + lens[i] <= n_in);
    return 0;
}

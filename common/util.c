/* util.c - number parsing and formatting, glob matching, clocks and randomness (see util.h). */
#include "util.h"

#include "kmem.h"

#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

bool
util_parse_ull(const char *s, size_t n, unsigned long long *out) {
    unsigned long long v = 0;
    if (n == 0 || n > 20)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (ULLONG_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

bool
util_parse_ll(const char *s, size_t n, long long *out) {
    unsigned long long v;
    bool neg = false;
    if (n == 0)
        return false;
    if (s[0] == '-') {
        neg = true;
        s++;
        n--;
    }
    if (!util_parse_ull(s, n, &v))
        return false;
    if (neg) {
        if (v > (unsigned long long)LLONG_MAX + 1)
            return false;
        *out = (long long)(0 - v);
    } else {
        if (v > (unsigned long long)LLONG_MAX)
            return false;
        *out = (long long)v;
    }
    return true;
}

bool
util_str_is_canonical_int(const char *s, size_t n, long long *out) {
    long long v;
    char buf[UTIL_LL_STR_MAX];
    if (n == 0 || n >= UTIL_LL_STR_MAX || !util_parse_ll(s, n, &v))
        return false;
    int len = util_ll2str(buf, sizeof buf, v);
    if ((size_t)len != n || memcmp(buf, s, n) != 0)
        return false;
    if (out)
        *out = v;
    return true;
}

bool
util_parse_ld(const char *s, size_t n, long double *out) {
    char buf[UTIL_LD_STR_MAX + 1];
    if (n == 0 || n > UTIL_LD_STR_MAX || isspace((unsigned char)s[0]) || memchr(s, 0, n))
        return false;
    memcpy(buf, s, n);
    buf[n] = 0;
    errno = 0;
    char *end;
    long double v = strtold(buf, &end);
    if ((size_t)(end - buf) != n || isnan(v) || errno == EINVAL)
        return false;
    if (errno == ERANGE && (isinf(v) || fpclassify(v) == FP_ZERO))
        return false;
    *out = v;
    return true;
}

bool
util_parse_double(const char *s, size_t n, double *out) {
    char stack[256];
    if (n == 0 || isspace((unsigned char)s[0]) || memchr(s, 0, n))
        return false;
    /* Any length, as Valkey's (a 300-digit literal is a valid double); long ones are copied to
     * the heap, since strtod needs a terminated string. */
    char *buf = n < sizeof stack ? stack : kmalloc(n + 1);
    memcpy(buf, s, n);
    buf[n] = 0;
    errno = 0;
    char *end;
    double v = strtod(buf, &end);
    /* As Valkey's getDoubleFromObject: a literal that overflows to HUGE_VAL ("1e400") or
     * underflows to zero is not a valid float; only a written "inf" is infinite. */
    bool ok = !*end && !isnan(v) && !(errno == ERANGE && (isinf(v) || v == 0.0));
    if (buf != stack)
        kfree(buf);
    if (ok)
        *out = v;
    return ok;
}

int
util_ull2str(char *buf, size_t len, unsigned long long v) {
    char tmp[UTIL_LL_STR_MAX];
    int i = 0;
    do {
        tmp[i++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    if ((size_t)i + 1 > len)
        return 0;
    for (int k = 0; k < i; k++)
        buf[k] = tmp[i - 1 - k];
    buf[i] = 0;
    return i;
}

int
util_ll2str(char *buf, size_t len, long long v) {
    if (v >= 0)
        return util_ull2str(buf, len, (unsigned long long)v);
    if (len < 2)
        return 0;
    buf[0] = '-';
    int n = util_ull2str(buf + 1, len - 1, 0 - (unsigned long long)v);
    return n ? n + 1 : 0;
}

int
util_d2str(char *buf, size_t len, double v) {
    if (isinf(v))
        return snprintf(buf, len, "%s", v > 0 ? "inf" : "-inf");
    if (v == 0)
        return snprintf(buf, len, "%s", signbit(v) ? "-0" : "0");
    /* Whole numbers print as digits ("30", not "3e+01" which %.1g gives): what clients see from
     * Valkey for scores such as 30 or 1000000. */
    if (v == floor(v) && fabs(v) < 1e17)
        return snprintf(buf, len, "%.0f", v);
    /* Any decimal of at most 15 significant digits survives a round trip through a double
     * (DBL_DIG), so when the shortest form has <= 15 digits, %.15g prints exactly it (%g drops
     * the trailing zeros); otherwise 16 or 17 digits are needed. Three tries instead of up to 17. */
    for (int prec = 15; prec < 17; prec++) {
        int n = snprintf(buf, len, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            return n;
    }
    return snprintf(buf, len, "%.17g", v);
}

int
util_ld2str(char *buf, size_t len, long double v) {
    if (isinf(v))
        return snprintf(buf, len, "%s", v > 0 ? "inf" : "-inf");
    int n = snprintf(buf, len, "%.17Lf", v);
    if ((size_t)n >= len)
        return snprintf(buf, len, "%.17Lg", v);
    if (strchr(buf, '.')) {
        while (n > 0 && buf[n - 1] == '0')
            n--;
        if (n > 0 && buf[n - 1] == '.')
            n--;
        buf[n] = 0;
    }
    if (n == 2 && buf[0] == '-' && buf[1] == '0') {
        buf[0] = '0';
        buf[1] = 0;
        n = 1;
    }
    return n;
}

static inline int
fold(int c, bool nocase) {
    return nocase ? tolower(c) : c;
}

/* Returns 1 on match, 0 on no match, -1 when the pattern can never match the rest (lets the
 * caller stop a '*' loop early, which keeps adversarial patterns like "a*a*a*a*b" linear-ish). */
static int
glob(const char *p, size_t pl, const char *s, size_t sl, bool nc, int depth) {
    if (depth > 1000)
        return -1;
    while (pl) {
        switch (p[0]) {
        case '*':
            while (pl > 1 && p[1] == '*') {
                p++;
                pl--;
            }
            if (pl == 1)
                return 1;
            for (size_t i = 0; i <= sl; i++) {
                int r = glob(p + 1, pl - 1, s + i, sl - i, nc, depth + 1);
                if (r != 0)
                    return r;
            }
            return -1;
        case '?':
            if (!sl)
                return 0;
            s++;
            sl--;
            break;
        case '[': {
            if (!sl)
                return 0;
            p++;
            pl--;
            bool neg = pl && p[0] == '^';
            if (neg) {
                p++;
                pl--;
            }
            bool hit = false;
            while (pl && p[0] != ']') {
                if (p[0] == '\\' && pl >= 2) {
                    p++;
                    pl--;
                    if (fold(p[0], nc) == fold(s[0], nc))
                        hit = true;
                } else if (pl >= 3 && p[1] == '-') {
                    int a = fold(p[0], nc), b = fold(p[2], nc), c = fold(s[0], nc);
                    if (a > b) {
                        int t = a;
                        a = b;
                        b = t;
                    }
                    if (c >= a && c <= b)
                        hit = true;
                    p += 2;
                    pl -= 2;
                } else if (fold(p[0], nc) == fold(s[0], nc)) {
                    hit = true;
                }
                p++;
                pl--;
            }
            if (pl) { /* skip ']' */
                p++;
                pl--;
            }
            if (hit == neg)
                return 0;
            s++;
            sl--;
            continue;
        }
        case '\\':
            if (pl >= 2) {
                p++;
                pl--;
            }
            /* fallthrough */
        default:
            if (!sl || fold(p[0], nc) != fold(s[0], nc))
                return 0;
            s++;
            sl--;
            break;
        }
        p++;
        pl--;
    }
    return sl == 0;
}

bool
util_glob_match(const char *pat, size_t plen, const char *s, size_t slen, bool nocase) {
    return glob(pat, plen, s, slen, nocase, 0) == 1;
}

bool
util_eq_nocase(const char *a, size_t an, const char *b) {
    size_t bn = strlen(b);
    return an == bn && strncasecmp(a, b, an) == 0;
}

int64_t
util_time_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t
util_time_ms(void) {
    return util_time_us() / 1000;
}

uint64_t
util_mono_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

uint64_t
util_mono_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000 + (uint64_t)ts.tv_nsec;
}

/* Per thread: the PRNG is a utility, not shared state (each thread seeds or uses the default). */
static _Thread_local uint64_t rng_state = 0x9E3779B97F4A7C15ull;

void
util_random_seed(uint64_t seed) {
    rng_state = seed ? seed : 0x9E3779B97F4A7C15ull;
}

uint64_t
util_random64(void) {
    /* xorshift64*: fast, good enough for sampling and SPOP; not for secrets. */
    uint64_t x = rng_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng_state = x;
    return x * 0x2545F4914F6CDD1Dull;
}

int
util_random_bytes(void *buf, size_t n) {
    uint8_t *p = buf;
    while (n > 0) {
        ssize_t r = getrandom(p, n, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

bool
util_parse_memory(const char *s, long long *out) {
    size_t n = strlen(s), i = 0;
    while (i < n && (isdigit((unsigned char)s[i]) || (i == 0 && s[i] == '-')))
        i++;
    long long v;
    if (!util_parse_ll(s, i, &v))
        return false;
    const char *u = s + i;
    long long mul = 1;
    if (!*u || !strcasecmp(u, "b"))
        mul = 1;
    else if (!strcasecmp(u, "k"))
        mul = 1000;
    else if (!strcasecmp(u, "kb"))
        mul = 1024;
    else if (!strcasecmp(u, "m"))
        mul = 1000 * 1000;
    else if (!strcasecmp(u, "mb"))
        mul = 1024 * 1024;
    else if (!strcasecmp(u, "g"))
        mul = 1000LL * 1000 * 1000;
    else if (!strcasecmp(u, "gb"))
        mul = 1024LL * 1024 * 1024;
    else
        return false;
    if (v != 0 && (v > LLONG_MAX / mul || v < LLONG_MIN / mul))
        return false;
    *out = v * mul;
    return true;
}

unsigned long long
util_raise_nofile(unsigned long long want) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return 0;
    if (rl.rlim_cur >= want)
        return rl.rlim_cur;
    struct rlimit up = {want, rl.rlim_max >= want ? rl.rlim_max : want};
    if (setrlimit(RLIMIT_NOFILE, &up) == 0) /* beyond the hard limit only as root */
        return want;
    up = (struct rlimit){rl.rlim_max, rl.rlim_max};
    if (rl.rlim_max > rl.rlim_cur && setrlimit(RLIMIT_NOFILE, &up) == 0)
        return rl.rlim_max;
    return rl.rlim_cur;
}

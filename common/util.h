/*
 * util.h - small string and number helpers shared by the commands.
 *
 * Number parsing follows Valkey's rules exactly, because clients see the difference: an integer
 * argument is accepted only in canonical form (no spaces, no '+', no leading zeros) for
 * string-to-integer-encoding decisions (util_str_is_canonical_int), while arguments such as
 * "EXPIRE key 010" are parsed leniently by util_parse_ll like strtoll without trailing junk.
 */
#ifndef KEEL_UTIL_H
#define KEEL_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UTIL_LL_STR_MAX  21 /* "-9223372036854775808" plus the terminator */
#define UTIL_DBL_STR_MAX 64

/* Strict base-10 int64: optional '-', digits, no spaces, no overflow. 1 on success. */
bool util_parse_ll(const char *s, size_t n, long long *out);
bool util_parse_ull(const char *s, size_t n, unsigned long long *out);
/* Canonical integer: what util_ll2str would print for the value (so "01", "-0", "+1" are not). */
bool util_str_is_canonical_int(const char *s, size_t n, long long *out);
/* Longest long double text read or written (Valkey's MAX_LONG_DOUBLE_CHARS): util_ld2str of any
 * finite value fits, so whatever INCRBYFLOAT/HINCRBYFLOAT store they can read back. */
#define UTIL_LD_STR_MAX (5 * 1024)
/* A long double as Valkey's string2ld reads it: strtold syntax over the whole text (at most
 * UTIL_LD_STR_MAX bytes), "inf"/"-inf"/"+inf", no leading space, no NaN, no overflow to
 * infinity or underflow to zero. */
bool util_parse_ld(const char *s, size_t n, long double *out);
bool util_parse_double(const char *s, size_t n, double *out);
int util_ll2str(char *buf, size_t len, long long v); /* returns length */
int util_ull2str(char *buf, size_t len, unsigned long long v);
/* Shortest text that reads back to the same double ("inf", "-inf", "1.5", "3"). */
int util_d2str(char *buf, size_t len, double v);
/* INCRBYFLOAT style: fixed %.17Lg then trailing zeros trimmed, as Valkey prints long doubles. */
int util_ld2str(char *buf, size_t len, long double v);

/* Glob-style match (* ? [a-z] [^a] \x), the KEYS/SCAN MATCH/PSUBSCRIBE/CONFIG GET pattern. */
bool util_glob_match(const char *pat, size_t plen, const char *s, size_t slen, bool nocase);

bool util_eq_nocase(const char *a, size_t an, const char *b); /* b is a C string */
int64_t util_time_ms(void);                                   /* wall clock, unix ms */
int64_t util_time_us(void);                                   /* wall clock, unix us */
uint64_t util_mono_us(void);                                  /* monotonic, for durations */
uint64_t util_mono_ns(void);                                  /* monotonic, nanoseconds */
uint64_t util_random64(void); /* xorshift, seeded from the OS at start */
void util_random_seed(uint64_t seed);
/* n bytes from the kernel's random source (getrandom): for ids, not for sampling. 0 or -errno. */
int util_random_bytes(void *buf, size_t n);

/* Memory sizes in config files: "100mb", "1gb", "512", "4k". */
bool util_parse_memory(const char *s, long long *out);
/* Raise the soft limit of open files (RLIMIT_NOFILE) to `want` if it is lower, as far as the
 * hard limit allows (or beyond it, for root); returns the limit now in force. */
unsigned long long util_raise_nofile(unsigned long long want);

#endif

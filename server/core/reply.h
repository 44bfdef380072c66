/*
 * reply.h - building replies in a client's output buffer, in RESP2 or RESP3.
 *
 * Each function appends one RESP element. The type-bearing helpers pick the RESP2 or RESP3 form
 * from c->resp: a map is '%' in RESP3 and a flat array of 2n elements in RESP2, a null is '_' or
 * "$-1"/"*-1", a double ',' or a bulk string. Errors are passed with their code, without the
 * leading '-': reply_err(c, "ERR syntax error"), reply_err(c, "WRONGTYPE Operation ...").
 */
#ifndef KEEL_REPLY_H
#define KEEL_REPLY_H

#include <stdbool.h>
#include <stddef.h>

#include "client.h"

extern const char *const ERR_SYNTAX;    /* "ERR syntax error" */
extern const char *const ERR_WRONGTYPE; /* "WRONGTYPE Operation against a key holding ..." */
extern const char *const ERR_NOT_INT;   /* "ERR value is not an integer or out of range" */
extern const char *const ERR_NOT_FLOAT; /* "ERR value is not a valid float" */
extern const char *const ERR_NO_KEY;    /* "ERR no such key" */
extern const char *const ERR_OVERFLOW;  /* "ERR increment or decrement would overflow" */
extern const char *const ERR_DB_INDEX;  /* "ERR DB index is out of range" */

void reply_ok(client_t *c);
/* Bytes already in RESP form (a MONITOR line), appended as they are. */
void reply_raw_bytes(client_t *c, const char *p, size_t n);
void reply_simple(client_t *c, const char *s);
void reply_simplef(client_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void reply_help(client_t *c, const char *const *lines, size_t n); /* array of simple strings */
void reply_err(client_t *c, const char *msg);
void reply_errf(client_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void reply_err_arity(client_t *c, const char *cmd);
void reply_int(client_t *c, long long v);
void reply_bulk(client_t *c, const char *p, size_t n);
void reply_bulk_cstr(client_t *c, const char *s);
void reply_bulk_ll(client_t *c, long long v);
void reply_null(client_t *c);                            /* missing value: $-1 / _ */
void reply_null_array(client_t *c);                      /* missing aggregate: *-1 / _ */
void reply_bool(client_t *c, bool v);                    /* #t/#f, or :1/:0 in RESP2 */
void reply_bignum(client_t *c, const char *p, size_t n); /* (digits, or a bulk in RESP2 */
void reply_array(client_t *c, long long n);
void reply_map(client_t *c, long long n); /* n pairs */
void reply_set(client_t *c, long long n);
void reply_push(client_t *c, long long n);
void reply_double(client_t *c, double d);
/* A double as Valkey's addReplyHumanLongDouble prints it (%.17Lf, trailing zeros trimmed):
 * GEOPOS and WITHCOORD positions. */
void reply_double_human(client_t *c, double d);
void reply_verbatim(client_t *c, const char *p, size_t n, const char *ext);
void reply_empty_array(client_t *c);

/* Aggregates whose length is known only at the end: remember the spot, fill it in later. */
size_t reply_defer(client_t *c);
void reply_set_deferred_array(client_t *c, size_t spot, long long n);
void reply_set_deferred_set(client_t *c, size_t spot, long long n);
void reply_set_deferred_map(client_t *c, size_t spot, long long n); /* n pairs */

#endif

/*
 * resp.h - the incremental request parser for RESP multibulk and inline commands.
 *
 * The parser is fed a client's query buffer and keeps its place between calls, so a command that
 * arrives in many reads is parsed once in total, not once per read. Arguments are recorded as
 * offsets into the buffer (the buffer may move when it grows) and turned into pointers only when
 * the command is complete. It owns no memory but its argument array.
 *
 * Grammar (requests):  '*' <count> CRLF ( '$' <len> CRLF <len bytes> CRLF ){count}
 *                      or an inline line: words separated by spaces, "quoted" with \x escapes,
 *                      ended by LF (CR optional).
 * Limits: count <= multibulk_max, len <= bulk_max (proto-max-bulk-len), an inline line and a
 * header line <= inline_max bytes. Any violation is a protocol error: the caller replies
 * "-ERR Protocol error: <msg>" and closes the connection, as Valkey does.
 */
#ifndef KEEL_RESP_H
#define KEEL_RESP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "slice.h"

typedef struct resp_limits {
    long long bulk_max;      /* proto-max-bulk-len */
    long long multibulk_max; /* elements in one request */
    size_t inline_max;       /* bytes of an inline request or a header line */
    bool unauth; /* the limits are those of an unauthenticated client: say so in the errors */
} resp_limits_t;

typedef struct resp_parser {
    int state;          /* 0 idle, 1 in multibulk (reading bulks) */
    long long left;     /* bulks still to read in this multibulk */
    long long bulk_len; /* -1: header of the next bulk not read yet */
    size_t pos;         /* parse position in the buffer */
    size_t start;       /* where the current command began */
    int argc;
    int argv_cap;
    size_t *off; /* argc offsets into the buffer (paired with len) */
    size_t *len;
    karg_t *args;     /* filled from off/len when a command is complete */
    char *inline_buf; /* inline arguments are unescaped into here */
    size_t inline_cap;
} resp_parser_t;

enum { RESP_NEED_MORE = 0, RESP_COMMAND = 1 };

void resp_parser_init(resp_parser_t *p);
void resp_parser_free(resp_parser_t *p);
/* Discard the command just returned and continue after it. */
void resp_parser_next(resp_parser_t *p);
/* The buffer's first `n` bytes were discarded: shift saved positions. */
void resp_parser_shift(resp_parser_t *p, size_t n);

/* Parse from p->pos in buf[0..len). RESP_COMMAND: a full command, argc/argv filled (argv points
 * into buf, or into the parser for inline commands; valid until resp_parser_next). A command with
 * zero arguments (empty inline line, "*0") is skipped silently as Valkey does. RESP_NEED_MORE: wait
 * for more bytes; *need_hint may say how many bytes the buffer should hold (a big bulk), else 0.
 * <0: protocol error, message in err. */
int resp_parse(resp_parser_t *p, const char *buf, size_t len, const resp_limits_t *lim, int *argc,
               karg_t **argv, size_t *need_hint, char *err, size_t errlen);

/* Split an inline line into arguments the way Valkey's sdssplitargs does (quotes, escapes).
 * Returns argc >= 0, or -1 on unbalanced quotes. Used by the parser and the config file reader. */
int resp_split_args(const char *line, size_t n, char *out, size_t *offs, size_t *lens, int max);

#endif

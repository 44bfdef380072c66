/*
 * config.h - settings: defaults, the config file, command-line overrides, CONFIG GET/SET/REWRITE.
 *
 * Names follow Valkey's spelling where the setting exists there. `keel-server [file.conf]
 * [--name value ...]`: the file is read first, then the overrides, both through config_set so
 * that the same validation and error text apply everywhere.
 */
#ifndef KEEL_CONFIG_H
#define KEEL_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "engine.h"
#include "sbuf.h"
#include "slice.h"
#include "tls.h"

void config_defaults(engine_t *s);
/* Frees what the settings own (strings, the wal-dir list) and leaves them NULL: for a scratch
 * engine that is thrown away (config_validate, the config fuzzer); the server never frees. */
void config_free(engine_t *s);
/* Apply one setting from text arguments (argv[0] name, the rest values). 0; 1 when startup and
 * the setting is accepted but not honoured by Keel (a Valkey setting Keel has no such thing for,
 * or a value it cannot follow): err says what to use in Keel instead (a warning to log); -1 with
 * err. CONFIG SET (startup false) refuses what it would not honour. */
int config_set(engine_t *s, int argc, const char *const *argv, const size_t *lens, bool startup,
               char *err, size_t errlen);
/* Check a CONFIG SET pair without changing anything in s (for all-or-nothing CONFIG SET). */
int config_validate(engine_t *s, int argc, const char *const *argv, char *err, size_t errlen);
/* The setting `name` names (its own name or an old alias) as an index below config_count(), the
 * same for a setting and its aliases; -1 when there is no such setting. Valkey settings Keel does
 * not have (config_compat.c) have an index too: CONFIG SET refuses them with their reason. */
int config_index(const char *name, size_t n);
int config_count(void);
/* Read a config file (config_file.c: Valkey's syntax, `include`). Settings accepted but not
 * honoured add one line each to *warnings (may be NULL), "file:line: 'name' is not honoured by
 * Keel: ...\n", for the caller to log once the log is set up. 0, or -1 with err naming the file
 * and the line ("file:line: ..."). */
int config_load_file(engine_t *s, const char *path, sbuf_t *warnings, char *err, size_t errlen);
/* --name value [value ...] overrides, after the file; warnings as config_load_file. */
int config_load_args(engine_t *s, int argc, char **argv, sbuf_t *warnings, char *err,
                     size_t errlen);
/* Calls fn(name, value) for each setting whose name matches the glob pattern. */
void config_get(engine_t *s, const char *pat, size_t plen,
                void (*fn)(void *ctx, const char *name, const char *value), void *ctx);
int config_rewrite(engine_t *s, char *err, size_t errlen);
/* Whether the settings need a TLS context: a TLS port, or a replica link over TLS. */
bool config_tls_enabled(const engine_t *s);
/* CONFIG SET name value [name value ...] (argc words): when a pair is a tls-* setting and TLS is
 * enabled, build the TLS context of the settings as they will be once every pair is set, before
 * any is, so that a certificate that does not load refuses the whole CONFIG SET and leaves the
 * running context alone. *out: the new context to install once the pairs are set (NULL: none);
 * *bad: the index of the first tls-* name (for the error). 0, or -1 with err. */
int config_tls_prepare(engine_t *s, int argc, const karg_t *argv, tls_ctx_t **out, int *bad,
                       char *err, size_t errlen);

#endif

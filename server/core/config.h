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

void config_defaults(engine_t *s);
/* Frees what the settings own (strings, the wal-dir list) and leaves them NULL: for a scratch
 * engine that is thrown away (config_validate, the config fuzzer); the server never frees. */
void config_free(engine_t *s);
/* Apply one setting from text arguments (argv[0] name, the rest values). 0, or -1 with err. */
int config_set(engine_t *s, int argc, const char *const *argv, const size_t *lens, bool startup,
               char *err, size_t errlen);
/* Check a CONFIG SET pair without changing anything (for all-or-nothing CONFIG SET). */
int config_validate(int argc, const char *const *argv, char *err, size_t errlen);
int config_load_file(engine_t *s, const char *path, char *err, size_t errlen);
int config_load_args(engine_t *s, int argc, char **argv, char *err, size_t errlen);
/* Calls fn(name, value) for each setting whose name matches the glob pattern. */
void config_get(engine_t *s, const char *pat, size_t plen,
                void (*fn)(void *ctx, const char *name, const char *value), void *ctx);
int config_rewrite(engine_t *s, char *err, size_t errlen);

#endif

/*
 * config_int.h - what config.c, config_file.c and config_compat.c share (not for other modules).
 */
#ifndef KEEL_CONFIG_INT_H
#define KEEL_CONFIG_INT_H

#include <stdbool.h>
#include <stddef.h>

/* A Valkey setting that Keel has no row for in its settings table (config_compat.c). */
typedef struct cfg_foreign {
    const char *name;
    /* The value Keel behaves as, as CONFIG GET shows it: setting exactly this value is accepted
     * (it is what Keel does); NULL when no value describes Keel (CONFIG GET does not list it). */
    const char *keel;
    /* What to use in Keel instead, or why Keel has no such thing: the text of the start-up
     * warning and of CONFIG SET's refusal. */
    const char *instead;
} cfg_foreign_t;

/* The entry named `name` (any case), or NULL. */
const cfg_foreign_t *config_foreign_find(const char *name, size_t n);
/* All entries, for CONFIG GET and the index space of config_index(). */
const cfg_foreign_t *config_foreign_table(int *count);
/* Whether `value` (the words of a line joined by single spaces) is f->keel. */
bool config_foreign_matches(const cfg_foreign_t *f, const char *value);

/* One line of a config file split as Valkey's loader splits it: the line trimmed of spaces,
 * tabs and line ends, nothing for a blank or comment line ('#' first), then the arguments
 * with sdssplitargs' quoting (resp_split_args). The argument pointers and the NUL-terminated
 * arguments come in one allocation, to kfree. *argc: the count, 0 for a blank or comment line,
 * -1 for unbalanced quotes (or a closing quote followed by something else than a space). */
char **config_split_line(const char *line, size_t n, int *argc); /* config.c */

#endif

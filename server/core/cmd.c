/* cmd.c - command table registration, lookup and key extraction (see cmd.h). */
#include "cmd.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "kassert.h"
#include "kmem.h"
#include "engine.h"
#include "ht.h"


typedef struct name_key {
    const char *p;
    size_t n;
} name_key_t;

static uint64_t
hash_key(const void *key) {
    const name_key_t *k = key;
    return ht_hash_bytes_nocase(k->p, k->n);
}

static uint64_t
hash_entry(const void *entry) {
    const cmd_def_t *c = entry;
    return ht_hash_bytes_nocase(c->name, strlen(c->name));
}

static int
key_eq(const void *entry, const void *key) {
    const cmd_def_t *c = entry;
    const name_key_t *k = key;
    return strlen(c->name) == k->n && strncasecmp(c->name, k->p, k->n) == 0;
}

static const ht_type_t cmd_type = {hash_key, hash_entry, key_eq, NULL};

/* The definitions are static tables shared by every engine of the process (one, but for unit
 * tests): their full names and parent links are filled in once, the first time; their ids are
 * the same at every registration (the order of the tables). Counters live in the engine. */
static void
register_cmd(ht_t *table, cmd_def_t *c, uint32_t *next_id) {
    c->id = (*next_id)++;
    for (cmd_def_t *s = c->subcmds; s && s->name; s++)
        s->id = (*next_id)++;
    name_key_t k = {c->name, strlen(c->name)};
    ht_pos_t pos;
    ASSERT(ht_find_pos(table, &k, &pos) == NULL);
    ht_insert_at(table, &pos, c);
    if (c->fullname)
        return;
    c->fullname = kstrndup(c->name, strlen(c->name));
    for (cmd_def_t *s = c->subcmds; s && s->name; s++) {
        size_t n = strlen(c->name) + strlen(s->name) + 2;
        s->fullname = kmalloc(n);
        snprintf(s->fullname, n, "%s|%s", c->name, s->name);
        s->parent = c;
    }
}

void
cmd_table_init(engine_t *e, cmd_def_t *const *groups) {
    ASSERT(e->cmds == NULL);
    e->cmds = ht_create(&cmd_type);
    e->cmd_groups = groups;
    uint32_t n = 0;
    for (int i = 0; groups[i]; i++)
        for (cmd_def_t *c = groups[i]; c->name; c++)
            register_cmd(e->cmds, c, &n);
    e->cmd_stats = kcalloc(n, sizeof *e->cmd_stats);
    e->ncmd_stats = n;
}

cmd_def_t *
cmd_lookup(const engine_t *e, const char *name, size_t n) {
    name_key_t k = {name, n};
    return ht_find(e->cmds, &k);
}

cmd_def_t *
cmd_lookup_sub(cmd_def_t *parent, const char *name, size_t n) {
    for (cmd_def_t *s = parent->subcmds; s && s->name; s++)
        if (strlen(s->name) == n && strncasecmp(s->name, name, n) == 0)
            return s;
    return NULL;
}

cmd_def_t *
cmd_resolve(const engine_t *e, int argc, karg_t *argv) {
    cmd_def_t *c = cmd_lookup(e, argv[0].p, argv[0].n);
    if (c && c->subcmds && argc >= 2) {
        cmd_def_t *s = cmd_lookup_sub(c, argv[1].p, argv[1].n);
        if (s)
            return s;
    }
    return c;
}

int
cmd_count(const engine_t *e) {
    return (int)ht_size(e->cmds);
}

void
cmd_foreach(const engine_t *e, void (*fn)(cmd_def_t *cmd, void *ctx), void *ctx) {
    for (int i = 0; e->cmd_groups[i]; i++)
        for (cmd_def_t *c = e->cmd_groups[i]; c->name; c++)
            fn(c, ctx);
}

karg_t *
cmd_argv_copy(int argc, const karg_t *argv) {
    size_t bytes = sizeof(karg_t) * (size_t)argc;
    for (int i = 0; i < argc; i++)
        bytes += argv[i].n + 1;
    karg_t *a = kmalloc(bytes);
    char *p = (char *)(a + argc);
    for (int i = 0; i < argc; i++) {
        memcpy(p, argv[i].p, argv[i].n);
        p[argv[i].n] = 0;
        a[i] = (karg_t){p, argv[i].n};
        p += argv[i].n + 1;
    }
    return a;
}

bool
cmd_arity_ok(const cmd_def_t *cmd, int argc) {
    return cmd->arity > 0 ? argc == cmd->arity : argc >= -cmd->arity;
}

int
cmd_get_keys(cmd_def_t *cmd, int argc, karg_t *argv, int *idx, int max) {
    if (cmd->getkeys)
        return cmd->getkeys(argc, argv, idx, max);
    if (cmd->first_key <= 0)
        return 0;
    int last = cmd->last_key < 0 ? argc + cmd->last_key : cmd->last_key;
    int step = cmd->key_step > 0 ? cmd->key_step : 1;
    int n = 0;
    for (int i = cmd->first_key; i <= last && i < argc && n < max; i += step)
        idx[n++] = i;
    return n;
}

void
cmd_reset_stats(const engine_t *e) {
    memset(e->cmd_stats, 0, sizeof *e->cmd_stats * e->ncmd_stats);
}

cmd_stats_t *
cmd_stats(const engine_t *e, const cmd_def_t *cmd) {
    ASSERT(cmd->id < e->ncmd_stats);
    return &e->cmd_stats[cmd->id];
}

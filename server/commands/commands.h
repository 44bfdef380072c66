/*
 * commands.h - the command tables, one per group (strings, keys, lists, ...), each defined in
 * its own file here; commands_registry lists them for the engine's cmd_table_init.
 */
#ifndef KEEL_COMMANDS_H
#define KEEL_COMMANDS_H

#include "cmd.h"

extern cmd_def_t *const commands_registry[]; /* NULL-terminated */

extern cmd_def_t cmd_table_server[], cmd_table_conn[], cmd_table_string[], cmd_table_keys[],
    cmd_table_command[], cmd_table_info[];
extern cmd_def_t cmd_table_bitmap[], cmd_table_hll[], cmd_table_pubsub[], cmd_table_watch[];
extern cmd_def_t cmd_table_expire[];
extern cmd_def_t cmd_table_persist[], cmd_table_save[];
extern cmd_def_t cmd_table_hash[], cmd_table_set[];
extern cmd_def_t cmd_table_list[];
extern cmd_def_t cmd_table_zset[];
extern cmd_def_t cmd_table_repl[];
extern cmd_def_t cmd_table_acl[];
extern cmd_def_t cmd_table_diag[];

/* DEBUG's subcommands for client test suites (cmd_debug.c): true when it handled c's call. */
bool cmd_debug_extra(client_t *c);
extern cmd_def_t cmd_table_geo[], cmd_table_sort[];
extern cmd_def_t cmd_table_dump[], cmd_table_migrate[];
extern cmd_def_t cmd_table_bloom[];
extern cmd_def_t cmd_table_stream[], cmd_table_stream_group[];
extern cmd_def_t cmd_table_script[];

#endif

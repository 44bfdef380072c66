/* registry.c - the list of command tables, one per group. Add a group's table here. */
#include "commands.h"

/* clang-format off */
cmd_def_t *const commands_registry[] = {
    cmd_table_server, cmd_table_conn, cmd_table_string, cmd_table_keys, cmd_table_expire,
    cmd_table_command, cmd_table_info, cmd_table_bitmap, cmd_table_hll, cmd_table_pubsub,
    cmd_table_watch, cmd_table_persist, cmd_table_save, cmd_table_hash, cmd_table_set,
    cmd_table_list, cmd_table_zset, cmd_table_repl, cmd_table_acl, cmd_table_diag,
    cmd_table_geo, cmd_table_sort, cmd_table_dump, cmd_table_migrate, cmd_table_bloom,
    cmd_table_stream, cmd_table_stream_group, cmd_table_script,
    NULL,
};
/* clang-format on */

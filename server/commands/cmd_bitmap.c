/* cmd_bitmap.c - being written. */
#include "server/commands/cmd.h"

cmd_def_t cmd_table_bitmap[] = {
    {0},
};

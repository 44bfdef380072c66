/* cmd_hll.c - being written. */
#include "server/commands/cmd.h"

cmd_def_t cmd_table_hll[] = {
    {0},
};

/*
 * cmd_script.c - the scripting commands' table: EVAL, EVALSHA, EVAL_RO, EVALSHA_RO, FCALL,
 * FCALL_RO, SCRIPT and FUNCTION. The procedures are in server/script/ (script.h), where the Lua
 * engine is; docs/scripting.md describes them.
 */
#include "cmd.h"
#include "commands.h"
#include "reply.h"
#include "script.h"

static void
script_help_cmd(client_t *c) {
    static const char *const lines[] = {
        "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "EXISTS <sha1> [<sha1> ...]",
        "    Return information about the existence of the scripts in the script cache.",
        "FLUSH [ASYNC|SYNC]",
        "    Flush the Lua scripts cache.",
        "KILL",
        "    Kill the currently executing Lua script.",
        "LOAD <script>",
        "    Load a script into the scripts cache without executing it.",
        "HELP",
        "    Print this help.",
    };
    reply_help(c, lines, sizeof lines / sizeof *lines);
}

static void
function_help_cmd(client_t *c) {
    static const char *const lines[] = {
        "FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "LOAD [REPLACE] <FUNCTION CODE>",
        "    Create a new library with the given library name and code.",
        "DELETE <LIBRARY NAME>",
        "    Delete the given library.",
        "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
        "    Return general information on all the libraries.",
        "FLUSH [ASYNC|SYNC]",
        "    Delete all the libraries.",
        "DUMP",
        "    Return a serialized payload representing the current libraries.",
        "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
        "    Restore the libraries represented by the given payload.",
        "STATS",
        "    Return information about the current function running.",
        "KILL",
        "    Kill the current running function.",
        "HELP",
        "    Print this help.",
    };
    reply_help(c, lines, sizeof lines / sizeof *lines);
}

#define SCR CMD_NOSCRIPT
static cmd_def_t script_subcmds[] = {
    {"load", script_load_cmd, 3, SCR | CMD_STALE, 0, 0, 0, "scripting",
     "Loads a server-side Lua script to the script cache.", "2.6.0",
     "O(N) with N being the length in bytes of the script body.", "slow scripting"},
    {"exists", script_exists_cmd, -3, SCR | CMD_STALE, 0, 0, 0, "scripting",
     "Determines whether server-side Lua scripts exist in the script cache.", "2.6.0",
     "O(N) with N being the number of scripts to check", "slow scripting"},
    {"flush", script_flush_cmd, -2, SCR, 0, 0, 0, "scripting",
     "Removes all server-side Lua scripts from the script cache.", "2.6.0",
     "O(N) with N being the number of scripts in cache", "slow scripting"},
    {"kill", script_kill_cmd, 2, SCR | CMD_ALLOW_BUSY, 0, 0, 0, "scripting",
     "Terminates a server-side Lua script during execution.", "2.6.0", "O(1)", "slow scripting"},
    {"help", script_help_cmd, 2, CMD_LOADING | CMD_STALE, 0, 0, 0, "scripting",
     "Returns helpful text about the different subcommands.", "5.0.0", "O(1)", "slow scripting"},
    {0},
};

static cmd_def_t function_subcmds[] = {
    {"load", function_load_cmd, -3, SCR | CMD_WRITE | CMD_DENYOOM, 0, 0, 0, "scripting",
     "Creates a library.", "7.0.0", "O(1) (considering compilation time is redundant)",
     "write slow scripting"},
    {"delete", function_delete_cmd, 3, SCR | CMD_WRITE, 0, 0, 0, "scripting",
     "Deletes a library and its functions.", "7.0.0", "O(1)", "write slow scripting"},
    {"flush", function_flush_cmd, -2, SCR | CMD_WRITE, 0, 0, 0, "scripting",
     "Deletes all libraries and functions.", "7.0.0",
     "O(N) where N is the number of functions deleted", "write slow scripting"},
    {"list", function_list_cmd, -2, SCR, 0, 0, 0, "scripting",
     "Returns information about all libraries.", "7.0.0", "O(N) where N is the number of functions",
     "slow scripting"},
    {"dump", function_dump_cmd, 2, SCR, 0, 0, 0, "scripting",
     "Dumps all libraries into a serialized binary payload.", "7.0.0",
     "O(N) where N is the number of functions", "slow scripting"},
    {"restore", function_restore_cmd, -3, SCR | CMD_WRITE | CMD_DENYOOM, 0, 0, 0, "scripting",
     "Restores all libraries from a payload.", "7.0.0",
     "O(N) where N is the number of functions on the payload", "write slow scripting"},
    {"stats", function_stats_cmd, 2, SCR | CMD_ALLOW_BUSY, 0, 0, 0, "scripting",
     "Returns information about a function during execution.", "7.0.0", "O(1)", "slow scripting"},
    {"kill", function_kill_cmd, 2, SCR | CMD_ALLOW_BUSY, 0, 0, 0, "scripting",
     "Terminates a function during execution.", "7.0.0", "O(1)", "slow scripting"},
    {"help", function_help_cmd, 2, CMD_LOADING | CMD_STALE, 0, 0, 0, "scripting",
     "Returns helpful text about the different subcommands.", "7.0.0", "O(1)", "slow scripting"},
    {0},
};

cmd_def_t cmd_table_script[] = {
    {"eval", script_eval_cmd, -3, SCR | CMD_STALE | CMD_SKIP_MONITOR, 0, 0, 0, "scripting",
     "Executes a server-side Lua script.", "2.6.0", "Depends on the script that is executed.",
     "slow scripting", script_getkeys},
    {"evalsha", script_evalsha_cmd, -3, SCR | CMD_STALE | CMD_SKIP_MONITOR, 0, 0, 0, "scripting",
     "Executes a server-side Lua script by SHA1 digest.", "2.6.0",
     "Depends on the script that is executed.", "slow scripting", script_getkeys},
    {"eval_ro", script_eval_ro_cmd, -3, SCR | CMD_STALE | CMD_SKIP_MONITOR | CMD_READONLY, 0, 0, 0,
     "scripting", "Executes a read-only server-side Lua script.", "7.0.0",
     "Depends on the script that is executed.", "slow scripting", script_getkeys},
    {"evalsha_ro", script_evalsha_ro_cmd, -3, SCR | CMD_STALE | CMD_SKIP_MONITOR | CMD_READONLY, 0,
     0, 0, "scripting", "Executes a read-only server-side Lua script by SHA1 digest.", "7.0.0",
     "Depends on the script that is executed.", "slow scripting", script_getkeys},
    {"fcall", function_fcall_cmd, -3, SCR | CMD_STALE | CMD_SKIP_MONITOR, 0, 0, 0, "scripting",
     "Invokes a function.", "7.0.0", "Depends on the function that is executed.", "slow scripting",
     script_getkeys},
    {"fcall_ro", function_fcall_ro_cmd, -3, SCR | CMD_STALE | CMD_SKIP_MONITOR | CMD_READONLY, 0, 0,
     0, "scripting", "Invokes a read-only function.", "7.0.0",
     "Depends on the function that is executed.", "slow scripting", script_getkeys},
    {"script", NULL, -2, 0, 0, 0, 0, "scripting",
     "A container for Lua scripts management commands.", "2.6.0", "Depends on subcommand.", "slow",
     NULL, script_subcmds},
    {"function", NULL, -2, 0, 0, 0, 0, "scripting", "A container for function commands.", "7.0.0",
     "Depends on subcommand.", "slow", NULL, function_subcmds},
    {0},
};

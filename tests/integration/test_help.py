"""HELP subcommands: every container's HELP is an array of simple strings (one shared
reply_help builds them), headed as Valkey's addReplyHelp heads them, with its own line count."""
import pytest

# (command, lines in the reply, last line): the counts are those of the tables in the sources.
HELPS = [
    ("COMMAND", 17, "    Print this help."),
    ("CONFIG", 11, "    Print this help."),
    ("MEMORY", 13, "    Print this help."),
    ("CLIENT", 40, "    Print this help."),
    ("PUBSUB", 14, "    Print this help."),
    ("OBJECT", 15, "    Print this help."),
    ("DEBUG", 24, "    Accepted for compatibility; does nothing."),
    ("SLOWLOG", 12, "    Print this help."),
    ("LATENCY", 15, "    Print this help."),
]


@pytest.mark.parametrize("cmd,count,last", HELPS)
@pytest.mark.parametrize("resp", [2, 3])
def test_help_is_an_array_of_simple_strings(server, cmd, count, last, resp):
    raw = server.raw(resp=resp)
    try:
        lines = raw.call(cmd, "HELP")
    finally:
        raw.close()
    assert isinstance(lines, list) and len(lines) == count
    # The harness returns str for a simple string and bytes for a bulk one.
    assert all(isinstance(l, str) for l in lines)
    assert lines[0] == f"{cmd} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    assert lines[-1] == last
    # Valkey's layout: a subcommand line, then its indented description.
    assert lines[1][0] != " " and lines[2].startswith("    ")


def test_help_lowercase_subcommand_gets_the_same_reply(server):
    raw = server.raw()
    try:
        assert raw.call("client", "help") == raw.call("CLIENT", "HELP")
    finally:
        raw.close()

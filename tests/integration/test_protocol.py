"""RESP parsing, limits and protocol errors against the real server."""
import socket
import time

import pytest

from keel_harness import RespError


def raw_send(port, data, read=True):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(data)
    out = b""
    if read:
        s.settimeout(2)
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                out += chunk
        except socket.timeout:
            pass
    s.close()
    return out


def test_inline_commands(server):
    out = raw_send(server.port, b"PING\r\nSET k \"hello world\"\r\nGET k\r\nQUIT\r\n")
    assert out == b"+PONG\r\n+OK\r\n$11\r\nhello world\r\n+OK\r\n"


def test_pipeline_of_many_commands(server):
    cmds = b"".join(b"*3\r\n$3\r\nSET\r\n$4\r\nk%03d\r\n$1\r\nv\r\n" % i for i in range(500))
    out = raw_send(server.port, cmds + b"*1\r\n$4\r\nQUIT\r\n")
    assert out.count(b"+OK\r\n") == 501


def test_protocol_error_closes_connection(server):
    out = raw_send(server.port, b"*1\r\n$x\r\n")
    assert out.startswith(b"-ERR Protocol error: invalid bulk length")
    out = raw_send(server.port, b"*abc\r\n")
    assert out.startswith(b"-ERR Protocol error: invalid multibulk length")
    out = raw_send(server.port, b"*1\r\n$3\r\nPINGX\r\n")
    assert out.startswith(b"-ERR Protocol error: invalid bulk format")
    out = raw_send(server.port, b"*1\r\n:3\r\n")
    assert out.startswith(b"-ERR Protocol error: expected '$', got ':'")


def test_unbalanced_quotes(server):
    out = raw_send(server.port, b'SET "a b\r\n')
    assert out.startswith(b"-ERR Protocol error: unbalanced quotes")


def test_bulk_over_proto_max_bulk_len(server):
    out = raw_send(server.port, b"*2\r\n$3\r\nGET\r\n$%d\r\n" % (600 * 1024 * 1024))
    assert out.startswith(b"-ERR Protocol error: invalid bulk length")


def test_multibulk_over_limit(server):
    out = raw_send(server.port, b"*%d\r\n" % (1024 * 1024 + 1))
    assert out.startswith(b"-ERR Protocol error: invalid multibulk length")


def test_command_split_across_reads(server):
    s = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    msg = b"*3\r\n$3\r\nSET\r\n$5\r\nsplit\r\n$10\r\n0123456789\r\n*2\r\n$3\r\nGET\r\n$5\r\nsplit\r\n"
    for i in range(len(msg)):
        s.sendall(msg[i:i + 1])
        time.sleep(0.0005)
    s.settimeout(5)
    out = b""
    while not out.endswith(b"0123456789\r\n"):
        out += s.recv(1024)
    assert out == b"+OK\r\n$10\r\n0123456789\r\n"
    s.close()


def test_server_survives_garbage(server):
    import random
    rnd = random.Random(1234)
    for _ in range(200):
        blob = bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 200)))
        raw_send(server.port, blob, read=False)
    c = server.client()
    assert c.ping() is True


def test_unknown_command_error(server):
    c = server.raw()
    e = c.call("NOSUCHCMD", "a", "b")
    assert isinstance(e, RespError)
    assert str(e) == "ERR unknown command 'NOSUCHCMD', with args beginning with: 'a' 'b' "


def test_arity_error(server):
    c = server.raw()
    e = c.call("GET")
    assert str(e) == "ERR wrong number of arguments for 'get' command"


def test_resp3_hello(server):
    c = server.raw(resp=2)
    hello = c.call("HELLO", "3")
    assert hello[b"proto"] == 3
    assert c.call("GET", "nokey") is None
    assert isinstance(c.call("CLIENT", "INFO"), str)
    e = c.call("HELLO", "4")
    assert str(e) == "NOPROTO unsupported protocol version"


def test_big_value_roundtrip(server):
    c = server.client()
    big = b"x" * (20 * 1024 * 1024)
    c.set("big", big)
    assert c.get("big") == big
    c.delete("big")


def test_empty_inline_line_then_command(server):
    # redis-cli --pipe sends its final ECHO after a bare CRLF: the parser must skip it and go on.
    out = raw_send(server.port, b"SET a b\r\n\r\n*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\nQUIT\r\n")
    assert out == b"+OK\r\n$2\r\nhi\r\n+OK\r\n"


def test_redis_cli_pipe(server, tmp_path):
    import subprocess
    data = b"".join(b"*3\r\n$3\r\nSET\r\n$6\r\npipe%02d\r\n$1\r\nv\r\n" % i for i in range(50))
    res = subprocess.run(["redis-cli", "-p", str(server.port), "--pipe"], input=data,
                         capture_output=True, timeout=30)
    assert res.returncode == 0, res.stdout + res.stderr
    assert b"errors: 0, replies: 50" in res.stdout


def test_config_set_is_all_or_nothing(server):
    import redis
    c = server.client()
    c.config_set("maxmemory-samples", 5)
    c.config_set("hz", 10)
    try:
        c.execute_command("CONFIG", "SET", "maxmemory-samples", "7", "hz", "not-a-number")
        assert False, "expected an error"
    except redis.ResponseError as e:
        assert "hz" in str(e)
    assert c.config_get("maxmemory-samples") == {"maxmemory-samples": "5"}
    assert c.execute_command("CONFIG", "SET", "maxmemory-samples", "7", "hz", "20") in (True, b"OK")
    assert c.config_get("maxmemory-samples") == {"maxmemory-samples": "7"}
    assert c.config_get("hz") == {"hz": "20"}
    c.config_set("maxmemory-samples", 5)
    c.config_set("hz", 10)


def test_instantaneous_ops_per_sec_follows_load(server):
    import time as _t
    c = server.client()
    load = server.client()
    end = _t.time() + 2.0
    while _t.time() < end:
        p = load.pipeline(transaction=False)
        for _ in range(200):
            p.ping()
        p.execute()
    assert int(c.info("stats")["instantaneous_ops_per_sec"]) > 100


def test_commandstats_counts_rejected_and_failed_calls(server):
    import redis
    c = server.client()
    c.config_resetstat()
    for args in (("GET",), ("GET", "a", "b")):
        try:
            c.execute_command(*args)
        except redis.ResponseError:
            pass
    c.set("s", "x")
    try:
        c.execute_command("INCR", "s")  # redis-py's incr() sends INCRBY
    except redis.ResponseError:
        pass
    stats = c.info("commandstats")
    assert stats["cmdstat_get"]["rejected_calls"] == 2
    assert stats["cmdstat_incr"]["failed_calls"] == 1
    assert stats["cmdstat_incr"]["calls"] == 1


def test_command_acl_categories_and_filter(server):
    c = server.raw(resp=3)
    info = c.call("COMMAND", "INFO", "get")[0]
    assert info[6] == {"@read", "@string", "@fast"}
    names = c.call("COMMAND", "LIST", "FILTERBY", "ACLCAT", "hyperloglog")
    assert b"pfadd" in names and b"get" not in names
    assert c.call("COMMAND", "LIST", "FILTERBY", "ACLCAT", "nosuchcat") == []

"""Lua scripting and functions: EVAL/EVALSHA/SCRIPT/FUNCTION/FCALL with Valkey's reply shapes and
error texts, the sandbox, busy scripts and SCRIPT KILL, a script's writes as one log record that
survives SIGKILL, functions across restarts (log and snapshot) and point-in-time restore, and
redis-py's Lock."""
import glob
import os
import subprocess
import sys
import threading
import time

import pytest
import redis

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from keel_harness import KeelServer, RespError, binary, wait_for, wait_logged, wal_last_lsn  # noqa: E402

LIB = """#!lua name=mylib
redis.register_function('incr_get', function(keys, args)
  redis.call('incr', keys[1])
  return redis.call('get', keys[1])
end)
redis.register_function{function_name='ro_get', callback=function(keys, args)
  return redis.call('get', keys[1]) end, flags={'no-writes'}, description='reads'}
"""


def test_eval_replies_and_conversions(r):
    assert r.eval("return 1", 0) == 1
    assert r.eval("return 3.99", 0) == 3
    assert r.eval("return 'x'", 0) == b"x"
    assert r.eval("return {1, 'a', {2}, nil, 5}", 0) == [1, b"a", [2]]
    assert r.eval("return true", 0) == 1
    assert r.eval("return false", 0) is None
    assert r.eval("return redis.status_reply('FINE')", 0) == b"FINE"
    assert r.eval("return redis.call('set', KEYS[1], ARGV[1])", 1, "k", "v") == b"OK"
    assert r.eval("return redis.call('get', KEYS[1])", 1, "k") == b"v"
    assert r.eval("return redis.call('get', 'nokey')", 0) is None
    # A nil bulk is false in Lua; a status reply is {ok=...}.
    assert r.eval("return redis.call('get', 'nokey') == false", 0) == 1
    assert r.eval("return redis.call('set', 'a', 1)['ok']", 0) == b"OK"
    # Numbers as arguments: integers print as integers, others keep their precision.
    r.eval("redis.call('set', 'n', 10) redis.call('set', 'f', 0.5)", 0)
    assert r.get("n") == b"10" and r.get("f") == b"0.5"
    assert r.eval("return redis.sha1hex('')", 0) == b"da39a3ee5e6b4b0d3255bfef95601890afd80709"
    assert r.eval("return cjson.encode({1, 2})", 0) == b"[1,2]"
    assert r.eval("return cjson.decode('{\"a\":7}').a", 0) == 7
    assert r.eval("return bit.bxor(5, 3)", 0) == 6
    assert r.eval("return server.call('ping')", 0) == b"PONG"


def test_resp3_conversions(server):
    c = server.raw(resp=3)
    try:
        assert c.call("EVAL", "return {double=3.5}", "0") == 3.5
        assert c.call("EVAL", "return {map={a=1}}", "0") == {b"a": 1}
        assert c.call("EVAL", "return {set={x=true}}", "0") == {b"x"}
        # Booleans follow the script's protocol (setresp), not the caller's.
        assert c.call("EVAL", "return true", "0") == 1
        assert c.call("EVAL", "return false", "0") is None
        assert c.call("EVAL", "redis.setresp(3) return true", "0") is True
        assert c.call("EVAL", "redis.setresp(3) return false", "0") is False
        # Under setresp(3) a command's RESP3 reply reaches the script typed.
        c.call("HSET", "h", "f", "v")
        got = c.call("EVAL", "redis.setresp(3) return redis.call('hgetall', 'h')", "0")
        assert got == {b"f": b"v"}
        assert c.call("EVAL", "redis.setresp(3) return redis.call('hgetall', 'h').map.f",
                      "0") == b"v"
        assert c.call("EVAL", "redis.setresp(3) return {double = redis.call('zscore', 'z', 'm') "
                              "== nil and 1 or 0}", "0") == 1.0
    finally:
        c.close()
    r2 = server.raw(resp=2)
    try:  # the same tables in RESP2: a map flattens, a double is a bulk string
        assert r2.call("EVAL", "return {map={a=1}}", "0") == [b"a", 1]
        assert r2.call("EVAL", "return {double=3.5}", "0") == b"3.5"
    finally:
        r2.close()


def test_errors_name_the_script_and_line(r):
    sha = r.script_load("return redis.call('incr', KEYS[1])")
    r.set("s", "x")
    with pytest.raises(redis.ResponseError) as e:
        r.evalsha(sha, 1, "s")
    assert str(e.value) == ("value is not an integer or out of range script: %s, on "
                            "@user_script:1." % sha)
    with pytest.raises(redis.ResponseError) as e:
        r.eval("return redis.call('nosuch')", 0)
    assert str(e.value).startswith("Unknown Redis command called from script script: ")
    with pytest.raises(redis.ResponseError) as e:
        r.eval("return redis.call('get')", 0)
    assert str(e.value).startswith("Wrong number of args calling Redis command from script")
    with pytest.raises(redis.ResponseError) as e:
        r.eval("return redis.call('multi')", 0)
    assert str(e.value).startswith("This Redis command is not allowed from script")
    # pcall returns the error table; returning it replies the plain error.
    with pytest.raises(redis.ResponseError) as e:
        r.eval("return redis.pcall('incr', 's')", 0)
    assert str(e.value) == "value is not an integer or out of range"
    assert r.eval("local ok, e = pcall(redis.call, 'incr', 's') return e", 0) == \
        b"ERR value is not an integer or out of range"
    with pytest.raises(redis.ResponseError) as e:
        r.eval("return redis.error_reply('MY code')", 0)
    assert str(e.value) == "MY code"
    with pytest.raises(redis.ResponseError, match="Error compiling script"):
        r.eval("return (", 0)
    with pytest.raises(redis.exceptions.NoScriptError):
        r.evalsha("0" * 40, 0)
    with pytest.raises(redis.ResponseError, match="can't be greater"):
        r.eval("return 1", 3, "a")
    with pytest.raises(redis.ResponseError, match="can't be negative"):
        r.eval("return 1", -1)


@pytest.mark.parametrize("code,name", [("os.execute('true')", "os"), ("io.open('/etc/passwd')", "io"),
                                       ("loadfile('/etc/passwd')", "loadfile"),
                                       ("require('x')", "require"), ("dofile('/x')", "dofile"),
                                       ("debug.getinfo(1)", "debug"), ("print(1)", "print")])
def test_sandbox_refuses(r, code, name):
    with pytest.raises(redis.ResponseError) as e:
        r.eval(code, 0)
    assert "Script attempted to access nonexistent global variable '%s'" % name in str(e.value)


def test_sandbox_globals_and_libraries_are_read_only(r):
    for code in ("x = 1", "string.upper = nil", "redis.call = nil", "rawset(_G, 'y', 1)",
                 "rawset(redis, 'call', 1)", "setmetatable(_G, nil)"):
        with pytest.raises(redis.ResponseError):
            r.eval(code, 0)
    assert r.eval("return string.upper('ok')", 0) == b"OK"
    assert r.eval("return redis.call('ping')", 0) == b"PONG"


def test_script_commands(r):
    sha = r.script_load("return 'hi'")
    assert sha == "2f31ba2bb6d6a0f42cc159d2e2dad55440778de3"
    assert r.script_exists(sha, "0" * 40) == [True, False]
    assert r.execute_command("SCRIPT", "EXISTS", sha.upper()) == [1]
    assert r.evalsha(sha, 0) == b"hi"
    assert r.info("memory")["number_of_cached_scripts"] >= 1
    assert r.script_flush() is True
    assert r.script_exists(sha) == [False]
    assert r.info("memory")["number_of_cached_scripts"] == 0
    with pytest.raises(redis.ResponseError, match="NOTBUSY"):
        r.script_kill()


def test_shebang_flags_and_ro_variants(r):
    with pytest.raises(redis.ResponseError, match="Write commands are not allowed from read-only"):
        r.eval("#!lua flags=no-writes\nreturn redis.call('set', 'a', 'b')", 0)
    with pytest.raises(redis.ResponseError, match="Write commands are not allowed from read-only"):
        r.eval_ro("return redis.call('set', 'a', 'b')", 0)
    with pytest.raises(redis.ResponseError, match=r"write flag using \*_ro"):
        r.eval_ro("#!lua\nreturn 1", 0)
    assert r.eval_ro("#!lua flags=no-writes\nreturn redis.call('get', 'nokey')", 0) is None
    with pytest.raises(redis.ResponseError, match="Unexpected flag in script shebang: bad"):
        r.eval("#!lua flags=bad\nreturn 1", 0)
    with pytest.raises(redis.ResponseError, match="Unexpected engine"):
        r.eval("#!js\nreturn 1", 0)
    # A line-2 error reports line 2: the shebang line is kept for line numbers.
    with pytest.raises(redis.ResponseError, match="@user_script:2"):
        r.eval("#!lua\nreturn redis.call('nosuch')", 0)


def test_functions(r):
    r.function_flush()
    assert r.function_load(LIB) == b"mylib"
    with pytest.raises(redis.ResponseError, match="Library 'mylib' already exists"):
        r.function_load(LIB)
    assert r.function_load(LIB, replace=True) == b"mylib"
    assert r.fcall("incr_get", 1, "c") == b"1"
    assert r.fcall_ro("ro_get", 1, "c") == b"1"
    with pytest.raises(redis.ResponseError, match=r"write flag using \*_ro"):
        r.fcall_ro("incr_get", 1, "c")
    with pytest.raises(redis.ResponseError, match="Function not found"):
        r.fcall("nosuch", 0)
    lst = r.function_list(withcode=True)
    assert lst[0][1] == b"mylib" and lst[0][3] == b"LUA"
    funcs = {f[1]: f for f in lst[0][5]}
    assert set(funcs) == {b"incr_get", b"ro_get"}
    assert funcs[b"ro_get"][3] == b"reads" and funcs[b"ro_get"][5] == [b"no-writes"]
    assert lst[0][7] == LIB.encode()
    stats = r.function_stats()
    assert stats[b"engines"] if isinstance(stats, dict) else stats[3] == \
        [b"LUA", [b"libraries_count", 1, b"functions_count", 2]]
    dump = r.function_dump()
    r.function_delete("mylib")
    with pytest.raises(redis.ResponseError, match="Library not found"):
        r.function_delete("mylib")
    assert r.function_list() == []
    assert r.function_restore(dump) is True
    assert r.fcall("incr_get", 1, "c") == b"2"
    with pytest.raises(redis.ResponseError, match="already exists"):
        r.function_restore(dump)
    assert r.function_restore(dump, "REPLACE") is True
    with pytest.raises(redis.ResponseError, match="checksum"):
        r.function_restore(b"junk")
    with pytest.raises(redis.ResponseError, match="No functions registered"):
        r.function_load("#!lua name=empty\nreturn 1")
    with pytest.raises(redis.ResponseError, match="Missing library metadata"):
        r.function_load("return 1")
    with pytest.raises(redis.ResponseError, match="Function incr_get already exists"):
        r.function_load("#!lua name=other\nredis.register_function('incr_get', function() end)")
    # RESTORE is all or nothing: a library of the payload that fails takes the others back out.
    r.function_flush()
    r.function_load("#!lua name=b\nredis.register_function('fb', function() return 1 end)")
    r.function_load("#!lua name=c\nredis.register_function('fa', function() return 1 end)")
    both = r.function_dump()
    r.function_flush()
    r.function_load("#!lua name=a\nredis.register_function('fa', function() return 2 end)")
    with pytest.raises(redis.ResponseError, match="Function fa already exists"):
        r.function_restore(both, "REPLACE")
    assert [lib[1] for lib in r.function_list()] == [b"a"]
    assert r.fcall("fa", 0) == 2
    r.function_flush()
    with pytest.raises(redis.ResponseError, match="FUNCTION LOAD timeout"):
        r.function_load("#!lua name=spin\nwhile true do end")
    with pytest.raises(redis.ResponseError):  # redis.call is not there while a library loads
        r.function_load("#!lua name=bad\nredis.call('set', 'x', 1)\n"
                        "redis.register_function('f', function() end)")
    r.function_flush()


def test_script_runs_with_the_callers_acl_user(server):
    admin = server.client()
    admin.execute_command("ACL", "SETUSER", "lim", "on", "nopass", "+@all", "-set", "~*")
    c = server.client(username="lim", password="x")
    try:
        assert c.eval("return redis.call('get', 'k')", 0) is None
        with pytest.raises(redis.exceptions.NoPermissionError, match="no permissions"):
            c.eval("return redis.call('set', 'k', 'v')", 0)
    finally:
        c.close()
        admin.execute_command("ACL", "DELUSER", "lim")


def test_busy_script_others_get_busy_and_script_kill_stops_it(server):
    admin = server.client()
    admin.config_set("busy-reply-threshold", "50")
    out = {}

    def run():
        c = server.client()
        try:
            c.eval("local i = 0 while true do i = i + 1 end", 0)
        except redis.ResponseError as e:
            out["err"] = str(e)

    t = threading.Thread(target=run)
    t.start()
    other = server.client()

    def busy():
        try:
            other.ping()
            return False
        except redis.exceptions.BusyLoadingError as e:
            out["busy"] = str(e)
            return True
        except redis.ResponseError as e:
            out["busy"] = str(e)
            return True

    wait_for(busy, what="a BUSY reply")
    assert "Redis is busy running a script. You can only call SCRIPT KILL" in out["busy"]
    with pytest.raises(redis.ResponseError, match="BUSY"):
        other.execute_command("FUNCTION", "KILL")  # an EVAL is not killed by FUNCTION KILL
    assert other.script_kill() is True
    t.join(30)
    assert not t.is_alive()
    assert out["err"].startswith("Script killed by user with SCRIPT KILL.")
    assert other.ping() is True
    # A script that wrote cannot be killed.
    t = threading.Thread(target=lambda: server.client().eval(
        "redis.call('set', 'w', 1) local function now() local t = redis.call('time') "
        "return t[1] * 1000 + math.floor(t[2] / 1000) end local e = now() + 1500 "
        "while now() < e do end", 0))
    t.start()
    wait_for(busy, what="a BUSY reply")
    with pytest.raises(redis.ResponseError, match="UNKILLABLE"):
        other.script_kill()
    t.join(30)
    admin.config_set("busy-reply-threshold", "5000")


def wal_lsn(c):
    return c.info("wal")["wal_last_lsn"]


def test_script_writes_are_one_record_and_survive_sigkill(live):
    s = KeelServer(durability="sync")
    live.append(s)
    s.start()
    r = s.client()
    r.function_load(LIB)
    before = wal_lsn(r)
    r.eval("for i = 1, 50 do redis.call('set', 'k' .. i, i) end redis.call('select', 1) "
           "redis.call('set', 'db1', 'x') redis.call('select', 0) "
           "redis.call('expire', 'k1', 1000) return 1", 0)
    assert wal_lsn(r) == before + 1
    # A script that only reads logs nothing.
    r.eval("return redis.call('get', 'k1')", 0)
    assert wal_lsn(r) == before + 1
    r.fcall("incr_get", 1, "c")
    s.kill()
    s.start()
    r = s.client()
    assert [r.get("k%d" % i) for i in (1, 50)] == [b"1", b"50"]
    assert 0 < r.ttl("k1") <= 1000
    assert r.get("c") == b"1"
    r.execute_command("SELECT", 1)
    assert r.get("db1") == b"x"
    r.execute_command("SELECT", 0)
    # The library came back from the log (FUNCTION LOAD is logged as called), and comes back
    # from a snapshot (its FUNCTION record) once the log before it is gone.
    assert r.fcall("incr_get", 1, "c") == b"2"
    r.execute_command("SAVE")
    s.kill()
    s.start()
    r = s.client()
    assert r.fcall("incr_get", 1, "c") == b"3"
    assert r.function_list()[0][1] == b"mylib"
    res = subprocess.run([binary("keel-check"), "--live", "wal", os.path.join(s.dir, "wal")],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stdout + res.stderr


def test_script_reads_wait_for_uncommitted_keys_in_sync_mode(live):
    """durability sync: a script that reads a key whose write is not durable yet replies only
    once it is (its reply is tagged as EXEC's is), even when the key is not declared in KEYS; a
    script reading only committed keys does not wait."""
    s = KeelServer(durability="sync")
    s.popen_kw = {"env": dict(os.environ, KEEL_DEBUG_WAL_FSYNC_DELAY_MS="600")}
    live.append(s)
    s.start()
    c = s.client()
    c.set("cold", "c")
    writer, reader = s.raw(), s.raw()
    try:
        lsn = wal_last_lsn(c)
        writer.send_cmd("SET", "hot", "new")
        wait_logged(c, lsn)  # executed, its record is being synced
        t0 = time.time()
        assert reader.call("EVAL", "return redis.call('get', 'cold')", "0") == b"c"
        cold_s = time.time() - t0
        t0 = time.time()
        assert reader.call("EVAL", "return redis.call('get', 'hot')", "0") == b"new"
        hot_s = time.time() - t0
        assert writer.read() == "OK"
        assert cold_s < 0.3, cold_s
        assert hot_s > 0.3, hot_s
    finally:
        writer.close()
        reader.close()


def test_functions_survive_point_in_time_restore(live, tmp_path):
    s = KeelServer(durability="sync")
    live.append(s)
    s.start()
    r = s.client()
    r.function_load(LIB)
    r.execute_command("SAVE")  # the library in the snapshot the restore starts from
    r.fcall("incr_get", 1, "c")
    at = wal_lsn(r)
    r.function_flush()
    r.function_load(LIB.replace("mylib", "later"))
    s.stop()
    out = str(tmp_path / "out")
    res = subprocess.run([binary("keel-restore"), "--dir", s.dir, "--to", "lsn:%d" % at,
                          "--out", out], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr
    t = KeelServer(data_dir=out, durability="sync")
    live.append(t)
    t.start()
    r = t.client()
    assert r.get("c") == b"1"
    assert [lib[1] for lib in r.function_list()] == [b"mylib"]
    assert r.fcall("incr_get", 1, "c") == b"2"


def test_redis_py_lock(r):
    lock = r.lock("lk", timeout=10)
    assert lock.acquire(blocking=False)
    assert not r.lock("lk", timeout=10).acquire(blocking=False)
    assert lock.extend(5)
    assert 10 < r.pttl("lk") / 1000 <= 15
    lock.release()
    assert r.get("lk") is None
    with r.lock("lk2", timeout=5):
        assert r.exists("lk2")
    assert not r.exists("lk2")

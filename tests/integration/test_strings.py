"""String commands against the real server: every command, option and error, as Valkey 8."""
import time

import pytest
import redis

from keel_harness import RespError

ERR_INT = "value is not an integer or out of range"
ERR_FLOAT = "value is not a valid float"
WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"
INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)


def err(r, *args):
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command(*args)
    return str(e.value)


@pytest.fixture
def raw3(server):
    c = server.raw(resp=3)
    c.call("FLUSHALL")
    yield c
    c.close()


@pytest.fixture
def raw2(server):
    c = server.raw(resp=2)
    c.call("FLUSHALL")
    yield c
    c.close()


def make_list(r, key):
    """A non-string key, whichever collection type this build has."""
    for cmd in (("RPUSH", key, "x"), ("SADD", key, "x"), ("HSET", key, "f", "v")):
        try:
            r.execute_command(*cmd)
            return
        except redis.ResponseError:
            continue
    pytest.skip("no collection type in this build")


# ---- GET / SET -------------------------------------------------------------------------------


def test_get_missing_and_set_get_roundtrip(r):
    assert r.get("nokey") is None
    assert r.set("k", "v") is True
    assert r.get("k") == b"v"


def test_binary_values_with_nul_and_empty(r):
    val = b"a\x00b\r\n\xff\x00"
    r.set(b"bin\x00key", val)
    assert r.get(b"bin\x00key") == val
    r.set("empty", "")
    assert r.get("empty") == b""
    assert r.exists("empty") == 1
    assert r.strlen("empty") == 0


def test_large_value_roundtrip(r):
    v = bytes(range(256)) * 4096  # 1 MiB
    r.set("big", v)
    assert r.get("big") == v


def test_get_wrongtype(r):
    make_list(r, "l")
    assert err(r, "GET", "l") == WRONGTYPE


def test_set_overwrites_any_type_and_drops_ttl(r):
    make_list(r, "l")
    r.set("l", "now a string")
    assert r.get("l") == b"now a string"
    r.set("t", "a", ex=100)
    r.set("t", "b")
    assert r.ttl("t") == -1


def test_set_ex_px_exat_pxat(r):
    r.set("a", "v", ex=100)
    assert 99 <= r.ttl("a") <= 100
    r.set("b", "v", px=100000)
    assert 99000 <= r.pttl("b") <= 100000
    now = int(time.time())
    r.execute_command("SET", "c", "v", "EXAT", now + 100)
    assert 98 <= r.ttl("c") <= 100
    r.execute_command("SET", "d", "v", "PXAT", now * 1000 + 100000)
    assert 98000 <= r.pttl("d") <= 100000


def test_set_options_case_insensitive(r, raw2):
    assert raw2.call("SET", "k", "v", "ex", "100", "nX") == "OK"
    assert r.ttl("k") > 0
    assert raw2.call("set", "k", "w", "Xx", "Get") == b"v"
    assert r.get("k") == b"w"


def test_set_expire_errors(r):
    for opt in ("EX", "PX", "EXAT", "PXAT"):
        assert err(r, "SET", "k", "v", opt, "0") == "invalid expire time in 'set' command"
        assert err(r, "SET", "k", "v", opt, "-5") == "invalid expire time in 'set' command"
        assert err(r, "SET", "k", "v", opt, "abc") == ERR_INT
        assert err(r, "SET", "k", "v", opt, "010") == ERR_INT  # not canonical
        assert err(r, "SET", "k", "v", opt, "1.5") == ERR_INT
    # seconds that overflow when turned into ms, and ms that overflow when added to now
    assert err(r, "SET", "k", "v", "EX", str(INT64_MAX // 1000 + 1)) == "invalid expire time in 'set' command"
    assert err(r, "SET", "k", "v", "PX", str(INT64_MAX)) == "invalid expire time in 'set' command"
    assert err(r, "SET", "k", "v", "EX", str(INT64_MAX)) == "invalid expire time in 'set' command"
    assert r.exists("k") == 0


def test_set_syntax_errors(r):
    bad = [
        ("NX", "XX"), ("XX", "NX"), ("EX", "10", "PX", "100"), ("PX", "100", "EX", "10"),
        ("EX", "10", "KEEPTTL"), ("KEEPTTL", "EX", "10"), ("EXAT", "10", "PXAT", "10"),
        ("EX",), ("PX",), ("FOO",), ("PERSIST",), ("KEEPTTL", "PXAT", "100"), ("N",), ("NXX",),
    ]
    for opts in bad:
        assert err(r, "SET", "k", "v", *opts) == "syntax error", opts
    assert r.exists("k") == 0


def test_set_repeated_options_allowed(r):
    assert r.execute_command("SET", "k", "v", "EX", "10", "EX", "20") is True
    assert 19 <= r.ttl("k") <= 20
    assert r.execute_command("SET", "k", "v", "XX", "XX", "KEEPTTL", "KEEPTTL") is True
    assert 19 <= r.ttl("k") <= 20


def test_set_nx_xx(r):
    assert r.set("k", "1", nx=True) is True
    assert r.set("k", "2", nx=True) is None
    assert r.get("k") == b"1"
    assert r.set("k", "3", xx=True) is True
    assert r.get("k") == b"3"
    assert r.set("missing", "x", xx=True) is None
    assert r.exists("missing") == 0


def test_set_nx_fail_keeps_ttl_and_value(r):
    r.set("k", "1", ex=100)
    assert r.set("k", "2", nx=True, ex=5) is None
    assert r.get("k") == b"1"
    assert r.ttl("k") > 90


def test_set_keepttl(r):
    r.set("k", "1", ex=100)
    r.execute_command("SET", "k", "2", "KEEPTTL")
    assert r.get("k") == b"2"
    assert 99 <= r.ttl("k") <= 100
    r.execute_command("SET", "n", "1", "KEEPTTL")
    assert r.ttl("n") == -1


def test_set_keepttl_on_lazily_expired_key_gives_no_ttl(r):
    r.set("k", "1", px=20)
    time.sleep(0.05)
    r.execute_command("SET", "k", "2", "KEEPTTL")
    assert r.get("k") == b"2"
    assert r.ttl("k") == -1


def test_set_get_option(r, raw2):
    assert raw2.call("SET", "k", "a", "GET") is None
    assert raw2.call("SET", "k", "b", "GET") == b"a"
    assert r.get("k") == b"b"
    make_list(r, "l")
    assert err(r, "SET", "l", "x", "GET") == WRONGTYPE
    assert r.type("l") != b"string"


def test_set_get_with_nx_and_xx(r, raw2):
    # NX + GET is allowed since 7.0: the old value is returned, nothing is set when it exists.
    assert raw2.call("SET", "k", "a", "NX", "GET") is None
    assert r.get("k") == b"a"
    assert raw2.call("SET", "k", "b", "NX", "GET") == b"a"
    assert r.get("k") == b"a"
    assert raw2.call("SET", "m", "a", "XX", "GET") is None
    assert r.exists("m") == 0
    assert raw2.call("SET", "k", "c", "XX", "GET", "EX", "50") == b"a"
    assert r.get("k") == b"c" and r.ttl("k") > 40


def test_set_expire_error_wins_over_get_and_wrongtype(r):
    make_list(r, "l")
    assert err(r, "SET", "l", "v", "GET", "EX", "0") == "invalid expire time in 'set' command"


def test_set_absolute_expiry_in_the_past_deletes(r, raw2):
    r.set("k", "v")
    assert r.execute_command("SET", "k", "new", "EXAT", "1") is True
    assert r.exists("k") == 0
    assert r.dbsize() == 0
    assert r.execute_command("SET", "n", "v", "PXAT", "1") is True
    assert r.dbsize() == 0
    r.set("g", "old")
    assert raw2.call("SET", "g", "v", "PXAT", "1", "GET") == b"old"
    assert r.exists("g") == 0


def test_set_px_expires(r):
    r.set("k", "v", px=30)
    assert r.get("k") == b"v"
    time.sleep(0.08)
    assert r.get("k") is None
    assert r.exists("k") == 0


def test_set_arity(r):
    assert err(r, "SET", "k") == "wrong number of arguments for 'set' command"
    assert err(r, "GET") == "wrong number of arguments for 'get' command"


# ---- SETNX / SETEX / PSETEX / GETSET / GETDEL / GETEX ------------------------------------------


def test_setnx(r):
    assert r.setnx("k", "a") is True
    assert r.setnx("k", "b") is False
    assert r.get("k") == b"a"
    assert r.execute_command("SETNX", "k", "c") == 0


def test_setex_psetex(r):
    assert r.setex("k", 100, "v") is True
    assert r.get("k") == b"v" and 99 <= r.ttl("k") <= 100
    assert r.psetex("p", 100000, "v") is True
    assert 99000 <= r.pttl("p") <= 100000
    assert err(r, "SETEX", "k", "0", "v") == "invalid expire time in 'setex' command"
    assert err(r, "SETEX", "k", "-1", "v") == "invalid expire time in 'setex' command"
    assert err(r, "PSETEX", "k", "0", "v") == "invalid expire time in 'psetex' command"
    assert err(r, "SETEX", "k", "x", "v") == ERR_INT
    assert err(r, "SETEX", "k", "10") == "wrong number of arguments for 'setex' command"
    make_list(r, "l")
    assert r.setex("l", 10, "s") is True  # SETEX overwrites any type
    assert r.get("l") == b"s"


def test_getset(r):
    assert r.getset("k", "a") is None
    assert r.getset("k", "b") == b"a"
    r.expire("k", 100)
    assert r.getset("k", "c") == b"b"
    assert r.ttl("k") == -1
    make_list(r, "l")
    assert err(r, "GETSET", "l", "x") == WRONGTYPE


def test_getdel(r):
    r.set("k", "v")
    assert r.execute_command("GETDEL", "k") == b"v"
    assert r.exists("k") == 0
    assert r.execute_command("GETDEL", "k") is None
    make_list(r, "l")
    assert err(r, "GETDEL", "l") == WRONGTYPE
    assert r.exists("l") == 1


def test_getex_options(r):
    r.set("k", "v")
    assert r.execute_command("GETEX", "k") == b"v"
    assert r.ttl("k") == -1
    assert r.execute_command("GETEX", "k", "EX", "100") == b"v"
    assert 99 <= r.ttl("k") <= 100
    assert r.execute_command("GETEX", "k", "PX", "50000") == b"v"
    assert 49000 <= r.pttl("k") <= 50000
    now = int(time.time())
    assert r.execute_command("GETEX", "k", "EXAT", now + 200) == b"v"
    assert 198 <= r.ttl("k") <= 200
    assert r.execute_command("GETEX", "k", "PXAT", now * 1000 + 300000) == b"v"
    assert 298 <= r.ttl("k") <= 300
    assert r.execute_command("GETEX", "k", "PERSIST") == b"v"
    assert r.ttl("k") == -1
    assert r.execute_command("GETEX", "missing", "EX", "10") is None
    assert r.exists("missing") == 0


def test_getex_past_absolute_time_deletes(r):
    r.set("k", "v")
    assert r.execute_command("GETEX", "k", "EXAT", "1") == b"v"
    assert r.exists("k") == 0
    r.set("k", "v")
    assert r.execute_command("GETEX", "k", "PXAT", "1") == b"v"
    assert r.exists("k") == 0


def test_getex_errors(r):
    r.set("k", "v")
    for opts in [("EX",), ("EX", "10", "PX", "10"), ("PERSIST", "EX", "10"), ("EX", "10", "PERSIST"),
                 ("KEEPTTL",), ("NX",), ("GET",), ("FOO",)]:
        assert err(r, "GETEX", "k", *opts) == "syntax error", opts
    assert err(r, "GETEX", "k", "EX", "0") == "invalid expire time in 'getex' command"
    assert err(r, "GETEX", "k", "PXAT", "-1") == "invalid expire time in 'getex' command"
    assert err(r, "GETEX", "k", "EX", "ten") == ERR_INT
    # Valkey 8 / Redis 7.2: the key and its type are looked at before the expiry value
    assert r.execute_command("GETEX", "missing", "EX", "0") is None
    assert r.execute_command("GETEX", "missing", "EX", "ten") is None
    assert err(r, "GETEX", "missing", "FOO") == "syntax error"
    make_list(r, "l")
    assert err(r, "GETEX", "l", "EX", "10") == WRONGTYPE
    assert err(r, "GETEX", "l", "EX", "0") == WRONGTYPE
    assert r.ttl("k") == -1


# ---- MGET / MSET / MSETNX / STRLEN -------------------------------------------------------------


def test_mget(r):
    r.set("a", "1")
    r.set("b", "")
    make_list(r, "l")
    assert r.mget("a", "missing", "b", "l", "a") == [b"1", None, b"", None, b"1"]


def test_mset(r):
    assert r.mset({"a": "1", "b": "2"}) is True
    assert r.mget("a", "b") == [b"1", b"2"]
    r.expire("a", 100)
    r.execute_command("MSET", "a", "x", "a", "y")
    assert r.get("a") == b"y" and r.ttl("a") == -1
    assert err(r, "MSET", "a") == "wrong number of arguments for 'mset' command"
    assert err(r, "MSET", "a", "1", "b") == "wrong number of arguments for 'mset' command"


def test_msetnx(r):
    assert r.msetnx({"a": "1", "b": "2"}) is True
    assert r.msetnx({"b": "x", "c": "3"}) is False
    assert r.exists("c") == 0 and r.get("b") == b"2"
    assert r.execute_command("MSETNX", "d", "1", "d", "2") == 1  # same key twice: last wins
    assert r.get("d") == b"2"
    assert err(r, "MSETNX", "a", "1", "b") == "wrong number of arguments for 'msetnx' command"


def test_strlen(r):
    assert r.strlen("missing") == 0
    r.set("k", b"ab\x00cd")
    assert r.strlen("k") == 5
    r.set("n", 12345)
    assert r.strlen("n") == 5
    make_list(r, "l")
    assert err(r, "STRLEN", "l") == WRONGTYPE


# ---- APPEND / SETRANGE / GETRANGE ----------------------------------------------------------------


def test_append(r):
    assert r.append("k", "ab") == 2
    assert r.append("k", b"\x00c") == 4
    assert r.get("k") == b"ab\x00c"
    assert r.append("k", "") == 4
    assert r.append("e", "") == 0
    assert r.exists("e") == 1
    r.expire("k", 100)
    r.append("k", "z")
    assert r.ttl("k") > 90
    make_list(r, "l")
    assert err(r, "APPEND", "l", "x") == WRONGTYPE


def test_append_many_keeps_content(r):
    p = r.pipeline(transaction=False)
    for i in range(2000):
        p.append("k", "%04d" % i)
    res = p.execute()
    assert res[-1] == 8000
    assert r.get("k") == b"".join(b"%04d" % i for i in range(2000))


def test_setrange(r):
    assert r.setrange("k", 0, "hello") == 5
    assert r.setrange("k", 1, "EL") == 5
    assert r.get("k") == b"hELlo"
    assert r.setrange("k", 7, "x") == 8
    assert r.get("k") == b"hELlo\x00\x00x"
    assert r.setrange("n", 3, "ab") == 5
    assert r.get("n") == b"\x00\x00\x00ab"
    assert r.setrange("k", 2, "") == 8
    assert r.setrange("none", 5, "") == 0
    assert r.exists("none") == 0
    r.expire("k", 100)
    r.setrange("k", 0, "H")
    assert r.ttl("k") > 90


def test_setrange_errors(r):
    assert err(r, "SETRANGE", "k", "-1", "x") == "offset is out of range"
    assert err(r, "SETRANGE", "k", "abc", "x") == ERR_INT
    assert err(r, "SETRANGE", "k", str(512 * 1024 * 1024), "x") == \
        "string exceeds maximum allowed size (proto-max-bulk-len)"
    assert err(r, "SETRANGE", "k", str(INT64_MAX), "x") == \
        "string exceeds maximum allowed size (proto-max-bulk-len)"
    assert r.exists("k") == 0
    make_list(r, "l")
    assert err(r, "SETRANGE", "l", "0", "x") == WRONGTYPE
    assert err(r, "SETRANGE", "l", "0", "") == WRONGTYPE


def test_append_and_setrange_respect_proto_max_bulk_len(r):
    r.config_set("proto-max-bulk-len", "1mb")
    try:
        r.set("k", "x" * (1024 * 1024 - 1))
        assert r.append("k", "y") == 1024 * 1024
        assert err(r, "APPEND", "k", "z") == "string exceeds maximum allowed size (proto-max-bulk-len)"
        assert err(r, "SETRANGE", "k", str(1024 * 1024), "z") == \
            "string exceeds maximum allowed size (proto-max-bulk-len)"
        assert r.strlen("k") == 1024 * 1024
    finally:
        r.config_set("proto-max-bulk-len", "512mb")


def test_getrange(r):
    r.set("k", "This is a string")
    assert r.getrange("k", 0, 3) == b"This"
    assert r.getrange("k", -3, -1) == b"ing"
    assert r.getrange("k", 0, -1) == b"This is a string"
    assert r.getrange("k", 10, 100) == b"string"
    assert r.getrange("k", 100, 200) == b""
    assert r.getrange("k", 5, 3) == b""
    assert r.getrange("k", -1, -5) == b""
    assert r.getrange("k", -100, -50) == b"T"  # clamped to 0 as Valkey does
    assert r.getrange("k", 0, -100) == b"T"
    assert r.getrange("k", INT64_MIN, INT64_MAX) == b"This is a string"
    assert r.getrange("missing", 0, -1) == b""
    r.set("e", "")
    assert r.getrange("e", 0, -1) == b""
    assert r.execute_command("SUBSTR", "k", 0, 3) == b"This"
    assert err(r, "GETRANGE", "k", "a", "1") == ERR_INT
    assert err(r, "GETRANGE", "k", "0", "1.0") == ERR_INT
    make_list(r, "l")
    assert err(r, "GETRANGE", "l", "0", "1") == WRONGTYPE


# ---- counters ---------------------------------------------------------------------------------


def test_incr_decr(r):
    assert r.incr("c") == 1
    assert r.incr("c") == 2
    assert r.decr("c") == 1
    assert r.incrby("c", 100) == 101
    assert r.decrby("c", 200) == -99
    assert r.get("c") == b"-99"
    assert r.decr("d") == -1
    assert r.execute_command("INCRBY", "c", "-1") == -100


def test_incr_keeps_ttl_and_grows_in_length(r):
    r.set("c", "9", ex=100)
    assert r.incr("c") == 10
    assert r.ttl("c") > 90
    assert r.decrby("c", 1000) == -990
    assert r.ttl("c") > 90


def test_incr_refuses_non_integers(r):
    for v in ["abc", "1.5", " 1", "1 ", "010", "+1", "-0", "", "99999999999999999999", "1e3"]:
        r.set("c", v)
        assert err(r, "INCR", "c") == ERR_INT, v
        assert r.get("c") == v.encode()
    assert err(r, "INCRBY", "c", "1.0") == ERR_INT
    assert err(r, "INCRBY", "c", "x") == ERR_INT
    make_list(r, "l")
    assert err(r, "INCR", "l") == WRONGTYPE
    # the increment argument is checked before the key's type
    assert err(r, "INCRBY", "l", "x") == ERR_INT


def test_incr_overflow_at_int64_limits(r):
    r.set("c", INT64_MAX)
    assert err(r, "INCR", "c") == "increment or decrement would overflow"
    assert r.decr("c") == INT64_MAX - 1
    r.set("c", INT64_MIN)
    assert err(r, "DECR", "c") == "increment or decrement would overflow"
    assert err(r, "INCRBY", "c", "-1") == "increment or decrement would overflow"
    assert r.incrby("c", INT64_MAX) == -1
    r.set("c", 0)
    assert err(r, "DECRBY", "c", str(INT64_MIN)) == "decrement would overflow"
    assert r.incrby("c", INT64_MIN) == INT64_MIN
    assert r.get("c") == str(INT64_MIN).encode()
    assert err(r, "INCRBY", "c", str(INT64_MAX + 1)) == ERR_INT


def test_incrbyfloat(r, raw2):
    assert r.incrbyfloat("f", 10.5) == 10.5
    assert r.get("f") == b"10.5"
    assert r.incrbyfloat("f", 0.1) == pytest.approx(10.6)
    assert r.get("f") == b"10.6"
    assert raw2.call("INCRBYFLOAT", "f", "-5.0e3") == b"-4989.39999999999999991"  # as Valkey prints it
    r.set("i", "3")
    assert raw2.call("INCRBYFLOAT", "i", "2") == b"5"
    r.set("e", "5.0e3")
    assert raw2.call("INCRBYFLOAT", "e", "2.0e2") == b"5200"
    r.set("z", "1.5")
    assert raw2.call("INCRBYFLOAT", "z", "-1.5") == b"0"
    big = raw2.call("INCRBYFLOAT", "big", "1e308")  # %.17Lf of the long double, as Valkey
    assert len(big) == 308 and big.startswith(b"9999999999999999999668587965584564566056")


def test_incrbyfloat_errors(r):
    r.set("f", "1")
    assert err(r, "INCRBYFLOAT", "f", "abc") == ERR_FLOAT
    assert err(r, "INCRBYFLOAT", "f", " 1") == ERR_FLOAT
    assert err(r, "INCRBYFLOAT", "f", "nan") == ERR_FLOAT
    assert err(r, "INCRBYFLOAT", "f", "1e5000") == ERR_FLOAT  # overflows long double
    assert err(r, "INCRBYFLOAT", "f", "inf") == "increment would produce NaN or Infinity"
    assert err(r, "INCRBYFLOAT", "f", "-inf") == "increment would produce NaN or Infinity"
    r.set("big", "1e4932")
    assert err(r, "INCRBYFLOAT", "big", "1e4932") == "increment would produce NaN or Infinity"
    r.set("s", "one")
    assert err(r, "INCRBYFLOAT", "s", "1") == ERR_FLOAT
    assert r.get("f") == b"1"
    make_list(r, "l")
    assert err(r, "INCRBYFLOAT", "l", "1") == WRONGTYPE


def test_incrbyfloat_keeps_ttl(r):
    r.set("f", "1", ex=100)
    r.incrbyfloat("f", 1.5)
    assert r.ttl("f") > 90
    assert r.get("f") == b"2.5"


# ---- LCS --------------------------------------------------------------------------------------


def test_lcs_string_and_len(r):
    r.mset({"key1": "ohmytext", "key2": "mynewtext"})
    assert r.execute_command("LCS", "key1", "key2") == b"mytext"
    assert r.execute_command("LCS", "key1", "key2", "LEN") == 6
    assert r.execute_command("LCS", "key1", "missing") == b""
    assert r.execute_command("LCS", "missing", "missing2", "LEN") == 0


def test_lcs_idx(r):
    r.mset({"key1": "ohmytext", "key2": "mynewtext"})
    assert r.execute_command("LCS", "key1", "key2", "IDX") == [
        b"matches", [[[4, 7], [5, 8]], [[2, 3], [0, 1]]], b"len", 6]
    assert r.execute_command("LCS", "key1", "key2", "IDX", "MINMATCHLEN", "4", "WITHMATCHLEN") == [
        b"matches", [[[4, 7], [5, 8], 4]], b"len", 6]
    assert r.execute_command("LCS", "key1", "key2", "IDX", "WITHMATCHLEN") == [
        b"matches", [[[4, 7], [5, 8], 4], [[2, 3], [0, 1], 2]], b"len", 6]
    assert r.execute_command("LCS", "key1", "key2", "IDX", "MINMATCHLEN", "-3") == [
        b"matches", [[[4, 7], [5, 8]], [[2, 3], [0, 1]]], b"len", 6]


def test_lcs_idx_resp3_is_a_map(raw3):
    raw3.call("MSET", "a", "ohmytext", "b", "mynewtext")
    rep = raw3.call("LCS", "a", "b", "IDX")
    assert rep == {b"matches": [[[4, 7], [5, 8]], [[2, 3], [0, 1]]], b"len": 6}


def test_lcs_errors(r):
    r.mset({"a": "x", "b": "y"})
    assert err(r, "LCS", "a", "b", "LEN", "IDX") == "If you want both the length and indexes, please just use IDX."
    assert err(r, "LCS", "a", "b", "FOO") == "syntax error"
    assert err(r, "LCS", "a", "b", "MINMATCHLEN") == "syntax error"
    assert err(r, "LCS", "a", "b", "MINMATCHLEN", "x") == ERR_INT
    make_list(r, "l")
    assert err(r, "LCS", "a", "l") == "The specified keys must contain string values"
    r.config_set("proto-max-bulk-len", "1mb")
    try:
        r.set("big1", "a" * 1000)
        r.set("big2", "b" * 1000)
        assert err(r, "LCS", "big1", "big2") == \
            "Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len"
    finally:
        r.config_set("proto-max-bulk-len", "512mb")


def test_lcs_matches_a_reference_on_random_strings(r):
    import random
    rnd = random.Random(7)

    def ref_len(a, b):
        prev = [0] * (len(b) + 1)
        for x in a:
            cur = [0]
            for j, y in enumerate(b):
                cur.append(prev[j] + 1 if x == y else max(prev[j + 1], cur[j]))
            prev = cur
        return prev[-1]

    def is_subseq(s, t):
        it = iter(t)
        return all(ch in it for ch in s)

    for _ in range(30):
        a = bytes(rnd.choice(b"abc") for _ in range(rnd.randint(0, 40)))
        b = bytes(rnd.choice(b"abc") for _ in range(rnd.randint(0, 40)))
        r.mset({"a": a, "b": b})
        s = r.execute_command("LCS", "a", "b")
        assert len(s) == ref_len(a, b)
        assert is_subseq(s, a) and is_subseq(s, b)
        rep = r.execute_command("LCS", "a", "b", "IDX", "WITHMATCHLEN")
        assert rep[3] == len(s)
        assert sum(m[2] for m in rep[1]) == len(s)
        for (a0, a1), (b0, b1), n in rep[1]:
            assert a[a0:a1 + 1] == b[b0:b1 + 1] and a1 - a0 + 1 == n


# ---- reply types, transactions, metadata ---------------------------------------------------


def test_resp3_reply_types(raw3):
    assert raw3.call("GET", "nokey") is None
    assert raw3.call("SET", "k", "v") == "OK"
    assert raw3.call("SET", "k", "v", "NX") is None
    assert raw3.call("INCRBYFLOAT", "f", "1.5") == b"1.5"  # a bulk string, not a double
    assert raw3.call("SETNX", "k", "x") == 0
    assert raw3.call("MGET", "k", "nokey") == [b"v", None]


def test_resp2_nulls(raw2):
    raw2.send_cmd("GET", "nokey")
    assert raw2.sock.recv(100) == b"$-1\r\n"
    raw2.send_cmd("MGET", "nokey")
    assert raw2.sock.recv(100) == b"*1\r\n$-1\r\n"


def test_multi_exec_with_string_commands(r):
    p = r.pipeline(transaction=True)
    p.set("k", "1").incr("k").append("k", "0").getrange("k", 0, 0).get("k")
    assert p.execute() == [True, 2, 2, b"2", b"20"]


def test_keyspace_stats_count_hits_and_misses(r):
    def stats():
        info = r.info("stats")
        return info["keyspace_hits"], info["keyspace_misses"]

    h0, m0 = stats()
    r.set("k", "v")
    r.get("k")
    r.get("nokey")
    r.mget("k", "nokey", "nokey2")
    h1, m1 = stats()
    assert (h1 - h0, m1 - m0) == (2, 3)


def test_command_info_metadata(r, raw2):
    info = raw2.call("COMMAND", "INFO", "get", "set", "mset", "lcs", "getex")
    by_name = {e[0]: e for e in info}
    assert by_name[b"get"][1] == 2 and by_name[b"set"][1] == -3
    assert by_name[b"mset"][3:6] == [1, -1, 2]
    assert by_name[b"lcs"][3:6] == [1, 2, 1]
    assert "write" in by_name[b"getex"][2]
    assert raw2.call("COMMAND", "GETKEYS", "MSET", "a", "1", "b", "2") == [b"a", b"b"]


# ---- keyspace events ----------------------------------------------------------------------------


def events(server, action):
    """Run action() and return the keyevent notifications it produced, (event, key) in order."""
    admin = server.client()
    admin.config_set("notify-keyspace-events", "KEAm")  # A does not include m (key misses)
    p = server.client().pubsub()
    try:
        p.psubscribe("__keyevent@*__:*")
        assert p.get_message(timeout=2)["type"] == "psubscribe"
        action()
        out = []
        while True:
            m = p.get_message(timeout=0.3)
            if m is None:
                return out
            out.append((m["channel"].split(b":", 1)[1].decode(), m["data"].decode()))
    finally:
        p.close()
        admin.config_set("notify-keyspace-events", "")
        admin.close()


def test_keyspace_events_of_string_commands(server, r, raw2):
    def act():
        r.set("a", "1")
        r.set("b", "1", ex=100)
        r.set("b", "2", nx=True)  # nothing happens: no event
        r.setex("c", 100, "v")
        r.incr("a")
        r.incrbyfloat("a", 1.5)
        r.append("a", "0")
        r.setrange("a", 0, "x")
        r.setrange("a", 0, "")  # no change: no event
        raw2.call("GETDEL", "a")
        raw2.call("GETEX", "b", "PERSIST")
        raw2.call("GETEX", "b", "PERSIST")  # already persistent: no event
        raw2.call("GETEX", "b", "EX", "50")
        raw2.call("GETEX", "b", "PXAT", "1")
        r.mset({"m1": "1", "m2": "2"})
        r.getset("m1", "x")
        r.get("nokey")

    got = events(server, act)
    assert got == [
        ("set", "a"), ("set", "b"), ("expire", "b"), ("set", "c"), ("expire", "c"),
        ("incrby", "a"), ("incrbyfloat", "a"), ("append", "a"), ("setrange", "a"),
        ("del", "a"), ("persist", "b"), ("expire", "b"), ("expired", "b"),
        ("set", "m1"), ("set", "m2"), ("set", "m1"), ("keymiss", "nokey"),
    ]


# ---- what the log holds (durability sync, then a restart) ----------------------------------------


def resp(*args, argc=None):
    """RESP of a command, or of its first arguments when argc (the full count) is given."""
    out = [b"*%d\r\n" % (argc or len(args))]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def wal_bytes(data_dir):
    import glob
    import os
    blob = b""
    for f in sorted(glob.glob(os.path.join(data_dir, "**", "wal-*.log"), recursive=True)):
        with open(f, "rb") as fh:
            blob += fh.read()
    return blob


def test_logged_effects_are_absolute_and_survive_restart(tmp_path):
    from keel_harness import KeelServer
    s = KeelServer(data_dir=str(tmp_path), durability="sync")
    try:
        s.start()
        c = s.client()
        c.set("rel", "v", ex=1000)
        c.execute_command("SET", "abs", "v", "PXAT", int(time.time() * 1000) + 500000)
        c.set("nxk", "v", nx=True, px=800000)
        c.setex("sx", 900, "v")
        c.psetex("psx", 700000, "v")
        c.set("f", "1", ex=600)
        c.incrbyfloat("f", "0.5")
        c.set("g", "v")
        c.execute_command("GETEX", "g", "EX", "400")
        c.set("p", "v", ex=300)
        c.execute_command("GETEX", "p", "PERSIST")
        c.set("d", "v")
        c.execute_command("GETEX", "d", "PXAT", "1")
        c.set("old", "v")
        c.execute_command("SET", "old", "w", "EXAT", "1")
        c.execute_command("GETEX", "g")  # a pure read: nothing logged
        before = {k: (c.get(k), c.pttl(k)) for k in ("rel", "abs", "nxk", "sx", "psx", "f", "g", "p")}
        c.close()
        s.kill()

        log = wal_bytes(str(tmp_path))
        # relative expiries are logged as absolute times, NX/GET dropped from the effect
        assert resp("SET", "rel", "v", "PXAT", argc=5) in log
        assert resp("SET", "nxk", "v", "PXAT", argc=5) in log
        assert resp("SET", "sx", "v", "PXAT", argc=5) in log
        assert resp("SET", "psx", "v", "PXAT", argc=5) in log
        assert b"SETEX" not in log and b"PSETEX" not in log
        assert resp("SET", "f", "1.5", "KEEPTTL") in log and b"INCRBYFLOAT" not in log
        assert resp("PEXPIREAT", "g", argc=3) in log and resp("PERSIST", "p") in log
        assert b"GETEX" not in log
        assert resp("DEL", "d") in log and resp("DEL", "old") in log

        s2 = KeelServer(data_dir=str(tmp_path), durability="sync")
        try:
            s2.start()
            c2 = s2.client()
            for k, (v, pttl) in before.items():
                assert c2.get(k) == v, k
                now_pttl = c2.pttl(k)
                if pttl < 0:
                    assert now_pttl == pttl, k
                else:  # the same absolute deadline, a little later
                    assert pttl - 20000 <= now_pttl <= pttl, k
            assert c2.exists("d", "old") == 0
            c2.close()
        finally:
            s2.cleanup()
    finally:
        s.cleanup()


def test_strings_written_in_place_report_raw_as_valkey(r):
    r.set("e1", "123")
    assert r.object("encoding", "e1") == b"int"
    r.append("e1", "4")  # still digits, but written in place: raw, as Valkey's APPEND makes
    assert r.object("encoding", "e1") == b"raw" and r.get("e1") == b"1234"
    r.set("e2", "abc")
    assert r.object("encoding", "e2") == b"embstr"
    r.setrange("e2", 0, "1")
    assert r.object("encoding", "e2") == b"raw"
    r.set("e3", "x")
    r.setbit("e3", 1, 1)
    assert r.object("encoding", "e3") == b"raw"
    r.incr("e1")  # a new value from INCR: int again
    assert r.object("encoding", "e1") == b"int" and r.get("e1") == b"1235"
    r.set("e2", "abc")  # a new value from SET: from its bytes
    assert r.object("encoding", "e2") == b"embstr"


def test_a_300_digit_double_literal_is_a_valid_float(r):
    lit = "1" * 300
    assert r.execute_command("ZADD", "z300", lit, "m") == 1
    assert float(r.zscore("z300", "m")) == float(lit)
    assert float(r.incrbyfloat("f300", lit)) == float(lit)
    assert ERR_FLOAT in err(r, "ZADD", "z300", "1" * 400, "m")  # 1e399: overflows

"""Sorted sets: every ZSET command, option and error as Valkey 8 replies, both encodings and the
conversions between them, RESP3 shapes, keyspace events, blocking pops, and a long random run
against a Python model."""
import os
import random
import sys
import threading
import time

import pytest
import redis

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from keel_harness import KeelServer, RespError  # noqa: E402


def x(r, *args):
    """A command's reply as the server sent it (redis-py's per-command parsing bypassed)."""
    conn = r.connection_pool.get_connection(args[0])
    try:
        conn.send_command(*args)
        return conn.read_response()
    finally:
        r.connection_pool.release(conn)


def err(r, *args):
    with pytest.raises(redis.ResponseError) as e:
        x(r, *args)
    return str(e.value)


@pytest.fixture
def limits(r):
    """Restores the encoding limits a test changes."""
    yield r
    r.config_set("zset-max-listpack-entries", "128")
    r.config_set("zset-max-listpack-value", "64")


def enc(r, key):
    return r.object("encoding", key)


def big(r, key, n=200):
    """A set large enough to be a skiplist."""
    r.zadd(key, {"m%04d" % i: i for i in range(n)})
    assert enc(r, key) == b"skiplist"


# ---- ZADD ----

def test_zadd_adds_and_counts_only_new_members(r):
    assert r.zadd("z", {"a": 1, "b": 2}) == 2
    assert r.zadd("z", {"a": 5, "c": 3}) == 1
    assert r.zrange("z", 0, -1, withscores=True) == [(b"b", 2), (b"c", 3), (b"a", 5)]
    assert r.type("z") == b"zset"


def test_zadd_option_errors(r):
    assert err(r, "zadd", "z", "nx", "xx", "1", "a") == "XX and NX options at the same time are not compatible"
    msg = "GT, LT, and/or NX options at the same time are not compatible"
    assert err(r, "zadd", "z", "gt", "lt", "1", "a") == msg
    assert err(r, "zadd", "z", "nx", "gt", "1", "a") == msg
    assert err(r, "zadd", "z", "nx", "lt", "1", "a") == msg
    assert err(r, "zadd", "z", "incr", "1", "a", "2", "b") == "INCR option supports a single increment-element pair"
    assert err(r, "zadd", "z", "1", "a", "2") == "syntax error"
    assert err(r, "zadd", "z", "nx", "1") == "syntax error"
    assert err(r, "zadd", "z", "abc", "a") == "value is not a valid float"
    assert err(r, "zadd", "z", "nan", "a") == "value is not a valid float"
    assert err(r, "zadd", "z") == "wrong number of arguments for 'zadd' command"
    assert r.exists("z") == 0
    r.set("s", "v")
    assert err(r, "zadd", "s", "1", "a").startswith("WRONGTYPE")


def test_zadd_nx_xx_ch(r):
    assert x(r, "zadd", "z", "xx", "1", "a") == 0
    assert r.exists("z") == 0  # XX never creates the key
    r.zadd("z", {"a": 1})
    assert x(r, "zadd", "z", "nx", "5", "a", "2", "b") == 1
    assert r.zscore("z", "a") == 1.0
    assert x(r, "zadd", "z", "xx", "7", "a", "9", "new") == 0
    assert r.zscore("z", "a") == 7.0 and r.zscore("z", "new") is None
    assert x(r, "zadd", "z", "ch", "8", "a", "2", "b", "3", "c") == 2  # a changed, c added
    assert x(r, "zadd", "z", "ch", "8", "a") == 0  # same score is no change


def test_zadd_gt_lt(r):
    r.zadd("z", {"a": 10})
    assert x(r, "zadd", "z", "gt", "ch", "5", "a") == 0
    assert x(r, "zadd", "z", "gt", "ch", "15", "a") == 1
    assert x(r, "zadd", "z", "lt", "ch", "20", "a") == 0
    assert x(r, "zadd", "z", "lt", "ch", "1", "a") == 1
    assert x(r, "zadd", "z", "xx", "gt", "ch", "0", "a", "100", "b") == 0
    assert x(r, "zadd", "z", "gt", "3", "newmember") == 1  # GT still adds new members
    assert r.zrange("z", 0, -1, withscores=True) == [(b"a", 1), (b"newmember", 3)]


def test_zadd_incr_and_nan(r):
    assert x(r, "zadd", "z", "incr", "2.5", "a") == b"2.5"
    assert x(r, "zadd", "z", "incr", "2.5", "a") == b"5"
    assert x(r, "zadd", "z", "incr", "nx", "1", "a") is None
    assert x(r, "zadd", "z", "incr", "xx", "1", "missing") is None
    assert x(r, "zadd", "z", "incr", "gt", "-1", "a") is None
    assert x(r, "zadd", "z", "incr", "lt", "-1", "a") == b"4"
    r.zadd("z", {"big": float("inf")})
    assert err(r, "zadd", "z", "incr", "-inf", "big") == "resulting score is not a number (NaN)"
    assert r.zscore("z", "big") == float("inf")


def test_zadd_infinities_and_float_forms(r):
    x(r, "zadd", "z", "-inf", "lo", "+inf", "hi", "inf", "hi2", "1e3", "k", "-0.5", "h")
    assert r.zrange("z", 0, -1) == [b"lo", b"h", b"k", b"hi", b"hi2"]
    assert r.zscore("z", "k") == 1000.0
    assert x(r, "zscore", "z", "hi") == b"inf"
    assert x(r, "zscore", "z", "lo") == b"-inf"
    assert x(r, "zscore", "z", "h") == b"-0.5"


def test_zincrby(r):
    assert x(r, "zincrby", "z", "2", "a") == b"2"
    assert x(r, "zincrby", "z", "0.5", "a") == b"2.5"
    assert err(r, "zincrby", "z", "abc", "a") == "value is not a valid float"
    x(r, "zincrby", "z", "+inf", "a")
    assert err(r, "zincrby", "z", "-inf", "a") == "resulting score is not a number (NaN)"
    assert err(r, "zincrby", "z", "1") == "wrong number of arguments for 'zincrby' command"
    r.set("s", "v")
    assert err(r, "zincrby", "s", "1", "a").startswith("WRONGTYPE")


# ---- ZREM, ZCARD, ZSCORE, ZMSCORE ----

@pytest.mark.parametrize("n", [5, 200])
def test_zrem_deletes_key_when_empty(r, n):
    r.zadd("z", {"m%d" % i: i for i in range(n)})
    assert r.zrem("z", "m0", "nope", "m1") == 2
    assert r.zcard("z") == n - 2
    assert r.zrem("z", *["m%d" % i for i in range(n)]) == n - 2
    assert r.exists("z") == 0
    assert r.zrem("z", "a") == 0
    r.set("s", "v")
    assert err(r, "zrem", "s", "a").startswith("WRONGTYPE")


def test_zcard_zscore_zmscore(r):
    r.zadd("z", {"a": 1.5, "b": 2})
    assert r.zcard("z") == 2 and r.zcard("none") == 0
    assert r.zscore("z", "a") == 1.5 and r.zscore("z", "x") is None and r.zscore("none", "a") is None
    assert x(r, "zmscore", "z", "a", "x", "b") == [b"1.5", None, b"2"]
    assert x(r, "zmscore", "none", "a", "b") == [None, None]
    assert err(r, "zmscore", "z") == "wrong number of arguments for 'zmscore' command"
    r.set("s", "v")
    for cmd in (("zcard", "s"), ("zscore", "s", "a"), ("zmscore", "s", "a")):
        assert err(r, *cmd).startswith("WRONGTYPE")


# ---- ranges: counts, ranks ----

@pytest.fixture(params=["listpack", "skiplist"])
def five(request, r):
    """z = a:1 .. e:5 and lx = a..g all at score 0, in the encoding of the parameter."""
    if request.param == "skiplist":
        r.config_set("zset-max-listpack-entries", "0")
    r.zadd("z", {"a": 1, "b": 2, "c": 3, "d": 4, "e": 5})
    r.zadd("lx", {m: 0 for m in "abcdefg"})
    assert enc(r, "z") == request.param.encode()
    yield r
    r.config_set("zset-max-listpack-entries", "128")


def test_zcount_exclusive_and_infinite_bounds(five):
    r = five
    assert r.zcount("z", 2, 4) == 3
    assert r.zcount("z", "(2", 4) == 2
    assert r.zcount("z", "(2", "(4") == 1
    assert r.zcount("z", "-inf", "+inf") == 5
    assert r.zcount("z", "-inf", "inf") == 5
    assert r.zcount("z", 4, 2) == 0
    assert r.zcount("z", "(3", 3) == 0
    assert r.zcount("z", 3, 3) == 1
    assert r.zcount("z", "(", 3) == 3  # "(" alone is an exclusive 0, as strtod reads ""
    assert r.zcount("none", 0, 1) == 0
    assert err(r, "zcount", "z", "x", "3") == "min or max is not a float"
    assert err(r, "zcount", "z", "1", "nan") == "min or max is not a float"
    assert err(r, "zcount", "z", "((1", "3") == "min or max is not a float"


def test_zlexcount(five):
    r = five
    assert r.zlexcount("lx", "-", "+") == 7
    assert r.zlexcount("lx", "[b", "[d") == 3
    assert r.zlexcount("lx", "(b", "(d") == 1
    assert r.zlexcount("lx", "(b", "[d") == 2
    assert r.zlexcount("lx", "+", "-") == 0
    assert r.zlexcount("lx", "[d", "[b") == 0
    assert r.zlexcount("lx", "[b", "(b") == 0
    assert r.zlexcount("lx", "[b", "[b") == 1
    assert r.zlexcount("none", "-", "+") == 0
    msg = "min or max not valid string range item"
    assert err(r, "zlexcount", "lx", "a", "b") == msg
    assert err(r, "zlexcount", "lx", "[a", "-x") == msg
    assert err(r, "zlexcount", "lx", "", "+") == msg


def test_zrank_zrevrank_withscore(five):
    r = five
    assert r.zrank("z", "a") == 0 and r.zrank("z", "e") == 4
    assert r.zrevrank("z", "a") == 4 and r.zrevrank("z", "e") == 0
    assert r.zrank("z", "nope") is None and r.zrank("none", "a") is None
    assert x(r, "zrank", "z", "c", "withscore") == [2, b"3"]
    assert x(r, "zrevrank", "z", "c", "WITHSCORE") == [2, b"3"]
    assert x(r, "zrank", "z", "nope", "withscore") is None
    assert err(r, "zrank", "z", "a", "foo") == "syntax error"
    assert err(r, "zrank", "z", "a", "withscore", "x") == "wrong number of arguments for 'zrank' command"


# ---- the ZRANGE family ----

def test_zrange_by_rank(five):
    r = five
    assert r.zrange("z", 0, -1) == [b"a", b"b", b"c", b"d", b"e"]
    assert r.zrange("z", 1, 2, withscores=True) == [(b"b", 2), (b"c", 3)]
    assert r.zrange("z", -2, -1) == [b"d", b"e"]
    assert r.zrange("z", 3, 1) == []
    assert r.zrange("z", -100, 100) == [b"a", b"b", b"c", b"d", b"e"]
    assert r.zrange("z", 5, 10) == []
    assert x(r, "zrange", "z", "0", "1", "rev") == [b"e", b"d"]
    assert x(r, "zrevrange", "z", "0", "1", "withscores") == [b"e", b"5", b"d", b"4"]
    assert r.zrange("none", 0, -1) == []


def test_zrange_by_score_limit_and_rev(five):
    r = five
    q = lambda *a: x(r, "zrange", "z", *a)
    assert q("2", "4", "byscore") == [b"b", b"c", b"d"]
    assert q("(2", "4", "byscore", "withscores") == [b"c", b"3", b"d", b"4"]
    assert q("4", "2", "byscore", "rev") == [b"d", b"c", b"b"]
    assert q("(4", "2", "byscore", "rev") == [b"c", b"b"]
    assert q("-inf", "+inf", "byscore", "limit", "1", "2") == [b"b", b"c"]
    assert q("-inf", "+inf", "byscore", "limit", "1", "-1") == [b"b", b"c", b"d", b"e"]  # negative count: all
    assert q("-inf", "+inf", "byscore", "limit", "-1", "2") == []  # negative offset: nothing
    assert q("-inf", "+inf", "byscore", "limit", "0", "0") == []
    assert q("-inf", "+inf", "byscore", "limit", "10", "2") == []
    assert q("+inf", "-inf", "byscore", "rev", "limit", "1", "2", "withscores") == [b"d", b"4", b"c", b"3"]
    assert r.zrangebyscore("z", "(1", "(5") == [b"b", b"c", b"d"]
    assert r.zrevrangebyscore("z", 4, 2) == [b"d", b"c", b"b"]
    assert r.zrevrangebyscore("z", 2, 4) == []
    assert r.zrangebyscore("z", "-inf", "+inf", start=2, num=10) == [b"c", b"d", b"e"]


def test_zrange_by_lex(five):
    r = five
    q = lambda *a: x(r, "zrange", "lx", *a)
    assert q("-", "+", "bylex") == [b"a", b"b", b"c", b"d", b"e", b"f", b"g"]
    assert q("[b", "(e", "bylex") == [b"b", b"c", b"d"]
    assert q("(e", "[b", "bylex", "rev") == [b"d", b"c", b"b"]
    assert q("-", "+", "bylex", "limit", "2", "3") == [b"c", b"d", b"e"]
    assert q("+", "-", "bylex", "rev", "limit", "1", "2") == [b"f", b"e"]
    assert r.zrangebylex("lx", "[c", "+") == [b"c", b"d", b"e", b"f", b"g"]
    assert r.zrevrangebylex("lx", "+", "-") == [b"g", b"f", b"e", b"d", b"c", b"b", b"a"]
    assert r.zrevrangebylex("lx", "[e", "[b", start=1, num=1) == [b"d"]


def test_zrange_errors(five):
    r = five
    q = lambda *a: err(r, "zrange", "z", *a)
    assert q("0", "-1", "limit", "0", "1") == "syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"
    assert err(r, "zrange", "lx", "-", "+", "bylex", "withscores") == "syntax error, WITHSCORES not supported in combination with BYLEX"
    assert q("0", "-1", "byscore", "bylex") == "syntax error"
    assert q("0", "-1", "rev", "rev") == "syntax error"
    assert q("0", "-1", "foo") == "syntax error"
    assert q("0", "-1", "limit", "1") == "syntax error"
    assert q("a", "b") == "value is not an integer or out of range"
    assert q("1.5", "2") == "value is not an integer or out of range"
    assert q("a", "b", "byscore") == "min or max is not a float"
    assert q("a", "b", "bylex") == "min or max not valid string range item"
    assert q("0", "1", "byscore", "limit", "x", "1") == "value is not an integer or out of range"
    assert err(r, "zrangebyscore", "z", "0", "10", "rev") == "syntax error"
    assert err(r, "zrangebyscore", "z", "0", "10", "byscore") == "syntax error"
    assert err(r, "zrangebylex", "lx", "-", "+", "withscores") == "syntax error, WITHSCORES not supported in combination with BYLEX"
    assert err(r, "zrevrange", "z", "0", "1", "limit", "0", "1") == "syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"
    assert err(r, "zrange", "z", "0") == "wrong number of arguments for 'zrange' command"
    r.set("s", "v")
    assert err(r, "zrange", "s", "0", "-1").startswith("WRONGTYPE")


def test_zrangestore(five):
    r = five
    assert x(r, "zrangestore", "d", "z", "0", "1") == 2
    assert r.zrange("d", 0, -1, withscores=True) == [(b"a", 1), (b"b", 2)]
    assert x(r, "zrangestore", "d", "z", "4", "2", "byscore", "rev") == 3
    assert r.zrange("d", 0, -1, withscores=True) == [(b"b", 2), (b"c", 3), (b"d", 4)]
    assert x(r, "zrangestore", "d", "lx", "[b", "[d", "bylex", "limit", "1", "5") == 2
    assert r.zrange("d", 0, -1) == [b"c", b"d"]
    r.expire("d", 100)
    assert x(r, "zrangestore", "d", "z", "0", "0") == 1
    assert r.ttl("d") == -1  # the destination is replaced, TTL and all
    assert x(r, "zrangestore", "d", "z", "10", "20") == 0
    assert r.exists("d") == 0  # an empty result deletes the destination
    assert err(r, "zrangestore", "d", "z", "0", "-1", "withscores") == "syntax error"
    r.set("s", "v")
    assert err(r, "zrangestore", "d", "s", "0", "-1").startswith("WRONGTYPE")
    assert x(r, "zrangestore", "s", "z", "0", "0") == 1
    assert r.type("s") == b"zset"
    assert x(r, "zrangestore", "z", "z", "1", "2") == 2  # source is destination
    assert r.zrange("z", 0, -1) == [b"b", b"c"]


# ---- range deletes ----

def test_zremrangebyrank(five):
    r = five
    assert r.zremrangebyrank("z", 0, 1) == 2
    assert r.zrange("z", 0, -1) == [b"c", b"d", b"e"]
    assert r.zremrangebyrank("z", 5, 10) == 0
    assert r.zremrangebyrank("z", -1, -1) == 1
    assert r.zrange("z", 0, -1) == [b"c", b"d"]
    assert err(r, "zremrangebyrank", "z", "a", "1") == "value is not an integer or out of range"
    assert r.zremrangebyrank("none", 0, 1) == 0
    assert r.zremrangebyrank("z", 0, -1) == 2
    assert r.exists("z") == 0


def test_zremrangebyscore_and_bylex(five):
    r = five
    assert r.zremrangebyscore("z", "(1", 3) == 2
    assert r.zrange("z", 0, -1) == [b"a", b"d", b"e"]
    assert err(r, "zremrangebyscore", "z", "x", "1") == "min or max is not a float"
    assert r.zremrangebyscore("z", "-inf", "+inf") == 3
    assert r.exists("z") == 0
    assert r.zremrangebylex("lx", "[b", "(d") == 2
    assert r.zrange("lx", 0, -1) == [b"a", b"d", b"e", b"f", b"g"]
    assert err(r, "zremrangebylex", "lx", "a", "b") == "min or max not valid string range item"
    assert r.zremrangebylex("lx", "-", "+") == 5
    assert r.exists("lx") == 0
    r.set("s", "v")
    for cmd in ("zremrangebyscore", "zremrangebylex", "zremrangebyrank"):
        a = ("-", "+") if cmd.endswith("lex") else ("0", "1")
        assert err(r, cmd, "s", *a).startswith("WRONGTYPE")


# ---- pops ----

def test_zpopmin_zpopmax(five):
    r = five
    assert x(r, "zpopmin", "z") == [b"a", b"1"]
    assert x(r, "zpopmax", "z") == [b"e", b"5"]
    assert x(r, "zpopmin", "z", "2") == [b"b", b"2", b"c", b"3"]
    assert x(r, "zpopmax", "z", "0") == []
    assert err(r, "zpopmin", "z", "-1") == "value is out of range, must be positive"
    assert err(r, "zpopmin", "z", "x") == "value is out of range, must be positive"
    assert err(r, "zpopmin", "z", "1", "2") == "syntax error"
    assert x(r, "zpopmax", "z", "10") == [b"d", b"4"]
    assert r.exists("z") == 0
    assert x(r, "zpopmin", "none") == []
    assert x(r, "zpopmin", "none", "3") == []
    r.set("s", "v")
    assert err(r, "zpopmin", "s").startswith("WRONGTYPE")


def test_zmpop(five):
    r = five
    assert x(r, "zmpop", "1", "z", "min") == [b"z", [[b"a", b"1"]]]
    assert x(r, "zmpop", "1", "z", "MAX", "count", "2") == [b"z", [[b"e", b"5"], [b"d", b"4"]]]
    assert x(r, "zmpop", "2", "none", "z", "min", "count", "10") == [b"z", [[b"b", b"2"], [b"c", b"3"]]]
    assert r.exists("z") == 0
    assert x(r, "zmpop", "1", "none", "min") is None
    nk = "numkeys should be greater than 0"
    assert err(r, "zmpop", "0", "z", "min") == nk
    assert err(r, "zmpop", "x", "z", "min") == nk
    assert err(r, "zmpop", "3", "z", "min") == "syntax error"
    assert err(r, "zmpop", "1", "z", "foo") == "syntax error"
    assert err(r, "zmpop", "1", "lx", "min", "count", "0") == "count should be greater than 0"
    assert err(r, "zmpop", "1", "lx", "min", "count", "1", "count", "1") == "syntax error"
    r.set("s", "v")
    assert err(r, "zmpop", "2", "none", "s", "min").startswith("WRONGTYPE")


def test_pops_resp3_shapes(server, r):
    r.zadd("z", {"a": 1, "b": 2, "c": 3, "d": 4})
    c = server.raw(resp=3)
    try:
        assert c.call("zpopmin", "z") == [b"a", 1.0]  # no count: flat
        assert c.call("zpopmin", "z", "1") == [[b"b", 2.0]]  # count: pairs
        assert c.call("zmpop", "1", "z", "max") == [b"z", [[b"d", 4.0]]]
        assert c.call("bzpopmin", "z", "0") == [b"z", b"c", 3.0]
        assert c.call("zpopmin", "none") == []
        assert c.call("zmpop", "1", "none", "min") is None
    finally:
        c.close()


# ---- ZRANDMEMBER ----

@pytest.mark.parametrize("n", [10, 300])
def test_zrandmember(r, n):
    members = {("m%d" % i).encode(): float(i) for i in range(n)}
    r.zadd("z", {k.decode(): v for k, v in members.items()})
    assert r.zrandmember("z") in members
    for count in (1, 3, n // 2, n - 1, n, n + 5):
        got = r.zrandmember("z", count)
        assert len(got) == min(count, n) and len(set(got)) == len(got) and set(got) <= set(members)
    got = r.zrandmember("z", -(2 * n))
    assert len(got) == 2 * n and set(got) <= set(members)
    assert len(set(got)) < 2 * n  # repeats are allowed and, with 2n draws, certain
    pairs = x(r, "zrandmember", "z", "5", "withscores")
    assert len(pairs) == 10
    for m, s in zip(pairs[::2], pairs[1::2]):
        assert members[m] == float(s)
    assert r.zrandmember("z", 0) == []


def test_zrandmember_is_fair_enough(r):
    r.zadd("z", {"a": 1, "b": 2, "c": 3, "d": 4})
    got = r.zrandmember("z", -4000)
    for m in (b"a", b"b", b"c", b"d"):
        assert 700 < got.count(m) < 1300


def test_zrandmember_errors(r):
    r.zadd("z", {"a": 1})
    assert r.zrandmember("none") is None and r.zrandmember("none", 5) == []
    assert err(r, "zrandmember", "z", "1", "withscores", "x") == "syntax error"
    assert err(r, "zrandmember", "z", "1", "foo") == "syntax error"
    assert err(r, "zrandmember", "z", "x") == "value is not an integer or out of range"
    assert err(r, "zrandmember", "z", "9223372036854775807", "withscores") == "value is out of range"
    assert err(r, "zrandmember", "z", "-9223372036854775808").startswith("value is out of range")
    r.set("s", "v")
    assert err(r, "zrandmember", "s").startswith("WRONGTYPE")


def test_zrandmember_resp3_pairs(server, r):
    r.zadd("z", {"a": 1})
    c = server.raw(resp=3)
    try:
        assert c.call("zrandmember", "z", "1", "withscores") == [[b"a", 1.0]]
    finally:
        c.close()


# ---- ZUNION, ZINTER, ZDIFF and the STORE forms, ZINTERCARD ----

@pytest.fixture
def ab(r):
    r.zadd("a", {"x": 1, "y": 2, "z": 3})
    r.zadd("b", {"y": 10, "z": 20, "w": 30})
    r.sadd("s", "y", "w", "q")
    return r


def test_zunion_zinter_zdiff(ab):
    r = ab
    ws = lambda *a: [(m, float(s)) for m, s in zip(a[::2], a[1::2])]
    q = lambda *a: ws(*x(r, *a))
    assert x(r, "zunion", "2", "a", "b") == [b"x", b"y", b"z", b"w"]
    assert q("zunion", "2", "a", "b", "withscores") == [(b"x", 1), (b"y", 12), (b"z", 23), (b"w", 30)]
    assert q("zinter", "2", "a", "b", "withscores") == [(b"y", 12), (b"z", 23)]
    assert q("zdiff", "2", "a", "b", "withscores") == [(b"x", 1)]
    assert q("zunion", "2", "a", "b", "weights", "2", "3", "withscores") == [(b"x", 2), (b"y", 34), (b"z", 66), (b"w", 90)]
    assert q("zunion", "2", "a", "b", "aggregate", "min", "withscores") == [(b"x", 1), (b"y", 2), (b"z", 3), (b"w", 30)]
    assert q("zunion", "2", "a", "b", "aggregate", "max", "withscores") == [(b"x", 1), (b"y", 10), (b"z", 20), (b"w", 30)]
    assert q("zinter", "2", "a", "b", "weights", "1", "0", "withscores") == [(b"y", 2), (b"z", 3)]
    # sets take part with score 1
    assert q("zunion", "3", "a", "b", "s", "withscores") == [(b"q", 1), (b"x", 1), (b"y", 13), (b"z", 23), (b"w", 31)]
    assert q("zinter", "2", "b", "s", "withscores") == [(b"y", 11), (b"w", 31)]
    assert x(r, "zdiff", "2", "b", "s") == [b"z"]
    assert x(r, "zinter", "2", "a", "none") == []
    assert x(r, "zunion", "2", "none", "none2") == []
    assert x(r, "zdiff", "1", "none") == []


def test_zunion_infinities_follow_the_nan_conventions(r):
    r.zadd("i", {"m": 1})
    r.zadd("j", {"m": float("inf")})
    r.zadd("k", {"m": float("-inf")})
    assert x(r, "zunion", "2", "j", "k", "withscores") == [b"m", b"0"]  # inf + -inf
    assert x(r, "zinter", "2", "j", "k", "withscores") == [b"m", b"0"]
    assert x(r, "zunion", "2", "i", "j", "weights", "0", "0", "withscores") == [b"m", b"0"]  # inf * 0


def test_zset_algebra_errors(ab):
    r = ab
    assert err(r, "zunion", "0", "a") == "at least 1 input key is needed for 'zunion' command"
    assert err(r, "zinterstore", "d", "0", "a") == "at least 1 input key is needed for 'zinterstore' command"
    assert err(r, "zunion", "-1", "a") == "at least 1 input key is needed for 'zunion' command"
    assert err(r, "zunion", "x", "a") == "value is not an integer or out of range"
    assert err(r, "zunion", "3", "a", "b") == "syntax error"
    assert err(r, "zunion", "2", "a", "b", "weights", "1") == "syntax error"
    assert err(r, "zunion", "2", "a", "b", "weights", "1", "x") == "weight value is not a float"
    assert err(r, "zunion", "2", "a", "b", "aggregate", "foo") == "syntax error"
    assert err(r, "zunion", "2", "a", "b", "aggregate") == "syntax error"
    assert err(r, "zdiff", "2", "a", "b", "weights", "1", "2") == "syntax error"
    assert err(r, "zdiff", "2", "a", "b", "aggregate", "sum") == "syntax error"
    assert err(r, "zunionstore", "d", "2", "a", "b", "withscores") == "syntax error"
    r.set("str", "v")
    assert err(r, "zunion", "2", "a", "str").startswith("WRONGTYPE")
    assert err(r, "zunionstore", "d", "1", "str").startswith("WRONGTYPE")


def test_store_forms(ab):
    r = ab
    assert r.zunionstore("d", ["a", "b"]) == 4
    assert r.zrange("d", 0, -1, withscores=True) == [(b"x", 1), (b"y", 12), (b"z", 23), (b"w", 30)]
    assert r.zinterstore("d", ["a", "b"], aggregate="MAX") == 2
    assert r.zrange("d", 0, -1, withscores=True) == [(b"y", 10), (b"z", 20)]
    assert x(r, "zdiffstore", "d", "2", "a", "b") == 1
    assert r.zrange("d", 0, -1, withscores=True) == [(b"x", 1)]
    assert r.zinterstore("d", ["a", "none"]) == 0
    assert r.exists("d") == 0
    assert r.zunionstore("a", ["a", "b"]) == 4  # a source may be the destination
    assert r.zcard("a") == 4


def test_zintercard(ab):
    r = ab
    assert x(r, "zintercard", "2", "a", "b") == 2
    assert x(r, "zintercard", "2", "a", "b", "limit", "1") == 1
    assert x(r, "zintercard", "2", "a", "b", "limit", "0") == 2
    assert x(r, "zintercard", "2", "a", "none") == 0
    assert err(r, "zintercard", "2", "a", "b", "limit", "-1") == "LIMIT can't be negative"
    assert err(r, "zintercard", "2", "a", "b", "limit", "x") == "LIMIT can't be negative"
    assert err(r, "zintercard", "0", "a") == "at least 1 input key is needed for 'zintercard' command"
    assert err(r, "zintercard", "3", "a", "b") == "syntax error"
    assert err(r, "zintercard", "2", "a", "b", "withscores") == "syntax error"
    assert err(r, "zintercard", "2", "a", "b", "weights", "1", "1") == "syntax error"


def test_big_set_algebra_matches_python(r):
    rnd = random.Random(7)
    sets = []
    for k in range(3):
        d = {"m%d" % rnd.randrange(3000): float(rnd.randrange(-50, 50)) for _ in range(2000)}
        r.zadd("k%d" % k, d)
        sets.append(d)
    union = {}
    for d in sets:
        for m, s in d.items():
            union[m] = union.get(m, 0.0) + s
    inter = {m: sum(d[m] for d in sets) for m in sets[0] if all(m in d for d in sets)}
    diff = {m: s for m, s in sets[0].items() if m not in sets[1] and m not in sets[2]}
    order = lambda d: [(m.encode(), s) for m, s in sorted(d.items(), key=lambda kv: (kv[1], kv[0].encode()))]
    ws = lambda a: [(m, float(s)) for m, s in zip(a[::2], a[1::2])]
    assert ws(x(r, "zunion", "3", "k0", "k1", "k2", "withscores")) == order(union)
    assert ws(x(r, "zinter", "3", "k0", "k1", "k2", "withscores")) == order(inter)
    assert ws(x(r, "zdiff", "3", "k0", "k1", "k2", "withscores")) == order(diff)
    assert x(r, "zintercard", "3", "k0", "k1", "k2") == len(inter)


# ---- ZSCAN ----

@pytest.mark.parametrize("n", [20, 1000])
def test_zscan_returns_every_member_with_its_score(r, n):
    r.zadd("z", {"m%d" % i: i for i in range(n)})
    seen, cursor = {}, 0
    while True:
        cursor, items = x(r, "zscan", "z", cursor, "count", "50")
        cursor = int(cursor)
        for m, s in zip(items[::2], items[1::2]):
            seen[m] = float(s)
        if cursor == 0:
            break
    assert seen == {("m%d" % i).encode(): float(i) for i in range(n)}
    _, items = x(r, "zscan", "z", "0", "match", "m1?", "count", "100000")
    assert sorted(items[::2]) == sorted(("m1%d" % i).encode() for i in range(10))
    _, items = x(r, "zscan", "z", "0", "noscores", "count", "100000")
    assert len(items) == n and set(items) == set(seen)


def test_zscan_errors(r):
    r.zadd("z", {"a": 1})
    assert err(r, "zscan", "z", "x") == "invalid cursor"
    assert err(r, "zscan", "z", "0", "count", "0") == "syntax error"
    assert err(r, "zscan", "z", "0", "count", "x") == "value is not an integer or out of range"
    assert err(r, "zscan", "z", "0", "foo") == "syntax error"
    assert x(r, "zscan", "none", "0") == [b"0", []]
    r.set("s", "v")
    assert err(r, "zscan", "s", "0").startswith("WRONGTYPE")


# ---- encodings ----

def test_conversion_at_the_entries_limit(limits):
    r = limits
    r.config_set("zset-max-listpack-entries", "4")
    r.zadd("z", {"a": 1, "b": 2, "c": 3, "d": 4})
    assert enc(r, "z") == b"listpack"
    r.zadd("z", {"e": 5})
    assert enc(r, "z") == b"skiplist"
    r.zrem("z", "a", "b", "c")
    assert enc(r, "z") == b"skiplist"  # never converted back in place
    assert r.zrange("z", 0, -1, withscores=True) == [(b"d", 4), (b"e", 5)]
    r.zadd("y", {"a": 1, "b": 2, "c": 3, "d": 4, "e": 5})  # created big at once
    assert enc(r, "y") == b"skiplist"
    r.zadd("x", {"a": 1})
    r.zadd("x", {"b": 1, "c": 1, "d": 1, "e": 1, "f": 1})  # one call with more than the limit
    assert enc(r, "x") == b"skiplist"


def test_conversion_at_the_value_limit(limits):
    r = limits
    r.config_set("zset-max-listpack-value", "4")
    r.zadd("z", {"abcd": 1})
    assert enc(r, "z") == b"listpack"
    r.zadd("z", {"abcde": 2})
    assert enc(r, "z") == b"skiplist"
    assert r.zrange("z", 0, -1) == [b"abcd", b"abcde"]


def test_store_results_take_the_encoding_their_size_calls_for(limits):
    r = limits
    big(r, "z")
    assert r.zunionstore("d", ["z"]) == 200 and enc(r, "d") == b"skiplist"
    assert x(r, "zrangestore", "d", "z", "0", "9") == 10 and enc(r, "d") == b"listpack"
    r.zremrangebyrank("z", 10, -1)
    assert enc(r, "z") == b"skiplist"
    assert r.zunionstore("d", ["z"]) == 10 and enc(r, "d") == b"listpack"
    r.config_set("zset-max-listpack-entries", "0")
    r.zadd("one", {"a": 1})
    assert enc(r, "one") == b"skiplist"


def test_copy_and_memory_usage_of_both_encodings(r):
    big(r, "z")
    r.zadd("small", {"a": 1})
    assert r.copy("z", "z2") and r.copy("small", "s2")
    assert r.zrange("z2", 0, -1, withscores=True) == r.zrange("z", 0, -1, withscores=True)
    r.zadd("z2", {"extra": 1})
    assert r.zcard("z") == 200 and r.zcard("z2") == 201  # a deep copy
    assert r.zrange("s2", 0, -1) == [b"a"]
    assert r.memory_usage("z") > r.memory_usage("small") > 0


def test_numeric_members_round_trip_in_the_packed_list(r):
    r.zadd("z", {"1": 1, "01": 2, "-0": 3, "9223372036854775807": 4, "-5": 5, "1.0": 6})
    assert enc(r, "z") == b"listpack"
    assert r.zrange("z", 0, -1) == [b"1", b"01", b"-0", b"9223372036854775807", b"-5", b"1.0"]
    assert r.zscore("z", "01") == 2.0 and r.zscore("z", "1") == 1.0
    assert r.zrangebylex("z", "-", "+") != []


# ---- metadata, events, effects ----

def test_command_getkeys_for_numkeys_commands(r):
    g = lambda *a: x(r, "command", "getkeys", *a)
    assert g("zunionstore", "d", "2", "a", "b", "weights", "1", "2") == [b"d", b"a", b"b"]
    assert g("zunion", "2", "a", "b", "withscores") == [b"a", b"b"]
    assert g("zinter", "1", "a") == [b"a"]
    assert g("zdiffstore", "d", "1", "a") == [b"d", b"a"]
    assert g("zintercard", "2", "a", "b", "limit", "1") == [b"a", b"b"]
    assert g("zmpop", "2", "a", "b", "min") == [b"a", b"b"]
    assert g("bzmpop", "0", "2", "a", "b", "min") == [b"a", b"b"]
    assert g("bzpopmin", "a", "b", "0") == [b"a", b"b"]
    assert g("zrangestore", "d", "s", "0", "1") == [b"d", b"s"]
    with pytest.raises(redis.ResponseError):
        g("zunion", "5", "a", "b")


def test_command_info_describes_the_table(r):
    r.response_callbacks.pop("COMMAND INFO", None)
    info = x(r, "command", "info", "zadd", "zrange", "bzpopmin")
    by_name = {row[0]: row for row in info}
    assert by_name[b"zadd"][1] == -4 and b"write" in by_name[b"zadd"][2]
    assert by_name[b"zrange"][1] == -4 and b"readonly" in by_name[b"zrange"][2]
    assert b"blocking" in by_name[b"bzpopmin"][2]


def test_keyspace_events(server, r):
    r.config_set("notify-keyspace-events", "KEA")
    p = server.client().pubsub()
    try:
        p.psubscribe("__keyevent@0__:*")
        assert p.get_message(timeout=2)["type"] == "psubscribe"
        r.zadd("z", {"a": 1, "b": 2, "c": 3})
        r.zincrby("z", 1, "a")
        r.zrem("z", "a")
        r.zadd("z", {"b": 2})  # no change: no event
        r.zpopmin("z")
        r.zpopmax("z")  # emptied: zpopmax then del
        r.zadd("z", {"a": 1, "b": 2, "c": 3, "d": 4})
        r.zremrangebyscore("z", 1, 1)
        r.zremrangebyrank("z", 0, 0)
        r.zremrangebylex("z", "-", "+")
        r.zadd("src", {"a": 1})
        r.zunionstore("dst", ["src"])
        r.zinterstore("dst", ["src"])
        x(r, "zdiffstore", "dst", "1", "src")
        x(r, "zrangestore", "dst", "src", "0", "-1")
        events = []
        deadline = time.time() + 3
        while len(events) < 16 and time.time() < deadline:
            m = p.get_message(timeout=0.5)
            if m and m["type"] == "pmessage":
                events.append(m["channel"].decode().split(":", 1)[1])
        assert events == ["zadd", "zincr", "zrem", "zpopmin", "zpopmax", "del", "zadd",
                          "zremrangebyscore", "zremrangebyrank", "zremrangebylex", "del", "zadd",
                          "zunionstore", "zinterstore", "zdiffstore", "zrangestore"]
    finally:
        p.close()
        r.config_set("notify-keyspace-events", "")


def test_watch_sees_zset_writes(server, r):
    r.zadd("z", {"a": 1})
    w = server.client()
    p = w.pipeline()
    p.watch("z")
    r.zincrby("z", 1, "a")
    p.multi()
    p.zcard("z")
    with pytest.raises(redis.WatchError):
        p.execute()
    w.close()


def test_writes_that_change_nothing_are_not_counted_dirty(r):
    r.zadd("z", {"a": 1})
    before = int(r.info("persistence").get("rdb_changes_since_last_save", 0))
    r.zadd("z", {"a": 1})
    r.zrem("z", "nope")
    r.zremrangebyscore("z", 5, 6)
    after = int(r.info("persistence").get("rdb_changes_since_last_save", 0))
    assert after == before
    r.zadd("z", {"a": 2})
    assert int(r.info("persistence")["rdb_changes_since_last_save"]) == after + 1


# ---- blocking pops ----

def _later(fn, delay=0.2):
    t = threading.Timer(delay, fn)
    t.start()
    return t


def test_bzpopmin_serves_at_once_when_data_exists(r):
    r.zadd("z", {"a": 1, "b": 2})
    assert r.bzpopmin(["none", "z"], 0) == (b"z", b"a", 1.0)
    assert r.bzpopmax("z", 0) == (b"z", b"b", 2.0)
    assert r.exists("z") == 0


def test_bzpopmin_times_out_with_null(r):
    t0 = time.time()
    assert r.bzpopmin("none", 0.1) is None
    assert 0.08 < time.time() - t0 < 2
    assert x(r, "bzmpop", "0.1", "1", "none", "min") is None


def test_bzpopmax_wakes_when_another_client_adds(server, r):
    other = server.client()
    t = _later(lambda: other.zadd("z", {"a": 1, "b": 2}))
    assert r.bzpopmax("z", 5) == (b"z", b"b", 2.0)
    t.join()
    assert r.zrange("z", 0, -1) == [b"a"]
    other.close()


def test_bzmpop_wakes_on_a_multi_exec_and_pops_count(server, r):
    other = server.client()

    def push():
        p = other.pipeline(transaction=True)
        p.zadd("y", {"a": 1, "b": 2, "c": 3})
        p.execute()
    t = _later(push)
    assert x(r, "bzmpop", "5", "2", "x", "y", "min", "count", "2") == [b"y", [[b"a", b"1"], [b"b", b"2"]]]
    t.join()
    other.close()


def test_blocking_pop_errors(r):
    assert err(r, "bzpopmin", "z", "-1") == "timeout is negative"
    assert err(r, "bzpopmin", "z", "x") == "timeout is not a float or out of range"
    assert err(r, "bzmpop", "0", "0", "z", "min") == "numkeys should be greater than 0"
    assert err(r, "bzmpop", "0", "1", "z", "foo") == "syntax error"
    assert err(r, "bzmpop", "-1", "1", "z", "min") == "timeout is negative"
    r.set("s", "v")
    assert err(r, "bzpopmin", "s", "0").startswith("WRONGTYPE")


def test_blocking_pop_inside_multi_does_not_block(r):
    p = r.pipeline(transaction=True)
    p.bzpopmin("none", 0)
    p.execute_command("bzmpop", "0", "1", "none", "min")
    assert p.execute() == [None, None]


def test_blocked_clients_are_served_in_arrival_order(server, r):
    results = {}

    def waiter(name):
        c = server.client()
        results[name] = c.bzpopmin("q", 5)
        c.close()
    ts = []
    for name in ("first", "second"):
        t = threading.Thread(target=waiter, args=(name,))
        t.start()
        ts.append(t)
        time.sleep(0.15)
    r.zadd("q", {"a": 1})
    time.sleep(0.2)
    r.zadd("q", {"b": 2})
    for t in ts:
        t.join()
    assert results == {"first": (b"q", b"a", 1.0), "second": (b"q", b"b", 2.0)}


# ---- effects survive a restart (the log replays pops deterministically) ----

def test_effects_replay_after_a_crash(tmp_path):
    s = KeelServer(data_dir=str(tmp_path), durability="sync")
    try:
        s.start()
        c = s.client()
        c.zadd("z", {"m%d" % i: i for i in range(300)})
        c.zadd("w", {"a": 1, "b": 2, "c": 3})
        c.execute_command("zmpop", "2", "none", "z", "max", "count", "5")
        c.zpopmin("w")
        c.bzpopmax("w", 1)
        c.zincrby("z", 1000, "m0")
        c.zunionstore("u", ["z", "w"], aggregate="MIN")
        c.zremrangebyrank("z", 0, 9)
        expect = {k: c.zrange(k, 0, -1, withscores=True) for k in ("z", "w", "u")}
        s.kill()
        s.start()
        c = s.client()
        assert {k: c.zrange(k, 0, -1, withscores=True) for k in ("z", "w", "u")} == expect
    finally:
        s.cleanup()


# ---- the random model test ----

class Model:
    def __init__(self):
        self.d = {}

    def order(self):
        return sorted(self.d.items(), key=lambda kv: (kv[1], kv[0]))


@pytest.mark.parametrize("entries", ["128", "16"])
def test_random_operations_match_a_model(limits, entries):
    r = limits
    r.config_set("zset-max-listpack-entries", entries)
    rnd = random.Random(int(entries))
    model = Model()
    pool = [("m%d" % i).encode() for i in range(60)] + [b"", b"a", b"aa", b"ab", b"b"]
    pipe = r.pipeline(transaction=False)
    for step in range(4000):
        op = rnd.random()
        m = rnd.choice(pool)
        score = float(rnd.choice([rnd.randrange(-5, 5), rnd.uniform(-10, 10)]))
        if op < 0.5:
            pipe.zadd("z", {m: score})
            model.d[m] = score
        elif op < 0.75:
            pipe.zrem("z", m)
            model.d.pop(m, None)
        else:
            pipe.zincrby("z", score, m)
            model.d[m] = model.d.get(m, 0.0) + score
        if step % 400 == 399:
            pipe.execute()
            check_against_model(r, model, rnd)
    pipe.execute()
    check_against_model(r, model, rnd)


def check_against_model(r, model, rnd):
    order = model.order()
    assert r.zcard("z") == len(order)
    assert r.zrange("z", 0, -1, withscores=True) == order
    for _ in range(20):
        if not order:
            break
        i = rnd.randrange(len(order))
        m, s = order[i]
        assert r.zrank("z", m) == i
        assert r.zrevrank("z", m) == len(order) - 1 - i
        assert r.zscore("z", m) == s
        a, b = sorted((rnd.uniform(-12, 12), rnd.uniform(-12, 12)))
        want = [x for x in order if a < x[1] <= b]
        assert r.zcount("z", "(%r" % a, b) == len(want)
        assert r.zrangebyscore("z", "(%r" % a, b, withscores=True) == want
        assert r.zrevrangebyscore("z", b, "(%r" % a) == [x[0] for x in reversed(want)]
        start, stop = rnd.randrange(-len(order) - 2, len(order) + 2), rnd.randrange(-len(order) - 2, len(order) + 2)
        py_start = max(start + len(order) if start < 0 else start, 0)
        py_stop = stop + len(order) if stop < 0 else stop
        want = [x[0] for x in order[py_start:py_stop + 1]] if py_stop >= 0 else []
        assert r.zrange("z", start, stop) == want


def test_snapshot_round_trip_keeps_both_encodings(tmp_path):
    s = KeelServer(data_dir=str(tmp_path), durability="off")
    try:
        s.start()
        c = s.client()
        c.zadd("big", {"m%d" % i: i + 0.25 for i in range(300)})
        c.zadd("small", {"a": 1.5, "b": float("-inf"), "12": 3})
        expect = {k: c.zrange(k, 0, -1, withscores=True) for k in ("big", "small")}
        assert c.execute_command("save") in (b"OK", "OK", True)
        s.kill()
        s.start()
        c = s.client()
        assert {k: c.zrange(k, 0, -1, withscores=True) for k in ("big", "small")} == expect
        assert enc(c, "big") == b"skiplist" and enc(c, "small") == b"listpack"
        assert c.zrank("big", "m77") == 77 and c.zscore("big", "m77") == 77.25
    finally:
        s.cleanup()

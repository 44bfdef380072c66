"""List commands against the real server: replies, errors, encodings, events, RESP2/RESP3 shapes.

Expected values were checked against Debian's redis-server 7.0 where the two agree; where Valkey
8 / Redis 7.2 changed a message (timeout out of range, LPOS RANK range) the newer text is used.
"""
import time

import pytest
import redis

from keel_harness import RespError


def first_line(server, *args, resp=2):
    """The first line of the raw reply: tells '$-1' (nil) from '*-1' (nil array) from '*0'."""
    c = server.raw(resp)
    try:
        c.send_cmd(*args)
        return c._line()
    finally:
        c.close()


def err(r, *args):
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command(*args)
    return str(e.value)


# ---- pushes, length, ranges ------------------------------------------------------------------

def test_push_order_and_len(r):
    assert r.rpush("l", "a", "b", "c") == 3
    assert r.lpush("l", "x", "y") == 5
    assert r.lrange("l", 0, -1) == [b"y", b"x", b"a", b"b", b"c"]
    assert r.llen("l") == 5
    assert r.llen("nokey") == 0


def test_pushx_only_on_existing(r):
    assert r.lpushx("l", "a") == 0
    assert r.execute_command("RPUSHX", "l", "a", "b") == 0
    assert not r.exists("l")
    r.rpush("l", "m")
    assert r.execute_command("LPUSHX", "l", "a", "b") == 3
    assert r.rpushx("l", "z") == 4
    assert r.lrange("l", 0, -1) == [b"b", b"a", b"m", b"z"]


def test_wrongtype_everywhere(r):
    r.set("s", "v")
    for args in (("lpush", "s", "a"), ("rpushx", "s", "a"), ("lpop", "s"), ("rpop", "s", "2"),
                 ("llen", "s"), ("lrange", "s", 0, 1), ("lindex", "s", 0), ("lset", "s", 0, "a"),
                 ("linsert", "s", "before", "a", "b"), ("lrem", "s", 0, "a"), ("ltrim", "s", 0, 1),
                 ("lpos", "s", "a"), ("lmove", "s", "d", "left", "left"), ("rpoplpush", "s", "d"),
                 ("lmpop", 1, "s", "left"), ("blpop", "s", 0), ("blmove", "s", "d", "left", "left", 0),
                 ("blmpop", 0, 1, "s", "left")):
        assert err(r, *args).startswith("WRONGTYPE"), args
    r.rpush("l", "a")
    assert err(r, "lmove", "l", "s", "left", "left").startswith("WRONGTYPE")
    assert r.lrange("l", 0, -1) == [b"a"]  # nothing popped when the destination is wrong


def test_arity_errors(r):
    assert err(r, "lpush", "l") == "wrong number of arguments for 'lpush' command"
    assert err(r, "lpop", "l", "1", "2") == "wrong number of arguments for 'lpop' command"
    assert err(r, "lrange", "l", "0") == "wrong number of arguments for 'lrange' command"
    assert err(r, "blpop", "l") == "wrong number of arguments for 'blpop' command"
    assert err(r, "blmpop", "0", "1", "l") == "wrong number of arguments for 'blmpop' command"


@pytest.mark.parametrize("start,stop,expect", [
    (0, -1, "abcde"), (1, 3, "bcd"), (-2, -1, "de"), (-100, 1, "ab"), (3, 100, "de"),
    (4, 2, ""), (5, 10, ""), (-1, -2, ""), (0, 0, "a"), (-5, -5, "a"),
])
def test_lrange_indexes(r, start, stop, expect):
    r.rpush("l", *"abcde")
    assert b"".join(r.lrange("l", start, stop)) == expect.encode()


def test_lrange_errors_and_missing(r, server):
    assert r.lrange("nokey", 0, -1) == []
    assert first_line(server, "LRANGE", "nokey", "0", "-1") == b"*0"
    assert err(r, "lrange", "l", "a", "1") == "value is not an integer or out of range"
    assert err(r, "lrange", "l", "0", "1.5") == "value is not an integer or out of range"


def test_lindex(r, server):
    r.rpush("l", "a", "b", "c")
    assert r.lindex("l", 0) == b"a"
    assert r.lindex("l", -1) == b"c"
    assert r.lindex("l", -3) == b"a"
    assert r.lindex("l", 3) is None
    assert r.lindex("l", -4) is None
    assert r.lindex("nokey", 0) is None
    assert first_line(server, "LINDEX", "nokey", "0") == b"$-1"
    assert err(r, "lindex", "l", "x") == "value is not an integer or out of range"


def test_integers_keep_their_text(r):
    vals = ["0", "-1", "123", "9223372036854775807", "-9223372036854775808", "01", "-0", "+1",
            " 1", "1.5", "9223372036854775808", ""]
    r.rpush("l", *vals)
    assert r.lrange("l", 0, -1) == [v.encode() for v in vals]
    r.config_set("list-max-listpack-size", "4")
    r.rpush("q", *vals)
    assert r.object("encoding", "q") == b"quicklist"
    assert r.lrange("q", 0, -1) == [v.encode() for v in vals]
    r.config_set("list-max-listpack-size", "-2")


# ---- pops ------------------------------------------------------------------------------------

def test_pop_single_and_count(r):
    r.rpush("l", *"abcde")
    assert r.lpop("l") == b"a"
    assert r.rpop("l") == b"e"
    assert r.lpop("l", 2) == [b"b", b"c"]
    assert r.rpop("l", 5) == [b"d"]
    assert not r.exists("l")
    assert r.lpop("l") is None


def test_pop_count_nil_rules_resp2(r, server):
    assert first_line(server, "LPOP", "nokey") == b"$-1"
    assert first_line(server, "LPOP", "nokey", "1") == b"*-1"
    assert first_line(server, "RPOP", "nokey", "0") == b"*-1"
    r.rpush("l", "a")
    assert first_line(server, "LPOP", "l", "0") == b"*0"
    assert r.llen("l") == 1


def test_pop_count_nil_rules_resp3(r, server):
    assert first_line(server, "LPOP", "nokey", resp=3) == b"_"
    assert first_line(server, "LPOP", "nokey", "2", resp=3) == b"_"
    r.rpush("l", "a", "b")
    c = server.raw(3)
    assert c.call("RPOP", "l", "5") == [b"b", b"a"]
    c.close()


def test_pop_count_errors(r):
    r.rpush("l", "a")
    assert err(r, "lpop", "l", "-1") == "value is out of range, must be positive"
    assert err(r, "rpop", "l", "x") == "value is out of range, must be positive"


# ---- in-place changes ------------------------------------------------------------------------

def test_lset(r):
    r.rpush("l", "a", "b", "c")
    assert r.lset("l", 0, "A")
    assert r.lset("l", -1, "C")
    assert r.lrange("l", 0, -1) == [b"A", b"b", b"C"]
    assert err(r, "lset", "l", 3, "x") == "index out of range"
    assert err(r, "lset", "l", -4, "x") == "index out of range"
    assert err(r, "lset", "nokey", 0, "x") == "no such key"
    assert err(r, "lset", "l", "x", "x") == "value is not an integer or out of range"


def test_linsert(r):
    r.rpush("l", "a", "b", "c")
    assert r.linsert("l", "before", "b", "X") == 4
    assert r.linsert("l", "AFTER", "c", "Z") == 5
    assert r.linsert("l", "after", "nope", "Q") == -1
    assert r.linsert("nokey", "after", "a", "Q") == 0
    assert r.lrange("l", 0, -1) == [b"a", b"X", b"b", b"c", b"Z"]
    assert err(r, "linsert", "l", "middle", "a", "b") == "syntax error"
    r.rpush("n", "1", "2", "1")
    assert r.linsert("n", "after", "1", "x") == 4  # the first match only
    assert r.lrange("n", 0, -1) == [b"1", b"x", b"2", b"1"]


@pytest.mark.parametrize("count,expect", [
    (0, "bcd"), (1, "bcxdx"), (2, "bcdx"), (-1, "xbcxd"), (-2, "xbcd"), (10, "bcd"),
])
def test_lrem(r, count, expect):
    r.rpush("l", *"xbcxdx")
    removed = r.lrem("l", count, "x")
    assert removed == 6 - len(expect)
    assert b"".join(r.lrange("l", 0, -1)) == expect.encode()


def test_lrem_deletes_empty_and_errors(r):
    r.rpush("l", "a", "a")
    assert r.lrem("l", 0, "a") == 2
    assert not r.exists("l")
    assert r.lrem("l", 0, "a") == 0
    assert err(r, "lrem", "l", "x", "a") == "value is not an integer or out of range"


@pytest.mark.parametrize("start,stop,expect", [
    (1, -1, "bcde"), (0, 1, "ab"), (-2, -1, "de"), (-100, 100, "abcde"), (2, 1, ""),
    (5, 10, ""), (0, 0, "a"),
])
def test_ltrim(r, start, stop, expect):
    r.rpush("l", *"abcde")
    assert r.ltrim("l", start, stop)
    assert b"".join(r.lrange("l", 0, -1)) == expect.encode()
    assert r.exists("l") == (1 if expect else 0)


def test_ltrim_missing_and_errors(r):
    assert r.ltrim("nokey", 0, 1)
    assert err(r, "ltrim", "l", "0", "x") == "value is not an integer or out of range"


# ---- LPOS ------------------------------------------------------------------------------------

def test_lpos(r, server):
    r.rpush("l", *"abcdbcb")  # b at 1, 4, 6
    assert r.lpos("l", "b") == 1
    assert r.lpos("l", "b", rank=2) == 4
    assert r.lpos("l", "b", rank=-1) == 6
    assert r.lpos("l", "b", rank=-3) == 1
    assert r.lpos("l", "b", rank=4) is None
    assert r.lpos("l", "b", count=0) == [1, 4, 6]
    assert r.lpos("l", "b", count=2) == [1, 4]
    assert r.lpos("l", "b", count=2, rank=-1) == [6, 4]
    assert r.lpos("l", "b", rank=2, count=0) == [4, 6]
    assert r.lpos("l", "b", count=0, maxlen=5) == [1, 4]
    assert r.lpos("l", "b", rank=-2, maxlen=2) is None  # from the tail: b, c
    assert r.lpos("l", "b", rank=-2, maxlen=3) == 4
    assert r.lpos("l", "d", maxlen=3) is None
    assert r.lpos("l", "zz") is None
    assert r.lpos("l", "zz", count=1) == []
    assert r.lpos("nokey", "a") is None
    assert first_line(server, "LPOS", "nokey", "a", "COUNT", "1") == b"*0"
    assert first_line(server, "LPOS", "nokey", "a") == b"$-1"


def test_lpos_errors(r):
    r.rpush("l", "a")
    assert err(r, "lpos", "l", "a", "rank", "0").startswith("RANK can't be zero")
    assert err(r, "lpos", "l", "a", "count", "-1") == "COUNT can't be negative"
    assert err(r, "lpos", "l", "a", "maxlen", "-1") == "MAXLEN can't be negative"
    assert err(r, "lpos", "l", "a", "rank", "x") == "value is not an integer or out of range"
    assert err(r, "lpos", "l", "a", "rank") == "syntax error"
    assert err(r, "lpos", "l", "a", "bogus", "1") == "syntax error"
    assert err(r, "lpos", "l", "a", "rank", "-9223372036854775808") == \
        "value is out of range, value must between -9223372036854775807 and 9223372036854775807"


# ---- moves and LMPOP -------------------------------------------------------------------------

@pytest.mark.parametrize("wf,wt,src,dst", [
    ("left", "left", "bc", "ad"), ("left", "right", "bc", "da"),
    ("right", "left", "ab", "cd"), ("right", "right", "ab", "dc"),
])
def test_lmove_directions(r, wf, wt, src, dst):
    r.rpush("s", *"abc")
    r.rpush("d", "d")
    moved = r.lmove("s", "d", wf, wt)
    assert moved == (b"a" if wf == "left" else b"c")
    assert b"".join(r.lrange("s", 0, -1)) == src.encode()
    assert b"".join(r.lrange("d", 0, -1)) == dst.encode()


def test_lmove_same_key_rotates_and_creates(r):
    r.rpush("l", *"abc")
    assert r.lmove("l", "l", "left", "right") == b"a"
    assert r.lrange("l", 0, -1) == [b"b", b"c", b"a"]
    assert r.rpoplpush("l", "new") == b"a"
    assert r.lrange("new", 0, -1) == [b"a"]
    r.rpush("one", "x")
    assert r.lmove("one", "one", "right", "left") == b"x"
    assert r.lrange("one", 0, -1) == [b"x"]
    assert r.rpoplpush("nokey", "d") is None
    assert r.lmove("nokey", "d", "left", "left") is None
    assert not r.exists("d")
    assert err(r, "lmove", "l", "d", "up", "left") == "syntax error"
    r.rpush("last", "z")
    assert r.lmove("last", "other", "left", "left") == b"z"
    assert not r.exists("last")


def test_lmpop(r, server):
    r.rpush("b", *"123")
    assert r.execute_command("LMPOP", 2, "a", "b", "LEFT") == [b"b", [b"1"]]
    assert r.execute_command("LMPOP", 2, "a", "b", "RIGHT", "COUNT", 10) == [b"b", [b"3", b"2"]]
    assert not r.exists("b")
    assert r.execute_command("LMPOP", 1, "a", "LEFT") is None
    assert first_line(server, "LMPOP", "1", "a", "LEFT") == b"*-1"
    assert first_line(server, "LMPOP", "1", "a", "LEFT", resp=3) == b"_"


def test_lmpop_errors(r):
    assert err(r, "lmpop", 0, "a", "left") == "numkeys should be greater than 0"
    assert err(r, "lmpop", "x", "a", "left") == "numkeys should be greater than 0"
    assert err(r, "lmpop", 3, "a", "left") == "syntax error"
    assert err(r, "lmpop", 1, "a", "middle") == "syntax error"
    assert err(r, "lmpop", 1, "a", "left", "count", 0) == "count should be greater than 0"
    assert err(r, "lmpop", 1, "a", "left", "count", 1, "count", 1) == "syntax error"
    assert err(r, "lmpop", 1, "a", "left", "count") == "syntax error"


def test_command_getkeys_for_numkeys(server):
    c = server.raw()
    assert c.call("COMMAND", "GETKEYS", "LMPOP", 2, "a", "b", "LEFT") == [b"a", b"b"]
    assert c.call("COMMAND", "GETKEYS", "BLMPOP", 0, 2, "a", "b", "LEFT") == [b"a", b"b"]
    assert c.call("COMMAND", "GETKEYS", "BLPOP", "a", "b", 0) == [b"a", b"b"]
    assert c.call("COMMAND", "GETKEYS", "LMOVE", "a", "b", "LEFT", "LEFT") == [b"a", b"b"]
    c.close()


# ---- encodings -------------------------------------------------------------------------------

def test_encoding_by_count_limit_and_back(r):
    r.config_set("list-max-listpack-size", "4")
    r.rpush("l", 1, 2, 3, 4)
    assert r.object("encoding", "l") == b"listpack"
    r.rpush("l", 5)
    assert r.object("encoding", "l") == b"quicklist"
    r.rpop("l")
    assert r.object("encoding", "l") == b"quicklist"  # above half the limit: stays
    r.rpop("l", 2)
    assert r.object("encoding", "l") == b"listpack"  # 2 <= 4 / 2
    assert r.lrange("l", 0, -1) == [b"1", b"2"]
    r.config_set("list-max-listpack-size", "-2")


def test_encoding_by_size_limit(r):
    r.config_set("list-max-listpack-size", "-1")  # 4 KiB
    r.rpush("l", "x" * 4000)
    assert r.object("encoding", "l") == b"listpack"
    r.rpush("l", "y" * 200)
    assert r.object("encoding", "l") == b"quicklist"
    r.lpop("l")
    assert r.object("encoding", "l") == b"listpack"
    assert r.lrange("l", 0, -1) == [b"y" * 200]
    r.config_set("list-max-listpack-size", "-2")


def test_big_element_goes_to_quicklist_at_once(r):
    r.rpush("l", "x" * 9000)  # over 8 KiB: bigger than any -2 node
    assert r.object("encoding", "l") == b"quicklist"
    assert r.lindex("l", 0) == b"x" * 9000


def test_lset_and_linsert_convert(r):
    r.config_set("list-max-listpack-size", "-1")
    r.rpush("l", "a", "b")
    r.lset("l", 0, "z" * 5000)
    assert r.object("encoding", "l") == b"quicklist"
    r.lset("l", 0, "a")
    assert r.lrange("l", 0, -1) == [b"a", b"b"]
    r.delete("l")
    r.rpush("l", "a", "b")
    r.linsert("l", "after", "a", "q" * 5000)
    assert r.object("encoding", "l") == b"quicklist"
    assert r.lrange("l", 0, -1) == [b"a", b"q" * 5000, b"b"]
    r.config_set("list-max-listpack-size", "-2")


def test_large_list_all_commands(r):
    """The quicklist paths: many nodes, ops in the middle, from both ends."""
    r.config_set("list-max-listpack-size", "8")
    n = 1000
    r.rpush("l", *range(n))
    assert r.object("encoding", "l") == b"quicklist"
    assert r.lindex("l", 500) == b"500"
    assert r.lindex("l", -1) == str(n - 1).encode()
    assert r.lrange("l", 495, 504) == [str(i).encode() for i in range(495, 505)]
    assert r.lrange("l", -3, -1) == [b"997", b"998", b"999"]
    assert r.linsert("l", "before", "500", "X") == n + 1
    assert r.lindex("l", 500) == b"X"
    assert r.lset("l", 700, "Y")
    assert r.lpos("l", "Y") == 700
    assert r.lpos("l", "999", rank=-1) == n
    assert r.lrem("l", 0, "X") == 1
    r.ltrim("l", 100, 199)
    assert r.llen("l") == 100
    assert r.lindex("l", 0) == b"100"
    assert r.lindex("l", -1) == b"199"
    assert r.lpop("l", 99) == [str(i).encode() for i in range(100, 199)]
    assert r.object("encoding", "l") == b"listpack"  # one element: one node, within half
    r.config_set("list-max-listpack-size", "-2")


def test_copy_and_rename_keep_lists(r):
    r.config_set("list-max-listpack-size", "4")
    r.rpush("big", *range(10))
    r.rpush("small", "a", "b")
    assert r.copy("big", "big2")
    assert r.copy("small", "small2")
    assert r.lrange("big2", 0, -1) == [str(i).encode() for i in range(10)]
    assert r.lrange("small2", 0, -1) == [b"a", b"b"]
    r.rpush("big2", "x")
    assert r.llen("big") == 10
    assert r.type("big2") == b"list"
    r.config_set("list-max-listpack-size", "-2")


# ---- keyspace events -------------------------------------------------------------------------

def events_of(r, server, fn):
    r.config_set("notify-keyspace-events", "KEA")
    sub = server.client()
    p = sub.pubsub()
    p.psubscribe("__keyevent@0__:*")
    p.get_message(timeout=1)
    fn()
    out = []
    deadline = time.time() + 1
    while time.time() < deadline:
        m = p.get_message(timeout=0.2)
        if m is None:
            if out:
                break
            continue
        if m["type"] == "pmessage":
            out.append((m["channel"].split(b":", 1)[1].decode(), m["data"].decode()))
    p.close()
    sub.close()
    r.config_set("notify-keyspace-events", "")
    return out


def test_events(r, server):
    def ops():
        r.rpush("l", "a", "b", "c")
        r.lpush("l", "z")
        r.lset("l", 0, "y")
        r.linsert("l", "before", "a", "q")
        r.lrem("l", 1, "q")
        r.ltrim("l", 0, 2)
        r.lpop("l")
        r.rpop("l")
        r.lmove("l", "m", "left", "right")
    ev = events_of(r, server, ops)
    assert ev == [("rpush", "l"), ("lpush", "l"), ("lset", "l"), ("linsert", "l"), ("lrem", "l"),
                  ("ltrim", "l"), ("lpop", "l"), ("rpop", "l"), ("rpush", "m"), ("lpop", "l"),
                  ("del", "l")]


def test_no_event_when_nothing_changes(r, server):
    def ops():
        r.lpushx("nokey", "a")
        r.lpop("nokey")
        r.lrem("nokey", 0, "a")
        r.linsert("nokey", "before", "a", "b")
        r.rpush("done", "x")
    assert events_of(r, server, ops) == [("rpush", "done")]


def test_dirty_counts_changes_only(r):
    def changes():
        return int(r.info("persistence")["rdb_changes_since_last_save"])
    r.rpush("l", "a", "b", "c")
    before = changes()
    r.lrange("l", 0, -1)
    r.lpos("l", "a")
    r.lpop("nokey")
    r.lrem("l", 0, "zz")
    r.linsert("l", "before", "zz", "q")
    assert changes() == before
    r.lpop("l", 2)
    assert changes() == before + 2

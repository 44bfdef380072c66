"""Hash commands against the real server: replies and errors as Valkey 8, encodings at the
configured limits, HRANDFIELD sampling, HSCAN, keyspace events, and a random run against a dict."""
import random

import pytest
import redis

from keel_harness import RespError

WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"


@pytest.fixture(autouse=True)
def default_limits(r):
    r.config_set("hash-max-listpack-entries", 128)
    r.config_set("hash-max-listpack-value", 64)
    yield


def events(server, action):
    """Run action() and return the keyevent notifications (event, key) it produced, in order."""
    admin = server.client()
    admin.config_set("notify-keyspace-events", "KEA")
    p = server.client().pubsub()
    try:
        p.psubscribe("__keyevent@0__:*")
        assert p.get_message(timeout=2)["type"] == "psubscribe"
        action()
        out = []
        while True:
            m = p.get_message(timeout=0.3)
            if m is None:
                return out
            out.append((m["channel"].split(b":", 1)[1], m["data"]))
    finally:
        p.close()
        admin.config_set("notify-keyspace-events", "")
        admin.close()


def test_hset_hget_and_friends(r):
    assert r.hset("h", mapping={"a": "1", "b": "two"}) == 2
    assert r.execute_command("HSET", "h", "a", "10", "c", "3") == 1
    assert r.hget("h", "a") == b"10"
    assert r.hget("h", "zz") is None
    assert r.hget("nokey", "a") is None
    assert r.hmget("h", "a", "zz", "b") == [b"10", None, b"two"]
    assert r.hmget("nokey", "a", "b") == [None, None]
    assert r.hlen("h") == 3 and r.hlen("nokey") == 0
    assert r.hexists("h", "b") and not r.hexists("h", "zz") and not r.hexists("nokey", "a")
    assert r.hstrlen("h", "a") == 2 and r.hstrlen("h", "b") == 3 and r.hstrlen("h", "zz") == 0
    assert r.hkeys("h") == [b"a", b"b", b"c"]  # a packed list keeps insertion order
    assert r.hvals("h") == [b"10", b"two", b"3"]
    assert r.hgetall("h") == {b"a": b"10", b"b": b"two", b"c": b"3"}
    assert r.hgetall("nokey") == {} and r.hkeys("nokey") == [] and r.hvals("nokey") == []
    assert r.execute_command("HMSET", "h", "d", "4", "e", "5") is True  # +OK
    assert r.hlen("h") == 5


def test_integer_looking_values_come_back_as_written(r):
    vals = ["0", "-1", "9223372036854775807", "-9223372036854775808", "01", "-0", "+1", " 1",
            "9223372036854775808", "1.5", ""]
    for i, v in enumerate(vals):
        r.hset("h", "f%d" % i, v)
        r.hset("h", v, "x")
    for i, v in enumerate(vals):
        assert r.hget("h", "f%d" % i) == v.encode()
        assert r.hget("h", v) == b"x"
        assert r.hstrlen("h", "f%d" % i) == len(v)


def test_arity_and_odd_pairs(r):
    for cmd in (["HSET", "h", "a"], ["HSET", "h", "a", "1", "b"], ["HMSET", "h", "a"]):
        with pytest.raises(redis.ResponseError) as e:
            r.execute_command(*cmd)
        assert str(e.value) == "wrong number of arguments for '%s' command" % cmd[0].lower()
    assert not r.exists("h")


def test_hsetnx(r):
    assert r.hsetnx("h", "a", "1") == 1
    assert r.hsetnx("h", "a", "2") == 0
    assert r.hget("h", "a") == b"1"


def test_hdel_deletes_the_key_with_its_last_field(r):
    r.hset("h", mapping={"a": 1, "b": 2, "c": 3})
    assert r.hdel("h", "a", "zz", "a") == 1
    assert r.hdel("nokey", "a") == 0
    assert r.hdel("h", "b", "c") == 2
    assert not r.exists("h")


def test_wrongtype_everywhere(r):
    r.set("s", "x")
    cmds = [["HSET", "s", "a", "1"], ["HSETNX", "s", "a", "1"], ["HMSET", "s", "a", "1"],
            ["HGET", "s", "a"], ["HMGET", "s", "a"], ["HDEL", "s", "a"], ["HLEN", "s"],
            ["HSTRLEN", "s", "a"], ["HEXISTS", "s", "a"], ["HKEYS", "s"], ["HVALS", "s"],
            ["HGETALL", "s"], ["HINCRBY", "s", "a", "1"], ["HINCRBYFLOAT", "s", "a", "1"],
            ["HRANDFIELD", "s"], ["HRANDFIELD", "s", "2"], ["HSCAN", "s", "0"]]
    for cmd in cmds:
        with pytest.raises(redis.ResponseError) as e:
            r.execute_command(*cmd)
        assert str(e.value) == WRONGTYPE, cmd
    assert r.get("s") == b"x"


def test_hincrby(r):
    assert r.hincrby("h", "n", 5) == 5
    assert r.hincrby("h", "n", -7) == -2
    assert r.hget("h", "n") == b"-2"
    r.hset("h", "s", "abc")
    r.hset("h", "sp", " 1")
    for field, incr, msg in [("s", "1", "hash value is not an integer"),
                             ("sp", "1", "hash value is not an integer"),
                             ("n", "x", "value is not an integer or out of range"),
                             ("n", "1.5", "value is not an integer or out of range")]:
        with pytest.raises(redis.ResponseError) as e:
            r.execute_command("HINCRBY", "h", field, incr)
        assert str(e.value) == msg
    r.hset("h", "big", "9223372036854775800")
    with pytest.raises(redis.ResponseError) as e:
        r.hincrby("h", "big", 100)
    assert str(e.value) == "increment or decrement would overflow"
    assert r.hget("h", "big") == b"9223372036854775800"
    with pytest.raises(redis.ResponseError):
        r.hincrby("h2", "a", "nope")
    assert not r.exists("h2")


def test_hincrbyfloat(r):
    assert r.hincrbyfloat("h", "f", 10.5) == 10.5
    r.execute_command("HINCRBYFLOAT", "h", "f", "0.1")
    assert r.hget("h", "f") == b"10.6"
    r.execute_command("HINCRBYFLOAT", "h", "f", "-10.6")
    assert r.hget("h", "f") == b"0"
    r.execute_command("HINCRBYFLOAT", "h", "g", "5.0e3")
    assert r.hget("h", "g") == b"5000"
    r.hset("h", "s", "abc")
    with pytest.raises(redis.ResponseError) as e:
        r.hincrbyfloat("h", "s", 1)
    assert str(e.value) == "hash value is not a float"
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("HINCRBYFLOAT", "h", "f", "abc")
    assert str(e.value) == "value is not a valid float"
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("HINCRBYFLOAT", "h", "f", "inf")
    assert str(e.value) == "value is NaN or Infinity"
    # Long double arithmetic, as Valkey: only a sum past its range is refused.
    r.hset("h", "m", "1e4932")
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("HINCRBYFLOAT", "h", "m", "1e4932")
    assert str(e.value) == "increment would produce NaN or Infinity"
    assert r.hget("h", "m") == b"1e4932"


def test_hgetall_is_a_map_in_resp3(server, r):
    r.hset("h", mapping={"a": "1", "b": "2"})
    raw = server.raw(resp=3)
    try:
        assert raw.call("HGETALL", "h") == {b"a": b"1", b"b": b"2"}
        assert raw.call("HGETALL", "nokey") == {}
        assert raw.call("HGET", "h", "zz") is None
        pairs = raw.call("HRANDFIELD", "h", "2", "WITHVALUES")
        assert sorted(map(tuple, pairs)) == [(b"a", b"1"), (b"b", b"2")]
        assert len(raw.call("HRANDFIELD", "h", "-5", "WITHVALUES")) == 5
    finally:
        raw.close()


def test_listpack_to_hashtable_at_entries_limit(r):
    r.config_set("hash-max-listpack-entries", 4)
    r.hset("h", mapping={str(i): i for i in range(4)})
    assert r.object("encoding", "h") == b"listpack"
    r.hset("h", "3", "again")  # an update does not grow it
    assert r.object("encoding", "h") == b"listpack"
    r.hset("h", "4", "4")
    assert r.object("encoding", "h") == b"hashtable"
    r.hdel("h", "0", "1", "2")
    assert r.object("encoding", "h") == b"hashtable"  # never converts back
    assert r.hgetall("h") == {b"3": b"again", b"4": b"4"}
    # One HSET with more pairs than the limit converts up front, even with repeated fields.
    r.execute_command("HSET", "h2", "a", 1, "a", 2, "a", 3, "a", 4, "a", 5)
    assert r.object("encoding", "h2") == b"hashtable" and r.hgetall("h2") == {b"a": b"5"}


def test_listpack_to_hashtable_at_value_limit(r):
    r.config_set("hash-max-listpack-value", 8)
    r.hset("h", "f", "x" * 8)
    r.hset("h", "g" * 8, "y")
    assert r.object("encoding", "h") == b"listpack"
    r.hset("h", "f", "x" * 9)
    assert r.object("encoding", "h") == b"hashtable"
    r.hset("k", "a" * 9, "1")
    assert r.object("encoding", "k") == b"hashtable"
    r.hsetnx("n", "a", "z" * 9)
    assert r.object("encoding", "n") == b"hashtable"
    r.hincrbyfloat("i", "f", "1.12345678901")
    assert r.object("encoding", "i") == b"hashtable"
    assert r.hget("h", "f") == b"x" * 9 and r.hget("h", "g" * 8) == b"y"


@pytest.mark.parametrize("n", [5, 300])
def test_hrandfield(r, n):
    fields = {("f%d" % i).encode(): ("v%d" % i).encode() for i in range(n)}
    r.hset("h", mapping=fields)
    assert r.object("encoding", "h") == (b"listpack" if n < 128 else b"hashtable")
    assert r.hrandfield("h") in fields
    assert r.hrandfield("nokey") is None
    assert r.hrandfield("nokey", 3) == []
    assert r.hrandfield("h", 0) == []
    for count in (1, n // 2, n - 1, n, n + 10):
        got = r.hrandfield("h", count)
        assert len(got) == min(count, n) and len(set(got)) == len(got)
        assert set(got) <= set(fields)
    got = r.hrandfield("h", 3, withvalues=True)
    assert len(got) == 6
    for f, v in zip(got[::2], got[1::2]):
        assert fields[f] == v
    # A negative count repeats: exactly |count| picks, and with 4x more picks than fields some
    # field must come back twice.
    got = r.hrandfield("h", -4 * n)
    assert len(got) == 4 * n and set(got) <= set(fields) and len(set(got)) < len(got)
    got = r.hrandfield("h", -3, withvalues=True)
    assert len(got) == 6 and all(fields[f] == v for f, v in zip(got[::2], got[1::2]))


def test_hrandfield_errors(r):
    r.hset("h", "a", "1")
    cases = [(["h", "x"], "value is not an integer or out of range"),
             (["h", "1", "withvalue"], "syntax error"),
             (["h", "1", "withvalues", "x"], "syntax error"),
             (["h", "-9223372036854775808"],
              "value is out of range, value must between -9223372036854775807 and "
              "9223372036854775807"),
             (["h", "-4611686018427387904", "withvalues"], "value is out of range"),
             (["h", "4611686018427387904", "withvalues"], "value is out of range")]
    for args, msg in cases:
        with pytest.raises(redis.ResponseError) as e:
            r.execute_command("HRANDFIELD", *args)
        assert str(e.value) == msg, args


def test_hrandfield_spreads_over_every_field(r):
    r.hset("h", mapping={"f%d" % i: i for i in range(10)})
    picks = r.hrandfield("h", -5000)
    counts = {f: picks.count(f) for f in set(picks)}
    assert len(counts) == 10
    assert all(300 < c < 700 for c in counts.values()), counts


@pytest.mark.parametrize("n", [20, 1000])
def test_hscan_returns_every_field(server, r, n):
    fields = {("f%d" % i).encode(): str(i).encode() for i in range(n)}
    r.hset("h", mapping=fields)
    seen, cursor, calls = {}, 0, 0
    while True:
        cursor, data = r.hscan("h", cursor, count=50)
        seen.update(data)
        calls += 1
        if cursor == 0:
            break
    assert seen == fields
    if n == 1000:
        assert calls > 2  # a table is walked in steps, not in one reply
    raw = server.raw()
    try:
        cursor, keys = raw.call("HSCAN", "h", 0, "MATCH", "f1?", "COUNT", 100000, "NOVALUES")
    finally:
        raw.close()
    assert cursor == b"0"
    assert sorted(keys) == sorted(f for f in fields if len(f) == 3 and f[1:2] == b"1")
    assert r.hscan("nokey", 0) == (0, {})


def test_hscan_errors(r):
    r.hset("h", "a", "1")
    for args, msg in [(["x"], "invalid cursor"), (["-1"], "invalid cursor"),
                      (["0", "COUNT", "0"], "syntax error"),
                      (["0", "COUNT", "x"], "value is not an integer or out of range"),
                      (["0", "MATCH"], "syntax error"), (["0", "BOGUS"], "syntax error")]:
        with pytest.raises(redis.ResponseError) as e:
            r.execute_command("HSCAN", "h", *args)
        assert str(e.value) == msg, args


def test_keyspace_events(server, r):
    def act():
        r.hset("h", "a", "1")
        r.hset("h", "a", "1")  # an update still announces hset
        r.hsetnx("h", "a", "2")  # nothing done: no event
        r.hincrby("h", "n", 1)
        r.hincrbyfloat("h", "f", 1.5)
        r.hdel("h", "zz")  # nothing deleted: no event
        r.hdel("h", "a", "n", "f")

    assert events(server, act) == [(b"hset", b"h"), (b"hset", b"h"), (b"hincrby", b"h"),
                                   (b"hincrbyfloat", b"h"), (b"hdel", b"h"), (b"del", b"h")]


def test_commands_in_command_table(server):
    raw = server.raw()
    try:
        hset, hgetall, hrand = raw.call("COMMAND", "INFO", "hset", "hgetall", "hrandfield")
    finally:
        raw.close()
    assert hset[1] == -4 and "write" in hset[2] and hset[3:6] == [1, 1, 1]
    assert hgetall[1] == 2 and "readonly" in hgetall[2]
    assert hrand[1] == -2


@pytest.mark.parametrize("limit", [8, 128])
def test_random_operations_agree_with_a_dict(r, limit):
    r.config_set("hash-max-listpack-entries", limit)
    rng = random.Random(limit)
    model = {}
    for _ in range(3000):
        op = rng.random()
        f = "f%d" % rng.randrange(40)
        if op < 0.4:
            v = rng.choice(["v%d" % rng.randrange(1000), str(rng.randrange(-100, 100)), "x" * rng.randrange(80)])
            assert r.hset("h", f, v) == (0 if f in model else 1)
            model[f] = v
        elif op < 0.55:
            assert r.hdel("h", f) == (1 if f in model else 0)
            model.pop(f, None)
        elif op < 0.7:
            if f in model and not model[f].lstrip("-").isdigit():
                continue
            got = r.hincrby("h", f, 3)
            model[f] = str(int(model.get(f, "0")) + 3)
            assert got == int(model[f])
        else:
            assert r.hget("h", f) == (model[f].encode() if f in model else None)
    got = {k.decode(): v.decode() for k, v in r.hgetall("h").items()}
    assert got == model
    assert r.hlen("h") == len(model)

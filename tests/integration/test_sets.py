"""Set commands against the real server: replies and errors as Valkey 8, intset -> listpack ->
hashtable at the configured limits, SPOP/SRANDMEMBER sampling, set algebra on 10k-member sets
against Python sets, SSCAN, keyspace events."""
import random

import pytest
import redis

WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"


@pytest.fixture(autouse=True)
def default_limits(r):
    r.config_set("set-max-intset-entries", 512)
    r.config_set("set-max-listpack-entries", 128)
    r.config_set("set-max-listpack-value", 64)
    yield


def events(server, action):
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


def test_basic_membership(r):
    assert r.sadd("s", "a", "b", "a") == 2
    assert r.sadd("s", "b", "c") == 1
    assert r.scard("s") == 3 and r.scard("nokey") == 0
    assert r.sismember("s", "a") and not r.sismember("s", "z") and not r.sismember("nokey", "a")
    assert r.smismember("s", "a", "z", "c") == [1, 0, 1]
    assert r.smismember("nokey", "a") == [0]
    assert r.smembers("s") == {b"a", b"b", b"c"}
    assert r.smembers("nokey") == set()
    assert r.srem("s", "a", "z", "a") == 1
    assert r.srem("nokey", "a") == 0
    assert r.srem("s", "b", "c") == 2
    assert not r.exists("s")


def test_intset_is_sorted_and_exact(r):
    vals = [5, -3, 100000, -9223372036854775808, 9223372036854775807, 0]
    r.sadd("s", *vals)
    assert r.object("encoding", "s") == b"intset"
    assert r.smembers("s") == {str(v).encode() for v in vals}
    assert r.sismember("s", "0") and not r.sismember("s", "00") and not r.sismember("s", "+5")
    r.sadd("s", "007")  # not canonical: a string member
    assert r.object("encoding", "s") == b"listpack"
    assert r.sismember("s", "007") and not r.sismember("s", "7")


def test_wrongtype_everywhere(r):
    r.set("str", "x")
    r.sadd("s", "a")
    cmds = [["SADD", "str", "a"], ["SREM", "str", "a"], ["SCARD", "str"],
            ["SISMEMBER", "str", "a"], ["SMISMEMBER", "str", "a"], ["SMEMBERS", "str"],
            ["SPOP", "str"], ["SPOP", "str", "2"], ["SRANDMEMBER", "str"],
            ["SRANDMEMBER", "str", "2"], ["SMOVE", "str", "s", "a"], ["SMOVE", "s", "str", "a"],
            ["SINTER", "s", "str"], ["SINTER", "nokey", "str"], ["SUNION", "s", "str"],
            ["SDIFF", "s", "str"], ["SINTERSTORE", "d", "s", "str"],
            ["SUNIONSTORE", "d", "str"], ["SDIFFSTORE", "d", "s", "str"],
            ["SINTERCARD", "2", "s", "str"], ["SSCAN", "str", "0"]]
    for cmd in cmds:
        with pytest.raises(redis.ResponseError) as e:
            r.execute_command(*cmd)
        assert str(e.value) == WRONGTYPE, cmd
    assert not r.exists("d") and r.smembers("s") == {b"a"}


def test_intset_to_listpack_to_hashtable(r):
    r.config_set("set-max-intset-entries", 4)
    r.config_set("set-max-listpack-entries", 6)
    r.config_set("set-max-listpack-value", 5)
    r.sadd("s", 1, 2, 3, 4)
    assert r.object("encoding", "s") == b"intset"
    r.sadd("s", "abc")
    assert r.object("encoding", "s") == b"listpack"
    r.sadd("s", "x")
    assert r.object("encoding", "s") == b"listpack"
    r.sadd("s", "y")
    assert r.object("encoding", "s") == b"hashtable"
    assert r.smembers("s") == {b"1", b"2", b"3", b"4", b"abc", b"x", b"y"}
    r.srem("s", "1", "2", "3", "4", "abc", "x")
    assert r.object("encoding", "s") == b"hashtable"  # never back
    # An intset past set-max-intset-entries becomes a table directly.
    r.sadd("i", 1, 2, 3, 4)
    r.sadd("i", 5)
    assert r.object("encoding", "i") == b"hashtable"
    # A long member goes straight to a table, from an intset and from a listpack.
    r.sadd("j", 1)
    r.sadd("j", "toolong")
    assert r.object("encoding", "j") == b"hashtable"
    r.sadd("k", "a")
    assert r.object("encoding", "k") == b"listpack"
    r.sadd("k", "toolong")
    assert r.object("encoding", "k") == b"hashtable"
    # An intset whose integers are wider than the listpack value limit skips the listpack.
    r.sadd("w", 123456)
    r.sadd("w", "a")
    assert r.object("encoding", "w") == b"hashtable"
    # SADD of more members than a listpack holds picks a table at once.
    r.sadd("many", *["m%d" % i for i in range(7)])
    assert r.object("encoding", "many") == b"hashtable"


def test_store_results_follow_the_encoding_rules(r):
    r.sadd("a", *range(10))
    r.sadd("b", *range(5, 15))
    assert r.sunionstore("u", "a", "b") == 15
    assert r.object("encoding", "u") == b"intset"
    r.sadd("c", "x", "y")
    assert r.sunionstore("u2", "a", "c") == 12
    assert r.object("encoding", "u2") == b"listpack"


def test_spop(r):
    r.sadd("s", "a", "b", "c", "d")
    m = r.spop("s")
    assert m in {b"a", b"b", b"c", b"d"} and r.scard("s") == 3 and not r.sismember("s", m)
    got = r.spop("s", 2)
    assert len(got) == 2 and r.scard("s") == 1 and not (set(got) & r.smembers("s"))
    assert r.spop("s", 0) == []
    last = r.spop("s", 10)
    assert len(last) == 1 and not r.exists("s")
    assert r.spop("nokey") is None and r.spop("nokey", 3) == []
    r.sadd("s", "a")
    for args, msg in [(["-1"], "value is out of range, must be positive"),
                      (["x"], "value is out of range, must be positive")]:
        with pytest.raises(redis.ResponseError) as e:
            r.execute_command("SPOP", "s", *args)
        assert str(e.value) == msg
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("SPOP", "s", "1", "2")
    assert str(e.value) == "syntax error"


@pytest.mark.parametrize("members", [[str(i) for i in range(50)], ["m%d" % i for i in range(50)],
                                     ["m%d" % i for i in range(2000)]])
def test_spop_count_takes_distinct_members(r, members):
    r.sadd("s", *members)
    popped = r.spop("s", len(members) // 3)
    assert len(popped) == len(set(popped)) == len(members) // 3
    rest = r.smembers("s")
    assert not (set(popped) & rest) and set(popped) | rest == {m.encode() for m in members}


def test_srandmember(r):
    members = {b"a", b"b", b"c", b"d", b"e"}
    r.sadd("s", *members)
    assert r.srandmember("s") in members
    assert r.srandmember("nokey") is None and r.srandmember("nokey", 5) == []
    assert r.srandmember("s", 0) == []
    for count in (1, 3, 5, 9):
        got = r.srandmember("s", count)
        assert len(got) == min(count, 5) and len(set(got)) == len(got) and set(got) <= members
    got = r.srandmember("s", -20)
    assert len(got) == 20 and set(got) <= members and len(set(got)) < 20
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("SRANDMEMBER", "s", "-9223372036854775808")
    assert "value is out of range" in str(e.value)
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("SRANDMEMBER", "s", "1", "2")
    assert str(e.value) == "syntax error"
    assert r.scard("s") == 5


@pytest.mark.parametrize("n", [10, 100, 1000])  # intset, listpack, hashtable
def test_srandmember_and_spop_distribution(r, n):
    members = [str(i) for i in range(n)] if n == 10 else ["m%d" % i for i in range(n)]
    r.sadd("s", *members)
    picks = r.srandmember("s", -30 * n)
    counts = {}
    for p in picks:
        counts[p] = counts.get(p, 0) + 1
    assert len(counts) == n  # every member can come out
    assert max(counts.values()) < 30 * 3 and min(counts.values()) > 30 // 4, (min(counts.values()), max(counts.values()))
    # SPOP one at a time on a copy of the set: each member first-popped about equally often.
    first = {}
    for _ in range(300 if n <= 100 else 100):
        r.delete("t")
        r.sunionstore("t", "s")
        m = r.spop("t")
        first[m] = first.get(m, 0) + 1
    assert len(first) > min(n, 100) // 3


def test_smove(r):
    r.sadd("src", "a", "b")
    r.sadd("dst", "x")
    assert r.smove("src", "dst", "a") == 1
    assert r.smembers("src") == {b"b"} and r.smembers("dst") == {b"a", b"x"}
    assert r.smove("src", "dst", "zz") == 0
    assert r.smove("nokey", "dst", "a") == 0
    assert r.smove("src", "src", "b") == 1 and r.smove("src", "src", "zz") == 0
    assert r.smove("src", "new", "b") == 1
    assert not r.exists("src") and r.smembers("new") == {b"b"}
    r.sadd("ints", 1, 2)
    r.smove("new", "ints", "b")
    assert r.object("encoding", "ints") == b"listpack"
    r.set("str", "v")
    assert r.smove("nokey", "str", "a") == 0  # a missing source is checked first


def test_algebra_small(r):
    r.sadd("a", 1, 2, 3, "x")
    r.sadd("b", 2, 3, 4, "x")
    r.sadd("c", 3, "x", "y")
    assert r.sinter("a", "b", "c") == {b"3", b"x"}
    assert r.sinter("a", "nokey") == set()
    assert r.sunion("a", "b", "nokey") == {b"1", b"2", b"3", b"4", b"x"}
    assert r.sdiff("a", "b") == {b"1"}
    assert r.sdiff("a", "nokey") == {b"1", b"2", b"3", b"x"}
    assert r.sdiff("nokey", "a") == set()
    assert r.sintercard(2, ["a", "b"]) == 3
    assert r.sintercard(2, ["a", "b"], limit=2) == 2
    assert r.sintercard(2, ["a", "b"], limit=0) == 3
    assert r.sintercard(2, ["a", "nokey"]) == 0
    assert r.sinterstore("d", "a", "b") == 3 and r.smembers("d") == {b"2", b"3", b"x"}
    assert r.sdiffstore("d", "a", "b", "c") == 1 and r.smembers("d") == {b"1"}
    assert r.sunionstore("d", "c", "d") == 4 and r.smembers("d") == {b"1", b"3", b"x", b"y"}
    r.set("str", "v")
    r.expire("str", 100)
    assert r.sinterstore("str", "a", "b") == 3  # the destination is overwritten, TTL gone
    assert r.ttl("str") == -1 and r.type("str") == b"set"
    assert r.sinterstore("d", "a", "nokey") == 0 and not r.exists("d")


def test_sintercard_errors(r):
    r.sadd("a", 1)
    for args, msg in [(["0", "a"], "numkeys should be greater than 0"),
                      (["x", "a"], "numkeys should be greater than 0"),
                      (["-1", "a"], "numkeys should be greater than 0"),
                      (["3", "a", "b"], "Number of keys can't be greater than number of args"),
                      (["1", "a", "LIMIT", "-1"], "LIMIT can't be negative"),
                      (["1", "a", "LIMIT", "x"], "LIMIT can't be negative"),  # as Valkey 8
                      (["1", "a", "LIMIT"], "syntax error"), (["1", "a", "FOO", "1"], "syntax error")]:
        with pytest.raises(redis.ResponseError) as e:
            r.execute_command("SINTERCARD", *args)
        assert str(e.value) == msg, args


def test_sintercard_keys_for_command_getkeys(server):
    raw = server.raw()
    try:
        assert raw.call("COMMAND", "GETKEYS", "SINTERCARD", "2", "a", "b", "LIMIT", "3") == [b"a", b"b"]
        assert raw.call("COMMAND", "GETKEYS", "SINTERCARD", "1", "a", "b", "c") == [b"a"]
    finally:
        raw.close()


def test_algebra_on_big_sets_matches_python(r):
    rng = random.Random(7)
    universe = ["m%d" % i for i in range(30000)] + [str(i) for i in range(5000)]
    sets = [set(rng.sample(universe, 10000)) for _ in range(3)]
    sets.append(set(str(i) for i in rng.sample(range(20000), 10000)))  # integers only
    for i, s in enumerate(sets):
        pipe = r.pipeline(transaction=False)
        items = list(s)
        for j in range(0, len(items), 1000):
            pipe.sadd("k%d" % i, *items[j:j + 1000])
        pipe.execute()
        assert r.scard("k%d" % i) == len(s)
    enc = lambda s: {x.encode() for x in s}  # noqa: E731
    keys = ["k0", "k1", "k2"]
    assert r.sinter(*keys) == enc(sets[0] & sets[1] & sets[2])
    assert r.sunion(*keys) == enc(sets[0] | sets[1] | sets[2])
    assert r.sdiff(*keys) == enc(sets[0] - sets[1] - sets[2])
    assert r.sinter("k0", "k3") == enc(sets[0] & sets[3])
    assert r.sintercard(2, ["k1", "k3"]) == len(sets[1] & sets[3])
    assert r.sinterstore("d", "k0", "k1") == len(sets[0] & sets[1])
    assert r.smembers("d") == enc(sets[0] & sets[1])
    assert r.sunionstore("d", "k0", "k3") == len(sets[0] | sets[3])
    assert r.sdiffstore("d", "k3", "k0") == len(sets[3] - sets[0])
    assert r.smembers("d") == enc(sets[3] - sets[0])


def test_resp3_types(server, r):
    r.sadd("s", "a", "b", "c")
    raw = server.raw(resp=3)
    try:
        assert raw.call("SMEMBERS", "s") == {b"a", b"b", b"c"}
        assert raw.call("SINTER", "s", "s") == {b"a", b"b", b"c"}
        assert raw.call("SUNION", "s", "nokey") == {b"a", b"b", b"c"}
        assert raw.call("SDIFF", "s", "nokey") == {b"a", b"b", b"c"}
        assert isinstance(raw.call("SPOP", "s", "1"), set)
        assert raw.call("SPOP", "nokey", "1") == set()
        assert isinstance(raw.call("SRANDMEMBER", "s", "-3"), list)
        assert raw.call("SPOP", "nokey") is None
    finally:
        raw.close()


@pytest.mark.parametrize("n", [30, 2000])
def test_sscan(r, n):
    members = {("m%d" % i).encode() for i in range(n)}
    r.sadd("s", *members)
    seen, cursor = set(), 0
    while True:
        cursor, data = r.sscan("s", cursor, count=100)
        seen.update(data)
        if cursor == 0:
            break
    assert seen == members
    cursor, data = r.sscan("s", 0, match="m1?", count=100000)
    assert cursor == 0 and set(data) == {m for m in members if len(m) == 3 and m[1:2] == b"1"}
    r.sadd("i", 1, 2, 3)
    assert r.sscan("i", 0) == (0, [b"1", b"2", b"3"])
    assert r.sscan("nokey", 0) == (0, [])
    for args, msg in [(["x"], "invalid cursor"), (["0", "COUNT", "0"], "syntax error"),
                      (["0", "NOVALUES"], "syntax error")]:
        with pytest.raises(redis.ResponseError) as e:
            r.execute_command("SSCAN", "s", *args)
        assert str(e.value) == msg


def test_keyspace_events(server, r):
    def act():
        r.sadd("s", "a", "b", "c")
        r.sadd("s", "a")  # nothing added: no event
        r.srem("s", "a")
        r.smove("s", "t", "b")
        r.spop("s")
        r.sadd("x", 1, 2)
        r.sinterstore("d", "x", "x")
        r.sunionstore("d", "x")
        r.sdiffstore("d", "x", "x")  # empty result deletes d
        r.spop("x", 5)

    assert events(server, act) == [
        (b"sadd", b"s"), (b"srem", b"s"), (b"srem", b"s"), (b"sadd", b"t"), (b"spop", b"s"),
        (b"del", b"s"), (b"sadd", b"x"), (b"sinterstore", b"d"), (b"sunionstore", b"d"),
        (b"del", b"d"), (b"spop", b"x"), (b"del", b"x")]

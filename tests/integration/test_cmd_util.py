"""The helpers in server/commands/cmd_util.c, seen through every group that uses them: each
group must keep the statistics, events and errors it had before the copies were merged."""
import pytest


def stats(r):
    info = r.info("stats")
    return info["keyspace_hits"], info["keyspace_misses"]


def keymiss_events(server, action):
    """The keys of the "keymiss" events action() produced."""
    admin = server.client()
    admin.config_set("notify-keyspace-events", "Em")
    p = server.client().pubsub()
    try:
        p.psubscribe("__keyevent@*__:keymiss")
        assert p.get_message(timeout=2)["type"] == "psubscribe"
        action()
        out = []
        while True:
            m = p.get_message(timeout=0.3)
            if m is None:
                return out
            out.append(m["data"])
    finally:
        p.close()
        admin.config_set("notify-keyspace-events", "")
        admin.close()


# ---- read lookups: strings and lists (cmd_lookup_read) -------------------------------------------


def test_list_and_string_reads_count_hits_misses_and_send_keymiss(server, r):
    r.rpush("l", "a", "b")
    r.set("s", "v")
    h0, m0 = stats(r)

    def act():
        assert r.llen("l") == 2
        assert r.lrange("nol", 0, -1) == []
        assert r.get("s") == b"v"
        assert r.strlen("nos") == 0

    assert keymiss_events(server, act) == [b"nol", b"nos"]
    h1, m1 = stats(r)
    assert (h1 - h0, m1 - m0) == (2, 2)


def test_list_write_lookup_counts_nothing(r):
    h0, m0 = stats(r)
    r.rpush("l", "a")
    r.lpop("nol")
    assert stats(r) == (h0, m0)


# ---- typed read lookups: hashes, sets, sorted sets (cmd_lookup_read_type) -----------------------


@pytest.mark.parametrize(
    "make,read",
    [
        (lambda r: r.hset("k", "f", "v"), lambda r, k: r.hget(k, "f")),
        (lambda r: r.sadd("k", "m"), lambda r, k: r.scard(k)),
        (lambda r: r.zadd("k", {"m": 1}), lambda r, k: r.zscore(k, "m")),
    ],
    ids=["hash", "set", "zset"],
)
def test_typed_reads_count_hits_and_misses_and_refuse_other_types(r, make, read):
    make(r)
    r.set("str", "x")
    h0, m0 = stats(r)
    assert read(r, "k") not in (None, 0)
    assert read(r, "nokey") in (None, 0)
    h1, m1 = stats(r)
    assert (h1 - h0, m1 - m0) == (1, 1)
    with pytest.raises(Exception, match="^WRONGTYPE Operation against a key holding the wrong kind"):
        read(r, "str")
    assert stats(r) == (h1 + 1, m1), "a key of another type is a hit, as in Valkey"


# ---- SCAN cursors (cmd_parse_cursor) ------------------------------------------------------------


def test_scan_and_zscan_take_a_signed_cursor_and_refuse_words(r):
    r.set("k", "v")
    r.zadd("z", {"m": 1})
    for args in (("SCAN", "{}"), ("ZSCAN", "z", "{}")):
        for cur in ("0", "+0", "-1", "18446744073709551615"):
            got = r.execute_command(*[a.format(cur) for a in args])
            assert isinstance(got, (list, tuple)) and len(got) == 2, (args, cur)
        for bad in ("x", "-", "1.5", "18446744073709551616"):
            with pytest.raises(Exception, match="^invalid cursor$"):
                r.execute_command(*[a.format(bad) for a in args])
    assert sorted(r.execute_command("SCAN", "+0")[1]) == [b"k", b"z"]


# ---- HRANDFIELD / ZRANDMEMBER count arguments (cmd_parse_rand_count) ----------------------------


@pytest.mark.parametrize(
    "cmd,word", [("HRANDFIELD", "WITHVALUES"), ("ZRANDMEMBER", "WITHSCORES")]
)
def test_random_pick_count_arguments_give_valkeys_errors(r, cmd, word):
    r.hset("h", mapping={"a": "1", "b": "2"})
    r.zadd("z", {"a": 1, "b": 2})
    key = "h" if cmd == "HRANDFIELD" else "z"
    cases = [
        (("x",), "^value is not an integer or out of range$"),
        (("-9223372036854775808",), "^value is out of range, value must between "
         "-9223372036854775807 and 9223372036854775807$"),
        (("1", "NOPE"), "^syntax error$"),
        (("1", word, "extra"), "^syntax error$"),
        (("4611686018427387904", word), "^value is out of range$"),
        (("-4611686018427387904", word), "^value is out of range$"),
    ]
    for args, err in cases:
        with pytest.raises(Exception, match=err):
            r.execute_command(cmd, key, *args)
    assert len(r.execute_command(cmd, key, "-3")) == 3
    assert len(r.execute_command(cmd, key, "5", word.lower())) == 4  # 2 picks, 2 elements each
    assert r.execute_command(cmd, key, "4611686018427387903") is not None  # no WITH: no bound


def test_no_touch_applies_to_every_type_and_writes_touch(server):
    import time as _t
    c = server.client()
    c.flushall()
    c.hset("h", "f", "v")
    c.sadd("s", "m")
    c.zadd("z", {"m": 1})
    c.set("str", "v")
    c.execute_command("DEBUG", "SLEEP", "0")
    _t.sleep(2.1)
    nt = server.client()
    nt.execute_command("CLIENT", "NO-TOUCH", "ON")
    nt.hget("h", "f"), nt.sismember("s", "m"), nt.zscore("z", "m"), nt.get("str")
    for k in ("h", "s", "z", "str"):
        assert c.object("idletime", k) >= 2, k  # NO-TOUCH reads left the access time alone
    nt.touch("h")  # TOUCH still touches, as in Valkey
    assert c.object("idletime", "h") == 0
    c.sadd("s", "m2")  # a write is an access
    assert c.object("idletime", "s") == 0


def test_keymiss_for_collection_reads(server):
    c = server.client()
    c.config_set("notify-keyspace-events", "Em")
    p = c.pubsub()
    p.psubscribe("__keyevent@*__:keymiss")
    p.get_message(timeout=1)
    c.hget("nohash", "f")
    c.smembers("noset")
    c.zscore("nozset", "m")
    got = []
    for _ in range(3):
        m = p.get_message(timeout=1)
        if m:
            got.append(m["data"])
    c.config_set("notify-keyspace-events", "")
    assert got == [b"nohash", b"noset", b"nozset"]

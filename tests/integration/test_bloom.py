"""Bloom filters (BF.*): valkey-bloom's reply shapes, errors and defaults; TYPE, MEMORY USAGE and
the generic key commands; keyspace events; BF.SCANDUMP/BF.LOADCHUNK; and restart through the
log (SIGKILL) and through a snapshot, comparing the filters bit for bit (docs/bloom.md).

The figures valkey-bloom's own tests assert are used where they exist (MAXSCALEDCAPACITY
20470000, the VALIDATESCALETO limits); the logic of sizing and the false-positive rate is
covered by tests/unit/test_types_bloom.c."""
import time

import pytest
import redis

from keel_harness import KeelServer, wait_for


def info(r, key):
    v = r.execute_command("BF.INFO", key)
    return dict(zip(v[::2], v[1::2]))


def dump(r, key):
    """Every BF.SCANDUMP chunk of key, in order."""
    chunks, it = [], 0
    while True:
        it, data = r.execute_command("BF.SCANDUMP", key, it)
        if it == 0:
            return chunks
        chunks.append((it, data))


def err(r, *args):
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command(*args)
    return str(e.value)


def test_add_exists_card_and_their_shapes(r):
    assert r.execute_command("BF.ADD", "bf", "a") == 1
    assert r.execute_command("BF.ADD", "bf", "a") == 0
    assert r.execute_command("BF.MADD", "bf", "b", "a", "c") == [1, 0, 1]
    assert r.execute_command("BF.EXISTS", "bf", "b") == 1
    assert r.execute_command("BF.EXISTS", "bf", "zzz") == 0
    assert r.execute_command("BF.MEXISTS", "bf", "a", "zzz", "c") == [1, 0, 1]
    assert r.execute_command("BF.CARD", "bf") == 3
    # a missing key reads as an empty filter
    assert r.execute_command("BF.EXISTS", "none", "a") == 0
    assert r.execute_command("BF.MEXISTS", "none", "a", "b") == [0, 0]
    assert r.execute_command("BF.CARD", "none") == 0
    assert r.exists("none") == 0


def test_info_of_a_default_filter_and_its_fields(r):
    r.execute_command("BF.ADD", "bf", "x")
    i = info(r, "bf")
    assert list(i) == [b"Capacity", b"Size", b"Number of filters", b"Number of items inserted",
                       b"Error rate", b"Expansion rate", b"Tightening ratio",
                       b"Max scaled capacity"]
    # valkey-bloom's defaults; Size is its figure: 48 + 8 + 216 + 120 bitmap bytes
    assert i[b"Capacity"] == 100 and i[b"Size"] == 392 and i[b"Number of filters"] == 1
    assert i[b"Number of items inserted"] == 1 and i[b"Error rate"] == b"0.01"
    assert i[b"Expansion rate"] == 2 and i[b"Tightening ratio"] == b"0.5"
    assert r.execute_command("BF.INFO", "bf", "capacity") == 100
    assert r.execute_command("BF.INFO", "bf", "SIZE") == 392
    assert r.execute_command("BF.INFO", "bf", "filters") == 1
    assert r.execute_command("BF.INFO", "bf", "items") == 1
    assert r.execute_command("BF.INFO", "bf", "error") == b"0.01"
    assert r.execute_command("BF.INFO", "bf", "expansion") == 2
    assert r.execute_command("BF.INFO", "bf", "tightening") == b"0.5"
    assert "invalid information value" in err(r, "BF.INFO", "bf", "bogus")
    assert err(r, "BF.INFO", "none") == "not found"
    # valkey-bloom's test figure for a scaling filter of 10000 at 0.001
    r.execute_command("BF.RESERVE", "m", "0.001", "10000", "EXPANSION", "2")
    assert r.execute_command("BF.INFO", "m", "MAXSCALEDCAPACITY") == 20470000
    assert info(r, "m")[b"Max scaled capacity"] == 20470000
    # a non-scaling filter: expansion is nil, and no tightening or max scaled capacity
    r.execute_command("BF.RESERVE", "ns", "0.001", "1000", "NONSCALING")
    n = info(r, "ns")
    assert n[b"Expansion rate"] is None and b"Tightening ratio" not in n
    assert r.execute_command("BF.INFO", "ns", "expansion") is None
    assert "invalid information value" in err(r, "BF.INFO", "ns", "tightening")
    assert "invalid information value" in err(r, "BF.INFO", "ns", "maxscaledcapacity")


def test_argument_errors_in_valkey_bloom_words(r):
    assert err(r, "BF.RESERVE", "k", "2", "10") == "(0 < error rate range < 1)"
    assert err(r, "BF.RESERVE", "k", "abc", "10") == "bad error rate"
    assert err(r, "BF.RESERVE", "k", "0.1", "0") == "(capacity should be larger than 0)"
    assert err(r, "BF.RESERVE", "k", "0.1", "-5") == "bad capacity"
    assert err(r, "BF.RESERVE", "k", "0.1", "10", "EXPANSION", "0") == "bad expansion"
    assert err(r, "BF.RESERVE", "k", "0.1", "10", "FOO") == "ERROR"
    assert "wrong number of arguments" in err(r, "BF.RESERVE", "k", "0.1")
    assert "wrong number of arguments" in err(r, "BF.RESERVE", "k", "0.1", "1", "a", "b", "c")
    r.execute_command("BF.RESERVE", "k", "0.1", "10")
    assert err(r, "BF.RESERVE", "k", "0.1", "10") == "item exists"
    assert err(r, "BF.INSERT", "k", "FOO") == "unknown argument received"
    assert "wrong number of arguments" in err(r, "BF.INSERT", "k", "ITEMS")
    assert "wrong number of arguments" in err(r, "BF.INSERT", "k", "CAPACITY")
    assert err(r, "BF.INSERT", "new", "NOCREATE", "ITEMS", "a") == "not found"
    assert err(r, "BF.INSERT", "new", "TIGHTENING", "1.5") == "(0 < tightening ratio range < 1)"
    assert err(r, "BF.INSERT", "new", "NONSCALING", "VALIDATESCALETO", "5") == \
        "cannot use NONSCALING and VALIDATESCALETO options together"
    # valkey-bloom's own limits for VALIDATESCALETO (default capacity 100, 128 MB)
    assert "exceed memory limit" in err(r, "BF.INSERT", "a", "ERROR", "0.00000001",
                                        "VALIDATESCALETO", "13107101")
    assert r.execute_command("BF.INSERT", "b", "ERROR", "0.00000001",
                             "VALIDATESCALETO", "13107100") == []
    assert "degrade to 0" in err(r, "BF.INSERT", "c", "EXPANSION", "1", "VALIDATESCALETO", "101601")
    assert r.exists("new", "a", "c") == 0
    r.set("s", "v")
    for cmd in (("BF.ADD", "s", "a"), ("BF.EXISTS", "s", "a"), ("BF.INFO", "s"),
                ("BF.CARD", "s"), ("BF.INSERT", "s", "ITEMS", "a"), ("BF.RESERVE", "s", "0.1", "5")):
        assert err(r, *cmd).startswith("WRONGTYPE"), cmd


def test_non_scaling_refuses_and_scaling_grows(r):
    r.execute_command("BF.RESERVE", "ns", "0.01", "10", "NONSCALING")
    items = ["i%d" % i for i in range(30)]
    out = r.execute_command("BF.MADD", "ns", *items)
    # the reply ends at the first error, which is its last element
    assert isinstance(out[-1], redis.ResponseError)
    assert str(out[-1]) == "non scaling filter is full"
    assert len(out) < len(items) + 1 and r.execute_command("BF.CARD", "ns") == 10
    assert "non scaling filter is full" in err(r, "BF.ADD", "ns", "one-more-new-item-xyz")
    r.execute_command("BF.RESERVE", "sc", "0.01", "10", "EXPANSION", "3")
    r.execute_command("BF.MADD", "sc", *items)
    i = info(r, "sc")
    assert i[b"Number of filters"] == 2 and i[b"Capacity"] == 10 + 30
    r.execute_command("BF.INSERT", "ins", "CAPACITY", "5", "ERROR", "0.2", "EXPANSION", "4",
                      "ITEMS", *items[:12])
    i = info(r, "ins")
    assert i[b"Capacity"] == 25 and i[b"Error rate"] == b"0.2" and i[b"Expansion rate"] == 4


def test_type_memory_and_generic_key_commands(r):
    r.execute_command("BF.RESERVE", "bf", "0.001", "10000")
    r.execute_command("BF.MADD", "bf", "a", "b")
    assert r.type("bf") == b"bloomfltr"
    assert r.object("encoding", "bf") == b"raw"
    assert r.memory_usage("bf") > 17972  # at least the 10000-item bitmap
    assert r.copy("bf", "bf2") == 1
    r.execute_command("BF.ADD", "bf2", "c")
    assert r.execute_command("BF.CARD", "bf") == 2 and r.execute_command("BF.CARD", "bf2") == 3
    r.rename("bf2", "bf3")
    assert r.execute_command("BF.EXISTS", "bf3", "c") == 1 and r.exists("bf2") == 0
    assert r.expire("bf3", 100) and 0 < r.ttl("bf3") <= 100
    assert r.delete("bf", "bf3") == 2
    assert r.execute_command("BF.CARD", "bf") == 0


def test_keyspace_events(server, r):
    r.config_set("notify-keyspace-events", "Eg")
    try:
        p = server.client().pubsub()
        p.psubscribe("__keyevent@0__:bloom.*")
        wait_for(lambda: p.get_message(timeout=0.1), what="psubscribe")
        r.execute_command("BF.ADD", "bf", "a")
        r.execute_command("BF.ADD", "bf", "a")  # nothing added: no event
        r.execute_command("BF.RESERVE", "bf2", "0.1", "10")
        r.execute_command("BF.MADD", "bf2", "x")
        got = []
        deadline = time.time() + 10
        while len(got) < 4 and time.time() < deadline:
            m = p.get_message(timeout=0.2)
            if m and m["type"] == "pmessage":
                got.append((m["channel"].decode().split(":", 1)[1], m["data"]))
        assert got == [("bloom.add", b"bf"), ("bloom.reserve", b"bf"),
                       ("bloom.reserve", b"bf2"), ("bloom.add", b"bf2")]
        p.close()
    finally:
        r.config_set("notify-keyspace-events", "")


def test_settings_shape_new_filters(r):
    assert r.config_get("bf.bloom-capacity") == {"bf.bloom-capacity": "100"}
    assert r.config_get("bf.bloom-fp-rate") == {"bf.bloom-fp-rate": "0.01"}
    try:
        r.config_set("bf.bloom-capacity", "500")
        r.config_set("bf.bloom-fp-rate", "0.05")
        r.config_set("bf.bloom-expansion", "4")
        r.execute_command("BF.ADD", "bf", "a")
        i = info(r, "bf")
        assert i[b"Capacity"] == 500 and i[b"Error rate"] == b"0.05" and i[b"Expansion rate"] == 4
        with pytest.raises(redis.ResponseError):
            r.config_set("bf.bloom-fp-rate", "1")
        r.config_set("bf.bloom-memory-usage-limit", "1000")
        assert "exceeds bloom object memory limit" in err(r, "BF.RESERVE", "big", "0.01", "1000")
    finally:
        r.config_set("bf.bloom-capacity", "100")
        r.config_set("bf.bloom-fp-rate", "0.01")
        r.config_set("bf.bloom-expansion", "2")
        r.config_set("bf.bloom-memory-usage-limit", "128mb")


def test_scandump_and_loadchunk_round_trip(r):
    r.execute_command("BF.RESERVE", "src", "0.0001", "300000", "EXPANSION", "2")
    items = ["it%d" % i for i in range(2000)]
    r.execute_command("BF.MADD", "src", *items)
    chunks = dump(r, "src")
    assert len(chunks) >= 2  # the header, then bitmap pieces of at most 1 MiB
    for it, data in chunks:
        assert r.execute_command("BF.LOADCHUNK", "dst", it, data) == b"OK"
    assert info(r, "dst") == info(r, "src")
    assert dump(r, "dst") == chunks
    assert r.execute_command("BF.MEXISTS", "dst", *items[:50]) == [1] * 50
    assert err(r, "BF.LOADCHUNK", "dst", 1, chunks[0][1]) == "item exists"
    assert err(r, "BF.LOADCHUNK", "other", 2, chunks[1][1]) == "not found"
    assert err(r, "BF.LOADCHUNK", "other", 1, b"junk") == "invalid chunk"
    assert err(r, "BF.LOADCHUNK", "dst", 2, b"short") == "invalid chunk"
    assert err(r, "BF.SCANDUMP", "none", 0) == "not found"


def build(c):
    """Filters made every way that creates or changes one."""
    c.execute_command("BF.RESERVE", "res", "0.001", "50", "EXPANSION", "3")
    c.execute_command("BF.MADD", "res", *["r%d" % i for i in range(200)])  # scales out
    c.execute_command("BF.ADD", "auto", "a")  # created from the settings
    c.execute_command("BF.INSERT", "ins", "CAPACITY", "20", "ERROR", "0.05", "NONSCALING",
                      "ITEMS", *["n%d" % i for i in range(40)])  # stops at the 21st new item
    # settings changed after creation must not change what replay builds
    c.config_set("bf.bloom-capacity", "7")
    c.config_set("bf.bloom-tightening-ratio", "0.9")
    c.execute_command("BF.MADD", "auto", *["b%d" % i for i in range(300)])
    c.execute_command("BF.ADD", "late", "z")  # created with capacity 7
    # a scale-out refused by the memory limit after some items: replay has no limit and must
    # not take the refused ones
    c.config_set("bf.bloom-memory-usage-limit", "2000")
    c.execute_command("BF.RESERVE", "lim", "0.01", "100")
    c.execute_command("BF.MADD", "lim", *["l%d" % i for i in range(1000)])
    c.config_set("bf.bloom-memory-usage-limit", "128mb")


def state(c):
    return {k: (info(c, k), dump(c, k), c.execute_command("BF.CARD", k))
            for k in ("res", "auto", "ins", "late", "lim")}


def test_restart_through_log_then_snapshot_gives_the_same_bits(live):
    s = KeelServer(durability="sync")
    live.append(s)
    s.start()
    c = s.client()
    build(c)
    before = state(c)
    assert before["ins"][2] == 20 and before["late"][0][b"Capacity"] == 7
    assert before["lim"][2] < 1000
    s.kill()  # SIGKILL: everything comes back from the log
    s.start()
    c = s.client()
    assert state(c) == before
    c.execute_command("SAVE")
    c.execute_command("BF.MADD", "res", "after-save-1", "after-save-2")
    before = state(c)
    s.kill()  # the snapshot, then the log's tail
    s.start()
    c = s.client()
    assert state(c) == before
    assert c.execute_command("BF.MEXISTS", "res", "r7", "after-save-2") == [1, 1]


def test_filters_go_to_the_value_tier_and_come_back(live):
    """A bloom filter is tierable: its parts (the snapshot's elements) are its value encoding."""
    s = KeelServer(args=["--tiering", "yes", "--tiering-memory-target", "1500kb",
                         "--tiering-min-value-size", "8", "--tiering-threads", "2"],
                   durability="async")
    live.append(s)
    s.start()
    r = s.client()
    n = 1200  # ~1.5 KB each (1000 items at 1%): twice the target
    for i in range(0, n, 200):
        p = r.pipeline(transaction=False)
        for j in range(i, i + 200):
            p.execute_command("BF.RESERVE", "bf%d" % j, "0.01", "1000")
            p.execute_command("BF.MADD", "bf%d" % j, "a%d" % j, "b%d" % j, "c%d" % j)
        p.execute()
    wait_for(lambda: r.info("tiering")["tiering_tiered_keys"] >= 300, what="filters going out")
    cold = [j for j in range(n) if r.object("encoding", "bf%d" % j) == b"tiered"]
    assert len(cold) >= 300
    assert r.type("bf%d" % cold[0]) == b"bloomfltr"
    for j in cold[:200]:  # each read brings the filter back, bit for bit
        assert r.execute_command("BF.MEXISTS", "bf%d" % j, "a%d" % j, "c%d" % j) == [1, 1]
        assert r.execute_command("BF.CARD", "bf%d" % j) == 3
    j = cold[-1]
    assert r.execute_command("BF.ADD", "bf%d" % j, "d") == 1
    assert r.execute_command("BF.CARD", "bf%d" % j) == 4
    assert r.info("tiering")["tiering_values_in"] >= 200
    assert r.info("tiering")["tiering_errors"] == 0


def test_a_replica_with_other_settings_builds_the_same_filters(live):
    """The creation effect carries every parameter: a replica whose bf.* settings differ still
    builds the primary's filters bit for bit, from its full sync and from the stream."""
    from test_replication import replica_of, server, wait_caught_up
    p = server(live)
    pc = p.client()
    pc.execute_command("BF.ADD", "before", "x")  # reaches the replica by full sync
    r = replica_of(live, p.port, ["--bf.bloom-capacity", "7", "--bf.bloom-fp-rate", "0.3",
                                  "--bf.bloom-tightening-ratio", "0.9"])
    rc = r.client()
    wait_caught_up(pc, rc)
    build(pc)  # reaches it through the stream
    wait_caught_up(pc, rc)
    assert state(rc) == state(pc)
    assert info(rc, "before") == info(pc, "before")
    assert info(rc, "auto")[b"Error rate"] == b"0.01"

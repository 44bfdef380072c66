"""DUMP and RESTORE against real peers: every type and encoding goes Keel -> peer -> Keel, where
the peer is Debian's redis-server 7.0 (started here on 127.0.0.1 with sanitize-dump-payload yes,
so it checks our payloads deeply, killed by PID at the end) and, when the environment names one,
a valkey-server (VALKEY=/path/to/valkey-server as tests/ha uses, or PEER as the benches use, when
it is a valkey-server; skipped otherwise). Also: the error replies against redis-server's for the
same calls, the TTL/ABSTTL/IDLETIME/FREQ semantics, and that a RESTORE survives a restart through
the log (it is logged as plain write commands, in batches for big values). Streams go peer ->
Keel -> peer with groups, PEL and consumers (redis-server 7.0 refusing Keel's RDB 11); hashes
with field expiries Keel -> Keel as Valkey 9's type 22."""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import pytest
import redis

from keel_harness import KeelServer, free_port, wait_for

REDIS_BIN = shutil.which("redis-server")


def valkey_bin():
    v = os.environ.get("VALKEY")
    if v:
        return v
    p = os.environ.get("PEER")
    if p and "valkey" in os.path.basename(p):
        return p
    return shutil.which("valkey-server")


class Peer:
    def __init__(self, binary):
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="keel-dump-peer-")
        args = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--dir", self.dir, "--sanitize-dump-payload", "yes"]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                if time.time() > deadline or self.proc.poll() is not None:
                    self.close()
                    raise RuntimeError("%s did not start" % binary)
                time.sleep(0.02)
        self.r = redis.Redis(port=self.port, socket_timeout=30)

    def close(self):
        self.proc.kill()
        self.proc.wait(timeout=30)
        shutil.rmtree(self.dir, ignore_errors=True)


def peer_params():
    out = [pytest.param("redis", marks=pytest.mark.skipif(REDIS_BIN is None,
                                                          reason="redis-server is not installed"))]
    out.append(pytest.param("valkey", marks=pytest.mark.skipif(
        valkey_bin() is None, reason="no valkey-server (set VALKEY=/path/to/valkey-server)")))
    return out


@pytest.fixture(scope="module", params=peer_params())
def peer(request):
    p = Peer(REDIS_BIN if request.param == "redis" else valkey_bin())
    try:
        yield p
    finally:
        p.close()


# ---- the values: (name, config for both servers, commands building key k) ---------------------

LIMITS = {"list-max-listpack-size": "-2", "hash-max-listpack-entries": "128",
          "zset-max-listpack-entries": "128", "set-max-intset-entries": "512"}
SMALL = {"list-max-listpack-size": "4", "hash-max-listpack-entries": "2",
         "zset-max-listpack-entries": "2", "set-max-intset-entries": "2"}

CASES = [
    ("string_embstr", {}, [("SET", "k", "hello")]),
    ("string_int", {}, [("SET", "k", "-123456")]),
    ("string_int64", {}, [("SET", "k", "9223372036854775807")]),
    ("string_long", {}, [("SET", "k", "xy" * 600)]),
    ("string_binary", {}, [("SET", "k", bytes(range(256)) * 3)]),
    ("list_small", {}, [("RPUSH", "k", "a", "1", "-70000", "x" * 100)]),
    ("list_quicklist", SMALL, [("RPUSH", "k", *["e%d" % i for i in range(50)])]),
    ("set_intset", {}, [("SADD", "k", "1", "-2", "5000000000")]),
    ("set_small", {}, [("SADD", "k", "a", "b", "17")]),
    ("set_big", SMALL, [("SADD", "k", *["m%d" % i for i in range(200)])]),
    ("zset_small", {}, [("ZADD", "k", "1", "a", "-inf", "b", "2.5", "c")]),
    ("zset_big", SMALL, [("ZADD", "k", *[x for i in range(200)
                                         for x in (str(i * 0.25 - 7), "m%d" % i)])]),
    ("hash_small", {}, [("HSET", "k", "f", "v", "n", "12")]),
    ("hash_big", SMALL, [("HSET", "k", *[x for i in range(100) for x in ("f%d" % i, "v" * i)])]),
]


def read_value(r, key):
    t = r.type(key)
    if t == b"string":
        return t, r.get(key)
    if t == b"list":
        return t, r.lrange(key, 0, -1)
    if t == b"set":
        return t, sorted(r.smembers(key))
    if t == b"zset":
        return t, r.zrange(key, 0, -1, withscores=True)
    if t == b"hash":
        return t, sorted(r.hgetall(key).items())
    return t, None


def configure(r, cfg):
    for k, v in {**LIMITS, **cfg}.items():
        r.config_set(k, v)


@pytest.mark.parametrize("name,cfg,cmds", CASES, ids=[c[0] for c in CASES])
def test_roundtrip_keel_peer_keel(r, peer, name, cfg, cmds):
    """Built in Keel, DUMPed, RESTOREd into the peer (which checks the payload deeply), read back
    equal there; then the peer's own DUMP of it RESTOREs into Keel, equal and in the encoding
    Keel gives such a value."""
    configure(r, cfg)
    configure(peer.r, cfg)
    peer.r.flushall()
    for c in cmds:
        r.execute_command(*c)
    want = read_value(r, "k")
    enc = r.object("encoding", "k")
    payload = r.dump("k")
    peer.r.restore("k", 0, payload)
    assert read_value(peer.r, "k") == want
    back = peer.r.dump("k")
    r.restore("k2", 0, back)
    assert read_value(r, "k2") == want
    assert r.object("encoding", "k2") == enc
    # and the peer's payload of the value built there directly
    for c in cmds:
        peer.r.execute_command(*[("k3" if a == "k" else a) for a in c])
    r.restore("k3", 0, peer.r.dump("k3"))
    assert read_value(r, "k3") == want


def crc(data):
    """CRC-64 Jones (reflected, init 0), bit by bit: the payloads here are a few bytes."""
    c = 0
    for b in data:
        c ^= b
        for _ in range(8):
            c = (c >> 1) ^ 0x95AC9329AC4BC9B5 if c & 1 else c >> 1
    return c


def both(r, peer, *args):
    """The same call to Keel and the peer: (reply or error text) of each."""
    out = []
    for c in (r, peer.r):
        try:
            if args[:2] == ("COMMAND", "GETKEYS"):  # redis-py parses COMMAND replies as COMMAND INFO
                out.append(c.command_getkeys(*args[2:]))
            else:
                out.append(c.execute_command(*args))
        except redis.ResponseError as e:
            out.append("ERR: " + str(e))
    return out


def test_errors_match_the_peer(r, peer):
    peer.r.flushall()
    r.set("src", "v")
    good = r.dump("src")
    for c in (r, peer.r):
        c.set("taken", "x")
    bad_crc = good[:-1] + bytes([good[-1] ^ 1])
    body = good[:-10]
    calls = [
        ("RESTORE", "taken", "0", good),                       # BUSYKEY
        ("RESTORE", "n", "-1", good),                          # TTL
        ("RESTORE", "n", "abc", good),
        ("RESTORE", "n", "0", bad_crc),                        # checksum
        ("RESTORE", "n", "0", b"short"),
        ("RESTORE", "n", "0", good, "IDLETIME", "-1"),
        ("RESTORE", "n", "0", good, "IDLETIME", "x"),
        ("RESTORE", "n", "0", good, "FREQ", "256"),
        ("RESTORE", "n", "0", good, "FREQ", "-1"),
        ("RESTORE", "n", "0", good, "FREQ", "1", "IDLETIME", "1"),  # exclusive: syntax error
        ("RESTORE", "n", "0", good, "BOGUS"),
        ("RESTORE", "n", "0", good, "IDLETIME"),
        ("RESTORE", "taken", "-1", good),                      # BUSYKEY comes before the TTL
        ("RESTORE", "taken", "0", bad_crc, "REPLACE"),
        ("DUMP", "missing"),
        ("RESTORE", "n"),
        # MIGRATE: what is refused before any connection, and no key at all
        ("MIGRATE", "127.0.0.1", "1", "src", "0", "100", "BOGUS"),
        ("MIGRATE", "127.0.0.1", "1", "src", "0", "100", "KEYS", "a"),
        ("MIGRATE", "127.0.0.1", "1", "src", "x", "100"),
        ("MIGRATE", "127.0.0.1", "1", "src", "0", "1.5"),
        ("MIGRATE", "127.0.0.1", "1", "src", "0", "100", "AUTH2", "u"),
        ("MIGRATE", "127.0.0.1", "1", "missing", "0", "100"),
        ("MIGRATE", "127.0.0.1", "1", "", "0", "100", "KEYS", "m1", "m2"),
        ("MIGRATE", "127.0.0.1", "1"),
        ("COMMAND", "GETKEYS", "MIGRATE", "h", "1", "k", "0", "5"),
        ("COMMAND", "GETKEYS", "MIGRATE", "h", "1", "", "0", "5", "COPY", "KEYS", "a", "b"),
        ("COMMAND", "GETKEYS", "MIGRATE", "h", "1", "", "0", "5", "AUTH2", "u", "p", "KEYS", "c"),
        ("COMMAND", "GETKEYS", "RESTORE", "k", "0", "x"),
        ("COMMAND", "GETKEYS", "DUMP", "k"),
    ]
    # version 12: refused by both (Redis 7.0 and Valkey 8 read <= 10 and <= 11)
    v12 = body + b"\x0c\x00"
    v12 += crc(v12).to_bytes(8, "little")
    calls.append(("RESTORE", "n", "0", v12))
    # sealed payloads whose value is broken (an empty list, an unknown type): Bad data format.
    # (A string longer than the body is no common case: Redis reads on into the trailer.)
    empty = b"\x01\x00" + b"\x09\x00"
    empty += crc(empty).to_bytes(8, "little")
    calls.append(("RESTORE", "n", "0", empty))
    broken = b"\x08\x00" + b"\x09\x00"
    broken += crc(broken).to_bytes(8, "little")
    calls.append(("RESTORE", "n", "0", broken))
    for call in calls:
        k, p = both(r, peer, *call)
        assert k == p, call


def test_values_without_an_rdb_encoding_are_refused_not_truncated(r):
    r.delete("kb")
    r.execute_command("BF.ADD", "kb", "x")
    with pytest.raises(redis.ResponseError, match="no DUMP encoding"):
        r.dump("kb")


def test_hash_field_expiries(r, peer):
    """A hash with field expiries DUMPs as Valkey 9's type 22 at RDB 80: it RESTOREs into Keel
    with every field's expiry (and is logged so: a restart keeps them, see below), the peers
    (RDB <= 11) refuse its version; once no field has an expiry it DUMPs as a plain hash, which
    the peer takes."""
    peer.r.flushall()
    r.delete("kh", "kh2")
    r.hset("kh", mapping={"f": "v", "g": "w", "n": "12"})
    at = int(time.time() * 1000) + 3600 * 1000
    r.execute_command("HPEXPIREAT", "kh", at, "FIELDS", 2, "f", "n")
    p = r.dump("kh")
    assert p[0] == 22 and p[-10:-8] == b"\x50\x00"
    r.restore("kh2", 0, p)
    assert r.hgetall("kh2") == r.hgetall("kh")
    assert r.execute_command("HPEXPIRETIME", "kh2", "FIELDS", 3, "f", "g", "n") == [at, -1, at]
    with pytest.raises(redis.ResponseError, match="version or checksum are wrong"):
        peer.r.restore("kh", 0, p)
    r.execute_command("HPERSIST", "kh", "FIELDS", 2, "f", "n")
    plain = r.dump("kh")
    assert plain[0] == 4 and plain[-10:-8] == b"\x09\x00"
    peer.r.restore("kh", 0, plain)
    assert peer.r.hgetall("kh") == r.hgetall("kh")


sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "dump"))
from make_payloads import STREAM_CMDS, stream_lines  # noqa: E402  (one rendering for both)


def build_stream(c, key):
    """STREAM_CMDS on key: several nodes, a tombstone, three groups, pending entries of two
    consumers (one of them deleted), a consumer that never read."""
    for cmd in STREAM_CMDS:
        c.execute_command(*[key if a == "k" else a for a in cmd])


def test_stream_peer_to_keel_and_back(r, peer):
    """The peer's DUMP of a stream (type 19 from redis-server 7.0, 21 from valkey-server 8)
    RESTOREs into Keel with the same entries, metadata, groups, PEL (owners, delivery times and
    counts) and consumers as XINFO STREAM FULL shows on the peer; Keel's DUMP of it (type 21,
    RDB 11) RESTOREs into valkey-server equal again, and redis-server 7.0 refuses its version."""
    peer.r.flushall()
    build_stream(peer.r, "s")
    want = stream_lines(peer.r, "s")
    r.delete("s")
    r.restore("s", 0, peer.r.dump("s"))
    assert stream_lines(r, "s") == want
    assert r.xpending("s", "g1") == peer.r.xpending("s", "g1")
    assert r.xinfo_groups("s") == peer.r.xinfo_groups("s")
    mine = r.dump("s")
    assert mine[0] == 21 and mine[-10:-8] == b"\x0b\x00"
    if peer.r.info("server").get("redis_version", "").startswith("7.0"):
        with pytest.raises(redis.ResponseError, match="version or checksum are wrong"):
            peer.r.restore("back", 0, mine)
        # MIGRATE moves what the target takes and keeps the stream here
        r.set("m_plain", "1")
        r.restore("m_s", 0, mine)
        with pytest.raises(redis.ResponseError, match="^Target instance replied with error: "
                                                      "ERR DUMP payload version or checksum"):
            r.migrate("127.0.0.1", peer.port, ["m_plain", "m_s"], 0, 5000)
        assert r.exists("m_plain") == 0 and r.exists("m_s") == 1
        assert peer.r.get("m_plain") == b"1" and peer.r.exists("m_s") == 0
        return
    peer.r.restore("back", 0, mine)
    assert stream_lines(peer.r, "back") == want


def test_stream_keel_to_valkey_every_listpack_form(r, peer):
    """A Keel stream whose payload uses every listpack form Keel writes (integers of every
    width, 6-bit, 12-bit and 32-bit string lengths, entries with and without the master's fields,
    many nodes, a negative seq-diff) RESTOREs into valkey-server (deep sanitisation on) equal."""
    if peer.r.info("server").get("redis_version", "").startswith("7.0"):
        pytest.skip("redis-server 7.0 reads RDB <= 10")
    peer.r.flushall()
    r.delete("big")
    nums = ["0", "127", "-1", "4095", "-4096", "32767", "-32768", "8388607", "-8388608",
            "2147483647", "-2147483648", "5000000000", "-9223372036854775808",
            "18446744073709551615", "007", "-0"]
    for i in range(1, 260):
        fields = {"field": "v%d" % i, "num": nums[i % len(nums)]}
        if i % 7 == 0:
            fields = {"other": nums[i % len(nums)], "x": "y" * (i * 3)}
        if i == 100:
            fields = {"huge": "h" * 70000}
        r.xadd("big", fields, id="%d-%d" % (i * 1000, i % 3))
    r.xadd("big", {"field": "a", "num": "1"}, id="400000-0")
    r.xdel("big", "3000-0", "14000-2")
    r.xgroup_create("big", "g", "0")
    r.xreadgroup("g", "c1", {"big": ">"}, count=30)
    r.xreadgroup("g", "c2", {"big": ">"}, count=5)
    peer.r.restore("big", 0, r.dump("big"))
    assert stream_lines(peer.r, "big") == stream_lines(r, "big")


def test_stream_restore_survives_restart(live):
    """A restored stream is logged as XADD / XGROUP / XCLAIM / XDEL / XSETID: after a restart the
    stream is back equal (a pending entry whose entry is gone included), but for the consumers'
    seen and active times, which become the time of the RESTORE. A restored hash's field
    expiries (logged as HPEXPIREAT) are back too."""
    s = KeelServer(durability="sync")
    live.append(s)
    s.start()
    c = s.client()
    build_stream(c, "src")
    c.restore("s", 0, c.dump("src"))
    c.restore("e", 60000, c.dump("src"))
    c.execute_command("XGROUP", "CREATE", "empty", "g", "$", "MKSTREAM")
    c.execute_command("XSETID", "empty", "5-5", "ENTRIESADDED", "9", "MAXDELETEDID", "5-1")
    c.restore("empty2", 0, c.dump("empty"))
    c.hset("h", mapping={"f": "v", "g": "w"})
    at = int(time.time() * 1000) + 3600 * 1000
    c.execute_command("HPEXPIREAT", "h", at, "FIELDS", 1, "g")
    c.restore("h2", 0, c.dump("h"))
    c.xadd("bare", {"f": "v"}, id="7-0")
    c.xdel("bare", "7-0")
    c.restore("bare2", 0, c.dump("bare"))
    drop_times = lambda t: "\n".join(line.split(" seen=")[0] for line in t.split("\n"))
    want = {k: stream_lines(c, k) for k in ("s", "e", "empty2", "bare2")}
    assert want["s"] == stream_lines(c, "src")
    exp = c.pexpiretime("e")
    c.close()
    s.kill()
    s.start()
    c = s.client()
    wait_for(lambda: c.exists("s", "e", "empty2", "bare2", "h2") == 5, what="the keys back")
    assert c.hgetall("h2") == {b"f": b"v", b"g": b"w"}
    assert c.execute_command("HPEXPIRETIME", "h2", "FIELDS", 2, "f", "g") == [-1, at]
    for k, v in want.items():
        assert drop_times(stream_lines(c, k)) == drop_times(v), k
    assert c.pexpiretime("e") == exp


def test_ttl_absttl_replace(r):
    r.set("src", "v")
    p = r.dump("src")
    assert r.restore("a", 10000, p)
    assert 9000 < r.pttl("a") <= 10000
    at = int(time.time() * 1000) + 60000
    assert r.restore("b", at, p, absttl=True)
    assert r.pexpiretime("b") == at
    # an absolute TTL in the past stores nothing; with REPLACE the old key goes
    assert r.restore("c", 1000, p, absttl=True)
    assert r.exists("c") == 0
    r.set("d", "old")
    assert r.restore("d", 1000, p, absttl=True, replace=True)
    assert r.exists("d") == 0
    r.rpush("e", "x")
    assert r.restore("e", 0, p, replace=True)
    assert r.get("e") == b"v" and r.ttl("e") == -1


def test_restore_sends_its_keyspace_event(r):
    r.config_set("notify-keyspace-events", "KEg")
    ps = r.pubsub()
    try:
        ps.psubscribe("__keyevent@0__:*")
        wait_for(lambda: ps.get_message(timeout=0.1) is not None, what="the subscription")
        r.set("src", "v")
        r.restore("ev", 0, r.dump("src"))
        got = []
        wait_for(lambda: got.append(ps.get_message(timeout=0.1)) or
                 any(m and m["channel"] == b"__keyevent@0__:restore" and m["data"] == b"ev"
                     for m in got), what="the restore event")
    finally:
        ps.close()
        r.config_set("notify-keyspace-events", "")


def test_idletime_and_freq(r):
    r.set("src", "v")
    p = r.dump("src")
    r.restore("i", 0, p, idletime=1000)
    assert r.object("idletime", "i") >= 1000
    r.config_set("maxmemory-policy", "allkeys-lfu")
    try:
        r.restore("f", 0, p, frequency=100)
        assert r.object("freq", "f") == 100
    finally:
        r.config_set("maxmemory-policy", "noeviction")


def test_migrate_to_the_peer(r, peer):
    """MIGRATE moves keys (deleted here), COPY keeps them, REPLACE overwrites, KEYS moves several
    with their TTLs, the target's errors come back as Valkey words them, AUTH and AUTH2 log in,
    and the peer's own MIGRATE into Keel works (Keel as the target)."""
    peer.r.flushall()
    host, port = "127.0.0.1", peer.port
    r.set("a", "1")
    r.rpush("l", "x", "y")
    r.set("t", "v", px=50000)
    r.zadd("z", {"m": 2.5})
    assert r.migrate(host, port, "a", 0, 5000) == b"OK"
    assert r.exists("a") == 0 and peer.r.get("a") == b"1"
    assert r.migrate(host, port, ["l", "t", "z", "nokey"], 0, 5000, copy=True) == b"OK"
    assert r.exists("l", "t", "z") == 3
    assert peer.r.lrange("l", 0, -1) == [b"x", b"y"] and 40000 < peer.r.pttl("t") <= 50000
    assert peer.r.zscore("z", "m") == 2.5
    with pytest.raises(redis.ResponseError,
                       match="^Target instance replied with error: BUSYKEY Target key name "
                             "already exists.$"):
        r.migrate(host, port, "l", 0, 5000)
    assert r.exists("l") == 1
    r.rpush("l", "z")
    assert r.migrate(host, port, "l", 0, 5000, replace=True) == b"OK"
    assert r.exists("l") == 0 and peer.r.lrange("l", 0, -1) == [b"x", b"y", b"z"]
    assert r.migrate(host, port, "gone", 0, 5000) == b"NOKEY"
    r.set("d1", "one")
    assert r.migrate(host, port, "d1", 3, 5000) == b"OK"
    peer.r.select(3)
    try:
        assert peer.r.get("d1") == b"one"
    finally:
        peer.r.select(0)
    with pytest.raises(redis.ResponseError, match="^IOERR error or timeout connecting"):
        r.migrate(host, free_port(), "t", 0, 1000)
    # AUTH and AUTH2
    peer.r.execute_command("ACL", "SETUSER", "mover", "on", ">pw2", "~*", "+@all")
    peer.r.config_set("requirepass", "pw")
    try:
        r.set("p1", "x")
        with pytest.raises(redis.ResponseError, match="^Target instance replied with error: "
                                                      "NOAUTH"):
            r.migrate(host, port, "p1", 0, 5000)
        assert r.exists("p1") == 1
        assert r.migrate(host, port, "p1", 0, 5000, auth="pw") == b"OK"
        r.set("p2", "y")
        assert r.execute_command("MIGRATE", host, port, "p2", 0, 5000, "AUTH2", "mover",
                                 "pw2") == b"OK"
        assert r.exists("p1", "p2") == 0
    finally:
        peer.r.execute_command("AUTH", "pw")
        peer.r.config_set("requirepass", "")
        peer.r.execute_command("ACL", "DELUSER", "mover")
    assert peer.r.mget("p1", "p2") == [b"x", b"y"]
    # the peer migrates into Keel
    peer.r.hset("ph", mapping={"f": "v"})
    assert peer.r.migrate("127.0.0.1", r.connection_pool.connection_kwargs["port"], "ph", 0,
                          5000) == b"OK"
    assert r.hgetall("ph") == {b"f": b"v"}


def test_restore_survives_restart(live, server):
    """RESTORE is logged as plain writes: after a restart (log replay) every value, its TTL and a
    big value spread over several logged commands are back; a key MIGRATE moved out (to the
    module's other Keel) stays gone, one it copied stays."""
    s = KeelServer(durability="sync")
    live.append(s)
    s.start()
    c = s.client()
    c.config_set("hash-max-listpack-entries", "16")
    c.rpush("l", *["e%d" % i for i in range(3000)])
    c.hset("h", mapping={"f%d" % i: "v%d" % i for i in range(1500)})
    c.zadd("z", {"m%d" % i: i / 3 for i in range(1200)})
    c.sadd("s", *range(700))
    c.set("str", "x" * 100)
    want = {}
    for k in ("l", "h", "z", "s", "str"):
        want[k] = read_value(c, k)
        p = c.dump(k)
        c.restore(k + "2", 3600 * 1000, p)
        c.restore(k, 0, p, replace=True)
    exp = {k: c.pexpiretime(k + "2") for k in want}
    c.set("moved", "m")
    c.set("copied", "c")
    other = server.client()
    other.delete("moved", "copied")
    assert c.migrate("127.0.0.1", server.port, "moved", 0, 5000) == b"OK"
    assert c.migrate("127.0.0.1", server.port, "copied", 0, 5000, copy=True) == b"OK"
    assert other.mget("moved", "copied") == [b"m", b"c"]
    c.close()
    s.kill()
    s.start()
    c = s.client()
    wait_for(lambda: c.dbsize() == 11, what="the keys back")
    assert c.exists("moved") == 0 and c.get("copied") == b"c"
    for k, v in want.items():
        assert read_value(c, k) == v
        assert read_value(c, k + "2") == v
        assert c.pexpiretime(k + "2") == exp[k]
        assert c.ttl(k) == -1

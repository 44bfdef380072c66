"""Hash-field expiry (Valkey 9): reply codes and errors of HEXPIRE/HPEXPIRE/HEXPIREAT/HPEXPIREAT,
HTTL/HPTTL/HEXPIRETIME/HPEXPIRETIME, HPERSIST, HGETEX, HSETEX; fields vanish on time lazily
(HLEN counting them until then, as Valkey 9 does) and actively, with hexpired and del events;
the other hash commands around expiries; and the expiries surviving a restart from a snapshot
(record HASH_TTL) and from the log, and a point-in-time restore."""
import os
import struct
import subprocess
import sys
import time

import pytest
import redis

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from keel_harness import KeelServer, binary, wait_for  # noqa: E402

NUMFIELDS = "numfields should be greater than 0 and match the provided number of fields"


def now_ms():
    return int(time.time() * 1000)


def err(r, *args):
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command(*args)
    return str(e.value)


def test_hexpire_reply_codes_conditions_and_errors(r):
    assert r.execute_command("HEXPIRE", "nokey", 10, "FIELDS", 2, "a", "b") == [-2, -2]
    r.hset("h", mapping={"a": 1, "b": 2, "c": 3})
    assert r.object("encoding", "h") == b"listpack"
    # XX and GT fail on a field without expiry (an infinite TTL), NX and LT set it.
    assert r.execute_command("HEXPIRE", "h", 100, "XX", "FIELDS", 1, "a") == [0]
    assert r.execute_command("HEXPIRE", "h", 100, "GT", "FIELDS", 1, "a") == [0]
    assert r.object("encoding", "h") == b"listpack"  # nothing set: no conversion
    assert r.execute_command("HEXPIRE", "h", 100, "NX", "FIELDS", 3, "a", "zz", "a") == [1, -2, 0]
    assert r.object("encoding", "h") == b"hashtable"
    assert r.execute_command("HEXPIRE", "h", 200, "LT", "FIELDS", 2, "a", "b") == [0, 1]
    assert r.execute_command("HEXPIRE", "h", 300, "GT", "FIELDS", 2, "a", "b") == [1, 1]
    assert r.execute_command("HPEXPIRE", "h", 50000, "LT", "FIELDS", 1, "a") == [1]
    at = now_ms() + 400000
    assert r.execute_command("HPEXPIREAT", "h", at, "FIELDS", 1, "c") == [1]
    assert r.execute_command("HPEXPIRETIME", "h", "FIELDS", 3, "c", "zz", "a")[:2] == [at, -2]
    assert r.execute_command("HEXPIRETIME", "h", "FIELDS", 1, "c") == [(at + 500) // 1000]
    ttl = r.execute_command("HPTTL", "h", "FIELDS", 1, "a")[0]
    assert 40000 < ttl <= 50000
    b_ttl, nope = r.execute_command("HTTL", "h", "FIELDS", 2, "b", "nope")
    assert b_ttl in (299, 300) and nope == -2  # seconds, rounded
    # A time in the past deletes (2); the last field takes the key with it.
    assert r.execute_command("HEXPIREAT", "h", 1, "FIELDS", 2, "a", "zz") == [2, -2]
    assert r.execute_command("HPEXPIRE", "h", 0, "FIELDS", 2, "b", "c") == [2, 2]
    assert r.exists("h") == 0
    # Errors, in Valkey 9's words.
    r.hset("h", "a", 1)
    assert NUMFIELDS in err(r, "HEXPIRE", "h", 10, "FIELDS", 2, "a")
    assert NUMFIELDS in err(r, "HEXPIRE", "h", 10, "FIELDS", 0, "a")
    assert NUMFIELDS in err(r, "HEXPIRE", "h", 10, "NX", "a", "b")
    assert "not an integer" in err(r, "HEXPIRE", "h", 10, "FIELDS", "x", "a")
    assert "not an integer" in err(r, "HEXPIRE", "h", "soon", "FIELDS", 1, "a")
    assert "Unsupported option YY" in err(r, "HEXPIRE", "h", 10, "YY", "FIELDS", 1, "a")
    assert "NX and XX, GT or LT" in err(r, "HEXPIRE", "h", 10, "NX", "GT", "FIELDS", 1, "a")
    assert "GT and LT" in err(r, "HEXPIRE", "h", 10, "GT", "LT", "FIELDS", 1, "a")
    assert "invalid expire time in 'hexpire'" in err(r, "HEXPIRE", "h", 2**62, "FIELDS", 1, "a")
    assert "syntax error" in err(r, "HTTL", "h", "FIELDS", 2, "a")
    assert "syntax error" in err(r, "HPTTL", "h", "NOTFIELDS", 1, "a")
    r.set("s", "x")
    assert "WRONGTYPE" in err(r, "HEXPIRE", "s", 10, "FIELDS", 1, "a")
    assert "WRONGTYPE" in err(r, "HTTL", "s", "FIELDS", 1, "a")
    assert "wrong number of arguments" in err(r, "HEXPIRE", "h", 10, "FIELDS", 1)


def test_hpersist_hgetex_hsetex(r):
    r.hset("h", mapping={"a": 1, "b": 2})
    r.execute_command("HEXPIRE", "h", 100, "FIELDS", 1, "a")
    assert r.execute_command("HPERSIST", "h", "FIELDS", 3, "a", "b", "zz") == [1, -1, -2]
    assert r.execute_command("HPERSIST", "nokey", "FIELDS", 1, "a") == [-2]
    assert NUMFIELDS in err(r, "HPERSIST", "h", "FIELDS", 2, "a")
    # HGETEX: values, and the expiry set, removed, or the field deleted at once.
    assert r.execute_command("HGETEX", "h", "EX", 100, "FIELDS", 3, "a", "zz", "b") == \
        [b"1", None, b"2"]
    assert all(t in (99, 100) for t in r.execute_command("HTTL", "h", "FIELDS", 2, "a", "b"))
    assert r.execute_command("HGETEX", "h", "PERSIST", "FIELDS", 1, "a") == [b"1"]
    a_ttl, b_ttl = r.execute_command("HTTL", "h", "FIELDS", 2, "a", "b")
    assert a_ttl == -1 and b_ttl in (99, 100)
    assert r.execute_command("HGETEX", "h", "FIELDS", 1, "b") == [b"2"]
    assert r.execute_command("HGETEX", "h", "PXAT", 1, "FIELDS", 1, "b") == [b"2"]
    assert r.hgetall("h") == {b"a": b"1"}
    assert r.execute_command("HGETEX", "nokey", "EX", 5, "FIELDS", 1, "a") == [None]
    assert "syntax error" in err(r, "HGETEX", "h", "EX", 5, "PX", 5, "FIELDS", 1, "a")
    assert "syntax error" in err(r, "HGETEX", "h", "KEEPTTL", "FIELDS", 1, "a")
    assert "invalid expire time in 'hgetex'" in err(r, "HGETEX", "h", "EX", 0, "FIELDS", 1, "a")
    assert NUMFIELDS in err(r, "HGETEX", "h", "FIELDS", 2, "a")
    # HSETEX: all or nothing under FNX/FXX; KEEPTTL keeps; a past time deletes.
    assert r.execute_command("HSETEX", "n", "FXX", "FIELDS", 1, "x", "1") == 0
    assert r.exists("n") == 0
    assert r.execute_command("HSETEX", "n", "FNX", "PX", 100000, "FIELDS", 2, "x", "1", "y",
                             "2") == 1
    assert 99000 < r.execute_command("HPTTL", "n", "FIELDS", 1, "x")[0] <= 100000
    assert r.execute_command("HSETEX", "n", "FNX", "FIELDS", 2, "x", "9", "z", "9") == 0
    assert r.hget("n", "x") == b"1"
    assert r.execute_command("HSETEX", "n", "KEEPTTL", "FIELDS", 1, "x", "3") == 1
    assert r.hget("n", "x") == b"3" and r.execute_command("HPTTL", "n", "FIELDS", 1, "x")[0] > 0
    assert r.execute_command("HSETEX", "n", "FIELDS", 1, "x", "4") == 1
    assert r.execute_command("HTTL", "n", "FIELDS", 1, "x") == [-1]  # no option: no expiry
    assert r.execute_command("HSETEX", "n", "EXAT", 1, "FIELDS", 2, "x", "5", "y", "5") == 1
    assert r.exists("n") == 0
    # NX / XX: the key must not / must exist.
    assert r.execute_command("HSETEX", "n", "XX", "FIELDS", 1, "x", "1") == 0
    assert r.exists("n") == 0
    assert r.execute_command("HSETEX", "n", "NX", "FNX", "FIELDS", 1, "x", "1") == 1
    assert r.execute_command("HSETEX", "n", "NX", "FIELDS", 1, "y", "1") == 0
    assert r.execute_command("HSETEX", "n", "XX", "FIELDS", 1, "y", "2") == 1
    assert r.hgetall("n") == {b"x": b"1", b"y": b"2"}
    r.delete("n")
    assert "syntax error" in err(r, "HSETEX", "n", "NX", "XX", "FIELDS", 1, "x", "1")
    assert NUMFIELDS in err(r, "HSETEX", "n", "FIELDS", 2, "x", "1")
    assert "syntax error" in err(r, "HSETEX", "n", "FNX", "FXX", "FIELDS", 1, "x", "1")
    assert "syntax error" in err(r, "HSETEX", "n", "PERSIST", "FIELDS", 1, "x", "1")


def test_other_hash_commands_around_expiries(r):
    r.hset("h", mapping={"a": "10", "b": "x", "keep": "1"})
    r.execute_command("HPEXPIRE", "h", 100000, "FIELDS", 2, "a", "b")
    assert r.hincrby("h", "a", 5) == 15  # the value changes, the expiry stays
    assert r.hincrbyfloat("h", "a", 0.5) == 15.5
    assert r.execute_command("HPTTL", "h", "FIELDS", 1, "a")[0] > 0
    r.hset("h", "b", "y")  # HSET overwrites the field and clears its expiry
    assert r.execute_command("HTTL", "h", "FIELDS", 1, "b") == [-1]
    r.rename("h", "h2")
    assert r.execute_command("HPTTL", "h2", "FIELDS", 1, "a")[0] > 0
    r.copy("h2", "h3")
    assert r.execute_command("HPTTL", "h3", "FIELDS", 1, "a")[0] > 0
    # A big hash (a table already) with most fields about to go: every reader skips them.
    r.hset("big", mapping={"f%d" % i: i for i in range(300)})
    r.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", 0)
    try:
        r.execute_command("HPEXPIRE", "big", 50, "FIELDS", 290, *["f%d" % i for i in range(290)])
        time.sleep(0.1)
        assert r.hlen("big") == 300  # HLEN counts fields not yet removed, as Valkey 9 does
        assert r.hget("big", "f1") is None
        assert r.hlen("big") == 10  # that HGET removed them
        assert sorted(r.hkeys("big")) == sorted(b"f%d" % i for i in range(290, 300))
        assert r.hexists("big", "f3") == 0 and r.hexists("big", "f295") == 1
        cur, seen = 0, set()
        while True:
            cur, part = r.hscan("big", cur)
            seen |= set(part)
            if cur == 0:
                break
        assert len(seen) == 10
        assert set(r.hrandfield("big", -50)) <= {b"f%d" % i for i in range(290, 300)}
    finally:
        r.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", 1)


def test_active_expiry_events_and_the_key_going_with_its_last_field(server, r):
    r.config_set("notify-keyspace-events", "Eghx")
    try:
        sub = server.client().pubsub()
        sub.psubscribe("__keyevent@0__:*")
        wait_for(lambda: sub.get_message(timeout=0.1) is not None, what="psubscribe")
        r.hset("h", mapping={"a": 1, "b": 2})
        r.hset("k", mapping={"a": 1, "b": 2})
        r.execute_command("HPEXPIRE", "h", 100, "FIELDS", 2, "a", "b")
        r.execute_command("HPEXPIRE", "k", 100, "FIELDS", 1, "a")
        # Nobody reads them: the active cycle removes the fields, and h with its last one.
        wait_for(lambda: r.dbsize() == 1, timeout=10, what="h removed by the active cycle")
        assert r.hlen("k") == 1  # HLEN does not remove: only the active cycle did
        assert r.info("stats")["expired_fields"] >= 3
        events = []
        wait_for(lambda: (events.append(sub.get_message(timeout=0.1)) or
                          sum(1 for e in events if e and e["channel"].endswith(b"hexpired")) >= 2
                          and any(e and e["channel"].endswith(b":del") for e in events)),
                 timeout=10, what="hexpired and del events")
        order = [(e["channel"].split(b":")[-1], e["data"]) for e in events
                 if e and e["type"] == "pmessage"]
        assert order.index((b"hexpired", b"h")) < order.index((b"del", b"h"))
        sub.close()
    finally:
        r.config_set("notify-keyspace-events", "")


# ---- restart and restore ----------------------------------------------------------------------

def snapshot_header(path):
    with open(path, "rb") as f:
        return struct.unpack("<II", f.read(16)[8:16])


def expiries(c, key, fields):
    return c.execute_command("HPEXPIRETIME", key, "FIELDS", len(fields), *fields)


def test_expiries_survive_a_restart_from_snapshot_and_log(live):
    s = KeelServer(durability="sync")
    live.append(s)
    s.start()
    c = s.client()
    c.hset("snap", mapping={"long": 1, "short": 2, "none": 3})
    c.execute_command("HEXPIRE", "snap", 1000, "FIELDS", 1, "long")
    c.execute_command("HPEXPIRE", "snap", 300, "FIELDS", 1, "short")
    c.hset("plain", "a", 1)
    c.execute_command("SAVE")
    snaps = [f for f in os.listdir(os.path.join(s.dir, "snapshots")) if f.endswith(".ksnap")]
    assert [snapshot_header(os.path.join(s.dir, "snapshots", f)) for f in snaps] == [(4, 4)]
    # After the snapshot, from the log only: a relative HEXPIRE, an HSETEX, an HPERSIST.
    c.hset("logged", mapping={"x": 1, "y": 2, "z": 3})
    c.execute_command("HEXPIRE", "logged", 2000, "FIELDS", 1, "x")
    c.execute_command("HSETEX", "logged", "PX", 300, "FIELDS", 1, "y", "9")
    c.execute_command("HEXPIRE", "snap", 900, "FIELDS", 1, "none")
    c.execute_command("HPERSIST", "snap", "FIELDS", 1, "none")
    before = {"snap": expiries(c, "snap", ["long", "none"]),
              "logged": expiries(c, "logged", ["x", "z"])}
    time.sleep(0.4)  # the 300 ms fields are due; keep them in place until the kill
    s.kill()
    s.start()
    c = s.client()
    assert {"snap": expiries(c, "snap", ["long", "none"]),
            "logged": expiries(c, "logged", ["x", "z"])} == before
    assert c.hgetall("snap") == {b"long": b"1", b"none": b"3"}
    assert c.hgetall("logged") == {b"x": b"1", b"z": b"3"}
    assert c.hgetall("plain") == {b"a": b"1"}
    # A second restart replays the HDELs the first one logged for the fields that were due.
    s.kill()
    s.start()
    c = s.client()
    assert c.hgetall("logged") == {b"x": b"1", b"z": b"3"}
    assert expiries(c, "logged", ["x"]) == before["logged"][:1]


def test_point_in_time_restore_keeps_field_expiries(live, tmp_path):
    s = KeelServer(durability="sync")
    live.append(s)
    s.start()
    c = s.client()
    c.hset("h", mapping={"a": 1, "b": 2, "c": 3})
    c.execute_command("HEXPIRE", "h", 5000, "FIELDS", 2, "a", "b")
    c.execute_command("SAVE")
    c.execute_command("HPEXPIRE", "h", 200000, "FIELDS", 1, "c")
    c.hset("soon", mapping={"x": 1, "y": 2})
    c.execute_command("HPEXPIRE", "soon", 300, "FIELDS", 1, "x")
    mark = c.info("wal")["wal_last_lsn"]
    want = expiries(c, "h", ["a", "b", "c"])
    soon_at = expiries(c, "soon", ["x"])[0]
    c.execute_command("HPERSIST", "h", "FIELDS", 1, "a")
    c.execute_command("HDEL", "h", "b")
    out = str(tmp_path / "restored")
    res = subprocess.run([binary("keel-restore"), "--dir", s.dir, "--to", "lsn:%d" % mark,
                          "--out", out], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr
    s.stop()
    t = KeelServer(data_dir=out, durability="sync")
    live.append(t)
    t.start()
    tc = t.client()
    assert tc.hgetall("h") == {b"a": b"1", b"b": b"2", b"c": b"3"}
    assert expiries(tc, "h", ["a", "b", "c"]) == want
    # The field due 300 ms after the mark is gone in the restored data set too, on time.
    wait_for(lambda: now_ms() > soon_at, what="the short expiry")
    assert tc.hgetall("soon") == {b"y": b"2"}


def test_hashes_with_field_expiries_stay_out_of_the_value_tier(live):
    """The tier's value encoding has no place for field expiries: such a hash is never sent out;
    a plain hash that was out comes back for HEXPIRE and then stays in memory."""
    s = KeelServer(args=["--tiering", "yes", "--tiering-memory-target", "1500kb",
                         "--tiering-min-value-size", "8", "--tiering-threads", "2"])
    live.append(s)
    s.start()
    r = s.client()
    for i in range(0, 600, 50):
        p = r.pipeline(transaction=False)
        for j in range(i, i + 50):
            p.hset("h%d" % j, mapping={"f%d" % k: os.urandom(20).hex() for k in range(30)})
            if j % 2:
                p.execute_command("HEXPIRE", "h%d" % j, 3600, "FIELDS", 1, "f0")
        p.execute()
    wait_for(lambda: r.info("tiering")["tiering_tiered_keys"] >= 150, what="values going out")
    enc = {j: r.object("encoding", "h%d" % j) for j in range(600)}
    assert all(enc[j] == b"hashtable" for j in range(1, 600, 2)), "a TTL hash went out"
    cold = [j for j in range(0, 600, 2) if enc[j] == b"tiered"]
    assert len(cold) >= 100
    k = "h%d" % cold[0]
    assert r.execute_command("HPEXPIRE", k, 3600000, "FIELDS", 1, "f1") == [1]
    assert r.execute_command("HTTL", k, "FIELDS", 2, "f1", "f2") == [3600, -1]
    assert r.hlen(k) == 30
    time.sleep(0.3)
    assert r.object("encoding", k) == b"hashtable"


def test_a_replica_gets_the_expiries_and_the_hdel_of_due_fields(live):
    """A full sync carries HASH_TTL records; the stream carries absolute times and, for fields
    that expire on the primary, HDEL: the replica never expires fields itself."""
    p = KeelServer(durability="sync")
    live.append(p)
    p.start()
    pc = p.client()
    pc.hset("before", mapping={"a": 1, "b": 2})
    pc.execute_command("HEXPIRE", "before", 3600, "FIELDS", 1, "a")
    rep = KeelServer(durability="sync", args=["--replicaof", "127.0.0.1 %d" % p.port])
    live.append(rep)
    rep.start()
    rc = rep.client()

    def caught_up():
        ri = rc.info("replication")
        return ri.get("master_link_status") == "up" and \
            ri.get("keel_applied_lsn", ri["slave_repl_offset"]) >= \
            pc.info("replication")["master_repl_offset"]
    wait_for(caught_up, what="replica caught up")
    assert expiries(rc, "before", ["a", "b"]) == expiries(pc, "before", ["a", "b"])
    pc.execute_command("HSETEX", "after", "PX", 300, "FIELDS", 2, "x", "1", "y", "2")
    pc.execute_command("HSETEX", "after", "EX", 3600, "FIELDS", 1, "z", "3")
    wait_for(caught_up, what="replica caught up")
    assert expiries(rc, "after", ["z"]) == expiries(pc, "after", ["z"])
    wait_for(lambda: pc.execute_command("HLEN", "after") == 1, timeout=10,
             what="the primary's active cycle")
    wait_for(lambda: rc.hgetall("after") == {b"z": b"3"}, timeout=10, what="HDEL on the replica")

"""Snapshots in the server: SAVE, BGSAVE, LASTSAVE, INFO, loading at start (every type and
encoding, TTLs), golden files, fallback from a damaged newest snapshot, log retention."""
import glob
import os
import shutil
import struct
import sys
import time

import pytest
import redis

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from keel_harness import KeelServer  # noqa: E402

DATA = os.path.join(os.path.dirname(__file__), "..", "data")


@pytest.fixture
def live():
    servers = []
    yield servers
    for s in reversed(servers):
        s.cleanup()


def start(live, data_dir=None, durability="off", args=(), env=None):
    s = KeelServer(args=list(args), data_dir=data_dir, durability=durability)
    if env:
        old = dict(os.environ)
        os.environ.update(env)
        try:
            s.start()
        finally:
            os.environ.clear()
            os.environ.update(old)
    else:
        s.start()
    live.append(s)
    return s


def restart(live, s, durability=None, args=None, env=None):
    s.stop()
    return start(live, s.dir, durability or s.durability, s.args if args is None else args, env)


def has_cmd(r, name):
    reply = r.execute_command("COMMAND", "INFO", name)  # redis-py parses it into a dict
    if isinstance(reply, dict):
        return bool(reply)
    return bool(reply and reply[0])


def info(r, section):
    return r.info(section)


def wait_bgsave(r, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if info(r, "persistence")["rdb_bgsave_in_progress"] == 0:
            return
        time.sleep(0.02)
    raise AssertionError("BGSAVE did not finish")


def snapshots(d):
    return sorted(glob.glob(os.path.join(d, "snapshots", "snap-*.ksnap")))


def dump(r):
    """Every key of db 0 with type, value, encoding and TTL state."""
    out = {}
    for k in r.keys("*"):
        t = r.type(k).decode()
        if t == "string":
            v = r.get(k)
        elif t == "list":
            v = r.lrange(k, 0, -1)
        elif t == "hash":
            v = r.hgetall(k)
        elif t == "set":
            v = sorted(r.smembers(k))
        elif t == "zset":
            v = r.zrange(k, 0, -1, withscores=True)
        else:
            raise AssertionError("type %s" % t)
        ttl = r.pttl(k)
        out[k] = (t, v, r.object("encoding", k), ttl > 0)
    return out


def fill_every_type(r):
    r.set("int", 12345)
    r.set("emb", "short string")
    r.set("raw", "x" * 200)
    r.set("bin", b"a\x00b\xff")
    r.set("ttl", "v", px=600000)
    if has_cmd(r, "rpush"):
        r.rpush("lp", "a", "b", "1")
        r.rpush("ql", *["e%d" % i for i in range(2000)])
        r.pexpire("lp", 700000)
    if has_cmd(r, "hset"):
        r.hset("hlp", mapping={"f1": "v1", "f2": "2"})
        r.hset("hht", mapping={"f%d" % i: "v%d" % i for i in range(300)})
    if has_cmd(r, "sadd"):
        r.sadd("sint", 1, 2, 3)
        r.sadd("slp", "a", "b")
        r.sadd("sht", *["m%d" % i for i in range(300)])
    if has_cmd(r, "zadd"):
        r.zadd("zlp", {"a": 1.5, "b": -2, "c": float("inf")})
        r.zadd("zsl", {"m%d" % i: i / 3 for i in range(300)})
    r.execute_command("SELECT", 3)
    r.set("in-db-3", "three")
    r.execute_command("SELECT", 0)


def test_every_type_and_encoding_survives_bgsave_and_restart(live):
    s = start(live)
    r = s.client()
    fill_every_type(r)
    before = dump(r)
    encodings = {k: v[2] for k, v in before.items()}
    assert r.bgsave() in (True, b"Background saving started")
    wait_bgsave(r)
    assert info(r, "persistence")["rdb_last_bgsave_status"] == "ok"
    s = restart(live, s)  # durability off: only the snapshot can bring the data back
    r = s.client()
    assert dump(r) == before
    assert {k: v[2] for k, v in dump(r).items()} == encodings
    assert 590000 < r.pttl("ttl") <= 600000
    r.execute_command("SELECT", 3)
    assert r.get("in-db-3") == b"three"
    assert info(r, "snapshot")["snapshot_loaded_keys"] == len(before) + 1


def test_save_lastsave_and_info_fields(live):
    s = start(live)
    r = s.client()
    for i in range(50):
        r.set("k%d" % i, i)
    p = info(r, "persistence")
    assert p["rdb_changes_since_last_save"] == 50
    t0 = int(time.time())
    assert r.execute_command("SAVE") in (True, b"OK")
    p = info(r, "persistence")
    assert p["rdb_changes_since_last_save"] == 0
    assert p["rdb_bgsave_in_progress"] == 0
    assert p["rdb_last_bgsave_status"] == "ok"
    assert p["rdb_saves"] == 1
    c = s.raw()
    assert abs(c.call("LASTSAVE") - t0) <= 2
    c.close()
    sn = info(r, "snapshot")
    assert sn["snapshot_last_keys"] == 50
    assert sn["snapshot_last_status"] == "ok"
    assert sn["snapshot_last_bytes"] == os.path.getsize(snapshots(s.dir)[-1])
    assert sn["snapshot_threads"] == 2
    assert len(snapshots(s.dir)) == 1


def test_bgsave_busy_schedule_and_syntax(live):
    s = start(live, env={"KEEL_DEBUG_SNAPSHOT_DELAY_MS": "1500"})
    r = s.client()
    r.set("a", 1)
    c = s.raw()
    assert c.call("BGSAVE") == "Background saving started"
    assert info(r, "persistence")["rdb_bgsave_in_progress"] == 1
    assert info(r, "snapshot")["snapshot_in_progress"] == 1
    assert str(c.call("BGSAVE")) == "ERR Background save already in progress"
    assert str(c.call("SAVE")) == "ERR Background save already in progress"
    r.set("b", 2)  # the server keeps serving while the child writes
    assert c.call("BGSAVE", "SCHEDULE") == "Background saving scheduled"
    assert str(c.call("BGSAVE", "NOW")) == "ERR syntax error"
    c.close()
    wait_bgsave(r)
    time.sleep(0.3)  # the cron starts the scheduled one
    wait_bgsave(r)
    assert info(r, "snapshot")["snapshot_saves_ok"] == 2
    assert info(r, "snapshot")["snapshot_last_keys"] == 2


def put_golden(d, name):
    src = os.path.join(DATA, name)
    with open(src, "rb") as f:
        lsn = struct.unpack_from("<Q", f.read(64), 24)[0]
    os.makedirs(os.path.join(d, "snapshots"), exist_ok=True)
    shutil.copy(src, os.path.join(d, "snapshots", "snap-%020d.ksnap" % lsn))
    return lsn


@pytest.mark.parametrize("name", ["snapshot-v1.ksnap", "snapshot-v2.ksnap"])
def test_golden_files_are_read_and_refused_for_a_database_this_server_lacks(live, tmp_path, name):
    # The golden files hold a key in db 4294967295: a server with 16 databases must refuse to
    # start rather than drop it (as Valkey refuses an RDB with more databases).
    lsn = put_golden(str(tmp_path), name)
    assert lsn == 1234567
    s = KeelServer(data_dir=str(tmp_path), durability="off")
    live.append(s)
    s.start(wait=False)
    assert s.proc.wait(timeout=20) != 0
    log = s.read_log()
    assert "database index beyond the configured databases" in log
    assert "lastdb" in log


FAR = 4102444800000  # 2100-01-01, as in tests/unit/test_snapshot_golden.c (server_golden)
T200 = b"0123456789" * 20

# The content of tests/data/snapshot-v*-server.ksnap, written from server_golden[] in
# tests/unit/test_snapshot_golden.c: db -> key -> (type, value, encoding, expire ms or -1).
SERVER_GOLDEN = {
    0: {
        b"str:int": ("string", b"12345", b"int", -1),
        b"str:neg": ("string", b"-42", b"int", -1),
        b"str:emb": ("string", b"hello world", b"embstr", -1),
        b"str:raw": ("string", T200, b"raw", -1),
        b"str:empty": ("string", b"", b"embstr", -1),
        b"bin\x00key\xff": ("string", b"a\x00b\xffc", b"embstr", FAR + 1),
        b"str:ttl": ("string", b"v", b"embstr", FAR),
        b"list:lp": ("list", [b"a", b"", b"c\x00d"], b"listpack", FAR + 2),
        b"list:ql": ("list", [b"element-%d" % i for i in range(3000)], b"quicklist", -1),
        b"hash:lp": ("hash", {b"name": b"Ada", b"age": b"36"}, b"listpack", -1),
        b"hash:ht": ("hash", {b"f%d" % i: b"v%d" % i for i in range(600)}, b"hashtable", FAR + 3),
        b"set:int": ("set", {b"1", b"2", b"3", b"-7"}, b"intset", -1),
        b"set:lp": ("set", {b"x", b"y", b"z"}, b"listpack", -1),
        b"set:ht": ("set", {b"m%d" % i for i in range(300)}, b"hashtable", -1),
        b"zset:lp": ("zset", [(b"bob", -2.0), (b"alice", 1.5), (b"carol", float("inf"))],
                     b"listpack", -1),
        b"zset:sl": ("zset", [(b"m%d" % i, i / 4) for i in range(300)], b"skiplist", FAR + 4),
    },
    1: {
        b"db1:key": ("string", b"one", b"embstr", FAR + 5),
        b"str:int": ("string", b"-9223372036854775808", b"int", -1),
    },
    15: {b"db15:hash": ("hash", {b"k": b"v"}, b"listpack", -1)},
}


def read_value(r, key, t):
    if t == "string":
        return r.get(key)
    if t == "list":
        return r.lrange(key, 0, -1)
    if t == "hash":
        return r.hgetall(key)
    if t == "set":
        return r.smembers(key)
    return r.zrange(key, 0, -1, withscores=True)


@pytest.mark.parametrize("name", ["snapshot-v1-server.ksnap", "snapshot-v2-server.ksnap"])
def test_server_golden_files_load_every_key_type_encoding_and_ttl(live, tmp_path, name):
    lsn = put_golden(str(tmp_path), name)
    s = start(live, data_dir=str(tmp_path))
    r = s.client()
    sn = info(r, "snapshot")
    assert sn["snapshot_loaded_lsn"] == lsn == 1234567
    # Every key of the file is loaded (the expired one too: it expires on first access).
    assert sn["snapshot_loaded_keys"] == sum(len(v) for v in SERVER_GOLDEN.values()) + 1
    for db, keys in SERVER_GOLDEN.items():
        r.execute_command("SELECT", db)
        for key, (t, value, enc, expire) in keys.items():
            assert r.type(key).decode() == t, key
            assert read_value(r, key, t) == value, key
            assert r.object("encoding", key) == enc, key
            assert r.execute_command("PEXPIRETIME", key) == expire, key
        assert sorted(r.keys("*")) == sorted(keys), db
    r.execute_command("SELECT", 0)
    assert r.get("str:expired") is None  # expired in 1970: gone once looked at
    assert r.exists("str:expired") == 0
    for db in range(16):
        r.execute_command("SELECT", db)
        assert r.dbsize() == len(SERVER_GOLDEN.get(db, {})), db


def test_damaged_newest_snapshot_falls_back_to_the_previous_one(live):
    s = start(live, durability="sync")
    r = s.client()
    r.set("a", 1)
    r.execute_command("SAVE")
    r.set("b", 2)
    r.execute_command("SAVE")
    r.set("c", 3)
    files = snapshots(s.dir)
    assert len(files) == 2
    s.stop()
    with open(files[-1], "r+b") as f:  # a byte in the first chunk's compressed data
        f.seek(64 + 48 + 3)
        b = f.read(1)
        f.seek(64 + 48 + 3)
        f.write(bytes([b[0] ^ 0xFF]))
    s = start(live, s.dir, "sync")
    r = s.client()
    assert r.mget("a", "b", "c") == [b"1", b"2", b"3"]
    sn = info(r, "snapshot")
    assert sn["snapshot_load_fallbacks"] == 1
    assert sn["snapshot_loaded_lsn"] == int(os.path.basename(files[0])[5:25])
    assert "falling back to the previous snapshot" in s.read_log()


def test_every_snapshot_damaged_refuses_to_start(live):
    s = start(live, durability="sync")
    r = s.client()
    r.set("a", 1)
    r.execute_command("SAVE")
    s.stop()
    f = snapshots(s.dir)[0]
    with open(f, "r+b") as fh:
        fh.truncate(os.path.getsize(f) - 5)
    s2 = KeelServer(data_dir=s.dir, durability="sync")
    live.append(s2)
    s2.start(wait=False)
    assert s2.proc.wait(timeout=20) != 0
    assert "no snapshot could be loaded" in s2.read_log()


def test_tmp_file_of_an_unfinished_snapshot_is_ignored_and_removed(live):
    s = start(live)
    r = s.client()
    r.set("a", 1)
    r.execute_command("SAVE")
    s.stop()
    tmp = os.path.join(s.dir, "snapshots", "snap-%020d.ksnap.tmp" % 99)
    with open(tmp, "wb") as f:
        f.write(b"KEELSNAP" + b"\0" * 100)
    s = start(live, s.dir)
    assert s.client().get("a") == b"1"
    assert not os.path.exists(tmp)


def segs(d):
    return sorted(glob.glob(os.path.join(d, "wal-*.log")))


def write_mb(r, mb, tag):
    val = "x" * 1000
    p = r.pipeline(transaction=False)
    for i in range(mb * 1000):
        p.set("%s:%d" % (tag, i % 500), val)
        if i % 200 == 199:
            p.execute()
    p.execute()


def test_log_segments_below_the_snapshots_leave_the_live_log(live):
    args = ["--wal-segment-size", "1mb", "--snapshot-keep", "1", "--wal-retention", "0"]
    s = start(live, durability="sync", args=args)
    r = s.client()
    write_mb(r, 4, "a")
    n_before = len(segs(os.path.join(s.dir, "wal")))
    assert n_before >= 4
    r.execute_command("SAVE")
    live_after = segs(os.path.join(s.dir, "wal"))
    assert len(live_after) == 1  # everything but the newest segment is below the snapshot
    assert info(r, "snapshot")["snapshot_retired_segments"] == n_before - 1
    assert not glob.glob(os.path.join(s.dir, "wal-archive", "*.log"))
    before = {k: r.get(k) for k in r.keys("*")}
    r.set("after", "1")
    s = restart(live, s)
    r = s.client()
    assert r.get("after") == b"1"
    assert {k: r.get(k) for k in r.keys("*") if k != b"after"} == before


def test_retention_archives_segments_and_keeps_snapshot_keep_files(live):
    args = ["--wal-segment-size", "1mb", "--snapshot-keep", "2", "--wal-retention", "3600"]
    s = start(live, durability="sync", args=args)
    r = s.client()
    for round_ in range(3):
        write_mb(r, 2, "r%d" % round_)
        r.execute_command("SAVE")
    files = snapshots(s.dir)
    # all three are inside the retention window: kept for point-in-time restore
    assert len(files) == 3
    archived = segs(os.path.join(s.dir, "wal-archive"))
    assert archived, "segments below the snapshots go to the archive"
    # the live log still holds every record after the older of the 2 newest snapshots
    live_first = int(os.path.basename(segs(os.path.join(s.dir, "wal"))[0])[4:24])
    assert live_first <= int(os.path.basename(files[-2])[5:25]) + 1
    # retention 0: the archive is emptied and only snapshot-keep snapshots stay
    r.config_set("wal-retention", 0)
    r.config_set("snapshot-keep", 1)
    r.set("x", 1)
    r.execute_command("SAVE")
    assert len(snapshots(s.dir)) == 1
    assert not segs(os.path.join(s.dir, "wal-archive"))


def test_snapshot_format_version_1_is_written_and_loaded(live):
    s = start(live, args=["--snapshot-format-version", "1"])
    r = s.client()
    r.set("n", 42)
    r.set("s", "str")
    r.execute_command("SAVE")
    with open(snapshots(s.dir)[-1], "rb") as f:
        version, min_reader = struct.unpack_from("<II", f.read(16), 8)
    assert (version, min_reader) == (1, 1)
    s = restart(live, s)
    assert s.client().mget("n", "s") == [b"42", b"str"]

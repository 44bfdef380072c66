"""Durability: the log wired into keel-server (docs/durability.md, docs/formats/wal.md).

Each test starts its own servers with durability sync/async/off (the shared `server` fixture runs
with durability off). Data types beyond strings are exercised only when their commands exist in
the build under test (they are written in parallel), found through COMMAND INFO.
"""
import glob
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

import pytest
import redis

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from keel_harness import KeelServer, binary, wait_logged, wal_last_lsn  # noqa: E402

SEG_HDR = 64
REC_HDR = 32


@pytest.fixture
def tmpdir_keel():
    d = tempfile.mkdtemp(prefix="keel-dur-")
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def servers():
    """Collects started servers and kills them (by PID) when the test ends."""
    live = []
    yield live
    for s in live:
        s.kill()


def start(live, data_dir, durability="sync", args=(), env=None):
    old = {}
    for k, v in (env or {}).items():
        old[k] = os.environ.get(k)
        os.environ[k] = v
    try:
        s = KeelServer(args=args, data_dir=data_dir, durability=durability)
        live.append(s)
        s.start()
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return s


def restart(live, s, sig="kill", env=None):
    if sig == "kill":
        s.kill()
    else:
        assert s.stop() == 0
    return start(live, s.dir, s.durability, s.args, env)


def has_cmd(r, name):
    """Whether the build under test has the command (COMMAND INFO replies a nil for unknown)."""
    c = r.connection_pool.get_connection("COMMAND")
    try:
        c.send_command("COMMAND", "INFO", name)
        reply = c.read_response()
    finally:
        r.connection_pool.release(c)
    if isinstance(reply, dict):  # a redis-py version that parses the reply
        return bool(reply)
    return bool(reply and reply[0])


def info(r, section):
    return r.info(section)


def segments(wal_dir):
    return sorted(glob.glob(os.path.join(wal_dir, "wal-*.log")))


def records(path):
    """(offset, len, lsn) of every record of a segment."""
    out = []
    with open(path, "rb") as f:
        data = f.read()
    off = SEG_HDR
    while off + REC_HDR <= len(data):
        ln, _crc, lsn = struct.unpack_from("<IIQ", data, off)
        if ln == 0 and lsn == 0:
            break
        out.append((off, ln, lsn))
        off += (REC_HDR + ln + 7) // 8 * 8
    return out


def flip_byte(path, off):
    with open(path, "r+b") as f:
        f.seek(off)
        b = f.read(1)
        f.seek(off)
        f.write(bytes([b[0] ^ 0x5A]))


# ---- survival across SIGKILL -------------------------------------------------------------


def test_acknowledged_writes_survive_sigkill_for_every_type(servers, tmpdir_keel):
    s = start(servers, tmpdir_keel)
    r = s.client()
    for i in range(200):
        r.set("str:%d" % i, "v%d" % i)
    r.set("gone", "x")
    r.delete("gone")
    r.set("over", "old")
    r.set("over", "new")
    expect = {"lists": False, "hashes": False, "sets": False, "zsets": False, "incr": False,
              "mset": False}
    if has_cmd(r, "incr"):
        for _ in range(7):
            r.incr("counter")
        expect["incr"] = True
    if has_cmd(r, "mset"):
        r.mset({"m1": "a", "m2": "b"})
        expect["mset"] = True
    if has_cmd(r, "rpush"):
        r.rpush("list", "a", "b", "c")
        expect["lists"] = True
    if has_cmd(r, "hset"):
        r.hset("hash", mapping={"f1": "1", "f2": "2"})
        expect["hashes"] = True
    if has_cmd(r, "sadd"):
        r.sadd("set", "x", "y")
        expect["sets"] = True
    if has_cmd(r, "zadd"):
        r.zadd("zset", {"a": 1.5, "b": 2})
        expect["zsets"] = True
    r.execute_command("SELECT", "3")
    r.set("in-db3", "yes")
    s = restart(servers, s)
    r = s.client()
    for i in range(200):
        assert r.get("str:%d" % i) == b"v%d" % i
    assert r.get("gone") is None
    assert r.get("over") == b"new"
    if expect["incr"]:
        assert r.get("counter") == b"7"
    if expect["mset"]:
        assert r.get("m1") == b"a" and r.get("m2") == b"b"
    if expect["lists"]:
        assert r.lrange("list", 0, -1) == [b"a", b"b", b"c"]
    if expect["hashes"]:
        assert r.hgetall("hash") == {b"f1": b"1", b"f2": b"2"}
    if expect["sets"]:
        assert r.smembers("set") == {b"x", b"y"}
    if expect["zsets"]:
        assert r.zrange("zset", 0, -1, withscores=True) == [(b"a", 1.5), (b"b", 2.0)]
    assert r.get("in-db3") is None
    r.execute_command("SELECT", "3")
    assert r.get("in-db3") == b"yes"
    assert r.dbsize() == 1


def test_recovery_is_logged_and_counted(servers, tmpdir_keel):
    s = start(servers, tmpdir_keel)
    r = s.client()
    for i in range(50):
        r.set("k%d" % i, i)
    s = restart(servers, s)
    r = s.client()
    w = info(r, "wal")
    assert w["wal_recovered_records"] == 50
    assert w["wal_last_lsn"] == 50 and w["wal_durable_lsn"] == 50
    assert re.search(r"Log recovered: 50 records .* records/s\), last LSN 50", s.read_log())
    r.set("after", 1)
    assert info(r, "wal")["wal_last_lsn"] == 51


def test_expiry_replays_as_it_happened(servers, tmpdir_keel):
    s = start(servers, tmpdir_keel)
    r = s.client()
    if not has_cmd(r, "pexpire"):
        pytest.skip("PEXPIRE not in this build yet")
    r.set("long", "v")
    r.expire("long", 1000)
    r.set("short", "v")
    r.pexpire("short", 50)
    r.set("soon", "v")
    r.pexpire("soon", 700)
    r.set("persisted", "v")
    r.expire("persisted", 1000)
    r.persist("persisted")
    time.sleep(0.2)
    assert r.get("short") is None  # lazy expiry: logged as a DEL
    s = restart(servers, s)
    r = s.client()
    assert r.get("short") is None
    ttl = r.ttl("long")
    assert 990 <= ttl <= 1000
    assert r.ttl("persisted") == -1
    assert r.exists("soon") == 1  # its absolute deadline is still ahead
    time.sleep(0.7)
    s = restart(servers, s)
    r = s.client()
    assert r.get("soon") is None  # the deadline passed while the server was down
    assert r.exists("long") == 1


# ---- MULTI/EXEC: one record, all or nothing ----------------------------------------------


def test_exec_is_one_record(servers, tmpdir_keel):
    s = start(servers, tmpdir_keel)
    r = s.client()
    r.set("before", 1)
    lsn0 = info(r, "wal")["wal_last_lsn"]
    p = r.pipeline(transaction=True)
    for i in range(10):
        p.set("tx%d" % i, i)
    p.execute()
    assert info(r, "wal")["wal_last_lsn"] == lsn0 + 1
    s = restart(servers, s)
    r = s.client()
    assert [r.get("tx%d" % i) for i in range(10)] == [b"%d" % i for i in range(10)]


def test_torn_exec_record_recovers_none_of_it(servers, tmpdir_keel):
    s = start(servers, tmpdir_keel)
    r = s.client()
    r.set("before", "kept")
    p = r.pipeline(transaction=True)
    for i in range(10):
        p.set("tx%d" % i, "x" * 100)
    p.execute()
    s.kill()
    seg = segments(os.path.join(tmpdir_keel, "wal"))[-1]
    recs = records(seg)
    assert len(recs) == 2
    off, ln, lsn = recs[-1]
    assert lsn == 2 and ln > 1000  # the whole transaction is the last record
    flip_byte(seg, off + REC_HDR + ln // 2)  # damage in the middle of it: a torn tail
    s = start(servers, tmpdir_keel)
    r = s.client()
    assert r.get("before") == b"kept"
    assert [r.get("tx%d" % i) for i in range(10)] == [None] * 10
    assert "torn" in s.read_log().lower() or "cut" in s.read_log().lower()


# ---- modes ---------------------------------------------------------------------------------


def test_async_mode_acknowledges_at_once_and_syncs_in_the_background(servers, tmpdir_keel):
    s = start(servers, tmpdir_keel, "async", args=["--wal-sync-interval-ms", "100"],
              env={"KEEL_DEBUG_WAL_FSYNC_DELAY_MS": "300"})
    r = s.client()
    t0 = time.time()
    for i in range(20):
        r.set("a%d" % i, i)
    assert time.time() - t0 < 1.0  # 20 x 300 ms would be 6 s if replies waited for fsync
    p = r.info("persistence")
    assert p["durability"] == "async" and p["aof_enabled"] == 1
    assert r.execute_command("WAITAOF", "1", "0", "0") == [1, 0]
    assert info(r, "wal")["wal_durable_lsn"] >= 20
    s = restart(servers, s)  # SIGKILL after WAITAOF: everything is on disk
    r = s.client()
    assert [r.get("a%d" % i) for i in range(20)] == [b"%d" % i for i in range(20)]


def test_off_mode_writes_no_log(servers, tmpdir_keel):
    s = start(servers, tmpdir_keel, "off")
    r = s.client()
    for i in range(100):
        r.set("k%d" % i, i)
    assert not os.path.exists(os.path.join(tmpdir_keel, "wal"))
    assert r.info("persistence")["aof_enabled"] == 0
    assert info(r, "wal")["wal_enabled"] == 0
    with pytest.raises(redis.ResponseError, match="appendonly is disabled"):
        r.execute_command("WAITAOF", "1", "0", "0")
    assert r.execute_command("WAITAOF", "0", "0", "0") == [0, 0]
    s = restart(servers, s)
    assert s.client().dbsize() == 0


def test_three_copies_quorum_two(servers, tmpdir_keel):
    dirs = [os.path.join(tmpdir_keel, "az%d" % i) for i in range(3)]
    args = []
    for d in dirs:
        args += ["--wal-dir", d]
    args += ["--wal-quorum", "2"]
    s = start(servers, tmpdir_keel, args=args)
    r = s.client()
    for i in range(100):
        r.set("k%d" % i, i)
    w = info(r, "wal")
    assert w["wal_copies"] == 3 and w["wal_quorum"] == 2
    for i in range(3):
        assert "state=ok" in str(w["wal_copy%d" % i]) or w["wal_copy%d" % i]["state"] == "ok"
    for d in dirs:
        assert len(segments(d)) == 1 and len(records(segments(d)[0])) == 100
    s.kill()
    shutil.rmtree(dirs[1])  # one availability zone lost its disk
    s = start(servers, tmpdir_keel, args=args)
    r = s.client()
    assert [r.get("k%d" % i) for i in range(100)] == [b"%d" % i for i in range(100)]
    s.kill()
    # recovery brought the lost copy back up to date from the others
    assert sum(len(records(p)) for p in segments(dirs[1])) == 100


def test_quorum_loss_fails_parked_replies_and_refuses_writes(servers, tmpdir_keel):
    fail = os.path.join(tmpdir_keel, "fail-now")
    s = start(servers, tmpdir_keel, env={"KEEL_DEBUG_WAL_FAIL_FILE": fail})
    r = s.client()
    r.set("durable", "yes")
    open(fail, "w").close()
    with pytest.raises(redis.ResponseError, match="durability unknown"):
        r.set("lost", "x")
    with pytest.raises(redis.ResponseError, match="write refused"):
        r.set("refused", "x")
    assert r.get("durable") == b"yes"  # reads of durable data go on
    assert r.info("persistence")["aof_last_write_status"] == "err"
    w = info(r, "wal")
    assert w["wal_healthy"] == 0 and "failed" in str(w["wal_failure"])
    os.unlink(fail)
    s = restart(servers, s)  # the operator's fix: restart, recover from the disk
    r = s.client()
    assert r.get("durable") == b"yes"
    # "lost" got an error: it may or may not be on disk (the WAL thread writes a batch before
    # its fdatasync fails); "refused" never reached the log.
    assert r.get("lost") in (None, b"x") and r.get("refused") is None
    r.set("again", 1)
    assert r.get("again") == b"1"


# ---- parking -------------------------------------------------------------------------------


def test_read_of_uncommitted_key_waits_and_untouched_key_does_not(servers, tmpdir_keel):
    s = start(servers, tmpdir_keel, env={"KEEL_DEBUG_WAL_FSYNC_DELAY_MS": "600"})
    r = s.client()
    r.set("cold", "c")
    writer = s.raw()
    reader = s.raw()
    lsn = wal_last_lsn(r)
    writer.send_cmd("SET", "hot", "new")
    wait_logged(r, lsn)  # the SET has executed; its record is being synced
    t0 = time.time()
    assert reader.call("GET", "cold") == b"c"
    cold_s = time.time() - t0
    t0 = time.time()
    assert reader.call("GET", "hot") == b"new"
    hot_s = time.time() - t0
    assert writer.read() == "OK"
    assert cold_s < 0.3, cold_s
    assert hot_s > 0.3, hot_s
    # keyless reads of the whole keyspace wait for the newest write too
    lsn = wal_last_lsn(r)
    writer.send_cmd("SET", "hot2", "x")
    wait_logged(r, lsn)
    t0 = time.time()
    assert reader.call("DBSIZE") == 3
    assert time.time() - t0 > 0.3
    assert writer.read() == "OK"
    writer.close()
    reader.close()


def test_writes_of_one_loop_turn_share_one_fdatasync(servers, tmpdir_keel):
    """Group commit: what one event-loop turn wrote is one batch (wal_submit before the sleep),
    so 200 pipelined SETs that arrive in one packet cost one fdatasync, not 200."""
    s = start(servers, tmpdir_keel)
    r = s.client()
    r.set("warm", 1)
    before = info(r, "wal")
    c = s.raw()
    out = []
    for i in range(200):
        out.append(b"*3\r\n$3\r\nSET\r\n$%d\r\nk%d\r\n$1\r\nv\r\n" % (len("k%d" % i), i))
    c.send(b"".join(out))  # ~5 KB: one read, one loop turn
    assert [c.read() for _ in range(200)] == ["OK"] * 200
    c.close()
    after = info(r, "wal")
    assert after["wal_last_lsn"] - before["wal_last_lsn"] == 200
    assert after["wal_fsyncs"] - before["wal_fsyncs"] <= 3, (before, after)
    assert after["wal_batches"] - before["wal_batches"] <= 3, (before, after)


def test_a_write_of_more_keys_than_the_filter_tracks_parks_every_read(servers, tmpdir_keel):
    """A command that changes more keys than the uncommitted-key filter takes per record
    (1,024) turns into a barrier: no read may see any of its keys before its record is
    durable, whichever key it names."""
    s = start(servers, tmpdir_keel, env={"KEEL_DEBUG_WAL_FSYNC_DELAY_MS": "600"})
    r = s.client()
    r.set("other", "o")
    writer = s.raw()
    reader = s.raw()
    for rnd, key in enumerate(("m2999", "m7", "other")):
        args = ["MSET"]
        for i in range(3000):
            args += ["m%d" % i, "v%d.%d" % (rnd, i)]
        writer.send_cmd(*args)
        # executed; its record is being synced (a barrier parks INFO too: wait_logged can't tell)
        time.sleep(0.1)
        t0 = time.time()
        got = reader.call("GET", key)
        waited = time.time() - t0
        assert got == (b"o" if key == "other" else b"v%d.%s" % (rnd, key[1:].encode()))
        assert waited > 0.2, (key, waited)
        assert writer.read() == "OK"
    writer.close()
    reader.close()


def test_verbatim_writes_are_logged_as_sent_or_encoded_again(servers, tmpdir_keel):
    """A write logged as its own call is copied from the bytes it arrived as when they are a
    multibulk in the query buffer (net_raw_command), and encoded again when they are not
    (inline commands, commands queued in MULTI): every form replays to the same data."""
    s = start(servers, tmpdir_keel)
    c = s.raw()
    c.send(b"SET inline-key inline-value\r\n")
    assert c.read() == "OK"
    c.send(b"*3\r\n$3\r\nsEt\r\n$6\r\nmb-key\r\n$8\r\nmb-value\r\n")
    assert c.read() == "OK"
    c.send(b"*1\r\n$5\r\nMULTI\r\n*4\r\n$5\r\nRPUSH\r\n$1\r\nl\r\n$1\r\na\r\n$1\r\nb\r\n"
           b"*1\r\n$4\r\nEXEC\r\n")
    assert [c.read() for _ in range(3)] == ["OK", "QUEUED", [2]]
    c.close()
    s = restart(servers, s)
    r = s.client()
    assert r.get("inline-key") == b"inline-value"
    assert r.get("mb-key") == b"mb-value"
    assert r.lrange("l", 0, -1) == [b"a", b"b"]


def test_flushall_is_a_barrier_for_every_read(servers, tmpdir_keel):
    s = start(servers, tmpdir_keel, env={"KEEL_DEBUG_WAL_FSYNC_DELAY_MS": "600"})
    r = s.client()
    r.set("k", "v")
    writer = s.raw()
    reader = s.raw()
    writer.send_cmd("FLUSHALL")
    time.sleep(0.05)  # a barrier parks INFO too: wait_logged cannot see it execute
    t0 = time.time()
    assert reader.call("GET", "k") is None
    assert time.time() - t0 > 0.3
    assert writer.read() == "OK"
    writer.close()
    reader.close()


def test_waitaof(servers, tmpdir_keel):
    s = start(servers, tmpdir_keel)
    r = s.client()
    r.set("k", "v")
    assert r.execute_command("WAITAOF", "1", "0", "0") == [1, 0]
    assert r.execute_command("WAITAOF", "0", "0", "0") == [1, 0]
    t0 = time.time()
    assert r.execute_command("WAITAOF", "1", "1", "200") == [1, 0]  # no replicas: times out
    assert time.time() - t0 >= 0.19
    with pytest.raises(redis.ResponseError, match="value must between 0 and 1"):
        r.execute_command("WAITAOF", "2", "0", "0")
    with pytest.raises(redis.ResponseError, match="timeout is negative"):
        r.execute_command("WAITAOF", "1", "0", "-1")
    with pytest.raises(redis.ResponseError, match="not an integer"):
        r.execute_command("WAITAOF", "x", "0", "0")
    with pytest.raises(redis.ResponseError, match="wrong number of arguments"):
        r.execute_command("WAITAOF", "1", "0")


def test_info_wal_fields(servers, tmpdir_keel):
    s = start(servers, tmpdir_keel)
    r = s.client()
    for i in range(30):
        r.set("k%d" % i, "v")
    w = info(r, "wal")
    for f in ("wal_last_lsn", "wal_durable_lsn", "wal_bytes_written", "wal_segments_created",
              "wal_fsyncs", "wal_batches", "wal_records_per_batch", "wal_fsync_latency_p50_us",
              "wal_fsync_latency_p99_us", "wal_healthy", "wal_quorum", "wal_copies", "wal_copy0"):
        assert f in w, f
    assert w["wal_last_lsn"] == 30 and w["wal_durable_lsn"] == 30
    assert w["wal_batches"] >= 1 and w["wal_fsyncs"] >= w["wal_batches"]
    assert w["wal_bytes_written"] > 30 * REC_HDR
    assert w["wal_healthy"] == 1 and w["wal_quorum"] == 1
    assert w["wal_fsync_latency_p99_us"] >= w["wal_fsync_latency_p50_us"] > 0
    p = r.info("persistence")
    assert p["aof_enabled"] == 1 and p["aof_last_write_status"] == "ok"
    assert "wal_last_lsn" in r.info()  # the wal section is in plain INFO


# ---- damage --------------------------------------------------------------------------------


def run_check(*args):
    return subprocess.run([binary("keel-check")] + list(args), capture_output=True, text=True,
                          timeout=60)


def test_damage_in_an_older_segment_refuses_start_naming_the_file(servers, tmpdir_keel):
    # A start goes on in the newest segment (docs/formats/wal.md): 64 KiB values fill the first
    # 1 MiB segment, so the log has an older segment to damage.
    s = start(servers, tmpdir_keel, args=["--wal-segment-size", "1mb"])
    r = s.client()
    for i in range(20):
        r.set("k%d" % i, "v" * 65536)
    s = restart(servers, s, sig="term")
    s.client().set("later", 1)
    s.kill()
    wal = os.path.join(tmpdir_keel, "wal")
    segs = segments(wal)
    assert len(segs) >= 2
    good = run_check("wal", wal)
    assert good.returncode == 0, good.stdout + good.stderr
    assert "21 records" in good.stdout
    off, ln, lsn = records(segs[0])[10]
    flip_byte(segs[0], off + REC_HDR)
    bad = run_check("wal", wal)
    assert bad.returncode == 1
    assert os.path.basename(segs[0]) in bad.stdout + bad.stderr
    s2 = KeelServer(data_dir=tmpdir_keel, durability="sync")
    servers.append(s2)
    with pytest.raises(RuntimeError) as e:
        s2.start(timeout=20)
    assert os.path.basename(segs[0]) in str(e.value)
    assert "Refusing to start" in str(e.value)


def test_keel_check_usage():
    h = run_check("--help")
    assert h.returncode == 0 and "keel-check" in h.stdout
    assert run_check().returncode == 2
    assert run_check("nonsense", "/tmp").returncode == 2


# ---- 1,000,000 records through the server --------------------------------------------------


def test_recovery_of_a_million_records(servers, tmpdir_keel):
    n = int(os.environ.get("KEEL_RECOVERY_RECORDS", "1000000"))
    s = start(servers, tmpdir_keel, "async")
    # raw pipelined writes: the client must not be the bottleneck
    sock = socket.create_connection(("127.0.0.1", s.port))
    chunk = 20000
    reader_done = threading.Event()
    got = [0]

    def drain():
        buf = b""
        while got[0] < n:
            buf += sock.recv(1 << 20)
            k = buf.count(b"\r\n")
            got[0] += k
            buf = buf[buf.rfind(b"\r\n") + 2:]
        reader_done.set()

    t = threading.Thread(target=drain)
    t.start()
    for base in range(0, n, chunk):
        sock.sendall(b"".join(b"*3\r\n$3\r\nSET\r\n$%d\r\nkey:%d\r\n$8\r\nvalue-%02d\r\n"
                              % (len(b"key:%d" % i), i, i % 100) for i in range(base, base + chunk)))
    assert reader_done.wait(300)
    t.join()
    sock.close()
    assert s.stop() == 0  # clean stop: wal_close flushes and syncs everything
    t0 = time.time()
    s = start(servers, tmpdir_keel, "async")
    wall = time.time() - t0
    m = re.search(r"Log recovered: (\d+) records .* in ([\d.]+) s \((\d+) records/s\)", s.read_log())
    assert m and int(m.group(1)) == n
    print("\nrecovery of %d records through the server: %.2f s replay, %s records/s "
          "(%.2f s to ready)" % (n, float(m.group(2)), m.group(3), wall))
    r = s.client()
    assert r.dbsize() == n
    assert r.get("key:%d" % (n - 1)) == b"value-%02d" % ((n - 1) % 100)

"""keel-restore: the restorable window, point-in-time restore of a recorded workload to several
moments (by lsn: and by time) compared with the state recorded at those moments, and errors."""
import datetime
import fcntl
import glob
import os
import shutil
import struct
import subprocess
import sys
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from keel_harness import KeelServer, binary  # noqa: E402


@pytest.fixture
def live():
    servers = []
    yield servers
    for s in reversed(servers):
        s.cleanup()


def restore(*args):
    return subprocess.run([binary("keel-restore")] + list(args), capture_output=True, text=True,
                          timeout=120)


def state(r):
    out = {}
    for db in (0, 2):
        r.execute_command("SELECT", db)
        for k in r.keys("*"):
            t = r.type(k).decode()
            v = r.get(k) if t == "string" else r.lrange(k, 0, -1) if t == "list" else \
                r.hgetall(k) if t == "hash" else sorted(r.smembers(k))
            out[(db, k)] = v
    r.execute_command("SELECT", 0)
    return out


def lsn(r):
    return r.info("wal")["wal_last_lsn"]


@pytest.fixture
def recorded(live, tmp_path_factory):
    """A sync server with a recorded workload: [(lsn, ms, state)] at moments between rounds,
    with snapshots in between (so restores start from different bases)."""
    s = KeelServer(durability="sync",
                   args=["--wal-segment-size", "1mb", "--snapshot-keep", "1"])
    live.append(s)
    s.start()
    r = s.client()
    marks = []
    for rnd in range(6):
        p = r.pipeline(transaction=False)
        for i in range(300):
            p.set("k%d" % (i % 97), "r%d-%d" % (rnd, i))
            p.incr("counter")
        p.rpush("list", *["r%d" % rnd] * 3)
        p.hset("h", "f%d" % rnd, rnd)
        p.sadd("s", rnd)
        p.delete("k%d" % rnd)
        p.execute()
        r.execute_command("SELECT", 2)
        r.set("db2-%d" % rnd, rnd)
        r.execute_command("SELECT", 0)
        time.sleep(0.02)
        marks.append((lsn(r), int(time.time() * 1000), state(r)))
        time.sleep(0.02)
        if rnd in (1, 3):
            r.execute_command("SAVE")
    yield s, marks
    s.stop()


def check_restored(live, out, expected):
    s = KeelServer(data_dir=out, durability="sync")
    live.append(s)
    s.start()
    got = state(s.client())
    s.stop()
    assert got == expected


def test_list_prints_the_window(recorded):
    s, marks = recorded
    res = restore("--dir", s.dir, "--list")
    assert res.returncode == 0, res.stderr
    assert "restorable window" in res.stdout
    assert "latest" in res.stdout and "lsn:%d" % marks[-1][0] in res.stdout
    assert "archive" in res.stdout and "live" in res.stdout
    assert "snapshot LSN" in res.stdout


def test_restore_by_lsn_to_several_moments(live, recorded, tmp_path):
    s, marks = recorded
    for i in (0, 2, 3, 5):
        out = str(tmp_path / ("lsn%d" % i))
        res = restore("--dir", s.dir, "--to", "lsn:%d" % marks[i][0], "--out", out)
        assert res.returncode == 0, res.stderr
        check_restored(live, out, marks[i][2])


def test_restore_by_time_rfc3339_and_unix_ms(live, recorded, tmp_path):
    s, marks = recorded
    m = marks[1]
    out = str(tmp_path / "ms")
    res = restore("--dir", s.dir, "--to", str(m[1]), "--out", out)
    assert res.returncode == 0, res.stderr
    check_restored(live, out, m[2])
    m = marks[4]
    t = datetime.datetime.fromtimestamp(m[1] / 1000, datetime.timezone.utc)
    out = str(tmp_path / "rfc")
    res = restore("--dir", s.dir, "--to", t.isoformat(timespec="milliseconds"), "--out", out)
    assert res.returncode == 0, res.stderr
    check_restored(live, out, m[2])


def test_restore_never_writes_into_the_source(recorded, tmp_path):
    s, marks = recorded
    before = {os.path.join(d, f): os.path.getmtime(os.path.join(d, f))
              for d, _, fs in os.walk(s.dir) for f in fs if not f.endswith(".log")}
    res = restore("--dir", s.dir, "--to", "lsn:%d" % marks[2][0], "--out", str(tmp_path / "o"))
    assert res.returncode == 0
    after = {os.path.join(d, f): os.path.getmtime(os.path.join(d, f))
             for d, _, fs in os.walk(s.dir) for f in fs if not f.endswith(".log")}
    assert before == after


def test_errors(recorded, tmp_path):
    s, marks = recorded
    res = restore("--help")
    assert res.returncode == 0 and "--to" in res.stdout
    res = restore("--dir", s.dir, "--to", "lsn:%d" % (marks[-1][0] + 1000), "--out",
                  str(tmp_path / "a"))
    assert res.returncode != 0 and "latest restorable moment is lsn:%d" % marks[-1][0] in res.stderr
    res = restore("--dir", s.dir, "--to", "2001-01-01T00:00:00Z", "--out", str(tmp_path / "b"))
    assert res.returncode != 0 and "earliest restorable moment is" in res.stderr
    res = restore("--dir", s.dir, "--to", "yesterday", "--out", str(tmp_path / "c"))
    assert res.returncode != 0 and "expected an RFC 3339 time" in res.stderr
    full = tmp_path / "full"
    full.mkdir()
    (full / "x").write_text("x")
    res = restore("--dir", s.dir, "--to", "lsn:%d" % marks[0][0], "--out", str(full))
    assert res.returncode != 0 and "not empty" in res.stderr
    res = restore("--dir", s.dir, "--to", "lsn:1")
    assert res.returncode == 2
    res = restore("--dir", str(tmp_path / "nope"), "--list")
    assert res.returncode == 2 and "not a directory" in res.stderr


# ---- fallback past a damaged snapshot ------------------------------------------------------


def wait_bgsave(r, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if r.info("persistence")["rdb_bgsave_in_progress"] == 0:
            return
        time.sleep(0.02)
    raise AssertionError("BGSAVE did not finish")


def snapshots(d):
    return sorted(glob.glob(os.path.join(d, "snapshots", "snap-*.ksnap")))


def damage_first_chunk(path):
    """Flips a byte in the middle of the first CHUNK section's payload (docs/formats/snapshot.md:
    64-byte header, then sections of a 48-byte header: magic, u16 type, ..., u64 len at 8).
    Header, trailer and table stay sound, so only a load finds it."""
    with open(path, "r+b") as f:
        data = bytearray(f.read())
        off = 64
        while True:
            magic, typ, _flags, _since, ln = struct.unpack_from("<IHBBQ", data, off)
            assert magic == 0x4345534b, "no section at %d" % off
            if typ == 1:
                break
            off += 48 + ln
        data[off + 48 + ln // 2] ^= 0x5A
        f.seek(0)
        f.write(data)


def fill(r, tag, n=2000):
    p = r.pipeline(transaction=False)
    for i in range(n):
        p.set("k%d" % i, "%s-%d" % (tag, i))
    p.rpush("list", tag)
    p.hset("h", tag, n)
    p.execute()
    r.execute_command("SELECT", 2)
    r.sadd("s", tag)
    r.execute_command("SELECT", 0)


def test_restore_falls_back_past_a_damaged_snapshot(live, tmp_path):
    s = KeelServer(durability="sync")
    live.append(s)
    s.start()
    r = s.client()
    fill(r, "a")
    r.bgsave()
    wait_bgsave(r)
    fill(r, "b", 1500)
    r.delete("k7")
    r.bgsave()
    wait_bgsave(r)
    fill(r, "c", 1000)
    r.delete("k1999")
    expected, last = state(r), lsn(r)
    assert s.stop() == 0
    older, newest = snapshots(s.dir)[-2:]
    damage_first_chunk(newest)
    assert subprocess.run([binary("keel-check"), "snapshot", newest],
                          capture_output=True).returncode == 1
    out = str(tmp_path / "out")
    res = restore("--dir", s.dir, "--to", "lsn:%d" % last, "--out", out)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "skipping snapshot %s" % newest in res.stderr
    assert "checksum" in res.stderr  # why it was skipped
    assert "using snapshot %s" % older in res.stderr
    check_restored(live, out, expected)


def test_restore_fails_cleanly_when_no_base_loads(live, tmp_path):
    # One snapshot kept, no retention: the log before the snapshot is deleted, so when the
    # snapshot does not load nothing else can reach the target.
    s = KeelServer(durability="sync", args=["--wal-segment-size", "1mb", "--snapshot-keep", "1",
                                            "--wal-retention", "0"])
    live.append(s)
    s.start()
    r = s.client()
    for i in range(40):
        r.set("big%d" % i, "v" * 65536)
    r.execute_command("SAVE")
    r.set("after", 1)
    last = lsn(r)
    assert s.stop() == 0
    assert not os.path.exists(os.path.join(s.dir, "wal", "wal-%020d.log" % 1))
    (snap,) = snapshots(s.dir)
    damage_first_chunk(snap)
    out = str(tmp_path / "out")
    res = restore("--dir", s.dir, "--to", "lsn:%d" % last, "--out", out)
    assert res.returncode == 1, res.stdout + res.stderr
    assert "skipping snapshot %s" % snap in res.stderr
    assert "nothing can restore lsn:%d" % last in res.stderr
    assert "does not reach back to LSN 1" in res.stderr
    assert not os.path.exists(out)  # no half-made data directory is left


# ---- locks and where --out may be --------------------------------------------------------


def hold_lock(d, pid):
    """Holds d/keel.lock as a running server does: exclusive flock, its PID in the file."""
    f = open(os.path.join(d, "keel.lock"), "a+")
    fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    f.truncate(0)
    f.write("%d\n" % pid)
    f.flush()
    return f


def test_restore_reads_a_directory_a_live_server_holds_and_says_so(live, recorded, tmp_path):
    s, marks = recorded  # the recording server runs and holds its directory's lock
    pid = "(pid %d)" % s.proc.pid
    out = str(tmp_path / "o")
    res = restore("--dir", s.dir, "--to", "lsn:%d" % marks[3][0], "--out", out)
    assert res.returncode == 0, res.stderr
    msg = [ln for ln in res.stderr.splitlines() if "in use by a running server" in ln]
    assert len(msg) == 1 and pid in msg[0] and "durable" in msg[0]
    check_restored(live, out, marks[3][2])
    res = restore("--dir", s.dir, "--list")
    assert res.returncode == 0 and pid in res.stderr


def test_restore_locks_out_while_writing_it(recorded, tmp_path):
    s, marks = recorded
    out = tmp_path / "busy"
    out.mkdir()
    lock = hold_lock(str(out), 4343)
    try:
        res = restore("--dir", s.dir, "--to", "lsn:%d" % marks[0][0], "--out", str(out))
        assert res.returncode == 1
        assert "in use by another process (pid 4343)" in res.stderr
        assert sorted(os.listdir(out)) == ["keel.lock"]  # nothing written beside the owner
    finally:
        lock.close()
    res = restore("--dir", s.dir, "--to", "lsn:%d" % marks[0][0], "--out", str(out))
    assert res.returncode == 0, res.stderr
    with open(out / "keel.lock") as f:
        assert f.read().strip() != "4343"  # the restore held it itself while writing


def test_restore_refuses_an_out_inside_the_source(recorded, tmp_path):
    s, marks = recorded
    to = "lsn:%d" % marks[0][0]
    res = restore("--dir", s.dir, "--to", to, "--out", s.dir)
    assert res.returncode == 2 and "is the --dir" in res.stderr
    res = restore("--dir", s.dir, "--to", to, "--out", s.dir + "/")
    assert res.returncode == 2 and "is the --dir" in res.stderr
    link = str(tmp_path / "link")
    os.symlink(s.dir, link)
    res = restore("--dir", s.dir, "--to", to, "--out", link)
    assert res.returncode == 2 and "is the --dir" in res.stderr
    res = restore("--dir", s.dir, "--to", to, "--out", os.path.join(s.dir, "wal", "x"))
    assert res.returncode == 2 and "inside the live log copy" in res.stderr
    res = restore("--dir", s.dir, "--to", to, "--out", os.path.join(s.dir, "wal-archive", "x"))
    assert res.returncode == 2 and "inside the log archive" in res.stderr
    other_wal = tmp_path / "otherwal"
    shutil.copytree(os.path.join(s.dir, "wal"), other_wal)
    res = restore("--dir", s.dir, "--wal-dir", str(other_wal), "--to", to, "--out",
                  str(other_wal / "sub"))
    assert res.returncode == 2 and "inside the live log copy" in res.stderr
    assert not os.path.exists(os.path.join(s.dir, "wal", "x"))
    assert not os.path.exists(other_wal / "sub")

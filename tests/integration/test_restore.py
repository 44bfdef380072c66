"""keel-restore: the restorable window, point-in-time restore of a recorded workload to several
moments (by lsn: and by time) compared with the state recorded at those moments, and errors."""
import datetime
import os
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

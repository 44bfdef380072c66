"""SIGKILL of the server while a BGSAVE child writes: the child dies with it (no writer left
behind holding the port), the .tmp is ignored and removed at start, every acknowledged write is
there after the restart (from the older snapshot + the log)."""
import glob
import os
import sys
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from keel_harness import KeelServer  # noqa: E402


@pytest.fixture
def live():
    servers = []
    yield servers
    for s in reversed(servers):
        s.cleanup()


def child_pids(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split()[2] != "Z"
    except OSError:
        return False


def test_sigkill_during_bgsave_loses_nothing(live):
    os.environ["KEEL_DEBUG_SNAPSHOT_DELAY_MS"] = "5000"
    try:
        s = KeelServer(durability="sync")
        live.append(s)
        s.start()
    finally:
        del os.environ["KEEL_DEBUG_SNAPSHOT_DELAY_MS"]
    r = s.client()
    for i in range(2000):
        r.set("a%d" % i, i)
    r.execute_command("SAVE")  # an older complete snapshot (the delay applies to it too)
    p = r.pipeline(transaction=False)
    for i in range(2000):
        p.set("b%d" % i, i)
    p.execute()
    r.execute_command("BGSAVE")
    deadline = time.time() + 10
    while not glob.glob(os.path.join(s.dir, "snapshots", "*.tmp")) and time.time() < deadline:
        time.sleep(0.02)
    assert glob.glob(os.path.join(s.dir, "snapshots", "*.tmp")), "the child writes a .tmp"
    kids = child_pids(s.proc.pid)
    assert kids, "a BGSAVE child exists"
    for i in range(100):  # acknowledged while the child runs
        r.set("c%d" % i, i)
    s.kill()
    deadline = time.time() + 5
    while any(alive(k) for k in kids) and time.time() < deadline:
        time.sleep(0.02)
    assert not any(alive(k) for k in kids), "the child dies with the server"
    s2 = KeelServer(data_dir=s.dir, durability="sync", port=s.port)  # the port is free again
    live.append(s2)
    s2.start()
    r = s2.client()
    assert r.dbsize() == 4100
    vals = r.mget(["a%d" % i for i in range(2000)] + ["b%d" % i for i in range(2000)] +
                  ["c%d" % i for i in range(100)])
    assert vals == [str(i).encode() for i in range(2000)] * 2 + [str(i).encode() for i in range(100)]
    assert not glob.glob(os.path.join(s.dir, "snapshots", "*.tmp"))
    assert len(glob.glob(os.path.join(s.dir, "snapshots", "*.ksnap"))) == 1

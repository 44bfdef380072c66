"""Crash test: SIGKILL keel-server (durability sync) at random moments under concurrent writers.

Each cycle starts the server on the same data directory, runs ~30 client threads (SET of unique
keys, INCR of counters, LPUSH when lists exist, MULTI/EXEC pairs) for a random 0.3-1.2 s, kills
the server with SIGKILL, restarts it and checks every write acknowledged so far in ANY cycle is
there and nothing never sent is (crash_lib.Workload.verify). Cycles: 20 with CI=true, else 6,
or KEEL_CRASH_CYCLES.
"""
import os
import random
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
from crash_lib import KeelServer, Workload, cycles, has_cmd  # noqa: E402

THREADS = 30


def test_sigkill_loses_no_acknowledged_write():
    d = tempfile.mkdtemp(prefix="keel-crash-")
    s = None
    rnd = random.Random(int(os.environ.get("KEEL_CRASH_SEED", "1")))
    try:
        s = KeelServer(data_dir=d, durability="sync").start()
        r = s.client()
        w = Workload(has_cmd(r, "incr"), has_cmd(r, "lpush"))
        r.close()
        n = cycles(6)
        for i in range(n):
            w.run(s.port, THREADS, rnd.uniform(0.3, 1.2), s.kill)
            s = KeelServer(data_dir=d, durability="sync").start()
            r = s.client()
            summary = w.verify(r)
            r.close()
            print("cycle %d/%d: %s" % (i + 1, n, summary))
        assert len(w.acked_sets) > 100 * n  # the workload really ran
    finally:
        if s:
            s.kill()
        shutil.rmtree(d, ignore_errors=True)

"""Crash test: the disk fills up under the log. The data directory lives on a small loop-mounted
ext4 image, nearly full; writers run until the log fails (ENOSPC on a write or on a new
segment), then the server is killed, the space is given back and the server restarts. Every reply
is checked against what is there after the restart (crash_lib.Workload.verify):
  - a success means the write is there (it was durable on the quorum before the failure);
  - "durability unknown" means it may or may not be;
  - "write refused" means it was never applied;
  - any other error is a bug.
Needs root and a loop device (skipped otherwise, like the power-cut test)."""
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading

import pytest
import redis

sys.path.insert(0, os.path.dirname(__file__))
import test_crash_powercut as pc  # noqa: E402
from crash_lib import KeelServer, Workload, has_cmd  # noqa: E402

THREADS = 20
FREE_MB = 4  # left free on the image before the writers start
BIG = 128 * 1024  # a big writer's values fill the disk within a second or two
ARGS = ["--wal-segment-size", "1mb", "--snapshot-wal-bytes", "0", "--snapshot-interval-s", "0"]


def fill_to(path, free_mb):
    st = os.statvfs(os.path.dirname(path))
    free = st.f_bavail * st.f_frsize
    size = max(0, free - (free_mb << 20))
    with open(path, "wb") as f:
        f.truncate(0)
        chunk = b"\0" * (1 << 20)
        while size > 0:
            n = min(size, len(chunk))
            f.write(chunk[:n])
            size -= n
        f.flush()
        os.fsync(f.fileno())


class BigWriter:
    """SETs of big values until the first error: acked ones must survive, refused ones not."""

    def __init__(self, port):
        self.port, self.acked, self.sent, self.refused, self.errors = port, [], [], [], []
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        r = redis.Redis(port=self.port, socket_timeout=20)
        try:
            for i in range(100000):
                k = "big:%d" % i
                self.sent.append(k)
                r.set(k, (k + ":").encode() * (BIG // 8))
                self.acked.append(k)
        except redis.exceptions.ResponseError as e:
            if "write refused" in str(e):
                self.refused.append(self.sent[-1])
            elif "durability unknown" not in str(e):
                self.errors.append(repr(e))
        except (redis.exceptions.ConnectionError, OSError):
            pass

    def verify(self, r):
        assert not self.errors, self.errors
        for k in self.acked:
            v = r.get(k)
            assert v is not None and v.startswith(k.encode() + b":"), "acknowledged %s lost" % k
        for k in self.refused:
            assert r.get(k) is None, "refused write %s was applied" % k


@pytest.mark.serial  # a loop device, as test_crash_powercut
@pytest.mark.skipif(pc.skip_reason() is not None, reason=str(pc.skip_reason()))
def test_a_full_disk_loses_no_acknowledged_write_and_answers_the_rest_exactly():
    root = tempfile.mkdtemp(prefix="keel-diskfull-")
    fs = s = None
    try:
        fs = pc.LoopFs(root, image_mb=64)
        data = os.path.join(fs.mnt, "data")
        s = KeelServer(args=ARGS, data_dir=data, durability="sync")
        s.log_path = os.path.join(root, "server.log")
        s.start()
        filler = os.path.join(fs.mnt, "filler")
        fill_to(filler, FREE_MB)
        r = s.client()
        w = Workload(has_cmd(r, "incr"), has_cmd(r, "lpush"))
        r.close()
        big = BigWriter(s.port)
        big.thread.start()
        w.run(s.port, THREADS, random.Random(3).uniform(4, 5), lambda: None)
        big.thread.join(60)
        log = s.read_log()
        assert "transaction log failed" in log, "the disk never filled:\n" + log[-3000:]
        s.kill()
        os.unlink(filler)  # the operator's fix: free space, restart
        s = KeelServer(args=ARGS, data_dir=data, durability="sync")
        s.log_path = os.path.join(root, "server.log")
        s.start()
        r = s.client()
        big.verify(r)
        for i in range(0, len(big.sent), 500):  # the workload's check counts every key
            r.delete(*big.sent[i:i + 500])
        print("after the disk filled: %s; big values acked %d" % (w.verify(r), len(big.acked)))
        assert len(w.acked_sets) > 100 and big.acked
        r.close()
    finally:
        if s:
            s.kill()
        if fs:
            fs.destroy()
        shutil.rmtree(root, ignore_errors=True)
        subprocess.run(["sync"], check=False)

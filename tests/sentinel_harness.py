"""sentinel_harness - real redis-sentinel processes on 127.0.0.1 for the tests.

Each Sentinel gets its own configuration file in its own temporary directory (Sentinel rewrites
that file as it learns replicas, peers and new primaries). Every process started here is killed
by PID when the test ends, also when it fails: callers call cleanup() in a finally block or a
fixture, and an atexit hook kills anything left.
"""
import atexit
import os
import shutil
import signal
import subprocess
import tempfile
import time

import redis

from keel_harness import free_port, wait_for  # noqa: F401 (re-exported)

SENTINEL_BIN = os.environ.get("REDIS_SENTINEL", "/usr/bin/redis-sentinel")
_live = set()


def _kill_all():
    for p in list(_live):
        try:
            p.kill()
        except OSError:
            pass


atexit.register(_kill_all)


class SentinelProc:
    """One redis-sentinel monitoring `name` at 127.0.0.1:`primary_port`."""

    def __init__(self, name, primary_port, quorum=2, down_after_ms=1000, failover_timeout_ms=5000,
                 port=None):
        self.name = name
        self.port = port or free_port()
        self.dir = tempfile.mkdtemp(prefix="keel-sentinel-")
        self.conf = os.path.join(self.dir, "sentinel.conf")
        self.log_path = os.path.join(self.dir, "sentinel.log")
        with open(self.conf, "w") as f:
            f.write("port %d\nbind 127.0.0.1\ndir %s\nlogfile \"\"\n" % (self.port, self.dir))
            f.write("sentinel monitor %s 127.0.0.1 %d %d\n" % (name, primary_port, quorum))
            f.write("sentinel down-after-milliseconds %s %d\n" % (name, down_after_ms))
            f.write("sentinel failover-timeout %s %d\n" % (name, failover_timeout_ms))
            f.write("sentinel parallel-syncs %s 2\n" % name)
        self.proc = None

    def start(self, timeout=10):
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([SENTINEL_BIN, self.conf], stdout=self.log,
                                     stderr=subprocess.STDOUT, cwd=self.dir)
        _live.add(self.proc)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("redis-sentinel exited:\n" + self.read_log())
            try:
                if self.client().ping():
                    return self
            except redis.exceptions.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("redis-sentinel did not start:\n" + self.read_log())

    def client(self, **kw):
        kw.setdefault("socket_timeout", 5)
        return redis.Redis(port=self.port, decode_responses=True, **kw)

    def primary_addr(self):
        """(host, port) Sentinel gives for the primary now, or None."""
        try:
            a = self.client().execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", self.name)
        except redis.exceptions.RedisError:
            return None
        return (a[0], int(a[1])) if a else None

    def read_log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)
        _live.discard(self.proc)

    def cleanup(self):
        self.kill()
        if self.proc is not None:
            self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)




REFUSED = "Refused command"


def refused_lines(log_text):
    """The lines where a Keel node logged a command it refused (unknown command or subcommand,
    wrong arity, not allowed in MULTI): logged at verbose level."""
    return [l for l in log_text.splitlines() if REFUSED in l]

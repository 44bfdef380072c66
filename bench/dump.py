#!/usr/bin/python3
"""dump.py - DUMP / RESTORE / MIGRATE side by side: keel-server and a peer (valkey-server or
redis-server), each on a free port of 127.0.0.1 with no persistence, killed by PID at the end.

For each value (N elements: a hash, a sorted set, a list, a set of integers; and N/10 strings of
100 bytes for MIGRATE) it prints the median time of DUMP and of RESTORE over REPEAT runs and the
payload size, for both servers, then the time of MIGRATE ... KEYS of the strings to the other
server of the same kind. A measurement, not a test.

Usage: bench/dump.py [N] [REPEAT]      (defaults 100000 and 5)
  env KEEL  the keel-server binary (default build/keel-server)
  env PEER  the peer's binary (default valkey-server on PATH, else redis-server)
"""
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import redis

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KEEL = os.environ.get("KEEL", os.path.join(ROOT, "build", "keel-server"))
PEER = os.environ.get("PEER") or shutil.which("valkey-server") or shutil.which("redis-server")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Server:
    def __init__(self, binary, keel):
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="keel-bench-dump-")
        args = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir]
        args += ["--durability", "off"] if keel else ["--save", "", "--appendonly", "no"]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.r = redis.Redis(port=self.port, socket_timeout=120)
        for _ in range(400):
            try:
                self.r.ping()
                return
            except redis.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("%s did not start" % binary)

    def close(self):
        self.proc.kill()
        self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def fill(r, n):
    p = r.pipeline(transaction=False)
    for i in range(0, n, 1000):
        chunk = range(i, min(n, i + 1000))
        p.hset("hash", mapping={"field:%d" % j: "value:%d" % j for j in chunk})
        p.zadd("zset", {"member:%d" % j: j * 0.5 for j in chunk})
        p.rpush("list", *["element:%d" % j for j in chunk])
        p.sadd("set", *chunk)
    for i in range(n // 10):
        p.set("str:%d" % i, "x" * 90 + "%010d" % i)
    p.execute()


def timed(fn, repeat):
    times = []
    out = None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000, out


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100000
    repeat = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    servers = {"keel": [Server(KEEL, True), Server(KEEL, True)],
               os.path.basename(PEER): [Server(PEER, False), Server(PEER, False)]}
    try:
        print("%-14s %-6s %12s %12s %12s" % ("server", "value", "DUMP ms", "RESTORE ms", "bytes"))
        for name, (a, b) in servers.items():
            fill(a.r, n)
            for key in ("hash", "zset", "list", "set"):
                dump_ms, payload = timed(lambda: a.r.dump(key), repeat)
                restore_ms, _ = timed(lambda: a.r.restore(key + ":copy", 0, payload, replace=True),
                                      repeat)
                print("%-14s %-6s %12.1f %12.1f %12d" % (name, key, dump_ms, restore_ms,
                                                         len(payload)))
            keys = ["str:%d" % i for i in range(n // 10)]
            t = time.perf_counter()
            a.r.migrate("127.0.0.1", b.port, keys, 0, 60000, copy=True, replace=True)
            print("%-14s MIGRATE COPY of %d strings of 100 bytes: %.1f ms" %
                  (name, len(keys), (time.perf_counter() - t) * 1000))
    finally:
        for pair in servers.values():
            for s in pair:
                s.close()


if __name__ == "__main__":
    main()

"""Replication between the current build and the previous release (tests/releases.txt), built
from git history by conftest.py, in both directions.

Each direction: the primary takes writes of every type (with TTLs, counters, deletions, a
MULTI/EXEC), saves a snapshot and takes more; a writer keeps going while the replica attaches
(a full sync: the snapshot, then the records after it), streams, is SIGKILLed and restarted on
its data directory (a partial resync, no second full sync); then keys whose short TTL passed are
expired on the primary (their DELs stream too) and every key's type, value and absolute expiry
is compared on both sides.

Two versions that cannot replicate may refuse each other, but only explicitly: the replica's
INFO replication keel_link_error and both servers' logs name the versions, and the link stays
down. That is checked against the real builds when it happens, and always against a stand-in
primary that refuses (so the check itself is known to work on both builds' replica side).
"""
import re
import socket
import threading
import time

import pytest
import redis

import compat_build
from compat_build import note
from keel_harness import KeelServer, wait_for


# ---- servers and what they hold ----

def start(live, build, args=(), data_dir=None, port=None):
    s = KeelServer(args=list(args), data_dir=data_dir, durability="sync", port=port,
                   bin_path=build.bin)
    live.append(s)
    return s.start()


def restart(live, s, build):
    return start(live, build, s.args, data_dir=s.dir, port=s.port)


def repl_info(c):
    return c.info("replication")


def wait_caught_up(pc, rc, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        target = repl_info(pc)["master_repl_offset"]
        ri = repl_info(rc)
        if ri.get("master_link_status") == "up" and \
                ri.get("keel_applied_lsn", ri["slave_repl_offset"]) >= target:
            return target
        time.sleep(0.05)
    raise AssertionError("replica did not catch up: primary %s, replica %s" %
                         (repl_info(pc), repl_info(rc)))


def contents(c):
    """Every key: its type, value and absolute expiry in ms (PEXPIRETIME; -1 for none)."""
    out = {}
    for k in c.scan_iter(count=1000):
        t = c.type(k)
        if t == b"string":
            v = c.get(k)
        elif t == b"list":
            v = tuple(c.lrange(k, 0, -1))
        elif t == b"hash":
            v = tuple(sorted(c.hgetall(k).items()))
        elif t == b"set":
            v = tuple(sorted(c.smembers(k)))
        elif t == b"zset":
            v = tuple(c.zrange(k, 0, -1, withscores=True))
        else:
            v = ("unexpected type",)
        out[k] = (t, v, c.execute_command("PEXPIRETIME", k))
    return out


def assert_same(pc, rc, what):
    p, r = contents(pc), contents(rc)
    if p == r:
        return p
    only_p = sorted(set(p) - set(r))[:10]
    only_r = sorted(set(r) - set(p))[:10]
    differ = [(k, p[k], r[k]) for k in sorted(set(p) & set(r)) if p[k] != r[k]][:10]
    raise AssertionError("%s: primary %d keys, replica %d; only on the primary %s; only on the "
                         "replica %s; different %s" % (what, len(p), len(r), only_p, only_r,
                                                       differ))


# ---- writes ----

def write_batch(c, prefix, n):
    """Every type, with TTLs, counters, overwrites and deletions, and one MULTI/EXEC."""
    p = c.pipeline(transaction=False)
    for i in range(n):
        p.set("%s:s:%d" % (prefix, i), "v%d" % i)
        p.rpush("%s:l:%d" % (prefix, i % 8), i)
        p.hset("%s:h:%d" % (prefix, i % 8), "f%d" % i, i)
        p.sadd("%s:set:%d" % (prefix, i % 8), i)
        p.zadd("%s:z:%d" % (prefix, i % 8), {"m%d" % i: i / 7})
        p.incr("%s:ctr" % prefix)
        if i % 5 == 0:
            p.expire("%s:s:%d" % (prefix, i), 5000)
            p.incrby("%s:ctr:%d" % (prefix, i % 3), i)
            p.append("%s:s:%d" % (prefix, i), "+")
        if i % 9 == 0:
            p.delete("%s:s:%d" % (prefix, i - 1))
            p.lpop("%s:l:%d" % (prefix, i % 8))
            p.hdel("%s:h:%d" % (prefix, i % 8), "f%d" % (i - 8))
            p.srem("%s:set:%d" % (prefix, i % 8), i - 8)
            p.zincrby("%s:z:%d" % (prefix, i % 8), 2.5, "m%d" % (i - 8))
        if i % 13 == 0:
            p.setex("%s:ex:%d" % (prefix, i), 3000, "e")
            p.pexpire("%s:h:%d" % (prefix, i % 8), 4000000)
            p.persist("%s:s:%d" % (prefix, i - 5))
    p.execute()
    c.execute_command("MULTI")
    c.execute_command("SET", prefix + ":tx", "a")
    c.execute_command("LPUSH", prefix + ":txl", "b")
    c.execute_command("DECR", prefix + ":ctr")
    c.execute_command("EXEC")


class Writer:
    """A client writing without pause (mixed types, some keys with a 300 ms TTL) until stopped."""

    def __init__(self, server):
        self.c = server.client()
        self.n = 0
        self.error = None
        self.short_ttl = []
        self.stop_ev = threading.Event()
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self):
        try:
            while not self.stop_ev.is_set():
                i = self.n
                self.c.set("w:s:%d" % i, "x" * (i % 50))
                self.c.rpush("w:l:%d" % (i % 4), i)
                self.c.hincrby("w:h", "f%d" % (i % 16), 1)
                self.c.zadd("w:z", {"m%d" % (i % 64): i})
                self.c.sadd("w:set", i % 100)
                if i % 10 == 0:
                    k = "w:short:%d" % i
                    self.c.set(k, i, px=300)
                    self.short_ttl.append(k)
                self.n += 1
        except Exception as e:  # reported by stop()
            self.error = e

    def stop(self):
        self.stop_ev.set()
        self.t.join(30)
        assert not self.t.is_alive(), "the writer hung"
        assert self.error is None, "the writer failed: %r" % self.error
        return self.n




# ---- refusals ----

def link_error(rc):
    return str(repl_info(rc).get("keel_link_error", "") or "")


def is_refusal(err):
    """A protocol refusal by the primary, not a TCP error such as 'Connection refused'."""
    return bool(err) and "refused" in err.replace("Connection refused", "")


def wait_linked_or_refused(rc, timeout=60):
    """'up' once the replica's link is up, else the refusal text once one shows."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        ri = repl_info(rc)
        if ri.get("master_link_status") == "up":
            return "up"
        err = str(ri.get("keel_link_error", "") or "")
        if is_refusal(err):
            return err
        time.sleep(0.05)
    raise AssertionError("the replica neither linked nor was refused in %d s: %s" %
                         (timeout, repl_info(rc)))


def check_explicit_refusal(err, rc, logs, versions):
    """The refusal names the versions (Keel version or format number), every given log
    (a callable returning its text) holds it, and the link stays down."""
    assert re.search(r"(format|version)\D{0,12}\d|\b\d+\.\d+\.\d+\b", err) or \
        any(v in err for v in versions), "the refusal names no version: %r" % err
    core = re.sub(r"^.*?refused:\s*", "", err)
    core = re.sub(r"^-?ERR\s+", "", core)[:60]
    for name, read in logs:
        wait_for(lambda: core in read(), 5, "%r in the %s log" % (core, name))
    time.sleep(1.5)
    ri = repl_info(rc)
    assert ri["master_link_status"] == "down", "a refused link came up: %s" % ri
    assert is_refusal(str(ri.get("keel_link_error", ""))), ri


# ---- the two directions ----

def replicate(live, primary_build, replica_build):
    label = "%s primary -> %s replica" % (primary_build, replica_build)
    p = start(live, primary_build)
    pc = p.client()
    write_batch(pc, "base", 400)
    pc.save()  # the full sync sends this snapshot, then the records after it
    write_batch(pc, "tail", 200)
    writer = Writer(p)
    try:
        wait_for(lambda: writer.n > 20 or writer.error, 10, "the writer to start")
        r = start(live, replica_build, ["--replicaof", "127.0.0.1 %d" % p.port])
        rc = r.client()
        outcome = wait_linked_or_refused(rc)
        if outcome != "up":
            check_explicit_refusal(outcome, rc, [("replica", r.read_log), ("primary", p.read_log)],
                                   [primary_build.version, replica_build.version])
            note("%s: REFUSED explicitly: %s" % (label, outcome))
            return
        stats = pc.info("stats")
        assert stats["sync_full"] == 1, stats
        full_at_attach = stats["sync_full"]
        time.sleep(0.5)  # streaming under load
        at_kill = writer.n
        r.kill()  # SIGKILL mid-stream
        time.sleep(0.4)
        partial_before = pc.info("stats")["sync_partial_ok"]
        at_restart = writer.n
        assert at_restart > at_kill, "nothing was written while the replica was down"
        r = restart(live, r, replica_build)
        rc = r.client()
        time.sleep(0.5)
    finally:
        written = writer.stop()
    write_batch(pc, "after", 200)
    # The short-TTL keys expire on the primary (a read expires them at once) and their DELs
    # reach the replica through the stream like any other record.
    time.sleep(0.35)
    for k in writer.short_ttl:
        assert pc.exists(k) == 0, k
    wait_caught_up(pc, rc)
    stats = pc.info("stats")
    assert stats["sync_full"] == full_at_attach, "the restart caused a full sync: %s" % stats
    assert stats["sync_partial_ok"] >= partial_before + 1, stats
    same = assert_same(pc, rc, label)
    assert not any(k in same for k in [x.encode() for x in writer.short_ttl])
    with pytest.raises(redis.exceptions.ReadOnlyError):
        rc.set("x", 1)
    info = repl_info(pc)
    assert info["connected_slaves"] == 1, info
    assert info["slave0"]["keel_version"] == replica_build.version, info["slave0"]
    assert rc.info("server")["keel_version"] == replica_build.version
    assert pc.info("server")["keel_version"] == primary_build.version
    types = sorted({v[0].decode() for v in same.values()})
    note("%s: OK, full sync then streaming, SIGKILL of the replica and a partial resync "
         "(%d streamed write rounds); %d keys identical in type, value and expiry (%s)" %
         (label, written, len(same), ", ".join(types)))


def test_current_primary_older_replica(live, current, older):
    replicate(live, current, older)


def test_older_primary_current_replica(live, older, current):
    replicate(live, older, current)


# ---- the refusal check, against a stand-in primary ----

class RefusingPrimary:
    """Reads the replica's handshake and refuses its keel-version announcement as a primary
    with a newer record format would (server/repl/repl.c)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        self.announced = []
        self.log = []
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                try:
                    self.handshake(conn.makefile("rb"), conn)
                except (OSError, ValueError):
                    pass

    def handshake(self, f, conn):
        while True:
            line = f.readline()
            if not line.startswith(b"*"):
                return
            argv = []
            for _ in range(int(line[1:])):
                n = int(f.readline()[1:])
                argv.append(f.read(n + 2)[:-2].decode())
            if len(argv) >= 3 and argv[0].upper() == "REPLCONF" and argv[1] == "keel-version":
                self.announced.append(argv)
                msg = ("ERR this primary sends log records of format 99; replica %s reads up "
                       "to %s" % (argv[2], argv[4] if len(argv) > 4 else "?"))
                self.log.append("Replica refused: " + msg[4:])
                conn.sendall(b"-" + msg.encode() + b"\r\n")
            elif argv[0].upper() == "PSYNC":
                conn.sendall(b"-ERR refused above\r\n")
            else:
                conn.sendall(b"+OK\r\n")

    def close(self):
        self.sock.close()


@pytest.mark.parametrize("which", ["older", "current"])
def test_a_refusal_is_reported_by_the_replica(live, request, which):
    build = request.getfixturevalue(which)
    fake = RefusingPrimary()
    try:
        r = start(live, build, ["--replicaof", "127.0.0.1 %d" % fake.port])
        rc = r.client()
        err = wait_linked_or_refused(rc, timeout=20)
        assert err != "up"
        check_explicit_refusal(err, rc, [("replica", r.read_log),
                                         ("stand-in primary", lambda: "\n".join(fake.log))],
                               [build.version])
        assert build.version in err, err  # the replica's own announced version came back
        ann = fake.announced[0]
        assert ann[2] == build.version and ann[3] == "records" and int(ann[4]) >= 1, ann
        assert rc.dbsize() == 0
    finally:
        fake.close()
    note("%s replica: a refusing primary shows as %r" % (build, err))


# ---- the release file ----

def test_release_points_are_well_formed():
    """Unique versions and commits, oldest first (each commit an ancestor of the next one), and
    a local tag v<version> on the listed commit. Commits a shallow clone lacks are left out."""
    root = compat_build.repo_root()
    rels = compat_build.read_releases(compat_build.releases_path(root))
    assert len({r.version for r in rels}) == len(rels), "a version is listed twice"
    assert len({r.commit for r in rels}) == len(rels), "a commit is listed twice"
    present = [r for r in rels if compat_build.has_commit(root, r.commit)]
    for a, b in zip(present, present[1:]):
        assert compat_build.is_ancestor(root, a.commit, b.commit), \
            "tests/releases.txt is not oldest first: %s is not an ancestor of %s" % (a, b)
    for r in present:
        tag = compat_build.git(root, "rev-parse", "--verify", "--quiet",
                               "refs/tags/v%s^{commit}" % r.version, check=False)
        if tag.returncode == 0:
            assert tag.stdout.strip() == r.commit, "tag v%s is not on %s" % (r.version, r.commit)

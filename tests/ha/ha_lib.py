"""ha_lib - a failover harness with real processes on 127.0.0.1: a primary and two replicas (Keel,
or valkey-server given its path), three redis-sentinel processes (quorum 2), and writers that go
through redis-py's Sentinel client (master_for) and record every write that was acknowledged.

A cycle: the writers run; the primary is SIGKILLed at a random moment; the Sentinels promote a
replica; the writers reconnect through Sentinel and go on; the killed node is restarted as it was
(its own configuration file, its own data) and must come back as a replica of the new primary
(Sentinel reconfigures it); the writers stop; then the current primary is checked against what
the writers were told:

- every acknowledged SET key exists with its value (a key whose pipeline failed may be there or
  not, but only with its own value);
- every writer's INCR counter is >= the last value an INCR of it returned and <= the INCRs sent;
- no key is there that no writer sent.

With stall=True (run_cycles), one replica, drawn by the cycle's random generator, is stopped
(SIGSTOP) for longer than wal-quorum-timeout before the kill, so that the primary drops it from
the write quorum's set and goes on committing with the other replica; it is resumed (SIGCONT) and
the primary is killed 0-100 ms later, mostly while the resumed replica is still behind (on the
2-core development machine it catches up and rejoins the set 40-130 ms after the resume, and
reports slave_priority 0 until then): the two replicas differ when the Sentinels choose one. A
stop rather than a cut of the replication link alone: Sentinel reconfigures replicas with the
nodes' real addresses, so a proxy in the link would cover only the first topology, and a firewall
rule would need root and change the whole machine's firewall. A stopped replica does not answer
Sentinel either (it is seen down while stopped), so this is not the window docs/ha.md leaves open
(a link cut both ways while Sentinel still reads the replica's stale priority). The cycle records
what each replica reported just before the kill (slave_priority, slave_repl_offset, keel_in_set)
and which one was promoted.

A lost write is an acknowledged SET whose key is missing or wrong, or the part of a counter below
its last acknowledged value. Keys and counters are checked over every cycle so far, so a write
lost in a later failover is found too. Every process is killed by PID in cleanup() (callers run it
in a finally block), and the temporary directories are removed.
"""
import os
import bisect
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

import redis
from redis.sentinel import Sentinel

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from keel_harness import KeelServer, free_port  # noqa: E402
from sentinel_harness import SentinelProc, refused_lines, wait_for  # noqa: E402

SERVICE = "ha"
KEY_RE = re.compile(rb"^k:(\d+):(\d+)$")
CTR_RE = re.compile(rb"^c:(\d+)$")

# Sentinel's internal periods, shortened (SENTINEL DEBUG, as Redis's own Sentinel tests do) so a
# cycle fits the CI budget: INFO every second instead of 10 s (replicas are seen and a restarted
# node is reconfigured sooner) and hello messages every second instead of 2 s (a node that
# came back as a primary is turned into a replica after 4 s instead of 8 s).
SENTINEL_DEBUG = {"info-period": 1000, "publish-period": 1000}

# KEEL_HA_WIPE_REJOINING=1: the killed node's data is deleted before its restart (Keel only), to
# tell losses of the failover itself from those of an old primary that rejoins with a tail of
# records its successor never had (docs/replication.md, "Divergence").
WIPE_REJOINING = os.environ.get("KEEL_HA_WIPE_REJOINING") == "1"


# ---- nodes -----------------------------------------------------------------------------------------


class KeelNode:
    """A keel-server with durability sync, a verbose log (refused commands show there) and a
    configuration file, so CONFIG REWRITE (sent by Sentinel) decides its role after a restart."""

    kind = "keel"

    def __init__(self, workdir, port, replicaof_port=None):
        self.port = port
        self.dir = os.path.join(workdir, "keel-%d" % port)
        os.makedirs(self.dir)
        self.config_file = os.path.join(self.dir, "keel.conf")
        with open(self.config_file, "w") as f:
            f.write("# ha test node\n")
            # The write quorum counts replicas (docs/ha.md): one local copy + one replica, and
            # every replica of the in-sync set. KEEL_HA_QUORUM=1: asynchronous replication.
            f.write("wal-quorum %s\n" % os.environ.get("KEEL_HA_QUORUM", "2"))
            if replicaof_port:
                f.write("replicaof 127.0.0.1 %d\n" % replicaof_port)
        self.srv = None

    def start(self):
        if self.srv:
            self.srv.log.close()
        self.srv = KeelServer(args=["--loglevel", "verbose"], data_dir=self.dir, durability="sync",
                              port=self.port, config_file=self.config_file)
        self.srv.start(timeout=60)
        return self

    @property
    def pid(self):
        return self.srv.proc.pid if self.srv and self.srv.proc else None

    def kill(self):
        if self.srv:
            self.srv.kill(signal.SIGKILL)

    def wipe(self):
        """Everything but the configuration file and the log: the node comes back empty and
        takes a full sync (docs/replication.md's workaround for a rejoining old primary)."""
        for name in os.listdir(self.dir):
            if name not in ("keel.conf", "server.log"):
                path = os.path.join(self.dir, name)
                shutil.rmtree(path) if os.path.isdir(path) else os.unlink(path)

    def read_log(self):
        return self.srv.read_log() if self.srv else ""

    def refused(self):
        return refused_lines(self.read_log())

    def cleanup(self):
        if self.srv:
            self.srv.kill()
            self.srv.log.close()


class ValkeyNode:
    """A valkey-server with appendonly yes, appendfsync always (every write on disk before its
    reply, as Keel's durability sync) and its usual asynchronous replication."""

    kind = "valkey"

    def __init__(self, workdir, port, replicaof_port=None, binary=None):
        self.port = port
        self.binary = binary or os.environ["VALKEY"]
        self.dir = os.path.join(workdir, "valkey-%d" % port)
        os.makedirs(self.dir)
        self.config_file = os.path.join(self.dir, "valkey.conf")
        self.log_path = os.path.join(self.dir, "server.log")
        with open(self.config_file, "w") as f:
            f.write("port %d\nbind 127.0.0.1\ndir %s\nlogfile \"\"\n" % (port, self.dir))
            f.write("appendonly yes\nappendfsync always\nsave \"\"\n")
            f.write("repl-diskless-sync-delay 0\n")
            if replicaof_port:
                f.write("replicaof 127.0.0.1 %d\n" % replicaof_port)
        self.proc = None

    def start(self):
        if self.proc:
            self.log.close()
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([self.binary, self.config_file], stdout=self.log,
                                     stderr=subprocess.STDOUT, cwd=self.dir)
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("valkey-server exited:\n" + self.read_log())
            try:
                if redis.Redis(port=self.port, socket_timeout=1).ping():
                    return self
            except redis.exceptions.BusyLoadingError:
                time.sleep(0.05)
            except redis.exceptions.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("valkey-server did not start:\n" + self.read_log())

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=60)

    def read_log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def refused(self):
        return []  # Valkey does not log refused commands

    def cleanup(self):
        self.kill()
        if self.proc:
            self.log.close()


def repl_info(port, timeout=2):
    try:
        return redis.Redis(port=port, socket_timeout=timeout,
                           decode_responses=True).info("replication")
    except redis.exceptions.RedisError:
        return {}


def is_replica_of(port, primary_port):
    i = repl_info(port)
    return (i.get("role") == "slave" and i.get("master_port") == primary_port and
            i.get("master_link_status") == "up")


# ---- the cluster -----------------------------------------------------------------------------------


class Cluster:
    """Three nodes (the first the primary) and three Sentinels monitoring them as SERVICE."""

    def __init__(self, make_node, down_after_ms=1000, failover_timeout_ms=4000, quorum=2):
        self.make_node = make_node
        self.down_after_ms = down_after_ms
        self.failover_timeout_ms = failover_timeout_ms
        self.quorum = quorum
        self.workdir = tempfile.mkdtemp(prefix="keel-ha-")
        self.nodes = []
        self.sentinels = []

    def start(self):
        ports = [free_port() for _ in range(3)]
        while len(set(ports)) < 3:
            ports = [free_port() for _ in range(3)]
        self.nodes.append(self.make_node(self.workdir, ports[0], None).start())
        for p in ports[1:]:
            self.nodes.append(self.make_node(self.workdir, p, ports[0]).start())
        for n in self.nodes[1:]:
            wait_for(lambda: is_replica_of(n.port, ports[0]), 60, "replica %d to sync" % n.port)
        for _ in range(3):
            s = SentinelProc(SERVICE, ports[0], quorum=self.quorum,
                             down_after_ms=self.down_after_ms,
                             failover_timeout_ms=self.failover_timeout_ms)
            self.sentinels.append(s)
            s.start()
            args = []
            for k, v in SENTINEL_DEBUG.items():
                args += [k, v]
            s.client().execute_command("SENTINEL", "DEBUG", *args)
        for s in self.sentinels:
            wait_for(lambda: self._sentinel_sees_all(s), 60, "Sentinel %d to see the cluster" % s.port)
        return self

    def _sentinel_sees_all(self, s):
        try:
            flat = s.client().execute_command("SENTINEL", "MASTER", SERVICE)
        except redis.exceptions.RedisError:
            return False
        d = dict(zip(flat[::2], flat[1::2]))
        return d.get("num-slaves") == "2" and d.get("num-other-sentinels") == "2"

    def sentinel_addrs(self):
        return [("127.0.0.1", s.port) for s in self.sentinels]

    def primary_port(self):
        """The primary the Sentinels agree on (every one of them), or None."""
        addrs = {s.primary_addr() for s in self.sentinels}
        if len(addrs) == 1:
            a = addrs.pop()
            return a[1] if a else None
        return None

    def node(self, port):
        return next(n for n in self.nodes if n.port == port)

    def switches(self):
        """+switch-master events in the first Sentinel's log so far."""
        return self.sentinels[0].read_log().count("+switch-master ")

    def pids(self):
        return [n.pid for n in self.nodes] + [s.proc.pid for s in self.sentinels if s.proc]

    def refused(self):
        out = []
        for n in self.nodes:
            out += ["%s:%d %s" % (n.kind, n.port, l) for l in n.refused()]
        return out

    def tails(self, lines=40):
        """The end of every node's and Sentinel's log, for a failure's message."""
        out = []
        for n in self.nodes:
            out.append("---- %s %d (pid %s)" % (n.kind, n.port, n.pid))
            out += n.read_log().splitlines()[-lines:]
        for s in self.sentinels:
            out.append("---- sentinel %d" % s.port)
            out += s.read_log().splitlines()[-lines:]
        return "\n".join(out)

    def cleanup(self, failed=False):
        for s in self.sentinels:
            s.kill()
        for n in self.nodes:
            n.cleanup()
        keep = os.environ.get("KEEL_HA_KEEP")
        if keep and failed:  # the logs and data of a failed or lossy run, for a post-mortem
            dst = os.path.join(keep, os.path.basename(self.workdir))
            shutil.copytree(self.workdir, dst)
            for s in self.sentinels:
                shutil.copytree(s.dir, os.path.join(dst, "sentinel-%d" % s.port))
        for s in self.sentinels:
            s.cleanup()
        shutil.rmtree(self.workdir, ignore_errors=True)


# ---- writers ---------------------------------------------------------------------------------------


class WriterState:
    """What one writer sent and what it was told, over every cycle. Writer w sends SET k:w:seq
    v:w:seq with seq counting up, and INCR c:w once per pipeline."""

    def __init__(self, wid):
        self.wid = wid
        self.next_seq = 0
        self.acked = []  # (first seq, count) of pipelines whose every SET was acknowledged
        self.unknown = 0  # SETs sent whose outcome is unknown (the pipeline failed)
        self.incr_sent = 0
        self.incr_last = 0  # the value the last acknowledged INCR returned
        self.incr_lost = 0  # acknowledged INCRs found gone (a reply at or below an earlier one)
        self.acks = 0  # acknowledged commands (SET and INCR)
        self.cycle_from = 0  # index in acked where the current cycle's pipelines start


class Writer(threading.Thread):
    def __init__(self, st, sentinel_addrs, stop, pipeline_len, on_ack, pace):
        super().__init__(daemon=True)
        self.st, self.stop, self.pipeline_len, self.on_ack = st, stop, pipeline_len, on_ack
        self.pace = pace  # pace(): seconds to wait after a pipeline (0: full speed)
        self.sentinel = Sentinel(sentinel_addrs, socket_timeout=1, socket_connect_timeout=1)
        self.errors = 0
        self.exc = None

    def run(self):
        try:
            self._run()
        except BaseException as e:  # reported by the cycle: a writer must not die silently
            self.exc = e

    def _run(self):
        st = self.st
        r = self.sentinel.master_for(SERVICE, socket_timeout=2, socket_connect_timeout=1)
        while not self.stop.is_set():
            first, n = st.next_seq, self.pipeline_len
            p = r.pipeline(transaction=False)
            for seq in range(first, first + n):
                p.set(b"k:%d:%d" % (st.wid, seq), b"v:%d:%d" % (st.wid, seq))
            p.incr(b"c:%d" % st.wid)
            st.next_seq += n  # sent from here on, whatever happens
            st.incr_sent += 1
            sent_at = time.time()
            try:
                res = p.execute(raise_on_error=False)
            except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError,
                    redis.exceptions.ReadOnlyError, redis.exceptions.ResponseError):
                st.unknown += n
                self.errors += 1
                time.sleep(0.02)
                continue
            ok = all(x is True for x in res[:n])
            if ok:
                st.acked.append((first, n))
                st.acks += n
            else:
                # A partly failed pipeline: its SETs' outcomes are taken as unknown.
                st.unknown += n
                st.acks += sum(1 for x in res[:n] if x is True)
            if isinstance(res[n], int):
                # Each INCR of this writer must return more than the one before: a value at or
                # below it means acknowledged increments are gone (the new primary lacks them).
                if res[n] <= st.incr_last:
                    st.incr_lost += st.incr_last - res[n] + 1
                st.incr_last = res[n]
                st.acks += 1
            self.on_ack(sent_at, time.time())
            wait = self.pace()
            if wait:
                time.sleep(wait)


class Writers:
    """n writers sharing nothing but the Sentinels' addresses; state kept across cycles."""

    def __init__(self, cluster, n=12, pipeline_len=32, slow_rate=3000):
        self.cluster = cluster
        self.n = n
        self.slow_rate = slow_rate  # commands/s of all writers together once slowed
        self.slow = False
        self.states = [WriterState(w) for w in range(n)]
        self.pipeline_len = pipeline_len
        self.lock = threading.Lock()
        self.kill_at = None
        self.first_ack_after_kill = None
        self.threads = []
        self.stop_ev = None

    def _on_ack(self, sent_at, acked_at):
        k = self.kill_at
        if k is not None and sent_at > k:
            with self.lock:
                if self.first_ack_after_kill is None or acked_at < self.first_ack_after_kill:
                    self.first_ack_after_kill = acked_at

    def _pace(self):
        return self.n * (self.pipeline_len + 1) / self.slow_rate if self.slow else 0

    def set_slow(self, slow):
        """Full speed around the kill (as many writes in flight as the machine allows), slow
        while the killed node rejoins (so the data set stays small enough to check quickly)."""
        self.slow = slow

    def start(self):
        self.stop_ev = threading.Event()
        self.slow = False
        for st in self.states:
            st.cycle_from = len(st.acked)
        self.threads = [Writer(st, self.cluster.sentinel_addrs(), self.stop_ev, self.pipeline_len,
                               self._on_ack, self._pace) for st in self.states]
        for t in self.threads:
            t.start()

    def mark_kill(self, t):
        with self.lock:
            self.kill_at = t
            self.first_ack_after_kill = None

    def stop(self):
        self.stop_ev.set()
        for t in self.threads:
            t.join(30)
            if t.is_alive():
                raise AssertionError("a writer did not stop")
            if t.exc:
                raise t.exc

    def acks(self):
        return sum(s.acks for s in self.states)

    def errors(self):
        return sum(t.errors for t in self.threads)


# ---- verification ----------------------------------------------------------------------------------


class Verifier:
    """Checks the primary against the writers' records. After each cycle: that cycle's
    acknowledged SETs, every counter, and DBSIZE against the keys sent; at the end (full=True):
    every acknowledged SET of every cycle and every key there is (SCAN), so a write lost in a
    later failover, or a key no writer sent, is found too."""

    def __init__(self):
        self.lost_keys = set()

    def check(self, port, states, full=False):
        r = redis.Redis(port=port, socket_timeout=60)
        lost_keys, wrong, extra = set(), [], []
        for st in states:
            ranges = st.acked if full else st.acked[st.cycle_from:]
            keys = [b"k:%d:%d" % (st.wid, seq) for first, n in ranges
                    for seq in range(first, first + n)]
            for i in range(0, len(keys), 20000):
                pipe = r.pipeline(transaction=False)
                for j in range(i, min(i + 20000, len(keys)), 1000):
                    pipe.mget(keys[j:j + 1000])
                vals = [v for chunk in pipe.execute() for v in chunk]
                for k, v in zip(keys[i:i + 20000], vals):
                    if v is None:
                        lost_keys.add(k)
                    elif v != b"v" + k[1:]:
                        wrong.append((k, v))
        lost_incr, ctr_over = 0, []
        pipe = r.pipeline(transaction=False)
        for st in states:
            pipe.get(b"c:%d" % st.wid)
        for st, v in zip(states, pipe.execute()):
            v = int(v or 0)
            lost_incr += st.incr_lost
            st.incr_lost = 0
            if v < st.incr_last:  # acknowledged increments missing; the count goes on from v
                lost_incr += st.incr_last - v
                st.incr_last = v
            if v > st.incr_sent:
                ctr_over.append((st.wid, v, st.incr_sent))
        sent = sum(st.next_seq for st in states) + len(states)
        n_keys = r.dbsize()
        if n_keys > sent:
            extra.append("DBSIZE %d > %d keys sent" % (n_keys, sent))
        if full:
            extra += self._scan(r, states, wrong)
        new_lost = lost_keys - self.lost_keys
        self.lost_keys |= lost_keys
        return {"keys": n_keys, "lost_set": len(new_lost), "lost_incr": lost_incr,
                "wrong": wrong[:10], "extra": extra[:10], "counter_over_sent": ctr_over}

    @staticmethod
    def _scan(r, states, wrong):
        """Every key: one a writer sent; one whose pipeline failed may be there, with its value."""
        by_wid = {st.wid: st for st in states}
        starts = {st.wid: [f for f, _ in st.acked] for st in states}
        extra, unacked = [], []
        for k in r.scan_iter(count=5000):
            m = KEY_RE.match(k)
            if m:
                wid, seq = int(m.group(1)), int(m.group(2))
                st = by_wid.get(wid)
                if st is None or seq >= st.next_seq:
                    extra.append(k)  # never sent
                    continue
                i = bisect.bisect_right(starts[wid], seq) - 1
                if i < 0 or seq >= st.acked[i][0] + st.acked[i][1]:
                    unacked.append(k)
                continue
            m = CTR_RE.match(k)
            if not (m and int(m.group(1)) in by_wid):
                extra.append(k)
        for i in range(0, len(unacked), 1000):
            for k, v in zip(unacked[i:i + 1000], r.mget(unacked[i:i + 1000])):
                if v is not None and v != b"v" + k[1:]:
                    wrong.append((k, v))
        return extra


# ---- one cycle -------------------------------------------------------------------------------------


# A replica stall (stall=True): longer than wal-quorum-timeout (the nodes' default, 1000 ms), so
# the primary drops the replica from its set; the kill follows the resume within KILL_AFTER_RESUME,
# shorter than the resumed replica's catch-up (40-130 ms measured: 0.3-1 s of writes committed
# without it, replayed about ten times faster than they were written).
RUN_BEFORE_STALL = (0.3, 1.0)
STALL = (1.3, 2.0)
KILL_AFTER_RESUME = (0.0, 0.1)
REPLICA_FIELDS = ("slave_priority", "slave_repl_offset", "keel_in_set")


def read_infos(ports, wait=0.03):
    """INFO replication of every port at once (threads), waiting at most `wait` seconds, so the
    kill that follows is hardly delayed by a node slow to answer: {port: dict, or {} when it did
    not answer in time (a late answer is dropped: it could tell the state after the kill)}."""
    out = {}
    threads = [threading.Thread(target=lambda p=p: out.__setitem__(p, repl_info(p, 1)),
                                daemon=True) for p in ports]
    for t in threads:
        t.start()
    deadline = time.time() + wait
    for t in threads:
        t.join(max(0, deadline - time.time()))
    return {p: dict(out.get(p) or {}) for p in ports}


def stall_a_replica(cluster, primary, rng):
    """Stops one replica (drawn by rng) for STALL seconds after RUN_BEFORE_STALL seconds of
    writes, resumes it, waits KILL_AFTER_RESUME and returns whether the primary had dropped it
    from its set by the end of the stall and what each replica and the primary reported after
    the wait (the kill follows at once). The replica is resumed whatever happens."""
    replicas = sorted((n for n in cluster.nodes if n.port != primary), key=lambda n: n.port)
    stalled = rng.choice(replicas)
    run_s, stall_s, after_s = (rng.uniform(*RUN_BEFORE_STALL), rng.uniform(*STALL),
                               rng.uniform(*KILL_AFTER_RESUME))
    time.sleep(run_s)
    os.kill(stalled.pid, signal.SIGSTOP)
    t_stop = time.time()
    try:
        time.sleep(stall_s)
        # the primary's view at the end of the stall: the stalled replica is out of its set
        seen = [v for k, v in repl_info(primary, 1).items()
                if k.startswith("slave") and isinstance(v, dict) and v.get("port") == stalled.port]
    finally:
        os.kill(stalled.pid, signal.SIGCONT)
    t_resume = time.time()
    stall_s = t_resume - t_stop
    time.sleep(after_s)
    infos = read_infos([n.port for n in replicas] + [primary])
    p = infos.pop(primary)
    mine, other = infos[stalled.port], infos[next(n.port for n in replicas if n is not stalled)]
    if mine and other:  # it still lacks writes the other replica holds, or knows it is out
        behind = (mine.get("keel_in_set") == 0 or
                  mine.get("slave_repl_offset", 0) < other.get("slave_repl_offset", 0))
    else:
        behind = None  # a replica did not answer in time
    return {"stalled": stalled.port, "stall_s": stall_s, "t_resume": t_resume, "behind": behind,
            "dropped": bool(seen) and seen[0].get("keel_in_set") == 0,
            "primary_set": p.get("keel_quorum_set"), "primary_commit": p.get("keel_commit_lsn"),
            "replicas": {port: {k: i.get(k) for k in REPLICA_FIELDS} for port, i in infos.items()}}


def stall_text(st, promoted):
    """One line: the stall, and what each replica reported before the kill."""
    reps = []
    for port, i in sorted(st["replicas"].items()):
        tag = ("stalled " if port == st["stalled"] else "") + \
              ("PROMOTED " if port == promoted else "")
        reps.append("%s%d prio %s off %s in_set %s" % (tag, port, i.get("slave_priority"),
                                                        i.get("slave_repl_offset"),
                                                        i.get("keel_in_set")))
    return ("stalled %d for %.2f s (%s by the primary), killed %.3f s after resume (%s); primary "
            "set %s, commit %s; %s" %
            (st["stalled"], st["stall_s"], "dropped" if st["dropped"] else "NOT dropped",
             st["kill_after_resume_s"], {True: "behind", False: "caught up",
                                         None: "no answer"}[st["behind"]],
             st["primary_set"], st["primary_commit"], "; ".join(reps)))


def settled(cluster):
    """The primary once the Sentinels agree on it, it says it is one, and every other node is
    its replica with the link up; else None."""
    p = cluster.primary_port()
    if not p or repl_info(p).get("role") != "master":
        return None
    return p if all(is_replica_of(n.port, p) for n in cluster.nodes if n.port != p) else None


def run_cycle(cluster, writers, verifier, cycle, rng, final=False, run_before_kill=(0.8, 2.0),
              log=print, stall=False):
    """One failover; returns the cycle's figures (times in seconds). stall: a replica is stalled
    before the kill (stall_a_replica), its figures in res["stall"].

    Under load Sentinel may fail over twice: just after a switch it can declare the new primary
    down too (its link to it is new, and the other Sentinels' votes about the old primary are
    still fresh), and promote another replica. That is Sentinel's behaviour, not the server's:
    the cycle follows the Sentinels to wherever they settle and reports the extra switches."""
    old = cluster.primary_port()
    assert old, "the Sentinels do not agree on a primary"
    victim = cluster.node(old)
    switches0 = cluster.switches()
    acks0 = writers.acks()
    writers.start()
    st = None
    try:
        if stall:
            st = stall_a_replica(cluster, old, rng)
        else:
            time.sleep(rng.uniform(*run_before_kill))
        t_kill = time.time()
        writers.mark_kill(t_kill)
        victim.kill()  # SIGKILL
        if st:
            st["kill_after_resume_s"] = t_kill - st.pop("t_resume")
        first = wait_for(lambda: (lambda p: p if p and p != old else None)(cluster.primary_port()),
                         60, "the Sentinels to promote a replica (cycle %d)" % cycle, step=0.02)
        t_switch = time.time()
        wait_for(lambda: writers.first_ack_after_kill, 30,
                 "a write acknowledged by a new primary (cycle %d)" % cycle, step=0.01)
        failover_s = writers.first_ack_after_kill - t_kill
        writers.set_slow(True)
        if WIPE_REJOINING:
            victim.wipe()
        victim.start()  # as it was: its own configuration file and data
        t_restart = time.time()
        new = wait_for(lambda: settled(cluster) if is_replica_of(old, cluster.primary_port())
                       else None, 60, "the old primary %d to rejoin as a replica (cycle %d)" %
                       (old, cycle), step=0.1)
        rejoin_s = time.time() - t_restart
        time.sleep(0.3)  # writes go on with both replicas attached
        new = wait_for(lambda: settled(cluster), 60, "the cluster to settle (cycle %d)" % cycle)
    finally:
        writers.stop()
    t0 = time.time()
    res = verifier.check(new, writers.states, full=final)
    res.update({"cycle": cycle, "killed": old, "promoted": first, "primary": new,
                "switches": cluster.switches() - switches0, "failover_s": failover_s,
                "switch_s": t_switch - t_kill, "rejoin_s": rejoin_s,
                "acked": writers.acks() - acks0, "errors": writers.errors(),
                "check_s": time.time() - t0, "stall": st})
    extra = "" if res["switches"] == 1 else " (%d switches, now %d)" % (res["switches"], new)
    log("cycle %2d: killed %d, promoted %d%s: failover %.2f s (Sentinel switch %.2f s), rejoin "
        "%.1f s, %d acknowledged writes, lost %d SET + %d INCR; %d keys%s checked in %.1f s%s" %
        (cycle, old, first, extra, failover_s, res["switch_s"], rejoin_s, res["acked"],
         res["lost_set"], res["lost_incr"], res["keys"], " (all cycles, SCAN)" if final else "",
         res["check_s"], "\n          " + stall_text(st, first) if st else ""))
    return res


def run_cycles(make_node, cycles, seed=None, writers=12, pipeline_len=32, log=print, stall=False):
    """Builds the cluster, runs the cycles, returns (results, refused lines); always cleans up.
    stall: every cycle stalls a replica before the kill (run_cycle)."""
    seed = seed if seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)
    log("seed %d" % seed)
    cluster = Cluster(make_node)
    failed = True
    try:
        cluster.start()
        w = Writers(cluster, n=writers, pipeline_len=pipeline_len)
        verifier = Verifier()
        results = []
        for c in range(1, cycles + 1):
            try:
                results.append(run_cycle(cluster, w, verifier, c, rng, final=c == cycles, log=log,
                                         stall=stall))
            except AssertionError as e:
                raise AssertionError("%s\n%s" % (e, cluster.tails())) from None
        # KEEL_HA_KEEP keeps a run that lost writes too: its logs say which node was promoted
        failed = any(r["lost_set"] or r["lost_incr"] or r["wrong"] for r in results)
        return results, cluster.refused()
    finally:
        cluster.cleanup(failed)


def summary(results):
    fo = sorted(r["failover_s"] for r in results)
    return {"cycles": len(results), "acked": sum(r["acked"] for r in results),
            "lost_set": sum(r["lost_set"] for r in results),
            "lost_incr": sum(r["lost_incr"] for r in results),
            "failover_median_s": fo[len(fo) // 2] if fo else None,
            "failover_max_s": fo[-1] if fo else None}

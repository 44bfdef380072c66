"""crash_lib - the workload and the checks shared by the crash tests.

A Workload runs many client threads against a keel-server in durability sync, each doing SET of
unique keys, INCR of shared counters, LPUSH of unique elements (when lists exist) and MULTI/EXEC
pairs, and records what it SENT and what was ACKNOWLEDGED. After a crash and a restart,
verify() checks, cumulatively over every cycle:
  - every acknowledged write is present (SET value, EXEC pair, list element);
  - nothing that was never sent is present: a present key holds the value sent for it, DBSIZE
    counts no unknown key, list elements are all sent ones;
  - a counter is >= its acknowledged increments and <= the increments sent;
  - an EXEC pair is all or nothing.
"""
import os
import random
import sys
import threading
import time

import redis

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from keel_harness import KeelServer  # noqa: E402,F401

COUNTERS = 8


def has_cmd(r, name):
    c = r.connection_pool.get_connection("COMMAND")
    try:
        c.send_command("COMMAND", "INFO", name)
        reply = c.read_response()
    finally:
        r.connection_pool.release(c)
    if isinstance(reply, dict):
        return bool(reply)
    return bool(reply and reply[0])


def mget(r, keys):
    """GET of many keys in one round trip (a pipeline: MGET may not be in the build yet)."""
    p = r.pipeline(transaction=False)
    for k in keys:
        p.get(k)
    return p.execute()


def cycles(default_local):
    if os.environ.get("KEEL_CRASH_CYCLES"):
        return int(os.environ["KEEL_CRASH_CYCLES"])
    return 20 if os.environ.get("CI") == "true" else default_local


class Workload:
    def __init__(self, use_incr, use_lists):
        self.use_incr = use_incr
        self.use_lists = use_lists
        self.lock = threading.Lock()
        self.sent_sets = {}      # key -> value (sent; may or may not have been applied)
        self.acked_sets = set()
        self.pairs_sent = set()  # pair ids
        self.pairs_acked = set()
        self.list_sent = {}      # list key -> set of elements sent
        self.list_acked = {}
        self.incr_sent = [0] * COUNTERS
        self.incr_acked = [0] * COUNTERS
        self.cycle = 0
        self.errors = []         # unexpected error replies seen by the clients
        # Set (under lock) just before a simulated power cut starts. An fdatasync racing with
        # ext4's shutdown ioctl can return success for data the cut then loses (seen with a
        # plain pwrite+fdatasync loop too), which no real power cut does: an acknowledgement
        # that arrives once the cut has begun only counts as "sent".
        self.cut_started = False

    def _ack(self, fn, arg):  # under self.lock
        if not self.cut_started:
            fn(arg)

    def _incr_ack(self, k):
        self.incr_acked[k] += 1

    def begin_cut(self):
        with self.lock:
            self.cut_started = True

    def _thread(self, port, tid, stop):
        r = redis.Redis(port=port, socket_timeout=20)
        rnd = random.Random(tid * 7919 + self.cycle)
        seq = 0
        try:
            while not stop.is_set():
                seq += 1
                op = rnd.random()
                uid = "c%d:t%d:%d" % (self.cycle, tid, seq)
                if op < 0.45:
                    key, val = "s:" + uid, "v:" + uid
                    with self.lock:
                        self.sent_sets[key] = val
                    r.set(key, val)
                    with self.lock:
                        self._ack(self.acked_sets.add, key)
                elif op < 0.65 and self.use_incr:
                    k = rnd.randrange(COUNTERS)
                    with self.lock:
                        self.incr_sent[k] += 1
                    r.incr("ctr:%d" % k)
                    with self.lock:
                        self._ack(self._incr_ack, k)
                elif op < 0.8 and self.use_lists:
                    lk = "l:t%d" % tid
                    with self.lock:
                        self.list_sent.setdefault(lk, set()).add(uid)
                    r.lpush(lk, uid)
                    with self.lock:
                        self._ack(self.list_acked.setdefault(lk, set()).add, uid)
                else:
                    with self.lock:
                        self.pairs_sent.add(uid)
                    p = r.pipeline(transaction=True)
                    p.set("pa:" + uid, uid)
                    p.set("pb:" + uid, uid)
                    p.execute()
                    with self.lock:
                        self._ack(self.pairs_acked.add, uid)
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError):
            pass  # the server was killed: whatever was in flight is "sent, not acknowledged"
        except redis.exceptions.ResponseError as e:
            # After a power cut the log fails: parked replies become errors and writes are
            # refused. Those writes were not acknowledged. Any other error is a bug.
            if "durability unknown" not in str(e) and "write refused" not in str(e):
                with self.lock:
                    self.errors.append(repr(e))
        finally:
            try:
                r.close()
            except Exception:
                pass

    def run(self, port, nthreads, seconds_before_kill, kill):
        """Runs the clients, calls kill() after seconds_before_kill, waits for the threads."""
        self.cycle += 1
        self.cut_started = False
        stop = threading.Event()
        threads = [threading.Thread(target=self._thread, args=(port, t, stop), daemon=True)
                   for t in range(nthreads)]
        for t in threads:
            t.start()
        time.sleep(seconds_before_kill)
        kill()
        stop.set()
        for t in threads:
            t.join(60)
            assert not t.is_alive(), "a client thread hung after the kill"

    def verify(self, r):
        """Checks the restarted server; returns a short summary."""
        assert not self.errors, "unexpected error replies: %s" % self.errors[:3]
        keys = list(self.sent_sets)
        present = 0
        for i in range(0, len(keys), 500):
            batch = keys[i:i + 500]
            vals = mget(r, batch)
            for k, v in zip(batch, vals):
                if v is None:
                    assert k not in self.acked_sets, "acknowledged SET %s lost" % k
                else:
                    assert v.decode() == self.sent_sets[k], "%s holds a value never sent" % k
                    present += 1
        pairs_present = 0
        ids = list(self.pairs_sent)
        for i in range(0, len(ids), 250):
            batch = ids[i:i + 250]
            vals = mget(r, ["pa:" + u for u in batch] + ["pb:" + u for u in batch])
            for j, u in enumerate(batch):
                a, b = vals[j], vals[len(batch) + j]
                assert (a is None) == (b is None), "EXEC pair %s half applied" % u
                if a is None:
                    assert u not in self.pairs_acked, "acknowledged EXEC %s lost" % u
                else:
                    assert a.decode() == u and b.decode() == u
                    pairs_present += 1
        ctr_keys = 0
        if self.use_incr:
            vals = mget(r, ["ctr:%d" % k for k in range(COUNTERS)])
            for k, v in enumerate(vals):
                n = int(v) if v is not None else 0
                ctr_keys += v is not None
                assert self.incr_acked[k] <= n <= self.incr_sent[k], \
                    "counter %d = %d, acked %d, sent %d" % (k, n, self.incr_acked[k],
                                                            self.incr_sent[k])
        list_keys = 0
        for lk, sent in self.list_sent.items():
            elems = set(e.decode() for e in r.lrange(lk, 0, -1))
            list_keys += bool(elems)
            assert elems <= sent, "list %s holds elements never sent" % lk
            missing = self.list_acked.get(lk, set()) - elems
            assert not missing, "acknowledged LPUSH lost: %s" % sorted(missing)[:5]
        expected = present + 2 * pairs_present + ctr_keys + list_keys
        assert r.dbsize() == expected, "unknown keys appeared: dbsize %d, expected %d" % (
            r.dbsize(), expected)
        return "keys %d (acked sets %d/%d sent), pairs %d/%d, incr acked %d sent %d" % (
            expected, len(self.acked_sets), len(self.sent_sets), len(self.pairs_acked),
            len(self.pairs_sent), sum(self.incr_acked), sum(self.incr_sent))

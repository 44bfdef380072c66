"""ThreadSanitizer: a short concurrent load against a keel-server built with -DKEEL_TSAN=ON.

Skipped unless KEEL_TSAN=1 (KEEL_BIN then names the TSan build), so the ordinary integration and
crash runs never collect it. scripts/test.sh runs it as the "load under TSan" stage.

Two runs (ids "lanes" and "inline"), sharing KEEL_TSAN_LOAD_S seconds of load (default 20):
"lanes" is durability sync with three log copies and quorum 2, so the WAL thread hands the
fdatasyncs to each copy's lane threads; "inline" is the default single copy, whose fdatasync the
WAL thread runs itself. The zeroer runs for every copy. KEEL_TSAN_MODES=1 adds an async run.
Each run has, at once:
  - crash_lib.Workload's writer threads (SET, INCR, LPUSH, MULTI/EXEC, one command at a time,
    acknowledgements recorded) on db 0;
  - pipelined writers on db 1 (SET + GET of fresh keys, 32 commands per round trip);
  - a client that builds hashes larger than LAZYFREE_THRESHOLD and UNLINKs them (lazy-free
    thread) and reads INFO;
  - a BGSAVE (its child single-threaded: see saver()) and later a SAVE with two writer threads
    in the server process; each retires the log segments it covers.
Then Workload.verify(), a graceful stop (the log's threads shut down), a restart on the same
directory (recovery: snapshot loader threads + log replay) and Workload.verify() again.

Fails when the server's log (its stderr, with the BGSAVE children's) holds a ThreadSanitizer
report, or when a server exits non-zero (TSan exits 66 after a report). Known, reported races
are listed in tests/tsan/tsan.supp.
"""
import os
import shutil
import sys
import tempfile
import threading
import time

import pytest
import redis

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "crash"))
from crash_lib import KeelServer, Workload  # noqa: E402

pytestmark = pytest.mark.skipif(os.environ.get("KEEL_TSAN") != "1",
                                reason="needs a -DKEEL_TSAN=ON build: KEEL_TSAN=1 KEEL_BIN=build-tsan")

LOAD_S = float(os.environ.get("KEEL_TSAN_LOAD_S", "20"))
WORKLOAD_THREADS = 6
PIPELINE_THREADS = 3
PIPELINE_DEPTH = 32
# halt_on_error=0: one run shows every race, not only the first.
TSAN_OPTIONS = ("halt_on_error=0:second_deadlock_stack=1:exitcode=66:"
                "suppressions=" + os.path.join(HERE, "tsan.supp"))
REPORT = "WARNING: ThreadSanitizer"
ANY_TSAN = "ThreadSanitizer"  # also its CHECK failures and refusals, which are no WARNING


def tsan_reports(log):
    """The reports in a server log, each cut to its first lines (access, stacks' top frames)."""
    out = []
    for chunk in log.split("==================")[1:]:
        if REPORT in chunk:
            out.append("\n".join(chunk.strip().splitlines()[:40]))
    return out


def pipelined_writer(port, tid, stop, errors, counts):
    r = redis.Redis(port=port, db=1, socket_timeout=60)
    seq = 0
    try:
        while not stop.is_set():
            p = r.pipeline(transaction=False)
            keys = ["p:%d:%d" % (tid, seq + i) for i in range(PIPELINE_DEPTH // 2)]
            for k in keys:
                p.set(k, k * 4)
                p.get(k)
            replies = p.execute()
            for i, k in enumerate(keys):
                if replies[2 * i + 1] != (k * 4).encode():
                    errors.append("pipelined GET %s returned %r" % (k, replies[2 * i + 1]))
                    return
            seq += len(keys)
        counts[tid] = seq
    except Exception as e:  # noqa: BLE001 - any failure of a client is a test failure
        errors.append("pipelined writer %d: %r" % (tid, e))
    finally:
        r.close()


def lazyfree_and_info(port, stop, errors):
    r = redis.Redis(port=port, db=2, socket_timeout=60)
    n = 0
    try:
        while not stop.is_set():
            key = "big:%d" % n
            r.hset(key, mapping={"f%d" % i: i for i in range(200)})  # > LAZYFREE_THRESHOLD
            r.rpush("lst:%d" % n, *range(200))
            assert r.unlink(key, "lst:%d" % n) == 2
            r.info("all")
            n += 1
    except Exception as e:  # noqa: BLE001
        errors.append("lazyfree client: %r" % (e,))
    finally:
        r.close()


def bgsave(r, timeout=120):
    before = r.info("persistence")["rdb_saves"]
    r.bgsave()
    deadline = time.time() + timeout
    while time.time() < deadline:
        p = r.info("persistence")
        if p["rdb_bgsave_in_progress"] == 0:
            assert p["rdb_last_bgsave_status"] == "ok", p
            if p["rdb_saves"] > before:
                return
        time.sleep(0.1)
    raise AssertionError("BGSAVE did not finish in %d s" % timeout)


# (name, durability, log copies, share of LOAD_S). "lanes": each copy's fdatasyncs run on its
# own lane threads; "inline": one copy in sync mode, the WAL thread syncs itself (the default).
MODES = [("lanes", "sync", 3, 0.65), ("inline", "sync", 1, 0.35)]
if os.environ.get("KEEL_TSAN_MODES"):
    MODES += [("async", "async", 2, 0.5)]


@pytest.mark.parametrize("mode,durability,copies,share", MODES, ids=[m[0] for m in MODES])
def test_concurrent_load_has_no_data_race(monkeypatch, mode, durability, copies, share):
    monkeypatch.setenv("TSAN_OPTIONS", TSAN_OPTIONS)
    load_s = LOAD_S * share
    d = tempfile.mkdtemp(prefix="keel-tsan-")
    args = ["--snapshot-threads", "2"]
    if copies > 1:
        args += ["--wal-quorum", "2", "--wal-sync-interval-ms", "5"]
        for i in range(copies):
            args += ["--wal-dir", os.path.join(d, "wal%d" % i)]
    servers = []

    def start():
        s = KeelServer(args=args, data_dir=d, durability=durability)
        servers.append(s)
        return s.start(timeout=120)

    try:
        s = start()
        r = s.client(socket_timeout=120)
        w = Workload(use_incr=True, use_lists=True)
        stop = threading.Event()
        errors = []
        counts = {}
        side = [threading.Thread(target=pipelined_writer, args=(s.port, t, stop, errors, counts))
                for t in range(PIPELINE_THREADS)]
        side.append(threading.Thread(target=lazyfree_and_info, args=(s.port, stop, errors)))
        saver_errors = []

        def saver():
            try:
                time.sleep(load_s / 4)
                # The BGSAVE child must not start threads: after a fork of a multi-threaded
                # process TSan's registry still holds the parent's threads, and the child dies
                # with "ThreadSanitizer: dup thread with used id" (die_after_fork=0 or not).
                r.config_set("snapshot-threads", 1)
                bgsave(r)
                # SAVE runs the writer threads in the server itself, next to the log's threads.
                time.sleep(load_s / 4)
                r.config_set("snapshot-threads", 2)
                r.save()
            except Exception as e:  # noqa: BLE001
                saver_errors.append(repr(e))

        side.append(threading.Thread(target=saver))
        for t in side:
            t.start()
        # Workload.run sleeps load_s, calls the "kill" (here: stop the other clients), joins.
        w.run(s.port, WORKLOAD_THREADS, load_s, stop.set)
        for t in side:
            t.join(180)
            assert not t.is_alive(), "a client thread hung"
        assert not errors, errors[:3]
        assert not saver_errors, saver_errors
        summary = w.verify(r)
        assert len(w.acked_sets) > 50, "the workload hardly ran: " + summary
        assert sum(counts.values()) > 0, "the pipelined writers hardly ran"
        wal = r.info("wal")
        assert wal["wal_copies"] == copies and wal["wal_fsyncs"] > 0 and wal["wal_healthy"] == 1
        r.close()
        assert s.stop() == 0, "keel-server exited non-zero:\n" + s.read_log()[-4000:]

        s = start()  # recovery: newest snapshot (loader threads) + the log after it
        r = s.client(socket_timeout=120)
        print("TSan load (%s): %s; pipelined keys %d; after restart dbsize %d" % (
            mode, w.verify(r), sum(counts.values()), r.dbsize()))
        r.close()
        assert s.stop() == 0, "keel-server exited non-zero:\n" + s.read_log()[-4000:]
    finally:
        for s in servers:
            s.kill()
        # Both runs append to the same server.log in d.
        log = servers[0].read_log() if servers else ""
        reports = tsan_reports(log)
        keep = os.environ.get("KEEL_TSAN_LOG")  # where to keep the server log, for reading
        if keep and servers:
            shutil.copy(servers[0].log_path, keep)
        shutil.rmtree(d, ignore_errors=True)
    assert REPORT not in log, "%d ThreadSanitizer report(s); the first:\n%s" % (
        len(reports), reports[0])
    assert ANY_TSAN not in log, "ThreadSanitizer complained:\n" + log[-4000:]

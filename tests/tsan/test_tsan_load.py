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
import socket
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


IO_LOAD_S = float(os.environ.get("KEEL_TSAN_IO_LOAD_S", "8"))
BIG = 3 * 1024 * 1024  # a reply bigger than one write of a thread (WRITE_MAX, 1 MiB)


def io_threads_clients(port, stop, errors, counts):
    """The clients of the io-threads run: each a thread, each checks what it reads."""

    def guard(name, fn):
        def run():
            try:
                fn()
            except Exception as e:  # noqa: BLE001 - any failure of a client is a test failure
                errors.append("%s: %r" % (name, e))
        return threading.Thread(target=run, name=name)

    def pipelines(tid):
        r = redis.Redis(port=port, socket_timeout=60)
        n = 0
        while not stop.is_set():
            p = r.pipeline(transaction=tid % 2 == 0)  # odd: plain pipelines, even: MULTI/EXEC
            keys = ["io:%d:%d" % (tid, n + i) for i in range(16)]
            for k in keys:
                p.set(k, k * 8)
                p.get(k)
            out = p.execute()
            assert out[1::2] == [(k * 8).encode() for k in keys], "pipeline %d" % tid
            n += len(keys)
        counts["pipelined"] = counts.get("pipelined", 0) + n

    def big_replies():
        r = redis.Redis(port=port, socket_timeout=60)
        r.set("io:big", b"x" * BIG)
        n = 0
        while not stop.is_set():
            assert len(r.get("io:big")) == BIG
            n += 1
        counts["big"] = n

    def slow_reader():
        s = socket.create_connection(("127.0.0.1", port))
        want = 0
        for _ in range(4):
            s.sendall(b"*2\r\n$3\r\nGET\r\n$6\r\nio:big\r\n")
            want += len(b"$%d\r\n" % BIG) + BIG + 2
        got = 0
        while got < want:
            chunk = s.recv(16384)  # slower than the server writes: it waits for writability
            assert chunk, "closed after %d of %d bytes" % (got, want)
            got += len(chunk)
            time.sleep(0.001)
        s.close()
        counts["slow"] = got

    def killed_mid_pipeline():
        k = redis.Redis(port=port, socket_timeout=60)
        n = 0
        while not stop.is_set():
            v = redis.Redis(port=port, socket_timeout=60)
            vid = v.client_id()
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall(b"*3\r\n$3\r\nSET\r\n$4\r\nio:k\r\n$1\r\n1\r\n" * 200)
            s.close()  # closes with replies unread and commands maybe unparsed
            p = v.pipeline(transaction=False)
            for i in range(50):
                p.incr("io:ctr")
            t = threading.Thread(target=lambda: k.client_kill_filter(_id=vid))
            t.start()
            try:
                p.execute()
            except redis.exceptions.ConnectionError:
                pass
            t.join()
            v.close()
            n += 1
        counts["kills"] = n

    def pubsub():
        sub = redis.Redis(port=port, socket_timeout=60).pubsub()
        sub.subscribe("io:ch")
        pub = redis.Redis(port=port, socket_timeout=60)
        sent = got = 0
        while not stop.is_set():
            for i in range(20):
                pub.publish("io:ch", "m%d" % i)
            sent += 20
            while got < sent:
                m = sub.get_message(timeout=30)
                assert m is not None, "a published message did not arrive"
                if m["type"] == "message":
                    got += 1
        counts["pubsub"] = got

    def blocking():
        popper = redis.Redis(port=port, socket_timeout=60)
        pusher = redis.Redis(port=port, socket_timeout=60)
        n = 0
        while not stop.is_set():
            t = threading.Thread(target=lambda: pusher.rpush("io:q", n))
            t.start()
            got = popper.blpop("io:q", timeout=30)
            t.join()
            assert got is not None and got[1] == str(n).encode()
            n += 1
        counts["blpop"] = n

    ts = [guard("pipelines-%d" % i, lambda i=i: pipelines(i)) for i in range(6)]
    ts += [guard("big", big_replies), guard("kills", killed_mid_pipeline),
           guard("pubsub", pubsub), guard("blocking", blocking)]
    return ts, guard("slow-reader", slow_reader)


def test_io_threads_load_has_no_data_race(monkeypatch):
    """io-threads 4: threads read, parse and write while the main thread runs the commands;
    pipelines (MULTI/EXEC among them), replies of 3 MiB, a reader slower than the replies,
    CLIENT KILL of a client in the middle of its pipeline and clients that close with commands
    unread, pub/sub, BLPOP served by another client's push, durable replies parked and released
    by the log (durability sync). Every client checks its replies; the log holds no report."""
    monkeypatch.setenv("TSAN_OPTIONS", TSAN_OPTIONS)
    d = tempfile.mkdtemp(prefix="keel-tsan-io-")
    s = KeelServer(args=["--io-threads", "4"], data_dir=d, durability="sync")
    try:
        s.start(timeout=120)
        r = s.client(socket_timeout=120)
        r.set("io:big", b"x" * BIG)
        stop = threading.Event()
        errors, counts = [], {}
        ts, slow = io_threads_clients(s.port, stop, errors, counts)
        for t in ts:
            t.start()
        time.sleep(1)
        slow.start()
        time.sleep(IO_LOAD_S)
        stop.set()
        for t in ts + [slow]:
            t.join(180)
            assert not t.is_alive(), "client %s hung" % t.name
        assert not errors, errors[:3]
        info = r.info("all")
        print("TSan io-threads load: %s; io_threaded_reads_processed %s, writes %s" % (
            counts, info["io_threaded_reads_processed"], info["io_threaded_writes_processed"]))
        assert info["io_threaded_reads_processed"] > 0 and info["io_threaded_writes_processed"] > 0
        for what in ("pipelined", "big", "kills", "pubsub", "blpop", "slow"):
            assert counts.get(what), "the %s client hardly ran: %s" % (what, counts)
        r.close()
        assert s.stop() == 0, "keel-server exited non-zero:\n" + s.read_log()[-4000:]
    finally:
        s.kill()
        log = s.read_log()
        shutil.rmtree(d, ignore_errors=True)
    reports = tsan_reports(log)
    assert REPORT not in log, "%d ThreadSanitizer report(s); the first:\n%s" % (
        len(reports), reports[0])
    assert ANY_TSAN not in log, "ThreadSanitizer complained:\n" + log[-4000:]

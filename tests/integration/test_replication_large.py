"""A full sync of 1,000,000 keys while writers keep writing to the primary (two channels: the
snapshot on one connection, the records written meanwhile on the other): the replica ends with
every key and value of the primary, and the primary's write throughput before and during the
sync is reported."""
import hashlib
import os
import subprocess
import threading
import time


from keel_harness import KeelServer

# Under the sanitizers (5-10x slower) a fifth of it; KEEL_LARGE_SYNC_KEYS overrides.
KEYS = int(os.environ.get("KEEL_LARGE_SYNC_KEYS",
                          "200000" if os.environ.get("KEEL_SANITIZED") else "1000000"))


def load(port, n):
    """n string keys through redis-cli --pipe (the fast bulk path)."""
    lines = []
    for i in range(n):
        k, v = "key:%d" % i, "value:%d" % i
        lines.append("*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(k), k, len(v), v))
    out = subprocess.run(["redis-cli", "-p", str(port), "--pipe"], input="".join(lines).encode(),
                         capture_output=True, timeout=300)
    assert b"errors: 0" in out.stdout, out.stdout


def digest(c):
    """A hash of every key and value (strings and counters), and the number of keys."""
    pairs = []
    for batch in _scan_batches(c):
        vals = c.mget(batch)
        pairs.extend(zip(batch, vals))
    pairs.sort()
    h = hashlib.sha256()
    for k, v in pairs:
        h.update(k + b"\0" + (v or b"<none>") + b"\n")
    return h.hexdigest(), len(pairs)


def _scan_batches(c):
    cur = 0
    while True:
        cur, keys = c.scan(cur, count=20000)
        if keys:
            yield keys
        if cur == 0:
            return


def test_a_full_sync_of_a_million_keys_under_writes(live):
    p = KeelServer(args=[], durability="sync")
    live.append(p)
    p.start()
    pc = p.client()
    load(p.port, KEYS)
    assert pc.dbsize() == KEYS
    stop = threading.Event()
    done = [0]

    def writer(wid):
        c = p.client()
        i = 0
        while not stop.is_set():
            pipe = c.pipeline(transaction=False)
            for _ in range(50):
                pipe.set("w%d:%d" % (wid, i), i)
                pipe.incr("ctr%d" % wid)
                i += 1
            pipe.execute()
            done[0] += 100

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    time.sleep(1.0)
    before = done[0]
    t0 = time.time()
    time.sleep(1.0)
    rate_before = (done[0] - before) / (time.time() - t0)
    r = KeelServer(args=["--replicaof", "127.0.0.1 %d" % p.port], durability="sync")
    live.append(r)
    t_sync = time.time()
    w_sync = done[0]
    r.start()
    rc = r.client()
    deadline = time.time() + 120
    while time.time() < deadline:
        i = rc.info("replication")
        if i.get("master_link_status") == "up":
            break
        time.sleep(0.05)
    else:
        raise AssertionError("the full sync did not finish: %s" % rc.info("replication"))
    sync_s = time.time() - t_sync
    rate_during = (done[0] - w_sync) / sync_s
    stop.set()
    for t in threads:
        t.join()
    target = pc.info("replication")["master_repl_offset"]
    deadline = time.time() + 60
    while rc.info("replication")["keel_applied_lsn"] < target:
        assert time.time() < deadline, "the replica did not catch up"
        time.sleep(0.05)
    dp, dr = digest(pc), digest(rc)
    print("\nfull sync of %d keys under 4 pipelined writers: %.2f s; primary writes/s before "
          "%.0f, during the sync %.0f (%.2f); %d keys compared" %
          (KEYS, sync_s, rate_before, rate_during, rate_during / max(rate_before, 1), dp[1]))
    assert dp[1] > KEYS
    assert dp == dr
    assert "on a second channel" in p.read_log()
    assert pc.info("stats")["sync_full"] == 1

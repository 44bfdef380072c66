"""Replication (docs/replication.md): a replica follows its primary's log by LSN, catches up by
partial resync after a restart or a cut link, takes a full sync from a snapshot when the log no
longer holds its position, refuses writes, and can be promoted. Every comparison reads every key
and value on both sides, not only DBSIZE."""
import os
import threading
import time

import pytest
import redis

from keel_harness import KeelServer, Proxy


def server(live, args=(), data_dir=None, durability="sync"):
    if data_dir:
        os.makedirs(data_dir, exist_ok=True)
    s = KeelServer(args=list(args), data_dir=data_dir, durability=durability)
    live.append(s)
    return s.start()


def replica_of(live, primary_port, args=(), data_dir=None):
    return server(live, ["--replicaof", "127.0.0.1 %d" % primary_port] + list(args), data_dir)


def repl_info(r):
    return r.info("replication")


def wait_caught_up(p, r, timeout=30):
    """Until the replica applied everything the primary made durable."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        target = repl_info(p)["master_repl_offset"]
        ri = repl_info(r)
        if ri.get("master_link_status") == "up" and \
                ri.get("keel_applied_lsn", ri["slave_repl_offset"]) >= target:
            return target
        time.sleep(0.05)
    raise AssertionError("replica did not catch up: primary %s, replica %s" %
                         (repl_info(p), repl_info(r)))


def snapshot_of(r):
    """Every key with its type, value and TTL presence. Pipelined a SCAN batch at a time (two
    round trips per batch, not three per key: the 51,000-key comparisons took seconds)."""
    read = {b"string": lambda p, k: p.get(k), b"list": lambda p, k: p.lrange(k, 0, -1),
            b"hash": lambda p, k: p.hgetall(k), b"set": lambda p, k: p.smembers(k),
            b"zset": lambda p, k: p.zrange(k, 0, -1, withscores=True)}
    shape = {b"list": tuple, b"hash": lambda h: tuple(sorted(h.items())),
             b"set": lambda m: tuple(sorted(m)), b"zset": tuple}
    out = {}
    cur = 0
    while True:
        cur, keys = r.scan(cur, count=1000)
        p = r.pipeline(transaction=False)
        for k in keys:
            p.type(k)
        types = p.execute()
        p = r.pipeline(transaction=False)
        for k, t in zip(keys, types):
            if t in read:
                read[t](p, k)
            p.ttl(k)
        got = iter(p.execute())
        for k, t in zip(keys, types):
            v = shape.get(t, lambda x: x)(next(got)) if t in read else None
            out[k] = (t, v, next(got) >= 0)
        if cur == 0:
            return out


def save(r):
    """SAVE once no BGSAVE runs (a full sync may have started one)."""
    for _ in range(200):
        try:
            return r.save()
        except redis.ResponseError as e:
            if "in progress" not in str(e):
                raise
            time.sleep(0.05)
    raise AssertionError("a BGSAVE never ended")


def write_everything(r, prefix, n):
    p = r.pipeline(transaction=False)
    for i in range(n):
        p.set("%s:s:%d" % (prefix, i), "v%d" % i)
        p.rpush("%s:l:%d" % (prefix, i % 10), i)
        p.hset("%s:h:%d" % (prefix, i % 10), "f%d" % i, i)
        p.sadd("%s:set:%d" % (prefix, i % 10), i)
        p.zadd("%s:z:%d" % (prefix, i % 10), {"m%d" % i: i / 3})
        if i % 7 == 0:
            p.incr("%s:ctr" % prefix)
            p.expire("%s:s:%d" % (prefix, i), 1000)
        if i % 11 == 0:
            p.delete("%s:s:%d" % (prefix, i - 1))
    p.execute()
    r.execute_command("MULTI")
    r.execute_command("SET", prefix + ":tx1", "a")
    r.execute_command("LPUSH", prefix + ":txl", "b")
    r.execute_command("EXEC")


def test_a_replica_follows_every_type_and_refuses_writes(live):
    p = server(live)
    r = replica_of(live, p.port)
    pc, rc = p.client(), r.client()
    write_everything(pc, "a", 500)
    wait_caught_up(pc, rc)
    assert snapshot_of(rc) == snapshot_of(pc)
    with pytest.raises(redis.exceptions.ReadOnlyError):  # -READONLY ...
        rc.set("x", 1)
    assert rc.get("a:s:1") == b"v1"  # reads are served
    role = rc.execute_command("ROLE")
    assert role[0] == b"slave" and role[2] == p.port and role[3] == b"connected"
    prole = pc.execute_command("ROLE")
    assert prole[0] == b"master" and len(prole[2]) == 1
    info = repl_info(pc)
    assert info["connected_slaves"] == 1 and info["slave0"]["state"] == "online"


def test_wait_counts_replicas_that_acknowledged(live):
    p = server(live)
    r = replica_of(live, p.port)
    pc = p.client()
    wait_caught_up(pc, r.client())
    pc.set("k", "v")
    assert pc.execute_command("WAIT", 1, 5000) == 1
    assert pc.execute_command("WAIT", 2, 200) == 1  # only one replica: the timeout decides


def test_a_restarted_replica_catches_up_by_partial_resync(live):
    p = server(live)
    r = replica_of(live, p.port)
    pc = p.client()
    write_everything(pc, "before", 200)
    wait_caught_up(pc, r.client())
    stop = threading.Event()

    def writer():
        c = p.client()
        i = 0
        while not stop.is_set():
            c.set("live:%d" % i, i)
            c.rpush("live:list", i)
            i += 1

    t = threading.Thread(target=writer, daemon=True)
    t.start()
    time.sleep(0.5)
    r.kill()  # SIGKILL mid-stream
    time.sleep(0.5)
    full_before = pc.info("stats")["sync_full"]
    r2 = KeelServer(args=r.args, data_dir=r.dir, durability="sync", port=r.port)
    live.append(r2)
    r2.start()
    time.sleep(0.5)
    stop.set()
    t.join(10)
    wait_caught_up(pc, r2.client())
    stats = pc.info("stats")
    assert stats["sync_full"] == full_before  # no new full sync
    assert stats["sync_partial_ok"] >= 1
    assert snapshot_of(r2.client()) == snapshot_of(pc)


def test_a_replica_attached_late_gets_a_full_sync_while_writes_go_on(live):
    p = server(live)
    pc = p.client()
    n = 50000
    for i in range(0, n, 5000):
        pipe = pc.pipeline(transaction=False)
        for j in range(i, i + 5000):
            pipe.set("k:%d" % j, "value-%d" % j)
        pipe.execute()
    pc.bgsave()
    time.sleep(0.5)
    r = replica_of(live, p.port)
    for i in range(1000):  # writes during the sync go to the log, then to the replica
        pc.set("during:%d" % i, i)
    wait_caught_up(pc, r.client(), timeout=60)
    rc = r.client()
    assert rc.dbsize() == pc.dbsize() == n + 1000
    assert snapshot_of(rc) == snapshot_of(pc)
    assert pc.info("stats")["sync_full"] >= 1


def test_a_replica_that_lagged_past_the_log_gets_a_full_sync(live):
    args = ["--wal-segment-size", "1mb", "--wal-retention", "0", "--snapshot-keep", "1"]
    p = server(live, args)
    r = replica_of(live, p.port)
    pc = p.client()
    pc.set("first", 1)
    wait_caught_up(pc, r.client())
    r.kill()
    for round in range(3):  # three snapshots: the segments the replica needed are deleted
        pipe = pc.pipeline(transaction=False)
        for i in range(3000):
            pipe.set("fill:%d:%d" % (round, i), "x" * 400)
        pipe.execute()
        save(pc)
    full_before = pc.info("stats")["sync_full"]
    r2 = KeelServer(args=r.args, data_dir=r.dir, durability="sync", port=r.port)
    live.append(r2)
    r2.start()
    wait_caught_up(pc, r2.client(), timeout=60)
    assert pc.info("stats")["sync_full"] == full_before + 1
    assert snapshot_of(r2.client()) == snapshot_of(pc)


def test_a_cut_or_stalled_link_is_detected_and_recovered(live):
    p = server(live)
    proxy = Proxy(p.port)
    try:
        r = replica_of(live, proxy.port, ["--repl-timeout", "2"])
        pc, rc = p.client(), r.client()
        pc.set("a", 1)
        wait_caught_up(pc, rc)
        proxy.cut()  # a dropped connection
        pc.set("b", 2)
        wait_caught_up(pc, rc, timeout=15)
        assert rc.get("b") == b"2"
        proxy.stalled.set()  # a silent link: only repl-timeout finds it
        pc.set("c", 3)
        time.sleep(3.5)
        assert repl_info(rc)["master_link_status"] == "down" or proxy.accepts >= 3
        proxy.stalled.clear()
        wait_caught_up(pc, rc, timeout=15)
        assert rc.get("c") == b"3"
        assert pc.info("stats")["sync_full"] == 1  # every reconnection was a partial resync
    finally:
        proxy.close()


def test_promotion_continues_the_log_and_the_old_primary_can_follow_it(live):
    p = server(live)
    r = replica_of(live, p.port)
    pc, rc = p.client(), r.client()
    write_everything(pc, "x", 100)
    lsn = wait_caught_up(pc, rc)
    p.kill()
    assert rc.execute_command("REPLICAOF", "NO", "ONE") == b"OK"
    rc.set("after-promotion", 1)
    info = repl_info(rc)
    assert info["role"] == "master" and info["master_repl_offset"] > lsn  # the sequence goes on
    old = KeelServer(args=["--replicaof", "127.0.0.1 %d" % r.port], data_dir=p.dir,
                     durability="sync", port=p.port)
    live.append(old)
    old.start()
    oc = old.client()
    wait_caught_up(rc, oc)
    assert oc.get("after-promotion") == b"1"
    assert snapshot_of(oc) == snapshot_of(rc)
    # It held nothing the new primary lacks: a partial resync, and it now has the new epoch.
    stats = rc.info("stats")
    assert stats["sync_partial_ok"] == 1 and stats["sync_full"] == 0, stats
    assert repl_info(oc)["keel_epoch"] == repl_info(rc)["keel_epoch"]
    assert repl_info(rc)["keel_epochs"] == 2


def test_an_old_primary_with_an_unreplicated_tail_discards_it_on_rejoining(live):
    """The case LSNs alone cannot see: the old primary logged records its replica never got,
    and the new primary then wrote more, so the old one's next LSN is inside the new log. Its
    epoch ends earlier in the new primary's history: it is resynced in full and its tail goes."""
    p = server(live)
    r = replica_of(live, p.port)
    pc, rc = p.client(), r.client()
    write_everything(pc, "x", 100)
    wait_caught_up(pc, rc)
    assert pc.execute_command("WAIT", 1, 10000) == 1  # durable on the replica too
    r.kill()  # the replica misses what follows
    for i in range(50):
        pc.set("tail:%d" % i, i)  # durable on the old primary only
    p_last = repl_info(pc)["master_repl_offset"]
    p.kill()
    # The replica is started as a primary (as after a failover) and writes more than the tail.
    new = KeelServer(args=[], data_dir=r.dir, durability="sync", port=r.port)
    live.append(new)
    new.start()
    nc = new.client()
    for i in range(200):
        nc.set("new:%d" % i, i)
    assert repl_info(nc)["master_repl_offset"] > p_last  # its next LSN is inside the new log
    old = KeelServer(args=["--replicaof", "127.0.0.1 %d" % new.port], data_dir=p.dir,
                     durability="sync", port=p.port)
    live.append(old)
    old.start()
    oc = old.client()
    wait_caught_up(nc, oc)
    assert nc.info("stats")["sync_full"] == 1, "the diverged node must be resynced in full"
    assert oc.exists("tail:0") == 0 and oc.dbsize() == nc.dbsize()
    assert snapshot_of(oc) == snapshot_of(nc)
    assert "diverged" in old.read_log() or "diverged" in new.read_log()
    # After a restart it stays on the new history: a partial resync this time.
    old.stop()
    old2 = KeelServer(args=["--replicaof", "127.0.0.1 %d" % new.port], data_dir=p.dir,
                      durability="sync", port=p.port)
    live.append(old2)
    old2.start()
    nc.set("later", 1)
    wait_caught_up(nc, old2.client())
    assert old2.client().get("later") == b"1"
    assert nc.info("stats")["sync_full"] == 1
    assert snapshot_of(old2.client()) == snapshot_of(nc)


def test_a_primary_without_a_log_refuses_replicas(live):
    p = server(live, durability="off")
    r = replica_of(live, p.port)
    deadline = time.time() + 10
    while time.time() < deadline:
        err = repl_info(r.client()).get("keel_link_error", "")
        if "durability off" in str(err):
            return
        time.sleep(0.1)
    raise AssertionError("no refusal seen: %s" % repl_info(r.client()))


def test_a_replica_stays_read_only(live):
    p = server(live)
    r = replica_of(live, p.port)
    rc = r.client()
    with pytest.raises(redis.ResponseError, match="always read-only"):
        rc.config_set("replica-read-only", "no")
    assert rc.config_get("replica-read-only") == {"replica-read-only": "yes"}
    with pytest.raises(redis.exceptions.ReadOnlyError):
        rc.set("k", 1)


def test_a_replica_authenticates_on_both_channels_with_masterauth(live):
    p = server(live, ["--requirepass", "s3cret"])
    pc = p.client(password="s3cret")
    write_everything(pc, "a", 200)
    save(pc)  # a full sync, on two channels: the second connection must authenticate too
    write_everything(pc, "b", 50)
    bad = replica_of(live, p.port)
    r = replica_of(live, p.port, ["--masterauth", "s3cret"])
    rc = r.client()
    wait_caught_up(pc, rc)
    assert snapshot_of(rc) == snapshot_of(pc)
    assert "on a second channel" in p.read_log()
    err = repl_info(bad.client()).get("keel_link_error", "")
    assert "auth" in str(err).lower(), err  # no masterauth: refused, and it says why

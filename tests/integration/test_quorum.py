"""The write quorum across machines (docs/ha.md): with wal-quorum beyond the local log copies a
write is acknowledged only once durable on the replicas of the in-sync set; too few replicas
means errors, never a hang; a replica serves only committed writes; a replica with durability
off never counts; min-replicas-to-write refuses as Valkey does."""
import os
import signal
import threading
import time

import pytest
import redis

from keel_harness import KeelServer, Proxy, wait_for


@pytest.fixture
def live():
    made = []
    yield made
    for s in made:
        try:
            os.kill(s.proc.pid, signal.SIGCONT)
        except Exception:
            pass
        s.cleanup()


def server(live, args=(), durability="sync"):
    s = KeelServer(args=list(args), durability=durability)
    live.append(s)
    return s.start()


def info(c):
    return c.info("replication")




def in_set(pc, n):
    wait_for(lambda: info(pc).get("keel_quorum_set") == n, what="%d replica(s) in the set" % n)


def test_no_replica_means_writes_are_refused_and_reads_go_on(live):
    p = server(live, ["--wal-quorum", "2"])
    pc = p.client()
    with pytest.raises(redis.ResponseError, match="NOREPLICAS.*wal-quorum 2"):
        pc.set("k", 1)
    assert pc.get("k") is None
    assert info(pc)["keel_quorum_replicas_needed"] == 1


def test_an_acknowledged_write_is_durable_on_the_replica(live):
    p = server(live, ["--wal-quorum", "2"])
    r = server(live, ["--replicaof", "127.0.0.1 %d" % p.port])
    pc, rc = p.client(), r.client()
    in_set(pc, 1)
    for i in range(200):
        assert pc.set("k%d" % i, i)
        committed = info(pc)["keel_commit_lsn"]
        # The reply left only once the replica's log held the write: its durable LSN is there.
        assert info(rc)["keel_durable_lsn"] >= committed
    wait_for(lambda: rc.get("k199") == b"199", what="the replica to apply")


def test_a_stalled_replica_gives_errors_not_a_hang_and_commits_resume(live):
    p = server(live, ["--wal-quorum", "2", "--wal-quorum-timeout", "500"])
    r = server(live, ["--replicaof", "127.0.0.1 %d" % p.port])
    pc = p.client()
    in_set(pc, 1)
    pc.set("before", 1)
    os.kill(r.proc.pid, signal.SIGSTOP)
    try:
        t0 = time.time()
        with pytest.raises(redis.ResponseError, match="NOREPLICAS"):
            pc.set("during", 1)  # parked, then failed when the replica leaves the set
        assert time.time() - t0 < 5
        with pytest.raises(redis.ResponseError, match="NOREPLICAS"):
            pc.set("during2", 1)  # refused at once
        assert pc.get("before") == b"1"  # reads go on
    finally:
        os.kill(r.proc.pid, signal.SIGCONT)
    in_set(pc, 1)
    assert pc.set("after", 1)
    rc = r.client()
    wait_for(lambda: rc.get("after") == b"1", what="the replica to apply")


def test_a_replica_serves_only_committed_writes(live):
    # Two replicas in the set; one stalls: the other logs the new write at once but must not
    # serve it until it is committed (here: once the stalled one has left the set).
    p = server(live, ["--wal-quorum", "2", "--wal-quorum-timeout", "3000"])
    a = server(live, ["--replicaof", "127.0.0.1 %d" % p.port])
    b = server(live, ["--replicaof", "127.0.0.1 %d" % p.port])
    pc, ac = p.client(), a.client()
    in_set(pc, 2)
    pc.set("k", "old")
    wait_for(lambda: ac.get("k") == b"old", what="the replica to apply")
    os.kill(b.proc.pid, signal.SIGSTOP)
    try:
        result = {}
        w = threading.Thread(target=lambda: result.update(r=p.client().set("k", "new")))
        w.start()
        # a logs the record (its durable LSN passes the commit) but serves the old value
        commit = info(pc)["keel_commit_lsn"]
        wait_for(lambda: info(ac)["keel_durable_lsn"] > commit, what="a to log the write")
        assert ac.get("k") == b"old"
        assert info(ac)["keel_applied_lsn"] <= commit
        assert "r" not in result  # not acknowledged either
        w.join(15)
        assert result.get("r") is True  # committed once b left the set
        wait_for(lambda: ac.get("k") == b"new", what="a to serve the committed write")
        assert info(pc)["keel_quorum_set"] == 1
        bi = [v for k, v in info(pc).items() if k.startswith("slave")]
        assert any(isinstance(v, dict) and v.get("keel_in_set") == 0 for v in bi)
    finally:
        os.kill(b.proc.pid, signal.SIGCONT)
    in_set(pc, 2)  # b caught up and is back
    bc = b.client()
    wait_for(lambda: bc.get("k") == b"new", what="b to catch up")
    assert info(bc)["slave_priority"] == 100


def test_a_replica_outside_the_set_says_it_is_not_promotable(live):
    p = server(live, ["--wal-quorum", "2", "--wal-quorum-timeout", "300"])
    a = server(live, ["--replicaof", "127.0.0.1 %d" % p.port])
    proxy = Proxy(p.port)
    try:
        b = server(live, ["--replicaof", "127.0.0.1 %d" % proxy.port])
        pc, bc = p.client(), b.client()
        in_set(pc, 2)
        wait_for(lambda: info(bc).get("keel_in_set") == 1, what="b told it is in the set")
        assert info(bc)["slave_priority"] == 100
        proxy.hold_up.set()  # b's ACKs stop; the primary's frames still reach it
        assert pc.set("x", 1)  # commits once b left the set (a holds it)
        assert info(pc)["keel_quorum_set"] == 1
        wait_for(lambda: info(bc).get("keel_in_set") == 0, what="b told it left the set")
        assert info(bc)["slave_priority"] == 0  # Sentinel must not promote it
        proxy.hold_up.clear()
        in_set(pc, 2)
        wait_for(lambda: info(bc).get("slave_priority") == 100, what="b promotable again")
        del a
    finally:
        proxy.close()


def test_a_replica_with_durability_off_never_counts(live):
    p = server(live, ["--wal-quorum", "2"])
    r = server(live, ["--replicaof", "127.0.0.1 %d" % p.port], durability="off")
    pc = p.client()
    wait_for(lambda: info(pc)["connected_slaves"] == 1 and
             info(pc)["slave0"]["state"] == "online", what="the replica online")
    time.sleep(0.5)
    assert info(pc)["keel_quorum_set"] == 0
    with pytest.raises(redis.ResponseError, match="NOREPLICAS"):
        pc.set("k", 1)
    del r


def test_min_replicas_to_write(live):
    p = server(live, ["--min-replicas-to-write", "1", "--min-replicas-max-lag", "10"])
    pc = p.client()
    with pytest.raises(redis.ResponseError, match="NOREPLICAS Not enough good replicas to write"):
        pc.set("k", 1)
    server(live, ["--replicaof", "127.0.0.1 %d" % p.port])
    wait_for(lambda: _writes(pc), what="writes accepted with a replica")
    pc.config_set("min-replicas-to-write", 0)


def _writes(pc):
    try:
        return pc.set("k", 1)
    except redis.ResponseError:
        return False


def test_a_primary_made_a_replica_fails_its_parked_writes(live):
    # A write parked for the replicas' acknowledgement when the primary is demoted (Sentinel's
    # second thoughts, or an operator) was never committed: its reply must be an error, not an
    # OK given on the demoted node's own disk.
    p = server(live, ["--wal-quorum", "2", "--wal-quorum-timeout", "5000"])
    r = server(live, ["--replicaof", "127.0.0.1 %d" % p.port])
    other = server(live)
    pc = p.client()
    in_set(pc, 1)
    os.kill(r.proc.pid, signal.SIGSTOP)
    try:
        result = {}

        def write():
            try:
                result["r"] = p.client().set("parked", 1)
            except redis.RedisError as e:
                result["e"] = str(e)

        w = threading.Thread(target=write)
        w.start()
        time.sleep(0.5)
        assert not result, result  # parked: the stopped replica is still in the set
        pc.execute_command("REPLICAOF", "127.0.0.1", other.port)
        w.join(10)
        assert "durability unknown" in result.get("e", ""), result
    finally:
        os.kill(r.proc.pid, signal.SIGCONT)


def test_a_promotion_applies_the_uncommitted_tail_once(live):
    # b is stopped but still in the set (a long timeout): the primary's INCRs reach a, which logs
    # them and waits for their commit. The primary dies; a is promoted: it applies that tail
    # (its history now), once, and its log must hold it once too (a restart replays it).
    p = server(live, ["--wal-quorum", "2", "--wal-quorum-timeout", "60000"])
    a = server(live, ["--replicaof", "127.0.0.1 %d" % p.port])
    b = server(live, ["--replicaof", "127.0.0.1 %d" % p.port])
    pc, ac = p.client(), a.client()
    in_set(pc, 2)
    pc.set("ctr", 100)
    wait_for(lambda: ac.get("ctr") == b"100", what="a to apply")
    os.kill(b.proc.pid, signal.SIGSTOP)
    try:
        raw = p.raw()
        for _ in range(5):
            raw.send_cmd("INCR", "ctr")  # parked: b does not acknowledge
        logged = info(pc)["keel_commit_lsn"] + 5
        wait_for(lambda: info(ac)["keel_durable_lsn"] >= logged, what="a to log the INCRs")
        assert ac.get("ctr") == b"100"  # not committed: not served
        p.kill()
        assert ac.execute_command("REPLICAOF", "NO", "ONE") == b"OK"
        assert ac.get("ctr") == b"105"
    finally:
        os.kill(b.proc.pid, signal.SIGCONT)
    a.stop()
    a2 = KeelServer(args=[], data_dir=a.dir, durability="sync", port=a.port)
    live.append(a2)
    a2.start()
    assert a2.client().get("ctr") == b"105"  # the log holds the tail once

"""Replication across format versions (docs/replication.md, "Versions are negotiated"): a replica
that reads an older snapshot format gets a full sync in that format (an export, never this
primary's own newest snapshot), with every key; a replica that announced nothing gets format 1;
one that reads no log record format the primary sends, or no snapshot format it writes, is
refused with an error naming both versions, in its INFO and log and in the primary's.

Older replicas are played by a real keel-server with the test hooks
KEEL_DEBUG_REPL_ANNOUNCE_SNAPSHOT / _RECORDS (it announces that format, and reads every older
one anyway), and by a raw client that speaks the handshake and receives the SNAPSHOT frames."""
import glob
import os
import struct
import subprocess
import tempfile
import time

import pytest

from keel_harness import KeelServer, RespError, binary, wait_for
from test_replication import replica_of, server, snapshot_of, wait_caught_up, write_everything


def with_env(env, start):
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        return start()
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def header(path):
    """(version, min_reader) of a snapshot file."""
    with open(path, "rb") as f:
        h = f.read(16)
    assert h[:8] == b"KEELSNAP", path
    return struct.unpack("<II", h[8:16])


def snapshots(s):
    return sorted(glob.glob(os.path.join(s.dir, "snapshots", "*")))




def link_error(rc, containing):
    """The replica's keel_link_error when it contains that text, else ''."""
    err = str(rc.info("replication").get("keel_link_error", ""))
    return err if containing in err else ""


def fill(pc):
    """Every type, TTLs, and integer strings (which format 1 cannot store as integers)."""
    write_everything(pc, "v", 300)
    p = pc.pipeline(transaction=False)
    for i in range(200):
        p.set("int:%d" % i, i * 1000 - 7)
    p.execute()


@pytest.mark.parametrize("fmt", [1, 2, 3])
def test_a_replica_gets_the_snapshot_format_it_reads_and_every_key(live, fmt):
    p = server(live)
    pc = p.client()
    fill(pc)
    pc.save()  # this primary's own newest snapshot: the newest format, needs reader 2
    own = snapshots(p)
    assert [header(f) for f in own] == [(4, 2)]
    r = with_env({"KEEL_DEBUG_REPL_ANNOUNCE_SNAPSHOT": str(fmt)},
                 lambda: replica_of(live, p.port))
    rc = r.client()
    wait_caught_up(pc, rc, timeout=60)
    assert snapshot_of(rc) == snapshot_of(pc)
    # The replica's snapshot is the file it was sent: in the format it announced.
    got = [f for f in snapshots(r) if f.endswith(".ksnap")]
    assert len(got) == 1 and header(got[0])[0] == fmt
    slave = p.client().info("replication")["slave0"]
    assert slave["keel_sync_snapshot_format"] == fmt and slave["keel_snapshot_format"] == fmt
    # The primary keeps its own snapshot as it was; no export is left behind.
    assert snapshots(p) == own and header(own[0]) == (4, 2)
    log = p.read_log()
    assert ("in snapshot format %d, the newest it reads" % fmt in log) == (fmt < 4)
    # The same data set (a file of format 1 or 2 has no identity: the SNAPSHOT frame names it), so
    # the stream goes on, and a restart of the replica resumes by partial resync.
    assert rc.info("replication")["master_replid"] == pc.info("replication")["master_replid"]
    pc.set("after", "sync")
    pc.incr("int:5")
    wait_caught_up(pc, rc)
    full = pc.info("stats")["sync_full"]
    r.stop()
    r2 = with_env({"KEEL_DEBUG_REPL_ANNOUNCE_SNAPSHOT": str(fmt)},
                  lambda: replica_of(live, p.port, data_dir=r.dir))
    pc.set("after", "restart")
    wait_caught_up(pc, r2.client())
    assert pc.info("stats")["sync_full"] == full
    assert snapshot_of(r2.client()) == snapshot_of(pc)


def test_replicas_that_wait_for_the_same_format_share_one_export(live):
    p = with_env({"KEEL_DEBUG_SNAPSHOT_DELAY_MS": "1500"}, lambda: server(live))
    pc = p.client()
    fill(pc)
    env = {"KEEL_DEBUG_REPL_ANNOUNCE_SNAPSHOT": "1"}
    r1 = with_env(env, lambda: replica_of(live, p.port))
    r2 = with_env(env, lambda: replica_of(live, p.port))
    for r in (r1, r2):
        wait_caught_up(pc, r.client(), timeout=60)
        assert snapshot_of(r.client()) == snapshot_of(pc)
    assert p.read_log().count("Background export started") == 1
    assert snapshots(p) == []  # nothing of the export is left, and no snapshot of its own


def raw_full_sync(p, *replconf):
    """A fake replica: the handshake (REPLCONF replconf, if any), then every frame of the full
    sync up to SNAPEND. Returns (lsn, dataset id, file bytes)."""
    c = p.raw()
    if replconf:
        assert c.call("REPLCONF", *replconf) == "OK"
    reply = c.call("PSYNC", "?", "1")
    assert isinstance(reply, str) and reply.startswith("FULLRESYNC"), reply
    data, lsn, ident = b"", None, None
    while True:
        f = c.read()
        assert isinstance(f, list), f
        if f[0] == b"PING":
            continue
        if f[0] == b"SNAPSHOT":
            lsn, size, ident = int(f[1]), int(f[2]), f[3].decode()
        elif f[0] == b"CHUNK":
            data += f[1]
        elif f[0] == b"SNAPEND":
            break
        else:
            raise AssertionError("unexpected frame %r" % f[:1])
    c.close()
    assert len(data) == size
    return lsn, ident, data


def load_as_server(live, lsn, data):
    """A fresh server that starts from this snapshot file alone."""
    d = tempfile.mkdtemp(prefix="keel-test-")
    os.makedirs(os.path.join(d, "snapshots"))
    path = os.path.join(d, "snapshots", "snap-%020d.ksnap" % lsn)
    with open(path, "wb") as f:
        f.write(data)
    check = subprocess.run([binary("keel-check"), "snapshot", path], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    s = KeelServer(data_dir=d, durability="off")
    s.own_dir = True
    live.append(s)
    return s.start()


@pytest.mark.parametrize("replconf", [(), ("listening-port", "7"),
                                      ("keel-version", "0.0.1", "records", "1", "snapshot", "1")])
def test_a_replica_that_announced_no_snapshot_format_gets_format_1(live, replconf):
    p = server(live)
    pc = p.client()
    fill(pc)
    pc.save()
    lsn, ident, data = raw_full_sync(p, *replconf)
    assert data[:8] == b"KEELSNAP" and struct.unpack("<II", data[8:16]) == (1, 1)
    assert ident == pc.info("replication")["master_replid"]
    s = load_as_server(live, lsn, data)
    assert snapshot_of(s.client()) == snapshot_of(pc)


def test_a_newer_replica_gets_the_newest_format_this_primary_writes(live):
    p = server(live)
    pc = p.client()
    fill(pc)
    lsn, _, data = raw_full_sync(p, "keel-version", "99.0", "records", "7", "snapshot", "42")
    assert struct.unpack("<II", data[8:16]) == (4, 2)
    assert snapshot_of(load_as_server(live, lsn, data).client()) == snapshot_of(pc)


def test_a_replica_that_reads_no_record_format_of_the_primary_is_refused(live):
    p = server(live)
    pc = p.client()
    pc.set("k", "v")
    r = with_env({"KEEL_DEBUG_REPL_ANNOUNCE_RECORDS": "0"}, lambda: replica_of(live, p.port))
    rc = r.client()
    want = ("ERR replication refused: the replica reads log record format 0 at most (keel ",
            "), this primary sends format 1 at the oldest: upgrade the replica to a keel that "
            "reads record format 1")
    err = wait_for(lambda: link_error(rc, "refused"), what="the refusal")
    assert err.startswith("the primary refused: " + want[0]) and err.endswith(want[1]), err
    time.sleep(3)  # a refused replica tries again after 5 s, not every second
    info = pc.info("replication")
    assert 1 <= info["keel_replicas_refused"] <= 2 and info["connected_slaves"] == 0
    assert info["keel_replica_last_refusal"].startswith(want[0])
    assert "Replica 127.0.0.1:" in p.read_log() and want[1] in p.read_log()
    assert want[1] in r.read_log()
    assert rc.dbsize() == 0  # nothing was applied
    # The raw handshake: the error is the reply to REPLCONF, then the link closes.
    c = p.raw()
    e = c.call("REPLCONF", "keel-version", "0.0.1", "records", "0", "snapshot", "3")
    assert isinstance(e, RespError) and str(e).startswith(
        "ERR replication refused: the replica reads log record format 0 at most (keel 0.0.1)")
    with pytest.raises((ConnectionError, OSError)):
        c.call("PING")


def test_a_replica_that_reads_no_snapshot_format_of_the_primary_is_refused_at_full_sync(live):
    p = server(live)
    pc = p.client()
    pc.set("k", "v")
    r = with_env({"KEEL_DEBUG_REPL_ANNOUNCE_SNAPSHOT": "0"}, lambda: replica_of(live, p.port))
    rc = r.client()
    want = "reads snapshot format 0 at most"
    err = wait_for(lambda: link_error(rc, want), what="the refusal")
    assert err.startswith("the primary refused: ERR full sync refused:"), err
    assert err.endswith("upgrade the replica to a keel that reads snapshot format 1"), err
    assert want in pc.info("replication")["keel_replica_last_refusal"]
    assert pc.info("stats")["sync_full"] == 0  # refused before FULLRESYNC: nothing was sent
    assert rc.dbsize() == 0


def test_a_newer_replica_of_a_primary_that_writes_an_older_format(live):
    """A primary whose newest format is 2 (an older build, played by snapshot-format-version):
    the replica reads 3, gets the primary's own format 2 file (no identity section), keeps the data
    set the primary named and resumes by partial resync after a restart."""
    p = server(live, ["--snapshot-format-version", "2"])
    pc = p.client()
    fill(pc)
    pc.save()
    assert [header(f)[0] for f in snapshots(p)] == [2]
    r = replica_of(live, p.port)
    rc = r.client()
    wait_caught_up(pc, rc, timeout=60)
    assert snapshot_of(rc) == snapshot_of(pc)
    assert [header(f)[0] for f in snapshots(r)] == [2]
    assert "Background export" not in p.read_log()  # its own file was sent
    assert pc.info("replication")["slave0"]["keel_sync_snapshot_format"] == 2
    assert rc.info("replication")["master_replid"] == pc.info("replication")["master_replid"]
    full = pc.info("stats")["sync_full"]
    r.stop()
    pc.set("while", "down")
    r2 = replica_of(live, p.port, data_dir=r.dir)
    wait_caught_up(pc, r2.client())
    assert pc.info("stats")["sync_full"] == full
    assert r2.client().get("while") == b"down"


def test_an_export_left_by_a_crash_is_removed_and_the_primary_recovers_its_own_snapshot(live):
    p = server(live)
    pc = p.client()
    fill(pc)
    pc.save()
    replid = pc.info("replication")["master_replid"]
    want = snapshot_of(pc)
    r = with_env({"KEEL_DEBUG_REPL_ANNOUNCE_SNAPSHOT": "1"}, lambda: replica_of(live, p.port))
    wait_caught_up(pc, r.client(), timeout=60)
    p.kill()
    left = os.path.join(p.dir, "snapshots", "export-v1-%020d.ksnap" % 5)
    with open(left, "wb") as f:
        f.write(b"KEELSNAP" + b"\0" * 100)
    p2 = KeelServer(data_dir=p.dir, durability="sync", port=p.port)
    live.append(p2)
    p2.start()
    assert not os.path.exists(left)
    assert "left by a full sync that never sent it" in p2.read_log()
    c = p2.client()
    assert c.info("replication")["master_replid"] == replid
    assert c.info("snapshot")["snapshot_loaded_keys"] > 0
    assert snapshot_of(c) == want

"""Operator mistakes that must not lose acknowledged writes (docs/durability.md, "Operator
mistakes"): two servers on one data directory, a mistyped or deleted wal-dir, damage to the newest
segment after a clean shutdown, files of another data set, and a log directory that stays bounded
over restarts and snapshots. Each test fails on a server without the protection it checks."""
import glob
import os
import shutil
import subprocess
import time

import pytest
import redis

from keel_harness import KeelServer, binary


def server(live, data_dir, args=(), durability="sync", wait=True):
    os.makedirs(data_dir, exist_ok=True)
    s = KeelServer(args=list(args), data_dir=data_dir, durability=durability)
    live.append(s)
    return s.start(wait=wait)


def refused(live, data_dir, args=(), durability="sync"):
    """Starts a server that must refuse; returns its log."""
    os.makedirs(data_dir, exist_ok=True)
    s = KeelServer(args=list(args), data_dir=data_dir, durability=durability)
    live.append(s)
    s.start(wait=False)
    try:
        s.proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        pytest.fail("the server started although it should have refused:\n" + s.read_log())
    assert s.proc.returncode != 0
    return s.read_log()


def fill(r, prefix, n, size=100):
    p = r.pipeline(transaction=False)
    for i in range(n):
        p.set("%s:%d" % (prefix, i), ("%s-%d-" % (prefix, i)).ljust(size, "x"))
    p.execute()


def check(r, prefix, n, size=100):
    vals = r.mget(["%s:%d" % (prefix, i) for i in range(n)])
    for i, v in enumerate(vals):
        assert v == ("%s-%d-" % (prefix, i)).ljust(size, "x").encode(), "%s:%d" % (prefix, i)


def info(r, section):
    return r.info(section)


def newest_segment(wal_dir):
    segs = sorted(glob.glob(os.path.join(wal_dir, "wal-*.log")))
    assert segs, "no segment in " + wal_dir
    return segs[-1]


def test_a_second_server_on_the_same_data_directory_is_refused_naming_the_pid(live, tmp_path):
    d = str(tmp_path / "d")
    a = server(live, d)
    a.client().set("k", "v")
    log = refused(live, d)
    assert "in use by another keel-server (pid %d)" % a.proc.pid in log
    assert a.client().get("k") == b"v"  # the first one is untouched


def test_a_second_server_on_the_same_log_copy_is_refused(live, tmp_path):
    wal = str(tmp_path / "shared-wal")
    server(live, str(tmp_path / "a"), args=["--wal-dir", wal])
    log = refused(live, str(tmp_path / "b"), args=["--wal-dir", wal])
    assert "log copy %s is in use by another keel-server" % wal in log


def test_the_lock_dies_with_the_process(live, tmp_path):
    d = str(tmp_path / "d")
    a = server(live, d)
    a.client().set("k", "v")
    a.kill()  # SIGKILL: no clean shutdown, the flock goes with the process
    b = server(live, d)
    assert b.client().get("k") == b"v"


def test_a_mistyped_wal_dir_is_refused_and_the_real_log_is_kept(live, tmp_path):
    d = str(tmp_path / "d")
    a = server(live, d)
    r = a.client()
    fill(r, "k", 200)
    r.bgsave()
    time.sleep(0.5)
    fill(r, "after", 50)  # acknowledged after the snapshot: only in the log
    assert a.stop() == 0
    log = refused(live, d, args=["--wal-dir", d + "/wal-typo"])
    assert "must exist" in log and "Refusing to start" in log
    b = server(live, d)  # the right directory: nothing was mixed into it
    check(b.client(), "k", 200)
    check(b.client(), "after", 50)


def test_a_deleted_wal_dir_is_refused_unless_the_loss_is_accepted(live, tmp_path):
    d = str(tmp_path / "d")
    a = server(live, d)
    r = a.client()
    fill(r, "k", 100)
    r.bgsave()
    time.sleep(0.5)
    fill(r, "after", 30)
    assert a.stop() == 0
    shutil.rmtree(os.path.join(d, "wal"))
    log = refused(live, d)
    assert "must exist" in log
    b = server(live, d, args=["--wal-accept-loss", "yes"])  # the operator's explicit choice
    check(b.client(), "k", 100)  # what the snapshot held
    assert "wal-accept-loss" in b.read_log()
    b.client().set("new", "1")
    assert b.stop() == 0
    c = server(live, d)  # and the next start is a normal one again
    assert c.client().get("new") == b"1"


def test_a_flipped_byte_in_a_sealed_log_is_damage_not_a_torn_tail(live, tmp_path):
    d = str(tmp_path / "d")
    a = server(live, d)
    fill(a.client(), "k", 100)
    assert a.stop() == 0
    assert "sealed at LSN" in a.read_log()
    seg = newest_segment(os.path.join(d, "wal"))
    with open(seg, "r+b") as f:  # a byte of the last value, a few bytes before the seal
        data = f.read()
        at = data.rindex(b"k-99-") + 10
        f.seek(at)
        f.write(bytes([data[at] ^ 0x40]))
    log = refused(live, d)
    assert "Refusing to start" in log
    rc = subprocess.run([binary("keel-check"), "wal", os.path.join(d, "wal")],
                        capture_output=True, text=True)
    assert rc.returncode == 1, rc.stdout + rc.stderr


def test_a_truncated_newest_segment_after_a_clean_shutdown_is_refused(live, tmp_path):
    d = str(tmp_path / "d")
    a = server(live, d)
    fill(a.client(), "k", 300)
    assert a.stop() == 0
    seg = newest_segment(os.path.join(d, "wal"))
    with open(seg, "r+b") as f:
        end = len(f.read().rstrip(b"\0"))
        f.truncate(end // 2)
    assert "Refusing to start" in refused(live, d)


def test_a_log_copy_of_another_data_set_is_refused(live, tmp_path):
    a_dir, b_dir = str(tmp_path / "a"), str(tmp_path / "b")
    a = server(live, a_dir)
    fill(a.client(), "a", 10)
    assert a.stop() == 0
    b = server(live, b_dir)
    fill(b.client(), "b", 10)
    assert b.stop() == 0
    log = refused(live, a_dir, args=["--wal-dir", os.path.join(b_dir, "wal")])
    assert "another data set" in log or "belongs to" in log


def test_a_snapshot_of_another_data_set_is_refused(live, tmp_path):
    a_dir, b_dir = str(tmp_path / "a"), str(tmp_path / "b")
    for d in (a_dir, b_dir):
        s = server(live, d)
        fill(s.client(), "x", 10)
        s.client().save()
        assert s.stop() == 0
    for f in glob.glob(os.path.join(a_dir, "snapshots", "*.ksnap")):
        os.unlink(f)
    for f in glob.glob(os.path.join(b_dir, "snapshots", "*.ksnap")):
        shutil.copy(f, os.path.join(a_dir, "snapshots"))
    log = refused(live, a_dir)
    assert "belongs to data set" in log


def test_info_shows_the_data_set_and_the_log_on_disk(live, tmp_path):
    d = str(tmp_path / "d")
    a = server(live, d)
    r = a.client()
    w = info(r, "wal")
    assert len(str(w["wal_dataset_id"])) == 36 and w["wal_epoch"] == 1
    copy = w["wal_copy0"]
    assert copy["disk_bytes"] > 0
    with open(os.path.join(d, "keel.id")) as f:
        assert str(w["wal_dataset_id"]) in f.read()
    assert a.stop() == 0
    b = server(live, d)  # the same data set after a restart
    assert str(info(b.client(), "wal")["wal_dataset_id"]) == str(w["wal_dataset_id"])


def test_restarts_and_snapshots_keep_the_log_directory_bounded(live, tmp_path):
    """20 restarts (10 of them crashes) and 5 snapshots: the live log keeps a bounded number of
    segments (those after the oldest kept snapshot, plus the one being written), and a start
    after crashes replays a bounded number of records because automatic snapshots count the log
    since the newest snapshot on disk, not since the start."""
    d = str(tmp_path / "d")
    args = ["--wal-segment-size", "1mb", "--snapshot-wal-bytes", "512kb", "--wal-retention", "0",
            "--snapshot-keep", "2", "--hz", "50"]
    per_cycle = 400  # ~160 KiB of log per cycle
    for cycle in range(20):
        s = server(live, d, args=args)
        r = s.client()
        fill(r, "c%d" % cycle, per_cycle, size=300)
        if cycle % 4 == 3:
            r.bgsave()
        time.sleep(0.3)
        if cycle % 2:
            s.kill()
        else:
            assert s.stop() == 0
    s = server(live, d, args=args)
    r = s.client()
    for cycle in range(20):
        check(r, "c%d" % cycle, per_cycle, size=300)
    segs = glob.glob(os.path.join(d, "wal", "wal-*.log"))
    # snapshot-wal-bytes 512kb and 1 MiB segments: the log after the older kept snapshot spans a
    # few segments; 20 starts without the bound made 20 or more.
    assert len(segs) <= 6, sorted(segs)
    disk = sum(os.path.getsize(p) for p in segs)
    assert disk <= 6 * 1024 * 1024, disk
    assert info(r, "wal")["wal_recovered_records"] <= 4 * per_cycle

"""keel-check: log copies whose framing is sound but whose payloads a server's replay would refuse,
torn tails, paths that are not what they should be, directories a running server holds (its
keel.lock), and snapshots a server with fewer databases would refuse. Exit codes: 0 sound,
1 damaged or refused, 2 usage or live directory, 3 attention."""
import fcntl
import os
import shutil
import struct
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from keel_harness import KeelServer, binary  # noqa: E402

DATA = os.path.join(os.path.dirname(__file__), "..", "data")

# ---- a log written by hand, per docs/formats/wal.md section 2 -------------------------------


def _crc32c_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC_TABLE = _crc32c_table()


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = _CRC_TABLE[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


SEG_HDR, REC_HDR = 64, 32
AFTER_SYNC, SEAL = 1, 2


def seg_header(first_lsn, created_ms=1_800_000_000_000, dataset=b"keel-check-test!", epoch=1):
    h = b"KEELWAL\0" + struct.pack("<IIQq", 2, SEG_HDR, first_lsn, created_ms) + dataset + \
        struct.pack("<Q", epoch) + b"\0" * 4
    return h + struct.pack("<I", crc32c(h))


def record(lsn, payload, db=0, flags=0, ts=1_800_000_000_000, crc_ok=True):
    body = struct.pack("<QqII", lsn, ts, db, flags) + payload
    crc = crc32c(body) if crc_ok else crc32c(body) ^ 0xDEADBEEF
    rec = struct.pack("<II", len(payload), crc) + body
    return rec + b"\0" * (-len(rec) % 8)


def resp(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


def write_log(d, payloads, seal=True, tail=b"", dbs=None):
    """One segment from LSN 1 holding a record per payload, then tail bytes, then the seal and
    4 KiB of zeros (as a preallocated segment). Returns the segment's path."""
    os.makedirs(d, exist_ok=True)
    data = seg_header(1)
    for i, p in enumerate(payloads):
        data += record(i + 1, p, db=(dbs or {}).get(i + 1, 0))
    data += tail
    if seal:
        data += record(len(payloads), b"", flags=SEAL | AFTER_SYNC)
    path = os.path.join(d, "wal-%020d.log" % 1)
    with open(path, "wb") as f:
        f.write(data + b"\0" * 4096)
    return path


GOOD = [resp("SET", "a", "1"), resp("SELECT", 3) + resp("SET", "b", "2"),
        resp("HSET", "h", "f", "v"), resp("DEL", "a")]


def check(*args):
    return subprocess.run([binary("keel-check")] + list(args), capture_output=True, text=True,
                          timeout=60)


def hold_lock(d, pid=None):
    """Holds d/keel.lock as a running server does: exclusive flock, PID in the file."""
    f = open(os.path.join(d, "keel.lock"), "a+")
    fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    f.truncate(0)
    f.write("%d\n" % (pid or os.getpid()))
    f.flush()
    return f


# ---- logs ------------------------------------------------------------------------------------


def test_a_sound_sealed_log_written_by_a_server_is_ok(tmp_path):
    (tmp_path / "data").mkdir()
    s = KeelServer(data_dir=str(tmp_path / "data"), durability="sync")
    try:
        s.start()
        r = s.client()
        for i in range(50):
            r.set("k%d" % i, i)
        r.hset("h", mapping={"a": 1, "b": 2})
        r.execute_command("SELECT", 5)
        r.rpush("l", 1, 2, 3)
        r.expire("l", 1000)
        assert s.stop() == 0
    finally:
        s.cleanup()
    res = check("wal", str(tmp_path / "data" / "wal"))
    assert res.returncode == 0, res.stdout + res.stderr
    assert "sealed at LSN" in res.stdout
    assert "payloads: 53 records" in res.stdout  # 50 SET, HSET, RPUSH, PEXPIREAT
    assert res.stdout.rstrip().endswith(": OK")


def test_a_crafted_sound_log_is_ok(tmp_path):
    d = str(tmp_path / "wal")
    write_log(d, GOOD)
    res = check("wal", d)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "payloads: 4 records, 5 commands" in res.stdout


@pytest.mark.parametrize("payload,reason", [
    (b"this is not RESP at all", "not a RESP array"),
    (b"*2\r\n$3\r\nSET\r\n:1\r\n", "RESP protocol error: expected '$'"),
    (b"*3\r\n$3\r\nSET\r\n$1\r\na\r\n$5\r\nab", "the payload ends inside a command"),
    (b"*0\r\n", "an empty array"),
    (resp("FROBNICATE", "x"), "unknown command 'FROBNICATE'"),
    (resp("SET", "onlykey"), "wrong number of arguments (2) for 'set'"),
    (resp("SELECT", 16) + resp("SET", "a", "b"), "SELECT 16: the server has databases 0..15"),
    (resp("SELECT", "x"), "bad SELECT"),
    (b"", "empty payload"),
])
def test_a_record_replay_would_refuse_is_damaged(tmp_path, payload, reason):
    d = str(tmp_path / "wal")
    seg = write_log(d, GOOD[:2] + [payload] + GOOD[2:])
    res = check("wal", d)
    assert res.returncode == 1, res.stdout + res.stderr
    # framing is sound; the payload pass names copy, file, offset, LSN and the reason
    assert "ok: 1 segments, 5 records" in res.stdout
    off = SEG_HDR + len(record(1, GOOD[0])) + len(record(2, GOOD[1]))
    where = "%s/%s offset %d: record LSN 3" % (d, os.path.basename(seg), off)
    assert "payload DAMAGED: " + where in res.stdout
    assert reason in res.stdout
    assert "DAMAGED" in res.stderr and reason in res.stderr and "LSN 3" in res.stderr


def test_a_record_header_database_beyond_databases_is_damaged(tmp_path):
    d = str(tmp_path / "wal")
    write_log(d, GOOD, dbs={2: 20})
    res = check("wal", d)
    assert res.returncode == 1
    assert "database index 20 in the record header" in res.stdout
    assert check("--databases", "32", "wal", d).returncode == 0


def test_databases_option_moves_the_select_limit(tmp_path):
    d = str(tmp_path / "wal")
    write_log(d, GOOD + [resp("SELECT", 20) + resp("SET", "x", "y")])
    assert check("wal", d).returncode == 1
    res = check("--databases", "21", "wal", d)
    assert res.returncode == 0, res.stdout + res.stderr
    res = check("--databases", "20", "wal", d)
    assert res.returncode == 1 and "databases 0..19" in res.stdout
    assert check("--databases", "0", "wal", d).returncode == 2


def test_a_torn_tail_is_attention(tmp_path):
    d = str(tmp_path / "wal")
    write_log(d, GOOD, seal=False, tail=record(5, resp("SET", "z", "1"), crc_ok=False))
    res = check("wal", d)
    assert res.returncode == 3, res.stdout + res.stderr
    assert "TORN TAIL" in res.stdout and "payloads: 4 records" in res.stdout


def test_damage_in_a_sealed_log_is_damage_not_a_torn_tail(tmp_path):
    d = str(tmp_path / "wal")
    write_log(d, GOOD, seal=True, tail=record(5, resp("SET", "z", "1"), crc_ok=False))
    res = check("wal", d)
    assert res.returncode == 1 and "closed cleanly" in res.stdout


def test_paths_that_are_not_log_copies_or_snapshots_are_usage_errors(tmp_path):
    res = check("wal", str(tmp_path / "missing"))
    assert res.returncode == 2 and "no such directory" in res.stderr
    f = tmp_path / "file"
    f.write_text("x")
    res = check("wal", str(f))
    assert res.returncode == 2 and "not a log copy" in res.stderr
    res = check("snapshot", str(tmp_path / "missing.ksnap"))
    assert res.returncode == 2 and "not a snapshot file" in res.stderr
    res = check("snapshot", str(f))
    assert res.returncode == 2 and "not a snapshot file (bad magic)" in res.stderr
    res = check("snapshot", str(tmp_path))
    assert res.returncode == 2 and "not a regular file" in res.stderr
    # the most severe status of several paths: 1 before 2
    d = str(tmp_path / "wal")
    write_log(d, [b"junk"])
    assert check("wal", str(tmp_path / "missing"), d).returncode == 1


def test_a_directory_a_running_server_holds_is_refused_unless_live(tmp_path):
    d = str(tmp_path / "wal")
    write_log(d, GOOD, seal=False)
    lock = hold_lock(d)
    try:
        res = check("wal", d)
        assert res.returncode == 2, res.stdout + res.stderr
        assert "in use by a running server (pid %d)" % os.getpid() in res.stderr
        assert "stop the server or copy the directory" in res.stderr
        assert "ok:" not in res.stdout  # nothing was read
        res = check("--live", "wal", d)
        assert res.returncode == 0, res.stdout + res.stderr
        assert "checking anyway (--live)" in res.stderr
    finally:
        lock.close()
    assert check("wal", d).returncode == 0  # the lock died with its holder


def test_the_data_directory_lock_counts_for_its_log_copy(tmp_path):
    d = str(tmp_path / "wal")
    write_log(d, GOOD)
    lock = hold_lock(str(tmp_path), pid=4242)
    try:
        res = check("wal", d)
        assert res.returncode == 2 and "(pid 4242)" in res.stderr
        assert check("--live", "wal", d).returncode == 0
    finally:
        lock.close()


def test_checking_creates_no_lock_file_in_what_it_checks(tmp_path):
    d = str(tmp_path / "empty")
    os.mkdir(d)
    res = check("wal", d)
    assert res.returncode == 3 and "EMPTY" in res.stdout
    assert os.listdir(d) == []


# ---- snapshots -------------------------------------------------------------------------------


def test_snapshot_with_a_database_beyond_databases_is_refused(tmp_path):
    # the server golden file holds keys in databases 0, 1 and 15
    f = os.path.join(DATA, "snapshot-v3-server.ksnap")
    assert check("snapshot", f).returncode == 0
    res = check("--databases", "8", "snapshot", f)
    assert res.returncode == 1, res.stdout + res.stderr
    assert "REFUSED" in res.stdout and "database 15" in res.stdout
    assert "REFUSED" in res.stderr and "database 15" in res.stderr
    res = check("snapshot", os.path.join(DATA, "snapshot-v3.ksnap"))
    assert res.returncode == 1 and "database 4294967295" in res.stderr


def test_damaged_snapshot_is_damaged(tmp_path):
    f = str(tmp_path / "snap-00000000000001234567.ksnap")
    shutil.copy(os.path.join(DATA, "snapshot-v3-server.ksnap"), f)
    with open(f, "r+b") as fh:
        data = bytearray(fh.read())
        data[len(data) // 3] ^= 0x5A
        fh.seek(0)
        fh.write(data)
    res = check("snapshot", f)
    assert res.returncode == 1 and "DAMAGED" in res.stderr


def test_help_documents_the_exit_codes():
    res = check("--help")
    assert res.returncode == 0
    for s in ("--databases", "--live", "0  sound", "1  damaged", "2  usage", "3  attention"):
        assert s in res.stdout
    assert check().returncode == 2
    assert check("--bogus", "wal", "/tmp").returncode == 2

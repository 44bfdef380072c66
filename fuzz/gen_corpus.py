#!/usr/bin/python3
"""gen_corpus.py - writes the seed corpus of every fuzz target into fuzz/corpus/<target>/.

The seeds are valid inputs (plus a few near misses) in each harness's input format (the comment
at the top of each fuzz/fuzz_<target>.c): requests for resp, the golden log copies of tests/data
(written by the project's own log writer) for wal, the golden snapshots of tests/data (written by
the project's snapshot writer) and records encoded as docs/formats/snapshot.md defines them for
snapshot, settings for config, the DUMP payloads of tests/data/dump for restore. Deterministic: running it again gives the same files.

Usage: fuzz/gen_corpus.py   (from anywhere; rewrites fuzz/corpus/, keeps nothing else there)
"""
import os
import shutil
import struct

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "fuzz", "corpus")
DATA = os.path.join(ROOT, "tests", "data")


def write(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# ---- resp: byte 0 picks the limits (fuzz_resp.c), the rest is what a client sends ----

def bulk(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


def gen_resp():
    seeds = {
        "multibulk-set": (0, bulk(b"SET", b"key", b"hello")),
        "inline-ping": (0, b"PING\r\n"),
        "inline-quotes": (0, b"SET \"a b\" 'c d' \"\\x41\\n\\t\\\\\" e\r\n"),
        "inline-lf-only": (0, b"GET k\nGET j\n"),
        "pipeline": (0, bulk(b"SET", b"a", b"1") + bulk(b"INCR", b"a") + b"GET a\r\n" +
                     bulk(b"DEL", b"a")),
        "empty-and-null": (0, b"*0\r\n*-1\r\n\r\n\n" + bulk(b"PING")),
        "binary-bulk": (0, bulk(b"SET", b"k", b"a\r\nb\x00c\xff")),
        "big-bulk": (0, bulk(b"SET", b"k", b"x" * 2000)),
        "small-limits": (0x15, bulk(b"SET", b"k", b"0123456789abcdefgh")),
        "multibulk-limit": (0x04, bulk(b"MSET", b"a", b"1", b"b", b"2")),
        "bad-count": (0, b"*2\r\n$a\r\n"),
        "bad-prefix": (0, b"*1\r\n+OK\r\n"),
        "unbalanced-quotes": (0, b"SET \"abc\r\n"),
        "bulk-no-crlf": (0, b"*1\r\n$3\r\nabcde\r\n"),
        "mixed": (0x2a, b"PING\r\n" + bulk(b"ECHO", b"hi") + b"  \r\nQUIT\r\n"),
    }
    for name, (limits, data) in seeds.items():
        write("resp", name, bytes([limits]) + data)


# ---- wal: byte 0 flags, byte 1 arg, then segment files back to back (fuzz_wal.c) ----

F_RESEAL, F_RENUMBER, F_TWO, F_ARCHIVE, F_ACCEPT, F_VERBOSE = 1, 2, 4, 8, 16, 32
SEG_HDR, REC_HDR = 64, 32


def segments(copy):
    d = os.path.join(DATA, copy)
    return [open(os.path.join(d, n), "rb").read() for n in sorted(os.listdir(d))]


def records(seg):
    """The records of a segment (headers and payload, padded), up to the first zero header."""
    out, off = [], SEG_HDR
    while off + REC_HDR <= len(seg) and seg[off:off + REC_HDR] != bytes(REC_HDR):
        (length,) = struct.unpack_from("<I", seg, off)
        size = (REC_HDR + length + 7) & ~7
        out.append(seg[off:off + size])
        off += size
    return out


def gen_wal():
    for copy in ("wal-v1", "wal-v2", "wal-v2-sealed"):
        segs = segments(copy)
        write("wal", copy, bytes([0, 0]) + b"".join(segs))
        write("wal", copy + "-verbose-after", bytes([F_VERBOSE, 2]) + b"".join(segs))
    v2 = segments("wal-v2")
    write("wal", "wal-v2-two-copies", bytes([F_TWO, 0x13]) + b"".join(v2))
    write("wal", "wal-v2-archive", bytes([F_ARCHIVE | 0x40, 0x04]) + b"".join(v2))
    r1, r2 = records(v2[0]), records(v2[1])
    small = v2[0][:SEG_HDR] + b"".join(r1[:4]) + v2[1][:SEG_HDR] + b"".join(r2[:3])
    write("wal", "small-renumbered", bytes([F_RESEAL | F_RENUMBER, 0]) + small)
    write("wal", "small-two-copies", bytes([F_RESEAL | F_RENUMBER | F_TWO, 0x15]) + small)
    write("wal", "small-budget-1", bytes([F_RESEAL | F_RENUMBER | 0x40, 0x01]) + small)
    sealed = segments("wal-v2-sealed")[2]
    seal = [r for r in records(sealed) if r[28] & 2]
    rs = [r for r in records(sealed) if not r[28] & 2]
    write("wal", "small-sealed", bytes([F_RESEAL | F_RENUMBER, 0]) + sealed[:SEG_HDR] +
          b"".join(rs[:3]) + b"".join(seal))
    write("wal", "torn-tail", bytes([F_RESEAL, 0]) + v2[0][:SEG_HDR] + b"".join(r1[:3]) +
          r1[3][:20])
    write("wal", "torn-tail-accept", bytes([F_RESEAL | F_ACCEPT | F_TWO, 0x11]) +
          v2[0][:SEG_HDR] + b"".join(r1[:3]) + r1[3][:20])
    write("wal", "one-record", bytes([0, 0]) + r1[0])
    v1 = segments("wal-v1")
    write("wal", "v1-small", bytes([F_RESEAL | F_RENUMBER, 0]) + v1[0][:SEG_HDR] +
          b"".join(records(v1[0])[:5]))


# ---- snapshot: byte 0 mode and flags, then a file or the fields of a built one ----

def varint(v):
    out = b""
    while v >= 0x80:
        out += bytes([(v & 0x7F) | 0x80])
        v >>= 7
    return out + bytes([v])


def rec(rtype, since, body, required=True):
    return bytes([rtype | (0x80 if required else 0), since]) + varint(len(body)) + body


def head(db, key, expire=0):
    return varint(db) + varint(expire) + varint(len(key)) + key


def elems(items, scores=None):
    out = varint(len(items))
    for i, it in enumerate(items):
        out += varint(len(it)) + it
        if scores is not None:
            out += struct.pack("<d", scores[i])
    return out


def zigzag(v):
    return ((v << 1) ^ (v >> 63)) & 0xFFFFFFFFFFFFFFFF


def built(version, min_reader, flags, chunks, lsn, body, identity=None, skew=0):
    """Input of the build mode: v, min_reader, flags, chunks, skew, lsn, [identity], records."""
    out = bytes([version - 1, min_reader - 1, flags, chunks - 1, skew]) + struct.pack("<Q", lsn)
    if identity is not None:
        out += bytes([len(identity)])
        for epoch, first in identity:
            out += struct.pack("<QQ", epoch, first)
    return out + body


def gen_snapshot():
    for name in sorted(os.listdir(DATA)):
        if not name.endswith(".ksnap"):
            continue
        data = open(os.path.join(DATA, name), "rb").read()
        base = name[:-len(".ksnap")]
        write("snapshot", base, bytes([0]) + data)
        if len(data) < 1024:
            write("snapshot", base + "-resealed", bytes([1 | 128]) + data)
            write("snapshot", base + "-2threads-check", bytes([1 | 4 | 8]) + data)
    string = rec(1, 1, head(0, b"str", 1700000000001) + varint(5) + b"hello")
    intstr = rec(7, 2, head(1, b"num") + varint(zigzag(-42)))
    lst = rec(2, 1, head(0, b"list") + elems([b"a", b"bb", b""]))
    hsh = rec(3, 1, head(0, b"hash") + varint(2) + varint(1) + b"f" + varint(1) + b"v" +
              varint(2) + b"f2" + varint(0))
    st = rec(4, 1, head(2, b"set") + elems([b"x", b"y"]))
    zs = rec(5, 1, head(0, b"zset") + elems([b"m1", b"m2"], [1.5, -2.0]))
    meta = rec(6, 2, varint(12345), required=False)
    unknown = rec(40, 5, b"later", required=False)  # a type no version has assigned yet
    v1 = string + lst + hsh + st + zs
    v2 = meta + string + intstr + lst + meta + hsh + st + zs + unknown
    write("snapshot", "built-v1", bytes([2]) + built(1, 1, 0, 1, 100, v1))
    write("snapshot", "built-v2-chunks", bytes([2 | 4]) + built(2, 2, 3, 3, 200, v2))
    write("snapshot", "built-v3-identity", bytes([2 | 128]) +
          built(3, 2, 3, 2, 300, v2, identity=[(1, 1), (3, 250)]))
    write("snapshot", "built-v2-old-reader", bytes([2 | 32]) + built(2, 2, 3, 1, 1, v2))
    write("snapshot", "built-check-dups", bytes([2 | 8]) + built(2, 2, 3, 1, 1, v2 + string))
    write("snapshot", "built-empty", bytes([3]) + built(1, 1, 0, 1, 0, b""))


# ---- config: byte 0 picks file / CONFIG SET / arguments / both (fuzz_config.c) ----

CONF = b"""# keel.conf
bind 127.0.0.1
port 7000
dir ./data
durability async
wal-dir ./a
wal-dir "./b c"
maxmemory 100mb
maxmemory-policy allkeys-lfu
requirepass "p a\\"ss"
client-output-buffer-limit normal 0 0 0 pubsub 32mb 8mb 60
notify-keyspace-events KEA
replicaof 10.0.0.1 6380
save ""
appendonly no
slave-priority 50
loglevel warning
hz 20
"""


def gen_config():
    write("config", "file", bytes([0]) + CONF)
    write("config", "file-minimal", bytes([0]) + b"port 6380\n")
    write("config", "config-set", bytes([1]) + b"maxmemory 10mb hz 50\nrequirepass secret\n"
          b"notify-keyspace-events Ex\nmaxmemory-policy volatile-ttl\n"
          b"client-output-buffer-limit normal\nreplica-announce-ip 10.1.1.1\nmax*")
    write("config", "args", bytes([2]) + b"--port 7001 --maxmemory 1gb --wal-dir /x --wal-dir /y "
          b"--replicaof host 6379 --save")
    write("config", "file-then-set", bytes([3]) + b"dir /tmp/k\nmaxmemory 1mb\nhz 11\n*memory*")


# ---- restore: byte 0 bit 0 = whole payload (else a body), bit 1 = tiny encoding limits ----

def gen_restore():
    """The DUMP payloads of tests/data/dump (redis-server 7.0's, and the older encodings built
    and checked against it by make_payloads.py): whole, and as bodies under tiny limits."""
    d = os.path.join(DATA, "dump")
    for name in sorted(os.listdir(d)):
        if not name.endswith(".bin"):
            continue
        with open(os.path.join(d, name), "rb") as f:
            payload = f.read()
        stem = name[:-4]
        write("restore", stem, bytes([1]) + payload)
        write("restore", stem + "-body-tiny", bytes([2]) + payload[:-10])


def main():
    shutil.rmtree(CORPUS, ignore_errors=True)
    gen_resp()
    gen_wal()
    gen_snapshot()
    gen_config()
    gen_restore()


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""Regenerates the DUMP payloads in this folder (tests/unit/test_types_rdb_value.c reads them).

Run from anywhere: /usr/bin/python3 tests/data/dump/make_payloads.py
(VALKEY=/path/to/valkey-server also regenerates stream_v21, which only Valkey 7.2+ writes.)
It starts Debian's redis-server 7.0 on a free port of 127.0.0.1 (killed by PID at the end), with
rdbcompression on (strings and blobs over 20 bytes are LZF-compressed, as by default), builds each
value below in the encoding named, and writes DUMP's reply to <name>.bin.

The older encodings a payload may still carry (RDB types 1, 3, 9, 10, 12, 13, 14, written by
Redis before 7.0, and type 20, the listpack set of Valkey 7.2+/8 at RDB version 11) cannot be
produced by redis-server 7.0, so they are built here byte by byte from the RDB format; every one
at a version redis-server 7.0 reads is then RESTOREd into it with sanitize-dump-payload yes and
must read back as the same value, so the bytes are checked by a real reader, not only by us.

Streams: stream_v19 is redis-server 7.0's DUMP of STREAM_CMDS, stream_v15 a type 15 payload built
here and read back by redis-server, stream_v21 valkey-server's DUMP (with VALKEY only); each
<name>.txt is what that server's XINFO STREAM FULL said (stream_lines), the text the unit test
renders Keel's decoded stream into. stream_bad_*.bin each break one rule of the stream reader
(those redis-server refuses too are checked there). v80_hash_ttl is Valkey 9's type 22, built
from its layout (no server here reads RDB 80).
"""
import os
import socket
import struct
import subprocess
import sys
import tempfile
import time

import redis

HERE = os.path.dirname(os.path.abspath(__file__))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# ---- CRC-64 Jones and the trailer ---------------------------------------------------------------

def crc64(data):
    crc = 0
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0x95AC9329AC4BC9B5 if crc & 1 else crc >> 1
    return crc


def seal(body, version):
    body += struct.pack("<H", version)
    return body + struct.pack("<Q", crc64(body))


# ---- RDB pieces ---------------------------------------------------------------------------------

def rlen(n):
    if n < 64:
        return bytes([n])
    if n < 16384:
        return bytes([0x40 | (n >> 8), n & 0xFF])
    return b"\x80" + struct.pack(">I", n)


def rstr(s):
    return rlen(len(s)) + s


def ms8(v):
    return struct.pack("<q", v)


def ziplist(items):
    """items: bytes (strings) or ints; the encodings Redis 6 picks for each."""
    entries = []
    prev = 0
    for it in items:
        pl = bytes([prev]) if prev < 254 else b"\xfe" + struct.pack("<I", prev)
        if isinstance(it, int):
            if 0 <= it <= 12:
                enc = bytes([0xF1 + it])
            elif -128 <= it <= 127:
                enc = b"\xfe" + struct.pack("<b", it)
            elif -32768 <= it <= 32767:
                enc = b"\xc0" + struct.pack("<h", it)
            elif -(1 << 23) <= it < (1 << 23):
                enc = b"\xf0" + struct.pack("<i", it)[:3]
            elif -(1 << 31) <= it < (1 << 31):
                enc = b"\xd0" + struct.pack("<i", it)
            else:
                enc = b"\xe0" + struct.pack("<q", it)
        else:
            n = len(it)
            if n < 64:
                enc = bytes([n]) + it
            elif n < 16384:
                enc = bytes([0x40 | (n >> 8), n & 0xFF]) + it
            else:
                enc = b"\x80" + struct.pack(">I", n) + it
        e = pl + enc
        entries.append(e)
        prev = len(e)
    body = b"".join(entries)
    tail = 10 + sum(len(e) for e in entries[:-1]) if entries else 10
    total = 10 + len(body) + 1
    return struct.pack("<IIH", total, tail, len(items)) + body + b"\xff"


def lp_backlen(n):
    if n <= 127:
        return bytes([n])
    if n < 16383:
        return bytes([n >> 7, (n & 127) | 128])
    raise ValueError("long entry")


def listpack(items):
    body = b""
    for it in items:
        if isinstance(it, int):
            if 0 <= it <= 127:
                e = bytes([it])
            elif -4096 <= it <= 4095:
                v = it & 0x1FFF
                e = bytes([0xC0 | (v >> 8), v & 0xFF])
            elif -32768 <= it <= 32767:
                e = b"\xf1" + struct.pack("<h", it)
            elif -(1 << 23) <= it < (1 << 23):
                e = b"\xf2" + struct.pack("<i", it)[:3]
            elif -(1 << 31) <= it < (1 << 31):
                e = b"\xf3" + struct.pack("<i", it)
            else:
                e = b"\xf4" + struct.pack("<q", it)
        else:
            n = len(it)
            if n < 64:
                e = bytes([0x80 | n]) + it
            elif n < 4096:
                e = bytes([0xE0 | (n >> 8), n & 0xFF]) + it
            else:
                e = b"\xf0" + struct.pack("<I", n) + it
        body += e + lp_backlen(len(e))
    return struct.pack("<IH", 6 + len(body) + 1, len(items)) + body + b"\xff"


def zipmap(pairs):
    out = bytes([len(pairs)])
    for k, v in pairs:
        out += bytes([len(k)]) + k + bytes([len(v)]) + b"\x00" + v
    return out + b"\xff"


def crafted():
    """name -> (payload, check(r, key) raising on a mismatch, or None when 7.0 cannot read it)."""
    out = {}
    ints = [1, 2, 3, 200, -5, 70000, 1 << 40]
    # 1: a plain list, as Redis < 3.2 wrote big lists.
    out["old_list_plain"] = (seal(b"\x01" + rlen(3) + rstr(b"a") + rstr(b"bb") + rstr(b"ccc"), 6),
                             lambda r, k: r.lrange(k, 0, -1) == [b"a", b"bb", b"ccc"])
    # 10: a ziplist list (Redis < 3.2), mixing every integer width with strings.
    zl = ziplist([b"x", 7] + ints + [b"y" * 70])
    out["old_list_ziplist"] = (seal(b"\x0a" + rstr(zl), 6),
                               lambda r, k: r.lrange(k, 0, -1) ==
                               [b"x", b"7"] + [str(i).encode() for i in ints] + [b"y" * 70])
    # 14: a quicklist of ziplists (Redis 3.2 - 6.2), two nodes.
    ql = rlen(2) + rstr(ziplist([b"n1a", 1])) + rstr(ziplist([b"n2a", -300]))
    out["old_list_quicklist"] = (seal(b"\x0e" + ql, 9),
                                 lambda r, k: r.lrange(k, 0, -1) == [b"n1a", b"1", b"n2a", b"-300"])
    # 3: a sorted set with scores as text (Redis < 4.0), with both infinities.
    z3 = rlen(3) + rstr(b"m1") + b"\x031.5" + rstr(b"m2") + b"\xfe" + rstr(b"m3") + b"\xff"
    out["old_zset_text"] = (seal(b"\x03" + z3, 6),
                            lambda r, k: r.zrange(k, 0, -1, withscores=True) ==
                            [(b"m3", float("-inf")), (b"m1", 1.5), (b"m2", float("inf"))])
    # 12: a ziplist sorted set (Redis < 7.0): member, score pairs in score order.
    zz = ziplist([b"a", 1, b"b", b"2.5", b"c", 300])
    out["old_zset_ziplist"] = (seal(b"\x0c" + rstr(zz), 9),
                               lambda r, k: r.zrange(k, 0, -1, withscores=True) ==
                               [(b"a", 1.0), (b"b", 2.5), (b"c", 300.0)])
    # 13: a ziplist hash (Redis < 7.0).
    zh = ziplist([b"f1", b"v1", b"f2", 42, b"f3", b"v" * 30])
    out["old_hash_ziplist"] = (seal(b"\x0d" + rstr(zh), 9),
                               lambda r, k: r.hgetall(k) == {b"f1": b"v1", b"f2": b"42",
                                                             b"f3": b"v" * 30})
    # 9: a zipmap hash (Redis < 2.6).
    zm = zipmap([(b"k1", b"v1"), (b"k2", b"12"), (b"k3", b"")])
    out["old_hash_zipmap"] = (seal(b"\x09" + rstr(zm), 6),
                              lambda r, k: r.hgetall(k) == {b"k1": b"v1", b"k2": b"12", b"k3": b""})
    # 20: a listpack set (Valkey 7.2+ / 8, RDB 11): redis-server 7.0 refuses version 11.
    lps = listpack([b"red", b"green", 5, -3000])
    out["v11_set_listpack"] = (seal(b"\x14" + rstr(lps), 11), None)
    # 22: a hash with field expiries (Valkey 9, RDB 80; Valkey's rdb.c: a count, then field,
    # value and an 8-byte little-endian expiry in ms, -1 for none, per field). Neither
    # redis-server 7.0 nor Valkey 8 reads it; field f2 is integer-encoded as Valkey writes "42".
    h2 = (rlen(3) + rstr(b"f1") + rstr(b"v1") + ms8(-1) + rstr(b"f2") + b"\xc0\x2a" +
          ms8(4102444800000) + rstr(b"f3") + rstr(b"x" * 30) + ms8(4102444800123))
    out["v80_hash_ttl"] = (seal(b"\x16" + h2, 80), None)
    return out


# ---- streams --------------------------------------------------------------------------------------

def id16(ms, seq):
    return struct.pack(">QQ", ms, seq)


def stream_node(key, master_fields, entries, live=None, dead=None):
    """entries: (flags, ms-diff, seq-diff, fields or None when same, values); returns the node's
    key string and listpack string, lp-counts as Valkey writes them."""
    items = []
    nlive = sum(1 for e in entries if not e[0] & 1)
    items += [nlive if live is None else live, len(entries) - nlive if dead is None else dead,
              len(master_fields)] + list(master_fields) + [0]
    for flags, msd, seqd, fields, values in entries:
        items += [flags, msd, seqd]
        if fields is None:
            items += list(values)
            items.append(len(values) + 3)
        else:
            items.append(len(fields))
            for f, v in zip(fields, values):
                items += [f, v]
            items.append(2 * len(fields) + 4)
    return rstr(id16(*key)) + rstr(listpack(items))


def stream_v15(node=None, length=2, groups=None):
    """A type 15 stream (Redis 5 - 6.2): node 1-1 holds 1-1 (same fields as the master), 1-2
    (deleted) and 2-0 (other fields, seq-diff -1); group g1 with 1-1 and 1-2 pending for alice
    and a consumer bob with nothing pending."""
    if node is None:
        node = stream_node((1, 1), [b"a", b"b"], [(2, 0, 0, None, [b"1", b"2"]),
                                                  (3, 0, 1, None, [b"3", b"4"]),
                                                  (0, 1, -1, [b"x"], [b"y"])])
    if groups is None:
        groups = (rlen(1) + rstr(b"g1") + rlen(2) + rlen(0) +
                  rlen(2) + id16(1, 1) + ms8(1700000000000) + rlen(2) +
                  id16(1, 2) + ms8(1700000000001) + rlen(1) +
                  rlen(2) + rstr(b"alice") + ms8(1700000000005) + rlen(2) + id16(1, 1) + id16(1, 2) +
                  rstr(b"bob") + ms8(1700000000009) + rlen(0))
    return seal(b"\x0f" + rlen(1) + node + rlen(length) + rlen(2) + rlen(0) + groups, 9)


def bad_streams():
    """name -> (payload, whether redis-server 7.0 refuses it too): every one breaks a rule of
    server/types/rdb_stream.c's reader; Keel must refuse each."""
    g = lambda *parts: b"".join(parts)
    one_consumer = lambda pel_ids, extra=b"": (
        rlen(1) + rstr(b"g1") + rlen(2) + rlen(0) + rlen(1) + id16(1, 1) + ms8(1) + rlen(1) +
        rlen(1) + rstr(b"c") + ms8(1) + rlen(len(pel_ids)) + b"".join(id16(*i) for i in pel_ids) +
        extra)
    out = {
        "length_mismatch": (stream_v15(length=3), False),
        "node_counts": (stream_v15(node=stream_node((1, 1), [b"a"], [(2, 0, 0, None, [b"1"])],
                                                    live=2)), False),
        "ids_descend": (stream_v15(node=stream_node((1, 1), [b"a"], [(2, 0, 5, None, [b"1"]),
                                                                     (2, 0, 1, None, [b"2"])])),
                        False),
        "empty_node": (stream_v15(node=stream_node((1, 1), [b"a"], []), length=0,
                                  groups=rlen(0)), False),
        "key_not_id": (seal(b"\x0f" + rlen(1) + rstr(b"short") + rstr(listpack([0])) + rlen(0) +
                            rlen(0) + rlen(0) + rlen(0), 9), True),
        "pel_not_in_group": (stream_v15(groups=one_consumer([(1, 1), (9, 9)])), True),
        "pel_ownerless": (stream_v15(groups=one_consumer([])), False),
        "duplicate_group": (stream_v15(groups=g(rlen(2), rstr(b"g"), rlen(0), rlen(0), rlen(0),
                                                rlen(0), rstr(b"g"), rlen(0), rlen(0), rlen(0),
                                                rlen(0))), True),
        "duplicate_consumer": (stream_v15(groups=g(rlen(1), rstr(b"g"), rlen(0), rlen(0), rlen(0),
                                                   rlen(2), rstr(b"c"), ms8(1), rlen(0),
                                                   rstr(b"c"), ms8(1), rlen(0))), True),
        "bad_lp_count": (stream_v15(node=rstr(id16(1, 1)) + rstr(listpack(
            [1, 0, 1, b"a", 0, 2, 0, 0, b"1", 9]))), False),
        "huge_group_count": (stream_v15(groups=b"\x81" + struct.pack(">Q", 1 << 60)), True),
    }
    return out


def stream_lines(r, key, active=True):
    """The stream as lines of text (the unit test renders Keel's stream the same way): the
    metadata, the entries, each group with its PEL (ID, owner, delivery time, count) and its
    consumers (seen and active time; a server without active-time gives the seen time, as Valkey
    loads a type 19 payload)."""
    pairs = lambda l: dict(zip(l[::2], l[1::2]))
    full = pairs(r.execute_command("XINFO", "STREAM", key, "FULL"))
    out = ["stream length=%d last=%s maxdel=%s added=%d" % (
        full[b"length"], full[b"last-generated-id"].decode(),
        full[b"max-deleted-entry-id"].decode(), full[b"entries-added"])]
    for eid, fv in full[b"entries"]:
        out.append("entry %s %s" % (eid.decode(), " ".join(
            "%s=%s" % (fv[i].decode(), fv[i + 1].decode()) for i in range(0, len(fv), 2))))
    for gr in full[b"groups"]:
        gd = pairs(gr)
        er = gd[b"entries-read"]
        out.append("group %s last=%s read=%d" % (gd[b"name"].decode(),
                                                 gd[b"last-delivered-id"].decode(),
                                                 -1 if er is None else er))
        for pid, owner, when, count in gd[b"pending"]:
            out.append("pel %s %s %d %d" % (pid.decode(), owner.decode(), when, count))
        for c in gd[b"consumers"]:
            cd = pairs(c)
            seen = cd[b"seen-time"]
            out.append("consumer %s seen=%d active=%d" % (cd[b"name"].decode(), seen,
                                                          cd.get(b"active-time", seen)))
    return "\n".join(out) + "\n"


STREAM_CMDS = [("config", "set", "stream-node-max-entries", "2"),
               ("xadd", "k", "1-1", "a", "1", "b", "2"),
               ("xadd", "k", "1-2", "a", "3", "b", "4"),
               ("xadd", "k", "2-0", "x", "y"),
               ("xadd", "k", "3-0", "a", "5", "b", "six"),
               ("xadd", "k", "3-1", "a", "-70000", "b", "x" * 30),
               ("xgroup", "create", "k", "g1", "0"),
               ("xreadgroup", "group", "g1", "alice", "count", "2", "streams", "k", ">"),
               ("xreadgroup", "group", "g1", "bob", "count", "1", "streams", "k", ">"),
               ("xgroup", "createconsumer", "k", "g1", "carol"),
               ("xdel", "k", "1-2"),
               ("xgroup", "create", "k", "g2", "$"),
               ("xgroup", "create", "k", "g0", "1-1", "entriesread", "1")]


def write_stream(r, name, payload):
    r.delete("k")
    r.restore("k", 0, payload)
    with open(os.path.join(HERE, name + ".bin"), "wb") as f:
        f.write(payload)
    with open(os.path.join(HERE, name + ".txt"), "w") as f:
        f.write(stream_lines(r, "k"))


def streams(r):
    """stream_v19 (redis-server 7.0's own DUMP), stream_v15 (built here, read by redis-server),
    the broken ones, and stream_v21 from valkey-server when VALKEY names one."""
    r.flushall()
    for c in STREAM_CMDS:
        r.execute_command(*c)
    write_stream(r, "stream_v19", r.dump("k"))
    write_stream(r, "stream_v15", stream_v15())
    for name, (payload, redis_refuses) in bad_streams().items():
        if redis_refuses:
            try:
                r.restore("bad", 0, payload, replace=True)
                sys.exit("redis-server accepts the broken stream %s" % name)
            except redis.ResponseError:
                pass
        with open(os.path.join(HERE, "stream_bad_" + name + ".bin"), "wb") as f:
            f.write(payload)
    vk = os.environ.get("VALKEY")
    if not vk:
        return
    port = free_port()
    p = subprocess.Popen([vk, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                          "--appendonly", "no", "--sanitize-dump-payload", "yes"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        v = redis.Redis(port=port)
        for _ in range(100):
            try:
                v.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        for c in STREAM_CMDS:
            v.execute_command(*c)
        write_stream(v, "stream_v21", v.dump("k"))
    finally:
        p.kill()
        p.wait()


# ---- from redis-server --------------------------------------------------------------------------

def captured(r):
    """name -> commands that build key "k" in the encoding the name says (redis-server 7.0)."""
    big = [("e%d" % i).encode() for i in range(300)]
    return {
        "string_raw": [("set", "k", "hello world")],
        "string_int8": [("set", "k", "-7")],
        "string_int16": [("set", "k", "12345")],
        "string_int32": [("set", "k", "-1000000")],
        "string_int64_text": [("set", "k", "12345678901234")],
        "string_lzf": [("set", "k", "a" * 100 + "b" * 100)],
        "list_listpack": [("rpush", "k", "a", "bb", "1", "-2", "70000", "x" * 40)],
        "list_quicklist": [("config", "set", "list-max-listpack-size", "4"),
                           ("rpush", "k", *big[:10])],
        "list_plain_node": [("debug", "quicklist-packed-threshold", "100"),
                            ("rpush", "k", "small", "p" * 150, "tail")],
        "set_intset": [("sadd", "k", "1", "2", "3", "-100000", "5000000000")],
        "set_hashtable": [("sadd", "k", "a", "b", "c")],
        "zset_listpack": [("zadd", "k", "1", "a", "2.5", "b", "-inf", "c", "3", "d")],
        "zset_skiplist": [("config", "set", "zset-max-listpack-entries", "2"),
                          ("zadd", "k", "1", "a", "2.5", "b", "-inf", "c", "inf", "d",
                           "-0.125", "e")],
        "hash_listpack": [("hset", "k", "f1", "v1", "f2", "2", "f3", "x" * 30)],
        "hash_hashtable": [("config", "set", "hash-max-listpack-entries", "1"),
                           ("hset", "k", "f1", "v1", "f2", "2", "f3", "x" * 30)],
    }


def main():
    port = free_port()
    d = tempfile.mkdtemp(prefix="keel-dump-gen-")
    p = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                          "--save", "", "--appendonly", "no", "--dir", d,
                          "--enable-debug-command", "yes", "--sanitize-dump-payload", "yes"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        r = redis.Redis(port=port)
        for _ in range(100):
            try:
                r.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        for name, cmds in captured(r).items():
            r.flushall()
            r.config_set("list-max-listpack-size", "-2")
            r.config_set("zset-max-listpack-entries", "128")
            r.config_set("hash-max-listpack-entries", "128")
            r.execute_command("debug", "quicklist-packed-threshold", str(1 << 30))
            for c in cmds:
                r.execute_command(*c)
            with open(os.path.join(HERE, name + ".bin"), "wb") as f:
                f.write(r.dump("k"))
        for name, (payload, check) in crafted().items():
            if check is not None:
                r.delete("k")
                r.restore("k", 0, payload)
                if not check(r, "k"):
                    sys.exit("redis-server reads %s differently" % name)
            with open(os.path.join(HERE, name + ".bin"), "wb") as f:
                f.write(payload)
        streams(r)
    finally:
        p.kill()
        p.wait()


if __name__ == "__main__":
    main()

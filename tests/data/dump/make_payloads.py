#!/usr/bin/python3
"""Regenerates the DUMP payloads in this folder (tests/unit/test_types_rdb_value.c reads them).

Run from anywhere: /usr/bin/python3 tests/data/dump/make_payloads.py
It starts Debian's redis-server 7.0 on a free port of 127.0.0.1 (killed by PID at the end), with
rdbcompression on (strings and blobs over 20 bytes are LZF-compressed, as by default), builds each
value below in the encoding named, and writes DUMP's reply to <name>.bin.

The older encodings a payload may still carry (RDB types 1, 3, 9, 10, 12, 13, 14, written by
Redis before 7.0, and type 20, the listpack set of Valkey 7.2+/8 at RDB version 11) cannot be
produced by redis-server 7.0, so they are built here byte by byte from the RDB format; every one
at a version redis-server 7.0 reads is then RESTOREd into it with sanitize-dump-payload yes and
must read back as the same value, so the bytes are checked by a real reader, not only by us.
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
    return out


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
    finally:
        p.kill()
        p.wait()


if __name__ == "__main__":
    main()

"""Differential compatibility sweep: the same command sequences go to keel-server and to Debian's
redis-server 7.0 (started here on 127.0.0.1, killed by PID at the end), over RESP2 and RESP3, and
the replies must agree byte for byte (reply type and payload), after the normalisations named at
each call (order of unordered replies, time-dependent numbers) and except for the differences
listed in KNOWN_DIFFERENCES below, each of which is a deliberate Valkey 8 / Redis 7.2 behaviour.

Coverage: strings, keys and expiry, hashes, sets, sorted sets, bitmaps, HLL (counts), lists,
GEO (points across the globe, the poles' limits and the antimeridian, every search option and
STORE form), SORT/SORT_RO (BY, GET, LIMIT, ALPHA, STORE on lists, sets and sorted sets),
streams and consumer groups (explicit IDs; idle times blanked),
transactions, pub/sub replies, COMMAND INFO key positions and arity, CONFIG GET, and the error
replies of every command both servers know (no arguments, wrong-type key, junk options). Seeded
random command sequences per type (thousands of commands, fixed seeds) are compared reply by reply.
"""
import os
import random
import shutil
import socket
import subprocess
import tempfile
import time

import pytest

from keel_harness import RawConn, free_port

REDIS_BIN = shutil.which("redis-server")
pytestmark = pytest.mark.skipif(REDIS_BIN is None, reason="redis-server is not installed")


# ---- exact replies -----------------------------------------------------------------------------


class Exact(RawConn):
    """RawConn that keeps the wire form: every reply is (type char, payload) where the payload is
    the raw bytes of a simple reply, or a list for aggregates (a list of pairs for maps), so two
    replies compare equal only when type and bytes agree."""

    def read(self):
        line = self._line()
        t, rest = line[:1].decode(), line[1:]
        if t in "+-:,(#":
            return (t, rest)
        if t in "$=!":
            n = int(rest)
            return (t, None) if n < 0 else (t, self._exact(n))
        if t in "*~>":
            n = int(rest)
            return (t, None) if n < 0 else (t, [self.read() for _ in range(n)])
        if t in "%|":
            n = int(rest)
            return (t, [(self.read(), self.read()) for _ in range(n)])
        if t == "_":
            return ("_", None)
        raise ValueError("unknown RESP type %r" % line)


def is_err(rep):
    return rep[0] == "-"


# ---- normalisations (applied to both replies alike) --------------------------------------------


def unordered(rep):
    """Arrays, sets and maps whose order is the hash table's, not a contract."""
    t, v = rep
    if t in "*~" and v is not None:
        return (t, sorted(v, key=repr))
    if t == "%":
        return (t, sorted(v, key=repr))
    return rep


def unordered_pairs(rep):
    """RESP2 flat field/value arrays (HGETALL, HRANDFIELD WITHVALUES): order of pairs only."""
    t, v = rep
    if t == "*" and v:
        pairs = [(v[i], v[i + 1]) for i in range(0, len(v), 2)]
        return (t, sorted(pairs, key=repr))
    return unordered(rep)


def ttl_class(rep):
    """TTL/PTTL/EXPIRETIME: -2 and -1 exactly, any positive value as 'positive'."""
    if rep[0] == ":" and int(rep[1]) > 0:
        return (":", b"positive")
    return rep


def count_only(rep):
    if rep[0] in "*~%" and rep[1] is not None:
        return (":", len(rep[1]))
    return rep


def _as_float(rep):
    if rep[0] in "$," and rep[1] is not None:
        try:
            return float(rep[1])
        except ValueError:
            return None
    return None


def same_double(ka, ra):
    """Redis 7.0 prints doubles with %.17g (0.1 -> 0.10000000000000001); Valkey 8 / Redis 7.2
    print the shortest text that round-trips (0.1). Equal numbers in the same reply type agree."""
    if ka[0] != ra[0]:
        return False
    if ka[0] in "*~%>" and ka[1] is not None and ra[1] is not None:
        if len(ka[1]) != len(ra[1]):
            return False
        if ka[0] == "%":
            return all(same_double(a[0], b[0]) and same_double(a[1], b[1]) for a, b in zip(ka[1], ra[1]))
        return all(same_double(a, b) for a, b in zip(ka[1], ra[1]))
    if ka == ra:
        return True
    fa, fb = _as_float(ka), _as_float(ra)
    return fa is not None and fa == fb


# ---- known, intentional differences ------------------------------------------------------------


def _upper(args):
    return [a.upper() if isinstance(a, str) else a.decode(errors="replace").upper() for a in args]


def _blank_consumers(rep):
    """XINFO GROUPS with each group's consumer count blanked (RESP2 flat arrays, RESP3 maps)."""
    t, v = rep
    if t != "*" or not v:
        return rep
    out = []
    for grp in v:
        gt, gv = grp
        if gt == "%":
            gv = [(k, ("", None) if k == ("$", b"consumers") else x) for k, x in gv]
        elif gt == "*":
            gv = [("", None) if i > 0 and gv[i - 1] == ("$", b"consumers") else x
                  for i, x in enumerate(gv)]
        out.append((gt, gv))
    return (t, out)


def known_difference(args, keel, redis):
    """The reason why keel may answer args differently from redis-server 7.0, or None."""
    a = _upper(args)
    name = a[0]
    # Redis 7.2 / Valkey 8 added ZRANK/ZREVRANK key member WITHSCORE: a fourth argument is parsed
    # as an option (syntax error when it is not WITHSCORE) where 7.0 has arity 3.
    if name in ("ZRANK", "ZREVRANK") and len(a) >= 4:
        return "7.2 WITHSCORE"
    # Redis 7.2 / Valkey 8 BITCOUNT/BITPOS check the argument count and the BIT|BYTE option
    # (syntax error) before looking the key up; 7.0 replied WRONGTYPE first.
    if name in ("BITCOUNT", "BITPOS") and is_err(keel) and keel[1] == b"ERR syntax error" and \
            redis[1].startswith(b"WRONGTYPE"):
        return "7.2 argument check order"
    # Redis 7.2 / Valkey 8 keep small sets of strings and small lists in a listpack; 7.0 has no
    # such encodings (hashtable, quicklist). Keel follows 7.2.
    if a[:2] == ["OBJECT", "ENCODING"] and keel == ("$", b"listpack") and \
            redis in (("$", b"hashtable"), ("$", b"quicklist")):
        return "7.2 listpack sets and lists"
    # Valkey 8's COMMAND GETKEYS has arity -3 (7.0: -4), so "COMMAND GETKEYS PING" gets past the
    # arity check and is answered on its merits.
    if a[:2] == ["COMMAND", "GETKEYS"] and len(a) == 3 and redis[1].startswith(b"ERR wrong number"):
        return "7.2 GETKEYS arity"
    # Valkey 8 / Redis 7.2 LPOS take RANK in -LONG_MAX..LONG_MAX (7.0 accepted LONG_MIN and
    # negated it, an overflow).
    if name == "LPOS" and "-9223372036854775808" in a and is_err(keel) and b"out of range" in keel[1]:
        return "7.2 LPOS RANK range"
    # Valkey 8 checks XSETID's ID against max_deleted_entry_id before the top item (checked
    # against valkey-server 8.0.1); 7.0 the other way round.
    if name == "XSETID" and is_err(keel) and is_err(redis) and b"max_deleted_entry_id" in keel[1] \
            and b"top item" in redis[1]:
        return "Valkey 8 XSETID check order"
    # Valkey 8 flags MULTI and WATCH no-multi: inside a transaction they get the generic refusal
    # (which also aborts the transaction); 7.0 had a message of their own for each.
    if name in ("MULTI", "WATCH") and keel == ("-", b"ERR Command not allowed inside a transaction") \
            and redis[1] in (b"ERR MULTI calls can not be nested", b"ERR WATCH inside MULTI is not allowed"):
        return "Valkey 8 no-multi"
    # Valkey 8 answers (P|S)UNSUBSCRIBE from a client with no subscription at all with -NOSUB.
    if name in ("UNSUBSCRIBE", "PUNSUBSCRIBE", "SUNSUBSCRIBE") and is_err(keel) and \
            keel[1].startswith(b"NOSUB '") and not is_err(redis):
        return "Valkey 8 NOSUB"
    # Keel's HyperLogLog hashes elements with XXH64, Redis with MurmurHash64A (cmd_hll.h): the
    # registers differ, so PFADD's "a register changed" and PFCOUNT's estimate may differ by
    # the sketch's error (0.81% standard error); the estimator itself is Redis's.
    if name == "PFADD" and keel[0] == redis[0] == ":":
        return "different HLL hash"
    # Valkey 8 / Redis 7.2 XRANGE/XREVRANGE answer COUNT 0 (or less) with a null array; 7.0 with
    # an empty one.
    if name in ("XRANGE", "XREVRANGE") and keel in (("*", None), ("_", None)) and redis == ("*", []):
        return "7.2 XRANGE COUNT 0"
    # Valkey 8 / Redis 7.2 XCLAIM and XAUTOCLAIM create their consumer before claiming anything
    # (7.0: only when an entry was claimed), so consumer counts and CREATECONSUMER may differ.
    if a[:2] == ["XGROUP", "CREATECONSUMER"] and keel == (":", b"0") and redis == (":", b"1"):
        return "7.2 XCLAIM creates its consumer"
    if a[:2] == ["XINFO", "GROUPS"] and _blank_consumers(keel) == _blank_consumers(redis):
        return "7.2 XCLAIM creates its consumer"
    if name == "PFCOUNT" and keel[0] == redis[0] == ":":
        k, r = int(keel[1]), int(redis[1])
        if abs(k - r) <= max(2, 0.03 * r):
            return "different HLL hash, estimate within 3%"
    return None


# ---- the two servers ---------------------------------------------------------------------------


def start_redis():
    port = free_port()
    d = tempfile.mkdtemp(prefix="keel-compat-redis-")
    proc = subprocess.Popen(
        [REDIS_BIN, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", d, "--protected-mode", "yes", "--enable-debug-command", "local"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 20
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc, port, d
        except OSError:
            time.sleep(0.02)
    proc.kill()
    raise RuntimeError("redis-server did not start")


@pytest.fixture(scope="module")
def redis_port():
    proc, port, d = start_redis()
    try:
        yield port
    finally:
        proc.kill()
        proc.wait(timeout=30)
        shutil.rmtree(d, ignore_errors=True)


class Pair:
    """One connection to each server with the same protocol version; every call goes to both."""

    def __init__(self, kport, rport, resp):
        self.resp = resp
        self.k = Exact(kport, resp)
        self.r = Exact(rport, resp)
        self.log = []

    def close(self):
        self.k.close()
        self.r.close()

    def both(self, *args):
        return self.k.call(*args), self.r.call(*args)

    def diff(self, *args, norm=None):
        """Send to both; return a description of the difference, or None when they agree."""
        ka, ra = self.both(*args)
        if norm is not None:
            ka, ra = norm(ka), norm(ra)
        if ka == ra or same_double(ka, ra):
            return None
        if known_difference(args, ka, ra):
            return None
        return "RESP%d %r\n   keel:  %r\n   redis: %r" % (self.resp, args, ka, ra)

    def same(self, *args, norm=None):
        d = self.diff(*args, norm=norm)
        assert d is None, d
        return self.k  # for chaining nothing; the assertion is the point

    def flush(self):
        self.both("FLUSHALL")


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def pair(server, redis_port, request):
    p = Pair(server.port, redis_port, request.param)
    p.flush()
    yield p
    p.close()


@pytest.fixture
def pair2(server, redis_port):
    p = Pair(server.port, redis_port, 2)
    p.flush()
    yield p
    p.close()


# ---- seeded random command sequences -----------------------------------------------------------

UNORDERED = {"SMEMBERS", "SINTER", "SUNION", "SDIFF", "HKEYS", "HVALS", "KEYS"}
TTLS = {"TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME"}
RANDOM_PICKS = {"SRANDMEMBER", "HRANDFIELD", "ZRANDMEMBER", "RANDOMKEY"}


def type_only(rep):
    return (rep[0], None)


def pending_without_idle(rep):
    """XPENDING's extended form: the idle time of each entry is the clock's."""
    t, v = rep
    if t == "*" and v:
        return (t, [(e[0], e[1][:2] + [(":", b"idle")] + e[1][3:]) if e[0] == "*" else e for e in v])
    return rep


def norm_for(args):
    name = args[0].upper()
    if name in UNORDERED:
        return unordered
    if name == "HGETALL":
        return unordered_pairs
    if name in ("SSCAN", "HSCAN"):
        # A complete scan (COUNT covers the whole value): the same elements in hash order.
        return lambda rep: (rep[0], [rep[1][0], (unordered_pairs if name == "HSCAN" else unordered)(
            rep[1][1])]) if rep[0] == "*" else rep
    if name in TTLS:
        return ttl_class
    if name in ("SORT", "SORT_RO"):
        return norm_sort(args)
    if name == "XPENDING" and len(args) > 3:
        return pending_without_idle
    if name in RANDOM_PICKS:
        # Which member comes out is random; how many and in what reply type is not.
        return count_only if len(args) > 2 else type_only
    return None


class Gen:
    """Random arguments from small spaces, so that commands hit the same keys and members often
    and every edge (missing key, wrong type, empty result, limits) comes up."""

    def __init__(self, seed):
        self.rnd = random.Random(seed)

    def pick(self, seq):
        return self.rnd.choice(seq)

    def key(self, prefix):
        # Mostly keys of the family under test, sometimes one of another type (WRONGTYPE paths).
        if self.rnd.random() < 0.06:
            return self.pick(["str:0", "hash:0", "set:0", "zset:0", "list:0", "nokey"])
        return "%s:%d" % (prefix, self.rnd.randrange(3))

    def int_arg(self):
        return str(self.pick([0, 1, -1, 2, 3, 5, 10, -5, 100, 2**63 - 1, -2**63, 7, -100]))

    def index(self):
        return str(self.rnd.randint(-12, 12))

    def member(self, n=8):
        return self.pick(["m%d" % self.rnd.randrange(n), "%d" % self.rnd.randrange(-3, 20), "a", "b", ""])

    def score(self):
        return self.pick(["0", "1", "-1", "2.5", "1e3", "-inf", "+inf", "0.1", "3", "7", "-2.25",
                          "10", "(1", "(3", "nan", "x"])

    def value(self):
        return self.pick(["v", "", "12", "-3", "3.5", "hello world", "0", "99999999999999999999",
                          "x" * 40, "1e2", " 7"])


def gen_string(g):
    k = g.key("str")
    c = g.rnd.randrange(22)
    if c == 0:
        opts = g.pick([[], ["NX"], ["XX"], ["GET"], ["KEEPTTL"], ["EX", "100"], ["PX", "100000"],
                       ["NX", "GET"], ["XX", "GET"], ["EX", "0"], ["EX", "x"], ["NX", "XX"],
                       ["EX", "10", "PX", "10"], ["BAD"]])
        return ["SET", k, g.value()] + opts
    if c == 1:
        return ["GET", k]
    if c == 2:
        return ["APPEND", k, g.value()]
    if c == 3:
        return ["INCR", k]
    if c == 4:
        return [g.pick(["INCRBY", "DECRBY"]), k, g.int_arg()]
    if c == 5:
        return ["INCRBYFLOAT", k, g.pick(["1.5", "-0.25", "10", "x", "1e308", "inf", "3"])]
    if c == 6:
        return ["GETRANGE", k, g.index(), g.index()]
    if c == 7:
        return ["SETRANGE", k, str(g.rnd.randrange(0, 30)), g.value()]
    if c == 8:
        return ["STRLEN", k]
    if c == 9:
        return ["MSET", k, g.value(), g.key("str"), g.value()]
    if c == 10:
        return ["MGET", k, g.key("str"), g.key("str")]
    if c == 11:
        return ["MSETNX", k, g.value(), g.key("str"), g.value()]
    if c == 12:
        return ["SETNX", k, g.value()]
    if c == 13:
        return ["GETSET", k, g.value()]
    if c == 14:
        return ["GETDEL", k]
    if c == 15:
        return ["DECR", k]
    if c == 16:
        return ["GETEX", k] + g.pick([[], ["PERSIST"], ["EX", "100"], ["PX", "5000"], ["BAD"],
                                      ["EX", "-1"], ["EX"], ["PERSIST", "EX", "10"]])
    if c == 17:
        return ["LCS", k, g.key("str")] + g.pick([[], ["LEN"], ["IDX"], ["IDX", "WITHMATCHLEN"],
                                                   ["IDX", "MINMATCHLEN", "2"]])
    if c == 18:
        return ["SUBSTR", k, g.index(), g.index()]
    if c == 19:
        return ["SETEX", k, g.pick(["100", "0", "-1", "x"]), g.value()]
    if c == 20:
        return ["PSETEX", k, g.pick(["100000", "0", "x"]), g.value()]
    return ["DECRBY", k, g.int_arg()]


def gen_keys(g):
    fam = g.pick(["str", "hash", "set", "zset"])
    k = g.key(fam)
    c = g.rnd.randrange(18)
    if c == 0:
        return ["SET", k, g.value()]
    if c == 1:
        return ["HSET", "hash:%d" % g.rnd.randrange(3), g.member(), g.value()]
    if c == 2:
        return ["SADD", "set:%d" % g.rnd.randrange(3), g.member()]
    if c == 3:
        return ["DEL", k, g.key(fam)]
    if c == 4:
        return ["EXISTS", k, k, g.key(fam)]
    if c == 5:
        return ["TYPE", k]
    if c == 6:
        return [g.pick(["RENAME", "RENAMENX"]), k, g.key(g.pick(["str", "hash", "set", "zset"]))]
    if c == 7:
        return ["COPY", k, g.key(fam)] + g.pick([[], ["REPLACE"], ["DB", "1"], ["BAD"]])
    if c == 8:
        return [g.pick(["EXPIRE", "PEXPIRE"]), k, g.pick(["1000", "100000", "-1", "0", "x"])] + \
            g.pick([[], [], ["NX"], ["XX"], ["GT"], ["LT"], ["NX", "XX"], ["BAD"]])
    if c == 9:
        return [g.pick(["TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME"]), k]
    if c == 10:
        return ["PERSIST", k]
    if c == 11:
        return ["EXPIREAT", k, g.pick(["4102444800", "1", "x"])]
    if c == 12:
        return ["TOUCH", k, g.key(fam)]
    if c == 13:
        return ["KEYS", g.pick(["*", "str:*", "*:1", "h?sh:*", "[sz]*", "nomatch"])]
    if c == 14:
        return ["DBSIZE"]
    if c == 15:
        return ["UNLINK", k]
    if c == 16:
        return ["OBJECT", "ENCODING", k]
    return ["SET", k, g.value(), "EX", "1000"]


def gen_hash(g):
    k = g.key("hash")
    c = g.rnd.randrange(16)
    f = g.member()
    if c == 0:
        return ["HSET", k, f, g.value()] + ([g.member(), g.value()] if g.rnd.random() < 0.3 else [])
    if c == 1:
        return ["HGET", k, f]
    if c == 2:
        return ["HDEL", k, f, g.member()]
    if c == 3:
        return ["HLEN", k]
    if c == 4:
        return ["HEXISTS", k, f]
    if c == 5:
        return ["HINCRBY", k, f, g.int_arg()]
    if c == 6:
        return ["HINCRBYFLOAT", k, f, g.pick(["1.5", "-2", "x", "0.1", "1e3"])]
    if c == 7:
        return ["HMGET", k, f, g.member(), g.member()]
    if c == 8:
        return ["HGETALL", k]
    if c == 9:
        return [g.pick(["HKEYS", "HVALS"]), k]
    if c == 10:
        return ["HSETNX", k, f, g.value()]
    if c == 11:
        return ["HSTRLEN", k, f]
    if c == 12:
        return ["HMSET", k, f, g.value()]
    if c == 13:
        return ["HRANDFIELD", k] + g.pick([[], ["3"], ["-3"], ["20"], ["2", "WITHVALUES"]])
    if c == 14:
        return ["HSCAN", k, "0", "COUNT", "100"]
    return ["HSET", k, "f%d" % g.rnd.randrange(200), "v" * g.rnd.randrange(1, 80)]


def gen_set(g):
    k = g.key("set")
    c = g.rnd.randrange(16)
    m = g.member()
    if c == 0:
        return ["SADD", k, m, g.member(), g.member()]
    if c == 1:
        return ["SREM", k, m, g.member()]
    if c == 2:
        return ["SISMEMBER", k, m]
    if c == 3:
        return ["SMISMEMBER", k, m, g.member()]
    if c == 4:
        return ["SCARD", k]
    if c == 5:
        return ["SMEMBERS", k]
    if c == 6:
        return [g.pick(["SINTER", "SUNION", "SDIFF"]), k, g.key("set")]
    if c == 7:
        return [g.pick(["SINTERSTORE", "SUNIONSTORE", "SDIFFSTORE"]), g.key("set"), k, g.key("set")]
    if c == 8:
        return ["SMOVE", k, g.key("set"), m]
    if c == 9:
        return ["SINTERCARD", "2", k, g.key("set")] + g.pick([[], ["LIMIT", "1"], ["LIMIT", "-1"]])
    if c == 10:
        return ["SRANDMEMBER", k] + g.pick([[], ["2"], ["-5"], ["100"], ["0"]])
    if c == 11:
        return ["SADD", k, str(g.rnd.randrange(600))]
    if c == 12:
        return ["SADD", k, "x" * g.rnd.randrange(1, 80)]
    if c == 13:
        return ["OBJECT", "ENCODING", k]
    if c == 14:
        return ["SSCAN", k, "0", "COUNT", "1000", "MATCH", g.pick(["*", "m*", "1*"])]
    return ["SADD", k] + [str(g.rnd.randrange(50)) for _ in range(5)]


def gen_zset(g):
    k = g.key("zset")
    c = g.rnd.randrange(24)
    m = g.member()
    lo, hi = g.score(), g.score()
    lex = lambda: g.pick(["-", "+", "[a", "(a", "[m3", "(m5", "[", "x"])  # noqa: E731
    if c in (8, 10, 12, 15):
        # Lexicographic ranges are defined only when all scores are equal: zlex:* keys hold
        # members at score 0 only (ZADD to them below).
        k = "zlex:%d" % g.rnd.randrange(2)
    if c == 22 and g.rnd.random() < 0.5:
        return ["ZADD", "zlex:%d" % g.rnd.randrange(2), "0", g.member(30)]
    if c == 0:
        opts = g.pick([[], [], ["NX"], ["XX"], ["GT"], ["LT"], ["CH"], ["INCR"], ["GT", "CH"],
                       ["NX", "XX"], ["NX", "GT"], ["XX", "LT", "CH"]])
        return ["ZADD", k] + opts + [g.score(), m] + ([g.score(), g.member()] if g.rnd.random() < .3 else [])
    if c == 1:
        return ["ZINCRBY", k, g.score(), m]
    if c == 2:
        return ["ZREM", k, m, g.member()]
    if c == 3:
        return ["ZSCORE", k, m]
    if c == 4:
        return ["ZMSCORE", k, m, g.member()]
    if c == 5:
        return [g.pick(["ZRANK", "ZREVRANK"]), k, m]
    if c == 6:
        return ["ZRANGE", k, g.index(), g.index()] + g.pick([[], ["WITHSCORES"], ["REV"], ["REV", "WITHSCORES"]])
    if c == 7:
        return ["ZRANGE", k, lo, hi, "BYSCORE"] + g.pick([[], ["WITHSCORES"], ["LIMIT", "1", "2"], ["REV"]])
    if c == 8:
        return ["ZRANGE", k, lex(), lex(), "BYLEX"] + g.pick([[], ["LIMIT", "0", "2"], ["REV"], ["WITHSCORES"]])
    if c == 9:
        return [g.pick(["ZRANGEBYSCORE", "ZREVRANGEBYSCORE"]), k, lo, hi] + \
            g.pick([[], ["WITHSCORES"], ["LIMIT", "0", "1"], ["LIMIT", "1", "-1", "WITHSCORES"]])
    if c == 10:
        return [g.pick(["ZRANGEBYLEX", "ZREVRANGEBYLEX"]), k, lex(), lex()]
    if c == 11:
        return ["ZCOUNT", k, lo, hi]
    if c == 12:
        return ["ZLEXCOUNT", k, lex(), lex()]
    if c == 13:
        return ["ZREMRANGEBYRANK", k, g.index(), g.index()]
    if c == 14:
        return ["ZREMRANGEBYSCORE", k, lo, hi]
    if c == 15:
        return ["ZREMRANGEBYLEX", k, lex(), lex()]
    if c == 16:
        return [g.pick(["ZPOPMIN", "ZPOPMAX"]), k] + g.pick([[], ["2"], ["0"], ["-1"]])
    if c == 17:
        return [g.pick(["ZUNIONSTORE", "ZINTERSTORE", "ZDIFFSTORE"]), g.key("zset"), "2", k, g.key("zset")] + \
            g.pick([[], ["WEIGHTS", "2", "0.5"], ["AGGREGATE", "MAX"], ["AGGREGATE", "MIN"]])[:0 if c == 17 and False else None]
    if c == 18:
        return [g.pick(["ZUNION", "ZINTER"]), "2", k, g.key("zset")] + \
            g.pick([[], ["WITHSCORES"], ["WEIGHTS", "2", "3", "WITHSCORES"], ["AGGREGATE", "SUM", "WITHSCORES"]])
    if c == 19:
        return ["ZDIFF", "2", k, g.key("zset")] + g.pick([[], ["WITHSCORES"]])
    if c == 20:
        return ["ZCARD", k]
    if c == 21:
        return ["ZRANGESTORE", g.key("zset"), k, g.index(), g.index()]
    if c == 22:
        return ["ZADD", k, str(g.rnd.randrange(100)), "z%d" % g.rnd.randrange(200)]
    return ["ZINTERCARD", "2", k, g.key("zset")]


def gen_bitmap(g):
    k = g.key("str")
    c = g.rnd.randrange(9)
    if c == 0:
        return ["SETBIT", k, str(g.rnd.randrange(0, 200)), g.pick(["0", "1", "1", "2"])]
    if c == 1:
        return ["GETBIT", k, str(g.rnd.randrange(0, 220))]
    if c == 2:
        return ["BITCOUNT", k] + g.pick([[], [g.index(), g.index()], [g.index(), g.index(), "BIT"],
                                         [g.index(), g.index(), "BYTE"], ["0", "-1", "BAD"]])
    if c == 3:
        return ["BITPOS", k, g.pick(["0", "1"])] + g.pick([[], [g.index()], [g.index(), g.index()],
                                                            [g.index(), g.index(), "BIT"]])
    if c == 4:
        op = g.pick(["AND", "OR", "XOR", "NOT"])
        srcs = [k] if op == "NOT" else [k, g.key("str")]
        return ["BITOP", op, g.key("str")] + srcs
    if c == 5:
        return ["BITFIELD", k] + g.pick([["GET", "u8", "0"], ["SET", "i8", "8", "-100"],
                                         ["INCRBY", "u4", "4", "20"], ["OVERFLOW", "SAT", "INCRBY", "i8", "0", "200"],
                                         ["OVERFLOW", "FAIL", "INCRBY", "u2", "0", "5"], ["GET", "i64", "3"],
                                         ["GET", "u64", "0"], ["BAD"]])
    if c == 6:
        return ["BITFIELD_RO", k, "GET", g.pick(["u8", "i16", "u1"]), str(g.rnd.randrange(40))]
    if c == 7:
        return ["GET", k]
    return ["SET", k, g.value()]


def gen_list(g):
    k = g.key("list")
    c = g.rnd.randrange(16)
    e = g.member()
    if c == 0:
        return [g.pick(["LPUSH", "RPUSH"]), k, e, g.member()]
    if c == 1:
        return [g.pick(["LPOP", "RPOP"]), k] + g.pick([[], ["2"], ["0"], ["-1"]])
    if c == 2:
        return ["LRANGE", k, g.index(), g.index()]
    if c == 3:
        return ["LINDEX", k, g.index()]
    if c == 4:
        return ["LSET", k, g.index(), e]
    if c == 5:
        return ["LINSERT", k, g.pick(["BEFORE", "AFTER", "BAD"]), g.member(), e]
    if c == 6:
        return ["LREM", k, g.pick(["0", "1", "-1", "2"]), e]
    if c == 7:
        return ["LTRIM", k, g.index(), g.index()]
    if c == 8:
        return ["LPOS", k, e] + g.pick([[], ["RANK", "2"], ["RANK", "-1"], ["COUNT", "0"], ["COUNT", "2"],
                                        ["MAXLEN", "3"], ["RANK", "0"]])
    if c == 9:
        return ["LMOVE", k, g.key("list"), g.pick(["LEFT", "RIGHT"]), g.pick(["LEFT", "RIGHT"])]
    if c == 10:
        return ["LLEN", k]
    if c == 11:
        return [g.pick(["LPUSHX", "RPUSHX"]), k, e]
    if c == 12:
        return ["RPOPLPUSH", k, g.key("list")]
    if c == 13:
        return ["LMPOP", "2", k, g.key("list"), g.pick(["LEFT", "RIGHT"])] + g.pick([[], ["COUNT", "2"]])
    if c == 14:
        return ["RPUSH", k] + ["x" * g.rnd.randrange(1, 70) for _ in range(3)]
    return ["OBJECT", "ENCODING", k]


def gen_stream(g):
    """Explicit or ms-* IDs only (an auto ID is the clock), small values (both servers then cut
    nodes at 100 entries, so "~" trims agree), groups read without BLOCK."""
    k = g.key("stream")
    c = g.rnd.randrange(18)
    grp = g.pick(["g1", "g2", "nog"])
    cons = g.pick(["alice", "bob", "carol"])
    ms = str(g.rnd.randrange(1, 400))

    def sid():
        return g.pick([ms, ms + "-" + str(g.rnd.randrange(3)), "0", "-", "+", "(" + ms, "x", "0-0"])
    if c <= 2:
        trim = g.pick([[], [], ["MAXLEN", g.pick(["=", "~"]), str(g.rnd.randrange(0, 150))],
                       ["MINID", ms], ["NOMKSTREAM"], ["MAXLEN", "~", "5", "LIMIT", "100"]])
        fields = g.pick([["f", g.value()], ["f", g.value(), "g", "1"], ["a", "b"]])
        return ["XADD", k] + trim + [g.pick([ms + "-*", ms + "-" + str(g.rnd.randrange(5)), ms])] + fields
    if c == 3:
        return [g.pick(["XRANGE", "XREVRANGE"]), k, sid(), sid()] + g.pick([[], ["COUNT", g.pick(["1", "5", "0", "-1"])]])
    if c == 4:
        return ["XLEN", k]
    if c == 5:
        return ["XDEL", k, ms + "-" + str(g.rnd.randrange(3)), sid()]
    if c == 6:
        return ["XTRIM", k, g.pick(["MAXLEN", "MINID"]), g.pick(["=", "~"]), g.pick([ms, "10", "0"])]
    if c == 7:
        return ["XGROUP", "CREATE", k, grp, g.pick(["$", "0", ms])] + g.pick([[], ["MKSTREAM"], ["ENTRIESREAD", "3"]])
    if c == 8:
        return ["XGROUP", g.pick(["SETID", "DESTROY", "CREATECONSUMER", "DELCONSUMER"]), k, grp] + \
            g.pick([[cons], ["0"], ["$"]])
    if c <= 10:
        return ["XREADGROUP", "GROUP", grp, cons] + g.pick([[], ["COUNT", "2"], ["NOACK"]]) + \
            ["STREAMS", k, g.pick([">", ">", "0", ms])]
    if c == 11:
        return ["XACK", k, grp, ms + "-" + str(g.rnd.randrange(3)), sid()]
    if c == 12:
        return ["XPENDING", k, grp] + g.pick([[], ["-", "+", "10"], ["-", "+", "5", cons]])
    if c == 13:
        return ["XCLAIM", k, grp, cons, "0", ms + "-" + str(g.rnd.randrange(3))] + g.pick([[], ["JUSTID"], ["FORCE", "JUSTID"]])
    if c == 14:
        return ["XAUTOCLAIM", k, grp, cons, "0", "0"] + g.pick([[], ["COUNT", "2"], ["JUSTID"]])
    if c == 15:
        return ["XINFO", "GROUPS", k]
    if c == 16:
        return ["XREAD", "COUNT", "3", "STREAMS", k, g.pick(["0", ms, "$"])]
    return ["XSETID", k, g.pick([ms + "-9", "999-0"])]


def gen_hll(g):
    k = "hll:%d" % g.rnd.randrange(3)
    c = g.rnd.randrange(4)
    if c == 0:
        return ["PFADD", k] + ["e%d" % g.rnd.randrange(5000) for _ in range(g.rnd.randrange(1, 20))]
    if c == 1:
        return ["PFCOUNT", k]
    if c == 2:
        return ["PFMERGE", "hll:%d" % g.rnd.randrange(3), k]
    return ["PFCOUNT", k, "hll:%d" % g.rnd.randrange(3)]


# GEO: points from a fixed pool (random ones across the globe, and the corners of the stored
# range: the poles' limit latitudes and the antimeridian), so searches meet the same members
# often; each member keeps its point unless moved to a fresh one (no two members share a point,
# so ASC/DESC never meet equal distances, whose order qsort leaves open).
_geo_rnd = random.Random(19)
GEO_POINTS = [(round(_geo_rnd.uniform(-180, 180), 6), round(_geo_rnd.uniform(-85.05, 85.05), 6))
              for _ in range(48)]
GEO_POINTS += [(180, 0), (-180, 0.5), (179.999, 85.05112878), (-179.999, -85.05112878),
               (0, 85.05), (0.5, -85.05), (179.99, 10), (-179.99, 10.01), (0, 0), (13.361389, 38.115556)]
GEO_UNITS = ["m", "km", "mi", "ft", "KM", "M", "yd"]


def geo_point(g):
    """A search centre: a point of the pool, or a fresh one."""
    if g.rnd.random() < 0.7:
        return g.pick(GEO_POINTS)
    return fresh_point(g)


def fresh_point(g):
    return (round(g.rnd.uniform(-180, 180), 7), round(g.rnd.uniform(-85.05112878, 85.05112878), 7))


def geo_member(g):
    return "m%d" % g.rnd.randrange(len(GEO_POINTS) // 2 + 3)


def geo_triple(g):
    i = g.rnd.randrange(len(GEO_POINTS) // 2 + 3)
    # Member mi has pool point 2i (or a fresh random point): no two members share a point.
    lon, lat = GEO_POINTS[2 * i] if 2 * i < len(GEO_POINTS) and g.rnd.random() < 0.8 else fresh_point(g)
    if g.rnd.random() < 0.03:
        lon, lat = g.pick([(181, 0), (0, 85.06), ("x", 0), (0, "nan"), (-180.0001, 10)])
    return [str(lon), str(lat), "m%d" % i]


def geo_options(g, store_word=None):
    opts = []
    if g.rnd.random() < 0.5:
        opts.append(g.pick(["ASC", "DESC"]))
    if g.rnd.random() < 0.4:
        opts += ["COUNT", g.pick(["1", "2", "3", "5", "1", "2", "0", "-1", "x"])]
        if g.rnd.random() < 0.4:
            opts.append("ANY")
    elif g.rnd.random() < 0.03:
        opts.append("ANY")
    for w in ("WITHCOORD", "WITHDIST", "WITHHASH"):
        if g.rnd.random() < 0.3:
            opts.append(w)
    if store_word and g.rnd.random() < 0.3:
        opts += [g.pick(store_word), g.key("zset")]
    if g.rnd.random() < 0.02:
        opts.append("JUNK")
    g.rnd.shuffle(opts)  # option order is free, but a word must stay before its arguments
    return fix_option_order(opts)


def fix_option_order(opts):
    """Keeps each option word before its argument after a shuffle."""
    words, args = [], []
    for o in opts:
        (args if o not in ("ASC", "DESC", "COUNT", "ANY", "WITHCOORD", "WITHDIST", "WITHHASH",
                            "STORE", "STOREDIST", "JUNK") else words).append(o)
    out, args = [], list(args)
    for w in words:
        out.append(w)
        if w in ("COUNT", "STORE", "STOREDIST") and args:
            out.append(args.pop(0))
    return out + args


def geo_radius(g):
    if g.rnd.random() < 0.05:
        return [g.pick(["-1", "x", "1"]), g.pick(GEO_UNITS)]
    return [g.pick(["0", "5", "500", "3000", "5000", "9000", "20000", "0.3"]), g.pick(["km", "KM", "mi", "m"])]


def geo_from(g):
    if g.rnd.random() < 0.5:
        return ["FROMMEMBER", geo_member(g)]
    lon, lat = geo_point(g)
    return ["FROMLONLAT", str(lon), str(lat)]


def geo_by(g):
    if g.rnd.random() < 0.5:
        return ["BYRADIUS"] + geo_radius(g)
    if g.rnd.random() < 0.05:
        return ["BYBOX", g.pick(["-5", "x", "1"]), g.pick(["1", "x", "-1"]), g.pick(GEO_UNITS)]
    return ["BYBOX", g.pick(["0", "2", "1000", "8000", "20000", "40000"]),
            g.pick(["0", "300", "1000", "5000", "12000"]), g.pick(["km", "mi", "KM"])]


def gen_geo(g):
    k = g.key("zset")
    c = g.rnd.randrange(16)
    if c <= 2:
        opts = g.pick([[], [], ["NX"], ["XX"], ["CH"], ["NX", "CH"], ["CH", "XX"], ["NX", "XX"]])
        triples = sum((geo_triple(g) for _ in range(g.rnd.randint(1, 8))), [])
        return ["GEOADD", k] + opts + triples
    if c == 3 and g.rnd.random() < 0.2:  # a large key: the skiplist encoding
        triples = []
        for _ in range(40):  # fresh points: p members never share one with another member
            lon, lat = round(g.rnd.uniform(-180, 180), 7), round(g.rnd.uniform(-85.05, 85.05), 7)
            triples += [str(lon), str(lat), "p%d" % g.rnd.randrange(400)]
        return ["GEOADD", "zset:2"] + triples
    if c == 3:
        return ["GEODIST", k, geo_member(g), geo_member(g)] + ([g.pick(GEO_UNITS)] if g.rnd.random() < 0.6 else [])
    if c == 4:
        return ["GEOHASH", k] + [geo_member(g) for _ in range(g.rnd.randint(1, 3))]
    if c == 5:
        return ["GEOPOS", k] + [geo_member(g) for _ in range(g.rnd.randint(1, 3))]
    if c in (6, 7, 8):
        parts = [geo_from(g), geo_by(g)]
        if g.rnd.random() < 0.03:
            parts = g.pick([[geo_from(g)], [geo_by(g)], [geo_from(g), geo_from(g), geo_by(g)]])
        return ["GEOSEARCH", k] + sum(parts, []) + geo_options(g)
    if c == 9:
        opts = [o for o in geo_options(g) if not o.startswith("WITH")]
        if g.rnd.random() < 0.4:
            opts.append("STOREDIST")
        return ["GEOSEARCHSTORE", g.key("zset"), k] + geo_from(g) + geo_by(g) + opts
    if c in (10, 11):
        lon, lat = geo_point(g)
        name = g.pick(["GEORADIUS", "GEORADIUS", "GEORADIUS_RO"])
        return [name, k, str(lon), str(lat)] + geo_radius(g) + geo_options(g, ["STORE", "STOREDIST"])
    if c in (12, 13):
        name = g.pick(["GEORADIUSBYMEMBER", "GEORADIUSBYMEMBER", "GEORADIUSBYMEMBER_RO"])
        return [name, k, geo_member(g)] + geo_radius(g) + geo_options(g, ["STORE", "STOREDIST"])
    if c == 14 and g.rnd.random() < 0.4:
        return ["ZREM", k, geo_member(g)]
    return ["ZRANGE", k, "0", "-1", "WITHSCORES"]


# SORT: elements from a small pool; every element has a distinct weight (w_*, h_*->f) and a
# distinct word (a_*, h_*->g), so no two elements ever compare equal except identical ones
# (their order cannot show). ALPHA BY only uses the words, which all exist: missing BY values
# compare equal in ALPHA, and qsort (Keel) and pqsort (SORT with LIMIT) may order such ties
# differently.
SORT_POOL = ["1", "2", "3", "10", "-1", "2.5", "07", "1e2", "0", "a", "b", "x1", " 5", "99"]


def sort_setup():
    cmds = []
    for i, e in enumerate(SORT_POOL):
        w = (i * 37) % len(SORT_POOL) - 3
        cmds += [("SET", "w_" + e, str(w)), ("SET", "a_" + e, "word%02d" % ((i * 5) % len(SORT_POOL))),
                 ("HSET", "h_" + e, "f", str(w * 2.5), "g", "g%02d" % ((i * 3) % len(SORT_POOL)))]
    return cmds


def gen_sort(g):
    if not getattr(g, "sort_ready", False):
        g.sort_ready = True
        g.pending = sort_setup()
    if g.pending:
        return list(g.pending.pop(0))
    fam = g.pick(["list", "list", "set", "zset"])
    k = g.key(fam)
    c = g.rnd.randrange(10)
    numeric = [e for e in SORT_POOL if e not in ("a", "b", "x1")]
    pool = numeric if g.rnd.random() < 0.95 else SORT_POOL
    if c <= 2:
        elems = [g.pick(pool) for _ in range(g.rnd.randint(1, 4))]
        if fam == "list":
            return [g.pick(["RPUSH", "LPUSH"]), k] + elems
        if fam == "set":
            return ["SADD", k] + elems
        return ["ZADD", k] + sum(([str(g.rnd.randint(-3, 3)), e] for e in elems), [])
    if c == 3:  # keep lists short (sets and sorted sets hold at most the pool)
        return {"list": ["LTRIM", k, "0", "24"], "set": ["SREM", k, g.pick(SORT_POOL)],
                "zset": ["ZPOPMIN", k]}[fam]
    args = [g.pick(["SORT", "SORT", "SORT_RO"]), k]
    alpha = g.rnd.random() < 0.3
    by = None
    r = g.rnd.random()
    if r < 0.2:
        by = g.pick(["a_*", "h_*->g"]) if alpha else g.pick(["w_*", "h_*->f", "nokey_*", "w_*->f"])
    elif r < 0.35:
        by = "nosort"
    opts = []
    if by:
        opts.append(["BY", by])
    if alpha:
        opts.append(["ALPHA"])
    if g.rnd.random() < 0.4:
        opts.append([g.pick(["ASC", "DESC"])])
    if g.rnd.random() < 0.4:
        opts.append(["LIMIT", g.pick(["0", "1", "2", "-1", "5", "x"]), g.pick(["0", "1", "2", "3", "-1", "10"])])
    for _ in range(g.pick([0, 0, 1, 2])):
        opts.append(["GET", g.pick(["#", "w_*", "h_*->f", "a_*", "nokey_*", "nostar", "h_*->"])])
    if args[0] == "SORT" and g.rnd.random() < 0.3:
        # Results go to keys SORT never reads: stored GET values have no weights of their own.
        opts.append(["STORE", g.pick(["sortdst:0", "sortdst:1"])])
    if g.rnd.random() < 0.02:
        opts.append(["JUNK"])
    g.rnd.shuffle(opts)
    return args + sum(opts, [])


def norm_sort(args):
    """SORT of a set with BY nosort and no STORE replies in the set's hash order."""
    up = _upper(args)
    if "NOSORT" in up and "STORE" not in up and not args[1].startswith(("list", "zset")):
        return count_only  # a set (or a key that may hold one)
    return None


SETUP = [("SET", "str:0", "s"), ("HSET", "hash:0", "f", "v"), ("SADD", "set:0", "m"),
         ("ZADD", "zset:0", "1", "m"), ("RPUSH", "list:0", "e")]


STATE_KEYS = ["%s:%d" % (f, i) for f in ("str", "hash", "set", "zset", "list", "hll", "zlex", "stream")
              for i in range(3)]
STATE_KEYS += ["sortdst:0", "sortdst:1"]
DUMP = {b"string": ("GET",), b"hash": ("HGETALL",), b"set": ("SMEMBERS",),
        b"zset": ("ZRANGE", "0", "-1", "WITHSCORES"), b"list": ("LRANGE", "0", "-1"),
        b"stream": ("XRANGE", "-", "+")}


def state_diff(p):
    """The first key whose type or value differs between the servers (a reply can agree while
    the stored result of a write does not), or None."""
    for key in STATE_KEYS:
        kt, rt = p.both("TYPE", key)
        if kt != rt:
            return "state: TYPE %s keel %r redis %r" % (key, kt, rt)
        if kt[1] in DUMP and not key.startswith("hll"):
            args = (DUMP[kt[1]][0], key) + DUMP[kt[1]][1:]
            d = p.diff(*args, norm=norm_for(args))
            if d:
                return "state: " + d
    return None


def run_random(p, gen, seed, n, check_every=int(os.environ.get("COMPAT_CHECK_EVERY", "100"))):
    """n random commands from gen to both servers; returns the differences found (a reply that
    differs, or the stored state differing, checked every check_every commands)."""
    g = Gen(seed)
    for cmd in SETUP:
        p.both(*cmd)
    diffs = []
    recent = []
    for i in range(n):
        args = gen(g)
        recent = (recent + [args])[-check_every:]
        d = p.diff(*args, norm=norm_for(args))
        if d:
            diffs.append(d)
        if i % check_every == check_every - 1 or i == n - 1:
            d = state_diff(p)
            if d:
                diffs.append(d + "\n   after one of: %r" % recent)
        if len(diffs) >= 5:
            break
    return diffs


# (family, generator, commands, seed): fixed seeds so a failure replays exactly.
RANDOM_FAMILIES = [("string", gen_string, 3000, 11), ("keys", gen_keys, 2000, 12),
                   ("hash", gen_hash, 3000, 13), ("set", gen_set, 3000, 14),
                   ("zset", gen_zset, 4000, 15), ("bitmap", gen_bitmap, 2000, 16),
                   ("hll", gen_hll, 600, 17), ("geo", gen_geo, 3000, 18), ("sort", gen_sort, 2500, 19),
                   ("stream", gen_stream, 1500, 20)]


@pytest.mark.parametrize("family,gen,n,seed", RANDOM_FAMILIES, ids=[f[0] for f in RANDOM_FAMILIES])
def test_random_sequences_reply_alike(pair, family, gen, n, seed):
    diffs = run_random(pair, gen, seed=seed * 10 + pair.resp, n=n)
    assert not diffs, "\n".join(diffs)


def test_random_list_sequences_reply_alike(pair):
    diffs = run_random(pair, gen_list, seed=180 + pair.resp, n=3000)
    assert not diffs, "\n".join(diffs)


# ---- COMMAND INFO ------------------------------------------------------------------------------


def command_table(conn):
    return {row[1][0][1]: row[1] for row in conn.call("COMMAND")[1]}


# Arity that differs on purpose: Redis 7.2 / Valkey 8 ZRANK/ZREVRANK take WITHSCORE (-3), 7.0 has 3;
# Valkey 8's COMMAND GETKEYS and GETKEYSANDFLAGS have arity -3 (command-getkeys.json), 7.0 had -4.
ARITY_72 = {b"zrank": b"-3", b"zrevrank": b"-3", b"command|getkeys": b"-3",
            b"command|getkeysandflags": b"-3"}


def info_fields(row):
    """arity, first key, last key, step, and whether keys are 'movablekeys'."""
    flags = {f[1] for f in row[2][1]}
    return [row[1][1], row[3][1], row[4][1], row[5][1], b"movablekeys" in flags]


def test_command_info_key_positions_match_for_every_shared_command(pair2):
    kt, rt = command_table(pair2.k), command_table(pair2.r)
    shared = sorted(set(kt) & set(rt))
    assert len(shared) > 150
    bad = []
    for name in shared:
        rows = [(name, kt[name], rt[name])]
        # Subcommands (CONFIG GET, OBJECT ENCODING, ...) have their own arity and keys.
        if len(kt[name]) > 9 and len(rt[name]) > 9 and kt[name][9][1] and rt[name][9][1]:
            ks = {s[1][0][1]: s[1] for s in kt[name][9][1]}
            rs = {s[1][0][1]: s[1] for s in rt[name][9][1]}
            rows += [(s, ks[s], rs[s]) for s in sorted(set(ks) & set(rs))]
        for full, krow, rrow in rows:
            kf, rf = info_fields(krow), info_fields(rrow)
            if full in ARITY_72:
                assert kf[0] == ARITY_72[full], full
                kf[0] = rf[0]
            if kf != rf:
                bad.append("%s keel %r redis %r" % (full.decode(), kf, rf))
    assert not bad, "\n".join(bad)


def test_command_info_reports_movablekeys_for_numkeys_commands(pair2):
    for name in ("ZUNIONSTORE", "ZINTER", "SINTERCARD", "LMPOP", "ZMPOP", "BLMPOP"):
        row = pair2.k.call("COMMAND", "INFO", name)[1][0][1]
        assert ("+", b"movablekeys") in row[2][1], name
    row = pair2.k.call("COMMAND", "INFO", "GET")[1][0][1]
    assert ("+", b"movablekeys") not in row[2][1]


def test_command_count_and_getkeys(pair2):
    # COUNT may differ (Keel has no scripting, streams, geo, cluster): both are integers.
    kc, rc = pair2.both("COMMAND", "COUNT")
    assert kc[0] == rc[0] == ":"
    for args in (("MSET", "a", "1", "b", "2"), ("ZUNIONSTORE", "d", "2", "x", "y"), ("GET", "k"),
                 ("SINTERCARD", "2", "a", "b", "LIMIT", "1"), ("LMPOP", "2", "a", "b", "LEFT"),
                 ("ZINTER", "0", "a"), ("PING",), ("NOSUCH", "x"), ("GET",)):
        pair2.same("COMMAND", "GETKEYS", *args)


# ---- error replies of every command ------------------------------------------------------------

# Never sent by the sweep: they stop the server, change the connection's mode or protocol, block,
# or touch every database or the configuration; DUMP's payloads differ by design (Keel writes the
# plain RDB forms at version 9: docs/dump.md; test_dump.py compares DUMP/RESTORE with the peer).
SWEEP_SKIP = {b"dump", b"shutdown", b"debug", b"monitor", b"sync", b"psync", b"subscribe", b"psubscribe",
              b"ssubscribe", b"unsubscribe", b"punsubscribe", b"sunsubscribe", b"quit", b"reset",
              b"hello", b"auth", b"multi", b"exec", b"discard", b"watch", b"save", b"bgsave",
              b"flushall", b"flushdb", b"swapdb", b"select", b"replicaof", b"slaveof", b"failover",
              b"client", b"config", b"wait", b"waitaof", b"command", b"info", b"time", b"lastsave",
              b"memory", b"randomkey", b"spop", b"srandmember", b"zrandmember", b"hrandfield",
              b"scan", b"sscan", b"hscan", b"zscan", b"object", b"latency", b"slowlog"}
SWEEP_TYPES = [("SET", "{k}", "v"), ("HSET", "{k}", "f", "v"), ("SADD", "{k}", "m"),
               ("ZADD", "{k}", "1", "m"), ("RPUSH", "{k}", "e")]


def sweep_calls(table):
    """For every command: no arguments; then, for commands whose first argument is a key, the
    key holding each type with the minimum arguments ("1" or "x" as filler) and with a junk
    option appended."""
    for name in sorted(table):
        if name in SWEEP_SKIP:
            continue
        row = table[name]
        arity, first = int(row[1][1]), int(row[3][1])
        yield None, [name]
        if first != 1:
            continue
        fill = max(abs(arity) - 2, 0)
        for setup in SWEEP_TYPES:
            for pad in ("1", "x"):
                base = [name, b"{k}"] + [pad] * fill
                yield setup, base
                yield setup, base + ["JUNK"]


def test_error_replies_of_every_command_match(pair2):
    kt, rt = command_table(pair2.k), command_table(pair2.r)
    shared = {n: kt[n] for n in set(kt) & set(rt)}
    bad, calls = [], 0
    for setup, args in sweep_calls(shared):
        pair2.flush()
        if setup:
            pair2.both(*setup)
        flags = {f[1] for f in shared[args[0]][2][1]}
        if b"blocking" in flags and len(args) > 1 and setup[0] in ("RPUSH", "ZADD"):
            continue  # a right-type key with a filler timeout could block
        calls += 1
        d = pair2.diff(*args)
        if d:
            bad.append(d)
    assert calls > 1000
    assert not bad, "\n".join(bad[:20])


def test_spop_count_errors_say_must_be_positive(pair2):
    pair2.both("SADD", "s", "a", "b")
    for count in ("x", "-1", "99999999999999999999", "1.5"):
        pair2.same("SPOP", "s", count)
        assert pair2.k.call("SPOP", "s", count) == ("-", b"ERR value is out of range, must be positive")
    pair2.same("SPOP", "s", "0")


# ---- scripted sequences per family -------------------------------------------------------------


def run_script(p, script):
    """script: list of argument lists, or (args, norm) pairs. Returns the differences."""
    out = []
    for item in script:
        args, norm = (item if isinstance(item, tuple) else (item, norm_for(item)))
        d = p.diff(*args, norm=norm)
        if d:
            out.append(d)
    return out


KEYS_SCRIPT = [
    ["SET", "a", "1"], ["SET", "b", "2", "EX", "100"], ["HSET", "h", "f", "v"], ["SADD", "s", "m"],
    ["TTL", "a"], ["TTL", "b"], ["TTL", "nokey"], ["PTTL", "b"], ["EXPIRETIME", "a"],
    ["EXPIRE", "a", "100", "XX"], ["EXPIRE", "a", "100", "NX"], ["EXPIRE", "a", "50", "GT"],
    ["EXPIRE", "a", "500", "GT"], ["EXPIRE", "a", "50", "LT"], ["EXPIRE", "a", "100", "NX", "XX"],
    ["EXPIRE", "a", "100", "GT", "LT"], ["EXPIRE", "a", "100", "NX", "GT"], ["EXPIRE", "a", "x"],
    ["EXPIRE", "a", "9223372036854775807"], ["PEXPIRE", "a", "9223372036854775807"],
    ["EXPIREAT", "a", "-9223372036854775808"], ["EXPIRE", "nokey", "10"], ["PERSIST", "a"],
    ["PERSIST", "a"], ["TTL", "a"], ["EXPIRE", "a", "0"], ["EXISTS", "a"], ["SET", "a", "1"],
    ["EXPIRE", "a", "-5"], ["EXISTS", "a"], ["SET", "a", "1"], ["EXPIREAT", "a", "1"], ["GET", "a"],
    ["TYPE", "h"], ["TYPE", "s"], ["TYPE", "nokey"], ["RENAME", "h", "h2"], ["RENAME", "nokey", "x"],
    ["RENAMENX", "h2", "s"], ["RENAMENX", "h2", "h2"], ["RENAME", "h2", "h2"], ["TTL", "b"],
    ["RENAME", "b", "c"], ["TTL", "c"], ["COPY", "c", "d"], ["TTL", "d"], ["COPY", "c", "d"],
    ["COPY", "c", "d", "REPLACE"], ["COPY", "c", "c"], ["COPY", "c", "e", "DB", "1"],
    ["COPY", "c", "e", "DB", "x"], ["COPY", "c", "e", "DB", "99"], ["MOVE", "c", "1"],
    ["MOVE", "c", "1"], ["MOVE", "d", "0"], ["MOVE", "d", "x"], ["DEL", "a", "b", "c", "d", "s"],
    ["KEYS", "*"], ["DBSIZE"], ["UNLINK", "h2", "nokey"], ["TOUCH", "x", "y"],
    ["SET", "n", "12345"], ["OBJECT", "ENCODING", "n"], ["SET", "n", "x" * 50],
    ["OBJECT", "ENCODING", "n"], ["SET", "n", "x" * 10], ["OBJECT", "ENCODING", "n"],
    ["OBJECT", "ENCODING", "nokey"], ["OBJECT", "REFCOUNT", "n"], ["OBJECT", "NOSUCH", "n"],
    ["OBJECT", "FREQ", "n"], ["SET", "e", "v", "PX", "100000"], ["PERSIST", "e"],
    ["SET", "t", "v", "EXAT", "4102444800"], ["EXPIRETIME", "t"], ["PEXPIRETIME", "t"],
    ["SET", "t", "v", "KEEPTTL"], ["EXPIRETIME", "t"], ["GETEX", "t", "PERSIST"], ["TTL", "t"],
    ["SCAN", "0", "TYPE", "string", "COUNT", "1000"],
    ["SCAN", "x"], ["SCAN", "0", "COUNT", "0"], ["SCAN", "0", "BAD"], ["SCAN", "0", "TYPE"],
    ["EXISTS"], ["DEL"],
]


def test_keys_and_expire_script(pair):
    pair.both("SELECT", "0")
    def full_scan(r):
        return (r[0], sorted(r[1][1][1], key=repr)) if r[0] == "*" else r

    script = [(a, full_scan if a[0] == "SCAN" else norm_for(a)) for a in KEYS_SCRIPT]
    diffs = run_script(pair, script)
    pair.k.call("FLUSHALL")
    pair.r.call("FLUSHALL")
    assert not diffs, "\n".join(diffs)


STRING_SCRIPT = [
    ["SET", "k", "v", "GET"], ["SET", "k", "w", "GET"], ["SET", "k", "v", "NX", "GET"],
    ["SET", "k", "v", "XX", "GET"], ["SET", "k", "v", "EX", "0"], ["SET", "k", "v", "PX", "-1"],
    ["SET", "k", "v", "EX", "9223372036854775807"], ["SET", "k", "v", "PXAT", "x"],
    ["SET", "k", "v", "KEEPTTL", "EX", "5"], ["SET", "k", "v", "GET", "GET"],
    ["HSET", "h", "f", "v"], ["SET", "h", "v", "GET"], ["GETSET", "h", "v"], ["GETDEL", "h"],
    ["APPEND", "h", "x"], ["INCR", "h"], ["GETEX", "h"], ["STRLEN", "h"], ["GETRANGE", "h", "0", "1"],
    ["SET", "n", "9223372036854775807"], ["INCR", "n"], ["DECRBY", "n", "-1"],
    ["SET", "n", "-9223372036854775808"], ["DECR", "n"], ["DECRBY", "n", "-9223372036854775808"],
    ["INCRBY", "n", "x"], ["SET", "n", " 1"], ["INCR", "n"], ["SET", "n", "01"], ["INCR", "n"],
    ["SET", "f", "10.5"], ["INCRBYFLOAT", "f", "0.1"], ["INCRBYFLOAT", "f", "-5.0e3"],
    ["INCRBYFLOAT", "f", "inf"], ["INCRBYFLOAT", "f", "nan"], ["SET", "f", "1e308"],
    ["INCRBYFLOAT", "f", "1e308"], ["SET", "f", "3"], ["INCRBYFLOAT", "f", "1.5"], ["GET", "f"],
    ["INCRBYFLOAT", "f", "0x10"], ["SET", "f", "5.0e3"], ["INCRBYFLOAT", "f", "200"],
    ["SETRANGE", "r", "5", "x"], ["GET", "r"], ["SETRANGE", "r", "-1", "x"],
    ["SETRANGE", "r", "536870912", "x"], ["SETRANGE", "r2", "0", ""], ["EXISTS", "r2"],
    ["GETRANGE", "r", "-100", "100"], ["GETRANGE", "r", "3", "1"], ["GETRANGE", "nokey", "0", "-1"],
    ["GETRANGE", "r", "x", "1"], ["MSET", "a"], ["MSET", "a", "1", "b"], ["MSETNX", "a", "1", "a", "2"],
    ["GET", "a"], ["MGET", "a", "h", "nokey", "n"], ["GETEX", "a", "EX", "0"], ["GETEX", "a", "EX", "x"],
    ["GETEX", "a", "PX", "10", "EX", "10"], ["GETEX", "a", "PERSIST", "PERSIST"],
    ["GETEX", "nokey", "EX", "10"], ["GETEX", "nokey", "BAD"], ["GETEX", "a", "EXAT", "4102444800"],
    ["SETEX", "a", "0", "v"], ["SETEX", "a", "-10", "v"], ["PSETEX", "a", "0", "v"],
    ["SETEX", "a", "100", "v"], ["SETNX", "a", "z"], ["SET", "lcs1", "ohmytext"],
    ["SET", "lcs2", "mynewtext"], ["LCS", "lcs1", "lcs2"], ["LCS", "lcs1", "lcs2", "LEN"],
    ["LCS", "lcs1", "lcs2", "IDX", "MINMATCHLEN", "4", "WITHMATCHLEN"],
    ["LCS", "lcs1", "lcs2", "IDX"], ["LCS", "lcs1", "nokey"], ["LCS", "lcs1", "lcs2", "LEN", "IDX"],
    ["LCS", "lcs1", "lcs2", "BAD"], ["SUBSTR", "lcs1", "0", "2"], ["SET", "", ""], ["GET", ""],
    ["SET", "big", "1" * 30], ["INCR", "big"], ["SET", "k", "v", "EXAT", "4102444800", "GET"],
]


def test_string_script(pair):
    diffs = run_script(pair, STRING_SCRIPT)
    assert not diffs, "\n".join(diffs)


# ---- CONFIG GET / SET --------------------------------------------------------------------------

COMMON_SETTINGS = ["maxmemory", "maxmemory-policy", "maxmemory-samples", "hash-max-listpack-entries",
                   "hash-max-listpack-value", "set-max-intset-entries", "zset-max-listpack-entries",
                   "zset-max-listpack-value", "list-max-listpack-size", "databases", "timeout",
                   "notify-keyspace-events", "hz", "maxclients", "proto-max-bulk-len",
                   "tcp-keepalive", "requirepass", "lfu-log-factor", "lfu-decay-time",
                   "client-query-buffer-limit", "nosuchsetting"]


def test_config_get_of_common_settings_matches_defaults(pair):
    for name in COMMON_SETTINGS:
        pair.same("CONFIG", "GET", name)


def test_config_set_errors_match(pair):
    for args in (["maxmemory", "x"], ["maxmemory", "-1"], ["hz", "x"], ["nosuch", "1"],
                 ["maxmemory", "10mb", "hz"], ["hz", "10", "HZ", "10"], ["maxmemory", "1gb"],
                 ["maxmemory", "0"], ["hash-max-listpack-entries", "512"]):
        pair.same("CONFIG", "SET", *args)
    pair.same("CONFIG", "GET", "maxmemory")
    # 'hz 10 hz 10' must not half-apply: the first pair is refused with the duplicate.
    assert pair.k.call("CONFIG", "SET", "maxmemory", "5mb", "maxmemory", "6mb")[0] == "-"
    pair.same("CONFIG", "GET", "maxmemory")


# ---- transactions and pub/sub replies ----------------------------------------------------------

TX_SCRIPT = [
    ["MULTI"], ["SET", "a", "1"], ["INCR", "a"], ["HSET", "a", "f", "v"], ["GET", "a"], ["EXEC"],
    ["MULTI"], ["SET", "a"], ["INCR", "a"], ["EXEC"], ["GET", "a"],
    ["MULTI"], ["MULTI"], ["NOSUCHCMD"], ["DISCARD"], ["EXEC"], ["DISCARD"],
    ["WATCH", "a"], ["SET", "a", "2"], ["MULTI"], ["GET", "a"], ["EXEC"],
    ["WATCH", "a"], ["MULTI"], ["GET", "a"], ["EXEC"],
    ["MULTI"], ["WATCH", "x"], ["DISCARD"], ["UNWATCH"], ["MULTI"], ["EXEC"],
    ["MULTI"], ["ZADD", "z", "1.5", "m"], ["ZINCRBY", "z", "1", "m"], ["ZRANGE", "z", "0", "-1", "WITHSCORES"],
    ["HGETALL", "h"], ["SMEMBERS", "nokey"], ["EXEC"],
]


def test_transactions_reply_alike(pair):
    diffs = run_script(pair, TX_SCRIPT)
    assert not diffs, "\n".join(diffs)


PUBSUB_SCRIPT = [
    ["PUBLISH", "ch", "msg"], ["SPUBLISH", "ch", "m"], ["PUBSUB", "CHANNELS"], ["PUBSUB", "NUMSUB", "a", "b"],
    ["PUBSUB", "NUMPAT"], ["PUBSUB", "SHARDCHANNELS"], ["PUBSUB", "SHARDNUMSUB", "x"], ["PUBSUB", "FOO"],
    ["UNSUBSCRIBE"], ["PUNSUBSCRIBE"],
]


def test_pubsub_replies_alike(pair):
    diffs = run_script(pair, PUBSUB_SCRIPT)
    assert not diffs, "\n".join(diffs)
    # Subscribing connections: confirmations, a message, and (RESP2) the subscriber-mode refusal.
    for cmd in (["SUBSCRIBE", "c1", "c2", "c1"], ["PSUBSCRIBE", "c*"], ["PING"], ["GET", "x"],
                ["PING", "hi"], ["UNSUBSCRIBE", "c1"], ["PUNSUBSCRIBE"], ["UNSUBSCRIBE"]):
        pair.k.send_cmd(*cmd)
        pair.r.send_cmd(*cmd)
        n = 3 if cmd[0] == "SUBSCRIBE" else 1
        for _ in range(n):
            ka, ra = pair.k.read(), pair.r.read()
            assert ka == ra, (cmd, ka, ra)


def test_float_literals_that_overflow_are_not_valid_floats(pair):
    # strtod turns 1e400 into HUGE_VAL with ERANGE: Valkey refuses it (only a written inf is
    # infinite), and refuses an underflow to zero the same way.
    for args in (["ZADD", "z", "1e400", "m"], ["ZADD", "z", "-1e400", "m"], ["ZADD", "z", "1e-400", "m"],
                 ["ZADD", "z", "INCR", "1e400", "m"], ["ZADD", "z", "1", "m"],
                 ["ZUNIONSTORE", "d", "1", "z", "WEIGHTS", "1e400"], ["ZADD", "z", "inf", "m"],
                 ["ZSCORE", "z", "m"], ["ZADD", "z", "4.9e-324", "n"]):
        pair.same(*args)
    assert pair.k.call("ZADD", "z", "1e400", "m") == ("-", b"ERR value is not a valid float")


def test_lpos_rank_range_is_valkeys(pair):
    pair.both("RPUSH", "l", "a", "b", "a")
    for rank in ("1", "-1", "2", "-2", "0", "9223372036854775807"):
        pair.same("LPOS", "l", "a", "RANK", rank)
    assert pair.k.call("LPOS", "l", "a", "RANK", "-9223372036854775808")[0] == "-"


# ---- operator commands: SLOWLOG and LATENCY -----------------------------------------------------


def norm_slowlog(rep):
    """Ids, times, durations and client ports differ: keep the shape, the arguments and names."""
    if rep[0] != "*" or rep[1] is None:
        return rep
    out = []
    for e in rep[1]:
        f = e[1]
        out.append(("*", [(":", b"N"), (":", b"T"), (":", b"D"), f[3], ("$", b"ADDR"), f[5]]))
    return ("*", out)


def norm_histogram(rep):
    """Bucket bounds depend on timing: keep command names, the keys and the call counts."""
    def walk(x):
        if x[0] in "%" and x[1] is not None:
            return (x[0], [(walk(k), walk(v)) for k, v in x[1]])
        if x[0] == "*" and x[1] is not None:
            return (x[0], [walk(v) for v in x[1]])
        return x
    def strip(x):
        if x[0] == "%":
            return ("%", [(k, ("%", [(kk, vv) if kk[1] == b"calls" else (kk, vv[0])
                                     for kk, vv in v[1]])) for k, v in x[1]])
        if x[0] == "*" and x[1]:
            items = x[1]
            res = []
            for i in range(0, len(items), 2):
                inner = items[i + 1][1]
                res += [items[i], ("*", [inner[0], inner[1], inner[2], ("*", "BUCKETS")])]
            return ("*", res)
        return x
    return strip(walk(rep))


def test_slowlog_replies_alike(pair):
    try:
        pair.both("CONFIG", "SET", "slowlog-log-slower-than", "0")
        pair.same("SLOWLOG", "RESET")
        pair.same("SLOWLOG", "LEN")
        pair.both("SET", "k", "v" * 200)
        pair.both("RPUSH", "l", *["e%d" % i for i in range(40)])
        pair.both("CLIENT", "SETNAME", "sweeper")
        pair.both("GET", "k")
        for args in (["SLOWLOG", "GET"], ["SLOWLOG", "GET", "2"], ["SLOWLOG", "GET", "-1"],
                     ["SLOWLOG", "GET", "0"]):
            pair.same(*args, norm=norm_slowlog)
        for args in (["SLOWLOG", "GET", "x"], ["SLOWLOG", "GET", "-2"], ["SLOWLOG", "GET", "1", "2"],
                     ["SLOWLOG", "LEN", "x"], ["SLOWLOG", "NOSUCH"], ["SLOWLOG"]):
            pair.same(*args)
        # The entries' trimmed arguments: 32 at most, each cut at 128 bytes with a note.
        k = pair.k.call("SLOWLOG", "GET", "-1")[1]
        rpush = [e for e in k if e[1][3][1][0][1] == b"RPUSH"][0]
        assert rpush[1][3][1][-1] == ("$", b"... (11 more arguments)")  # 42 arguments
    finally:
        pair.both("CONFIG", "SET", "slowlog-log-slower-than", "10000")
        pair.both("CLIENT", "SETNAME", "")


def test_latency_replies_alike(pair):
    pair.same("LATENCY", "RESET")
    for args in (["LATENCY", "LATEST"], ["LATENCY", "HISTORY", "command"],
                 ["LATENCY", "HISTORY", "nosuch"], ["LATENCY", "RESET", "a", "b"],
                 ["LATENCY", "HISTORY"], ["LATENCY", "NOSUCH"], ["LATENCY", "HISTOGRAM", "nosuch"],
                 ["LATENCY"]):
        pair.same(*args)
    pair.both("CONFIG", "RESETSTAT")
    for _ in range(3):
        pair.both("SET", "a", "1")
    pair.both("CLIENT", "ID")
    pair.same("LATENCY", "HISTOGRAM", "set", "client|id", "nosuch", norm=norm_histogram)


def test_client_reply_pause_and_getkeysandflags_reply_alike(pair):
    for conn in (pair.k, pair.r):
        for args in (("CLIENT", "REPLY", "OFF"), ("SET", "a", "1"), ("NOSUCH",),
                     ("CLIENT", "REPLY", "SKIP"), ("CLIENT", "REPLY", "ON")):
            conn.send_cmd(*args)
    # Only CLIENT REPLY ON answered: the next reply of each is its OK.
    assert pair.k.read() == pair.r.read() == ("+", b"OK")
    pair.k.send_cmd("CLIENT", "REPLY", "SKIP")
    pair.r.send_cmd("CLIENT", "REPLY", "SKIP")
    pair.k.send_cmd("INCR", "a")
    pair.r.send_cmd("INCR", "a")
    pair.same("GET", "a")
    for args in (["CLIENT", "REPLY", "MAYBE"], ["CLIENT", "REPLY"], ["CLIENT", "PAUSE", "x"],
                 ["CLIENT", "PAUSE", "-1"], ["CLIENT", "PAUSE", "10", "NEVER"],
                 ["CLIENT", "PAUSE"], ["CLIENT", "UNPAUSE", "x"], ["CLIENT", "UNPAUSE"],
                 ["COMMAND", "GETKEYSANDFLAGS", "GET", "k"],
                 ["COMMAND", "GETKEYSANDFLAGS", "NOSUCH", "k"],
                 ["COMMAND", "GETKEYSANDFLAGS", "PING", "x"], ["MEMORY", "PURGE"],
                 ["COMMAND", "LIST", "FILTERBY", "PATTERN", "slowlog|*"],
                 ["COMMAND", "LIST", "FILTERBY", "NOPE", "x"]):
        pair.same(*args, norm=unordered if args[1] == "LIST" else norm_for(args))


def test_monitor_lines_alike(pair):
    """MONITOR's lines agree once the timestamps and client ports are taken out."""
    import re
    k_other, r_other = Exact(pair.k.sock.getpeername()[1], 2), Exact(pair.r.sock.getpeername()[1], 2)
    try:
        assert pair.k.call("MONITOR") == pair.r.call("MONITOR") == ("+", b"OK")
        script = [("SELECT", "2"), ("SET", "k", 'a"b\\c\n\x01\xe9'), ("AUTH", "x", "y"),
                  ("HELLO", "2", "AUTH", "u", "p"), ("CONFIG", "GET", "x"), ("MULTI",),
                  ("GET", "k"), ("EXEC",), ("SELECT", "0")]
        for args in script:
            k_other.call(*args)
            r_other.call(*args)
        def lines(conn):
            out = []
            for _ in range(len(script) - 1):  # CONFIG is not shown
                t, text = conn.read()
                assert t == "+"
                out.append(re.sub(rb"^\d+\.\d{6} \[(\d+) [^\]]+\]", rb"T [\1 ADDR]", text))
            return out
        assert lines(pair.k) == lines(pair.r)
    finally:
        k_other.close()
        r_other.close()
        pair.k.call("RESET")
        pair.r.call("RESET")


def test_client_tracking_replies_alike(pair):
    try:
        for args in (["CLIENT", "TRACKING", "MAYBE"], ["CLIENT", "TRACKING", "ON", "PREFIX", "a"],
                     ["CLIENT", "TRACKING", "ON", "BCAST", "OPTIN"],
                     ["CLIENT", "TRACKING", "ON", "OPTIN", "OPTOUT"],
                     ["CLIENT", "TRACKING", "ON", "REDIRECT", "999999"],
                     ["CLIENT", "TRACKING", "ON", "REDIRECT", "x"],
                     ["CLIENT", "TRACKING", "ON", "JUNK"], ["CLIENT", "CACHING", "YES"],
                     ["CLIENT", "GETREDIR"], ["CLIENT", "TRACKINGINFO"],
                     ["CLIENT", "TRACKING", "ON", "OPTIN"], ["CLIENT", "CACHING", "NO"],
                     ["CLIENT", "CACHING", "MAYBE"], ["CLIENT", "CACHING", "YES"],
                     ["CLIENT", "TRACKINGINFO"], ["CLIENT", "TRACKING", "ON", "OPTOUT"],
                     ["CLIENT", "TRACKING", "ON", "BCAST"], ["CLIENT", "TRACKING", "OFF"],
                     ["CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "ab", "PREFIX", "a"],
                     ["CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "ab"],
                     ["CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "abc"],
                     ["CLIENT", "TRACKINGINFO"], ["CLIENT", "GETREDIR"],
                     ["CLIENT", "TRACKING", "OFF"], ["CLIENT", "TRACKINGINFO"]):
            pair.same(*args, norm=unordered if args[1] == "TRACKINGINFO" and pair.resp == 2
                      else None)
        if pair.resp == 3:
            # The invalidation push itself, byte for byte.
            pair.same("CLIENT", "TRACKING", "ON")
            pair.same("GET", "tkey")
            kw, rw = Exact(pair.k.sock.getpeername()[1], 2), Exact(pair.r.sock.getpeername()[1], 2)
            kw.call("SET", "tkey", "1")
            rw.call("SET", "tkey", "1")
            assert pair.k.read() == pair.r.read() == (">", [("$", b"invalidate"),
                                                            ("*", [("$", b"tkey")])])
            kw.call("FLUSHALL")
            rw.call("FLUSHALL")
            assert pair.k.read() == pair.r.read()
            kw.close()
            rw.close()
    finally:
        pair.both("CLIENT", "TRACKING", "OFF")


def test_debug_subcommands_for_test_suites_reply_alike(pair):
    for t in ("string", "integer", "double", "bignum", "null", "array", "set", "map", "attrib",
              "push", "verbatim", "true", "false", "nosuch"):
        pair.same("DEBUG", "PROTOCOL", t)
    for args in (["DEBUG", "ERROR", "boom"], ["DEBUG", "ERROR", "-WRONGTYPE custom"],
                 ["DEBUG", "DIGEST"], ["DEBUG", "DIGEST-VALUE", "nosuch"],
                 ["DEBUG", "POPULATE", "5"], ["DBSIZE"], ["GET", "key:0"], ["GET", "key:4"],
                 ["DEBUG", "POPULATE", "3", "pfx", "12"], ["GET", "pfx:2"],
                 ["DEBUG", "POPULATE", "2", "pfx", "3"], ["GET", "pfx:1"], ["DBSIZE"],
                 ["DEBUG", "QUICKLIST-PACKED-THRESHOLD", "1k"],
                 ["DEBUG", "QUICKLIST-PACKED-THRESHOLD", "0"],
                 ["DEBUG", "QUICKLIST-PACKED-THRESHOLD", "x"]):
        pair.same(*args)


# ---- scripting: EVAL, SCRIPT, FUNCTION ---------------------------------------------------------

SCRIPT_LIB = "#!lua name=difflib\nredis.register_function('f', function(k, a) " \
             "return redis.call('incr', k[1]) end)"
SCRIPTING_SCRIPT = [
    ["EVAL", "return 1", "0"], ["EVAL", "return {1, 'a', {2, false}, nil, 3}", "0"],
    ["EVAL", "return redis.call('set', KEYS[1], ARGV[1])", "1", "k", "v"],
    ["EVAL", "return redis.call('get', KEYS[1])", "1", "k"],
    ["EVAL", "return redis.call('incr', 'k')", "0"], ["EVAL", "return redis.pcall('incr', 'k')", "0"],
    ["EVAL", "return redis.call('nosuch')", "0"], ["EVAL", "return redis.call('get')", "0"],
    ["EVAL", "return redis.error_reply('MY err')", "0"], ["EVAL", "return redis.status_reply('FINE')", "0"],
    ["EVAL", "return x", "0"], ["EVAL", "x = 1", "0"], ["EVAL", "return os.execute('true')", "0"],
    ["EVAL", "return (", "0"], ["EVAL", "return 1", "2", "a"], ["EVAL", "return 1", "-1"],
    ["EVAL", "return 1", "x"], ["EVAL", "return 3.7", "0"], ["EVAL", "return true", "0"],
    ["EVAL", "return false", "0"], ["EVAL", "return {double=1.5}", "0"], ["EVAL", "return {map={a=1}}", "0"],
    ["EVAL", "return {set={a=true}}", "0"], ["EVAL", "return cjson.encode({1, 2})", "0"],
    ["EVAL", "return bit.band(6, 3)", "0"], ["EVAL", "return redis.sha1hex('x')", "0"],
    ["EVAL", "redis.setresp(3) return redis.call('hgetall', 'nokey')", "0"],
    ["EVAL", "#!lua flags=no-writes\nreturn redis.call('set', 'a', 'b')", "0"],
    ["EVAL", "#!lua flags=bad\nreturn 1", "0"], ["EVAL_RO", "return redis.call('set', 'a', 'b')", "0"],
    ["EVAL_RO", "#!lua\nreturn 1", "0"], ["SCRIPT", "LOAD", "return 'hi'"],
    ["EVALSHA", "2f31ba2bb6d6a0f42cc159d2e2dad55440778de3", "0"],
    ["SCRIPT", "EXISTS", "2f31ba2bb6d6a0f42cc159d2e2dad55440778de3", "ffff"],
    ["EVALSHA", "ffff", "0"], ["SCRIPT", "KILL"], ["SCRIPT", "FLUSH", "BAD"],
    ["FUNCTION", "FLUSH"], ["FUNCTION", "LOAD", SCRIPT_LIB], ["FUNCTION", "LOAD", SCRIPT_LIB],
    ["FCALL", "f", "1", "c"], ["FCALL_RO", "f", "1", "c"], ["FCALL", "nosuch", "0"],
    ["FUNCTION", "LIST"], ["FUNCTION", "LIST", "WITHCODE"], ["FUNCTION", "DELETE", "nolib"],
    ["FUNCTION", "LOAD", "return 1"], ["FUNCTION", "LOAD", "#!lua name=e\nreturn 1"],
    ["FUNCTION", "KILL"], ["FUNCTION", "DELETE", "difflib"], ["FUNCTION", "FLUSH"],
]


def test_scripting_replies_alike(pair):
    diffs = run_script(pair, SCRIPTING_SCRIPT)
    pair.k.call("FUNCTION", "FLUSH")
    pair.r.call("FUNCTION", "FLUSH")
    assert not diffs, "\n".join(diffs)

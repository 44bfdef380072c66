"""Bitmaps on strings: SETBIT GETBIT BITCOUNT BITPOS BITOP BITFIELD BITFIELD_RO, with Valkey's
errors and limits."""
import pytest
import redis

OFFSET_ERR = "bit offset is not an integer or out of range"


def test_setbit_getbit_grow_the_string_with_zeros(r):
    assert r.setbit("b", 7, 1) == 0
    assert r.get("b") == b"\x01"
    assert r.setbit("b", 7, 0) == 1
    assert r.setbit("b", 100, 1) == 0
    assert r.strlen("b") == 13
    assert r.getbit("b", 100) == 1
    assert r.getbit("b", 99) == 0
    assert r.getbit("b", 10 ** 6) == 0
    assert r.getbit("missing", 3) == 0


def test_setbit_keeps_existing_bytes(r):
    r.set("s", "a")  # 0x61 = 01100001
    assert r.setbit("s", 6, 1) == 0
    assert r.get("s") == b"c"


def test_setbit_errors(r):
    for bad in (-1, "x", 2 ** 32):  # 2^32 bits = 512 MB: beyond proto-max-bulk-len
        with pytest.raises(redis.ResponseError, match=OFFSET_ERR):
            r.setbit("b", bad, 1)
    with pytest.raises(redis.ResponseError, match="bit is not an integer or out of range"):
        r.execute_command("SETBIT", "b", 1, 2)


def test_wrongtype(r):
    try:  # a non-string key (lists come from another module)
        r.execute_command("LPUSH", "list", "a")
    except redis.ResponseError:
        pytest.skip("no list type in this build yet")
    for cmd in (("SETBIT", "list", 1, 1), ("GETBIT", "list", 1), ("BITCOUNT", "list"),
                ("BITPOS", "list", 1), ("BITOP", "AND", "d", "list"), ("BITFIELD", "list", "GET", "u8", 0)):
        with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
            r.execute_command(*cmd)


def test_bitcount_ranges_in_bytes_and_bits(r):
    r.set("s", "foobar")
    assert r.bitcount("s") == 26
    assert r.bitcount("s", 0, 0) == 4
    assert r.bitcount("s", 1, 1) == 6
    assert r.execute_command("BITCOUNT", "s", 1, 1, "BYTE") == 6
    assert r.execute_command("BITCOUNT", "s", 5, 30, "BIT") == 17
    assert r.execute_command("BITCOUNT", "s", -3, -1) == r.bitcount("s", 3, 5)
    assert r.bitcount("s", -1, -5) == 0
    assert r.bitcount("missing") == 0
    with pytest.raises(redis.ResponseError, match="syntax"):
        r.execute_command("BITCOUNT", "s", 0)
    with pytest.raises(redis.ResponseError, match="syntax"):
        r.execute_command("BITCOUNT", "s", 0, 1, "NIBBLE")


def test_bitpos(r):
    r.set("f", b"\xff\xf0\x00")
    assert r.bitpos("f", 0) == 12
    assert r.bitpos("f", 1, 2) == -1
    assert r.bitpos("f", 1) == 0
    r.set("all", b"\xff\xff")
    assert r.bitpos("all", 0) == 16  # no end given: zeros continue on the right
    assert r.bitpos("all", 0, 0, -1) == -1  # explicit end: none in the range
    assert r.execute_command("BITPOS", "f", 1, 7, 15, "BIT") == 7
    assert r.execute_command("BITPOS", "f", 0, 4, 15, "BIT") == 12
    assert r.bitpos("missing", 0) == 0
    assert r.bitpos("missing", 1) == -1
    with pytest.raises(redis.ResponseError, match="The bit argument must be 1 or 0"):
        r.execute_command("BITPOS", "f", 2)


def test_bitpos_finds_bits_far_into_a_long_string(r):
    r.setbit("long", 8 * 100000 + 3, 1)
    assert r.bitpos("long", 1) == 800003
    assert r.bitcount("long") == 1


def test_bitop(r):
    r.set("a", b"\xf0\x0f")
    r.set("b", b"\xff")
    assert r.bitop("AND", "d", "a", "b") == 2
    assert r.get("d") == b"\xf0\x00"
    assert r.bitop("OR", "d", "a", "b") == 2
    assert r.get("d") == b"\xff\x0f"
    assert r.bitop("XOR", "d", "a", "b") == 2
    assert r.get("d") == b"\x0f\x0f"
    assert r.bitop("NOT", "d", "a") == 2
    assert r.get("d") == b"\x0f\xf0"
    assert r.bitop("AND", "d", "a", "missing") == 2
    assert r.get("d") == b"\x00\x00"
    assert r.bitop("OR", "d", "nothing", "nowhere") == 0
    assert r.exists("d") == 0  # empty result deletes the destination
    with pytest.raises(redis.ResponseError, match="BITOP NOT must be called with a single source key."):
        r.bitop("NOT", "d", "a", "b")
    with pytest.raises(redis.ResponseError, match="syntax"):
        r.bitop("NAND", "d", "a")


def test_bitfield_get_set_incrby(r):
    assert r.execute_command("BITFIELD", "bf", "SET", "u8", 0, 255, "GET", "u8", 0) == [0, 255]
    assert r.execute_command("BITFIELD", "bf", "INCRBY", "u8", 0, 10) == [9]  # wraps
    assert r.execute_command("BITFIELD", "bf", "OVERFLOW", "SAT", "INCRBY", "u8", 0, 1000) == [255]
    assert r.execute_command("BITFIELD", "bf", "OVERFLOW", "FAIL", "INCRBY", "u8", 0, 1) == [None]
    assert r.execute_command("BITFIELD", "bf", "GET", "i8", 0) == [-1]
    assert r.execute_command("BITFIELD", "bf", "SET", "i64", 8, -5, "GET", "i64", 8) == [0, -5]
    assert r.execute_command("BITFIELD", "bf", "OVERFLOW", "WRAP", "SET", "i64", 8,
                             2 ** 63 - 1, "INCRBY", "i64", 8, 1) == [-5, -2 ** 63]
    # "#N" offsets count in units of the type width.
    assert r.execute_command("BITFIELD", "h", "SET", "u4", "#1", 15, "GET", "u8", 0) == [0, 15]
    assert r.execute_command("BITFIELD", "bf") == []


def test_bitfield_signed_saturation_and_fail(r):
    assert r.execute_command("BITFIELD", "x", "OVERFLOW", "SAT", "INCRBY", "i8", 0, 200,
                             "INCRBY", "i8", 0, -300) == [127, -128]
    assert r.execute_command("BITFIELD", "x", "OVERFLOW", "FAIL", "SET", "i8", 0, 128) == [None]
    assert r.execute_command("BITFIELD", "x", "GET", "i8", 0) == [-128]


def test_bitfield_errors(r):
    with pytest.raises(redis.ResponseError, match="u64 is not supported"):
        r.execute_command("BITFIELD", "k", "GET", "u64", 0)
    with pytest.raises(redis.ResponseError, match="u64 is not supported"):
        r.execute_command("BITFIELD", "k", "GET", "i65", 0)
    with pytest.raises(redis.ResponseError, match=OFFSET_ERR):
        r.execute_command("BITFIELD", "k", "GET", "u8", -1)
    with pytest.raises(redis.ResponseError, match="Invalid OVERFLOW type"):
        r.execute_command("BITFIELD", "k", "OVERFLOW", "MAYBE")
    with pytest.raises(redis.ResponseError, match="syntax"):
        r.execute_command("BITFIELD", "k", "GET", "u8")
    with pytest.raises(redis.ResponseError, match="not an integer"):
        r.execute_command("BITFIELD", "k", "SET", "u8", 0, "x")
    assert r.exists("k") == 0  # nothing runs when one operation is bad


def test_bitfield_ro(r):
    r.set("ro", b"\x80")
    assert r.execute_command("BITFIELD_RO", "ro", "GET", "u1", 0, "GET", "u8", 0) == [1, 128]
    assert r.execute_command("BITFIELD_RO", "missing", "GET", "u8", 0) == [0]
    with pytest.raises(redis.ResponseError, match="BITFIELD_RO only supports the GET subcommand"):
        r.execute_command("BITFIELD_RO", "ro", "SET", "u8", 0, 1)
    assert r.exists("missing") == 0


def test_unchanged_setbit_does_not_touch_watchers(server, r):
    r.setbit("w", 1, 1)
    c = server.raw()
    c.call("WATCH", "w")
    r.setbit("w", 1, 1)  # same bit value, same length: no change
    c.call("MULTI")
    c.call("GET", "w")
    assert c.call("EXEC") == [b"@"]
    c.close()

"""HyperLogLog: PFADD PFCOUNT PFMERGE PFDEBUG, the HYLL string value, accuracy at scale."""
import pytest
import redis

NOT_HLL = "Key is not a valid HyperLogLog string value."


def add_many(r, key, start, stop, batch=10000):
    p = r.pipeline(transaction=False)
    for lo in range(start, stop, batch):
        p.pfadd(key, *("e:%d" % i for i in range(lo, min(lo + batch, stop))))
    p.execute()


def test_pfadd_reports_changes_and_pfcount_counts(r):
    assert r.pfadd("h", "a", "b", "c") == 1
    assert r.pfadd("h", "a", "b") == 0
    assert r.pfcount("h") == 3
    assert r.pfcount("missing") == 0
    assert r.pfadd("empty") == 1  # creates the key
    assert r.pfadd("empty") == 0
    assert r.pfcount("empty") == 0


def test_value_is_a_hyll_string(r):
    r.pfadd("h", "x")
    v = r.get("h")
    assert v[:4] == b"HYLL"
    assert r.type("h") == b"string"
    r.set("copy", v)  # a copied value is a valid HLL (this is how it survives log and snapshot)
    assert r.pfcount("copy") == 1


def test_wrong_type_messages(r):
    r.set("plain", "not an hll")
    with pytest.raises(redis.ResponseError, match="WRONGTYPE " + NOT_HLL):
        r.pfadd("plain", "a")
    with pytest.raises(redis.ResponseError, match=NOT_HLL):
        r.pfcount("plain")
    with pytest.raises(redis.ResponseError, match=NOT_HLL):
        r.pfmerge("d", "plain")


def test_corrupt_sparse_value_is_detected(r):
    r.pfadd("h", "a")
    v = bytearray(r.get("h"))
    r.set("bad", bytes(v) + b"\x00")  # one more run: more than 16384 registers
    with pytest.raises(redis.ResponseError, match="INVALIDOBJ"):
        r.pfcount("bad")


def test_union_count_and_merge(r):
    r.pfadd("h1", "a", "b", "c")
    r.pfadd("h2", "c", "d")
    assert r.pfcount("h1", "h2") == 4
    assert r.pfcount("h1", "missing") == 3
    assert r.pfmerge("m", "h1", "h2")
    assert r.pfcount("m") == 4
    assert r.pfmerge("m2") and r.pfcount("m2") == 0  # no sources: an empty HLL


def test_merge_into_existing_destination_includes_it(r):
    r.pfadd("d", "a")
    r.pfadd("s", "b")
    r.pfmerge("d", "s")
    assert r.pfcount("d") == 2


def test_sparse_turns_dense_as_it_grows(r):
    r.pfadd("g", "a")
    assert r.execute_command("PFDEBUG", "ENCODING", "g") == b"sparse"
    add_many(r, "g", 0, 5000)
    assert r.execute_command("PFDEBUG", "ENCODING", "g") == b"dense"
    assert r.strlen("g") == 16 + 16384 * 6 // 8
    assert abs(r.pfcount("g") - 5000) < 5000 * 0.03


def test_pfdebug_todense_keeps_registers(r):
    r.pfadd("t", *range(100))
    regs = r.execute_command("PFDEBUG", "GETREG", "t")
    assert len(regs) == 16384 and sum(1 for x in regs if x) > 90
    assert r.execute_command("PFDEBUG", "TODENSE", "t") == 1
    assert r.execute_command("PFDEBUG", "TODENSE", "t") == 0
    assert r.execute_command("PFDEBUG", "GETREG", "t") == regs
    assert r.pfcount("t") == 100


def test_cached_count_is_invalidated_by_pfadd(r):
    add_many(r, "c", 0, 1000)
    first = r.pfcount("c")
    assert r.pfcount("c") == first  # served from the cache
    add_many(r, "c", 1000, 2000)
    assert r.pfcount("c") > first


@pytest.mark.parametrize("n", [100000, 1000000])
def test_error_within_a_few_standard_errors(r, n):
    add_many(r, "big", 0, n)
    est = r.pfcount("big")
    err = abs(est - n) / n
    print("PFCOUNT of %d distinct: %d (%.3f%%)" % (n, est, 100 * err))
    assert err < 3 * 0.0081

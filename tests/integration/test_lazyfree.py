"""UNLINK and FLUSHALL/FLUSHDB ASYNC hand big values to the lazy-free thread."""
import time


def info_mem(r, field):
    return int(r.info("memory")[field])


def wait_freed(r, at_least, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if info_mem(r, "lazyfreed_objects") >= at_least and info_mem(r, "lazyfree_pending_objects") == 0:
            return True
        time.sleep(0.02)
    return False


def test_unlink_big_set_is_freed_in_background(r):
    before = info_mem(r, "lazyfreed_objects")
    r.sadd("big", *[b"m%d" % i for i in range(5000)])
    r.set("small", "v")
    assert r.unlink("big", "small", "missing") == 2
    assert r.exists("big", "small") == 0
    assert wait_freed(r, before + 1)  # the set went through the thread, the string did not


def test_flushall_async_and_memory_returns(r):
    base = info_mem(r, "used_memory")
    for i in range(20):
        r.sadd("s%d" % i, *[b"x%d" % j for j in range(2000)])
    grown = info_mem(r, "used_memory")
    assert grown > base + 1_000_000
    before = info_mem(r, "lazyfreed_objects")
    assert r.flushall(asynchronous=True) is True
    assert r.dbsize() == 0
    assert wait_freed(r, before + 1)
    assert info_mem(r, "used_memory") < base + (grown - base) // 4


def test_flushdb_async_only_that_db(server):
    r0 = server.client(db=0)
    r1 = server.client(db=1)
    r0.flushall()
    r0.set("a", 1)
    r1.set("b", 1)
    assert r1.flushdb(asynchronous=True) is True
    assert r1.dbsize() == 0
    assert r0.get("a") == b"1"


def test_flush_bad_option(r):
    import redis
    try:
        r.execute_command("FLUSHALL", "LATER")
        assert False, "expected a syntax error"
    except redis.ResponseError as e:
        assert str(e) == "syntax error"

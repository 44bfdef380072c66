"""maxmemory and every maxmemory-policy, with a small limit set by CONFIG SET in each test.

The limit is always put a little above the memory in use at that moment, then new keys are
written, so the number of evictions needed is known roughly and the policy decides which keys go.
"""
import time

import pytest
import redis

VALUE = b"x" * 1000
OOM = "OOM command not allowed when used memory > 'maxmemory'."


def used(r):
    return int(r.info("memory")["used_memory"])


def evicted(r):
    return int(r.info("stats")["evicted_keys"])


@pytest.fixture
def ev(r):
    """The client, with the policy and sampling put back afterwards (r resets maxmemory)."""
    r.config_set("maxmemory-samples", "10")
    yield r
    r.config_set("maxmemory", "0")
    r.config_set("maxmemory-policy", "noeviction")
    r.config_set("maxmemory-samples", "5")


def fill(r, prefix, n, ttl=None):
    p = r.pipeline(transaction=False)
    for i in range(n):
        p.set("%s:%d" % (prefix, i), VALUE)
        if ttl is not None:
            p.expire("%s:%d" % (prefix, i), ttl(i))
    p.execute()


def alive(r, prefix, n):
    p = r.pipeline(transaction=False)
    for i in range(n):
        p.exists("%s:%d" % (prefix, i))
    return [i for i, e in enumerate(p.execute()) if e]


def limit_then_write(r, policy, prefix, n, headroom=20000):
    """Limit memory to what is used now plus headroom and write n new persistent keys one by one
    (each SET may evict). Returns the evicted_keys delta."""
    r.config_set("maxmemory-policy", policy)
    # The client's own buffers (query buffer, with io-threads its commands parsed ahead) grow
    # to their size for the pipelines of alive() now, not after the count below has settled.
    alive(r, prefix, 300)
    before = evicted(r)
    r.config_set("maxmemory", str(used(r) + headroom))
    for i in range(n):
        r.set("%s:%d" % (prefix, i), VALUE)
    # Eviction runs before each write, so the last one may leave memory above the limit, and the
    # cron then evicts once more (as a CONFIG SET maxmemory would): count once that has settled.
    last, deadline = evicted(r), time.time() + 5
    while time.time() < deadline:
        time.sleep(0.3)
        now = evicted(r)
        if now == last:
            break
        last = now
    return last - before


def test_noeviction_refuses_writes_but_serves_reads_and_deletes(ev):
    r = ev
    r.config_set("maxmemory-policy", "noeviction")
    r.set("first", VALUE)
    r.config_set("maxmemory", str(used(r) + 100000))
    with pytest.raises(redis.ResponseError) as e:
        for i in range(2000):
            r.set("k:%d" % i, VALUE)
    assert str(e.value) == OOM
    assert 10 < i < 2000
    assert evicted(r) == 0
    assert r.get("first") == VALUE  # reads go on
    assert r.exists("k:0") == 1  # nothing was evicted
    assert r.delete(*["k:%d" % j for j in range(i)]) == i  # DEL is not refused: it frees memory
    r.set("again", VALUE)


def test_allkeys_lru_keeps_recently_used_keys(ev):
    r = ev
    fill(r, "cold", 200)
    fill(r, "hot", 100)
    time.sleep(2.2)  # the LRU clock counts seconds
    for i in range(100):
        r.get("hot:%d" % i)
    n = limit_then_write(r, "allkeys-lru", "new", 150)
    assert n >= 100
    hot, cold = len(alive(r, "hot", 100)), len(alive(r, "cold", 200))
    assert hot >= 90, (hot, cold)
    assert cold <= 200 - n + 20, (hot, cold)
    # Eviction runs before each write, so the last SET may leave it one value above.
    assert used(r) <= int(r.config_get("maxmemory")["maxmemory"]) + 4096


def test_allkeys_lfu_keeps_frequently_used_keys(ev):
    r = ev
    r.config_set("maxmemory-policy", "allkeys-lfu")
    fill(r, "cold", 200)
    fill(r, "hot", 100)
    p = r.pipeline(transaction=False)
    for _ in range(50):
        for i in range(100):
            p.get("hot:%d" % i)
    p.execute()
    assert r.object("freq", "hot:0") > r.object("freq", "cold:0")
    n = limit_then_write(r, "allkeys-lfu", "new", 150)
    assert n >= 100
    hot = len(alive(r, "hot", 100))
    assert hot >= 95, hot


def test_allkeys_random_evicts_any_key_and_counts(ev):
    r = ev
    fill(r, "old", 300)
    n = limit_then_write(r, "allkeys-random", "new", 200)
    assert n >= 150
    old, new = len(alive(r, "old", 300)), len(alive(r, "new", 200))
    assert old + new == 500 - n  # evicted_keys counts exactly the keys that went
    assert old < 300 and new < 200  # random: both old and new keys go
    # Eviction runs before each write, so the last SET may leave it one value above.
    assert used(r) <= int(r.config_get("maxmemory")["maxmemory"]) + 4096


@pytest.mark.parametrize("policy", ["volatile-lru", "volatile-lfu", "volatile-random"])
def test_volatile_policies_evict_only_keys_with_ttl(ev, policy):
    r = ev
    fill(r, "persist", 200)
    fill(r, "vol", 200, ttl=lambda i: 1000)
    n = limit_then_write(r, policy, "new", 100)
    assert n >= 60
    assert len(alive(r, "persist", 200)) == 200
    assert len(alive(r, "new", 100)) == 100
    assert len(alive(r, "vol", 200)) == 200 - n
    # Once no volatile key is left, writes are refused as with noeviction.
    with pytest.raises(redis.ResponseError) as e:
        for i in range(2000):
            r.set("more:%d" % i, VALUE)
    assert str(e.value) == OOM
    assert alive(r, "vol", 200) == []
    assert len(alive(r, "persist", 200)) == 200


def test_volatile_ttl_evicts_nearest_expiry_first(ev):
    r = ev
    fill(r, "vol", 300, ttl=lambda i: 10000 + 10 * i)  # vol:0 expires first
    n = limit_then_write(r, "volatile-ttl", "new", 100)
    assert n >= 60
    left = alive(r, "vol", 300)
    gone = sorted(set(range(300)) - set(left))
    assert len(gone) == n
    assert sum(gone) / len(gone) < 100, gone  # perfect order would average about n/2
    assert sum(left) / len(left) > 170


def test_eviction_keeps_memory_under_the_limit_while_writing(ev):
    r = ev
    r.config_set("maxmemory-policy", "allkeys-lru")
    r.config_set("maxmemory", str(used(r) + 300000))
    limit = int(r.config_get("maxmemory")["maxmemory"])
    for i in range(1500):
        r.set("k:%d" % i, VALUE)
    assert r.dbsize() < 1500
    assert used(r) <= limit + 4096
    assert evicted(r) >= 1500 - r.dbsize()

"""Expiry: the EXPIRE family (NX XX GT LT), TTL family, PERSIST, lazy and active expiry."""
import time

import pytest
import redis


def stat(r, name):
    return int(r.info("stats")[name])


@pytest.fixture
def no_active_expire(r):
    r.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0")
    yield r
    r.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "1")


def test_expire_sets_ttl_in_seconds_and_ms(r):
    r.set("k", "v")
    assert r.expire("k", 100) is True
    assert r.ttl("k") == 100
    assert 99000 < r.pttl("k") <= 100000
    assert r.pexpire("k", 5500) is True
    assert r.ttl("k") in (5, 6)  # rounded to the nearest second, as Valkey does
    assert 5000 < r.pttl("k") <= 5500


def test_expireat_and_expiretime_are_absolute(r):
    r.set("k", "v")
    at = int(time.time()) + 1000
    assert r.expireat("k", at) is True
    assert r.execute_command("EXPIRETIME", "k") == at
    assert r.execute_command("PEXPIRETIME", "k") == at * 1000
    assert r.pexpireat("k", at * 1000 + 123) is True
    assert r.execute_command("PEXPIRETIME", "k") == at * 1000 + 123
    assert 998 <= r.ttl("k") <= 1000


def test_ttl_of_missing_and_persistent_keys(r):
    r.set("k", "v")
    for cmd in ("TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME"):
        assert r.execute_command(cmd, "k") == -1
        assert r.execute_command(cmd, "nokey") == -2


def test_expire_on_missing_key_returns_zero(r):
    assert r.expire("nokey", 100) is False
    assert r.exists("nokey") == 0


@pytest.mark.parametrize("cmd,arg", [("EXPIRE", "-1"), ("PEXPIRE", "0"), ("EXPIREAT", "1"),
                                     ("PEXPIREAT", "1000")])
def test_time_in_the_past_deletes_the_key(r, cmd, arg):
    r.set("k", "v")
    expired = stat(r, "expired_keys")
    assert r.execute_command(cmd, "k", arg) == 1
    assert r.exists("k") == 0
    assert stat(r, "expired_keys") == expired  # a deletion by command, not an expiry


def test_set_without_options_clears_the_ttl(r):
    r.set("k", "v")
    r.expire("k", 100)
    r.set("k", "w")
    assert r.ttl("k") == -1


def test_nx_sets_only_without_ttl(r):
    r.set("k", "v")
    assert r.expire("k", 100, nx=True) is True
    assert r.expire("k", 200, nx=True) is False
    assert r.ttl("k") == 100


def test_xx_sets_only_with_ttl(r):
    r.set("k", "v")
    assert r.expire("k", 100, xx=True) is False
    assert r.ttl("k") == -1
    r.expire("k", 100)
    assert r.expire("k", 200, xx=True) is True
    assert r.ttl("k") == 200


def test_gt_only_extends_and_never_applies_to_persistent_keys(r):
    # Absolute times, so that "equal" does not depend on the clock moving between commands.
    t = int(time.time() * 1000) + 100000
    r.set("k", "v")
    assert r.pexpireat("k", t, gt=True) is False  # no TTL counts as infinite
    assert r.ttl("k") == -1
    r.pexpireat("k", t)
    assert r.pexpireat("k", t - 1, gt=True) is False
    assert r.pexpireat("k", t, gt=True) is False
    assert r.pexpireat("k", t + 1, gt=True) is True
    assert r.execute_command("PEXPIRETIME", "k") == t + 1


def test_lt_only_shortens_and_applies_to_persistent_keys(r):
    t = int(time.time() * 1000) + 100000
    r.set("k", "v")
    assert r.pexpireat("k", t, lt=True) is True  # below infinite
    assert r.pexpireat("k", t + 1, lt=True) is False
    assert r.pexpireat("k", t, lt=True) is False
    assert r.pexpireat("k", t - 1, lt=True) is True
    assert r.execute_command("PEXPIRETIME", "k") == t - 1
    assert r.expire("k", 50, lt=True) is True
    assert r.ttl("k") == 50


def test_xx_gt_combined(r):
    r.set("k", "v")
    assert r.execute_command("EXPIRE", "k", "100", "XX", "GT") == 0
    r.expire("k", 100)
    assert r.execute_command("EXPIRE", "k", "200", "xx", "gt") == 1
    assert r.ttl("k") == 200


def test_option_errors(r):
    r.set("k", "v")
    msg = "^NX and XX, GT or LT options at the same time are not compatible$"
    for opts in (("NX", "XX"), ("NX", "GT"), ("NX", "LT")):
        with pytest.raises(redis.ResponseError, match=msg):
            r.execute_command("EXPIRE", "k", "10", *opts)
    with pytest.raises(redis.ResponseError, match="^GT and LT options at the same time are not compatible$"):
        r.execute_command("PEXPIRE", "k", "10", "GT", "LT")
    with pytest.raises(redis.ResponseError, match="^Unsupported option foo$"):
        r.execute_command("EXPIRE", "k", "10", "foo")
    with pytest.raises(redis.ResponseError, match="^value is not an integer or out of range$"):
        r.execute_command("EXPIRE", "k", "1.5")
    assert r.ttl("k") == -1


@pytest.mark.parametrize("cmd,arg", [("expire", "9223372036854775807"),
                                     ("expire", "-9223372036854775808"),
                                     ("pexpire", "9223372036854775807"),
                                     ("expireat", "9223372036854776"),
                                     ("expireat", "-9223372036854776")])
def test_overflowing_time_is_an_error(r, cmd, arg):
    r.set("k", "v")
    with pytest.raises(redis.ResponseError, match="^invalid expire time in '%s' command$" % cmd):
        r.execute_command(cmd, "k", arg)
    assert r.ttl("k") == -1


def test_persist(r):
    r.set("k", "v")
    assert r.persist("k") is False
    r.expire("k", 100)
    assert r.persist("k") is True
    assert r.ttl("k") == -1
    assert r.persist("nokey") is False


def test_lazy_expiry_on_access(no_active_expire):
    r = no_active_expire
    r.set("k", "v")
    r.pexpire("k", 50)
    assert r.get("k") == b"v"
    time.sleep(0.1)
    assert r.dbsize() == 1  # no active cycle: still stored
    expired = stat(r, "expired_keys")
    assert r.get("k") is None
    assert r.dbsize() == 0
    assert stat(r, "expired_keys") == expired + 1
    assert r.ttl("k") == -2


def test_expired_key_is_gone_for_every_command(no_active_expire):
    r = no_active_expire
    for k in ("a", "b", "c", "d"):
        r.set(k, "v")
        r.pexpire(k, 20)
    time.sleep(0.06)
    assert r.exists("a") == 0
    assert r.type("b") == b"none"
    with pytest.raises(redis.ResponseError, match="^no such key$"):
        r.rename("c", "x")
    assert r.expire("d", 100) is False


def test_active_expiry_removes_keys_without_access(r):
    expired = stat(r, "expired_keys")
    for i in range(300):
        r.set("t:%d" % i, "v")
        r.pexpire("t:%d" % i, 100)
    r.set("keep", "v")
    deadline = time.time() + 5
    while r.dbsize() > 1 and time.time() < deadline:
        time.sleep(0.05)
    assert r.dbsize() == 1  # DBSIZE looks at no key, so only the active cycle can do this
    assert stat(r, "expired_keys") - expired == 300


def test_debug_set_active_expire_0_stops_the_cycle(no_active_expire):
    r = no_active_expire
    for i in range(50):
        r.set("t:%d" % i, "v")
        r.pexpire("t:%d" % i, 20)
    time.sleep(0.5)
    assert r.dbsize() == 50
    r.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "1")
    deadline = time.time() + 5
    while r.dbsize() and time.time() < deadline:
        time.sleep(0.05)
    assert r.dbsize() == 0


def test_expire_events(server, r):
    admin = server.client()
    admin.config_set("notify-keyspace-events", "KEA")
    p = server.client().pubsub()
    try:
        p.psubscribe("__keyevent@0__:*")
        p.get_message(timeout=2)
        r.set("a", 1)
        r.expire("a", 100)
        r.persist("a")
        r.expire("a", -1)  # past: deleted, event "del"
        r.set("b", 1)
        r.pexpire("b", 1)
        time.sleep(0.05)
        r.get("b")  # lazily (or already actively) expired: event "expired"
        got = []
        while True:
            m = p.get_message(timeout=0.3)
            if m is None:
                break
            got.append((m["channel"].split(b":", 1)[1], m["data"]))
        got = [e for e in got if e[0] != b"set"]
        assert got == [(b"expire", b"a"), (b"persist", b"a"), (b"del", b"a"), (b"expire", b"b"),
                       (b"expired", b"b")]
    finally:
        p.close()
        admin.config_set("notify-keyspace-events", "")
        admin.close()


def test_expire_inside_multi(r):
    r.set("k", "v")
    p = r.pipeline(transaction=True)
    p.expire("k", 100)
    p.ttl("k")
    assert p.execute() == [True, 100]


def test_many_keys_with_ttls_then_persist_all(r):
    # db_set_expire moves objects between the key table and the expiry index; exercise both
    # directions on enough keys to rehash the tables.
    for i in range(2000):
        r.set("k%d" % i, "v" * (i % 50))
        r.expire("k%d" % i, 1000 + i)
    for i in range(0, 2000, 2):
        r.persist("k%d" % i)
    for i in range(2000):
        ttl = r.ttl("k%d" % i)
        if i % 2 == 0:
            assert ttl == -1
        else:
            assert 1000 + i - 5 <= ttl <= 1000 + i  # a slow (sanitizer) run takes seconds
        assert r.get("k%d" % i) == b"v" * (i % 50)

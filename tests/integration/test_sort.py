"""SORT and SORT_RO on a real keel-server: redis-py's sort() with BY, GET (#, keys, hash fields),
LIMIT, ALPHA, DESC and STORE on lists, sets and sorted sets; the ACL rule that BY and GET
patterns need read access to every key; keyspace events; STORE surviving a SIGKILL; and BY/GET
keys whose values are in the tier. Exact agreement with redis-server 7.0 over thousands of
random calls is test_compat_diff.py's job, the ordering rules are unit-tested
(test_commands_sort_geo.c)."""
import os
import time

import pytest
import redis

from keel_harness import KeelServer, wait_for, wait_logged, wal_last_lsn


def people(r):
    r.rpush("ids", 3, 1, 2)
    r.mset({"age_1": 30, "age_2": 25, "age_3": 41})
    for i, name in ((1, "ann"), (2, "bob"), (3, "cy")):
        r.hset("user_%d" % i, mapping={"name": name, "rank": 10 - i})


def test_redis_py_sort_api(r):
    people(r)
    assert r.sort("ids") == [b"1", b"2", b"3"]
    assert r.sort("ids", desc=True, start=0, num=2) == [b"3", b"2"]
    assert r.sort("ids", by="age_*") == [b"2", b"1", b"3"]
    assert r.sort("ids", by="user_*->rank") == [b"3", b"2", b"1"]
    assert r.sort("ids", by="age_*", get=["#", "user_*->name", "age_*", "missing_*"]) == [
        b"2", b"bob", b"25", None, b"1", b"ann", b"30", None, b"3", b"cy", b"41", None]
    assert r.sort("ids", by="nosort", get="user_*->name") == [b"cy", b"ann", b"bob"]
    assert r.sort("ids", by="user_*->name", alpha=True, desc=True) == [b"3", b"2", b"1"]
    r.sadd("tags", "b", "c", "a")
    assert r.sort("tags", alpha=True) == [b"a", b"b", b"c"]
    r.zadd("z", {"x": 3, "y": 1, "w": 2})
    assert r.sort("z", by="nosort") == [b"y", b"w", b"x"]  # the sorted set's own order
    assert r.sort("z", alpha=True, start=1, num=5) == [b"x", b"y"]
    assert r.execute_command("SORT_RO", "ids", "BY", "age_*", "DESC") == [b"3", b"1", b"2"]
    assert r.sort("ids", by="age_*", get="user_*->name", store="out") == 3
    assert r.lrange("out", 0, -1) == [b"bob", b"ann", b"cy"]
    r.rpush("bad", 1, "x")
    with pytest.raises(redis.ResponseError, match="One or more scores can't be converted into double"):
        r.sort("bad")
    with pytest.raises(redis.ResponseError, match="syntax error"):
        r.execute_command("SORT_RO", "ids", "STORE", "out")
    r.set("str", "v")
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        r.sort("str")


def test_store_replaces_any_type_and_an_empty_result_deletes(r):
    people(r)
    r.set("out", "old", ex=100)
    assert r.sort("ids", store="out") == 3
    assert r.type("out") == b"list" and r.ttl("out") == -1
    assert r.sort("nothing", store="out") == 0
    assert r.exists("out") == 0


def test_by_and_get_patterns_need_read_access_to_every_key(server, r):
    people(r)
    r.execute_command("ACL", "SETUSER", "sorter", "on", "nopass", "+sort", "+sort_ro", "~ids")
    c = server.client()
    try:
        c.execute_command("AUTH", "sorter", "x")
        assert c.sort("ids") == [b"1", b"2", b"3"]
        assert c.sort("ids", by="nosort") == [b"3", b"1", b"2"]  # no pattern: no other key read
        with pytest.raises(redis.ResponseError) as ei:
            c.sort("ids", by="age_*")
        assert str(ei.value) == "BY option of SORT denied due to insufficient ACL permissions."
        with pytest.raises(redis.ResponseError) as ei:
            c.execute_command("SORT_RO", "ids", "GET", "#")
        assert str(ei.value) == "GET option of SORT denied due to insufficient ACL permissions."
        # Patterns covering the keys are not enough, nor is write access to all of them.
        r.execute_command("ACL", "SETUSER", "sorter", "~age_*", "~user_*", "%W~*")
        with pytest.raises(redis.ResponseError, match="BY option of SORT denied"):
            c.sort("ids", by="age_*")
        r.execute_command("ACL", "SETUSER", "sorter", "%R~*")
        assert c.sort("ids", by="age_*", get="user_*->name") == [b"bob", b"ann", b"cy"]
        r.execute_command("ACL", "SETUSER", "sorter", "resetkeys", "allkeys")
        assert c.sort("ids", by="age_*") == [b"2", b"1", b"3"]
    finally:
        c.close()
        r.execute_command("ACL", "DELUSER", "sorter")


def test_the_sorted_key_needs_read_and_the_store_key_write_permission(server, r):
    people(r)
    r.execute_command("ACL", "SETUSER", "ro", "on", "nopass", "+sort", "+sort_ro", "+geosearchstore",
                      "+georadius", "%R~ids", "%R~src", "%W~out")
    r.geoadd("src", [13.361389, 38.115556, "Palermo"])
    c = server.client()
    try:
        c.execute_command("AUTH", "ro", "x")
        for name in ("GEORADIUS", "GEOSEARCHSTORE"):
            c.response_callbacks.pop(name, None)  # raw replies
        assert c.sort("ids") == [b"1", b"2", b"3"]  # SORT reads its key, as in Valkey
        assert c.execute_command("SORT_RO", "ids") == [b"1", b"2", b"3"]
        assert c.sort("ids", store="out") == 3
        with pytest.raises(redis.exceptions.NoPermissionError):
            c.sort("ids", store="ids")  # read permission only
        with pytest.raises(redis.exceptions.NoPermissionError):
            c.sort("out")
        assert c.execute_command("GEOSEARCHSTORE", "out", "src", "FROMLONLAT", "13", "38",
                                 "BYRADIUS", "100", "km") == 1
        assert c.execute_command("GEORADIUS", "src", "13", "38", "100", "km", "STORE", "out") == 1
        with pytest.raises(redis.exceptions.NoPermissionError):
            c.execute_command("GEOSEARCHSTORE", "src", "out", "FROMLONLAT", "13", "38",
                              "BYRADIUS", "100", "km")
    finally:
        c.close()
        r.execute_command("ACL", "DELUSER", "ro")


def test_keyspace_events(server, r):
    r.config_set("notify-keyspace-events", "KEA")
    p = server.client().pubsub()
    try:
        p.psubscribe("__keyevent@0__:*")
        assert p.get_message(timeout=2)["type"] == "psubscribe"
        r.rpush("l", 2, 1)
        r.sort("l")  # a read: no event
        r.sort("l", store="d")
        r.sort("none", store="d")
        events = []
        deadline = time.time() + 3
        while len(events) < 3 and time.time() < deadline:
            m = p.get_message(timeout=0.5)
            if m and m["type"] == "pmessage":
                events.append(m["channel"].decode().split(":", 1)[1])
        assert events == ["rpush", "sortstore", "del"]
    finally:
        p.close()
        r.config_set("notify-keyspace-events", "")


def test_stored_results_survive_a_crash_without_the_keys_they_came_from(tmp_path):
    s = KeelServer(data_dir=str(tmp_path), durability="sync")
    try:
        s.start()
        c = s.client()
        people(c)
        assert c.sort("ids", by="age_*", get=["#", "user_*->name"], store="out") == 6
        expect = c.lrange("out", 0, -1)
        c.delete("age_1", "age_2", "age_3", "user_1", "user_2", "user_3")
        s.kill()
        s.start()
        c = s.client()
        assert c.lrange("out", 0, -1) == expect == [b"2", b"bob", b"1", b"ann", b"3", b"cy"]
        assert c.exists("age_1", "user_1") == 0
    finally:
        s.cleanup()


def test_a_replica_gets_the_stored_results_and_serves_the_read_only_forms(live):
    p = KeelServer(durability="sync")
    live.append(p)
    p.start()
    r = KeelServer(args=["--replicaof", "127.0.0.1 %d" % p.port], durability="sync")
    live.append(r)
    r.start()
    pc, rc = p.client(), r.client()
    people(pc)
    pc.sort("ids", by="age_*", get="user_*->name", store="out")
    pc.geoadd("g", [13.361389, 38.115556, "Palermo", 15.087269, 37.502669, "Catania"])
    pc.geosearchstore("near", "g", longitude=15, latitude=37, radius=100, unit="km")
    wait_for(lambda: rc.exists("near") == 1, what="the replica to apply the stores")
    assert rc.lrange("out", 0, -1) == [b"bob", b"ann", b"cy"]
    assert rc.zrange("near", 0, -1, withscores=True) == pc.zrange("near", 0, -1, withscores=True)
    assert rc.zrange("g", 0, -1, withscores=True) == pc.zrange("g", 0, -1, withscores=True)
    with pytest.raises(redis.exceptions.ReadOnlyError):
        rc.sort("ids")  # a write command, as in Valkey, even without STORE
    assert rc.execute_command("SORT_RO", "ids", "BY", "age_*") == [b"2", b"1", b"3"]
    rc.response_callbacks.pop("GEORADIUS_RO", None)
    assert rc.execute_command("GEORADIUS_RO", "g", "15", "37", "100", "km") == [b"Catania"]


def test_a_sort_reading_an_uncommitted_by_key_waits_for_it(live, tmp_path):
    """durability sync: a read waits for the uncommitted writes of the keys it reads. SORT's BY
    and GET keys are not declared, so SORT waits for the newest write (CMD_PATTERN_READS)."""
    os.environ["KEEL_DEBUG_WAL_FSYNC_DELAY_MS"] = "600"
    try:
        s = KeelServer(data_dir=str(tmp_path), durability="sync")
        live.append(s)
        s.start()
    finally:
        del os.environ["KEEL_DEBUG_WAL_FSYNC_DELAY_MS"]
    r = s.client()
    r.pipeline(transaction=False).rpush("ids", 1, 2).set("cold", "c").execute()  # one fsync
    writer, reader = s.raw(), s.raw()
    lsn = wal_last_lsn(r)
    writer.send_cmd("SET", "w_1", "9")
    wait_logged(r, lsn)  # the SET has run; its record is being synced for 600 ms
    t0 = time.time()
    assert reader.call("GET", "cold") == b"c"
    assert time.time() - t0 < 0.3  # an unrelated read does not wait
    t0 = time.time()
    assert reader.call("SORT", "ids", "BY", "w_*") == [b"2", b"1"]
    assert time.time() - t0 > 0.3  # it read w_1's new value: its reply waited for the record
    assert writer.read() == "OK"
    writer.close()
    reader.close()


def test_get_and_by_keys_in_the_tier_are_fetched(live):
    s = KeelServer(args=["--tiering", "yes", "--tiering-memory-target", "1500kb",
                         "--tiering-min-value-size", "8", "--tiering-threads", "2"],
                   durability="async")
    live.append(s)
    s.start()
    c = s.client()
    n = 3000
    vals = {}
    for i in range(0, n, 500):
        pipe = c.pipeline(transaction=False)
        for j in range(i, min(n, i + 500)):
            vals[j] = ("%05d-" % ((j * 7919) % n)).encode() + b"v" * 600
            pipe.set("val_%d" % j, vals[j])
        pipe.execute()
    c.rpush("ids", *range(n))
    wait_for(lambda: c.info("tiering")["tiering_tiered_keys"] >= n // 2, what="values going out")
    # A fetch that fails fails the command (a value in the tier is not a missing key): the
    # sorted key's own fetch, if it went out too, or that of a BY key.
    c.rpush("few", *range(40))
    c.execute_command("DEBUG", "TIERING-FAULT", "get-error", "1")
    with pytest.raises(redis.ResponseError, match="^tiering: "):
        c.sort("few", by="val_*", alpha=True)
    c.execute_command("DEBUG", "TIERING-FAULT", "get-error", "0")
    before = c.info("tiering")["tiering_sync_fetches"]
    got = c.sort("ids", by="val_*", alpha=True, get=["#", "val_*"], start=0, num=50)
    order = sorted(range(n), key=lambda j: vals[j])[:50]
    assert got == sum(([str(j).encode(), vals[j]] for j in order), [])
    # The pattern keys are not declared, so their values came back while SORT waited.
    assert c.info("tiering")["tiering_sync_fetches"] >= before + n // 2

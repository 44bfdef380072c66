"""Generic key commands (DEL UNLINK EXISTS TYPE RENAME RENAMENX COPY MOVE KEYS SCAN RANDOMKEY
SWAPDB TOUCH OBJECT) against the real server: replies, errors and side effects as Valkey 8."""
import time

import pytest
import redis

from keel_harness import RawConn

LFU_MSG = ("An LFU maxmemory policy is not selected, access frequency not tracked. Please note "
           "that when switching between policies at runtime LRU and LFU data will take some time "
           "to adjust.")

# How to create a key of each type; a type whose commands are not built yet is skipped.
MAKERS = {
    "string": ("set", "v"),
    "list": ("rpush", "a"),
    "set": ("sadd", "a"),
    "zset": ("zadd", "1", "a"),
    "hash": ("hset", "f", "v"),
}


def has_command(r, name):
    raw = RawConn(r.connection_pool.connection_kwargs["port"])
    try:
        return raw.call("COMMAND", "INFO", name)[0] is not None
    finally:
        raw.close()


def make(r, typ, key):
    cmd = MAKERS[typ]
    if not has_command(r, cmd[0]):
        pytest.skip("%s not built yet" % cmd[0].upper())
    r.execute_command(cmd[0], key, *cmd[1:])


def dirty(r):
    return int(r.info("persistence")["rdb_changes_since_last_save"])


def test_del_and_unlink_count_only_existing_keys(r):
    for k in "abc":
        r.set(k, 1)
    assert r.delete("a", "b", "nokey") == 2
    assert r.unlink("c", "c", "nokey") == 1
    assert r.dbsize() == 0


def test_del_of_missing_key_changes_nothing(r):
    before = dirty(r)
    assert r.delete("nokey") == 0
    assert dirty(r) == before


def test_exists_counts_repeated_keys(r):
    r.set("a", "1")
    assert r.exists("a", "a", "nokey") == 2


def test_type_of_string_and_missing_key(r):
    r.set("s", "v")
    assert r.type("s") == b"string"
    assert r.type("nokey") == b"none"


@pytest.mark.parametrize("typ", sorted(MAKERS))
def test_type_names_every_type(r, typ):
    make(r, typ, "k")
    assert r.type("k").decode() == typ


def test_rename_moves_value_and_ttl(r):
    r.set("src", "hello")
    r.expire("src", 100)
    assert r.rename("src", "dst") is True
    assert r.exists("src") == 0
    assert r.get("dst") == b"hello"
    assert 95 <= r.ttl("dst") <= 100


def test_rename_overwrites_destination_and_its_ttl(r):
    r.set("src", "new")
    r.set("dst", "old")
    r.expire("dst", 100)
    r.rename("src", "dst")
    assert r.get("dst") == b"new"
    assert r.ttl("dst") == -1


def test_rename_missing_key_is_an_error(r):
    with pytest.raises(redis.ResponseError, match="^no such key$"):
        r.rename("nokey", "x")
    with pytest.raises(redis.ResponseError, match="^no such key$"):
        r.rename("nokey", "nokey")
    with pytest.raises(redis.ResponseError, match="^no such key$"):
        r.renamenx("nokey", "x")


def test_rename_to_itself(r):
    r.set("k", "v")
    assert r.rename("k", "k") is True
    assert r.renamenx("k", "k") is False
    assert r.get("k") == b"v"


def test_renamenx_refuses_existing_destination(r):
    r.set("a", "1")
    r.set("b", "2")
    assert r.renamenx("a", "b") is False
    assert r.get("a") == b"1" and r.get("b") == b"2"
    assert r.renamenx("a", "c") is True
    assert r.get("c") == b"1" and r.exists("a") == 0


@pytest.mark.parametrize("typ", sorted(MAKERS))
def test_rename_and_copy_keep_every_type(r, typ):
    make(r, typ, "k")
    r.rename("k", "k2")
    assert r.type("k2").decode() == typ
    assert r.copy("k2", "k3") is True
    assert r.type("k3").decode() == typ
    r.delete("k2")  # the copy is deep: it survives its source
    assert r.type("k3").decode() == typ


def test_copy_copies_value_and_ttl(r):
    r.set("a", "v")
    r.pexpire("a", 100000)
    assert r.copy("a", "b") is True
    assert r.get("b") == b"v"
    assert 95000 < r.pttl("b") <= 100000
    r.set("a", "changed")
    assert r.get("b") == b"v"


def test_copy_refuses_existing_destination_unless_replace(r):
    r.set("a", "1")
    r.set("b", "2")
    assert r.copy("a", "b") is False
    assert r.get("b") == b"2"
    assert r.copy("a", "b", replace=True) is True
    assert r.get("b") == b"1"


def test_copy_missing_source_returns_zero(r):
    assert r.copy("nokey", "b") is False
    assert r.exists("b") == 0


def test_copy_to_another_db(r):
    r.set("a", "v")
    assert r.execute_command("COPY", "a", "a", "DB", "3") == 1
    r.execute_command("SELECT", "3")
    try:
        assert r.get("a") == b"v"
    finally:
        r.execute_command("SELECT", "0")


def test_copy_errors(r):
    r.set("a", "v")
    with pytest.raises(redis.ResponseError, match="^source and destination objects are the same$"):
        r.copy("a", "a")
    with pytest.raises(redis.ResponseError, match="^DB index is out of range$"):
        r.execute_command("COPY", "a", "b", "DB", "16")
    with pytest.raises(redis.ResponseError, match="^value is not an integer or out of range$"):
        r.execute_command("COPY", "a", "b", "DB", "x")
    with pytest.raises(redis.ResponseError, match="^syntax error$"):
        r.execute_command("COPY", "a", "b", "FOO")
    with pytest.raises(redis.ResponseError, match="^syntax error$"):
        r.execute_command("COPY", "a", "b", "DB")
    # Another db under the same name is allowed.
    assert r.execute_command("COPY", "a", "a", "DB", "1") == 1


def test_move_moves_key_with_ttl(server, r):
    r.set("k", "v")
    r.expire("k", 100)
    assert r.move("k", 1) is True
    assert r.exists("k") == 0
    r1 = server.client(db=1)
    try:
        assert r1.get("k") == b"v"
        assert 95 <= r1.ttl("k") <= 100
    finally:
        r1.close()


def test_move_refuses_existing_target_and_missing_source(server, r):
    r1 = server.client(db=1)
    try:
        r.set("k", "here")
        r1.set("k", "there")
        assert r.move("k", 1) is False
        assert r.get("k") == b"here" and r1.get("k") == b"there"
        assert r.move("nokey", 1) is False
    finally:
        r1.close()


def test_move_errors(r):
    r.set("k", "v")
    with pytest.raises(redis.ResponseError, match="^source and destination objects are the same$"):
        r.move("k", 0)
    with pytest.raises(redis.ResponseError, match="^DB index is out of range$"):
        r.move("k", 16)
    with pytest.raises(redis.ResponseError, match="^value is not an integer or out of range$"):
        r.move("k", "x")


def test_keys_matches_glob_patterns(r):
    for k in ("hello", "hallo", "hxllo", "world", "h*"):
        r.set(k, 1)
    assert sorted(r.keys("*")) == sorted([b"hello", b"hallo", b"hxllo", b"world", b"h*"])
    assert sorted(r.keys("h?llo")) == [b"hallo", b"hello", b"hxllo"]
    assert sorted(r.keys("h[ae]llo")) == [b"hallo", b"hello"]
    assert r.keys("h\\*") == [b"h*"]
    assert r.keys("nomatch*") == []


def test_keys_and_scan_skip_expired_keys(r):
    r.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0")
    try:
        r.set("live", 1)
        r.set("dead", 1)
        r.pexpire("dead", 1)
        time.sleep(0.05)
        assert r.dbsize() == 2  # still stored: nothing looked at it
        assert r.keys("*") == [b"live"]
        cursor, keys = r.scan(0, count=100)
        assert cursor == 0 and keys == [b"live"]
    finally:
        r.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "1")


def full_scan(r, **kw):
    seen, cursor, calls = [], 0, 0
    while True:
        cursor, keys = r.scan(cursor, **kw)
        seen += keys
        calls += 1
        if cursor == 0:
            return seen, calls


def test_scan_visits_every_key(r):
    for i in range(1000):
        r.set("key:%d" % i, i)
    seen, calls = full_scan(r)
    assert set(seen) == {b"key:%d" % i for i in range(1000)}
    assert calls > 10  # COUNT 10 by default: the iteration really is incremental
    seen, calls2 = full_scan(r, count=500)
    assert set(seen) == {b"key:%d" % i for i in range(1000)}
    assert calls2 < calls


def test_scan_match_filters(r):
    for i in range(200):
        r.set("a:%d" % i, i)
        r.set("b:%d" % i, i)
    seen, _ = full_scan(r, match="a:1*")
    assert set(seen) == {b"a:%d" % i for i in range(200) if str(i).startswith("1")}


def test_scan_type_filters_strings(r):
    r.set("s1", 1)
    r.set("s2", 2)
    seen, _ = full_scan(r, _type="string")
    assert sorted(seen) == [b"s1", b"s2"]
    seen, _ = full_scan(r, _type="STRING")
    assert sorted(seen) == [b"s1", b"s2"]
    assert full_scan(r, _type="hash")[0] == []
    assert full_scan(r, _type="nosuchtype")[0] == []


@pytest.mark.parametrize("typ", sorted(MAKERS))
def test_scan_type_works_for_every_type(r, typ):
    make(r, typ, "want")
    for other in MAKERS:
        if other != typ and has_command(r, MAKERS[other][0]):
            make(r, other, "other-" + other)
    seen, _ = full_scan(r, _type=typ, count=1000)
    assert seen == [b"want"]


def test_scan_errors(r):
    with pytest.raises(redis.ResponseError, match="^invalid cursor$"):
        r.execute_command("SCAN", "x")
    with pytest.raises(redis.ResponseError, match="^syntax error$"):
        r.execute_command("SCAN", "0", "COUNT", "0")
    with pytest.raises(redis.ResponseError, match="^value is not an integer or out of range$"):
        r.execute_command("SCAN", "0", "COUNT", "x")
    with pytest.raises(redis.ResponseError, match="^syntax error$"):
        r.execute_command("SCAN", "0", "MATCH")
    with pytest.raises(redis.ResponseError, match="^syntax error$"):
        r.execute_command("SCAN", "0", "FOO", "bar")


def test_scan_cursor_is_an_unsigned_64_bit_string(r):
    r.set("k", 1)
    # strtoull semantics: "-1" is 2^64-1, a valid (if odd) cursor; the reply cursor is a string.
    cursor, _ = r.execute_command("SCAN", "-1")
    assert cursor == b"0" or int(cursor) >= 0


def test_randomkey(r):
    assert r.randomkey() is None
    for k in ("a", "b", "c"):
        r.set(k, 1)
    got = {r.randomkey() for _ in range(100)}
    assert got <= {b"a", b"b", b"c"} and len(got) >= 2


def test_randomkey_skips_expired_keys(r):
    r.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0")
    try:
        r.set("dead", 1)
        r.pexpire("dead", 1)
        time.sleep(0.05)
        assert r.randomkey() is None
        r.set("live", 1)
        assert r.randomkey() == b"live"
    finally:
        r.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "1")


def test_swapdb_swaps_contents_under_connected_clients(server, r):
    r1 = server.client(db=1)
    try:
        r.set("in0", "zero")
        r1.set("in1", "one")
        assert r.swapdb(0, 1) is True
        assert r.get("in1") == b"one" and r.exists("in0") == 0
        assert r1.get("in0") == b"zero" and r1.exists("in1") == 0
        assert r.swapdb(1, 1) is True
        assert r1.get("in0") == b"zero"
    finally:
        r1.close()


def test_swapdb_errors(r):
    with pytest.raises(redis.ResponseError, match="^invalid first DB index$"):
        r.execute_command("SWAPDB", "x", "1")
    with pytest.raises(redis.ResponseError, match="^invalid second DB index$"):
        r.execute_command("SWAPDB", "1", "x")
    with pytest.raises(redis.ResponseError, match="^DB index is out of range$"):
        r.execute_command("SWAPDB", "0", "16")
    with pytest.raises(redis.ResponseError, match="^DB index is out of range$"):
        r.execute_command("SWAPDB", "-1", "0")


def test_touch_counts_and_is_not_a_change(r):
    r.set("a", 1)
    r.set("b", 1)
    before = dirty(r)
    assert r.touch("a", "b", "nokey", "a") == 3
    assert dirty(r) == before


def test_object_encoding_of_strings(r):
    r.set("i", "12345")
    r.set("e", "x" * 44)
    r.set("w", "x" * 45)
    assert r.object("encoding", "i") == b"int"
    assert r.object("encoding", "e") == b"embstr"
    assert r.object("encoding", "w") == b"raw"
    assert r.object("encoding", "nokey") is None


def test_object_refcount_reports_shared_integers(r):
    r.set("small", "7")
    r.set("big", "123456")
    r.set("text", "abc")
    assert r.object("refcount", "small") == 2147483647
    assert r.object("refcount", "big") == 1
    assert r.object("refcount", "text") == 1
    assert r.object("refcount", "nokey") is None


def test_object_idletime_grows_and_touch_resets_it(r):
    r.set("k", 1)
    r.set("t", 1)
    time.sleep(2.1)
    assert r.object("idletime", "k") >= 2
    assert r.object("idletime", "k") >= 2  # OBJECT itself does not count as an access
    r.touch("t")
    assert r.object("idletime", "t") <= 1
    r.get("k")
    assert r.object("idletime", "k") <= 1


def test_object_freq_needs_an_lfu_policy(r):
    r.set("k", 1)
    with pytest.raises(redis.ResponseError) as e:
        r.object("freq", "k")
    assert str(e.value) == LFU_MSG
    r.config_set("maxmemory-policy", "allkeys-lfu")
    try:
        first = r.object("freq", "k")
        for _ in range(200):
            r.get("k")
        assert r.object("freq", "k") > first
        with pytest.raises(redis.ResponseError, match="^An LFU maxmemory policy is selected, idle time not tracked"):
            r.object("idletime", "k")
    finally:
        r.config_set("maxmemory-policy", "noeviction")


def test_object_help_and_unknown_subcommand(server, r):
    raw = server.raw()
    lines = [l.encode() for l in raw.call("OBJECT", "HELP")]
    raw.close()
    assert lines[0].startswith(b"OBJECT <subcommand>")
    assert any(l.startswith(b"ENCODING") for l in lines)
    assert any(l.startswith(b"FREQ") for l in lines)
    with pytest.raises(redis.ResponseError, match="^unknown subcommand 'FOO'. Try OBJECT HELP.$"):
        r.execute_command("OBJECT", "FOO", "k")


def test_command_info_describes_key_commands(server):
    raw = server.raw()
    info = raw.call("COMMAND", "INFO", "rename", "touch", "object|encoding", "swapdb")
    raw.close()
    rename, touch, objenc, swapdb = info
    assert rename[1] == 3 and "write" in rename[2] and rename[3:6] == [1, 2, 1]
    assert "readonly" in touch[2] and touch[1] == -2
    assert objenc[0] == b"object|encoding" and objenc[3:6] == [2, 2, 1]
    assert swapdb[3:6] == [0, 0, 0]


def events(server, pattern, action):
    """Run action() and return the keyspace events it produced (event, key) in order."""
    admin = server.client()
    admin.config_set("notify-keyspace-events", "KEA")
    p = server.client().pubsub()
    try:
        p.psubscribe(pattern)
        assert p.get_message(timeout=2)["type"] == "psubscribe"
        action()
        out = []
        while True:
            m = p.get_message(timeout=0.3)
            if m is None:
                return out
            out.append((m["channel"].split(b":", 1)[1], m["data"]))
    finally:
        p.close()
        admin.config_set("notify-keyspace-events", "")
        admin.close()


def test_keyspace_events_of_rename_move_copy(server, r):
    r.set("a", 1)

    def act():
        r.rename("a", "b")
        r.copy("b", "c")
        r.move("c", 2)
        r.delete("b")

    got = events(server, "__keyevent@*__:*", act)
    assert got == [(b"rename_from", b"a"), (b"rename_to", b"b"), (b"copy_to", b"c"),
                   (b"move_from", b"c"), (b"move_to", b"c"), (b"del", b"b")]

"""Pub/Sub: channels, patterns, shard channels, RESP2 subscriber mode, RESP3 pushes, PUBSUB
introspection, RESET, and keyspace notifications."""
import pytest

from keel_harness import Push, RespError, wait_for


@pytest.fixture
def conns(server):
    opened = []

    def make(resp=2):
        c = server.raw(resp=resp)
        opened.append(c)
        return c

    yield make
    for c in opened:
        c.close()


def test_subscribe_confirms_each_channel_with_running_count(conns):
    s = conns()
    s.send_cmd("SUBSCRIBE", "a", "b", "a")
    assert s.read() == [b"subscribe", b"a", 1]
    assert s.read() == [b"subscribe", b"b", 2]
    assert s.read() == [b"subscribe", b"a", 2]


def test_publish_reaches_channel_and_pattern_subscribers(conns):
    s, p, pub = conns(), conns(), conns()
    s.call("SUBSCRIBE", "news.tech")
    p.call("PSUBSCRIBE", "news.*")
    assert pub.call("PUBLISH", "news.tech", "hello") == 2
    assert s.read() == [b"message", b"news.tech", b"hello"]
    assert p.read() == [b"pmessage", b"news.*", b"news.tech", b"hello"]
    assert pub.call("PUBLISH", "news.sport", "x") == 1
    assert p.read() == [b"pmessage", b"news.*", b"news.sport", b"x"]
    assert pub.call("PUBLISH", "other", "x") == 0


def test_resp2_subscriber_mode_refuses_other_commands(conns):
    s = conns()
    s.call("SUBSCRIBE", "c")
    err = s.call("GET", "k")
    assert isinstance(err, RespError) and "only (P|S)SUBSCRIBE" in str(err)
    assert s.call("PING") == [b"pong", b""]
    assert s.call("UNSUBSCRIBE") == [b"unsubscribe", b"c", 0]
    assert s.call("PING") == "PONG"  # out of subscriber mode


def test_unsubscribe_without_subscriptions_is_nosub_as_valkey_8(conns):
    for resp in (2, 3):
        s = conns(resp=resp)
        for cmd in ("UNSUBSCRIBE", "PUNSUBSCRIBE", "SUNSUBSCRIBE"):
            err = s.call(cmd)
            assert isinstance(err, RespError), err
            assert str(err) == "NOSUB '%s' command executed not in subscribed mode" % cmd.lower()
    # subscribed to a channel only: PUNSUBSCRIBE answers as usual (no pattern, 1 subscription)
    s = conns()
    s.call("SUBSCRIBE", "c")
    assert s.call("PUNSUBSCRIBE") == [b"punsubscribe", None, 1]


def test_resp3_pushes_and_normal_commands_allowed(conns):
    s, pub = conns(resp=3), conns()
    r = s.call("SUBSCRIBE", "ch")
    assert isinstance(r, Push) and r == [b"subscribe", b"ch", 1]
    assert s.call("SET", "k", "v") == "OK"
    assert s.call("GET", "k") == b"v"
    pub.call("PUBLISH", "ch", "m")
    msg = s.read()
    assert isinstance(msg, Push) and msg == [b"message", b"ch", b"m"]


def test_pubsub_introspection(conns):
    a, b, q = conns(), conns(), conns()
    a.call("SUBSCRIBE", "c1")
    a.call("SUBSCRIBE", "c2")
    b.call("SUBSCRIBE", "c1")
    b.call("PSUBSCRIBE", "p*")
    b.call("SSUBSCRIBE", "s1")
    assert sorted(q.call("PUBSUB", "CHANNELS")) == [b"c1", b"c2"]
    assert q.call("PUBSUB", "CHANNELS", "*2") == [b"c2"]
    assert q.call("PUBSUB", "NUMSUB", "c1", "c2", "zz") == [b"c1", 2, b"c2", 1, b"zz", 0]
    assert q.call("PUBSUB", "NUMPAT") == 1
    assert q.call("PUBSUB", "SHARDCHANNELS") == [b"s1"]
    assert q.call("PUBSUB", "SHARDNUMSUB", "s1") == [b"s1", 1]
    a.close()  # disconnect removes every subscription of the client (once the server sees it)
    wait_for(lambda: q.call("PUBSUB", "NUMSUB", "c1", "c2") == [b"c1", 1, b"c2", 0],
             what="the closed client's subscriptions to go")
    assert q.call("PUBSUB", "CHANNELS") == [b"c1"]


def test_shard_channels_are_separate_from_channels(conns):
    s, c, pub = conns(), conns(), conns()
    assert s.call("SSUBSCRIBE", "x") == [b"ssubscribe", b"x", 1]
    c.call("SUBSCRIBE", "x")
    assert pub.call("SPUBLISH", "x", "m") == 1
    assert s.read() == [b"smessage", b"x", b"m"]
    assert pub.call("PUBLISH", "x", "n") == 1
    assert c.read() == [b"message", b"x", b"n"]
    assert s.call("SUNSUBSCRIBE") == [b"sunsubscribe", b"x", 0]


def test_punsubscribe_one_pattern_keeps_the_others(conns):
    s, pub = conns(), conns()
    s.send_cmd("PSUBSCRIBE", "a*", "b*")
    s.read(), s.read()
    assert s.call("PUNSUBSCRIBE", "a*") == [b"punsubscribe", b"a*", 1]
    assert pub.call("PUBLISH", "abc", "m") == 0
    assert pub.call("PUBLISH", "bcd", "m") == 1
    assert s.read() == [b"pmessage", b"b*", b"bcd", b"m"]


def test_reset_unsubscribes_everything(conns):
    s, q = conns(), conns()
    s.call("SUBSCRIBE", "r1")
    s.call("PSUBSCRIBE", "r*")
    assert s.call("RESET") == "RESET"
    assert q.call("PUBSUB", "NUMSUB", "r1") == [b"r1", 0]
    assert q.call("PUBSUB", "NUMPAT") == 0
    assert s.call("GET", "nothing") is None


def test_client_list_shows_pubsub_client(server, conns):
    s, q = conns(), conns()
    s.call("SUBSCRIBE", "z")
    listing = q.call("CLIENT", "LIST", "TYPE", "pubsub")
    assert listing.count(b"\n") == 1 and b"flags=P" in listing


def test_keyspace_notifications(server, conns):
    cfg = conns()
    assert cfg.call("CONFIG", "SET", "notify-keyspace-events", "KEA") == "OK"
    try:
        s = conns()
        s.send_cmd("PSUBSCRIBE", "__key*@0__:*")
        assert s.read()[0] == b"psubscribe"
        cfg.call("PFADD", "kn", "v")
        got = {tuple(s.read()[2:]) for _ in range(2)}
        assert got == {(b"__keyspace@0__:kn", b"pfadd"), (b"__keyevent@0__:pfadd", b"kn")}
        cfg.call("SETBIT", "kb", 3, 1)
        got = {tuple(s.read()[2:]) for _ in range(2)}
        assert got == {(b"__keyspace@0__:kb", b"setbit"), (b"__keyevent@0__:setbit", b"kb")}
    finally:
        cfg.call("CONFIG", "SET", "notify-keyspace-events", "")


def test_keyspace_notifications_respect_classes(server, conns):
    cfg = conns()
    cfg.call("CONFIG", "SET", "notify-keyspace-events", "Eg")  # generic events only
    try:
        s = conns()
        s.call("SUBSCRIBE", "__keyevent@0__:setbit", "__keyevent@0__:del")
        s.read()
        cfg.call("SETBIT", "x", 1, 1)  # a string event: not sent
        cfg.call("DEL", "x")
        assert s.read() == [b"message", b"__keyevent@0__:del", b"x"]
    finally:
        cfg.call("CONFIG", "SET", "notify-keyspace-events", "")


def test_redis_py_pubsub_round_trip(r):
    p = r.pubsub()
    p.subscribe("rp")
    assert p.get_message(timeout=2)["type"] == "subscribe"
    assert r.publish("rp", "data") == 1
    m = p.get_message(timeout=2)
    assert m["type"] == "message" and m["data"] == b"data"
    p.close()


def test_new_key_events_class_n(conns, server):
    s, w = conns(), conns()
    w.call("CONFIG", "SET", "notify-keyspace-events", "En$")
    try:
        s.call("SUBSCRIBE", "__keyevent@0__:new")
        s.call("SUBSCRIBE", "__keyevent@0__:set")
        w.call("DEL", "nk")
        w.call("SET", "nk", "1")  # new key: "new" before "set", as Valkey sends them
        assert s.read() == [b"message", b"__keyevent@0__:new", b"nk"]
        assert s.read() == [b"message", b"__keyevent@0__:set", b"nk"]
        w.call("SET", "nk", "2")  # an overwrite is not new
        assert s.read() == [b"message", b"__keyevent@0__:set", b"nk"]
        w.call("RPUSH", "nl", "x")  # any type: the key is new
        w.call("SET", "nk", "3")
        assert s.read() == [b"message", b"__keyevent@0__:new", b"nl"]
        assert s.read() == [b"message", b"__keyevent@0__:set", b"nk"]
        w.call("CONFIG", "SET", "notify-keyspace-events", "E$")  # without n: no more "new"
        w.call("SET", "nk2", "1")
        assert s.read() == [b"message", b"__keyevent@0__:set", b"nk2"]
    finally:
        w.call("CONFIG", "SET", "notify-keyspace-events", "")
        w.call("DEL", "nk", "nl", "nk2")

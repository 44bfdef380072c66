"""The helpers in server/commands/cmd_util.c, seen through every group that uses them: each
group must keep the statistics, events and errors it had before the copies were merged."""
import pytest


def stats(r):
    info = r.info("stats")
    return info["keyspace_hits"], info["keyspace_misses"]


def keymiss_events(server, action):
    """The keys of the "keymiss" events action() produced."""
    admin = server.client()
    admin.config_set("notify-keyspace-events", "Em")
    p = server.client().pubsub()
    try:
        p.psubscribe("__keyevent@*__:keymiss")
        assert p.get_message(timeout=2)["type"] == "psubscribe"
        action()
        out = []
        while True:
            m = p.get_message(timeout=0.3)
            if m is None:
                return out
            out.append(m["data"])
    finally:
        p.close()
        admin.config_set("notify-keyspace-events", "")
        admin.close()


# ---- read lookups: strings and lists (cmd_lookup_read) -------------------------------------------


def test_list_and_string_reads_count_hits_misses_and_send_keymiss(server, r):
    r.rpush("l", "a", "b")
    r.set("s", "v")
    h0, m0 = stats(r)

    def act():
        assert r.llen("l") == 2
        assert r.lrange("nol", 0, -1) == []
        assert r.get("s") == b"v"
        assert r.strlen("nos") == 0

    assert keymiss_events(server, act) == [b"nol", b"nos"]
    h1, m1 = stats(r)
    assert (h1 - h0, m1 - m0) == (2, 2)


def test_list_write_lookup_counts_nothing(r):
    h0, m0 = stats(r)
    r.rpush("l", "a")
    r.lpop("nol")
    assert stats(r) == (h0, m0)

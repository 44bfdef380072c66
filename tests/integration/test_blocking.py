"""Blocking list commands against the real server: timeouts, wake-ups, fairness, cleanup.

Each blocked client is a raw connection that sends its command and reads later; the tests wait
until INFO reports the client as blocked before acting, so the order of arrival is certain.
"""
import socket
import time

import pytest
import redis

from keel_harness import RespError


def blocked_count(r):
    return int(r.info("clients")["blocked_clients"])


def wait_blocked(r, n, timeout=5):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if blocked_count(r) == n:
            return
        time.sleep(0.005)
    raise AssertionError("expected %d blocked clients, have %d" % (n, blocked_count(r)))


def block(server, r, *args, resp=2, n=None):
    """Sends a blocking command on a new connection and waits until it is blocked."""
    before = blocked_count(r)
    c = server.raw(resp)
    c.send_cmd(*args)
    wait_blocked(r, before + 1 if n is None else n)
    return c


def has_reply(c, wait=0.05):
    """Whether any reply bytes arrived on a raw connection (without consuming them)."""
    if c.buf:
        return True
    c.sock.settimeout(wait)
    try:
        chunk = c.sock.recv(65536)
        if not chunk:
            return True
        c.buf += chunk
        return True
    except socket.timeout:
        return False
    finally:
        c.sock.settimeout(30)


# ---- without blocking ------------------------------------------------------------------------

def test_data_present_serves_at_once(r):
    r.rpush("b", "1", "2")
    assert r.blpop(["a", "b"], 0) == (b"b", b"1")
    assert r.brpop(["a", "b"], 0) == (b"b", b"2")
    assert not r.exists("b")
    r.rpush("s", "x")
    assert r.blmove("s", "d", 0, "LEFT", "RIGHT") == b"x"
    r.rpush("s", "y")
    assert r.brpoplpush("s", "d", 0) == b"y"
    assert r.lrange("d", 0, -1) == [b"y", b"x"]
    r.rpush("m", *"abc")
    assert r.execute_command("BLMPOP", 0, 2, "x", "m", "RIGHT", "COUNT", 2) == [b"m", [b"c", b"b"]]


def test_first_key_in_order_wins(r):
    r.rpush("k1", "one")
    r.rpush("k2", "two")
    assert r.blpop(["k2", "k1"], 0) == (b"k2", b"two")


# ---- timeouts --------------------------------------------------------------------------------

def test_short_timeout_replies_nil(r, server):
    for args, nil in ((("BLPOP", "q", "0.1"), b"*-1"), (("BRPOP", "q", "q2", "0.1"), b"*-1"),
                      (("BLMOVE", "q", "d", "LEFT", "LEFT", "0.1"), b"$-1"),
                      (("BRPOPLPUSH", "q", "d", "0.1"), b"$-1"),
                      (("BLMPOP", "0.1", "1", "q", "LEFT"), b"*-1")):
        c = server.raw()
        t0 = time.time()
        c.send_cmd(*args)
        assert c._line() == nil, args
        took = time.time() - t0
        assert 0.09 <= took < 0.6, (args, took)
        c.close()
    assert blocked_count(r) == 0


def test_timeout_resp3_is_null(server):
    c = server.raw(3)
    c.send_cmd("BLPOP", "q", "0.05")
    assert c._line() == b"_"
    c.send_cmd("BLMOVE", "q", "d", "LEFT", "LEFT", "0.05")
    assert c._line() == b"_"
    c.close()


def test_timeout_errors(r):
    for bad in ("-1", "-0.5"):
        with pytest.raises(redis.ResponseError, match="^timeout is negative$"):
            r.execute_command("BLPOP", "q", bad)
    for bad in ("abc", "1x", "", "nan"):
        with pytest.raises(redis.ResponseError, match="^timeout is not a float or out of range$"):
            r.execute_command("BLPOP", "q", bad)
    for bad in ("inf", "1e300"):
        with pytest.raises(redis.ResponseError, match="^timeout is out of range$"):
            r.execute_command("BRPOPLPUSH", "q", "d", bad)
    with pytest.raises(redis.ResponseError, match="^timeout is negative$"):
        r.execute_command("BLMPOP", "-1", "1", "q", "LEFT")
    # BLMPOP checks its other arguments first, as Valkey does
    with pytest.raises(redis.ResponseError, match="^numkeys should be greater than 0$"):
        r.execute_command("BLMPOP", "-1", "0", "q", "LEFT")
    assert blocked_count(r) == 0


def test_timeout_zero_waits_forever_until_data(r, server):
    c = block(server, r, "BLPOP", "q", "0")
    time.sleep(0.3)
    assert not has_reply(c)
    r.rpush("q", "late")
    assert c.read() == [b"q", b"late"]
    c.close()


# ---- wake-ups --------------------------------------------------------------------------------

def test_wake_by_push_from_other_client(r, server):
    c = block(server, r, "BRPOP", "a", "b", "5")
    assert r.lpush("b", "x", "y") == 2
    assert c.read() == [b"b", b"x"]  # BRPOP takes the tail
    assert r.lrange("b", 0, -1) == [b"y"]
    assert blocked_count(r) == 0
    c.close()


def test_wake_by_each_push_command(r, server):
    pushes = (lambda: r.rpush("q", "v"), lambda: r.lpush("q", "v"),
              lambda: r.lmove("src", "q", "LEFT", "LEFT"), lambda: r.rpoplpush("src", "q"))
    for push in pushes:
        r.rpush("src", "v")
        c = block(server, r, "BLPOP", "q", "5")
        push()
        assert c.read() == [b"q", b"v"]
        assert not r.exists("q")
        r.delete("src")
        c.close()


def test_wake_by_rename_and_copy(r, server):
    c = block(server, r, "BLPOP", "q", "5")
    r.rpush("tmp", "renamed")
    r.rename("tmp", "q")
    assert c.read() == [b"q", b"renamed"]
    c.close()
    c = block(server, r, "BLPOP", "q2", "5")
    r.rpush("orig", "copied")
    r.copy("orig", "q2")
    assert c.read() == [b"q2", b"copied"]
    assert r.lrange("orig", 0, -1) == [b"copied"]
    c.close()


def test_wake_by_swapdb(r, server):
    c = block(server, r, "BLPOP", "q", "5")
    r.execute_command("SELECT", 1)
    r.rpush("q", "from-db1")
    r.execute_command("SWAPDB", 0, 1)
    r.execute_command("SELECT", 0)
    assert c.read() == [b"q", b"from-db1"]
    c.close()


def test_wrong_type_does_not_wake(r, server):
    c = block(server, r, "BLPOP", "q", "5")
    r.set("q", "string")
    assert not has_reply(c, 0.1)
    assert blocked_count(r) == 1
    r.delete("q")
    r.rpush("q", "now")
    assert c.read() == [b"q", b"now"]
    c.close()


def test_served_before_the_pushers_next_command(r, server):
    """LPUSH + LPOP pipelined by the pusher: the waiter gets the element in between."""
    c = block(server, r, "BLPOP", "q", "5")
    p = r.pipeline(transaction=False)
    p.lpush("q", "x")
    p.lpop("q")
    assert p.execute() == [1, None]
    assert c.read() == [b"q", b"x"]
    c.close()


def test_wake_by_multi_exec_after_exec(r, server):
    c = block(server, r, "BLPOP", "q", "5")
    p = r.pipeline(transaction=True)
    p.rpush("q", "a", "b")
    p.lpop("q")  # inside the transaction the waiter is not served yet
    p.llen("q")
    assert p.execute() == [2, b"a", 1]
    assert c.read() == [b"q", b"b"]
    assert not r.exists("q")
    c.close()


def test_multi_exec_that_empties_the_list_leaves_waiter_blocked(r, server):
    c = block(server, r, "BLPOP", "q", "5")
    p = r.pipeline(transaction=True)
    p.rpush("q", "a")
    p.delete("q")
    p.execute()
    assert not has_reply(c, 0.1)
    assert blocked_count(r) == 1
    r.rpush("q", "z")
    assert c.read() == [b"q", b"z"]
    c.close()


def test_blocking_inside_multi_does_not_block(r, server):
    c = server.raw()
    assert c.call("MULTI") == "OK"
    assert c.call("BLPOP", "q", "0") == "QUEUED"
    assert c.call("BLMOVE", "q", "d", "LEFT", "LEFT", "0") == "QUEUED"
    assert c.call("BLMPOP", "0", "1", "q", "LEFT") == "QUEUED"
    assert c.call("EXEC") == [None, None, None]
    assert blocked_count(r) == 0
    c.close()


# ---- fairness --------------------------------------------------------------------------------

def test_fifo_among_waiters(r, server):
    cs = [block(server, r, "BLPOP", "q", "5") for _ in range(4)]
    r.rpush("q", "1", "2", "3")
    assert [c.read() for c in cs[:3]] == [[b"q", b"1"], [b"q", b"2"], [b"q", b"3"]]
    assert blocked_count(r) == 1
    r.rpush("q", "4")
    assert cs[3].read() == [b"q", b"4"]
    for c in cs:
        c.close()


def test_fifo_across_keys_and_commands(r, server):
    c1 = block(server, r, "BLPOP", "x", "q", "5")
    c2 = block(server, r, "BLMPOP", "5", "1", "q", "RIGHT", "COUNT", "10")
    c3 = block(server, r, "BRPOPLPUSH", "q", "out", "5")
    r.rpush("q", "a", "b", "c", "d")
    assert c1.read() == [b"q", b"a"]
    assert c2.read() == [b"q", [b"d", b"c", b"b"]]
    assert not has_reply(c3, 0.1)  # nothing left for it
    r.rpush("q", "e")
    assert c3.read() == b"e"
    assert r.lrange("out", 0, -1) == [b"e"]
    for c in (c1, c2, c3):
        c.close()


def test_blmove_into_a_list_others_wait_on(r, server):
    c1 = block(server, r, "BLPOP", "dst", "5")
    c2 = block(server, r, "BLMOVE", "src", "dst", "LEFT", "RIGHT", "5")
    r.rpush("src", "x")
    assert c2.read() == b"x"
    assert c1.read() == [b"dst", b"x"]  # the moved element woke the first waiter
    assert not r.exists("src")
    assert not r.exists("dst")
    c1.close()
    c2.close()


def test_chain_of_blmoves(r, server):
    c1 = block(server, r, "BLMOVE", "a", "b", "LEFT", "LEFT", "5")
    c2 = block(server, r, "BLMOVE", "b", "c", "LEFT", "LEFT", "5")
    c3 = block(server, r, "BLPOP", "c", "5")
    r.rpush("a", "hop")
    assert c1.read() == b"hop"
    assert c2.read() == b"hop"
    assert c3.read() == [b"c", b"hop"]
    assert r.keys("*") == []
    for c in (c1, c2, c3):
        c.close()


def test_same_key_twice_is_one_wait(r, server):
    c = block(server, r, "BLPOP", "q", "q", "q", "5")
    r.rpush("q", "1", "2")
    assert c.read() == [b"q", b"1"]
    assert r.lrange("q", 0, -1) == [b"2"]
    c.close()


# ---- cleanup ---------------------------------------------------------------------------------

def test_killed_client_loses_nothing(r, server):
    c = block(server, r, "BLPOP", "q", "0")
    cid = None
    for cl in r.client_list():
        if "b" in cl["flags"]:
            cid = cl["id"]
    assert cid is not None
    assert r.client_kill_filter(_id=cid) == 1
    wait_blocked(r, 0)
    r.rpush("q", "kept")
    assert r.lrange("q", 0, -1) == [b"kept"]
    c.close()


def test_disconnected_client_loses_nothing(r, server):
    c = block(server, r, "BRPOP", "q", "0")
    c.close()
    wait_blocked(r, 0)
    r.rpush("q", "kept")
    assert r.lrange("q", 0, -1) == [b"kept"]


def test_pipelined_input_runs_after_unblock(r, server):
    c = server.raw()
    c.send(b"*3\r\n$5\r\nBLPOP\r\n$1\r\nq\r\n$1\r\n5\r\n*1\r\n$4\r\nPING\r\n"
           b"*2\r\n$4\r\nLLEN\r\n$1\r\nq\r\n")
    wait_blocked(r, 1)
    assert not has_reply(c, 0.1)
    r.rpush("q", "a", "b")
    assert c.read() == [b"q", b"a"]
    assert c.read() == "PONG"
    assert c.read() == 1
    c.close()


def test_pipelined_input_runs_after_timeout(r, server):
    c = server.raw()
    c.send(b"*3\r\n$5\r\nBLPOP\r\n$1\r\nq\r\n$4\r\n0.05\r\n*1\r\n$4\r\nPING\r\n")
    assert c.read() is None
    assert c.read() == "PONG"
    c.close()


def test_many_waiters_with_deadlines_expire_in_order(r, server):
    cs = []
    # Deadlines 300 ms apart, so no two can fall in the same turn of the event loop.
    for i, t in enumerate(("1.0", "0.1", "0.7", "0.4")):
        cs.append((t, block(server, r, "BLPOP", "q%d" % i, t)))
    t0 = time.time()
    order = []
    pending = list(cs)
    while pending and time.time() - t0 < 3:
        for item in list(pending):
            if has_reply(item[1], 0.005):
                assert item[1].read() is None
                order.append(item[0])
                pending.remove(item)
    assert order == ["0.1", "0.4", "0.7", "1.0"]
    assert blocked_count(r) == 0
    for _, c in cs:
        c.close()


def test_blocked_client_shows_in_client_list_and_info(r, server):
    c = block(server, r, "BLPOP", "q", "5")
    flags = [cl["flags"] for cl in r.client_list()]
    assert any("b" in f for f in flags)
    assert blocked_count(r) == 1
    r.rpush("q", "x")
    c.read()
    assert blocked_count(r) == 0
    c.close()


def test_client_unblock_timeout_and_error(server):
    import threading
    import time as _t
    import redis as _redis
    admin = server.client()
    admin.delete("ub:list")
    waiter = server.client()
    wid = waiter.client_id()
    out = {}

    def run():
        try:
            out["r"] = waiter.blpop("ub:list", timeout=10)
        except _redis.ResponseError as e:
            out["e"] = str(e)
    t = threading.Thread(target=run)
    t.start()
    for _ in range(200):
        if admin.info("clients")["blocked_clients"] >= 1:
            break
        _t.sleep(0.01)
    assert admin.execute_command("CLIENT", "UNBLOCK", wid) == 1
    t.join(5)
    assert out == {"r": None}
    assert admin.execute_command("CLIENT", "UNBLOCK", wid) == 0  # not blocked any more
    t = threading.Thread(target=run)
    t.start()
    for _ in range(200):
        if admin.info("clients")["blocked_clients"] >= 1:
            break
        _t.sleep(0.01)
    assert admin.execute_command("CLIENT", "UNBLOCK", wid, "ERROR") == 1
    t.join(5)
    assert out["e"].startswith("UNBLOCKED")


def test_short_timeout_is_precise(server):
    import time as _t
    c = server.client()
    c.delete("prec:list")
    samples = []
    for _ in range(5):
        t0 = _t.time()
        assert c.blpop("prec:list", timeout=0.05) is None
        samples.append(_t.time() - t0)
    samples.sort()
    # Served at the deadline, not at the next 100 ms cron tick.
    assert samples[2] < 0.09, samples

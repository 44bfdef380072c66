"""MULTI/EXEC/DISCARD and WATCH: queued errors, runtime errors, optimistic locking on change by
another client, on expiry, on FLUSHALL/FLUSHDB and SWAPDB."""
import time

import pytest

from keel_harness import RespError


@pytest.fixture
def c(server, r):
    conn = server.raw()
    yield conn
    conn.close()


@pytest.fixture
def other(server):
    conn = server.raw()
    yield conn
    conn.close()


def test_multi_exec_runs_queued_commands_in_order(c):
    assert c.call("MULTI") == "OK"
    assert c.call("SET", "a", "1") == "QUEUED"
    assert c.call("INCR", "a") == "QUEUED"
    assert c.call("GET", "a") == "QUEUED"
    assert c.call("EXEC") == ["OK", 2, b"2"]


def test_queueing_error_aborts_exec(c):
    c.call("MULTI")
    c.call("SET", "a", "1")
    err = c.call("SET", "a")  # wrong arity: refused at queue time
    assert isinstance(err, RespError)
    assert isinstance(c.call("NOSUCHCOMMAND"), RespError)
    res = c.call("EXEC")
    assert isinstance(res, RespError) and str(res).startswith("EXECABORT")
    assert c.call("GET", "a") is None


def test_runtime_error_does_not_abort_the_rest(c):
    c.call("SET", "s", "text")
    c.call("MULTI")
    c.call("INCR", "s")
    c.call("SET", "b", "2")
    res = c.call("EXEC")
    assert isinstance(res[0], RespError) and "not an integer" in str(res[0])
    assert res[1] == "OK"
    assert c.call("GET", "b") == b"2"


def test_discard_drops_the_queue(c):
    c.call("MULTI")
    c.call("SET", "d", "1")
    assert c.call("DISCARD") == "OK"
    assert c.call("GET", "d") is None
    assert str(c.call("DISCARD")) == "ERR DISCARD without MULTI"
    assert str(c.call("EXEC")) == "ERR EXEC without MULTI"


def test_nested_multi_is_refused_and_aborts_the_transaction(c):
    # Valkey 8: MULTI is no-multi, so a nested one is refused and EXEC discards the transaction
    c.call("MULTI")
    assert str(c.call("MULTI")) == "ERR Command not allowed inside a transaction"
    assert c.call("SET", "n", "1") == "QUEUED"
    assert str(c.call("EXEC")).startswith("EXECABORT")
    assert c.call("GET", "n") is None


def test_watch_inside_multi_is_refused_and_aborts_the_transaction(c):
    c.call("MULTI")
    assert str(c.call("WATCH", "k")) == "ERR Command not allowed inside a transaction"
    assert str(c.call("EXEC")).startswith("EXECABORT")


def test_watch_unchanged_key_lets_exec_run(c):
    c.call("SET", "w", "1")
    assert c.call("WATCH", "w") == "OK"
    c.call("MULTI")
    c.call("SET", "w", "2")
    assert c.call("EXEC") == ["OK"]


def test_watch_aborts_on_change_by_another_client(c, other):
    c.call("SET", "w", "1")
    c.call("WATCH", "w")
    other.call("SET", "w", "2")
    c.call("MULTI")
    c.call("SET", "w", "3")
    assert c.call("EXEC") is None
    assert c.call("GET", "w") == b"2"


def test_watch_aborts_when_missing_key_is_created(c, other):
    c.call("WATCH", "fresh")
    other.call("SETBIT", "fresh", 0, 1)
    c.call("MULTI")
    c.call("SET", "fresh", "x")
    assert c.call("EXEC") is None


def test_exec_forgets_watched_keys(c, other):
    c.call("WATCH", "w")
    c.call("MULTI")
    c.call("GET", "w")
    c.call("EXEC")
    other.call("SET", "w", "later")  # after EXEC: must not poison the next transaction
    c.call("MULTI")
    c.call("GET", "w")
    assert c.call("EXEC") == [b"later"]


def test_unwatch_forgets_changes(c, other):
    c.call("WATCH", "w")
    other.call("SET", "w", "1")
    assert c.call("UNWATCH") == "OK"
    c.call("MULTI")
    c.call("GET", "w")
    assert c.call("EXEC") == [b"1"]


def test_watch_aborts_on_expiry_before_exec(c):
    # Active expiry off so that only the check at EXEC time can see the key expired.
    assert c.call("DEBUG", "SET-ACTIVE-EXPIRE", "0") == "OK"
    try:
        c.call("PSETEX", "e", "100", "v")
        c.call("WATCH", "e")
        time.sleep(0.25)
        c.call("MULTI")
        c.call("SET", "other", "1")
        assert c.call("EXEC") is None
    finally:
        c.call("DEBUG", "SET-ACTIVE-EXPIRE", "1")


def test_watch_of_already_expired_key_does_not_abort(c):
    c.call("DEBUG", "SET-ACTIVE-EXPIRE", "0")
    try:
        c.call("PSETEX", "gone", "10", "v")
        time.sleep(0.05)
        c.call("WATCH", "gone")  # logically absent already
        c.call("MULTI")
        c.call("GET", "gone")  # lazily deletes it: no change for this client
        assert c.call("EXEC") == [None]
    finally:
        c.call("DEBUG", "SET-ACTIVE-EXPIRE", "1")


def test_watch_aborts_on_flushall(c, other):
    c.call("SET", "f", "1")
    c.call("WATCH", "f")
    other.call("FLUSHALL")
    c.call("MULTI")
    c.call("SET", "f", "2")
    assert c.call("EXEC") is None


def test_watch_aborts_on_flushdb_of_its_db_only(c, other):
    c.call("SET", "f", "1")
    c.call("WATCH", "f")
    other.call("SELECT", "5")
    other.call("FLUSHDB")  # another db: no effect
    c.call("MULTI")
    c.call("GET", "f")
    assert c.call("EXEC") == [b"1"]
    c.call("WATCH", "f")
    other.call("SELECT", "0")
    other.call("FLUSHDB")
    c.call("MULTI")
    c.call("GET", "f")
    assert c.call("EXEC") is None


def test_watch_aborts_on_swapdb(c, other):
    c.call("SET", "sw", "1")
    c.call("WATCH", "sw")
    other.call("SWAPDB", "0", "1")
    c.call("MULTI")
    c.call("GET", "sw")
    assert c.call("EXEC") is None
    other.call("SWAPDB", "0", "1")


def test_flushall_and_swapdb_leave_watched_keys_that_do_not_exist_alone(c, other):
    # Valkey's rule: a flush or swap changes a watched key only if it exists in the db emptied
    # or in the db taking its place
    other.call("FLUSHALL")
    c.call("WATCH", "absent")
    other.call("SET", "elsewhere", "1")
    other.call("FLUSHALL")  # "absent" never existed: no change
    c.call("MULTI")
    c.call("PING")
    assert c.call("EXEC") == ["PONG"]
    c.call("WATCH", "absent")
    other.call("SWAPDB", "0", "1")  # absent in both dbs: no change
    c.call("MULTI")
    c.call("PING")
    assert c.call("EXEC") == ["PONG"]
    other.call("SELECT", "1")
    other.call("SET", "absent", "x")  # now present in db 1: swapping it in is a change
    c.call("WATCH", "absent")
    other.call("SWAPDB", "0", "1")
    c.call("MULTI")
    c.call("PING")
    assert c.call("EXEC") is None
    other.call("FLUSHALL")


def test_info_counts_watching_clients(c, other):
    c.call("WATCH", "a", "b")
    info = other.call("INFO", "clients")
    assert b"watching_clients:1" in info
    c.call("UNWATCH")
    assert b"watching_clients:0" in other.call("INFO", "clients")


def test_resp3_pushes_to_self_follow_the_reply_even_inside_exec(server):
    conn = server.raw(resp=3)
    try:
        conn.call("SUBSCRIBE", "selfch")
        assert conn.call("PUBLISH", "selfch", "hi") == 1  # the count first, then the push
        assert conn.read() == [b"message", b"selfch", b"hi"]
        conn.call("MULTI")
        conn.call("PUBLISH", "selfch", "a")
        conn.call("SET", "pk", "v")
        conn.call("PUBLISH", "selfch", "b")
        assert conn.call("EXEC") == [1, "OK", 1]  # the whole array, no push inside it
        assert conn.read() == [b"message", b"selfch", b"a"]
        assert conn.read() == [b"message", b"selfch", b"b"]
        assert conn.call("PING") == "PONG"
    finally:
        conn.close()


def test_resp3_pushes_to_self_from_a_script_follow_the_eval_reply(server):
    conn = server.raw(resp=3)
    try:
        conn.call("SUBSCRIBE", "selfch2")
        # The script's PUBLISH runs on the script's own client, for the caller's channel.
        assert conn.call("EVAL", "redis.call('publish', 'selfch2', 'x') "
                         "redis.call('publish', 'selfch2', 'y') return 7", "0") == 7
        assert conn.read() == [b"message", b"selfch2", b"x"]
        assert conn.read() == [b"message", b"selfch2", b"y"]
        assert conn.call("PING") == "PONG"
    finally:
        conn.close()


def test_watch_with_redis_py_transaction_retry(r):
    r.set("counter", 0)
    with r.pipeline() as p:
        p.watch("counter")
        v = int(p.get("counter"))
        r.set("counter", 100)  # concurrent change
        p.multi()
        p.set("counter", v + 1)
        with pytest.raises(Exception):
            p.execute()
    assert r.get("counter") == b"100"


def test_multi_queue_is_bounded_by_the_query_buffer_limit(server):
    import redis as _redis
    c = server.client()
    c.config_set("client-query-buffer-limit", "1mb")
    try:
        p = c.pipeline(transaction=True)
        for _ in range(12):
            p.set("big", "x" * (100 * 1024))
        try:
            p.execute()
            assert False, "expected EXECABORT"
        except _redis.ResponseError as e:
            assert "EXECABORT" in str(e) or "MULTI queue exceeds" in str(e)
        assert c.exists("big") == 0
        # Within the limit the same transaction runs.
        p = c.pipeline(transaction=True)
        for _ in range(5):
            p.set("big", "x" * (100 * 1024))
        assert p.execute() == [True] * 5
    finally:
        c.config_set("client-query-buffer-limit", "1gb")

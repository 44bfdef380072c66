"""Operator commands and INFO fields, with Valkey's reply shapes: INFO errorstats, latencystats,
cluster and modules sections, the read/write counters and avg_ttl; SLOWLOG; LATENCY; the CLIENT
extras; MONITOR. One server for the module (tests that change settings put them back)."""
import time

import pytest
import redis

from keel_harness import wait_for


def info(r, section):
    return r.info(section)


# ---- INFO ----------------------------------------------------------------------------------


def test_default_info_has_the_modules_errorstats_and_cluster_sections(server, rb):
    raw = server.raw()
    text = raw.call("INFO").decode()
    raw.close()
    heads = [line for line in text.splitlines() if line.startswith("# ")]
    for h in ("# Modules", "# Errorstats", "# Cluster", "# Keyspace"):
        assert h in heads, heads
    # Valkey's order: ... CPU, Modules, Errorstats, Cluster, Keyspace.
    assert heads.index("# Modules") < heads.index("# Errorstats") < heads.index("# Cluster") \
        < heads.index("# Keyspace")
    assert "# Latencystats" not in heads and "# Commandstats" not in heads
    assert rb.info("cluster") == {"cluster_enabled": 0}


def test_errorstats_count_error_replies_by_code(rb):
    rb.config_resetstat()
    rb.set("s", "x")
    for _ in range(2):
        with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
            rb.lpush("s", "a")
    with pytest.raises(redis.ResponseError, match="not an integer"):
        rb.incr("s")
    with pytest.raises(redis.ResponseError, match="wrong number"):
        rb.execute_command("GET")
    es = rb.info("errorstats")
    # (redis-py leaves "count=N" as a string)
    assert es == {"errorstat_WRONGTYPE": "count=2", "errorstat_ERR": "count=2"}
    st = rb.info("stats")
    assert st["total_error_replies"] == 4
    cs = rb.info("commandstats")
    assert cs["cmdstat_lpush"]["failed_calls"] == 2
    assert cs["cmdstat_incrby"]["failed_calls"] == 1  # redis-py sends INCRBY
    assert cs["cmdstat_get"]["rejected_calls"] == 1 and cs["cmdstat_get"]["calls"] == 0
    rb.config_resetstat()
    assert rb.info("errorstats") == {}


def test_latencystats_report_the_configured_percentiles_per_command(rb):
    rb.config_resetstat()
    for i in range(20):
        rb.set("k%d" % i, "v")
    rb.execute_command("CLIENT", "ID")
    ls = rb.info("latencystats")
    s = ls["latency_percentiles_usec_set"]
    assert set(s) == {"p50", "p99", "p99.9"}
    assert 0 < s["p50"] <= s["p99"] <= s["p99.9"]
    assert "latency_percentiles_usec_client|id" in ls
    assert "latency_percentiles_usec_get" not in ls  # never called since the reset
    try:
        rb.config_set("latency-tracking-info-percentiles", "50 99.99 100")
        assert rb.config_get("latency-tracking-info-percentiles") == {
            "latency-tracking-info-percentiles": "50 99.99 100"}
        s = rb.info("latencystats")["latency_percentiles_usec_set"]
        assert set(s) == {"p50", "p99.99", "p100"}
        with pytest.raises(redis.ResponseError, match="latency-tracking-info-percentiles"):
            rb.config_set("latency-tracking-info-percentiles", "50 101")
        rb.config_set("latency-tracking", "no")
        rb.config_resetstat()
        rb.set("a", "b")
        assert "latency_percentiles_usec_set" not in rb.info("latencystats")
    finally:
        rb.config_set("latency-tracking", "yes")
        rb.config_set("latency-tracking-info-percentiles", "50 99 99.9")


def test_stats_read_and_write_counters_move(rb):
    before = rb.info("stats")
    for _ in range(5):
        rb.ping()
    after = rb.info("stats")
    for f in ("total_reads_processed", "total_writes_processed", "total_net_input_bytes",
              "total_net_output_bytes", "total_commands_processed"):
        assert after[f] >= before[f] + 5, f


def test_keyspace_avg_ttl_estimates_the_ttl_in_ms(rb):
    rb.select(0)
    rb.mset({"p%d" % i: "v" for i in range(20)})
    for i in range(20):
        rb.expire("p%d" % i, 1000)
    ks = wait_for(lambda: rb.info("keyspace")["db0"]["avg_ttl"] > 0 and rb.info("keyspace"),
                  what="avg_ttl estimated by active expiry")
    assert 900_000 < ks["db0"]["avg_ttl"] <= 1_000_000, ks


# ---- SLOWLOG ---------------------------------------------------------------------------------


def test_slowlog_records_a_slow_command_with_its_client(rb):
    # Thresholds far above what a quick command takes even on a loaded machine; the checks look
    # at the DEBUG SLEEP entries.
    try:
        rb.config_set("slowlog-log-slower-than", "40000")
        rb.execute_command("SLOWLOG", "RESET")
        rb.client_setname("slowpoke")
        rb.set("fast", "1")
        rb.execute_command("DEBUG", "SLEEP", "0.06")
        entries = rb.execute_command("SLOWLOG", "GET")
        assert [e[3] for e in entries][0] == ["DEBUG", "SLEEP", "0.06"], entries
        assert ["SET", "fast", "1"] not in [e[3] for e in entries]
        eid, ts, dur, argv, addr, name = entries[0]
        assert dur >= 60000 and abs(ts - time.time()) < 60
        assert addr == rb.client_info()["addr"] and name == "slowpoke"
        assert rb.execute_command("SLOWLOG", "LEN") == len(entries)
        # slowlog-max-len keeps the newest; ids keep growing.
        rb.config_set("slowlog-max-len", "2")
        for d in ("0.041", "0.042", "0.043"):
            rb.execute_command("DEBUG", "SLEEP", d)
        got = rb.execute_command("SLOWLOG", "GET", "-1")
        assert [e[3][2] for e in got] == ["0.043", "0.042"] and got[0][0] > got[1][0] > eid
        # -1 turns it off.
        rb.config_set("slowlog-log-slower-than", "-1")
        rb.execute_command("DEBUG", "SLEEP", "0.041")
        assert rb.execute_command("SLOWLOG", "GET", "1")[0][3][2] == "0.043"
        assert rb.execute_command("SLOWLOG", "RESET") == "OK"
        assert rb.execute_command("SLOWLOG", "LEN") == 0
    finally:
        rb.config_set("slowlog-log-slower-than", "10000")
        rb.config_set("slowlog-max-len", "128")


# ---- LATENCY ---------------------------------------------------------------------------------


def test_latency_monitor_records_slow_commands_over_the_threshold(rb):
    try:
        rb.execute_command("LATENCY", "RESET")
        rb.config_set("latency-monitor-threshold", "100")
        assert "off" not in rb.execute_command("LATENCY", "DOCTOR")
        rb.execute_command("DEBUG", "SLEEP", "0")  # under the threshold
        assert rb.execute_command("LATENCY", "LATEST") == []
        rb.execute_command("DEBUG", "SLEEP", "0.12")
        latest = rb.execute_command("LATENCY", "LATEST")
        assert len(latest) == 1
        name, ts, last, worst = latest[0]
        assert name == "command" and last >= 120 and worst == last and abs(ts - time.time()) < 60
        hist = rb.execute_command("LATENCY", "HISTORY", "command")
        assert hist == [[ts, last]]
        doctor = rb.execute_command("LATENCY", "DOCTOR")
        assert "command" in doctor and "SLOWLOG" in doctor
        assert rb.execute_command("LATENCY", "RESET", "command", "nosuch") == 1
        assert rb.execute_command("LATENCY", "LATEST") == []
        rb.config_set("latency-monitor-threshold", "0")
        rb.execute_command("DEBUG", "SLEEP", "0.12")
        assert rb.execute_command("LATENCY", "LATEST") == []
        assert "off" in rb.execute_command("LATENCY", "DOCTOR")
    finally:
        rb.config_set("latency-monitor-threshold", "0")


def test_latency_histogram_counts_calls_per_command(rb):
    rb.config_resetstat()
    for _ in range(7):
        rb.get("x")
    h = rb.execute_command("LATENCY", "HISTOGRAM", "get", "nosuch")
    # redis-py gives the RESP2 flat form as a list
    assert h[0] == "get" and h[1][0:2] == ["calls", 7] and h[1][2] == "histogram_usec"
    buckets = h[1][3]
    counts = buckets[1::2]
    assert counts == sorted(counts) and counts[-1] == 7


# ---- CLIENT ----------------------------------------------------------------------------------

VALKEY8_FIELDS = ["id", "addr", "laddr", "fd", "name", "age", "idle", "flags", "db", "sub", "psub",
                  "ssub", "multi", "watch", "qbuf", "qbuf-free", "argv-mem", "multi-mem", "rbs",
                  "rbp", "obl", "oll", "omem", "tot-mem", "events", "cmd", "user", "redir", "resp",
                  "lib-name", "lib-ver", "tot-net-in", "tot-net-out", "tot-cmds"]


def fields(line):
    return dict(f.split("=", 1) for f in line.strip().split(" "))


def test_client_info_has_valkey8_fields_with_real_values(server):
    raw = server.raw(resp=3)
    try:
        assert raw.call("CLIENT", "SETINFO", "LIB-NAME", "keel-tests") == "OK"
        assert raw.call("CLIENT", "SETINFO", "LIB-VER", "1.2.3") == "OK"
        raw.call("WATCH", "w1", "w2")
        line = raw.call("CLIENT", "INFO")
        names = [f.split("=", 1)[0] for f in line.strip().split(" ")]
        assert names == VALKEY8_FIELDS
        f = fields(line)
        assert f["cmd"] == "client|info"  # the running command, as Valkey
        assert f["lib-name"] == "keel-tests" and f["lib-ver"] == "1.2.3"
        assert f["watch"] == "2" and f["resp"] == "3"
        assert f["tot-cmds"] == "5"  # HELLO, 2 x SETINFO, WATCH, CLIENT INFO
        assert int(f["tot-net-in"]) > 50 and int(f["tot-net-out"]) > 20
        raw.call("UNWATCH")
        raw.call("MULTI")
        raw.call("SET", "k", "v")
        other = server.raw()
        lst = other.call("CLIENT", "LIST").decode()
        other.close()
        mine = [fields(l) for l in lst.splitlines() if fields(l)["lib-name"] == "keel-tests"][0]
        assert mine["cmd"] == "multi" and mine["multi"] == "1" and "x" in mine["flags"]
        assert mine["watch"] == "0" and int(mine["multi-mem"]) > 0
        raw.call("DISCARD")
    finally:
        raw.close()


def test_client_reply_off_and_skip_drop_replies(server):
    raw = server.raw()
    try:
        raw.send_cmd("CLIENT", "REPLY", "OFF")
        raw.send_cmd("SET", "rk", "1")
        raw.send_cmd("GET", "rk")
        raw.send_cmd("NOSUCHCOMMAND")
        assert raw.call("CLIENT", "REPLY", "ON") == "OK"  # the first reply since OFF
        assert raw.call("GET", "rk") == b"1"  # the SET ran
        raw.send_cmd("CLIENT", "REPLY", "SKIP")
        raw.send_cmd("INCR", "rk")
        assert raw.call("GET", "rk") == b"2"  # only INCR's reply was skipped
        assert str(raw.call("CLIENT", "REPLY", "MAYBE")).startswith("ERR syntax")
    finally:
        raw.close()


def test_client_pause_write_delays_a_write_but_not_a_read(server, rb):
    rb.set("pk", "before")
    writer, reader = server.raw(), server.raw()
    try:
        assert rb.execute_command("CLIENT", "PAUSE", "20000", "WRITE") == "OK"
        t0 = time.time()
        writer.send_cmd("SET", "pk", "after")
        assert reader.call("GET", "pk") == b"before"  # reads go on
        assert reader.call("PUBSUB", "NUMSUB") == []
        wait_for(lambda: rb.info("clients")["blocked_clients"] == 1, what="the writer waits")
        c = rb.info("clients")
        assert c["paused_actions"] == "write" and c["paused_reason"] == "client_pause"
        assert 0 < c["paused_timeout_milliseconds"] <= 20000
        # A read-only transaction is not paused; one holding a write is.
        reader.call("MULTI")
        reader.call("GET", "pk")
        assert reader.call("EXEC") == [b"before"]
        assert rb.get("pk") == "before"
        assert rb.execute_command("CLIENT", "UNPAUSE") == "OK"
        assert writer.read() == "OK"
        assert time.time() - t0 < 15
        assert rb.get("pk") == "after"
        assert rb.info("clients")["paused_actions"] == "none"
    finally:
        rb.execute_command("CLIENT", "UNPAUSE")
        writer.close()
        reader.close()


def test_client_pause_all_holds_every_command_until_its_deadline(server, rb):
    other = server.raw()
    try:
        t0 = time.time()
        assert rb.execute_command("CLIENT", "PAUSE", "300") == "OK"
        assert other.call("PING") == "PONG"
        assert time.time() - t0 >= 0.25  # held until the pause ended by itself
        with pytest.raises(redis.ResponseError, match="timeout is negative"):
            rb.execute_command("CLIENT", "PAUSE", "-1")
        with pytest.raises(redis.ResponseError, match="mode must be WRITE or ALL"):
            rb.execute_command("CLIENT", "PAUSE", "10", "SOMETIMES")
    finally:
        other.close()


# ---- COMMAND and MEMORY ----------------------------------------------------------------------


def test_command_list_names_subcommands_and_filters(server):
    raw = server.raw()  # (redis-py parses every COMMAND reply as COMMAND's own)
    try:
        names = [n.decode() for n in raw.call("COMMAND", "LIST")]
        assert "client|list" in names and "config|get" in names and "get" in names
        assert "slowlog|get" in names and "latency|latest" in names
        assert len(names) == len(set(names))
        client = raw.call("COMMAND", "LIST", "FILTERBY", "PATTERN", "client|*")
        assert client and all(n.startswith(b"client|") for n in client)
        assert b"client|pause" in client
        admin = raw.call("COMMAND", "LIST", "FILTERBY", "ACLCAT", "admin")
        assert b"client|kill" in admin and b"get" not in admin
        assert raw.call("COMMAND", "LIST", "FILTERBY", "MODULE", "x") == []
    finally:
        raw.close()


def test_command_getkeysandflags(server):
    raw = server.raw()
    try:
        assert raw.call("COMMAND", "GETKEYSANDFLAGS", "GET", "k") == [[b"k", ["RO", "access"]]]
        got = raw.call("COMMAND", "GETKEYSANDFLAGS", "MSET", "a", "1", "b", "2")
        assert [g[0] for g in got] == [b"a", b"b"] and all("RW" in g[1] for g in got)
        assert "Invalid command" in str(raw.call("COMMAND", "GETKEYSANDFLAGS", "NOSUCH", "k"))
    finally:
        raw.close()


def test_memory_purge_and_malloc_stats(rb):
    assert rb.execute_command("MEMORY", "PURGE") == "OK"
    stats = rb.execute_command("MEMORY", "MALLOC-STATS")
    assert "jemalloc statistics" in stats or "not supported" in stats


# ---- MONITOR ---------------------------------------------------------------------------------


def test_monitor_shows_other_clients_commands_in_valkeys_format(server):
    mon, other = server.raw(), server.raw()
    try:
        assert mon.call("MONITOR") == "OK"
        other.call("SELECT", "3")
        other.call("SET", "mk", 'q"\n\x01')
        other.call("CONFIG", "GET", "port")  # admin: not shown
        other.call("AUTH", "secret")  # shown redacted (it fails: no password set)
        other.call("GET", "mk")
        addr = other.call("CLIENT", "INFO").decode().split(" ")[1].split("=", 1)[1]
        lines = [mon.read() for _ in range(5)][:4]  # the fifth is CLIENT INFO
        stamp = lines[0].split(" ", 1)[0]
        assert abs(float(stamp) - time.time()) < 60 and "." in stamp
        rest = [l.split(" ", 1)[1] for l in lines]
        assert rest == ['[3 %s] "SELECT" "3"' % addr,
                        '[3 %s] "SET" "mk" "q\\"\\n\\x01"' % addr,
                        '[3 %s] "AUTH" "(redacted)"' % addr,
                        '[3 %s] "GET" "mk"' % addr]
        probe = server.raw()
        lst = probe.call("CLIENT", "LIST").decode()
        probe.close()
        flags = [l for l in lst.splitlines() if "cmd=monitor" in l][0]
        assert " flags=O " in flags
        assert mon.call("RESET") == "RESET"
        other.call("PING")
        assert mon.call("PING") == "PONG"  # no monitor line came before the reply
    finally:
        mon.close()
        other.close()


# ---- client-side caching -----------------------------------------------------------------------


def test_tracking_resp3_invalidates_a_read_key_once(server):
    c, w = server.raw(resp=3), server.raw()
    try:
        assert c.call("CLIENT", "TRACKING", "ON") == "OK"
        c.call("GET", "tk1")
        c.call("MGET", "tk2", "tk3")
        w.call("SET", "tk1", "v")
        w.call("SET", "tk3", "v")
        assert c.read() == [b"invalidate", [b"tk1"]]
        assert c.read() == [b"invalidate", [b"tk3"]]
        w.call("SET", "tk1", "again")  # not read since: nothing to tell
        assert c.call("PING") == "PONG"
        info = c.call("CLIENT", "TRACKINGINFO")
        assert info == {b"flags": {b"on"}, b"redirect": 0, b"prefixes": []}
        assert c.call("CLIENT", "GETREDIR") == 0
        lst = w.call("CLIENT", "LIST").decode()
        mine = [l for l in lst.splitlines() if "cmd=client|getredir" in l][0]
        assert " flags=t " in mine and " redir=0 " in mine
        # Its own change comes after its reply; with NOLOOP it does not come at all.
        c.call("GET", "tk1")
        assert c.call("SET", "tk1", "mine") == "OK"
        assert c.read() == [b"invalidate", [b"tk1"]]
        # Inside EXEC too: the push waits for the end of the EXEC reply, never lands inside it.
        c.call("GET", "tk1")
        c.call("MULTI")
        c.call("SET", "tk1", "in-exec")
        c.call("GET", "tk1")
        assert c.call("EXEC") == ["OK", b"in-exec"]
        assert c.read() == [b"invalidate", [b"tk1"]]
        c.call("MULTI")
        c.call("FLUSHDB")
        assert c.call("EXEC") == ["OK"]
        assert c.read() == [b"invalidate", None]  # (a null covers every key)
        assert c.call("CLIENT", "TRACKING", "ON", "NOLOOP") == "OK"
        c.call("GET", "tk1")
        c.call("SET", "tk1", "mine2")
        assert c.call("PING") == "PONG"
        # FLUSHALL: a null for everything.
        w.call("FLUSHALL")
        assert c.read() == [b"invalidate", None]
        assert c.call("CLIENT", "TRACKING", "OFF") == "OK"
        assert c.call("CLIENT", "GETREDIR") == -1
    finally:
        c.close()
        w.close()


def test_tracking_resp2_redirect_to_a_subscriber(server):
    sub, c, w = server.raw(), server.raw(), server.raw()
    try:
        sid = sub.call("CLIENT", "ID")
        assert sub.call("SUBSCRIBE", "__redis__:invalidate") == [b"subscribe",
                                                                  b"__redis__:invalidate", 1]
        assert c.call("CLIENT", "TRACKING", "ON", "REDIRECT", sid) == "OK"
        assert c.call("CLIENT", "GETREDIR") == sid
        c.call("GET", "rk1")
        w.call("SET", "rk1", "x")
        assert sub.read() == [b"message", b"__redis__:invalidate", [b"rk1"]]
        w.call("FLUSHDB")
        assert sub.read() == [b"message", b"__redis__:invalidate", None]
        assert "does not exist" in str(c.call("CLIENT", "TRACKING", "ON", "REDIRECT", "999999"))
    finally:
        sub.close()
        c.close()
        w.close()


def test_tracking_broken_redirect_is_reported(server):
    target, c, w = server.raw(resp=3), server.raw(resp=3), server.raw()
    try:
        tid = target.call("CLIENT", "ID")
        c.call("CLIENT", "TRACKING", "ON", "REDIRECT", tid)
        c.call("GET", "bk")
        target.close()
        wait_for(lambda: all(not l.startswith("id=%d " % tid)
                             for l in w.call("CLIENT", "LIST").decode().splitlines()),
                 what="the redirect client to be gone")
        w.call("SET", "bk", "1")
        assert c.read() == [b"tracking-redir-broken", tid]
        assert b"broken_redirect" in c.call("CLIENT", "TRACKINGINFO")[b"flags"]
    finally:
        c.close()
        w.close()


def test_tracking_bcast_prefixes_and_optin(server):
    b, o, w = server.raw(resp=3), server.raw(resp=3), server.raw()
    try:
        assert b.call("CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "user:", "PREFIX",
                      "cart:") == "OK"
        assert "overlaps" in str(b.call("CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "user:x"))
        w.call("SET", "user:1", "a")
        w.call("SET", "other", "b")
        w.call("SET", "cart:9", "c")
        got = []
        while len(got) < 2:  # one batch per loop turn: one or two pushes
            push = b.read()
            assert push[0] == b"invalidate"
            got += push[1]
        assert sorted(got) == [b"cart:9", b"user:1"]
        assert b.call("CLIENT", "TRACKINGINFO")[b"prefixes"] == [b"user:", b"cart:"]
        # OPTIN: only the read right after CLIENT CACHING YES is tracked.
        assert o.call("CLIENT", "TRACKING", "ON", "OPTIN") == "OK"
        o.call("GET", "oa")
        assert o.call("CLIENT", "CACHING", "YES") == "OK"
        o.call("GET", "ob")
        o.call("GET", "oc")
        w.call("MSET", "oa", "1", "ob", "2", "oc", "3")
        assert o.read() == [b"invalidate", [b"ob"]]
        assert o.call("PING") == "PONG"
        assert "OPTOUT" in str(o.call("CLIENT", "CACHING", "NO"))
        st = w.call("INFO", "stats").decode()
        assert "tracking_total_prefixes:2" in st
    finally:
        b.close()
        o.close()
        w.close()


def test_tracking_table_max_keys_invalidates_past_the_limit(server, rb):
    c = server.raw(resp=3)
    try:
        rb.config_set("tracking-table-max-keys", "2")
        c.call("CLIENT", "TRACKING", "ON")
        for i in range(6):
            c.send_cmd("GET", "mk%d" % i)
        got, replies = set(), 0
        while len(got) < 4 or replies < 6:  # pushes come between the replies
            item = c.read()
            if item is None:
                replies += 1
            else:
                assert item[0] == b"invalidate"
                got.update(item[1])
        assert got <= {b"mk%d" % i for i in range(6)}
        assert rb.info("stats")["tracking_total_keys"] <= 2
    finally:
        rb.config_set("tracking-table-max-keys", "1000000")
        c.close()


# ---- DEBUG for test suites -----------------------------------------------------------------------


def test_debug_digest_follows_the_data_not_its_encoding(rb):
    zero = "0" * 40
    assert rb.execute_command("DEBUG", "DIGEST") == zero
    rb.execute_command("DEBUG", "POPULATE", "200", "pk", "16")
    rb.rpush("l", "a", "b", "c")
    rb.zadd("z", {"a": 1, "b": 2.5})
    rb.set("e", "v", ex=1000)
    d1 = rb.execute_command("DEBUG", "DIGEST")
    assert len(d1) == 40 and d1 != zero
    assert rb.execute_command("DEBUG", "RELOAD") == "OK"
    assert rb.dbsize() == 203
    assert rb.execute_command("DEBUG", "DIGEST") == d1  # the snapshot round trip kept everything
    rb.set("pk:7", "changed")
    assert rb.execute_command("DEBUG", "DIGEST") != d1
    rb.set("pk:7", "value:7".ljust(16, "\0"))
    assert rb.execute_command("DEBUG", "DIGEST") == d1
    # The same hash and set, in a small (listpack/intset) and a large (table) encoding.
    try:
        rb.hset("h1", mapping={"f%d" % i: "v%d" % i for i in range(5)})
        rb.sadd("s1", *range(5))
        rb.config_set("hash-max-listpack-entries", "1")
        rb.config_set("set-max-intset-entries", "1")
        rb.hset("h2", mapping={"f%d" % i: "v%d" % i for i in reversed(range(5))})
        rb.sadd("s2", *reversed(range(5)))
        assert rb.object("encoding", "h1") != rb.object("encoding", "h2")
        assert rb.object("encoding", "s1") != rb.object("encoding", "s2")
        dv = rb.execute_command("DEBUG", "DIGEST-VALUE", "h1", "h2", "s1", "s2", "l", "nosuch")
        assert dv[0] == dv[1] and dv[2] == dv[3] and len(set(dv[:5])) == 3
        assert dv[5] == zero
    finally:
        rb.config_set("hash-max-listpack-entries", "128")
        rb.config_set("set-max-intset-entries", "512")


def test_debug_populate_error_and_protocol(server, rb):
    rb.set("key:1", "mine")
    assert rb.execute_command("DEBUG", "POPULATE", "3") == "OK"
    assert rb.mget("key:0", "key:1", "key:2") == ["value:0", "mine", "value:2"]
    assert rb.execute_command("DEBUG", "POPULATE", "1", "big", "10") == "OK"
    assert rb.get("big:0") == "value:0\0\0\0"
    rb.config_resetstat()
    with pytest.raises(redis.ResponseError, match="^MYCODE custom$"):
        rb.execute_command("DEBUG", "ERROR", "MYCODE custom")  # the message as given
    assert rb.info("errorstats") == {"errorstat_MYCODE": "count=1"}
    raw = server.raw(resp=3)
    try:
        assert raw.call("DEBUG", "PROTOCOL", "map") == {0: False, 1: True, 2: False}
        assert raw.call("DEBUG", "PROTOCOL", "bignum") == 1234567999999999999999999999999999999
        assert raw.call("DEBUG", "PROTOCOL", "push") == [b"server-cpu-usage", 42]
        assert raw.read() == b"Some real reply following the push reply"
    finally:
        raw.close()

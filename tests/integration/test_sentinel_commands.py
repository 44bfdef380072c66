"""What Redis Sentinel (7.0) needs from a monitored server, each piece on its own, in Valkey's
spelling, then the real thing: a redis-sentinel that drives a failover of Keel nodes with no
command refused.

Sentinel sends, per instance (read from its sources and seen on a Valkey it monitored): on each of
its two connections AUTH (when configured) and CLIENT SETNAME sentinel-<id>-cmd|pubsub; on the
pub/sub one SUBSCRIBE __sentinel__:hello; on the command one PING every second, INFO every 10 s
(every second during a failover), PUBLISH __sentinel__:hello <its address, epoch, primary> every
2 s, SCRIPT KILL when a PING answered -BUSY, and to reconfigure a node one transaction:
MULTI, SLAVEOF host port | NO ONE, CONFIG REWRITE, CLIENT KILL TYPE normal, CLIENT KILL TYPE
pubsub, EXEC. From INFO it parses run_id, role, master_host, master_port, master_link_status,
master_link_down_since_seconds, slave_priority, slave_repl_offset, replica_announced and the
primary's slaveN:ip=...,port=... lines.
"""
import os
import re
import time

import pytest
import redis

from keel_harness import KeelServer, RespError
from sentinel_harness import SENTINEL_BIN, SentinelProc, refused_lines, wait_for


def node(live, args=(), conf_lines=None, data_dir=None, port=None):
    """A Keel node with durability sync, a verbose log and, when conf_lines is given, a
    configuration file in its data directory (CONFIG REWRITE needs one)."""
    s = KeelServer(args=["--loglevel", "verbose"] + list(args), data_dir=data_dir,
                   durability="sync", port=port)
    if conf_lines is not None:
        os.makedirs(s.dir, exist_ok=True)
        s.config_file = os.path.join(s.dir, "keel.conf")
        with open(s.config_file, "w") as f:
            f.write("".join(l + "\n" for l in conf_lines))
    live.append(s)
    return s.start()


def restart(live, s):
    s.kill()
    again = KeelServer(args=s.args, data_dir=s.dir, durability="sync", port=s.port,
                       config_file=s.config_file)
    live.append(again)
    return again.start()


def info(s, section="replication"):
    return s.client(decode_responses=True).info(section)


def info_text(s, section):
    """INFO as the bytes a client such as Sentinel gets (redis-py would parse it)."""
    c = s.raw()
    try:
        return c.call("INFO", section).decode()
    finally:
        c.close()


def link_up(r):
    return info(r).get("master_link_status") == "up"


def replica_of(live, p, args=()):
    r = node(live, ["--replicaof", "127.0.0.1 %d" % p.port] + list(args))
    wait_for(lambda: link_up(r), 20, "the replica's link")
    return r


def no_refusals(*nodes):
    bad = []
    for n in nodes:
        bad += refused_lines(n.read_log())
    assert not bad, "\n".join(bad)


# ---- INFO ----------------------------------------------------------------------------------------


def test_info_server_has_a_run_id_that_changes_at_every_start(live):
    s = node(live, conf_lines=[])
    rid = info(s, "server")["run_id"]
    assert re.fullmatch(r"[0-9a-f]{40}", rid)
    raw = info_text(s, "server")
    assert "\r\nrun_id:%s\r\n" % rid in raw  # Sentinel reads the line as run_id:<40 chars>
    s2 = restart(live, s)
    assert info(s2, "server")["run_id"] != rid


def test_info_replication_has_the_fields_sentinel_parses(live):
    p = node(live)
    r = replica_of(live, p)
    p.client().set("k", "v")
    ri = wait_for(lambda: (lambda i: i if i["slave_repl_offset"] >= 1 else None)(info(r)), 10,
                  "the write on the replica")
    assert ri["role"] == "slave" and ri["master_host"] == "127.0.0.1"
    assert ri["master_port"] == p.port and ri["master_link_status"] == "up"
    assert ri["slave_priority"] == 100 and ri["replica_announced"] == 1
    assert "master_link_down_since_seconds" not in ri  # only while the link is down
    pi = info(p)
    assert pi["role"] == "master" and pi["connected_slaves"] == 1
    line = info_text(p, "replication")
    m = re.search(r"\r\nslave0:ip=([^,]+),port=(\d+),state=(\w+),offset=(\d+),lag=(\d+)", line)
    assert m and m.group(1) == "127.0.0.1" and int(m.group(2)) == r.port
    assert m.group(3) == "online"
    p.kill()
    ri = wait_for(lambda: (lambda i: i if i["master_link_status"] == "down" else None)(info(r)),
                  10, "the replica to see its primary gone")
    assert isinstance(ri["master_link_down_since_seconds"], int)
    assert 0 <= ri["master_link_down_since_seconds"] < 10


def test_replica_priority_and_replica_announced_show_in_info_and_config(live):
    p = node(live)
    r = replica_of(live, p, ["--replica-priority", "7"])
    c = r.client(decode_responses=True)
    assert info(r)["slave_priority"] == 7
    assert c.config_get("replica-priority") == {"replica-priority": "7"}
    assert c.config_get("slave-priority") == {"slave-priority": "7"}  # Valkey's old name
    c.config_set("slave-priority", "0")  # 0: Sentinel never promotes this replica
    assert info(r)["slave_priority"] == 0
    assert c.config_get("*priority*") == {"replica-priority": "0", "slave-priority": "0"}
    assert c.config_get("replica-announced") == {"replica-announced": "yes"}
    c.config_set("replica-announced", "no")
    assert info(r)["replica_announced"] == 0
    with pytest.raises(redis.ResponseError, match="between 0 and"):
        c.config_set("replica-priority", "-1")


def test_replica_announce_ip_and_port_are_what_the_primary_shows(live):
    p = node(live)
    # An address nothing is sent to: the primary only reports it (INFO, ROLE) for Sentinel.
    r = replica_of(live, p, ["--replica-announce-ip", "127.0.0.9", "--replica-announce-port",
                             "1234"])
    pi = info_text(p, "replication")
    assert "slave0:ip=127.0.0.9,port=1234,state=online" in pi
    role = p.client().execute_command("ROLE")
    assert role[2] == [[b"127.0.0.9", b"1234", role[2][0][2]]]
    c = r.client(decode_responses=True)
    assert c.config_get("replica-announce-*") == {"replica-announce-ip": "127.0.0.9",
                                                  "replica-announce-port": "1234"}
    assert c.config_get("slave-announce-ip") == {"slave-announce-ip": "127.0.0.9"}


def test_role_on_a_primary_and_a_replica(live):
    p = node(live)
    r = replica_of(live, p)
    p.client().set("a", 1)
    wait_for(lambda: info(r)["slave_repl_offset"] >= 1, 10, "the write on the replica")
    role = r.client().execute_command("ROLE")
    assert role[:4] == [b"slave", b"127.0.0.1", p.port, b"connected"] and role[4] >= 1
    prole = p.client().execute_command("ROLE")
    assert prole[0] == b"master" and prole[1] >= 1
    assert prole[2][0][:2] == [b"127.0.0.1", str(r.port).encode()]


# ---- REPLICAOF / SLAVEOF, also inside MULTI, and CONFIG REWRITE ---------------------------------


def test_slaveof_and_no_one(live):
    p = node(live)
    r = node(live)
    c = r.raw()
    assert c.call("SLAVEOF", "127.0.0.1", p.port) == "OK"
    wait_for(lambda: link_up(r), 20, "the link")
    assert c.call("SLAVEOF", "127.0.0.1", p.port) == "OK Already connected to specified master"
    assert str(c.call("SET", "x", 1)).startswith("READONLY")
    assert c.call("SLAVEOF", "NO", "ONE") == "OK"
    assert info(r)["role"] == "master"
    assert c.call("SET", "x", 1) == "OK"
    assert c.call("REPLICAOF", "no", "one") == "OK"


def test_the_sentinel_transaction_reconfigures_and_kills_the_right_clients(live):
    p = node(live)
    r = node(live, conf_lines=["# kept by CONFIG REWRITE"])
    rc = r.client()
    normal = r.raw()
    normal.call("CLIENT", "SETNAME", "app")
    sub = r.raw()
    sub.send_cmd("SUBSCRIBE", "__sentinel__:hello")
    assert sub.read() == [b"subscribe", b"__sentinel__:hello", 1]
    s = r.raw()
    s.call("CLIENT", "SETNAME", "sentinel-0123abcd-cmd")
    assert s.call("MULTI") == "OK"
    for cmd in (("SLAVEOF", "127.0.0.1", p.port), ("CONFIG", "REWRITE"),
                ("CLIENT", "KILL", "TYPE", "normal"), ("CLIENT", "KILL", "TYPE", "pubsub")):
        assert s.call(*cmd) == "QUEUED"
    out = s.call("EXEC")
    # The sender survives its own CLIENT KILL (SKIPME yes).
    assert out[:2] == ["OK", "OK"] and out[2] >= 1 and out[3] == 1, out
    for c in (normal, sub):
        with pytest.raises((ConnectionError, OSError)):
            c.call("PING")
    assert s.call("PING") == "PONG"
    wait_for(lambda: link_up(r), 20, "the link to the new primary")
    with open(r.config_file) as f:
        text = f.read()
    assert "replicaof 127.0.0.1 %d\n" % p.port in text and "# kept by CONFIG REWRITE" in text
    # And back: the same transaction with SLAVEOF NO ONE makes it a primary that stays one.
    assert s.call("MULTI") == "OK"
    for cmd in (("SLAVEOF", "NO", "ONE"), ("CONFIG", "REWRITE"),
                ("CLIENT", "KILL", "TYPE", "normal"), ("CLIENT", "KILL", "TYPE", "pubsub")):
        s.call(*cmd)
    assert s.call("EXEC")[:2] == ["OK", "OK"]
    assert info(r)["role"] == "master"
    with open(r.config_file) as f:
        assert "replicaof" not in f.read()
    rc.close()
    no_refusals(r)


def test_config_rewrite_persists_replicaof_across_a_restart(live):
    p = node(live)
    r = node(live, conf_lines=["port 1", "replica-priority 50"])  # --port overrides the file
    c = r.client()
    c.execute_command("REPLICAOF", "127.0.0.1", p.port)
    c.config_rewrite()
    r2 = restart(live, r)
    ri = info(r2)
    assert ri["role"] == "slave" and ri["master_port"] == p.port and ri["slave_priority"] == 50
    wait_for(lambda: link_up(r2), 20, "the link after the restart")
    with open(r.config_file) as f:
        lines = f.read().splitlines()
    assert lines.count("replicaof 127.0.0.1 %d" % p.port) == 1  # Valkey's two-word form
    assert "replica-priority 50" in lines
    # The memory settings at their defaults are not written out as byte counts.
    assert not any(l.startswith(("proto-max-bulk-len", "wal-segment-size")) for l in lines)
    r2.client().execute_command("REPLICAOF", "NO", "ONE")
    r2.client().config_rewrite()
    r3 = restart(live, r2)
    assert info(r3)["role"] == "master"


def test_a_valkey_style_config_file_with_slaveof_and_slave_priority_loads(live):
    p = node(live)
    r = node(live, conf_lines=["slaveof 127.0.0.1 %d" % p.port, "slave-priority 3",
                               "slave-announce-port %d" % 4321])
    assert info(r)["role"] == "slave"
    # 0 until it streams from its primary (a replica in a full sync is not promotable)
    wait_for(lambda: info(r)["slave_priority"] == 3, 20, "the configured priority")
    wait_for(lambda: "port=4321," in info_text(p, "replication"),
             20, "the announced port on the primary")
    r.client().config_rewrite()
    with open(r.config_file) as f:
        lines = f.read().splitlines()
    # Rewritten under the current names.
    assert "replicaof 127.0.0.1 %d" % p.port in lines and "replica-priority 3" in lines
    assert not any(l.startswith(("slaveof", "slave-priority")) for l in lines)


def test_config_rewrite_keeps_every_value_as_it_was_across_a_restart(live, tmp_path):
    """CONFIG REWRITE writes what the loader reads back: a value with a space, a newline or a
    quote, a log copy whose path has a space (one wal-dir line each), a setting changed at run
    time after a last line without a newline (found by fuzz/fuzz_config.c)."""
    spaced = str(tmp_path / "log copy")
    r = node(live, conf_lines=['wal-dir "%s"' % spaced, "# a comment"])
    with open(r.config_file, "a") as f:
        f.write("# the last line, without a newline")
    c = r.client(decode_responses=True)
    value = 'x y\n"z\'\\'
    c.config_set("masterauth", value)
    c.config_set("client-output-buffer-limit", "normal 1mb 512kb 10")
    c.config_rewrite()
    with open(r.config_file) as f:
        lines = f.read().splitlines()
    assert "# the last line, without a newline" in lines and "# a comment" in lines
    assert lines.count('wal-dir "%s"' % spaced) == 1
    c2 = restart(live, r).client(decode_responses=True)
    assert c2.config_get("masterauth")["masterauth"] == value
    assert c2.config_get("wal-dir")["wal-dir"] == spaced
    assert c2.config_get("client-output-buffer-limit")["client-output-buffer-limit"].startswith(
        "normal 1048576 524288 10 ")


def test_config_rewrite_without_a_file_is_an_error(live):
    s = node(live)
    with pytest.raises(redis.ResponseError, match="without a config file"):
        s.client().config_rewrite()


# ---- CLIENT ----------------------------------------------------------------------------------------


def test_client_kill_type_filters(live):
    p = node(live)
    r = replica_of(live, p)
    pc = p.client()
    partial = pc.info("stats")["sync_partial_ok"]
    sub = p.raw()
    sub.call("SUBSCRIBE", "ch")
    other = p.raw()
    other.call("PING")
    # normal: not the replica's connection, not the subscriber, not the caller.
    assert pc.execute_command("CLIENT", "KILL", "TYPE", "normal") >= 1
    with pytest.raises((ConnectionError, OSError)):
        other.call("PING")
    assert pc.info("replication")["connected_slaves"] == 1 and link_up(r)
    assert pc.execute_command("CLIENT", "KILL", "TYPE", "pubsub") == 1
    assert pc.execute_command("CLIENT", "KILL", "TYPE", "master") == 0  # a primary has none
    listed = pc.execute_command("CLIENT", "LIST", "TYPE", "replica").decode()
    assert listed.count("\n") == 1 and "flags=S" in listed
    # replica / slave: the replica's connection; it reconnects with a partial resync.
    assert pc.execute_command("CLIENT", "KILL", "TYPE", "slave") == 1
    wait_for(lambda: pc.info("stats")["sync_partial_ok"] >= partial + 1 and link_up(r), 20,
             "the replica to reconnect")
    assert pc.execute_command("CLIENT", "KILL", "TYPE", "replica") == 1
    wait_for(lambda: pc.info("stats")["sync_partial_ok"] >= partial + 2 and link_up(r), 20,
             "the replica to reconnect again")
    # master, on the replica: its link to the primary, which it makes again.
    assert r.client().execute_command("CLIENT", "KILL", "TYPE", "master") == 1
    wait_for(lambda: pc.info("stats")["sync_partial_ok"] >= partial + 3 and link_up(r), 20,
             "the replica's new link")
    with pytest.raises(redis.ResponseError, match="Unknown client type"):
        pc.execute_command("CLIENT", "KILL", "TYPE", "bogus")
    for c in (sub, other):
        c.close()


def test_client_setname_as_sentinel_names_its_connections(live):
    s = node(live)
    c = s.raw()
    assert c.call("CLIENT", "SETNAME", "sentinel-0a1b2c3d-cmd") == "OK"
    assert b"name=sentinel-0a1b2c3d-cmd " in s.client().execute_command("CLIENT", "LIST")


def test_hello_channel_publish_and_subscribe(live):
    s = node(live)
    sub = s.raw()
    sub.call("CLIENT", "SETNAME", "sentinel-0a1b2c3d-pubsub")
    assert sub.call("SUBSCRIBE", "__sentinel__:hello") == [b"subscribe", b"__sentinel__:hello", 1]
    hello = "127.0.0.1,26379,0a1b2c3d" + "0" * 32 + ",0,m,127.0.0.1,6379,0"
    assert s.client().publish("__sentinel__:hello", hello) == 1
    assert sub.read() == [b"message", b"__sentinel__:hello", hello.encode()]


def test_script_kill_answers_notbusy_as_valkey(live):
    s = node(live)
    r = s.raw().call("SCRIPT", "KILL")
    assert isinstance(r, RespError) and str(r) == "NOTBUSY No scripts in execution right now."


def test_refused_commands_are_logged_with_their_sender(live):
    s = node(live)
    c = s.raw()
    c.call("CLIENT", "SETNAME", "probe")
    assert isinstance(c.call("NOSUCHCMD", "a"), RespError)
    assert isinstance(c.call("CLIENT", "NOSUCHSUB"), RespError)
    assert isinstance(c.call("GET"), RespError)
    c.call("MULTI")
    assert isinstance(c.call("SAVE"), RespError)  # not allowed inside a transaction
    c.call("DISCARD")
    wait_for(lambda: len(refused_lines(s.read_log())) >= 4, 5, "the log lines")
    lines = refused_lines(s.read_log())
    assert "unknown command" in lines[0] and "name=probe" in lines[0] and "NOSUCHCMD a" in lines[0]
    assert "unknown subcommand" in lines[1]
    assert "wrong number of arguments" in lines[2]
    assert "not allowed inside a transaction" in lines[3]


# ---- the real Sentinel ---------------------------------------------------------------------------


@pytest.mark.skipif(not os.path.exists(SENTINEL_BIN), reason="redis-sentinel not installed")
def test_redis_sentinel_fails_over_keel_nodes_with_nothing_refused(live):
    p = node(live, conf_lines=[])
    r1 = node(live, conf_lines=["replicaof 127.0.0.1 %d" % p.port])
    r2 = node(live, conf_lines=["replicaof 127.0.0.1 %d" % p.port, "replica-priority 0"])
    for r in (r1, r2):
        wait_for(lambda: link_up(r), 20, "the replicas' links")
    sentinels = []
    try:
        for _ in range(2):
            sentinels.append(SentinelProc("k", p.port, quorum=2, down_after_ms=1000,
                                          failover_timeout_ms=4000).start())
        # Sentinel finds the replicas in the primary's INFO and the other Sentinel by hello.
        cs = sentinels[0].client()

        def field(name):
            flat = cs.execute_command("SENTINEL", "MASTER", "k")
            return flat[flat.index(name) + 1]

        wait_for(lambda: field("num-slaves") == "2", 30, "Sentinel to list both replicas")
        wait_for(lambda: field("num-other-sentinels") == "1", 30,
                 "the Sentinels to find each other")
        p.client().set("before", "1")
        p.kill()
        # r2 has replica-priority 0: only r1 may be promoted.
        wait_for(lambda: all(s.primary_addr() == ("127.0.0.1", r1.port) for s in sentinels), 30,
                 "the failover to r1")
        assert info(r1)["role"] == "master"
        wait_for(lambda: info(r2).get("master_port") == r1.port and link_up(r2), 30,
                 "r2 to follow r1")
        assert r1.client().get("before") == b"1"
        with open(r1.config_file) as f:
            assert "replicaof" not in f.read()  # CONFIG REWRITE: a restart keeps it a primary
        with open(r2.config_file) as f:
            assert "replicaof 127.0.0.1 %d" % r1.port in f.read()
        # The old primary comes back as a primary; Sentinel makes it a replica of r1.
        old = restart(live, p)
        wait_for(lambda: info(old).get("master_port") == r1.port and link_up(old), 40,
                 "the old primary to rejoin as a replica")
        no_refusals(p, r1, r2, old)
        log = sentinels[0].read_log()
        assert "+switch-master k 127.0.0.1 %d 127.0.0.1 %d" % (p.port, r1.port) in log
    finally:
        for s in sentinels:
            s.cleanup()

"""Config files as operators write them (docs/configuration.md): Debian's own redis.conf loads
and the server serves, with one warning line per setting Keel does not honour; CONFIG REWRITE
keeps comments and order and reads back to the same settings; start-up refusals name the path,
the operation and the reason on one line; CONFIG SET refuses what Keel would not honour, evicts
at once when maxmemory goes below the memory in use, and shows notify-keyspace-events in
Valkey's order. The parser's details are unit tests (tests/unit/test_engine_config_file.c)."""
import os
import re
import signal
import socket
import subprocess

import pytest
import redis

from keel_harness import KeelServer, binary, free_port, wait_for

DEBIAN_CONF = "/etc/redis/redis.conf"

# The directives of Debian's redis.conf (redis-server 7.0) that Keel does not honour, as
# docs/configuration.md decides them. Every other directive of the file must load silently.
DEBIAN_NOT_HONOURED = {
    "set-proc-title", "proc-title-template", "stop-writes-on-bgsave-error", "rdbcompression",
    "rdbchecksum", "dbfilename", "rdb-del-sync-files", "replica-serve-stale-data",
    "repl-diskless-sync", "repl-diskless-sync-delay", "repl-diskless-sync-max-replicas",
    "repl-diskless-load", "replica-lazy-flush", "oom-score-adj-values", "disable-thp",
    "appendonly", "appendfilename", "appenddirname", "appendfsync", "no-appendfsync-on-rewrite",
    "auto-aof-rewrite-percentage", "auto-aof-rewrite-min-size", "aof-load-truncated",
    "aof-use-rdb-preamble", "aof-timestamp-enabled", "dynamic-hz", "aof-rewrite-incremental-fsync",
    "rdb-save-incremental-fsync", "jemalloc-bg-thread",
}

WARN = re.compile(r"^\d+:M .* # (.+):(\d+): '([^']+)' is not honoured by Keel: (.+)$")


def directives(path):
    """(line number, name) of each setting line, as Valkey's loader sees them."""
    out = []
    with open(path) as f:
        for i, line in enumerate(f, 1):
            line = line.strip(" \t\r\n")
            if line and not line.startswith("#"):
                out.append((i, line.split()[0].lower()))
    return out


@pytest.mark.skipif(not os.path.exists(DEBIAN_CONF), reason="no Debian redis.conf here")
def test_debians_redis_conf_loads_and_serves(live, tmp_path):
    s = KeelServer(config_file=DEBIAN_CONF,
                   args=["--daemonize", "no", "--logfile", "", "--pidfile",
                         str(tmp_path / "keel.pid")])
    live.append(s)
    s.start()
    c = s.client(decode_responses=True)
    c.set("k", "v")
    assert c.get("k") == "v"
    # Values of the file are in force (its port, dir and daemonize are overridden).
    assert c.config_get("hash-max-listpack-entries")["hash-max-listpack-entries"] == "512"
    assert c.config_get("slowlog-max-len")["slowlog-max-len"] == "128"
    assert c.config_get("daemonize")["daemonize"] == "no"
    warned = {}
    for line in s.read_log().splitlines():
        m = WARN.match(line)
        if m:
            assert m.group(1) == DEBIAN_CONF, line
            assert m.group(3) not in warned, "warned twice: " + line
            warned[m.group(3)] = int(m.group(2))
    names = dict((name, n) for n, name in reversed(directives(DEBIAN_CONF)))  # first line each
    expected = {n for n in names if n in DEBIAN_NOT_HONOURED}
    assert set(warned) == expected, (sorted(set(warned) - expected), sorted(expected - set(warned)))
    for name, n in warned.items():
        assert names[name] == n, (name, n)  # the warning names the line of the setting
    assert s.stop() == 0  # (the sanitizer build: no report)


CONF = """# Keel test config: comments and order survive CONFIG REWRITE.
# A comment with "quotes", it's fine.

port 6399
hz 12
   # indented comment
hash-max-ziplist-entries 100
requirepass "pa ss"
rdbcompression yes
notify-keyspace-events ""
include extra.conf
maxmemory-policy allkeys-lru
"""


def test_config_rewrite_round_trip(live, tmp_path):
    (tmp_path / "extra.conf").write_text("timeout 7\n")
    conf = tmp_path / "keel.conf"
    conf.write_text(CONF)
    (tmp_path / "data").mkdir()
    s = KeelServer(config_file=str(conf), data_dir=str(tmp_path / "data"))
    live.append(s)
    s.start()
    c = s.client(decode_responses=True, password="pa ss")
    assert c.config_get("timeout")["timeout"] == "7"  # from the include
    assert c.config_get("hash-max-listpack-entries")["hash-max-listpack-entries"] == "100"
    c.config_set("hz", "25")
    c.config_set("zset-max-ziplist-entries", "77")
    c.config_set("notify-keyspace-events", "KEx$")
    c.config_set("maxmemory", "64mb")
    before = c.config_get("*")
    assert c.execute_command("CONFIG", "REWRITE") == "OK"
    text = conf.read_text()
    lines = text.splitlines()
    # Rewritten in place, in the file's order; comments, unknown and include lines kept.
    assert lines[:12] == ["# Keel test config: comments and order survive CONFIG REWRITE.",
                          "# A comment with \"quotes\", it's fine.",
                          "",
                          "port %d" % s.port,
                          "hz 25",
                          "   # indented comment",
                          "hash-max-listpack-entries 100",
                          "requirepass \"pa ss\"",
                          "rdbcompression yes",
                          "notify-keyspace-events $xKE",
                          "include extra.conf",
                          "maxmemory-policy allkeys-lru"], text
    tail = lines[12:]
    assert tail[0] == "# Generated by CONFIG REWRITE", text
    assert "zset-max-listpack-entries 77" in tail and "maxmemory 67108864" in tail, text
    assert not os.path.exists(str(conf) + ".tmp")
    assert s.stop() == 0
    # Started again from the rewritten file alone, every setting reads back the same.
    s2 = KeelServer(config_file=str(conf), data_dir=str(tmp_path / "data"), port=s.port)
    live.append(s2)
    s2.start()
    after = s2.client(decode_responses=True, password="pa ss").config_get("*")
    diff = {k: (before.get(k), after.get(k)) for k in set(before) | set(after)
            if before.get(k) != after.get(k)}
    assert not diff, diff


def refusal(args, tmp_path, config=None):
    """Runs keel-server expecting it to refuse to start: (exit code, output)."""
    cmd = [binary()] + ([config] if config else [])
    cmd += ["--bind", "127.0.0.1", "--port", str(free_port())] + args
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60,
                       cwd=str(tmp_path))
    return p.returncode, p.stdout.decode(errors="replace")


def test_start_up_refusals_name_path_operation_and_reason(tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("x")
    ok = str(tmp_path / "ok")
    cases = [
        (["--dir", str(afile / "x")],
         "Refusing to start: cannot create directory '%s': Not a directory" % (afile / "x")),
        (["--dir", str(afile)],
         "Refusing to start: cannot use '%s' as a directory: Not a directory" % afile),
        (["--dir", ok, "--wal-dir", str(afile / "wal")],
         "Refusing to start: cannot use '%s' as a directory: Not a directory" % (afile / "wal")),
        (["--dir", ok, "--bind", "127.0.0.1 192.0.2.1"],  # TEST-NET-1: on no host
         "Refusing to start: cannot listen on 192.0.2.1:"),
        (["--dir", ok, "--logfile", str(tmp_path / "no" / "k.log")],
         "cannot open log file '%s': No such file or directory" % (tmp_path / "no" / "k.log")),
    ]
    if os.geteuid() != 0:  # root may write anywhere
        ro = tmp_path / "ro"
        ro.mkdir(mode=0o500)
        cases.append((["--dir", str(ro)],
                      "Refusing to start: cannot create a file in directory '%s': "
                      "Permission denied" % ro))
    for args, want in cases:
        rc, out = refusal(args, tmp_path)
        assert rc != 0, (args, out)
        assert want in out, (args, out)
        assert "snapshot" not in out and "quorum" not in out, out
        assert "Sanitizer" not in out, out
    # Config file errors: the file, the line, the reason.
    conf = tmp_path / "bad.conf"
    conf.write_text("port 1\n# fine \"\ndir \"/x\"y\n")
    rc, out = refusal([], tmp_path, str(conf))
    assert rc != 0 and "%s:3: unbalanced quotes" % conf in out, out
    conf.write_text("include missing.conf\n")
    rc, out = refusal([], tmp_path, str(conf))
    assert "Sanitizer" not in out, out
    assert rc != 0 and ("%s:1: cannot open config file '%s/missing.conf': No such file or "
                        "directory" % (conf, tmp_path)) in out, out


def test_config_set_refuses_what_keel_does_not_honour(r):
    shown = r.config_get("appendonly")["appendonly"]  # "no": the test server runs durability off
    other = "yes" if shown == "no" else "no"
    assert r.config_set("appendonly", shown)
    with pytest.raises(redis.ResponseError, match="not honoured by Keel: Keel always logs"):
        r.config_set("appendonly", other)
    with pytest.raises(redis.ResponseError, match="not honoured by Keel: Keel writes no RDB"):
        r.config_set("save", "900 1")
    assert r.config_set("save", "")
    with pytest.raises(redis.ResponseError, match="not honoured by Keel: .*use durability"):
        r.config_set("appendfsync", "always")
    with pytest.raises(redis.ResponseError, match="Unknown option"):
        r.config_set("no-such-setting", "1")
    # All or nothing: a refused pair leaves the other unchanged.
    with pytest.raises(redis.ResponseError):
        r.execute_command("CONFIG", "SET", "hz", "33", "rdbcompression", "no")
    assert r.config_get("hz")["hz"] != "33"
    assert r.config_get("cluster-enabled") == {"cluster-enabled": "no"}
    assert r.config_get("wal-quorum") == {"wal-quorum": "majority"}
    r.config_set("hash-max-ziplist-value", "99")  # an old name Valkey keeps
    assert r.config_get("hash-max-listpack-value") == {"hash-max-listpack-value": "99"}
    r.config_set("hash-max-ziplist-value", "64")


def test_notify_keyspace_events_in_valkeys_order(r):
    try:
        for given, shown in (("EKxg$", "g$xKE"), ("KEA", "AKE"), ("Elm", "lEm")):
            r.config_set("notify-keyspace-events", given)
            got = r.config_get("notify-keyspace-events")["notify-keyspace-events"]
            assert got == shown, given
    finally:
        r.config_set("notify-keyspace-events", "")


def test_lowering_maxmemory_evicts_without_a_write(r):
    r.config_set("maxmemory-policy", "allkeys-random")
    try:
        pipe = r.pipeline(transaction=False)
        for i in range(3000):
            pipe.set("k%d" % i, "x" * 1000)
        pipe.execute()
        used = int(r.info("memory")["used_memory"])
        r.config_set("maxmemory", str(used - 1500 * 1000))
        # No write follows: the cron evicts.
        wait_for(lambda: r.dbsize() < 2000, timeout=30, what="eviction after CONFIG SET")
        assert int(r.info("stats")["evicted_keys"]) > 0
    finally:
        r.config_set("maxmemory", "0")
        r.config_set("maxmemory-policy", "noeviction")


def test_daemonize_yes_runs_in_the_background(tmp_path):
    """daemonize was accepted and ignored; now the server forks, the command returns, and the
    pid file names the process that serves."""
    port = free_port()
    pidfile, log = tmp_path / "k.pid", tmp_path / "k.log"
    cmd = [binary(), "--bind", "127.0.0.1", "--port", str(port), "--dir", str(tmp_path / "d"),
           "--durability", "off", "--daemonize", "yes", "--pidfile", str(pidfile),
           "--logfile", str(log)]
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    assert p.returncode == 0, p.stdout
    pid = int(wait_for(lambda: pidfile.exists() and pidfile.read_text().strip(), timeout=30,
                       what="the pid file"))
    try:
        c = redis.Redis(port=port, socket_timeout=30)
        wait_for(lambda: _pings(c), timeout=30, what="the daemon to serve")
        assert c.info("server")["process_id"] == pid
    finally:
        os.kill(pid, signal.SIGTERM)
    wait_for(lambda: not os.path.exists("/proc/%d" % pid) or _zombie(pid), timeout=60,
             what="the daemon to exit")
    assert "Ready to accept connections" in log.read_text()


def _pings(c):
    try:
        return c.ping()
    except redis.ConnectionError:
        return False


def _zombie(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(")")[1].split()[0] == "Z"
    except OSError:
        return True


def test_bind_takes_a_host_name(live):
    """bind by host name, as Valkey: the name's first address; a name that does not resolve
    stops the start in one line with the resolver's reason, or is skipped when marked '-'."""
    s = KeelServer(args=["--bind", "localhost -nosuch.invalid"])
    live.append(s)
    s.start()
    assert redis.Redis(host="localhost", port=s.port, socket_timeout=30).ping()
    assert "Not listening on nosuch.invalid: " in s.read_log()
    bad = KeelServer(args=["--bind", "nosuch.invalid"])
    live.append(bad)
    with pytest.raises(RuntimeError):
        bad.start(timeout=10)
    assert re.search(r"Refusing to start: cannot listen on nosuch\.invalid:\d+: \S", bad.read_log())


def test_bind_listens_on_every_address(live):
    """bind 127.0.0.1 -::1 (Valkey's default): both, and '-' makes a missing one optional."""
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
        ipv6 = True
    except OSError:
        ipv6 = False
    s = KeelServer(args=["--bind", "127.0.0.1 -::1 -192.0.2.1"])
    live.append(s)
    s.start()
    assert redis.Redis(host="127.0.0.1", port=s.port, socket_timeout=30).ping()
    if ipv6:
        assert redis.Redis(host="::1", port=s.port, socket_timeout=30).ping()
    assert "Not listening on 192.0.2.1: " in s.read_log()

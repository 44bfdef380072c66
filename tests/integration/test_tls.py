"""TLS (docs/security.md): a TLS port beside the plain one (or alone with port 0), real clients
(redis-cli, redis-benchmark, redis-py) over it, client certificates as tls-auth-clients asks,
certificate reload with CONFIG SET, start-up refusal of bad certificates, the handshake's limits,
and replication with tls-replication. The certificates are made with the openssl CLI: a CA, a
server certificate for 127.0.0.1/localhost, a second one (the reload), a client certificate, and
a client certificate from a CA the server does not trust."""
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time

import pytest
import redis

from keel_harness import KeelServer, free_port
from test_replication import snapshot_of, wait_caught_up, write_everything


def openssl(*args, cwd):
    subprocess.run(["openssl"] + list(args), cwd=cwd, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


def make_ca(d, name, cn):
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", name + ".key", "-out", name + ".crt", "-days", "2",
            "-subj", "/CN=" + cn, cwd=d)


def make_cert(d, ca, name, cn, serial, san=None, password=None):
    key = ["-nodes"] if password is None else ["-passout", "pass:" + password]
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", *key,
            "-keyout", name + ".key", "-out", name + ".csr", "-subj", "/CN=" + cn, cwd=d)
    ext = []
    if san:
        with open(os.path.join(d, name + ".ext"), "w") as f:
            f.write("subjectAltName=%s\n" % san)
        ext = ["-extfile", name + ".ext"]
    openssl("x509", "-req", "-in", name + ".csr", "-CA", ca + ".crt", "-CAkey", ca + ".key",
            "-set_serial", str(serial), "-out", name + ".crt", "-days", "2", *ext, cwd=d)


@pytest.fixture(scope="module")
def certs():
    d = tempfile.mkdtemp(prefix="keel-tls-")
    make_ca(d, "ca", "Keel Test CA")
    make_ca(d, "other-ca", "Someone Else's CA")
    san = "IP:127.0.0.1,DNS:localhost"
    make_cert(d, "ca", "server", "keel-server-1", 1001, san)
    make_cert(d, "ca", "server2", "keel-server-2", 1002, san)
    make_cert(d, "ca", "client", "keel-client", 2001)
    make_cert(d, "other-ca", "stranger", "stranger", 3001)
    make_cert(d, "ca", "locked", "keel-server-locked", 1003, san, password="s3cret")
    with open(os.path.join(d, "garbage.crt"), "w") as f:
        f.write("-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n")
    yield {n: os.path.join(d, n) for n in os.listdir(d)} | {"dir": d}
    shutil.rmtree(d, ignore_errors=True)


def tls_args(certs, cert="server", auth=None, extra=()):
    a = ["--tls-cert-file", certs[cert + ".crt"], "--tls-key-file", certs[cert + ".key"],
         "--tls-ca-cert-file", certs["ca.crt"]]
    if auth:
        a += ["--tls-auth-clients", auth]
    return a + list(extra)


class TlsServer(KeelServer):
    """A keel-server with a TLS port; plain=False: --port 0 (TLS only). Clients speak TLS with
    the test client certificate unless told otherwise."""

    def __init__(self, certs, args=(), plain=True, trust="ca", **kw):
        self.certs = certs
        self.trust = trust  # the CA the test's clients verify the server with
        self.tls_port = free_port()
        super().__init__(args=["--tls-port", str(self.tls_port)] + list(args), **kw)
        if not plain:
            self.args += ["--port", "0"]
        self.plain = plain

    def tls_client(self, cert="client", **kw):
        kw.setdefault("socket_timeout", 30)
        if cert:
            kw.setdefault("ssl_certfile", self.certs[cert + ".crt"])
            kw.setdefault("ssl_keyfile", self.certs[cert + ".key"])
        return redis.Redis(port=self.tls_port, ssl=True, ssl_ca_certs=self.certs[self.trust + ".crt"],
                           **kw)

    def client(self, **kw):
        return super().client(**kw) if self.plain else self.tls_client(**kw)

    def wait_ready(self, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("keel-server exited with %s:\n%s" %
                                   (self.proc.returncode, self.read_log()))
            try:
                if self.tls_client(socket_timeout=1).ping():
                    return
            except (redis.exceptions.ConnectionError, ssl.SSLError, OSError):
                time.sleep(0.05)
        raise RuntimeError("keel-server did not start:\n" + self.read_log())


def tls_server(live, certs, args=(), plain=True, cert="server", auth=None, durability="off",
               trust="ca"):
    s = TlsServer(certs, tls_args(certs, cert, auth, args), plain=plain, durability=durability,
                  trust=trust)
    live.append(s)
    return s.start()


def ssl_context(certs, cert="client"):
    ctx = ssl.create_default_context(cafile=certs["ca.crt"])
    if cert:
        ctx.load_cert_chain(certs[cert + ".crt"], certs[cert + ".key"])
    return ctx


def peer_certificate(certs, port, cert="client"):
    """(serial, common name) of the certificate the server shows a new connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with ssl_context(certs, cert).wrap_socket(raw, server_hostname="127.0.0.1") as s:
            pc = s.getpeercert()
            s.sendall(b"PING\r\n")
            assert s.recv(64) == b"+PONG\r\n"
    cn = dict(x[0] for x in pc["subject"])["commonName"]
    return int(pc["serialNumber"], 16), cn


def cli(s, *args, cert=True):
    cmd = ["redis-cli", "-p", str(s.tls_port), "--tls", "--cacert", s.certs["ca.crt"]]
    if cert:
        cmd += ["--cert", s.certs["client.crt"], "--key", s.certs["client.key"]]
    return subprocess.run(cmd + list(args), capture_output=True, text=True, timeout=30)


def test_redis_cli_runs_commands_over_tls(live, certs):
    s = tls_server(live, certs)
    assert cli(s, "SET", "greeting", "hello over tls").stdout.strip() == "OK"
    assert cli(s, "GET", "greeting").stdout.strip() == "hello over tls"
    assert cli(s, "INCRBY", "n", "41").stdout.strip() == "41"
    # The same data seen over the plain port: one server, two listeners.
    assert s.client().get("greeting") == b"hello over tls"
    info = s.client(decode_responses=True).info("server")
    assert info["tcp_port"] == s.port
    assert info["listener0"] == {"name": "tcp", "bind": "127.0.0.1", "port": s.port}
    assert info["listener1"] == {"name": "tls", "bind": "127.0.0.1", "port": s.tls_port}


def test_redis_benchmark_over_tls_completes_every_request(live, certs):
    s = tls_server(live, certs)
    n = 2000
    out = subprocess.run(
        ["redis-benchmark", "-p", str(s.tls_port), "--tls", "--cacert", certs["ca.crt"],
         "--cert", certs["client.crt"], "--key", certs["client.key"], "-t", "set,get", "-n",
         str(n), "-c", "20", "-P", "4", "-d", "100", "--csv", "-q"],
        capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    stats = s.client(decode_responses=True).info("commandstats")
    for cmd in ("set", "get"):
        st = stats["cmdstat_" + cmd]
        assert st["calls"] == n, st
        assert st["failed_calls"] == 0 and st["rejected_calls"] == 0, st


def test_redis_py_pipelines_and_megabyte_values_round_trip(live, certs):
    s = tls_server(live, certs, plain=False)
    c = s.tls_client()
    p = c.pipeline(transaction=False)
    for i in range(1000):
        p.set("k%d" % i, "value-%d" % i)
    assert p.execute() == [True] * 1000
    p = c.pipeline(transaction=False)
    for i in range(1000):
        p.get("k%d" % i)
    assert p.execute() == [b"value-%d" % i for i in range(1000)]
    # 1 MB values: many TLS records per value, and replies larger than the socket buffer, so the
    # server's writes stop on WANT_WRITE and resume, and its reads see records split anywhere.
    big = [os.urandom(1 << 20) for _ in range(8)]
    p = c.pipeline(transaction=False)
    for i, v in enumerate(big):
        p.set("big%d" % i, v)
    assert p.execute() == [True] * 8
    assert c.mget(["big%d" % i for i in range(8)]) == big
    assert c.get("big3") == big[3]
    assert c.strlen("big7") == 1 << 20


def test_a_slow_reader_gets_its_large_reply_whole(live, certs):
    """The server must keep the reply pending (WANT_WRITE) while the client does not read."""
    s = tls_server(live, certs)
    v = os.urandom(4 << 20)
    s.client().set("huge", v)
    with socket.socket() as raw:
        # A small window (not tiny: with a 4 KB one loopback TCP itself crawls on delayed ACKs)
        # and a reply 64 times its size: the server's writes stop on WANT_WRITE many times.
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        raw.settimeout(30)
        raw.connect(("127.0.0.1", s.tls_port))
        with ssl_context(certs).wrap_socket(raw, server_hostname="127.0.0.1") as t:
            t.sendall(b"GET huge\r\nPING\r\n")
            time.sleep(1)  # the server's socket buffer is full by now
            assert s.client().ping()  # and the server serves others meanwhile
            want = b"$%d\r\n" % len(v) + v + b"\r\n+PONG\r\n"
            got = bytearray()
            while len(got) < len(want):
                chunk = t.recv(65536)
                assert chunk, "connection closed after %d bytes" % len(got)
                got += chunk
            assert bytes(got) == want


class MemoryTls:
    """A TLS client whose records are made in memory (ssl.MemoryBIO), so that the test decides
    which records reach the server's socket together."""

    def __init__(self, certs, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.inc, self.out = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.obj = ssl_context(certs).wrap_bio(self.inc, self.out, server_hostname="127.0.0.1")
        while True:
            try:
                self.obj.do_handshake()
                break
            except ssl.SSLWantReadError:
                self.sock.sendall(self.out.read())
                self.inc.write(self.sock.recv(65536))
        self.sock.sendall(self.out.read())

    def send_records(self, payloads):
        """Each payload its own record; all of them in one send."""
        for p in payloads:
            self.obj.write(p)
        self.sock.sendall(self.out.read())

    def read_until(self, want):
        got = b""
        while len(got) < len(want):
            try:
                got += self.obj.read(65536)
            except ssl.SSLWantReadError:
                data = self.sock.recv(65536)
                if not data:
                    break
                self.inc.write(data)
        return got


def test_records_buffered_inside_openssl_are_served_without_more_input(live, certs):
    """Read-ahead takes every record the socket holds; the server must serve those OpenSSL keeps
    after a read before waiting for epoll, which will not report them again."""
    s = tls_server(live, certs)
    m = MemoryTls(certs, s.tls_port)
    m.send_records([b"PING\r\n", b"INCR n\r\n"])
    assert m.read_until(b"+PONG\r\n:1\r\n") == b"+PONG\r\n:1\r\n"
    m.send_records([b"INCR n\r\n"] * 50)
    want = b"".join(b":%d\r\n" % i for i in range(2, 52))
    assert m.read_until(want) == want
    # A command split across records, the last one arriving with the next command.
    m.send_records([b"*3\r\n$3\r\nSET\r\n$1\r\nk", b"\r\n$2\r\nab\r\n", b"GET k\r\n"])
    assert m.read_until(b"+OK\r\n$2\r\nab\r\n") == b"+OK\r\n$2\r\nab\r\n"
    m.sock.close()


def test_auth_clients_yes_refuses_a_client_without_a_certificate(live, certs):
    s = tls_server(live, certs)  # tls-auth-clients defaults to yes
    with pytest.raises((redis.exceptions.ConnectionError, ssl.SSLError)):
        s.tls_client(cert=None, retry_on_timeout=False).ping()
    with pytest.raises((redis.exceptions.ConnectionError, ssl.SSLError)):
        s.tls_client(cert="stranger").ping()  # a certificate of a CA it does not trust
    assert cli(s, "PING", cert=False).stdout.strip() != "PONG"
    assert s.tls_client().ping()
    assert s.client(decode_responses=True).info("stats")["keel_tls_handshake_errors"] >= 2


def test_auth_clients_optional_accepts_a_client_without_a_certificate(live, certs):
    s = tls_server(live, certs, auth="optional")
    assert s.tls_client(cert=None).ping()
    assert cli(s, "PING", cert=False).stdout.strip() == "PONG"
    assert s.tls_client().ping()
    with pytest.raises((redis.exceptions.ConnectionError, ssl.SSLError)):
        s.tls_client(cert="stranger").ping()  # one shown is still verified
    s2 = tls_server(live, certs, auth="no")
    assert s2.tls_client(cert="stranger").ping()


def test_a_plain_client_on_the_tls_port_fails_cleanly(live, certs):
    s = tls_server(live, certs)
    errors = s.client(decode_responses=True).info("stats")["keel_tls_handshake_errors"]
    with socket.create_connection(("127.0.0.1", s.tls_port), timeout=10) as raw:
        raw.sendall(b"*1\r\n$4\r\nPING\r\n")
        try:
            data = raw.recv(1024)
        except ConnectionResetError:
            data = b""
        assert b"PONG" not in data  # a TLS alert at most, then the close
        try:
            assert raw.recv(1024) == b""
        except ConnectionResetError:
            pass
    with pytest.raises(redis.exceptions.ConnectionError):
        redis.Redis(port=s.tls_port, socket_timeout=5).ping()
    assert s.tls_client().ping() and s.client().ping()
    assert s.client(decode_responses=True).info("stats")["keel_tls_handshake_errors"] >= errors + 2


def test_a_tls_client_on_the_plain_port_fails_cleanly(live, certs):
    s = tls_server(live, certs)
    with socket.create_connection(("127.0.0.1", s.port), timeout=10) as raw:
        with pytest.raises((ssl.SSLError, OSError)):
            ssl_context(certs).wrap_socket(raw, server_hostname="127.0.0.1")
    with pytest.raises((redis.exceptions.ConnectionError, ssl.SSLError)):
        redis.Redis(port=s.port, ssl=True, ssl_ca_certs=certs["ca.crt"], socket_timeout=5).ping()
    assert s.client().ping() and s.tls_client().ping()


def test_clients_that_never_handshake_block_nobody_and_are_dropped(live, certs):
    s = tls_server(live, certs)
    silent = [socket.create_connection(("127.0.0.1", s.tls_port), timeout=30) for _ in range(5)]
    half = socket.create_connection(("127.0.0.1", s.tls_port), timeout=30)
    half.sendall(b"\x16\x03\x01\x02\x00\x01")  # the start of a ClientHello, then nothing
    started = time.time()
    try:
        c = s.tls_client()
        for i in range(200):  # others are served at once, over TLS and plain TCP
            assert c.incr("n") == i + 1
        assert s.client().get("n") == b"200"
        assert time.time() - started < 5
        # They count as connections (maxclients) while they wait.
        admin = s.client(decode_responses=True)
        clients = admin.info("clients")["connected_clients"]
        assert clients >= 6 + 2
        admin.config_set("maxclients", clients)
        with socket.create_connection(("127.0.0.1", s.port), timeout=10) as refused:
            assert refused.recv(100) == b"-ERR max number of clients reached\r\n"
        with pytest.raises((redis.exceptions.ConnectionError, ssl.SSLError)):
            s.tls_client().ping()  # over TLS: closed at once (no error it could read)
        admin.config_set("maxclients", 10000)
        # Dropped at the handshake timeout (10 s), not before.
        for sock in silent + [half]:
            sock.settimeout(20)
            try:
                assert sock.recv(1024) == b""
            except ConnectionResetError:
                pass
        waited = time.time() - started
        assert 8 < waited < 18, waited
        assert admin.info("clients")["connected_clients"] < clients
        assert c.incr("n") == 201  # a finished handshake is not subject to that deadline
    finally:
        for sock in silent + [half]:
            sock.close()


def test_config_set_reloads_the_certificate_for_new_connections_only(live, certs):
    s = tls_server(live, certs)
    assert peer_certificate(certs, s.tls_port) == (1001, "keel-server-1")
    old = s.tls_client()
    assert old.set("before", 1)
    rc = s.client(decode_responses=True)
    # A new certificate with its own key: the two change together in one CONFIG SET.
    rc.execute_command("CONFIG", "SET", "tls-cert-file", certs["server2.crt"], "tls-key-file",
                       certs["server2.key"])
    assert peer_certificate(certs, s.tls_port) == (1002, "keel-server-2")
    assert old.get("before") == b"1"  # the old connection kept its session
    assert old.set("after", 2)
    # A file that does not load is refused and the running context stays.
    for bad in ([certs["garbage.crt"]], ["/nonexistent/cert.pem"]):
        with pytest.raises(redis.ResponseError, match="Unable to update TLS configuration"):
            rc.config_set("tls-cert-file", bad[0])
        assert rc.config_get("tls-cert-file") == {"tls-cert-file": certs["server2.crt"]}
        assert peer_certificate(certs, s.tls_port) == (1002, "keel-server-2")
    # A key that does not match the new certificate refuses the whole CONFIG SET: nothing changes,
    # not even the other pair named with it.
    with pytest.raises(redis.ResponseError, match="Unable to update TLS configuration"):
        rc.execute_command("CONFIG", "SET", "maxmemory-samples", "7", "tls-cert-file",
                           certs["server.crt"], "tls-key-file", certs["server2.key"])
    assert rc.config_get("maxmemory-samples") == {"maxmemory-samples": "5"}
    assert rc.config_get("tls-key-file") == {"tls-key-file": certs["server2.key"]}
    assert peer_certificate(certs, s.tls_port) == (1002, "keel-server-2")
    # Other tls-* settings build a new context too: auth-clients at once for new connections.
    with pytest.raises((redis.exceptions.ConnectionError, ssl.SSLError)):
        s.tls_client(cert=None).ping()
    rc.config_set("tls-auth-clients", "optional")
    assert s.tls_client(cert=None).ping()
    with pytest.raises(redis.ResponseError):
        rc.config_set("tls-protocols", "TLSv1.2 SSLv3")
    with pytest.raises(redis.ResponseError):
        rc.config_set("tls-port", "7000")  # fixed at start, like port
    assert old.get("after") == b"2"


def test_tls_protocols_and_ciphersuites_are_enforced(live, certs):
    s = tls_server(live, certs, args=["--tls-protocols", "TLSv1.3"])
    ctx = ssl_context(certs)
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    with socket.create_connection(("127.0.0.1", s.tls_port), timeout=10) as raw:
        with pytest.raises((ssl.SSLError, OSError)):
            ctx.wrap_socket(raw, server_hostname="127.0.0.1")
    with socket.create_connection(("127.0.0.1", s.tls_port), timeout=10) as raw:
        with ssl_context(certs).wrap_socket(raw, server_hostname="127.0.0.1") as t:
            assert t.version() == "TLSv1.3"
    s.client().config_set("tls-protocols", "TLSv1.2")
    with socket.create_connection(("127.0.0.1", s.tls_port), timeout=10) as raw:
        with ssl_context(certs).wrap_socket(raw, server_hostname="127.0.0.1") as t:
            assert t.version() == "TLSv1.2"
    s.client().config_set("tls-ciphers", "ECDHE-ECDSA-AES128-GCM-SHA256")
    with socket.create_connection(("127.0.0.1", s.tls_port), timeout=10) as raw:
        with ssl_context(certs).wrap_socket(raw, server_hostname="127.0.0.1") as t:
            assert t.cipher()[0] == "ECDHE-ECDSA-AES128-GCM-SHA256"
    with pytest.raises(redis.ResponseError, match="tls-ciphers"):
        s.client().config_set("tls-ciphers", "NO-SUCH-CIPHER")


def resumed(certs, port):
    """Whether a second connection resumes the first one's session."""
    ctx = ssl_context(certs)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as t:
            t.sendall(b"PING\r\n")
            assert t.recv(64) == b"+PONG\r\n"  # (TLSv1.3 tickets come after the handshake)
            session = t.session
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname="127.0.0.1", session=session) as t:
            t.sendall(b"PING\r\n")
            assert t.recv(64) == b"+PONG\r\n"
            return t.session_reused


def test_session_caching_lets_clients_resume(live, certs):
    s = tls_server(live, certs)
    assert resumed(certs, s.tls_port)
    s.client().config_set("tls-session-caching", "no")
    assert not resumed(certs, s.tls_port)


def test_tls_only_with_port_0(live, certs):
    s = tls_server(live, certs, plain=False)
    with pytest.raises(redis.exceptions.ConnectionError):
        redis.Redis(port=s.port, socket_timeout=2).ping()
    info = s.tls_client(decode_responses=True).info("server")
    assert info["tcp_port"] == 0
    assert info["listener0"] == {"name": "tls", "bind": "127.0.0.1", "port": s.tls_port}
    assert "listener1" not in info


def start_fails(live, args):
    s = KeelServer(args=args)
    live.append(s)
    s.start(wait=False)
    rc = s.proc.wait(timeout=30)
    return rc, s.read_log()


def test_bad_certificates_stop_the_start_with_a_clear_message(live, certs):
    tp = ["--tls-port", str(free_port())]
    rc, log = start_fails(live, tp + ["--tls-cert-file", "/nonexistent.crt", "--tls-key-file",
                                      certs["server.key"], "--tls-ca-cert-file", certs["ca.crt"]])
    assert rc == 1 and "Failed to configure TLS: Failed to load certificate /nonexistent.crt" in log
    rc, log = start_fails(live, tp + tls_args(certs, "server")[:2] + ["--tls-key-file",
                                                                     certs["server2.key"],
                                                                     "--tls-ca-cert-file",
                                                                     certs["ca.crt"]])
    assert rc == 1 and "Failed to configure TLS" in log and "mismatch" in log, log
    rc, log = start_fails(live, tp + ["--tls-cert-file", certs["garbage.crt"], "--tls-key-file",
                                      certs["server.key"], "--tls-ca-cert-file", certs["ca.crt"]])
    assert rc == 1 and "Failed to load certificate " + certs["garbage.crt"] in log, log
    rc, log = start_fails(live, tp + ["--tls-cert-file", certs["server.crt"], "--tls-key-file",
                                      certs["server.key"]])
    assert rc == 1 and "tls-ca-cert-file" in log, log  # auth-clients yes needs a CA
    rc, log = start_fails(live, tp + tls_args(certs, "locked"))
    assert rc == 1 and "Failed to load private key" in log, log  # encrypted, no password
    rc, log = start_fails(live, tp + tls_args(certs, "locked") + ["--tls-key-file-pass", "wrong"])
    assert rc == 1 and "Failed to load private key" in log, log
    rc, log = start_fails(live, ["--port", "0"])
    assert rc == 1 and "to not listen anywhere" in log, log
    rc, log = start_fails(live, tp + ["--tls-protocols", "TLSv2"])
    assert rc == 1 and "TLSv2" in log, log


def test_an_encrypted_key_loads_with_its_password(live, certs):
    s = tls_server(live, certs, cert="locked", args=["--tls-key-file-pass", "s3cret"])
    assert peer_certificate(certs, s.tls_port)[1] == "keel-server-locked"


def test_replication_over_tls_on_both_channels(live, certs):
    p = tls_server(live, certs, plain=False, durability="sync")
    pc = p.tls_client()
    write_everything(pc, "before", 300)  # a new replica takes these by a full sync
    r = tls_server(live, certs, cert="server2", durability="sync",
                   args=["--tls-replication", "yes", "--replicaof",
                         "127.0.0.1 %d" % p.tls_port])
    rc = r.client()
    wait_caught_up(pc, rc)
    assert pc.info("stats")["sync_full"] >= 1
    write_everything(pc, "after", 300)  # then the stream
    wait_caught_up(pc, rc)
    assert snapshot_of(rc) == snapshot_of(pc)
    slave = pc.info("replication")["slave0"]
    assert slave["port"] == r.tls_port, slave  # the replica announces its TLS port
    assert "sending the snapshot on channel" in p.read_log()  # the second connection, over TLS


def test_a_replica_refuses_a_primary_its_ca_does_not_trust(live, certs):
    p = tls_server(live, certs, plain=False, cert="stranger", auth="no", trust="other-ca")
    # The stranger's certificate is signed by another CA: the primary starts (it need not
    # trust itself), but a replica verifying it against ca.crt must not follow it.
    r = tls_server(live, certs, args=["--tls-replication", "yes", "--replicaof",
                                      "127.0.0.1 %d" % p.tls_port])
    deadline = time.time() + 10
    while time.time() < deadline and "certificate verify failed" not in r.read_log():
        time.sleep(0.1)
    assert "certificate verify failed" in r.read_log()
    info = r.client(decode_responses=True).info("replication")
    assert info["master_link_status"] == "down"
    assert "certificate verify failed" in info["keel_link_error"], info

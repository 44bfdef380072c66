"""keel_harness - start a real keel-server on a free loopback port and talk to it.

Used by tests/integration and tests/crash. Every server started here is killed by PID when the
test ends (also when it fails): the fixtures call stop() in a finally block, and an atexit hook
kills anything left.
"""
import atexit
import os
import signal
import socket
import subprocess
import tempfile
import threading
import time

import redis

BIN_DIR = os.environ.get("KEEL_BIN", os.path.join(os.path.dirname(__file__), "..", "build"))
# Extra arguments for every server of the current build ("--io-threads 4": scripts/test.sh runs
# the ASan integration stage so); a test's own arguments come after and win.
EXTRA_ARGS = os.environ.get("KEEL_SERVER_ARGS", "").split()
SANITIZED = os.environ.get("KEEL_SANITIZED") == "1"
_live = set()


def _kill_all():
    for p in list(_live):
        try:
            p.kill()
        except OSError:
            pass


atexit.register(_kill_all)


def binary(name="keel-server"):
    return os.path.abspath(os.path.join(BIN_DIR, name))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(pred, timeout=20, what="condition", step=0.05):
    """Until pred() is true; returns its value, or raises AssertionError naming `what` after
    `timeout` seconds."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(step)
    raise AssertionError("timed out after %.0f s waiting for %s" % (timeout, what))


def wal_last_lsn(c):
    """The LSN of the newest log record (INFO wal). INFO waits for no ordinary write: one has
    executed once this moved past the value read before it was sent, while its record may still
    be syncing. (A barrier - FLUSHALL, a write of more keys than the uncommitted-key filter
    tracks - parks INFO as well: this cannot see one execute.)"""
    return c.info("wal")["wal_last_lsn"]


def wait_logged(c, after, timeout=20):
    """Until a write past LSN `after` has executed (tests that must read while a record is
    being synced: a fixed sleep guesses, and a loaded machine makes it guess wrong)."""
    return wait_for(lambda: wal_last_lsn(c) > after, timeout,
                    "a write past LSN %d to execute" % after, step=0.005)


class KeelServer:
    """One keel-server process. args: extra '--name value' strings. bin_path: another
    keel-server binary than $KEEL_BIN's (tests/compat runs an older build)."""

    def __init__(self, args=(), data_dir=None, durability="off", port=None, config_file=None,
                 bin_path=None):
        self.bin_path = bin_path
        self.port = port or free_port()
        self.own_port = port is None  # picked here: start() may pick another if it is taken
        self.own_dir = data_dir is None
        self.dir = data_dir or tempfile.mkdtemp(prefix="keel-test-")
        self.args = list(args)
        self.durability = durability
        self.config_file = config_file
        self.proc = None
        self.log_path = os.path.join(self.dir, "server.log")
        self.debug_command = True  # --enable-debug-command local (tests use DEBUG)
        self.popen_kw = {}  # extra subprocess.Popen arguments (preexec_fn for rlimits)

    def cmdline(self):
        cmd = [self.bin_path or binary()]
        if self.config_file:
            cmd.append(self.config_file)
        cmd += ["--bind", "127.0.0.1", "--port", str(self.port), "--dir", self.dir]
        if self.debug_command and not self.bin_path:  # builds before 0.3 have no such setting
            cmd += ["--enable-debug-command", "local"]
        if self.durability is not None:
            cmd += ["--durability", self.durability]
        if not self.bin_path:
            cmd += EXTRA_ARGS
        return cmd + self.args

    def start(self, wait=True, timeout=30):
        """Starts the server and (wait) waits until it answers. free_port() only finds a port
        that was free a moment ago: another test process (pytest-xdist runs several) may bind
        it first. A server that cannot listen for that reason is started again on a new port,
        its log cut back to where it was, when the port was picked here and nothing reached
        the server yet."""
        for attempt in range(5):
            log_start = os.path.getsize(self.log_path) if os.path.exists(self.log_path) else 0
            self.log = open(self.log_path, "ab")
            self.proc = subprocess.Popen(self.cmdline(), stdout=self.log,
                                         stderr=subprocess.STDOUT, **self.popen_kw)
            _live.add(self.proc)
            if not wait:
                return self
            try:
                self.wait_ready(timeout)
                return self
            except RuntimeError:
                if not (self.own_port and attempt < 4 and self.proc.poll() is not None and
                        b"Address already in use" in self._log_bytes(log_start)):
                    raise
            _live.discard(self.proc)
            self.log.close()
            os.truncate(self.log_path, log_start)
            self.port = free_port()
        return self

    def wait_ready(self, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("keel-server exited with %s:\n%s" % (self.proc.returncode, self.read_log()))
            try:
                c = redis.Redis(port=self.port, socket_timeout=1)
                if c.ping():
                    if self._answered_by_another(c):
                        continue
                    return
            except redis.exceptions.AuthenticationError:
                return  # NOAUTH (requirepass): it is up; a ConnectionError subclass in redis-py
            except redis.exceptions.ConnectionError:
                time.sleep(0.02)
            except redis.exceptions.TimeoutError:
                pass  # a loaded machine, or a listener that is not ours: ask again
            except redis.exceptions.ResponseError:
                return  # e.g. NOAUTH: it is up
        raise RuntimeError("keel-server did not start:\n" + self.read_log())

    def _answered_by_another(self, c):
        """True when another process answers on our port (another test's server took it first:
        ours is about to exit, as wait_ready will see). INFO's process_id tells; builds without
        it are taken to be ours."""
        try:
            pid = c.info("server").get("process_id")
        except redis.exceptions.RedisError:
            return False
        finally:
            c.close()
        if pid is None or int(pid) == self.proc.pid:
            return False
        time.sleep(0.02)
        return True

    def _log_bytes(self, start=0):
        try:
            with open(self.log_path, "rb") as f:
                f.seek(start)
                return f.read()
        except OSError:
            return b""

    def read_log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def client(self, **kw):
        kw.setdefault("socket_timeout", 30)
        return redis.Redis(port=self.port, **kw)

    def raw(self, resp=2):
        return RawConn(self.port, resp)

    def kill(self, sig=signal.SIGKILL):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=60)
        _live.discard(self.proc)

    def stop(self):
        """Graceful stop; returns the exit code. A sanitizer report makes it non-zero."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        _live.discard(self.proc)
        self.log.close()
        return self.proc.returncode

    def cleanup(self):
        self.kill()
        if self.own_dir:
            subprocess.run(["rm", "-rf", self.dir])


class RespError(Exception):
    pass


class Push(list):
    """A RESP3 push message ('>')."""


class Verbatim(str):
    pass


class RawConn:
    """A minimal RESP2/RESP3 client that keeps reply types apart (redis-py 4 has no RESP3)."""

    def __init__(self, port, resp=2):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.buf = b""
        if resp == 3:
            self.call("HELLO", "3")

    def close(self):
        self.sock.close()

    def send(self, data):
        self.sock.sendall(data)

    def send_cmd(self, *args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            if not isinstance(a, bytes):
                a = str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        self.send(b"".join(out))

    def call(self, *args):
        self.send_cmd(*args)
        return self.read()

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed by server")
        self.buf += chunk

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n):
        while len(self.buf) < n + 2:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def read(self):
        line = self._line()
        t, rest = line[:1], line[1:]
        if t == b"+":
            return rest.decode()
        if t == b"-":
            return RespError(rest.decode())
        if t == b":":
            return int(rest)
        if t == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n)
        if t in (b"*", b"~", b">"):
            n = int(rest)
            if n < 0:
                return None
            items = [self.read() for _ in range(n)]
            if t == b"~":
                return set(x if not isinstance(x, list) else tuple(x) for x in items)
            return Push(items) if t == b">" else items
        if t == b"%":
            n = int(rest)
            d = {}
            for _ in range(n):
                k = self.read()
                d[k if not isinstance(k, list) else tuple(k)] = self.read()
            return d
        if t == b"_":
            return None
        if t == b",":
            v = rest.decode()
            return float(v)
        if t == b"#":
            return rest == b"t"
        if t == b"=":
            data = self._exact(int(rest))
            return Verbatim(data[4:].decode())
        if t == b"(":
            return int(rest)
        raise ValueError("unknown RESP type %r" % line)


class Proxy:
    """A TCP proxy between a replica and its primary that can cut the link, stall it (both
    directions: `stalled`) or hold only the replica's direction (its ACKs: `hold_up`) while the
    primary's records still reach it."""

    def __init__(self, target_port):
        self.target = target_port
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(8)
        self.port = self.lsock.getsockname()[1]
        self.stalled = threading.Event()
        self.hold_up = threading.Event()
        self.conns = []
        self.accepts = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                a, _ = self.lsock.accept()
            except OSError:
                return
            b = socket.create_connection(("127.0.0.1", self.target))
            self.accepts += 1
            self.conns += [a, b]
            for x, y, up in ((a, b, True), (b, a, False)):
                threading.Thread(target=self._pump, args=(x, y, up), daemon=True).start()

    def _pump(self, src, dst, upstream):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                while self.stalled.is_set() or (upstream and self.hold_up.is_set()):
                    time.sleep(0.05)
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cut(self):
        for s in self.conns:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.conns = []

    def close(self):
        self.cut()
        self.lsock.close()

#!/usr/bin/python3
"""repl_probe.py - the measuring side of bench/replication.sh (run by it, not alone).

  repl_probe.py lag PRIMARY_PORT REPLICA_PORT SECONDS [INTERVAL_MS]
      While some other load writes to the primary, for SECONDS:
      - every INTERVAL_MS (10) a probe SETs a unique key holding a timestamp on the primary,
        then polls the replica with GET until the key is there: the lag in ms is from sending
        the SET to the first GET that sees it (resolution: one GET round trip, ~0.2 ms poll);
      - every INTERVAL_MS another thread sends INFO replication to the replica and to the
        primary back to back, then reads both answers: offset lag = primary master_repl_offset
        - replica slave_repl_offset (LSNs for keel, bytes of the stream for Redis/Valkey);
      - cmdstat_set calls on the primary before and after give the load's SET/s.
      Prints: lag_ms_p50 lag_ms_p99 offset_p50 offset_p99 set_per_s probes samples

  repl_probe.py catchup PORT TARGET_OFFSET T0 TIMEOUT_S
      After a replica was started at T0 (epoch seconds), polls it every 5 ms until
      master_link_status is up and slave_repl_offset >= TARGET_OFFSET.
      Prints: seconds-from-T0-to-first-PONG seconds-from-T0-to-caught-up
"""
import math
import sys
import threading
import time

import redis

HOST = "127.0.0.1"


def pct(values, p):
    """Nearest-rank percentile; nan when there is nothing."""
    if not values:
        return float("nan")
    v = sorted(values)
    return v[max(0, math.ceil(p * len(v)) - 1)]


def info_fields(raw):
    out = {}
    if isinstance(raw, bytes):
        raw = raw.decode()
    for line in raw.splitlines():
        k, sep, v = line.partition(":")
        if sep:
            out[k] = v
    return out


def set_calls(r):
    st = r.info("commandstats").get("cmdstat_set")
    return st["calls"] if st else 0


def lag(primary, replica, seconds, interval_ms=10):
    interval = interval_ms / 1000.0
    stop_at = time.monotonic() + seconds
    offsets = []

    def sample_offsets():
        cp = redis.Connection(host=HOST, port=primary)
        cr = redis.Connection(host=HOST, port=replica)
        nxt = time.monotonic()
        while time.monotonic() < stop_at:
            cr.send_command("INFO", "replication")
            cp.send_command("INFO", "replication")
            fr = info_fields(cr.read_response())
            fp = info_fields(cp.read_response())
            if fr.get("master_link_status") == "up":
                offsets.append(int(fp["master_repl_offset"]) - int(fr["slave_repl_offset"]))
            nxt += interval
            time.sleep(max(0.0, nxt - time.monotonic()))

    th = threading.Thread(target=sample_offsets)
    rp = redis.Redis(host=HOST, port=primary)
    rr = redis.Redis(host=HOST, port=replica)
    calls0, t_calls0 = set_calls(rp), time.monotonic()
    th.start()
    lags = []
    i = 0
    nxt = time.monotonic()
    tag = "%x" % time.time_ns()
    while time.monotonic() < stop_at:
        key = "probe:%s:%d" % (tag, i)
        i += 1
        t0 = time.monotonic()
        rp.set(key, repr(time.time()))
        while rr.get(key) is None:
            if time.monotonic() - t0 > seconds + 60:
                raise SystemExit("probe %s never reached the replica" % key)
            time.sleep(0.0002)
        lags.append((time.monotonic() - t0) * 1000.0)
        nxt += interval
        time.sleep(max(0.0, nxt - time.monotonic()))
    th.join()
    rate = (set_calls(rp) - calls0 - i) / (time.monotonic() - t_calls0)
    print("%.3f %.3f %d %d %.0f %d %d" % (pct(lags, 0.50), pct(lags, 0.99), pct(offsets, 0.50),
                                          pct(offsets, 0.99), rate, len(lags), len(offsets)))


def catchup(port, target, t0, timeout):
    t_ping = None
    r = redis.Redis(host=HOST, port=port, socket_connect_timeout=1)
    while True:
        now = time.time()
        if now - t0 > timeout:
            raise SystemExit("replica on port %d not caught up after %.0f s" % (port, timeout))
        try:
            if t_ping is None and r.ping():
                t_ping = time.time() - t0
            f = r.info("replication")
            if (f.get("master_link_status") == "up"
                    and int(f.get("slave_repl_offset", -1)) >= target):
                print("%.3f %.3f" % (t_ping if t_ping is not None else float("nan"),
                                     time.time() - t0))
                return
        except (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError):
            pass  # not listening yet, or still loading its own data
        except redis.ResponseError as e:
            if "LOADING" not in str(e):
                raise
        time.sleep(0.005)


def main(argv):
    if len(argv) >= 4 and argv[1] == "lag":
        lag(int(argv[2]), int(argv[3]), float(argv[4]), float(argv[5]) if len(argv) > 5 else 10)
    elif len(argv) == 6 and argv[1] == "catchup":
        catchup(int(argv[2]), int(argv[3]), float(argv[4]), float(argv[5]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)

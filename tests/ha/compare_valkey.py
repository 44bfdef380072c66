#!/usr/bin/env python3
"""The failover harness of tests/ha (ha_lib.py) against valkey-server: appendonly yes with
appendfsync always (a write is on the primary's disk before its reply, as in Keel's durability
sync) and Valkey's asynchronous replication, three redis-sentinel processes, the same writers,
kills and checks. Prints each cycle and how many acknowledged writes were lost.

Not part of CI (it needs a valkey-server binary). Run by hand from the repository root:

    VALKEY=/path/to/valkey-server /usr/bin/python3 tests/ha/compare_valkey.py [--cycles 10]
    VALKEY=... /usr/bin/python3 tests/ha/compare_valkey.py --keel   # Keel too, same seed

--keel runs the Keel cluster first (build/keel-server, or KEEL_BIN) with the same seed, so both
see the same kill moments drawn from it.
"""
import argparse
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ha_lib import KeelNode, ValkeyNode, run_cycles, summary  # noqa: E402


def report(name, results, refused):
    s = summary(results)
    print("%s: %d failovers, %d acknowledged writes, lost %d SET + %d INCR acknowledged writes; "
          "failover (kill to first write) median %.2f s, max %.2f s" %
          (name, s["cycles"], s["acked"], s["lost_set"], s["lost_incr"], s["failover_median_s"],
           s["failover_max_s"]))
    bad = [r for r in results if r["extra"] or r["wrong"] or r["counter_over_sent"]]
    for r in bad:
        print("  cycle %d: extra %r wrong %r counters over sent %r" %
              (r["cycle"], r["extra"], r["wrong"], r["counter_over_sent"]))
    if refused:
        print("  refused commands:\n  " + "\n  ".join(refused[:20]))
    return s


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cycles", type=int, default=10)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--keel", action="store_true", help="run Keel too, with the same seed")
    ap.add_argument("--writers", type=int, default=12)
    ap.add_argument("--pipeline", type=int, default=32)
    a = ap.parse_args()
    if not os.environ.get("VALKEY") or not os.access(os.environ["VALKEY"], os.X_OK):
        sys.exit("set VALKEY to a valkey-server binary")
    seed = a.seed if a.seed is not None else random.randrange(1 << 30)
    out = {}
    runs = [("keel", KeelNode)] if a.keel else []
    runs.append(("valkey", ValkeyNode))
    for name, make in runs:
        print("== %s" % name)
        results, refused = run_cycles(make, a.cycles, seed=seed, writers=a.writers,
                                      pipeline_len=a.pipeline)
        out[name] = report(name, results, refused)
    if len(out) == 2:
        k, v = out["keel"], out["valkey"]
        print("lost acknowledged writes per 100,000 acknowledged: keel %.2f, valkey %.2f" %
              (1e5 * (k["lost_set"] + k["lost_incr"]) / max(k["acked"], 1),
               1e5 * (v["lost_set"] + v["lost_incr"]) / max(v["acked"], 1)))


if __name__ == "__main__":
    main()

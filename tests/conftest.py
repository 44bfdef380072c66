"""Shared by every pytest suite under tests/: the markers.

serial: the test cannot share the machine with another test process (scripts/test.sh runs the
integration and crash suites with pytest-xdist, `-m "not serial"`, then the serial ones alone
with `-m serial`). Give the reason next to the marker."""


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "serial: needs the machine to itself; run after the parallel pass (-m serial)")


# Under pytest-xdist (--dist loadfile) a process takes the next module in collection order when
# it is done with one: the longest modules go first, so that none of them starts last and runs
# alone at the end. Only an order (measured with --durations, release build, 2 cores); a module
# missing here keeps its place after these, a stale entry costs time, never a result.
LONGEST_FIRST = (
    "integration/test_tiering.py",             # ~40 s: 100 MB data sets over a 16 MB target
    "integration/test_sentinel_commands.py",   # ~21 s: a real Sentinel failover
    "integration/test_replication_large.py",   # ~18 s: a full sync of a million keys
    "integration/test_tls.py",                 # ~16 s: the 10 s handshake timeout
    "integration/test_durability.py",
    "integration/test_compat_diff.py",
    "integration/test_replication.py",
    "integration/test_replication_versions.py",
    "integration/test_integrity.py",
    "integration/test_security_limits.py",
    "crash/test_crash_sigkill.py",             # ~7 s each: cycles of writers and SIGKILLs
    "crash/test_crash_snapshot.py",
)


def pytest_collection_modifyitems(config, items):
    if getattr(config.option, "dist", "no") == "no":
        return
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}

    def key(item):
        path = item.nodeid.split("::", 1)[0]
        for name, i in rank.items():
            if path.endswith(name):
                return i
        return len(rank)

    items.sort(key=key)  # stable: a module's tests keep their order

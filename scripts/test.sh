#!/usr/bin/env bash
# test.sh - install what is needed, build, and run the whole test suite:
#   0. checks: private headers stay private, the tree matches .clang-format, no exported
#      function without a caller (the build itself refuses includes that go up a layer);
#   1. release build (warnings are errors): Criterion unit tests, then integration tests with real
#      clients (hiredis, redis-cli, redis-benchmark, Python redis) against the real server, the
#      crash tests, replication in both directions with the previous release (tests/compat: that
#      release is built from git history), and failovers driven by Redis Sentinel (tests/ha);
#   2. the same unit and integration tests built with AddressSanitizer + UndefinedBehaviorSanitizer,
#      the integration tests with I/O threads (io-threads 4);
#      then the libFuzzer harnesses of fuzz/ (clang), each for KEEL_FUZZ_SECONDS (20) s;
#   3. a ThreadSanitizer build: the unit tests, then a short concurrent load against the server
#      (tests/tsan: several writers, pipelining, three log copies, BGSAVE and SAVE, a restart; and
#      io-threads 4 under pipelines, big replies, a slow reader, CLIENT KILL, pub/sub, BLPOP).
# Exits non-zero on the first failing stage.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh test
jobs=$(nproc)
export PYTHONDONTWRITEBYTECODE=1

stage() { printf '\n==== %s ====\n' "$*"; }

# pytest_split SUITE...: the integration tests in KEEL_TEST_JOBS pytest-xdist processes, a test
# module at a time each (--dist loadfile: a module's server fixture and its tests stay in one
# process; tests/conftest.py hands out the longest modules first), then the tests marked `serial`
# (they cannot share the machine) alone; that pass may select nothing (pytest's exit 5).
# KEEL_TEST_JOBS defaults to nproc + 1: the tests wait on servers, timers and fsyncs more than
# they compute (on 2 cores, 3 processes took 123 s for the release stage, 2 took 140 s).
pytest_split() {
    /usr/bin/python3 -m pytest -q -p no:cacheprovider -n "${KEEL_TEST_JOBS:-$((jobs + 1))}" \
        --dist loadfile -m "not serial" "$@"
    grep -rqs "mark.serial" --include="test_*.py" "$@" || return 0  # collecting costs 2 s
    local rc=0
    /usr/bin/python3 -m pytest -q -p no:cacheprovider -m serial "$@" || rc=$?
    [ $rc -eq 0 ] || [ $rc -eq 5 ] || return $rc
}

stage "layering and format checks"
scripts/check-layers.sh
scripts/check-format.sh

stage "release build"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKEEL_WERROR=ON >/dev/null
cmake --build build -j"$jobs"

stage "exported functions all have callers"
scripts/check-exports.sh build

stage "unit tests (release)"
(cd build && ctest --output-on-failure -j"$jobs")

stage "integration and crash tests (release)"
suites=(tests/integration)
[ -n "$(ls tests/crash/test_*.py 2>/dev/null)" ] && suites+=(tests/crash)
KEEL_BIN="$PWD/build" pytest_split "${suites[@]}"

stage "replication against the previous release"
# Builds the newest release of tests/releases.txt older than HEAD from git history (cached in
# build-compat/<commit>) and replicates between it and build/ in both directions.
KEEL_BIN="$PWD/build" /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/compat

stage "failover under Sentinel (release)"
# tests/ha: three nodes and three redis-sentinel processes, KEEL_HA_CYCLES (10) SIGKILLs of the
# primary under pipelined writers; prints each cycle's failover time and lost writes.
KEEL_BIN="$PWD/build" /usr/bin/python3 -m pytest -q -s -rxX -p no:cacheprovider tests/ha

stage "sanitizer build (ASan + UBSan)"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DKEEL_SANITIZE=ON -DKEEL_WERROR=ON >/dev/null
cmake --build build-asan -j"$jobs"

stage "unit tests (ASan + UBSan)"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
(cd build-asan && ctest --output-on-failure -j"$jobs")

stage "integration tests (ASan + UBSan, io-threads 4)"
# The suite's second run: with I/O threads (io-threads 4: three threads read, parse and write for
# every server the tests start), so both the single-threaded and the threaded paths are covered.
KEEL_BIN="$PWD/build-asan" KEEL_SANITIZED=1 KEEL_SERVER_ARGS="--io-threads 4" pytest_split tests/integration

stage "fuzzers (libFuzzer, ${KEEL_FUZZ_SECONDS:-20} s each)"
# fuzz/: the RESP parser, the log's readers, the snapshot reader, the config parser, built with
# clang into build-fuzz/ (ASan + UBSan) and each run KEEL_FUZZ_SECONDS (20) from its seed corpus;
# new inputs go to a scratch directory. A crash prints its reproducer and how to replay it.
# (The corpus and the regressions were replayed by ctest in both builds above.)
scripts/fuzz.sh

stage "TSan build"
cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=Debug -DKEEL_TSAN=ON -DKEEL_WERROR=ON >/dev/null
cmake --build build-tsan -j"$jobs"

stage "unit tests (TSan)"
# A report stops the test (Criterion counts it failed); known races are in tests/tsan/tsan.supp.
# die_after_fork=0: the log's crash tests fork a child that starts the WAL thread and exits
# without closing (a simulated crash); TSan otherwise refuses threads after a fork.
tsan_supp="$PWD/tests/tsan/tsan.supp"
(cd build-tsan && \
    TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:die_after_fork=0:suppressions=$tsan_supp" \
    ctest --output-on-failure -j"$jobs")

stage "load under TSan"
KEEL_TSAN=1 KEEL_BIN="$PWD/build-tsan" /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/tsan

stage "all tests passed"

#!/usr/bin/env bash
# fuzz.sh - build the libFuzzer harnesses of fuzz/ with clang (ASan + UBSan) into build-fuzz/ and
# run each target for a while, starting from its seed corpus (fuzz/corpus/<target>/).
# Usage: scripts/fuzz.sh [TARGET...]      (default: resp wal snapshot config)
#   KEEL_FUZZ_SECONDS   seconds per target (default 20)
#   KEEL_FUZZ_KEEP=DIR  keep the inputs libFuzzer found in DIR/<target>/ (default: a scratch
#                       directory that is removed; the repository's corpus is never written)
# Exits 1 at the first target that crashes, leaks, hangs (-timeout) or runs out of memory, after
# printing the reproducer (kept under build-fuzz/artifacts/<target>/) and how to replay it.
# docs/fuzzing.md has the details.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
secs=${KEEL_FUZZ_SECONDS:-20}
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(resp wal snapshot config restore)
jobs=${JOBS:-$(nproc)}

command -v clang >/dev/null || { echo "fuzz.sh: clang not found (scripts/deps.sh test)" >&2; exit 2; }
CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKEEL_FUZZ=ON -DKEEL_TESTS=OFF \
    -DKEEL_WERROR=ON >/dev/null
cmake --build build-fuzz -j"$jobs" --target "${targets[@]/#/fuzz_}" >/dev/null

scratch=$(mktemp -d "${TMPDIR:-/tmp}/keel-fuzz-run.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
# The harnesses' own files (segments, snapshots, config files) go there too.
export KEEL_FUZZ_TMPDIR="$scratch"
# libFuzzer reports leaks itself (-detect_leaks); abort_on_error would turn its report into a
# core dump instead of an artifact.
export ASAN_OPTIONS=detect_leaks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

for t in "${targets[@]}"; do
    corpus="$scratch/corpus-$t"
    [ -n "${KEEL_FUZZ_KEEP:-}" ] && corpus="$KEEL_FUZZ_KEEP/$t"
    art="$root/build-fuzz/artifacts/$t"
    mkdir -p "$corpus" "$art"
    log="$scratch/$t.log"
    start=$(date +%s)
    set +e
    "build-fuzz/fuzz_$t" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 \
        -print_final_stats=1 -artifact_prefix="$art/" "$corpus" "fuzz/corpus/$t" >"$log" 2>&1
    rc=$?
    set -e
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -1 || true)
    echo "fuzz_$t: $(($(date +%s) - start)) s, ${execs:-?} inputs, ${cov:-no coverage line}"
    if [ $rc -ne 0 ]; then
        repro=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
        echo "---- fuzz_$t failed (exit $rc); the end of its log:"
        grep -vE '^#[0-9]+' "$log" | tail -60
        if [ -n "$repro" ]; then
            echo "---- reproducer: $repro"
            echo "replay it:          build-fuzz/fuzz_$t $repro"
            echo "or without clang:   build/fuzz_$t $repro   (build-asan/ for the sanitizers)"
            echo "once fixed, keep it: cp $repro fuzz/regressions/$t/<what-it-was>"
        fi
        exit 1
    fi
done

#!/usr/bin/env bash
# ab.sh - two keel-server builds side by side under the same redis-benchmark load: for a change
# that must not move performance (a refactor), this is the before/after table.
#
# SET and GET with 512-byte values, 50 clients, pipeline 1 and 16, with `durability off` (the
# engine alone) and `durability sync` (SET only: the log's path); ROUNDS interleaved rounds (A, B,
# A, B, ...) with a fresh server and data directory each time; prints the median requests/s of
# each build and the ratio B/A. Redis is not involved: bench/throughput.sh and bench/durable.sh
# compare against peers.
#
# Usage: bench/ab.sh BIN_A BIN_B [ROUNDS] [REQUESTS]   (keel-server binaries; defaults 5, 200000)
#   env DURS: the durability modes to run (default "off sync")
#   e.g. git worktree add /tmp/before <rev> && cmake -S /tmp/before -B /tmp/before/build &&
#        cmake --build /tmp/before/build --target keel-server && \
#        bench/ab.sh /tmp/before/build/keel-server build/keel-server
source "$(dirname "$0")/common.sh"
A=${1:?usage: bench/ab.sh BIN_A BIN_B [ROUNDS] [REQUESTS]}
B=${2:?usage: bench/ab.sh BIN_A BIN_B [ROUNDS] [REQUESTS]}
ROUNDS=${3:-5}
N=${4:-200000}
declare -A RES
run_one() { # label binary durability
    local label=$1 bin=$2 dur=$3 port pid tests
    port=$(free_port)
    KEEL=$bin start_keel "$port" --durability "$dur" --snapshot-wal-bytes 0 --snapshot-interval-s 0
    pid=$LAST_PID
    tests=set,get
    [ "$dur" = sync ] && tests=set
    for P in 1 16; do bench_rps "$label,$dur" "$port" "$tests" "$P" "$N"; done
    stop_pid "$pid"
}
DURS=${DURS:-off sync}
for round in $(seq 1 "$ROUNDS"); do
    for dur in $DURS; do
        run_one A "$A" "$dur"
        run_one B "$B" "$dur"
    done
    echo "round $round/$ROUNDS done" >&2
done
printf '%-5s %-6s %-3s %12s %12s %6s\n' dur test P A_rps B_rps B/A
for dur in off sync; do
    for t in SET GET; do
        for P in 1 16; do
            [ -n "${RES["A,$dur,$t,$P"]:-}" ] || continue
            a=$(echo ${RES["A,$dur,$t,$P"]} | tr ' ' '\n' | median)
            b=$(echo ${RES["B,$dur,$t,$P"]} | tr ' ' '\n' | median)
            printf '%-5s %-6s %-3s %12.0f %12.0f %6.2f\n' "$dur" "$t" "$P" "$a" "$b" \
                "$(echo "$b / $a" | bc -l)"
        done
    done
done

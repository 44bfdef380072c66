#!/usr/bin/env bash
# iothreads_callgrind.sh - what decides how I/O threads scale, measured where a 2-core machine
# cannot show it in wall-clock time: the main thread's instructions per request (callgrind,
# --separate-threads=yes, thread 1 only), for keel and for a peer (valkey-server 8, PEER=path)
# each with io-threads 1 and 4. Load: redis-benchmark SET or GET of 512-byte values, 50 clients,
# pipeline 1 and 16; a warm-up, then the counters zeroed and REQUESTS requests measured.
# Instruction counts do not depend on the machine's load; the waits of the main thread for its
# workers (iot_run's futex sleep) are a handful of instructions each.
#
# Usage: PEER=/path/to/valkey-server bench/iothreads_callgrind.sh [REQUESTS]   (default 100000)
source "$(dirname "$0")/common.sh"
REQ=${1:-100000}
cmake --build "$ROOT/build" --target keel-server >/dev/null

one() { # bin threads test pipeline -> instructions per request on the main thread
    local bin=$1 threads=$2 test=$3 pipe=$4 port d pid extra=()
    port=$(free_port)
    d="$BENCH_TMP/cg-$port"
    mkdir -p "$d"
    case "$bin" in
    *keel*) extra=(--durability off) ;;
    *) extra=(--save '' --appendonly no) ;;
    esac
    valgrind --tool=callgrind --separate-threads=yes --callgrind-out-file="$d/cg.out" \
        "$bin" --bind 127.0.0.1 --port "$port" --dir "$d" --io-threads "$threads" "${extra[@]}" \
        >"$d/log" 2>&1 &
    pid=$!
    PIDS+=("$pid")
    for _ in $(seq 1 1200); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.05; done
    redis-benchmark -p "$port" -t "$test" -n 20000 -c 50 -P "$pipe" -d 512 -r 100000 -q >/dev/null 2>&1
    callgrind_control -z "$pid" >/dev/null 2>&1
    redis-benchmark -p "$port" -t "$test" -n "$REQ" -c 50 -P "$pipe" -d 512 -r 100000 -q >/dev/null 2>&1
    callgrind_control -d "$pid" >/dev/null 2>&1
    local f
    f=$(ls "$d"/cg.out.*-01 2>/dev/null | head -1) # the dump's thread 1: the main thread
    stop_pid "$pid"
    callgrind_annotate "$f" 2>/dev/null |
        awk -v n="$REQ" '/PROGRAM TOTALS/ {gsub(",", "", $1); printf "%.0f\n", $1 / n}'
}

printf '%-8s %-4s %-3s %10s %10s %10s %10s\n' test pipe "" "keel io1" "keel io4" "peer io1" "peer io4"
for test in set get; do
    for pipe in 1 16; do
        k1=$(one "$KEEL" 1 $test $pipe)
        k4=$(one "$KEEL" 4 $test $pipe)
        p1=- p4=-
        if [ -n "${PEER:-}" ]; then
            p1=$(one "$PEER" 1 $test $pipe)
            p4=$(one "$PEER" 4 $test $pipe)
        fi
        printf '%-8s %-4s %-3s %10s %10s %10s %10s   keel io4/io1 %s\n' "$test" "$pipe" "" "$k1" "$k4" \
            "$p1" "$p4" "$(awk -v a="$k4" -v b="$k1" 'BEGIN {printf "%.2f", a / b}')"
    done
done

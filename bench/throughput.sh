#!/usr/bin/env bash
# throughput.sh - keel-server vs Debian's redis-server under the same redis-benchmark load.
#
# SET and GET with 512-byte values, 50 clients, pipeline 1 and 16; ROUNDS interleaved rounds
# (keel, redis, keel, redis, ...) so that machine noise hits both; prints the median requests/s
# of each and the ratio keel/redis. Both servers keep data in memory only for this comparison
# (keel --durability off, redis --save '' --appendonly no); bench/durable.sh compares durable modes.
#
# Usage: bench/throughput.sh [ROUNDS] [REQUESTS]     (defaults 5 and 200000)
source "$(dirname "$0")/common.sh"
ROUNDS=${1:-5}
N=${2:-200000}
build_keel
declare -A RES
for round in $(seq 1 "$ROUNDS"); do
    for srv in keel redis; do
        port=$(free_port)
        if [ $srv = keel ]; then start_keel "$port" --durability off; else start_redis "$port"; fi
        pid=$LAST_PID
        for P in 1 16; do bench_rps "$srv" "$port" set,get "$P" "$N"; done
        stop_pid "$pid"
    done
    echo "round $round/$ROUNDS done" >&2
done
printf '%-6s %-3s %14s %14s %7s\n' test P keel_rps redis_rps ratio
for P in 1 16; do
    for t in SET GET; do
        k=$(echo ${RES["keel,$t,$P"]} | tr ' ' '\n' | median)
        r=$(echo ${RES["redis,$t,$P"]} | tr ' ' '\n' | median)
        printf '%-6s %-3s %14.0f %14.0f %7.2f\n' "$t" "$P" "$k" "$r" "$(echo "$k / $r" | bc -l)"
    done
done

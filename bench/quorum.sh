#!/usr/bin/env bash
# quorum.sh - what the write quorum across machines costs (docs/ha.md): SET throughput and
# latency at 50 clients, pipeline 1 and 16, 512-byte values, with `wal-quorum` met by
#   q1: the one local log copy only (no replica attached);
#   q2: the local copy + one replica (wal-quorum 2, one replica);
#   q3: the local copy + two replicas (wal-quorum 3, two replicas);
# and, as the reference in the same run, the peer (valkey-server or redis-server) with
# `appendfsync always` and 0 / 1 asynchronous replica (its reply waits for no replica).
# All nodes run on this machine: a replica's apply and fdatasync share its cores.
# Rounds are interleaved (every configuration once per round); medians are printed, with the
# ratio of each keel configuration to q1.
#
# Usage: bench/quorum.sh [ROUNDS] [REQUESTS]   (defaults 3, 200000)
#   env PEER: the peer's server binary (default: valkey-server on PATH, else redis-server)
if [ "${1:-}" = "--help" ] || [ "${1:-}" = "-h" ]; then
    sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
fi
source "$(dirname "$0")/common.sh"
ROUNDS=${1:-3}
REQ=${2:-200000}
PEER=${PEER:-$(command -v valkey-server || command -v redis-server)}
build_keel

start_peer() { # port [replicaof-port]
    local port=$1 of=${2:-} d="$BENCH_TMP/peer-$1"
    mkdir -p "$d"
    local args=(--bind 127.0.0.1 --port "$port" --dir "$d" --save '' --appendonly yes
                --appendfsync always)
    [ -n "$of" ] && args+=(--replicaof 127.0.0.1 "$of")
    "$PEER" "${args[@]}" >"$d/log" 2>&1 &
    LAST_PID=$!
    PIDS+=("$LAST_PID")
    wait_ping "$port"
}

# One measurement: kind (keel|peer), replicas, wal-quorum, pipeline -> "rps p50 p99"
measure() {
    local kind=$1 nrep=$2 q=$3 pl=$4 port pids=()
    port=$(free_port)
    if [ "$kind" = keel ]; then start_keel "$port" --wal-quorum "$q"; else start_peer "$port"; fi
    pids+=("$LAST_PID")
    for _ in $(seq 1 "$nrep"); do
        local rp
        rp=$(free_port)
        if [ "$kind" = keel ]; then start_keel "$rp" --replicaof "127.0.0.1 $port"
        else start_peer "$rp" "$port"; fi
        pids+=("$LAST_PID")
    done
    # until every replica is attached (keel: in the quorum's set)
    for _ in $(seq 1 200); do
        local n
        if [ "$kind" = keel ]; then
            n=$(redis-cli -p "$port" info replication | tr -d '\r' | grep -c 'state=online' || true)
        else
            n=$(redis-cli -p "$port" info replication | tr -d '\r' | grep -c 'state=online' || true)
        fi
        [ "$n" -ge "$nrep" ] && break
        sleep 0.1
    done
    sleep 0.5
    redis-benchmark -p "$port" -c 50 -n "$REQ" -P "$pl" -t set -d 512 -r 1000000 --csv 2>/dev/null |
        awk -F'","' '/^"SET/ {gsub(/"/, "", $0); split($0, f, ","); print f[2], f[5], f[7]}'
    for p in "${pids[@]}"; do stop_pid "$p"; done
}

configs=("keel 0 1" "keel 1 2" "keel 2 3" "peer 0 1" "peer 1 1")
names=("keel q1 (local only)" "keel q2 (local + 1 replica)" "keel q3 (local + 2 replicas)"
       "peer, 0 replicas" "peer, 1 async replica")
declare -A RPS P50 P99
for r in $(seq 1 "$ROUNDS"); do
    for pl in 1 16; do
        for i in "${!configs[@]}"; do
            read -r kind nrep q <<<"${configs[$i]}"
            read -r rps p50 p99 <<<"$(measure "$kind" "$nrep" "$q" "$pl")"
            RPS[$i,$pl]+="$rps "
            P50[$i,$pl]+="$p50 "
            P99[$i,$pl]+="$p99 "
            echo "round $r P$pl ${names[$i]}: $rps SET/s p50 $p50 ms p99 $p99 ms" >&2
        done
    done
done

med() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
echo
echo "SET, 50 clients, 512-byte values, medians of $ROUNDS rounds (peer: $("$PEER" --version | head -c 40))"
for pl in 1 16; do
    base=$(echo "${RPS[0,$pl]}" | med)
    printf '\npipeline %s\n%-32s %12s %9s %9s %7s\n' "$pl" configuration "SET/s" "p50 ms" "p99 ms" "ratio"
    for i in "${!configs[@]}"; do
        rps=$(echo "${RPS[$i,$pl]}" | med)
        ratio=""
        [[ "${configs[$i]}" == keel* ]] && ratio=$(awk -v a="$rps" -v b="$base" 'BEGIN {printf "%.2f", a / b}')
        printf '%-32s %12.0f %9s %9s %7s\n' "${names[$i]}" "$rps" "$(echo "${P50[$i,$pl]}" | med)" \
            "$(echo "${P99[$i,$pl]}" | med)" "$ratio"
    done
done

#!/usr/bin/env bash
# replication.sh - what replication costs, keel-server side by side with a peer in the same run:
#   1. full sync time: a primary holding KEYS small keys, a new replica attached, until the
#      replica holds them all (the snapshot is made on demand by both: nothing saved before);
#   2. the primary's SET throughput (redis-benchmark, 512-byte values, 50 clients, pipeline 16)
#      with 0, 1 and 2 replicas attached, and the ratio to 0 replicas.
# keel runs `durability sync`; the peer runs `appendonly yes, appendfsync always` (its durable
# mode), `repl-diskless-sync-delay 0` and, when it is valkey-server 8,
# `dual-channel-replication-enabled yes`.
# Rounds are interleaved (keel, peer, keel, peer, ...); medians are printed.
#
# Usage: bench/replication.sh [ROUNDS] [KEYS] [REQUESTS]   (defaults 3, 1000000, 300000)
#   env PEER: the peer's server binary (default: valkey-server on PATH, else redis-server)
source "$(dirname "$0")/common.sh"
ROUNDS=${1:-3}
KEYS=${2:-1000000}
REQ=${3:-300000}
PEER=${PEER:-$(command -v valkey-server || command -v redis-server)}
build_keel
peer_extra=()
"$PEER" --version | grep -qi valkey && peer_extra=(--dual-channel-replication-enabled yes)
# No wait for more replicas before a diskless full sync (the default waits 5 s).
peer_extra+=(--repl-diskless-sync-delay 0)

start_node() { # kind port [replicaof-port]
    local kind=$1 port=$2 of=${3:-}
    if [ "$kind" = keel ]; then
        if [ -n "$of" ]; then start_keel "$port" --replicaof "127.0.0.1 $of"
        else start_keel "$port"; fi
    else
        local d="$BENCH_TMP/peer-$port"
        mkdir -p "$d"
        local args=(--bind 127.0.0.1 --port "$port" --dir "$d" --save '' --appendonly yes
                    --appendfsync always "${peer_extra[@]}")
        [ -n "$of" ] && args+=(--replicaof 127.0.0.1 "$of")
        "$PEER" "${args[@]}" >"$d/log" 2>&1 &
        LAST_PID=$!
        PIDS+=("$LAST_PID")
        wait_ping "$port"
    fi
}

fill() { # port: KEYS distinct keys of 16 bytes
    /usr/bin/python3 -c "
import sys
w = sys.stdout.write
for i in range($KEYS):
    k = 'key:%d' % i
    w('*3\r\n\$3\r\nSET\r\n\$%d\r\n%s\r\n\$16\r\nvalue-0123456789\r\n' % (len(k), k))
" | redis-cli -p "$1" --pipe >/dev/null
}

link_up() { # port
    redis-cli -p "$1" info replication | grep -q 'master_link_status:up'
}

full_sync_s() { # kind
    local kind=$1 p r t0 t1
    p=$(free_port); start_node "$kind" "$p"; local ppid=$LAST_PID
    fill "$p"
    r=$(free_port)
    t0=$(date +%s.%N)
    start_node "$kind" "$r" "$p"; local rpid=$LAST_PID
    while ! link_up "$r" || [ "$(redis-cli -p "$r" dbsize)" != "$KEYS" ]; do sleep 0.02; done
    t1=$(date +%s.%N)
    stop_pid "$rpid"; stop_pid "$ppid"
    echo "$t1 - $t0" | bc -l
}

set_rps() { # kind nreplicas
    local kind=$1 n=$2 p pids=() out
    p=$(free_port); start_node "$kind" "$p"; pids+=("$LAST_PID")
    for _ in $(seq 1 "$n"); do
        local r; r=$(free_port); start_node "$kind" "$r" "$p"; pids+=("$LAST_PID")
        while ! link_up "$r"; do sleep 0.02; done
    done
    out=$(redis-benchmark -p "$p" -t set -d 512 -c 50 -P 16 -n "$REQ" -r 100000 --csv -q)
    for pid in "${pids[@]}"; do stop_pid "$pid"; done
    echo "$out" | awk -F'"' '$2=="SET" {print $4}'
}

declare -A RES
for round in $(seq 1 "$ROUNDS"); do
    for kind in keel peer; do
        RES["$kind,sync"]+="$(full_sync_s $kind) "
        for n in 0 1 2; do RES["$kind,$n"]+="$(set_rps $kind $n) "; done
    done
    echo "round $round/$ROUNDS done" >&2
done
peer_name=$(basename "$PEER")
printf 'full sync of %d keys, seconds: keel %.2f, %s %.2f\n' "$KEYS" \
    "$(echo ${RES["keel,sync"]} | tr ' ' '\n' | median)" "$peer_name" \
    "$(echo ${RES["peer,sync"]} | tr ' ' '\n' | median)"
printf '%-9s %12s %12s %12s %8s\n' server "0 replicas" "1 replica" "2 replicas" "2/0"
for kind in keel peer; do
    a=$(echo ${RES["$kind,0"]} | tr ' ' '\n' | median)
    b=$(echo ${RES["$kind,1"]} | tr ' ' '\n' | median)
    c=$(echo ${RES["$kind,2"]} | tr ' ' '\n' | median)
    name=$kind; [ "$kind" = peer ] && name=$peer_name
    printf '%-9s %12.0f %12.0f %12.0f %8.2f\n' "$name" "$a" "$b" "$c" "$(echo "$c / $a" | bc -l)"
done

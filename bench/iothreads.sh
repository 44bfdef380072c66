#!/usr/bin/env bash
# iothreads.sh - throughput with I/O threads: keel and a peer (valkey-server 8, PEER=path), each
# with io-threads 1 and 2, under the same redis-benchmark load: SET and GET of 512-byte values,
# 50 clients, pipeline 1 and 16, ROUNDS interleaved rounds (a fresh server each time); prints
# the median requests/s of each and the ratios. On a 2-core machine redis-benchmark shares the
# cores with the server's threads, so this shows the cost of the threads more than their gain:
# bench/iothreads_callgrind.sh measures what decides scaling.
#
# Usage: PEER=/path/to/valkey-server bench/iothreads.sh [ROUNDS] [REQUESTS]   (defaults 5, 200000)
source "$(dirname "$0")/common.sh"
ROUNDS=${1:-5}
N=${2:-200000}
build_keel
declare -A RES
SERVERS="keel1 keel2"
[ -n "${PEER:-}" ] && SERVERS+=" peer1 peer2"
for round in $(seq 1 "$ROUNDS"); do
    for srv in $SERVERS; do
        port=$(free_port)
        th=${srv: -1}
        if [ "${srv%?}" = keel ]; then
            start_keel "$port" --durability off --io-threads "$th"
        else
            REDIS=$PEER start_redis "$port" --io-threads "$th"
        fi
        pid=$LAST_PID
        for P in 1 16; do bench_rps "$srv" "$port" set,get "$P" "$N"; done
        stop_pid "$pid"
    done
    echo "round $round/$ROUNDS done" >&2
done
med() { echo "${RES[$1]}" | tr ' ' '\n' | grep -v '^$' | median; }
printf '%-8s %-4s' test pipe
for srv in $SERVERS; do printf ' %10s' "$srv"; done
printf '   %s\n' "keel2/keel1${PEER:+  keel1/peer1  keel2/peer2}"
for t in SET GET; do
    for P in 1 16; do
        printf '%-8s %-4s' "$t" "$P"
        for srv in $SERVERS; do printf ' %10.0f' "$(med "$srv,$t,$P")"; done
        k1=$(med "keel1,$t,$P") k2=$(med "keel2,$t,$P")
        printf '   %.2f' "$(awk -v a="$k2" -v b="$k1" 'BEGIN {print a / b}')"
        if [ -n "${PEER:-}" ]; then
            p1=$(med "peer1,$t,$P") p2=$(med "peer2,$t,$P")
            printf '  %.2f  %.2f' "$(awk -v a="$k1" -v b="$p1" 'BEGIN {print a / b}')" \
                "$(awk -v a="$k2" -v b="$p2" 'BEGIN {print a / b}')"
        fi
        echo
    done
done

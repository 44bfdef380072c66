#!/usr/bin/env bash
# streams.sh - keel-server vs the peer (valkey-server) on streams: XADD and XREADGROUP throughput
# under redis-benchmark at 50 clients, and memory per stream entry.
#
#   XADD        XADD s * sensor <12 digits> temp 21.5 site north, 50 clients, pipeline 1 and 16
#   XREADGROUP  XREADGROUP GROUP g c<n> COUNT 1 STREAMS s >, 50 clients (50 consumers), pipeline 1,
#               on a stream prefilled with more entries than the run reads (each call delivers one
#               new entry and puts it in the PEL)
#   memory      used_memory after ENTRIES entries of the XADD above in one stream, minus before
#               (taken after FLUSHALL SYNC and a pause), divided by ENTRIES (both servers count
#               their allocator's bytes)
#
# ROUNDS interleaved rounds (keel, peer, keel, peer, ...); medians and the ratio keel/peer. Both
# servers keep data in memory only (keel --durability off, peer --save '' --appendonly no).
#
# Usage: [PEER=/path/to/valkey-server] bench/streams.sh [ROUNDS] [REQUESTS] [ENTRIES]
#        (defaults 3, 200000, 1000000; PEER defaults to valkey-server on PATH, else redis-server)
source "$(dirname "$0")/common.sh"
ROUNDS=${1:-3}
N=${2:-200000}
ENTRIES=${3:-1000000}
PEER=${PEER:-$(command -v valkey-server || command -v redis-server)}
REDIS=$PEER
build_keel
declare -A RES

used_memory() { redis-cli -p "$1" info memory | tr -d '\r' | awk -F: '$1=="used_memory" {print $2}'; }

bench_rps() { # port pipeline requests range command... -> requests/s (__rand_int__ < range)
    local port=$1 P=$2 n=$3 r=$4
    shift 4
    redis-benchmark -p "$port" -c 50 -P "$P" -n "$n" -r "$r" --csv -q "$@" |
        awk -F'"' 'NR==1 && $4 ~ /^[0-9.]+$/ {print $4} NR>1 && $4 ~ /^[0-9.]+$/ {print $4}' | tail -1
}

XADD_ARGS=(XADD s '*' sensor __rand_int__ temp 21.5 site north)

for round in $(seq 1 "$ROUNDS"); do
    for srv in keel peer; do
        port=$(free_port)
        if [ $srv = keel ]; then start_keel "$port" --durability off; else start_redis "$port"; fi
        pid=$LAST_PID
        for P in 1 16; do
            RES["$srv,XADD,$P"]+="$(bench_rps "$port" "$P" "$N" 1000000000 "${XADD_ARGS[@]}") "
        done
        # The stream now holds 2N entries: the group reads N of them.
        redis-cli -p "$port" XGROUP CREATE s g 0 >/dev/null
        RES["$srv,XREADGROUP,1"]+="$(bench_rps "$port" 1 "$N" 50 XREADGROUP GROUP g c__rand_int__ COUNT 1 STREAMS s '>') "
        # A synchronous flush, then a pause: Valkey 8 frees a DEL'd value in the background
        # (lazyfree-lazy-user-del yes), which would overlap the measurement.
        redis-cli -p "$port" FLUSHALL SYNC >/dev/null
        sleep 1
        before=$(used_memory "$port")
        redis-benchmark -p "$port" -c 50 -P 16 -n "$ENTRIES" -r 1000000000 -q "${XADD_ARGS[@]}" >/dev/null
        len=$(redis-cli -p "$port" XLEN s)
        after=$(used_memory "$port")
        RES["$srv,MEM"]+="$(echo "($after - $before) / $len" | bc -l) "
        stop_pid "$pid"
    done
    echo "round $round/$ROUNDS done" >&2
done

echo "peer: $("$PEER" --version | head -1)"
printf '%-12s %-3s %14s %14s %7s\n' test P keel peer ratio
for t in "XADD,1" "XADD,16" "XREADGROUP,1"; do
    k=$(echo ${RES["keel,$t"]} | tr ' ' '\n' | median)
    r=$(echo ${RES["peer,$t"]} | tr ' ' '\n' | median)
    printf '%-12s %-3s %14.0f %14.0f %7.2f\n' "${t%,*}" "${t#*,}" "$k" "$r" "$(echo "$k / $r" | bc -l)"
done
k=$(echo ${RES["keel,MEM"]} | tr ' ' '\n' | median)
r=$(echo ${RES["peer,MEM"]} | tr ' ' '\n' | median)
printf '%-12s %-3s %14.1f %14.1f %7.2f   (bytes per entry, %d entries)\n' mem/entry - "$k" "$r" \
    "$(echo "$k / $r" | bc -l)" "$ENTRIES"

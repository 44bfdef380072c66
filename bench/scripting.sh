#!/usr/bin/env bash
# scripting.sh - Lua scripting throughput, keel-server vs a peer server, under redis-benchmark.
#
# EVALSHA of a small script (GET + INCR of one key) and FCALL of the same function, 50 clients,
# pipeline 1 and 16, keys key:0..99999; ROUNDS interleaved rounds (keel, peer, keel, peer, ...)
# so that machine noise hits both; prints the median requests/s of each and the ratio keel/peer.
# Both keep data in memory only (keel --durability off, the peer --save '' --appendonly no): the
# comparison is of the scripting engine and the command path, not of the disk.
#
# Usage: bench/scripting.sh [ROUNDS] [REQUESTS]     (defaults 5 and 200000)
#   env PEER: the peer's server binary (default: valkey-server on PATH, else redis-server)
source "$(dirname "$0")/common.sh"
ROUNDS=${1:-5}
N=${2:-200000}
PEER=${PEER:-$(command -v valkey-server || command -v redis-server)}
SCRIPT="redis.call('get', KEYS[1]) return redis.call('incr', KEYS[1])"
LIB="#!lua name=benchlib
redis.register_function('getincr', function(keys, args)
  redis.call('get', keys[1]) return redis.call('incr', keys[1]) end)"
build_keel
declare -A RES
for round in $(seq 1 "$ROUNDS"); do
    for srv in keel peer; do
        port=$(free_port)
        if [ $srv = keel ]; then
            start_keel "$port" --durability off
        else
            REDIS=$PEER start_redis "$port"
        fi
        pid=$LAST_PID
        sha=$(redis-cli -p "$port" script load "$SCRIPT")
        redis-cli -p "$port" function load replace "$LIB" >/dev/null
        for P in 1 16; do
            for t in EVALSHA FCALL; do
                if [ $t = EVALSHA ]; then
                    cmd=(evalsha "$sha" 1 key:__rand_int__)
                else
                    cmd=(fcall getincr 1 key:__rand_int__)
                fi
                out=$(redis-benchmark -p "$port" -c 50 -P "$P" -n "$N" -r 100000 --csv -q "${cmd[@]}")
                rps=$(echo "$out" | awk -F'"' 'NR == 2 {print $4}')
                RES["$srv,$t,$P"]+="$rps "
            done
        done
        stop_pid "$pid"
    done
    echo "round $round/$ROUNDS done" >&2
done
echo "peer: $("$PEER" --version | head -c 60)"
printf '%-8s %-3s %14s %14s %7s\n' test P keel_rps peer_rps ratio
for P in 1 16; do
    for t in EVALSHA FCALL; do
        k=$(echo ${RES["keel,$t,$P"]} | tr ' ' '\n' | median)
        r=$(echo ${RES["peer,$t,$P"]} | tr ' ' '\n' | median)
        printf '%-8s %-3s %14.0f %14.0f %7.2f\n' "$t" "$P" "$k" "$r" "$(echo "$k / $r" | bc -l)"
    done
done

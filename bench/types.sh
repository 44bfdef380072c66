#!/usr/bin/env bash
# types.sh - collection commands, keel-server vs Debian's redis-server under the same
# redis-benchmark load.
#
# redis-benchmark -t lpush,lpop,hset,sadd,zadd,lrange_100 (random members from -r 100000, so the
# hash, set and sorted set grow into their table encodings; LRANGE_100 reads the first 100 of a
# 600-element list) and ZRANGE zr100 0 9 on a sorted set seeded with 100 16-byte members (the
# packed encoding on both servers). 50 clients, pipeline 1 and 16, the keyspace flushed and the
# sorted set re-seeded before each pipeline setting. ROUNDS interleaved rounds (keel, redis, keel,
# ...) so machine noise hits both; prints the median requests/s of each and the ratio keel/redis.
# Both keep data in memory only (keel --durability off, redis --save '' --appendonly no).
#
# Usage: bench/types.sh [ROUNDS] [REQUESTS]     (defaults 5 and 100000)
# KEEL=/path/to/keel-server uses that binary instead of building build/keel-server.
KEEL_GIVEN=${KEEL:-}
source "$(dirname "$0")/common.sh"
ROUNDS=${1:-5}
N=${2:-100000}
[ -n "$KEEL_GIVEN" ] || build_keel
TESTS="LPUSH LPOP SADD HSET ZADD LRANGE_100 ZRANGE_10"

seed_zset() { # $1 port: zr100 = 100 members "member-000000000" .. with scores 0..99
    local args=()
    for i in $(seq 0 99); do args+=("$i" "$(printf 'member-%09d' "$i")"); done
    redis-cli -p "$1" zadd zr100 "${args[@]}" >/dev/null
}

# one run of every test at pipeline $2 against port $1; prints "NAME rps" lines
run_tests() {
    local port=$1 P=$2
    redis-cli -p "$port" flushall >/dev/null
    seed_zset "$port"
    redis-benchmark -p "$port" -t lpush,lpop,hset,sadd,zadd,lrange_100 -c 50 -P "$P" -n "$N" \
        -r 100000 --csv -q |
        awk -F'"' '$2 != "test" && $2 !~ /needed/ {split($2, w, " "); print w[1], $4}'
    redis-benchmark -p "$port" -c 50 -P "$P" -n "$N" --csv -q ZRANGE zr100 0 9 |
        awk -F'"' '$2 ~ /^ZRANGE/ {print "ZRANGE_10", $4}'
}

declare -A RES
for round in $(seq 1 "$ROUNDS"); do
    for srv in keel redis; do
        port=$(free_port)
        if [ $srv = keel ]; then start_keel "$port" --durability off; else start_redis "$port"; fi
        pid=$LAST_PID
        for P in 1 16; do
            while read -r t rps; do
                RES["$srv,$t,$P"]+="$rps "
            done < <(run_tests "$port" "$P")
        done
        stop_pid "$pid"
    done
    echo "round $round/$ROUNDS done" >&2
done
printf '%-11s %-3s %12s %12s %7s\n' test P keel_rps redis_rps ratio
for P in 1 16; do
    for t in $TESTS; do
        k=$(echo ${RES["keel,$t,$P"]:-} | tr ' ' '\n' | grep . | median)
        r=$(echo ${RES["redis,$t,$P"]:-} | tr ' ' '\n' | grep . | median)
        printf '%-11s %-3s %12.0f %12.0f %7.2f\n' "$t" "$P" "$k" "$r" "$(echo "$k / $r" | bc -l)"
    done
done

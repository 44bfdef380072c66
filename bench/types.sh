#!/usr/bin/env bash
# types.sh - collection commands, keel-server vs Debian's redis-server under the same
# redis-benchmark load.
#
# Tests: LPUSH, LPOP, SADD, HSET, ZADD as redis-benchmark -t runs them (one list; random members
# from -r 100000, so the hash, set and sorted set grow into their table encodings), LRANGE_100
# (LRANGE lr600 0 99 on a 600-element list of 3-byte values, what -t lrange_100 reads) and
# ZRANGE_10 (ZRANGE zr100 0 9 on a sorted set of 100 16-byte members, the packed encoding on both
# servers). 50 clients, pipeline 1 and 16, the keyspace flushed and re-seeded before each
# pipeline setting. ROUNDS interleaved rounds (keel, redis, keel, ...) so machine noise hits both.
#
# Two measures per test: requests/s, and the server's CPU time per request (utime + stime of the
# server process from /proc, in microseconds), which stays readable on a shared, noisy machine
# where requests/s swings with whatever else runs. Prints medians and keel/redis ratios (for
# rps above 1.0 is better for keel, for cpu_us below 1.0 is). Both keep data in memory only
# (keel --durability off, redis --save '' --appendonly no).
#
# Usage: bench/types.sh [ROUNDS] [REQUESTS]     (defaults 5 and 100000)
# KEEL=/path/to/keel-server uses that binary instead of building build/keel-server.
KEEL_GIVEN=${KEEL:-}
source "$(dirname "$0")/common.sh"
ROUNDS=${1:-5}
N=${2:-100000}
[ -n "$KEEL_GIVEN" ] || build_keel
TESTS="LPUSH LPOP SADD HSET ZADD LRANGE_100 ZRANGE_10"
TICK_US=$((1000000 / $(getconf CLK_TCK)))

seed() { # $1 port
    local z=() l=()
    for i in $(seq 0 99); do z+=("$i" "$(printf 'member-%09d' "$i")"); done
    for i in $(seq 1 600); do l+=(xxx); done
    redis-cli -p "$1" zadd zr100 "${z[@]}" >/dev/null
    redis-cli -p "$1" lpush lr600 "${l[@]}" >/dev/null
}

cpu_ticks() { # $1 pid: utime + stime of every thread
    awk '{print $14 + $15}' "/proc/$1/stat"
}

# the redis-benchmark arguments of test $1
bench_args() {
    case $1 in
    LRANGE_100) echo "LRANGE lr600 0 99" ;;
    ZRANGE_10) echo "ZRANGE zr100 0 9" ;;
    *) echo "-r 100000 -t ${1,,}" ;;
    esac
}

# runs test $3 at pipeline $4 against port $1 (server pid $2); prints "rps cpu_us_per_request"
run_test() {
    local port=$1 pid=$2 t=$3 P=$4 c0 c1 rps
    c0=$(cpu_ticks "$pid")
    # shellcheck disable=SC2046
    rps=$(redis-benchmark -p "$port" -c 50 -P "$P" -n "$N" --csv -q $(bench_args "$t") |
        awk -F'"' '$2 != "test" {print $4; exit}')
    c1=$(cpu_ticks "$pid")
    echo "$rps $(echo "($c1 - $c0) * $TICK_US / $N" | bc -l)"
}

declare -A RPS CPU
for round in $(seq 1 "$ROUNDS"); do
    for srv in keel redis; do
        port=$(free_port)
        if [ $srv = keel ]; then start_keel "$port" --durability off; else start_redis "$port"; fi
        pid=$LAST_PID
        for P in 1 16; do
            redis-cli -p "$port" flushall >/dev/null
            seed "$port"
            for t in $TESTS; do
                read -r rps cpu < <(run_test "$port" "$pid" "$t" "$P")
                RPS["$srv,$t,$P"]+="$rps "
                CPU["$srv,$t,$P"]+="$cpu "
            done
        done
        stop_pid "$pid"
    done
    echo "round $round/$ROUNDS done" >&2
done
med() { echo "$1" | tr ' ' '\n' | grep . | median; }
printf '%-11s %-3s %11s %11s %6s   %11s %11s %6s\n' test P keel_rps redis_rps ratio \
    keel_cpu_us redis_cpu_us ratio
for P in 1 16; do
    for t in $TESTS; do
        k=$(med "${RPS["keel,$t,$P"]}")
        r=$(med "${RPS["redis,$t,$P"]}")
        kc=$(med "${CPU["keel,$t,$P"]}")
        rc=$(med "${CPU["redis,$t,$P"]}")
        printf '%-11s %-3s %11.0f %11.0f %6.2f   %11.2f %11.2f %6.2f\n' "$t" "$P" "$k" "$r" \
            "$(echo "$k / $r" | bc -l)" "$kc" "$rc" "$(echo "$kc / $rc" | bc -l)"
    done
done

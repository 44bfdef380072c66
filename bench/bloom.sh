#!/usr/bin/env bash
# bloom.sh - bloom filters: BF.ADD and BF.EXISTS throughput at 50 clients, and the memory of a
# filter of capacity 1,000,000 at 1% against valkey-bloom's size for the same filter.
#
# Throughput: redis-benchmark, 50 clients, pipeline 1 and 16, items from -r 1000000 into one
# filter reserved for 1,000,000 items at 0.01 (BF.RESERVE bf 0.01 1000000: one sub-filter, 7
# hashes, never scaling during the run); BF.EXISTS runs on the filled filter. There is no
# valkey-bloom module on this machine (and Debian's redis-server has no BF.*), so as a yardstick
# the same load shape runs SADD / SISMEMBER against keel and redis-server (one set, members from
# -r 1000000): a set membership test is the closest command both servers have. ROUNDS interleaved
# rounds; medians.
#
# Memory: BF.INFO SIZE (valkey-bloom's own accounting, which Keel computes the same way), MEMORY
# USAGE (what Keel allocates), and valkey-bloom's formula worked here independently: 48 (object)
# + 8 (one vector slot) + 216 (BloomFilter + bloomfilter::Bloom) + ceil(n ln p / (-8 ln^2 2))
# bitmap bytes. Computed, not measured: valkey-bloom is not installed.
#
# Usage: bench/bloom.sh [ROUNDS] [REQUESTS]     (defaults 3 and 1000000)
# KEEL=/path/to/keel-server uses that binary instead of building build/keel-server.
KEEL_GIVEN=${KEEL:-}
source "$(dirname "$0")/common.sh"
ROUNDS=${1:-3}
N=${2:-1000000}
[ -n "$KEEL_GIVEN" ] || build_keel

rps() { # port P command...: requests/s of redis-benchmark
    local port=$1 P=$2
    shift 2
    redis-benchmark -p "$port" -c 50 -P "$P" -n "$N" -r 1000000 --csv -q "$@" |
        awk -F'"' '$2 != "test" {print $4; exit}'
}

declare -A R
KP=$(free_port)
start_keel "$KP" --durability off
KPID=$LAST_PID
RP=$(free_port)
start_redis "$RP"
RPID=$LAST_PID
for round in $(seq 1 "$ROUNDS"); do
    for P in 1 16; do
        redis-cli -p "$KP" del bf >/dev/null
        redis-cli -p "$KP" bf.reserve bf 0.01 1000000 >/dev/null
        R[bf.add,$P]+="$(rps "$KP" "$P" bf.add bf __rand_int__) "
        R[bf.exists,$P]+="$(rps "$KP" "$P" bf.exists bf __rand_int__) "
        for port in "$KP" "$RP"; do
            name=keel
            [ "$port" = "$RP" ] && name=redis
            redis-cli -p "$port" del st >/dev/null
            R[$name.sadd,$P]+="$(rps "$port" "$P" sadd st __rand_int__) "
            R[$name.sismember,$P]+="$(rps "$port" "$P" sismember st __rand_int__) "
        done
    done
    echo "round $round done" >&2
done

echo "# bench/bloom.sh rounds=$ROUNDS requests=$N clients=50 (median requests/s)"
printf '%-22s %12s %12s\n' test P=1 P=16
for t in bf.add bf.exists keel.sadd keel.sismember redis.sadd redis.sismember; do
    printf '%-22s %12.0f %12.0f\n' "$t" \
        "$(echo "${R[$t,1]}" | tr ' ' '\n' | grep . | median)" \
        "$(echo "${R[$t,16]}" | tr ' ' '\n' | grep . | median)"
done

# Memory of a filter for 1,000,000 items at 1%, filled.
redis-cli -p "$KP" del bf >/dev/null
redis-cli -p "$KP" bf.reserve bf 0.01 1000000 >/dev/null
/usr/bin/python3 - "$KP" <<'EOF'
import math, sys, redis
r = redis.Redis(port=int(sys.argv[1]))
for i in range(0, 1000000, 10000):
    r.execute_command("BF.MADD", "bf", *range(i, i + 10000))
n, p = 1000000, 0.01
bitmap = math.ceil(n * math.log(p) / (-8 * math.log(2) ** 2))
valkey = 48 + 8 + 216 + bitmap
size = r.execute_command("BF.INFO", "bf", "SIZE")
usage = r.memory_usage("bf")
print("# filter capacity 1000000, error rate 0.01, %d items inserted" %
      r.execute_command("BF.CARD", "bf"))
print("valkey-bloom formula (computed)   %9d bytes  (bitmap %d)" % (valkey, bitmap))
print("keel BF.INFO SIZE                 %9d bytes" % size)
print("keel MEMORY USAGE (allocated)     %9d bytes  (%.3f x valkey-bloom's)" %
      (usage, usage / valkey))
EOF
stop_pid "$KPID"
stop_pid "$RPID"

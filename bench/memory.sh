#!/usr/bin/env bash
# memory.sh - bytes of overhead per key, keel-server vs Debian's redis-server.
#
# Loads N keys (16-byte keys, 24-byte values) through redis-cli --pipe, reads used_memory before
# and after, and prints (delta / N) - 40: what each key costs beyond its own 16 + 24 bytes. Then the
# same with a TTL on every key (SET ... EX 100000). ROUNDS runs each; medians.
#
# Usage: bench/memory.sh [N] [ROUNDS]     (defaults 1000000 and 3)
source "$(dirname "$0")/common.sh"
N=${1:-1000000}
ROUNDS=${2:-3}
build_keel
gen() { # $1 = extra args ("" or "EX 100000")
    /usr/bin/python3 - "$N" "$1" <<'PY'
import sys
n = int(sys.argv[1]); extra = sys.argv[2].split()
out = sys.stdout.buffer
val = b"v" * 24
for i in range(n):
    key = b"k%015d" % i
    args = [b"SET", key, val] + [e.encode() for e in extra]
    out.write(b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args))
PY
}
gen "" >"$BENCH_TMP/plain.resp"
gen "EX 100000" >"$BENCH_TMP/ttl.resp"
used() { redis-cli -p "$1" info memory | awk -F: '/^used_memory:/ {print $2+0}'; }
declare -A RES
for round in $(seq 1 "$ROUNDS"); do
    for srv in keel redis; do
        for kind in plain ttl; do
            port=$(free_port)
            if [ $srv = keel ]; then start_keel "$port" --durability off; else start_redis "$port"; fi
            pid=$LAST_PID
            before=$(used "$port")
            redis-cli -p "$port" --pipe <"$BENCH_TMP/$kind.resp" >/dev/null
            keys=$(redis-cli -p "$port" dbsize)
            [ "$keys" = "$N" ] || { echo "$srv loaded $keys keys, expected $N" >&2; exit 1; }
            after=$(used "$port")
            RES["$srv,$kind"]+="$(echo "($after - $before) / $N - 40" | bc -l) "
            stop_pid "$pid"
        done
    done
    echo "round $round/$ROUNDS done" >&2
done
printf '%-6s %16s %16s %7s\n' keys keel_bytes/key redis_bytes/key ratio
for kind in plain ttl; do
    k=$(echo ${RES["keel,$kind"]} | tr ' ' '\n' | median)
    r=$(echo ${RES["redis,$kind"]} | tr ' ' '\n' | median)
    printf '%-6s %16.1f %16.1f %7.2f\n' "$kind" "$k" "$r" "$(echo "$k / $r" | bc -l)"
done

#!/usr/bin/env bash
# memory_types.sh - bytes per element of one big hash, set and sorted set, keel-server vs
# Debian's redis-server.
#
# Each collection gets N elements (16-byte fields and members, 24-byte hash values, sorted-set
# scores that are whole numbers stored as doubles), one HSET/SADD/ZADD per element loaded through
# redis-cli --pipe into a fresh server; prints (used_memory after - before) / N. At the default
# N every collection is far past the packed-encoding limits, so this measures the table
# encodings (hash table entries, skiplist nodes). The element's own bytes are included (16 + 24
# for the hash, 16 for the set, 16 + 8 for the sorted set). Memory use is deterministic, so one
# round is the default.
#
# Usage: bench/memory_types.sh [N] [ROUNDS]     (defaults 1000000 and 1)
# KEEL=/path/to/keel-server uses that binary instead of building build/keel-server.
KEEL_GIVEN=${KEEL:-}
source "$(dirname "$0")/common.sh"
N=${1:-1000000}
ROUNDS=${2:-1}
[ -n "$KEEL_GIVEN" ] || build_keel
gen() { # $1 = hash | set | zset: N commands in RESP on stdout
    /usr/bin/python3 - "$N" "$1" <<'PY'
import sys
n = int(sys.argv[1]); kind = sys.argv[2]
out = sys.stdout.buffer
val = b"v" * 24
def cmd(*args):
    return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)
buf = []
for i in range(n):
    m = b"m%015d" % i
    if kind == "hash":
        buf.append(cmd(b"HSET", b"h", m, val))
    elif kind == "set":
        buf.append(cmd(b"SADD", b"s", m))
    else:
        buf.append(cmd(b"ZADD", b"z", b"%d" % i, m))
    if len(buf) == 10000:
        out.write(b"".join(buf)); buf = []
out.write(b"".join(buf))
PY
}
KINDS="hash set zset"
for kind in $KINDS; do gen "$kind" >"$BENCH_TMP/$kind.resp"; done
used() { redis-cli -p "$1" info memory | awk -F: '/^used_memory:/ {print $2+0}'; }
card() { # $1 port $2 kind
    case $2 in
    hash) redis-cli -p "$1" hlen h ;;
    set) redis-cli -p "$1" scard s ;;
    zset) redis-cli -p "$1" zcard z ;;
    esac
}
declare -A RES
for round in $(seq 1 "$ROUNDS"); do
    for srv in keel redis; do
        for kind in $KINDS; do
            port=$(free_port)
            if [ $srv = keel ]; then start_keel "$port" --durability off; else start_redis "$port"; fi
            pid=$LAST_PID
            before=$(used "$port")
            redis-cli -p "$port" --pipe <"$BENCH_TMP/$kind.resp" >/dev/null
            n=$(card "$port" "$kind")
            [ "$n" = "$N" ] || { echo "$srv $kind has $n elements, expected $N" >&2; exit 1; }
            after=$(used "$port")
            RES["$srv,$kind"]+="$(echo "($after - $before) / $N" | bc -l) "
            stop_pid "$pid"
        done
    done
    echo "round $round/$ROUNDS done" >&2
done
printf '%-6s %18s %18s %7s\n' type keel_bytes/elem redis_bytes/elem ratio
for kind in $KINDS; do
    k=$(echo ${RES["keel,$kind"]} | tr ' ' '\n' | median)
    r=$(echo ${RES["redis,$kind"]} | tr ' ' '\n' | median)
    printf '%-6s %18.1f %18.1f %7.2f\n' "$kind" "$k" "$r" "$(echo "$k / $r" | bc -l)"
done

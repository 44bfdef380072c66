#!/usr/bin/env bash
# recovery.sh - start-up time after a crash: a snapshot of N keys plus M log records after it.
#
# Fills N keys (16-byte keys, 24-byte values) into keel-server --durability sync, takes a
# snapshot (BGSAVE), writes M more keys (all in the log only), SIGKILLs the server, and times the
# restart until the first PING answers; then checks the key count. Prints the server's own log
# lines about the snapshot load and the log replay.
#
# Usage: bench/recovery.sh [N] [M]      (defaults 10000000 and 1000000)
source "$(dirname "$0")/common.sh"
N=${1:-10000000}
M=${2:-1000000}
build_keel
gen() { # $1 first index, $2 count
    /usr/bin/python3 - "$1" "$2" <<'PY'
import sys
first, n = int(sys.argv[1]), int(sys.argv[2])
out = sys.stdout.buffer
val = b"v" * 24
for i in range(first, first + n):
    key = b"k%015d" % i
    out.write(b"*3\r\n$3\r\nSET\r\n$16\r\n" + key + b"\r\n$24\r\n" + val + b"\r\n")
PY
}
gen 0 "$N" >"$BENCH_TMP/base.resp"
gen "$N" "$M" >"$BENCH_TMP/tail.resp"
port=$(free_port)
dir="$BENCH_TMP/data"
mkdir -p "$dir"
"$KEEL" --bind 127.0.0.1 --port "$port" --dir "$dir" --durability sync --snapshot-interval-s 0 \
    --snapshot-wal-bytes 1099511627776 >"$BENCH_TMP/log1" 2>&1 &
pid=$!; PIDS+=("$pid")
wait_ping "$port"
t0=$(date +%s.%N)
redis-cli -p "$port" --pipe <"$BENCH_TMP/base.resp" >/dev/null
t1=$(date +%s.%N)
echo "filled $N keys in durability sync: $(echo "$t1 - $t0" | bc) s"
redis-cli -p "$port" bgsave >/dev/null
while [ "$(redis-cli -p "$port" info persistence | awk -F: '/^rdb_bgsave_in_progress:/ {print $2+0}')" != 0 ]; do sleep 0.2; done
redis-cli -p "$port" --pipe <"$BENCH_TMP/tail.resp" >/dev/null
expect=$(redis-cli -p "$port" dbsize)
kill -9 "$pid"; wait "$pid" 2>/dev/null || true
t0=$(date +%s.%N)
"$KEEL" --bind 127.0.0.1 --port "$port" --dir "$dir" --durability sync --snapshot-interval-s 0 \
    >"$BENCH_TMP/log2" 2>&1 &
pid=$!; PIDS+=("$pid")
wait_ping "$port"
t1=$(date +%s.%N)
got=$(redis-cli -p "$port" dbsize)
echo "restart after SIGKILL: $(echo "$t1 - $t0" | bc) s to the first PING; keys $got (expected $expect)"
grep -iE "snapshot|replay|recover" "$BENCH_TMP/log2" | sed 's/^[0-9]*:M [^*#]*[*#] /  /'
[ "$got" = "$expect" ]

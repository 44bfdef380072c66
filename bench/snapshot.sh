#!/bin/sh
# bench/snapshot.sh [N] - snapshot save and load of N small keys (default 10,000,000) in Keel with
# 1 and 2 threads vs redis-server BGSAVE and start-up load of the same data; redis-benchmark
# throughput and p99 while snapshots run vs normal; copy-on-write memory of the snapshot child
# under a write load.
#
# Every server listens on 127.0.0.1 only, in its own temporary directory, and is killed by PID
# on exit. Needs: build/keel-server (KEEL_BIN to change), redis-server, redis-cli,
# redis-benchmark. Keys are "key:<i>" with an 8-byte value, as both servers store them.
# LOAD_RUNS (default 3): start-ups per load measurement, each printed, then their median (a
# shared machine makes one start-up a poor figure). SNAPSHOT_BENCH_ONLY=load stops after the
# save and load comparison (skips redis-benchmark and the copy-on-write part).
set -eu
N=${1:-10000000}
LOAD_RUNS=${LOAD_RUNS:-3}
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
KEEL=${KEEL_BIN:-$HERE/../build}/keel-server
BASE=${BENCH_DIR:-/tmp}
trap bench_cleanup EXIT

fill() { # $1 port: N SETs through redis-cli --pipe
    python3 -c "
import sys
w = sys.stdout.buffer.write
for i in range($N):
    k = b'key:%d' % i
    w(b'*3\r\n\$3\r\nSET\r\n\$%d\r\n%s\r\n\$8\r\nv%07d\r\n' % (len(k), k, i % 10000000))
" | redis-cli -p "$1" --pipe >/dev/null
}

info_field() { # $1 port, $2 section, $3 field
    redis-cli -p "$1" info "$2" | tr -d '\r' | awk -F: -v f="$3" '$1 == f {print $2}'
}

now_ms() { date +%s%3N; }

echo "== N=$N keys"
# ---- Keel: save with 1 and 2 threads, load with 1 and 2 threads ------------------------------
D=$(bench_tmpdir "$BASE")
P=$(bench_free_port)
bench_start "$P" "$KEEL" --port "$P" --bind 127.0.0.1 --dir "$D" --durability off
KPID=$BENCH_LAST_PID
t0=$(now_ms); fill "$P"; echo "keel fill: $(( $(now_ms) - t0 )) ms"
for th in 1 2; do
    redis-cli -p "$P" config set snapshot-threads $th >/dev/null
    t0=$(now_ms); redis-cli -p "$P" save >/dev/null; t1=$(now_ms)
    echo "keel SAVE threads=$th: $((t1 - t0)) ms wall, $(info_field "$P" snapshot snapshot_last_keys_per_sec) keys/s," \
        "$(info_field "$P" snapshot snapshot_last_mb_per_sec) MB/s raw," \
        "file $(info_field "$P" snapshot snapshot_last_bytes) bytes"
done
t0=$(now_ms); redis-cli -p "$P" bgsave >/dev/null
while [ "$(info_field "$P" persistence rdb_bgsave_in_progress)" = 1 ]; do sleep 0.01; done
echo "keel BGSAVE threads=2: $(( $(now_ms) - t0 )) ms wall (fork + write + reap)"
bench_stop "$KPID"
for th in 1 2; do
    runs=""; pings=""
    for _ in $(seq 1 "$LOAD_RUNS"); do
        P=$(bench_free_port)
        t0=$(now_ms)
        bench_start "$P" "$KEEL" --port "$P" --bind 127.0.0.1 --dir "$D" --durability off --snapshot-threads $th
        pings="$pings $(( $(now_ms) - t0 ))"
        runs="$runs $(info_field "$P" snapshot snapshot_load_ms)"
        keys=$(info_field "$P" snapshot snapshot_loaded_keys)
        bench_stop "$BENCH_LAST_PID"
    done
    echo "keel load threads=$th: median $(echo $runs | tr ' ' '\n' | bench_median) ms load (runs:$runs)," \
        "median $(echo $pings | tr ' ' '\n' | bench_median) ms to first PING, keys $keys"
done

# ---- redis-server: BGSAVE and load of the same data --------------------------------------------
RD=$(bench_tmpdir "$BASE")
P=$(bench_free_port)
bench_start "$P" redis-server --port "$P" --bind 127.0.0.1 --dir "$RD" --save '' --appendonly no
RPID=$BENCH_LAST_PID
fill "$P"
t0=$(now_ms); redis-cli -p "$P" bgsave >/dev/null
sleep 0.05
while [ "$(info_field "$P" persistence rdb_bgsave_in_progress)" = 1 ]; do sleep 0.01; done
echo "redis BGSAVE: $(( $(now_ms) - t0 )) ms wall, file $(stat -c %s "$RD/dump.rdb") bytes"
bench_stop "$RPID"
pings=""
for _ in $(seq 1 "$LOAD_RUNS"); do
    P=$(bench_free_port)
    t0=$(now_ms)
    bench_start "$P" redis-server --port "$P" --bind 127.0.0.1 --dir "$RD" --save '' --appendonly no
    pings="$pings $(( $(now_ms) - t0 ))"
    keys=$(redis-cli -p "$P" dbsize)
    bench_stop "$BENCH_LAST_PID"
done
echo "redis load: median $(echo $pings | tr ' ' '\n' | bench_median) ms to first PING (runs:$pings), keys $keys"
[ "${SNAPSHOT_BENCH_ONLY:-}" = load ] && exit 0

# ---- throughput and p99 while snapshots run vs normal (Keel, durability off) ------------------
P=$(bench_free_port)
bench_start "$P" "$KEEL" --port "$P" --bind 127.0.0.1 --dir "$D" --durability off
KPID=$BENCH_LAST_PID
# --csv columns: test, rps, avg, min, p50, p95, p99, max (ms)
bench() { redis-benchmark -p "$P" -t set,get -n 300000 -c 50 -r "$N" -d 8 --csv 2>/dev/null |
    tr -d '"' | awk -F, 'NR > 1 {printf "  %s rps=%s p50=%sms p99=%sms\n", $1, $2, $5, $7}'; }
echo "keel redis-benchmark, normal:"; bench
( while kill -0 "$KPID" 2>/dev/null; do redis-cli -p "$P" bgsave >/dev/null 2>&1; sleep 0.1; done ) &
LOOP=$!
echo "keel redis-benchmark, BGSAVE every 0.1 s:"; bench
kill "$LOOP" 2>/dev/null; wait "$LOOP" 2>/dev/null || true
echo "  snapshots taken: $(info_field "$P" snapshot snapshot_saves_ok)"
bench_stop "$KPID"

# ---- copy-on-write memory of the child under a write load --------------------------------------
P=$(bench_free_port)
KEEL_DEBUG_SNAPSHOT_DELAY_MS=3000 bench_start "$P" "$KEEL" --port "$P" --bind 127.0.0.1 --dir "$D" --durability off
KPID=$BENCH_LAST_PID
echo "keel used_memory: $(info_field "$P" memory used_memory) bytes"
redis-cli -p "$P" bgsave >/dev/null
redis-benchmark -p "$P" -t set -n 200000 -c 20 -r "$N" -d 8 -q >/dev/null 2>&1 || true
while [ "$(info_field "$P" persistence rdb_bgsave_in_progress)" = 1 ]; do sleep 0.05; done
echo "keel child copy-on-write (private dirty at its end) after 200k random SETs: $(info_field "$P" snapshot snapshot_last_cow_bytes) bytes"
bench_stop "$KPID"

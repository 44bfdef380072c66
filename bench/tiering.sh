#!/usr/bin/env bash
# tiering.sh - a data set larger than tiering-memory-target under a skewed load (docs/tiering.md,
# "Measured in the server"): KEYS values of VALUE_BYTES are loaded, the server sends the cold
# ones to the tier until used memory is near the target, then tier-load (bench/tier_load.c) runs
# THREADS clients for SECONDS: HOT_PCT % of requests to the hot HOT_KEYS_PCT % of the keys,
# WRITE_PCT % SETs. Prints the load rate, requests/s and latency of GET and SET, and the server's
# INFO memory and tiering figures. Run by hand; not part of the tests.
#
# Usage: bench/tiering.sh [KEYS] [VALUE_BYTES] [TARGET] [SECONDS] [THREADS] [HOT_PCT]
#                         [HOT_KEYS_PCT] [WRITE_PCT]
#   defaults: 1000000 1024 128mb 30 8 90 10 10   (1 GB of values, a 128 MB target)
#   env DURABILITY (default async), TIER_ARGS (more server arguments, e.g. "--tiering-direct-reads yes")
source "$(dirname "$0")/common.sh"
KEYS=${1:-1000000}
VLEN=${2:-1024}
TARGET=${3:-128mb}
SECS=${4:-30}
THREADS=${5:-8}
HOT=${6:-90}
HOTKEYS=${7:-10}
WRITES=${8:-10}
LOADER=${LOADER:-$ROOT/build/tier-load}
[ -x "$LOADER" ] || cmake --build "$ROOT/build" --target tier-load keel-server >/dev/null
port=$(free_port)
# shellcheck disable=SC2086
start_keel "$port" --durability "${DURABILITY:-async}" --snapshot-wal-bytes 0 \
    --snapshot-interval-s 0 --tiering yes --tiering-memory-target "$TARGET" ${TIER_ARGS:-}
pid=$LAST_PID
info() { redis-cli -p "$port" info "$1" | tr -d '\r'; }
field() { info "$1" | awk -F: -v k="$2" '$1==k {print $2}'; }
"$LOADER" load "$port" "$KEYS" "$VLEN"
# settle: until nothing is on its way out and memory is within 10 % of the target (at most 120 s)
for _ in $(seq 1 240); do
    [ "$(field tiering tiering_going_out)" = 0 ] &&
        [ "$(field memory used_memory)" -le $(( $(field tiering tiering_memory_target) * 11 / 10 )) ] && break
    sleep 0.5
done
echo "after load: used_memory $(field memory used_memory_human), rss $(field memory used_memory_rss_human)," \
    "tiered keys $(field tiering tiering_tiered_keys) of $KEYS"
redis-cli -p "$port" config resetstat >/dev/null
"$LOADER" run "$port" "$KEYS" "$SECS" "$THREADS" "$HOT" "$HOTKEYS" "$WRITES" "$VLEN"
info memory | grep -E '^used_memory(_rss)?:'
info tiering | grep -E '^tiering_(tiered_keys|tiered_bytes|memory_hits|tier_hits|fetches|fetch_latency|put_latency|values_out|values_in|out_stalls|errors|bytes_written|bytes_read|rocksdb_(total_sst_files_size|block_cache_usage|estimate_table_readers_mem|cur_size_all_mem_tables))'
grep -E 'rchar|read_bytes' "/proc/$pid/io" || true
stop_pid "$pid"

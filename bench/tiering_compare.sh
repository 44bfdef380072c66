#!/usr/bin/env bash
# tiering_compare.sh - a data set 8x larger than the memory target, side by side with the same data
# all in memory (keel without tiering) and a peer (valkey-server or redis-server), in one run.
#
# Three servers hold the same KEYS values of VALUE_BYTES (incompressible), loaded by one pipelining
# connection each (bench/tier_load.c):
#   tier   keel, tiering yes, tiering-memory-target TARGET, TIER_ARGS (default: direct reads, so an
#          SSD hit reads the device, not the page cache)
#   keel   keel, tiering no (everything in memory)
#   peer   $PEER (default valkey-server on PATH, else redis-server), no persistence
# Then ROUNDS interleaved rounds (tier, keel, peer, tier, ...), each on each server:
#   memory hits: the hot part (the first HOT_KEYS_PCT % of the keys) is read once (warm), then THREADS
#                clients (one request in flight each) GET random hot keys for SECONDS;
#   SSD hits:    THREADS clients GET random keys of the cold tail for SECONDS (on tier these wait
#                for the tier: the script prints how many did, from INFO tiering);
#   mixed:       MIXED_CLIENTS clients (default 50) for SECONDS, keys by a Zipf distribution
#                (exponent 0.99) over all keys, 10 % SETs: GET and SET rates and latencies, and on
#                tier the share of GETs that waited for the tier.
# At the end, the device's floor: random 4 KiB O_DIRECT reads of the tier's files, 1 and 4 threads.
# Prints medians of GET/s and latency per phase and server, the ratios tier/keel and tier/peer,
# memory (used_memory, RSS) and what a tiered key costs in memory. Run by hand; not a test.
#
# Usage: bench/tiering_compare.sh [KEYS] [VALUE_BYTES] [TARGET] [ROUNDS] [SECONDS] [THREADS]
#                                 [HOT_KEYS_PCT]
#   defaults: 4000000 1024 512mb 5 10 8 2   (4 GB of values, a 512 MB target, a 80 MB hot part)
#   env PEER, MIXED_CLIENTS, DURABILITY (keel's durability, default off: the peer runs without persistence),
#       TIER_ARGS (default "--tiering-direct-reads yes")
source "$(dirname "$0")/common.sh"
KEYS=${1:-4000000}
VLEN=${2:-1024}
TARGET=${3:-512mb}
ROUNDS=${4:-5}
SECS=${5:-10}
THREADS=${6:-8}
HOTPCT=${7:-2}
MIXED_CLIENTS=${MIXED_CLIENTS:-50}
PEER=${PEER:-$(command -v valkey-server || command -v redis-server)}
TIER_ARGS=${TIER_ARGS:---tiering-direct-reads yes}
LOADER=$ROOT/build/tier-load
cmake --build "$ROOT/build" --target tier-load keel-server >/dev/null
HOT=$((KEYS * HOTPCT / 100))

declare -A PORT PID
common=(--durability "${DURABILITY:-off}" --snapshot-wal-bytes 0 --snapshot-interval-s 0)
PORT[tier]=$(free_port)
# shellcheck disable=SC2086
start_keel "${PORT[tier]}" "${common[@]}" --tiering yes --tiering-memory-target "$TARGET" $TIER_ARGS
PID[tier]=$LAST_PID
PORT[keel]=$(free_port)
start_keel "${PORT[keel]}" "${common[@]}"
PID[keel]=$LAST_PID
PORT[peer]=$(free_port)
d="$BENCH_TMP/peer"
mkdir -p "$d"
"$PEER" --bind 127.0.0.1 --port "${PORT[peer]}" --dir "$d" --save '' --appendonly no >"$d/log" 2>&1 &
PID[peer]=$!
PIDS+=("${PID[peer]}")
wait_ping "${PORT[peer]}"
SERVERS=(tier keel peer)

info() { redis-cli -p "${PORT[$1]}" info "$2" | tr -d '\r'; }
field() { info "$1" "$2" | awk -F: -v k="$3" '$1==k {print $2}'; }

# Wait until nothing is on its way out, memory is near the target and RocksDB is idle: after the
# load, and after the hot part is read back in (the memory-hit phase measures reads, not a tier
# busy writing the values the hot part pushed out).
settle() {
    local t
    for _ in $(seq 1 600); do
        t=$(info tier tiering)
        get() { echo "$t" | awk -F: -v k="$1" '$1==k {print $2}'; }
        [ "$(get tiering_going_out)" = 0 ] &&
            [ "$(field tier memory used_memory)" -le $(($(get tiering_memory_target) * 11 / 10)) ] &&
            [ "$(get tiering_rocksdb_num_running_compactions)" = 0 ] &&
            [ "$(get tiering_rocksdb_num_running_flushes)" = 0 ] &&
            [ "$(get tiering_rocksdb_estimate_pending_compaction_bytes)" = 0 ] && return 0
        sleep 0.5
    done
}


echo "peer: $("$PEER" --version | head -c 60)"
echo "$KEYS values of $VLEN bytes, target $TARGET ($TIER_ARGS), hot part $HOT keys, $THREADS clients"
for s in "${SERVERS[@]}"; do
    printf '%-5s ' "$s"
    "$LOADER" load "${PORT[$s]}" "$KEYS" "$VLEN"
done


settle # after the load: nothing on its way out, memory near the target, RocksDB idle

# One measurement -> "gets/s p50 p99 p99.9 tier_hits memory_hits" (kind GET or SET)
measure() { # server hot_pct [clients write_pct kind]
    local s=$1 h=$2 before after out
    before=$(info "$s" tiering)
    out=$("$LOADER" run "${PORT[$s]}" "$KEYS" "$SECS" "${3:-$THREADS}" "$h" "$HOTPCT" "${4:-0}" "$VLEN" |
        tee "$BENCH_TMP/last-run" | grep '^GET:')
    after=$(info "$s" tiering)
    delta() {
        local a b
        a=$(echo "$after" | awk -F: -v k="$1" '$1==k {print $2}')
        b=$(echo "$before" | awk -F: -v k="$1" '$1==k {print $2}')
        echo $((${a:-0} - ${b:-0}))
    }
    echo "$out" | awk -v th="$(delta tiering_tier_hits)" -v mh="$(delta tiering_memory_hits)" \
        '{gsub(/,/,""); for (i=1;i<=NF;i++) {if ($i=="p50") p50=$(i+1); if ($i=="p99") p99=$(i+1);
          if ($i=="p99.9") p999=$(i+1); if ($i ~ /\/s$/) {r=$i; sub(/\/s$/,"",r)}}
          print r, p50, p99, p999, th, mh}'
}

declare -A RES
for round in $(seq 1 "$ROUNDS"); do
    for s in "${SERVERS[@]}"; do
        "$LOADER" warm "${PORT[$s]}" 0 "$HOT"
        [ "$s" = tier ] && settle
        m=$(measure "$s" 100)
        d=$(measure "$s" -1)
        z=$(measure "$s" -2 "$MIXED_CLIENTS" 10) # Zipf over all keys, 10 % SETs
        zs=$(grep '^SET:' "$BENCH_TMP/last-run" | awk '{gsub(/,/,""); for (i=1;i<=NF;i++) {
            if ($i ~ /\/s$/) {r=$i; sub(/\/s$/,"",r)} if ($i=="p50") a=$(i+1); if ($i=="p99") b=$(i+1);
            if ($i=="p99.9") c=$(i+1)} print r, a, b, c}')
        echo "round $round $s: memory hits [$m], SSD hits [$d], mixed GETs [$z] SETs [$zs]" \
            "(GET/s p50 p99 p99.9 tier-hits memory-hits)" >&2
        RES["$s,mem"]+="$m;"
        RES["$s,ssd"]+="$d;"
        RES["$s,mix"]+="$z;"
        RES["$s,mixset"]+="$zs;"
    done
done

col() { # "a b c;a b c;" column -> median
    echo "$1" | tr ';' '\n' | awk -v c="$2" 'NF {print $c}' | median
}
echo
printf '%-22s %10s %8s %8s %8s %12s\n' "GETs (medians)" "GET/s" "p50 us" "p99 us" "p99.9 us" "tier hits %"
for ph in mem ssd mix; do
    for s in "${SERVERS[@]}"; do
        v=${RES["$s,$ph"]}
        th=$(col "$v" 5)
        mh=$(col "$v" 6)
        pct=$(echo "$th $mh" | awk '{t=$1+$2; if (t>0) printf "%.1f", 100*$1/t; else print "-"}')
        case $ph in
        mem) label="memory hits" ;;
        ssd) label="SSD hits (cold tail)" ;;
        mix) label="mixed (Zipf, 10% SET)" ;;
        esac
        printf '%-22s %10.0f %8s %8s %8s %12s\n' "$label, $s" "$(col "$v" 1)" "$(col "$v" 2)" \
            "$(col "$v" 3)" "$(col "$v" 4)" "$pct"
    done
done
for s in "${SERVERS[@]}"; do
    v=${RES["$s,mixset"]}
    printf '%-22s %10.0f %8s %8s %8s\n' "mixed SETs, $s" "$(col "$v" 1)" "$(col "$v" 2)" \
        "$(col "$v" 3)" "$(col "$v" 4)"
done
echo "(mixed: $MIXED_CLIENTS clients; tier hits % of its GETs waited for the tier)"
for ph in mem ssd mix; do
    t=$(col "${RES["tier,$ph"]}" 1)
    printf '%-22s tier/keel %.3f, tier/peer %.3f (GET/s)\n' "$ph" \
        "$(echo "$t / $(col "${RES["keel,$ph"]}" 1)" | bc -l)" "$(echo "$t / $(col "${RES["peer,$ph"]}" 1)" | bc -l)"
done

echo
for s in "${SERVERS[@]}"; do
    echo "$s: used_memory $(field "$s" memory used_memory_human), rss $(field "$s" memory used_memory_rss_human)"
done
echo "tier: $(field tier tiering tiering_tiered_keys) of $KEYS keys tiered," \
    "fetch latency p50/p99 $(field tier tiering tiering_fetch_latency_p50_us)/$(field tier tiering tiering_fetch_latency_p99_us) us," \
    "SST $(field tier tiering tiering_rocksdb_total_sst_files_size) bytes," \
    "block cache $(field tier tiering tiering_rocksdb_block_cache_usage), memtables $(field tier tiering tiering_rocksdb_cur_size_all_mem_tables)," \
    "table readers $(field tier tiering tiering_rocksdb_estimate_table_readers_mem)"
# What a tiered key costs in memory: MEMORY USAGE of 500 cold keys that are tiered, against the same
# keys on keel (values in memory).
sample=$(seq "$HOT" $(((KEYS - HOT) / 500)) $((KEYS - 1)) | head -500)
enc=$(for k in $sample; do echo "OBJECT ENCODING key:$k"; done | redis-cli -p "${PORT[tier]}")
use_t=$(for k in $sample; do echo "MEMORY USAGE key:$k"; done | redis-cli -p "${PORT[tier]}")
use_k=$(for k in $sample; do echo "MEMORY USAGE key:$k"; done | redis-cli -p "${PORT[keel]}")
paste <(echo "$sample") <(echo "$enc") <(echo "$use_t") <(echo "$use_k") |
    awk '$2=="tiered" {n++; klen=length("key:" $1); st+=$3-klen; sk+=$4-klen}
         END {if (n) printf "tiered key in memory: MEMORY USAGE - key length = %.1f bytes (mean of %d tiered keys; the same keys on keel: %.1f)\n", st/n, n, sk/n}'
# The device's floor beside the SSD hits: random 4 KiB O_DIRECT reads of the tier's own files,
# with the tier idle.
settle
sst=$(ls "$BENCH_TMP/keel-${PORT[tier]}/tier/db/"*.sst 2>/dev/null || true)
if [ -n "$sst" ]; then
    # shellcheck disable=SC2086
    for t in 1 4; do "$LOADER" disk 5 "$t" $sst; done
fi

#!/usr/bin/env bash
# tiering_callgrind.sh - what a memory hit costs with tiering on, in instructions: callgrind counts
# everything exec_command_cb runs (lookup, the tier's key check, the command, its reply) for GETs of
# resident values, on keel with tiering on (most values in the tier, the read ones in memory) and
# keel without tiering, same data. Instruction counts do not depend on the machine's load.
#
# Usage: bench/tiering_callgrind.sh [KEYS] [HOT] [PASSES] [ROUNDS]   (defaults 20000 400 10 3)
#   KEYS values of 1 KiB, a 4 MB target; the measured load is PASSES pipelined passes of GET over
#   the HOT keys read once before (all memory hits: the script checks tiering_tier_hits), pipeline 16.
source "$(dirname "$0")/common.sh"
KEYS=${1:-20000}
HOT=${2:-400}
PASSES=${3:-10}
ROUNDS=${4:-3}
LOADER=$ROOT/build/tier-load
cmake --build "$ROOT/build" --target tier-load keel-server >/dev/null

one() { # label args... -> instructions per GET
    local label=$1; shift
    local port d pid
    port=$(free_port)
    d="$BENCH_TMP/cg-$label-$port"
    mkdir -p "$d"
    valgrind --tool=callgrind --toggle-collect=exec_command_cb --callgrind-out-file="$d/cg.out" \
        "$KEEL" --bind 127.0.0.1 --port "$port" --dir "$d" --durability off "$@" >"$d/log" 2>&1 &
    pid=$!
    PIDS+=("$pid")
    for _ in $(seq 1 1200); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.05; done
    "$LOADER" load "$port" "$KEYS" 1024 >/dev/null
    "$LOADER" warm "$port" 0 "$HOT"
    sleep 2 # values sent out after the warm pass settle
    "$LOADER" warm "$port" 0 "$HOT"
    local th0 th1
    th0=$(redis-cli -p "$port" info tiering | tr -d '\r' | awk -F: '$1=="tiering_tier_hits" {print $2}')
    callgrind_control -z "$pid" >/dev/null 2>&1
    for _ in $(seq 1 "$PASSES"); do "$LOADER" warm "$port" 0 "$HOT" 16; done
    callgrind_control -d "$pid" >/dev/null 2>&1
    th1=$(redis-cli -p "$port" info tiering | tr -d '\r' | awk -F: '$1=="tiering_tier_hits" {print $2}')
    [ "${th0:-0}" = "${th1:-0}" ] || echo "$label: $((th1 - th0)) GETs waited for the tier" >&2
    kill -TERM "$pid"; [ -n "${KEEP:-}" ] && cp -r "$d" "$KEEP-$label"
    wait "$pid" 2>/dev/null || true
    # the dump made by callgrind_control -d covers the measured passes only
    local f
    f=$(ls -t "$d"/cg.out* | grep -v '^$' | while read -r x; do [ "$x" != "$d/cg.out" ] && echo "$x"; done | head -1)
    callgrind_annotate "${f:-$d/cg.out}" 2>/dev/null |
        awk -v n="$((PASSES * HOT))" '/PROGRAM TOTALS/ {gsub(",", "", $1); printf "%.0f\n", $1 / n}'
}

printf '%-26s %s\n' case "instructions per GET in exec_command_cb (median of $ROUNDS)"
for c in "tiering:--tiering yes --tiering-memory-target 4mb" "no-tiering:"; do
    label=${c%%:*}
    read -r -a args <<<"${c#*:}"
    vals=""
    for _ in $(seq 1 "$ROUNDS"); do vals+="$(one "$label" "${args[@]}") "; done
    printf '%-26s %s   (%s)\n' "$label" "$(echo $vals | tr ' ' '\n' | median)" "$vals"
done

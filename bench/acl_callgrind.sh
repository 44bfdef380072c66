#!/usr/bin/env bash
# acl_callgrind.sh - what the ACL check costs per command, in instructions: callgrind counts
# everything exec_command_cb runs (lookup, checks, the command, its reply) for SET and GET
# (512-byte values, one key, one client, pipeline 16), as the default user and as two restricted
# users. Instruction counts do not depend on the machine's load, unlike requests/s on a shared
# machine; they move by about 0.5% between runs of one binary (the hash table's seed is random at
# every start), so each case runs ROUNDS times and the median is printed.
#
# Usage: bench/acl_callgrind.sh [BIN] [ROUNDS] [REQUESTS]   (defaults build/keel-server, 3, 20000)
#   A build without ACL users (before them) runs the default case only.
source "$(dirname "$0")/common.sh"
BIN=${1:-$KEEL}
ROUNDS=${2:-3}
N=${3:-20000}

# one LABEL RULES... : prints instructions per SET/GET for one run; RULES empty = default user
one() {
    local label=$1; shift
    local port d pid auth=()
    port=$(free_port)
    d="$BENCH_TMP/cg-$label-$port"
    mkdir -p "$d"
    valgrind --tool=callgrind --toggle-collect=exec_command_cb --callgrind-out-file="$d/cg.out" \
        "$BIN" --bind 127.0.0.1 --port "$port" --dir "$d" --durability off >"$d/log" 2>&1 &
    pid=$!
    PIDS+=("$pid")
    for _ in $(seq 1 600); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.05; done
    if [ $# -gt 0 ]; then
        redis-cli -p "$port" ACL SETUSER u on '>pw' "$@" | grep -q OK || { stop_pid "$pid"; return 1; }
        redis-cli -p "$port" --user u --pass pw ping >/dev/null 2>&1 # the first hash loads OpenSSL
        auth=(--user u -a pw)
    fi
    callgrind_control -z "$pid" >/dev/null 2>&1 # count the benchmark only
    redis-benchmark -p "$port" "${auth[@]}" -t set,get -n "$N" -P 16 -c 1 -d 512 -q >/dev/null 2>&1
    kill -TERM "$pid"
    wait "$pid" 2>/dev/null || true
    callgrind_annotate "$d/cg.out" 2>/dev/null |
        awk -v n="$N" '/PROGRAM TOTALS/ {gsub(",", "", $1); printf "%.0f\n", $1 / (2 * n)}'
}

printf '%-40s %s\n' case "instructions per SET/GET (median of $ROUNDS)"
for c in default "allkeys:~* &* +@all -flushall" "pattern:~key:* &* +@all"; do
    label=${c%%:*}
    rules=()
    [ "$c" != default ] && read -r -a rules <<<"${c#*:}"
    vals=""
    for _ in $(seq 1 "$ROUNDS"); do
        v=$(one "$label" "${rules[@]}") || { vals=""; break; }
        vals+="$v "
    done
    [ -n "$vals" ] || { printf '%-40s %s\n' "$label" "(no ACL users in this build)"; continue; }
    [ "$c" = default ] && desc=default || desc="$label (${c#*:})"
    printf '%-40s %s\n' "$desc" "$(echo $vals | tr ' ' '\n' | median)"
done

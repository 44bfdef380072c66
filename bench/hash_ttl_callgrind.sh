#!/usr/bin/env bash
# hash_ttl_callgrind.sh - what hash-field expiry costs hashes that do not use it, and what a field
# expiry costs one that does.
#
# Instructions: callgrind counts everything exec_command_cb runs (lookup, the command, its reply)
# per command, one client, pipeline 16, for HSET and HGET on small hashes (packed lists, random
# keys h:0..999) and on one big hash (a table, fields f:0..9999), and for HGET on a big hash
# whose every field has an expiry in an hour (the OBJ_ENC_HASH_TTL table). Run it on the build
# before field expiry and on this one: the plain cases must not move. Instruction counts do not
# depend on the machine's load; they move by about 0.5% between runs of one binary (the hash
# table's seed is random at every start), so each case runs ROUNDS times and the median is printed.
#
# Memory: used_memory per field of a 100000-field hash (16-byte fields and values), without and
# with an expiry on every field (HSET and HSETEX PX of 1000 fields a call; no valgrind).
#
# Usage: bench/hash_ttl_callgrind.sh [BIN] [ROUNDS] [REQUESTS]   (defaults build/keel-server, 3,
#   20000). A build without field expiry skips the cases that need it.
source "$(dirname "$0")/common.sh"
BIN=${1:-$KEEL}
ROUNDS=${2:-3}
N=${3:-20000}
BIGN=${BIGN:-10000}

# fill PORT: the big hashes; "ttl" gets an expiry on every field when the build has HPEXPIRE
fill() {
    local port=$1
    /usr/bin/python3 - "$port" "$BIGN" <<'EOF'
import sys, redis
r = redis.Redis(port=int(sys.argv[1]))
n = int(sys.argv[2])
p = r.pipeline(transaction=False)
for i in range(0, n, 500):
    m = {"f:%012d" % j: "v%015d" % j for j in range(i, min(n, i + 500))}
    p.hset("big", mapping=m)
    p.hset("ttl", mapping=m)
p.execute()
try:
    for i in range(0, n, 500):
        r.execute_command("HPEXPIRE", "ttl", 3600000, "FIELDS", min(500, n - i),
                          *["f:%012d" % j for j in range(i, min(n, i + 500))])
except redis.ResponseError:
    r.delete("ttl")
EOF
}

# one LABEL CMD...: instructions per command for one run of redis-benchmark running CMD
one() {
    local label=$1; shift
    local port d pid
    port=$(free_port)
    d="$BENCH_TMP/cg-$label-$port"
    mkdir -p "$d"
    valgrind --tool=callgrind --toggle-collect=exec_command_cb --callgrind-out-file="$d/cg.out" \
        "$BIN" --bind 127.0.0.1 --port "$port" --dir "$d" --durability off >"$d/log" 2>&1 &
    pid=$!
    PIDS+=("$pid")
    for _ in $(seq 1 600); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.05; done
    fill "$port"
    if [ "$label" = hget-ttl ] && [ "$(redis-cli -p "$port" exists ttl)" != 1 ]; then
        kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
        return 1
    fi
    # the small hashes exist before the counted run, so HSET updates as often as HGET finds
    redis-benchmark -p "$port" -n "$N" -r 1000 -P 16 -c 1 -q hset h:__rand_int__ f v >/dev/null 2>&1
    callgrind_control -z "$pid" >/dev/null 2>&1 # count the benchmark only
    redis-benchmark -p "$port" -n "$N" -r "$BIGN" -P 16 -c 1 -q "$@" >/dev/null 2>&1
    kill -TERM "$pid"
    wait "$pid" 2>/dev/null || true
    callgrind_annotate "$d/cg.out" 2>/dev/null |
        awk -v n="$N" '/PROGRAM TOTALS/ {gsub(",", "", $1); printf "%.0f\n", $1 / n}'
}

printf '%-12s %s\n' case "instructions per command (median of $ROUNDS)"
while read -r label cmd; do
    vals=""
    for _ in $(seq 1 "$ROUNDS"); do
        # shellcheck disable=SC2086
        v=$(one "$label" $cmd) || { vals=""; break; }
        vals+="$v "
    done
    [ -n "$vals" ] || { printf '%-12s %s\n' "$label" "(no field expiry in this build)"; continue; }
    printf '%-12s %s\n' "$label" "$(echo $vals | tr ' ' '\n' | median)"
done <<'EOF'
hset-small hset h:__rand_int__ f v
hget-small hget h:__rand_int__ f
hset-big hset big f:__rand_int__ v000000000000000
hget-big hget big f:__rand_int__
hget-ttl hget ttl f:__rand_int__
EOF

port=$(free_port)
KEEL=$BIN start_keel "$port" --durability off
/usr/bin/python3 - "$port" <<'EOF'
import sys, redis
r = redis.Redis(port=int(sys.argv[1]))
n = 100000
def grow(key, with_ttl):
    """used_memory taken by a hash of n fields, 1000 a call, each with an expiry or not (the same
    growth either way, so the tables are sized alike)."""
    base = r.info("memory")["used_memory"]
    for i in range(0, n, 1000):
        pairs = []
        for j in range(i, i + 1000):
            pairs += ["f:%014d" % j, "v%015d" % j]
        if with_ttl:
            r.execute_command("HSETEX", key, "PX", 3600000, "FIELDS", 1000, *pairs)
        else:
            r.execute_command("HSET", key, *pairs)
    return (r.info("memory")["used_memory"] - base) / n
plain = grow("plain", False)
try:
    ttl = "%.1f" % grow("ttl", True)
except redis.ResponseError:
    ttl = "(no field expiry in this build)"
print("bytes per field, 100000-field hash (16-byte fields and values): %.1f without expiries, "
      "%s with one on every field" % (plain, ttl))
EOF
stop_pid "$LAST_PID"

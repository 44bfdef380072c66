# common.sh - shared by the bench scripts: build, free ports, start/stop servers, medians.
# Servers bind to 127.0.0.1 on free ports and are killed by PID on exit, also on failure.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
KEEL=${KEEL:-$ROOT/build/keel-server}
REDIS=${REDIS:-$(command -v redis-server)}
BENCH_TMP=$(mktemp -d /tmp/keel-bench.XXXXXX)
PIDS=()

cleanup() {
    for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill -9 "$p" 2>/dev/null || true; done
    rm -rf "$BENCH_TMP"
}
trap cleanup EXIT

build_keel() {
    "$ROOT/scripts/deps.sh" test
    cmake -S "$ROOT" -B "$ROOT/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
    cmake --build "$ROOT/build" -j"$(nproc)" --target keel-server >/dev/null
}

free_port() {
    /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_ping() {
    for _ in $(seq 1 300); do
        redis-cli -p "$1" ping >/dev/null 2>&1 && return 0
        sleep 0.05
    done
    echo "server on port $1 did not start" >&2
    return 1
}

# start_keel PORT [args...] -> sets LAST_PID
start_keel() {
    local port=$1; shift
    local d="$BENCH_TMP/keel-$port"
    mkdir -p "$d"
    "$KEEL" --bind 127.0.0.1 --port "$port" --dir "$d" "$@" >"$d/log" 2>&1 &
    LAST_PID=$!
    PIDS+=("$LAST_PID")
    wait_ping "$port"
}

# start_redis PORT [args...] -> sets LAST_PID
start_redis() {
    local port=$1; shift
    local d="$BENCH_TMP/redis-$port"
    mkdir -p "$d"
    "$REDIS" --bind 127.0.0.1 --port "$port" --dir "$d" --save '' --appendonly no "$@" >"$d/log" 2>&1 &
    LAST_PID=$!
    PIDS+=("$LAST_PID")
    wait_ping "$port"
}

stop_pid() { # kills and forgets the PID (a reused PID must not be killed by cleanup later)
    kill -9 "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
    local keep=() p
    for p in "${PIDS[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
    PIDS=("${keep[@]}")
}

# median of the numbers on stdin
median() {
    sort -g | awk '{a[NR]=$1} END {if (NR==0) {print "nan"; exit} if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'
}

# bench_rps LABEL PORT TESTS PIPELINE REQUESTS: redis-benchmark (512-byte values, 50 clients,
# 100,000 random keys) on PORT; each test's requests/s is appended to RES["LABEL,TEST,PIPELINE"]
# (TEST upper case; the caller declares `declare -A RES`).
bench_rps() {
    local label=$1 port=$2 tests=$3 pipe=$4 n=$5 out t rps
    out=$(redis-benchmark -p "$port" -t "$tests" -d 512 -c 50 -P "$pipe" -n "$n" -r 100000 --csv -q)
    for t in $(echo "$tests" | tr 'a-z,' 'A-Z '); do
        rps=$(echo "$out" | awk -F'"' -v t="$t" '$2==t {print $4}')
        [ -n "$rps" ] && RES["$label,$t,$pipe"]+="$rps "
    done
    return 0
}

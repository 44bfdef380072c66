# bench/lib.sh - helpers shared by the benchmark scripts (sourced, not run).
#
# Every server started here listens on 127.0.0.1 only, on a free port, with its own temporary
# directory, and is killed by its PID (bench_cleanup, from an EXIT trap).

BENCH_PIDS=""
BENCH_DIRS=""

bench_free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

bench_tmpdir() { # $1: base directory (the file system under test)
    d=$(mktemp -d "$1/keel-bench-XXXXXX")
    BENCH_DIRS="$BENCH_DIRS $d"
    echo "$d"
}

bench_wait_port() { # $1 port; waits until PING answers (10 s at most)
    for _ in $(seq 1 200); do
        if [ "$(redis-cli -p "$1" ping 2>/dev/null)" = "PONG" ]; then return 0; fi
        sleep 0.05
    done
    echo "server on port $1 did not start" >&2
    return 1
}

bench_start() { # $1 port, rest: the command; remembers the PID
    port=$1
    shift
    "$@" >/dev/null 2>&1 &
    BENCH_LAST_PID=$!
    BENCH_PIDS="$BENCH_PIDS $BENCH_LAST_PID"
    bench_wait_port "$port"
}

bench_stop() { # $1 PID
    kill "$1" 2>/dev/null
    wait "$1" 2>/dev/null
    BENCH_PIDS=$(echo "$BENCH_PIDS" | sed "s/ $1\b//")
}

bench_cleanup() {
    for p in $BENCH_PIDS; do kill -9 "$p" 2>/dev/null; done
    for d in $BENCH_DIRS; do rm -rf "$d"; done
}

# median of the numbers on stdin
bench_median() {
    sort -g | awk '{a[NR] = $1} END {if (NR == 0) print "nan"; else if (NR % 2) print a[(NR + 1) / 2]; else printf "%.3f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2}'
}

#!/bin/sh
# bench/durable.sh - what durable writes cost: redis-benchmark SET with 512-byte values, 50
# clients, pipeline 1 and 16, against
#   keel-sync     keel-server --durability sync   (replies parked until the log is on disk)
#   keel-off      keel-server --durability off    (no log: the ceiling)
#   redis-always  Debian's redis-server --appendonly yes --appendfsync always
# Runs are interleaved (ROUNDS rounds of every config and load, a fresh server and data directory
# each time) so that a noisy neighbour hurts all configs alike; the table shows medians of
# throughput and of p50/p99 latency, and the ratios the targets are about (sync >= 0.8 x off,
# sync >= 1.5 x redis-always at 50 clients). The floor is the file system's own latency of a
# 4 KiB write + fdatasync, measured here on the same directory, into a fallocated file and into
# a zero-written one (what keel's log writes into: wal/zero.c).
# Around each run the script also reads the CPU time of the server process (/proc/PID/stat) and
# of the whole machine (/proc/stat), and prints CPU seconds per 1M SETs of the server and of
# everything else (the client, kernel I/O threads, interrupts), the idle share, and what all
# cores could serve at that CPU cost: on a machine the client shares with the server, the ratio
# of those costs bounds sync/off whatever the disk does.
# Background snapshots are off on both sides (keel --snapshot-wal-bytes 0, redis
# --auto-aof-rewrite-percentage 0): this measures the log; bench/snapshot.sh measures snapshots.
#
# Usage: bench/durable.sh [BUILD_DIR]   (default ./build)
#   env: ROUNDS (3), N1 requests at pipeline 1 (100000), N16 at pipeline 16 (500000),
#        BENCH_DIR the file system to test (default /tmp), CLIENTS (50)
# Only loopback addresses are used. Takes a few minutes; on a shared machine the numbers move.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
build=${1:-./build}
keel="$build/keel-server"
ROUNDS=${ROUNDS:-3}
N1=${N1:-100000}
N16=${N16:-500000}
CLIENTS=${CLIENTS:-50}
HZ=$(getconf CLK_TCK)
BENCH_DIR=${BENCH_DIR:-/tmp}
[ -x "$keel" ] || { echo "no $keel (give the build directory)" >&2; exit 2; }
command -v redis-benchmark >/dev/null || { echo "redis-benchmark not installed" >&2; exit 2; }
command -v redis-server >/dev/null || { echo "redis-server not installed" >&2; exit 2; }
trap bench_cleanup EXIT INT TERM
results=$(bench_tmpdir "$BENCH_DIR")/results.csv
: >"$results"

fsync_floor() { # $1 dir, $2 fallocate|zeroed; prints "p50_us p99_us" of 4 KiB pwrite + fdatasync
    python3 - "$1" "$2" <<'EOF'
import os, sys, time
path = os.path.join(sys.argv[1], "fsync-floor.bin")
fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
if sys.argv[2] == "zeroed":
    for i in range(8):
        os.pwrite(fd, bytes(1 << 20), i << 20)
else:
    os.posix_fallocate(fd, 0, 8 << 20)
os.fsync(fd)
buf = b"k" * 4096
lat = []
for i in range(2000):
    t = time.perf_counter()
    os.pwrite(fd, buf, (i * 4096) % (8 << 20))
    os.fdatasync(fd)
    lat.append((time.perf_counter() - t) * 1e6)
os.close(fd)
os.unlink(path)
lat.sort()
print("%d %d" % (lat[len(lat) // 2], lat[int(len(lat) * 0.99)]))
EOF
}

start_config() { # $1 config name; sets PORT and PID
    PORT=$(bench_free_port)
    d=$(bench_tmpdir "$BENCH_DIR")
    case $1 in
    keel-sync) bench_start "$PORT" "$keel" --bind 127.0.0.1 --port "$PORT" --dir "$d" --durability sync \
        --snapshot-wal-bytes 0 ;;
    keel-off) bench_start "$PORT" "$keel" --bind 127.0.0.1 --port "$PORT" --dir "$d" --durability off ;;
    redis-always) bench_start "$PORT" redis-server --bind 127.0.0.1 --port "$PORT" --dir "$d" \
        --save '' --appendonly yes --appendfsync always --auto-aof-rewrite-percentage 0 ;;
    esac
    PID=$BENCH_LAST_PID
}

proc_cpu_ticks() { # $1 PID: user + system clock ticks of the whole process (all threads)
    sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'
}

machine_ticks() { # "busy idle" clock ticks of all CPUs since boot
    awk '/^cpu / {print $2 + $3 + $4 + $7 + $8, $5 + $6}' /proc/stat
}

run_one() { # $1 config, $2 pipeline, $3 requests; appends "config,P,rps,p50,p99,srv,other,idle"
    start_config "$1"
    s0=$(proc_cpu_ticks "$PID")
    m0=$(machine_ticks)
    line=$(redis-benchmark -h 127.0.0.1 -p "$PORT" -t set -d 512 -c "$CLIENTS" -P "$2" -n "$3" \
        -r 1000000 --csv 2>/dev/null | grep '^"SET"' | tr -d '"')
    s1=$(proc_cpu_ticks "$PID")
    m1=$(machine_ticks)
    bench_stop "$PID"
    # SET,rps,avg,min,p50,p95,p99,max; CPU in seconds per 1M requests: the server process, the
    # rest of the machine (the client, kernel I/O threads, interrupts), and the idle share
    echo "$line" | awk -F, -v c="$1" -v p="$2" -v n="$3" -v hz="$HZ" -v s="$((s1 - s0))" \
        -v m="$m0 $m1" '{split(m, t, " "); b = t[3] - t[1]; i = t[4] - t[2]
              printf "%s,%s,%s,%s,%s,%.2f,%.2f,%.1f\n", c, p, $2, $5, $7, s / hz * 1e6 / n,
              (b - s) / hz * 1e6 / n, ((b + i) > 0 ? 100 * i / (b + i) : 0)}' >>"$results"
    echo "  $1 P$2: $(tail -1 "$results")" >&2
}

echo "fsync floor on $BENCH_DIR..." >&2
floor=$(fsync_floor "$(dirname "$results")" fallocate)
zfloor=$(fsync_floor "$(dirname "$results")" zeroed)
configs="keel-sync keel-off redis-always"
for r in $(seq 1 "$ROUNDS"); do
    echo "round $r/$ROUNDS" >&2
    for c in $configs; do run_one "$c" 1 "$N1"; done
    for c in $configs; do run_one "$c" 16 "$N16"; done
done

med() { # $1 config, $2 pipeline, $3 field (3 rps, 4 p50, 5 p99, 6 server CPU, 7 other CPU, 8 idle %)
    awk -F, -v c="$1" -v p="$2" -v f="$3" '$1 == c && $2 == p {print $f}' "$results" | bench_median
}

cpu_total() { # $1 config, $2 pipeline: median server + median other CPU seconds per 1M requests
    awk -v a="$(med "$1" "$2" 6)" -v b="$(med "$1" "$2" 7)" 'BEGIN {print a + b}'
}

echo
echo "SET 512 B values, $CLIENTS clients, medians of $ROUNDS interleaved runs ($(nproc) cores, shared machine)"
echo "disk floor (4 KiB write + fdatasync on $BENCH_DIR): fallocated file p50 $(echo "$floor" | cut -d' ' -f1) us, p99 $(echo "$floor" | cut -d' ' -f2) us; zero-written file p50 $(echo "$zfloor" | cut -d' ' -f1) us, p99 $(echo "$zfloor" | cut -d' ' -f2) us"
printf "%-14s %9s %12s %10s %10s %12s %12s %8s %14s\n" config pipeline "ops/s" "p50 ms" "p99 ms" \
    "server cpu" "other cpu" "idle %" "cpu-bound ops/s"
for p in 1 16; do
    for c in $configs; do
        printf "%-14s %9s %12s %10s %10s %12s %12s %8s %14s\n" "$c" "$p" "$(med "$c" "$p" 3)" \
            "$(med "$c" "$p" 4)" "$(med "$c" "$p" 5)" "$(med "$c" "$p" 6)" "$(med "$c" "$p" 7)" \
            "$(med "$c" "$p" 8)" "$(awk -v t="$(cpu_total "$c" "$p")" -v n="$(nproc)" \
            'BEGIN {printf "%.0f", (t > 0 ? n * 1e6 / t : 0)}')"
    done
done
echo "(server cpu, other cpu: CPU seconds per 1M SETs of the server process and of everything else on"
echo " the machine, the client included; cpu-bound ops/s: what all $(nproc) cores could serve at that cost)"
echo
for p in 1 16; do
    s=$(med keel-sync "$p" 3)
    o=$(med keel-off "$p" 3)
    a=$(med redis-always "$p" 3)
    sp=$(med keel-sync "$p" 4)
    op=$(med keel-off "$p" 4)
    cs=$(cpu_total keel-sync "$p")
    co=$(cpu_total keel-off "$p")
    awk -v s="$s" -v o="$o" -v a="$a" -v p="$p" -v sp="$sp" -v op="$op" -v cs="$cs" -v co="$co" \
        -v f="$(echo "$zfloor" | cut -d' ' -f1)" 'BEGIN {
        printf "pipeline %2s: sync/off %.2f (target >= 0.80; CPU cost allows %.2f)   sync/redis-always %.2f (target >= 1.50)   p50 sync-off %.2f ms = %.1f fsyncs (target <= ~2)\n",
            p, s / o, (cs > 0 ? co / cs : 0), s / a, sp - op, (sp - op) * 1000 / f }'
done

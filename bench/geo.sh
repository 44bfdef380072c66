#!/usr/bin/env bash
# geo.sh - GEOSEARCH throughput: keel-server vs a peer (valkey-server or redis-server) under the
# same redis-benchmark load.
#
# Both servers get the same POINTS points (seeded, spread over a 40 x 25 degree box over Europe,
# so a 20 km circle holds about ten of them) in one key, loaded with GEOADD through redis-cli
# --pipe. Then redis-benchmark runs, with 50 clients and pipeline 1:
#   radius20   GEOSEARCH geo FROMLONLAT 10.5 47.5 BYRADIUS 20 km          (the headline number)
#   radius50c  GEOSEARCH geo FROMLONLAT 2.35 48.85 BYRADIUS 50 km COUNT 10 ASC WITHDIST
#   box        GEOSEARCH geo FROMLONLAT -3.7 40.4 BYBOX 60 40 km
# ROUNDS interleaved rounds (keel, peer, keel, peer, ...) so machine noise hits both; prints the
# median requests/s of each and the ratio keel/peer. Both keep data in memory only (keel
# --durability off, the peer --save '' --appendonly no), as bench/throughput.sh.
#
# Usage: bench/geo.sh [ROUNDS] [REQUESTS] [POINTS]     (defaults 3, 200000 and 100000)
#   env PEER: the peer's server binary (default: valkey-server on PATH, else redis-server)
source "$(dirname "$0")/common.sh"
ROUNDS=${1:-3}
N=${2:-200000}
POINTS=${3:-100000}
PEER=${PEER:-$(command -v valkey-server || command -v redis-server)}
build_keel

# The points as RESP GEOADD commands of 1000 points each.
/usr/bin/python3 - "$POINTS" >"$BENCH_TMP/points.resp" <<'EOF'
import random, sys
n = int(sys.argv[1])
rnd = random.Random(42)
out = sys.stdout.buffer
def cmd(args):
    out.write(b"*%d\r\n" % len(args))
    for a in args:
        a = a.encode()
        out.write(b"$%d\r\n%s\r\n" % (len(a), a))
for start in range(0, n, 1000):
    args = ["GEOADD", "geo"]
    for i in range(start, min(n, start + 1000)):
        args += ["%.6f" % rnd.uniform(-10, 30), "%.6f" % rnd.uniform(35, 60), "p%d" % i]
    cmd(args)
EOF

TESTS=(radius20 radius50c box)
declare -A CMD=(
    [radius20]="GEOSEARCH geo FROMLONLAT 10.5 47.5 BYRADIUS 20 km"
    [radius50c]="GEOSEARCH geo FROMLONLAT 2.35 48.85 BYRADIUS 50 km COUNT 10 ASC WITHDIST"
    [box]="GEOSEARCH geo FROMLONLAT -3.7 40.4 BYBOX 60 40 km"
)
declare -A RES
for round in $(seq 1 "$ROUNDS"); do
    for srv in keel peer; do
        port=$(free_port)
        if [ $srv = keel ]; then
            start_keel "$port" --durability off
        else
            REDIS=$PEER start_redis "$port"
        fi
        pid=$LAST_PID
        redis-cli -p "$port" --pipe <"$BENCH_TMP/points.resp" >/dev/null
        got=$(redis-cli -p "$port" zcard geo)
        [ "$got" = "$POINTS" ] || { echo "$srv holds $got points, not $POINTS" >&2; exit 1; }
        for t in "${TESTS[@]}"; do
            # shellcheck disable=SC2086 # the command's words are separate arguments
            out=$(redis-benchmark -p "$port" -c 50 -P 1 -n "$N" --csv -q ${CMD[$t]})
            rps=$(echo "$out" | tail -1 | awk -F'"' '{print $4}')
            RES["$srv,$t"]+="$rps "
        done
        stop_pid "$pid"
    done
    echo "round $round/$ROUNDS done" >&2
done
echo "peer: $("$PEER" --version | head -1)"
printf '%-10s %14s %14s %7s\n' test keel_rps peer_rps ratio
for t in "${TESTS[@]}"; do
    k=$(echo ${RES["keel,$t"]} | tr ' ' '\n' | median)
    p=$(echo ${RES["peer,$t"]} | tr ' ' '\n' | median)
    printf '%-10s %14.0f %14.0f %7.2f\n' "$t" "$k" "$p" "$(echo "$k / $p" | bc -l)"
done

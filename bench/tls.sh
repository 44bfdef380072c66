#!/usr/bin/env bash
# tls.sh - what TLS costs: keel-server plain vs TLS, and Debian's redis-server 7.0 plain vs TLS
# (the Valkey 8.0.1 peer binary is built without TLS), under the same redis-benchmark load.
#
# SET and GET with 512-byte values, 50 clients, pipeline 1 and 16, in memory only (keel
# --durability off, redis --save '' --appendonly no); TLS with an RSA-2048 server certificate,
# client certificates required (tls-auth-clients yes, both servers' default), TLSv1.3. ROUNDS
# interleaved rounds; prints the median requests/s of each and the TLS/plain ratios.
# The handshakes of the 50 clients are part of each run (as in redis-benchmark's own runs).
#
# Usage: bench/tls.sh [ROUNDS] [REQUESTS]     (defaults 5 and 200000)
source "$(dirname "$0")/common.sh"
ROUNDS=${1:-5}
N=${2:-200000}
build_keel

C=$BENCH_TMP/certs
mkdir -p "$C"
(
    cd "$C"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 \
        -subj "/CN=bench CA" 2>/dev/null
    for n in server client; do
        openssl req -newkey rsa:2048 -nodes -keyout $n.key -out $n.csr -subj "/CN=$n" 2>/dev/null
        printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >$n.ext
        openssl x509 -req -in $n.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out $n.crt \
            -days 2 -extfile $n.ext 2>/dev/null
    done
)
SRV_TLS=(--tls-cert-file "$C/server.crt" --tls-key-file "$C/server.key" --tls-ca-cert-file "$C/ca.crt")
CLI_TLS=(--tls --cacert "$C/ca.crt" --cert "$C/client.crt" --key "$C/client.key")

wait_tls() {
    for _ in $(seq 1 300); do
        redis-cli -p "$1" "${CLI_TLS[@]}" ping >/dev/null 2>&1 && return 0
        sleep 0.05
    done
    echo "TLS server on port $1 did not start" >&2
    return 1
}

# start SERVER MODE PORT -> LAST_PID; the port to benchmark is PORT
start() {
    local srv=$1 mode=$2 port=$3 d="$BENCH_TMP/$1-$2-$3"
    mkdir -p "$d"
    local extra=()
    [ "$mode" = tls ] && extra=(--port 0 --tls-port "$port" "${SRV_TLS[@]}")
    if [ "$srv" = keel ]; then
        "$KEEL" --bind 127.0.0.1 --port "$port" --dir "$d" --durability off "${extra[@]}" \
            >"$d/log" 2>&1 &
    else
        "$REDIS" --bind 127.0.0.1 --port "$port" --dir "$d" --save '' --appendonly no \
            "${extra[@]}" >"$d/log" 2>&1 &
    fi
    LAST_PID=$!
    PIDS+=("$LAST_PID")
    if [ "$mode" = tls ]; then wait_tls "$port"; else wait_ping "$port"; fi
}

declare -A RES
for round in $(seq 1 "$ROUNDS"); do
    for srv in keel redis; do
        for mode in plain tls; do
            port=$(free_port)
            start "$srv" "$mode" "$port"
            pid=$LAST_PID
            args=(-p "$port")
            [ "$mode" = tls ] && args+=("${CLI_TLS[@]}")
            for P in 1 16; do
                out=$(redis-benchmark "${args[@]}" -t set,get -d 512 -c 50 -P "$P" -n "$N" \
                    -r 100000 --csv -q)
                for t in SET GET; do
                    rps=$(echo "$out" | awk -F'"' -v t="$t" '$2==t {print $4}')
                    RES["$srv,$mode,$t,$P"]+="$rps "
                done
            done
            stop_pid "$pid"
        done
    done
    echo "round $round/$ROUNDS done" >&2
done
med() { echo ${RES["$1"]} | tr ' ' '\n' | median; }
printf '%-4s %-3s %12s %12s %9s %12s %12s %9s %11s\n' test P keel_plain keel_tls keel_t/p \
    redis_plain redis_tls redis_t/p keel/redis
for P in 1 16; do
    for t in SET GET; do
        kp=$(med "keel,plain,$t,$P")
        kt=$(med "keel,tls,$t,$P")
        rp=$(med "redis,plain,$t,$P")
        rt=$(med "redis,tls,$t,$P")
        printf '%-4s %-3s %12.0f %12.0f %9.2f %12.0f %12.0f %9.2f %11.2f\n' "$t" "$P" "$kp" "$kt" \
            "$(echo "$kt / $kp" | bc -l)" "$rp" "$rt" "$(echo "$rt / $rp" | bc -l)" \
            "$(echo "$kt / $rt" | bc -l)"
    done
done

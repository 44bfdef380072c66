#!/usr/bin/env bash
# replication.sh - what replication costs, keel-server side by side with a peer in the same run.
# Four measurements (MODES), each runnable alone:
#   sync   full sync time: a primary holding KEYS small keys (16-byte values), a new replica
#          attached, until the replica holds them all; ANCHOR adds a second peer to this table.
#          A peer forks and streams a fresh RDB (diskless). keel sends its newest snapshot file
#          and the log after it, taking the snapshot on demand when there is none: with the
#          defaults, more than ~3,000,000 keys of fill pass snapshot-wal-bytes (256mb) and the
#          fill's own automatic snapshot is sent (the run says which: "snapshot at LSN");
#          KEEL_ARGS="--snapshot-wal-bytes 0" makes keel's snapshot on demand at any size;
#   rps    the primary's SET throughput (redis-benchmark, 512-byte values, 50 clients, pipeline
#          16, REQUESTS requests) with 0, 1 and 2 replicas attached, and the ratio to 0 replicas;
#   lag    replication lag, primary + 1 replica, while redis-benchmark runs LAG_CLIENTS clients
#          of SET at pipeline 1 (LAG_VALUE-byte values, 100,000 random keys) for LAG_SECONDS:
#          a probe SETs a unique key on the primary every 10 ms and polls the replica until it
#          is there (ms from sending the SET to seeing it on the replica), and a sampler reads
#          INFO replication of both every 10 ms (primary master_repl_offset - replica
#          slave_repl_offset: LSNs, i.e. write commands, for keel; bytes of the replication
#          stream for Redis/Valkey); p50 and p99 of each, and the load's SET/s (bench/repl_probe.py);
#   psync  partial resync after a replica restart: PSYNC_KEYS keys written with the replica
#          attached, the replica stopped (PSYNC_STOP: term = SIGTERM, a clean shutdown; kill =
#          SIGKILL), PSYNC_MORE more keys written, the replica started again: seconds from its
#          start to its first PONG (its own data loaded) and until master_link_status:up with
#          slave_repl_offset at the primary's; the primary's INFO stats sync_partial_ok and
#          sync_full before and after say which kind of resync it was.
# keel runs `durability sync` (the default). A peer runs `appendonly yes, appendfsync always`
# (its durable mode), `repl-diskless-sync-delay 0` (no wait for more replicas) and, when it is
# valkey-server 8, `dual-channel-replication-enabled yes`. In psync, a peer primary also gets
# `repl-backlog-size 1gb` (keel's "backlog" is its log), and a peer replica by default
# `appendonly no, save 3600 1` (PSYNC_PEER_PERSIST=rdb): Redis 7.0 and Valkey 8.0 continued the
# replication stream after a restart, when tried here, only from the RDB a clean shutdown saves;
# restarted from their AOF they took a full sync (PSYNC_PEER_PERSIST=aof keeps the durable AOF
# and shows it).
# Rounds are interleaved (keel, peer, [anchor], keel, ...); tables print medians over rounds.
# Servers listen on 127.0.0.1 free ports, data lives in a temporary directory removed at the end,
# and every server started is killed by its PID at exit, also on failure or Ctrl-C.
#
# Usage: bench/replication.sh [MODES] [ROUNDS] [KEYS] [REQUESTS]
#   MODES     comma-separated list of sync, rps, lag, psync, or all (the default; it may be left
#             out: `bench/replication.sh 3 1000000 300000` runs all four)
#   ROUNDS    interleaved rounds (3)
#   KEYS      keys in the full sync (1000000; 10000000 for the big run)
#   REQUESTS  SET requests per throughput run (300000)
# Environment:
#   PEER               the peer's server binary (default: valkey-server on PATH, else redis-server)
#   ANCHOR             a second peer for the full-sync table (e.g. /usr/bin/redis-server 7.0)
#   LAG_SECONDS (5), LAG_CLIENTS (50), LAG_VALUE (512)
#   PSYNC_KEYS (100000), PSYNC_MORE (10000), PSYNC_STOP (term|kill), PSYNC_PEER_PERSIST (rdb|aof)
#   WAIT_TIMEOUT       seconds any sync may take before the run fails (900)
#   KEEL               the keel-server binary (default: build/keel-server, built first)
#   KEEL_ARGS          extra arguments for every keel-server started
# Examples: quick   bench/replication.sh lag,psync 1
#           big     ANCHOR=/usr/bin/redis-server bench/replication.sh sync 1 10000000
set -euo pipefail
case "${1:-}" in -h | --help)
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
    exit 0 ;;
esac
MODES=all
if [ $# -gt 0 ] && ! [[ $1 =~ ^[0-9]+$ ]]; then MODES=$1; shift; fi
[ "$MODES" = all ] && MODES=sync,rps,lag,psync
for m in ${MODES//,/ }; do
    case $m in sync | rps | lag | psync) ;; *) echo "unknown mode '$m' (see --help)" >&2; exit 2 ;; esac
done
has_mode() { [[ ",$MODES," == *",$1,"* ]]; }

source "$(dirname "$0")/common.sh"
trap 'exit 130' INT
trap 'exit 143' TERM
ROUNDS=${1:-3}
KEYS=${2:-1000000}
REQ=${3:-300000}
LAG_SECONDS=${LAG_SECONDS:-5}
LAG_CLIENTS=${LAG_CLIENTS:-50}
LAG_VALUE=${LAG_VALUE:-512}
PSYNC_KEYS=${PSYNC_KEYS:-100000}
PSYNC_MORE=${PSYNC_MORE:-10000}
PSYNC_STOP=${PSYNC_STOP:-term}
PSYNC_PEER_PERSIST=${PSYNC_PEER_PERSIST:-rdb}
WAIT_TIMEOUT=${WAIT_TIMEOUT:-900}
PEER=${PEER:-$(command -v valkey-server || command -v redis-server)}
ANCHOR=${ANCHOR:-}
PROBE="/usr/bin/python3 $ROOT/bench/repl_probe.py"
case $PSYNC_STOP in term | kill) ;; *) echo "PSYNC_STOP is term or kill" >&2; exit 2 ;; esac
case $PSYNC_PEER_PERSIST in rdb | aof) ;; *) echo "PSYNC_PEER_PERSIST is rdb or aof" >&2; exit 2 ;; esac
[ -x "$PEER" ] || { echo "no peer server '$PEER' (set PEER)" >&2; exit 2; }
[ -z "$ANCHOR" ] || [ -x "$ANCHOR" ] || { echo "no anchor server '$ANCHOR'" >&2; exit 2; }
[ "$KEEL" = "$ROOT/build/keel-server" ] && build_keel

declare -A BIN LABEL EXTRA
BIN[peer]=$PEER
[ -n "$ANCHOR" ] && BIN[anchor]=$ANCHOR
LABEL[keel]=keel
for kind in peer anchor; do
    [ -n "${BIN[$kind]:-}" ] || continue
    ver=$("${BIN[$kind]}" --version)
    # "Valkey server v=8.0.1 sha=..." -> "valkey 8.0.1"
    LABEL[$kind]=$(echo "$ver" | awk '{v = $3; sub(/^v=/, "", v); print tolower($1) " " v}')
    EXTRA[$kind]="--repl-diskless-sync-delay 0"
    if [[ $ver == Valkey* ]]; then EXTRA[$kind]+=" --dual-channel-replication-enabled yes"; fi
done
KINDS=(keel peer)
SYNC_KINDS=(keel peer)
[ -n "$ANCHOR" ] && SYNC_KINDS+=(anchor)

# start_node KIND PORT OF WAIT [peer args...]: a primary (OF empty) or a replica of port OF,
# data in $BENCH_TMP/KIND-PORT (kept across a restart on the same port); WAIT=1 waits for PONG.
# Sets LAST_PID and LAST_DIR.
start_node() {
    local kind=$1 port=$2 of=$3 wait=$4 cmd
    shift 4
    LAST_DIR="$BENCH_TMP/$kind-$port"
    mkdir -p "$LAST_DIR"
    if [ "$kind" = keel ]; then
        # shellcheck disable=SC2206 # KEEL_ARGS is words
        cmd=("$KEEL" --bind 127.0.0.1 --port "$port" --dir "$LAST_DIR" ${KEEL_ARGS:-})
        [ -n "$of" ] && cmd+=(--replicaof "127.0.0.1 $of")
    else
        # shellcheck disable=SC2206 # EXTRA holds words without spaces
        cmd=("${BIN[$kind]}" --bind 127.0.0.1 --port "$port" --dir "$LAST_DIR" --save ''
             --appendonly yes --appendfsync always ${EXTRA[$kind]})
        [ -n "$of" ] && cmd+=(--replicaof 127.0.0.1 "$of")
    fi
    "${cmd[@]}" "$@" >>"$LAST_DIR.log" 2>&1 &
    LAST_PID=$!
    PIDS+=("$LAST_PID")
    [ "$wait" = 1 ] && wait_ping "$port"
    return 0
}

fill() { # port count [first]: keys key:first.. key:first+count-1, 16-byte values
    /usr/bin/python3 -c "
import sys
w = sys.stdout.write
for i in range($3, $3 + $2):
    k = 'key:%d' % i
    w('*3\r\n\$3\r\nSET\r\n\$%d\r\n%s\r\n\$16\r\nvalue-0123456789\r\n' % (len(k), k))
" | redis-cli -p "$1" --pipe >/dev/null
}

info_field() { # port section field
    redis-cli -p "$1" info "$2" | tr -d '\r' | awk -F: -v f="$3" '$1 == f {print $2}'
}

link_up() { # port
    redis-cli -p "$1" info replication | grep -q 'master_link_status:up'
}

wait_link_up() { # port
    local t0=$SECONDS
    while ! link_up "$1"; do
        [ $((SECONDS - t0)) -lt "$WAIT_TIMEOUT" ] || { echo "replica $1: link not up" >&2; return 1; }
        sleep 0.02
    done
}

now() { date +%s.%N; } # epoch seconds

forget_pid() { # a server that exited by itself leaves PIDS (its PID may be reused)
    local keep=() q
    for q in "${PIDS[@]}"; do [ "$q" = "$1" ] || keep+=("$q"); done
    PIDS=("${keep[@]}")
}

# Each measurement appends its result(s) to RES["kind,name"]; none runs in a subshell, so every
# PID started is in PIDS for the EXIT trap.
declare -A RES
add() { RES["$1,$2"]+="$3 "; }
vals() { printf '%s' "${RES["$1,$2"]:-}" | tr ' ' '\n' | awk NF; }
med() { vals "$1" "$2" | median; }

measure_sync() { # kind
    local kind=$1 p r t0 t1 ppid rpid pdir rdir
    p=$(free_port); start_node "$kind" "$p" "" 1; ppid=$LAST_PID; pdir=$LAST_DIR
    fill "$p" "$KEYS" 0
    r=$(free_port)
    t0=$(now)
    start_node "$kind" "$r" "$p" 1; rpid=$LAST_PID; rdir=$LAST_DIR
    local s0=$SECONDS
    while ! link_up "$r" || [ "$(redis-cli -p "$r" dbsize)" != "$KEYS" ]; do
        [ $((SECONDS - s0)) -lt "$WAIT_TIMEOUT" ] || { echo "$kind: full sync not done" >&2; return 1; }
        sleep 0.02
    done
    t1=$(now)
    stop_pid "$rpid"; stop_pid "$ppid"
    local how=""
    if [ "$kind" = keel ]; then # which snapshot went, and was it taken for this sync
        how=$(awk '/: full sync \(/ {f = 1} /Background saving started/ && f {d = 1}
                   /(sending the snapshot|the snapshot) at LSN/ {l = $0; sub(/.*at LSN /, "", l); sub(/ .*/, "", l)}
                   END {printf "; snapshot at LSN %s, %s", l, d ? "taken for the sync" : "taken before"}' \
              "$pdir.log")
    fi
    rm -rf "$pdir" "$rdir"
    add "$kind" sync "$(echo "$t1 - $t0" | bc -l)"
    echo "  sync  $kind: $(echo "$t1 - $t0" | bc -l | xargs printf '%.3f') s$how" >&2
}

measure_rps() { # kind
    local kind=$1 p n r pids=() dirs=() out
    for n in 0 1 2; do
        pids=(); dirs=()
        p=$(free_port); start_node "$kind" "$p" "" 1; pids+=("$LAST_PID"); dirs+=("$LAST_DIR")
        for _ in $(seq 1 "$n"); do
            r=$(free_port); start_node "$kind" "$r" "$p" 1; pids+=("$LAST_PID"); dirs+=("$LAST_DIR")
            wait_link_up "$r"
        done
        out=$(redis-benchmark -p "$p" -t set -d 512 -c 50 -P 16 -n "$REQ" -r 100000 --csv -q)
        for pid in "${pids[@]}"; do stop_pid "$pid"; done
        rm -rf "${dirs[@]}"
        add "$kind" "rps$n" "$(echo "$out" | awk -F'"' '$2=="SET" {print $4}')"
    done
    echo "  rps   $kind: $(vals "$kind" rps0 | tail -1) / $(vals "$kind" rps1 | tail -1) /" \
         "$(vals "$kind" rps2 | tail -1) SET/s with 0 / 1 / 2 replicas" >&2
}

measure_lag() { # kind
    local kind=$1 p r ppid rpid pdir rdir bpid out
    p=$(free_port); start_node "$kind" "$p" "" 1; ppid=$LAST_PID; pdir=$LAST_DIR
    r=$(free_port); start_node "$kind" "$r" "$p" 1; rpid=$LAST_PID; rdir=$LAST_DIR
    wait_link_up "$r"
    redis-benchmark -p "$p" -t set -d "$LAG_VALUE" -c "$LAG_CLIENTS" -P 1 -n 2000000000 \
        -r 100000 -q >/dev/null 2>&1 &
    bpid=$!
    PIDS+=("$bpid")
    sleep 1 # the 50 connections made, the load steady
    out=$($PROBE lag "$p" "$r" "$LAG_SECONDS")
    stop_pid "$bpid"; stop_pid "$rpid"; stop_pid "$ppid"; rm -rf "$pdir" "$rdir"
    read -r lp50 lp99 op50 op99 rate nprobe nsample <<<"$out"
    add "$kind" lag50 "$lp50"; add "$kind" lag99 "$lp99"
    add "$kind" off50 "$op50"; add "$kind" off99 "$op99"; add "$kind" lagrps "$rate"
    echo "  lag   $kind: ms p50 $lp50 p99 $lp99, offset p50 $op50 p99 $op99, $rate SET/s" \
         "($nprobe probes, $nsample offset samples)" >&2
}

measure_psync() { # kind
    local kind=$1 p r ppid rpid pdir rdir target t0 out pext=() rext=()
    if [ "$kind" != keel ]; then
        pext=(--repl-backlog-size 1gb)
        [ "$PSYNC_PEER_PERSIST" = rdb ] && rext=(--appendonly no --save 3600 1)
    fi
    p=$(free_port); start_node "$kind" "$p" "" 1 "${pext[@]}"; ppid=$LAST_PID; pdir=$LAST_DIR
    r=$(free_port); start_node "$kind" "$r" "$p" 1 "${rext[@]}"; rpid=$LAST_PID; rdir=$LAST_DIR
    wait_link_up "$r"
    fill "$p" "$PSYNC_KEYS" 0
    $PROBE catchup "$r" "$(info_field "$p" replication master_repl_offset)" "$(now)" \
        "$WAIT_TIMEOUT" >/dev/null
    local full0 part0 full1 part1
    full0=$(info_field "$p" stats sync_full); part0=$(info_field "$p" stats sync_partial_ok)
    if [ "$PSYNC_STOP" = term ]; then
        kill -TERM "$rpid"
        wait "$rpid" 2>/dev/null || true
        forget_pid "$rpid"
    else
        stop_pid "$rpid"
    fi
    fill "$p" "$PSYNC_MORE" "$PSYNC_KEYS"
    target=$(info_field "$p" replication master_repl_offset)
    t0=$(now)
    start_node "$kind" "$r" "$p" 0 "${rext[@]}"; rpid=$LAST_PID
    out=$($PROBE catchup "$r" "$target" "$t0" "$WAIT_TIMEOUT")
    full1=$(info_field "$p" stats sync_full); part1=$(info_field "$p" stats sync_partial_ok)
    local n; n=$(redis-cli -p "$r" dbsize)
    stop_pid "$rpid"; stop_pid "$ppid"; rm -rf "$pdir" "$rdir"
    [ "$n" = $((PSYNC_KEYS + PSYNC_MORE)) ] || { echo "$kind: replica holds $n keys" >&2; return 1; }
    read -r tping tup <<<"$out"
    add "$kind" psping "$tping"; add "$kind" psup "$tup"
    # Partial only when sync_full did not move: Valkey's dual-channel full sync counts a
    # sync_partial_ok too (its main channel continues from the RDB channel's offset).
    add "$kind" pspart "$((full1 == full0 && part1 > part0))"; add "$kind" psfull "$((full1 > full0))"
    echo "  psync $kind: first PONG ${tping} s, caught up ${tup} s;" \
         "sync_partial_ok $part0 -> $part1, sync_full $full0 -> $full1" >&2
}

echo "keel: $KEEL; peer: ${LABEL[peer]} ($(basename "$PEER"))${ANCHOR:+; anchor: ${LABEL[anchor]}}"
echo "modes $MODES, $ROUNDS interleaved round(s); $(nproc) cores shared by servers, load and probes"
for round in $(seq 1 "$ROUNDS"); do
    if has_mode sync; then for k in "${SYNC_KINDS[@]}"; do measure_sync "$k"; done; fi
    if has_mode rps; then for k in "${KINDS[@]}"; do measure_rps "$k"; done; fi
    if has_mode lag; then for k in "${KINDS[@]}"; do measure_lag "$k"; done; fi
    if has_mode psync; then for k in "${KINDS[@]}"; do measure_psync "$k"; done; fi
    echo "round $round/$ROUNDS done" >&2
done

ratio() { echo "$1 $2" | awk '{ if ($2 + 0 == 0) print "-"; else printf "%.2f", $1 / $2 }'; }
sum() { vals "$1" "$2" | awk '{s += $1} END {print s + 0}'; }

if has_mode sync; then
    echo
    echo "full sync of $KEYS keys (16-byte values), seconds, median of $ROUNDS${KEEL_ARGS:+ (keel $KEEL_ARGS)}"
    printf '%-14s %10s %8s\n' server seconds "x keel"
    for k in "${SYNC_KINDS[@]}"; do
        printf '%-14s %10.2f %8s\n' "${LABEL[$k]}" "$(med "$k" sync)" \
            "$(ratio "$(med "$k" sync)" "$(med keel sync)")"
    done
fi
if has_mode rps; then
    echo
    echo "primary SET/s (512 B, 50 clients, pipeline 16, $REQ requests), median of $ROUNDS"
    printf '%-14s %12s %12s %12s %6s %6s\n' server "0 replicas" "1 replica" "2 replicas" "1/0" "2/0"
    for k in "${KINDS[@]}"; do
        a=$(med "$k" rps0); b=$(med "$k" rps1); c=$(med "$k" rps2)
        printf '%-14s %12.0f %12.0f %12.0f %6s %6s\n' "${LABEL[$k]}" "$a" "$b" "$c" \
            "$(ratio "$b" "$a")" "$(ratio "$c" "$a")"
    done
fi
if has_mode lag; then
    echo
    echo "replication lag, primary + 1 replica, $LAG_CLIENTS clients SET pipeline 1 ($LAG_VALUE B)," \
         "${LAG_SECONDS} s per round; medians over $ROUNDS round(s) of each round's p50 / p99"
    echo "  ms: from sending a probe SET to the primary until a GET on the replica sees it"
    # One SET of this load in the peer's stream: *3, $3 SET, $16 key:<12 digits>, $V value.
    setb=$((4 + 9 + 5 + 16 + 2 + 1 + ${#LAG_VALUE} + 2 + LAG_VALUE + 2))
    echo "  offset: primary master_repl_offset - replica slave_repl_offset every 10 ms;" \
         "keel in LSNs (one per write), the peer in bytes of its stream ($setb per SET here)"
    printf '%-14s %9s %8s %8s %8s %8s %11s %11s\n' server "SET/s" "ms p50" "x keel" "ms p99" \
        "x keel" "offs p50" "offs p99"
    for k in "${KINDS[@]}"; do
        unit=bytes; [ "$k" = keel ] && unit=LSNs
        printf '%-14s %9.0f %8.2f %8s %8.2f %8s %11s %11s\n' "${LABEL[$k]}" "$(med "$k" lagrps)" \
            "$(med "$k" lag50)" "$(ratio "$(med "$k" lag50)" "$(med keel lag50)")" \
            "$(med "$k" lag99)" "$(ratio "$(med "$k" lag99)" "$(med keel lag99)")" \
            "$(med "$k" off50 | xargs printf '%.0f') $unit" "$(med "$k" off99 | xargs printf '%.0f') $unit"
    done
fi
if has_mode psync; then
    echo
    stop="SIGTERM (clean shutdown)"; [ "$PSYNC_STOP" = kill ] && stop=SIGKILL
    echo "resync after a replica restart: $PSYNC_KEYS keys written attached, replica stopped by" \
         "$stop, $PSYNC_MORE keys written, replica started; seconds from its start, median of $ROUNDS"
    [ "$PSYNC_PEER_PERSIST" = rdb ] &&
        echo "  peer replica: appendonly no, save 3600 1 (the RDB saved at shutdown carries its offset)"
    echo "  partial: sync_partial_ok went up and sync_full did not; full: sync_full went up"
    printf '%-14s %11s %11s %8s %8s %8s\n' server "first PONG" "caught up" "x keel" partial full
    for k in "${KINDS[@]}"; do
        printf '%-14s %11.2f %11.2f %8s %8s %8s\n' "${LABEL[$k]}" "$(med "$k" psping)" \
            "$(med "$k" psup)" "$(ratio "$(med "$k" psup)" "$(med keel psup)")" \
            "$(sum "$k" pspart)/$ROUNDS" "$(sum "$k" psfull)/$ROUNDS"
    done
fi

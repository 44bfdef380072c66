#!/usr/bin/env bash
# deps.sh - install the Debian 12 packages Keel needs, only those missing (a second run is fast).
# Usage: scripts/deps.sh [build|test]   (test adds the clients and tools the test suite uses)
set -euo pipefail
want=(build-essential cmake pkg-config liburing-dev libzstd-dev libxxhash-dev libjemalloc-dev
      libssl-dev librocksdb-dev liblzf-dev liblua5.1-0-dev lua-cjson-dev lua-bitop-dev) # Lua: scripting
if [ "${1:-build}" = test ]; then
    want+=(libcriterion-dev libhiredis-dev redis-server redis-sentinel redis-tools python3
           python3-redis python3-pytest python3-pytest-xdist xfsprogs e2fsprogs util-linux procps bc
           clang-format git openssl clang libclang-rt-14-dev) # openssl: TLS tests; clang + libFuzzer's runtime: scripts/fuzz.sh;
    # python3-pytest-xdist: scripts/test.sh runs the integration tests in several processes
fi
missing=()
for p in "${want[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
echo "Installing: ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
    SUDO=sudo
else
    SUDO=
fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

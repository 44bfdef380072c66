#!/usr/bin/env bash
# run.sh - install what is needed, build, and start keel-server with its data in ./data.
# Extra arguments go to the server: scripts/run.sh --port 7000 --durability async
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh build
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKEEL_TESTS=OFF >/dev/null
cmake --build build -j"$(nproc)" --target keel-server keel-check keel-restore 2>/dev/null \
    || cmake --build build -j"$(nproc)" --target keel-server
mkdir -p data
exec build/keel-server --dir ./data "$@"

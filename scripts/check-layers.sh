#!/usr/bin/env bash
# check-layers.sh - module-private headers (*_int.h) are included only inside their own folder,
# or by the unit tests of that folder's layer (tests/unit/test_<layer>_*.c) and its fuzz harness
# (fuzz/fuzz_<layer>.c). Upward includes between layers are caught by the build itself (each
# library exports only its own folder); this catches the one thing the build cannot: a private
# header reached through a public path.
# Usage: scripts/check-layers.sh   (exit 1 and one line per offence, 0 when clean)
set -euo pipefail
cd "$(dirname "$0")/.."
bad=0
while IFS= read -r f; do
    while IFS= read -r h; do
        owner=$(git ls-files "*/$h" "$h" | head -1)
        [ -n "$owner" ] || continue
        odir=$(dirname "$owner")
        fdir=$(dirname "$f")
        [ "$odir" = "$fdir" ] && continue
        if [[ "$f" == tests/unit/test_* || "$f" == fuzz/fuzz_* ]]; then
            layer=$(basename "$f" | sed -E 's/^(test|fuzz)_([a-z]+)[_.].*/\2/')
            case "$odir" in
                "$layer" | server/"$layer") continue ;;
                server/core) [ "$layer" = engine ] && continue ;;
            esac
        fi
        echo "$f: includes $owner, private to $odir/"
        bad=1
    done < <(grep -oE '#include "[a-z_0-9]+_int\.h"' "$f" | sed -E 's/#include "(.*)"/\1/')
done < <(git ls-files '*.c' '*.h')
exit $bad

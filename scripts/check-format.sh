#!/usr/bin/env bash
# check-format.sh - check every tracked *.c / *.h against .clang-format (clang-format 14).
# Usage: scripts/check-format.sh          list the files clang-format would change; exit 1 if any
#        scripts/check-format.sh --fix    rewrite those files in place
# Only files tracked by git are looked at, so build trees and scratch files never count.
set -euo pipefail
cd "$(dirname "$0")/.."
fix=0
case "${1:-}" in
"") ;;
--fix) fix=1 ;;
*) echo "usage: $0 [--fix]" >&2; exit 2 ;;
esac
CLANG_FORMAT=${CLANG_FORMAT:-clang-format}
command -v "$CLANG_FORMAT" >/dev/null || { echo "$CLANG_FORMAT not found (apt-get install clang-format)" >&2; exit 2; }
# Other major versions break lines differently: the tree is formatted with 14 (Debian 12).
ver=$("$CLANG_FORMAT" --version | sed -n 's/.*version \([0-9]*\)\..*/\1/p')
[ "$ver" = 14 ] || echo "check-format: warning: $CLANG_FORMAT is version ${ver:-?}, the tree uses 14" >&2
# A broken .clang-format would otherwise show up as "every file is unformatted".
"$CLANG_FORMAT" --style=file --dump-config --assume-filename=x.c >/dev/null ||
    { echo "check-format: .clang-format is not valid for $CLANG_FORMAT" >&2; exit 2; }

bad=()
while IFS= read -r -d '' f; do
    if ! "$CLANG_FORMAT" --style=file --dry-run -Werror "$f" 2>/dev/null; then
        bad+=("$f")
    fi
done < <(git ls-files -z -- '*.c' '*.h')

if [ ${#bad[@]} -eq 0 ]; then
    echo "check-format: all tracked C sources are formatted"
    exit 0
fi
if [ $fix -eq 1 ]; then
    "$CLANG_FORMAT" --style=file -i "${bad[@]}"
    printf 'reformatted: %s\n' "${bad[@]}"
    exit 0
fi
printf '%s\n' "${bad[@]}"
echo "check-format: ${#bad[@]} file(s) need clang-format; run scripts/check-format.sh --fix" >&2
exit 1

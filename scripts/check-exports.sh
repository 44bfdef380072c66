#!/usr/bin/env bash
# check-exports.sh - list global functions of the project's static libraries that no other object
# file references: exported but called only inside their own .o, or nowhere. They should be
# static (or deleted).
# Usage: scripts/check-exports.sh [BUILD_DIR]
#   without BUILD_DIR: configures and builds ./build (unit tests on, -j${JOBS:-2}) and checks it;
#   with BUILD_DIR: checks that build as it is (build it first; it must have KEEL_TESTS=ON, or
#   functions only the unit tests call would be reported).
# Prints "path/file.c.o: symbol" lines and exits 1 when any is found, 0 when none, 2 when the
# build cannot be checked.
# scripts/exports-allow.txt lists symbols to accept anyway, one per line, each with a reason.
#
# "Defined" is nm type T in a member of any lib*.a in the build tree (library names may change).
# "Referenced" is nm type U in any other object: the libraries' members, and the objects of every
# executable target (keel-server, tools, unit tests), so a function only the tests call counts
# as used. A function referenced only through a table or a callback in its own file is reported:
# it does not need external linkage. (A stale object of a deleted test or tool in BUILD_DIR
# still counts as a caller; a fresh build dir avoids that.)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
allow="$root/scripts/exports-allow.txt"

if [ $# -ge 1 ]; then
    build=$(cd "$1" && pwd)
else
    build="$root/build"
    cmake -S . -B "$build" -DKEEL_TESTS=ON >/dev/null
    cmake --build "$build" -j"${JOBS:-2}" >/dev/null
fi
if grep -q '^KEEL_TESTS:BOOL=OFF' "$build/CMakeCache.txt" 2>/dev/null; then
    echo "check-exports: $build has KEEL_TESTS=OFF; test-only callers would be missed" >&2
    exit 2
fi

mapfile -t libs < <(find "$build" -name 'lib*.a' -type f | sort)
[ ${#libs[@]} -gt 0 ] || { echo "check-exports: no lib*.a under $build (not built?)" >&2; exit 2; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
: >"$tmp/def"
: >"$tmp/ref"
libdirs=()
for a in "${libs[@]}"; do
    name=$(basename "$a" .a)
    name=${name#lib}
    # CMake keeps a library's objects in CMakeFiles/<target>.dir/<source path>.o; naming them by
    # that path says which file to edit. Only the archive's current members count (a deleted
    # source leaves a stale .o behind).
    tdir="$(dirname "$a")/CMakeFiles/$name.dir"
    libdirs+=("$tdir")
    declare -A seen=()
    while IFS= read -r m; do
        k=$((${seen[$m]:-0} + 1))
        seen[$m]=$k
        mapfile -t cand < <(find "$tdir" -name "$m" -type f 2>/dev/null)
        if [ ${#cand[@]} -eq 1 ] && [ "$(ar t "$a" | grep -cxF "$m")" -eq 1 ]; then
            o=${cand[0]}
            label=${o#"$tdir"/}
        else # two sources with one file name (or no CMake tree): take the k-th member itself
            mkdir -p "$tmp/$name.$k"
            (cd "$tmp/$name.$k" && ar xN "$k" "$a" "$m")
            o="$tmp/$name.$k/$m"
            label="lib$name.a($m#$k)"
        fi
        # "label symbol" for every global function; every undefined symbol
        nm --defined-only -g "$o" | awk -v l="$label" '$2 == "T" { print l, $3 }' >>"$tmp/def"
        nm -u "$o" | awk '{ print $NF }' >>"$tmp/ref"
    done < <(ar t "$a")
    unset seen
done
# Objects of the executables: every CMakeFiles/<target>.dir that is not a library's.
while IFS= read -r -d '' d; do
    skip=0
    for l in "${libdirs[@]}"; do [ "$d" = "$l" ] && skip=1; done
    [ $skip -eq 1 ] && continue
    while IFS= read -r -d '' o; do
        nm -u "$o" | awk '{ print $NF }' >>"$tmp/ref"
    done < <(find "$d" -name '*.o' -type f -print0)
done < <(find "$build" -path '*/CMakeFiles/*.dir' -type d -prune -print0)

sort -u "$tmp/ref" >"$tmp/ref.s"
: >"$tmp/allow.s"
if [ -f "$allow" ]; then
    awk '{ sub(/#.*/, ""); gsub(/[[:space:]]/, "") } $0 != ""' "$allow" | sort -u >"$tmp/allow.s"
fi
# unreferenced = defined - referenced - allowed, kept in "file.o: symbol" order
awk 'FILENAME == ARGV[1] { ref[$1] = 1; next }
     FILENAME == ARGV[2] { ok[$1] = 1; next }
     !($2 in ref) && !($2 in ok) { print $1 ": " $2 }' "$tmp/ref.s" "$tmp/allow.s" "$tmp/def" |
    sort >"$tmp/out"

if [ -s "$tmp/out" ]; then
    cat "$tmp/out"
    echo "check-exports: $(wc -l <"$tmp/out") exported function(s) nothing else references;" \
        "make them static, delete them, or list them in scripts/exports-allow.txt with a reason" >&2
    exit 1
fi
echo "check-exports: every exported function is referenced from another object"

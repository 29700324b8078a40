#!/usr/bin/env bash
# The hot path's cost in instructions per answer (callgrind; repeatable,
# whatever else the machine is doing), this tree against a build of
# another revision, in the same run:
#   bench/hot-path-bench.sh [--baseline REV] [--calls N]
# Prints "<case> instructions/answer <this tree> [<baseline> ratio <r>]".
# Cases: a cached A (with and without validation, with DO) and a CNAME to it.
# A revision without the validation setting measures the plain path for
# every case.
set -euo pipefail
cd "$(dirname "$0")/.."

baseline=
calls=200000
while (($#)); do
  case $1 in
    --baseline) baseline=$2; shift 2 ;;
    --calls) calls=$2; shift 2 ;;
    *) echo "usage: $0 [--baseline REV] [--calls N]" >&2; exit 2 ;;
  esac
done
scripts/install-deps.sh >/dev/null
cmake -S . -B build-bench -G Ninja -DCMAKE_BUILD_TYPE=Release -DSHOAL_TESTS=OFF >/dev/null
ninja -C build-bench -j"$(nproc)" hot_path_bench >/dev/null
binaries=(build-bench/bin/hot_path_bench)
if [[ -n $baseline ]]; then
  rev=$(git rev-parse --verify "$baseline^{commit}")
  base_src=/tmp/shoal-bench-base-$rev
  if [[ ! -d $base_src ]]; then
    mkdir -p "$base_src" && git archive "$rev" | tar -x -C "$base_src"
  fi
  # The same benchmark source, built against the old tree.
  cp bench/hot_path_bench.cc "$base_src/bench/"
  grep -q hot_path_bench "$base_src/bench/CMakeLists.txt" ||
    sed -n '/^# hot_path_bench/,$p' bench/CMakeLists.txt >>"$base_src/bench/CMakeLists.txt"
  cmake -S "$base_src" -B "$base_src/build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DSHOAL_TESTS=OFF >/dev/null
  ninja -C "$base_src/build" -j"$(nproc)" hot_path_bench >/dev/null
  binaries+=("$base_src/build/bin/hot_path_bench")
fi
out=$(mktemp -d /tmp/shoal-hot-path.XXXXXX)
trap 'rm -rf "$out"' EXIT
# Instructions inside answerFromCache (and what it calls) per call.
per_answer() {  # binary case
  valgrind --tool=callgrind --toggle-collect='*answerFromCache*' \
    --callgrind-out-file="$out/cg" "$1" --calls "$calls" "$2" >/dev/null 2>&1
  awk -v n="$calls" '/^summary:/ { printf "%.0f", $2 / n }' "$out/cg"
}
for c in a a-validating a-do-validating cname-validating; do
  line="$c instructions/answer $(per_answer "${binaries[0]}" "$c")"
  if [[ -n $baseline ]]; then
    b=$(per_answer "${binaries[1]}" "$c")
    line+=" baseline($baseline) $b ratio $(awk -v a="${line##* }" -v b="$b" 'BEGIN { printf "%.3f", a / b }')"
  fi
  echo "$line"
done

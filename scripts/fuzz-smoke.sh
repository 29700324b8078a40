#!/usr/bin/env bash
# Short libFuzzer run of every fuzz target in tests/fuzz/.
#   scripts/fuzz-smoke.sh [SECONDS]     (default 60, split between the targets)
# Configures and builds build-fuzz/ with clang (ASan + UBSan + libFuzzer),
# runs each target on a temporary copy of its seed corpus (the repository is
# not modified) and exits non-zero if any target finds a crash, a leak or a
# timeout. Reproducers are kept in build-fuzz/fuzz-artifacts/.
set -euo pipefail
cd "$(dirname "$0")/.."

budget=${1:-60}
if ! [[ $budget =~ ^[0-9]+$ ]] || ((budget < 1)); then
  echo "usage: $0 [SECONDS]" >&2
  exit 2
fi

# target name -> corpus directory under tests/fuzz/corpus/
fuzzers=(parse_fuzzer name_fuzzer cache_format_fuzzer control_answer_fuzzer validator_fuzzer
         synthesis_fuzzer localroot_fuzzer hot_path_fuzzer doh_fuzzer collapse_fuzzer
         edns_fuzzer config_fuzzer control_request_fuzzer)
declare -A corpus=([parse_fuzzer]=parse [name_fuzzer]=name [cache_format_fuzzer]=cache_format
                   [control_answer_fuzzer]=control_answer [validator_fuzzer]=validator
                   [synthesis_fuzzer]=synthesis [localroot_fuzzer]=localroot
                   [hot_path_fuzzer]=hot_path [doh_fuzzer]=doh [collapse_fuzzer]=collapse
                   [edns_fuzzer]=edns [config_fuzzer]=config
                   [control_request_fuzzer]=control_request)
# The COOKIE option (dns/cookie.h).
fuzzers+=(cookie_fuzzer)
corpus[cookie_fuzzer]=cookie

dir=build-fuzz
cxx=${SHOAL_FUZZ_CXX:-clang++}
if ! command -v "$cxx" >/dev/null; then
  echo "fuzz-smoke: $cxx not found (install clang and libclang-rt-14-dev)" >&2
  exit 1
fi
cmake -S . -B "$dir" -G Ninja -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DSHOAL_FUZZ=ON -DSHOAL_TESTS=OFF -DSHOAL_WERROR=ON >/dev/null
ninja -C "$dir" -j"$(nproc)" "${fuzzers[@]}"

artifacts=$dir/fuzz-artifacts
mkdir -p "$artifacts"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

per=$((budget / ${#fuzzers[@]}))
((per >= 1)) || per=1

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

failed=()
for f in "${fuzzers[@]}"; do
  seeds=tests/fuzz/corpus/${corpus[$f]}
  run=$work/$f
  mkdir -p "$run"
  cp -R "$seeds/." "$run/"
  echo "== $f: ${per}s on $(find "$run" -type f | wc -l) seeds from $seeds"
  # -timeout: one input taking over 10 s counts as a hang (a failure).
  if "$dir/bin/$f" -max_total_time="$per" -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix="$artifacts/$f-" "$run" \
      >"$work/$f.log" 2>&1; then
    grep -E '^(Done|stat::number_of_executed_units|stat::new_units_added)' "$work/$f.log" || true
    grep -E '^#[0-9]+.*DONE' "$work/$f.log" | tail -1 || true
  else
    echo "!! $f failed; last lines of its log:" >&2
    tail -n 60 "$work/$f.log" >&2
    failed+=("$f")
  fi
done

if ((${#failed[@]} > 0)); then
  echo "fuzz-smoke: FAILED: ${failed[*]} (reproducers in $artifacts/)" >&2
  exit 1
fi
echo "fuzz-smoke: ok (${#fuzzers[@]} targets, ${budget}s)"

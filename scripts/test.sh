#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine, builds shoal and runs every test:
#   1. unit tests under AddressSanitizer + UndefinedBehaviorSanitizer,
#   2. a short libFuzzer run of every parser (FUZZ_SECONDS, default 60),
#   3. the full suite (unit, lab and integration tests) on the release build,
#      last, so that the output ends with ctest's summary.
# Lab tests need root; run as another user they are skipped, and say so.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh

echo "== unit tests under ASan + UBSan"
scripts/build.sh --asan
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build-asan -L unit --output-on-failure -j"$(nproc)"

echo "== fuzz smoke run"
scripts/fuzz-smoke.sh "${FUZZ_SECONDS:-60}"

echo "== full suite"
scripts/build.sh
ctest --test-dir build --output-on-failure -j"$(nproc)"

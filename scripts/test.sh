#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine, builds shoal and runs every test:
#   1. unit tests under AddressSanitizer + UndefinedBehaviorSanitizer,
#   2. the integration tests (lab included) against the sanitizer build of
#      shoal and shoalctl: a sanitizer report in a log fails the test,
#   3. a short libFuzzer run of every parser (FUZZ_SECONDS, default 60),
#   4. the full suite (unit, lab and integration tests) on the release build,
#      last, so that the output ends with ctest's summary.
# Lab tests need root; run as another user they are skipped, and say so.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh

echo "== unit tests under ASan + UBSan"
scripts/build.sh --asan
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build-asan -L unit --output-on-failure -j"$(nproc)"

echo "== integration tests against the ASan + UBSan binaries"
# Leak checks stay off here: workers leave by _exit() on purpose.
ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build-asan -L integration --output-on-failure -j"$(nproc)"

echo "== fuzz smoke run"
scripts/fuzz-smoke.sh "${FUZZ_SECONDS:-60}"

echo "== full suite"
scripts/build.sh
ctest --test-dir build --output-on-failure -j"$(nproc)"

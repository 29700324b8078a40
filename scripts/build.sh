#!/usr/bin/env bash
# Configures and builds shoal.
#   scripts/build.sh            build/       (RelWithDebInfo, warnings are errors)
#   scripts/build.sh --asan     build-asan/  (Debug, AddressSanitizer + UBSan)
set -euo pipefail
cd "$(dirname "$0")/.."

dir=build
args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo)
if [[ ${1:-} == --asan ]]; then
  dir=build-asan
  args=(-DCMAKE_BUILD_TYPE=Debug -DSHOAL_SANITIZE=ON)
fi
cmake -S . -B "$dir" -G Ninja -DSHOAL_WERROR=ON "${args[@]}" >/dev/null
ninja -C "$dir" -j"$(nproc)"

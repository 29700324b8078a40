#!/usr/bin/env bash
# Builds a Release tree in build-bench/ and runs the shmcache vs LMDB
# benchmark. Arguments go to shm_cache_bench (e.g. --quick).
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build-bench -G Ninja -DCMAKE_BUILD_TYPE=Release -DSHOAL_TESTS=OFF >/dev/null
ninja -C build-bench shm_cache_bench
exec build-bench/bin/shm_cache_bench "$@"

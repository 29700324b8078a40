#!/usr/bin/env bash
# Long libFuzzer campaign over every fuzz target in tests/fuzz/
# (docs/fuzzing.md records the runs).
#   scripts/fuzz-campaign.sh SECONDS_PER_TARGET [TARGET[=SECONDS] ...]
# Every target runs SECONDS_PER_TARGET; TARGET=SECONDS gives one its own
# time (e.g. validator_fuzzer=3600); naming targets (without =) runs only
# those. The campaign of docs/fuzzing.md:
#   nice -n 19 scripts/fuzz-campaign.sh 600 config_fuzzer=3600 validator_fuzzer=1800
#
# Builds the targets in build-fuzz/ (clang, ASan + UBSan + libFuzzer) under
# flock $SHOAL_BUILD_LOCK (default /tmp/shoal-build.lock), then runs them one
# after another, one fuzzer process at a time (-jobs=1 -workers=1), under
# nice -n 19, each on a working copy of tests/fuzz/corpus/<name>/. Before
# each target, and every few seconds while one runs, it looks for a CI run
# (.ci/run): a running target is stopped gracefully (SIGUSR1; its executions
# count), the campaign waits until CI is done, and the target then gets the
# rest of its time. Afterwards the inputs that add coverage are merged back
# into tests/fuzz/corpus/<name>/ (-merge=1: the seeds stay, only new
# coverage is added, not every input the run kept).
#
# Prints per target the executions (stat::number_of_executed_units from
# -print_final_stats), exec/s, the final cov/ft and the files merged, then
# the total; the same table is written to $dir/fuzz-campaign/<date>/summary.tsv
# beside each target's log. A crash, leak or timeout keeps its reproducer in
# build-fuzz/fuzz-artifacts/ and the script exits non-zero (the other
# targets still run).
# Environment: FUZZ_TIMEOUT (seconds for one input to count as a hang,
# default 60), FUZZ_MERGE=0 (measure only: the repository's corpus is left
# as it is), SHOAL_FUZZ_CXX, SHOAL_BUILD_LOCK.
set -euo pipefail
cd "$(dirname "$0")/.."

all=(parse_fuzzer name_fuzzer edns_fuzzer cache_format_fuzzer control_answer_fuzzer
     control_request_fuzzer config_fuzzer validator_fuzzer synthesis_fuzzer localroot_fuzzer
     hot_path_fuzzer doh_fuzzer collapse_fuzzer cookie_fuzzer)
declare -A corpus=([parse_fuzzer]=parse [name_fuzzer]=name [edns_fuzzer]=edns
                   [cache_format_fuzzer]=cache_format [control_answer_fuzzer]=control_answer
                   [control_request_fuzzer]=control_request [config_fuzzer]=config
                   [validator_fuzzer]=validator [synthesis_fuzzer]=synthesis
                   [localroot_fuzzer]=localroot [hot_path_fuzzer]=hot_path [doh_fuzzer]=doh
                   [collapse_fuzzer]=collapse [cookie_fuzzer]=cookie)

usage() {
  echo "usage: $0 SECONDS_PER_TARGET [TARGET[=SECONDS] ...]" >&2
  echo "targets: ${all[*]}" >&2
  exit 2
}
(($# >= 1)) || usage
per=$1
shift
if ! [[ $per =~ ^[0-9]+$ ]] || ((per < 1)); then usage; fi

fuzzers=()
declare -A seconds=()
for arg in "$@"; do
  name=${arg%%=*}
  [[ -n ${corpus[$name]:-} ]] || { echo "unknown target: $name" >&2; usage; }
  if [[ $arg == *=* ]]; then
    [[ ${arg#*=} =~ ^[0-9]+$ ]] || usage
    seconds[$name]=${arg#*=}
  else
    fuzzers+=("$name")
  fi
done
((${#fuzzers[@]} > 0)) || fuzzers=("${all[@]}")

dir=build-fuzz
lock=${SHOAL_BUILD_LOCK:-/tmp/shoal-build.lock}
cxx=${SHOAL_FUZZ_CXX:-clang++}
timeout=${FUZZ_TIMEOUT:-60}  # wall-clock seconds; generous: we run at nice 19
repo=$PWD

ci_running() { pgrep -f '[.]ci/run' >/dev/null; }
wait_for_ci() {
  if ci_running; then
    echo "   (a CI run is active: waiting for it to end)"
    while ci_running; do sleep 30; done
  fi
}

wait_for_ci
if [[ ! -f $dir/build.ninja ]]; then
  flock "$lock" cmake -S . -B "$dir" -G Ninja -DCMAKE_CXX_COMPILER="$cxx" \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSHOAL_FUZZ=ON -DSHOAL_TESTS=OFF -DSHOAL_WERROR=ON >/dev/null
fi
nice -n 19 flock "$lock" ninja -C "$dir" -j2 "${fuzzers[@]}"

artifacts=$repo/$dir/fuzz-artifacts
out=$repo/$dir/fuzz-campaign/$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$artifacts" "$out"
summary=$out/summary.tsv
printf 'target\tseconds\texecutions\texec_per_s\tcov\tft\tmerged\tstatus\n' >"$summary"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# The fuzzing process itself (libFuzzer's -jobs parent runs it through sh).
fuzzer_pid() {
  local pid=$1 child
  for child in $(pgrep -P "$pid" || true); do
    if [[ $(readlink "/proc/$child/exe" 2>/dev/null) == "$2" ]]; then
      echo "$child"
      return
    fi
    fuzzer_pid "$child" "$2"
  done
}

# The running libFuzzer (its -jobs parent), stopped with the campaign.
running=
stop() {
  local child
  if [[ -n $running ]]; then
    child=$(fuzzer_pid "$running" "$bin")
    if [[ -n $child ]]; then kill -USR1 "$child" 2>/dev/null || true; fi
    wait "$running" 2>/dev/null || true
  fi
  echo "fuzz-campaign: stopped; logs so far in $out" >&2
  exit 130
}
trap stop INT TERM HUP

# Runs $1 for $2 seconds on $3 in directory $4 (where fuzz-0.log lands);
# stops it early when CI starts. Sets slice_execs, slice_seconds, slice_rc.
run_slice() {
  local bin=$1 secs=$2 work=$3 cwd=$4 start child
  start=$(date +%s)
  slice_rc=0
  rm -f "$cwd/fuzz-0.log"
  (cd "$cwd" && exec nice -n 19 "$bin" -jobs=1 -workers=1 -max_total_time="$secs" \
     -timeout="$timeout" -rss_limit_mb=2048 -print_final_stats=1 \
     -artifact_prefix="$artifacts/$(basename "$bin")-" "$work" >parent.log 2>&1) &
  running=$!
  while kill -0 "$running" 2>/dev/null; do
    if ci_running; then
      child=$(fuzzer_pid "$running" "$bin")
      if [[ -n $child ]]; then kill -USR1 "$child" 2>/dev/null || true; fi
      break
    fi
    sleep 5
  done
  wait "$running" || slice_rc=$?
  running=
  slice_execs=$(grep -E '^stat::number_of_executed_units:' "$cwd/fuzz-0.log" | tail -1 |
                awk '{print $2}')
  slice_execs=${slice_execs:-0}
  slice_seconds=$(($(date +%s) - start))
}

failed=()
total=0
printf '%-24s %8s %14s %10s %7s %8s %7s  %s\n' target seconds executions exec/s cov ft merged status
for f in "${fuzzers[@]}"; do
  bin=$repo/$dir/bin/$f
  seeds=$repo/tests/fuzz/corpus/${corpus[$f]}
  budget=${seconds[$f]:-$per}
  tdir=$out/$f
  work=$tdir/corpus
  mkdir -p "$work"
  cp -R "$seeds/." "$work/"
  execs=0
  ran=0
  status=ok
  log=$tdir/fuzz.log
  : >"$log"
  while ((ran < budget)); do
    wait_for_ci
    run_slice "$bin" $((budget - ran)) "$work" "$tdir"
    cat "$tdir/fuzz-0.log" >>"$log" 2>/dev/null || true
    execs=$((execs + slice_execs))
    ran=$((ran + slice_seconds))
    if ((slice_rc != 0)); then
      status=FAILED
      break
    fi
    ((slice_seconds > 0)) || break
  done
  last=$(grep -E '^#[0-9]+.* cov: ' "$log" | tail -1 || true)
  cov=$(sed -nE 's/.* cov: ([0-9]+).*/\1/p' <<<"$last")
  ft=$(sed -nE 's/.* ft: ([0-9]+).*/\1/p' <<<"$last")
  # New coverage back into the repository's corpus (the seeds stay).
  before=$(find "$seeds" -type f | wc -l)
  if [[ ${FUZZ_MERGE:-1} == 1 ]]; then
    wait_for_ci
    (cd "$tdir" && nice -n 19 "$bin" -merge=1 -timeout="$timeout" -rss_limit_mb=2048 \
       -artifact_prefix="$artifacts/$f-merge-" "$seeds" "$work" >merge.log 2>&1) ||
      status="$status,merge-failed"
  fi
  merged=$(($(find "$seeds" -type f | wc -l) - before))
  total=$((total + execs))
  rate=$((ran > 0 ? execs / ran : 0))
  printf '%-24s %8s %14s %10s %7s %8s %7s  %s\n' "$f" "$ran" "$execs" "$rate" "${cov:--}" \
    "${ft:--}" "+$merged" "$status"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$f" "$ran" "$execs" "$rate" "${cov:--}" "${ft:--}" \
    "$merged" "$status" >>"$summary"
  if [[ $status != ok ]]; then
    failed+=("$f")
    echo "!! $f: $status; last lines of $log:" >&2
    tail -n 40 "$log" >&2
  else
    rm -rf "$work"  # what is worth keeping was merged
  fi
done
printf '%-24s %8s %14s\n' total "" "$total"
printf 'total\t\t%s\t\t\t\t\t\n' "$total" >>"$summary"
echo "fuzz-campaign: logs and summary in $out"

if ((${#failed[@]} > 0)); then
  echo "fuzz-campaign: FAILED: ${failed[*]} (reproducers in $artifacts/)" >&2
  exit 1
fi

#!/usr/bin/env bash
# Resolver benchmark: shoal against Unbound, same lab, same run.
#
# Both resolvers get 2 workers/threads, the same cache size, the lab's root
# hints and trust anchor, DNSSEC validation on (Unbound: "validator
# iterator"), QNAME minimisation, IPv4 upstream only. dnsperf measures, for
# each of them:
#   cold:  resolving N names never seen (cold caches), 20 in flight: median
#          and p99 latency, and the packets the lab's servers received
#          (upstream queries per name; TCP counts each segment);
#   flags: the same names asked once more with DO (bench/answer_flags.py):
#          the fraction with AD, which must be equal for both;
#   warm:  the same names again, all cached, for a fixed time: queries/s.
# With --baseline REV, a build of shoal at git revision REV (e.g. the commit
# before a change) is measured in the same rounds for cache-hit QPS and CPU
# per query, so that a change's cost on the hot path shows as a ratio.
# Output: one line per figure, then `ratio shoal/unbound <figure> <ratio>`
# lines (number last). For latencies and CPU per query a ratio below 1
# means shoal is better; for QPS above 1. On a small machine the load
# generator shares the cores, so cache-hit QPS is bounded by it; CPU time
# per cache-hit query is the resolver's own cost.
#
# Each figure is the median of R rounds (default 3); every round restarts
# both resolvers with empty caches and alternates which one goes first, so
# that noise from the shared machine falls on both.
#
# Usage: bench/resolver-bench.sh [--names N] [--seconds S] [--rounds R] [--baseline REV]
#        (needs root)
set -euo pipefail
cd "$(dirname "$0")/.."
bench_name=resolver-bench
source bench/lib.sh

names=1000
seconds=10
rounds=3
baseline=
while (($#)); do
  case $1 in
    --names) names=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --baseline) baseline=$2; shift 2 ;;
    *) echo "usage: $0 [--names N] [--seconds S] [--rounds R] [--baseline REV]" >&2; exit 2 ;;
  esac
done
bench_require_root

scripts/install-deps.sh >/dev/null
bench_build_shoal
if [[ -n $baseline ]]; then
  rev=$(git rev-parse --verify "$baseline^{commit}")
  base_src=/tmp/shoal-bench-base-$rev
  if [[ ! -x $base_src/build/bin/shoal ]]; then
    rm -rf "$base_src" && mkdir -p "$base_src"
    git archive "$rev" | tar -x -C "$base_src"
    cmake -S "$base_src" -B "$base_src/build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DSHOAL_TESTS=OFF >/dev/null
    ninja -C "$base_src/build" -j"$(nproc)" shoal >/dev/null
  fi
fi

bench_start_lab /tmp/shoal-bench.XXXXXX
head -n "$names" "$LAB_QUERIES" >"$work/queries.txt"

write_shoal_conf "$work/shoal.toml" 5301 /shoal-bench "$work/control.sock"
# The baseline: the same, on its own cache, port and socket.
write_shoal_conf "$work/shoal-base.toml" 5303 /shoal-bench-base "$work/control-base.sock"
write_unbound_conf "$work/unbound.conf" 5302

# Per-query latencies from dnsperf -v ("> NOERROR name type latency").
latency() {  # port -> "median p99 lost"
  dnsperf -s 127.0.0.1 -p "$1" -d "$work/queries.txt" -n 1 -q 20 -t 5 -v 2>/dev/null |
    awk '$1 == ">" { print $NF } /Queries lost:/ { lost = $3 }
         END { print "lost", lost > "/dev/stderr" }' 2>"$work/lost.$1" |
    sort -n | awk '{ v[NR] = $1 } END {
      if (NR == 0) { print "nan nan"; exit }
      m = v[int((NR + 1) / 2)]; p = v[int(NR * 0.99 + 0.5)]; if (p == "") p = v[NR]
      printf "%.6f %.6f\n", m, p }'
}
# CPU time (ns) used so far by a process tree's threads (shoal: the
# supervisor and its workers; unbound: its threads).
cpu_ns() {
  local total=0 pid t
  for pid in "$@" $(pgrep -P "$1" || true); do
    for t in /proc/"$pid"/task/*/schedstat; do
      [[ -r $t ]] && total=$((total + $(cut -d' ' -f1 "$t")))
    done
  done
  echo "$total"
}
qps() {  # port -> queries per second
  dnsperf -s 127.0.0.1 -p "$1" -d "$work/queries.txt" -l "$seconds" -c 4 -q 200 -t 2 2>/dev/null |
    awk '/Queries per second:/ { print $4 } /Queries lost:/ { print "lost " $3 > "/dev/stderr" }' \
      2>"$work/qpslost.$1"
}

start_resolvers() {
  build-bench/bin/shoal --config "$work/shoal.toml" --cold 2>>"$work/shoal.log" &
  shoal_pid=$!
  unbound -d -c "$work/unbound.conf" &
  unbound_pid=$!
  pids=("$shoal_pid" "$unbound_pid")
  if [[ -n $baseline ]]; then
    "$base_src/build/bin/shoal" --config "$work/shoal-base.toml" --cold 2>>"$work/base.log" &
    base_pid=$!
    pids+=("$base_pid")
  fi
  wait_up 5301; wait_up 5302
  [[ -z $baseline ]] || wait_up 5303
  lab_packets >/dev/null
}
# Runs one resolver's cold and warm measurements: port pid name -> appends
# "median p99 qps cpu-ns/query upstream-packets-per-name ad-fraction" to
# $work/<name>.rounds.
measure() {
  local port=$1 pid=$2 name=$3 med p99 before q cpu packets flags ad
  lab_packets >/dev/null
  read -r med p99 < <(latency "$port")
  packets=$(lab_packets)
  flags=$(python3 bench/answer_flags.py "$port" "$work/queries.txt")
  ad=$(awk '{ printf "%.4f", $4 / $2 }' <<<"$flags")
  before=$(cpu_ns "$pid")
  q=$(qps "$port")
  cpu=$(($(cpu_ns "$pid") - before))
  echo "$med $p99 $q $(awk -v c="$cpu" -v q="$q" -v s="$seconds" 'BEGIN { printf "%.0f", c / (q * s) }') \
$(awk -v p="$packets" -v n="$names" 'BEGIN { printf "%.2f", p / n }') $ad" >>"$work/$name.rounds"
  cat "$work/lost.$port" "$work/qpslost.$port" >>"$work/$name.lost"
}
# The baseline's warm figures only: port pid -> appends "qps cpu-ns/query".
measure_baseline() {
  local port=$1 pid=$2 before q cpu
  latency "$port" >/dev/null
  before=$(cpu_ns "$pid")
  q=$(qps "$port")
  cpu=$(($(cpu_ns "$pid") - before))
  echo "$q $(awk -v c="$cpu" -v q="$q" -v s="$seconds" 'BEGIN { printf "%.0f", c / (q * s) }')" \
    >>"$work/base.rounds"
}
for ((r = 0; r < rounds; r++)); do
  start_resolvers
  if ((r % 2 == 0)); then
    measure 5301 "$shoal_pid" shoal
    measure 5302 "$unbound_pid" unbound
  else
    measure 5302 "$unbound_pid" unbound
    measure 5301 "$shoal_pid" shoal
  fi
  [[ -z $baseline ]] || measure_baseline 5303 "$base_pid"
  stop_resolvers
done
median() {  # file column -> median
  awk -v c="$2" '{ print $c }' "$1" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}
shoal_med=$(median "$work/shoal.rounds" 1); unb_med=$(median "$work/unbound.rounds" 1)
shoal_p99=$(median "$work/shoal.rounds" 2); unb_p99=$(median "$work/unbound.rounds" 2)
shoal_qps=$(median "$work/shoal.rounds" 3); unb_qps=$(median "$work/unbound.rounds" 3)
shoal_ns=$(median "$work/shoal.rounds" 4); unb_ns=$(median "$work/unbound.rounds" 4)
shoal_up=$(median "$work/shoal.rounds" 5); unb_up=$(median "$work/unbound.rounds" 5)
shoal_ad=$(median "$work/shoal.rounds" 6); unb_ad=$(median "$work/unbound.rounds" 6)
shoal_lost=$(awk '{ s += $2 } END { print s + 0 }' "$work/shoal.lost")
unb_lost=$(awk '{ s += $2 } END { print s + 0 }' "$work/unbound.lost")

echo "names $names, warm runs ${seconds}s, medians of $rounds rounds, 2 workers/threads each, $(nproc) cores"
echo "shoal   cold median ${shoal_med}s p99 ${shoal_p99}s, ${shoal_up} upstream packets/name, AD ${shoal_ad}, warm ${shoal_qps} qps, ${shoal_ns} cpu-ns/query, lost ${shoal_lost}"
echo "unbound cold median ${unb_med}s p99 ${unb_p99}s, ${unb_up} upstream packets/name, AD ${unb_ad}, warm ${unb_qps} qps, ${unb_ns} cpu-ns/query, lost ${unb_lost}"
if [[ -n $baseline ]]; then
  base_qps=$(median "$work/base.rounds" 1); base_ns=$(median "$work/base.rounds" 2)
  echo "shoal at $baseline (baseline): warm ${base_qps} qps, ${base_ns} cpu-ns/query"
  awk -v a="$shoal_ns" -v b="$base_ns" 'BEGIN { printf "ratio shoal/baseline cache-hit-cpu-per-query %.3f\n", a / b }'
  awk -v a="$shoal_qps" -v b="$base_qps" 'BEGIN { printf "ratio shoal/baseline cache-hit-qps %.3f\n", a / b }'
fi
echo "ad-fraction shoal ${shoal_ad} unbound ${unb_ad}"
awk -v a="$shoal_up" -v b="$unb_up" 'BEGIN { printf "ratio shoal/unbound upstream-packets-per-name %.3f\n", a / b }'
awk -v a="$shoal_qps" -v b="$unb_qps" 'BEGIN { printf "ratio shoal/unbound cache-hit-qps %.3f\n", a / b }'
awk -v a="$shoal_ns" -v b="$unb_ns" 'BEGIN { printf "ratio shoal/unbound cache-hit-cpu-per-query %.3f\n", a / b }'
awk -v a="$shoal_med" -v b="$unb_med" 'BEGIN { printf "ratio shoal/unbound cold-median-latency %.3f\n", a / b }'
awk -v a="$shoal_p99" -v b="$unb_p99" 'BEGIN { printf "ratio shoal/unbound cold-p99-latency %.3f\n", a / b }'

#!/usr/bin/env bash
# Resolver benchmark: shoal against Unbound, same lab, same run.
#
# Both resolvers get 2 workers/threads, the same cache size, the lab's root
# hints, QNAME minimisation, no DNSSEC validation (shoal does not validate
# yet, so Unbound runs its iterator module only), IPv4 upstream only. dnsperf
# measures, for each of them:
#   cold:  resolving N names never seen (cold caches), 20 in flight: median
#          and p99 latency;
#   warm:  the same names again, all cached, for a fixed time: queries/s.
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
# Usage: bench/resolver-bench.sh [--names N] [--seconds S] [--rounds R]   (needs root)
set -euo pipefail
cd "$(dirname "$0")/.."

names=1000
seconds=10
rounds=3
while (($#)); do
  case $1 in
    --names) names=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    *) echo "usage: $0 [--names N] [--seconds S] [--rounds R]" >&2; exit 2 ;;
  esac
done
if [[ $(id -u) -ne 0 ]]; then
  echo "resolver-bench: needs root (the lab creates a network namespace)" >&2
  exit 77
fi

scripts/install-deps.sh >/dev/null
if [[ ! -x build-bench/bin/shoal ]] || [[ -n $(find supervisor worker resolver dns shmcache config base -newer build-bench/bin/shoal -name '*.[ch]*' -print -quit) ]]; then
  cmake -S . -B build-bench -G Ninja -DCMAKE_BUILD_TYPE=Release -DSHOAL_TESTS=OFF >/dev/null
  ninja -C build-bench -j"$(nproc)" shoal >/dev/null
fi

labctl=tests/lab/labctl
work=$(mktemp -d /tmp/shoal-bench.XXXXXX)
started_lab=0
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  ((started_lab)) && "$labctl" stop >/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
if ! "$labctl" status >/dev/null 2>&1; then
  "$labctl" start --dir "$work/lab" >/dev/null
  started_lab=1
fi
eval "$("$labctl" env)"
head -n "$names" "$LAB_QUERIES" >"$work/queries.txt"

cat >"$work/shoal.toml" <<TOML
[server]
listen = ["127.0.0.1:5301"]
workers = 2
[cache]
name = "/shoal-bench"
size = "256M"
stripes = 256
[resolver]
root_hints = "$LAB_ROOT_HINTS"
ipv6 = false
[control]
socket = "$work/control.sock"
TOML
cat >"$work/unbound.conf" <<CONF
server:
  interface: 127.0.0.1@5302
  num-threads: 2
  so-reuseport: yes
  username: ""
  chroot: ""
  directory: "$work"
  pidfile: "$work/unbound.pid"
  use-syslog: no
  logfile: "$work/unbound.log"
  verbosity: 0
  root-hints: "$LAB_ROOT_HINTS"
  module-config: "iterator"
  do-ip6: no
  qname-minimisation: yes
  rrset-cache-size: 170m
  msg-cache-size: 86m
  access-control: 127.0.0.0/8 allow
  do-not-query-localhost: no
  prefetch: no
remote-control:
  control-enable: no
CONF

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
  sleep 1
}
stop_resolvers() {
  kill "$shoal_pid" "$unbound_pid" 2>/dev/null || true
  wait "$shoal_pid" "$unbound_pid" 2>/dev/null || true
  pids=()
}
# Runs one resolver's cold and warm measurements: port pid name -> appends
# "median p99 qps cpu-ns/query" to $work/<name>.rounds.
measure() {
  local port=$1 pid=$2 name=$3 med p99 before q cpu
  read -r med p99 < <(latency "$port")
  before=$(cpu_ns "$pid")
  q=$(qps "$port")
  cpu=$(($(cpu_ns "$pid") - before))
  echo "$med $p99 $q $(awk -v c="$cpu" -v q="$q" -v s="$seconds" 'BEGIN { printf "%.0f", c / (q * s) }')" \
    >>"$work/$name.rounds"
  cat "$work/lost.$port" "$work/qpslost.$port" >>"$work/$name.lost"
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
  stop_resolvers
done
median() {  # file column -> median
  awk -v c="$2" '{ print $c }' "$1" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}
shoal_med=$(median "$work/shoal.rounds" 1); unb_med=$(median "$work/unbound.rounds" 1)
shoal_p99=$(median "$work/shoal.rounds" 2); unb_p99=$(median "$work/unbound.rounds" 2)
shoal_qps=$(median "$work/shoal.rounds" 3); unb_qps=$(median "$work/unbound.rounds" 3)
shoal_ns=$(median "$work/shoal.rounds" 4); unb_ns=$(median "$work/unbound.rounds" 4)
shoal_lost=$(awk '{ s += $2 } END { print s + 0 }' "$work/shoal.lost")
unb_lost=$(awk '{ s += $2 } END { print s + 0 }' "$work/unbound.lost")

echo "names $names, warm runs ${seconds}s, medians of $rounds rounds, 2 workers/threads each, $(nproc) cores"
echo "shoal   cold median ${shoal_med}s p99 ${shoal_p99}s, warm ${shoal_qps} qps, ${shoal_ns} cpu-ns/query, lost ${shoal_lost}"
echo "unbound cold median ${unb_med}s p99 ${unb_p99}s, warm ${unb_qps} qps, ${unb_ns} cpu-ns/query, lost ${unb_lost}"
awk -v a="$shoal_qps" -v b="$unb_qps" 'BEGIN { printf "ratio shoal/unbound cache-hit-qps %.3f\n", a / b }'
awk -v a="$shoal_ns" -v b="$unb_ns" 'BEGIN { printf "ratio shoal/unbound cache-hit-cpu-per-query %.3f\n", a / b }'
awk -v a="$shoal_med" -v b="$unb_med" 'BEGIN { printf "ratio shoal/unbound cold-median-latency %.3f\n", a / b }'
awk -v a="$shoal_p99" -v b="$unb_p99" 'BEGIN { printf "ratio shoal/unbound cold-p99-latency %.3f\n", a / b }'

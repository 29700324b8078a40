#!/usr/bin/env bash
# EDNS Client Subnet benchmark (issue 11, RFC 7871): what ECS costs on a
# cache hit, and what one cached partition costs in memory, shoal against
# Unbound's subnetcache, same lab, same run.
#
# Four resolver configurations run side by side, each started fresh (empty
# cache) in each round on its own loopback port (shoal off/on 5321/5323,
# Unbound off/on 5322/5324), validating with the lab's trust anchor and
# root hints, QNAME minimisation on, IPv4 upstream, 2 workers/threads; the
# measurements take them one at a time (the others idle), so that the
# phases of one query set on the four follow each other within a minute
# and background load on this shared machine falls on all of them alike:
#   shoal-off:   shoal with [ecs] enabled = false;
#   shoal-on:    shoal with [ecs] enabled = true, zones = ["geo.com."],
#                trusted = ["127.0.0.1"] (dnsperf and the checks play the
#                trusted front end);
#   unbound-off: Unbound 1.17, module-config "validator iterator";
#   unbound-on:  Unbound 1.17, module-config "subnetcache validator
#                iterator", send-client-subnet the geo server's addresses,
#                client-subnet-zone geo.com, max-client-subnet-ipv4 24,
#                max-client-subnet-ipv6 56.
# All shoal configurations have [cache] max_ecs_partitions = 64 (the
# memory step fills 41 partitions of www.geo.com A; the default cap of 16
# would evict); both Unbound ones have extended-statistics (for its memory
# and subnet counters) and remote control on a unix socket.
#
# Three query sets, on each configuration in turn, each first sent once
# (the warm-up that fills the cache), then sent again for S seconds
# (dnsperf -l, 4 clients, 200 in flight) as cache hits only; the figure is
# the CPU time
# of the resolver's processes (shoal: the supervisor and its children, the
# workers and the local-root process; Unbound: its threads; from
# /proc/PID/task/*/schedstat, cross-checked with utime+stime of
# /proc/PID/stat) during that run, divided by the answers dnsperf received:
#   (a) N names outside any ECS zone (the first N of the lab's bulk names,
#       LAB_QUERIES), with EDNS but no ECS option: "queries outside ECS
#       zones stay as fast as today" is ECS on against ECS off here;
#   (c) the same names with an ECS option (11.1.2.0/24), as a front end
#       that adds ECS to every query sends them: global answers;
#   (b) www.geo.com A with ECS 11.1.2.0/24 (dnsperf -E 8:000118000b0102):
#       with ECS on, a hit on the 11.1.0.0/16 partition (scope 16,
#       192.0.2.1); with ECS off the resolver ignores the option and it is
#       a hit on the global answer (192.0.2.99).
# The lab's packet counters are reset before each hit phase and read after
# it (every phase should send nothing upstream); the resolver's own
# counters are read before and after (shoal: `shoalctl stats --json`, e.g.
# ecs.hits_partitioned; Unbound: num.query.subnet_cache), and a sample
# answer of each set is checked (www.geo.com from 11.1.2.0/24: 192.0.2.1
# with scope 16 when ECS is on). The geo server's query capture (`labctl
# geo-queries`) shows what the resolver sent it with (b)'s warm-up, and
# that (b)'s hit phase sent nothing.
#
# Then, in shoal-on and unbound-on, memory per partition: after
# plain.geo.com (no geoip entry) has cached the zone's delegation, many.geo.com
# A and www.geo.com A are asked from 11.I.0.0/24, I = 10..49: 80 answers,
# each a new scope-16 partition (192.0.3.I). Before and after: shoal's
# shared-cache live bytes and entries (`shoalctl cache stats --json`) and its
# partition count (`shoalctl ecs --json`, when this build has it); Unbound's
# heap bytes in use (glibc's malloc_stats() called through gdb: Unbound 1.17
# counts a subnet cache entry's size in mem.mod.subnet only when its name is
# first inserted, not the partitions added to it later; mem.mod.subnet, and
# its rrset and message caches, are shown beside it; without gdb, which
# scripts/install-deps.sh does not install, that figure is n/a). The
# difference divided by the partitions added.
#
# All of this R times (rounds, default 3), the order of the configurations
# rotating each round; the figures are medians. The lab's counters count
# every resolver's packets, but only one is asked at a time.
#
# Needs root (the lab). Exits 77 when not root.
set -euo pipefail
caller_dir=$PWD
cd "$(dirname "$0")/.."
bench_name=ecs-bench
source bench/lib.sh

usage() {
  cat <<'EOF'
Usage: bench/ecs-bench.sh [options]     (needs root: the lab)

EDNS Client Subnet (RFC 7871): CPU per cache-hit answer with ECS off and on
(names outside ECS zones, the same with an ECS option, and hits on an ECS
partition of www.geo.com), and memory per cached partition: shoal and
Unbound's subnetcache, in the same run.

Options:
  --shoal-bin PATH   the shoal binary (default: build-bench/bin/shoal, built
                     from this tree when older than the sources); shoalctl
                     is taken from the same directory
  --names N          names outside ECS zones, the first N of the lab's bulk
                     names (default 1000)
  --seconds S        length of each cache-hit run (default 10; at most 40:
                     the geo answers have a TTL of 60 s)
  --rounds R         rounds, each with every configuration started cold;
                     figures are medians (default 3)
  --qps Q            send the cache-hit runs at Q queries/s (dnsperf -Q)
                     instead of as fast as possible
  --keep             keep the scratch directory (configs, logs, raw results)
                     and print its path
  -h, --help         this text
EOF
}

shoal_bin=
names=1000
seconds=10
rounds=3
qps=
while (($#)); do
  case $1 in
    --shoal-bin) shoal_bin=$2; shift 2 ;;
    --names) names=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --qps) qps=$2; shift 2 ;;
    --keep) keep_work=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
done
for n in "$names" "$seconds" "$rounds" ${qps:+"$qps"}; do
  [[ $n =~ ^[0-9]+$ ]] || { echo "ecs-bench: not a number: $n" >&2; exit 2; }
done
((names >= 1 && names <= 4000 && seconds >= 1 && seconds <= 40 && rounds >= 1)) || { usage >&2; exit 2; }
bench_require_root

scripts/install-deps.sh >/dev/null
bench_shoal_binaries

bench_start_lab /tmp/shoal-ecs-bench.XXXXXX
mkdir -p "$work/results" "$work/bin"
# A copy of the binaries, so that a rebuild during the run changes nothing.
shoal_built=$(date -u -r "$shoal_bin" '+%Y-%m-%d %H:%M:%S UTC')
head_rev=$(git rev-parse --short HEAD)
git diff --quiet HEAD -- . ':(exclude)bench' ':(exclude)docs' || head_rev+=" + uncommitted changes"
cp "$shoal_bin" "$shoalctl_bin" "$work/bin/"
shoal_bin=$work/bin/shoal
shoalctl_bin=$work/bin/shoalctl
head -n "$names" "$LAB_QUERIES" >"$work/outside.txt"
echo "www.geo.com A" >"$work/geo.txt"
ecs_subnet=11.1.2.0/24
ecs_opt=$(python3 bench/ecs_bench.py option "$ecs_subnet")  # 8:000118000b0102
read -r sample_name _ < <(head -n 1 "$work/outside.txt")
# The bulk names are hNNN.bulkMM.<tld> with A 198.18.MM.(NNN+1).
sample_addr=$(awk -F. '{ printf "198.18.%d.%d\n", substr($2, 5) + 0, substr($1, 2) + 1 }' <<<"$sample_name")

# shoal: as in the other benchmarks (2 workers, 256 MiB cache), with up to
# 64 partitions per name and type, and ECS off or on for geo.com; each on
# its own port, cache and control socket.
declare -A port=([shoal-off]=5321 [shoal-on]=5323 [unbound-off]=5322 [unbound-on]=5324)
for mode in off on; do
  conf=$work/shoal-$mode.toml
  write_shoal_conf "$conf" "${port[shoal-$mode]}" "/shoal-ecs-bench-$mode" "$work/control-$mode.sock"
  sed -i 's/^\[cache\]$/[cache]\nmax_ecs_partitions = 64/' "$conf"
  if [[ $mode == on ]]; then
    printf '[ecs]\nenabled = true\nzones = ["geo.com."]\ntrusted = ["127.0.0.1"]\n'
  else
    printf '[ecs]\nenabled = false\n'
  fi >>"$conf"
  "$shoal_bin" --check-config "$conf" >/dev/null
  shm_names+=("shoal-ecs-bench-$mode")
done
# Unbound: as in the other benchmarks, plus its statistics, its own
# pidfile and log (later lines override lib.sh's), remote control on a unix
# socket (a later remote-control: section overrides lib.sh's
# control-enable: no), and for "on" the subnetcache module.
for mode in off on; do
  extra=("extended-statistics: yes" "pidfile: \"$work/unbound-$mode.pid\""
    "logfile: \"$work/unbound-$mode.log\"")
  [[ $mode == off ]] || extra+=('module-config: "subnetcache validator iterator"'
    "send-client-subnet: $LAB_GEO_ADDR" "send-client-subnet: $LAB_GEO_ADDR6"
    "client-subnet-zone: geo.com" "max-client-subnet-ipv4: 24" "max-client-subnet-ipv6: 56")
  write_unbound_conf "$work/unbound-$mode.conf" "${port[unbound-$mode]}" "${extra[@]}"
  cat >>"$work/unbound-$mode.conf" <<CONF
remote-control:
  control-enable: yes
  control-interface: "$work/unbound-$mode.ctl"
  control-use-cert: no
CONF
  unbound-checkconf "$work/unbound-$mode.conf" >/dev/null
done
[[ $(unbound-checkconf -o module-config "$work/unbound-on.conf") == "subnetcache validator iterator" ]] ||
  { echo "ecs-bench: unbound-on.conf does not load subnetcache" >&2; exit 1; }
[[ $(unbound-checkconf -o pidfile "$work/unbound-on.conf") == "$work/unbound-on.pid" ]] ||
  { echo "ecs-bench: unbound-on.conf: pidfile not overridden" >&2; exit 1; }

declare -A pid_of=()
shoalctl() {  # mode(off|on) shoalctl-arguments...
  local mode=$1
  shift
  "$shoalctl_bin" --config "$work/shoal-$mode.toml" "$@"
}

# Starts one configuration with an empty cache: config round. shoal: waits
# for both workers' "ready" lines and for its local root (RFC 8806) to be in
# use (or given up), so that its transfer falls into no measurement.
# Unbound: waits until it answers and its control socket does.
start_resolver() {
  local config=$1 round=$2 log=$work/$1.$2.log pid
  case $config in
    shoal-*)
      "$shoal_bin" --config "$work/$config.toml" --cold 2>"$log" &
      pid=$!
      pids+=("$pid")
      pid_of[$config]=$pid
      wait_up "${port[$config]}" "$pid"
      wait_log "$log" "worker [0-9]+ ready" 2 "$pid" "ready line of both workers"
      wait_log "$log" "local root: (serial .* in use|no usable copy)" 1 "$pid" "local root"
      ;;
    unbound-*)
      start_unbound "$work/$config.conf" "$log" "${port[$config]}"
      pid_of[$config]=$unbound_pid
      for _ in $(seq 100); do
        unbound-control -c "$work/$config.conf" status >/dev/null 2>&1 && return 0
        sleep 0.1
      done
      echo "$bench_name: Unbound's control socket does not answer ($config)" >&2
      exit 1
      ;;
  esac
}
# CPU used so far by a process and its children, all threads: "ns ticks"
# (schedstat run time; utime+stime from /proc/PID/stat).
cpu_read() {
  local ns=0 ticks=0 pid t stat f
  for pid in "$1" $(pgrep -P "$1" || true); do
    for t in /proc/"$pid"/task/*/schedstat; do
      [[ -r $t ]] && ns=$((ns + $(cut -d' ' -f1 "$t")))
    done
    if stat=$(cat "/proc/$pid/stat" 2>/dev/null); then
      read -ra f <<<"${stat##*) }"  # fields from 3 on: utime is 14, stime 15
      ticks=$((ticks + f[11] + f[12]))
    fi
  done
  echo "$ns $ticks"
}
# The resolver's counters as JSON: config.
counters_json() {
  case $1 in
    shoal-*) shoalctl "${1#shoal-}" stats --json ;;
    unbound-*)
      unbound-control -c "$work/$1.conf" stats_noreset >"$work/ub-stats.txt"
      python3 bench/ecs_bench.py unbound-stats "$work/ub-stats.txt"
      ;;
  esac
}
geo_capture() {  # file: what the geo server received since the last call
  "$labctl" geo-queries --json --reset >"$1" 2>/dev/null || echo '"no capture"' >"$1"
}
# One query set on one configuration: config set round file
# dnsperf-options... The warm-up (each query once, 20 in flight: it fills
# the cache the first time, and refreshes the geo answer, TTL 60, later),
# then the cache-hit run with the CPU and counters around it.
measure() {
  local config=$1 set=$2 round=$3 file=$4 c0 c1
  shift 4
  local p=${port[$config]} pid=${pid_of[$config]} out=$work/results/$config.$set.$round
  geo_capture /dev/null
  dnsperf -s 127.0.0.1 -p "$p" -d "$file" -n 1 -q 20 -t 5 "$@" >"$out.warm.dnsperf" 2>&1
  [[ $set != b ]] || geo_capture "$work/results/$config.geo.b-warm.$round.json"
  counters_json "$config" >"$out.stats-before.json"
  "$labctl" counters --reset >/dev/null
  c0=$(cpu_read "$pid")
  dnsperf -s 127.0.0.1 -p "$p" -d "$file" -l "$seconds" -c 4 -q 200 -t 2 ${qps:+-Q "$qps"} "$@" >"$out.dnsperf" 2>&1
  c1=$(cpu_read "$pid")
  "$labctl" counters --reset --json >"$out.counters.json"
  counters_json "$config" >"$out.stats-after.json"
  [[ $set != b ]] || geo_capture "$work/results/$config.geo.b-hits.$round.json"
  echo "${c0% *} ${c1% *} ${c0#* } ${c1#* }" >"$out.cpu"
}
check() {  # config round ask-arguments...: appends the sample answer's JSON
  local config=$1 round=$2
  shift 2
  python3 bench/ecs_bench.py ask "${port[$config]}" "$@" >>"$work/results/$config.checks.$round.jsonl"
}
# Unbound's heap bytes in use (all arenas and mmapped chunks): glibc's
# malloc_stats() called in the process through gdb prints them to its
# stderr: config round -> bytes, or "unknown" without gdb.
heap_in_use() {
  local err=$work/$1.$2.log before
  command -v gdb >/dev/null || { echo unknown; return; }
  before=$(stat -c %s "$err")
  gdb -p "${pid_of[$1]}" -batch -nx -ex 'call (void) malloc_stats()' >/dev/null 2>&1 || { echo unknown; return; }
  tail -c +"$((before + 1))" "$err" |
    awk '/^Total/ { total = 1 } total && /in use bytes/ { print $NF; exit }' | grep . || echo unknown
}
# Memory per partition: config round -> JSON.
memory_snapshot() {
  case $1 in
    shoal-on)
      printf '{"cache": %s, "ecs": %s}\n' "$(shoalctl on cache stats --json)" \
        "$(shoalctl on ecs --json 2>/dev/null || echo null)"
      ;;
    unbound-on)
      unbound-control -c "$work/$1.conf" stats_noreset >"$work/ub-stats.txt"
      python3 bench/ecs_bench.py unbound-stats "$work/ub-stats.txt" --heap "$(heap_in_use "$1" "$2")"
      ;;
  esac
}
measure_memory() {  # config round
  local config=$1 round=$2 out=$work/results/$1.mem.$2
  check "$config" "$round" plain.geo.com A --expect-addr 192.0.2.77 --label "zone cut"
  geo_capture /dev/null
  memory_snapshot "$config" "$round" >"$out.before.json"
  python3 bench/ecs_bench.py fill "${port[$config]}" --names many.geo.com,www.geo.com \
    --first 10 --last 49 >"$out.fill.json"
  memory_snapshot "$config" "$round" >"$out.after.json"
  geo_capture "$work/results/$config.geo.mem.$round.json"
}

configs=(shoal-off shoal-on unbound-off unbound-on)
for ((round = 1; round <= rounds; round++)); do
  echo "ecs-bench: round $round" >&2
  for config in "${configs[@]}"; do start_resolver "$config" "$round"; done
  # The order of the configurations rotates each round.
  order=()
  for ((i = 0; i < ${#configs[@]}; i++)); do
    order+=("${configs[(i + round - 1) % ${#configs[@]}]}")
  done
  # (a) names outside ECS zones, EDNS without ECS.
  for config in "${order[@]}"; do
    measure "$config" a "$round" "$work/outside.txt" -e
    check "$config" "$round" "$sample_name" A --expect-addr "$sample_addr" --label a
  done
  # (c) the same names with an ECS option.
  for config in "${order[@]}"; do
    measure "$config" c "$round" "$work/outside.txt" -E "$ecs_opt"
    check "$config" "$round" "$sample_name" A --subnet "$ecs_subnet" --expect-addr "$sample_addr" --label c
  done
  # (b) www.geo.com with ECS: a partition hit with ECS on, a global one off.
  for config in "${order[@]}"; do
    measure "$config" b "$round" "$work/geo.txt" -E "$ecs_opt"
    if [[ $config == *-on ]]; then
      check "$config" "$round" www.geo.com A --subnet "$ecs_subnet" --expect-addr 192.0.2.1 --expect-scope 16 --label b
    else
      check "$config" "$round" www.geo.com A --subnet "$ecs_subnet" --expect-addr 192.0.2.99 --label b
    fi
  done
  # Memory per partition, and shoal's counters after the round.
  measure_memory shoal-on "$round"
  measure_memory unbound-on "$round"
  counters_json shoal-on >"$work/results/shoal-on.final.$round.json"
  stop_resolvers
done

echo "ecs-bench: $("$shoal_bin" --version 2>&1 | head -n 1) (binary of $shoal_built; tree at the start: $head_rev), Unbound $(unbound -V | head -n 1 | sed 's/^Version //');" \
  "$names names outside ECS zones, hit runs ${seconds}s (4 clients, 200 in flight${qps:+, $qps queries/s}), medians of $rounds rounds, 2 workers/threads each, $(nproc) cores"
status=0
python3 bench/ecs_bench.py report --results "$work/results" --rounds "$rounds" --seconds "$seconds" \
  --names "$names" || status=$?
echo
echo "shoal's ECS counters after round $rounds (shoalctl stats --json, object \"ecs\"):"
python3 -c 'import json, sys; print(json.dumps(json.load(open(sys.argv[1]))["ecs"]))' \
  "$work/results/shoal-on.final.$rounds.json"
exit "$status"

#!/usr/bin/env bash
# Loss benchmark (issue 12, "no client waits for a lost packet"): how many
# cold names a validating resolver answers within 1, 2 and 3 s when a part
# of the packets to every authoritative server is lost, and how many
# upstream packets it sends for them: shoal against Knot Resolver and
# Unbound, same lab, same run.
#
# For each loss level L (default 10, 30 and 50 %), `labctl drop ADDR L` is
# set on every authoritative address of the lab (LAB_ALL_ADDRS): nftables
# inside the lab's namespace drops each packet to port 53 (UDP or TCP) with
# probability L, independently. Only packets towards the servers are
# dropped, never their answers, so a lost packet is a lost query. Then each
# resolver in turn (one at a time, so that the lab's counters count its
# packets only; the order rotates from one run to the next) is started
# fresh, with an empty cache, on its own loopback port (shoal 5331, Knot
# Resolver 5332, Unbound 5333), validating with the lab's trust anchor and
# root hints, QNAME minimisation on, IPv4 upstream, 2 workers, processes or
# threads:
#   shoal:    2 workers, 256 MiB cache, --cold, local root off (with it,
#             the root's servers would never be asked and their loss would
#             not count);
#   kresd:    Knot Resolver 5.6 (Debian knot-resolver), two kresd processes
#             sharing the port (SO_REUSEPORT) and one LMDB cache in the
#             scratch directory, emptied before each run; its defaults
#             otherwise, less the RFC 8145 key-tag signal query
#             (ta_signal_query), which is no resolution;
#   unbound:  Unbound 1.17, 2 threads, "validator iterator", no prefetch.
# bench/loss_bench.py then plays a stub resolver that never retries: it
# sends each of N names (the lab's bulk names, LAB_QUERIES: 40 zones, 3 in 5
# signed) once over UDP, each from a socket of its own (so that
# SO_REUSEPORT spreads them over the resolver's workers as it spreads
# stubs), at most Q in flight, and waits W seconds (default 5, what
# glibc's stub waits before its first retry) for each answer. Per name it
# records the rcode, the latency and any Extended DNS Error. Each run asks
# another slice of the bulk names (wrapping round the 4000), every
# resolver of the run the same slice. The lab's packet counters are reset
# before the resolver starts and read when the client is done: what the
# resolver sent from its start (priming included) until then; TCP counts
# each segment. The drop rules are removed after each level, and on any
# exit.
#
# All of this R times (rounds, default 1); the figures pool the rounds.
#
# Output: per resolver and loss level the fractions of names answered
# (NOERROR or NXDOMAIN) within 1, 2 and 3 s, SERVFAILs (when they came and
# their Extended DNS Errors), other failures, names without an answer
# within W s, the median and p99 latency, upstream packets per name and per
# answered name (and by lab server role); then a markdown table for
# docs/benchmarks.md and the goal of issue 12: at 30 % loss at least 99.9 %
# within 1 s, 100 % within 3 s, no SERVFAIL and fewer upstream packets than
# Knot Resolver; at 50 % at least 99 % within 2 s and no SERVFAIL.
#
# Needs root (the lab). Exits 77 when not root.
set -euo pipefail
caller_dir=$PWD
cd "$(dirname "$0")/.."
bench_name="loss-bench"
source bench/lib.sh

usage() {
  cat <<'EOF'
Usage: bench/loss-bench.sh [options]     (needs root: the lab)

Cold names under packet loss on every authoritative server: the fraction
answered within 1, 2 and 3 s, failures and upstream packets per name, for
shoal, Knot Resolver and Unbound, each with a cold cache, in the same run.

Options:
  --shoal-bin PATH   the shoal binary (default: build-bench/bin/shoal, built
                     from this tree when older than the sources)
  --names N          cold names per resolver and run, from the lab's 4000
                     bulk names (default 1000)
  --loss LIST        loss levels in percent, comma separated (default
                     10,30,50)
  --only LIST        run only these resolvers: shoal, kresd, unbound, comma
                     separated (default: all three)
  --inflight Q       queries in flight (default 20)
  --wait S           seconds the client waits for each answer; it never
                     retries (default 5)
  --rounds R         rounds, each with every resolver started cold at every
                     loss level; figures pool the rounds (default 1)
  --keep             keep the scratch directory (configs, logs, per-name
                     results) and print its path
  -h, --help         this text
EOF
}

shoal_bin=
names=1000
loss=10,30,50
only=shoal,kresd,unbound
inflight=20
wait_s=5
rounds=1
while (($#)); do
  case $1 in
    --shoal-bin) shoal_bin=$2; shift 2 ;;
    --names) names=$2; shift 2 ;;
    --loss) loss=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    --inflight) inflight=$2; shift 2 ;;
    --wait) wait_s=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --keep) keep_work=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
done
for n in "$names" "$inflight" "$wait_s" "$rounds" ${loss//,/ }; do
  [[ $n =~ ^[0-9]+$ ]] || { echo "loss-bench: not a number: $n" >&2; exit 2; }
done
((names >= 1 && names <= 4000 && inflight >= 1 && wait_s >= 3 && rounds >= 1)) || { usage >&2; exit 2; }
levels=()
for l in ${loss//,/ }; do
  ((l <= 100)) || { echo "loss-bench: --loss: not a percentage: $l" >&2; exit 2; }
  levels+=("$l")
done
((${#levels[@]})) || { usage >&2; exit 2; }
resolvers=()
for r in shoal kresd unbound; do  # in this order
  [[ ,$only, == *,$r,* ]] && resolvers+=("$r")
done
for r in ${only//,/ }; do
  [[ $r == shoal || $r == kresd || $r == unbound ]] || { echo "loss-bench: --only: unknown resolver $r" >&2; exit 2; }
done
((${#resolvers[@]})) || { usage >&2; exit 2; }
[[ -z $shoal_bin || $shoal_bin == /* ]] || shoal_bin=$caller_dir/$shoal_bin
bench_require_root

scripts/install-deps.sh >/dev/null
if [[ " ${resolvers[*]} " == *" shoal "* ]]; then
  if [[ -z $shoal_bin ]]; then
    bench_build_shoal
    shoal_bin=build-bench/bin/shoal
  fi
  [[ -x $shoal_bin ]] || { echo "loss-bench: no shoal binary at $shoal_bin" >&2; exit 2; }
fi

bench_start_lab /tmp/shoal-loss-bench.XXXXXX
# Faults set by someone else would add to ours, and ours are removed on
# exit: refuse to run on a lab with any.
if "$labctl" status 2>&1 | grep -qE '^ +(drop|delay) '; then
  echo "loss-bench: the lab has faults set (labctl status); remove them first" >&2
  exit 1
fi
# The drop rules this run has set, removed on every exit (before lib.sh's
# cleanup, which may stop the lab); an interrupt exits through the trap too.
dropped=()
set_drops() {  # percent
  local addr
  (($1 == 0)) || read -ra dropped <<<"$LAB_ALL_ADDRS"
  for addr in $LAB_ALL_ADDRS; do
    "$labctl" drop "$addr" "$1" >/dev/null
  done
  (($1)) || dropped=()
}
loss_cleanup() {
  local addr
  for addr in "${dropped[@]}"; do "$labctl" drop "$addr" 0 >/dev/null 2>&1 || true; done
  dropped=()
  bench_cleanup
}
trap loss_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

"$labctl" env --json >"$work/lab-env.json"
mkdir -p "$work/results" "$work/bin" "$work/kresd"
shoal_desc="not run"
if [[ -n $shoal_bin ]]; then
  shoal_desc="$shoal_bin, built $(date -u -r "$shoal_bin" '+%Y-%m-%d %H:%M UTC')"
  if [[ $shoal_bin == build-bench/bin/shoal ]]; then
    shoal_desc+=" from this tree, HEAD $(git rev-parse --short HEAD)"
    git diff --quiet HEAD -- . ':(exclude)bench' ':(exclude)docs' ':(exclude)scripts' ||
      shoal_desc+=" + uncommitted changes"
  fi
  # A copy, so that a rebuild during the run changes nothing.
  cp "$shoal_bin" "$work/bin/shoal"
  shoal_bin=$work/bin/shoal
fi

# Configs: each resolver on its own port, logs in the scratch directory.
declare -A port=([shoal]=5331 [kresd]=5332 [unbound]=5333)
write_shoal_conf "$work/shoal.toml" "${port[shoal]}" /shoal-loss-bench "$work/control.sock"
printf '[local_root]\nenabled = false\n' >>"$work/shoal.toml"
shm_names+=(shoal-loss-bench)
[[ -z $shoal_bin ]] || "$shoal_bin" --check-config "$work/shoal.toml" >/dev/null
write_unbound_conf "$work/unbound.conf" "${port[unbound]}"
unbound-checkconf "$work/unbound.conf" >/dev/null
# Knot Resolver 5.6: not Debian's config (which loads the IANA root key and
# the system's root hints). The lab's DS anchor read-only (no RFC 5011
# updates of the file), the lab's root hints through the hints module.
cat >"$work/kresd.conf" <<LUA
-- Knot Resolver 5.6 for bench/loss-bench.sh
log_target('stderr')
net.ipv6 = false
net.listen('127.0.0.1', ${port[kresd]}, { kind = 'dns' })
modules = { 'hints > iterate' }
hints.root_file('$LAB_ROOT_HINTS')
trust_anchors.add_file('$LAB_TRUST_ANCHOR', true)
modules.unload('ta_signal_query')
cache.open(256 * MB, 'lmdb://$work/kresd/cache')
LUA

# Starts a resolver with an empty cache: name log.
start_resolver() {
  local log=$2
  case $1 in
    shoal)
      start_shoal "$shoal_bin" "$work/shoal.toml" "$log" "${port[shoal]}" 2
      ;;
    kresd)
      # Two processes on one port and one cache; both must have bound
      # their socket before the run.
      rm -rf "$work/kresd/cache"
      local i
      pids=()
      for i in 1 2; do
        kresd -n -c "$work/kresd.conf" "$work/kresd" >>"$log" 2>&1 &
        pids+=($!)
      done
      wait_ready "${port[kresd]}" "${pids[@]}"
      for _ in $(seq 300); do
        (($(ss -Hulpn "sport = :${port[kresd]}" | grep -c kresd) >= 2)) && return 0
        sleep 0.1
      done
      echo "$bench_name: the two kresd processes did not both bind port ${port[kresd]}" >&2
      exit 1
      ;;
    unbound)
      start_unbound "$work/unbound.conf" "$log" "${port[unbound]}"
      ;;
  esac
}
# One resolver at one loss level: name loss round names-file.
run_one() {
  local r=$1 out=$work/results/$1.$2.$3 t0
  "$labctl" counters --reset >/dev/null
  t0=$(date +%s.%N)
  start_resolver "$r" "$work/$r.$2.$3.log"
  printf '%3s%% loss  %-8s round %s: ' "$2" "$r" "$3"
  python3 bench/loss_bench.py run --port "${port[$r]}" --names "$4" --out "$out.jsonl" \
    --inflight "$inflight" --wait "$wait_s"
  "$labctl" counters --reset --json >"$out.counters.json"
  awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f\n", b - a }' >"$out.seconds"
  stop_resolvers
}

total=$(wc -l <"$LAB_QUERIES")
((names <= total)) || { echo "loss-bench: --names: the lab has $total names" >&2; exit 2; }
started=$(date +%s)
echo "loss-bench: $(IFS=,; echo "${resolvers[*]}"), 2 workers/processes/threads each, $(nproc) cores;" \
  "$names names, $inflight in flight, wait ${wait_s} s; shoal: $shoal_desc"
run=0
for ((round = 1; round <= rounds; round++)); do
  for l in "${levels[@]}"; do
    # Another slice of the bulk names in each run, the same for every
    # resolver of the run.
    awk -v s=$((run * names % total)) -v n="$names" 'NR > s && NR <= s + n' \
      "$LAB_QUERIES" "$LAB_QUERIES" >"$work/names.$l.$round.txt"
    set_drops "$l"
    for ((i = 0; i < ${#resolvers[@]}; i++)); do
      r=${resolvers[(i + run) % ${#resolvers[@]}]}
      run_one "$r" "$l" "$round" "$work/names.$l.$round.txt"
    done
    set_drops 0
    run=$((run + 1))
  done
done
echo "loss-bench: took $(($(date +%s) - started)) s"

python3 bench/loss_bench.py report --results "$work/results" \
  --resolvers "$(IFS=,; echo "${resolvers[*]}")" --loss "$(IFS=,; echo "${levels[*]}")" \
  --lab-env "$work/lab-env.json" --names "$names" --rounds "$rounds" --wait "$wait_s"

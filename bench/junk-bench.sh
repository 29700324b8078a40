#!/usr/bin/env bash
# Junk benchmark (issue 10, "junk answered from the cache"): how many
# upstream queries a validating resolver sends for names that do not exist,
# shoal against Unbound and PowerDNS Recursor, same lab, same run.
#
# Each resolver in turn (one at a time, so that the lab's counters count its
# queries only) is started fresh (empty cache) on its own loopback port
# (shoal 5311, Unbound 5312, PowerDNS Recursor 5313), validating with the
# lab's trust anchor and root hints, QNAME minimisation on, IPv4 upstream,
# 2 workers/threads, with its RFC 8198 aggressive use of NSEC/NSEC3 on
# (Unbound 1.17: aggressive-nsec: yes, its default, which uses NSEC only;
# PowerDNS Recursor 4.8: aggressive-nsec-cache-size, on by default, NSEC and
# NSEC3), and dnsperf sends it, one stage after the other:
#   warm:   N cold ordinary names (the first N of the lab's bulk names), so
#           that the root, TLD and bulk zones' keys are cached;
#   tld:    half of the junk mix: names under TLDs the lab's root does not
#           have (file names like untitled.pdf, wpad.lan, router.home,
#           isatap.localdomain, _ldap._tcp.dc._msdcs.corp, bare host names,
#           random single labels like Chromium's probes);
#   nsec:   a quarter: random and typical host labels under NSEC-signed
#           zones (most under example.com, bulk00.com, bulk04.de);
#   nsec3:  a quarter: the same under NSEC3-signed zones, none opt-out
#           (most under example.net and bulk01.net).
# bench/junk_mix.py generates the mix from a seed against the lab's zone
# files (and checks every zone it uses: signed as the part says, a secure
# delegation from the root, no generated name exists); every answer should
# be NXDOMAIN. The lab's packet counters are reset before each stage and
# read after it, so each figure counts only that stage; TCP counts each
# segment. After each junk part, bench/answer_flags.py asks a sample of
# that part's names again with DO: the fraction with AD.
#
# All of this R times (rounds, default 3), each resolver started cold in
# each round: queries in flight make the counts vary a little between runs
# (several names in one range not yet cached all go upstream), so the
# figures are medians.
#
# Output: per resolver and stage the upstream packets (median, each round,
# and by lab server role), rcodes, lost queries, the AD sample and the time
# taken; then markdown tables for docs/benchmarks.md (upstream queries per
# 1000 client queries per part and overall, with two floors computed from
# the zone files: one query per distinct NXDOMAIN cut, and one per
# NSEC/NSEC3 range an ideal aggressive cache needs; rcodes and AD), and the
# target line of issue 10: shoal at most 30 per 1000 overall and below every
# peer in every part.
#
# Needs root (the lab). Exits 77 when not root.
set -euo pipefail
caller_dir=$PWD
cd "$(dirname "$0")/.."
bench_name=junk-bench
source bench/lib.sh

usage() {
  cat <<'EOF'
Usage: bench/junk-bench.sh [options]     (needs root: the lab)

Upstream queries per 1000 client queries for junk names (non-existent TLDs,
random labels under NSEC and NSEC3 zones): shoal, Unbound and PowerDNS
Recursor, each with a cold cache, all in the same run.

Options:
  --shoal-bin PATH   the shoal binary (default: build-bench/bin/shoal, built
                     from this tree when older than the sources)
  --names N          junk names (default 10000: half non-existent TLDs, a
                     quarter each NSEC and NSEC3 zones)
  --warm N           cold ordinary names asked first (default 1000)
  --seed S           seed of the junk mix and of its order (default 53)
  --sample K         names per part asked again with DO for the AD fraction
                     (default 200)
  --inflight Q       queries in flight (dnsperf -q, default 20)
  --rounds R         rounds, each with every resolver started cold; figures
                     are medians (default 3)
  --only LIST        run only these resolvers: shoal, unbound, pdns, comma
                     separated (default: all three)
  --keep             keep the scratch directory (configs, logs, the mix,
                     raw results) and print its path
  -h, --help         this text
EOF
}

shoal_bin=
names=10000
warm=1000
seed=53
sample=200
inflight=20
rounds=3
only=shoal,unbound,pdns
while (($#)); do
  case $1 in
    --shoal-bin) shoal_bin=$2; shift 2 ;;
    --names) names=$2; shift 2 ;;
    --warm) warm=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    --sample) sample=$2; shift 2 ;;
    --inflight) inflight=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    --keep) keep_work=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
done
for n in "$names" "$warm" "$seed" "$sample" "$inflight" "$rounds"; do
  [[ $n =~ ^[0-9]+$ ]] || { echo "junk-bench: not a number: $n" >&2; exit 2; }
done
((names >= 4 && warm >= 1 && inflight >= 1 && rounds >= 1)) || { usage >&2; exit 2; }
resolvers=()
for r in shoal unbound pdns; do  # always in this order
  [[ ,$only, == *,$r,* ]] && resolvers+=("$r")
done
for r in ${only//,/ }; do
  [[ $r == shoal || $r == unbound || $r == pdns ]] || { echo "junk-bench: --only: unknown resolver $r" >&2; exit 2; }
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
  [[ -x $shoal_bin ]] || { echo "junk-bench: no shoal binary at $shoal_bin" >&2; exit 2; }
fi

bench_start_lab /tmp/shoal-junk-bench.XXXXXX
"$labctl" env --json >"$work/lab-env.json"
head -n "$warm" "$LAB_QUERIES" >"$work/warm.txt"
python3 bench/junk_mix.py generate --lab-dir "$LAB_DIR" --out "$work/mix" \
  --names "$names" --seed "$seed" --sample "$sample"
mkdir -p "$work/results"

# Configs: each resolver on its own port, logs in the scratch directory.
# shoal and Unbound as in resolver-bench.sh (Unbound: plus aggressive-nsec,
# its default anyway, and the reason for any validation failure in its log).
write_shoal_conf "$work/shoal.toml" 5311 /shoal-junk-bench "$work/control.sock"
shm_names+=(shoal-junk-bench)
write_unbound_conf "$work/unbound.conf" 5312 "aggressive-nsec: yes" "val-log-level: 2"
mkdir -p "$work/pdns"
# PowerDNS Recursor 4.8 (Debian): not its Debian config (which loads the
# IANA root keys and the system root hints). dont-query is emptied because
# its default refuses the lab's 10.0.0.0/8 servers; security-poll-suffix is
# emptied so that it does not ask the lab about its own version.
cat >"$work/pdns/recursor.conf" <<CONF
local-address=127.0.0.1
local-port=5313
allow-from=127.0.0.0/8
threads=2
hint-file=$LAB_ROOT_HINTS
lua-config-file=$work/pdns/recursor.lua
dnssec=validate
dnssec-log-bogus=yes
aggressive-nsec-cache-size=100000
qname-minimization=yes
query-local-address=0.0.0.0
dont-query=
security-poll-suffix=
socket-dir=$work/pdns
daemon=no
disable-syslog=yes
loglevel=4
CONF
{
  echo 'clearTA()'
  awk '{ for (i = 1; i < NF; i++) if ($i == "DS") { printf "addTA(\".\", \""; for (j = i + 1; j <= NF; j++) printf "%s%s", $j, (j < NF ? " " : ""); print "\")"; break } }' \
    "$LAB_TRUST_ANCHOR"
} >"$work/pdns/recursor.lua"

declare -A port=([shoal]=5311 [unbound]=5312 [pdns]=5313)
start_resolver() {  # name
  case $1 in
    shoal) "$shoal_bin" --config "$work/shoal.toml" --cold 2>>"$work/shoal.log" & ;;
    unbound)
      start_unbound "$work/unbound.conf" "$work/unbound.stderr" "${port[unbound]}"
      return 0
      ;;
    pdns) /usr/sbin/pdns_recursor --config-dir="$work/pdns" >>"$work/pdns.log" 2>&1 & ;;
  esac
  pids=($!)
  wait_up "${port[$1]}" "$!"
  # shoal's local root (RFC 8806) transfers the lab root at start: wait
  # until it is in use (or has given up), so that the transfer's packets
  # fall into no stage and every stage sees the same shoal.
  if [[ $1 == shoal ]]; then
    for _ in $(seq 300); do
      grep -qE "local root: (serial .* in use|no usable copy)" "$work/shoal.log" && return 0
      sleep 0.1
    done
    echo "$bench_name: shoal's local root neither in use nor given up after 30 s" >&2
    exit 1
  fi
}
# One stage: name stage round queries-file [sample-file]. Counters are
# reset before (whatever came earlier, e.g. the previous AD sample, is
# dropped) and saved after dnsperf is done; then the sample with DO.
run_stage() {
  local r=$1 queries=$4 sample=${5:-} out=$work/results/$1.$2.$3 t0
  "$labctl" counters --reset >/dev/null
  t0=$(date +%s.%N)
  dnsperf -s 127.0.0.1 -p "${port[$r]}" -d "$queries" -n 1 -q "$inflight" -t 5 >"$out.dnsperf" 2>&1
  "$labctl" counters --reset --json >"$out.counters.json"
  awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f\n", b - a }' >"$out.seconds"
  [[ -z $sample ]] || python3 bench/answer_flags.py "${port[$r]}" "$sample" >"$out.flags"
}
for ((round = 1; round <= rounds; round++)); do
  for r in "${resolvers[@]}"; do
    start_resolver "$r"
    run_stage "$r" warm "$round" "$work/warm.txt"
    for part in tld nsec nsec3; do
      run_stage "$r" "$part" "$round" "$work/mix/$part.txt" "$work/mix/$part.sample.txt"
    done
    stop_resolvers
  done
done

echo "junk-bench: $(IFS=,; echo "${resolvers[*]}"), 2 workers/threads each, $(nproc) cores"
python3 bench/junk_mix.py report --results "$work/results" --mix "$work/mix" \
  --lab-env "$work/lab-env.json" --resolvers "$(IFS=,; echo "${resolvers[*]}")" \
  --warm "$warm" --inflight "$inflight" --rounds "$rounds"

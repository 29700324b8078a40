#!/usr/bin/env bash
# Cache hits over TCP, DNS over TLS and DNS over HTTPS (issue 13): queries
# per second and the resolver's CPU time per answer, shoal against Unbound,
# same run, same names, same client (dnsperf -m tcp, -m dot and -m doh, the
# last with POST and with GET: -O doh-method, -O doh-uri=
# https://shoal.test/dns-query; HTTP/2 over TLS, ALPN h2). For POST only,
# the helper sets TCP_NODELAY on dnsperf's sockets as it starts: dnsperf
# 2.10 sends a POST as two writes (HEADERS, then DATA) without it, and
# Nagle's algorithm then holds the DATA frame until the server's delayed ACK
# (up to 40 ms): 28 ms average latency and 7,000 answers/s for both
# resolvers, cores idle (tcp_qps_bench.py set_nodelay). GET, TCP and DoT
# run dnsperf as it is.
#
# Both resolve from the lab as in the other benchmarks (lib.sh
# write_shoal_conf / write_unbound_conf: 2 workers or threads, 256 MiB of
# cache, validating with the lab's trust anchor, QNAME minimisation, IPv4
# upstream), each on its own loopback ports with a plain DNS listener (UDP
# and TCP), a DNS over TLS listener and a DNS over HTTPS listener, the last
# two with the same self-signed P-256 certificate for "shoal.test" made
# here by openssl:
#   shoal:    listen 127.0.0.1:5361, tls_listen 127.0.0.1:5362,
#             https_listen 127.0.0.1:5365, tls_certificate, tls_key; its
#             TCP limits as shipped (tcp_max_clients 4096,
#             tcp_max_per_client 256; a DoH connection takes 100
#             concurrent streams, SETTINGS_MAX_CONCURRENT_STREAMS);
#   Unbound:  interface 127.0.0.1@5363, 127.0.0.1@5364 and 127.0.0.1@5366,
#             tls-port 5364, https-port 5366 (Debian's Unbound 1.17 is built
#             --with-libnghttp2: checked below), http-endpoint /dns-query,
#             http-notls-downstream no (http-max-streams as shipped, 100),
#             tls-service-pem, tls-service-key; incoming-num-tcp 100 (per
#             thread; the default, 10, can hold fewer than the C connections
#             when the kernel spreads them unevenly over the two threads'
#             sockets, and Unbound shortens its idle timeout above half).
#
# Cache hits only: the first N of the lab's bulk names (LAB_QUERIES, `name
# A`, 40 zones, 3 in 5 signed) are asked of each resolver once over UDP
# (the warm-up: resolved from the lab), then checked once more over UDP
# before every round: all must be NOERROR with no packet reaching the lab.
#
# Then, R rounds (default 3), each resolver is loaded over TCP, DoT, DoH
# POST and DoH GET (--transports chooses among them) for S seconds
# (default 20) each: dnsperf, C clients (default 20: C connections), Q
# queries in flight (default 200; over DoH, HTTP/2 streams), the same query
# file, never two loads at once (the order of the resolvers alternates from
# one round to the next). For each load (bench/tcp_qps_bench.py load):
# answers per second, rcodes, queries lost, dnsperf's average latency; the
# resolver's CPU time during the load (utime + stime from /proc/PID/stat of
# the resolver and its children: shoal's supervisor, workers and local-root
# process; Unbound's one process with its threads), divided by the answers:
# CPU per answer; the lab's packet counters (must stay 0: every answer
# from the cache); for shoal its stats (cache misses, connections accepted,
# TLS handshakes, DoH queries and requests answered with an HTTP error).
# dnsperf runs on the same cores and its CPU time is reported too (and what
# else kept the cores busy): queries per second is bounded by it as well;
# CPU per answer is the resolver's own.
#
# Output: a line per load, then a markdown table for docs/benchmarks.md
# (medians of the rounds), what looks wrong (if anything) and one JSON line
# (also written to --json FILE).
#
# Needs root (the lab). Exits 77 when not root.
set -euo pipefail
caller_dir=$PWD
cd "$(dirname "$0")/.."
bench_name=tcp-qps-bench
source bench/lib.sh

usage() {
  cat <<'EOF'
Usage: bench/tcp-qps-bench.sh [options]     (needs root: the lab)

Cache-hit queries per second and CPU per answer over TCP, DNS over TLS and
DNS over HTTPS (POST and GET), shoal against Unbound, in the same run
(dnsperf -m tcp / -m dot / -m doh).

Options:
  --shoal-bin PATH   the shoal binary (default: build-bench/bin/shoal, built
                     from this tree when older than the sources); shoalctl
                     is taken from the same directory
  --seconds S        seconds of each load (default 20)
  --clients C        dnsperf clients, i.e. connections (default 20)
  --in-flight Q      queries in flight, all connections together (default 200)
  --names N          the first N of the lab's 4000 bulk names (default 1000)
  --rounds R         rounds, each loading both resolvers over every
                     transport (default 3)
  --transports LIST  the transports to load, comma-separated, among tcp,
                     dot, doh-post, doh-get (default: all four)
  --json FILE        write the JSON line of the results to FILE as well
  --keep             keep the scratch directory (configs, logs, per-load
                     results) and print its path
  -h, --help         this text
EOF
}

shoal_bin=
seconds=20
clients=20
inflight=200
names=1000
rounds=3
transports=tcp,dot,doh-post,doh-get
json_out=
while (($#)); do
  case $1 in
    --shoal-bin) shoal_bin=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --clients) clients=$2; shift 2 ;;
    --in-flight | --inflight) inflight=$2; shift 2 ;;
    --names) names=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --transports) transports=$2; shift 2 ;;
    --json) json_out=$2; shift 2 ;;
    --keep) keep_work=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
done
for n in "$seconds" "$clients" "$inflight" "$names" "$rounds"; do
  [[ $n =~ ^[0-9]+$ ]] || { echo "$bench_name: not a number: $n" >&2; exit 2; }
done
((seconds >= 1 && clients >= 1 && clients <= 200 && inflight >= clients && names >= 1 && names <= 4000 &&
  rounds >= 1)) || { usage >&2; exit 2; }
IFS=, read -ra modes <<<"$transports"
for mode in "${modes[@]}"; do
  [[ $mode =~ ^(tcp|dot|doh-post|doh-get)$ ]] || { echo "$bench_name: not a transport: $mode" >&2; exit 2; }
done
((${#modes[@]})) || { usage >&2; exit 2; }
[[ -z $json_out || $json_out == /* ]] || json_out=$caller_dir/$json_out
bench_require_root

scripts/install-deps.sh >/dev/null
bench_shoal_binaries
command -v openssl >/dev/null || { echo "$bench_name: the openssl command is not installed" >&2; exit 2; }
[[ $(dnsperf -h 2>&1) == *'udp, tcp, dot or doh'* ]] ||
  { echo "$bench_name: this dnsperf has no -m dot and -m doh" >&2; exit 2; }
[[ $(unbound -V) == *with-libnghttp2* ]] ||
  { echo "$bench_name: this Unbound is built without libnghttp2: it cannot serve DNS over HTTPS" >&2; exit 2; }
dnsperf_version=$(dnsperf -h 2>&1 | sed -n 's/^Version //p')
unbound_version=$(unbound -V | sed -n '1s/^Version //p')

bench_start_lab /tmp/shoal-tcp-qps.XXXXXX
trap 'exit 130' INT
trap 'exit 143' TERM
mkdir -p "$work/results" "$work/bin"
bench_copy_binaries
head -n "$names" "$LAB_QUERIES" >"$work/names.txt"

# The certificate of both: self-signed P-256 for shoal.test (as
# dot-forward-bench.sh); dnsperf does not verify it.
cert=$work/cert.pem
key=$work/key.pem
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
  -subj /CN=shoal.test -addext subjectAltName=DNS:shoal.test \
  -keyout "$key" -out "$cert" 2>/dev/null

declare -A port=([shoal]=5361 [unbound]=5363)
declare -A tls_port=([shoal]=5362 [unbound]=5364)
declare -A https_port=([shoal]=5365 [unbound]=5366)
write_shoal_conf "$work/shoal.toml" "${port[shoal]}" /shoal-tcp-qps "$work/shoal.sock"
tls_lines="tls_listen = [\"127.0.0.1:${tls_port[shoal]}\"]\nhttps_listen = [\"127.0.0.1:${https_port[shoal]}\"]"
tls_lines+="\ntls_certificate = \"$cert\"\ntls_key = \"$key\""
sed -i "s|^\[server\]\$|[server]\n$tls_lines|" "$work/shoal.toml"
shm_names+=(shoal-tcp-qps)
"$shoal_bin" --check-config "$work/shoal.toml" >/dev/null
write_unbound_conf "$work/unbound.conf" "${port[unbound]}" \
  "interface: 127.0.0.1@${tls_port[unbound]}" "tls-port: ${tls_port[unbound]}" \
  "interface: 127.0.0.1@${https_port[unbound]}" "https-port: ${https_port[unbound]}" \
  "http-endpoint: /dns-query" "http-notls-downstream: no" \
  "tls-service-pem: \"$cert\"" "tls-service-key: \"$key\"" "incoming-num-tcp: 100"
unbound-checkconf "$work/unbound.conf" >/dev/null

start_shoal "$shoal_bin" "$work/shoal.toml" "$work/shoal.log" "${port[shoal]}" 2
start_unbound "$work/unbound.conf" "$work/unbound.stderr" "${port[unbound]}"
declare -A pid=([shoal]=$shoal_pid [unbound]=$unbound_pid)

# One dnsperf run: resolver mode out [extra options of the load].
load() {
  local r=$1 mode=$2 out=$3 p=${port[$1]}
  shift 3
  [[ $mode != dot ]] || p=${tls_port[$r]}
  [[ $mode != doh-* ]] || p=${https_port[$r]}
  local extra=()
  [[ $r != shoal ]] || extra=(--shoalctl "$shoalctl_bin" --shoal-config "$work/shoal.toml")
  python3 bench/tcp_qps_bench.py load --mode "$mode" --port "$p" --names "$work/names.txt" \
    --tree "${pid[$r]}" --out "$out" --clients "$clients" --in-flight "$inflight" \
    --labctl "$labctl" "${extra[@]}" "$@"
}
# Whether a load's result (bench/tcp_qps_bench.py load --out) has every
# name answered NOERROR, none lost [and no packet to the lab]: file [lab].
all_noerror() {
  python3 - "$1" "$names" "${2:-}" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
ok = r["rcodes"] == {"NOERROR": int(sys.argv[2])} and r["lost"] == 0
sys.exit(0 if ok and (sys.argv[3] != "lab" or r["lab_packets"] == 0) else 1)
PY
}
# The warm-up of one resolver: every name resolved from the lab over UDP,
# once, 20 in flight; again (at most twice more) if one was lost or not
# NOERROR.
warm_up() {
  local try
  for try in 1 2 3; do
    printf '%-8s %-19s' "$1" "warm-up $try:"
    load "$1" udp "$work/results/$1.warm.$try.json" --once --clients 4 --in-flight 20
    all_noerror "$work/results/$1.warm.$try.json" && return 0
  done
  echo "$bench_name: $1: the warm-up did not get NOERROR for every name" >&2
  exit 1
}
# The check that every name is a cache hit: resolver round. Over UDP, each
# name once: all NOERROR, nothing lost, no packet to the lab.
check_cached() {
  local out=$work/results/$1.check.$2.json
  printf '%-8s %-19s' "$1" "check, round $2:"
  load "$1" udp "$out" --once --clients 4 --in-flight 20
  all_noerror "$out" lab || { echo "$bench_name: $1: the names are not all cache hits" >&2; exit 1; }
}

echo "$bench_name: shoal and Unbound, 2 workers/threads each, $(nproc) cores shared with dnsperf;" \
  "$names names, $clients connections, $inflight in flight, ${seconds} s a load, $rounds round(s)" \
  "over ${modes[*]};" \
  "shoal: $("$shoal_bin" --version 2>&1 | head -n 1) (binary built $shoal_built; tree $head_rev);" \
  "Unbound $unbound_version; dnsperf $dnsperf_version"
started=$(date +%s)
for r in shoal unbound; do warm_up "$r"; done
for ((round = 1; round <= rounds; round++)); do
  order=(shoal unbound)
  ((round % 2)) || order=(unbound shoal)
  for r in "${order[@]}"; do check_cached "$r" "$round"; done
  for mode in "${modes[@]}"; do
    for r in "${order[@]}"; do
      printf '%-8s %-19s' "$r" "$mode, round $round:"
      load "$r" "$mode" "$work/results/$r.$mode.$round.json" --seconds "$seconds"
    done
  done
done
echo "$bench_name: took $(($(date +%s) - started)) s"
echo

python3 bench/tcp_qps_bench.py report --results "$work/results" --rounds "$rounds" --seconds "$seconds" \
  --clients "$clients" --in-flight "$inflight" --names "$names" --modes "$transports" \
  --meta "commit=$head_rev" --meta "shoal_built=$shoal_built" \
  --meta "unbound=$unbound_version" --meta "cores=$(nproc)" \
  --meta "dnsperf=$dnsperf_version" \
  ${json_out:+--json "$json_out"}

#!/usr/bin/env bash
# DNS over TLS forwarding benchmark (issue 12, forward zones over TLS): shoal
# and Unbound as forwarders of everything (".") to one upstream resolver
# over DNS over TLS (RFC 7858), the same names, one after the other, in the
# same run: answers, time, latency, and how many TLS handshakes each costs
# the upstream.
#
# The upstream: a shoal resolving from the lab (2 workers, 256 MiB cache,
# validating with the lab's trust anchor, local root off) that also serves
# DNS over TLS (tls_listen on 127.0.0.1:5344, plain DNS on 5341) with a
# self-signed P-256 certificate for "shoal.test" made here by openssl. It
# runs for the whole benchmark; before each round every benchmark name is
# asked of it over plain DNS (the warm-up; in round 1 it resolves them from
# the lab) and then once more (the check: all must be NOERROR from its
# cache), so that the forwarders' runs measure the forwarders and the TLS
# between them, not the lab. Its cache misses during each forwarder's run
# are reported: anything but 0 means something asked was not warm.
#
# The forwarders, each started fresh with an empty cache, 2 workers or
# threads, on its own port:
#   shoal (5342):    `[[forward]] name = "." addresses = ["127.0.0.1:5344"]
#                    tls = true tls_name = "shoal.test" tls_ca = <the cert>`,
#                    --cold, local root off (it would answer the root's
#                    part itself);
#   Unbound (5343):  Unbound 1.17 (Debian), `forward-zone: name: "."
#                    forward-addr: 127.0.0.1@5344#shoal.test
#                    forward-tls-upstream: yes`, `tls-cert-bundle: <the
#                    cert>`, otherwise as in the other benchmarks
#                    (lib.sh write_unbound_conf: 256 MiB of caches, no
#                    prefetch).
# Validation: both validate (shoal: the forward zone's default; Unbound:
# "validator iterator"), with the lab's trust anchor, the keys and DS
# records asked of the upstream like the names (--validation off: neither
# does: shoal `validate = false`, Unbound "iterator" only).
#
# Each forwarder in turn (the order alternates from one round to the next)
# is started, then bench/dot_forward_bench.py run (bench/loss_bench.py's
# stub client) asks it N distinct A questions (the first N of the lab's
# bulk names, LAB_QUERIES: h000..h099.bulkNN.<tld>, 40 zones, 3 in 5
# signed), each once over UDP from a socket of its own, Q in flight, never
# retried, W seconds for each answer; then it is stopped. The upstream's
# `shoalctl --json stats` is read before the forwarder starts and when its
# client is done: the TLS handshakes it completed (tls.handshakes), failed,
# TCP connections accepted, queries received and cache misses in between
# are that forwarder's. For shoal, its own `upstream` counters too (tls,
# tls_connections, tls_resumed, tls_resent, timeouts).
#
# All of this R times (rounds, default 3), the forwarders cold in each.
# Output: per forwarder and round, then pooled: names answered NOERROR,
# SERVFAIL, other rcodes, without an answer; wall time and answers per
# second (medians of the rounds); latency p50/p90/p99 of the NOERROR
# answers (pooled, nearest rank); the handshakes; a markdown table for
# docs/benchmarks.md; what looks wrong (SERVFAILs, timeouts, shoal above
# workers x 4 handshakes in a round, cache misses at the upstream); and one
# JSON line (also written to --json FILE).
#
# Needs root (the lab). Exits 77 when not root.
set -euo pipefail
caller_dir=$PWD
cd "$(dirname "$0")/.."
bench_name=dot-forward-bench
source bench/lib.sh

usage() {
  cat <<'EOF'
Usage: bench/dot-forward-bench.sh [options]     (needs root: the lab)

shoal and Unbound forwarding everything over DNS over TLS to one upstream
(a shoal with a warm cache): answers, wall time, answers per second,
latency and the TLS handshakes each costs the upstream, in the same run.

Options:
  --shoal-bin PATH   the shoal binary (default: build-bench/bin/shoal, built
                     from this tree when older than the sources); shoalctl
                     is taken from the same directory
  --names N          distinct A questions per forwarder and round, the first
                     N of the lab's 4000 bulk names (default 2000)
  --in-flight Q      queries in flight (default 50)
  --wait S           seconds the client waits for each answer; it never
                     retries (default 5)
  --rounds R         rounds, each with both forwarders started cold
                     (default 3)
  --only LIST        run only these forwarders: shoal, unbound, comma
                     separated (default: both)
  --validation on|off  both forwarders validate (default) or neither
  --json FILE        write the JSON line of the results to FILE as well
  --keep             keep the scratch directory (configs, logs, per-name
                     results, stats) and print its path
  -h, --help         this text
EOF
}

shoal_bin=
names=2000
inflight=50
wait_s=5
rounds=3
only=shoal,unbound
validation=on
json_out=
while (($#)); do
  case $1 in
    --shoal-bin) shoal_bin=$2; shift 2 ;;
    --names) names=$2; shift 2 ;;
    --in-flight | --inflight) inflight=$2; shift 2 ;;
    --wait) wait_s=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    --validation) validation=$2; shift 2 ;;
    --json) json_out=$2; shift 2 ;;
    --keep) keep_work=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
done
for n in "$names" "$inflight" "$wait_s" "$rounds"; do
  [[ $n =~ ^[0-9]+$ ]] || { echo "$bench_name: not a number: $n" >&2; exit 2; }
done
((names >= 1 && names <= 4000 && inflight >= 1 && wait_s >= 1 && rounds >= 1)) || { usage >&2; exit 2; }
[[ $validation == on || $validation == off ]] || { usage >&2; exit 2; }
forwarders=()
for f in shoal unbound; do
  [[ ,$only, == *,$f,* ]] && forwarders+=("$f")
done
for f in ${only//,/ }; do
  [[ $f == shoal || $f == unbound ]] || { echo "$bench_name: --only: unknown forwarder $f" >&2; exit 2; }
done
((${#forwarders[@]})) || { usage >&2; exit 2; }
[[ -z $json_out || $json_out == /* ]] || json_out=$caller_dir/$json_out
bench_require_root

scripts/install-deps.sh >/dev/null
bench_shoal_binaries
command -v openssl >/dev/null || { echo "$bench_name: the openssl command is not installed" >&2; exit 2; }

bench_start_lab /tmp/shoal-dot-bench.XXXXXX
trap 'exit 130' INT
trap 'exit 143' TERM
mkdir -p "$work/results" "$work/bin"
bench_copy_binaries
total=$(wc -l <"$LAB_QUERIES")
((names <= total)) || { echo "$bench_name: --names: the lab has $total names" >&2; exit 2; }
head -n "$names" "$LAB_QUERIES" >"$work/names.txt"

# The upstream's certificate: self-signed P-256 for shoal.test (as
# tests/integration/tls_test.py make_cert, plus the name as a
# subjectAltName), its own CA for both forwarders.
cert=$work/cert.pem
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
  -subj /CN=shoal.test -addext subjectAltName=DNS:shoal.test \
  -keyout "$work/key.pem" -out "$cert" 2>/dev/null

declare -A port=([upstream]=5341 [shoal]=5342 [unbound]=5343)
tls_port=5344
# The upstream: as in the other benchmarks, plus DNS over TLS.
write_shoal_conf "$work/upstream.toml" "${port[upstream]}" /shoal-dot-bench-up "$work/upstream.sock"
sed -i "s|^\[server\]\$|[server]\ntls_listen = [\"127.0.0.1:$tls_port\"]\ntls_certificate = \"$cert\"\ntls_key = \"$work/key.pem\"|" \
  "$work/upstream.toml"
printf '[local_root]\nenabled = false\n' >>"$work/upstream.toml"
shm_names+=(shoal-dot-bench-up)
# Forwarder A: shoal, everything forwarded over TLS to the upstream.
write_shoal_conf "$work/shoal.toml" "${port[shoal]}" /shoal-dot-bench-fwd "$work/shoal.sock"
{
  printf '[local_root]\nenabled = false\n'
  printf '[[forward]]\nname = "."\naddresses = ["127.0.0.1:%s"]\ntls = true\n' "$tls_port"
  printf 'tls_name = "shoal.test"\ntls_ca = "%s"\n' "$cert"
  [[ $validation == on ]] || printf 'validate = false\n'
} >>"$work/shoal.toml"
shm_names+=(shoal-dot-bench-fwd)
for conf in upstream shoal; do
  "$shoal_bin" --check-config "$work/$conf.toml" >/dev/null
done
# Forwarder B: Unbound, as in the other benchmarks, forwarding everything
# over TLS (a forward-zone: section after lib.sh's remote-control:).
extra=("tls-cert-bundle: \"$cert\"")
[[ $validation == on ]] || extra+=('module-config: "iterator"')
write_unbound_conf "$work/unbound.conf" "${port[unbound]}" "${extra[@]}"
cat >>"$work/unbound.conf" <<CONF
forward-zone:
  name: "."
  forward-addr: 127.0.0.1@$tls_port#shoal.test
  forward-tls-upstream: yes
CONF
unbound-checkconf "$work/unbound.conf" >/dev/null
want_modules="validator iterator"
[[ $validation == on ]] || want_modules=iterator
[[ $(unbound-checkconf -o module-config "$work/unbound.conf") == "$want_modules" ]] ||
  { echo "$bench_name: unbound.conf: module-config is not \"$want_modules\"" >&2; exit 1; }

upstream_stats() {  # file
  "$shoalctl_bin" --config "$work/upstream.toml" --json stats >"$1"
}
# Stops one forwarder and forgets it (the upstream keeps running): pid.
stop_forwarder() {
  local p keep=()
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
  for p in "${pids[@]}"; do [[ $p == "$1" ]] || keep+=("$p"); done
  pids=("${keep[@]}")
}
# The stub client: port out-prefix.
ask() {
  python3 bench/dot_forward_bench.py run --port "$1" --names "$work/names.txt" --out "$2.jsonl" \
    --wall "$2.wall" --inflight "$inflight" --wait "$wait_s"
}
# One forwarder, cold: name round.
run_forwarder() {
  local f=$1 r=$2 out=$work/results/$1.$2 pid
  upstream_stats "$out.up-before.json"
  case $f in
    shoal)
      start_shoal "$shoal_bin" "$work/shoal.toml" "$work/shoal.$r.log" "${port[shoal]}" 2
      pid=$shoal_pid
      ;;
    unbound)
      start_unbound "$work/unbound.conf" "$work/unbound.$r.stderr" "${port[unbound]}"
      pid=$unbound_pid
      ;;
  esac
  printf '%-8s round %s: ' "$f" "$r"
  ask "${port[$f]}" "$out"
  upstream_stats "$out.up-after.json"
  [[ $f != shoal ]] || "$shoalctl_bin" --config "$work/shoal.toml" --json stats >"$out.fwd.json"
  stop_forwarder "$pid"
}

start_shoal "$shoal_bin" "$work/upstream.toml" "$work/upstream.log" "${port[upstream]}" 2
validation_desc="both validate (lab trust anchor)"
[[ $validation == on ]] || validation_desc="neither validates"
echo "$bench_name: $(IFS=,; echo "${forwarders[*]}") forwarding over TLS to a warm shoal upstream," \
  "2 workers/threads each, $(nproc) cores; $names names, $inflight in flight, wait ${wait_s} s," \
  "$rounds round(s); validation: $validation_desc; shoal: $("$shoal_bin" --version 2>&1 | head -n 1)" \
  "(binary built $shoal_built; tree $head_rev); Unbound $(unbound -V | head -n 1 | sed 's/^Version //')"
started=$(date +%s)
for ((round = 1; round <= rounds; round++)); do
  printf 'upstream warm-up round %s: ' "$round"
  ask "${port[upstream]}" "$work/results/warm.$round"
  printf 'upstream check   round %s: ' "$round"
  ask "${port[upstream]}" "$work/results/check.$round"
  for ((i = 0; i < ${#forwarders[@]}; i++)); do
    run_forwarder "${forwarders[(i + round - 1) % ${#forwarders[@]}]}" "$round"
  done
done
echo "$bench_name: took $(($(date +%s) - started)) s"

python3 bench/dot_forward_bench.py report --results "$work/results" \
  --forwarders "$(IFS=,; echo "${forwarders[*]}")" --rounds "$rounds" --names "$names" \
  --inflight "$inflight" --wait "$wait_s" --workers 2 --validation "$validation" \
  --meta "commit=$head_rev" --meta "shoal_built=$shoal_built" \
  --meta "unbound=$(unbound -V | head -n 1 | sed 's/^Version //')" --meta "cores=$(nproc)" \
  ${json_out:+--json "$json_out"}

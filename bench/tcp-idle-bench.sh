#!/usr/bin/env bash
# Idle client connections (issue 13): what N idle TCP connections, then N
# idle DNS-over-TLS connections, cost a resolver in user memory (the
# resolver's RSS) and kernel memory (TCP socket buffers and slabs, both
# ends of each connection), and how many new TCP connections it takes per
# second (connect, one query, answer, close):
# shoal against Unbound, same run, same client (bench/tcp_idle_bench.py).
#
# Both on loopback with 2 workers or threads, every client refused by the
# ACL (the answers are the hot path's REFUSED: this measures connections,
# not resolution), limits raised to hold N:
#   shoal:    tcp_max_clients and tcp_max_per_client N, tcp_idle_timeout 10m;
#   unbound:  incoming-num-tcp N + 100 per thread (Unbound cuts its idle
#             timeout when more than half its TCP slots are in use),
#             tcp-idle-timeout 600000.
# No lab, no root needed (the kernel's slab figures need root to be read;
# without them the kernel column is socket buffers only). The default N,
# 8000, is about what Unbound can hold here: it wants a descriptor for
# every TCP slot of every thread up front (20,000 per process at most).
#
#   bench/tcp-idle-bench.sh [--shoal-bin PATH] [--connections N] [--seconds S]
set -euo pipefail
cd "$(dirname "$0")/.."
bench_name="tcp-idle-bench"
source bench/lib.sh

shoal_bin=build-bench/bin/shoal
connections=8000
seconds=5
while (($#)); do
  case $1 in
    --shoal-bin) shoal_bin=$2; shift 2 ;;
    --connections) connections=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "$bench_name: unknown option $1" >&2; exit 2 ;;
  esac
done
[[ $shoal_bin == build-bench/bin/shoal ]] && bench_build_shoal

work=$(mktemp -d /tmp/shoal-tcp-idle.XXXXXX)
trap bench_cleanup EXIT
shoal_port=5351
unbound_port=5352
shoal_tls_port=5353
unbound_tls_port=5354
cache="/shoal-tcp-idle-$$"
shm_names+=("${cache#/}")

# A self-signed certificate for both (the clients do not check it).
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
  -subj /CN=shoal.test -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null

cat >"$work/shoal.toml" <<TOML
[server]
listen = ["127.0.0.1:$shoal_port"]
tls_listen = ["127.0.0.1:$shoal_tls_port"]
tls_certificate = "$work/cert.pem"
tls_key = "$work/key.pem"
workers = 2
tcp_idle_timeout = "10m"
tcp_max_clients = $connections
tcp_max_per_client = $connections
[cache]
name = "$cache"
size = "64M"
stripes = 64
[acl]
allow = ["192.0.2.255/32"]
[control]
socket = "$work/control.sock"
TOML

cat >"$work/unbound.conf" <<CONF
server:
  interface: 127.0.0.1@$unbound_port
  num-threads: 2
  so-reuseport: yes
  username: ""
  chroot: ""
  directory: "$work"
  pidfile: "$work/unbound.pid"
  use-syslog: no
  logfile: "$work/unbound.log"
  verbosity: 0
  access-control: 127.0.0.0/8 refuse
  incoming-num-tcp: $((connections + 100))
  outgoing-range: 64
  tcp-idle-timeout: 600000
  module-config: "iterator"
remote-control:
  control-enable: no
CONF

start_shoal_here() {
  "$shoal_bin" --config "$work/shoal.toml" --cold 2>"$work/shoal.log" &
  shoal_pid=$!
  pids+=("$shoal_pid")
  wait_log "$work/shoal.log" "worker [0-9]+ ready" 2 "$shoal_pid" "ready line of every worker"
  shoal_workers=$(pgrep -P "$shoal_pid" | tr '\n' ' ')
}

start_unbound_on() {  # config [port]
  local port=${2:-$unbound_port}
  unbound -d -c "$1" 2>>"$work/unbound.log" &
  unbound_pid=$!
  pids+=("$unbound_pid")
  for _ in $(seq 100); do
    python3 - "$port" <<'PY' && return 0
import socket, sys
s = socket.socket(); s.settimeout(0.2)
try:
    s.connect(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
PY
    kill -0 "$unbound_pid" 2>/dev/null || { cat "$work/unbound.log" >&2; exit 1; }
    sleep 0.1
  done
  echo "$bench_name: Unbound does not listen on $port" >&2
  exit 1
}

# Each measurement on a fresh process, so that one does not reuse what
# another left (shoal's slab keeps its records, allocators keep pages).
# shellcheck disable=SC2086  # the worker pids, one argument each
{
  start_shoal_here
  shoal_idle=$(python3 bench/tcp_idle_bench.py idle "$shoal_port" "$connections" $shoal_workers)
  shoal_accept=$(python3 bench/tcp_idle_bench.py accept "$shoal_port" "$seconds")
  stop_resolvers
  start_shoal_here
  shoal_tls=$(python3 bench/tcp_idle_bench.py idle "$shoal_tls_port" "$connections" --tls $shoal_workers)
  stop_resolvers
}
shoal_result="{\"resolver\": \"shoal\", \"idle\": $shoal_idle, \"idle_tls\": $shoal_tls, \"accept\": $shoal_accept}"

# What Unbound holds with 10 TCP slots a thread: it allocates every slot's
# buffers at start, so holding N connections costs it that memory whether
# or not they come (measured against this baseline).
sed 's/incoming-num-tcp: .*/incoming-num-tcp: 10/' "$work/unbound.conf" >"$work/unbound-small.conf"
start_unbound_on "$work/unbound-small.conf"
unbound_small_kib=$(awk '/^VmRSS:/ {print $2}' "/proc/$unbound_pid/status")
stop_resolvers
start_unbound_on "$work/unbound.conf"
unbound_idle=$(python3 bench/tcp_idle_bench.py idle "$unbound_port" "$connections" "$unbound_pid")
unbound_accept=$(python3 bench/tcp_idle_bench.py accept "$unbound_port" "$seconds")
stop_resolvers
# DNS over TLS on its own interface only (Unbound reserves its slots for
# every interface: both at once would need twice the descriptors).
sed -e "s|interface: 127.0.0.1@$unbound_port|interface: 127.0.0.1@$unbound_tls_port\\n  tls-port: $unbound_tls_port\\n  tls-service-key: \"$work/key.pem\"\\n  tls-service-pem: \"$work/cert.pem\"|" \
  "$work/unbound.conf" >"$work/unbound-tls.conf"
start_unbound_on "$work/unbound-tls.conf" "$unbound_tls_port"
unbound_tls=$(python3 bench/tcp_idle_bench.py idle "$unbound_tls_port" "$connections" --tls "$unbound_pid")
stop_resolvers
unbound_result="{\"resolver\": \"unbound\", \"idle\": $unbound_idle, \"idle_tls\": $unbound_tls, \"accept\": $unbound_accept}"

python3 - "$shoal_result" "$unbound_result" "$connections" "$unbound_small_kib" <<'PY'
import json, sys
shoal, unbound, n = json.loads(sys.argv[1]), json.loads(sys.argv[2]), int(sys.argv[3])
unbound_small_kib = int(sys.argv[4])
# What holding N connections costs: the RSS with them held, less what the
# resolver needs without them (shoal: before they came; Unbound: with 10
# TCP slots a thread, since it reserves its slots at start).
shoal["idle"]["reserved_and_held_bytes_per_connection"] = round(
    (shoal["idle"]["rss_held_kib"] - shoal["idle"]["rss_before_kib"]) * 1024 / n)
unbound["idle"]["rss_small_kib"] = unbound_small_kib
unbound["idle"]["reserved_and_held_bytes_per_connection"] = round(
    (unbound["idle"]["rss_held_kib"] - unbound_small_kib) * 1024 / n)
print(f"| {n} idle TCP connections, 2 workers/threads | shoal | Unbound |")
print("|---|---|---|")
for label, key in (("user memory per held connection (RSS growth while they come)", "user_bytes_per_connection"),
                   ("user memory per connection, slots reserved at start included", "reserved_and_held_bytes_per_connection"),
                   ("kernel memory per connection (both ends)", "kernel_bytes_per_connection_both_ends")):
    print(f"| {label} | {shoal['idle'][key]} B | {unbound['idle'][key]} B |")
shoal["idle_tls"]["reserved_and_held_bytes_per_connection"] = round(
    (shoal["idle_tls"]["rss_held_kib"] - shoal["idle_tls"]["rss_before_kib"]) * 1024 / n)
unbound["idle_tls"]["reserved_and_held_bytes_per_connection"] = round(
    (unbound["idle_tls"]["rss_held_kib"] - unbound_small_kib) * 1024 / n)
for label, key in (("DNS over TLS: user memory per held connection", "user_bytes_per_connection"),
                   ("DNS over TLS: user memory per connection, slots reserved at start included", "reserved_and_held_bytes_per_connection"),
                   ("DNS over TLS: kernel memory per connection (both ends)", "kernel_bytes_per_connection_both_ends")):
    print(f"| {label} | {shoal['idle_tls'][key]} B | {unbound['idle_tls'][key]} B |")
print(f"| new connections per second (connect, 1 query, close; 4 clients) | "
      f"{shoal['accept']['connections_per_second']} | {unbound['accept']['connections_per_second']} |")
print(json.dumps({"bench": "tcp-idle", "shoal": shoal, "unbound": unbound}))
PY

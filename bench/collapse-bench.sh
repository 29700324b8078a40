#!/usr/bin/env bash
# Collapsed connections (issue 13, server.tcp_collapse): what one collapsed
# connection costs in kernel and user memory (target: 256 octets in all),
# and how long reviving it takes (target: under 1 ms), measured against
# the same connections kept open (bench/collapse_bench.py).
#
# shoal runs in a network namespace of this script's own (collapse
# installs nftables rules there, not on the host), reached over a veth
# pair; 2 workers, every client refused by the ACL (the answers are the hot
# path's REFUSED: this measures connections, not resolution), a 1 s idle
# timeout so that the connections collapse soon, limits raised to hold N.
# No peer: no other resolver collapses connections (tcp-idle-bench.sh
# compares idle connections with Unbound).
#
# Needs root (namespace, nftables, /proc/slabinfo). Exits 77 otherwise.
#
#   bench/collapse-bench.sh [--shoal-bin PATH] [--connections N]
set -euo pipefail
cd "$(dirname "$0")/.."
bench_name="collapse-bench"
source bench/lib.sh

shoal_bin=build-bench/bin/shoal
connections=16000
while (($#)); do
  case $1 in
    --shoal-bin) shoal_bin=$2; shift 2 ;;
    --connections) connections=$2; shift 2 ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "$bench_name: unknown option $1" >&2; exit 2 ;;
  esac
done
if [[ $(id -u) -ne 0 ]]; then
  echo "$bench_name: needs root (namespace, nftables, /proc/slabinfo)" >&2
  exit 77
fi
[[ $shoal_bin == build-bench/bin/shoal ]] && bench_build_shoal
shoalctl_bin=$(dirname "$shoal_bin")/shoalctl

work=$(mktemp -d /tmp/shoal-collapse.XXXXXX)
netns="shoal-collapse-bench-$$"
veth="vcb$$"
cleanup() {
  bench_cleanup
  ip link del "$veth" 2>/dev/null || true
  ip netns del "$netns" 2>/dev/null || true
}
trap cleanup EXIT
cache="/shoal-collapse-$$"
shm_names+=("${cache#/}")

ip netns add "$netns"
ip link add "$veth" type veth peer name "vnb$$" netns "$netns"
ip addr add 10.78.0.1/24 dev "$veth"
# the clients' source addresses (bench/collapse_bench.py)
for a in 11 12 13 14 21 22 23 24; do ip addr add "10.78.0.$a/24" dev "$veth"; done
ip link set "$veth" up
ip netns exec "$netns" ip link set lo up
ip netns exec "$netns" ip addr add 10.78.0.2/24 dev "vnb$$"
ip netns exec "$netns" ip link set "vnb$$" up

cat >"$work/shoal.toml" <<TOML
[server]
listen = ["10.78.0.2:53"]
workers = 2
tcp_idle_timeout = "1s"
tcp_max_clients = $connections
tcp_max_per_client = $connections
tcp_collapse = true
tcp_collapsed_max = $connections
[cache]
name = "$cache"
size = "64M"
stripes = 64
[acl]
allow = ["192.0.2.255/32"]
[control]
socket = "$work/control.sock"
[local_root]
enabled = false
TOML

ip netns exec "$netns" "$shoal_bin" --config "$work/shoal.toml" --cold 2>"$work/shoal.log" &
shoal_pid=$!
pids+=("$shoal_pid")
wait_log "$work/shoal.log" "worker [0-9]+: tcp_collapse on" 2 "$shoal_pid" "collapse on in every worker"
shoal_workers=$(pgrep -P "$shoal_pid" | tr '\n' ' ')

# shellcheck disable=SC2086  # the worker pids, one argument each
result=$(python3 bench/collapse_bench.py run 10.78.0.2 53 "$connections" "$work/shoal.toml" \
  "$shoalctl_bin" "$netns" $shoal_workers) || { cat "$work/shoal.log" >&2; exit 1; }
kill -TERM "$shoal_pid"
wait "$shoal_pid" || true
if ip netns exec "$netns" nft list tables | grep -q shoal; then
  echo "$bench_name: shoal left its nftables tables behind" >&2
  exit 1
fi

python3 - "$result" <<'PY'
import json, sys
r = json.loads(sys.argv[1])
n = r["connections"]
total = r["kernel_bytes_per_collapsed"] + r["user_bytes_per_collapsed"]
print(f"| {n} idle TCP connections, 2 workers | collapsed |")
print("|---|---|")
print(f"| shoal's sockets in the kernel (open: {r['server_sockets_live']}) | {r['server_sockets_collapsed']} |")
print(f"| kernel memory freed per connection by collapsing it (the server end's socket) | {r['server_end_bytes_per_live_freed_by_collapse']} B |")
print(f"| kernel memory per collapsed connection: its divert set element (measured, kmalloc slabs) + its share of the set's hash table (computed) | {r['kernel_element_bytes_per_collapsed']} + {r['kernel_table_bytes_per_collapsed']} = {r['kernel_bytes_per_collapsed']} B |")
print(f"| user memory per collapsed connection (RSS growth, slab warmed) | {r['user_bytes_per_collapsed']} B |")
print(f"| in all per collapsed connection (target 256 B) | {total} B |")
print(f"| a query's answer on a live connection, p50 / p99 ({r['samples']} connections) | {r['query_on_live_ms_p50']} / {r['query_on_live_ms_p99']} ms |")
print(f"| a query's answer on a collapsed connection (revived on the way), p50 / p99 | {r['query_on_collapsed_ms_p50']} / {r['query_on_collapsed_ms_p99']} ms |")
print(f"| revival inside shoal (mean, queued segment to verdict) | {r['shoal_revive_us_mean']} us |")
ok = (r["collapsed"] >= n and r["server_sockets_collapsed"] == 0 and r["revive_failed"] == 0
      and r["revived"] == r["samples"])
extra = r["query_on_collapsed_ms_p99"] - r["query_on_live_ms_p50"]
print(f"verdict: collapse {'complete' if ok else 'INCOMPLETE'}; memory "
      f"{'met' if total <= 256 else 'NOT met'} ({total} B, target 256 B); revival "
      f"{'met' if extra < 1.0 else 'NOT met'} (p99 {r['query_on_collapsed_ms_p99']} ms against "
      f"{r['query_on_live_ms_p50']} ms live: {extra:.3f} ms more, target under 1 ms)")
r["total_bytes_per_collapsed"] = total
print(json.dumps({"bench": "collapse", "shoal": r}))
PY

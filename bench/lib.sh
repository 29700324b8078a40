# shellcheck shell=bash disable=SC2154  # bench_name: the caller; LAB_*: labctl env
# Shared parts of the resolver benchmarks (bench/*-bench.sh). Sourced, not
# run: the caller sets `set -euo pipefail`, changes to the repository root
# and sets bench_name (used in messages) before calling anything here.
#
# State kept here for the caller: labctl, work (the run's scratch
# directory), started_lab, pids (resolver processes to stop on exit),
# shm_names (shared memory objects to remove on exit), keep_work (1: leave
# the scratch directory in place), shoal_pid and unbound_pid (the last
# started by start_shoal and start_unbound), and everything `labctl env`
# sets (LAB_ROOT_HINTS, LAB_TRUST_ANCHOR, LAB_QUERIES, ...).

labctl=tests/lab/labctl
work=
started_lab=0
pids=()
shm_names=()
keep_work=0

# Exits 77 (skip) unless run as root: the lab creates a network namespace.
bench_require_root() {
  if [[ $(id -u) -ne 0 ]]; then
    echo "$bench_name: needs root (the lab creates a network namespace)" >&2
    exit 77
  fi
}

# Builds build-bench/bin/shoal (Release, no tests) when it is missing or
# older than a source file.
bench_build_shoal() {
  if [[ ! -x build-bench/bin/shoal ]] || [[ -n $(find supervisor worker resolver localroot dnssec dns shmcache config control base stats -newer build-bench/bin/shoal -name '*.[ch]*' -print -quit) ]]; then
    cmake -S . -B build-bench -G Ninja -DCMAKE_BUILD_TYPE=Release -DSHOAL_TESTS=OFF >/dev/null
    ninja -C build-bench -j"$(nproc)" shoal >/dev/null
  fi
}

# The shoal to measure, with its shoalctl: the --shoal-bin given (in
# shoal_bin, made absolute against caller_dir), or build-bench's, built
# when stale. Sets shoal_bin and shoalctl_bin; exits 2 when one is missing.
bench_shoal_binaries() {
  if [[ -z $shoal_bin ]]; then
    bench_build_shoal
    shoal_bin=build-bench/bin/shoal
    [[ -x build-bench/bin/shoalctl && build-bench/bin/shoalctl -nt build-bench/bin/shoal ]] ||
      ninja -C build-bench -j"$(nproc)" shoalctl >/dev/null
  elif [[ $shoal_bin != /* ]]; then
    shoal_bin=$caller_dir/$shoal_bin
  fi
  shoalctl_bin=$(dirname "$shoal_bin")/shoalctl
  [[ -x $shoal_bin ]] || { echo "$bench_name: no shoal binary at $shoal_bin" >&2; exit 2; }
  [[ -x $shoalctl_bin ]] || { echo "$bench_name: no shoalctl next to $shoal_bin" >&2; exit 2; }
}

# Copies shoal and shoalctl into $work/bin (made by the caller), so that a
# rebuild during the run changes nothing, and points shoal_bin and
# shoalctl_bin there; sets shoal_built (when the binary was built) and
# head_rev (the commit, "+ uncommitted changes" when the sources differ).
bench_copy_binaries() {
  # shellcheck disable=SC2034  # read by the caller
  shoal_built=$(date -u -r "$shoal_bin" '+%Y-%m-%d %H:%M UTC')
  head_rev=$(git rev-parse --short HEAD)
  git diff --quiet HEAD -- . ':(exclude)bench' ':(exclude)docs' ':(exclude)scripts' ||
    head_rev+=" + uncommitted changes"
  cp "$shoal_bin" "$shoalctl_bin" "$work/bin/"
  shoal_bin=$work/bin/shoal
  shoalctl_bin=$work/bin/shoalctl
}

# Stops the resolvers still running, the lab if this run started it, and
# removes the scratch directory (unless keep_work=1) and shared memory.
bench_cleanup() {
  local p name
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  ((started_lab)) && "$labctl" stop >/dev/null
  for name in "${shm_names[@]}"; do
    rm -f "/dev/shm/$name" "/dev/shm/$name.lock" "/dev/shm/$name.stats"
  done
  if ((keep_work)); then
    echo "$bench_name: kept $work" >&2
  else
    rm -rf "$work"
  fi
}

# Makes the scratch directory (mktemp template, e.g.
# /tmp/shoal-bench.XXXXXX), installs the cleanup trap, starts the lab unless
# one runs already (its own directory under the scratch directory) and
# loads its environment.
bench_start_lab() {
  work=$(mktemp -d "$1")
  trap bench_cleanup EXIT
  if ! "$labctl" status >/dev/null 2>&1; then
    "$labctl" start --dir "$work/lab" >/dev/null
    started_lab=1
  fi
  eval "$("$labctl" env)"
}

# shoal's config: file port cache-name control-socket. 2 workers, 256 MiB
# cache, the lab's root hints and trust anchor, IPv4 upstream only.
write_shoal_conf() {
  cat >"$1" <<TOML
[server]
listen = ["127.0.0.1:$2"]
workers = 2
[cache]
name = "$3"
size = "256M"
stripes = 256
[resolver]
root_hints = "$LAB_ROOT_HINTS"
trust_anchors = ["$LAB_TRUST_ANCHOR"]
ipv6 = false
[control]
socket = "$4"
TOML
}

# Unbound's config: file port [extra server: lines]. 2 threads, 256 MiB of
# caches, validating ("validator iterator") with the lab's root hints and
# trust anchor, QNAME minimisation, IPv4 upstream only, no prefetch; its
# pidfile and log in the scratch directory.
write_unbound_conf() {
  local file=$1 port=$2 line
  shift 2
  {
    cat <<CONF
server:
  interface: 127.0.0.1@$port
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
  module-config: "validator iterator"
  trust-anchor-file: "$LAB_TRUST_ANCHOR"
  do-ip6: no
  qname-minimisation: yes
  rrset-cache-size: 170m
  msg-cache-size: 86m
  access-control: 127.0.0.0/8 allow
  do-not-query-localhost: no
  prefetch: no
CONF
    for line in "$@"; do echo "  $line"; done
    cat <<CONF
remote-control:
  control-enable: no
CONF
  } >"$file"
}

# Lab packets (all servers) since the last call.
lab_packets() {
  "$labctl" counters --reset --json | python3 -c 'import json, sys; print(sum(json.load(sys.stdin).values()))'
}

# Waits until a resolver answers on `port` (it has bound its sockets):
# port [pid] (gives up at once when process pid has exited).
wait_up() {
  for _ in $(seq 100); do
    kdig @127.0.0.1 -p "$1" +timeout=1 +retry=0 refused.test. SOA >/dev/null 2>&1 && return 0
    if [[ -n ${2:-} ]] && ! kill -0 "$2" 2>/dev/null; then
      echo "$bench_name: the resolver for port $1 exited" >&2
      exit 1
    fi
    sleep 0.1
  done
  echo "$bench_name: nothing answers on port $1" >&2
  exit 1
}

# Waits until a resolver answers a header-only query on `port` (no
# question, so nothing goes upstream: the cache stays cold and the lab's
# counters clean; bench/loss_bench.py probe): port pid... Gives up at once
# when one of the processes has exited, and after 30 s.
wait_ready() {
  local p=$1 pid
  shift
  for _ in $(seq 300); do
    python3 bench/loss_bench.py probe "$p" && return 0
    for pid in "$@"; do
      kill -0 "$pid" 2>/dev/null || { echo "$bench_name: the resolver for port $p exited" >&2; exit 1; }
    done
    sleep 0.1
  done
  echo "$bench_name: nothing answers on port $p after 30 s" >&2
  exit 1
}

# Waits until a log file has COUNT lines matching an extended regular
# expression: file pattern count pid what (gives up when process pid has
# exited, and after 30 s; `what` names the lines in the message).
wait_log() {
  for _ in $(seq 300); do
    (($(grep -cE "$2" "$1" 2>/dev/null || true) >= $3)) && return 0
    kill -0 "$4" 2>/dev/null || { echo "$bench_name: the resolver exited (see $1)" >&2; exit 1; }
    sleep 0.1
  done
  echo "$bench_name: no $5 after 30 s (see $1)" >&2
  exit 1
}

# Starts shoal with an empty cache (--cold), its stderr in a log (emptied
# first), adds it to pids and waits until it answers on its port
# (wait_ready, nothing sent upstream) and every worker has logged its
# "ready" line: binary config log port workers. Its pid is left in
# shoal_pid.
start_shoal() {
  "$1" --config "$2" --cold 2>"$3" &
  shoal_pid=$!
  pids+=("$shoal_pid")
  wait_ready "$4" "$shoal_pid"
  wait_log "$3" "worker [0-9]+ ready" "$5" "$shoal_pid" "ready line of every worker"
}

# Starts Unbound in the foreground on a config from write_unbound_conf, its
# stderr appended to a log, adds it to pids and waits until it answers on
# its port (wait_ready: its cache stays cold): config log port. Its pid is
# left in unbound_pid.
start_unbound() {
  unbound -d -c "$1" 2>>"$2" &
  unbound_pid=$!
  pids+=("$unbound_pid")
  wait_ready "$3" "$unbound_pid"
}

# Stops the resolvers in pids and forgets them.
stop_resolvers() {
  kill "${pids[@]}" 2>/dev/null || true
  wait "${pids[@]}" 2>/dev/null || true
  pids=()
}

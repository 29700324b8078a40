#!/usr/bin/env bash
# Chaos soak (issue 15): shoal serving mixed traffic while its workers are
# killed, it is reloaded and upgraded, and the path to the authoritative
# servers loses packets. Not in CI: a manual run, 10 minutes by default.
#
# Setup (lib.sh): the lab (started unless one runs), the binaries copied
# into the scratch directory (so that a rebuild changes nothing, and so that
# the upgrade can install a new file over the path shoal runs from), a
# self-signed P-256 certificate for "shoal.test" (openssl), and shoal with
# write_shoal_conf's settings (2 workers, 256 MiB cache, validating with the
# lab's trust anchor and root hints, IPv4 upstream) plus:
#   listen 127.0.0.1:5371 (UDP and TCP), tls_listen 127.0.0.1:5372 (DNS over
#   TLS), https_listen 127.0.0.1:5373 (DNS over HTTPS);
#   [ecs] enabled for geo.com, 127.0.0.1 trusted (the clients send ECS);
#   [local_root] off (the root's servers are asked, through the loss).
# Loss: `labctl drop ADDR L` on every authoritative address of the lab
# (LAB_ALL_ADDRS): nftables in the lab's namespace drops each packet towards
# a server (UDP or TCP, port 53) with probability L (numgen random), as
# bench/loss-bench.sh does; removed on any exit.
#
# With a sanitizer build (the default: build-asan/bin/shoal, AddressSanitizer
# and UndefinedBehaviorSanitizer) every process writes its reports to files
# in the scratch directory (ASAN_OPTIONS and UBSAN_OPTIONS log_path; LeakSanitizer
# at each clean exit); shoal's stderr is read too. AddressSanitizer keeps
# freed blocks in a quarantine (to catch a use after free), 256 MiB per
# process by default: measured here, each reload adds about 5 MiB of it to
# the supervisor's RSS, which a 10-minute run would report as growth. The
# soak gives it --quarantine-mb (default 4), full after the first reload,
# before the memory windows compared.
#
# Then bench/chaos_soak.py runs the soak for --duration seconds (traffic over
# UDP, TCP, DoT and DoH with junk and ECS questions; SIGKILL to a random worker
# every --kill-every seconds; one upgrade; a reload every minute; memory
# sampled), shoal is stopped with SIGTERM (its exit status and LeakSanitizer
# count), and bench/chaos_report.py prints the figures, a markdown table and the
# verdict; the exit status is 0 when the soak passed, 1 when it did not.
#
# Readiness is waited for, never slept for: shoal answering (lib.sh
# wait_ready), every worker's "ready" line, the operations' answers.
#
# Needs root (the lab). Exits 77 when not root. Run it with the lab's lock:
#   flock /tmp/shoal-lab.lock bench/chaos-soak.sh
set -euo pipefail
caller_dir=$PWD
cd "$(dirname "$0")/.."
bench_name=chaos-soak
source bench/lib.sh

usage() {
  cat <<'EOF'
Usage: bench/chaos-soak.sh [options]     (needs root: the lab)

Mixed traffic (UDP, TCP, DoT, DoH; junk and ECS questions) against shoal
while a random worker is killed every few seconds, shoal is reloaded every
minute and upgraded once, and the path to the lab's servers loses packets.
Reports lost queries, answers by rcode, memory over time and sanitizer
reports; exits 0 when the soak passed.

Options:
  --duration S       seconds of traffic (default 600)
  --shoal-bin PATH   the shoal binary (default: build-asan/bin/shoal, the
                     AddressSanitizer build)
  --shoalctl-bin PATH  its shoalctl (default: shoalctl beside --shoal-bin)
  --loss L           percent of the packets to the lab's servers dropped
                     (default 10)
  --kill-every S     seconds between two SIGKILLs (default 3)
  --reload-every S   seconds between two reloads (default 60; the first at
                     S - 20)
  --upgrade-at S     seconds into the run of the upgrade (default 20, or a
                     sixth of a shorter run)
  --qps LIST         rates per transport, udp,tcp,dot,doh (default
                     300,40,40,40)
  --quarantine-mb M  AddressSanitizer's quarantine per process (default 4;
                     256 is ASan's own default: more time to catch a use
                     after free, but the memory check then measures it)
  --seed N           seed of the questions, the victims and the junk names
                     (default: random, printed)
  --json FILE        write the report's verdict and memory figures to FILE
  --keep             keep the scratch directory (configs, logs, the run's
                     JSON, sanitizer reports) and print its path
  -h, --help         this text
EOF
}

duration=600
shoal_bin=
shoalctl_bin=
loss=10
kill_every=3
reload_every=60
upgrade_at=
qps=300,40,40,40
quarantine_mb=4
seed=$((RANDOM * 32768 + RANDOM))
json_out=
while (($#)); do
  case $1 in
    --duration) duration=$2; shift 2 ;;
    --shoal-bin) shoal_bin=$2; shift 2 ;;
    --shoalctl-bin) shoalctl_bin=$2; shift 2 ;;
    --loss) loss=$2; shift 2 ;;
    --kill-every) kill_every=$2; shift 2 ;;
    --reload-every) reload_every=$2; shift 2 ;;
    --upgrade-at) upgrade_at=$2; shift 2 ;;
    --qps) qps=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    --quarantine-mb) quarantine_mb=$2; shift 2 ;;
    --json) json_out=$2; shift 2 ;;
    --keep) keep_work=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
done
for n in "$duration" "$loss" "$kill_every" "$reload_every" "$seed" "$quarantine_mb" ${upgrade_at:+"$upgrade_at"}; do
  [[ $n =~ ^[0-9]+$ ]] || { echo "$bench_name: not a whole number: $n" >&2; exit 2; }
done
((duration >= 30 && loss <= 100 && kill_every >= 1)) || { usage >&2; exit 2; }
IFS=, read -ra rates <<<"$qps"
((${#rates[@]} == 4)) || { echo "$bench_name: --qps: four rates, udp,tcp,dot,doh" >&2; exit 2; }
for n in "${rates[@]}"; do
  [[ $n =~ ^[0-9]+$ ]] || { echo "$bench_name: --qps: not a whole number: $n" >&2; exit 2; }
done
[[ -z $json_out || $json_out == /* ]] || json_out=$caller_dir/$json_out
[[ -n $shoal_bin ]] || shoal_bin=build-asan/bin/shoal
[[ $shoal_bin == /* ]] || shoal_bin=$(realpath -m "$caller_dir/$shoal_bin")
[[ -n $shoalctl_bin ]] || shoalctl_bin=$(dirname "$shoal_bin")/shoalctl
[[ $shoalctl_bin == /* ]] || shoalctl_bin=$(realpath -m "$caller_dir/$shoalctl_bin")
[[ -x $shoal_bin ]] || { echo "$bench_name: no shoal binary at $shoal_bin (build it:" \
  "flock /tmp/shoal-build.lock ninja -C build-asan shoal shoalctl)" >&2; exit 2; }
[[ -x $shoalctl_bin ]] || { echo "$bench_name: no shoalctl at $shoalctl_bin" >&2; exit 2; }
bench_require_root
# The lab is one per machine: a CI run on this machine uses it too, and
# the loss set here would break its tests.
if pgrep -f '[.]ci/run' >/dev/null; then
  echo "$bench_name: a CI run (.ci/run) is active on this machine; try again when it is done" >&2
  exit 1
fi

scripts/install-deps.sh >/dev/null
# DNS over HTTPS needs an HTTP/2 client: h2 (Debian's python3-h2), for
# Debian's python3.
py=/usr/bin/python3
if ! "$py" -c 'import h2' 2>/dev/null; then
  echo "$bench_name: installing python3-h2 (the DNS over HTTPS client)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends python3-h2 >/dev/null
fi
command -v openssl >/dev/null || { echo "$bench_name: the openssl command is not installed" >&2; exit 2; }
asan=0
grep -qa __asan_init "$shoal_bin" && asan=1

bench_start_lab /tmp/shoal-chaos.XXXXXX
# Faults set by someone else would add to ours, and ours are removed on
# exit: refuse to run on a lab with any.
if "$labctl" status 2>&1 | grep -qE '^ +(drop|delay) '; then
  echo "$bench_name: the lab has faults set (labctl status); remove them first" >&2
  exit 1
fi
mkdir -p "$work/bin" "$work/sanitizer"
bench_copy_binaries

# The drops, removed on every exit before lib.sh's cleanup (which may stop
# the lab).
dropped=()
set_drops() {  # percent
  local addr
  (($1 == 0)) || read -ra dropped <<<"$LAB_ALL_ADDRS"
  for addr in "${dropped[@]}"; do "$labctl" drop "$addr" "$1" >/dev/null; done
  (($1 != 0)) || dropped=()
}
# shellcheck disable=SC2317  # run by the EXIT trap
chaos_cleanup() {
  local addr
  for addr in "${dropped[@]}"; do "$labctl" drop "$addr" 0 >/dev/null 2>&1 || true; done
  dropped=()
  bench_cleanup
}
trap chaos_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
  -subj /CN=shoal.test -addext subjectAltName=DNS:shoal.test \
  -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null
port=5371
tls_port=5372
https_port=5373
write_shoal_conf "$work/shoal.toml" "$port" /shoal-chaos "$work/control.sock"
tls_lines="tls_listen = [\"127.0.0.1:$tls_port\"]\nhttps_listen = [\"127.0.0.1:$https_port\"]"
tls_lines+="\ntls_certificate = \"$work/cert.pem\"\ntls_key = \"$work/key.pem\""
sed -i "s|^\[server\]\$|[server]\n$tls_lines|" "$work/shoal.toml"
printf '[ecs]\nenabled = true\nzones = ["geo.com."]\ntrusted = ["127.0.0.1"]\n' >>"$work/shoal.toml"
printf '[local_root]\nenabled = false\n' >>"$work/shoal.toml"
shm_names+=(shoal-chaos)
"$shoal_bin" --check-config "$work/shoal.toml" >/dev/null

# Every process of shoal (and shoalctl) writes its sanitizer reports to a
# file of its own: sanitizer/asan.PID, sanitizer/ubsan.PID.
export ASAN_OPTIONS="log_path=$work/sanitizer/asan:detect_leaks=1:quarantine_size_mb=$quarantine_mb"
export UBSAN_OPTIONS="log_path=$work/sanitizer/ubsan:print_stacktrace=1"

echo "$bench_name: $duration s, seed $seed; shoal $("$shoal_bin" --version 2>&1 | head -n 1)" \
  "(binary built $shoal_built; tree $head_rev;" \
  "$( ((asan)) && echo "AddressSanitizer build, quarantine $quarantine_mb MiB" || echo "no sanitizer")); loss $loss %" \
  "on the lab's servers; kill every $kill_every s; $(nproc) cores"
set_drops "$loss"
start_shoal "$shoal_bin" "$work/shoal.toml" "$work/shoal.log" "$port" 2
supervisor=$shoal_pid

status=0
"$py" bench/chaos_soak.py --port "$port" --tls-port "$tls_port" --https-port "$https_port" \
  --cert "$work/cert.pem" --supervisor "$supervisor" --shoal-bin "$shoal_bin" \
  --shoalctl "$shoalctl_bin" --config "$work/shoal.toml" --queries "$LAB_QUERIES" \
  --lab-dir "$LAB_DIR" --out "$work/run.json" --duration "$duration" --seed "$seed" \
  --udp-qps "${rates[0]}" --tcp-qps "${rates[1]}" --dot-qps "${rates[2]}" --doh-qps "${rates[3]}" \
  --kill-every "$kill_every" --reload-every "$reload_every" ${upgrade_at:+--upgrade-at "$upgrade_at"} ||
  status=$?
set_drops 0

# A clean stop: SIGTERM, the supervisor's exit status (LeakSanitizer runs
# in each process as it exits).
exit_status=0
if kill -0 "$supervisor" 2>/dev/null; then
  kill -TERM "$supervisor"
  wait "$supervisor" || exit_status=$?
else
  wait "$supervisor" || exit_status=$?
  echo "$bench_name: shoal's supervisor was gone before the stop (exit status $exit_status)" >&2
  ((exit_status != 0)) || exit_status=255
fi
pids=()
((status == 0)) || { echo "$bench_name: the soak's driver failed (exit $status); see $work" >&2; keep_work=1; exit 1; }

verdict=0
asan_flag=()
((asan)) && asan_flag=(--asan)
"$py" bench/chaos_report.py --run "$work/run.json" --log "$work/shoal.log" \
  --sanitizer-dir "$work/sanitizer" --exit-status "$exit_status" ${json_out:+--json "$json_out"} \
  "${asan_flag[@]}" || verdict=$?
if ((verdict != 0)); then
  keep_work=1  # the logs and reports to look at
fi
exit "$verdict"

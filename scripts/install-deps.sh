#!/usr/bin/env bash
# Installs every Debian package shoal needs to build, test and benchmark.
# Idempotent: safe to run again; installs nothing from outside Debian.
set -euo pipefail

PACKAGES=(
  # build
  build-essential cmake ninja-build pkg-config clang libclang-rt-14-dev
  # man pages and the Debian package (cmake/packaging.cmake)
  scdoc dpkg-dev man-db
  # libraries
  libboost-dev libuv1-dev libldns-dev libssl-dev libtoml11-dev libnghttp2-dev
  libmnl-dev libnftnl-dev libnetfilter-queue-dev libcap-dev
  libfstrm-dev libprotobuf-c-dev protobuf-c-compiler
  libgtest-dev libgmock-dev libsystemd-dev liblmdb-dev libbenchmark-dev
  nlohmann-json3-dev
  # the lab and clients
  knot knot-module-geoip knot-module-dnstap knot-dnsutils ldnsutils bind9-dnsutils nftables iproute2 dnsperf
  unbound pdns-recursor knot-resolver python3 python3-h2 openssl curl
  # promtool (checks the Prometheus page: tests/integration/metrics_test.py)
  prometheus
  # dnstap end to end (tests/integration/dnstap_test.py)
  fstrm-bin dnstap-ldns
)

if [[ $(id -u) -ne 0 ]]; then
  SUDO=sudo
else
  SUDO=
fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"

# Debian enables knot, unbound, pdns-recursor and Knot Resolver (kresd.target,
# its cache collector kres-cache-gc, instances kresd@N) as system services on
# install; the lab and the benchmarks start their own instances on their
# own addresses.
for svc in knot unbound pdns-recursor kresd@1 kres-cache-gc kresd.target; do
  if command -v systemctl >/dev/null && systemctl is-active --quiet "$svc" 2>/dev/null; then
    $SUDO systemctl disable --now "$svc" >/dev/null 2>&1 || true
  fi
done
echo "install-deps: done"

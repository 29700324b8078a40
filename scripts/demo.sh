#!/usr/bin/env bash
# Starts the lab (a simulated DNS Internet in a network namespace), runs
# shoal against it and resolves sample names with kdig, then stops both.
# Needs root (the lab creates a network namespace).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
scripts/build.sh >/dev/null
labctl=tests/lab/labctl
dir=$(mktemp -d /tmp/shoal-demo.XXXXXX)
started_lab=0
cleanup() {
  [[ -n ${shoal_pid:-} ]] && kill "$shoal_pid" 2>/dev/null && wait "$shoal_pid" 2>/dev/null
  ((started_lab)) && "$labctl" stop >/dev/null
  rm -rf "$dir"
}
trap cleanup EXIT

if ! "$labctl" status >/dev/null 2>&1; then
  "$labctl" start --dir "$dir/lab"
  started_lab=1
fi
eval "$("$labctl" env)"
cat >"$dir/shoal.toml" <<TOML
[server]
listen = ["127.0.0.1:5353"]
workers = 2
[cache]
name = "/shoal-demo"
size = "64M"
stripes = 64
[resolver]
root_hints = "$LAB_ROOT_HINTS"
trust_anchors = ["$LAB_TRUST_ANCHOR"]
ipv6 = false
[control]
socket = "$dir/control.sock"
TOML
build/bin/shoal --config "$dir/shoal.toml" --cold 2>"$dir/shoal.log" &
shoal_pid=$!
sleep 0.5
for q in "www.example.com A" "www.example.com A" "c1.example.com A" "cross.example.com A" \
         "www.dname.example.com A" "nx.example.com A" "www.glueless.com A" \
         "www.tcponly.com A" "www.lame.com A"; do
  echo "== $q"
  # shellcheck disable=SC2086
  kdig @127.0.0.1 -p 5353 $q +noall +header +answer | grep -v -e '^;; Flags' -e '^$' | sed 's/^/   /' || true
done
echo "== shoal log"
cat "$dir/shoal.log"

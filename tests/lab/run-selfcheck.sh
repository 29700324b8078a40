#!/usr/bin/env bash
# Runs the lab self-check for ctest (test lab.selfcheck):
#   labctl start --dir DIR; labctl selfcheck; labctl stop
# Stops only what it started (always, via trap, also on failure).  When a lab
# is already running (a developer's), it checks that one and leaves it running.
# Exit 77 (ctest SKIP_RETURN_CODE) when not root.
set -u
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
labctl="$here/labctl"
dir="${1:-/tmp/shoal-lab}"

if [[ $(id -u) -ne 0 ]]; then
  echo "run-selfcheck: lab needs root: skipped"
  exit 77
fi

started=0
child=
cleanup() {
  if ((started)); then
    "$labctl" stop || echo "run-selfcheck: labctl stop failed" >&2
  fi
}
on_signal() {
  # labctl turns SIGTERM into a clean exit (it stops the unbound it started)
  if [[ -n $child ]]; then
    kill -TERM "$child" 2>/dev/null
    wait "$child"
  fi
  exit "$1"
}
trap cleanup EXIT
trap 'on_signal 130' INT
trap 'on_signal 143' TERM

# run in the background and wait, so that a signal is handled at once
run() {
  "$@" &
  child=$!
  wait "$child"
  local rc=$?
  child=
  return "$rc"
}

if "$labctl" status >/dev/null 2>&1; then
  echo "run-selfcheck: a lab is already running; checking it (it stays running)"
else
  started=1
  run "$labctl" start --dir "$dir"
  rc=$?
  if ((rc != 0)); then
    echo "run-selfcheck: labctl start failed ($rc)" >&2
    exit "$rc"
  fi
fi

run "$labctl" selfcheck

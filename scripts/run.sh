#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine, builds shoal and runs it in the
# foreground on its built-in defaults: listening on 127.0.0.1:53, resolving
# from the IANA root hints, with the IANA root trust anchors. Ctrl-C stops it.
# Extra arguments go to shoal (e.g. --config conf/shoal.toml).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
scripts/build.sh
exec build/bin/shoal "$@"

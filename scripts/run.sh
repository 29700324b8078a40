#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine, builds shoal and runs it on its built-in
# defaults (IANA root hints and root trust anchors, listening on 127.0.0.1).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
scripts/build.sh
# The resolver service is not built yet (see docs/architecture.md): until it
# is, show what the daemon offers and the defaults it will resolve from.
build/bin/shoal --help
build/bin/shoal --print-defaults

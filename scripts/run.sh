#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine, builds shoal and runs it in the
# foreground on its built-in defaults: listening on 127.0.0.1:53, resolving
# from the IANA root hints, with the IANA root trust anchors. Ctrl-C stops it.
# It starts as root (to bind port 53) and runs as the unprivileged system
# user "shoal" (made here if missing), keeping only CAP_NET_BIND_SERVICE
# (docs/security.md). Extra arguments go to shoal (e.g. --config conf/shoal.toml).
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=
[[ $(id -u) -eq 0 ]] || SUDO=sudo
scripts/install-deps.sh
scripts/build.sh
if ! getent passwd shoal >/dev/null; then
  $SUDO useradd --system --user-group --no-create-home --home-dir /nonexistent \
    --shell /usr/sbin/nologin shoal
fi
exec $SUDO build/bin/shoal --user shoal "$@"

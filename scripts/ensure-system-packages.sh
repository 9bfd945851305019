#!/usr/bin/env bash
# Installs the Debian packages the project runs for real (none are needed by the ledger core
# yet; metering adds mosquitto, the web views chromium and a CJK font for its Chinese pages,
# the network etcd). Idempotent.
set -euo pipefail
needed=()
for pkg in "$@"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || needed+=("$pkg")
done
if [ ${#needed[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${needed[@]}"
fi

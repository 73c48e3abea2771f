#!/usr/bin/env bash
# The real browser for the deployer console's test: Debian's `chromium`
# package (installed with apt-get when missing), driven by playwright-core
# from npm (package.json). No browser is ever downloaded any other way:
# playwright-core's own browser downloads are never used.
# Prints the browser's path; the test reads X1_CHROMIUM (default /usr/bin/chromium).
set -euo pipefail
log() { printf '[browser] %s\n' "$*" >&2; }
bin="${X1_CHROMIUM:-/usr/bin/chromium}"
if [ ! -x "$bin" ]; then
  command -v apt-get >/dev/null || { log "error: $bin is missing and apt-get is not available: install Chromium and set X1_CHROMIUM"; exit 1; }
  log "installing chromium from Debian's packages (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >&2
fi
log "$("$bin" --version 2>/dev/null || echo "chromium at $bin")"
echo "$bin"

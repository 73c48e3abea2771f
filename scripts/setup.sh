#!/usr/bin/env bash
# The README's first command: prepares everything on a fresh clone, then runs
# the main job, `up` of the embedded default `local` stack (no cloud account,
# a local file state backend), and prints what it did. Safe to run again: the
# toolchain and node_modules are reused and the second `up` reports no changes.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
start=$SECONDS
bash scripts/toolchain.sh
# shellcheck disable=SC1091
source "${X1_TOOLCHAIN_DIR:-$root/.pulumi-toolchain}/env"
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "[setup] installing npm dependencies (npm ci)" >&2
  npm ci --no-audit --no-fund
fi
echo "[setup] ready in $((SECONDS - start))s; running the local stack" >&2
[ "${X1_SETUP_SKIP_UP:-}" = 1 ] && exit 0
exec bash scripts/with-toolchain.sh tsx runtime/cli.ts up local

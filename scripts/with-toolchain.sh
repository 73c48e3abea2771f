#!/usr/bin/env bash
# Runs a command with the project's toolchain on PATH (Node.js LTS, pulumi,
# the language host) and the project's node_modules/.bin. Every npm script
# goes through here, so `npm test` and `npm run x1` use the same engine that
# ./scripts/setup.sh prepared.
#
# Signals: npm runs a script through `sh -c`, and dash (Debian's sh) does not
# pass a signal on to the command it waits for, so a stopped `npm run
# deployer` used to leave the server running. Every npm script therefore
# starts with `exec`, and this script execs too: the process npm waits for
# is the command itself, and npm's own signal forwarding reaches it.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tc="${X1_TOOLCHAIN_DIR:-$root/.pulumi-toolchain}"
if [ ! -f "$tc/env" ]; then
  echo "error: the toolchain is not set up ($tc/env is missing). Run ./scripts/setup.sh first." >&2
  exit 1
fi
# shellcheck disable=SC1091
source "$tc/env"
export PATH="$root/node_modules/.bin:$PATH"
exec "$@"

#!/usr/bin/env bash
# A throwaway PostgreSQL for the deployer's tests (and for trying the
# several-replica setup by hand): installs PostgreSQL from Debian's packages
# when it is missing, starts one cluster bound to 127.0.0.1 on a free port,
# and prints its DSN (also written to $X1_PG_DIR/dsn). Idempotent: a cluster
# already running is reused and its DSN printed again.
#
#   bash scripts/postgres.sh          # start (or reuse); prints postgres://...
#   bash scripts/postgres.sh stop     # stop it and delete its data
#
# The test runner reads the DSN from X1_TEST_POSTGRES_URL, e.g.
#   X1_TEST_POSTGRES_URL="$(bash scripts/postgres.sh)" npm test
set -euo pipefail
dir="${X1_PG_DIR:-/tmp/x1-postgres}"
log() { printf '[postgres] %s\n' "$*" >&2; }
die() { printf '[postgres] error: %s\n' "$*" >&2; exit 1; }

bindir() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1; }

# initdb and postgres refuse to run as root: run them as the postgres user.
as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

if [ "${1:-}" = stop ]; then
  bin="$(bindir)"
  if [ -n "$bin" ] && [ -f "$dir/data/postmaster.pid" ]; then as_pg "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >&2 || true; fi
  rm -rf "$dir"
  log "stopped; removed $dir"
  exit 0
fi

if [ -z "$(bindir)" ]; then
  command -v apt-get >/dev/null || die "PostgreSQL is not installed and apt-get is not available: install PostgreSQL 15+ and re-run"
  log "installing PostgreSQL from Debian's packages (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  # The package's own cluster is not used; policy-rc.d keeps it from starting.
  apt-get install -y -qq --no-install-recommends postgresql >&2
fi
bin="$(bindir)"
[ -x "$bin/initdb" ] || die "no initdb under /usr/lib/postgresql/*/bin"

if [ -f "$dir/dsn" ] && as_pg "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
  cat "$dir/dsn"
  exit 0
fi

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
port="${X1_PG_PORT:-}"
if [ -z "$port" ]; then
  for p in $(seq 55432 55531); do
    if port_free "$p"; then port=$p; break; fi
  done
fi
[ -n "$port" ] || die "no free port in 55432-55531"

mkdir -p "$dir"
if [ ! -f "$dir/data/PG_VERSION" ]; then
  rm -rf "$dir/data"
  password="$(head -c 18 /dev/urandom | base64 | tr -d '/+=')"
  printf '%s\n' "$password" >"$dir/password"
  chmod 600 "$dir/password"
  [ "$(id -u)" = 0 ] && chown -R postgres "$dir"
  as_pg "$bin/initdb" -D "$dir/data" -U x1 --pwfile="$dir/password" --auth=scram-sha-256 -E UTF8 >"$dir/initdb.log" 2>&1 ||
    die "initdb failed: $(tail -n 5 "$dir/initdb.log")"
fi
password="$(cat "$dir/password")"
log "starting PostgreSQL ($("$bin/postgres" --version)) on 127.0.0.1:$port, data in $dir/data"
as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
  -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir -c max_connections=50 -c fsync=off" start >&2 ||
  die "PostgreSQL did not start: $(tail -n 5 "$dir/server.log")"
PGPASSWORD="$password" as_pg "$bin/psql" -h 127.0.0.1 -p "$port" -U x1 -d postgres -qtAc \
  "SELECT 1 FROM pg_database WHERE datname = 'x1_deployer'" | grep -q 1 ||
  PGPASSWORD="$password" as_pg "$bin/createdb" -h 127.0.0.1 -p "$port" -U x1 x1_deployer
dsn="postgres://x1:$password@127.0.0.1:$port/x1_deployer"
printf '%s\n' "$dsn" >"$dir/dsn"
chmod 600 "$dir/dsn"
echo "$dsn"

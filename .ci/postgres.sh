#!/usr/bin/env bash
# A throw-away PostgreSQL server on 127.0.0.1 for the sweeper's PostgreSQL test.
#
#   eval "$(.ci/postgres.sh start)"   # exports LOSSMATCH_TEST_POSTGRES_URL (a DSN with a random
#                                     # password) and LOSSMATCH_TEST_POSTGRES_DIR
#   pytest tests/sweeper -k postgres
#   .ci/postgres.sh stop              # stops the server in $LOSSMATCH_TEST_POSTGRES_DIR, removes it
#
# Uses Debian's postgresql package (/usr/lib/postgresql/<version>/bin; PG_BIN overrides). As root
# it installs the package if missing and runs the server as the 'postgres' user, because
# initdb and postgres refuse to run as root. Messages go to stderr; stdout is only the exports.
# The DSN names the psycopg2 driver (psycopg2-binary, in the test extra): SQLAlchemy 2.1's plain
# postgresql:// means psycopg 3.
set -euo pipefail

say() { echo "postgres.sh: $*" >&2; }

find_bin() {
  if [ -n "${PG_BIN:-}" ]; then echo "$PG_BIN"; return; fi
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1
}

start() {
  local bin
  bin=$(find_bin)
  if [ -z "$bin" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing Debian's postgresql package"
    apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
    bin=$(find_bin)
  fi
  if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
    say "no PostgreSQL server binaries found (install Debian's postgresql package or set PG_BIN)"
    exit 1
  fi

  local dir port password as=()
  dir=$(mktemp -d -t lossmatch-postgres-XXXXXX)
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  password=$(python3 -c 'import secrets; print(secrets.token_hex(12))')
  if [ "$(id -u)" = 0 ]; then
    chown postgres "$dir"
    as=(runuser -u postgres --)
  fi
  chmod 700 "$dir"
  printf '%s\n' "$password" > "$dir/pwfile"
  [ "$(id -u)" = 0 ] && chown postgres "$dir/pwfile"

  "${as[@]}" "$bin/initdb" -D "$dir/data" -U lossmatch --pwfile="$dir/pwfile" --auth=scram-sha-256 \
    --encoding=UTF8 --no-locale >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
  rm -f "$dir/pwfile"
  "${as[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $dir" start >&2 || { cat "$dir/server.log" >&2; exit 1; }
  PGPASSWORD=$password "$bin/createdb" -h 127.0.0.1 -p "$port" -U lossmatch lossmatch_test
  say "server on 127.0.0.1:$port, data in $dir"
  echo "export LOSSMATCH_TEST_POSTGRES_DIR='$dir'"
  echo "export LOSSMATCH_TEST_POSTGRES_URL='postgresql+psycopg2://lossmatch:$password@127.0.0.1:$port/lossmatch_test'"
}

stop() {
  local dir=${LOSSMATCH_TEST_POSTGRES_DIR:?set LOSSMATCH_TEST_POSTGRES_DIR (printed by start)}
  local bin as=()
  bin=$(find_bin)
  [ "$(id -u)" = 0 ] && as=(runuser -u postgres --)
  if [ -d "$dir/data" ]; then
    "${as[@]}" "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >&2 || true
  fi
  rm -rf "$dir"
  say "stopped and removed $dir"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac

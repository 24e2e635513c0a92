#!/usr/bin/env bash
# A throwaway PostgreSQL server for make demo (the tests start their own, tests/postgres_server.h):
#   scripts/postgres.sh start DIR   initdb into DIR/data, start on a free loopback port with
#                                   prepared transactions enabled; prints a libpq connection string
#   scripts/postgres.sh stop DIR    stops it (fast shutdown)
# As root the server runs as the `postgres` user (PostgreSQL refuses to run as root), so DIR should
# be one that user can reach (e.g. under /tmp).
set -euo pipefail
CMD="${1:?usage: postgres.sh start|stop DIR}"
DIR="${2:?usage: postgres.sh start|stop DIR}"
BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
if [ -z "$BIN" ]; then
  echo "postgres.sh: PostgreSQL is not installed (scripts/install-deps.sh installs it)" >&2
  exit 1
fi
as_pg() {
  if [ "$(id -u)" -eq 0 ]; then
    setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"
  else
    "$@"
  fi
}
case "$CMD" in
  start)
    mkdir -p "$DIR"
    if [ "$(id -u)" -eq 0 ]; then chown postgres:postgres "$DIR"; fi
    as_pg "$BIN/initdb" -D "$DIR/data" -U sluice --auth=trust -E UTF8 --locale=C --no-sync \
      >"$DIR/initdb.log" 2>&1 || { cat "$DIR/initdb.log" >&2; exit 1; }
    PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    as_pg "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/postgres.log" -w -t 60 start -o \
      "-p $PORT -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c max_prepared_transactions=32" \
      >/dev/null || { cat "$DIR/postgres.log" >&2; exit 1; }
    echo "host=127.0.0.1 port=$PORT dbname=postgres user=sluice"
    ;;
  stop)
    if [ -f "$DIR/data/postmaster.pid" ]; then as_pg "$BIN/pg_ctl" -D "$DIR/data" -m fast -w stop >/dev/null; fi
    ;;
  *)
    echo "postgres.sh: unknown command '$CMD' (start or stop)" >&2
    exit 2
    ;;
esac

#!/usr/bin/env bash
# A real S3-compatible server for tests and benchmarks: an OpenStack Swift all-in-one (Debian's
# python3-swift) with the s3api middleware and tempauth, so SigV4 signatures are checked for real.
#   scripts/s3.sh start DIR [PORT]  configs, rings and data under DIR (made on the first start, kept
#                                   after); proxy on 127.0.0.1:PORT (default: a free port); prints
#                                   endpoint=... access_key=... secret_key=... region=...
#   scripts/s3.sh stop DIR          stops every server whose pid file is under DIR/run
# A start after a stop, on the same DIR and PORT, serves the same buckets and objects.
# SLUICE_S3_SECRET_KEY sets the secret key of test:tester (default: testing).
# With SLUICE_S3_FOREGROUND=1, start stays in the foreground after printing the line until the
# servers exit (s3.sh stop), and the servers die with it (PR_SET_PDEATHSIG): tests/s3_server.h runs
# it that way so that a killed test leaves no server behind.
# Swift runs as the calling user, one process per server (workers = 0), logging to DIR/log.
set -euo pipefail
usage="usage: s3.sh start DIR [PORT] | s3.sh stop DIR"
CMD="${1:?$usage}"
DIR="${2:?$usage}"
PORT="${3:-}"
# The secret key of access key test:tester (tests change it to see credentials refused).
SECRET="${SLUICE_S3_SECRET_KEY:-testing}"
# Debian's swift is a module of the system python; a python3 earlier on PATH (pyenv) lacks it.
PY=/usr/bin/python3
SERVERS="account container object proxy"

die() {
  echo "s3.sh: $*" >&2
  exit 1
}

free_port() {
  "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Binds as the servers do (eventlet sets SO_REUSEADDR): a port in TIME_WAIT after a stop is free.
port_busy() {
  ! "$PY" -c 'import socket,sys; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1", int(sys.argv[1])))' "$1" 2>/dev/null
}

pid_alive() {
  local pid
  pid=$(cat "$1" 2>/dev/null) || return 1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

stop_servers() {
  local f pid pids=()
  shopt -s nullglob
  for f in "$DIR"/run/*.pid; do
    pid=$(cat "$f" 2>/dev/null || true)
    if [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null; then pids+=("$pid"); fi
  done
  for _ in $(seq 50); do
    local alive=()
    for pid in "${pids[@]}"; do
      if kill -0 "$pid" 2>/dev/null; then alive+=("$pid"); fi
    done
    pids=("${alive[@]}")
    [ ${#pids[@]} -eq 0 ] && break
    sleep 0.1
  done
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  rm -f "$DIR"/run/*.pid
}

# Runs one server. Swift reads /etc/swift/swift.conf whatever swift_dir says (only the rings follow
# swift_dir), so this points it at DIR/etc/swift.conf before the modules that read it load. It also
# swaps two things this single-process setup has no use for: syslog (get_logger's handler; the
# servers run verbose, logging to stderr, which goes to DIR/log) and memcached (tempauth insists
# on a cache object even for S3 requests; an in-process dict serves, and unlike a shared memcached
# cannot mix up the cached account and container info of two instances).
write_launcher() {
  cat >"$DIR/etc/swift-s3-server.py" <<'EOF'
import ctypes, json, logging, os, signal, sys, time

etc, server, conf_file = sys.argv[1:4]
if os.environ.get("SLUICE_S3_PARENT"):
    # Dies with the supervising s3.sh (PR_SET_PDEATHSIG = 1); if that already died, so do we.
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != int(os.environ["SLUICE_S3_PARENT"]):
        sys.exit("s3.sh exited before the server started")

from swift.common import utils

utils.SWIFT_CONF_FILE = os.path.join(etc, "swift.conf")
utils.HASH_PATH_PREFIX = utils.HASH_PATH_SUFFIX = b""
utils.validate_configuration()
from swift.common import constraints, storage_policy

constraints.reload_constraints()
storage_policy.reload_storage_policies()


class NoSyslog(logging.NullHandler):
    def __init__(self, *args, **kwargs):
        super().__init__()


utils.ThreadSafeSysLogHandler = NoSyslog


class LocalCache:
    """The subset of swift.common.memcached.MemcacheRing that the proxy uses, in a dict."""

    def __init__(self, *args, **kwargs):
        self.items = {}

    @staticmethod
    def _expiry(ttl):
        ttl = float(ttl or 0)
        if ttl <= 0:
            return 0
        return ttl if ttl > 30 * 24 * 3600 else time.time() + ttl

    def _live(self, key):
        item = self.items.get(key)
        if item is not None and item[0] and item[0] < time.time():
            del self.items[key]
            return None
        return item

    def set(self, key, value, serialize=True, time=0, min_compress_len=0, raise_on_error=False):
        self.items[key] = (self._expiry(time), json.dumps(value) if serialize else value, serialize)

    def get(self, key, raise_on_error=False):
        item = self._live(key)
        if item is None:
            return None
        return json.loads(item[1]) if item[2] else item[1]

    def incr(self, key, delta=1, time=0):
        item = self._live(key)
        value = max(0, (int(item[1]) if item else 0) + int(delta))
        self.items[key] = (item[0] if item else self._expiry(time), value, False)
        return value

    def decr(self, key, delta=1, time=0):
        return self.incr(key, -delta, time)

    def delete(self, key, server_key=None):
        self.items.pop(key, None)

    def set_multi(self, mapping, server_key, serialize=True, time=0, min_compress_len=0):
        for key, value in mapping.items():
            self.set(key, value, serialize, time)

    def get_multi(self, keys, server_key):
        return [self.get(key) for key in keys]


from swift.common.middleware import memcache

memcache.MemcacheRing = LocalCache

from swift.common.wsgi import run_wsgi

kwargs = {"verbose": True}
if server == "object":
    from swift.obj import server as object_server

    kwargs["global_conf_callback"] = object_server.global_conf_callback
sys.exit(run_wsgi(conf_file, server + "-server", **kwargs))
EOF
}

write_configs() {
  local etc="$DIR/etc" user
  user=$(id -un)
  mkdir -p "$etc"
  if [ ! -f "$etc/swift.conf" ]; then
    # The hash path prefix and suffix place the data on disk: random once, then never changed.
    local prefix suffix
    prefix=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
    suffix=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
    cat >"$etc/swift.conf" <<EOF
[swift-hash]
swift_hash_path_prefix = $prefix
swift_hash_path_suffix = $suffix

[storage-policy:0]
name = Policy-0
default = yes

[swift-constraints]
# S3's limit on a single PUT and on a multipart part: 5 GiB (Swift's default, 5 GiB + 2).
max_file_size = 5368709122
EOF
  fi
  local s
  for s in account container object; do
    local port_var="${s^^}_PORT"
    cat >"$etc/$s-server.conf" <<EOF
[DEFAULT]
bind_ip = 127.0.0.1
bind_port = ${!port_var}
workers = 0
user = $user
swift_dir = $etc
devices = $DIR/srv
mount_check = false
log_name = $s-server
log_level = INFO
network_chunk_size = 1048576
disk_chunk_size = 1048576

[pipeline:main]
pipeline = healthcheck $s-server

[app:$s-server]
use = egg:swift#$s

[filter:healthcheck]
use = egg:swift#healthcheck
EOF
  done
  # The pipeline is the one of Swift's sample proxy-server.conf and s3api's documentation, less
  # what needs other services (container_sync, keystone) or is of no use here (quotas).
  cat >"$etc/proxy-server.conf" <<EOF
[DEFAULT]
bind_ip = 127.0.0.1
bind_port = $PORT
workers = 0
user = $user
swift_dir = $etc
log_name = proxy-server
log_level = INFO
client_timeout = 120

[pipeline:main]
pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats bulk tempurl ratelimit s3api tempauth copy slo dlo versioned_writes symlink proxy-logging proxy-server

[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true
allow_account_management = true
# An object server's last answer to a PUT of GiBs waits for its fsync: give it time.
node_timeout = 120
object_chunk_size = 1048576
client_chunk_size = 1048576

[filter:s3api]
use = egg:swift#s3api
location = us-east-1
s3_acl = false
check_bucket_owner = false
# S3's limit on parts (Swift's default is 1000; slo's max_manifest_segments below matches).
max_upload_part_num = 10000

[filter:tempauth]
use = egg:swift#tempauth
user_test_tester = $SECRET .admin

[filter:slo]
use = egg:swift#slo
max_manifest_segments = 10000

[filter:dlo]
use = egg:swift#dlo

[filter:catch_errors]
use = egg:swift#catch_errors

[filter:gatekeeper]
use = egg:swift#gatekeeper

[filter:healthcheck]
use = egg:swift#healthcheck

[filter:proxy-logging]
use = egg:swift#proxy_logging

[filter:cache]
use = egg:swift#memcache

[filter:listing_formats]
use = egg:swift#listing_formats

[filter:bulk]
use = egg:swift#bulk

[filter:tempurl]
use = egg:swift#tempurl

[filter:ratelimit]
use = egg:swift#ratelimit

[filter:copy]
use = egg:swift#copy

[filter:versioned_writes]
use = egg:swift#versioned_writes

[filter:symlink]
use = egg:swift#symlink
EOF
}

# A single-replica ring with one device, DIR/srv/sda, shared by the three rings as in Swift's
# all-in-one. Partitions depend on the hash path prefix/suffix and the part power only, so a ring
# rebuilt for a new port finds the data where the old one put it.
build_ring() {
  local name=$1 port=$2 builder="$DIR/etc/$1.builder" out
  rm -f "$builder" "$DIR/etc/$name.ring.gz"
  out=$(swift-ring-builder "$builder" create 10 1 1 2>&1 &&
    swift-ring-builder "$builder" add "r1z1-127.0.0.1:$port/sda" 1 2>&1 &&
    swift-ring-builder "$builder" rebalance 2>&1) || die "swift-ring-builder $name failed: $out"
  echo "$port" >"$DIR/etc/$name.port"
}

start() {
  command -v swift-proxy-server >/dev/null && command -v swift-ring-builder >/dev/null ||
    die "OpenStack Swift is not installed (apt-get install python3-swift swift-proxy swift-account swift-container swift-object)"
  "$PY" -c 'import swift.common.middleware.s3api' 2>/dev/null ||
    die "$PY cannot import swift's s3api middleware (apt-get install python3-swift)"
  command -v curl >/dev/null || die "curl is not installed (apt-get install curl)"
  mkdir -p "$DIR"/{etc,srv/sda,run,log}
  DIR=$(cd "$DIR" && pwd)
  local s
  for s in $SERVERS; do
    if pid_alive "$DIR/run/$s.pid"; then die "already running under $DIR (s3.sh stop $DIR first)"; fi
  done
  rm -f "$DIR"/run/*.pid

  if [ -z "$PORT" ]; then PORT=$(cat "$DIR/etc/proxy.port" 2>/dev/null || free_port); fi
  port_busy "$PORT" && die "port $PORT is in use"
  echo "$PORT" >"$DIR/etc/proxy.port"
  # The backends keep their ports across restarts (they are in the rings); a taken one is replaced.
  # The rings build in parallel: swift-ring-builder is a python start-up per step.
  local builders=() b
  for s in account container object; do
    local port ring="$DIR/etc/$s.ring.gz"
    port=$(cat "$DIR/etc/$s.port" 2>/dev/null || true)
    if [ -z "$port" ] || [ ! -f "$ring" ] || port_busy "$port" || [ "$port" = "$PORT" ]; then
      port=$(free_port)
      while [ "$port" = "$PORT" ] || [ "$port" = "${ACCOUNT_PORT:-}" ] || [ "$port" = "${CONTAINER_PORT:-}" ]; do
        port=$(free_port)
      done
      build_ring "$s" "$port" &
      builders+=($!)
    fi
    printf -v "${s^^}_PORT" '%s' "$port"
  done
  for b in "${builders[@]}"; do wait "$b" || exit 1; done
  write_configs
  write_launcher

  if [ "${SLUICE_S3_FOREGROUND:-}" = 1 ]; then export SLUICE_S3_PARENT=$$; fi
  # The backends first, the proxy once they answer: a proxy that answers before its backends
  # would tell clients that their buckets do not exist (404 NoSuchBucket).
  local p ready group
  for group in "account container object" proxy; do
    local ports=""
    for s in $group; do
      "$PY" "$DIR/etc/swift-s3-server.py" "$DIR/etc" "$s" "$DIR/etc/$s-server.conf" \
        </dev/null >>"$DIR/log/$s.log" 2>&1 &
      echo $! >"$DIR/run/$s.pid"
    done
    if [ "$group" = proxy ]; then ports=$PORT; else ports="$ACCOUNT_PORT $CONTAINER_PORT $OBJECT_PORT"; fi
    for _ in $(seq 300); do
      ready=1
      for p in $ports; do
        if ! curl -sf -o /dev/null --max-time 1 "http://127.0.0.1:$p/healthcheck"; then
          ready=0
          break
        fi
      done
      [ $ready = 1 ] && break
      for s in $group; do
        if ! pid_alive "$DIR/run/$s.pid"; then
          stop_servers
          die "the $s server exited: $(tail -n 20 "$DIR/log/$s.log")"
        fi
      done
      sleep 0.1
    done
    [ $ready = 1 ] || break
  done
  if [ $ready != 1 ]; then
    stop_servers
    die "the servers did not answer within 30 s (logs in $DIR/log)"
  fi
  echo "endpoint=http://127.0.0.1:$PORT access_key=test:tester secret_key=$SECRET region=us-east-1"
  if [ "${SLUICE_S3_FOREGROUND:-}" = 1 ]; then
    # Supervises until stop; the servers die with this shell (see swift-s3-server.py).
    wait || true
  fi
}

case "$CMD" in
  start) start ;;
  stop)
    [ -d "$DIR" ] || exit 0
    stop_servers
    ;;
  *) die "unknown command '$CMD' ($usage)" ;;
esac

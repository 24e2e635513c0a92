# Shared by the benchmark drivers (sourced): a local cluster of 1 JobManager and 2 TaskManagers x 1
# slot on an ephemeral port in a temporary directory, always stopped by a trap, and small helpers.
# The sourcing script sets BENCH_NAME first, and SLUICE (the `sluice` binary) with use_build.

die() { echo "$BENCH_NAME: $*" >&2; exit 1; }

# require BUILD_DIR FILE...: every file exists, or says to build first.
require() {
  local build=$1 f
  shift
  for f; do [[ -e $f ]] || die "$f is missing; build first (ninja -C $build)"; done
}

# positive NAME VALUE: dies unless VALUE is a positive integer.
positive() { [[ $2 =~ ^[1-9][0-9]*$ ]] || die "$1 must be a positive integer, got '$2'"; }

# use_build DIR FILE...: sets BUILD_DIR (absolute) and SLUICE; the daemons and every FILE (relative
# to the build directory) must exist.
use_build() {
  local dir=$1 f files=()
  BUILD_DIR=$(cd "$dir" && pwd) || die "no build directory '$dir'"
  SLUICE=$BUILD_DIR/bin/sluice
  shift
  for f in bin/sluice bin/sluice-jobmanager bin/sluice-taskmanager "$@"; do files+=("$BUILD_DIR/$f"); done
  require "$BUILD_DIR" "${files[@]}"
}

CLK_TCK=$(getconf CLK_TCK)
CLUSTER_DIR=
JM_ADDRESS=
PIDS=()  # JobManager, TaskManager 1, TaskManager 2

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [[ -n $CLUSTER_DIR ]]; then
    if [[ -e $CLUSTER_DIR/jobmanager.pid ]] || compgen -G "$CLUSTER_DIR/taskmanager-*.pid" >/dev/null; then
      "$SLUICE" cluster stop --dir "$CLUSTER_DIR" >/dev/null 2>&1 || true
    fi
    # Whatever survived `cluster stop`: only our own daemons, checked by program name against pid reuse.
    local pid comm
    for pid in "${PIDS[@]}"; do
      comm=$(cat "/proc/$pid/comm" 2>/dev/null || true)
      if [[ $comm == sluice-* ]]; then kill -KILL "$pid" 2>/dev/null || true; fi
    done
    if [[ ${SLUICE_BENCH_KEEP:-0} == 1 ]]; then
      echo "cluster directory kept: $CLUSTER_DIR" >&2
    else
      rm -rf "$CLUSTER_DIR"
    fi
  fi
  exit "$rc"
}

# Starts the cluster with SLUICE_BENCH_DEFINES ("-D key=value ..."); sets JM_ADDRESS and PIDS.
start_cluster() {
  CLUSTER_DIR=$(mktemp -d "${TMPDIR:-/tmp}/sluice-$BENCH_NAME.XXXXXX")
  trap cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  local defines out f
  read -r -a defines <<<"${SLUICE_BENCH_DEFINES:-}"
  out=$("$SLUICE" cluster start --dir "$CLUSTER_DIR" --taskmanagers 2 --slots 1 \
    -D jobmanager.rpc.port=0 -D rest.port=0 -D metrics.reporter.prom.port=0 "${defines[@]}") || { echo "$out" >&2; die "cluster start failed"; }
  JM_ADDRESS=$(tail -n 1 <<<"$out")
  for f in "$CLUSTER_DIR/jobmanager.pid" "$CLUSTER_DIR/taskmanager-1.pid" "$CLUSTER_DIR/taskmanager-2.pid"; do
    [[ -s $f ]] || die "missing pid file $f"
    PIDS+=("$(tr -d '[:space:]' <"$f")")
  done
}

# "user system" CPU ticks of one process (utime+cutime, stime+cstime), counted after the ")" that
# closes the command name (which may contain spaces), plus those of its live children (the job
# processes of a TaskManager with taskmanager.process-per-job): a child's ticks move to its
# parent's cutime and cstime when it is reaped, so each tick counts once.
cpu_ticks_split() {
  local stat kids k
  stat=$(cat "/proc/$1/stat") || die "process $1 is gone"
  kids=$(cat /proc/"$1"/task/*/children 2>/dev/null || true)
  {
    awk '{ print $12 + $14, $13 + $15 }' <<<"${stat##*) }"
    for k in $kids; do
      stat=$(cat "/proc/$k/stat" 2>/dev/null) || continue
      awk '{ print $12 + $14, $13 + $15 }' <<<"${stat##*) }"
    done
  } | awk '{ u += $1; s += $2 } END { print u, s }'
}
cpu_ticks() { cpu_ticks_split "$1" | awk '{ print $1 + $2 }'; }

now() { date +%s.%N; }
calc() { awk "BEGIN { printf \"$1\", $2 }"; }
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

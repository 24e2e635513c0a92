#!/usr/bin/env bash
# Savepoint duration and rescale downtime of the ledger job (build/examples/ledger.so: keyed by
# account, one ValueState<int64> balance per account, file sink) for K accounts (keys), heap
# (state.backend.type=hashmap) and RocksDB (rocksdb, incremental), each against a baseline measured
# in the same run. See bench/README.md, "Savepoints and rescaling".
#
# Local cluster: 1 JobManager, 2 TaskManagers x 3 slots. Per backend:
#   baseline  a warm-up and then RUNS times `sluice run --detached` of the same job with empty state
#             at parallelism 3: the fixed cost of deploying tasks.
# Per backend and K:
#   fill      the job at parallelism 2, unlimited rate, discarding sink (RocksDB: full snapshots),
#             until the first K transaction ids are through (transaction i hits account
#             (i * 7919) % K, so then every account has state); `sluice stop` (stop-with-savepoint,
#             at full load);
#   restore   `sluice run --from-savepoint` of that savepoint with the file sink and RATE
#             transactions/s per source subtask, the rate of every measurement below;
#   savepoint RUNS times, right after a periodic checkpoint completed: wall time of
#             `sluice savepoint` (it returns when the savepoint folder is complete), the folder's
#             size (du -sb), and from the JobManager's log the checkpoint part and the copy into
#             the savepoint folder; baseline: `cp -r` of that folder, and `cp -r` + `sync` of the copy
#             (the savepoint fsyncs its files);
#   rescale   RESCALES times, alternating 2 -> 3 and 3 -> 2, right after a periodic checkpoint: from
#             the start of `sluice rescale` until it returned, until the JobManager logged the last
#             new subtask RUNNING, and until a new sink subtask / every new sink subtask had written
#             output; the JobManager log's split (savepoint, old tasks ending, redeploy and restore);
#   stop      `sluice stop` of the rate-limited job.
# Times "to RUNNING" come from the JobManager's log (ms); "output" is the first poll (every 20 ms) of
# the output folder showing a non-empty part file of the new job or attempt, i.e. its sink subtask
# has filled its 64 KiB stdio buffer once (~2,100 records, ~0.1 s at 20,000 records/s). The job is
# not polled with `sluice status` during a rescale: a status request while a scale-up redeploys can
# crash the JobManager (bench/README.md, "Savepoints and rescaling").
#
#   bench/run_savepoint.sh [BUILD_DIR (build)] [KEYS... (100000 1000000)]
#   env: SLUICE_BENCH_SP_KEYS ("100000 1000000") when no KEYS are given;
#        SLUICE_BENCH_BACKENDS ("hashmap rocksdb");
#        SLUICE_BENCH_RATE (20000) transactions/s per source subtask during the measurements;
#        SLUICE_BENCH_RUNS (3) savepoints per K and baseline runs per backend;
#        SLUICE_BENCH_RESCALES (2) rescales per K (2 -> 3, 3 -> 2, 2 -> 3, ...);
#        SLUICE_BENCH_FILL_INCREMENTAL=1 fills RocksDB with incremental snapshots too (the
#        savepoints after the restore then fail: bench/README.md, "Savepoints and rescaling");
#        SLUICE_BENCH_DEFINES="-D key=value ..." settings for the daemons;
#        SLUICE_BENCH_KEEP=1 keeps the cluster directory (logs, state, output).
# Needs jq. Builds nothing.
set -euo pipefail

BUILD_DIR=${1:-build}
if (($# > 1)); then KEYS_LIST="${*:2}"; else KEYS_LIST=${SLUICE_BENCH_SP_KEYS:-100000 1000000}; fi
BACKENDS=${SLUICE_BENCH_BACKENDS:-hashmap rocksdb}
RATE=${SLUICE_BENCH_RATE:-20000}
RUNS=${SLUICE_BENCH_RUNS:-3}
RESCALES=${SLUICE_BENCH_RESCALES:-2}
FILL_INCREMENTAL=false
[[ ${SLUICE_BENCH_FILL_INCREMENTAL:-0} == 1 ]] && FILL_INCREMENTAL=true
TIMEOUT_S=300  # for one phase (fill, a job to come up, a checkpoint to complete)

BENCH_NAME=run_savepoint
source "$(dirname "$0")/lib.sh"
read -r -a KEYS <<<"$KEYS_LIST"
((${#KEYS[@]} > 0)) || die "no KEYS"
for k in "${KEYS[@]}"; do positive KEYS "$k"; done
for b in $BACKENDS; do [[ $b == hashmap || $b == rocksdb ]] || die "unknown backend '$b'"; done
positive SLUICE_BENCH_RATE "$RATE"
positive SLUICE_BENCH_RUNS "$RUNS"
positive SLUICE_BENCH_RESCALES "$RESCALES"
command -v jq >/dev/null || die "needs jq"

use_build "$BUILD_DIR" examples/ledger.so
PACKAGE=$BUILD_DIR/examples/ledger.so
read -r -a DAEMON_DEFINES <<<"${SLUICE_BENCH_DEFINES:-}"

# ---- cluster, and the one process of ours that may outlive a failure ----
RESCALE_PID=  # the background subshell running `sluice rescale`
on_exit() {
  local rc=$? pid
  if [[ -n $RESCALE_PID ]] && kill -0 "$RESCALE_PID" 2>/dev/null; then
    for pid in $(ps -o pid= --ppid "$RESCALE_PID" 2>/dev/null); do kill "$pid" 2>/dev/null || true; done
    kill "$RESCALE_PID" 2>/dev/null || true
  fi
  set +e
  (exit "$rc")  # cleanup exits with $?
  cleanup       # lib.sh: stops the cluster of CLUSTER_DIR, kills what is left of PIDS, removes the dir
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

CLUSTER_DIR=$(mktemp -d "${TMPDIR:-/tmp}/sluice-$BENCH_NAME.XXXXXX")
out=$("$SLUICE" cluster start --dir "$CLUSTER_DIR" --taskmanagers 2 --slots 3 \
  -D jobmanager.rpc.port=0 -D rest.port=0 -D metrics.reporter.prom.port=0 -D metrics.report.interval=200ms "${DAEMON_DEFINES[@]}") ||
  { echo "$out" >&2; die "cluster start failed"; }
JM_ADDRESS=$(tail -n 1 <<<"$out")
for f in jobmanager taskmanager-1 taskmanager-2; do
  [[ -s $CLUSTER_DIR/$f.pid ]] || die "missing pid file $CLUSTER_DIR/$f.pid"
  PIDS+=("$(tr -d '[:space:]' <"$CLUSTER_DIR/$f.pid")")
done
JM_LOG=$CLUSTER_DIR/log/jobmanager.log
WORK=$CLUSTER_DIR/work

# ---- helpers ----
gt() { awk "BEGIN { exit !($1 > $2) }"; }
sub() { calc %.3f "$1 - $2"; }
med() { printf '%s\n' "$@" | median | awk '{ printf($1 ~ /^[0-9.]+$/ ? "%.3f\n" : "%s\n", $1) }'; }
# ratio A B [DECIMALS]: A / B, or nan when either is not a positive number.
ratio() {
  if [[ $1 =~ ^[0-9.]+$ && $2 =~ ^[0-9.]+$ ]] && gt "$2" 0; then
    calc "%.${3:-1}f" "$1 / $2"
  else
    echo nan
  fi
}
status() { "$SLUICE" status "$1" --jobmanager "$JM_ADDRESS" --json 2>/dev/null || true; }
last_checkpoint() {
  local id
  id=$(jq -r '.lastCheckpoint.id // 0' <<<"$(status "$1")" 2>/dev/null || true)
  echo "${id:-0}"
}
jm_alive() { [[ $(cat "/proc/${PIDS[0]}/comm" 2>/dev/null || true) == sluice-jobmanag* ]]; }
jm_died() { tail -n 3 "$JM_LOG" >&2; die "the JobManager died during $1 (log above)"; }

log_size() { stat -c %s "$JM_LOG"; }
log_after() { tail -c +"$(($1 + 1))" "$JM_LOG"; }
# log_epoch OFFSET REGEX [N]: epoch seconds of the N-th (1) JobManager log line after byte OFFSET
# that matches REGEX, or nan. The log's clock is the one of `now`.
log_epoch() {
  local line
  line=$(log_after "$1" | grep -E "$2" | sed -n "${3:-1}p")
  if [[ -z $line ]]; then echo nan; else date -d "${line:0:23}" +%s.%N; fi
}
# log_ms OFFSET A B: ms from the first log line after OFFSET matching A to the first after it
# matching B, or nan.
log_ms() {
  local a b
  a=$(log_epoch "$1" "$2")
  [[ $a == nan ]] && { echo nan; return; }
  b=$(log_after "$1" | awk -v a="$2" -v b="$3" 'f && $0 ~ b { print; exit } $0 ~ a { f = 1 }')
  [[ -z $b ]] && { echo nan; return; }
  calc %.0f "1000 * ($(date -d "${b:0:23}" +%s.%N) - $a)"
}
ms_from() { if [[ $2 == nan ]]; then echo nan; else calc %.0f "1000 * ($2 - $1)"; fi; }
# subtask_ms JOB: the largest sync, async, alignment and start-delay ms over the subtasks of the
# newest completed checkpoint (`sluice checkpoints`), as "sync/async/alignment/start".
subtask_ms() {
  "$SLUICE" checkpoints "$1" --jobmanager "$JM_ADDRESS" 2>/dev/null | awk '
    / per subtask:$/ { on = 1; next }
    on && / ms / { n = 0
      for (i = 2; i <= NF; i++) if ($i == "ms") { n++; if ($(i - 1) > m[n]) m[n] = $(i - 1) } }
    END { printf "%d/%d/%d/%d\n", m[1], m[2], m[3], m[4] }'
}

# Part files are [.]part-<job>-<subtask>-<attempt>-<n>[.inprogress|.pending].
# sink_subtasks_with_output DIR MIN_ATTEMPT: how many sink subtasks of attempt >= MIN_ATTEMPT have
# a non-empty part file in DIR.
# (A part file renamed or removed while find looks at it makes find fail: not an error here.)
sink_subtasks_with_output() {
  { find "$1" -maxdepth 1 -name '*part-*' -size +0c -printf '%f\n' 2>/dev/null || true; } |
    awk -F- -v min="$2" '$4 + 0 >= min { s[$3] = 1 } END { print length(s) }'
}
max_attempt() {
  { find "$1" -maxdepth 1 -name '*part-*' -printf '%f\n' 2>/dev/null || true; } |
    awk -F- '$4 + 0 > m { m = $4 + 0 } END { print m + 0 }'
}

# follow WHAT DIR MIN_ATTEMPT P T0 OFFSET: after a submission or rescale (WHAT) that started at T0
# (log at byte OFFSET), waits until P sink subtasks of attempt >= MIN_ATTEMPT have written output to
# DIR. Sets FOLLOW to "running first all": seconds from T0 to the 2P-th subtask switching to RUNNING
# in the log (two vertices), to the first sink subtask's output and to the P-th one's.
follow() {
  local what=$1 dir=$2 min=$3 p=$4 t0=$5 off=$6 n first=nan all=nan running
  while true; do
    n=$(sink_subtasks_with_output "$dir" "$min")
    if ((n > 0)) && [[ $first == nan ]]; then first=$(sub "$(now)" "$t0"); fi
    if ((n >= p)); then all=$(sub "$(now)" "$t0"); break; fi
    jm_alive || jm_died "$what"
    gt "$(now) - $t0" "$TIMEOUT_S" && die "no output of $p sink subtasks in $dir after ${TIMEOUT_S}s"
    sleep 0.02
  done
  running=$(log_epoch "$off" 'switched from INITIALIZING to RUNNING' $((2 * p)))
  [[ $running == nan ]] || running=$(sub "$running" "$t0")
  FOLLOW="$running $first $all"
}

# wait_checkpoint JOB: waits until a checkpoint newer than the current one has completed.
wait_checkpoint() {
  local c0 t0
  c0=$(last_checkpoint "$1")
  t0=$(now)
  while (($(last_checkpoint "$1") <= c0)); do
    gt "$(now) - $t0" "$TIMEOUT_S" && die "no checkpoint of job $1 completed within ${TIMEOUT_S}s"
    sleep 0.05
  done
}

# job_settings BACKEND [INCREMENTAL (true)]: sets JOB_DEFINES.
job_settings() {
  JOB_DEFINES=(-D execution.checkpointing.interval=5s -D "state.checkpoints.dir=$WORK/checkpoints"
    -D "state.savepoints.dir=$WORK/savepoints" -D "state.backend.type=$1")
  if [[ $1 == rocksdb ]]; then JOB_DEFINES+=(-D "state.backend.incremental=${2:-true}"); fi
}
# submit PARALLELISM ARGS...: runs the ledger detached; prints the job id.
submit() {
  local p=$1 s
  shift
  s=$("$SLUICE" run "$PACKAGE" --jobmanager "$JM_ADDRESS" --parallelism "$p" --detached --json \
    --arg transactions=0 "${JOB_DEFINES[@]}" "$@") || { echo "$s" >&2; die "submission failed"; }
  jq -r .id <<<"$s"
}
cancel() { "$SLUICE" cancel "$1" --jobmanager "$JM_ADDRESS" >/dev/null || die "cancel of $1 failed"; }

# ---- baseline: an empty-state job at parallelism 3 to RUNNING and to output ----
baseline() {
  local r t0 t1 off job running first all
  B_RUN=() B_FIRST=() B_ALL=()
  for ((r = 0; r <= RUNS; r++)); do  # run 0: warm-up (package fetch and load, first RocksDB open)
    rm -rf "$WORK"
    mkdir -p "$WORK/out"
    off=$(log_size)
    t0=$(now)
    job=$(submit 3 --arg accounts=1000 --arg rate="$RATE" --arg output="$WORK/out")
    t1=$(now)
    follow "baseline run $r" "$WORK/out" 0 3 "$t0" "$off"
    read -r running first all <<<"$FOLLOW"
    cancel "$job"
    ((r > 0)) || continue
    B_RUN+=("$running") B_FIRST+=("$first") B_ALL+=("$all")
    echo "  baseline run $r: run returned $(sub "$t1" "$t0") s, all RUNNING $running s," \
      "output of one sink subtask $first s, of all $all s"
  done
  rm -rf "$WORK"
}

# ---- one backend and K ----
measure() {
  local backend=$1 keys=$2 job t0 t1 s n sp id size files off r from to p0 running first all min
  local chk_ms copy_ms c0 c1 c2 wall cp_s cps_s sp_ms stop_ms deploy_ms pre_ms sub_ms rc
  rm -rf "$WORK"
  mkdir -p "$WORK/out"

  # Fill: ids j, j+8, ... of split j; splits 0,2,4,6 on source subtask 0 and 1,3,5,7 on subtask 1,
  # each subtask cycling through its splits, so ids < 2 * min(records out per subtask) are done.
  # RocksDB fills with full (not incremental) snapshots: a job restored from an incremental
  # savepoint at the same parallelism takes the savepoint's SST files as already uploaded and its
  # checkpoints then name files that are not in its checkpoint folder (README: "Problems found").
  job_settings "$backend" "$FILL_INCREMENTAL"
  t0=$(now)
  job=$(submit 2 --arg accounts="$keys" --arg rate=0)
  job_settings "$backend"
  while true; do
    n=$(jq -r '[.vertices[0].subtasks[] | .metrics.numRecordsOut // 0] | if length == 2 then min else 0 end' \
      <<<"$(status "$job")" 2>/dev/null || true)
    n=${n:-0}
    ((2 * n >= keys)) && break
    jm_alive || jm_died "the fill"
    gt "$(now) - $t0" "$TIMEOUT_S" && die "fill of $keys keys not done after ${TIMEOUT_S}s (2 x $n)"
    sleep 0.1
  done
  t1=$(now)
  s=$("$SLUICE" stop "$job" --jobmanager "$JM_ADDRESS" --json) || { echo "$s" >&2; die "stop failed"; }
  p0=$(jq -r .path <<<"$s")
  echo "  fill: $(sub "$t1" "$t0") s ($n transactions per source subtask);" \
    "stop-with-savepoint at full load $(sub "$(now)" "$t1") s, $(du -sb "$p0" | cut -f1) bytes"

  # Restore at the measuring rate.
  off=$(log_size)
  t0=$(now)
  job=$(submit 2 --arg accounts="$keys" --arg rate="$RATE" --arg output="$WORK/out" --from-savepoint "$p0")
  t1=$(now)
  follow "the restore" "$WORK/out" 0 2 "$t0" "$off"
  read -r running first all <<<"$FOLLOW"
  echo "  restore (run --from-savepoint, parallelism 2): run returned $(sub "$t1" "$t0") s," \
    "all RUNNING $running s, output of one sink subtask $first s, of all $all s"
  R_RUN+=("$running") R_ALL+=("$all")
  rm -rf "$p0"

  # Savepoints.
  echo
  printf '  %-9s %7s %6s %6s %7s %-15s %11s %5s %7s %7s %6s %7s\n' savepoint "wall s" "pre ms" "chk ms" \
    "copy ms" "subtask max ms" bytes files "cp -r s" "+sync s" ratio "ratio+s"
  for ((r = 1; r <= RUNS; r++)); do
    wait_checkpoint "$job"
    off=$(log_size)
    t0=$(now)
    s=$("$SLUICE" savepoint "$job" --jobmanager "$JM_ADDRESS" --json) ||
      { echo "$s" >&2; die "savepoint failed"; }
    t1=$(now)
    sp=$(jq -r .path <<<"$s")
    id=${sp##*-}  # <dir>/savepoint-<short job id>-<checkpoint id>
    size=$(du -sb "$sp" | cut -f1)
    files=$(find "$sp" -type f | wc -l)
    pre_ms=$(ms_from "$t0" "$(log_epoch "$off" "savepoint $id triggered")")
    chk_ms=$(log_ms "$off" "savepoint $id triggered" "Completed checkpoint $id ")
    copy_ms=$(log_ms "$off" "Completed checkpoint $id " "savepoint $id written")
    sub_ms=$(subtask_ms "$job")
    c0=$(now)
    cp -r "$sp" "$WORK/copy"
    c1=$(now)
    find "$WORK/copy" -type f -exec sync {} +
    sync "$WORK/copy"
    c2=$(now)
    rm -rf "$WORK/copy" "$sp"
    wall=$(sub "$t1" "$t0") cp_s=$(sub "$c1" "$c0") cps_s=$(sub "$c2" "$c0")
    printf '  %-9s %7s %6s %6s %7s %-15s %11s %5s %7s %7s %6s %7s\n' "$r" "$wall" "$pre_ms" "$chk_ms" \
      "$copy_ms" "$sub_ms" "$size" "$files" "$cp_s" "$cps_s" "$(ratio "$wall" "$cp_s")" \
      "$(ratio "$wall" "$cps_s")"
    SP_WALL+=("$wall") SP_CP+=("$cp_s") SP_CPS+=("$cps_s")
  done
  SP_SIZE=$size

  # Rescales. `sluice rescale` runs in the background while this shell watches the output folder.
  echo
  printf '  %-9s %8s %8s %7s %7s %6s %6s %7s %9s\n' rescale returned RUNNING output "all out" "pre ms" \
    "sp ms" "stop ms" "deploy ms"
  from=2
  for ((r = 1; r <= RESCALES; r++)); do
    to=$((5 - from))
    wait_checkpoint "$job"
    min=$(($(max_attempt "$WORK/out") + 1))
    off=$(log_size)
    t0=$(now)
    (
      rc=0
      "$SLUICE" rescale "$job" --parallelism "$to" --jobmanager "$JM_ADDRESS" --json \
        >"$WORK/rescale.out" 2>&1 || rc=$?
      echo "$rc $(now)" >"$WORK/rescale.rc"
    ) &
    RESCALE_PID=$!
    follow "rescale $from -> $to" "$WORK/out" "$min" "$to" "$t0" "$off"
    wait "$RESCALE_PID" || true
    RESCALE_PID=
    read -r rc t1 <"$WORK/rescale.rc"
    ((rc == 0)) || { cat "$WORK/rescale.out" >&2; die "rescale failed"; }
    read -r running first all <<<"$FOLLOW"
    id=$(jq -r .savepoint_path "$WORK/rescale.out")
    id=${id##*chk-}  # <state.checkpoints.dir>/<job id>/chk-<checkpoint id>
    pre_ms=$(ms_from "$t0" "$(log_epoch "$off" 'rescales: ')")
    sp_ms=$(log_ms "$off" 'rescales: ' "Completed checkpoint $id ")
    stop_ms=$(log_ms "$off" "Completed checkpoint $id " 'switched from state RUNNING to RESTARTING')
    deploy_ms=$(log_ms "$off" 'switched from state RUNNING to RESTARTING' 'runs at its new parallelism')
    printf '  %-9s %8s %8s %7s %7s %6s %6s %7s %9s\n' "$from -> $to" "$(sub "$t1" "$t0")" "$running" \
      "$first" "$all" "$pre_ms" "$sp_ms" "$stop_ms" "$deploy_ms"
    if ((to == 3)); then
      RS_RET+=("$(sub "$t1" "$t0")") RS_RUN+=("$running") RS_FIRST+=("$first") RS_ALL+=("$all")
    fi
    from=$to
  done

  # Stop-with-savepoint at the measuring rate.
  t0=$(now)
  s=$("$SLUICE" stop "$job" --jobmanager "$JM_ADDRESS" --json) || { echo "$s" >&2; die "stop failed"; }
  echo
  echo "  stop-with-savepoint (rate-limited job): $(sub "$(now)" "$t0") s"
  rm -rf "$WORK"
}

echo "Sluice savepoint and rescale benchmark: ledger job, keyed ValueState per account"
echo "  keys: ${KEYS[*]}; backends: $BACKENDS; $RATE transactions/s per source subtask while measuring"
echo "  2 TaskManagers x 3 slots, checkpoints every 5 s; runs=$RUNS, rescales=$RESCALES"
echo "  machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')," \
  "$(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "  JobManager $JM_ADDRESS (pids: JM ${PIDS[0]}, TM ${PIDS[1]}, ${PIDS[2]})"

row() { printf '%-8s %9s %7s %11s %7s %7s %6s %8s %8s %8s %8s %8s %6s %6s\n' "$@"; }
SUMMARY=()
for backend in $BACKENDS; do
  job_settings "$backend"
  echo
  echo "== $backend: baseline, empty-state job at parallelism 3 =="
  baseline
  base_run=$(med "${B_RUN[@]}") base_all=$(med "${B_ALL[@]}")
  for keys in "${KEYS[@]}"; do
    echo
    echo "== $backend, keys=$keys =="
    SP_WALL=() SP_CP=() SP_CPS=() RS_RET=() RS_RUN=() RS_FIRST=() RS_ALL=() R_RUN=() R_ALL=()
    measure "$backend" "$keys"
    sp=$(med "${SP_WALL[@]}") cp_s=$(med "${SP_CP[@]}") cps=$(med "${SP_CPS[@]}")
    run=$(med "${RS_RUN[@]}") all=$(med "${RS_ALL[@]}")
    SUMMARY+=("$(row "$backend" "$keys" "$sp" "$SP_SIZE" "$cp_s" "$cps" "$(ratio "$sp" "$cp_s")" \
      "$(med "${RS_RET[@]}")" "$run" "$(med "${RS_FIRST[@]}")" "$all" "${R_ALL[0]}" \
      "$(ratio "$run" "$base_run" 2)" "$(ratio "$all" "$base_all" 2)")")
  done
  SUMMARY+=("$(row "$backend" baseline - - - - - - "$base_run" "$(med "${B_FIRST[@]}")" "$base_all" - - -)")
done

echo
echo "medians in seconds (savepoint: of $RUNS; rescale: of the 2 -> 3 ones;" \
  "baseline: empty-state run at parallelism 3)"
row backend keys "sp s" "sp bytes" "cp -r" "+sync" ratio returned RUNNING output "all out" restore \
  "run/b" "out/b"
printf '%s\n' "${SUMMARY[@]}"

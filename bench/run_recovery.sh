#!/usr/bin/env bash
# Recovery time after a TaskManager dies. Each round starts a fresh local cluster (1 JobManager,
# 3 TaskManagers x 2 slots, default heartbeat settings), runs the unbounded ledger job
# (build/examples/ledger.so, parallelism 2, 20,000 transactions/s per source subtask, file sink,
# checkpoints every second), waits until every subtask is RUNNING and a checkpoint has completed,
# then `kill -9`s a TaskManager that runs subtasks and polls `sluice status --json` (~every 50 ms)
# and the output folder. Times from the kill:
#   detect     the job leaves RUNNING (its first poll showing it; "log": the JobManager's log line
#              saying the TaskManager was lost, to the millisecond)
#   running    the job and all its subtasks RUNNING again, in a new attempt (poll; "log": the
#              JobManager's log line of the last subtask switching to RUNNING)
#   flowing    the new attempt's sink has written records (a non-empty part file of that attempt,
#              hidden or visible; the sink's stdio buffer is 64 KiB, ~130 ms of this job's output)
#   committed  a visible (committed) part file of the new attempt: needs one checkpoint of the new
#              attempt to complete (interval 1 s)
# Two restart configurations per round: the default with checkpointing on (exponential-delay,
# initial backoff 1 s, jitter 10 %) and fixed-delay with no delay. Medians over RUNS rounds. See
# bench/README.md, "Checkpoints".
#
#   bench/run_recovery.sh [BUILD_DIR (build)] [RUNS (3)]
#   env: SLUICE_BENCH_RUNS when the argument is absent; SLUICE_BENCH_RATE (20000) transactions per
#        second per source subtask; SLUICE_BENCH_JOB_DEFINES="-D key=value ..." extra settings for
#        every job; SLUICE_BENCH_DEFINES="-D key=value ..." settings for the daemons;
#        SLUICE_BENCH_KEEP=1 keeps the last round's cluster directory (logs, output, checkpoints).
# Builds nothing.
set -euo pipefail

BUILD_DIR=${1:-build}
RUNS=${2:-${SLUICE_BENCH_RUNS:-3}}
RATE=${SLUICE_BENCH_RATE:-20000}
POLL_S=0.05
TIMEOUT_S=60

BENCH_NAME=run_recovery
source "$(dirname "$0")/lib.sh"
positive RUNS "$RUNS"
positive SLUICE_BENCH_RATE "$RATE"

use_build "$BUILD_DIR" examples/ledger.so
PACKAGE=$BUILD_DIR/examples/ledger.so
read -r -a JOB_DEFINES <<<"${SLUICE_BENCH_JOB_DEFINES:-}"
read -r -a DAEMON_DEFINES <<<"${SLUICE_BENCH_DEFINES:-}"

declare -A CONFIG_DEFINES=(
  [default]=""
  [fixed-0]="-D restart-strategy.type=fixed-delay -D restart-strategy.fixed-delay.delay=0"
)
CONFIGS=(default fixed-0)

trap cleanup EXIT  # lib.sh: stops the cluster of CLUSTER_DIR, kills what is left of PIDS
trap 'exit 130' INT
trap 'exit 143' TERM

# A fresh cluster of 3 TaskManagers x 2 slots; sets CLUSTER_DIR, JM_ADDRESS and PIDS.
start_cluster3() {
  local out f
  CLUSTER_DIR=$(mktemp -d "${TMPDIR:-/tmp}/sluice-$BENCH_NAME.XXXXXX")
  PIDS=()
  out=$("$SLUICE" cluster start --dir "$CLUSTER_DIR" --taskmanagers 3 --slots 2 \
    -D jobmanager.rpc.port=0 -D rest.port=0 -D metrics.reporter.prom.port=0 "${DAEMON_DEFINES[@]}") || { echo "$out" >&2; die "cluster start failed"; }
  JM_ADDRESS=$(tail -n 1 <<<"$out")
  for f in jobmanager taskmanager-1 taskmanager-2 taskmanager-3; do
    [[ -s $CLUSTER_DIR/$f.pid ]] || die "missing pid file $CLUSTER_DIR/$f.pid"
    PIDS+=("$(tr -d '[:space:]' <"$CLUSTER_DIR/$f.pid")")
  done
}

stop_cluster() {
  local pid
  "$SLUICE" cluster stop --dir "$CLUSTER_DIR" >/dev/null 2>&1 || true
  for pid in "${PIDS[@]}"; do
    if [[ $(cat "/proc/$pid/comm" 2>/dev/null || true) == sluice-* ]]; then kill -KILL "$pid" 2>/dev/null || true; fi
  done
  rm -rf "$CLUSTER_DIR"
  CLUSTER_DIR=''
  PIDS=()
}

status() { "$SLUICE" status "$JOB" --jobmanager "$JM_ADDRESS" --json 2>/dev/null || true; }
job_state() { grep -o '"state":"[A-Z_]*"' <<<"$1" | head -n 1 | cut -d'"' -f4; }
restarts() { sed -n 's/.*"numRestarts":\([0-9]*\).*/\1/p' <<<"$1"; }
# The job and every subtask RUNNING (the first "state" is the job's).
all_running() {
  local states
  states=$(grep -o '"state":"[A-Z_]*"' <<<"$1") || return 1
  (($(wc -l <<<"$states") > 1)) && ! grep -qv '"state":"RUNNING"' <<<"$states"
}
# A non-empty part file of attempt $2 in the output folder; $1: "" any, "visible" committed only.
attempt_file() {
  local prefix=$JOB8 pattern
  [[ $1 == visible ]] && pattern="part-$prefix-*-$2-*" || pattern="*part-$prefix-*-$2-*"
  [[ -n $(find "$OUT" -maxdepth 1 -name "$pattern" -size +0c -print -quit 2>/dev/null) ]]
}
epoch_of_log_line() { date -d "$(cut -c1-23 <<<"$1")" +%s.%N; }
gt() { awk "BEGIN { exit !($1 > $2) }"; }  # $1 > $2, as numbers

# one_round CONFIG: sets RESULT to
# "detect detect_log running running_log flowing committed backoff_ms attempt victim".
# Runs in the main shell, so that the EXIT trap sees the round's cluster.
one_round() {
  local config=$1 defines s t0 t pid victim_id victim_index=0 i r0 attempt subtasks lost_at
  local detect=nan detect_log=nan running=nan running_log=nan flowing=nan committed=nan backoff=nan
  read -r -a defines <<<"${CONFIG_DEFINES[$config]}"
  start_cluster3
  OUT=$CLUSTER_DIR/out
  s=$("$SLUICE" run "$PACKAGE" --jobmanager "$JM_ADDRESS" --parallelism 2 --detached --json \
    --arg transactions=0 --arg rate="$RATE" --arg output="$OUT" \
    -D execution.checkpointing.interval=1s -D "state.checkpoints.dir=$CLUSTER_DIR/checkpoints" \
    "${defines[@]}" "${JOB_DEFINES[@]}") || { echo "$s" >&2; die "submission failed"; }
  JOB=$(sed -n 's/.*"id":"\([0-9a-f]*\)".*/\1/p' <<<"$s")
  JOB8=${JOB:0:8}
  [[ -n $JOB ]] || die "no job id in '$s'"

  t0=$(now)
  until s=$(status) && all_running "$s" && [[ $s == *'"lastCheckpoint"'* ]]; do
    if gt "$(now) - $t0" "$TIMEOUT_S"; then die "job $JOB not running with a checkpoint after ${TIMEOUT_S}s: $s"; fi
    sleep 0.2
  done
  r0=$(restarts "$s")
  subtasks=$(($(grep -o '"state":"' <<<"$s" | wc -l) - 1))
  # The TaskManager of the first subtask (a source) runs subtasks; find its index by its log.
  victim_id=$(grep -o '"taskmanager":"[^"]*"' <<<"$s" | head -n 1 | cut -d'"' -f4)
  for i in 1 2 3; do
    if grep -q "TaskManager $victim_id started" "$CLUSTER_DIR/log/taskmanager-$i.log"; then victim_index=$i; fi
  done
  ((victim_index > 0)) || die "no TaskManager log names $victim_id"
  pid=${PIDS[victim_index]}
  [[ $(cat "/proc/$pid/comm" 2>/dev/null) == sluice-taskman* ]] || die "pid $pid is not a TaskManager"

  t0=$(now)
  kill -KILL "$pid"
  while [[ $committed == nan ]]; do
    s=$(status)
    t=$(calc %.3f "$(now) - $t0")
    if gt "$t" "$TIMEOUT_S"; then
      echo "last status: $s" >&2
      die "no recovery within ${TIMEOUT_S}s"
    fi
    if [[ -z $s ]]; then
      sleep "$POLL_S"
      continue
    fi
    if [[ $detect == nan ]] && { [[ $(job_state "$s") != RUNNING ]] || (($(restarts "$s") > r0)); }; then
      detect=$t
    fi
    if [[ $detect != nan && $running == nan ]] && (($(restarts "$s") > r0)) && all_running "$s"; then
      running=$t
      attempt=$(restarts "$s")
    fi
    if [[ $running != nan ]]; then
      if [[ $flowing == nan ]] && attempt_file any "$attempt"; then flowing=$t; fi
      if attempt_file visible "$attempt"; then
        committed=$t
        if [[ $flowing == nan ]]; then flowing=$t; fi
      fi
    fi
    sleep "$POLL_S"
  done
  # The JobManager's log, to the millisecond: the TaskManager lost, the restart delay chosen, the
  # last subtask of the new attempt RUNNING.
  local log=$CLUSTER_DIR/log/jobmanager.log
  lost_at=$(grep -n -m 1 "TaskManager $victim_id .*lost" "$log" | cut -d: -f1 || true)
  if [[ -n $lost_at ]]; then
    detect_log=$(calc %.3f "$(epoch_of_log_line "$(sed -n "${lost_at}p" "$log")") - $t0")
    s=$(tail -n "+$lost_at" "$log" | grep -o -m 1 'redeploys in [0-9]* ms' || true)
    [[ -z $s ]] || backoff=$(tr -dc '0-9' <<<"$s")
    s=$(tail -n "+$lost_at" "$log" | grep -m "$subtasks" 'switched from INITIALIZING to RUNNING' | tail -n 1 || true)
    [[ -z $s ]] || running_log=$(calc %.3f "$(epoch_of_log_line "$s") - $t0")
  fi
  RESULT="$detect $detect_log $running $running_log $flowing $committed $backoff $attempt tm-$victim_index"
  if [[ ${SLUICE_BENCH_KEEP:-0} == 1 && $config == "${CONFIGS[-1]}" && ${ROUND:-0} == "$RUNS" ]]; then
    return  # the trap keeps it
  fi
  stop_cluster
}

echo "Sluice recovery benchmark: ledger job (parallelism 2, $RATE transactions/s per source subtask,"
echo "  checkpoints every 1 s) on 3 TaskManagers x 2 slots; kill -9 of a TaskManager running subtasks"
echo "  machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); rounds=$RUNS, poll every ${POLL_S}s"
for c in "${CONFIGS[@]}"; do echo "  $c: ${CONFIG_DEFINES[$c]:-(checkpointing default: exponential-delay, initial backoff 1 s)}"; done
if [[ -n ${SLUICE_BENCH_JOB_DEFINES:-} ]]; then echo "  job settings: $SLUICE_BENCH_JOB_DEFINES"; fi
echo
echo "seconds from the kill:"
row() { printf '%-5s %-8s %7s %7s %8s %8s %8s %10s %8s %8s %7s\n' "$@"; }
row round config detect "(log)" running "(log)" flowing committed "delay ms" attempt killed
declare -A DETECT DETECT_LOG RUNNING RUNNING_LOG FLOWING COMMITTED
for ((ROUND = 1; ROUND <= RUNS; ROUND++)); do
  for c in "${CONFIGS[@]}"; do
    one_round "$c"
    read -r d dl ru rl fl co delay at victim <<<"$RESULT"
    row "$ROUND" "$c" "$d" "$dl" "$ru" "$rl" "$fl" "$co" "$delay" "$at" "$victim"
    DETECT[$c]+="$d " DETECT_LOG[$c]+="$dl " RUNNING[$c]+="$ru " RUNNING_LOG[$c]+="$rl "
    FLOWING[$c]+="$fl " COMMITTED[$c]+="$co "
  done
done

m() { tr ' ' '\n' <<<"${1% }" | median; }
echo
echo "median of $RUNS rounds (s):"
printf '  %-42s' ""
for c in "${CONFIGS[@]}"; do printf ' %10s' "$c"; done
echo
line() {
  local label=$1 c
  shift
  printf '  %-42s' "$label"
  for c in "${CONFIGS[@]}"; do printf ' %10s' "$("$@" "$c")"; done
  echo
}
med_of() { local -n a=$1; m "${a[$2]}"; }
diff_of() { calc %.3f "$(med_of "$1" "$3") - $(med_of "$2" "$3")"; }
line "kill -> detected (poll)" med_of DETECT
line "kill -> detected (JobManager log)" med_of DETECT_LOG
line "kill -> all subtasks RUNNING (poll)" med_of RUNNING
line "kill -> all subtasks RUNNING (log)" med_of RUNNING_LOG
line "kill -> records written again" med_of FLOWING
line "kill -> committed output again" med_of COMMITTED
line "detected -> all RUNNING (log; goal < 2)" diff_of RUNNING_LOG DETECT_LOG
line "detected -> records written (poll)" diff_of FLOWING DETECT
line "detected -> committed output (poll)" diff_of COMMITTED DETECT

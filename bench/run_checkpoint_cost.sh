#!/usr/bin/env bash
# Cost of checkpointing on throughput: generator -> map -> key_by -> keyed sum -> discard
# (bench/throughput_job.so, the pipeline of run_throughput.sh) on one local cluster (1 JobManager,
# 2 TaskManagers x 1 slot, parallelism 2). Runs with checkpoints every INTERVAL alternate with runs
# without checkpoints; each side's figure is the median records/s per core of cluster CPU, and the
# ratio on / off is the cost (goal: on / off >= 0.9). See bench/README.md, "Checkpoints".
#
#   bench/run_checkpoint_cost.sh [BUILD_DIR (build)] [RECORDS (200000000)] [RUNS (3)]
#   env: SLUICE_BENCH_RECORDS, SLUICE_BENCH_RUNS when the arguments are absent;
#        SLUICE_BENCH_KEYS (10000) distinct keys of the keyed sum;
#        SLUICE_BENCH_INTERVAL checkpoint interval of the "on" runs (1s);
#        SLUICE_BENCH_OFF_INTERVAL when set, the "off" runs keep checkpointing on with this interval,
#          chosen longer than a run (e.g. 60s): the state backend is used only when checkpointing
#          is on (state.backend.type=rocksdb is ignored without it), so comparing RocksDB with
#          and without periodic checkpoints needs it. Their wall time then includes the wait for
#          the final checkpoint at the end of that interval;
#        SLUICE_BENCH_JOB_DEFINES="-D key=value ..." extra job settings for every run, e.g.
#          "-D state.backend.type=rocksdb -D state.backend.incremental=true";
#        SLUICE_BENCH_DEFINES="-D key=value ..." passes settings to the daemons;
#        SLUICE_BENCH_KEEP=1 keeps the cluster directory (logs, checkpoints) for inspection.
#
# With checkpointing on, a bounded job ends only after one more checkpoint once its input has ended
# (its sink commits there), which adds up to one interval of mostly idle wall time: compare the
# per-core figures; wall time is printed beside them. Completed checkpoints per job are counted from
# the JobManager's log ("Completed checkpoint <id> for job <job>"). Builds nothing.
set -euo pipefail

BUILD_DIR=${1:-build}
RECORDS=${2:-${SLUICE_BENCH_RECORDS:-200000000}}
RUNS=${3:-${SLUICE_BENCH_RUNS:-3}}
KEYS=${SLUICE_BENCH_KEYS:-10000}
INTERVAL=${SLUICE_BENCH_INTERVAL:-1s}
OFF_INTERVAL=${SLUICE_BENCH_OFF_INTERVAL:-}

BENCH_NAME=run_checkpoint_cost
source "$(dirname "$0")/lib.sh"
positive RECORDS "$RECORDS"
positive RUNS "$RUNS"
positive SLUICE_BENCH_KEYS "$KEYS"

use_build "$BUILD_DIR" bench/throughput_job.so
PACKAGE=$BUILD_DIR/bench/throughput_job.so
read -r -a JOB_DEFINES <<<"${SLUICE_BENCH_JOB_DEFINES:-}"

start_cluster
CHECKPOINT_DIR=$CLUSTER_DIR/checkpoints
JM_LOG=$CLUSTER_DIR/log/jobmanager.log

cluster_ticks() {
  local sum=0 pid
  for pid in "${PIDS[@]}"; do sum=$((sum + $(cpu_ticks "$pid"))); done
  echo "$sum"
}

# run_job MODE RECORDS (MODE off|on): one bounded job; prints
# "wall_s job_s cpu_ticks completed_checkpoints median_checkpoint_ms last_checkpoint_bytes".
run_job() {
  local mode=$1 records=$2 checkpointing=() c0 c1 t0 t1 out id job_s done_lines
  local interval=$INTERVAL
  [[ $mode == on ]] || interval=$OFF_INTERVAL
  if [[ -n $interval ]]; then
    checkpointing=(-D "execution.checkpointing.interval=$interval" -D "state.checkpoints.dir=$CHECKPOINT_DIR")
  fi
  c0=$(cluster_ticks)
  t0=$(now)
  out=$("$SLUICE" run "$PACKAGE" --jobmanager "$JM_ADDRESS" --parallelism 2 --arg records="$records" \
    --arg keys="$KEYS" "${JOB_DEFINES[@]}" "${checkpointing[@]}") || { echo "$out" >&2; die "job failed"; }
  t1=$(now)
  c1=$(cluster_ticks)
  id=$(sed -n 's/.*Job \([0-9a-f]*\) FINISHED in.*/\1/p' <<<"$out")
  job_s=$(sed -n 's/.*FINISHED in \([0-9.]*\) s\..*/\1/p' <<<"$out")
  [[ -n $id ]] || { echo "$out" >&2; die "no job id in the output of sluice run"; }
  # "Completed checkpoint 3 for job <id> (1234 bytes in 5 ms)."
  done_lines=$(grep -F "for job $id (" "$JM_LOG" | grep -F "Completed checkpoint" || true)
  local count=0 ms=nan bytes=0
  if [[ -n $done_lines ]]; then
    count=$(wc -l <<<"$done_lines")
    ms=$(sed -n 's/.* bytes in \([0-9]*\) ms.*/\1/p' <<<"$done_lines" | median)
    bytes=$(tail -n 1 <<<"$done_lines" | sed -n 's/.*(\([0-9]*\) bytes in.*/\1/p')
  fi
  echo "$(calc %.3f "$t1 - $t0") ${job_s:-nan} $((c1 - c0)) $count $ms ${bytes:-0}"
}

echo "Sluice checkpoint cost: generator -> map -> key_by -> keyed sum -> discard, checkpoints off / on"
echo "  records=$RECORDS keys=$KEYS parallelism=2, 2 TaskManagers x 1 slot, runs=$RUNS each, interval=$INTERVAL"
echo "  machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), load $(cut -d' ' -f1-3 /proc/loadavg)"
if [[ -n $OFF_INTERVAL ]]; then echo "  \"off\" runs: checkpoint interval $OFF_INTERVAL (no checkpoint before the input ends)"; fi
if [[ -n ${SLUICE_BENCH_JOB_DEFINES:-} ]]; then echo "  job settings: $SLUICE_BENCH_JOB_DEFINES"; fi
if [[ -n ${SLUICE_BENCH_DEFINES:-} ]]; then echo "  daemon settings: $SLUICE_BENCH_DEFINES"; fi
echo "  JobManager $JM_ADDRESS (pids: JM ${PIDS[0]}, TM ${PIDS[1]}, ${PIDS[2]})"
run_job on 100000 >/dev/null  # warm-up: package upload, fetch and load are not per-record costs
echo
row() { printf '%-4s %-4s %8s %6s %7s %12s %11s %9s %12s\n' "$@"; }
row run mode "wall s" "job s" "cpu s" "rec/s/core" "records/s" "chk done" "chk ms (med)"
declare -A CORE WALL CPU
for ((r = 1; r <= RUNS; r++)); do
  for mode in off on; do
    read -r wall job_s ticks count chk_ms chk_bytes < <(run_job "$mode" "$RECORDS")
    ((ticks > 0)) || die "no CPU time measured"
    per_core=$(calc %.0f "$RECORDS * $CLK_TCK / $ticks")
    row "$r" "$mode" "$wall" "$job_s" "$(calc %.2f "$ticks / $CLK_TCK")" "$per_core" \
      "$(calc %.0f "$RECORDS / $wall")" "$count" "$chk_ms"
    if [[ $mode == on ]] && ((count == 0)); then die "no checkpoint completed during run $r"; fi
    CORE[$mode]+="$per_core " WALL[$mode]+="$wall " CPU[$mode]+="$(calc %.3f "$ticks / $CLK_TCK") "
    if [[ $mode == on ]]; then LAST_BYTES=$chk_bytes; fi
  done
done

m() { tr ' ' '\n' <<<"${1% }" | median; }
echo
echo "median of $RUNS runs each:"
printf '  %-38s %14s %14s\n' "" "off" "on"
printf '  %-38s %14s %14s\n' "wall s" "$(m "${WALL[off]}")" "$(m "${WALL[on]}")"
printf '  %-38s %14s %14s\n' "cluster CPU s (JM + 2 TMs)" "$(m "${CPU[off]}")" "$(m "${CPU[on]}")"
printf '  %-38s %14.0f %14.0f\n' "records/s per core" "$(m "${CORE[off]}")" "$(m "${CORE[on]}")"
printf '  %-38s %14s\n' "state size of the last checkpoint (B)" "${LAST_BYTES:-0}"
printf '  %-38s %s\n' "ratio on / off (records/s per core)" \
  "$(calc %.3f "$(m "${CORE[on]}") / $(m "${CORE[off]}")")"
printf '  %-38s %s\n' "ratio on / off (wall s)" "$(calc %.3f "$(m "${WALL[on]}") / $(m "${WALL[off]}")")"

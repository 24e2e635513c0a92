#!/usr/bin/env bash
# Per-core throughput of generator -> map -> key_by -> keyed sum -> discard on a local cluster
# (1 JobManager, 2 TaskManagers x 1 slot, parallelism 2), beside the same computation as one
# hand-written single-threaded loop (bench/baseline_loop) measured in the same run. See bench/README.md.
#
#   bench/run_throughput.sh [BUILD_DIR (build)] [RECORDS (20000000)] [RUNS (3)]
#   env: SLUICE_BENCH_RECORDS, SLUICE_BENCH_RUNS, SLUICE_BENCH_KEYS (10000) when the arguments are absent;
#        SLUICE_BENCH_KEEP=1 keeps the cluster directory (logs) for inspection;
#        SLUICE_BENCH_DEFINES="-D key=value ..." passes settings to the daemons (tuning experiments).
#
# Cluster CPU time is utime+stime (+cutime+cstime: the JobManager's short-lived graph-builder helper)
# of the JobManager and both TaskManagers, read from /proc/<pid>/stat before and after each job.
# Builds nothing: run `ninja -C BUILD_DIR` (or `make bench`) first.
set -euo pipefail

BUILD_DIR=${1:-build}
RECORDS=${2:-${SLUICE_BENCH_RECORDS:-20000000}}
RUNS=${3:-${SLUICE_BENCH_RUNS:-3}}
KEYS=${SLUICE_BENCH_KEYS:-10000}

BENCH_NAME=run_throughput
source "$(dirname "$0")/lib.sh"
positive RECORDS "$RECORDS"
positive RUNS "$RUNS"
positive SLUICE_BENCH_KEYS "$KEYS"

use_build "$BUILD_DIR" bench/throughput_job.so bench/baseline_loop
PACKAGE=$BUILD_DIR/bench/throughput_job.so
BASELINE=$BUILD_DIR/bench/baseline_loop

start_cluster

# Runs one job of $1 records; prints "wall_s job_s" and then user and system ticks spent meanwhile by
# the JobManager, TaskManager 1 and TaskManager 2.
run_job() {
  local before=() after=() i t0 t1 out job_s line
  for i in "${!PIDS[@]}"; do before[i]=$(cpu_ticks_split "${PIDS[i]}"); done
  t0=$(now)
  out=$("$SLUICE" run "$PACKAGE" --jobmanager "$JM_ADDRESS" --parallelism 2 \
    --arg records="$1" --arg keys="$KEYS") || { echo "$out" >&2; die "job failed"; }
  t1=$(now)
  for i in "${!PIDS[@]}"; do after[i]=$(cpu_ticks_split "${PIDS[i]}"); done
  job_s=$(sed -n 's/.*FINISHED in \([0-9.]*\) s\..*/\1/p' <<<"$out")
  line="$(calc %.3f "$t1 - $t0") ${job_s:-nan}"
  for i in "${!PIDS[@]}"; do
    read -r u0 s0 <<<"${before[i]}"
    read -r u1 s1 <<<"${after[i]}"
    line+=" $((u1 - u0)) $((s1 - s0))"
  done
  echo "$line"
}

echo "Sluice throughput benchmark: generator -> map -> key_by -> keyed sum -> discard"
echo "  records=$RECORDS keys=$KEYS parallelism=2, 2 TaskManagers x 1 slot, runs=$RUNS"
echo "  machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(uname -r)"
if [[ -n ${SLUICE_BENCH_DEFINES:-} ]]; then echo "  settings: $SLUICE_BENCH_DEFINES"; fi
echo "  JobManager $JM_ADDRESS (pids: JM ${PIDS[0]}, TM ${PIDS[1]}, ${PIDS[2]})"
run_job 100000 >/dev/null  # warm-up: package upload, fetch and load are not per-record costs
echo
row() { printf '%-4s %8s %6s %7s %7s %7s %7s %6s %12s %12s\n' "$@"; }
row run "wall s" "job s" "JM cpu" "TM1 cpu" "TM2 cpu" "cpu s" "sys %" "records/s" "rec/s/core"
RATE_WALL=() RATE_CORE=() CPU=() WALL=() SYS=()
for ((r = 1; r <= RUNS; r++)); do
  read -r wall job_s jm_u jm_s tm1_u tm1_s tm2_u tm2_s < <(run_job "$RECORDS")
  ticks=$((jm_u + jm_s + tm1_u + tm1_s + tm2_u + tm2_s))
  ((ticks > 0)) || die "no CPU time measured"
  cpu=$(calc %.2f "$ticks / $CLK_TCK")
  sys=$(calc %.0f "100 * ($jm_s + $tm1_s + $tm2_s) / $ticks")
  rate=$(calc %.0f "$RECORDS / $wall")
  per_core=$(calc %.0f "$RECORDS * $CLK_TCK / $ticks")
  row "$r" "$wall" "$job_s" "$(calc %.2f "($jm_u + $jm_s) / $CLK_TCK")" \
    "$(calc %.2f "($tm1_u + $tm1_s) / $CLK_TCK")" "$(calc %.2f "($tm2_u + $tm2_s) / $CLK_TCK")" \
    "$cpu" "$sys" "$rate" "$per_core"
  WALL+=("$wall") CPU+=("$cpu") SYS+=("$sys") RATE_WALL+=("$rate") RATE_CORE+=("$per_core")
done

"$SLUICE" cluster stop --dir "$CLUSTER_DIR" >/dev/null

# ---- baseline, same records, same machine, same run ----
echo
BASE_RATES=()
for ((r = 1; r <= RUNS; r++)); do
  line=$("$BASELINE" "$RECORDS" "$KEYS")
  echo "baseline run $r: $line"
  BASE_RATES+=("$(sed -n 's/.*records_per_cpu_s=\([0-9.]*\).*/\1/p' <<<"$line")")
done

M_WALL=$(printf '%s\n' "${WALL[@]}" | median)
M_CPU=$(printf '%s\n' "${CPU[@]}" | median)
M_RATE=$(printf '%s\n' "${RATE_WALL[@]}" | median)
M_CORE=$(printf '%s\n' "${RATE_CORE[@]}" | median)
M_BASE=$(printf '%s\n' "${BASE_RATES[@]}" | median)

echo
echo "median of $RUNS runs:"
printf '  %-34s %s\n' "records" "$RECORDS"
printf '  %-34s %s\n' "wall s" "$M_WALL"
printf '  %-34s %s\n' "cluster CPU s (JM + 2 TMs)" "$M_CPU"
printf '  %-34s %s\n' "system share of CPU %" "$(printf '%s\n' "${SYS[@]}" | median)"
printf '  %-34s %s\n' "cores busy (CPU s / wall s)" "$(calc %.2f "$M_CPU / $M_WALL")"
printf '  %-34s %.0f\n' "records/s (wall)" "$M_RATE"
printf '  %-34s %.0f\n' "records/s per core (cluster)" "$M_CORE"
printf '  %-34s %.0f\n' "records/s per core (baseline loop)" "$M_BASE"
printf '  %-34s %s\n' "ratio cluster / baseline" "$(calc %.4f "$M_CORE / $M_BASE")"

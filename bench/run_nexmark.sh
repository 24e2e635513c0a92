#!/usr/bin/env bash
# Nexmark (docs/nexmark.md): each query's events per second per core on a local cluster (1 JobManager,
# 2 TaskManagers x 1 slot, parallelism 2), the way Nexmark measures it: events / CPU seconds of all
# daemons (utime+stime from /proc, which is events / elapsed time / cores used), after a warm-up
# job of the same query. Configurations, each in its own cluster:
#   heap+cp   heap state, exactly-once checkpoints every 10 s (the headline figure)
#   heap      heap state, checkpoints off
#   rocksdb   RocksDB state (incremental), exactly-once checkpoints every 10 s
# and, in the same run, a hand-written single-threaded loop per query over the same generator
# (build/bench/nexmark/nexmark_loops: the ceiling). See bench/README.md "Nexmark".
#
#   bench/run_nexmark.sh [BUILD_DIR (build)] [QUERIES (all, or e.g. q0,q5,q8)]
#   env: SLUICE_NEXMARK_EVENTS   events per measured job (20000000; the warm-up job has a tenth)
#        SLUICE_NEXMARK_CONFIGS  configurations to run ("heap+cp heap rocksdb")
#        SLUICE_NEXMARK_RUNS     measured jobs per query and configuration; the median counts (1)
#        SLUICE_BENCH_DEFINES="-D key=value ..." passes settings to the daemons;
#        SLUICE_BENCH_KEEP=1 keeps the cluster directories (logs, checkpoints) for inspection.
#
# q10 writes its files into the cluster directory (as Flink's q10 writes its file system); every
# other query ends in a blackhole sink. With checkpoints on, a bounded job ends only after one more
# checkpoint once its input has ended (its sink commits there): idle wall time that the per-core
# figure does not count. Builds nothing: run `ninja -C BUILD_DIR` (or `make bench`) first.
set -euo pipefail

BUILD_DIR=${1:-build}
QUERIES=${2:-all}
EVENTS=${SLUICE_NEXMARK_EVENTS:-20000000}
CONFIGS=${SLUICE_NEXMARK_CONFIGS:-heap+cp heap rocksdb}
RUNS=${SLUICE_NEXMARK_RUNS:-1}
ALL_QUERIES="q0 q1 q2 q3 q4 q5 q6 q7 q8 q9 q10 q11 q12 q13 q14 q15 q16 q17 q18 q19 q20 q21 q22"

BENCH_NAME=run_nexmark
source "$(dirname "$0")/lib.sh"
positive SLUICE_NEXMARK_EVENTS "$EVENTS"
positive SLUICE_NEXMARK_RUNS "$RUNS"
if [[ $QUERIES == all ]]; then QUERIES=$ALL_QUERIES; else QUERIES=${QUERIES//,/ }; fi
for q in $QUERIES; do
  [[ " $ALL_QUERIES " == *" $q "* ]] || die "unknown query '$q' (q0 ... q22)"
done
for c in $CONFIGS; do
  case $c in heap+cp | heap | rocksdb) ;; *) die "unknown configuration '$c' (heap+cp, heap, rocksdb)" ;; esac
done
packages=()
for q in $QUERIES; do packages+=("bench/nexmark/$q.so"); done
use_build "$BUILD_DIR" bench/nexmark/nexmark_loops "${packages[@]}"
LOOPS=$BUILD_DIR/bench/nexmark/nexmark_loops

# The settings of a configuration's jobs.
job_defines() {
  local cp=(-D execution.checkpointing.interval=10s -D "state.checkpoints.dir=$CLUSTER_DIR/checkpoints")
  case $1 in
    heap+cp) echo "${cp[*]} -D state.backend.type=hashmap" ;;
    heap) echo "" ;;
    rocksdb) echo "${cp[*]} -D state.backend.type=rocksdb -D state.backend.incremental=true" ;;
  esac
}

cluster_ticks() {
  local sum=0 pid
  for pid in "${PIDS[@]}"; do sum=$((sum + $(cpu_ticks "$pid"))); done
  echo "$sum"
}

stop_cluster() {
  "$SLUICE" cluster stop --dir "$CLUSTER_DIR" >/dev/null 2>&1 || true
  if [[ ${SLUICE_BENCH_KEEP:-0} == 1 ]]; then
    echo "cluster directory kept: $CLUSTER_DIR" >&2
  else
    rm -rf "$CLUSTER_DIR"
  fi
  CLUSTER_DIR= PIDS=()
}

# run_query CONFIG QUERY EVENTS: one bounded job; prints "wall_s cpu_ticks completed_checkpoints".
run_query() {
  local defines out id t0 t1 c0 c1 count args=()
  read -r -a defines <<<"$(job_defines "$1")"
  if [[ $2 == q10 ]]; then args=(--arg "output=$CLUSTER_DIR/q10-$RANDOM$RANDOM"); fi
  c0=$(cluster_ticks)
  t0=$(now)
  out=$("$SLUICE" run "$BUILD_DIR/bench/nexmark/$2.so" --jobmanager "$JM_ADDRESS" --parallelism 2 \
    --arg events-count="$3" "${args[@]}" "${defines[@]}") || { echo "$out" >&2; die "$2 failed"; }
  t1=$(now)
  c1=$(cluster_ticks)
  id=$(sed -n 's/.*Job \([0-9a-f]*\) FINISHED in.*/\1/p' <<<"$out")
  [[ -n $id ]] || { echo "$out" >&2; die "no job id in the output of sluice run"; }
  count=$(grep -F "for job $id (" "$CLUSTER_DIR/log/jobmanager.log" | grep -cF "Completed checkpoint" || true)
  if [[ $2 == q10 ]]; then rm -rf "$CLUSTER_DIR"/q10-*; fi
  echo "$(calc %.3f "$t1 - $t0") $((c1 - c0)) $count"
}

echo "Sluice Nexmark: events/s per core (events / CPU s of the JobManager and 2 TaskManagers)"
echo "  events=$EVENTS per job (generated, rate 10,000,000/s of event time), parallelism 2, 2 TaskManagers x 1 slot, runs=$RUNS"
echo "  machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), load $(cut -d' ' -f1-3 /proc/loadavg)"
if [[ -n ${SLUICE_BENCH_DEFINES:-} ]]; then echo "  daemon settings: $SLUICE_BENCH_DEFINES"; fi

declare -A RESULT CHECKPOINTS
for config in $CONFIGS; do
  start_cluster
  echo
  echo "[$config] JobManager $JM_ADDRESS; job settings: $(job_defines "$config" | sed "s|$CLUSTER_DIR|<cluster>|g")"
  printf '%-5s %8s %8s %5s %12s\n' query "wall s" "cpu s" "chk" "ev/s/core"
  for q in $QUERIES; do
    run_query "$config" "$q" $((EVENTS / 10)) >/dev/null  # warm-up: package fetch and load, caches
    rates=() chk=0
    for ((r = 1; r <= RUNS; r++)); do
      read -r wall ticks chk < <(run_query "$config" "$q" "$EVENTS")
      ((ticks > 0)) || die "no CPU time measured"
      rate=$(calc %.0f "$EVENTS * $CLK_TCK / $ticks")
      printf '%-5s %8s %8s %5s %12s\n' "$q" "$wall" "$(calc %.2f "$ticks / $CLK_TCK")" "$chk" "$rate"
      rates+=("$rate")
    done
    RESULT[$config,$q]=$(printf '%s\n' "${rates[@]}" | median)
    CHECKPOINTS[$config,$q]=$chk
  done
  stop_cluster
done

echo
echo "hand-written loops (one thread, same generator, same events):"
declare -A LOOP
for q in $QUERIES; do
  rates=()
  for ((r = 1; r <= RUNS; r++)); do
    line=$("$LOOPS" "$q" "$EVENTS")
    echo "  $line"
    rates+=("$(sed -n 's/.*events_per_cpu_s=\([0-9.]*\).*/\1/p' <<<"$line")")
  done
  LOOP[$q]=$(printf '%s\n' "${rates[@]}" | median)
done

# Flink 2.0's published per-core figures (K events/s): the nexmark/nexmark repository's GUIDE_V2.md
# result table, throughput / cores (8 TaskManagers x 1 slot, parallelism 8, RocksDB incremental,
# checkpoints every 30 s; Flink has no q6). bench/README.md "Nexmark" has the set-up and Flink 1.13's.
declare -A FLINK2=([q0]=378.6 [q1]=395.0 [q2]=413.7 [q3]=218.6 [q4]=28.2 [q5]=74.5 [q7]=22.9
  [q8]=162.1 [q9]=13.8 [q10]=132.8 [q11]=46.1 [q12]=194.4 [q13]=188.2 [q14]=259.3 [q15]=167.9
  [q16]=45.2 [q17]=160.6 [q18]=65.4 [q19]=42.7 [q20]=17.8 [q21]=147.2 [q22]=211.7)

# The summary: per-core figures in K events/s, and ratios.
k() { if [[ -n ${1:-} ]]; then calc %.0f "$1 / 1000"; else echo -; fi; }
ratio() { if [[ -n ${1:-} && -n ${2:-} ]]; then calc %.2f "$1 / $2"; else echo -; fi; }
times_flink() { if [[ -n ${1:-} && -n ${2:-} ]]; then calc %.1f "$1 / 1000 / $2"; else echo -; fi; }
echo
echo "summary (K events/s per core; median of $RUNS; x Flink 2.0 = our figure / Flink 2.0's per core):"
row() { printf '| %-5s | %7s | %7s | %7s | %7s | %6s | %7s | %9s | %10s | %12s |\n' "$@"; }
row query "heap+cp" heap rocksdb loop "/ loop" "cp cost" "Flink 2.0" "x Flink 2.0" "rocksdb x F2"
printf '|%s|\n' "-------|---------|---------|---------|---------|--------|---------|-----------|------------|--------------"
for q in $QUERIES; do
  hc=${RESULT[heap+cp,$q]:-} h=${RESULT[heap,$q]:-} r=${RESULT[rocksdb,$q]:-} l=${LOOP[$q]:-}
  f=${FLINK2[$q]:-}
  cost=-
  if [[ -n $hc && -n $h ]]; then cost="$(calc %.0f "100 * (1 - $hc / $h)") %"; fi
  row "$q" "$(k "$hc")" "$(k "$h")" "$(k "$r")" "$(k "$l")" "$(ratio "$hc" "$l")" "$cost" \
    "${f:--}" "$(times_flink "$hc" "$f")" "$(times_flink "$r" "$f")"
done

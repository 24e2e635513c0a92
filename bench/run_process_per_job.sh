#!/usr/bin/env bash
# The cost of taskmanager.process-per-job on the throughput benchmark (run_throughput.sh): the same
# job with its tasks in the TaskManagers' own processes (the default) and in a process of their own
# per job and TaskManager, alternating, ROUNDS times each, in one run. Each round starts a fresh
# cluster. Prints both per-core rates and their ratio. See bench/README.md.
#
#   bench/run_process_per_job.sh [BUILD_DIR (build)] [RECORDS (20000000)] [ROUNDS (3)]
set -euo pipefail

BUILD_DIR=${1:-build}
RECORDS=${2:-20000000}
ROUNDS=${3:-3}
HERE=$(dirname "$0")

BENCH_NAME=run_process_per_job
source "$HERE/lib.sh"
positive RECORDS "$RECORDS"
positive ROUNDS "$ROUNDS"

# records/s per core of one run_throughput.sh run (1 job) with the given settings.
per_core() {
  local out
  out=$(SLUICE_BENCH_DEFINES="$1" "$HERE/run_throughput.sh" "$BUILD_DIR" "$RECORDS" 1) ||
    { echo "$out" >&2; die "run_throughput.sh failed"; }
  sed -n 's/.*records\/s per core (cluster) *\([0-9]*\).*/\1/p' <<<"$out"
}

echo "Sluice: the cost of taskmanager.process-per-job on the throughput benchmark"
echo "  records=$RECORDS per job, rounds=$ROUNDS (each: one shared run, one process-per-job run)"
SHARED=() OWN=()
for ((r = 1; r <= ROUNDS; r++)); do
  s=$(per_core "")
  o=$(per_core "-D taskmanager.process-per-job=true")
  printf '  round %d: shared %s rec/s/core, process per job %s rec/s/core\n' "$r" "$s" "$o"
  SHARED+=("$s") OWN+=("$o")
done
M_SHARED=$(printf '%s\n' "${SHARED[@]}" | median)
M_OWN=$(printf '%s\n' "${OWN[@]}" | median)
echo
echo "median of $ROUNDS rounds:"
printf '  %-40s %.0f\n' "records/s per core, shared process" "$M_SHARED"
printf '  %-40s %.0f\n' "records/s per core, process per job" "$M_OWN"
printf '  %-40s %s\n' "ratio process per job / shared" "$(calc %.4f "$M_OWN / $M_SHARED")"

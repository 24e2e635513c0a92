#!/usr/bin/env bash
# Network-stack benchmarks on a local cluster (1 JobManager, 2 TaskManagers x 1 slot), each against
# a baseline measured in the same run (bench/README.md, "Network stack"):
#   exchange  100-byte records from the source on one TaskManager to the sink on the other
#             (bench/network_job.so mode=exchange, parallelism 2) beside raw TCP over loopback moving
#             the same bytes in 32 KiB writes (bench/tcp_baseline): records/s, MB/s, ratio; and
#             beside "TCP recs" (tcp_baseline ... records): the same records serialized into
#             32 KiB buffers by one thread and read back by another, the ceiling of a two-thread
#             exchange without credit or hand-offs.
#   chained   the same pipeline chained in one task (mode=chained, parallelism 1): records/s, and
#             the exchange's records/s as a fraction of it.
#   latency   a rate-limited exchange (10,000 records/s, 100,000 records) per buffer timeout
#             (0, 1, 100 ms): creation-to-sink latency percentiles reported by the sink subtask,
#             and the cluster's CPU while it runs (cores = CPU s / wall s).
# The exchange, TCP and chained measurements of one round run back to back; each figure is the
# median over RUNS rounds.
#
#   bench/run_network.sh [BUILD_DIR (build)] [RECORDS (30000000)] [RUNS (3)]
#   env: SLUICE_BENCH_NET_RECORDS, SLUICE_BENCH_RUNS when the arguments are absent;
#        SLUICE_BENCH_NET_PARTS   which parts to run ("exchange chained latency");
#        SLUICE_BENCH_TIMEOUTS    buffer timeouts of the latency part in ms ("0 1 100");
#        SLUICE_BENCH_LAT_RECORDS records per latency run (100000);
#        SLUICE_BENCH_LAT_RATE    records per second of the latency runs (10000);
#        SLUICE_BENCH_DEFINES="-D key=value ..." passes settings to the daemons (tuning experiments);
#        SLUICE_BENCH_JOB_ARGS="--arg key=value ..." extra job arguments (e.g. --arg record=string --arg map=1);
#        SLUICE_BENCH_KEEP=1 keeps the cluster directory (logs, sink reports) for inspection.
# Builds nothing: run `ninja -C BUILD_DIR` (or `make bench`) first.
set -euo pipefail

BUILD_DIR=${1:-build}
RECORDS=${2:-${SLUICE_BENCH_NET_RECORDS:-30000000}}
RUNS=${3:-${SLUICE_BENCH_RUNS:-3}}
PARTS=${SLUICE_BENCH_NET_PARTS:-exchange chained latency}
TIMEOUTS=${SLUICE_BENCH_TIMEOUTS:-0 1 100}
LAT_RECORDS=${SLUICE_BENCH_LAT_RECORDS:-100000}
LAT_RATE=${SLUICE_BENCH_LAT_RATE:-10000}
RECORD_BYTES=100  # serialized record: id 8 + timestamp 8 + payload 84 (record=fixed) or 1 + 83 (record=string)

BENCH_NAME=run_network
source "$(dirname "$0")/lib.sh"
positive RECORDS "$RECORDS"
positive RUNS "$RUNS"
positive SLUICE_BENCH_LAT_RECORDS "$LAT_RECORDS"
positive SLUICE_BENCH_LAT_RATE "$LAT_RATE"
for t in $TIMEOUTS; do [[ $t =~ ^[0-9]+$ ]] || die "SLUICE_BENCH_TIMEOUTS: '$t' is not a number"; done
for p in $PARTS; do
  [[ $p == exchange || $p == chained || $p == latency ]] || die "unknown part '$p' in SLUICE_BENCH_NET_PARTS"
done
has_part() { [[ " $PARTS " == *" $1 "* ]]; }

use_build "$BUILD_DIR" bench/network_job.so bench/tcp_baseline
PACKAGE=$BUILD_DIR/bench/network_job.so
TCP=$BUILD_DIR/bench/tcp_baseline

cluster_ticks() {
  local sum=0 pid
  for pid in "${PIDS[@]}"; do sum=$((sum + $(cpu_ticks "$pid"))); done
  echo "$sum"
}
field() { sed -n "s/.*\\b$1=\\([0-9.]*\\).*/\\1/p" <<<"$2"; }  # value of key=value in a line

# ---- cluster ----
read -r -a JOB_ARGS <<<"${SLUICE_BENCH_JOB_ARGS:-}"
start_cluster

# run_job OUT_DIR PARALLELISM ARGS... : runs one bounded job; prints "wall_s cpu_ticks job_id".
run_job() {
  local out_dir=$1 parallelism=$2 t0 t1 c0 c1 out id
  shift 2
  c0=$(cluster_ticks)
  t0=$(now)
  out=$("$SLUICE" run "$PACKAGE" --jobmanager "$JM_ADDRESS" --parallelism "$parallelism" --json \
    --arg out="$out_dir" "${JOB_ARGS[@]}" "$@") || { echo "$out" >&2; die "job failed"; }
  t1=$(now)
  c1=$(cluster_ticks)
  [[ $out == *'"state":"FINISHED"'* ]] || { echo "$out" >&2; die "job did not finish"; }
  id=$(sed -n 's/.*"id":"\([0-9a-f]*\)".*/\1/p' <<<"$out")
  echo "$(calc %.3f "$t1 - $t0") $((c1 - c0)) $id"
}

# report DIR SUBTASK EXPECTED_RECORDS: the sink subtask's report line, checked for its record count.
report() {
  local line
  line=$(cat "$1/sink-$2.txt" 2>/dev/null) || die "sink subtask $2 wrote no report in $1"
  [[ $(field records "$line") == "$3" ]] || die "sink subtask $2 saw $(field records "$line") records, expected $3"
  echo "$line"
}

# Checks that source subtask 0 and sink subtask 1 of an exchange job ran on different TaskManagers.
check_placement() {
  "$SLUICE" status "$1" --jobmanager "$JM_ADDRESS" --json | python3 -c '
import json, sys
job = json.load(sys.stdin)
tm = {}
for v in job["vertices"]:
    for s in v["subtasks"]:
        tm[(v["name"].split(" ")[0], s["index"])] = s["taskmanager"]
src, dst = tm[("Generator", 0)], tm[("Sink", 1)]
print(f"  placement: source subtask 0 on {src}, sink subtask 1 on {dst}")
sys.exit(0 if src != dst else 1)' || die "source subtask 0 and sink subtask 1 share a TaskManager"
}

echo "Sluice network benchmarks: 2 TaskManagers x 1 slot, ${RECORD_BYTES}-byte records, runs=$RUNS"
echo "  parts: $PARTS"
echo "  machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)"
if [[ -n ${SLUICE_BENCH_DEFINES:-} ]]; then echo "  settings: $SLUICE_BENCH_DEFINES"; fi
if [[ -n ${SLUICE_BENCH_JOB_ARGS:-} ]]; then echo "  job args: $SLUICE_BENCH_JOB_ARGS"; fi
echo "  JobManager $JM_ADDRESS (pids: JM ${PIDS[0]}, TM ${PIDS[1]}, ${PIDS[2]})"
# Warm-up (package upload, fetch and load are not per-record costs) and the placement check.
read -r _ _ WARM_ID < <(run_job "$CLUSTER_DIR/warmup" 2 --arg records=200000)
report "$CLUSTER_DIR/warmup" 1 200000 >/dev/null
check_placement "$WARM_ID"
# The fixed cost of a job (submission, scheduling, deployment, polling until FINISHED): part of every
# wall time below, printed for context only.
FIXED=()
for ((r = 1; r <= 3; r++)); do
  read -r wall _ _ < <(run_job "$CLUSTER_DIR/fixed-$r" 2 --arg records=1)
  FIXED+=("$wall")
done
echo "  fixed cost of a job (wall s of a 1-record exchange job, median of 3): $(printf '%s\n' "${FIXED[@]}" | median)"

# ---- throughput: exchange vs raw TCP vs chained, interleaved per round ----
MB() { calc %.1f "$1 / 1e6"; }
if has_part exchange || has_part chained; then
  BYTES=$((RECORDS * RECORD_BYTES))
  echo
  echo "records=$RECORDS (payload ${RECORD_BYTES} B each, $(MB "$BYTES") MB); figures per round:"
  echo "(records/s and MB/s over the transfer: creation of record 0 at the source -> end of input at"
  echo " the sink, as raw TCP's first send -> last receive; 'wall' is submission -> FINISHED)"
  printf '%-4s %-9s %8s %9s %7s %12s %9s %12s %7s\n' run what "wall s" "transfer s" "cpu s" \
    "records/s" "MB/s" "wall rec/s" ratio
  EX_RATE=() EX_MBS=() EX_CPU=() EX_WALL_RATE=() TCP_MBS=() CH_RATE=() CH_CPU=() RATIO_TCP=() RATIO_CH=()
  REC_RATE=() RATIO_REC=()
  for ((r = 1; r <= RUNS; r++)); do
    ex_rate="" tcp_bps=""
    if has_part exchange; then
      read -r wall ticks _ < <(run_job "$CLUSTER_DIR/exchange-$r" 2 --arg records="$RECORDS")
      line=$(report "$CLUSTER_DIR/exchange-$r" 1 "$RECORDS")
      transfer=$(field transfer_s "$line")
      [[ -n $transfer ]] || die "sink subtask 1 reported no transfer time: $line"
      ex_rate=$(calc %.0f "$RECORDS / $transfer")
      ex_bps=$(calc %.0f "$BYTES / $transfer")
      wall_rate=$(calc %.0f "$RECORDS / $wall")
      cpu=$(calc %.2f "$ticks / $CLK_TCK")
      printf '%-4s %-9s %8s %9s %7s %12s %9s %12s %7s\n' "$r" exchange "$wall" "$transfer" "$cpu" \
        "$ex_rate" "$(MB "$ex_bps")" "$wall_rate" ""
      EX_RATE+=("$ex_rate") EX_MBS+=("$(MB "$ex_bps")") EX_CPU+=("$cpu") EX_WALL_RATE+=("$wall_rate")

      line=$("$TCP" "$BYTES" 32768)
      tcp_bps=$(field bytes_per_s "$line")
      printf '%-4s %-9s %8s %9s %7s %12s %9s %12s %7s\n' "$r" "raw TCP" "$(field wall_s "$line")" \
        "$(field wall_s "$line")" "$(field cpu_s "$line")" "" "$(MB "$tcp_bps")" "" \
        "$(calc %.3f "$ex_bps / $tcp_bps")"
      TCP_MBS+=("$(MB "$tcp_bps")") RATIO_TCP+=("$(calc %.4f "$ex_bps / $tcp_bps")")

      line=$("$TCP" "$BYTES" 32768 records)
      rec_rate=$(field records_per_s "$line")
      printf '%-4s %-9s %8s %9s %7s %12s %9s %12s %7s\n' "$r" "TCP recs" "$(field wall_s "$line")" \
        "$(field wall_s "$line")" "$(field cpu_s "$line")" "$rec_rate" \
        "$(MB "$(field bytes_per_s "$line")")" "" "$(calc %.3f "$ex_rate / $rec_rate")"
      REC_RATE+=("$rec_rate") RATIO_REC+=("$(calc %.4f "$ex_rate / $rec_rate")")
    fi
    if has_part chained; then
      read -r wall ticks _ < <(run_job "$CLUSTER_DIR/chained-$r" 1 --arg mode=chained --arg records="$RECORDS")
      line=$(report "$CLUSTER_DIR/chained-$r" 0 "$RECORDS")
      transfer=$(field transfer_s "$line")
      [[ -n $transfer ]] || die "the chained sink reported no transfer time: $line"
      ch_rate=$(calc %.0f "$RECORDS / $transfer")
      cpu=$(calc %.2f "$ticks / $CLK_TCK")
      ratio=""
      if [[ -n $ex_rate ]]; then ratio=$(calc %.3f "$ex_rate / $ch_rate"); RATIO_CH+=("$ratio"); fi
      printf '%-4s %-9s %8s %9s %7s %12s %9s %12s %7s\n' "$r" chained "$wall" "$transfer" "$cpu" \
        "$ch_rate" "$(MB "$(calc %.0f "$BYTES / $transfer")")" "$(calc %.0f "$RECORDS / $wall")" "$ratio"
      CH_RATE+=("$ch_rate") CH_CPU+=("$cpu")
    fi
  done
  echo
  echo "median of $RUNS rounds:"
  if has_part exchange; then
    M_EX=$(printf '%s\n' "${EX_RATE[@]}" | median)
    printf '  %-48s %.0f\n' "exchange records/s (transfer)" "$M_EX"
    printf '  %-48s %s\n' "exchange MB/s (100-byte records, transfer)" "$(printf '%s\n' "${EX_MBS[@]}" | median)"
    printf '  %-48s %s\n' "exchange records/s (wall, incl. job start/end)" "$(printf '%s\n' "${EX_WALL_RATE[@]}" | median)"
    printf '  %-48s %s\n' "exchange cluster CPU s (JM + 2 TMs)" "$(printf '%s\n' "${EX_CPU[@]}" | median)"
    printf '  %-48s %s\n' "raw TCP MB/s (32 KiB writes)" "$(printf '%s\n' "${TCP_MBS[@]}" | median)"
    printf '  %-48s %s\n' "ratio exchange / raw TCP bytes/s (goal >= 0.5)" "$(printf '%s\n' "${RATIO_TCP[@]}" | median)"
    printf '  %-48s %.0f\n' "TCP recs: records/s, two threads, no hand-off" "$(printf '%s\n' "${REC_RATE[@]}" | median)"
    printf '  %-48s %s\n' "ratio exchange / TCP recs records/s" "$(printf '%s\n' "${RATIO_REC[@]}" | median)"
  fi
  if has_part chained; then
    printf '  %-48s %.0f\n' "chained records/s (transfer)" "$(printf '%s\n' "${CH_RATE[@]}" | median)"
    printf '  %-48s %s\n' "chained cluster CPU s (JM + 2 TMs)" "$(printf '%s\n' "${CH_CPU[@]}" | median)"
    if has_part exchange; then
      printf '  %-48s %s\n' "ratio exchange / chained records/s" "$(printf '%s\n' "${RATIO_CH[@]}" | median)"
    fi
  fi
fi

# ---- latency per buffer timeout ----
if has_part latency; then
  echo
  echo "latency: $LAT_RECORDS records at $LAT_RATE records/s, creation -> sink on the other TaskManager (us)"
  printf '%-10s %-4s %9s %9s %9s %9s %9s %6s\n' "timeout" run p50 p90 p99 p99.9 max cores
  SUMMARY=()
  for t in $TIMEOUTS; do
    P50=() P90=() P99=() P999=() MAX=() CORES=()
    for ((r = 1; r <= RUNS; r++)); do
      dir=$CLUSTER_DIR/latency-$t-$r
      read -r wall ticks _ < <(run_job "$dir" 2 --arg records="$LAT_RECORDS" --arg rate="$LAT_RATE" \
        --arg latency=1 --arg buffer_timeout_ms="$t")
      cores=$(calc %.2f "$ticks / 100 / $wall")
      line=$(report "$dir" 1 "$LAT_RECORDS")
      printf '%-10s %-4s %9s %9s %9s %9s %9s %6s\n' "${t} ms" "$r" "$(field p50_us "$line")" \
        "$(field p90_us "$line")" "$(field p99_us "$line")" "$(field p999_us "$line")" \
        "$(field max_us "$line")" "$cores"
      P50+=("$(field p50_us "$line")") P90+=("$(field p90_us "$line")") P99+=("$(field p99_us "$line")")
      P999+=("$(field p999_us "$line")") MAX+=("$(field max_us "$line")") CORES+=("$cores")
    done
    SUMMARY+=("$(printf '%-10s %-4s %9s %9s %9s %9s %9s %6s' "${t} ms" med \
      "$(printf '%s\n' "${P50[@]}" | median)" "$(printf '%s\n' "${P90[@]}" | median)" \
      "$(printf '%s\n' "${P99[@]}" | median)" "$(printf '%s\n' "${P999[@]}" | median)" \
      "$(printf '%s\n' "${MAX[@]}" | median)" "$(printf '%s\n' "${CORES[@]}" | median)")")
  done
  echo
  echo "median of $RUNS runs per timeout (goal: p99 < 5000 us at 1 ms):"
  printf '%s\n' "${SUMMARY[@]}"
fi

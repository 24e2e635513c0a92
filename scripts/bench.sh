#!/usr/bin/env bash
# `make bench`: runs the benchmarks of bench/ against an existing build (bench/README.md).
#   scripts/bench.sh [BUILD_DIR (build)] [WHICH (all | throughput | network | nexmark)]
#   WHICH defaults to $SLUICE_BENCH, else all (`make bench SLUICE_BENCH=network` picks one).
#   throughput: bench/run_throughput.sh (records/s per core against a hand-written loop)
#   network:    bench/run_network.sh (exchange against raw TCP, chained, latency per buffer timeout)
#   nexmark:    bench/run_nexmark.sh (every Nexmark query per core, heap / RocksDB, checkpoints on /
#               off, against hand-written loops; not part of `all`: it takes about half an hour)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${1:-build}
WHICH=${2:-${SLUICE_BENCH:-all}}
case $WHICH in
  all | throughput | network | nexmark) ;;
  *) echo "scripts/bench.sh: WHICH must be all, throughput, network or nexmark, got '$WHICH'" >&2; exit 2 ;;
esac
if [[ $WHICH == nexmark ]]; then
  exec bench/run_nexmark.sh "$BUILD_DIR" "${SLUICE_NEXMARK_QUERIES:-all}"
fi
if [[ $WHICH == all || $WHICH == throughput ]]; then
  bench/run_throughput.sh "$BUILD_DIR" "${SLUICE_BENCH_RECORDS:-20000000}" "${SLUICE_BENCH_RUNS:-3}"
fi
if [[ $WHICH == all ]]; then echo; fi
if [[ $WHICH == all || $WHICH == network ]]; then
  bench/run_network.sh "$BUILD_DIR" "${SLUICE_BENCH_NET_RECORDS:-20000000}" "${SLUICE_BENCH_RUNS:-3}"
fi

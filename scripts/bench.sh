#!/usr/bin/env bash
# `make bench`: runs the benchmarks of bench/ against an existing build (bench/README.md).
#   scripts/bench.sh [BUILD_DIR (build)]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${1:-build}
bench/run_throughput.sh "$BUILD_DIR" "${SLUICE_BENCH_RECORDS:-20000000}" "${SLUICE_BENCH_RUNS:-3}"

#!/usr/bin/env bash
# `make soak`: the long form of the memory-budget soak test (tests/soak_test.cc) against an
# existing build. A TaskManager with a 512 MiB budget runs a keyed job on RocksDB whose state
# grows to 10 budgets, for an hour, with a checkpoint every 10 s; its RSS is sampled every second.
# Prints the samples summarized per interval, for bench/README.md.
#   scripts/soak.sh [BUILD_DIR (build)]
#   env: SLUICE_SOAK_SECONDS (3600), SLUICE_SOAK_BUDGET_MIB (512), SLUICE_SOAK_STATE_FACTOR (10),
#        SLUICE_SOAK_CHECKPOINT_INTERVAL (10s), SLUICE_SOAK_MALLOC: glibc (default), jemalloc or
#        mimalloc (Debian's, preloaded into the daemons), SLUICE_SOAK_ROWS (12: rows of the table)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${1:-build}
export SLUICE_SOAK_SECONDS=${SLUICE_SOAK_SECONDS:-3600}
export SLUICE_SOAK_BUDGET_MIB=${SLUICE_SOAK_BUDGET_MIB:-512}
export SLUICE_SOAK_STATE_FACTOR=${SLUICE_SOAK_STATE_FACTOR:-10}
export SLUICE_SOAK_CHECKPOINT_INTERVAL=${SLUICE_SOAK_CHECKPOINT_INTERVAL:-10s}
MALLOC=${SLUICE_SOAK_MALLOC:-glibc}
ROWS=${SLUICE_SOAK_ROWS:-12}
case "$MALLOC" in
  glibc) PRELOAD="" ;;
  jemalloc) PRELOAD=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2 ;;
  mimalloc) PRELOAD=/usr/lib/x86_64-linux-gnu/libmimalloc.so.2 ;;
  *) echo "soak.sh: SLUICE_SOAK_MALLOC must be glibc, jemalloc or mimalloc, not '$MALLOC'" >&2; exit 2 ;;
esac
if [[ -n $PRELOAD && ! -e $PRELOAD ]]; then
  echo "soak.sh: $PRELOAD is missing (apt-get install libjemalloc2 libmimalloc2.0)" >&2
  exit 2
fi
[[ -x $BUILD_DIR/tests/soak_test ]] || { echo "soak.sh: no $BUILD_DIR/tests/soak_test: run make build" >&2; exit 2; }
REPORT=$(mktemp)
trap 'rm -f "$REPORT"' EXIT
START=$(date -u +"%Y-%m-%d %H:%M UTC")
STATUS=0
SLUICE_SOAK_REPORT=$REPORT LD_PRELOAD=$PRELOAD "$BUILD_DIR/tests/soak_test" || STATUS=$?
echo
echo "Soak: $START, $(nproc) cores, ${SLUICE_SOAK_SECONDS} s, budget ${SLUICE_SOAK_BUDGET_MIB} MiB," \
  "state ${SLUICE_SOAK_STATE_FACTOR} budgets, checkpoints every ${SLUICE_SOAK_CHECKPOINT_INTERVAL}," \
  "malloc $MALLOC; test exit status $STATUS"
echo
echo "| seconds | RSS min MiB | RSS max MiB |"
echo "|---|---|---|"
awk -v rows="$ROWS" -v total="$SLUICE_SOAK_SECONDS" '
  { s = $1; r = $2; b = int((s - 1) / (total / rows));
    if (!(b in lo) || r < lo[b]) lo[b] = r; if (r > hi[b]) hi[b] = r; last[b] = s; first[b] = first[b] ? first[b] : s;
    if (r > peak) peak = r }
  END { for (b = 0; b < rows; b++) if (b in lo) printf "| %d–%d | %d | %d |\n", first[b], last[b], lo[b], hi[b];
        printf "\npeak RSS %d MiB\n", peak }' "$REPORT"
exit "$STATUS"

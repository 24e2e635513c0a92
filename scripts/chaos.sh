#!/usr/bin/env bash
# `make chaos`: the long form of the chaos suite (tests/chaos/) against an existing build, and its
# counts written to docs/chaos.md.
#   scripts/chaos.sh [BUILD_DIR (build)]
#   SLUICE_CHAOS_KILLS: kill rounds of each storm (100; a round kills one TaskManager, every third
#   round two). The tmpfs cases need root.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${1:-build}
KILLS=${SLUICE_CHAOS_KILLS:-100}
REPORT=$(mktemp)
trap 'rm -f "$REPORT"' EXIT
START=$(date -u +"%Y-%m-%d %H:%M UTC")
STATUS=0
(cd "$BUILD_DIR" && SLUICE_CHAOS_KILLS=$KILLS SLUICE_CHAOS_REPORT=$REPORT \
  ctest -R 'Chaos' --output-on-failure --timeout 7200 -j 2) || STATUS=$?
{
  echo "# Chaos suite: the long form"
  echo
  echo "What \`make chaos\` did to the ledger job (\`tests/chaos/chaos_test.cc\`), and what the"
  echo "exactly-once verifier counted in the committed output: every transaction id once (verified),"
  echo "never (lost) or more than once (duplicated). Rewritten by every run of \`make chaos\`."
  echo
  echo "Last run: $START, $(nproc) cores, SLUICE_CHAOS_KILLS=$KILLS, command:"
  echo "\`SLUICE_CHAOS_KILLS=$KILLS make chaos\`; ctest exit status $STATUS."
  echo
  echo "| case | kills | records verified | lost | duplicated | note |"
  echo "|---|---|---|---|---|---|"
  cat "$REPORT"
  echo
  echo "A damaged newest checkpoint state file ends the job FAILED by design (restoring an older"
  echo "checkpoint would duplicate committed output): its \"lost\" are the records never committed"
  echo "before it stopped, and none is duplicated. With accept-duplicates set the job falls back and"
  echo "its duplicates are the point. See docs/checkpointing.md, \"Damaged snapshots\"."
} >docs/chaos.md
echo "wrote docs/chaos.md"
exit "$STATUS"

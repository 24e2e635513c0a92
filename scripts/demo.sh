#!/usr/bin/env bash
# make demo: start a local cluster (1 JobManager, 2 TaskManagers x 2 slots), run wordcount and a short
# ledger, the event-time clicks job (windows, sessions, late clicks), the fraud job (broadcast state),
# the enrich job (async I/O against a local HTTP service), a checkpointed ledger that survives a killed TaskManager, and a ledger that is
# savepointed, rescaled, stopped and restored, and shop_revenue (JSON orders from Kafka — librdkafka's
# mock cluster, a test double — into event-time windows, upserted into a local PostgreSQL exactly
# once, with its RocksDB snapshots in a local S3-compatible server, OpenStack Swift with s3api); show
# what happened, stop the cluster and the servers.
set -euo pipefail
BUILD_DIR="${1:-build}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BIN="$ROOT/$BUILD_DIR/bin"
PKG="$ROOT/$BUILD_DIR/examples"
DEMO="$ROOT/demo-cluster"
SLUICE="$BIN/sluice"

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
# wait_until_done JOB: polls the job's state for up to 2 minutes until it has ended; prints it.
wait_until_done() {
  local state=""
  for _ in $(seq 1 120); do
    state=$("$SLUICE" status "$1" --jobmanager "$JM" --json |
      python3 -c 'import json,sys; print(json.load(sys.stdin)["state"])')
    case "$state" in FINISHED|FAILED|CANCELED) break ;; esac
    sleep 1
  done
  echo "$state"
}

if [ -f "$DEMO/jobmanager.pid" ]; then "$SLUICE" cluster stop --dir "$DEMO" >/dev/null 2>&1 || true; fi
rm -rf "$DEMO"
mkdir -p "$DEMO/data"
SERVICE_PID=""
PGDIR=""
KAFKA_PID=""
S3DIR=""
cleanup() {
  if [ -n "$SERVICE_PID" ]; then kill "$SERVICE_PID" 2>/dev/null || true; fi
  if [ -n "$KAFKA_PID" ]; then kill "$KAFKA_PID" 2>/dev/null || true; fi
  if [ -n "$PGDIR" ]; then "$ROOT/scripts/postgres.sh" stop "$PGDIR" || true; rm -rf "$PGDIR"; fi
  if [ -n "$S3DIR" ]; then "$ROOT/scripts/s3.sh" stop "$S3DIR" || true; fi
  "$SLUICE" cluster stop --dir "$DEMO" >/dev/null 2>&1 || true
}
trap cleanup EXIT

say "Starting an S3-compatible server for snapshots: OpenStack Swift with s3api (scripts/s3.sh)"
S3DIR="$DEMO/s3"
S3_LINE=$("$ROOT/scripts/s3.sh" start "$S3DIR")
S3_ENDPOINT=$(echo "$S3_LINE" | sed -E 's/.*endpoint=([^ ]+).*/\1/')
S3_ACCESS=$(echo "$S3_LINE" | sed -E 's/.*access_key=([^ ]+).*/\1/')
S3_SECRET=$(echo "$S3_LINE" | sed -E 's/.*secret_key=([^ ]+).*/\1/')
aws_s3() {
  AWS_ACCESS_KEY_ID="$S3_ACCESS" AWS_SECRET_ACCESS_KEY="$S3_SECRET" AWS_DEFAULT_REGION=us-east-1 \
    AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null \
    /usr/bin/aws --endpoint-url "$S3_ENDPOINT" s3 "$@"
}
aws_s3 mb s3://sluice-demo
echo "S3 endpoint $S3_ENDPOINT, bucket sluice-demo (SigV4 signatures checked)"

say "Starting a local cluster: 1 JobManager, 2 TaskManagers with 2 slots each (ephemeral port)"
# The s3.* keys are the daemons' (as Flink's file systems are): every job may then keep its
# snapshots in s3://.
JM=$("$SLUICE" cluster start --dir "$DEMO" --taskmanagers 2 --slots 2 -D jobmanager.rpc.port=0 \
  -D rest.port=0 -D metrics.reporter.prom.port=0 -D s3.endpoint="$S3_ENDPOINT" \
  -D s3.access-key="$S3_ACCESS" -D s3.secret-key="$S3_SECRET" -D s3.path.style.access=true |
  tail -n 1)
REST=$(cat "$DEMO/rest.address")
echo "JobManager at $JM; REST API and dashboard at $REST/; logs in $DEMO/log"
"$SLUICE" taskmanagers --jobmanager "$JM"

say "Generating a small corpus in $DEMO/data/corpus"
mkdir -p "$DEMO/data/corpus"
for f in 1 2 3; do
  for i in $(seq 1 300); do
    echo "To be, or not to be: that is the question. Whether 'tis nobler in the mind to suffer"
    echo "The slings and arrows of outrageous fortune, or to take arms against a sea of troubles ($f)"
  done > "$DEMO/data/corpus/part-$f.txt"
done

say "sluice run wordcount.so --parallelism 3"
"$SLUICE" run "$PKG/wordcount.so" --jobmanager "$JM" --parallelism 3 \
  --arg input="$DEMO/data/corpus" --arg output="$DEMO/data/wordcount"
echo "Output files:"; ls "$DEMO/data/wordcount"
echo "Top words:"; cat "$DEMO/data/wordcount"/part-* | sort -t$'\t' -k2,2nr -k1,1 | head -n 8 || true  # head closes the pipe early (SIGPIPE)

say "sluice run ledger.so --parallelism 2 (100000 transactions over 1000 accounts)"
"$SLUICE" run "$PKG/ledger.so" --jobmanager "$JM" --parallelism 2 \
  --arg transactions=100000 --arg output="$DEMO/data/ledger"
LINES=$(cat "$DEMO/data/ledger"/part-* | wc -l)
IDS=$(cut -d, -f1 "$DEMO/data/ledger"/part-* | sort -u | wc -l)
echo "ledger wrote $LINES lines with $IDS distinct transaction ids (expected 100000 each)"
echo "Account 42, last three balances:"
grep -h '^[0-9]*,42,' "$DEMO/data/ledger"/part-* | sort -t, -k4,4n | tail -n 3

say "Event time: clicks.so, out-of-order clicks into 10 s windows and 1 s sessions"
CL="$DEMO/data/clicks"
CL_JOB=$("$SLUICE" run "$PKG/clicks.so" --jobmanager "$JM" --parallelism 2 --detached \
  --arg clicks=16000 --arg rate=2000 --arg output="$CL" | tail -n 1)
echo "submitted $CL_JOB (16000 clicks at 4000/s, up to 2 s out of order, every 97th 30 s late)"
sleep 2
say "sluice watermarks $CL_JOB (while it runs)"
"$SLUICE" watermarks "$CL_JOB" --jobmanager "$JM"
CL_STATE=$(wait_until_done "$CL_JOB")
to_time() { python3 -c 'import sys,datetime
for l in sys.stdin:
  f=l.strip().split(",")
  print("user %s  %s .. %s  %s clicks" % (f[0], *[datetime.datetime.utcfromtimestamp(int(x)/1000).strftime("%H:%M:%S.%f")[:-3] for x in f[1:3]], f[3]))'; }
echo "job $CL_STATE. First 10 s windows of user 3 (a late click within 2 s fires its window again):"
grep -h '^3,' "$CL"/counts/part-* | sort -t, -k2,2n -k4,4n | head -n 4 | to_time || true  # head closes the pipe early (SIGPIPE)
echo "First sessions of user 3:"
grep -h '^3,' "$CL"/sessions/part-* | sort -t, -k2,2n | head -n 3 | to_time || true  # head closes the pipe early (SIGPIPE)
CL_WINDOWS=$(cat "$CL"/counts/part-* | wc -l)
CL_SESSIONS=$(cat "$CL"/sessions/part-* | wc -l)
CL_LATE=$(cat "$CL"/late/part-* | wc -l)
echo "$CL_WINDOWS window results, $CL_SESSIONS sessions, $CL_LATE clicks too late for their window (in late/):"
head -n 3 "$CL"/late/part-* 2>/dev/null | grep -v '^==' | grep -v '^$' | head -n 3 || true

say "Broadcast state: fraud.so, card transactions checked against limits that a rule stream changes"
FR="$DEMO/data/fraud"
"$SLUICE" run "$PKG/fraud.so" --jobmanager "$JM" --parallelism 2 \
  --arg transactions=20000 --arg rate=2500 --arg output="$FR"
FR_ALERTS=$(cat "$FR"/part-* | wc -l)
echo "$FR_ALERTS alerts (a second transaction over its category's limit within ten minutes); the first:"
sort -t' ' -k7,7n "$FR"/part-* | head -n 3 || true  # head closes the pipe early (SIGPIPE)

say "Async I/O: enrich.so looks every order's customer up in a small HTTP service"
"$ROOT/$BUILD_DIR/examples/customer_service" --delay-ms 2 >"$DEMO/customer_service.url" \
  2>"$DEMO/log/customer_service.log" &
SERVICE_PID=$!
for _ in $(seq 1 50); do [ -s "$DEMO/customer_service.url" ] && break; sleep 0.1; done
SERVICE=$(cat "$DEMO/customer_service.url")
echo "customer service at $SERVICE (2 ms per request), e.g. GET /customers/17: $(python3 -c \
  'import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1]).read().decode())' \
  "$SERVICE/customers/17" || true)"
EN="$DEMO/data/enriched"
"$SLUICE" run "$PKG/enrich.so" --jobmanager "$JM" --parallelism 2 \
  --arg service="$SERVICE" --arg orders=20000 --arg output="$EN"
kill "$SERVICE_PID" 2>/dev/null || true
wait "$SERVICE_PID" 2>/dev/null || true
echo "$(cat "$EN"/part-* | wc -l) orders enriched (expected 20000), at most 64 lookups in flight per subtask; the first:"
sort -t' ' -k2,2n "$EN"/part-* | head -n 3 || true  # head closes the pipe early

say "Exactly once through a TaskManager failure: ledger with a checkpoint every second"
EO="$DEMO/data/ledger-exactly-once"
EO_JOB=$("$SLUICE" run "$PKG/ledger.so" --jobmanager "$JM" --parallelism 2 --detached \
  --arg transactions=60000 --arg rate=3000 --arg output="$EO" \
  -D execution.checkpointing.interval=1s -D state.checkpoints.dir="$DEMO/data/checkpoints" |
  tail -n 1)
echo "submitted $EO_JOB (60000 transactions at 6000/s)"
sleep 4
"$SLUICE" checkpoints "$EO_JOB" --jobmanager "$JM"
VICTIM=$(cat "$DEMO/taskmanager-1.pid")
say "kill -9 TaskManager 1 (pid $VICTIM) while the job runs"
kill -9 "$VICTIM"
STATE=$(wait_until_done "$EO_JOB")
"$SLUICE" status "$EO_JOB" --jobmanager "$JM"
"$SLUICE" checkpoints "$EO_JOB" --jobmanager "$JM"
EO_LINES=$(cat "$EO"/part-* | wc -l)
EO_IDS=$(cut -d, -f1 "$EO"/part-* | sort -u | wc -l)
echo "after the kill and the restart: $EO_LINES committed lines, $EO_IDS distinct ids (expected 60000 each)"

say "Savepoint, rescale and restore: the ledger again, unbounded, with a checkpoint every second"
SR="$DEMO/data/ledger-rescaled"
SR_JOB=$("$SLUICE" run "$PKG/ledger.so" --jobmanager "$JM" --parallelism 1 --detached \
  --arg transactions=30000 --arg rate=2500 --arg output="$SR" \
  -D execution.checkpointing.interval=1s -D state.checkpoints.dir="$DEMO/data/checkpoints" \
  -D state.savepoints.dir="$DEMO/data/savepoints" | tail -n 1)
echo "submitted $SR_JOB at parallelism 1 (30000 transactions at 2500/s)"
sleep 3
say "sluice savepoint $SR_JOB"
"$SLUICE" savepoint "$SR_JOB" --jobmanager "$JM"
say "sluice rescale $SR_JOB --parallelism 2"
"$SLUICE" rescale "$SR_JOB" --parallelism 2 --jobmanager "$JM"
"$SLUICE" status "$SR_JOB" --jobmanager "$JM" | head -n 6 || true  # head closes the pipe early (SIGPIPE)
sleep 2
say "sluice stop $SR_JOB (stop with a savepoint), then run again from it"
SP=$("$SLUICE" stop "$SR_JOB" --jobmanager "$JM" | tail -n 1)
echo "stopped at $(cat "$SR"/part-* | wc -l) committed transactions; savepoint $SP"
SR_JOB2=$("$SLUICE" run "$PKG/ledger.so" --jobmanager "$JM" --parallelism 2 --detached \
  --arg transactions=30000 --arg rate=2500 --arg output="$SR" --from-savepoint "$SP" \
  -D execution.checkpointing.interval=1s -D state.checkpoints.dir="$DEMO/data/checkpoints" |
  tail -n 1)
SR_STATE=$(wait_until_done "$SR_JOB2")
"$SLUICE" checkpoints "$SR_JOB" --jobmanager "$JM"
SR_LINES=$(cat "$SR"/part-* | wc -l)
SR_IDS=$(cut -d, -f1 "$SR"/part-* | sort -u | wc -l)
echo "across both runs and the rescale: $SR_LINES committed lines, $SR_IDS distinct ids (expected 30000 each)"

say "Kafka -> windows -> PostgreSQL, exactly once: shop_revenue.so against local servers"
# Kafka here is librdkafka's mock cluster, a test double of a Kafka cluster (no broker runs here),
# run as a daemon; kcat and the job's Kafka source both talk to it.
mkfifo "$DEMO/kafka.in"
"$ROOT/$BUILD_DIR/tests/kafka_mock_cluster" 1 <"$DEMO/kafka.in" >"$DEMO/kafka.out" \
  2>"$DEMO/log/kafka_mock.log" &
KAFKA_PID=$!
exec 7>"$DEMO/kafka.in"
for _ in $(seq 1 50); do [ -s "$DEMO/kafka.out" ] && break; sleep 0.1; done
KAFKA=$(head -n 1 "$DEMO/kafka.out")
echo "topic orders 4" >&7
echo "Kafka (librdkafka's mock cluster, a test double) at $KAFKA, topic 'orders' with 4 partitions"
PGDIR=$(mktemp -d /tmp/sluice-demo-pg-XXXXXX)
PG_URL=$("$ROOT/scripts/postgres.sh" start "$PGDIR")
echo "PostgreSQL $(psql "$PG_URL" -tAc 'SHOW server_version') at '$PG_URL' (scripts/postgres.sh)"
psql "$PG_URL" -q -c "CREATE TABLE category_revenue (category text, window_start timestamptz,
  window_end timestamptz, orders bigint, revenue numeric(12,2), PRIMARY KEY (category, window_start))"
python3 -c '
cats = ["books", "garden", "kitchen", "music", "toys"]
for i in range(30000):
    ts = 1767225600000 + i * 10 - (i * 104729) % 2001
    print("{\"id\":%d,\"category\":\"%s\",\"cents\":%d,\"ts\":%d}" % (i, cats[i % 5], 100 + (i * 7919) % 9900, ts))
' | kcat -P -b "$KAFKA" -t orders
echo "kcat -P: 30000 JSON orders (10 ms apart, up to 2 s out of order); kcat -C -c 2 shows:"
kcat -C -b "$KAFKA" -t orders -p 0 -o beginning -c 2 -q
SHOP_JOB=$("$SLUICE" run "$PKG/shop_revenue.so" --jobmanager "$JM" --parallelism 2 --detached \
  --arg url="$PG_URL" --arg kafka="$KAFKA" --arg topic=orders --arg bounded=true \
  -D execution.checkpointing.interval=1s -D state.checkpoints.dir=s3://sluice-demo/checkpoints \
  -D state.backend.type=rocksdb -D state.backend.incremental=true |
  tail -n 1)
echo "submitted $SHOP_JOB: the Kafka source (bounded at the offsets of now), 10 s tumbling windows" \
  "per category in event time on RocksDB, the PostgreSQL sink by two-phase commit;" \
  "checkpoints in s3://sluice-demo/checkpoints"
SHOP_STATE=$(wait_until_done "$SHOP_JOB")
echo "job $SHOP_STATE. psql -c 'SELECT ... FROM category_revenue ORDER BY window_start, category LIMIT 6':"
psql "$PG_URL" -c "SELECT category, to_char(window_start AT TIME ZONE 'UTC', 'HH24:MI:SS') AS start,
  to_char(window_end AT TIME ZONE 'UTC', 'HH24:MI:SS') AS end, orders, revenue
  FROM category_revenue ORDER BY window_start, category LIMIT 6"
SHOP_TOTAL=$(psql "$PG_URL" -tAc "SELECT sum(orders) || ' ' || sum(revenue) FROM category_revenue")
SHOP_WANT=$(python3 -c 'print("30000 %.2f" % (sum(100 + (i * 7919) % 9900 for i in range(30000)) / 100))')
echo "all windows: orders and revenue $SHOP_TOTAL (expected $SHOP_WANT);" \
  "$(psql "$PG_URL" -tAc 'SELECT count(*) FROM pg_prepared_xacts') transactions left prepared"
echo "its snapshots in S3 (aws s3 ls --recursive s3://sluice-demo/checkpoints/$SHOP_JOB/):"
S3_OBJECTS=$(aws_s3 ls --recursive "s3://sluice-demo/checkpoints/$SHOP_JOB/")
echo "$S3_OBJECTS" | head -n 6 || true
echo "... $(echo "$S3_OBJECTS" | wc -l) objects retained (the last completed checkpoint)"
"$ROOT/scripts/postgres.sh" stop "$PGDIR"
rm -rf "$PGDIR"
PGDIR=""
exec 7>&-
kill "$KAFKA_PID" 2>/dev/null || true
wait "$KAFKA_PID" 2>/dev/null || true
KAFKA_PID=""

say "The same jobs through the REST API (Flink's paths and fields): curl $REST/jobs/overview"
curl -s "$REST/jobs/overview" | python3 -c '
import json, sys
for j in json.load(sys.stdin)["jobs"]:
    print("%s  %-10s %-8s %d tasks" % (j["jid"], j["name"], j["state"], j["tasks"]["total"]))'
say "Prometheus targets of the cluster (curl $REST/metrics/targets) and a few series"
curl -s "$REST/metrics/targets" | python3 -c '
import json, sys
for t in json.load(sys.stdin):
    print(t["labels"]["sluice_daemon"], t["targets"][0])'
PROM=$(curl -s "$REST/metrics/targets" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["targets"][0])')
curl -s "http://$PROM/metrics" | grep -E "^flink_jobmanager_(numRegisteredTaskManagers|taskSlotsTotal|numRunningJobs)" || true

say "sluice list"
"$SLUICE" list --jobmanager "$JM"
JOB=$("$SLUICE" list --jobmanager "$JM" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[-1]["id"])' 2>/dev/null || true)
if [ -n "$JOB" ]; then
  say "sluice status $JOB"
  "$SLUICE" status "$JOB" --jobmanager "$JM"
fi

say "Subtask state changes as logged by the JobManager (the last job)"
grep "switched from" "$DEMO/log/jobmanager.log" | grep -v "Job " | tail -n 8 || true

say "Stopping the cluster and the S3 server"
trap - EXIT
"$SLUICE" cluster stop --dir "$DEMO"
"$ROOT/scripts/s3.sh" stop "$S3DIR"
if [ "$LINES" != "100000" ] || [ "$IDS" != "100000" ]; then
  echo "demo: ledger output is wrong" >&2
  exit 1
fi
if [ "$STATE" != "FINISHED" ] || [ "$EO_LINES" != "60000" ] || [ "$EO_IDS" != "60000" ]; then
  echo "demo: the checkpointed ledger did not finish exactly once ($STATE)" >&2
  exit 1
fi
if [ "$SHOP_STATE" != "FINISHED" ] || [ "$SHOP_TOTAL" != "$SHOP_WANT" ]; then
  echo "demo: shop_revenue did not write its windows exactly once ($SHOP_STATE: $SHOP_TOTAL)" >&2
  exit 1
fi
if [ "$CL_STATE" != "FINISHED" ] || [ "$CL_WINDOWS" = "0" ] || [ "$CL_SESSIONS" = "0" ]; then
  echo "demo: the clicks job did not produce its windows ($CL_STATE)" >&2
  exit 1
fi
if [ "$SR_STATE" != "FINISHED" ] || [ "$SR_LINES" != "30000" ] || [ "$SR_IDS" != "30000" ]; then
  echo "demo: the rescaled and restored ledger did not finish exactly once ($SR_STATE)" >&2
  exit 1
fi
echo "Demo finished."

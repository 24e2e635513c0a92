// The Kafka sink's records/s against a plain librdkafka producer over the same records, in the same
// run, both writing to librdkafka's mock cluster (a test double of Kafka, in memory: the figures
// compare the two clients, not a broker).
//
//   build/bench/kafka_sink_bench [MESSAGES=4000000] [PARTITIONS=16] [VALUE_BYTES=100]
//
// Baseline: one producer, rd_kafka_producev of every record (the producer spreads them over the
// partitions), then rd_kafka_flush. The sink: KafkaSink<std::string> driven in-process as a task
// drives it (Process per record; at a checkpoint every second SnapshotState, then
// NotifyCheckpointComplete), at least once and exactly once (a transaction per checkpoint), then
// end of input and a last checkpoint. The mock accepts transactions without enforcing them, so the
// exactly-once figure measures the client's transactional calls, not a broker's transaction log.
// A second baseline, an idempotent plain producer, shows what idempotence alone costs (every
// transactional producer is idempotent). SLUICE_KAFKA_SINK_PROPS="k=v,k=v" passes producer
// properties to the sink (KafkaSinkOptions::properties) to try settings.
#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <string>

#include "sluice/connectors/kafka_sink.h"
#include "sluice/testing/fake_keyed_host.h"
#include "sluice/testing/fake_runtime_context.h"
#include "tests/kafka_mock.h"

namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

class NullOutput final : public sluice::Output {
 public:
  void Emit(const void*) override {}
};

std::string Value(int64_t i, size_t bytes) {
  std::string v(bytes, 'v');
  const std::string n = std::to_string(i);
  v.replace(0, std::min(n.size(), v.size()), n);
  return v;
}

//! Extra producer properties from SLUICE_KAFKA_SINK_PROPS ("k=v,k=v"), for the sink only.
std::map<std::string, std::string> ExtraProperties() {
  std::map<std::string, std::string> props;
  const char* env = std::getenv("SLUICE_KAFKA_SINK_PROPS");
  std::string text = env == nullptr ? "" : env;
  for (size_t at = 0; at < text.size();) {
    size_t end = text.find(',', at);
    if (end == std::string::npos) end = text.size();
    const std::string kv = text.substr(at, end - at);
    const size_t eq = kv.find('=');
    if (eq != std::string::npos) props[kv.substr(0, eq)] = kv.substr(eq + 1);
    at = end + 1;
  }
  return props;
}

//! The baseline: a plain producer (idempotent: the second baseline). Returns seconds, or -1 on an
//! error.
double PlainProducer(const std::string& bootstrap, const std::string& topic, int64_t messages,
                     size_t value_bytes, bool idempotent = false) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), err, sizeof err);
  if (idempotent) rd_kafka_conf_set(conf, "enable.idempotence", "true", err, sizeof err);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (rk == nullptr) return -1;
  const auto start = Clock::now();
  bool ok = true;
  for (int64_t i = 0; i < messages && ok; ++i) {
    const std::string v = Value(i, value_bytes);
    for (;;) {
      const rd_kafka_resp_err_t e =
          rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic.c_str()),
                            RD_KAFKA_V_VALUE(const_cast<char*>(v.data()), v.size()),
                            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
      if (e == RD_KAFKA_RESP_ERR_NO_ERROR) break;
      if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        ok = false;
        break;
      }
      rd_kafka_poll(rk, 10);
    }
    rd_kafka_poll(rk, 0);
  }
  ok = ok && rd_kafka_flush(rk, 60000) == RD_KAFKA_RESP_ERR_NO_ERROR;
  const double s = Seconds(start);
  rd_kafka_destroy(rk);
  return ok ? s : -1;
}

//! The sink with a checkpoint every second. Returns seconds.
double Sink(const std::string& bootstrap, const std::string& topic, int64_t messages,
            size_t value_bytes, sluice::DeliveryGuarantee guarantee) {
  sluice::KafkaSinkOptions<std::string> o;
  o.bootstrap_servers = bootstrap;
  o.serializer.topic = topic;
  o.delivery_guarantee = guarantee;
  o.transactional_id_prefix = "bench-" + topic;
  o.properties = ExtraProperties();
  const auto start = Clock::now();
  sluice::testing::FakeRuntimeContext ctx(0, 1, "bench", 0, /*checkpointing=*/true);
  NullOutput out;
  sluice::KafkaSink<std::string> sink(o);
  sluice::testing::FakeInit init(nullptr, {}, /*is_restored=*/false);
  sink.InitializeState(init);
  const auto open_start = Clock::now();
  sink.Open(ctx, out);
  const double open_s = Seconds(open_start);
  int64_t checkpoint = 0;
  auto last = Clock::now();
  double snapshot_s = 0;
  double commit_s = 0;
  auto checkpoint_now = [&] {
    sluice::testing::MemoryWriter snap(++checkpoint);
    const auto t0 = Clock::now();
    sink.SnapshotState(snap);
    const auto t1 = Clock::now();
    sink.NotifyCheckpointComplete(checkpoint);
    last = Clock::now();
    snapshot_s += std::chrono::duration<double>(t1 - t0).count();
    commit_s += std::chrono::duration<double>(last - t1).count();
  };
  for (int64_t i = 0; i < messages; ++i) {
    sink.Process(Value(i, value_bytes));
    if ((i & 1023) == 0 && Clock::now() - last >= std::chrono::seconds(1)) checkpoint_now();
  }
  sink.EndInput();
  checkpoint_now();
  sink.Close();
  std::fprintf(stderr,
               "  Open %.2f s; %lld checkpoints: %.2f s in SnapshotState, %.2f s in "
               "NotifyCheckpointComplete\n",
               open_s, static_cast<long long>(checkpoint), snapshot_s, commit_s);
  return Seconds(start);
}

}  // namespace

int main(int argc, char** argv) {
  const int64_t messages = argc > 1 ? std::atoll(argv[1]) : 4000000;
  const int partitions = argc > 2 ? std::atoi(argv[2]) : 16;
  const size_t value_bytes = argc > 3 ? static_cast<size_t>(std::atoll(argv[3])) : 100;
  sluice::testing::KafkaMockCluster kafka;
  std::string error;
  if (!kafka.Start(1, &error)) {
    std::fprintf(stderr, "kafka_sink_bench: %s\n", error.c_str());
    return 1;
  }
  for (const char* topic : {"plain", "idempotent", "at_least_once", "exactly_once"}) {
    if (!kafka.CreateTopic(topic, partitions)) {
      std::fprintf(stderr, "kafka_sink_bench: cannot create topic %s\n", topic);
      return 1;
    }
  }
  std::printf("messages: %lld into %d partitions, %zu-byte values (librdkafka's mock cluster)\n",
              static_cast<long long>(messages), partitions, value_bytes);
  std::printf("%-44s %10s %12s %8s\n", "writer", "seconds", "records/s", "ratio");
  const double base = PlainProducer(kafka.bootstrap_servers(), "plain", messages, value_bytes);
  if (base < 0) {
    std::fprintf(stderr, "kafka_sink_bench: the plain producer failed\n");
    return 1;
  }
  std::printf("%-44s %10.2f %12.0f %8s\n", "librdkafka producer + flush (baseline)", base,
              messages / base, "1.00");
  const double idem =
      PlainProducer(kafka.bootstrap_servers(), "idempotent", messages, value_bytes, true);
  std::printf("%-44s %10.2f %12.0f %8.2f\n", "idempotent librdkafka producer + flush", idem,
              messages / idem, base / idem);
  const double alo = Sink(kafka.bootstrap_servers(), "at_least_once", messages, value_bytes,
                          sluice::DeliveryGuarantee::kAtLeastOnce);
  std::printf("%-44s %10.2f %12.0f %8.2f\n", "KafkaSink at least once, checkpoint every 1 s", alo,
              messages / alo, base / alo);
  const double eo = Sink(kafka.bootstrap_servers(), "exactly_once", messages, value_bytes,
                         sluice::DeliveryGuarantee::kExactlyOnce);
  std::printf("%-44s %10.2f %12.0f %8.2f\n", "KafkaSink exactly once, checkpoint every 1 s", eo,
              messages / eo, base / eo);
  return 0;
}

// The Kafka source's records/s against a plain librdkafka consumer loop over the same topic, in the
// same run, both reading from librdkafka's mock cluster (a test double of Kafka, in memory: the
// figures compare the two clients, not a broker).
//
//   build/bench/kafka_source_bench [MESSAGES=640000] [PARTITIONS=16] [VALUE_BYTES=100]
//
// The mock keeps only the newest ~4.5 MB of each partition (older messages are dropped, as by
// retention), so both readers read what it holds after producing: every partition from its low to
// its high watermark. Baseline: one consumer assigned every partition from the start,
// rd_kafka_consumer_poll until it has every message (touching each value's bytes). The source:
// KafkaSource<std::string> driven in-process as a task drives it (PollNext until end of input,
// bounded at the latest offsets, into an output that counts), with a snapshot every 100,000
// records, as one subtask reading every partition. Both are timed from their first record to their
// last (the connection and metadata set-up, ~0.5 s against the mock, is left out of both).
#include <librdkafka/rdkafka.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <thread>

#include "sluice/connectors/kafka_source.h"
#include "sluice/testing/fake_keyed_host.h"
#include "sluice/testing/fake_runtime_context.h"
#include "tests/kafka_mock.h"

namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

class CountingOutput final : public sluice::Output {
 public:
  void Emit(const void* record) override {
    bytes += static_cast<const std::string*>(record)->size();
    ++records;
  }
  uint64_t records = 0;
  uint64_t bytes = 0;
};

//! The baseline: a plain consumer loop. Returns seconds, or -1 on an error.
double PlainConsumer(const std::string& bootstrap, int partitions, int64_t messages) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), err, sizeof err);
  rd_kafka_conf_set(conf, "group.id", "bench-baseline", err, sizeof err);
  rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof err);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
  if (rk == nullptr) return -1;
  rd_kafka_poll_set_consumer(rk);
  const auto start = Clock::now();
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(partitions);
  for (int p = 0; p < partitions; ++p) {
    rd_kafka_topic_partition_list_add(list, "bench", p)->offset = RD_KAFKA_OFFSET_BEGINNING;
  }
  rd_kafka_assign(rk, list);
  rd_kafka_topic_partition_list_destroy(list);
  int64_t seen = 0;
  uint64_t bytes = 0;
  Clock::time_point first;
  while (seen < messages && Seconds(start) < 120) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 100);
    if (m == nullptr) continue;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (seen == 0) first = Clock::now();
      bytes += m->len;
      ++seen;
    }
    rd_kafka_message_destroy(m);
  }
  const double s = Seconds(first);
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  if (seen < messages || bytes == 0) return -1;
  return s;
}

//! The source, bounded at the latest offsets. Returns seconds, or -1 when records are missing.
double Source(const std::string& bootstrap, int64_t messages) {
  sluice::KafkaSourceOptions<std::string> o;
  o.bootstrap_servers = bootstrap;
  o.topics = {"bench"};
  o.bounded = sluice::OffsetsInitializer::Latest();
  sluice::testing::FakeRuntimeContext ctx(0, 1, "bench", 0, /*checkpointing=*/true);
  CountingOutput out;
  sluice::KafkaSource<std::string> source(o);
  sluice::testing::FakeInit init(nullptr, {}, /*is_restored=*/false);
  source.InitializeState(init);
  source.Open(ctx, out);
  uint64_t next_snapshot = 100000;
  Clock::time_point first;
  for (;;) {
    int64_t wait_us = 0;
    const sluice::SourceStatus s = source.PollNext(&wait_us);
    if (out.records > 0 && first == Clock::time_point()) first = Clock::now();
    if (out.records >= next_snapshot) {
      sluice::testing::MemoryWriter snap;
      source.SnapshotState(snap);
      next_snapshot += 100000;
    }
    if (s == sluice::SourceStatus::kEndOfInput) break;
    if (s == sluice::SourceStatus::kNothingAvailable) {
      std::this_thread::sleep_for(std::chrono::microseconds(wait_us));
    }
  }
  const double seconds = Seconds(first);
  source.Close();
  return out.records == static_cast<uint64_t>(messages) ? seconds : -1;
}

}  // namespace

//! Messages the cluster holds in `partitions` of topic "bench" (high minus low watermarks).
int64_t Retained(const std::string& bootstrap, int partitions) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), err, sizeof err);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
  if (rk == nullptr) return -1;
  int64_t total = 0;
  for (int p = 0; p < partitions; ++p) {
    int64_t low = 0, high = 0;
    if (rd_kafka_query_watermark_offsets(rk, "bench", p, &low, &high, 10000) !=
        RD_KAFKA_RESP_ERR_NO_ERROR) {
      total = -1;
      break;
    }
    total += high - low;
  }
  rd_kafka_destroy(rk);
  return total;
}

int main(int argc, char** argv) {
  const int64_t produced = argc > 1 ? std::atoll(argv[1]) : 640000;
  const int partitions = argc > 2 ? std::atoi(argv[2]) : 16;
  const size_t value_bytes = argc > 3 ? static_cast<size_t>(std::atoll(argv[3])) : 100;
  sluice::testing::KafkaMockCluster kafka;
  std::string error;
  if (!kafka.Start(1, &error) || !kafka.CreateTopic("bench", partitions)) {
    std::fprintf(stderr, "kafka_source_bench: %s\n", error.c_str());
    return 1;
  }
  std::string value(value_bytes, 'v');
  for (int64_t i = 0; i < produced; ++i) {
    const std::string n = std::to_string(i);
    value.replace(0, std::min(n.size(), value.size()), n);
    // The producer's queue holds 100,000 messages: send what is queued every 50,000.
    if ((i % 50000 == 49999 && !kafka.Flush()) ||
        !kafka.Produce("bench", static_cast<int32_t>(i % partitions), value)) {
      std::fprintf(stderr, "kafka_source_bench: producing failed\n");
      return 1;
    }
  }
  if (!kafka.Flush()) {
    std::fprintf(stderr, "kafka_source_bench: producing failed\n");
    return 1;
  }
  const int64_t messages = Retained(kafka.bootstrap_servers(), partitions);
  if (messages <= 0) {
    std::fprintf(stderr, "kafka_source_bench: cannot read the topic's watermarks\n");
    return 1;
  }
  std::printf(
      "produced %lld messages into %d partitions, %zu-byte values; the mock holds %lld "
      "(librdkafka's mock cluster)\n",
      static_cast<long long>(produced), partitions, value_bytes, static_cast<long long>(messages));
  std::printf("%-40s %10s %12s %8s\n", "reader", "seconds", "records/s", "ratio");
  const double base = PlainConsumer(kafka.bootstrap_servers(), partitions, messages);
  if (base < 0) {
    std::fprintf(stderr, "kafka_source_bench: the plain consumer did not read every message\n");
    return 1;
  }
  std::printf("%-40s %10.2f %12.0f %8s\n", "librdkafka consumer loop (baseline)", base,
              messages / base, "1.00");
  const double source = Source(kafka.bootstrap_servers(), messages);
  if (source < 0) {
    std::fprintf(stderr, "kafka_source_bench: the source did not read every message\n");
    return 1;
  }
  std::printf("%-40s %10.2f %12.0f %8.2f\n", "KafkaSource, one subtask", source, messages / source,
              base / source);
  return 0;
}

// kafka_lines: the Kafka source reading topic `--arg topic=NAME` at `--arg bootstrap=HOST:PORT,...`
// (from the earliest offsets; new partitions looked for every `--arg discovery-ms=N`, 1000 by
// default; offsets committed to `--arg group=ID` when given) into the file sink at
// `--arg output=DIR`, one line per message value; with `--arg out-topic=NAME` also each value into
// that topic through the Kafka sink, at least once. Unbounded. Links sluice_connector_kafka.
#include <chrono>
#include <string>

#include "sluice/connectors/kafka_sink.h"
#include "sluice/connectors/kafka_source.h"
#include "sluice/connectors/sinks.h"
#include "sluice/sluice.h"

SLUICE_JOB(env) {
  env.SetJobName("kafka-lines");
  sluice::KafkaSourceOptions<std::string> options;
  options.bootstrap_servers = env.RequiredArg("bootstrap");
  options.topics = {env.RequiredArg("topic")};
  options.group_id = env.Arg("group");
  options.partition_discovery_interval =
      std::chrono::milliseconds(env.IntArg("discovery-ms", 1000));
  auto lines = sluice::AddKafkaSource(env, options, "Kafka").Uid("source");
  lines.SinkTo(sluice::MakeFileSink<std::string>(env.RequiredArg("output")), "Lines").Uid("sink");
  if (env.HasArg("out-topic")) {
    sluice::KafkaSinkOptions<std::string> out;
    out.bootstrap_servers = options.bootstrap_servers;
    out.serializer.topic = env.Arg("out-topic");
    out.serializer.key = [](const std::string& line, std::string& key) { key = line; };
    out.delivery_guarantee = sluice::DeliveryGuarantee::kAtLeastOnce;
    lines.SinkTo(sluice::MakeKafkaSink(out), "Kafka out").Uid("kafka-sink");
  }
}

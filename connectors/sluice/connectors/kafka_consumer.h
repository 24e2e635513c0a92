// The Kafka source's client (docs/connectors.md "Kafka"): one librdkafka consumer per source
// subtask with partitions assigned by hand (no group rebalancing), metadata and offset look-ups
// with a bounded timeout, non-blocking polls, asynchronous offset commits, and a background thread
// that discovers partitions. Compiled once into sluice_connector_kafka (librdkafka stays out of
// the job package's headers); KafkaSource<T> (kafka_source.h) owns one and calls it from the task
// thread only. Errors are std::runtime_error naming the connector and the setting.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice {

struct KafkaTopicPartition {
  std::string topic;
  int32_t partition = 0;
  friend bool operator<(const KafkaTopicPartition& a, const KafkaTopicPartition& b) {
    return a.topic != b.topic ? a.topic < b.topic : a.partition < b.partition;
  }
  friend bool operator==(const KafkaTopicPartition& a, const KafkaTopicPartition& b) {
    return a.topic == b.topic && a.partition == b.partition;
  }
};

//! "topic-partition", as Kafka prints a TopicPartition (also the source's split names).
std::string ToString(const KafkaTopicPartition& tp);

//! Kafka's logical offsets, as librdkafka spells them.
inline constexpr int64_t kKafkaOffsetEarliest = -2;  //!< RD_KAFKA_OFFSET_BEGINNING
inline constexpr int64_t kKafkaOffsetLatest = -1;    //!< RD_KAFKA_OFFSET_END

//! A message as the poll hands it over: valid only during the callback.
struct KafkaMessage {
  std::string_view topic;
  int32_t partition = 0;
  int64_t offset = 0;
  int64_t timestamp = -1;  //!< epoch ms, -1 when the message has none
  std::string_view key;
  std::string_view value;
};

struct KafkaConsumerConfig {
  std::string bootstrap_servers;  //!< required
  std::string group_id;           //!< empty: no commits, no committed offsets
  std::string client_id;
  //! Passed to librdkafka as they are (after the settings above, so they win).
  std::map<std::string, std::string> properties;
  std::chrono::milliseconds metadata_timeout{10000};
};

class KafkaConsumer {
 public:
  //! Creates the client (no connection yet). Throws when librdkafka refuses a property.
  explicit KafkaConsumer(KafkaConsumerConfig config);
  ~KafkaConsumer();  // stops the discovery thread, closes the client
  KafkaConsumer(const KafkaConsumer&) = delete;
  KafkaConsumer& operator=(const KafkaConsumer&) = delete;

  //! The partitions of `topics`, or of every topic matching `pattern` (an ECMAScript regex of the
  //! whole name) when it is not empty, sorted. Blocks up to metadata_timeout. Throws when the
  //! brokers cannot be reached or a named topic does not exist.
  std::vector<KafkaTopicPartition> ListPartitions(const std::vector<std::string>& topics,
                                                  const std::string& pattern);

  //! The same every `interval` on a thread of its own; TakeDiscovered hands over the latest list
  //! (failures are skipped: the next round tries again).
  void StartDiscovery(std::vector<std::string> topics, std::string pattern,
                      std::chrono::milliseconds interval);
  //! The list found since the last call, if any. Never blocks long.
  bool TakeDiscovered(std::vector<KafkaTopicPartition>* partitions);

  //! Low and high watermark offsets (first offset, offset after the last message).
  std::pair<int64_t, int64_t> QueryWatermarks(const KafkaTopicPartition& tp);
  //! Per partition, the first offset whose timestamp is at least `timestamp_ms`, or the high
  //! watermark when none is.
  std::vector<int64_t> OffsetsForTimes(const std::vector<KafkaTopicPartition>& partitions,
                                       int64_t timestamp_ms);
  //! The group's committed offsets; -1001 (none) where the group has none.
  std::vector<int64_t> Committed(const std::vector<KafkaTopicPartition>& partitions);

  //! Starts fetching these partitions from these offsets (concrete or kKafkaOffsetEarliest), in
  //! addition to those assigned before.
  void Assign(const std::vector<std::pair<KafkaTopicPartition, int64_t>>& partitions);
  //! Stops fetching them.
  void Unassign(const std::vector<KafkaTopicPartition>& partitions);

  //! Stops fetching these partitions for a while (watermark alignment), and starts again; what
  //! was handed over stays handed over, and fetching resumes right after it.
  void Pause(const std::vector<KafkaTopicPartition>& partitions);
  void Resume(const std::vector<KafkaTopicPartition>& partitions);

  //! Hands over up to `max` messages that are already here; never waits. Throws on errors that
  //! retrying cannot fix (a topic deleted, authorization, a fatal client error); transient ones
  //! (a broker down) are left to librdkafka, which reconnects.
  int Poll(int max, const std::function<void(const KafkaMessage&)>& fn);

  //! Commits `offsets` (the next offsets to read) to the group, asynchronously; the result is
  //! only logged. Does nothing without a group id.
  void CommitAsync(const std::vector<std::pair<KafkaTopicPartition, int64_t>>& offsets);
  //! Commits that finished since the last call: how many succeeded and the last error seen.
  int TakeCommitResults(std::string* last_error);

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice
